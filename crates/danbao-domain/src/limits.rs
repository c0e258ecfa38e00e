//! What one buyer may hold and try: the caps on stock held by unpaid orders (囤货, stock
//! hoarding) and the backoff that locks an order's query password after repeated wrong
//! guesses (查单). Pure: the caller reads the counts and the lock, passes the time in, and
//! stores what comes back.

use crate::refusal::Refusal;
use crate::rules::LimitRules;
use crate::TimestampMs;

const SECOND_MS: i64 = 1000;
const HOUR_MS: i64 = 3_600_000;
/// Basis points in a whole.
const BPS_WHOLE: i64 = 10_000;

/// Who holds stock through unpaid orders: the buyer's account, a guest's contact, or the
/// network address the orders came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holder {
    Account,
    Contact,
    Address,
}

impl Holder {
    pub fn as_str(self) -> &'static str {
        match self {
            Holder::Account => "account",
            Holder::Contact => "contact",
            Holder::Address => "address",
        }
    }
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What is held unpaid (units of `card_key` stock in `pending_payment` orders) before a
/// new order, as counted by the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Holdings {
    /// The buyer (`Account` or `Contact`), over every product.
    pub buyer: i64,
    /// The buyer, of this product.
    pub buyer_of_product: i64,
    /// The network address, over every product.
    pub address: i64,
    /// Everyone, of this product.
    pub product: i64,
    /// This product's stock not held by anyone.
    pub product_free: i64,
}

/// May a buyer reserve `requested` more units? `buyer` says whether the buyer is an account
/// or a contact; `address_max` is the deployment's cap per network address (None: no
/// address is known, as for the operator's own tools).
///
/// A buyer may hold at most `unpaid_units_per_buyer_max` units over all products, and at most
/// `unpaid_share_of_stock_bps` of a product's stock (its free stock plus what is held unpaid),
/// but always at least one unit, so that the last key of a product can be bought.
pub fn check_hold(
    held: &Holdings,
    requested: i64,
    buyer: Holder,
    address_max: Option<i64>,
    rules: &LimitRules,
) -> Result<(), Refusal> {
    // More than there is: the truer answer is that the stock is short, whoever asks.
    if requested > held.product_free {
        return Err(Refusal::OutOfStock);
    }
    let over = |holder: Holder, held: i64, max: i64| {
        (held.saturating_add(requested) > max).then_some(Refusal::UnpaidUnitsLimit {
            holder,
            held_units: held,
            max_units: max,
        })
    };
    if let Some(refusal) = over(buyer, held.buyer, rules.unpaid_units_per_buyer_max) {
        return Err(refusal);
    }
    if let Some(refusal) = address_max.and_then(|max| over(Holder::Address, held.address, max)) {
        return Err(refusal);
    }
    let stock = held.product.saturating_add(held.product_free);
    let share = stock.saturating_mul(rules.unpaid_share_of_stock_bps) / BPS_WHOLE;
    let share_max = share.max(1);
    if held.buyer_of_product.saturating_add(requested) > share_max {
        return Err(Refusal::StockShareLimit {
            held_units: held.buyer_of_product,
            max_units: share_max,
            share_bps: rules.unpaid_share_of_stock_bps,
        });
    }
    Ok(())
}

/// The wrong guesses at one order's query password, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryPasswordLock {
    pub failures: i64,
    pub last_failure_at: TimestampMs,
    /// No guess is checked before this time (0: not locked).
    pub locked_until: TimestampMs,
}

impl QueryPasswordLock {
    /// Refuses every guess, the right one too, while the order is locked: otherwise a
    /// lock would only slow down the guesser who happens to be right.
    pub fn check(lock: Option<&QueryPasswordLock>, now: TimestampMs) -> Result<(), Refusal> {
        match lock {
            Some(l) if now < l.locked_until => Err(Refusal::QueryPasswordLocked {
                until: l.locked_until,
                retry_after_s: seconds_until(now, l.locked_until),
            }),
            _ => Ok(()),
        }
    }

    /// The lock after one more wrong guess at `now`. The first `query_password_failures_free`
    /// cost nothing (people mistype); each one after locks the order for
    /// `query_password_lock_seconds`, doubling, up to `query_password_lock_seconds_max`.
    /// Failures older than `query_password_failures_forgotten_hours` are forgotten.
    pub fn after_failure(lock: Option<&QueryPasswordLock>, now: TimestampMs, rules: &LimitRules) -> QueryPasswordLock {
        let forget_ms = rules.query_password_failures_forgotten_hours.saturating_mul(HOUR_MS);
        let failures = match lock {
            Some(l) if now.saturating_sub(l.last_failure_at) < forget_ms => l.failures.saturating_add(1),
            _ => 1,
        };
        let over = failures - rules.query_password_failures_free;
        let locked_until = if over > 0 {
            // 2^(over-1), with the exponent bounded so the shift cannot overflow; the cap
            // applies long before it matters.
            let doublings = u32::try_from((over - 1).min(32)).unwrap_or(32);
            let lock_s = rules
                .query_password_lock_seconds
                .saturating_mul(1_i64 << doublings)
                .min(rules.query_password_lock_seconds_max);
            now.saturating_add(lock_s.saturating_mul(SECOND_MS))
        } else {
            0
        };
        QueryPasswordLock {
            failures,
            last_failure_at: now,
            locked_until,
        }
    }
}

