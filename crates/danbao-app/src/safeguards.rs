//! Money and access safeguards (issue 8 items 3 and 4): the seller's rolling reserve,
//! the collective-complaint rule counted by real payers and money at stake with a
//! person's review of every automatic freeze, and the refusal of self-purchase.
//!
//! The decisions are the domain's (`danbao_domain::collective`, the posting rules and the
//! rule set's windows); this file gathers their inputs and carries them out.

use crate::auth::{Role, User};
use crate::jobs::Job;
use crate::{App, AppError, AppResult};
use danbao_domain::collective::{self, normalise_contact, Complainant, SellerIdentity};
use danbao_domain::ledger::rules as posting;
use danbao_domain::{Account, ComplaintId, Money, OrderId, Refusal, StandingChange, UserId};
use danbao_store::{CollectiveReviewRow, ComplaintRow, Tx};
use serde::Serialize;

/// Identity strings from a provider are identifiers; anything longer is not one we keep.
const PAYER_ID_LEN_MAX: usize = 128;
const CONTACT_LEN_MIN: usize = 3;
const CONTACT_LEN_MAX: usize = 64;

/// An automatic freeze's review, as staff see it beside each case of its group.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CollectiveReviewView {
    /// `pending` (waiting for an arbitrator), `escalated` (its deadline passed unreviewed:
    /// an admin event; the freeze stays), `kept`, `lifted` or `banned`.
    pub status: String,
    pub review_due_at: String,
    /// Distinct people behind the complaints, and the money they put in dispute.
    pub people: i64,
    pub amount_minor: i64,
    pub decided_by: Option<String>,
}

impl From<CollectiveReviewRow> for CollectiveReviewView {
    fn from(r: CollectiveReviewRow) -> Self {
        CollectiveReviewView {
            status: r.status,
            review_due_at: crate::clock::rfc3339(r.review_due_at),
            people: r.people,
            amount_minor: r.amount.minor(),
            decided_by: r.decided_by,
        }
    }
}

