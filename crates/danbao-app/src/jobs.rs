//! Durable background work: timers (expiry, auto-confirm, delivery deadline) and the
//! outbox of outside calls (refunds). Jobs live in the database, are leased, retried
//! with backoff, and dead-lettered where an admin can see them — never dropped.

use crate::evidence::record_event;
use crate::payments::{ProviderError, RefundCommand};
use crate::{App, AppError, AppResult};
use danbao_domain::ledger::rules as posting;
use danbao_domain::{ComplaintId, OrderEvent, OrderId, OrderStatus, PaymentAttemptId, RefundId, WithdrawalId};
use danbao_store::{JobRow, NewJob, Tx};
use futures::StreamExt;

/// A lease long enough for any one job, short enough that a dead worker's job is
/// picked up again soon.
pub const LEASE_MS: i64 = 60_000;
/// After this many failed attempts a job is dead-lettered for an admin to look at.
pub const ATTEMPTS_MAX: i64 = 25;
const BACKOFF_BASE_MS: i64 = 2_000;
const BACKOFF_MAX_MS: i64 = 3_600_000;
/// Jobs claimed per round; bounds how long one round holds its leases.
pub const CLAIM_BATCH: i64 = 32;
/// Jobs of one batch running at once: enough to overlap provider round trips, few enough
/// not to exhaust the database pool.
const JOB_CONCURRENCY: usize = 8;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Job {
    ExpireOrder(OrderId),
    AutoConfirm(OrderId),
    DeliveryDeadline(OrderId),
    Refund(RefundId),
    /// Active query (补单) for one payment attempt; several are scheduled per attempt.
    QueryPayment(PaymentAttemptId),
    /// A complaint stage's deadline.
    ComplaintDeadline(ComplaintId),
    /// A withdrawal's payout at the provider.
    Payout(WithdrawalId),
    /// The end of an order's after-sales window: its reserve becomes available.
    ReleaseReserve(OrderId),
    /// The deadline for a person to review an automatic (collective) freeze, by group id.
    CollectiveReviewDue(String),
    /// The provider's statement for one UTC day (its start, ms), matched once the day is
    /// over: the net under every other way a payment reaches us, so a payment whose
    /// notifications were all lost, made after the last active query, is still applied.
    ReconcileDay(i64),
    /// Deliver one notification from the outbox, by its id.
    Notify(String),
    /// A manual order still undelivered when the buyer may escalate: remind the seller.
    DeliveryReminder(OrderId),
    /// Publish the statement of liabilities due at this time (ms; the end of a period of
    /// `[transparency] liabilities_period_minutes`); chains itself to the next period.
    PublishLiabilities(i64),
}

/// A day, for the daily reconciliation.
pub const DAY_MS: i64 = 86_400_000;
/// How long after a day ends its statement is matched: the provider's statement of a day
/// may take a while to be complete.
pub const RECONCILE_AFTER_MS: i64 = 3_600_000;

impl Job {
    /// The daily reconciliation of the day that contains `at`, and when it runs.
    pub fn reconcile_day_of(at: i64) -> (Job, i64) {
        let start = at.div_euclid(DAY_MS) * DAY_MS;
        (Job::ReconcileDay(start), start + DAY_MS + RECONCILE_AFTER_MS)
    }
}

impl Job {
    /// The liabilities statement due at the end of the period that contains `at`, and
    /// when it runs (then).
    pub fn publish_liabilities_after(at: i64, period_ms: i64) -> (Job, i64) {
        let period = period_ms.max(60_000);
        let due = (at.div_euclid(period) + 1) * period;
        (Job::PublishLiabilities(due), due)
    }
}

