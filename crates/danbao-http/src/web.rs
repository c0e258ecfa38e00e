//! Server-rendered pages (zh-CN): the storefront, product pages with guest checkout,
//! the order page (pay, reveal, confirm, refunds, complaints, timeline), the complaint
//! page (evidence, withdrawal, the seller's answer, triage, ruling), 查单 (guest lookup)
//! and the login for account holders (a session cookie) with their own order list.
//!
//! A page's viewer is a guest holding an order's access token (in the URL or a hidden
//! form field), or else an account holder with the `danbao_session` cookie; links and
//! forms for an account holder carry no token.
//!
//! A handler parses the form, calls one use case and renders a template. Every error
//! becomes a friendly Chinese page with the matching status; internal causes go to the
//! log, never to the page. Askama escapes everything; no user text is marked safe.

use crate::catalog::{
    display_time, evidence_kind_zh, field_zh, invalid_zh, refusal_zh, ruling_reason_zh, triage_reason_zh,
};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Form, Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use danbao_app::complaints::ComplaintView;
use danbao_app::{App, AppError, Caller, DeliveryItem, OrderView, PlaceOrder, ProductView, Role, TimelineEvent, User};
use danbao_domain::complaint::Proposal;
use danbao_domain::{Money, OrderStatus, Refusal};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};

/// Products per storefront page.
const PAGE_SIZE: i64 = 20;
/// Form fields that carry a manual product's delivery fields are named `field_<name>`.
const FIELD_PREFIX: &str = "field_";
/// An access token is a hex HMAC; anything much longer is not one.
const TOKEN_LEN_MAX: usize = 128;
/// The web session cookie: a bearer token from logging in, kept where scripts cannot read it.
const SESSION_COOKIE: &str = "danbao_session";
/// As long as the token it carries (30 days).
const SESSION_MAX_AGE_S: i64 = 30 * 24 * 3600;
/// Bounds what a login form can make argon2 chew on.
const LOGIN_FIELD_MAX: usize = 512;

pub fn routes() -> Router<App> {
    Router::new()
        .route("/", get(index))
        .route("/products/{id}", get(product_page))
        .route("/products/{id}/buy", post(buy))
        .route("/orders/{id}", get(order_page))
        .route("/orders/{id}/reveal", post(reveal))
        .route("/orders/{id}/confirm", post(confirm))
        .route("/orders/{id}/complaints", post(open_complaint))
        .route("/complaints/{id}", get(complaint_page))
        .route("/complaints/{id}/evidence", post(add_evidence))
        .route(
            "/complaints/{id}/files",
            post(add_evidence_file).layer(axum::extract::DefaultBodyLimit::max(
                crate::api::EVIDENCE_BODY_MAX_BYTES,
            )),
        )
        .route("/complaints/{id}/withdraw", post(withdraw_complaint))
        .route("/complaints/{id}/response", post(seller_response))
        .route("/lookup", get(lookup_form).post(lookup))
        .route("/login", get(login_form).post(login))
        .route("/logout", post(logout))
        .route("/account", get(account_page))
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
        PageError::new(StatusCode::NOT_FOUND, ORDER_NOT_FOUND)
    }

    fn complaint_not_found() -> PageError {
        PageError::new(StatusCode::NOT_FOUND, COMPLAINT_NOT_FOUND)
    }
}

const ORDER_NOT_FOUND: &str = "订单不存在";
const COMPLAINT_NOT_FOUND: &str = "投诉不存在";

impl From<AppError> for PageError {
    fn from(e: AppError) -> PageError {
        use StatusCode as S;
        match e {
            AppError::NotFound("order") => PageError::order_not_found(),
            AppError::NotFound("complaint") => PageError::complaint_not_found(),
            AppError::NotFound("product") => PageError::new(S::NOT_FOUND, "商品不存在或已下架"),
            AppError::NotFound(_) => PageError::new(S::NOT_FOUND, "您要找的内容不存在"),
            AppError::Validation { field, problem } => PageError::new(
                S::UNPROCESSABLE_ENTITY,
                format!("{}：{}", field_zh(field), invalid_zh(&problem)),
            ),
            AppError::Refused(r) => PageError::new(S::CONFLICT, refusal_zh(&r)),
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
            StatusCode::NOT_FOUND if self.message == ORDER_NOT_FOUND => ORDER_NOT_FOUND,
            StatusCode::NOT_FOUND if self.message == COMPLAINT_NOT_FOUND => COMPLAINT_NOT_FOUND,
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
        let display = display_time(rfc3339);
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
        "complaint_opened" => "买家发起投诉，款项已冻结",
        "complaint_withdrawn" => "投诉已撤回，款项解冻，订单恢复",
        "complaint_ruled" => "投诉已裁决，款项按裁决结算",
        "seller_banned" => "卖家因违规被封禁，订单全额退款",
        other => other,
    }
    .to_string()
}

fn refund_reason_zh(reason: &str) -> String {
    if reason.starts_with("ruling:") {
        return "投诉裁决退款".to_string();
    }
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
                t if t.starts_with("system:") || t.starts_with("user:") => format!("裁决方 {}", ruled_by_zh(t)),
                _ => format!("by: {text}"),
            },
            ("complaint_id", _) => format!("投诉单号 {text}"),
            ("kind", _) => format!("投诉类型 {}", complaint_kind_zh(&text)),
            ("ruling", _) => format!("裁决 {}", ruling_label(v).unwrap_or_else(|| text.clone())),
            ("to_buyer_minor", Some(m)) => format!("退给买家 ¥{}", yuan(m)),
            ("to_seller_minor", Some(m)) => format!("结算给卖家 ¥{}", yuan(m)),
            ("fee_minor", Some(m)) => format!("平台服务费 ¥{}", yuan(m)),
            ("reason_sha256", _) => format!("理由摘要 SHA-256: {text}"),
            ("reason", _) => format!("原因 {}", refund_reason_zh(&text)),
            _ => format!("{k}: {text}"),
        };
        parts.push(part);
    }
    (!parts.is_empty()).then(|| parts.join("；"))
}

