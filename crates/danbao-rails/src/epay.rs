//! 易支付 (EPay), the 卡盟 aggregators' protocol (彩虹易支付 and its many clones), V1:
//! parameters signed with MD5 over the sorted non-empty parameters (without `sign` and
//! `sign_type`) joined as `k=v&k=v`, the merchant key appended. The payment is a page
//! jump to `submit.php` (or an API call to `mapi.php`); the notification is a GET to the
//! merchant's `notify_url` with the same signature, answered `success`; `api.php?act=order`
//! queries an order and `api.php?act=refund` refunds it, authenticated by the key itself
//! (over HTTPS) and answering unsigned JSON.
//!
//! Everything read here is read strictly: a parameter given twice, a signature of another
//! kind, another merchant's `pid`, a `trade_status` other than `TRADE_SUCCESS` (a hole of
//! many 发卡 systems, which deliver on any signed notification) or an amount that is not
//! an exact yuan string is refused.

use danbao_domain::money::MoneyError;
use danbao_domain::Money;
use md5::{Digest, Md5};
use serde::Deserialize;
use subtle::ConstantTimeEq;

/// The only signature kind of V1.
pub const SIGN_TYPE_MD5: &str = "MD5";
/// The one `trade_status` that means the buyer paid.
pub const TRADE_SUCCESS: &str = "TRADE_SUCCESS";
/// What a merchant answers a notification it has taken; anything else makes the
/// aggregator send it again.
pub const ACK: &str = "success";
/// `status` of an order in `api.php?act=order`: paid.
pub const ORDER_PAID: i64 = 1;
/// `status` of an order in `api.php?act=order`: refunded.
pub const ORDER_REFUNDED: i64 = 2;