impl Job {
    fn kind(&self) -> &'static str {
        match self {
            Job::ExpireOrder(_) => "expire_order",
            Job::AutoConfirm(_) => "auto_confirm",
            Job::DeliveryDeadline(_) => "delivery_deadline",
            Job::Refund(_) => "refund",
            Job::QueryPayment(_) => "query_payment",
            Job::ComplaintDeadline(_) => "complaint_deadline",
            Job::Payout(_) => "payout",
            Job::ReleaseReserve(_) => "release_reserve",
            Job::CollectiveReviewDue(_) => "collective_review_due",
            Job::ReconcileDay(_) => "reconcile_day",
            Job::Notify(_) => "notify",
            Job::DeliveryReminder(_) => "delivery_reminder",
            Job::PublishLiabilities(_) => "publish_liabilities",
        }
    }

    fn subject(&self) -> String {
        match self {
            Job::ReconcileDay(start) | Job::PublishLiabilities(start) => start.to_string(),
            Job::ExpireOrder(o) | Job::AutoConfirm(o) | Job::DeliveryDeadline(o) => o.to_string(),
            Job::Refund(r) => r.to_string(),
            Job::QueryPayment(a) => a.to_string(),
            Job::ComplaintDeadline(c) => c.to_string(),
            Job::Payout(w) => w.to_string(),
            Job::ReleaseReserve(o) => o.to_string(),
            Job::CollectiveReviewDue(g) | Job::Notify(g) => g.clone(),
            Job::DeliveryReminder(o) => o.to_string(),
        }
    }

    fn parse(row: &JobRow) -> Option<Job> {
        let id = row.payload.as_str();
        Some(match row.kind.as_str() {
            "expire_order" => Job::ExpireOrder(OrderId::parse(id)?),
            "auto_confirm" => Job::AutoConfirm(OrderId::parse(id)?),
            "delivery_deadline" => Job::DeliveryDeadline(OrderId::parse(id)?),
            "refund" => Job::Refund(RefundId::parse(id)?),
            "query_payment" => Job::QueryPayment(PaymentAttemptId::parse(id)?),
            "complaint_deadline" => Job::ComplaintDeadline(ComplaintId::parse(id)?),
            "payout" => Job::Payout(WithdrawalId::parse(id)?),
            "release_reserve" => Job::ReleaseReserve(OrderId::parse(id)?),
            "collective_review_due" => Job::CollectiveReviewDue(id.to_string()),
            "reconcile_day" => Job::ReconcileDay(id.parse().ok()?),
            "notify" => Job::Notify(id.to_string()),
            "delivery_reminder" => Job::DeliveryReminder(OrderId::parse(id)?),
            "publish_liabilities" => Job::PublishLiabilities(id.parse().ok()?),
            _ => return None,
        })
    }

    /// Enqueues in the caller's transaction (the outbox). One live job per kind and
    /// subject: enqueuing twice is enqueuing once.
    pub async fn enqueue(&self, tx: &mut Tx, run_at: i64, now: i64) -> AppResult<()> {
        tx.enqueue_job(
            &NewJob {
                kind: self.kind().to_string(),
                payload: self.subject(),
                dedupe_key: Some(format!("{}:{}", self.kind(), self.subject())),
                run_at,
            },
            now,
        )
        .await?;
        Ok(())
    }

    /// Like `enqueue`, for jobs of which one subject has several, one per time.
    pub async fn enqueue_at(&self, tx: &mut Tx, run_at: i64, now: i64) -> AppResult<()> {
        self.enqueue_at_times(tx, &[run_at], now).await
    }

    /// `enqueue_at` for several times at once, in one statement.
    pub async fn enqueue_at_times(&self, tx: &mut Tx, times: &[i64], now: i64) -> AppResult<()> {
        let jobs: Vec<NewJob> = times
            .iter()
            .map(|&run_at| NewJob {
                kind: self.kind().to_string(),
                payload: self.subject(),
                dedupe_key: Some(format!("{}:{}:{run_at}", self.kind(), self.subject())),
                run_at,
            })
            .collect();
        tx.enqueue_jobs(&jobs, now).await?;
        Ok(())
    }
}

/// Why a job did not finish.
pub(crate) enum JobFailure {
    /// Try again later, after a backoff that grows with each attempt (provider down, a
    /// state not reached yet); `ATTEMPTS_MAX` of these dead-letter the job.
    Retry(String),
    /// The database aborted the job's transaction (a deadlock victim, a serialization
    /// conflict) more often than `App::retrying` runs it again: nothing happened, and
    /// nothing is wrong with the job, so it runs again soon and the attempt is not
    /// counted towards dead-lettering.
    Transient(String),
    /// The provider could not be reached. Nothing is wrong with the job, and an outage
    /// can last days: it is retried with the usual backoff (capped at an hour) for as
    /// long as it takes, never dead-lettered, so a refund or payout waits out any outage.
    Outage(String),
    /// Retrying cannot help; dead-letter it now.
    Permanent(String),
}

