//! WeChat Pay API v3 (微信支付 APIv3, 直连商户), the Native (scan a QR code) rail:
//!
//! - every request the merchant makes carries `Authorization: WECHATPAY2-SHA256-RSA2048
//!   mchid="…",nonce_str="…",signature="…",timestamp="…",serial_no="…"`, the signature
//!   being SHA256withRSA by the merchant's API key over
//!   `METHOD\nPATH_AND_QUERY\nTIMESTAMP\nNONCE\nBODY\n`;
//! - every answer and every notification WeChat Pay sends is signed the same way by the
//!   platform key over `TIMESTAMP\nNONCE\nBODY\n`, the four values in the
//!   `Wechatpay-Signature/-Timestamp/-Nonce/-Serial` headers; the serial names which of
//!   the platform's keys signed (keys rotate, so a merchant holds several);
//! - a payment notification carries the transaction encrypted with AEAD_AES_256_GCM
//!   under the merchant's APIv3 key; it is acknowledged with an empty 200 or 204;
//! - amounts are integer fen (`total`), in `CNY`; the trade bill alone writes yuan.
//!
//! Read strictly: an unknown serial, a wrong signature, a timestamp more than five minutes
//! from now, a notification that is not `TRANSACTION.SUCCESS`, a ciphertext that does not
//! open, another merchant's `mchid` or another app's `appid`, a `trade_state` other than
//! `SUCCESS`, a currency other than CNY, an amount that is not positive, a JSON field
//! given twice, a body larger than any real one: each is refused with its own error, and
//! nothing in a message is believed before its signature verifies.
//!
//! Both sides are here: the platform's adapter (a merchant) builds requests and reads
//! answers and notifications; the sandbox's simulator (the gateway) reads requests and
//! builds answers, notifications and bills. Pure: times, nonces and keys are passed in.

use std::fmt;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use danbao_domain::money::MoneyError;
use danbao_domain::Money;
use serde::{Deserialize, Serialize};
use sha1::{Digest, Sha1};
use subtle::ConstantTimeEq;

use crate::rsa_sha256::{SigningKey, VerifyingKey};

/// The scheme of the `Authorization` header (and of `Wechatpay-Signature-Type`): RSA
/// keys of at least 2048 bits, SHA-256.
pub const AUTH_SCHEME: &str = "WECHATPAY2-SHA256-RSA2048";
/// How far a signed timestamp may be from now, either way, in seconds: WeChat Pay's own
/// rule (its SDKs refuse an answer or notification older than five minutes), which bounds
/// how long a captured message can be replayed.
pub const TIMESTAMP_SKEW_S_MAX: i64 = 300;
/// The largest JSON body read (an answer or a notification). A payment notification is
/// about 1 KiB and a query answer about 2 KiB; 64 KiB leaves room for promotion details
/// while refusing a body that could only be an attack on the parser.
pub const BODY_BYTES_MAX: usize = 64 * 1024;
/// The largest trade bill read: a day of a busy shop (about 200 bytes a line, 100 000
/// lines) is 20 MiB; more than 64 MiB is not a bill we can have.
pub const BILL_BYTES_MAX: usize = 64 * 1024 * 1024;
/// The longest header value read (a 4096-bit signature is 684 base64 characters).
pub const HEADER_VALUE_BYTES_MAX: usize = 1024;
/// The only `event_type` that means the buyer paid.
pub const EVENT_TRANSACTION_SUCCESS: &str = "TRANSACTION.SUCCESS";
/// `resource_type` of every notification that carries an encrypted resource.
pub const RESOURCE_TYPE_ENCRYPTED: &str = "encrypt-resource";
/// `original_type` of a payment's resource.
pub const ORIGINAL_TYPE_TRANSACTION: &str = "transaction";
/// The one encryption of notification resources.
pub const ALGORITHM_AES_GCM: &str = "AEAD_AES_256_GCM";
/// The only currency of a domestic merchant, and the only one we sell in.
pub const CURRENCY_CNY: &str = "CNY";
/// `trade_state` of a paid transaction.
pub const TRADE_STATE_SUCCESS: &str = "SUCCESS";
/// `trade_state` of a paid transaction that was then refunded (转入退款).
pub const TRADE_STATE_REFUND: &str = "REFUND";
/// `trade_type` of a Native (QR code) payment.
pub const TRADE_TYPE_NATIVE: &str = "NATIVE";
/// The `code` a merchant answers a notification it could not take with.
pub const ACK_FAIL_CODE: &str = "FAIL";
/// The only hash of the trade bill.
pub const HASH_TYPE_SHA1: &str = "SHA1";

