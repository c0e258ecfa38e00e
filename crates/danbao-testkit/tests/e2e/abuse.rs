//! Money and access abuse (issue 8 items 3 and 4): one person cannot freeze a shop
//! through the collective-complaint rule; an automatic freeze goes before a person by a
//! deadline; released money waits out the after-sales window in the seller's reserve; a
//! seller cannot buy from their own shop.

use danbao_app::Role;
use danbao_domain::Account;
use danbao_testkit::{Resp, TestApp, HOUR_MS};
use serde_json::{json, Value};

on_both_databases!(
    one_payer_or_cheap_orders_freeze_nobody,
    five_payers_with_money_at_stake_freeze_and_the_review_deadline_escalates,
    an_arbitrator_lifts_an_automatic_freeze_before_its_deadline,
    released_money_is_withdrawable_only_after_the_reserve,
    a_fraud_complaint_inside_the_window_is_paid_from_the_reserve,
    a_withdrawn_complaint_puts_the_reserve_back_and_it_is_released_later,
    a_seller_cannot_buy_from_their_own_shop,
    a_payment_from_the_sellers_own_account_is_refunded_not_captured,
);

const DAY_MS: i64 = 24 * HOUR_MS;
const SELF_PURCHASE: &str = "https://danbao.dev/problems/self-purchase";

/// A paid, delivered guest order with its own contact, paid from `wallet`; returns
/// (order id, access token).
async fn guest_paid(t: &TestApp, product: &str, contact: &str, wallet: &str) -> (String, String) {
    let placed = t
        .post(
            "/api/v1/orders",
            None,
            json!({"product_id": product, "quantity": 1, "contact": contact, "query_password": "guest-pass-1"}),
        )
        .await;
    assert_eq!(placed.status, 201, "{}", placed.text);
    let id = placed.body["id"].as_str().unwrap().to_string();
    let token = placed.body["access_token"].as_str().unwrap().to_string();
    t.pay_as(placed.body["payment"]["payment_id"].as_str().unwrap(), wallet)
        .await;
    t.wait_for_status(&format!("/api/v1/orders/{id}?access_token={token}"), None, "delivered")
        .await;
    (id, token)
}

async fn guest_complains(t: &TestApp, order: &str, token: &str, kind: &str) -> Resp {
    t.post(
        &format!("/api/v1/orders/{order}/complaints?access_token={token}"),
        None,
        json!({"kind": kind, "description": "卖家发的卡密全是已使用的"}),
    )
    .await
}

async fn standing(t: &TestApp, seller_token: &str) -> String {
    let b = t.get("/api/v1/seller/balance", Some(seller_token)).await;
    assert_eq!(b.status, 200, "{}", b.text);
    b.body["standing"].as_str().unwrap().to_string()
}

async fn queue(t: &TestApp, arb: &str) -> Vec<Value> {
    let q = t.get("/api/v1/arbitration/queue", Some(arb)).await;
    assert_eq!(q.status, 200, "{}", q.text);
    q.body["items"].as_array().unwrap().clone()
}

async fn one_payer_or_cheap_orders_freeze_nobody(t: TestApp) {
    let (seller_token, _) = t.user("cheap_s", "seller").await;
    let product = t.card_product(&seller_token, 100, 20).await;
    // One person: five ¥1 guest orders under five contacts, all paid from one wallet,
    // each with a fraud complaint.
    for i in 0..5 {
        let (id, token) = guest_paid(&t, &product, &format!("qq:3000{i}"), "mallory-wallet").await;
        let c = guest_complains(&t, &id, &token, "fraud").await;
        assert_eq!(c.status, 201, "{}", c.text);
        assert!(c.body["group_id"].is_null(), "{}", c.text);
    }
    assert_eq!(standing(&t, &seller_token).await, "active");
    assert_eq!(t.get(&format!("/api/v1/products/{product}"), None).await.status, 200);
    // Five more ¥1 orders from five different wallets: ten complaints, six payers, but
    // ¥10 in dispute is below the rule set's ¥100: still nobody is frozen.
    for i in 0..5 {
        let (id, token) = guest_paid(&t, &product, &format!("qq:4000{i}"), &format!("wallet-{i}")).await;
        assert_eq!(guest_complains(&t, &id, &token, "fraud").await.status, 201);
    }
    assert_eq!(standing(&t, &seller_token).await, "active");
    assert_eq!(t.get(&format!("/api/v1/products/{product}"), None).await.status, 200);
    let arb = t.staff(Role::Arbitrator).await;
    let items = queue(&t, &arb).await;
    assert_eq!(items.len(), 10);
    assert!(items
        .iter()
        .all(|c| c["group_id"].is_null() && c["collective_review"].is_null()));
    assert_eq!(
        t.balance(&Account::Frozen(danbao_testkit::TestApp::seller_account(
            items[0]["seller_id"].as_str().unwrap()
        )))
        .await,
        1_000,
        "only the ten complaints' own money is held"
    );
    t.finish().await;
}

