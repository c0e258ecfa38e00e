//! The order state machine (SPEC §3): one transition function, explicit effects.

use crate::rules::RuleSet;
use crate::TimestampMs;
use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryKind {
    /// Delivered automatically from the product's stock of keys when payment is captured.
    CardKey,
    /// Delivered by the seller, before the delivery deadline.
    Manual,
}

impl DeliveryKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryKind::CardKey => "card_key",
            DeliveryKind::Manual => "manual",
        }
    }

    pub fn parse(text: &str) -> Option<DeliveryKind> {
        match text {
            "card_key" => Some(DeliveryKind::CardKey),
            "manual" => Some(DeliveryKind::Manual),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    PendingPayment,
    Paid,
    Delivered,
    Completed,
    Expired,
    Cancelled,
    Refunded,
    Disputed,
    PartiallyRefunded,
}

impl OrderStatus {
    pub const ALL: [OrderStatus; 9] = [
        OrderStatus::PendingPayment,
        OrderStatus::Paid,
        OrderStatus::Delivered,
        OrderStatus::Completed,
        OrderStatus::Expired,
        OrderStatus::Cancelled,
        OrderStatus::Refunded,
        OrderStatus::Disputed,
        OrderStatus::PartiallyRefunded,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::PendingPayment => "pending_payment",
            OrderStatus::Paid => "paid",
            OrderStatus::Delivered => "delivered",
            OrderStatus::Completed => "completed",
            OrderStatus::Expired => "expired",
            OrderStatus::Cancelled => "cancelled",
            OrderStatus::Refunded => "refunded",
            OrderStatus::Disputed => "disputed",
            OrderStatus::PartiallyRefunded => "partially_refunded",
        }
    }

    pub fn parse(text: &str) -> Option<OrderStatus> {
        OrderStatus::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Whether the buyer's money is still held by the platform for this order.
    pub fn holds_escrow(self) -> bool {
        matches!(self, OrderStatus::Paid | OrderStatus::Delivered | OrderStatus::Disputed)
    }

    /// The Chinese label shown on pages.
    pub fn label_zh(self) -> &'static str {
        match self {
            OrderStatus::PendingPayment => "待支付",
            OrderStatus::Paid => "已支付，待发货",
            OrderStatus::Delivered => "已发货，待确认",
            OrderStatus::Completed => "已完成",
            OrderStatus::Expired => "已过期",
            OrderStatus::Cancelled => "已取消",
            OrderStatus::Refunded => "已退款",
            OrderStatus::Disputed => "投诉处理中",
            OrderStatus::PartiallyRefunded => "部分退款",
        }
    }
}

impl fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Something that happens to an order. Only `transition` turns one into a new status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderEvent {
    /// The provider captured the buyer's payment into escrow.
    PaymentCaptured,
    /// A payment arrived for an order that had already expired or been cancelled, and
    /// stock still allows fulfilling it (SPEC §4: never ignored).
    LatePaymentCaptured,
    /// Goods were handed over: keys allocated, or the seller's manual delivery.
    Delivered,
    /// The buyer accepted the goods.
    Confirmed,
    /// The acceptance window passed without a complaint.
    AcceptanceWindowPassed,
    /// The payment window passed without payment.
    PaymentWindowPassed,
    /// The buyer cancelled before paying.
    Cancelled,
    /// A manual order was not delivered by its deadline.
    DeliveryDeadlinePassed,
    /// A paid order could not be fulfilled (e.g. stock ran out); the buyer gets the money back.
    FulfilmentFailed,
    /// The seller declines a paid order instead of delivering it (e.g. a top-up they
    /// cannot do): the buyer is refunded in full at once.
    SellerDeclined,
    /// The seller was banned for fraud: every open order is refunded in full.
    SellerBanned,
    /// The buyer opened a complaint: the money is frozen and the order's clocks pause.
    ComplaintOpened,
    /// The buyer withdrew the complaint: the order returns to where it was, and the
    /// clock the complaint paused runs again with the time it had left.
    ComplaintWithdrawn { restore: OrderStatus, remaining_ms: i64 },
    /// A ruling settled the complaint; the order ends as the ruling says.
    ComplaintRuled { outcome: OrderStatus },
}

