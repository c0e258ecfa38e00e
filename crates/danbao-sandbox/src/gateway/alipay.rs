//! The gateway's Alipay (open platform, RSA2) personality, speaking `danbao_rails::alipay`
//! byte for byte at `/alipay/gateway.do`:
//!
//! - `alipay.trade.page.pay` / `alipay.trade.wap.pay`: the buyer's browser brings the
//!   merchant's signed request (a GET, or a form POST); the gateway opens the payment on the
//!   sandbox's own books and sends the browser on to its cashier (302);
//! - `alipay.trade.precreate`: a form POST answered with signed JSON whose `qr_code` is the
//!   cashier of that payment (what the buyer's phone would open);
//! - `alipay.trade.query`, `alipay.trade.refund` (idempotent on `out_trade_no` +
//!   `out_request_no`), `alipay.trade.fastpay.refund.query`,
//!   `alipay.data.dataservice.bill.downloadurl.query`: form POSTs answered with JSON signed
//!   with the gateway's own RSA key, as Alipay signs the exact text of its `_response` member;
//! - the day's trade bill at the address that answer gives (`/alipay/bill`, valid for a short
//!   while, signed by the gateway): the 业务明细 CSV and its summary, GBK-encoded, in one zip as Alipay serves them;
//! - the notification: a form POST to the merchant's `notify_url`, signed with the gateway's
//!   key (see `notify.rs`), acknowledged `success`.
//!
//! Every request is checked the way Alipay checks it: the signature under the merchant's
//! application public key first, then that it is for our `app_id`. A payment opened here
//! belongs to this personality alone: the sandbox's own merchant API does not answer for it.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{OriginalUri, Query, State};
use axum::http::header::{CONTENT_TYPE, LOCATION};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use danbao_domain::Money;
use danbao_rails::alipay::{
    self, AlipayError, BillPayment, BillUrlAnswer, Method, PayOrder, PrecreateAnswer, QueryAnswer, RefundAnswer,
    RefundOrder, RefundQueryAnswer, Request,
};
use danbao_rails::rsa_sha256::{SigningKey, VerifyingKey};
use serde::Deserialize;
use time::OffsetDateTime;

use super::epay::china_time;
use super::state::{Created, GatewayError, Payment, PaymentRail, PaymentStatus};
use super::{new_payment_id, new_refund_id, Sandbox};
use crate::wire::{CreatePayment, RefundRequest};

/// A bill's download address is good for this long, as Alipay's (30 s) is short-lived;
/// a little longer so that a slow test machine is not a failure.
const BILL_URL_VALID_S: i64 = 300;
/// `sub_code` of a refused request whose signature does not verify.
const SUB_INVALID_SIGNATURE: &str = "isv.invalid-signature";
/// `sub_code` of a request for another application.
const SUB_INVALID_APP_ID: &str = "isv.invalid-app-id";
/// `sub_code` of a refund that is more than what is left of the payment.
const SUB_REFUND_TOO_MUCH: &str = "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL";
/// `sub_code` of a refund of an unpaid trade.
const SUB_TRADE_STATUS_ERROR: &str = "ACQ.TRADE_STATUS_ERROR";
/// `sub_code` of a request whose business fields are not acceptable.
const SUB_INVALID_PARAMETER: &str = "ACQ.INVALID_PARAMETER";
/// `sub_code` of a bill asked for an unknown bill type or a malformed date.
const SUB_BILL_NOT_EXIST: &str = "isp.bill_not_exist";

/// The merchant an Alipay personality serves: its application, its PID, the application's
/// public key (checks its requests) and the gateway's own key (signs answers and
/// notifications; the merchant checks them with its public half).
#[derive(Clone)]
pub struct AlipayMerchant {
    pub app_id: String,
    /// The merchant's PID (`2088…`), the notification's `seller_id`.
    pub seller_id: String,
    pub app_public_key: VerifyingKey,
    /// Alipay's own key. None: generated when the gateway starts
    /// ([`AlipayMerchant::with_generated_key`]).
    pub alipay_key: Option<Arc<SigningKey>>,
}

