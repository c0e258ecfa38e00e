//! The storefront: the product list, a product page and guest checkout.

use super::error::PageError;
use super::forms::PageContext;
use super::i18n::{Lang, Ui};
use super::labels::{category, kind_label, payment_method, percent};
use super::{pay_address, private_headers, yuan};
use crate::extract::ClientOrigin;
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Extension, Form, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use danbao_app::trust::SellerTrust;
use danbao_app::{App, Caller, PlaceOrder, ProductView};
use std::collections::{BTreeMap, HashMap};

/// Form fields that carry a manual product's delivery fields are named `field_<name>`.
const FIELD_PREFIX: &str = "field_";

struct ProductItem {
    id: String,
    title: String,
    description: String,
    category: String,
    price: String,
    kind_label: &'static str,
    stock: Option<i64>,
    sold_out: bool,
}

impl ProductItem {
    fn new(l: Lang, p: &ProductView) -> ProductItem {
        ProductItem {
            id: p.id.clone(),
            title: p.title.clone(),
            description: p.description.clone(),
            category: category(l, &p.category),
            price: yuan(p.price_minor),
            kind_label: kind_label(l, &p.delivery_kind),
            stock: p.stock,
            sold_out: p.stock.is_some_and(|n| n <= 0),
        }
    }
}

/// The seller's public figures as the product page shows them.
struct TrustView {
    member_since: String,
    days_on_platform: i64,
    deposit: String,
    has_deposit: bool,
    paid_orders: i64,
    completed_orders: i64,
    complaints: i64,
    /// "25%", or `None` before the first paid order.
    complaint_rate: Option<String>,
}

impl TrustView {
    fn new(t: &SellerTrust) -> TrustView {
        TrustView {
            member_since: super::labels::date(t.member_since_ms),
            days_on_platform: t.days_on_platform,
            deposit: yuan(t.deposit_minor),
            has_deposit: t.deposit_minor > 0,
            paid_orders: t.paid_orders,
            completed_orders: t.completed_orders,
            complaints: t.complaints,
            complaint_rate: t.complaint_rate_bps().map(percent),
        }
    }
}

struct MethodChoice {
    id: String,
    label: String,
    checked: bool,
}

struct FieldInput {
    label: String,
    input_name: String,
    value: String,
    /// What is wrong with what was typed here, shown beside it.
    error: Option<String>,
}

/// A refusal about one field of the form, shown beside that field.
struct FieldError {
    field: String,
    message: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "product.html")]
struct ProductPage {
    product: ProductItem,
    trust: TrustView,
    methods: Vec<MethodChoice>,
    rules_version: i64,
    /// Risk control's warnings about this listing (SPEC §8), shown before buying.
    risk_warnings: Vec<String>,
    /// Buying it will ask for a second confirmation before the cashier opens.
    risk_step_up: bool,
    fields: Vec<FieldInput>,
    quantity: String,
    contact: String,
    /// A refusal not about one field (out of stock, a limit), shown above the form.
    error: Option<String>,
    field_error: Option<FieldError>,
    csrf: String,
    w: Ui,
}

/// What the product page shows besides the product: read before the form is handled, so
/// that a refused purchase shows the same page again.
struct Surroundings {
    trust: SellerTrust,
    methods: Vec<String>,
    rules_version: i64,
    risk: danbao_domain::risk::RiskAssessment,
}

async fn surroundings(app: &App, p: &ProductView) -> Result<Surroundings, PageError> {
    Ok(Surroundings {
        trust: app.seller_trust(&p.seller_id).await?,
        methods: app.payment_methods().into_iter().map(|m| m.id).collect(),
        rules_version: app.current_rules().version,
        risk: app.risk_preview(&p.id).await?,
    })
}

