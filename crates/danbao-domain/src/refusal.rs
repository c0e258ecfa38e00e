//! Every business refusal a person can meet, as a closed list of values.
//!
//! A use case that says "no" for a business reason returns one of these; the HTTP edge
//! maps each variant once to a stable problem `type` (its [`Refusal::code`]) with the
//! variant's data as fields, and the pages show the message catalog's text for it. No
//! layer reads a refusal's text back: the text is for people, the value is for code.

use crate::complaint::{IllegalComplaintTransition, OpenRefusal, Stage};
use crate::limits::Holder;
use crate::order::{IllegalTransition, OrderStatus};
use crate::risk::RiskReason;
use crate::seller::{DepositHeld, IllegalStandingChange, Standing};
use crate::{Money, TimestampMs};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    // Accounts.
    #[error("the username is taken")]
    UsernameTaken,

    // Orders.
    #[error("not enough stock")]
    OutOfStock,
    #[error(transparent)]
    Order(#[from] IllegalTransition),
    #[error("the order is {status} and takes no payment")]
    NoPaymentExpected { status: OrderStatus },
    #[error("an order takes at most {max} payment attempts")]
    TooManyPaymentAttempts { max: i64 },
    #[error("the order is {status} and has nothing delivered to show")]
    NothingDelivered { status: OrderStatus },
    #[error("card_key orders are delivered automatically")]
    DeliveredAutomatically,
    #[error("every unsold key is held for an order being paid; remove one after it is paid or expires")]
    KeysHeldByOrders,
    #[error("the order is refused by risk control: {}", join_reasons(reasons))]
    RiskBlocked { score: i64, reasons: Vec<RiskReason> },
    #[error("the buyer must confirm this order once more (POST …/confirm-risk) before it can be paid")]
    RiskConfirmationRequired,

    // Complaints.
    #[error(transparent)]
    CannotOpen(#[from] OpenRefusal),
    #[error(transparent)]
    Complaint(#[from] IllegalComplaintTransition),
    #[error("the complaint is {stage}; it takes no more actions")]
    ComplaintClosed { stage: Stage },
    #[error("this case is assigned to another arbitrator")]
    AssignedElsewhere,
    #[error("the buyer was already refunded from the compensation fund; the case goes on to a ruling")]
    FastRefundedNoWithdrawal,
    #[error("a party may add at most {max_files} files ({max_bytes} bytes) to one complaint")]
    EvidenceQuota { max_files: i64, max_bytes: i64 },

    // Seller money and standing.
    #[error("not enough available balance")]
    InsufficientBalance,
    #[error(transparent)]
    DepositHeld(#[from] DepositHeld),
    #[error("listing needs a deposit of {required}; {held} is held")]
    DepositShort { required: Money, held: Money },
    #[error("withdrawals are stopped while the seller is {standing}")]
    WithdrawalsStopped { standing: Standing },
    #[error(transparent)]
    Standing(#[from] IllegalStandingChange),
    #[error("the platform holds only {fees} in fees")]
    FeesShort { fees: Money },

    // Reconciliation.
    #[error("this exception is already resolved")]
    ExceptionResolved,
    #[error("there is no payment to refund")]
    NoPaymentToRefund,
    #[error("the payment is {outcome}, not an unaccepted amount mismatch")]
    PaymentNotMismatched { outcome: String },

    // Abuse.
    #[error("a seller cannot buy from their own shop")]
    SelfPurchase,
    // Limits on what one buyer may hold and try.
    #[error("this {holder} already holds {held_units} units in unpaid orders; at most {max_units} may be held")]
    UnpaidUnitsLimit {
        holder: Holder,
        held_units: i64,
        max_units: i64,
    },
    #[error("one buyer may hold at most {max_units} units of this product unpaid ({share_bps} bps of its stock); {held_units} are held")]
    StockShareLimit {
        held_units: i64,
        max_units: i64,
        share_bps: i64,
    },
    #[error("too many wrong query passwords: this order is locked; try again in {retry_after_s} s")]
    QueryPasswordLocked { until: TimestampMs, retry_after_s: i64 },
}

impl Refusal {
    /// The stable problem `type` slug (`https://danbao.dev/problems/<code>`). Never change
    /// one: clients branch on it.
    pub fn code(&self) -> &'static str {
        use Refusal as R;
        match self {
            R::UsernameTaken => "username-taken",
            R::OutOfStock => "out-of-stock",
            R::Order(_) => "illegal-transition",
            R::NoPaymentExpected { .. } => "order-takes-no-payment",
            R::NothingDelivered { .. } => "nothing-delivered",
            R::TooManyPaymentAttempts { .. } => "too-many-payment-attempts",
            R::DeliveredAutomatically => "delivered-automatically",
            R::KeysHeldByOrders => "card-keys-held-by-orders",
            R::RiskBlocked { .. } => "risk-blocked",
            R::RiskConfirmationRequired => "risk-confirmation-required",
            R::CannotOpen(o) => match o {
                OpenRefusal::NotPaid => "complaint-order-not-paid",
                OpenRefusal::AlreadyOpen => "complaint-already-open",
                OpenRefusal::Finished(_) => "complaint-order-finished",
                OpenRefusal::TooEarly { .. } => "complaint-too-early",
                OpenRefusal::DeliveredAutomatically => "complaint-kind-not-applicable",
                OpenRefusal::NotDeliveredYet => "complaint-nothing-delivered",
                OpenRefusal::WindowClosed => "complaint-window-closed",
            },
            R::Complaint(_) => "complaint-illegal-transition",
            R::ComplaintClosed { .. } => "complaint-closed",
            R::AssignedElsewhere => "complaint-assigned-elsewhere",
            R::FastRefundedNoWithdrawal => "complaint-fast-refunded",
            R::EvidenceQuota { .. } => "evidence-quota",
            R::InsufficientBalance => "insufficient-balance",
            R::WithdrawalsStopped { .. } => "withdrawals-stopped",
            R::DepositHeld(DepositHeld::OpenOrders(_)) => "deposit-held-open-orders",
            R::DepositHeld(DepositHeld::OpenComplaints(_)) => "deposit-held-open-complaints",
            R::DepositHeld(DepositHeld::QuietUntil(_)) => "deposit-held-quiet-period",
            R::DepositShort { .. } => "deposit-short",
            R::Standing(_) => "seller-standing",
            R::FeesShort { .. } => "fees-short",
            R::ExceptionResolved => "exception-resolved",
            R::NoPaymentToRefund => "no-payment-to-refund",
            R::PaymentNotMismatched { .. } => "payment-not-mismatched",
            R::SelfPurchase => "self-purchase",
            R::UnpaidUnitsLimit { .. } => "unpaid-units-limit",
            R::StockShareLimit { .. } => "stock-share-limit",
            R::QueryPasswordLocked { .. } => "query-password-locked",
        }
    }

    /// The variant's data, as the extension members of its problem document.
    pub fn fields(&self) -> Vec<(&'static str, RefusalField)> {
        use Refusal as R;
        use RefusalField as F;
        match self {
            R::Order(t) => vec![
                ("status", F::Text(t.from.as_str().into())),
                ("event", F::Text(t.event.name().into())),
            ],
            R::NoPaymentExpected { status } | R::NothingDelivered { status } => {
                vec![("status", F::Text(status.as_str().into()))]
            }
            R::CannotOpen(OpenRefusal::Finished(status)) => vec![("status", F::Text(status.as_str().into()))],
            R::CannotOpen(OpenRefusal::TooEarly { from_ms }) => vec![("opens_at", F::Time(*from_ms))],
            R::Complaint(t) => vec![
                ("stage", F::Text(t.from.as_str().into())),
                ("event", F::Text(t.event.name().into())),
            ],
            R::ComplaintClosed { stage } => vec![("stage", F::Text(stage.as_str().into()))],
            R::WithdrawalsStopped { standing } => vec![("standing", F::Text(standing.as_str().into()))],
            R::DepositShort { required, held } => vec![
                ("required_minor", F::Minor(required.minor())),
                ("held_minor", F::Minor(held.minor())),
            ],
            R::DepositHeld(DepositHeld::OpenOrders(n)) => vec![("open_orders", F::Minor(*n))],
            R::DepositHeld(DepositHeld::OpenComplaints(n)) => vec![("open_complaints", F::Minor(*n))],
            R::DepositHeld(DepositHeld::QuietUntil(at)) => vec![("release_from", F::Time(*at))],
            R::Standing(c) => vec![("standing", F::Text(c.from.as_str().into()))],
            R::FeesShort { fees } => vec![("fees_minor", F::Minor(fees.minor()))],
            R::TooManyPaymentAttempts { max } => vec![("max_attempts", F::Minor(*max))],
            R::EvidenceQuota { max_files, max_bytes } => {
                vec![("max_files", F::Minor(*max_files)), ("max_bytes", F::Minor(*max_bytes))]
            }
            R::PaymentNotMismatched { outcome } => vec![("outcome", F::Text(outcome.clone()))],
            R::UnpaidUnitsLimit {
                holder,
                held_units,
                max_units,
            } => vec![
                ("holder", F::Text(holder.as_str().into())),
                ("held_units", F::Minor(*held_units)),
                ("max_units", F::Minor(*max_units)),
            ],
            R::StockShareLimit {
                held_units,
                max_units,
                share_bps,
            } => vec![
                ("held_units", F::Minor(*held_units)),
                ("max_units", F::Minor(*max_units)),
                ("share_bps", F::Minor(*share_bps)),
            ],
            R::RiskBlocked { score, reasons } => vec![
                ("risk_score", F::Minor(*score)),
                ("reasons", F::List(reasons.iter().map(ToString::to_string).collect())),
                (
                    "reason_codes",
                    F::List(reasons.iter().map(|r| r.code().to_string()).collect()),
                ),
            ],
            R::QueryPasswordLocked { until, retry_after_s } => vec![
                ("locked_until", F::Time(*until)),
                ("retry_after", F::Minor(*retry_after_s)),
            ],
            R::UsernameTaken
            | R::OutOfStock
            | R::DeliveredAutomatically
            | R::KeysHeldByOrders
            | R::RiskConfirmationRequired
            | R::CannotOpen(_)
            | R::AssignedElsewhere
            | R::FastRefundedNoWithdrawal
            | R::InsufficientBalance
            | R::ExceptionResolved
            | R::NoPaymentToRefund
            | R::SelfPurchase => Vec::new(),
        }
    }

    /// Every problem type a refusal can carry, for the API document.
    pub const CODES: [&'static str; 37] = [
        "username-taken",
        "out-of-stock",
        "illegal-transition",
        "order-takes-no-payment",
        "nothing-delivered",
        "too-many-payment-attempts",
        "delivered-automatically",
        "card-keys-held-by-orders",
        "complaint-order-not-paid",
        "complaint-already-open",
        "complaint-order-finished",
        "complaint-too-early",
        "complaint-kind-not-applicable",
        "complaint-nothing-delivered",
        "complaint-window-closed",
        "complaint-illegal-transition",
        "complaint-closed",
        "complaint-assigned-elsewhere",
        "complaint-fast-refunded",
        "evidence-quota",
        "insufficient-balance",
        "withdrawals-stopped",
        "deposit-held-open-orders",
        "deposit-held-open-complaints",
        "deposit-held-quiet-period",
        "deposit-short",
        "seller-standing",
        "fees-short",
        "exception-resolved",
        "no-payment-to-refund",
        "payment-not-mismatched",
        "self-purchase",
        "unpaid-units-limit",
        "stock-share-limit",
        "query-password-locked",
        "risk-blocked",
        "risk-confirmation-required",
    ];
}

/// One datum of a refusal, typed so the edge can render it (a time as RFC 3339).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefusalField {
    Text(String),
    Minor(i64),
    Time(TimestampMs),
    List(Vec<String>),
}

fn join_reasons(reasons: &[RiskReason]) -> String {
    reasons.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::complaint::ComplaintEvent;
    use crate::order::OrderEvent;
    use std::collections::BTreeSet;

    /// One value of every variant (and every `OpenRefusal`), so a new variant must be
    /// added here and given a code.
    fn every_refusal() -> Vec<Refusal> {
        use OpenRefusal as O;
        vec![
            Refusal::UsernameTaken,
            Refusal::OutOfStock,
            Refusal::Order(IllegalTransition {
                from: OrderStatus::Completed,
                event: OrderEvent::Confirmed,
            }),
            Refusal::NoPaymentExpected {
                status: OrderStatus::Paid,
            },
            Refusal::NothingDelivered {
                status: OrderStatus::Paid,
            },
            Refusal::TooManyPaymentAttempts { max: 5 },
            Refusal::DeliveredAutomatically,
            Refusal::KeysHeldByOrders,
            O::NotPaid.into(),
            O::AlreadyOpen.into(),
            O::Finished(OrderStatus::Refunded).into(),
            O::TooEarly { from_ms: 7_200_000 }.into(),
            O::DeliveredAutomatically.into(),
            O::NotDeliveredYet.into(),
            O::WindowClosed.into(),
            Refusal::Complaint(IllegalComplaintTransition {
                from: Stage::Resolved,
                event: ComplaintEvent::Withdrawn,
            }),
            Refusal::ComplaintClosed { stage: Stage::Resolved },
            Refusal::AssignedElsewhere,
            Refusal::FastRefundedNoWithdrawal,
            Refusal::EvidenceQuota {
                max_files: 20,
                max_bytes: 50,
            },
            Refusal::InsufficientBalance,
            Refusal::WithdrawalsStopped {
                standing: Standing::Frozen,
            },
            Refusal::DepositShort {
                required: Money::from_minor(50_000),
                held: Money::from_minor(0),
            },
            DepositHeld::OpenOrders(1).into(),
            DepositHeld::OpenComplaints(1).into(),
            DepositHeld::QuietUntil(1_800_000_000_000).into(),
            Refusal::Standing(IllegalStandingChange {
                from: Standing::Banned,
                change: crate::seller::StandingChange::Unfreeze,
            }),
            Refusal::FeesShort {
                fees: Money::from_minor(12),
            },
            Refusal::ExceptionResolved,
            Refusal::NoPaymentToRefund,
            Refusal::PaymentNotMismatched {
                outcome: "captured".into(),
            },
            Refusal::SelfPurchase,
            Refusal::UnpaidUnitsLimit {
                holder: Holder::Contact,
                held_units: 20,
                max_units: 20,
            },
            Refusal::StockShareLimit {
                held_units: 5,
                max_units: 5,
                share_bps: 5000,
            },
            Refusal::QueryPasswordLocked {
                until: 60_000,
                retry_after_s: 60,
            },
            Refusal::RiskBlocked {
                score: 100,
                reasons: vec![RiskReason::NewSeller {
                    age_days: 0,
                    min_days: 7,
                }],
            },
            Refusal::RiskConfirmationRequired,
        ]
    }

    #[test]
    fn a_refused_transition_names_its_event_in_snake_case() {
        let order = Refusal::Order(IllegalTransition {
            from: OrderStatus::Completed,
            event: OrderEvent::ComplaintWithdrawn {
                restore: OrderStatus::Delivered,
                remaining_ms: 5,
            },
        });
        let complaint = Refusal::Complaint(IllegalComplaintTransition {
            from: crate::complaint::Stage::Resolved,
            event: ComplaintEvent::Ruled(crate::complaint::Ruling::RefundFull),
        });
        let event = |r: &Refusal| r.fields().into_iter().find(|(k, _)| *k == "event").map(|(_, v)| v);
        assert_eq!(event(&order), Some(RefusalField::Text("complaint_withdrawn".into())));
        assert_eq!(event(&complaint), Some(RefusalField::Text("ruled".into())));
        // Names are stable identifiers: lower snake case, distinct per event.
        let names = [
            OrderEvent::PaymentCaptured,
            OrderEvent::LatePaymentCaptured,
            OrderEvent::Delivered,
            OrderEvent::Confirmed,
            OrderEvent::AcceptanceWindowPassed,
            OrderEvent::PaymentWindowPassed,
            OrderEvent::Cancelled,
            OrderEvent::DeliveryDeadlinePassed,
            OrderEvent::FulfilmentFailed,
            OrderEvent::SellerDeclined,
            OrderEvent::SellerBanned,
            OrderEvent::ComplaintOpened,
        ]
        .map(|e| e.name());
        assert_eq!(names.iter().collect::<BTreeSet<_>>().len(), names.len());
        assert!(names
            .iter()
            .all(|n| n.chars().all(|c| c.is_ascii_lowercase() || c == '_')));
    }

    #[test]
    fn every_refusal_has_its_own_listed_code() {
        let all = every_refusal();
        let codes: BTreeSet<&str> = all.iter().map(Refusal::code).collect();
        assert_eq!(codes.len(), all.len(), "two refusals share a code");
        assert_eq!(codes, Refusal::CODES.into_iter().collect::<BTreeSet<_>>());
    }

    #[test]
    fn data_travels_as_fields_not_text() {
        let early: Refusal = OpenRefusal::TooEarly { from_ms: 7_200_000 }.into();
        assert_eq!(early.fields(), vec![("opens_at", RefusalField::Time(7_200_000))]);
        let short = Refusal::FeesShort {
            fees: Money::from_minor(12),
        };
        assert_eq!(short.fields(), vec![("fees_minor", RefusalField::Minor(12))]);
        assert!(Refusal::InsufficientBalance.fields().is_empty());
    }
}
