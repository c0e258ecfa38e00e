//! The buyer's protection (issue 15): fast refunds from the compensation fund and how a
//! ruling settles the advance, with exact amounts; the platform's own arbitration time
//! limit and its escalation; the seller reminded when the buyer may escalate a manual order.

use crate::shop::{open, shop, Shop};
use danbao_app::Role;
use danbao_domain::Account;
use danbao_testkit::{Browser, TestApp, HOUR_MS};
use serde_json::{json, Value};

on_both_databases!(
    fast_refunds_pay_at_once_and_rulings_settle_the_advance,
    fast_refunds_are_refused_with_the_reason,
    a_case_past_the_arbitration_limit_is_escalated_and_shown_overdue,
    an_undelivered_manual_order_reminds_the_seller_and_escalates_in_one_click,
    what_a_seller_owes_is_repaid_first_from_later_releases,
    a_deposit_is_released_only_after_thirty_quiet_days,
    listing_needs_the_deposit_paid_at_the_cashier_and_it_grows_with_sales,
);

const DAY_MS: i64 = 24 * HOUR_MS;

/// Delivered card-key orders of `price` for the shop's buyer, their keys viewed; returns
/// their ids.
async fn delivered(t: &TestApp, s: &Shop, price: i64, n: usize) -> Vec<String> {
    let product = t.card_product(&s.seller_token, price, n).await;
    let mut ids = Vec::new();
    for _ in 0..n {
        let id = t.order_delivered(&s.buyer_token, &product).await;
        t.get(&format!("/api/v1/orders/{id}/delivery"), Some(&s.buyer_token))
            .await;
        ids.push(id);
    }
    ids
}

/// The shop's sessions again (a month on, the first ones have expired).
async fn log_in_again(t: &TestApp, s: &mut Shop) {
    for (name, token) in [
        (s.buyer_name.clone(), &mut s.buyer_token),
        (s.buyer_name.replace("_b", "_s"), &mut s.seller_token),
    ] {
        let r = t
            .post(
                "/api/v1/sessions",
                None,
                json!({"username": name, "password": "correct-horse"}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        *token = r.body["token"].as_str().unwrap().to_string();
    }
}

/// A browser logged in as the shop's buyer.
async fn buyer_browser<'a>(t: &'a TestApp, s: &Shop) -> Browser<'a> {
    let browser = Browser::new(t);
    browser.get("/login").await;
    let r = browser
        .submit("/login", &[("username", &s.buyer_name), ("password", "correct-horse")])
        .await;
    assert!(r.status == 303 || r.status == 200, "{}", r.status);
    browser
}

async fn rule(t: &TestApp, arb: &str, id: &str, ruling: Value) -> Value {
    let r = t
        .post(&format!("/api/v1/complaints/{id}/ruling"), Some(arb), ruling)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body
}

/// Fees from a completed order of `price`, moved into the compensation fund.
async fn fund(t: &TestApp, s: &Shop, price: i64) -> i64 {
    let order = delivered(t, s, price, 1).await.remove(0);
    let c = t
        .post(
            &format!("/api/v1/orders/{order}/confirm"),
            Some(&s.buyer_token),
            json!({}),
        )
        .await;
    assert_eq!(c.status, 200, "{}", c.text);
    let fees = t.balance(&Account::PlatformFees).await;
    let admin = t.admin().await;
    let f = t
        .post(
            "/api/v1/admin/compensation-fund",
            Some(&admin),
            json!({"amount_minor": fees}),
        )
        .await;
    assert_eq!(f.status, 200, "{}", f.text);
    fees
}

