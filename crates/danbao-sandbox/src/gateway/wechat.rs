//! The gateway's WeChat Pay API v3 personality (直连商户, Native), speaking the wire format
//! byte for byte (`danbao_rails::wechat`, the gateway's side of it):
//!
//! - every request must carry the merchant's `Authorization: WECHATPAY2-SHA256-RSA2048 …`,
//!   checked with the merchant's public key (given by config) over the method, the path
//!   (relative to `/wechat`, as the merchant signs it relative to the API base), the body,
//!   the nonce and a timestamp within five minutes of the gateway's wall clock;
//! - every answer is signed with the gateway's platform key in the `Wechatpay-*` headers,
//!   and so is every notification: a POST of the transaction, encrypted with
//!   AEAD_AES_256_GCM under the merchant's APIv3 key, acknowledged by a 200 or 204;
//! - `POST /v3/pay/transactions/native` opens a payment on the sandbox's own books and
//!   answers a `code_url` as WeChat Pay words it, `weixin://wxpay/bizpayurl?pr=<id>`: the
//!   merchant shows it as a QR code; "scanning" it is opening the sandbox's cashier for
//!   payment `<id>` (`/cashier/<id>`), where the buyer presses Pay;
//! - `GET /v3/pay/transactions/out-trade-no/{no}` answers the transaction;
//! - `POST /v3/refund/domestic/refunds` refunds once per `out_refund_no` (answered
//!   `PROCESSING`, as WeChat Pay mostly does), `GET …/refunds/{out_refund_no}` answers it
//!   `SUCCESS`;
//! - `GET /v3/bill/tradebill` answers where to download the day's bill (China days) and its
//!   SHA-1; the bill is kept as it was when asked for, so the hash stays true while it is
//!   downloaded.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use danbao_domain::Money;
use danbao_rails::rsa_sha256::{SigningKey, VerifyingKey};
use danbao_rails::wechat::{
    self, ApiV3Key, Authorization, BillAnswer, BillLine, ErrorAnswer, Headers, KeyRing, NativeAnswer, NativeOrder,
    Payer, Refund, RefundAmount, RefundRequest, Transaction, TransactionAmount,
};
use rand::distributions::{Alphanumeric, DistString};
use reqwest::header::CONTENT_TYPE;
use time::OffsetDateTime;

use super::state::{Created, GatewayError, Payment, PaymentRail, PaymentStatus, Store};
use super::{lock, new_payment_id, new_refund_id, Sandbox};
use crate::wire::{CreatePayment, Notification, RefundView};

/// The merchant a WeChat Pay personality serves: its numbers, the public key of its API
/// certificate (its requests are checked with it), its APIv3 key (notifications are
/// encrypted with it), and the platform key the gateway signs with (none: one is made at
/// start, and [`Sandbox::wechat_platform_public_key`] tells it).
#[derive(Clone)]
pub struct WechatMerchant {
    pub mchid: String,
    pub appid: String,
    pub merchant_serial_no: String,
    pub merchant_public_key: VerifyingKey,
    pub api_v3_key: ApiV3Key,
    pub platform_serial_no: String,
    pub platform_key: Option<Arc<SigningKey>>,
}

impl std::fmt::Debug for WechatMerchant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WechatMerchant")
            .field("mchid", &self.mchid)
            .field("appid", &self.appid)
            .field("merchant_serial_no", &self.merchant_serial_no)
            .field("platform_serial_no", &self.platform_serial_no)
            .field("keys", &"[redacted]")
            .finish()
    }
}

/// How many bills asked for are kept for download: a reconciliation asks for at most 32
/// days, one after the other, and downloads each at once.
const BILLS_KEPT_MAX: usize = 64;
/// `associated_data` of a payment notification's resource, as WeChat Pay sends it.
const ASSOCIATED_DATA: &str = "transaction";

/// The personality as it runs: the merchant, the platform key it signs with, and the
/// bills answered but perhaps not yet downloaded.
pub(crate) struct WechatGateway {
    merchant: WechatMerchant,
    merchant_keys: KeyRing,
    platform_key: Arc<SigningKey>,
    bills: Mutex<VecDeque<(String, Vec<u8>)>>,
}

