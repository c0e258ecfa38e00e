//! The one mapping from application errors to RFC 9457 problem+json responses.
//! Each variant has a stable `type`; a 500 tells the client nothing, the log has the cause.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use danbao_app::AppError;

pub const PROBLEM_BASE: &str = "https://danbao.dev/problems/";

#[derive(Debug)]
pub struct Problem {
    pub status: StatusCode,
    pub code: &'static str,
    pub title: &'static str,
    pub detail: String,
}

impl Problem {
    pub fn new(status: StatusCode, code: &'static str, title: &'static str, detail: impl Into<String>) -> Problem {
        Problem {
            status,
            code,
            title,
            detail: detail.into(),
        }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let body = serde_json::json!({
            "type": format!("{PROBLEM_BASE}{}", self.code),
            "title": self.title,
            "status": self.status.as_u16(),
            "detail": self.detail,
        });
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
            AppError::Validation { field, message } => Problem::new(
                S::UNPROCESSABLE_ENTITY,
                "validation",
                "Invalid request",
                format!("{field}: {message}"),
            ),
            AppError::OutOfStock => Problem::new(S::CONFLICT, "out-of-stock", "Out of stock", "not enough stock"),
            AppError::IllegalTransition(t) => Problem::new(
                S::CONFLICT,
                "illegal-transition",
                "Not possible in this state",
                t.to_string(),
            ),
            AppError::Unauthenticated => Problem::new(
                S::UNAUTHORIZED,
                "unauthenticated",
                "Authentication required",
                "send Authorization: Bearer <token>",
            ),
            AppError::Forbidden(why) => Problem::new(S::FORBIDDEN, "forbidden", "Not allowed", why),
            AppError::Conflict(why) => Problem::new(S::CONFLICT, "conflict", "Conflict", why),
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

pub type ApiResult<T> = Result<T, Problem>;

pub fn bad_json(detail: impl Into<String>) -> Problem {
    Problem::new(StatusCode::BAD_REQUEST, "invalid-json", "Malformed JSON", detail)
}
