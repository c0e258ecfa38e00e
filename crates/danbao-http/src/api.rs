//! The JSON API under /api/v1. A handler parses, calls one use case, maps the result.

use crate::extract::{ApiBytes, ApiJson, CallerExt, ClientOrigin};
use crate::openapi::{Binary, Problems};
use crate::problem::{ApiResult, Problem};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use danbao_app::{
    App, AppError, Caller, DeliveryItem, ImportReport, NewProduct, OrderView, PaymentInfo, PlaceOrder, PlacedOrder,
    ProductEdit, ProductView, Role,
};
use danbao_domain::ids::UserId;
use danbao_domain::{OrderStatus, RuleSet};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

/// JSON bodies are small; a larger one is a mistake or an attack.
pub const JSON_BODY_MAX_BYTES: usize = 64 * 1024;
/// An evidence file of the largest allowed size fits in this.
pub const EVIDENCE_BODY_MAX_BYTES: usize = danbao_app::files::FILE_BYTES_MAX + 64 * 1024;
/// A card-key import of the largest allowed size (10 000 keys) fits in this.
pub const CARD_KEYS_BODY_MAX_BYTES: usize = 6 * 1024 * 1024;

/// The routes that take more than a JSON body, with their limits. The router's body-limit
/// layers and the idempotency middleware (which must read a body before the handler runs)
/// both read this one table, so a body is refused at the route's limit before it is
/// buffered. Paths as the router matches them.
pub const LARGE_BODY_ROUTES: [(&str, usize); 2] = [
    ("/api/v1/seller/products/{id}/card-keys", CARD_KEYS_BODY_MAX_BYTES),
    ("/api/v1/complaints/{id}/evidence", EVIDENCE_BODY_MAX_BYTES),
];

/// The body limit of a route (its matched path), JSON's unless the table says otherwise.
pub fn body_limit(route: &str) -> usize {
    LARGE_BODY_ROUTES
        .iter()
        .find(|(path, _)| *path == route)
        .map_or(JSON_BODY_MAX_BYTES, |(_, limit)| *limit)
}

/// Every route of the JSON API, each with its OpenAPI operation: the router and the
/// document are built from these same `routes!` calls.
pub fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(register))
        .routes(routes!(login))
        .routes(routes!(list_products))
        .routes(routes!(product))
        .routes(routes!(create_product, seller_products))
        .routes(routes!(update_product))
        .routes(
            routes!(import_card_keys).layer(axum::extract::DefaultBodyLimit::max(body_limit(
                "/api/v1/seller/products/{id}/card-keys",
            ))),
        )
        .routes(routes!(seller_deliver))
        .routes(routes!(seller_decline))
        .routes(routes!(place_order, my_orders))
        .routes(routes!(lookup_order))
        .routes(routes!(order))
        .routes(routes!(timeline))
        .routes(routes!(liabilities_proof))
        .routes(routes!(delivery))
        .routes(routes!(confirm))
        .routes(routes!(cancel))
        .routes(routes!(notify, notify_by_get))
        .routes(routes!(open_complaint, order_complaints))
        .routes(routes!(complaint))
        .routes(
            routes!(add_evidence).layer(axum::extract::DefaultBodyLimit::max(body_limit(
                "/api/v1/complaints/{id}/evidence",
            ))),
        )
        .routes(routes!(complaint_file))
        .routes(routes!(complaint_response))
        .routes(routes!(complaint_withdraw))
        .routes(routes!(complaint_step))
        .routes(routes!(complaint_ruling))
        .routes(routes!(complaint_assign))
        .routes(routes!(arbitration_queue))
        .routes(routes!(seller_balance))
        .routes(routes!(notifications))
        .routes(routes!(seller_deposit))
        .routes(routes!(seller_deposit_release))
        .routes(routes!(seller_deposit_payments, seller_pay_deposit))
        .routes(routes!(seller_withdraw))
        .routes(routes!(fund_compensation))
        .routes(routes!(freeze_seller))
        .routes(routes!(unfreeze_seller))
        .routes(routes!(ban_seller))
        .routes(routes!(rules))
        .routes(routes!(evidence_checkpoint))
        .routes(routes!(evidence_key))
        .routes(routes!(evidence_receipt))
        .routes(routes!(evidence_consistency))
        .routes(routes!(new_payment_attempt))
        .routes(routes!(confirm_risk))
        .routes(routes!(ledger_check))
        .routes(routes!(admin_stats))
        .routes(routes!(admin_order))
        .routes(routes!(reconciliation_overview))
        .routes(routes!(reconcile))
        .routes(routes!(resolve_exception))
        .routes(routes!(admin_jobs))
        .routes(routes!(security_events))
        .routes(routes!(retry_job))
}

/// A guest's secret link token, accepted wherever a bearer token is not sent.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[expect(dead_code, reason = "documents the query parameter that CallerExt reads")]
struct AccessToken {
    /// The order's access token (guests).
    access_token: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct RegisterBody {
    username: String,
    password: String,
    role: String,
    /// A contact (QQ, phone, e-mail). A seller's identifies them: a buyer giving it
    /// cannot buy from their shop (`self-purchase`).
    #[serde(default)]
    contact: Option<String>,
    /// A seller's own account at the payment provider, where withdrawals are paid; a
    /// payment from it to their shop is refunded (`self_purchase`).
    #[serde(default)]
    payout_account: Option<String>,
}

/// Register a buyer or seller account.
#[utoipa::path(
    post,
    path = "/accounts",
    request_body = RegisterBody,
    responses((status = 201, description = "The new account", body = AccountView), Problems)
)]
async fn register(
    State(app): State<App>,
    ClientOrigin(origin): ClientOrigin,
    ApiJson(b): ApiJson<RegisterBody>,
) -> ApiResult<Response> {
    let role = match b.role.as_str() {
        "buyer" => Role::Buyer,
        "seller" => Role::Seller,
        _ => return Err(AppError::invalid("role", "must be buyer or seller").into()),
    };
    let user = app
        .register_with_identity(
            &origin,
            &b.username,
            &b.password,
            role,
            b.contact.as_deref(),
            b.payout_account.as_deref(),
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(AccountView {
            id: user.id,
            username: user.username,
            role: user.role,
        }),
    )
        .into_response())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct LoginBody {
    username: String,
    password: String,
}

