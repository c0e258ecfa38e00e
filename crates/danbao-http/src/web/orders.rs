//! The order page (pay, reveal, confirm, refunds, complaints, timeline), 查单 (by order
//! id or number, or by contact and query password alone) and a guest's 我的订单 (the
//! orders whose access this browser holds).

use super::complaints::{complaint_items, complaint_kinds, ComplaintItem, Draft, KindOption};
use super::error::PageError;
use super::forms::PageContext;
use super::i18n::{Lang, Ui};
use super::labels::{
    event_detail_split, event_label, kind_label, order_status, refund_reason, refund_status, risk_reason,
};
use super::session::{order_viewer, session_user};
use super::{order_url, pay_address, private_headers, scan_code, valid_token, yuan, EventItem, TimeView, TokenQuery};
use crate::extract::ClientOrigin;
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Extension, Form, Path, Query, State};
use axum::http::header;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use danbao_app::complaints::ComplaintView;
use danbao_app::{App, AppError, Caller, DeliveryItem, OrderView, TimelineEvent};
use danbao_domain::order::OrderAction;
use danbao_domain::OrderStatus;
use serde::Deserialize;

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
    number: String,
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
    /// The element id the copy button names (`key-1`, …).
    anchor: String,
    /// Whether the item is text worth a copy button (a key, a note; not a file's hash).
    copyable: bool,
    kind_label: &'static str,
    content: String,
    /// A delivered file: where the buyer downloads it.
    file_url: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "order.html")]
struct OrderPage {
    order: OrderItem,
    /// The forms' anti-forgery token.
    csrf: String,
    /// A guest buyer, whose browser holds the order (told how to find it elsewhere).
    guest_buyer: bool,
    /// Whether the viewer is the buyer (who reveals, confirms and complains).
    is_buyer: bool,
    times: Vec<TimeRow>,
    fields: Vec<InfoRow>,
    pay_url: Option<String>,
    /// Risk control's reasons about this order, for its buyer (none when low).
    risk_reasons: Vec<String>,
    /// A step_up order waiting for its buyer's second confirmation (二次验证).
    confirm_risk: bool,
    can_reveal: bool,
    can_confirm: bool,
    revealed: Option<Vec<RevealedItem>>,
    refunds: Vec<RefundItem>,
    complaints: Vec<ComplaintItem>,
    can_complain: bool,
    /// A manual order past the time the buyer may escalate: one click opens not_delivered.
    can_escalate: bool,
    complaint_kinds: Vec<KindOption>,
    complaint_text: String,
    timeline: Vec<EventItem>,
    error: Option<String>,
    /// The proof of liabilities for the buyer's money (issue 16 item 3).
    liabilities: Option<super::liabilities::OrderLiabilities>,
    w: Ui,
}

/// One line of a guest's order list (查单's answer, 我的订单).
struct OrderLine {
    number: String,
    url: Option<String>,
    status_label: String,
    amount: String,
    created_at: TimeView,
    /// An unpaid order: the line says so, the buyer may still pay it.
    pending: bool,
}

