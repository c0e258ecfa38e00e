//! The gateway's 易支付 V2 personality (the RSA API of 彩虹易支付), speaking
//! `danbao_rails::epay_v2` byte for byte from the platform's side: a merchant with RSA
//! keys opens a payment with `api/pay/create` (its form signed SHA256withRSA with the
//! merchant's private key, checked here against its public key) and is answered with a
//! signed JSON `pay_type=jump` and the address of the sandbox's cashier; the payment
//! notification is a GET to the merchant's `notify_url` whose query string the platform
//! signs with its own private key (see `notify.rs`), acknowledged `success`;
//! `api/pay/query`, `api/pay/refund` and `api/pay/refundquery` answer signed JSON, or an
//! unsigned `{"code":-1,"msg":…}` refusal.
//!
//! Unlike V1, a refund carries the merchant's `out_refund_no`: the same number asked again
//! is the same refund (answered again, never refunded twice), whatever the amount of the
//! first one, so partial refunds are safe to retry.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use danbao_domain::Money;
use danbao_rails::epay::Params;
use danbao_rails::epay_v2::{
    self, CreateAnswer, CreateRequest, Epay2Error, Method, Notification, OrderRef, PayType, QueryAnswer, QueryRequest,
    RefundAnswer, RefundQueryAnswer, RefundQueryRequest, RefundRef, RefundRequest, RefundStatus,
};
use danbao_rails::rsa_sha256::{SigningKey, VerifyingKey};
use time::OffsetDateTime;

use super::epay::china_time;
use super::state::{Created, GatewayError, Payment, PaymentRail, PaymentStatus, Store};
use super::{new_payment_id, new_refund_id, Sandbox};
use crate::wire::CreatePayment;

/// The RSA merchant the V2 personality serves: its `pid` and public key (what its requests
/// are checked against), and the platform's own private key (what answers and notifications
/// are signed with). Without a platform key the gateway makes one when it starts.
#[derive(Clone)]
pub struct EpayV2Merchant {
    pub pid: String,
    pub merchant_public_key: VerifyingKey,
    pub platform_key: Option<Arc<SigningKey>>,
}

impl std::fmt::Debug for EpayV2Merchant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EpayV2Merchant")
            .field("pid", &self.pid)
            .field("merchant_public_key", &self.merchant_public_key)
            .field("platform_key", &self.platform_key.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

/// The V2 merchant as the running gateway holds it: the platform key always there.
pub(crate) struct V2 {
    pub(crate) pid: String,
    pub(crate) merchant_public_key: VerifyingKey,
    pub(crate) platform_key: Arc<SigningKey>,
}

impl V2 {
    /// The configured merchant, with a platform key made now when none was given.
    pub(crate) fn start(m: EpayV2Merchant) -> Result<V2, String> {
        let platform_key = match m.platform_key {
            Some(k) => k,
            None => {
                let (key, _pem) = SigningKey::generate().map_err(|e| e.to_string())?;
                tracing::info!("易支付 V2: generated the platform's RSA key for this run");
                Arc::new(key)
            }
        };
        Ok(V2 {
            pid: m.pid,
            merchant_public_key: m.merchant_public_key,
            platform_key,
        })
    }
}

fn merchant(sb: &Sandbox) -> Option<&V2> {
    sb.inner.epay_v2.as_ref()
}

/// Unix seconds of the gateway's clock (real time, like any outside platform).
fn now_s() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

/// The platform's refusal (`echojsonmsg`): unsigned, `code` -1. Real platforms answer
/// it with status 200.
fn refusal(msg: &str) -> Response {
    json_answer(epay_v2::refusal_json(-1, msg))
}

fn json_answer(body: String) -> Response {
    (
        StatusCode::OK,
        [("content-type", "application/json; charset=utf-8")],
        body,
    )
        .into_response()
}

fn signed_answer(result: Result<String, Epay2Error>) -> Response {
    match result {
        Ok(body) => json_answer(body),
        Err(e) => {
            tracing::error!(error = %e, "易支付 V2: could not sign an answer");
            (StatusCode::INTERNAL_SERVER_ERROR, "could not sign").into_response()
        }
    }
}

/// Reads a merchant's form: the gateway up, the form readable, for our merchant, and
/// signed with its key within the timestamp window (checked by `read`). The refusal is
/// the answer to send (boxed: a response is large next to the form).
fn form_of<'a>(sb: &'a Sandbox, body: &[u8]) -> Result<(&'a V2, Params), Box<Response>> {
    if sb.faults().down {
        return Err(Box::new(
            (StatusCode::SERVICE_UNAVAILABLE, "gateway down").into_response(),
        ));
    }
    let Some(m) = merchant(sb) else {
        return Err(Box::new(refusal("this gateway has no 易支付 V2 merchant")));
    };
    let text = std::str::from_utf8(body).map_err(|_| Box::new(refusal("请求不是 UTF-8")))?;
    let form = epay_v2::read_form(text).map_err(|e| Box::new(refusal(&e.to_string())))?;
    if epay_v2::form_pid(&form) != Some(m.pid.as_str()) {
        return Err(Box::new(refusal("商户不存在")));
    }
    Ok((m, form))
}

