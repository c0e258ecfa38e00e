//! A seller's money (SPEC §7): balances, the security deposit (保证金), withdrawals
//! (提现) paid out through the provider and confirmed asynchronously, and the platform's
//! compensation fund (先行赔付).

use crate::auth::{Caller, Role};
use crate::jobs::{Job, JobFailure};
use crate::{App, AppError, AppResult};
use danbao_domain::ledger::rules as posting;
use danbao_domain::{Account, EntryKind, Money, Refusal, Standing, UserId, WithdrawalId};
use danbao_store::Tx;
use serde::Serialize;

/// The smallest withdrawal: ¥10 (SPEC §7).
pub const WITHDRAWAL_MINOR_MIN: i64 = 1_000;

fn seller_of(caller: &Caller) -> AppResult<UserId> {
    match caller {
        Caller::User(u) if u.role == Role::Seller => Ok(u.id.clone()),
        Caller::User(_) => Err(AppError::Forbidden("sellers only")),
        _ => Err(AppError::Unauthenticated),
    }
}

async fn balance_of(tx: &mut Tx, account: &Account) -> AppResult<i64> {
    Ok(account.normal_balance(tx.account_balance(account).await?))
}

fn positive(field: &'static str, amount_minor: i64) -> AppResult<Money> {
    if amount_minor <= 0 || amount_minor > 100_000_000_000 {
        return Err(AppError::invalid(field, "a positive amount in minor units"));
    }
    Ok(Money::from_minor(amount_minor))
}

/// A seller's money, as the seller reads it (each figure the account's normal balance).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BalanceView {
    pub available_minor: i64,
    pub escrow_minor: i64,
    pub frozen_minor: i64,
    pub deposit_minor: i64,
    /// What the seller owes the platform (a receivable).
    pub owed_minor: i64,
    /// Released to the seller but not yet withdrawable: each order's part waits out its
    /// after-sales window (the rolling reserve), then moves to available.
    pub reserved_minor: i64,
    /// `active`, `frozen` or `banned`.
    #[schema(value_type = String)]
    pub standing: Standing,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct WithdrawalView {
    pub id: String,
    pub amount_minor: i64,
    pub status: &'static str,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CompensationFundView {
    pub compensation_fund_minor: i64,
}

impl App {
    pub async fn seller_balance(&self, caller: &Caller) -> AppResult<BalanceView> {
        let seller = seller_of(caller)?;
        let mut tx = self.store.begin().await?;
        let v = BalanceView {
            available_minor: balance_of(&mut tx, &Account::Available(seller.clone())).await?,
            escrow_minor: balance_of(&mut tx, &Account::Escrow(seller.clone())).await?,
            frozen_minor: balance_of(&mut tx, &Account::Frozen(seller.clone())).await?,
            deposit_minor: balance_of(&mut tx, &Account::Deposit(seller.clone())).await?,
            owed_minor: balance_of(&mut tx, &Account::Receivable(seller.clone())).await?,
            reserved_minor: balance_of(&mut tx, &Account::Reserve(seller.clone())).await?,
            standing: self.standing(&mut tx, &seller).await?,
        };
        tx.commit().await?;
        Ok(v)
    }

    /// Locks part of the available balance as the security deposit, which pays buyers
    /// first when the seller's own funds fall short (retried whole if the database
    /// aborts it).
    pub async fn lock_deposit(&self, caller: &Caller, amount_minor: i64) -> AppResult<BalanceView> {
        self.retrying(|| self.lock_deposit_once(caller, amount_minor)).await?;
        self.seller_balance(caller).await
    }

    async fn lock_deposit_once(&self, caller: &Caller, amount_minor: i64) -> AppResult<()> {
        let seller = seller_of(caller)?;
        let amount = positive("amount_minor", amount_minor)?;
        let mut tx = self.store.begin().await?;
        // The lock order: the seller's standing before their accounts.
        self.lock_standing(&mut tx, &seller).await?;
        let entry = posting::seller_transfer(
            EntryKind::DepositLocked,
            Account::Available(seller.clone()),
            Account::Deposit(seller),
            amount,
        )?;
        tx.post_entry(&entry, self.now()).await.map_err(|e| match e {
            danbao_store::StoreError::Ledger(_) => AppError::Refused(Refusal::InsufficientBalance),
            other => other.into(),
        })?;
        tx.commit().await?;
        Ok(())
    }