async fn fast_refunds_pay_at_once_and_rulings_settle_the_advance(t: TestApp) {
    let mut s = shop(&t, "fast").await;
    // The buyer's account is 31 days old; a ¥300 sale pays ¥15 of fees into the fund.
    t.advance(31 * DAY_MS);
    log_in_again(&t, &mut s).await;
    assert_eq!(fund(&t, &s, 30_000).await, 1_500);
    let fees_before = t.balance(&Account::PlatformFees).await;
    let orders = delivered(&t, &s, 500, 4).await;

    // Three complaints of ¥5 are each refunded at once; the fourth finds the fund empty.
    let mut ids = Vec::new();
    for order in &orders[..3] {
        let c = open(&t, &s.buyer_token, order, "not_as_described").await;
        assert_eq!(c.status, 201, "{}", c.text);
        assert_eq!(c.body["fast_refund"]["amount_minor"], 500, "{}", c.text);
        assert!(c.body["fast_refund"]["at"].is_string());
        assert!(c.body["fast_refund_refusal"].is_null());
        // The case goes on: the order's money stays frozen for the ruling.
        assert_eq!(c.body["stage"], "awaiting_seller");
        assert!(!c.body["actions"].as_array().unwrap().contains(&json!("withdraw")));
        ids.push(c.body["id"].as_str().unwrap().to_string());
    }
    assert_eq!(t.balance(&Account::CompensationFund).await, 0);
    assert_eq!(t.balance(&Account::Frozen(s.seller.clone())).await, 1_500);
    assert_eq!(t.balance(&Account::RefundsPending("sandbox".into())).await, 1_500);
    let short = open(&t, &s.buyer_token, &orders[3], "not_as_described").await;
    assert_eq!(short.status, 201, "{}", short.text);
    assert!(short.body["fast_refund"].is_null());
    assert_eq!(short.body["fast_refund_refusal"], json!({"code": "fund_short"}));
    // The refunds reach the buyer through the provider without waiting for a ruling.
    t.settle_refunds().await;
    assert_eq!(t.balance(&Account::RefundsPending("sandbox".into())).await, 0);
    let listed = t
        .get(
            &format!("/api/v1/orders/{}/complaints", orders[0]),
            Some(&s.buyer_token),
        )
        .await;
    assert_eq!(
        listed.body["items"][0]["fast_refund"]["amount_minor"], 500,
        "{}",
        listed.text
    );

    // A buyer holding the advance cannot withdraw (the seller would be paid as well).
    let w = t
        .post(
            &format!("/api/v1/complaints/{}/withdraw", ids[0]),
            Some(&s.buyer_token),
            json!({}),
        )
        .await;
    assert_eq!(w.status, 409, "{}", w.text);
    assert_eq!(w.problem_type(), "https://danbao.dev/problems/complaint-fast-refunded");

    // The buyer wins: the frozen ¥5 goes back into the fund, and no second refund is made.
    let arb = t.staff(Role::Arbitrator).await;
    let won = rule(&t, &arb, &ids[0], json!({"kind": "refund_full", "reason": "卡密无效"})).await;
    assert_eq!(won["stage"], "resolved");
    assert_eq!(t.balance(&Account::CompensationFund).await, 500);
    assert_eq!(t.balance(&Account::RefundsPending("sandbox".into())).await, 0);
    assert_eq!(t.balance(&Account::Losses).await, 0);
    // The seller wins: the ¥5 is released to the seller (less the 5 % fee), and the
    // advance is the platform's loss, which makes the fund whole.
    rule(
        &t,
        &arb,
        &ids[1],
        json!({"kind": "release_to_seller", "reason": "卡密有效"}),
    )
    .await;
    assert_eq!(t.balance(&Account::Losses).await, 500);
    assert_eq!(t.balance(&Account::CompensationFund).await, 1_000);
    // A split does both in proportion: ¥2.50 back into the fund, ¥2.50 lost; the seller's
    // ¥2.50 less a fee of ¥0.13 (half to even of 12.5).
    rule(
        &t,
        &arb,
        &ids[2],
        json!({"kind": "split", "buyer_bps": 5000, "reason": "一半可用"}),
    )
    .await;
    assert_eq!(t.balance(&Account::Losses).await, 750);
    assert_eq!(t.balance(&Account::CompensationFund).await, 1_500);
    assert_eq!(t.balance(&Account::RefundsPending("sandbox".into())).await, 0);
    assert_eq!(t.balance(&Account::Frozen(s.seller.clone())).await, 500);
    assert_eq!(t.balance(&Account::PlatformFees).await - fees_before, 25 + 12);
    // The refunds at the provider: one per fast refund, none from the rulings.
    // (Counted as the rows a no-op update touches: the harness runs statements, not queries.)
    let refunds = t
        .sql("UPDATE refunds SET reason = reason WHERE reason = 'fast_refund'")
        .await;
    assert_eq!(refunds, 3);
    assert_eq!(
        t.sql("UPDATE refunds SET reason = reason WHERE reason LIKE 'ruling:%'")
            .await,
        0
    );

    // Both parties see it on the complaint page, and the buyer on the order page.
    let browser = buyer_browser(&t, &s).await;
    let page = browser.get(&format!("/complaints/{}", ids[0])).await;
    assert_eq!(page.status, 200);
    assert!(page.text.contains("已先行赔付"), "{}", page.text);
    let page = browser.get(&format!("/orders/{}", orders[0])).await;
    assert!(page.text.contains("已先行赔付"), "{}", page.text);
    t.finish().await;
}