// ---- complaints: words and view models ----

fn complaint_kind_zh(kind: &str) -> String {
    match kind {
        "not_delivered" => "未发货",
        "not_as_described" => "货不对板",
        "fraud" => "欺诈",
        "other" => "其他",
        other => other,
    }
    .to_string()
}

fn complaint_stage_zh(stage: &str) -> String {
    match stage {
        "awaiting_seller" => "等待卖家回应",
        "under_review" => "平台审核中",
        "awaiting_buyer" => "等待买家补充证据",
        "appraisal" => "第三方鉴定中",
        "resolved" => "已裁决",
        "withdrawn" => "已撤诉",
        other => other,
    }
    .to_string()
}

fn stage_is_open(stage: &str) -> bool {
    !matches!(stage, "resolved" | "withdrawn")
}

fn party_zh(party: &str) -> &'static str {
    match party {
        "buyer" => "买家",
        "seller" => "卖家",
        _ => "平台",
    }
}

/// Basis points as a percentage: 5000 → "50%", 3250 → "32.5%".
fn percent(bps: i64) -> String {
    let whole = bps / 100;
    match bps % 100 {
        0 => format!("{whole}%"),
        r if r % 10 == 0 => format!("{whole}.{}%", r / 10),
        r => format!("{whole}.{r:02}%"),
    }
}

/// A ruling (`{"kind": "split", "buyer_bps": 5000}`) in words.
fn ruling_label(v: &serde_json::Value) -> Option<String> {
    let kind = v.get("kind")?.as_str()?;
    let bps = |name: &str| v.get(name).and_then(serde_json::Value::as_i64);
    Some(match kind {
        "refund_full" => "全额退款".to_string(),
        "release_to_seller" => "放款给卖家".to_string(),
        "split" => match bps("buyer_bps") {
            Some(b) => format!("按比例分配（买家 {}，卖家 {}）", percent(b), percent(10_000 - b)),
            None => "按比例分配".to_string(),
        },
        "redeliver" => match bps("refund_bps") {
            Some(b) if b > 0 => format!("重新发货（并退还买家 {}）", percent(b)),
            _ => "重新发货".to_string(),
        },
        other => other.to_string(),
    })
}

fn ruled_by_zh(by: &str) -> String {
    match by {
        "system:triage" => "系统自动预审".to_string(),
        "system:deadline" => "系统（期限届满，按规则默认裁决）".to_string(),
        b if b.starts_with("user:") => "平台仲裁员".to_string(),
        b if b.starts_with("system") => "系统".to_string(),
        _ => "平台".to_string(),
    }
}

/// A complaint use case's error as a page error; `kind_message` explains a bad `kind`.
fn complaint_error(e: AppError, kind_message: &str) -> PageError {
    match e {
        AppError::Validation { field: "kind", .. } => PageError::new(StatusCode::UNPROCESSABLE_ENTITY, kind_message),
        other => other.into(),
    }
}

/// A complaint in the order page's list.
struct ComplaintItem {
    id: String,
    kind_label: String,
    stage_label: String,
    open: bool,
    created_at: TimeView,
    url: Option<String>,
}

struct KindOption {
    value: &'static str,
    label: &'static str,
    selected: bool,
}

/// What the buyer typed into a complaint or evidence form, kept when it is refused.
#[derive(Default)]
struct Draft {
    kind: String,
    text: String,
}

/// Who must act by when.
struct DeadlineView {
    before: &'static str,
    at: TimeView,
    after: &'static str,
    otherwise: Option<&'static str>,
}

struct ProposalView {
    ruling: Option<String>,
    decide_now: bool,
    completeness_pct: i64,
    reasons: Vec<String>,
}

struct RulingView {
    label: String,
    by: Option<String>,
    reason: Option<String>,
    at: Option<TimeView>,
}

struct EvidenceItem {
    party: &'static str,
    kind_label: String,
    text: Option<String>,
    file: Option<String>,
    at: TimeView,
}

struct ComplaintDetail {
    id: String,
    order_id: String,
    kind_label: String,
    stage_label: String,
    open: bool,
    deadline: Option<DeadlineView>,
    amount: String,
    amount_label: &'static str,
    money_note: &'static str,
    created_at: TimeView,
    proposal: Option<ProposalView>,
    ruling: Option<RulingView>,
    evidence: Vec<EvidenceItem>,
    events: Vec<EventItem>,
    /// The buyer adds evidence and may withdraw.
    is_buyer: bool,
    /// The seller may answer while the case waits for them or is under review.
    can_respond: bool,
}