/// Log in; returns a bearer token.
#[utoipa::path(
    post,
    path = "/sessions",
    request_body = LoginBody,
    responses((status = 200, description = "A bearer token", body = SessionView), Problems)
)]
async fn login(
    State(app): State<App>,
    ClientOrigin(origin): ClientOrigin,
    ApiJson(b): ApiJson<LoginBody>,
) -> ApiResult<Json<SessionView>> {
    let (token, user) = app.login(&origin, &b.username, &b.password).await?;
    Ok(Json(SessionView {
        token,
        user: AccountView {
            id: user.id,
            username: user.username,
            role: user.role,
        },
    }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct PageQuery {
    cursor: Option<String>,
    limit: Option<i64>,
}

/// Browse active products (cursor paging)
#[utoipa::path(
    get,
    path = "/products",
    params(PageQuery),
    responses((status = 200, description = "A page of products", body = ProductPage), Problems)
)]
async fn list_products(State(app): State<App>, Query(q): Query<PageQuery>) -> ApiResult<Json<ProductPage>> {
    let (items, next) = app.list_products(q.cursor.as_deref(), q.limit.unwrap_or(20)).await?;
    Ok(Json(ProductPage {
        items,
        next_cursor: next,
    }))
}

/// One product.
#[utoipa::path(
    get,
    path = "/products/{id}",
    params(("id" = String, Path, description = "The product id (or order number)")),
    responses((status = 200, description = "The product", body = ProductView), Problems)
)]
async fn product(State(app): State<App>, Path(id): Path<String>) -> ApiResult<Json<danbao_app::ProductView>> {
    Ok(Json(app.product(&id).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ProductBody {
    title: String,
    #[serde(default)]
    description: String,
    category: String,
    price_minor: i64,
    delivery_kind: String,
    #[serde(default)]
    manual_fields: Vec<String>,
}

/// List a product (seller)
#[utoipa::path(
    post,
    path = "/seller/products",
    request_body = ProductBody,
    security(("bearer" = [])),
    responses((status = 201, description = "The new listing", body = ProductView), Problems)
)]
async fn create_product(
    State(app): State<App>,
    CallerExt(caller): CallerExt,
    ApiJson(b): ApiJson<ProductBody>,
) -> ApiResult<Response> {
    let p = app
        .create_product(
            &caller,
            NewProduct {
                title: b.title,
                description: b.description,
                category: b.category,
                price_minor: b.price_minor,
                delivery_kind: b.delivery_kind,
                manual_fields: b.manual_fields,
            },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(p)).into_response())
}

/// Edit a listing: title, description, category, price, active/hidden.
#[utoipa::path(
    patch,
    path = "/seller/products/{id}",
    params(("id" = String, Path, description = "The product id (or order number)")),
    request_body = ProductEdit,
    security(("bearer" = [])),
    responses((status = 200, description = "The listing as edited", body = ProductView), Problems)
)]
async fn update_product(
    State(app): State<App>,
    CallerExt(caller): CallerExt,
    Path(id): Path<String>,
    ApiJson(edit): ApiJson<danbao_app::ProductEdit>,
) -> ApiResult<Json<danbao_app::ProductView>> {
    Ok(Json(app.update_product(&caller, &id, edit).await?))
}

/// The seller's products.
#[utoipa::path(
    get,
    path = "/seller/products",
    security(("bearer" = [])),
    responses((status = 200, description = "The seller's products", body = ProductPage), Problems)
)]
async fn seller_products(State(app): State<App>, CallerExt(caller): CallerExt) -> ApiResult<Json<ProductPage>> {
    let items = app.seller_products(&caller).await?;
    Ok(Json(ProductPage {
        items,
        next_cursor: None,
    }))
}

/// Bulk import card keys, text/plain, one per line.
#[utoipa::path(
    post,
    path = "/seller/products/{id}/card-keys",
    params(("id" = String, Path, description = "The product id (or order number)")),
    request_body(content = String, content_type = "text/plain", description = "One card key per line"),
    security(("bearer" = [])),
    responses((status = 200, description = "How many keys were imported", body = ImportReport), Problems)
)]
async fn import_card_keys(
    State(app): State<App>,
    CallerExt(caller): CallerExt,
    Path(id): Path<String>,
    ApiBytes(body): ApiBytes,
) -> ApiResult<Json<danbao_app::ImportReport>> {
    let text = std::str::from_utf8(&body).map_err(|_| AppError::invalid("body", "must be UTF-8 text"))?;
    Ok(Json(app.import_card_keys(&caller, &id, text).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct OrderBody {
    product_id: String,
    quantity: i64,
    contact: Option<String>,
    query_password: Option<String>,
    #[serde(default)]
    delivery_fields: BTreeMap<String, String>,
    /// One of the configured rails' payment methods (see the product page's buy form);
    /// none: the first configured.
    #[serde(default)]
    payment_method: Option<String>,
}

/// Create an order (buyer or guest); the server computes the amount.
#[utoipa::path(
    post,
    path = "/orders",
    request_body = OrderBody,
    security((), ("bearer" = [])),
    responses((status = 201, description = "The order with its payment instructions and risk assessment", body = PlacedOrder), Problems)
)]
async fn place_order(
    State(app): State<App>,
    CallerExt(caller): CallerExt,
    ClientOrigin(origin): ClientOrigin,
    headers: axum::http::HeaderMap,
    ApiBytes(body): ApiBytes,
) -> ApiResult<Response> {
    // Parsed by hand so that a client-sent price gets a clear refusal rather than a
    // generic unknown-field error: the server alone computes the amount.
    let value: serde_json::Value =
        serde_json::from_slice(&body).map_err(|e| crate::problem::bad_json(e.to_string()))?;
    if let Some(obj) = value.as_object() {
        for forbidden in ["amount_minor", "price_minor", "amount", "price", "unit_price_minor"] {
            if obj.contains_key(forbidden) {
                return Err(AppError::invalid(
                    "amount",
                    format!("`{forbidden}` is not accepted: the server computes the amount from the price"),
                )
                .into());
            }
        }
    }
    let b: OrderBody = serde_json::from_value(value).map_err(|e| crate::problem::bad_json(e.to_string()))?;
    let mut placed = app
        .place_order(
            &caller,
            &origin,
            PlaceOrder {
                product_id: b.product_id,
                quantity: b.quantity,
                contact: b.contact,
                query_password: b.query_password,
                delivery_fields: b.delivery_fields,
                payment_method: b.payment_method,
            },
        )
        .await?;
    crate::web::localise_risk(&headers, &mut placed.risk);
    Ok((StatusCode::CREATED, Json(placed)).into_response())
}

/// The caller's orders.
#[utoipa::path(
    get,
    path = "/orders",
    security(("bearer" = [])),
    responses((status = 200, description = "The caller's orders", body = OrderList), Problems)
)]
async fn my_orders(State(app): State<App>, CallerExt(caller): CallerExt) -> ApiResult<Json<OrderList>> {
    let items = app.orders_of(&caller).await?;
    Ok(Json(OrderList {
        items,
        next_cursor: None,
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct LookupBody {
    /// The order id or order number; without it, every order of the contact whose query
    /// password matches.
    #[serde(default)]
    order_id: Option<String>,
    contact: String,
    query_password: String,
}

/// Guest order lookup (查单) with contact and query password: with `order_id` (an id or
/// an order number) that order; without, `{items}`, the contact's orders (compared
/// normalised) whose query password matches, newest first — empty alike for an unknown
/// contact and a wrong password.
#[utoipa::path(
    post,
    path = "/orders/lookup",
    request_body = LookupBody,
    responses((status = 200, description = "The order and its access token, or the list of them", body = LookupAnswer), Problems)
)]
async fn lookup_order(
    State(app): State<App>,
    ClientOrigin(origin): ClientOrigin,
    ApiJson(b): ApiJson<LookupBody>,
) -> ApiResult<Json<LookupAnswer>> {
    let Some(order_id) = b.order_id.as_deref().map(str::trim).filter(|id| !id.is_empty()) else {
        let found = app.lookup_guest_orders(&origin, &b.contact, &b.query_password).await?;
        let items = found
            .into_iter()
            .map(|(order, access_token)| LookupView { access_token, order })
            .collect();
        return Ok(Json(LookupAnswer::Many { items }));
    };
    let token = app
        .lookup_guest_order(&origin, order_id, &b.contact, &b.query_password)
        .await?;
    let order = app.order(&Caller::GuestToken(token.clone()), order_id).await?;
    Ok(Json(LookupAnswer::One(Box::new(LookupView {
        access_token: token,
        order,
    }))))
}

/// Read an order (its buyer, its seller, or ?access_token=)
#[utoipa::path(
    get,
    path = "/orders/{id}",
    params(("id" = String, Path, description = "The order id (or order number)"), AccessToken),
    security((), ("bearer" = [])),
    responses((status = 200, description = "The order", body = OrderView), Problems)
)]
async fn order(
    State(app): State<App>,
    CallerExt(caller): CallerExt,
    Path(id): Path<String>,
    headers: axum::http::HeaderMap,
) -> ApiResult<Json<danbao_app::OrderView>> {
    let mut view = app.order(&caller, &id).await?;
    if let Some(risk) = view.risk.as_mut() {
        crate::web::localise_risk(&headers, risk);
    }
    Ok(Json(view))
}

