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
    /// The latest statement of liabilities against the reserves recorded with it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub liabilities_cover: Option<crate::liabilities::LiabilitiesCover>,
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
    /// The latest published liabilities against what this provider says it holds for us
    /// now (the reserves), when both are known; a run read back from storage has none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub liabilities_cover: Option<crate::liabilities::LiabilitiesCover>,
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
        liabilities_cover: None,
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
    pub async fn reconcile_rail(&self, rail: &str, from_ms: i64, to_ms: i64) -> AppResult<ReconciliationReport> {
        if to_ms <= from_ms || to_ms - from_ms > PERIOD_MAX_MS {
            return Err(AppError::invalid(
                "period",
                "`to` must follow `from`, by at most 31 days",
            ));
        }
        let rail = self.rail(rail)?;
        let provider = rail.name();
        let lines = rail.statement(from_ms, to_ms).await.map_err(|e| match e {
            // A rail that has no statement (易支付 V2) or refuses this one: said as it is,
            // not as an outage to retry, and no run is recorded as if the period matched.
            crate::payments::ProviderError::Rejected(why) => {
                AppError::invalid("provider", format!("{provider} gives no statement: {why}"))
            }
            other => AppError::ProviderUnavailable(other.to_string()),
        })?;
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
                    let payment = self.apply_payment(provider, "statement", line).await?;
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
        let mut report = report(run, stored);
        report.liabilities_cover = self.liabilities_cover(rail.as_ref()).await?;
        Ok(report)
    }

    /// Every configured rail's statement for [from, to), one run each. A rail that
    /// cannot answer stops the round (the daily job waits it out and runs again).
    pub async fn reconcile(&self, from_ms: i64, to_ms: i64) -> AppResult<Vec<ReconciliationReport>> {
        let mut reports = Vec::new();
        for rail in self.rails.iter() {
            if !rail.has_statement() {
                // Nothing to match: only the active query (补单) finds what this rail's
                // notifications lost. No run is recorded as if the period had matched.
                tracing::info!(
                    rail = rail.name(),
                    "no statement at this provider; left out of reconciliation"
                );
                continue;
            }
            reports.push(self.reconcile_rail(rail.name(), from_ms, to_ms).await?);
        }
        Ok(reports)
    }

    pub async fn reconcile_as(
        &self,
        caller: &Caller,
        from_ms: i64,
        to_ms: i64,
    ) -> AppResult<Vec<ReconciliationReport>> {
        require_admin(caller)?;
        self.reconcile(from_ms, to_ms).await
    }

    /// One rail's statement (none named: the default rail's).
    pub async fn reconcile_rail_as(
        &self,
        caller: &Caller,
        rail: Option<&str>,
        from_ms: i64,
        to_ms: i64,
    ) -> AppResult<ReconciliationReport> {
        require_admin(caller)?;
        let rail = match rail {
            Some(r) => r,
            None => self.rails.for_method(None).map_or("none", |r| r.name()),
        };
        self.reconcile_rail(rail, from_ms, to_ms).await
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
        let liabilities_cover = self
            .liability_statements(1)
            .await?
            .first()
            .and_then(crate::liabilities::LiabilitiesCover::recorded);
        Ok(ReconciliationOverview {
            runs,
            open_exceptions: open,
            liabilities_cover,
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

// The operations console (`/admin`, issue 10): what its pages read and do beyond the
// use cases above.

/// How many sellers a search shows at most.
const SELLER_SEARCH_MAX: i64 = 50;
/// How many security events the health page shows.
const HEALTH_SECURITY_EVENTS: usize = 20;
/// A pasted rule set longer than this is refused unread.
const RULES_TEXT_MAX: usize = 64 * 1024;

/// A ledger check run from the console: when, by whom, what it found.
#[derive(Debug, Clone, Serialize)]
pub struct LedgerCheckRecord {
    pub checked_at: String,
    pub checked_by: String,
    pub violations: Vec<String>,
}

/// The evidence log's latest checkpoint.
#[derive(Debug, Clone, Serialize)]
pub struct CheckpointSummary {
    pub size: i64,
    pub made_at: String,
}

/// The health page: is the money right, is the evidence log moving, is any work stuck.
#[derive(Debug, Clone)]
pub struct HealthView {
    pub last_ledger_check: Option<LedgerCheckRecord>,
    /// Leaves sequenced into the log.
    pub evidence_log_size: i64,
    pub last_checkpoint: Option<CheckpointSummary>,
    pub jobs_by_status: BTreeMap<String, i64>,
    /// Dead-lettered jobs, with their last error.
    pub dead_jobs: Vec<danbao_store::JobRow>,
    pub security_events: Vec<SecurityEventView>,
}

/// One seller as an operator sees them.
#[derive(Debug, Clone, Serialize)]
pub struct SellerOverview {
    pub id: String,
    pub username: String,
    pub standing: danbao_domain::Standing,
    pub standing_reason: Option<String>,
    pub deposit_minor: i64,
    pub available_minor: i64,
    pub frozen_minor: i64,
    pub escrow_minor: i64,
    pub owed_minor: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct SellerSearch {
    pub sellers: Vec<SellerOverview>,
    pub compensation_fund_minor: i64,
}

/// One open order a ban would refund in full.
#[derive(Debug, Clone, Serialize)]
pub struct OpenOrderLine {
    pub id: String,
    pub status: String,
    pub amount_minor: i64,
}

/// What a ban would do, shown before it is done (it changes nothing).
#[derive(Debug, Clone, Serialize)]
pub struct BanPreview {
    pub seller: SellerOverview,
    pub open_orders: Vec<OpenOrderLine>,
    pub refund_total_minor: i64,
    pub compensation_fund_minor: i64,
}

/// An account as the accounts page lists it.
#[derive(Debug, Clone, Serialize)]
pub struct AccountView {
    pub id: String,
    pub username: String,
    pub role: Role,
    pub disabled_at: Option<String>,
}

/// A published rule set.
#[derive(Debug, Clone, Serialize)]
pub struct RuleVersionView {
    pub version: i64,
    pub content_hash: String,
    pub published_at: String,
    pub body: String,
    /// The version this process gives new orders.
    pub current: bool,
}

async fn seller_overview_in(tx: &mut danbao_store::Tx, user: danbao_store::UserRow) -> AppResult<SellerOverview> {
    use danbao_domain::Account;
    let id = user.id.clone();
    let standing_row = tx.seller_standing(&id, false).await?;
    let standing = match &standing_row {
        None => danbao_domain::Standing::Active,
        Some(r) => danbao_domain::Standing::parse(&r.status)
            .ok_or_else(|| AppError::Internal(format!("seller {} has standing {:?}", r.seller_id, r.status)))?,
    };
    Ok(SellerOverview {
        deposit_minor: balance_in(tx, Account::Deposit(id.clone())).await?,
        available_minor: balance_in(tx, Account::Available(id.clone())).await?,
        frozen_minor: balance_in(tx, Account::Frozen(id.clone())).await?,
        escrow_minor: balance_in(tx, Account::Escrow(id.clone())).await?,
        owed_minor: balance_in(tx, Account::Receivable(id.clone())).await?,
        id: id.to_string(),
        username: user.username,
        standing,
        standing_reason: standing_row.map(|r| r.reason).filter(|r| !r.is_empty()),
    })
}

async fn balance_in(tx: &mut danbao_store::Tx, account: danbao_domain::Account) -> AppResult<i64> {
    Ok(account.normal_balance(tx.account_balance(&account).await?))
}

async fn compensation_fund_in(tx: &mut danbao_store::Tx) -> AppResult<i64> {
    balance_in(tx, danbao_domain::Account::CompensationFund).await
}

impl App {
    /// Runs the ledger check now and records what it found, for the health page.
    pub async fn run_ledger_check(&self, caller: &Caller) -> AppResult<LedgerCheckRecord> {
        let admin = require_admin(caller)?.clone();
        let violations: Vec<String> = self.ledger_check().await?.iter().map(|v| v.to_string()).collect();
        let now = self.now();
        let row = danbao_store::LedgerCheckRow {
            id: uuid::Uuid::now_v7().to_string(),
            checked_at: now,
            checked_by: admin.username.clone(),
            violations: i64::try_from(violations.len()).unwrap_or(i64::MAX),
            detail: serde_json::to_string(&violations).map_err(|e| AppError::Internal(e.to_string()))?,
        };
        let mut tx = self.store.begin().await?;
        tx.insert_ledger_check(&row).await?;
        tx.commit().await?;
        Ok(LedgerCheckRecord {
            checked_at: rfc3339(now),
            checked_by: admin.username,
            violations,
        })
    }

    /// The health page's facts, read without changing anything (the evidence log is
    /// not sequenced here: the size is what is in the log now).
    pub async fn admin_health(&self, caller: &Caller) -> AppResult<HealthView> {
        require_admin(caller)?;
        let mut tx = self.store.begin().await?;
        let last = tx.latest_ledger_check().await?;
        let evidence = tx.evidence_state().await?;
        let checkpoint = tx.latest_checkpoint_made().await?;
        let jobs = tx.count_by(CountOf::JobStatuses).await?;
        let dead = tx.jobs_by_status("dead", 200).await?;
        tx.commit().await?;
        let mut events = self.security_events(caller).await?;
        events.truncate(HEALTH_SECURITY_EVENTS);
        Ok(HealthView {
            last_ledger_check: last.map(|c| LedgerCheckRecord {
                checked_at: rfc3339(c.checked_at),
                checked_by: c.checked_by,
                violations: serde_json::from_str(&c.detail).unwrap_or_default(),
            }),
            evidence_log_size: evidence.size,
            last_checkpoint: checkpoint.map(|(size, at)| CheckpointSummary {
                size,
                made_at: rfc3339(at),
            }),
            jobs_by_status: jobs.into_iter().map(|c| (c.key, c.count)).collect(),
            dead_jobs: dead,
            security_events: events,
        })
    }

    /// Sellers whose username contains `needle` (all sellers, by name, when empty), with
    /// their standing and balances, and the compensation fund.
    pub async fn admin_sellers(&self, caller: &Caller, needle: &str) -> AppResult<SellerSearch> {
        require_admin(caller)?;
        let needle = needle.trim();
        if needle.chars().count() > 32 {
            return Err(AppError::invalid(
                "username",
                crate::Invalid::Length { min: 0, max: 32 },
            ));
        }
        let mut tx = self.store.begin().await?;
        let mut sellers = Vec::new();
        for user in tx.sellers_matching(needle, SELLER_SEARCH_MAX).await? {
            sellers.push(seller_overview_in(&mut tx, user).await?);
        }
        let fund = compensation_fund_in(&mut tx).await?;
        tx.commit().await?;
        Ok(SellerSearch {
            sellers,
            compensation_fund_minor: fund,
        })
    }

    /// What banning this seller would do: the open orders it would refund in full and
    /// the money that stands behind them. Changes nothing.
    pub async fn ban_preview(&self, caller: &Caller, seller_id: &str) -> AppResult<BanPreview> {
        require_admin(caller)?;
        let id = danbao_domain::UserId::parse(seller_id).ok_or(AppError::NotFound("seller"))?;
        let mut tx = self.store.begin().await?;
        let user = match tx.user_by_id(&id).await? {
            Some(u) if u.role == "seller" => u,
            _ => return Err(AppError::NotFound("seller")),
        };
        let seller = seller_overview_in(&mut tx, user).await?;
        let mut orders = tx.open_orders_of_seller(&id).await?;
        // A ban also rules every open complaint a full refund, an after-sales one on a
        // completed order included (`refund_open_orders`).
        for c in tx.open_complaints_of_seller(&id).await? {
            if !orders.iter().any(|o| o.id == c.order_id) {
                if let Some(o) = tx.order(&c.order_id, false).await? {
                    orders.push(o);
                }
            }
        }
        let fund = compensation_fund_in(&mut tx).await?;
        tx.commit().await?;
        let open_orders: Vec<OpenOrderLine> = orders
            .into_iter()
            .map(|o| OpenOrderLine {
                id: o.id.to_string(),
                status: o.status.as_str().to_string(),
                amount_minor: o.amount.minor(),
            })
            .collect();
        Ok(BanPreview {
            refund_total_minor: open_orders.iter().map(|o| o.amount_minor).sum(),
            seller,
            open_orders,
            compensation_fund_minor: fund,
        })
    }

    /// Arbitrator and admin accounts, active or disabled.
    pub async fn staff_accounts(&self, caller: &Caller) -> AppResult<Vec<AccountView>> {
        require_admin(caller)?;
        let mut tx = self.store.begin().await?;
        let rows = tx.accounts_with_roles(&["admin", "arbitrator"], 500).await?;
        tx.commit().await?;
        rows.into_iter()
            .map(|(row, disabled)| {
                let user = crate::auth::user_from_row(row)?;
                Ok(AccountView {
                    id: user.id.to_string(),
                    username: user.username,
                    role: user.role,
                    disabled_at: disabled.map(rfc3339),
                })
            })
            .collect()
    }

    /// Makes an arbitrator or admin account (staff never register themselves).
    pub async fn create_staff_account(
        &self,
        caller: &Caller,
        username: &str,
        password: &str,
        role: Role,
    ) -> AppResult<User> {
        require_admin(caller)?;
        if !matches!(role, Role::Arbitrator | Role::Admin) {
            return Err(AppError::invalid("role", "arbitrator or admin"));
        }
        let row = crate::auth::new_user_row(self, username, password, role, self.now()).await?;
        let mut tx = self.store.begin().await?;
        crate::auth::insert_user(&mut tx, &row).await?;
        tx.commit().await?;
        crate::auth::user_from_row(row)
    }

    /// Disables an account by its username: it can no longer log in and its tokens stop
    /// working at once. An admin cannot disable their own account (nobody would be left
    /// to undo a mistake made alone).
    pub async fn disable_account(&self, caller: &Caller, username: &str) -> AppResult<AccountView> {
        let admin = require_admin(caller)?.clone();
        let mut tx = self.store.begin().await?;
        let row = tx
            .user_by_username(username.trim())
            .await?
            .ok_or(AppError::NotFound("account"))?;
        if row.id == admin.id {
            return Err(AppError::invalid("username", "不能停用自己的账号"));
        }
        let now = self.now();
        let changed = tx.disable_user(&row.id, now).await?;
        tx.commit().await?;
        if changed {
            tracing::info!(account = row.id.as_str(), by = admin.id.as_str(), "account disabled");
        }
        let user = crate::auth::user_from_row(row)?;
        Ok(AccountView {
            id: user.id.to_string(),
            username: user.username,
            role: user.role,
            disabled_at: Some(rfc3339(now)),
        })
    }

    /// Every published rule set, newest first.
    pub async fn rule_versions(&self, caller: &Caller) -> AppResult<Vec<RuleVersionView>> {
        require_admin(caller)?;
        let current = self.current_rules().version;
        let mut tx = self.store.begin().await?;
        let rows = tx.rule_sets().await?;
        tx.commit().await?;
        Ok(rows
            .into_iter()
            .map(|r| RuleVersionView {
                current: r.version == current,
                version: r.version,
                content_hash: r.content_hash,
                published_at: rfc3339(r.published_at),
                body: r.body,
            })
            .collect())
    }

    /// Publishes a pasted rule set as the next version: parsed and validated, stored
    /// (versions are immutable), then given to this process's new orders. Orders made
    /// before keep the version they were made under. The `version` in the text is
    /// ignored: the next number is taken.
    pub async fn publish_rules(&self, caller: &Caller, text: &str) -> AppResult<RuleVersionView> {
        require_admin(caller)?;
        if text.len() > RULES_TEXT_MAX {
            return Err(AppError::invalid("rules", "at most 64 KiB"));
        }
        let mut rules = danbao_domain::RuleSet::parse(text).map_err(|e| AppError::invalid("rules", e.to_string()))?;
        let now = self.now();
        let mut tx = self.store.begin().await?;
        let latest = tx.latest_rule_set().await?;
        if let Some(row) = &latest {
            rules.version = row.version;
            if rules.content_hash() == row.content_hash {
                return Err(AppError::invalid("rules", "与当前最新版本相同，无需发布"));
            }
        }
        rules.version = latest.as_ref().map_or(1, |r| r.version + 1);
        // A second publisher racing this one fails on the version's primary key.
        crate::publish(&mut tx, &rules, now).await.map_err(|e| match e {
            AppError::Store(danbao_store::StoreError::Conflict(_)) => {
                AppError::invalid("rules", "另一个版本刚刚发布，请刷新后重试")
            }
            other => other,
        })?;
        tx.commit().await?;
        let published = std::sync::Arc::new(rules);
        if let Ok(mut m) = self.rules.write() {
            m.insert(published.version, published.clone());
        }
        // Two publishers finishing out of order must not leave the older one current.
        {
            let mut current = match self.current_rules.write() {
                Ok(c) => c,
                Err(poisoned) => poisoned.into_inner(),
            };
            if current.version < published.version {
                *current = published.clone();
            }
        }
        tracing::info!(version = published.version, "rules published from the console");
        let mut tx = self.store.begin().await?;
        let row = tx
            .rule_set(published.version)
            .await?
            .ok_or_else(|| AppError::Internal("a published rule set vanished".into()))?;
        tx.commit().await?;
        Ok(RuleVersionView {
            version: row.version,
            content_hash: row.content_hash,
            published_at: rfc3339(row.published_at),
            body: row.body,
            current: true,
        })
    }
}
