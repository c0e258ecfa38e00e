//! The one mapping from application errors to RFC 9457 problem+json responses.
//! Each variant has a stable `type`; a 500 tells the client nothing, the log has the cause.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use danbao_app::AppError;
use danbao_domain::{Refusal, RefusalField};

pub const PROBLEM_BASE: &str = "https://danbao.dev/problems/";

/// The problem types the edge itself gives (the refusals' are `Refusal::CODES`).
pub const EDGE_CODES: [&str; 17] = [
    "not-found",
    "validation",
    "unauthenticated",
    "forbidden",
    "bad-credentials",
    "provider-unavailable",
    "bad-signature",
    "bad-notification",
    "internal",
    "invalid-json",
    "unsupported-media-type",
    "payload-too-large",
    "invalid-idempotency-key",
    "idempotency-key-reused",
    "idempotency-in-progress",
    "rate-limited",
    "database-unavailable",
];

/// Every problem `type` URI this API can answer with, for its document.
pub fn all_types() -> Vec<String> {
    EDGE_CODES
        .iter()
        .chain(Refusal::CODES.iter())
        .map(|c| format!("{PROBLEM_BASE}{c}"))
        .collect()
}

#[derive(Debug)]
pub struct Problem {
    pub status: StatusCode,
    pub code: &'static str,
    pub title: &'static str,
    pub detail: String,
    /// Extension members (RFC 9457 §3.2): a refusal's data, typed.
    pub fields: Vec<(&'static str, serde_json::Value)>,
    /// Seconds to wait before trying again, sent as `Retry-After` (429s).
    pub retry_after_s: Option<i64>,
}

impl Problem {
    pub fn new(status: StatusCode, code: &'static str, title: &'static str, detail: impl Into<String>) -> Problem {
        Problem {
            status,
            code,
            title,
            detail: detail.into(),
            fields: Vec::new(),
            retry_after_s: None,
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
        let mut resp = (
            self.status,
            [(header::CONTENT_TYPE, "application/problem+json")],
            body.to_string(),
        )
            .into_response();
        if let Some(s) = self.retry_after_s {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from(s.max(1)));
        }
        resp
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
            AppError::RateLimited { retry_after_s } => {
                let mut p = Problem::new(
                    S::TOO_MANY_REQUESTS,
                    "rate-limited",
                    "Too many requests",
                    format!("too many requests from this address or for this account; try again in {retry_after_s} s"),
                );
                p.fields.push(("retry_after", serde_json::json!(retry_after_s)));
                p.retry_after_s = Some(retry_after_s);
                p
            }
            AppError::Store(ref store) if store.is_unavailable() => {
                // A failover or a restart of the database: nothing was applied (the
                // transaction never committed), and the same request will work again soon.
                tracing::warn!(error = %e, "database unavailable");
                let mut p = Problem::new(
                    S::SERVICE_UNAVAILABLE,
                    "database-unavailable",
                    "Database unavailable",
                    "the database could not be reached; nothing was changed; try again",
                );
                p.retry_after_s = Some(1);
                p
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

/// A business refusal: 409 (a locked query password: 429 with `Retry-After`), its stable
/// type, its English text, its data as fields.
fn refusal(r: &Refusal) -> Problem {
    let mut p = Problem::new(StatusCode::CONFLICT, r.code(), "Not possible", r.to_string());
    if let Refusal::QueryPasswordLocked { retry_after_s, .. } = r {
        p.status = StatusCode::TOO_MANY_REQUESTS;
        p.retry_after_s = Some(*retry_after_s);
    }
    for (name, value) in r.fields() {
        let value = match value {
            RefusalField::Text(t) => serde_json::json!(t),
            RefusalField::Minor(m) => serde_json::json!(m),
            RefusalField::Time(ms) => serde_json::json!(danbao_app::clock::rfc3339(ms)),
            RefusalField::List(items) => serde_json::json!(items),
        };
        p.fields.push((name, value));
    }
    p
}

pub type ApiResult<T> = Result<T, Problem>;

pub fn bad_json(detail: impl Into<String>) -> Problem {
    Problem::new(StatusCode::BAD_REQUEST, "invalid-json", "Malformed JSON", detail)
}

#[cfg(test)]
mod tests {
    use super::*;
    use danbao_domain::complaint::OpenRefusal;

    #[test]
    fn every_error_maps_to_a_listed_type_with_its_status() {
        let cases: Vec<(AppError, u16)> = vec![
            (AppError::NotFound("order"), 404),
            (AppError::invalid("quantity", danbao_app::Invalid::BadCursor), 422),
            (AppError::Unauthenticated, 401),
            (AppError::Forbidden("admins only"), 403),
            (AppError::BadCredentials, 401),
            (AppError::ProviderUnavailable("down".into()), 502),
            (AppError::BadSignature, 401),
            (AppError::BadNotification("x".into()), 400),
            (AppError::Internal("x".into()), 500),
            (Refusal::OutOfStock.into(), 409),
            (Refusal::from(OpenRefusal::TooEarly { from_ms: 0 }).into(), 409),
            (AppError::RateLimited { retry_after_s: 60 }, 429),
            (
                Refusal::QueryPasswordLocked {
                    until: 60_000,
                    retry_after_s: 60,
                }
                .into(),
                429,
            ),
        ];
        let types = all_types();
        for (e, status) in cases {
            let p = Problem::from(e);
            assert_eq!(p.status.as_u16(), status, "{}", p.code);
            // A 429 always says when to come back.
            assert_eq!(p.retry_after_s.is_some(), status == 429, "{}", p.code);
            assert!(
                types.contains(&format!("{PROBLEM_BASE}{}", p.code)),
                "{} is not listed",
                p.code
            );
        }
    }

    #[test]
    fn a_refusal_carries_its_data_as_members() {
        let p = Problem::from(AppError::from(Refusal::from(OpenRefusal::TooEarly { from_ms: 0 })));
        assert_eq!(p.code, "complaint-too-early");
        assert_eq!(p.fields, vec![("opens_at", serde_json::json!("1970-01-01T00:00:00Z"))]);
        assert_eq!(p.detail, "not_delivered cannot be opened yet; it opens at opens_at");
    }
}
