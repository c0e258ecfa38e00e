//! The gateway's own books: payments, refunds and notification attempts, kept in memory.
//!
//! Everything here is synchronous and takes `now` from the caller, so the rules (idempotency,
//! refund limits, statement windows) are tested with plain data.

use std::collections::HashMap;

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::wire::{CreatePayment, Notification, NotificationAttempt, PaymentView, RefundRequest, RefundView};

/// A sandbox lives in memory; past this many payments it refuses new ones rather than grow
/// without bound (a load test runs far fewer).
pub(crate) const MAX_PAYMENTS: usize = 200_000;
/// Same bound for refunds.
pub(crate) const MAX_REFUNDS: usize = 200_000;
/// Attempts kept per payment: the schedule makes 8, the rest are manual resends. The oldest
/// are forgotten first.
pub(crate) const MAX_ATTEMPTS_RECORDED: usize = 200;
/// Field limits, generous next to real gateways (Alipay: out_trade_no 64, subject 256).
const OUT_TRADE_NO_LEN_MAX: usize = 64;
const SUBJECT_LEN_MAX: usize = 256;
const CURRENCY_LEN_MAX: usize = 8;
const URL_LEN_MAX: usize = 2048;
const REQUEST_ID_LEN_MAX: usize = 128;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum GatewayError {
    Invalid(String),
    UnknownPayment,
    UnknownRefund,
    /// The out_trade_no exists with another amount or currency.
    OutTradeNoConflict,
    /// The request_id exists for another payment or amount.
    RefundRequestConflict,
    /// The payout request_id exists with another amount or account.
    PayoutRequestConflict,
    NotPaid,
    RefundExceedsPayment,
    Capacity,
}

#[derive(Debug, Clone)]
pub(crate) enum PaymentStatus {
    Created,
    Succeeded {
        trade_no: String,
        paid_at: OffsetDateTime,
        /// The wallet that paid (the notification's `payer_id`).
        payer_id: String,
    },
}

#[derive(Debug, Clone)]
pub(crate) struct Payment {
    pub(crate) payment_id: String,
    pub(crate) out_trade_no: String,
    pub(crate) amount_minor: i64,
    pub(crate) currency: String,
    pub(crate) subject: String,
    pub(crate) notify_url: String,
    /// Empty, or an http(s) URL: it ends up in a link and a redirect.
    pub(crate) return_url: String,
    pub(crate) status: PaymentStatus,
    pub(crate) refunded_minor: i64,
    pub(crate) notifications: Vec<NotificationAttempt>,
}

impl Payment {
    pub(crate) fn view(&self, public_base_url: &str) -> PaymentView {
        let (status, trade_no, paid_at) = match &self.status {
            PaymentStatus::Created => ("created", None, None),
            PaymentStatus::Succeeded { trade_no, paid_at, .. } => {
                ("succeeded", Some(trade_no.clone()), Some(rfc3339(*paid_at)))
            }
        };
        PaymentView {
            payment_id: self.payment_id.clone(),
            out_trade_no: self.out_trade_no.clone(),
            amount_minor: self.amount_minor,
            currency: self.currency.clone(),
            subject: self.subject.clone(),
            status: status.to_owned(),
            trade_no,
            paid_at,
            cashier_url: format!("{public_base_url}/cashier/{}", self.payment_id),
            refunded_minor: self.refunded_minor,
            notifications: self.notifications.clone(),
        }
    }

    /// The notification for this payment, or `None` while it is unpaid.
    pub(crate) fn notification(&self, notify_id: String, now: OffsetDateTime) -> Option<Notification> {
        let PaymentStatus::Succeeded {
            trade_no,
            paid_at,
            payer_id,
        } = &self.status
        else {
            return None;
        };
        Some(Notification {
            notify_id,
            payment_id: self.payment_id.clone(),
            out_trade_no: self.out_trade_no.clone(),
            trade_no: trade_no.clone(),
            amount_minor: self.amount_minor,
            currency: self.currency.clone(),
            status: "succeeded".to_owned(),
            paid_at: rfc3339(*paid_at),
            sent_at: rfc3339(now),
            payer_id: Some(payer_id.clone()),
        })
    }