impl From<AppError> for JobFailure {
    fn from(e: AppError) -> JobFailure {
        // A rail down, or no longer configured: wait it out.
        if let AppError::ProviderUnavailable(why) = e {
            return JobFailure::Outage(why);
        }
        // Aborted by the database, or the database unreachable (a failover): nothing of
        // the job was applied; run it again soon, without counting the attempt, rather
        // than backing off as if the job itself had failed.
        if e.is_transient() || matches!(&e, AppError::Store(s) if s.is_unavailable()) {
            JobFailure::Transient(e.to_string())
        } else {
            JobFailure::Retry(e.to_string())
        }
    }
}

/// When a job whose transaction the database aborted runs again: soon, since nothing
/// is wrong with it, but not at once, so it does not meet the same contention.
const TRANSIENT_RETRY_DELAY_MS: i64 = 1_000;

fn backoff_ms(attempts: i64) -> i64 {
    let exp = u32::try_from(attempts.clamp(0, 20)).unwrap_or(20);
    BACKOFF_BASE_MS
        .saturating_mul(2i64.saturating_pow(exp))
        .min(BACKOFF_MAX_MS)
}

impl App {
    /// Claims and runs every job that is due now; returns how many ran. Tests call it
    /// after moving the clock; `serve` calls it in a loop.
    pub async fn run_due_jobs(&self) -> AppResult<usize> {
        let mut ran = 0;
        self.give_back_unrecorded_jobs().await?;
        loop {
            let now = self.now();
            let mut tx = self.store.begin().await?;
            let claimed = tx.claim_jobs(now, LEASE_MS, CLAIM_BATCH).await?;
            tx.commit().await?;
            if claimed.is_empty() {
                return Ok(ran);
            }
            let lease_until = now.saturating_add(LEASE_MS);
            // Jobs of a batch run side by side: most of their time is spent waiting on
            // the provider, and each takes the row locks it needs.
            let results: Vec<AppResult<()>> = futures::stream::iter(claimed)
                .map(|row| self.run_job(row, lease_until))
                .buffer_unordered(JOB_CONCURRENCY)
                .collect()
                .await;
            for r in results {
                r?;
                ran += 1;
            }
        }
    }

    async fn run_job(&self, row: JobRow, lease_until: i64) -> AppResult<()> {
        let result = match Job::parse(&row) {
            Some(job) => self.execute(&job).await,
            None => Err(JobFailure::Permanent(format!(
                "unknown job {} {}",
                row.kind, row.payload
            ))),
        };
        let recorded = self.retrying(|| self.record_job_outcome(&row, &result)).await;
        if let Err(AppError::Store(e)) = &recorded {
            if e.is_unavailable() {
                // Ran, but how it went is not written: hand it back on the next round
                // rather than leave it leased (invisible) until the lease expires.
                self.unrecorded_jobs
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push((row.id.clone(), lease_until));
            }
        }
        recorded
    }

    /// Gives back to the queue the jobs this process ran but could not record (see
    /// `run_job`), if they are still under its lease. Jobs are written to be run again.
    async fn give_back_unrecorded_jobs(&self) -> AppResult<()> {
        let pending = std::mem::take(&mut *self.unrecorded_jobs.lock().unwrap_or_else(|e| e.into_inner()));
        if pending.is_empty() {
            return Ok(());
        }
        let now = self.now();
        let given = async {
            let mut tx = self.store.begin().await?;
            let mut n = 0;
            for (id, lease_until) in &pending {
                if tx
                    .give_back_job(
                        id,
                        *lease_until,
                        "outcome not recorded: the database was unreachable",
                        now,
                    )
                    .await?
                {
                    n += 1;
                }
            }
            tx.commit().await?;
            Ok::<usize, AppError>(n)
        }
        .await;
        match given {
            Ok(n) => {
                tracing::info!(
                    given_back = n,
                    of = pending.len(),
                    "jobs whose outcome was not recorded are queued again"
                );
                Ok(())
            }
            Err(e) => {
                // Still unreachable: keep them for the next round.
                self.unrecorded_jobs
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .extend(pending);
                Err(e)
            }
        }
    }

