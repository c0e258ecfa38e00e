//! The simulated external payment gateway: its own in-memory state, a cashier page, a signed
//! merchant API, notifications resent on a real gateway's schedule, and fault knobs.
//!
//! Routes are at the router's root; the platform mounts them with
//! `Router::nest("/sandbox", sandbox.router())`, and `danbao sandbox-gateway` serves them
//! standalone through [`serve`].

mod alipay;
mod cashier;
mod epay;
mod epay_v2;
mod notify;
mod state;
mod wechat;

pub use alipay::AlipayMerchant;
pub use epay::EpayMerchant;
pub use epay_v2::EpayV2Merchant;
pub use wechat::WechatMerchant;

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::Duration;

use anyhow::Context as _;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts, OriginalUri, Path, Query, Request, State};
use axum::http::header::{ACCEPT, CACHE_CONTROL, CONTENT_TYPE, LOCATION};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::wire::{
    request_signing_payload, sign, verify, ApiError, CreatePayment, Faults, Notification, NotificationAttempt,
    PaymentView, RefundRequest, RefundView, SIGNATURE_HEADER,
};
use state::{Created, GatewayError, PaymentStatus, Store};

/// Requests larger than this are refused: every legitimate body is a few hundred bytes.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// The delay knob is capped so that a typo cannot park every notification for hours.
pub const DELAY_MS_MAX_LIMIT: u64 = 60_000;
/// A timed outage lasts at most an hour: longer is a gateway that is gone, not down.
pub const OUTAGE_MS_MAX: u64 = 3_600_000;
/// Outbound notification connections give up after this long.
const NOTIFY_CONNECT_TIMEOUT_MS: u64 = 5_000;

/// How a gateway is set up.
#[derive(Clone)]
pub struct SandboxConfig {
    /// The shared HMAC key. Empty means the gateway accepts no merchant request.
    pub merchant_key: Vec<u8>,
    /// The externally visible base of the gateway including its mount prefix, e.g.
    /// `http://127.0.0.1:8080/sandbox` in-process or `http://127.0.0.1:9090` standalone.
    pub public_base_url: String,
    /// How much faster than real time the resend schedule runs (1.0 = real time).
    pub time_scale: f64,
    pub faults: Faults,
    /// The 易支付 merchant its EPay personality serves (`/epay/submit.php`, …); none: that
    /// personality refuses everything.
    pub epay: Option<EpayMerchant>,
    /// The Alipay application its Alipay personality serves (`/alipay/gateway.do`, …);
    /// none: that personality refuses everything.
    pub alipay: Option<AlipayMerchant>,
    /// The RSA merchant its 易支付 V2 API serves (`/epay/api/pay/create`, …); none: that
    /// API refuses everything.
    pub epay_v2: Option<EpayV2Merchant>,
    /// The WeChat Pay merchant its WeChat Pay personality serves (`/wechat/v3/…`); none:
    /// that personality refuses everything.
    pub wechat: Option<WechatMerchant>,
}

impl fmt::Debug for SandboxConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SandboxConfig")
            .field("merchant_key", &"[redacted]")
            .field("public_base_url", &self.public_base_url)
            .field("time_scale", &self.time_scale)
            .field("faults", &self.faults)
            .field("epay", &self.epay)
            .field("alipay", &self.alipay)
            .field("epay_v2", &self.epay_v2)
            .field("wechat", &self.wechat)
            .finish()
    }
}

/// A running gateway. Cheap to clone: all clones share one state.
#[derive(Clone)]
pub struct Sandbox {
    inner: Arc<Inner>,
}

struct Inner {
    merchant_key: Vec<u8>,
    epay: Option<EpayMerchant>,
    /// With its signing key: one is generated at start when none was given.
    alipay: Option<AlipayMerchant>,
    epay_v2: Option<epay_v2::V2>,
    wechat: Option<wechat::WechatGateway>,
    public_base_url: RwLock<String>,
    time_scale: f64,
    faults: Mutex<Faults>,
    /// When a timed outage (`down_for_ms`) ends.
    down_until: Mutex<Option<std::time::Instant>>,
    store: Mutex<Store>,
    /// For notifications to merchants.
    http: reqwest::Client,
    /// Delivery tasks (a resend schedule, a manual resend) per payment that have not ended,
    /// counted from before they are spawned; a payment leaves the map when its count is 0.
    /// Watched, so that "nothing more will be sent" is an event one can wait for.
    deliveries: tokio::sync::watch::Sender<HashMap<String, usize>>,
    /// When set, changing the fault knobs needs `Authorization: Bearer <secret>` (the
    /// in-process sandbox inside a platform that others can reach).
    admin_secret: RwLock<Option<String>>,
}

/// Counts one delivery task for a payment from before it is spawned until it ends (or is
/// cancelled with its runtime): dropping it is the event [`Sandbox::deliveries_settled`]
/// waits for.
struct Delivering {
    sandbox: Sandbox,
    payment_id: String,
}