async fn fast_refunds_are_refused_with_the_reason(t: TestApp) {
    let mut s = shop(&t, "nofast").await;
    fund(&t, &s, 100_000).await;
    // A new account (the fund holds ¥50, enough).
    let young = delivered(&t, &s, 500, 1).await.remove(0);
    let c = open(&t, &s.buyer_token, &young, "not_as_described").await;
    assert_eq!(
        c.body["fast_refund_refusal"],
        json!({"code": "account_too_new", "days_min": 30}),
        "{}",
        c.text
    );
    // Thirty days on: over the ¥200 cap.
    t.advance(31 * DAY_MS);
    log_in_again(&t, &mut s).await;
    let big = delivered(&t, &s, 20_001, 1).await.remove(0);
    let c = open(&t, &s.buyer_token, &big, "not_as_described").await;
    assert_eq!(
        c.body["fast_refund_refusal"],
        json!({"code": "amount_over_cap", "cap_minor": 20_000}),
        "{}",
        c.text
    );
    // A buyer who lost a complaint in the last 90 days.
    let arb = t.staff(Role::Arbitrator).await;
    rule(
        &t,
        &arb,
        c.body["id"].as_str().unwrap(),
        json!({"kind": "release_to_seller", "reason": "卡密有效"}),
    )
    .await;
    let next = delivered(&t, &s, 500, 1).await.remove(0);
    let c = open(&t, &s.buyer_token, &next, "not_as_described").await;
    assert_eq!(
        c.body["fast_refund_refusal"],
        json!({"code": "lost_recently", "days": 90}),
        "{}",
        c.text
    );
    assert!(c.body["fast_refund"].is_null());
    // A guest.
    let product = t.card_product(&s.seller_token, 500, 1).await;
    let (guest_order, access) = t.guest_order_delivered(&product).await;
    let g = t
        .post(
            &format!("/api/v1/orders/{guest_order}/complaints?access_token={access}"),
            None,
            json!({"kind": "not_as_described", "description": "卡密无效"}),
        )
        .await;
    assert_eq!(g.status, 201, "{}", g.text);
    assert_eq!(g.body["fast_refund_refusal"], json!({"code": "guest"}));
    // Nothing was advanced: the fund holds what was paid in.
    assert_eq!(t.balance(&Account::CompensationFund).await, 5_000);
    // The buyer reads why on the complaint page.
    let browser = buyer_browser(&t, &s).await;
    let page = browser
        .get(&format!("/complaints/{}", c.body["id"].as_str().unwrap()))
        .await;
    assert!(
        page.text.contains("本次投诉不适用先行赔付") && page.text.contains("90 天内"),
        "{}",
        page.text
    );
    t.finish().await;
}

