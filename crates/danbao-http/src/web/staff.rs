//! The consoles' door: the seller back office (`/seller`), the arbitration desk
//! (`/arbitration`) and the operations console (`/admin`) are for one role each. Without
//! a session a console page sends the browser to `/login`; another role gets the same
//! 404 as a page that does not exist, so a console's addresses tell outsiders nothing.

use super::error::PageError;
use super::session::session_user;
use axum::http::HeaderMap;
use danbao_app::{App, Role, User};

/// The logged-in account holder if they have `role`; else the login redirect or a 404.
pub(super) async fn console_user(app: &App, headers: &HeaderMap, role: Role) -> Result<User, PageError> {
    match session_user(app, headers).await? {
        None => Err(PageError::login_required()),
        Some(u) if u.role == role => Ok(u),
        Some(_) => Err(PageError::page_not_found()),
    }
}

/// Where an account holder lands after logging in: their console, or a buyer's orders.
pub(super) fn home_of(role: Role) -> &'static str {
    match role {
        Role::Buyer => "/account",
        Role::Seller => "/seller",
        Role::Arbitrator => "/arbitration",
        Role::Admin => "/admin",
    }
}

/// One link of a console's menu.
pub(super) struct NavLink {
    pub(super) href: &'static str,
    pub(super) label: &'static str,
    pub(super) here: bool,
}

/// What every console page shows above its content (`templates/console.html`): whose
/// console it is, its menu with the current section marked, and the logout form.
pub(super) struct ConsoleNav {
    pub(super) title: &'static str,
    pub(super) home: &'static str,
    pub(super) username: String,
    pub(super) role_label: &'static str,
    pub(super) links: Vec<NavLink>,
    pub(super) csrf: String,
    /// The zone the page's times are shown in (the footer says which).
    pub(super) zone: &'static str,
}

const SELLER_MENU: &[(&str, &str)] = &[
    ("/seller", "概览"),
    ("/seller/products", "商品与卡密"),
    ("/seller/orders", "订单"),
    ("/seller/complaints", "投诉"),
    ("/seller/money", "资金"),
];
const ARBITRATION_MENU: &[(&str, &str)] = &[("/arbitration", "待裁决队列")];
const ADMIN_MENU: &[(&str, &str)] = &[
    ("/admin", "运行状况"),
    ("/admin/sellers", "卖家"),
    ("/admin/reconciliation", "对账"),
    ("/admin/rules", "规则"),
    ("/admin/accounts", "账号"),
];

impl ConsoleNav {
    /// The menu of `user`'s console with `here` (one of its hrefs) marked.
    pub(super) fn new(user: &User, here: &str, csrf: &str) -> ConsoleNav {
        let (title, menu) = match user.role {
            Role::Seller => ("卖家后台", SELLER_MENU),
            Role::Arbitrator => ("仲裁台", ARBITRATION_MENU),
            Role::Admin => ("运营后台", ADMIN_MENU),
            Role::Buyer => ("我的订单", &[][..]),
        };
        ConsoleNav {
            title,
            home: home_of(user.role),
            username: user.username.clone(),
            role_label: super::labels::role_zh(user.role),
            links: menu
                .iter()
                .map(|(href, label)| NavLink {
                    href,
                    label,
                    here: *href == here,
                })
                .collect(),
            csrf: csrf.to_string(),
            zone: danbao_app::clock::display_zone_name(),
        }
    }
}