impl OrderEvent {
    /// The event's stable name, as clients read it in a refusal's `event` member.
    pub fn name(&self) -> &'static str {
        match self {
            OrderEvent::PaymentCaptured => "payment_captured",
            OrderEvent::LatePaymentCaptured => "late_payment_captured",
            OrderEvent::Delivered => "delivered",
            OrderEvent::Confirmed => "confirmed",
            OrderEvent::AcceptanceWindowPassed => "acceptance_window_passed",
            OrderEvent::PaymentWindowPassed => "payment_window_passed",
            OrderEvent::Cancelled => "cancelled",
            OrderEvent::DeliveryDeadlinePassed => "delivery_deadline_passed",
            OrderEvent::FulfilmentFailed => "fulfilment_failed",
            OrderEvent::SellerDeclined => "seller_declined",
            OrderEvent::SellerBanned => "seller_banned",
            OrderEvent::ComplaintOpened => "complaint_opened",
            OrderEvent::ComplaintWithdrawn { .. } => "complaint_withdrawn",
            OrderEvent::ComplaintRuled { .. } => "complaint_ruled",
        }
    }
}

/// What the caller must do, in the same transaction, because of a transition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Return the reserved units to the product's stock.
    ReleaseStock,
    /// Allocate card keys and deliver at once (card_key products).
    AllocateKeys,
    /// Start the manual delivery deadline.
    ScheduleDeliveryDeadline { at: TimestampMs },
    /// Start the acceptance window.
    ScheduleAutoConfirm { at: TimestampMs },
    /// Move the order's escrow to the seller's available balance, less the fee.
    ReleaseEscrowToSeller,
    /// Move the order's escrow back towards the buyer (refund job at the provider).
    RefundEscrowInFull,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("an order that is {from} cannot take the event {event:?}")]
pub struct IllegalTransition {
    pub from: OrderStatus,
    pub event: OrderEvent,
}

/// Who looks at an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Party {
    Buyer,
    Seller,
}

/// What a party may do with an order now; the pages show these, the use cases check
/// the same rules again (through `transition`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderAction {
    /// Open the cashier (again).
    Pay,
    /// Confirm a `step_up` order once more (二次验证) before its cashier opens; the
    /// application offers it from the order's risk assessment, in place of `Pay`.
    ConfirmRisk,
    Cancel,
    /// See the delivered goods (recorded).
    Reveal,
    Confirm,
    /// Open a complaint; which kinds, `complaint::offered_kinds` says.
    Complain,
    /// Manual delivery by the seller.
    Deliver,
    /// The seller declines a paid order (full refund).
    Decline,
}

pub fn actions(status: OrderStatus, kind: DeliveryKind, party: Party) -> Vec<OrderAction> {
    use OrderAction as A;
    use OrderStatus as S;
    match (party, status) {
        (Party::Buyer, S::PendingPayment) => vec![A::Pay, A::Cancel],
        (Party::Buyer, S::Paid) => vec![A::Complain],
        (Party::Buyer, S::Delivered) => vec![A::Reveal, A::Confirm, A::Complain],
        (Party::Buyer, S::Completed) => vec![A::Reveal, A::Complain],
        (Party::Buyer, S::Disputed) => vec![A::Reveal],
        (Party::Seller, S::Paid) if kind == DeliveryKind::Manual => vec![A::Deliver, A::Decline],
        (Party::Seller, S::Paid) => vec![A::Decline],
        _ => vec![],
    }
}

/// The time left on the clock a complaint pauses: the delivery deadline of a paid
/// order, the acceptance window of a delivered one; none for any other status.
pub fn remaining_on_clock(
    status: OrderStatus,
    deliver_by: Option<TimestampMs>,
    auto_confirm_at: Option<TimestampMs>,
    now: TimestampMs,
) -> Option<i64> {
    match status {
        OrderStatus::Paid => deliver_by.map(|d| (d - now).max(0)),
        OrderStatus::Delivered => auto_confirm_at.map(|d| (d - now).max(0)),
        _ => None,
    }
}

