//! The gateway on a real socket, with a merchant receiver on another, driven through the
//! merchant SDK and raw HTTP.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::Router;
use danbao_sandbox::client::{ClientError, SandboxClient};
use danbao_sandbox::gateway::{serve, Sandbox, SandboxConfig};
use danbao_sandbox::wire::{
    request_signing_payload, sign, verify, ApiError, CreatePayment, Faults, Notification, PaymentView, RefundRequest,
    SIGNATURE_HEADER,
};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

const KEY: &[u8] = b"test-merchant-key";
/// Long enough for a loaded 2-core CI machine; polling returns as soon as it can.
const DEADLINE: Duration = Duration::from_secs(5);
/// Fast enough that the first resends come within tens of milliseconds.
const FAST: f64 = 10_000.0;

// ---------------------------------------------------------------------------------------
// Harness

#[derive(Clone, Debug)]
struct Received {
    signature_ok: bool,
    notification: Notification,
}

#[derive(Default)]
struct ReceiverState {
    accept: bool,
    got: Vec<Received>,
}

/// A merchant's notify endpoint: checks the signature with `wire::verify` and answers
/// `success` only when told to and when the signature is good.
#[derive(Clone)]
struct Receiver {
    url: String,
    state: Arc<Mutex<ReceiverState>>,
}

impl Receiver {
    async fn start() -> Receiver {
        let state = Arc::new(Mutex::new(ReceiverState {
            accept: true,
            got: Vec::new(),
        }));
        let app = Router::new().route("/notify", post(receive)).with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver {
            url: format!("http://{addr}/notify"),
            state,
        }
    }

    fn set_accept(&self, accept: bool) {
        self.state.lock().unwrap().accept = accept;
    }

    fn got(&self) -> Vec<Received> {
        self.state.lock().unwrap().got.clone()
    }
}

