//! Who is looking: the session cookie, the page's viewer, login and logout.

use super::error::PageError;
use super::forms::{self, PageContext};
use super::{private_headers, valid_token};
use crate::extract::ClientOrigin;
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Extension, Form, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use danbao_app::{App, AppError, Caller, User};
use serde::Deserialize;

/// The web session cookie: a bearer token from logging in, kept where scripts cannot read it.
pub(super) const SESSION_COOKIE: &str = "danbao_session";
/// As long as the token it carries (30 days).
const SESSION_MAX_AGE_S: i64 = 30 * 24 * 3600;
/// Bounds what a login form can make argon2 chew on.
const LOGIN_FIELD_MAX: usize = 512;

/// Who is looking at a page.
pub(super) struct Viewer {
    pub(super) caller: Caller,
}

/// The session cookie's token, if one that could be a token was sent.
fn session_token(headers: &HeaderMap) -> Option<&str> {
    forms::cookie(headers, SESSION_COOKIE)
}

/// The account holder whose session cookie came with the request, if it is valid.
pub(super) async fn session_user(app: &App, headers: &HeaderMap) -> Result<Option<User>, PageError> {
    match session_token(headers) {
        Some(t) => Ok(app.authenticate(t).await?),
        None => Ok(None),
    }
}

async fn account_viewer(app: &App, headers: &HeaderMap) -> Result<Option<Viewer>, PageError> {
    Ok(session_user(app, headers).await?.map(|u| Viewer {
        caller: Caller::User(u),
    }))
}

/// The viewer of an order page: the guest whose browser holds this order's cookie, else
/// an account holder; "order not found" for nobody.
pub(super) async fn order_viewer(app: &App, headers: &HeaderMap, order_id: &str) -> Result<Viewer, PageError> {
    if let Some((_, token)) = forms::order_cookies(headers)
        .into_iter()
        .find(|(id, _)| *id == order_id)
    {
        return Ok(Viewer {
            caller: Caller::GuestToken(token.to_string()),
        });
    }
    account_viewer(app, headers)
        .await?
        .ok_or_else(PageError::order_not_found)
}

/// The viewer of a complaint page: the guest whose browser holds the cookie of the
/// complaint's order (each order cookie is tried: the address names only the complaint),
/// else an account holder; "complaint not found" for nobody.
pub(super) async fn complaint_viewer(app: &App, headers: &HeaderMap, complaint_id: &str) -> Result<Viewer, PageError> {
    for (_, token) in forms::order_cookies(headers) {
        let caller = Caller::GuestToken(token.to_string());
        match app.complaint(&caller, complaint_id).await {
            Ok(_) => return Ok(Viewer { caller }),
            Err(AppError::NotFound(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    account_viewer(app, headers)
        .await?
        .ok_or_else(PageError::complaint_not_found)
}

/// The `Set-Cookie` value that stores a session token, or (with `None`) forgets it.
fn session_cookie(page: &PageContext, token: Option<&str>) -> Result<HeaderValue, PageError> {
    let (value, max_age) = match token {
        Some(t) if valid_token(t) => (t, SESSION_MAX_AGE_S),
        Some(_) => {
            tracing::error!("login returned a token that is not lower-case hex");
            return Err(PageError::says(StatusCode::INTERNAL_SERVER_ERROR, |w| w.err_busy));
        }
        None => ("", 0),
    };
    page.cookie(SESSION_COOKIE, value, Some(max_age))
}

#[derive(Template, WebTemplate)]
#[template(path = "login.html")]
struct LoginPage {
    username: String,
    error: Option<String>,
    csrf: String,
    w: super::i18n::Ui,
}

#[derive(Deserialize)]
pub(super) struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
}

pub(super) async fn login_form(Extension(page): Extension<PageContext>) -> Response {
    let login = LoginPage {
        username: String::new(),
        error: None,
        csrf: page.csrf,
        w: page.ui,
    };
    (private_headers(), login).into_response()
}

pub(super) async fn login(
    State(app): State<App>,
    Extension(page): Extension<PageContext>,
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
        Ok((token, user)) => {
            let cookie = session_cookie(&page, Some(&token))?;
            Ok((
                private_headers(),
                [(header::SET_COOKIE, cookie)],
                Redirect::to(super::staff::home_of(user.role)),
            )
                .into_response())
        }
        Err(AppError::BadCredentials | AppError::Unauthenticated | AppError::Validation { .. }) => Ok((
            StatusCode::UNAUTHORIZED,
            private_headers(),
            LoginPage {
                username: username.chars().take(64).collect(),
                error: Some(page.ui.err_bad_login.to_string()),
                csrf: page.csrf,
                w: page.ui,
            },
        )
            .into_response()),
        Err(e) => Err(e.into()),
    }
}

/// Forgets the session cookie in this browser. (The token itself stays valid until it
/// expires: the app has no use case to revoke one.)
pub(super) async fn logout(Extension(page): Extension<PageContext>) -> Result<Response, PageError> {
    let cookie = session_cookie(&page, None)?;
    Ok((private_headers(), [(header::SET_COOKIE, cookie)], Redirect::to("/")).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_session_cookie_is_read_strictly() {
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
    }
}
