//! The JSON API under /api/v1. A handler parses, calls one use case, maps the result.

use crate::extract::{ApiJson, CallerExt};
use crate::problem::{ApiResult, Problem};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use danbao_app::{App, AppError, Caller, NewProduct, PlaceOrder, Role};
use serde::Deserialize;
use std::collections::BTreeMap;

/// JSON bodies are small; a larger one is a mistake or an attack.
pub const JSON_BODY_MAX_BYTES: usize = 64 * 1024;
/// An evidence file of the largest allowed size fits in this.
pub const EVIDENCE_BODY_MAX_BYTES: usize = danbao_app::files::FILE_BYTES_MAX + 64 * 1024;
/// A card-key import of the largest allowed size (10 000 keys) fits in this.
pub const CARD_KEYS_BODY_MAX_BYTES: usize = 6 * 1024 * 1024;

pub fn routes() -> Router<App> {
    Router::new()
        .route("/accounts", post(register))
        .route("/sessions", post(login))
        .route("/products", get(list_products))
        .route("/products/{id}", get(product))
        .route("/seller/products", post(create_product).get(seller_products))
        .route("/seller/products/{id}", axum::routing::patch(update_product))
        .route(
            "/seller/products/{id}/card-keys",
            post(import_card_keys).layer(axum::extract::DefaultBodyLimit::max(CARD_KEYS_BODY_MAX_BYTES)),
        )
        .route("/seller/orders/{id}/deliver", post(seller_deliver))
        .route("/seller/orders/{id}/decline", post(seller_decline))
        .route("/orders", post(place_order).get(my_orders))
        .route("/orders/lookup", post(lookup_order))
        .route("/orders/{id}", get(order))
        .route("/orders/{id}/timeline", get(timeline))
        .route("/orders/{id}/delivery", get(delivery))
        .route("/orders/{id}/confirm", post(confirm))
        .route("/orders/{id}/cancel", post(cancel))
        .route("/payments/{provider}/notify", post(notify))
        .route("/orders/{id}/complaints", post(open_complaint).get(order_complaints))
        .route("/complaints/{id}", get(complaint))
        .route(
            "/complaints/{id}/evidence",
            post(add_evidence).layer(axum::extract::DefaultBodyLimit::max(EVIDENCE_BODY_MAX_BYTES)),
        )
        .route("/complaints/{id}/files/{sha256}", get(complaint_file))
        .route("/complaints/{id}/response", post(complaint_response))
        .route("/complaints/{id}/withdraw", post(complaint_withdraw))
        .route("/complaints/{id}/steps", post(complaint_step))
        .route("/complaints/{id}/ruling", post(complaint_ruling))
        .route("/complaints/{id}/assign", post(complaint_assign))
        .route("/arbitration/queue", get(arbitration_queue))
        .route("/seller/balance", get(seller_balance))
        .route("/seller/deposit", post(seller_deposit))
        .route("/seller/withdrawals", post(seller_withdraw))
        .route("/admin/compensation-fund", post(fund_compensation))
        .route("/admin/sellers/{id}/freeze", post(freeze_seller))
        .route("/admin/sellers/{id}/unfreeze", post(unfreeze_seller))
        .route("/admin/sellers/{id}/ban", post(ban_seller))
        .route("/rules", get(rules))
        .route("/evidence/checkpoint", get(evidence_checkpoint))
        .route("/evidence/key", get(evidence_key))
        .route("/evidence/receipts/{leaf}", get(evidence_receipt))
        .route("/evidence/consistency", get(evidence_consistency))
        .route("/orders/{id}/payments", post(new_payment_attempt))
        .route("/admin/ledger/check", get(ledger_check))
        .route("/admin/stats", get(admin_stats))
        .route("/admin/orders/{id}", get(admin_order))
        .route("/admin/reconciliation", get(reconciliation_overview))
        .route("/admin/reconciliation/statements", post(reconcile))
        .route("/admin/reconciliation/exceptions/{id}/resolve", post(resolve_exception))
        .route("/admin/jobs", get(admin_jobs))
        .route("/admin/security-events", get(security_events))
        .route("/admin/jobs/{id}/retry", post(retry_job))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RegisterBody {
    username: String,
    password: String,
    role: String,
}

async fn register(State(app): State<App>, ApiJson(b): ApiJson<RegisterBody>) -> ApiResult<Response> {
    let role = match b.role.as_str() {
        "buyer" => Role::Buyer,
        "seller" => Role::Seller,
        _ => return Err(AppError::invalid("role", "must be buyer or seller").into()),
    };
    let user = app.register(&b.username, &b.password, role).await?;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({"id": user.id, "username": user.username, "role": user.role})),
    )
        .into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginBody {
    username: String,
    password: String,
}

