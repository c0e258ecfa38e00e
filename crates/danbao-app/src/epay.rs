//! The 易支付 (EPay V1) rail: the platform as a merchant of an aggregator, speaking
//! `danbao_rails::epay`. The buyer is sent to the aggregator's `submit.php` with a signed
//! page jump (no call is made to open a payment, so a slow aggregator never holds a
//! checkout); the notification is the aggregator's GET, its query string verified with
//! the merchant key before anything in it is believed; the active query and the statement
//! are `api.php?act=order` / `act=orders`, authenticated by the key over HTTPS and
//! re-read through the same checks; a refund asks first whether the order is refunded
//! already, because V1 refunds carry no request id.

use crate::payments::{
    CreatedPayment, Incoming, PaymentProvider, PaymentRequest, ProviderError, RefundCommand, VerifiedPayment,
    NOTIFICATION_BODY_MAX_BYTES,
};
use danbao_domain::Money;
use danbao_rails::epay::{self, EpayError, Notification, OrderState, PayRequest};
use futures::future::BoxFuture;
use std::time::Duration;

/// Each call to the aggregator gives up after this long (the job retries later).
const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// The order list is read a page at a time, at most this many pages for one statement.
const STATEMENT_PAGE: u32 = 50;
const STATEMENT_PAGES_MAX: u32 = 200;
/// Answers larger than this are not read.
const ANSWER_BYTES_MAX: usize = 1024 * 1024;

/// The channels an aggregator offers, as payment methods of this rail.
pub const METHODS: [(&str, &str); 3] = [
    ("epay_alipay", "alipay"),
    ("epay_wxpay", "wxpay"),
    ("epay_qqpay", "qqpay"),
];

pub struct EpayProvider {
    /// The aggregator's address, where `submit.php` and `api.php` are.
    base_url: String,
    pid: String,
    key: String,
    methods: Vec<&'static str>,
    http: reqwest::Client,
    /// Create each payment by API (`mapi.php`) instead of sending the buyer by page jump.
    by_api: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum EpayConfigError {
    #[error("易支付 channel {0:?} is not one of alipay, wxpay, qqpay")]
    UnknownChannel(String),
    #[error("易支付 needs a pid, a key and at least one channel")]
    Incomplete,
}

impl EpayProvider {
    /// `channels`: the aggregator's channel names the operator enabled (`alipay`, `wxpay`,
    /// `qqpay`), the first the default.
    /// Creates each payment by API (`mapi.php`): the aggregator opens it at checkout and
    /// answers where the buyer pays, instead of the buyer carrying the signed request there.
    pub fn creating_by_api(mut self) -> EpayProvider {
        self.by_api = true;
        self
    }

