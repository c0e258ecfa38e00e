//! Alipay's open platform (开放平台, `gateway.do`), RSA2: how a merchant asks for a payment
//! and how Alipay tells it the buyer paid, byte for byte.
//!
//! - Every request carries the common parameters (`app_id`, `method`, `format=JSON`,
//!   `charset=utf-8`, `sign_type=RSA2`, `timestamp` in China time, `version=1.0`, and
//!   `notify_url` / `return_url` where they apply) and its business fields as one JSON text in
//!   `biz_content`. It is signed with SHA256withRSA over the *signing string*: the parameters
//!   other than `sign` whose value is not empty, sorted by name, joined as `k=v&k=v`, values
//!   raw (not URL-encoded).
//! - The page and WAP cashiers are a GET of the gateway by the buyer's browser; the other
//!   methods are form POSTs answered with JSON `{"<method>_response":{…},"sign":"…"}`, where
//!   Alipay signs the exact text of the `_response` member. `code` `10000` is success.
//! - The payment notification is a form POST to `notify_url`, signed like a request except
//!   that `sign_type` is left out of the signing string too (and, as Alipay's SDKs check it,
//!   empty values are kept); the merchant answers `success`.
//! - The trade bill is a zip of GBK CSV files; [`read_bill_detail`] reads the detail file's text.
//!
//! Everything read here is read strictly, the signature before anything it covers: a parameter
//! given twice, a signature that does not verify, another app's `app_id` or another merchant's
//! `seller_id`, a `trade_status` that is not a payment, an amount that is not an exact yuan
//! string, a currency other than CNY and oversized input are each refused with their own
//! [`AlipayError`]. Both sides are here: the platform's adapter (the merchant) and the
//! sandbox's simulator (the gateway), so each is tested against the other and against
//! signatures made by OpenSSL.

use crate::rsa_sha256::{SigningKey, VerifyingKey};
use danbao_domain::money::MoneyError;
use danbao_domain::Money;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// The production gateway. The sandbox's simulator is reached at its own address instead.
pub const GATEWAY: &str = "https://openapi.alipay.com/gateway.do";
/// SHA256withRSA, the only signature we use or accept (`RSA`, SHA1withRSA, is retired).
pub const SIGN_TYPE_RSA2: &str = "RSA2";
/// The charset we send and the only one we read: the signing string is its bytes in UTF-8.
pub const CHARSET: &str = "utf-8";
pub const FORMAT_JSON: &str = "JSON";
pub const VERSION: &str = "1.0";
/// `code` of an answer that did what was asked.
pub const CODE_SUCCESS: &str = "10000";
/// `code` of a business refusal (the `sub_code` says which).
pub const CODE_BUSINESS_FAILED: &str = "40004";
/// `sub_code` of a query or refund about a trade Alipay does not know: nothing was paid.
pub const SUB_TRADE_NOT_EXIST: &str = "ACQ.TRADE_NOT_EXIST";
/// What the merchant answers a notification it has taken; anything else makes Alipay send
/// it again (4 min, 10 min, 10 min, 1 h, 2 h, 6 h, 15 h).
pub const ACK: &str = "success";
/// The buyer paid; the trade can still be refunded.
pub const TRADE_SUCCESS: &str = "TRADE_SUCCESS";
/// The buyer paid and the refund period is over (or the product allows no refund).
pub const TRADE_FINISHED: &str = "TRADE_FINISHED";
/// Unpaid and timed out, or refunded in full: no money for us.
pub const TRADE_CLOSED: &str = "TRADE_CLOSED";
/// Created, not paid yet.
pub const WAIT_BUYER_PAY: &str = "WAIT_BUYER_PAY";
/// `product_code` of the computer cashier (alipay.trade.page.pay).
pub const PRODUCT_PAGE: &str = "FAST_INSTANT_TRADE_PAY";
/// `product_code` of the phone-browser cashier (alipay.trade.wap.pay).
pub const PRODUCT_WAP: &str = "QUICK_WAP_WAY";
/// `notify_type` of a trade's notification.
pub const NOTIFY_TYPE: &str = "trade_status_sync";
/// `bill_type` of the trade bill (the other, `signcustomer`, is the account's flows).
pub const BILL_TYPE_TRADE: &str = "trade";
/// `refund_status` of a refund that is done (fastpay.refund.query).
pub const REFUND_SUCCESS: &str = "REFUND_SUCCESS";
/// The only currency the platform takes; Alipay names it so in `trans_currency`.
pub const CURRENCY_CNY: &str = "CNY";

/// A notification or a request form is at most a few kilobytes (`subject` 256 characters,
/// `body` 128, `passback_params` 512, a short `fund_bill_list`); 32 KiB is room for all of
/// it with margin, and anything larger is not Alipay talking.
pub const MAX_FORM_BYTES: usize = 32 * 1024;
/// A JSON answer of the methods we call is under 4 KiB; 256 KiB bounds what we parse.
pub const MAX_ANSWER_BYTES: usize = 256 * 1024;
/// A day's detail bill is about 400 bytes a trade: 64 MiB is some 150 000 trades a day,
/// far above our volume, and bounds what is held in memory.
pub const MAX_BILL_BYTES: usize = 64 * 1024 * 1024;

/// Parameters as sent, in order (a query string or a form body).
pub type Params = Vec<(String, String)>;

/// Why something from (or to) Alipay was refused. Each refusal has its own variant so the
/// platform can log it as what it is (a forgery, a misconfiguration, a refusal by Alipay).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AlipayError {
    #[error("{what} is {len} bytes, more than the {limit} Alipay ever sends")]
    TooLarge {
        what: &'static str,
        len: usize,
        limit: usize,
    },
    #[error("malformed: {0}")]
    Malformed(String),
    #[error("parameter {0:?} given twice")]
    DuplicateParameter(String),
    #[error("missing {0}")]
    Missing(String),
    #[error("sign_type {0:?} is not RSA2")]
    WrongSignType(String),
    #[error("charset {0:?} is not utf-8")]
    WrongCharset(String),
    #[error("signature does not verify")]
    BadSignature,
    #[error("for app {0:?}, not ours")]
    WrongApp(String),
    #[error("for seller {0:?}, not ours")]
    WrongSeller(String),
    #[error("method {0:?} is not the one expected")]
    WrongMethod(String),
    #[error("trade_status {0:?} is not a payment")]
    NotPaid(String),
    #[error("currency {0:?} is not CNY")]
    WrongCurrency(String),
    #[error(transparent)]
    Amount(#[from] MoneyError),
    #[error("amount {0:?} is no payment")]
    NotPositive(String),
    #[error("about trade {0:?}, not the one asked about")]
    OtherTrade(String),
    /// A verified notification of a refund (it carries `refund_fee`): Alipay is telling us
    /// about money going back, not coming in. Acknowledge it; never deliver on it.
    #[error("a refund's notification for {out_trade_no} (refunded so far {refund_fee})")]
    RefundNotice { out_trade_no: String, refund_fee: Money },
    /// A signed answer whose `code` is not `10000`.
    #[error("refused by Alipay: {code} {msg} {sub_code} {sub_msg}")]
    Refused {
        code: String,
        msg: String,
        sub_code: String,
        sub_msg: String,
    },
    /// An unsigned answer saying no (Alipay does not sign some of its refusals, e.g. of a
    /// request whose signature it could not check). Nothing in it is believed; it is kept
    /// apart from [`AlipayError::Refused`] so the log says what Alipay claimed.
    #[error("unsigned refusal: {code} {sub_code} {sub_msg}")]
    UnsignedRefusal {
        code: String,
        sub_code: String,
        sub_msg: String,
    },
    #[error("bill line {line}: {reason}")]
    Bill { line: usize, reason: String },
    #[error("could not sign: {0}")]
    Signing(String),
}

