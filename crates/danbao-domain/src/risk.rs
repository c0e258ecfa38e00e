//! Risk control at checkout (SPEC §8, 二次验证): an order is scored before payment from
//! figures the application gathers, and the score decides whether the buyer is warned,
//! asked to confirm once more before the cashier opens, or refused.
//!
//! Each factor that fires adds its points (from the rule set) and gives a reason that
//! carries its own figures, so the buyer, the arbitrator and a test all see why. The
//! levels are score thresholds: a factor's weight is data, not code.

use crate::rules::RiskRules;
use crate::TimestampMs;
use serde::{Deserialize, Serialize};

const DAY_MS: i64 = 24 * 3_600_000;
const BPS_ONE: i64 = 10_000;

/// What the application read for one checkout. Plain numbers: counting is storage's
/// work, judging them is this module's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RiskFactors {
    /// How long the seller's account has existed.
    pub seller_age_ms: TimestampMs,
    /// The seller's most recent paid orders looked at (at most `complaint_rate_orders`) ...
    pub seller_recent_paid_orders: i64,
    /// ... and how many of them a complaint was opened on.
    pub seller_recent_complained_orders: i64,
    /// The unit price of this order.
    pub unit_price_minor: i64,
    /// The median unit price of the category's active listings by other sellers, and over
    /// how many listings it was taken (none: no other listing).
    pub category_median_minor: Option<i64>,
    pub category_listings: i64,
    /// Orders the same buyer (account, or a guest's contact) placed within the velocity
    /// window before this one.
    pub buyer_recent_orders: i64,
    /// The order's amount.
    pub amount_minor: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RiskLevel {
    Low,
    /// Warnings are shown at checkout; the cashier opens as usual.
    Warn,
    /// The buyer must confirm once more (二次验证) before the cashier opens.
    StepUp,
    /// Refused, with the reasons.
    Block,
}

impl RiskLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            RiskLevel::Low => "low",
            RiskLevel::Warn => "warn",
            RiskLevel::StepUp => "step_up",
            RiskLevel::Block => "block",
        }
    }

    pub fn parse(s: &str) -> Option<RiskLevel> {
        Some(match s {
            "low" => RiskLevel::Low,
            "warn" => RiskLevel::Warn,
            "step_up" => RiskLevel::StepUp,
            "block" => RiskLevel::Block,
            _ => return None,
        })
    }
}

impl std::fmt::Display for RiskLevel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an order scored what it did: a closed list, each with the figures behind it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum RiskReason {
    /// The seller's account is younger than `min_days`.
    NewSeller { age_days: i64, min_days: i64 },
    /// Complaints were opened on `complained` of the seller's last `orders` paid orders.
    ComplaintRate {
        complained: i64,
        orders: i64,
        rate_bps: i64,
        threshold_bps: i64,
    },
    /// The price is `ratio_bps` of the category median, below `threshold_bps` (低价充值).
    PriceBelowMedian {
        price_minor: i64,
        median_minor: i64,
        ratio_bps: i64,
        threshold_bps: i64,
    },
    /// The buyer placed `orders` orders within `window_minutes` before this one.
    BuyerVelocity { orders: i64, window_minutes: i64 },
    /// The amount is at least `threshold_minor`.
    LargeAmount { amount_minor: i64, threshold_minor: i64 },
}

impl RiskReason {
    /// The stable identifier of the reason, as stored and as clients branch on it.
    pub fn code(&self) -> &'static str {
        match self {
            RiskReason::NewSeller { .. } => "new_seller",
            RiskReason::ComplaintRate { .. } => "complaint_rate",
            RiskReason::PriceBelowMedian { .. } => "price_below_median",
            RiskReason::BuyerVelocity { .. } => "buyer_velocity",
            RiskReason::LargeAmount { .. } => "large_amount",
        }
    }

    /// The points this reason adds under `rules`.
    pub fn points(&self, rules: &RiskRules) -> i64 {
        match self {
            RiskReason::NewSeller { .. } => rules.new_seller_points,
            RiskReason::ComplaintRate { .. } => rules.complaint_rate_points,
            RiskReason::PriceBelowMedian { .. } => rules.low_price_points,
            RiskReason::BuyerVelocity { .. } => rules.velocity_points,
            RiskReason::LargeAmount { .. } => rules.large_amount_points,
        }
    }
}

