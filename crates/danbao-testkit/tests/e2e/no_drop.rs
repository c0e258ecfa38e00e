//! No dropped orders (issue 3): one test per way a payment gets lost elsewhere.
//! Each ends with `finish()`: the ledger check is clean and no job was dead-lettered.

use danbao_domain::Account;
use danbao_domain::RuleSet;
use danbao_sandbox::wire::Faults;
use danbao_testkit::{Resp, TestApp, HOUR_MS};
use serde_json::{json, Value};

on_both_databases!(
    duplicate_and_replayed_notifications_change_nothing,
    late_payment_when_stock_ran_out_is_refunded,
    payment_for_an_unknown_order_is_refunded,
    second_payment_for_an_order_is_refunded,
    amount_or_currency_mismatch_never_delivers,
    gateway_down_then_back,
    lost_notification_is_found_by_active_query,
    payment_found_only_by_the_statement,
    a_payment_whose_every_notification_was_lost_is_applied_by_the_daily_reconciliation,
    bad_notifications_are_refused_and_change_nothing,
    failing_refund_is_dead_lettered_not_dropped,
    a_rules_change_keeps_orders_in_flight,
);

const PROVIDER: &str = "sandbox";

async fn shop(t: &TestApp, name: &str, keys: usize) -> (String, String, String) {
    let (seller_token, seller_id) = t.user(name, "seller").await;
    let product = t.card_product(&seller_token, 1500, keys).await;
    (seller_token, seller_id, product)
}

/// (order id, access token, provider payment id)
fn ids(placed: &Resp) -> (String, String, String) {
    assert_eq!(placed.status, 201, "{}", placed.text);
    (
        placed.body["id"].as_str().unwrap().to_string(),
        placed.body["access_token"].as_str().unwrap().to_string(),
        placed.body["payment"]["payment_id"].as_str().unwrap().to_string(),
    )
}

async fn gateway_view(t: &TestApp, payment_id: &str) -> Value {
    t.get(&format!("/sandbox/payments/{payment_id}"), None).await.body
}

fn notification(view: &Value, trade_no: &str, amount_minor: i64, currency: &str) -> String {
    json!({
        "notify_id": format!("n-{trade_no}"),
        "payment_id": view["payment_id"],
        "out_trade_no": view["out_trade_no"],
        "trade_no": trade_no,
        "amount_minor": amount_minor,
        "currency": currency,
        "status": "succeeded",
        "paid_at": "2026-11-25T00:00:00Z",
        "sent_at": "2026-11-25T00:00:00Z",
    })
    .to_string()
}