/// The order's events, each with its receipt and checked against the evidence log.
#[utoipa::path(
    get,
    path = "/orders/{id}/timeline",
    params(("id" = String, Path, description = "The order id (or order number)"), AccessToken),
    security((), ("bearer" = [])),
    responses((status = 200, description = "The timeline", body = danbao_app::evidence::Timeline), Problems)
)]
async fn timeline(
    State(app): State<App>,
    CallerExt(caller): CallerExt,
    Path(id): Path<String>,
) -> ApiResult<Json<danbao_app::evidence::Timeline>> {
    Ok(Json(app.order_timeline(&caller, &id).await?))
}

/// The proof that the order's held money is in the platform's published liabilities
/// (防跑路): an inclusion proof in the latest statement's Merkle sum tree, for each of the
/// order's balances (escrow, frozen), checkable offline with
/// `danbao verify-liabilities PROOF --key VKEY`. The buyer's only (or ?access_token=).
#[utoipa::path(
    get,
    path = "/orders/{id}/liabilities-proof",
    params(("id" = String, Path, description = "The order id (or order number)"), AccessToken),
    security((), ("bearer" = [])),
    responses((status = 200, description = "The proof, or why there is none (no statement yet, or the order held nothing)", body = danbao_app::liabilities::OrderLiabilitiesProof), Problems)
)]
async fn liabilities_proof(
    State(app): State<App>,
    CallerExt(caller): CallerExt,
    Path(id): Path<String>,
) -> ApiResult<Json<danbao_app::liabilities::OrderLiabilitiesProof>> {
    Ok(Json(app.order_liabilities_proof(&caller, &id).await?))
}

/// Reveal delivered goods to the buyer (recorded)
#[utoipa::path(
    get,
    path = "/orders/{id}/delivery",
    params(("id" = String, Path, description = "The order id (or order number)"), AccessToken),
    security((), ("bearer" = [])),
    responses((status = 200, description = "The delivered goods", body = DeliveryView), Problems)
)]
async fn delivery(
    State(app): State<App>,
    CallerExt(caller): CallerExt,
    Path(id): Path<String>,
) -> ApiResult<Json<DeliveryView>> {
    let items = app.reveal_delivery(&caller, &id).await?;
    Ok(Json(DeliveryView { items }))
}

/// Accept the goods (buyer)
#[utoipa::path(
    post,
    path = "/orders/{id}/confirm",
    params(("id" = String, Path, description = "The order id (or order number)"), AccessToken),
    security((), ("bearer" = [])),
    responses((status = 200, description = "The order, completed", body = OrderStatusView), Problems)
)]
async fn confirm(
    State(app): State<App>,
    CallerExt(caller): CallerExt,
    Path(id): Path<String>,
) -> ApiResult<Json<OrderStatusView>> {
    let order = app.confirm(&caller, &id).await?;
    Ok(Json(OrderStatusView {
        id: order.id,
        status: order.status,
    }))
}

