//! A seller's standing (SPEC §6, fraud response): active, frozen, or banned, with one
//! transition function. A freeze stops money going to the seller, never refunds going
//! to buyers; a ban is one-way.

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Standing {
    Active,
    /// Listings hidden, new orders and withdrawals refused, releases held in frozen.
    Frozen,
    /// Frozen for good; every open order refunded.
    Banned,
}

impl Standing {
    pub fn as_str(self) -> &'static str {
        match self {
            Standing::Active => "active",
            Standing::Frozen => "frozen",
            Standing::Banned => "banned",
        }
    }

    pub fn parse(text: &str) -> Option<Standing> {
        match text {
            "active" => Some(Standing::Active),
            "frozen" => Some(Standing::Frozen),
            "banned" => Some(Standing::Banned),
            _ => None,
        }
    }

    /// Whether the seller may list, take new orders, be paid and withdraw.
    pub fn is_active(self) -> bool {
        self == Standing::Active
    }
}

impl fmt::Display for Standing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StandingChange {
    /// An arbitrator's emergency freeze, or the collective-complaint rule.
    Freeze,
    Unfreeze,
    /// Confirmed fraud.
    Ban,
}

/// What the app carries out, in the same transaction, after a standing change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StandingEffect {
    /// Move the seller's whole available balance into frozen, and remember how much.
    HoldAvailable,
    /// Give back what the freeze held (frozen → available).
    ReturnHeld,
    /// Refund every open order in full: open complaints by a full-refund ruling, other
    /// paid orders from escrow.
    RefundOpenOrders,
    /// Cover what the seller owes from the held money, the deposit, the compensation
    /// fund, and book the rest as the platform's loss.
    SettleReceivable,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a seller who is {from} cannot be {change:?}d")]
pub struct IllegalStandingChange {
    pub from: Standing,
    pub change: StandingChange,
}

/// The one transition function of a seller's standing. Freezing a seller who is
/// already frozen or banned changes nothing: the collective rule may fire again.
pub fn transition(
    from: Standing,
    change: StandingChange,
) -> Result<(Standing, Vec<StandingEffect>), IllegalStandingChange> {
    use Standing as S;
    use StandingChange as C;
    use StandingEffect as E;
    let next = match (from, change) {
        (S::Active, C::Freeze) => (S::Frozen, vec![E::HoldAvailable]),
        (S::Frozen | S::Banned, C::Freeze) => (from, vec![]),
        (S::Frozen, C::Unfreeze) => (S::Active, vec![E::ReturnHeld]),
        (S::Active, C::Ban) => (
            S::Banned,
            vec![E::HoldAvailable, E::RefundOpenOrders, E::SettleReceivable],
        ),
        (S::Frozen, C::Ban) => (S::Banned, vec![E::RefundOpenOrders, E::SettleReceivable]),
        (S::Active | S::Banned, C::Unfreeze) | (S::Banned, C::Ban) => {
            return Err(IllegalStandingChange { from, change })
        }
    };
    Ok(next)
}

/// Why a deposit cannot be released now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DepositHeld {
    #[error("the deposit stays while {0} orders are open")]
    OpenOrders(i64),
    #[error("the deposit stays while {0} complaints are open")]
    OpenComplaints(i64),
    #[error("the deposit can be released from {0} (ms)")]
    QuietUntil(crate::TimestampMs),
}

/// SPEC §7: a deposit is released only after `release_quiet_days` with no open order or
/// complaint. `last_activity_at` is when the seller's last paid order or complaint last
/// moved; none means the seller never sold.
pub fn deposit_release(
    open_orders: i64,
    open_complaints: i64,
    last_activity_at: Option<crate::TimestampMs>,
    rules: &crate::RuleSet,
    now: crate::TimestampMs,
) -> Result<(), DepositHeld> {
    if open_orders > 0 {
        return Err(DepositHeld::OpenOrders(open_orders));
    }
    if open_complaints > 0 {
        return Err(DepositHeld::OpenComplaints(open_complaints));
    }
    let quiet_ms = rules.deposit.release_quiet_days.saturating_mul(86_400_000);
    match last_activity_at.map(|at| at.saturating_add(quiet_ms)) {
        Some(until) if until > now => Err(DepositHeld::QuietUntil(until)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Standing as S;
    use StandingChange as C;
    use StandingEffect as E;

    fn check(from: Standing, change: StandingChange, expected: Result<(Standing, Vec<StandingEffect>), ()>) {
        let got = transition(from, change).map_err(|e| {
            assert_eq!(e, IllegalStandingChange { from, change });
        });
        assert_eq!(got, expected, "{from} + {change:?}");
    }

    #[test]
    fn every_standing_and_change() {
        check(S::Active, C::Freeze, Ok((S::Frozen, vec![E::HoldAvailable])));
        check(S::Frozen, C::Freeze, Ok((S::Frozen, vec![])));
        check(S::Banned, C::Freeze, Ok((S::Banned, vec![])));
        check(S::Frozen, C::Unfreeze, Ok((S::Active, vec![E::ReturnHeld])));
        check(S::Active, C::Unfreeze, Err(()));
        check(S::Banned, C::Unfreeze, Err(()));
        check(
            S::Active,
            C::Ban,
            Ok((
                S::Banned,
                vec![E::HoldAvailable, E::RefundOpenOrders, E::SettleReceivable],
            )),
        );
        check(
            S::Frozen,
            C::Ban,
            Ok((S::Banned, vec![E::RefundOpenOrders, E::SettleReceivable])),
        );
        check(S::Banned, C::Ban, Err(()));
    }

    #[test]
    fn only_an_active_seller_sells() {
        assert!(S::Active.is_active());
        assert!(!S::Frozen.is_active());
        assert!(!S::Banned.is_active());
        for s in [S::Active, S::Frozen, S::Banned] {
            assert_eq!(Standing::parse(s.as_str()), Some(s));
        }
        assert_eq!(Standing::parse("suspended"), None);
    }

    #[test]
    fn a_deposit_is_released_only_after_thirty_quiet_days() {
        let rules = crate::RuleSet::default_rules().unwrap_or_else(|e| panic!("{e}"));
        let day = 86_400_000;
        let now = 1_800_000_000_000;
        assert_eq!(deposit_release(0, 0, None, &rules, now), Ok(()));
        assert_eq!(deposit_release(0, 0, Some(now - 30 * day), &rules, now), Ok(()));
        assert_eq!(
            deposit_release(0, 0, Some(now - 30 * day + 1), &rules, now),
            Err(DepositHeld::QuietUntil(now + 1))
        );
        assert_eq!(
            deposit_release(2, 1, None, &rules, now),
            Err(DepositHeld::OpenOrders(2))
        );
        assert_eq!(
            deposit_release(0, 1, None, &rules, now),
            Err(DepositHeld::OpenComplaints(1))
        );
    }
}
