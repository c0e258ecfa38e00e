//! The 易支付 V2 (RSA) rail end to end, against the in-process gateway speaking V2 (the
//! platform's `epay` rail configured with the test key pairs): the buyer picks the channel
//! at checkout, the platform opens the payment with a signed `api/pay/create` and sends
//! the buyer to the jump URL it answers, the platform-signed GET notification delivers the
//! card key; every bad notification (forged, tampered, MD5-signed, another merchant's,
//! unpaid, stale, repeated parameters, oversized) is refused, counted and delivers
//! nothing; a lost notification is found by `api/pay/query` (补单); a second payment is
//! refunded with an `out_refund_no` from our refund's request id, and asking again is the
//! same refund; and reconciliation says plainly that V2 has no statement.

use danbao_app::payments::RefundCommand;
use danbao_domain::{Account, Money};
use danbao_rails::epay_v2::{self, Notification, OrderRef, OrderState, Payment, QueryAnswer, QueryRequest};
use danbao_rails::rsa_sha256::{SigningKey, VerifyingKey};
use danbao_sandbox::wire::Faults;
use danbao_testkit::{Resp, TestApp, EPAY2_MERCHANT_PRIVATE, EPAY2_PLATFORM_PRIVATE, EPAY2_PLATFORM_PUBLIC, EPAY_KEY};
use serde_json::json;

use crate::rails_common::{order_path, shop, Placed};

on_both_databases_epay_v2!(
    a_guest_pays_through_epay_v2,
    every_bad_epay_v2_notification_is_refused_and_delivers_nothing,
    a_lost_epay_v2_notification_is_found_by_the_query,
    a_second_epay_v2_payment_is_refunded_once_by_its_refund_number,
    reconciling_epay_v2_says_there_is_no_statement,
);

const PID: &str = danbao_http::server::IN_PROCESS_EPAY_PID;

/// The gateway's payment id of the cashier the create answer's jump URL opens.
fn gateway_payment(t: &TestApp, cashier_url: &str) -> String {
    cashier_url
        .strip_prefix(&format!("{}/sandbox/cashier/", t.url))
        .unwrap_or_else(|| panic!("not the gateway's cashier: {cashier_url}"))
        .to_string()
}

async fn notify(t: &TestApp, query: &str) -> Resp {
    t.raw(t.http.get(format!("{}/api/v1/payments/epay/notify?{query}", t.url)))
        .await
}

fn platform_key() -> SigningKey {
    SigningKey::from_text(EPAY2_PLATFORM_PRIVATE).unwrap()
}

fn merchant_key() -> SigningKey {
    SigningKey::from_text(EPAY2_MERCHANT_PRIVATE).unwrap()
}

/// The gateway's clock (real time), which its answers are stamped with.
fn now_s() -> i64 {
    danbao_app::clock::Clock::now_ms(&danbao_app::clock::SystemClock).div_euclid(1000)
}

/// What the gateway says of `out_trade_no`, asked as the merchant over the V2 API.
async fn state_at_gateway(t: &TestApp, out_trade_no: &str) -> OrderState {
    let asked = OrderRef::OutTradeNo(out_trade_no.into());
    let body = QueryRequest {
        pid: PID.into(),
        order: asked.clone(),
    }
    .body(&merchant_key(), now_s())
    .unwrap();
    let r = t
        .raw(
            t.http
                .post(format!("{}/sandbox/epay/{}", t.url, epay_v2::PATH_QUERY))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body),
        )
        .await;
    let platform = VerifyingKey::from_text(EPAY2_PLATFORM_PUBLIC).unwrap();
    QueryAnswer::read(&r.text, &platform, PID, &asked, now_s()).unwrap()
}

