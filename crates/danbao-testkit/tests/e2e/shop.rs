//! A shop for the complaint and protection tests: a seller and a registered buyer, and
//! the buyer's complaint about one of its orders.

use danbao_testkit::{Resp, TestApp};
use serde_json::json;

pub struct Shop {
    /// The buyer's username (password `correct-horse`), for the pages.
    pub buyer_name: String,
    pub seller_token: String,
    pub seller: danbao_domain::UserId,
    pub buyer_token: String,
}

/// A seller `<tag>_s` and a buyer `<tag>_b`.
pub async fn shop(t: &TestApp, tag: &str) -> Shop {
    let (seller_token, seller_id) = t.user(&format!("{tag}_s"), "seller").await;
    let (buyer_token, _) = t.user(&format!("{tag}_b"), "buyer").await;
    Shop {
        buyer_name: format!("{tag}_b"),
        seller_token,
        seller: TestApp::seller_account(&seller_id),
        buyer_token,
    }
}

/// `token`'s complaint of `kind` about `order`.
pub async fn open(t: &TestApp, token: &str, order: &str, kind: &str) -> Resp {
    t.post(
        &format!("/api/v1/orders/{order}/complaints"),
        Some(token),
        json!({"kind": kind, "description": "卡密显示已被使用"}),
    )
    .await
}
