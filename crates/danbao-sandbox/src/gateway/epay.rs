//! The gateway's 易支付 (EPay V1) personality, speaking the aggregators' wire format byte
//! for byte (`danbao_rails::epay`): `submit.php` (the buyer's page jump, GET or form POST)
//! and `mapi.php` (API order creation, JSON answer) open a payment on the sandbox's own
//! books and send the buyer to its cashier; the notification is a GET to the merchant's
//! `notify_url` with the MD5-signed query string (see `notify.rs`), acknowledged `success`;
//! `api.php?act=order|orders` answer queries and `act=refund` refunds, authenticated by
//! the merchant key in the request, as the aggregators do.
//!
//! Like a real aggregator's, `act=refund` has no request id: every call that is within the
//! payment's remaining money refunds again. The platform's adapter must guard against
//! repeating one; the simulator does not do it for it.

use axum::body::Bytes;
use axum::extract::{OriginalUri, State};
use axum::http::header::LOCATION;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use danbao_domain::Money;
use danbao_rails::epay::{self, Params, PayRequest};
use serde_json::json;
use subtle::ConstantTimeEq;
use time::OffsetDateTime;

use super::state::{Created, GatewayError, Payment, PaymentRail, PaymentStatus};
use super::{new_payment_id, new_refund_id, Sandbox};
use crate::wire::{CreatePayment, RefundRequest};

/// The merchant an EPay personality serves: its `pid` and MD5 key.
#[derive(Clone)]
pub struct EpayMerchant {
    pub pid: String,
    pub key: String,
}

impl std::fmt::Debug for EpayMerchant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EpayMerchant")
            .field("pid", &self.pid)
            .field("key", &"[redacted]")
            .finish()
    }
}

/// The order list's page size when none is asked, and its largest.
const ORDERS_LIMIT_DEFAULT: usize = 20;
const ORDERS_LIMIT_MAX: usize = 50;

fn merchant(sb: &Sandbox) -> Option<&EpayMerchant> {
    sb.inner.epay.as_ref()
}

/// What an aggregator shows a browser it cannot serve: a plain error page.
fn refused_page(status: StatusCode, why: &str) -> Response {
    (status, [("content-type", "text/plain; charset=utf-8")], why.to_owned()).into_response()
}

fn answer(code: i64, msg: &str) -> Response {
    Json(json!({"code": code, "msg": msg})).into_response()
}

/// Opens (or finds again) the payment a signed pay request asks for.
fn open_payment(sb: &Sandbox, params: &Params) -> Result<String, (StatusCode, String)> {
    let m = merchant(sb).ok_or((StatusCode::NOT_FOUND, "this gateway has no 易支付 merchant".to_owned()))?;
    let req = PayRequest::read(params, &m.key).map_err(|e| (StatusCode::BAD_REQUEST, format!("签名校验失败: {e}")))?;
    if req.pid != m.pid {
        return Err((StatusCode::BAD_REQUEST, "商户不存在".to_owned()));
    }
    let create = CreatePayment {
        out_trade_no: req.out_trade_no,
        amount_minor: req.money.minor(),
        currency: "CNY".to_owned(),
        subject: req.name,
        notify_url: req.notify_url,
        return_url: req.return_url,
        site_name: epay::value(params, "sitename")
            .map(str::to_owned)
            .filter(|s| !s.is_empty()),
        order_ref: None,
        expires_at: None,
    };
    let rail = PaymentRail::Epay {
        pid: req.pid,
        pay_type: req.pay_type,
    };
    match sb.store().create_payment_on(create, rail, new_payment_id) {
        Ok(Created::New(id) | Created::Existing(id)) => Ok(id),
        Err(GatewayError::OutTradeNoConflict) => Err((StatusCode::CONFLICT, "订单号已存在".to_owned())),
        Err(e) => Err((StatusCode::BAD_REQUEST, format!("{e:?}"))),
    }
}

/// `submit.php` by GET (the SDK's `getPayLink`): to the cashier.
pub(super) async fn submit_get(State(sb): State<Sandbox>, OriginalUri(uri): OriginalUri) -> Response {
    submit(&sb, uri.query().unwrap_or_default())
}

/// `submit.php` by form POST (the SDK's `pagePay`): to the cashier.
pub(super) async fn submit_post(State(sb): State<Sandbox>, body: Bytes) -> Response {
    submit(&sb, &String::from_utf8_lossy(&body))
}