impl OrderLine {
    fn new(l: Lang, o: &OrderView) -> OrderLine {
        OrderLine {
            number: o.number.clone(),
            url: order_url(&o.id),
            status_label: order_status(l, o.status).to_string(),
            amount: yuan(o.amount_minor),
            created_at: TimeView::new(&o.created_at),
            pending: o.status == OrderStatus::PendingPayment,
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "lookup.html")]
struct LookupPage {
    /// 我的订单 rather than 查单: the same page, reached from the header's two links.
    my_orders: bool,
    order_id: String,
    contact: String,
    error: Option<String>,
    csrf: String,
    /// What a lookup by contact and query password found.
    found: Option<Vec<OrderLine>>,
    /// The orders whose access this browser holds (its order cookies), newest first.
    mine: Vec<OrderLine>,
    w: Ui,
}

/// Renders the order page; `revealed` holds the goods just revealed, if any.
async fn render_order(
    app: &App,
    caller: &Caller,
    page: &PageContext,
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
    render_order_with(app, caller, page, id, status, extras).await
}

/// What an order page shows besides the order: goods just revealed, an error, and a
/// refused complaint form filled in again.
#[derive(Default)]
pub(super) struct OrderExtras {
    pub(super) revealed: Option<Vec<DeliveryItem>>,
    pub(super) error: Option<String>,
    pub(super) draft: Draft,
}

pub(super) async fn render_order_with(
    app: &App,
    caller: &Caller,
    page: &PageContext,
    id: &str,
    status: StatusCode,
    extras: OrderExtras,
) -> Result<Response, PageError> {
    // The log first, the order last: the status shown is never older than the log
    // beside it (an order paid and delivered between two reads shows as delivered).
    let events = app.timeline(caller, id).await?;
    let complaints = app.complaints_of_order(caller, id).await?;
    let order = app.order(caller, id).await?;
    // From the time the rules let the buyer open not_delivered (the use case checks again).
    let escalation_open = order
        .paid_at
        .as_deref()
        .and_then(danbao_app::clock::parse_rfc3339)
        .map(|paid| paid.saturating_add(app.loaded_rules(order.rule_version).not_delivered_after_ms()))
        .is_some_and(|from| from <= app.now());
    let is_buyer = order.viewer == "buyer";
    let mut html = order_page_for(order, events, &complaints, page, extras, escalation_open);
    if is_buyer {
        html.liabilities = super::liabilities::order_section(app, caller, id, page.ui.lang()).await;
    }
    Ok((status, private_headers(), html).into_response())
}

fn order_page_for(
    o: OrderView,
    events: Vec<TimelineEvent>,
    complaints: &[ComplaintView],
    page: &PageContext,
    extras: OrderExtras,
    escalation_open: bool,
) -> OrderPage {
    let w = &page.ui;
    let l = w.lang();
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
    push(w.time_ordered, Some(&o.created_at));
    if pending {
        push(w.time_pay_by, Some(&o.expires_at));
    }
    push(w.time_paid, o.paid_at.as_ref());
    if o.status == OrderStatus::Paid {
        push(w.time_deliver_by, o.deliver_by.as_ref());
    }
    push(w.time_delivered, o.delivered_at.as_ref());
    if o.status == OrderStatus::Delivered {
        push(w.time_auto_confirm, o.auto_confirm_at.as_ref());
    }
    push(w.time_completed, o.completed_at.as_ref());
    let pay_url = if pending {
        o.payment.as_ref().and_then(|p| pay_address(&o.id, &p.cashier_url))
    } else {
        None
    };
    let can_reveal = o.actions.contains(&OrderAction::Reveal);
    let can_confirm = o.actions.contains(&OrderAction::Confirm);
    let is_buyer = o.viewer == "buyer";
    let confirm_risk = is_buyer && pending && o.actions.contains(&OrderAction::ConfirmRisk);
    // Once paid the warnings have done their work; before, the buyer reads them here.
    let risk_reasons = match &o.risk {
        Some(r) if is_buyer && pending => r.details.iter().map(|d| risk_reason(l, d)).collect(),
        _ => Vec::new(),
    };
    let guest_buyer = is_buyer && o.guest;
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
            reason: refund_reason(l, &r.reason),
            status: refund_status(l, &r.status),
            created_at: TimeView::new(&r.created_at),
            confirmed_at: r.confirmed_at.as_deref().map(TimeView::new),
        })
        .collect();
    let timeline = events
        .iter()
        .map(|e| {
            let (detail, proof) = event_detail_split(l, &e.detail);
            EventItem {
                at: TimeView::new(&e.at),
                label: event_label(l, &e.kind),
                detail,
                proof,
            }
        })
        .collect();
    let revealed = revealed.map(|items| {
        items
            .into_iter()
            .enumerate()
            .map(|(n, i)| RevealedItem {
                anchor: format!("key-{}", n + 1),
                copyable: i.kind != "file",
                kind_label: match i.kind {
                    "card_key" => w.item_card_key,
                    "note" => w.item_note,
                    "file" => w.item_file,
                    _ => w.item_other,
                },
                file_url: (i.kind == "file")
                    .then(|| order_url(&o.id).map(|u| format!("{u}/delivery/file")))
                    .flatten(),
                content: match (i.kind, &i.media_type) {
                    ("file", Some(media)) => w.delivered_file_line(media, &i.content),
                    _ => i.content,
                },
            })
            .collect()
    });
    let can_complain = o.actions.contains(&OrderAction::Complain);
    let can_escalate = escalation_open
        && can_complain
        && is_buyer
        && o.status == danbao_domain::OrderStatus::Paid
        && o.complaint_kinds
            .contains(&danbao_domain::complaint::ComplaintKind::NotDelivered);
    let complaint_kinds = complaint_kinds(w, &o, &draft.kind);
    OrderPage {
        order: OrderItem {
            status_label: order_status(l, o.status).to_string(),
            amount: yuan(o.amount_minor),
            unit_price: yuan(o.unit_price_minor),
            quantity: o.quantity,
            kind_label: kind_label(l, &o.delivery_kind),
            product_id: o.product_id.clone(),
            number: o.number.clone(),
            id: o.id,
        },
        csrf: page.csrf.clone(),
        guest_buyer,
        is_buyer,
        times,
        fields,
        pay_url,
        risk_reasons,
        confirm_risk,
        can_reveal,
        can_confirm,
        revealed,
        refunds,
        complaints: complaint_items(l, complaints),
        can_complain,
        can_escalate,
        complaint_kinds,
        complaint_text: draft.text,
        timeline,
        error,
        liabilities: None,
        w: w.clone(),
    }
}

