//! The cookies pages set, and the anti-forgery token every form carries.
//!
//! Every page response knows a browser by a random pre-session secret (the
//! `danbao_browser` cookie, set the first time a browser comes). A form's token is
//! HMAC(server key, browser secret ‖ session token): another site can neither read nor
//! compute it, so a forged POST — login and checkout included, which have no session
//! yet — carries none that fits. The `guard` checks it before any handler runs (a
//! multipart form is checked by its handler, which reads the fields in order).

use super::error::PageError;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use danbao_app::App;

/// The browser's pre-session secret.
pub(super) const BROWSER_COOKIE: &str = "danbao_browser";
/// A guest buyer's access to one order: `danbao_order_<order id>` = its access token.
pub(super) const ORDER_COOKIE_PREFIX: &str = "danbao_order_";
/// The hidden field that carries a form's token.
pub(super) const CSRF_FIELD: &str = "csrf_token";
/// A guest's order cookie lives as long as a session (30 days); after that, 查单 again.
pub(super) const ORDER_COOKIE_MAX_AGE_S: i64 = 30 * 24 * 3600;
/// A form's body is read before its handler to find the token. The largest form is a
/// complaint's text: 4,000 CJK characters percent-encoded are 36 KB.
pub(super) const FORM_BODY_MAX_BYTES: usize = 256 * 1024;
/// A browser with more guest orders than this finds the rest through 查单; bounds what
/// one request can make us look up.
const ORDER_COOKIES_READ_MAX: usize = 32;
/// Hex secrets and tokens: a 32-byte secret or a SHA-256 MAC is 64 characters.
const SECRET_LEN_MAX: usize = 128;

/// How cookies are set: with `Secure` behind TLS (`danbao serve --secure-cookies`, or a
/// public URL that is https), without it for the plain-http demo.
#[derive(Debug, Clone, Copy, Default)]
pub struct WebOptions {
    pub secure_cookies: bool,
    /// The in-process sandbox is mounted at `/sandbox`: a payment code of its WeChat Pay
    /// personality can be "scanned" in the browser (the demo).
    pub sandbox_mounted: bool,
}

/// What the guard learned about a page request, for its handler.
#[derive(Clone)]
pub(super) struct PageContext {
    /// The token the page's forms carry.
    pub(super) csrf: String,
    binding: String,
    pub(super) secure_cookies: bool,
    pub(super) sandbox_mounted: bool,
    /// The page's language, its switch and who is logged in.
    pub(super) ui: super::i18n::Ui,
}

impl PageContext {
    pub(super) fn new(
        app: &App,
        headers: &HeaderMap,
        browser: &str,
        opts: WebOptions,
        ui: super::i18n::Ui,
    ) -> PageContext {
        // A session token in the binding ties a logged-in user's forms to that session;
        // a planted browser cookie alone then makes no token that works for them.
        let session = cookie(headers, super::session::SESSION_COOKIE).unwrap_or("");
        let binding = format!("{browser}\n{session}");
        PageContext {
            csrf: app.form_token(&binding),
            binding,
            secure_cookies: opts.secure_cookies,
            sandbox_mounted: opts.sandbox_mounted,
            ui,
        }
    }

    /// Whether a submitted token is this browser's (constant time).
    pub(super) fn accepts(&self, app: &App, token: &str) -> bool {
        token.len() <= SECRET_LEN_MAX && app.check_form_token(&self.binding, token)
    }

    /// The `Set-Cookie` value for a cookie of ours.
    pub(super) fn cookie(&self, name: &str, value: &str, max_age_s: Option<i64>) -> Result<HeaderValue, PageError> {
        set_cookie(name, value, max_age_s, self.secure_cookies)
    }

    /// The cookie that gives this browser a guest's access to one order.
    pub(super) fn order_cookie(&self, order_id: &str, token: &str) -> Result<HeaderValue, PageError> {
        if !super::valid_id(order_id) || !super::valid_token(token) {
            return Err(busy());
        }
        self.cookie(
            &format!("{ORDER_COOKIE_PREFIX}{order_id}"),
            token,
            Some(ORDER_COOKIE_MAX_AGE_S),
        )
    }
}

fn busy() -> PageError {
    PageError::says(StatusCode::INTERNAL_SERVER_ERROR, |w| w.err_busy)
}