    pub(crate) fn is_acknowledged(&self) -> bool {
        self.notifications.iter().any(|a| a.outcome == "acknowledged")
    }
}

#[derive(Debug)]
pub(crate) enum Created {
    New(String),
    Existing(String),
}

#[derive(Debug, Default)]
pub(crate) struct Store {
    payments: HashMap<String, Payment>,
    by_out_trade_no: HashMap<String, String>,
    refunds: HashMap<String, RefundView>,
    payouts: HashMap<String, crate::wire::PayoutView>,
}

impl Store {
    /// Pays a merchant's seller out, once per request_id.
    pub(crate) fn payout(
        &mut self,
        req: &crate::wire::PayoutRequest,
        new_id: impl FnOnce() -> String,
    ) -> Result<crate::wire::PayoutView, GatewayError> {
        if req.request_id.is_empty() || req.request_id.chars().count() > REQUEST_ID_LEN_MAX {
            return Err(GatewayError::Invalid(format!(
                "request_id must be 1..={REQUEST_ID_LEN_MAX} characters"
            )));
        }
        if req.amount_minor <= 0 {
            return Err(GatewayError::Invalid(
                "amount_minor must be greater than zero".to_owned(),
            ));
        }
        if req.account.is_empty() || req.account.chars().count() > REQUEST_ID_LEN_MAX {
            return Err(GatewayError::Invalid("account must be 1..=64 characters".to_owned()));
        }
        if let Some(existing) = self.payouts.get(&req.request_id) {
            if existing.amount_minor != req.amount_minor || existing.account != req.account {
                return Err(GatewayError::PayoutRequestConflict);
            }
            return Ok(existing.clone());
        }
        if self.payouts.len() >= MAX_REFUNDS {
            return Err(GatewayError::Capacity);
        }
        let view = crate::wire::PayoutView {
            payout_id: new_id(),
            request_id: req.request_id.clone(),
            amount_minor: req.amount_minor,
            account: req.account.clone(),
            status: "succeeded".to_owned(),
        };
        self.payouts.insert(req.request_id.clone(), view.clone());
        Ok(view)
    }

    pub(crate) fn payment(&self, payment_id: &str) -> Result<&Payment, GatewayError> {
        self.payments.get(payment_id).ok_or(GatewayError::UnknownPayment)
    }

    /// Opens a payment, or returns the one already open for this out_trade_no.
    pub(crate) fn create_payment(
        &mut self,
        req: CreatePayment,
        new_id: impl FnOnce() -> String,
    ) -> Result<Created, GatewayError> {
        validate_create(&req)?;
        if let Some(existing_id) = self.by_out_trade_no.get(&req.out_trade_no) {
            let existing = self.payment(existing_id)?;
            if existing.amount_minor != req.amount_minor || existing.currency != req.currency {
                return Err(GatewayError::OutTradeNoConflict);
            }
            return Ok(Created::Existing(existing_id.clone()));
        }
        if self.payments.len() >= MAX_PAYMENTS {
            return Err(GatewayError::Capacity);
        }
        let payment_id = new_id();
        self.by_out_trade_no
            .insert(req.out_trade_no.clone(), payment_id.clone());
        self.payments.insert(
            payment_id.clone(),
            Payment {
                payment_id: payment_id.clone(),
                out_trade_no: req.out_trade_no,
                amount_minor: req.amount_minor,
                currency: req.currency,
                subject: req.subject,
                notify_url: req.notify_url,
                return_url: req.return_url,
                status: PaymentStatus::Created,
                refunded_minor: 0,
                notifications: Vec::new(),
            },
        );
        Ok(Created::New(payment_id))
    }

    /// Marks the payment paid by the default payer (the unit tests' shorthand).
    #[cfg(test)]
    pub(crate) fn pay(
        &mut self,
        payment_id: &str,
        trade_no: impl FnOnce() -> String,
        now: OffsetDateTime,
    ) -> Result<bool, GatewayError> {
        self.pay_as(payment_id, crate::wire::DEFAULT_PAYER, trade_no, now)
    }