/// `POST` path of a Native order.
pub const NATIVE_PATH: &str = "/v3/pay/transactions/native";
/// `POST` path of a domestic refund.
pub const REFUND_PATH: &str = "/v3/refund/domestic/refunds";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WechatError {
    #[error("malformed: {0}")]
    Malformed(String),
    #[error("{bytes} bytes, more than the {max} any real message has")]
    TooLarge { bytes: usize, max: usize },
    #[error("signed by key serial {0:?}, which is not one of the keys we hold")]
    UnknownSerial(String),
    #[error("signature does not verify")]
    BadSignature,
    #[error("signed at {timestamp}, more than {TIMESTAMP_SKEW_S_MAX} s from now ({now})")]
    StaleTimestamp { timestamp: i64, now: i64 },
    #[error("event_type {0:?} is not a payment")]
    NotPaymentEvent(String),
    #[error("resource encrypted with {0:?}, not AEAD_AES_256_GCM")]
    WrongAlgorithm(String),
    /// The ciphertext does not open under our APIv3 key with its nonce and associated
    /// data: tampered with, or encrypted under another key.
    #[error("the resource does not decrypt under our APIv3 key")]
    Undecryptable,
    #[error("the APIv3 key must be 32 bytes")]
    BadApiV3Key,
    #[error("for merchant {0:?}, not ours")]
    WrongMerchant(String),
    #[error("for app {0:?}, not ours")]
    WrongApp(String),
    #[error("trade_state {0:?} is not a payment")]
    NotPaid(String),
    #[error("currency {0:?}, not CNY")]
    WrongCurrency(String),
    #[error("amount {0} fen is no payment")]
    NotPositive(i64),
    #[error(transparent)]
    Amount(#[from] MoneyError),
    #[error("the answer is about {0:?}, not what was asked")]
    OtherOrder(String),
    #[error("bill hash_type {0:?}, not SHA1")]
    UnsupportedHash(String),
    #[error("the bill's bytes do not have the hash the bill answer gave")]
    BadHash,
    /// WeChat Pay answered with an error (`{code, message}`) and a 4xx/5xx status.
    #[error("refused by WeChat Pay ({status} {code}): {message}")]
    Refused { status: u16, code: String, message: String },
    #[error("could not sign: {0}")]
    Signing(String),
}

fn malformed(what: impl Into<String>) -> WechatError {
    WechatError::Malformed(what.into())
}

fn bounded(bytes: &[u8], max: usize) -> Result<(), WechatError> {
    if bytes.len() > max {
        Err(WechatError::TooLarge {
            bytes: bytes.len(),
            max,
        })
    } else {
        Ok(())
    }
}

/// The keys whose signatures we accept, each under the serial that names it: the
/// platform's (certificate serials, or the `PUB_KEY_ID_…` of a 微信支付公钥) on the
/// merchant's side, the merchants' API certificate serials on the simulator's side.
#[derive(Debug, Clone, Default)]
pub struct KeyRing {
    keys: Vec<(String, VerifyingKey)>,
}

impl KeyRing {
    pub fn new() -> KeyRing {
        KeyRing::default()
    }

    /// Adds (or replaces) the key named `serial`. Serials are compared as WeChat Pay
    /// writes them, upper-case hex, so a serial is kept upper-cased.
    pub fn with(mut self, serial: &str, key: VerifyingKey) -> KeyRing {
        let serial = serial.trim().to_ascii_uppercase();
        self.keys.retain(|(s, _)| *s != serial);
        self.keys.push((serial, key));
        self
    }

    pub fn get(&self, serial: &str) -> Option<&VerifyingKey> {
        let serial = serial.trim().to_ascii_uppercase();
        self.keys.iter().find(|(s, _)| *s == serial).map(|(_, k)| k)
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// The merchant's APIv3 key: 32 bytes (the 32 characters set in the merchant console),
/// the AES-256 key of every notification resource. Hidden from `Debug`.
#[derive(Clone)]
pub struct ApiV3Key([u8; 32]);

impl fmt::Debug for ApiV3Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiV3Key(..)")
    }
}

impl ApiV3Key {
    /// The key as the console shows it: 32 characters, used as their bytes.
    pub fn from_text(text: &str) -> Result<ApiV3Key, WechatError> {
        let bytes: [u8; 32] = text.as_bytes().try_into().map_err(|_| WechatError::BadApiV3Key)?;
        Ok(ApiV3Key(bytes))
    }

    /// Opens `ciphertext_base64` (ciphertext then the 16-byte tag) with the 12-byte
    /// `nonce` and the `associated_data`, as WeChat Pay encrypts a resource.
    pub fn decrypt(&self, nonce: &str, associated_data: &str, ciphertext_base64: &str) -> Result<Vec<u8>, WechatError> {
        let nonce = nonce_of(nonce)?;
        let sealed = STANDARD
            .decode(ciphertext_base64)
            .map_err(|_| malformed("the resource's ciphertext is not base64"))?;
        Aes256Gcm::new((&self.0).into())
            .decrypt(
                nonce,
                Payload {
                    msg: &sealed,
                    aad: associated_data.as_bytes(),
                },
            )
            .map_err(|_| WechatError::Undecryptable)
    }

    /// Seals `plaintext` as WeChat Pay does (the simulator's side): base64 of ciphertext
    /// then tag.
    pub fn encrypt(&self, nonce: &str, associated_data: &str, plaintext: &[u8]) -> Result<String, WechatError> {
        let nonce = nonce_of(nonce)?;
        let sealed = Aes256Gcm::new((&self.0).into())
            .encrypt(
                nonce,
                Payload {
                    msg: plaintext,
                    aad: associated_data.as_bytes(),
                },
            )
            .map_err(|_| WechatError::Undecryptable)?;
        Ok(STANDARD.encode(sealed))
    }
}

fn nonce_of(nonce: &str) -> Result<&Nonce<aes_gcm::aead::consts::U12>, WechatError> {
    let bytes = nonce.as_bytes();
    if bytes.len() != 12 {
        return Err(malformed("the resource's nonce is not 12 bytes"));
    }
    Ok(Nonce::from_slice(bytes))
}

// ---------------------------------------------------------------------------------------
// Requests: the Authorization header.

/// The message a merchant signs for a request: method, path with query (no host), the
/// timestamp, the nonce and the body (empty for a GET), each followed by `\n`.
pub fn request_message(method: &str, path_and_query: &str, timestamp: i64, nonce: &str, body: &str) -> String {
    format!("{method}\n{path_and_query}\n{timestamp}\n{nonce}\n{body}\n")
}

/// The message WeChat Pay signs for an answer or a notification. Over bytes: the body
/// is signed exactly as it came, and verified before it is parsed.
pub fn answer_message(timestamp: &str, nonce: &str, body: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(timestamp.len() + nonce.len() + body.len() + 3);
    m.extend_from_slice(timestamp.as_bytes());
    m.push(b'\n');
    m.extend_from_slice(nonce.as_bytes());
    m.push(b'\n');
    m.extend_from_slice(body);
    m.push(b'\n');
    m
}

/// What a merchant signs requests with: its merchant number, the serial of its API
/// certificate (which tells WeChat Pay which key to check) and the private key.
#[derive(Debug)]
pub struct Merchant {
    pub mchid: String,
    pub serial_no: String,
    pub key: SigningKey,
}

/// The `Authorization` header's five values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    pub mchid: String,
    pub nonce_str: String,
    pub signature: String,
    pub timestamp: i64,
    pub serial_no: String,
}

impl Authorization {
    /// Signs a request as `merchant`.
    pub fn sign(
        merchant: &Merchant,
        method: &str,
        path_and_query: &str,
        timestamp: i64,
        nonce: &str,
        body: &str,
    ) -> Result<Authorization, WechatError> {
        let message = request_message(method, path_and_query, timestamp, nonce, body);
        let signature = merchant
            .key
            .sign_base64(message.as_bytes())
            .map_err(|e| WechatError::Signing(e.to_string()))?;
        Ok(Authorization {
            mchid: merchant.mchid.clone(),
            nonce_str: nonce.to_string(),
            signature,
            timestamp,
            serial_no: merchant.serial_no.clone(),
        })
    }

    /// The header's value, in the order of WeChat Pay's documentation.
    pub fn header_value(&self) -> String {
        format!(
            "{AUTH_SCHEME} mchid=\"{}\",nonce_str=\"{}\",signature=\"{}\",timestamp=\"{}\",serial_no=\"{}\"",
            self.mchid, self.nonce_str, self.signature, self.timestamp, self.serial_no
        )
    }

