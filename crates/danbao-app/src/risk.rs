//! Risk control at checkout (SPEC §8, 二次验证): the figures an order is scored from, read
//! in the checkout's transaction; the score kept on the order; the buyer's second
//! confirmation of a `step_up` order, without which its cashier never opens.

use crate::auth::Caller;
use crate::evidence::record_event;
use crate::orders::{PaymentInfo, PlacedOrder};
use crate::{App, AppError, AppResult};
use danbao_domain::order::Party;
use danbao_domain::risk::{assess, RiskAssessment, RiskFactors, RiskLevel, RiskReason};
use danbao_domain::{OrderStatus, Refusal, RuleSet, UserId};
use danbao_store::{HoldKey, OrderRiskRow, ProductRow, Tx};
use serde::Serialize;

/// An order's risk as its buyer and clients see it (`risk` on order responses).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RiskView {
    /// `low`, `warn`, `step_up` or `block`.
    pub level: &'static str,
    /// Why, in words for people (the HTTP edge renders them in the reader's language).
    pub reasons: Vec<String>,
    /// The same reasons as stable identifiers: `new_seller`, `complaint_rate`,
    /// `price_below_median`, `buyer_velocity`, `large_amount`.
    pub reason_codes: Vec<&'static str>,
    pub score: i64,
    /// A `step_up` order whose buyer has not yet confirmed it: its cashier opens only
    /// after `POST /api/v1/orders/{id}/confirm-risk`.
    pub confirmation_required: bool,
    /// The reasons with their figures, for the edge to put into words.
    #[serde(skip)]
    #[schema(ignore)]
    pub details: Vec<RiskReason>,
}

impl RiskView {
    pub fn new(a: &RiskAssessment, confirmed: bool) -> RiskView {
        RiskView {
            level: a.level.as_str(),
            reasons: a.reasons.iter().map(ToString::to_string).collect(),
            reason_codes: a.reasons.iter().map(RiskReason::code).collect(),
            score: a.score,
            confirmation_required: a.level == RiskLevel::StepUp && !confirmed,
            details: a.reasons.clone(),
        }
    }

    pub(crate) fn from_row(row: &OrderRiskRow) -> RiskView {
        let stored = stored_assessment(row);
        RiskView::new(&stored, row.confirmed_at.is_some())
    }
}

/// The assessment kept on an order. A value the code cannot read back (written by a later
/// version) shows as its level with no reasons rather than failing the order's page.
pub(crate) fn stored_assessment(row: &OrderRiskRow) -> RiskAssessment {
    let reasons: Vec<RiskReason> = serde_json::from_str(&row.reasons).unwrap_or_else(|e| {
        tracing::warn!(error = %e, "stored risk reasons do not parse");
        Vec::new()
    });
    RiskAssessment {
        level: RiskLevel::parse(&row.level).unwrap_or(RiskLevel::Low),
        score: row.score,
        reasons,
    }
}

/// What the arbitrator sees of an order's risk: the assessment and the figures it came from.
#[derive(Debug, Clone, Serialize)]
pub struct RiskRecord {
    pub assessment: RiskAssessment,
    pub factors: Option<RiskFactors>,
    pub confirmed_at: Option<i64>,
}

/// Whether a stored order still waits for its buyer's second confirmation.
pub(crate) fn awaiting_confirmation(row: Option<&OrderRiskRow>) -> bool {
    row.is_some_and(|r| r.level == RiskLevel::StepUp.as_str() && r.confirmed_at.is_none())
}

/// Reads the figures for one checkout and scores it, in the checkout's transaction,
/// before the order is written (so the buyer's own count does not include it).
pub(crate) async fn assess_checkout(
    tx: &mut Tx,
    rules: &RuleSet,
    product: &ProductRow,
    buyer: HoldKey<'_>,
    amount_minor: i64,
    now: i64,
) -> AppResult<(RiskAssessment, RiskFactors)> {
    let r = &rules.risk;
    let seller_created = tx
        .user_by_id(&product.seller_id)
        .await?
        .map(|u| u.created_at)
        .ok_or_else(|| AppError::Internal(format!("product {} has no seller", product.id)))?;
    let (paid, complained) = tx
        .seller_recent_complaints(&product.seller_id, r.complaint_rate_orders)
        .await?;
    let (listings, median) = tx.category_median_price(&product.category, &product.seller_id).await?;
    let since = now.saturating_sub(r.velocity_window_minutes.saturating_mul(60_000));
    let recent = tx.orders_placed_since(buyer, since).await?;
    let factors = RiskFactors {
        seller_age_ms: now.saturating_sub(seller_created),
        seller_recent_paid_orders: paid,
        seller_recent_complained_orders: complained,
        unit_price_minor: product.price.minor(),
        category_median_minor: median,
        category_listings: listings,
        buyer_recent_orders: recent,
        amount_minor,
    };
    Ok((assess(&factors, r), factors))
}