async fn admin_order(t: &TestApp, admin: &str, order: &str) -> Value {
    let r = t.get(&format!("/api/v1/admin/orders/{order}"), Some(admin)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body
}

fn order_path(order: &str, token: &str) -> String {
    format!("/api/v1/orders/{order}?access_token={token}")
}

async fn duplicate_and_replayed_notifications_change_nothing(t: TestApp) {
    let (_, seller_id, product) = shop(&t, "dup_seller", 3).await;
    t.set_faults(Faults {
        duplicate_pct: 100,
        ..Faults::default()
    });
    let (order, token, payment) = ids(&t.guest_order(&product, 1).await);
    t.pay(&payment).await;
    t.wait_for_status(&order_path(&order, &token), None, "delivered").await;
    // The merchant dashboard's "resend" button, three times, and a replay of the same bytes.
    for _ in 0..3 {
        let r = t
            .raw(t.http.post(format!("{}/sandbox/payments/{payment}/renotify", t.url)))
            .await;
        assert_eq!(r.status, 202, "{}", r.text);
    }
    let view = t
        .wait_until(
            &format!("/sandbox/payments/{payment}"),
            None,
            "every resend acknowledged",
            |v| {
                v["notifications"]
                    .as_array()
                    .is_some_and(|n| n.iter().filter(|a| a["outcome"] == "acknowledged").count() >= 5)
            },
        )
        .await;
    let replay = notification(&view.body, view.body["trade_no"].as_str().unwrap(), 1500, "CNY");
    assert_eq!(t.notify_signed(&replay).await.text, "success");

    let admin = t.admin().await;
    let o = admin_order(&t, &admin, &order).await;
    assert_eq!(o["payments"].as_array().unwrap().len(), 1, "{o}");
    assert_eq!(o["order"]["status"], "delivered");
    let seller = TestApp::seller_account(&seller_id);
    assert_eq!(t.balance(&Account::Escrow(seller)).await, 1500);
    let stats = t.get("/api/v1/admin/stats", Some(&admin)).await;
    assert_eq!(stats.body["keys_allocated_twice"], 0);
    assert_eq!(stats.body["payments_by_outcome"]["captured"], 1, "{}", stats.text);
    t.finish().await;
}

async fn late_payment_when_stock_ran_out_is_refunded(t: TestApp) {
    let (_, seller_id, product) = shop(&t, "late_seller", 1).await;
    let (order_a, token_a, payment_a) = ids(&t.guest_order(&product, 1).await);
    t.advance(15 * 60_000);
    t.run_due_jobs().await;
    assert_eq!(
        t.get(&order_path(&order_a, &token_a), None).await.body["status"],
        "expired"
    );
    // Someone else buys the last key.
    let (order_b, token_b, payment_b) = ids(&t.guest_order(&product, 1).await);
    t.pay(&payment_b).await;
    t.wait_for_status(&order_path(&order_b, &token_b), None, "delivered")
        .await;
    // Now the first buyer pays: the money is not ignored, and no key is invented.
    t.pay(&payment_a).await;
    let refunded = t
        .wait_until(&order_path(&order_a, &token_a), None, "a refund", |v| {
            v["refunds"].as_array().is_some_and(|r| !r.is_empty())
        })
        .await;
    assert_eq!(refunded.body["status"], "expired");
    assert_eq!(refunded.body["refunds"][0]["reason"], "out_of_stock");
    t.settle_refunds().await;
    let after = t.get(&order_path(&order_a, &token_a), None).await;
    assert_eq!(after.body["refunds"][0]["status"], "confirmed", "{}", after.text);
    assert_eq!(gateway_view(&t, &payment_a).await["refunded_minor"], 1500);
    let d = t
        .get(
            &format!("/api/v1/orders/{order_a}/delivery?access_token={token_a}"),
            None,
        )
        .await;
    assert_eq!(d.status, 409, "nothing delivered to the refunded buyer");
    let seller = TestApp::seller_account(&seller_id);
    assert_eq!(
        t.balance(&Account::Escrow(seller)).await,
        1500,
        "only order B is in escrow"
    );
    assert_eq!(t.balance(&Account::Provider(PROVIDER.into())).await, 1500);
    t.finish().await;
}

async fn payment_for_an_unknown_order_is_refunded(t: TestApp) {
    // A payment made at the gateway under an out_trade_no the platform never issued.
    let client = t.sandbox_client();
    let created = client
        .create_payment(&danbao_sandbox::wire::CreatePayment {
            out_trade_no: uuid::Uuid::now_v7().to_string(),
            amount_minor: 777,
            currency: "CNY".into(),
            subject: "stray".into(),
            notify_url: format!("{}/api/v1/payments/sandbox/notify", t.url),
            return_url: String::new(),
            site_name: None,
            order_ref: None,
            expires_at: None,
        })
        .await
        .unwrap();
    t.pay(&created.payment_id).await;
    let admin = t.admin().await;
    t.wait_until("/api/v1/admin/stats", Some(&admin), "the stray payment", |v| {
        v["payments_by_outcome"]["refund_unaccepted"] == 1
    })
    .await;
    t.settle_refunds().await;
    assert_eq!(gateway_view(&t, &created.payment_id).await["refunded_minor"], 777);
    assert_eq!(t.balance(&Account::Provider(PROVIDER.into())).await, 0);
    assert_eq!(t.balance(&Account::RefundsPending(PROVIDER.into())).await, 0);
    t.finish().await;
}

async fn second_payment_for_an_order_is_refunded(t: TestApp) {
    let (_, seller_id, product) = shop(&t, "double_seller", 2).await;
    let (order, token, first) = ids(&t.guest_order(&product, 1).await);
    // The buyer reopens the cashier (a second attempt) and pays both.
    let second = t
        .post(
            &format!("/api/v1/orders/{order}/payments?access_token={token}"),
            None,
            json!({}),
        )
        .await;
    assert_eq!(second.status, 201, "{}", second.text);
    let second = second.body["payment_id"].as_str().unwrap().to_string();
    assert_ne!(first, second);
    t.pay(&first).await;
    t.wait_for_status(&order_path(&order, &token), None, "delivered").await;
    t.pay(&second).await;
    t.wait_until(&order_path(&order, &token), None, "the second payment's refund", |v| {
        v["refunds"].as_array().is_some_and(|r| r.len() == 1)
    })
    .await;
    t.settle_refunds().await;
    let o = t.get(&order_path(&order, &token), None).await;
    assert_eq!(o.body["status"], "delivered");
    assert_eq!(o.body["refunds"][0]["reason"], "already_paid");
    assert_eq!(o.body["refunds"][0]["status"], "confirmed");
    assert_eq!(gateway_view(&t, &second).await["refunded_minor"], 1500);
    assert_eq!(gateway_view(&t, &first).await["refunded_minor"], 0);
    let seller = TestApp::seller_account(&seller_id);
    assert_eq!(t.balance(&Account::Escrow(seller)).await, 1500);
    // Exactly one key went out, to the one order.
    let d = t
        .get(&format!("/api/v1/orders/{order}/delivery?access_token={token}"), None)
        .await;
    assert_eq!(d.body["items"].as_array().unwrap().len(), 1);
    t.finish().await;
}

async fn amount_or_currency_mismatch_never_delivers(t: TestApp) {
    let (_, _, product) = shop(&t, "mismatch_seller", 2).await;
    let admin = t.admin().await;
    let (order, token, payment) = ids(&t.guest_order(&product, 1).await);
    let view = gateway_view(&t, &payment).await;
    // Correctly signed, but for one fen less (a "0元购" attempt), then in another currency.
    assert_eq!(
        t.notify_signed(&notification(&view, "tx-short", 1499, "CNY"))
            .await
            .text,
        "success"
    );
    assert_eq!(
        t.notify_signed(&notification(&view, "tx-usd", 1500, "USD")).await.text,
        "success"
    );
    let o = t.get(&order_path(&order, &token), None).await;
    assert_eq!(o.body["status"], "pending_payment");
    assert_eq!(t.balance(&Account::Provider(PROVIDER.into())).await, 0);
    let overview = t.get("/api/v1/admin/reconciliation", Some(&admin)).await;
    let open = overview.body["open_exceptions"].as_array().unwrap().clone();
    assert_eq!(open.len(), 2, "{}", overview.text);
    assert!(open.iter().all(|e| e["kind"] == "amount_mismatch"));
    // The statement does not list these made-up transactions: missing at the provider.
    let until = danbao_app::clock::rfc3339(t.now() + 60_000);
    let report = t
        .post(
            "/api/v1/admin/reconciliation/statements",
            Some(&admin),
            json!({"from": danbao_app::clock::rfc3339(t.now() - 3_600_000), "to": until}),
        )
        .await;
    assert_eq!(report.status, 200, "{}", report.text);
    assert_eq!(report.body["missing_at_provider"], 2, "{}", report.text);
    // An admin resolves each exception with a reason; a resolved one cannot be resolved again.
    let first = open[0]["id"].as_str().unwrap();
    let bad = t
        .post(
            &format!("/api/v1/admin/reconciliation/exceptions/{first}/resolve"),
            Some(&admin),
            json!({"action": "delete", "note": "x"}),
        )
        .await;
    assert_eq!(bad.status, 422);
    let ok = t
        .post(
            &format!("/api/v1/admin/reconciliation/exceptions/{first}/resolve"),
            Some(&admin),
            json!({"action": "acknowledge", "note": "forged in a test"}),
        )
        .await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    assert_eq!(ok.body["status"], "resolved");
    let again = t
        .post(
            &format!("/api/v1/admin/reconciliation/exceptions/{first}/resolve"),
            Some(&admin),
            json!({"action": "acknowledge", "note": "again"}),
        )
        .await;
    assert_eq!(again.status, 409);
    let (_, buyer_token_like) = (0, t.user("nobody", "buyer").await.0);
    let denied = t.get("/api/v1/admin/reconciliation", Some(&buyer_token_like)).await;
    assert_eq!(denied.status, 403);
    // The real payment still goes through.
    t.pay(&payment).await;
    t.wait_for_status(&order_path(&order, &token), None, "delivered").await;
    t.finish().await;
}

async fn gateway_down_then_back(t: TestApp) {
    let (seller_token, _, product) = shop(&t, "down_seller", 3).await;
    t.set_faults(Faults {
        down: true,
        ..Faults::default()
    });
    let refused = t.guest_order(&product, 1).await;
    assert_eq!(refused.status, 502, "{}", refused.text);
    assert_eq!(
        refused.problem_type(),
        "https://danbao.dev/problems/provider-unavailable"
    );
    t.set_faults(Faults::default());
    let (order, token, payment) = ids(&t.guest_order(&product, 1).await);
    t.pay(&payment).await;
    t.wait_for_status(&order_path(&order, &token), None, "delivered").await;

    // A refund while the gateway is down is retried, not lost.
    let r = t
        .post(
            "/api/v1/seller/products",
            Some(&seller_token),
            json!({"title": "代充", "category": "top_up", "price_minor": 900, "delivery_kind": "manual"}),
        )
        .await;
    let manual = r.body["id"].as_str().unwrap().to_string();
    let (m_order, m_token, m_payment) = ids(&t.guest_order(&manual, 1).await);
    t.pay(&m_payment).await;
    t.wait_for_status(&order_path(&m_order, &m_token), None, "paid").await;
    t.set_faults(Faults {
        down: true,
        ..Faults::default()
    });
    t.advance(24 * 3_600_000);
    t.run_due_jobs().await;
    let o = t.get(&order_path(&m_order, &m_token), None).await;
    assert_eq!(o.body["status"], "refunded");
    assert_eq!(
        o.body["refunds"][0]["status"], "requested",
        "not confirmed while the gateway is down"
    );
    assert_eq!(t.balance(&Account::RefundsPending(PROVIDER.into())).await, 900);
    // An outage of three and a half days: far longer than the retries a job gets for a
    // real failure (it was dead-lettered after 25 before the simulator found it). An
    // outage is waited out, however long, and never buried.
    for _ in 0..42 {
        t.advance(2 * 3_600_000);
        t.run_due_jobs().await;
    }
    let admin = t.admin().await;
    let dead = t.get("/api/v1/admin/jobs?status=dead", Some(&admin)).await;
    assert_eq!(dead.body["items"].as_array().unwrap().len(), 0, "{}", dead.text);
    t.set_faults(Faults::default());
    // The retries are an hour apart by now: the next one finds the gateway back.
    t.advance(3_600_000);
    t.settle_refunds().await;
    let o = t.get(&order_path(&m_order, &m_token), None).await;
    assert_eq!(o.body["refunds"][0]["status"], "confirmed");
    assert_eq!(gateway_view(&t, &m_payment).await["refunded_minor"], 900);
    assert_eq!(t.balance(&Account::RefundsPending(PROVIDER.into())).await, 0);
    t.finish().await;
}

async fn lost_notification_is_found_by_active_query(t: TestApp) {
    let (_, _, product) = shop(&t, "query_seller", 2).await;
    t.set_faults(Faults {
        drop_pct: 100,
        ..Faults::default()
    });
    let (order, token, payment) = ids(&t.guest_order(&product, 1).await);
    t.pay(&payment).await;
    t.wait_until(
        &format!("/sandbox/payments/{payment}"),
        None,
        "a dropped notification",
        |v| {
            v["notifications"]
                .as_array()
                .is_some_and(|n| n.iter().any(|a| a["outcome"] == "dropped"))
        },
    )
    .await;
    assert_eq!(
        t.get(&order_path(&order, &token), None).await.body["status"],
        "pending_payment"
    );
    // The first active query is due one minute after the attempt.
    t.advance(59_000);
    t.run_due_jobs().await;
    assert_eq!(
        t.get(&order_path(&order, &token), None).await.body["status"],
        "pending_payment"
    );
    t.advance(1_000);
    t.run_due_jobs().await;
    assert_eq!(
        t.get(&order_path(&order, &token), None).await.body["status"],
        "delivered"
    );
    let admin = t.admin().await;
    let o = admin_order(&t, &admin, &order).await;
    assert_eq!(o["payments"][0]["source"], "query");
    t.finish().await;
}

/// A guest order whose every active query ran before it expired, then paid at the old
/// cashier with every notification lost: an hour on, the platform still has not heard of
/// it. Returns (order id, access token).
async fn paid_after_the_last_query_unheard(t: &TestApp, seller: &str) -> (String, String) {
    let (_, _, product) = shop(t, seller, 2).await;
    let (order, token, payment) = ids(&t.guest_order(&product, 1).await);
    t.advance(20 * 60_000);
    t.run_due_jobs().await;
    assert_eq!(t.get(&order_path(&order, &token), None).await.body["status"], "expired");
    t.set_faults(Faults {
        drop_pct: 100,
        ..Faults::default()
    });
    t.pay(&payment).await;
    t.advance(60 * 60_000);
    t.run_due_jobs().await;
    assert_eq!(t.get(&order_path(&order, &token), None).await.body["status"], "expired");
    (order, token)
}

async fn payment_found_only_by_the_statement(t: TestApp) {
    let (order, token) = paid_after_the_last_query_unheard(&t, "statement_seller").await;
    let admin = t.admin().await;
    let report = t
        .post(
            "/api/v1/admin/reconciliation/statements",
            Some(&admin),
            json!({"from": danbao_app::clock::rfc3339(t.now() - 3 * 3_600_000), "to": danbao_app::clock::rfc3339(t.now())}),
        )
        .await;
    assert_eq!(report.status, 200, "{}", report.text);
    assert_eq!(report.body["applied_late"], 1, "{}", report.text);
    assert_eq!(report.body["missing_at_provider"], 0);
    assert_eq!(report.body["amount_mismatch"], 0);
    assert_eq!(report.body["items"][0]["kind"], "applied_late");
    assert_eq!(report.body["items"][0]["status"], "resolved");
    // The late payment went through the one path: stock allowed, so it was delivered.
    assert_eq!(
        t.get(&order_path(&order, &token), None).await.body["status"],
        "delivered"
    );
    let o = admin_order(&t, &admin, &order).await;
    assert_eq!(o["payments"][0]["source"], "statement");
    // A second run finds everything matched and records nothing new.
    let again = t
        .post(
            "/api/v1/admin/reconciliation/statements",
            Some(&admin),
            json!({"from": danbao_app::clock::rfc3339(t.now() - 3 * 3_600_000), "to": danbao_app::clock::rfc3339(t.now())}),
        )
        .await;
    assert_eq!(again.body["matched"], 1, "{}", again.text);
    assert_eq!(again.body["applied_late"], 0);
    let overview = t.get("/api/v1/admin/reconciliation", Some(&admin)).await;
    assert_eq!(overview.body["open_exceptions"].as_array().unwrap().len(), 0);
    assert_eq!(overview.body["runs"].as_array().unwrap().len(), 2);
    t.finish().await;
}

/// Nobody runs a reconciliation by hand: the day's statement is matched the next morning
/// by a job that chains itself from day to day, so a payment made after the last active
/// query, all of whose notifications were lost, is still applied (issue 17: the
/// simulator's first finding, seed 1, 300 steps).
async fn a_payment_whose_every_notification_was_lost_is_applied_by_the_daily_reconciliation(t: TestApp) {
    let (order, token) = paid_after_the_last_query_unheard(&t, "daily_seller").await;
    // The day ends, and an hour later its statement is matched.
    t.advance(25 * 3_600_000);
    t.run_due_jobs().await;
    assert_eq!(
        t.get(&order_path(&order, &token), None).await.body["status"],
        "delivered"
    );
    let admin = t.admin().await;
    let o = admin_order(&t, &admin, &order).await;
    assert_eq!(o["payments"][0]["source"], "statement");
    let overview = t.get("/api/v1/admin/reconciliation", Some(&admin)).await;
    assert!(
        !overview.body["runs"].as_array().unwrap().is_empty(),
        "{}",
        overview.text
    );
    // The next day's run is already queued.
    let queued = t.get("/api/v1/admin/jobs?status=queued", Some(&admin)).await;
    assert!(
        queued.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|j| j["kind"] == "reconcile_day"),
        "{}",
        queued.text
    );
    t.finish().await;
}

