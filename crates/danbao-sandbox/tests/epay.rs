//! The gateway's 易支付 personality on a real socket: a merchant's page jump and API
//! order, the aggregator's GET notification (checked here by the same reader the
//! platform uses, against the merchant key), and `api.php`'s queries and refunds.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{OriginalUri, State};
use axum::routing::get;
use axum::Router;
use danbao_domain::Money;
use danbao_rails::epay::{self, Notification, PayRequest};
use danbao_sandbox::gateway::{EpayMerchant, Sandbox, SandboxConfig};
use danbao_sandbox::wire::Faults;

const PID: &str = "1001";
const KEY: &str = "89unJUB8HZ54Hj7x4nUj56HN4nUzUJ8i";
const DEADLINE: Duration = Duration::from_secs(5);

/// The merchant's notify endpoint: reads each GET's query as the platform would.
#[derive(Clone, Default)]
struct Receiver {
    got: Arc<Mutex<Vec<Result<Notification, epay::EpayError>>>>,
}

async fn receive(State(r): State<Receiver>, OriginalUri(uri): OriginalUri) -> &'static str {
    let read = Notification::read(uri.query().unwrap_or_default(), PID, KEY);
    let ok = read.is_ok();
    r.got.lock().unwrap().push(read);
    if ok {
        "success"
    } else {
        "fail"
    }
}

struct Gw {
    sandbox: Sandbox,
    base: String,
    notify_url: String,
    receiver: Receiver,
    http: reqwest::Client,
}

impl Gw {
    async fn start() -> Gw {
        let sandbox = Sandbox::new(SandboxConfig {
            merchant_key: b"sandbox-hmac-key".to_vec(),
            public_base_url: "http://not-yet-known".to_owned(),
            // The whole resend schedule (a day and a half) in a fraction of a second.
            time_scale: 1_000_000.0,
            faults: Faults::default(),
            epay: Some(EpayMerchant {
                pid: PID.to_owned(),
                key: KEY.to_owned(),
            }),
            alipay: None,
            epay_v2: None,
            wechat: None,
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}/sandbox", listener.local_addr().unwrap());
        sandbox.set_public_base_url(base.clone());
        let app = Router::new().nest("/sandbox", sandbox.router());
        tokio::spawn(async move { axum::serve(listener, app).await });
        let receiver = Receiver::default();
        let notify = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let notify_url = format!("http://{}/notify", notify.local_addr().unwrap());
        let merchant = Router::new()
            .route("/notify", get(receive))
            .with_state(receiver.clone());
        tokio::spawn(async move { axum::serve(notify, merchant).await });
        Gw {
            sandbox,
            base,
            notify_url,
            receiver,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
        }
    }

    fn request(&self, out_trade_no: &str, fen: i64) -> PayRequest {
        PayRequest {
            pid: PID.into(),
            pay_type: "wxpay".into(),
            out_trade_no: out_trade_no.into(),
            notify_url: self.notify_url.clone(),
            return_url: "http://shop.test/orders/1".into(),
            name: "点卡 50 元".into(),
            money: Money::from_minor(fen),
        }
    }

    /// The buyer's page jump; returns the payment id of the cashier it lands on.
    async fn jump(&self, req: &PayRequest, key: &str) -> reqwest::Response {
        self.http
            .get(req.page_url(&format!("{}/epay/", self.base), key))
            .send()
            .await
            .unwrap()
    }

    async fn open(&self, out_trade_no: &str, fen: i64) -> String {
        let r = self.jump(&self.request(out_trade_no, fen), KEY).await;
        assert_eq!(r.status(), 302, "{}", r.text().await.unwrap());
        let location = r.headers()["location"].to_str().unwrap().to_owned();
        location
            .strip_prefix(&format!("{}/cashier/", self.base))
            .unwrap_or_else(|| panic!("not our cashier: {location}"))
            .to_owned()
    }

    async fn pay(&self, payment_id: &str) {
        let r = self
            .http
            .post(format!("{}/payments/{payment_id}/pay", self.base))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{}", r.status());
        tokio::time::timeout(DEADLINE, self.sandbox.deliveries_settled(payment_id))
            .await
            .unwrap();
    }

    async fn api(&self, query: &str, form: Option<String>) -> serde_json::Value {
        let url = format!("{}/epay/api.php?{query}", self.base);
        let req = match form {
            Some(body) => self
                .http
                .post(url)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body),
            None => self.http.get(url),
        };
        req.send().await.unwrap().json().await.unwrap()
    }
}

