//! Payments (SPEC §4): the one notification path that every source (webhook, active
//! query, statement line) goes through, the provider trait, and its sandbox adapter.
//! Real rails (EPay, Alipay, WeChat Pay) come as further adapters behind the same trait.

use crate::evidence::record_event;
use crate::jobs::Job;
use crate::orders::{delivery_kind, sha256_hex};
use crate::{App, AppError, AppResult};
use danbao_domain::ledger::rules as posting;
use danbao_domain::payment::{decide, PayableOrder, PaymentDecision, UnacceptedReason};
use danbao_domain::{DeliveryKind, Money, OrderEvent, OrderId, PaymentAttemptId, PaymentId, RefundId, RuleSet};
use danbao_store::{OrderRow, PaymentRow, RefundRow, Tx};
use futures::future::BoxFuture;
use sha2::{Digest, Sha256};

#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// Worth retrying: the provider could not be reached or answered 5xx.
    #[error("provider unavailable: {0}")]
    Unavailable(String),
    /// The provider refused the request; retrying the same request will not help.
    #[error("provider refused: {0}")]
    Rejected(String),
    #[error("signature does not verify")]
    BadSignature,
    #[error("malformed notification: {0}")]
    Malformed(String),
    /// A notification whose signature verified but that tells of no money coming in (an
    /// Alipay refund's notification): acknowledged so the rail stops resending it, and
    /// nothing changes. Not a security event: the rail itself sent it.
    #[error("not a payment: {0}")]
    NotAPayment(String),
}

/// The name a buyer sees at the provider's cashier as the one they pay.
pub const MERCHANT_NAME: &str = "担保 Danbao";

pub struct PaymentRequest {
    pub out_trade_no: String,
    pub amount: Money,
    pub currency: String,
    pub subject: String,
    pub notify_url: String,
    pub return_url: String,
    /// The order the buyer knows, printed by the cashier (the out_trade_no is a payment
    /// attempt's).
    pub order_ref: String,
    /// When the order stops waiting for this payment (ms since epoch): the cashier counts
    /// down to it, as a real gateway's `time_expire`.
    pub expires_at_ms: i64,
    /// The method the buyer chose, one of this rail's (none: its first).
    pub method: Option<String>,
}

pub struct CreatedPayment {
    pub provider_payment_id: String,
    pub cashier_url: String,
}

/// A notification whose signature has been verified over its raw bytes.
#[derive(Debug, Clone)]
pub struct VerifiedPayment {
    pub provider_payment_id: String,
    pub provider_txn_id: String,
    pub out_trade_no: String,
    pub amount: Money,
    pub currency: String,
    /// The raw body, kept with the payment record as evidence.
    pub raw: String,
    /// Who paid, as the provider identifies its payer (Alipay buyer_id, WeChat openid).
    pub payer_id: Option<String>,
}

pub struct RefundCommand {
    pub provider_payment_id: String,
    pub amount: Money,
    /// Derived from our refund id, so a retried refund is the same refund at the provider.
    pub request_id: String,
}