/// A complaint page's address: with the guest's access token, or bare for an account holder.
fn complaint_url(id: &str, token: Option<&str>) -> Option<String> {
    page_url("complaints", id, token)
}

fn page_url(kind: &str, id: &str, token: Option<&str>) -> Option<String> {
    match token {
        _ if !valid_id(id) => None,
        None => Some(format!("/{kind}/{id}")),
        Some(t) if valid_token(t) => Some(format!("/{kind}/{id}?access_token={t}")),
        Some(_) => None,
    }
}

fn complaint_items(list: &[ComplaintView], token: Option<&str>) -> Vec<ComplaintItem> {
    list.iter()
        .map(|c| ComplaintItem {
            id: c.id.clone(),
            kind_label: complaint_kind_zh(&c.kind),
            stage_label: complaint_stage_zh(&c.stage),
            open: stage_is_open(&c.stage),
            created_at: TimeView::new(&c.created_at),
            url: complaint_url(&c.id, token),
        })
        .collect()
}

/// The kinds a buyer may pick for this order: `not_delivered` only on manual orders (a
/// card-key order is delivered at payment), `not_as_described` once something was
/// delivered. The use case checks again.
fn complaint_kinds(o: &OrderView, selected: &str) -> Vec<KindOption> {
    let mut kinds = Vec::new();
    if o.delivery_kind == "manual" && o.status != OrderStatus::Completed {
        kinds.push(("not_delivered", "未发货"));
    }
    if o.delivered_at.is_some() {
        kinds.push(("not_as_described", "货不对板（含卡密无效、已被使用）"));
    }
    kinds.push(("fraud", "欺诈"));
    kinds.push(("other", "其他"));
    let selected = if kinds.iter().any(|(v, _)| *v == selected) {
        selected
    } else {
        kinds.first().map_or("", |(v, _)| *v)
    };
    kinds
        .into_iter()
        .map(|(value, label)| KindOption {
            value,
            label,
            selected: value == selected,
        })
        .collect()
}

fn deadline_view(stage: &str, at: Option<&str>, seller: bool) -> Option<DeadlineView> {
    let at = TimeView::new(at?);
    let (before, after, otherwise) = match stage {
        "awaiting_seller" if seller => ("您须在", "前回应", Some("逾期未回应，将按规则判定全额退款给买家。")),
        "awaiting_seller" => ("卖家须在", "前回应", Some("卖家逾期未回应，将按规则判定全额退款给您。")),
        "awaiting_buyer" if seller => (
            "买家须在",
            "前补充证据",
            Some("买家逾期未补充证据，将按规则判定放款给您。"),
        ),
        "awaiting_buyer" => ("您须在", "前补充证据", Some("逾期未补充证据，将按规则判定放款给卖家。")),
        "appraisal" => ("第三方鉴定须在", "前完成", None),
        s if stage_is_open(s) => ("平台将在", "前处理", None),
        _ => return None,
    };
    Some(DeadlineView {
        before,
        at,
        after,
        otherwise,
    })
}

fn proposal_view(p: &Proposal) -> ProposalView {
    let ruling = p.ruling.and_then(|r| serde_json::to_value(r).ok());
    ProposalView {
        ruling: ruling.as_ref().and_then(ruling_label),
        decide_now: p.decide_now,
        completeness_pct: p.completeness_pct,
        reasons: p.reasons.iter().map(triage_reason_zh).collect(),
    }
}

fn complaint_event_label(kind: &str) -> String {
    match kind {
        "opened" => "发起投诉，订单款项已冻结",
        "evidence_added" => "提交证据",
        "stage" => "进度更新",
        "ruled" => "裁决已执行",
        "ask_buyer" => "平台要求买家补充证据",
        "start_appraisal" => "启动第三方鉴定",
        "finish_appraisal" => "第三方鉴定完成",
        other => other,
    }
    .to_string()
}

/// A complaint event's detail in words; ids and hashes of the money's sources stay in
/// the evidence log.
fn complaint_event_detail(detail: &serde_json::Value) -> Option<String> {
    let obj = detail.as_object()?;
    let text = |k: &str| obj.get(k).and_then(serde_json::Value::as_str);
    let mut parts = Vec::new();
    if let (Some(from), Some(to)) = (text("from"), text("to")) {
        parts.push(format!("{} → {}", complaint_stage_zh(from), complaint_stage_zh(to)));
    }
    for (k, v) in obj {
        let n = v.as_i64();
        let part = match (k.as_str(), n) {
            ("from" | "to" | "event" | "sources" | "evidence_id" | "rule_version", _) => continue,
            ("kind", _) if obj.contains_key("party") => {
                format!("证据类型 {}", evidence_kind_zh(v.as_str().unwrap_or_default()))
            }
            ("kind", _) => format!("投诉类型 {}", complaint_kind_zh(v.as_str().unwrap_or_default())),
            ("party", _) => format!("提交方 {}", party_zh(v.as_str().unwrap_or_default())),
            ("frozen_minor", Some(m)) => format!("冻结金额 ¥{}", yuan(m)),
            ("deadline_at", Some(ms)) => format!(
                "卖家回应期限 {}",
                TimeView::new(&danbao_app::clock::rfc3339(ms)).display
            ),
            ("ruling", _) => format!("裁决 {}", ruling_label(v).unwrap_or_default()),
            ("to_buyer_minor", Some(m)) => format!("退给买家 ¥{}", yuan(m)),
            ("to_seller_minor", Some(m)) => format!("结算给卖家 ¥{}", yuan(m)),
            ("fee_minor", Some(m)) => format!("平台服务费 ¥{}", yuan(m)),
            ("by", _) => match v.as_str() {
                Some(by) => format!("裁决方 {}", ruled_by_zh(by)),
                None => continue,
            },
            ("reason_sha256", _) => match v.as_str() {
                Some(h) => format!("理由摘要 SHA-256: {h}"),
                None => continue,
            },
            (other, _) => format!("{other}: {}", v.as_str().map_or_else(|| v.to_string(), str::to_string)),
        };
        parts.push(part);
    }
    (!parts.is_empty()).then(|| parts.join("；"))
}

