//! Who is really complaining (SPEC §6, collective complaints; issue 8 items 3 and 4).
//!
//! The collective-complaint rule freezes a seller when enough distinct people complain
//! within a window. "Distinct people" cannot mean distinct orders or distinct guest
//! contacts: one person can place five ¥1 guest orders with five contacts. So a complaint
//! is tied to the identities behind it — the payment provider's payer identity (Alipay
//! `buyer_id`, WeChat `openid`, the sandbox's wallet), the normalised contact, and the
//! account when it is old enough to be worth something — and complaints that share any
//! identity are one person. The rule also weighs the money at stake.
//!
//! A contact also tells when a buyer is the seller themselves (self-purchase).

use crate::rules::RuleSet;
use crate::{Money, TimestampMs, UserId};
use std::collections::BTreeMap;

/// A contact as people type it, in the one form it is compared in: case folded and
/// every whitespace character removed ("QQ: 10001 " and "qq:10001" are one contact).
pub fn normalise_contact(contact: &str) -> String {
    contact
        .chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect()
}

/// One complaint counted by the collective rule, with what is known of who made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Complainant {
    /// The payer identity the provider reported for the order's captured payment.
    pub payer_id: Option<String>,
    /// The guest's contact as given at checkout (normalised here).
    pub contact: Option<String>,
    /// The buyer's account and when it was created.
    pub account: Option<(UserId, TimestampMs)>,
    /// The money in dispute: the complaint's amount.
    pub amount: Money,
}

/// What the collective rule concluded, with its figures (they go into the freeze's
/// reason and the case's record).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CollectiveVerdict {
    /// Distinct people among the complainants (complaints sharing an identity are one).
    pub people: i64,
    /// The money in dispute across the complaints that counted.
    pub amount: Money,
    pub trips: bool,
}

/// The identities of one complaint that may tie it to others. An account younger than
/// the rule set's age is no identity of its own (accounts are free to make); a contact or
/// payer id still is.
fn identities(c: &Complainant, rules: &RuleSet, now: TimestampMs) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(p) = c.payer_id.as_deref().filter(|p| !p.trim().is_empty()) {
        out.push(format!("payer:{p}"));
    }
    if let Some(contact) = c.contact.as_deref().map(normalise_contact).filter(|c| !c.is_empty()) {
        out.push(format!("contact:{contact}"));
    }
    if let Some((id, created_at)) = &c.account {
        if now.saturating_sub(*created_at) >= rules.collective_account_age_ms() {
            out.push(format!("account:{id}"));
        }
    }
    out
}

/// Does this set of complaints (one seller's not_delivered and fraud complaints within
/// the rule set's window) trip the collective rule? It needs at least
/// `collective_buyers` distinct people AND at least `collective_amount_minor_min` in
/// dispute. A complaint with no identity at all (a young account whose payment carried
/// no payer id) counts for nothing.
pub fn decide(complaints: &[Complainant], rules: &RuleSet, now: TimestampMs) -> CollectiveVerdict {
    // Union-find over complaints: two complaints sharing any identity are one person.
    let mut parent: Vec<usize> = (0..complaints.len()).collect();
    fn root(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    let mut first_seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut counted = vec![false; complaints.len()];
    for (i, c) in complaints.iter().enumerate() {
        for identity in identities(c, rules, now) {
            counted[i] = true;
            match first_seen.get(&identity) {
                Some(&j) => {
                    let (a, b) = (root(&mut parent, i), root(&mut parent, j));
                    parent[a] = b;
                }
                None => {
                    first_seen.insert(identity, i);
                }
            }
        }
    }
    let mut people = std::collections::BTreeSet::new();
    let mut amount = Money::ZERO;
    for (i, c) in complaints.iter().enumerate() {
        if counted[i] {
            people.insert(root(&mut parent, i));
            amount = amount.checked_add(c.amount).unwrap_or(Money::from_minor(i64::MAX));
        }
    }
    let people = i64::try_from(people.len()).unwrap_or(i64::MAX);
    CollectiveVerdict {
        people,
        amount,
        trips: people >= rules.complaints.collective_buyers
            && amount.minor() >= rules.complaints.collective_amount_minor_min,
    }
}

/// What identifies a seller as a buyer: the contact they registered (checked at
/// checkout), and the payout account they registered — their own wallet at the provider,
/// where withdrawals go, in the same identity space as a payer id (on Alipay both are the
/// user's 2088… id). A payer is known only when the payment arrives, so that check is
/// made then.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SellerIdentity {
    pub contact: Option<String>,
    pub payout_account: Option<String>,
}

impl SellerIdentity {
    /// A buyer giving the seller's own contact is the seller buying from themselves
    /// (to launder money through the escrow, or to inflate sales).
    pub fn owns_contact(&self, contact: &str) -> bool {
        let given = normalise_contact(contact);
        !given.is_empty() && self.contact.as_deref().map(normalise_contact).as_deref() == Some(given.as_str())
    }