    /// Reads the header's value (the simulator's side): the scheme, then exactly the
    /// five `k="v"` pairs in any order, none twice, none other.
    pub fn parse(value: &str) -> Result<Authorization, WechatError> {
        bounded(value.as_bytes(), 2 * HEADER_VALUE_BYTES_MAX)?;
        let (scheme, rest) = value
            .trim()
            .split_once(' ')
            .ok_or_else(|| malformed("Authorization without parameters"))?;
        if scheme != AUTH_SCHEME {
            return Err(malformed(format!("Authorization scheme {scheme:?}")));
        }
        let mut fields: [(&str, Option<String>); 5] = [
            ("mchid", None),
            ("nonce_str", None),
            ("signature", None),
            ("timestamp", None),
            ("serial_no", None),
        ];
        for part in rest.trim().split(',') {
            let (k, v) = part
                .trim()
                .split_once('=')
                .ok_or_else(|| malformed(format!("Authorization part {part:?}")))?;
            let v = v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .filter(|v| !v.contains('"'))
                .ok_or_else(|| malformed(format!("Authorization value of {k} is not quoted")))?;
            let slot = fields
                .iter_mut()
                .find(|(name, _)| *name == k)
                .ok_or_else(|| malformed(format!("Authorization has an unknown {k:?}")))?;
            if slot.1.is_some() {
                return Err(malformed(format!("Authorization gives {k} twice")));
            }
            slot.1 = Some(v.to_string());
        }
        let [(_, mchid), (_, nonce_str), (_, signature), (_, timestamp), (_, serial_no)] = fields;
        let need = |v: Option<String>, name: &str| {
            v.filter(|v| !v.is_empty())
                .ok_or_else(|| malformed(format!("Authorization without {name}")))
        };
        Ok(Authorization {
            mchid: need(mchid, "mchid")?,
            nonce_str: need(nonce_str, "nonce_str")?,
            signature: need(signature, "signature")?,
            timestamp: parse_timestamp(&need(timestamp, "timestamp")?)?,
            serial_no: need(serial_no, "serial_no")?,
        })
    }

    /// Checks a request as WeChat Pay does (the simulator's side): the merchant is
    /// `mchid`, its key is the one `serial_no` names in `merchant_keys`, the signature
    /// covers this method, path, body, timestamp and nonce, and the timestamp is within
    /// five minutes of `now`.
    pub fn verify(
        &self,
        mchid: &str,
        merchant_keys: &KeyRing,
        method: &str,
        path_and_query: &str,
        body: &str,
        now: i64,
    ) -> Result<(), WechatError> {
        if self.mchid != mchid {
            return Err(WechatError::WrongMerchant(self.mchid.clone()));
        }
        let key = merchant_keys
            .get(&self.serial_no)
            .ok_or_else(|| WechatError::UnknownSerial(self.serial_no.clone()))?;
        let message = request_message(method, path_and_query, self.timestamp, &self.nonce_str, body);
        if !key.verifies(message.as_bytes(), &self.signature) {
            return Err(WechatError::BadSignature);
        }
        fresh(self.timestamp, now)
    }
}

/// A request ready to send: the platform's HTTP client adds the host
/// (`https://api.mch.weixin.qq.com`), `Accept: application/json`, and for a body
/// `Content-Type: application/json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedRequest {
    pub method: &'static str,
    pub path_and_query: String,
    /// Empty for a GET.
    pub body: String,
    /// The `Authorization` header's value.
    pub authorization: String,
}

fn signed(
    merchant: &Merchant,
    method: &'static str,
    path_and_query: String,
    body: String,
    timestamp: i64,
    nonce: &str,
) -> Result<SignedRequest, WechatError> {
    let auth = Authorization::sign(merchant, method, &path_and_query, timestamp, nonce, &body)?;
    Ok(SignedRequest {
        method,
        path_and_query,
        body,
        authorization: auth.header_value(),
    })
}

// ---------------------------------------------------------------------------------------
// Answers and notifications: the Wechatpay-* headers.

/// The four `Wechatpay-*` headers of a signed answer or notification (and the optional
/// `Wechatpay-Signature-Type`), as the platform's notification endpoint passes them on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Headers {
    pub serial: String,
    pub signature: String,
    pub timestamp: String,
    pub nonce: String,
    pub signature_type: Option<String>,
}

impl Headers {
    /// Picks the headers out of a request's or answer's headers (names in any case).
    /// A `Wechatpay-*` header given twice is refused, as a parameter given twice is.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Headers, WechatError> {
        let mut found: [(&str, Option<String>); 5] = [
            ("wechatpay-serial", None),
            ("wechatpay-signature", None),
            ("wechatpay-timestamp", None),
            ("wechatpay-nonce", None),
            ("wechatpay-signature-type", None),
        ];
        for (name, value) in pairs {
            let name = name.to_ascii_lowercase();
            if let Some(slot) = found.iter_mut().find(|(n, _)| *n == name) {
                bounded(value.as_bytes(), HEADER_VALUE_BYTES_MAX)?;
                if slot.1.is_some() {
                    return Err(malformed(format!("header {name} given twice")));
                }
                slot.1 = Some(value.trim().to_string());
            }
        }
        let [(_, serial), (_, signature), (_, timestamp), (_, nonce), (_, signature_type)] = found;
        let need = |v: Option<String>, name: &str| {
            v.filter(|v| !v.is_empty())
                .ok_or_else(|| malformed(format!("missing header {name}")))
        };
        Ok(Headers {
            serial: need(serial, "Wechatpay-Serial")?,
            signature: need(signature, "Wechatpay-Signature")?,
            timestamp: need(timestamp, "Wechatpay-Timestamp")?,
            nonce: need(nonce, "Wechatpay-Nonce")?,
            signature_type,
        })
    }

    /// The headers as name/value pairs, for the simulator to send.
    pub fn pairs(&self) -> Vec<(&'static str, String)> {
        let mut p = vec![
            ("Wechatpay-Serial", self.serial.clone()),
            ("Wechatpay-Signature", self.signature.clone()),
            ("Wechatpay-Timestamp", self.timestamp.clone()),
            ("Wechatpay-Nonce", self.nonce.clone()),
        ];
        if let Some(t) = &self.signature_type {
            p.push(("Wechatpay-Signature-Type", t.clone()));
        }
        p
    }

    /// Signs `body` as the gateway (the simulator's side), with the platform key named
    /// `serial`.
    pub fn sign(
        key: &SigningKey,
        serial: &str,
        timestamp: i64,
        nonce: &str,
        body: &[u8],
    ) -> Result<Headers, WechatError> {
        let timestamp = timestamp.to_string();
        let signature = key
            .sign_base64(&answer_message(&timestamp, nonce, body))
            .map_err(|e| WechatError::Signing(e.to_string()))?;
        Ok(Headers {
            serial: serial.to_string(),
            signature,
            timestamp,
            nonce: nonce.to_string(),
            signature_type: Some(AUTH_SCHEME.to_string()),
        })
    }

    /// Checks that `body` was signed by the platform (the merchant's side): the key
    /// named by `Wechatpay-Serial` is one we hold, its signature covers the timestamp,
    /// nonce and these exact bytes, and the timestamp is within five minutes of `now`.
    /// The signature is checked before the timestamp is believed; a body over
    /// [`BODY_BYTES_MAX`] is refused before anything.
    pub fn verify(&self, body: &[u8], platform_keys: &KeyRing, now: i64) -> Result<(), WechatError> {
        bounded(body, BODY_BYTES_MAX)?;
        if let Some(t) = &self.signature_type {
            if t != AUTH_SCHEME {
                return Err(malformed(format!("Wechatpay-Signature-Type {t:?}")));
            }
        }
        let key = platform_keys
            .get(&self.serial)
            .ok_or_else(|| WechatError::UnknownSerial(self.serial.clone()))?;
        if !key.verifies(&answer_message(&self.timestamp, &self.nonce, body), &self.signature) {
            return Err(WechatError::BadSignature);
        }
        fresh(parse_timestamp(&self.timestamp)?, now)
    }
}

