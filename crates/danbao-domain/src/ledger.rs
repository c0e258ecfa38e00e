//! Double-entry ledger (SPEC §5). Money moves only through a `JournalEntry`, and an
//! entry cannot be built unbalanced: it is made of transfers, each of which debits one
//! account and credits another by the same positive amount.
//!
//! Sign convention: a posting's amount is positive for a debit and negative for a
//! credit; an account's raw balance is debits − credits. Asset and expense accounts
//! (provider, receivable, losses) normally carry a positive raw balance; liability and
//! income accounts (escrow, available, fees, …) a negative one. `normal_balance` turns
//! the raw figure into the one a person reads.

use crate::ids::{OrderId, PaymentId, RefundId, UserId};
use crate::money::Money;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Account {
    Provider(String),
    Escrow(UserId),
    Frozen(UserId),
    Available(UserId),
    Deposit(UserId),
    Receivable(UserId),
    RefundsPending(String),
    PayoutsPending(String),
    PlatformFees,
    CompensationFund,
    Losses,
    /// Released to the seller but not yet withdrawable: held until the order's after-sales
    /// window has passed (a rolling reserve), so a late complaint is paid from it.
    Reserve(UserId),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// Assets and expenses: a positive raw balance is normal.
    Debit,
    /// Liabilities and income: a negative raw balance is normal.
    Credit,
}

impl Account {
    pub fn normal_side(&self) -> Side {
        match self {
            Account::Provider(_) | Account::Receivable(_) | Account::Losses => Side::Debit,
            _ => Side::Credit,
        }
    }

    /// The balance as a person reads it: positive when the account holds money.
    pub fn normal_balance(&self, raw: i64) -> i64 {
        match self.normal_side() {
            Side::Debit => raw,
            Side::Credit => -raw,
        }
    }

    /// Liability accounts are what the platform owes someone; they may never go negative.
    pub fn must_stay_non_negative(&self) -> bool {
        matches!(
            self,
            Account::Escrow(_)
                | Account::Frozen(_)
                | Account::Available(_)
                | Account::Deposit(_)
                | Account::RefundsPending(_)
                | Account::PayoutsPending(_)
                | Account::CompensationFund
                | Account::Reserve(_)
        )
    }

    pub fn parse(text: &str) -> Option<Account> {
        let (kind, rest) = match text.split_once(':') {
            Some((k, r)) => (k, Some(r)),
            None => (text, None),
        };
        let user = |r: Option<&str>| r.and_then(UserId::parse);
        let name = |r: Option<&str>| r.filter(|s| !s.is_empty()).map(str::to_string);
        match (kind, rest) {
            ("provider", r) => name(r).map(Account::Provider),
            ("escrow", r) => user(r).map(Account::Escrow),
            ("frozen", r) => user(r).map(Account::Frozen),
            ("available", r) => user(r).map(Account::Available),
            ("deposit", r) => user(r).map(Account::Deposit),
            ("receivable", r) => user(r).map(Account::Receivable),
            ("refunds_pending", r) => name(r).map(Account::RefundsPending),
            ("payouts_pending", r) => name(r).map(Account::PayoutsPending),
            ("platform", Some("fees")) => Some(Account::PlatformFees),
            ("platform", Some("compensation_fund")) => Some(Account::CompensationFund),
            ("platform", Some("losses")) => Some(Account::Losses),
            ("reserve", r) => user(r).map(Account::Reserve),
            _ => None,
        }
    }

    /// Accounts that hold a buyer's money for an order until it is released or refunded.
    pub fn holds_order_money(&self) -> bool {
        matches!(self, Account::Escrow(_) | Account::Frozen(_))
    }
}

impl fmt::Display for Account {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Account::Provider(p) => write!(f, "provider:{p}"),
            Account::Escrow(s) => write!(f, "escrow:{s}"),
            Account::Frozen(s) => write!(f, "frozen:{s}"),
            Account::Available(s) => write!(f, "available:{s}"),
            Account::Deposit(s) => write!(f, "deposit:{s}"),
            Account::Receivable(s) => write!(f, "receivable:{s}"),
            Account::RefundsPending(p) => write!(f, "refunds_pending:{p}"),
            Account::PayoutsPending(p) => write!(f, "payouts_pending:{p}"),
            Account::PlatformFees => f.write_str("platform:fees"),
            Account::CompensationFund => f.write_str("platform:compensation_fund"),
            Account::Losses => f.write_str("platform:losses"),
            Account::Reserve(s) => write!(f, "reserve:{s}"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    /// A provider captured a buyer's payment into the seller's escrow.
    Capture,
    /// Escrow released to the seller's available balance, less the platform fee.
    Release,
    /// Escrow handed to the provider for a refund (pending its confirmation).
    RefundRequested,
    /// The provider confirmed a refund: the money has left it.
    RefundConfirmed,
    /// Money the platform cannot accept (unknown order, second payment, …) sent back.
    UnacceptedPaymentRefund,
    /// A complaint holds the order's money: escrow → frozen, or, for a completed order,
    /// the seller's available balance, then deposit, then a receivable (and the fee).
    ComplaintFreeze,
    /// The buyer withdrew: the frozen money goes back where it came from.
    ComplaintUnfreeze,
    /// A ruling divides the frozen money between buyer (refund), seller and fee.
    RulingSettlement,
    /// A seller asked to withdraw: available → payouts pending at the provider.
    WithdrawalRequested,
    /// The provider paid the seller out.
    WithdrawalConfirmed,
    /// A payout failed for good: the money goes back to the seller's available balance.
    WithdrawalReturned,
    /// A seller locked part of their available balance as a security deposit (保证金).
    DepositLocked,
    /// The platform put fee income into the compensation fund (先行赔付).
    CompensationFunded,
    /// What a banned seller owed was covered: from their deposit, then the fund, the rest a loss.
    ReceivableSettled,
    /// A seller freeze holds the seller's available balance (and what is released to them later).
    SellerFrozen,
    /// A lifted freeze gives the held balance back.
    SellerUnfrozen,
    /// An order's after-sales window passed: its reserve becomes the seller's available balance.
    ReserveReleased,
    /// 先行赔付: the compensation fund refunds a complaint's buyer at once.
    FastRefund,
    /// Money reaching a seller's available balance repays what they owe first.
    ReceivableRepaid,
    /// A deposit given back after the quiet period.
    DepositReleased,
    /// A deposit paid in through the cashier.
    DepositPaid,
}

impl EntryKind {
    pub const ALL: [EntryKind; 21] = [
        EntryKind::Capture,
        EntryKind::Release,
        EntryKind::RefundRequested,
        EntryKind::RefundConfirmed,
        EntryKind::UnacceptedPaymentRefund,
        EntryKind::ComplaintFreeze,
        EntryKind::ComplaintUnfreeze,
        EntryKind::RulingSettlement,
        EntryKind::WithdrawalRequested,
        EntryKind::WithdrawalConfirmed,
        EntryKind::WithdrawalReturned,
        EntryKind::DepositLocked,
        EntryKind::CompensationFunded,
        EntryKind::ReceivableSettled,
        EntryKind::SellerFrozen,
        EntryKind::SellerUnfrozen,
        EntryKind::ReserveReleased,
        EntryKind::FastRefund,
        EntryKind::ReceivableRepaid,
        EntryKind::DepositReleased,
        EntryKind::DepositPaid,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Capture => "capture",
            EntryKind::Release => "release",
            EntryKind::RefundRequested => "refund_requested",
            EntryKind::RefundConfirmed => "refund_confirmed",
            EntryKind::UnacceptedPaymentRefund => "unaccepted_payment_refund",
            EntryKind::ComplaintFreeze => "complaint_freeze",
            EntryKind::ComplaintUnfreeze => "complaint_unfreeze",
            EntryKind::RulingSettlement => "ruling_settlement",
            EntryKind::WithdrawalRequested => "withdrawal_requested",
            EntryKind::WithdrawalConfirmed => "withdrawal_confirmed",
            EntryKind::WithdrawalReturned => "withdrawal_returned",
            EntryKind::DepositLocked => "deposit_locked",
            EntryKind::CompensationFunded => "compensation_funded",
            EntryKind::ReceivableSettled => "receivable_settled",
            EntryKind::SellerFrozen => "seller_frozen",
            EntryKind::SellerUnfrozen => "seller_unfrozen",
            EntryKind::ReserveReleased => "reserve_released",
            EntryKind::FastRefund => "fast_refund",
            EntryKind::ReceivableRepaid => "receivable_repaid",
            EntryKind::DepositReleased => "deposit_released",
            EntryKind::DepositPaid => "deposit_paid",
        }
    }

