//! 易支付 (EPay) V2, the RSA interface of 彩虹易支付 (and the clones that copy it): every
//! request a merchant sends is signed with the merchant's private key, every answer and
//! notification the platform sends is signed with the platform's private key, both
//! SHA256withRSA (RSASSA-PKCS1-v1_5) in base64, `sign_type=RSA`. The signed string is
//! V1's (the non-empty parameters but `sign` and `sign_type`, sorted by name, `k=v`
//! joined with `&`), where "empty" is PHP's `trim($v) === ''`, and every message carries
//! a 10-digit `timestamp` that the reader holds to 300 seconds of its own clock (the
//! official SDK's `abs(time() - timestamp) > 300`), so a captured notification cannot be
//! replayed a day later.
//!
//! Requests are forms POSTed to `api/pay/create`, `api/pay/query`, `api/pay/refund` and
//! `api/pay/refundquery`; answers are JSON objects whose `code` is 0 when the request was
//! done (signed) and anything else when it was refused (`{"code":-1,"msg":…}`, unsigned,
//! so it proves nothing but "not done"). The payment notification is a GET to the
//! merchant's `notify_url`, acknowledged with `success`.
//!
//! This module holds both sides: the platform's adapter (a merchant) builds signed
//! requests and reads answers and notifications strictly; the sandbox's simulator (the
//! platform) reads a merchant's signed request and builds signed answers and
//! notifications, byte for byte as the PHP platform does (`http_build_query`,
//! `json_encode`, the notification's amount printed as a PHP float).
//!
//! Read strictly, each refusal its own variant: a message over its size bound, a
//! parameter or key given twice, a parameter name PHP would read differently, a
//! `sign_type` other than `RSA`, a wrong signature, another merchant's `pid`, a
//! `trade_status` other than `TRADE_SUCCESS`, an amount that is not an exact positive yuan
//! string, a currency other than CNY (V2 has none; a clone adding one is not read as yuan),
//! a timestamp outside the window.

use std::fmt::Write as _;

use danbao_domain::money::MoneyError;
use danbao_domain::Money;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde::Deserialize;

use crate::epay::{self, EpayError, Params};
use crate::rsa_sha256::{SigningKey, VerifyingKey};

/// The signature kind of every V2 message. V1's `MD5` is refused here: a merchant that
/// chose RSA has no MD5 key for anyone to check against, and accepting it would let
/// whoever knows the old key in.
pub const SIGN_TYPE_RSA: &str = "RSA";
/// The one `trade_status` that means the buyer paid.
pub const TRADE_SUCCESS: &str = "TRADE_SUCCESS";
/// What a merchant answers a notification it has taken; anything else makes the platform
/// send it again.
pub const ACK: &str = "success";
/// How far a message's `timestamp` may be from the reader's clock, either way: the
/// official SDK's `verify` and the platform's `api_verify` both refuse `abs(now - ts) > 300`.
pub const TIMESTAMP_WINDOW_S: i64 = 300;
/// The largest form or query string read. A notification is about 700 bytes with its
/// 344-byte signature; a create request with long URLs and a 127-byte name stays under
/// 2 KiB. 8 KiB leaves room for `param` and extension fields, and no more.
pub const MAX_FORM_BYTES: usize = 8 * 1024;
/// The largest JSON answer read. The create answer's `pay_info` can be an HTML form
/// (`pay_type=html`) of a few KiB; nothing the platform sends comes near 64 KiB.
pub const MAX_ANSWER_BYTES: usize = 64 * 1024;
/// The currency every V2 amount is in. V2 has no currency field.
pub const CURRENCY_CNY: &str = "CNY";
/// The platform deduplicates a refund by `out_refund_no` only when it is longer than
/// this (`strlen($queryArr['out_refund_no']) > 5` in `lib/api/Pay.php`); a shorter one
/// would refund twice on a retry.
pub const OUT_REFUND_NO_MIN_BYTES: usize = 6;

