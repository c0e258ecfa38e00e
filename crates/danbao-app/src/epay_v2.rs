//! The 易支付 V2 rail (the RSA API of 彩虹易支付 and its clones): the platform as a
//! merchant with its own RSA key pair, speaking `danbao_rails::epay_v2`. Every request is
//! signed with the merchant's private key; every answer and notification is believed only
//! after its SHA256withRSA signature verifies under the platform's public key and its
//! `timestamp` is within 300 s of our clock.
//!
//! - A payment is opened with `api/pay/create` (`method=web`); the answer's jump URL (or a
//!   QR code that is an http(s) address) is the buyer's cashier.
//! - The notification is the platform's GET, its query string read strictly
//!   ([`Notification::read`]) against `Incoming.now_ms`.
//! - The active query is `api/pay/query`; its signed answer is kept as the payment's
//!   evidence (an RSA answer cannot be re-signed as a notification, and need not be).
//! - A refund is `api/pay/refund` with an `out_refund_no` derived from our refund's
//!   request id, so a retried refund is the same refund (and a partial one is possible);
//!   it counts as done only once `api/pay/refundquery` says it succeeded for that amount.
//! - **There is no statement.** V2 has no order list: asking `api/pay/query` about each of
//!   our own attempts would only repeat our own books back to us and could never show a
//!   payment we do not know of, which is what a statement is for. So [`statement`] is
//!   refused (`易支付 V2 has no statement API`), and reconciliation says so instead of
//!   reporting an empty, "clean" period (asked for this rail, it answers 422; the daily
//!   round of every rail leaves it out and logs why). The active query (补单) is this
//!   rail's safety net.
//! - There is no payout API in the wire module: payouts are refused.
//!
//! [`statement`]: PaymentProvider::statement

use crate::epay::{EpayConfigError, METHODS};
use crate::payments::{
    CreatedPayment, Incoming, PaymentProvider, PaymentRequest, ProviderError, RefundCommand, VerifiedPayment,
    NOTIFICATION_BODY_MAX_BYTES,
};
use danbao_domain::Money;
use danbao_rails::epay_v2::{
    self, CreateAnswer, CreateRequest, Epay2Error, Method, Notification, OrderRef, OrderState, PayType, QueryAnswer,
    QueryRequest, RefundAnswer, RefundQueryAnswer, RefundQueryRequest, RefundRef, RefundRequest, RefundStatus,
};
use danbao_rails::rsa_sha256::{SigningKey, VerifyingKey};
use futures::future::BoxFuture;
use sha2::{Digest, Sha256};
use std::time::Duration;

/// Each call to the platform gives up after this long (the job retries later); a
/// checkout waits for the create call, so it is kept short.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// Connecting gives up sooner: a platform that does not accept a connection in this long
/// is down.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest `out_refund_no` sent: the platform's column is 64 characters.
const OUT_REFUND_NO_LEN_MAX: usize = 64;
/// The goods' name the platform keeps: it cuts at 127 bytes, and a name cut in the middle
/// of a character would be signed differently from what it stores.
const NAME_BYTES_MAX: usize = 127;
/// The buyer's address the create request requires. The platform's checkout does not know
/// the buyer's address when it opens a payment (the payment request carries none), so it
/// says so with the unspecified address rather than make one up.
const CLIENT_IP_UNKNOWN: &str = "0.0.0.0";

/// What reconciliation is told for this rail.
pub const NO_STATEMENT: &str = "易支付 V2 has no statement API";

pub struct EpayV2Provider {
    /// The platform's base address, ending with `/` (`api/pay/create` is relative to it).
    base_url: String,
    pid: String,
    merchant_key: SigningKey,
    platform_key: VerifyingKey,
    methods: Vec<&'static str>,
    http: reqwest::Client,
}