    /// Marks the payment paid by `payer_id`. Returns true only the first time: paying
    /// twice makes no second trade (and does not change who paid).
    pub(crate) fn pay_as(
        &mut self,
        payment_id: &str,
        payer_id: &str,
        trade_no: impl FnOnce() -> String,
        now: OffsetDateTime,
    ) -> Result<bool, GatewayError> {
        let payment = self.payments.get_mut(payment_id).ok_or(GatewayError::UnknownPayment)?;
        match payment.status {
            PaymentStatus::Succeeded { .. } => Ok(false),
            PaymentStatus::Created => {
                payment.status = PaymentStatus::Succeeded {
                    trade_no: trade_no(),
                    paid_at: truncate_to_millis(now),
                    payer_id: payer_id.to_owned(),
                };
                Ok(true)
            }
        }
    }

    pub(crate) fn record_attempt(&mut self, payment_id: &str, attempt: NotificationAttempt) {
        if let Some(payment) = self.payments.get_mut(payment_id) {
            if payment.notifications.len() >= MAX_ATTEMPTS_RECORDED {
                payment.notifications.remove(0);
            }
            payment.notifications.push(attempt);
        }
    }

    pub(crate) fn by_out_trade_no(&self, out_trade_no: &str) -> Vec<&Payment> {
        self.by_out_trade_no
            .get(out_trade_no)
            .and_then(|id| self.payments.get(id))
            .into_iter()
            .collect()
    }

    /// Refunds part or all of a paid payment, once per request_id.
    pub(crate) fn refund(
        &mut self,
        req: &RefundRequest,
        new_id: impl FnOnce() -> String,
    ) -> Result<RefundView, GatewayError> {
        if req.request_id.is_empty() || req.request_id.chars().count() > REQUEST_ID_LEN_MAX {
            return Err(GatewayError::Invalid(format!(
                "request_id must be 1..={REQUEST_ID_LEN_MAX} characters"
            )));
        }
        if req.amount_minor <= 0 {
            return Err(GatewayError::Invalid(
                "amount_minor must be greater than zero".to_owned(),
            ));
        }
        if let Some(existing) = self.refunds.get(&req.request_id) {
            if existing.payment_id != req.payment_id || existing.amount_minor != req.amount_minor {
                return Err(GatewayError::RefundRequestConflict);
            }
            return Ok(existing.clone());
        }
        if self.refunds.len() >= MAX_REFUNDS {
            return Err(GatewayError::Capacity);
        }
        let payment = self
            .payments
            .get_mut(&req.payment_id)
            .ok_or(GatewayError::UnknownPayment)?;
        if matches!(payment.status, PaymentStatus::Created) {
            return Err(GatewayError::NotPaid);
        }
        let refunded = payment
            .refunded_minor
            .checked_add(req.amount_minor)
            .filter(|total| *total <= payment.amount_minor)
            .ok_or(GatewayError::RefundExceedsPayment)?;
        payment.refunded_minor = refunded;
        let view = RefundView {
            refund_id: new_id(),
            request_id: req.request_id.clone(),
            payment_id: req.payment_id.clone(),
            amount_minor: req.amount_minor,
            status: "succeeded".to_owned(),
        };
        self.refunds.insert(req.request_id.clone(), view.clone());
        Ok(view)
    }

    pub(crate) fn refund_by_request_id(&self, request_id: &str) -> Result<&RefundView, GatewayError> {
        self.refunds.get(request_id).ok_or(GatewayError::UnknownRefund)
    }

