//! The gateway's 易支付 V2 (RSA) API on a real socket: a merchant's signed `api/pay/create`
//! answered with a signed jump to the cashier, the platform's RSA-signed GET notification
//! (checked here by the same reader the platform uses, against the platform's public key),
//! `api/pay/query`, and `api/pay/refund` / `api/pay/refundquery` idempotent on
//! `out_refund_no`; every answer read through `danbao_rails::epay_v2`'s merchant side.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{OriginalUri, State};
use axum::routing::get;
use axum::Router;
use danbao_domain::Money;
use danbao_rails::epay_v2::{
    self, CreateAnswer, CreateRequest, Epay2Error, Method, Notification, OrderRef, OrderState, PayType, QueryAnswer,
    QueryRequest, RefundAnswer, RefundQueryAnswer, RefundQueryRequest, RefundRef, RefundRequest, RefundStatus,
};
use danbao_rails::rsa_sha256::{SigningKey, VerifyingKey};
use danbao_sandbox::gateway::{EpayV2Merchant, Sandbox, SandboxConfig};
use danbao_sandbox::wire::Faults;

const PID: &str = "1001";
const MERCHANT_PRIVATE: &str = include_str!("data/epay2/merchant-private.pem");
const MERCHANT_PUBLIC: &str = include_str!("data/epay2/merchant-public.pem");
const PLATFORM_PRIVATE: &str = include_str!("data/epay2/platform-private.pem");
const PLATFORM_PUBLIC: &str = include_str!("data/epay2/platform-public.pem");
const DEADLINE: Duration = Duration::from_secs(5);

fn merchant_key() -> SigningKey {
    SigningKey::from_text(MERCHANT_PRIVATE).unwrap()
}

fn platform_public() -> VerifyingKey {
    VerifyingKey::from_text(PLATFORM_PUBLIC).unwrap()
}

fn now_s() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// The merchant's notify endpoint: reads each GET's query as the platform's adapter does.
#[derive(Clone, Default)]
struct Receiver {
    got: Arc<Mutex<Vec<Result<Notification, Epay2Error>>>>,
}

