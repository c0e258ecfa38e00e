//! The Alipay rail (open platform, RSA2): the platform as an Alipay application, speaking
//! `danbao_rails::alipay`. Requests are signed with the application's private key; every
//! answer and notification is believed only once it verifies under Alipay's public key.
//!
//! - The computer and phone cashiers (`alipay_page`, `alipay_wap`) are a signed GET of the
//!   gateway that the buyer's browser makes: no call is made to open them, so a slow
//!   gateway never holds a checkout. The QR code (`alipay_qr`) is `alipay.trade.precreate`,
//!   and the address the buyer opens is its `qr_code`.
//! - The notification is Alipay's form POST: signature first, then our `app_id` and
//!   `seller_id`, CNY, a paid `trade_status`, an exact amount, a recent `notify_time`. A
//!   refund's notification (it carries `refund_fee`) is acknowledged and changes nothing.
//! - The active query is `alipay.trade.query`; a refund is `alipay.trade.refund` with an
//!   `out_request_no` derived from our refund's request id (a retry is the same refund),
//!   confirmed with `alipay.trade.fastpay.refund.query` when it moved no money itself.
//! - The statement is the trade bill of each China day the period touches
//!   (`alipay.data.dataservice.bill.downloadurl.query`, then the 业务明细 file), lines kept
//!   when their 完成时间 falls in the period. The file comes zipped, as Alipay serves it
//!   (unpacked within a bound), or bare; GBK either way.
//! - Payouts: Alipay's transfer API is not implemented; a payout through this rail is
//!   refused.

use crate::payments::{
    CreatedPayment, Incoming, PaymentProvider, PaymentRequest, ProviderError, RefundCommand, VerifiedPayment,
    NOTIFICATION_BODY_MAX_BYTES,
};
use danbao_domain::Money;
use danbao_rails::alipay::{
    self, AlipayError, BillUrlAnswer, Head, Method, Notification, PayOrder, PrecreateAnswer, QueryAnswer, RefundAnswer,
    RefundOrder, RefundQueryAnswer, Request,
};
use danbao_rails::rsa_sha256::{SigningKey, VerifyingKey};
use futures::future::BoxFuture;
use sha2::{Digest, Sha256};
use std::time::Duration;

/// Each call to Alipay gives up after this long (the job retries later); Alipay answers
/// its trade methods in well under a second.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// A bill can be large: its download gets longer.
const BILL_TIMEOUT: Duration = Duration::from_secs(60);
/// A statement asks for one bill a China day; the admin's period is at most 31 days, which
/// touches at most 32 of them.
const STATEMENT_DAYS_MAX: usize = 32;
/// A notification's `notify_time` is when that (re)send left Alipay: one older than this
/// is a replay of a stale capture, not Alipay's schedule (each resend is freshly dated).
const NOTIFY_AGE_MAX_MS: i64 = 24 * 3_600_000;
/// Clocks drift; one dated further ahead than this is not from Alipay's clock.
const NOTIFY_AHEAD_MAX_MS: i64 = 10 * 60_000;
/// Alipay's `subject` is at most 256 characters.
const SUBJECT_CHARS_MAX: usize = 256;
/// Alipay's `out_request_no` is at most 64 characters.
const OUT_REQUEST_NO_LEN_MAX: usize = 64;
/// `sub_code` of a day without a bill (no trades, or not ready yet).
const SUB_BILL_NOT_EXIST: &str = "isp.bill_not_exist";

/// The methods this rail offers buyers, by the operator's names for them (`methods` in the
/// rails file).
pub const METHODS: [(&str, &str, Method); 3] = [
    ("alipay_page", "page", Method::PagePay),
    ("alipay_qr", "qr", Method::Precreate),
    ("alipay_wap", "wap", Method::WapPay),
];

pub struct AlipayProvider {
    /// `https://openapi.alipay.com/gateway.do`, or the sandbox's `/alipay/gateway.do`.
    gateway_url: String,
    app_id: String,
    seller_id: String,
    app_key: SigningKey,
    alipay_key: VerifyingKey,
    methods: Vec<&'static str>,
    http: reqwest::Client,
    bill_http: reqwest::Client,
}

