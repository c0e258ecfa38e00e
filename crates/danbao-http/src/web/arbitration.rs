//! The arbitration desk (`/arbitration`): the queue, a case, the ruling.

use axum::Router;
use danbao_app::App;

pub(super) fn routes() -> Router<App> {
    Router::new()
}
