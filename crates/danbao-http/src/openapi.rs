//! The OpenAPI document served at /api/openapi.json. It is not written by hand: the
//! router and the document come from the same `routes!` calls (utoipa-axum), so a JSON
//! API route cannot exist without its operation and schemas. This module holds what the
//! handlers' annotations share: the document's header, the problem schema and the error
//! responses.

use axum::http::header;
use axum::response::IntoResponse;
use axum::Extension;
use bytes::Bytes;
use std::collections::BTreeMap;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{InfoBuilder, OpenApi, OpenApiBuilder};

/// The security scheme name that annotations refer to (`security(("bearer" = []))`).
pub const BEARER: &str = "bearer";

/// What the document says about itself; the paths and schemas are added by the router.
pub fn base() -> OpenApi {
    let mut doc = OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("Danbao API")
                .version("1")
                .description(Some(
                    "Escrow marketplace for digital goods. Amounts are integer minor units (fen); \
                     times are RFC 3339 UTC. Every POST accepts an Idempotency-Key header. Errors are \
                     RFC 9457 application/problem+json. Guests read their order with ?access_token=. \
                     Not described here: the server-rendered pages (/, /products/…, /orders/…, \
                     /complaints/…, /lookup, /login, /account) and the in-process sandbox gateway \
                     (/sandbox/…), which is a simulator of an outside payment provider, not this API.",
                ))
                .build(),
        )
        .build();
    let components = doc.components.get_or_insert_with(Default::default);
    // Error responses name the problem schema by reference; it is registered here once,
    // with every problem type the API can answer with as the `type` member's enum.
    components.schemas.insert("Problem".to_string(), problem_schema());
    components.add_security_scheme(
        BEARER,
        SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
    );
    doc
}

/// The served document, serialised once: the router's own, handed to the handler as an
/// extension when the router is built.
#[derive(Clone)]
pub struct DocumentJson(pub Bytes);

/// This document.
#[utoipa::path(
    get,
    path = "/api/openapi.json",
    responses((status = 200, description = "This document (OpenAPI 3.1)", body = AnyObject))
)]
pub async fn openapi_json(Extension(doc): Extension<DocumentJson>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], doc.0)
}

/// The problem schema: `type` is one of the listed URIs; a refusal adds its data as
/// further members (e.g. `opens_at`, `status`, `stage`, `fees_minor`).
fn problem_schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    let text = |description: &str| {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some(description.to_string()))
    };
    ObjectBuilder::new()
        .description(Some(
            "An RFC 9457 problem. A business refusal (409) carries its data as extension members.",
        ))
        .property(
            "type",
            text("A stable URI naming the kind of problem; clients branch on it.")
                .enum_values(Some(crate::problem::all_types())),
        )
        .required("type")
        .property("title", text("A short summary of the kind of problem."))
        .required("title")
        .property("status", ObjectBuilder::new().schema_type(Type::Integer))
        .required("status")
        .property("detail", text("What went wrong here, in English."))
        .required("detail")
        .into()
}

/// An RFC 9457 problem, as `crate::problem::Problem` writes it.
#[derive(utoipa::ToSchema)]
#[schema(as = Problem)]
pub struct ProblemDoc {
    /// A stable URI naming the kind of problem, e.g. https://danbao.dev/problems/not-found.
    pub r#type: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
}

/// A JSON object whose fields are not described yet (use cases that still return
/// `serde_json::Value`).
#[derive(utoipa::ToSchema)]
pub struct AnyObject(pub BTreeMap<String, serde_json::Value>);

/// The error responses an API route can give: every one a problem document. Which of
/// them a given call can meet depends on the route (see each problem's `type`).
#[derive(utoipa::IntoResponses)]
pub enum Problems {
    /// Malformed JSON or a malformed notification.
    #[response(status = 400, content_type = "application/problem+json")]
    BadRequest(ProblemDoc),
    /// No or an unknown bearer token, wrong credentials, or a bad signature.
    #[response(status = 401, content_type = "application/problem+json")]
    Unauthorized(ProblemDoc),
    /// The caller's role may not do this.
    #[response(status = 403, content_type = "application/problem+json")]
    Forbidden(ProblemDoc),
    /// Nothing of that id that the caller may see (someone else's order is 404, not 403).
    #[response(status = 404, content_type = "application/problem+json")]
    NotFound(ProblemDoc),
    /// Not possible in the current state (out of stock, illegal transition, conflict).
    #[response(status = 409, content_type = "application/problem+json")]
    Conflict(ProblemDoc),
    /// The body is larger than the route accepts.
    #[response(status = 413, content_type = "application/problem+json")]
    PayloadTooLarge(ProblemDoc),
    /// A JSON body was sent without Content-Type: application/json.
    #[response(status = 415, content_type = "application/problem+json")]
    UnsupportedMediaType(ProblemDoc),
    /// A field is invalid, or an Idempotency-Key was reused with another body.
    #[response(status = 422, content_type = "application/problem+json")]
    Unprocessable(ProblemDoc),
    /// Something went wrong on our side; the log has the cause.
    #[response(status = 500, content_type = "application/problem+json")]
    Internal(ProblemDoc),
    /// The payment provider could not be reached.
    #[response(status = 502, content_type = "application/problem+json")]
    BadGateway(ProblemDoc),
    /// Too many requests from this address or for this account (`rate-limited`), or an
    /// order's query password locked after wrong guesses (`query-password-locked`); the
    /// `Retry-After` header says when to try again.
    #[response(status = 429, content_type = "application/problem+json")]
    TooManyRequests(ProblemDoc),
}

/// Bytes as they are: a file, or a notification's raw body.
#[derive(utoipa::ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct Binary(pub Vec<u8>);