/// The API paths, relative to the platform's base URL (which ends with `/`).
pub const PATH_CREATE: &str = "api/pay/create";
pub const PATH_QUERY: &str = "api/pay/query";
pub const PATH_REFUND: &str = "api/pay/refund";
pub const PATH_REFUND_QUERY: &str = "api/pay/refundquery";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Epay2Error {
    #[error("{what} of {len} bytes is over the {limit}-byte bound")]
    TooLarge {
        what: &'static str,
        len: usize,
        limit: usize,
    },
    #[error("malformed: {0}")]
    Malformed(String),
    #[error("parameter {0:?} given twice")]
    DuplicateParameter(String),
    #[error("sign_type {0:?} where RSA is required")]
    WrongSignType(String),
    #[error("signature does not verify")]
    BadSignature,
    #[error("for merchant {0:?}, not ours")]
    WrongMerchant(String),
    #[error("trade_status {0:?} is not a payment")]
    NotPaid(String),
    #[error(transparent)]
    Amount(#[from] MoneyError),
    #[error("amount {0:?} is no payment")]
    NotPositive(String),
    #[error("currency {0:?} is not CNY")]
    WrongCurrency(String),
    #[error("timestamp {0:?} is not 10 digits")]
    BadTimestamp(String),
    #[error("timestamp {timestamp} is more than 300 s from now ({now})")]
    StaleTimestamp { timestamp: i64, now: i64 },
    #[error("the answer is about {0:?}, not what was asked")]
    OtherOrder(String),
    /// A JSON answer with a nested value: the platform signs only scalars, so an array or
    /// object in an answer is something nobody signed.
    #[error("field {0:?} is not covered by the signature")]
    UnsignedField(String),
    /// The platform refused the request (`code` other than 0). Such answers are unsigned:
    /// they say only that nothing was done.
    #[error("refused by the platform ({code}): {msg}")]
    Refused { code: i64, msg: String },
    #[error("could not sign: {0}")]
    Signing(String),
}

/// PHP's `trim` characters: a value made only of these is "empty" to the platform's
/// `isEmpty` and left out of the signed string.
fn php_blank(v: &str) -> bool {
    v.trim_matches([' ', '\t', '\n', '\r', '\0', '\x0B']).is_empty()
}

/// The string V2 signs: V1's rule ([`epay::signing_string`]) over the parameters whose
/// value is not blank to PHP's `trim` (the SDK's and the platform's `isEmpty`).
pub fn signing_string(params: &[(String, String)]) -> String {
    let kept: Params = params.iter().filter(|(_, v)| !php_blank(v)).cloned().collect();
    epay::signing_string(&kept)
}

/// The base64 SHA256withRSA signature of `params` under `key`.
pub fn sign(params: &[(String, String)], key: &SigningKey) -> Result<String, Epay2Error> {
    key.sign_base64(signing_string(params).as_bytes())
        .map_err(|e| Epay2Error::Signing(e.to_string()))
}

/// Whether `params` carry a valid `sign` under `key` (RSA only; `sign_type` is checked by
/// the readers, which say why).
pub fn verifies(params: &[(String, String)], key: &VerifyingKey) -> bool {
    match epay::value(params, "sign") {
        Some(sign) if !sign.is_empty() => key.verifies(signing_string(params).as_bytes(), sign),
        _ => false,
    }
}

/// `params` with `timestamp` (unless given), then `sign` and `sign_type` appended, as the
/// SDK's `buildRequestParam` and the platform's `creat_callback` do.
fn signed(mut params: Params, key: &SigningKey, now: i64) -> Result<Params, Epay2Error> {
    params.retain(|(k, v)| k != "sign" && k != "sign_type" && !v.is_empty());
    if epay::value(&params, "timestamp").is_none() {
        params.push(("timestamp".into(), now.to_string()));
    }
    let sign = sign(&params, key)?;
    params.push(("sign".into(), sign));
    params.push(("sign_type".into(), SIGN_TYPE_RSA.into()));
    Ok(params)
}

/// A parameter name PHP reads as itself: a letter or `_`, then letters, digits and `_`.
/// PHP turns `a.b` and `a b` into `a_b`, `a[]` into an array (which it leaves out of the
/// signed string) and `10` into an integer key (sorted numerically); what PHP signed and
/// what we read would then differ.
fn php_plain_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// A form body or query string as parameters, refusing what is over [`MAX_FORM_BYTES`],
/// a name given twice (PHP would take the last, a Rust reader the first) and a name PHP
/// would read differently.
pub fn read_form(text: &str) -> Result<Params, Epay2Error> {
    if text.len() > MAX_FORM_BYTES {
        return Err(Epay2Error::TooLarge {
            what: "form",
            len: text.len(),
            limit: MAX_FORM_BYTES,
        });
    }
    let params = epay::parse_params(text).map_err(|e| match e {
        // V1's reader refuses both a broken string and a repeated name as Malformed; which
        // one it was is told by decoding again and looking for the repeat.
        EpayError::Malformed(m) => match serde_urlencoded::from_str::<Params>(text) {
            Ok(all) => match first_repeat(all.iter().map(|(k, _)| k.as_str())) {
                Some(k) => Epay2Error::DuplicateParameter(k.to_string()),
                None => Epay2Error::Malformed(m),
            },
            Err(_) => Epay2Error::Malformed(m),
        },
        other => Epay2Error::Malformed(other.to_string()),
    })?;
    if let Some((k, _)) = params.iter().find(|(k, _)| !php_plain_name(k)) {
        return Err(Epay2Error::Malformed(format!("parameter name {k:?}")));
    }
    Ok(params)
}

fn first_repeat<'a>(names: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let names: Vec<&str> = names.collect();
    names
        .iter()
        .enumerate()
        .find(|(i, k)| names[..*i].contains(k))
        .map(|(_, k)| *k)
}

/// `sign_type` must say RSA and the signature must verify under `key`; nothing else in the
/// message is believed before this.
fn check_signature(params: &[(String, String)], key: &VerifyingKey) -> Result<(), Epay2Error> {
    match epay::value(params, "sign_type") {
        Some(SIGN_TYPE_RSA) => {}
        Some(other) => return Err(Epay2Error::WrongSignType(other.to_string())),
        None => return Err(Epay2Error::WrongSignType(String::new())),
    }
    if verifies(params, key) {
        Ok(())
    } else {
        Err(Epay2Error::BadSignature)
    }
}

/// The message's `timestamp`: exactly 10 digits, within [`TIMESTAMP_WINDOW_S`] of `now`.
fn check_timestamp(params: &[(String, String)], now: i64) -> Result<i64, Epay2Error> {
    let text = epay::value(params, "timestamp").unwrap_or_default();
    if text.len() != 10 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Epay2Error::BadTimestamp(text.chars().take(32).collect()));
    }
    let timestamp: i64 = text.parse().map_err(|_| Epay2Error::BadTimestamp(text.to_string()))?;
    if now.abs_diff(timestamp) > TIMESTAMP_WINDOW_S.unsigned_abs() {
        return Err(Epay2Error::StaleTimestamp { timestamp, now });
    }
    Ok(timestamp)
}

/// V2 has no currency; an extension field that names another one is refused rather than
/// read as yuan.
fn check_currency(params: &[(String, String)]) -> Result<(), Epay2Error> {
    match epay::value(params, "currency") {
        None | Some(CURRENCY_CNY) => Ok(()),
        Some(other) => Err(Epay2Error::WrongCurrency(other.to_string())),
    }
}

fn required(params: &[(String, String)], name: &str) -> Result<String, Epay2Error> {
    epay::value(params, name)
        .filter(|v| !php_blank(v))
        .map(str::to_string)
        .ok_or_else(|| Epay2Error::Malformed(format!("missing {name}")))
}

fn optional(params: &[(String, String)], name: &str) -> Option<String> {
    epay::value(params, name).filter(|v| !php_blank(v)).map(str::to_string)
}