/// Cancel an unpaid order (buyer); the stock goes back.
#[utoipa::path(
    post,
    path = "/orders/{id}/cancel",
    params(("id" = String, Path, description = "The order id (or order number)"), AccessToken),
    security((), ("bearer" = [])),
    responses((status = 200, description = "The order, cancelled", body = OrderStatusView), Problems)
)]
async fn cancel(
    State(app): State<App>,
    CallerExt(caller): CallerExt,
    Path(id): Path<String>,
) -> ApiResult<Json<OrderStatusView>> {
    let order = app.cancel(&caller, &id).await?;
    Ok(Json(OrderStatusView {
        id: order.id,
        status: order.status,
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct DeliverBody {
    note: String,
}

/// Manual delivery with a note (seller)
#[utoipa::path(
    post,
    path = "/seller/orders/{id}/deliver",
    params(("id" = String, Path, description = "The order id (or order number)")),
    request_body = DeliverBody,
    security(("bearer" = [])),
    responses((status = 200, description = "The order, delivered", body = OrderView), Problems)
)]
async fn seller_deliver(
    State(app): State<App>,
    CallerExt(caller): CallerExt,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<DeliverBody>,
) -> ApiResult<Json<danbao_app::OrderView>> {
    Ok(Json(app.seller_deliver(&caller, &id, &b.note).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct DeclineBody {
    reason: String,
}

/// Decline a manual order (seller): the buyer is refunded.
#[utoipa::path(
    post,
    path = "/seller/orders/{id}/decline",
    params(("id" = String, Path, description = "The order id (or order number)")),
    request_body = DeclineBody,
    security(("bearer" = [])),
    responses((status = 200, description = "The order, declined and refunded", body = OrderView), Problems)
)]
async fn seller_decline(
    State(app): State<App>,
    CallerExt(caller): CallerExt,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<DeclineBody>,
) -> ApiResult<Json<danbao_app::OrderView>> {
    Ok(Json(app.seller_decline(&caller, &id, &b.reason).await?))
}

/// A provider's notification. The raw bytes go to the one notification path; the
/// acknowledgement is the rail's own, sent only after the commit.
#[utoipa::path(
    post,
    path = "/payments/{provider}/notify",
    params(("provider" = String, Path, description = "The payment rail, e.g. sandbox")),
    request_body(content = String, content_type = "application/octet-stream", description = "The notification exactly as the rail sends it; its signature is checked over these bytes"),
    responses((status = 200, description = "The rail's acknowledgement, sent after the commit", body = String, content_type = "text/plain"), Problems)
)]
async fn notify(
    State(app): State<App>,
    Path(provider): Path<String>,
    headers: HeaderMap,
    ApiBytes(body): ApiBytes,
) -> ApiResult<Response> {
    let signature = headers
        .get(danbao_sandbox::wire::SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok());
    // A header that is not visible ASCII is kept as nothing: no rail signs with one.
    let pairs: Vec<(String, String)> = headers
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
        .collect();
    let ack = app
        .apply_notification(&provider, "webhook", &body, signature, &pairs)
        .await?;
    Ok((StatusCode::OK, [(axum::http::header::CONTENT_TYPE, "text/plain")], ack).into_response())
}

/// A rail that notifies by GET (易支付): the query string is the notification, its
/// signature inside it; the same one path, the rail's own acknowledgement.
#[utoipa::path(
    get,
    path = "/payments/{provider}/notify",
    params(("provider" = String, Path, description = "The payment rail, e.g. epay")),
    responses((status = 200, description = "The rail's acknowledgement (`success`), sent after the commit", body = String, content_type = "text/plain"), Problems)
)]
async fn notify_by_get(
    State(app): State<App>,
    Path(provider): Path<String>,
    axum::extract::OriginalUri(uri): axum::extract::OriginalUri,
) -> ApiResult<Response> {
    let query = uri.query().unwrap_or_default();
    let ack = app
        .apply_notification(&provider, "webhook", query.as_bytes(), None, &[])
        .await?;
    Ok((StatusCode::OK, [(axum::http::header::CONTENT_TYPE, "text/plain")], ack).into_response())
}

/// The published rule set.
#[utoipa::path(
    get,
    path = "/rules",
    responses((status = 200, description = "The current rule set", body = RulesView), Problems)
)]
async fn rules(State(app): State<App>) -> ApiResult<Json<RulesView>> {
    let rules = app.current_rules();
    Ok(Json(RulesView {
        version: rules.version,
        content_hash: rules.content_hash(),
        rules: (*rules).clone(),
    }))
}

/// Ledger invariants (admin)
#[utoipa::path(
    get,
    path = "/admin/ledger/check",
    security(("bearer" = [])),
    responses((status = 200, description = "Whether every invariant holds, and what does not", body = LedgerCheckView), Problems)
)]
async fn ledger_check(State(app): State<App>, CallerExt(caller): CallerExt) -> ApiResult<Json<LedgerCheckView>> {
    let violations = app.ledger_check_as(&caller).await?;
    let list: Vec<String> = violations.iter().map(|v| v.to_string()).collect();
    Ok(Json(LedgerCheckView {
        ok: list.is_empty(),
        violations: list,
    }))
}

pub fn not_found_fallback() -> Problem {
    Problem::new(StatusCode::NOT_FOUND, "not-found", "Not found", "no such route")
}

/// A new payment attempt for an unpaid order (its buyer)
#[utoipa::path(
    post,
    path = "/orders/{id}/payments",
    params(("id" = String, Path, description = "The order id (or order number)"), AccessToken),
    security((), ("bearer" = [])),
    responses((status = 201, description = "The new payment attempt", body = PaymentInfo), Problems)
)]
async fn new_payment_attempt(
    State(app): State<App>,
    CallerExt(caller): CallerExt,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let payment = app.new_payment_attempt(&caller, &id).await?;
    Ok((StatusCode::CREATED, Json(payment)).into_response())
}

/// 二次验证: the buyer confirms a `step_up` order once more; its payment starts only now
/// (its buyer, or a guest with the order's access token)
#[utoipa::path(
    post,
    path = "/orders/{id}/confirm-risk",
    params(("id" = String, Path, description = "The order id (or order number)"), AccessToken),
    security((), ("bearer" = [])),
    responses((status = 200, description = "The order with its payment instructions, now open", body = PlacedOrder), Problems)
)]
async fn confirm_risk(
    State(app): State<App>,
    CallerExt(caller): CallerExt,
    Path(id): Path<String>,
    headers: axum::http::HeaderMap,
) -> ApiResult<Json<PlacedOrder>> {
    let mut placed = app.confirm_risk(&caller, &id).await?;
    crate::web::localise_risk(&headers, &mut placed.risk);
    Ok(Json(placed))
}

/// Orders, payments, refunds, jobs and exceptions by state (admin)
#[utoipa::path(
    get,
    path = "/admin/stats",
    security(("bearer" = [])),
    responses((status = 200, description = "Counts by state", body = danbao_app::admin::Stats), Problems)
)]
async fn admin_stats(
    State(app): State<App>,
    CallerExt(caller): CallerExt,
) -> ApiResult<Json<danbao_app::admin::Stats>> {
    Ok(Json(app.stats(&caller).await?))
}

/// Any order with its payments and refunds (admin)
#[utoipa::path(
    get,
    path = "/admin/orders/{id}",
    params(("id" = String, Path, description = "The order id (or order number)")),
    security(("bearer" = [])),
    responses((status = 200, description = "The order, its payments and refunds", body = danbao_app::admin::AdminOrderView), Problems)
)]
async fn admin_order(
    State(app): State<App>,
    CallerExt(caller): CallerExt,
    Path(id): Path<String>,
) -> ApiResult<Json<danbao_app::admin::AdminOrderView>> {
    Ok(Json(app.admin_order(&caller, &id).await?))
}

