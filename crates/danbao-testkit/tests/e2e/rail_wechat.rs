//! The WeChat Pay API v3 rail end to end, against the in-process gateway's WeChat Pay
//! personality (its fixed test keys): the buyer picks WeChat Pay at checkout, opens the
//! cashier the Native order's code_url names, pays, and WeChat Pay's signed, encrypted
//! notification delivers the order (acknowledged by an empty 200); a lost notification
//! is found by the query by out_trade_no, a payment only in the trade bill by the
//! statement, a second payment is refunded by out_refund_no; and every bad notification
//! is refused, counted, and delivers nothing.

use danbao_domain::Account;
use danbao_http::server::{
    IN_PROCESS_WECHAT_APPID as APPID, IN_PROCESS_WECHAT_MCHID as MCHID,
    IN_PROCESS_WECHAT_PLATFORM_SERIAL as PLATFORM_SERIAL,
};
use danbao_rails::rsa_sha256::SigningKey;
use danbao_rails::wechat::{self, ApiV3Key, Headers, Payer, Transaction, TransactionAmount};
use danbao_sandbox::wire::Faults;
use danbao_testkit::{Browser, Resp, TestApp, WECHAT_API_V3_KEY, WECHAT_MERCHANT_PRIVATE, WECHAT_PLATFORM_PRIVATE};
use serde_json::json;

use crate::rails_common::{cashier_id, order_path, period, shop, Placed};

on_both_databases!(
    a_guest_pays_through_wechat,
    every_bad_wechat_notification_is_refused_and_delivers_nothing,
    a_lost_wechat_notification_is_found_by_the_query,
    a_wechat_payment_only_in_the_trade_bill_is_applied_by_the_statement,
    a_second_wechat_payment_is_refunded,
    a_guest_buys_with_wechat_in_the_browser_by_scanning_the_code,
);

/// What WeChat Pay calls the attempt: its 32 hex digits.
fn wechat_no(p: &Placed) -> String {
    danbao_app::wechat::wechat_out_trade_no(&p.out_trade_no)
}

