//! Issue 8 items 6, 8 and 9: the bounds on what a stranger can make the server do. Each
//! scenario restarts its server with the shipped limits (the harness lifts them, since every
//! test sends from 127.0.0.1), and plays other clients from other loopback addresses.

use danbao_app::limits::Limits;
use danbao_domain::RuleSet;
use danbao_testkit::{Resp, TestApp};
use futures::StreamExt;
use serde_json::{json, Value};

on_both_databases!(
    wrong_logins_are_rate_limited_per_address_and_per_account,
    checkout_and_lookup_are_rate_limited,
    a_locked_query_password_refuses_even_the_right_one,
    unpaid_orders_hold_at_most_a_buyers_cap_and_share,
    forged_notifications_are_counted_not_stored_one_by_one,
    an_oversized_body_is_refused_before_it_is_buffered,
    forwarded_for_counts_only_behind_a_trusted_proxy,
);

fn refused(r: &Resp, status: u16, code: &str) {
    assert_eq!(r.status, status, "{}", r.text);
    assert_eq!(
        r.problem_type(),
        format!("https://danbao.dev/problems/{code}"),
        "{}",
        r.text
    );
}

fn retry_after(r: &Resp) -> i64 {
    r.headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no Retry-After in {:?}", r.headers))
}

/// Seconds until one more request is allowed, for a rate of `per_hour`.
fn refill_s(per_hour: u32) -> i64 {
    (3600 + i64::from(per_hour) - 1) / i64::from(per_hour)
}

async fn login(t: &TestApp, from: u8, username: &str, password: &str) -> Resp {
    t.post_from(
        from,
        "/api/v1/sessions",
        None,
        json!({"username": username, "password": password}),
    )
    .await
}