/// Parameters as sent, in order (a query string or a form body).
pub type Params = Vec<(String, String)>;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EpayError {
    #[error("malformed: {0}")]
    Malformed(String),
    #[error("signature does not verify")]
    BadSignature,
    #[error("for merchant {0:?}, not ours")]
    WrongMerchant(String),
    #[error("trade_status {0:?} is not a payment")]
    NotPaid(String),
    #[error(transparent)]
    Amount(#[from] MoneyError),
    /// The aggregator answered a request with `code` other than 1.
    #[error("refused by the aggregator: {0}")]
    Refused(String),
}

/// The string EPay signs: the parameters other than `sign` and `sign_type` whose value is
/// not empty, sorted by name (bytewise, as PHP's `ksort`), as `k=v` joined with `&`. Values
/// are signed as they are, not URL-encoded.
pub fn signing_string(params: &[(String, String)]) -> String {
    let mut kept: Vec<&(String, String)> = params
        .iter()
        .filter(|(k, v)| k != "sign" && k != "sign_type" && !v.is_empty())
        .collect();
    kept.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    kept.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// `md5(signing_string + key)`, lowercase hex.
pub fn md5_sign(params: &[(String, String)], key: &str) -> String {
    let mut h = Md5::new();
    h.update(signing_string(params).as_bytes());
    h.update(key.as_bytes());
    hex::encode(h.finalize())
}

/// Whether `params` carry a valid MD5 `sign` under `key` (compared in constant time; the
/// hex may be in either case).
pub fn md5_verifies(params: &[(String, String)], key: &str) -> bool {
    let Some(sign) = value(params, "sign") else {
        return false;
    };
    let expected = md5_sign(params, key);
    expected.as_bytes().ct_eq(sign.to_ascii_lowercase().as_bytes()).into()
}

/// A parameter's value (the first, when `params` were not read by [`parse_params`]).
pub fn value<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// A query string or form body as parameters; a name given twice is refused (PHP would
/// take the last, a Rust reader the first: whichever the signature covered, the other
/// reading would be the attacker's).
pub fn parse_params(text: &str) -> Result<Params, EpayError> {
    let params: Params =
        serde_urlencoded::from_str(text).map_err(|e| EpayError::Malformed(format!("not a query string: {e}")))?;
    for (i, (k, _)) in params.iter().enumerate() {
        if params[..i].iter().any(|(seen, _)| seen == k) {
            return Err(EpayError::Malformed(format!("parameter {k:?} given twice")));
        }
    }
    Ok(params)
}

/// A payment to ask the aggregator for: the buyer is sent to `submit.php` with these.
#[derive(Debug, Clone)]
pub struct PayRequest {
    pub pid: String,
    /// `alipay`, `wxpay`, `qqpay`, … as the aggregator names its channels.
    pub pay_type: String,
    pub out_trade_no: String,
    pub notify_url: String,
    pub return_url: String,
    /// The goods' name the buyer sees at the cashier.
    pub name: String,
    pub money: Money,
}

impl PayRequest {
    /// The signed parameters, `sign` and `sign_type` last.
    pub fn signed_params(&self, key: &str) -> Params {
        let mut p: Params = vec![
            ("pid".into(), self.pid.clone()),
            ("type".into(), self.pay_type.clone()),
            ("out_trade_no".into(), self.out_trade_no.clone()),
            ("notify_url".into(), self.notify_url.clone()),
            ("return_url".into(), self.return_url.clone()),
            ("name".into(), self.name.clone()),
            ("money".into(), self.money.to_string()),
        ];
        let sign = md5_sign(&p, key);
        p.push(("sign".into(), sign));
        p.push(("sign_type".into(), SIGN_TYPE_MD5.into()));
        p
    }

    /// The body of `POST {base}mapi.php`, the API creation: the same parameters plus the
    /// buyer's address (`clientip`, required by the API; the platform does not pass the
    /// buyer's on yet, so `0.0.0.0`), all signed.
    pub fn api_form(&self, key: &str) -> String {
        let mut p: Params = self
            .signed_params(key)
            .into_iter()
            .filter(|(k, _)| k != "sign" && k != "sign_type")
            .collect();
        p.push(("clientip".into(), API_CLIENT_IP.into()));
        let sign = md5_sign(&p, key);
        p.push(("sign".into(), sign));
        p.push(("sign_type".into(), SIGN_TYPE_MD5.into()));
        serde_urlencoded::to_string(p).unwrap_or_default()
    }

    /// The page-jump address: `{base}submit.php?…` (GET, as the SDK's `getPayLink`).
    pub fn page_url(&self, base: &str, key: &str) -> String {
        let query = serde_urlencoded::to_string(self.signed_params(key)).unwrap_or_default();
        format!("{}submit.php?{query}", with_slash(base))
    }

    /// Reads a payment request as the aggregator receives it (the simulator's side):
    /// signature first, then the fields.
    pub fn read(params: &[(String, String)], key: &str) -> Result<PayRequest, EpayError> {
        if value(params, "sign_type").is_some_and(|t| t != SIGN_TYPE_MD5) {
            return Err(EpayError::Malformed("sign_type is not MD5".into()));
        }
        if !md5_verifies(params, key) {
            return Err(EpayError::BadSignature);
        }
        let field = |name: &str| required(params, name);
        Ok(PayRequest {
            pid: field("pid")?,
            pay_type: field("type")?,
            out_trade_no: field("out_trade_no")?,
            notify_url: field("notify_url")?,
            return_url: value(params, "return_url").unwrap_or_default().to_string(),
            name: field("name")?,
            money: positive(&field("money")?)?,
        })
    }
}

/// The `clientip` sent with an API creation while the buyer's address is not passed on.
pub const API_CLIENT_IP: &str = "0.0.0.0";

/// `{base}mapi.php`: where a payment is created by API.
pub fn api_url(base: &str) -> String {
    format!("{}mapi.php", with_slash(base))
}

/// `mapi.php`'s answer: `{code, msg, trade_no, payurl | qrcode | urlscheme}` (unsigned JSON,
/// trusted as far as the HTTPS connection to the configured aggregator is).
#[derive(Debug, Clone, Deserialize)]
pub struct ApiAnswer {
    pub code: serde_json::Value,
    #[serde(default)]
    pub msg: Option<String>,
    #[serde(default)]
    pub trade_no: Option<String>,
    #[serde(default)]
    pub payurl: Option<String>,
    #[serde(default)]
    pub qrcode: Option<String>,
    #[serde(default)]
    pub urlscheme: Option<String>,
}

impl ApiAnswer {
    /// Where the buyer pays: the payment page, else the code to scan, else the app link.
    pub fn cashier(&self) -> Result<String, EpayError> {
        if number(&self.code) != Some(1) {
            return Err(EpayError::Refused(self.msg.clone().unwrap_or_default()));
        }
        [&self.payurl, &self.qrcode, &self.urlscheme]
            .into_iter()
            .flatten()
            .find(|u| !u.is_empty())
            .cloned()
            .ok_or_else(|| EpayError::Malformed("the created payment has no address to pay at".into()))
    }
}

/// A payment notification (GET to `notify_url`), as verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub pid: String,
    /// The aggregator's transaction number.
    pub trade_no: String,
    pub out_trade_no: String,
    pub pay_type: String,
    pub name: String,
    pub money: Money,
    pub trade_status: String,
    /// The buyer's account at the channel, when the aggregator passes it on.
    pub buyer: Option<String>,
}

impl Notification {
    /// Reads and checks a notification's query string: the MD5 signature under `key`
    /// before anything in it is believed, then that it is for merchant `pid`, that it
    /// says `TRADE_SUCCESS`, and that its amount is an exact positive yuan string.
    pub fn read(query: &str, pid: &str, key: &str) -> Result<Notification, EpayError> {
        let params = parse_params(query)?;
        if value(&params, "sign_type").is_some_and(|t| t != SIGN_TYPE_MD5) {
            return Err(EpayError::Malformed("sign_type is not MD5".into()));
        }
        if !md5_verifies(&params, key) {
            return Err(EpayError::BadSignature);
        }
        let field = |name: &str| required(&params, name);
        let their_pid = field("pid")?;
        if their_pid != pid {
            return Err(EpayError::WrongMerchant(their_pid));
        }
        let trade_status = field("trade_status")?;
        if trade_status != TRADE_SUCCESS {
            return Err(EpayError::NotPaid(trade_status));
        }
        Ok(Notification {
            pid: their_pid,
            trade_no: field("trade_no")?,
            out_trade_no: field("out_trade_no")?,
            pay_type: field("type")?,
            name: value(&params, "name").unwrap_or_default().to_string(),
            money: positive(&field("money")?)?,
            trade_status,
            buyer: value(&params, "buyer").filter(|b| !b.is_empty()).map(str::to_string),
        })
    }

    /// The signed parameters the aggregator sends (the simulator's side).
    pub fn signed_params(&self, key: &str) -> Params {
        let mut p: Params = vec![
            ("pid".into(), self.pid.clone()),
            ("trade_no".into(), self.trade_no.clone()),
            ("out_trade_no".into(), self.out_trade_no.clone()),
            ("type".into(), self.pay_type.clone()),
            ("name".into(), self.name.clone()),
            ("money".into(), self.money.to_string()),
            ("trade_status".into(), self.trade_status.clone()),
        ];
        if let Some(b) = &self.buyer {
            p.push(("buyer".into(), b.clone()));
        }
        let sign = md5_sign(&p, key);
        p.push(("sign".into(), sign));
        p.push(("sign_type".into(), SIGN_TYPE_MD5.into()));
        p
    }

    /// The notification as the query string of its GET.
    pub fn query(&self, key: &str) -> String {
        serde_urlencoded::to_string(self.signed_params(key)).unwrap_or_default()
    }
}

/// `api.php?act=order&pid=…&key=…&out_trade_no=…`: the address of an order query.
pub fn order_query_url(base: &str, pid: &str, key: &str, out_trade_no: &str) -> String {
    let query = serde_urlencoded::to_string([
        ("act", "order"),
        ("pid", pid),
        ("key", key),
        ("out_trade_no", out_trade_no),
    ])
    .unwrap_or_default();
    format!("{}api.php?{query}", with_slash(base))
}

/// The body of `POST api.php?act=refund`: the whole of the order's money back.
pub fn refund_form(pid: &str, key: &str, out_trade_no: &str, money: Money) -> String {
    serde_urlencoded::to_string([
        ("pid", pid),
        ("key", key),
        ("out_trade_no", out_trade_no),
        ("money", &money.to_string()),
    ])
    .unwrap_or_default()
}

/// `api.php?act=order`'s answer (unsigned JSON; trusted as far as the HTTPS connection
/// to the configured aggregator is). Numbers come as numbers or strings, by clone.
#[derive(Debug, Clone, Deserialize)]
pub struct OrderAnswer {
    pub code: serde_json::Value,
    #[serde(default)]
    pub msg: Option<String>,
    /// The order itself, as `act=orders` lists it.
    #[serde(flatten)]
    pub order: ListedOrder,
}

/// What an order query says about the payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderState {
    /// Paid: the same facts a notification would carry.
    Paid(Notification),
    /// Refunded in full at the aggregator.
    Refunded,
    /// Not paid (yet), or unknown to the aggregator.
    Unpaid,
}

