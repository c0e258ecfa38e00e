//! The WeChat Pay API v3 rail (直连商户, Native): the platform as a WeChat Pay merchant,
//! speaking `danbao_rails::wechat`. Every request carries the merchant's
//! `WECHATPAY2-SHA256-RSA2048` Authorization; every answer is believed only once the
//! platform key's signature in its `Wechatpay-*` headers verifies (against the wall
//! clock: the answer is live); a notification is verified the same way against the
//! platform's injected clock (`Incoming::now_ms`), then its resource opened with the
//! APIv3 key, before anything in it is believed.
//!
//! Numbers: WeChat Pay takes `out_trade_no` of at most 32 characters, so our attempt id (a
//! UUID) goes as its 32 hex digits and comes back hyphenated; a refund's `out_refund_no`
//! is derived from our refund's request id the same way, so a retried refund is the same
//! refund at WeChat Pay.

use crate::payments::{
    CreatedPayment, Incoming, PaymentProvider, PaymentRequest, ProviderError, RefundCommand, VerifiedPayment,
    NOTIFICATION_BODY_MAX_BYTES,
};
use danbao_domain::Money;
use danbao_rails::rsa_sha256::{SigningKey, VerifyingKey};
use danbao_rails::wechat::{
    self, ApiV3Key, BillAnswer, Headers, KeyRing, Merchant, NativeAnswer, NativeOrder, Notification, OrderState,
    Payment, Receiver, Refund, RefundRequest, RefundStatus, SignedRequest, Transaction, WechatError,
};
use futures::future::BoxFuture;
use rand::distributions::{Alphanumeric, DistString};
use sha2::{Digest, Sha256};
use std::time::Duration;

/// Each API call gives up after this long (the job retries later).
const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// A bill download may be a day of a busy shop (megabytes): it gets longer.
const BILL_TIMEOUT: Duration = Duration::from_secs(60);
/// Connecting gives up sooner than a whole call.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// A statement covers at most this many China days (the admin API's period is at most
/// 31 days, which can touch 32 dates).
const STATEMENT_DAYS_MAX: i64 = 32;
const DAY_MS: i64 = 86_400_000;
/// China is UTC+8 all year.
const CHINA_OFFSET_MS: i64 = 8 * 3_600_000;
/// WeChat Pay asks every caller for a User-Agent.
const USER_AGENT: &str = concat!("danbao/", env!("CARGO_PKG_VERSION"));
/// WeChat Pay's answer code for an order it does not know.
const ORDER_NOT_EXIST: &str = "ORDER_NOT_EXIST";
/// The one payment method of this rail.
pub const METHOD_NATIVE: &str = "wechat_native";
/// Where WeChat Pay's API is.
pub const API_BASE_DEFAULT: &str = "https://api.mch.weixin.qq.com";

/// What the platform needs as a WeChat Pay merchant.
pub struct WechatConfig {
    /// `https://api.mch.weixin.qq.com`, or the sandbox's `/wechat` root.
    pub api_base: String,
    pub mchid: String,
    pub appid: String,
    /// The serial of the merchant's API certificate and its private key.
    pub merchant_serial_no: String,
    pub merchant_key: SigningKey,
    /// The platform's key (certificate or 微信支付公钥) and its serial / key id.
    pub platform_serial_no: String,
    pub platform_key: VerifyingKey,
    pub api_v3_key: ApiV3Key,
}

#[derive(Debug, thiserror::Error)]
pub enum WechatConfigError {
    #[error("WeChat Pay needs an api_base, a mchid, an appid and both serial numbers")]
    Incomplete,
    #[error("WeChat Pay api_base {0:?} is not an http(s) address")]
    ApiBase(String),
}

pub struct WechatProvider {
    api_base: String,
    merchant: Merchant,
    receiver: Receiver,
    http: reqwest::Client,
}