/// The methods the platform uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// The computer cashier: the buyer's browser goes to the gateway.
    PagePay,
    /// The phone-browser cashier.
    WapPay,
    /// A QR code for the buyer to scan (当面付).
    Precreate,
    /// Asks for a trade's state (补单).
    Query,
    /// Gives (part of) a trade's money back, idempotent on `out_request_no`.
    Refund,
    /// Asks whether a refund went through.
    RefundQuery,
    /// Asks where to download a day's trade bill.
    BillDownloadUrl,
}

impl Method {
    pub const ALL: [Method; 7] = [
        Method::PagePay,
        Method::WapPay,
        Method::Precreate,
        Method::Query,
        Method::Refund,
        Method::RefundQuery,
        Method::BillDownloadUrl,
    ];

    /// The `method` parameter.
    pub fn name(self) -> &'static str {
        match self {
            Method::PagePay => "alipay.trade.page.pay",
            Method::WapPay => "alipay.trade.wap.pay",
            Method::Precreate => "alipay.trade.precreate",
            Method::Query => "alipay.trade.query",
            Method::Refund => "alipay.trade.refund",
            Method::RefundQuery => "alipay.trade.fastpay.refund.query",
            Method::BillDownloadUrl => "alipay.data.dataservice.bill.downloadurl.query",
        }
    }

    pub fn from_name(name: &str) -> Option<Method> {
        Method::ALL.into_iter().find(|m| m.name() == name)
    }

    /// The member of the JSON answer that holds it and that Alipay signs: the method's name
    /// with `_` for `.`, then `_response` (`alipay_trade_query_response`).
    pub fn response_member(self) -> String {
        format!("{}_response", self.name().replace('.', "_"))
    }

    /// Whether the buyer's browser is sent to the gateway with it (so `return_url` applies).
    pub fn is_page(self) -> bool {
        matches!(self, Method::PagePay | Method::WapPay)
    }
}

/// `yyyy-MM-dd HH:mm:ss` in China time (UTC+8 all year: China has kept no summer time since
/// 1991), as Alipay writes every time and wants `timestamp` and `time_expire`.
pub fn china_time(at: jiff::Timestamp) -> String {
    at.to_zoned(jiff::tz::TimeZone::fixed(jiff::tz::offset(8)))
        .strftime("%Y-%m-%d %H:%M:%S")
        .to_string()
}

/// Whether `text` has the shape of [`china_time`]'s output (digits where digits go).
fn is_china_time(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() == 19
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b' ',
            13 | 16 => *c == b':',
            _ => c.is_ascii_digit(),
        })
}

fn signing_string_without(params: &[(String, String)], dropped: &[&str]) -> String {
    let mut kept: Vec<&(String, String)> = params
        .iter()
        .filter(|(k, v)| !dropped.contains(&k.as_str()) && !v.is_empty())
        .collect();
    // Bytewise; every name is ASCII, so this is also Java's and Python's order.
    kept.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    kept.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// What a request's signature covers: every parameter but `sign` whose value is not empty
/// (`sign_type` included), sorted by name, `k=v` joined with `&`, values as they are.
pub fn request_signing_string(params: &[(String, String)]) -> String {
    signing_string_without(params, &["sign"])
}

/// What a notification's signature covers, as Alipay's SDKs check it ("rsaCheckV1"): every
/// parameter but `sign` and `sign_type`, sorted by name, `k=v` joined with `&`, values as
/// they are; an empty value is kept (`k=`), unlike in a request.
pub fn notification_signing_string(params: &[(String, String)]) -> String {
    let mut kept: Vec<&(String, String)> = params.iter().filter(|(k, _)| k != "sign" && k != "sign_type").collect();
    kept.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    kept.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// A parameter's value (parameters read by [`parse_params`] have each name once).
pub fn value<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

fn refuse_duplicates(params: &[(String, String)]) -> Result<(), AlipayError> {
    for (i, (k, _)) in params.iter().enumerate() {
        if params[..i].iter().any(|(seen, _)| seen == k) {
            return Err(AlipayError::DuplicateParameter(k.clone()));
        }
    }
    Ok(())
}

/// A query string or form body as parameters. A name given twice is refused: Java takes the
/// first, PHP the last, and whichever the signature covered, the other reading would be an
/// attacker's.
pub fn parse_params(text: &str) -> Result<Params, AlipayError> {
    if text.len() > MAX_FORM_BYTES {
        return Err(AlipayError::TooLarge {
            what: "form",
            len: text.len(),
            limit: MAX_FORM_BYTES,
        });
    }
    let params: Params =
        serde_urlencoded::from_str(text).map_err(|e| AlipayError::Malformed(format!("not a form: {e}")))?;
    refuse_duplicates(&params)?;
    Ok(params)
}

/// A request as the gateway receives it: the SDKs put the common parameters in the query
/// string and `biz_content` in the form body, we put all in the body; either way a name is
/// allowed once across both.
pub fn parse_request_params(query: &str, body: &str) -> Result<Params, AlipayError> {
    if query.len() + body.len() > MAX_FORM_BYTES {
        return Err(AlipayError::TooLarge {
            what: "request",
            len: query.len() + body.len(),
            limit: MAX_FORM_BYTES,
        });
    }
    let mut params = parse_params(query)?;
    params.extend(parse_params(body)?);
    refuse_duplicates(&params)?;
    Ok(params)
}

fn sign_text(text: &str, key: &SigningKey) -> Result<String, AlipayError> {
    key.sign_base64(text.as_bytes())
        .map_err(|e| AlipayError::Signing(e.to_string()))
}

/// Appends `sign` over [`request_signing_string`] (a request, signed by the merchant).
pub fn sign_request(params: &mut Params, key: &SigningKey) -> Result<(), AlipayError> {
    let sign = sign_text(&request_signing_string(params), key)?;
    params.push(("sign".into(), sign));
    Ok(())
}

/// Appends `sign` over [`notification_signing_string`] (a notification, signed by Alipay).
pub fn sign_notification(params: &mut Params, key: &SigningKey) -> Result<(), AlipayError> {
    let sign = sign_text(&notification_signing_string(params), key)?;
    params.push(("sign".into(), sign));
    Ok(())
}

fn check_sign_type(params: &[(String, String)], required: bool) -> Result<(), AlipayError> {
    match value(params, "sign_type") {
        Some(SIGN_TYPE_RSA2) => Ok(()),
        None if !required => Ok(()),
        other => Err(AlipayError::WrongSignType(other.unwrap_or_default().to_string())),
    }
}

fn verify_over(text: &str, params: &[(String, String)], key: &VerifyingKey) -> Result<(), AlipayError> {
    let sign = value(params, "sign").unwrap_or_default();
    if key.verifies(text.as_bytes(), sign) {
        Ok(())
    } else {
        Err(AlipayError::BadSignature)
    }
}

/// Checks a merchant's request (the gateway's side): each name once, `sign_type=RSA2`, and
/// `sign` verifying under the merchant's public key.
pub fn verify_request(params: &[(String, String)], merchant_key: &VerifyingKey) -> Result<(), AlipayError> {
    refuse_duplicates(params)?;
    check_sign_type(params, true)?;
    verify_over(&request_signing_string(params), params, merchant_key)
}

/// Checks a notification (the merchant's side): each name once, `sign_type` RSA2 if given,
/// and `sign` verifying under Alipay's public key.
pub fn verify_notification(params: &[(String, String)], alipay_key: &VerifyingKey) -> Result<(), AlipayError> {
    refuse_duplicates(params)?;
    check_sign_type(params, false)?;
    let sdk_rule = verify_over(&notification_signing_string(params), params, alipay_key);
    if sdk_rule.is_ok() || params.iter().all(|(_, v)| !v.is_empty()) {
        return sdk_rule;
    }
    // Alipay's documentation drops empty values from every signing string, its SDKs keep them
    // in a notification's; a notification with an empty value verifies under either rule (an
    // empty value says nothing, so neither reading can be made to say more).
    verify_over(
        &signing_string_without(params, &["sign", "sign_type"]),
        params,
        alipay_key,
    )
}

fn required(params: &[(String, String)], name: &str) -> Result<String, AlipayError> {
    value(params, name)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
        .ok_or_else(|| AlipayError::Missing(name.to_string()))
}

fn optional(params: &[(String, String)], name: &str) -> Option<String> {
    value(params, name).filter(|v| !v.is_empty()).map(str::to_string)
}

/// An exact, positive yuan amount.
fn payment_amount(text: &str) -> Result<Money, AlipayError> {
    let m = Money::parse_yuan(text)?;
    if m.is_positive() {
        Ok(m)
    } else {
        Err(AlipayError::NotPositive(text.to_string()))
    }
}

fn check_currency(currency: Option<&str>) -> Result<(), AlipayError> {
    match currency {
        None | Some("") | Some(CURRENCY_CNY) => Ok(()),
        Some(other) => Err(AlipayError::WrongCurrency(other.to_string())),
    }
}

// ---------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------

/// The common parameters that are ours to choose (the others are fixed: JSON, utf-8, RSA2,
/// 1.0).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub app_id: String,
    /// When the request was made, as [`china_time`] writes it; Alipay refuses one too far
    /// from its own clock.
    pub timestamp: String,
    /// Where Alipay posts the payment's notification (payments only).
    pub notify_url: Option<String>,
    /// Where the buyer's browser comes back to after paying (page and WAP only).
    pub return_url: Option<String>,
}

/// A payment to open: the page and WAP cashiers and the QR code all take these.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayOrder {
    pub out_trade_no: String,
    /// Computed by the platform from the product's price, never taken from the buyer.
    pub total_amount: Money,
    /// The goods' name the buyer sees at the cashier.
    pub subject: String,
    /// When the buyer can no longer pay, as [`china_time`] writes it: the order's own expiry,
    /// so Alipay does not take money for an order we have let go.
    pub time_expire: Option<String>,
}