async fn a_guest_pays_through_epay_v2(t: TestApp) {
    let product = shop(&t, "epay2_seller", 2).await;
    let p = crate::rails_common::place(&t, &product, "epay_wxpay", "epay").await;
    // The create answer's jump URL is the buyer's cashier.
    let payment = gateway_payment(&t, &p.cashier_url);
    t.pay(&payment).await;
    let o = t.wait_for_status(&order_path(&p), None, "delivered").await;
    assert!(o.body["paid_at"].is_string(), "{}", o.text);
    // The platform's GET was acknowledged with `success`, once.
    let view = t.get(&format!("/sandbox/payments/{payment}"), None).await.body;
    let outcomes: Vec<&str> = view["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, ["acknowledged"], "{view}");
    // The guest reveals the card key.
    let reveal = t
        .get(
            &format!("/api/v1/orders/{}/delivery?access_token={}", p.order, p.token),
            None,
        )
        .await;
    assert_eq!(reveal.status, 200, "{}", reveal.text);
    let key = reveal.body["items"][0]["content"].as_str().unwrap();
    assert!(key.starts_with(&format!("KEY-{product}-")), "{key}");
    assert_eq!(t.balance(&Account::Provider("epay".into())).await, 1500);
    // The gateway has it paid through the channel the buyer chose.
    let OrderState::Paid(paid) = state_at_gateway(&t, &p.out_trade_no).await else {
        panic!("not paid at the gateway");
    };
    assert_eq!((paid.pay_type.as_str(), paid.money), ("wxpay", Money::from_minor(1500)));
    // A new cashier for an order keeps the rail and channel chosen at checkout.
    let again = crate::rails_common::place(&t, &product, "epay_alipay", "epay").await;
    let second = t
        .post(
            &format!("/api/v1/orders/{}/payments?access_token={}", again.order, again.token),
            None,
            json!({}),
        )
        .await;
    assert_eq!(second.status, 201, "{}", second.text);
    let second_out = second.body["payment_id"].as_str().unwrap();
    assert_eq!(state_at_gateway(&t, second_out).await, OrderState::Unpaid);
    t.finish().await;
}

/// A notification for `p` as the platform words it, stamped `timestamp`, with `edit`
/// applied to its parameters before they are signed with `key`.
fn signed_at(p: &Placed, key: &SigningKey, timestamp: i64, edit: impl FnOnce(&mut Vec<(String, String)>)) -> String {
    let n = Notification {
        payment: Payment {
            pid: PID.into(),
            trade_no: "EP2026120200001".into(),
            out_trade_no: p.out_trade_no.clone(),
            api_trade_no: None,
            pay_type: "alipay".into(),
            name: "点卡".into(),
            money: Money::from_minor(1500),
            buyer: None,
            param: None,
        },
        timestamp,
    };
    let mut params = n.signed_params(key).unwrap();
    params.retain(|(k, _)| k != "sign");
    edit(&mut params);
    let sign = epay_v2::sign(&params, key).unwrap();
    params.push(("sign".into(), sign));
    epay_v2::php_http_build_query(&params)
}

fn set(params: &mut [(String, String)], name: &str, value: &str) {
    for (k, v) in params.iter_mut() {
        if k == name {
            *v = value.into();
        }
    }
}

async fn every_bad_epay_v2_notification_is_refused_and_delivers_nothing(t: TestApp) {
    let product = shop(&t, "epay2_bad_seller", 2).await;
    let p = crate::rails_common::place(&t, &product, "epay_alipay", "epay").await;
    // The platform's clock is the one a notification's timestamp is held to.
    let now = t.now().div_euclid(1000);
    let signed = |edit: fn(&mut Vec<(String, String)>)| signed_at(&p, &platform_key(), now, edit);
    // Bad signatures: another key (the merchant's own), an amount changed after signing,
    // a V2 notification relabelled MD5, and a V1 notification MD5-signed with the V1 key.
    let forged = signed_at(&p, &merchant_key(), now, |_| {});
    let tampered = signed(|_| {}).replace("money=15", "money=1500");
    let relabelled = signed(|_| {}).replace("sign_type=RSA", "sign_type=MD5");
    let v1 = danbao_rails::epay::Notification {
        pid: PID.into(),
        trade_no: "EP2026120200001".into(),
        out_trade_no: p.out_trade_no.clone(),
        pay_type: "alipay".into(),
        name: "点卡".into(),
        money: Money::from_minor(1500),
        trade_status: "TRADE_SUCCESS".into(),
        buyer: None,
    }
    .query(EPAY_KEY);
    for (what, query) in [
        ("forged", forged),
        ("tampered", tampered),
        ("relabelled MD5", relabelled),
        ("V1 MD5", v1),
    ] {
        let r = notify(&t, &query).await;
        assert_eq!(r.status, 401, "{what}: {}", r.text);
    }
    // Validly signed, refused for what they say.
    for (what, query) in [
        ("another merchant", signed(|p| set(p, "pid", "1001"))),
        ("closed", signed(|p| set(p, "trade_status", "TRADE_CLOSED"))),
        (
            "stale",
            signed_at(&p, &platform_key(), now - epay_v2::TIMESTAMP_WINDOW_S - 1, |_| {}),
        ),
        (
            "from the future",
            signed_at(&p, &platform_key(), now + epay_v2::TIMESTAMP_WINDOW_S + 1, |_| {}),
        ),
        ("twice", format!("{}&money=0.01", signed(|_| {}))),
        ("oversized", format!("{}&pad={}", signed(|_| {}), "x".repeat(20_000))),
    ] {
        let r = notify(&t, &query).await;
        assert!(r.status == 400 || r.status == 413, "{what}: {} {}", r.status, r.text);
        assert_ne!(r.text.trim(), "success", "{what}");
    }
    assert_eq!(t.get(&order_path(&p), None).await.body["status"], "pending_payment");
    assert_eq!(t.balance(&Account::Provider("epay".into())).await, 0);
    // Each refusal is counted as a security event, by rail and kind.
    let admin = t.admin().await;
    let events = t.get("/api/v1/admin/security-events", Some(&admin)).await;
    assert_eq!(events.status, 200, "{}", events.text);
    let refused: i64 = events.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "notification_refused" && e["detail"]["rail"] == "epay")
        .map(|e| e["occurrences"].as_i64().unwrap())
        .sum();
    assert_eq!(refused, 10, "{}", events.text);
    // A signed notification for the wrong amount is recorded, never delivered.
    let short = signed_at(&p, &platform_key(), now, |p| set(p, "money", "0.01"));
    let r = notify(&t, &short).await;
    assert_eq!((r.status, r.text.trim()), (200, "success"), "{}", r.text);
    assert_ne!(t.get(&order_path(&p), None).await.body["status"], "delivered");
    // The right one then delivers; its replay is acknowledged and changes nothing.
    let good = signed_at(&p, &platform_key(), now, |p| set(p, "trade_no", "EP2026120200002"));
    for _ in 0..2 {
        let r = notify(&t, &good).await;
        assert_eq!((r.status, r.text.trim()), (200, "success"), "{}", r.text);
    }
    let o = t.get(&order_path(&p), None).await;
    assert_eq!(o.body["status"], "delivered", "{}", o.text);
    t.finish_with_pending_jobs().await;
}

