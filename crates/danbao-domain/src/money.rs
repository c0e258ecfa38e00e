//! Money as a count of minor units (fen). No floats anywhere near it.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Basis points in a whole: 10 000 bps = 100 %.
pub const BPS_WHOLE: i64 = 10_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Money(i64);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("amount overflows")]
    Overflow,
    #[error("amount must not be negative")]
    Negative,
    #[error("basis points must be within 0..=10000, got {0}")]
    BpsOutOfRange(i64),
    #[error("not an amount in yuan: {0:?} (digits, at most two decimals)")]
    NotYuan(String),
}

impl Money {
    pub const ZERO: Money = Money(0);

    pub const fn from_minor(minor: i64) -> Money {
        Money(minor)
    }

    /// A non-negative amount, as every price and payment must be.
    pub fn non_negative(minor: i64) -> Result<Money, MoneyError> {
        if minor < 0 {
            Err(MoneyError::Negative)
        } else {
            Ok(Money(minor))
        }
    }

    pub const fn minor(self) -> i64 {
        self.0
    }

    pub fn checked_add(self, other: Money) -> Result<Money, MoneyError> {
        self.0.checked_add(other.0).map(Money).ok_or(MoneyError::Overflow)
    }

    pub fn checked_sub(self, other: Money) -> Result<Money, MoneyError> {
        self.0.checked_sub(other.0).map(Money).ok_or(MoneyError::Overflow)
    }

    pub fn checked_mul(self, factor: i64) -> Result<Money, MoneyError> {
        self.0.checked_mul(factor).map(Money).ok_or(MoneyError::Overflow)
    }

    pub fn is_positive(self) -> bool {
        self.0 > 0
    }

    /// What a release of `self` pays: the seller's net and the platform's fee, the fee
    /// being `fee_bps` of `self` rounded half-even (SPEC §5). The one place the net
    /// after fee is computed.
    pub fn split_fee(self, fee_bps: i64) -> Result<FeeSplit, MoneyError> {
        let fee = self.apply_bps(fee_bps)?;
        Ok(FeeSplit {
            to_seller: self.checked_sub(fee)?,
            fee,
        })
    }

    /// `self × bps / 10 000`, rounded half to even at the minor unit (SPEC §5).
    pub fn apply_bps(self, bps: i64) -> Result<Money, MoneyError> {
        if !(0..=BPS_WHOLE).contains(&bps) {
            return Err(MoneyError::BpsOutOfRange(bps));
        }
        // i128 so that no realistic amount can overflow the product.
        let product = i128::from(self.0) * i128::from(bps);
        let whole = i128::from(BPS_WHOLE);
        let quotient = product.div_euclid(whole);
        let remainder = product.rem_euclid(whole);
        let rounded = match (remainder * 2).cmp(&whole) {
            std::cmp::Ordering::Less => quotient,
            std::cmp::Ordering::Greater => quotient + 1,
            std::cmp::Ordering::Equal => {
                if quotient % 2 == 0 {
                    quotient
                } else {
                    quotient + 1
                }
            }
        };
        i64::try_from(rounded).map(Money).map_err(|_| MoneyError::Overflow)
    }
}

/// A released amount, split between the seller and the platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeeSplit {
    pub to_seller: Money,
    pub fee: Money,
}

impl Money {
    /// An amount as payment gateways write it in yuan (`"0.10"`, `"1"`, `"1.5"`), read
    /// exactly into fen: digits, then at most two decimals after a point. No sign, no
    /// exponent, no spaces, no third decimal (that is no amount in fen, and rounding it
    /// would make money up or lose it).
    pub fn parse_yuan(text: &str) -> Result<Money, MoneyError> {
        let refuse = || MoneyError::NotYuan(text.chars().take(32).collect());
        let (whole, frac) = match text.split_once('.') {
            Some((w, f)) => (w, Some(f)),
            None => (text, None),
        };
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(whole) || whole.len() > 15 {
            return Err(refuse());
        }
        let cents = match frac {
            None => 0,
            Some(f) if digits(f) && f.len() <= 2 => {
                let n: i64 = f.parse().map_err(|_| refuse())?;
                if f.len() == 1 {
                    n * 10
                } else {
                    n
                }
            }
            Some(_) => return Err(refuse()),
        };
        let yuan: i64 = whole.parse().map_err(|_| refuse())?;
        yuan.checked_mul(100)
            .and_then(|f| f.checked_add(cents))
            .map(Money)
            .ok_or(MoneyError::Overflow)
    }
}

