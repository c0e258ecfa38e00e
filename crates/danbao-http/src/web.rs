//! Server-rendered pages (zh-CN). Being written.

use axum::Router;
use danbao_app::App;

pub fn routes() -> Router<App> {
    Router::new()
}