impl WechatGateway {
    /// None when no platform key was given and none could be made (logged).
    pub(crate) fn new(merchant: WechatMerchant) -> Option<WechatGateway> {
        let platform_key = match merchant.platform_key.clone() {
            Some(key) => key,
            None => match SigningKey::generate() {
                Ok((key, _pem)) => Arc::new(key),
                Err(e) => {
                    tracing::error!(error = %e, "could not make the WeChat Pay platform key; that personality is off");
                    return None;
                }
            },
        };
        Some(WechatGateway {
            merchant_keys: KeyRing::new().with(&merchant.merchant_serial_no, merchant.merchant_public_key.clone()),
            merchant,
            platform_key,
            bills: Mutex::new(VecDeque::new()),
        })
    }

    pub(crate) fn platform_public_key(&self) -> VerifyingKey {
        self.platform_key.verifying_key()
    }

    fn rail(&self) -> PaymentRail {
        PaymentRail::Wechat {
            mchid: self.merchant.mchid.clone(),
            appid: self.merchant.appid.clone(),
        }
    }

    fn ours(&self, p: &Payment) -> bool {
        p.rail == self.rail()
    }

    /// The headers that sign `body` as the platform, now.
    fn sign(&self, body: &[u8]) -> Result<Headers, wechat::WechatError> {
        Headers::sign(
            &self.platform_key,
            &self.merchant.platform_serial_no,
            OffsetDateTime::now_utc().unix_timestamp(),
            &Alphanumeric.sample_string(&mut rand::thread_rng(), 32),
            body,
        )
    }

    /// An answer as WeChat Pay sends one: JSON, signed.
    fn answer(&self, status: StatusCode, body: String) -> Response {
        let headers = match self.sign(body.as_bytes()) {
            Ok(h) => h,
            Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, "SYSTEM_ERROR", &e.to_string()),
        };
        let mut response = (status, body).into_response();
        let map = response.headers_mut();
        map.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        for (name, value) in headers.pairs() {
            if let Ok(value) = HeaderValue::from_str(&value) {
                map.insert(name, value);
            }
        }
        response
    }

    /// The transaction as WeChat Pay describes it.
    fn transaction(&self, p: &Payment) -> Transaction {
        let mut t = Transaction {
            appid: self.merchant.appid.clone(),
            mchid: self.merchant.mchid.clone(),
            out_trade_no: p.out_trade_no.clone(),
            transaction_id: None,
            trade_type: Some(wechat::TRADE_TYPE_NATIVE.to_owned()),
            trade_state: "NOTPAY".to_owned(),
            trade_state_desc: "订单未支付".to_owned(),
            bank_type: None,
            attach: None,
            success_time: None,
            payer: None,
            amount: TransactionAmount {
                total: p.amount_minor,
                payer_total: None,
                currency: wechat::CURRENCY_CNY.to_owned(),
                payer_currency: None,
            },
        };
        if let PaymentStatus::Succeeded {
            trade_no,
            paid_at,
            payer_id,
        } = &p.status
        {
            let refunded = p.refunded_minor > 0;
            t.trade_state = if refunded {
                wechat::TRADE_STATE_REFUND
            } else {
                wechat::TRADE_STATE_SUCCESS
            }
            .to_owned();
            t.trade_state_desc = if refunded { "转入退款" } else { "支付成功" }.to_owned();
            paid_facts(&mut t, trade_no, *paid_at, payer_id);
        }
        t
    }
}

fn paid_facts(t: &mut Transaction, trade_no: &str, paid_at: OffsetDateTime, payer_id: &str) {
    t.transaction_id = Some(trade_no.to_owned());
    t.bank_type = Some("OTHERS".to_owned());
    t.success_time = Some(beijing_rfc3339(paid_at));
    t.payer = Some(Payer {
        openid: payer_id.to_owned(),
    });
    t.amount.payer_total = Some(t.amount.total);
    t.amount.payer_currency = Some(wechat::CURRENCY_CNY.to_owned());
}

/// `2026-12-02T16:30:00+08:00`, as WeChat Pay writes times.
fn beijing_rfc3339(t: OffsetDateTime) -> String {
    format!("{}+08:00", super::epay::china_time(t).replacen(' ', "T", 1))
}