fn complaint_detail(c: ComplaintView) -> ComplaintDetail {
    let open = stage_is_open(&c.stage);
    let seller = c.viewer == "seller";
    let (amount_label, money_note) = match c.stage.as_str() {
        "withdrawn" if seller => ("涉及金额", "买家已撤诉：冻结的款项已退回原处，订单恢复到投诉前的状态。"),
        "withdrawn" => ("涉及金额", "您已撤诉：冻结的款项已退回原处，订单恢复到投诉前的状态。"),
        "resolved" if seller => ("涉及金额", "已按裁决结算：结算给您的部分计入您的账户余额。"),
        "resolved" => ("涉及金额", "已按裁决结算：退给您的部分将原路退回。"),
        _ => ("冻结金额", "投诉处理期间，该订单的款项由平台冻结，直至裁决。"),
    };
    let is_buyer = c.viewer == "buyer";
    let can_respond = seller && matches!(c.stage.as_str(), "awaiting_seller" | "under_review");
    let ruling = match (&c.ruling, c.stage.as_str()) {
        (Some(r), _) => Some(RulingView {
            label: ruling_label(r).unwrap_or_else(|| "已裁决".to_string()),
            by: c.ruled_by.as_deref().map(ruled_by_zh),
            reason: c.ruling_reason.as_ref().map(ruling_reason_zh),
            at: c.resolved_at.as_deref().map(TimeView::new),
        }),
        _ => None,
    };
    ComplaintDetail {
        deadline: if open {
            deadline_view(&c.stage, c.deadline_at.as_deref(), seller)
        } else {
            None
        },
        kind_label: complaint_kind_zh(&c.kind),
        stage_label: complaint_stage_zh(&c.stage),
        open,
        amount: yuan(c.amount_minor),
        amount_label,
        money_note,
        created_at: TimeView::new(&c.created_at),
        // A withdrawn case has nothing left to propose.
        proposal: if c.stage == "withdrawn" {
            None
        } else {
            c.proposal.as_ref().map(proposal_view)
        },
        ruling,
        evidence: c
            .evidence
            .iter()
            .map(|e| EvidenceItem {
                party: party_zh(&e.party),
                kind_label: evidence_kind_zh(&e.kind),
                text: e.text.clone(),
                file: e.file_sha256.as_ref().map(|sha| {
                    let media = e.media_type.as_deref().unwrap_or("未知类型");
                    format!("文件 sha256 {sha}（{media}）")
                }),
                at: TimeView::new(&e.at),
            })
            .collect(),
        events: c
            .events
            .iter()
            .map(|e| EventItem {
                at: TimeView::new(&e.at),
                label: complaint_event_label(&e.kind),
                detail: complaint_event_detail(&e.detail),
            })
            .collect(),
        is_buyer,
        can_respond,
        id: c.id,
        order_id: c.order_id,
    }
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
    /// The guest's access token for the forms; `None` for an account holder.
    token: Option<String>,
    /// Whether the viewer is the buyer (who reveals, confirms and complains).
    is_buyer: bool,
    times: Vec<TimeRow>,
    fields: Vec<InfoRow>,
    pay_url: Option<String>,
    can_reveal: bool,
    can_confirm: bool,
    revealed: Option<Vec<RevealedItem>>,
    refunds: Vec<RefundItem>,
    complaints: Vec<ComplaintItem>,
    can_complain: bool,
    complaint_kinds: Vec<KindOption>,
    complaint_text: String,
    timeline: Vec<EventItem>,
    error: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "complaint.html")]
struct ComplaintPage {
    c: ComplaintDetail,
    /// The guest's access token for the forms; `None` for an account holder.
    token: Option<String>,
    order_url: Option<String>,
    evidence_kinds: Vec<KindOption>,
    evidence_text: String,
    /// The seller's answer, kept when it is refused.
    response_text: String,
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

/// An order page's address: with the guest's access token, or bare for an account holder.
fn order_url(id: &str, token: Option<&str>) -> Option<String> {
    page_url("orders", id, token)
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

/// Who is looking at a page: the caller, and the access token that links back to it
/// (`None` for an account holder, whose session cookie goes along by itself).
struct Viewer {
    caller: Caller,
    token: Option<String>,
}

impl Viewer {
    fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }
}

/// The session cookie's token, if one that could be a token was sent.
fn session_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().strip_prefix(SESSION_COOKIE)?.strip_prefix('='))
        .find(|t| valid_token(t))
}