impl std::fmt::Debug for AlipayMerchant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlipayMerchant")
            .field("app_id", &self.app_id)
            .field("seller_id", &self.seller_id)
            .field("app_public_key", &self.app_public_key)
            .field("alipay_key", &self.alipay_key.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

impl AlipayMerchant {
    /// The same merchant with the gateway's key made now if none was given (a 2048-bit
    /// key, as Alipay's). Failing to make one leaves the personality keyless: it then
    /// refuses everything rather than sign with nothing.
    pub(crate) fn with_generated_key(mut self) -> AlipayMerchant {
        if self.alipay_key.is_none() {
            match SigningKey::generate() {
                Ok((key, _pem)) => self.alipay_key = Some(Arc::new(key)),
                Err(e) => tracing::error!(error = %e, "could not generate the sandbox's Alipay key"),
            }
        }
        self
    }

    /// The public half of the gateway's key: what the merchant configures as
    /// "Alipay's public key".
    pub fn alipay_public_key(&self) -> Option<VerifyingKey> {
        self.alipay_key.as_ref().map(|k| k.verifying_key())
    }
}

fn merchant(sb: &Sandbox) -> Option<(&AlipayMerchant, &SigningKey)> {
    let m = sb.inner.alipay.as_ref()?;
    let key = m.alipay_key.as_deref()?;
    Some((m, key))
}

/// What a browser is shown when the gateway cannot open the cashier.
fn refused_page(status: StatusCode, why: &str) -> Response {
    (status, [(CONTENT_TYPE, "text/plain; charset=utf-8")], why.to_owned()).into_response()
}

fn json_answer(body: Result<String, AlipayError>) -> Response {
    match body {
        Ok(body) => (
            StatusCode::OK,
            [(CONTENT_TYPE, HeaderValue::from_static("application/json;charset=utf-8"))],
            body,
        )
            .into_response(),
        Err(e) => refused_page(StatusCode::INTERNAL_SERVER_ERROR, &format!("could not sign: {e}")),
    }
}

/// A refusal as Alipay words it, signed.
fn refusal(method: Method, code: &str, sub_code: &str, sub_msg: &str, key: &SigningKey) -> Response {
    let msg = if code == alipay::CODE_BUSINESS_FAILED {
        "Business Failed"
    } else {
        "Invalid Arguments"
    };
    json_answer(alipay::refusal_body(method, code, msg, sub_code, sub_msg, key))
}

/// An unsigned `error_response`, as Alipay answers a request it cannot attribute (a bad
/// signature, an unknown method): nothing in it is signed because nothing was trusted.
fn unsigned_error(sub_code: &str, sub_msg: &str) -> Response {
    let body = serde_json::json!({
        "error_response": {"code": "40002", "msg": "Invalid Arguments", "sub_code": sub_code, "sub_msg": sub_msg}
    });
    (
        StatusCode::OK,
        [(CONTENT_TYPE, HeaderValue::from_static("application/json;charset=utf-8"))],
        body.to_string(),
    )
        .into_response()
}

/// `gateway.do` by GET: the page and WAP cashiers (the browser's jump).
pub(super) async fn gateway_get(State(sb): State<Sandbox>, OriginalUri(uri): OriginalUri) -> Response {
    gateway(&sb, uri.query().unwrap_or_default(), "")
}

/// `gateway.do` by POST: every method (the common parameters may be in the query).
pub(super) async fn gateway_post(State(sb): State<Sandbox>, OriginalUri(uri): OriginalUri, body: Bytes) -> Response {
    let Ok(body) = std::str::from_utf8(&body) else {
        return unsigned_error("isv.invalid-charset", "the request is not UTF-8");
    };
    gateway(&sb, uri.query().unwrap_or_default(), body)
}

fn gateway(sb: &Sandbox, query: &str, body: &str) -> Response {
    if sb.faults().down {
        return refused_page(StatusCode::SERVICE_UNAVAILABLE, "gateway down (fault injected)");
    }
    let Some((m, key)) = merchant(sb) else {
        return refused_page(StatusCode::NOT_FOUND, "this gateway has no Alipay merchant");
    };
    let params = match alipay::parse_request_params(query, body) {
        Ok(p) => p,
        Err(e) => return unsigned_error("isv.invalid-parameter", &e.to_string()),
    };
    let (head, request) = match Request::read(&params, &m.app_public_key) {
        Ok(read) => read,
        Err(e @ (AlipayError::BadSignature | AlipayError::WrongSignType(_))) => {
            tracing::warn!(error = %e, "Alipay request with a bad signature");
            return unsigned_error(SUB_INVALID_SIGNATURE, "验签出错");
        }
        Err(e) => return unsigned_error("isv.invalid-parameter", &e.to_string()),
    };
    let method = request.method();
    if head.app_id != m.app_id {
        return refusal(method, "40002", SUB_INVALID_APP_ID, "无效的AppID参数", key);
    }
    match request {
        Request::PagePay(order) | Request::WapPay(order) => {
            match open_payment(sb, m, &order, head.notify_url, head.return_url, method) {
                Ok(id) => to_cashier(sb, &id),
                Err(why) => refused_page(StatusCode::BAD_REQUEST, &why),
            }
        }
        Request::Precreate(order) => match open_payment(sb, m, &order, head.notify_url, None, method) {
            Ok(id) => json_answer(
                PrecreateAnswer {
                    out_trade_no: order.out_trade_no.clone(),
                    qr_code: format!("{}/cashier/{id}", sb.public_base_url()),
                }
                .to_body(key),
            ),
            Err(why) => refusal(method, alipay::CODE_BUSINESS_FAILED, SUB_INVALID_PARAMETER, &why, key),
        },
        Request::Query { out_trade_no } => trade_query(sb, m, key, &out_trade_no),
        Request::Refund(r) => refund(sb, m, key, &r),
        Request::RefundQuery {
            out_trade_no,
            out_request_no,
        } => refund_query(sb, m, key, &out_trade_no, &out_request_no),
        Request::BillDownloadUrl { bill_type, bill_date } => bill_url(sb, key, &bill_type, &bill_date),
    }
}

fn to_cashier(sb: &Sandbox, payment_id: &str) -> Response {
    let cashier = format!("{}/cashier/{payment_id}", sb.public_base_url());
    match HeaderValue::from_str(&cashier) {
        Ok(location) => (StatusCode::FOUND, [(LOCATION, location)]).into_response(),
        Err(_) => refused_page(StatusCode::INTERNAL_SERVER_ERROR, "bad cashier address"),
    }
}

/// `2016-08-06 22:55:52` (China time) as a UTC time.
fn from_china_time(text: &str) -> Option<OffsetDateTime> {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    let civil = time::PrimitiveDateTime::parse(text, &format).ok()?;
    Some(civil.assume_offset(time::macros::offset!(+8)))
}

/// Opens (or finds again) the payment a signed pay request asks for.
fn open_payment(
    sb: &Sandbox,
    m: &AlipayMerchant,
    order: &PayOrder,
    notify_url: Option<String>,
    return_url: Option<String>,
    method: Method,
) -> Result<String, String> {
    let Some(notify_url) = notify_url else {
        // Alipay takes a payment without one; this gateway exists to notify, so it insists.
        return Err("notify_url is required by this sandbox".to_owned());
    };
    let create = CreatePayment {
        out_trade_no: order.out_trade_no.clone(),
        amount_minor: order.total_amount.minor(),
        currency: alipay::CURRENCY_CNY.to_owned(),
        subject: order.subject.clone(),
        notify_url,
        return_url: return_url.unwrap_or_default(),
        site_name: None,
        order_ref: None,
        expires_at: order
            .time_expire
            .as_deref()
            .and_then(from_china_time)
            .map(super::state::rfc3339),
    };
    let rail = PaymentRail::Alipay {
        app_id: m.app_id.clone(),
        method: method.name().to_owned(),
    };
    match sb.store().create_payment_on(create, rail, new_payment_id) {
        Ok(Created::New(id) | Created::Existing(id)) => Ok(id),
        Err(GatewayError::OutTradeNoConflict) => Err("ACQ.CONTEXT_INCONSISTENT: 交易信息被篡改".to_owned()),
        Err(e) => Err(format!("{e:?}")),
    }
}

fn ours<'a>(store: &'a super::state::Store, m: &AlipayMerchant, out_trade_no: &str) -> Option<&'a Payment> {
    store
        .by_out_trade_no(out_trade_no)
        .into_iter()
        .find(|p| matches!(&p.rail, PaymentRail::Alipay { app_id, .. } if *app_id == m.app_id))
}