/// A refund, idempotent at Alipay on (`out_trade_no`, `out_request_no`): asking again with the
/// same request number never gives the money back twice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundOrder {
    pub out_trade_no: String,
    pub refund_amount: Money,
    pub out_request_no: String,
    pub refund_reason: Option<String>,
}

/// A request to Alipay, one variant per method.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    PagePay(PayOrder),
    WapPay(PayOrder),
    Precreate(PayOrder),
    Query {
        out_trade_no: String,
    },
    Refund(RefundOrder),
    RefundQuery {
        out_trade_no: String,
        out_request_no: String,
    },
    /// `bill_date` is a day `yyyy-MM-dd` (or a month `yyyy-MM`).
    BillDownloadUrl {
        bill_type: String,
        bill_date: String,
    },
}

#[derive(Serialize, Deserialize)]
struct PayBiz {
    out_trade_no: String,
    total_amount: String,
    subject: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    product_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    time_expire: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct TradeBiz {
    out_trade_no: String,
}

#[derive(Serialize, Deserialize)]
struct RefundBiz {
    out_trade_no: String,
    refund_amount: String,
    out_request_no: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    refund_reason: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct RefundQueryBiz {
    out_trade_no: String,
    out_request_no: String,
}

#[derive(Serialize, Deserialize)]
struct BillBiz {
    bill_type: String,
    bill_date: String,
}

fn to_json<T: Serialize>(value: &T) -> Result<String, AlipayError> {
    serde_json::to_string(value).map_err(|e| AlipayError::Malformed(e.to_string()))
}

fn from_json<'a, T: Deserialize<'a>>(text: &'a str, what: &str) -> Result<T, AlipayError> {
    serde_json::from_str(text).map_err(|e| AlipayError::Malformed(format!("{what}: {e}")))
}

fn not_empty(text: String, name: &str) -> Result<String, AlipayError> {
    if text.is_empty() {
        Err(AlipayError::Missing(name.to_string()))
    } else {
        Ok(text)
    }
}

impl Request {
    pub fn method(&self) -> Method {
        match self {
            Request::PagePay(_) => Method::PagePay,
            Request::WapPay(_) => Method::WapPay,
            Request::Precreate(_) => Method::Precreate,
            Request::Query { .. } => Method::Query,
            Request::Refund(_) => Method::Refund,
            Request::RefundQuery { .. } => Method::RefundQuery,
            Request::BillDownloadUrl { .. } => Method::BillDownloadUrl,
        }
    }

    /// The `biz_content` JSON, fields in the order Alipay's documentation lists them.
    pub fn biz_content(&self) -> Result<String, AlipayError> {
        let pay = |o: &PayOrder, product_code: Option<&str>| PayBiz {
            out_trade_no: o.out_trade_no.clone(),
            total_amount: o.total_amount.to_string(),
            subject: o.subject.clone(),
            product_code: product_code.map(str::to_string),
            time_expire: o.time_expire.clone(),
        };
        match self {
            Request::PagePay(o) => to_json(&pay(o, Some(PRODUCT_PAGE))),
            Request::WapPay(o) => to_json(&pay(o, Some(PRODUCT_WAP))),
            // Precreate's product_code is optional (FACE_TO_FACE_PAYMENT by default).
            Request::Precreate(o) => to_json(&pay(o, None)),
            Request::Query { out_trade_no } => to_json(&TradeBiz {
                out_trade_no: out_trade_no.clone(),
            }),
            Request::Refund(r) => to_json(&RefundBiz {
                out_trade_no: r.out_trade_no.clone(),
                refund_amount: r.refund_amount.to_string(),
                out_request_no: r.out_request_no.clone(),
                refund_reason: r.refund_reason.clone(),
            }),
            Request::RefundQuery {
                out_trade_no,
                out_request_no,
            } => to_json(&RefundQueryBiz {
                out_trade_no: out_trade_no.clone(),
                out_request_no: out_request_no.clone(),
            }),
            Request::BillDownloadUrl { bill_type, bill_date } => to_json(&BillBiz {
                bill_type: bill_type.clone(),
                bill_date: bill_date.clone(),
            }),
        }
    }

    /// The signed parameters, `sign` last. `return_url` is sent only with the page and WAP
    /// cashiers, `notify_url` whenever it is given.
    pub fn signed_params(&self, head: &Head, app_key: &SigningKey) -> Result<Params, AlipayError> {
        let method = self.method();
        let mut p: Params = vec![
            ("app_id".into(), head.app_id.clone()),
            ("method".into(), method.name().into()),
            ("format".into(), FORMAT_JSON.into()),
            ("charset".into(), CHARSET.into()),
            ("sign_type".into(), SIGN_TYPE_RSA2.into()),
            ("timestamp".into(), head.timestamp.clone()),
            ("version".into(), VERSION.into()),
        ];
        if let Some(url) = &head.notify_url {
            p.push(("notify_url".into(), url.clone()));
        }
        if let (true, Some(url)) = (method.is_page(), &head.return_url) {
            p.push(("return_url".into(), url.clone()));
        }
        p.push(("biz_content".into(), self.biz_content()?));
        sign_request(&mut p, app_key)?;
        Ok(p)
    }

