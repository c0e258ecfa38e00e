//! The purchase spine (issue 2): checkout, payment, delivery, confirmation, refunds,
//! expiry, bad input, the race for stock, and the pages.

use danbao_domain::Account;
use danbao_testkit::form;
use danbao_testkit::{Browser, TestApp, HOUR_MS};
use serde_json::json;

on_both_databases!(
    guest_buys_a_card_key_and_confirms,
    buyer_account_order_auto_confirms_after_the_acceptance_window,
    manual_order_delivered_by_the_seller,
    manual_order_past_its_deadline_is_refunded_in_full,
    unpaid_order_expires_and_releases_stock,
    payment_after_expiry_is_still_fulfilled,
    bad_input_is_refused_and_changes_nothing,
    fifty_buyers_race_for_ten_keys,
    a_person_buys_through_the_pages,
    buyer_cancels_an_unpaid_order,
    seller_declines_a_paid_order,
    pages_refuse_posts_from_other_sites,
);

async fn guest_buys_a_card_key_and_confirms(t: TestApp) {
    let (seller_token, seller_id) = t.user("seller1", "seller").await;
    let product = t.card_product(&seller_token, 9500, 3).await;
    assert_eq!(
        t.get(&format!("/api/v1/products/{product}"), None).await.body["stock"],
        3
    );

    // The seller edits the listing; another seller cannot.
    let (other_seller, _) = t.user("seller1b", "seller").await;
    let edit = json!({"title": "点卡 95 元"});
    let r = t
        .request(
            "PATCH",
            &format!("/api/v1/seller/products/{product}"),
            Some(&other_seller),
            Some(edit.clone()),
        )
        .await;
    assert_eq!(r.status, 404, "{}", r.text);
    let r = t
        .request(
            "PATCH",
            &format!("/api/v1/seller/products/{product}"),
            Some(&seller_token),
            Some(edit),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["title"], "点卡 95 元");
    let r = t
        .request(
            "PATCH",
            &format!("/api/v1/seller/products/{product}"),
            Some(&seller_token),
            Some(json!({"price_minor": 0})),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.text);

    let placed = t.guest_order(&product, 1).await;
    assert_eq!(placed.status, 201, "{}", placed.text);
    assert_eq!(placed.body["status"], "pending_payment");
    assert_eq!(placed.body["amount_minor"], 9500);
    assert_eq!(placed.body["rule_version"], 1);
    let order = placed.body["id"].as_str().unwrap().to_string();
    let token = placed.body["access_token"].as_str().unwrap().to_string();
    let cashier = placed.body["payment"]["cashier_url"].as_str().unwrap();
    assert!(cashier.starts_with(&format!("{}/sandbox/cashier/", t.url)));
    // Stock is reserved at once.
    assert_eq!(
        t.get(&format!("/api/v1/products/{product}"), None).await.body["stock"],
        2
    );
    // The cashier page is a real page with a Pay button.
    let page = t.raw(t.http.get(cashier)).await;
    assert_eq!(page.status, 200);
    assert!(page.text.contains("95.00"), "{}", page.text);

    t.pay(placed.body["payment"]["payment_id"].as_str().unwrap()).await;
    let path = format!("/api/v1/orders/{order}?access_token={token}");
    let delivered = t.wait_for_status(&path, None, "delivered").await;
    assert!(delivered.body["paid_at"].is_string());
    assert!(delivered.body["auto_confirm_at"].is_string());
    let seller = TestApp::seller_account(&seller_id);
    assert_eq!(t.balance(&Account::Escrow(seller.clone())).await, 9500);
    assert_eq!(t.balance(&Account::Provider("sandbox".into())).await, 9500);

    // The buyer reveals the key; the reveal is recorded with its time.
    let reveal = t
        .get(&format!("/api/v1/orders/{order}/delivery?access_token={token}"), None)
        .await;
    assert_eq!(reveal.status, 200, "{}", reveal.text);
    let key = reveal.body["items"][0]["content"].as_str().unwrap().to_string();
    assert!(key.starts_with(&format!("KEY-{product}-")), "{key}");
    // The seller sees the order but may not reveal the key.
    assert_eq!(
        t.get(&format!("/api/v1/orders/{order}"), Some(&seller_token))
            .await
            .status,
        200
    );
    let seller_reveal = t
        .get(&format!("/api/v1/orders/{order}/delivery"), Some(&seller_token))
        .await;
    assert_eq!(seller_reveal.status, 404);

    let confirm = t
        .post(
            &format!("/api/v1/orders/{order}/confirm?access_token={token}"),
            None,
            json!({}),
        )
        .await;
    assert_eq!(confirm.status, 200, "{}", confirm.text);
    assert_eq!(confirm.body["status"], "completed");
    // 5 % fee on 95.00 = 4.75; the seller gets 90.25, into the reserve until the
    // after-sales window has passed.
    assert_eq!(t.balance(&Account::Reserve(seller.clone())).await, 9025);
    assert_eq!(t.balance(&Account::Available(seller.clone())).await, 0);
    assert_eq!(t.balance(&Account::PlatformFees).await, 475);
    assert_eq!(t.balance(&Account::Escrow(seller)).await, 0);

    let second = t
        .post(
            &format!("/api/v1/orders/{order}/confirm?access_token={token}"),
            None,
            json!({}),
        )
        .await;
    assert_eq!(second.status, 409);
    assert_eq!(second.problem_type(), "https://danbao.dev/problems/illegal-transition");

    let timeline = t
        .get(&format!("/api/v1/orders/{order}/timeline?access_token={token}"), None)
        .await;
    let kinds: Vec<&str> = timeline.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "created",
            "paid",
            "delivered",
            "delivery_revealed",
            "completed",
            "confirmed"
        ]
    );
    t.finish().await;
}