    /// Books how a job went: done, queued again (after a backoff, or soon and uncounted
    /// when the database aborted it), or dead-lettered.
    async fn record_job_outcome(&self, row: &JobRow, result: &Result<(), JobFailure>) -> AppResult<()> {
        let now = self.now();
        let mut tx = self.store.begin().await?;
        // The outcome's label for `/metrics`, from the same branch that books it.
        let outcome = match result {
            Ok(()) => {
                tx.finish_job(&row.id, now).await?;
                "done"
            }
            Err(JobFailure::Transient(e)) => {
                tracing::info!(job = %row.id, kind = %row.kind, error = %e, "job aborted by the database; it runs again soon");
                tx.retry_job(&row.id, e, now + TRANSIENT_RETRY_DELAY_MS, now, false)
                    .await?;
                "retry"
            }
            Err(JobFailure::Outage(e)) => {
                tracing::warn!(job = %row.id, kind = %row.kind, attempts = row.attempts, error = %e, "provider unreachable; job waits it out");
                tx.retry_job(&row.id, e, now + backoff_ms(row.attempts), now, true)
                    .await?;
                "retry"
            }
            Err(JobFailure::Retry(e)) if row.attempts < ATTEMPTS_MAX => {
                tracing::info!(job = %row.id, kind = %row.kind, attempts = row.attempts, error = %e, "job will be retried");
                tx.retry_job(&row.id, e, now + backoff_ms(row.attempts), now, true)
                    .await?;
                "retry"
            }
            Err(JobFailure::Retry(e) | JobFailure::Permanent(e)) => {
                tracing::error!(job = %row.id, kind = %row.kind, error = %e, "job dead-lettered");
                tx.bury_job(&row.id, e, now).await?;
                "dead"
            }
        };
        tx.commit().await?;
        self.metrics.job_run(&row.kind, outcome);
        Ok(())
    }

    async fn execute(&self, job: &Job) -> Result<(), JobFailure> {
        match job {
            Job::ExpireOrder(id) => {
                self.timer(
                    id,
                    OrderStatus::PendingPayment,
                    OrderEvent::PaymentWindowPassed,
                    |o| o.expires_at,
                    "expired",
                )
                .await
            }
            Job::AutoConfirm(id) => {
                self.timer(
                    id,
                    OrderStatus::Delivered,
                    OrderEvent::AcceptanceWindowPassed,
                    |o| o.auto_confirm_at.unwrap_or(i64::MAX),
                    "auto_confirmed",
                )
                .await
            }
            Job::DeliveryDeadline(id) => {
                self.timer(
                    id,
                    OrderStatus::Paid,
                    OrderEvent::DeliveryDeadlinePassed,
                    |o| o.deliver_by.unwrap_or(i64::MAX),
                    "delivery_deadline_passed",
                )
                .await
            }
            Job::Refund(id) => self.execute_refund(id).await,
            Job::QueryPayment(attempt) => self.query_payment(attempt).await,
            Job::ComplaintDeadline(id) => self.complaint_deadline(id).await.map_err(JobFailure::from),
            Job::Payout(id) => self.execute_payout(id).await,
            Job::ReleaseReserve(id) => self.release_reserve(id).await.map_err(JobFailure::from),
            Job::CollectiveReviewDue(group) => self.collective_review_due(group).await.map_err(JobFailure::from),
            Job::ReconcileDay(start) => self.reconcile_day(*start).await,
            Job::Notify(id) => self.deliver_notification(id).await,
            Job::DeliveryReminder(id) => self.delivery_reminder(id).await.map_err(JobFailure::from),
            Job::PublishLiabilities(due) => self.publish_liabilities_job(*due).await.map_err(JobFailure::from),
        }
    }