/// An amount in yuan read exactly into fen, and more than zero.
fn positive(text: &str) -> Result<Money, Epay2Error> {
    let m = Money::parse_yuan(text)?;
    if m.is_positive() {
        Ok(m)
    } else {
        Err(Epay2Error::NotPositive(text.to_string()))
    }
}

/// The amount as PHP prints `(float)$money`: the platform's notification carries
/// `'money'=>(float)$data['money']`, so 1.00 is sent as `1` and 1.50 as `1.5`.
/// (PHP prints 14 significant digits: exact for amounts under 10^12 yuan.)
pub fn php_float_yuan(money: Money) -> String {
    let s = money.to_string();
    match s.split_once('.') {
        Some((whole, frac)) => {
            let frac = frac.trim_end_matches('0');
            if frac.is_empty() {
                whole.to_string()
            } else {
                format!("{whole}.{frac}")
            }
        }
        None => s,
    }
}

/// PHP's `http_build_query` (RFC 1738): letters, digits and `-_.` as they are, a space as
/// `+`, every other byte `%XX` in capitals. (`serde_urlencoded` leaves `*` as it is; PHP
/// does not.)
pub fn php_http_build_query(params: &[(String, String)]) -> String {
    fn encode(out: &mut String, s: &str) {
        for b in s.bytes() {
            match b {
                b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => out.push(char::from(b)),
                b' ' => out.push('+'),
                _ => {
                    let _ = write!(out, "%{b:02X}");
                }
            }
        }
    }
    let mut out = String::new();
    for (i, (k, v)) in params.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        encode(&mut out, k);
        out.push('=');
        encode(&mut out, v);
    }
    out
}

// ---------------------------------------------------------------------------------------
// Requests (the merchant builds them; the simulator reads them)
// ---------------------------------------------------------------------------------------

/// `method` of `api/pay/create`: what the merchant can show the buyer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// The platform picks by `device`: a jump URL, a QR code or a mini-program scheme.
    Web,
    /// Only a jump URL (the one a merchant with no cashier of its own should use).
    Jump,
    Jsapi,
    App,
    /// The buyer's payment code (`auth_code`) scanned by the merchant.
    Scan,
    Applet,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Web => "web",
            Method::Jump => "jump",
            Method::Jsapi => "jsapi",
            Method::App => "app",
            Method::Scan => "scan",
            Method::Applet => "applet",
        }
    }

    pub fn parse(text: &str) -> Result<Method, Epay2Error> {
        [
            Method::Web,
            Method::Jump,
            Method::Jsapi,
            Method::App,
            Method::Scan,
            Method::Applet,
        ]
        .into_iter()
        .find(|m| m.as_str() == text)
        .ok_or_else(|| Epay2Error::Malformed(format!("method {text:?}")))
    }
}

/// `device` of `api/pay/create` (for `method=web`): where the buyer is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Device {
    Pc,
    Mobile,
    Qq,
    Wechat,
    Alipay,
}

impl Device {
    pub fn as_str(self) -> &'static str {
        match self {
            Device::Pc => "pc",
            Device::Mobile => "mobile",
            Device::Qq => "qq",
            Device::Wechat => "wechat",
            Device::Alipay => "alipay",
        }
    }

    pub fn parse(text: &str) -> Result<Device, Epay2Error> {
        [Device::Pc, Device::Mobile, Device::Qq, Device::Wechat, Device::Alipay]
            .into_iter()
            .find(|d| d.as_str() == text)
            .ok_or_else(|| Epay2Error::Malformed(format!("device {text:?}")))
    }
}

/// A payment to ask the platform for (`POST api/pay/create`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateRequest {
    pub pid: String,
    pub method: Method,
    pub device: Option<Device>,
    /// `alipay`, `wxpay`, `qqpay`, … as the platform names its channels.
    pub pay_type: String,
    pub out_trade_no: String,
    pub notify_url: String,
    pub return_url: String,
    /// The goods' name the buyer sees (the platform cuts it at 127 bytes).
    pub name: String,
    pub money: Money,
    /// The buyer's IP address, which the platform requires (its risk rules count by it).
    pub clientip: String,
    /// Returned as it is in the notification.
    pub param: Option<String>,
}

impl CreateRequest {
    fn params(&self) -> Params {
        let mut p: Params = vec![
            ("pid".into(), self.pid.clone()),
            ("method".into(), self.method.as_str().into()),
        ];
        if let Some(d) = self.device {
            p.push(("device".into(), d.as_str().into()));
        }
        p.extend([
            ("type".into(), self.pay_type.clone()),
            ("out_trade_no".into(), self.out_trade_no.clone()),
            ("notify_url".into(), self.notify_url.clone()),
            ("return_url".into(), self.return_url.clone()),
            ("name".into(), self.name.clone()),
            ("money".into(), self.money.to_string()),
            ("clientip".into(), self.clientip.clone()),
        ]);
        if let Some(param) = &self.param {
            p.push(("param".into(), param.clone()));
        }
        p
    }

    /// The signed form (`timestamp` = `now`, then `sign`, `sign_type`).
    pub fn signed_params(&self, merchant: &SigningKey, now: i64) -> Result<Params, Epay2Error> {
        signed(self.params(), merchant, now)
    }

    /// The POST body, as `http_build_query` writes it.
    pub fn body(&self, merchant: &SigningKey, now: i64) -> Result<String, Epay2Error> {
        Ok(php_http_build_query(&self.signed_params(merchant, now)?))
    }

    /// Reads a create request as the platform receives it (the simulator's side), after
    /// looking up the key of the merchant the form names ([`form_pid`]): signature, then
    /// timestamp, then the fields the platform requires.
    pub fn read(form: &[(String, String)], merchant: &VerifyingKey, now: i64) -> Result<CreateRequest, Epay2Error> {
        check_signature(form, merchant)?;
        check_timestamp(form, now)?;
        check_currency(form)?;
        let field = |name: &str| required(form, name);
        let out_trade_no = field("out_trade_no")?;
        // The platform's own rule for merchant order numbers.
        if !out_trade_no
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-|".contains(&b))
        {
            return Err(Epay2Error::Malformed(format!("out_trade_no {out_trade_no:?}")));
        }
        Ok(CreateRequest {
            pid: field("pid")?,
            method: Method::parse(&field("method")?)?,
            device: optional(form, "device").map(|d| Device::parse(&d)).transpose()?,
            pay_type: field("type")?,
            out_trade_no,
            notify_url: field("notify_url")?,
            return_url: optional(form, "return_url").unwrap_or_default(),
            name: field("name")?,
            money: positive(&field("money")?)?,
            clientip: field("clientip")?,
            param: optional(form, "param"),
        })
    }
}