    pub fn parse(text: &str) -> Option<EntryKind> {
        EntryKind::ALL.into_iter().find(|k| k.as_str() == text)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Posting {
    pub account: Account,
    /// Positive: debit. Negative: credit.
    pub amount_minor: i64,
}

/// What a journal entry is about; every reference is optional because not every
/// movement concerns an order (a withdrawal, a deposit top-up).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryRefs {
    pub order: Option<OrderId>,
    pub payment: Option<PaymentId>,
    pub refund: Option<RefundId>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalEntry {
    kind: EntryKind,
    refs: EntryRefs,
    postings: Vec<Posting>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LedgerError {
    #[error("a transfer amount must be positive, got {0}")]
    NonPositiveAmount(i64),
    #[error("a transfer cannot debit and credit the same account {0}")]
    SameAccount(Account),
    #[error("an entry needs at least one transfer")]
    Empty,
    #[error("the entry does not balance: postings sum to {0}")]
    Unbalanced(i64),
    #[error("{account} would go negative: it holds {available_minor}, {needed_minor} needed")]
    InsufficientFunds {
        account: Account,
        available_minor: i64,
        needed_minor: i64,
    },
    #[error("amount overflows")]
    Overflow,
    #[error("stored entry cannot be read: {0}")]
    Unreadable(String),
}

/// Builds a `JournalEntry` from transfers, so it balances by construction.
pub struct EntryBuilder {
    kind: EntryKind,
    refs: EntryRefs,
    postings: Vec<Posting>,
    error: Option<LedgerError>,
}

impl EntryBuilder {
    /// Move `amount` from `credit` to `debit`: the account money leaves is credited.
    pub fn transfer(mut self, debit: Account, credit: Account, amount: Money) -> EntryBuilder {
        if self.error.is_some() {
            return self;
        }
        if !amount.is_positive() {
            self.error = Some(LedgerError::NonPositiveAmount(amount.minor()));
        } else if debit == credit {
            self.error = Some(LedgerError::SameAccount(debit));
        } else {
            self.postings.push(Posting {
                account: debit,
                amount_minor: amount.minor(),
            });
            self.postings.push(Posting {
                account: credit,
                amount_minor: -amount.minor(),
            });
        }
        self
    }

    /// Like `transfer`, but a zero amount is skipped (a fee of 0 is no movement).
    pub fn transfer_if_positive(self, debit: Account, credit: Account, amount: Money) -> EntryBuilder {
        if amount.minor() == 0 {
            self
        } else {
            self.transfer(debit, credit, amount)
        }
    }

    pub fn build(self) -> Result<JournalEntry, LedgerError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        if self.postings.is_empty() {
            return Err(LedgerError::Empty);
        }
        let entry = JournalEntry {
            kind: self.kind,
            refs: self.refs,
            postings: self.postings,
        };
        entry.verify_balanced()?;
        Ok(entry)
    }
}

impl JournalEntry {
    pub fn builder(kind: EntryKind, refs: EntryRefs) -> EntryBuilder {
        EntryBuilder {
            kind,
            refs,
            postings: Vec::new(),
            error: None,
        }
    }

    /// Rebuilds an entry read back from storage; it is checked, not trusted.
    pub fn from_stored(kind: EntryKind, refs: EntryRefs, postings: Vec<Posting>) -> Result<JournalEntry, LedgerError> {
        let entry = JournalEntry { kind, refs, postings };
        entry.verify_balanced()?;
        Ok(entry)
    }

    pub fn kind(&self) -> EntryKind {
        self.kind
    }

    pub fn refs(&self) -> &EntryRefs {
        &self.refs
    }

    pub fn postings(&self) -> &[Posting] {
        &self.postings
    }

    pub fn verify_balanced(&self) -> Result<(), LedgerError> {
        let sum = self
            .postings
            .iter()
            .try_fold(0i64, |acc, p| acc.checked_add(p.amount_minor))
            .ok_or(LedgerError::Overflow)?;
        if sum == 0 {
            Ok(())
        } else {
            Err(LedgerError::Unbalanced(sum))
        }
    }

    /// How this entry changes each touched account's raw balance (its postings summed).
    pub fn deltas(&self) -> Result<BTreeMap<Account, i64>, LedgerError> {
        let mut deltas: BTreeMap<Account, i64> = BTreeMap::new();
        for p in &self.postings {
            let d = deltas.entry(p.account.clone()).or_insert(0);
            *d = d.checked_add(p.amount_minor).ok_or(LedgerError::Overflow)?;
        }
        Ok(deltas)
    }

    /// The accounts this entry takes down that may never go below zero: their balances
    /// must be read (under a lock) and checked before the entry is written. Every other
    /// account it touches only grows, or may go negative, so its change can be added
    /// without reading it — which is what lets a busy account (a provider's, the fees)
    /// stay unlocked until the very end of a transaction.
    pub fn accounts_to_check(&self) -> Result<std::collections::BTreeSet<Account>, LedgerError> {
        Ok(self
            .deltas()?
            .into_iter()
            .filter(|(account, delta)| account.must_stay_non_negative() && account.normal_balance(*delta) < 0)
            .map(|(account, _)| account)
            .collect())
    }

    /// The new raw balances of the touched accounts after this entry, given their current
    /// raw balances; refuses to take a liability account below zero.
    pub fn apply_to(&self, current: &BTreeMap<Account, i64>) -> Result<BTreeMap<Account, i64>, LedgerError> {
        self.verify_balanced()?;
        let mut next: BTreeMap<Account, i64> = BTreeMap::new();
        for p in &self.postings {
            let base = next
                .get(&p.account)
                .or_else(|| current.get(&p.account))
                .copied()
                .unwrap_or(0);
            let updated = base.checked_add(p.amount_minor).ok_or(LedgerError::Overflow)?;
            next.insert(p.account.clone(), updated);
        }
        for (account, raw) in &next {
            if account.must_stay_non_negative() && account.normal_balance(*raw) < 0 {
                let before = current.get(account).copied().unwrap_or(0);
                return Err(LedgerError::InsufficientFunds {
                    account: account.clone(),
                    available_minor: account.normal_balance(before),
                    needed_minor: account.normal_balance(before) - account.normal_balance(*raw),
                });
            }
        }
        Ok(next)
    }
}

/// The posting rules: every way Danbao moves money, as a function from facts to an entry.
/// Where a ruling's seller part goes: first back what the case booked as the seller's
/// receivable (the platform fronted it), the rest to the seller's available balance.
/// Whatever follows (holding it for a frozen seller) must use `to_available`, the money
/// that actually arrived there, never the whole seller part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SellerPart {
    pub repays_receivable: Money,
    pub to_available: Money,
}

impl SellerPart {
    pub fn of(to_seller: Money, owed_receivable: Money) -> SellerPart {
        let repays_receivable = to_seller.min(owed_receivable.max(Money::ZERO)).max(Money::ZERO);
        SellerPart {
            repays_receivable,
            to_available: Money::from_minor(to_seller.minor() - repays_receivable.minor()),
        }
    }
}

pub mod rules {
    use super::*;

    pub fn capture(
        order: &OrderId,
        payment: &PaymentId,
        seller: &UserId,
        provider: &str,
        amount: Money,
    ) -> Result<JournalEntry, LedgerError> {
        JournalEntry::builder(
            EntryKind::Capture,
            EntryRefs {
                order: Some(order.clone()),
                payment: Some(payment.clone()),
                refund: None,
            },
        )
        .transfer(
            Account::Provider(provider.to_string()),
            Account::Escrow(seller.clone()),
            amount,
        )
        .build()
    }

    /// Escrow to the seller's reserve, with the fee (rounded half-even) to the platform.
    /// The seller's part becomes withdrawable only when the order's after-sales window has
    /// passed (`reserve_release`), so a complaint opened meanwhile is paid from it.
    pub fn release(order: &OrderId, seller: &UserId, amount: Money, fee_bps: i64) -> Result<JournalEntry, LedgerError> {
        let crate::money::FeeSplit { to_seller, fee } = amount.split_fee(fee_bps).map_err(|_| LedgerError::Overflow)?;
        JournalEntry::builder(
            EntryKind::Release,
            EntryRefs {
                order: Some(order.clone()),
                ..EntryRefs::default()
            },
        )
        .transfer_if_positive(
            Account::Escrow(seller.clone()),
            Account::Reserve(seller.clone()),
            to_seller,
        )
        .transfer_if_positive(Account::Escrow(seller.clone()), Account::PlatformFees, fee)
        .build()
    }