/// Five guests paying ¥25 each from five wallets, each with a fraud complaint; returns
/// (seller token, seller id, product id, complaint ids).
async fn five_real_complainants(t: &TestApp, tag: &str) -> (String, String, String, Vec<String>) {
    let (seller_token, seller_id) = t.user(&format!("{tag}_s"), "seller").await;
    let product = t.card_product(&seller_token, 2_500, 10).await;
    let mut complaints = Vec::new();
    for i in 0..5 {
        let (id, token) = guest_paid(t, &product, &format!("qq:{tag}{i}"), &format!("{tag}-wallet-{i}")).await;
        if i == 4 {
            // Four people (¥100 in dispute) are one short of the rule.
            assert_eq!(standing(t, &seller_token).await, "active");
        }
        let c = guest_complains(t, &id, &token, "fraud").await;
        assert_eq!(c.status, 201, "{}", c.text);
        complaints.push(c.body["id"].as_str().unwrap().to_string());
    }
    (seller_token, seller_id, product, complaints)
}

async fn five_payers_with_money_at_stake_freeze_and_the_review_deadline_escalates(t: TestApp) {
    let (seller_token, seller_id, product, complaints) = five_real_complainants(&t, "ring").await;
    let frozen_at = t.now();
    assert_eq!(standing(&t, &seller_token).await, "frozen");
    assert_eq!(t.get(&format!("/api/v1/products/{product}"), None).await.status, 404);
    // The freeze is in the arbitrator's queue with its review deadline: 4 h by default.
    let arb = t.staff(Role::Arbitrator).await;
    let items = queue(&t, &arb).await;
    assert_eq!(items.len(), 5);
    let due = danbao_app::clock::rfc3339(frozen_at + 4 * HOUR_MS);
    for c in &items {
        assert!(c["group_id"].as_str().unwrap().starts_with("collective:"), "{c}");
        assert_eq!(
            c["collective_review"],
            json!({"status": "pending", "review_due_at": due, "people": 5, "amount_minor": 12_500, "decided_by": null})
        );
    }
    // The parties do not see staff's review.
    let seen_by_seller = t
        .get(&format!("/api/v1/complaints/{}", complaints[0]), Some(&seller_token))
        .await;
    assert!(
        seen_by_seller.body["collective_review"].is_null(),
        "{}",
        seen_by_seller.text
    );
    // Nobody reviews it: one millisecond before the deadline nothing happens ...
    t.advance(4 * HOUR_MS - 1);
    t.run_due_jobs().await;
    let c = t
        .get(&format!("/api/v1/complaints/{}", complaints[0]), Some(&arb))
        .await;
    assert_eq!(c.body["collective_review"]["status"], "pending");
    // ... and at the deadline it is escalated to the admins; the freeze stays.
    t.advance(1);
    t.run_due_jobs().await;
    let c = t
        .get(&format!("/api/v1/complaints/{}", complaints[0]), Some(&arb))
        .await;
    assert_eq!(c.body["collective_review"]["status"], "escalated", "{}", c.text);
    assert_eq!(standing(&t, &seller_token).await, "frozen");
    let admin = t.admin().await;
    let events = t.get("/api/v1/admin/security-events", Some(&admin)).await;
    assert_eq!(events.status, 200, "{}", events.text);
    let overdue: Vec<&Value> = events.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "collective_freeze_unreviewed")
        .collect();
    assert_eq!(overdue.len(), 1, "{}", events.text);
    assert_eq!(overdue[0]["detail"]["seller_id"], seller_id.as_str());
    // An arbitrator then confirms the freeze: the review is settled as kept.
    let kept = t
        .post(
            &format!("/api/v1/admin/sellers/{seller_id}/freeze"),
            Some(&arb),
            json!({"reason": "五名买家的卡密均已被使用"}),
        )
        .await;
    assert_eq!(kept.status, 200, "{}", kept.text);
    assert_eq!(kept.body["status"], "frozen");
    let c = t
        .get(&format!("/api/v1/complaints/{}", complaints[0]), Some(&arb))
        .await;
    assert_eq!(c.body["collective_review"]["status"], "kept");
    assert!(c.body["collective_review"]["decided_by"]
        .as_str()
        .unwrap()
        .starts_with("user:"));
    t.finish().await;
}