    /// The address the buyer's browser is sent to: `{gateway}?…`, every value URL-encoded.
    /// Only for the page and WAP cashiers; the other methods are POSTed ([`Request::form_body`]).
    pub fn page_url(&self, gateway: &str, head: &Head, app_key: &SigningKey) -> Result<String, AlipayError> {
        if !self.method().is_page() {
            return Err(AlipayError::WrongMethod(self.method().name().into()));
        }
        Ok(format!("{gateway}?{}", encode(&self.signed_params(head, app_key)?)?))
    }

    /// The `application/x-www-form-urlencoded` body to POST to the gateway.
    pub fn form_body(&self, head: &Head, app_key: &SigningKey) -> Result<String, AlipayError> {
        encode(&self.signed_params(head, app_key)?)
    }

    /// Reads a merchant's request as the gateway does (the simulator's side): the signature
    /// under the merchant's key first, then the fixed common parameters, then `biz_content`.
    pub fn read(params: &[(String, String)], merchant_key: &VerifyingKey) -> Result<(Head, Request), AlipayError> {
        verify_request(params, merchant_key)?;
        if let Some(charset) = value(params, "charset").filter(|c| !c.eq_ignore_ascii_case(CHARSET)) {
            return Err(AlipayError::WrongCharset(charset.to_string()));
        }
        if let Some(format) = value(params, "format").filter(|f| !f.eq_ignore_ascii_case(FORMAT_JSON)) {
            return Err(AlipayError::Malformed(format!("format {format:?} is not JSON")));
        }
        let version = required(params, "version")?;
        if version != VERSION {
            return Err(AlipayError::Malformed(format!("version {version:?} is not 1.0")));
        }
        let name = required(params, "method")?;
        let method = Method::from_name(&name).ok_or(AlipayError::WrongMethod(name))?;
        let timestamp = required(params, "timestamp")?;
        if !is_china_time(&timestamp) {
            return Err(AlipayError::Malformed(format!("timestamp {timestamp:?}")));
        }
        let head = Head {
            app_id: required(params, "app_id")?,
            timestamp,
            notify_url: optional(params, "notify_url"),
            return_url: optional(params, "return_url"),
        };
        let biz = required(params, "biz_content")?;
        let pay = |product_code: Option<&str>| -> Result<PayOrder, AlipayError> {
            let b: PayBiz = from_json(&biz, "biz_content")?;
            if let Some(code) = product_code {
                if b.product_code.as_deref() != Some(code) {
                    return Err(AlipayError::Malformed(format!(
                        "product_code {:?} is not {code}",
                        b.product_code.unwrap_or_default()
                    )));
                }
            }
            if let Some(t) = b.time_expire.as_deref().filter(|t| !is_china_time(t)) {
                return Err(AlipayError::Malformed(format!("time_expire {t:?}")));
            }
            Ok(PayOrder {
                out_trade_no: not_empty(b.out_trade_no, "out_trade_no")?,
                total_amount: payment_amount(&b.total_amount)?,
                subject: not_empty(b.subject, "subject")?,
                time_expire: b.time_expire,
            })
        };
        let request = match method {
            Method::PagePay => Request::PagePay(pay(Some(PRODUCT_PAGE))?),
            Method::WapPay => Request::WapPay(pay(Some(PRODUCT_WAP))?),
            Method::Precreate => Request::Precreate(pay(None)?),
            Method::Query => {
                let b: TradeBiz = from_json(&biz, "biz_content")?;
                Request::Query {
                    out_trade_no: not_empty(b.out_trade_no, "out_trade_no")?,
                }
            }
            Method::Refund => {
                let b: RefundBiz = from_json(&biz, "biz_content")?;
                Request::Refund(RefundOrder {
                    out_trade_no: not_empty(b.out_trade_no, "out_trade_no")?,
                    refund_amount: payment_amount(&b.refund_amount)?,
                    out_request_no: not_empty(b.out_request_no, "out_request_no")?,
                    refund_reason: b.refund_reason,
                })
            }
            Method::RefundQuery => {
                let b: RefundQueryBiz = from_json(&biz, "biz_content")?;
                Request::RefundQuery {
                    out_trade_no: not_empty(b.out_trade_no, "out_trade_no")?,
                    out_request_no: not_empty(b.out_request_no, "out_request_no")?,
                }
            }
            Method::BillDownloadUrl => {
                let b: BillBiz = from_json(&biz, "biz_content")?;
                Request::BillDownloadUrl {
                    bill_type: not_empty(b.bill_type, "bill_type")?,
                    bill_date: not_empty(b.bill_date, "bill_date")?,
                }
            }
        };
        Ok((head, request))
    }
}

fn encode(params: &[(String, String)]) -> Result<String, AlipayError> {
    serde_urlencoded::to_string(params).map_err(|e| AlipayError::Malformed(e.to_string()))
}

// ---------------------------------------------------------------------------------------
// Answers
// ---------------------------------------------------------------------------------------

/// The top level of an answer, each member's value as its exact text.
struct Members<'a>(Vec<(String, &'a RawValue)>);

impl<'de> Deserialize<'de> for Members<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Members<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut members = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, &'de RawValue>()? {
                    members.push((k, v));
                }
                Ok(Members(members))
            }
        }
        d.deserialize_map(V)
    }
}

/// What every answer member says about itself.
#[derive(Deserialize)]
struct Status {
    code: String,
    #[serde(default)]
    msg: String,
    #[serde(default)]
    sub_code: String,
    #[serde(default)]
    sub_msg: String,
}

/// The member of `body` that answers `method`, as its exact text, once its signature has
/// verified under Alipay's key and its `code` is `10000`.
///
/// The signature covers the raw bytes of the member as Alipay sent them, never a
/// re-serialisation. Like Alipay's own SDKs, if those bytes do not verify and contain `\/`
/// (a JSON escape some of Alipay's servers write for `/`), the text with `/` is tried: it
/// is what such a server signed, and it reads as the same JSON.
pub fn read_answer<'a>(method: Method, body: &'a str, alipay_key: &VerifyingKey) -> Result<&'a str, AlipayError> {
    if body.len() > MAX_ANSWER_BYTES {
        return Err(AlipayError::TooLarge {
            what: "answer",
            len: body.len(),
            limit: MAX_ANSWER_BYTES,
        });
    }
    let Members(members) = from_json(body, "answer")?;
    for (i, (k, _)) in members.iter().enumerate() {
        if members[..i].iter().any(|(seen, _)| seen == k) {
            return Err(AlipayError::DuplicateParameter(k.clone()));
        }
    }
    let member_of = |name: &str| members.iter().find(|(k, _)| k == name).map(|(_, v)| *v);
    let name = method.response_member();
    let member = member_of(&name)
        .or_else(|| member_of("error_response"))
        .ok_or_else(|| AlipayError::Missing(name.clone()))?;
    let text = member.get();
    let status: Status = from_json(text, &name)?;
    let sign: Option<String> = match member_of("sign") {
        Some(raw) => Some(from_json(raw.get(), "sign")?),
        None => None,
    };
    let Some(sign) = sign.filter(|s| !s.is_empty()) else {
        if status.code != CODE_SUCCESS {
            return Err(AlipayError::UnsignedRefusal {
                code: status.code,
                sub_code: status.sub_code,
                sub_msg: status.sub_msg,
            });
        }
        return Err(AlipayError::BadSignature);
    };
    let verifies = alipay_key.verifies(text.as_bytes(), &sign)
        || (text.contains("\\/") && alipay_key.verifies(text.replace("\\/", "/").as_bytes(), &sign));
    if !verifies {
        return Err(AlipayError::BadSignature);
    }
    if status.code != CODE_SUCCESS {
        return Err(AlipayError::Refused {
            code: status.code,
            msg: status.msg,
            sub_code: status.sub_code,
            sub_msg: status.sub_msg,
        });
    }
    Ok(text)
}