impl WechatProvider {
    pub fn new(cfg: WechatConfig) -> Result<WechatProvider, WechatConfigError> {
        let api_base = cfg.api_base.trim_end_matches('/').to_string();
        if [&cfg.mchid, &cfg.appid, &cfg.merchant_serial_no, &cfg.platform_serial_no]
            .iter()
            .any(|s| s.trim().is_empty())
        {
            return Err(WechatConfigError::Incomplete);
        }
        if !(api_base.starts_with("https://") || api_base.starts_with("http://")) {
            return Err(WechatConfigError::ApiBase(cfg.api_base));
        }
        let http = reqwest::Client::builder()
            .timeout(CALL_TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(USER_AGENT)
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        Ok(WechatProvider {
            api_base,
            receiver: Receiver {
                mchid: cfg.mchid.clone(),
                appid: cfg.appid,
                platform_keys: KeyRing::new().with(&cfg.platform_serial_no, cfg.platform_key),
                api_v3_key: cfg.api_v3_key,
            },
            merchant: Merchant {
                mchid: cfg.mchid,
                serial_no: cfg.merchant_serial_no,
                key: cfg.merchant_key,
            },
            http,
        })
    }

    /// Sends a signed request; returns the status, the `Wechatpay-*` headers (if all
    /// there) and at most `max` bytes of the body.
    async fn call(&self, req: SignedRequest, max: usize, timeout: Duration) -> Result<Answer, ProviderError> {
        let url = format!("{}{}", self.api_base, req.path_and_query);
        self.send(url, req, max, timeout).await
    }

    async fn send(
        &self,
        url: String,
        req: SignedRequest,
        max: usize,
        timeout: Duration,
    ) -> Result<Answer, ProviderError> {
        let builder = match req.method {
            "POST" => self
                .http
                .post(url)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(req.body),
            _ => self.http.get(url),
        };
        let mut r = builder
            .timeout(timeout)
            .header(reqwest::header::AUTHORIZATION, req.authorization)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(unavailable)?;
        let status = r.status().as_u16();
        if r.status().is_server_error() || status == 429 {
            return Err(ProviderError::Unavailable(format!("WeChat Pay answered {status}")));
        }
        let pairs: Vec<(String, String)> = r
            .headers()
            .iter()
            .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
            .collect();
        let headers = Headers::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))).ok();
        let mut body = Vec::new();
        while let Some(chunk) = r.chunk().await.map_err(unavailable)? {
            body.extend_from_slice(&chunk);
            if body.len() > max {
                return Err(ProviderError::Malformed("WeChat Pay's answer is too large".into()));
            }
        }
        Ok(Answer { status, headers, body })
    }

    /// Reads a signed JSON answer: the signature verified against the wall clock.
    fn read<T: serde::de::DeserializeOwned>(&self, a: &Answer) -> Result<T, ProviderError> {
        self.read_typed(a).map_err(refused)
    }

    /// The answer read, its refusal still typed (for callers that act on its code).
    fn read_typed<T: serde::de::DeserializeOwned>(&self, a: &Answer) -> Result<T, WechatError> {
        wechat::read_answer(
            a.status,
            a.headers.as_ref(),
            &a.body,
            &self.receiver.platform_keys,
            wall_clock_s(),
        )
    }

    fn verified(&self, p: Payment, raw: String) -> VerifiedPayment {
        VerifiedPayment {
            provider_payment_id: p.out_trade_no.clone(),
            provider_txn_id: p.transaction_id,
            out_trade_no: attempt_of(&p.out_trade_no),
            amount: p.total,
            currency: wechat::CURRENCY_CNY.to_string(),
            raw,
            payer_id: crate::safeguards::payer_identity(p.payer_openid.as_deref()).map(str::to_string),
        }
    }

    /// What WeChat Pay says of our order `out_trade_no` (its form), and the signed
    /// answer's body; None: it does not know the order.
    async fn order_state(&self, out_trade_no: &str) -> Result<Option<(OrderState, String)>, ProviderError> {
        let req = wechat::query_request(&self.merchant, out_trade_no, wall_clock_s(), &nonce()).map_err(refused)?;
        let a = self.call(req, wechat::BODY_BYTES_MAX, CALL_TIMEOUT).await?;
        // Only WeChat Pay's own "no such order" is one; any other 404 (a wrong api_base)
        // is an error, not an unpaid order.
        let unknown = a.status == 404
            && serde_json::from_slice::<wechat::ErrorAnswer>(&a.body).is_ok_and(|e| e.code == ORDER_NOT_EXIST);
        if unknown {
            return Ok(None);
        }
        let t: Transaction = self.read(&a)?;
        let state = t
            .state(&self.receiver.mchid, &self.receiver.appid, out_trade_no)
            .map_err(refused)?;
        Ok(Some((state, signed_record(a.headers.as_ref(), &a.body))))
    }

    /// The refund `out_refund_no` as WeChat Pay has it now.
    async fn refund_state(&self, out_refund_no: &str) -> Result<(RefundStatus, Money), ProviderError> {
        let req =
            wechat::refund_query_request(&self.merchant, out_refund_no, wall_clock_s(), &nonce()).map_err(refused)?;
        let a = self.call(req, wechat::BODY_BYTES_MAX, CALL_TIMEOUT).await?;
        let r: Refund = self.read(&a)?;
        r.status(out_refund_no).map_err(refused)
    }

    /// One China day's trade bill: its successful payments, the hash checked.
    async fn bill(&self, date: &str) -> Result<Vec<(wechat::BillPayment, String)>, ProviderError> {
        let req = wechat::trade_bill_request(&self.merchant, date, wall_clock_s(), &nonce()).map_err(refused)?;
        let a = self.call(req, wechat::BODY_BYTES_MAX, CALL_TIMEOUT).await?;
        let answer: BillAnswer = match self.read_typed(&a) {
            Err(WechatError::Refused { code, .. }) if code == BILL_NOT_MADE_YET => {
                // WeChat Pay makes a day's bill the next morning: not a day without
                // payments, a bill not there yet. Asked again later.
                return Err(ProviderError::Unavailable(format!(
                    "the bill of {date} is not made yet"
                )));
            }
            other => other.map_err(refused)?,
        };
        // The download is signed like any request, over its path from our API base
        // (the same host as WeChat Pay's answers name).
        let (url, req) = match answer.download_url.strip_prefix(&self.api_base) {
            Some(rest) if rest.starts_with('/') => {
                let auth = wechat::Authorization::sign(&self.merchant, "GET", rest, wall_clock_s(), &nonce(), "")
                    .map_err(refused)?;
                let req = SignedRequest {
                    method: "GET",
                    path_and_query: rest.to_string(),
                    body: String::new(),
                    authorization: auth.header_value(),
                };
                (answer.download_url.clone(), req)
            }
            _ => {
                let req = answer
                    .download_request(&self.merchant, wall_clock_s(), &nonce())
                    .map_err(refused)?;
                (answer.download_url.clone(), req)
            }
        };
        let file = self.send(url, req, wechat::BILL_BYTES_MAX, BILL_TIMEOUT).await?;
        if file.status != 200 {
            return Err(ProviderError::Unavailable(format!(
                "the bill of {date} could not be downloaded ({})",
                file.status
            )));
        }
        let payments = answer.read_bill(&file.body, &self.receiver.mchid).map_err(refused)?;
        Ok(payments
            .into_iter()
            .map(|p| {
                let raw = serde_json::json!({
                    "source": "tradebill",
                    "bill_date": date,
                    "bill_sha1": answer.hash_value,
                    "time": p.time,
                    "transaction_id": p.transaction_id,
                    "out_trade_no": p.out_trade_no,
                    "total": p.total.to_string(),
                })
                .to_string();
                (p, raw)
            })
            .collect())
    }
}

