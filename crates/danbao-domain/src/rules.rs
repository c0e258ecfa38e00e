//! The published rule set (SPEC §10): deadlines, thresholds and fees as data.

use crate::TimestampMs;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// The rule set that ships with Danbao; `danbao serve --rules FILE` replaces it.
pub const DEFAULT_RULES_TOML: &str = include_str!("../../../rules/default.toml");

const MINUTE_MS: i64 = 60_000;
const HOUR_MS: i64 = 60 * MINUTE_MS;
const DAY_MS: i64 = 24 * HOUR_MS;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSet {
    pub version: i64,
    pub orders: OrderRules,
    pub payments: PaymentRules,
    pub complaints: ComplaintRules,
    pub fees: FeeRules,
    /// Absent from rule sets published before it existed: those read as the defaults.
    #[serde(default)]
    pub limits: LimitRules,
    /// The security deposit (保证金); absent from older rule sets: the defaults.
    #[serde(default)]
    pub deposit: DepositRules,
    /// Risk control at checkout (SPEC §8); absent from older rule sets, which read as the
    /// defaults.
    #[serde(default)]
    pub risk: RiskRules,
    /// What the platform publishes about itself (issue 16); absent from older rule sets,
    /// which read as the defaults.
    #[serde(default)]
    pub transparency: TransparencyRules,
}

/// `[transparency]`: how often the proof of liabilities is published.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransparencyRules {
    /// A statement of liabilities (a Merkle sum tree over every balance owed, signed and
    /// logged) is published every this many minutes.
    pub liabilities_period_minutes: i64,
    /// The leaves of the latest this many statements are kept (buyers' proofs are of the
    /// latest; the ledger check rebuilds each kept tree). An older statement keeps its
    /// signed note, root, total and account snapshot: at a million balances its leaves
    /// would take about 150 MB a period. Absent from older rule sets: the default.
    #[serde(default = "default_liabilities_keep_leaves")]
    pub liabilities_keep_leaves: i64,
}

fn default_liabilities_keep_leaves() -> i64 {
    168
}

impl Default for TransparencyRules {
    /// The value of the shipped rule set (a test checks they agree).
    fn default() -> TransparencyRules {
        TransparencyRules {
            liabilities_period_minutes: 60,
            liabilities_keep_leaves: default_liabilities_keep_leaves(),
        }
    }
}

impl TransparencyRules {
    pub fn liabilities_period_ms(&self) -> TimestampMs {
        self.liabilities_period_minutes * 60_000
    }
}

/// `[deposit]`: what a seller must hold as a security deposit to list, and when it may
/// be taken back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DepositRules {
    /// Held before anything is listed (minor units: 50000 = ¥500) ...
    #[serde(default = "default_deposit_required_minor")]
    pub required_minor: i64,
    /// ... plus this share (bps) of the seller's sales over the volume window, so a bigger
    /// seller guarantees more.
    #[serde(default = "default_deposit_volume_share_bps")]
    pub volume_share_bps: i64,
    #[serde(default = "default_deposit_volume_window_days")]
    pub volume_window_days: i64,
    /// The deposit is released only after this many days with no open order or
    /// complaint (SPEC §7): until then it still pays buyers first.
    pub release_quiet_days: i64,
}

impl Default for DepositRules {
    /// The values of the shipped rule set (a test checks they agree).
    fn default() -> DepositRules {
        DepositRules {
            required_minor: default_deposit_required_minor(),
            volume_share_bps: default_deposit_volume_share_bps(),
            volume_window_days: default_deposit_volume_window_days(),
            release_quiet_days: 30,
        }
    }
}

fn default_deposit_required_minor() -> i64 {
    50_000
}

fn default_deposit_volume_share_bps() -> i64 {
    500
}

fn default_deposit_volume_window_days() -> i64 {
    30
}

impl RuleSet {
    /// The deposit a seller must hold to list (SPEC §7): the base, plus the rule set's
    /// share of their sales over the volume window, rounded half to even.
    pub fn required_deposit(&self, recent_sales: crate::Money) -> Result<crate::Money, crate::MoneyError> {
        let d = &self.deposit;
        crate::Money::from_minor(d.required_minor).checked_add(recent_sales.apply_bps(d.volume_share_bps)?)
    }