impl Drop for Delivering {
    fn drop(&mut self) {
        self.sandbox.inner.deliveries.send_modify(|tasks| {
            if let Some(n) = tasks.get_mut(&self.payment_id) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    tasks.remove(&self.payment_id);
                }
            }
        });
    }
}

fn outage_end(f: &Faults) -> Option<std::time::Instant> {
    (f.down && f.down_for_ms > 0).then(|| std::time::Instant::now() + std::time::Duration::from_millis(f.down_for_ms))
}

impl Sandbox {
    /// A gateway that keeps its books in memory only: a restart forgets every payment.
    /// Tests of the gateway's own rules use it; anything a buyer pays through uses
    /// [`Sandbox::open`].
    pub fn new(cfg: SandboxConfig) -> Sandbox {
        Sandbox::with_store(cfg, Store::default())
    }

    /// A gateway whose books live in `state_dir` (created private if missing; see
    /// `state.rs` for the journal), so that a payment created before a restart can still
    /// be paid after it, and notifications whose resend schedule a restart cut short go on
    /// where they stopped. Call it inside a Tokio runtime: it starts those deliveries.
    pub fn open(cfg: SandboxConfig, state_dir: &std::path::Path) -> anyhow::Result<Sandbox> {
        let store = Store::open(state_dir)
            .with_context(|| format!("opening the sandbox gateway's state in {}", state_dir.display()))?;
        let sandbox = Sandbox::with_store(cfg, store);
        sandbox.resume_deliveries();
        Ok(sandbox)
    }

    /// Restarts the resend schedule of every paid payment whose merchant has not
    /// acknowledged it yet, from the attempt that is due next.
    fn resume_deliveries(&self) {
        let pending = self.store().unfinished_schedules(OffsetDateTime::now_utc(), |step| {
            notify::RESEND_SCHEDULE_S.get(step).map(|s| self.scaled(*s))
        });
        if pending.is_empty() {
            return;
        }
        if tokio::runtime::Handle::try_current().is_err() {
            tracing::warn!(
                payments = pending.len(),
                "no async runtime: unacknowledged notifications are not resumed"
            );
            return;
        }
        tracing::info!(payments = pending.len(), "resuming unacknowledged notifications");
        for (payment_id, step, wait) in pending {
            self.spawn_delivery(
                &payment_id,
                notify::deliver_from(self.clone(), payment_id.clone(), step, wait),
            );
        }
    }

    /// Records, durably, that scheduled attempt `step` of a payment's notification starts.
    fn mark_scheduled(&self, payment_id: &str, step: usize) {
        self.store().mark_scheduled(payment_id, step, OffsetDateTime::now_utc());
    }

