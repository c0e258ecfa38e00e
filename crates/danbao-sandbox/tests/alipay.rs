//! The gateway's Alipay personality on a real socket: a merchant's signed page/WAP jump and
//! precreate, Alipay's form-POST notification (checked here by the same reader the platform
//! uses, against the gateway's public key), and the signed answers of `alipay.trade.query`,
//! `alipay.trade.refund`, `alipay.trade.fastpay.refund.query` and the bill download.
//! The keys are fixed test keys (the wire-format crate's vectors, copied here).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::routing::post;
use axum::Router;
use danbao_domain::Money;
use danbao_rails::alipay::{
    self, AlipayError, BillUrlAnswer, Head, Notification, PayOrder, PrecreateAnswer, QueryAnswer, RefundAnswer,
    RefundOrder, RefundQueryAnswer, Request,
};
use danbao_rails::rsa_sha256::{SigningKey, VerifyingKey};
use danbao_sandbox::gateway::{AlipayMerchant, Sandbox, SandboxConfig};
use danbao_sandbox::wire::Faults;

const APP_ID: &str = "2021000000000001";
const SELLER_ID: &str = "2088000000000001";
const APP_PRIVATE: &str = include_str!("data/alipay/app-private.pem");
const APP_PUBLIC: &str = include_str!("data/alipay/app-public.pem");
const ALIPAY_PRIVATE: &str = include_str!("data/alipay/alipay-private.pem");
const ALIPAY_PUBLIC: &str = include_str!("data/alipay/alipay-public.pem");
const DEADLINE: Duration = Duration::from_secs(5);

fn app_key() -> SigningKey {
    SigningKey::from_text(APP_PRIVATE).unwrap()
}

fn alipay_public() -> VerifyingKey {
    VerifyingKey::from_text(ALIPAY_PUBLIC).unwrap()
}

/// The merchant's notify endpoint: reads each form POST as the platform would.
#[derive(Clone, Default)]
struct Receiver {
    got: Arc<Mutex<Vec<Result<alipay::Payment, AlipayError>>>>,
}

