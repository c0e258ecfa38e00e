//! The Alipay rail (open platform, RSA2) end to end, against the in-process gateway's
//! Alipay personality (fixed test keys): the buyer picks the computer cashier, the phone
//! cashier or the QR code, pays, and Alipay's signed form POST delivers the card key; a lost
//! notification is found by `alipay.trade.query`, a payment only in the day's bill by the
//! statement, a second payment is refunded through `alipay.trade.refund` (confirmed at the
//! gateway); and every bad notification is refused, counted, and delivers nothing, while a
//! refund's notification is acknowledged and changes nothing.

use danbao_domain::{Account, Money};
use danbao_http::server::{IN_PROCESS_ALIPAY_APP_ID as APP_ID, IN_PROCESS_ALIPAY_SELLER_ID as SELLER_ID};
use danbao_rails::alipay::{self, Head, Notification, QueryAnswer, RefundQueryAnswer, Request};
use danbao_rails::rsa_sha256::{SigningKey, VerifyingKey};
use danbao_sandbox::wire::Faults;
use danbao_testkit::{
    Resp, TestApp, ALIPAY_APP_PRIVATE_KEY, ALIPAY_APP_PUBLIC_KEY, ALIPAY_PRIVATE_KEY, ALIPAY_PUBLIC_KEY,
};
use serde_json::json;

use crate::rails_common::{cashier_id, jump, order_path, period, shop, Placed};

on_both_databases!(
    a_guest_pays_through_alipay,
    every_bad_alipay_notification_is_refused_and_delivers_nothing,
    a_lost_alipay_notification_is_found_by_the_trade_query,
    an_alipay_payment_only_in_the_bill_is_applied_by_the_statement,
    a_second_alipay_payment_is_refunded_and_nothing_is_missing,
);

async fn notify(t: &TestApp, body: impl Into<reqwest::Body>) -> Resp {
    t.raw(
        t.http
            .post(format!("{}/api/v1/payments/alipay/notify", t.url))
            .header("content-type", "application/x-www-form-urlencoded; charset=utf-8")
            .body(body),
    )
    .await
}

fn alipay_public() -> VerifyingKey {
    VerifyingKey::from_text(ALIPAY_PUBLIC_KEY).unwrap()
}

/// A POST of a request signed with the platform's application key to the gateway.
async fn call(t: &TestApp, request: &Request) -> String {
    let head = Head {
        app_id: APP_ID.into(),
        timestamp: alipay::china_time(jiff::Timestamp::now()),
        notify_url: None,
        return_url: None,
    };
    let body = request
        .form_body(&head, &SigningKey::from_text(ALIPAY_APP_PRIVATE_KEY).unwrap())
        .unwrap();
    t.raw(
        t.http
            .post(format!("{}/sandbox/alipay/gateway.do", t.url))
            .header("content-type", "application/x-www-form-urlencoded;charset=utf-8")
            .body(body),
    )
    .await
    .text
}

async fn trade_status(t: &TestApp, out_trade_no: &str) -> String {
    let body = call(
        t,
        &Request::Query {
            out_trade_no: out_trade_no.into(),
        },
    )
    .await;
    QueryAnswer::read(&body, &alipay_public(), out_trade_no)
        .unwrap()
        .trade_status
}