    /// The end of an order's reserve: what it still holds there becomes withdrawable.
    /// The entry names the order, so the order's reserve can be read back from the ledger.
    pub fn reserve_release(order: &OrderId, seller: &UserId, amount: Money) -> Result<JournalEntry, LedgerError> {
        JournalEntry::builder(
            EntryKind::ReserveReleased,
            EntryRefs {
                order: Some(order.clone()),
                ..EntryRefs::default()
            },
        )
        .transfer(
            Account::Reserve(seller.clone()),
            Account::Available(seller.clone()),
            amount,
        )
        .build()
    }

    pub fn refund_from_escrow(
        order: &OrderId,
        refund: &RefundId,
        seller: &UserId,
        provider: &str,
        amount: Money,
    ) -> Result<JournalEntry, LedgerError> {
        JournalEntry::builder(
            EntryKind::RefundRequested,
            EntryRefs {
                order: Some(order.clone()),
                refund: Some(refund.clone()),
                payment: None,
            },
        )
        .transfer(
            Account::Escrow(seller.clone()),
            Account::RefundsPending(provider.to_string()),
            amount,
        )
        .build()
    }

    /// A payment the platform cannot accept (unknown order, second payment, no stock):
    /// it is at the provider, and owed back to the buyer until the refund is confirmed.
    pub fn unaccepted_payment(
        order: Option<&OrderId>,
        payment: &PaymentId,
        refund: &RefundId,
        provider: &str,
        amount: Money,
    ) -> Result<JournalEntry, LedgerError> {
        JournalEntry::builder(
            EntryKind::UnacceptedPaymentRefund,
            EntryRefs {
                order: order.cloned(),
                payment: Some(payment.clone()),
                refund: Some(refund.clone()),
            },
        )
        .transfer(
            Account::Provider(provider.to_string()),
            Account::RefundsPending(provider.to_string()),
            amount,
        )
        .build()
    }

    /// Where the money frozen for a complaint came from, so a withdrawal puts it back.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
    pub struct FrozenSources {
        pub escrow: Money,
        pub available: Money,
        pub deposit: Money,
        /// What the seller could not cover: owed to the platform.
        pub receivable: Money,
        /// The fee the platform had taken at release, handed back into the hold.
        pub fee: Money,
        /// From the order's own reserve (released, not yet withdrawable). Absent in
        /// complaints frozen before the reserve existed.
        #[serde(default)]
        pub reserve: Money,
    }

    impl FrozenSources {
        pub fn total(&self) -> Result<Money, LedgerError> {
            [self.reserve, self.available, self.deposit, self.receivable, self.fee]
                .into_iter()
                .try_fold(self.escrow, |acc, m| acc.checked_add(m))
                .map_err(|_| LedgerError::Overflow)
        }

        /// For a completed order: the seller's part (amount − fee) is taken from what the
        /// order still holds in the seller's reserve, then the available balance, then the
        /// deposit, and any shortfall becomes a receivable; the fee comes back from the
        /// platform. Within the after-sales window the reserve covers it all.
        pub fn for_completed(
            seller_part: Money,
            fee: Money,
            order_reserve: Money,
            available: Money,
            deposit: Money,
        ) -> FrozenSources {
            let from_reserve = seller_part.min(order_reserve.max(Money::ZERO));
            let rest = Money::from_minor(seller_part.minor() - from_reserve.minor());
            let from_available = rest.min(available.max(Money::ZERO));
            let rest = Money::from_minor(rest.minor() - from_available.minor());
            let from_deposit = rest.min(deposit.max(Money::ZERO));
            let receivable = Money::from_minor(rest.minor() - from_deposit.minor());
            FrozenSources {
                escrow: Money::ZERO,
                available: from_available,
                deposit: from_deposit,
                receivable,
                fee,
                reserve: from_reserve,
            }
        }
    }

    pub fn complaint_freeze(
        order: &OrderId,
        seller: &UserId,
        from: FrozenSources,
    ) -> Result<JournalEntry, LedgerError> {
        let refs = EntryRefs {
            order: Some(order.clone()),
            ..EntryRefs::default()
        };
        let frozen = Account::Frozen(seller.clone());
        JournalEntry::builder(EntryKind::ComplaintFreeze, refs)
            .transfer_if_positive(Account::Escrow(seller.clone()), frozen.clone(), from.escrow)
            .transfer_if_positive(Account::Reserve(seller.clone()), frozen.clone(), from.reserve)
            .transfer_if_positive(Account::Available(seller.clone()), frozen.clone(), from.available)
            .transfer_if_positive(Account::Deposit(seller.clone()), frozen.clone(), from.deposit)
            .transfer_if_positive(Account::Receivable(seller.clone()), frozen.clone(), from.receivable)
            .transfer_if_positive(Account::PlatformFees, frozen, from.fee)
            .build()
    }

    /// The exact reverse of `complaint_freeze`.
    pub fn complaint_unfreeze(
        order: &OrderId,
        seller: &UserId,
        to: FrozenSources,
    ) -> Result<JournalEntry, LedgerError> {
        let refs = EntryRefs {
            order: Some(order.clone()),
            ..EntryRefs::default()
        };
        let frozen = Account::Frozen(seller.clone());
        JournalEntry::builder(EntryKind::ComplaintUnfreeze, refs)
            .transfer_if_positive(frozen.clone(), Account::Escrow(seller.clone()), to.escrow)
            .transfer_if_positive(frozen.clone(), Account::Reserve(seller.clone()), to.reserve)
            .transfer_if_positive(frozen.clone(), Account::Available(seller.clone()), to.available)
            .transfer_if_positive(frozen.clone(), Account::Deposit(seller.clone()), to.deposit)
            .transfer_if_positive(frozen.clone(), Account::Receivable(seller.clone()), to.receivable)
            .transfer_if_positive(frozen, Account::PlatformFees, to.fee)
            .build()
    }

    /// 先行赔付: the compensation fund pays the buyer's refund now (pending the provider's
    /// confirmation); the order's money stays frozen until the ruling.
    pub fn fast_refund(
        order: &OrderId,
        refund: &RefundId,
        provider: &str,
        amount: Money,
    ) -> Result<JournalEntry, LedgerError> {
        JournalEntry::builder(
            EntryKind::FastRefund,
            EntryRefs {
                order: Some(order.clone()),
                refund: Some(refund.clone()),
                payment: None,
            },
        )
        .transfer(
            Account::CompensationFund,
            Account::RefundsPending(provider.to_string()),
            amount,
        )
        .build()
    }

    /// Where a ruling's money goes, besides the entry.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct RulingMoney {
        pub seller: SellerPart,
        /// Refunded to the buyer through the provider now.
        pub to_refund: Money,
        /// What a fast refund had advanced and the buyer's part pays back to the fund.
        pub fund_repaid: Money,
        /// What a fast refund had advanced and the ruling did not give the buyer: the
        /// platform's loss, so the fund is whole again.
        pub advance_lost: Money,
    }

    /// Divides the frozen money as the ruling says. The buyer's part goes to the provider
    /// as a refund (pending its confirmation) — or, when a fast refund already paid the
    /// buyer (`advanced`), back into the compensation fund, and what the buyer's part does
    /// not cover of the advance is booked as a loss. The seller's part first repays what
    /// the seller owes the platform (a receivable from the freeze), then to available.
    pub fn ruling_settlement(
        order: &OrderId,
        refund: Option<&RefundId>,
        seller: &UserId,
        provider: &str,
        settlement: crate::complaint::Settlement,
        owed_receivable: Money,
        advanced: Money,
    ) -> Result<(JournalEntry, RulingMoney), LedgerError> {
        let refs = EntryRefs {
            order: Some(order.clone()),
            refund: refund.cloned(),
            payment: None,
        };
        let frozen = Account::Frozen(seller.clone());
        let part = SellerPart::of(settlement.to_seller, owed_receivable);
        let advanced = advanced.max(Money::ZERO);
        let fund_repaid = settlement.to_buyer.min(advanced);
        let money = RulingMoney {
            seller: part,
            to_refund: settlement
                .to_buyer
                .checked_sub(fund_repaid)
                .map_err(|_| LedgerError::Overflow)?,
            fund_repaid,
            advance_lost: advanced.checked_sub(fund_repaid).map_err(|_| LedgerError::Overflow)?,
        };
        let entry = JournalEntry::builder(EntryKind::RulingSettlement, refs)
            .transfer_if_positive(
                frozen.clone(),
                Account::RefundsPending(provider.to_string()),
                money.to_refund,
            )
            .transfer_if_positive(frozen.clone(), Account::CompensationFund, money.fund_repaid)
            .transfer_if_positive(Account::Losses, Account::CompensationFund, money.advance_lost)
            .transfer_if_positive(
                frozen.clone(),
                Account::Receivable(seller.clone()),
                part.repays_receivable,
            )
            .transfer_if_positive(frozen.clone(), Account::Available(seller.clone()), part.to_available)
            .transfer_if_positive(frozen, Account::PlatformFees, settlement.fee)
            .build()?;
        Ok((entry, money))
    }

