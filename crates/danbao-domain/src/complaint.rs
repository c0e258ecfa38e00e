//! Complaints (投诉) and rulings (SPEC §6): when one may be opened, its stages and
//! deadlines as one transition function, automatic triage (预审), and what each ruling
//! does with the money. Pure: the caller supplies the facts and the time.

use crate::money::{Money, MoneyError, BPS_WHOLE};
use crate::order::{DeliveryKind, OrderStatus};
use crate::rules::RuleSet;
use crate::triage_text::{classify, TextClass};
use crate::TimestampMs;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

const HOUR_MS: i64 = 3_600_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ComplaintKind {
    NotDelivered,
    /// 货不对板, including an invalid or already used card key.
    NotAsDescribed,
    Fraud,
    Other,
}

impl ComplaintKind {
    pub const ALL: [ComplaintKind; 4] = [
        ComplaintKind::NotDelivered,
        ComplaintKind::NotAsDescribed,
        ComplaintKind::Fraud,
        ComplaintKind::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ComplaintKind::NotDelivered => "not_delivered",
            ComplaintKind::NotAsDescribed => "not_as_described",
            ComplaintKind::Fraud => "fraud",
            ComplaintKind::Other => "other",
        }
    }

    pub fn parse(text: &str) -> Option<ComplaintKind> {
        ComplaintKind::ALL.into_iter().find(|k| k.as_str() == text)
    }

    /// The kinds that count towards the collective-complaint rule.
    pub fn is_collective(self) -> bool {
        matches!(self, ComplaintKind::NotDelivered | ComplaintKind::Fraud)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    AwaitingSeller,
    UnderReview,
    AwaitingBuyer,
    Appraisal,
    Resolved,
    Withdrawn,
}

