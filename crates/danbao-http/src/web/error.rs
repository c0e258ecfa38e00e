//! Errors as pages: `PageError` and the mapping from the use cases' errors.
//!
//! A handler returns a `PageError` without knowing the viewer's language; its message is
//! kept as a function of the words, and the `guard` renders the page in the viewer's
//! language (with the header that names who is logged in) once the handler is done.

use super::i18n::{Lang, Ui, Words};
use super::labels::{field, invalid, refusal};
use super::private_headers;
use askama::Template;
use askama_web::WebTemplate;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use danbao_app::AppError;
use std::sync::Arc;

/// A text in whatever language the page is shown in.
#[derive(Clone)]
pub(super) struct Text(Arc<dyn Fn(&Words) -> String + Send + Sync>);

impl Text {
    /// A text made in the page's language.
    pub(super) fn by(f: impl Fn(&Words) -> String + Send + Sync + 'static) -> Text {
        Text(Arc::new(f))
    }

    /// One of the catalog's words.
    pub(super) fn word(f: fn(&Words) -> &'static str) -> Text {
        Text::by(move |w| f(w).to_string())
    }

    pub(super) fn in_(&self, w: &Words) -> String {
        (self.0)(w)
    }
}

/// The console pages are zh-CN only: their messages are written as they are shown.
impl From<&'static str> for Text {
    fn from(s: &'static str) -> Text {
        Text::by(move |_| s.to_string())
    }
}

impl From<String> for Text {
    fn from(s: String) -> Text {
        Text::by(move |_| s.clone())
    }
}

/// An error as a page: a status and a message fit to show a buyer.
#[derive(Clone)]
pub(super) struct PageError {
    pub(super) status: StatusCode,
    /// The page's heading; none: the status's generic one.
    title: Option<Text>,
    pub(super) message: Text,
    /// The form field the message is about, shown beside that field when the form is
    /// shown again (`quantity`, `contact`, `field_<name>` of a manual product, …).
    pub(super) field: Option<String>,
    /// Seconds to wait, sent as `Retry-After` (429 pages).
    pub(super) retry_after_s: Option<i64>,
    /// Instead of a page, send the browser here (a console page without a login).
    redirect: Option<&'static str>,
}

impl PageError {
    pub(super) fn new(status: StatusCode, message: impl Into<Text>) -> PageError {
        PageError {
            status,
            title: None,
            message: message.into(),
            field: None,
            retry_after_s: None,
            redirect: None,
        }
    }

    /// An error whose message is one of the catalog's words.
    pub(super) fn says(status: StatusCode, word: fn(&Words) -> &'static str) -> PageError {
        PageError::new(status, Text::word(word))
    }

    /// A problem with one field of a form: `problem` is what is wrong with it.
    pub(super) fn field(
        field: &str,
        label: fn(&Words) -> &'static str,
        problem: fn(&Words) -> &'static str,
    ) -> PageError {
        PageError {
            field: Some(field.to_string()),
            ..PageError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                Text::by(move |w| w.field_problem(label(w), problem(w))),
            )
        }
    }

    /// The message in a language (for a form shown again with it).
    pub(super) fn message_in(&self, w: &Words) -> String {
        self.message.in_(w)
    }

    /// A console page asked for without a session: to the login page.
    pub(super) fn login_required() -> PageError {
        PageError {
            redirect: Some("/login"),
            ..PageError::says(StatusCode::SEE_OTHER, |w| w.err_login_first)
        }
    }

    /// A page that is not this viewer's to see looks like one that does not exist.
    pub(super) fn page_not_found() -> PageError {
        PageError::says(StatusCode::NOT_FOUND, |w| w.err_page_not_found)
    }

    pub(super) fn order_not_found() -> PageError {
        PageError {
            title: Some(Text::word(|w| w.err_order_not_found)),
            ..PageError::says(StatusCode::NOT_FOUND, |w| w.err_order_not_found)
        }
    }

    pub(super) fn complaint_not_found() -> PageError {
        PageError {
            title: Some(Text::word(|w| w.err_complaint_not_found)),
            ..PageError::says(StatusCode::NOT_FOUND, |w| w.err_complaint_not_found)
        }
    }

    /// The error page in the viewer's language.
    pub(super) fn render(&self, ui: &Ui) -> Response {
        if let Some(to) = self.redirect {
            return (private_headers(), axum::response::Redirect::to(to)).into_response();
        }
        let title = match (&self.title, self.status) {
            (Some(t), _) => t.in_(ui),
            (None, StatusCode::NOT_FOUND) => ui.err_not_found_title.to_string(),
            (None, StatusCode::TOO_MANY_REQUESTS) => ui.err_rate_limited_title.to_string(),
            (None, s) if s.is_server_error() => ui.err_busy_title.to_string(),
            (None, _) => ui.err_failed_title.to_string(),
        };
        let page = ErrorPage {
            title,
            message: self.message.in_(ui),
            w: ui.clone(),
        };
        let mut resp = (self.status, private_headers(), page).into_response();
        if let Some(s) = self.retry_after_s {
            resp.headers_mut()
                .insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from(s.max(1)));
        }
        resp
    }
}