fn not_exist(method: Method, key: &SigningKey) -> Response {
    refusal(
        method,
        alipay::CODE_BUSINESS_FAILED,
        alipay::SUB_TRADE_NOT_EXIST,
        "交易不存在",
        key,
    )
}

fn trade_query(sb: &Sandbox, m: &AlipayMerchant, key: &SigningKey, out_trade_no: &str) -> Response {
    let store = sb.store();
    let Some(p) = ours(&store, m, out_trade_no) else {
        return not_exist(Method::Query, key);
    };
    let (trade_no, trade_status, buyer_id, send_pay_date) = match &p.status {
        // Alipay knows a trade once its cashier was opened; nobody has paid it yet.
        PaymentStatus::Created => (format!("unpaid_{}", p.payment_id), alipay::WAIT_BUYER_PAY, None, None),
        PaymentStatus::Succeeded {
            trade_no,
            paid_at,
            payer_id,
        } => {
            // A trade refunded in full is closed, as at Alipay.
            let status = if p.refunded_minor >= p.amount_minor {
                alipay::TRADE_CLOSED
            } else {
                alipay::TRADE_SUCCESS
            };
            (
                trade_no.clone(),
                status,
                Some(payer_id.clone()),
                Some(china_time(*paid_at)),
            )
        }
    };
    json_answer(
        QueryAnswer {
            trade_no,
            out_trade_no: p.out_trade_no.clone(),
            trade_status: trade_status.to_owned(),
            total_amount: Money::from_minor(p.amount_minor),
            buyer_id,
            send_pay_date,
        }
        .to_body(key),
    )
}