/// Latest reconciliation runs and open exceptions (admin)
#[utoipa::path(
    get,
    path = "/admin/reconciliation",
    security(("bearer" = [])),
    responses((status = 200, description = "Runs and open exceptions", body = danbao_app::admin::ReconciliationOverview), Problems)
)]
async fn reconciliation_overview(
    State(app): State<App>,
    CallerExt(caller): CallerExt,
) -> ApiResult<Json<danbao_app::admin::ReconciliationOverview>> {
    Ok(Json(app.reconciliation_overview(&caller).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct PeriodBody {
    from: String,
    to: String,
    /// The rail whose statement to match (`sandbox`, `epay`, …); none: the default rail.
    #[serde(default)]
    provider: Option<String>,
}

fn parse_time(field: &'static str, text: &str) -> Result<i64, Problem> {
    danbao_app::clock::parse_rfc3339(text)
        .ok_or_else(|| AppError::invalid(field, "an RFC 3339 time, e.g. 2026-11-01T00:00:00Z").into())
}

/// Reconcile the provider's statement for {from, to} (admin)
#[utoipa::path(
    post,
    path = "/admin/reconciliation/statements",
    request_body = PeriodBody,
    security(("bearer" = [])),
    responses((status = 200, description = "The run and its differences", body = danbao_app::admin::ReconciliationReport), Problems)
)]
async fn reconcile(
    State(app): State<App>,
    CallerExt(caller): CallerExt,
    ApiJson(b): ApiJson<PeriodBody>,
) -> ApiResult<Json<danbao_app::admin::ReconciliationReport>> {
    let from = parse_time("from", &b.from)?;
    let to = parse_time("to", &b.to)?;
    Ok(Json(
        app.reconcile_rail_as(&caller, b.provider.as_deref(), from, to).await?,
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ResolveBody {
    action: String,
    note: String,
}

/// Resolve an exception: {action: refund|acknowledge, note} (admin)
#[utoipa::path(
    post,
    path = "/admin/reconciliation/exceptions/{id}/resolve",
    params(("id" = String, Path, description = "The exception id (or order number)")),
    request_body = ResolveBody,
    security(("bearer" = [])),
    responses((status = 200, description = "The exception, resolved", body = danbao_app::admin::ReconciliationItemView), Problems)
)]
async fn resolve_exception(
    State(app): State<App>,
    CallerExt(caller): CallerExt,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<ResolveBody>,
) -> ApiResult<Json<danbao_app::admin::ReconciliationItemView>> {
    Ok(Json(app.resolve_exception(&caller, &id, &b.action, &b.note).await?))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct JobsQuery {
    status: Option<String>,
}

/// Jobs by ?status= (default dead: the dead-letter queue) (admin)
#[utoipa::path(
    get,
    path = "/admin/jobs",
    params(JobsQuery),
    security(("bearer" = [])),
    responses((status = 200, description = "The jobs", body = JobList), Problems)
)]
async fn admin_jobs(
    State(app): State<App>,
    CallerExt(caller): CallerExt,
    Query(q): Query<JobsQuery>,
) -> ApiResult<Json<JobList>> {
    let rows = app.admin_jobs(&caller, q.status.as_deref().unwrap_or("dead")).await?;
    let items = rows
        .into_iter()
        .map(|j| JobView {
            id: j.id,
            kind: j.kind,
            subject: j.payload,
            status: j.status,
            attempts: j.attempts,
            last_error: j.last_error,
            run_at: danbao_app::clock::rfc3339(j.run_at),
        })
        .collect();
    Ok(Json(JobList { items }))
}

/// Requeue a dead-lettered job (admin)
#[utoipa::path(
    post,
    path = "/admin/jobs/{id}/retry",
    params(("id" = String, Path, description = "The job id (or order number)")),
    security(("bearer" = [])),
    responses((status = 200, description = "The job, queued again", body = RetriedJob), Problems)
)]
async fn retry_job(
    State(app): State<App>,
    CallerExt(caller): CallerExt,
    Path(id): Path<String>,
) -> ApiResult<Json<RetriedJob>> {
    app.retry_dead_job(&caller, &id).await?;
    Ok(Json(RetriedJob { id, status: "queued" }))
}

/// Security events: bad signatures and the like (admin)
#[utoipa::path(
    get,
    path = "/admin/security-events",
    security(("bearer" = [])),
    responses((status = 200, description = "Recent security events", body = SecurityEventList), Problems)
)]
async fn security_events(State(app): State<App>, CallerExt(caller): CallerExt) -> ApiResult<Json<SecurityEventList>> {
    let items = app.security_events(&caller).await?;
    Ok(Json(SecurityEventList { items }))
}

fn text(body: String) -> Response {
    (
        StatusCode::OK,
        [(axum::http::header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body,
    )
        .into_response()
}

/// The latest checkpoint as a C2SP signed note.
#[utoipa::path(
    get,
    path = "/evidence/checkpoint",
    responses((status = 200, description = "A C2SP signed note", body = String, content_type = "text/plain"), Problems)
)]
async fn evidence_checkpoint(State(app): State<App>) -> ApiResult<Response> {
    Ok(text(app.evidence_checkpoint().await?))
}

/// The log's verifier key in signed-note vkey form.
#[utoipa::path(
    get,
    path = "/evidence/key",
    responses((status = 200, description = "The vkey line", body = String, content_type = "text/plain"), Problems)
)]
async fn evidence_key(State(app): State<App>) -> Response {
    text(format!("{}\n", app.log_signer().vkey()))
}

/// Receipt for leaf N: c2sp.org/tlog-proof@v1 with the leaf record in extra.
#[utoipa::path(
    get,
    path = "/evidence/receipts/{leaf}",
    params(("leaf" = u64, Path, description = "The leaf index")),
    responses((status = 200, description = "A c2sp.org/tlog-proof@v1 receipt with the leaf record in extra", body = String, content_type = "text/plain"), Problems)
)]
async fn evidence_receipt(State(app): State<App>, Path(leaf): Path<String>) -> ApiResult<Response> {
    let index: u64 = leaf
        .parse()
        .map_err(|_| AppError::invalid("leaf", "a leaf index: a whole number"))?;
    Ok(text(app.evidence_receipt(index).await?))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ConsistencyQuery {
    from: Option<String>,
    to: Option<String>,
}

/// A consistency proof between two signed checkpoints: the two notes, then the proof
/// hashes in base64, one per line.
#[utoipa::path(
    get,
    path = "/evidence/consistency",
    params(ConsistencyQuery),
    responses((status = 200, description = "The two notes, then the proof hashes in base64, one per line", body = String, content_type = "text/plain"), Problems)
)]
async fn evidence_consistency(State(app): State<App>, Query(q): Query<ConsistencyQuery>) -> ApiResult<Response> {
    let parse = |field: &'static str, v: Option<String>| -> Result<u64, Problem> {
        v.and_then(|s| s.parse().ok())
            .ok_or_else(|| AppError::invalid(field, "a checkpoint size: a whole number").into())
    };
    let from = parse("from", q.from)?;
    let to = parse("to", q.to)?;
    let proof = app.evidence_consistency(from, to).await?;
    let mut out = String::new();
    for h in proof {
        out.push_str(&base64_line(&h));
    }
    Ok(text(out))
}

