//! An account holder's own page: who they are and their orders.

use super::error::PageError;
use super::forms::PageContext;
use super::i18n::Ui;
use super::labels::{kind_label, order_status, role as role_label};
use super::session::session_user;
use super::{order_url, private_headers, yuan, TimeView};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Extension, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use danbao_app::{App, Caller, Role};

struct AccountOrder {
    number: String,
    url: Option<String>,
    status_label: String,
    amount: String,
    quantity: i64,
    kind_label: &'static str,
    created_at: TimeView,
}

#[derive(Template, WebTemplate)]
#[template(path = "account.html")]
struct AccountPage {
    username: String,
    role_label: &'static str,
    is_seller: bool,
    orders: Vec<AccountOrder>,
    csrf: String,
    w: Ui,
}

pub(super) async fn account_page(
    State(app): State<App>,
    Extension(page): Extension<PageContext>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let Some(user) = session_user(&app, &headers).await? else {
        return Ok((private_headers(), Redirect::to("/login")).into_response());
    };
    let username = user.username.clone();
    let role = user.role;
    let orders = app.orders_of(&Caller::User(user)).await?;
    let l = page.ui.lang();
    let html = AccountPage {
        username,
        role_label: role_label(l, role),
        is_seller: role == Role::Seller,
        orders: orders
            .into_iter()
            .map(|o| AccountOrder {
                url: order_url(&o.id),
                status_label: order_status(l, o.status).to_string(),
                amount: yuan(o.amount_minor),
                quantity: o.quantity,
                kind_label: kind_label(l, &o.delivery_kind),
                created_at: TimeView::new(&o.created_at),
                number: o.number,
            })
            .collect(),
        csrf: page.csrf,
        w: page.ui,
    };
    Ok((private_headers(), html).into_response())
}
