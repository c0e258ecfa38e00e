//! Who is looking: the session cookie, the page's viewer, login and logout.

use super::error::PageError;
use super::{private_headers, valid_token};
use crate::extract::ClientOrigin;
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Form, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use danbao_app::{App, AppError, Caller, User};
use serde::Deserialize;

/// The web session cookie: a bearer token from logging in, kept where scripts cannot read it.
const SESSION_COOKIE: &str = "danbao_session";
/// As long as the token it carries (30 days).
const SESSION_MAX_AGE_S: i64 = 30 * 24 * 3600;
/// Bounds what a login form can make argon2 chew on.
const LOGIN_FIELD_MAX: usize = 512;

/// Who is looking at a page: the caller, and the access token that links back to it
/// (`None` for an account holder, whose session cookie goes along by itself).
pub(super) struct Viewer {
    pub(super) caller: Caller,
    pub(super) token: Option<String>,
}

impl Viewer {
    pub(super) fn token(&self) -> Option<&str> {
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
pub(super) async fn session_user(app: &App, headers: &HeaderMap) -> Result<Option<User>, PageError> {
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
pub(super) async fn order_viewer(app: &App, headers: &HeaderMap, token: Option<&str>) -> Result<Viewer, PageError> {
    viewer(app, headers, token)
        .await?
        .ok_or_else(PageError::order_not_found)
}

/// The viewer of a complaint page, or "complaint not found" for nobody.
pub(super) async fn complaint_viewer(app: &App, headers: &HeaderMap, token: Option<&str>) -> Result<Viewer, PageError> {
    viewer(app, headers, token)
        .await?
        .ok_or_else(PageError::complaint_not_found)
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
pub(super) struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
}

pub(super) async fn login_form() -> Response {
    let page = LoginPage {
        username: String::new(),
        error: None,
    };
    (private_headers(), page).into_response()
}

pub(super) async fn login(
    State(app): State<App>,
    ClientOrigin(origin): ClientOrigin,
    Form(form): Form<LoginForm>,
) -> Result<Response, PageError> {
    let username = form.username.trim();
    let result = if username.len() > LOGIN_FIELD_MAX || form.password.len() > LOGIN_FIELD_MAX {
        Err(AppError::BadCredentials)
    } else {
        app.login(&origin, username, &form.password).await
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
pub(super) async fn logout() -> Result<Response, PageError> {
    let cookie = session_cookie(None)?;
    Ok((private_headers(), [(header::SET_COOKIE, cookie)], Redirect::to("/")).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