/// Every cookie we set: HttpOnly (no script reads it), SameSite=Lax (another site's
/// forms and frames do not carry it; following a link back here does), for the whole
/// site, and Secure when configured. `max_age_s`: none for a browser-session cookie.
pub(super) fn set_cookie(
    name: &str,
    value: &str,
    max_age_s: Option<i64>,
    secure: bool,
) -> Result<HeaderValue, PageError> {
    let plain = |s: &str| s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if name.is_empty() || !plain(name) || !plain(value) {
        tracing::error!(cookie = name, "refused to set a cookie that is not plain text");
        return Err(busy());
    }
    let mut text = format!("{name}={value}; HttpOnly; SameSite=Lax; Path=/");
    if let Some(s) = max_age_s {
        text.push_str(&format!("; Max-Age={s}"));
    }
    if secure {
        text.push_str("; Secure");
    }
    HeaderValue::from_str(&text).map_err(|_| busy())
}

/// The cookie pairs of a request, as sent.
pub(super) fn cookie_pairs(headers: &HeaderMap) -> impl Iterator<Item = (&str, &str)> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
}

/// A cookie's value if it is one of ours in form: lower-case hex, bounded.
pub(super) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    cookie_pairs(headers)
        .filter(|(k, _)| *k == name)
        .map(|(_, v)| v)
        .find(|v| v.len() <= SECRET_LEN_MAX && super::valid_token(v))
}

/// The guest order cookies a browser sent: (order id, access token), at most
/// `ORDER_COOKIES_READ_MAX` of them.
pub(super) fn order_cookies(headers: &HeaderMap) -> Vec<(&str, &str)> {
    cookie_pairs(headers)
        .filter_map(|(k, v)| Some((k.strip_prefix(ORDER_COOKIE_PREFIX)?, v)))
        .filter(|(id, token)| super::valid_id(id) && super::valid_token(token))
        .take(ORDER_COOKIES_READ_MAX)
        .collect()
}

/// The browser's pre-session secret, if it sent one that could be ours.
pub(super) fn browser_secret(headers: &HeaderMap) -> Option<&str> {
    cookie(headers, BROWSER_COOKIE)
}

/// The `csrf_token` field of a URL-encoded form body.
pub(super) fn form_field(body: &[u8]) -> Option<String> {
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
        .ok()?
        .into_iter()
        .find(|(k, _)| k == CSRF_FIELD)
        .map(|(_, v)| v)
}

/// A multipart form's first field must be this browser's token: checked before any
/// file is read (the guard leaves multipart forms to their handler).
pub(super) async fn multipart_token_first(
    app: &App,
    page: &PageContext,
    multipart: &mut axum::extract::Multipart,
) -> Result<(), PageError> {
    let unreadable = || PageError::says(StatusCode::BAD_REQUEST, |w| w.err_unreadable_upload);
    let forged = || PageError::says(StatusCode::FORBIDDEN, |w| w.err_forged_form);
    let first = multipart
        .next_field()
        .await
        .map_err(|_| unreadable())?
        .ok_or_else(forged)?;
    if first.name() != Some(CSRF_FIELD) {
        return Err(forged());
    }
    let token = first.text().await.map_err(|_| unreadable())?;
    if page.accepts(app, &token) {
        Ok(())
    } else {
        Err(forged())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_written_strictly() {
        let text = |r: Result<HeaderValue, PageError>| r.ok().and_then(|v| v.to_str().ok().map(str::to_string));
        assert_eq!(
            text(set_cookie("danbao_order_01a-b", "00ff", Some(60), false)).as_deref(),
            Some("danbao_order_01a-b=00ff; HttpOnly; SameSite=Lax; Path=/; Max-Age=60")
        );
        assert_eq!(
            text(set_cookie("danbao_browser", "00ff", None, true)).as_deref(),
            Some("danbao_browser=00ff; HttpOnly; SameSite=Lax; Path=/; Secure")
        );
        assert!(set_cookie("a", "00ff\r\nX: y", None, false).is_err());
        assert!(set_cookie("a;b", "00", None, false).is_err());
        assert!(set_cookie("", "00", None, false).is_err());
    }

    #[test]
    fn cookies_are_read_strictly() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static(
                "danbao_browser=00ff; danbao_order_01a2-ff=abcd; danbao_order_x/y=00; danbao_order_01b=NOTHEX",
            ),
        );
        assert_eq!(browser_secret(&headers), Some("00ff"));
        assert_eq!(order_cookies(&headers), vec![("01a2-ff", "abcd")]);
        headers.insert(header::COOKIE, HeaderValue::from_static("xdanbao_browser=00ff"));
        assert_eq!(browser_secret(&headers), None);
    }

    #[test]
    fn the_token_field_is_found_in_a_form() {
        assert_eq!(form_field(b"a=1&csrf_token=00ff&b=2").as_deref(), Some("00ff"));
        assert_eq!(form_field(b"a=1").as_deref(), None);
        assert_eq!(form_field(b"\xff\xfe=%%").as_deref(), None);
    }
}