    /// Queues the next run of a self-chaining job (retried through a brief outage), before
    /// this run does its work, so a failing run does not end the chain.
    async fn chain(&self, next: &Job, at: i64, now: i64) -> AppResult<()> {
        self.retrying(|| async {
            let mut tx = self.store.begin().await?;
            next.enqueue(&mut tx, at, now).await?;
            tx.commit().await?;
            Ok(())
        })
        .await
    }

    /// Publishes a statement of liabilities, after queueing the next period's (from now:
    /// a clock that jumped ahead does not leave a backlog of periods to publish). A
    /// refusal (the ledger did not add up) is recorded as a security event and is not
    /// retried: the next period tries again.
    async fn publish_liabilities_job(&self, due: i64) -> AppResult<()> {
        let now = self.now();
        let period = self.current_rules().transparency.liabilities_period_ms();
        let (next, next_at) = Job::publish_liabilities_after(now.max(due), period);
        self.chain(&next, next_at, now).await?;
        self.publish_liabilities().await?;
        Ok(())
    }

    /// Matches one day's statement, after queueing the next day's first, so that a day
    /// the provider cannot answer for does not end the chain.
    async fn reconcile_day(&self, start: i64) -> Result<(), JobFailure> {
        let now = self.now();
        let (next, next_at) = Job::reconcile_day_of(start + DAY_MS);
        self.chain(&next, next_at, now).await?;
        match self.reconcile(start, start + DAY_MS).await {
            Err(AppError::ProviderUnavailable(e)) => Err(JobFailure::Outage(e)),
            other => other.map(|_| ()).map_err(JobFailure::from),
        }
    }

    /// A deadline: if the order is still where the timer expects and its time has come,
    /// apply the event; otherwise the timer is moot (the order moved on) and is done.
    /// The transaction is retried whole if the database aborts it.
    async fn timer(
        &self,
        id: &OrderId,
        expected: OrderStatus,
        event: OrderEvent,
        due: impl Fn(&danbao_store::OrderRow) -> i64,
        label: &str,
    ) -> Result<(), JobFailure> {
        self.retrying(|| self.timer_once(id, expected, event, &due, label))
            .await?
    }

    /// One run of `timer`: the outer error is the database's (retried), the inner the
    /// job's own outcome.
    async fn timer_once(
        &self,
        id: &OrderId,
        expected: OrderStatus,
        event: OrderEvent,
        due: &impl Fn(&danbao_store::OrderRow) -> i64,
        label: &str,
    ) -> AppResult<Result<(), JobFailure>> {
        let now = self.now();
        let mut tx = self.store.begin().await?;
        // The seller's standing first: the event may release or refund the escrow.
        let Some(mut order) = self.lock_order(&mut tx, id).await? else {
            return Ok(Err(JobFailure::Permanent(format!("order {id} does not exist"))));
        };
        if order.status != expected {
            return Ok(Ok(()));
        }
        if due(&order) > now {
            return Ok(Err(JobFailure::Retry("not due yet".into())));
        }
        let rules = self.rules_version(&mut tx, order.rule_version).await?;
        record_event(&mut tx, &order.id, label, serde_json::json!({}), now).await?;
        self.apply_event(&mut tx, &mut order, event, &rules, now).await?;
        tx.commit().await?;
        Ok(Ok(()))
    }

    /// The outbox's refund call: at the provider first (outside any transaction, with a
    /// request id derived from our refund id so a retry is the same refund), then the
    /// confirmation is booked.
    async fn execute_refund(&self, id: &RefundId) -> Result<(), JobFailure> {
        let mut tx = self.store.begin().await.map_err(AppError::from)?;
        let refund = tx.refund(id, false).await.map_err(AppError::from)?;
        tx.commit().await.map_err(AppError::from)?;
        let Some(refund) = refund else {
            return Err(JobFailure::Permanent(format!("refund {id} does not exist")));
        };
        if refund.status == "confirmed" {
            return Ok(());
        }
        let call = self
            .rail(&refund.provider)?
            .refund(RefundCommand {
                provider_payment_id: refund.provider_payment_id.clone(),
                amount: refund.amount,
                request_id: format!("refund-{}", refund.id),
            })
            .await;
        match call {
            Ok(()) => {}
            Err(ProviderError::Rejected(e)) => return Err(JobFailure::Retry(format!("provider refused: {e}"))),
            Err(ProviderError::Unavailable(e)) => return Err(JobFailure::Outage(e)),
            Err(e) => return Err(JobFailure::Retry(e.to_string())),
        }
        self.retrying(|| self.book_refund_confirmed(id)).await?
    }