async fn register(t: &TestApp, username: &str) {
    let r = t
        .post(
            "/api/v1/accounts",
            None,
            json!({"username": username, "password": "correct-horse", "role": "buyer"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
}

async fn wrong_logins_are_rate_limited_per_address_and_per_account(t: TestApp) {
    let t = t.with_shipped_limits().await;
    let limits = Limits::default();
    register(&t, "alice").await;
    register(&t, "bob").await;

    // Per account: alice's password is guessed from one address until her account refuses.
    for _ in 0..limits.login.per_account.burst {
        refused(&login(&t, 1, "alice", "wrong-password").await, 401, "bad-credentials");
    }
    let limited = login(&t, 1, "alice", "wrong-password").await;
    refused(&limited, 429, "rate-limited");
    assert_eq!(retry_after(&limited), refill_s(limits.login.per_account.per_hour));
    assert_eq!(limited.body["retry_after"], retry_after(&limited));
    // ... from every address, the right password too, until the refill ...
    refused(&login(&t, 2, "alice", "correct-horse").await, 429, "rate-limited");
    // ... while another account on the same address logs in as usual.
    assert_eq!(login(&t, 1, "bob", "correct-horse").await.status, 200);

    // Per address: one address trying many usernames is stopped, another is not.
    for i in 0..limits.login.per_address.burst {
        refused(
            &login(&t, 3, &format!("nobody{i}"), "wrong-password").await,
            401,
            "bad-credentials",
        );
    }
    let limited = login(&t, 3, "bob", "correct-horse").await;
    refused(&limited, 429, "rate-limited");
    assert_eq!(retry_after(&limited), refill_s(limits.login.per_address.per_hour));
    assert_eq!(login(&t, 4, "bob", "correct-horse").await.status, 200);
    // The login page says it in Chinese, with the same header (a browser shown the form
    // first, posting from the limited address).
    let browser = danbao_testkit::Browser::new(&t);
    browser.get("/login").await;
    let token = browser.form_token().unwrap();
    let page = browser
        .send(
            t.client_from(3)
                .post(format!("{}/login", t.url))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(danbao_testkit::form(&[
                    ("csrf_token", token.as_str()),
                    ("username", "bob"),
                    ("password", "correct-horse"),
                ])),
        )
        .await;
    assert_eq!(page.status, 429);
    assert!(page.text.contains("请求过于频繁"), "{}", page.text);
    assert!(retry_after(&page) >= 1);

    // The limits refill on the app's clock.
    t.advance(retry_after(&limited) * 1000);
    assert_eq!(login(&t, 3, "bob", "correct-horse").await.status, 200);
    t.advance(refill_s(limits.login.per_account.per_hour) * 1000);
    assert_eq!(login(&t, 2, "alice", "correct-horse").await.status, 200);
    t.finish().await;
}

async fn guest_order_from(t: &TestApp, from: u8, product: &str, quantity: i64, contact: &str) -> Resp {
    t.post_from(
        from,
        "/api/v1/orders",
        None,
        json!({"product_id": product, "quantity": quantity, "contact": contact, "query_password": "guest-pass-1"}),
    )
    .await
}

async fn lookup(t: &TestApp, from: u8, order: &str, contact: &str, password: &str) -> Resp {
    t.post_from(
        from,
        "/api/v1/orders/lookup",
        None,
        json!({"order_id": order, "contact": contact, "query_password": password}),
    )
    .await
}

async fn checkout_and_lookup_are_rate_limited(t: TestApp) {
    let t = t.with_shipped_limits().await;
    let limits = Limits::default();
    let (seller, _) = t.user("rl_seller", "seller").await;
    let product = t.card_product(&seller, 100, 100).await;

    // One guest contact checks out until it is refused; another contact is not.
    for _ in 0..limits.checkout.per_account.burst {
        assert_eq!(guest_order_from(&t, 1, &product, 1, "qq:777").await.status, 201);
    }
    let limited = guest_order_from(&t, 2, &product, 1, "QQ: 777").await;
    refused(&limited, 429, "rate-limited");
    assert_eq!(retry_after(&limited), refill_s(limits.checkout.per_account.per_hour));
    assert_eq!(guest_order_from(&t, 1, &product, 1, "qq:778").await.status, 201);

    // 查单 with made-up order ids: one contact is stopped, another is not.
    let nowhere = "0190d5a0-0000-7000-8000-000000000000";
    for _ in 0..limits.lookup.per_account.burst {
        refused(
            &lookup(&t, 3, nowhere, "qq:999", "guest-pass-1").await,
            404,
            "not-found",
        );
    }
    let limited = lookup(&t, 3, nowhere, "qq:999", "guest-pass-1").await;
    refused(&limited, 429, "rate-limited");
    refused(
        &lookup(&t, 3, nowhere, "qq:998", "guest-pass-1").await,
        404,
        "not-found",
    );
    t.advance(retry_after(&limited) * 1000);
    refused(
        &lookup(&t, 3, nowhere, "qq:999", "guest-pass-1").await,
        404,
        "not-found",
    );
    t.finish().await;
}

async fn a_locked_query_password_refuses_even_the_right_one(t: TestApp) {
    let t = t.with_shipped_limits().await;
    let rules = RuleSet::default_rules().unwrap().limits;
    let (seller, _) = t.user("lock_seller", "seller").await;
    let product = t.card_product(&seller, 100, 10).await;
    let placed = guest_order_from(&t, 1, &product, 1, "qq:4242").await;
    let other = guest_order_from(&t, 1, &product, 1, "qq:4242").await;
    let order = placed.body["id"].as_str().unwrap().to_string();
    let other = other.body["id"].as_str().unwrap().to_string();

    // The free failures, then the one that locks the order.
    for _ in 0..=rules.query_password_failures_free {
        refused(
            &lookup(&t, 2, &order, "qq:4242", "wrong-pass-1").await,
            404,
            "not-found",
        );
    }
    let locked = lookup(&t, 1, &order, "qq:4242", "guest-pass-1").await;
    refused(&locked, 429, "query-password-locked");
    assert_eq!(locked.body["retry_after"], rules.query_password_lock_seconds);
    assert_eq!(retry_after(&locked), rules.query_password_lock_seconds);
    assert!(locked.body["locked_until"].is_string(), "{}", locked.text);
    // Only that order: the same buyer's other order opens.
    assert_eq!(lookup(&t, 1, &other, "qq:4242", "guest-pass-1").await.status, 200);

    // The lock is in the database: a restarted server keeps it.
    let same_rules = t.app().current_rules().as_ref().clone();
    let t = t.restart_with_rules(same_rules).await;
    refused(
        &lookup(&t, 1, &order, "qq:4242", "guest-pass-1").await,
        429,
        "query-password-locked",
    );
    t.advance(rules.query_password_lock_seconds * 1000);
    let opened = lookup(&t, 1, &order, "qq:4242", "guest-pass-1").await;
    assert_eq!(opened.status, 200, "{}", opened.text);
    assert!(opened.body["access_token"].is_string());
    // The right password clears the count: one more mistake is free again.
    refused(
        &lookup(&t, 1, &order, "qq:4242", "wrong-pass-1").await,
        404,
        "not-found",
    );
    assert_eq!(lookup(&t, 1, &order, "qq:4242", "guest-pass-1").await.status, 200);
    t.finish().await;
}

async fn unpaid_orders_hold_at_most_a_buyers_cap_and_share(t: TestApp) {
    let t = t.with_shipped_limits().await;
    let rules = RuleSet::default_rules().unwrap().limits;
    let (seller, _) = t.user("hoard_seller", "seller").await;
    let small = t.card_product(&seller, 100, 10).await;
    let large = t.card_product(&seller, 100, 100).await;
    let share = 10 * rules.unpaid_share_of_stock_bps / 10_000;

    // A share of the small product's stock, then no more for that buyer ...
    assert_eq!(guest_order_from(&t, 1, &small, share, "qq:1").await.status, 201);
    let r = guest_order_from(&t, 1, &small, 1, "QQ:1 ").await;
    refused(&r, 409, "stock-share-limit");
    assert_eq!(r.body["held_units"], share);
    assert_eq!(r.body["max_units"], share);
    assert_eq!(r.body["share_bps"], rules.unpaid_share_of_stock_bps);
    // ... while another buyer still gets one.
    assert_eq!(guest_order_from(&t, 2, &small, 1, "qq:2").await.status, 201);

    // Over all products, a buyer holds at most the cap.
    let rest = rules.unpaid_units_per_buyer_max - share;
    let filled = guest_order_from(&t, 1, &large, rest, "qq:1").await;
    assert_eq!(filled.status, 201, "{}", filled.text);
    let r = guest_order_from(&t, 1, &large, 1, "qq:1").await;
    refused(&r, 409, "unpaid-units-limit");
    assert_eq!(r.body["holder"], "contact");
    assert_eq!(r.body["held_units"], rules.unpaid_units_per_buyer_max);
    assert_eq!(r.body["max_units"], rules.unpaid_units_per_buyer_max);
    // A refused order changed nothing: the stock is what the placed orders left.
    let stock = t.get(&format!("/api/v1/products/{large}"), None).await.body["stock"].clone();
    assert_eq!(stock, json!(100 - rest));

    // An account is capped the same way.
    let (buyer, _) = t.user("hoarder", "buyer").await;
    let order = |q: i64| {
        t.post(
            "/api/v1/orders",
            Some(&buyer),
            json!({"product_id": large, "quantity": q}),
        )
    };
    assert_eq!(order(rules.unpaid_units_per_buyer_max).await.status, 201);
    let r = order(1).await;
    refused(&r, 409, "unpaid-units-limit");
    assert_eq!(r.body["holder"], "account");

    // Paying frees the cap: the buyer holds nothing unpaid any more.
    t.pay(filled.body["payment"]["payment_id"].as_str().unwrap()).await;
    let id = filled.body["id"].as_str().unwrap();
    let token = filled.body["access_token"].as_str().unwrap();
    t.wait_for_status(&format!("/api/v1/orders/{id}?access_token={token}"), None, "delivered")
        .await;
    assert_eq!(guest_order_from(&t, 1, &large, rest, "qq:1").await.status, 201);
    // So does the end of the payment window: the orders expire and the stock comes back.
    t.advance(t.app().current_rules().payment_window_ms() + 1);
    t.run_due_jobs().await;
    assert_eq!(
        guest_order_from(&t, 1, &large, rules.unpaid_units_per_buyer_max, "qq:1")
            .await
            .status,
        201
    );

    // Per network address, the deployment's cap (here lowered to 3 units).
    let limits = Limits {
        unpaid_units_per_address_max: 3,
        ..Limits::default()
    };
    let same_rules = t.app().current_rules().as_ref().clone();
    let t = t.restart_with(same_rules, limits).await;
    assert_eq!(guest_order_from(&t, 5, &large, 3, "qq:50").await.status, 201);
    let r = guest_order_from(&t, 5, &large, 1, "qq:51").await;
    refused(&r, 409, "unpaid-units-limit");
    assert_eq!(r.body["holder"], "address");
    assert_eq!(r.body["max_units"], 3);
    assert_eq!(guest_order_from(&t, 6, &large, 1, "qq:51").await.status, 201);
    t.finish().await;
}

async fn forged_notifications_are_counted_not_stored_one_by_one(t: TestApp) {
    let t = t.with_shipped_limits().await;
    let admin = t.admin().await;
    let rows = |t: &TestApp| {
        let t = t.app().store.clone();
        async move { t.execute_raw("UPDATE security_events SET kind = kind").await.unwrap() }
    };
    let before = rows(&t).await;
    let forged = 1000;
    let statuses: Vec<u16> = futures::stream::iter(0..forged)
        .map(|i| {
            let t = &t;
            async move {
                t.raw(
                    t.http
                        .post(format!("{}/api/v1/payments/sandbox/notify", t.url))
                        .header(danbao_sandbox::wire::SIGNATURE_HEADER, "00")
                        .body(format!("{{\"forged\": {i}}}")),
                )
                .await
                .status
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    assert!(statuses.iter().all(|s| *s == 401), "{statuses:?}");
    assert_eq!(rows(&t).await - before, 1, "one row for the whole flood");

    let events = t.get("/api/v1/admin/security-events", Some(&admin)).await;
    let refused: Vec<&Value> = events.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "notification_refused")
        .collect();
    assert_eq!(refused.len(), 1, "{}", events.text);
    assert_eq!(refused[0]["occurrences"], forged);
    assert!(refused[0]["last_at"].is_string());

    // An hour later the count starts a new row: the table grows with time, not volume.
    t.advance(3_600_000);
    let r = t
        .raw(
            t.http
                .post(format!("{}/api/v1/payments/sandbox/notify", t.url))
                .header(danbao_sandbox::wire::SIGNATURE_HEADER, "00")
                .body("{}"),
        )
        .await;
    assert_eq!(r.status, 401);
    assert_eq!(rows(&t).await - before, 2);
    t.finish().await;
}

async fn an_oversized_body_is_refused_before_it_is_buffered(t: TestApp) {
    let t = t.with_shipped_limits().await;
    let (seller, _) = t.user("big_seller", "seller").await;
    let product = t.card_product(&seller, 100, 1).await;
    let idempotency_rows = || async {
        t.app()
            .store
            .execute_raw("UPDATE idempotency_keys SET created_at = created_at")
            .await
            .unwrap()
    };
    let before = idempotency_rows().await;
    let big =
        json!({"product_id": product, "quantity": 1, "contact": "x".repeat(1 << 20), "query_password": "guest-pass-1"})
            .to_string();
    for key in [Some("big-1"), None] {
        let mut req = t
            .http
            .post(format!("{}/api/v1/orders", t.url))
            .header("content-type", "application/json")
            .body(big.clone());
        if let Some(k) = key {
            req = req.header("idempotency-key", k);
        }
        let r = t.raw(req).await;
        refused(&r, 413, "payload-too-large");
        assert_eq!(
            r.headers.get("content-type").unwrap().to_str().unwrap(),
            "application/problem+json"
        );
    }
    assert_eq!(
        idempotency_rows().await,
        before,
        "no idempotency row for a refused body"
    );
    assert_eq!(
        t.get(&format!("/api/v1/products/{product}"), None).await.body["stock"],
        1,
        "nothing was ordered"
    );

    // A route with a larger limit keeps it with an Idempotency-Key: 4 000 keys (~200 KB).
    let other = t.card_product(&seller, 100, 0).await;
    let keys: String = (0..4000)
        .map(|i| format!("LARGE-IMPORT-KEY-{i:08}-{}\n", "k".repeat(24)))
        .collect();
    assert!(keys.len() > 64 * 1024);
    let r = t
        .raw(
            t.http
                .post(format!("{}/api/v1/seller/products/{other}/card-keys", t.url))
                .bearer_auth(&seller)
                .header("content-type", "text/plain")
                .header("idempotency-key", "import-1")
                .body(keys),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["imported"], 4000);
    t.finish().await;
}

async fn forwarded_login(t: &TestApp, forwarded_for: &str, username: &str) -> Resp {
    t.raw(
        t.http
            .post(format!("{}/api/v1/sessions", t.url))
            .header("x-forwarded-for", forwarded_for)
            .json(&json!({"username": username, "password": "wrong-password"})),
    )
    .await
}

/// Behind a trusted proxy each client named in X-Forwarded-For is its own address; from
/// anyone else the header is ignored, so a client cannot dodge its limit by inventing one.
async fn forwarded_for_counts_only_behind_a_trusted_proxy(t: TestApp) {
    let t = t.with_shipped_limits().await;
    let burst = Limits::default().login.per_address.burst;
    // No trusted proxy (the default): every request is 127.0.0.1, whatever it claims.
    for i in 0..burst {
        let r = forwarded_login(&t, &format!("203.0.113.{i}"), &format!("nobody{i}")).await;
        refused(&r, 401, "bad-credentials");
    }
    refused(
        &forwarded_login(&t, "203.0.113.200", "nobody-else").await,
        429,
        "rate-limited",
    );

    // Behind a trusted proxy (this machine), the client it names is the address.
    let limits = Limits {
        trusted_proxies: vec!["127.0.0.0/8".parse().unwrap()],
        ..Limits::default()
    };
    let same_rules = t.app().current_rules().as_ref().clone();
    let t = t.restart_with(same_rules, limits).await;
    for i in 0..burst {
        let r = forwarded_login(&t, "198.51.100.7", &format!("nobody{i}")).await;
        refused(&r, 401, "bad-credentials");
    }
    refused(
        &forwarded_login(&t, "198.51.100.7", "nobody-else").await,
        429,
        "rate-limited",
    );
    // Another client behind the same proxy is not affected; a made-up hop before the
    // client's does not change who it is.
    refused(
        &forwarded_login(&t, "198.51.100.8", "nobody-else").await,
        401,
        "bad-credentials",
    );
    refused(
        &forwarded_login(&t, "192.0.2.1, 198.51.100.7", "nobody-else").await,
        429,
        "rate-limited",
    );
    t.finish().await;
}
