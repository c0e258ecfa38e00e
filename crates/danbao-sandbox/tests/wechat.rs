//! The gateway's WeChat Pay API v3 personality on a real socket: a merchant's signed
//! Native order, WeChat Pay's signed and encrypted notification (checked here by the same
//! reader the platform uses, against the platform key and the APIv3 key), its
//! acknowledgement rule, and the signed query, refund and trade bill.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use danbao_domain::Money;
use danbao_rails::rsa_sha256::{SigningKey, VerifyingKey};
use danbao_rails::wechat::{
    self, ApiV3Key, BillAnswer, Headers, KeyRing, Merchant, NativeAnswer, NativeOrder, OrderAmount, OrderState,
    Payment, Receiver, Refund, RefundRequest, RefundStatus, SignedRequest, Transaction, WechatError,
};
use danbao_sandbox::gateway::{Sandbox, SandboxConfig, WechatMerchant};
use danbao_sandbox::wire::Faults;

const MERCHANT_PRIVATE: &str = include_str!("data/wechat/merchant-private.pem");
const MERCHANT_PUBLIC: &str = include_str!("data/wechat/merchant-public.pem");
const PLATFORM_PRIVATE: &str = include_str!("data/wechat/platform-private.pem");
const PLATFORM_PUBLIC: &str = include_str!("data/wechat/platform-public.pem");

const MCHID: &str = "1900000109";
const APPID: &str = "wxd678efh567hg6787";
const MERCHANT_SERIAL: &str = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1";
const PLATFORM_SERIAL: &str = "7132D72A03E93CDDF8C03BBD1F37EEDF1B8A1F8B";
const API_V3_KEY: &str = "Danbao0TestApiV3Key0000000000000";
const DEADLINE: Duration = Duration::from_secs(5);

fn now_s() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

fn merchant() -> Merchant {
    Merchant {
        mchid: MCHID.into(),
        serial_no: MERCHANT_SERIAL.into(),
        key: SigningKey::from_text(MERCHANT_PRIVATE).unwrap(),
    }
}

fn receiver() -> Receiver {
    Receiver {
        mchid: MCHID.into(),
        appid: APPID.into(),
        platform_keys: KeyRing::new().with(PLATFORM_SERIAL, VerifyingKey::from_text(PLATFORM_PUBLIC).unwrap()),
        api_v3_key: ApiV3Key::from_text(API_V3_KEY).unwrap(),
    }
}

/// A notification as the merchant read it: its id and the payment, or why not.
type Read = Result<(String, Payment), WechatError>;

/// The merchant's notify endpoint: reads each POST as the platform would, and answers
/// with the status the test sets (204 by default).
#[derive(Clone)]
struct Notified {
    got: Arc<Mutex<Vec<Read>>>,
    /// Answer 500 to this many notifications first.
    fail_first: Arc<AtomicUsize>,
}

async fn receive(State(r): State<Notified>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let pairs: Vec<(&str, &str)> = headers
        .iter()
        .filter_map(|(k, v)| Some((k.as_str(), v.to_str().ok()?)))
        .collect();
    let read = Headers::from_pairs(pairs).and_then(|h| wechat::Notification::read(&h, &body, &receiver(), now_s()));
    let ok = read.is_ok();
    r.got.lock().unwrap().push(read);
    let failing = r
        .fail_first
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    if failing || !ok {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::NO_CONTENT
    }
}

struct Gw {
    sandbox: Sandbox,
    base: String,
    notify_url: String,
    notified: Notified,
    http: reqwest::Client,
}

struct Answer {
    status: u16,
    headers: Option<Headers>,
    body: Vec<u8>,
}

