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

/// The most one deposit payment may be.
const DEPOSIT_PAYMENT_MINOR_MAX: i64 = 100_000_000;

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
    /// The deposit listing needs now: the rule set's base plus its share of the last
    /// window's sales (SPEC §7). Below it, nothing new can be listed.
    pub deposit_required_minor: i64,
}

/// A deposit paid in through the cashier.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DepositPaymentView {
    /// Also the out_trade_no the provider sees.
    pub id: String,
    pub amount_minor: i64,
    /// `pending` until the provider's notification (or query, or statement) is applied.
    pub status: String,
    pub provider: String,
    /// The provider's payment id (the sandbox pays by it).
    pub payment_id: Option<String>,
    pub cashier_url: Option<String>,
    pub created_at: String,
}

impl DepositPaymentView {
    fn of(d: danbao_store::DepositPaymentRow) -> DepositPaymentView {
        DepositPaymentView {
            id: d.id,
            amount_minor: d.amount.minor(),
            status: d.status,
            provider: d.provider,
            payment_id: d.provider_payment_id,
            cashier_url: d.cashier_url,
            created_at: crate::clock::rfc3339(d.created_at),
        }
    }
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
            deposit_required_minor: self.required_deposit(&mut tx, &seller).await?.minor(),
        };
        tx.commit().await?;
        Ok(v)
    }

    /// The deposit a seller must hold to list now, from the current rule set.
    pub(crate) async fn required_deposit(&self, tx: &mut Tx, seller: &UserId) -> AppResult<Money> {
        let rules = self.current_rules();
        let since = self.now().saturating_sub(rules.deposit_volume_window_ms());
        let sales = Money::from_minor(tx.seller_sales_total_since(seller, since).await?);
        rules
            .required_deposit(sales)
            .map_err(|e| AppError::Internal(e.to_string()))
    }

    /// Refuses a new (or re-shown) listing while the seller's deposit is below what the
    /// rule set requires, in the caller's transaction.
    pub(crate) async fn check_deposit_for_listing(&self, tx: &mut Tx, seller: &UserId) -> AppResult<()> {
        let required = self.required_deposit(tx, seller).await?;
        let held = Money::from_minor(balance_of(tx, &Account::Deposit(seller.clone())).await?);
        if held < required {
            return Err(Refusal::DepositShort { required, held }.into());
        }
        Ok(())
    }

    /// Starts paying the deposit in through the cashier: the provider's payment is
    /// created, and its notification (or the daily statement) books the money into the
    /// deposit (`apply_payment`).
    pub async fn pay_deposit(
        &self,
        caller: &Caller,
        amount_minor: i64,
        method: Option<&str>,
    ) -> AppResult<DepositPaymentView> {
        let seller = seller_of(caller)?;
        let amount = positive("amount_minor", amount_minor)?;
        if amount.minor() > DEPOSIT_PAYMENT_MINOR_MAX {
            return Err(AppError::invalid(
                "amount_minor",
                format!("at most {DEPOSIT_PAYMENT_MINOR_MAX} (¥1,000,000)"),
            ));
        }
        let rail = match method {
            Some(m) => self
                .rails
                .for_method(Some(m))
                .ok_or_else(|| AppError::invalid("payment_method", "not a method of a configured rail"))?,
            None => self
                .rails
                .for_method(None)
                .ok_or_else(|| AppError::ProviderUnavailable("no payment rail is configured".into()))?,
        }
        .clone();
        let now = self.now();
        let row = danbao_store::DepositPaymentRow {
            // The provider's out_trade_no, in the shape of a payment attempt's id.
            id: danbao_domain::PaymentAttemptId::generate().to_string(),
            seller_id: seller.clone(),
            amount,
            currency: crate::orders::CURRENCY.to_string(),
            provider: rail.name().to_string(),
            provider_payment_id: None,
            cashier_url: None,
            status: "pending".into(),
            payment_id: None,
            created_at: now,
            expires_at: now.saturating_add(self.current_rules().payment_window_ms()),
            paid_at: None,
        };
        self.retrying(|| async {
            let mut tx = self.store.begin().await?;
            tx.insert_deposit_payment(&row).await?;
            tx.commit().await?;
            Ok(())
        })
        .await?;
        let base = &self.config.public_url;
        let created = rail
            .create_payment(crate::payments::PaymentRequest {
                out_trade_no: row.id.clone(),
                amount,
                currency: row.currency.clone(),
                subject: "保证金 Security deposit".into(),
                notify_url: format!("{base}/api/v1/payments/{}/notify", rail.name()),
                return_url: format!("{base}/seller"),
                order_ref: format!("DEP-{}", &row.id[row.id.len().saturating_sub(8)..]),
                expires_at_ms: row.expires_at,
                method: method.map(str::to_string),
            })
            .await
            .map_err(|e| AppError::ProviderUnavailable(e.to_string()))?;
        let mut tx = self.store.begin().await?;
        tx.set_deposit_payment_cashier(&row.id, &created.provider_payment_id, &created.cashier_url)
            .await?;
        let stored = tx
            .deposit_payment(&row.id, false)
            .await?
            .ok_or_else(|| AppError::Internal("the deposit payment vanished".into()))?;
        tx.commit().await?;
        Ok(DepositPaymentView::of(stored))
    }

    /// The seller's deposit payments, newest first.
    pub async fn deposit_payments(&self, caller: &Caller) -> AppResult<Vec<DepositPaymentView>> {
        let seller = seller_of(caller)?;
        let mut tx = self.store.begin().await?;
        let rows = tx.deposit_payments_of(&seller, 20).await?;
        tx.commit().await?;
        Ok(rows.into_iter().map(DepositPaymentView::of).collect())
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
