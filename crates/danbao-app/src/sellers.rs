//! A seller's standing (SPEC §6, fraud response): freeze, unfreeze and ban through the
//! domain's one transition function (`danbao_domain::seller::transition`), whose effects
//! are carried out here on the ledger, in the caller's transaction.

use crate::auth::Caller;
use crate::clock::rfc3339;
use crate::complaints::{require_staff, text_ok};
use crate::evidence::record_event;
use crate::{App, AppError, AppResult};
use danbao_domain::complaint::{Ruling, RulingReason};
use danbao_domain::ledger::rules as posting;
use danbao_domain::seller::{transition, Standing, StandingChange, StandingEffect};
use danbao_domain::{Account, EntryKind, Money, OrderEvent, OrderStatus, Refusal, UserId};
use danbao_store::{SellerStandingRow, Tx};
use serde::Serialize;

/// The seller of a case, for the arbitration desk.
#[derive(Debug, Clone, Serialize)]
pub struct SellerOnCase {
    pub username: String,
    pub standing: StandingView,
}

/// A seller's standing as staff and the seller see it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct StandingView {
    pub seller_id: String,
    /// `active`, `frozen` or `banned`.
    #[schema(value_type = String)]
    pub status: Standing,
    /// Why staff (or the collective rule) changed it; none for a seller never frozen.
    pub reason: Option<String>,
    pub frozen_minor: i64,
    pub updated_at: Option<String>,
}

/// How a banned seller's debt to the platform was covered.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ShortfallView {
    pub owed_minor: i64,
    pub from_frozen_minor: i64,
    pub from_deposit_minor: i64,
    pub from_compensation_fund_minor: i64,
    pub loss_minor: i64,
}

/// The outcome of a ban.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BanView {
    #[serde(flatten)]
    pub standing: StandingView,
    pub orders_refunded: i64,
    pub shortfall: ShortfallView,
}

fn standing_of(row: Option<&SellerStandingRow>) -> AppResult<Standing> {
    match row {
        None => Ok(Standing::Active),
        Some(r) => Standing::parse(&r.status)
            .ok_or_else(|| AppError::Internal(format!("seller {} has standing {:?}", r.seller_id, r.status))),
    }
}

impl App {
    /// The standing of a seller, read in the caller's transaction.
    pub(crate) async fn standing(&self, tx: &mut Tx, seller: &UserId) -> AppResult<Standing> {
        standing_of(tx.seller_standing(seller, false).await?.as_ref())
    }

    /// Whether a seller may take new orders and be paid.
    pub(crate) async fn seller_active(&self, tx: &mut Tx, seller: &UserId) -> AppResult<bool> {
        Ok(self.standing(tx, seller).await?.is_active())
    }

    /// The first lock of the lock order (ARCHITECTURE.md): the seller's standing row,
    /// created if the seller has none. Every transaction that moves a seller's money or
    /// decides by their standing takes it before any order, complaint or account row.
    /// Shared: transactions of one seller's orders take it side by side; a standing
    /// change (`lock_standing_for_change`) waits for them all, and they for it. For a
    /// seller who is frozen or banned it is taken whole (their releases write it).
    pub(crate) async fn lock_standing(&self, tx: &mut Tx, seller: &UserId) -> AppResult<SellerStandingRow> {
        Ok(tx.lock_seller_standing(seller, self.now(), false).await?)
    }

    /// The standing lock of a transaction that writes the standing. One that held it
    /// shared and now takes it whole can deadlock with another doing the same;
    /// PostgreSQL then aborts one, and `retrying` runs it again. A frozen seller's
    /// releases do not: `lock_standing` takes a non-active seller's lock whole at once.
    pub(crate) async fn lock_standing_for_change(&self, tx: &mut Tx, seller: &UserId) -> AppResult<SellerStandingRow> {
        Ok(tx.lock_seller_standing(seller, self.now(), true).await?)
    }

    /// Moves what a frozen (or banned) seller would be paid into frozen instead. The
    /// caller holds the seller's standing lock already (taken first), so the standing
    /// read here cannot change before the commit.
    pub(crate) async fn hold_release_if_frozen(
        &self,
        tx: &mut Tx,
        seller: &UserId,
        amount: Money,
        now: i64,
    ) -> AppResult<()> {
        if !amount.is_positive() {
            return Ok(());
        }
        if self.standing(tx, seller).await?.is_active() {
            return Ok(());
        }
        // Not active: the caller's first `lock_standing` took the lock whole already (the
        // standing row is written below), so this waits for nothing and raises no lock.
        let mut s = self.lock_standing_for_change(tx, seller).await?;
        let entry = posting::seller_transfer(
            EntryKind::SellerFrozen,
            Account::Available(seller.clone()),
            Account::Frozen(seller.clone()),
            amount,
        )?;
        tx.post_entry(&entry, now).await?;
        s.frozen_available_minor += amount.minor();
        s.updated_at = now;
        tx.set_seller_standing(&s).await?;
        Ok(())
    }