fn outcomes(view: &serde_json::Value) -> Vec<String> {
    view["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["outcome"].as_str().unwrap().to_string())
        .collect()
}

async fn delivered_key(t: &TestApp, p: &Placed) -> String {
    let d = t
        .get(
            &format!("/api/v1/orders/{}/delivery?access_token={}", p.order, p.token),
            None,
        )
        .await;
    assert_eq!(d.status, 200, "{}", d.text);
    d.body["items"][0]["content"].as_str().unwrap().to_string()
}

async fn a_guest_pays_through_alipay(t: TestApp) {
    let product = shop(&t, "alipay_seller", 3).await;
    let p = crate::rails_common::place(&t, &product, "alipay_page", "alipay").await;
    // The computer cashier is the gateway's address, signed with the application key.
    assert!(
        p.cashier_url
            .starts_with(&format!("{}/sandbox/alipay/gateway.do?", t.url)),
        "{}",
        p.cashier_url
    );
    let params = alipay::parse_params(p.cashier_url.split_once('?').unwrap().1).unwrap();
    alipay::verify_request(&params, &VerifyingKey::from_text(ALIPAY_APP_PUBLIC_KEY).unwrap()).unwrap();
    assert_eq!(alipay::value(&params, "method"), Some("alipay.trade.page.pay"));
    assert_eq!(alipay::value(&params, "app_id"), Some(APP_ID));
    assert_eq!(
        alipay::value(&params, "notify_url").unwrap(),
        format!("{}/api/v1/payments/alipay/notify", t.url)
    );
    let biz: serde_json::Value = serde_json::from_str(alipay::value(&params, "biz_content").unwrap()).unwrap();
    assert_eq!(
        (biz["out_trade_no"].as_str(), biz["total_amount"].as_str()),
        (Some(p.out_trade_no.as_str()), Some("15.00")),
        "{biz}"
    );
    let payment = jump(&t, &p.cashier_url).await;
    t.pay(&payment).await;
    t.wait_for_status(&order_path(&p), None, "delivered").await;
    assert!(!delivered_key(&t, &p).await.is_empty());
    // Alipay's form POST was acknowledged with `success`, once.
    let view = t.get(&format!("/sandbox/payments/{payment}"), None).await.body;
    assert_eq!(outcomes(&view), ["acknowledged"], "{view}");
    assert_eq!(t.balance(&Account::Provider("alipay".into())).await, 1500);
    // The phone cashier is the same jump with its own method.
    let wap = crate::rails_common::place(&t, &product, "alipay_wap", "alipay").await;
    let params = alipay::parse_params(wap.cashier_url.split_once('?').unwrap().1).unwrap();
    assert_eq!(alipay::value(&params, "method"), Some("alipay.trade.wap.pay"));
    // The QR code: precreate answered with the code the buyer scans (the sandbox's cashier).
    let qr = crate::rails_common::place(&t, &product, "alipay_qr", "alipay").await;
    assert!(
        qr.cashier_url.starts_with(&format!("{}/sandbox/cashier/", t.url)),
        "{}",
        qr.cashier_url
    );
    t.pay(&cashier_id(&qr.cashier_url)).await;
    t.wait_for_status(&order_path(&qr), None, "delivered").await;
    assert!(!delivered_key(&t, &qr).await.is_empty());
    assert_eq!(t.balance(&Account::Provider("alipay".into())).await, 3000);
    t.finish().await;
}

/// A notification for `p` as the gateway words it, with `edit` applied before it is signed
/// with `key`.
fn signed(p: &Placed, key: &str, edit: impl FnOnce(&mut Notification)) -> String {
    let now = alipay::china_time(jiff::Timestamp::now());
    let mut n = Notification {
        notify_time: now.clone(),
        notify_id: "ntf-e2e-1".into(),
        app_id: APP_ID.into(),
        seller_id: SELLER_ID.into(),
        trade_no: "2026120222001400001".into(),
        out_trade_no: p.out_trade_no.clone(),
        trade_status: alipay::TRADE_SUCCESS.into(),
        total_amount: Money::from_minor(1500),
        buyer_id: Some("2088102122524333".into()),
        subject: Some("点卡".into()),
        gmt_create: Some(now.clone()),
        gmt_payment: Some(now),
        refund_fee: None,
    };
    edit(&mut n);
    n.form_body(&SigningKey::from_text(key).unwrap()).unwrap()
}

async fn every_bad_alipay_notification_is_refused_and_delivers_nothing(t: TestApp) {
    let product = shop(&t, "alipay_bad_seller", 2).await;
    let p = crate::rails_common::place(&t, &product, "alipay_page", "alipay").await;
    // Signed by someone else's key (here the application's own: not Alipay's).
    let forged = signed(&p, ALIPAY_APP_PRIVATE_KEY, |_| {});
    assert_eq!(notify(&t, forged).await.status, 401);
    let tampered = signed(&p, ALIPAY_PRIVATE_KEY, |_| {}).replace("total_amount=15.00", "total_amount=1500.00");
    assert_eq!(notify(&t, tampered).await.status, 401);
    let two_days_ago = alipay::china_time(jiff::Timestamp::now() - jiff::SignedDuration::from_hours(48));
    for (what, body) in [
        (
            "another application",
            signed(&p, ALIPAY_PRIVATE_KEY, |n| n.app_id = "2021000000000999".into()),
        ),
        (
            "another merchant",
            signed(&p, ALIPAY_PRIVATE_KEY, |n| n.seller_id = "2088000000000999".into()),
        ),
        (
            "closed",
            signed(&p, ALIPAY_PRIVATE_KEY, |n| n.trade_status = alipay::TRADE_CLOSED.into()),
        ),
        (
            "waiting",
            signed(&p, ALIPAY_PRIVATE_KEY, |n| {
                n.trade_status = alipay::WAIT_BUYER_PAY.into()
            }),
        ),
        (
            "stale",
            signed(&p, ALIPAY_PRIVATE_KEY, |n| n.notify_time = two_days_ago.clone()),
        ),
        (
            "twice",
            format!("{}&total_amount=0.01", signed(&p, ALIPAY_PRIVATE_KEY, |_| {})),
        ),
        (
            "oversized",
            format!("{}&pad={}", signed(&p, ALIPAY_PRIVATE_KEY, |_| {}), "x".repeat(20_000)),
        ),
    ] {
        let r = notify(&t, body).await;
        assert_eq!(r.status, 400, "{what}: {}", r.text);
        assert_ne!(r.text.trim(), "success", "{what}");
    }
    // Bytes that are not even text.
    let r = notify(&t, vec![0xff_u8, 0xfe, b'=', 0x80]).await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(t.get(&order_path(&p), None).await.body["status"], "pending_payment");
    assert_eq!(t.balance(&Account::Provider("alipay".into())).await, 0);
    // Each refusal is counted as a security event, by rail and kind: two bad signatures,
    // then eight refused for what they are.
    assert_eq!(crate::rails_common::refused_count(&t, "alipay").await, 10);
    // A refund's notification, validly signed, is acknowledged and changes nothing (and is
    // no security event: Alipay sent it).
    let refund_notice = signed(&p, ALIPAY_PRIVATE_KEY, |n| n.refund_fee = Some(Money::from_minor(1500)));
    let r = notify(&t, refund_notice).await;
    assert_eq!((r.status, r.text.trim()), (200, "success"), "{}", r.text);
    assert_eq!(t.get(&order_path(&p), None).await.body["status"], "pending_payment");
    assert_eq!(t.balance(&Account::Provider("alipay".into())).await, 0);
    assert_eq!(crate::rails_common::refused_count(&t, "alipay").await, 10);
    // A signed notification for the wrong amount is recorded, never delivered.
    let short = signed(&p, ALIPAY_PRIVATE_KEY, |n| n.total_amount = Money::from_minor(1));
    let r = notify(&t, short).await;
    assert_eq!((r.status, r.text.trim()), (200, "success"), "{}", r.text);
    assert_ne!(t.get(&order_path(&p), None).await.body["status"], "delivered");
    // The right one then delivers; its replay is acknowledged and changes nothing.
    let good = signed(&p, ALIPAY_PRIVATE_KEY, |n| n.trade_no = "2026120222001400002".into());
    for _ in 0..2 {
        let r = notify(&t, good.clone()).await;
        assert_eq!((r.status, r.text.trim()), (200, "success"), "{}", r.text);
    }
    let o = t.get(&order_path(&p), None).await;
    assert_eq!(o.body["status"], "delivered", "{}", o.text);
    t.finish_with_pending_jobs().await;
}

async fn a_lost_alipay_notification_is_found_by_the_trade_query(t: TestApp) {
    let product = shop(&t, "alipay_query_seller", 2).await;
    t.set_faults(Faults {
        drop_pct: 100,
        ..Faults::default()
    });
    let p = crate::rails_common::place(&t, &product, "alipay_wap", "alipay").await;
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

async fn an_alipay_payment_only_in_the_bill_is_applied_by_the_statement(t: TestApp) {
    let product = shop(&t, "alipay_statement_seller", 2).await;
    t.set_faults(Faults {
        drop_pct: 100,
        ..Faults::default()
    });
    let p = crate::rails_common::place(&t, &product, "alipay_qr", "alipay").await;
    t.pay(&cashier_id(&p.cashier_url)).await;
    let admin = t.admin().await;
    let report = t
        .post(
            "/api/v1/admin/reconciliation/statements",
            Some(&admin),
            period(&t, "alipay"),
        )
        .await;
    assert_eq!(report.status, 200, "{}", report.text);
    assert_eq!(report.body["provider"], "alipay");
    assert_eq!(report.body["applied_late"], 1, "{}", report.text);
    assert_eq!(t.get(&order_path(&p), None).await.body["status"], "delivered");
    let again = t
        .post(
            "/api/v1/admin/reconciliation/statements",
            Some(&admin),
            period(&t, "alipay"),
        )
        .await;
    assert_eq!(
        (again.body["matched"].clone(), again.body["applied_late"].clone()),
        (json!(1), json!(0)),
        "{}",
        again.text
    );
    // The other rails' statements know nothing of it.
    for other in ["sandbox", "epay"] {
        let r = t
            .post(
                "/api/v1/admin/reconciliation/statements",
                Some(&admin),
                period(&t, other),
            )
            .await;
        assert_eq!(r.body["applied_late"], 0, "{other}: {}", r.text);
    }
    t.finish().await;
}

async fn a_second_alipay_payment_is_refunded_and_nothing_is_missing(t: TestApp) {
    let product = shop(&t, "alipay_double_seller", 2).await;
    let p = crate::rails_common::place(&t, &product, "alipay_page", "alipay").await;
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
    // At the gateway: the second trade refunded in full (closed), under the request number
    // derived from our refund; the first untouched.
    assert_eq!(trade_status(&t, &second_out).await, alipay::TRADE_CLOSED);
    assert_eq!(trade_status(&t, &p.out_trade_no).await, alipay::TRADE_SUCCESS);
    let refund_id = o.body["refunds"][0]["id"].as_str().unwrap();
    let out_request_no = danbao_app::alipay::out_request_no(&format!("refund-{refund_id}"));
    let body = call(
        &t,
        &Request::RefundQuery {
            out_trade_no: second_out.clone(),
            out_request_no: out_request_no.clone(),
        },
    )
    .await;
    let asked = RefundQueryAnswer::read(&body, &alipay_public(), &second_out, &out_request_no).unwrap();
    assert_eq!(asked.refunded(), Some(Money::from_minor(1500)));
    assert_eq!(t.balance(&Account::Provider("alipay".into())).await, 1500);
    // The day's bill lists both payments (a refund does not unmake a payment): the
    // statement matches both and finds nothing missing at Alipay.
    let admin = t.admin().await;
    let report = t
        .post(
            "/api/v1/admin/reconciliation/statements",
            Some(&admin),
            period(&t, "alipay"),
        )
        .await;
    assert_eq!(report.status, 200, "{}", report.text);
    assert_eq!(
        (
            report.body["matched"].clone(),
            report.body["applied_late"].clone(),
            report.body["missing_at_provider"].clone(),
            report.body["amount_mismatch"].clone()
        ),
        (json!(2), json!(0), json!(0), json!(0)),
        "{}",
        report.text
    );
    t.finish().await;
}
