//! SHA256withRSA (RSASSA-PKCS1-v1_5 over SHA-256), the signature of Alipay's RSA2,
//! WeChat Pay v3 and 易支付 V2. `ring` signs and verifies (STACK.md: `rsa` has a timing
//! advisory on private-key operations); the `rsa` crate only reads and writes the key
//! formats the rails hand out and generates the simulators' keys.
//!
//! Keys come as the rails' tools print them: PEM (PKCS#8 `PRIVATE KEY`, PKCS#1
//! `RSA PRIVATE KEY`, SPKI `PUBLIC KEY`, PKCS#1 `RSA PUBLIC KEY`) or the bare base64 of
//! the DER that Alipay's key tool and console show (PKCS#8 or PKCS#1 private, SPKI public).

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use ring::signature::{RsaKeyPair, UnparsedPublicKey, RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_SHA256};
use rsa::pkcs1::{DecodeRsaPrivateKey, DecodeRsaPublicKey, EncodeRsaPublicKey};
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey, LineEnding};

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("not an RSA private key (PKCS#8 or PKCS#1, PEM or base64 DER): {0}")]
    BadPrivateKey(String),
    #[error("not an RSA public key (SPKI or PKCS#1, PEM or base64 DER): {0}")]
    BadPublicKey(String),
    #[error("could not sign: {0}")]
    Signing(String),
}

/// A merchant's (or a simulated gateway's) private key.
pub struct SigningKey {
    pair: RsaKeyPair,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey(..)")
    }
}

/// The bytes of a key given as PEM or as bare base64 of its DER.
fn der_of(text: &str) -> Option<Vec<u8>> {
    let text = text.trim();
    if text.starts_with("-----BEGIN") {
        return None;
    }
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    STANDARD.decode(compact).ok()
}

impl SigningKey {
    /// Reads a private key in any of the formats the rails' tools print.
    pub fn from_text(text: &str) -> Result<SigningKey, KeyError> {
        let key = match der_of(text) {
            Some(der) => rsa::RsaPrivateKey::from_pkcs8_der(&der).or_else(|_| rsa::RsaPrivateKey::from_pkcs1_der(&der)),
            None => rsa::RsaPrivateKey::from_pkcs8_pem(text.trim())
                .or_else(|_| rsa::RsaPrivateKey::from_pkcs1_pem(text.trim())),
        }
        .map_err(|e| KeyError::BadPrivateKey(e.to_string()))?;
        let pkcs8 = key.to_pkcs8_der().map_err(|e| KeyError::BadPrivateKey(e.to_string()))?;
        let pair = RsaKeyPair::from_pkcs8(pkcs8.as_bytes()).map_err(|e| KeyError::BadPrivateKey(e.to_string()))?;
        Ok(SigningKey { pair })
    }

    /// A fresh 2048-bit key and its PKCS#8 PEM: the simulators' own keys, made at start.
    pub fn generate() -> Result<(SigningKey, String), KeyError> {
        let key =
            rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048).map_err(|e| KeyError::Signing(e.to_string()))?;
        let pem = key
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|e| KeyError::Signing(e.to_string()))?
            .to_string();
        Ok((SigningKey::from_text(&pem)?, pem))
    }

    /// The signature of `message`, base64 (standard alphabet, padded), as every rail sends it.
    pub fn sign_base64(&self, message: &[u8]) -> Result<String, KeyError> {
        let mut sig = vec![0u8; self.pair.public().modulus_len()];
        self.pair
            .sign(&RSA_PKCS1_SHA256, &ring::rand::SystemRandom::new(), message, &mut sig)
            .map_err(|e| KeyError::Signing(e.to_string()))?;
        Ok(STANDARD.encode(sig))
    }

    pub fn verifying_key(&self) -> VerifyingKey {
        VerifyingKey {
            pkcs1: self.pair.public().as_ref().to_vec(),
        }
    }
}

/// A public key that signatures are checked against (the gateway's, or a merchant's).
#[derive(Clone, PartialEq, Eq)]
pub struct VerifyingKey {
    /// PKCS#1 RSAPublicKey DER, the form ring takes.
    pkcs1: Vec<u8>,
}

impl std::fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "VerifyingKey({})",
            &self.to_spki_base64()[..16.min(self.to_spki_base64().len())]
        )
    }
}

impl VerifyingKey {
    /// Reads a public key in any of the formats the rails hand out.
    pub fn from_text(text: &str) -> Result<VerifyingKey, KeyError> {
        let key = match der_of(text) {
            Some(der) => {
                rsa::RsaPublicKey::from_public_key_der(&der).or_else(|_| rsa::RsaPublicKey::from_pkcs1_der(&der))
            }
            None => rsa::RsaPublicKey::from_public_key_pem(text.trim())
                .or_else(|_| rsa::RsaPublicKey::from_pkcs1_pem(text.trim())),
        }
        .map_err(|e| KeyError::BadPublicKey(e.to_string()))?;
        let pkcs1 = key.to_pkcs1_der().map_err(|e| KeyError::BadPublicKey(e.to_string()))?;
        Ok(VerifyingKey {
            pkcs1: pkcs1.as_bytes().to_vec(),
        })
    }

    /// Whether `signature_base64` is this key's SHA256withRSA signature over `message`.
    /// A signature that is not base64 is simply not valid.
    pub fn verifies(&self, message: &[u8], signature_base64: &str) -> bool {
        let Ok(sig) = STANDARD.decode(signature_base64.trim()) else {
            return false;
        };
        UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &self.pkcs1)
            .verify(message, &sig)
            .is_ok()
    }

    /// The key as Alipay's console shows it: base64 of the SPKI DER, one line.
    pub fn to_spki_base64(&self) -> String {
        self.spki_der().map(|der| STANDARD.encode(der)).unwrap_or_default()
    }

    /// The key as a `PUBLIC KEY` PEM file.
    pub fn to_spki_pem(&self) -> String {
        rsa::RsaPublicKey::from_pkcs1_der(&self.pkcs1)
            .ok()
            .and_then(|k| k.to_public_key_pem(LineEnding::LF).ok())
            .unwrap_or_default()
    }

    fn spki_der(&self) -> Option<Vec<u8>> {
        let key = rsa::RsaPublicKey::from_pkcs1_der(&self.pkcs1).ok()?;
        Some(key.to_public_key_der().ok()?.as_bytes().to_vec())
    }
}
