//! 预审 that reads (issue 15 item 4): the complaint's words become reasons with the
//! phrases matched, shown to the parties and the arbitrator; a screenshot already used in
//! a complaint about another order is flagged, by perceptual hash, on the second case.

use danbao_app::Role;
use danbao_testkit::{Browser, Resp, TestApp};
use serde_json::{json, Value};

on_both_databases!(
    the_buyers_words_are_a_reason_with_the_phrase,
    a_screenshot_reused_against_another_order_is_flagged,
);

/// A delivered card-key order of 100.00 from `seller_token`'s shop, its key viewed by the
/// buyer; returns the order id.
async fn delivered_and_viewed(t: &TestApp, seller_token: &str, buyer_token: &str) -> String {
    let product = t.card_product(seller_token, 10_000, 1).await;
    let order = t.order_delivered(buyer_token, &product).await;
    t.get(&format!("/api/v1/orders/{order}/delivery"), Some(buyer_token))
        .await;
    order
}

async fn open(t: &TestApp, buyer_token: &str, order: &str, description: &str) -> Resp {
    let r = t
        .post(
            &format!("/api/v1/orders/{order}/complaints"),
            Some(buyer_token),
            json!({"kind": "not_as_described", "description": description}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    r
}

async fn upload(t: &TestApp, token: &str, complaint: &str, bytes: &[u8], content_type: &str) -> Resp {
    t.raw(
        t.http
            .post(format!(
                "{}/api/v1/complaints/{complaint}/evidence?kind=screenshot",
                t.url
            ))
            .bearer_auth(token)
            .header("content-type", content_type)
            .body(bytes.to_vec()),
    )
    .await
}

fn reasons(proposal: &Value) -> Vec<Value> {
    proposal["reasons"].as_array().cloned().unwrap_or_default()
}

async fn the_buyers_words_are_a_reason_with_the_phrase(t: TestApp) {
    let (seller_token, _) = t.user("words_s", "seller").await;
    let (buyer_token, _) = t.user("words_b", "buyer").await;
    let order = delivered_and_viewed(&t, &seller_token, &buyer_token).await;
    // Full-width letters and stray spaces, as people type on a phone.
    let opened = open(&t, &buyer_token, &order, "ＱＱ卡充值时 提示已使用，麻烦处理").await;
    let id = opened.body["id"].as_str().unwrap().to_string();
    let said = json!({"code": "text_says", "party": "buyer", "class": "key_used", "phrases": ["提示已使用"]});
    let p = &opened.body["proposal"];
    assert!(reasons(p).contains(&said), "{p}");
    // The words propose (a refund, unless the seller answers), and never decide.
    assert_eq!(p["ruling"]["kind"], "refund_full", "{p}");
    assert_eq!(p["decide_now"], false, "{p}");
    assert_eq!(opened.body["stage"], "awaiting_seller");
    // The seller sees the same reasons.
    let seen = t.get(&format!("/api/v1/complaints/{id}"), Some(&seller_token)).await;
    assert!(reasons(&seen.body["proposal"]).contains(&said), "{}", seen.text);
    // The seller disputes it: the proposal goes to a person, the buyer's phrase stays a
    // reason and the seller's denial is one too.
    let answered = t
        .post(
            &format!("/api/v1/complaints/{id}/response"),
            Some(&seller_token),
            json!({"text": "卡密没问题，出库前测试过"}),
        )
        .await;
    assert_eq!(answered.status, 200, "{}", answered.text);
    let staff = t.staff(Role::Arbitrator).await;
    let c = t.get(&format!("/api/v1/complaints/{id}"), Some(&staff)).await;
    let p = &c.body["proposal"];
    assert!(p["ruling"].is_null(), "{p}");
    assert!(reasons(p).contains(&said), "{p}");
    assert!(
        reasons(p).contains(
            &json!({"code": "text_says", "party": "seller", "class": "denies", "phrases": ["卡密没问题", "测试过"]})
        ),
        "{p}"
    );
    // The arbitrator's page says why, with the phrase quoted.
    t.app()
        .register(
            &danbao_app::limits::Origin::Local,
            "words_arb",
            "desk-password-1",
            Role::Arbitrator,
        )
        .await
        .unwrap();
    let b = Browser::new(&t);
    b.get("/login").await;
    let r = b
        .submit("/login", &[("username", "words_arb"), ("password", "desk-password-1")])
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    let page = b.get(&format!("/arbitration/cases/{id}")).await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(page.text.contains("买家的陈述：卡密已被使用或无效"), "{}", page.text);
    assert!(
        page.text.contains(r#"<q class="desc phrase">提示已使用</q>"#),
        "{}",
        page.text
    );
    assert!(page.text.contains("卖家的陈述：称发货无误"), "{}", page.text);
    t.finish().await;
}

async fn a_screenshot_reused_against_another_order_is_flagged(t: TestApp) {
    let (seller_a, _) = t.user("reuse_sa", "seller").await;
    let (seller_b, _) = t.user("reuse_sb", "seller").await;
    let (buyer, _) = t.user("reuse_b", "buyer").await;
    let first_order = delivered_and_viewed(&t, &seller_a, &buyer).await;
    let second_order = delivered_and_viewed(&t, &seller_b, &buyer).await;
    let png: &[u8] = include_bytes!("console_arb_screenshot.png");
    let first = open(&t, &buyer, &first_order, "卡密已被使用").await;
    let first_id = first.body["id"].as_str().unwrap().to_string();
    let up = upload(&t, &buyer, &first_id, png, "image/png").await;
    assert_eq!(up.status, 201, "{}", up.text);
    // A file that is not a picture is taken as evidence and simply not hashed.
    let note = upload(&t, &buyer, &first_id, "截图说明：充值页面".as_bytes(), "text/plain").await;
    assert_eq!(note.status, 201, "{}", note.text);
    let c = t.get(&format!("/api/v1/complaints/{first_id}"), Some(&buyer)).await;
    assert!(
        !reasons(&c.body["proposal"])
            .iter()
            .any(|r| r["code"] == "image_seen_elsewhere"),
        "{}",
        c.text
    );
    assert_eq!(c.body["proposal"]["ruling"]["kind"], "refund_full", "{}", c.text);
    // The same screenshot, in a complaint about another order with another seller.
    let second = open(&t, &buyer, &second_order, "卡密已被使用").await;
    let second_id = second.body["id"].as_str().unwrap().to_string();
    let up = upload(&t, &buyer, &second_id, png, "image/png").await;
    assert_eq!(up.status, 201, "{}", up.text);
    let staff = t.staff(Role::Arbitrator).await;
    let c = t.get(&format!("/api/v1/complaints/{second_id}"), Some(&staff)).await;
    let p = &c.body["proposal"];
    assert!(
        reasons(p).contains(&json!({
            "code": "image_seen_elsewhere", "party": "buyer",
            "complaints": [first_id], "other_sellers": true
        })),
        "{p}"
    );
    // A reused picture is no proof for the side that reused it: no proposal.
    assert!(p["ruling"].is_null(), "{p}");
    // One hash per file, whatever the number of uploads (counted as the rows a no-op
    // update touches), and none for the text file.
    let sha = up.body["evidence"]["file_sha256"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_eq!(sha.len(), 64, "{}", up.text);
    assert_eq!(
        t.sql(&format!(
            "UPDATE evidence_image_hashes SET created_at = created_at WHERE file_sha256 = '{sha}'"
        ))
        .await,
        1
    );
    assert_eq!(
        t.sql("UPDATE evidence_image_hashes SET created_at = created_at").await,
        1
    );
    t.finish().await;
}