/// Account references are identifiers, not prose.
fn is_identifier(text: &str) -> bool {
    text.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A payer identity as the provider reported it, if it is one.
pub(crate) fn payer_identity(payer: Option<&str>) -> Option<&str> {
    payer.filter(|p| !p.trim().is_empty() && p.len() <= PAYER_ID_LEN_MAX)
}

impl App {
    // ---- the rolling reserve ----

    /// What an order's release still holds in the seller's reserve, from the ledger.
    pub(crate) async fn order_reserve(&self, tx: &mut Tx, order: &OrderId, seller: &UserId) -> AppResult<Money> {
        let account = Account::Reserve(seller.clone());
        let raw = tx.order_account_sum(order, &account).await?;
        Ok(Money::from_minor(account.normal_balance(raw).max(0)))
    }

    /// Schedules the end of an order's reserve: at its completion plus the longest
    /// after-sales window of its rule set (never in the past).
    pub(crate) async fn schedule_reserve_release(
        &self,
        tx: &mut Tx,
        order: &OrderId,
        completed_at: i64,
        reserve_ms: i64,
        now: i64,
    ) -> AppResult<()> {
        let at = completed_at.saturating_add(reserve_ms).max(now);
        Job::ReleaseReserve(order.clone()).enqueue_at(tx, at, now).await
    }

    /// The job at the end of an order's after-sales window: whatever the order still
    /// holds in the reserve becomes the seller's available balance (held at once if the
    /// seller is frozen). A complaint open now holds that money in frozen; if it is
    /// withdrawn, the reserve comes back and this job is scheduled again. Retried whole
    /// if the database aborts it.
    pub(crate) async fn release_reserve(&self, id: &OrderId) -> AppResult<()> {
        self.retrying(|| self.release_reserve_once(id)).await
    }

    async fn release_reserve_once(&self, id: &OrderId) -> AppResult<()> {
        let now = self.now();
        let mut tx = self.store.begin().await?;
        // The seller's standing first: it decides whether the money is held.
        let Some(order) = self.lock_order(&mut tx, id).await? else {
            return Ok(());
        };
        let rules = self.rules_version(&mut tx, order.rule_version).await?;
        let due = order.completed_at.map(|c| c.saturating_add(rules.reserve_ms()));
        if due.is_none_or(|d| d > now) {
            // Not yet (or never completed): the job for the real time is queued.
            return Ok(());
        }
        let amount = self.order_reserve(&mut tx, &order.id, &order.seller_id).await?;
        if amount.is_positive() {
            tx.post_entry(&posting::reserve_release(&order.id, &order.seller_id, amount)?, now)
                .await?;
            self.hold_release_if_frozen(&mut tx, &order.seller_id, amount, now)
                .await?;
            self.repay_receivable(&mut tx, &order.seller_id, now).await?;
            crate::evidence::record_event(
                &mut tx,
                &order.id,
                "reserve_released",
                serde_json::json!({"amount_minor": amount.minor()}),
                now,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    // ---- the collective-complaint rule ----

    /// Distinct real people (payers, contacts, accounts of age) with not_delivered or
    /// fraud complaints against one seller within the window, and enough money in
    /// dispute: the seller is frozen, the cases grouped for one arbitrator, and the
    /// freeze put before a person by a deadline (`collective_review_hours`).
    pub(crate) async fn collective_rule(&self, tx: &mut Tx, c: &mut ComplaintRow, now: i64) -> AppResult<()> {
        let rules = self.current_rules();
        let mut rows = tx
            .collective_complainants(&c.seller_id, now - rules.collective_window_ms())
            .await?;
        // Complaints a person has already reviewed (kept, lifted, banned) were weighed
        // then; counting them again would re-freeze a seller an arbitrator just cleared.
        let groups: Vec<String> = rows.iter().filter_map(|r| r.group_id.clone()).collect();
        let reviews = self.collective_reviews_of(tx, groups).await?;
        rows.retain(|r| {
            r.group_id
                .as_ref()
                .and_then(|g| reviews.get(g))
                .is_none_or(|v| matches!(v.status.as_str(), "pending" | "escalated"))
        });
        let complainants: Vec<Complainant> = rows
            .iter()
            .map(|r| Complainant {
                payer_id: payer_identity(r.payer_id.as_deref()).map(str::to_string),
                contact: r.guest_contact.clone(),
                account: r.buyer_id.clone().zip(r.account_created_at),
                amount: r.amount,
            })
            .collect();
        let verdict = collective::decide(&complainants, &rules, now);
        if !verdict.trips {
            return Ok(());
        }
        let first: &ComplaintId = rows.first().map_or(&c.id, |r| &r.complaint_id);
        let group = format!("collective:{}:{}", c.seller_id, first);
        for r in &rows {
            if r.complaint_id == c.id {
                c.group_id = Some(group.clone());
                c.updated_at = now;
                tx.update_complaint(c).await?;
            } else if let Some(mut x) = tx.complaint(&r.complaint_id, true).await? {
                let open = danbao_domain::complaint::Stage::parse(&x.stage).is_some_and(|s| s.is_open());
                if open && x.group_id.is_none() {
                    x.group_id = Some(group.clone());
                    x.updated_at = now;
                    tx.update_complaint(&x).await?;
                }
            }
        }
        let reason = format!(
            "collective complaints: {} people, {} fen in dispute within {} h",
            verdict.people,
            verdict.amount.minor(),
            rules.complaints.collective_window_hours
        );
        self.freeze_seller_in(tx, &c.seller_id, &reason, now).await?;
        // One review per freeze: a seller already awaiting one is not put in the queue twice.
        if tx.undecided_collective_reviews(Some(&c.seller_id)).await?.is_empty() {
            let due = now.saturating_add(rules.collective_review_ms());
            tx.insert_collective_review(&CollectiveReviewRow {
                group_id: group.clone(),
                seller_id: c.seller_id.clone(),
                people: verdict.people,
                amount: verdict.amount,
                opened_at: now,
                review_due_at: due,
                status: "pending".into(),
                decided_by: None,
                decided_at: None,
            })
            .await?;
            Job::CollectiveReviewDue(group).enqueue_at(tx, due, now).await?;
        }
        Ok(())
    }

    /// Nobody reviewed an automatic freeze in time: it is escalated to the admins as a
    /// security event, and the freeze stays — it only stops money leaving the seller,
    /// so waiting harms no buyer. The review stays in the queue, marked escalated.
    pub(crate) async fn collective_review_due(&self, group: &str) -> AppResult<()> {
        self.retrying(|| self.collective_review_due_once(group)).await
    }

    async fn collective_review_due_once(&self, group: &str) -> AppResult<()> {
        let now = self.now();
        let mut tx = self.store.begin().await?;
        let Some(review) = tx.collective_review(group, true).await? else {
            return Ok(());
        };
        if review.status != "pending" || review.review_due_at > now {
            return Ok(());
        }
        tx.set_collective_review_status(group, "escalated", None, None).await?;
        tx.insert_security_event(
            "collective_freeze_unreviewed",
            &serde_json::json!({"group_id": group, "seller_id": review.seller_id, "review_due_at": review.review_due_at})
                .to_string(),
            now,
        )
        .await?;
        tracing::warn!(group, seller = %review.seller_id, "an automatic freeze was not reviewed in time; escalated to admins");
        tx.commit().await?;
        Ok(())
    }

    /// A person decided on a frozen seller: every review waiting on that seller is
    /// settled by it (a freeze confirmed keeps it, an unfreeze lifts it, a ban bans).
    pub(crate) async fn settle_collective_reviews(
        &self,
        tx: &mut Tx,
        seller: &UserId,
        change: StandingChange,
        by: &str,
        now: i64,
    ) -> AppResult<()> {
        let status = match change {
            StandingChange::Freeze => "kept",
            StandingChange::Unfreeze => "lifted",
            StandingChange::Ban => "banned",
        };
        for r in tx.undecided_collective_reviews(Some(seller)).await? {
            tx.set_collective_review_status(&r.group_id, status, Some(by), Some(now))
                .await?;
        }
        Ok(())
    }

    /// Reviews of the given groups, for the arbitrator's views.
    pub(crate) async fn collective_reviews_of(
        &self,
        tx: &mut Tx,
        groups: Vec<String>,
    ) -> AppResult<std::collections::BTreeMap<String, CollectiveReviewView>> {
        let mut out = std::collections::BTreeMap::new();
        for g in groups {
            if out.contains_key(&g) {
                continue;
            }
            if let Some(r) = tx.collective_review(&g, false).await? {
                out.insert(g, r.into());
            }
        }
        Ok(out)
    }

    // ---- self-purchase ----

    /// A buyer giving the seller's own registered contact (as a guest, or on their
    /// account) is the seller buying from themselves: refused before anything is reserved.
    pub(crate) async fn refuse_self_purchase(
        &self,
        tx: &mut Tx,
        seller: &UserId,
        buyer: Option<&User>,
        guest_contact: Option<&str>,
    ) -> AppResult<()> {
        let me = self.seller_identity(tx, seller).await?;
        if me.contact.is_none() {
            return Ok(());
        }
        let buyer_contact = match buyer {
            Some(b) => tx.user_contact(&b.id).await?,
            None => None,
        };
        let given = guest_contact.map(str::to_string).or(buyer_contact);
        if given.as_deref().is_some_and(|c| me.owns_contact(c)) {
            return Err(Refusal::SelfPurchase.into());
        }
        Ok(())
    }

    /// What identifies a seller when they pose as a buyer.
    pub(crate) async fn seller_identity(&self, tx: &mut Tx, seller: &UserId) -> AppResult<SellerIdentity> {
        Ok(SellerIdentity {
            contact: tx.user_contact(seller).await?,
            payout_account: tx.user_payout_account(seller).await?,
        })
    }

    /// Where a seller's withdrawals are paid: the payout account they registered, or
    /// (none registered) the platform's reference for them at the provider.
    pub(crate) async fn payout_account_of(&self, seller: &UserId) -> AppResult<String> {
        let mut tx = self.store.begin().await?;
        let account = tx.user_payout_account(seller).await?;
        tx.commit().await?;
        Ok(account.unwrap_or_else(|| format!("seller:{seller}")))
    }

    /// Registers an account with a contact (QQ, phone, e-mail) and, for a seller, the
    /// payout account (their wallet at the provider, where withdrawals go). Both identify
    /// a seller who tries to buy from their own shop: the contact at checkout, the payout
    /// account when its payment arrives.
    pub async fn register_with_identity(
        &self,
        origin: &crate::limits::Origin,
        username: &str,
        password: &str,
        role: Role,
        contact: Option<&str>,
        payout_account: Option<&str>,
    ) -> AppResult<User> {
        let payout_account = match payout_account {
            None | Some("") => None,
            Some(a) if role == Role::Seller && payer_identity(Some(a)).is_some() && is_identifier(a) => {
                Some(a.to_string())
            }
            Some(_) => {
                return Err(AppError::invalid(
                    "payout_account",
                    "a seller's account id at the provider: letters, digits, '-' or '_'",
                ))
            }
        };
        let contact = match contact.map(str::trim) {
            None | Some("") => None,
            Some(c) => {
                let n = c.chars().count();
                if !(CONTACT_LEN_MIN..=CONTACT_LEN_MAX).contains(&n) {
                    return Err(AppError::invalid(
                        "contact",
                        crate::Invalid::Length {
                            min: CONTACT_LEN_MIN,
                            max: CONTACT_LEN_MAX,
                        },
                    ));
                }
                Some(normalise_contact(c))
            }
        };
        let user = self.register(origin, username, password, role).await?;
        if contact.is_some() || payout_account.is_some() {
            let mut tx = self.store.begin().await?;
            if let Some(c) = contact {
                tx.set_user_contact(&user.id, &c).await?;
            }
            if let Some(a) = payout_account {
                tx.set_user_payout_account(&user.id, &a).await?;
            }
            tx.commit().await?;
        }
        Ok(user)
    }
}