/// The account holder whose session cookie came with the request, if it is valid.
async fn session_user(app: &App, headers: &HeaderMap) -> Result<Option<User>, PageError> {
    match session_token(headers) {
        Some(t) => Ok(app.authenticate(t).await?),
        None => Ok(None),
    }
}

/// The page's viewer: a well-formed access token (query or form field) makes a guest;
/// else a valid session cookie makes an account holder; else nobody.
async fn viewer(app: &App, headers: &HeaderMap, token: Option<&str>) -> Result<Option<Viewer>, PageError> {
    if let Some(t) = token.filter(|t| valid_token(t)) {
        return Ok(Some(Viewer {
            caller: Caller::GuestToken(t.to_string()),
            token: Some(t.to_string()),
        }));
    }
    Ok(session_user(app, headers).await?.map(|u| Viewer {
        caller: Caller::User(u),
        token: None,
    }))
}

/// The viewer of an order page, or "order not found" for nobody.
async fn order_viewer(app: &App, headers: &HeaderMap, token: Option<&str>) -> Result<Viewer, PageError> {
    viewer(app, headers, token)
        .await?
        .ok_or_else(PageError::order_not_found)
}

/// The viewer of a complaint page, or "complaint not found" for nobody.
async fn complaint_viewer(app: &App, headers: &HeaderMap, token: Option<&str>) -> Result<Viewer, PageError> {
    viewer(app, headers, token)
        .await?
        .ok_or_else(PageError::complaint_not_found)
}

/// Renders the order page; `revealed` holds the goods just revealed, if any.
async fn render_order(
    app: &App,
    caller: &Caller,
    token: Option<&str>,
    id: &str,
    status: StatusCode,
    revealed: Option<Vec<DeliveryItem>>,
    error: Option<String>,
) -> Result<Response, PageError> {
    let extras = OrderExtras {
        revealed,
        error,
        draft: Draft::default(),
    };
    render_order_with(app, caller, token, id, status, extras).await
}

/// What an order page shows besides the order: goods just revealed, an error, and a
/// refused complaint form filled in again.
#[derive(Default)]
struct OrderExtras {
    revealed: Option<Vec<DeliveryItem>>,
    error: Option<String>,
    draft: Draft,
}

async fn render_order_with(
    app: &App,
    caller: &Caller,
    token: Option<&str>,
    id: &str,
    status: StatusCode,
    extras: OrderExtras,
) -> Result<Response, PageError> {
    // The log first, the order last: the status shown is never older than the log
    // beside it (an order paid and delivered between two reads shows as delivered).
    let events = app.timeline(caller, id).await?;
    let complaints = app.complaints_of_order(caller, id).await?;
    let order = app.order(caller, id).await?;
    let page = order_page_for(order, events, &complaints, token, extras);
    Ok((status, private_headers(), page).into_response())
}

fn order_page_for(
    o: OrderView,
    events: Vec<TimelineEvent>,
    complaints: &[ComplaintView],
    token: Option<&str>,
    extras: OrderExtras,
) -> OrderPage {
    let OrderExtras { revealed, error, draft } = extras;
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
    let is_buyer = o.viewer == "buyer";
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
    let can_complain = matches!(
        o.status,
        OrderStatus::Paid | OrderStatus::Delivered | OrderStatus::Completed
    );
    let complaint_kinds = complaint_kinds(&o, &draft.kind);
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
        token: token.map(str::to_string),
        is_buyer,
        times,
        fields,
        pay_url,
        can_reveal,
        can_confirm,
        revealed,
        refunds,
        complaints: complaint_items(complaints, token),
        can_complain,
        complaint_kinds,
        complaint_text: draft.text,
        timeline,
        error,
    }
}

async fn order_page(
    State(app): State<App>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Query(q): Query<TokenQuery>,
) -> Result<Response, PageError> {
    let v = order_viewer(&app, &headers, q.access_token.as_deref()).await?;
    let (caller, token) = (&v.caller, v.token());
    render_order(&app, caller, token, &id, StatusCode::OK, None, None).await
}

async fn reveal(
    State(app): State<App>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Form(form): Form<TokenForm>,
) -> Result<Response, PageError> {
    let v = order_viewer(&app, &headers, Some(&form.access_token)).await?;
    let (caller, token) = (&v.caller, v.token());
    match app.reveal_delivery(caller, &id).await {
        Ok(items) => render_order(&app, caller, token, &id, StatusCode::OK, Some(items), None).await,
        Err(AppError::Refused(Refusal::NothingDelivered { .. })) => {
            let message = "订单尚未发货，暂无可查看的内容".to_string();
            render_order(&app, caller, token, &id, StatusCode::CONFLICT, None, Some(message)).await
        }
        Err(e) => {
            let e = PageError::from(e);
            if e.status == StatusCode::NOT_FOUND || e.status.is_server_error() {
                return Err(e);
            }
            render_order(&app, caller, token, &id, e.status, None, Some(e.message)).await
        }
    }
}