    /// What the seller owes the platform is repaid first out of their available balance
    /// (SPEC §7), in the caller's transaction, which holds the seller's standing lock: every
    /// path that puts money into available calls this after it. Returns what was repaid.
    pub(crate) async fn repay_receivable(&self, tx: &mut Tx, seller: &UserId, now: i64) -> AppResult<Money> {
        let receivable = Account::Receivable(seller.clone());
        let owed = Money::from_minor(receivable.normal_balance(tx.account_balance(&receivable).await?));
        if !owed.is_positive() {
            return Ok(Money::ZERO);
        }
        let owed = Money::from_minor(receivable.normal_balance(tx.lock_account(&receivable).await?));
        let available = Account::Available(seller.clone());
        let available = Money::from_minor(available.normal_balance(tx.lock_account(&available).await?));
        match posting::repay_receivable(seller, owed, available)? {
            Some(entry) => {
                tx.post_entry(&entry, now).await?;
                Ok(owed.min(available))
            }
            None => Ok(Money::ZERO),
        }
    }

    /// One standing change and its effects, in the caller's transaction: the money
    /// moves first, then the standing is written (so rulings and refunds below see it),
    /// then a ban's refunds and settlement. Returns, for a ban, how many orders were
    /// refunded and how the seller's debt was covered.
    pub(crate) async fn change_standing(
        &self,
        tx: &mut Tx,
        seller: &UserId,
        change: StandingChange,
        reason: &str,
        by: &str,
        now: i64,
    ) -> AppResult<Option<(i64, ShortfallView)>> {
        let row = self.lock_standing_for_change(tx, seller).await?;
        let from = standing_of(Some(&row))?;
        let (next, effects) = transition(from, change).map_err(Refusal::Standing)?;
        if effects.is_empty() {
            return Ok(None);
        }
        let mut held = Money::from_minor(row.frozen_available_minor);
        for effect in &effects {
            match effect {
                StandingEffect::HoldAvailable => {
                    // Read under the account's row lock: the amount posted is the balance
                    // as it is, not as it was before a payout or release moved it.
                    let available = Account::Available(seller.clone());
                    let amount = Money::from_minor(available.normal_balance(tx.lock_account(&available).await?));
                    if amount.is_positive() {
                        let entry = posting::seller_transfer(
                            EntryKind::SellerFrozen,
                            available,
                            Account::Frozen(seller.clone()),
                            amount,
                        )?;
                        tx.post_entry(&entry, now).await?;
                    }
                    held = held
                        .checked_add(amount)
                        .map_err(|e| AppError::Internal(e.to_string()))?;
                    tx.insert_security_event(
                        "seller_frozen",
                        &serde_json::json!({"seller_id": seller, "reason": reason}).to_string(),
                        now,
                    )
                    .await?;
                }
                StandingEffect::ReturnHeld => {
                    if held.is_positive() {
                        let entry = posting::seller_transfer(
                            EntryKind::SellerUnfrozen,
                            Account::Frozen(seller.clone()),
                            Account::Available(seller.clone()),
                            held,
                        )?;
                        tx.post_entry(&entry, now).await?;
                        self.repay_receivable(tx, seller, now).await?;
                    }
                    held = Money::ZERO;
                }
                StandingEffect::RefundOpenOrders | StandingEffect::SettleReceivable => {}
            }
        }
        tx.set_seller_standing(&SellerStandingRow {
            seller_id: seller.clone(),
            status: next.as_str().to_string(),
            reason: reason.to_string(),
            frozen_available_minor: held.minor(),
            updated_at: now,
        })
        .await?;
        let mut refunded = None;
        let mut shortfall = None;
        for effect in effects {
            match effect {
                StandingEffect::RefundOpenOrders => {
                    refunded = Some(self.refund_open_orders(tx, seller, reason, by, now).await?);
                }
                StandingEffect::SettleReceivable => {
                    shortfall = Some(self.settle_banned_receivable(tx, seller, now).await?);
                }
                StandingEffect::HoldAvailable | StandingEffect::ReturnHeld => {}
            }
        }
        Ok(refunded.zip(shortfall))
    }

