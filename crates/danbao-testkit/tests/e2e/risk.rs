//! Issue 15 item 3: risk control at checkout (SPEC §8, 二次验证). Every order is scored
//! before payment; the level and the reasons are stored on the order; a `step_up` order
//! has no cashier until its buyer confirms once more; a `block` is refused and leaves
//! nothing behind; the arbitrator sees the score and the figures.

use danbao_app::limits::Origin;
use danbao_app::Role;
use danbao_domain::rules::RiskRules;
use danbao_domain::RuleSet;
use danbao_testkit::{Browser, Resp, TestApp};
use serde_json::{json, Value};

on_both_databases!(
    risk_an_order_from_an_established_shop_at_the_usual_price_is_low,
    risk_a_new_shop_far_below_the_usual_price_needs_a_second_confirmation,
    risk_a_blocked_order_is_refused_with_its_reasons_and_leaves_nothing,
    risk_a_buyer_ordering_fast_is_warned_with_the_count,
);

const DAY_MS: i64 = 24 * 3_600_000;

/// The harness only warns (see `danbao_sim::sim_rules`); these scenarios restart with the
/// shipped `[risk]` section, changed by `tune`.
async fn with_shipped_risk(t: TestApp, tune: impl FnOnce(&mut RiskRules)) -> TestApp {
    let mut rules = (*t.app().current_rules()).clone();
    rules.risk = RuleSet::default_rules().unwrap().risk;
    tune(&mut rules.risk);
    t.restart_with_rules(rules).await
}
/// The usual price of a game card in these scenarios (58.00).
const USUAL_MINOR: i64 = 5800;

fn refused(r: &Resp, status: u16, code: &str) {
    assert_eq!(r.status, status, "{}", r.text);
    assert_eq!(
        r.problem_type(),
        format!("https://danbao.dev/problems/{code}"),
        "{}",
        r.text
    );
}

fn codes(risk: &Value) -> Vec<String> {
    risk["reason_codes"]
        .as_array()
        .unwrap_or_else(|| panic!("no reason_codes in {risk}"))
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect()
}

/// Three shops that opened more than a week ago, each listing a game card at the usual
/// price: the category's median. The clock is moved past their first week.
async fn established_shops(t: &TestApp, tag: &str) -> Vec<String> {
    let mut products = Vec::new();
    let mut tokens = Vec::new();
    for n in 0..3 {
        let (token, _) = t.user(&format!("{tag}_old{n}"), "seller").await;
        tokens.push(token);
    }
    t.advance(8 * DAY_MS);
    for token in &tokens {
        products.push(t.card_product(token, USUAL_MINOR, 5).await);
    }
    products
}

async fn guest_order_as(t: &TestApp, product: &str, contact: &str) -> Resp {
    t.post(
        "/api/v1/orders",
        None,
        json!({"product_id": product, "quantity": 1, "contact": contact, "query_password": "guest-pass-1"}),
    )
    .await
}