#[derive(Debug, thiserror::Error)]
pub enum AlipayConfigError {
    #[error("Alipay method {0:?} is not one of page, qr, wap")]
    UnknownMethod(String),
    #[error("Alipay needs a gateway_url, an app_id, a seller_id and at least one method")]
    Incomplete,
    #[error("Alipay gateway_url {0:?} is not an http(s) address")]
    GatewayUrl(String),
}

fn unavailable(e: reqwest::Error) -> ProviderError {
    ProviderError::Unavailable(e.without_url().to_string())
}

/// What an Alipay refusal means to the platform.
fn refused(e: AlipayError) -> ProviderError {
    match e {
        AlipayError::BadSignature => ProviderError::BadSignature,
        e @ (AlipayError::Refused { .. } | AlipayError::UnsignedRefusal { .. }) => {
            ProviderError::Rejected(e.to_string())
        }
        other => ProviderError::Malformed(other.to_string()),
    }
}

/// Reads at most `limit` bytes of an answer; 5xx is an outage.
async fn read_bounded(mut r: reqwest::Response, limit: usize) -> Result<Vec<u8>, ProviderError> {
    if r.status().is_server_error() {
        return Err(ProviderError::Unavailable(format!("Alipay answered {}", r.status())));
    }
    let mut body = Vec::new();
    while let Some(chunk) = r.chunk().await.map_err(unavailable)? {
        body.extend_from_slice(&chunk);
        if body.len() > limit {
            return Err(ProviderError::Malformed(format!(
                "Alipay's answer is over {limit} bytes"
            )));
        }
    }
    Ok(body)
}

/// The `out_request_no` of a refund: our request id when Alipay can take it as it is,
/// else its SHA-256 (hex, 64 characters). Either way the same request id gives the same
/// number, so a retried refund is the same refund at Alipay.
pub fn out_request_no(request_id: &str) -> String {
    let plain = !request_id.is_empty()
        && request_id.len() <= OUT_REQUEST_NO_LEN_MAX
        && request_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if plain {
        request_id.to_string()
    } else {
        hex::encode(Sha256::digest(request_id.as_bytes()))
    }
}

/// The China days (`yyyy-MM-dd`) that [from, to) touches, oldest first.
pub fn china_days(from_ms: i64, to_ms: i64) -> Result<Vec<String>, ProviderError> {
    let china = jiff::tz::TimeZone::fixed(jiff::tz::offset(8));
    let day = |ms: i64| {
        jiff::Timestamp::from_millisecond(ms)
            .map(|t| t.to_zoned(china.clone()).date())
            .map_err(|e| ProviderError::Rejected(format!("period: {e}")))
    };
    if to_ms <= from_ms {
        return Ok(Vec::new());
    }
    let (first, last) = (day(from_ms)?, day(to_ms - 1)?);
    let mut days = Vec::new();
    let mut d = first;
    while d <= last {
        if days.len() >= STATEMENT_DAYS_MAX {
            return Err(ProviderError::Rejected(format!(
                "a statement covers at most {STATEMENT_DAYS_MAX} days"
            )));
        }
        days.push(d.strftime("%Y-%m-%d").to_string());
        d = d
            .tomorrow()
            .map_err(|e| ProviderError::Rejected(format!("period: {e}")))?;
    }
    Ok(days)
}