/// A signed answer as Alipay writes it (the simulator's side): `member` is the JSON text of
/// the `_response` member, signed as it is.
pub fn answer_body(method: Method, member: &str, alipay_key: &SigningKey) -> Result<String, AlipayError> {
    let sign = sign_text(member, alipay_key)?;
    Ok(format!(
        "{{\"{}\":{member},\"sign\":\"{sign}\"}}",
        method.response_member()
    ))
}

/// A signed refusal (the simulator's side), e.g. `40004` / `ACQ.TRADE_NOT_EXIST` / `交易不存在`.
pub fn refusal_body(
    method: Method,
    code: &str,
    msg: &str,
    sub_code: &str,
    sub_msg: &str,
    alipay_key: &SigningKey,
) -> Result<String, AlipayError> {
    #[derive(Serialize)]
    struct Refusal<'a> {
        code: &'a str,
        msg: &'a str,
        sub_code: &'a str,
        sub_msg: &'a str,
    }
    let member = to_json(&Refusal {
        code,
        msg,
        sub_code,
        sub_msg,
    })?;
    answer_body(method, &member, alipay_key)
}

/// The `code`/`msg` pair of a successful answer, first in its member as Alipay writes it.
const SUCCESS_MSG: &str = "Success";

fn check_trade(theirs: &str, asked: &str) -> Result<(), AlipayError> {
    if theirs == asked {
        Ok(())
    } else {
        Err(AlipayError::OtherTrade(theirs.to_string()))
    }
}

/// `alipay.trade.precreate`'s answer: the code the buyer scans.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrecreateAnswer {
    pub out_trade_no: String,
    /// `https://qr.alipay.com/…`, shown to the buyer as a QR code.
    pub qr_code: String,
}

#[derive(Serialize, Deserialize)]
struct PrecreateMember {
    code: String,
    msg: String,
    out_trade_no: String,
    qr_code: String,
}

impl PrecreateAnswer {
    /// Reads the answer for the trade `out_trade_no` that was asked for.
    pub fn read(body: &str, alipay_key: &VerifyingKey, out_trade_no: &str) -> Result<Self, AlipayError> {
        let m: PrecreateMember = from_json(read_answer(Method::Precreate, body, alipay_key)?, "precreate")?;
        check_trade(&m.out_trade_no, out_trade_no)?;
        Ok(PrecreateAnswer {
            out_trade_no: m.out_trade_no,
            qr_code: not_empty(m.qr_code, "qr_code")?,
        })
    }

    pub fn to_body(&self, alipay_key: &SigningKey) -> Result<String, AlipayError> {
        let member = to_json(&PrecreateMember {
            code: CODE_SUCCESS.into(),
            msg: SUCCESS_MSG.into(),
            out_trade_no: self.out_trade_no.clone(),
            qr_code: self.qr_code.clone(),
        })?;
        answer_body(Method::Precreate, &member, alipay_key)
    }
}

/// `alipay.trade.query`'s answer: where a trade stands (补单).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryAnswer {
    /// Alipay's trade number.
    pub trade_no: String,
    pub out_trade_no: String,
    /// `WAIT_BUYER_PAY`, `TRADE_CLOSED`, `TRADE_SUCCESS` or `TRADE_FINISHED`.
    pub trade_status: String,
    pub total_amount: Money,
    /// The buyer's Alipay user id (`buyer_user_id`, or `buyer_open_id` for apps made since 2024).
    pub buyer_id: Option<String>,
    /// When the buyer paid (`send_pay_date`), China time.
    pub send_pay_date: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct QueryMember {
    code: String,
    msg: String,
    trade_no: String,
    out_trade_no: String,
    trade_status: String,
    total_amount: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    buyer_user_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    buyer_open_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    send_pay_date: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    trans_currency: Option<String>,
}

impl QueryAnswer {
    /// Reads the answer about trade `out_trade_no`. A trade Alipay does not know comes back
    /// as [`AlipayError::Refused`] with `sub_code` [`SUB_TRADE_NOT_EXIST`].
    pub fn read(body: &str, alipay_key: &VerifyingKey, out_trade_no: &str) -> Result<Self, AlipayError> {
        let m: QueryMember = from_json(read_answer(Method::Query, body, alipay_key)?, "query")?;
        check_trade(&m.out_trade_no, out_trade_no)?;
        check_currency(m.trans_currency.as_deref())?;
        Ok(QueryAnswer {
            trade_no: not_empty(m.trade_no, "trade_no")?,
            out_trade_no: m.out_trade_no,
            trade_status: not_empty(m.trade_status, "trade_status")?,
            total_amount: payment_amount(&m.total_amount)?,
            buyer_id: m.buyer_user_id.or(m.buyer_open_id).filter(|b| !b.is_empty()),
            send_pay_date: m.send_pay_date.filter(|d| !d.is_empty()),
        })
    }

    /// The payment this answer stands for, if the buyer paid: the same facts a notification
    /// would carry, for the same one path.
    pub fn payment(&self) -> Result<Payment, AlipayError> {
        if !is_paid(&self.trade_status) {
            return Err(AlipayError::NotPaid(self.trade_status.clone()));
        }
        Ok(Payment {
            out_trade_no: self.out_trade_no.clone(),
            trade_no: self.trade_no.clone(),
            amount: self.total_amount,
            buyer_id: self.buyer_id.clone(),
            paid_at: self.send_pay_date.clone(),
        })
    }

    pub fn to_body(&self, alipay_key: &SigningKey) -> Result<String, AlipayError> {
        let member = to_json(&QueryMember {
            code: CODE_SUCCESS.into(),
            msg: SUCCESS_MSG.into(),
            trade_no: self.trade_no.clone(),
            out_trade_no: self.out_trade_no.clone(),
            trade_status: self.trade_status.clone(),
            total_amount: self.total_amount.to_string(),
            buyer_user_id: self.buyer_id.clone(),
            buyer_open_id: None,
            send_pay_date: self.send_pay_date.clone(),
            trans_currency: None,
        })?;
        answer_body(Method::Query, &member, alipay_key)
    }
}

/// `alipay.trade.refund`'s answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundAnswer {
    pub trade_no: String,
    pub out_trade_no: String,
    /// `fund_change` `Y`: this request moved money. `N`: it did not (a repeat of a refund
    /// already made, or one still in progress: ask with fastpay.refund.query).
    pub fund_change: bool,
    /// `refund_fee`: all that has been refunded on the trade so far, not this request alone.
    pub refund_fee: Money,
    pub gmt_refund_pay: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct RefundMember {
    code: String,
    msg: String,
    trade_no: String,
    out_trade_no: String,
    fund_change: String,
    refund_fee: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gmt_refund_pay: Option<String>,
}

