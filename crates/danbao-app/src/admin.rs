//! The operator's side: statement reconciliation (SPEC §4), exceptions and their
//! resolution, the dead-letter queue, and an overview of where every order's money is.

use crate::auth::{Caller, Role, User};
use crate::clock::rfc3339;
use crate::evidence::record_event;
use crate::jobs::Job;
use crate::{App, AppError, AppResult};
use danbao_domain::ledger::rules as posting;
use danbao_domain::{OrderId, PaymentId, RefundId, Refusal};
use danbao_store::{CountOf, ReconciliationItemRow, ReconciliationRunRow, RefundRow};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// A statement period longer than this is refused: it bounds one run's work.
const PERIOD_MAX_MS: i64 = 31 * 24 * 3_600_000;

fn require_admin(caller: &Caller) -> AppResult<&User> {
    match caller {
        Caller::User(u) if u.role == Role::Admin => Ok(u),
        Caller::User(_) => Err(AppError::Forbidden("admins only")),
        _ => Err(AppError::Unauthenticated),
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ReconciliationOverview {
    /// The latest runs, newest first.
    pub runs: Vec<ReconciliationReport>,
    pub open_exceptions: Vec<ReconciliationItemView>,
}

/// Where things stand, for an operator.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Stats {
    pub orders_by_status: BTreeMap<String, i64>,
    pub payments_by_outcome: BTreeMap<String, i64>,
    pub refunds_by_status: BTreeMap<String, i64>,
    pub jobs_by_status: BTreeMap<String, i64>,
    pub open_exceptions_by_kind: BTreeMap<String, i64>,
    /// Must be 0.
    pub keys_allocated_twice: i64,
}

/// A refused notification or another security event.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SecurityEventView {
    pub id: String,
    pub kind: String,
    /// When it first happened.
    pub at: String,
    /// The event's recorded facts (its first occurrence's), as JSON.
    pub detail: serde_json::Value,
    /// How often it happened: repeated events (refused notifications) are counted per
    /// source and hour on one row.
    pub occurrences: i64,
    /// When it last happened.
    pub last_at: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ReconciliationItemView {
    pub id: String,
    pub run_id: Option<String>,
    pub kind: String,
    pub provider: String,
    pub provider_txn_id: String,
    pub payment_id: Option<String>,
    pub detail: serde_json::Value,
    pub status: String,
    pub resolution: Option<String>,
    pub resolved_by: Option<String>,
    pub resolved_at: Option<String>,
    pub created_at: String,
}

impl From<ReconciliationItemRow> for ReconciliationItemView {
    fn from(r: ReconciliationItemRow) -> Self {
        ReconciliationItemView {
            id: r.id,
            run_id: r.run_id,
            kind: r.kind,
            provider: r.provider,
            provider_txn_id: r.provider_txn_id,
            payment_id: r.payment_id,
            detail: serde_json::from_str(&r.detail).unwrap_or(serde_json::Value::Null),
            status: r.status,
            resolution: r.resolution,
            resolved_by: r.resolved_by,
            resolved_at: r.resolved_at.map(rfc3339),
            created_at: rfc3339(r.created_at),
        }
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ReconciliationReport {
    pub id: String,
    pub provider: String,
    pub from: String,
    pub to: String,
    pub matched: i64,
    pub applied_late: i64,
    pub missing_at_provider: i64,
    pub amount_mismatch: i64,
    pub created_at: String,
    /// This run's differences (applied_late ones are explained and resolved at once).
    pub items: Vec<ReconciliationItemView>,
}

fn report(run: ReconciliationRunRow, items: Vec<ReconciliationItemRow>) -> ReconciliationReport {
    ReconciliationReport {
        id: run.id,
        provider: run.provider,
        from: rfc3339(run.period_from),
        to: rfc3339(run.period_to),
        matched: run.matched,
        applied_late: run.applied_late,
        missing_at_provider: run.missing_at_provider,
        amount_mismatch: run.amount_mismatch,
        created_at: rfc3339(run.created_at),
        items: items.into_iter().map(Into::into).collect(),
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AdminPaymentView {
    pub id: String,
    pub provider_payment_id: String,
    pub provider_txn_id: String,
    pub out_trade_no: String,
    pub amount_minor: i64,
    pub currency: String,
    pub outcome: String,
    pub source: String,
    pub received_at: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AdminOrderView {
    pub order: crate::OrderView,
    pub payments: Vec<AdminPaymentView>,
    pub refunds: Vec<crate::RefundView>,
}

fn item(
    kind: &str,
    provider: &str,
    txn: &str,
    payment: Option<String>,
    detail: serde_json::Value,
    now: i64,
    run: &str,
) -> ReconciliationItemRow {
    let explained = kind == "applied_late";
    ReconciliationItemRow {
        id: uuid::Uuid::now_v7().to_string(),
        run_id: Some(run.to_string()),
        kind: kind.to_string(),
        provider: provider.to_string(),
        provider_txn_id: txn.to_string(),
        payment_id: payment,
        detail: detail.to_string(),
        status: if explained { "resolved" } else { "open" }.to_string(),
        resolution: explained.then(|| "applied through the notification path".to_string()),
        resolved_by: explained.then(|| "system".to_string()),
        resolved_at: explained.then_some(now),
        created_at: now,
    }
}

impl App {
    /// Matches the provider's statement for [from, to) against the platform's payments.
    /// A payment the platform never heard of is applied now, through the one path; a
    /// platform payment the provider does not list, or one whose amount differs, is an
    /// exception for an admin. The run and its differences are stored.
    pub async fn reconcile(&self, from_ms: i64, to_ms: i64) -> AppResult<ReconciliationReport> {
        if to_ms <= from_ms || to_ms - from_ms > PERIOD_MAX_MS {
            return Err(AppError::invalid(
                "period",
                "`to` must follow `from`, by at most 31 days",
            ));
        }
        let provider = self.provider.name();
        let lines = self
            .provider
            .statement(from_ms, to_ms)
            .await
            .map_err(|e| AppError::ProviderUnavailable(e.to_string()))?;
        let run_id = uuid::Uuid::now_v7().to_string();
        let (mut matched, mut applied_late, mut missing, mut mismatch) = (0, 0, 0, 0);
        let mut items = Vec::new();
        let mut seen = BTreeSet::new();
        for line in lines {
            seen.insert(line.provider_txn_id.clone());
            let mut tx = self.store.begin().await?;
            let known = tx.payment_by_txn(provider, &line.provider_txn_id).await?;
            tx.commit().await?;
            match known {
                Some(p) if p.amount == line.amount && p.currency == line.currency => matched += 1,
                Some(p) => {
                    mismatch += 1;
                    items.push(item(
                        "amount_mismatch",
                        provider,
                        &line.provider_txn_id,
                        Some(p.id),
                        serde_json::json!({"platform_minor": p.amount.minor(), "statement_minor": line.amount.minor(), "out_trade_no": line.out_trade_no}),
                        self.now(),
                        &run_id,
                    ));
                }
                None => {
                    let txn = line.provider_txn_id.clone();
                    let amount = line.amount.minor();
                    let payment = self.apply_payment("statement", line).await?;
                    applied_late += 1;
                    items.push(item(
                        "applied_late",
                        provider,
                        &txn,
                        payment.map(|p| p.to_string()),
                        serde_json::json!({"amount_minor": amount}),
                        self.now(),
                        &run_id,
                    ));
                }
            }
        }
        let mut tx = self.store.begin().await?;
        for p in tx.payments_received_between(provider, from_ms, to_ms).await? {
            if !seen.contains(&p.provider_txn_id) && p.source != "statement" {
                missing += 1;
                items.push(item(
                    "missing_at_provider",
                    provider,
                    &p.provider_txn_id,
                    Some(p.id.clone()),
                    serde_json::json!({"amount_minor": p.amount.minor(), "out_trade_no": p.out_trade_no, "outcome": p.outcome}),
                    self.now(),
                    &run_id,
                ));
            }
        }
        let run = ReconciliationRunRow {
            id: run_id.clone(),
            provider: provider.to_string(),
            period_from: from_ms,
            period_to: to_ms,
            matched,
            applied_late,
            missing_at_provider: missing,
            amount_mismatch: mismatch,
            created_at: self.now(),
        };
        tx.insert_reconciliation_run(&run).await?;
        let mut stored = Vec::new();
        for i in items {
            // A difference already on record (from an earlier run, or from the
            // notification path) is not recorded twice.
            if tx.insert_reconciliation_item(&i).await? {
                stored.push(i);
            }
        }
        tx.commit().await?;
        Ok(report(run, stored))
    }

    pub async fn reconcile_as(&self, caller: &Caller, from_ms: i64, to_ms: i64) -> AppResult<ReconciliationReport> {
        require_admin(caller)?;
        self.reconcile(from_ms, to_ms).await
    }

    /// The latest runs and every open exception.
    pub async fn reconciliation_overview(&self, caller: &Caller) -> AppResult<ReconciliationOverview> {
        require_admin(caller)?;
        let mut tx = self.store.begin().await?;
        let runs = tx.reconciliation_runs(20).await?;
        let open = tx.reconciliation_items(Some("open"), None, 500).await?;
        tx.commit().await?;
        let runs: Vec<ReconciliationReport> = runs.into_iter().map(|r| report(r, Vec::new())).collect();
        let open: Vec<ReconciliationItemView> = open.into_iter().map(Into::into).collect();
        Ok(ReconciliationOverview {
            runs,
            open_exceptions: open,
        })
    }

    /// Resolves an exception. `refund` (for an amount mismatch) sends the money the
    /// platform did not accept back to the payer; `acknowledge` records a note only.
    /// Retried whole if the database aborts it.
    pub async fn resolve_exception(
        &self,
        caller: &Caller,
        id: &str,
        action: &str,
        note: &str,
    ) -> AppResult<ReconciliationItemView> {
        self.retrying(|| self.resolve_exception_once(caller, id, action, note))
            .await
    }

    async fn resolve_exception_once(
        &self,
        caller: &Caller,
        id: &str,
        action: &str,
        note: &str,
    ) -> AppResult<ReconciliationItemView> {
        let admin = require_admin(caller)?.clone();
        if note.trim().is_empty() || note.chars().count() > 1000 {
            return Err(AppError::invalid("note", "say why, in 1 to 1000 characters"));
        }
        let now = self.now();
        let mut tx = self.store.begin().await?;
        let item = tx
            .reconciliation_item(id, true)
            .await?
            .ok_or(AppError::NotFound("reconciliation exception"))?;
        if item.status != "open" {
            return Err(Refusal::ExceptionResolved.into());
        }
        let resolution = match action {
            "acknowledge" => format!("acknowledged: {note}"),
            "refund" if item.kind == "amount_mismatch" => {
                let payment_id = item
                    .payment_id
                    .clone()
                    .ok_or(AppError::Refused(Refusal::NoPaymentToRefund))?;
                let payment = tx
                    .payment(&payment_id)
                    .await?
                    .ok_or(AppError::Refused(Refusal::NoPaymentToRefund))?;
                if payment.outcome != "amount_mismatch" {
                    return Err(Refusal::PaymentNotMismatched {
                        outcome: payment.outcome.clone(),
                    }
                    .into());
                }
                let refund_id = RefundId::generate();
                let order = crate::payments::order_of_attempt(&mut tx, &payment.out_trade_no).await?;
                let entry = posting::unaccepted_payment(
                    order.as_ref(),
                    &PaymentId::from_trusted(payment.id.clone()),
                    &refund_id,
                    &payment.provider,
                    payment.amount,
                )?;
                tx.post_entry(&entry, now).await?;
                tx.insert_refund(&RefundRow {
                    id: refund_id.to_string(),
                    order_id: order.as_ref().map(OrderId::to_string),
                    payment_id: payment.id.clone(),
                    provider: payment.provider.clone(),
                    provider_payment_id: payment.provider_payment_id.clone(),
                    amount: payment.amount,
                    reason: "amount_mismatch".into(),
                    status: "requested".into(),
                    created_at: now,
                    confirmed_at: None,
                })
                .await?;
                tx.update_payment_outcome(&payment.id, "refund_unaccepted").await?;
                Job::Refund(refund_id.clone()).enqueue(&mut tx, now, now).await?;
                if let Some(o) = &order {
                    record_event(&mut tx, o, "payment_refused", serde_json::json!({"reason": "amount_mismatch", "refund_id": refund_id.as_str(), "amount_minor": payment.amount.minor()}), now).await?;
                }
                format!("refunded ({refund_id}): {note}")
            }
            "refund" => {
                return Err(AppError::invalid(
                    "action",
                    "only an amount mismatch can be refunded from here",
                ))
            }
            _ => return Err(AppError::invalid("action", "must be refund or acknowledge")),
        };
        let by = format!("user:{}", admin.id);
        tx.resolve_reconciliation_item(id, &resolution, &by, now).await?;
        tx.commit().await?;
        let mut resolved = item;
        resolved.status = "resolved".into();
        resolved.resolution = Some(resolution);
        resolved.resolved_by = Some(by);
        resolved.resolved_at = Some(now);
        Ok(resolved.into())
    }

    /// Any order, with every payment and refund behind it.
    pub async fn admin_order(&self, caller: &Caller, id: &str) -> AppResult<AdminOrderView> {
        require_admin(caller)?;
        let id = OrderId::parse(id).ok_or(AppError::NotFound("order"))?;
        let mut tx = self.store.begin().await?;
        let order = tx.order(&id, false).await?.ok_or(AppError::NotFound("order"))?;
        let attempt = tx.payment_attempt_for_order(&id).await?;
        let payments = tx.payments_for_order(&id).await?;
        let refunds = tx.refunds_for_order(&id).await?;
        tx.commit().await?;
        let view = crate::orders::admin_order_view(order, attempt, refunds);
        Ok(AdminOrderView {
            refunds: view.refunds.clone(),
            order: view,
            payments: payments
                .into_iter()
                .map(|p| AdminPaymentView {
                    id: p.id,
                    provider_payment_id: p.provider_payment_id,
                    provider_txn_id: p.provider_txn_id,
                    out_trade_no: p.out_trade_no,
                    amount_minor: p.amount.minor(),
                    currency: p.currency,
                    outcome: p.outcome,
                    source: p.source,
                    received_at: rfc3339(p.received_at),
                })
                .collect(),
        })
    }

    /// Where things stand: orders by status, payments by outcome, refunds, jobs, open
    /// exceptions, keys allocated twice (must be 0).
    pub async fn stats(&self, caller: &Caller) -> AppResult<Stats> {
        require_admin(caller)?;
        let mut tx = self.store.begin().await?;
        let to_map = |v: Vec<danbao_store::CountRow>| {
            v.into_iter()
                .map(|c| (c.key, c.count))
                .collect::<BTreeMap<String, i64>>()
        };
        let orders = to_map(tx.order_status_counts().await?);
        let payments = to_map(tx.count_by(CountOf::PaymentOutcomes).await?);
        let refunds = to_map(tx.count_by(CountOf::RefundStatuses).await?);
        let jobs = to_map(tx.count_by(CountOf::JobStatuses).await?);
        let exceptions = to_map(tx.count_by(CountOf::OpenExceptions).await?);
        let twice = tx.keys_allocated_twice().await?;
        tx.commit().await?;
        Ok(Stats {
            orders_by_status: orders,
            payments_by_outcome: payments,
            refunds_by_status: refunds,
            jobs_by_status: jobs,
            open_exceptions_by_kind: exceptions,
            keys_allocated_twice: twice,
        })
    }

    /// Refused notifications and other security events, newest first.
    pub async fn security_events(&self, caller: &Caller) -> AppResult<Vec<SecurityEventView>> {
        require_admin(caller)?;
        let mut tx = self.store.begin().await?;
        let rows = tx.security_events(200).await?;
        tx.commit().await?;
        Ok(rows
            .into_iter()
            .map(|e| SecurityEventView {
                id: e.id,
                kind: e.kind,
                at: rfc3339(e.at),
                detail: serde_json::from_str(&e.detail).unwrap_or(serde_json::Value::Null),
                occurrences: e.occurrences,
                last_at: rfc3339(e.last_at),
            })
            .collect())
    }

    pub async fn admin_jobs(&self, caller: &Caller, status: &str) -> AppResult<Vec<danbao_store::JobRow>> {
        require_admin(caller)?;
        if !["queued", "running", "done", "dead"].contains(&status) {
            return Err(AppError::invalid("status", "queued, running, done or dead"));
        }
        let mut tx = self.store.begin().await?;
        let rows = tx.jobs_by_status(status, 200).await?;
        tx.commit().await?;
        Ok(rows)
    }

    /// Puts a dead-lettered job back in the queue, after an admin fixed its cause.
    pub async fn retry_dead_job(&self, caller: &Caller, id: &str) -> AppResult<()> {
        require_admin(caller)?;
        let mut tx = self.store.begin().await?;
        let requeued = tx.requeue_job(id, self.now()).await?;
        tx.commit().await?;
        if requeued {
            Ok(())
        } else {
            Err(AppError::NotFound("dead job"))
        }
    }
}
