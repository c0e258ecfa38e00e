//! What the liveness audit reads: the work still open and the jobs that will do it.

use crate::{ComplaintRow, OrderRow, SellerStandingRow};
use std::collections::BTreeSet;

#[derive(Debug, Clone, Default)]
pub struct AuditFacts {
    /// (kind, payload) of every queued or running job.
    pub live_jobs: BTreeSet<(String, String)>,
    pub dead_jobs: i64,
    /// Orders not yet finished: pending payment, paid, delivered or disputed.
    pub open_orders: Vec<OrderRow>,
    /// Complaints neither resolved nor withdrawn.
    pub open_complaints: Vec<ComplaintRow>,
    /// Ids of refunds the provider has not confirmed.
    pub unconfirmed_refunds: Vec<String>,
    /// Ids of withdrawals not yet paid out or returned.
    pub unsettled_withdrawals: Vec<String>,
    pub standings: Vec<SellerStandingRow>,
}

impl AuditFacts {
    pub fn has_live_job(&self, kind: &str, subject: &str) -> bool {
        self.live_jobs.contains(&(kind.to_string(), subject.to_string()))
    }
}