/// The merchant a request says it is from, to find the key it must be signed with. Not
/// yet believed: the reader checks the signature under that merchant's key.
pub fn form_pid(form: &[(String, String)]) -> Option<&str> {
    epay::value(form, "pid").filter(|p| !php_blank(p))
}

/// Which order a query or refund is about: the platform's number or ours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderRef {
    TradeNo(String),
    OutTradeNo(String),
}

impl OrderRef {
    fn param(&self) -> (String, String) {
        match self {
            OrderRef::TradeNo(n) => ("trade_no".into(), n.clone()),
            OrderRef::OutTradeNo(n) => ("out_trade_no".into(), n.clone()),
        }
    }

    /// The platform's reading: `trade_no` if given, else `out_trade_no`.
    fn read(form: &[(String, String)]) -> Result<OrderRef, Epay2Error> {
        match (optional(form, "trade_no"), optional(form, "out_trade_no")) {
            (Some(n), _) => Ok(OrderRef::TradeNo(n)),
            (None, Some(n)) => Ok(OrderRef::OutTradeNo(n)),
            (None, None) => Err(Epay2Error::Malformed("neither trade_no nor out_trade_no".into())),
        }
    }
}

/// `POST api/pay/query`: what the platform knows of one order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryRequest {
    pub pid: String,
    pub order: OrderRef,
}

impl QueryRequest {
    pub fn signed_params(&self, merchant: &SigningKey, now: i64) -> Result<Params, Epay2Error> {
        signed(
            vec![("pid".into(), self.pid.clone()), self.order.param()],
            merchant,
            now,
        )
    }

    pub fn body(&self, merchant: &SigningKey, now: i64) -> Result<String, Epay2Error> {
        Ok(php_http_build_query(&self.signed_params(merchant, now)?))
    }

    pub fn read(form: &[(String, String)], merchant: &VerifyingKey, now: i64) -> Result<QueryRequest, Epay2Error> {
        check_signature(form, merchant)?;
        check_timestamp(form, now)?;
        Ok(QueryRequest {
            pid: required(form, "pid")?,
            order: OrderRef::read(form)?,
        })
    }
}

/// `POST api/pay/refund`: money back to the buyer, whole or in part. `out_refund_no` is
/// ours and makes a retried refund the same refund.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundRequest {
    pub pid: String,
    pub order: OrderRef,
    pub money: Money,
    pub out_refund_no: String,
}

impl RefundRequest {
    /// The signed form. Refuses an `out_refund_no` the platform would not deduplicate by
    /// ([`OUT_REFUND_NO_MIN_BYTES`]) and an amount that is no refund.
    pub fn signed_params(&self, merchant: &SigningKey, now: i64) -> Result<Params, Epay2Error> {
        if self.out_refund_no.len() < OUT_REFUND_NO_MIN_BYTES {
            return Err(Epay2Error::Malformed(format!(
                "out_refund_no {:?} is too short for the platform to deduplicate by",
                self.out_refund_no
            )));
        }
        if !self.money.is_positive() {
            return Err(Epay2Error::NotPositive(self.money.to_string()));
        }
        signed(
            vec![
                ("pid".into(), self.pid.clone()),
                self.order.param(),
                ("money".into(), self.money.to_string()),
                ("out_refund_no".into(), self.out_refund_no.clone()),
            ],
            merchant,
            now,
        )
    }

    pub fn body(&self, merchant: &SigningKey, now: i64) -> Result<String, Epay2Error> {
        Ok(php_http_build_query(&self.signed_params(merchant, now)?))
    }

    pub fn read(form: &[(String, String)], merchant: &VerifyingKey, now: i64) -> Result<RefundRequest, Epay2Error> {
        check_signature(form, merchant)?;
        check_timestamp(form, now)?;
        check_currency(form)?;
        Ok(RefundRequest {
            pid: required(form, "pid")?,
            order: OrderRef::read(form)?,
            money: positive(&required(form, "money")?)?,
            out_refund_no: required(form, "out_refund_no")?,
        })
    }
}

/// Which refund a refund query is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefundRef {
    RefundNo(String),
    OutRefundNo(String),
}

/// `POST api/pay/refundquery`: whether a refund went through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundQueryRequest {
    pub pid: String,
    pub refund: RefundRef,
}

impl RefundQueryRequest {
    pub fn signed_params(&self, merchant: &SigningKey, now: i64) -> Result<Params, Epay2Error> {
        let by = match &self.refund {
            RefundRef::RefundNo(n) => ("refund_no".into(), n.clone()),
            RefundRef::OutRefundNo(n) => ("out_refund_no".into(), n.clone()),
        };
        signed(vec![("pid".into(), self.pid.clone()), by], merchant, now)
    }

    pub fn body(&self, merchant: &SigningKey, now: i64) -> Result<String, Epay2Error> {
        Ok(php_http_build_query(&self.signed_params(merchant, now)?))
    }

    pub fn read(
        form: &[(String, String)],
        merchant: &VerifyingKey,
        now: i64,
    ) -> Result<RefundQueryRequest, Epay2Error> {
        check_signature(form, merchant)?;
        check_timestamp(form, now)?;
        let refund = match (optional(form, "refund_no"), optional(form, "out_refund_no")) {
            (Some(n), _) => RefundRef::RefundNo(n),
            (None, Some(n)) => RefundRef::OutRefundNo(n),
            (None, None) => return Err(Epay2Error::Malformed("neither refund_no nor out_refund_no".into())),
        };
        Ok(RefundQueryRequest {
            pid: required(form, "pid")?,
            refund,
        })
    }
}