impl EpayV2Provider {
    /// `channels`: the platform's channel names the operator enabled (`alipay`, `wxpay`,
    /// `qqpay`), the first the default.
    pub fn new(
        base_url: &str,
        pid: &str,
        merchant_key: SigningKey,
        platform_key: VerifyingKey,
        channels: &[String],
    ) -> Result<EpayV2Provider, EpayConfigError> {
        if pid.is_empty() || channels.is_empty() {
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
            .connect_timeout(CONNECT_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        Ok(EpayV2Provider {
            base_url: if base_url.ends_with('/') {
                base_url.to_string()
            } else {
                format!("{base_url}/")
            },
            pid: pid.to_string(),
            merchant_key,
            platform_key,
            methods,
            http,
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

    /// POSTs a signed form to `path` and returns the answer's text, bounded.
    async fn call(&self, path: &str, body: Result<String, Epay2Error>) -> Result<String, ProviderError> {
        let body = body.map_err(refused)?;
        let mut r = self
            .http
            .post(format!("{}{path}", self.base_url))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .map_err(unavailable)?;
        if r.status().is_server_error() {
            return Err(ProviderError::Unavailable(format!("易支付 answered {}", r.status())));
        }
        let mut answer = Vec::new();
        while let Some(chunk) = r.chunk().await.map_err(unavailable)? {
            answer.extend_from_slice(&chunk);
            if answer.len() > epay_v2::MAX_ANSWER_BYTES {
                return Err(ProviderError::Malformed("the platform's answer is too large".into()));
            }
        }
        String::from_utf8(answer).map_err(|_| ProviderError::Malformed("the platform's answer is not UTF-8".into()))
    }

    fn verified(&self, p: epay_v2::Payment, raw: String) -> VerifiedPayment {
        VerifiedPayment {
            // Our out_trade_no names the payment on both sides: queries and refunds ask by it.
            provider_payment_id: p.out_trade_no.clone(),
            provider_txn_id: p.trade_no,
            out_trade_no: p.out_trade_no,
            amount: p.money,
            currency: epay_v2::CURRENCY_CNY.to_string(),
            raw,
            payer_id: crate::safeguards::payer_identity(p.buyer.as_deref()).map(str::to_string),
        }
    }

    /// Asks whether the refund `out_refund_no` went through, for `amount`.
    async fn refund_confirmed(&self, out_refund_no: &str, amount: Money) -> Result<(), ProviderError> {
        let asked = RefundRef::OutRefundNo(out_refund_no.to_string());
        let req = RefundQueryRequest {
            pid: self.pid.clone(),
            refund: asked.clone(),
        };
        let text = self
            .call(epay_v2::PATH_REFUND_QUERY, req.body(&self.merchant_key, unix_now_s()))
            .await?;
        let answer =
            RefundQueryAnswer::read(&text, &self.platform_key, &self.pid, &asked, unix_now_s()).map_err(refused)?;
        match answer.status {
            RefundStatus::Succeeded if answer.money == amount => Ok(()),
            RefundStatus::Succeeded => Err(ProviderError::Rejected(format!(
                "refund {out_refund_no} is of {}, not {amount}",
                answer.money
            ))),
            RefundStatus::Failed => Err(ProviderError::Rejected(format!(
                "易支付 says refund {out_refund_no} failed"
            ))),
        }
    }
}

/// Unix seconds of the system clock: what our signed requests are stamped with and what
/// the platform's answers are held to. (A notification is held to the platform's clock as
/// `Incoming.now_ms` gives it.) The answers come back on a connection we opened just now,
/// so the wall clock, which the platform keeps too, is the one to compare with.
fn unix_now_s() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

fn unavailable(e: reqwest::Error) -> ProviderError {
    ProviderError::Unavailable(e.without_url().to_string())
}

fn refused(e: Epay2Error) -> ProviderError {
    match e {
        Epay2Error::BadSignature | Epay2Error::WrongSignType(_) => ProviderError::BadSignature,
        Epay2Error::Refused { code, msg } => ProviderError::Rejected(format!("易支付 refused ({code}): {msg}")),
        other => ProviderError::Malformed(other.to_string()),
    }
}

/// The `out_refund_no` for our refund's request id: the id itself when the platform can
/// take it as it is (6 to 64 letters, digits, `-` or `_`), else a digest of it, so the same
/// request id is always the same refund number.
pub fn out_refund_no(request_id: &str) -> String {
    let plain = request_id.len() >= epay_v2::OUT_REFUND_NO_MIN_BYTES
        && request_id.len() <= OUT_REFUND_NO_LEN_MAX
        && request_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if plain {
        request_id.to_string()
    } else {
        // 40 hex digits of SHA-256: no two of our refunds will ever share one.
        let digest = hex::encode(Sha256::digest(request_id.as_bytes()));
        format!("r{}", &digest[..40])
    }
}

/// The goods' name cut to what the platform keeps, at a character boundary.
fn platform_name(subject: &str) -> String {
    let mut end = subject.len().min(NAME_BYTES_MAX);
    while !subject.is_char_boundary(end) {
        end -= 1;
    }
    subject[..end].to_string()
}

fn is_web_address(text: &str) -> bool {
    text.starts_with("https://") || text.starts_with("http://")
}

/// Where the buyer is sent: the create answer's jump URL, or a QR code's text when it is
/// a web address (Alipay's `https://qr.alipay.com/…` opens in a browser as well as in the
/// app). An HTML form, a wallet's own scheme (`weixin://…`) or app parameters are nothing
/// our checkout can send a browser to: refused, so the order is not left with a cashier
/// nobody can open.
fn cashier_of(answer: CreateAnswer) -> Result<String, ProviderError> {
    match answer.pay_type {
        PayType::Jump | PayType::Qrcode if is_web_address(&answer.pay_info) => Ok(answer.pay_info),
        other => Err(ProviderError::Rejected(format!(
            "易支付 answered pay_type {} ({:.40}), which this checkout cannot show",
            other.as_str(),
            answer.pay_info
        ))),
    }
}

impl PaymentProvider for EpayV2Provider {
    fn name(&self) -> &'static str {
        "epay"
    }

    fn methods(&self) -> Vec<&'static str> {
        self.methods.clone()
    }

    fn create_payment(&self, req: PaymentRequest) -> BoxFuture<'_, Result<CreatedPayment, ProviderError>> {
        Box::pin(async move {
            let create = CreateRequest {
                pid: self.pid.clone(),
                method: Method::Web,
                device: None,
                pay_type: self.channel_of(req.method.as_deref()).to_string(),
                out_trade_no: req.out_trade_no.clone(),
                notify_url: req.notify_url,
                return_url: req.return_url,
                name: platform_name(&req.subject),
                money: req.amount,
                clientip: CLIENT_IP_UNKNOWN.to_string(),
                param: None,
            };
            let text = self
                .call(epay_v2::PATH_CREATE, create.body(&self.merchant_key, unix_now_s()))
                .await?;
            let answer = CreateAnswer::read(&text, &self.platform_key, unix_now_s()).map_err(refused)?;
            Ok(CreatedPayment {
                provider_payment_id: req.out_trade_no,
                cashier_url: cashier_of(answer)?,
            })
        })
    }

    fn verify_notification(&self, incoming: &Incoming<'_>) -> Result<VerifiedPayment, ProviderError> {
        let body = incoming.body;
        if body.len() > NOTIFICATION_BODY_MAX_BYTES {
            return Err(ProviderError::Malformed("notification too large".into()));
        }
        let query = std::str::from_utf8(body).map_err(|_| ProviderError::Malformed("not UTF-8".into()))?;
        let n = Notification::read(query, &self.platform_key, &self.pid, incoming.now_ms.div_euclid(1000))
            .map_err(refused)?;
        Ok(self.verified(n.payment, query.to_string()))
    }

    fn acknowledgement(&self) -> &'static str {
        epay_v2::ACK
    }

    fn refund(&self, cmd: RefundCommand) -> BoxFuture<'_, Result<(), ProviderError>> {
        Box::pin(async move {
            let out_refund_no = out_refund_no(&cmd.request_id);
            let req = RefundRequest {
                pid: self.pid.clone(),
                order: OrderRef::OutTradeNo(cmd.provider_payment_id.clone()),
                money: cmd.amount,
                out_refund_no: out_refund_no.clone(),
            };
            let text = self
                .call(epay_v2::PATH_REFUND, req.body(&self.merchant_key, unix_now_s()))
                .await?;
            match RefundAnswer::read(&text, &self.platform_key, &req, unix_now_s()) {
                Ok(_) => {}
                // A platform that refuses a repeated out_refund_no instead of answering it
                // again: the refund query below says whether the first one went through.
                Err(Epay2Error::Refused { code, msg }) => {
                    return self
                        .refund_confirmed(&out_refund_no, cmd.amount)
                        .await
                        .map_err(|e| ProviderError::Rejected(format!("易支付 refused ({code}): {msg}; then: {e}")));
                }
                Err(e) => return Err(refused(e)),
            }
            self.refund_confirmed(&out_refund_no, cmd.amount).await
        })
    }

