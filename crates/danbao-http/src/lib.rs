//! Danbao's HTTP edge. Only this crate knows HTTP; it never touches storage directly.

pub mod api;
pub mod catalog;
pub mod extract;
pub mod idempotency;
pub mod openapi;
pub mod problem;
pub mod server;
pub mod web;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use danbao_app::App;

/// The whole server: API, pages, health, and (in-process) the sandbox gateway.
pub fn router(app: App, sandbox: Option<danbao_sandbox::gateway::Sandbox>) -> Router {
    let api = api::routes()
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            idempotency::middleware,
        ))
        .layer(DefaultBodyLimit::max(api::JSON_BODY_MAX_BYTES))
        .fallback(|| async { api::not_found_fallback() });
    let mut router = Router::new()
        .nest("/api/v1", api)
        .route("/api/openapi.json", get(|| async { Json(openapi::document()) }))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .merge(web::routes())
        .with_state(app);
    if let Some(sb) = sandbox {
        router = router.nest("/sandbox", sb.router());
    }
    router.layer(tower_http::trace::TraceLayer::new_for_http())
}

async fn readyz(State(app): State<App>) -> impl IntoResponse {
    match app.ready().await {
        Ok(()) => (StatusCode::OK, "ready"),
        Err(e) => {
            tracing::error!(error = %e, "not ready");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable")
        }
    }
}
