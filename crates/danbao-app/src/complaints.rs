//! Complaints (投诉) and arbitration (SPEC §6) on the ledger and the evidence log:
//! opening freezes the money, stages and deadlines move through the one transition
//! function, triage proposes (and decides clear cases), arbitrators rule, and fraud is
//! answered by freezing or banning the seller.

use crate::auth::{Caller, Role, User};
use crate::clock::rfc3339;
use crate::evidence::record_event;
use crate::jobs::Job;
use crate::{App, AppError, AppResult};
use danbao_domain::complaint::{
    check_open, opening_deadline, settle, transition, triage, ComplaintAction, ComplaintEffect, ComplaintEvent,
    ComplaintKind, FastRefundFacts, FastRefundRefusal, ImageMatch, OrderFacts, PartyText, Proposal, Ruling,
    RulingReason, Side, Stage, TriageFacts,
};
use danbao_domain::ledger::rules::{self as posting, FrozenSources};
use danbao_domain::{
    Account, ComplaintId, DeliveryKind, Money, OrderEvent, OrderId, OrderStatus, RefundId, Refusal, RuleSet,
};
use danbao_store::{ComplaintEvidenceRow, ComplaintRow, OrderRow, RefundRow, Tx};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

const TEXT_LEN_MAX: usize = 4000;
const EVIDENCE_KIND_LEN_MAX: usize = 40;
const QUEUE_SIZE_MAX: i64 = 200;
/// Files one party may add to one complaint: a case needs a few screenshots, not a
/// disk's worth (each file is at most `files::FILE_BYTES_MAX`).
const EVIDENCE_FILES_PER_PARTY_MAX: i64 = 20;
const EVIDENCE_BYTES_PER_PARTY_MAX: i64 = 50 * 1024 * 1024;

/// Who looks at a complaint.
/// How a side is named in evidence rows, log leaves and views (staff act as arbitrators).
/// How often the admins are alerted again about a case past the platform's time limit.
const OVERDUE_REALERT_MS: i64 = 24 * 3_600_000;