async fn an_arbitrator_lifts_an_automatic_freeze_before_its_deadline(t: TestApp) {
    let (seller_token, seller_id, product, complaints) = five_real_complainants(&t, "lift").await;
    assert_eq!(standing(&t, &seller_token).await, "frozen");
    let arb = t.staff(Role::Arbitrator).await;
    let lifted = t
        .post(
            &format!("/api/v1/admin/sellers/{seller_id}/unfreeze"),
            Some(&arb),
            json!({"reason": "同一团伙的恶意投诉"}),
        )
        .await;
    assert_eq!(lifted.status, 200, "{}", lifted.text);
    assert_eq!(standing(&t, &seller_token).await, "active");
    assert_eq!(t.get(&format!("/api/v1/products/{product}"), None).await.status, 200);
    let c = t
        .get(&format!("/api/v1/complaints/{}", complaints[4]), Some(&arb))
        .await;
    assert_eq!(c.body["collective_review"]["status"], "lifted", "{}", c.text);
    // A sixth complaint within the window does not freeze the seller again: the five a
    // person has reviewed are not counted twice.
    let (id, token) = guest_paid(&t, &product, "qq:lift-extra", "lift-wallet-extra").await;
    let sixth = guest_complains(&t, &id, &token, "fraud").await;
    assert_eq!(sixth.status, 201, "{}", sixth.text);
    assert_eq!(standing(&t, &seller_token).await, "active");
    assert!(sixth.body["group_id"].is_null(), "{}", sixth.text);
    // The deadline passing later changes nothing: a person already decided.
    t.advance(5 * HOUR_MS);
    t.run_due_jobs().await;
    let c = t
        .get(&format!("/api/v1/complaints/{}", complaints[4]), Some(&arb))
        .await;
    assert_eq!(c.body["collective_review"]["status"], "lifted");
    let admin = t.admin().await;
    let events = t.get("/api/v1/admin/security-events", Some(&admin)).await;
    assert!(!events.text.contains("collective_freeze_unreviewed"), "{}", events.text);
    t.finish().await;
}

/// A completed card-key order of 100.00 bought by a buyer account; returns
/// (seller token, seller id, buyer token, order id).
async fn completed_order(t: &TestApp, tag: &str) -> (String, String, String, String) {
    let (seller_token, seller_id) = t.user(&format!("{tag}_s"), "seller").await;
    let (buyer_token, _) = t.user(&format!("{tag}_b"), "buyer").await;
    let product = t.card_product(&seller_token, 10_000, 2).await;
    let id = t.order_delivered(&buyer_token, &product).await;
    let done = t
        .post(&format!("/api/v1/orders/{id}/confirm"), Some(&buyer_token), json!({}))
        .await;
    assert_eq!(done.body["status"], "completed", "{}", done.text);
    (seller_token, seller_id, buyer_token, id)
}

async fn balance(t: &TestApp, seller_token: &str) -> Value {
    let b = t.get("/api/v1/seller/balance", Some(seller_token)).await;
    assert_eq!(b.status, 200, "{}", b.text);
    b.body
}

