//! `Idempotency-Key` on POSTs (SPEC §12): the same key and body get the stored
//! response, marked as a replay; the same key with another body gets 422.

use crate::problem::Problem;
use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use danbao_app::storage::IdempotencyState;
use danbao_app::App;
use http_body_util::BodyExt;
use sha2::{Digest, Sha256};

pub const HEADER: &str = "idempotency-key";
pub const REPLAYED_HEADER: &str = "idempotency-replayed";
const KEY_LEN_MAX: usize = 255;

/// Whose key this is: the same key from two callers is two keys. An account by its
/// bearer token, a guest by the order token in the URL; an anonymous caller by the
/// request itself, so one stranger's key can never replay another's response (for an
/// anonymous caller a reused key with another body is simply a new request). Only a
/// hash is stored, never the credential.
fn scope_of(parts: &axum::http::request::Parts, request_hash: &str) -> String {
    let mut h = Sha256::new();
    if let Some(auth) = parts.headers.get(header::AUTHORIZATION) {
        h.update(b"authorization\n");
        h.update(auth.as_bytes());
    } else if let Some(token) = parts
        .uri
        .query()
        .and_then(|q| q.split('&').find_map(|p| p.strip_prefix("access_token=")))
    {
        h.update(b"order-token\n");
        h.update(token.as_bytes());
    } else {
        h.update(b"anonymous\n");
        h.update(request_hash.as_bytes());
    }
    hex::encode(h.finalize())
}

pub async fn middleware(State(app): State<App>, req: Request, next: Next) -> Response {
    if req.method() != Method::POST {
        return next.run(req).await;
    }
    let Some(key) = req.headers().get(HEADER).cloned() else {
        return next.run(req).await;
    };
    let key = match key.to_str() {
        Ok(k) if !k.is_empty() && k.len() <= KEY_LEN_MAX => k.to_string(),
        _ => {
            return Problem::new(
                StatusCode::BAD_REQUEST,
                "invalid-idempotency-key",
                "Invalid Idempotency-Key",
                format!("1 to {KEY_LEN_MAX} visible ASCII characters"),
            )
            .into_response()
        }
    };
    // Requests with a key are buffered to hash them: at the route's own limit (64 KiB for
    // JSON), so an oversized body is refused before more than that is read, and before any
    // key is stored. A declared length over the limit is refused without reading at all.
    let limit = req
        .extensions()
        .get::<MatchedPath>()
        .map_or(crate::api::JSON_BODY_MAX_BYTES, |p| crate::api::body_limit(p.as_str()));
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let too_large = || crate::extract::too_large(format!("the body is larger than this route's {limit} bytes"));
    if declared.is_some_and(|n| n > limit as u64) {
        return too_large().into_response();
    }
    let (parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, limit).await {
        Ok(b) => b,
        Err(_) => return too_large().into_response(),
    };
    let mut hasher = Sha256::new();
    hasher.update(parts.method.as_str().as_bytes());
    hasher.update(b"\n");
    hasher.update(parts.uri.to_string().as_bytes());
    hasher.update(b"\n");
    hasher.update(&bytes);
    let request_hash = hex::encode(hasher.finalize());
    let scope = scope_of(&parts, &request_hash);
    match app.idempotency_begin(&scope, &key, &request_hash).await {
        Err(e) => Problem::from(e).into_response(),
        Ok(IdempotencyState::Mismatch) => Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency-key-reused",
            "Idempotency-Key reused",
            "this Idempotency-Key was used with a different request",
        )
        .into_response(),
        Ok(IdempotencyState::InProgress) => Problem::new(
            StatusCode::CONFLICT,
            "idempotency-in-progress",
            "Request in progress",
            "a request with this Idempotency-Key is still running",
        )
        .into_response(),
        Ok(IdempotencyState::Replay {
            status,
            content_type,
            body,
        }) => {
            let status = u16::try_from(status)
                .ok()
                .and_then(|s| StatusCode::from_u16(s).ok())
                .unwrap_or(StatusCode::OK);
            let mut resp = (status, body).into_response();
            if let Ok(ct) = HeaderValue::from_str(&content_type) {
                resp.headers_mut().insert(header::CONTENT_TYPE, ct);
            }
            resp.headers_mut()
                .insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
            resp
        }
        Ok(IdempotencyState::New) => {
            let resp = next.run(Request::from_parts(parts, Body::from(bytes))).await;
            let (rparts, rbody) = resp.into_parts();
            let rbytes = match rbody.collect().await {
                Ok(c) => c.to_bytes(),
                Err(_) => {
                    let _ = app.idempotency_abandon(&scope, &key).await;
                    return StatusCode::INTERNAL_SERVER_ERROR.into_response();
                }
            };
            if rparts.status.is_server_error() {
                // Our failure: let the client retry with the same key.
                if let Err(e) = app.idempotency_abandon(&scope, &key).await {
                    tracing::error!(error = %e, "could not release an idempotency key");
                }
            } else {
                let ct = rparts
                    .headers
                    .get(header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string();
                let text = String::from_utf8_lossy(&rbytes);
                if let Err(e) = app
                    .idempotency_complete(&scope, &key, i64::from(rparts.status.as_u16()), &ct, &text)
                    .await
                {
                    tracing::error!(error = %e, "could not store an idempotent response");
                }
            }
            Response::from_parts(rparts, Body::from(rbytes))
        }
    }
}