fn parse_timestamp(text: &str) -> Result<i64, WechatError> {
    if text.is_empty() || text.len() > 12 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(malformed(format!("timestamp {text:?} is not seconds")));
    }
    text.parse().map_err(|_| malformed(format!("timestamp {text:?}")))
}

fn fresh(timestamp: i64, now: i64) -> Result<(), WechatError> {
    if timestamp.abs_diff(now) > TIMESTAMP_SKEW_S_MAX.unsigned_abs() {
        Err(WechatError::StaleTimestamp { timestamp, now })
    } else {
        Ok(())
    }
}

/// `{code, message}`: how WeChat Pay answers a request it refuses (with a 4xx/5xx), and
/// how a merchant answers a notification it could not take.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorAnswer {
    pub code: String,
    pub message: String,
}

impl ErrorAnswer {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// Reads an answer to one of our requests: a 2xx is believed only once its signature
/// verifies and is then parsed as `T`; a 4xx/5xx becomes [`WechatError::Refused`] with
/// WeChat Pay's code and message (a refusal changes nothing on our side, so it is read
/// whether or not it is signed).
pub fn read_answer<T: serde::de::DeserializeOwned>(
    status: u16,
    headers: Option<&Headers>,
    body: &[u8],
    platform_keys: &KeyRing,
    now: i64,
) -> Result<T, WechatError> {
    bounded(body, BODY_BYTES_MAX)?;
    if !(200..300).contains(&status) {
        let e: ErrorAnswer = serde_json::from_slice(body).unwrap_or(ErrorAnswer {
            code: String::new(),
            message: String::from_utf8_lossy(body).chars().take(200).collect(),
        });
        return Err(WechatError::Refused {
            status,
            code: e.code,
            message: e.message,
        });
    }
    headers
        .ok_or_else(|| malformed("an answer without Wechatpay-* headers"))?
        .verify(body, platform_keys, now)?;
    json(body)
}

fn json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, WechatError> {
    // serde refuses a field of a struct given twice ("duplicate field"), so whichever of
    // two values the signature covered, the other reading cannot slip through.
    serde_json::from_slice(body).map_err(|e| malformed(format!("JSON: {e}")))
}

// ---------------------------------------------------------------------------------------
// Native order.

/// The `amount` of an order: integer fen and the currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderAmount {
    pub total: i64,
    pub currency: String,
}

/// `POST /v3/pay/transactions/native`: a QR-code payment of `amount` for the buyer to scan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NativeOrder {
    pub appid: String,
    pub mchid: String,
    /// What the buyer sees in WeChat (at most 127 characters).
    pub description: String,
    pub out_trade_no: String,
    /// The last moment the buyer can pay, RFC 3339 in Beijing time (`+08:00`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_expire: Option<String>,
    pub notify_url: String,
    pub amount: OrderAmount,
}

/// The longest `out_trade_no` / `out_refund_no` WeChat Pay takes.
pub const OUT_NO_CHARS_MAX: usize = 32;
/// The longest `description`, in characters.
pub const DESCRIPTION_CHARS_MAX: usize = 127;

/// Our own order and refund numbers: 1–32 of `[0-9A-Za-z_-*]` (WeChat Pay's rule), so
/// that they go into a path with no escaping that could make the signed path and the
/// sent one differ.
fn our_number(no: &str, what: &str) -> Result<(), WechatError> {
    let ok = !no.is_empty()
        && no.len() <= OUT_NO_CHARS_MAX
        && no.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-*".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(malformed(format!("{what} {no:?} is not 1-32 of [0-9A-Za-z_-*]")))
    }
}

/// `t` as WeChat Pay writes times: RFC 3339, seconds, Beijing time (`+08:00`).
pub fn beijing_time(t: jiff::Timestamp) -> String {
    t.to_zoned(jiff::tz::TimeZone::fixed(jiff::tz::offset(8)))
        .strftime("%Y-%m-%dT%H:%M:%S%:z")
        .to_string()
}

/// An RFC 3339 time as WeChat Pay writes them (any offset).
pub fn parse_time(text: &str) -> Result<jiff::Timestamp, WechatError> {
    text.parse::<jiff::Timestamp>()
        .map_err(|_| malformed(format!("{text:?} is not an RFC 3339 time")))
}

