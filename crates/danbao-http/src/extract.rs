//! Extractors: who is calling, and JSON bodies whose errors are problems too.

use crate::problem::{bad_json, Problem};
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use danbao_app::{App, Caller};

/// The caller: a bearer token's account, a guest's `?access_token=`, or nobody.
pub struct CallerExt(pub Caller);

fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    query?.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == name).then(|| v.to_string())
    })
}

impl FromRequestParts<App> for CallerExt {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Self::Rejection> {
        if let Some(value) = parts.headers.get(header::AUTHORIZATION) {
            let text = value.to_str().unwrap_or_default();
            let Some(token) = text.strip_prefix("Bearer ") else {
                return Err(Problem::new(
                    StatusCode::UNAUTHORIZED,
                    "unauthenticated",
                    "Authentication required",
                    "use Authorization: Bearer <token>",
                ));
            };
            return match app.authenticate(token.trim()).await.map_err(Problem::from)? {
                Some(user) => Ok(CallerExt(Caller::User(user))),
                None => Err(Problem::new(
                    StatusCode::UNAUTHORIZED,
                    "unauthenticated",
                    "Authentication required",
                    "the token is unknown or expired",
                )),
            };
        }
        if let Some(token) = query_param(parts.uri.query(), "access_token") {
            return Ok(CallerExt(Caller::GuestToken(token)));
        }
        Ok(CallerExt(Caller::Anonymous))
    }
}

/// `axum::Json`, with every rejection turned into a problem.
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(ApiJson(v)),
            Err(JsonRejection::MissingJsonContentType(_)) => Err(Problem::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "JSON expected",
                "send Content-Type: application/json",
            )),
            Err(JsonRejection::BytesRejection(e)) => Err(Problem::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload-too-large",
                "Body too large",
                e.body_text(),
            )),
            Err(e) => Err(bad_json(e.body_text())),
        }
    }
}

/// Where the request came from, for the rate limits and the hoarding caps: the peer
/// address, or the client a trusted proxy names in `X-Forwarded-For` (only when the peer
/// is one of `Limits::trusted_proxies`). A router served without connection info (a test
/// calling it in-process) is one unknown client, limited like any other.
pub struct ClientOrigin(pub danbao_app::limits::Origin);

impl FromRequestParts<App> for ClientOrigin {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|c| c.0.ip())
            .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
        let forwarded = parts.headers.get("x-forwarded-for").and_then(|v| v.to_str().ok());
        let address = app.guard.limits().client_address(peer, forwarded);
        Ok(ClientOrigin(danbao_app::limits::Origin::Remote(address)))
    }
}

/// A raw body within the route's limit; a larger one is a 413 problem, like `ApiJson`'s.
pub struct ApiBytes(pub axum::body::Bytes);

impl<S: Send + Sync> FromRequest<S> for ApiBytes {
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        axum::body::Bytes::from_request(req, state)
            .await
            .map(ApiBytes)
            .map_err(|e| too_large(e.body_text()))
    }
}

pub fn too_large(detail: impl Into<String>) -> Problem {
    Problem::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload-too-large",
        "Body too large",
        detail,
    )
}