    /// Takes the whole deposit back into the available balance: only after the rule set's
    /// quiet period with no open order or complaint (SPEC §7), never while frozen or
    /// banned; what the seller owes is repaid from it first. Retried whole if the database
    /// aborts it.
    pub async fn release_deposit(&self, caller: &Caller) -> AppResult<BalanceView> {
        self.retrying(|| self.release_deposit_once(caller)).await?;
        self.seller_balance(caller).await
    }

    async fn release_deposit_once(&self, caller: &Caller) -> AppResult<()> {
        let seller = seller_of(caller)?;
        let now = self.now();
        let mut tx = self.store.begin().await?;
        let row = self.lock_standing(&mut tx, &seller).await?;
        let standing = Standing::parse(&row.status)
            .ok_or_else(|| AppError::Internal(format!("seller {seller} has standing {:?}", row.status)))?;
        if !standing.is_active() {
            return Err(Refusal::WithdrawalsStopped { standing }.into());
        }
        let (open_orders, open_complaints, last) = tx.seller_deposit_activity(&seller).await?;
        danbao_domain::seller::deposit_release(open_orders, open_complaints, last, &self.current_rules(), now)
            .map_err(Refusal::DepositHeld)?;
        let deposit = Account::Deposit(seller.clone());
        let amount = Money::from_minor(deposit.normal_balance(tx.lock_account(&deposit).await?));
        if !amount.is_positive() {
            return Err(Refusal::InsufficientBalance.into());
        }
        let entry = posting::seller_transfer(
            EntryKind::DepositReleased,
            deposit,
            Account::Available(seller.clone()),
            amount,
        )?;
        tx.post_entry(&entry, now).await?;
        self.repay_receivable(&mut tx, &seller, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// A withdrawal: refused while frozen or banned; the money waits in payouts pending
    /// until the provider confirms, and comes back if the payout fails for good.
    /// Retried whole if the database aborts it.
    pub async fn withdraw(&self, caller: &Caller, amount_minor: i64) -> AppResult<WithdrawalView> {
        self.retrying(|| self.withdraw_once(caller, amount_minor)).await
    }

    async fn withdraw_once(&self, caller: &Caller, amount_minor: i64) -> AppResult<WithdrawalView> {
        let seller = seller_of(caller)?;
        let amount = positive("amount_minor", amount_minor)?;
        if amount.minor() < WITHDRAWAL_MINOR_MIN {
            return Err(AppError::invalid(
                "amount_minor",
                format!("at least {WITHDRAWAL_MINOR_MIN} (¥10)"),
            ));
        }
        let now = self.now();
        let id = WithdrawalId::generate();
        // Paid out through the first rail; with none configured the request waits (its
        // job retries) until one is.
        let provider = self.rails.payout_rail().map_or("none", |r| r.name());
        let mut tx = self.store.begin().await?;
        // Decided under the standing lock, so a freeze either comes first (and this is
        // refused) or after (and holds what this leaves).
        let row = self.lock_standing(&mut tx, &seller).await?;
        let standing = Standing::parse(&row.status)
            .ok_or_else(|| AppError::Internal(format!("seller {seller} has standing {:?}", row.status)))?;
        if !standing.is_active() {
            return Err(Refusal::WithdrawalsStopped { standing }.into());
        }
        let entry = posting::seller_transfer(
            EntryKind::WithdrawalRequested,
            Account::Available(seller.clone()),
            Account::PayoutsPending(provider.to_string()),
            amount,
        )?;
        tx.post_entry(&entry, now).await.map_err(|e| match e {
            danbao_store::StoreError::Ledger(_) => AppError::Refused(Refusal::InsufficientBalance),
            other => other.into(),
        })?;
        tx.insert_withdrawal(&id, &seller, provider, amount, now).await?;
        Job::Payout(id.clone()).enqueue(&mut tx, now, now).await?;
        tx.commit().await?;
        Ok(WithdrawalView {
            id: id.to_string(),
            amount_minor: amount.minor(),
            status: "requested",
        })
    }

    /// The payout job: at the provider first (request id from the withdrawal), then booked.
    /// Each booking transaction is retried whole if the database aborts it.
    pub(crate) async fn execute_payout(&self, id: &WithdrawalId) -> Result<(), JobFailure> {
        let mut tx = self.store.begin().await.map_err(AppError::from)?;
        let w = tx.withdrawal(id, false).await.map_err(AppError::from)?;
        tx.commit().await.map_err(AppError::from)?;
        let Some(w) = w else {
            return Ok(());
        };
        let (seller, provider, amount) = (w.seller_id, w.provider, w.amount);
        if w.status != "requested" {
            return Ok(());
        }
        let account = self.payout_account_of(&seller).await?;
        let paid = self
            .rail(&provider)?
            .payout(format!("payout-{id}"), amount, account)
            .await;
        if let Err(e) = paid {
            return match e {
                // Refused for good: the money goes back to the seller.
                crate::payments::ProviderError::Rejected(why) => Ok(self
                    .retrying(|| self.return_payout(id, &seller, &provider, amount, &why))
                    .await?),
                crate::payments::ProviderError::Unavailable(e) => Err(JobFailure::Outage(e)),
                other => Err(JobFailure::Retry(other.to_string())),
            };
        }
        Ok(self.retrying(|| self.confirm_payout(id, &provider, amount)).await?)
    }

    async fn confirm_payout(&self, id: &WithdrawalId, provider: &str, amount: Money) -> AppResult<()> {
        let now = self.now();
        let mut tx = self.store.begin().await?;
        if let Some(w) = tx.withdrawal(id, true).await? {
            if w.status == "requested" {
                let entry = posting::seller_transfer(
                    EntryKind::WithdrawalConfirmed,
                    Account::PayoutsPending(provider.to_string()),
                    Account::Provider(provider.to_string()),
                    amount,
                )?;
                tx.post_entry(&entry, now).await?;
                tx.settle_withdrawal(id, "confirmed", now).await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// A payout refused for good: the money goes back to the seller's available balance
    /// (held at once if the seller is frozen meanwhile), under the standing lock like any
    /// movement of a seller's money.
    async fn return_payout(
        &self,
        id: &WithdrawalId,
        seller: &UserId,
        provider: &str,
        amount: Money,
        why: &str,
    ) -> AppResult<()> {
        let now = self.now();
        let mut tx = self.store.begin().await?;
        self.lock_standing(&mut tx, seller).await?;
        if let Some(w) = tx.withdrawal(id, true).await? {
            if w.status == "requested" {
                let entry = posting::seller_transfer(
                    EntryKind::WithdrawalReturned,
                    Account::PayoutsPending(provider.to_string()),
                    Account::Available(seller.clone()),
                    amount,
                )?;
                tx.post_entry(&entry, now).await?;
                self.hold_release_if_frozen(&mut tx, seller, amount, now).await?;
                self.repay_receivable(&mut tx, seller, now).await?;
                tx.settle_withdrawal(id, "returned", now).await?;
                tracing::warn!(
                    withdrawal = id.as_str(),
                    reason = why,
                    "payout refused; money returned to the seller"
                );
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// Moves platform fee income into the compensation fund (retried whole if the
    /// database aborts it).
    pub async fn fund_compensation(&self, caller: &Caller, amount_minor: i64) -> AppResult<CompensationFundView> {
        match caller {
            Caller::User(u) if u.role == Role::Admin => {}
            Caller::User(_) => return Err(AppError::Forbidden("admins only")),
            _ => return Err(AppError::Unauthenticated),
        }
        let amount = positive("amount_minor", amount_minor)?;
        self.retrying(|| self.fund_compensation_once(amount)).await
    }

    async fn fund_compensation_once(&self, amount: Money) -> AppResult<CompensationFundView> {
        let mut tx = self.store.begin().await?;
        // Under the row lock: a complaint on a completed order takes its fee back from
        // the platform's fees, so a figure read without it could be stale when posted.
        let fees = Account::PlatformFees.normal_balance(tx.lock_account(&Account::PlatformFees).await?);
        if fees < amount.minor() {
            return Err(Refusal::FeesShort {
                fees: Money::from_minor(fees),
            }
            .into());
        }
        let entry = posting::seller_transfer(
            EntryKind::CompensationFunded,
            Account::PlatformFees,
            Account::CompensationFund,
            amount,
        )?;
        tx.post_entry(&entry, self.now()).await?;
        let fund = balance_of(&mut tx, &Account::CompensationFund).await?;
        tx.commit().await?;
        Ok(CompensationFundView {
            compensation_fund_minor: fund,
        })
    }
}