// ---------------------------------------------------------------------------------------
// Answers (the simulator builds them; the merchant reads them)
// ---------------------------------------------------------------------------------------

/// A scalar of a JSON answer as the platform puts it: PHP strings from the database, or
/// integers (`code`, sometimes `status`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scalar {
    Str(String),
    Int(i64),
    Null,
}

/// A JSON object read in order, refusing a key given twice (serde_json and PHP would both
/// keep the last; whichever the signature covered, the other reading is the attacker's).
struct Ordered {
    fields: Vec<(String, serde_json::Value)>,
    /// The first key given twice, if any (kept to be refused with its own error).
    repeated: Option<String>,
}

impl<'de> Deserialize<'de> for Ordered {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Ordered, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Ordered;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Ordered, A::Error> {
                let mut fields: Vec<(String, serde_json::Value)> = Vec::new();
                let mut repeated = None;
                while let Some((k, v)) = map.next_entry::<String, serde_json::Value>()? {
                    if repeated.is_none() && fields.iter().any(|(seen, _)| *seen == k) {
                        repeated = Some(k.clone());
                    }
                    fields.push((k, v));
                }
                Ok(Ordered { fields, repeated })
            }
        }
        d.deserialize_map(V)
    }
}

/// A JSON value as PHP's string conversion sees it when it builds the signed string:
/// integers in decimal, `true` as `1`, `false` and `null` as empty (left out), floats as
/// PHP prints them (Rust's shortest form agrees for the amounts money takes).
fn php_text(name: &str, v: &serde_json::Value) -> Result<String, Epay2Error> {
    Ok(match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => i.to_string(),
            (None, Some(f)) => format!("{f}"),
            (None, None) => n.to_string(),
        },
        serde_json::Value::Bool(true) => "1".into(),
        serde_json::Value::Bool(false) | serde_json::Value::Null => String::new(),
        serde_json::Value::Array(_) | serde_json::Value::Object(_) => {
            return Err(Epay2Error::UnsignedField(name.to_string()))
        }
    })
}

/// A signed answer read and checked: size, JSON object without repeated keys, `code` 0
/// (else [`Epay2Error::Refused`]), `sign_type` RSA and the signature under the platform's
/// key, the timestamp. What is returned is the answer's fields as text.
pub fn read_answer(text: &str, platform: &VerifyingKey, now: i64) -> Result<Params, Epay2Error> {
    if text.len() > MAX_ANSWER_BYTES {
        return Err(Epay2Error::TooLarge {
            what: "answer",
            len: text.len(),
            limit: MAX_ANSWER_BYTES,
        });
    }
    let Ordered { fields, repeated } =
        serde_json::from_str(text).map_err(|e| Epay2Error::Malformed(format!("not a JSON object: {e}")))?;
    if let Some(k) = repeated {
        return Err(Epay2Error::DuplicateParameter(k));
    }
    let code = fields
        .iter()
        .find(|(k, _)| k == "code")
        .and_then(|(_, v)| match v {
            serde_json::Value::Number(n) => n.as_i64(),
            serde_json::Value::String(s) => s.parse().ok(),
            _ => None,
        })
        .ok_or_else(|| Epay2Error::Malformed("no numeric code".into()))?;
    if code != 0 {
        let msg = fields
            .iter()
            .find(|(k, _)| k == "msg")
            .and_then(|(_, v)| v.as_str())
            .unwrap_or_default();
        return Err(Epay2Error::Refused {
            code,
            msg: msg.chars().take(256).collect(),
        });
    }
    let params = fields
        .iter()
        .map(|(k, v)| Ok((k.clone(), php_text(k, v)?)))
        .collect::<Result<Params, Epay2Error>>()?;
    check_signature(&params, platform)?;
    check_timestamp(&params, now)?;
    check_currency(&params)?;
    Ok(params)
}

/// PHP's `json_encode` of a flat object: `/` escaped as `\/`, non-ASCII as `\uXXXX` unless
/// `unescaped_unicode` (the platform's `echojson` passes `JSON_UNESCAPED_UNICODE`; the
/// create answer's `echoJson` does not).
pub fn php_json(fields: &[(String, Scalar)], unescaped_unicode: bool) -> String {
    let mut out = String::from("{");
    for (i, (k, v)) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        php_json_string(&mut out, k, unescaped_unicode);
        out.push(':');
        match v {
            Scalar::Str(s) => php_json_string(&mut out, s, unescaped_unicode),
            Scalar::Int(n) => {
                let _ = write!(out, "{n}");
            }
            Scalar::Null => out.push_str("null"),
        }
    }
    out.push('}');
    out
}

fn php_json_string(out: &mut String, s: &str, unescaped_unicode: bool) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '/' => out.push_str("\\/"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c if !c.is_ascii() && !unescaped_unicode => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Signs an answer's fields (the simulator's side) the way `ApiHelper::load_api` does:
/// `timestamp`, `sign_type`, then `sign` appended after the answer's own fields.
fn signed_answer(
    mut fields: Vec<(String, Scalar)>,
    platform: &SigningKey,
    now: i64,
    unescaped_unicode: bool,
) -> Result<String, Epay2Error> {
    fields.push(("timestamp".into(), Scalar::Str(now.to_string())));
    fields.push(("sign_type".into(), Scalar::Str(SIGN_TYPE_RSA.into())));
    let as_text: Params = fields
        .iter()
        .filter_map(|(k, v)| match v {
            Scalar::Str(s) => Some((k.clone(), s.clone())),
            Scalar::Int(n) => Some((k.clone(), n.to_string())),
            Scalar::Null => None,
        })
        .collect();
    let sign = sign(&as_text, platform)?;
    fields.push(("sign".into(), Scalar::Str(sign)));
    Ok(php_json(&fields, unescaped_unicode))
}

