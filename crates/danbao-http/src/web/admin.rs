//! The operations console (`/admin`): health, sellers, reconciliation, rules, accounts.

use axum::Router;
use danbao_app::App;

pub(super) fn routes() -> Router<App> {
    Router::new()
}