    pub fn new(base_url: &str, pid: &str, key: &str, channels: &[String]) -> Result<EpayProvider, EpayConfigError> {
        if pid.is_empty() || key.is_empty() || channels.is_empty() {
            return Err(EpayConfigError::Incomplete);
        }
        let methods = channels
            .iter()
            .map(|c| {
                METHODS
                    .iter()
                    .find(|(_, channel)| channel == c)
                    .map(|(method, _)| *method)
                    .ok_or_else(|| EpayConfigError::UnknownChannel(c.clone()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let http = reqwest::Client::builder()
            .timeout(CALL_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        Ok(EpayProvider {
            base_url: base_url.to_string(),
            pid: pid.to_string(),
            key: key.to_string(),
            methods,
            http,
            by_api: false,
        })
    }

    fn channel_of(&self, method: Option<&str>) -> &'static str {
        let method = method
            .and_then(|m| self.methods.iter().find(|x| **x == m))
            .or(self.methods.first());
        method
            .and_then(|m| METHODS.iter().find(|(x, _)| x == m))
            .map_or("alipay", |(_, channel)| channel)
    }

    async fn get_json<T: serde::de::DeserializeOwned>(&self, url: String) -> Result<T, ProviderError> {
        let r = self.http.get(url).send().await.map_err(unavailable)?;
        read_json(r).await
    }

    async fn order_state(&self, out_trade_no: &str) -> Result<OrderState, ProviderError> {
        let answer: epay::OrderAnswer = self
            .get_json(epay::order_query_url(
                &self.base_url,
                &self.pid,
                &self.key,
                out_trade_no,
            ))
            .await?;
        answer.state(&self.pid, out_trade_no).map_err(refused)
    }

    fn verified(&self, n: Notification, raw: String) -> VerifiedPayment {
        VerifiedPayment {
            // The out_trade_no is the payment's id on both sides: the page jump opens no
            // payment of the aggregator's that could be named before it is paid.
            provider_payment_id: n.out_trade_no.clone(),
            provider_txn_id: n.trade_no,
            out_trade_no: n.out_trade_no,
            amount: n.money,
            currency: "CNY".to_string(),
            raw,
            payer_id: crate::safeguards::payer_identity(n.buyer.as_deref()).map(str::to_string),
        }
    }
}

fn unavailable(e: reqwest::Error) -> ProviderError {
    ProviderError::Unavailable(e.without_url().to_string())
}

fn refused(e: EpayError) -> ProviderError {
    match e {
        EpayError::BadSignature => ProviderError::BadSignature,
        EpayError::Refused(why) => ProviderError::Rejected(why),
        other => ProviderError::Malformed(other.to_string()),
    }
}

async fn read_json<T: serde::de::DeserializeOwned>(mut r: reqwest::Response) -> Result<T, ProviderError> {
    if r.status().is_server_error() {
        return Err(ProviderError::Unavailable(format!(
            "aggregator answered {}",
            r.status()
        )));
    }
    let mut body = Vec::new();
    while let Some(chunk) = r.chunk().await.map_err(unavailable)? {
        body.extend_from_slice(&chunk);
        if body.len() > ANSWER_BYTES_MAX {
            return Err(ProviderError::Malformed("the aggregator's answer is too large".into()));
        }
    }
    serde_json::from_slice(&body).map_err(|e| ProviderError::Malformed(format!("not the aggregator's JSON: {e}")))
}

/// `2016-08-06 22:55:52` in China time, as ms since the epoch.
pub fn china_time_ms(text: &str) -> Option<i64> {
    let civil: jiff::civil::DateTime = text.trim().parse().ok()?;
    let zoned = civil.to_zoned(jiff::tz::TimeZone::get("Asia/Shanghai").ok()?).ok()?;
    Some(zoned.timestamp().as_millisecond())
}

impl PaymentProvider for EpayProvider {
    fn name(&self) -> &'static str {
        "epay"
    }

    fn methods(&self) -> Vec<&'static str> {
        self.methods.clone()
    }

    fn create_payment(&self, req: PaymentRequest) -> BoxFuture<'_, Result<CreatedPayment, ProviderError>> {
        Box::pin(async move {
            let pay = PayRequest {
                pid: self.pid.clone(),
                pay_type: self.channel_of(req.method.as_deref()).to_string(),
                out_trade_no: req.out_trade_no.clone(),
                notify_url: req.notify_url,
                return_url: req.return_url,
                name: req.subject,
                money: req.amount,
            };
            let cashier_url = if self.by_api {
                // The aggregator opens the payment now and says where the buyer pays
                // (its page, or a code to scan, which the checkout shows as a QR code).
                let r = self
                    .http
                    .post(epay::api_url(&self.base_url))
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(pay.api_form(&self.key))
                    .send()
                    .await
                    .map_err(unavailable)?;
                let answer: epay::ApiAnswer = read_json(r).await?;
                answer.cashier().map_err(refused)?
            } else {
                pay.page_url(&self.base_url, &self.key)
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
        let query = std::str::from_utf8(body).map_err(|_| ProviderError::Malformed("not UTF-8".into()))?;
        let n = Notification::read(query, &self.pid, &self.key).map_err(refused)?;
        Ok(self.verified(n, query.to_string()))
    }

    fn acknowledgement(&self) -> &'static str {
        epay::ACK
    }

    fn refund(&self, cmd: RefundCommand) -> BoxFuture<'_, Result<(), ProviderError>> {
        Box::pin(async move {
            // No request id in V1: a refund retried after a lost answer would refund
            // again. Ask first; only a paid order is refunded, and only whole.
            match self.order_state(&cmd.provider_payment_id).await? {
                OrderState::Refunded => return Ok(()),
                OrderState::Unpaid => {
                    return Err(ProviderError::Rejected(
                        "the aggregator has no payment to refund".into(),
                    ))
                }
                OrderState::Paid(n) if n.money != cmd.amount => {
                    return Err(ProviderError::Rejected(format!(
                        "易支付 V1 refunds an order whole: {} asked of {}",
                        cmd.amount, n.money
                    )))
                }
                OrderState::Paid(_) => {}
            }
            let url = format!("{}?act=refund", api_url(&self.base_url));
            let r = self
                .http
                .post(url)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(epay::refund_form(
                    &self.pid,
                    &self.key,
                    &cmd.provider_payment_id,
                    cmd.amount,
                ))
                .send()
                .await
                .map_err(unavailable)?;
            let answer: epay::Answer = read_json(r).await?;
            answer.ok().map_err(refused)
        })
    }

    fn query_payments(&self, out_trade_no: String) -> BoxFuture<'_, Result<Vec<VerifiedPayment>, ProviderError>> {
        Box::pin(async move {
            match self.order_state(&out_trade_no).await? {
                // The answer came over the authenticated connection to the configured
                // aggregator (V1 signs no answer); it is kept worded as the notification
                // it stands for, signed with the merchant key.
                OrderState::Paid(n) => {
                    let raw = n.query(&self.key);
                    Ok(vec![self.verified(n, raw)])
                }
                OrderState::Refunded | OrderState::Unpaid => Ok(Vec::new()),
            }
        })
    }

    fn statement(&self, from_ms: i64, to_ms: i64) -> BoxFuture<'_, Result<Vec<VerifiedPayment>, ProviderError>> {
        Box::pin(async move {
            let mut lines = Vec::new();
            for page in 1..=STATEMENT_PAGES_MAX {
                let answer: epay::OrdersAnswer = self
                    .get_json(epay::orders_url(
                        &self.base_url,
                        &self.pid,
                        &self.key,
                        STATEMENT_PAGE,
                        page,
                    ))
                    .await?;
                let count = answer.data.len();
                let mut older = false;
                for (n, endtime) in answer.paid(&self.pid).map_err(refused)? {
                    let at = china_time_ms(&endtime)
                        .ok_or_else(|| ProviderError::Malformed(format!("endtime {endtime:?}")))?;
                    if at < from_ms {
                        older = true;
                    } else if at < to_ms {
                        let raw = n.query(&self.key);
                        lines.push(self.verified(n, raw));
                    }
                }
                // Newest first: a page reaching before the period, or the last page, ends it.
                if older || count < STATEMENT_PAGE as usize {
                    return Ok(lines);
                }
            }
            Err(ProviderError::Unavailable("the order list did not end".into()))
        })
    }

