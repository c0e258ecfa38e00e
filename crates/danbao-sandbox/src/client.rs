//! The merchant SDK: what the platform uses to talk to the sandbox gateway.
//!
//! Merchant API requests are signed over `METHOD\nPATH_AND_QUERY\nBODY` (the path as the
//! gateway sees it, mount prefix included), and every successful answer's signature is
//! checked before anything in it is believed.

use std::time::Duration;

use reqwest::header::{ACCEPT, CONTENT_TYPE};
use reqwest::{Method, StatusCode, Url};
use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::wire::{
    request_signing_payload, sign, verify, ApiError, CreatePayment, Faults, Notification, PaymentView, RefundRequest,
    RefundView, SIGNATURE_HEADER,
};

/// A call that has not finished by then is treated as the gateway being unavailable.
const REQUEST_TIMEOUT_MS: u64 = 10_000;
const CONNECT_TIMEOUT_MS: u64 = 10_000;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Connection error, timeout or 5xx: worth retrying later.
    #[error("sandbox gateway unavailable: {0}")]
    Unavailable(String),
    /// A 4xx answer.
    #[error("sandbox gateway refused the request ({status} {error}): {message}")]
    Rejected {
        status: u16,
        error: String,
        message: String,
    },
    /// The answer's signature did not verify: nothing in it may be believed.
    #[error("sandbox gateway answer has a missing or bad signature")]
    BadSignature,
    #[error("could not decode the sandbox gateway answer: {0}")]
    Decode(String),
}

/// A client for one gateway and one merchant key.
#[derive(Clone)]
pub struct SandboxClient {
    base_url: String,
    merchant_key: Vec<u8>,
    http: reqwest::Client,
}

impl std::fmt::Debug for SandboxClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SandboxClient")
            .field("base_url", &self.base_url)
            .field("merchant_key", &"[redacted]")
            .finish()
    }
}

/// A raw answer whose signature, where required, has been checked.
struct Reply {
    status: StatusCode,
    body: Vec<u8>,
    signature: String,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Auth {
    /// Merchant API: sign the request, verify the answer.
    Signed,
    /// Public endpoints (cashier actions, fault knobs): neither.
    Public,
}

impl SandboxClient {
    /// `base_url` is the gateway's base including its mount prefix, e.g.
    /// `http://127.0.0.1:8080/sandbox`.
    pub fn new(base_url: impl Into<String>, merchant_key: Vec<u8>) -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_millis(CONNECT_TIMEOUT_MS))
            .timeout(Duration::from_millis(REQUEST_TIMEOUT_MS))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            // Building fails only when a TLS backend cannot start; there is none here.
            .unwrap_or_else(|_| reqwest::Client::new());
        SandboxClient {
            base_url: base_url.into().trim_end_matches('/').to_owned(),
            merchant_key,
            http,
        }
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    // --- merchant API -----------------------------------------------------------------

    /// Opens a payment (idempotent on out_trade_no).
    pub async fn create_payment(&self, req: &CreatePayment) -> Result<PaymentView, ClientError> {
        let body = encode(req)?;
        let reply = self
            .send(Method::POST, "/api/payments", &[], Some(body), Auth::Signed)
            .await?;
        decode(&ok(reply)?.body)
    }

    /// Active query: the payment's notification if it is paid, `None` if it exists but is
    /// not paid (an unknown payment is `Rejected` with 404).
    pub async fn query_payment(&self, payment_id: &str) -> Result<Option<Notification>, ClientError> {
        match self.query_payment_raw(payment_id).await? {
            Some((body, _)) => decode(&body).map(Some),
            None => Ok(None),
        }
    }

    /// Like [`Self::query_payment`], but returns the signed body and its signature so the
    /// caller can put them through its own notification path.
    pub async fn query_payment_raw(&self, payment_id: &str) -> Result<Option<(Vec<u8>, String)>, ClientError> {
        let path = format!("/api/payments/{}", path_segment(payment_id));
        let reply = ok(self.send(Method::GET, &path, &[], None, Auth::Signed).await?)?;
        #[derive(Deserialize)]
        struct Status {
            status: String,
        }
        let status: Status = decode(&reply.body)?;
        if status.status == "succeeded" {
            Ok(Some((reply.body, reply.signature)))
        } else {
            Ok(None)
        }
    }

