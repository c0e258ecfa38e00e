//! Server-rendered pages (zh-CN): the storefront, product pages with guest checkout,
//! the order page (pay, reveal, confirm, refunds, timeline) and 查单 (guest lookup).
//!
//! A handler parses the form, calls one use case and renders a template. Every error
//! becomes a friendly Chinese page with the matching status; internal causes go to the
//! log, never to the page. Askama escapes everything; no user text is marked safe.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Form, Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use danbao_app::{App, AppError, Caller, DeliveryItem, OrderView, PlaceOrder, ProductView, TimelineEvent};
use danbao_domain::{Money, OrderStatus};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};

/// Products per storefront page.
const PAGE_SIZE: i64 = 20;
/// Form fields that carry a manual product's delivery fields are named `field_<name>`.
const FIELD_PREFIX: &str = "field_";
/// An access token is a hex HMAC; anything much longer is not one.
const TOKEN_LEN_MAX: usize = 128;

pub fn routes() -> Router<App> {
    Router::new()
        .route("/", get(index))
        .route("/products/{id}", get(product_page))
        .route("/products/{id}/buy", post(buy))
        .route("/orders/{id}", get(order_page))
        .route("/orders/{id}/reveal", post(reveal))
        .route("/orders/{id}/confirm", post(confirm))
        .route("/lookup", get(lookup_form).post(lookup))
}

// ---- errors ----

/// An error as a page: a status and a message fit to show a buyer.
struct PageError {
    status: StatusCode,
    message: String,
}

impl PageError {
    fn new(status: StatusCode, message: impl Into<String>) -> PageError {
        PageError {
            status,
            message: message.into(),
        }
    }

    fn order_not_found() -> PageError {
        PageError::new(StatusCode::NOT_FOUND, "订单不存在")
    }
}

impl From<AppError> for PageError {
    fn from(e: AppError) -> PageError {
        use StatusCode as S;
        match e {
            AppError::NotFound("order") => PageError::order_not_found(),
            AppError::NotFound("product") => PageError::new(S::NOT_FOUND, "商品不存在或已下架"),
            AppError::NotFound(_) => PageError::new(S::NOT_FOUND, "您要找的内容不存在"),
            AppError::Validation { field, message } => PageError::new(
                S::UNPROCESSABLE_ENTITY,
                format!("{}：{}", field_zh(field), message_zh(&message)),
            ),
            AppError::OutOfStock => PageError::new(S::CONFLICT, "库存不足，请减少购买数量或稍后再试"),
            AppError::IllegalTransition(_) | AppError::Conflict(_) => {
                PageError::new(S::CONFLICT, "订单当前的状态不允许这个操作，请刷新页面后查看最新状态")
            }
            AppError::Unauthenticated | AppError::BadCredentials => {
                PageError::new(S::UNAUTHORIZED, "请先登录后再进行此操作")
            }
            AppError::Forbidden(_) => PageError::new(S::FORBIDDEN, "您无权进行此操作"),
            AppError::ProviderUnavailable(why) => {
                tracing::warn!(error = %why, "payment provider unavailable");
                PageError::new(S::BAD_GATEWAY, "支付通道暂时不可用，请稍后重试")
            }
            e @ (AppError::BadSignature
            | AppError::BadNotification(_)
            | AppError::Store(_)
            | AppError::Ledger(_)
            | AppError::Internal(_)) => {
                tracing::error!(error = %e, "web page failed");
                PageError::new(S::INTERNAL_SERVER_ERROR, "系统繁忙，请稍后重试")
            }
        }
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let title = match self.status {
            StatusCode::NOT_FOUND if self.message == "订单不存在" => "订单不存在",
            StatusCode::NOT_FOUND => "未找到",
            s if s.is_server_error() => "系统繁忙",
            _ => "无法完成操作",
        };
        let page = ErrorPage {
            title: title.to_string(),
            message: self.message,
        };
        (self.status, private_headers(), page).into_response()
    }
}