pub trait PaymentProvider: Send + Sync + 'static {
    /// The provider's name in accounts and routes, e.g. `sandbox`.
    fn name(&self) -> &'static str;
    /// The payment methods a buyer may choose from at checkout; one per rail by default.
    fn methods(&self) -> Vec<&'static str> {
        vec![self.name()]
    }
    fn create_payment(&self, req: PaymentRequest) -> BoxFuture<'_, Result<CreatedPayment, ProviderError>>;
    /// Verifies the signature over the raw bytes (constant time) and parses the payment.
    fn verify_notification(&self, n: &Incoming<'_>) -> Result<VerifiedPayment, ProviderError>;
    /// The body this rail expects once a notification is committed.
    fn acknowledgement(&self) -> &'static str;
    fn refund(&self, cmd: RefundCommand) -> BoxFuture<'_, Result<(), ProviderError>>;
    /// Active query: every successful payment made under this out_trade_no, each verified
    /// as strictly as a notification (the rail's signed answer, or a signed notification
    /// the gateway keeps), to go through the one path like a webhook.
    fn query_payments(&self, out_trade_no: String) -> BoxFuture<'_, Result<Vec<VerifiedPayment>, ProviderError>>;
    /// The provider's statement of successful payments in [from, to) (ms since epoch),
    /// each line already verified (the statement is signed as a whole).
    fn statement(&self, from_ms: i64, to_ms: i64) -> BoxFuture<'_, Result<Vec<VerifiedPayment>, ProviderError>>;
    /// Whether the provider has a statement of its own books to reconcile against. A rail
    /// without one (易支付 V2) is left out of the daily round of every rail, said so in the
    /// log, rather than stopping the round; asked on its own, its `statement` says why.
    fn has_statement(&self) -> bool {
        true
    }
    /// Pays a seller out (a withdrawal); idempotent on `request_id`.
    fn payout(&self, request_id: String, amount: Money, account: String) -> BoxFuture<'_, Result<(), ProviderError>>;
    /// What the provider says it holds for us (its settlement balance, minor units): the
    /// reserves the proof of liabilities is compared with. None: this rail cannot say.
    fn settlement_balance(&self) -> BoxFuture<'_, Result<Option<Money>, ProviderError>> {
        Box::pin(async { Ok(None) })
    }
}

/// The payment rails this platform takes money through, in the operator's order (the
/// first is the default at checkout). A payment, refund or query goes to the rail its
/// attempt was made with, so a rail taken out of the configuration leaves its jobs
/// waiting (retried) rather than sent elsewhere.
#[derive(Clone)]
pub struct Rails(Vec<std::sync::Arc<dyn PaymentProvider>>);

#[derive(Debug, thiserror::Error)]
pub enum RailsError {
    #[error("payment rail {0:?} is configured twice")]
    DuplicateRail(&'static str),
    #[error("payment method {0:?} is offered by two rails")]
    DuplicateMethod(&'static str),
}

impl Rails {
    pub fn new(list: Vec<std::sync::Arc<dyn PaymentProvider>>) -> Result<Rails, RailsError> {
        let mut names = std::collections::BTreeSet::new();
        let mut methods = std::collections::BTreeSet::new();
        for rail in &list {
            if !names.insert(rail.name()) {
                return Err(RailsError::DuplicateRail(rail.name()));
            }
            for m in rail.methods() {
                if !methods.insert(m) {
                    return Err(RailsError::DuplicateMethod(m));
                }
            }
        }
        Ok(Rails(list))
    }

    /// One rail alone (the sandbox of the demo and the tests).
    pub fn one(rail: std::sync::Arc<dyn PaymentProvider>) -> Rails {
        Rails(vec![rail])
    }

    /// No rail: no payment can be made, no notification is accepted.
    pub fn none() -> Rails {
        Rails(Vec::new())
    }

    /// The rail of this name.
    pub fn get(&self, name: &str) -> Option<&std::sync::Arc<dyn PaymentProvider>> {
        self.0.iter().find(|r| r.name() == name)
    }

    /// The rail that offers this payment method; none asked: the first rail.
    pub fn for_method(&self, method: Option<&str>) -> Option<&std::sync::Arc<dyn PaymentProvider>> {
        match method {
            None => self.0.first(),
            Some(m) => self.0.iter().find(|r| r.methods().contains(&m)),
        }
    }

    /// The rail payouts go through: the first.
    pub fn payout_rail(&self) -> Option<&std::sync::Arc<dyn PaymentProvider>> {
        self.0.first()
    }

    /// Every method a buyer may choose, the default first.
    pub fn methods(&self) -> Vec<&'static str> {
        self.0.iter().flat_map(|r| r.methods()).collect()
    }

    pub fn iter(&self) -> impl Iterator<Item = &std::sync::Arc<dyn PaymentProvider>> {
        self.0.iter()
    }
}

/// A notification as it arrived, everything a rail may sign it with: the raw body (a
/// JSON or form body, or 易支付's query string), the sandbox's signature header, every
/// header (WeChat Pay signs in four), and when it arrived (a signed timestamp must be
/// recent).
pub struct Incoming<'a> {
    pub body: &'a [u8],
    pub signature: Option<&'a str>,
    /// Names lower-case, as HTTP/2 and axum give them.
    pub headers: &'a [(String, String)],
    pub now_ms: i64,
}