async fn confirm(
    State(app): State<App>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Form(form): Form<TokenForm>,
) -> Result<Response, PageError> {
    let v = order_viewer(&app, &headers, Some(&form.access_token)).await?;
    let (caller, token) = (&v.caller, v.token());
    match app.confirm(caller, &id).await {
        Ok(order) => match order_url(&order.id, token) {
            Some(url) => Ok(Redirect::to(&url).into_response()),
            None => Err(PageError::order_not_found()),
        },
        Err(e) => {
            let e = PageError::from(e);
            if e.status == StatusCode::NOT_FOUND || e.status.is_server_error() {
                return Err(e);
            }
            render_order(&app, caller, token, &id, e.status, None, Some(e.message)).await
        }
    }
}

// ---- complaints (guest buyers) ----

#[derive(Deserialize)]
struct ComplaintForm {
    #[serde(default)]
    access_token: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    description: String,
}

#[derive(Deserialize)]
struct EvidenceForm {
    #[serde(default)]
    access_token: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    text: String,
}

/// A textarea's text as stored: browsers send CRLF line ends, surrounding blanks dropped.
fn form_text(text: &str) -> String {
    text.replace("\r\n", "\n").trim().to_string()
}

/// A redirect carrying an access token: not cached, not leaked through the Referer.
fn private_redirect(url: &str) -> Response {
    (private_headers(), Redirect::to(url)).into_response()
}

/// Whether a refused action is shown on its page again (with the message) rather than
/// as an error page: not for "not found" (nothing to show) nor server errors.
fn shown_on_page(e: &PageError) -> bool {
    e.status != StatusCode::NOT_FOUND && !e.status.is_server_error()
}

async fn open_complaint(
    State(app): State<App>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Form(form): Form<ComplaintForm>,
) -> Result<Response, PageError> {
    let v = order_viewer(&app, &headers, Some(&form.access_token)).await?;
    let (caller, token) = (&v.caller, v.token());
    let description = form_text(&form.description);
    match app.open_complaint(caller, &id, &form.kind, Some(&description)).await {
        Ok(c) => match complaint_url(&c.id, token) {
            Some(url) => Ok(private_redirect(&url)),
            None => Err(PageError::complaint_not_found()),
        },
        Err(e) => {
            let e = complaint_error(e, "请选择投诉类型");
            if !shown_on_page(&e) {
                return Err(e);
            }
            let extras = OrderExtras {
                revealed: None,
                error: Some(e.message),
                draft: Draft {
                    kind: form.kind,
                    text: description,
                },
            };
            render_order_with(&app, caller, token, &id, e.status, extras).await
        }
    }
}

async fn render_complaint(
    app: &App,
    caller: &Caller,
    token: Option<&str>,
    id: &str,
    status: StatusCode,
    draft: Draft,
    error: Option<String>,
) -> Result<Response, PageError> {
    let c = app
        .complaint(caller, id)
        .await
        .map_err(|e| complaint_error(e, "请选择证据类型"))?;
    let selected = if draft.kind.is_empty() {
        "description"
    } else {
        draft.kind.as_str()
    };
    let evidence_kinds = [("description", "问题描述"), ("screenshot_note", "截图说明")]
        .into_iter()
        .map(|(value, label)| KindOption {
            value,
            label,
            selected: value == selected,
        })
        .collect();
    // Only one side's form is shown, so the draft goes back into that one.
    let (evidence_text, response_text) = if c.viewer == "seller" {
        (String::new(), draft.text)
    } else {
        (draft.text, String::new())
    };
    let page = ComplaintPage {
        order_url: order_url(&c.order_id, token),
        c: complaint_detail(c),
        token: token.map(str::to_string),
        evidence_kinds,
        evidence_text,
        response_text,
        error,
    };
    Ok((status, private_headers(), page).into_response())
}

/// The complaint page's address in canonical form, for a complaint the caller just acted on.
async fn complaint_location(app: &App, caller: &Caller, id: &str, token: Option<&str>) -> Result<String, PageError> {
    if let Some(url) = complaint_url(id, token) {
        return Ok(url);
    }
    let c = app.complaint(caller, id).await?;
    complaint_url(&c.id, token).ok_or_else(PageError::complaint_not_found)
}

async fn complaint_page(
    State(app): State<App>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Query(q): Query<TokenQuery>,
) -> Result<Response, PageError> {
    let v = complaint_viewer(&app, &headers, q.access_token.as_deref()).await?;
    let (caller, token) = (&v.caller, v.token());
    render_complaint(&app, caller, token, &id, StatusCode::OK, Draft::default(), None).await
}

async fn add_evidence(
    State(app): State<App>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Form(form): Form<EvidenceForm>,
) -> Result<Response, PageError> {
    let v = complaint_viewer(&app, &headers, Some(&form.access_token)).await?;
    let (caller, token) = (&v.caller, v.token());
    let text = form_text(&form.text);
    match app.add_evidence(caller, &id, &form.kind, Some(&text), None).await {
        Ok(_) => Ok(private_redirect(&complaint_location(&app, caller, &id, token).await?)),
        Err(e) => {
            let e = complaint_error(e, "请选择证据类型");
            if !shown_on_page(&e) {
                return Err(e);
            }
            let draft = Draft { kind: form.kind, text };
            render_complaint(&app, caller, token, &id, e.status, draft, Some(e.message)).await
        }
    }
}