/// `{code, message}` with a status: how WeChat Pay refuses (left unsigned: a refusal
/// changes nothing for the merchant, who reads it either way).
fn error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = ErrorAnswer {
        code: code.to_owned(),
        message: message.to_owned(),
    }
    .to_json();
    (
        status,
        [(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
        body,
    )
        .into_response()
}

fn gateway(sb: &Sandbox) -> Option<&WechatGateway> {
    sb.inner.wechat.as_ref()
}

/// The path and query as the merchant signed it: relative to the personality's root
/// (`/wechat`), as a merchant signs relative to its API base.
fn signed_path(uri: &Uri) -> String {
    let pq = uri.path_and_query().map_or_else(|| uri.path(), |pq| pq.as_str());
    pq.strip_prefix("/wechat").unwrap_or(pq).to_owned()
}

/// A request refused before it is read: its status, WeChat Pay's code and a message.
pub(super) struct Refusal(StatusCode, &'static str, String);

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        error(self.0, self.1, &self.2)
    }
}

/// Checks a request as WeChat Pay does before reading it: the gateway is up, the
/// merchant's Authorization verifies over this method, path and body.
fn authorized<'a>(
    sb: &'a Sandbox,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(&'a WechatGateway, Authorization), Refusal> {
    let gw = gateway(sb).ok_or_else(|| Refusal(StatusCode::NOT_FOUND, "MCH_NOT_EXISTS", "商户号不存在".into()))?;
    if sb.faults().down {
        return Err(Refusal(
            StatusCode::SERVICE_UNAVAILABLE,
            "SYSTEM_ERROR",
            "系统繁忙，请稍后重试".into(),
        ));
    }
    let value = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| Refusal(StatusCode::UNAUTHORIZED, "SIGN_ERROR", "缺少 Authorization".into()))?;
    let body = std::str::from_utf8(body)
        .map_err(|_| Refusal(StatusCode::BAD_REQUEST, "PARAM_ERROR", "body 不是 UTF-8".into()))?;
    let auth =
        Authorization::parse(value).map_err(|e| Refusal(StatusCode::UNAUTHORIZED, "SIGN_ERROR", e.to_string()))?;
    auth.verify(
        &gw.merchant.mchid,
        &gw.merchant_keys,
        method.as_str(),
        &signed_path(uri),
        body,
        OffsetDateTime::now_utc().unix_timestamp(),
    )
    .map_err(|e| {
        tracing::warn!(error = %e, path = %uri.path(), "WeChat Pay request with a bad Authorization");
        Refusal(StatusCode::UNAUTHORIZED, "SIGN_ERROR", e.to_string())
    })?;
    Ok((gw, auth))
}

/// `POST /v3/pay/transactions/native`.
pub(super) async fn native(
    State(sb): State<Sandbox>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (gw, auth) = match authorized(&sb, &method, &uri, &headers, &body) {
        Ok(ok) => ok,
        Err(r) => return r.into_response(),
    };
    let order = match NativeOrder::read(&body, &auth) {
        Ok(o) => o,
        Err(e) => return error(StatusCode::BAD_REQUEST, "PARAM_ERROR", &e.to_string()),
    };
    if order.appid != gw.merchant.appid {
        return error(StatusCode::BAD_REQUEST, "APPID_MCHID_NOT_MATCH", "appid和mch_id不匹配");
    }
    let create = CreatePayment {
        out_trade_no: order.out_trade_no.clone(),
        amount_minor: order.amount.total,
        currency: order.amount.currency.clone(),
        subject: order.description.clone(),
        notify_url: order.notify_url.clone(),
        return_url: String::new(),
        site_name: None,
        order_ref: None,
        expires_at: order.time_expire.clone(),
    };
    let created = sb.store().create_payment_on(create, gw.rail(), new_payment_id);
    match created {
        Ok(Created::New(id) | Created::Existing(id)) => {
            let code_url = format!("{}{id}", crate::wire::WECHAT_CODE_URL_PREFIX);
            gw.answer(StatusCode::OK, NativeAnswer { code_url }.to_json())
        }
        Err(GatewayError::OutTradeNoConflict) => error(StatusCode::BAD_REQUEST, "OUT_TRADE_NO_USED", "商户订单号重复"),
        Err(e) => error(StatusCode::BAD_REQUEST, "PARAM_ERROR", &format!("{e:?}")),
    }
}