impl NativeOrder {
    /// The order for `total` of our `out_trade_no`, payable until `expires_at`.
    pub fn new(
        appid: &str,
        mchid: &str,
        description: &str,
        out_trade_no: &str,
        expires_at: jiff::Timestamp,
        notify_url: &str,
        total: Money,
    ) -> Result<NativeOrder, WechatError> {
        our_number(out_trade_no, "out_trade_no")?;
        if !total.is_positive() {
            return Err(WechatError::NotPositive(total.minor()));
        }
        Ok(NativeOrder {
            appid: appid.to_string(),
            mchid: mchid.to_string(),
            description: description.chars().take(DESCRIPTION_CHARS_MAX).collect(),
            out_trade_no: out_trade_no.to_string(),
            time_expire: Some(beijing_time(expires_at)),
            notify_url: notify_url.to_string(),
            amount: OrderAmount {
                total: total.minor(),
                currency: CURRENCY_CNY.to_string(),
            },
        })
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The signed `POST`.
    pub fn request(&self, merchant: &Merchant, timestamp: i64, nonce: &str) -> Result<SignedRequest, WechatError> {
        signed(
            merchant,
            "POST",
            NATIVE_PATH.to_string(),
            self.to_json(),
            timestamp,
            nonce,
        )
    }

    /// Reads an order as the gateway receives it (the simulator's side), after
    /// [`Authorization::verify`]: for the signing merchant, in CNY, a positive amount,
    /// an expiry that is a time.
    pub fn read(body: &[u8], auth: &Authorization) -> Result<NativeOrder, WechatError> {
        bounded(body, BODY_BYTES_MAX)?;
        let order: NativeOrder = json(body)?;
        if order.mchid != auth.mchid {
            return Err(WechatError::WrongMerchant(order.mchid));
        }
        check_amount(order.amount.total, &order.amount.currency)?;
        if order.out_trade_no.is_empty() || order.out_trade_no.len() > OUT_NO_CHARS_MAX {
            return Err(malformed("out_trade_no"));
        }
        if let Some(t) = &order.time_expire {
            parse_time(t)?;
        }
        Ok(order)
    }

    /// The money asked for.
    pub fn total(&self) -> Money {
        Money::from_minor(self.amount.total)
    }
}

/// The answer to a Native order: the `weixin://wxpay/bizpayurl?pr=…` to show as a QR code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NativeAnswer {
    pub code_url: String,
}

impl NativeAnswer {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

fn check_amount(total: i64, currency: &str) -> Result<Money, WechatError> {
    if currency != CURRENCY_CNY {
        return Err(WechatError::WrongCurrency(currency.to_string()));
    }
    if total <= 0 {
        return Err(WechatError::NotPositive(total));
    }
    Ok(Money::from_minor(total))
}

// ---------------------------------------------------------------------------------------
// The transaction: what a notification carries encrypted and a query answers in the clear.

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payer {
    pub openid: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransactionAmount {
    /// What the order asked, fen.
    pub total: i64,
    /// What the buyer paid after WeChat Pay's own coupons, fen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payer_total: Option<i64>,
    pub currency: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payer_currency: Option<String>,
}

/// A transaction as WeChat Pay describes it. Fields a not-yet-paid order lacks
/// (`transaction_id`, `bank_type`, `success_time`, `payer`) are optional here and
/// required of a payment by [`Transaction::payment`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transaction {
    pub appid: String,
    pub mchid: String,
    pub out_trade_no: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trade_type: Option<String>,
    pub trade_state: String,
    #[serde(default)]
    pub trade_state_desc: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bank_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attach: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payer: Option<Payer>,
    pub amount: TransactionAmount,
}

/// A verified payment: the facts the platform records before deciding anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payment {
    pub out_trade_no: String,
    /// WeChat Pay's transaction number (微信支付订单号): the deduplication key.
    pub transaction_id: String,
    /// What the order asked and WeChat Pay settled (`amount.total`).
    pub total: Money,
    /// When the buyer paid, as WeChat Pay wrote it (RFC 3339, `+08:00`).
    pub success_time: String,
    pub payer_openid: Option<String>,
}

impl Transaction {
    /// Ours: `mchid` and `appid` are ours. Checked before anything else is read, so a
    /// transaction of another merchant is never taken for one of ours.
    fn ours(&self, mchid: &str, appid: &str) -> Result<(), WechatError> {
        if self.mchid != mchid {
            return Err(WechatError::WrongMerchant(self.mchid.clone()));
        }
        if self.appid != appid {
            return Err(WechatError::WrongApp(self.appid.clone()));
        }
        Ok(())
    }

    /// The transaction as a payment to merchant `mchid` of app `appid`: `trade_state`
    /// `SUCCESS`, in CNY, a positive amount, with its transaction number and time.
    pub fn payment(&self, mchid: &str, appid: &str) -> Result<Payment, WechatError> {
        self.ours(mchid, appid)?;
        if self.trade_state != TRADE_STATE_SUCCESS {
            return Err(WechatError::NotPaid(self.trade_state.clone()));
        }
        self.paid_facts()
    }

    fn paid_facts(&self) -> Result<Payment, WechatError> {
        let total = check_amount(self.amount.total, &self.amount.currency)?;
        let need = |v: &Option<String>, name: &str| {
            v.clone()
                .filter(|v| !v.is_empty())
                .ok_or_else(|| malformed(format!("a paid transaction without {name}")))
        };
        if self.out_trade_no.is_empty() {
            return Err(malformed("a paid transaction without out_trade_no"));
        }
        let success_time = need(&self.success_time, "success_time")?;
        parse_time(&success_time)?;
        Ok(Payment {
            out_trade_no: self.out_trade_no.clone(),
            transaction_id: need(&self.transaction_id, "transaction_id")?,
            total,
            success_time,
            payer_openid: self.payer.as_ref().map(|p| p.openid.clone()).filter(|o| !o.is_empty()),
        })
    }

    /// What a query says about our order `out_trade_no` (the 补单 worker's reading).
    pub fn state(&self, mchid: &str, appid: &str, out_trade_no: &str) -> Result<OrderState, WechatError> {
        self.ours(mchid, appid)?;
        if self.out_trade_no != out_trade_no {
            return Err(WechatError::OtherOrder(self.out_trade_no.clone()));
        }
        match self.trade_state.as_str() {
            TRADE_STATE_SUCCESS => self.paid_facts().map(OrderState::Paid),
            // Paid, then (partly) refunded: the payment still happened and is recorded.
            TRADE_STATE_REFUND => self.paid_facts().map(OrderState::Refunded),
            "NOTPAY" | "USERPAYING" => Ok(OrderState::Unpaid(self.trade_state.clone())),
            "CLOSED" | "REVOKED" | "PAYERROR" => Ok(OrderState::Closed(self.trade_state.clone())),
            other => Err(malformed(format!("trade_state {other:?}"))),
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// What a query says about an order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderState {
    /// Paid: the same facts a notification carries.
    Paid(Payment),
    /// Paid and since refunded (`REFUND`): the payment is still a fact to record.
    Refunded(Payment),
    /// `NOTPAY` or `USERPAYING`: not paid yet.
    Unpaid(String),
    /// `CLOSED`, `REVOKED` or `PAYERROR`: will not be paid.
    Closed(String),
}

/// `GET /v3/pay/transactions/out-trade-no/{out_trade_no}?mchid=…`, signed.
pub fn query_request(
    merchant: &Merchant,
    out_trade_no: &str,
    timestamp: i64,
    nonce: &str,
) -> Result<SignedRequest, WechatError> {
    our_number(out_trade_no, "out_trade_no")?;
    let query = serde_urlencoded::to_string([("mchid", merchant.mchid.as_str())]).unwrap_or_default();
    let path = format!("/v3/pay/transactions/out-trade-no/{out_trade_no}?{query}");
    signed(merchant, "GET", path, String::new(), timestamp, nonce)
}

// ---------------------------------------------------------------------------------------
// Notifications.

/// The encrypted resource of a notification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EncryptedResource {
    pub original_type: String,
    pub algorithm: String,
    pub ciphertext: String,
    #[serde(default)]
    pub associated_data: String,
    pub nonce: String,
}

/// A notification's body, as POSTed to our `notify_url`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    pub id: String,
    pub create_time: String,
    pub resource_type: String,
    pub event_type: String,
    #[serde(default)]
    pub summary: String,
    pub resource: EncryptedResource,
}

