//! The payment provider trait (SPEC §4) and its sandbox adapter. Real rails (EPay,
//! Alipay, WeChat Pay) come as further adapters behind the same trait.

use futures::future::BoxFuture;

#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// Worth retrying: the provider could not be reached or answered 5xx.
    #[error("provider unavailable: {0}")]
    Unavailable(String),
    /// The provider refused the request; retrying the same request will not help.
    #[error("provider refused: {0}")]
    Rejected(String),
    #[error("signature does not verify")]
    BadSignature,
    #[error("malformed notification: {0}")]
    Malformed(String),
}

pub struct PaymentRequest {
    pub out_trade_no: String,
    pub amount_minor: i64,
    pub currency: String,
    pub subject: String,
    pub notify_url: String,
    pub return_url: String,
}

pub struct CreatedPayment {
    pub provider_payment_id: String,
    pub cashier_url: String,
}

/// A notification whose signature has been verified over its raw bytes.
#[derive(Debug, Clone)]
pub struct VerifiedPayment {
    pub provider_payment_id: String,
    pub provider_txn_id: String,
    pub out_trade_no: String,
    pub amount_minor: i64,
    pub currency: String,
    /// The raw body, kept with the payment record as evidence.
    pub raw: String,
}

pub struct RefundCommand {
    pub provider_payment_id: String,
    pub amount_minor: i64,
    /// Derived from our refund id, so a retried refund is the same refund at the provider.
    pub request_id: String,
}

pub trait PaymentProvider: Send + Sync + 'static {
    /// The provider's name in accounts and routes, e.g. `sandbox`.
    fn name(&self) -> &'static str;
    fn create_payment(&self, req: PaymentRequest) -> BoxFuture<'_, Result<CreatedPayment, ProviderError>>;
    /// Verifies the signature over the raw bytes (constant time) and parses the payment.
    fn verify_notification(&self, body: &[u8], signature: Option<&str>) -> Result<VerifiedPayment, ProviderError>;
    /// The body this rail expects once a notification is committed.
    fn acknowledgement(&self) -> &'static str;
    fn refund(&self, cmd: RefundCommand) -> BoxFuture<'_, Result<(), ProviderError>>;
    /// Active query: the signed raw notifications of every successful payment made under
    /// this out_trade_no, to be fed through `verify_notification` like a webhook.
    fn query_payments(&self, out_trade_no: String) -> BoxFuture<'_, Result<Vec<SignedNotification>, ProviderError>>;
    /// The provider's statement of successful payments in [from, to) (ms since epoch),
    /// each line already verified (the statement is signed as a whole).
    fn statement(&self, from_ms: i64, to_ms: i64) -> BoxFuture<'_, Result<Vec<VerifiedPayment>, ProviderError>>;
    /// Pays a seller out (a withdrawal); idempotent on `request_id`.
    fn payout(
        &self,
        request_id: String,
        amount_minor: i64,
        account: String,
    ) -> BoxFuture<'_, Result<(), ProviderError>>;
}

/// A notification as the provider signed it: raw bytes and the signature over them.
pub struct SignedNotification {
    pub body: Vec<u8>,
    pub signature: String,
}

/// Bounds what we accept as a notification body before parsing it.
pub const NOTIFICATION_BODY_MAX_BYTES: usize = 16 * 1024;

/// Checks what every payment must have, whatever its source.
fn verified_from(n: danbao_sandbox::wire::Notification, raw: String) -> Result<VerifiedPayment, ProviderError> {
    if n.trade_no.is_empty() || n.payment_id.is_empty() || n.out_trade_no.is_empty() {
        return Err(ProviderError::Malformed(
            "missing trade_no, payment_id or out_trade_no".into(),
        ));
    }
    if n.amount_minor <= 0 {
        return Err(ProviderError::Malformed(format!(
            "amount {} is not a payment",
            n.amount_minor
        )));
    }
    if n.currency.is_empty() {
        return Err(ProviderError::Malformed("missing currency".into()));
    }
    Ok(VerifiedPayment {
        provider_payment_id: n.payment_id,
        provider_txn_id: n.trade_no,
        out_trade_no: n.out_trade_no,
        amount_minor: n.amount_minor,
        currency: n.currency,
        raw,
    })
}

/// A refund or payout the provider has not (yet) settled is worth asking about again.
fn settled(what: &str, status: &str) -> Result<(), ProviderError> {
    if status == "succeeded" {
        Ok(())
    } else {
        Err(ProviderError::Unavailable(format!("{what} is {status}")))
    }
}

pub struct SandboxProvider {
    client: danbao_sandbox::client::SandboxClient,
    merchant_key: Vec<u8>,
}