async fn a_case_past_the_arbitration_limit_is_escalated_and_shown_overdue(t: TestApp) {
    let s = shop(&t, "late").await;
    let orders = delivered(&t, &s, 1_000, 2).await;
    let mut ids = Vec::new();
    for order in &orders {
        let c = open(&t, &s.buyer_token, order, "not_as_described").await;
        ids.push(c.body["id"].as_str().unwrap().to_string());
    }
    // The seller answers the second case first: it reaches review first, so it is due first.
    for id in ids.iter().rev() {
        let a = t
            .post(
                &format!("/api/v1/complaints/{id}/response"),
                Some(&s.seller_token),
                json!({"text": "卡密有效"}),
            )
            .await;
        assert_eq!(a.status, 200, "{}", a.text);
        assert_eq!(a.body["stage"], "under_review");
        // The platform's limit: 48 hours from reaching review, shown to both parties.
        let due = danbao_app::clock::parse_rfc3339(a.body["deadline_at"].as_str().unwrap()).unwrap();
        assert_eq!(due, t.now() + 48 * HOUR_MS);
        t.advance(HOUR_MS);
    }
    let arb = t.staff(Role::Arbitrator).await;
    let queue = t.get("/api/v1/arbitration/queue", Some(&arb)).await;
    let order: Vec<&str> = queue.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["id"].as_str())
        .collect();
    assert_eq!(order, vec![ids[1].as_str(), ids[0].as_str()], "{}", queue.text);
    // Not overdue an hour before; overdue, escalated to the admins, at the limit.
    t.advance(45 * HOUR_MS);
    t.run_due_jobs().await;
    assert_eq!(
        t.get(&format!("/api/v1/complaints/{}", ids[1]), Some(&s.buyer_token))
            .await
            .body["overdue"],
        false
    );
    t.advance(HOUR_MS);
    t.run_due_jobs().await;
    let late = t
        .get(&format!("/api/v1/complaints/{}", ids[1]), Some(&s.buyer_token))
        .await;
    assert_eq!(late.body["overdue"], true, "{}", late.text);
    assert_eq!(late.body["stage"], "under_review", "nothing is decided by the delay");
    assert_eq!(
        t.get(&format!("/api/v1/complaints/{}", ids[0]), Some(&s.buyer_token))
            .await
            .body["overdue"],
        false
    );
    let admin = t.admin().await;
    let alerts = t.get("/api/v1/notifications", Some(&admin)).await;
    assert_eq!(alerts.status, 200, "{}", alerts.text);
    let overdue: Vec<&Value> = alerts
        .body
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["kind"] == "arbitration_overdue")
        .collect();
    assert_eq!(overdue.len(), 1, "{}", alerts.text);
    assert_eq!(overdue[0]["subject_id"], ids[1].as_str());
    assert_eq!(overdue[0]["recipient"], "role:admin");
    assert!(
        overdue[0]["sent_at"].is_string(),
        "delivered by the job: {}",
        alerts.text
    );
    // Neither party nor the arbitrator sees the admins' alerts.
    let buyers = t.get("/api/v1/notifications", Some(&s.buyer_token)).await;
    assert!(buyers
        .body
        .as_array()
        .unwrap()
        .iter()
        .all(|n| n["kind"] != "arbitration_overdue"));
    // Every page says it.
    let browser = buyer_browser(&t, &s).await;
    let page = browser.get(&format!("/complaints/{}", ids[1])).await;
    assert!(page.text.contains("id=\"overdue\""), "{}", page.text);
    let page = browser.get(&format!("/orders/{}", orders[1])).await;
    assert!(page.text.contains("已超时"), "{}", page.text);
    // A day later, still undecided: the admins are alerted again.
    let overdue_alerts = |body: &Value| {
        body.as_array()
            .unwrap()
            .iter()
            .filter(|n| n["kind"] == "arbitration_overdue" && n["subject_id"] == ids[1].as_str())
            .count()
    };
    t.advance(24 * HOUR_MS);
    t.run_due_jobs().await;
    let alerts = t.get("/api/v1/notifications", Some(&admin)).await;
    assert_eq!(overdue_alerts(&alerts.body), 2, "{}", alerts.text);
    // Ruling late still works, and ends the alerting.
    rule(&t, &arb, &ids[1], json!({"kind": "refund_full", "reason": "卡密无效"})).await;
    let done = t
        .get(&format!("/api/v1/complaints/{}", ids[1]), Some(&s.buyer_token))
        .await;
    assert_eq!(done.body["overdue"], false);
    t.advance(24 * HOUR_MS);
    t.run_due_jobs().await;
    let alerts = t.get("/api/v1/notifications", Some(&admin)).await;
    assert_eq!(overdue_alerts(&alerts.body), 2, "no alert once ruled: {}", alerts.text);
    t.finish_with_pending_jobs().await;
}