fn submit(sb: &Sandbox, text: &str) -> Response {
    let params = match epay::parse_params(text) {
        Ok(p) => p,
        Err(e) => return refused_page(StatusCode::BAD_REQUEST, &e.to_string()),
    };
    match open_payment(sb, &params) {
        Ok(id) => {
            let cashier = format!("{}/cashier/{id}", sb.public_base_url());
            match HeaderValue::from_str(&cashier) {
                Ok(location) => (StatusCode::FOUND, [(LOCATION, location)]).into_response(),
                Err(_) => refused_page(StatusCode::INTERNAL_SERVER_ERROR, "bad cashier address"),
            }
        }
        Err((status, why)) => refused_page(status, &why),
    }
}

/// `mapi.php`: the same, answered in JSON with the cashier's address.
pub(super) async fn mapi(State(sb): State<Sandbox>, body: Bytes) -> Response {
    let params = match epay::parse_params(&String::from_utf8_lossy(&body)) {
        Ok(p) => p,
        Err(e) => return answer(-1, &e.to_string()),
    };
    match open_payment(&sb, &params) {
        Ok(id) => Json(json!({
            "code": 1,
            "msg": "succ",
            "trade_no": id,
            "payurl": format!("{}/cashier/{id}", sb.public_base_url()),
        }))
        .into_response(),
        Err((_, why)) => answer(-1, &why),
    }
}

/// Whether the request carries our merchant's pid and key (compared in constant time).
fn authenticated(sb: &Sandbox, params: &Params) -> bool {
    let Some(m) = merchant(sb) else {
        return false;
    };
    let key = epay::value(params, "key").unwrap_or_default();
    epay::value(params, "pid") == Some(m.pid.as_str()) && bool::from(key.as_bytes().ct_eq(m.key.as_bytes()))
}

/// An order as `api.php` lists it.
fn order_json(p: &Payment, pid: &str) -> serde_json::Value {
    let pay_type = match &p.rail {
        PaymentRail::Epay { pay_type, .. } => pay_type.clone(),
        PaymentRail::Sandbox | PaymentRail::Alipay { .. } | PaymentRail::EpayV2 { .. } | PaymentRail::Wechat { .. } => {
            String::new()
        }
    };
    let (status, trade_no, endtime, buyer) = match &p.status {
        PaymentStatus::Created => (0, String::new(), serde_json::Value::Null, String::new()),
        PaymentStatus::Succeeded {
            trade_no,
            paid_at,
            payer_id,
        } => {
            let status = if p.refunded_minor >= p.amount_minor {
                epay::ORDER_REFUNDED
            } else {
                epay::ORDER_PAID
            };
            (status, trade_no.clone(), json!(china_time(*paid_at)), payer_id.clone())
        }
    };
    json!({
        "trade_no": trade_no,
        "out_trade_no": p.out_trade_no,
        "api_trade_no": trade_no,
        "type": pay_type,
        "pid": pid,
        "addtime": serde_json::Value::Null,
        "endtime": endtime,
        "name": p.subject,
        "money": Money::from_minor(p.amount_minor).to_string(),
        "status": status,
        "param": "",
        "buyer": buyer,
    })
}

/// The aggregators write times in China time, `2016-08-06 22:55:52`.
pub(crate) fn china_time(t: OffsetDateTime) -> String {
    let china = t.to_offset(time::UtcOffset::from_hms(8, 0, 0).unwrap_or(time::UtcOffset::UTC));
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        china.year(),
        u8::from(china.month()),
        china.day(),
        china.hour(),
        china.minute(),
        china.second()
    )
}

/// `api.php` by GET: `act=order` and `act=orders`.
pub(super) async fn api_get(State(sb): State<Sandbox>, OriginalUri(uri): OriginalUri) -> Response {
    api(&sb, uri.query().unwrap_or_default(), "")
}

/// `api.php?act=refund` by form POST (the act in the query, the rest in the body).
pub(super) async fn api_post(State(sb): State<Sandbox>, OriginalUri(uri): OriginalUri, body: Bytes) -> Response {
    api(&sb, uri.query().unwrap_or_default(), &String::from_utf8_lossy(&body))
}

fn api(sb: &Sandbox, query: &str, body: &str) -> Response {
    let mut params = match epay::parse_params(query) {
        Ok(p) => p,
        Err(e) => return answer(-1, &e.to_string()),
    };
    match epay::parse_params(body) {
        Ok(more) => params.extend(more),
        Err(e) => return answer(-1, &e.to_string()),
    }
    if sb.faults().down {
        return (StatusCode::SERVICE_UNAVAILABLE, "gateway down").into_response();
    }
    if !authenticated(sb, &params) {
        return answer(-2, "KEY校验失败");
    }
    let pid = epay::value(&params, "pid").unwrap_or_default().to_owned();
    match epay::value(&params, "act") {
        Some("order") => order(sb, &params, &pid),
        Some("orders") => orders(sb, &params, &pid),
        Some("refund") => refund(sb, &params),
        _ => answer(-1, "act 参数错误"),
    }
}

