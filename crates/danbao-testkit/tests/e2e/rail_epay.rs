//! Issue 12: the 易支付 rail end to end, against the in-process gateway's EPay
//! personality (its own MD5 key): the buyer picks the channel at checkout, is sent to the
//! aggregator by a signed page jump, pays, and the aggregator's GET notification delivers
//! the order; a lost notification is found by `act=order`, a payment only in the order
//! list by the statement, a second payment is refunded through `act=refund`; and every
//! bad notification is refused, counted, and delivers nothing.

use danbao_domain::{Account, Money};
use danbao_rails::epay;
use danbao_sandbox::wire::Faults;
use danbao_testkit::{Resp, TestApp, EPAY_KEY};
use serde_json::json;

use crate::rails_common::{jump, order_path, period, refused_count, shop, Placed};

on_both_databases!(
    a_guest_pays_through_epay,
    every_bad_epay_notification_is_refused_and_delivers_nothing,
    a_lost_epay_notification_is_found_by_the_order_query,
    an_epay_payment_only_in_the_order_list_is_applied_by_the_statement,
    a_second_epay_payment_is_refunded_whole,
);

const PID: &str = danbao_http::server::IN_PROCESS_EPAY_PID;

async fn notify(t: &TestApp, query: &str) -> Resp {
    t.raw(t.http.get(format!("{}/api/v1/payments/epay/notify?{query}", t.url)))
        .await
}