/// Whole seconds from `now` until `until`, rounded up and at least one: what a
/// `Retry-After` header says.
pub fn seconds_until(now: TimestampMs, until: TimestampMs) -> i64 {
    let ms = until.saturating_sub(now).max(1);
    (ms + SECOND_MS - 1) / SECOND_MS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> LimitRules {
        LimitRules {
            unpaid_units_per_buyer_max: 20,
            unpaid_share_of_stock_bps: 5000,
            query_password_failures_free: 5,
            query_password_lock_seconds: 60,
            query_password_lock_seconds_max: 3600,
            query_password_failures_forgotten_hours: 24,
        }
    }

    fn check(held: Holdings, requested: i64, address_max: Option<i64>, expected: Result<(), Refusal>) {
        assert_eq!(
            check_hold(&held, requested, Holder::Contact, address_max, &rules()),
            expected,
            "{held:?} + {requested}"
        );
    }

    fn stock(free: i64) -> Holdings {
        Holdings {
            product_free: free,
            ..Holdings::default()
        }
    }

    #[test]
    fn a_buyer_holds_at_most_the_cap_over_all_products() {
        check(stock(1000), 20, None, Ok(()));
        let holding = |n| Holdings {
            buyer: n,
            product_free: 1000,
            ..Holdings::default()
        };
        check(holding(19), 1, None, Ok(()));
        check(
            holding(19),
            2,
            None,
            Err(Refusal::UnpaidUnitsLimit {
                holder: Holder::Contact,
                held_units: 19,
                max_units: 20,
            }),
        );
        // An account is named as such.
        assert_eq!(
            check_hold(&holding(20), 1, Holder::Account, None, &rules()),
            Err(Refusal::UnpaidUnitsLimit {
                holder: Holder::Account,
                held_units: 20,
                max_units: 20,
            })
        );
    }

    #[test]
    fn an_address_holds_at_most_the_deployments_cap() {
        let held = Holdings {
            address: 99,
            product_free: 1000,
            ..Holdings::default()
        };
        check(held, 1, Some(100), Ok(()));
        check(
            held,
            2,
            Some(100),
            Err(Refusal::UnpaidUnitsLimit {
                holder: Holder::Address,
                held_units: 99,
                max_units: 100,
            }),
        );
        // Without an address (the operator's tools) only the buyer's caps apply.
        check(held, 2, None, Ok(()));
    }

    #[test]
    fn a_buyer_holds_at_most_a_share_of_a_products_stock() {
        // 10 keys, half may be held by one buyer: 5.
        check(stock(10), 5, None, Ok(()));
        let refused = |held_units, max_units| {
            Err(Refusal::StockShareLimit {
                held_units,
                max_units,
                share_bps: 5000,
            })
        };
        check(stock(10), 6, None, refused(0, 5));
        // What others hold unpaid still counts as the product's stock.
        let held = Holdings {
            buyer: 3,
            buyer_of_product: 3,
            product: 7,
            product_free: 3,
            ..Holdings::default()
        };
        check(held, 2, None, Ok(()));
        check(held, 3, None, refused(3, 5));
        // The last key can always be bought by someone.
        check(stock(1), 1, None, Ok(()));
        // Of two keys, half: one.
        check(stock(2), 2, None, refused(0, 1));
        // More than is free is out of stock, whatever the caps say.
        check(stock(1), 2, None, Err(Refusal::OutOfStock));
        check(stock(0), 1, None, Err(Refusal::OutOfStock));
    }

    #[test]
    fn the_first_failures_are_free_then_each_locks_longer_up_to_the_cap() {
        let r = rules();
        let mut lock = None;
        let mut now = 1_000_000;
        let mut locked_for_s = Vec::new();
        for _ in 0..12 {
            let next = QueryPasswordLock::after_failure(lock.as_ref(), now, &r);
            locked_for_s.push((next.locked_until - now).max(0) / 1000);
            // The guesser waits out each lock before the next guess.
            now = now.max(next.locked_until) + 1;
            lock = Some(next);
        }
        assert_eq!(locked_for_s, vec![0, 0, 0, 0, 0, 60, 120, 240, 480, 960, 1920, 3600]);
        assert_eq!(lock.map(|l| l.failures), Some(12));
    }

    #[test]
    fn a_locked_order_refuses_every_guess_until_the_lock_ends() {
        let lock = QueryPasswordLock {
            failures: 6,
            last_failure_at: 1000,
            locked_until: 61_000,
        };
        assert_eq!(
            QueryPasswordLock::check(Some(&lock), 1000),
            Err(Refusal::QueryPasswordLocked {
                until: 61_000,
                retry_after_s: 60
            })
        );
        assert_eq!(
            QueryPasswordLock::check(Some(&lock), 60_500),
            Err(Refusal::QueryPasswordLocked {
                until: 61_000,
                retry_after_s: 1
            })
        );
        assert_eq!(QueryPasswordLock::check(Some(&lock), 61_000), Ok(()));
        assert_eq!(QueryPasswordLock::check(None, 0), Ok(()));
    }

    #[test]
    fn old_failures_are_forgotten() {
        let r = rules();
        let lock = QueryPasswordLock {
            failures: 9,
            last_failure_at: 0,
            locked_until: 0,
        };
        let day = 24 * HOUR_MS;
        assert_eq!(QueryPasswordLock::after_failure(Some(&lock), day - 1, &r).failures, 10);
        let fresh = QueryPasswordLock::after_failure(Some(&lock), day, &r);
        assert_eq!((fresh.failures, fresh.locked_until), (1, 0));
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(seconds_until(0, 1), 1);
        assert_eq!(seconds_until(0, 1000), 1);
        assert_eq!(seconds_until(0, 1001), 2);
        assert_eq!(seconds_until(5000, 0), 1);
    }
}
