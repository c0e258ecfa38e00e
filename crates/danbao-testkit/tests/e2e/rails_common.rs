//! What the rail tests share: a guest's order through a chosen method, the shop it buys
//! from, the way from a cashier address to the gateway's payment, a reconciliation
//! period, and the count of refused notifications of a rail.

use danbao_testkit::TestApp;
use serde_json::json;

/// A guest's order, placed with a payment method of the rail under test.
pub struct Placed {
    pub order: String,
    pub token: String,
    /// Our attempt id: the out_trade_no the rail knows (WeChat Pay: its 32 hex digits).
    pub out_trade_no: String,
    pub cashier_url: String,
}

/// Places a guest's order for one unit of `product` paid by `method`, which must be a
/// method of `rail`.
pub async fn place(t: &TestApp, product: &str, method: &str, rail: &str) -> Placed {
    let r = t
        .post(
            "/api/v1/orders",
            None,
            json!({"product_id": product, "quantity": 1, "contact": "qq:5550001", "query_password": "rail-pass-1", "payment_method": method}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["payment"]["provider"], rail, "{}", r.text);
    let s = |v: &serde_json::Value| v.as_str().unwrap().to_string();
    Placed {
        order: s(&r.body["id"]),
        token: s(&r.body["access_token"]),
        out_trade_no: s(&r.body["payment"]["payment_id"]),
        cashier_url: s(&r.body["payment"]["cashier_url"]),
    }
}

pub fn order_path(p: &Placed) -> String {
    format!("/api/v1/orders/{}?access_token={}", p.order, p.token)
}

/// A seller `name` with a ¥15.00 card-key product holding `keys` keys.
pub async fn shop(t: &TestApp, name: &str, keys: usize) -> String {
    let (seller, _) = t.user(name, "seller").await;
    t.card_product(&seller, 1500, keys).await
}

/// The gateway's payment id in a cashier address, or in a WeChat payment code (the
/// sandbox's code is its payment id).
pub fn cashier_id(url: &str) -> String {
    if let Some(code) = url.strip_prefix(danbao_sandbox::wire::WECHAT_CODE_URL_PREFIX) {
        return code.to_string();
    }
    url.rsplit_once("/cashier/")
        .unwrap_or_else(|| panic!("not the cashier: {url}"))
        .1
        .to_string()
}

/// Follows a page jump as the buyer's browser does; returns the gateway's payment id.
pub async fn jump(t: &TestApp, cashier_url: &str) -> String {
    let r = t
        .raw(
            reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap()
                .get(cashier_url),
        )
        .await;
    assert_eq!(r.status, 302, "{}", r.text);
    cashier_id(r.headers["location"].to_str().unwrap())
}

/// A reconciliation period around now on either clock: the gateways write wall-clock
/// (China) time, the test clock may have moved.
pub fn period(t: &TestApp, provider: &str) -> serde_json::Value {
    let now = t
        .now()
        .max(danbao_app::clock::Clock::now_ms(&danbao_app::clock::SystemClock));
    json!({"from": danbao_app::clock::rfc3339(now - 6 * 3_600_000), "to": danbao_app::clock::rfc3339(now + 6 * 3_600_000), "provider": provider})
}

/// How many notifications of `rail` have been refused, as the security events count them.
pub async fn refused_count(t: &TestApp, rail: &str) -> i64 {
    let admin = t.admin().await;
    let events = t.get("/api/v1/admin/security-events", Some(&admin)).await;
    assert_eq!(events.status, 200, "{}", events.text);
    events.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "notification_refused" && e["detail"]["rail"] == rail)
        .map(|e| e["occurrences"].as_i64().unwrap())
        .sum()
}
