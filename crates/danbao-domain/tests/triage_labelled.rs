//! Measures triage (预审) on a hand-labelled set of synthetic complaints
//! (tests/data/triage_labelled.toml): the share of proposals an arbitrator would accept,
//! with the records alone (triage before it read words and pictures) and with everything.
//! Run with `--nocapture` to see the figures and the misses.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use danbao_domain::complaint::{triage, ComplaintKind, ImageMatch, PartyText, Ruling, Side, TriageFacts};
use danbao_domain::RuleSet;
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Set {
    case: Vec<Case>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    kind: String,
    #[serde(default)]
    delivered: bool,
    #[serde(default)]
    revealed: bool,
    #[serde(default)]
    past_deadline: bool,
    evidence: Option<Vec<String>>,
    #[serde(default)]
    buyer: Vec<String>,
    #[serde(default)]
    seller: Vec<String>,
    image: Option<String>,
    #[serde(default)]
    other_seller: bool,
    expect: String,
}

/// The floor the share with words and pictures must stay above: measured at 65/73
/// (89.0 %; records alone 36/73, 49.3 %) when the set was written; a change that loses
/// more than two cases fails.
const ACCEPTED_FLOOR_PCT: f64 = 86.0;

fn facts(c: &Case, with_words: bool) -> TriageFacts {
    let party = |p: &str| match p {
        "buyer" => Side::Buyer,
        "seller" => Side::Seller,
        other => panic!("{}: image party {other}", c.name),
    };
    let mut texts: Vec<PartyText> = c
        .buyer
        .iter()
        .map(|t| PartyText {
            party: Side::Buyer,
            text: t.clone(),
        })
        .collect();
    texts.extend(c.seller.iter().map(|t| PartyText {
        party: Side::Seller,
        text: t.clone(),
    }));
    let evidence = c.evidence.clone().unwrap_or_else(|| {
        let mut e = Vec::new();
        if !c.buyer.is_empty() {
            e.push("description".to_string());
        }
        if !c.seller.is_empty() {
            e.push("seller_response".to_string());
        }
        e
    });
    TriageFacts {
        kind: ComplaintKind::parse(&c.kind).unwrap_or_else(|| panic!("{}: kind {}", c.name, c.kind)),
        delivery_recorded: c.delivered,
        delivery_revealed: c.revealed,
        seller_answered: !c.seller.is_empty(),
        past_delivery_deadline: c.past_deadline,
        evidence_kinds: evidence,
        texts: if with_words { texts } else { vec![] },
        image_matches: match (&c.image, with_words) {
            (Some(p), true) => vec![ImageMatch {
                party: party(p),
                other_complaint: "cmp_other".into(),
                other_seller: c.other_seller,
            }],
            _ => vec![],
        },
    }
}

fn accepted(expect: &str, proposal: Option<Ruling>) -> bool {
    matches!(
        (expect, proposal),
        ("needs_human", None)
            | ("refund_full", Some(Ruling::RefundFull))
            | ("release_to_seller", Some(Ruling::ReleaseToSeller))
            | ("split", Some(Ruling::Split { .. }))
            | ("redeliver", Some(Ruling::Redeliver { .. }))
    )
}

#[test]
fn triage_proposals_an_arbitrator_would_accept() {
    let set: Set = toml::from_str(include_str!("data/triage_labelled.toml")).unwrap();
    let rules = RuleSet::default_rules().unwrap();
    assert!(set.case.len() >= 60, "{} cases", set.case.len());
    let known = ["needs_human", "refund_full", "release_to_seller", "split", "redeliver"];
    let (mut before, mut after) = (0usize, 0usize);
    for c in &set.case {
        assert!(known.contains(&c.expect.as_str()), "{}: expect {}", c.name, c.expect);
        let records = triage(&facts(c, false), &rules);
        let full = triage(&facts(c, true), &rules);
        // Words never decide: a case is decided at once only as the records alone decide it.
        assert_eq!(full.decide_now, records.decide_now, "{}", c.name);
        before += usize::from(accepted(&c.expect, records.ruling));
        let ok = accepted(&c.expect, full.ruling);
        after += usize::from(ok);
        if !ok {
            println!(
                "miss: {} — expected {}, proposed {:?}; reasons {:?}",
                c.name, c.expect, full.ruling, full.reasons
            );
        }
    }
    let n = set.case.len();
    let pct = |k: usize| k as f64 * 100.0 / n as f64;
    println!(
        "triage accepted: records only {before}/{n} ({:.1} %), with words and pictures {after}/{n} ({:.1} %)",
        pct(before),
        pct(after)
    );
    assert!(after > before, "reading the words should help: {after} vs {before}");
    assert!(
        pct(after) >= ACCEPTED_FLOOR_PCT,
        "{:.1} % < {ACCEPTED_FLOOR_PCT} %",
        pct(after)
    );
}
