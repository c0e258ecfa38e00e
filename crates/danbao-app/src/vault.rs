//! Secrets kept in files under the data directory, never in the database:
//! the AES-256-GCM key that encrypts card keys at rest, and the HMAC key that makes
//! guest order links and duplicate-key fingerprints.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

type HmacSha256 = Hmac<Sha256>;

#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("cannot read or write the key file {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("the key file {0} is not 32 bytes of hex")]
    BadKeyFile(PathBuf),
    #[error("a stored card key cannot be decrypted (wrong key id {0}, or tampered)")]
    Decrypt(String),
}

pub struct Vault {
    key_id: String,
    cipher: Aes256Gcm,
    link_secret: [u8; 32],
    /// Signs the evidence log's checkpoints (Ed25519).
    log_signer: danbao_evidence::LogSigner,
}

/// The paths of the key files, so the server can print where they are.
pub struct KeyFiles {
    pub encryption_key: PathBuf,
    pub link_secret: PathBuf,
    pub evidence_signing_key: PathBuf,
    pub created: bool,
}

/// Creates a directory (and its parents) readable by this user alone (0700 on Unix),
/// so that secrets never sit in a world-readable place, not even for a moment.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// Creates a new file readable and writable by this user alone (0600 on Unix) from the
/// start, and writes `bytes` to it; fails if it exists.
pub fn create_private_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Reads a 32-byte hex key file, creating it (mode 0600, in a 0700 directory) on first use.
pub fn load_or_create(path: &Path) -> Result<([u8; 32], bool), VaultError> {
    let io = |source| VaultError::Io {
        path: path.to_path_buf(),
        source,
    };
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let bytes = hex::decode(text.trim()).map_err(|_| VaultError::BadKeyFile(path.to_path_buf()))?;
            let key: [u8; 32] = bytes
                .try_into()
                .map_err(|_| VaultError::BadKeyFile(path.to_path_buf()))?;
            Ok((key, false))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut key = [0u8; 32];
            rand::rngs::OsRng.fill_bytes(&mut key);
            if let Some(dir) = path.parent() {
                create_private_dir(dir).map_err(io)?;
            }
            create_private_file(path, hex::encode(key).as_bytes()).map_err(io)?;
            Ok((key, true))
        }
        Err(e) => Err(io(e)),
    }
}

impl Vault {
    /// Loads the keys from `dir`, generating them on first start.
    pub fn open(dir: &Path) -> Result<(Vault, KeyFiles), VaultError> {
        let enc_path = dir.join("card-key-encryption.key");
        let link_path = dir.join("link-secret.key");
        let log_path = dir.join("evidence-log-signing.key");
        let (enc, created_enc) = load_or_create(&enc_path)?;
        let (link, created_link) = load_or_create(&link_path)?;
        let (log, created_log) = load_or_create(&log_path)?;
        let mut vault = Vault::from_keys(enc, link);
        vault.log_signer = danbao_evidence::LogSigner::from_secret_bytes(crate::evidence::LOG_NAME, &log)
            .map_err(|_| VaultError::BadKeyFile(log_path.clone()))?;
        Ok((
            vault,
            KeyFiles {
                encryption_key: enc_path,
                link_secret: link_path,
                evidence_signing_key: log_path,
                created: created_enc || created_link || created_log,
            },
        ))
    }

    /// A vault from key material in memory (tests). The log signing key is derived from
    /// the link secret here; `open` keeps it in a file of its own.
    pub fn from_keys(encryption_key: [u8; 32], link_secret: [u8; 32]) -> Vault {
        // The key id is a fingerprint of the key, so rotated keys can be told apart.
        let key_id = hex::encode(&Sha256::digest(encryption_key)[..8]);
        let derived: [u8; 32] = Sha256::new()
            .chain_update(b"danbao evidence log key\n")
            .chain_update(link_secret)
            .finalize()
            .into();
        // A 32-byte Ed25519 seed is always valid; the name is a constant that parses.
        let log_signer = match danbao_evidence::LogSigner::from_secret_bytes(crate::evidence::LOG_NAME, &derived) {
            Ok(s) => s,
            Err(e) => unreachable!("constant log name is valid: {e}"),
        };
        Vault {
            key_id,
            cipher: Aes256Gcm::new(&encryption_key.into()),
            link_secret,
            log_signer,
        }
    }

    pub fn log_signer(&self) -> &danbao_evidence::LogSigner {
        &self.log_signer
    }