impl Gw {
    async fn start() -> Gw {
        let sandbox = Sandbox::new(SandboxConfig {
            merchant_key: b"sandbox-hmac-key".to_vec(),
            public_base_url: "http://not-yet-known".to_owned(),
            time_scale: 1_000_000.0,
            faults: Faults::default(),
            epay: None,
            alipay: None,
            epay_v2: None,
            wechat: Some(WechatMerchant {
                mchid: MCHID.into(),
                appid: APPID.into(),
                merchant_serial_no: MERCHANT_SERIAL.into(),
                merchant_public_key: VerifyingKey::from_text(MERCHANT_PUBLIC).unwrap(),
                api_v3_key: ApiV3Key::from_text(API_V3_KEY).unwrap(),
                platform_serial_no: PLATFORM_SERIAL.into(),
                platform_key: Some(Arc::new(SigningKey::from_text(PLATFORM_PRIVATE).unwrap())),
            }),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}/sandbox", listener.local_addr().unwrap());
        sandbox.set_public_base_url(base.clone());
        let app = Router::new().nest("/sandbox", sandbox.router());
        tokio::spawn(async move { axum::serve(listener, app).await });
        let notified = Notified {
            got: Arc::default(),
            fail_first: Arc::default(),
        };
        let notify = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let notify_url = format!("http://{}/notify", notify.local_addr().unwrap());
        let merchant = Router::new()
            .route("/notify", post(receive))
            .with_state(notified.clone());
        tokio::spawn(async move { axum::serve(notify, merchant).await });
        Gw {
            sandbox,
            base,
            notify_url,
            notified,
            http: reqwest::Client::new(),
        }
    }

    fn order(&self, out_trade_no: &str, fen: i64) -> NativeOrder {
        NativeOrder {
            appid: APPID.into(),
            mchid: MCHID.into(),
            description: "点卡 50 元".into(),
            out_trade_no: out_trade_no.into(),
            time_expire: Some("2099-01-01T00:00:00+08:00".into()),
            notify_url: self.notify_url.clone(),
            amount: OrderAmount {
                total: fen,
                currency: "CNY".into(),
            },
        }
    }

    /// Sends a signed request to the personality (its paths are relative to `/wechat`).
    async fn send(&self, req: SignedRequest) -> Answer {
        let url = format!("{}/wechat{}", self.base, req.path_and_query);
        let builder = match req.method {
            "POST" => self
                .http
                .post(url)
                .header("content-type", "application/json")
                .body(req.body),
            _ => self.http.get(url),
        };
        let r = builder
            .header("authorization", req.authorization)
            .header("accept", "application/json")
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let pairs: Vec<(String, String)> = r
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or_default().to_owned()))
            .collect();
        let headers = Headers::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))).ok();
        Answer {
            status,
            headers,
            body: r.bytes().await.unwrap().to_vec(),
        }
    }

    fn read<T: serde::de::DeserializeOwned>(&self, a: &Answer) -> Result<T, WechatError> {
        wechat::read_answer(
            a.status,
            a.headers.as_ref(),
            &a.body,
            &receiver().platform_keys,
            now_s(),
        )
    }

    /// Opens a Native order; returns the cashier's payment id from its code_url.
    async fn open(&self, out_trade_no: &str, fen: i64) -> String {
        let a = self
            .send(
                self.order(out_trade_no, fen)
                    .request(&merchant(), now_s(), "nonce1")
                    .unwrap(),
            )
            .await;
        let answer: NativeAnswer = self.read(&a).unwrap();
        answer
            .code_url
            .strip_prefix(danbao_sandbox::wire::WECHAT_CODE_URL_PREFIX)
            .unwrap_or_else(|| panic!("not our cashier: {}", answer.code_url))
            .to_owned()
    }

    async fn pay(&self, payment_id: &str) {
        let r = self
            .http
            .post(format!(
                "{}/payments/{payment_id}/pay?payer=oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
                self.base
            ))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{}", r.status());
        tokio::time::timeout(DEADLINE, self.sandbox.deliveries_settled(payment_id))
            .await
            .unwrap();
    }

    async fn outcomes(&self, payment_id: &str) -> Vec<String> {
        let view: serde_json::Value = self
            .http
            .get(format!("{}/payments/{payment_id}", self.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        view["notifications"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["outcome"].as_str().unwrap().to_owned())
            .collect()
    }

    async fn state(&self, out_trade_no: &str) -> OrderState {
        let a = self
            .send(wechat::query_request(&merchant(), out_trade_no, now_s(), "nonce-q").unwrap())
            .await;
        let t: Transaction = self.read(&a).unwrap();
        t.state(MCHID, APPID, out_trade_no).unwrap()
    }
}

#[tokio::test]
async fn a_signed_native_order_opens_the_cashier_and_nothing_else_does() {
    let gw = Gw::start().await;
    let id = gw.open("W1", 5_000).await;
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
    assert_eq!(gw.open("W1", 5_000).await, id);
    let conflict = gw
        .send(gw.order("W1", 5_001).request(&merchant(), now_s(), "n2").unwrap())
        .await;
    assert_eq!(conflict.status, 400);
    // Signed by another key, for another merchant, another app, or long ago: refused.
    let stranger = Merchant {
        key: SigningKey::from_text(PLATFORM_PRIVATE).unwrap(),
        ..merchant()
    };
    let forged = gw
        .send(gw.order("W2", 100).request(&stranger, now_s(), "n3").unwrap())
        .await;
    assert_eq!(forged.status, 401);
    let old = gw
        .send(gw.order("W2", 100).request(&merchant(), now_s() - 600, "n4").unwrap())
        .await;
    assert_eq!(old.status, 401);
    let mut other_app = gw.order("W2", 100);
    other_app.appid = "wx0000000000000000".into();
    let a = gw.send(other_app.request(&merchant(), now_s(), "n5").unwrap()).await;
    assert_eq!(a.status, 400);
    let mut other_merchant = gw.order("W2", 100);
    other_merchant.mchid = "1900000110".into();
    let a = gw
        .send(other_merchant.request(&merchant(), now_s(), "n6").unwrap())
        .await;
    assert_eq!(a.status, 400);
    // Every answer is signed by the platform key: a merchant that holds another key
    // believes none of them.
    let a = gw
        .send(gw.order("W1", 5_000).request(&merchant(), now_s(), "n7").unwrap())
        .await;
    let wrong_keys = KeyRing::new().with(PLATFORM_SERIAL, VerifyingKey::from_text(MERCHANT_PUBLIC).unwrap());
    let read: Result<NativeAnswer, _> =
        wechat::read_answer(a.status, a.headers.as_ref(), &a.body, &wrong_keys, now_s());
    assert_eq!(read.unwrap_err(), WechatError::BadSignature);
    // The sandbox's own merchant API does not answer for a WeChat Pay payment.
    let client = danbao_sandbox::client::SandboxClient::new(gw.base.clone(), b"sandbox-hmac-key".to_vec());
    assert!(client.query_by_out_trade_no("W1").await.unwrap().is_empty());
    assert!(client.query_payment_raw(&id).await.is_err());
}

#[tokio::test]
async fn paying_posts_the_encrypted_transaction_signed_by_the_platform() {
    let gw = Gw::start().await;
    let id = gw.open("W3", 1_250).await;
    gw.pay(&id).await;
    let got = gw.notified.got.lock().unwrap().clone();
    assert_eq!(got.len(), 1, "{got:?}");
    let (notify_id, p) = got[0].as_ref().unwrap();
    assert!(!notify_id.is_empty());
    assert_eq!(
        (p.out_trade_no.as_str(), p.total, p.payer_openid.as_deref()),
        ("W3", Money::from_minor(1_250), Some("oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"))
    );
    assert!(p.success_time.ends_with("+08:00"), "{}", p.success_time);
    // An empty 204 acknowledged it: nothing more is sent.
    assert_eq!(gw.outcomes(&id).await, ["acknowledged"]);
}

#[tokio::test]
async fn a_merchant_that_does_not_answer_200_or_204_is_notified_again() {
    let gw = Gw::start().await;
    gw.notified.fail_first.store(2, Ordering::SeqCst);
    let id = gw.open("W4", 800).await;
    gw.pay(&id).await;
    let outcomes = gw.outcomes(&id).await;
    assert_eq!(outcomes.len(), 3, "{outcomes:?}");
    assert!(outcomes[0].starts_with("rejected: http 500"), "{outcomes:?}");
    assert_eq!(outcomes[2], "acknowledged");
    // Each resend is signed afresh and reads the same.
    let got = gw.notified.got.lock().unwrap().clone();
    assert!(got
        .iter()
        .all(|r| r.as_ref().is_ok_and(|(_, p)| p.out_trade_no == "W4")));
}

#[tokio::test]
async fn a_lying_gateway_signs_the_wrong_amount_and_only_the_merchant_can_catch_it() {
    let gw = Gw::start().await;
    gw.sandbox.set_faults(Faults {
        tamper_amount_pct: 100,
        ..Faults::default()
    });
    let id = gw.open("W5", 1_000).await;
    gw.pay(&id).await;
    let got = gw.notified.got.lock().unwrap().clone();
    assert!(!got.is_empty());
    for read in got {
        match read {
            Ok((_, p)) => assert_eq!(p.total, Money::from_minor(1_001)),
            Err(e) => assert_eq!(e, WechatError::NotPositive(0)),
        }
    }
}

#[tokio::test]
async fn queries_refunds_and_the_trade_bill_are_signed_and_for_the_merchant_alone() {
    let gw = Gw::start().await;
    let unknown = gw
        .send(wechat::query_request(&merchant(), "W6", now_s(), "q0").unwrap())
        .await;
    assert_eq!(unknown.status, 404);
    let id = gw.open("W6", 3_000).await;
    assert_eq!(gw.state("W6").await, OrderState::Unpaid("NOTPAY".into()));
    gw.pay(&id).await;
    let OrderState::Paid(paid) = gw.state("W6").await else {
        panic!("not paid");
    };
    assert_eq!(paid.total, Money::from_minor(3_000));
    // Refund part: answered PROCESSING, then SUCCESS when asked; the same number again is
    // the same refund.
    let refund = RefundRequest::new("W6", "R6a", None, Money::from_minor(1_000), Money::from_minor(3_000)).unwrap();
    for _ in 0..2 {
        let a = gw.send(refund.request(&merchant(), now_s(), "r1").unwrap()).await;
        let r: Refund = gw.read(&a).unwrap();
        assert_eq!(
            r.status("R6a").unwrap(),
            (RefundStatus::Processing, Money::from_minor(1_000))
        );
    }
    let a = gw
        .send(wechat::refund_query_request(&merchant(), "R6a", now_s(), "r2").unwrap())
        .await;
    let r: Refund = gw.read(&a).unwrap();
    assert_eq!(
        r.status("R6a").unwrap(),
        (RefundStatus::Success, Money::from_minor(1_000))
    );
    // More than is left is refused; the transaction now reads REFUND, still a payment.
    let too_much = RefundRequest::new("W6", "R6b", None, Money::from_minor(2_001), Money::from_minor(3_000)).unwrap();
    let a = gw.send(too_much.request(&merchant(), now_s(), "r3").unwrap()).await;
    assert_eq!(a.status, 403);
    assert!(matches!(gw.state("W6").await, OrderState::Refunded(p) if p.transaction_id == paid.transaction_id));
    // Today's bill (China days) lists the payment, its hash checked.
    let today = {
        let china = time::OffsetDateTime::now_utc().to_offset(time::UtcOffset::from_hms(8, 0, 0).unwrap());
        format!("{:04}-{:02}-{:02}", china.year(), u8::from(china.month()), china.day())
    };
    let a = gw
        .send(wechat::trade_bill_request(&merchant(), &today, now_s(), "b1").unwrap())
        .await;
    let bill: BillAnswer = gw.read(&a).unwrap();
    // The download is signed like any request, over its path relative to the API base.
    let rest = bill.download_url.strip_prefix(&format!("{}/wechat", gw.base)).unwrap();
    let auth = wechat::Authorization::sign(&merchant(), "GET", rest, now_s(), "b3", "").unwrap();
    let download = gw
        .send(SignedRequest {
            method: "GET",
            path_and_query: rest.to_owned(),
            body: String::new(),
            authorization: auth.header_value(),
        })
        .await;
    assert_eq!(download.status, 200);
    let lines = bill.read_bill(&download.body, MCHID).unwrap();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(
        (
            lines[0].out_trade_no.as_str(),
            lines[0].transaction_id.as_str(),
            lines[0].total
        ),
        ("W6", paid.transaction_id.as_str(), Money::from_minor(3_000))
    );
    assert_eq!(bill.read_bill(b"tampered", MCHID).unwrap_err(), WechatError::BadHash);
    // Unsigned, or while the gateway is down: refused.
    let r = gw
        .http
        .get(format!(
            "{}/wechat/v3/pay/transactions/out-trade-no/W6?mchid={MCHID}",
            gw.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    gw.sandbox.set_faults(Faults {
        down: true,
        ..Faults::default()
    });
    let down = gw
        .send(wechat::query_request(&merchant(), "W6", now_s(), "q9").unwrap())
        .await;
    assert_eq!(down.status, 503);
}