    fn with_store(cfg: SandboxConfig, store: Store) -> Sandbox {
        let time_scale = if cfg.time_scale.is_finite() && cfg.time_scale > 0.0 {
            cfg.time_scale
        } else {
            tracing::warn!(time_scale = cfg.time_scale, "invalid time_scale; using 1.0");
            1.0
        };
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_millis(NOTIFY_CONNECT_TIMEOUT_MS))
            .timeout(Duration::from_millis(notify::NOTIFY_TIMEOUT_MS))
            // Real gateways do not follow a merchant's redirects.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            // Building fails only when a TLS backend cannot start; there is none here.
            .unwrap_or_else(|_| reqwest::Client::new());
        let epay_v2 = cfg.epay_v2.and_then(|m| match epay_v2::V2::start(m) {
            Ok(v2) => Some(v2),
            Err(e) => {
                // Without a platform key the V2 API could sign nothing: it refuses all.
                tracing::error!(error = %e, "易支付 V2: could not make the platform key; V2 is off");
                None
            }
        });
        Sandbox {
            inner: Arc::new(Inner {
                merchant_key: cfg.merchant_key,
                epay: cfg.epay,
                alipay: cfg.alipay.map(AlipayMerchant::with_generated_key),
                epay_v2,
                wechat: cfg.wechat.and_then(wechat::WechatGateway::new),
                public_base_url: RwLock::new(trim_base(cfg.public_base_url)),
                time_scale,
                down_until: Mutex::new(outage_end(&cfg.faults)),
                faults: Mutex::new(cfg.faults),
                store: Mutex::new(store),
                http,
                deliveries: tokio::sync::watch::Sender::new(HashMap::new()),
                admin_secret: RwLock::new(None),
            }),
        }
    }

    /// The gateway's routes, at the root.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/cashier/{payment_id}", get(cashier_page))
            .route("/payments/{payment_id}", get(payment_view))
            .route("/payments/{payment_id}/pay", post(pay))
            .route("/payments/{payment_id}/renotify", post(renotify))
            .route("/admin/faults", get(get_faults).put(put_faults))
            .route("/api/payments", post(api_create_payment).get(api_list_payments))
            .route("/api/payments/{payment_id}", get(api_query_payment))
            .route("/api/refunds", post(api_refund))
            .route("/api/payouts", post(api_payout))
            .route("/api/refunds/{request_id}", get(api_get_refund))
            .route("/api/statements", get(api_statement))
            .route("/api/balance", get(api_balance))
            .route("/epay/submit.php", get(epay::submit_get).post(epay::submit_post))
            .route("/epay/mapi.php", post(epay::mapi))
            .route("/epay/api.php", get(epay::api_get).post(epay::api_post))
            .route(
                "/alipay/gateway.do",
                get(alipay::gateway_get).post(alipay::gateway_post),
            )
            .route("/alipay/bill", get(alipay::bill))
            .route("/epay/api/pay/create", post(epay_v2::create))
            .route("/epay/api/pay/query", post(epay_v2::query))
            .route("/epay/api/pay/refund", post(epay_v2::refund))
            .route("/epay/api/pay/refundquery", post(epay_v2::refund_query))
            .route("/wechat/v3/pay/transactions/native", post(wechat::native))
            .route(
                "/wechat/v3/pay/transactions/out-trade-no/{out_trade_no}",
                get(wechat::query),
            )
            .route("/wechat/v3/refund/domestic/refunds", post(wechat::refund))
            .route(
                "/wechat/v3/refund/domestic/refunds/{out_refund_no}",
                get(wechat::refund_query),
            )
            .route("/wechat/v3/bill/tradebill", get(wechat::trade_bill))
            .route("/wechat/v3/billdownload/file", get(wechat::bill_download))
            .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
            .with_state(self.clone())
    }

    /// The public half of the Alipay personality's signing key (what its merchant
    /// configures as Alipay's public key), if it has one.
    pub fn alipay_public_key(&self) -> Option<danbao_rails::rsa_sha256::VerifyingKey> {
        self.inner.alipay.as_ref().and_then(AlipayMerchant::alipay_public_key)
    }

    /// The public key of the platform key the 易支付 V2 API signs with (given, or made at
    /// start): what its merchant verifies answers and notifications against.
    pub fn epay_v2_platform_public_key(&self) -> Option<danbao_rails::rsa_sha256::VerifyingKey> {
        self.inner.epay_v2.as_ref().map(|m| m.platform_key.verifying_key())
    }

    /// The public key the WeChat Pay personality signs answers and notifications with
    /// (the merchant's "platform certificate"), when it has a merchant.
    pub fn wechat_platform_public_key(&self) -> Option<danbao_rails::rsa_sha256::VerifyingKey> {
        self.inner
            .wechat
            .as_ref()
            .map(wechat::WechatGateway::platform_public_key)
    }

    /// From now on, `PUT /admin/faults` needs `Authorization: Bearer <secret>`.
    pub fn require_admin_secret(&self, secret: String) {
        let mut s = self.inner.admin_secret.write().unwrap_or_else(|e| e.into_inner());
        *s = Some(secret);
    }

    /// Whether a request may change the fault knobs.
    fn admin_allowed(&self, headers: &HeaderMap) -> bool {
        use subtle::ConstantTimeEq;
        let secret = self.inner.admin_secret.read().unwrap_or_else(|e| e.into_inner());
        let Some(secret) = secret.as_deref() else {
            return true;
        };
        let given = headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        given.len() == secret.len() && bool::from(given.as_bytes().ct_eq(secret.as_bytes()))
    }

    /// The platform learns its own port only after binding.
    pub fn set_public_base_url(&self, url: String) {
        let mut base = self.inner.public_base_url.write().unwrap_or_else(|e| e.into_inner());
        *base = trim_base(url);
    }

    pub fn public_base_url(&self) -> String {
        self.inner
            .public_base_url
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn set_faults(&self, f: Faults) {
        *lock(&self.inner.down_until) = outage_end(&f);
        *lock(&self.inner.faults) = f;
    }

    /// The faults in force now: a timed outage that has run its course is over.
    pub fn faults(&self) -> Faults {
        let mut f = lock(&self.inner.faults);
        if f.down {
            if let Some(until) = *lock(&self.inner.down_until) {
                if std::time::Instant::now() >= until {
                    f.down = false;
                    f.down_for_ms = 0;
                }
            }
        }
        f.clone()
    }

    /// Resolves once no notification for this payment is being sent or waiting for its next
    /// resend: the schedule has ended (acknowledged, or given up after the last resend) and
    /// every manual resend has finished, with each attempt recorded. Nothing more is sent
    /// for it after that unless someone asks for a resend. Returns at once for a payment
    /// that has no delivery. Tests wait on this to show that nothing more arrives, instead
    /// of waiting a while and seeing nothing.
    pub async fn deliveries_settled(&self, payment_id: &str) {
        let mut tasks = self.inner.deliveries.subscribe();
        // The sender lives in `inner`, which `self` keeps alive: the channel cannot close.
        let _ = tasks.wait_for(|tasks| !tasks.contains_key(payment_id)).await;
    }

    /// Runs one delivery task for `payment_id` in the background, counted until it ends.
    fn spawn_delivery<F>(&self, payment_id: &str, delivery: F)
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        self.inner.deliveries.send_modify(|tasks| {
            *tasks.entry(payment_id.to_owned()).or_default() += 1;
        });
        let counted = Delivering {
            sandbox: self.clone(),
            payment_id: payment_id.to_owned(),
        };
        tokio::spawn(async move {
            delivery.await;
            drop(counted);
        });
    }

    fn store(&self) -> MutexGuard<'_, Store> {
        lock(&self.inner.store)
    }

    fn view(&self, payment_id: &str) -> Result<PaymentView, GatewayError> {
        let base = self.public_base_url();
        Ok(self.store().payment(payment_id)?.view(&base))
    }

    fn scaled(&self, seconds: u64) -> Duration {
        // Not money: a duration, and whole seconds this small convert to f64 exactly.
        let secs = seconds as f64 / self.inner.time_scale;
        Duration::try_from_secs_f64(secs).unwrap_or(Duration::MAX)
    }

    fn is_acknowledged(&self, payment_id: &str) -> bool {
        self.store()
            .payment(payment_id)
            .map(|p| p.is_acknowledged())
            .unwrap_or(false)
    }

    /// A paid payment's notification, where it goes, and which personality words it
    /// (with the goods' name an 易支付 notification repeats).
    fn notification_for(
        &self,
        payment_id: &str,
        notify_id: &str,
    ) -> Option<(Notification, String, state::PaymentRail, String)> {
        let store = self.store();
        let payment = store.payment(payment_id).ok()?;
        let notification = payment.notification(notify_id.to_owned(), OffsetDateTime::now_utc())?;
        Some((
            notification,
            payment.notify_url.clone(),
            payment.rail.clone(),
            payment.subject.clone(),
        ))
    }

    fn record_attempt(&self, payment_id: &str, attempt: NotificationAttempt) {
        self.store().record_attempt(payment_id, attempt);
    }

    /// A merchant API answer: JSON, signed with the merchant key.
    fn signed(&self, status: StatusCode, body: Vec<u8>) -> Response {
        let signature = sign(&self.inner.merchant_key, &body);
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if let Ok(value) = HeaderValue::from_str(&signature) {
            headers.insert(SIGNATURE_HEADER, value);
        }
        response
    }

    fn signed_json<T: Serialize>(&self, status: StatusCode, value: &T) -> Response {
        match serde_json::to_vec(value) {
            Ok(body) => self.signed(status, body),
            Err(e) => self.signed_error(ApiErr::internal(e)),
        }
    }

    fn signed_error(&self, err: ApiErr) -> Response {
        self.signed(err.status, err.body())
    }

    fn signed_result<T: Serialize>(&self, result: Result<(StatusCode, T), ApiErr>) -> Response {
        match result {
            Ok((status, value)) => self.signed_json(status, &value),
            Err(err) => self.signed_error(err),
        }
    }
}

