//! The seller back office's use cases: the dashboard's figures, the order list with its
//! filters, the complaints, the card keys (masked) and their removal, withdrawals and the
//! statement. Every one is the calling seller's own; the rules are in
//! `danbao_domain::backoffice`.

use crate::auth::{Caller, Role};
use crate::clock::rfc3339;
use crate::money::BalanceView;
use crate::orders::{order_view, require_role, OrderView, ProductView};
use crate::{App, AppError, AppResult};
use danbao_domain::backoffice::{daily_sales, day_start, mask_card_key, DaySales, DAY_MS};
use danbao_domain::ledger::Account;
use danbao_domain::order::Party;
use danbao_domain::{OrderStatus, ProductId};
use serde::Serialize;

/// Rows a back-office list shows at most (newest first); older ones by filtering.
pub const BACKOFFICE_LIST_MAX: i64 = 200;
/// Lines a statement holds at most; a longer period is asked for in parts.
pub const STATEMENT_LINES_MAX: i64 = 5_000;
/// A product with fewer unsold keys than this is flagged on the dashboard.
pub const LOW_STOCK_BELOW: i64 = 5;
/// The dashboard's chart covers this many days.
pub const CHART_DAYS: usize = 30;

/// What the seller sees first.
#[derive(Debug, Clone)]
pub struct SellerDashboard {
    pub today: DaySales,
    pub last_30_days_orders: i64,
    pub last_30_days_minor: i64,
    /// The chart: one entry per day, oldest first.
    pub daily: Vec<DaySales>,
    /// Paid manual orders waiting for the seller, the nearest deadline first.
    pub awaiting_delivery: Vec<OrderView>,
    /// Open complaints, the nearest deadline first.
    pub open_complaints: Vec<ComplaintLine>,
    pub balance: BalanceView,
    /// Card-key products listed for sale with fewer than `LOW_STOCK_BELOW` keys left.
    pub low_stock: Vec<ProductView>,
}

/// A complaint as a line of the seller's list.
#[derive(Debug, Clone, Serialize)]
pub struct ComplaintLine {
    pub id: String,
    pub order_id: String,
    pub kind: String,
    pub stage: String,
    pub amount_minor: i64,
    pub deadline_at: Option<String>,
    pub deadline_ms: Option<i64>,
    pub created_at: String,
    pub open: bool,
}

/// The order list's filters.
#[derive(Debug, Clone, Default)]
pub struct OrderFilter {
    pub status: Option<OrderStatus>,
    /// An order number's beginning or part of the buyer's contact.
    pub search: Option<String>,
}

/// A card key as the seller's list shows it.
#[derive(Debug, Clone, Serialize)]
pub struct CardKeyLine {
    pub id: String,
    pub masked: String,
    pub sold: bool,
    pub order_id: Option<String>,
    pub imported_at: String,
}

/// A withdrawal as the seller's history shows it.
#[derive(Debug, Clone, Serialize)]
pub struct WithdrawalLine {
    pub id: String,
    pub amount_minor: i64,
    /// requested, confirmed, returned.
    pub status: String,
    pub requested_at: String,
    pub settled_at: Option<String>,
}

/// One posting to one of the seller's accounts.
#[derive(Debug, Clone, Serialize)]
pub struct StatementLine {
    pub at: String,
    pub kind: String,
    pub order_id: Option<String>,
    /// escrow, available, reserve, frozen, deposit, receivable.
    pub account: String,
    /// Positive: money to the seller; negative: out of this account.
    pub amount_minor: i64,
}

fn complaint_line(c: danbao_store::ComplaintRow) -> ComplaintLine {
    ComplaintLine {
        id: c.id.to_string(),
        order_id: c.order_id.to_string(),
        open: c.resolved_at.is_none(),
        kind: c.kind,
        stage: c.stage,
        amount_minor: c.amount.minor(),
        deadline_at: c.deadline_at.map(rfc3339),
        deadline_ms: c.deadline_at,
        created_at: rfc3339(c.created_at),
    }
}

/// A seller's record as the arbitration desk weighs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct SellerHistory {
    pub paid_orders: i64,
    pub complaints: i64,
    /// Complaints ruled a full refund to the buyer.
    pub lost: i64,
}

impl SellerHistory {
    /// Complaints per paid order, in basis points; none before the first paid order.
    pub fn complaint_rate_bps(&self) -> Option<i64> {
        (self.paid_orders > 0).then(|| self.complaints.saturating_mul(10_000) / self.paid_orders)
    }
}

impl App {
    /// The complaint history of each of these sellers (staff: the arbitration queue).
    pub async fn seller_histories(
        &self,
        caller: &Caller,
        sellers: &[String],
    ) -> AppResult<std::collections::BTreeMap<String, SellerHistory>> {
        crate::complaints::require_staff(caller)?;
        let mut ids: Vec<String> = sellers.to_vec();
        ids.sort();
        ids.dedup();
        let mut tx = self.store.begin().await?;
        let rows = tx.seller_histories(&ids).await?;
        tx.commit().await?;
        Ok(rows
            .into_iter()
            .map(|(id, paid_orders, complaints, lost)| {
                (
                    id,
                    SellerHistory {
                        paid_orders,
                        complaints,
                        lost,
                    },
                )
            })
            .collect())
    }

