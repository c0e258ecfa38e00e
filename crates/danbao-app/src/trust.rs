//! What a buyer may know about a seller before paying them (issue 11): how long they have
//! been on the platform, the security deposit that stands behind their orders, and their
//! record. Public: anyone looking at a product may read its seller's figures, so nothing
//! here names a buyer or an amount of any one order.

use crate::{App, AppError, AppResult};
use danbao_domain::ledger::Account;
use danbao_domain::UserId;

const DAY_MS: i64 = 86_400_000;

/// A seller's public figures, read in one transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SellerTrust {
    pub seller_id: String,
    /// When the seller's account was opened (ms since epoch).
    pub member_since_ms: i64,
    /// Whole days since then; 0 on the first day.
    pub days_on_platform: i64,
    /// The security deposit (保证金) held now, which pays buyers a seller owes.
    pub deposit_minor: i64,
    /// Orders ever paid to this seller: the denominator of the complaint rate.
    pub paid_orders: i64,
    pub completed_orders: i64,
    /// Complaints ever opened against the seller, whatever came of them.
    pub complaints: i64,
}

impl SellerTrust {
    /// Complaints per paid order in basis points (125 = 1.25 %), rounded down; `None`
    /// before the first paid order, when a rate would say nothing.
    pub fn complaint_rate_bps(&self) -> Option<i64> {
        (self.paid_orders > 0).then(|| self.complaints.saturating_mul(10_000) / self.paid_orders)
    }
}

/// A payment method the platform can take now, by id (`sandbox`; later `alipay`,
/// `wechat`): the pages name it from their catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentMethod {
    pub id: String,
}

impl App {
    /// A seller's public figures for their product pages. Unknown ids (or an account
    /// that is not a seller's) are not found, as any id that cannot be probed.
    pub async fn seller_trust(&self, seller_id: &str) -> AppResult<SellerTrust> {
        let id = UserId::parse(seller_id).ok_or(AppError::NotFound("seller"))?;
        let mut tx = self.store.begin().await?;
        let Some((created_at, paid_orders, completed_orders, complaints)) = tx.seller_trust(id.as_str()).await? else {
            return Err(AppError::NotFound("seller"));
        };
        let deposit = Account::Deposit(id.clone());
        let deposit_minor = deposit.normal_balance(tx.account_balance(&deposit).await?);
        tx.commit().await?;
        Ok(SellerTrust {
            seller_id: id.to_string(),
            member_since_ms: created_at,
            days_on_platform: (self.now() - created_at).max(0) / DAY_MS,
            deposit_minor,
            paid_orders,
            completed_orders,
            complaints,
        })
    }

    /// The payment methods a buyer may choose from: those of the configured rails, the
    /// default first.
    pub fn payment_methods(&self) -> Vec<PaymentMethod> {
        self.rails
            .methods()
            .iter()
            .map(|id| PaymentMethod { id: (*id).to_string() })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trust(paid_orders: i64, complaints: i64) -> SellerTrust {
        SellerTrust {
            seller_id: String::new(),
            member_since_ms: 0,
            days_on_platform: 0,
            deposit_minor: 0,
            paid_orders,
            completed_orders: 0,
            complaints,
        }
    }

    #[test]
    fn the_complaint_rate_is_per_paid_order_and_absent_before_any() {
        assert_eq!(trust(0, 0).complaint_rate_bps(), None);
        assert_eq!(trust(4, 1).complaint_rate_bps(), Some(2_500));
        assert_eq!(trust(3, 1).complaint_rate_bps(), Some(3_333));
        assert_eq!(trust(5, 0).complaint_rate_bps(), Some(0));
    }
}
