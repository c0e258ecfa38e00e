//! A seller's money (SPEC §7): balances, the security deposit (保证金), withdrawals
//! (提现) paid out through the provider and confirmed asynchronously, and the platform's
//! compensation fund (先行赔付).

use crate::auth::{Caller, Role};
use crate::jobs::Job;
use crate::{App, AppError, AppResult};
use danbao_domain::ledger::rules as posting;
use danbao_domain::{Account, EntryKind, Money, UserId};
use danbao_store::Tx;

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

impl App {
    pub async fn seller_balance(&self, caller: &Caller) -> AppResult<serde_json::Value> {
        let seller = seller_of(caller)?;
        let mut tx = self.store.begin().await?;
        let v = serde_json::json!({
            "available_minor": balance_of(&mut tx, &Account::Available(seller.clone())).await?,
            "escrow_minor": balance_of(&mut tx, &Account::Escrow(seller.clone())).await?,
            "frozen_minor": balance_of(&mut tx, &Account::Frozen(seller.clone())).await?,
            "deposit_minor": balance_of(&mut tx, &Account::Deposit(seller.clone())).await?,
            "owed_minor": balance_of(&mut tx, &Account::Receivable(seller.clone())).await?,
            "standing": tx.seller_standing(&seller, false).await?.map(|s| s.status).unwrap_or_else(|| "active".into()),
        });
        tx.commit().await?;
        Ok(v)
    }

    /// Locks part of the available balance as the security deposit, which pays buyers
    /// first when the seller's own funds fall short.
    pub async fn lock_deposit(&self, caller: &Caller, amount_minor: i64) -> AppResult<serde_json::Value> {
        let seller = seller_of(caller)?;
        let amount = positive("amount_minor", amount_minor)?;
        let mut tx = self.store.begin().await?;
        let entry = posting::seller_transfer(
            EntryKind::DepositLocked,
            Account::Available(seller.clone()),
            Account::Deposit(seller),
            amount,
        )?;
        tx.post_entry(&entry, self.now()).await.map_err(|e| match e {
            danbao_store::StoreError::Ledger(_) => AppError::Conflict("not enough available balance".into()),
            other => other.into(),
        })?;
        tx.commit().await?;
        self.seller_balance(caller).await
    }

    /// A withdrawal: refused while frozen or banned; the money waits in payouts pending
    /// until the provider confirms, and comes back if the payout fails for good.
    pub async fn withdraw(&self, caller: &Caller, amount_minor: i64) -> AppResult<serde_json::Value> {
        let seller = seller_of(caller)?;
        let amount = positive("amount_minor", amount_minor)?;
        if amount.minor() < WITHDRAWAL_MINOR_MIN {
            return Err(AppError::invalid(
                "amount_minor",
                format!("at least {WITHDRAWAL_MINOR_MIN} (¥10)"),
            ));
        }
        let now = self.now();
        let id = uuid::Uuid::now_v7().to_string();
        let provider = self.provider.name();
        let mut tx = self.store.begin().await?;
        if !self.seller_active(&mut tx, &seller).await? {
            return Err(AppError::Conflict(
                "withdrawals are stopped while the seller is frozen or banned".into(),
            ));
        }
        let entry = posting::seller_transfer(
            EntryKind::WithdrawalRequested,
            Account::Available(seller.clone()),
            Account::PayoutsPending(provider.to_string()),
            amount,
        )?;
        tx.post_entry(&entry, now).await.map_err(|e| match e {
            danbao_store::StoreError::Ledger(_) => AppError::Conflict("not enough available balance".into()),
            other => other.into(),
        })?;
        tx.insert_withdrawal(&id, &seller, provider, amount.minor(), now)
            .await?;
        Job::Payout(id.clone()).enqueue(&mut tx, now, now).await?;
        tx.commit().await?;
        Ok(serde_json::json!({"id": id, "amount_minor": amount.minor(), "status": "requested"}))
    }