impl Stage {
    pub const ALL: [Stage; 6] = [
        Stage::AwaitingSeller,
        Stage::UnderReview,
        Stage::AwaitingBuyer,
        Stage::Appraisal,
        Stage::Resolved,
        Stage::Withdrawn,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Stage::AwaitingSeller => "awaiting_seller",
            Stage::UnderReview => "under_review",
            Stage::AwaitingBuyer => "awaiting_buyer",
            Stage::Appraisal => "appraisal",
            Stage::Resolved => "resolved",
            Stage::Withdrawn => "withdrawn",
        }
    }

    pub fn parse(text: &str) -> Option<Stage> {
        Stage::ALL.into_iter().find(|s| s.as_str() == text)
    }

    pub fn is_open(self) -> bool {
        !matches!(self, Stage::Resolved | Stage::Withdrawn)
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an arbitrator (or a deadline, or triage) decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Ruling {
    RefundFull,
    ReleaseToSeller,
    /// The buyer gets `buyer_bps` of the amount, the seller the rest (less the fee).
    Split {
        buyer_bps: i64,
    },
    /// The seller must deliver again; the buyer gets `refund_bps` back for the trouble,
    /// the seller the rest (less the fee) — money-wise a split.
    Redeliver {
        refund_bps: i64,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RulingError {
    #[error("unknown ruling {0:?}: refund_full, release_to_seller, split or redeliver")]
    Unknown(String),
    #[error("basis points must be within 0..=10000, got {0}")]
    BpsOutOfRange(i64),
    #[error("{0} needs its basis points")]
    MissingBps(&'static str),
}

impl Ruling {
    pub fn parse(kind: &str, bps: Option<i64>) -> Result<Ruling, RulingError> {
        let checked = |name, bps: Option<i64>| {
            let b = bps.ok_or(RulingError::MissingBps(name))?;
            if (0..=BPS_WHOLE).contains(&b) {
                Ok(b)
            } else {
                Err(RulingError::BpsOutOfRange(b))
            }
        };
        match kind {
            "refund_full" => Ok(Ruling::RefundFull),
            "release_to_seller" => Ok(Ruling::ReleaseToSeller),
            "split" => Ok(Ruling::Split {
                buyer_bps: checked("split", bps)?,
            }),
            "redeliver" => Ok(Ruling::Redeliver {
                refund_bps: checked("redeliver", bps)?,
            }),
            other => Err(RulingError::Unknown(other.to_string())),
        }
    }

    pub fn kind(self) -> &'static str {
        match self {
            Ruling::RefundFull => "refund_full",
            Ruling::ReleaseToSeller => "release_to_seller",
            Ruling::Split { .. } => "split",
            Ruling::Redeliver { .. } => "redeliver",
        }
    }

    /// The buyer's share in basis points.
    pub fn buyer_bps(self) -> i64 {
        match self {
            Ruling::RefundFull => BPS_WHOLE,
            Ruling::ReleaseToSeller => 0,
            Ruling::Split { buyer_bps } => buyer_bps,
            Ruling::Redeliver { refund_bps } => refund_bps,
        }
    }

    /// Where the order ends up.
    pub fn order_outcome(self) -> OrderStatus {
        match self.buyer_bps() {
            BPS_WHOLE => OrderStatus::Refunded,
            0 => OrderStatus::Completed,
            _ => OrderStatus::PartiallyRefunded,
        }
    }
}

/// What a ruling does with an order's money (SPEC §5): the buyer's part is rounded half
/// to even; the fee is taken on the seller's part only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settlement {
    pub to_buyer: Money,
    pub to_seller: Money,
    pub fee: Money,
}

pub fn settle(amount: Money, ruling: Ruling, fee_bps: i64) -> Result<Settlement, MoneyError> {
    let to_buyer = amount.apply_bps(ruling.buyer_bps())?;
    let seller = amount.checked_sub(to_buyer)?.split_fee(fee_bps)?;
    Ok(Settlement {
        to_buyer,
        to_seller: seller.to_seller,
        fee: seller.fee,
    })
}

/// The order, as far as opening a complaint is concerned.
#[derive(Debug, Clone, Copy)]
pub struct OrderFacts {
    pub status: OrderStatus,
    pub delivery_kind: DeliveryKind,
    pub paid_at: Option<TimestampMs>,
    pub delivered_at: Option<TimestampMs>,
    pub completed_at: Option<TimestampMs>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenRefusal {
    #[error("the order is not paid")]
    NotPaid,
    #[error("the order already has an open complaint")]
    AlreadyOpen,
    #[error("the order is {0} and can no longer be complained about")]
    Finished(OrderStatus),
    #[error("not_delivered cannot be opened yet; it opens at opens_at")]
    TooEarly { from_ms: TimestampMs },
    #[error("not_delivered applies to manual orders; a card_key order is delivered at payment")]
    DeliveredAutomatically,
    #[error("nothing has been delivered yet")]
    NotDeliveredYet,
    #[error("the after-sales window has closed")]
    WindowClosed,
}

/// The kinds a buyer is offered for an order: `not_delivered` only on a manual order
/// not yet completed (a card-key order is delivered at payment), `not_as_described`
/// once something was delivered. Timing (too early, window closed) is `check_open`'s.
pub fn offered_kinds(o: &OrderFacts) -> Vec<ComplaintKind> {
    let mut kinds = Vec::new();
    if o.delivery_kind == DeliveryKind::Manual && o.status != OrderStatus::Completed {
        kinds.push(ComplaintKind::NotDelivered);
    }
    if o.delivered_at.is_some() {
        kinds.push(ComplaintKind::NotAsDescribed);
    }
    kinds.push(ComplaintKind::Fraud);
    kinds.push(ComplaintKind::Other);
    kinds
}

/// Who looks at a complaint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    Buyer,
    Seller,
    /// Arbitrators and admins.
    Staff,
}

/// What a side may do with a complaint now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ComplaintAction {
    AddEvidence,
    /// The seller's answer.
    Respond,
    Withdraw,
    /// Take the case (arbitrators).
    Take,
    Rule,
    AskBuyer,
    /// Send the case to a third party for appraisal (arbitrators).
    StartAppraisal,
    /// Record the appraisal's outcome and take the case back to review (arbitrators).
    FinishAppraisal,
}

pub fn actions(stage: Stage, side: Side) -> Vec<ComplaintAction> {
    use ComplaintAction as A;
    if !stage.is_open() {
        return vec![];
    }
    match side {
        Side::Buyer => vec![A::AddEvidence, A::Withdraw],
        Side::Seller if matches!(stage, Stage::AwaitingSeller | Stage::UnderReview) => {
            vec![A::AddEvidence, A::Respond]
        }
        Side::Seller => vec![A::AddEvidence],
        Side::Staff => match stage {
            Stage::UnderReview => vec![A::Take, A::Rule, A::AskBuyer, A::StartAppraisal],
            Stage::Appraisal => vec![A::Take, A::Rule, A::FinishAppraisal],
            _ => vec![A::Take, A::Rule],
        },
    }
}

/// When each kind may be opened (SPEC §6).
pub fn check_open(kind: ComplaintKind, o: &OrderFacts, rules: &RuleSet, now: TimestampMs) -> Result<(), OpenRefusal> {
    use OrderStatus as S;
    match o.status {
        S::PendingPayment | S::Expired | S::Cancelled => return Err(OpenRefusal::NotPaid),
        S::Disputed => return Err(OpenRefusal::AlreadyOpen),
        S::Refunded | S::PartiallyRefunded => return Err(OpenRefusal::Finished(o.status)),
        S::Paid | S::Delivered | S::Completed => {}
    }
    let paid_at = o.paid_at.ok_or(OpenRefusal::NotPaid)?;
    // Each kind has its own after-sales window (the rule set names them); the seller's
    // reserve lasts the longest, so a complaint opened within one finds the money there.
    let after_sales_open = |completed: Option<TimestampMs>| match completed {
        Some(c) => now <= c.saturating_add(rules.after_sales_window_ms_for(kind.as_str())),
        None => true,
    };
    match kind {
        ComplaintKind::NotDelivered => {
            if o.delivery_kind != DeliveryKind::Manual {
                return Err(OpenRefusal::DeliveredAutomatically);
            }
            if o.status == S::Completed {
                return Err(OpenRefusal::Finished(o.status));
            }
            let from = paid_at.saturating_add(rules.complaints.not_delivered_after_hours * HOUR_MS);
            if now < from {
                return Err(OpenRefusal::TooEarly { from_ms: from });
            }
        }
        ComplaintKind::NotAsDescribed => {
            if o.delivered_at.is_none() {
                return Err(OpenRefusal::NotDeliveredYet);
            }
            if !after_sales_open(o.completed_at) {
                return Err(OpenRefusal::WindowClosed);
            }
        }
        ComplaintKind::Fraud | ComplaintKind::Other => {
            if !after_sales_open(o.completed_at) {
                return Err(OpenRefusal::WindowClosed);
            }
        }
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ComplaintEvent {
    SellerResponded,
    SellerDeadlinePassed,
    /// An arbitrator asks the buyer for more evidence.
    BuyerAsked,
    BuyerResponded,
    BuyerDeadlinePassed,
    AppraisalStarted,
    AppraisalFinished,
    AppraisalDeadlinePassed,
    Ruled(Ruling),
    Withdrawn,
}

impl ComplaintEvent {
    /// The event's stable name, as clients read it in a refusal's `event` member.
    pub fn name(&self) -> &'static str {
        match self {
            ComplaintEvent::SellerResponded => "seller_responded",
            ComplaintEvent::SellerDeadlinePassed => "seller_deadline_passed",
            ComplaintEvent::BuyerAsked => "buyer_asked",
            ComplaintEvent::BuyerResponded => "buyer_responded",
            ComplaintEvent::BuyerDeadlinePassed => "buyer_deadline_passed",
            ComplaintEvent::AppraisalStarted => "appraisal_started",
            ComplaintEvent::AppraisalFinished => "appraisal_finished",
            ComplaintEvent::AppraisalDeadlinePassed => "appraisal_deadline_passed",
            ComplaintEvent::Ruled(_) => "ruled",
            ComplaintEvent::Withdrawn => "withdrawn",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ComplaintEffect {
    /// The stage now runs until `at`; a deadline job fires then.
    Deadline { at: TimestampMs },
    /// The stage has no deadline.
    NoDeadline,
    /// Carry out the ruling on the ledger.
    Execute(Ruling),
    /// The buyer withdrew: the money goes back where it was, the order's clocks resume.
    ReturnFrozen,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a complaint that is {from} cannot take the event {event:?}")]
pub struct IllegalComplaintTransition {
    pub from: Stage,
    pub event: ComplaintEvent,
}

/// The deadline of a freshly opened complaint (stage `awaiting_seller`).
pub fn opening_deadline(rules: &RuleSet, now: TimestampMs) -> TimestampMs {
    now.saturating_add(rules.complaints.seller_response_hours * HOUR_MS)
}

/// The one transition function of a complaint. Deadline defaults: a silent seller loses
/// (full refund); a silent buyer, asked for evidence, loses (release to the seller).
pub fn transition(
    from: Stage,
    event: ComplaintEvent,
    rules: &RuleSet,
    now: TimestampMs,
) -> Result<(Stage, Vec<ComplaintEffect>), IllegalComplaintTransition> {
    use ComplaintEffect as F;
    use ComplaintEvent as E;
    use Stage as S;
    let c = &rules.complaints;
    // Reaching review starts the platform's own clock (仲裁时效): past it the case is
    // escalated, never left to wait.
    let review = || F::Deadline {
        at: now.saturating_add(rules.arbitration_ms()),
    };
    let next = match (from, event) {
        (S::AwaitingSeller, E::SellerResponded) => (S::UnderReview, vec![review()]),
        (S::AwaitingSeller, E::SellerDeadlinePassed) => {
            (S::Resolved, vec![F::NoDeadline, F::Execute(Ruling::RefundFull)])
        }
        (S::UnderReview, E::BuyerAsked) => (
            S::AwaitingBuyer,
            vec![F::Deadline {
                at: now.saturating_add(c.buyer_response_hours * HOUR_MS),
            }],
        ),
        (S::AwaitingBuyer, E::BuyerResponded) => (S::UnderReview, vec![review()]),
        (S::AwaitingBuyer, E::BuyerDeadlinePassed) => {
            (S::Resolved, vec![F::NoDeadline, F::Execute(Ruling::ReleaseToSeller)])
        }
        (S::UnderReview, E::AppraisalStarted) => (
            S::Appraisal,
            vec![F::Deadline {
                at: now.saturating_add(c.appraisal_days_max * 24 * HOUR_MS),
            }],
        ),
        (S::Appraisal, E::AppraisalFinished | E::AppraisalDeadlinePassed) => (S::UnderReview, vec![review()]),
        (S::AwaitingSeller | S::UnderReview | S::AwaitingBuyer | S::Appraisal, E::Ruled(r)) => {
            (S::Resolved, vec![F::NoDeadline, F::Execute(r)])
        }
        (S::AwaitingSeller | S::UnderReview | S::AwaitingBuyer | S::Appraisal, E::Withdrawn) => {
            (S::Withdrawn, vec![F::NoDeadline, F::ReturnFrozen])
        }
        _ => return Err(IllegalComplaintTransition { from, event }),
    };
    Ok(next)
}

/// Whether a case under review is past the platform's time limit: shown on every page,
/// and the reason it was escalated.
pub fn review_overdue(stage: Stage, deadline_at: Option<TimestampMs>, now: TimestampMs) -> bool {
    stage == Stage::UnderReview && deadline_at.is_some_and(|d| d <= now)
}

/// What decides a fast refund (先行赔付, SPEC §7), gathered when the complaint is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FastRefundFacts {
    /// How old the buyer's account is; `None` for a guest.
    pub buyer_account_age_ms: Option<i64>,
    /// When the buyer last lost a complaint (a ruling wholly for the seller), if ever.
    pub buyer_last_lost_at: Option<TimestampMs>,
    /// The order's amount, which is what the fast refund pays.
    pub amount: Money,
    /// What the compensation fund holds now.
    pub fund: Money,
}

/// Why a complaint was not refunded at once: a closed list, shown through the message
/// catalog. The case goes on as usual either way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum FastRefundRefusal {
    Disabled,
    /// Guests have no account history to judge.
    Guest,
    AccountTooNew {
        days_min: i64,
    },
    LostRecently {
        days: i64,
    },
    AmountOverCap {
        cap_minor: i64,
    },
    /// The compensation fund cannot cover it now.
    FundShort,
}

/// The fast refund an opened complaint gets, or why it gets none. The checks run in the
/// order a buyer can do something about them last: the fund comes last.
pub fn fast_refund(f: &FastRefundFacts, rules: &RuleSet, now: TimestampMs) -> Result<Money, FastRefundRefusal> {
    let r = &rules.complaints.fast_refund;
    if !r.enabled {
        return Err(FastRefundRefusal::Disabled);
    }
    let age = f.buyer_account_age_ms.ok_or(FastRefundRefusal::Guest)?;
    if age < r.account_age_days_min.saturating_mul(24 * HOUR_MS) {
        return Err(FastRefundRefusal::AccountTooNew {
            days_min: r.account_age_days_min,
        });
    }
    let window_start = now.saturating_sub(r.no_lost_complaint_days.saturating_mul(24 * HOUR_MS));
    if f.buyer_last_lost_at.is_some_and(|at| at >= window_start) {
        return Err(FastRefundRefusal::LostRecently {
            days: r.no_lost_complaint_days,
        });
    }
    if f.amount.minor() > r.amount_minor_max {
        return Err(FastRefundRefusal::AmountOverCap {
            cap_minor: r.amount_minor_max,
        });
    }
    if !f.amount.is_positive() || f.fund < f.amount {
        return Err(FastRefundRefusal::FundShort);
    }
    Ok(f.amount)
}

/// What triage (预审) looks at: the platform's own records, and what evidence came in.
#[derive(Debug, Clone)]
pub struct TriageFacts {
    pub kind: ComplaintKind,
    pub delivery_recorded: bool,
    pub delivery_revealed: bool,
    pub seller_answered: bool,
    /// The manual delivery deadline has passed without a delivery.
    pub past_delivery_deadline: bool,
    /// The kinds of evidence submitted so far (e.g. "description", "screenshot").
    pub evidence_kinds: Vec<String>,
    /// What the parties wrote (the description, answers, notes), oldest first.
    pub texts: Vec<PartyText>,
    /// Pictures of this case that look like pictures uploaded in other cases.
    pub image_matches: Vec<ImageMatch>,
}

/// One text a party wrote in the case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartyText {
    pub party: Side,
    pub text: String,
}

/// A picture uploaded in this case by `party` whose perceptual hash is within the
/// threshold of one in another complaint, about another order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageMatch {
    pub party: Side,
    pub other_complaint: String,
    /// The other complaint is against a different seller.
    pub other_seller: bool,
}

/// Why triage proposes what it proposes: a closed list, shown to people through the
/// message catalog, never as text built here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum TriageReason {
    /// Evidence the rule set requires for this kind is still missing.
    EvidenceMissing {
        kinds: Vec<String>,
    },
    NoDeliveryPastDeadline,
    NoDeliveryYet,
    DeliveredAndRevealed,
    DeliveredNotRevealed,
    NeverRevealed,
    FraudWithoutDelivery,
    BothSidesSpoke,
    AwaitingSeller,
    /// A party's words say something triage reads (`class`), in these phrases of the
    /// phrase table (`triage_text::PHRASES`).
    TextSays {
        party: Side,
        class: TextClass,
        phrases: Vec<String>,
    },
    /// Phrases read as negated (不是骗子): shown, not counted.
    TextNegated {
        party: Side,
        phrases: Vec<String>,
    },
    /// The buyer's words pull both ways (a complaint and a resolution or a change of
    /// mind): a person decides.
    TextMixed,
    /// The words change what the records alone would propose.
    TextOverridesRecords,
    /// A picture `party` uploaded looks like one in these other complaints (other
    /// orders); `other_sellers` when some of them are against other sellers.
    ImageSeenElsewhere {
        party: Side,
        complaints: Vec<String>,
        other_sellers: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proposal {
    pub ruling: Option<Ruling>,
    /// A clear case, decided at once without waiting for an arbitrator.
    pub decide_now: bool,
    /// Share of the rule set's required evidence present, 0..=100.
    pub completeness_pct: i64,
    pub reasons: Vec<TriageReason>,
}

pub fn triage(f: &TriageFacts, rules: &RuleSet) -> Proposal {
    use TriageReason as R;
    let required = rules
        .complaints
        .evidence
        .get(f.kind.as_str())
        .cloned()
        .unwrap_or_default();
    let present = required.iter().filter(|r| f.evidence_kinds.contains(r)).count();
    let completeness_pct = if required.is_empty() {
        100
    } else {
        i64::try_from(present * 100 / required.len()).unwrap_or(0)
    };
    let mut reasons = Vec::new();
    let missing: Vec<String> = required
        .iter()
        .filter(|r| !f.evidence_kinds.contains(r))
        .cloned()
        .collect();
    if !missing.is_empty() {
        reasons.push(R::EvidenceMissing { kinds: missing });
    }
    let (reason, ruling, decide_now) = match f.kind {
        ComplaintKind::NotDelivered if !f.delivery_recorded && f.past_delivery_deadline => {
            (R::NoDeliveryPastDeadline, Some(Ruling::RefundFull), true)
        }
        ComplaintKind::NotDelivered if !f.delivery_recorded => (R::NoDeliveryYet, Some(Ruling::RefundFull), false),
        ComplaintKind::NotDelivered if f.delivery_revealed => {
            (R::DeliveredAndRevealed, Some(Ruling::ReleaseToSeller), false)
        }
        ComplaintKind::NotDelivered => (R::DeliveredNotRevealed, None, false),
        ComplaintKind::NotAsDescribed | ComplaintKind::Other if !f.delivery_revealed => (R::NeverRevealed, None, false),
        ComplaintKind::Fraud if !f.delivery_recorded => (R::FraudWithoutDelivery, Some(Ruling::RefundFull), false),
        _ if f.seller_answered => (R::BothSidesSpoke, None, false),
        _ => (R::AwaitingSeller, None, false),
    };
    reasons.push(reason);
    let read = read_texts(&f.texts);
    reasons.extend(read.reasons.iter().cloned());
    let mut ruling = ruling;
    // Words and pictures propose; they never decide. A clear case on the records stays
    // as the records make it.
    if !decide_now {
        let by_words = words_propose(f, ruling, &read);
        if by_words != ruling {
            reasons.push(if by_words.is_none() && read.mixed {
                R::TextMixed
            } else {
                R::TextOverridesRecords
            });
            ruling = by_words;
        } else if read.mixed {
            reasons.push(R::TextMixed);
        }
    }
    for party in [Side::Buyer, Side::Seller] {
        let matches: Vec<&ImageMatch> = f.image_matches.iter().filter(|m| m.party == party).collect();
        if matches.is_empty() {
            continue;
        }
        let mut complaints: Vec<String> = matches.iter().map(|m| m.other_complaint.clone()).collect();
        complaints.sort();
        complaints.dedup();
        reasons.push(R::ImageSeenElsewhere {
            party,
            complaints,
            other_sellers: matches.iter().any(|m| m.other_seller),
        });
        // A picture reused from another case is no proof for the side that reused it.
        let favours_uploader = match party {
            Side::Buyer => ruling.is_some_and(|r| r.buyer_bps() > 0),
            _ => ruling == Some(Ruling::ReleaseToSeller),
        };
        if favours_uploader && !decide_now {
            ruling = None;
        }
    }
    Proposal {
        ruling,
        decide_now,
        completeness_pct,
        reasons,
    }
}

/// What the texts say, by party: each class's weight (negated phrases not counted).
#[derive(Debug, Default)]
struct ReadTexts {
    buyer: BTreeMap<TextClass, u32>,
    seller: BTreeMap<TextClass, u32>,
    /// The buyer's last text that says anything says the problem is over (or that they
    /// do not want the goods), after every complaint they made.
    buyer_ends_resolved: bool,
    /// The buyer complains and, in the same breath or later, says it is over.
    mixed: bool,
    reasons: Vec<TriageReason>,
}

fn read_texts(texts: &[PartyText]) -> ReadTexts {
    let mut read = ReadTexts::default();
    let mut phrases: BTreeMap<(Side, TextClass), Vec<String>> = BTreeMap::new();
    let mut negated: BTreeMap<Side, Vec<String>> = BTreeMap::new();
    // Per buyer text: (complains, resolves)
    let mut buyer_turns: Vec<(bool, bool)> = Vec::new();
    for t in texts {
        if t.party == Side::Staff {
            continue;
        }
        let hits = classify(&t.text);
        let mut turn = (false, false);
        for h in hits {
            if !h.class.read_for(t.party == Side::Buyer) {
                continue;
            }
            if h.negated {
                negated.entry(t.party).or_default().push(h.phrase.to_string());
                continue;
            }
            let scores = if t.party == Side::Buyer {
                &mut read.buyer
            } else {
                &mut read.seller
            };
            *scores.entry(h.class).or_default() += u32::from(h.weight);
            phrases
                .entry((t.party, h.class))
                .or_default()
                .push(h.phrase.to_string());
            turn.0 |= h.class.is_grievance();
            turn.1 |= matches!(h.class, TextClass::Resolved | TextClass::Remorse);
        }
        if t.party == Side::Buyer && (turn.0 || turn.1) {
            buyer_turns.push(turn);
        }
    }
    let remorse = read.buyer.contains_key(&TextClass::Remorse);
    let complained = buyer_turns.iter().any(|t| t.0);
    read.buyer_ends_resolved = buyer_turns.last().is_some_and(|t| t.1 && !t.0) && !(remorse && complained);
    read.mixed = buyer_turns.iter().any(|t| t.1) && complained && !read.buyer_ends_resolved;
    for ((party, class), list) in phrases {
        let list = first_of_each(list);
        read.reasons.push(TriageReason::TextSays {
            party,
            class,
            phrases: list,
        });
    }
    for (party, list) in negated {
        let list = first_of_each(list);
        read.reasons.push(TriageReason::TextNegated { party, phrases: list });
    }
    read
}

/// Each phrase once, in the order first said.
fn first_of_each(list: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(list.len());
    for p in list {
        if !out.contains(&p) {
            out.push(p);
        }
    }
    out
}

/// What the words make of the records' proposal. Plain rules, in order; each says why.
fn words_propose(f: &TriageFacts, records: Option<Ruling>, read: &ReadTexts) -> Option<Ruling> {
    let buyer = |c: TextClass| read.buyer.get(&c).copied().unwrap_or(0);
    let seller = |c: TextClass| read.seller.get(&c).copied().unwrap_or(0);
    let grievance = buyer(TextClass::KeyUsed) + buyer(TextClass::NotAsDescribed);
    let complains = grievance + buyer(TextClass::NotReceived) + buyer(TextClass::Fraud) > 0;
    if read.mixed {
        return None;
    }
    // The buyer says, last, that it is over or that they ordered by mistake: for the
    // seller, when something was delivered (with nothing delivered the records stand).
    if read.buyer_ends_resolved {
        return if f.delivery_recorded {
            Some(Ruling::ReleaseToSeller)
        } else {
            records
        };
    }
    // The seller owns the fault: a refund, whatever the records would have said.
    let admits = seller(TextClass::Admits) > 0 && seller(TextClass::Denies) == 0;
    if admits {
        return Some(Ruling::RefundFull);
    }
    // "I got it", and no complaint in the words: a not-delivered complaint on a delivery
    // the records show is for the seller.
    if !complains && buyer(TextClass::Received) > 0 && f.kind == ComplaintKind::NotDelivered && f.delivery_recorded {
        return Some(Ruling::ReleaseToSeller);
    }
    match f.kind {
        // A used or wrong key, on a delivery the buyer saw: the platform cannot check the
        // key, so the seller's answer decides: silence is the deadline's refund, a denial
        // goes to a person.
        ComplaintKind::NotAsDescribed | ComplaintKind::Other | ComplaintKind::Fraud
            if f.delivery_revealed && grievance > 0 =>
        {
            if seller(TextClass::Denies) > 0 || f.seller_answered {
                None
            } else {
                Some(Ruling::RefundFull)
            }
        }
        // A not-delivered complaint that, in words, is about a used or wrong key: the
        // wrong kind; a person reads it.
        ComplaintKind::NotDelivered if f.delivery_revealed && grievance > 0 => None,
        _ => records,
    }
}

/// Why a complaint was ruled as it was: an arbitrator's own words, or one of the
/// system's grounds. Stored as JSON; a stored text that is not one of these is an
/// arbitrator's words from before grounds were typed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum RulingReason {
    Arbitrator {
        text: String,
    },
    /// Default when the seller did not answer in time.
    SellerSilent,
    /// Default when the buyer, asked for evidence, did not send it in time.
    BuyerSilent,
    /// A clear case decided by triage at once.
    Triage {
        reasons: Vec<TriageReason>,
    },
    /// Every open case of a banned seller is refunded; `text` is the ban's reason.
    SellerBanned {
        text: String,
    },
}

impl RulingReason {
    /// The stored form (what the evidence log's reason hash commits to).
    pub fn to_stored(&self) -> String {
        match self {
            RulingReason::Arbitrator { text } => text.clone(),
            other => serde_json::to_string(other).unwrap_or_default(),
        }
    }

    pub fn from_stored(text: &str) -> RulingReason {
        if text.starts_with('{') {
            if let Ok(r) = serde_json::from_str::<RulingReason>(text) {
                if !matches!(r, RulingReason::Arbitrator { .. }) {
                    return r;
                }
            }
        }
        RulingReason::Arbitrator { text: text.to_string() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ComplaintEvent as E;
    use Stage as S;

    const NOW: TimestampMs = 1_800_000_000_000;

    fn rules() -> RuleSet {
        RuleSet::default_rules().unwrap_or_else(|e| panic!("{e}"))
    }

    fn check(from: S, event: E, expected: Result<(S, Vec<ComplaintEffect>), IllegalComplaintTransition>) {
        assert_eq!(transition(from, event, &rules(), NOW), expected, "{from:?} + {event:?}");
    }

    #[test]
    fn stages_and_deadline_defaults() {
        use ComplaintEffect as F;
        check(
            S::AwaitingSeller,
            E::SellerResponded,
            Ok((S::UnderReview, vec![F::Deadline { at: NOW + 48 * HOUR_MS }])),
        );
        check(
            S::AwaitingSeller,
            E::SellerDeadlinePassed,
            Ok((S::Resolved, vec![F::NoDeadline, F::Execute(Ruling::RefundFull)])),
        );
        check(
            S::UnderReview,
            E::BuyerAsked,
            Ok((S::AwaitingBuyer, vec![F::Deadline { at: NOW + 72 * HOUR_MS }])),
        );
        check(
            S::AwaitingBuyer,
            E::BuyerResponded,
            Ok((S::UnderReview, vec![F::Deadline { at: NOW + 48 * HOUR_MS }])),
        );
        check(
            S::AwaitingBuyer,
            E::BuyerDeadlinePassed,
            Ok((S::Resolved, vec![F::NoDeadline, F::Execute(Ruling::ReleaseToSeller)])),
        );
        check(
            S::UnderReview,
            E::AppraisalStarted,
            Ok((
                S::Appraisal,
                vec![F::Deadline {
                    at: NOW + 7 * 24 * HOUR_MS,
                }],
            )),
        );
        check(
            S::Appraisal,
            E::AppraisalFinished,
            Ok((S::UnderReview, vec![F::Deadline { at: NOW + 48 * HOUR_MS }])),
        );
        check(
            S::Appraisal,
            E::AppraisalDeadlinePassed,
            Ok((S::UnderReview, vec![F::Deadline { at: NOW + 48 * HOUR_MS }])),
        );
        let r = Ruling::Split { buyer_bps: 2500 };
        for open in [S::AwaitingSeller, S::UnderReview, S::AwaitingBuyer, S::Appraisal] {
            check(open, E::Ruled(r), Ok((S::Resolved, vec![F::NoDeadline, F::Execute(r)])));
            check(
                open,
                E::Withdrawn,
                Ok((S::Withdrawn, vec![F::NoDeadline, F::ReturnFrozen])),
            );
        }
        assert_eq!(opening_deadline(&rules(), NOW), NOW + 48 * HOUR_MS);
    }

    #[test]
    fn a_case_under_review_is_overdue_once_the_platforms_limit_passes() {
        let due = NOW + 48 * HOUR_MS;
        assert!(!review_overdue(S::UnderReview, Some(due), due - 1));
        assert!(review_overdue(S::UnderReview, Some(due), due));
        // Waiting on a party is not the platform's delay.
        assert!(!review_overdue(S::AwaitingBuyer, Some(due), due + 1));
        assert!(!review_overdue(S::UnderReview, None, due + 1));
    }

    fn eligible() -> FastRefundFacts {
        FastRefundFacts {
            buyer_account_age_ms: Some(31 * 24 * HOUR_MS),
            buyer_last_lost_at: None,
            amount: Money::from_minor(20_000),
            fund: Money::from_minor(20_000),
        }
    }

    #[test]
    fn fast_refund_pays_the_amount_to_an_eligible_buyer_while_the_fund_holds_it() {
        assert_eq!(fast_refund(&eligible(), &rules(), NOW), Ok(Money::from_minor(20_000)));
        // Exactly 30 days old is old enough; a loss 91 days ago is forgotten.
        let f = FastRefundFacts {
            buyer_account_age_ms: Some(30 * 24 * HOUR_MS),
            buyer_last_lost_at: Some(NOW - 91 * 24 * HOUR_MS),
            ..eligible()
        };
        assert_eq!(fast_refund(&f, &rules(), NOW), Ok(Money::from_minor(20_000)));
    }

    #[test]
    fn fast_refund_refusals_name_the_condition_that_failed() {
        use FastRefundRefusal as X;
        let r = rules();
        let case = |f: FastRefundFacts| fast_refund(&f, &r, NOW);
        assert_eq!(
            case(FastRefundFacts {
                buyer_account_age_ms: None,
                ..eligible()
            }),
            Err(X::Guest)
        );
        assert_eq!(
            case(FastRefundFacts {
                buyer_account_age_ms: Some(30 * 24 * HOUR_MS - 1),
                ..eligible()
            }),
            Err(X::AccountTooNew { days_min: 30 })
        );
        assert_eq!(
            case(FastRefundFacts {
                buyer_last_lost_at: Some(NOW - 90 * 24 * HOUR_MS),
                ..eligible()
            }),
            Err(X::LostRecently { days: 90 })
        );
        assert_eq!(
            case(FastRefundFacts {
                amount: Money::from_minor(20_001),
                fund: Money::from_minor(1_000_000),
                ..eligible()
            }),
            Err(X::AmountOverCap { cap_minor: 20_000 })
        );
        assert_eq!(
            case(FastRefundFacts {
                fund: Money::from_minor(19_999),
                ..eligible()
            }),
            Err(X::FundShort)
        );
        let mut off = rules();
        off.complaints.fast_refund.enabled = false;
        assert_eq!(fast_refund(&eligible(), &off, NOW), Err(X::Disabled));
        // The stored form is the code with its figures.
        assert_eq!(
            serde_json::to_string(&X::AmountOverCap { cap_minor: 20_000 }).unwrap_or_default(),
            r#"{"code":"amount_over_cap","cap_minor":20000}"#
        );
    }

    #[test]
    fn a_resolved_complaint_cannot_be_ruled_again_and_other_pairs_are_illegal() {
        let events = [
            E::SellerResponded,
            E::SellerDeadlinePassed,
            E::BuyerAsked,
            E::BuyerResponded,
            E::BuyerDeadlinePassed,
            E::AppraisalStarted,
            E::AppraisalFinished,
            E::AppraisalDeadlinePassed,
            E::Ruled(Ruling::RefundFull),
            E::Withdrawn,
        ];
        let mut legal = 0;
        for from in S::ALL {
            for event in events {
                match transition(from, event, &rules(), NOW) {
                    Ok(_) => legal += 1,
                    Err(e) => assert_eq!(e, IllegalComplaintTransition { from, event }),
                }
            }
        }
        // 8 single transitions + (ruled, withdrawn) from 4 open stages.
        assert_eq!(legal, 8 + 2 * 4);
        for closed in [S::Resolved, S::Withdrawn] {
            assert!(transition(closed, E::Ruled(Ruling::ReleaseToSeller), &rules(), NOW).is_err());
        }
    }

    fn settled(amount: i64, ruling: Ruling, fee_bps: i64) -> (i64, i64, i64) {
        let s = settle(Money::from_minor(amount), ruling, fee_bps).unwrap_or_else(|e| panic!("{e}"));
        (s.to_buyer.minor(), s.to_seller.minor(), s.fee.minor())
    }

    #[test]
    fn every_ruling_with_exact_amounts() {
        assert_eq!(settled(10_000, Ruling::RefundFull, 500), (10_000, 0, 0));
        assert_eq!(settled(10_000, Ruling::ReleaseToSeller, 500), (0, 9_500, 500));
        assert_eq!(
            settled(10_000, Ruling::Split { buyer_bps: 3000 }, 500),
            (3_000, 6_650, 350)
        );
        // 1001 × 50 % = 500.5 → 500 (half to even); seller 501, fee 25.05 → 25.
        assert_eq!(settled(1_001, Ruling::Split { buyer_bps: 5000 }, 500), (500, 476, 25));
        // 1003 × 50 % = 501.5 → 502; seller 501.
        assert_eq!(settled(1_003, Ruling::Split { buyer_bps: 5000 }, 500), (502, 476, 25));
        // 9999 × 10 % = 999.9 → 1000; seller 8999, fee 449.95 → 450.
        assert_eq!(
            settled(9_999, Ruling::Redeliver { refund_bps: 1000 }, 500),
            (1_000, 8_549, 450)
        );
        for (amount, bps) in [(1, 1), (7, 3333), (123_457, 9999), (50, 5000)] {
            let (b, s, f) = settled(amount, Ruling::Split { buyer_bps: bps }, 500);
            assert_eq!(b + s + f, amount, "nothing created or lost for {amount} at {bps}");
        }
    }

    #[test]
    fn ruling_parsing_checks_the_basis_points() {
        assert_eq!(
            Ruling::parse("split", Some(2500)),
            Ok(Ruling::Split { buyer_bps: 2500 })
        );
        assert_eq!(
            Ruling::parse("split", Some(10_001)),
            Err(RulingError::BpsOutOfRange(10_001))
        );
        assert_eq!(Ruling::parse("split", Some(-1)), Err(RulingError::BpsOutOfRange(-1)));
        assert_eq!(Ruling::parse("split", None), Err(RulingError::MissingBps("split")));
        assert_eq!(
            Ruling::parse("redeliver", Some(0)),
            Ok(Ruling::Redeliver { refund_bps: 0 })
        );
        assert_eq!(Ruling::parse("refund_full", None), Ok(Ruling::RefundFull));
        assert!(matches!(Ruling::parse("pay_me", None), Err(RulingError::Unknown(_))));
        assert_eq!(Ruling::RefundFull.order_outcome(), OrderStatus::Refunded);
        assert_eq!(Ruling::ReleaseToSeller.order_outcome(), OrderStatus::Completed);
        assert_eq!(
            Ruling::Split { buyer_bps: 1 }.order_outcome(),
            OrderStatus::PartiallyRefunded
        );
    }

    fn facts(status: OrderStatus, kind: DeliveryKind) -> OrderFacts {
        OrderFacts {
            status,
            delivery_kind: kind,
            paid_at: Some(NOW - 3 * HOUR_MS),
            delivered_at: matches!(status, OrderStatus::Delivered | OrderStatus::Completed).then_some(NOW - HOUR_MS),
            completed_at: (status == OrderStatus::Completed).then_some(NOW - HOUR_MS),
        }
    }

    #[test]
    fn when_each_kind_may_be_opened() {
        use ComplaintKind as K;
        use DeliveryKind::{CardKey, Manual};
        use OrderStatus as O;
        let r = rules();
        let open = |k, f: OrderFacts, now| check_open(k, &f, &r, now);
        assert_eq!(
            open(K::Fraud, facts(O::PendingPayment, CardKey), NOW),
            Err(OpenRefusal::NotPaid)
        );
        assert_eq!(
            open(K::Fraud, facts(O::Disputed, CardKey), NOW),
            Err(OpenRefusal::AlreadyOpen)
        );
        assert_eq!(
            open(K::Fraud, facts(O::Refunded, CardKey), NOW),
            Err(OpenRefusal::Finished(O::Refunded))
        );
        // not_delivered: manual only, from 2 h after payment.
        assert_eq!(open(K::NotDelivered, facts(O::Paid, Manual), NOW), Ok(()));
        let early = OrderFacts {
            paid_at: Some(NOW - HOUR_MS),
            ..facts(O::Paid, Manual)
        };
        assert_eq!(
            open(K::NotDelivered, early, NOW),
            Err(OpenRefusal::TooEarly { from_ms: NOW + HOUR_MS })
        );
        assert_eq!(
            open(K::NotDelivered, facts(O::Delivered, CardKey), NOW),
            Err(OpenRefusal::DeliveredAutomatically)
        );
        // not_as_described: from delivery to the end of the after-sales window.
        assert_eq!(
            open(K::NotAsDescribed, facts(O::Paid, Manual), NOW),
            Err(OpenRefusal::NotDeliveredYet)
        );
        assert_eq!(open(K::NotAsDescribed, facts(O::Delivered, CardKey), NOW), Ok(()));
        assert_eq!(open(K::NotAsDescribed, facts(O::Completed, CardKey), NOW), Ok(()));
        let late = NOW - HOUR_MS + 7 * 24 * HOUR_MS + 1;
        assert_eq!(
            open(K::NotAsDescribed, facts(O::Completed, CardKey), late),
            Err(OpenRefusal::WindowClosed)
        );
        // fraud: any time after payment, and on a completed order within its own, longer
        // window (14 days by default), which the seller's reserve also lasts.
        assert_eq!(open(K::Fraud, facts(O::Delivered, CardKey), late), Ok(()));
        assert_eq!(open(K::Fraud, facts(O::Completed, CardKey), late), Ok(()));
        let fraud_last = NOW - HOUR_MS + 14 * 24 * HOUR_MS;
        assert_eq!(open(K::Fraud, facts(O::Completed, CardKey), fraud_last), Ok(()));
        assert_eq!(
            open(K::Fraud, facts(O::Completed, CardKey), fraud_last + 1),
            Err(OpenRefusal::WindowClosed)
        );
        assert_eq!(r.reserve_ms(), 14 * 24 * HOUR_MS);
        assert_eq!(
            open(K::Other, facts(O::Completed, CardKey), late),
            Err(OpenRefusal::WindowClosed)
        );
    }

    fn triage_facts(kind: ComplaintKind) -> TriageFacts {
        TriageFacts {
            kind,
            delivery_recorded: false,
            delivery_revealed: false,
            seller_answered: false,
            past_delivery_deadline: false,
            evidence_kinds: vec![],
            texts: vec![],
            image_matches: vec![],
        }
    }

    #[test]
    fn triage_decides_clear_cases_and_scores_evidence() {
        let r = rules();
        let p = triage(
            &TriageFacts {
                past_delivery_deadline: true,
                ..triage_facts(ComplaintKind::NotDelivered)
            },
            &r,
        );
        assert_eq!(
            (p.ruling, p.decide_now, p.completeness_pct),
            (Some(Ruling::RefundFull), true, 100)
        );
        let p = triage(&triage_facts(ComplaintKind::NotDelivered), &r);
        assert_eq!((p.ruling, p.decide_now), (Some(Ruling::RefundFull), false));
        let p = triage(
            &TriageFacts {
                delivery_recorded: true,
                delivery_revealed: true,
                ..triage_facts(ComplaintKind::NotDelivered)
            },
            &r,
        );
        assert_eq!((p.ruling, p.decide_now), (Some(Ruling::ReleaseToSeller), false));
        let p = triage(
            &TriageFacts {
                delivery_recorded: true,
                delivery_revealed: true,
                evidence_kinds: vec!["description".into()],
                ..triage_facts(ComplaintKind::NotAsDescribed)
            },
            &r,
        );
        assert_eq!((p.ruling, p.decide_now, p.completeness_pct), (None, false, 50));
        assert_eq!(
            p.reasons,
            vec![
                TriageReason::EvidenceMissing {
                    kinds: vec!["screenshot".into()]
                },
                TriageReason::AwaitingSeller
            ]
        );
    }

    #[test]
    fn words_propose_with_their_phrases_but_never_decide() {
        let r = rules();
        let revealed = TriageFacts {
            delivery_recorded: true,
            delivery_revealed: true,
            texts: vec![PartyText {
                party: Side::Buyer,
                text: "充值时提示 已使用".into(),
            }],
            ..triage_facts(ComplaintKind::NotAsDescribed)
        };
        let p = triage(&revealed, &r);
        assert_eq!((p.ruling, p.decide_now), (Some(Ruling::RefundFull), false));
        assert!(p.reasons.contains(&TriageReason::TextSays {
            party: Side::Buyer,
            class: TextClass::KeyUsed,
            phrases: vec!["提示已使用".into()],
        }));
        // The seller disputes it: a person decides.
        let disputed = TriageFacts {
            seller_answered: true,
            texts: [
                revealed.texts.clone(),
                vec![PartyText {
                    party: Side::Seller,
                    text: "卡密没问题".into(),
                }],
            ]
            .concat(),
            ..revealed.clone()
        };
        assert_eq!(triage(&disputed, &r).ruling, None);
        // The buyer's screenshot was seen in another case: no proposal for the buyer.
        let reused = TriageFacts {
            image_matches: vec![ImageMatch {
                party: Side::Buyer,
                other_complaint: "cmp_1".into(),
                other_seller: true,
            }],
            ..revealed.clone()
        };
        let p = triage(&reused, &r);
        assert_eq!(p.ruling, None);
        assert!(p.reasons.contains(&TriageReason::ImageSeenElsewhere {
            party: Side::Buyer,
            complaints: vec!["cmp_1".into()],
            other_sellers: true,
        }));
        // A clear case on the records stays decided as the records say, whatever the words.
        let clear = TriageFacts {
            past_delivery_deadline: true,
            texts: vec![PartyText {
                party: Side::Buyer,
                text: "已解决".into(),
            }],
            ..triage_facts(ComplaintKind::NotDelivered)
        };
        let p = triage(&clear, &r);
        assert_eq!((p.ruling, p.decide_now), (Some(Ruling::RefundFull), true));
        // Words alone never make a case clear.
        let p = triage(&revealed, &r);
        assert!(!p.decide_now);
    }

    #[test]
    fn each_side_may_act_while_the_complaint_is_open() {
        use ComplaintAction as A;
        assert_eq!(
            actions(Stage::AwaitingSeller, Side::Seller),
            vec![A::AddEvidence, A::Respond]
        );
        assert_eq!(actions(Stage::AwaitingBuyer, Side::Seller), vec![A::AddEvidence]);
        assert_eq!(
            actions(Stage::AwaitingBuyer, Side::Buyer),
            vec![A::AddEvidence, A::Withdraw]
        );
        assert_eq!(
            actions(Stage::UnderReview, Side::Staff),
            vec![A::Take, A::Rule, A::AskBuyer, A::StartAppraisal]
        );
        assert_eq!(
            actions(Stage::Appraisal, Side::Staff),
            vec![A::Take, A::Rule, A::FinishAppraisal]
        );
        assert_eq!(actions(Stage::AwaitingBuyer, Side::Staff), vec![A::Take, A::Rule]);
        for side in [Side::Buyer, Side::Seller, Side::Staff] {
            assert_eq!(actions(Stage::Resolved, side), vec![]);
            assert_eq!(actions(Stage::Withdrawn, side), vec![]);
        }
    }

    #[test]
    fn offered_kinds_follow_the_delivery() {
        let manual_paid = OrderFacts {
            status: OrderStatus::Paid,
            delivery_kind: DeliveryKind::Manual,
            paid_at: Some(NOW),
            delivered_at: None,
            completed_at: None,
        };
        use ComplaintKind as K;
        assert_eq!(offered_kinds(&manual_paid), vec![K::NotDelivered, K::Fraud, K::Other]);
        let card_done = OrderFacts {
            status: OrderStatus::Completed,
            delivery_kind: DeliveryKind::CardKey,
            delivered_at: Some(NOW),
            completed_at: Some(NOW),
            ..manual_paid
        };
        assert_eq!(offered_kinds(&card_done), vec![K::NotAsDescribed, K::Fraud, K::Other]);
    }

    #[test]
    fn ruling_reasons_are_stored_as_values_and_words_stay_words() {
        for r in [
            RulingReason::SellerSilent,
            RulingReason::BuyerSilent,
            RulingReason::Triage {
                reasons: vec![TriageReason::NoDeliveryPastDeadline],
            },
            RulingReason::SellerBanned {
                text: "fraud ring".into(),
            },
            RulingReason::Arbitrator {
                text: "the key was used before delivery".into(),
            },
        ] {
            assert_eq!(RulingReason::from_stored(&r.to_stored()), r);
        }
        // An arbitrator's words are never read as a system ground, even when they look
        // like one.
        let sneaky = r#"{"code":"arbitrator","text":"x"}"#;
        assert_eq!(
            RulingReason::from_stored(sneaky),
            RulingReason::Arbitrator { text: sneaky.into() }
        );
        assert_eq!(
            RulingReason::from_stored("the seller did not answer in time"),
            RulingReason::Arbitrator {
                text: "the seller did not answer in time".into()
            }
        );
    }
}