    pub async fn seller_dashboard(&self, caller: &Caller) -> AppResult<SellerDashboard> {
        let seller = require_role(caller, Role::Seller)?.id.clone();
        let now = self.now();
        let since = day_start(now) - (CHART_DAYS as i64 - 1) * DAY_MS;
        let mut tx = self.store.begin().await?;
        let sales = tx.seller_sales_since(&seller, since).await?;
        let paid = tx
            .seller_orders(&seller, Some(OrderStatus::Paid.as_str()), None, BACKOFFICE_LIST_MAX)
            .await?;
        let mut open: Vec<ComplaintLine> = tx
            .open_complaints_of_seller(&seller)
            .await?
            .into_iter()
            .map(complaint_line)
            .collect();
        let products = tx.products_by_seller(&seller).await?;
        tx.commit().await?;
        let daily = daily_sales(&sales, now, CHART_DAYS);
        let mut paid: Vec<_> = paid.into_iter().filter(|o| o.delivery_kind == "manual").collect();
        paid.sort_by_key(|o| o.deliver_by.unwrap_or(i64::MAX));
        let awaiting = paid
            .into_iter()
            .map(|o| order_view(o, Party::Seller, None, Vec::new()))
            .collect();
        open.sort_by_key(|c| c.deadline_ms.unwrap_or(i64::MAX));
        let balance = self.seller_balance(caller).await?;
        Ok(SellerDashboard {
            today: daily.last().copied().unwrap_or(DaySales {
                day: day_start(now),
                orders: 0,
                amount: danbao_domain::Money::ZERO,
            }),
            last_30_days_orders: daily.iter().map(|d| d.orders).sum(),
            last_30_days_minor: daily.iter().map(|d| d.amount.minor()).sum(),
            daily,
            awaiting_delivery: awaiting,
            open_complaints: open,
            balance,
            low_stock: products
                .into_iter()
                .map(ProductView::from_row)
                .filter(|p| p.status == "active" && p.stock.is_some_and(|s| s < LOW_STOCK_BELOW))
                .collect(),
        })
    }

    /// The seller's orders, newest first, filtered.
    pub async fn seller_orders(&self, caller: &Caller, filter: &OrderFilter) -> AppResult<Vec<OrderView>> {
        let seller = require_role(caller, Role::Seller)?.id.clone();
        let search = filter.search.as_deref().map(str::trim).filter(|s| !s.is_empty());
        if search.is_some_and(|s| s.chars().count() > 64) {
            return Err(AppError::invalid("search", "at most 64 characters"));
        }
        let mut tx = self.store.begin().await?;
        let rows = tx
            .seller_orders(
                &seller,
                filter.status.map(OrderStatus::as_str),
                search,
                BACKOFFICE_LIST_MAX,
            )
            .await?;
        tx.commit().await?;
        Ok(rows
            .into_iter()
            .map(|o| order_view(o, Party::Seller, None, Vec::new()))
            .collect())
    }

    /// The seller's complaints, open ones first (nearest deadline first), then the rest
    /// newest first.
    pub async fn seller_complaints(&self, caller: &Caller) -> AppResult<Vec<ComplaintLine>> {
        let seller = require_role(caller, Role::Seller)?.id.clone();
        let mut tx = self.store.begin().await?;
        let rows = tx.complaints_of_seller(&seller, BACKOFFICE_LIST_MAX).await?;
        tx.commit().await?;
        let mut lines: Vec<ComplaintLine> = rows.into_iter().map(complaint_line).collect();
        lines.sort_by_key(|c| (!c.open, if c.open { c.deadline_ms.unwrap_or(i64::MAX) } else { 0 }));
        Ok(lines)
    }

    /// A product's card keys, masked, unsold first.
    pub async fn card_keys(&self, caller: &Caller, product_id: &str) -> AppResult<Vec<CardKeyLine>> {
        let seller = require_role(caller, Role::Seller)?.id.clone();
        let id = ProductId::parse(product_id).ok_or(AppError::NotFound("product"))?;
        let mut tx = self.store.begin().await?;
        tx.product(&id, false)
            .await?
            .filter(|p| p.seller_id == seller)
            .ok_or(AppError::NotFound("product"))?;
        let rows = tx.card_keys_of_product(&id, BACKOFFICE_LIST_MAX).await?;
        tx.commit().await?;
        rows.into_iter()
            .map(|k| {
                let plain = self
                    .vault
                    .decrypt(&k.key_id, &k.nonce, &k.ciphertext)
                    .map_err(|e| AppError::Internal(e.to_string()))?;
                Ok(CardKeyLine {
                    id: k.id,
                    masked: mask_card_key(&plain),
                    sold: k.order_id.is_some(),
                    order_id: k.order_id,
                    imported_at: rfc3339(k.created_at),
                })
            })
            .collect()
    }