/// A refusal as the platform writes it (`echojsonmsg`): unsigned, `code` other than 0.
pub fn refusal_json(code: i64, msg: &str) -> String {
    php_json(
        &[
            ("code".into(), Scalar::Int(code)),
            ("msg".into(), Scalar::Str(msg.into())),
        ],
        true,
    )
}

/// `pay_type` of the create answer: what `pay_info` is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayType {
    /// A URL to send the buyer to.
    Jump,
    /// HTML that sends the buyer on (usually a self-submitting form).
    Html,
    /// The text of a QR code for the buyer to scan.
    Qrcode,
    /// A mini-program URL scheme.
    Urlscheme,
    /// JSON parameters for a JSAPI payment.
    Jsapi,
    /// JSON parameters for an app payment.
    App,
    /// A payment-code payment already made: JSON with its facts.
    Scan,
    /// JSON parameters for a WeChat mini-program plugin.
    Wxplugin,
    /// JSON naming the WeChat mini-program an app opens.
    Wxapp,
}

impl PayType {
    pub fn as_str(self) -> &'static str {
        match self {
            PayType::Jump => "jump",
            PayType::Html => "html",
            PayType::Qrcode => "qrcode",
            PayType::Urlscheme => "urlscheme",
            PayType::Jsapi => "jsapi",
            PayType::App => "app",
            PayType::Scan => "scan",
            PayType::Wxplugin => "wxplugin",
            PayType::Wxapp => "wxapp",
        }
    }

    pub fn parse(text: &str) -> Result<PayType, Epay2Error> {
        [
            PayType::Jump,
            PayType::Html,
            PayType::Qrcode,
            PayType::Urlscheme,
            PayType::Jsapi,
            PayType::App,
            PayType::Scan,
            PayType::Wxplugin,
            PayType::Wxapp,
        ]
        .into_iter()
        .find(|t| t.as_str() == text)
        .ok_or_else(|| Epay2Error::Malformed(format!("pay_type {text:?}")))
    }
}

/// The create answer: the platform's order number and how to take the buyer to pay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateAnswer {
    pub trade_no: String,
    pub pay_type: PayType,
    /// A URL, HTML, QR text or JSON, by `pay_type` (the platform `json_encode`s arrays, so
    /// it is always a signed string).
    pub pay_info: String,
}

impl CreateAnswer {
    /// Reads the answer to a create request (the merchant's side).
    pub fn read(text: &str, platform: &VerifyingKey, now: i64) -> Result<CreateAnswer, Epay2Error> {
        let p = read_answer(text, platform, now)?;
        Ok(CreateAnswer {
            trade_no: required(&p, "trade_no")?,
            pay_type: PayType::parse(&required(&p, "pay_type")?)?,
            pay_info: required(&p, "pay_info")?,
        })
    }

    /// The signed JSON the platform sends (`Payment::echoJson`: `json_encode` without
    /// `JSON_UNESCAPED_UNICODE`).
    pub fn to_json(&self, platform: &SigningKey, now: i64) -> Result<String, Epay2Error> {
        signed_answer(
            vec![
                ("code".into(), Scalar::Int(0)),
                ("trade_no".into(), Scalar::Str(self.trade_no.clone())),
                ("pay_type".into(), Scalar::Str(self.pay_type.as_str().into())),
                ("pay_info".into(), Scalar::Str(self.pay_info.clone())),
            ],
            platform,
            now,
            false,
        )
    }
}

/// A payment as the platform reports it, in a notification or a query answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payment {
    pub pid: String,
    /// The platform's transaction number: what payments are deduplicated on.
    pub trade_no: String,
    pub out_trade_no: String,
    /// The channel's (Alipay's, WeChat Pay's) transaction number, when given.
    pub api_trade_no: Option<String>,
    /// `alipay`, `wxpay`, …
    pub pay_type: String,
    pub name: String,
    pub money: Money,
    /// The buyer at the channel (usually an openid), when given.
    pub buyer: Option<String>,
    pub param: Option<String>,
}

impl Payment {
    /// The facts of a paid order common to the notification and the query answer, after
    /// the merchant and (in the notification) the status were checked.
    fn read(p: &[(String, String)], pid: String) -> Result<Payment, Epay2Error> {
        Ok(Payment {
            pid,
            trade_no: required(p, "trade_no")?,
            out_trade_no: required(p, "out_trade_no")?,
            api_trade_no: optional(p, "api_trade_no"),
            pay_type: required(p, "type")?,
            name: optional(p, "name").unwrap_or_default(),
            money: positive(&required(p, "money")?)?,
            buyer: optional(p, "buyer"),
            param: optional(p, "param"),
        })
    }
}

/// A payment notification (GET to `notify_url`), as verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub payment: Payment,
    /// When the platform signed it (unix seconds).
    pub timestamp: i64,
}

impl Notification {
    /// Reads and checks a notification's query string: size and repeats, the signature
    /// under the platform's key before anything in it is believed, then that it is for
    /// merchant `pid`, that it says `TRADE_SUCCESS`, that its amount is an exact positive
    /// yuan string (in CNY), and that it was signed within [`TIMESTAMP_WINDOW_S`] of `now`.
    /// Extension fields the platform adds are covered by the signature and otherwise
    /// ignored, as its documentation asks.
    pub fn read(query: &str, platform: &VerifyingKey, pid: &str, now: i64) -> Result<Notification, Epay2Error> {
        let p = read_form(query)?;
        check_signature(&p, platform)?;
        let their_pid = required(&p, "pid")?;
        if their_pid != pid {
            return Err(Epay2Error::WrongMerchant(their_pid));
        }
        let status = epay::value(&p, "trade_status").unwrap_or_default();
        if status != TRADE_SUCCESS {
            return Err(Epay2Error::NotPaid(status.to_string()));
        }
        check_currency(&p)?;
        let payment = Payment::read(&p, their_pid)?;
        let timestamp = check_timestamp(&p, now)?;
        Ok(Notification { payment, timestamp })
    }