fn field_zh(field: &str) -> &'static str {
    match field {
        "quantity" => "购买数量",
        "contact" => "联系方式",
        "query_password" => "查单密码",
        "delivery_fields" => "收货信息",
        "cursor" => "分页参数",
        "product" => "商品",
        "amount" => "金额",
        _ => "输入内容",
    }
}

/// The use cases' validation messages in Chinese, for the shapes they take; anything
/// else is shown as written.
fn message_zh(message: &str) -> String {
    if let Some(rest) = message.strip_prefix("must be ") {
        if let Some((lo, hi)) = rest.strip_suffix(" characters").and_then(|r| r.split_once(" to ")) {
            return format!("长度须为 {lo} 到 {hi} 个字符");
        }
        if let Some((lo, hi)) = rest.split_once(" to ") {
            return format!("须在 {lo} 到 {hi} 之间");
        }
    }
    if let Some(name) = message.strip_suffix(" is required") {
        return format!("请填写“{name}”");
    }
    if let Some(name) = message.strip_suffix(" is not a field of this product") {
        return format!("“{name}”不是本商品需要填写的信息");
    }
    match message {
        "must not contain control characters" => "不能包含控制字符".to_string(),
        "amount too large" => "金额过大".to_string(),
        "not a cursor from this API" => "无效的分页参数".to_string(),
        other => other.to_string(),
    }
}

/// Pages that may show an order's secret link or goods: never cached, never leaked
/// through the Referer header.
fn private_headers() -> [(header::HeaderName, &'static str); 2] {
    [
        (header::CACHE_CONTROL, "no-store"),
        (header::REFERRER_POLICY, "no-referrer"),
    ]
}

// ---- view models ----

fn yuan(minor: i64) -> String {
    Money::from_minor(minor).to_string()
}

fn kind_label(kind: &str) -> &'static str {
    match kind {
        "card_key" => "卡密自动发货",
        "manual" => "人工发货",
        _ => "其他",
    }
}

/// A time as RFC 3339 (for `<time datetime>`) and as shown.
struct TimeView {
    rfc3339: String,
    display: String,
}

impl TimeView {
    fn new(rfc3339: &str) -> TimeView {
        // "2025-01-02T03:04:05.678Z" → "2025-01-02 03:04:05 UTC"
        let mut display = rfc3339.replacen('T', " ", 1);
        if let Some(dot) = display.find('.') {
            let tail: String = display[dot..]
                .chars()
                .skip_while(|c| *c == '.' || c.is_ascii_digit())
                .collect();
            display.truncate(dot);
            display.push_str(&tail);
        }
        if let Some(stripped) = display.strip_suffix('Z') {
            display = format!("{stripped} UTC");
        }
        TimeView {
            rfc3339: rfc3339.to_string(),
            display,
        }
    }
}

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
    fn new(p: &ProductView) -> ProductItem {
        ProductItem {
            id: p.id.clone(),
            title: p.title.clone(),
            description: p.description.clone(),
            category: p.category.clone(),
            price: yuan(p.price_minor),
            kind_label: kind_label(&p.delivery_kind),
            stock: p.stock,
            sold_out: p.stock.is_some_and(|n| n <= 0),
        }
    }
}

struct FieldInput {
    label: String,
    input_name: String,
    value: String,
}

struct InfoRow {
    label: String,
    value: String,
}

struct TimeRow {
    label: &'static str,
    rfc3339: String,
    display: String,
}

struct OrderItem {
    id: String,
    status_label: String,
    amount: String,
    unit_price: String,
    quantity: i64,
    kind_label: &'static str,
    product_id: String,
}

struct RefundItem {
    amount: String,
    reason: String,
    status: String,
    created_at: TimeView,
    confirmed_at: Option<TimeView>,
}

struct RevealedItem {
    kind_label: &'static str,
    content: String,
}

struct EventItem {
    at: TimeView,
    label: String,
    detail: Option<String>,
}