/// The sandbox's refund id for an Alipay refund: Alipay's key is the pair
/// (`out_trade_no`, `out_request_no`), the sandbox's books key refunds by one string.
fn refund_key(out_trade_no: &str, out_request_no: &str) -> String {
    format!("alipay:{out_trade_no}:{out_request_no}")
}

fn refund(sb: &Sandbox, m: &AlipayMerchant, key: &SigningKey, r: &RefundOrder) -> Response {
    let mut store = sb.store();
    let Some(p) = ours(&store, m, &r.out_trade_no) else {
        return not_exist(Method::Refund, key);
    };
    let PaymentStatus::Succeeded { trade_no, .. } = &p.status else {
        return refusal(
            Method::Refund,
            alipay::CODE_BUSINESS_FAILED,
            SUB_TRADE_STATUS_ERROR,
            "交易状态不合法",
            key,
        );
    };
    let trade_no = trade_no.clone();
    let payment_id = p.payment_id.clone();
    let request_id = refund_key(&r.out_trade_no, &r.out_request_no);
    let repeat = store.refund_by_request_id(&request_id).is_ok();
    let req = RefundRequest {
        payment_id: payment_id.clone(),
        amount_minor: r.refund_amount.minor(),
        request_id,
    };
    let done = store.refund(&req, new_refund_id);
    let refunded_minor = store.payment(&payment_id).map(|p| p.refunded_minor).unwrap_or(0);
    drop(store);
    match done {
        Ok(_) => {
            tracing::info!(out_trade_no = %r.out_trade_no, out_request_no = %r.out_request_no, repeat, "sandbox Alipay refund");
            json_answer(
                RefundAnswer {
                    trade_no,
                    out_trade_no: r.out_trade_no.clone(),
                    fund_change: !repeat,
                    refund_fee: Money::from_minor(refunded_minor),
                    gmt_refund_pay: Some(china_time(OffsetDateTime::now_utc())),
                }
                .to_body(key),
            )
        }
        Err(GatewayError::RefundExceedsPayment) => refusal(
            Method::Refund,
            alipay::CODE_BUSINESS_FAILED,
            SUB_REFUND_TOO_MUCH,
            "退款金额超限",
            key,
        ),
        Err(GatewayError::RefundRequestConflict) => refusal(
            Method::Refund,
            alipay::CODE_BUSINESS_FAILED,
            SUB_INVALID_PARAMETER,
            "退款请求号已用于另一金额",
            key,
        ),
        Err(e) => refusal(
            Method::Refund,
            alipay::CODE_BUSINESS_FAILED,
            SUB_INVALID_PARAMETER,
            &format!("{e:?}"),
            key,
        ),
    }
}

