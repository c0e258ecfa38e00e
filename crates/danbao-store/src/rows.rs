//! Rows as stored. Ids and states are kept as text here; the application parses them
//! into domain types at the boundary.

use danbao_domain::{ComplaintId, Money, OrderId, OrderStatus, PaymentAttemptId, ProductId, UserId, WithdrawalId};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRow {
    pub id: UserId,
    pub username: String,
    pub password_hash: String,
    pub role: String,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleSetRow {
    pub version: i64,
    pub content_hash: String,
    pub body: String,
    pub published_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductRow {
    pub id: ProductId,
    pub seller_id: UserId,
    pub title: String,
    pub description: String,
    pub category: String,
    pub price: Money,
    pub currency: String,
    pub delivery_kind: String,
    /// JSON array of the field names a buyer fills in at checkout (manual products).
    pub manual_fields: String,
    pub status: String,
    pub stock: i64,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardKeyRow {
    pub id: String,
    pub product_id: ProductId,
    pub seq: i64,
    pub fingerprint: String,
    pub key_id: String,
    pub nonce: String,
    pub ciphertext: String,
    /// SHA-256 of the plaintext key: the commitment to what was delivered.
    pub content_hash: String,
    pub order_id: Option<String>,
    pub allocated_at: Option<i64>,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderRow {
    pub id: OrderId,
    /// The short order number people read and type (`DB20261130-7K3Q9`), unique.
    pub number: String,
    pub product_id: ProductId,
    pub seller_id: UserId,
    pub buyer_id: Option<UserId>,
    pub guest_contact: Option<String>,
    pub guest_password_hash: Option<String>,
    pub quantity: i64,
    pub unit_price: Money,
    pub amount: Money,
    pub currency: String,
    pub delivery_kind: String,
    pub category: String,
    pub status: OrderStatus,
    pub rule_version: i64,
    /// JSON object of the buyer's answers to the product's manual fields.
    pub delivery_fields: String,
    pub delivery_note: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
    pub paid_at: Option<i64>,
    pub delivered_at: Option<i64>,
    pub deliver_by: Option<i64>,
    pub auto_confirm_at: Option<i64>,
    pub completed_at: Option<i64>,
    pub updated_at: i64,
}

/// How an order was scored at checkout (SPEC §8), kept beside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderRiskRow {
    /// `low`, `warn`, `step_up` or `block`.
    pub level: String,
    pub score: i64,
    /// JSON list of `danbao_domain::risk::RiskReason`.
    pub reasons: String,
    /// JSON of the `danbao_domain::risk::RiskFactors` read; none before scoring existed.
    pub factors: Option<String>,
    /// When the buyer of a step_up order confirmed it once more.
    pub confirmed_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderEventRow {
    pub id: String,
    pub order_id: OrderId,
    pub seq: i64,
    pub kind: String,
    pub detail: String,
    pub at: i64,
    /// The event's leaf in the evidence log.
    pub leaf_hash: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentAttemptRow {
    /// Also the out_trade_no the provider sees.
    pub id: PaymentAttemptId,
    pub order_id: OrderId,
    pub provider: String,
    /// The payment method the buyer chose (one of the rail's); none on attempts older
    /// than the choice.
    pub method: Option<String>,
    pub provider_payment_id: Option<String>,
    pub cashier_url: Option<String>,
    pub amount: Money,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentRow {
    pub id: String,
    pub provider: String,
    pub provider_txn_id: String,
    pub provider_payment_id: String,
    pub out_trade_no: String,
    pub order_id: Option<String>,
    pub amount: Money,
    pub currency: String,
    /// What the platform decided: captured, refund_unaccepted, amount_mismatch.
    pub outcome: String,
    /// Where the notification came from: webhook, query, statement.
    pub source: String,
    pub raw: String,
    pub received_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundRow {
    pub id: String,
    pub order_id: Option<String>,
    pub payment_id: String,
    pub provider: String,
    pub provider_payment_id: String,
    pub amount: Money,
    pub reason: String,
    pub status: String,
    pub created_at: i64,
    pub confirmed_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewJob {
    pub kind: String,
    pub payload: String,
    /// At most one live job per key: a timer scheduled twice is scheduled once.
    pub dedupe_key: Option<String>,
    pub run_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRow {
    pub id: String,
    pub kind: String,
    pub payload: String,
    pub run_at: i64,
    pub status: String,
    pub attempts: i64,
    pub last_error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdempotencyState {
    /// First time this key is seen: the request runs and its response is stored.
    New,
    /// Same key, same request: here is the stored response.
    Replay {
        status: i64,
        content_type: String,
        body: String,
    },
    /// Same key, a request still running.
    InProgress,
    /// Same key, a different request.
    Mismatch,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReconciliationRunRow {
    pub id: String,
    pub provider: String,
    pub period_from: i64,
    pub period_to: i64,
    pub matched: i64,
    pub applied_late: i64,
    pub missing_at_provider: i64,
    pub amount_mismatch: i64,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReconciliationItemRow {
    pub id: String,
    pub run_id: Option<String>,
    /// applied_late (explained, resolved at once), missing_at_provider, amount_mismatch.
    pub kind: String,
    pub provider: String,
    pub provider_txn_id: String,
    pub payment_id: Option<String>,
    pub detail: String,
    pub status: String,
    pub resolution: Option<String>,
    pub resolved_by: Option<String>,
    pub resolved_at: Option<i64>,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComplaintRow {
    pub id: ComplaintId,
    pub order_id: OrderId,
    pub seller_id: UserId,
    pub buyer_id: Option<UserId>,
    pub kind: String,
    pub stage: String,
    pub deadline_at: Option<i64>,
    pub prior_order_status: String,
    pub paused_remaining_ms: Option<i64>,
    pub frozen_sources: String,
    pub amount: Money,
    pub proposal: String,
    pub ruling: Option<String>,
    pub ruled_by: Option<String>,
    pub ruling_reason: Option<String>,
    pub rule_version: i64,
    pub group_id: Option<String>,
    pub assigned_to: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub resolved_at: Option<i64>,
    /// 先行赔付: what the compensation fund advanced to the buyer, and when.
    pub fast_refund: Option<(Money, i64)>,
    /// Why no fast refund was paid (a `FastRefundRefusal` as JSON).
    pub fast_refund_refusal: Option<String>,
}

/// The perceptual hash of an evidence file that decoded as a picture: 64 bits as hex,
/// and its band keys (each byte keyed by its place) for finding near matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageHashRow {
    pub file_sha256: String,
    /// How the hash was made (a different algorithm's hashes are never compared).
    pub algorithm: String,
    pub phash: String,
    /// Written with the hash; empty when read back.
    pub band_keys: Vec<i64>,
    pub created_at: i64,
}

/// An evidence file with a picture hash, as used in some complaint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageUseRow {
    pub file_sha256: String,
    pub phash: String,
    pub party: String,
    pub complaint_id: ComplaintId,
    pub order_id: OrderId,
    pub seller_id: UserId,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComplaintEvidenceRow {
    pub id: String,
    pub complaint_id: ComplaintId,
    pub party: String,
    pub kind: String,
    pub body: Option<String>,
    pub file_sha256: Option<String>,
    pub media_type: Option<String>,
    pub size_bytes: Option<i64>,
    pub leaf_hash: String,
    pub created_at: i64,
}

/// A security deposit paid in through the cashier (`deposit_payments`); its id is the
/// provider's out_trade_no.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DepositPaymentRow {
    pub id: String,
    pub seller_id: UserId,
    pub amount: Money,
    pub currency: String,
    pub provider: String,
    pub provider_payment_id: Option<String>,
    pub cashier_url: Option<String>,
    /// `pending` or `paid`.
    pub status: String,
    pub payment_id: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
    pub paid_at: Option<i64>,
}

/// One notification in the outbox (`notifications`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationRow {
    pub id: String,
    /// A user id, or a role as `role:admin`.
    pub recipient: String,
    pub kind: String,
    pub subject_id: String,
    /// JSON.
    pub detail: String,
    pub created_at: i64,
    pub sent_at: Option<i64>,
    pub channel: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComplaintEventRow {
    pub id: String,
    pub complaint_id: ComplaintId,
    pub seq: i64,
    pub kind: String,
    pub detail: String,
    pub at: i64,
    pub leaf_hash: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SellerStandingRow {
    pub seller_id: UserId,
    pub status: String,
    pub reason: String,
    pub frozen_available_minor: i64,
    pub updated_at: i64,
}

/// An order's id and stored status, for the ledger check (the status is kept as text so
/// that an unknown one is reported, not hidden).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderStatusRow {
    pub order_id: OrderId,
    pub status: String,
}

/// Jobs of one kind in one status (`/metrics`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobQueueStat {
    pub kind: String,
    pub status: String,
    pub count: i64,
    /// The oldest `run_at` among this group's queued jobs that are already due.
    pub oldest_due: Option<i64>,
}

/// One group of a `GROUP BY … COUNT(*)`: the group's value and how many rows it has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountRow {
    pub key: String,
    pub count: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityEventRow {
    pub id: String,
    pub kind: String,
    /// A JSON object: the first occurrence's facts.
    pub detail: String,
    /// When it first happened.
    pub at: i64,
    /// How often it happened in its bucket (1 for an event kept on its own row).
    pub occurrences: i64,
    pub last_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WithdrawalRow {
    pub id: WithdrawalId,
    pub seller_id: UserId,
    pub provider: String,
    pub amount: Money,
    /// requested, confirmed, returned.
    pub status: String,
}

/// The evidence log sequencer's state: the tree size and its compact-range frontier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvidenceStateRow {
    pub size: i64,
    /// Hex of the compact range.
    pub frontier: String,
}

/// A new leaf, queued for the sequencer with its opening, and made its case's head.
#[derive(Debug, Clone, Copy)]
pub struct NewLeaf<'a> {
    pub id: &'a str,
    pub case_id: &'a str,
    pub record: &'a str,
    pub leaf_hash: &'a str,
    pub opening: &'a str,
    pub now: i64,
}

/// A leaf waiting to be sequenced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvidenceQueueRow {
    pub id: String,
    pub case_id: String,
    /// The canonical leaf record.
    pub record: String,
    pub leaf_hash: String,
}

/// A sequenced leaf of the evidence log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvidenceLeafRow {
    pub idx: i64,
    pub leaf_hash: String,
    pub case_id: String,
    /// The canonical leaf record.
    pub record: String,
}

/// A signed checkpoint of the evidence log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvidenceCheckpointRow {
    pub size: i64,
    /// Hex of the tree root.
    pub root: String,
    /// The signed note.
    pub note: String,
}

/// One complaint counted by the collective rule, with who stands behind it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComplainantRow {
    pub complaint_id: ComplaintId,
    pub amount: Money,
    pub payer_id: Option<String>,
    pub guest_contact: Option<String>,
    pub buyer_id: Option<UserId>,
    pub account_created_at: Option<i64>,
    /// The collective group the complaint was put in, if any.
    pub group_id: Option<String>,
}

/// An automatic freeze waiting for (or given) a person's review.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectiveReviewRow {
    pub group_id: String,
    pub seller_id: UserId,
    pub people: i64,
    pub amount: Money,
    pub opened_at: i64,
    pub review_due_at: i64,
    /// pending, escalated (overdue, for the admins), kept, lifted, banned.
    pub status: String,
    pub decided_by: Option<String>,
    pub decided_at: Option<i64>,
}

/// Whose unpaid orders to count (`Tx::unpaid_units`).
#[derive(Debug, Clone, Copy)]
pub enum HoldKey<'a> {
    Buyer(&'a UserId),
    /// A guest's contact as one person (`danbao_domain::limits::contact_key`).
    Contact(&'a str),
    /// A network address, as text.
    Address(&'a str),
    Everyone,
}

/// A ledger check an admin ran from the operations console.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerCheckRow {
    pub id: String,
    pub checked_at: i64,
    /// `user:<id>` of the admin.
    pub checked_by: String,
    pub violations: i64,
    /// The violations found, as a JSON array of strings.
    pub detail: String,
}