    /// Removes an unsold key. Refused when every unsold key is held by an unpaid order
    /// (the stock would go below what buyers are paying for).
    pub async fn remove_card_key(&self, caller: &Caller, product_id: &str, key_id: &str) -> AppResult<()> {
        self.retrying(|| self.remove_card_key_once(caller, product_id, key_id))
            .await
    }

    async fn remove_card_key_once(&self, caller: &Caller, product_id: &str, key_id: &str) -> AppResult<()> {
        let seller = require_role(caller, Role::Seller)?.id.clone();
        let id = ProductId::parse(product_id).ok_or(AppError::NotFound("product"))?;
        let mut tx = self.store.begin().await?;
        tx.product(&id, true)
            .await?
            .filter(|p| p.seller_id == seller)
            .ok_or(AppError::NotFound("product"))?;
        if !tx.reserve_stock(&id, 1).await? {
            return Err(danbao_domain::Refusal::KeysHeldByOrders.into());
        }
        if !tx.delete_unsold_card_key(&id, key_id).await? {
            return Err(AppError::NotFound("card key"));
        }
        tx.commit().await?;
        Ok(())
    }

    /// The seller's withdrawals, newest first.
    pub async fn seller_withdrawals(&self, caller: &Caller) -> AppResult<Vec<WithdrawalLine>> {
        let seller = require_role(caller, Role::Seller)?.id.clone();
        let mut tx = self.store.begin().await?;
        let rows = tx.withdrawals_of_seller(&seller, BACKOFFICE_LIST_MAX).await?;
        tx.commit().await?;
        Ok(rows
            .into_iter()
            .map(|(w, requested, settled)| WithdrawalLine {
                id: w.id.to_string(),
                amount_minor: w.amount.minor(),
                status: w.status,
                requested_at: rfc3339(requested),
                settled_at: settled.map(rfc3339),
            })
            .collect())
    }

    /// Every movement of the seller's money in [from, to) (ms), oldest first, each as
    /// seen from the seller (positive: more for the seller in that account).
    pub async fn seller_statement(&self, caller: &Caller, from: i64, to: i64) -> AppResult<Vec<StatementLine>> {
        let seller = require_role(caller, Role::Seller)?.id.clone();
        if from >= to {
            return Err(AppError::invalid("to", "the period must end after it starts"));
        }
        let accounts = [
            Account::Escrow(seller.clone()),
            Account::Available(seller.clone()),
            Account::Reserve(seller.clone()),
            Account::Frozen(seller.clone()),
            Account::Deposit(seller.clone()),
            Account::Receivable(seller.clone()),
        ];
        let names: Vec<String> = accounts.iter().map(ToString::to_string).collect();
        let mut tx = self.store.begin().await?;
        let rows = tx.postings_between(&names, from, to, STATEMENT_LINES_MAX).await?;
        tx.commit().await?;
        Ok(rows
            .into_iter()
            .filter_map(|(at, kind, order_id, account, raw)| {
                if !names.contains(&account) {
                    return None;
                }
                // A credit is more for the seller in every one of these accounts: their
                // own money grows with credits, and what they owe (a debit-normal
                // receivable) shrinks.
                let for_seller = -raw;
                Some(StatementLine {
                    at: rfc3339(at),
                    kind,
                    order_id,
                    account: account.split(':').next().unwrap_or_default().to_string(),
                    amount_minor: for_seller,
                })
            })
            .collect())
    }
}

/// A seller's calendar date (China time), `YYYY-MM-DD`, for the statement's period.
pub fn seller_date(ms: i64) -> String {
    let offset = time::UtcOffset::from_whole_seconds((danbao_domain::backoffice::SELLER_DAY_OFFSET_MS / 1000) as i32)
        .unwrap_or(time::UtcOffset::UTC);
    time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .map(|t| t.to_offset(offset).date().to_string())
        .unwrap_or_default()
}

/// The start (ms) of a seller's calendar date given as `YYYY-MM-DD`; none if it is not one.
pub fn seller_day_of(date: &str) -> Option<i64> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let d = time::Date::parse(date.trim(), &format).ok()?;
    let utc_midnight = d.midnight().assume_utc().unix_timestamp() * 1000;
    Some(utc_midnight - danbao_domain::backoffice::SELLER_DAY_OFFSET_MS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_complaint_rate_is_per_paid_order() {
        let h = SellerHistory {
            paid_orders: 40,
            complaints: 3,
            lost: 1,
        };
        assert_eq!(h.complaint_rate_bps(), Some(750));
        assert_eq!(SellerHistory::default().complaint_rate_bps(), None);
    }

    #[test]
    fn seller_dates_are_china_dates() {
        // 2026-01-01T16:00:00Z is 2026-01-02 00:00 in Beijing.
        assert_eq!(seller_day_of("2026-01-02"), Some(1_767_283_200_000));
        assert_eq!(seller_date(1_767_283_200_000), "2026-01-02");
        assert_eq!(seller_date(1_767_283_199_999), "2026-01-01");
        assert_eq!(seller_day_of("2026-13-01"), None);
        assert_eq!(seller_day_of("yesterday"), None);
    }
}