    /// Encrypts a card key; returns (key id, nonce hex, ciphertext hex).
    pub fn encrypt(&self, plaintext: &str) -> Result<(String, String, String), VaultError> {
        let mut nonce = [0u8; 12];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let ct = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce), plaintext.as_bytes())
            .map_err(|_| VaultError::Decrypt(self.key_id.clone()))?;
        Ok((self.key_id.clone(), hex::encode(nonce), hex::encode(ct)))
    }

    pub fn decrypt(&self, key_id: &str, nonce_hex: &str, ciphertext_hex: &str) -> Result<String, VaultError> {
        let fail = || VaultError::Decrypt(key_id.to_string());
        if key_id != self.key_id {
            return Err(fail());
        }
        let nonce = hex::decode(nonce_hex).map_err(|_| fail())?;
        if nonce.len() != 12 {
            return Err(fail());
        }
        let ct = hex::decode(ciphertext_hex).map_err(|_| fail())?;
        let pt = self
            .cipher
            .decrypt(Nonce::from_slice(&nonce), ct.as_slice())
            .map_err(|_| fail())?;
        String::from_utf8(pt).map_err(|_| fail())
    }

    fn mac(&self, purpose: &str, data: &str) -> String {
        // HMAC accepts any key length, so new_from_slice cannot fail for 32 bytes.
        match <HmacSha256 as Mac>::new_from_slice(&self.link_secret) {
            Ok(mut m) => {
                m.update(purpose.as_bytes());
                m.update(b"\n");
                m.update(data.as_bytes());
                hex::encode(m.finalize().into_bytes())
            }
            Err(_) => String::new(),
        }
    }

    /// The secret link token that lets a guest see their order (查单 by link).
    pub fn order_access_token(&self, order_id: &str) -> String {
        self.mac("order-access", order_id)
    }

    pub fn check_order_access_token(&self, order_id: &str, token: &str) -> bool {
        use subtle::ConstantTimeEq;
        let expected = self.order_access_token(order_id);
        !token.is_empty() && bool::from(expected.as_bytes().ct_eq(token.as_bytes()))
    }

    /// The anti-forgery token a page puts into its forms: a MAC of what binds the form to
    /// one browser (its pre-session secret and session token), so another site cannot
    /// know it.
    pub fn form_token(&self, binding: &str) -> String {
        self.mac("form", binding)
    }

    pub fn check_form_token(&self, binding: &str, token: &str) -> bool {
        use subtle::ConstantTimeEq;
        let expected = self.form_token(binding);
        !token.is_empty() && bool::from(expected.as_bytes().ct_eq(token.as_bytes()))
    }

    /// A keyed fingerprint of a card key within its product: finds duplicates without
    /// storing anything a database thief could use to guess keys.
    pub fn card_key_fingerprint(&self, product_id: &str, key: &str) -> String {
        self.mac(&format!("card-key:{product_id}"), key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encrypts_round_trip_and_detects_tampering() {
        let v = Vault::from_keys([7; 32], [9; 32]);
        let (kid, nonce, ct) = v.encrypt("CARD-1234").unwrap_or_else(|e| panic!("{e}"));
        assert!(!ct.contains("CARD"));
        assert_eq!(v.decrypt(&kid, &nonce, &ct).ok(), Some("CARD-1234".to_string()));
        let mut bad = ct.clone().into_bytes();
        bad[0] = if bad[0] == b'0' { b'1' } else { b'0' };
        let bad = String::from_utf8(bad).unwrap_or_default();
        assert!(v.decrypt(&kid, &nonce, &bad).is_err());
        let other = Vault::from_keys([8; 32], [9; 32]);
        assert!(other.decrypt(&kid, &nonce, &ct).is_err());
    }

    #[test]
    fn access_tokens_are_per_order() {
        let v = Vault::from_keys([7; 32], [9; 32]);
        let t = v.order_access_token("o1");
        assert!(v.check_order_access_token("o1", &t));
        assert!(!v.check_order_access_token("o2", &t));
        assert!(!v.check_order_access_token("o1", ""));
    }

    #[test]
    fn form_tokens_are_per_binding_and_apart_from_access_tokens() {
        let v = Vault::from_keys([7; 32], [9; 32]);
        let t = v.form_token("browser-1\n");
        assert!(v.check_form_token("browser-1\n", &t));
        assert!(!v.check_form_token("browser-2\n", &t));
        assert!(!v.check_form_token("browser-1\n", ""));
        assert!(!v.check_form_token("browser-1\n", &t[..t.len() - 1]));
        // The same text under another purpose makes another MAC.
        assert_ne!(t, v.order_access_token("browser-1\n"));
        assert_ne!(t, Vault::from_keys([7; 32], [8; 32]).form_token("browser-1\n"));
    }

    #[cfg(unix)]
    #[test]
    fn secrets_are_private_from_the_start() {
        use std::os::unix::fs::PermissionsExt;
        let root = std::env::temp_dir().join(format!("danbao-vault-{}", uuid::Uuid::new_v4().simple()));
        let keys = root.join("data").join("keys");
        let (_, files) = Vault::open(&keys).unwrap_or_else(|e| panic!("{e}"));
        let mode = |p: &Path| {
            std::fs::metadata(p)
                .map(|m| m.permissions().mode() & 0o777)
                .unwrap_or(0)
        };
        assert_eq!(mode(&keys), 0o700);
        assert_eq!(mode(&root.join("data")), 0o700);
        for f in std::fs::read_dir(&keys).unwrap_or_else(|e| panic!("{e}")) {
            let path = f.unwrap_or_else(|e| panic!("{e}")).path();
            assert_eq!(mode(&path), 0o600, "{}", path.display());
        }
        assert!(files.created);
        // A key that exists is read, never rewritten.
        let (_, again) = Vault::open(&keys).unwrap_or_else(|e| panic!("{e}"));
        assert!(!again.created);
        let _ = std::fs::remove_dir_all(&root);
    }
}