/// The row to keep on a new order.
pub(crate) fn risk_row(a: &RiskAssessment, f: &RiskFactors) -> AppResult<OrderRiskRow> {
    Ok(OrderRiskRow {
        level: a.level.as_str().to_string(),
        score: a.score,
        reasons: serde_json::to_string(&a.reasons).map_err(|e| AppError::Internal(e.to_string()))?,
        factors: Some(serde_json::to_string(f).map_err(|e| AppError::Internal(e.to_string()))?),
        confirmed_at: None,
    })
}

/// A refusal for an order risk control blocks.
pub(crate) fn blocked(a: &RiskAssessment) -> AppError {
    Refusal::RiskBlocked {
        score: a.score,
        reasons: a.reasons.clone(),
    }
    .into()
}

impl App {
    /// 二次验证: the buyer of a `step_up` order confirms it once more, and only then is its
    /// payment started and its cashier returned. Confirming again (a retry, a second tab)
    /// gives the cashier already opened. An order that needs no confirmation answers with
    /// its cashier as it is.
    pub async fn confirm_risk(&self, caller: &Caller, id: &str) -> AppResult<PlacedOrder> {
        let now = self.now();
        let mut tx = self.store.begin().await?;
        let (order, party) = self.order_for(&mut tx, caller, id, true).await?;
        if party != Party::Buyer {
            return Err(AppError::NotFound("order"));
        }
        if order.status != OrderStatus::PendingPayment {
            return Err(Refusal::NoPaymentExpected { status: order.status }.into());
        }
        let risk = tx.order_risk(&order.id).await?;
        let newly_confirmed = awaiting_confirmation(risk.as_ref());
        if newly_confirmed {
            tx.confirm_order_risk(&order.id, now).await?;
            record_event(&mut tx, &order.id, "risk_confirmed", serde_json::json!({}), now).await?;
        }
        let last = tx.payment_attempt_for_order(&order.id).await?;
        tx.commit().await?;
        let payment = match last.and_then(|a| {
            Some(PaymentInfo {
                provider: a.provider,
                payment_id: a.provider_payment_id?,
                cashier_url: a.cashier_url?,
            })
        }) {
            Some(p) => Some(p),
            None => Some(self.new_payment_attempt(caller, order.id.as_str()).await?),
        };
        let mut tx = self.store.begin_read().await?;
        let risk = tx.order_risk(&order.id).await?;
        tx.commit().await?;
        Ok(PlacedOrder {
            id: order.id.to_string(),
            number: order.number,
            status: order.status,
            amount_minor: order.amount.minor(),
            currency: order.currency,
            rule_version: order.rule_version,
            payment,
            risk: risk
                .as_ref()
                .map_or_else(|| RiskView::new(&RiskAssessment::low(), true), RiskView::from_row),
            access_token: None,
        })
    }

    /// What risk control would say of buying one unit of a listed product, before the buyer
    /// is known (their own pace is not counted): the product page warns with it.
    pub async fn risk_preview(&self, product_id: &str) -> AppResult<RiskAssessment> {
        let id = danbao_domain::ProductId::parse(product_id).ok_or(AppError::NotFound("product"))?;
        let rules = self.current_rules();
        let mut tx = self.store.begin_read().await?;
        let product = tx.product(&id, false).await?.ok_or(AppError::NotFound("product"))?;
        let (assessment, _) = assess_checkout(
            &mut tx,
            &rules,
            &product,
            HoldKey::Everyone,
            product.price.minor(),
            self.now(),
        )
        .await?;
        tx.commit().await?;
        Ok(assessment)
    }

    /// How the complaint's order was scored at checkout, and the figures behind it, for
    /// the arbitrator's case view (staff only).
    pub async fn case_order_risk(&self, caller: &Caller, complaint_id: &str) -> AppResult<Option<RiskRecord>> {
        crate::complaints::require_staff(caller)?;
        let c = self.complaint(caller, complaint_id).await?;
        let order = danbao_domain::OrderId::parse(&c.order_id).ok_or(AppError::NotFound("order"))?;
        let mut tx = self.store.begin_read().await?;
        let row = tx.order_risk(&order).await?;
        tx.commit().await?;
        Ok(row.map(|r| RiskRecord {
            assessment: stored_assessment(&r),
            factors: r.factors.as_deref().and_then(|f| serde_json::from_str(f).ok()),
            confirmed_at: r.confirmed_at,
        }))
    }
}

/// The buyer's key for velocity: their account, or a guest's normalised contact.
pub(crate) fn buyer_key<'a>(buyer: Option<&'a UserId>, contact: &'a str) -> HoldKey<'a> {
    match buyer {
        Some(id) => HoldKey::Buyer(id),
        None => HoldKey::Contact(contact),
    }
}