pub(super) async fn order_page(
    State(app): State<App>,
    Extension(page): Extension<PageContext>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Query(q): Query<TokenQuery>,
) -> Result<Response, PageError> {
    if let Some(token) = q.access_token {
        return open_order_link(&app, &page, &id, &token).await;
    }
    let v = order_viewer(&app, &headers, &id).await?;
    let revealed = reveal_on_view(&app, &v.caller, &id).await?;
    render_order(&app, &v.caller, &page, &id, StatusCode::OK, revealed, None).await
}

/// The page a WeChat Pay payment code is scanned from: the code as a QR image, the amount,
/// the order's number and how long it waits. Only the buyer of an order still waiting for
/// this payment sees it; anyone else, or once it is paid, goes to the order page.
#[derive(Template, WebTemplate)]
#[template(path = "order_scan.html")]
struct ScanPage {
    number: String,
    amount: String,
    pay_by: TimeView,
    qr_svg: String,
    order_url: String,
    /// The demo: the in-process sandbox "scans" its own codes at its cashier.
    demo_cashier: Option<String>,
    w: Ui,
}

pub(super) async fn scan_page(
    State(app): State<App>,
    Extension(page): Extension<PageContext>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let v = order_viewer(&app, &headers, &id).await?;
    let o = app.order(&v.caller, &id).await?;
    let url = order_url(&o.id).ok_or_else(PageError::order_not_found)?;
    let code_url = o
        .payment
        .as_ref()
        .map(|p| p.cashier_url.clone())
        .filter(|u| scan_code(u).is_some());
    let waiting = o.status == OrderStatus::PendingPayment && o.viewer == "buyer";
    let (Some(code_url), true) = (code_url, waiting) else {
        return Ok((private_headers(), Redirect::to(&url)).into_response());
    };
    let qr_svg = qr_svg(&code_url, page.ui.scan_title);
    let demo_cashier = scan_code(&code_url)
        .filter(|_| page.sandbox_mounted)
        .map(|code| format!("/sandbox/cashier/{code}"));
    let html = ScanPage {
        number: o.number.clone(),
        amount: yuan(o.amount_minor),
        pay_by: TimeView::new(&o.expires_at),
        qr_svg,
        order_url: url,
        demo_cashier,
        w: page.ui.clone(),
    };
    Ok((private_headers(), html).into_response())
}