    /// A ban refunds every open order in full: open complaints by a full-refund ruling,
    /// other paid orders from escrow. The caller holds the seller's standing lock, so no
    /// other money-moving transaction of this seller runs meanwhile; each order (then its
    /// complaint) is still locked and read again before it is changed, in the lock order.
    async fn refund_open_orders(
        &self,
        tx: &mut Tx,
        seller: &UserId,
        reason: &str,
        by: &str,
        now: i64,
    ) -> AppResult<i64> {
        let ground = RulingReason::SellerBanned {
            text: reason.to_string(),
        };
        for seen in tx.open_complaints_of_seller(seller).await? {
            tx.order(&seen.order_id, true).await?;
            let Some(mut c) = tx.complaint(&seen.id, true).await? else {
                continue;
            };
            if !danbao_domain::complaint::Stage::parse(&c.stage).is_some_and(|s| s.is_open()) {
                continue;
            }
            self.rule_in(tx, &mut c, Ruling::RefundFull, by, &ground, now).await?;
        }
        let mut refunded = 0;
        for seen in tx.open_orders_of_seller(seller).await? {
            let Some(mut order) = tx.order(&seen.id, true).await? else {
                continue;
            };
            if !matches!(order.status, OrderStatus::Paid | OrderStatus::Delivered) {
                continue;
            }
            let rules = self.rules_version(tx, order.rule_version).await?;
            record_event(
                tx,
                &order.id,
                "seller_banned",
                serde_json::json!({"reason_sha256": crate::evidence::reason_hash(Some(reason))}),
                now,
            )
            .await?;
            self.apply_event(tx, &mut order, OrderEvent::SellerBanned, &rules, now)
                .await?;
            refunded += 1;
        }
        Ok(refunded)
    }

    /// After a ban: what the seller owes is covered by the money the freeze held, then
    /// the deposit, then the compensation fund; the rest is the platform's loss. Each
    /// balance is read under its row lock: the fund is shared by every seller, and an
    /// amount read without the lock could be stale by the time it is posted.
    async fn settle_banned_receivable(&self, tx: &mut Tx, seller: &UserId, now: i64) -> AppResult<ShortfallView> {
        let receivable = Account::Receivable(seller.clone());
        let mut owed = Money::from_minor(receivable.normal_balance(tx.lock_account(&receivable).await?));
        let mut from_frozen = Money::ZERO;
        if let Some(mut standing) = tx.seller_standing(seller, true).await? {
            from_frozen = owed.min(Money::from_minor(standing.frozen_available_minor.max(0)));
            if from_frozen.is_positive() {
                let e = posting::seller_transfer(
                    EntryKind::ReceivableSettled,
                    Account::Frozen(seller.clone()),
                    Account::Receivable(seller.clone()),
                    from_frozen,
                )?;
                tx.post_entry(&e, now).await?;
                standing.frozen_available_minor -= from_frozen.minor();
                tx.set_seller_standing(&standing).await?;
                owed = owed
                    .checked_sub(from_frozen)
                    .map_err(|e| AppError::Internal(e.to_string()))?;
            }
        }
        let deposit_account = Account::Deposit(seller.clone());
        let deposit = Money::from_minor(deposit_account.normal_balance(tx.lock_account(&deposit_account).await?));
        let fund = Money::from_minor(
            Account::CompensationFund.normal_balance(tx.lock_account(&Account::CompensationFund).await?),
        );
        let (entry, [from_deposit, from_fund, loss]) = posting::settle_receivable(seller, owed, deposit, fund)?;
        if let Some(e) = entry {
            tx.post_entry(&e, now).await?;
        }
        Ok(ShortfallView {
            owed_minor: owed.minor() + from_frozen.minor(),
            from_frozen_minor: from_frozen.minor(),
            from_deposit_minor: from_deposit.minor(),
            from_compensation_fund_minor: from_fund.minor(),
            loss_minor: loss.minor(),
        })
    }

    /// The seller behind a case, as the arbitration desk shows it beside the case: who
    /// they are and their standing (to freeze or unfreeze them from there). Staff only:
    /// a seller's standing and frozen money are not the public's business.
    pub async fn seller_on_case(&self, caller: &Caller, seller_id: &str) -> AppResult<SellerOnCase> {
        require_staff(caller)?;
        let id = UserId::parse(seller_id).ok_or(AppError::NotFound("seller"))?;
        let mut tx = self.store.begin().await?;
        let user = tx.user_by_id(&id).await?;
        tx.commit().await?;
        let username = match user {
            Some(u) if u.role == "seller" => u.username,
            _ => return Err(AppError::NotFound("seller")),
        };
        Ok(SellerOnCase {
            username,
            standing: self.standing_view(&id).await?,
        })
    }