    /// Successful payments whose paid_at is in [from, to), oldest first.
    pub(crate) fn statement(&self, from: OffsetDateTime, to: OffsetDateTime, now: OffsetDateTime) -> Vec<Notification> {
        let mut lines: Vec<(OffsetDateTime, Notification)> = self
            .payments
            .values()
            .filter_map(|p| match &p.status {
                PaymentStatus::Succeeded { trade_no, paid_at, .. } if *paid_at >= from && *paid_at < to => {
                    let notification = p.notification(format!("statement-{trade_no}"), now)?;
                    Some((*paid_at, notification))
                }
                _ => None,
            })
            .collect();
        lines.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.trade_no.cmp(&b.1.trade_no)));
        lines.into_iter().map(|(_, n)| n).collect()
    }
}

fn validate_create(req: &CreatePayment) -> Result<(), GatewayError> {
    let invalid = |m: &str| Err(GatewayError::Invalid(m.to_owned()));
    if req.out_trade_no.is_empty() || req.out_trade_no.chars().count() > OUT_TRADE_NO_LEN_MAX {
        return invalid("out_trade_no must be 1..=64 characters");
    }
    if req.amount_minor <= 0 {
        return invalid("amount_minor must be greater than zero");
    }
    if req.currency.is_empty()
        || req.currency.len() > CURRENCY_LEN_MAX
        || !req.currency.chars().all(|c| c.is_ascii_alphanumeric())
    {
        return invalid("currency must be a short non-empty code such as CNY");
    }
    if req.subject.chars().count() > SUBJECT_LEN_MAX {
        return invalid("subject must be at most 256 characters");
    }
    if !is_http_url(&req.notify_url) {
        return invalid("notify_url must be an http(s) URL");
    }
    if !req.return_url.is_empty() && !is_http_url(&req.return_url) {
        return invalid("return_url must be empty or an http(s) URL");
    }
    Ok(())
}