/// This merchant's payment with this `out_trade_no`.
fn find<'a>(store: &'a Store, gw: &WechatGateway, out_trade_no: &str) -> Option<&'a Payment> {
    store.by_out_trade_no(out_trade_no).into_iter().find(|p| gw.ours(p))
}

#[derive(serde::Deserialize)]
pub(super) struct MchidQuery {
    mchid: String,
}

/// `GET /v3/pay/transactions/out-trade-no/{out_trade_no}?mchid=…`.
pub(super) async fn query(
    State(sb): State<Sandbox>,
    Path(out_trade_no): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let (gw, _) = match authorized(&sb, &method, &uri, &headers, b"") {
        Ok(ok) => ok,
        Err(r) => return r.into_response(),
    };
    let ours = axum::extract::Query::<MchidQuery>::try_from_uri(&uri).is_ok_and(|q| q.0.mchid == gw.merchant.mchid);
    if !ours {
        return error(StatusCode::BAD_REQUEST, "PARAM_ERROR", "mchid 不正确");
    }
    let transaction = find(&sb.store(), gw, &out_trade_no).map(|p| gw.transaction(p));
    match transaction {
        Some(t) => gw.answer(StatusCode::OK, t.to_json()),
        None => error(StatusCode::NOT_FOUND, "ORDER_NOT_EXIST", "订单不存在"),
    }
}

/// A refund as WeChat Pay answers it (`view.request_id` is the merchant's `out_refund_no`).
fn refund_of(p: &Payment, view: &RefundView, status: &str) -> Refund {
    let trade_no = match &p.status {
        PaymentStatus::Succeeded { trade_no, .. } => trade_no.clone(),
        PaymentStatus::Created => String::new(),
    };
    let refund_minor = view.amount_minor;
    Refund {
        refund_id: view.refund_id.clone(),
        out_refund_no: view.request_id.clone(),
        transaction_id: trade_no,
        out_trade_no: p.out_trade_no.clone(),
        channel: Some("ORIGINAL".to_owned()),
        user_received_account: Some("支付用户零钱".to_owned()),
        success_time: (status == "SUCCESS").then(|| beijing_rfc3339(OffsetDateTime::now_utc())),
        create_time: Some(beijing_rfc3339(OffsetDateTime::now_utc())),
        status: status.to_owned(),
        amount: RefundAmount {
            total: p.amount_minor,
            refund: refund_minor,
            payer_total: Some(p.amount_minor),
            payer_refund: Some(refund_minor),
            settlement_refund: Some(refund_minor),
            settlement_total: Some(p.amount_minor),
            discount_refund: Some(0),
            currency: wechat::CURRENCY_CNY.to_owned(),
        },
    }
}

/// `POST /v3/refund/domestic/refunds`: once per `out_refund_no`.
pub(super) async fn refund(
    State(sb): State<Sandbox>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (gw, _) = match authorized(&sb, &method, &uri, &headers, &body) {
        Ok(ok) => ok,
        Err(r) => return r.into_response(),
    };
    let req = match RefundRequest::read(&body) {
        Ok(r) => r,
        Err(e) => return error(StatusCode::BAD_REQUEST, "PARAM_ERROR", &e.to_string()),
    };
    let mut store = sb.store();
    let Some(payment) = find(&store, gw, &req.out_trade_no).cloned() else {
        return error(StatusCode::NOT_FOUND, "RESOURCE_NOT_EXISTS", "订单不存在");
    };
    if payment.amount_minor != req.amount.total {
        return error(StatusCode::BAD_REQUEST, "PARAM_ERROR", "订单金额与原订单不一致");
    }
    let done = store.refund(
        &crate::wire::RefundRequest {
            payment_id: payment.payment_id.clone(),
            amount_minor: req.amount.refund,
            request_id: req.out_refund_no.clone(),
        },
        new_refund_id,
    );
    match done {
        Ok(view) => {
            let paid = store.payment(&payment.payment_id).map_or(payment.clone(), Clone::clone);
            drop(store);
            gw.answer(StatusCode::OK, refund_of(&paid, &view, "PROCESSING").to_json())
        }
        Err(GatewayError::NotPaid) => error(StatusCode::BAD_REQUEST, "TRADE_NOT_PAID", "订单未支付"),
        Err(GatewayError::RefundExceedsPayment) => error(StatusCode::FORBIDDEN, "NOT_ENOUGH", "可退金额不足"),
        Err(GatewayError::RefundRequestConflict) => {
            error(StatusCode::BAD_REQUEST, "INVALID_REQUEST", "退款单号已用于另一笔退款")
        }
        Err(e) => error(StatusCode::BAD_REQUEST, "PARAM_ERROR", &format!("{e:?}")),
    }
}