fn bad_request(e: &Epay2Error) -> Response {
    tracing::warn!(error = %e, "易支付 V2: refused a merchant request");
    match e {
        Epay2Error::BadSignature | Epay2Error::WrongSignType(_) => refusal("签名校验失败"),
        Epay2Error::StaleTimestamp { .. } | Epay2Error::BadTimestamp(_) => refusal("时间戳不正确"),
        other => refusal(&other.to_string()),
    }
}

/// `POST api/pay/create`: opens (or finds again) the payment and answers where to send the
/// buyer: the sandbox's cashier, as a jump URL.
pub(super) async fn create(State(sb): State<Sandbox>, body: Bytes) -> Response {
    let (m, form) = match form_of(&sb, &body) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let req = match CreateRequest::read(&form, &m.merchant_public_key, now_s()) {
        Ok(r) => r,
        Err(e) => return bad_request(&e),
    };
    if !matches!(req.method, Method::Web | Method::Jump) {
        return refusal("该接口类型不支持");
    }
    let create = CreatePayment {
        out_trade_no: req.out_trade_no,
        amount_minor: req.money.minor(),
        currency: epay_v2::CURRENCY_CNY.to_owned(),
        subject: req.name,
        notify_url: req.notify_url,
        return_url: req.return_url,
        site_name: None,
        order_ref: None,
        expires_at: None,
    };
    let rail = PaymentRail::EpayV2 {
        pid: req.pid,
        pay_type: req.pay_type,
        param: req.param,
    };
    let id = match sb.store().create_payment_on(create, rail, new_payment_id) {
        Ok(Created::New(id) | Created::Existing(id)) => id,
        Err(GatewayError::OutTradeNoConflict) => return refusal("订单号已存在"),
        Err(e) => return refusal(&format!("{e:?}")),
    };
    let answer = CreateAnswer {
        // The platform numbers the order when it opens it; the sandbox's payment id is
        // that number, and paying the payment keeps it as the trade number.
        trade_no: id.clone(),
        pay_type: PayType::Jump,
        pay_info: format!("{}/cashier/{id}", sb.public_base_url()),
    };
    signed_answer(answer.to_json(&m.platform_key, now_s()))
}

/// The payment an order reference names, if it is one of this V2 merchant's.
fn find<'a>(store: &'a Store, order: &OrderRef, pid: &str) -> Option<&'a Payment> {
    let ours = |p: &&Payment| matches!(&p.rail, PaymentRail::EpayV2 { pid: theirs, .. } if theirs == pid);
    match order {
        OrderRef::OutTradeNo(out) => store.by_out_trade_no(out).into_iter().find(ours),
        OrderRef::TradeNo(trade_no) => store
            .all_payments()
            .find(|p| matches!(&p.status, PaymentStatus::Succeeded { trade_no: t, .. } if t == trade_no))
            .filter(ours),
    }
}

