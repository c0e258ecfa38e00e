//! An account holder's own page: who they are and their orders.

use super::error::PageError;
use super::session::session_user;
use super::zh::{kind_label, role_zh};
use super::{order_url, private_headers, yuan, TimeView};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use danbao_app::{App, Caller, Role};

struct AccountOrder {
    id: String,
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
}

pub(super) async fn account_page(State(app): State<App>, headers: HeaderMap) -> Result<Response, PageError> {
    let Some(user) = session_user(&app, &headers).await? else {
        return Ok((private_headers(), Redirect::to("/login")).into_response());
    };
    let username = user.username.clone();
    let role = user.role;
    let orders = app.orders_of(&Caller::User(user)).await?;
    let page = AccountPage {
        username,
        role_label: role_zh(role),
        is_seller: role == Role::Seller,
        orders: orders
            .into_iter()
            .map(|o| AccountOrder {
                url: order_url(&o.id, None),
                status_label: o.status_label,
                amount: yuan(o.amount_minor),
                quantity: o.quantity,
                kind_label: kind_label(&o.delivery_kind),
                created_at: TimeView::new(&o.created_at),
                id: o.id,
            })
            .collect(),
    };
    Ok((private_headers(), page).into_response())
}