    pub fn deposit_volume_window_ms(&self) -> TimestampMs {
        self.deposit.volume_window_days * DAY_MS
    }
}

/// How an order is scored before payment (`[risk]`, see `crate::risk`): each factor's
/// threshold and points, and the scores from which the buyer is warned, asked to confirm
/// once more, or refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RiskRules {
    pub new_seller_days: i64,
    pub new_seller_points: i64,
    pub complaint_rate_orders: i64,
    pub complaint_rate_orders_min: i64,
    pub complaint_rate_bps: i64,
    pub complaint_rate_points: i64,
    pub low_price_bps: i64,
    pub low_price_listings_min: i64,
    pub low_price_points: i64,
    pub velocity_orders: i64,
    pub velocity_window_minutes: i64,
    pub velocity_points: i64,
    pub large_amount_minor: i64,
    pub large_amount_points: i64,
    pub warn_score: i64,
    pub step_up_score: i64,
    pub block_score: i64,
}

impl Default for RiskRules {
    /// The values of the shipped rule set (a test checks they agree).
    fn default() -> RiskRules {
        RiskRules {
            new_seller_days: 7,
            new_seller_points: 20,
            complaint_rate_orders: 50,
            complaint_rate_orders_min: 10,
            complaint_rate_bps: 2000,
            complaint_rate_points: 40,
            low_price_bps: 5000,
            low_price_listings_min: 3,
            low_price_points: 50,
            velocity_orders: 5,
            velocity_window_minutes: 60,
            velocity_points: 25,
            large_amount_minor: 200_000,
            large_amount_points: 20,
            warn_score: 20,
            step_up_score: 50,
            block_score: 100,
        }
    }
}

/// What one buyer may hold and try (`[limits]`): stock held by unpaid orders, and the lock
/// on an order's query password after wrong guesses (see `crate::limits`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitRules {
    pub unpaid_units_per_buyer_max: i64,
    pub unpaid_share_of_stock_bps: i64,
    pub query_password_failures_free: i64,
    pub query_password_lock_seconds: i64,
    pub query_password_lock_seconds_max: i64,
    pub query_password_failures_forgotten_hours: i64,
}