/// The facts of a payment as the platform repeats them (a notification, a query answer).
fn payment_facts(p: &Payment, pid: &str) -> epay_v2::Payment {
    let (pay_type, param) = match &p.rail {
        PaymentRail::EpayV2 { pay_type, param, .. } => (pay_type.clone(), param.clone()),
        _ => (String::new(), None),
    };
    let (trade_no, buyer) = match &p.status {
        PaymentStatus::Succeeded { trade_no, payer_id, .. } => (trade_no.clone(), Some(payer_id.clone())),
        PaymentStatus::Created => (String::new(), None),
    };
    epay_v2::Payment {
        pid: pid.to_owned(),
        api_trade_no: (!trade_no.is_empty()).then(|| format!("api_{trade_no}")),
        trade_no,
        out_trade_no: p.out_trade_no.clone(),
        pay_type,
        name: p.subject.clone(),
        money: Money::from_minor(p.amount_minor),
        buyer,
        param,
    }
}

/// `POST api/pay/query`: one order, signed. Status 1 while paid (with `refundmoney` once
/// part of it is refunded), 2 once refunded whole, 0 unpaid.
pub(super) async fn query(State(sb): State<Sandbox>, body: Bytes) -> Response {
    let (m, form) = match form_of(&sb, &body) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let req = match QueryRequest::read(&form, &m.merchant_public_key, now_s()) {
        Ok(r) => r,
        Err(e) => return bad_request(&e),
    };
    let answer = {
        let store = sb.store();
        let Some(p) = find(&store, &req.order, &m.pid) else {
            return refusal("订单号不存在");
        };
        let (status, endtime) = match &p.status {
            PaymentStatus::Created => (epay_v2::ORDER_UNPAID, None),
            PaymentStatus::Succeeded { paid_at, .. } if p.refunded_minor >= p.amount_minor => {
                (epay_v2::ORDER_REFUNDED, Some(china_time(*paid_at)))
            }
            PaymentStatus::Succeeded { paid_at, .. } => (epay_v2::ORDER_PAID, Some(china_time(*paid_at))),
        };
        QueryAnswer {
            payment: payment_facts(p, &m.pid),
            status,
            addtime: None,
            endtime,
            clientip: None,
            refundmoney: (p.refunded_minor > 0).then(|| Money::from_minor(p.refunded_minor)),
        }
    };
    signed_answer(answer.to_json(&m.platform_key, now_s()))
}

/// The gateway's own refund key for a merchant's `out_refund_no`: refunds of every rail
/// share one book, so the merchant's number is kept under its rail and merchant.
fn refund_key(pid: &str, out_refund_no: &str) -> String {
    format!("epay2:{pid}:{out_refund_no}")
}

/// `POST api/pay/refund`: money back, whole or in part, once per `out_refund_no`.
pub(super) async fn refund(State(sb): State<Sandbox>, body: Bytes) -> Response {
    let (m, form) = match form_of(&sb, &body) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let req = match RefundRequest::read(&form, &m.merchant_public_key, now_s()) {
        Ok(r) => r,
        Err(e) => return bad_request(&e),
    };
    if req.out_refund_no.len() < epay_v2::OUT_REFUND_NO_MIN_BYTES {
        return refusal("退款单号长度不正确");
    }
    let mut store = sb.store();
    let Some((payment_id, trade_no, out_trade_no)) = find(&store, &req.order, &m.pid).map(|p| {
        let trade_no = match &p.status {
            PaymentStatus::Succeeded { trade_no, .. } => trade_no.clone(),
            PaymentStatus::Created => String::new(),
        };
        (p.payment_id.clone(), trade_no, p.out_trade_no.clone())
    }) else {
        return refusal("订单号不存在");
    };
    let key = refund_key(&m.pid, &req.out_refund_no);
    // A retried `out_refund_no` is the refund it named, answered again.
    if let Ok(existing) = store.refund_by_request_id(&key) {
        if existing.payment_id != payment_id || existing.amount_minor != req.money.minor() {
            return refusal("退款单号已存在");
        }
    }
    let view = match store.refund(
        &crate::wire::RefundRequest {
            payment_id,
            amount_minor: req.money.minor(),
            request_id: key,
        },
        new_refund_id,
    ) {
        Ok(v) => v,
        Err(GatewayError::RefundExceedsPayment) => return refusal("退款金额大于订单剩余可退金额"),
        Err(GatewayError::NotPaid) => return refusal("订单未支付"),
        Err(e) => return refusal(&format!("{e:?}")),
    };
    drop(store);
    tracing::info!(refund_no = %view.refund_id, out_refund_no = %req.out_refund_no, "易支付 V2 refund");
    let answer = RefundAnswer {
        refund_no: view.refund_id,
        out_refund_no: req.out_refund_no,
        trade_no,
        out_trade_no: Some(out_trade_no),
        uid: m.pid.clone(),
        money: req.money,
        reducemoney: Some("0.00".to_owned()),
        msg: Some("退款成功".to_owned()),
    };
    signed_answer(answer.to_json(&m.platform_key, now_s()))
}