/// A screenshot or other file as evidence (multipart form: access_token, file). The file
/// is stored content-addressed and its type sniffed from its bytes.
async fn add_evidence_file(
    State(app): State<App>,
    Path(id): Path<String>,
    headers: HeaderMap,
    mut multipart: axum::extract::Multipart,
) -> Result<Response, PageError> {
    let unreadable = || PageError::new(StatusCode::BAD_REQUEST, "上传的表单无法读取");
    let mut token = String::new();
    let mut bytes: Option<Vec<u8>> = None;
    while let Some(field) = multipart.next_field().await.map_err(|_| unreadable())? {
        match field.name() {
            Some("access_token") => token = field.text().await.map_err(|_| unreadable())?,
            Some("file") => bytes = Some(field.bytes().await.map_err(|_| unreadable())?.to_vec()),
            _ => {}
        }
    }
    let v = complaint_viewer(&app, &headers, Some(&token)).await?;
    let (caller, token) = (&v.caller, v.token());
    let file = danbao_app::complaints::Attachment {
        bytes: bytes.unwrap_or_default(),
        claimed_sha256: None,
    };
    match app.add_evidence(caller, &id, "screenshot", None, Some(file)).await {
        Ok(_) => Ok(private_redirect(&complaint_location(&app, caller, &id, token).await?)),
        Err(e) => {
            let e = complaint_error(e, "请选择证据类型");
            if !shown_on_page(&e) {
                return Err(e);
            }
            render_complaint(&app, caller, token, &id, e.status, Draft::default(), Some(e.message)).await
        }
    }
}

async fn withdraw_complaint(
    State(app): State<App>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Form(form): Form<TokenForm>,
) -> Result<Response, PageError> {
    let v = complaint_viewer(&app, &headers, Some(&form.access_token)).await?;
    let (caller, token) = (&v.caller, v.token());
    match app.withdraw_complaint(caller, &id).await {
        Ok(c) => match complaint_url(&c.id, token) {
            Some(url) => Ok(private_redirect(&url)),
            None => Err(PageError::complaint_not_found()),
        },
        Err(e) => {
            let e = complaint_error(e, "请选择证据类型");
            if !shown_on_page(&e) {
                return Err(e);
            }
            render_complaint(&app, caller, token, &id, e.status, Draft::default(), Some(e.message)).await
        }
    }
}

#[derive(Deserialize)]
struct ResponseForm {
    #[serde(default)]
    access_token: String,
    #[serde(default)]
    text: String,
}

/// The seller's answer to a complaint; the use case refuses anyone else.
async fn seller_response(
    State(app): State<App>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Form(form): Form<ResponseForm>,
) -> Result<Response, PageError> {
    let v = complaint_viewer(&app, &headers, Some(&form.access_token)).await?;
    let (caller, token) = (&v.caller, v.token());
    let text = form_text(&form.text);
    match app.seller_respond(caller, &id, &text).await {
        Ok(c) => match complaint_url(&c.id, token) {
            Some(url) => Ok(private_redirect(&url)),
            None => Err(PageError::complaint_not_found()),
        },
        Err(e) => {
            let e = complaint_error(e, "请选择证据类型");
            if !shown_on_page(&e) {
                return Err(e);
            }
            let draft = Draft {
                kind: String::new(),
                text,
            };
            render_complaint(&app, caller, token, &id, e.status, draft, Some(e.message)).await
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
            Ok(order) => Ok(order_url(&order.id, Some(&token))),
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

// ---- accounts: login, logout, my orders ----

fn role_zh(role: Role) -> &'static str {
    match role {
        Role::Buyer => "买家",
        Role::Seller => "卖家",
        Role::Arbitrator => "仲裁员",
        Role::Admin => "管理员",
    }
}

/// The `Set-Cookie` value that stores a session token, or (with `None`) forgets it.
/// HttpOnly keeps it from scripts; SameSite=Lax keeps other sites' forms from posting
/// with it.
fn session_cookie(token: Option<&str>) -> Result<HeaderValue, PageError> {
    let (value, max_age) = match token {
        Some(t) if valid_token(t) => (t, SESSION_MAX_AGE_S),
        Some(_) => {
            tracing::error!("login returned a token that is not lower-case hex");
            return Err(PageError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "系统繁忙，请稍后重试",
            ));
        }
        None => ("", 0),
    };
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={value}; HttpOnly; SameSite=Lax; Path=/; Max-Age={max_age}"
    ))
    .map_err(|_| PageError::new(StatusCode::INTERNAL_SERVER_ERROR, "系统繁忙，请稍后重试"))
}

#[derive(Template, WebTemplate)]
#[template(path = "login.html")]
struct LoginPage {
    username: String,
    error: Option<String>,
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
}

async fn login_form() -> Response {
    let page = LoginPage {
        username: String::new(),
        error: None,
    };
    (private_headers(), page).into_response()
}