fn event_label(kind: &str) -> String {
    match kind {
        "created" => "订单创建，库存已预留",
        "paid" => "付款已到账，资金由平台托管",
        "delivered" => "已发货",
        "delivery_revealed" => "买家查看了发货内容",
        "confirmed" => "买家确认收货",
        "auto_confirmed" => "超时自动确认收货",
        "completed" => "交易完成，款项结算给卖家",
        "expired" => "超时未支付，订单关闭",
        "cancelled" => "订单已取消",
        "delivery_deadline_passed" => "卖家超时未发货",
        "refund_requested" => "发起退款",
        "refund_confirmed" => "退款已到账",
        "payment_refused" => "付款未被接受，将原路退回",
        "payment_mismatch" => "付款金额与订单不符，待人工核查",
        other => other,
    }
    .to_string()
}

fn refund_reason_zh(reason: &str) -> String {
    match reason {
        "order_refunded" => "订单退款",
        "unknown_order" => "无法对应订单的付款",
        "already_paid" => "重复付款",
        "out_of_stock" => "付款时已无库存",
        other => other,
    }
    .to_string()
}

fn refund_status_zh(status: &str) -> String {
    match status {
        "requested" => "退款处理中",
        "confirmed" => "已退款",
        "failed" => "退款失败，处理中",
        other => other,
    }
    .to_string()
}

/// A short, readable summary of an event's detail: amounts in yuan, content hashes as
/// evidence, anything else as `key: value`.
fn event_detail(detail: &serde_json::Value) -> Option<String> {
    let obj = detail.as_object()?;
    let mut parts = Vec::new();
    for (k, v) in obj {
        let text = match v {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Array(items) => items
                .iter()
                .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_string))
                .collect::<Vec<_>>()
                .join(", "),
            other => other.to_string(),
        };
        let part = match (k.as_str(), v.as_i64()) {
            ("amount_minor", Some(m)) => format!("金额 ¥{}", yuan(m)),
            ("paid_minor", Some(m)) => format!("实付 ¥{}", yuan(m)),
            ("released_minor", Some(m)) => format!("结算金额 ¥{}", yuan(m)),
            ("fee_bps", Some(bps)) => format!("平台费率 {}.{:02}%", bps / 100, bps % 100),
            ("items", Some(n)) => format!("件数 {n}"),
            ("viewer", _) if text == "guest" => "查看者 游客".to_string(),
            ("viewer", _) => "查看者 买家".to_string(),
            ("payment_id", _) => format!("支付单号 {text}"),
            ("refund_id", _) => format!("退款单号 {text}"),
            ("currency", _) => format!("币种 {text}"),
            ("quantity", Some(n)) => format!("数量 {n}"),
            ("rule_version", Some(n)) => format!("规则版本 {n}"),
            ("content_sha256", _) => format!("内容摘要 SHA-256: {text}"),
            ("by", _) => match text.as_str() {
                "system" => "系统自动".to_string(),
                "seller" => "卖家".to_string(),
                "buyer" => "买家".to_string(),
                _ => format!("by: {text}"),
            },
            ("reason", _) => format!("原因 {}", refund_reason_zh(&text)),
            _ => format!("{k}: {text}"),
        };
        parts.push(part);
    }
    (!parts.is_empty()).then(|| parts.join("；"))
}

// ---- templates ----

#[derive(Template, WebTemplate)]
#[template(path = "error.html")]
struct ErrorPage {
    title: String,
    message: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "index.html")]
struct IndexPage {
    products: Vec<ProductItem>,
    next_cursor: Option<String>,
    first_page: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "product.html")]
struct ProductPage {
    product: ProductItem,
    fields: Vec<FieldInput>,
    quantity: String,
    contact: String,
    error: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "order.html")]
struct OrderPage {
    order: OrderItem,
    token: String,
    times: Vec<TimeRow>,
    fields: Vec<InfoRow>,
    pay_url: Option<String>,
    can_reveal: bool,
    can_confirm: bool,
    revealed: Option<Vec<RevealedItem>>,
    refunds: Vec<RefundItem>,
    timeline: Vec<EventItem>,
    error: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "lookup.html")]
struct LookupPage {
    order_id: String,
    contact: String,
    error: Option<String>,
}

// ---- storefront ----