struct Answer {
    status: u16,
    headers: Option<Headers>,
    body: Vec<u8>,
}

/// The signed bytes and their signature, kept as the payment's evidence: anyone with
/// the platform's public key can check them again.
fn signed_record(headers: Option<&Headers>, body: &[u8]) -> String {
    serde_json::json!({
        "wechatpay_serial": headers.map(|h| h.serial.as_str()),
        "wechatpay_timestamp": headers.map(|h| h.timestamp.as_str()),
        "wechatpay_nonce": headers.map(|h| h.nonce.as_str()),
        "wechatpay_signature": headers.map(|h| h.signature.as_str()),
        "body": String::from_utf8_lossy(body),
    })
    .to_string()
}

fn wall_clock_s() -> i64 {
    jiff::Timestamp::now().as_second()
}

fn nonce() -> String {
    Alphanumeric.sample_string(&mut rand::thread_rng(), 32)
}

fn unavailable(e: reqwest::Error) -> ProviderError {
    ProviderError::Unavailable(e.without_url().to_string())
}

/// WeChat Pay's code for a day whose bill is not made yet.
const BILL_NOT_MADE_YET: &str = "NO_STATEMENT_EXIST";

fn refused(e: WechatError) -> ProviderError {
    match e {
        WechatError::BadSignature | WechatError::UnknownSerial(_) => ProviderError::BadSignature,
        WechatError::Refused { status, code, message } if status >= 500 || status == 429 => {
            ProviderError::Unavailable(format!("{status} {code}: {message}"))
        }
        WechatError::Refused { status, code, message } => {
            ProviderError::Rejected(format!("{status} {code}: {message}"))
        }
        other => ProviderError::Malformed(other.to_string()),
    }
}