    /// A payment from the seller's own payout account.
    pub fn owns_payer(&self, payer_id: &str) -> bool {
        !payer_id.trim().is_empty() && self.payout_account.as_deref() == Some(payer_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: TimestampMs = 1_800_000_000_000;
    const DAY_MS: i64 = 86_400_000;

    fn rules() -> RuleSet {
        RuleSet::default_rules().unwrap_or_else(|e| panic!("{e}"))
    }

    fn guest(payer: &str, contact: &str, amount: i64) -> Complainant {
        Complainant {
            payer_id: Some(payer.into()),
            contact: Some(contact.into()),
            account: None,
            amount: Money::from_minor(amount),
        }
    }

    fn account(id: u8, age_days: i64, payer: Option<&str>, amount: i64) -> Complainant {
        Complainant {
            payer_id: payer.map(str::to_string),
            contact: None,
            account: Some((
                UserId::from_trusted(format!("0190a000-0000-7000-8000-0000000000{id:02}")),
                NOW - age_days * DAY_MS,
            )),
            amount: Money::from_minor(amount),
        }
    }

    fn check(complaints: &[Complainant], people: i64, amount: i64, trips: bool) {
        let v = decide(complaints, &rules(), NOW);
        assert_eq!(
            v,
            CollectiveVerdict {
                people,
                amount: Money::from_minor(amount),
                trips
            },
            "{complaints:?}"
        );
    }

    #[test]
    fn one_payer_with_five_contacts_is_one_person() {
        let five: Vec<_> = (0..5).map(|i| guest("wallet-a", &format!("qq:{i}"), 100)).collect();
        check(&five, 1, 500, false);
        // Even with real money at stake, one person is one person.
        let five_big: Vec<_> = (0..5).map(|i| guest("wallet-a", &format!("qq:{i}"), 10_000)).collect();
        check(&five_big, 1, 50_000, false);
    }

    #[test]
    fn five_payers_need_the_money_threshold_too() {
        let cheap: Vec<_> = (0..5)
            .map(|i| guest(&format!("w{i}"), &format!("qq:{i}"), 100))
            .collect();
        check(&cheap, 5, 500, false);
        let enough: Vec<_> = (0..5)
            .map(|i| guest(&format!("w{i}"), &format!("qq:{i}"), 2_000))
            .collect();
        check(&enough, 5, 10_000, true);
        let just_short: Vec<_> = (0..5)
            .map(|i| guest(&format!("w{i}"), &format!("qq:{i}"), if i == 0 { 1_999 } else { 2_000 }))
            .collect();
        check(&just_short, 5, 9_999, false);
        check(&enough[..4], 4, 8_000, false);
    }

    #[test]
    fn a_shared_contact_joins_different_payers() {
        // Five wallets, but the same contact typed five ways: one person.
        let v: Vec<_> = ["QQ:1", "qq:1", " qq: 1", "Qq :1", "qq:1\t"]
            .iter()
            .enumerate()
            .map(|(i, c)| guest(&format!("w{i}"), c, 5_000))
            .collect();
        check(&v, 1, 25_000, false);
        // A chain: a–b share a payer, b–c share a contact: all three are one.
        let chain = vec![
            guest("w1", "qq:1", 5_000),
            guest("w1", "qq:2", 5_000),
            guest("w2", "qq:2", 5_000),
            guest("w3", "qq:3", 5_000),
        ];
        check(&chain, 2, 20_000, false);
    }

    #[test]
    fn young_accounts_count_only_through_their_payer() {
        // Five fresh accounts paying with no payer identity: nobody counts.
        let fresh: Vec<_> = (0..5).map(|i| account(i, 1, None, 5_000)).collect();
        check(&fresh, 0, 0, false);
        // Five fresh accounts paying from one wallet: one person.
        let one_wallet: Vec<_> = (0..5).map(|i| account(i, 1, Some("w"), 5_000)).collect();
        check(&one_wallet, 1, 25_000, false);
        // Five accounts old enough, no payer ids: five people.
        let old: Vec<_> = (0..5).map(|i| account(i, 30, None, 5_000)).collect();
        check(&old, 5, 25_000, true);
        // One old account complaining five times is one person.
        let same: Vec<_> = (0..5).map(|_| account(7, 365, None, 5_000)).collect();
        check(&same, 1, 25_000, false);
        // An account one millisecond short of the age does not count.
        let mut almost = account(1, 30, None, 5_000);
        almost.account = almost.account.map(|(id, at)| (id, at + 1));
        check(&[almost], 0, 0, false);
    }

    #[test]
    fn blank_identities_are_no_identity() {
        let blank = Complainant {
            payer_id: Some("  ".into()),
            contact: Some(" ".into()),
            account: None,
            amount: Money::from_minor(50_000),
        };
        check(&[blank.clone(), blank], 0, 0, false);
        check(&[], 0, 0, false);
    }

    #[test]
    fn the_thresholds_come_from_the_rule_set() {
        let mut r = rules();
        r.complaints.collective_buyers = 2;
        r.complaints.collective_amount_minor_min = 200;
        let two = vec![guest("w1", "qq:1", 100), guest("w2", "qq:2", 100)];
        assert!(decide(&two, &r, NOW).trips);
        r.complaints.collective_amount_minor_min = 201;
        assert!(!decide(&two, &r, NOW).trips);
    }

    #[test]
    fn contacts_are_normalised_for_comparison() {
        assert_eq!(normalise_contact(" QQ: 10001\n"), "qq:10001");
        assert_eq!(normalise_contact("Alice@Example.COM"), "alice@example.com");
        assert_ne!(normalise_contact("qq:10001"), normalise_contact("qq:10002"));
        assert_eq!(normalise_contact("   "), "");
    }

    #[test]
    fn a_seller_is_known_by_contact_and_payout_account() {
        let me = SellerIdentity {
            contact: Some("QQ:777".into()),
            payout_account: Some("wallet-seller".into()),
        };
        assert!(me.owns_contact("qq: 777"));
        assert!(me.owns_contact(" Qq:777 "));
        assert!(!me.owns_contact("qq:778"));
        assert!(!me.owns_contact("  "));
        assert!(me.owns_payer("wallet-seller"));
        assert!(!me.owns_payer("wallet-buyer"));
        assert!(!me.owns_payer(" "));
        let nobody = SellerIdentity::default();
        assert!(!nobody.owns_contact("qq:777"));
        assert!(!nobody.owns_payer("wallet-seller"));
    }
}
