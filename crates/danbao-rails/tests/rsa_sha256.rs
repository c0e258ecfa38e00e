//! SHA256withRSA against OpenSSL: the signature is deterministic (PKCS#1 v1.5), so ours
//! must equal the one `openssl dgst -sha256 -sign` made, byte for byte.

#![allow(clippy::unwrap_used)]

use base64::Engine as _;
use danbao_rails::rsa_sha256::{SigningKey, VerifyingKey};

const PRIVATE_PKCS8: &str = include_str!("data/test-rsa-private.pem");
const PRIVATE_PKCS1: &str = include_str!("data/test-rsa-private-pkcs1.pem");
const PUBLIC_SPKI: &str = include_str!("data/test-rsa-public.pem");
const MESSAGE: &str = "a=1&b=二&c=3";
/// `printf 'a=1&b=二&c=3' | openssl dgst -sha256 -sign test-rsa-private.pem | base64 -w0`
const OPENSSL_SIGNATURE: &str = "BEKePqKbqVwlxpW8vwuOwCSOpSkqAXkUqDP2VW6i0G+lmoKZvf2w1nZDuS6iAZVq6nWlIGlJ1SF1TlfizIdItbhPh05cwOS4zgOOVSyAo4Gf3kCvjg21ZRI5Bnb4P2r6pWst6UX6zHAd5Y//jX3IZM93NvKSlrbmzCk26WTiMZIehUsGEpEj3kQOHgh8WXuKNnJh+WZ7kfQLVrTpqvE6i5xki+As/vbSqIKZh/Tujnah2j02xYORnurcQkrybbbLBBaOzxiqw2Y9/9YjCVGULxj80zmFqhbL1ArgMFW2qcbCVa52ygQA1EnpPCeiyYrZo7YsIIq6M+3dW9V9dNE/kw==";

/// The PEM's body on one line: how Alipay's key tool and console print keys.
fn bare(pem: &str) -> String {
    pem.lines().filter(|l| !l.starts_with("-----")).collect()
}

#[test]
fn signs_as_openssl_does_from_every_private_key_format() {
    for text in [
        PRIVATE_PKCS8.to_string(),
        PRIVATE_PKCS1.to_string(),
        bare(PRIVATE_PKCS8),
        bare(PRIVATE_PKCS1),
    ] {
        let key = SigningKey::from_text(&text).unwrap();
        assert_eq!(key.sign_base64(MESSAGE.as_bytes()).unwrap(), OPENSSL_SIGNATURE);
    }
}

#[test]
fn verifies_openssl_signatures_from_every_public_key_format() {
    let public = VerifyingKey::from_text(PUBLIC_SPKI).unwrap();
    for key in [
        public.clone(),
        VerifyingKey::from_text(&bare(PUBLIC_SPKI)).unwrap(),
        VerifyingKey::from_text(&public.to_spki_base64()).unwrap(),
        VerifyingKey::from_text(&public.to_spki_pem()).unwrap(),
        SigningKey::from_text(PRIVATE_PKCS8).unwrap().verifying_key(),
    ] {
        assert_eq!(key, public);
        assert!(key.verifies(MESSAGE.as_bytes(), OPENSSL_SIGNATURE));
    }
    assert_eq!(bare(PUBLIC_SPKI), public.to_spki_base64());
}

#[test]
fn refuses_a_changed_message_signature_or_key() {
    let key = VerifyingKey::from_text(PUBLIC_SPKI).unwrap();
    assert!(!key.verifies(b"a=1&b=2&c=3", OPENSSL_SIGNATURE));
    let mut sig = base64::engine::general_purpose::STANDARD
        .decode(OPENSSL_SIGNATURE)
        .unwrap();
    sig[10] ^= 1;
    let flipped = base64::engine::general_purpose::STANDARD.encode(sig);
    assert!(!key.verifies(MESSAGE.as_bytes(), &flipped));
    for junk in ["", "not base64!", "AAAA"] {
        assert!(!key.verifies(MESSAGE.as_bytes(), junk));
    }
    let (other, pem) = SigningKey::generate().unwrap();
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
    assert!(!other.verifying_key().verifies(MESSAGE.as_bytes(), OPENSSL_SIGNATURE));
    let theirs = other.sign_base64(MESSAGE.as_bytes()).unwrap();
    assert!(other.verifying_key().verifies(MESSAGE.as_bytes(), &theirs));
    assert!(!key.verifies(MESSAGE.as_bytes(), &theirs));
}

#[test]
fn refuses_what_is_not_a_key() {
    assert!(SigningKey::from_text("").is_err());
    assert!(SigningKey::from_text(PUBLIC_SPKI).is_err());
    assert!(VerifyingKey::from_text("bm90IGEga2V5").is_err());
    assert!(VerifyingKey::from_text("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----").is_err());
}