/// `GET /v3/refund/domestic/refunds/{out_refund_no}`: done, as the sandbox settles at once.
pub(super) async fn refund_query(
    State(sb): State<Sandbox>,
    Path(out_refund_no): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let (gw, _) = match authorized(&sb, &method, &uri, &headers, b"") {
        Ok(ok) => ok,
        Err(r) => return r.into_response(),
    };
    let answer = {
        let store = sb.store();
        store
            .refund_by_request_id(&out_refund_no)
            .ok()
            .and_then(|r| Some((r, store.payment(&r.payment_id).ok()?)))
            .filter(|(_, p)| gw.ours(p))
            .map(|(r, p)| refund_of(p, r, "SUCCESS"))
    };
    match answer {
        Some(r) => gw.answer(StatusCode::OK, r.to_json()),
        None => error(StatusCode::NOT_FOUND, "RESOURCE_NOT_EXISTS", "退款单不存在"),
    }
}

#[derive(serde::Deserialize)]
pub(super) struct BillQuery {
    bill_date: String,
    #[serde(default)]
    bill_type: Option<String>,
}

/// `GET /v3/bill/tradebill?bill_date=…&bill_type=ALL`: the day's bill (China days) is
/// written now and kept for download.
pub(super) async fn trade_bill(State(sb): State<Sandbox>, method: Method, uri: Uri, headers: HeaderMap) -> Response {
    let (gw, _) = match authorized(&sb, &method, &uri, &headers, b"") {
        Ok(ok) => ok,
        Err(r) => return r.into_response(),
    };
    let Ok(axum::extract::Query(q)) = axum::extract::Query::<BillQuery>::try_from_uri(&uri) else {
        return error(StatusCode::BAD_REQUEST, "PARAM_ERROR", "bill_date 不正确");
    };
    let valid_date = q.bill_date.len() == 10
        && q.bill_date.bytes().enumerate().all(|(i, b)| match i {
            4 | 7 => b == b'-',
            _ => b.is_ascii_digit(),
        });
    if !valid_date || q.bill_type.as_deref().is_some_and(|t| t != "ALL" && t != "SUCCESS") {
        return error(StatusCode::BAD_REQUEST, "PARAM_ERROR", "bill_date 或 bill_type 不正确");
    }
    let lines: Vec<BillLine> = {
        let store = sb.store();
        let mut paid: Vec<(OffsetDateTime, BillLine)> = store
            .all_payments()
            .filter(|p| gw.ours(p))
            .filter_map(|p| match &p.status {
                PaymentStatus::Succeeded {
                    trade_no,
                    paid_at,
                    payer_id,
                } => {
                    let time = super::epay::china_time(*paid_at);
                    time.starts_with(&q.bill_date).then(|| {
                        (
                            *paid_at,
                            BillLine {
                                time,
                                appid: gw.merchant.appid.clone(),
                                mchid: gw.merchant.mchid.clone(),
                                transaction_id: trade_no.clone(),
                                out_trade_no: p.out_trade_no.clone(),
                                openid: payer_id.clone(),
                                total: Money::from_minor(p.amount_minor),
                                description: p.subject.clone(),
                            },
                        )
                    })
                }
                PaymentStatus::Created => None,
            })
            .collect();
        paid.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.transaction_id.cmp(&b.1.transaction_id)));
        paid.into_iter().map(|(_, l)| l).collect()
    };
    let bill = match wechat::write_trade_bill(&lines) {
        Ok(b) => b.into_bytes(),
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, "SYSTEM_ERROR", &e.to_string()),
    };
    let token = uuid::Uuid::now_v7().simple().to_string();
    let download_url = format!("{}/wechat/v3/billdownload/file?token={token}", sb.public_base_url());
    let answer = BillAnswer::for_bill(&bill, &download_url);
    {
        let mut bills = lock(&gw.bills);
        if bills.len() >= BILLS_KEPT_MAX {
            bills.pop_front();
        }
        bills.push_back((token, bill));
    }
    gw.answer(StatusCode::OK, answer.to_json())
}