async fn login(State(app): State<App>, ApiJson(b): ApiJson<LoginBody>) -> ApiResult<Json<serde_json::Value>> {
    let (token, user) = app.login(&b.username, &b.password).await?;
    Ok(Json(
        serde_json::json!({"token": token, "user": {"id": user.id, "username": user.username, "role": user.role}}),
    ))
}

#[derive(Deserialize)]
struct PageQuery {
    cursor: Option<String>,
    limit: Option<i64>,
}

async fn list_products(State(app): State<App>, Query(q): Query<PageQuery>) -> ApiResult<Json<serde_json::Value>> {
    let (items, next) = app.list_products(q.cursor.as_deref(), q.limit.unwrap_or(20)).await?;
    Ok(Json(serde_json::json!({"items": items, "next_cursor": next})))
}

async fn product(State(app): State<App>, Path(id): Path<String>) -> ApiResult<Json<danbao_app::ProductView>> {
    Ok(Json(app.product(&id).await?))
}

#[derive(Deserialize)]
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

async fn update_product(
    State(app): State<App>,
    CallerExt(caller): CallerExt,
    Path(id): Path<String>,
    ApiJson(edit): ApiJson<danbao_app::ProductEdit>,
) -> ApiResult<Json<danbao_app::ProductView>> {
    Ok(Json(app.update_product(&caller, &id, edit).await?))
}

async fn seller_products(State(app): State<App>, CallerExt(caller): CallerExt) -> ApiResult<Json<serde_json::Value>> {
    let items = app.seller_products(&caller).await?;
    Ok(Json(serde_json::json!({"items": items, "next_cursor": null})))
}