async fn released_money_is_withdrawable_only_after_the_reserve(t: TestApp) {
    let (seller_token, seller_id, _, _) = completed_order(&t, "reserve").await;
    let seller = TestApp::seller_account(&seller_id);
    // 100.00 less the 5 % fee: 95.00, all of it reserved.
    let b = balance(&t, &seller_token).await;
    assert_eq!(
        (b["available_minor"].as_i64(), b["reserved_minor"].as_i64()),
        (Some(0), Some(9_500))
    );
    assert_eq!(t.balance(&Account::PlatformFees).await, 500);
    let refused = t
        .post(
            "/api/v1/seller/withdrawals",
            Some(&seller_token),
            json!({"amount_minor": 9_500}),
        )
        .await;
    assert_eq!(refused.status, 409, "{}", refused.text);
    assert_eq!(
        refused.problem_type(),
        "https://danbao.dev/problems/insufficient-balance"
    );
    // The reserve lasts the longest after-sales window (fraud: 14 days).
    t.advance(14 * DAY_MS - 1);
    t.run_due_jobs().await;
    assert_eq!(balance(&t, &seller_token).await["reserved_minor"], 9_500);
    t.advance(1);
    t.run_due_jobs().await;
    let b = balance(&t, &seller_token).await;
    assert_eq!(
        (b["available_minor"].as_i64(), b["reserved_minor"].as_i64()),
        (Some(9_500), Some(0))
    );
    let w = t
        .post(
            "/api/v1/seller/withdrawals",
            Some(&seller_token),
            json!({"amount_minor": 9_500}),
        )
        .await;
    assert_eq!(w.status, 201, "{}", w.text);
    t.run_due_jobs().await;
    assert_eq!(t.balance(&Account::Available(seller.clone())).await, 0);
    assert_eq!(t.balance(&Account::Reserve(seller)).await, 0);
    // What stays at the provider is the platform's fee.
    assert_eq!(t.balance(&Account::Provider("sandbox".into())).await, 500);
    t.finish().await;
}

