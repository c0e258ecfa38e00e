//! What to do with a verified payment (SPEC §4). Pure: the caller has already recorded
//! the payment and deduplicated it; this decides capture, late capture or refund.

use crate::order::OrderStatus;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentDecision {
    /// The order was waiting for this payment: capture it into escrow.
    Capture,
    /// The order expired or was cancelled and its stock went back: the caller takes
    /// the units out of stock again (an atomic reserve) and, if it could, captures with
    /// `OrderEvent::LatePaymentCaptured`; if it could not, refunds as
    /// `UnacceptedReason::OutOfStock`.
    CaptureIfStockAllows,
    /// Money the platform cannot accept: refund it in full, automatically.
    Refund(UnacceptedReason),
    /// Amount or currency differ from what the server computed: never deliver; an
    /// exception for reconciliation.
    Mismatch,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnacceptedReason {
    UnknownOrder,
    AlreadyPaid,
    OutOfStock,
    /// Paid from the seller's own payout account: the seller buying from themselves.
    SelfPurchase,
}

impl UnacceptedReason {
    pub fn as_str(self) -> &'static str {
        match self {
            UnacceptedReason::UnknownOrder => "unknown_order",
            UnacceptedReason::AlreadyPaid => "already_paid",
            UnacceptedReason::OutOfStock => "out_of_stock",
            UnacceptedReason::SelfPurchase => "self_purchase",
        }
    }
}

/// The order as the platform knows it, when a payment for it arrives.
pub struct PayableOrder<'a> {
    pub status: OrderStatus,
    pub amount_minor: i64,
    pub currency: &'a str,
    /// The payer is the order's own seller (their registered payout account).
    pub paid_by_its_seller: bool,
}

pub fn decide(order: Option<PayableOrder<'_>>, paid_amount_minor: i64, paid_currency: &str) -> PaymentDecision {
    let Some(order) = order else {
        return PaymentDecision::Refund(UnacceptedReason::UnknownOrder);
    };
    if order.amount_minor != paid_amount_minor || order.currency != paid_currency {
        return PaymentDecision::Mismatch;
    }
    // Money from the seller's own account is never captured, whatever the order's state:
    // captured, it would launder the seller's money through escrow or fake their sales.
    if order.paid_by_its_seller {
        return PaymentDecision::Refund(UnacceptedReason::SelfPurchase);
    }
    match order.status {
        OrderStatus::PendingPayment => PaymentDecision::Capture,
        OrderStatus::Expired | OrderStatus::Cancelled => PaymentDecision::CaptureIfStockAllows,
        _ => PaymentDecision::Refund(UnacceptedReason::AlreadyPaid),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use OrderStatus as S;

    fn check(status: Option<S>, amount: i64, currency: &str, expected: PaymentDecision) {
        let order = status.map(|status| PayableOrder {
            status,
            amount_minor: 1000,
            currency: "CNY",
            paid_by_its_seller: false,
        });
        assert_eq!(
            decide(order, amount, currency),
            expected,
            "{status:?} {amount} {currency}"
        );
    }

    #[test]
    fn decisions() {
        check(Some(S::PendingPayment), 1000, "CNY", PaymentDecision::Capture);
        check(Some(S::Expired), 1000, "CNY", PaymentDecision::CaptureIfStockAllows);
        check(Some(S::Cancelled), 1000, "CNY", PaymentDecision::CaptureIfStockAllows);
        for s in [
            S::Paid,
            S::Delivered,
            S::Completed,
            S::Refunded,
            S::Disputed,
            S::PartiallyRefunded,
        ] {
            check(
                Some(s),
                1000,
                "CNY",
                PaymentDecision::Refund(UnacceptedReason::AlreadyPaid),
            );
        }
        check(
            None,
            1000,
            "CNY",
            PaymentDecision::Refund(UnacceptedReason::UnknownOrder),
        );
        check(Some(S::PendingPayment), 999, "CNY", PaymentDecision::Mismatch);
        check(Some(S::PendingPayment), 0, "CNY", PaymentDecision::Mismatch);
        check(Some(S::PendingPayment), 1000, "USD", PaymentDecision::Mismatch);
    }

    #[test]
    fn the_sellers_own_money_is_refunded_never_captured() {
        let by_seller = |status, amount| PayableOrder {
            status,
            amount_minor: amount,
            currency: "CNY",
            paid_by_its_seller: true,
        };
        for s in [S::PendingPayment, S::Expired, S::Cancelled, S::Paid] {
            assert_eq!(
                decide(Some(by_seller(s, 1000)), 1000, "CNY"),
                PaymentDecision::Refund(UnacceptedReason::SelfPurchase),
                "{s:?}"
            );
        }
        // A wrong amount is still an exception for a person first.
        assert_eq!(
            decide(Some(by_seller(S::PendingPayment, 1000)), 999, "CNY"),
            PaymentDecision::Mismatch
        );
        assert_eq!(UnacceptedReason::SelfPurchase.as_str(), "self_purchase");
    }
}