    /// The signed parameters the platform sends, in `creat_callback`'s order, the amount
    /// printed as PHP prints `(float)$money` (the simulator's side).
    pub fn signed_params(&self, platform: &SigningKey) -> Result<Params, Epay2Error> {
        let pay = &self.payment;
        let mut p: Params = vec![
            ("pid".into(), pay.pid.clone()),
            ("trade_no".into(), pay.trade_no.clone()),
            ("out_trade_no".into(), pay.out_trade_no.clone()),
            ("type".into(), pay.pay_type.clone()),
            ("name".into(), pay.name.clone()),
            ("money".into(), php_float_yuan(pay.money)),
            ("trade_status".into(), TRADE_SUCCESS.into()),
        ];
        for (name, v) in [
            ("api_trade_no", &pay.api_trade_no),
            ("buyer", &pay.buyer),
            ("param", &pay.param),
        ] {
            if let Some(v) = v {
                p.push((name.into(), v.clone()));
            }
        }
        p.push(("timestamp".into(), self.timestamp.to_string()));
        // creat_callback sets sign_type before sign.
        p.push(("sign_type".into(), SIGN_TYPE_RSA.into()));
        let sign = sign(&p, platform)?;
        p.push(("sign".into(), sign));
        Ok(p)
    }

    /// The query string of the notification's GET, as `http_build_query` writes it.
    pub fn query(&self, platform: &SigningKey) -> Result<String, Epay2Error> {
        Ok(php_http_build_query(&self.signed_params(platform)?))
    }
}

/// `status` of an order in the query answer.
pub const ORDER_UNPAID: i64 = 0;
pub const ORDER_PAID: i64 = 1;
pub const ORDER_REFUNDED: i64 = 2;
pub const ORDER_FROZEN: i64 = 3;
pub const ORDER_PREAUTHORIZED: i64 = 4;

/// What a query answer says about an order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderState {
    /// Paid: the same facts a notification would carry.
    Paid(Payment),
    /// Refunded, wholly or (when `refunded` is less than the amount) in part.
    Refunded { payment: Payment, refunded: Option<Money> },
    /// Not paid (yet).
    Unpaid,
    /// Paid but frozen by the platform: no money the merchant can count on yet.
    Frozen,
    /// Authorised, not captured.
    PreAuthorized,
}

/// The query answer (merchant's side: read it; simulator's side: build it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryAnswer {
    pub payment: Payment,
    pub status: i64,
    pub addtime: Option<String>,
    pub endtime: Option<String>,
    pub clientip: Option<String>,
    pub refundmoney: Option<Money>,
}

impl QueryAnswer {
    /// Reads the answer about the order asked for (`asked`), for our merchant `pid`.
    pub fn read(
        text: &str,
        platform: &VerifyingKey,
        pid: &str,
        asked: &OrderRef,
        now: i64,
    ) -> Result<OrderState, Epay2Error> {
        let p = read_answer(text, platform, now)?;
        let their_pid = required(&p, "pid")?;
        if their_pid != pid {
            return Err(Epay2Error::WrongMerchant(their_pid));
        }
        let (name, want) = match asked {
            OrderRef::TradeNo(n) => ("trade_no", n),
            OrderRef::OutTradeNo(n) => ("out_trade_no", n),
        };
        let theirs = optional(&p, name).unwrap_or_default();
        if &theirs != want {
            return Err(Epay2Error::OtherOrder(theirs));
        }
        let status = required(&p, "status")?;
        let status: i64 = status
            .parse()
            .map_err(|_| Epay2Error::Malformed(format!("status {status:?}")))?;
        match status {
            ORDER_PAID => Ok(OrderState::Paid(Payment::read(&p, their_pid)?)),
            ORDER_REFUNDED => {
                let refunded = optional(&p, "refundmoney").map(|m| positive(&m)).transpose()?;
                Ok(OrderState::Refunded {
                    payment: Payment::read(&p, their_pid)?,
                    refunded,
                })
            }
            ORDER_UNPAID => Ok(OrderState::Unpaid),
            ORDER_FROZEN => Ok(OrderState::Frozen),
            ORDER_PREAUTHORIZED => Ok(OrderState::PreAuthorized),
            other => Err(Epay2Error::Malformed(format!("status {other}"))),
        }
    }

    /// The signed JSON the platform sends (`Pay::query`: empty fields left out, then
    /// `echojson` with `JSON_UNESCAPED_UNICODE`).
    pub fn to_json(&self, platform: &SigningKey, now: i64) -> Result<String, Epay2Error> {
        let pay = &self.payment;
        let opt = |v: &Option<String>| v.clone().map(Scalar::Str).unwrap_or(Scalar::Null);
        let fields: Vec<(String, Scalar)> = vec![
            ("code".into(), Scalar::Int(0)),
            ("trade_no".into(), Scalar::Str(pay.trade_no.clone())),
            ("out_trade_no".into(), Scalar::Str(pay.out_trade_no.clone())),
            ("api_trade_no".into(), opt(&pay.api_trade_no)),
            ("type".into(), Scalar::Str(pay.pay_type.clone())),
            ("pid".into(), Scalar::Str(pay.pid.clone())),
            ("addtime".into(), opt(&self.addtime)),
            ("endtime".into(), opt(&self.endtime)),
            ("name".into(), Scalar::Str(pay.name.clone())),
            ("money".into(), Scalar::Str(pay.money.to_string())),
            ("param".into(), opt(&pay.param)),
            ("buyer".into(), opt(&pay.buyer)),
            ("clientip".into(), opt(&self.clientip)),
            ("status".into(), Scalar::Str(self.status.to_string())),
            ("refundmoney".into(), opt(&self.refundmoney.map(|m| m.to_string()))),
        ];
        let fields = fields
            .into_iter()
            .filter(|(_, v)| match v {
                Scalar::Str(s) => !php_blank(s),
                Scalar::Int(_) => true,
                Scalar::Null => false,
            })
            .collect();
        signed_answer(fields, platform, now, true)
    }
}