/// What we check a notification against: our merchant, our app, the platform's keys
/// and our APIv3 key.
#[derive(Debug, Clone)]
pub struct Receiver {
    pub mchid: String,
    pub appid: String,
    pub platform_keys: KeyRing,
    pub api_v3_key: ApiV3Key,
}

impl Notification {
    /// Reads a payment notification: the signature over the raw body first (key by
    /// serial, then signature, then a timestamp within five minutes of `now`), then that
    /// it is a `TRANSACTION.SUCCESS` of an encrypted `transaction`, that the resource
    /// opens under our APIv3 key, and that the transaction is a payment to us
    /// ([`Transaction::payment`]). The notification's `id` comes back beside it.
    pub fn read(
        headers: &Headers,
        body: &[u8],
        receiver: &Receiver,
        now: i64,
    ) -> Result<(String, Payment), WechatError> {
        headers.verify(body, &receiver.platform_keys, now)?;
        let n: Notification = json(body)?;
        let transaction = n.transaction(&receiver.api_v3_key)?;
        Ok((n.id, transaction.payment(&receiver.mchid, &receiver.appid)?))
    }

    /// The transaction inside a (verified) payment notification.
    pub fn transaction(&self, key: &ApiV3Key) -> Result<Transaction, WechatError> {
        if self.event_type != EVENT_TRANSACTION_SUCCESS {
            return Err(WechatError::NotPaymentEvent(self.event_type.clone()));
        }
        if self.resource_type != RESOURCE_TYPE_ENCRYPTED {
            return Err(malformed(format!("resource_type {:?}", self.resource_type)));
        }
        let r = &self.resource;
        if r.algorithm != ALGORITHM_AES_GCM {
            return Err(WechatError::WrongAlgorithm(r.algorithm.clone()));
        }
        if r.original_type != ORIGINAL_TYPE_TRANSACTION {
            return Err(malformed(format!("original_type {:?}", r.original_type)));
        }
        let plaintext = key.decrypt(&r.nonce, &r.associated_data, &r.ciphertext)?;
        json(&plaintext)
    }