/// The QR code of a payment code, as inline SVG scaled by CSS, labelled for screen readers.
fn qr_svg(code_url: &str, label: &str) -> String {
    let Ok(code) = qrcode::QrCode::new(code_url.as_bytes()) else {
        return String::new();
    };
    let svg = code
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(220, 220)
        .build();
    // Inline in HTML the XML declaration has no place; the label is our own words.
    match svg.find("<svg") {
        Some(start) => svg[start..].replacen("<svg ", &format!(r#"<svg role="img" aria-label="{label}" "#), 1),
        None => String::new(),
    }
}

/// The buyer who opens a delivered order sees the goods at once, no extra click. Each
/// such page view is one recorded reveal (the evidence of delivery), as before with the
/// button: one view, one record.
async fn reveal_on_view(app: &App, caller: &Caller, id: &str) -> Result<Option<Vec<DeliveryItem>>, PageError> {
    let order = app.order(caller, id).await?;
    if order.viewer != "buyer" || !order.actions.contains(&OrderAction::Reveal) {
        return Ok(None);
    }
    match app.reveal_delivery(caller, &order.id).await {
        Ok(items) => Ok(Some(items)),
        // Refunded between the two reads: the page shows the order as it now stands.
        Err(e @ AppError::Refused(_)) => {
            tracing::debug!(order = %order.id, error = %e, "nothing to reveal on view");
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

/// A guest's secret link (`?access_token=`): the token moves into this browser's cookie
/// for the order, and the browser goes on to the clean address, so the secret stays out
/// of its history and of any Referer.
async fn open_order_link(app: &App, page: &PageContext, id: &str, token: &str) -> Result<Response, PageError> {
    if !valid_token(token) {
        return Err(PageError::order_not_found());
    }
    let order = app.order(&Caller::GuestToken(token.to_string()), id).await?;
    guest_redirect(
        page,
        &order.id,
        token,
        &order_url(&order.id).ok_or_else(PageError::order_not_found)?,
    )
}

/// A redirect that gives this browser a guest's access to an order.
pub(super) fn guest_redirect(page: &PageContext, order_id: &str, token: &str, to: &str) -> Result<Response, PageError> {
    let cookie = page.order_cookie(order_id, token)?;
    Ok((private_headers(), [(header::SET_COOKIE, cookie)], Redirect::to(to)).into_response())
}

/// The reveal button (and an old tab's form) only leads to the order page, which shows
/// and records the goods: POST → 303 → GET, so a reload never posts again. Opened by GET
/// (history, a bookmark), the address leads there too instead of answering 405.
pub(super) async fn reveal(
    State(app): State<App>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    // Only a party is sent on (anyone else: not found, as everywhere).
    let v = order_viewer(&app, &headers, &id).await?;
    let order = app.order(&v.caller, &id).await?;
    let url = order_url(&order.id).ok_or_else(PageError::order_not_found)?;
    Ok((private_headers(), Redirect::to(&format!("{url}#delivery"))).into_response())
}

pub(super) async fn confirm(
    State(app): State<App>,
    Extension(page): Extension<PageContext>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let v = order_viewer(&app, &headers, &id).await?;
    let caller = &v.caller;
    match app.confirm(caller, &id).await {
        Ok(order) => match order_url(&order.id) {
            Some(url) => Ok(Redirect::to(&url).into_response()),
            None => Err(PageError::order_not_found()),
        },
        Err(e) => {
            let e = PageError::from(e);
            if e.status == StatusCode::NOT_FOUND || e.status.is_server_error() {
                return Err(e);
            }
            let message = e.message_in(&page.ui);
            render_order(&app, caller, &page, &id, e.status, None, Some(message)).await
        }
    }
}

/// 二次验证: the buyer read the risk warnings and confirms; the cashier opens only now.
pub(super) async fn confirm_risk(
    State(app): State<App>,
    Extension(page): Extension<PageContext>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let v = order_viewer(&app, &headers, &id).await?;
    let caller = &v.caller;
    match app.confirm_risk(caller, &id).await {
        Ok(placed) => {
            let to = placed
                .payment
                .as_ref()
                .and_then(|p| pay_address(&placed.id, &p.cashier_url))
                .or_else(|| order_url(&placed.id))
                .ok_or_else(PageError::order_not_found)?;
            Ok((private_headers(), Redirect::to(&to)).into_response())
        }
        Err(e) => {
            let e = PageError::from(e);
            if e.status == StatusCode::NOT_FOUND || e.status.is_server_error() {
                return Err(e);
            }
            let message = e.message_in(&page.ui);
            render_order(&app, caller, &page, &id, e.status, None, Some(message)).await
        }
    }
}

fn lookup_page(page: &PageContext, my_orders: bool, mine: Vec<OrderLine>) -> LookupPage {
    LookupPage {
        my_orders,
        order_id: String::new(),
        contact: String::new(),
        error: None,
        csrf: page.csrf.clone(),
        found: None,
        mine,
        w: page.ui.clone(),
    }
}

pub(super) async fn lookup_form(
    State(app): State<App>,
    Extension(page): Extension<PageContext>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let mine = browser_orders(&app, &headers, page.ui.lang()).await?;
    Ok((private_headers(), lookup_page(&page, false, mine)).into_response())
}

/// 我的订单 from the header: an account holder's page, or for a guest the orders this
/// browser holds (and 查单 for the others).
pub(super) async fn my_orders(
    State(app): State<App>,
    Extension(page): Extension<PageContext>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    if session_user(&app, &headers).await?.is_some() {
        return Ok(Redirect::to("/account").into_response());
    }
    let mine = browser_orders(&app, &headers, page.ui.lang()).await?;
    Ok((private_headers(), lookup_page(&page, true, mine)).into_response())
}

/// The orders whose access cookie this browser holds, newest first. A cookie that opens
/// nothing (a forged one, an order's access from another server) is passed over.
async fn browser_orders(app: &App, headers: &HeaderMap, l: Lang) -> Result<Vec<OrderLine>, PageError> {
    let mut orders = Vec::new();
    for (id, token) in super::forms::order_cookies(headers) {
        match app.order(&Caller::GuestToken(token.to_string()), id).await {
            Ok(o) => orders.push(o),
            Err(AppError::NotFound(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    orders.sort_by(|a, b| b.created_at.cmp(&a.created_at));
    Ok(orders.iter().map(|o| OrderLine::new(l, o)).collect())
}

#[derive(Deserialize)]
pub(super) struct LookupForm {
    #[serde(default)]
    order_id: String,
    #[serde(default)]
    contact: String,
    #[serde(default)]
    query_password: String,
}

/// 查单: with an order id or number, that order (the browser goes to it); without, every
/// order of the contact whose query password matches, listed, each opened in this browser.
pub(super) async fn lookup(
    State(app): State<App>,
    Extension(page): Extension<PageContext>,
    ClientOrigin(origin): ClientOrigin,
    headers: HeaderMap,
    Form(form): Form<LookupForm>,
) -> Result<Response, PageError> {
    let order_id = form.order_id.trim();
    if order_id.is_empty() {
        return lookup_by_contact(&app, &page, &origin, &headers, &form).await;
    }
    let found = match app
        .lookup_guest_order(&origin, order_id, &form.contact, &form.query_password)
        .await
    {
        // Canonical id from the order itself, so the redirect carries only our own text.
        Ok(token) => match app.order(&Caller::GuestToken(token.clone()), order_id).await {
            Ok(order) => Ok(order_url(&order.id).map(|url| (order.id, token, url))),
            Err(e) => Err(e),
        },
        Err(e) => Err(e),
    };
    match found {
        Ok(Some((id, token, url))) => guest_redirect(&page, &id, &token, &url),
        Ok(None) | Err(AppError::NotFound(_)) => nothing_found(&app, &page, &headers, &form).await,
        Err(e) => Err(e.into()),
    }
}

async fn lookup_by_contact(
    app: &App,
    page: &PageContext,
    origin: &danbao_app::limits::Origin,
    headers: &HeaderMap,
    form: &LookupForm,
) -> Result<Response, PageError> {
    let found = app
        .lookup_guest_orders(origin, &form.contact, &form.query_password)
        .await?;
    if found.is_empty() {
        return nothing_found(app, page, headers, form).await;
    }
    let mut cookies: Vec<HeaderValue> = Vec::with_capacity(found.len());
    for (order, token) in &found {
        cookies.push(page.order_cookie(&order.id, token)?);
    }
    let l = page.ui.lang();
    let mut mine = browser_orders(app, headers, l).await?;
    // The orders just found are this browser's now; listed once, under what was found.
    mine.retain(|m| !found.iter().any(|(o, _)| o.number == m.number));
    let html = LookupPage {
        contact: form.contact.clone(),
        found: Some(found.iter().map(|(o, _)| OrderLine::new(l, o)).collect()),
        ..lookup_page(page, false, mine)
    };
    let mut resp = (private_headers(), html).into_response();
    for c in cookies {
        resp.headers_mut().append(header::SET_COOKIE, c);
    }
    Ok(resp)
}

/// The one answer for no such order, no such contact and a wrong password alike.
async fn nothing_found(
    app: &App,
    page: &PageContext,
    headers: &HeaderMap,
    form: &LookupForm,
) -> Result<Response, PageError> {
    let html = LookupPage {
        order_id: form.order_id.clone(),
        contact: form.contact.clone(),
        error: Some(page.ui.lookup_nothing.to_string()),
        ..lookup_page(page, false, browser_orders(app, headers, page.ui.lang()).await?)
    };
    Ok((StatusCode::NOT_FOUND, private_headers(), html).into_response())
}

/// The file a manual order was delivered with: for its buyer after the recorded reveal
/// (and its seller). Pictures inline, anything else as a download.
pub(super) async fn delivery_file(
    State(app): State<App>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let v = order_viewer(&app, &headers, &id).await?;
    let (bytes, media_type) = app.delivery_file(&v.caller, &id).await?;
    let disposition = if media_type.starts_with("image/") {
        "inline".to_string()
    } else {
        "attachment; filename=\"delivery\"".to_string()
    };
    Ok((
        private_headers(),
        [
            (header::CONTENT_TYPE, media_type),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        bytes,
    )
        .into_response())
}