async fn buyer_account_order_auto_confirms_after_the_acceptance_window(t: TestApp) {
    let (seller_token, seller_id) = t.user("seller2", "seller").await;
    let (buyer_token, _) = t.user("buyer2", "buyer").await;
    let product = t.card_product(&seller_token, 1010, 1).await;
    let placed = t
        .post(
            "/api/v1/orders",
            Some(&buyer_token),
            json!({"product_id": product, "quantity": 1}),
        )
        .await;
    assert_eq!(placed.status, 201, "{}", placed.text);
    assert!(placed.body.get("access_token").is_none());
    let order = placed.body["id"].as_str().unwrap().to_string();
    t.pay(placed.body["payment"]["payment_id"].as_str().unwrap()).await;
    let path = format!("/api/v1/orders/{order}");
    t.wait_for_status(&path, Some(&buyer_token), "delivered").await;

    // One millisecond before the window closes nothing happens; at the window it completes.
    t.advance(24 * HOUR_MS - 1);
    t.run_due_jobs().await;
    assert_eq!(t.get(&path, Some(&buyer_token)).await.body["status"], "delivered");
    t.advance(1);
    t.run_due_jobs().await;
    let done = t.get(&path, Some(&buyer_token)).await;
    assert_eq!(done.body["status"], "completed");
    // 5 % of 10.10 = 0.505 → 0.50 (half to even); the seller gets 9.60.
    let seller = TestApp::seller_account(&seller_id);
    assert_eq!(t.balance(&Account::Reserve(seller)).await, 960);
    assert_eq!(t.balance(&Account::PlatformFees).await, 50);
    // The buyer's list shows it.
    let mine = t.get("/api/v1/orders", Some(&buyer_token)).await;
    assert_eq!(mine.body["items"][0]["id"], order.as_str());
    t.finish().await;
}