    fn query_payments(&self, out_trade_no: String) -> BoxFuture<'_, Result<Vec<VerifiedPayment>, ProviderError>> {
        Box::pin(async move {
            let asked = OrderRef::OutTradeNo(out_trade_no);
            let req = QueryRequest {
                pid: self.pid.clone(),
                order: asked.clone(),
            };
            let text = self
                .call(epay_v2::PATH_QUERY, req.body(&self.merchant_key, unix_now_s()))
                .await?;
            let state =
                QueryAnswer::read(&text, &self.platform_key, &self.pid, &asked, unix_now_s()).map_err(refused)?;
            Ok(match state {
                // A refunded order was paid first: the payment is applied (or found
                // already applied) like any other.
                OrderState::Paid(p) | OrderState::Refunded { payment: p, .. } => vec![self.verified(p, text)],
                // Frozen or only authorised: no money the platform can count on yet; the
                // next query asks again.
                OrderState::Unpaid | OrderState::Frozen | OrderState::PreAuthorized => Vec::new(),
            })
        })
    }

    fn statement(&self, _from_ms: i64, _to_ms: i64) -> BoxFuture<'_, Result<Vec<VerifiedPayment>, ProviderError>> {
        Box::pin(async { Err(ProviderError::Rejected(NO_STATEMENT.into())) })
    }

    fn has_statement(&self) -> bool {
        false
    }

    fn payout(
        &self,
        _request_id: String,
        _amount: Money,
        _account: String,
    ) -> BoxFuture<'_, Result<(), ProviderError>> {
        Box::pin(async { Err(ProviderError::Rejected("易支付 V2 has no payout API here".into())) })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_refund_number_is_the_request_id_or_a_stable_digest_of_it() {
        assert_eq!(out_refund_no("refund-rf_0193abc"), "refund-rf_0193abc");
        let long = "x".repeat(65);
        for odd in ["abc", "refund:1", long.as_str()] {
            let n = out_refund_no(odd);
            assert_eq!(n, out_refund_no(odd));
            assert_eq!(n.len(), 41);
            assert!(n.bytes().all(|b| b.is_ascii_alphanumeric()), "{n}");
        }
        assert_ne!(out_refund_no("refund:1"), out_refund_no("refund:2"));
    }

    #[test]
    fn the_cashier_is_a_jump_url_or_a_web_qr_code_and_nothing_else() {
        let answer = |pay_type, info: &str| CreateAnswer {
            trade_no: "T1".into(),
            pay_type,
            pay_info: info.into(),
        };
        let ok = |a| cashier_of(a).unwrap();
        assert_eq!(
            ok(answer(PayType::Jump, "https://pay.example.com/pay/T1")),
            "https://pay.example.com/pay/T1"
        );
        assert_eq!(
            ok(answer(PayType::Qrcode, "https://qr.alipay.com/bax0")),
            "https://qr.alipay.com/bax0"
        );
        for (t, info) in [
            (PayType::Qrcode, "weixin://wxpay/bizpayurl?pr=04IPMKM"),
            (PayType::Html, "<form action=\"https://x\"></form>"),
            (PayType::Jsapi, "{\"appId\":\"wx1\"}"),
            (PayType::Jump, "javascript:alert(1)"),
        ] {
            assert!(
                matches!(cashier_of(answer(t, info)), Err(ProviderError::Rejected(_))),
                "{info}"
            );
        }
    }

    /// The adapter against the gateway's V2 personality on a real socket, both with the
    /// test key pairs.
    mod against_the_gateway {
        use super::super::*;
        use danbao_sandbox::gateway::{EpayV2Merchant, Sandbox, SandboxConfig};
        use std::sync::Arc;

        const MERCHANT_PRIVATE: &str = include_str!("../tests/data/epay2/merchant-private.pem");
        const MERCHANT_PUBLIC: &str = include_str!("../tests/data/epay2/merchant-public.pem");
        const PLATFORM_PRIVATE: &str = include_str!("../tests/data/epay2/platform-private.pem");
        const PLATFORM_PUBLIC: &str = include_str!("../tests/data/epay2/platform-public.pem");

        async fn gateway() -> (Sandbox, String) {
            let sandbox = Sandbox::new(SandboxConfig {
                merchant_key: b"k".to_vec(),
                public_base_url: "http://not-yet-known".into(),
                time_scale: 1_000_000.0,
                faults: Default::default(),
                epay: None,
                alipay: None,
                epay_v2: Some(EpayV2Merchant {
                    pid: "1001".into(),
                    merchant_public_key: VerifyingKey::from_text(MERCHANT_PUBLIC).unwrap(),
                    platform_key: Some(Arc::new(SigningKey::from_text(PLATFORM_PRIVATE).unwrap())),
                }),
                wechat: None,
            });
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let base = format!("http://{}", listener.local_addr().unwrap());
            sandbox.set_public_base_url(base.clone());
            tokio::spawn(danbao_sandbox::gateway::serve(listener, sandbox.clone()));
            (sandbox, base)
        }

        fn provider(base: &str, platform_public: &str) -> EpayV2Provider {
            EpayV2Provider::new(
                &format!("{base}/epay"),
                "1001",
                SigningKey::from_text(MERCHANT_PRIVATE).unwrap(),
                VerifyingKey::from_text(platform_public).unwrap(),
                &["alipay".to_string()],
            )
            .unwrap()
        }

        fn request(out_trade_no: &str) -> PaymentRequest {
            PaymentRequest {
                out_trade_no: out_trade_no.into(),
                amount: Money::from_minor(3_000),
                currency: "CNY".into(),
                subject: "点卡".into(),
                // Nobody listens: the notification is not what these tests look at.
                notify_url: "http://127.0.0.1:9/notify".into(),
                return_url: String::new(),
                order_ref: "N1".into(),
                expires_at_ms: 0,
                method: None,
            }
        }

        async fn pay(base: &str, cashier_url: &str) {
            let id = cashier_url.rsplit_once("/cashier/").unwrap().1;
            let r = reqwest::Client::new()
                .post(format!("{base}/payments/{id}/pay"))
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success());
        }

        #[tokio::test]
        async fn a_payment_is_opened_queried_and_refunded_in_part_once_per_request_id() {
            let (_sandbox, base) = gateway().await;
            let rail = provider(&base, PLATFORM_PUBLIC);
            let created = rail.create_payment(request("Q1")).await.unwrap();
            assert_eq!(created.provider_payment_id, "Q1");
            assert!(created.cashier_url.starts_with(&format!("{base}/cashier/")));
            assert!(rail.query_payments("Q1".into()).await.unwrap().is_empty());
            pay(&base, &created.cashier_url).await;
            let found = rail.query_payments("Q1".into()).await.unwrap();
            assert_eq!(found.len(), 1);
            assert_eq!(
                (found[0].amount, found[0].currency.as_str()),
                (Money::from_minor(3_000), "CNY")
            );
            // The evidence kept is the platform's signed answer itself.
            assert!(found[0].raw.contains("\"sign_type\":\"RSA\""), "{}", found[0].raw);
            let part = |request_id: &str, fen| RefundCommand {
                provider_payment_id: "Q1".into(),
                amount: Money::from_minor(fen),
                request_id: request_id.into(),
            };
            // A part, twice (a retried job): one refund; another request id: another part.
            rail.refund(part("refund-one", 1_000)).await.unwrap();
            rail.refund(part("refund-one", 1_000)).await.unwrap();
            rail.refund(part("refund-two", 500)).await.unwrap();
            // The same request id for another amount is no refund.
            assert!(matches!(
                rail.refund(part("refund-one", 700)).await,
                Err(ProviderError::Rejected(_))
            ));
            // More than is left is refused.
            assert!(matches!(
                rail.refund(part("refund-three", 1_501)).await,
                Err(ProviderError::Rejected(_))
            ));
            let text = {
                let asked = OrderRef::OutTradeNo("Q1".into());
                let body = QueryRequest {
                    pid: "1001".into(),
                    order: asked,
                }
                .body(&SigningKey::from_text(MERCHANT_PRIVATE).unwrap(), unix_now_s())
                .unwrap();
                reqwest::Client::new()
                    .post(format!("{base}/epay/api/pay/query"))
                    .body(body)
                    .send()
                    .await
                    .unwrap()
                    .text()
                    .await
                    .unwrap()
            };
            assert!(text.contains("\"refundmoney\":\"15.00\""), "{text}");
            // Still a payment: the query finds it, for the notification path to see again.
            assert_eq!(rail.query_payments("Q1".into()).await.unwrap().len(), 1);
            assert!(matches!(rail.statement(0, 1).await, Err(ProviderError::Rejected(m)) if m == NO_STATEMENT));
            assert!(!rail.has_statement());
            assert!(matches!(
                rail.payout("p1".into(), Money::from_minor(1), "a".into()).await,
                Err(ProviderError::Rejected(_))
            ));
        }

        #[tokio::test]
        async fn answers_under_another_key_are_not_believed() {
            let (_sandbox, base) = gateway().await;
            // Configured with the wrong platform key (here the merchant's own public key).
            let rail = provider(&base, MERCHANT_PUBLIC);
            assert!(matches!(
                rail.create_payment(request("W1")).await,
                Err(ProviderError::BadSignature)
            ));
            // A platform that is not there is an outage, retried later.
            let gone = provider("http://127.0.0.1:9", PLATFORM_PUBLIC);
            assert!(matches!(
                gone.query_payments("W1".into()).await,
                Err(ProviderError::Unavailable(_))
            ));
        }

        #[test]
        fn a_notification_is_believed_only_signed_by_the_platform_and_recent() {
            let rail = provider("http://127.0.0.1:9", PLATFORM_PUBLIC);
            let platform = SigningKey::from_text(PLATFORM_PRIVATE).unwrap();
            let now = 1_796_169_600;
            let query = |key: &SigningKey, at: i64| {
                Notification {
                    payment: epay_v2::Payment {
                        pid: "1001".into(),
                        trade_no: "T1".into(),
                        out_trade_no: "Q1".into(),
                        api_trade_no: None,
                        pay_type: "alipay".into(),
                        name: "点卡".into(),
                        money: Money::from_minor(3_000),
                        buyer: Some("2088000000000001".into()),
                        param: None,
                    },
                    timestamp: at,
                }
                .query(key)
                .unwrap()
            };
            let incoming = |q: &str| -> Result<VerifiedPayment, ProviderError> {
                rail.verify_notification(&Incoming {
                    body: q.as_bytes(),
                    signature: None,
                    headers: &[],
                    now_ms: now * 1000,
                })
            };
            let v = incoming(&query(&platform, now - 10)).unwrap();
            assert_eq!(
                (v.provider_txn_id.as_str(), v.out_trade_no.as_str(), v.amount),
                ("T1", "Q1", Money::from_minor(3_000))
            );
            let merchant = SigningKey::from_text(MERCHANT_PRIVATE).unwrap();
            assert!(matches!(
                incoming(&query(&merchant, now)),
                Err(ProviderError::BadSignature)
            ));
            assert!(matches!(
                incoming(&query(&platform, now - 301)),
                Err(ProviderError::Malformed(_))
            ));
            let big = format!(
                "{}&pad={}",
                query(&platform, now),
                "x".repeat(NOTIFICATION_BODY_MAX_BYTES)
            );
            assert!(matches!(incoming(&big), Err(ProviderError::Malformed(_))));
        }
    }

    #[test]
    fn a_long_name_is_cut_at_a_character() {
        let name = "点".repeat(60);
        let cut = platform_name(&name);
        assert!(cut.len() <= NAME_BYTES_MAX && name.starts_with(&cut));
        assert_eq!(cut.chars().count(), 42);
        assert_eq!(platform_name("short"), "short");
    }
}
