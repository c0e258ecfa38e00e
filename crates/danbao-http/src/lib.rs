//! Danbao's HTTP edge. Only this crate knows HTTP; it never touches storage directly.

pub mod api;
pub mod extract;
pub mod idempotency;
pub mod openapi;
pub mod problem;
pub mod server;
pub mod web;
pub mod witness;

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
        .routes(routes!(metrics))
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
        .route("/checkpoint", axum::routing::get(tlog_checkpoint))
        .route("/tile/{*path}", axum::routing::get(tlog_tile))
        .with_state(app.clone());
    if let Some(sb) = sandbox {
        router = router.nest("/sandbox", sb.router());
    }
    router
        // A route layer: it runs once the route is known, so requests are counted by
        // their route's pattern.
        .route_layer(axum::middleware::from_fn_with_state(app, count_request))
        .layer(tower_http::trace::TraceLayer::new_for_http())
}

/// C2SP tlog-tiles: the latest signed checkpoint (size 0 for an empty log). Not cached:
/// it moves as the log grows.
async fn tlog_checkpoint(State(app): State<App>) -> axum::response::Response {
    use axum::response::IntoResponse;
    match app.tlog_checkpoint().await {
        Ok(note) => (
            [
                (axum::http::header::CONTENT_TYPE, "text/plain; charset=utf-8"),
                (axum::http::header::CACHE_CONTROL, "no-cache"),
            ],
            note,
        )
            .into_response(),
        Err(e) => problem::Problem::from(e).into_response(),
    }
}

/// C2SP tlog-tiles: a hash tile or an entry bundle. Its bytes never change once served (a
/// partial tile is named by its width), so it may be cached for good.
async fn tlog_tile(
    State(app): State<App>,
    axum::extract::Path(path): axum::extract::Path<String>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let Some(request) = danbao_app::tiles::parse_tile_path(&path) else {
        return problem::Problem::from(danbao_app::AppError::NotFound("tile")).into_response();
    };
    match app.tlog_tile(request).await {
        Ok(bytes) => (
            [
                (axum::http::header::CONTENT_TYPE, "application/octet-stream"),
                (axum::http::header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
            ],
            bytes,
        )
            .into_response(),
        Err(e) => problem::Problem::from(e).into_response(),
    }
}

/// Counts one request by method, route pattern and status, with its latency.
async fn count_request(
    State(app): State<App>,
    path: Option<axum::extract::MatchedPath>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let started = std::time::Instant::now();
    let method = request.method().clone();
    let response = next.run(request).await;
    let route = path.as_ref().map_or("unmatched", |p| p.as_str());
    app.metrics.http_request(
        method.as_str(),
        route,
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}

/// Who may read `/metrics`: with a token configured (`serve` config `metrics_token`), only
/// a request bearing it; without one, anyone who can reach the server.
#[derive(Clone)]
pub struct MetricsAccess(pub Option<String>);

/// Counts and state for Prometheus (text format 0.0.4): requests and latencies by route,
/// payment notifications by outcome, jobs run and waiting (by kind and status, with the
/// oldest due job's age), the last ledger check, the evidence log's size and the age of its
/// last checkpoint.
#[utoipa::path(
    get,
    path = "/metrics",
    responses(
        (status = 200, description = "Metrics", body = String, content_type = "text/plain"),
        (status = 401, description = "A metrics token is configured and the request does not bear it", body = String, content_type = "text/plain"),
        (status = 503, description = "The database is unavailable", body = String, content_type = "text/plain")
    )
)]
async fn metrics(
    State(app): State<App>,
    access: Option<Extension<MetricsAccess>>,
    headers: axum::http::HeaderMap,
) -> axum::response::Response {
    if let Some(Extension(MetricsAccess(Some(token)))) = access {
        let offered = headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        let matches: bool = subtle::ConstantTimeEq::ct_eq(offered.as_bytes(), token.as_bytes()).into();
        if !matches {
            return (StatusCode::UNAUTHORIZED, "metrics token required").into_response();
        }
    }
    match app.metrics_text().await {
        Ok(text) => (
            [(
                axum::http::header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "metrics unavailable");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response()
        }
    }
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

/// The process can serve: its database answers with the schema this build expects, and it
/// is not shutting down.
#[utoipa::path(
    get,
    path = "/readyz",
    responses(
        (status = 200, description = "Ready", body = String, content_type = "text/plain"),
        (status = 503, description = "Not ready: the database is unavailable, a migration is missing, or the process is draining before it stops", body = String, content_type = "text/plain")
    )
)]
async fn readyz(State(app): State<App>, draining: Option<Extension<Draining>>) -> axum::response::Response {
    if draining.is_some_and(|Extension(d)| d.is_draining()) {
        // Shutting down: the load balancer takes this process out before its listener
        // closes, so no new request is sent to a closing socket.
        return (StatusCode::SERVICE_UNAVAILABLE, "draining").into_response();
    }
    match app.ready().await {
        Ok(Ok(())) => (StatusCode::OK, "ready").into_response(),
        Ok(Err(why)) => {
            tracing::error!(why = %why, "not ready");
            (StatusCode::SERVICE_UNAVAILABLE, why).into_response()
        }
        Err(e) => {
            tracing::error!(error = %e, "not ready");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response()
        }
    }
}

/// Set once the process has been asked to stop: `/readyz` then answers 503.
#[derive(Clone, Default)]
pub struct Draining(std::sync::Arc<std::sync::atomic::AtomicBool>);

impl Draining {
    pub fn start(&self) {
        self.0.store(true, std::sync::atomic::Ordering::SeqCst);
    }
    pub fn is_draining(&self) -> bool {
        self.0.load(std::sync::atomic::Ordering::SeqCst)
    }
}
