//! Complaints and arbitration (issue 5): the money frozen on opening, every stage and
//! deadline default, every ruling with exact ledger amounts, the fraud response.

use crate::shop::{open, shop, Shop};
use danbao_app::Role;
use danbao_domain::Account;
use danbao_testkit::{Browser, Resp, TestApp, HOUR_MS};
use serde_json::{json, Value};

on_both_databases!(
    a_split_ruling_moves_exact_amounts,
    a_silent_seller_loses_and_a_silent_buyer_loses,
    withdrawal_returns_the_money_and_resumes_the_clock,
    after_sales_complaint_freezes_available_then_receivable,
    triage_decides_a_clear_not_delivered_case,
    two_arbitrators_ruling_at_once_one_wins,
    collective_complaints_freeze_the_seller_and_a_ban_refunds_everyone,
    bad_complaints_are_refused,
    a_guest_complains_through_the_pages,
    a_ban_with_a_deposit_too_small_books_the_rest_as_loss,
    a_seller_answers_through_the_pages,
    a_frozen_seller_who_owes_is_ruled_on_like_any_other,
    rulings_and_confirms_racing_freezes_never_fail,
    one_sellers_money_racing_freezes_never_fails,
);

/// A delivered card-key order of 100.00 for the shop's buyer, its keys viewed; returns its id.
async fn delivered(t: &TestApp, s: &Shop) -> String {
    let product = t.card_product(&s.seller_token, 10_000, 1).await;
    let id = t.order_delivered(&s.buyer_token, &product).await;
    t.get(&format!("/api/v1/orders/{id}/delivery"), Some(&s.buyer_token))
        .await;
    id
}

fn id_of(r: &Resp) -> String {
    assert!(r.status == 201 || r.status == 200, "{}", r.text);
    r.body["id"].as_str().unwrap().to_string()
}