    /// The refund job's booking, after the provider said yes: retried whole if the
    /// database aborts it.
    async fn book_refund_confirmed(&self, id: &RefundId) -> AppResult<Result<(), JobFailure>> {
        let now = self.now();
        let mut tx = self.store.begin().await?;
        let Some(refund) = tx.refund(id, true).await? else {
            return Ok(Err(JobFailure::Permanent(format!("refund {id} vanished"))));
        };
        if refund.status == "confirmed" {
            return Ok(Ok(()));
        }
        let order = refund.order_id.as_deref().and_then(OrderId::parse);
        let entry = posting::refund_confirmed(order.as_ref(), id, &refund.provider, refund.amount)?;
        tx.post_entry(&entry, now).await?;
        tx.mark_refund_confirmed(id, now).await?;
        if let Some(o) = &order {
            record_event(
                &mut tx,
                o,
                "refund_confirmed",
                serde_json::json!({"refund_id": id.as_str(), "amount_minor": refund.amount.minor()}),
                now,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(Ok(()))
    }

    /// Active query (补单): asks the provider about an attempt whose order has not been
    /// paid, and feeds what it says through the one notification path.
    async fn query_payment(&self, attempt_id: &PaymentAttemptId) -> Result<(), JobFailure> {
        let mut tx = self.store.begin().await.map_err(AppError::from)?;
        let Some(attempt) = tx.payment_attempt(attempt_id).await.map_err(AppError::from)? else {
            return Err(JobFailure::Permanent(format!(
                "payment attempt {attempt_id} does not exist"
            )));
        };
        let order = tx.order(&attempt.order_id, false).await.map_err(AppError::from)?;
        let already = tx
            .count_payments_for_out_trade_no(attempt_id.as_str())
            .await
            .map_err(AppError::from)?;
        tx.commit().await.map_err(AppError::from)?;
        let waiting = order.is_some_and(|o| {
            matches!(
                o.status,
                OrderStatus::PendingPayment | OrderStatus::Expired | OrderStatus::Cancelled
            )
        });
        if !waiting || already > 0 {
            return Ok(());
        }
        let rail = self.rail(&attempt.provider)?;
        let found = rail.query_payments(attempt_id.to_string()).await.map_err(|e| match e {
            ProviderError::Unavailable(e) => JobFailure::Outage(e),
            other => JobFailure::Retry(other.to_string()),
        })?;
        for verified in found {
            self.apply_payment(rail.name(), "query", verified)
                .await
                .map_err(JobFailure::from)?;
        }
        Ok(())
    }

    /// Runs jobs until `shutdown` resolves, polling every `interval`.
    pub async fn run_worker(&self, interval: std::time::Duration, mut shutdown: tokio::sync::watch::Receiver<bool>) {
        loop {
            if let Err(e) = self.run_due_jobs().await {
                tracing::error!(error = %e, "job round failed");
            }
            if let Err(e) = self.sequence_evidence().await {
                tracing::error!(error = %e, "evidence sequencing failed");
            }
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                _ = shutdown.changed() => return,
            }
        }
    }

    pub async fn dead_jobs(&self) -> AppResult<Vec<JobRow>> {
        let mut tx = self.store.begin().await?;
        let rows = tx.jobs_by_status("dead", 100).await?;
        tx.commit().await?;
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        assert_eq!(backoff_ms(0), 2_000);
        assert_eq!(backoff_ms(1), 4_000);
        assert_eq!(backoff_ms(5), 64_000);
        assert_eq!(backoff_ms(30), BACKOFF_MAX_MS);
    }
}