async fn bad_notifications_are_refused_and_change_nothing(t: TestApp) {
    let (_, _, product) = shop(&t, "badnote_seller", 2).await;
    let (order, token, payment) = ids(&t.guest_order(&product, 1).await);
    let view = gateway_view(&t, &payment).await;
    for amount in [0, -1500] {
        let r = t
            .notify_signed(&notification(&view, &format!("tx{amount}"), amount, "CNY"))
            .await;
        assert_eq!(r.status, 400, "{}", r.text);
        assert_eq!(r.problem_type(), "https://danbao.dev/problems/bad-notification");
    }
    let padded = format!("{}{}", notification(&view, "tx-big", 1500, "CNY"), " ".repeat(20_000));
    let r = t.notify_signed(&padded).await;
    assert_eq!(r.status, 400, "{}", r.text);
    let r = t.notify_signed("\u{0}\u{1}garbage").await;
    assert_eq!(r.status, 400, "{}", r.text);
    let huge = "x".repeat(200_000);
    let r = t.notify_signed(&huge).await;
    assert_eq!(r.status, 413, "{}", r.text);
    let r = t
        .raw(
            t.http
                .post(format!("{}/api/v1/payments/paypal/notify", t.url))
                .body("{}"),
        )
        .await;
    // A rail that is not configured takes nothing.
    assert_eq!(r.status, 404);
    assert_eq!(
        t.get(&order_path(&order, &token), None).await.body["status"],
        "pending_payment"
    );
    assert_eq!(t.balance(&Account::Provider(PROVIDER.into())).await, 0);
    let admin = t.admin().await;
    let stats = t.get("/api/v1/admin/stats", Some(&admin)).await;
    assert!(
        stats.body["payments_by_outcome"].as_object().unwrap().is_empty(),
        "{}",
        stats.text
    );
    t.finish().await;
}