/// The one transition function of an order.
pub fn transition(
    from: OrderStatus,
    event: OrderEvent,
    kind: DeliveryKind,
    rules: &RuleSet,
    now: TimestampMs,
) -> Result<(OrderStatus, Vec<Effect>), IllegalTransition> {
    use OrderEvent as E;
    use OrderStatus as S;
    let next = match (from, event) {
        (S::PendingPayment, E::PaymentCaptured) => (
            S::Paid,
            match kind {
                DeliveryKind::CardKey => vec![Effect::AllocateKeys],
                DeliveryKind::Manual => vec![Effect::ScheduleDeliveryDeadline {
                    at: now.saturating_add(rules.delivery_deadline_ms()),
                }],
            },
        ),
        (S::Expired | S::Cancelled, E::LatePaymentCaptured) => (
            S::Paid,
            match kind {
                // The units were reserved again before this event: whether they could
                // be is what `payment::decide`'s CaptureIfStockAllows asks the caller.
                DeliveryKind::CardKey => vec![Effect::AllocateKeys],
                DeliveryKind::Manual => vec![Effect::ScheduleDeliveryDeadline {
                    at: now.saturating_add(rules.delivery_deadline_ms()),
                }],
            },
        ),
        (S::Paid, E::Delivered) => (
            S::Delivered,
            vec![Effect::ScheduleAutoConfirm {
                at: now.saturating_add(rules.acceptance_window_ms(kind)),
            }],
        ),
        (S::Delivered, E::Confirmed | E::AcceptanceWindowPassed) => (S::Completed, vec![Effect::ReleaseEscrowToSeller]),
        (S::PendingPayment, E::PaymentWindowPassed) => (S::Expired, vec![Effect::ReleaseStock]),
        (S::PendingPayment, E::Cancelled) => (S::Cancelled, vec![Effect::ReleaseStock]),
        (S::Paid, E::DeliveryDeadlinePassed) => (S::Refunded, vec![Effect::RefundEscrowInFull, Effect::ReleaseStock]),
        (S::Paid, E::FulfilmentFailed) => (S::Refunded, vec![Effect::RefundEscrowInFull]),
        (S::Paid, E::SellerDeclined) => (S::Refunded, vec![Effect::RefundEscrowInFull, Effect::ReleaseStock]),
        (S::Paid | S::Delivered, E::SellerBanned) => (S::Refunded, vec![Effect::RefundEscrowInFull]),
        // The complaint itself moves the money (freeze, unfreeze, settlement); the order
        // only records where it stands.
        (S::Paid | S::Delivered | S::Completed, E::ComplaintOpened) => (S::Disputed, vec![]),
        (S::Disputed, E::ComplaintWithdrawn { restore, remaining_ms }) => {
            let at = now.saturating_add(remaining_ms.max(0));
            match restore {
                S::Paid => (restore, vec![Effect::ScheduleDeliveryDeadline { at }]),
                S::Delivered => (restore, vec![Effect::ScheduleAutoConfirm { at }]),
                S::Completed => (restore, vec![]),
                _ => return Err(IllegalTransition { from, event }),
            }
        }
        (S::Disputed, E::ComplaintRuled { outcome })
            if matches!(outcome, S::Refunded | S::Completed | S::PartiallyRefunded) =>
        {
            (outcome, vec![])
        }
        _ => return Err(IllegalTransition { from, event }),
    };
    Ok(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_party_may_do_what_the_status_allows() {
        use OrderAction as A;
        let buyer = |s| actions(s, DeliveryKind::CardKey, Party::Buyer);
        assert_eq!(buyer(OrderStatus::PendingPayment), vec![A::Pay, A::Cancel]);
        assert_eq!(buyer(OrderStatus::Delivered), vec![A::Reveal, A::Confirm, A::Complain]);
        assert_eq!(buyer(OrderStatus::Refunded), vec![]);
        assert_eq!(
            actions(OrderStatus::Paid, DeliveryKind::Manual, Party::Seller),
            vec![A::Deliver, A::Decline]
        );
        assert_eq!(
            actions(OrderStatus::Paid, DeliveryKind::CardKey, Party::Seller),
            vec![A::Decline]
        );
        assert_eq!(
            actions(OrderStatus::Delivered, DeliveryKind::Manual, Party::Seller),
            vec![]
        );
        // Every action offered is one the transition function accepts.
        let r = rules();
        for s in OrderStatus::ALL {
            for kind in [DeliveryKind::CardKey, DeliveryKind::Manual] {
                for party in [Party::Buyer, Party::Seller] {
                    for a in actions(s, kind, party) {
                        let event = match a {
                            A::Cancel => OrderEvent::Cancelled,
                            A::Confirm => OrderEvent::Confirmed,
                            A::Complain => OrderEvent::ComplaintOpened,
                            A::Deliver => OrderEvent::Delivered,
                            A::Decline => OrderEvent::SellerDeclined,
                            A::Pay | A::Reveal | A::ConfirmRisk => continue,
                        };
                        assert!(
                            transition(s, event, kind, &r, NOW).is_ok(),
                            "{s:?} {kind:?} {party:?} {a:?}"
                        );
                    }
                }
            }
        }
    }
    use DeliveryKind::{CardKey, Manual};
    use OrderEvent as E;
    use OrderStatus as S;

    const NOW: TimestampMs = 1_700_000_000_000;

    fn rules() -> RuleSet {
        RuleSet::default_rules().unwrap_or_else(|e| panic!("{e}"))
    }

    fn check(from: S, event: E, kind: DeliveryKind, expected: Result<(S, Vec<Effect>), IllegalTransition>) {
        assert_eq!(
            transition(from, event, kind, &rules(), NOW),
            expected,
            "{from:?} + {event:?} ({kind:?})"
        );
    }

    #[test]
    fn legal_transitions() {
        let r = rules();
        check(
            S::PendingPayment,
            E::PaymentCaptured,
            CardKey,
            Ok((S::Paid, vec![Effect::AllocateKeys])),
        );
        check(
            S::PendingPayment,
            E::PaymentCaptured,
            Manual,
            Ok((
                S::Paid,
                vec![Effect::ScheduleDeliveryDeadline {
                    at: NOW + r.delivery_deadline_ms(),
                }],
            )),
        );
        for from in [S::Expired, S::Cancelled] {
            check(
                from,
                E::LatePaymentCaptured,
                CardKey,
                Ok((S::Paid, vec![Effect::AllocateKeys])),
            );
            check(
                from,
                E::LatePaymentCaptured,
                Manual,
                Ok((
                    S::Paid,
                    vec![Effect::ScheduleDeliveryDeadline {
                        at: NOW + r.delivery_deadline_ms(),
                    }],
                )),
            );
        }
        check(
            S::Paid,
            E::Delivered,
            CardKey,
            Ok((
                S::Delivered,
                vec![Effect::ScheduleAutoConfirm {
                    at: NOW + 24 * 3_600_000,
                }],
            )),
        );
        check(
            S::Paid,
            E::Delivered,
            Manual,
            Ok((
                S::Delivered,
                vec![Effect::ScheduleAutoConfirm {
                    at: NOW + 72 * 3_600_000,
                }],
            )),
        );
        for kind in [CardKey, Manual] {
            check(
                S::Delivered,
                E::Confirmed,
                kind,
                Ok((S::Completed, vec![Effect::ReleaseEscrowToSeller])),
            );
            check(
                S::Delivered,
                E::AcceptanceWindowPassed,
                kind,
                Ok((S::Completed, vec![Effect::ReleaseEscrowToSeller])),
            );
            check(
                S::PendingPayment,
                E::PaymentWindowPassed,
                kind,
                Ok((S::Expired, vec![Effect::ReleaseStock])),
            );
            check(
                S::PendingPayment,
                E::Cancelled,
                kind,
                Ok((S::Cancelled, vec![Effect::ReleaseStock])),
            );
            check(
                S::Paid,
                E::DeliveryDeadlinePassed,
                kind,
                Ok((S::Refunded, vec![Effect::RefundEscrowInFull, Effect::ReleaseStock])),
            );
            check(
                S::Paid,
                E::FulfilmentFailed,
                kind,
                Ok((S::Refunded, vec![Effect::RefundEscrowInFull])),
            );
        }
    }

    /// Every (status, event) pair not listed as legal above is refused, unchanged.
    #[test]
    fn every_other_pair_is_illegal() {
        let legal: &[(S, E)] = &[
            (S::PendingPayment, E::PaymentCaptured),
            (S::Paid, E::Delivered),
            (S::Delivered, E::Confirmed),
            (S::Delivered, E::AcceptanceWindowPassed),
            (S::PendingPayment, E::PaymentWindowPassed),
            (S::PendingPayment, E::Cancelled),
            (S::Paid, E::DeliveryDeadlinePassed),
            (S::Paid, E::FulfilmentFailed),
            (S::Paid, E::SellerDeclined),
            (S::Paid, E::ComplaintOpened),
            (S::Paid, E::SellerBanned),
            (S::Delivered, E::SellerBanned),
            (S::Delivered, E::ComplaintOpened),
            (S::Completed, E::ComplaintOpened),
            (S::Expired, E::LatePaymentCaptured),
            (S::Cancelled, E::LatePaymentCaptured),
        ];
        let events = [
            E::PaymentCaptured,
            E::LatePaymentCaptured,
            E::Delivered,
            E::Confirmed,
            E::AcceptanceWindowPassed,
            E::PaymentWindowPassed,
            E::Cancelled,
            E::DeliveryDeadlinePassed,
            E::FulfilmentFailed,
            E::SellerDeclined,
            E::ComplaintOpened,
            E::SellerBanned,
        ];
        let mut illegal = 0;
        for from in S::ALL {
            for event in events {
                if legal.contains(&(from, event)) {
                    continue;
                }
                for kind in [CardKey, Manual] {
                    check(from, event, kind, Err(IllegalTransition { from, event }));
                }
                illegal += 1;
            }
        }
        assert_eq!(illegal, S::ALL.len() * events.len() - legal.len());
    }

    #[test]
    fn a_ban_refunds_open_orders() {
        for from in [S::Paid, S::Delivered] {
            check(
                from,
                E::SellerBanned,
                CardKey,
                Ok((S::Refunded, vec![Effect::RefundEscrowInFull])),
            );
        }
    }

    #[test]
    fn complaints_move_the_order_and_back() {
        for from in [S::Paid, S::Delivered, S::Completed] {
            check(from, E::ComplaintOpened, CardKey, Ok((S::Disputed, vec![])));
        }
        // Withdrawal resumes the paused clock with the time it had left.
        let back = |restore| E::ComplaintWithdrawn {
            restore,
            remaining_ms: 5_000,
        };
        let at = NOW + 5_000;
        check(
            S::Disputed,
            back(S::Paid),
            Manual,
            Ok((S::Paid, vec![Effect::ScheduleDeliveryDeadline { at }])),
        );
        check(
            S::Disputed,
            back(S::Delivered),
            CardKey,
            Ok((S::Delivered, vec![Effect::ScheduleAutoConfirm { at }])),
        );
        check(S::Disputed, back(S::Completed), CardKey, Ok((S::Completed, vec![])));
        assert_eq!(remaining_on_clock(S::Delivered, None, Some(NOW + 9), NOW), Some(9));
        assert_eq!(remaining_on_clock(S::Paid, Some(NOW - 9), None, NOW), Some(0));
        assert_eq!(remaining_on_clock(S::Completed, None, Some(NOW + 9), NOW), None);
        for outcome in [S::Refunded, S::Completed, S::PartiallyRefunded] {
            check(
                S::Disputed,
                E::ComplaintRuled { outcome },
                Manual,
                Ok((outcome, vec![])),
            );
        }
        // Nowhere else to go back to, and nothing else a ruling can mean.
        let bad = E::ComplaintWithdrawn {
            restore: S::Expired,
            remaining_ms: 0,
        };
        check(
            S::Disputed,
            bad,
            CardKey,
            Err(IllegalTransition {
                from: S::Disputed,
                event: bad,
            }),
        );
        let bad = E::ComplaintRuled { outcome: S::Paid };
        check(
            S::Disputed,
            bad,
            CardKey,
            Err(IllegalTransition {
                from: S::Disputed,
                event: bad,
            }),
        );
        let again = E::ComplaintOpened;
        check(
            S::Disputed,
            again,
            CardKey,
            Err(IllegalTransition {
                from: S::Disputed,
                event: again,
            }),
        );
    }

    #[test]
    fn a_second_confirm_is_illegal() {
        check(
            S::Completed,
            E::Confirmed,
            CardKey,
            Err(IllegalTransition {
                from: S::Completed,
                event: E::Confirmed,
            }),
        );
    }

    #[test]
    fn status_text_round_trips() {
        for s in S::ALL {
            assert_eq!(S::parse(s.as_str()), Some(s));
        }
        assert_eq!(S::parse("bogus"), None);
    }
}