async fn receive(State(r): State<Receiver>, OriginalUri(uri): OriginalUri) -> &'static str {
    let read = Notification::read(uri.query().unwrap_or_default(), &platform_public(), PID, now_s());
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
        Gw::start_in(None).await
    }

    /// A gateway keeping its books in `state_dir` when given (as `danbao serve` runs it).
    async fn start_in(state_dir: Option<&std::path::Path>) -> Gw {
        let cfg = SandboxConfig {
            merchant_key: b"sandbox-hmac-key".to_vec(),
            public_base_url: "http://not-yet-known".to_owned(),
            time_scale: 1_000_000.0,
            faults: Faults::default(),
            epay: None,
            wechat: None,
            alipay: None,
            epay_v2: Some(EpayV2Merchant {
                pid: PID.to_owned(),
                merchant_public_key: VerifyingKey::from_text(MERCHANT_PUBLIC).unwrap(),
                platform_key: Some(Arc::new(SigningKey::from_text(PLATFORM_PRIVATE).unwrap())),
            }),
        };
        let sandbox = match state_dir {
            Some(dir) => Sandbox::open(cfg, dir).unwrap(),
            None => Sandbox::new(cfg),
        };
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
            http: reqwest::Client::new(),
        }
    }

    fn request(&self, out_trade_no: &str, fen: i64) -> CreateRequest {
        CreateRequest {
            pid: PID.into(),
            method: Method::Web,
            device: None,
            pay_type: "alipay".into(),
            out_trade_no: out_trade_no.into(),
            notify_url: self.notify_url.clone(),
            return_url: "http://shop.test/orders/1".into(),
            name: "点卡 50 元".into(),
            money: Money::from_minor(fen),
            clientip: "203.0.113.7".into(),
            param: Some("order-1".into()),
        }
    }

    async fn post(&self, path: &str, body: String) -> String {
        self.http
            .post(format!("{}/epay/{path}", self.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    async fn create(&self, req: &CreateRequest, key: &SigningKey, at: i64) -> Result<CreateAnswer, Epay2Error> {
        let text = self.post(epay_v2::PATH_CREATE, req.body(key, at).unwrap()).await;
        CreateAnswer::read(&text, &platform_public(), now_s())
    }

    /// Opens a payment; returns the sandbox's payment id (the platform's trade_no).
    async fn open(&self, out_trade_no: &str, fen: i64) -> String {
        let answer = self
            .create(&self.request(out_trade_no, fen), &merchant_key(), now_s())
            .await
            .unwrap();
        assert_eq!(answer.pay_type, PayType::Jump);
        assert_eq!(answer.pay_info, format!("{}/cashier/{}", self.base, answer.trade_no));
        answer.trade_no
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

    async fn query(&self, out_trade_no: &str) -> Result<OrderState, Epay2Error> {
        let order = OrderRef::OutTradeNo(out_trade_no.into());
        let req = QueryRequest {
            pid: PID.into(),
            order: order.clone(),
        };
        let text = self
            .post(epay_v2::PATH_QUERY, req.body(&merchant_key(), now_s()).unwrap())
            .await;
        QueryAnswer::read(&text, &platform_public(), PID, &order, now_s())
    }

    async fn refund(&self, out_trade_no: &str, fen: i64, out_refund_no: &str) -> Result<RefundAnswer, Epay2Error> {
        let req = RefundRequest {
            pid: PID.into(),
            order: OrderRef::OutTradeNo(out_trade_no.into()),
            money: Money::from_minor(fen),
            out_refund_no: out_refund_no.into(),
        };
        let text = self
            .post(epay_v2::PATH_REFUND, req.body(&merchant_key(), now_s()).unwrap())
            .await;
        RefundAnswer::read(&text, &platform_public(), &req, now_s())
    }

    async fn refund_query(&self, by: RefundRef) -> Result<RefundQueryAnswer, Epay2Error> {
        let req = RefundQueryRequest {
            pid: PID.into(),
            refund: by.clone(),
        };
        let text = self
            .post(epay_v2::PATH_REFUND_QUERY, req.body(&merchant_key(), now_s()).unwrap())
            .await;
        RefundQueryAnswer::read(&text, &platform_public(), PID, &by, now_s())
    }
}

fn refused(r: Result<impl std::fmt::Debug, Epay2Error>) -> String {
    match r {
        Err(Epay2Error::Refused { code, msg }) => {
            assert_eq!(code, -1);
            msg
        }
        other => panic!("not refused: {other:?}"),
    }
}

#[tokio::test]
async fn a_signed_create_opens_the_cashier_and_nothing_else_does() {
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
    assert!(refused(gw.create(&gw.request("A1", 5_001), &merchant_key(), now_s()).await).contains("订单号已存在"));
    // Signed with another key (here the platform's own), too old, or for another merchant.
    let platform = SigningKey::from_text(PLATFORM_PRIVATE).unwrap();
    assert!(refused(gw.create(&gw.request("A2", 5_000), &platform, now_s()).await).contains("签名"));
    assert!(refused(
        gw.create(&gw.request("A3", 5_000), &merchant_key(), now_s() - 301)
            .await
    )
    .contains("时间戳"));
    let mut other = gw.request("A4", 5_000);
    other.pid = "1002".into();
    assert!(refused(gw.create(&other, &merchant_key(), now_s()).await).contains("商户不存在"));
    // An MD5-signed (V1) form is no V2 request.
    let mut md5 = gw.request("A5", 5_000).signed_params(&merchant_key(), now_s()).unwrap();
    for (k, v) in md5.iter_mut() {
        if k == "sign_type" {
            *v = "MD5".into();
        }
    }
    let text = gw.post(epay_v2::PATH_CREATE, epay_v2::php_http_build_query(&md5)).await;
    assert!(refused(CreateAnswer::read(&text, &platform_public(), now_s())).contains("签名"));
    // None of the refused ones opened anything.
    for out in ["A2", "A3", "A4", "A5"] {
        assert!(refused(gw.query(out).await).contains("订单号不存在"), "{out}");
    }
}

#[tokio::test]
async fn paying_sends_the_platforms_rsa_signed_get() {
    let gw = Gw::start().await;
    let id = gw.open("B1", 1_250).await;
    gw.pay(&id).await;
    let got = gw.receiver.got.lock().unwrap().clone();
    assert_eq!(got.len(), 1, "{got:?}");
    let n = got[0].as_ref().unwrap();
    let p = &n.payment;
    assert_eq!(
        (p.out_trade_no.as_str(), p.money, p.pay_type.as_str(), p.name.as_str()),
        ("B1", Money::from_minor(1_250), "alipay", "点卡 50 元")
    );
    // The trade number is the one the create answer gave; the merchant's param comes back.
    assert_eq!(p.trade_no, id);
    assert_eq!(p.param.as_deref(), Some("order-1"));
    assert!(now_s().abs_diff(n.timestamp) <= 5, "{}", n.timestamp);
    // The gateway's own merchant API does not answer for an 易支付 payment.
    let client = danbao_sandbox::client::SandboxClient::new(&gw.base, b"sandbox-hmac-key".to_vec());
    assert!(client.query_payment_raw(&id).await.is_err());
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
        match read {
            Ok(n) => assert_eq!(n.payment.money, Money::from_minor(1_001)),
            Err(e) => assert!(matches!(e, Epay2Error::NotPositive(_)), "{e:?}"),
        }
    }
}

#[tokio::test]
async fn queries_and_refunds_are_signed_and_a_refund_number_refunds_once() {
    let gw = Gw::start().await;
    assert!(refused(gw.query("D1").await).contains("订单号不存在"));
    let id = gw.open("D1", 3_000).await;
    assert_eq!(gw.query("D1").await.unwrap(), OrderState::Unpaid);
    assert!(refused(gw.refund("D1", 1_000, "refund-0001").await).contains("未支付"));
    gw.pay(&id).await;
    let OrderState::Paid(paid) = gw.query("D1").await.unwrap() else {
        panic!("not paid");
    };
    assert_eq!(
        (paid.money, paid.trade_no.as_str()),
        (Money::from_minor(3_000), id.as_str())
    );
    // A part, asked twice (a lost answer): one refund.
    let first = gw.refund("D1", 1_000, "refund-0001").await.unwrap();
    let again = gw.refund("D1", 1_000, "refund-0001").await.unwrap();
    assert_eq!(first.refund_no, again.refund_no);
    assert_eq!(
        (first.money, first.trade_no.as_str()),
        (Money::from_minor(1_000), id.as_str())
    );
    // The same number for another amount is refused, not a second refund.
    assert!(refused(gw.refund("D1", 500, "refund-0001").await).contains("已存在"));
    let by_ours = gw
        .refund_query(RefundRef::OutRefundNo("refund-0001".into()))
        .await
        .unwrap();
    let by_theirs = gw
        .refund_query(RefundRef::RefundNo(first.refund_no.clone()))
        .await
        .unwrap();
    assert_eq!(by_ours, by_theirs);
    assert_eq!(
        (by_ours.status, by_ours.money, by_ours.out_refund_no.as_str()),
        (RefundStatus::Succeeded, Money::from_minor(1_000), "refund-0001")
    );
    assert!(refused(gw.refund_query(RefundRef::OutRefundNo("refund-9999".into())).await).contains("不存在"));
    // Still paid in part; then the rest, then nothing more.
    assert!(matches!(gw.query("D1").await.unwrap(), OrderState::Paid(_)));
    gw.refund("D1", 2_000, "refund-0002").await.unwrap();
    let OrderState::Refunded { payment, refunded } = gw.query("D1").await.unwrap() else {
        panic!("not refunded");
    };
    assert_eq!(
        (payment.money, refunded),
        (Money::from_minor(3_000), Some(Money::from_minor(3_000)))
    );
    assert!(refused(gw.refund("D1", 1, "refund-0003").await).contains("大于"));
}

#[tokio::test]
async fn a_down_gateway_answers_nothing() {
    let gw = Gw::start().await;
    gw.sandbox.set_faults(Faults {
        down: true,
        ..Faults::default()
    });
    let r = gw
        .http
        .post(format!("{}/epay/{}", gw.base, epay_v2::PATH_QUERY))
        .body(
            QueryRequest {
                pid: PID.into(),
                order: OrderRef::OutTradeNo("E1".into()),
            }
            .body(&merchant_key(), now_s())
            .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
}

#[tokio::test]
async fn a_v2_payment_opened_before_a_restart_is_paid_and_notified_after_it() {
    let dir = std::env::temp_dir()
        .join(format!("danbao-epay2-restart-{}", uuid::Uuid::new_v4().simple()))
        .join("sandbox");
    let before = Gw::start_in(Some(&dir)).await;
    let opened = before
        .create(&before.request("F1", 2_000), &merchant_key(), now_s())
        .await
        .unwrap();
    // A gateway started again on the same books (the first one is left idle).
    // The notification goes where the payment was told: the first merchant's receiver.
    let after = Gw::start_in(Some(&dir)).await;
    let id = opened.trade_no;
    after.pay(&id).await;
    // Still a V2 payment: the RSA-signed GET, its number and param kept.
    let got = before.receiver.got.lock().unwrap().clone();
    assert_eq!(got.len(), 1, "{got:?}");
    let n = &got[0].as_ref().unwrap().payment;
    assert_eq!(
        (n.trade_no.as_str(), n.out_trade_no.as_str(), n.param.as_deref()),
        (id.as_str(), "F1", Some("order-1"))
    );
    assert!(matches!(after.query("F1").await.unwrap(), OrderState::Paid(_)));
    let _ = std::fs::remove_dir_all(dir.parent().unwrap());
}