/// Our attempt id as WeChat Pay's `out_trade_no`: a UUID's 32 hex digits (WeChat Pay
/// takes at most 32 characters). Anything else goes as it is (and is refused there if
/// it does not fit).
pub fn wechat_out_trade_no(attempt_id: &str) -> String {
    uuid::Uuid::parse_str(attempt_id).map_or_else(|_| attempt_id.to_string(), |u| u.simple().to_string())
}

/// The attempt id back from WeChat Pay's `out_trade_no`.
pub fn attempt_of(out_trade_no: &str) -> String {
    uuid::Uuid::parse_str(out_trade_no).map_or_else(|_| out_trade_no.to_string(), |u| u.hyphenated().to_string())
}

/// Our refund's `out_refund_no`, the same for every retry: the request id when it fits
/// WeChat Pay's rule (1–32 of `[0-9A-Za-z_-*]`), else the 32 hex digits of the UUID it
/// ends with (`refund-<uuid>`), else the first 32 hex digits of its SHA-256.
pub fn out_refund_no(request_id: &str) -> String {
    let fits = !request_id.is_empty()
        && request_id.len() <= wechat::OUT_NO_CHARS_MAX
        && request_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-*".contains(&b));
    if fits {
        return request_id.to_string();
    }
    let tail = request_id
        .len()
        .checked_sub(36)
        .and_then(|at| request_id.get(at..))
        .and_then(|t| uuid::Uuid::parse_str(t).ok());
    match tail {
        Some(u) => u.simple().to_string(),
        None => hex::encode(Sha256::digest(request_id.as_bytes()))[..32].to_string(),
    }
}

/// The China calendar dates (`YYYY-MM-DD`) that [from, to) touches, at most
/// [`STATEMENT_DAYS_MAX`].
fn china_dates(from_ms: i64, to_ms: i64) -> Result<Vec<String>, ProviderError> {
    let day = |ms: i64| (ms + CHINA_OFFSET_MS).div_euclid(DAY_MS);
    let (first, last) = (day(from_ms), day(to_ms - 1));
    if to_ms <= from_ms || last - first >= STATEMENT_DAYS_MAX {
        return Err(ProviderError::Rejected(format!(
            "a WeChat Pay statement covers 1 to {STATEMENT_DAYS_MAX} days"
        )));
    }
    (first..=last)
        .map(|d| {
            jiff::Timestamp::from_millisecond(d * DAY_MS)
                .map(|t| t.to_zoned(jiff::tz::TimeZone::UTC).date().to_string())
                .map_err(|e| ProviderError::Rejected(e.to_string()))
        })
        .collect()
}