    /// Emergency freeze: listings hidden, new orders and releases stopped, the available
    /// balance held. Refunds to buyers still flow.
    pub async fn freeze_seller(&self, caller: &Caller, seller_id: &str, reason: &str) -> AppResult<StandingView> {
        self.staff_changes_standing(caller, seller_id, StandingChange::Freeze, reason)
            .await
            .map(|(v, _)| v)
    }

    pub async fn unfreeze_seller(&self, caller: &Caller, seller_id: &str, reason: &str) -> AppResult<StandingView> {
        self.staff_changes_standing(caller, seller_id, StandingChange::Unfreeze, reason)
            .await
            .map(|(v, _)| v)
    }

    /// Confirmed fraud: the seller is banned (one-way) and every open order is refunded
    /// in full. What a refund took beyond the seller's own money is covered by the
    /// deposit, then the compensation fund, the rest booked as a loss.
    pub async fn ban_seller(&self, caller: &Caller, seller_id: &str, reason: &str) -> AppResult<BanView> {
        let (standing, outcome) = self
            .staff_changes_standing(caller, seller_id, StandingChange::Ban, reason)
            .await?;
        let (orders_refunded, shortfall) = outcome.ok_or_else(|| AppError::Internal("a ban settled nothing".into()))?;
        Ok(BanView {
            standing,
            orders_refunded,
            shortfall,
        })
    }

    /// The collective-complaint rule's freeze, in the complaint's transaction.
    pub(crate) async fn freeze_seller_in(&self, tx: &mut Tx, seller: &UserId, reason: &str, now: i64) -> AppResult<()> {
        self.change_standing(tx, seller, StandingChange::Freeze, reason, "system:collective", now)
            .await?;
        Ok(())
    }

    async fn staff_changes_standing(
        &self,
        caller: &Caller,
        seller_id: &str,
        change: StandingChange,
        reason: &str,
    ) -> AppResult<(StandingView, Option<(i64, ShortfallView)>)> {
        self.retrying(|| self.staff_changes_standing_once(caller, seller_id, change, reason))
            .await
    }

    async fn staff_changes_standing_once(
        &self,
        caller: &Caller,
        seller_id: &str,
        change: StandingChange,
        reason: &str,
    ) -> AppResult<(StandingView, Option<(i64, ShortfallView)>)> {
        let staff = require_staff(caller)?.clone();
        // A ban is one-way and refunds everything: an admin's decision, not an
        // arbitrator's (who may freeze and unfreeze).
        if change == StandingChange::Ban && staff.role != crate::auth::Role::Admin {
            return Err(AppError::Forbidden("admins only"));
        }
        text_ok("reason", reason)?;
        let seller = self.seller_user(seller_id).await?;
        let now = self.now();
        let mut tx = self.store.begin().await?;
        let by = format!("user:{}", staff.id);
        let outcome = self.change_standing(&mut tx, &seller, change, reason, &by, now).await?;
        // A person has now decided on this seller: an automatic freeze awaiting review is
        // confirmed (freeze, ban) or lifted (unfreeze) by it.
        self.settle_collective_reviews(&mut tx, &seller, change, &by, now)
            .await?;
        tx.commit().await?;
        Ok((self.standing_view(&seller).await?, outcome))
    }

    async fn seller_user(&self, seller_id: &str) -> AppResult<UserId> {
        let id = UserId::parse(seller_id).ok_or(AppError::NotFound("seller"))?;
        let mut tx = self.store.begin().await?;
        let user = tx.user_by_id(&id).await?;
        tx.commit().await?;
        match user {
            Some(u) if u.role == "seller" => Ok(id),
            _ => Err(AppError::NotFound("seller")),
        }
    }

    pub(crate) async fn standing_view(&self, seller: &UserId) -> AppResult<StandingView> {
        let mut tx = self.store.begin().await?;
        let s = tx.seller_standing(seller, false).await?;
        let frozen = Account::Frozen(seller.clone());
        let frozen = frozen.normal_balance(tx.account_balance(&frozen).await?);
        tx.commit().await?;
        Ok(StandingView {
            seller_id: seller.to_string(),
            status: standing_of(s.as_ref())?,
            // A row with no reason was only created to be locked: never changed.
            reason: s.as_ref().map(|s| s.reason.clone()).filter(|r| !r.is_empty()),
            frozen_minor: frozen,
            updated_at: s.as_ref().map(|s| rfc3339(s.updated_at)),
        })
    }
}