async fn complaint(t: &TestApp, token: &str, id: &str) -> Value {
    let r = t.get(&format!("/api/v1/complaints/{id}"), Some(token)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body
}

async fn order_status(t: &TestApp, token: &str, order: &str) -> String {
    t.get(&format!("/api/v1/orders/{order}"), Some(token)).await.body["status"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn a_split_ruling_moves_exact_amounts(t: TestApp) {
    let s = shop(&t, "split").await;
    let order = delivered(&t, &s).await;
    let opened = open(&t, &s.buyer_token, &order, "not_as_described").await;
    assert_eq!(opened.status, 201, "{}", opened.text);
    let id = id_of(&opened);
    assert_eq!(opened.body["stage"], "awaiting_seller");
    assert!(opened.body["deadline_at"].is_string());
    assert_eq!(opened.body["proposal"]["completeness_pct"], 50, "{}", opened.text);
    // The money is frozen in the same transaction, and the order is disputed.
    assert_eq!(t.balance(&Account::Escrow(s.seller.clone())).await, 0);
    assert_eq!(t.balance(&Account::Frozen(s.seller.clone())).await, 10_000);
    assert_eq!(order_status(&t, &s.buyer_token, &order).await, "disputed");
    // Auto-confirm is paused: a day later the order is still disputed.
    t.advance(25 * HOUR_MS);
    t.run_due_jobs().await;
    assert_eq!(order_status(&t, &s.buyer_token, &order).await, "disputed");

    // A screenshot, checked against the hash the buyer sent, with a receipt.
    let png: &[u8] = &[
        0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13, b'I', b'H', b'D', b'R', 0, 0, 0, 1,
    ];
    let sha = danbao_evidence::sha256_hex(png);
    let up = t
        .raw(
            t.http
                .post(format!(
                    "{}/api/v1/complaints/{id}/evidence?kind=screenshot&sha256={sha}",
                    t.url
                ))
                .bearer_auth(&s.buyer_token)
                .header("content-type", "image/png")
                .body(png.to_vec()),
        )
        .await;
    assert_eq!(up.status, 201, "{}", up.text);
    assert_eq!(up.body["evidence"]["media_type"], "image/png");
    let vkey = t.get("/api/v1/evidence/key", None).await.text;
    let v = danbao_evidence::LogVerifier::from_vkey(vkey.trim()).unwrap();
    let receipt = danbao_evidence::verify_receipt(up.body["receipt"].as_str().unwrap(), &v).unwrap();
    let opening = danbao_evidence::LeafOpening::parse(up.body["evidence"]["opening"].as_str().unwrap()).unwrap();
    assert_eq!(
        receipt.leaf.event(Some(&opening)).unwrap().content_sha256(),
        danbao_evidence::sha256_hex(sha.as_bytes())
    );
    let file = t
        .raw(
            t.http
                .get(format!("{}/api/v1/complaints/{id}/files/{sha}", t.url))
                .bearer_auth(&s.seller_token),
        )
        .await;
    assert_eq!(file.status, 200);
    assert_eq!(
        complaint(&t, &s.buyer_token, &id).await["proposal"]["completeness_pct"],
        100
    );

    let answered = t
        .post(
            &format!("/api/v1/complaints/{id}/response"),
            Some(&s.seller_token),
            json!({"text": "卡密发货时有效"}),
        )
        .await;
    assert_eq!(answered.status, 200, "{}", answered.text);
    assert_eq!(answered.body["stage"], "under_review");

    let arb = t.staff(Role::Arbitrator).await;
    let queue = t.get("/api/v1/arbitration/queue", Some(&arb)).await;
    assert_eq!(queue.body["items"][0]["id"], id.as_str());
    let ruled = t
        .post(
            &format!("/api/v1/complaints/{id}/ruling"),
            Some(&arb),
            json!({"kind": "split", "buyer_bps": 3000, "reason": "卡密部分可用"}),
        )
        .await;
    assert_eq!(ruled.status, 200, "{}", ruled.text);
    assert_eq!(ruled.body["stage"], "resolved");
    assert_eq!(ruled.body["ruling"], json!({"kind": "split", "buyer_bps": 3000}));
    assert!(ruled.body["ruled_by"].as_str().unwrap().starts_with("user:"));
    assert_eq!(ruled.body["rule_version"], 1);
    // 30 % of 100.00 to the buyer; the seller's 70.00 less 5 % fee.
    assert_eq!(t.balance(&Account::Frozen(s.seller.clone())).await, 0);
    assert_eq!(t.balance(&Account::Available(s.seller.clone())).await, 6_650);
    assert_eq!(t.balance(&Account::PlatformFees).await, 350);
    assert_eq!(t.balance(&Account::RefundsPending("sandbox".into())).await, 3_000);
    t.settle_refunds().await;
    assert_eq!(t.balance(&Account::RefundsPending("sandbox".into())).await, 0);
    assert_eq!(order_status(&t, &s.buyer_token, &order).await, "partially_refunded");
    let again = t
        .post(
            &format!("/api/v1/complaints/{id}/ruling"),
            Some(&arb),
            json!({"kind": "refund_full", "reason": "again"}),
        )
        .await;
    assert_eq!(again.status, 409, "{}", again.text);
    // The whole case is on the log: every event and evidence item has a leaf.
    let c = complaint(&t, &s.buyer_token, &id).await;
    assert!(c["events"].as_array().unwrap().len() >= 5, "{c}");
    assert_eq!(c["evidence"].as_array().unwrap().len(), 3);
    t.finish().await;
}

async fn a_silent_seller_loses_and_a_silent_buyer_loses(t: TestApp) {
    let s = shop(&t, "silent").await;
    let first = delivered(&t, &s).await;
    let id = id_of(&open(&t, &s.buyer_token, &first, "not_as_described").await);
    t.advance(48 * HOUR_MS - 1);
    t.run_due_jobs().await;
    assert_eq!(complaint(&t, &s.buyer_token, &id).await["stage"], "awaiting_seller");
    t.advance(1);
    t.run_due_jobs().await;
    let c = complaint(&t, &s.buyer_token, &id).await;
    assert_eq!(c["stage"], "resolved");
    assert_eq!(c["ruling"]["kind"], "refund_full");
    assert_eq!(c["ruled_by"], "system:deadline");
    assert_eq!(order_status(&t, &s.buyer_token, &first).await, "refunded");

    let second = delivered(&t, &s).await;
    let id = id_of(&open(&t, &s.buyer_token, &second, "other").await);
    t.post(
        &format!("/api/v1/complaints/{id}/response"),
        Some(&s.seller_token),
        json!({"text": "已发货"}),
    )
    .await;
    let arb = t.staff(Role::Arbitrator).await;
    let asked = t
        .post(
            &format!("/api/v1/complaints/{id}/steps"),
            Some(&arb),
            json!({"step": "ask_buyer", "note": "请提供截图"}),
        )
        .await;
    assert_eq!(asked.body["stage"], "awaiting_buyer", "{}", asked.text);
    t.advance(72 * HOUR_MS);
    t.run_due_jobs().await;
    let c = complaint(&t, &s.buyer_token, &id).await;
    assert_eq!(c["ruling"]["kind"], "release_to_seller", "{c}");
    assert_eq!(order_status(&t, &s.buyer_token, &second).await, "completed");
    assert_eq!(t.balance(&Account::Available(s.seller.clone())).await, 9_500);
    t.settle_refunds().await;
    t.finish().await;
}

async fn withdrawal_returns_the_money_and_resumes_the_clock(t: TestApp) {
    let s = shop(&t, "withdraw").await;
    let order = delivered(&t, &s).await;
    t.advance(10 * HOUR_MS);
    let id = id_of(&open(&t, &s.buyer_token, &order, "not_as_described").await);
    let arb = t.staff(Role::Arbitrator).await;
    t.post(
        &format!("/api/v1/complaints/{id}/response"),
        Some(&s.seller_token),
        json!({"text": "ok"}),
    )
    .await;
    let appraisal = t
        .post(
            &format!("/api/v1/complaints/{id}/steps"),
            Some(&arb),
            json!({"step": "start_appraisal", "note": "第三方鉴定"}),
        )
        .await;
    assert_eq!(appraisal.body["stage"], "appraisal", "{}", appraisal.text);
    t.advance(7 * 24 * HOUR_MS);
    t.run_due_jobs().await;
    assert_eq!(complaint(&t, &s.buyer_token, &id).await["stage"], "under_review");
    let w = t
        .post(
            &format!("/api/v1/complaints/{id}/withdraw"),
            Some(&s.buyer_token),
            json!({}),
        )
        .await;
    assert_eq!(w.status, 200, "{}", w.text);
    assert_eq!(w.body["stage"], "withdrawn");
    assert_eq!(t.balance(&Account::Escrow(s.seller.clone())).await, 10_000);
    assert_eq!(t.balance(&Account::Frozen(s.seller.clone())).await, 0);
    assert_eq!(order_status(&t, &s.buyer_token, &order).await, "delivered");
    // 14 h of the acceptance window were left when the complaint paused it.
    t.advance(14 * HOUR_MS - 1);
    t.run_due_jobs().await;
    assert_eq!(order_status(&t, &s.buyer_token, &order).await, "delivered");
    t.advance(1);
    t.run_due_jobs().await;
    assert_eq!(order_status(&t, &s.buyer_token, &order).await, "completed");
    let late = t
        .post(
            &format!("/api/v1/complaints/{id}/withdraw"),
            Some(&s.buyer_token),
            json!({}),
        )
        .await;
    assert_eq!(late.status, 409);
    t.finish().await;
}

async fn after_sales_complaint_freezes_available_then_receivable(t: TestApp) {
    let s = shop(&t, "aftersales").await;
    let a = delivered(&t, &s).await;
    let b = delivered(&t, &s).await;
    for o in [&a, &b] {
        t.post(&format!("/api/v1/orders/{o}/confirm"), Some(&s.buyer_token), json!({}))
            .await;
    }
    // Released money waits in the seller's reserve through the after-sales window.
    assert_eq!(t.balance(&Account::Reserve(s.seller.clone())).await, 19_000);
    assert_eq!(t.balance(&Account::Available(s.seller.clone())).await, 0);
    // The first after-sales complaint takes the seller's 95.00 from that order's reserve
    // and the 5.00 fee back.
    let ca = id_of(&open(&t, &s.buyer_token, &a, "not_as_described").await);
    assert_eq!(t.balance(&Account::Reserve(s.seller.clone())).await, 9_500);
    assert_eq!(t.balance(&Account::PlatformFees).await, 500);
    assert_eq!(t.balance(&Account::Frozen(s.seller.clone())).await, 10_000);
    let arb = t.staff(Role::Arbitrator).await;
    t.post(
        &format!("/api/v1/complaints/{ca}/ruling"),
        Some(&arb),
        json!({"kind": "refund_full", "reason": "无效卡密"}),
    )
    .await;
    // The second order's reserve still holds its 95.00; a second complaint takes it.
    let cb = id_of(&open(&t, &s.buyer_token, &b, "not_as_described").await);
    assert_eq!(t.balance(&Account::Reserve(s.seller.clone())).await, 0);
    let c = complaint(&t, &s.buyer_token, &cb).await;
    assert_eq!(c["frozen"]["reserve"], 9_500, "{c}");
    assert_eq!(c["frozen"]["available"], 0, "{c}");
    assert_eq!(c["frozen"]["receivable"], 0);
    // Before it is decided, the first complaint's buyer is refunded 100.00 in full.
    t.settle_refunds().await;
    assert_eq!(t.balance(&Account::Provider("sandbox".into())).await, 10_000);
    // A ruling for the seller gives the 95.00 back and the fee to the platform.
    let r = t
        .post(
            &format!("/api/v1/complaints/{cb}/ruling"),
            Some(&arb),
            json!({"kind": "release_to_seller", "reason": "卡密有效"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(t.balance(&Account::Available(s.seller.clone())).await, 9_500);
    assert_eq!(t.balance(&Account::PlatformFees).await, 500);
    assert_eq!(order_status(&t, &s.buyer_token, &b).await, "completed");
    t.finish().await;
}

async fn triage_decides_a_clear_not_delivered_case(t: TestApp) {
    let s = shop(&t, "triage").await;
    let r = t
        .post(
            "/api/v1/seller/products",
            Some(&s.seller_token),
            json!({"title": "代充", "category": "top_up", "price_minor": 5_000, "delivery_kind": "manual"}),
        )
        .await;
    let product = r.body["id"].as_str().unwrap().to_string();
    let placed = t
        .post(
            "/api/v1/orders",
            Some(&s.buyer_token),
            json!({"product_id": product, "quantity": 1}),
        )
        .await;
    let order = placed.body["id"].as_str().unwrap().to_string();
    t.pay(placed.body["payment"]["payment_id"].as_str().unwrap()).await;
    t.wait_for_status(&format!("/api/v1/orders/{order}"), Some(&s.buyer_token), "paid")
        .await;
    // Too early: not_delivered opens 2 h after payment.
    let early = open(&t, &s.buyer_token, &order, "not_delivered").await;
    assert_eq!(early.status, 409, "{}", early.text);
    assert_eq!(
        early.body["type"], "https://danbao.dev/problems/complaint-too-early",
        "{}",
        early.text
    );
    // When it opens is a timestamp field, two hours after payment.
    let opens_at = early.body["opens_at"].as_str().unwrap_or_default();
    assert!(opens_at.ends_with('Z') && opens_at.len() >= 20, "{}", early.text);
    t.advance(3 * HOUR_MS);
    let opened = open(&t, &s.buyer_token, &order, "not_delivered").await;
    let id = id_of(&opened);
    assert_eq!(opened.body["proposal"]["ruling"]["kind"], "refund_full");
    assert_eq!(opened.body["proposal"]["decide_now"], false);
    // Past the delivery deadline with still no delivery: the next look decides at once.
    t.advance(22 * HOUR_MS);
    t.run_due_jobs().await;
    let more = t
        .post(
            &format!("/api/v1/complaints/{id}/evidence"),
            Some(&s.buyer_token),
            json!({"kind": "description", "text": "还是没到账"}),
        )
        .await;
    assert_eq!(more.status, 201, "{}", more.text);
    let c = complaint(&t, &s.buyer_token, &id).await;
    assert_eq!(c["stage"], "resolved", "{c}");
    assert_eq!(c["ruled_by"], "system:triage");
    assert_eq!(c["ruling_reason"]["code"], "triage", "{c}");
    assert!(
        c["ruling_reason"]["reasons"]
            .as_array()
            .is_some_and(|r| r.iter().any(|x| x["code"] == "no_delivery_past_deadline")),
        "{c}"
    );
    assert_eq!(order_status(&t, &s.buyer_token, &order).await, "refunded");
    t.settle_refunds().await;
    t.finish().await;
}

async fn two_arbitrators_ruling_at_once_one_wins(t: TestApp) {
    let s = shop(&t, "race").await;
    let order = delivered(&t, &s).await;
    let id = id_of(&open(&t, &s.buyer_token, &order, "fraud").await);
    let (a1, a2) = (t.staff(Role::Arbitrator).await, t.staff(Role::Arbitrator).await);
    let path = format!("/api/v1/complaints/{id}/ruling");
    let (r1, r2) = tokio::join!(
        t.post(&path, Some(&a1), json!({"kind": "refund_full", "reason": "A"})),
        t.post(&path, Some(&a2), json!({"kind": "release_to_seller", "reason": "B"}))
    );
    let mut statuses = [r1.status, r2.status];
    statuses.sort();
    assert_eq!(statuses, [200, 409], "{} / {}", r1.text, r2.text);
    let loser = if r1.status == 409 { &r1 } else { &r2 };
    assert_eq!(
        loser.body["type"], "https://danbao.dev/problems/complaint-closed",
        "{}",
        loser.text
    );
    assert_eq!(loser.body["stage"], "resolved", "{}", loser.text);
    t.settle_refunds().await;
    t.finish().await;
}

async fn collective_complaints_freeze_the_seller_and_a_ban_refunds_everyone(t: TestApp) {
    let (seller_token, seller_id) = t.user("crowd_s", "seller").await;
    let seller = TestApp::seller_account(&seller_id);
    let product = t.card_product(&seller_token, 2_000, 8).await;
    let mut orders = Vec::new();
    for i in 0..6 {
        let (buyer, _) = t.user(&format!("crowd_b{i}"), "buyer").await;
        let placed = t
            .post(
                "/api/v1/orders",
                Some(&buyer),
                json!({"product_id": product, "quantity": 1}),
            )
            .await;
        let id = placed.body["id"].as_str().unwrap().to_string();
        // Six buyers paying from six wallets: six real payers.
        t.pay_as(
            placed.body["payment"]["payment_id"].as_str().unwrap(),
            &format!("crowd-wallet-{i}"),
        )
        .await;
        t.wait_for_status(&format!("/api/v1/orders/{id}"), Some(&buyer), "delivered")
            .await;
        orders.push((buyer, id));
    }
    let mut complaints = Vec::new();
    for (buyer, id) in &orders[..4] {
        complaints.push(id_of(&open(&t, buyer, id, "fraud").await));
    }
    assert_eq!(t.get(&format!("/api/v1/products/{product}"), None).await.status, 200);
    // The fifth distinct buyer within 24 h trips the rule.
    complaints.push(id_of(&open(&t, &orders[4].0, &orders[4].1, "fraud").await));
    let arb = t.staff(Role::Arbitrator).await;
    let queue = t.get("/api/v1/arbitration/queue", Some(&arb)).await;
    let groups: std::collections::BTreeSet<&str> = queue.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["group_id"].as_str().unwrap_or("none"))
        .collect();
    assert_eq!(groups.len(), 1, "one group for one arbitrator: {groups:?}");
    assert!(groups.iter().next().unwrap().starts_with("collective:"));
    // One arbitrator takes one case, and with it the whole group; another cannot rule.
    let taken = t
        .post(
            &format!("/api/v1/complaints/{}/assign", complaints[0]),
            Some(&arb),
            json!({}),
        )
        .await;
    assert_eq!(taken.status, 200, "{}", taken.text);
    let other = t.staff(Role::Arbitrator).await;
    for c in &complaints {
        assert_eq!(complaint(&t, &arb, c).await["assigned_to"], taken.body["assigned_to"]);
    }
    let refused = t
        .post(
            &format!("/api/v1/complaints/{}/ruling", complaints[3]),
            Some(&other),
            json!({"kind": "release_to_seller", "reason": "x"}),
        )
        .await;
    assert_eq!(refused.status, 409, "{}", refused.text);
    assert_eq!(
        t.post(
            &format!("/api/v1/complaints/{}/assign", complaints[2]),
            Some(&other),
            json!({})
        )
        .await
        .status,
        409
    );
    // Frozen: listings hidden, new orders refused.
    assert_eq!(t.get(&format!("/api/v1/products/{product}"), None).await.status, 404);
    let refused = t.guest_order(&product, 1).await;
    assert_eq!(refused.status, 404, "{}", refused.text);
    // Confirmed fraud: a ban refunds every open order, disputed or not. It is an
    // admin's decision: an arbitrator is refused and nothing changes.
    let by_arbitrator = t
        .post(
            &format!("/api/v1/admin/sellers/{seller_id}/ban"),
            Some(&arb),
            json!({"reason": "批量售卖已使用卡密"}),
        )
        .await;
    assert_eq!(by_arbitrator.status, 403, "{}", by_arbitrator.text);
    for (buyer, id) in &orders {
        assert_ne!(order_status(&t, buyer, id).await, "refunded");
    }
    let admin = t.admin().await;
    let banned = t
        .post(
            &format!("/api/v1/admin/sellers/{seller_id}/ban"),
            Some(&admin),
            json!({"reason": "批量售卖已使用卡密"}),
        )
        .await;
    assert_eq!(banned.status, 200, "{}", banned.text);
    assert_eq!(banned.body["status"], "banned");
    assert_eq!(banned.body["orders_refunded"], 1, "the one undisputed open order");
    for (buyer, id) in &orders {
        assert_eq!(order_status(&t, buyer, id).await, "refunded");
    }
    t.settle_refunds().await;
    assert_eq!(t.balance(&Account::Escrow(seller.clone())).await, 0);
    assert_eq!(t.balance(&Account::Frozen(seller.clone())).await, 0);
    assert_eq!(t.balance(&Account::Provider("sandbox".into())).await, 0);
    let unban = t
        .post(
            &format!("/api/v1/admin/sellers/{seller_id}/unfreeze"),
            Some(&arb),
            json!({"reason": "x"}),
        )
        .await;
    assert_eq!(unban.status, 409, "a ban is one-way");
    t.finish().await;
}

async fn bad_complaints_are_refused(t: TestApp) {
    let s = shop(&t, "badc").await;
    let order = delivered(&t, &s).await;
    let (stranger, _) = t.user("badc_x", "buyer").await;
    assert_eq!(open(&t, &stranger, &order, "fraud").await.status, 404);
    assert_eq!(open(&t, &s.seller_token, &order, "fraud").await.status, 404);
    assert_eq!(open(&t, &s.buyer_token, &order, "bogus").await.status, 422);
    // An unpaid order.
    let product = t.card_product(&s.seller_token, 500, 1).await;
    let unpaid = t
        .post(
            "/api/v1/orders",
            Some(&s.buyer_token),
            json!({"product_id": product, "quantity": 1}),
        )
        .await;
    let unpaid = unpaid.body["id"].as_str().unwrap();
    assert_eq!(open(&t, &s.buyer_token, unpaid, "fraud").await.status, 409);
    let id = id_of(&open(&t, &s.buyer_token, &order, "not_as_described").await);
    // A second open complaint on the same order.
    let second = open(&t, &s.buyer_token, &order, "fraud").await;
    assert_eq!(second.status, 409, "{}", second.text);
    // A ruling by a non-arbitrator; basis points out of range.
    let path = format!("/api/v1/complaints/{id}/ruling");
    assert_eq!(
        t.post(
            &path,
            Some(&s.buyer_token),
            json!({"kind": "refund_full", "reason": "x"})
        )
        .await
        .status,
        403
    );
    let arb = t.staff(Role::Arbitrator).await;
    for bps in [10_001, -1] {
        let r = t
            .post(
                &path,
                Some(&arb),
                json!({"kind": "split", "buyer_bps": bps, "reason": "x"}),
            )
            .await;
        assert_eq!(r.status, 422, "{}", r.text);
    }
    // Evidence with a hash that does not match, an executable, and one over the limit.
    let url = format!("{}/api/v1/complaints/{id}/evidence", t.url);
    let wrong = t
        .raw(
            t.http
                .post(format!("{url}?kind=screenshot&sha256=00"))
                .bearer_auth(&s.buyer_token)
                .body("hello"),
        )
        .await;
    assert_eq!(wrong.status, 422, "{}", wrong.text);
    let elf = t
        .raw(
            t.http
                .post(format!("{url}?kind=file"))
                .bearer_auth(&s.buyer_token)
                .body(vec![0x7f, b'E', b'L', b'F', 2, 1, 1, 0]),
        )
        .await;
    assert_eq!(elf.status, 422, "{}", elf.text);
    let huge = t
        .raw(
            t.http
                .post(format!("{url}?kind=file"))
                .bearer_auth(&s.buyer_token)
                .body(vec![b'a'; danbao_app::files::FILE_BYTES_MAX + 1]),
        )
        .await;
    assert_eq!(huge.status, 422, "{}", huge.text);
    assert!(huge.text.contains("at most"), "{}", huge.text);
    assert_eq!(
        t.get(&format!("/api/v1/complaints/{id}"), Some(&stranger)).await.status,
        404
    );
    // A file for a complaint the caller may not add to is refused before anything is
    // written: a random id, or someone else's case.
    let files_dir = t.app().config.files_dir.clone().unwrap();
    let count_files = || walk(&files_dir);
    let png = |i: u8| -> Vec<u8> {
        vec![
            0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13, b'I', b'H', b'D', b'R', 0, 0, 0, i,
        ]
    };
    let before = count_files();
    for (target, token) in [
        (uuid::Uuid::now_v7().to_string(), s.buyer_token.clone()),
        (id.clone(), stranger.clone()),
    ] {
        let r = t
            .raw(
                t.http
                    .post(format!("{}/api/v1/complaints/{target}/evidence?kind=screenshot", t.url))
                    .bearer_auth(&token)
                    .body(png(200)),
            )
            .await;
        assert_eq!(r.status, 404, "{}", r.text);
    }
    assert_eq!(count_files(), before, "nothing was stored");
    // A party adds at most 20 files to one case.
    for i in 0..20 {
        let r = t
            .raw(
                t.http
                    .post(format!("{url}?kind=screenshot"))
                    .bearer_auth(&s.buyer_token)
                    .body(png(i)),
            )
            .await;
        assert_eq!(r.status, 201, "{i}: {}", r.text);
    }
    let stored = count_files();
    let over = t
        .raw(
            t.http
                .post(format!("{url}?kind=screenshot"))
                .bearer_auth(&s.buyer_token)
                .body(png(99)),
        )
        .await;
    assert_eq!(over.status, 409, "{}", over.text);
    assert_eq!(over.body["type"], "https://danbao.dev/problems/evidence-quota");
    assert_eq!(over.body["max_files"], 20);
    assert_eq!(count_files(), stored, "the refused file was not stored");
    // Nothing above moved money: the order's 100.00 is frozen, once.
    assert_eq!(t.balance(&Account::Frozen(s.seller.clone())).await, 10_000);
    t.finish().await;
}

/// How many files lie under `dir`, at any depth.
fn walk(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |entries| {
        entries
            .flatten()
            .map(|e| {
                let p = e.path();
                if p.is_dir() {
                    walk(&p)
                } else {
                    1
                }
            })
            .sum()
    })
}

async fn a_guest_complains_through_the_pages(t: TestApp) {
    let (seller, _) = t.user("pages_s", "seller").await;
    let product = t.card_product(&seller, 5_800, 1).await;
    let (order, token) = t.guest_order_delivered(&product).await;
    let browser = Browser::new(&t);
    // The secret link puts the token into the browser's cookie and goes on to the clean
    // address.
    let link = browser.get(&format!("/orders/{order}?access_token={token}")).await;
    assert_eq!(link.status, 303, "{}", link.text);
    assert_eq!(link.headers.get("location").unwrap(), &format!("/orders/{order}"));
    assert_eq!(link.headers.get("referrer-policy").unwrap(), "no-referrer");
    assert_eq!(browser.cookie(&format!("danbao_order_{order}")), Some(token.clone()));
    let page = browser.get(&format!("/orders/{order}")).await;
    assert!(page.text.contains("提交投诉"), "{}", page.text);
    assert!(!page.text.contains(&token), "{}", page.text);
    let opened = browser
        .submit(
            &format!("/orders/{order}/complaints"),
            &[("kind", "not_as_described"), ("description", "卡密提示已被使用")],
        )
        .await;
    assert_eq!(opened.status, 303, "{}", opened.text);
    let location = opened.headers.get("location").unwrap().to_str().unwrap().to_string();
    assert!(
        location.starts_with("/complaints/") && !location.contains('?'),
        "{location}"
    );
    let page = browser.get(&location).await;
    assert_eq!(page.status, 200);
    assert!(
        page.text.contains("等待卖家回应") && page.text.contains("58.00"),
        "{}",
        page.text
    );
    let id = location.trim_start_matches("/complaints/").to_string();
    let added = browser
        .submit(
            &format!("/complaints/{id}/evidence"),
            &[("kind", "description"), ("text", "兑换时提示已使用")],
        )
        .await;
    assert_eq!(added.status, 303, "{}", added.text);
    // A screenshot uploaded from the page (multipart) completes the evidence.
    let png: &[u8] = &[
        0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13, b'I', b'H', b'D', b'R', 0, 0, 0, 1,
    ];
    let page = browser.get(&location).await;
    let form_token = browser.form_token().unwrap();
    let files = format!("/complaints/{id}/files");
    // Without the form's token, or with another, no file is taken.
    let forged = browser.post_multipart(&files, &[], png).await;
    assert_eq!(forged.status, 403, "{}", forged.text);
    let forged = browser
        .post_multipart(&files, &[("csrf_token", &"0".repeat(64))], png)
        .await;
    assert_eq!(forged.status, 403, "{}", forged.text);
    assert!(!page.text.contains("image/png"));
    let uploaded = browser
        .post_multipart(&files, &[("csrf_token", &form_token)], png)
        .await;
    assert_eq!(uploaded.status, 303, "{}", uploaded.text);
    let api = t
        .get(&format!("/api/v1/complaints/{id}?access_token={token}"), None)
        .await;
    assert_eq!(api.body["proposal"]["completeness_pct"], 100, "{}", api.text);
    let page = browser.get(&location).await;
    assert!(page.text.contains("image/png"), "{}", page.text);
    let withdrawn = browser.submit(&format!("/complaints/{id}/withdraw"), &[]).await;
    assert_eq!(withdrawn.status, 303, "{}", withdrawn.text);
    let page = browser.get(&location).await;
    assert!(page.text.contains("已撤诉"), "{}", page.text);
    // Without the token nothing is shown.
    let stranger = Browser::new(&t);
    let page = stranger.get(&format!("/complaints/{id}?access_token=00")).await;
    assert_eq!(page.status, 404);
    assert_eq!(stranger.get(&location).await.status, 404);
    // The complaint's secret link, too, moves into the cookie and goes on.
    let later = Browser::new(&t);
    let link = later.get(&format!("/complaints/{id}?access_token={token}")).await;
    assert_eq!(link.status, 303, "{}", link.text);
    assert_eq!(link.headers.get("location").unwrap(), &location);
    assert_eq!(later.get(&location).await.status, 200);
    let api = t
        .get(&format!("/api/v1/complaints/{id}?access_token={token}"), None)
        .await;
    assert_eq!(api.body["evidence"].as_array().unwrap().len(), 3, "{}", api.text);
    t.finish().await;
}

async fn a_ban_with_a_deposit_too_small_books_the_rest_as_loss(t: TestApp) {
    let s = shop(&t, "shortfall").await;
    let first = delivered(&t, &s).await;
    let second = delivered(&t, &s).await;
    for o in [&first, &second] {
        t.post(&format!("/api/v1/orders/{o}/confirm"), Some(&s.buyer_token), json!({}))
            .await;
    }
    // Released money is in the reserve, not withdrawable.
    let balance = t.get("/api/v1/seller/balance", Some(&s.seller_token)).await;
    assert_eq!(balance.body["available_minor"], 0);
    assert_eq!(balance.body["reserved_minor"], 19_000);
    // A first after-sales complaint, ruled for the seller: the seller's 95.00 is paid out
    // of the hold to the available balance (a person has decided).
    let arb = t.staff(Role::Arbitrator).await;
    let c1 = id_of(&open(&t, &s.buyer_token, &first, "not_as_described").await);
    let r = t
        .post(
            &format!("/api/v1/complaints/{c1}/ruling"),
            Some(&arb),
            json!({"kind": "release_to_seller", "reason": "卡密有效"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let balance = t.get("/api/v1/seller/balance", Some(&s.seller_token)).await;
    assert_eq!(balance.body["available_minor"], 9_500);
    assert_eq!(balance.body["reserved_minor"], 9_500);
    // Withdrawals: at least ¥10, only from available, paid out through the provider.
    let small = t
        .post(
            "/api/v1/seller/withdrawals",
            Some(&s.seller_token),
            json!({"amount_minor": 999}),
        )
        .await;
    assert_eq!(small.status, 422, "{}", small.text);
    let too_much = t
        .post(
            "/api/v1/seller/withdrawals",
            Some(&s.seller_token),
            json!({"amount_minor": 9_501}),
        )
        .await;
    assert_eq!(too_much.status, 409, "{}", too_much.text);
    let w = t
        .post(
            "/api/v1/seller/withdrawals",
            Some(&s.seller_token),
            json!({"amount_minor": 5_500}),
        )
        .await;
    assert_eq!(w.status, 201, "{}", w.text);
    assert_eq!(t.balance(&Account::PayoutsPending("sandbox".into())).await, 5_500);
    t.run_due_jobs().await;
    assert_eq!(t.balance(&Account::PayoutsPending("sandbox".into())).await, 0);
    assert_eq!(t.balance(&Account::Provider("sandbox".into())).await, 14_500);
    // A small deposit, and a small compensation fund.
    let d = t
        .post(
            "/api/v1/seller/deposit",
            Some(&s.seller_token),
            json!({"amount_minor": 2_000}),
        )
        .await;
    assert_eq!(d.status, 200, "{}", d.text);
    assert_eq!(d.body["available_minor"], 2_000);
    assert_eq!(d.body["deposit_minor"], 2_000);
    let admin = t.admin().await;
    let f = t
        .post(
            "/api/v1/admin/compensation-fund",
            Some(&admin),
            json!({"amount_minor": 300}),
        )
        .await;
    assert_eq!(f.status, 200, "{}", f.text);
    // A fraud complaint on the same order: its reserve is spent, so the seller's 95.00
    // comes from available (20.00), then the deposit (20.00), and the 55.00 they no
    // longer have becomes a receivable.
    let id = id_of(&open(&t, &s.buyer_token, &first, "fraud").await);
    let c = complaint(&t, &s.buyer_token, &id).await;
    assert_eq!(
        c["frozen"],
        json!({"escrow": 0, "reserve": 0, "available": 2_000, "deposit": 2_000, "receivable": 5_500, "fee": 500})
    );
    // Confirmed fraud: the ban refunds the open case in full; what the seller owes is
    // covered by what is left of the deposit (nothing), then the fund (3.00); 52.00 is a loss.
    let seller_id = s.seller.to_string();
    let banned = t
        .post(
            &format!("/api/v1/admin/sellers/{seller_id}/ban"),
            Some(&admin),
            json!({"reason": "售卖已使用卡密"}),
        )
        .await;
    assert_eq!(banned.status, 200, "{}", banned.text);
    assert_eq!(
        banned.body["shortfall"],
        json!({"owed_minor": 5_500, "from_frozen_minor": 0, "from_deposit_minor": 0, "from_compensation_fund_minor": 300, "loss_minor": 5_200})
    );
    assert_eq!(t.balance(&Account::Receivable(s.seller.clone())).await, 0);
    assert_eq!(t.balance(&Account::CompensationFund).await, 0);
    assert_eq!(t.balance(&Account::Losses).await, 5_200);
    assert_eq!(order_status(&t, &s.buyer_token, &first).await, "refunded");
    assert_eq!(order_status(&t, &s.buyer_token, &second).await, "completed");
    t.settle_refunds().await;
    // The buyer got the full 100.00 back; a banned seller withdraws nothing.
    assert_eq!(t.balance(&Account::RefundsPending("sandbox".into())).await, 0);
    let w = t
        .post(
            "/api/v1/seller/withdrawals",
            Some(&s.seller_token),
            json!({"amount_minor": 1_000}),
        )
        .await;
    assert_eq!(w.status, 409, "{}", w.text);
    // The second order's reserve ends with its window, and a banned seller's is held.
    t.advance(14 * 24 * HOUR_MS);
    t.run_due_jobs().await;
    assert_eq!(t.balance(&Account::Reserve(s.seller.clone())).await, 0);
    assert_eq!(t.balance(&Account::Available(s.seller.clone())).await, 0);
    assert_eq!(t.balance(&Account::Frozen(s.seller.clone())).await, 9_500);
    t.finish().await;
}

/// A frozen seller whose case booked a receivable: every ruling kind executes (none
/// answers 500 or leaves the case open), the seller part repays the receivable first,
/// and only what then reached the available balance is held in frozen.
async fn a_frozen_seller_who_owes_is_ruled_on_like_any_other(t: TestApp) {
    let arb = t.staff(Role::Arbitrator).await;
    // (ruling, seller part of 100.00 at 5 %)
    let cases = [
        (json!({"kind": "refund_full", "reason": "卖家欺诈"}), 0),
        (json!({"kind": "release_to_seller", "reason": "卡密有效"}), 9_500),
        (json!({"kind": "split", "buyer_bps": 3000, "reason": "部分有效"}), 6_650),
        (
            json!({"kind": "redeliver", "refund_bps": 1000, "reason": "补发"}),
            8_550,
        ),
    ];
    for (i, (ruling, to_seller)) in cases.into_iter().enumerate() {
        let s = shop(&t, &format!("owes{i}")).await;
        let order = delivered(&t, &s).await;
        t.post(
            &format!("/api/v1/orders/{order}/confirm"),
            Some(&s.buyer_token),
            json!({}),
        )
        .await;
        // A first complaint ruled for the seller pays 95.00 to available; the seller
        // withdraws 55.00 and locks 20.00 as deposit, keeping 20.00.
        let c1 = id_of(&open(&t, &s.buyer_token, &order, "not_as_described").await);
        let r = t
            .post(
                &format!("/api/v1/complaints/{c1}/ruling"),
                Some(&arb),
                json!({"kind": "release_to_seller", "reason": "卡密有效"}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let w = t
            .post(
                "/api/v1/seller/withdrawals",
                Some(&s.seller_token),
                json!({"amount_minor": 5_500}),
            )
            .await;
        assert_eq!(w.status, 201, "{}", w.text);
        t.run_due_jobs().await;
        let d = t
            .post(
                "/api/v1/seller/deposit",
                Some(&s.seller_token),
                json!({"amount_minor": 2_000}),
            )
            .await;
        assert_eq!(d.status, 200, "{}", d.text);
        // Fraud on the same order: 20.00 available, 20.00 deposit, 55.00 receivable.
        let c2 = id_of(&open(&t, &s.buyer_token, &order, "fraud").await);
        assert_eq!(complaint(&t, &s.buyer_token, &c2).await["frozen"]["receivable"], 5_500);
        let seller_id = s.seller.to_string();
        let f = t
            .post(
                &format!("/api/v1/admin/sellers/{seller_id}/freeze"),
                Some(&arb),
                json!({"reason": "涉嫌售卖已使用卡密"}),
            )
            .await;
        assert_eq!(f.status, 200, "{}", f.text);
        let frozen_before = t.balance(&Account::Frozen(s.seller.clone())).await;
        let r = t
            .post(&format!("/api/v1/complaints/{c2}/ruling"), Some(&arb), ruling.clone())
            .await;
        assert_eq!(r.status, 200, "{ruling}: {}", r.text);
        assert_eq!(
            complaint(&t, &s.buyer_token, &c2).await["stage"],
            "resolved",
            "{ruling}"
        );
        let repaid = to_seller.min(5_500);
        assert_eq!(
            t.balance(&Account::Receivable(s.seller.clone())).await,
            5_500 - repaid,
            "{ruling}"
        );
        // Nothing reaches a frozen seller's available balance; what arrived is held.
        assert_eq!(t.balance(&Account::Available(s.seller.clone())).await, 0, "{ruling}");
        let case_frozen = 2_000 + 2_000 + 5_500 + 500;
        assert_eq!(
            t.balance(&Account::Frozen(s.seller.clone())).await,
            frozen_before - case_frozen + (to_seller - repaid),
            "{ruling}"
        );
    }
    t.settle_refunds().await;
    t.finish().await;
}

/// Logs in through the login page in `browser`; returns the response.
async fn page_login(browser: &Browser<'_>, username: &str, password: &str) -> Resp {
    browser.get("/login").await;
    let r = browser
        .submit("/login", &[("username", username), ("password", password)])
        .await;
    if let Some(set) = r
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .find(|c| c.starts_with("danbao_session="))
    {
        assert!(
            set.contains("HttpOnly") && set.contains("SameSite=Lax") && set.contains("Path=/"),
            "{set}"
        );
        assert!(!set.contains("Secure"), "plain http sets no Secure cookie: {set}");
    }
    r
}

async fn a_seller_answers_through_the_pages(t: TestApp) {
    let (seller, _) = t.user("answer_s", "seller").await;
    t.user("answer_x", "buyer").await;
    let product = t.card_product(&seller, 3000, 1).await;
    let placed = t.guest_order(&product, 1).await;
    let order = placed.body["id"].as_str().unwrap().to_string();
    let token = placed.body["access_token"].as_str().unwrap().to_string();
    t.pay(placed.body["payment"]["payment_id"].as_str().unwrap()).await;
    t.wait_for_status(
        &format!("/api/v1/orders/{order}?access_token={token}"),
        None,
        "delivered",
    )
    .await;
    // The guest complains through the pages.
    let guest = Browser::new(&t);
    guest.get(&format!("/orders/{order}?access_token={token}")).await;
    guest.get(&format!("/orders/{order}")).await;
    let opened = guest
        .submit(
            &format!("/orders/{order}/complaints"),
            &[("kind", "not_as_described"), ("description", "卡密无法兑换")],
        )
        .await;
    assert_eq!(opened.status, 303, "{}", opened.text);
    let location = opened.headers.get("location").unwrap().to_str().unwrap().to_string();
    let id = location.trim_start_matches("/complaints/").to_string();
    // Nobody logged in: to the login page.
    let browser = Browser::new(&t);
    let anonymous = browser.get("/account").await;
    assert_eq!(anonymous.status, 303);
    assert_eq!(anonymous.headers.get("location").unwrap(), "/login");
    let form_page = browser.get("/login").await;
    assert_eq!(form_page.status, 200);
    assert!(form_page.text.contains("name=\"password\""), "{}", form_page.text);
    // A wrong password: the form again.
    let wrong = page_login(&browser, "answer_s", "wrong-horse").await;
    assert_eq!(wrong.status, 401, "{}", wrong.text);
    assert!(wrong.text.contains("用户名或密码错误"), "{}", wrong.text);
    assert!(browser.cookie("danbao_session").is_none());
    // The seller logs in and sees the sale.
    let ok = page_login(&browser, "answer_s", "correct-horse").await;
    assert_eq!(ok.status, 303, "{}", ok.text);
    // A seller lands in their back office.
    assert_eq!(ok.headers.get("location").unwrap(), "/seller");
    let set: Vec<&str> = ok
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert!(
        set.iter()
            .any(|c| c.starts_with("danbao_session=") && c.contains("Max-Age=2592000")),
        "{set:?}"
    );
    assert!(browser.cookie("danbao_session").is_some());
    let account = browser.get("/account").await;
    assert_eq!(account.status, 200, "{}", account.text);
    assert_eq!(account.headers.get("cache-control").unwrap(), "no-store");
    assert!(
        account.text.contains("answer_s") && account.text.contains("卖家"),
        "{}",
        account.text
    );
    assert!(
        account.text.contains(&format!("href=\"/orders/{order}\"")),
        "{}",
        account.text
    );
    assert!(!account.text.contains("access_token"), "{}", account.text);
    let order_page = browser.get(&format!("/orders/{order}")).await;
    assert_eq!(order_page.status, 200, "{}", order_page.text);
    assert_eq!(order_page.headers.get("referrer-policy").unwrap(), "no-referrer");
    assert!(
        order_page.text.contains(&format!("href=\"/complaints/{id}\"")),
        "{}",
        order_page.text
    );
    assert!(!order_page.text.contains("access_token"), "{}", order_page.text);
    // The complaint waits for the seller, who gets the answer form and the evidence forms
    // (text and files, as the buyer does), but not the buyer's withdrawal.
    let page = browser.get(&format!("/complaints/{id}")).await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(
        page.text.contains("等待卖家回应") && page.text.contains("卖家回应"),
        "{}",
        page.text
    );
    assert!(
        page.text.contains(&format!("action=\"/complaints/{id}/response\"")),
        "{}",
        page.text
    );
    assert!(
        page.text.contains(&format!("action=\"/complaints/{id}/files\"")),
        "{}",
        page.text
    );
    assert!(
        !page.text.contains(&format!("/complaints/{id}/withdraw")),
        "{}",
        page.text
    );
    // The guest holding the order's cookie is not the seller.
    guest.get(&format!("/complaints/{id}")).await;
    let refused = guest
        .submit(&format!("/complaints/{id}/response"), &[("text", "冒充卖家")])
        .await;
    assert_eq!(refused.status, 403, "{}", refused.text);
    assert!(
        !refused.text.contains("表单已失效"),
        "refused as not the seller: {}",
        refused.text
    );
    // An empty answer is refused on the page.
    let empty = browser
        .submit(&format!("/complaints/{id}/response"), &[("text", "  ")])
        .await;
    assert_eq!(empty.status, 422, "{}", empty.text);
    assert!(empty.text.contains("卖家回应"), "{}", empty.text);
    let answered = browser
        .submit(
            &format!("/complaints/{id}/response"),
            &[("text", "卡密已自动发放，<b>请核对</b>")],
        )
        .await;
    assert_eq!(answered.status, 303, "{}", answered.text);
    assert_eq!(answered.headers.get("location").unwrap(), &format!("/complaints/{id}"));
    let api = t
        .get(&format!("/api/v1/complaints/{id}?access_token={token}"), None)
        .await;
    assert_eq!(api.body["stage"], "under_review", "{}", api.text);
    let page = browser.get(&format!("/complaints/{id}")).await;
    assert!(
        page.text.contains("平台审核中") && page.text.contains("请核对") && !page.text.contains("<b>请核对"),
        "{}",
        page.text
    );
    // A logged-in stranger sees nothing, and cannot answer.
    let stranger = Browser::new(&t);
    page_login(&stranger, "answer_x", "correct-horse").await;
    assert!(stranger.cookie("danbao_session").is_some());
    let page = stranger.get(&format!("/complaints/{id}")).await;
    assert_eq!(page.status, 404, "{}", page.text);
    let page = stranger.get(&format!("/orders/{order}")).await;
    assert_eq!(page.status, 404, "{}", page.text);
    stranger.get("/account").await;
    let answer = stranger
        .submit(&format!("/complaints/{id}/response"), &[("text", "x")])
        .await;
    assert_eq!(answer.status, 404, "{}", answer.text);
    // A cookie that is not a session is nobody.
    let forged = Browser::new(&t);
    forged.set_cookie("danbao_session", &"0".repeat(64));
    assert_eq!(forged.get(&format!("/complaints/{id}")).await.status, 404);
    // Logging out forgets the cookie.
    browser.get("/account").await;
    let out = browser.submit("/logout", &[]).await;
    assert_eq!(out.status, 303, "{}", out.text);
    assert_eq!(out.headers.get("location").unwrap(), "/");
    let set = out.headers.get("set-cookie").unwrap().to_str().unwrap();
    assert!(
        set.starts_with("danbao_session=;") && set.contains("Max-Age=0"),
        "{set}"
    );
    assert!(browser.cookie("danbao_session").is_none());
    t.finish().await;
}

/// Rulings and confirms racing an arbitrator who freezes and unfreezes their seller: every
/// request succeeds. Before the lock order, on PostgreSQL these transactions deadlocked
/// (order → accounts → standing against standing → accounts) and without the retry 1 to 6
/// of these 16 requests answered 500 in each of five runs; now each takes the seller's
/// standing first, and no run has needed a retry (a deadlock left would be retried).
async fn rulings_and_confirms_racing_freezes_never_fail(t: TestApp) {
    let s = shop(&t, "race").await;
    let arb = t.staff(Role::Arbitrator).await;
    let mut disputed = Vec::new();
    let mut plain = Vec::new();
    for i in 0..12 {
        let o = delivered(&t, &s).await;
        if i % 2 == 0 {
            disputed.push(id_of(&open(&t, &s.buyer_token, &o, "not_as_described").await));
        } else {
            plain.push(o);
        }
    }
    let seller_id = s.seller.to_string();
    let ruling_paths: Vec<String> = disputed
        .iter()
        .map(|c| format!("/api/v1/complaints/{c}/ruling"))
        .collect();
    let confirm_paths: Vec<String> = plain.iter().map(|o| format!("/api/v1/orders/{o}/confirm")).collect();
    let rulings = futures::future::join_all(ruling_paths.iter().map(|p| {
        t.post(
            p,
            Some(&arb),
            json!({"kind": "split", "buyer_bps": 5000, "reason": "各半"}),
        )
    }));
    let confirms = futures::future::join_all(confirm_paths.iter().map(|p| t.post(p, Some(&s.buyer_token), json!({}))));
    let toggles = freeze_and_unfreeze(&t, &arb, &seller_id, 10);
    let (r, c, f) = futures::join!(rulings, confirms, toggles);
    let failed: Vec<_> = r
        .iter()
        .chain(c.iter())
        .chain(f.iter())
        .filter(|x| x.status != 200)
        .map(|x| format!("{} {}", x.status, x.text))
        .collect();
    assert!(failed.is_empty(), "{} requests failed: {failed:?}", failed.len());
    for id in &disputed {
        assert_eq!(complaint(&t, &s.buyer_token, id).await["stage"], "resolved");
    }
    for o in &plain {
        assert_eq!(order_status(&t, &s.buyer_token, o).await, "completed");
    }
    t.settle_refunds().await;
    t.finish().await;
}

/// Staff freeze and unfreeze a seller `times` times in turn (ending unfrozen when even);
/// every answer, in order.
async fn freeze_and_unfreeze(t: &TestApp, staff: &str, seller_id: &str, times: usize) -> Vec<Resp> {
    let mut out = Vec::new();
    for i in 0..times {
        let what = if i % 2 == 0 { "freeze" } else { "unfreeze" };
        out.push(
            t.post(
                &format!("/api/v1/admin/sellers/{seller_id}/{what}"),
                Some(staff),
                json!({"reason": "核查"}),
            )
            .await,
        );
    }
    out
}

/// `TestApp::post` with a path the future owns (for requests built in a closure).
async fn post_to(t: &TestApp, path: String, token: &str, body: Value) -> Resp {
    t.post(&path, Some(token), body).await
}

/// A paid manual order of 50.00 for the shop's buyer, waiting for the seller; returns its id.
async fn paid_manual(t: &TestApp, s: &Shop) -> String {
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
    assert_eq!(placed.status, 201, "{}", placed.text);
    let id = placed.body["id"].as_str().unwrap().to_string();
    t.pay(placed.body["payment"]["payment_id"].as_str().unwrap()).await;
    t.wait_for_status(&format!("/api/v1/orders/{id}"), Some(&s.buyer_token), "paid")
        .await;
    id
}

/// Every way one seller's money moves, at once, while an arbitrator freezes and unfreezes
/// the seller: rulings, confirms, complaint openings, manual deliveries and declines,
/// withdrawals, deposits, and the jobs (reserve releases, auto-confirms, payouts, refunds).
/// Each transaction takes the seller's standing lock first (ARCHITECTURE.md, "Lock
/// order"), and a deadlock that can still happen is retried: no answer is a 5xx, every
/// action that was allowed happened, and afterwards, with the seller unfrozen again,
/// frozen:{seller} holds exactly the money of the open cases (the freezes' holds were all
/// given back). Before the lock order, 4 to 8 answers per run were 500, each a freeze
/// posting an available balance it had read before a withdrawal, deposit or reserve
/// release changed it (the ledger refused the negative balance).
async fn one_sellers_money_racing_freezes_never_fails(t: TestApp) {
    let s = shop(&t, "lockorder").await;
    let arb = t.staff(Role::Arbitrator).await;
    let seller_id = s.seller.to_string();
    let confirm = |o: String| {
        let t = &t;
        let token = s.buyer_token.clone();
        async move {
            t.post(&format!("/api/v1/orders/{o}/confirm"), Some(&token), json!({}))
                .await
        }
    };
    // Money to withdraw and lock as deposit: four orders completed more than the reserve's
    // 14 days ago, released to available. (Twice 14 days stays within the sessions' 30.)
    for _ in 0..4 {
        let o = delivered(&t, &s).await;
        assert_eq!(confirm(o).await.status, 200);
    }
    t.advance(14 * 24 * HOUR_MS + HOUR_MS);
    t.run_due_jobs().await;
    assert_eq!(t.balance(&Account::Available(s.seller.clone())).await, 4 * 9_500);
    // Jobs that come due in the race: four reserves ending, four orders auto-confirming.
    for _ in 0..4 {
        let o = delivered(&t, &s).await;
        assert_eq!(confirm(o).await.status, 200);
    }
    let mut auto = Vec::new();
    for _ in 0..4 {
        auto.push(delivered(&t, &s).await);
    }
    t.advance(14 * 24 * HOUR_MS + HOUR_MS);
    // Fresh orders (their clocks start now, so no job of theirs is due in the race).
    let mut cases = Vec::new();
    for _ in 0..6 {
        let o = delivered(&t, &s).await;
        cases.push(id_of(&open(&t, &s.buyer_token, &o, "not_as_described").await));
    }
    let mut to_confirm = Vec::new();
    let mut to_complain = Vec::new();
    for _ in 0..6 {
        to_confirm.push(delivered(&t, &s).await);
        to_complain.push(delivered(&t, &s).await);
    }
    let mut to_deliver = Vec::new();
    let mut to_decline = Vec::new();
    for _ in 0..4 {
        to_deliver.push(paid_manual(&t, &s).await);
        to_decline.push(paid_manual(&t, &s).await);
    }

    // Spread over the time the toggles take, so each kind meets freezes and unfreezes.
    let pause = |i: usize| tokio::time::sleep(std::time::Duration::from_millis(7 * i as u64));
    let (tr, sr, arbr) = (&t, &s, arb.as_str());
    let rulings = futures::future::join_all(cases.iter().enumerate().map(|(i, c)| async move {
        pause(i).await;
        post_to(
            tr,
            format!("/api/v1/complaints/{c}/ruling"),
            arbr,
            json!({"kind": "split", "buyer_bps": 5000, "reason": "各半"}),
        )
        .await
    }));
    let confirms = futures::future::join_all(to_confirm.iter().cloned().enumerate().map(|(i, o)| async move {
        pause(i + 1).await;
        confirm(o).await
    }));
    let openings = futures::future::join_all(to_complain.iter().enumerate().map(|(i, o)| async move {
        pause(i + 2).await;
        open(tr, &sr.buyer_token, o, "not_as_described").await
    }));
    let deliveries = futures::future::join_all(to_deliver.iter().enumerate().map(|(i, o)| async move {
        pause(2 * i).await;
        post_to(
            tr,
            format!("/api/v1/seller/orders/{o}/deliver"),
            &sr.seller_token,
            json!({"note": "已充值"}),
        )
        .await
    }));
    let declines = futures::future::join_all(to_decline.iter().enumerate().map(|(i, o)| async move {
        pause(2 * i + 1).await;
        post_to(
            tr,
            format!("/api/v1/seller/orders/{o}/decline"),
            &sr.seller_token,
            json!({"reason": "无法代充"}),
        )
        .await
    }));
    // Three of the seller's sessions withdrawing and locking deposit, one after another.
    let seller_money = futures::future::join_all((0..3).map(|_| async {
        let mut out = Vec::new();
        for _ in 0..8 {
            for (path, amount) in [("/api/v1/seller/withdrawals", 1_000), ("/api/v1/seller/deposit", 300)] {
                out.push(
                    t.post(path, Some(&s.seller_token), json!({"amount_minor": amount}))
                        .await,
                );
            }
        }
        out
    }));
    let jobs = async {
        let mut ran = 0;
        for _ in 0..8 {
            ran += t.app().run_due_jobs().await.expect("a round of jobs failed");
            pause(1).await;
        }
        ran
    };
    let toggles = freeze_and_unfreeze(&t, &arb, &seller_id, 20);
    let (r, c, o, dl, dc, money, ran, f) = futures::join!(
        rulings,
        confirms,
        openings,
        deliveries,
        declines,
        seller_money,
        jobs,
        toggles
    );
    let money: Vec<Resp> = money.into_iter().flatten().collect();

    // No answer is a 5xx, and each is what the action calls for: withdrawals and deposits
    // may be refused (frozen, or the money held), nothing else may be.
    let all = r
        .iter()
        .chain(&c)
        .chain(&o)
        .chain(&dl)
        .chain(&dc)
        .chain(&money)
        .chain(&f);
    let failed: Vec<_> = all
        .filter(|x| x.status >= 500)
        .map(|x| format!("{} {}", x.status, x.text))
        .collect();
    assert!(failed.is_empty(), "{} answers were 5xx: {failed:?}", failed.len());
    for (answers, want) in [(&r, 200), (&c, 200), (&o, 201), (&dl, 200), (&dc, 200), (&f, 200)] {
        for x in answers.iter() {
            assert_eq!(x.status, want, "{}", x.text);
        }
    }
    for x in &money {
        assert!(matches!(x.status, 200 | 201 | 409), "{} {}", x.status, x.text);
    }
    assert!(ran >= 8, "the race's jobs did not run: {ran}");
    t.run_due_jobs().await;
    t.settle_refunds().await;
    for id in &cases {
        assert_eq!(complaint(&t, &s.buyer_token, id).await["stage"], "resolved");
    }
    for (orders, want) in [
        (&to_confirm, "completed"),
        (&auto, "completed"),
        (&to_complain, "disputed"),
        (&to_deliver, "delivered"),
        (&to_decline, "refunded"),
    ] {
        for order in orders {
            assert_eq!(order_status(&t, &s.buyer_token, order).await, want);
        }
    }
    // The reserves that ended in the race reached available: the reserve holds only the
    // orders completed in it (six confirmed, four auto-confirmed, 95.00 each).
    assert_eq!(t.balance(&Account::Reserve(s.seller.clone())).await, 10 * 9_500);
    // frozen:{seller} is what the freezes hold (the standing row's figure) plus the money
    // of each open case (its frozen sources; here all from escrow, so its amount). The
    // last toggle unfroze the seller: every hold was given back, and only the six cases
    // opened in the race are left.
    let mut tx = t.app().store.begin().await.unwrap();
    let standing = tx.seller_standing(&s.seller, false).await.unwrap().unwrap();
    tx.commit().await.unwrap();
    assert_eq!(standing.status, "active");
    assert_eq!(standing.frozen_available_minor, 0);
    let mut open_cases = 0;
    for opened in &o {
        let case = complaint(&t, &s.buyer_token, opened.body["id"].as_str().unwrap()).await;
        assert_eq!(case["stage"], "awaiting_seller");
        assert_eq!(case["frozen"]["escrow"], case["amount_minor"]);
        open_cases += case["amount_minor"].as_i64().unwrap();
    }
    assert_eq!(open_cases, 6 * 10_000);
    assert_eq!(
        t.balance(&Account::Frozen(s.seller.clone())).await,
        standing.frozen_available_minor + open_cases
    );
    t.finish().await;
}
