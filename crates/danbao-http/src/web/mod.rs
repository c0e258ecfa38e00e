//! Server-rendered pages (zh-CN): the storefront, product pages with guest checkout,
//! the order page (pay, reveal, confirm, refunds, complaints, timeline), the complaint
//! page (evidence, withdrawal, the seller's answer, triage, ruling), 查单 (guest lookup)
//! and the login for account holders (a session cookie) with their own order list.
//!
//! A page's viewer is a guest whose browser holds an order's access in an HttpOnly
//! cookie (`danbao_order_<id>`, set at checkout or 查单, or when a link with
//! `?access_token=` is opened, which then redirects to the clean address), or else an
//! account holder with the `danbao_session` cookie. No page address or form carries an
//! access token, so none sits in history, logs, a Referer or the gateway's return URL.
//! Every form carries an anti-forgery token (see `forms`).
//!
//! A handler parses the form, calls one use case and renders a template. Every error
//! becomes a friendly page with the matching status; internal causes go to the log,
//! never to the page. Askama escapes everything; no user text is marked safe.
//!
//! The buyer's pages speak zh-CN or English (`i18n`: the switch in the header, else
//! `Accept-Language`); the consoles are zh-CN only.

mod account;
mod admin;
mod admin_words;
mod arbitration;
mod arbitration_words;
mod complaints;
mod error;
mod forms;
mod i18n;
mod labels;
mod liabilities;
mod orders;
mod rules;
mod seller;
mod seller_words;
mod session;
mod shop;
mod staff;
mod storefront;
mod transparency;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Router;
use danbao_app::App;
use danbao_domain::Money;
use serde::Deserialize;

pub use forms::WebOptions;

/// An access token is a hex HMAC; anything much longer is not one.
const TOKEN_LEN_MAX: usize = 128;

pub fn routes(app: App, opts: WebOptions) -> Router<App> {
    Router::new()
        .route("/", get(storefront::index))
        .route("/products/{id}", get(shop::product_page))
        .route("/products/{id}/buy", post(shop::buy))
        .route("/orders/{id}", get(orders::order_page))
        .route("/orders/{id}/reveal", get(orders::reveal).post(orders::reveal))
        .route("/orders/{id}/scan", get(orders::scan_page))
        .route("/orders/{id}/delivery/file", get(orders::delivery_file))
        .route("/orders/{id}/confirm", post(orders::confirm))
        .route("/orders/{id}/confirm-risk", post(orders::confirm_risk))
        .route("/orders/{id}/complaints", post(complaints::open_complaint))
        .route("/complaints/{id}", get(complaints::complaint_page))
        .route("/complaints/{id}/evidence", post(complaints::add_evidence))
        .route(
            "/complaints/{id}/files",
            post(complaints::add_evidence_file).layer(axum::extract::DefaultBodyLimit::max(
                crate::api::EVIDENCE_BODY_MAX_BYTES,
            )),
        )
        .route("/complaints/{id}/files/{sha256}", get(complaints::evidence_file))
        .route("/complaints/{id}/withdraw", post(complaints::withdraw_complaint))
        .route("/complaints/{id}/response", post(complaints::seller_response))
        .route("/lookup", get(orders::lookup_form).post(orders::lookup))
        .route("/my-orders", get(orders::my_orders))
        .route(COPY_SCRIPT_PATH, get(copy_script))
        .route("/rules", get(rules::rules_page))
        .route("/transparency", get(transparency::transparency_page))
        .route("/lang/{code}", get(switch_language))
        .route("/login", get(session::login_form).post(session::login))
        .route("/logout", post(session::logout))
        .route("/account", get(account::account_page))
        .merge(seller::routes())
        .merge(arbitration::routes())
        .merge(admin::routes())
        .layer(axum::middleware::from_fn_with_state((app, opts), guard))
}

/// What every page response says to the browser: no framing (clickjacking), no type
/// sniffing, no inline script (only this origin's files: the one copy button script),
/// resources from this origin only (the one inline style block of base.html aside).
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