impl AlipayProvider {
    /// `methods`: the operator's names (`page`, `qr`, `wap`), the first the default.
    pub fn new(
        gateway_url: &str,
        app_id: &str,
        seller_id: &str,
        app_key: SigningKey,
        alipay_key: VerifyingKey,
        methods: &[String],
    ) -> Result<AlipayProvider, AlipayConfigError> {
        if gateway_url.is_empty() || app_id.is_empty() || seller_id.is_empty() || methods.is_empty() {
            return Err(AlipayConfigError::Incomplete);
        }
        if !(gateway_url.starts_with("https://") || gateway_url.starts_with("http://")) {
            return Err(AlipayConfigError::GatewayUrl(gateway_url.to_string()));
        }
        let methods = methods
            .iter()
            .map(|m| {
                METHODS
                    .iter()
                    .find(|(_, name, _)| name == m)
                    .map(|(id, _, _)| *id)
                    .ok_or_else(|| AlipayConfigError::UnknownMethod(m.clone()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let client = |timeout| {
            reqwest::Client::builder()
                .connect_timeout(CONNECT_TIMEOUT)
                .timeout(timeout)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                // Building fails only when a TLS backend cannot start.
                .unwrap_or_else(|_| reqwest::Client::new())
        };
        Ok(AlipayProvider {
            gateway_url: gateway_url.to_string(),
            app_id: app_id.to_string(),
            seller_id: seller_id.to_string(),
            app_key,
            alipay_key,
            methods,
            http: client(CALL_TIMEOUT),
            bill_http: client(BILL_TIMEOUT),
        })
    }

    fn method_of(&self, method: Option<&str>) -> Method {
        let id = method
            .and_then(|m| self.methods.iter().find(|x| **x == m))
            .or(self.methods.first());
        id.and_then(|id| METHODS.iter().find(|(x, _, _)| x == id))
            .map_or(Method::PagePay, |(_, _, m)| *m)
    }

    fn head(&self, notify_url: Option<String>, return_url: Option<String>) -> Head {
        Head {
            app_id: self.app_id.clone(),
            // Alipay compares it with its own clock: the real time, not the platform's.
            timestamp: alipay::china_time(jiff::Timestamp::now()),
            notify_url,
            return_url: return_url.filter(|u| !u.is_empty()),
        }
    }

    /// POSTs a signed request to the gateway; the answer's text.
    async fn call(&self, request: &Request, head: &Head) -> Result<String, ProviderError> {
        let body = request
            .form_body(head, &self.app_key)
            .map_err(|e| ProviderError::Malformed(e.to_string()))?;
        let r = self
            .http
            .post(&self.gateway_url)
            .header("content-type", "application/x-www-form-urlencoded;charset=utf-8")
            .body(body)
            .send()
            .await
            .map_err(unavailable)?;
        let bytes = read_bounded(r, alipay::MAX_ANSWER_BYTES).await?;
        String::from_utf8(bytes).map_err(|_| ProviderError::Malformed("Alipay's answer is not UTF-8".into()))
    }

    fn verified(&self, p: alipay::Payment, raw: String) -> VerifiedPayment {
        VerifiedPayment {
            // The out_trade_no names the payment on both sides: a page jump opens nothing
            // at Alipay that could be named before the buyer arrives.
            provider_payment_id: p.out_trade_no.clone(),
            provider_txn_id: p.trade_no,
            out_trade_no: p.out_trade_no,
            amount: p.amount,
            currency: alipay::CURRENCY_CNY.to_string(),
            raw,
            payer_id: crate::safeguards::payer_identity(p.buyer_id.as_deref()).map(str::to_string),
        }
    }

    /// Whether refund `out_request_no` of trade `out_trade_no` is done, for `amount`.
    async fn confirm_refund(
        &self,
        out_trade_no: &str,
        out_request_no: &str,
        amount: Money,
    ) -> Result<(), ProviderError> {
        let request = Request::RefundQuery {
            out_trade_no: out_trade_no.to_string(),
            out_request_no: out_request_no.to_string(),
        };
        let body = self.call(&request, &self.head(None, None)).await?;
        let answer = RefundQueryAnswer::read(&body, &self.alipay_key, out_trade_no, out_request_no).map_err(refused)?;
        match answer.refunded() {
            Some(done) if done == amount => Ok(()),
            Some(done) => Err(ProviderError::Rejected(format!(
                "refund {out_request_no} is for {done}, not {amount}"
            ))),
            // Not (yet) done: asked again on the job's next try, with the same number.
            None => Err(ProviderError::Unavailable(format!(
                "refund {out_request_no} of {out_trade_no} is not confirmed yet"
            ))),
        }
    }

    /// One China day's bill lines, those finished in [from, to).
    async fn bill_day(&self, day: &str, from_ms: i64, to_ms: i64) -> Result<Vec<VerifiedPayment>, ProviderError> {
        let request = Request::BillDownloadUrl {
            bill_type: alipay::BILL_TYPE_TRADE.to_string(),
            bill_date: day.to_string(),
        };
        let body = self.call(&request, &self.head(None, None)).await?;
        let url = match BillUrlAnswer::read(&body, &self.alipay_key) {
            Ok(a) => a.bill_download_url,
            // A day without trades has no bill.
            Err(AlipayError::Refused { sub_code, .. }) if sub_code == SUB_BILL_NOT_EXIST => return Ok(Vec::new()),
            Err(e) => return Err(refused(e)),
        };
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            return Err(ProviderError::Malformed(format!("bill address {url:?}")));
        }
        let r = self.bill_http.get(&url).send().await.map_err(unavailable)?;
        if !r.status().is_success() {
            return Err(ProviderError::Unavailable(format!(
                "the bill download answered {}",
                r.status()
            )));
        }
        let bytes = read_bounded(r, alipay::MAX_BILL_BYTES).await?;
        // Alipay serves a zip (the 业务明细 CSV and its summary, GBK); a bare CSV is read too.
        let text = alipay::read_bill(&bytes).map_err(refused)?;
        let mut lines = Vec::new();
        for line in alipay::read_bill_detail(&text).map_err(refused)? {
            let at = crate::epay::china_time_ms(&line.finished_at)
                .ok_or_else(|| ProviderError::Malformed(format!("完成时间 {:?}", line.finished_at)))?;
            if at < from_ms || at >= to_ms {
                continue;
            }
            // The bill is fetched from the address Alipay's signed answer gave, over its
            // connection; the line is kept as the bill wrote it, with the day it came from.
            let raw = serde_json::json!({
                "bill_date": day,
                "支付宝交易号": line.trade_no,
                "商户订单号": line.out_trade_no,
                "订单金额（元）": line.amount.to_string(),
                "完成时间": line.finished_at,
            })
            .to_string();
            lines.push(self.verified(
                alipay::Payment {
                    out_trade_no: line.out_trade_no,
                    trade_no: line.trade_no,
                    amount: line.amount,
                    buyer_id: None,
                    paid_at: Some(line.finished_at),
                },
                raw,
            ));
        }
        Ok(lines)
    }
}

impl PaymentProvider for AlipayProvider {
    fn name(&self) -> &'static str {
        "alipay"
    }

    fn methods(&self) -> Vec<&'static str> {
        self.methods.clone()
    }

    fn create_payment(&self, req: PaymentRequest) -> BoxFuture<'_, Result<CreatedPayment, ProviderError>> {
        Box::pin(async move {
            if req.currency != alipay::CURRENCY_CNY {
                return Err(ProviderError::Rejected(format!(
                    "Alipay takes CNY, not {}",
                    req.currency
                )));
            }
            let time_expire = jiff::Timestamp::from_millisecond(req.expires_at_ms)
                .ok()
                .map(alipay::china_time);
            let order = PayOrder {
                out_trade_no: req.out_trade_no.clone(),
                total_amount: req.amount,
                subject: req.subject.chars().take(SUBJECT_CHARS_MAX).collect(),
                time_expire,
            };
            let head = self.head(Some(req.notify_url), Some(req.return_url));
            let cashier_url = match self.method_of(req.method.as_deref()) {
                Method::Precreate => {
                    let body = self.call(&Request::Precreate(order), &head).await?;
                    PrecreateAnswer::read(&body, &self.alipay_key, &req.out_trade_no)
                        .map_err(refused)?
                        .qr_code
                }
                Method::WapPay => Request::WapPay(order)
                    .page_url(&self.gateway_url, &head, &self.app_key)
                    .map_err(refused)?,
                _ => Request::PagePay(order)
                    .page_url(&self.gateway_url, &head, &self.app_key)
                    .map_err(refused)?,
            };
            Ok(CreatedPayment {
                provider_payment_id: req.out_trade_no,
                cashier_url,
            })
        })
    }