impl RefundAnswer {
    pub fn read(body: &str, alipay_key: &VerifyingKey, out_trade_no: &str) -> Result<Self, AlipayError> {
        let m: RefundMember = from_json(read_answer(Method::Refund, body, alipay_key)?, "refund")?;
        check_trade(&m.out_trade_no, out_trade_no)?;
        let fund_change = match m.fund_change.as_str() {
            "Y" => true,
            "N" => false,
            other => return Err(AlipayError::Malformed(format!("fund_change {other:?}"))),
        };
        Ok(RefundAnswer {
            trade_no: not_empty(m.trade_no, "trade_no")?,
            out_trade_no: m.out_trade_no,
            fund_change,
            refund_fee: Money::parse_yuan(&m.refund_fee)?,
            gmt_refund_pay: m.gmt_refund_pay.filter(|d| !d.is_empty()),
        })
    }

    pub fn to_body(&self, alipay_key: &SigningKey) -> Result<String, AlipayError> {
        let member = to_json(&RefundMember {
            code: CODE_SUCCESS.into(),
            msg: SUCCESS_MSG.into(),
            trade_no: self.trade_no.clone(),
            out_trade_no: self.out_trade_no.clone(),
            fund_change: if self.fund_change { "Y" } else { "N" }.into(),
            refund_fee: self.refund_fee.to_string(),
            gmt_refund_pay: self.gmt_refund_pay.clone(),
        })?;
        answer_body(Method::Refund, &member, alipay_key)
    }
}

/// `alipay.trade.fastpay.refund.query`'s answer. Alipay's rule: the refund is done when the
/// answer carries it and `refund_status` is `REFUND_SUCCESS` (or, from older servers, absent);
/// an answer without `refund_amount` means no such refund was made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundQueryAnswer {
    pub out_trade_no: String,
    pub out_request_no: Option<String>,
    pub refund_amount: Option<Money>,
    pub refund_status: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct RefundQueryMember {
    code: String,
    msg: String,
    out_trade_no: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    out_request_no: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    refund_amount: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    refund_status: Option<String>,
}

impl RefundQueryAnswer {
    /// Reads the answer about refund `out_request_no` of trade `out_trade_no`.
    pub fn read(
        body: &str,
        alipay_key: &VerifyingKey,
        out_trade_no: &str,
        out_request_no: &str,
    ) -> Result<Self, AlipayError> {
        let m: RefundQueryMember = from_json(read_answer(Method::RefundQuery, body, alipay_key)?, "refund query")?;
        check_trade(&m.out_trade_no, out_trade_no)?;
        if let Some(theirs) = m.out_request_no.as_deref().filter(|r| *r != out_request_no) {
            return Err(AlipayError::OtherTrade(format!("{out_trade_no}/{theirs}")));
        }
        Ok(RefundQueryAnswer {
            out_trade_no: m.out_trade_no,
            out_request_no: m.out_request_no,
            refund_amount: m
                .refund_amount
                .as_deref()
                .filter(|a| !a.is_empty())
                .map(payment_amount)
                .transpose()?,
            refund_status: m.refund_status.filter(|s| !s.is_empty()),
        })
    }

    /// The amount refunded by this request, if it is done.
    pub fn refunded(&self) -> Option<Money> {
        match self.refund_status.as_deref() {
            None | Some(REFUND_SUCCESS) => self.refund_amount,
            Some(_) => None,
        }
    }

    pub fn to_body(&self, alipay_key: &SigningKey) -> Result<String, AlipayError> {
        let member = to_json(&RefundQueryMember {
            code: CODE_SUCCESS.into(),
            msg: SUCCESS_MSG.into(),
            out_trade_no: self.out_trade_no.clone(),
            out_request_no: self.out_request_no.clone(),
            refund_amount: self.refund_amount.map(|m| m.to_string()),
            refund_status: self.refund_status.clone(),
        })?;
        answer_body(Method::RefundQuery, &member, alipay_key)
    }
}

/// `alipay.data.dataservice.bill.downloadurl.query`'s answer: where the day's bill zip is
/// (valid for 30 seconds). A day without trades is refused with a `sub_code`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BillUrlAnswer {
    pub bill_download_url: String,
}

#[derive(Serialize, Deserialize)]
struct BillUrlMember {
    code: String,
    msg: String,
    bill_download_url: String,
}

impl BillUrlAnswer {
    pub fn read(body: &str, alipay_key: &VerifyingKey) -> Result<Self, AlipayError> {
        let m: BillUrlMember = from_json(read_answer(Method::BillDownloadUrl, body, alipay_key)?, "bill url")?;
        Ok(BillUrlAnswer {
            bill_download_url: not_empty(m.bill_download_url, "bill_download_url")?,
        })
    }

    pub fn to_body(&self, alipay_key: &SigningKey) -> Result<String, AlipayError> {
        let member = to_json(&BillUrlMember {
            code: CODE_SUCCESS.into(),
            msg: SUCCESS_MSG.into(),
            bill_download_url: self.bill_download_url.clone(),
        })?;
        answer_body(Method::BillDownloadUrl, &member, alipay_key)
    }
}

// ---------------------------------------------------------------------------------------
// Notifications
// ---------------------------------------------------------------------------------------

fn is_paid(trade_status: &str) -> bool {
    trade_status == TRADE_SUCCESS || trade_status == TRADE_FINISHED
}

/// A payment as the platform takes it, from a notification, a query or the bill alike.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payment {
    pub out_trade_no: String,
    /// Alipay's trade number: the key a repeated notification is recognised by.
    pub trade_no: String,
    pub amount: Money,
    pub buyer_id: Option<String>,
    /// When the buyer paid (`gmt_payment`), China time.
    pub paid_at: Option<String>,
}

/// A trade's asynchronous notification, every field the platform reads or the simulator
/// sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub notify_time: String,
    pub notify_id: String,
    pub app_id: String,
    /// The merchant's PID (`2088…`) the money went to.
    pub seller_id: String,
    pub trade_no: String,
    pub out_trade_no: String,
    pub trade_status: String,
    pub total_amount: Money,
    pub buyer_id: Option<String>,
    pub subject: Option<String>,
    pub gmt_create: Option<String>,
    pub gmt_payment: Option<String>,
    /// Present on a refund's notification only: all that has been refunded so far.
    pub refund_fee: Option<Money>,
}

impl Notification {
    /// Reads a notification's form body and checks it, in this order: each name once, the
    /// signature under Alipay's key before anything in it is believed, then that it is for
    /// our `app_id` and our `seller_id`, in CNY, not a refund's, that `trade_status` says the
    /// buyer paid, and that `total_amount` is an exact positive yuan amount.
    pub fn read(body: &str, app_id: &str, seller_id: &str, alipay_key: &VerifyingKey) -> Result<Payment, AlipayError> {
        let params = parse_params(body)?;
        Notification::read_params(&params, app_id, seller_id, alipay_key)?.payment()
    }