/// The one script pages load: the copy button beside a delivered key. The version is in
/// its address, so it is cached for a year and a new version gets a new address.
pub(crate) const COPY_SCRIPT_PATH: &str = "/static/copy-v1.js";
const COPY_SCRIPT: &str = include_str!("../../static/copy.js");

async fn copy_script() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "application/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
        ],
        COPY_SCRIPT,
    )
}

/// A form POST from another site is refused before it reaches a handler: browsers send
/// `Sec-Fetch-Site` (and `Origin`) on every POST, so a page elsewhere cannot act with a
/// visitor's session cookie or log them in as someone else (login CSRF). Same-origin
/// posts and clients that send neither header (curl, tests) pass that check, and then
/// every POST must carry the form token of this browser (`forms`): the Origin check is
/// the outer wall, the token the inner one.
async fn guard(
    State((app, opts)): State<(App, WebOptions)>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::http::StatusCode;
    let ui = page_ui(&app, req.method(), req.uri(), req.headers()).await;
    let asked_lang = i18n::asked_in_query(req.uri().query());
    let post = req.method() == axum::http::Method::POST;
    if post && cross_site(req.headers()) {
        return with_page_headers(
            error::PageError::says(StatusCode::FORBIDDEN, |w| w.err_cross_site).render(&ui),
            &ui,
        );
    }
    let (browser, fresh) = match forms::browser_secret(req.headers()) {
        Some(b) => (b.to_string(), false),
        None => (app.new_browser_secret(), true),
    };
    let page = forms::PageContext::new(&app, req.headers(), &browser, opts, ui.clone());
    let set_browser = if fresh {
        match page.cookie(forms::BROWSER_COOKIE, &browser, None) {
            Ok(v) => Some(v),
            Err(e) => return with_page_headers(e.render(&ui), &ui),
        }
    } else {
        None
    };
    let mut req = req;
    if post {
        match check_form(&app, &page, req).await {
            Ok(checked) => req = checked,
            Err(refused) => {
                let mut refused = with_page_headers(refused.render(&ui), &ui);
                if let Some(v) = set_browser {
                    refused.headers_mut().append(header::SET_COOKIE, v);
                }
                return refused;
            }
        }
    }
    req.extensions_mut().insert(page);
    let mut resp = next.run(req).await;
    // A handler's error page is made here, in the viewer's language; what the handler
    // set besides (cookies) is kept.
    if let Some(e) = resp.extensions_mut().remove::<error::PageError>() {
        let mut page = e.render(&ui);
        for (name, value) in resp.headers() {
            if name == header::SET_COOKIE {
                page.headers_mut().append(name, value.clone());
            }
        }
        resp = page;
    }
    if let Some(v) = set_browser {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    // A language asked for in the address is kept for the pages that follow.
    if let Some(lang) = asked_lang {
        if let Ok(v) = forms::set_cookie(
            i18n::LANG_COOKIE,
            lang.code(),
            Some(i18n::LANG_COOKIE_MAX_AGE_S),
            opts.secure_cookies,
        ) {
            resp.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    with_page_headers(resp, &ui)
}

/// The language, the switch back to this page and who is logged in, for the page.
async fn page_ui(
    app: &App,
    method: &axum::http::Method,
    uri: &axum::http::Uri,
    headers: &axum::http::HeaderMap,
) -> i18n::Ui {
    let lang = i18n::asked_in_query(uri.query()).unwrap_or_else(|| i18n::negotiate(headers));
    let back = if method == axum::http::Method::POST {
        i18n::page_of_post(uri.path()).to_string()
    } else {
        i18n::without_lang_param(uri.path(), uri.query())
    };
    // A session that cannot be read (a store hiccup) only leaves the name out of the
    // header; the handler meets the same error and answers for it.
    let who = session::session_user(app, headers)
        .await
        .ok()
        .flatten()
        .map(|u| u.username);
    i18n::Ui::new(lang, &back, who)
}

/// What every page response says to the browser: its language, that it varies with
/// the language asked for, and the security headers.
fn with_page_headers(mut resp: axum::response::Response, ui: &i18n::Ui) -> axum::response::Response {
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        header::HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        header::HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, header::HeaderValue::from_static("DENY"));
    h.insert(header::CONTENT_LANGUAGE, header::HeaderValue::from_static(ui.html_lang));
    h.append(
        header::VARY,
        header::HeaderValue::from_static("Accept-Language, Cookie"),
    );
    resp
}

#[derive(Deserialize)]
struct SwitchQuery {
    back: Option<String>,
}

/// The header's language switch: remembers the choice in a cookie and goes back to the
/// page it was clicked on (on this site only).
async fn switch_language(
    axum::extract::Extension(page): axum::extract::Extension<forms::PageContext>,
    axum::extract::Path(code): axum::extract::Path<String>,
    axum::extract::Query(q): axum::extract::Query<SwitchQuery>,
) -> Result<axum::response::Response, error::PageError> {
    let lang = i18n::Lang::from_code(&code).ok_or_else(error::PageError::page_not_found)?;
    let back = i18n::safe_back(q.back.as_deref().unwrap_or("/"));
    let cookie = page.cookie(i18n::LANG_COOKIE, lang.code(), Some(i18n::LANG_COOKIE_MAX_AGE_S))?;
    Ok(([(header::SET_COOKIE, cookie)], axum::response::Redirect::to(back)).into_response())
}

/// A URL-encoded form's token is read from its body here (the body is handed on to the
/// handler). A multipart form goes only to the evidence file upload, whose handler
/// checks the token as it reads the fields in order (a file is not buffered here).
/// Pages post nothing else.
async fn check_form(
    app: &App,
    page: &forms::PageContext,
    req: axum::extract::Request,
) -> Result<axum::extract::Request, error::PageError> {
    use axum::http::StatusCode;
    let forged = || error::PageError::says(StatusCode::FORBIDDEN, |w| w.err_forged_form);
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if content_type.starts_with("multipart/form-data") {
        return if multipart_checked_by_handler(req.uri().path()) {
            Ok(req)
        } else {
            Err(forged())
        };
    }
    if !content_type.starts_with("application/x-www-form-urlencoded") {
        return Err(forged());
    }
    let (parts, body) = req.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, forms::FORM_BODY_MAX_BYTES).await else {
        return Err(error::PageError::says(StatusCode::PAYLOAD_TOO_LARGE, |w| {
            w.err_too_large
        }));
    };
    match forms::form_field(&bytes) {
        Some(token) if page.accepts(app, &token) => {
            Ok(axum::extract::Request::from_parts(parts, axum::body::Body::from(bytes)))
        }
        _ => Err(forged()),
    }
}

/// The forms that upload files, whose handlers read the token first
/// (`forms::multipart_token_first`) so that no file is read for a forged form: evidence
/// files, and the seller back office's uploads (card-key files, delivery files).
fn multipart_checked_by_handler(path: &str) -> bool {
    (path.starts_with("/complaints/") && path.ends_with("/files")) || path.starts_with("/seller/")
}

fn cross_site(headers: &axum::http::HeaderMap) -> bool {
    // Sec-Fetch-Site is the browser's own word and survives our no-referrer policy
    // (under which a same-origin form POST carries `Origin: null`).
    if let Some(site) = headers.get("sec-fetch-site") {
        return !matches!(site.to_str(), Ok("same-origin" | "none"));
    }
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    match headers.get(header::ORIGIN).map(|o| o.to_str()) {
        None => false,
        Some(Ok(origin)) => origin
            .split_once("://")
            .map(|(_, rest)| rest.trim_end_matches('/'))
            .is_none_or(|origin_host| Some(origin_host) != host),
        Some(Err(_)) => true,
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

/// Puts an order's risk reasons into the words of the reader's language (the cookie, then
/// `Accept-Language`; zh-CN by default), for the JSON API as for the pages.
pub(crate) fn localise_risk(headers: &axum::http::HeaderMap, risk: &mut danbao_app::RiskView) {
    let lang = i18n::negotiate(headers);
    risk.reasons = risk.details.iter().map(|r| labels::risk_reason(lang, r)).collect();
}

fn yuan(minor: i64) -> String {
    Money::from_minor(minor).to_string()
}

/// A time as RFC 3339 (for `<time datetime>`) and as shown.
struct TimeView {
    rfc3339: String,
    display: String,
}

impl TimeView {
    fn new(rfc3339: &str) -> TimeView {
        // Shown in China time (the datetime attribute keeps the exact UTC instant).
        let display = danbao_app::clock::parse_rfc3339(rfc3339)
            .map(danbao_app::clock::display_time)
            .unwrap_or_else(|| rfc3339.to_string());
        TimeView {
            rfc3339: rfc3339.to_string(),
            display,
        }
    }
}

struct EventItem {
    at: TimeView,
    label: String,
    /// What happened, in words a buyer reads.
    detail: Option<String>,
    /// The technical proof (hashes, provider references), folded away under 查看存证.
    proof: Option<String>,
}

/// A page's address: never with a token (the browser's cookies say who is looking).
fn page_url(kind: &str, id: &str) -> Option<String> {
    valid_id(id).then(|| format!("/{kind}/{id}"))
}

/// Only plain web addresses become links or redirects: no `javascript:` and no header
/// injection, whatever a provider answers.
/// A WeChat Pay Native payment code (`weixin://wxpay/bizpayurl?pr=…`): not an address a
/// browser can open, but what the buyer scans; the platform shows it as a QR code.
fn scan_code(url: &str) -> Option<&str> {
    const CODE_CHARS_MAX: usize = 64;
    let code = url.strip_prefix(danbao_sandbox::wire::WECHAT_CODE_URL_PREFIX)?;
    (!code.is_empty()
        && code.len() <= CODE_CHARS_MAX
        && code
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'))
    .then_some(code)
}

/// Where a buyer goes to pay an order whose cashier is `cashier_url`: the provider's page,
/// or, for a payment code, the platform's own page showing it.
fn pay_address(order_id: &str, cashier_url: &str) -> Option<String> {
    if is_http_url(cashier_url) {
        Some(cashier_url.to_string())
    } else if scan_code(cashier_url).is_some() {
        order_url(order_id).map(|u| format!("{u}/scan"))
    } else {
        None
    }
}

fn is_http_url(url: &str) -> bool {
    (url.starts_with("https://") || url.starts_with("http://")) && url.bytes().all(|b| b.is_ascii_graphic())
}

/// A guest's access token is lower-case hex; anything else is not looked at.
fn valid_token(token: &str) -> bool {
    !token.is_empty() && token.len() <= TOKEN_LEN_MAX && token.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Ids go into paths and headers only in their canonical UUID form.
fn valid_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// An order page's address.
fn order_url(id: &str) -> Option<String> {
    page_url("orders", id)
}

/// A link with `?access_token=` (from an API client, or an old bookmark): the page
/// moves the token into a cookie and redirects to its clean address.
#[derive(Deserialize)]
struct TokenQuery {
    access_token: Option<String>,
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
    fn times_are_shown_plainly() {
        // China time: UTC+8, across midnight too.
        let t = TimeView::new("2025-01-02T03:04:05.678Z");
        assert_eq!(t.display, "2025-01-02 11:04:05");
        assert_eq!(t.rfc3339, "2025-01-02T03:04:05.678Z");
        assert_eq!(TimeView::new("2025-01-01T20:00:00Z").display, "2025-01-02 04:00:00");
        assert_eq!(TimeView::new("not a time").display, "not a time");
    }
}