/// The payment asked about by `out_trade_no` or `trade_no`, if it is this merchant's.
fn find<'a>(store: &'a super::state::Store, params: &Params, pid: &str) -> Option<&'a Payment> {
    let ours = |p: &&Payment| matches!(&p.rail, PaymentRail::Epay { pid: theirs, .. } if theirs == pid);
    if let Some(out) = epay::value(params, "out_trade_no").filter(|s| !s.is_empty()) {
        return store.by_out_trade_no(out).into_iter().find(ours);
    }
    let trade_no = epay::value(params, "trade_no").filter(|s| !s.is_empty())?;
    store
        .all_payments()
        .find(|p| matches!(&p.status, PaymentStatus::Succeeded { trade_no: t, .. } if t == trade_no))
        .filter(ours)
}

fn order(sb: &Sandbox, params: &Params, pid: &str) -> Response {
    let store = sb.store();
    match find(&store, params, pid) {
        Some(p) => {
            let mut body = order_json(p, pid);
            body["code"] = json!(1);
            body["msg"] = json!("查询订单号成功！");
            Json(body).into_response()
        }
        None => answer(-1, "订单号不存在"),
    }
}

fn orders(sb: &Sandbox, params: &Params, pid: &str) -> Response {
    let number = |name: &str, default: usize| {
        epay::value(params, name)
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or(default)
    };
    let limit = number("limit", ORDERS_LIMIT_DEFAULT).clamp(1, ORDERS_LIMIT_MAX);
    let page = number("page", 1).max(1);
    let store = sb.store();
    let mut mine: Vec<&Payment> = store
        .all_payments()
        .filter(|p| matches!(&p.rail, PaymentRail::Epay { pid: theirs, .. } if theirs == pid))
        .collect();
    // Newest first, as the aggregators list: paid ones by when they were paid, then the
    // unpaid ones.
    mine.sort_by(|a, b| {
        paid_at(b)
            .cmp(&paid_at(a))
            .then_with(|| b.payment_id.cmp(&a.payment_id))
    });
    let data: Vec<serde_json::Value> = mine
        .into_iter()
        .skip((page - 1).saturating_mul(limit))
        .take(limit)
        .map(|p| order_json(p, pid))
        .collect();
    Json(json!({"code": 1, "msg": "查询订单记录成功！", "data": data})).into_response()
}

fn paid_at(p: &Payment) -> Option<OffsetDateTime> {
    match &p.status {
        PaymentStatus::Succeeded { paid_at, .. } => Some(*paid_at),
        PaymentStatus::Created => None,
    }
}

fn refund(sb: &Sandbox, params: &Params) -> Response {
    let pid = epay::value(params, "pid").unwrap_or_default().to_owned();
    let money = match Money::parse_yuan(epay::value(params, "money").unwrap_or_default()) {
        Ok(m) if m.is_positive() => m,
        _ => return answer(-1, "退款金额不正确"),
    };
    let mut store = sb.store();
    let Some(payment_id) = find(&store, params, &pid).map(|p| p.payment_id.clone()) else {
        return answer(-1, "订单号不存在");
    };
    let req = RefundRequest {
        payment_id,
        amount_minor: money.minor(),
        // No request id in V1: each call is a refund of its own.
        request_id: new_refund_id(),
    };
    match store.refund(&req, new_refund_id) {
        Ok(_) => answer(1, "退款成功！"),
        Err(GatewayError::RefundExceedsPayment) => answer(-1, "退款金额大于订单剩余可退金额"),
        Err(GatewayError::NotPaid) => answer(-1, "订单未支付"),
        Err(e) => answer(-1, &format!("{e:?}")),
    }
}

/// The aggregator's GET to the merchant's `notify_url`, its query signed with the
/// merchant's MD5 key (a tampered amount signed too: the gateway itself lies).
pub(super) fn notification_request(
    sandbox: &Sandbox,
    pid: String,
    pay_type: String,
    notification: &crate::wire::Notification,
    subject: String,
    notify_url: &str,
) -> Result<reqwest::RequestBuilder, String> {
    let merchant = merchant(sandbox).ok_or("no 易支付 merchant configured")?;
    let query = epay::Notification {
        pid,
        trade_no: notification.trade_no.clone(),
        out_trade_no: notification.out_trade_no.clone(),
        pay_type,
        name: subject,
        money: Money::from_minor(notification.amount_minor),
        trade_status: epay::TRADE_SUCCESS.to_owned(),
        buyer: notification.payer_id.clone(),
    }
    .query(&merchant.key);
    let joiner = if notify_url.contains('?') { '&' } else { '?' };
    Ok(sandbox.inner.http.get(format!("{notify_url}{joiner}{query}")))
}