impl Incoming<'_> {
    /// The one value of header `name` (lower-case); a header given twice is none.
    pub fn header(&self, name: &str) -> Option<&str> {
        let mut found = self.headers.iter().filter(|(k, _)| k == name);
        match (found.next(), found.next()) {
            (Some((_, v)), None) => Some(v.as_str()),
            _ => None,
        }
    }
}

/// Bounds what we accept as a notification body before parsing it.
pub const NOTIFICATION_BODY_MAX_BYTES: usize = 16 * 1024;

/// Checks what every payment must have, whatever its source.
fn verified_from(n: danbao_sandbox::wire::Notification, raw: String) -> Result<VerifiedPayment, ProviderError> {
    if n.trade_no.is_empty() || n.payment_id.is_empty() || n.out_trade_no.is_empty() {
        return Err(ProviderError::Malformed(
            "missing trade_no, payment_id or out_trade_no".into(),
        ));
    }
    if n.amount_minor <= 0 {
        return Err(ProviderError::Malformed(format!(
            "amount {} is not a payment",
            n.amount_minor
        )));
    }
    if n.currency.is_empty() {
        return Err(ProviderError::Malformed("missing currency".into()));
    }
    Ok(VerifiedPayment {
        provider_payment_id: n.payment_id,
        provider_txn_id: n.trade_no,
        out_trade_no: n.out_trade_no,
        amount: Money::from_minor(n.amount_minor),
        currency: n.currency,
        raw,
        payer_id: crate::safeguards::payer_identity(n.payer_id.as_deref()).map(str::to_string),
    })
}

/// A refund or payout the provider has not (yet) settled is worth asking about again.
/// The order a provider's `out_trade_no` pays: it is our payment attempt's id, and the
/// attempt names the order. Text that is no attempt id names no order.
pub(crate) async fn order_of_attempt(tx: &mut Tx, out_trade_no: &str) -> AppResult<Option<OrderId>> {
    let Some(attempt) = PaymentAttemptId::parse(out_trade_no) else {
        return Ok(None);
    };
    Ok(tx.payment_attempt(&attempt).await?.map(|a| a.order_id))
}

fn settled(what: &str, status: &str) -> Result<(), ProviderError> {
    if status == "succeeded" {
        Ok(())
    } else {
        Err(ProviderError::Unavailable(format!("{what} is {status}")))
    }
}

pub struct SandboxProvider {
    client: danbao_sandbox::client::SandboxClient,
    merchant_key: Vec<u8>,
}

impl SandboxProvider {
    pub fn new(base_url: &str, merchant_key: Vec<u8>) -> SandboxProvider {
        SandboxProvider {
            client: danbao_sandbox::client::SandboxClient::new(base_url, merchant_key.clone()),
            merchant_key,
        }
    }

    pub fn client(&self) -> &danbao_sandbox::client::SandboxClient {
        &self.client
    }
}

fn map_client_error(e: danbao_sandbox::client::ClientError) -> ProviderError {
    use danbao_sandbox::client::ClientError as C;
    match e {
        C::Unavailable(m) => ProviderError::Unavailable(m),
        C::Rejected { status, error, message } => ProviderError::Rejected(format!("{status} {error}: {message}")),
        C::BadSignature => ProviderError::BadSignature,
        C::Decode(m) => ProviderError::Malformed(m),
    }
}