    /// Seller-level movements (no order): each one transfer of a given kind.
    pub fn seller_transfer(
        kind: EntryKind,
        debit: Account,
        credit: Account,
        amount: Money,
    ) -> Result<JournalEntry, LedgerError> {
        JournalEntry::builder(kind, EntryRefs::default())
            .transfer(debit, credit, amount)
            .build()
    }

    /// A deposit paid in through the cashier: from the provider into the seller's deposit.
    pub fn deposit_paid(
        payment: &PaymentId,
        seller: &UserId,
        provider: &str,
        amount: Money,
    ) -> Result<JournalEntry, LedgerError> {
        JournalEntry::builder(
            EntryKind::DepositPaid,
            EntryRefs {
                payment: Some(payment.clone()),
                ..EntryRefs::default()
            },
        )
        .transfer(
            Account::Provider(provider.to_string()),
            Account::Deposit(seller.clone()),
            amount,
        )
        .build()
    }

    /// What a seller owes is repaid first out of any money that reaches their available
    /// balance (SPEC §7): as much as both allow. None when nothing is owed or available.
    pub fn repay_receivable(
        seller: &UserId,
        owed: Money,
        available: Money,
    ) -> Result<Option<JournalEntry>, LedgerError> {
        let amount = owed.min(available);
        if !amount.is_positive() {
            return Ok(None);
        }
        JournalEntry::builder(EntryKind::ReceivableRepaid, EntryRefs::default())
            .transfer(
                Account::Available(seller.clone()),
                Account::Receivable(seller.clone()),
                amount,
            )
            .build()
            .map(Some)
    }

    /// Covers what a banned seller owes: from the deposit, then the compensation fund,
    /// and whatever is left is the platform's loss. Returns the entry and how much each
    /// source paid.
    pub fn settle_receivable(
        seller: &UserId,
        owed: Money,
        deposit: Money,
        fund: Money,
    ) -> Result<(Option<JournalEntry>, [Money; 3]), LedgerError> {
        if !owed.is_positive() {
            return Ok((None, [Money::ZERO; 3]));
        }
        let from_deposit = owed.min(deposit.max(Money::ZERO));
        let rest = Money::from_minor(owed.minor() - from_deposit.minor());
        let from_fund = rest.min(fund.max(Money::ZERO));
        let loss = Money::from_minor(rest.minor() - from_fund.minor());
        let receivable = Account::Receivable(seller.clone());
        let entry = JournalEntry::builder(EntryKind::ReceivableSettled, EntryRefs::default())
            .transfer_if_positive(Account::Deposit(seller.clone()), receivable.clone(), from_deposit)
            .transfer_if_positive(Account::CompensationFund, receivable.clone(), from_fund)
            .transfer_if_positive(Account::Losses, receivable, loss)
            .build()?;
        Ok((Some(entry), [from_deposit, from_fund, loss]))
    }

    pub fn refund_confirmed(
        order: Option<&OrderId>,
        refund: &RefundId,
        provider: &str,
        amount: Money,
    ) -> Result<JournalEntry, LedgerError> {
        JournalEntry::builder(
            EntryKind::RefundConfirmed,
            EntryRefs {
                order: order.cloned(),
                refund: Some(refund.clone()),
                payment: None,
            },
        )
        .transfer(
            Account::RefundsPending(provider.to_string()),
            Account::Provider(provider.to_string()),
            amount,
        )
        .build()
    }
}

/// An in-memory ledger: the reference model the property tests drive, and what
/// `ledger check` compares stored balances against.
#[derive(Debug, Default, Clone)]
pub struct Ledger {
    balances: BTreeMap<Account, i64>,
    entries: Vec<JournalEntry>,
}

impl Ledger {
    pub fn post(&mut self, entry: JournalEntry) -> Result<(), LedgerError> {
        let next = entry.apply_to(&self.balances)?;
        self.balances.extend(next);
        self.entries.push(entry);
        Ok(())
    }

    pub fn raw_balance(&self, account: &Account) -> i64 {
        self.balances.get(account).copied().unwrap_or(0)
    }

    pub fn balance(&self, account: &Account) -> i64 {
        account.normal_balance(self.raw_balance(account))
    }

    pub fn entries(&self) -> &[JournalEntry] {
        &self.entries
    }

    pub fn balances(&self) -> &BTreeMap<Account, i64> {
        &self.balances
    }
}

/// Per-order money, derived from the entries that reference the order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrderMoney {
    pub captured: i64,
    pub released: i64,
    pub refunded: i64,
    /// What escrow and frozen accounts still hold for the order.
    pub held: i64,
}

/// Folds entries into per-order figures. Only entries that move money into or out of
/// the order's hold (escrow, frozen) count, and each movement is classified by where the
/// money came from or went: from a provider is captured; to refunds pending is refunded;
/// to (or, when a complaint claws it back, from) the seller or the platform is released.
pub fn order_money<'a>(entries: impl IntoIterator<Item = &'a JournalEntry>) -> BTreeMap<OrderId, OrderMoney> {
    let mut out: BTreeMap<OrderId, OrderMoney> = BTreeMap::new();
    for e in entries {
        let Some(order) = &e.refs.order else { continue };
        if !e.postings.iter().any(|p| p.account.holds_order_money()) {
            continue;
        }
        let m = out.entry(order.clone()).or_default();
        for p in &e.postings {
            match &p.account {
                // Credits to a hold are money coming in, debits money going out.
                a if a.holds_order_money() => m.held -= p.amount_minor,
                Account::Provider(_) => m.captured += p.amount_minor,
                Account::RefundsPending(_) => m.refunded -= p.amount_minor,
                _ => m.released -= p.amount_minor,
            }
        }
    }
    out
}