impl From<AppError> for PageError {
    fn from(e: AppError) -> PageError {
        use StatusCode as S;
        match e {
            AppError::NotFound("order") => PageError::order_not_found(),
            AppError::NotFound("complaint") => PageError::complaint_not_found(),
            AppError::NotFound("product") => PageError::says(S::NOT_FOUND, |w| w.err_product_not_found),
            AppError::NotFound(_) => PageError::says(S::NOT_FOUND, |w| w.err_thing_not_found),
            AppError::Validation { field: name, problem } => {
                // A manual product's own field is named by the buyer's label in the problem.
                let input = match (&problem, name) {
                    (
                        danbao_app::Invalid::Required { name: f } | danbao_app::Invalid::NotAField { name: f },
                        "delivery_fields",
                    ) => format!("field_{f}"),
                    _ => name.to_string(),
                };
                PageError {
                    field: Some(input),
                    ..PageError::new(
                        S::UNPROCESSABLE_ENTITY,
                        Text::by(move |w| w.field_problem(field(w.lang, name), &invalid(w.lang, &problem))),
                    )
                }
            }
            AppError::Refused(r @ danbao_domain::Refusal::QueryPasswordLocked { retry_after_s, .. }) => PageError {
                retry_after_s: Some(retry_after_s),
                ..PageError::new(S::TOO_MANY_REQUESTS, Text::by(move |w| refusal(w.lang, &r)))
            },
            AppError::Refused(r) => PageError::new(S::CONFLICT, Text::by(move |w| refusal(w.lang, &r))),
            AppError::RateLimited { retry_after_s } => PageError {
                title: Some(Text::word(|w| w.err_rate_limited_title)),
                retry_after_s: Some(retry_after_s),
                ..PageError::new(S::TOO_MANY_REQUESTS, Text::by(move |w| w.retry_in(retry_after_s)))
            },
            AppError::Unauthenticated | AppError::BadCredentials => {
                PageError::says(S::UNAUTHORIZED, |w| w.err_login_first)
            }
            AppError::Forbidden(_) => PageError::says(S::FORBIDDEN, |w| w.err_forbidden),
            AppError::ProviderUnavailable(why) => {
                tracing::warn!(error = %why, "payment provider unavailable");
                PageError::says(S::BAD_GATEWAY, |w| w.err_provider_down)
            }
            e @ (AppError::BadSignature
            | AppError::BadNotification(_)
            | AppError::Store(_)
            | AppError::Ledger(_)
            | AppError::Internal(_)) => {
                tracing::error!(error = %e, "web page failed");
                PageError::says(S::INTERNAL_SERVER_ERROR, |w| w.err_busy)
            }
        }
    }
}

/// The handler's error goes back to the guard, which renders it in the viewer's
/// language; a response that never passes the guard still gets a zh-CN page.
impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let mut resp = self.render(&Ui::new(Lang::Zh, "/", None));
        resp.extensions_mut().insert(self);
        resp
    }
}

/// A complaint use case's error as a page error; `kind_message` explains a bad `kind`.
pub(super) fn complaint_error(e: AppError, kind_message: fn(&Words) -> &'static str) -> PageError {
    match e {
        AppError::Validation { field: "kind", .. } => PageError::says(StatusCode::UNPROCESSABLE_ENTITY, kind_message),
        other => other.into(),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "error.html")]
struct ErrorPage {
    title: String,
    message: String,
    w: Ui,
}