async fn a_lost_epay_v2_notification_is_found_by_the_query(t: TestApp) {
    let product = shop(&t, "epay2_query_seller", 2).await;
    t.set_faults(Faults {
        drop_pct: 100,
        ..Faults::default()
    });
    let p = crate::rails_common::place(&t, &product, "epay_wxpay", "epay").await;
    t.pay(&gateway_payment(&t, &p.cashier_url)).await;
    assert_eq!(t.get(&order_path(&p), None).await.body["status"], "pending_payment");
    // The first active query is due a minute after the attempt.
    t.advance(60_000);
    t.run_due_jobs().await;
    assert_eq!(t.get(&order_path(&p), None).await.body["status"], "delivered");
    let admin = t.admin().await;
    let o = t.get(&format!("/api/v1/admin/orders/{}", p.order), Some(&admin)).await;
    assert_eq!(o.body["payments"][0]["source"], "query", "{}", o.text);
    assert_eq!(t.balance(&Account::Provider("epay".into())).await, 1500);
    t.finish().await;
}

async fn a_second_epay_v2_payment_is_refunded_once_by_its_refund_number(t: TestApp) {
    let product = shop(&t, "epay2_double_seller", 2).await;
    let p = crate::rails_common::place(&t, &product, "epay_wxpay", "epay").await;
    let second = t
        .post(
            &format!("/api/v1/orders/{}/payments?access_token={}", p.order, p.token),
            None,
            json!({}),
        )
        .await;
    assert_eq!(second.status, 201, "{}", second.text);
    let second_out = second.body["payment_id"].as_str().unwrap().to_string();
    let first = gateway_payment(&t, &p.cashier_url);
    let again = gateway_payment(&t, second.body["cashier_url"].as_str().unwrap());
    t.pay(&first).await;
    t.wait_for_status(&order_path(&p), None, "delivered").await;
    t.pay(&again).await;
    let o = t
        .wait_until(&order_path(&p), None, "the second payment's refund", |v| {
            v["refunds"].as_array().is_some_and(|r| r.len() == 1)
        })
        .await;
    let refund_id = o.body["refunds"][0]["id"].as_str().unwrap().to_string();
    t.settle_refunds().await;
    let o = t.get(&order_path(&p), None).await;
    assert_eq!(o.body["refunds"][0]["status"], "confirmed", "{}", o.text);
    // At the gateway: the second order refunded whole, the first untouched.
    let OrderState::Refunded { refunded, .. } = state_at_gateway(&t, &second_out).await else {
        panic!("the second payment is not refunded at the gateway");
    };
    assert_eq!(refunded, Some(Money::from_minor(1500)));
    assert!(matches!(
        state_at_gateway(&t, &p.out_trade_no).await,
        OrderState::Paid(_)
    ));
    // The refund job asked again (a lost answer, a crash before booking it) is the same
    // refund at the gateway: its out_refund_no comes from the refund's request id.
    let rail = t.app().rail("epay").unwrap().clone();
    for _ in 0..2 {
        rail.refund(RefundCommand {
            provider_payment_id: second_out.clone(),
            amount: Money::from_minor(1500),
            request_id: format!("refund-{refund_id}"),
        })
        .await
        .unwrap();
    }
    let OrderState::Refunded { refunded, .. } = state_at_gateway(&t, &second_out).await else {
        panic!("the second payment is no longer refunded");
    };
    assert_eq!(refunded, Some(Money::from_minor(1500)));
    // A request id is a refund of its own amount: V2 refunds in part. The same request id
    // for another amount is refused, never a second refund.
    let other = rail
        .refund(RefundCommand {
            provider_payment_id: second_out.clone(),
            amount: Money::from_minor(500),
            request_id: format!("refund-{refund_id}"),
        })
        .await;
    assert!(other.is_err(), "{other:?}");
    assert_eq!(t.balance(&Account::Provider("epay".into())).await, 1500);
    t.finish().await;
}