#[tokio::test]
async fn a_signed_page_jump_opens_the_cashier_and_nothing_else_does() {
    let gw = Gw::start().await;
    let id = gw.open("A1", 5_000).await;
    let cashier = gw
        .http
        .get(format!("{}/cashier/{id}", gw.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(cashier.contains("50.00"), "{cashier}");
    // The same order again is the same payment; the same number for another amount is not.
    assert_eq!(gw.open("A1", 5_000).await, id);
    assert_eq!(gw.jump(&gw.request("A1", 5_001), KEY).await.status(), 409);
    let forged = gw.jump(&gw.request("A2", 5_000), "not-the-key").await;
    assert_eq!(forged.status(), 400);
    assert!(forged.text().await.unwrap().contains("签名校验失败"));
    let mut other = gw.request("A3", 5_000);
    other.pid = "1002".into();
    assert_eq!(gw.jump(&other, KEY).await.status(), 400);
    // mapi.php: the same by API, the cashier's address in JSON.
    let body = serde_urlencoded::to_string(gw.request("A4", 990).signed_params(KEY)).unwrap();
    let answer: serde_json::Value = gw
        .http
        .post(format!("{}/epay/mapi.php", gw.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["code"], 1, "{answer}");
    assert!(answer["payurl"]
        .as_str()
        .unwrap()
        .starts_with(&format!("{}/cashier/", gw.base)));
}

#[tokio::test]
async fn paying_sends_the_aggregators_md5_signed_get() {
    let gw = Gw::start().await;
    let id = gw.open("B1", 1_250).await;
    gw.pay(&id).await;
    let got = gw.receiver.got.lock().unwrap().clone();
    assert_eq!(got.len(), 1, "{got:?}");
    let n = got[0].as_ref().unwrap();
    assert_eq!(
        (n.out_trade_no.as_str(), n.money, n.pay_type.as_str(), n.name.as_str()),
        ("B1", Money::from_minor(1_250), "wxpay", "点卡 50 元")
    );
    assert_eq!(n.trade_status, "TRADE_SUCCESS");
}

#[tokio::test]
async fn a_lying_gateway_signs_the_wrong_amount_and_only_the_merchant_can_catch_it() {
    let gw = Gw::start().await;
    gw.sandbox.set_faults(Faults {
        tamper_amount_pct: 100,
        ..Faults::default()
    });
    let id = gw.open("C1", 1_000).await;
    gw.pay(&id).await;
    let got = gw.receiver.got.lock().unwrap().clone();
    assert!(!got.is_empty());
    for read in got {
        // Either 10.01 (signed: the merchant must compare with its own order) or 0.00
        // (no payment: refused by the reader).
        match read {
            Ok(n) => assert_eq!(n.money, Money::from_minor(1_001)),
            Err(e) => assert!(matches!(e, epay::EpayError::Malformed(_)), "{e:?}"),
        }
    }
}

#[tokio::test]
async fn the_api_answers_queries_and_refunds_for_the_merchant_alone() {
    let gw = Gw::start().await;
    let auth = format!("pid={PID}&key={KEY}");
    let unknown = gw.api(&format!("act=order&{auth}&out_trade_no=D1"), None).await;
    assert_eq!(unknown["code"], -1);
    let id = gw.open("D1", 3_000).await;
    let unpaid = gw.api(&format!("act=order&{auth}&out_trade_no=D1"), None).await;
    assert_eq!(
        (unpaid["code"].clone(), unpaid["status"].clone()),
        (1.into(), 0.into()),
        "{unpaid}"
    );
    gw.pay(&id).await;
    let answer: epay::OrderAnswer =
        serde_json::from_value(gw.api(&format!("act=order&{auth}&out_trade_no=D1"), None).await).unwrap();
    let epay::OrderState::Paid(paid) = answer.state(PID, "D1").unwrap() else {
        panic!("not paid: {answer:?}");
    };
    assert_eq!(paid.money, Money::from_minor(3_000));
    let wrong_key = gw
        .api(&format!("act=order&pid={PID}&key=guess&out_trade_no=D1"), None)
        .await;
    assert_eq!(wrong_key["code"], -2);
    // The order list is the statement.
    let list: epay::OrdersAnswer =
        serde_json::from_value(gw.api(&format!("act=orders&{auth}&limit=10"), None).await).unwrap();
    let listed = list.paid(PID).unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].0.trade_no, paid.trade_no);
    // Refunds: part, the rest, then nothing more; V1 has no request id, so each call counts.
    let refund = |money: &str| epay::refund_form(PID, KEY, "D1", Money::parse_yuan(money).unwrap());
    assert_eq!(gw.api("act=refund", Some(refund("10.00"))).await["code"], 1);
    let part: epay::OrderAnswer =
        serde_json::from_value(gw.api(&format!("act=order&{auth}&out_trade_no=D1"), None).await).unwrap();
    assert!(matches!(part.state(PID, "D1").unwrap(), epay::OrderState::Paid(_)));
    assert_eq!(gw.api("act=refund", Some(refund("20.00"))).await["code"], 1);
    let whole: epay::OrderAnswer =
        serde_json::from_value(gw.api(&format!("act=order&{auth}&out_trade_no=D1"), None).await).unwrap();
    assert_eq!(whole.state(PID, "D1").unwrap(), epay::OrderState::Refunded);
    assert_eq!(gw.api("act=refund", Some(refund("0.01"))).await["code"], -1);
    let bad_key = format!("pid={PID}&key=guess&out_trade_no=D1&money=1.00");
    assert_eq!(gw.api("act=refund", Some(bad_key)).await["code"], -2);
}
