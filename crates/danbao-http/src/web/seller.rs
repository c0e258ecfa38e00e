//! The seller back office (`/seller`): dashboard, products, card keys, orders,
//! complaints, money. Every page is the seller's own (`staff::console_user`).

use super::error::PageError;
use super::forms::PageContext;
use super::private_headers;
use super::staff::{console_user, ConsoleNav};
use super::yuan;
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Extension, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use danbao_app::{App, Caller, Role};

pub(super) fn routes() -> Router<App> {
    Router::new().route("/seller", get(dashboard))
}

/// One figure of a balance card.
struct Figure {
    label: &'static str,
    value: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "seller/dashboard.html")]
struct DashboardPage {
    nav: ConsoleNav,
    standing_label: &'static str,
    balances: Vec<Figure>,
}

async fn dashboard(
    State(app): State<App>,
    Extension(page): Extension<PageContext>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let user = console_user(&app, &headers, Role::Seller).await?;
    let nav = ConsoleNav::new(&user, "/seller", &page.csrf);
    let caller = Caller::User(user);
    let b = app.seller_balance(&caller).await?;
    let balances = vec![
        Figure {
            label: "担保中（待确认）",
            value: yuan(b.escrow_minor),
        },
        Figure {
            label: "可提现",
            value: yuan(b.available_minor),
        },
        Figure {
            label: "售后保留",
            value: yuan(b.reserved_minor),
        },
        Figure {
            label: "冻结",
            value: yuan(b.frozen_minor),
        },
        Figure {
            label: "保证金",
            value: yuan(b.deposit_minor),
        },
        Figure {
            label: "欠平台",
            value: yuan(b.owed_minor),
        },
    ];
    let html = DashboardPage {
        nav,
        standing_label: super::zh::standing_zh(b.standing),
        balances,
    };
    Ok((private_headers(), html).into_response())
}