    pub async fn query_by_out_trade_no(&self, out_trade_no: &str) -> Result<Vec<PaymentView>, ClientError> {
        let reply = self
            .send(
                Method::GET,
                "/api/payments",
                &[("out_trade_no", out_trade_no)],
                None,
                Auth::Signed,
            )
            .await?;
        decode(&ok(reply)?.body)
    }

    /// Refunds (idempotent on request_id).
    pub async fn refund(&self, req: &RefundRequest) -> Result<RefundView, ClientError> {
        let body = encode(req)?;
        let reply = self
            .send(Method::POST, "/api/refunds", &[], Some(body), Auth::Signed)
            .await?;
        decode(&ok(reply)?.body)
    }

    /// Pays a seller out (a withdrawal), once per request_id.
    pub async fn payout(&self, req: &crate::wire::PayoutRequest) -> Result<crate::wire::PayoutView, ClientError> {
        let body = encode(req)?;
        let reply = self
            .send(Method::POST, "/api/payouts", &[], Some(body), Auth::Signed)
            .await?;
        decode(&ok(reply)?.body)
    }

    /// The refund made for `request_id`, or `None` if there is none.
    pub async fn get_refund(&self, request_id: &str) -> Result<Option<RefundView>, ClientError> {
        let path = format!("/api/refunds/{}", path_segment(request_id));
        let reply = self.send(Method::GET, &path, &[], None, Auth::Signed).await?;
        if reply.status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        decode(&ok(reply)?.body).map(Some)
    }

    /// Successful payments whose paid_at is in [from, to) (RFC 3339 times).
    pub async fn statement(&self, from: &str, to: &str) -> Result<Vec<Notification>, ClientError> {
        let reply = self
            .send(
                Method::GET,
                "/api/statements",
                &[("from", from), ("to", to)],
                None,
                Auth::Signed,
            )
            .await?;
        decode(&ok(reply)?.body)
    }

    /// The merchant's settlement balance: what the gateway holds for us (signed answer).
    pub async fn balance(&self) -> Result<crate::wire::BalanceView, ClientError> {
        let reply = self.send(Method::GET, "/api/balance", &[], None, Auth::Signed).await?;
        decode(&ok(reply)?.body)
    }

    // --- public endpoints (tests and demos) -----------------------------------------------

    /// Presses the cashier's Pay button.
    pub async fn pay(&self, payment_id: &str) -> Result<PaymentView, ClientError> {
        let path = format!("/payments/{}/pay", path_segment(payment_id));
        let reply = self.send(Method::POST, &path, &[], None, Auth::Public).await?;
        decode(&ok(reply)?.body)
    }

    /// Sends the notification once more, now.
    pub async fn renotify(&self, payment_id: &str) -> Result<PaymentView, ClientError> {
        let path = format!("/payments/{}/renotify", path_segment(payment_id));
        let reply = self.send(Method::POST, &path, &[], None, Auth::Public).await?;
        decode(&ok(reply)?.body)
    }

    /// The gateway's own view of a payment, notification attempts included.
    pub async fn view(&self, payment_id: &str) -> Result<PaymentView, ClientError> {
        let path = format!("/payments/{}", path_segment(payment_id));
        let reply = self.send(Method::GET, &path, &[], None, Auth::Public).await?;
        decode(&ok(reply)?.body)
    }

    pub async fn get_faults(&self) -> Result<Faults, ClientError> {
        let reply = self.send(Method::GET, "/admin/faults", &[], None, Auth::Public).await?;
        decode(&ok(reply)?.body)
    }