async fn a_guest_pays_through_epay(t: TestApp) {
    let product = shop(&t, "epay_seller", 2).await;
    let p = crate::rails_common::place(&t, &product, "epay_wxpay", "epay").await;
    // The page jump is signed for the aggregator and names the channel the buyer chose.
    let params = epay::parse_params(p.cashier_url.split_once('?').unwrap().1).unwrap();
    assert!(p
        .cashier_url
        .starts_with(&format!("{}/sandbox/epay/submit.php?", t.url)));
    assert_eq!(epay::value(&params, "type"), Some("wxpay"));
    assert_eq!(epay::value(&params, "money"), Some("15.00"));
    assert_eq!(epay::value(&params, "out_trade_no"), Some(p.out_trade_no.as_str()));
    assert_eq!(
        epay::value(&params, "notify_url").unwrap(),
        format!("{}/api/v1/payments/epay/notify", t.url)
    );
    assert!(epay::md5_verifies(&params, EPAY_KEY));
    let payment = jump(&t, &p.cashier_url).await;
    t.pay(&payment).await;
    t.wait_for_status(&order_path(&p), None, "delivered").await;
    // The aggregator's GET was acknowledged with `success`, once.
    let view = t.get(&format!("/sandbox/payments/{payment}"), None).await.body;
    let outcomes: Vec<&str> = view["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, ["acknowledged"], "{view}");
    assert_eq!(t.balance(&Account::Provider("epay".into())).await, 1500);
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
    let url = second.body["cashier_url"].as_str().unwrap();
    let params = epay::parse_params(url.split_once('?').unwrap().1).unwrap();
    assert_eq!(epay::value(&params, "type"), Some("alipay"));
    t.finish().await;
}

/// A notification for `p` as the aggregator would word it, with `edit` applied before
/// it is signed with `key`.
fn signed(p: &Placed, key: &str, edit: impl FnOnce(&mut epay::Notification)) -> String {
    let mut n = epay::Notification {
        pid: PID.into(),
        trade_no: "EP2026120200001".into(),
        out_trade_no: p.out_trade_no.clone(),
        pay_type: "alipay".into(),
        name: "点卡".into(),
        money: Money::from_minor(1500),
        trade_status: epay::TRADE_SUCCESS.into(),
        buyer: None,
    };
    edit(&mut n);
    n.query(key)
}

async fn every_bad_epay_notification_is_refused_and_delivers_nothing(t: TestApp) {
    let product = shop(&t, "epay_bad_seller", 2).await;
    let p = crate::rails_common::place(&t, &product, "epay_alipay", "epay").await;
    let forged = signed(&p, "guessed-key", |_| {});
    assert_eq!(notify(&t, &forged).await.status, 401);
    let tampered = signed(&p, EPAY_KEY, |_| {}).replace("money=15.00", "money=1500.00");
    assert_eq!(notify(&t, &tampered).await.status, 401);
    for (what, query) in [
        ("another merchant", signed(&p, EPAY_KEY, |n| n.pid = "1001".into())),
        (
            "closed",
            signed(&p, EPAY_KEY, |n| n.trade_status = "TRADE_CLOSED".into()),
        ),
        (
            "waiting",
            signed(&p, EPAY_KEY, |n| n.trade_status = "WAIT_BUYER_PAY".into()),
        ),
        ("twice", format!("{}&money=0.01", signed(&p, EPAY_KEY, |_| {}))),
        (
            "oversized",
            format!("{}&pad={}", signed(&p, EPAY_KEY, |_| {}), "x".repeat(20_000)),
        ),
    ] {
        let r = notify(&t, &query).await;
        assert!(r.status == 400 || r.status == 413, "{what}: {} {}", r.status, r.text);
        assert_ne!(r.text.trim(), "success", "{what}");
    }
    assert_eq!(t.get(&order_path(&p), None).await.body["status"], "pending_payment");
    assert_eq!(t.balance(&Account::Provider("epay".into())).await, 0);
    // Each refusal is counted as a security event, by rail and kind: two bad
    // signatures, then five refused for what they say.
    assert_eq!(refused_count(&t, "epay").await, 7);
    // A signed notification for the wrong amount is recorded, never delivered.
    let short = signed(&p, EPAY_KEY, |n| n.money = Money::from_minor(1));
    let r = notify(&t, &short).await;
    assert_eq!((r.status, r.text.trim()), (200, "success"), "{}", r.text);
    assert_ne!(t.get(&order_path(&p), None).await.body["status"], "delivered");
    // The right one then delivers; its replay is acknowledged and changes nothing.
    let good = signed(&p, EPAY_KEY, |n| n.trade_no = "EP2026120200002".into());
    for _ in 0..2 {
        let r = notify(&t, &good).await;
        assert_eq!((r.status, r.text.trim()), (200, "success"), "{}", r.text);
    }
    let o = t.get(&order_path(&p), None).await;
    assert_eq!(o.body["status"], "delivered", "{}", o.text);
    t.finish_with_pending_jobs().await;
}

async fn a_lost_epay_notification_is_found_by_the_order_query(t: TestApp) {
    let product = shop(&t, "epay_query_seller", 2).await;
    t.set_faults(Faults {
        drop_pct: 100,
        ..Faults::default()
    });
    let p = crate::rails_common::place(&t, &product, "epay_wxpay", "epay").await;
    let payment = jump(&t, &p.cashier_url).await;
    t.pay(&payment).await;
    assert_eq!(t.get(&order_path(&p), None).await.body["status"], "pending_payment");
    // The first active query is due a minute after the attempt.
    t.advance(60_000);
    t.run_due_jobs().await;
    assert_eq!(t.get(&order_path(&p), None).await.body["status"], "delivered");
    let admin = t.admin().await;
    let o = t.get(&format!("/api/v1/admin/orders/{}", p.order), Some(&admin)).await;
    assert_eq!(o.body["payments"][0]["source"], "query", "{}", o.text);
    t.finish().await;
}

async fn an_epay_payment_only_in_the_order_list_is_applied_by_the_statement(t: TestApp) {
    let product = shop(&t, "epay_statement_seller", 2).await;
    t.set_faults(Faults {
        drop_pct: 100,
        ..Faults::default()
    });
    let p = crate::rails_common::place(&t, &product, "epay_alipay", "epay").await;
    let payment = jump(&t, &p.cashier_url).await;
    t.pay(&payment).await;
    let admin = t.admin().await;
    let report = t
        .post(
            "/api/v1/admin/reconciliation/statements",
            Some(&admin),
            period(&t, "epay"),
        )
        .await;
    assert_eq!(report.status, 200, "{}", report.text);
    assert_eq!(report.body["provider"], "epay");
    assert_eq!(report.body["applied_late"], 1, "{}", report.text);
    assert_eq!(t.get(&order_path(&p), None).await.body["status"], "delivered");
    let again = t
        .post(
            "/api/v1/admin/reconciliation/statements",
            Some(&admin),
            period(&t, "epay"),
        )
        .await;
    assert_eq!(
        (again.body["matched"].clone(), again.body["applied_late"].clone()),
        (json!(1), json!(0)),
        "{}",
        again.text
    );
    // The sandbox rail's statement knows nothing of it.
    let sandbox = t
        .post(
            "/api/v1/admin/reconciliation/statements",
            Some(&admin),
            period(&t, "sandbox"),
        )
        .await;
    assert_eq!(sandbox.body["applied_late"], 0, "{}", sandbox.text);
    t.finish().await;
}

async fn a_second_epay_payment_is_refunded_whole(t: TestApp) {
    let product = shop(&t, "epay_double_seller", 2).await;
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
    let first = jump(&t, &p.cashier_url).await;
    let again = jump(&t, second.body["cashier_url"].as_str().unwrap()).await;
    t.pay(&first).await;
    t.wait_for_status(&order_path(&p), None, "delivered").await;
    t.pay(&again).await;
    t.wait_until(&order_path(&p), None, "the second payment's refund", |v| {
        v["refunds"].as_array().is_some_and(|r| r.len() == 1)
    })
    .await;
    t.settle_refunds().await;
    let o = t.get(&order_path(&p), None).await;
    assert_eq!(o.body["refunds"][0]["status"], "confirmed", "{}", o.text);
    // At the aggregator: the second order refunded, the first untouched.
    let state = |out: String| {
        let t = &t;
        async move {
            let r = t
                .raw(t.http.get(epay::order_query_url(
                    &format!("{}/sandbox/epay/", t.url),
                    PID,
                    EPAY_KEY,
                    &out,
                )))
                .await;
            let answer: epay::OrderAnswer = serde_json::from_str(&r.text).unwrap();
            answer.state(PID, &out).unwrap()
        }
    };
    assert_eq!(state(second_out).await, epay::OrderState::Refunded);
    assert!(matches!(state(p.out_trade_no.clone()).await, epay::OrderState::Paid(_)));
    assert_eq!(t.balance(&Account::Provider("epay".into())).await, 1500);
    // The aggregator's order list still shows the refunded order as paid: reconciliation
    // matches both payments and finds nothing missing at the aggregator.
    let admin = t.admin().await;
    let report = t
        .post(
            "/api/v1/admin/reconciliation/statements",
            Some(&admin),
            period(&t, "epay"),
        )
        .await;
    assert_eq!(report.status, 200, "{}", report.text);
    assert_eq!(
        (
            report.body["matched"].clone(),
            report.body["missing_at_provider"].clone()
        ),
        (json!(2), json!(0)),
        "{}",
        report.text
    );
    t.finish().await;
}
