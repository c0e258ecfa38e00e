//! The liveness audit: beyond the ledger check (money balances), is every piece of
//! open work still on its way? A paid order must have the job that will deliver,
//! confirm or refund it; an open complaint its deadline or a person's desk; a refund
//! or withdrawal its job; and a seller's frozen money must be exactly what open cases
//! and a freeze hold. Read in one transaction; the simulator runs it after every step.

use crate::{App, AppResult};
use danbao_domain::ledger::rules::FrozenSources;
use danbao_domain::{Account, OrderStatus, UserId};
use std::collections::BTreeMap;

/// One thing the audit found wrong, said for a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding(pub String);

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl App {
    /// The ledger check plus the liveness checks; empty when all is well.
    pub async fn audit(&self) -> AppResult<Vec<Finding>> {
        let mut findings: Vec<Finding> = self
            .ledger_check()
            .await?
            .into_iter()
            .map(|v| Finding(format!("ledger: {}", v.0)))
            .collect();
        let mut tx = self.store.begin().await?;
        let facts = tx.audit_facts().await?;
        let balances = tx.account_balances().await?;
        let dead = if facts.dead_jobs > 0 {
            tx.jobs_by_status("dead", 5).await?
        } else {
            Vec::new()
        };
        tx.commit().await?;
        let mut found = |text: String| findings.push(Finding(text));

        if facts.dead_jobs > 0 {
            found(format!("{} job(s) dead-lettered", facts.dead_jobs));
            for j in &dead {
                found(format!(
                    "dead job {} {}: {}",
                    j.kind,
                    j.payload,
                    j.last_error.as_deref().unwrap_or("")
                ));
            }
        }
        let mut open_cases_of_order: BTreeMap<&str, usize> = BTreeMap::new();
        for c in &facts.open_complaints {
            *open_cases_of_order.entry(c.order_id.as_str()).or_default() += 1;
        }
        for o in &facts.open_orders {
            let id = o.id.as_str();
            let job = |kind: &str| facts.has_live_job(kind, id);
            match o.status {
                OrderStatus::PendingPayment if !job("expire_order") => {
                    found(format!("order {id} awaits payment with no expiry queued"))
                }
                OrderStatus::Paid if !job("delivery_deadline") => {
                    found(format!("order {id} is paid with no delivery deadline queued"))
                }
                OrderStatus::Delivered if !job("auto_confirm") => {
                    found(format!("order {id} is delivered with no auto-confirm queued"))
                }
                OrderStatus::Disputed if open_cases_of_order.get(id).copied().unwrap_or(0) == 0 => {
                    found(format!("order {id} is disputed with no open complaint"))
                }
                _ => {}
            }
        }
        let mut frozen_for_cases: BTreeMap<UserId, i64> = BTreeMap::new();
        for c in &facts.open_complaints {
            let id = c.id.as_str();
            if c.deadline_at.is_some() && !facts.has_live_job("complaint_deadline", id) {
                found(format!(
                    "complaint {id} ({}) has a deadline but no job queued for it",
                    c.stage
                ))
            }
            match serde_json::from_str::<FrozenSources>(&c.frozen_sources) {
                Ok(s) => match s.total() {
                    Ok(total) => *frozen_for_cases.entry(c.seller_id.clone()).or_default() += total.minor(),
                    Err(e) => found(format!("complaint {id}: frozen sources do not add up: {e}")),
                },
                Err(e) => found(format!("complaint {id}: frozen sources unreadable: {e}")),
            }
        }
        for r in &facts.unconfirmed_refunds {
            if !facts.has_live_job("refund", r) {
                found(format!("refund {r} is unconfirmed with no job queued"))
            }
        }
        for w in &facts.unsettled_withdrawals {
            if !facts.has_live_job("payout", w) {
                found(format!("withdrawal {w} is unsettled with no payout queued"))
            }
        }
        // frozen:{seller} = what its open cases froze + what a freeze holds.
        let mut sellers: BTreeMap<UserId, i64> = frozen_for_cases;
        let mut held: BTreeMap<UserId, i64> = BTreeMap::new();
        for s in &facts.standings {
            held.insert(s.seller_id.clone(), s.frozen_available_minor);
            sellers.entry(s.seller_id.clone()).or_default();
        }
        for (account, raw) in &balances {
            if let Account::Frozen(seller) = account {
                if *raw != 0 {
                    sellers.entry(seller.clone()).or_default();
                }
            }
        }
        for (seller, for_cases) in sellers {
            let account = Account::Frozen(seller.clone());
            let balance = account.normal_balance(balances.get(&account).copied().unwrap_or(0));
            let holds = held.get(&seller).copied().unwrap_or(0);
            if balance != for_cases + holds {
                found(format!(
                    "frozen:{seller} holds {balance}, but its open cases froze {for_cases} and its freeze holds {holds}"
                ))
            }
        }
        Ok(findings)
    }
}