async fn receive(State(r): State<Receiver>, body: String) -> &'static str {
    let read = Notification::read(&body, APP_ID, SELLER_ID, &alipay_public());
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
        Gw::start_with(Some(Arc::new(SigningKey::from_text(ALIPAY_PRIVATE).unwrap()))).await
    }

    async fn start_with(alipay_key: Option<Arc<SigningKey>>) -> Gw {
        let sandbox = Sandbox::new(SandboxConfig {
            merchant_key: b"sandbox-hmac-key".to_vec(),
            public_base_url: "http://not-yet-known".to_owned(),
            // The whole resend schedule (a day and a half) in a fraction of a second.
            time_scale: 1_000_000.0,
            faults: Faults::default(),
            epay: None,
            wechat: None,
            epay_v2: None,
            alipay: Some(AlipayMerchant {
                app_id: APP_ID.to_owned(),
                seller_id: SELLER_ID.to_owned(),
                app_public_key: VerifyingKey::from_text(APP_PUBLIC).unwrap(),
                alipay_key,
            }),
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
            .route("/notify", post(receive))
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

    fn gateway(&self) -> String {
        format!("{}/alipay/gateway.do", self.base)
    }

    fn head(&self, app_id: &str) -> Head {
        Head {
            app_id: app_id.to_owned(),
            timestamp: alipay::china_time(jiff::Timestamp::now()),
            notify_url: Some(self.notify_url.clone()),
            return_url: Some("http://shop.test/orders/1".to_owned()),
        }
    }

    fn order(out_trade_no: &str, fen: i64) -> PayOrder {
        PayOrder {
            out_trade_no: out_trade_no.to_owned(),
            total_amount: Money::from_minor(fen),
            subject: "点卡 50 元".to_owned(),
            time_expire: None,
        }
    }

    /// The buyer's browser follows a signed page address.
    async fn jump(&self, request: &Request, app_id: &str, key: &SigningKey) -> reqwest::Response {
        let url = request.page_url(&self.gateway(), &self.head(app_id), key).unwrap();
        self.http.get(url).send().await.unwrap()
    }

    /// Opens a page payment; returns the sandbox payment id of the cashier it lands on.
    async fn open(&self, out_trade_no: &str, fen: i64) -> String {
        let r = self
            .jump(&Request::PagePay(Gw::order(out_trade_no, fen)), APP_ID, &app_key())
            .await;
        assert_eq!(r.status(), 302, "{}", r.text().await.unwrap());
        self.cashier_id(r.headers()["location"].to_str().unwrap())
    }

    fn cashier_id(&self, url: &str) -> String {
        url.strip_prefix(&format!("{}/cashier/", self.base))
            .unwrap_or_else(|| panic!("not our cashier: {url}"))
            .to_owned()
    }

    /// A form POST of a signed request; the answer's body.
    async fn call(&self, request: &Request) -> String {
        let body = request.form_body(&self.head(APP_ID), &app_key()).unwrap();
        self.http
            .post(self.gateway())
            .header("content-type", "application/x-www-form-urlencoded;charset=utf-8")
            .body(body)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
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

    async fn query(&self, out_trade_no: &str) -> Result<QueryAnswer, AlipayError> {
        let body = self
            .call(&Request::Query {
                out_trade_no: out_trade_no.to_owned(),
            })
            .await;
        QueryAnswer::read(&body, &alipay_public(), out_trade_no)
    }

    async fn refund(&self, out_trade_no: &str, yuan: &str, out_request_no: &str) -> Result<RefundAnswer, AlipayError> {
        let body = self
            .call(&Request::Refund(RefundOrder {
                out_trade_no: out_trade_no.to_owned(),
                refund_amount: Money::parse_yuan(yuan).unwrap(),
                out_request_no: out_request_no.to_owned(),
                refund_reason: None,
            }))
            .await;
        RefundAnswer::read(&body, &alipay_public(), out_trade_no)
    }
}

fn sub_code(e: &AlipayError) -> &str {
    match e {
        AlipayError::Refused { sub_code, .. } | AlipayError::UnsignedRefusal { sub_code, .. } => sub_code,
        _ => "",
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
    let other_amount = gw
        .jump(&Request::PagePay(Gw::order("A1", 5_001)), APP_ID, &app_key())
        .await;
    assert_eq!(other_amount.status(), 400);
    // Signed with a key that is not the application's: refused, unsigned (nothing trusted).
    let forged = gw
        .jump(
            &Request::PagePay(Gw::order("A2", 5_000)),
            APP_ID,
            &SigningKey::from_text(ALIPAY_PRIVATE).unwrap(),
        )
        .await;
    let text = forged.text().await.unwrap();
    assert!(text.contains("isv.invalid-signature"), "{text}");
    // Another application's request, well signed: refused.
    let other_app = gw
        .jump(
            &Request::PagePay(Gw::order("A3", 5_000)),
            "2021000000000999",
            &app_key(),
        )
        .await;
    let text = other_app.text().await.unwrap();
    assert!(text.contains("isv.invalid-app-id"), "{text}");
    // The phone cashier is the same jump.
    let wap = gw
        .jump(&Request::WapPay(Gw::order("A4", 990)), APP_ID, &app_key())
        .await;
    assert_eq!(wap.status(), 302);
    // Precreate: a signed answer whose QR code is that payment's cashier.
    let body = gw.call(&Request::Precreate(Gw::order("A5", 1_200))).await;
    let answer = PrecreateAnswer::read(&body, &alipay_public(), "A5").unwrap();
    let qr = gw.cashier_id(&answer.qr_code);
    assert_ne!(qr, id);
    // The sandbox's own merchant API does not answer for this personality's payments.
    let client = danbao_sandbox::client::SandboxClient::new(gw.base.clone(), b"sandbox-hmac-key".to_vec());
    assert!(client.query_by_out_trade_no("A1").await.unwrap().is_empty());
}

#[tokio::test]
async fn paying_sends_alipays_rsa2_signed_form_post_once_acknowledged() {
    let gw = Gw::start().await;
    let id = gw.open("B1", 1_250).await;
    gw.pay(&id).await;
    let got = gw.receiver.got.lock().unwrap().clone();
    assert_eq!(got.len(), 1, "{got:?}");
    let p = got[0].as_ref().unwrap();
    assert_eq!((p.out_trade_no.as_str(), p.amount), ("B1", Money::from_minor(1_250)));
    assert!(p.paid_at.is_some());
    let view: serde_json::Value = gw
        .http
        .get(format!("{}/payments/{id}", gw.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(view["notifications"][0]["outcome"], "acknowledged", "{view}");
    assert_eq!(view["trade_no"].as_str(), Some(p.trade_no.as_str()));
}

#[tokio::test]
async fn without_a_key_given_the_gateway_makes_its_own() {
    let gw = Gw::start_with(None).await;
    let made = gw.sandbox.alipay_public_key().unwrap();
    assert_ne!(made, alipay_public());
    let body = gw.call(&Request::Precreate(Gw::order("K1", 100))).await;
    assert!(PrecreateAnswer::read(&body, &made, "K1").is_ok());
    assert_eq!(
        PrecreateAnswer::read(&body, &alipay_public(), "K1").unwrap_err(),
        AlipayError::BadSignature
    );
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
            Ok(p) => assert_eq!(p.amount, Money::from_minor(1_001)),
            Err(e) => assert!(matches!(e, AlipayError::NotPositive(_)), "{e:?}"),
        }
    }
}

#[tokio::test]
async fn the_query_answers_where_a_trade_stands() {
    let gw = Gw::start().await;
    let unknown = gw.query("D1").await.unwrap_err();
    assert_eq!(sub_code(&unknown), alipay::SUB_TRADE_NOT_EXIST, "{unknown:?}");
    let id = gw.open("D1", 3_000).await;
    let waiting = gw.query("D1").await.unwrap();
    assert_eq!(waiting.trade_status, alipay::WAIT_BUYER_PAY);
    assert!(matches!(waiting.payment(), Err(AlipayError::NotPaid(_))));
    gw.pay(&id).await;
    let paid = gw.query("D1").await.unwrap().payment().unwrap();
    assert_eq!(paid.amount, Money::from_minor(3_000));
    let notified = gw.receiver.got.lock().unwrap()[0].clone().unwrap();
    assert_eq!(paid.trade_no, notified.trade_no);
}

#[tokio::test]
async fn refunds_are_idempotent_on_the_request_number_and_confirmed_by_the_refund_query() {
    let gw = Gw::start().await;
    assert_eq!(
        sub_code(&gw.refund("E1", "1.00", "r1").await.unwrap_err()),
        alipay::SUB_TRADE_NOT_EXIST
    );
    let id = gw.open("E1", 3_000).await;
    let unpaid = gw.refund("E1", "1.00", "r1").await.unwrap_err();
    assert_eq!(sub_code(&unpaid), "ACQ.TRADE_STATUS_ERROR", "{unpaid:?}");
    gw.pay(&id).await;
    let first = gw.refund("E1", "10.00", "r1").await.unwrap();
    assert!(first.fund_change);
    assert_eq!(first.refund_fee, Money::from_minor(1_000));
    // The same request again moves no money and says so.
    let again = gw.refund("E1", "10.00", "r1").await.unwrap();
    assert!(!again.fund_change);
    assert_eq!(again.refund_fee, Money::from_minor(1_000));
    let rest = gw.refund("E1", "20.00", "r2").await.unwrap();
    assert_eq!(rest.refund_fee, Money::from_minor(3_000));
    let over = gw.refund("E1", "0.01", "r3").await.unwrap_err();
    assert_eq!(sub_code(&over), "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL", "{over:?}");
    // Refunded in full: the trade is closed.
    assert_eq!(gw.query("E1").await.unwrap().trade_status, alipay::TRADE_CLOSED);
    let ask = |no: &str| {
        let gw = &gw;
        let no = no.to_owned();
        async move {
            let body = gw
                .call(&Request::RefundQuery {
                    out_trade_no: "E1".into(),
                    out_request_no: no.clone(),
                })
                .await;
            RefundQueryAnswer::read(&body, &alipay_public(), "E1", &no).unwrap()
        }
    };
    assert_eq!(ask("r1").await.refunded(), Some(Money::from_minor(1_000)));
    assert_eq!(ask("r3").await.refunded(), None);
}

#[tokio::test]
async fn the_days_bill_lists_its_payments_in_gbk_at_a_signed_address() {
    let gw = Gw::start().await;
    let paid = gw.open("F1", 1_500).await;
    gw.pay(&paid).await;
    gw.open("F2", 900).await;
    let today = alipay::china_time(jiff::Timestamp::now())[..10].to_owned();
    let body = gw
        .call(&Request::BillDownloadUrl {
            bill_type: alipay::BILL_TYPE_TRADE.into(),
            bill_date: today.clone(),
        })
        .await;
    let url = BillUrlAnswer::read(&body, &alipay_public()).unwrap().bill_download_url;
    let bytes = gw.http.get(&url).send().await.unwrap().bytes().await.unwrap();
    // Zipped, as Alipay serves it.
    assert!(bytes.starts_with(b"PK\x03\x04"));
    let text = alipay::read_bill(&bytes).unwrap();
    assert!(text.contains("业务明细列表"), "{text}");
    let lines = alipay::read_bill_detail(&text).unwrap();
    assert_eq!(lines.len(), 1, "{text}");
    assert_eq!(
        (lines[0].out_trade_no.as_str(), lines[0].amount),
        ("F1", Money::from_minor(1_500))
    );
    // Another day's bill is empty; a tampered address is refused.
    let body = gw
        .call(&Request::BillDownloadUrl {
            bill_type: alipay::BILL_TYPE_TRADE.into(),
            bill_date: "2020-01-01".into(),
        })
        .await;
    let other = BillUrlAnswer::read(&body, &alipay_public()).unwrap().bill_download_url;
    let bytes = gw.http.get(&other).send().await.unwrap().bytes().await.unwrap();
    assert!(alipay::read_bill_detail(&alipay::read_bill(&bytes).unwrap())
        .unwrap()
        .is_empty());
    let tampered = url.replace(&today, "2020-01-01");
    assert_eq!(gw.http.get(&tampered).send().await.unwrap().status(), 403);
}