/// Serves the gateway on its own (`danbao sandbox-gateway`).
pub async fn serve(listener: tokio::net::TcpListener, sandbox: Sandbox) -> anyhow::Result<()> {
    axum::serve(listener, sandbox.router())
        .await
        .context("sandbox gateway server stopped with an error")
}

/// A poisoned lock only means some thread panicked while holding it; the state is plain data
/// updated in single steps, so it is still consistent and the gateway keeps serving.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn trim_base(url: String) -> String {
    url.trim_end_matches('/').to_owned()
}

fn new_payment_id() -> String {
    format!("sbp_{}", uuid::Uuid::now_v7().simple())
}

/// Trade numbers are unique across gateway restarts, because merchants deduplicate on them.
fn new_trade_no() -> String {
    format!("sbt_{}", uuid::Uuid::now_v7().simple())
}

fn new_refund_id() -> String {
    format!("sbr_{}", uuid::Uuid::now_v7().simple())
}

// ---------------------------------------------------------------------------------------
// Errors

/// An error answer: a status and an [`ApiError`] body.
#[derive(Debug)]
struct ApiErr {
    status: StatusCode,
    error: &'static str,
    message: String,
}

impl ApiErr {
    fn new(status: StatusCode, error: &'static str, message: impl Into<String>) -> Self {
        ApiErr {
            status,
            error,
            message: message.into(),
        }
    }

    fn internal(cause: impl fmt::Display) -> Self {
        tracing::error!(%cause, "sandbox gateway internal error");
        ApiErr::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error")
    }

    fn body(&self) -> Vec<u8> {
        let body = ApiError {
            error: self.error.to_owned(),
            message: self.message.clone(),
        };
        // Two strings always serialize; an empty body is the fallback rather than a panic.
        serde_json::to_vec(&body).unwrap_or_default()
    }
}