    fn payout(
        &self,
        _request_id: String,
        _amount: Money,
        _account: String,
    ) -> BoxFuture<'_, Result<(), ProviderError>> {
        Box::pin(async { Err(ProviderError::Rejected("易支付 has no payout API".into())) })
    }
}

fn api_url(base: &str) -> String {
    format!(
        "{}api.php",
        if base.ends_with('/') {
            base.to_string()
        } else {
            format!("{base}/")
        }
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test]
    #[allow(clippy::unwrap_used)]
    async fn a_payment_created_by_api_is_opened_at_the_aggregator_and_paid_at_its_cashier() {
        use danbao_sandbox::gateway::{EpayMerchant, Sandbox, SandboxConfig};
        let sandbox = Sandbox::new(SandboxConfig {
            merchant_key: b"k".to_vec(),
            public_base_url: "http://not-yet-known".into(),
            time_scale: 1_000_000.0,
            faults: Default::default(),
            epay: Some(EpayMerchant {
                pid: "1001".into(),
                key: "k3y".into(),
            }),
            alipay: None,
            epay_v2: None,
            wechat: None,
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        sandbox.set_public_base_url(base.clone());
        tokio::spawn(danbao_sandbox::gateway::serve(listener, sandbox.clone()));
        let channels = ["wxpay".to_string()];
        let request = |out: &str| PaymentRequest {
            out_trade_no: out.into(),
            amount: Money::from_minor(1_050),
            currency: "CNY".into(),
            subject: "点卡".into(),
            notify_url: "http://127.0.0.1:9/notify".into(),
            return_url: String::new(),
            order_ref: "N1".into(),
            expires_at_ms: 0,
            method: None,
        };
        let rail = EpayProvider::new(&format!("{base}/epay/"), "1001", "k3y", &channels)
            .unwrap()
            .creating_by_api();
        let created = rail.create_payment(request("A1")).await.unwrap();
        // Opened at the aggregator already: its cashier, for our amount.
        assert!(
            created.cashier_url.starts_with(&format!("{base}/cashier/")),
            "{}",
            created.cashier_url
        );
        let id = created.cashier_url.rsplit_once("/cashier/").unwrap().1.to_string();
        let page = reqwest::get(&created.cashier_url).await.unwrap().text().await.unwrap();
        assert!(page.contains("10.50"), "{page}");
        // The same attempt again is the same payment.
        assert_eq!(
            rail.create_payment(request("A1")).await.unwrap().cashier_url,
            created.cashier_url
        );
        // Paid there, the order query finds it.
        reqwest::Client::new()
            .post(format!("{base}/payments/{id}/pay"))
            .send()
            .await
            .unwrap();
        let found = rail.query_payments("A1".into()).await.unwrap();
        assert_eq!((found.len(), found[0].amount), (1, Money::from_minor(1_050)));
        // Under another key the aggregator refuses, and nothing is created.
        let stranger = EpayProvider::new(&format!("{base}/epay/"), "1001", "wrong", &channels)
            .unwrap()
            .creating_by_api();
        assert!(matches!(
            stranger.create_payment(request("A2")).await,
            Err(ProviderError::Rejected(_))
        ));
        // An aggregator that is not there is an outage, not a refusal.
        let gone = EpayProvider::new("http://127.0.0.1:9/", "1001", "k3y", &channels)
            .unwrap()
            .creating_by_api();
        assert!(matches!(
            gone.create_payment(request("A3")).await,
            Err(ProviderError::Unavailable(_))
        ));
    }

    #[test]
    fn china_time_is_read_as_the_aggregator_writes_it() {
        assert_eq!(china_time_ms("2026-12-02 08:00:00"), Some(1_796_169_600_000));
        assert_eq!(china_time_ms("yesterday"), None);
    }
}