    /// A payment notification for `transaction`, encrypted under `key` with `nonce`
    /// (12 characters) and `associated_data` (WeChat Pay sends `transaction`): the
    /// simulator's side.
    pub fn for_transaction(
        id: &str,
        create_time: &str,
        transaction: &Transaction,
        key: &ApiV3Key,
        nonce: &str,
        associated_data: &str,
    ) -> Result<Notification, WechatError> {
        Ok(Notification {
            id: id.to_string(),
            create_time: create_time.to_string(),
            resource_type: RESOURCE_TYPE_ENCRYPTED.to_string(),
            event_type: EVENT_TRANSACTION_SUCCESS.to_string(),
            summary: "支付成功".to_string(),
            resource: EncryptedResource {
                original_type: ORIGINAL_TYPE_TRANSACTION.to_string(),
                algorithm: ALGORITHM_AES_GCM.to_string(),
                ciphertext: key.encrypt(nonce, associated_data, transaction.to_json().as_bytes())?,
                associated_data: associated_data.to_string(),
                nonce: nonce.to_string(),
            },
        })
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// The merchant's acknowledgement of a notification it has recorded: WeChat Pay takes a
/// 200 or a 204 with an empty body; this is the 204.
pub const ACK_STATUS: u16 = 204;

/// The answer to a notification that could not be taken (WeChat Pay sends it again):
/// a 500 and `{"code":"FAIL","message":…}`.
pub fn ack_failure(message: &str) -> (u16, String) {
    (
        500,
        ErrorAnswer {
            code: ACK_FAIL_CODE.to_string(),
            message: message.to_string(),
        }
        .to_json(),
    )
}

/// Whether the merchant took a notification (the simulator's side): any 200 or 204;
/// anything else, whatever the body says, means send it again.
pub fn is_acknowledged(status: u16) -> bool {
    status == 200 || status == 204
}

// ---------------------------------------------------------------------------------------
// Refunds.

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundRequestAmount {
    /// Fen to give back.
    pub refund: i64,
    /// The original payment's total, fen.
    pub total: i64,
    pub currency: String,
}

/// `POST /v3/refund/domestic/refunds`: `refund` of a payment of `total` back to the buyer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundRequest {
    pub out_trade_no: String,
    /// Our refund number: retrying with the same number never refunds twice.
    pub out_refund_no: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify_url: Option<String>,
    pub amount: RefundRequestAmount,
}

impl RefundRequest {
    pub fn new(
        out_trade_no: &str,
        out_refund_no: &str,
        reason: Option<&str>,
        refund: Money,
        total: Money,
    ) -> Result<RefundRequest, WechatError> {
        our_number(out_trade_no, "out_trade_no")?;
        our_number(out_refund_no, "out_refund_no")?;
        if !refund.is_positive() {
            return Err(WechatError::NotPositive(refund.minor()));
        }
        if refund > total {
            return Err(malformed("a refund larger than the payment"));
        }
        Ok(RefundRequest {
            out_trade_no: out_trade_no.to_string(),
            out_refund_no: out_refund_no.to_string(),
            reason: reason.map(str::to_string),
            notify_url: None,
            amount: RefundRequestAmount {
                refund: refund.minor(),
                total: total.minor(),
                currency: CURRENCY_CNY.to_string(),
            },
        })
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn request(&self, merchant: &Merchant, timestamp: i64, nonce: &str) -> Result<SignedRequest, WechatError> {
        signed(
            merchant,
            "POST",
            REFUND_PATH.to_string(),
            self.to_json(),
            timestamp,
            nonce,
        )
    }

    /// Reads a refund request (the simulator's side, after [`Authorization::verify`]):
    /// CNY, a positive refund no larger than the total.
    pub fn read(body: &[u8]) -> Result<RefundRequest, WechatError> {
        bounded(body, BODY_BYTES_MAX)?;
        let r: RefundRequest = json(body)?;
        check_amount(r.amount.refund, &r.amount.currency)?;
        if r.amount.refund > r.amount.total {
            return Err(malformed("a refund larger than the payment"));
        }
        Ok(r)
    }
}

/// `GET /v3/refund/domestic/refunds/{out_refund_no}`, signed.
pub fn refund_query_request(
    merchant: &Merchant,
    out_refund_no: &str,
    timestamp: i64,
    nonce: &str,
) -> Result<SignedRequest, WechatError> {
    our_number(out_refund_no, "out_refund_no")?;
    signed(
        merchant,
        "GET",
        format!("{REFUND_PATH}/{out_refund_no}"),
        String::new(),
        timestamp,
        nonce,
    )
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundAmount {
    pub total: i64,
    pub refund: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payer_total: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payer_refund: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settlement_refund: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settlement_total: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discount_refund: Option<i64>,
    pub currency: String,
}

/// A refund as WeChat Pay answers the refund request and the refund query.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refund {
    pub refund_id: String,
    pub out_refund_no: String,
    #[serde(default)]
    pub transaction_id: String,
    #[serde(default)]
    pub out_trade_no: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_received_account: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_time: Option<String>,
    pub status: String,
    pub amount: RefundAmount,
}

/// Where a refund stands at WeChat Pay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefundStatus {
    /// The money is back with the buyer.
    Success,
    /// Accepted, not yet done: ask again later.
    Processing,
    /// Closed without refunding: the refund must be asked again (a new number).
    Closed,
    /// Stuck at the bank (the buyer's card closed, …): needs a person.
    Abnormal,
}

impl Refund {
    /// Reads the answer about our refund `out_refund_no`: the status, and the refunded
    /// amount in CNY.
    pub fn status(&self, out_refund_no: &str) -> Result<(RefundStatus, Money), WechatError> {
        if self.out_refund_no != out_refund_no {
            return Err(WechatError::OtherOrder(self.out_refund_no.clone()));
        }
        let status = match self.status.as_str() {
            "SUCCESS" => RefundStatus::Success,
            "PROCESSING" => RefundStatus::Processing,
            "CLOSED" => RefundStatus::Closed,
            "ABNORMAL" => RefundStatus::Abnormal,
            other => return Err(malformed(format!("refund status {other:?}"))),
        };
        Ok((status, check_amount(self.amount.refund, &self.amount.currency)?))
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

// ---------------------------------------------------------------------------------------
// The trade bill.

/// `GET /v3/bill/tradebill?bill_date=YYYY-MM-DD&bill_type=ALL`, signed. WeChat Pay
/// makes a day's bill after 10:00 the next day.
pub fn trade_bill_request(
    merchant: &Merchant,
    bill_date: &str,
    timestamp: i64,
    nonce: &str,
) -> Result<SignedRequest, WechatError> {
    bill_date
        .parse::<jiff::civil::Date>()
        .ok()
        .filter(|d| d.to_string() == bill_date)
        .ok_or_else(|| malformed(format!("bill_date {bill_date:?} is not YYYY-MM-DD")))?;
    let path = format!("/v3/bill/tradebill?bill_date={bill_date}&bill_type=ALL");
    signed(merchant, "GET", path, String::new(), timestamp, nonce)
}

/// The answer to a bill request: where to download the bill and its SHA-1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BillAnswer {
    pub hash_type: String,
    pub hash_value: String,
    pub download_url: String,
}

impl BillAnswer {
    /// The answer for `bill` at `download_url` (the simulator's side).
    pub fn for_bill(bill: &[u8], download_url: &str) -> BillAnswer {
        BillAnswer {
            hash_type: HASH_TYPE_SHA1.to_string(),
            hash_value: hex::encode(Sha1::digest(bill)),
            download_url: download_url.to_string(),
        }
    }