/// The refund answer: the platform's refund number for ours, and the amount refunded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundAnswer {
    pub refund_no: String,
    pub out_refund_no: String,
    pub trade_no: String,
    pub out_trade_no: Option<String>,
    /// The merchant, which the platform writes as `uid` here.
    pub uid: String,
    pub money: Money,
    /// What the platform took from the merchant's balance for it (may be 0).
    pub reducemoney: Option<String>,
    pub msg: Option<String>,
}

impl RefundAnswer {
    /// Reads the answer to `asked` (our refund request), for our merchant: the refund
    /// number and amount must be the ones asked for.
    pub fn read(
        text: &str,
        platform: &VerifyingKey,
        asked: &RefundRequest,
        now: i64,
    ) -> Result<RefundAnswer, Epay2Error> {
        let p = read_answer(text, platform, now)?;
        // The documented answer has no merchant field; the platform's code adds `uid`.
        if let Some(uid) = optional(&p, "uid") {
            if uid != asked.pid {
                return Err(Epay2Error::WrongMerchant(uid));
            }
        }
        let out_refund_no = required(&p, "out_refund_no")?;
        if out_refund_no != asked.out_refund_no {
            return Err(Epay2Error::OtherOrder(out_refund_no));
        }
        let money = positive(&required(&p, "money")?)?;
        if money != asked.money {
            return Err(Epay2Error::Malformed(format!(
                "refunded {money}, asked {}",
                asked.money
            )));
        }
        Ok(RefundAnswer {
            refund_no: required(&p, "refund_no")?,
            out_refund_no,
            trade_no: required(&p, "trade_no")?,
            out_trade_no: optional(&p, "out_trade_no"),
            uid: optional(&p, "uid").unwrap_or_else(|| asked.pid.clone()),
            money,
            reducemoney: optional(&p, "reducemoney"),
            msg: optional(&p, "msg"),
        })
    }

    /// The signed JSON the platform sends (`Order::refund`'s fields, then `msg`).
    pub fn to_json(&self, platform: &SigningKey, now: i64) -> Result<String, Epay2Error> {
        let opt = |v: &Option<String>| v.clone().map(Scalar::Str).unwrap_or(Scalar::Null);
        signed_answer(
            vec![
                ("code".into(), Scalar::Int(0)),
                ("refund_no".into(), Scalar::Str(self.refund_no.clone())),
                ("out_refund_no".into(), Scalar::Str(self.out_refund_no.clone())),
                ("trade_no".into(), Scalar::Str(self.trade_no.clone())),
                ("out_trade_no".into(), opt(&self.out_trade_no)),
                ("uid".into(), Scalar::Str(self.uid.clone())),
                ("money".into(), Scalar::Str(self.money.to_string())),
                ("reducemoney".into(), opt(&self.reducemoney)),
                ("msg".into(), opt(&self.msg)),
            ],
            platform,
            now,
            true,
        )
    }
}

/// `status` of a refund in the refund query answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefundStatus {
    Failed,
    Succeeded,
}

/// The refund query answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundQueryAnswer {
    pub refund_no: String,
    pub out_refund_no: String,
    pub trade_no: String,
    pub out_trade_no: Option<String>,
    pub uid: String,
    pub money: Money,
    pub reducemoney: Option<String>,
    pub status: RefundStatus,
    pub addtime: Option<String>,
    pub endtime: Option<String>,
}

impl RefundQueryAnswer {
    /// Reads the answer about the refund asked for, for our merchant `pid`.
    pub fn read(
        text: &str,
        platform: &VerifyingKey,
        pid: &str,
        asked: &RefundRef,
        now: i64,
    ) -> Result<RefundQueryAnswer, Epay2Error> {
        let p = read_answer(text, platform, now)?;
        let uid = optional(&p, "uid").unwrap_or_else(|| pid.to_string());
        if uid != pid {
            return Err(Epay2Error::WrongMerchant(uid));
        }
        let (name, want) = match asked {
            RefundRef::RefundNo(n) => ("refund_no", n),
            RefundRef::OutRefundNo(n) => ("out_refund_no", n),
        };
        let theirs = optional(&p, name).unwrap_or_default();
        if &theirs != want {
            return Err(Epay2Error::OtherOrder(theirs));
        }
        let status = match required(&p, "status")?.as_str() {
            "0" => RefundStatus::Failed,
            "1" => RefundStatus::Succeeded,
            other => return Err(Epay2Error::Malformed(format!("refund status {other:?}"))),
        };
        Ok(RefundQueryAnswer {
            refund_no: required(&p, "refund_no")?,
            out_refund_no: required(&p, "out_refund_no")?,
            trade_no: required(&p, "trade_no")?,
            out_trade_no: optional(&p, "out_trade_no"),
            uid,
            money: positive(&required(&p, "money")?)?,
            reducemoney: optional(&p, "reducemoney"),
            status,
            addtime: optional(&p, "addtime"),
            endtime: optional(&p, "endtime"),
        })
    }

    pub fn to_json(&self, platform: &SigningKey, now: i64) -> Result<String, Epay2Error> {
        let opt = |v: &Option<String>| v.clone().map(Scalar::Str).unwrap_or(Scalar::Null);
        signed_answer(
            vec![
                ("code".into(), Scalar::Int(0)),
                ("refund_no".into(), Scalar::Str(self.refund_no.clone())),
                ("out_refund_no".into(), Scalar::Str(self.out_refund_no.clone())),
                ("trade_no".into(), Scalar::Str(self.trade_no.clone())),
                ("out_trade_no".into(), opt(&self.out_trade_no)),
                ("uid".into(), Scalar::Str(self.uid.clone())),
                ("money".into(), Scalar::Str(self.money.to_string())),
                ("reducemoney".into(), opt(&self.reducemoney)),
                (
                    "status".into(),
                    Scalar::Int(match self.status {
                        RefundStatus::Failed => 0,
                        RefundStatus::Succeeded => 1,
                    }),
                ),
                ("addtime".into(), opt(&self.addtime)),
                ("endtime".into(), opt(&self.endtime)),
            ],
            platform,
            now,
            true,
        )
    }
}
