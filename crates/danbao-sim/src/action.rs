//! What the simulated world can do, and how a seeded random source picks it. Actions
//! name people and things by their index in the world (orders and complaints counted
//! from the newest, sellers from the first), never by id, so a shortened sequence still
//! means something: an index past the end wraps, and an action whose thing does not
//! exist yet is skipped.

use rand::rngs::StdRng;
use rand::Rng;
use serde::{Deserialize, Serialize};

/// Who does an order-level action: the order's own party, or someone who has no
/// business with it (an illegal action that must be refused, not crash).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Who {
    Buyer,
    Seller,
    /// Another buyer.
    Stranger,
    /// A seller of another shop.
    OtherSeller,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotifyMode {
    /// Delivered and acknowledged.
    Deliver,
    /// Delivered, but the acknowledgement is lost: the gateway will send it again.
    DeliverAckLost,
    /// Lost on the way; the gateway does not resend (only active query or the
    /// statement can find it now).
    Drop,
    /// Someone else sends a copy with a changed amount and no valid signature.
    Forge,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "do", rename_all = "snake_case")]
pub enum Action {
    PlaceOrder {
        buyer: usize,
        product: usize,
        quantity: i64,
    },
    NewAttempt {
        order: usize,
    },
    /// Pay an attempt of the order at the gateway's cashier (the latest one, or an
    /// earlier one: a second payment for one order).
    Pay {
        order: usize,
        attempt: usize,
        payer: usize,
    },
    Notify {
        pick: usize,
        mode: NotifyMode,
    },
    Cancel {
        order: usize,
        who: Who,
    },
    Reveal {
        order: usize,
        who: Who,
    },
    Confirm {
        order: usize,
        who: Who,
    },
    Deliver {
        order: usize,
        who: Who,
    },
    Decline {
        order: usize,
        who: Who,
    },
    OpenComplaint {
        order: usize,
        who: Who,
        kind: usize,
    },
    AddEvidence {
        complaint: usize,
        seller_side: bool,
    },
    Respond {
        complaint: usize,
    },
    WithdrawComplaint {
        complaint: usize,
    },
    Assign {
        complaint: usize,
        arbitrator: usize,
    },
    Step {
        complaint: usize,
        step: usize,
    },
    Rule {
        complaint: usize,
        ruling: usize,
        bps: i64,
    },
    Freeze {
        seller: usize,
    },
    Unfreeze {
        seller: usize,
    },
    Ban {
        seller: usize,
    },
    LockDeposit {
        seller: usize,
        amount: i64,
    },
    Withdraw {
        seller: usize,
        amount: i64,
    },
    FundCompensation {
        amount: i64,
    },
    ImportKeys {
        product: usize,
        count: usize,
    },
    Advance {
        ms: i64,
    },
    RunJobs,
    Reconcile,
    GatewayDown {
        down: bool,
    },
    RefundsFailing {
        failing: bool,
    },
}

pub const COMPLAINT_KINDS: [&str; 4] = ["not_delivered", "not_as_described", "fraud", "other"];
pub const STEPS: [&str; 3] = ["ask_buyer", "start_appraisal", "finish_appraisal"];

const SECOND: i64 = 1_000;
const MINUTE: i64 = 60 * SECOND;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;

fn who(rng: &mut StdRng, usual: Who) -> Who {
    match rng.gen_range(0..20) {
        0 => Who::Stranger,
        1 => Who::OtherSeller,
        2 => {
            if usual == Who::Buyer {
                Who::Seller
            } else {
                Who::Buyer
            }
        }
        _ => usual,
    }
}

/// Recent things are picked more often than old ones: most work happens on live orders.
fn recent(rng: &mut StdRng) -> usize {
    if rng.gen_bool(0.8) {
        rng.gen_range(0..5)
    } else {
        rng.gen_range(0..1_000)
    }
}