async fn a_fraud_complaint_inside_the_window_is_paid_from_the_reserve(t: TestApp) {
    let (seller_token, seller_id, buyer_token, order) = completed_order(&t, "latefraud").await;
    let seller = TestApp::seller_account(&seller_id);
    // Ten days on: past the 7-day not_as_described window, inside fraud's 14 days.
    t.advance(10 * DAY_MS);
    t.run_due_jobs().await;
    let closed = t
        .post(
            &format!("/api/v1/orders/{order}/complaints"),
            Some(&buyer_token),
            json!({"kind": "not_as_described", "description": "x"}),
        )
        .await;
    assert_eq!(closed.status, 409, "{}", closed.text);
    assert_eq!(
        closed.problem_type(),
        "https://danbao.dev/problems/complaint-window-closed"
    );
    let opened = t
        .post(
            &format!("/api/v1/orders/{order}/complaints"),
            Some(&buyer_token),
            json!({"kind": "fraud", "description": "卖家收款后把卡密改了密码"}),
        )
        .await;
    assert_eq!(opened.status, 201, "{}", opened.text);
    assert_eq!(
        opened.body["frozen"],
        json!({"escrow": 0, "reserve": 9_500, "available": 0, "deposit": 0, "receivable": 0, "fee": 500})
    );
    assert_eq!(t.balance(&Account::Reserve(seller.clone())).await, 0);
    assert_eq!(t.balance(&Account::Frozen(seller.clone())).await, 10_000);
    assert_eq!(t.balance(&Account::Receivable(seller.clone())).await, 0);
    let id = opened.body["id"].as_str().unwrap();
    let arb = t.staff(Role::Arbitrator).await;
    let r = t
        .post(
            &format!("/api/v1/complaints/{id}/ruling"),
            Some(&arb),
            json!({"kind": "refund_full", "reason": "卡密被卖家收回"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    t.settle_refunds().await;
    // The buyer has the 100.00 back; the platform fronted nothing and lost nothing.
    assert_eq!(t.balance(&Account::Provider("sandbox".into())).await, 0);
    assert_eq!(t.balance(&Account::Receivable(seller.clone())).await, 0);
    assert_eq!(t.balance(&Account::Losses).await, 0);
    assert_eq!(t.balance(&Account::PlatformFees).await, 0);
    // The window's end finds nothing left to release.
    t.advance(5 * DAY_MS);
    t.run_due_jobs().await;
    let b = balance(&t, &seller_token).await;
    assert_eq!(
        (b["available_minor"].as_i64(), b["reserved_minor"].as_i64()),
        (Some(0), Some(0))
    );
    // Past fraud's window, a complaint on a completed order is refused.
    let (_, _, buyer2, order2) = completed_order(&t, "toolate").await;
    t.advance(14 * DAY_MS + 1);
    let late = t
        .post(
            &format!("/api/v1/orders/{order2}/complaints"),
            Some(&buyer2),
            json!({"kind": "fraud", "description": "x"}),
        )
        .await;
    assert_eq!(
        late.problem_type(),
        "https://danbao.dev/problems/complaint-window-closed"
    );
    t.finish().await;
}

async fn a_withdrawn_complaint_puts_the_reserve_back_and_it_is_released_later(t: TestApp) {
    let (seller_token, _, buyer_token, order) = completed_order(&t, "backtoreserve").await;
    t.advance(13 * DAY_MS);
    let opened = t
        .post(
            &format!("/api/v1/orders/{order}/complaints"),
            Some(&buyer_token),
            json!({"kind": "fraud", "description": "卡密无效"}),
        )
        .await;
    assert_eq!(opened.status, 201, "{}", opened.text);
    let id = opened.body["id"].as_str().unwrap();
    // The window ends while the complaint holds the money (the seller still has a day
    // to answer): nothing is released.
    t.advance(DAY_MS);
    t.run_due_jobs().await;
    let b = balance(&t, &seller_token).await;
    assert_eq!(
        (
            b["available_minor"].as_i64(),
            b["reserved_minor"].as_i64(),
            b["frozen_minor"].as_i64()
        ),
        (Some(0), Some(0), Some(10_000))
    );
    // The buyer withdraws: the money goes back to the reserve, and since the window has
    // passed it is released at once by the next run of jobs.
    let w = t
        .post(
            &format!("/api/v1/complaints/{id}/withdraw"),
            Some(&buyer_token),
            json!({}),
        )
        .await;
    assert_eq!(w.status, 200, "{}", w.text);
    let b = balance(&t, &seller_token).await;
    assert_eq!(
        (b["available_minor"].as_i64(), b["reserved_minor"].as_i64()),
        (Some(0), Some(9_500))
    );
    t.run_due_jobs().await;
    let b = balance(&t, &seller_token).await;
    assert_eq!(
        (
            b["available_minor"].as_i64(),
            b["reserved_minor"].as_i64(),
            b["frozen_minor"].as_i64()
        ),
        (Some(9_500), Some(0), Some(0))
    );
    t.finish().await;
}

async fn a_seller_cannot_buy_from_their_own_shop(t: TestApp) {
    let r = t
        .post(
            "/api/v1/accounts",
            None,
            json!({"username": "selfie_s", "password": "correct-horse", "role": "seller", "contact": "QQ: 5550001"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let login = t
        .post(
            "/api/v1/sessions",
            None,
            json!({"username": "selfie_s", "password": "correct-horse"}),
        )
        .await;
    let seller_token = login.body["token"].as_str().unwrap().to_string();
    let product = t.card_product(&seller_token, 5_000, 3).await;
    // As a guest with the seller's own contact, written another way: refused, nothing reserved.
    let refused = t
        .post(
            "/api/v1/orders",
            None,
            json!({"product_id": product, "quantity": 1, "contact": "qq:5550001", "query_password": "guest-pass-1"}),
        )
        .await;
    assert_eq!(refused.status, 409, "{}", refused.text);
    assert_eq!(refused.problem_type(), SELF_PURCHASE);
    assert_eq!(
        t.get(&format!("/api/v1/products/{product}"), None).await.body["stock"],
        3
    );
    // Through a second account registered with the same contact: refused too.
    let r = t
        .post(
            "/api/v1/accounts",
            None,
            json!({"username": "selfie_b", "password": "correct-horse", "role": "buyer", "contact": "qq:5550001"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let login = t
        .post(
            "/api/v1/sessions",
            None,
            json!({"username": "selfie_b", "password": "correct-horse"}),
        )
        .await;
    let alias = login.body["token"].as_str().unwrap().to_string();
    let refused = t
        .post(
            "/api/v1/orders",
            Some(&alias),
            json!({"product_id": product, "quantity": 1}),
        )
        .await;
    assert_eq!(refused.problem_type(), SELF_PURCHASE, "{}", refused.text);
    // Anyone else buys as usual.
    let ok = t
        .post(
            "/api/v1/orders",
            None,
            json!({"product_id": product, "quantity": 1, "contact": "qq:5550002", "query_password": "guest-pass-1"}),
        )
        .await;
    assert_eq!(ok.status, 201, "{}", ok.text);
    // A contact that is no contact is refused at registration.
    let bad = t
        .post(
            "/api/v1/accounts",
            None,
            json!({"username": "selfie_x", "password": "correct-horse", "role": "seller", "contact": "q"}),
        )
        .await;
    assert_eq!(bad.status, 422, "{}", bad.text);
    t.finish().await;
}

async fn a_payment_from_the_sellers_own_account_is_refunded_not_captured(t: TestApp) {
    let r = t
        .post(
            "/api/v1/accounts",
            None,
            json!({"username": "wallet_s", "password": "correct-horse", "role": "seller", "payout_account": "wallet-s-own"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let seller = TestApp::seller_account(r.body["id"].as_str().unwrap());
    let login = t
        .post(
            "/api/v1/sessions",
            None,
            json!({"username": "wallet_s", "password": "correct-horse"}),
        )
        .await;
    let seller_token = login.body["token"].as_str().unwrap().to_string();
    let product = t.card_product(&seller_token, 5_000, 2).await;
    // A guest with a contact of their own, paying from the seller's payout account.
    let placed = t
        .post(
            "/api/v1/orders",
            None,
            json!({"product_id": product, "quantity": 1, "contact": "qq:5559999", "query_password": "guest-pass-1"}),
        )
        .await;
    assert_eq!(placed.status, 201, "{}", placed.text);
    let id = placed.body["id"].as_str().unwrap().to_string();
    let token = placed.body["access_token"].as_str().unwrap().to_string();
    let payment = placed.body["payment"]["payment_id"].as_str().unwrap().to_string();
    t.pay_as(&payment, "wallet-s-own").await;
    t.sandbox().deliveries_settled(&payment).await;
    let o = t
        .wait_until(
            &format!("/api/v1/orders/{id}?access_token={token}"),
            None,
            "a refund of the seller's own payment",
            |b| b["refunds"].as_array().is_some_and(|r| !r.is_empty()),
        )
        .await;
    assert_eq!(o.body["status"], "pending_payment", "{}", o.text);
    assert_eq!(o.body["refunds"][0]["reason"], "self_purchase");
    assert_eq!(o.body["refunds"][0]["amount_minor"], 5_000);
    t.settle_refunds().await;
    assert_eq!(t.balance(&Account::Escrow(seller.clone())).await, 0);
    assert_eq!(t.balance(&Account::Provider("sandbox".into())).await, 0);
    // Another payer's payment for the same shop is captured as usual, and the seller's
    // withdrawal is paid to their registered payout account.
    let (other, _) = guest_paid(&t, &product, "qq:5558888", "wallet-honest").await;
    assert!(!other.is_empty());
    assert_eq!(t.balance(&Account::Escrow(seller.clone())).await, 5_000);
    t.advance(24 * HOUR_MS);
    t.run_due_jobs().await;
    t.advance(14 * DAY_MS);
    t.run_due_jobs().await;
    let w = t
        .post(
            "/api/v1/seller/withdrawals",
            Some(&seller_token),
            json!({"amount_minor": 4_750}),
        )
        .await;
    assert_eq!(w.status, 201, "{}", w.text);
    t.run_due_jobs().await;
    assert_eq!(t.balance(&Account::PayoutsPending("sandbox".into())).await, 0);
    assert_eq!(t.balance(&Account::Available(seller)).await, 0);
    // Only a seller has a payout account, and it is an account id, not prose.
    for (role, account) in [("buyer", "wallet-b"), ("seller", "my wallet!")] {
        let bad = t
            .post(
                "/api/v1/accounts",
                None,
                json!({"username": format!("bad_{role}"), "password": "correct-horse", "role": role, "payout_account": account}),
            )
            .await;
        assert_eq!(bad.status, 422, "{}", bad.text);
    }
    t.finish().await;
}
