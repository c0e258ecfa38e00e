//! The consoles' door: the seller back office (`/seller`), the arbitration desk
//! (`/arbitration`) and the operations console (`/admin`) are for one role each. Without
//! a session a console page sends the browser to `/login`; another role gets the same
//! 404 as a page that does not exist, so a console's addresses tell outsiders nothing.

use super::error::PageError;
use super::forms::PageContext;
use super::i18n::{Lang, Ui};
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
/// console it is, its menu with the current section marked, the logout form and the
/// language switch. `ui` is the viewer's language (the page's words: `nav.ui.*`).
pub(super) struct ConsoleNav {
    pub(super) title: &'static str,
    pub(super) home: &'static str,
    pub(super) username: String,
    pub(super) role_label: &'static str,
    pub(super) links: Vec<NavLink>,
    pub(super) csrf: String,
    pub(super) ui: Ui,
    pub(super) logout: &'static str,
}

/// (href, zh-CN, English).
type Menu = &'static [(&'static str, &'static str, &'static str)];

const SELLER_MENU: Menu = &[
    ("/seller", "概览", "Overview"),
    ("/seller/products", "商品与卡密", "Products & keys"),
    ("/seller/orders", "订单", "Orders"),
    ("/seller/complaints", "投诉", "Complaints"),
    ("/seller/money", "资金", "Money"),
];
const ARBITRATION_MENU: Menu = &[("/arbitration", "待裁决队列", "Cases to rule on")];
const ADMIN_MENU: Menu = &[
    ("/admin", "运行状况", "Health"),
    ("/admin/sellers", "卖家", "Sellers"),
    ("/admin/reconciliation", "对账", "Reconciliation"),
    ("/admin/rules", "规则", "Rules"),
    ("/admin/accounts", "账号", "Accounts"),
];

impl ConsoleNav {
    /// The menu of `user`'s console with `here` (one of its hrefs) marked, in the
    /// page's language.
    pub(super) fn new(user: &User, here: &str, page: &PageContext) -> ConsoleNav {
        let l = page.ui.lang();
        let (title, menu) = match user.role {
            Role::Seller => (l.pick("卖家后台", "Seller centre"), SELLER_MENU),
            Role::Arbitrator => (l.pick("仲裁台", "Arbitration desk"), ARBITRATION_MENU),
            Role::Admin => (l.pick("运营后台", "Operations console"), ADMIN_MENU),
            Role::Buyer => (l.pick("我的订单", "My orders"), &[][..]),
        };
        ConsoleNav {
            title,
            home: home_of(user.role),
            username: user.username.clone(),
            role_label: super::labels::role(l, user.role),
            links: menu
                .iter()
                .map(|(href, zh, en)| NavLink {
                    href,
                    label: l.pick(zh, en),
                    here: *href == here,
                })
                .collect(),
            csrf: page.csrf.clone(),
            ui: page.ui.clone(),
            logout: l.pick("退出", "Log out"),
        }
    }

    pub(super) fn lang(&self) -> Lang {
        self.ui.lang()
    }
}