async fn import_card_keys(
    State(app): State<App>,
    CallerExt(caller): CallerExt,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Json<danbao_app::ImportReport>> {
    let text = std::str::from_utf8(&body).map_err(|_| AppError::invalid("body", "must be UTF-8 text"))?;
    Ok(Json(app.import_card_keys(&caller, &id, text).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OrderBody {
    product_id: String,
    quantity: i64,
    contact: Option<String>,
    query_password: Option<String>,
    #[serde(default)]
    delivery_fields: BTreeMap<String, String>,
}

async fn place_order(State(app): State<App>, CallerExt(caller): CallerExt, body: Bytes) -> ApiResult<Response> {
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
    let placed = app
        .place_order(
            &caller,
            PlaceOrder {
                product_id: b.product_id,
                quantity: b.quantity,
                contact: b.contact,
                query_password: b.query_password,
                delivery_fields: b.delivery_fields,
            },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(placed)).into_response())
}

async fn my_orders(State(app): State<App>, CallerExt(caller): CallerExt) -> ApiResult<Json<serde_json::Value>> {
    let items = app.orders_of(&caller).await?;
    Ok(Json(serde_json::json!({"items": items, "next_cursor": null})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LookupBody {
    order_id: String,
    contact: String,
    query_password: String,
}

async fn lookup_order(State(app): State<App>, ApiJson(b): ApiJson<LookupBody>) -> ApiResult<Json<serde_json::Value>> {
    let token = app
        .lookup_guest_order(&b.order_id, &b.contact, &b.query_password)
        .await?;
    let order = app.order(&Caller::GuestToken(token.clone()), &b.order_id).await?;
    Ok(Json(serde_json::json!({"access_token": token, "order": order})))
}

async fn order(
    State(app): State<App>,
    CallerExt(caller): CallerExt,
    Path(id): Path<String>,
) -> ApiResult<Json<danbao_app::OrderView>> {
    Ok(Json(app.order(&caller, &id).await?))
}

/// The order's events, each with its receipt and checked against the evidence log.
async fn timeline(
    State(app): State<App>,
    CallerExt(caller): CallerExt,
    Path(id): Path<String>,
) -> ApiResult<Json<danbao_app::evidence::Timeline>> {
    Ok(Json(app.order_timeline(&caller, &id).await?))
}

async fn delivery(
    State(app): State<App>,
    CallerExt(caller): CallerExt,
    Path(id): Path<String>,
) -> ApiResult<Json<serde_json::Value>> {
    let items = app.reveal_delivery(&caller, &id).await?;
    Ok(Json(serde_json::json!({"items": items})))
}

async fn confirm(
    State(app): State<App>,
    CallerExt(caller): CallerExt,
    Path(id): Path<String>,
) -> ApiResult<Json<serde_json::Value>> {
    let order = app.confirm(&caller, &id).await?;
    Ok(Json(serde_json::json!({"id": order.id, "status": order.status})))
}

async fn cancel(
    State(app): State<App>,
    CallerExt(caller): CallerExt,
    Path(id): Path<String>,
) -> ApiResult<Json<serde_json::Value>> {
    let order = app.cancel(&caller, &id).await?;
    Ok(Json(serde_json::json!({"id": order.id, "status": order.status})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeliverBody {
    note: String,
}

async fn seller_deliver(
    State(app): State<App>,
    CallerExt(caller): CallerExt,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<DeliverBody>,
) -> ApiResult<Json<danbao_app::OrderView>> {
    Ok(Json(app.seller_deliver(&caller, &id, &b.note).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeclineBody {
    reason: String,
}

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
async fn notify(
    State(app): State<App>,
    Path(provider): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    if provider != app.provider.name() {
        return Err(AppError::NotFound("payment provider").into());
    }
    let signature = headers
        .get(danbao_sandbox::wire::SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok());
    let ack = app.apply_notification("webhook", &body, signature).await?;
    Ok((StatusCode::OK, [(axum::http::header::CONTENT_TYPE, "text/plain")], ack).into_response())
}

async fn rules(State(app): State<App>) -> ApiResult<Json<serde_json::Value>> {
    let rules = app.current_rules();
    Ok(Json(serde_json::json!({
        "version": rules.version,
        "content_hash": rules.content_hash(),
        "rules": &*rules,
    })))
}

async fn ledger_check(State(app): State<App>, CallerExt(caller): CallerExt) -> ApiResult<Json<serde_json::Value>> {
    let violations = app.ledger_check_as(&caller).await?;
    let list: Vec<String> = violations.iter().map(|v| v.to_string()).collect();
    Ok(Json(serde_json::json!({"ok": list.is_empty(), "violations": list})))
}

pub fn not_found_fallback() -> Problem {
    Problem::new(StatusCode::NOT_FOUND, "not-found", "Not found", "no such route")
}

async fn new_payment_attempt(
    State(app): State<App>,
    CallerExt(caller): CallerExt,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let payment = app.new_payment_attempt(&caller, &id).await?;
    Ok((StatusCode::CREATED, Json(payment)).into_response())
}

async fn admin_stats(
    State(app): State<App>,
    CallerExt(caller): CallerExt,
) -> ApiResult<Json<danbao_app::admin::Stats>> {
    Ok(Json(app.stats(&caller).await?))
}

async fn admin_order(
    State(app): State<App>,
    CallerExt(caller): CallerExt,
    Path(id): Path<String>,
) -> ApiResult<Json<danbao_app::admin::AdminOrderView>> {
    Ok(Json(app.admin_order(&caller, &id).await?))
}

async fn reconciliation_overview(
    State(app): State<App>,
    CallerExt(caller): CallerExt,
) -> ApiResult<Json<danbao_app::admin::ReconciliationOverview>> {
    Ok(Json(app.reconciliation_overview(&caller).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PeriodBody {
    from: String,
    to: String,
}

fn parse_time(field: &'static str, text: &str) -> Result<i64, Problem> {
    danbao_app::clock::parse_rfc3339(text)
        .ok_or_else(|| AppError::invalid(field, "an RFC 3339 time, e.g. 2026-11-01T00:00:00Z").into())
}

async fn reconcile(
    State(app): State<App>,
    CallerExt(caller): CallerExt,
    ApiJson(b): ApiJson<PeriodBody>,
) -> ApiResult<Json<danbao_app::admin::ReconciliationReport>> {
    let from = parse_time("from", &b.from)?;
    let to = parse_time("to", &b.to)?;
    Ok(Json(app.reconcile_as(&caller, from, to).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ResolveBody {
    action: String,
    note: String,
}

async fn resolve_exception(
    State(app): State<App>,
    CallerExt(caller): CallerExt,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<ResolveBody>,
) -> ApiResult<Json<danbao_app::admin::ReconciliationItemView>> {
    Ok(Json(app.resolve_exception(&caller, &id, &b.action, &b.note).await?))
}

#[derive(Deserialize)]
struct JobsQuery {
    status: Option<String>,
}

async fn admin_jobs(
    State(app): State<App>,
    CallerExt(caller): CallerExt,
    Query(q): Query<JobsQuery>,
) -> ApiResult<Json<serde_json::Value>> {
    let rows = app.admin_jobs(&caller, q.status.as_deref().unwrap_or("dead")).await?;
    let items: Vec<serde_json::Value> = rows
        .into_iter()
        .map(|j| {
            serde_json::json!({"id": j.id, "kind": j.kind, "subject": j.payload, "status": j.status,
                "attempts": j.attempts, "last_error": j.last_error, "run_at": danbao_app::clock::rfc3339(j.run_at)})
        })
        .collect();
    Ok(Json(serde_json::json!({"items": items})))
}

async fn retry_job(
    State(app): State<App>,
    CallerExt(caller): CallerExt,
    Path(id): Path<String>,
) -> ApiResult<Json<serde_json::Value>> {
    app.retry_dead_job(&caller, &id).await?;
    Ok(Json(serde_json::json!({"id": id, "status": "queued"})))
}

async fn security_events(State(app): State<App>, CallerExt(caller): CallerExt) -> ApiResult<Json<serde_json::Value>> {
    let items = app.security_events(&caller).await?;
    Ok(Json(serde_json::json!({"items": items})))
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
async fn evidence_checkpoint(State(app): State<App>) -> ApiResult<Response> {
    Ok(text(app.evidence_checkpoint().await?))
}

/// The log's verifier key in signed-note vkey form.
async fn evidence_key(State(app): State<App>) -> Response {
    text(format!("{}\n", app.log_signer().vkey()))
}

async fn evidence_receipt(State(app): State<App>, Path(leaf): Path<String>) -> ApiResult<Response> {
    let index: u64 = leaf
        .parse()
        .map_err(|_| AppError::invalid("leaf", "a leaf index: a whole number"))?;
    Ok(text(app.evidence_receipt(index).await?))
}

#[derive(Deserialize)]
struct ConsistencyQuery {
    from: Option<String>,
    to: Option<String>,
}

/// A consistency proof between two signed checkpoints: the two notes, then the proof
/// hashes in base64, one per line.
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OpenComplaintBody {
    kind: String,
    description: Option<String>,
}

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

async fn order_complaints(
    State(app): State<App>,
    CallerExt(caller): CallerExt,
    Path(id): Path<String>,
) -> ApiResult<Json<serde_json::Value>> {
    let items = app.complaints_of_order(&caller, &id).await?;
    Ok(Json(serde_json::json!({"items": items})))
}

async fn complaint(
    State(app): State<App>,
    CallerExt(caller): CallerExt,
    Path(id): Path<String>,
) -> ApiResult<Json<danbao_app::complaints::ComplaintView>> {
    Ok(Json(app.complaint(&caller, &id).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TextEvidenceBody {
    kind: String,
    text: String,
}

#[derive(Deserialize)]
struct FileEvidenceQuery {
    kind: Option<String>,
    sha256: Option<String>,
}

/// Evidence: JSON `{kind, text}`, or a file as the raw body with `?kind=` and optionally
/// `?sha256=` (checked). Returns the evidence item and its receipt.
async fn add_evidence(
    State(app): State<App>,
    CallerExt(caller): CallerExt,
    Path(id): Path<String>,
    Query(q): Query<FileEvidenceQuery>,
    headers: HeaderMap,
    body: Bytes,
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
        Json(serde_json::json!({"evidence": item, "receipt": receipt})),
    )
        .into_response())
}

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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TextBody {
    text: String,
}

async fn complaint_response(
    State(app): State<App>,
    CallerExt(caller): CallerExt,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<TextBody>,
) -> ApiResult<Json<danbao_app::complaints::ComplaintView>> {
    Ok(Json(app.seller_respond(&caller, &id, &b.text).await?))
}

async fn complaint_withdraw(
    State(app): State<App>,
    CallerExt(caller): CallerExt,
    Path(id): Path<String>,
) -> ApiResult<Json<danbao_app::complaints::ComplaintView>> {
    Ok(Json(app.withdraw_complaint(&caller, &id).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StepBody {
    step: String,
    note: String,
}

async fn complaint_step(
    State(app): State<App>,
    CallerExt(caller): CallerExt,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<StepBody>,
) -> ApiResult<Json<danbao_app::complaints::ComplaintView>> {
    Ok(Json(app.arbitrator_step(&caller, &id, &b.step, &b.note).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RulingBody {
    kind: String,
    buyer_bps: Option<i64>,
    refund_bps: Option<i64>,
    reason: String,
}

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

async fn complaint_assign(
    State(app): State<App>,
    CallerExt(caller): CallerExt,
    Path(id): Path<String>,
) -> ApiResult<Json<danbao_app::complaints::ComplaintView>> {
    Ok(Json(app.assign_complaint(&caller, &id).await?))
}

async fn arbitration_queue(State(app): State<App>, CallerExt(caller): CallerExt) -> ApiResult<Json<serde_json::Value>> {
    let items = app.complaint_queue(&caller).await?;
    Ok(Json(serde_json::json!({"items": items})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReasonBody {
    reason: String,
}

async fn freeze_seller(
    State(app): State<App>,
    CallerExt(caller): CallerExt,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<ReasonBody>,
) -> ApiResult<Json<danbao_app::sellers::StandingView>> {
    Ok(Json(app.freeze_seller(&caller, &id, &b.reason).await?))
}

async fn unfreeze_seller(
    State(app): State<App>,
    CallerExt(caller): CallerExt,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<ReasonBody>,
) -> ApiResult<Json<danbao_app::sellers::StandingView>> {
    Ok(Json(app.unfreeze_seller(&caller, &id, &b.reason).await?))
}

async fn ban_seller(
    State(app): State<App>,
    CallerExt(caller): CallerExt,
    Path(id): Path<String>,
    ApiJson(b): ApiJson<ReasonBody>,
) -> ApiResult<Json<danbao_app::sellers::BanView>> {
    Ok(Json(app.ban_seller(&caller, &id, &b.reason).await?))
}

async fn seller_balance(
    State(app): State<App>,
    CallerExt(caller): CallerExt,
) -> ApiResult<Json<danbao_app::money::BalanceView>> {
    Ok(Json(app.seller_balance(&caller).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AmountBody {
    amount_minor: i64,
}

async fn seller_deposit(
    State(app): State<App>,
    CallerExt(caller): CallerExt,
    ApiJson(b): ApiJson<AmountBody>,
) -> ApiResult<Json<danbao_app::money::BalanceView>> {
    Ok(Json(app.lock_deposit(&caller, b.amount_minor).await?))
}

async fn seller_withdraw(
    State(app): State<App>,
    CallerExt(caller): CallerExt,
    ApiJson(b): ApiJson<AmountBody>,
) -> ApiResult<Response> {
    let w = app.withdraw(&caller, b.amount_minor).await?;
    Ok((StatusCode::CREATED, Json(w)).into_response())
}

async fn fund_compensation(
    State(app): State<App>,
    CallerExt(caller): CallerExt,
    ApiJson(b): ApiJson<AmountBody>,
) -> ApiResult<Json<danbao_app::money::CompensationFundView>> {
    Ok(Json(app.fund_compensation(&caller, b.amount_minor).await?))
}