fn base64_line(h: &[u8; 32]) -> String {
    use base64::Engine;
    format!("{}\n", base64::engine::general_purpose::STANDARD.encode(h))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct OpenComplaintBody {
    kind: String,
    description: Option<String>,
}

/// Open a complaint {kind, description?} (its buyer): freezes the money.
#[utoipa::path(
    post,
    path = "/orders/{id}/complaints",
    params(("id" = String, Path, description = "The order id (or order number)"), AccessToken),
    request_body = OpenComplaintBody,
    security((), ("bearer" = [])),
    responses((status = 201, description = "The new complaint", body = danbao_app::complaints::ComplaintView), Problems)
)]
async fn open_complaint(
    State(app): State<App>,
    CallerExt(caller): CallerExt,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<OpenComplaintBody>,
) -> ApiResult<Response> {
    let c = app
        .open_complaint(&caller, &id, &b.kind, b.description.as_deref())
        .await?;
    Ok((StatusCode::CREATED, Json(c)).into_response())
}

/// The order's complaints (its parties)
#[utoipa::path(
    get,
    path = "/orders/{id}/complaints",
    params(("id" = String, Path, description = "The order id (or order number)"), AccessToken),
    security((), ("bearer" = [])),
    responses((status = 200, description = "The order's complaints", body = ComplaintList), Problems)
)]
async fn order_complaints(
    State(app): State<App>,
    CallerExt(caller): CallerExt,
    Path(id): Path<String>,
) -> ApiResult<Json<ComplaintList>> {
    let items = app.complaints_of_order(&caller, &id).await?;
    Ok(Json(ComplaintList { items }))
}

/// A complaint: stage, deadline, evidence, proposal, ruling (parties, arbitrators)
#[utoipa::path(
    get,
    path = "/complaints/{id}",
    params(("id" = String, Path, description = "The complaint id (or order number)"), AccessToken),
    security((), ("bearer" = [])),
    responses((status = 200, description = "The complaint", body = danbao_app::complaints::ComplaintView), Problems)
)]
async fn complaint(
    State(app): State<App>,
    CallerExt(caller): CallerExt,
    Path(id): Path<String>,
) -> ApiResult<Json<danbao_app::complaints::ComplaintView>> {
    Ok(Json(app.complaint(&caller, &id).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct TextEvidenceBody {
    kind: String,
    text: String,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct FileEvidenceQuery {
    kind: Option<String>,
    sha256: Option<String>,
}

/// Evidence: JSON `{kind, text}`, or a file as the raw body with `?kind=` and optionally
/// `?sha256=` (checked). Returns the evidence item and its receipt.
#[utoipa::path(
    post,
    path = "/complaints/{id}/evidence",
    params(("id" = String, Path, description = "The complaint id (or order number)"), AccessToken, FileEvidenceQuery),
    request_body(content((TextEvidenceBody = "application/json"), (Binary = "application/octet-stream")), description = "JSON {kind, text}, or a file as the raw body"),
    security((), ("bearer" = [])),
    responses((status = 201, description = "The evidence item and its receipt", body = EvidenceAdded), Problems)
)]
async fn add_evidence(
    State(app): State<App>,
    CallerExt(caller): CallerExt,
    Path(id): Path<String>,
    Query(q): Query<FileEvidenceQuery>,
    headers: HeaderMap,
    ApiBytes(body): ApiBytes,
) -> ApiResult<Response> {
    let is_json = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/json"));
    let item = if is_json {
        let b: TextEvidenceBody = serde_json::from_slice(&body).map_err(|e| crate::problem::bad_json(e.to_string()))?;
        app.add_evidence(&caller, &id, &b.kind, Some(&b.text), None).await?
    } else {
        let kind = q.kind.unwrap_or_else(|| "file".to_string());
        let file = danbao_app::complaints::Attachment {
            bytes: body.to_vec(),
            claimed_sha256: q.sha256,
        };
        app.add_evidence(&caller, &id, &kind, None, Some(file)).await?
    };
    let receipt = app.receipt_for_leaf(&item.leaf_hash).await?;
    Ok((
        StatusCode::CREATED,
        Json(EvidenceAdded {
            evidence: item,
            receipt,
        }),
    )
        .into_response())
}

/// An evidence file (parties, arbitrators)
#[utoipa::path(
    get,
    path = "/complaints/{id}/files/{sha256}",
    params(("id" = String, Path, description = "The complaint id (or order number)"), ("sha256" = String, Path, description = "The file's SHA-256, hex"), AccessToken),
    security((), ("bearer" = [])),
    responses((status = 200, description = "The file, as an attachment", body = Binary, content_type = "application/octet-stream"), Problems)
)]
async fn complaint_file(
    State(app): State<App>,
    CallerExt(caller): CallerExt,
    Path((id, sha256)): Path<(String, String)>,
) -> ApiResult<Response> {
    let (bytes, media_type) = app.complaint_file(&caller, &id, &sha256).await?;
    Ok((
        StatusCode::OK,
        [
            (axum::http::header::CONTENT_TYPE, media_type),
            (axum::http::header::CONTENT_DISPOSITION, "attachment".to_string()),
        ],
        bytes,
    )
        .into_response())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct TextBody {
    text: String,
}

/// The seller's answer {text}
#[utoipa::path(
    post,
    path = "/complaints/{id}/response",
    params(("id" = String, Path, description = "The complaint id (or order number)")),
    request_body = TextBody,
    security(("bearer" = [])),
    responses((status = 200, description = "The complaint", body = danbao_app::complaints::ComplaintView), Problems)
)]
async fn complaint_response(
    State(app): State<App>,
    CallerExt(caller): CallerExt,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<TextBody>,
) -> ApiResult<Json<danbao_app::complaints::ComplaintView>> {
    Ok(Json(app.seller_respond(&caller, &id, &b.text).await?))
}

