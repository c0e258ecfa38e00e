//! Danbao's HTTP edge. Only this crate knows HTTP; it never touches storage directly.

pub mod api;
pub mod extract;
pub mod idempotency;
pub mod openapi;
pub mod problem;
pub mod server;
pub mod web;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::{Extension, Router};
use danbao_app::App;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Every documented route: the JSON API under /api/v1 (given as `v1`, so that the server
/// can add its layers), the document itself, and the health checks. The router and the
/// OpenAPI document are both split from this one value.
fn documented(v1: OpenApiRouter<App>) -> OpenApiRouter<App> {
    OpenApiRouter::with_openapi(openapi::base())
        .nest("/api/v1", v1)
        .routes(routes!(openapi::openapi_json))
        .routes(routes!(healthz))
        .routes(routes!(readyz))
}

/// The OpenAPI document, without a server (for `danbao openapi` and the tests). It is
/// the document the server serves: the same routes, without the layers.
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    documented(api::routes()).into_openapi()
}

/// The whole server: API, pages, health, and (in-process) the sandbox gateway, with the
/// pages' default options (cookies without `Secure`, as plain http needs).
pub fn router(app: App, sandbox: Option<danbao_sandbox::gateway::Sandbox>) -> Router {
    router_with(app, sandbox, web::WebOptions::default())
}

/// The whole server, with the pages' options.
pub fn router_with(app: App, sandbox: Option<danbao_sandbox::gateway::Sandbox>, pages: web::WebOptions) -> Router {
    let v1 = api::routes()
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            idempotency::middleware,
        ))
        .layer(DefaultBodyLimit::max(api::JSON_BODY_MAX_BYTES))
        .fallback(|| async { api::not_found_fallback() });
    let (documented, doc) = documented(v1).split_for_parts();
    // Serialising a document of strings and maps cannot fail; an empty body would show it.
    let doc = openapi::DocumentJson(doc.to_json().unwrap_or_default().into());
    let pages = web::WebOptions {
        sandbox_mounted: sandbox.is_some(),
        ..pages
    };
    let mut router = documented
        .layer(Extension(doc))
        .merge(web::routes(app.clone(), pages))
        .with_state(app);
    if let Some(sb) = sandbox {
        router = router.nest("/sandbox", sb.router());
    }
    router.layer(tower_http::trace::TraceLayer::new_for_http())
}

/// The process is up.
#[utoipa::path(
    get,
    path = "/healthz",
    responses((status = 200, description = "Up", body = String, content_type = "text/plain"))
)]
async fn healthz() -> &'static str {
    "ok"
}

/// The process can reach its database.
#[utoipa::path(
    get,
    path = "/readyz",
    responses(
        (status = 200, description = "Ready", body = String, content_type = "text/plain"),
        (status = 503, description = "The database is unavailable", body = String, content_type = "text/plain")
    )
)]
async fn readyz(State(app): State<App>) -> impl IntoResponse {
    match app.ready().await {
        Ok(()) => (StatusCode::OK, "ready"),
        Err(e) => {
            tracing::error!(error = %e, "not ready");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable")
        }
    }
}