impl Default for LimitRules {
    /// The values of the shipped rule set (a test checks they agree).
    fn default() -> LimitRules {
        LimitRules {
            unpaid_units_per_buyer_max: 20,
            unpaid_share_of_stock_bps: 5000,
            query_password_failures_free: 5,
            query_password_lock_seconds: 60,
            query_password_lock_seconds_max: 3600,
            query_password_failures_forgotten_hours: 24,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComplaintRules {
    pub seller_response_hours: i64,
    pub buyer_response_hours: i64,
    pub appraisal_days_max: i64,
    pub not_delivered_after_hours: i64,
    pub collective_buyers: i64,
    pub collective_window_hours: i64,
    /// The collective rule also needs at least this much money in dispute (minor units),
    /// so a handful of ¥1 orders cannot freeze a shop.
    #[serde(default = "default_collective_amount_minor_min")]
    pub collective_amount_minor_min: i64,
    /// An account holder counts as a complainant of their own only from this age on.
    #[serde(default = "default_collective_account_age_days")]
    pub collective_account_age_days: i64,
    /// An automatic freeze is put before an arbitrator within this long; past it, the case
    /// is escalated to the admins (the freeze stays: it only stops money leaving).
    #[serde(default = "default_collective_review_hours")]
    pub collective_review_hours: i64,
    /// The after-sales window per complaint kind, in days after completion; a kind not
    /// named uses `orders.after_sales_window_days`. The seller's rolling reserve lasts the
    /// longest of them.
    #[serde(default)]
    pub after_sales_days: BTreeMap<String, i64>,
    /// Evidence kinds each complaint type should carry, by type name.
    pub evidence: BTreeMap<String, Vec<String>>,
    /// The platform's own time limit (仲裁时效): a case that reaches review is decided
    /// within this long, or it is escalated to the admins and shown as overdue.
    #[serde(default = "default_arbitration_hours")]
    pub arbitration_hours: i64,
    /// 先行赔付: who is refunded from the compensation fund at once, while the case goes on.
    #[serde(default)]
    pub fast_refund: FastRefundRules,
}

/// Eligibility for a fast refund (极速退款, SPEC §7), `[complaints.fast_refund]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FastRefundRules {
    pub enabled: bool,
    /// The buyer's account must be at least this old (guests are not eligible).
    pub account_age_days_min: i64,
    /// ... and must not have lost a complaint within this many days.
    pub no_lost_complaint_days: i64,
    /// The most a fast refund pays (minor units: 20000 = ¥200).
    pub amount_minor_max: i64,
}

impl Default for FastRefundRules {
    /// The values of the shipped rule set (a test checks they agree).
    fn default() -> FastRefundRules {
        FastRefundRules {
            enabled: true,
            account_age_days_min: 30,
            no_lost_complaint_days: 90,
            amount_minor_max: 20_000,
        }
    }
}

fn default_arbitration_hours() -> i64 {
    48
}

fn default_collective_amount_minor_min() -> i64 {
    10_000
}

fn default_collective_account_age_days() -> i64 {
    30
}

fn default_collective_review_hours() -> i64 {
    4
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentRules {
    pub active_query_schedule_seconds: Vec<i64>,
    pub query_after_expiry_seconds: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderRules {
    pub payment_window_minutes: i64,
    pub delivery_deadline_hours: i64,
    pub acceptance_window_card_key_hours: i64,
    pub acceptance_window_manual_hours: i64,
    pub after_sales_window_days: i64,
    pub max_quantity: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeeRules {
    pub default_fee_bps: i64,
    #[serde(default)]
    pub category_fee_bps: BTreeMap<String, i64>,
}

#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    #[error("the rule set is not valid TOML for this schema: {0}")]
    Parse(#[from] toml::de::Error),
    #[error("rule `{field}` is out of range: {reason}")]
    OutOfRange { field: String, reason: &'static str },
}

impl RuleSet {
    pub fn parse(text: &str) -> Result<RuleSet, RulesError> {
        let rules: RuleSet = toml::from_str(text)?;
        rules.validate()?;
        Ok(rules)
    }

    pub fn default_rules() -> Result<RuleSet, RulesError> {
        RuleSet::parse(DEFAULT_RULES_TOML)
    }

    fn validate(&self) -> Result<(), RulesError> {
        let out = |field: &str, reason| {
            Err(RulesError::OutOfRange {
                field: field.to_string(),
                reason,
            })
        };
        if self.version < 1 {
            return out("version", "must be at least 1");
        }
        let o = &self.orders;
        for (field, value) in [
            ("orders.payment_window_minutes", o.payment_window_minutes),
            ("orders.delivery_deadline_hours", o.delivery_deadline_hours),
            (
                "orders.acceptance_window_card_key_hours",
                o.acceptance_window_card_key_hours,
            ),
            (
                "orders.acceptance_window_manual_hours",
                o.acceptance_window_manual_hours,
            ),
            ("orders.after_sales_window_days", o.after_sales_window_days),
            ("orders.max_quantity", o.max_quantity),
        ] {
            // A year bounds every window, so deadline arithmetic cannot overflow.
            if !(1..=366 * 24 * 60).contains(&value) {
                return out(field, "must be between 1 and 527040");
            }
        }
        let c = &self.complaints;
        for (field, value) in [
            ("complaints.seller_response_hours", c.seller_response_hours),
            ("complaints.buyer_response_hours", c.buyer_response_hours),
            ("complaints.appraisal_days_max", c.appraisal_days_max),
            ("complaints.not_delivered_after_hours", c.not_delivered_after_hours),
            ("complaints.collective_buyers", c.collective_buyers),
            ("complaints.collective_window_hours", c.collective_window_hours),
            ("complaints.arbitration_hours", c.arbitration_hours),
        ] {
            if !(1..=366 * 24).contains(&value) {
                return out(field, "must be between 1 and 8784");
            }
        }
        for (field, value) in [
            ("complaints.collective_account_age_days", c.collective_account_age_days),
            ("complaints.collective_review_hours", c.collective_review_hours),
            (
                "complaints.fast_refund.account_age_days_min",
                c.fast_refund.account_age_days_min,
            ),
            (
                "complaints.fast_refund.no_lost_complaint_days",
                c.fast_refund.no_lost_complaint_days,
            ),
            ("deposit.release_quiet_days", self.deposit.release_quiet_days),
            ("deposit.volume_window_days", self.deposit.volume_window_days),
        ] {
            if !(0..=366 * 24).contains(&value) {
                return out(field, "must be between 0 and 8784");
            }
        }
        if !(0..=100_000_000_000).contains(&self.deposit.required_minor) {
            return out("deposit.required_minor", "must be between 0 and 10^11");
        }
        if !(0..=10_000).contains(&self.deposit.volume_share_bps) {
            return out("deposit.volume_share_bps", "basis points must be within 0..=10000");
        }
        if !(0..=100_000_000_000).contains(&c.fast_refund.amount_minor_max) {
            return out("complaints.fast_refund.amount_minor_max", "must be between 0 and 10^11");
        }
        if !(0..=100_000_000_000).contains(&c.collective_amount_minor_min) {
            return out("complaints.collective_amount_minor_min", "must be between 0 and 10^11");
        }
        for (kind, days) in &c.after_sales_days {
            if !["not_delivered", "not_as_described", "fraud", "other"].contains(&kind.as_str()) {
                return out("complaints.after_sales_days", "names an unknown complaint kind");
            }
            if !(1..=366).contains(days) {
                return out("complaints.after_sales_days", "windows must be 1 to 366 days");
            }
        }
        let p = &self.payments;
        // A handful of queries per order is what real gateways tolerate.
        if p.active_query_schedule_seconds.len() > 10 {
            return out("payments.active_query_schedule_seconds", "at most 10 queries");
        }
        if p.active_query_schedule_seconds
            .iter()
            .chain(std::iter::once(&p.query_after_expiry_seconds))
            .any(|s| !(1..=7 * 24 * 3600).contains(s))
        {
            return out("payments", "query delays must be 1 second to 7 days");
        }
        let l = &self.limits;
        for (field, value, max) in [
            (
                "limits.unpaid_units_per_buyer_max",
                l.unpaid_units_per_buyer_max,
                1_000_000,
            ),
            ("limits.unpaid_share_of_stock_bps", l.unpaid_share_of_stock_bps, 10_000),
            (
                "limits.query_password_failures_free",
                l.query_password_failures_free,
                1000,
            ),
            (
                "limits.query_password_lock_seconds",
                l.query_password_lock_seconds,
                7 * 24 * 3600,
            ),
            (
                "limits.query_password_lock_seconds_max",
                l.query_password_lock_seconds_max,
                7 * 24 * 3600,
            ),
            (
                "limits.query_password_failures_forgotten_hours",
                l.query_password_failures_forgotten_hours,
                366 * 24,
            ),
        ] {
            if !(1..=max).contains(&value) {
                return out(field, "must be at least 1 and within its bound");
            }
        }
        if l.query_password_lock_seconds > l.query_password_lock_seconds_max {
            return out(
                "limits.query_password_lock_seconds",
                "must not exceed query_password_lock_seconds_max",
            );
        }
        self.validate_risk()?;
        // At least a minute (a statement reads the whole ledger), at most a week (a
        // buyer's proof should be about money held now, not last month).
        let period = self.transparency.liabilities_period_minutes;
        if !(1..=10_080).contains(&period) {
            return out("transparency.liabilities_period_minutes", "must be 1 to 10080 (a week)");
        }
        // The latest statement's leaves are what buyers' proofs are made from.
        if !(1..=100_000).contains(&self.transparency.liabilities_keep_leaves) {
            return out("transparency.liabilities_keep_leaves", "must be 1 to 100000 statements");
        }
        if o.max_quantity > 10_000 {
            return out("orders.max_quantity", "must be at most 10000");
        }
        for (field, bps) in std::iter::once(("fees.default_fee_bps".to_string(), self.fees.default_fee_bps)).chain(
            self.fees
                .category_fee_bps
                .iter()
                .map(|(c, b)| (format!("fees.category_fee_bps.{c}"), *b)),
        ) {
            if !(0..=10_000).contains(&bps) {
                return out(&field, "basis points must be within 0..=10000");
            }
        }
        Ok(())
    }

    fn validate_risk(&self) -> Result<(), RulesError> {
        let out = |field: &str, reason| {
            Err(RulesError::OutOfRange {
                field: field.to_string(),
                reason,
            })
        };
        let r = &self.risk;
        for (field, value, min, max) in [
            ("risk.new_seller_days", r.new_seller_days, 0, 366),
            // The complaint rate is read from one query of at most this many orders.
            ("risk.complaint_rate_orders", r.complaint_rate_orders, 1, 1000),
            ("risk.complaint_rate_orders_min", r.complaint_rate_orders_min, 1, 1000),
            ("risk.complaint_rate_bps", r.complaint_rate_bps, 1, 10_000),
            ("risk.low_price_bps", r.low_price_bps, 0, 10_000),
            ("risk.low_price_listings_min", r.low_price_listings_min, 1, 1_000_000),
            ("risk.velocity_orders", r.velocity_orders, 1, 1_000_000),
            (
                "risk.velocity_window_minutes",
                r.velocity_window_minutes,
                1,
                7 * 24 * 60,
            ),
            ("risk.large_amount_minor", r.large_amount_minor, 1, 100_000_000_000),
            // Points and scores on one small scale, so no sum of them overflows.
            ("risk.new_seller_points", r.new_seller_points, 0, 10_000),
            ("risk.complaint_rate_points", r.complaint_rate_points, 0, 10_000),
            ("risk.low_price_points", r.low_price_points, 0, 10_000),
            ("risk.velocity_points", r.velocity_points, 0, 10_000),
            ("risk.large_amount_points", r.large_amount_points, 0, 10_000),
            ("risk.warn_score", r.warn_score, 1, 100_000),
            ("risk.step_up_score", r.step_up_score, 1, 100_000),
            ("risk.block_score", r.block_score, 1, 100_000),
        ] {
            if !(min..=max).contains(&value) {
                return out(field, "is outside its range (see rules/default.toml)");
            }
        }
        if r.complaint_rate_orders_min > r.complaint_rate_orders {
            return out(
                "risk.complaint_rate_orders_min",
                "must not exceed complaint_rate_orders",
            );
        }
        if !(r.warn_score <= r.step_up_score && r.step_up_score <= r.block_score) {
            return out("risk", "warn_score <= step_up_score <= block_score");
        }
        Ok(())
    }

    /// A stable fingerprint of the content, so that publishing identical rules twice is
    /// recognised and a stored version can be shown to be the one that was published.
    pub fn content_hash(&self) -> String {
        // Serialising a plain struct of integers and strings cannot fail.
        let canonical = to_toml(self).unwrap_or_default();
        hex::encode(Sha256::digest(canonical.as_bytes()))
    }

    pub fn fee_bps(&self, category: &str) -> i64 {
        self.fees
            .category_fee_bps
            .get(category)
            .copied()
            .unwrap_or(self.fees.default_fee_bps)
    }

    pub fn payment_window_ms(&self) -> TimestampMs {
        self.orders.payment_window_minutes * MINUTE_MS
    }

    pub fn delivery_deadline_ms(&self) -> TimestampMs {
        self.orders.delivery_deadline_hours * HOUR_MS
    }

    pub fn acceptance_window_ms(&self, kind: crate::DeliveryKind) -> TimestampMs {
        match kind {
            crate::DeliveryKind::CardKey => self.orders.acceptance_window_card_key_hours * HOUR_MS,
            crate::DeliveryKind::Manual => self.orders.acceptance_window_manual_hours * HOUR_MS,
        }
    }

    /// When to ask the provider about an attempt made at `attempt_at` for an order that
    /// expires at `expires_at`.
    pub fn active_query_times(&self, attempt_at: TimestampMs, expires_at: TimestampMs) -> Vec<TimestampMs> {
        let mut times: Vec<TimestampMs> = self
            .payments
            .active_query_schedule_seconds
            .iter()
            .map(|s| attempt_at.saturating_add(s.saturating_mul(1000)))
            .collect();
        times.push(expires_at.saturating_add(self.payments.query_after_expiry_seconds.saturating_mul(1000)));
        times
    }

    pub fn after_sales_window_ms(&self) -> TimestampMs {
        self.orders.after_sales_window_days * DAY_MS
    }

    /// How long after completion a complaint of this kind may still be opened.
    pub fn after_sales_window_ms_for(&self, kind: &str) -> TimestampMs {
        self.complaints
            .after_sales_days
            .get(kind)
            .map_or_else(|| self.after_sales_window_ms(), |days| days * DAY_MS)
    }

    /// How long released money stays in the seller's reserve: the longest window in which
    /// a complaint can still be opened on a completed order, so every such complaint finds
    /// the order's money still there.
    pub fn reserve_ms(&self) -> TimestampMs {
        self.complaints
            .after_sales_days
            .values()
            .map(|days| days * DAY_MS)
            .fold(self.after_sales_window_ms(), i64::max)
    }

    pub fn arbitration_ms(&self) -> TimestampMs {
        self.complaints.arbitration_hours * HOUR_MS
    }

    pub fn not_delivered_after_ms(&self) -> TimestampMs {
        self.complaints.not_delivered_after_hours * HOUR_MS
    }

    pub fn collective_review_ms(&self) -> TimestampMs {
        self.complaints.collective_review_hours * HOUR_MS
    }

    pub fn collective_window_ms(&self) -> TimestampMs {
        self.complaints.collective_window_hours * HOUR_MS
    }

    pub fn collective_account_age_ms(&self) -> TimestampMs {
        self.complaints.collective_account_age_days * DAY_MS
    }
}

/// The canonical TOML text of a rule set, as stored and as `GET /api/v1/rules` shows it.
pub fn to_toml(rules: &RuleSet) -> Result<String, String> {
    toml::to_string(rules).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_rules_parse_with_spec_values() {
        let r = RuleSet::default_rules().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.payment_window_ms(), 15 * 60_000);
        assert_eq!(r.delivery_deadline_ms(), 24 * 3_600_000);
        assert_eq!(r.acceptance_window_ms(crate::DeliveryKind::CardKey), 24 * 3_600_000);
        assert_eq!(r.acceptance_window_ms(crate::DeliveryKind::Manual), 72 * 3_600_000);
        assert_eq!(r.fee_bps("anything"), 500);
    }

    #[test]
    fn active_queries_follow_the_schedule_and_once_after_expiry() {
        let r = RuleSet::default_rules().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            r.active_query_times(1000, 900_000),
            vec![61_000, 301_000, 901_000, 960_000]
        );
    }

    #[test]
    fn out_of_range_and_unknown_fields_are_refused() {
        let bad_fee = DEFAULT_RULES_TOML.replace("default_fee_bps = 500", "default_fee_bps = 10001");
        assert!(matches!(RuleSet::parse(&bad_fee), Err(RulesError::OutOfRange { .. })));
        let zero_window = DEFAULT_RULES_TOML.replace("payment_window_minutes = 15", "payment_window_minutes = 0");
        assert!(matches!(
            RuleSet::parse(&zero_window),
            Err(RulesError::OutOfRange { .. })
        ));
        let unknown = format!("{DEFAULT_RULES_TOML}\n[extra]\nx = 1\n");
        assert!(matches!(RuleSet::parse(&unknown), Err(RulesError::Parse(_))));
    }

    #[test]
    fn windows_per_kind_and_the_reserve_is_the_longest() {
        let r = RuleSet::default_rules().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.after_sales_window_ms_for("not_as_described"), 7 * DAY_MS);
        assert_eq!(r.after_sales_window_ms_for("fraud"), 14 * DAY_MS);
        assert_eq!(r.reserve_ms(), 14 * DAY_MS);
        assert_eq!(r.collective_review_ms(), 4 * HOUR_MS);
        assert_eq!(r.complaints.collective_amount_minor_min, 10_000);
        // A kind the table does not name falls back to the general window.
        let mut short = r.clone();
        short.complaints.after_sales_days.clear();
        assert_eq!(short.after_sales_window_ms_for("fraud"), 7 * DAY_MS);
        assert_eq!(short.reserve_ms(), 7 * DAY_MS);
        let unknown = DEFAULT_RULES_TOML.replace("fraud = 14", "frauds = 14");
        assert!(matches!(RuleSet::parse(&unknown), Err(RulesError::OutOfRange { .. })));
        let zero = DEFAULT_RULES_TOML.replace("fraud = 14", "fraud = 0");
        assert!(matches!(RuleSet::parse(&zero), Err(RulesError::OutOfRange { .. })));
    }

    #[test]
    fn rule_sets_published_before_the_collective_thresholds_still_parse() {
        let old: String = DEFAULT_RULES_TOML
            .lines()
            .filter(|l| {
                !l.starts_with("collective_amount_minor_min")
                    && !l.starts_with("collective_account_age_days")
                    && !l.starts_with("collective_review_hours")
            })
            .collect::<Vec<_>>()
            .join("\n");
        let r = RuleSet::parse(&old).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.complaints.collective_amount_minor_min, 10_000);
        assert_eq!(r.complaints.collective_review_hours, 4);
    }

    #[test]
    fn the_limits_default_to_the_shipped_values_and_old_rule_sets_still_parse() {
        let shipped = RuleSet::default_rules().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(shipped.limits, LimitRules::default());
        // A rule set published before `[limits]` existed reads as the defaults.
        let start = DEFAULT_RULES_TOML.find("[limits]").unwrap_or(DEFAULT_RULES_TOML.len());
        let end = DEFAULT_RULES_TOML[start..]
            .find("\n[fees]")
            .map_or(DEFAULT_RULES_TOML.len(), |i| start + i + 1);
        let old = format!("{}{}", &DEFAULT_RULES_TOML[..start], &DEFAULT_RULES_TOML[end..]);
        assert!(!old.contains("[limits]"));
        let parsed = RuleSet::parse(&old).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(parsed.limits, LimitRules::default());
        let zero_share =
            DEFAULT_RULES_TOML.replace("unpaid_share_of_stock_bps = 5000", "unpaid_share_of_stock_bps = 0");
        assert!(matches!(
            RuleSet::parse(&zero_share),
            Err(RulesError::OutOfRange { .. })
        ));
    }

    #[test]
    fn fast_refund_and_arbitration_limit_default_to_the_shipped_values() {
        let shipped = RuleSet::default_rules().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(shipped.complaints.fast_refund, FastRefundRules::default());
        assert_eq!(shipped.complaints.arbitration_hours, default_arbitration_hours());
        // A rule set published before either existed reads as the defaults.
        let start = DEFAULT_RULES_TOML.find("[complaints.fast_refund]").unwrap_or(0);
        let end = start + DEFAULT_RULES_TOML[start..].find("\n[fees]").unwrap_or(0) + 1;
        let old: String = format!("{}{}", &DEFAULT_RULES_TOML[..start], &DEFAULT_RULES_TOML[end..])
            .lines()
            .filter(|l| !l.starts_with("arbitration_hours"))
            .collect::<Vec<_>>()
            .join("\n");
        assert!(!old.contains("fast_refund]") && !old.contains("arbitration_hours ="));
        let parsed = RuleSet::parse(&old).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(parsed.complaints.fast_refund, FastRefundRules::default());
        assert_eq!(parsed.complaints.arbitration_hours, 48);
        assert_eq!(shipped.deposit, DepositRules::default());
        let start = DEFAULT_RULES_TOML.find("[deposit]").unwrap_or(DEFAULT_RULES_TOML.len());
        let without_deposit = &DEFAULT_RULES_TOML[..start];
        assert_eq!(
            RuleSet::parse(without_deposit).map(|r| r.deposit).ok(),
            Some(DepositRules::default())
        );
        let negative_cap = DEFAULT_RULES_TOML.replace("amount_minor_max = 20000", "amount_minor_max = -1");
        assert!(matches!(
            RuleSet::parse(&negative_cap),
            Err(RulesError::OutOfRange { .. })
        ));
    }

    #[test]
    fn the_deposit_grows_with_recent_sales() {
        let r = RuleSet::default_rules().unwrap_or_else(|e| panic!("{e}"));
        let m = crate::Money::from_minor;
        assert_eq!(r.required_deposit(m(0)), Ok(m(50_000)));
        // 5 % of ¥30,000 of sales on top of the ¥500.
        assert_eq!(r.required_deposit(m(3_000_000)), Ok(m(200_000)));
        // Half to even: 5 % of 0.50 is 0.025 → 0.02.
        assert_eq!(r.required_deposit(m(50)), Ok(m(50_002)));
    }

    #[test]
    fn the_risk_rules_default_to_the_shipped_values_and_old_rule_sets_still_parse() {
        let shipped = RuleSet::default_rules().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(shipped.risk, RiskRules::default());
        assert_eq!(shipped.transparency, TransparencyRules::default());
        // `[risk]` is the last section: a rule set published before it existed ends above it.
        let start = DEFAULT_RULES_TOML.find("\n[risk]").unwrap_or(DEFAULT_RULES_TOML.len());
        let old = &DEFAULT_RULES_TOML[..start];
        assert!(!old.contains("[risk]") && old.contains("[limits]"));
        let parsed = RuleSet::parse(old).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(parsed.risk, RiskRules::default());
        for (from, to) in [
            ("low_price_bps = 5000", "low_price_bps = 10001"),
            ("velocity_orders = 5", "velocity_orders = 0"),
            ("complaint_rate_orders_min = 10", "complaint_rate_orders_min = 51"),
            ("block_score = 100", "block_score = 40"),
            ("new_seller_points = 20", "new_seller_points = -1"),
        ] {
            let bad = DEFAULT_RULES_TOML.replace(from, to);
            assert_ne!(bad, DEFAULT_RULES_TOML, "{from} is in the shipped rules");
            assert!(
                matches!(RuleSet::parse(&bad), Err(RulesError::OutOfRange { .. })),
                "{to} was accepted"
            );
        }
        let unknown = DEFAULT_RULES_TOML.replace("block_score = 100", "block_score = 100\nblock_points = 1");
        assert!(matches!(RuleSet::parse(&unknown), Err(RulesError::Parse(_))));
    }

    #[test]
    fn the_liabilities_leaves_kept_default_for_older_rule_sets_and_are_bounded() {
        let shipped = "liabilities_keep_leaves = 168";
        assert!(DEFAULT_RULES_TOML.contains(shipped));
        let old = DEFAULT_RULES_TOML.replace(shipped, "");
        let parsed = RuleSet::parse(&old).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(parsed.transparency.liabilities_keep_leaves, 168);
        for bad in ["0", "-1", "100001"] {
            let text = DEFAULT_RULES_TOML.replace(shipped, &format!("liabilities_keep_leaves = {bad}"));
            assert!(
                matches!(RuleSet::parse(&text), Err(RulesError::OutOfRange { .. })),
                "{bad} was accepted"
            );
        }
    }

    #[test]
    fn content_hash_tracks_content() {
        let a = RuleSet::default_rules().unwrap_or_else(|e| panic!("{e}"));
        let mut b = a.clone();
        assert_eq!(a.content_hash(), b.content_hash());
        b.orders.payment_window_minutes = 30;
        assert_ne!(a.content_hash(), b.content_hash());
    }
}
