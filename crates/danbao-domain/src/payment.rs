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
}

impl UnacceptedReason {
    pub fn as_str(self) -> &'static str {
        match self {
            UnacceptedReason::UnknownOrder => "unknown_order",
            UnacceptedReason::AlreadyPaid => "already_paid",
            UnacceptedReason::OutOfStock => "out_of_stock",
        }
    }
}

/// The order as the platform knows it, when a payment for it arrives.
pub struct PayableOrder<'a> {
    pub status: OrderStatus,
    pub amount_minor: i64,
    pub currency: &'a str,
}

pub fn decide(order: Option<PayableOrder<'_>>, paid_amount_minor: i64, paid_currency: &str) -> PaymentDecision {
    let Some(order) = order else {
        return PaymentDecision::Refund(UnacceptedReason::UnknownOrder);
    };
    if order.amount_minor != paid_amount_minor || order.currency != paid_currency {
        return PaymentDecision::Mismatch;
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
}