impl PaymentProvider for SandboxProvider {
    fn name(&self) -> &'static str {
        "sandbox"
    }

    fn create_payment(&self, req: PaymentRequest) -> BoxFuture<'_, Result<CreatedPayment, ProviderError>> {
        Box::pin(async move {
            let view = self
                .client
                .create_payment(&danbao_sandbox::wire::CreatePayment {
                    out_trade_no: req.out_trade_no,
                    amount_minor: req.amount.minor(),
                    currency: req.currency,
                    subject: req.subject,
                    notify_url: req.notify_url,
                    return_url: req.return_url,
                    site_name: Some(MERCHANT_NAME.to_owned()),
                    order_ref: Some(req.order_ref),
                    expires_at: Some(crate::clock::rfc3339(req.expires_at_ms)),
                })
                .await
                .map_err(map_client_error)?;
            Ok(CreatedPayment {
                provider_payment_id: view.payment_id,
                cashier_url: view.cashier_url,
            })
        })
    }

    fn verify_notification(&self, n: &Incoming<'_>) -> Result<VerifiedPayment, ProviderError> {
        let body = n.body;
        if body.len() > NOTIFICATION_BODY_MAX_BYTES {
            return Err(ProviderError::Malformed("body too large".into()));
        }
        let signature = n.signature.ok_or(ProviderError::BadSignature)?;
        if !danbao_sandbox::wire::verify(&self.merchant_key, body, signature) {
            return Err(ProviderError::BadSignature);
        }
        let n: danbao_sandbox::wire::Notification =
            serde_json::from_slice(body).map_err(|e| ProviderError::Malformed(e.to_string()))?;
        if n.status != "succeeded" {
            return Err(ProviderError::Malformed(format!(
                "status {:?} is not a payment",
                n.status
            )));
        }
        verified_from(n, String::from_utf8_lossy(body).into_owned())
    }

    fn acknowledgement(&self) -> &'static str {
        "success"
    }

    fn settlement_balance(&self) -> BoxFuture<'_, Result<Option<Money>, ProviderError>> {
        Box::pin(async move {
            let view = self.client.balance().await.map_err(map_client_error)?;
            Ok(Some(Money::from_minor(view.balance_minor)))
        })
    }

    fn query_payments(&self, out_trade_no: String) -> BoxFuture<'_, Result<Vec<VerifiedPayment>, ProviderError>> {
        Box::pin(async move {
            let views = self
                .client
                .query_by_out_trade_no(&out_trade_no)
                .await
                .map_err(map_client_error)?;
            let mut out = Vec::new();
            for v in views.into_iter().filter(|v| v.status == "succeeded") {
                if let Some((body, signature)) = self
                    .client
                    .query_payment_raw(&v.payment_id)
                    .await
                    .map_err(map_client_error)?
                {
                    // The gateway's signed notification, verified as if it had come by webhook.
                    out.push(self.verify_notification(&Incoming {
                        body: &body,
                        signature: Some(&signature),
                        headers: &[],
                        now_ms: 0,
                    })?);
                }
            }
            Ok(out)
        })
    }

    fn statement(&self, from_ms: i64, to_ms: i64) -> BoxFuture<'_, Result<Vec<VerifiedPayment>, ProviderError>> {
        Box::pin(async move {
            let (from, to) = (crate::clock::rfc3339(from_ms), crate::clock::rfc3339(to_ms));
            let lines = self.client.statement(&from, &to).await.map_err(map_client_error)?;
            lines
                .into_iter()
                .map(|n| {
                    let raw = serde_json::to_string(&n).map_err(|e| ProviderError::Malformed(e.to_string()))?;
                    verified_from(n, raw)
                })
                .collect()
        })
    }

    fn payout(&self, request_id: String, amount: Money, account: String) -> BoxFuture<'_, Result<(), ProviderError>> {
        Box::pin(async move {
            let view = self
                .client
                .payout(&danbao_sandbox::wire::PayoutRequest {
                    request_id,
                    amount_minor: amount.minor(),
                    account,
                })
                .await
                .map_err(map_client_error)?;
            settled("payout", &view.status)
        })
    }

    fn refund(&self, cmd: RefundCommand) -> BoxFuture<'_, Result<(), ProviderError>> {
        Box::pin(async move {
            let view = self
                .client
                .refund(&danbao_sandbox::wire::RefundRequest {
                    payment_id: cmd.provider_payment_id,
                    amount_minor: cmd.amount.minor(),
                    request_id: cmd.request_id,
                })
                .await
                .map_err(map_client_error)?;
            settled("refund", &view.status)
        })
    }
}