impl PaymentProvider for WechatProvider {
    fn name(&self) -> &'static str {
        "wechat"
    }

    fn methods(&self) -> Vec<&'static str> {
        vec![METHOD_NATIVE]
    }

    fn create_payment(&self, req: PaymentRequest) -> BoxFuture<'_, Result<CreatedPayment, ProviderError>> {
        Box::pin(async move {
            if req.currency != wechat::CURRENCY_CNY {
                return Err(ProviderError::Rejected(format!(
                    "WeChat Pay takes CNY, not {}",
                    req.currency
                )));
            }
            let out_trade_no = wechat_out_trade_no(&req.out_trade_no);
            let expires_at = jiff::Timestamp::from_millisecond(req.expires_at_ms)
                .map_err(|e| ProviderError::Rejected(format!("expires_at: {e}")))?;
            let order = NativeOrder::new(
                &self.receiver.appid,
                &self.merchant.mchid,
                &req.subject,
                &out_trade_no,
                expires_at,
                &req.notify_url,
                req.amount,
            )
            .map_err(refused)?;
            let signed = order
                .request(&self.merchant, wall_clock_s(), &nonce())
                .map_err(refused)?;
            let a = self.call(signed, wechat::BODY_BYTES_MAX, CALL_TIMEOUT).await?;
            let answer: NativeAnswer = self.read(&a)?;
            // The code_url is what the buyer scans; the sandbox's is its cashier's page.
            Ok(CreatedPayment {
                provider_payment_id: out_trade_no,
                cashier_url: answer.code_url,
            })
        })
    }

    fn verify_notification(&self, incoming: &Incoming<'_>) -> Result<VerifiedPayment, ProviderError> {
        let body = incoming.body;
        if body.len() > NOTIFICATION_BODY_MAX_BYTES {
            return Err(ProviderError::Malformed("notification too large".into()));
        }
        let headers = Headers::from_pairs(incoming.headers.iter().map(|(k, v)| (k.as_str(), v.as_str()))).map_err(
            |e| match e {
                WechatError::TooLarge { .. } => ProviderError::Malformed(e.to_string()),
                // Missing or doubled: no signature that could be checked.
                _ => ProviderError::BadSignature,
            },
        )?;
        // The platform's clock, not the wall's: a notification is as fresh as the
        // platform believes it is.
        let now_s = incoming.now_ms.div_euclid(1000);
        let (_id, payment) = Notification::read(&headers, body, &self.receiver, now_s).map_err(refused)?;
        Ok(self.verified(payment, signed_record(Some(&headers), body)))
    }

    fn acknowledgement(&self) -> &'static str {
        // An empty 200, after the commit.
        ""
    }

    fn refund(&self, cmd: RefundCommand) -> BoxFuture<'_, Result<(), ProviderError>> {
        Box::pin(async move {
            let out_refund_no = out_refund_no(&cmd.request_id);
            // The refund names the payment's total: asked of WeChat Pay, not assumed.
            let total = match self.order_state(&cmd.provider_payment_id).await? {
                Some((OrderState::Paid(p) | OrderState::Refunded(p), _)) => p.total,
                Some((OrderState::Unpaid(s) | OrderState::Closed(s), _)) => {
                    return Err(ProviderError::Rejected(format!("the order is {s}: nothing to refund")))
                }
                None => return Err(ProviderError::Rejected("WeChat Pay does not know the order".into())),
            };
            let request = RefundRequest::new(
                &cmd.provider_payment_id,
                &out_refund_no,
                Some("担保交易退款"),
                cmd.amount,
                total,
            )
            .map_err(refused)?;
            let signed = request
                .request(&self.merchant, wall_clock_s(), &nonce())
                .map_err(refused)?;
            let a = self.call(signed, wechat::BODY_BYTES_MAX, CALL_TIMEOUT).await?;
            let answer: Refund = self.read(&a)?;
            let mut state = answer.status(&out_refund_no).map_err(refused)?;
            if state.0 == RefundStatus::Processing {
                // Usually done in seconds: ask once now, else the job asks again later
                // (the same out_refund_no never refunds twice).
                state = self.refund_state(&out_refund_no).await?;
            }
            match state {
                (RefundStatus::Success, refunded) if refunded == cmd.amount => Ok(()),
                (RefundStatus::Success, refunded) => Err(ProviderError::Rejected(format!(
                    "WeChat Pay refunded {refunded} of the {} asked",
                    cmd.amount
                ))),
                (RefundStatus::Processing, _) => Err(ProviderError::Unavailable(format!(
                    "refund {out_refund_no} is still processing"
                ))),
                (RefundStatus::Closed, _) => Err(ProviderError::Rejected(format!(
                    "refund {out_refund_no} was closed by WeChat Pay"
                ))),
                (RefundStatus::Abnormal, _) => Err(ProviderError::Rejected(format!(
                    "refund {out_refund_no} is stuck at the bank (ABNORMAL): needs a person"
                ))),
            }
        })
    }

    fn query_payments(&self, out_trade_no: String) -> BoxFuture<'_, Result<Vec<VerifiedPayment>, ProviderError>> {
        Box::pin(async move {
            match self.order_state(&wechat_out_trade_no(&out_trade_no)).await? {
                // Paid, or paid and since refunded: the payment is a fact either way.
                Some((OrderState::Paid(p) | OrderState::Refunded(p), raw)) => Ok(vec![self.verified(p, raw)]),
                Some((OrderState::Unpaid(_) | OrderState::Closed(_), _)) | None => Ok(Vec::new()),
            }
        })
    }

    fn statement(&self, from_ms: i64, to_ms: i64) -> BoxFuture<'_, Result<Vec<VerifiedPayment>, ProviderError>> {
        Box::pin(async move {
            let mut lines = Vec::new();
            for date in china_dates(from_ms, to_ms)? {
                for (p, raw) in self.bill(&date).await? {
                    let at = crate::epay::china_time_ms(&p.time)
                        .ok_or_else(|| ProviderError::Malformed(format!("bill time {:?}", p.time)))?;
                    if at < from_ms || at >= to_ms {
                        continue;
                    }
                    lines.push(VerifiedPayment {
                        provider_payment_id: p.out_trade_no.clone(),
                        provider_txn_id: p.transaction_id,
                        out_trade_no: attempt_of(&p.out_trade_no),
                        amount: p.total,
                        currency: wechat::CURRENCY_CNY.to_string(),
                        raw,
                        payer_id: None,
                    });
                }
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
                "payouts through WeChat Pay (商家转账) are not implemented".into(),
            ))
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn our_numbers_fit_wechat_pays_and_come_back() {
        let attempt = "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b";
        let no = wechat_out_trade_no(attempt);
        assert_eq!(no, "0193a1b2c3d47e5f8a9b0c1d2e3f4a5b");
        assert_eq!(attempt_of(&no), attempt);
        assert_eq!(attempt_of("not-a-uuid"), "not-a-uuid");
        // A refund's number is stable, fits, and differs between refunds.
        let r1 = out_refund_no(&format!("refund-{attempt}"));
        assert_eq!(r1, "0193a1b2c3d47e5f8a9b0c1d2e3f4a5b");
        assert_eq!(out_refund_no("R1"), "R1");
        let long = out_refund_no(&"x".repeat(40));
        assert_eq!(long.len(), 32);
        assert_eq!(long, out_refund_no(&"x".repeat(40)));
        assert_ne!(long, out_refund_no(&"y".repeat(40)));
    }

    #[test]
    fn a_statement_period_is_read_as_china_days() {
        // 2026-12-01T16:00Z is 2026-12-02 00:00 in China.
        let start = 1_796_140_800_000;
        assert_eq!(china_dates(start, start + DAY_MS).unwrap(), ["2026-12-02"]);
        assert_eq!(china_dates(start - 1, start + 1).unwrap(), ["2026-12-01", "2026-12-02"]);
        assert!(china_dates(start, start).is_err());
        assert!(china_dates(start, start + 40 * DAY_MS).is_err());
    }
}