    fn verify_notification(&self, incoming: &Incoming<'_>) -> Result<VerifiedPayment, ProviderError> {
        let body = incoming.body;
        if body.len() > NOTIFICATION_BODY_MAX_BYTES {
            return Err(ProviderError::Malformed("notification too large".into()));
        }
        let text = std::str::from_utf8(body).map_err(|_| ProviderError::Malformed("not UTF-8".into()))?;
        let params = alipay::parse_params(text).map_err(refused)?;
        let n = Notification::read_params(&params, &self.app_id, &self.seller_id, &self.alipay_key).map_err(refused)?;
        let sent = crate::epay::china_time_ms(&n.notify_time)
            .ok_or_else(|| ProviderError::Malformed(format!("notify_time {:?}", n.notify_time)))?;
        if sent < incoming.now_ms - NOTIFY_AGE_MAX_MS || sent > incoming.now_ms + NOTIFY_AHEAD_MAX_MS {
            return Err(ProviderError::Malformed(format!(
                "notify_time {} is not recent",
                n.notify_time
            )));
        }
        match n.payment() {
            Ok(p) => Ok(self.verified(p, text.to_string())),
            Err(e @ AlipayError::RefundNotice { .. }) => Err(ProviderError::NotAPayment(e.to_string())),
            Err(e) => Err(refused(e)),
        }
    }