impl fmt::Display for Money {
    /// Yuan with two decimals, e.g. `12.34`; the currency is shown by the caller.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        write!(f, "{sign}{}.{:02}", abs / 100, abs % 100)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yuan_strings_are_read_exactly() {
        for (text, fen) in [
            ("0.10", 10),
            ("1", 100),
            ("1.5", 150),
            ("1.05", 105),
            ("0", 0),
            ("0.01", 1),
            ("12345.67", 1_234_567),
            ("007.00", 700),
        ] {
            assert_eq!(Money::parse_yuan(text), Ok(Money(fen)), "{text}");
        }
        for bad in [
            "",
            "1e3",
            "-1",
            "+1",
            "1.234",
            "1.",
            ".5",
            " 1",
            "1 ",
            "1,00",
            "¥1",
            "0x10",
            "1.-5",
            "NaN",
            "1.5.0",
            "1000000000000000",
        ] {
            assert!(
                matches!(Money::parse_yuan(bad), Err(MoneyError::NotYuan(_))),
                "{bad:?} was read as {:?}",
                Money::parse_yuan(bad)
            );
        }
        assert_eq!(Money::parse_yuan("92233720368547.75"), Ok(Money(9_223_372_036_854_775)));
    }

    #[test]
    fn a_yuan_string_reads_back_as_written() {
        for fen in [0, 1, 10, 99, 100, 1_050, 123_456_789] {
            let m = Money(fen);
            assert_eq!(Money::parse_yuan(&m.to_string()), Ok(m));
        }
    }

    fn check_bps(amount: i64, bps: i64, expected: i64) {
        assert_eq!(
            Money::from_minor(amount).apply_bps(bps),
            Ok(Money::from_minor(expected)),
            "{amount} × {bps} bps"
        );
    }

    #[test]
    fn a_release_splits_into_net_and_fee_that_add_up() {
        // 5 % of 10 050 is 502.5 → 502 (half to even); the seller gets the rest.
        assert_eq!(
            Money::from_minor(10_050).split_fee(500),
            Ok(FeeSplit {
                to_seller: Money::from_minor(9_548),
                fee: Money::from_minor(502),
            })
        );
        for (amount, bps) in [(1, 500), (99, 10_000), (12_345, 0), (7, 3_333)] {
            let s = Money::from_minor(amount).split_fee(bps);
            assert!(s.is_ok_and(|s| s.to_seller.minor() + s.fee.minor() == amount));
        }
        assert_eq!(
            Money::from_minor(1).split_fee(10_001),
            Err(MoneyError::BpsOutOfRange(10_001))
        );
    }

    #[test]
    fn bps_rounds_half_to_even() {
        check_bps(1000, 500, 50);
        check_bps(10, 500, 0); // 0.5 → 0 (even)
        check_bps(30, 500, 2); // 1.5 → 2 (even)
        check_bps(50, 500, 2); // 2.5 → 2 (even)
        check_bps(70, 500, 4); // 3.5 → 4
        check_bps(11, 500, 1); // 0.55 → 1
        check_bps(9, 500, 0); // 0.45 → 0
        check_bps(12345, 10_000, 12345);
        check_bps(12345, 0, 0);
    }

    #[test]
    fn bps_out_of_range_is_refused() {
        assert_eq!(
            Money::from_minor(1).apply_bps(10_001),
            Err(MoneyError::BpsOutOfRange(10_001))
        );
        assert_eq!(Money::from_minor(1).apply_bps(-1), Err(MoneyError::BpsOutOfRange(-1)));
    }

    #[test]
    fn arithmetic_is_checked() {
        assert_eq!(
            Money::from_minor(i64::MAX).checked_add(Money::from_minor(1)),
            Err(MoneyError::Overflow)
        );
        assert_eq!(Money::from_minor(i64::MAX).checked_mul(2), Err(MoneyError::Overflow));
        assert_eq!(Money::non_negative(-1), Err(MoneyError::Negative));
    }

    #[test]
    fn displays_as_yuan() {
        assert_eq!(Money::from_minor(1234).to_string(), "12.34");
        assert_eq!(Money::from_minor(5).to_string(), "0.05");
        assert_eq!(Money::from_minor(-250).to_string(), "-2.50");
    }
}