/// One broken invariant, described for a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation(pub String);

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What `danbao ledger check` proves (SPEC §5), over data read from any store:
/// every entry balances; every stored balance equals its postings; no liability is
/// negative; for every order, captured = released + refunded + still held, with
/// nothing held once the order is finished.
pub fn check_invariants(
    entries: &[(String, Result<JournalEntry, LedgerError>)],
    stored_balances: &BTreeMap<Account, i64>,
    order_statuses: &BTreeMap<OrderId, crate::OrderStatus>,
) -> Vec<Violation> {
    let mut violations = Vec::new();
    let mut derived: BTreeMap<Account, i64> = BTreeMap::new();
    let mut good = Vec::new();
    for (id, entry) in entries {
        match entry {
            Ok(e) => {
                for p in e.postings() {
                    let b = derived.entry(p.account.clone()).or_insert(0);
                    *b = b.saturating_add(p.amount_minor);
                }
                good.push(e);
            }
            Err(err) => violations.push(Violation(format!("journal entry {id}: {err}"))),
        }
    }
    let accounts: std::collections::BTreeSet<&Account> = derived.keys().chain(stored_balances.keys()).collect();
    for account in accounts {
        let stored = stored_balances.get(account).copied().unwrap_or(0);
        let from_postings = derived.get(account).copied().unwrap_or(0);
        if stored != from_postings {
            violations.push(Violation(format!(
                "account {account}: stored balance {stored} differs from its postings {from_postings}"
            )));
        }
        if account.must_stay_non_negative() && account.normal_balance(stored) < 0 {
            violations.push(Violation(format!(
                "account {account}: liability is negative ({})",
                account.normal_balance(stored)
            )));
        }
    }
    // What a seller owes is repaid from what they have available before anything else.
    for (account, raw) in stored_balances {
        if let Account::Receivable(seller) = account {
            let owed = account.normal_balance(*raw);
            let available_account = Account::Available(seller.clone());
            let available =
                available_account.normal_balance(stored_balances.get(&available_account).copied().unwrap_or(0));
            if owed > 0 && available > 0 {
                violations.push(Violation(format!(
                    "seller {seller}: owes {owed} (receivable) while {available} is available"
                )));
            }
        }
    }
    for (order, m) in order_money(good) {
        if m.captured != m.released + m.refunded + m.held {
            violations.push(Violation(format!(
                "order {order}: captured {} ≠ released {} + refunded {} + held {}",
                m.captured, m.released, m.refunded, m.held
            )));
        }
        if m.held < 0 {
            violations.push(Violation(format!("order {order}: holds a negative amount {}", m.held)));
        }
        match order_statuses.get(&order) {
            None => violations.push(Violation(format!(
                "order {order}: entries reference an order that does not exist"
            ))),
            Some(status) if !status.holds_escrow() && m.held != 0 => violations.push(Violation(format!(
                "order {order}: is {status} but still holds {} in escrow",
                m.held
            ))),
            Some(status) if status.holds_escrow() && m.held <= 0 => violations.push(Violation(format!(
                "order {order}: is {status} but holds nothing in escrow"
            ))),
            Some(_) => {}
        }
    }
    violations
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn seller() -> UserId {
        UserId::from_trusted("0190a000-0000-7000-8000-000000000001".into())
    }

    #[test]
    fn transfers_cannot_be_unbalanced_or_degenerate() {
        let b = || JournalEntry::builder(EntryKind::Capture, EntryRefs::default());
        assert_eq!(b().build(), Err(LedgerError::Empty));
        assert_eq!(
            b().transfer(Account::PlatformFees, Account::Losses, Money::from_minor(0))
                .build(),
            Err(LedgerError::NonPositiveAmount(0))
        );
        assert_eq!(
            b().transfer(Account::Losses, Account::Losses, Money::from_minor(1))
                .build(),
            Err(LedgerError::SameAccount(Account::Losses))
        );
        let stored = JournalEntry::from_stored(
            EntryKind::Capture,
            EntryRefs::default(),
            vec![Posting {
                account: Account::Losses,
                amount_minor: 5,
            }],
        );
        assert_eq!(stored, Err(LedgerError::Unbalanced(5)));
    }

    #[test]
    fn release_takes_the_fee_half_even() {
        let order = OrderId::generate();
        let e = rules::release(&order, &seller(), Money::from_minor(1010), 500).unwrap_or_else(|e| panic!("{e}"));
        // 1010 × 5 % = 50.5 → 50 (half to even); the seller gets 960.
        let mut l = Ledger::default();
        l.post(
            rules::capture(
                &order,
                &PaymentId::generate(),
                &seller(),
                "sandbox",
                Money::from_minor(1010),
            )
            .unwrap_or_else(|e| panic!("{e}")),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        l.post(e).unwrap_or_else(|e| panic!("{e}"));
        // The seller's part waits in the reserve, not in what they can withdraw.
        assert_eq!(l.balance(&Account::Reserve(seller())), 960);
        assert_eq!(l.balance(&Account::Available(seller())), 0);
        assert_eq!(l.balance(&Account::PlatformFees), 50);
        assert_eq!(l.balance(&Account::Escrow(seller())), 0);
        assert_eq!(l.balance(&Account::Provider("sandbox".into())), 1010);
    }

    /// Exact amounts through a reserve's life: release 100.00 at 5 %; a fraud complaint
    /// inside the window takes the seller's 95.00 from the order's reserve (and the 5.00
    /// fee back), with no receivable; a withdrawn complaint puts it back; at the window's
    /// end the reserve becomes available.
    #[test]
    fn the_reserve_pays_a_late_complaint_and_then_becomes_available() {
        let s = seller();
        let order = OrderId::generate();
        let mut l = Ledger::default();
        let post = |l: &mut Ledger, e: Result<JournalEntry, LedgerError>| {
            l.post(e.unwrap_or_else(|e| panic!("{e}")))
                .unwrap_or_else(|e| panic!("{e}"));
        };
        post(
            &mut l,
            rules::capture(&order, &PaymentId::generate(), &s, "sandbox", Money::from_minor(10_000)),
        );
        post(&mut l, rules::release(&order, &s, Money::from_minor(10_000), 500));
        assert_eq!(l.balance(&Account::Reserve(s.clone())), 9_500);
        assert_eq!(l.balance(&Account::Available(s.clone())), 0);
        assert_eq!(l.balance(&Account::PlatformFees), 500);
        // Some other money in available and deposit is not touched while the reserve covers it.
        let sources = rules::FrozenSources::for_completed(
            Money::from_minor(9_500),
            Money::from_minor(500),
            Money::from_minor(9_500),
            Money::from_minor(3_000),
            Money::from_minor(50_000),
        );
        assert_eq!(
            sources,
            rules::FrozenSources {
                reserve: Money::from_minor(9_500),
                fee: Money::from_minor(500),
                ..Default::default()
            }
        );
        post(&mut l, rules::complaint_freeze(&order, &s, sources));
        assert_eq!(l.balance(&Account::Reserve(s.clone())), 0);
        assert_eq!(l.balance(&Account::Frozen(s.clone())), 10_000);
        assert_eq!(l.balance(&Account::Receivable(s.clone())), 0);
        assert_eq!(l.balance(&Account::PlatformFees), 0);
        post(&mut l, rules::complaint_unfreeze(&order, &s, sources));
        assert_eq!(l.balance(&Account::Reserve(s.clone())), 9_500);
        assert_eq!(l.balance(&Account::Frozen(s.clone())), 0);
        assert_eq!(l.balance(&Account::PlatformFees), 500);
        post(&mut l, rules::reserve_release(&order, &s, Money::from_minor(9_500)));
        assert_eq!(l.balance(&Account::Reserve(s.clone())), 0);
        assert_eq!(l.balance(&Account::Available(s.clone())), 9_500);
        // The reserve cannot pay out more than it holds.
        let twice = l.post(rules::reserve_release(&order, &s, Money::from_minor(1)).unwrap_or_else(|e| panic!("{e}")));
        assert!(matches!(
            twice,
            Err(LedgerError::InsufficientFunds {
                account: Account::Reserve(_),
                ..
            })
        ));
        let entries: Vec<_> = l.entries().iter().map(|e| ("e".to_string(), Ok(e.clone()))).collect();
        let mut statuses = BTreeMap::new();
        statuses.insert(order.clone(), crate::OrderStatus::Completed);
        assert_eq!(check_invariants(&entries, l.balances(), &statuses), vec![]);
        // captured = released + refunded + held: the reserve's movements are not order holds.
        assert_eq!(
            order_money(l.entries()).get(&order),
            Some(&OrderMoney {
                captured: 10_000,
                released: 10_000,
                refunded: 0,
                held: 0
            })
        );
    }

    #[test]
    fn a_reserve_short_of_the_seller_part_falls_back_to_available_deposit_receivable() {
        let f = |reserve, available, deposit| {
            rules::FrozenSources::for_completed(
                Money::from_minor(9_500),
                Money::from_minor(500),
                Money::from_minor(reserve),
                Money::from_minor(available),
                Money::from_minor(deposit),
            )
        };
        let m = Money::from_minor;
        let s = f(4_000, 2_000, 1_000);
        assert_eq!(
            (s.reserve, s.available, s.deposit, s.receivable, s.fee),
            (m(4_000), m(2_000), m(1_000), m(2_500), m(500))
        );
        assert_eq!(s.total(), Ok(m(10_000)));
        let s = f(0, 20_000, 0);
        assert_eq!((s.reserve, s.available, s.receivable), (m(0), m(9_500), m(0)));
        // Complaints frozen before the reserve existed read back with none.
        let old: rules::FrozenSources =
            serde_json::from_str(r#"{"escrow":0,"available":9500,"deposit":0,"receivable":0,"fee":500}"#)
                .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(old.reserve, Money::ZERO);
        assert_eq!(old.total(), Ok(m(10_000)));
    }

    #[test]
    fn a_ruling_repays_the_cases_receivable_before_anything_reaches_available() {
        let m = Money::from_minor;
        // Every ruling kind on a 100.00 order at 5 %, for a seller whose case booked a
        // 55.00 receivable, and for one whose case booked more than any seller part.
        for owed in [5_500, 9_500] {
            for ruling in [
                crate::complaint::Ruling::RefundFull,
                crate::complaint::Ruling::ReleaseToSeller,
                crate::complaint::Ruling::Split { buyer_bps: 3000 },
                crate::complaint::Ruling::Redeliver { refund_bps: 1000 },
            ] {
                let settlement = crate::complaint::settle(m(10_000), ruling, 500).unwrap_or_else(|e| panic!("{e}"));
                let (entry, part) = rules::ruling_settlement(
                    &OrderId::generate(),
                    Some(&RefundId::generate()),
                    &seller(),
                    "sandbox",
                    settlement,
                    m(owed),
                    Money::ZERO,
                )
                .unwrap_or_else(|e| panic!("{e}"));
                let part = part.seller;
                assert_eq!(
                    part.repays_receivable.minor() + part.to_available.minor(),
                    settlement.to_seller.minor(),
                    "{ruling:?}"
                );
                assert_eq!(part.repays_receivable, settlement.to_seller.min(m(owed)), "{ruling:?}");
                // What the entry credits to available is exactly what the part says, so
                // holding `to_available` for a frozen seller can never overdraw it.
                let credited: i64 = entry
                    .postings()
                    .iter()
                    .filter(|p| p.account == Account::Available(seller()))
                    .map(|p| -p.amount_minor)
                    .sum();
                assert_eq!(credited, part.to_available.minor(), "{ruling:?}");
            }
        }
        assert_eq!(
            SellerPart::of(m(9_500), m(5_500)),
            SellerPart {
                repays_receivable: m(5_500),
                to_available: m(4_000)
            }
        );
        assert_eq!(
            SellerPart::of(m(6_650), m(9_500)),
            SellerPart {
                repays_receivable: m(6_650),
                to_available: m(0)
            }
        );
        assert_eq!(
            SellerPart::of(m(0), m(9_500)),
            SellerPart {
                repays_receivable: m(0),
                to_available: m(0)
            }
        );
    }

    #[test]
    fn escrow_cannot_go_negative() {
        let mut l = Ledger::default();
        let err = l.post(
            rules::release(&OrderId::generate(), &seller(), Money::from_minor(100), 500)
                .unwrap_or_else(|e| panic!("{e}")),
        );
        assert!(matches!(
            err,
            Err(LedgerError::InsufficientFunds {
                account: Account::Escrow(_),
                ..
            })
        ));
        assert!(l.entries().is_empty());
    }

    #[test]
    fn a_receivable_is_covered_by_deposit_then_fund_then_loss() {
        let s = seller();
        let (e, parts) = rules::settle_receivable(
            &s,
            Money::from_minor(5500),
            Money::from_minor(1000),
            Money::from_minor(300),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(parts.map(|m| m.minor()), [1000, 300, 4200]);
        let e = e.unwrap_or_else(|| panic!("an entry"));
        let mut l = Ledger::default();
        // The receivable (owed 5500), the deposit (1000) and the fund (300), as they stood.
        l.post(
            rules::seller_transfer(
                EntryKind::ComplaintFreeze,
                Account::Receivable(s.clone()),
                Account::Frozen(s.clone()),
                Money::from_minor(5500),
            )
            .unwrap_or_else(|e| panic!("{e}")),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        l.post(
            rules::seller_transfer(
                EntryKind::DepositLocked,
                Account::Provider("p".into()),
                Account::Deposit(s.clone()),
                Money::from_minor(1000),
            )
            .unwrap_or_else(|e| panic!("{e}")),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        l.post(
            rules::seller_transfer(
                EntryKind::CompensationFunded,
                Account::Provider("p".into()),
                Account::CompensationFund,
                Money::from_minor(300),
            )
            .unwrap_or_else(|e| panic!("{e}")),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        l.post(e).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(l.balance(&Account::Receivable(s.clone())), 0);
        assert_eq!(l.balance(&Account::Deposit(s)), 0);
        assert_eq!(l.balance(&Account::CompensationFund), 0);
        assert_eq!(l.balance(&Account::Losses), 4200);
        let (none, _) = rules::settle_receivable(&seller(), Money::ZERO, Money::ZERO, Money::ZERO)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(none.is_none());
    }

    #[test]
    fn account_names_round_trip() {
        for a in [
            Account::Provider("sandbox".into()),
            Account::Escrow(seller()),
            Account::Frozen(seller()),
            Account::Available(seller()),
            Account::Deposit(seller()),
            Account::Receivable(seller()),
            Account::RefundsPending("sandbox".into()),
            Account::PayoutsPending("sandbox".into()),
            Account::PlatformFees,
            Account::CompensationFund,
            Account::Losses,
            Account::Reserve(seller()),
        ] {
            assert_eq!(Account::parse(&a.to_string()), Some(a));
        }
        assert_eq!(Account::parse("escrow:not-a-uuid"), None);
        assert_eq!(Account::parse("platform:other"), None);
    }

    #[test]
    fn check_reports_tampered_balances_and_stuck_escrow() {
        let order = OrderId::generate();
        let mut l = Ledger::default();
        l.post(
            rules::capture(
                &order,
                &PaymentId::generate(),
                &seller(),
                "sandbox",
                Money::from_minor(500),
            )
            .unwrap_or_else(|e| panic!("{e}")),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let entries: Vec<_> = l.entries().iter().map(|e| ("e1".to_string(), Ok(e.clone()))).collect();
        let mut statuses = BTreeMap::new();
        statuses.insert(order.clone(), crate::OrderStatus::Delivered);
        assert_eq!(check_invariants(&entries, l.balances(), &statuses), vec![]);

        let mut tampered = l.balances().clone();
        tampered.insert(Account::Escrow(seller()), -400);
        let v = check_invariants(&entries, &tampered, &statuses);
        assert_eq!(v.len(), 1, "{v:?}");
        assert!(v[0].0.contains("differs from its postings"));

        statuses.insert(order, crate::OrderStatus::Completed);
        let v = check_invariants(&entries, l.balances(), &statuses);
        assert_eq!(v.len(), 1, "{v:?}");
        assert!(v[0].0.contains("still holds 500"));
    }

    #[derive(Debug, Clone)]
    enum Op {
        Pay {
            amount: i64,
            seller: usize,
        },
        Confirm {
            order: usize,
            fee_bps: i64,
        },
        Refund {
            order: usize,
        },
        ConfirmRefund {
            refund: usize,
        },
        /// The end of an order's after-sales window: its reserve becomes available.
        ReleaseReserve {
            order: usize,
        },
        /// A complaint on an order: freeze, then withdraw (None), leave open (Some(-1)) or
        /// rule with the buyer's share in bps.
        Complain {
            order: usize,
            outcome: Option<i64>,
            fee_bps: i64,
            /// The buyer asks for a fast refund (paid when the fund can).
            fast: bool,
        },
        /// A seller locks part of their available balance as the deposit.
        Deposit {
            seller: usize,
            amount: i64,
        },
        /// A seller withdraws part of their available balance.
        Withdraw {
            seller: usize,
            amount: i64,
        },
        /// Fee income moved into the compensation fund.
        FundFromFees {
            amount: i64,
        },
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            3 => (1i64..20_000, 0usize..3).prop_map(|(amount, seller)| Op::Pay { amount, seller }),
            3 => (0usize..12, 0i64..=3_000).prop_map(|(order, fee_bps)| Op::Confirm { order, fee_bps }),
            1 => (0usize..12).prop_map(|order| Op::Refund { order }),
            2 => (0usize..12).prop_map(|refund| Op::ConfirmRefund { refund }),
            3 => (0usize..12).prop_map(|order| Op::ReleaseReserve { order }),
            1 => (0usize..3, 1i64..20_000).prop_map(|(seller, amount)| Op::Deposit { seller, amount }),
            3 => (0usize..3, 1i64..20_000).prop_map(|(seller, amount)| Op::Withdraw { seller, amount }),
            2 => (1i64..1_000_000).prop_map(|amount| Op::FundFromFees { amount }),
            4 => (0usize..12, proptest::option::of(-1i64..=10_000), 0i64..=3_000, any::<bool>()).prop_map(|(order, outcome, fee_bps, fast)| {
                Op::Complain {
                    order,
                    outcome,
                    fee_bps,
                    fast,
                }
            }),
        ]
    }

    #[test]
    fn only_liabilities_taken_down_need_reading() {
        let order = OrderId::generate();
        let s = seller();
        let capture = rules::capture(&order, &PaymentId::generate(), &s, "sandbox", Money::from_minor(1_000))
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            capture.accounts_to_check().unwrap_or_else(|e| panic!("{e}")).is_empty(),
            "a capture only grows the provider and escrow"
        );
        let release = rules::release(&order, &s, Money::from_minor(1_000), 500).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            release
                .accounts_to_check()
                .unwrap_or_else(|e| panic!("{e}"))
                .into_iter()
                .collect::<Vec<_>>(),
            vec![Account::Escrow(s.clone())]
        );
        assert_eq!(
            release.deltas().unwrap_or_else(|e| panic!("{e}")),
            BTreeMap::from([
                (Account::Escrow(s.clone()), 1_000),
                (Account::Reserve(s.clone()), -950),
                (Account::PlatformFees, -50),
            ])
        );
    }

    fn any_account() -> impl Strategy<Value = Account> {
        let s = seller();
        prop_oneof![
            Just(Account::Provider("sandbox".into())),
            Just(Account::Escrow(s.clone())),
            Just(Account::Available(s.clone())),
            Just(Account::Reserve(s.clone())),
            Just(Account::Receivable(s)),
            Just(Account::PlatformFees),
            Just(Account::CompensationFund),
            Just(Account::Losses),
        ]
    }

    proptest! {
        /// Applying an entry with only `accounts_to_check` read (every other account just
        /// takes its delta) refuses exactly what applying it with every balance read
        /// refuses, and gives the same balances: the store's unread, end-of-transaction
        /// additions are safe.
        #[test]
        fn unread_accounts_never_change_the_verdict(
            transfers in proptest::collection::vec((any_account(), any_account(), 1i64..5_000), 1..5),
            balances in proptest::collection::vec(0i64..10_000, 8),
        ) {
            let mut b = JournalEntry::builder(EntryKind::Capture, EntryRefs::default());
            for (from, to, amount) in &transfers {
                if from != to {
                    b = b.transfer(from.clone(), to.clone(), Money::from_minor(*amount));
                }
            }
            let Ok(entry) = b.build() else { return Ok(()) };
            let s = seller();
            let accounts = [
                Account::Provider("sandbox".into()),
                Account::Escrow(s.clone()),
                Account::Available(s.clone()),
                Account::Reserve(s.clone()),
                Account::Receivable(s),
                Account::PlatformFees,
                Account::CompensationFund,
                Account::Losses,
            ];
            // Every account starts where the ledger's invariants allow it to be.
            let current: BTreeMap<Account, i64> = accounts
                .iter()
                .zip(&balances)
                .map(|(a, n)| (a.clone(), if a.normal_side() == Side::Credit { -n } else { *n }))
                .collect();
            let checked = entry.accounts_to_check().unwrap_or_else(|e| panic!("{e}"));
            let read: BTreeMap<Account, i64> = current.iter().filter(|(a, _)| checked.contains(*a)).map(|(a, n)| (a.clone(), *n)).collect();
            let full = entry.apply_to(&current);
            let partial = entry.apply_to(&read);
            prop_assert_eq!(full.is_ok(), partial.is_ok());
            if let (Ok(full), Ok(_)) = (full, partial) {
                for (account, delta) in entry.deltas().unwrap_or_else(|e| panic!("{e}")) {
                    prop_assert_eq!(full[&account], current[&account] + delta);
                }
            }
        }
    }

    #[test]
    fn a_ruling_settles_a_fast_refunds_advance_exactly() {
        let m = Money::from_minor;
        let order = OrderId::generate();
        let s = seller();
        let split = |bps| {
            crate::complaint::settle(m(10_000), crate::complaint::Ruling::Split { buyer_bps: bps }, 500)
                .unwrap_or_else(|e| panic!("{e}"))
        };
        let settle = |bps, advanced| {
            rules::ruling_settlement(&order, None, &s, "sandbox", split(bps), Money::ZERO, m(advanced))
                .unwrap_or_else(|e| panic!("{e}"))
        };
        // Buyer wins: all of it back into the fund, nothing lost, nothing refunded twice.
        let (e, money) = settle(10_000, 10_000);
        assert_eq!(
            (money.to_refund, money.fund_repaid, money.advance_lost),
            (m(0), m(10_000), m(0))
        );
        assert_eq!(
            e.deltas().unwrap_or_default().get(&Account::CompensationFund),
            Some(&-10_000)
        );
        // Seller wins: the seller is paid as usual and the advance is a loss, which makes
        // the fund whole.
        let (e, money) = settle(0, 10_000);
        assert_eq!(
            (money.to_refund, money.fund_repaid, money.advance_lost),
            (m(0), m(0), m(10_000))
        );
        let d = e.deltas().unwrap_or_default();
        assert_eq!(d.get(&Account::Losses), Some(&10_000));
        assert_eq!(d.get(&Account::CompensationFund), Some(&-10_000));
        assert_eq!(d.get(&Account::Available(s.clone())), Some(&-9_500));
        // A split does both in proportion: 30.00 repaid, 70.00 lost, the seller 66.50.
        let (e, money) = settle(3_000, 10_000);
        assert_eq!(
            (money.to_refund, money.fund_repaid, money.advance_lost),
            (m(0), m(3_000), m(7_000))
        );
        assert_eq!(money.seller.to_available, m(6_650));
        assert_eq!(
            e.deltas().unwrap_or_default().get(&Account::CompensationFund),
            Some(&-10_000)
        );
        // No advance: the buyer's part is a refund, as before.
        let (_, money) = settle(3_000, 0);
        assert_eq!(
            (money.to_refund, money.fund_repaid, money.advance_lost),
            (m(3_000), m(0), m(0))
        );
    }

    #[test]
    fn what_is_owed_is_repaid_from_available_as_far_as_both_allow() {
        let m = Money::from_minor;
        let s = seller();
        let e = rules::repay_receivable(&s, m(8_500), m(4_750)).unwrap_or_else(|e| panic!("{e}"));
        let d = e.map(|e| e.deltas().unwrap_or_default()).unwrap_or_default();
        assert_eq!(d.get(&Account::Receivable(s.clone())), Some(&-4_750));
        assert_eq!(d.get(&Account::Available(s.clone())), Some(&4_750));
        assert!(rules::repay_receivable(&s, m(0), m(4_750))
            .unwrap_or_else(|e| panic!("{e}"))
            .is_none());
        assert!(rules::repay_receivable(&s, m(100), m(0))
            .unwrap_or_else(|e| panic!("{e}"))
            .is_none());
        // ledger check names a seller who owes while money is available.
        let mut balances = BTreeMap::new();
        balances.insert(Account::Receivable(s.clone()), 100);
        balances.insert(Account::Available(s.clone()), -1);
        balances.insert(Account::PlatformFees, -99);
        let v = check_invariants(&[], &balances, &BTreeMap::new());
        assert!(
            v.iter()
                .any(|v| v.0.contains("owes 100 (receivable) while 1 is available")),
            "{v:?}"
        );
    }

    /// What the app does after every movement into available: repay what is owed.
    fn repay(l: &mut Ledger, seller: &UserId) {
        let owed = Money::from_minor(l.balance(&Account::Receivable(seller.clone())));
        let available = Money::from_minor(l.balance(&Account::Available(seller.clone())));
        if let Some(e) = rules::repay_receivable(seller, owed, available).unwrap_or_else(|e| panic!("{e}")) {
            l.post(e).unwrap_or_else(|e| panic!("{e}"));
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1024))]
        /// Any sequence of order payments, releases, refunds and refund confirmations,
        /// deposits, withdrawals, complaints (withdrawn, open or ruled, with or without a
        /// fast refund from the compensation fund) and reserve releases, applied through the
        /// posting rules as the app applies them, keeps every invariant `ledger check`
        /// proves (no liability negative, no receivable owed while money is available),
        /// and never creates or destroys money.
        #[test]
        fn random_operations_keep_every_invariant(ops in proptest::collection::vec(op(), 1..120)) {
            let sellers: Vec<UserId> = (0..3).map(|_| UserId::generate()).collect();
            let mut l = Ledger::default();
            // (order, seller, amount, status, fee taken at release, still in the reserve)
            let mut orders: Vec<(OrderId, usize, i64, crate::OrderStatus, i64, i64)> = Vec::new();
            let mut refunds: Vec<(RefundId, OrderId, i64, bool)> = Vec::new();
            // What went into the fund, and the advances of cases not ruled yet.
            let mut funded = 0i64;
            let mut open_advances = 0i64;
            for op in ops {
                match op {
                    Op::Pay { amount, seller } => {
                        let id = OrderId::generate();
                        let e = rules::capture(&id, &PaymentId::generate(), &sellers[seller], "sandbox", Money::from_minor(amount)).unwrap_or_else(|e| panic!("{e}"));
                        l.post(e).unwrap_or_else(|e| panic!("{e}"));
                        orders.push((id, seller, amount, crate::OrderStatus::Delivered, 0, 0));
                    }
                    Op::Confirm { order, fee_bps } => {
                        if let Some(o) = orders.get_mut(order) {
                            let e = rules::release(&o.0, &sellers[o.1], Money::from_minor(o.2), fee_bps).unwrap_or_else(|e| panic!("{e}"));
                            if o.3 == crate::OrderStatus::Delivered {
                                l.post(e).unwrap_or_else(|e| panic!("{e}"));
                                o.3 = crate::OrderStatus::Completed;
                                o.4 = Money::from_minor(o.2).apply_bps(fee_bps).unwrap_or_else(|e| panic!("{e}")).minor();
                                o.5 = o.2 - o.4;
                            }
                        }
                    }
                    Op::Refund { order } => {
                        if let Some(o) = orders.get_mut(order) {
                            let rid = RefundId::generate();
                            let e = rules::refund_from_escrow(&o.0, &rid, &sellers[o.1], "sandbox", Money::from_minor(o.2)).unwrap_or_else(|e| panic!("{e}"));
                            if o.3 == crate::OrderStatus::Delivered {
                                l.post(e).unwrap_or_else(|e| panic!("{e}"));
                                o.3 = crate::OrderStatus::Refunded;
                                refunds.push((rid, o.0.clone(), o.2, false));
                            }
                        }
                    }
                    Op::Deposit { seller, amount } => {
                        let s = &sellers[seller];
                        let take = Money::from_minor(amount).min(Money::from_minor(l.balance(&Account::Available(s.clone()))));
                        if take.is_positive() {
                            l.post(rules::seller_transfer(EntryKind::DepositLocked, Account::Available(s.clone()), Account::Deposit(s.clone()), take).unwrap_or_else(|e| panic!("{e}"))).unwrap_or_else(|e| panic!("{e}"));
                        }
                    }
                    Op::Withdraw { seller, amount } => {
                        let s = &sellers[seller];
                        let take = Money::from_minor(amount).min(Money::from_minor(l.balance(&Account::Available(s.clone()))));
                        if take.is_positive() {
                            l.post(rules::seller_transfer(EntryKind::WithdrawalRequested, Account::Available(s.clone()), Account::PayoutsPending("sandbox".into()), take).unwrap_or_else(|e| panic!("{e}"))).unwrap_or_else(|e| panic!("{e}"));
                        }
                    }
                    Op::FundFromFees { amount } => {
                        let take = Money::from_minor(amount).min(Money::from_minor(l.balance(&Account::PlatformFees)));
                        if take.is_positive() {
                            l.post(rules::seller_transfer(EntryKind::CompensationFunded, Account::PlatformFees, Account::CompensationFund, take).unwrap_or_else(|e| panic!("{e}"))).unwrap_or_else(|e| panic!("{e}"));
                            funded += take.minor();
                        }
                    }
                    Op::Complain { order, outcome, fee_bps, fast } => {
                        let Some(o) = orders.get_mut(order) else { continue };
                        let seller = sellers[o.1].clone();
                        let amount = Money::from_minor(o.2);
                        let sources = match o.3 {
                            crate::OrderStatus::Delivered => rules::FrozenSources { escrow: amount, ..Default::default() },
                            crate::OrderStatus::Completed => {
                                // The release took `fee_paid`; the seller's part comes back
                                // from available, then deposit, then as a receivable.
                                let fee_paid = o.4;
                                let seller_part = Money::from_minor(o.2 - fee_paid);
                                let available = Money::from_minor(l.balance(&Account::Available(seller.clone())));
                                let deposit = Money::from_minor(l.balance(&Account::Deposit(seller.clone())));
                                rules::FrozenSources::for_completed(seller_part, Money::from_minor(fee_paid), Money::from_minor(o.5), available, deposit)
                            }
                            _ => continue,
                        };
                        prop_assert_eq!(sources.total().unwrap_or_else(|e| panic!("{e}")), amount);
                        l.post(rules::complaint_freeze(&o.0, &seller, sources).unwrap_or_else(|e| panic!("{e}"))).unwrap_or_else(|e| panic!("{e}"));
                        o.5 -= sources.reserve.minor();
                        let before = o.3;
                        o.3 = crate::OrderStatus::Disputed;
                        // The fund advances only what it holds beyond every receivable.
                        let receivables: i64 = sellers.iter().map(|s| l.balance(&Account::Receivable(s.clone()))).sum();
                        let liquid = l.balance(&Account::CompensationFund) - receivables;
                        let advanced = if fast && liquid >= amount.minor() {
                            let rid = RefundId::generate();
                            l.post(rules::fast_refund(&o.0, &rid, "sandbox", amount).unwrap_or_else(|e| panic!("{e}"))).unwrap_or_else(|e| panic!("{e}"));
                            refunds.push((rid, o.0.clone(), amount.minor(), false));
                            amount
                        } else {
                            Money::ZERO
                        };
                        // A buyer holding an advance cannot withdraw: the case stays open.
                        let outcome = if advanced.is_positive() && outcome.is_none() { Some(-1) } else { outcome };
                        if outcome == Some(-1) {
                            open_advances += advanced.minor();
                        }
                        match outcome {
                            None => {
                                l.post(rules::complaint_unfreeze(&o.0, &seller, sources).unwrap_or_else(|e| panic!("{e}"))).unwrap_or_else(|e| panic!("{e}"));
                                repay(&mut l, &seller);
                                o.5 += sources.reserve.minor();
                                o.3 = before;
                            }
                            Some(-1) => {}
                            Some(bps) => {
                                let ruling = crate::complaint::Ruling::Split { buyer_bps: bps };
                                let settlement = crate::complaint::settle(amount, ruling, fee_bps).unwrap_or_else(|e| panic!("{e}"));
                                let rid = RefundId::generate();
                                let (e, money) = rules::ruling_settlement(&o.0, Some(&rid), &seller, "sandbox", settlement, sources.receivable, advanced)
                                    .unwrap_or_else(|e| panic!("{e}"));
                                l.post(e).unwrap_or_else(|e| panic!("{e}"));
                                // The advance is settled whole: repaid to the fund or lost.
                                prop_assert_eq!(money.fund_repaid.minor() + money.advance_lost.minor(), advanced.minor());
                                prop_assert_eq!(money.to_refund.minor() + money.fund_repaid.minor(), settlement.to_buyer.minor());
                                if money.to_refund.is_positive() {
                                    refunds.push((rid, o.0.clone(), money.to_refund.minor(), false));
                                }
                                repay(&mut l, &seller);
                                o.3 = ruling.order_outcome();
                            }
                        }
                    }
                    Op::ReleaseReserve { order } => {
                        if let Some(o) = orders.get_mut(order) {
                            if o.5 > 0 && o.3 == crate::OrderStatus::Completed {
                                let e = rules::reserve_release(&o.0, &sellers[o.1], Money::from_minor(o.5)).unwrap_or_else(|e| panic!("{e}"));
                                l.post(e).unwrap_or_else(|e| panic!("{e}"));
                                repay(&mut l, &sellers[o.1]);
                                o.5 = 0;
                            }
                        }
                    }
                    Op::ConfirmRefund { refund } => {
                        if let Some(r) = refunds.get_mut(refund) {
                            if !r.3 {
                                let e = rules::refund_confirmed(Some(&r.1), &r.0, "sandbox", Money::from_minor(r.2)).unwrap_or_else(|e| panic!("{e}"));
                                l.post(e).unwrap_or_else(|e| panic!("{e}"));
                                r.3 = true;
                            }
                        }
                    }
                }
            }
            let entries: Vec<_> = l.entries().iter().enumerate().map(|(i, e)| (i.to_string(), Ok(e.clone()))).collect();
            let statuses = orders.iter().map(|o| (o.0.clone(), o.3)).collect();
            let violations = check_invariants(&entries, l.balances(), &statuses);
            prop_assert!(violations.is_empty(), "{:?}", violations);
            // Money is neither created nor destroyed: all raw balances sum to zero.
            prop_assert_eq!(l.balances().values().sum::<i64>(), 0);
            // Money that left a hold is accounted for: nothing frozen or in escrow for a
            // finished order (checked above), and receivables only where a seller fell short.
            // What the provider still holds is what was paid minus confirmed refunds.
            let paid: i64 = orders.iter().map(|o| o.2).sum();
            let refunded: i64 = refunds.iter().filter(|r| r.3).map(|r| r.2).sum();
            prop_assert_eq!(l.balance(&Account::Provider("sandbox".into())), paid - refunded);
            // Every refund owed to a buyer, and only those, waits at the provider.
            let owed: i64 = refunds.iter().filter(|r| !r.3).map(|r| r.2).sum();
            prop_assert_eq!(l.balance(&Account::RefundsPending("sandbox".into())), owed);
            // A ruled case leaves the fund whole (repaid, or made up as a loss): it is short
            // only by the advances of cases still open.
            prop_assert_eq!(l.balance(&Account::CompensationFund), funded - open_advances);
        }
    }
}