fn product_page_for(
    p: &ProductView,
    around: &Surroundings,
    values: &HashMap<String, String>,
    error: Option<&PageError>,
    page: &PageContext,
) -> ProductPage {
    let w = &page.ui;
    let l = w.lang();
    let message = error.map(|e| e.message_in(w));
    // A problem with one field goes beside it (a manual product's own fields too); the
    // rest above the form.
    let shown = |field: &str| {
        matches!(field, "quantity" | "contact" | "query_password" | "payment_method")
            || (p.delivery_kind == "manual"
                && field
                    .strip_prefix(FIELD_PREFIX)
                    .is_some_and(|f| p.manual_fields.iter().any(|m| m == f)))
    };
    let (error, field_error) = match (error.and_then(|e| e.field.clone()).filter(|f| shown(f)), message) {
        (Some(field), Some(message)) => (
            Some(w.err_check_fields.to_string()),
            Some(FieldError { field, message }),
        ),
        (_, message) => (message, None),
    };
    let value = |name: &str| values.get(name).cloned().unwrap_or_default();
    let fields = if p.delivery_kind == "manual" {
        p.manual_fields
            .iter()
            .map(|f| {
                let input_name = format!("{FIELD_PREFIX}{f}");
                FieldInput {
                    label: f.clone(),
                    value: value(&input_name),
                    error: field_error
                        .as_ref()
                        .filter(|e| e.field == input_name)
                        .map(|e| e.message.clone()),
                    input_name,
                }
            })
            .collect()
    } else {
        Vec::new()
    };
    let quantity = values
        .get("quantity")
        .filter(|q| !q.trim().is_empty())
        .cloned()
        .unwrap_or_else(|| "1".to_string());
    // The one chosen before (a refused purchase), else the first: with one method there
    // is nothing to choose, and a missing choice is not an error worth a round trip.
    let chosen = values
        .get("payment_method")
        .filter(|m| around.methods.contains(m))
        .or(around.methods.first());
    let methods = around
        .methods
        .iter()
        .map(|id| MethodChoice {
            label: payment_method(l, id),
            checked: Some(id) == chosen,
            id: id.clone(),
        })
        .collect();
    ProductPage {
        product: ProductItem::new(l, p),
        trust: TrustView::new(&around.trust),
        methods,
        rules_version: around.rules_version,
        risk_warnings: around
            .risk
            .reasons
            .iter()
            .map(|r| super::labels::risk_reason(l, r))
            .collect(),
        risk_step_up: around.risk.level >= danbao_domain::risk::RiskLevel::StepUp,
        fields,
        quantity,
        contact: value("contact"),
        error,
        field_error,
        csrf: page.csrf.clone(),
        w: page.ui.clone(),
    }
}

pub(super) async fn product_page(
    State(app): State<App>,
    Extension(page): Extension<PageContext>,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let p = app.product(&id).await?;
    let around = surroundings(&app, &p).await?;
    Ok(product_page_for(&p, &around, &HashMap::new(), None, &page).into_response())
}

pub(super) async fn buy(
    State(app): State<App>,
    Extension(page): Extension<PageContext>,
    ClientOrigin(origin): ClientOrigin,
    Path(id): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let product = app.product(&id).await?;
    let around = surroundings(&app, &product).await?;
    let fail = |e: PageError| {
        let mut resp = (
            e.status,
            private_headers(),
            product_page_for(&product, &around, &form, Some(&e), &page),
        )
            .into_response();
        if let Some(s) = e.retry_after_s {
            resp.headers_mut()
                .insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from(s.max(1)));
        }
        resp
    };
    let quantity = match form.get("quantity").map(|q| q.trim()).unwrap_or("1").parse::<i64>() {
        Ok(n) => n,
        Err(_) => return Ok(fail(PageError::field("quantity", |w| w.quantity, |w| w.err_quantity))),
    };
    // Only the configured rails' methods can be paid with; the form offers no other,
    // so another value is a stale page or a hand-made request. A form without the field
    // (older pages, scripts) pays with the first method, as the form preselects.
    if !form
        .get("payment_method")
        .is_none_or(|m| around.methods.iter().any(|id| id == m))
    {
        return Ok(fail(PageError::field(
            "payment_method",
            |w| w.payment_method,
            |w| w.err_payment_method,
        )));
    }
    let delivery_fields: BTreeMap<String, String> = form
        .iter()
        .filter_map(|(k, v)| k.strip_prefix(FIELD_PREFIX).map(|name| (name.to_string(), v.clone())))
        .collect();
    let placed = app
        .place_order(
            &Caller::Anonymous,
            &origin,
            PlaceOrder {
                product_id: product.id.clone(),
                quantity,
                contact: form.get("contact").cloned(),
                query_password: form.get("query_password").cloned(),
                delivery_fields,
                payment_method: form.get("payment_method").cloned(),
            },
        )
        .await;
    match placed {
        // The guest's access goes into this browser's cookie, never into the cashier's
        // return URL; the browser comes back to the bare order page with it.
        // The provider's cashier, or the platform's page showing a payment code to scan.
        // A step_up order has no cashier yet: its page asks for the second confirmation.
        Ok(placed) => match placed.payment.as_ref().map_or_else(
            || super::order_url(&placed.id),
            |p| pay_address(&placed.id, &p.cashier_url),
        ) {
            Some(to) => match &placed.access_token {
                Some(token) => super::orders::guest_redirect(&page, &placed.id, token, &to),
                None => Ok(Redirect::to(&to).into_response()),
            },
            None => {
                tracing::error!(order = %placed.id, "the provider returned a cashier that is neither http(s) nor a payment code");
                Ok(fail(PageError::says(StatusCode::BAD_GATEWAY, |w| w.err_bad_cashier)))
            }
        },
        Err(e) => Ok(fail(e.into())),
    }
}