impl SandboxProvider {
    pub fn new(base_url: &str, merchant_key: Vec<u8>) -> SandboxProvider {
        SandboxProvider {
            client: danbao_sandbox::client::SandboxClient::new(base_url, merchant_key.clone()),
            merchant_key,
        }
    }

    pub fn client(&self) -> &danbao_sandbox::client::SandboxClient {
        &self.client
    }
}

fn map_client_error(e: danbao_sandbox::client::ClientError) -> ProviderError {
    use danbao_sandbox::client::ClientError as C;
    match e {
        C::Unavailable(m) => ProviderError::Unavailable(m),
        C::Rejected { status, error, message } => ProviderError::Rejected(format!("{status} {error}: {message}")),
        C::BadSignature => ProviderError::BadSignature,
        C::Decode(m) => ProviderError::Malformed(m),
    }
}

impl PaymentProvider for SandboxProvider {
    fn name(&self) -> &'static str {
        "sandbox"
    }

    fn create_payment(&self, req: PaymentRequest) -> BoxFuture<'_, Result<CreatedPayment, ProviderError>> {
        Box::pin(async move {
            let view = self
                .client
                .create_payment(&danbao_sandbox::wire::CreatePayment {
                    out_trade_no: req.out_trade_no,
                    amount_minor: req.amount_minor,
                    currency: req.currency,
                    subject: req.subject,
                    notify_url: req.notify_url,
                    return_url: req.return_url,
                })
                .await
                .map_err(map_client_error)?;
            Ok(CreatedPayment {
                provider_payment_id: view.payment_id,
                cashier_url: view.cashier_url,
            })
        })
    }

    fn verify_notification(&self, body: &[u8], signature: Option<&str>) -> Result<VerifiedPayment, ProviderError> {
        if body.len() > NOTIFICATION_BODY_MAX_BYTES {
            return Err(ProviderError::Malformed("body too large".into()));
        }
        let signature = signature.ok_or(ProviderError::BadSignature)?;
        if !danbao_sandbox::wire::verify(&self.merchant_key, body, signature) {
            return Err(ProviderError::BadSignature);
        }
        let n: danbao_sandbox::wire::Notification =
            serde_json::from_slice(body).map_err(|e| ProviderError::Malformed(e.to_string()))?;
        if n.status != "succeeded" {
            return Err(ProviderError::Malformed(format!(
                "status {:?} is not a payment",
                n.status
            )));
        }
        verified_from(n, String::from_utf8_lossy(body).into_owned())
    }

    fn acknowledgement(&self) -> &'static str {
        "success"
    }

    fn query_payments(&self, out_trade_no: String) -> BoxFuture<'_, Result<Vec<SignedNotification>, ProviderError>> {
        Box::pin(async move {
            let views = self
                .client
                .query_by_out_trade_no(&out_trade_no)
                .await
                .map_err(map_client_error)?;
            let mut out = Vec::new();
            for v in views.into_iter().filter(|v| v.status == "succeeded") {
                if let Some((body, signature)) = self
                    .client
                    .query_payment_raw(&v.payment_id)
                    .await
                    .map_err(map_client_error)?
                {
                    out.push(SignedNotification { body, signature });
                }
            }
            Ok(out)
        })
    }

    fn statement(&self, from_ms: i64, to_ms: i64) -> BoxFuture<'_, Result<Vec<VerifiedPayment>, ProviderError>> {
        Box::pin(async move {
            let (from, to) = (crate::clock::rfc3339(from_ms), crate::clock::rfc3339(to_ms));
            let lines = self.client.statement(&from, &to).await.map_err(map_client_error)?;
            lines
                .into_iter()
                .map(|n| {
                    let raw = serde_json::to_string(&n).map_err(|e| ProviderError::Malformed(e.to_string()))?;
                    verified_from(n, raw)
                })
                .collect()
        })
    }

    fn payout(
        &self,
        request_id: String,
        amount_minor: i64,
        account: String,
    ) -> BoxFuture<'_, Result<(), ProviderError>> {
        Box::pin(async move {
            let view = self
                .client
                .payout(&danbao_sandbox::wire::PayoutRequest {
                    request_id,
                    amount_minor,
                    account,
                })
                .await
                .map_err(map_client_error)?;
            settled("payout", &view.status)
        })
    }

    fn refund(&self, cmd: RefundCommand) -> BoxFuture<'_, Result<(), ProviderError>> {
        Box::pin(async move {
            let view = self
                .client
                .refund(&danbao_sandbox::wire::RefundRequest {
                    payment_id: cmd.provider_payment_id,
                    amount_minor: cmd.amount_minor,
                    request_id: cmd.request_id,
                })
                .await
                .map_err(map_client_error)?;
            settled("refund", &view.status)
        })
    }
}