async fn manual_product(t: &TestApp, seller_token: &str) -> String {
    let r = t
        .post(
            "/api/v1/seller/products",
            Some(seller_token),
            json!({"title": "代充", "category": "top_up", "price_minor": 64800, "delivery_kind": "manual", "manual_fields": ["UID"]}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.body["id"].as_str().unwrap().to_string()
}

async fn manual_order_delivered_by_the_seller(t: TestApp) {
    let (seller_token, _) = t.user("seller3", "seller").await;
    let (buyer_token, _) = t.user("buyer3", "buyer").await;
    let product = manual_product(&t, &seller_token).await;
    let missing = t
        .post(
            "/api/v1/orders",
            Some(&buyer_token),
            json!({"product_id": product, "quantity": 1}),
        )
        .await;
    assert_eq!(missing.status, 422, "the UID field is required: {}", missing.text);
    let placed = t
        .post(
            "/api/v1/orders",
            Some(&buyer_token),
            json!({"product_id": product, "quantity": 1, "delivery_fields": {"UID": "100200300"}}),
        )
        .await;
    assert_eq!(placed.status, 201, "{}", placed.text);
    let order = placed.body["id"].as_str().unwrap().to_string();
    t.pay(placed.body["payment"]["payment_id"].as_str().unwrap()).await;
    let path = format!("/api/v1/orders/{order}");
    let paid = t.wait_for_status(&path, Some(&buyer_token), "paid").await;
    assert!(paid.body["deliver_by"].is_string());
    // The seller sees what to deliver to.
    let seen = t.get(&path, Some(&seller_token)).await;
    assert_eq!(seen.body["delivery_fields"]["UID"], "100200300");

    let delivered = t
        .post(
            &format!("/api/v1/seller/orders/{order}/deliver"),
            Some(&seller_token),
            json!({"note": "已充值到 UID 100200300"}),
        )
        .await;
    assert_eq!(delivered.status, 200, "{}", delivered.text);
    assert_eq!(delivered.body["status"], "delivered");
    // The buyer cannot deliver to himself.
    let by_buyer = t
        .post(
            &format!("/api/v1/seller/orders/{order}/deliver"),
            Some(&buyer_token),
            json!({"note": "x"}),
        )
        .await;
    assert_eq!(by_buyer.status, 403);
    let reveal = t.get(&format!("{path}/delivery"), Some(&buyer_token)).await;
    assert_eq!(reveal.body["items"][0]["content"], "已充值到 UID 100200300");
    // The manual acceptance window is 72 h.
    t.advance(72 * HOUR_MS);
    t.run_due_jobs().await;
    assert_eq!(t.get(&path, Some(&buyer_token)).await.body["status"], "completed");
    t.finish().await;
}

async fn manual_order_past_its_deadline_is_refunded_in_full(t: TestApp) {
    let (seller_token, seller_id) = t.user("seller4", "seller").await;
    let (buyer_token, _) = t.user("buyer4", "buyer").await;
    let product = manual_product(&t, &seller_token).await;
    let placed = t
        .post(
            "/api/v1/orders",
            Some(&buyer_token),
            json!({"product_id": product, "quantity": 2, "delivery_fields": {"UID": "42"}}),
        )
        .await;
    assert_eq!(placed.status, 201, "{}", placed.text);
    assert_eq!(placed.body["amount_minor"], 129600);
    let order = placed.body["id"].as_str().unwrap().to_string();
    let payment_id = placed.body["payment"]["payment_id"].as_str().unwrap().to_string();
    t.pay(&payment_id).await;
    let path = format!("/api/v1/orders/{order}");
    t.wait_for_status(&path, Some(&buyer_token), "paid").await;

    t.advance(24 * HOUR_MS);
    t.run_due_jobs().await;
    let refunded = t.get(&path, Some(&buyer_token)).await;
    assert_eq!(refunded.body["status"], "refunded");
    let refunds = refunded.body["refunds"].as_array().unwrap();
    assert_eq!(refunds.len(), 1);
    assert_eq!(refunds[0]["amount_minor"], 129600);
    // The refund job ran through the sandbox, outside the transaction, and was confirmed.
    assert_eq!(refunds[0]["status"], "confirmed", "{}", refunded.text);
    let gateway = t.get(&format!("/sandbox/payments/{payment_id}"), None).await;
    assert_eq!(gateway.body["refunded_minor"], 129600, "{}", gateway.text);
    let seller = TestApp::seller_account(&seller_id);
    assert_eq!(t.balance(&Account::Escrow(seller.clone())).await, 0);
    assert_eq!(t.balance(&Account::Available(seller)).await, 0);
    assert_eq!(t.balance(&Account::Provider("sandbox".into())).await, 0);
    assert_eq!(t.balance(&Account::RefundsPending("sandbox".into())).await, 0);
    // Running the jobs again changes nothing: the refund is idempotent.
    assert_eq!(t.run_due_jobs().await, 0);
    let late = t
        .post(
            &format!("/api/v1/seller/orders/{order}/deliver"),
            Some(&seller_token),
            json!({"note": "too late"}),
        )
        .await;
    assert_eq!(late.status, 409);
    t.finish().await;
}

async fn unpaid_order_expires_and_releases_stock(t: TestApp) {
    let (seller_token, _) = t.user("seller5", "seller").await;
    let product = t.card_product(&seller_token, 500, 2).await;
    let placed = t.guest_order(&product, 2).await;
    assert_eq!(placed.status, 201, "{}", placed.text);
    let order = placed.body["id"].as_str().unwrap().to_string();
    let token = placed.body["access_token"].as_str().unwrap().to_string();
    assert_eq!(
        t.get(&format!("/api/v1/products/{product}"), None).await.body["stock"],
        0
    );
    let sold_out = t.guest_order(&product, 1).await;
    assert_eq!(sold_out.status, 409);
    assert_eq!(sold_out.problem_type(), "https://danbao.dev/problems/out-of-stock");

    t.advance(15 * 60_000 - 1);
    t.run_due_jobs().await;
    let path = format!("/api/v1/orders/{order}?access_token={token}");
    assert_eq!(t.get(&path, None).await.body["status"], "pending_payment");
    t.advance(1);
    t.run_due_jobs().await;
    assert_eq!(t.get(&path, None).await.body["status"], "expired");
    assert_eq!(
        t.get(&format!("/api/v1/products/{product}"), None).await.body["stock"],
        2
    );
    t.finish().await;
}

async fn payment_after_expiry_is_still_fulfilled(t: TestApp) {
    let (seller_token, _) = t.user("seller6", "seller").await;
    let product = t.card_product(&seller_token, 700, 1).await;
    let placed = t.guest_order(&product, 1).await;
    let order = placed.body["id"].as_str().unwrap().to_string();
    let token = placed.body["access_token"].as_str().unwrap().to_string();
    t.advance(16 * 60_000);
    t.run_due_jobs().await;
    let path = format!("/api/v1/orders/{order}?access_token={token}");
    assert_eq!(t.get(&path, None).await.body["status"], "expired");
    // The buyer pays late anyway: the money is never ignored; stock allows, so it is delivered.
    t.pay(placed.body["payment"]["payment_id"].as_str().unwrap()).await;
    t.wait_for_status(&path, None, "delivered").await;
    assert_eq!(
        t.get(&format!("/api/v1/products/{product}"), None).await.body["stock"],
        0
    );
    t.finish().await;
}

async fn bad_input_is_refused_and_changes_nothing(t: TestApp) {
    let (seller_token, _) = t.user("seller7", "seller").await;
    let (buyer_token, _) = t.user("buyer7", "buyer").await;
    let (other_token, _) = t.user("other7", "buyer").await;
    let product = t.card_product(&seller_token, 1000, 2).await;
    let problem = |r: &danbao_testkit::Resp, status: u16, kind: &str| {
        assert_eq!(r.status, status, "{}", r.text);
        assert_eq!(
            r.problem_type(),
            format!("https://danbao.dev/problems/{kind}"),
            "{}",
            r.text
        );
        assert_eq!(
            r.headers.get("content-type").unwrap().to_str().unwrap(),
            "application/problem+json"
        );
    };
    let order = |body: serde_json::Value| t.post("/api/v1/orders", Some(&buyer_token), body);

    problem(
        &order(json!({"product_id": "01a21332-cf7a-76b9-92c9-1938fdeccd90", "quantity": 1})).await,
        404,
        "not-found",
    );
    problem(
        &order(json!({"product_id": "not-an-id", "quantity": 1})).await,
        404,
        "not-found",
    );
    for q in [0, -1, 1_000_000] {
        problem(
            &order(json!({"product_id": product, "quantity": q})).await,
            422,
            "validation",
        );
    }
    problem(
        &order(json!({"product_id": product, "quantity": 3})).await,
        409,
        "out-of-stock",
    );
    problem(
        &order(json!({"product_id": product, "quantity": 1, "amount_minor": 1})).await,
        422,
        "validation",
    );
    // Only a configured rail's method pays; the refusal names the ones there are.
    let unknown = order(json!({"product_id": product, "quantity": 1, "payment_method": "paypal"})).await;
    problem(&unknown, 422, "validation");
    assert!(
        unknown.text.contains("payment_method") && unknown.text.contains("sandbox"),
        "{}",
        unknown.text
    );
    let malformed = t
        .raw(
            t.http
                .post(format!("{}/api/v1/orders", t.url))
                .bearer_auth(&buyer_token)
                .header("content-type", "application/json")
                .body("{\"product_id\": "),
        )
        .await;
    problem(&malformed, 400, "invalid-json");
    let huge = format!(
        "{{\"username\": \"{}\", \"password\": \"x\", \"role\": \"buyer\"}}",
        "a".repeat(100_000)
    );
    let oversized = t
        .raw(
            t.http
                .post(format!("{}/api/v1/accounts", t.url))
                .header("content-type", "application/json")
                .body(huge),
        )
        .await;
    problem(&oversized, 413, "payload-too-large");
    problem(
        &t.post(
            "/api/v1/accounts",
            None,
            json!({"username": "x1", "password": "correct-horse", "role": "admin"}),
        )
        .await,
        422,
        "validation",
    );
    // Nothing above reserved any stock.
    assert_eq!(
        t.get(&format!("/api/v1/products/{product}"), None).await.body["stock"],
        2
    );

    // A real order to probe with.
    let placed = order(json!({"product_id": product, "quantity": 1})).await;
    assert_eq!(placed.status, 201);
    let id = placed.body["id"].as_str().unwrap().to_string();
    problem(
        &t.get(&format!("/api/v1/orders/{id}"), Some(&other_token)).await,
        404,
        "not-found",
    );
    problem(&t.get(&format!("/api/v1/orders/{id}"), None).await, 404, "not-found");
    problem(
        &t.get(&format!("/api/v1/orders/{id}?access_token=00ff"), None).await,
        404,
        "not-found",
    );
    problem(
        &t.get(&format!("/api/v1/orders/{id}/timeline"), Some(&other_token))
            .await,
        404,
        "not-found",
    );
    problem(&t.get("/api/v1/orders/x", Some(&buyer_token)).await, 404, "not-found");
    problem(
        &t.get(&format!("/api/v1/orders/{id}"), Some("bogus-token")).await,
        401,
        "unauthenticated",
    );
    // Not delivered yet: nothing to reveal, nothing to confirm.
    let nothing = t
        .get(&format!("/api/v1/orders/{id}/delivery"), Some(&buyer_token))
        .await;
    problem(&nothing, 409, "nothing-delivered");
    // A refusal's data travels as fields, not inside its text.
    assert_eq!(nothing.body["status"], "pending_payment", "{}", nothing.text);
    problem(
        &t.post(&format!("/api/v1/orders/{id}/confirm"), Some(&buyer_token), json!({}))
            .await,
        409,
        "illegal-transition",
    );
    problem(
        &t.post(&format!("/api/v1/orders/{id}/confirm"), Some(&other_token), json!({}))
            .await,
        404,
        "not-found",
    );

    // Forged, unsigned and garbage notifications are refused and change nothing.
    let provider_before = t.balance(&Account::Provider("sandbox".into())).await;
    let forged_body = json!({"notify_id": "n", "payment_id": placed.body["payment"]["payment_id"], "out_trade_no": id,
        "trade_no": "forged-1", "amount_minor": 1000, "currency": "CNY", "status": "succeeded",
        "paid_at": "2026-11-01T00:00:00Z", "sent_at": "2026-11-01T00:00:00Z"})
    .to_string();
    let notify = format!("{}/api/v1/payments/sandbox/notify", t.url);
    let unsigned = t.raw(t.http.post(&notify).body(forged_body.clone())).await;
    problem(&unsigned, 401, "bad-signature");
    let forged = t
        .raw(
            t.http
                .post(&notify)
                .header(
                    "x-sandbox-signature",
                    danbao_sandbox::wire::sign(b"not-the-key", forged_body.as_bytes()),
                )
                .body(forged_body.clone()),
        )
        .await;
    problem(&forged, 401, "bad-signature");
    let garbage = t
        .raw(
            t.http
                .post(&notify)
                .header("x-sandbox-signature", "zz")
                .body(vec![0xff, 0x00, 0x13]),
        )
        .await;
    problem(&garbage, 401, "bad-signature");
    let path = format!("/api/v1/orders/{id}");
    assert_eq!(t.get(&path, Some(&buyer_token)).await.body["status"], "pending_payment");
    assert_eq!(t.balance(&Account::Provider("sandbox".into())).await, provider_before);

    // Guest lookup: the right password opens the order, a wrong one reveals nothing.
    let guest = t.guest_order(&product, 1).await;
    let gid = guest.body["id"].as_str().unwrap();
    let wrong = t
        .post(
            "/api/v1/orders/lookup",
            None,
            json!({"order_id": gid, "contact": "qq:10001", "query_password": "wrong-pass-1"}),
        )
        .await;
    problem(&wrong, 404, "not-found");
    let right = t
        .post(
            "/api/v1/orders/lookup",
            None,
            json!({"order_id": gid, "contact": "qq:10001", "query_password": "guest-pass-1"}),
        )
        .await;
    assert_eq!(right.status, 200, "{}", right.text);
    assert_eq!(right.body["access_token"], guest.body["access_token"]);
    // A guest's token opens only its own order.
    let token = guest.body["access_token"].as_str().unwrap();
    problem(
        &t.get(&format!("/api/v1/orders/{id}?access_token={token}"), None).await,
        404,
        "not-found",
    );

    // Idempotency-Key: same key and body → the stored response, marked; other body → 422.
    let send = |key: &str, qty: i64| {
        t.raw(
            t.http
                .post(format!("{}/api/v1/orders", t.url))
                .bearer_auth(&other_token)
                .header("idempotency-key", key)
                .json(&json!({"product_id": product, "quantity": qty})),
        )
    };
    let product2 = t.card_product(&seller_token, 300, 5).await;
    let first = send("k-1", 1).await;
    assert_eq!(first.status, 409, "stock is used up by now: {}", first.text);
    let replay = send("k-1", 1).await;
    assert_eq!(replay.status, 409);
    assert_eq!(replay.headers.get("idempotency-replayed").unwrap(), "true");
    assert_eq!(replay.text, first.text);
    problem(&send("k-1", 2).await, 422, "idempotency-key-reused");
    // Two strangers who happen to pick the same key are two keys: neither gets the
    // other's response (with its access token), nor a 422.
    let guest_with_key = |contact: &str| {
        t.raw(
            t.http
                .post(format!("{}/api/v1/orders", t.url))
                .header("idempotency-key", "checkout-1")
                .json(
                    &json!({"product_id": product2, "quantity": 1, "contact": contact, "query_password": "secret123"}),
                ),
        )
    };
    let a = guest_with_key("qq 111").await;
    let b = guest_with_key("qq 222").await;
    assert_eq!((a.status, b.status), (201, 201), "{} / {}", a.text, b.text);
    assert_ne!(a.body["id"], b.body["id"]);
    assert!(b.headers.get("idempotency-replayed").is_none());
    // The same guest retrying gets its own response back.
    let a_again = guest_with_key("qq 111").await;
    assert_eq!(a_again.headers.get("idempotency-replayed").unwrap(), "true");
    assert_eq!(a_again.body["access_token"], a.body["access_token"]);
    // A buyer may reopen the cashier a few times, not without end: five attempts in all.
    let (a_id, a_token) = (a.body["id"].as_str().unwrap(), a.body["access_token"].as_str().unwrap());
    let again = format!("/api/v1/orders/{a_id}/payments?access_token={a_token}");
    for _ in 0..4 {
        let r = t.post(&again, None, json!({})).await;
        assert_eq!(r.status, 201, "{}", r.text);
    }
    let capped = t.post(&again, None, json!({})).await;
    problem(&capped, 409, "too-many-payment-attempts");
    assert_eq!(capped.body["max_attempts"], 5);
    // Stored responses hold no secret in plain text: they are sealed.
    assert_eq!(
        t.sql("UPDATE idempotency_keys SET created_at = created_at WHERE response_body LIKE '%access_token%'")
            .await,
        0
    );
    assert!(
        t.sql("UPDATE idempotency_keys SET created_at = created_at WHERE response_body LIKE 'sealed:v1:%'")
            .await
            >= 3
    );

    problem(&t.get("/api/v1/nope", None).await, 404, "not-found");
    assert_eq!(t.get("/healthz", None).await.status, 200);
    assert_eq!(t.get("/readyz", None).await.status, 200);
    let rules = t.get("/api/v1/rules", None).await;
    assert_eq!(rules.body["rules"]["orders"]["payment_window_minutes"], 15);
    t.finish().await;
}

async fn fifty_buyers_race_for_ten_keys(t: TestApp) {
    let (seller_token, seller_id) = t.user("seller8", "seller").await;
    let product = t.card_product(&seller_token, 1200, 10).await;
    let attempts = futures::future::join_all((0..50).map(|_| t.guest_order(&product, 1))).await;
    let placed: Vec<_> = attempts.iter().filter(|r| r.status == 201).collect();
    let refused = attempts.iter().filter(|r| r.status == 409).count();
    assert_eq!(placed.len(), 10, "exactly the stock can be ordered");
    assert_eq!(refused, 40, "the rest are refused as out of stock");
    // Everyone who got an order pays at once.
    futures::future::join_all(
        placed
            .iter()
            .map(|r| t.pay(r.body["payment"]["payment_id"].as_str().unwrap())),
    )
    .await;
    let mut keys = std::collections::BTreeSet::new();
    for r in &placed {
        let id = r.body["id"].as_str().unwrap();
        let token = r.body["access_token"].as_str().unwrap();
        t.wait_for_status(&format!("/api/v1/orders/{id}?access_token={token}"), None, "delivered")
            .await;
        let d = t
            .get(&format!("/api/v1/orders/{id}/delivery?access_token={token}"), None)
            .await;
        assert_eq!(d.body["items"].as_array().unwrap().len(), 1);
        keys.insert(d.body["items"][0]["content"].as_str().unwrap().to_string());
    }
    assert_eq!(keys.len(), 10, "no key was handed out twice");
    let seller = TestApp::seller_account(&seller_id);
    assert_eq!(t.balance(&Account::Escrow(seller)).await, 12_000);
    assert_eq!(
        t.get(&format!("/api/v1/products/{product}"), None).await.body["stock"],
        0
    );
    t.finish().await;
}

/// The whole purchase as a person does it in a browser: list → product → buy form →
/// sandbox cashier → Pay → order page → reveal → confirm. Redirects are followed by hand
/// so that each hop is checked. The guest's access lives in a cookie set at checkout:
/// no address on the way carries it.
async fn a_person_buys_through_the_pages(t: TestApp) {
    let (seller_token, _) = t.user("seller9", "seller").await;
    let product = t.card_product(&seller_token, 5800, 2).await;
    let browser = Browser::new(&t);

    let index = browser.get("/").await;
    assert_eq!(index.status, 200);
    assert!(index.text.contains(&format!("/products/{product}")), "{}", index.text);
    assert!(index.text.contains("58.00"));
    let page = browser.get(&format!("/products/{product}")).await;
    assert_eq!(page.status, 200);
    assert!(page.text.contains("lang=\"zh-CN\""));
    assert!(page.text.contains(&format!("/products/{product}/buy")));

    let buy = |quantity: &'static str| {
        let browser = &browser;
        let path = format!("/products/{product}/buy");
        async move {
            browser
                .submit(
                    &path,
                    &[
                        ("quantity", quantity),
                        ("contact", "qq 1"),
                        ("query_password", "pass-word-1"),
                    ],
                )
                .await
        }
    };
    let bad = buy("9").await;
    assert_eq!(bad.status, 409, "more than the stock: {}", bad.text);

    let bought = buy("1").await;
    assert_eq!(bought.status, 303, "{}", bought.text);
    let cashier = bought.headers.get("location").unwrap().to_str().unwrap().to_string();
    assert!(!cashier.contains("access_token"), "{cashier}");
    let order_cookie = browser
        .cookies()
        .into_iter()
        .find(|c| c.starts_with("danbao_order_"))
        .expect("checkout gives the browser the order's cookie");
    let set = bought
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string());
    let set: Vec<String> = set.filter(|c| c.starts_with("danbao_order_")).collect();
    assert!(
        set.len() == 1 && set[0].contains("HttpOnly") && set[0].contains("SameSite=Lax") && set[0].contains("Path=/"),
        "{set:?}"
    );
    let cashier_page = browser.get(&cashier).await;
    assert_eq!(cashier_page.status, 200);
    let pay_url = cashier.replace("/cashier/", "/payments/") + "/pay";
    assert!(cashier_page.text.contains(&pay_url), "{}", cashier_page.text);
    let paid = browser.send(browser.post(&pay_url).header("accept", "text/html")).await;
    assert_eq!(paid.status, 303);
    let order_url = paid.headers.get("location").unwrap().to_str().unwrap().to_string();
    assert!(order_url.starts_with(&format!("{}/orders/", t.url)), "{order_url}");
    assert!(
        !order_url.contains('?'),
        "the return URL carries no secret: {order_url}"
    );
    let order_id = order_url.rsplit('/').next().unwrap().to_string();
    assert!(
        order_cookie.starts_with(&format!("danbao_order_{order_id}=")),
        "{order_cookie}"
    );
    let token = browser.cookie(&format!("danbao_order_{order_id}")).unwrap();
    t.wait_for_status(
        &format!("/api/v1/orders/{order_id}?access_token={token}"),
        None,
        "delivered",
    )
    .await;
    let order_page = browser.get(&order_url).await;
    assert_eq!(order_page.status, 200);
    assert!(order_page.text.contains("已发货"), "{}", order_page.text);
    assert!(!order_page.text.contains(&token), "the page does not print the secret");
    // The buyer who comes back with their access sees the goods at once.
    assert!(
        order_page.text.contains(&format!("KEY-{product}-")),
        "{}",
        order_page.text
    );

    let confirmed = browser.submit(&format!("/orders/{order_id}/confirm"), &[]).await;
    assert_eq!(confirmed.status, 303, "{}", confirmed.text);
    let after = browser.get(&order_url).await;
    assert!(after.text.contains("已完成"), "{}", after.text);

    // 查单 in another browser: the wrong password shows nothing; the right one gives that
    // browser the order's cookie and leads to the bare order page.
    let other = Browser::new(&t);
    other.get("/lookup").await;
    let lookup = |pw: &'static str| {
        let other = &other;
        let order_id = order_id.clone();
        async move {
            other
                .submit(
                    "/lookup",
                    &[("order_id", &order_id), ("contact", "qq 1"), ("query_password", pw)],
                )
                .await
        }
    };
    assert_eq!(lookup("wrong-password").await.status, 404);
    assert!(other.cookie(&format!("danbao_order_{order_id}")).is_none());
    let found = lookup("pass-word-1").await;
    assert_eq!(found.status, 303);
    assert_eq!(
        found.headers.get("location").unwrap().to_str().unwrap(),
        format!("/orders/{order_id}")
    );
    assert_eq!(other.get(&format!("/orders/{order_id}")).await.status, 200);
    // Someone else's link shows nothing.
    let stranger = Browser::new(&t);
    let page = stranger.get(&format!("/orders/{order_id}?access_token=00")).await;
    assert_eq!(page.status, 404);
    assert!(!page.text.contains("KEY-"));
    assert_eq!(stranger.get(&format!("/orders/{order_id}")).await.status, 404);
    t.finish().await;
}