impl IntoResponse for ApiErr {
    fn into_response(self) -> Response {
        let body = self.body();
        (
            self.status,
            [(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
            body,
        )
            .into_response()
    }
}

impl From<GatewayError> for ApiErr {
    fn from(e: GatewayError) -> Self {
        use GatewayError as E;
        match e {
            E::Invalid(m) => ApiErr::new(StatusCode::BAD_REQUEST, "invalid_request", m),
            E::UnknownPayment => ApiErr::new(StatusCode::NOT_FOUND, "not_found", "no such payment"),
            E::UnknownRefund => ApiErr::new(StatusCode::NOT_FOUND, "not_found", "no such refund"),
            E::OutTradeNoConflict => ApiErr::new(
                StatusCode::CONFLICT,
                "out_trade_no_conflict",
                "a payment with this out_trade_no exists with another amount or currency",
            ),
            E::RefundRequestConflict => ApiErr::new(
                StatusCode::CONFLICT,
                "request_id_conflict",
                "a refund with this request_id exists for another payment or amount",
            ),
            E::PayoutRequestConflict => ApiErr::new(
                StatusCode::CONFLICT,
                "request_id_conflict",
                "a payout with this request_id exists with another amount or account",
            ),
            E::NotPaid => ApiErr::new(StatusCode::CONFLICT, "not_paid", "the payment is not paid"),
            E::RefundExceedsPayment => ApiErr::new(
                StatusCode::BAD_REQUEST,
                "refund_exceeds_payment",
                "the total refunded would exceed the amount paid",
            ),
            E::Capacity => ApiErr::new(
                StatusCode::TOO_MANY_REQUESTS,
                "capacity_exceeded",
                "the sandbox holds as many records as it is allowed to",
            ),
            E::Storage(cause) => ApiErr::internal(cause),
        }
    }
}

/// The one `{id}` path parameter; an undecodable one (say, invalid UTF-8) is a JSON 400
/// like every other bad input rather than axum's plain-text rejection.
struct PathId(String);

impl FromRequestParts<Sandbox> for PathId {
    type Rejection = ApiErr;

    async fn from_request_parts(parts: &mut Parts, sb: &Sandbox) -> Result<Self, Self::Rejection> {
        Path::<String>::from_request_parts(parts, sb)
            .await
            .map(|Path(id)| PathId(id))
            .map_err(|e| ApiErr::new(StatusCode::BAD_REQUEST, "invalid_path", e.body_text()))
    }
}

fn body_rejection(rejection: axum::extract::rejection::BytesRejection) -> ApiErr {
    let status = rejection.status();
    let code = if status == StatusCode::PAYLOAD_TOO_LARGE {
        "body_too_large"
    } else {
        "bad_body"
    };
    ApiErr::new(status, code, rejection.body_text())
}

fn decode_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiErr> {
    serde_json::from_slice(body).map_err(|e| ApiErr::new(StatusCode::BAD_REQUEST, "invalid_json", e.to_string()))
}

// ---------------------------------------------------------------------------------------
// Public routes: the buyer's browser and tests

async fn cashier_page(State(sb): State<Sandbox>, PathId(payment_id): PathId) -> Response {
    let base = sb.public_base_url();
    let page = {
        let store = sb.store();
        store
            .payment(&payment_id)
            .map(|p| cashier::page(p, &base, OffsetDateTime::now_utc()))
    };
    let (status, html) = match page {
        Ok(html) => (StatusCode::OK, html),
        Err(_) => (StatusCode::NOT_FOUND, cashier::not_found(&payment_id)),
    };
    (
        status,
        [(CACHE_CONTROL, HeaderValue::from_static("no-store"))],
        Html(html),
    )
        .into_response()
}

async fn payment_view(State(sb): State<Sandbox>, PathId(payment_id): PathId) -> Response {
    match sb.view(&payment_id) {
        Ok(view) => Json(view).into_response(),
        Err(e) => ApiErr::from(e).into_response(),
    }
}

/// What the Pay button does: the payment succeeds at the gateway and its notification goes
/// out in the background.
async fn pay(
    State(sb): State<Sandbox>,
    PathId(payment_id): PathId,
    Query(who): Query<PayerQuery>,
    headers: HeaderMap,
) -> Response {
    let payer = payer_of(&who, &headers);
    let newly_paid = {
        let mut store = sb.store();
        // 易支付 V2 numbers an order when it is opened (the create answer's `trade_no`):
        // paying it keeps that number.
        let numbered_at_creation = store
            .payment(&payment_id)
            .is_ok_and(|p| matches!(p.rail, state::PaymentRail::EpayV2 { .. }));
        let trade_no = || {
            if numbered_at_creation {
                payment_id.clone()
            } else {
                new_trade_no()
            }
        };
        store.pay_as(&payment_id, &payer, trade_no, OffsetDateTime::now_utc())
    };
    let newly_paid = match newly_paid {
        Ok(true) => {
            tracing::info!(%payment_id, "sandbox payment succeeded");
            sb.spawn_delivery(&payment_id, notify::deliver_on_schedule(sb.clone(), payment_id.clone()));
            true
        }
        Ok(false) => false,
        Err(e) => return ApiErr::from(e).into_response(),
    };
    let (view, return_url) = {
        let base = sb.public_base_url();
        let store = sb.store();
        match store.payment(&payment_id) {
            Ok(p) => (p.view(&base), p.return_url.clone()),
            Err(e) => return ApiErr::from(e).into_response(),
        }
    };
    let wants_html = headers
        .get(ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"));
    if wants_html {
        // Only the one who paid goes back to the merchant; pressing Pay on a paid payment
        // (anyone may, with its id) shows the cashier, which names nobody.
        let target = if return_url.is_empty() || !newly_paid {
            view.cashier_url.clone()
        } else {
            return_url
        };
        if let Ok(location) = HeaderValue::from_str(&target) {
            return (StatusCode::SEE_OTHER, [(LOCATION, location)]).into_response();
        }
    }
    Json(view).into_response()
}

/// Who presses Pay: `?payer=NAME`, else the browser's wallet cookie, else the default
/// wallet. A real gateway knows its payer from their login; the sandbox lets a test (or a
/// person trying the demo with two browsers) be several payers.
#[derive(Deserialize, Default)]
struct PayerQuery {
    payer: Option<String>,
}

/// The cookie naming the sandbox wallet a browser pays from.
const WALLET_COOKIE: &str = "sandbox_wallet";
/// A payer name is an identifier, not prose: short, printable, no separators.
const PAYER_LEN_MAX: usize = 64;

fn payer_of(q: &PayerQuery, headers: &HeaderMap) -> String {
    let valid = |p: &str| {
        !p.is_empty()
            && p.len() <= PAYER_LEN_MAX
            && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    let from_cookie = headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == WALLET_COOKIE)
        .map(|(_, v)| v.to_owned());
    q.payer
        .clone()
        .filter(|p| valid(p))
        .or(from_cookie.filter(|p| valid(p)))
        .unwrap_or_else(|| crate::wire::DEFAULT_PAYER.to_owned())
}

/// A merchant dashboard's "resend" button: one extra send now, with a new notify_id.
async fn renotify(State(sb): State<Sandbox>, PathId(payment_id): PathId) -> Response {
    let view = match sb.view(&payment_id) {
        Ok(view) => view,
        Err(e) => return ApiErr::from(e).into_response(),
    };
    if view.status != "succeeded" {
        return ApiErr::from(GatewayError::NotPaid).into_response();
    }
    sb.spawn_delivery(&payment_id, notify::deliver_once(sb.clone(), payment_id.clone()));
    (StatusCode::ACCEPTED, Json(view)).into_response()
}

async fn get_faults(State(sb): State<Sandbox>) -> Json<Faults> {
    Json(sb.faults())
}

async fn put_faults(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    if !sb.admin_allowed(&headers) {
        return ApiErr::new(
            StatusCode::UNAUTHORIZED,
            "admin_secret_required",
            "changing the fault knobs needs Authorization: Bearer <the sandbox admin secret>",
        )
        .into_response();
    }
    let body = match body {
        Ok(body) => body,
        Err(rejection) => return body_rejection(rejection).into_response(),
    };
    let faults: Faults = match decode_json(&body) {
        Ok(f) => f,
        Err(e) => return e.into_response(),
    };
    let pcts = [
        ("drop_pct", faults.drop_pct),
        ("duplicate_pct", faults.duplicate_pct),
        ("tamper_amount_pct", faults.tamper_amount_pct),
    ];
    if let Some((name, _)) = pcts.iter().find(|(_, v)| *v > 100) {
        return ApiErr::new(
            StatusCode::BAD_REQUEST,
            "invalid_faults",
            format!("{name} must be between 0 and 100"),
        )
        .into_response();
    }
    if faults.down_for_ms > OUTAGE_MS_MAX {
        return ApiErr::new(
            StatusCode::BAD_REQUEST,
            "invalid_faults",
            format!("down_for_ms must be at most {OUTAGE_MS_MAX}"),
        )
        .into_response();
    }
    if faults.delay_ms_max > DELAY_MS_MAX_LIMIT {
        return ApiErr::new(
            StatusCode::BAD_REQUEST,
            "invalid_faults",
            format!("delay_ms_max must be at most {DELAY_MS_MAX_LIMIT}"),
        )
        .into_response();
    }
    tracing::info!(?faults, "sandbox faults changed");
    sb.set_faults(faults.clone());
    Json(faults).into_response()
}

// ---------------------------------------------------------------------------------------
// Merchant API: signed requests, signed answers

/// A merchant API request whose signature has been checked. Its rejection is a signed
/// error answer (503 while down, 401 for a bad signature, 4xx for an unreadable body).
struct MerchantRequest {
    uri: Uri,
    body: Bytes,
}

impl FromRequest<Sandbox> for MerchantRequest {
    type Rejection = Response;

    async fn from_request(req: Request, sb: &Sandbox) -> Result<Self, Self::Rejection> {
        if sb.faults().down {
            return Err(sb.signed_error(ApiErr::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "gateway_down",
                "the sandbox gateway is down (fault injected)",
            )));
        }
        // The signature covers the target as the client sent it, mount prefix included.
        let uri = req
            .extensions()
            .get::<OriginalUri>()
            .map(|o| o.0.clone())
            .unwrap_or_else(|| req.uri().clone());
        let method = req.method().as_str().to_owned();
        let signature = req
            .headers()
            .get(SIGNATURE_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = match Bytes::from_request(req, sb).await {
            Ok(body) => body,
            Err(rejection) => return Err(sb.signed_error(body_rejection(rejection))),
        };
        let path_and_query = uri.path_and_query().map(|pq| pq.as_str()).unwrap_or_else(|| uri.path());
        let payload = request_signing_payload(&method, path_and_query, &body);
        let verified = signature
            .as_deref()
            .is_some_and(|s| verify(&sb.inner.merchant_key, &payload, s));
        if !verified {
            tracing::warn!(%method, path = %uri.path(), "merchant request with a missing or bad signature");
            return Err(sb.signed_error(ApiErr::new(
                StatusCode::UNAUTHORIZED,
                "bad_signature",
                format!("missing or invalid {SIGNATURE_HEADER}"),
            )));
        }
        Ok(MerchantRequest { uri, body })
    }
}

impl MerchantRequest {
    fn query<T: serde::de::DeserializeOwned>(&self) -> Result<T, ApiErr> {
        Query::<T>::try_from_uri(&self.uri)
            .map(|q| q.0)
            .map_err(|e| ApiErr::new(StatusCode::BAD_REQUEST, "invalid_query", e.body_text()))
    }
}

async fn api_create_payment(State(sb): State<Sandbox>, req: MerchantRequest) -> Response {
    sb.signed_result(create_payment(&sb, &req.body))
}

fn create_payment(sb: &Sandbox, body: &[u8]) -> Result<(StatusCode, PaymentView), ApiErr> {
    let create: CreatePayment = decode_json(body)?;
    let created = sb.store().create_payment(create, new_payment_id)?;
    let (status, id) = match created {
        Created::New(id) => (StatusCode::CREATED, id),
        Created::Existing(id) => (StatusCode::OK, id),
    };
    Ok((status, sb.view(&id)?))
}

#[derive(Deserialize)]
struct ByOutTradeNo {
    out_trade_no: String,
}

async fn api_list_payments(State(sb): State<Sandbox>, req: MerchantRequest) -> Response {
    let result = req.query::<ByOutTradeNo>().map(|q| {
        let base = sb.public_base_url();
        let views: Vec<PaymentView> = sb
            .store()
            .by_out_trade_no(&q.out_trade_no)
            .into_iter()
            // The merchant API answers for its own payments only.
            .filter(|p| p.rail == state::PaymentRail::Sandbox)
            .map(|p| p.view(&base))
            .collect();
        (StatusCode::OK, views)
    });
    sb.signed_result(result)
}

#[derive(Serialize)]
#[serde(untagged)]
enum QueryAnswer {
    Paid(Notification),
    Unpaid { payment_id: String, status: String },
}

/// Active query: the notification itself when paid, `{"status":"created"}` otherwise.
async fn api_query_payment(State(sb): State<Sandbox>, PathId(payment_id): PathId, _req: MerchantRequest) -> Response {
    sb.signed_result(query_payment(&sb, &payment_id))
}

fn query_payment(sb: &Sandbox, payment_id: &str) -> Result<(StatusCode, QueryAnswer), ApiErr> {
    let store = sb.store();
    let payment = store.payment(payment_id)?;
    if payment.rail != state::PaymentRail::Sandbox {
        return Err(GatewayError::UnknownPayment.into());
    }
    let answer = match &payment.status {
        PaymentStatus::Succeeded { trade_no, .. } => payment
            .notification(format!("query-{trade_no}"), OffsetDateTime::now_utc())
            .map(QueryAnswer::Paid),
        PaymentStatus::Created => None,
    };
    let answer = answer.unwrap_or_else(|| QueryAnswer::Unpaid {
        payment_id: payment_id.to_owned(),
        status: "created".to_owned(),
    });
    Ok((StatusCode::OK, answer))
}

async fn api_refund(State(sb): State<Sandbox>, req: MerchantRequest) -> Response {
    sb.signed_result(refund(&sb, &req.body))
}

fn refund(sb: &Sandbox, body: &[u8]) -> Result<(StatusCode, RefundView), ApiErr> {
    let refund: RefundRequest = decode_json(body)?;
    let mut store = sb.store();
    // Another personality's payment is refunded through that personality's API.
    if store.payment(&refund.payment_id)?.rail != state::PaymentRail::Sandbox {
        return Err(GatewayError::UnknownPayment.into());
    }
    let view = store.refund(&refund, new_refund_id)?;
    drop(store);
    tracing::info!(
        payment_id = %view.payment_id,
        request_id = %view.request_id,
        amount_minor = view.amount_minor,
        "sandbox refund"
    );
    Ok((StatusCode::OK, view))
}

async fn api_payout(State(sb): State<Sandbox>, req: MerchantRequest) -> Response {
    sb.signed_result(payout(&sb, &req.body))
}

fn payout(sb: &Sandbox, body: &[u8]) -> Result<(StatusCode, crate::wire::PayoutView), ApiErr> {
    let request: crate::wire::PayoutRequest = decode_json(body)?;
    let view = sb
        .store()
        .payout(&request, || format!("sbo_{}", uuid::Uuid::now_v7().simple()))?;
    tracing::info!(request_id = %view.request_id, amount_minor = view.amount_minor, "sandbox payout");
    Ok((StatusCode::OK, view))
}

async fn api_get_refund(State(sb): State<Sandbox>, PathId(request_id): PathId, _req: MerchantRequest) -> Response {
    let result = sb
        .store()
        .refund_by_request_id(&request_id)
        .map(|r| (StatusCode::OK, r.clone()))
        .map_err(ApiErr::from);
    sb.signed_result(result)
}

#[derive(Deserialize)]
struct StatementWindow {
    from: String,
    to: String,
}

async fn api_statement(State(sb): State<Sandbox>, req: MerchantRequest) -> Response {
    sb.signed_result(statement(&sb, &req))
}

fn statement(sb: &Sandbox, req: &MerchantRequest) -> Result<(StatusCode, Vec<Notification>), ApiErr> {
    let window: StatementWindow = req.query()?;
    let parse = |name: &str, s: &str| {
        OffsetDateTime::parse(s, &Rfc3339).map_err(|e| {
            ApiErr::new(
                StatusCode::BAD_REQUEST,
                "invalid_query",
                format!("{name} must be an RFC 3339 time: {e}"),
            )
        })
    };
    let from = parse("from", &window.from)?;
    let to = parse("to", &window.to)?;
    let lines = sb.store().statement(from, to, OffsetDateTime::now_utc());
    Ok((StatusCode::OK, lines))
}

/// The merchant's settlement balance (signed, like every merchant API answer): what the
/// platform compares its published liabilities with (the cover ratio).
async fn api_balance(State(sb): State<Sandbox>, _req: MerchantRequest) -> Response {
    let result = match sb.store().balance() {
        Some(balance_minor) => Ok((
            StatusCode::OK,
            crate::wire::BalanceView {
                balance_minor,
                currency: "CNY".to_owned(),
                as_of: state::rfc3339(OffsetDateTime::now_utc()),
            },
        )),
        None => Err(ApiErr::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "overflow",
            "the balance overflows".to_owned(),
        )),
    };
    sb.signed_result(result)
}

#[cfg(test)]
mod payer_tests {
    use super::*;

    fn payer(query: Option<&str>, cookie: Option<&str>) -> String {
        let mut headers = HeaderMap::new();
        if let Some(c) = cookie {
            headers.insert(
                axum::http::header::COOKIE,
                HeaderValue::from_str(c).unwrap_or_else(|e| panic!("{e}")),
            );
        }
        payer_of(
            &PayerQuery {
                payer: query.map(str::to_owned),
            },
            &headers,
        )
    }

    #[test]
    fn the_payer_is_the_query_then_the_wallet_cookie_then_the_default() {
        assert_eq!(payer(Some("alice"), Some("sandbox_wallet=bob")), "alice");
        assert_eq!(payer(None, Some("theme=dark; sandbox_wallet=bob")), "bob");
        assert_eq!(payer(None, None), crate::wire::DEFAULT_PAYER);
        // Names that are no identifiers are ignored, never stored.
        assert_eq!(payer(Some("a b"), Some("sandbox_wallet=bob")), "bob");
        assert_eq!(payer(Some(&"x".repeat(65)), None), crate::wire::DEFAULT_PAYER);
        assert_eq!(
            payer(Some(""), Some("sandbox_wallet=<script>")),
            crate::wire::DEFAULT_PAYER
        );
    }

    #[test]
    fn the_notification_names_who_paid_and_paying_again_changes_nothing() {
        let mut store = Store::default();
        let created = store.create_payment(
            CreatePayment {
                out_trade_no: "o1".into(),
                amount_minor: 100,
                currency: "CNY".into(),
                subject: "s".into(),
                notify_url: "http://127.0.0.1:1/n".into(),
                return_url: String::new(),
                site_name: None,
                order_ref: None,
                expires_at: None,
            },
            || "p1".into(),
        );
        assert!(matches!(created, Ok(Created::New(_))), "{created:?}");
        let now = OffsetDateTime::now_utc();
        assert_eq!(store.pay_as("p1", "alice", || "t1".into(), now), Ok(true));
        assert_eq!(store.pay_as("p1", "mallory", || "t2".into(), now), Ok(false));
        let n = store
            .payment("p1")
            .ok()
            .and_then(|p| p.notification("n1".into(), now))
            .unwrap_or_else(|| panic!("a paid payment notifies"));
        assert_eq!(n.payer_id.as_deref(), Some("alice"));
        // The field travels in the signed JSON, and older notifications without it still parse.
        let json = serde_json::to_string(&n).unwrap_or_default();
        assert!(json.contains(r#""payer_id":"alice""#), "{json}");
        let old: Notification =
            serde_json::from_str(&json.replace(r#","payer_id":"alice""#, "")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(old.payer_id, None);
    }
}