/// The buyer withdraws: money back where it was.
#[utoipa::path(
    post,
    path = "/complaints/{id}/withdraw",
    params(("id" = String, Path, description = "The complaint id (or order number)"), AccessToken),
    security((), ("bearer" = [])),
    responses((status = 200, description = "The complaint, withdrawn", body = danbao_app::complaints::ComplaintView), Problems)
)]
async fn complaint_withdraw(
    State(app): State<App>,
    CallerExt(caller): CallerExt,
    Path(id): Path<String>,
) -> ApiResult<Json<danbao_app::complaints::ComplaintView>> {
    Ok(Json(app.withdraw_complaint(&caller, &id).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct StepBody {
    step: String,
    note: String,
}

/// Arbitrator step {step: ask_buyer|start_appraisal|finish_appraisal, note}
#[utoipa::path(
    post,
    path = "/complaints/{id}/steps",
    params(("id" = String, Path, description = "The complaint id (or order number)")),
    request_body = StepBody,
    security(("bearer" = [])),
    responses((status = 200, description = "The complaint", body = danbao_app::complaints::ComplaintView), Problems)
)]
async fn complaint_step(
    State(app): State<App>,
    CallerExt(caller): CallerExt,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<StepBody>,
) -> ApiResult<Json<danbao_app::complaints::ComplaintView>> {
    Ok(Json(app.arbitrator_step(&caller, &id, &b.step, &b.note).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct RulingBody {
    kind: String,
    buyer_bps: Option<i64>,
    refund_bps: Option<i64>,
    reason: String,
}

/// Ruling {kind: refund_full|release_to_seller|split|redeliver, buyer_bps|refund_bps, reason} (arbitrator)
#[utoipa::path(
    post,
    path = "/complaints/{id}/ruling",
    params(("id" = String, Path, description = "The complaint id (or order number)")),
    request_body = RulingBody,
    security(("bearer" = [])),
    responses((status = 200, description = "The complaint, ruled", body = danbao_app::complaints::ComplaintView), Problems)
)]
async fn complaint_ruling(
    State(app): State<App>,
    CallerExt(caller): CallerExt,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<RulingBody>,
) -> ApiResult<Json<danbao_app::complaints::ComplaintView>> {
    let ruling = danbao_domain::complaint::Ruling::parse(&b.kind, b.buyer_bps.or(b.refund_bps))
        .map_err(|e| AppError::invalid("ruling", e.to_string()))?;
    Ok(Json(app.rule_complaint(&caller, &id, ruling, &b.reason).await?))
}

/// Take a complaint (arbitrator)
#[utoipa::path(
    post,
    path = "/complaints/{id}/assign",
    params(("id" = String, Path, description = "The complaint id (or order number)")),
    security(("bearer" = [])),
    responses((status = 200, description = "The complaint, assigned to the caller", body = danbao_app::complaints::ComplaintView), Problems)
)]
async fn complaint_assign(
    State(app): State<App>,
    CallerExt(caller): CallerExt,
    Path(id): Path<String>,
) -> ApiResult<Json<danbao_app::complaints::ComplaintView>> {
    Ok(Json(app.assign_complaint(&caller, &id).await?))
}

/// Open complaints by deadline with triage's proposal (arbitrator)
#[utoipa::path(
    get,
    path = "/arbitration/queue",
    security(("bearer" = [])),
    responses((status = 200, description = "Open complaints", body = ComplaintList), Problems)
)]
async fn arbitration_queue(State(app): State<App>, CallerExt(caller): CallerExt) -> ApiResult<Json<ComplaintList>> {
    let items = app.complaint_queue(&caller).await?;
    Ok(Json(ComplaintList { items }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ReasonBody {
    reason: String,
}

/// Emergency freeze of a seller {reason} (arbitrator, admin)
#[utoipa::path(
    post,
    path = "/admin/sellers/{id}/freeze",
    params(("id" = String, Path, description = "The seller id (or order number)")),
    request_body = ReasonBody,
    security(("bearer" = [])),
    responses((status = 200, description = "The seller's standing", body = danbao_app::sellers::StandingView), Problems)
)]
async fn freeze_seller(
    State(app): State<App>,
    CallerExt(caller): CallerExt,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<ReasonBody>,
) -> ApiResult<Json<danbao_app::sellers::StandingView>> {
    Ok(Json(app.freeze_seller(&caller, &id, &b.reason).await?))
}

/// Lift a freeze {reason} (arbitrator, admin)
#[utoipa::path(
    post,
    path = "/admin/sellers/{id}/unfreeze",
    params(("id" = String, Path, description = "The seller id (or order number)")),
    request_body = ReasonBody,
    security(("bearer" = [])),
    responses((status = 200, description = "The seller's standing", body = danbao_app::sellers::StandingView), Problems)
)]
async fn unfreeze_seller(
    State(app): State<App>,
    CallerExt(caller): CallerExt,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<ReasonBody>,
) -> ApiResult<Json<danbao_app::sellers::StandingView>> {
    Ok(Json(app.unfreeze_seller(&caller, &id, &b.reason).await?))
}

/// Ban a seller for fraud and refund every open order {reason} (arbitrator, admin)
#[utoipa::path(
    post,
    path = "/admin/sellers/{id}/ban",
    params(("id" = String, Path, description = "The seller id (or order number)")),
    request_body = ReasonBody,
    security(("bearer" = [])),
    responses((status = 200, description = "What the ban did", body = danbao_app::sellers::BanView), Problems)
)]
async fn ban_seller(
    State(app): State<App>,
    CallerExt(caller): CallerExt,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<ReasonBody>,
) -> ApiResult<Json<danbao_app::sellers::BanView>> {
    Ok(Json(app.ban_seller(&caller, &id, &b.reason).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct DepositPaymentBody {
    amount_minor: i64,
    /// One of the configured rails' methods (none: the first).
    payment_method: Option<String>,
}

/// Pay the deposit in through the cashier (seller): returns the cashier to open
#[utoipa::path(
    post,
    path = "/seller/deposit/payments",
    request_body = DepositPaymentBody,
    security(("bearer" = [])),
    responses((status = 201, description = "The deposit payment, pending until paid", body = danbao_app::money::DepositPaymentView), Problems)
)]
async fn seller_pay_deposit(
    State(app): State<App>,
    CallerExt(caller): CallerExt,
    ApiJson(b): ApiJson<DepositPaymentBody>,
) -> ApiResult<Response> {
    let d = app
        .pay_deposit(&caller, b.amount_minor, b.payment_method.as_deref())
        .await?;
    Ok((StatusCode::CREATED, Json(d)).into_response())
}

/// The seller's deposit payments, newest first (seller)
#[utoipa::path(
    get,
    path = "/seller/deposit/payments",
    security(("bearer" = [])),
    responses((status = 200, description = "Deposit payments", body = Vec<danbao_app::money::DepositPaymentView>), Problems)
)]
async fn seller_deposit_payments(
    State(app): State<App>,
    CallerExt(caller): CallerExt,
) -> ApiResult<Json<Vec<danbao_app::money::DepositPaymentView>>> {
    Ok(Json(app.deposit_payments(&caller).await?))
}

