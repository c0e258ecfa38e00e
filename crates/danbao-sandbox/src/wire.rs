//! What travels between the sandbox gateway and a merchant: the JSON shapes, the signature
//! header and the HMAC-SHA256 signing rules.
//!
//! Both sides use this module — the gateway to sign notifications and responses and to check
//! merchant requests, the platform (through [`crate::client`]) to sign requests and to check
//! what the gateway says — so the two can never disagree about a byte.

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// The HTTP header that carries a lowercase hex HMAC-SHA256 signature.
pub const SIGNATURE_HEADER: &str = "x-sandbox-signature";

type HmacSha256 = Hmac<Sha256>;

/// Signs `bytes` with `key`: lowercase hex HMAC-SHA256.
pub fn sign(key: &[u8], bytes: &[u8]) -> String {
    // HMAC accepts keys of any length, so this never fails; the empty string returned
    // otherwise would not verify against anything, which is the safe direction.
    let Ok(mut mac) = HmacSha256::new_from_slice(key) else {
        return String::new();
    };
    mac.update(bytes);
    hex::encode(mac.finalize().into_bytes())
}

/// Checks `signature_hex` over `bytes` in constant time.
///
/// A side with no key configured accepts nothing, so an empty key never verifies; neither
/// does a signature that is not hex.
pub fn verify(key: &[u8], bytes: &[u8], signature_hex: &str) -> bool {
    if key.is_empty() {
        return false;
    }
    let Ok(signature) = hex::decode(signature_hex.trim()) else {
        return false;
    };
    let Ok(mut mac) = HmacSha256::new_from_slice(key) else {
        return false;
    };
    mac.update(bytes);
    mac.verify_slice(&signature).is_ok()
}

/// The bytes a merchant API request is signed over: `METHOD\nPATH_AND_QUERY\nBODY`.
///
/// `path_and_query` is the request target as the gateway receives it, including the prefix
/// the gateway is mounted under (`/sandbox/api/payments?…` in-process).
pub fn request_signing_payload(method: &str, path_and_query: &str, body: &[u8]) -> Vec<u8> {
    let mut payload = Vec::with_capacity(method.len() + path_and_query.len() + body.len() + 2);
    payload.extend_from_slice(method.as_bytes());
    payload.push(b'\n');
    payload.extend_from_slice(path_and_query.as_bytes());
    payload.push(b'\n');
    payload.extend_from_slice(body);
    payload
}

/// An asynchronous payment notification, also the answer to an active query and a line of a
/// statement. Times are RFC 3339 UTC.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub notify_id: String,
    pub payment_id: String,
    pub out_trade_no: String,
    pub trade_no: String,
    pub amount_minor: i64,
    pub currency: String,
    /// Always `"succeeded"`: the gateway only notifies successful payments.
    pub status: String,
    pub paid_at: String,
    pub sent_at: String,
    /// Who paid: the payer's identity at the gateway (as Alipay's `buyer_id` or WeChat's
    /// `openid`), stable across that payer's payments. Absent from older notifications.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payer_id: Option<String>,
}

/// The payer a payment is made by when the Pay request names none (API calls, tests):
/// one fixed wallet, so that many payments without a named payer are one person.
pub const DEFAULT_PAYER: &str = "sandbox-wallet";

/// A merchant's request to open a payment.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct CreatePayment {
    /// The merchant's own reference; payment creation is idempotent on it.
    pub out_trade_no: String,
    pub amount_minor: i64,
    pub currency: String,
    pub subject: String,
    pub notify_url: String,
    pub return_url: String,
    /// The merchant's name as the cashier shows it (易支付's `sitename`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site_name: Option<String>,
    /// The order number the buyer knows, which the cashier prints; display only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_ref: Option<String>,
    /// RFC 3339: when the merchant stops waiting for this payment (Alipay's
    /// `time_expire`). The cashier counts down to it; a payment after it is still taken
    /// (the merchant refunds what it can no longer deliver).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
}

/// The gateway's view of one payment.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct PaymentView {
    pub payment_id: String,
    pub out_trade_no: String,
    pub amount_minor: i64,
    pub currency: String,
    pub subject: String,
    /// `"created"` or `"succeeded"`.
    pub status: String,
    pub trade_no: Option<String>,
    pub paid_at: Option<String>,
    pub cashier_url: String,
    pub refunded_minor: i64,
    pub notifications: Vec<NotificationAttempt>,
}