#[derive(serde::Deserialize)]
pub(super) struct TokenQuery {
    token: String,
}

/// `GET /v3/billdownload/file?token=…`: the bill's bytes, unsigned (its hash checks it).
pub(super) async fn bill_download(State(sb): State<Sandbox>, method: Method, uri: Uri, headers: HeaderMap) -> Response {
    let (gw, _) = match authorized(&sb, &method, &uri, &headers, b"") {
        Ok(ok) => ok,
        Err(r) => return r.into_response(),
    };
    let Ok(axum::extract::Query(q)) = axum::extract::Query::<TokenQuery>::try_from_uri(&uri) else {
        return error(StatusCode::BAD_REQUEST, "PARAM_ERROR", "token 不正确");
    };
    let bill = lock(&gw.bills)
        .iter()
        .find(|(t, _)| *t == q.token)
        .map(|(_, b)| b.clone());
    match bill {
        Some(bytes) => (
            StatusCode::OK,
            [(CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"))],
            bytes,
        )
            .into_response(),
        None => error(StatusCode::NOT_FOUND, "NO_STATEMENT_EXIST", "账单文件不存在"),
    }
}

/// WeChat Pay's POST to the merchant's `notify_url`: the transaction (its amount as the
/// fault knobs left it: a lying gateway signs the lie) encrypted under the APIv3 key,
/// the body signed with the platform key at the gateway's wall clock.
pub(super) fn notification_request(
    sandbox: &Sandbox,
    notification: &Notification,
    notify_url: &str,
) -> Result<reqwest::RequestBuilder, String> {
    let gw = gateway(sandbox).ok_or("no WeChat Pay merchant configured")?;
    let paid_at = time::OffsetDateTime::parse(&notification.paid_at, &time::format_description::well_known::Rfc3339)
        .map_err(|e| format!("paid_at: {e}"))?;
    let mut transaction = Transaction {
        appid: gw.merchant.appid.clone(),
        mchid: gw.merchant.mchid.clone(),
        out_trade_no: notification.out_trade_no.clone(),
        transaction_id: None,
        trade_type: Some(wechat::TRADE_TYPE_NATIVE.to_owned()),
        trade_state: wechat::TRADE_STATE_SUCCESS.to_owned(),
        trade_state_desc: "支付成功".to_owned(),
        bank_type: None,
        attach: None,
        success_time: None,
        payer: None,
        amount: TransactionAmount {
            total: notification.amount_minor,
            payer_total: None,
            currency: wechat::CURRENCY_CNY.to_owned(),
            payer_currency: None,
        },
    };
    paid_facts(
        &mut transaction,
        &notification.trade_no,
        paid_at,
        notification.payer_id.as_deref().unwrap_or(crate::wire::DEFAULT_PAYER),
    );
    let mut rng = rand::thread_rng();
    let body = wechat::Notification::for_transaction(
        &notification.notify_id,
        &beijing_rfc3339(OffsetDateTime::now_utc()),
        &transaction,
        &gw.merchant.api_v3_key,
        &Alphanumeric.sample_string(&mut rng, 12),
        ASSOCIATED_DATA,
    )
    .map_err(|e| e.to_string())?
    .to_json();
    let headers = gw.sign(body.as_bytes()).map_err(|e| e.to_string())?;
    let mut request = sandbox
        .inner
        .http
        .post(notify_url)
        .header(CONTENT_TYPE, "application/json");
    for (name, value) in headers.pairs() {
        request = request.header(name, value);
    }
    Ok(request.body(body))
}