/// Plain English, for logs and problem documents; pages use their message catalog.
impl std::fmt::Display for RiskReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RiskReason::NewSeller { age_days, min_days } => {
                write!(f, "the seller joined {age_days} days ago (less than {min_days})")
            }
            RiskReason::ComplaintRate { complained, orders, .. } => write!(
                f,
                "complaints on {complained} of the seller's last {orders} paid orders"
            ),
            RiskReason::PriceBelowMedian {
                price_minor,
                median_minor,
                ratio_bps,
                ..
            } => write!(
                f,
                "the price ({price_minor} fen) is {}% of the category's usual price ({median_minor} fen)",
                ratio_bps / 100
            ),
            RiskReason::BuyerVelocity { orders, window_minutes } => {
                write!(f, "{orders} orders by this buyer in the last {window_minutes} minutes")
            }
            RiskReason::LargeAmount {
                amount_minor,
                threshold_minor,
            } => write!(f, "a large amount ({amount_minor} fen, from {threshold_minor} fen)"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RiskAssessment {
    pub level: RiskLevel,
    pub score: i64,
    pub reasons: Vec<RiskReason>,
}

impl RiskAssessment {
    /// An order placed before risk scoring existed, or one with nothing to say.
    pub fn low() -> RiskAssessment {
        RiskAssessment {
            level: RiskLevel::Low,
            score: 0,
            reasons: Vec::new(),
        }
    }
}

/// `part / whole` in basis points, rounded down; `whole` must be positive.
fn ratio_bps(part: i64, whole: i64) -> i64 {
    let bps = i128::from(part) * i128::from(BPS_ONE) / i128::from(whole);
    i64::try_from(bps).unwrap_or(i64::MAX)
}

/// Scores one checkout. Each factor is judged alone; the sum of the points of those that
/// fire decides the level against the rule set's thresholds.
pub fn assess(f: &RiskFactors, rules: &RiskRules) -> RiskAssessment {
    let mut reasons = Vec::new();
    if f.seller_age_ms < rules.new_seller_days.saturating_mul(DAY_MS) {
        reasons.push(RiskReason::NewSeller {
            age_days: f.seller_age_ms.max(0) / DAY_MS,
            min_days: rules.new_seller_days,
        });
    }
    // A handful of orders says nothing about a rate: one complaint on a seller's first
    // order is not a 100 % complaint rate worth refusing anyone over.
    if f.seller_recent_paid_orders >= rules.complaint_rate_orders_min && f.seller_recent_paid_orders > 0 {
        let rate_bps = ratio_bps(f.seller_recent_complained_orders, f.seller_recent_paid_orders);
        if rate_bps >= rules.complaint_rate_bps {
            reasons.push(RiskReason::ComplaintRate {
                complained: f.seller_recent_complained_orders,
                orders: f.seller_recent_paid_orders,
                rate_bps,
                threshold_bps: rules.complaint_rate_bps,
            });
        }
    }
    // Likewise a median of one or two listings is not "the usual price".
    if let Some(median) = f.category_median_minor {
        if median > 0 && f.category_listings >= rules.low_price_listings_min {
            let ratio = ratio_bps(f.unit_price_minor, median);
            if ratio < rules.low_price_bps {
                reasons.push(RiskReason::PriceBelowMedian {
                    price_minor: f.unit_price_minor,
                    median_minor: median,
                    ratio_bps: ratio,
                    threshold_bps: rules.low_price_bps,
                });
            }
        }
    }
    if f.buyer_recent_orders >= rules.velocity_orders {
        reasons.push(RiskReason::BuyerVelocity {
            orders: f.buyer_recent_orders,
            window_minutes: rules.velocity_window_minutes,
        });
    }
    if f.amount_minor >= rules.large_amount_minor {
        reasons.push(RiskReason::LargeAmount {
            amount_minor: f.amount_minor,
            threshold_minor: rules.large_amount_minor,
        });
    }
    let score = reasons.iter().fold(0_i64, |sum, r| sum.saturating_add(r.points(rules)));
    let level = if score >= rules.block_score {
        RiskLevel::Block
    } else if score >= rules.step_up_score {
        RiskLevel::StepUp
    } else if score >= rules.warn_score {
        RiskLevel::Warn
    } else {
        RiskLevel::Low
    };
    RiskAssessment { level, score, reasons }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    /// An order nothing is wrong with: an old seller with a clean record, a usual price,
    /// a first order, a small amount.
    fn calm() -> RiskFactors {
        RiskFactors {
            seller_age_ms: 365 * DAY_MS,
            seller_recent_paid_orders: 50,
            seller_recent_complained_orders: 1,
            unit_price_minor: 1000,
            category_median_minor: Some(1000),
            category_listings: 20,
            buyer_recent_orders: 0,
            amount_minor: 1000,
        }
    }

    fn rules() -> RiskRules {
        RiskRules::default()
    }

    /// The level and the reason codes `factors` give under the shipped rules.
    fn check(factors: RiskFactors, level: RiskLevel, codes: &[&str]) -> RiskAssessment {
        let a = assess(&factors, &rules());
        let got: Vec<&str> = a.reasons.iter().map(RiskReason::code).collect();
        assert_eq!(
            (a.level, got.as_slice()),
            (level, codes),
            "{factors:?} scored {}",
            a.score
        );
        let points: i64 = a.reasons.iter().map(|r| r.points(&rules())).sum();
        assert_eq!(a.score, points, "the score is the sum of the reasons' points");
        a
    }

    #[test]
    fn a_calm_order_is_low_with_no_reasons() {
        let a = check(calm(), RiskLevel::Low, &[]);
        assert_eq!(a.score, 0);
    }

    #[test]
    fn a_new_seller_alone_is_a_warning_with_its_age() {
        let a = check(
            RiskFactors {
                seller_age_ms: 2 * DAY_MS + 5,
                ..calm()
            },
            RiskLevel::Warn,
            &["new_seller"],
        );
        assert_eq!(
            a.reasons[0],
            RiskReason::NewSeller {
                age_days: 2,
                min_days: 7
            }
        );
        // The boundary: seven days old is no longer new.
        check(
            RiskFactors {
                seller_age_ms: 7 * DAY_MS,
                ..calm()
            },
            RiskLevel::Low,
            &[],
        );
        check(
            RiskFactors {
                seller_age_ms: 7 * DAY_MS - 1,
                ..calm()
            },
            RiskLevel::Warn,
            &["new_seller"],
        );
    }

    #[test]
    fn a_high_complaint_rate_alone_is_a_warning_with_its_figures() {
        let a = check(
            RiskFactors {
                seller_recent_complained_orders: 10,
                ..calm()
            },
            RiskLevel::Warn,
            &["complaint_rate"],
        );
        assert_eq!(
            a.reasons[0],
            RiskReason::ComplaintRate {
                complained: 10,
                orders: 50,
                rate_bps: 2000,
                threshold_bps: 2000
            }
        );
        // Just under the threshold: 9 of 50 is 18 %.
        check(
            RiskFactors {
                seller_recent_complained_orders: 9,
                ..calm()
            },
            RiskLevel::Low,
            &[],
        );
    }

    #[test]
    fn too_few_orders_say_nothing_about_a_rate() {
        let few = RiskFactors {
            seller_recent_paid_orders: 9,
            seller_recent_complained_orders: 9,
            ..calm()
        };
        check(few, RiskLevel::Low, &[]);
        check(
            RiskFactors {
                seller_recent_paid_orders: 10,
                ..few
            },
            RiskLevel::Warn,
            &["complaint_rate"],
        );
        // No paid order at all: nothing to divide by, nothing said.
        check(
            RiskFactors {
                seller_recent_paid_orders: 0,
                seller_recent_complained_orders: 0,
                ..calm()
            },
            RiskLevel::Low,
            &[],
        );
    }

    #[test]
    fn a_price_far_below_the_median_alone_asks_for_a_second_confirmation() {
        let a = check(
            RiskFactors {
                unit_price_minor: 400,
                amount_minor: 400,
                ..calm()
            },
            RiskLevel::StepUp,
            &["price_below_median"],
        );
        assert_eq!(
            a.reasons[0],
            RiskReason::PriceBelowMedian {
                price_minor: 400,
                median_minor: 1000,
                ratio_bps: 4000,
                threshold_bps: 5000
            }
        );
        // Half the median exactly is not below half.
        check(
            RiskFactors {
                unit_price_minor: 500,
                ..calm()
            },
            RiskLevel::Low,
            &[],
        );
        check(
            RiskFactors {
                unit_price_minor: 499,
                ..calm()
            },
            RiskLevel::StepUp,
            &["price_below_median"],
        );
    }

    #[test]
    fn a_median_of_too_few_listings_or_none_is_not_compared() {
        let cheap = RiskFactors {
            unit_price_minor: 10,
            ..calm()
        };
        check(
            RiskFactors {
                category_listings: 2,
                ..cheap
            },
            RiskLevel::Low,
            &[],
        );
        check(
            RiskFactors {
                category_listings: 3,
                ..cheap
            },
            RiskLevel::StepUp,
            &["price_below_median"],
        );
        check(
            RiskFactors {
                category_median_minor: None,
                category_listings: 0,
                ..cheap
            },
            RiskLevel::Low,
            &[],
        );
    }

    #[test]
    fn buyer_velocity_alone_is_a_warning_from_the_threshold_on() {
        check(
            RiskFactors {
                buyer_recent_orders: 4,
                ..calm()
            },
            RiskLevel::Low,
            &[],
        );
        let a = check(
            RiskFactors {
                buyer_recent_orders: 5,
                ..calm()
            },
            RiskLevel::Warn,
            &["buyer_velocity"],
        );
        assert_eq!(
            a.reasons[0],
            RiskReason::BuyerVelocity {
                orders: 5,
                window_minutes: 60
            }
        );
    }

    #[test]
    fn a_large_amount_alone_is_a_warning_from_the_threshold_on() {
        check(
            RiskFactors {
                amount_minor: 199_999,
                ..calm()
            },
            RiskLevel::Low,
            &[],
        );
        check(
            RiskFactors {
                amount_minor: 200_000,
                ..calm()
            },
            RiskLevel::Warn,
            &["large_amount"],
        );
    }

    #[test]
    fn factors_add_up_to_step_up_and_block() {
        let new_seller = RiskFactors {
            seller_age_ms: 0,
            ..calm()
        };
        // New seller and a busy buyer: 45, still a warning ...
        let a = check(
            RiskFactors {
                buyer_recent_orders: 6,
                ..new_seller
            },
            RiskLevel::Warn,
            &["new_seller", "buyer_velocity"],
        );
        assert_eq!(a.score, 45);
        // ... and with a large amount too: 65, a second confirmation.
        check(
            RiskFactors {
                buyer_recent_orders: 6,
                amount_minor: 500_000,
                ..new_seller
            },
            RiskLevel::StepUp,
            &["new_seller", "buyer_velocity", "large_amount"],
        );
        // New seller and a large amount: 40, a warning.
        check(
            RiskFactors {
                amount_minor: 500_000,
                ..new_seller
            },
            RiskLevel::Warn,
            &["new_seller", "large_amount"],
        );
        // The 低价充值 trap from a new shop: 70, a second confirmation.
        let trap = RiskFactors {
            unit_price_minor: 100,
            amount_minor: 100,
            ..new_seller
        };
        check(trap, RiskLevel::StepUp, &["new_seller", "price_below_median"]);
        // ... from a shop with many complaints too: 110, refused.
        let a = check(
            RiskFactors {
                seller_recent_complained_orders: 25,
                ..trap
            },
            RiskLevel::Block,
            &["new_seller", "complaint_rate", "price_below_median"],
        );
        assert_eq!(a.score, 110);
        // ... to a buyer placing order after order: 95, one short of refused ...
        let busy = RiskFactors {
            buyer_recent_orders: 5,
            ..trap
        };
        let a = check(
            busy,
            RiskLevel::StepUp,
            &["new_seller", "price_below_median", "buyer_velocity"],
        );
        assert_eq!(a.score, 95);
        // ... for a large amount: 115, refused.
        check(
            RiskFactors {
                unit_price_minor: 200_000,
                category_median_minor: Some(1_000_000),
                amount_minor: 200_000,
                ..busy
            },
            RiskLevel::Block,
            &["new_seller", "price_below_median", "buyer_velocity", "large_amount"],
        );
        // Everything at once.
        check(
            RiskFactors {
                seller_recent_complained_orders: 50,
                buyer_recent_orders: 50,
                unit_price_minor: 300_000,
                category_median_minor: Some(1_000_000),
                amount_minor: 300_000,
                ..new_seller
            },
            RiskLevel::Block,
            &[
                "new_seller",
                "complaint_rate",
                "price_below_median",
                "buyer_velocity",
                "large_amount",
            ],
        );
    }

    #[test]
    fn the_levels_follow_the_thresholds_of_the_rule_set() {
        let mut r = rules();
        let factors = RiskFactors {
            seller_age_ms: 0,
            ..calm()
        };
        for (warn, step_up, block, level) in [
            (21, 50, 100, RiskLevel::Low),
            (20, 50, 100, RiskLevel::Warn),
            (10, 20, 100, RiskLevel::StepUp),
            (10, 15, 20, RiskLevel::Block),
        ] {
            r.warn_score = warn;
            r.step_up_score = step_up;
            r.block_score = block;
            assert_eq!(assess(&factors, &r).level, level, "{warn}/{step_up}/{block}");
        }
        // A factor worth nothing still says why, and changes no level.
        let mut r = rules();
        r.new_seller_points = 0;
        let a = assess(&factors, &r);
        assert_eq!((a.level, a.score, a.reasons.len()), (RiskLevel::Low, 0, 1));
    }

    #[test]
    fn extreme_figures_do_not_overflow() {
        let a = assess(
            &RiskFactors {
                seller_age_ms: i64::MIN,
                seller_recent_paid_orders: i64::MAX,
                seller_recent_complained_orders: i64::MAX,
                unit_price_minor: i64::MAX,
                category_median_minor: Some(1),
                category_listings: i64::MAX,
                buyer_recent_orders: i64::MAX,
                amount_minor: i64::MAX,
            },
            &rules(),
        );
        assert_eq!(a.level, RiskLevel::Block);
        assert_eq!(
            a.reasons[0],
            RiskReason::NewSeller {
                age_days: 0,
                min_days: 7
            }
        );
    }

    #[test]
    fn levels_and_reasons_round_trip_as_stored() {
        for level in [RiskLevel::Low, RiskLevel::Warn, RiskLevel::StepUp, RiskLevel::Block] {
            assert_eq!(RiskLevel::parse(level.as_str()), Some(level));
        }
        assert_eq!(RiskLevel::parse("high"), None);
        let reasons = vec![
            RiskReason::NewSeller {
                age_days: 1,
                min_days: 7,
            },
            RiskReason::PriceBelowMedian {
                price_minor: 1,
                median_minor: 10,
                ratio_bps: 1000,
                threshold_bps: 5000,
            },
        ];
        let json = serde_json::to_string(&reasons).unwrap();
        assert!(json.contains(r#""code":"new_seller""#), "{json}");
        let back: Vec<RiskReason> = serde_json::from_str(&json).unwrap();
        assert_eq!(back, reasons);
        assert_eq!(
            reasons[1].to_string(),
            "the price (1 fen) is 10% of the category's usual price (10 fen)"
        );
    }
}