fn refund_query(
    sb: &Sandbox,
    m: &AlipayMerchant,
    key: &SigningKey,
    out_trade_no: &str,
    out_request_no: &str,
) -> Response {
    let store = sb.store();
    if ours(&store, m, out_trade_no).is_none() {
        return not_exist(Method::RefundQuery, key);
    }
    // No such refund: the answer is a success without the refund's fields (Alipay's rule).
    let (refund_amount, refund_status, asked) =
        match store.refund_by_request_id(&refund_key(out_trade_no, out_request_no)) {
            Ok(r) => (
                Some(Money::from_minor(r.amount_minor)),
                Some(alipay::REFUND_SUCCESS.to_owned()),
                Some(out_request_no.to_owned()),
            ),
            Err(_) => (None, None, None),
        };
    json_answer(
        RefundQueryAnswer {
            out_trade_no: out_trade_no.to_owned(),
            out_request_no: asked,
            refund_amount,
            refund_status,
        }
        .to_body(key),
    )
}

fn bill_signing_text(bill_date: &str, expires: i64) -> String {
    format!("sandbox-alipay-bill|{bill_date}|{expires}")
}

fn is_day(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() == 10
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            _ => c.is_ascii_digit(),
        })
}

fn bill_url(sb: &Sandbox, key: &SigningKey, bill_type: &str, bill_date: &str) -> Response {
    if bill_type != alipay::BILL_TYPE_TRADE || !is_day(bill_date) {
        // The sandbox keeps day bills of trades only (no monthly bills, no account flows).
        return refusal(
            Method::BillDownloadUrl,
            alipay::CODE_BUSINESS_FAILED,
            SUB_BILL_NOT_EXIST,
            "账单不存在",
            key,
        );
    }
    let expires = OffsetDateTime::now_utc().unix_timestamp() + BILL_URL_VALID_S;
    let sig = match key.sign_base64(bill_signing_text(bill_date, expires).as_bytes()) {
        Ok(sig) => sig,
        Err(e) => return refused_page(StatusCode::INTERNAL_SERVER_ERROR, &format!("could not sign: {e}")),
    };
    let query = serde_urlencoded::to_string([
        ("bill_date", bill_date.to_owned()),
        ("expires", expires.to_string()),
        ("sig", sig),
    ])
    .unwrap_or_default();
    json_answer(
        BillUrlAnswer {
            bill_download_url: format!("{}/alipay/bill?{query}", sb.public_base_url()),
        }
        .to_body(key),
    )
}

#[derive(Deserialize)]
pub(super) struct BillQuery {
    bill_date: String,
    expires: i64,
    sig: String,
}