/// A notification as sent: its headers and its body.
type Sent = (Vec<(&'static str, String)>, String);

/// A payment notification as WeChat Pay words it, for `p`, with `edit` applied to the
/// transaction and `wrap` to the notification before it is encrypted and signed.
struct Forge {
    transaction: Transaction,
    event_type: String,
    api_v3_key: String,
    signing_key: &'static str,
    serial: String,
    /// Seconds since the epoch, as the platform's clock reads.
    timestamp: i64,
}

impl Forge {
    fn new(t: &TestApp, p: &Placed, transaction_id: &str) -> Forge {
        Forge {
            transaction: Transaction {
                appid: APPID.into(),
                mchid: MCHID.into(),
                out_trade_no: wechat_no(p),
                transaction_id: Some(transaction_id.into()),
                trade_type: Some(wechat::TRADE_TYPE_NATIVE.into()),
                trade_state: wechat::TRADE_STATE_SUCCESS.into(),
                trade_state_desc: "支付成功".into(),
                bank_type: Some("OTHERS".into()),
                attach: None,
                success_time: Some("2026-12-02T16:30:00+08:00".into()),
                payer: Some(Payer {
                    openid: "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o".into(),
                }),
                amount: TransactionAmount {
                    total: 1500,
                    payer_total: Some(1500),
                    currency: "CNY".into(),
                    payer_currency: Some("CNY".into()),
                },
            },
            event_type: wechat::EVENT_TRANSACTION_SUCCESS.into(),
            api_v3_key: WECHAT_API_V3_KEY.into(),
            signing_key: WECHAT_PLATFORM_PRIVATE,
            serial: PLATFORM_SERIAL.into(),
            timestamp: t.now() / 1000,
        }
    }

    fn body(&self) -> String {
        let mut n = wechat::Notification::for_transaction(
            "EV-2026120200001",
            "2026-12-02T16:30:01+08:00",
            &self.transaction,
            &ApiV3Key::from_text(&self.api_v3_key).unwrap(),
            "0123456789ab",
            "transaction",
        )
        .unwrap();
        n.event_type = self.event_type.clone();
        n.to_json()
    }

    fn headers(&self, body: &str) -> Vec<(&'static str, String)> {
        let key = SigningKey::from_text(self.signing_key).unwrap();
        Headers::sign(&key, &self.serial, self.timestamp, "n0nce", body.as_bytes())
            .unwrap()
            .pairs()
    }

    fn signed(&self) -> Sent {
        let body = self.body();
        (self.headers(&body), body)
    }
}

async fn notify(t: &TestApp, (headers, body): Sent) -> Resp {
    let mut req = t
        .http
        .post(format!("{}/api/v1/payments/wechat/notify", t.url))
        .header("content-type", "application/json");
    for (k, v) in headers {
        req = req.header(k, v);
    }
    t.raw(req.body(body)).await
}

async fn outcomes(t: &TestApp, payment: &str) -> Vec<String> {
    let view = t.get(&format!("/sandbox/payments/{payment}"), None).await.body;
    view["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["outcome"].as_str().unwrap().to_string())
        .collect()
}

async fn a_guest_pays_through_wechat(t: TestApp) {
    let product = shop(&t, "wechat_seller", 2).await;
    let p = crate::rails_common::place(&t, &product, "wechat_native", "wechat").await;
    // The code_url is a WeChat payment code; the sandbox's names its payment.
    assert!(
        p.cashier_url.starts_with(danbao_sandbox::wire::WECHAT_CODE_URL_PREFIX),
        "{}",
        p.cashier_url
    );
    let payment = cashier_id(&p.cashier_url);
    let view = t.get(&format!("/sandbox/payments/{payment}"), None).await.body;
    assert_eq!(
        (view["out_trade_no"].as_str(), view["amount_minor"].as_i64()),
        (Some(wechat_no(&p).as_str()), Some(1500)),
        "{view}"
    );
    t.pay(&payment).await;
    t.wait_for_status(&order_path(&p), None, "delivered").await;
    // WeChat Pay's POST was acknowledged (an empty 200), once.
    assert_eq!(outcomes(&t, &payment).await, ["acknowledged"]);
    assert_eq!(t.balance(&Account::Provider("wechat".into())).await, 1500);
    let admin = t.admin().await;
    let o = t.get(&format!("/api/v1/admin/orders/{}", p.order), Some(&admin)).await;
    assert_eq!(o.body["payments"][0]["source"], "webhook", "{}", o.text);
    t.finish().await;
}

async fn every_bad_wechat_notification_is_refused_and_delivers_nothing(t: TestApp) {
    let product = shop(&t, "wechat_bad_seller", 2).await;
    let p = crate::rails_common::place(&t, &product, "wechat_native", "wechat").await;
    let good = || Forge::new(&t, &p, "4200002026120200001");
    let mut cases: Vec<(&str, Sent, u16)> = Vec::new();
    // Refused for their signature (401).
    cases.push((
        "signed by another key",
        {
            let mut f = good();
            f.signing_key = WECHAT_MERCHANT_PRIVATE;
            f.signed()
        },
        401,
    ));
    cases.push((
        "tampered after signing",
        {
            let (h, body) = good().signed();
            (h, body.replace("EV-2026120200001", "EV-2026120200009"))
        },
        401,
    ));
    cases.push((
        "an unknown key serial",
        {
            let mut f = good();
            f.serial = "0000000000000000000000000000000000000000".into();
            f.signed()
        },
        401,
    ));
    cases.push(("unsigned", (Vec::new(), good().body()), 401));
    // Refused for what they say (400).
    cases.push((
        "signed ten minutes ago",
        {
            let mut f = good();
            f.timestamp -= 600;
            f.signed()
        },
        400,
    ));
    cases.push((
        "another merchant",
        {
            let mut f = good();
            f.transaction.mchid = "1900000999".into();
            f.signed()
        },
        400,
    ));
    cases.push((
        "another app",
        {
            let mut f = good();
            f.transaction.appid = "wx0000000000000000".into();
            f.signed()
        },
        400,
    ));
    cases.push((
        "not paid",
        {
            let mut f = good();
            f.transaction.trade_state = "NOTPAY".into();
            f.signed()
        },
        400,
    ));
    cases.push((
        "not a payment event",
        {
            let mut f = good();
            f.event_type = "TRANSACTION.CLOSED".into();
            f.signed()
        },
        400,
    ));
    cases.push((
        "encrypted under another APIv3 key",
        {
            let mut f = good();
            f.api_v3_key = "AnotherApiV3Key00000000000000000".into();
            f.signed()
        },
        400,
    ));
    cases.push((
        "nothing paid",
        {
            let mut f = good();
            f.transaction.amount.total = 0;
            f.signed()
        },
        400,
    ));
    cases.push((
        "oversized",
        {
            let f = good();
            let body = format!("{}{}", f.body(), " ".repeat(20_000));
            (f.headers(&body), body)
        },
        400,
    ));
    let count = cases.len() as i64;
    for (what, n, status) in cases {
        let r = notify(&t, n).await;
        assert_eq!(r.status, status, "{what}: {}", r.text);
        assert_ne!(r.status, 200, "{what}");
    }
    assert_eq!(t.get(&order_path(&p), None).await.body["status"], "pending_payment");
    assert_eq!(t.balance(&Account::Provider("wechat".into())).await, 0);
    // Each refusal is counted as a security event, by rail and kind.
    assert_eq!(crate::rails_common::refused_count(&t, "wechat").await, count);
    // A signed notification for the wrong amount is recorded, never delivered.
    let mut short = Forge::new(&t, &p, "4200002026120200002");
    short.transaction.amount.total = 1;
    let r = notify(&t, short.signed()).await;
    assert_eq!((r.status, r.text.as_str()), (200, ""), "{}", r.text);
    assert_ne!(t.get(&order_path(&p), None).await.body["status"], "delivered");
    // The right one then delivers, acknowledged by an empty 200; its replay is
    // acknowledged the same and changes nothing.
    let right = Forge::new(&t, &p, "4200002026120200003").signed();
    for _ in 0..2 {
        let r = notify(&t, right.clone()).await;
        assert_eq!((r.status, r.text.as_str()), (200, ""), "{}", r.text);
    }
    let o = t.get(&order_path(&p), None).await;
    assert_eq!(o.body["status"], "delivered", "{}", o.text);
    // The platform's clock decides freshness: ten minutes on, the same notification,
    // signed when it was, is a replay too old to believe.
    t.advance(10 * 60_000);
    let r = notify(&t, right).await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(crate::rails_common::refused_count(&t, "wechat").await, count + 1);
    t.finish_with_pending_jobs().await;
}

async fn a_lost_wechat_notification_is_found_by_the_query(t: TestApp) {
    let product = shop(&t, "wechat_query_seller", 2).await;
    t.set_faults(Faults {
        drop_pct: 100,
        ..Faults::default()
    });
    let p = crate::rails_common::place(&t, &product, "wechat_native", "wechat").await;
    t.pay(&cashier_id(&p.cashier_url)).await;
    assert_eq!(t.get(&order_path(&p), None).await.body["status"], "pending_payment");
    // The first active query is due a minute after the attempt.
    t.advance(60_000);
    t.run_due_jobs().await;
    assert_eq!(t.get(&order_path(&p), None).await.body["status"], "delivered");
    let admin = t.admin().await;
    let o = t.get(&format!("/api/v1/admin/orders/{}", p.order), Some(&admin)).await;
    assert_eq!(o.body["payments"][0]["source"], "query", "{}", o.text);
    assert_eq!(t.balance(&Account::Provider("wechat".into())).await, 1500);
    t.finish().await;
}

async fn a_wechat_payment_only_in_the_trade_bill_is_applied_by_the_statement(t: TestApp) {
    let product = shop(&t, "wechat_statement_seller", 2).await;
    t.set_faults(Faults {
        drop_pct: 100,
        ..Faults::default()
    });
    let p = crate::rails_common::place(&t, &product, "wechat_native", "wechat").await;
    t.pay(&cashier_id(&p.cashier_url)).await;
    let admin = t.admin().await;
    let report = t
        .post(
            "/api/v1/admin/reconciliation/statements",
            Some(&admin),
            period(&t, "wechat"),
        )
        .await;
    assert_eq!(report.status, 200, "{}", report.text);
    assert_eq!(report.body["provider"], "wechat");
    assert_eq!(report.body["applied_late"], 1, "{}", report.text);
    assert_eq!(t.get(&order_path(&p), None).await.body["status"], "delivered");
    let again = t
        .post(
            "/api/v1/admin/reconciliation/statements",
            Some(&admin),
            period(&t, "wechat"),
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

async fn a_second_wechat_payment_is_refunded(t: TestApp) {
    let product = shop(&t, "wechat_double_seller", 2).await;
    let p = crate::rails_common::place(&t, &product, "wechat_native", "wechat").await;
    let second = t
        .post(
            &format!("/api/v1/orders/{}/payments?access_token={}", p.order, p.token),
            None,
            json!({}),
        )
        .await;
    assert_eq!(second.status, 201, "{}", second.text);
    let again = Placed {
        order: p.order.clone(),
        token: p.token.clone(),
        out_trade_no: second.body["payment_id"].as_str().unwrap().to_string(),
        cashier_url: second.body["cashier_url"].as_str().unwrap().to_string(),
    };
    assert_ne!(cashier_id(&again.cashier_url), cashier_id(&p.cashier_url));
    t.pay(&cashier_id(&p.cashier_url)).await;
    t.wait_for_status(&order_path(&p), None, "delivered").await;
    t.pay(&cashier_id(&again.cashier_url)).await;
    t.wait_until(&order_path(&p), None, "the second payment's refund", |v| {
        v["refunds"].as_array().is_some_and(|r| r.len() == 1)
    })
    .await;
    t.settle_refunds().await;
    let o = t.get(&order_path(&p), None).await;
    assert_eq!(o.body["refunds"][0]["status"], "confirmed", "{}", o.text);
    // At the gateway: the second payment refunded whole, the first untouched.
    let refunded = |payment: String| {
        let t = &t;
        async move {
            t.get(&format!("/sandbox/payments/{payment}"), None).await.body["refunded_minor"]
                .as_i64()
                .unwrap()
        }
    };
    assert_eq!(refunded(cashier_id(&again.cashier_url)).await, 1500);
    assert_eq!(refunded(cashier_id(&p.cashier_url)).await, 0);
    assert_eq!(t.balance(&Account::Provider("wechat".into())).await, 1500);
    // The trade bill lists both payments (a refunded one was still paid that day):
    // reconciliation matches both and finds nothing missing at WeChat Pay.
    let admin = t.admin().await;
    let report = t
        .post(
            "/api/v1/admin/reconciliation/statements",
            Some(&admin),
            period(&t, "wechat"),
        )
        .await;
    assert_eq!(report.status, 200, "{}", report.text);
    assert_eq!(
        (
            report.body["matched"].clone(),
            report.body["missing_at_provider"].clone(),
            report.body["applied_late"].clone()
        ),
        (json!(2), json!(0), json!(0)),
        "{}",
        report.text
    );
    t.finish().await;
}

/// The real WeChat Pay answers a `weixin://` payment code, which no browser opens: the
/// checkout sends the buyer to the platform's own page showing it as a QR code (with the
/// amount, the order number and the deadline), and once paid that page leads to the order.
async fn a_guest_buys_with_wechat_in_the_browser_by_scanning_the_code(t: TestApp) {
    let product = shop(&t, "wechat_scan_seller", 2).await;
    let b = Browser::new(&t);
    b.get(&format!("/products/{product}")).await;
    let bought = b
        .submit(
            &format!("/products/{product}/buy"),
            &[
                ("quantity", "1"),
                ("contact", "qq 30042"),
                ("query_password", "pass-word-1"),
                ("payment_method", "wechat_native"),
            ],
        )
        .await;
    assert_eq!(bought.status, 303, "{}", bought.text);
    let scan = bought.headers.get("location").unwrap().to_str().unwrap().to_string();
    assert!(scan.starts_with("/orders/") && scan.ends_with("/scan"), "{scan}");
    let order = scan
        .trim_start_matches("/orders/")
        .trim_end_matches("/scan")
        .to_string();
    let page = b.get(&scan).await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(
        page.text.contains("<svg") && page.text.contains("微信扫码支付"),
        "{}",
        page.text
    );
    assert!(page.text.contains("15.00"), "{}", page.text);
    let token = b.cookie(&format!("danbao_order_{order}")).unwrap();
    let o = t
        .get(&format!("/api/v1/orders/{order}?access_token={token}"), None)
        .await;
    assert!(page.text.contains(o.body["number"].as_str().unwrap()), "{}", page.text);
    // The code is WeChat Pay's own kind, and the order page's pay button leads here too.
    let code = o.body["payment"]["cashier_url"].as_str().unwrap().to_string();
    assert!(code.starts_with(danbao_sandbox::wire::WECHAT_CODE_URL_PREFIX), "{code}");
    let order_page = b.get(&format!("/orders/{order}")).await;
    assert!(
        order_page.text.contains(&format!(r#"href="{scan}""#)),
        "{}",
        order_page.text
    );
    // The in-process sandbox "scans" at its cashier (the demo's link); a stranger's browser
    // sees no scan page.
    assert!(
        page.text.contains(&format!("/sandbox/cashier/{}", cashier_id(&code))),
        "{}",
        page.text
    );
    let stranger = Browser::new(&t).get(&scan).await;
    assert_ne!(stranger.status, 200, "{}", stranger.text);
    t.pay(&cashier_id(&code)).await;
    t.wait_for_status(
        &format!("/api/v1/orders/{order}?access_token={token}"),
        None,
        "delivered",
    )
    .await;
    // Paid: the scan page leads to the order.
    let after = b.get(&scan).await;
    assert_eq!(after.status, 303, "{}", after.text);
    assert_eq!(after.headers["location"], format!("/orders/{order}").as_str());
    t.finish().await;
}