impl OrderAnswer {
    /// Reads the answer for our merchant `pid` and the `out_trade_no` asked about.
    pub fn state(&self, pid: &str, out_trade_no: &str) -> Result<OrderState, EpayError> {
        if number(&self.code) != Some(1) {
            // "订单号不存在" and its like: nothing was paid under this number.
            return Ok(OrderState::Unpaid);
        }
        let o = &self.order;
        let their_pid = text(&o.pid).unwrap_or_default();
        if their_pid != pid {
            return Err(EpayError::WrongMerchant(their_pid));
        }
        if o.out_trade_no.as_deref() != Some(out_trade_no) {
            return Err(EpayError::Malformed("the answer is about another order".into()));
        }
        match number(&o.status) {
            Some(ORDER_PAID) => o.paid(their_pid).map(OrderState::Paid),
            Some(ORDER_REFUNDED) => Ok(OrderState::Refunded),
            _ => Ok(OrderState::Unpaid),
        }
    }
}

/// `api.php?act=orders&pid=…&key=…&limit=…&page=…`: a page of the merchant's orders,
/// newest first (the aggregator's statement: V1 has no signed bill).
pub fn orders_url(base: &str, pid: &str, key: &str, limit: u32, page: u32) -> String {
    let query = serde_urlencoded::to_string([
        ("act", "orders"),
        ("pid", pid),
        ("key", key),
        ("limit", &limit.to_string()),
        ("page", &page.to_string()),
    ])
    .unwrap_or_default();
    format!("{}api.php?{query}", with_slash(base))
}