async fn buyer_cancels_an_unpaid_order(t: TestApp) {
    let (seller_token, _) = t.user("seller10", "seller").await;
    let product = t.card_product(&seller_token, 800, 1).await;
    let placed = t.guest_order(&product, 1).await;
    let id = placed.body["id"].as_str().unwrap().to_string();
    let token = placed.body["access_token"].as_str().unwrap().to_string();
    assert_eq!(
        t.get(&format!("/api/v1/products/{product}"), None).await.body["stock"],
        0
    );
    let other = t
        .post(&format!("/api/v1/orders/{id}/cancel"), Some(&seller_token), json!({}))
        .await;
    assert_eq!(other.status, 404, "only the buyer cancels: {}", other.text);
    let r = t
        .post(
            &format!("/api/v1/orders/{id}/cancel?access_token={token}"),
            None,
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["status"], "cancelled");
    assert_eq!(
        t.get(&format!("/api/v1/products/{product}"), None).await.body["stock"],
        1
    );
    let again = t
        .post(
            &format!("/api/v1/orders/{id}/cancel?access_token={token}"),
            None,
            json!({}),
        )
        .await;
    assert_eq!(again.status, 409);
    t.finish().await;
}

async fn seller_declines_a_paid_order(t: TestApp) {
    let (seller_token, seller_id) = t.user("seller11", "seller").await;
    let (buyer_token, _) = t.user("buyer11", "buyer").await;
    let r = t
        .post(
            "/api/v1/seller/products",
            Some(&seller_token),
            json!({"title": "代充", "category": "top_up", "price_minor": 3000, "delivery_kind": "manual"}),
        )
        .await;
    let product = r.body["id"].as_str().unwrap().to_string();
    let placed = t
        .post(
            "/api/v1/orders",
            Some(&buyer_token),
            json!({"product_id": product, "quantity": 1}),
        )
        .await;
    let id = placed.body["id"].as_str().unwrap().to_string();
    let payment = placed.body["payment"]["payment_id"].as_str().unwrap().to_string();
    // Not paid yet: nothing to decline.
    let early = t
        .post(
            &format!("/api/v1/seller/orders/{id}/decline"),
            Some(&seller_token),
            json!({"reason": "无法代充"}),
        )
        .await;
    assert_eq!(early.status, 409, "{}", early.text);
    t.pay(&payment).await;
    t.wait_for_status(&format!("/api/v1/orders/{id}"), Some(&buyer_token), "paid")
        .await;
    let by_buyer = t
        .post(
            &format!("/api/v1/seller/orders/{id}/decline"),
            Some(&buyer_token),
            json!({"reason": "x"}),
        )
        .await;
    assert_eq!(by_buyer.status, 403);
    let r = t
        .post(
            &format!("/api/v1/seller/orders/{id}/decline"),
            Some(&seller_token),
            json!({"reason": "无法代充"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["status"], "refunded");
    t.settle_refunds().await;
    let o = t.get(&format!("/api/v1/orders/{id}"), Some(&buyer_token)).await;
    assert_eq!(o.body["refunds"][0]["status"], "confirmed");
    assert_eq!(
        t.get(&format!("/sandbox/payments/{payment}"), None).await.body["refunded_minor"],
        3000
    );
    let seller = TestApp::seller_account(&seller_id);
    assert_eq!(t.balance(&danbao_domain::Account::Escrow(seller)).await, 0);
    t.finish().await;
}

/// A page elsewhere cannot act with a visitor's cookie or log them in (login CSRF): a
/// form POST whose Origin is another site is refused and changes nothing; every page
/// says it may not be framed, sniffed or given scripts.
async fn pages_refuse_posts_from_other_sites(t: TestApp) {
    let (_, _) = t.user("csrf_buyer", "buyer").await;
    let browser = Browser::new(&t);
    browser.get("/login").await;
    let token = browser.form_token().unwrap();
    let login = |headers: &'static [(&'static str, &'static str)]| {
        let mut r = browser
            .post("/login")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form(&[
                ("csrf_token", &token),
                ("username", "csrf_buyer"),
                ("password", "correct-horse"),
            ]));
        for (k, v) in headers {
            r = r.header(*k, *v);
        }
        browser.send(r)
    };
    let evil = login(&[("origin", "https://evil.example")]).await;
    assert_eq!(evil.status, 403, "{}", evil.text);
    assert!(evil.headers.get("set-cookie").is_none());
    let forged = login(&[("sec-fetch-site", "cross-site")]).await;
    assert_eq!(forged.status, 403, "{}", forged.text);
    // The same form from this site logs in (a browser says so with Sec-Fetch-Site; under
    // our no-referrer policy its Origin is "null").
    let ours = login(&[("sec-fetch-site", "same-origin"), ("origin", "null")]).await;
    assert_eq!(ours.status, 303, "{}", ours.text);
    assert!(browser.cookie("danbao_session").is_some());
    let page = t.get("/", None).await;
    let csp = page.headers.get("content-security-policy").unwrap().to_str().unwrap();
    assert!(
        // Scripts from this origin only (the copy button's file), none inline.
        csp.contains("frame-ancestors 'none'") && csp.split(';').any(|d| d.trim() == "script-src 'self'"),
        "{csp}"
    );
    assert_eq!(page.headers.get("x-content-type-options").unwrap(), "nosniff");
    t.finish().await;
}