/// `POST api/pay/refundquery`: whether a refund went through (the sandbox's always did).
pub(super) async fn refund_query(State(sb): State<Sandbox>, body: Bytes) -> Response {
    let (m, form) = match form_of(&sb, &body) {
        Ok(x) => x,
        Err(r) => return *r,
    };
    let req = match RefundQueryRequest::read(&form, &m.merchant_public_key, now_s()) {
        Ok(r) => r,
        Err(e) => return bad_request(&e),
    };
    let answer = {
        let store = sb.store();
        let found = match &req.refund {
            RefundRef::OutRefundNo(n) => store.refund_by_request_id(&refund_key(&m.pid, n)),
            RefundRef::RefundNo(n) => store.refund_by_refund_id(n),
        };
        let prefix = refund_key(&m.pid, "");
        let Some(view) = found.ok().filter(|r| r.request_id.starts_with(&prefix)) else {
            return refusal("退款单号不存在");
        };
        let Ok(p) = store.payment(&view.payment_id) else {
            return refusal("订单号不存在");
        };
        let trade_no = match &p.status {
            PaymentStatus::Succeeded { trade_no, .. } => trade_no.clone(),
            PaymentStatus::Created => String::new(),
        };
        RefundQueryAnswer {
            refund_no: view.refund_id.clone(),
            out_refund_no: view.request_id[prefix.len()..].to_owned(),
            trade_no,
            out_trade_no: Some(p.out_trade_no.clone()),
            uid: m.pid.clone(),
            money: Money::from_minor(view.amount_minor),
            reducemoney: Some("0.00".to_owned()),
            status: if view.status == "succeeded" {
                RefundStatus::Succeeded
            } else {
                RefundStatus::Failed
            },
            addtime: None,
            endtime: None,
        }
    };
    signed_answer(answer.to_json(&m.platform_key, now_s()))
}

/// What a V2 notification repeats of the payment besides the notification's own facts.
pub(super) struct NotifiedPayment {
    pub(super) pid: String,
    pub(super) pay_type: String,
    pub(super) param: Option<String>,
    pub(super) subject: String,
}

/// The platform's GET to the merchant's `notify_url`, its query string signed with the
/// platform's private key and stamped now (a tampered amount signed too: the gateway
/// itself lies).
pub(super) fn notification_request(
    sandbox: &Sandbox,
    paid: NotifiedPayment,
    notification: &crate::wire::Notification,
    notify_url: &str,
) -> Result<reqwest::RequestBuilder, String> {
    let merchant = merchant(sandbox).ok_or("no 易支付 V2 merchant configured")?;
    let query = Notification {
        payment: epay_v2::Payment {
            pid: paid.pid,
            trade_no: notification.trade_no.clone(),
            out_trade_no: notification.out_trade_no.clone(),
            api_trade_no: Some(format!("api_{}", notification.trade_no)),
            pay_type: paid.pay_type,
            name: paid.subject,
            money: Money::from_minor(notification.amount_minor),
            buyer: notification.payer_id.clone(),
            param: paid.param,
        },
        timestamp: now_s(),
    }
    .query(&merchant.platform_key)
    .map_err(|e| e.to_string())?;
    let joiner = if notify_url.contains('?') { '&' } else { '?' };
    Ok(sandbox.inner.http.get(format!("{notify_url}{joiner}{query}")))
}