async fn reconciling_epay_v2_says_there_is_no_statement(t: TestApp) {
    let product = shop(&t, "epay2_statement_seller", 2).await;
    let p = crate::rails_common::place(&t, &product, "epay_alipay", "epay").await;
    t.pay(&gateway_payment(&t, &p.cashier_url)).await;
    t.wait_for_status(&order_path(&p), None, "delivered").await;
    let admin = t.admin().await;
    let now = t.now();
    let period = json!({"from": danbao_app::clock::rfc3339(now - 3_600_000), "to": danbao_app::clock::rfc3339(now + 3_600_000), "provider": "epay"});
    let report = t
        .post("/api/v1/admin/reconciliation/statements", Some(&admin), period)
        .await;
    // Not an outage to retry, and not an empty "all matched" report: the rail has no
    // statement to match against.
    assert_eq!(report.status, 422, "{}", report.text);
    assert!(
        report.text.contains(danbao_app::epay_v2::NO_STATEMENT),
        "{}",
        report.text
    );
    // The round of every rail (the daily job, the console's button) leaves the rail
    // without a statement out instead of stopping at it: the sandbox's is still matched.
    let reports = t.app().reconcile(now - 3_600_000, now + 3_600_000).await.unwrap();
    let rails: Vec<&str> = reports.iter().map(|r| r.provider.as_str()).collect();
    assert!(rails.contains(&"sandbox") && !rails.contains(&"epay"), "{rails:?}");
    t.finish().await;
}