/// `api.php?act=orders`' answer: `{code, msg, data: [order, …]}`, each order as in
/// `act=order` with its `endtime` (`2016-08-06 22:55:52`, the aggregator's China time).
#[derive(Debug, Clone, Deserialize)]
pub struct OrdersAnswer {
    pub code: serde_json::Value,
    #[serde(default)]
    pub msg: Option<String>,
    #[serde(default)]
    pub data: Vec<ListedOrder>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ListedOrder {
    #[serde(default)]
    pub trade_no: Option<String>,
    #[serde(default)]
    pub out_trade_no: Option<String>,
    #[serde(default, rename = "type")]
    pub pay_type: Option<String>,
    #[serde(default)]
    pub pid: serde_json::Value,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub money: Option<String>,
    #[serde(default)]
    pub status: serde_json::Value,
    #[serde(default)]
    pub endtime: Option<String>,
    #[serde(default)]
    pub buyer: Option<String>,
}

impl ListedOrder {
    /// A paid order (of merchant `pid`, checked by the caller) as the notification it
    /// stands for.
    fn paid(&self, pid: String) -> Result<Notification, EpayError> {
        Ok(Notification {
            pid,
            trade_no: required_text(&self.trade_no, "trade_no")?,
            out_trade_no: required_text(&self.out_trade_no, "out_trade_no")?,
            pay_type: self.pay_type.clone().unwrap_or_default(),
            name: self.name.clone().unwrap_or_default(),
            money: positive(self.money.as_deref().unwrap_or_default())?,
            trade_status: TRADE_SUCCESS.to_string(),
            buyer: self.buyer.clone().filter(|b| !b.is_empty()),
        })
    }
}

fn required_text(v: &Option<String>, name: &str) -> Result<String, EpayError> {
    v.clone()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| EpayError::Malformed(format!("a paid order without {name}")))
}

impl OrdersAnswer {
    /// The paid orders of merchant `pid` on this page, each with the minute it was paid
    /// (`endtime`, as the aggregator wrote it). An order refunded since (status 2) is still
    /// listed: the money came in, and the platform's books hold that payment and its
    /// refund (leaving it out would show every refunded payment as missing at the
    /// aggregator). A listed order of another merchant is refused: the aggregator is
    /// answering for someone else.
    pub fn paid(&self, pid: &str) -> Result<Vec<(Notification, String)>, EpayError> {
        if number(&self.code) != Some(1) {
            return Err(EpayError::Refused(self.msg.clone().unwrap_or_default()));
        }
        let mut out = Vec::new();
        for o in &self.data {
            let their_pid = text(&o.pid).unwrap_or_default();
            if their_pid != pid {
                return Err(EpayError::WrongMerchant(their_pid));
            }
            if !matches!(number(&o.status), Some(ORDER_PAID | ORDER_REFUNDED)) {
                continue;
            }
            let endtime = required_text(&o.endtime, "endtime")?;
            out.push((o.paid(their_pid)?, endtime));
        }
        Ok(out)
    }
}

/// `{code, msg}`: the answer of `act=refund` (and of a refused request).
#[derive(Debug, Clone, Deserialize)]
pub struct Answer {
    pub code: serde_json::Value,
    #[serde(default)]
    pub msg: Option<String>,
}

impl Answer {
    pub fn ok(&self) -> Result<(), EpayError> {
        if number(&self.code) == Some(1) {
            Ok(())
        } else {
            Err(EpayError::Refused(self.msg.clone().unwrap_or_default()))
        }
    }
}

fn required(params: &[(String, String)], name: &str) -> Result<String, EpayError> {
    value(params, name)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
        .ok_or_else(|| EpayError::Malformed(format!("missing {name}")))
}

fn positive(money: &str) -> Result<Money, EpayError> {
    let m = Money::parse_yuan(money)?;
    if m.is_positive() {
        Ok(m)
    } else {
        Err(EpayError::Malformed(format!("money {money:?} is no payment")))
    }
}

fn number(v: &serde_json::Value) -> Option<i64> {
    match v {
        serde_json::Value::Number(n) => n.as_i64(),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn text(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::String(s) => Some(s.clone()),
        _ => None,
    }
}

fn with_slash(base: &str) -> String {
    if base.ends_with('/') {
        base.to_string()
    } else {
        format!("{base}/")
    }
}