async fn login(State(app): State<App>, Form(form): Form<LoginForm>) -> Result<Response, PageError> {
    let username = form.username.trim();
    let result = if username.len() > LOGIN_FIELD_MAX || form.password.len() > LOGIN_FIELD_MAX {
        Err(AppError::BadCredentials)
    } else {
        app.login(username, &form.password).await
    };
    match result {
        Ok((token, _user)) => {
            let cookie = session_cookie(Some(&token))?;
            Ok((
                private_headers(),
                [(header::SET_COOKIE, cookie)],
                Redirect::to("/account"),
            )
                .into_response())
        }
        Err(AppError::BadCredentials | AppError::Unauthenticated | AppError::Validation { .. }) => Ok((
            StatusCode::UNAUTHORIZED,
            private_headers(),
            LoginPage {
                username: username.chars().take(64).collect(),
                error: Some("用户名或密码错误".to_string()),
            },
        )
            .into_response()),
        Err(e) => Err(e.into()),
    }
}

/// Forgets the session cookie in this browser. (The token itself stays valid until it
/// expires: the app has no use case to revoke one.)
async fn logout() -> Result<Response, PageError> {
    let cookie = session_cookie(None)?;
    Ok((private_headers(), [(header::SET_COOKIE, cookie)], Redirect::to("/")).into_response())
}

struct AccountOrder {
    id: String,
    url: Option<String>,
    status_label: String,
    amount: String,
    quantity: i64,
    kind_label: &'static str,
    created_at: TimeView,
}

#[derive(Template, WebTemplate)]
#[template(path = "account.html")]
struct AccountPage {
    username: String,
    role_label: &'static str,
    is_seller: bool,
    orders: Vec<AccountOrder>,
}

async fn account_page(State(app): State<App>, headers: HeaderMap) -> Result<Response, PageError> {
    let Some(user) = session_user(&app, &headers).await? else {
        return Ok((private_headers(), Redirect::to("/login")).into_response());
    };
    let username = user.username.clone();
    let role = user.role;
    let orders = app.orders_of(&Caller::User(user)).await?;
    let page = AccountPage {
        username,
        role_label: role_zh(role),
        is_seller: role == Role::Seller,
        orders: orders
            .into_iter()
            .map(|o| AccountOrder {
                url: order_url(&o.id, None),
                status_label: o.status_label,
                amount: yuan(o.amount_minor),
                quantity: o.quantity,
                kind_label: kind_label(&o.delivery_kind),
                created_at: TimeView::new(&o.created_at),
                id: o.id,
            })
            .collect(),
    };
    Ok((private_headers(), page).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn complaints_read_in_chinese() {
        assert_eq!(percent(5000), "50%");
        assert_eq!(percent(3250), "32.5%");
        assert_eq!(percent(3333), "33.33%");
        let split = serde_json::json!({"kind": "split", "buyer_bps": 6000});
        assert_eq!(
            ruling_label(&split).as_deref(),
            Some("按比例分配（买家 60%，卖家 40%）")
        );
        let full = serde_json::json!({"kind": "refund_full"});
        assert_eq!(ruling_label(&full).as_deref(), Some("全额退款"));
        assert_eq!(ruling_label(&serde_json::Value::Null), None);
        assert_eq!(ruled_by_zh("user:0190"), "平台仲裁员");
        assert_eq!(complaint_stage_zh("awaiting_buyer"), "等待买家补充证据");
        assert_eq!(complaint_kind_zh("not_as_described"), "货不对板");
    }

    #[test]
    fn complaint_links_carry_only_checked_text() {
        assert_eq!(
            complaint_url("01a2-ff", Some("00ff")).as_deref(),
            Some("/complaints/01a2-ff?access_token=00ff")
        );
        assert_eq!(complaint_url("a/b", Some("00ff")), None);
        assert_eq!(complaint_url("01a2", Some("00FF")), None);
        assert_eq!(order_url("01a2", None).as_deref(), Some("/orders/01a2"));
        assert_eq!(order_url("a?b", None), None);
        assert_eq!(form_text("  a\r\nb \r\n"), "a\nb");
    }

    #[test]
    fn the_session_cookie_is_read_and_written_strictly() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; danbao_session=00ff; b=2"),
        );
        assert_eq!(session_token(&headers), Some("00ff"));
        headers.insert(header::COOKIE, HeaderValue::from_static("danbao_session=x;y"));
        assert_eq!(session_token(&headers), None);
        headers.insert(header::COOKIE, HeaderValue::from_static("xdanbao_session=00ff"));
        assert_eq!(session_token(&headers), None);
        let set = session_cookie(Some("00ff")).map(|v| v.to_str().map(str::to_string).ok());
        assert_eq!(
            set.ok().flatten().as_deref(),
            Some("danbao_session=00ff; HttpOnly; SameSite=Lax; Path=/; Max-Age=2592000")
        );
        assert!(session_cookie(Some("00ff\r\nX: y")).is_err());
        let cleared = session_cookie(None).map(|v| v.to_str().map(str::to_string).ok());
        assert_eq!(
            cleared.ok().flatten().as_deref(),
            Some("danbao_session=; HttpOnly; SameSite=Lax; Path=/; Max-Age=0")
        );
    }

    #[test]
    fn times_are_shown_plainly() {
        let t = TimeView::new("2025-01-02T03:04:05.678Z");
        assert_eq!(t.display, "2025-01-02 03:04:05 UTC");
        assert_eq!(TimeView::new("2025-01-02T03:04:05Z").display, "2025-01-02 03:04:05 UTC");
    }
}