fn side_name(side: Side) -> &'static str {
    match side {
        Side::Buyer => "buyer",
        Side::Seller => "seller",
        Side::Staff => "arbitrator",
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct EvidenceView {
    pub id: String,
    pub party: String,
    pub kind: String,
    pub text: Option<String>,
    pub file_sha256: Option<String>,
    pub media_type: Option<String>,
    pub size_bytes: Option<i64>,
    pub at: String,
    pub leaf_hash: String,
    /// The opening of the item's sealed evidence-log leaf (`danbao-leaf-opening/v2`),
    /// for the case's parties: what the public receipt commits to.
    pub opening: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ComplaintEventView {
    pub seq: i64,
    pub kind: String,
    pub at: String,
    pub detail: serde_json::Value,
    pub leaf_hash: String,
    /// The opening of the event's sealed evidence-log leaf.
    pub opening: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ComplaintView {
    pub id: String,
    pub order_id: String,
    pub seller_id: String,
    pub kind: String,
    pub stage: String,
    pub deadline_at: Option<String>,
    pub amount_minor: i64,
    pub frozen: serde_json::Value,
    /// Triage's proposal; none before the first triage.
    /// `{ruling, decide_now, completeness_pct, reasons: [{code, …}]}`.
    #[schema(value_type = Option<Object>)]
    pub proposal: Option<Proposal>,
    pub ruling: Option<serde_json::Value>,
    pub ruled_by: Option<String>,
    /// `{code: "arbitrator", text}`, or a system ground such as `{code: "seller_silent"}`.
    #[schema(value_type = Option<Object>)]
    pub ruling_reason: Option<RulingReason>,
    pub rule_version: i64,
    pub group_id: Option<String>,
    /// The arbitrator who took the case.
    pub assigned_to: Option<String>,
    pub created_at: String,
    pub resolved_at: Option<String>,
    pub viewer: &'static str,
    pub evidence: Vec<EvidenceView>,
    pub events: Vec<ComplaintEventView>,
    /// What the viewer may do now (the domain's rules; the use cases check again).
    /// e.g. `add_evidence`, `respond`, `withdraw`, `take`, `rule`, `ask_buyer`.
    #[schema(value_type = Vec<String>)]
    pub actions: Vec<ComplaintAction>,
    /// For staff, a collective group's automatic freeze and the deadline for a person to
    /// review it.
    pub collective_review: Option<crate::safeguards::CollectiveReviewView>,
    /// 先行赔付: what the compensation fund refunded the buyer at once, and when.
    pub fast_refund: Option<FastRefundView>,
    /// Why no fast refund was paid: `{code, …}` (e.g. `fund_short`, `amount_over_cap`).
    #[schema(value_type = Option<Object>)]
    pub fast_refund_refusal: Option<FastRefundRefusal>,
    /// Under review past the platform's own time limit (`deadline_at`): escalated to the
    /// admins.
    pub overdue: bool,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FastRefundView {
    pub amount_minor: i64,
    pub at: String,
}

/// What a ruling would pay: the buyer's refund, the seller's part and the platform's fee.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RulingPreview {
    pub to_buyer_minor: i64,
    pub to_seller_minor: i64,
    pub fee_minor: i64,
}

/// One leaf of a complaint's case, for a dossier.
pub struct DossierItem {
    pub index: u64,
    pub kind: String,
    pub at: String,
    /// The exact text the leaf's content hash commits to.
    pub content: String,
    pub receipt: String,
    /// The opening of the sealed leaf (none for an old public one).
    pub opening: Option<String>,
}

/// What a piece of evidence is: words, or a stored file.
enum EvidenceBody<'a> {
    Text(&'a str),
    File(&'a crate::files::StoredFile),
}

/// An attachment as received: its bytes and the hash the client says they have.
pub struct Attachment {
    pub bytes: Vec<u8>,
    pub claimed_sha256: Option<String>,
}

fn stage_of(c: &ComplaintRow) -> AppResult<Stage> {
    Stage::parse(&c.stage).ok_or_else(|| AppError::Internal(format!("complaint {} has stage {}", c.id, c.stage)))
}

fn json<T: Serialize>(v: &T) -> AppResult<String> {
    serde_json::to_string(v).map_err(|e| AppError::Internal(e.to_string()))
}

pub(crate) fn text_ok(field: &'static str, text: &str) -> AppResult<()> {
    let n = text.chars().count();
    if n == 0 || n > TEXT_LEN_MAX {
        return Err(AppError::invalid(
            field,
            crate::Invalid::Length {
                min: 1,
                max: TEXT_LEN_MAX,
            },
        ));
    }
    Ok(())
}

/// A complaint id from a client: text that is no complaint id names no complaint.
fn parse_complaint_id(id: &str) -> AppResult<ComplaintId> {
    ComplaintId::parse(id).ok_or(AppError::NotFound("complaint"))
}

/// Records a complaint event and its evidence-log leaf (case `complaint:<id>`).
async fn complaint_event(
    tx: &mut Tx,
    c: &ComplaintRow,
    kind: &str,
    detail: serde_json::Value,
    now: i64,
) -> AppResult<String> {
    let detail = detail.to_string();
    let mut refs = BTreeMap::new();
    refs.insert("complaint_id".to_string(), c.id.to_string());
    refs.insert("order_id".to_string(), c.order_id.to_string());
    let leaf = crate::evidence::append_leaf(
        tx,
        &format!("complaint:{}", c.id),
        &format!("complaint.{kind}"),
        refs,
        detail.as_bytes(),
        now,
    )
    .await?;
    tx.insert_complaint_event(&c.id, kind, &detail, now, &leaf).await?;
    Ok(leaf)
}

impl App {
    fn side_of(&self, caller: &Caller, order: &OrderRow) -> Option<Side> {
        match caller {
            Caller::User(u) if matches!(u.role, Role::Arbitrator | Role::Admin) => Some(Side::Staff),
            Caller::User(u) if order.buyer_id.as_ref() == Some(&u.id) => Some(Side::Buyer),
            Caller::User(u) if order.seller_id == u.id => Some(Side::Seller),
            Caller::GuestToken(t)
                if order.buyer_id.is_none() && self.vault.check_order_access_token(order.id.as_str(), t) =>
            {
                Some(Side::Buyer)
            }
            _ => None,
        }
    }

    /// Loads a complaint the caller may see (its parties and staff); anyone else: not found.
    /// With `lock`, once the caller is known to be allowed, the rows are locked in the
    /// lock order (ARCHITECTURE.md): the seller's standing, the order, the complaint — and
    /// read again under their locks.
    async fn complaint_for(
        &self,
        tx: &mut Tx,
        caller: &Caller,
        id: &ComplaintId,
        lock: bool,
    ) -> AppResult<(ComplaintRow, OrderRow, Side)> {
        let not_found = || AppError::NotFound("complaint");
        let c = tx.complaint(id, false).await?.ok_or_else(not_found)?;
        let order = tx.order(&c.order_id, false).await?.ok_or_else(not_found)?;
        let side = self.side_of(caller, &order).ok_or_else(not_found)?;
        if !lock {
            return Ok((c, order, side));
        }
        let (c, order) = self.lock_complaint(tx, id).await?.ok_or_else(not_found)?;
        Ok((c, order, side))
    }

    /// Locks a complaint in the lock order: its seller's standing, its order, then the
    /// complaint itself (a complaint's seller and order never change, so they are read
    /// first without a lock).
    async fn lock_complaint(&self, tx: &mut Tx, id: &ComplaintId) -> AppResult<Option<(ComplaintRow, OrderRow)>> {
        let Some(seen) = tx.complaint(id, false).await? else {
            return Ok(None);
        };
        self.lock_standing(tx, &seen.seller_id).await?;
        let Some(order) = tx.order(&seen.order_id, true).await? else {
            return Ok(None);
        };
        Ok(tx.complaint(id, true).await?.map(|c| (c, order)))
    }

    /// Opens a complaint: checks who and when, freezes the money in the same transaction,
    /// pauses the order's clocks, runs triage (deciding clear cases at once), and applies
    /// the collective-complaint rule.
    /// Opens a complaint (retried whole if the database aborts it as a deadlock victim).
    pub async fn open_complaint(
        &self,
        caller: &Caller,
        order_id: &str,
        kind: &str,
        description: Option<&str>,
    ) -> AppResult<ComplaintView> {
        self.retrying(|| self.open_complaint_once(caller, order_id, kind, description))
            .await
    }

    async fn open_complaint_once(
        &self,
        caller: &Caller,
        order_id: &str,
        kind: &str,
        description: Option<&str>,
    ) -> AppResult<ComplaintView> {
        let kind = ComplaintKind::parse(kind)
            .ok_or_else(|| AppError::invalid("kind", "not_delivered, not_as_described, fraud or other"))?;
        if let Some(d) = description {
            text_ok("description", d)?;
        }
        let now = self.now();
        let mut tx = self.store.begin().await?;
        let oid = OrderId::parse(order_id).ok_or(AppError::NotFound("order"))?;
        let seen = tx.order(&oid, false).await?.ok_or(AppError::NotFound("order"))?;
        if self.side_of(caller, &seen) != Some(Side::Buyer) {
            return Err(AppError::NotFound("order"));
        }
        // The seller's standing, then the order: the freeze below, the collective rule's
        // freeze and a triage ruling all move this seller's money.
        let mut order = self
            .lock_order(&mut tx, &oid)
            .await?
            .ok_or(AppError::NotFound("order"))?;
        let rules = self.rules_version(&mut tx, order.rule_version).await?;
        let delivery_kind =
            DeliveryKind::parse(&order.delivery_kind).ok_or_else(|| AppError::Internal("delivery kind".into()))?;
        let facts = OrderFacts {
            status: order.status,
            delivery_kind,
            paid_at: order.paid_at,
            delivered_at: order.delivered_at,
            completed_at: order.completed_at,
        };
        check_open(kind, &facts, &rules, now).map_err(Refusal::CannotOpen)?;
        let amount = order.amount;
        let seller = order.seller_id.clone();
        let sources = match order.status {
            OrderStatus::Completed => {
                let split = amount
                    .split_fee(rules.fee_bps(&order.category))
                    .map_err(|e| AppError::Internal(e.to_string()))?;
                let (seller_part, fee) = (split.to_seller, split.fee);
                // Read without row locks, but under the seller's standing lock, which every
                // transaction that moves this seller's available, deposit or reserve takes.
                let available = Account::Available(seller.clone());
                let deposit = Account::Deposit(seller.clone());
                let available = Money::from_minor(available.normal_balance(tx.account_balance(&available).await?));
                let deposit = Money::from_minor(deposit.normal_balance(tx.account_balance(&deposit).await?));
                // Within the after-sales window the order's own reserve still holds it all.
                let reserve = self.order_reserve(&mut tx, &order.id, &seller).await?;
                FrozenSources::for_completed(seller_part, fee, reserve, available, deposit)
            }
            _ => FrozenSources {
                escrow: amount,
                ..FrozenSources::default()
            },
        };
        tx.post_entry(&posting::complaint_freeze(&order.id, &seller, sources)?, now)
            .await?;
        let paused_remaining_ms =
            danbao_domain::order::remaining_on_clock(order.status, order.deliver_by, order.auto_confirm_at, now);
        let prior = order.status;
        self.apply_event(&mut tx, &mut order, OrderEvent::ComplaintOpened, &rules, now)
            .await?;
        let deadline = opening_deadline(&rules, now);
        let mut c = ComplaintRow {
            id: ComplaintId::generate(),
            order_id: order.id.clone(),
            seller_id: seller.clone(),
            buyer_id: order.buyer_id.clone(),
            kind: kind.as_str().to_string(),
            stage: Stage::AwaitingSeller.as_str().to_string(),
            deadline_at: Some(deadline),
            prior_order_status: prior.as_str().to_string(),
            paused_remaining_ms,
            frozen_sources: json(&sources)?,
            amount,
            proposal: "{}".into(),
            ruling: None,
            ruled_by: None,
            ruling_reason: None,
            rule_version: rules.version,
            group_id: None,
            assigned_to: None,
            created_at: now,
            updated_at: now,
            resolved_at: None,
            fast_refund: None,
            fast_refund_refusal: None,
        };
        tx.insert_complaint(&c).await?;
        complaint_event(&mut tx, &c, "opened", serde_json::json!({"kind": kind.as_str(), "frozen_minor": amount.minor(), "sources": sources, "deadline_at": deadline}), now).await?;
        record_event(
            &mut tx,
            &order.id,
            "complaint_opened",
            serde_json::json!({"complaint_id": c.id, "kind": kind.as_str()}),
            now,
        )
        .await?;
        Job::ComplaintDeadline(c.id.clone())
            .enqueue_at(&mut tx, deadline, now)
            .await?;
        if let Some(d) = description {
            self.insert_evidence(&mut tx, &c, Side::Buyer, "description", EvidenceBody::Text(d), now)
                .await?;
        }
        self.collective_rule(&mut tx, &mut c, now).await?;
        self.retriage(&mut tx, &mut c, &order, &rules, now).await?;
        if stage_of(&c)?.is_open() {
            self.fast_refund(&mut tx, &mut c, &rules, now).await?;
        }
        tx.commit().await?;
        self.complaint_seen_by(caller, &c.id).await
    }

    /// 先行赔付 (SPEC §7): an eligible complaint's buyer is refunded at once from the
    /// compensation fund while the case goes on; otherwise the complaint records why not.
    /// The ruling settles the advance (`execute_ruling`).
    async fn fast_refund(&self, tx: &mut Tx, c: &mut ComplaintRow, rules: &RuleSet, now: i64) -> AppResult<()> {
        let buyer_account_age_ms = match &c.buyer_id {
            Some(b) => tx.user_by_id(b).await?.map(|u| now.saturating_sub(u.created_at)),
            None => None,
        };
        let buyer_last_lost_at = match &c.buyer_id {
            Some(b) => tx.buyer_last_lost_complaint_at(b).await?,
            None => None,
        };
        // The fund's row is locked: two complaints opened at once cannot both spend its
        // last yuan.
        let fund = Account::CompensationFund.normal_balance(tx.lock_account(&Account::CompensationFund).await?);
        // The fund stands behind every receivable (a ban settles them from it): only what
        // it holds beyond them can be advanced.
        let fund = Money::from_minor(fund.saturating_sub(tx.receivables_total().await?).max(0));
        let facts = FastRefundFacts {
            buyer_account_age_ms,
            buyer_last_lost_at,
            amount: c.amount,
            fund,
        };
        let amount = match danbao_domain::complaint::fast_refund(&facts, rules, now) {
            Ok(amount) => amount,
            Err(refusal) => {
                c.fast_refund_refusal = Some(json(&refusal)?);
                tx.update_complaint(c).await?;
                complaint_event(
                    tx,
                    c,
                    "fast_refund_refused",
                    serde_json::to_value(&refusal).unwrap_or_default(),
                    now,
                )
                .await?;
                return Ok(());
            }
        };
        let payment = tx
            .payments_for_order(&c.order_id)
            .await?
            .into_iter()
            .find(|p| p.outcome.starts_with("captured"))
            .ok_or_else(|| AppError::Internal(format!("order {} has no captured payment", c.order_id)))?;
        let refund = RefundId::generate();
        tx.post_entry(
            &posting::fast_refund(&c.order_id, &refund, &payment.provider, amount)?,
            now,
        )
        .await?;
        tx.insert_refund(&RefundRow {
            id: refund.to_string(),
            order_id: Some(c.order_id.to_string()),
            payment_id: payment.id.clone(),
            provider: payment.provider.clone(),
            provider_payment_id: payment.provider_payment_id.clone(),
            amount,
            reason: "fast_refund".into(),
            status: "requested".into(),
            created_at: now,
            confirmed_at: None,
        })
        .await?;
        Job::Refund(refund.clone()).enqueue(tx, now, now).await?;
        c.fast_refund = Some((amount, now));
        tx.update_complaint(c).await?;
        let detail = serde_json::json!({"amount_minor": amount.minor(), "refund_id": refund.to_string()});
        complaint_event(tx, c, "fast_refund", detail.clone(), now).await?;
        record_event(tx, &c.order_id, "fast_refund", detail, now).await?;
        Ok(())
    }

    async fn insert_evidence(
        &self,
        tx: &mut Tx,
        c: &ComplaintRow,
        side: Side,
        kind: &str,
        body: EvidenceBody<'_>,
        now: i64,
    ) -> AppResult<ComplaintEvidenceRow> {
        let (text, file) = match body {
            EvidenceBody::Text(t) => (Some(t), None),
            EvidenceBody::File(f) => (None, Some(f)),
        };
        // The leaf commits to the text, or to the file's hash; never to who wrote it.
        let content = match (text, file) {
            (Some(t), _) => t.as_bytes().to_vec(),
            (None, Some(f)) => f.sha256.as_bytes().to_vec(),
            (None, None) => return Err(AppError::invalid("evidence", "text or a file")),
        };
        let mut refs = BTreeMap::new();
        refs.insert("complaint_id".to_string(), c.id.to_string());
        refs.insert("evidence_kind".to_string(), kind.to_string());
        if let Some(f) = file {
            refs.insert("file_sha256".to_string(), f.sha256.clone());
        }
        let leaf = crate::evidence::append_leaf(
            tx,
            &format!("complaint:{}", c.id),
            "complaint.evidence",
            refs,
            &content,
            now,
        )
        .await?;
        let row = ComplaintEvidenceRow {
            id: uuid::Uuid::now_v7().to_string(),
            complaint_id: c.id.clone(),
            party: side_name(side).to_string(),
            kind: kind.to_string(),
            body: text.map(str::to_string),
            file_sha256: file.map(|f| f.sha256.clone()),
            media_type: file.map(|f| f.media_type.clone()),
            size_bytes: file.map(|f| i64::try_from(f.size).unwrap_or(i64::MAX)),
            leaf_hash: leaf,
            created_at: now,
        };
        tx.insert_complaint_evidence(&row).await?;
        Ok(row)
    }

    /// Triage (预审) from the platform's own records; a clear case is decided at once.
    async fn retriage(
        &self,
        tx: &mut Tx,
        c: &mut ComplaintRow,
        order: &OrderRow,
        rules: &RuleSet,
        now: i64,
    ) -> AppResult<()> {
        let kind = ComplaintKind::parse(&c.kind).ok_or_else(|| AppError::Internal("complaint kind".into()))?;
        let evidence = tx.complaint_evidence(&c.id).await?;
        let revealed = tx.count_key_reveals(&order.id).await? > 0;
        let facts = TriageFacts {
            kind,
            delivery_recorded: order.delivered_at.is_some(),
            delivery_revealed: revealed,
            seller_answered: evidence.iter().any(|e| e.party == "seller"),
            past_delivery_deadline: order.delivered_at.is_none() && order.deliver_by.is_some_and(|d| d <= now),
            evidence_kinds: evidence.iter().map(|e| e.kind.clone()).collect(),
            texts: evidence
                .iter()
                .filter_map(|e| {
                    let party = match e.party.as_str() {
                        "buyer" => Side::Buyer,
                        "seller" => Side::Seller,
                        _ => return None,
                    };
                    e.body.as_ref().map(|text| PartyText {
                        party,
                        text: text.clone(),
                    })
                })
                .collect(),
            image_matches: self.image_matches(tx, c, &evidence).await?,
        };
        let proposal: Proposal = triage(&facts, rules);
        c.proposal = json(&proposal)?;
        c.updated_at = now;
        tx.update_complaint(c).await?;
        if proposal.decide_now && stage_of(c)?.is_open() {
            if let Some(r) = proposal.ruling {
                let reason = RulingReason::Triage {
                    reasons: proposal.reasons.clone(),
                };
                self.rule_in(tx, c, r, "system:triage", &reason, now).await?;
            }
        }
        Ok(())
    }

    /// Pictures of this case that look like pictures in complaints about other orders
    /// (perceptual hash within `PICTURE_HASH_DISTANCE_MAX`), for triage to flag.
    async fn image_matches(
        &self,
        tx: &mut Tx,
        c: &ComplaintRow,
        evidence: &[ComplaintEvidenceRow],
    ) -> AppResult<Vec<ImageMatch>> {
        use crate::files::{PictureHash, PICTURE_HASH_ALGORITHM, PICTURE_HASH_DISTANCE_MAX};
        let mut files: Vec<String> = evidence.iter().filter_map(|e| e.file_sha256.clone()).collect();
        files.sort();
        files.dedup();
        if files.is_empty() {
            return Ok(Vec::new());
        }
        let mut out: Vec<ImageMatch> = Vec::new();
        for h in tx.image_hashes_of(&files).await? {
            let Some(mine) = PictureHash::from_hex(&h.phash).filter(|_| h.algorithm == PICTURE_HASH_ALGORITHM) else {
                continue;
            };
            let uploaders = evidence
                .iter()
                .filter(|e| e.file_sha256.as_deref() == Some(h.file_sha256.as_str()))
                .filter_map(|e| match e.party.as_str() {
                    "buyer" => Some(Side::Buyer),
                    "seller" => Some(Side::Seller),
                    _ => None,
                });
            let others: Vec<_> = tx
                .image_uses_sharing_a_band(&mine.band_keys(), PICTURE_HASH_ALGORITHM, &c.id)
                .await?
                .into_iter()
                .filter(|u| u.order_id != c.order_id)
                .filter(|u| {
                    PictureHash::from_hex(&u.phash).is_some_and(|p| p.distance(mine) <= PICTURE_HASH_DISTANCE_MAX)
                })
                .collect();
            for party in uploaders {
                for u in &others {
                    let m = ImageMatch {
                        party,
                        other_complaint: u.complaint_id.to_string(),
                        other_seller: u.seller_id != c.seller_id,
                    };
                    if !out.contains(&m) {
                        out.push(m);
                    }
                }
            }
        }
        Ok(out)
    }

    /// Adds evidence (text, or a file stored content-addressed) from a party; the
    /// response carries the leaf hash and, once sequenced, a receipt is available.
    pub async fn add_evidence(
        &self,
        caller: &Caller,
        id: &str,
        kind: &str,
        text: Option<&str>,
        file: Option<Attachment>,
    ) -> AppResult<EvidenceView> {
        if kind.is_empty()
            || kind.len() > EVIDENCE_KIND_LEN_MAX
            || !kind.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
        {
            return Err(AppError::invalid(
                "kind",
                "a short lowercase word, e.g. description or screenshot",
            ));
        }
        if let Some(t) = text {
            text_ok("text", t)?;
        }
        let id = &parse_complaint_id(id)?;
        // Authorize first, and check the quota: nothing is written to disk for a complaint
        // the caller may not add to. (The file is stored outside the transaction below,
        // which checks everything again.)
        if let Some(f) = &file {
            let mut tx = self.store.begin().await?;
            let (c, _, side) = self.complaint_for(&mut tx, caller, id, false).await?;
            let stage = stage_of(&c)?;
            if !stage.is_open() {
                return Err(Refusal::ComplaintClosed { stage }.into());
            }
            let evidence = tx.complaint_evidence(&c.id).await?;
            tx.commit().await?;
            let mine = evidence
                .iter()
                .filter(|e| e.party == side_name(side) && e.file_sha256.is_some());
            let files = i64::try_from(mine.clone().count()).unwrap_or(i64::MAX);
            let bytes: i64 = mine.filter_map(|e| e.size_bytes).sum();
            let adding = i64::try_from(f.bytes.len()).unwrap_or(i64::MAX);
            if files >= EVIDENCE_FILES_PER_PARTY_MAX || bytes.saturating_add(adding) > EVIDENCE_BYTES_PER_PARTY_MAX {
                return Err(Refusal::EvidenceQuota {
                    max_files: EVIDENCE_FILES_PER_PARTY_MAX,
                    max_bytes: EVIDENCE_BYTES_PER_PARTY_MAX,
                }
                .into());
            }
        }
        let mut bytes_for_hash = None;
        let stored = match file {
            Some(f) => {
                let store = self
                    .files
                    .as_ref()
                    .ok_or(AppError::Forbidden("this server accepts no files"))?;
                let put = store.put(&f.bytes, f.claimed_sha256.as_deref()).map_err(|e| match e {
                    crate::files::FileError::Io(io) => AppError::Internal(io.to_string()),
                    other => AppError::invalid("file", other.to_string()),
                })?;
                bytes_for_hash = Some(f.bytes);
                Some(put)
            }
            None => None,
        };
        if text.is_none() && stored.is_none() {
            return Err(AppError::invalid("evidence", "send text or a file"));
        }
        // A picture's perceptual hash, for triage to compare with other cases' pictures;
        // decoding is CPU work, done off the async workers and outside the transaction.
        // What does not decode as a picture is simply not hashed.
        let picture = match (&stored, text) {
            (Some(f), None) if f.media_type.starts_with("image/") => {
                let media_type = f.media_type.clone();
                let bytes = bytes_for_hash.unwrap_or_default();
                tokio::task::spawn_blocking(move || crate::files::picture_hash(&bytes, &media_type))
                    .await
                    .unwrap_or(None)
            }
            _ => None,
        };
        // The file is stored (content-addressed, so storing it again is harmless); the
        // transaction is retried whole if the database aborts it.
        self.retrying(|| self.add_evidence_once(caller, id, kind, text, stored.as_ref(), picture))
            .await
    }

    async fn add_evidence_once(
        &self,
        caller: &Caller,
        id: &ComplaintId,
        kind: &str,
        text: Option<&str>,
        stored: Option<&crate::files::StoredFile>,
        picture: Option<crate::files::PictureHash>,
    ) -> AppResult<EvidenceView> {
        let now = self.now();
        let mut tx = self.store.begin().await?;
        let (mut c, order, side) = self.complaint_for(&mut tx, caller, id, true).await?;
        let stage = stage_of(&c)?;
        if !stage.is_open() {
            return Err(Refusal::ComplaintClosed { stage }.into());
        }
        let body = match (text, stored) {
            (Some(t), _) => EvidenceBody::Text(t),
            (None, Some(f)) => EvidenceBody::File(f),
            (None, None) => return Err(AppError::invalid("evidence", "send text or a file")),
        };
        let row = self.insert_evidence(&mut tx, &c, side, kind, body, now).await?;
        if let (Some(p), Some(f)) = (picture, &row.file_sha256) {
            tx.insert_image_hash(&danbao_store::ImageHashRow {
                file_sha256: f.clone(),
                algorithm: crate::files::PICTURE_HASH_ALGORITHM.to_string(),
                phash: p.to_hex(),
                band_keys: p.band_keys(),
                created_at: now,
            })
            .await?;
        }
        complaint_event(
            &mut tx,
            &c,
            "evidence_added",
            serde_json::json!({"party": side_name(side), "kind": kind, "evidence_id": row.id}),
            now,
        )
        .await?;
        // The buyer's answer to a request for evidence moves the case back to review.
        if side == Side::Buyer && stage == Stage::AwaitingBuyer {
            self.complaint_transition(&mut tx, &mut c, ComplaintEvent::BuyerResponded, now)
                .await?;
        }
        let rules = self.rules_version(&mut tx, c.rule_version).await?;
        self.retriage(&mut tx, &mut c, &order, &rules, now).await?;
        let opening = tx.evidence_opening(&row.leaf_hash).await?;
        tx.commit().await?;
        Ok(EvidenceView {
            opening,
            ..evidence_view(row)
        })
    }

    /// The seller's answer: evidence, and the case goes to review (retried whole if the
    /// database aborts it).
    pub async fn seller_respond(&self, caller: &Caller, id: &str, text: &str) -> AppResult<ComplaintView> {
        self.retrying(|| self.seller_respond_once(caller, id, text)).await
    }

    async fn seller_respond_once(&self, caller: &Caller, id: &str, text: &str) -> AppResult<ComplaintView> {
        text_ok("text", text)?;
        let now = self.now();
        let mut tx = self.store.begin().await?;
        let id = &parse_complaint_id(id)?;
        let (mut c, order, side) = self.complaint_for(&mut tx, caller, id, true).await?;
        if side != Side::Seller {
            return Err(AppError::Forbidden("only the seller answers a complaint"));
        }
        self.insert_evidence(
            &mut tx,
            &c,
            Side::Seller,
            "seller_response",
            EvidenceBody::Text(text),
            now,
        )
        .await?;
        self.complaint_transition(&mut tx, &mut c, ComplaintEvent::SellerResponded, now)
            .await?;
        let rules = self.rules_version(&mut tx, c.rule_version).await?;
        self.retriage(&mut tx, &mut c, &order, &rules, now).await?;
        tx.commit().await?;
        self.complaint_seen_by(caller, id).await
    }

    /// The buyer withdraws: the frozen money goes back where it came from and the order's
    /// clocks resume with the time they had left.
    pub async fn withdraw_complaint(&self, caller: &Caller, id: &str) -> AppResult<ComplaintView> {
        self.retrying(|| self.withdraw_complaint_once(caller, id)).await
    }

    async fn withdraw_complaint_once(&self, caller: &Caller, id: &str) -> AppResult<ComplaintView> {
        let now = self.now();
        let mut tx = self.store.begin().await?;
        let id = &parse_complaint_id(id)?;
        let (mut c, _, side) = self.complaint_for(&mut tx, caller, id, true).await?;
        if side != Side::Buyer {
            return Err(AppError::Forbidden("only the buyer withdraws a complaint"));
        }
        // The buyer holds the fund's advance: withdrawing would hand the frozen money back
        // to the seller as well. The case goes on to a ruling, which settles the advance.
        if c.fast_refund.is_some() && stage_of(&c)?.is_open() {
            return Err(Refusal::FastRefundedNoWithdrawal.into());
        }
        self.complaint_transition(&mut tx, &mut c, ComplaintEvent::Withdrawn, now)
            .await?;
        tx.commit().await?;
        self.complaint_seen_by(caller, id).await
    }

    /// Arbitrator steps: ask the buyer for more evidence, start or finish an appraisal
    /// (retried whole if the database aborts it).
    pub async fn arbitrator_step(&self, caller: &Caller, id: &str, step: &str, note: &str) -> AppResult<ComplaintView> {
        self.retrying(|| self.arbitrator_step_once(caller, id, step, note))
            .await
    }

    async fn arbitrator_step_once(
        &self,
        caller: &Caller,
        id: &str,
        step: &str,
        note: &str,
    ) -> AppResult<ComplaintView> {
        let staff = require_staff(caller)?;
        text_ok("note", note)?;
        let event = match step {
            "ask_buyer" => ComplaintEvent::BuyerAsked,
            "start_appraisal" => ComplaintEvent::AppraisalStarted,
            "finish_appraisal" => ComplaintEvent::AppraisalFinished,
            _ => {
                return Err(AppError::invalid(
                    "step",
                    "ask_buyer, start_appraisal or finish_appraisal",
                ))
            }
        };
        let now = self.now();
        let mut tx = self.store.begin().await?;
        let id = &parse_complaint_id(id)?;
        let (mut c, _, _) = self.complaint_for(&mut tx, caller, id, true).await?;
        check_assignment(&c, staff)?;
        self.insert_evidence(&mut tx, &c, Side::Staff, step, EvidenceBody::Text(note), now)
            .await?;
        complaint_event(
            &mut tx,
            &c,
            step,
            serde_json::json!({"by": format!("user:{}", staff.id)}),
            now,
        )
        .await?;
        self.complaint_transition(&mut tx, &mut c, event, now).await?;
        tx.commit().await?;
        self.complaint_seen_by(caller, id).await
    }

    /// An arbitrator takes a case — and, for a collective group, every open case of the
    /// group, so one arbitrator decides them together. A case another arbitrator holds
    /// is refused (an admin may take it over). Retried whole if the database aborts it.
    pub async fn assign_complaint(&self, caller: &Caller, id: &str) -> AppResult<ComplaintView> {
        self.retrying(|| self.assign_complaint_once(caller, id)).await
    }

    async fn assign_complaint_once(&self, caller: &Caller, id: &str) -> AppResult<ComplaintView> {
        let staff = require_staff(caller)?.clone();
        let me = format!("user:{}", staff.id);
        let now = self.now();
        let mut tx = self.store.begin().await?;
        let id = &parse_complaint_id(id)?;
        let (c, _, _) = self.complaint_for(&mut tx, caller, id, true).await?;
        if !stage_of(&c)?.is_open() {
            return Err(Refusal::ComplaintClosed { stage: stage_of(&c)? }.into());
        }
        let cases = match &c.group_id {
            Some(g) => tx.open_complaints_in_group(g).await?,
            None => vec![c],
        };
        for mut x in cases {
            match &x.assigned_to {
                Some(other) if *other != me && staff.role != Role::Admin => {
                    return Err(Refusal::AssignedElsewhere.into());
                }
                _ => {}
            }
            x.assigned_to = Some(me.clone());
            x.updated_at = now;
            tx.update_complaint(&x).await?;
            complaint_event(&mut tx, &x, "assigned", serde_json::json!({"to": me}), now).await?;
        }
        tx.commit().await?;
        self.complaint_seen_by(caller, id).await
    }

    /// A ruling by an arbitrator. Two arbitrators at once: the complaint row lock makes
    /// them take turns, and the second finds it resolved (a clear conflict).
    pub async fn rule_complaint(
        &self,
        caller: &Caller,
        id: &str,
        ruling: Ruling,
        reason: &str,
    ) -> AppResult<ComplaintView> {
        self.retrying(|| self.rule_complaint_once(caller, id, ruling, reason))
            .await
    }

    async fn rule_complaint_once(
        &self,
        caller: &Caller,
        id: &str,
        ruling: Ruling,
        reason: &str,
    ) -> AppResult<ComplaintView> {
        let staff = require_staff(caller)?.clone();
        text_ok("reason", reason)?;
        let now = self.now();
        let mut tx = self.store.begin().await?;
        let id = &parse_complaint_id(id)?;
        let (mut c, _, _) = self.complaint_for(&mut tx, caller, id, true).await?;
        check_assignment(&c, &staff)?;
        let reason = RulingReason::Arbitrator {
            text: reason.to_string(),
        };
        self.rule_in(&mut tx, &mut c, ruling, &format!("user:{}", staff.id), &reason, now)
            .await?;
        tx.commit().await?;
        self.complaint_seen_by(caller, id).await
    }

    pub(crate) async fn rule_in(
        &self,
        tx: &mut Tx,
        c: &mut ComplaintRow,
        ruling: Ruling,
        by: &str,
        reason: &RulingReason,
        now: i64,
    ) -> AppResult<()> {
        let stage = stage_of(c)?;
        if !stage.is_open() {
            return Err(Refusal::ComplaintClosed { stage }.into());
        }
        c.ruled_by = Some(by.to_string());
        c.ruling_reason = Some(reason.to_stored());
        self.complaint_transition(tx, c, ComplaintEvent::Ruled(ruling), now)
            .await
    }

    /// The complaint's one transition function, and its effects, in the caller's transaction.
    async fn complaint_transition(
        &self,
        tx: &mut Tx,
        c: &mut ComplaintRow,
        event: ComplaintEvent,
        now: i64,
    ) -> AppResult<()> {
        let rules = self.rules_version(tx, c.rule_version).await?;
        let (next, effects) = transition(stage_of(c)?, event, &rules, now).map_err(Refusal::Complaint)?;
        let from = c.stage.clone();
        c.stage = next.as_str().to_string();
        c.updated_at = now;
        for effect in effects {
            match effect {
                ComplaintEffect::Deadline { at } => {
                    c.deadline_at = Some(at);
                    Job::ComplaintDeadline(c.id.clone()).enqueue_at(tx, at, now).await?;
                }
                ComplaintEffect::NoDeadline => c.deadline_at = None,
                ComplaintEffect::Execute(r) => self.execute_ruling(tx, c, r, &rules, now).await?,
                ComplaintEffect::ReturnFrozen => self.return_frozen(tx, c, &rules, now).await?,
            }
        }
        tx.update_complaint(c).await?;
        complaint_event(
            tx,
            c,
            "stage",
            serde_json::json!({"from": from, "to": c.stage, "event": format!("{event:?}")}),
            now,
        )
        .await?;
        Ok(())
    }

    /// Carries out a ruling on the ledger, atomically: the buyer's part to a refund at
    /// the provider, the seller's part (less the fee) to the seller, the fee to the platform.
    async fn execute_ruling(
        &self,
        tx: &mut Tx,
        c: &mut ComplaintRow,
        ruling: Ruling,
        rules: &RuleSet,
        now: i64,
    ) -> AppResult<()> {
        let mut order = tx.order(&c.order_id, true).await?.ok_or(AppError::NotFound("order"))?;
        let sources: FrozenSources =
            serde_json::from_str(&c.frozen_sources).map_err(|e| AppError::Internal(e.to_string()))?;
        let amount = c.amount;
        let fee_bps = rules.fee_bps(&order.category);
        let s = settle(amount, ruling, fee_bps).map_err(|e| AppError::Internal(e.to_string()))?;
        let payment = tx
            .payments_for_order(&order.id)
            .await?
            .into_iter()
            .find(|p| p.outcome.starts_with("captured"))
            .ok_or_else(|| AppError::Internal(format!("order {} has no captured payment", order.id)))?;
        // A fast refund already paid the buyer: the buyer's part repays the fund instead.
        let advanced = c.fast_refund.map_or(Money::ZERO, |(m, _)| m);
        let to_refund = s
            .to_buyer
            .checked_sub(s.to_buyer.min(advanced))
            .map_err(|e| AppError::Internal(e.to_string()))?;
        let refund_id = to_refund.is_positive().then(RefundId::generate);
        let (entry, money) = posting::ruling_settlement(
            &order.id,
            refund_id.as_ref(),
            &c.seller_id,
            &payment.provider,
            s,
            sources.receivable,
            advanced,
        )?;
        let seller_part = money.seller;
        tx.post_entry(&entry, now).await?;
        if let Some(rid) = &refund_id {
            tx.insert_refund(&RefundRow {
                id: rid.to_string(),
                order_id: Some(order.id.to_string()),
                payment_id: payment.id.clone(),
                provider: payment.provider.clone(),
                provider_payment_id: payment.provider_payment_id.clone(),
                amount: money.to_refund,
                reason: format!("ruling:{}", ruling.kind()),
                status: "requested".into(),
                created_at: now,
                confirmed_at: None,
            })
            .await?;
            Job::Refund(rid.clone()).enqueue(tx, now, now).await?;
        }
        // A frozen or banned seller gets nothing out: what reached their available
        // balance (their part less what repaid the receivable) stays held.
        self.hold_release_if_frozen(tx, &c.seller_id, seller_part.to_available, now)
            .await?;
        self.repay_receivable(tx, &c.seller_id, now).await?;
        let outcome = ruling.order_outcome();
        self.apply_event(tx, &mut order, OrderEvent::ComplaintRuled { outcome }, rules, now)
            .await?;
        if outcome == OrderStatus::Completed && order.completed_at.is_none() {
            order.completed_at = Some(now);
            tx.update_order(&order).await?;
        }
        c.ruling = Some(json(&ruling)?);
        c.resolved_at = Some(now);
        let detail = serde_json::json!({
            "ruling": ruling, "to_buyer_minor": s.to_buyer.minor(), "to_seller_minor": s.to_seller.minor(),
            "fee_minor": s.fee.minor(), "by": c.ruled_by, "reason_sha256": crate::evidence::reason_hash(c.ruling_reason.as_deref()),
            "fund_repaid_minor": money.fund_repaid.minor(), "advance_lost_minor": money.advance_lost.minor(),
            "rule_version": c.rule_version,
        });
        complaint_event(tx, c, "ruled", detail.clone(), now).await?;
        record_event(tx, &order.id, "complaint_ruled", detail, now).await?;
        Ok(())
    }

    /// Withdrawal: the money back where it was, the order back where it was, its clock
    /// re-armed with the time it had left.
    async fn return_frozen(&self, tx: &mut Tx, c: &mut ComplaintRow, rules: &RuleSet, now: i64) -> AppResult<()> {
        let mut order = tx.order(&c.order_id, true).await?.ok_or(AppError::NotFound("order"))?;
        let sources: FrozenSources =
            serde_json::from_str(&c.frozen_sources).map_err(|e| AppError::Internal(e.to_string()))?;
        tx.post_entry(&posting::complaint_unfreeze(&order.id, &c.seller_id, sources)?, now)
            .await?;
        self.repay_receivable(tx, &c.seller_id, now).await?;
        // Money back in the reserve waits for the window's end again (or is released at
        // once if it has passed meanwhile).
        if sources.reserve.is_positive() {
            if let Some(completed_at) = order.completed_at {
                self.schedule_reserve_release(tx, &order.id, completed_at, rules.reserve_ms(), now)
                    .await?;
            }
        }
        let restore =
            OrderStatus::parse(&c.prior_order_status).ok_or_else(|| AppError::Internal("prior status".into()))?;
        let remaining_ms = c.paused_remaining_ms.unwrap_or(0);
        self.apply_event(
            tx,
            &mut order,
            OrderEvent::ComplaintWithdrawn { restore, remaining_ms },
            rules,
            now,
        )
        .await?;
        record_event(
            tx,
            &order.id,
            "complaint_withdrawn",
            serde_json::json!({"complaint_id": c.id}),
            now,
        )
        .await?;
        Ok(())
    }

    /// A deadline: the default ruling when a party stayed silent, or back to review
    /// (retried whole if the database aborts it).
    pub(crate) async fn complaint_deadline(&self, id: &ComplaintId) -> AppResult<()> {
        self.retrying(|| self.complaint_deadline_once(id)).await
    }

    async fn complaint_deadline_once(&self, id: &ComplaintId) -> AppResult<()> {
        let now = self.now();
        let mut tx = self.store.begin().await?;
        let Some((mut c, _)) = self.lock_complaint(&mut tx, id).await? else {
            return Ok(());
        };
        match c.deadline_at {
            Some(d) if d <= now => {}
            // Not yet due (or a stage whose deadline moved): this timer is moot.
            _ => return Ok(()),
        }
        let event = match stage_of(&c)? {
            Stage::AwaitingSeller => ComplaintEvent::SellerDeadlinePassed,
            Stage::AwaitingBuyer => ComplaintEvent::BuyerDeadlinePassed,
            Stage::Appraisal => ComplaintEvent::AppraisalDeadlinePassed,
            Stage::UnderReview => {
                // The platform's own limit passed: nothing is decided for anyone, but the
                // admins are alerted and every page shows the case overdue.
                let detail = serde_json::json!({
                    "order_id": c.order_id.to_string(), "deadline_at": c.deadline_at.map(rfc3339),
                    "assigned_to": c.assigned_to,
                });
                self.notify(
                    &mut tx,
                    crate::notify::ADMINS,
                    "arbitration_overdue",
                    c.id.as_str(),
                    detail.clone(),
                    now,
                )
                .await?;
                if let Some(arbitrator) = c.assigned_to.as_deref().and_then(|a| a.strip_prefix("user:")) {
                    self.notify(
                        &mut tx,
                        arbitrator,
                        "arbitration_overdue",
                        c.id.as_str(),
                        detail.clone(),
                        now,
                    )
                    .await?;
                }
                complaint_event(&mut tx, &c, "overdue", detail, now).await?;
                // And again each day the case stays undecided: an overdue case is never
                // left to wait in silence.
                Job::ComplaintDeadline(c.id.clone())
                    .enqueue_at(&mut tx, now.saturating_add(OVERDUE_REALERT_MS), now)
                    .await?;
                tx.commit().await?;
                return Ok(());
            }
            _ => return Ok(()),
        };
        if matches!(
            event,
            ComplaintEvent::SellerDeadlinePassed | ComplaintEvent::BuyerDeadlinePassed
        ) {
            c.ruled_by = Some("system:deadline".into());
            let reason = match event {
                ComplaintEvent::SellerDeadlinePassed => RulingReason::SellerSilent,
                _ => RulingReason::BuyerSilent,
            };
            c.ruling_reason = Some(reason.to_stored());
        }
        self.complaint_transition(&mut tx, &mut c, event, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// An evidence file, to the complaint's parties and staff only.
    pub async fn complaint_file(&self, caller: &Caller, id: &str, sha256: &str) -> AppResult<(Vec<u8>, String)> {
        let mut tx = self.store.begin().await?;
        let id = &parse_complaint_id(id)?;
        let (c, _, _) = self.complaint_for(&mut tx, caller, id, false).await?;
        let evidence = tx.complaint_evidence(&c.id).await?;
        tx.commit().await?;
        let item = evidence
            .into_iter()
            .find(|e| e.file_sha256.as_deref() == Some(sha256))
            .ok_or(AppError::NotFound("file"))?;
        let store = self.files.as_ref().ok_or(AppError::NotFound("file"))?;
        let bytes = store
            .get(sha256)
            .map_err(|e| AppError::Internal(e.to_string()))?
            .ok_or(AppError::NotFound("file"))?;
        Ok((
            bytes,
            item.media_type.unwrap_or_else(|| "application/octet-stream".into()),
        ))
    }

    /// Everything of one complaint for `danbao export-dossier --complaint`: each leaf of
    /// the case in log order, with the text its content hash commits to and its receipt,
    /// plus the evidence files.
    pub async fn complaint_dossier(&self, id: &str) -> AppResult<(Vec<DossierItem>, Vec<(String, String, Vec<u8>)>)> {
        self.sequence_evidence().await?;
        let mut tx = self.store.begin().await?;
        let id = parse_complaint_id(id)?;
        let c = tx.complaint(&id, false).await?.ok_or(AppError::NotFound("complaint"))?;
        let events = tx.complaint_events(&c.id).await?;
        let evidence = tx.complaint_evidence(&c.id).await?;
        tx.commit().await?;
        let mut items = Vec::new();
        for e in events {
            items.push((e.leaf_hash, format!("complaint.{}", e.kind), e.at, e.detail));
        }
        let mut files = Vec::new();
        for e in evidence {
            let content = match (&e.body, &e.file_sha256) {
                (Some(text), _) => text.clone(),
                (None, Some(sha)) => {
                    if let Some(store) = &self.files {
                        if let Some(bytes) = store.get(sha).map_err(|x| AppError::Internal(x.to_string()))? {
                            files.push((sha.clone(), e.media_type.clone().unwrap_or_default(), bytes));
                        }
                    }
                    sha.clone()
                }
                (None, None) => String::new(),
            };
            items.push((
                e.leaf_hash,
                format!("evidence.{}.{}", e.party, e.kind),
                e.created_at,
                content,
            ));
        }
        let mut out = Vec::new();
        for (leaf, kind, at, content) in items {
            let receipt = self
                .receipt_for_leaf(&leaf)
                .await?
                .ok_or_else(|| AppError::Internal(format!("leaf {leaf} has no receipt")))?;
            let index = danbao_evidence::Receipt::parse(&receipt)
                .map_err(|x| AppError::Internal(x.to_string()))?
                .index;
            let mut tx = self.store.begin().await?;
            let opening = tx.evidence_opening(&leaf).await?;
            tx.commit().await?;
            out.push(DossierItem {
                index,
                kind,
                at: rfc3339(at),
                content,
                receipt,
                opening,
            });
        }
        out.sort_by_key(|i| i.index);
        Ok((out, files))
    }

    pub async fn complaint(&self, caller: &Caller, id: &str) -> AppResult<ComplaintView> {
        self.complaint_seen_by(caller, &parse_complaint_id(id)?).await
    }

    async fn complaint_seen_by(&self, caller: &Caller, id: &ComplaintId) -> AppResult<ComplaintView> {
        let mut tx = self.store.begin().await?;
        let (c, _, side) = self.complaint_for(&mut tx, caller, id, false).await?;
        let evidence = tx.complaint_evidence(&c.id).await?;
        let events = tx.complaint_events(&c.id).await?;
        // The parties (and staff) of the case get each leaf's opening with it.
        let mut openings = HashMap::new();
        for hash in evidence
            .iter()
            .map(|e| &e.leaf_hash)
            .chain(events.iter().map(|e| &e.leaf_hash))
        {
            if let Some(o) = tx.evidence_opening(hash).await? {
                openings.insert(hash.clone(), o);
            }
        }
        let mut reviews = match (&c.group_id, side) {
            (Some(g), Side::Staff) => self.collective_reviews_of(&mut tx, vec![g.clone()]).await?,
            _ => BTreeMap::new(),
        };
        tx.commit().await?;
        let review = c.group_id.as_ref().and_then(|g| reviews.remove(g));
        let mut view = complaint_view(c, side, evidence, events, self.now());
        view.collective_review = review;
        for e in &mut view.evidence {
            e.opening = openings.get(&e.leaf_hash).cloned();
        }
        for e in &mut view.events {
            e.opening = openings.get(&e.leaf_hash).cloned();
        }
        Ok(view)
    }

    pub async fn complaints_of_order(&self, caller: &Caller, order_id: &str) -> AppResult<Vec<ComplaintView>> {
        let mut tx = self.store.begin().await?;
        let oid = OrderId::parse(order_id).ok_or(AppError::NotFound("order"))?;
        let order = tx.order(&oid, false).await?.ok_or(AppError::NotFound("order"))?;
        let side = self.side_of(caller, &order).ok_or(AppError::NotFound("order"))?;
        let rows = tx.complaints_for_order(&oid).await?;
        tx.commit().await?;
        let now = self.now();
        Ok(rows
            .into_iter()
            .map(|c| complaint_view(c, side, Vec::new(), Vec::new(), now))
            .collect())
    }

    /// The arbitrator's queue: open cases, soonest deadline first, with triage's proposal.
    pub async fn complaint_queue(&self, caller: &Caller) -> AppResult<Vec<ComplaintView>> {
        require_staff(caller)?;
        let mut tx = self.store.begin().await?;
        let rows = tx.complaint_queue(QUEUE_SIZE_MAX).await?;
        let groups: Vec<String> = rows.iter().filter_map(|c| c.group_id.clone()).collect();
        let reviews = self.collective_reviews_of(&mut tx, groups).await?;
        tx.commit().await?;
        let now = self.now();
        Ok(rows
            .into_iter()
            .map(|c| {
                let review = c.group_id.as_ref().and_then(|g| reviews.get(g).cloned());
                let mut view = complaint_view(c, Side::Staff, Vec::new(), Vec::new(), now);
                view.collective_review = review;
                view
            })
            .collect())
    }

    /// What a ruling would pay whom on this case, before an arbitrator commits to it:
    /// the same `settle` the ruling runs, on the case's amount and the fee of the order's
    /// rule version. Nothing is written. Staff only.
    pub async fn preview_ruling(&self, caller: &Caller, id: &str, ruling: Ruling) -> AppResult<RulingPreview> {
        require_staff(caller)?;
        let mut tx = self.store.begin().await?;
        let id = &parse_complaint_id(id)?;
        let (c, order, _) = self.complaint_for(&mut tx, caller, id, false).await?;
        let rules = self.rules_version(&mut tx, c.rule_version).await?;
        tx.commit().await?;
        let s =
            settle(c.amount, ruling, rules.fee_bps(&order.category)).map_err(|e| AppError::Internal(e.to_string()))?;
        Ok(RulingPreview {
            to_buyer_minor: s.to_buyer.minor(),
            to_seller_minor: s.to_seller.minor(),
            fee_minor: s.fee.minor(),
        })
    }
}

/// A case taken by one arbitrator is decided by that arbitrator (or an admin).
fn check_assignment(c: &ComplaintRow, staff: &User) -> AppResult<()> {
    match &c.assigned_to {
        Some(who) if *who != format!("user:{}", staff.id) && staff.role != Role::Admin => {
            Err(Refusal::AssignedElsewhere.into())
        }
        _ => Ok(()),
    }
}

pub(crate) fn require_staff(caller: &Caller) -> AppResult<&User> {
    match caller {
        Caller::User(u) if matches!(u.role, Role::Arbitrator | Role::Admin) => Ok(u),
        Caller::User(_) => Err(AppError::Forbidden("arbitrators only")),
        _ => Err(AppError::Unauthenticated),
    }
}

fn evidence_view(e: ComplaintEvidenceRow) -> EvidenceView {
    EvidenceView {
        id: e.id,
        party: e.party,
        kind: e.kind,
        text: e.body,
        file_sha256: e.file_sha256,
        media_type: e.media_type,
        size_bytes: e.size_bytes,
        at: rfc3339(e.created_at),
        leaf_hash: e.leaf_hash,
        opening: None,
    }
}

fn complaint_view(
    c: ComplaintRow,
    side: Side,
    evidence: Vec<ComplaintEvidenceRow>,
    events: Vec<danbao_store::ComplaintEventRow>,
    now: i64,
) -> ComplaintView {
    let parse = |s: &str| serde_json::from_str(s).unwrap_or(serde_json::Value::Null);
    let stage = Stage::parse(&c.stage);
    let mut actions = stage.map_or_else(Vec::new, |s| danbao_domain::complaint::actions(s, side));
    if c.fast_refund.is_some() {
        actions.retain(|a| *a != ComplaintAction::Withdraw);
    }
    ComplaintView {
        fast_refund: c.fast_refund.map(|(m, at)| FastRefundView {
            amount_minor: m.minor(),
            at: rfc3339(at),
        }),
        fast_refund_refusal: c
            .fast_refund_refusal
            .as_deref()
            .and_then(|r| serde_json::from_str(r).ok()),
        overdue: stage.is_some_and(|s| danbao_domain::complaint::review_overdue(s, c.deadline_at, now)),
        collective_review: None,
        actions,
        frozen: parse(&c.frozen_sources),
        proposal: serde_json::from_str(&c.proposal).ok(),
        ruling: c.ruling.as_deref().map(parse),
        id: c.id.to_string(),
        order_id: c.order_id.to_string(),
        seller_id: c.seller_id.to_string(),
        kind: c.kind,
        stage: c.stage,
        deadline_at: c.deadline_at.map(rfc3339),
        amount_minor: c.amount.minor(),
        ruled_by: c.ruled_by,
        ruling_reason: c.ruling_reason.as_deref().map(RulingReason::from_stored),
        rule_version: c.rule_version,
        group_id: c.group_id,
        assigned_to: c.assigned_to,
        created_at: rfc3339(c.created_at),
        resolved_at: c.resolved_at.map(rfc3339),
        viewer: side_name(side),
        evidence: evidence.into_iter().map(evidence_view).collect(),
        events: events
            .into_iter()
            .map(|e| ComplaintEventView {
                seq: e.seq,
                kind: e.kind,
                at: rfc3339(e.at),
                detail: parse(&e.detail),
                leaf_hash: e.leaf_hash,
                opening: None,
            })
            .collect(),
    }
}