    /// Checks parsed parameters as [`Notification::read`] does, up to the trade's status
    /// (a verified notification of an unpaid or closed trade is returned, for the log).
    pub fn read_params(
        params: &[(String, String)],
        app_id: &str,
        seller_id: &str,
        alipay_key: &VerifyingKey,
    ) -> Result<Notification, AlipayError> {
        verify_notification(params, alipay_key)?;
        if let Some(charset) = value(params, "charset").filter(|c| !c.eq_ignore_ascii_case(CHARSET)) {
            return Err(AlipayError::WrongCharset(charset.to_string()));
        }
        let their_app = required(params, "app_id")?;
        if their_app != app_id {
            return Err(AlipayError::WrongApp(their_app));
        }
        let their_seller = required(params, "seller_id")?;
        if their_seller != seller_id {
            return Err(AlipayError::WrongSeller(their_seller));
        }
        check_currency(value(params, "trans_currency"))?;
        let refund_fee = optional(params, "refund_fee")
            .map(|f| Money::parse_yuan(&f))
            .transpose()?;
        Ok(Notification {
            notify_time: required(params, "notify_time")?,
            notify_id: required(params, "notify_id")?,
            app_id: their_app,
            seller_id: their_seller,
            trade_no: required(params, "trade_no")?,
            out_trade_no: required(params, "out_trade_no")?,
            trade_status: required(params, "trade_status")?,
            total_amount: Money::parse_yuan(&required(params, "total_amount")?)?,
            buyer_id: optional(params, "buyer_id").or_else(|| optional(params, "buyer_open_id")),
            subject: optional(params, "subject"),
            gmt_create: optional(params, "gmt_create"),
            gmt_payment: optional(params, "gmt_payment"),
            refund_fee,
        })
    }

    /// The payment this notification tells of: refused if it is a refund's, if the trade is
    /// not paid, or if the amount is not positive.
    pub fn payment(&self) -> Result<Payment, AlipayError> {
        if let Some(refund_fee) = self.refund_fee {
            return Err(AlipayError::RefundNotice {
                out_trade_no: self.out_trade_no.clone(),
                refund_fee,
            });
        }
        if !is_paid(&self.trade_status) {
            return Err(AlipayError::NotPaid(self.trade_status.clone()));
        }
        if !self.total_amount.is_positive() {
            return Err(AlipayError::NotPositive(self.total_amount.to_string()));
        }
        Ok(Payment {
            out_trade_no: self.out_trade_no.clone(),
            trade_no: self.trade_no.clone(),
            amount: self.total_amount,
            buyer_id: self.buyer_id.clone(),
            paid_at: self.gmt_payment.clone(),
        })
    }

    /// The parameters Alipay posts (the simulator's side), in the order its servers send
    /// them, `sign` over [`notification_signing_string`] with Alipay's key.
    pub fn signed_params(&self, alipay_key: &SigningKey) -> Result<Params, AlipayError> {
        let mut p: Params = Vec::new();
        let mut put = |k: &str, v: Option<&str>| {
            if let Some(v) = v {
                p.push((k.to_string(), v.to_string()));
            }
        };
        put("gmt_create", self.gmt_create.as_deref());
        put("charset", Some(CHARSET));
        put("subject", self.subject.as_deref());
        put("buyer_id", self.buyer_id.as_deref());
        put("notify_id", Some(&self.notify_id));
        put("notify_type", Some(NOTIFY_TYPE));
        put("trade_status", Some(&self.trade_status));
        put("app_id", Some(&self.app_id));
        put("sign_type", Some(SIGN_TYPE_RSA2));
        put("seller_id", Some(&self.seller_id));
        put("gmt_payment", self.gmt_payment.as_deref());
        put("notify_time", Some(&self.notify_time));
        put("version", Some(VERSION));
        put("out_trade_no", Some(&self.out_trade_no));
        let total = self.total_amount.to_string();
        put("total_amount", Some(&total));
        let refund = self.refund_fee.map(|m| m.to_string());
        put("refund_fee", refund.as_deref());
        put("trade_no", Some(&self.trade_no));
        put("auth_app_id", Some(&self.app_id));
        sign_notification(&mut p, alipay_key)?;
        Ok(p)
    }

    /// The `application/x-www-form-urlencoded` body Alipay posts to `notify_url`.
    pub fn form_body(&self, alipay_key: &SigningKey) -> Result<String, AlipayError> {
        encode(&self.signed_params(alipay_key)?)
    }
}

// ---------------------------------------------------------------------------------------
// The bill
// ---------------------------------------------------------------------------------------

/// A payment as the day's trade bill lists it (业务明细, 业务类型 交易).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BillPayment {
    /// 支付宝交易号
    pub trade_no: String,
    /// 商户订单号
    pub out_trade_no: String,
    /// 订单金额（元）
    pub amount: Money,
    /// 完成时间, China time.
    pub finished_at: String,
}

/// The detail file's columns, as Alipay names them (full-width parentheses).
pub const BILL_COLUMNS: [&str; 25] = [
    "支付宝交易号",
    "商户订单号",
    "业务类型",
    "商品名称",
    "创建时间",
    "完成时间",
    "门店编号",
    "门店名称",
    "操作员",
    "终端号",
    "对方账户",
    "订单金额（元）",
    "商家实收（元）",
    "支付宝红包（元）",
    "集分宝（元）",
    "支付宝优惠（元）",
    "商家优惠（元）",
    "券核销金额（元）",
    "券名称",
    "商家红包消费金额（元）",
    "卡消费金额（元）",
    "退款批次号/请求号",
    "服务费（元）",
    "分润（元）",
    "备注",
];
/// 业务类型 of a payment.
pub const BILL_KIND_PAYMENT: &str = "交易";
/// 业务类型 of a refund: money going back, never a payment.
pub const BILL_KIND_REFUND: &str = "退款";

/// One CSV line's fields: commas separate, double quotes may enclose a field (a quote inside
/// doubled). Each field is trimmed of spaces and of the tab Alipay puts after numbers so that
/// spreadsheets keep them as text.
fn csv_fields(line: &str) -> Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') if field.trim().is_empty() => {
                field.clear();
                quoted = true;
            }
            (false, ',') => fields.push(std::mem::take(&mut field)),
            (false, c) => field.push(c),
        }
    }
    if quoted {
        return Err("a quote is not closed".into());
    }
    fields.push(field);
    Ok(fields.into_iter().map(|f| f.trim().to_string()).collect())
}

/// Reads the detail file of a trade bill (`…_业务明细.csv`, already unzipped and decoded from
/// GBK, see [`decode_gbk`]) into its payments. Lines starting with `#` are Alipay's comments
/// (the account, the period, the totals); the first other line names the columns, found by
/// name; a refund's line is not a payment; a line of any other kind, with the wrong number of
/// fields, or with an amount that is not exact yuan is refused with its line number, so a
/// reconciliation never runs on half a bill.
pub fn read_bill_detail(text: &str) -> Result<Vec<BillPayment>, AlipayError> {
    if text.len() > MAX_BILL_BYTES {
        return Err(AlipayError::TooLarge {
            what: "bill",
            len: text.len(),
            limit: MAX_BILL_BYTES,
        });
    }
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut header: Option<Vec<String>> = None;
    let mut columns = [0usize; 5];
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let bad = |reason: String| AlipayError::Bill { line: n, reason };
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let fields = csv_fields(line).map_err(bad)?;
        let Some(names) = &header else {
            for (slot, wanted) in
                columns
                    .iter_mut()
                    .zip(["支付宝交易号", "商户订单号", "业务类型", "订单金额（元）", "完成时间"])
            {
                *slot = fields
                    .iter()
                    .position(|f| f == wanted || *f == wanted.replace('（', "(").replace('）', ")"))
                    .ok_or_else(|| bad(format!("no column {wanted}")))?;
            }
            header = Some(fields);
            continue;
        };
        if fields.len() != names.len() {
            return Err(bad(format!("{} fields, the header has {}", fields.len(), names.len())));
        }
        let [trade_no, out_trade_no, kind, amount, finished_at] = columns.map(|c| fields[c].as_str());
        match kind {
            BILL_KIND_PAYMENT => {}
            BILL_KIND_REFUND => continue,
            other => return Err(bad(format!("业务类型 {other:?} is neither 交易 nor 退款"))),
        }
        if trade_no.is_empty() || out_trade_no.is_empty() {
            return Err(bad("a payment without its trade numbers".into()));
        }
        if !is_china_time(finished_at) {
            return Err(bad(format!("完成时间 {finished_at:?}")));
        }
        let amount = payment_amount(amount).map_err(|e| bad(e.to_string()))?;
        out.push(BillPayment {
            trade_no: trade_no.to_string(),
            out_trade_no: out_trade_no.to_string(),
            amount,
            finished_at: finished_at.to_string(),
        });
    }
    if header.is_none() {
        return Err(AlipayError::Bill {
            line: 0,
            reason: "no header line".into(),
        });
    }
    Ok(out)
}