async fn receive(
    State(state): State<Arc<Mutex<ReceiverState>>>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, &'static str) {
    let signature = headers
        .get(SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let signature_ok = verify(KEY, &body, signature);
    let notification: Notification = serde_json::from_slice(&body).unwrap();
    let mut state = state.lock().unwrap();
    state.got.push(Received {
        signature_ok,
        notification,
    });
    if state.accept && signature_ok {
        (StatusCode::OK, "success\n")
    } else {
        (StatusCode::INTERNAL_SERVER_ERROR, "fail")
    }
}

/// A gateway mounted under `/sandbox`, as the platform mounts it, plus a receiver.
struct Gw {
    sandbox: Sandbox,
    base: String,
    client: SandboxClient,
    receiver: Receiver,
    http: reqwest::Client,
}

impl Gw {
    async fn start(time_scale: f64) -> Gw {
        let sandbox = Sandbox::new(SandboxConfig {
            merchant_key: KEY.to_vec(),
            public_base_url: "http://not-yet-known".to_owned(),
            time_scale,
            faults: Faults::default(),
            epay: None,
            alipay: None,
            epay_v2: None,
            wechat: None,
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}/sandbox", listener.local_addr().unwrap());
        sandbox.set_public_base_url(base.clone());
        let app = Router::new()
            .route("/", get(|| async { "platform" }))
            .nest("/sandbox", sandbox.router());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Gw {
            client: SandboxClient::new(base.clone(), KEY.to_vec()),
            sandbox,
            base,
            receiver: Receiver::start().await,
            // No connection reuse: after an early 413 the server closes the connection.
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .pool_max_idle_per_host(0)
                .build()
                .unwrap(),
        }
    }

    fn order(&self, out_trade_no: &str, amount_minor: i64) -> CreatePayment {
        CreatePayment {
            out_trade_no: out_trade_no.to_owned(),
            amount_minor,
            currency: "CNY".to_owned(),
            subject: "月卡 30 天".to_owned(),
            notify_url: self.receiver.url.clone(),
            return_url: format!("http://shop.test/orders/{out_trade_no}"),
            site_name: None,
            order_ref: None,
            expires_at: None,
        }
    }

    async fn create(&self, out_trade_no: &str, amount_minor: i64) -> PaymentView {
        self.client
            .create_payment(&self.order(out_trade_no, amount_minor))
            .await
            .unwrap()
    }

    async fn paid(&self, out_trade_no: &str, amount_minor: i64) -> PaymentView {
        let created = self.create(out_trade_no, amount_minor).await;
        self.client.pay(&created.payment_id).await.unwrap()
    }

    /// A raw merchant API call signed over `signed_target` (normally the real target).
    async fn raw_signed(
        &self,
        method: reqwest::Method,
        target: &str,
        signed_target: &str,
        body: Vec<u8>,
    ) -> reqwest::Response {
        let url = format!("{}{target}", self.base.trim_end_matches("/sandbox"));
        let payload = request_signing_payload(method.as_str(), signed_target, &body);
        self.http
            .request(method, url)
            .header(SIGNATURE_HEADER, sign(KEY, &payload))
            .body(body)
            .send()
            .await
            .unwrap()
    }

    /// Waits until the gateway has nothing left to send for this payment (its schedule ended
    /// and every resend finished, each attempt recorded), failing after [`DEADLINE`]. From
    /// then on what the receiver got is final, so a test can count it without waiting a
    /// while to see that nothing more comes.
    async fn settled(&self, payment_id: &str) {
        tokio::time::timeout(DEADLINE, self.sandbox.deliveries_settled(payment_id))
            .await
            .unwrap_or_else(|_| panic!("deliveries for {payment_id} never ended"));
    }

    async fn attempts(&self, payment_id: &str) -> Vec<String> {
        let view = self.client.view(payment_id).await.unwrap();
        view.notifications.into_iter().map(|a| a.outcome).collect()
    }
}

/// Polls `check` until it holds, failing the test after [`DEADLINE`].
async fn until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let start = tokio::time::Instant::now();
    while !check().await {
        assert!(start.elapsed() < DEADLINE, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn api_error(response: reqwest::Response) -> (u16, ApiError) {
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

fn assert_rejected<T: std::fmt::Debug>(got: Result<T, ClientError>, status: u16, error: &str) {
    match got {
        Err(ClientError::Rejected {
            status: s, error: e, ..
        }) if s == status && e == error => {}
        other => panic!("expected Rejected {{ {status}, {error} }}, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------
// The happy path

#[tokio::test]
async fn cashier_pay_delivers_exactly_one_signed_notification() {
    let gw = Gw::start(FAST).await;
    let created = gw.create("order-1", 1234).await;
    assert_eq!(created.status, "created");
    assert_eq!(created.trade_no, None);
    assert_eq!(
        created.cashier_url,
        format!("{}/cashier/{}", gw.base, created.payment_id)
    );

    let page = gw.http.get(&created.cashier_url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    assert!(page.contains("¥12.34"), "{page}");
    assert!(page.contains("月卡 30 天"), "{page}");
    let action = format!("{}/payments/{}/pay", gw.base, created.payment_id);
    assert!(
        page.contains(&format!(r#"<form method="post" action="{action}">"#)),
        "{page}"
    );
    assert!(page.contains("确认支付 ¥12.34"), "{page}");
    assert!(page.contains("<svg "), "the cashier shows a QR code: {page}");

    // The browser submits the form and is sent back to the shop.
    let submitted = gw
        .http
        .post(&action)
        .header("accept", "text/html,application/xhtml+xml")
        .send()
        .await
        .unwrap();
    assert_eq!(submitted.status(), 303);
    assert_eq!(submitted.headers()["location"], "http://shop.test/orders/order-1");

    until("one notification", || async { gw.receiver.got().len() == 1 }).await;
    let view = gw.client.view(&created.payment_id).await.unwrap();
    assert_eq!(view.status, "succeeded");
    let got = gw.receiver.got().remove(0);
    assert!(got.signature_ok);
    let n = got.notification;
    assert_eq!(n.payment_id, created.payment_id);
    assert_eq!(n.out_trade_no, "order-1");
    assert_eq!(n.amount_minor, 1234);
    assert_eq!(n.currency, "CNY");
    assert_eq!(n.status, "succeeded");
    assert_eq!(Some(&n.trade_no), view.trade_no.as_ref());
    assert_eq!(Some(&n.paid_at), view.paid_at.as_ref());
    OffsetDateTime::parse(&n.paid_at, &Rfc3339).unwrap();
    OffsetDateTime::parse(&n.sent_at, &Rfc3339).unwrap();

    until("the attempt is recorded as acknowledged", || async {
        gw.attempts(&created.payment_id).await == ["acknowledged"]
    })
    .await;

    // Paying again makes no second trade and no second notification: the one schedule
    // ended with the acknowledgement, and the second Pay started none.
    let again = gw.client.pay(&created.payment_id).await.unwrap();
    assert_eq!(again.trade_no, view.trade_no);
    assert_eq!(again.paid_at, view.paid_at);
    gw.settled(&created.payment_id).await;
    assert_eq!(gw.attempts(&created.payment_id).await, ["acknowledged"]);
    assert_eq!(gw.receiver.got().len(), 1);

    let page = gw
        .http
        .get(&created.cashier_url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("已支付"), "{page}");
    // Re-opened after payment (by anyone with the payment id, the merchant included), the
    // cashier shows nothing that leads to the buyer: no return link.
    assert!(!page.contains("shop.test"), "{page}");
    assert!(!page.contains("<form"), "{page}");
    // Pressing Pay again in a browser shows that cashier; it does not redirect to the
    // buyer's return address.
    let again = gw
        .http
        .post(&action)
        .header("accept", "text/html,application/xhtml+xml")
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 303);
    assert_eq!(again.headers()["location"], created.cashier_url.as_str());
}

#[tokio::test]
async fn cashier_escapes_markup_and_knows_unknown_payments() {
    let gw = Gw::start(FAST).await;
    let mut order = gw.order("order-xss", 100);
    order.subject = r#"<script>alert("x")</script>"#.to_owned();
    let created = gw.client.create_payment(&order).await.unwrap();
    let page = gw
        .http
        .get(&created.cashier_url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!page.contains("<script>"), "{page}");
    assert!(
        page.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"),
        "{page}"
    );

    let missing = gw
        .http
        .get(format!("{}/cashier/%3Cb%3Enope", gw.base))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let page = missing.text().await.unwrap();
    assert!(page.contains("&lt;b&gt;nope"), "{page}");
}

// ---------------------------------------------------------------------------------------
// Resends

#[tokio::test]
async fn unacknowledged_notification_is_resent_until_acknowledged() {
    let gw = Gw::start(FAST).await;
    gw.receiver.set_accept(false);
    let paid = gw.paid("order-retry", 500).await;

    until("three refused attempts", || async { gw.receiver.got().len() >= 3 }).await;
    gw.receiver.set_accept(true);
    until("an acknowledged attempt", || async {
        gw.attempts(&paid.payment_id)
            .await
            .last()
            .is_some_and(|o| o == "acknowledged")
    })
    .await;

    let view = gw.client.view(&paid.payment_id).await.unwrap();
    let (last, refused) = view.notifications.split_last().unwrap();
    assert_eq!(last.outcome, "acknowledged");
    assert!(refused.len() >= 3);
    for attempt in refused {
        assert!(attempt.outcome.starts_with("rejected: http 500"), "{attempt:?}");
    }
    let mut ids: Vec<_> = view.notifications.iter().map(|a| &a.notify_id).collect();
    ids.dedup();
    assert_eq!(
        ids.len(),
        view.notifications.len(),
        "each attempt has its own notify_id"
    );
    let received = gw.receiver.got();
    assert_eq!(received.len(), view.notifications.len());
    assert!(received.iter().all(|r| r.signature_ok));
    assert!(received
        .iter()
        .all(|r| Some(&r.notification.trade_no) == paid.trade_no.as_ref()));

    // Acknowledged: the schedule ends there, so what was received is all there is.
    gw.settled(&paid.payment_id).await;
    assert_eq!(gw.attempts(&paid.payment_id).await.len(), received.len());
    assert_eq!(gw.receiver.got().len(), received.len());
}

#[tokio::test]
async fn the_gateway_gives_up_after_the_schedule() {
    // At 100 000× the whole 1.5-day schedule takes under a second.
    let gw = Gw::start(100_000.0).await;
    gw.receiver.set_accept(false);
    let paid = gw.paid("order-never", 500).await;
    // The schedule ends by itself after the first send and seven resends.
    gw.settled(&paid.payment_id).await;
    let attempts = gw.attempts(&paid.payment_id).await;
    assert_eq!(attempts.len(), 8, "{attempts:?}");
    assert!(attempts.iter().all(|o| o.starts_with("rejected: ")));
    assert_eq!(gw.receiver.got().len(), 8);
}

#[tokio::test]
async fn renotify_sends_once_more_with_a_new_notify_id() {
    let gw = Gw::start(FAST).await;
    let created = gw.create("order-renotify", 700).await;
    assert_rejected(gw.client.renotify(&created.payment_id).await, 409, "not_paid");
    assert_rejected(gw.client.renotify("sbp_unknown").await, 404, "not_found");

    gw.client.pay(&created.payment_id).await.unwrap();
    until("first notification", || async { gw.receiver.got().len() == 1 }).await;
    gw.client.renotify(&created.payment_id).await.unwrap();
    until("second notification", || async { gw.receiver.got().len() == 2 }).await;

    let got = gw.receiver.got();
    assert!(got.iter().all(|r| r.signature_ok));
    assert_ne!(got[0].notification.notify_id, got[1].notification.notify_id);
    assert_eq!(got[0].notification.trade_no, got[1].notification.trade_no);
    assert_eq!(got[0].notification.paid_at, got[1].notification.paid_at);
    until("both attempts recorded", || async {
        gw.attempts(&created.payment_id).await == ["acknowledged", "acknowledged"]
    })
    .await;
}

// ---------------------------------------------------------------------------------------
// Merchant API signatures

#[tokio::test]
async fn merchant_requests_need_a_valid_signature_over_the_full_target() {
    let gw = Gw::start(FAST).await;
    let body = serde_json::to_vec(&gw.order("order-sig", 100)).unwrap();
    let url = format!("{}/api/payments", gw.base);

    let unsigned = gw.http.post(&url).body(body.clone()).send().await.unwrap();
    let (status, err) = api_error(unsigned).await;
    assert_eq!((status, err.error.as_str()), (401, "bad_signature"));

    let forged = gw
        .http
        .post(&url)
        .header(SIGNATURE_HEADER, sign(b"wrong key", &body))
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 401);

    let not_hex = gw
        .http
        .post(&url)
        .header(SIGNATURE_HEADER, "zz")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(not_hex.status(), 401);

    // Signed without the mount prefix: not what the gateway received.
    let wrong_target = gw
        .raw_signed(
            reqwest::Method::POST,
            "/sandbox/api/payments",
            "/api/payments",
            body.clone(),
        )
        .await;
    assert_eq!(wrong_target.status(), 401);

    // Signed body differs from the body sent.
    let payload = request_signing_payload("POST", "/sandbox/api/payments", b"{}");
    let swapped = gw
        .http
        .post(&url)
        .header(SIGNATURE_HEADER, sign(KEY, &payload))
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(swapped.status(), 401);

    let good = gw
        .raw_signed(
            reqwest::Method::POST,
            "/sandbox/api/payments",
            "/sandbox/api/payments",
            body.clone(),
        )
        .await;
    assert_eq!(good.status(), 201);

    let stranger = SandboxClient::new(gw.base.clone(), b"another merchant".to_vec());
    assert_rejected(
        stranger.create_payment(&gw.order("order-sig-2", 100)).await,
        401,
        "bad_signature",
    );
    assert_rejected(stranger.get_refund("r1").await, 401, "bad_signature");
}

#[tokio::test]
async fn answers_are_signed_and_the_client_checks_them() {
    let gw = Gw::start(FAST).await;
    let now = OffsetDateTime::now_utc().format(&Rfc3339).unwrap();
    let target = format!(
        "/sandbox/api/statements?from=2020-01-01T00%3A00%3A00Z&to={}",
        now.replace(':', "%3A")
    );
    let response = gw.raw_signed(reqwest::Method::GET, &target, &target, Vec::new()).await;
    assert_eq!(response.status(), 200);
    let signature = response.headers()[SIGNATURE_HEADER].to_str().unwrap().to_owned();
    let body = response.bytes().await.unwrap();
    assert!(verify(KEY, &body, &signature));
    assert_eq!(&body[..], b"[]");

    // Error answers are signed too.
    let missing = gw
        .raw_signed(
            reqwest::Method::GET,
            "/sandbox/api/refunds/nope",
            "/sandbox/api/refunds/nope",
            Vec::new(),
        )
        .await;
    assert_eq!(missing.status(), 404);
    let signature = missing.headers()[SIGNATURE_HEADER].to_str().unwrap().to_owned();
    assert!(verify(KEY, &missing.bytes().await.unwrap(), &signature));

    // An impostor answering with an unsigned or wrongly signed body is not believed.
    let impostor = Router::new()
        .route("/api/statements", get(|| async { "[]" }))
        .route(
            "/api/refunds/{id}",
            get(|| async {
                let body =
                    r#"{"refund_id":"x","request_id":"r","payment_id":"p","amount_minor":1,"status":"succeeded"}"#;
                ([(SIGNATURE_HEADER, sign(b"not the key", body.as_bytes()))], body)
            }),
        )
        .route("/api/payments/{id}", get(|| async { (StatusCode::NOT_FOUND, "{}") }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, impostor).await });
    let client = SandboxClient::new(format!("http://{addr}"), KEY.to_vec());
    assert!(matches!(
        client.statement("2020-01-01T00:00:00Z", &now).await,
        Err(ClientError::BadSignature)
    ));
    assert!(matches!(client.get_refund("r").await, Err(ClientError::BadSignature)));
    assert!(matches!(
        client.query_payment("p").await,
        Err(ClientError::BadSignature)
    ));
}

// ---------------------------------------------------------------------------------------
// Merchant API behaviour

#[tokio::test]
async fn create_is_idempotent_on_out_trade_no_and_validates() {
    let gw = Gw::start(FAST).await;
    let first = gw.create("order-idem", 990).await;
    let second = gw.create("order-idem", 990).await;
    assert_eq!(first.payment_id, second.payment_id);
    gw.client.pay(&first.payment_id).await.unwrap();
    let third = gw.create("order-idem", 990).await;
    assert_eq!(third.payment_id, first.payment_id);
    assert_eq!(third.status, "succeeded");
    assert_rejected(
        gw.client.create_payment(&gw.order("order-idem", 991)).await,
        409,
        "out_trade_no_conflict",
    );

    let found = gw.client.query_by_out_trade_no("order-idem").await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].payment_id, first.payment_id);
    assert!(gw
        .client
        .query_by_out_trade_no("no such order & more")
        .await
        .unwrap()
        .is_empty());

    let mut bad = gw.order("order-bad", 0);
    assert_rejected(gw.client.create_payment(&bad).await, 400, "invalid_request");
    bad.amount_minor = 100;
    bad.notify_url = "javascript:alert(1)".to_owned();
    assert_rejected(gw.client.create_payment(&bad).await, 400, "invalid_request");
    bad.notify_url = gw.receiver.url.clone();
    bad.currency = String::new();
    assert_rejected(gw.client.create_payment(&bad).await, 400, "invalid_request");

    let t = "/sandbox/api/payments";
    let malformed = gw.raw_signed(reqwest::Method::POST, t, t, b"{not json".to_vec()).await;
    let (status, err) = api_error(malformed).await;
    assert_eq!((status, err.error.as_str()), (400, "invalid_json"));

    let null = gw
        .raw_signed(
            reqwest::Method::POST,
            "/sandbox/api/refunds",
            "/sandbox/api/refunds",
            b"null".to_vec(),
        )
        .await;
    assert_eq!(null.status(), 400);

    let huge = gw
        .raw_signed(reqwest::Method::POST, t, t, vec![b' '; 64 * 1024 + 1])
        .await;
    let (status, err) = api_error(huge).await;
    assert_eq!((status, err.error.as_str()), (413, "body_too_large"));

    let no_query = gw.raw_signed(reqwest::Method::GET, t, t, Vec::new()).await;
    let (status, err) = api_error(no_query).await;
    assert_eq!((status, err.error.as_str()), (400, "invalid_query"));
}

#[tokio::test]
async fn active_query_returns_the_signed_notification_once_paid() {
    let gw = Gw::start(FAST).await;
    let created = gw.create("order-query", 1500).await;
    assert_eq!(gw.client.query_payment(&created.payment_id).await.unwrap(), None);
    assert_eq!(gw.client.query_payment_raw(&created.payment_id).await.unwrap(), None);
    assert_rejected(gw.client.query_payment("sbp_missing").await, 404, "not_found");

    let paid = gw.client.pay(&created.payment_id).await.unwrap();
    let n = gw.client.query_payment(&created.payment_id).await.unwrap().unwrap();
    assert_eq!(n.status, "succeeded");
    assert_eq!(Some(n.trade_no.clone()), paid.trade_no);
    assert_eq!(Some(n.paid_at.clone()), paid.paid_at);
    assert_eq!(n.amount_minor, 1500);
    assert_eq!(n.out_trade_no, "order-query");

    let (body, signature) = gw.client.query_payment_raw(&created.payment_id).await.unwrap().unwrap();
    assert!(verify(KEY, &body, &signature));
    let from_raw: Notification = serde_json::from_slice(&body).unwrap();
    assert_eq!(from_raw.trade_no, n.trade_no);
}

#[tokio::test]
async fn refunds_are_idempotent_and_never_exceed_the_payment() {
    let gw = Gw::start(FAST).await;
    let created = gw.create("order-refund", 1234).await;
    let refund = |amount_minor, request_id: &str| RefundRequest {
        payment_id: created.payment_id.clone(),
        amount_minor,
        request_id: request_id.to_owned(),
    };
    assert_rejected(gw.client.refund(&refund(100, "r0")).await, 409, "not_paid");
    gw.client.pay(&created.payment_id).await.unwrap();

    let first = gw.client.refund(&refund(500, "r1")).await.unwrap();
    assert_eq!(first.status, "succeeded");
    assert_eq!(first.amount_minor, 500);
    let again = gw.client.refund(&refund(500, "r1")).await.unwrap();
    assert_eq!(first, again);
    assert_eq!(gw.client.view(&created.payment_id).await.unwrap().refunded_minor, 500);
    assert_rejected(gw.client.refund(&refund(501, "r1")).await, 409, "request_id_conflict");
    assert_rejected(
        gw.client.refund(&refund(735, "r2")).await,
        400,
        "refund_exceeds_payment",
    );
    assert_rejected(gw.client.refund(&refund(0, "r3")).await, 400, "invalid_request");
    let rest = gw.client.refund(&refund(734, "r4")).await.unwrap();
    assert_ne!(rest.refund_id, first.refund_id);
    assert_eq!(gw.client.view(&created.payment_id).await.unwrap().refunded_minor, 1234);
    assert_rejected(gw.client.refund(&refund(1, "r5")).await, 400, "refund_exceeds_payment");

    assert_eq!(gw.client.get_refund("r1").await.unwrap(), Some(first));
    assert_eq!(gw.client.get_refund("r2").await.unwrap(), None);
    assert_rejected(
        gw.client
            .refund(&RefundRequest {
                payment_id: "sbp_missing".to_owned(),
                amount_minor: 1,
                request_id: "r6".to_owned(),
            })
            .await,
        404,
        "not_found",
    );
}

#[tokio::test]
async fn statement_lists_payments_paid_in_the_window() {
    let gw = Gw::start(FAST).await;
    let fmt = |t: OffsetDateTime| t.format(&Rfc3339).unwrap();
    let before = OffsetDateTime::now_utc() - time::Duration::seconds(1);
    let a = gw.paid("order-s1", 100).await;
    let b = gw.paid("order-s2", 200).await;
    gw.create("order-s3-unpaid", 300).await;
    let after = OffsetDateTime::now_utc() + time::Duration::seconds(1);

    let lines = gw.client.statement(&fmt(before), &fmt(after)).await.unwrap();
    let mut trades: Vec<_> = lines.iter().map(|n| n.trade_no.clone()).collect();
    trades.sort();
    let mut expected = vec![a.trade_no.unwrap(), b.trade_no.unwrap()];
    expected.sort();
    assert_eq!(trades, expected);
    assert!(lines.iter().all(|n| n.status == "succeeded"));
    assert_eq!(lines.iter().map(|n| n.amount_minor).sum::<i64>(), 300);

    let later = after + time::Duration::hours(1);
    assert!(gw.client.statement(&fmt(after), &fmt(later)).await.unwrap().is_empty());
    assert_rejected(
        gw.client.statement("yesterday", &fmt(after)).await,
        400,
        "invalid_query",
    );
}

// ---------------------------------------------------------------------------------------
// Faults

#[tokio::test]
async fn drop_all_delivers_nothing_but_records_the_attempts() {
    let gw = Gw::start(FAST).await;
    gw.client
        .set_faults(&Faults {
            drop_pct: 100,
            ..Faults::default()
        })
        .await
        .unwrap();
    let paid = gw.paid("order-drop", 100).await;
    until("three dropped attempts", || async {
        gw.attempts(&paid.payment_id).await.len() >= 3
    })
    .await;
    let attempts = gw.attempts(&paid.payment_id).await;
    assert!(attempts.iter().all(|o| o == "dropped"), "{attempts:?}");
    assert!(gw.receiver.got().is_empty());
}

#[tokio::test]
async fn duplicate_all_delivers_each_notification_twice() {
    let gw = Gw::start(FAST).await;
    gw.client
        .set_faults(&Faults {
            duplicate_pct: 100,
            ..Faults::default()
        })
        .await
        .unwrap();
    let paid = gw.paid("order-dup", 100).await;
    until("two deliveries", || async { gw.receiver.got().len() == 2 }).await;
    let got = gw.receiver.got();
    assert_eq!(got[0].notification, got[1].notification);
    assert!(got.iter().all(|r| r.signature_ok));
    // Both copies were acknowledged, so the schedule ends and nothing more comes.
    gw.settled(&paid.payment_id).await;
    assert_eq!(gw.attempts(&paid.payment_id).await, ["acknowledged", "acknowledged"]);
    assert_eq!(gw.receiver.got().len(), 2);
}

#[tokio::test]
async fn a_down_gateway_refuses_the_merchant_api_and_holds_notifications() {
    let gw = Gw::start(FAST).await;
    let created = gw.create("order-down", 100).await;
    gw.sandbox.set_faults(Faults {
        down: true,
        ..Faults::default()
    });
    assert!(gw.client.get_faults().await.unwrap().down);

    match gw.client.create_payment(&gw.order("order-down-2", 1)).await {
        Err(ClientError::Unavailable(m)) => assert!(m.contains("gateway_down"), "{m}"),
        other => panic!("expected Unavailable, got {other:?}"),
    }
    assert!(matches!(
        gw.client.query_payment(&created.payment_id).await,
        Err(ClientError::Unavailable(_))
    ));
    let raw = gw
        .raw_signed(
            reqwest::Method::GET,
            "/sandbox/api/refunds/x",
            "/sandbox/api/refunds/x",
            Vec::new(),
        )
        .await;
    let (status, err) = api_error(raw).await;
    assert_eq!((status, err.error.as_str()), (503, "gateway_down"));

    // The buyer can still pay, but the notification waits for the gateway to come back.
    gw.client.pay(&created.payment_id).await.unwrap();
    until("two held attempts", || async {
        gw.attempts(&created.payment_id).await.len() >= 2
    })
    .await;
    assert!(gw.receiver.got().is_empty());
    assert!(gw
        .attempts(&created.payment_id)
        .await
        .iter()
        .all(|o| o.starts_with("error: gateway down")));

    gw.client.set_faults(&Faults::default()).await.unwrap();
    until("delivery after recovery", || async { gw.receiver.got().len() == 1 }).await;
    assert!(gw.client.query_payment(&created.payment_id).await.unwrap().is_some());
}

#[tokio::test]
async fn tampered_amounts_are_correctly_signed_lies() {
    let gw = Gw::start(FAST).await;
    gw.client
        .set_faults(&Faults {
            tamper_amount_pct: 100,
            ..Faults::default()
        })
        .await
        .unwrap();
    let paid = gw.paid("order-tamper", 1000).await;
    until("a delivery", || async { !gw.receiver.got().is_empty() }).await;
    let got = gw.receiver.got().remove(0);
    assert!(got.signature_ok, "the gateway signs its own lie");
    assert_ne!(got.notification.amount_minor, 1000);
    assert!([0, 1001].contains(&got.notification.amount_minor));
    // The active query still tells the truth.
    let truth = gw.client.query_payment(&paid.payment_id).await.unwrap().unwrap();
    assert_eq!(truth.amount_minor, 1000);
}

#[tokio::test]
async fn delayed_and_reordered_notifications_still_arrive() {
    let gw = Gw::start(FAST).await;
    gw.client
        .set_faults(&Faults {
            delay_ms_max: 50,
            reorder: true,
            ..Faults::default()
        })
        .await
        .unwrap();
    let a = gw.paid("order-late-1", 100).await;
    let b = gw.paid("order-late-2", 200).await;
    until("both deliveries", || async { gw.receiver.got().len() == 2 }).await;
    let mut ids: Vec<_> = gw
        .receiver
        .got()
        .into_iter()
        .map(|r| r.notification.payment_id)
        .collect();
    ids.sort();
    let mut expected = vec![a.payment_id, b.payment_id];
    expected.sort();
    assert_eq!(ids, expected);
}

#[tokio::test]
async fn fault_knobs_are_validated() {
    let gw = Gw::start(FAST).await;
    let url = format!("{}/admin/faults", gw.base);
    for body in [
        r#"{"drop_pct":101}"#,
        r#"{"duplicate_pct":150}"#,
        r#"{"tamper_amount_pct":255}"#,
        r#"{"drop_pct":300}"#,
        r#"{"drop_pct":-1}"#,
        r#"{"delay_ms_max":600001}"#,
        "not json",
    ] {
        let response = gw.http.put(&url).body(body).send().await.unwrap();
        assert_eq!(response.status(), 400, "{body}");
        let _: ApiError = response.json().await.unwrap();
    }
    assert_rejected(
        gw.client
            .set_faults(&Faults {
                drop_pct: 101,
                ..Faults::default()
            })
            .await,
        400,
        "invalid_faults",
    );
    assert_eq!(gw.client.get_faults().await.unwrap(), Faults::default());

    let knobs = Faults {
        drop_pct: 10,
        duplicate_pct: 20,
        delay_ms_max: 30,
        reorder: true,
        tamper_amount_pct: 40,
        down: false,
        down_for_ms: 0,
    };
    assert_eq!(gw.client.set_faults(&knobs).await.unwrap(), knobs);
    assert_eq!(gw.client.get_faults().await.unwrap(), knobs);
    assert_eq!(gw.sandbox.faults(), knobs);

    // A timed outage ends by itself; one longer than an hour is refused.
    let outage = Faults {
        down: true,
        down_for_ms: 300,
        ..Faults::default()
    };
    gw.sandbox.set_faults(outage.clone());
    assert!(gw.sandbox.faults().down);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while gw.sandbox.faults().down {
        assert!(std::time::Instant::now() < deadline, "the outage never ended");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(gw.sandbox.faults(), Faults::default());
    let too_long = Faults {
        down: true,
        down_for_ms: 3_600_001,
        ..Faults::default()
    };
    assert!(gw.client.set_faults(&too_long).await.is_err());
}

// ---------------------------------------------------------------------------------------
// Standalone

#[tokio::test]
async fn standalone_gateway_serves_at_its_root() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let sandbox = Sandbox::new(SandboxConfig {
        merchant_key: KEY.to_vec(),
        public_base_url: format!("{base}/"),
        time_scale: FAST,
        faults: Faults::default(),
        epay: None,
        alipay: None,
        epay_v2: None,
        wechat: None,
    });
    tokio::spawn(serve(listener, sandbox));
    let receiver = Receiver::start().await;
    let client = SandboxClient::new(base.clone(), KEY.to_vec());
    let created = client
        .create_payment(&CreatePayment {
            out_trade_no: "standalone-1".to_owned(),
            amount_minor: 4200,
            currency: "CNY".to_owned(),
            subject: "s".to_owned(),
            notify_url: receiver.url.clone(),
            return_url: String::new(),
            site_name: None,
            order_ref: None,
            expires_at: None,
        })
        .await
        .unwrap();
    assert_eq!(created.cashier_url, format!("{base}/cashier/{}", created.payment_id));
    client.pay(&created.payment_id).await.unwrap();
    until("delivery", || async { receiver.got().len() == 1 }).await;
    assert!(receiver.got()[0].signature_ok);
    assert!(client.query_payment(&created.payment_id).await.unwrap().is_some());
}

#[tokio::test]
async fn a_gateway_without_a_key_accepts_nothing() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let sandbox = Sandbox::new(SandboxConfig {
        merchant_key: Vec::new(),
        public_base_url: base.clone(),
        time_scale: 1.0,
        faults: Faults::default(),
        epay: None,
        alipay: None,
        epay_v2: None,
        wechat: None,
    });
    tokio::spawn(serve(listener, sandbox));
    let client = SandboxClient::new(base, Vec::new());
    assert_rejected(
        client
            .create_payment(&CreatePayment {
                out_trade_no: "o".to_owned(),
                amount_minor: 1,
                currency: "CNY".to_owned(),
                subject: String::new(),
                notify_url: "http://127.0.0.1:1/n".to_owned(),
                return_url: String::new(),
                site_name: None,
                order_ref: None,
                expires_at: None,
            })
            .await,
        401,
        "bad_signature",
    );
}

#[tokio::test]
async fn an_unreachable_gateway_is_unavailable() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let client = SandboxClient::new(format!("http://{addr}"), KEY.to_vec());
    assert!(matches!(client.get_refund("r").await, Err(ClientError::Unavailable(_))));
}

#[tokio::test]
async fn odd_requests_get_json_4xx_answers() {
    let gw = Gw::start(FAST).await;
    for (method, target) in [
        (reqwest::Method::GET, "/sandbox/payments/%FF"),
        (reqwest::Method::POST, "/sandbox/payments/%FF%FE/pay"),
    ] {
        let response = gw
            .http
            .request(method, format!("{}{target}", gw.base.trim_end_matches("/sandbox")))
            .send()
            .await
            .unwrap();
        let (status, err) = api_error(response).await;
        assert_eq!((status, err.error.as_str()), (400, "invalid_path"), "{target}");
    }
    let t = "/sandbox/api/payments/%FF";
    let (status, err) = api_error(gw.raw_signed(reqwest::Method::GET, t, t, Vec::new()).await).await;
    assert_eq!((status, err.error.as_str()), (400, "invalid_path"));

    let unknown = gw
        .http
        .post(format!("{}/payments/sbp_nope/pay", gw.base))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    let (status, err) = api_error(unknown).await;
    assert_eq!((status, err.error.as_str()), (404, "not_found"));

    let huge = gw
        .http
        .put(format!("{}/admin/faults", gw.base))
        .body(vec![b' '; 64 * 1024 + 1])
        .send()
        .await
        .unwrap();
    let (status, err) = api_error(huge).await;
    assert_eq!((status, err.error.as_str()), (413, "body_too_large"));
}

#[tokio::test]
async fn payouts_are_idempotent_and_signed() {
    let gw = Gw::start(FAST).await;
    let req = |amount_minor, account: &str| danbao_sandbox::wire::PayoutRequest {
        request_id: "payout-1".to_owned(),
        amount_minor,
        account: account.to_owned(),
    };
    let first = gw.client.payout(&req(1500, "seller-1")).await.unwrap();
    assert_eq!(first.status, "succeeded");
    assert!(first.payout_id.starts_with("sbo_"));
    let again = gw.client.payout(&req(1500, "seller-1")).await.unwrap();
    assert_eq!(again, first, "the same request_id is the same payout");
    assert_rejected(
        gw.client.payout(&req(1600, "seller-1")).await,
        409,
        "request_id_conflict",
    );
    assert_rejected(gw.client.payout(&req(0, "seller-1")).await, 400, "invalid_request");
}

/// Inside a platform others can reach, the fault knobs need the sandbox's admin secret;
/// without it, or with another, nothing changes.
#[tokio::test]
async fn fault_knobs_need_the_admin_secret_when_one_is_set() {
    let gw = Gw::start(FAST).await;
    gw.sandbox.require_admin_secret("s3cret-for-tests".into());
    let url = format!("{}/admin/faults", gw.base);
    let body = r#"{"drop_pct":100}"#;
    for auth in [
        None,
        Some("Bearer wrong"),
        Some("Bearer s3cret-for-test"),
        Some("s3cret-for-tests"),
    ] {
        let mut req = gw.http.put(&url).body(body);
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        let response = req.send().await.unwrap();
        assert_eq!(response.status(), 401, "{auth:?}");
        let e: ApiError = response.json().await.unwrap();
        assert_eq!(e.error, "admin_secret_required");
    }
    assert_eq!(gw.client.get_faults().await.unwrap(), Faults::default());
    let ok = gw
        .http
        .put(&url)
        .header("authorization", "Bearer s3cret-for-tests")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(gw.client.get_faults().await.unwrap().drop_pct, 100);
}