    /// The payout job: at the provider first (request id from the withdrawal), then booked.
    pub(crate) async fn execute_payout(&self, id: &str) -> Result<(), String> {
        let mut tx = self.store.begin().await.map_err(|e| e.to_string())?;
        let w = tx.withdrawal(id, false).await.map_err(|e| e.to_string())?;
        tx.commit().await.map_err(|e| e.to_string())?;
        let Some((_, seller, provider, amount, status)) = w else {
            return Ok(());
        };
        if status != "requested" {
            return Ok(());
        }
        let paid = self
            .provider
            .payout(format!("payout-{id}"), amount, format!("seller:{seller}"))
            .await;
        let now = self.now();
        if let Err(e) = paid {
            return match e {
                // Refused for good: the money goes back to the seller.
                crate::payments::ProviderError::Rejected(why) => {
                    self.return_payout(id, &seller, &provider, amount, now, &why).await
                }
                other => Err(other.to_string()),
            };
        }
        let mut tx = self.store.begin().await.map_err(|e| e.to_string())?;
        if let Some((_, _, _, _, status)) = tx.withdrawal(id, true).await.map_err(|e| e.to_string())? {
            if status == "requested" {
                let entry = posting::seller_transfer(
                    EntryKind::WithdrawalConfirmed,
                    Account::PayoutsPending(provider.clone()),
                    Account::Provider(provider),
                    Money::from_minor(amount),
                )
                .map_err(|e| e.to_string())?;
                tx.post_entry(&entry, now).await.map_err(|e| e.to_string())?;
                tx.settle_withdrawal(id, "confirmed", now)
                    .await
                    .map_err(|e| e.to_string())?;
            }
        }
        tx.commit().await.map_err(|e| e.to_string())?;
        Ok(())
    }

    async fn return_payout(
        &self,
        id: &str,
        seller: &str,
        provider: &str,
        amount: i64,
        now: i64,
        why: &str,
    ) -> Result<(), String> {
        let mut tx = self.store.begin().await.map_err(|e| e.to_string())?;
        if let Some((_, _, _, _, status)) = tx.withdrawal(id, true).await.map_err(|e| e.to_string())? {
            if status == "requested" {
                let entry = posting::seller_transfer(
                    EntryKind::WithdrawalReturned,
                    Account::PayoutsPending(provider.to_string()),
                    Account::Available(UserId::from_trusted(seller.to_string())),
                    Money::from_minor(amount),
                )
                .map_err(|e| e.to_string())?;
                tx.post_entry(&entry, now).await.map_err(|e| e.to_string())?;
                tx.settle_withdrawal(id, "returned", now)
                    .await
                    .map_err(|e| e.to_string())?;
                tracing::warn!(
                    withdrawal = id,
                    reason = why,
                    "payout refused; money returned to the seller"
                );
            }
        }
        tx.commit().await.map_err(|e| e.to_string())
    }

    /// Moves platform fee income into the compensation fund.
    pub async fn fund_compensation(&self, caller: &Caller, amount_minor: i64) -> AppResult<serde_json::Value> {
        match caller {
            Caller::User(u) if u.role == Role::Admin => {}
            Caller::User(_) => return Err(AppError::Forbidden("admins only")),
            _ => return Err(AppError::Unauthenticated),
        }
        let amount = positive("amount_minor", amount_minor)?;
        let mut tx = self.store.begin().await?;
        let fees = balance_of(&mut tx, &Account::PlatformFees).await?;
        if fees < amount.minor() {
            return Err(AppError::Conflict(format!("the platform has {fees} in fees")));
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
        Ok(serde_json::json!({"compensation_fund_minor": fund}))
    }

    /// After a ban: what the seller owes is covered by their deposit, then the fund;
    /// the rest is the platform's loss.
    pub(crate) async fn settle_banned_receivable(
        &self,
        tx: &mut Tx,
        seller: &UserId,
        now: i64,
    ) -> AppResult<serde_json::Value> {
        let mut owed = Money::from_minor(balance_of(tx, &Account::Receivable(seller.clone())).await?);
        // The seller's own frozen money (held by the freeze) pays first.
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
                owed = Money::from_minor(owed.minor() - from_frozen.minor());
            }
        }
        let deposit = Money::from_minor(balance_of(tx, &Account::Deposit(seller.clone())).await?);
        let fund = Money::from_minor(balance_of(tx, &Account::CompensationFund).await?);
        let (entry, [from_deposit, from_fund, loss]) = posting::settle_receivable(seller, owed, deposit, fund)?;
        if let Some(e) = entry {
            tx.post_entry(&e, now).await?;
        }
        Ok(
            serde_json::json!({"owed_minor": owed.minor() + from_frozen.minor(), "from_frozen_minor": from_frozen.minor(), "from_deposit_minor": from_deposit.minor(),
            "from_compensation_fund_minor": from_fund.minor(), "loss_minor": loss.minor()}),
        )
    }
}