#[derive(Deserialize)]
struct PageQuery {
    cursor: Option<String>,
}

async fn index(State(app): State<App>, Query(q): Query<PageQuery>) -> Result<Response, PageError> {
    let cursor = q.cursor.as_deref().filter(|c| !c.is_empty());
    let (items, next) = app.list_products(cursor, PAGE_SIZE).await?;
    Ok(IndexPage {
        products: items.iter().map(ProductItem::new).collect(),
        next_cursor: next,
        first_page: cursor.is_none(),
    }
    .into_response())
}

fn product_page_for(p: &ProductView, values: &HashMap<String, String>, error: Option<String>) -> ProductPage {
    let value = |name: &str| values.get(name).cloned().unwrap_or_default();
    let fields = if p.delivery_kind == "manual" {
        p.manual_fields
            .iter()
            .map(|f| {
                let input_name = format!("{FIELD_PREFIX}{f}");
                FieldInput {
                    label: f.clone(),
                    value: value(&input_name),
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
    ProductPage {
        product: ProductItem::new(p),
        fields,
        quantity,
        contact: value("contact"),
        error,
    }
}

async fn product_page(State(app): State<App>, Path(id): Path<String>) -> Result<Response, PageError> {
    let p = app.product(&id).await?;
    Ok(product_page_for(&p, &HashMap::new(), None).into_response())
}

async fn buy(
    State(app): State<App>,
    Path(id): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let product = app.product(&id).await?;
    let fail = |e: PageError| {
        (
            e.status,
            private_headers(),
            product_page_for(&product, &form, Some(e.message)),
        )
            .into_response()
    };
    let quantity = match form.get("quantity").map(|q| q.trim()).unwrap_or("1").parse::<i64>() {
        Ok(n) => n,
        Err(_) => {
            return Ok(fail(PageError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "购买数量：请填写正整数",
            )))
        }
    };
    let delivery_fields: BTreeMap<String, String> = form
        .iter()
        .filter_map(|(k, v)| k.strip_prefix(FIELD_PREFIX).map(|name| (name.to_string(), v.clone())))
        .collect();
    let placed = app
        .place_order(
            &Caller::Anonymous,
            PlaceOrder {
                product_id: product.id.clone(),
                quantity,
                contact: form.get("contact").cloned(),
                query_password: form.get("query_password").cloned(),
                delivery_fields,
            },
        )
        .await;
    match placed {
        Ok(placed) if is_http_url(&placed.payment.cashier_url) => {
            Ok(Redirect::to(&placed.payment.cashier_url).into_response())
        }
        Ok(placed) => {
            tracing::error!(order = %placed.id, "the provider returned a cashier URL that is not http(s)");
            Ok(fail(PageError::new(
                StatusCode::BAD_GATEWAY,
                "支付通道返回了无效的收银台地址，请稍后通过查单完成支付",
            )))
        }
        Err(e) => Ok(fail(e.into())),
    }
}

/// Only plain web addresses become links or redirects: no `javascript:` and no header
/// injection, whatever a provider answers.
fn is_http_url(url: &str) -> bool {
    (url.starts_with("https://") || url.starts_with("http://")) && url.bytes().all(|b| b.is_ascii_graphic())
}

// ---- orders ----

/// A guest's access token is lower-case hex; anything else is not looked at.
fn valid_token(token: &str) -> bool {
    !token.is_empty() && token.len() <= TOKEN_LEN_MAX && token.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Ids go into paths and headers only in their canonical UUID form.
fn valid_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

fn order_url(id: &str, token: &str) -> Option<String> {
    (valid_id(id) && valid_token(token)).then(|| format!("/orders/{id}?access_token={token}"))
}

#[derive(Deserialize)]
struct TokenQuery {
    access_token: Option<String>,
}

#[derive(Deserialize)]
struct TokenForm {
    #[serde(default)]
    access_token: String,
}

/// The caller for a guest token, or "order not found" for a missing or malformed one.
fn guest(token: Option<&str>) -> Result<(Caller, String), PageError> {
    match token {
        Some(t) if valid_token(t) => Ok((Caller::GuestToken(t.to_string()), t.to_string())),
        _ => Err(PageError::order_not_found()),
    }
}

/// Renders the order page; `revealed` holds the goods just revealed, if any.
async fn render_order(
    app: &App,
    caller: &Caller,
    token: &str,
    id: &str,
    status: StatusCode,
    revealed: Option<Vec<DeliveryItem>>,
    error: Option<String>,
) -> Result<Response, PageError> {
    let order = app.order(caller, id).await?;
    let events = app.timeline(caller, id).await?;
    let page = order_page_for(order, events, token, revealed, error);
    Ok((status, private_headers(), page).into_response())
}

fn order_page_for(
    o: OrderView,
    events: Vec<TimelineEvent>,
    token: &str,
    revealed: Option<Vec<DeliveryItem>>,
    error: Option<String>,
) -> OrderPage {
    let mut times = Vec::new();
    let mut push = |label: &'static str, t: Option<&String>| {
        if let Some(t) = t {
            let v = TimeView::new(t);
            times.push(TimeRow {
                label,
                rfc3339: v.rfc3339,
                display: v.display,
            });
        }
    };
    let pending = o.status == OrderStatus::PendingPayment;
    push("下单时间", Some(&o.created_at));
    if pending {
        push("支付截止", Some(&o.expires_at));
    }
    push("付款时间", o.paid_at.as_ref());
    if o.status == OrderStatus::Paid {
        push("发货截止", o.deliver_by.as_ref());
    }
    push("发货时间", o.delivered_at.as_ref());
    if o.status == OrderStatus::Delivered {
        push("自动确认收货", o.auto_confirm_at.as_ref());
    }
    push("完成时间", o.completed_at.as_ref());
    let pay_url = if pending {
        o.payment
            .as_ref()
            .map(|p| p.cashier_url.clone())
            .filter(|u| is_http_url(u))
    } else {
        None
    };
    let can_reveal = matches!(
        o.status,
        OrderStatus::Delivered | OrderStatus::Completed | OrderStatus::Disputed
    );
    let can_confirm = o.status == OrderStatus::Delivered;
    let fields = o
        .delivery_fields
        .iter()
        .map(|(k, v)| InfoRow {
            label: k.clone(),
            value: v.clone(),
        })
        .collect();
    let refunds = o
        .refunds
        .iter()
        .map(|r| RefundItem {
            amount: yuan(r.amount_minor),
            reason: refund_reason_zh(&r.reason),
            status: refund_status_zh(&r.status),
            created_at: TimeView::new(&r.created_at),
            confirmed_at: r.confirmed_at.as_deref().map(TimeView::new),
        })
        .collect();
    let timeline = events
        .iter()
        .map(|e| EventItem {
            at: TimeView::new(&e.at),
            label: event_label(&e.kind),
            detail: event_detail(&e.detail),
        })
        .collect();
    let revealed = revealed.map(|items| {
        items
            .into_iter()
            .map(|i| RevealedItem {
                kind_label: match i.kind {
                    "card_key" => "卡密",
                    "note" => "发货说明",
                    _ => "内容",
                },
                content: i.content,
            })
            .collect()
    });
    OrderPage {
        order: OrderItem {
            status_label: o.status_label.clone(),
            amount: yuan(o.amount_minor),
            unit_price: yuan(o.unit_price_minor),
            quantity: o.quantity,
            kind_label: kind_label(&o.delivery_kind),
            product_id: o.product_id.clone(),
            id: o.id,
        },
        token: token.to_string(),
        times,
        fields,
        pay_url,
        can_reveal,
        can_confirm,
        revealed,
        refunds,
        timeline,
        error,
    }
}

async fn order_page(
    State(app): State<App>,
    Path(id): Path<String>,
    Query(q): Query<TokenQuery>,
) -> Result<Response, PageError> {
    let (caller, token) = guest(q.access_token.as_deref())?;
    render_order(&app, &caller, &token, &id, StatusCode::OK, None, None).await
}

async fn reveal(
    State(app): State<App>,
    Path(id): Path<String>,
    Form(form): Form<TokenForm>,
) -> Result<Response, PageError> {
    let (caller, token) = guest(Some(&form.access_token))?;
    match app.reveal_delivery(&caller, &id).await {
        Ok(items) => render_order(&app, &caller, &token, &id, StatusCode::OK, Some(items), None).await,
        Err(AppError::Conflict(_)) => {
            let message = "订单尚未发货，暂无可查看的内容".to_string();
            render_order(&app, &caller, &token, &id, StatusCode::CONFLICT, None, Some(message)).await
        }
        Err(e) => {
            let e = PageError::from(e);
            if e.status == StatusCode::NOT_FOUND || e.status.is_server_error() {
                return Err(e);
            }
            render_order(&app, &caller, &token, &id, e.status, None, Some(e.message)).await
        }
    }
}

async fn confirm(
    State(app): State<App>,
    Path(id): Path<String>,
    Form(form): Form<TokenForm>,
) -> Result<Response, PageError> {
    let (caller, token) = guest(Some(&form.access_token))?;
    match app.confirm(&caller, &id).await {
        Ok(order) => match order_url(&order.id, &token) {
            Some(url) => Ok(Redirect::to(&url).into_response()),
            None => Err(PageError::order_not_found()),
        },
        Err(e) => {
            let e = PageError::from(e);
            if e.status == StatusCode::NOT_FOUND || e.status.is_server_error() {
                return Err(e);
            }
            render_order(&app, &caller, &token, &id, e.status, None, Some(e.message)).await
        }
    }
}

// ---- 查单 ----

async fn lookup_form() -> Response {
    LookupPage {
        order_id: String::new(),
        contact: String::new(),
        error: None,
    }
    .into_response()
}

#[derive(Deserialize)]
struct LookupForm {
    #[serde(default)]
    order_id: String,
    #[serde(default)]
    contact: String,
    #[serde(default)]
    query_password: String,
}

async fn lookup(State(app): State<App>, Form(form): Form<LookupForm>) -> Result<Response, PageError> {
    let order_id = form.order_id.trim();
    let found = match app
        .lookup_guest_order(order_id, &form.contact, &form.query_password)
        .await
    {
        // Canonical id from the order itself, so the redirect carries only our own text.
        Ok(token) => match app.order(&Caller::GuestToken(token.clone()), order_id).await {
            Ok(order) => Ok(order_url(&order.id, &token)),
            Err(e) => Err(e),
        },
        Err(e) => Err(e),
    };
    match found {
        Ok(Some(url)) => Ok(Redirect::to(&url).into_response()),
        Ok(None) | Err(AppError::NotFound(_)) => Ok((
            StatusCode::NOT_FOUND,
            private_headers(),
            LookupPage {
                order_id: form.order_id.clone(),
                contact: form.contact.clone(),
                error: Some("订单不存在或密码错误".to_string()),
            },
        )
            .into_response()),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_messages_read_in_chinese() {
        assert_eq!(message_zh("must be 3 to 64 characters"), "长度须为 3 到 64 个字符");
        assert_eq!(message_zh("must be 1 to 10"), "须在 1 到 10 之间");
        assert_eq!(message_zh("游戏账号 is required"), "请填写“游戏账号”");
    }

    #[test]
    fn tokens_and_urls_are_checked() {
        assert!(valid_token("00ff"));
        assert!(!valid_token("00FF"));
        assert!(!valid_token("ab\r\nSet-Cookie: x"));
        assert!(!valid_token(""));
        assert!(is_http_url("http://127.0.0.1:8080/sandbox/cashier/p1"));
        assert!(!is_http_url("javascript:alert(1)"));
        assert!(!is_http_url("http://a b"));
    }

    #[test]
    fn times_are_shown_plainly() {
        let t = TimeView::new("2025-01-02T03:04:05.678Z");
        assert_eq!(t.display, "2025-01-02 03:04:05 UTC");
        assert_eq!(TimeView::new("2025-01-02T03:04:05Z").display, "2025-01-02 03:04:05 UTC");
    }
}