/// One action, weighted so that orders, payments and their lives dominate, with
/// staff, money and faults mixed in.
pub fn generate(rng: &mut StdRng) -> Action {
    let weights: [(u32, u8); 27] = [
        (12, 0), // place order
        (2, 1),  // new attempt
        (14, 2), // pay
        (14, 3), // notify
        (2, 4),  // cancel
        (3, 5),  // reveal
        (7, 6),  // confirm
        (7, 7),  // deliver
        (1, 8),  // decline
        (9, 9),  // open complaint
        (4, 10), // evidence
        (3, 11), // respond
        (1, 12), // withdraw complaint
        (4, 13), // assign
        (1, 14), // step
        (7, 15), // rule
        (1, 16), // freeze
        (3, 17), // unfreeze
        (0, 18), // ban: see below
        (1, 19), // deposit
        (2, 20), // withdraw
        (1, 21), // fund
        (2, 22), // import keys
        (8, 23), // advance
        (6, 24), // run jobs
        (1, 25), // reconcile
        (1, 26), // faults
    ];
    // Bans end a shop for good, so they are rare.
    if rng.gen_range(0..2_000) == 0 {
        return Action::Ban {
            seller: rng.gen_range(0..16),
        };
    }
    let total: u32 = weights.iter().map(|(w, _)| w).sum();
    let mut roll = rng.gen_range(0..total);
    let mut which = 0;
    for (w, k) in weights {
        if roll < w {
            which = k;
            break;
        }
        roll -= w;
    }
    match which {
        0 => Action::PlaceOrder {
            buyer: rng.gen_range(0..16),
            product: rng.gen_range(0..64),
            quantity: if rng.gen_range(0..30) == 0 {
                rng.gen_range(-1..5)
            } else {
                rng.gen_range(1..3)
            },
        },
        1 => Action::NewAttempt { order: recent(rng) },
        2 => Action::Pay {
            order: recent(rng),
            attempt: if rng.gen_range(0..10) == 0 {
                rng.gen_range(1..3)
            } else {
                0
            },
            payer: rng.gen_range(0..16),
        },
        3 => Action::Notify {
            pick: rng.gen_range(0..64),
            mode: match rng.gen_range(0..20) {
                0..=1 => NotifyMode::DeliverAckLost,
                2..=3 => NotifyMode::Drop,
                4 => NotifyMode::Forge,
                _ => NotifyMode::Deliver,
            },
        },
        4 => Action::Cancel {
            order: recent(rng),
            who: who(rng, Who::Buyer),
        },
        5 => Action::Reveal {
            order: recent(rng),
            who: who(rng, Who::Buyer),
        },
        6 => Action::Confirm {
            order: recent(rng),
            who: who(rng, Who::Buyer),
        },
        7 => Action::Deliver {
            order: recent(rng),
            who: who(rng, Who::Seller),
        },
        8 => Action::Decline {
            order: recent(rng),
            who: who(rng, Who::Seller),
        },
        9 => Action::OpenComplaint {
            order: recent(rng),
            who: who(rng, Who::Buyer),
            kind: rng.gen_range(0..COMPLAINT_KINDS.len()),
        },
        10 => Action::AddEvidence {
            complaint: recent(rng),
            seller_side: rng.gen_bool(0.5),
        },
        11 => Action::Respond { complaint: recent(rng) },
        12 => Action::WithdrawComplaint { complaint: recent(rng) },
        13 => Action::Assign {
            complaint: recent(rng),
            arbitrator: rng.gen_range(0..4),
        },
        14 => Action::Step {
            complaint: recent(rng),
            step: rng.gen_range(0..STEPS.len()),
        },
        15 => Action::Rule {
            complaint: recent(rng),
            ruling: rng.gen_range(0..4),
            bps: if rng.gen_range(0..20) == 0 {
                rng.gen_range(-100..10_200)
            } else {
                rng.gen_range(0..=10_000)
            },
        },
        16 => Action::Freeze {
            seller: rng.gen_range(0..16),
        },
        17 => Action::Unfreeze {
            seller: rng.gen_range(0..16),
        },
        18 => Action::Ban {
            seller: rng.gen_range(0..16),
        },
        19 => Action::LockDeposit {
            seller: rng.gen_range(0..16),
            amount: rng.gen_range(-100..20_000),
        },
        20 => Action::Withdraw {
            seller: rng.gen_range(0..16),
            amount: rng.gen_range(-100..40_000),
        },
        21 => Action::FundCompensation {
            amount: rng.gen_range(1..5_000),
        },
        22 => Action::ImportKeys {
            product: rng.gen_range(0..64),
            count: rng.gen_range(1..20),
        },
        23 => Action::Advance {
            ms: match rng.gen_range(0..10) {
                0..=2 => rng.gen_range(1..60) * SECOND,
                3..=5 => rng.gen_range(1..30) * MINUTE,
                6..=7 => rng.gen_range(1..12) * HOUR,
                8 => rng.gen_range(1..4) * DAY,
                _ => rng.gen_range(4..10) * DAY,
            },
        },
        24 => Action::RunJobs,
        25 => Action::Reconcile,
        _ => {
            if rng.gen_bool(0.5) {
                Action::GatewayDown {
                    down: rng.gen_bool(0.4),
                }
            } else {
                Action::RefundsFailing {
                    failing: rng.gen_bool(0.4),
                }
            }
        }
    }
}
