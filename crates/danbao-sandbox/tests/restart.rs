//! The gateway keeps its books in its own state directory: a payment opened before a
//! restart can be paid after it, and a notification whose resend schedule a restart cut
//! short goes on where it stopped (issue 8 item 15).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use danbao_sandbox::client::SandboxClient;
use danbao_sandbox::gateway::{serve, Sandbox, SandboxConfig};
use danbao_sandbox::wire::{verify, CreatePayment, Faults, Notification, SIGNATURE_HEADER};

const KEY: &[u8] = b"test-merchant-key";
const DEADLINE: Duration = Duration::from_secs(10);
/// The 4-minute first resend comes after 24 ms.
const FAST: f64 = 10_000.0;

#[derive(Default)]
struct Merchant {
    accept: bool,
    got: Vec<Notification>,
}

type Shared = Arc<Mutex<Merchant>>;

async fn receive(State(m): State<Shared>, headers: HeaderMap, body: Bytes) -> (StatusCode, &'static str) {
    let signature = headers
        .get(SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert!(
        verify(KEY, &body, signature),
        "notifications stay signed across restarts"
    );
    let mut m = m.lock().unwrap();
    m.got.push(serde_json::from_slice(&body).unwrap());
    if m.accept {
        (StatusCode::OK, "success")
    } else {
        (StatusCode::INTERNAL_SERVER_ERROR, "fail")
    }
}

/// A merchant's notify endpoint on the caller's runtime; returns its URL.
async fn merchant(state: Shared) -> String {
    let app = Router::new().route("/notify", post(receive)).with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}/notify")
}

/// A gateway on its own runtime, so that shutting the runtime down ends everything it
/// runs — its server and every notification it was going to resend — as a process exit
/// would. Returns the runtime and the gateway's base URL.
fn start_gateway(dir: &Path) -> (tokio::runtime::Runtime, String) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let base = {
        let _inside = rt.enter();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let sandbox = Sandbox::open(
            SandboxConfig {
                merchant_key: KEY.to_vec(),
                public_base_url: base.clone(),
                time_scale: FAST,
                faults: Faults::default(),
                epay: None,
                alipay: None,
                epay_v2: None,
                wechat: None,
            },
            dir,
        )
        .unwrap();
        let listener = tokio::net::TcpListener::from_std(listener).unwrap();
        rt.spawn(serve(listener, sandbox));
        base
    };
    (rt, base)
}

fn state_dir() -> PathBuf {
    std::env::temp_dir()
        .join(format!("danbao-sandbox-restart-{}", uuid::Uuid::new_v4().simple()))
        .join("sandbox")
}

async fn until(what: &str, check: impl Fn() -> bool) {
    let start = tokio::time::Instant::now();
    while !check() {
        assert!(start.elapsed() < DEADLINE, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn order(out_trade_no: &str, notify_url: &str) -> CreatePayment {
    CreatePayment {
        out_trade_no: out_trade_no.to_owned(),
        amount_minor: 4200,
        currency: "CNY".to_owned(),
        subject: "月卡".to_owned(),
        notify_url: notify_url.to_owned(),
        return_url: String::new(),
        site_name: None,
        order_ref: None,
        expires_at: None,
    }
}

#[test]
fn a_payment_opened_before_a_restart_is_paid_after_it() {
    let dir = state_dir();
    let main = tokio::runtime::Runtime::new().unwrap();
    let m: Shared = Arc::new(Mutex::new(Merchant {
        accept: true,
        got: Vec::new(),
    }));
    let notify_url = main.block_on(merchant(m.clone()));

    let (gateway, base) = start_gateway(&dir);
    let client = SandboxClient::new(base, KEY.to_vec());
    let created = main.block_on(client.create_payment(&order("restart-1", &notify_url)));
    let created = created.unwrap();
    gateway.shutdown_background();

    // The buyer's cashier was open; the gateway comes back (on another port here).
    let (gateway, base) = start_gateway(&dir);
    let client = SandboxClient::new(base, KEY.to_vec());
    let view = main.block_on(client.view(&created.payment_id)).unwrap();
    assert_eq!(view.status, "created");
    assert_eq!(view.amount_minor, 4200);
    main.block_on(client.pay(&created.payment_id)).unwrap();
    main.block_on(until("the notification", || !m.lock().unwrap().got.is_empty()));
    let got = m.lock().unwrap().got.clone();
    assert_eq!(got[0].payment_id, created.payment_id);
    assert_eq!(got[0].out_trade_no, "restart-1");
    assert_eq!(got[0].amount_minor, 4200);
    // Idempotency on out_trade_no survives the restart too: the same order gets the same payment.
    let again = main
        .block_on(client.create_payment(&order("restart-1", &notify_url)))
        .unwrap();
    assert_eq!(again.payment_id, created.payment_id);
    gateway.shutdown_background();

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        for f in std::fs::read_dir(&dir).unwrap() {
            let path = f.unwrap().path();
            assert_eq!(mode(&path), 0o600, "{}", path.display());
        }
    }
    let _ = std::fs::remove_dir_all(dir.parent().unwrap());
}

#[test]
fn an_unacknowledged_notification_resumes_its_schedule_after_a_restart() {
    let dir = state_dir();
    let main = tokio::runtime::Runtime::new().unwrap();
    let m: Shared = Arc::new(Mutex::new(Merchant::default()));
    let notify_url = main.block_on(merchant(m.clone()));

    let (gateway, base) = start_gateway(&dir);
    let client = SandboxClient::new(base, KEY.to_vec());
    let created = main
        .block_on(client.create_payment(&order("restart-2", &notify_url)))
        .unwrap();
    main.block_on(client.pay(&created.payment_id)).unwrap();
    // The merchant is down (answers `fail`): the first send is refused, and the gateway
    // stops before its first resend.
    main.block_on(until("the first attempt", || !m.lock().unwrap().got.is_empty()));
    gateway.shutdown_background();
    let before = m.lock().unwrap().got.len();
    // Four resends of this schedule would take 24 + 60 + 60 + 360 ms: fewer than all eight
    // attempts can have happened, so some are left to resume.
    assert!(before < 8, "{before} attempts before the restart");

    m.lock().unwrap().accept = true;
    let (gateway, base) = start_gateway(&dir);
    let client = SandboxClient::new(base, KEY.to_vec());
    main.block_on(until("a resumed resend", || m.lock().unwrap().got.len() > before));
    main.block_on(async {
        let start = tokio::time::Instant::now();
        loop {
            let view = client.view(&created.payment_id).await.unwrap();
            if view.notifications.iter().any(|a| a.outcome == "acknowledged") {
                // Every attempt, before and after the restart, is in the gateway's books.
                assert!(view.notifications.len() > before, "{:?}", view.notifications);
                break;
            }
            assert!(
                start.elapsed() < DEADLINE,
                "never acknowledged: {:?}",
                view.notifications
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    });
    let got = m.lock().unwrap().got.clone();
    assert!(got.iter().all(|n| n.trade_no == got[0].trade_no), "one trade, resent");
    gateway.shutdown_background();
    let _ = std::fs::remove_dir_all(dir.parent().unwrap());
}