    pub async fn set_faults(&self, faults: &Faults) -> Result<Faults, ClientError> {
        let body = encode(faults)?;
        let reply = self
            .send(Method::PUT, "/admin/faults", &[], Some(body), Auth::Public)
            .await?;
        decode(&ok(reply)?.body)
    }

    // --- plumbing ---------------------------------------------------------------------

    /// Sends one request. 5xx and transport failures come back as `Unavailable`; a signed
    /// call's 2xx or 404 answer must carry a valid signature.
    async fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<Vec<u8>>,
        auth: Auth,
    ) -> Result<Reply, ClientError> {
        let mut url = Url::parse(&format!("{}{path}", self.base_url)).map_err(|e| {
            // Not retryable in truth, but the closed list of errors has no better place
            // for a misconfigured base URL, and the message says what is wrong.
            ClientError::Unavailable(format!("invalid gateway url {:?}: {e}", self.base_url))
        })?;
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        let body = body.unwrap_or_default();
        let mut request = self
            .http
            .request(method.clone(), url.clone())
            .header(ACCEPT, "application/json");
        if !body.is_empty() {
            request = request.header(CONTENT_TYPE, "application/json");
        }
        if auth == Auth::Signed {
            let path_and_query = match url.query() {
                Some(q) => format!("{}?{q}", url.path()),
                None => url.path().to_owned(),
            };
            let payload = request_signing_payload(method.as_str(), &path_and_query, &body);
            request = request.header(SIGNATURE_HEADER, sign(&self.merchant_key, &payload));
        }
        let response = request
            .body(body)
            .send()
            .await
            .map_err(|e| ClientError::Unavailable(e.to_string()))?;
        let status = response.status();
        let signature = response
            .headers()
            .get(SIGNATURE_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let body = response
            .bytes()
            .await
            .map_err(|e| ClientError::Unavailable(e.to_string()))?
            .to_vec();
        if status.is_server_error() {
            let detail = serde_json::from_slice::<ApiError>(&body)
                .map(|e| format!("{} {}: {}", status.as_u16(), e.error, e.message))
                .unwrap_or_else(|_| format!("http {}", status.as_u16()));
            return Err(ClientError::Unavailable(detail));
        }
        let must_verify = auth == Auth::Signed && (status.is_success() || status == StatusCode::NOT_FOUND);
        if must_verify && !verify(&self.merchant_key, &body, &signature) {
            tracing::warn!(status = status.as_u16(), "sandbox answer failed signature check");
            return Err(ClientError::BadSignature);
        }
        Ok(Reply {
            status,
            body,
            signature,
        })
    }
}

/// Passes a 2xx reply through; turns anything else into `Rejected`.
fn ok(reply: Reply) -> Result<Reply, ClientError> {
    if reply.status.is_success() {
        return Ok(reply);
    }
    let (error, message) = match serde_json::from_slice::<ApiError>(&reply.body) {
        Ok(e) => (e.error, e.message),
        Err(_) => (
            format!("http_{}", reply.status.as_u16()),
            String::from_utf8_lossy(&reply.body).into_owned(),
        ),
    };
    Err(ClientError::Rejected {
        status: reply.status.as_u16(),
        error,
        message,
    })
}

fn encode<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, ClientError> {
    serde_json::to_vec(value).map_err(|e| ClientError::Decode(e.to_string()))
}

fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, ClientError> {
    serde_json::from_slice(body).map_err(|e| ClientError::Decode(e.to_string()))
}

/// Percent-encodes an id for use as one path segment.
fn path_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_segments_are_encoded() {
        assert_eq!(path_segment("sbp_01AZ-x.y~"), "sbp_01AZ-x.y~");
        assert_eq!(path_segment("a/b?c d"), "a%2Fb%3Fc%20d");
        assert_eq!(path_segment("支"), "%E6%94%AF");
    }

    #[test]
    fn base_url_loses_its_trailing_slash() {
        let c = SandboxClient::new("http://127.0.0.1:1/sandbox/", b"k".to_vec());
        assert_eq!(c.base_url(), "http://127.0.0.1:1/sandbox");
    }
}