async fn risk_an_order_from_an_established_shop_at_the_usual_price_is_low(t: TestApp) {
    let t = with_shipped_risk(t, |_| ()).await;
    let products = established_shops(&t, "risklow").await;
    let placed = guest_order_as(&t, &products[0], "qq:20001").await;
    assert_eq!(placed.status, 201, "{}", placed.text);
    assert_eq!(placed.body["risk"]["level"], "low", "{}", placed.text);
    assert_eq!(placed.body["risk"]["reasons"], json!([]));
    assert_eq!(placed.body["risk"]["score"], 0);
    assert!(placed.body["payment"]["cashier_url"].is_string(), "{}", placed.text);
    // Stored on the order: reading it back gives the same, and paying works as ever.
    let id = placed.body["id"].as_str().unwrap();
    let token = placed.body["access_token"].as_str().unwrap();
    let read = t.get(&format!("/api/v1/orders/{id}?access_token={token}"), None).await;
    assert_eq!(read.body["risk"]["level"], "low", "{}", read.text);
    assert!(read.body["actions"].as_array().unwrap().contains(&json!("pay")));
    t.pay(placed.body["payment"]["payment_id"].as_str().unwrap()).await;
    t.wait_for_status(&format!("/api/v1/orders/{id}?access_token={token}"), None, "delivered")
        .await;
    // A shop of the same age without peers in its category is low too: no median to miss.
    let (alone, _) = t.user("risklow_alone", "seller").await;
    t.advance(8 * DAY_MS);
    let r = t
        .post(
            "/api/v1/seller/products",
            Some(&alone),
            json!({"title": "独家", "description": "d", "category": "rare_things", "price_minor": 100, "delivery_kind": "manual"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let placed = guest_order_as(&t, r.body["id"].as_str().unwrap(), "qq:20002").await;
    assert_eq!(placed.body["risk"]["level"], "low", "{}", placed.text);
    t.finish().await;
}

async fn risk_a_new_shop_far_below_the_usual_price_needs_a_second_confirmation(t: TestApp) {
    let t = with_shipped_risk(t, |_| ()).await;
    established_shops(&t, "riskstep").await;
    // A shop opened today sells the same card at 10.00: 17 % of the usual 58.00.
    let (new_shop, _) = t.user("riskstep_new", "seller").await;
    let cheap = t.card_product(&new_shop, 1000, 5).await;

    // The product page warns before anyone buys.
    let page = t.get(&format!("/products/{cheap}"), None).await;
    assert!(page.text.contains("id=\"risk-warnings\""), "{}", page.text);
    assert!(page.text.contains("低价充值"), "{}", page.text);
    assert!(page.text.contains("卖家开店仅 0 天"), "{}", page.text);

    let (buyer, _) = t.user("riskstep_buyer", "buyer").await;
    let placed = t
        .post(
            "/api/v1/orders",
            Some(&buyer),
            json!({"product_id": cheap, "quantity": 1}),
        )
        .await;
    assert_eq!(placed.status, 201, "{}", placed.text);
    let risk = &placed.body["risk"];
    assert_eq!(risk["level"], "step_up", "{}", placed.text);
    assert_eq!(codes(risk), ["new_seller", "price_below_median"]);
    assert_eq!(risk["score"], 70);
    assert_eq!(risk["confirmation_required"], true);
    // zh-CN by default, with the figures.
    let reasons = risk["reasons"].as_array().unwrap();
    assert_eq!(reasons[0], "卖家开店仅 0 天（不足 7 天）");
    assert!(
        reasons[1]
            .as_str()
            .unwrap()
            .starts_with("价格 ¥10.00 仅为同类商品常见价格 ¥58.00 的 17.24%"),
        "{}",
        reasons[1]
    );
    // No cashier exists yet: nothing the buyer (or anyone) could pay around the confirmation.
    assert!(placed.body["payment"].is_null(), "{}", placed.text);
    let id = placed.body["id"].as_str().unwrap().to_string();
    let read = t.get(&format!("/api/v1/orders/{id}"), Some(&buyer)).await;
    assert_eq!(read.body["risk"]["level"], "step_up");
    assert!(read.body["payment"].is_null(), "{}", read.text);
    let actions = read.body["actions"].as_array().unwrap();
    assert!(
        actions.contains(&json!("confirm_risk")) && !actions.contains(&json!("pay")),
        "{actions:?}"
    );
    // ... in English for a reader who asks for it.
    let english = t
        .raw(
            t.client_from(1)
                .get(format!("{}/api/v1/orders/{id}", t.url))
                .bearer_auth(&buyer)
                .header("accept-language", "en"),
        )
        .await;
    assert_eq!(
        english.body["risk"]["reasons"][0], "The seller opened the shop 0 days ago (under 7 days)",
        "{}",
        english.text
    );
    // Reopening the cashier is refused until the buyer confirms.
    let again = t
        .post(&format!("/api/v1/orders/{id}/payments"), Some(&buyer), json!({}))
        .await;
    refused(&again, 409, "risk-confirmation-required");

    // Nobody but the buyer confirms: another buyer, the seller, a stranger, a wrong token.
    let (other, _) = t.user("riskstep_other", "buyer").await;
    for token in [Some(other.as_str()), Some(new_shop.as_str()), None] {
        let r = t
            .post(&format!("/api/v1/orders/{id}/confirm-risk"), token, json!({}))
            .await;
        assert_eq!(r.status, 404, "{}", r.text);
    }
    let r = t
        .post(
            &format!("/api/v1/orders/{id}/confirm-risk?access_token={}", "ab".repeat(32)),
            None,
            json!({}),
        )
        .await;
    assert_eq!(r.status, 404, "{}", r.text);
    let still = t.get(&format!("/api/v1/orders/{id}"), Some(&buyer)).await;
    assert_eq!(still.body["risk"]["confirmation_required"], true);

    // The buyer confirms: now the cashier opens, and confirming again gives the same one.
    let confirmed = t
        .post(&format!("/api/v1/orders/{id}/confirm-risk"), Some(&buyer), json!({}))
        .await;
    assert_eq!(confirmed.status, 200, "{}", confirmed.text);
    assert_eq!(confirmed.body["risk"]["level"], "step_up");
    assert_eq!(confirmed.body["risk"]["confirmation_required"], false);
    let payment_id = confirmed.body["payment"]["payment_id"].as_str().unwrap().to_string();
    assert!(confirmed.body["payment"]["cashier_url"].is_string());
    let twice = t
        .post(&format!("/api/v1/orders/{id}/confirm-risk"), Some(&buyer), json!({}))
        .await;
    assert_eq!(
        twice.body["payment"]["payment_id"],
        payment_id.as_str(),
        "{}",
        twice.text
    );
    t.pay(&payment_id).await;
    t.wait_for_status(&format!("/api/v1/orders/{id}"), Some(&buyer), "delivered")
        .await;
    let timeline = t.get(&format!("/api/v1/orders/{id}/timeline"), Some(&buyer)).await;
    assert!(timeline.text.contains("risk_confirmed"), "{}", timeline.text);
    // The warning given is in the evidence log with the order's creation.
    assert!(timeline.text.contains(r#""risk_level":"step_up""#), "{}", timeline.text);

    // A guest's step_up order is confirmed with the order's access token.
    let guest = guest_order_as(&t, &cheap, "qq:30001").await;
    assert_eq!(guest.body["risk"]["level"], "step_up", "{}", guest.text);
    let (gid, gtoken) = (
        guest.body["id"].as_str().unwrap(),
        guest.body["access_token"].as_str().unwrap(),
    );
    let r = t
        .post(
            &format!("/api/v1/orders/{gid}/confirm-risk?access_token={gtoken}"),
            None,
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.body["payment"]["cashier_url"].is_string(), "{}", r.text);

    // In the browser: buying leads to the order page, which asks for the second
    // confirmation; confirming there leads on to the cashier.
    let b = Browser::new(&t);
    b.get(&format!("/products/{cheap}")).await;
    let bought = b
        .submit(
            &format!("/products/{cheap}/buy"),
            &[
                ("quantity", "1"),
                ("contact", "qq:30002"),
                ("query_password", "guest-pass-1"),
            ],
        )
        .await;
    assert_eq!(bought.status, 303, "{}", bought.text);
    let order_page = bought.headers["location"].to_str().unwrap().to_string();
    assert!(order_page.starts_with("/orders/"), "{order_page}");
    let page = b.get(&order_page).await;
    assert!(page.text.contains("id=\"confirm-risk\""), "{}", page.text);
    assert!(page.text.contains("我已了解风险，继续付款"), "{}", page.text);
    assert!(!page.text.contains("/sandbox/cashier/"), "{}", page.text);
    let confirmed = b.submit(&format!("{order_page}/confirm-risk"), &[]).await;
    assert_eq!(confirmed.status, 303, "{}", confirmed.text);
    let cashier = confirmed.headers["location"].to_str().unwrap();
    assert!(cashier.contains("/sandbox/cashier/"), "{cashier}");

    // The buyer complains; the arbitrator's case shows how the order was scored.
    t.get(&format!("/api/v1/orders/{id}/delivery"), Some(&buyer)).await;
    let c = t
        .post(
            &format!("/api/v1/orders/{id}/complaints"),
            Some(&buyer),
            json!({"kind": "not_as_described", "description": "卡密无效"}),
        )
        .await;
    assert!(c.status == 201 || c.status == 200, "{}", c.text);
    let case = c.body["id"].as_str().unwrap();
    t.app()
        .register(&Origin::Local, "riskstep_arb", "desk-password-1", Role::Arbitrator)
        .await
        .unwrap();
    let desk = Browser::new(&t);
    desk.get("/login").await;
    let r = desk
        .submit(
            "/login",
            &[("username", "riskstep_arb"), ("password", "desk-password-1")],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    let page = desk.get(&format!("/arbitration/cases/{case}")).await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(page.text.contains("id=\"order-risk\""), "{}", page.text);
    assert!(page.text.contains("需二次确认"), "{}", page.text);
    assert!(page.text.contains("卖家开店仅 0 天"), "{}", page.text);
    assert!(
        page.text.contains("同类 3 个其他卖家在售商品中位价 ¥58.00"),
        "{}",
        page.text
    );
    t.finish().await;
}

async fn risk_a_blocked_order_is_refused_with_its_reasons_and_leaves_nothing(t: TestApp) {
    // A stricter operator: the low-price trap from a new shop is refused outright.
    let t = with_shipped_risk(t, |r| r.block_score = 70).await;
    established_shops(&t, "riskblock").await;
    let (new_shop, _) = t.user("riskblock_new", "seller").await;
    let cheap = t.card_product(&new_shop, 1000, 5).await;
    let (buyer, _) = t.user("riskblock_buyer", "buyer").await;
    let r = t
        .post(
            "/api/v1/orders",
            Some(&buyer),
            json!({"product_id": cheap, "quantity": 1}),
        )
        .await;
    refused(&r, 409, "risk-blocked");
    assert_eq!(r.body["reason_codes"], json!(["new_seller", "price_below_median"]));
    assert_eq!(r.body["risk_score"], 70);
    assert_eq!(r.body["reasons"].as_array().unwrap().len(), 2, "{}", r.text);
    // Nothing was created: no order, no stock held.
    let mine = t.get("/api/v1/orders", Some(&buyer)).await;
    assert_eq!(mine.body["items"], json!([]), "{}", mine.text);
    let product = t.get(&format!("/api/v1/products/{cheap}"), None).await;
    assert_eq!(product.body["stock"], 5, "{}", product.text);
    // The web checkout says why, in words.
    let page = t.get(&format!("/products/{cheap}"), None).await;
    assert!(page.text.contains("低价充值"), "{}", page.text);
    t.finish().await;
}

async fn risk_a_buyer_ordering_fast_is_warned_with_the_count(t: TestApp) {
    let t = with_shipped_risk(t, |r| {
        r.velocity_orders = 2;
        r.velocity_window_minutes = 60;
    })
    .await;
    let products = established_shops(&t, "riskfast").await;
    let (buyer, _) = t.user("riskfast_buyer", "buyer").await;
    let mut levels = Vec::new();
    for product in [&products[0], &products[1], &products[2]] {
        let r = t
            .post(
                "/api/v1/orders",
                Some(&buyer),
                json!({"product_id": product, "quantity": 1}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        levels.push(r.body["risk"].clone());
    }
    assert_eq!(levels[0]["level"], "low");
    assert_eq!(levels[1]["level"], "low");
    assert_eq!(levels[2]["level"], "warn", "{}", levels[2]);
    assert_eq!(codes(&levels[2]), ["buyer_velocity"]);
    assert_eq!(levels[2]["reasons"][0], "您在最近 60 分钟内已下单 2 笔");
    // Another buyer is not counted with the first; a guest's contact is one person however
    // it is written; a warning does not hold the cashier back.
    let (other, _) = t.user("riskfast_other", "buyer").await;
    let r = t
        .post(
            "/api/v1/orders",
            Some(&other),
            json!({"product_id": products[0], "quantity": 1}),
        )
        .await;
    assert_eq!(r.body["risk"]["level"], "low", "{}", r.text);
    for _ in 0..2 {
        let r = guest_order_as(&t, &products[1], "QQ 40001").await;
        assert_eq!(r.body["risk"]["level"], "low", "{}", r.text);
    }
    let r = guest_order_as(&t, &products[1], "qq40001").await;
    assert_eq!(codes(&r.body["risk"]), ["buyer_velocity"], "{}", r.text);
    assert!(r.body["payment"]["cashier_url"].is_string(), "{}", r.text);
    // Past the window the count starts again.
    t.advance(61 * 60_000);
    let r = t
        .post(
            "/api/v1/orders",
            Some(&buyer),
            json!({"product_id": products[2], "quantity": 1}),
        )
        .await;
    assert_eq!(r.body["risk"]["level"], "low", "{}", r.text);
    t.finish().await;
}