/// The day's 业务明细, GBK, at the address `bill_url` signed: this merchant's Alipay
/// payments paid that China day, oldest first.
pub(super) async fn bill(State(sb): State<Sandbox>, Query(q): Query<BillQuery>) -> Response {
    let Some((m, key)) = merchant(&sb) else {
        return refused_page(StatusCode::NOT_FOUND, "this gateway has no Alipay merchant");
    };
    let valid = key
        .verifying_key()
        .verifies(bill_signing_text(&q.bill_date, q.expires).as_bytes(), &q.sig);
    if !valid || q.expires < OffsetDateTime::now_utc().unix_timestamp() {
        return refused_page(StatusCode::FORBIDDEN, "this download address is not valid (any more)");
    }
    let mut lines: Vec<(OffsetDateTime, BillPayment)> = {
        let store = sb.store();
        store
            .all_payments()
            .filter(|p| matches!(&p.rail, PaymentRail::Alipay { app_id, .. } if *app_id == m.app_id))
            .filter_map(|p| match &p.status {
                PaymentStatus::Succeeded { trade_no, paid_at, .. } => {
                    let finished_at = china_time(*paid_at);
                    finished_at.starts_with(&q.bill_date).then(|| {
                        (
                            *paid_at,
                            BillPayment {
                                trade_no: trade_no.clone(),
                                out_trade_no: p.out_trade_no.clone(),
                                amount: Money::from_minor(p.amount_minor),
                                finished_at,
                            },
                        )
                    })
                }
                PaymentStatus::Created => None,
            })
            .collect()
    };
    lines.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.trade_no.cmp(&b.1.trade_no)));
    let payments: Vec<BillPayment> = lines.into_iter().map(|(_, l)| l).collect();
    let day = q.bill_date.replacen('-', "年", 1).replacen('-', "月", 1) + "日";
    let text = alipay::write_bill_detail(
        &m.seller_id,
        &format!("{day} 00:00:00"),
        &format!("{day} 23:59:59"),
        &china_time(OffsetDateTime::now_utc()),
        &payments,
    )
    .and_then(|text| alipay::encode_gbk(&text))
    .and_then(|detail| {
        // Packed as Alipay packs it: the detail and a summary, in one zip.
        let summary = alipay::encode_gbk(&format!(
            "#支付宝业务汇总查询\n#账号：[{}]\n#交易合计：{}笔\n",
            m.seller_id,
            payments.len()
        ))?;
        let prefix = format!("{}_{}", m.seller_id, q.bill_date.replace('-', ""));
        alipay::write_bill_zip(&prefix, &detail, &summary)
    });
    match text {
        Ok(bytes) => (
            StatusCode::OK,
            [(CONTENT_TYPE, HeaderValue::from_static("application/zip"))],
            bytes,
        )
            .into_response(),
        Err(e) => refused_page(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

/// Alipay's form POST to the merchant's `notify_url`, signed with the gateway's key (a
/// tampered amount signed too: the gateway itself lies).
pub(super) fn notification_request(
    sandbox: &Sandbox,
    notification: &crate::wire::Notification,
    subject: String,
    notify_url: &str,
) -> Result<reqwest::RequestBuilder, String> {
    let (m, key) = merchant(sandbox).ok_or("no Alipay merchant configured")?;
    let paid_at = OffsetDateTime::parse(&notification.paid_at, &time::format_description::well_known::Rfc3339)
        .map(china_time)
        .ok();
    let body = alipay::Notification {
        notify_time: china_time(OffsetDateTime::now_utc()),
        notify_id: notification.notify_id.clone(),
        app_id: m.app_id.clone(),
        seller_id: m.seller_id.clone(),
        trade_no: notification.trade_no.clone(),
        out_trade_no: notification.out_trade_no.clone(),
        trade_status: alipay::TRADE_SUCCESS.to_owned(),
        total_amount: Money::from_minor(notification.amount_minor),
        buyer_id: notification.payer_id.clone(),
        subject: Some(subject).filter(|s| !s.is_empty()),
        gmt_create: paid_at.clone(),
        gmt_payment: paid_at,
        refund_fee: None,
    }
    .form_body(key)
    .map_err(|e| format!("could not sign the notification: {e}"))?;
    Ok(sandbox
        .inner
        .http
        .post(notify_url)
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded; charset=utf-8")
        .body(body))
}