/// One attempt to deliver a notification, as the gateway recorded it.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct NotificationAttempt {
    pub notify_id: String,
    pub at: String,
    /// `"acknowledged"`, `"rejected: …"`, `"error: …"` or `"dropped"`.
    pub outcome: String,
}

/// A merchant's refund request; idempotent on `request_id`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct RefundRequest {
    pub payment_id: String,
    pub amount_minor: i64,
    pub request_id: String,
}

/// A refund as the gateway recorded it.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct RefundView {
    pub refund_id: String,
    pub request_id: String,
    pub payment_id: String,
    pub amount_minor: i64,
    /// Always `"succeeded"`: sandbox refunds settle at once.
    pub status: String,
}

/// A payout to a merchant's seller (a withdrawal), made once per request_id.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct PayoutRequest {
    pub request_id: String,
    pub amount_minor: i64,
    /// Where the money goes (an account reference at the gateway).
    pub account: String,
}

/// A payout as the gateway recorded it.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct PayoutView {
    pub payout_id: String,
    pub request_id: String,
    pub amount_minor: i64,
    pub account: String,
    /// Always `"succeeded"`: sandbox payouts settle at once.
    pub status: String,
}

/// The merchant's settlement balance at the gateway (`GET /api/balance`, signed).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct BalanceView {
    pub balance_minor: i64,
    pub currency: String,
    /// RFC 3339.
    pub as_of: String,
}

/// The fault knobs. Percentages are 0..=100; the default is everything off.
#[derive(Serialize, Deserialize, Debug, Clone, Default, PartialEq, Eq)]
#[serde(default)]
pub struct Faults {
    /// Chance that a notification attempt is silently not sent.
    pub drop_pct: u8,
    /// Chance that a notification attempt is sent twice.
    pub duplicate_pct: u8,
    /// Each attempt waits a random 0..=this many real milliseconds before sending.
    pub delay_ms_max: u64,
    /// Attempts wait a further random amount so that they can overtake one another.
    pub reorder: bool,
    /// Chance that an attempt carries a wrong amount (still correctly signed).
    pub tamper_amount_pct: u8,
    /// The merchant API answers 503 and no notification goes out.
    pub down: bool,
    /// With `down`: the gateway comes back by itself after this many real milliseconds
    /// (0: it stays down until told otherwise).
    pub down_for_ms: u64,
}

/// The JSON body of every 4xx/5xx answer.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// A stable code, e.g. `bad_signature`, `not_found`, `refund_exceeds_payment`.
    pub error: String,
    pub message: String,
}

/// How WeChat Pay's Native `code_url` begins (`weixin://wxpay/bizpayurl?pr=<code>`); the
/// sandbox's code is its payment id, so a scan is opening `/cashier/<code>`.
pub const WECHAT_CODE_URL_PREFIX: &str = "weixin://wxpay/bizpayurl?pr=";

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn sign_matches_rfc_4231_test_case_2() {
        assert_eq!(
            sign(b"Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn verify_accepts_only_the_right_signature() {
        let sig = sign(b"k", b"body");
        assert!(verify(b"k", b"body", &sig));
        assert!(
            verify(b"k", b"body", &sig.to_uppercase()),
            "hex case is not significant"
        );
        assert!(!verify(b"k", b"body!", &sig));
        assert!(!verify(b"other", b"body", &sig));
        assert!(!verify(b"k", b"body", "not hex"));
        assert!(!verify(b"k", b"body", ""));
        assert!(!verify(b"k", b"body", &sig[..10]));
    }

    #[test]
    fn an_empty_key_accepts_nothing() {
        let sig = sign(b"", b"body");
        assert!(!verify(b"", b"body", &sig));
    }

    #[test]
    fn request_payload_joins_method_target_and_body_with_newlines() {
        assert_eq!(
            request_signing_payload("POST", "/sandbox/api/refunds?x=1", b"{}"),
            b"POST\n/sandbox/api/refunds?x=1\n{}".to_vec()
        );
    }

    #[test]
    fn faults_default_to_off_and_missing_fields_default() {
        let f: Faults = serde_json::from_str(r#"{"down":true}"#).unwrap();
        assert_eq!(
            f,
            Faults {
                down: true,
                ..Faults::default()
            }
        );
    }
}
