//! The one mapping from application errors to RFC 9457 problem+json responses.
//! Each variant has a stable `type`; a 500 tells the client nothing, the log has the cause.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use danbao_app::AppError;
use danbao_domain::{Refusal, RefusalField};

pub const PROBLEM_BASE: &str = "https://danbao.dev/problems/";

#[derive(Debug)]
pub struct Problem {
    pub status: StatusCode,
    pub code: &'static str,
    pub title: &'static str,
    pub detail: String,
    /// Extension members (RFC 9457 §3.2): a refusal's data, typed.
    pub fields: Vec<(&'static str, serde_json::Value)>,
}

impl Problem {
    pub fn new(status: StatusCode, code: &'static str, title: &'static str, detail: impl Into<String>) -> Problem {
        Problem {
            status,
            code,
            title,
            detail: detail.into(),
            fields: Vec::new(),
        }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let mut body = serde_json::json!({
            "type": format!("{PROBLEM_BASE}{}", self.code),
            "title": self.title,
            "status": self.status.as_u16(),
            "detail": self.detail,
        });
        if let Some(obj) = body.as_object_mut() {
            for (k, v) in self.fields {
                obj.insert(k.to_string(), v);
            }
        }
        (
            self.status,
            [(header::CONTENT_TYPE, "application/problem+json")],
            body.to_string(),
        )
            .into_response()
    }
}

impl From<AppError> for Problem {
    fn from(e: AppError) -> Problem {
        use StatusCode as S;
        match e {
            AppError::NotFound(what) => {
                Problem::new(S::NOT_FOUND, "not-found", "Not found", format!("{what} not found"))
            }
            AppError::Validation { field, problem } => {
                let mut p = Problem::new(
                    S::UNPROCESSABLE_ENTITY,
                    "validation",
                    "Invalid request",
                    format!("{field}: {problem}"),
                );
                p.fields.push(("field", serde_json::json!(field)));
                p
            }
            AppError::Refused(r) => refusal(&r),
            AppError::Unauthenticated => Problem::new(
                S::UNAUTHORIZED,
                "unauthenticated",
                "Authentication required",
                "send Authorization: Bearer <token>",
            ),
            AppError::Forbidden(why) => Problem::new(S::FORBIDDEN, "forbidden", "Not allowed", why),
            AppError::BadCredentials => Problem::new(
                S::UNAUTHORIZED,
                "bad-credentials",
                "Wrong username or password",
                "wrong username or password",
            ),
            AppError::ProviderUnavailable(why) => {
                tracing::warn!(error = %why, "payment provider unavailable");
                Problem::new(
                    S::BAD_GATEWAY,
                    "provider-unavailable",
                    "Payment provider unavailable",
                    "the payment provider could not be reached; try again",
                )
            }
            AppError::BadSignature => Problem::new(
                S::UNAUTHORIZED,
                "bad-signature",
                "Signature does not verify",
                "the notification's signature does not verify",
            ),
            AppError::BadNotification(why) => {
                Problem::new(S::BAD_REQUEST, "bad-notification", "Malformed notification", why)
            }
            AppError::Store(_) | AppError::Ledger(_) | AppError::Internal(_) => {
                tracing::error!(error = %e, "internal error");
                Problem::new(
                    S::INTERNAL_SERVER_ERROR,
                    "internal",
                    "Internal error",
                    "something went wrong on our side",
                )
            }
        }
    }
}

/// A business refusal: 409, its stable type, its English text, its data as fields.
fn refusal(r: &Refusal) -> Problem {
    let mut p = Problem::new(StatusCode::CONFLICT, r.code(), "Not possible", r.to_string());
    for (name, value) in r.fields() {
        let value = match value {
            RefusalField::Text(t) => serde_json::json!(t),
            RefusalField::Minor(m) => serde_json::json!(m),
            RefusalField::Time(ms) => serde_json::json!(danbao_app::clock::rfc3339(ms)),
        };
        p.fields.push((name, value));
    }
    p
}

pub type ApiResult<T> = Result<T, Problem>;

pub fn bad_json(detail: impl Into<String>) -> Problem {
    Problem::new(StatusCode::BAD_REQUEST, "invalid-json", "Malformed JSON", detail)
}