async fn failing_refund_is_dead_lettered_not_dropped(t: TestApp) {
    let (_, _, product) = shop(&t, "dead_seller", 2).await;
    let admin = t.admin().await;
    let (_, _, payment) = ids(&t.guest_order(&product, 1).await);
    let view = gateway_view(&t, &payment).await;
    // A signed notification for a transaction the gateway never had, one fen short:
    // an admin tells the platform to refund it, and the gateway keeps refusing.
    t.notify_signed(&notification(&view, "tx-ghost", 1499, "CNY")).await;
    let overview = t.get("/api/v1/admin/reconciliation", Some(&admin)).await;
    let id = overview.body["open_exceptions"][0]["id"].as_str().unwrap().to_string();
    let r = t
        .post(
            &format!("/api/v1/admin/reconciliation/exceptions/{id}/resolve"),
            Some(&admin),
            json!({"action": "refund", "note": "send it back"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    for _ in 0..40 {
        t.run_due_jobs().await;
        t.advance(2 * 3_600_000);
    }
    let dead = t.get("/api/v1/admin/jobs?status=dead", Some(&admin)).await;
    let items = dead.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{}", dead.text);
    assert_eq!(items[0]["kind"], "refund");
    assert!(
        items[0]["last_error"].as_str().unwrap().contains("provider refused"),
        "{}",
        dead.text
    );
    // The money stays owed, in the books, where an admin sees it.
    assert_eq!(t.balance(&Account::RefundsPending(PROVIDER.into())).await, 1499);
    let job = items[0]["id"].as_str().unwrap();
    let r = t
        .post(&format!("/api/v1/admin/jobs/{job}/retry"), Some(&admin), json!({}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let queued = t.get("/api/v1/admin/jobs?status=queued", Some(&admin)).await;
    assert!(queued.body["items"].as_array().unwrap().iter().any(|j| j["id"] == job));
    t.finish_with_pending_jobs().await;
}

/// An operator publishes new rules (`serve --rules`, a restart) while orders made under
/// the old version are delivered or waiting for their payment: each is still judged by
/// its own version, and neither confirming nor a late notification stalls or fails.
async fn a_rules_change_keeps_orders_in_flight(t: TestApp) {
    let (_, _, product) = shop(&t, "rules_seller", 3).await;
    let (delivered, delivered_token, payment) = ids(&t.guest_order(&product, 1).await);
    t.pay(&payment).await;
    t.wait_for_status(&order_path(&delivered, &delivered_token), None, "delivered")
        .await;
    let (waiting, waiting_token, payment) = ids(&t.guest_order(&product, 1).await);
    let view = gateway_view(&t, &payment).await;

    let v2 = RuleSet::parse(&include_str!("../../../../rules/default.toml").replace(
        "acceptance_window_card_key_hours = 24",
        "acceptance_window_card_key_hours = 96",
    ))
    .unwrap();
    let t = t.restart_with_rules(v2).await;
    assert_eq!(t.get("/api/v1/rules", None).await.body["version"], 2);

    // A version-1 order confirmed under version 2.
    let r = t
        .post(
            &format!("/api/v1/orders/{delivered}/confirm?access_token={delivered_token}"),
            None,
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["status"], "completed");
    // A version-1 order's payment arriving under version 2.
    assert_eq!(
        t.notify_signed(&notification(&view, "tx-rules", 1500, "CNY"))
            .await
            .text,
        "success"
    );
    let o = t.get(&order_path(&waiting, &waiting_token), None).await;
    assert_eq!(
        (o.body["status"].as_str(), o.body["rule_version"].as_i64()),
        (Some("delivered"), Some(1)),
        "{}",
        o.text
    );
    // It is judged by version 1: auto-confirmed after 24 h, not version 2's 96 h.
    t.advance(25 * HOUR_MS);
    t.run_due_jobs().await;
    let o = t.get(&order_path(&waiting, &waiting_token), None).await;
    assert_eq!(o.body["status"], "completed", "{}", o.text);
    // New orders are made under version 2.
    assert_eq!(t.guest_order(&product, 1).await.body["rule_version"], 2);
    t.finish().await;
}