fn is_http_url(s: &str) -> bool {
    s.len() <= URL_LEN_MAX
        && reqwest::Url::parse(s)
            .map(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
            .unwrap_or(false)
}

/// RFC 3339 in UTC.
pub(crate) fn rfc3339(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    // Formatting fails only for years outside 0..=9999, which a clock does not produce;
    // the Unix timestamp is a readable fallback rather than a panic.
    t.format(&Rfc3339).unwrap_or_else(|_| t.unix_timestamp().to_string())
}

/// Real gateways report whole seconds or milliseconds; keeping milliseconds makes a time
/// survive a round trip through any database the merchant keeps it in.
fn truncate_to_millis(t: OffsetDateTime) -> OffsetDateTime {
    t.replace_millisecond(t.millisecond()).unwrap_or(t)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn create(out_trade_no: &str, amount_minor: i64) -> CreatePayment {
        CreatePayment {
            out_trade_no: out_trade_no.to_owned(),
            amount_minor,
            currency: "CNY".to_owned(),
            subject: "card".to_owned(),
            notify_url: "http://127.0.0.1:1/notify".to_owned(),
            return_url: "http://127.0.0.1:1/return".to_owned(),
        }
    }

    fn id(s: &'static str) -> impl FnOnce() -> String {
        move || s.to_owned()
    }

    fn check_invalid(edit: impl FnOnce(&mut CreatePayment)) {
        let mut req = create("o", 100);
        edit(&mut req);
        let got = Store::default().create_payment(req, id("p1"));
        assert!(matches!(got, Err(GatewayError::Invalid(_))), "{got:?}");
    }

    #[test]
    fn create_validates_its_input() {
        check_invalid(|r| r.amount_minor = 0);
        check_invalid(|r| r.amount_minor = -5);
        check_invalid(|r| r.currency.clear());
        check_invalid(|r| r.out_trade_no.clear());
        check_invalid(|r| r.notify_url = "ftp://x/y".to_owned());
        check_invalid(|r| r.notify_url = "not a url".to_owned());
        check_invalid(|r| r.return_url = "javascript:alert(1)".to_owned());
        check_invalid(|r| r.subject = "x".repeat(257));
    }

    #[test]
    fn create_is_idempotent_on_out_trade_no() {
        let mut store = Store::default();
        assert!(matches!(
            store.create_payment(create("o1", 100), id("p1")),
            Ok(Created::New(p)) if p == "p1"
        ));
        assert!(matches!(
            store.create_payment(create("o1", 100), id("p2")),
            Ok(Created::Existing(p)) if p == "p1"
        ));
        store.pay("p1", id("t1"), datetime!(2025-01-01 0:00 UTC)).unwrap();
        assert!(matches!(
            store.create_payment(create("o1", 100), id("p3")),
            Ok(Created::Existing(p)) if p == "p1"
        ));
        assert_eq!(
            store.create_payment(create("o1", 101), id("p4")).unwrap_err(),
            GatewayError::OutTradeNoConflict
        );
    }

    #[test]
    fn paying_twice_makes_one_trade() {
        let mut store = Store::default();
        store.create_payment(create("o1", 100), id("p1")).unwrap();
        let now = datetime!(2025-01-01 0:00 UTC);
        assert!(store.pay("p1", id("t1"), now).unwrap());
        assert!(!store.pay("p1", id("t2"), now).unwrap());
        let view = store.payment("p1").unwrap().view("http://gw");
        assert_eq!(view.trade_no.as_deref(), Some("t1"));
        assert_eq!(view.cashier_url, "http://gw/cashier/p1");
        assert_eq!(
            store.pay("nope", id("t3"), now).unwrap_err(),
            GatewayError::UnknownPayment
        );
    }

    #[test]
    fn refunds_are_idempotent_and_bounded_by_the_payment() {
        let mut store = Store::default();
        store.create_payment(create("o1", 100), id("p1")).unwrap();
        let refund = |amount_minor, request_id: &str| RefundRequest {
            payment_id: "p1".to_owned(),
            amount_minor,
            request_id: request_id.to_owned(),
        };
        assert_eq!(
            store.refund(&refund(10, "r1"), id("rf1")).unwrap_err(),
            GatewayError::NotPaid
        );
        store.pay("p1", id("t1"), datetime!(2025-01-01 0:00 UTC)).unwrap();
        let first = store.refund(&refund(60, "r1"), id("rf1")).unwrap();
        let again = store.refund(&refund(60, "r1"), id("rf2")).unwrap();
        assert_eq!(first, again);
        assert_eq!(store.payment("p1").unwrap().refunded_minor, 60);
        assert_eq!(
            store.refund(&refund(61, "r1"), id("rf3")).unwrap_err(),
            GatewayError::RefundRequestConflict
        );
        assert_eq!(
            store.refund(&refund(41, "r2"), id("rf4")).unwrap_err(),
            GatewayError::RefundExceedsPayment
        );
        assert_eq!(
            store.refund(&refund(i64::MAX, "r3"), id("rf5")).unwrap_err(),
            GatewayError::RefundExceedsPayment
        );
        store.refund(&refund(40, "r4"), id("rf6")).unwrap();
        assert_eq!(store.payment("p1").unwrap().refunded_minor, 100);
        assert!(matches!(
            store.refund(&refund(0, "r5"), id("rf7")),
            Err(GatewayError::Invalid(_))
        ));
    }

    #[test]
    fn statement_is_half_open_and_ordered() {
        let mut store = Store::default();
        for (o, p, t, at) in [
            ("o1", "p1", "t1", datetime!(2025-01-01 10:00 UTC)),
            ("o2", "p2", "t2", datetime!(2025-01-01 09:00 UTC)),
            ("o3", "p3", "t3", datetime!(2025-01-01 11:00 UTC)),
        ] {
            store.create_payment(create(o, 100), id(p)).unwrap();
            store.pay(p, id(t), at).unwrap();
        }
        store.create_payment(create("o4", 100), id("p4")).unwrap();
        let now = datetime!(2025-01-02 0:00 UTC);
        let lines = store.statement(datetime!(2025-01-01 09:00 UTC), datetime!(2025-01-01 11:00 UTC), now);
        let trades: Vec<_> = lines.iter().map(|n| n.trade_no.as_str()).collect();
        assert_eq!(trades, ["t2", "t1"]);
        assert_eq!(lines[0].paid_at, "2025-01-01T09:00:00Z");
    }
}