/// The detail file as Alipay writes it (the simulator's side), UTF-8 (encode with
/// [`encode_gbk`] for the real thing): `account` is the merchant's PID, `start`/`end` and
/// `exported_at` are written as given (Alipay writes `2016年04月05日 00:00:00`).
pub fn write_bill_detail(
    account: &str,
    start: &str,
    end: &str,
    exported_at: &str,
    payments: &[BillPayment],
) -> Result<String, AlipayError> {
    let mut total = Money::ZERO;
    let mut text = String::new();
    text.push_str("#支付宝业务明细查询\n");
    text.push_str(&format!("#账号：[{account}]\n"));
    text.push_str(&format!("#起始日期：[{start}]   终止日期：[{end}]\n"));
    text.push_str("#-----------------------------------------业务明细列表----------------------------------------\n");
    text.push_str(&BILL_COLUMNS.join(","));
    text.push('\n');
    for p in payments {
        total = total.checked_add(p.amount)?;
        let quote = |s: &str| {
            if s.contains([',', '"']) {
                format!("\"{}\"", s.replace('"', "\"\""))
            } else {
                s.to_string()
            }
        };
        let amount = p.amount.to_string();
        let mut fields = vec![String::new(); BILL_COLUMNS.len()];
        fields[0] = format!("{}\t", quote(&p.trade_no));
        fields[1] = format!("{}\t", quote(&p.out_trade_no));
        fields[2] = BILL_KIND_PAYMENT.into();
        fields[5] = p.finished_at.clone();
        fields[11] = amount.clone();
        fields[12] = amount;
        text.push_str(&fields.join(","));
        text.push('\n');
    }
    text.push_str("#-----------------------------------------业务明细列表结束------------------------------------\n");
    text.push_str(&format!(
        "#交易合计：{}笔，商家实收共{total}元，商家优惠共0.00元\n",
        payments.len()
    ));
    text.push_str("#退款合计：0笔，商家实收退款共0.00元，商家优惠退款共0.00元\n");
    text.push_str(&format!("#导出时间：[{exported_at}]\n"));
    Ok(text)
}

/// The bill's bytes (GBK, as in Alipay's zip) as text. A byte sequence that is not GBK is
/// refused rather than replaced: a mangled line could be a mangled amount.
pub fn decode_gbk(bytes: &[u8]) -> Result<String, AlipayError> {
    if bytes.len() > MAX_BILL_BYTES {
        return Err(AlipayError::TooLarge {
            what: "bill",
            len: bytes.len(),
            limit: MAX_BILL_BYTES,
        });
    }
    encoding_rs::GBK
        .decode_without_bom_handling_and_without_replacement(bytes)
        .map(|text| text.into_owned())
        .ok_or_else(|| AlipayError::Malformed("the bill is not GBK".into()))
}

/// Text as GBK bytes, as Alipay writes its bills (the simulator's side). A character GBK
/// cannot hold is refused.
pub fn encode_gbk(text: &str) -> Result<Vec<u8>, AlipayError> {
    let (bytes, _, unmappable) = encoding_rs::GBK.encode(text);
    if unmappable {
        return Err(AlipayError::Malformed("a character GBK cannot hold".into()));
    }
    Ok(bytes.into_owned())
}

/// The end of the detail file's name in Alipay's bill zip (`…_业务明细.csv`); the summary
/// beside it is `…_业务明细(汇总).csv`.
pub const BILL_DETAIL_SUFFIX: &str = "_业务明细.csv";

/// The bill as Alipay serves it (a zip holding the 业务明细 CSV and its summary, GBK, the
/// entry names GBK too unless flagged UTF-8) or bare: the detail file's text. The zip is
/// read with bounds: the detail file, unpacked, may not pass `MAX_BILL_BYTES` (a small zip
/// can unpack to gigabytes), and a zip without exactly one detail file is refused.
pub fn read_bill(bytes: &[u8]) -> Result<String, AlipayError> {
    if !bytes.starts_with(b"PK\x03\x04") {
        return decode_gbk(bytes);
    }
    if bytes.len() > MAX_BILL_BYTES {
        return Err(AlipayError::TooLarge {
            what: "bill",
            len: bytes.len(),
            limit: MAX_BILL_BYTES,
        });
    }
    let bad = |e: zip::result::ZipError| AlipayError::Malformed(format!("the bill zip: {e}"));
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(bad)?;
    let mut detail = None;
    for i in 0..archive.len() {
        let entry = archive.by_index_raw(i).map_err(bad)?;
        let raw = entry.name_raw();
        let name = match std::str::from_utf8(raw) {
            Ok(name) => name.to_string(),
            Err(_) => encoding_rs::GBK.decode(raw).0.into_owned(),
        };
        if name.ends_with(BILL_DETAIL_SUFFIX) {
            if detail.is_some() {
                return Err(AlipayError::Malformed("the bill zip holds two detail files".into()));
            }
            detail = Some(i);
        }
    }
    let index = detail.ok_or_else(|| AlipayError::Malformed("the bill zip holds no 业务明细 file".into()))?;
    let entry = archive.by_index(index).map_err(bad)?;
    let mut unpacked = Vec::new();
    let limit = u64::try_from(MAX_BILL_BYTES).unwrap_or(u64::MAX);
    std::io::Read::read_to_end(&mut std::io::Read::take(entry, limit + 1), &mut unpacked)
        .map_err(|e| AlipayError::Malformed(format!("the bill zip: {e}")))?;
    if unpacked.len() > MAX_BILL_BYTES {
        return Err(AlipayError::TooLarge {
            what: "unpacked bill",
            len: unpacked.len(),
            limit: MAX_BILL_BYTES,
        });
    }
    decode_gbk(&unpacked)
}

/// The simulator's side: a bill zip as Alipay packs it, the detail and its summary (both
/// GBK) named `{prefix}_业务明细.csv` and `{prefix}_业务明细(汇总).csv`.
pub fn write_bill_zip(prefix: &str, detail_gbk: &[u8], summary_gbk: &[u8]) -> Result<Vec<u8>, AlipayError> {
    let bad = |e: zip::result::ZipError| AlipayError::Malformed(format!("writing the bill zip: {e}"));
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in [
        (format!("{prefix}{BILL_DETAIL_SUFFIX}"), detail_gbk),
        (format!("{prefix}_业务明细(汇总).csv"), summary_gbk),
    ] {
        out.start_file(name, options).map_err(bad)?;
        std::io::Write::write_all(&mut out, bytes)
            .map_err(|e| AlipayError::Malformed(format!("writing the bill zip: {e}")))?;
    }
    Ok(out.finish().map_err(bad)?.into_inner())
}