    fn acknowledgement(&self) -> &'static str {
        alipay::ACK
    }

    fn refund(&self, cmd: RefundCommand) -> BoxFuture<'_, Result<(), ProviderError>> {
        Box::pin(async move {
            let out_trade_no = cmd.provider_payment_id;
            let out_request_no = out_request_no(&cmd.request_id);
            let request = Request::Refund(RefundOrder {
                out_trade_no: out_trade_no.clone(),
                refund_amount: cmd.amount,
                out_request_no: out_request_no.clone(),
                refund_reason: Some(format!("{} refund", crate::payments::MERCHANT_NAME)),
            });
            let body = self.call(&request, &self.head(None, None)).await?;
            let answer = RefundAnswer::read(&body, &self.alipay_key, &out_trade_no).map_err(refused)?;
            if answer.fund_change {
                return Ok(());
            }
            // No money moved by this call: a repeat of a refund made earlier, or one still
            // in progress. The refund query says which.
            self.confirm_refund(&out_trade_no, &out_request_no, cmd.amount).await
        })
    }

    fn query_payments(&self, out_trade_no: String) -> BoxFuture<'_, Result<Vec<VerifiedPayment>, ProviderError>> {
        Box::pin(async move {
            let request = Request::Query {
                out_trade_no: out_trade_no.clone(),
            };
            let body = self.call(&request, &self.head(None, None)).await?;
            let answer = match QueryAnswer::read(&body, &self.alipay_key, &out_trade_no) {
                Ok(a) => a,
                // The buyer never reached the cashier: nothing was paid.
                Err(AlipayError::Refused { sub_code, .. }) if sub_code == alipay::SUB_TRADE_NOT_EXIST => {
                    return Ok(Vec::new())
                }
                Err(e) => return Err(refused(e)),
            };
            match answer.payment() {
                // The signed answer itself is kept: it verifies under Alipay's key offline.
                Ok(p) => Ok(vec![self.verified(p, body)]),
                Err(AlipayError::NotPaid(_)) => Ok(Vec::new()),
                Err(e) => Err(refused(e)),
            }
        })
    }

    fn statement(&self, from_ms: i64, to_ms: i64) -> BoxFuture<'_, Result<Vec<VerifiedPayment>, ProviderError>> {
        Box::pin(async move {
            let mut lines = Vec::new();
            for day in china_days(from_ms, to_ms)? {
                lines.extend(self.bill_day(&day, from_ms, to_ms).await?);
            }
            Ok(lines)
        })
    }

    fn payout(
        &self,
        _request_id: String,
        _amount: Money,
        _account: String,
    ) -> BoxFuture<'_, Result<(), ProviderError>> {
        Box::pin(async {
            Err(ProviderError::Rejected(
                "payouts through Alipay (alipay.fund.trans.uni.transfer) are not implemented".into(),
            ))
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_statement_asks_for_each_china_day_its_period_touches() {
        // 2026-12-01 16:00 UTC is 2026-12-02 00:00 in China.
        let midnight = 1_796_140_800_000;
        assert_eq!(china_days(midnight, midnight + 86_400_000).unwrap(), ["2026-12-02"]);
        assert_eq!(
            china_days(midnight - 1, midnight + 1).unwrap(),
            ["2026-12-01", "2026-12-02"]
        );
        assert!(china_days(midnight, midnight).unwrap().is_empty());
        assert!(china_days(midnight, midnight + 40 * 86_400_000).is_err());
    }

    #[test]
    fn the_refund_request_number_is_the_request_id_or_its_digest() {
        assert_eq!(out_request_no("refund-rf_01"), "refund-rf_01");
        let long = "x".repeat(65);
        assert_eq!(out_request_no(&long).len(), 64);
        assert_eq!(out_request_no(&long), out_request_no(&long));
        assert_ne!(out_request_no("a/b"), "a/b");
    }
}