async fn an_undelivered_manual_order_reminds_the_seller_and_escalates_in_one_click(t: TestApp) {
    let s = shop(&t, "remind").await;
    let r = t
        .post(
            "/api/v1/seller/products",
            Some(&s.seller_token),
            json!({"title": "代充", "category": "top_up", "price_minor": 5_000, "delivery_kind": "manual"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let placed = t
        .post(
            "/api/v1/orders",
            Some(&s.buyer_token),
            json!({"product_id": r.body["id"], "quantity": 1}),
        )
        .await;
    let order = placed.body["id"].as_str().unwrap().to_string();
    t.pay(placed.body["payment"]["payment_id"].as_str().unwrap()).await;
    t.wait_for_status(&format!("/api/v1/orders/{order}"), Some(&s.buyer_token), "paid")
        .await;
    let browser = buyer_browser(&t, &s).await;
    // Before two hours: no reminder, no one-click escalation.
    t.advance(2 * HOUR_MS - 60_000);
    t.run_due_jobs().await;
    let sellers = t.get("/api/v1/notifications", Some(&s.seller_token)).await;
    assert_eq!(sellers.body, json!([]), "{}", sellers.text);
    assert!(!browser
        .get(&format!("/orders/{order}"))
        .await
        .text
        .contains("id=\"escalate\""));
    // At two hours the seller is reminded, the buyer told, and the page offers one click.
    t.advance(60_000);
    t.run_due_jobs().await;
    let sellers = t.get("/api/v1/notifications", Some(&s.seller_token)).await;
    let kinds: Vec<&str> = sellers
        .body
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|n| n["kind"].as_str())
        .collect();
    assert_eq!(kinds, vec!["seller_delivery_reminder"], "{}", sellers.text);
    assert_eq!(sellers.body[0]["subject_id"], order.as_str());
    assert!(sellers.body[0]["sent_at"].is_string());
    let buyers = t.get("/api/v1/notifications", Some(&s.buyer_token)).await;
    assert_eq!(buyers.body[0]["kind"], "buyer_may_escalate", "{}", buyers.text);
    let page = browser.get(&format!("/orders/{order}")).await;
    assert!(page.text.contains("id=\"escalate\""), "{}", page.text);
    // One click: the form carries only the kind.
    let clicked = browser
        .submit(&format!("/orders/{order}/complaints"), &[("kind", "not_delivered")])
        .await;
    assert!(
        clicked.status == 303 || clicked.status == 200,
        "{} {}",
        clicked.status,
        clicked.text
    );
    let list = t
        .get(&format!("/api/v1/orders/{order}/complaints"), Some(&s.buyer_token))
        .await;
    assert_eq!(list.body["items"][0]["kind"], "not_delivered", "{}", list.text);
    assert_eq!(t.balance(&Account::Frozen(s.seller.clone())).await, 5_000);
    // The reminder is sent once.
    t.advance(HOUR_MS);
    t.run_due_jobs().await;
    let sellers = t.get("/api/v1/notifications", Some(&s.seller_token)).await;
    assert_eq!(sellers.body.as_array().unwrap().len(), 1, "{}", sellers.text);
    t.finish_with_pending_jobs().await;
}

/// The waterfall (SPEC §7) with exact amounts: a complaint on an order whose money the
/// seller already withdrew takes available (none), the deposit, and books the rest as a
/// receivable; later releases to that seller repay it before anything becomes available.
async fn what_a_seller_owes_is_repaid_first_from_later_releases(t: TestApp) {
    let s = shop(&t, "owes").await;
    let arb = t.staff(Role::Arbitrator).await;
    let a = delivered(&t, &s, 10_000, 1).await.remove(0);
    let c = t
        .post(&format!("/api/v1/orders/{a}/confirm"), Some(&s.buyer_token), json!({}))
        .await;
    assert_eq!(c.status, 200, "{}", c.text);
    // A first complaint, ruled for the seller: the 95.00 becomes available at once.
    let first = open(&t, &s.buyer_token, &a, "not_as_described").await;
    rule(
        &t,
        &arb,
        first.body["id"].as_str().unwrap(),
        json!({"kind": "release_to_seller", "reason": "有效"}),
    )
    .await;
    assert_eq!(t.balance(&Account::Available(s.seller.clone())).await, 9_500);
    // The seller puts 10.00 into the deposit and withdraws the other 85.00.
    let d = t
        .post(
            "/api/v1/seller/deposit",
            Some(&s.seller_token),
            json!({"amount_minor": 1_000}),
        )
        .await;
    assert_eq!(d.status, 200, "{}", d.text);
    let w = t
        .post(
            "/api/v1/seller/withdrawals",
            Some(&s.seller_token),
            json!({"amount_minor": 8_500}),
        )
        .await;
    assert_eq!(w.status, 201, "{}", w.text);
    t.run_due_jobs().await;
    // Fraud, on the same order: available 0, the deposit's 10.00, 85.00 owed, the fee back.
    let fraud = open(&t, &s.buyer_token, &a, "fraud").await;
    assert_eq!(
        fraud.body["frozen"],
        json!({"escrow": 0, "reserve": 0, "available": 0, "deposit": 1_000, "receivable": 8_500, "fee": 500}),
        "{}",
        fraud.text
    );
    rule(
        &t,
        &arb,
        fraud.body["id"].as_str().unwrap(),
        json!({"kind": "refund_full", "reason": "售卖已使用卡密"}),
    )
    .await;
    assert_eq!(t.balance(&Account::Receivable(s.seller.clone())).await, 8_500);
    assert_eq!(t.balance(&Account::Deposit(s.seller.clone())).await, 0);
    // A later sale of 50.00: its 47.50 repays the debt when its reserve ends, none of it
    // becomes available.
    let b = delivered(&t, &s, 5_000, 1).await.remove(0);
    t.post(&format!("/api/v1/orders/{b}/confirm"), Some(&s.buyer_token), json!({}))
        .await;
    assert_eq!(t.balance(&Account::Reserve(s.seller.clone())).await, 4_750);
    t.advance(15 * DAY_MS);
    t.run_due_jobs().await;
    assert_eq!(t.balance(&Account::Reserve(s.seller.clone())).await, 0);
    assert_eq!(t.balance(&Account::Receivable(s.seller.clone())).await, 3_750);
    assert_eq!(t.balance(&Account::Available(s.seller.clone())).await, 0);
    // Another 100.00 sale repays the remaining 37.50; 57.50 of its 95.00 is available.
    let mut s = s;
    log_in_again(&t, &mut s).await;
    let c = delivered(&t, &s, 10_000, 1).await.remove(0);
    t.post(&format!("/api/v1/orders/{c}/confirm"), Some(&s.buyer_token), json!({}))
        .await;
    t.advance(15 * DAY_MS);
    t.run_due_jobs().await;
    assert_eq!(t.balance(&Account::Receivable(s.seller.clone())).await, 0);
    assert_eq!(t.balance(&Account::Available(s.seller.clone())).await, 5_750);
    // The seller's statement names the repayments.
    let balance = t.get("/api/v1/seller/balance", Some(&s.seller_token)).await;
    assert_eq!(balance.body["available_minor"], 5_750, "{}", balance.text);
    t.settle_refunds().await;
    t.finish().await;
}

async fn a_deposit_is_released_only_after_thirty_quiet_days(t: TestApp) {
    let mut s = shop(&t, "quiet").await;
    let a = delivered(&t, &s, 10_000, 1).await.remove(0);
    t.post(&format!("/api/v1/orders/{a}/confirm"), Some(&s.buyer_token), json!({}))
        .await;
    t.advance(15 * DAY_MS);
    t.run_due_jobs().await;
    log_in_again(&t, &mut s).await;
    assert_eq!(t.balance(&Account::Available(s.seller.clone())).await, 9_500);
    let d = t
        .post(
            "/api/v1/seller/deposit",
            Some(&s.seller_token),
            json!({"amount_minor": 5_000}),
        )
        .await;
    assert_eq!(d.status, 200, "{}", d.text);
    // An open order holds it.
    let product = t.card_product(&s.seller_token, 1_000, 1).await;
    let placed = t
        .post(
            "/api/v1/orders",
            Some(&s.buyer_token),
            json!({"product_id": product, "quantity": 1}),
        )
        .await;
    t.pay(placed.body["payment"]["payment_id"].as_str().unwrap()).await;
    let open_order = placed.body["id"].as_str().unwrap().to_string();
    t.wait_for_status(
        &format!("/api/v1/orders/{open_order}"),
        Some(&s.buyer_token),
        "delivered",
    )
    .await;
    let held = t
        .post("/api/v1/seller/deposit/release", Some(&s.seller_token), json!({}))
        .await;
    assert_eq!(held.status, 409, "{}", held.text);
    assert_eq!(
        held.problem_type(),
        "https://danbao.dev/problems/deposit-held-open-orders"
    );
    assert_eq!(held.body["open_orders"], 1, "{}", held.text);
    // Confirmed: no order is open, but the last one moved just now.
    t.post(
        &format!("/api/v1/orders/{open_order}/confirm"),
        Some(&s.buyer_token),
        json!({}),
    )
    .await;
    let held = t
        .post("/api/v1/seller/deposit/release", Some(&s.seller_token), json!({}))
        .await;
    assert_eq!(held.status, 409, "{}", held.text);
    assert_eq!(
        held.problem_type(),
        "https://danbao.dev/problems/deposit-held-quiet-period"
    );
    let from = danbao_app::clock::parse_rfc3339(held.body["release_from"].as_str().unwrap()).unwrap();
    assert_eq!(from, t.now() + 30 * DAY_MS);
    // Thirty quiet days later it comes back whole (the reserve of the last order too).
    t.advance(30 * DAY_MS);
    t.run_due_jobs().await;
    log_in_again(&t, &mut s).await;
    let released = t
        .post("/api/v1/seller/deposit/release", Some(&s.seller_token), json!({}))
        .await;
    assert_eq!(released.status, 200, "{}", released.text);
    assert_eq!(released.body["deposit_minor"], 0);
    assert_eq!(released.body["available_minor"], 9_500 + 950);
    let again = t
        .post("/api/v1/seller/deposit/release", Some(&s.seller_token), json!({}))
        .await;
    assert_eq!(again.status, 409, "nothing left to release: {}", again.text);
    t.finish().await;
}

async fn deposit_balance(t: &TestApp, token: &str) -> Value {
    let b = t.get("/api/v1/seller/balance", Some(token)).await;
    assert_eq!(b.status, 200, "{}", b.text);
    b.body
}

/// Pays `amount` into the deposit at the sandbox's cashier; returns the deposit payment.
async fn pay_deposit(t: &TestApp, token: &str, amount: i64) -> Value {
    let d = t
        .post(
            "/api/v1/seller/deposit/payments",
            Some(token),
            json!({"amount_minor": amount}),
        )
        .await;
    assert_eq!(d.status, 201, "{}", d.text);
    assert_eq!(d.body["status"], "pending");
    assert!(d.body["cashier_url"].is_string(), "{}", d.text);
    t.pay(d.body["payment_id"].as_str().unwrap()).await;
    d.body
}

async fn wait_for_deposit(t: &TestApp, token: &str, minor: i64) {
    t.wait_until("/api/v1/seller/balance", Some(token), "the deposit is booked", |b| {
        b["deposit_minor"] == minor
    })
    .await;
}

/// Shipped rules: ¥500 before listing, plus 5 % of the last 30 days' sales.
async fn listing_needs_the_deposit_paid_at_the_cashier_and_it_grows_with_sales(t: TestApp) {
    let t = t
        .restart_with_rules(danbao_domain::RuleSet::default_rules().unwrap())
        .await;
    let s = shop(&t, "dep").await;
    let product =
        json!({"title": "点卡", "category": "game_cards", "price_minor": 100_000, "delivery_kind": "card_key"});
    let refused = t
        .post("/api/v1/seller/products", Some(&s.seller_token), product.clone())
        .await;
    assert_eq!(refused.status, 409, "{}", refused.text);
    assert_eq!(refused.problem_type(), "https://danbao.dev/problems/deposit-short");
    assert_eq!(
        (
            refused.body["required_minor"].as_i64(),
            refused.body["held_minor"].as_i64()
        ),
        (Some(50_000), Some(0))
    );
    assert_eq!(
        deposit_balance(&t, &s.seller_token).await["deposit_required_minor"],
        50_000
    );
    // The seller console says what is needed and opens the cashier for the shortfall.
    let browser = Browser::new(&t);
    browser.get("/login").await;
    browser
        .submit(
            "/login",
            &[
                ("username", &s.buyer_name.replace("_b", "_s")),
                ("password", "correct-horse"),
            ],
        )
        .await;
    let money = browser.get("/seller/money").await;
    assert_eq!(money.status, 200, "{}", money.text);
    assert!(
        money.text.contains("id=\"deposit-short\"") && money.text.contains("¥500.00"),
        "{}",
        money.text
    );
    // The formula is the rules' own figures.
    assert!(
        money.text.contains("¥500.00 + 近 30 天销售额的 5%")
            || money.text.contains("¥500.00 + 5 % of the last 30 days"),
        "{}",
        money.text
    );
    let to_cashier = browser.submit("/seller/money/deposit/pay", &[("amount", "500")]).await;
    assert_eq!(to_cashier.status, 303, "{}", to_cashier.text);
    let cashier = to_cashier
        .headers
        .get("location")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert!(cashier.contains("/sandbox/"), "{cashier}");
    // Paid in at the cashier: the provider's notification books it into the deposit.
    let d = pay_deposit(&t, &s.seller_token, 50_000).await;
    wait_for_deposit(&t, &s.seller_token, 50_000).await;
    let listed = t.get("/api/v1/seller/deposit/payments", Some(&s.seller_token)).await;
    assert_eq!(listed.body[0]["id"], d["id"]);
    assert_eq!(listed.body[0]["status"], "paid", "{}", listed.text);
    // The one opened from the console was never paid: it stays pending, nothing booked.
    assert_eq!(listed.body[1]["status"], "pending", "{}", listed.text);
    assert!(!browser.get("/seller/money").await.text.contains("id=\"deposit-short\""));
    let created = t
        .post("/api/v1/seller/products", Some(&s.seller_token), product.clone())
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    // A ¥1,000 sale: the seller now guarantees ¥500 + 5 % of it.
    let id = created.body["id"].as_str().unwrap();
    let k = t
        .raw(
            t.http
                .post(format!("{}/api/v1/seller/products/{id}/card-keys", t.url))
                .bearer_auth(&s.seller_token)
                .header("content-type", "text/plain")
                .body("DEP-KEY-0001"),
        )
        .await;
    assert!(k.status == 200 || k.status == 201, "{}", k.text);
    let placed = t
        .post(
            "/api/v1/orders",
            Some(&s.buyer_token),
            json!({"product_id": id, "quantity": 1}),
        )
        .await;
    assert_eq!(placed.status, 201, "{}", placed.text);
    t.pay(placed.body["payment"]["payment_id"].as_str().unwrap()).await;
    let order = placed.body["id"].as_str().unwrap();
    t.wait_for_status(&format!("/api/v1/orders/{order}"), Some(&s.buyer_token), "delivered")
        .await;
    assert_eq!(
        deposit_balance(&t, &s.seller_token).await["deposit_required_minor"],
        55_000
    );
    let short = t
        .post("/api/v1/seller/products", Some(&s.seller_token), product.clone())
        .await;
    assert_eq!(short.status, 409, "{}", short.text);
    assert_eq!(short.body["required_minor"], 55_000);
    // Hiding and showing a listing again is listing it again.
    let path = format!("/api/v1/seller/products/{id}");
    let hidden = t
        .request("PATCH", &path, Some(&s.seller_token), Some(json!({"status": "hidden"})))
        .await;
    assert_eq!(hidden.status, 200, "{}", hidden.text);
    let shown = t
        .request("PATCH", &path, Some(&s.seller_token), Some(json!({"status": "active"})))
        .await;
    assert_eq!(shown.status, 409, "{}", shown.text);
    assert_eq!(shown.problem_type(), "https://danbao.dev/problems/deposit-short");
    // The top-up's notification is lost: the day's statement books it all the same.
    t.set_faults(danbao_sandbox::wire::Faults {
        drop_pct: 100,
        ..Default::default()
    });
    pay_deposit(&t, &s.seller_token, 5_000).await;
    assert_eq!(deposit_balance(&t, &s.seller_token).await["deposit_minor"], 50_000);
    let admin = t.admin().await;
    let day = 86_400_000;
    let from = danbao_app::clock::rfc3339(t.now() - day);
    let to = danbao_app::clock::rfc3339(t.now() + 60_000);
    let run = t
        .post(
            "/api/v1/admin/reconciliation/statements",
            Some(&admin),
            json!({"from": from, "to": to}),
        )
        .await;
    assert_eq!(run.status, 200, "{}", run.text);
    assert_eq!(run.body["applied_late"], 1, "{}", run.text);
    assert_eq!(run.body["missing_at_provider"], 0, "{}", run.text);
    t.set_faults(danbao_sandbox::wire::Faults::default());
    assert_eq!(deposit_balance(&t, &s.seller_token).await["deposit_minor"], 55_000);
    let again = t.post("/api/v1/seller/products", Some(&s.seller_token), product).await;
    assert_eq!(again.status, 201, "{}", again.text);
    t.finish_with_pending_jobs().await;
}