/// Refused notifications are counted per hour.
const HOUR_MS: i64 = 3_600_000;

impl App {
    /// The one notification path (SPEC §4). The signature is checked over the raw bytes
    /// before anything else; the payment is recorded first and deduplicated on
    /// (provider, transaction id); then the domain decides. Returns the acknowledgement
    /// body only after the commit.
    pub async fn apply_notification(
        &self,
        rail: &str,
        source: &str,
        body: &[u8],
        signature: Option<&str>,
        headers: &[(String, String)],
    ) -> AppResult<&'static str> {
        let now = self.now();
        let Some(provider) = self.rails.get(rail) else {
            return Err(AppError::NotFound("payment provider"));
        };
        let incoming = Incoming {
            body,
            signature,
            headers,
            now_ms: now,
        };
        let verified = match provider.verify_notification(&incoming) {
            Ok(v) => v,
            Err(ProviderError::NotAPayment(what)) => {
                tracing::info!(rail, source, what = %what, "verified notification of no payment acknowledged; nothing changes");
                return Ok(provider.acknowledgement());
            }
            Err(e) => {
                let detail = serde_json::json!({"rail": rail, "source": source, "error": e.to_string(), "body_sha256": hex::encode(Sha256::digest(body)), "bytes": body.len()});
                // Counted per source, kind of failure and hour: a flood of forged
                // notifications adds to a count, not a row each (issue 8 item 9).
                let class = match e {
                    ProviderError::BadSignature => "bad_signature",
                    _ => "malformed",
                };
                let bucket = format!(
                    "notification_refused:{rail}:{source}:{class}:{}",
                    now.div_euclid(HOUR_MS)
                );
                let mut tx = self.store.begin().await?;
                tx.count_security_event("notification_refused", &bucket, &detail.to_string(), now)
                    .await?;
                tx.commit().await?;
                self.metrics.payment_notification(rail, source, class);
                tracing::warn!(source, error = %e, "payment notification refused");
                return Err(match e {
                    ProviderError::BadSignature => AppError::BadSignature,
                    other => AppError::BadNotification(other.to_string()),
                });
            }
        };
        self.apply_payment(provider.name(), source, verified).await?;
        Ok(provider.acknowledgement())
    }

    /// The rest of the one path, for a payment whose signature has been verified (a
    /// webhook, an active query, or a line of a signed statement). Returns the platform's
    /// payment id, or None when it was a repeat that changed nothing. Retried whole if
    /// the database aborts the transaction (nothing of the aborted attempt remains, not
    /// even the payment row, so the retry records it afresh).
    pub async fn apply_payment(
        &self,
        provider: &str,
        source: &str,
        verified: VerifiedPayment,
    ) -> AppResult<Option<PaymentId>> {
        self.retrying(|| self.apply_payment_once(provider, source, &verified))
            .await
    }

    async fn apply_payment_once(
        &self,
        provider: &str,
        source: &str,
        verified: &VerifiedPayment,
    ) -> AppResult<Option<PaymentId>> {
        let now = self.now();
        let payment_id = PaymentId::generate();
        let mut tx = self.store.begin().await?;
        let order_id = order_of_attempt(&mut tx, &verified.out_trade_no).await?;
        let payment = PaymentRow {
            id: payment_id.to_string(),
            provider: provider.to_string(),
            provider_txn_id: verified.provider_txn_id.clone(),
            provider_payment_id: verified.provider_payment_id.clone(),
            out_trade_no: verified.out_trade_no.clone(),
            order_id: order_id.as_ref().map(|o| o.to_string()),
            amount: verified.amount,
            currency: verified.currency.clone(),
            outcome: "received".into(),
            source: source.to_string(),
            raw: verified.raw.clone(),
            received_at: now,
        };
        if !tx.insert_payment(&payment).await? {
            // A repeat: already applied. Acknowledge and change nothing.
            tx.commit().await?;
            self.metrics.payment_notification(provider, source, "duplicate");
            return Ok(None);
        }
        if let Some(payer) = &verified.payer_id {
            tx.set_payment_payer(&payment.id, payer).await?;
        }
        // Not an order's payment attempt: perhaps a seller paying in a deposit.
        if order_id.is_none() {
            if let Some(deposit) = tx.deposit_payment(&verified.out_trade_no, true).await? {
                let outcome = self.apply_deposit_payment(&mut tx, &deposit, &payment, now).await?;
                tx.update_payment_outcome(payment_id.as_str(), outcome).await?;
                tx.commit().await?;
                self.metrics.payment_notification(provider, source, outcome);
                return Ok(Some(payment_id));
            }
        }
        let mut order = match &order_id {
            Some(id) => tx.order(id, true).await?,
            None => None,
        };
        let paid_by_its_seller = match (&order, &verified.payer_id) {
            (Some(o), Some(payer)) => self.seller_identity(&mut tx, &o.seller_id).await?.owns_payer(payer),
            _ => false,
        };
        let decision = decide(
            order.as_ref().map(|o| PayableOrder {
                status: o.status,
                amount_minor: o.amount.minor(),
                currency: &o.currency,
                paid_by_its_seller,
            }),
            verified.amount.minor(),
            &verified.currency,
        );
        let outcome = match (decision, order.as_mut()) {
            (PaymentDecision::Capture, Some(order)) => {
                let rules = self.rules_version(&mut tx, order.rule_version).await?;
                self.capture(&mut tx, order, &payment, OrderEvent::PaymentCaptured, &rules, now)
                    .await?;
                "captured"
            }
            (PaymentDecision::CaptureIfStockAllows, Some(order)) => {
                let rules = self.rules_version(&mut tx, order.rule_version).await?;
                let kind = delivery_kind(order)?;
                let stock_ok =
                    kind == DeliveryKind::Manual || tx.reserve_stock(&order.product_id, order.quantity).await?;
                if stock_ok {
                    self.capture(&mut tx, order, &payment, OrderEvent::LatePaymentCaptured, &rules, now)
                        .await?;
                    "captured_late"
                } else {
                    self.refuse_payment(&mut tx, &payment, Some(&order.id), UnacceptedReason::OutOfStock, now)
                        .await?;
                    "refund_unaccepted"
                }
            }
            (PaymentDecision::Refund(reason), order) => {
                let order_ref = order.map(|o| o.id.clone());
                self.refuse_payment(&mut tx, &payment, order_ref.as_ref(), reason, now)
                    .await?;
                "refund_unaccepted"
            }
            (PaymentDecision::Mismatch, order) => {
                if let Some(o) = order {
                    record_event(
                        &mut tx,
                        &o.id,
                        "payment_mismatch",
                        serde_json::json!({"paid_minor": verified.amount.minor(), "currency": verified.currency}),
                        now,
                    )
                    .await?;
                }
                tracing::warn!(payment = %payment_id, "payment amount or currency does not match the order");
                tx.insert_reconciliation_item(&danbao_store::ReconciliationItemRow {
                    id: uuid::Uuid::now_v7().to_string(),
                    run_id: None,
                    kind: "amount_mismatch".into(),
                    provider: provider.to_string(),
                    provider_txn_id: verified.provider_txn_id.clone(),
                    payment_id: Some(payment_id.to_string()),
                    detail: serde_json::json!({
                        "source": source,
                        "out_trade_no": verified.out_trade_no,
                        "paid_minor": verified.amount.minor(),
                        "currency": verified.currency,
                    })
                    .to_string(),
                    status: "open".into(),
                    resolution: None,
                    resolved_by: None,
                    resolved_at: None,
                    created_at: now,
                })
                .await?;
                "amount_mismatch"
            }
            (PaymentDecision::Capture | PaymentDecision::CaptureIfStockAllows, None) => {
                return Err(AppError::Internal("capture decided without an order".into()))
            }
        };
        tx.update_payment_outcome(payment_id.as_str(), outcome).await?;
        tx.commit().await?;
        self.metrics.payment_notification(provider, source, outcome);
        Ok(Some(payment_id))
    }

    /// Captures a payment into escrow and carries out the transition's effects, in the
    /// caller's transaction: for card keys, allocation and delivery happen right here.
    async fn capture(
        &self,
        tx: &mut Tx,
        order: &mut OrderRow,
        payment: &PaymentRow,
        event: OrderEvent,
        rules: &RuleSet,
        now: i64,
    ) -> AppResult<()> {
        let payment_id = PaymentId::from_trusted(payment.id.clone());
        let entry = posting::capture(
            &order.id,
            &payment_id,
            &order.seller_id,
            &payment.provider,
            order.amount,
        )?;
        tx.post_entry(&entry, now).await?;
        order.paid_at = Some(now);
        record_event(
            tx,
            &order.id,
            "paid",
            // The hash of the provider's signed record commits to exactly what was paid.
            serde_json::json!({"payment_id": payment.id, "amount_minor": order.amount.minor(),
                "provider_txn_id": payment.provider_txn_id, "payment_record_sha256": sha256_hex(&payment.raw)}),
            now,
        )
        .await?;
        self.apply_event(tx, order, event, rules, now).await
    }

    /// A deposit paid in: the exact amount of a pending deposit payment goes into the
    /// seller's deposit; anything else (a second payment, another amount or currency) is
    /// owed back and refunded, like any payment the platform cannot keep.
    async fn apply_deposit_payment(
        &self,
        tx: &mut Tx,
        deposit: &danbao_store::DepositPaymentRow,
        payment: &PaymentRow,
        now: i64,
    ) -> AppResult<&'static str> {
        let exact = payment.amount == deposit.amount && payment.currency == deposit.currency;
        if deposit.status != "pending" || !exact {
            let reason = if deposit.status == "pending" {
                UnacceptedReason::UnknownOrder
            } else {
                UnacceptedReason::AlreadyPaid
            };
            self.refuse_payment(tx, payment, None, reason, now).await?;
            return Ok("refund_unaccepted");
        }
        // The seller's standing lock first, as every movement of a seller's money.
        self.lock_standing(tx, &deposit.seller_id).await?;
        let entry = posting::deposit_paid(
            &PaymentId::from_trusted(payment.id.clone()),
            &deposit.seller_id,
            &payment.provider,
            deposit.amount,
        )?;
        tx.post_entry(&entry, now).await?;
        tx.set_deposit_payment_paid(&deposit.id, &payment.id, now).await?;
        Ok("captured_deposit")
    }

    /// A payment the platform cannot keep: book it as owed back and queue the refund.
    async fn refuse_payment(
        &self,
        tx: &mut Tx,
        payment: &PaymentRow,
        order: Option<&OrderId>,
        reason: UnacceptedReason,
        now: i64,
    ) -> AppResult<()> {
        let refund_id = RefundId::generate();
        let amount = Money::non_negative(payment.amount.minor())
            .map_err(|_| AppError::BadNotification("negative amount".into()))?;
        if !amount.is_positive() {
            // Nothing was paid, so there is nothing to give back.
            return Ok(());
        }
        let entry = posting::unaccepted_payment(
            order,
            &PaymentId::from_trusted(payment.id.clone()),
            &refund_id,
            &payment.provider,
            amount,
        )?;
        tx.post_entry(&entry, now).await?;
        tx.insert_refund(&RefundRow {
            id: refund_id.to_string(),
            order_id: order.map(|o| o.to_string()),
            payment_id: payment.id.clone(),
            provider: payment.provider.clone(),
            provider_payment_id: payment.provider_payment_id.clone(),
            amount,
            reason: reason.as_str().to_string(),
            status: "requested".into(),
            created_at: now,
            confirmed_at: None,
        })
        .await?;
        Job::Refund(refund_id.clone()).enqueue(tx, now, now).await?;
        if let Some(o) = order {
            record_event(tx, o, "payment_refused", serde_json::json!({"reason": reason.as_str(), "refund_id": refund_id.as_str(), "amount_minor": amount.minor()}), now).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// A rail that is only a name and its methods (nothing is ever sent through it).
    struct Named(&'static str, Vec<&'static str>);

    fn down<T: Send + 'static>() -> BoxFuture<'static, Result<T, ProviderError>> {
        Box::pin(async { Err(ProviderError::Unavailable("test rail".into())) })
    }

    impl PaymentProvider for Named {
        fn name(&self) -> &'static str {
            self.0
        }
        fn methods(&self) -> Vec<&'static str> {
            self.1.clone()
        }
        fn create_payment(&self, _req: PaymentRequest) -> BoxFuture<'_, Result<CreatedPayment, ProviderError>> {
            down()
        }
        fn verify_notification(&self, _n: &Incoming<'_>) -> Result<VerifiedPayment, ProviderError> {
            Err(ProviderError::BadSignature)
        }
        fn acknowledgement(&self) -> &'static str {
            "success"
        }
        fn refund(&self, _cmd: RefundCommand) -> BoxFuture<'_, Result<(), ProviderError>> {
            down()
        }
        fn query_payments(&self, _out_trade_no: String) -> BoxFuture<'_, Result<Vec<VerifiedPayment>, ProviderError>> {
            down()
        }
        fn statement(&self, _from_ms: i64, _to_ms: i64) -> BoxFuture<'_, Result<Vec<VerifiedPayment>, ProviderError>> {
            down()
        }
        fn payout(
            &self,
            _request_id: String,
            _amount: Money,
            _account: String,
        ) -> BoxFuture<'_, Result<(), ProviderError>> {
            down()
        }
    }

    fn rail(name: &'static str, methods: &[&'static str]) -> Arc<dyn PaymentProvider> {
        Arc::new(Named(name, methods.to_vec()))
    }

    #[test]
    fn the_first_rail_is_the_default_and_each_method_finds_its_rail() {
        let rails = Rails::new(vec![
            rail("epay", &["epay_alipay", "epay_wxpay"]),
            rail("wechat", &["wechat"]),
        ])
        .unwrap_or_else(|e| panic!("{e}"));
        let name = |m: Option<&str>| rails.for_method(m).map(|r| r.name());
        assert_eq!(name(None), Some("epay"));
        assert_eq!(name(Some("epay_wxpay")), Some("epay"));
        assert_eq!(name(Some("wechat")), Some("wechat"));
        assert_eq!(name(Some("paypal")), None);
        assert_eq!(rails.methods(), ["epay_alipay", "epay_wxpay", "wechat"]);
        assert_eq!(rails.get("wechat").map(|r| r.name()), Some("wechat"));
        assert!(rails.get("sandbox").is_none());
        assert_eq!(rails.payout_rail().map(|r| r.name()), Some("epay"));
    }

    #[test]
    fn a_rail_or_a_method_configured_twice_is_refused() {
        assert!(matches!(
            Rails::new(vec![rail("epay", &["a"]), rail("epay", &["b"])]),
            Err(RailsError::DuplicateRail("epay"))
        ));
        assert!(matches!(
            Rails::new(vec![rail("epay", &["alipay"]), rail("alipay", &["alipay"])]),
            Err(RailsError::DuplicateMethod("alipay"))
        ));
    }

    #[test]
    fn without_rails_nothing_is_offered() {
        let none = Rails::none();
        assert!(none.for_method(None).is_none() && none.methods().is_empty() && none.payout_rail().is_none());
    }
}