    /// The signed `GET` of the bill itself: the download URL's path and query are
    /// signed like any request. Its answer is the file, unsigned: the hash checks it.
    pub fn download_request(
        &self,
        merchant: &Merchant,
        timestamp: i64,
        nonce: &str,
    ) -> Result<SignedRequest, WechatError> {
        let rest = self
            .download_url
            .strip_prefix("https://")
            .or_else(|| self.download_url.strip_prefix("http://"))
            .ok_or_else(|| malformed("download_url is not an http(s) URL"))?;
        let path = rest
            .find('/')
            .map(|i| &rest[i..])
            .ok_or_else(|| malformed("download_url without a path"))?;
        signed(merchant, "GET", path.to_string(), String::new(), timestamp, nonce)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads the downloaded bill: its SHA-1 must be the one this answer gave, then
    /// [`parse_trade_bill`].
    pub fn read_bill(&self, bill: &[u8], mchid: &str) -> Result<Vec<BillPayment>, WechatError> {
        bounded(bill, BILL_BYTES_MAX)?;
        if self.hash_type != HASH_TYPE_SHA1 {
            return Err(WechatError::UnsupportedHash(self.hash_type.clone()));
        }
        let actual = hex::encode(Sha1::digest(bill));
        let given = self.hash_value.to_ascii_lowercase();
        if !bool::from(actual.as_bytes().ct_eq(given.as_bytes())) {
            return Err(WechatError::BadHash);
        }
        parse_trade_bill(bill, mchid)
    }
}

/// One successful payment in a trade bill.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BillPayment {
    /// 交易时间, Beijing time as the bill writes it (`2021-01-28 17:07:11`).
    pub time: String,
    /// 微信订单号.
    pub transaction_id: String,
    /// 商户订单号.
    pub out_trade_no: String,
    /// 应结订单金额: what is settled to us (the order less WeChat Pay's free coupons).
    pub settlement_total: Money,
    /// 订单金额: what the order asked.
    pub total: Money,
}

/// The columns of an `ALL` trade bill, in WeChat Pay's order.
pub const BILL_COLUMNS: [&str; 27] = [
    "交易时间",
    "公众账号ID",
    "商户号",
    "特约商户号",
    "设备号",
    "微信订单号",
    "商户订单号",
    "用户标识",
    "交易类型",
    "交易状态",
    "付款银行",
    "货币种类",
    "应结订单金额",
    "代金券金额",
    "微信退款单号",
    "商户退款单号",
    "退款金额",
    "充值券退款金额",
    "退款类型",
    "退款状态",
    "商品名称",
    "商户数据包",
    "手续费",
    "费率",
    "订单金额",
    "申请退款金额",
    "费率备注",
];
/// The summary's columns, after the detail lines.
pub const BILL_SUMMARY_COLUMNS: [&str; 7] = [
    "总交易单数",
    "应结订单总金额",
    "退款总金额",
    "充值券退款总金额",
    "手续费总金额",
    "订单总金额",
    "申请退款总金额",
];

/// A bill line's fields: each written after a backtick (so that spreadsheet programs
/// keep numbers as text), separated by commas.
fn bill_fields(line: &str) -> Result<Vec<&str>, WechatError> {
    let rest = line
        .strip_prefix('`')
        .ok_or_else(|| malformed(format!("bill line {:?} does not start with a backtick", short(line))))?;
    Ok(rest.split(",`").collect())
}

fn short(line: &str) -> String {
    line.chars().take(40).collect()
}

/// Reads a trade bill's text: the header (columns found by name, as the `SUCCESS` and
/// `REFUND` bills order them differently), the detail lines up to the summary, and the
/// summary's count, which must match the lines read (a cut-off bill is refused). Every
/// line must be our merchant's; the `SUCCESS` lines (payments) come back, in CNY and
/// exact yuan; refund lines (`REFUND`) and revoked ones are left to the refund path.
pub fn parse_trade_bill(bill: &[u8], mchid: &str) -> Result<Vec<BillPayment>, WechatError> {
    bounded(bill, BILL_BYTES_MAX)?;
    let text = std::str::from_utf8(bill).map_err(|_| malformed("the bill is not UTF-8"))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text.lines().map(|l| l.trim_end_matches('\r')).filter(|l| !l.is_empty());
    let header: Vec<&str> = lines
        .next()
        .ok_or_else(|| malformed("an empty bill"))?
        .split(',')
        .collect();
    let column = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .ok_or_else(|| malformed(format!("the bill has no column {name}")))
    };
    let (c_time, c_mchid, c_txn, c_out, c_state, c_currency, c_settle, c_total) = (
        column("交易时间")?,
        column("商户号")?,
        column("微信订单号")?,
        column("商户订单号")?,
        column("交易状态")?,
        column("货币种类")?,
        column("应结订单金额")?,
        column("订单金额")?,
    );
    let mut payments = Vec::new();
    let mut details: u64 = 0;
    let mut summary: Option<Vec<&str>> = None;
    for line in lines.by_ref() {
        if line.starts_with(BILL_SUMMARY_COLUMNS[0]) {
            summary = Some(line.split(',').collect());
            break;
        }
        let f = bill_fields(line)?;
        if f.len() != header.len() {
            return Err(malformed(format!(
                "bill line with {} fields under {} columns",
                f.len(),
                header.len()
            )));
        }
        details += 1;
        if f[c_mchid] != mchid {
            return Err(WechatError::WrongMerchant(f[c_mchid].to_string()));
        }
        if f[c_state] != TRADE_STATE_SUCCESS {
            continue;
        }
        if f[c_currency] != CURRENCY_CNY {
            return Err(WechatError::WrongCurrency(f[c_currency].to_string()));
        }
        let total = Money::parse_yuan(f[c_total])?;
        if !total.is_positive() {
            return Err(WechatError::NotPositive(total.minor()));
        }
        if f[c_txn].is_empty() || f[c_out].is_empty() {
            return Err(malformed("a bill payment without its numbers"));
        }
        payments.push(BillPayment {
            time: f[c_time].to_string(),
            transaction_id: f[c_txn].to_string(),
            out_trade_no: f[c_out].to_string(),
            settlement_total: Money::parse_yuan(f[c_settle])?,
            total,
        });
    }
    let summary_header = summary.ok_or_else(|| malformed("the bill has no summary: cut off?"))?;
    let count_at = summary_header
        .iter()
        .position(|h| *h == BILL_SUMMARY_COLUMNS[0])
        .ok_or_else(|| malformed("the bill's summary has no count"))?;
    let values = bill_fields(
        lines
            .next()
            .ok_or_else(|| malformed("the bill's summary has no values"))?,
    )?;
    let count: u64 = values
        .get(count_at)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| malformed("the bill's count is not a number"))?;
    if count != details {
        return Err(malformed(format!("the bill says {count} lines and has {details}")));
    }
    Ok(payments)
}

/// A successful payment to write into a simulated bill.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BillLine {
    pub time: String,
    pub appid: String,
    pub mchid: String,
    pub transaction_id: String,
    pub out_trade_no: String,
    pub openid: String,
    pub total: Money,
    pub description: String,
}

/// A day's `ALL` trade bill as WeChat Pay writes it (the simulator's side): the header,
/// one backticked line per payment (no fee: the sandbox charges none), the summary.
pub fn write_trade_bill(lines: &[BillLine]) -> Result<String, WechatError> {
    let mut out = BILL_COLUMNS.join(",");
    out.push_str("\r\n");
    let mut sum = Money::ZERO;
    for l in lines {
        sum = sum.checked_add(l.total)?;
        let total = l.total.to_string();
        let fields: [&str; 27] = [
            &l.time,
            &l.appid,
            &l.mchid,
            "0",
            "",
            &l.transaction_id,
            &l.out_trade_no,
            &l.openid,
            TRADE_TYPE_NATIVE,
            TRADE_STATE_SUCCESS,
            "OTHERS",
            CURRENCY_CNY,
            &total,
            "0.00",
            "0",
            "0",
            "0.00",
            "0.00",
            "",
            "",
            &l.description,
            "",
            "0.00000",
            "0.00%",
            &total,
            "0.00",
            "",
        ];
        out.push_str(&backticked(&fields));
        out.push_str("\r\n");
    }
    out.push_str(&BILL_SUMMARY_COLUMNS.join(","));
    out.push_str("\r\n");
    let sum = sum.to_string();
    let count = lines.len().to_string();
    out.push_str(&backticked(&[&count, &sum, "0.00", "0.00", "0.00000", &sum, "0.00"]));
    out.push_str("\r\n");
    Ok(out)
}

fn backticked(fields: &[&str]) -> String {
    // A comma inside a value would split it on reading; WeChat Pay writes none there.
    fields
        .iter()
        .map(|f| format!("`{}", f.replace(',', "，")))
        .collect::<Vec<_>>()
        .join(",")
}