/// Take the deposit back into the available balance (seller): only after 30 days with no
/// open order or complaint
#[utoipa::path(
    post,
    path = "/seller/deposit/release",
    security(("bearer" = [])),
    responses((status = 200, description = "The balances after the release", body = danbao_app::money::BalanceView), Problems)
)]
async fn seller_deposit_release(
    State(app): State<App>,
    CallerExt(caller): CallerExt,
) -> ApiResult<Json<danbao_app::money::BalanceView>> {
    Ok(Json(app.release_deposit(&caller).await?))
}

/// The caller's notifications, newest first; an admin's include the admins' alerts
#[utoipa::path(
    get,
    path = "/notifications",
    security(("bearer" = [])),
    responses((status = 200, description = "Notifications, newest first (at most 50)", body = Vec<danbao_app::notify::Notification>), Problems)
)]
async fn notifications(
    State(app): State<App>,
    CallerExt(caller): CallerExt,
) -> ApiResult<Json<Vec<danbao_app::notify::Notification>>> {
    Ok(Json(app.notifications(&caller).await?))
}

/// The seller's balances (seller)
#[utoipa::path(
    get,
    path = "/seller/balance",
    security(("bearer" = [])),
    responses((status = 200, description = "The seller's balances", body = danbao_app::money::BalanceView), Problems)
)]
async fn seller_balance(
    State(app): State<App>,
    CallerExt(caller): CallerExt,
) -> ApiResult<Json<danbao_app::money::BalanceView>> {
    Ok(Json(app.seller_balance(&caller).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct AmountBody {
    amount_minor: i64,
}

/// Lock part of the available balance as a deposit (seller)
#[utoipa::path(
    post,
    path = "/seller/deposit",
    request_body = AmountBody,
    security(("bearer" = [])),
    responses((status = 200, description = "The deposit", body = danbao_app::money::BalanceView), Problems)
)]
async fn seller_deposit(
    State(app): State<App>,
    CallerExt(caller): CallerExt,
    ApiJson(b): ApiJson<AmountBody>,
) -> ApiResult<Json<danbao_app::money::BalanceView>> {
    Ok(Json(app.lock_deposit(&caller, b.amount_minor).await?))
}

/// Withdraw from the available balance (seller)
#[utoipa::path(
    post,
    path = "/seller/withdrawals",
    request_body = AmountBody,
    security(("bearer" = [])),
    responses((status = 201, description = "The withdrawal", body = danbao_app::money::WithdrawalView), Problems)
)]
async fn seller_withdraw(
    State(app): State<App>,
    CallerExt(caller): CallerExt,
    ApiJson(b): ApiJson<AmountBody>,
) -> ApiResult<Response> {
    let w = app.withdraw(&caller, b.amount_minor).await?;
    Ok((StatusCode::CREATED, Json(w)).into_response())
}

/// Pay into the compensation fund (admin)
#[utoipa::path(
    post,
    path = "/admin/compensation-fund",
    request_body = AmountBody,
    security(("bearer" = [])),
    responses((status = 200, description = "The fund", body = danbao_app::money::CompensationFundView), Problems)
)]
async fn fund_compensation(
    State(app): State<App>,
    CallerExt(caller): CallerExt,
    ApiJson(b): ApiJson<AmountBody>,
) -> ApiResult<Json<danbao_app::money::CompensationFundView>> {
    Ok(Json(app.fund_compensation(&caller, b.amount_minor).await?))
}

// ---- response bodies the use cases do not shape themselves ----

/// An account, as registration and login show it.
#[derive(Serialize, ToSchema)]
struct AccountView {
    #[schema(value_type = String)]
    id: UserId,
    username: String,
    role: Role,
}

#[derive(Serialize, ToSchema)]
struct SessionView {
    /// Send it as `Authorization: Bearer <token>`.
    token: String,
    user: AccountView,
}

#[derive(Serialize, ToSchema)]
struct ProductPage {
    items: Vec<ProductView>,
    /// Pass as `?cursor=` for the next page; null on the last one.
    next_cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
struct OrderList {
    items: Vec<OrderView>,
    next_cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
struct LookupView {
    /// Opens the order as a guest (`?access_token=`).
    access_token: String,
    order: OrderView,
}

/// 查单's answer: one order (asked by id or number), or the contact's orders.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
enum LookupAnswer {
    One(Box<LookupView>),
    Many { items: Vec<LookupView> },
}

#[derive(Serialize, ToSchema)]
struct DeliveryView {
    items: Vec<DeliveryItem>,
}

#[derive(Serialize, ToSchema)]
struct OrderStatusView {
    id: String,
    #[schema(value_type = String)]
    status: OrderStatus,
}

#[derive(Serialize, ToSchema)]
struct RulesView {
    version: i64,
    content_hash: String,
    /// The rule set (SPEC §10), as published.
    #[schema(value_type = Object)]
    rules: RuleSet,
}

#[derive(Serialize, ToSchema)]
struct LedgerCheckView {
    ok: bool,
    violations: Vec<String>,
}

#[derive(Serialize, ToSchema)]
struct JobView {
    id: String,
    kind: String,
    subject: String,
    status: String,
    attempts: i64,
    last_error: Option<String>,
    run_at: String,
}

#[derive(Serialize, ToSchema)]
struct JobList {
    items: Vec<JobView>,
}

#[derive(Serialize, ToSchema)]
struct RetriedJob {
    id: String,
    status: &'static str,
}

#[derive(Serialize, ToSchema)]
struct SecurityEventList {
    items: Vec<danbao_app::admin::SecurityEventView>,
}

#[derive(Serialize, ToSchema)]
struct ComplaintList {
    items: Vec<danbao_app::complaints::ComplaintView>,
}

#[derive(Serialize, ToSchema)]
struct EvidenceAdded {
    evidence: danbao_app::complaints::EvidenceView,
    /// The `c2sp.org/tlog-proof@v1` receipt, once the evidence is in the log.
    receipt: Option<String>,
}
