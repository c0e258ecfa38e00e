//! Checkpoints (<https://c2sp.org/tlog-checkpoint>) signed as C2SP signed notes
//! (<https://c2sp.org/signed-note>) with Ed25519.
//!
//! A signed checkpoint looks like this:
//!
//! ```text
//! danbao.dev/evidence-log
//! 1042
//! sFodV/vSp5O8n9a8QpW6PRY97tfOSW5bsc2Xl/EQi08=
//!
//! — danbao.dev/evidence-log Az3grl…base64…==
//! ```
//!
//! - The body is the origin line, the tree size in decimal (no leading zeros), the root
//!   hash in standard base64, each ending in `\n`. Danbao emits no extension lines and
//!   this verifier refuses them.
//! - After a blank line, each signature line is `— <key name> <base64>` (U+2014, a
//!   space), the base64 covering the 4-byte key hash followed by the 64-byte Ed25519
//!   signature of the body bytes.
//! - Key hash: the first 4 bytes of `SHA-256(key name ‖ "\n" ‖ 0x01 ‖ public key)`.
//! - Verifier key (vkey): `<name>+<key hash, 8 lowercase hex>+<base64(0x01 ‖ public key)>`.
//!
//! Opening a note requires exactly one valid signature by the verifier's key. Lines by
//! other keys (a witness's cosignature, say) are skipped, as the signed-note spec says;
//! a note with no line by our key is refused, as is a repeated or invalid one.

use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use rand::{CryptoRng, RngCore};
use sha2::{Digest, Sha256};

use crate::hash::Hash;
use crate::util::{decode_b64_canonical, decode_b64_hash, encode_b64, parse_canonical_u64};

/// The signed-note algorithm byte for Ed25519.
const ALG_ED25519: u8 = 0x01;
/// The signature-line prefix: EM DASH (U+2014) and a space.
pub(crate) const SIG_PREFIX: &str = "\u{2014} ";
/// Checkpoints are a few hundred bytes; anything this large is not ours.
pub const MAX_NOTE_LEN: usize = 16 * 1024;
/// Bounds the work on a hostile note (Go's `note` package uses the same limit).
pub const MAX_SIGNATURES: usize = 100;
const MAX_KEY_NAME_LEN: usize = 256;

/// What was wrong with a key, a note or a checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    #[error("key name must be non-empty, at most 256 bytes, without spaces, control characters or '+'")]
    InvalidKeyName,
    #[error("origin must be non-empty and free of control characters")]
    InvalidOrigin,
    #[error("verifier key: {0}")]
    MalformedVkey(&'static str),
    #[error("secret key: {0}")]
    MalformedSecretKey(&'static str),
    /// A log key is Ed25519 (0x01), a witness's cosignature key `cosignature/v1` (0x04):
    /// the one given where the other is expected is refused by its algorithm byte.
    #[error("signature algorithm {got:#04x} where {expected:#04x} is expected (0x01: a log's Ed25519 key, 0x04: a witness's cosignature/v1 key)")]
    UnsupportedAlgorithm { got: u8, expected: u8 },
    #[error("key hash in the key text does not match the key")]
    KeyHashMismatch,
    #[error("note is longer than {max} bytes")]
    TooLarge { max: usize },
    #[error("note contains a control character other than newline")]
    ControlCharacter,
    #[error("note has no blank line before its signatures")]
    MissingSignatureBlock,
    #[error("malformed signature line {line}")]
    MalformedSignatureLine { line: usize },
    #[error("note has more than {max} signatures")]
    TooManySignatures { max: usize },
    #[error("note carries the log key's signature more than once")]
    DuplicateSignature,
    #[error("note carries no signature by key {name} (only unknown keys, or none)")]
    NoKnownSignature { name: String },
    #[error("the signature by key {name} does not verify")]
    InvalidSignature { name: String },
    #[error("checkpoint body: {0}")]
    MalformedBody(&'static str),
    #[error("checkpoint origin {got:?} is not the expected {expected:?}")]
    OriginMismatch { expected: String, got: String },
}

pub(crate) fn check_key_name(name: &str) -> Result<(), NoteError> {
    let ok = !name.is_empty()
        && name.len() <= MAX_KEY_NAME_LEN
        && !name.contains('+')
        && !name.chars().any(|c| c.is_whitespace() || c.is_control());
    if ok {
        Ok(())
    } else {
        Err(NoteError::InvalidKeyName)
    }
}

fn key_hash(name: &str, public: &VerifyingKey) -> u32 {
    key_hash_for(name, ALG_ED25519, public)
}

/// The 4-byte key ID: `SHA-256(name ‖ "\n" ‖ algorithm byte ‖ public key)[:4]`.
pub(crate) fn key_hash_for(name: &str, alg: u8, public: &VerifyingKey) -> u32 {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update(b"\n");
    h.update([alg]);
    h.update(public.as_bytes());
    let digest = h.finalize();
    u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]])
}

/// `PRIVATE+KEY+<name>+<key hash hex>+<base64(alg ‖ secret key)>`, Go `note`'s private-key
/// form (alg 0x01 for a log key, 0x04 for a cosignature key).
pub(crate) fn format_skey(name: &str, hash: u32, alg: u8, secret: &[u8; 32]) -> String {
    let mut bytes = Vec::with_capacity(33);
    bytes.push(alg);
    bytes.extend_from_slice(secret);
    format!("PRIVATE+KEY+{name}+{hash:08x}+{}", encode_b64(&bytes))
}

/// Parses [`format_skey`] text (surrounding whitespace allowed, for files): the name, the
/// key hash text and the secret, after checking the algorithm byte. The caller rebuilds
/// the key and must compare its hash with the text's.
pub(crate) fn parse_skey(text: &str, alg: u8) -> Result<(&str, &str, [u8; 32]), NoteError> {
    let rest = text
        .trim()
        .strip_prefix("PRIVATE+KEY+")
        .ok_or(NoteError::MalformedSecretKey("missing PRIVATE+KEY+ prefix"))?;
    // The base64 key may itself contain '+': split off name and hash only.
    let mut parts = rest.splitn(3, '+');
    let (Some(name), Some(hash), Some(b64), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(NoteError::MalformedSecretKey("expected name+hash+key"));
    };
    let bytes = decode_b64_canonical(b64).ok_or(NoteError::MalformedSecretKey("key is not base64"))?;
    let (&got, secret) = bytes
        .split_first()
        .ok_or(NoteError::MalformedSecretKey("key is empty"))?;
    if got != alg {
        return Err(NoteError::UnsupportedAlgorithm { got, expected: alg });
    }
    let secret: [u8; 32] = secret
        .try_into()
        .map_err(|_| NoteError::MalformedSecretKey("Ed25519 secret key must be 32 bytes"))?;
    Ok((name, hash, secret))
}

/// `<name>+<key hash hex>+<base64(alg ‖ public key)>`, the signed-note verifier key.
pub(crate) fn format_vkey(name: &str, hash: u32, alg: u8, public: &VerifyingKey) -> String {
    let mut bytes = Vec::with_capacity(33);
    bytes.push(alg);
    bytes.extend_from_slice(public.as_bytes());
    format!("{name}+{hash:08x}+{}", encode_b64(&bytes))
}

/// Parses [`format_vkey`] text for algorithm `alg`, checking the key hash: name, hash, key.
pub(crate) fn parse_vkey(text: &str, alg: u8) -> Result<(&str, u32, VerifyingKey), NoteError> {
    // The base64 key may itself contain '+': split off name and hash only.
    let mut parts = text.splitn(3, '+');
    let (Some(name), Some(hash), Some(b64), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(NoteError::MalformedVkey("expected name+hash+key"));
    };
    check_key_name(name)?;
    if hash.len() != 8 || !hash.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(NoteError::MalformedVkey("key hash must be 8 lowercase hex characters"));
    }
    let bytes = decode_b64_canonical(b64).ok_or(NoteError::MalformedVkey("key is not canonical base64"))?;
    let (&got, public) = bytes.split_first().ok_or(NoteError::MalformedVkey("key is empty"))?;
    if got != alg {
        return Err(NoteError::UnsupportedAlgorithm { got, expected: alg });
    }
    let public: [u8; 32] = public
        .try_into()
        .map_err(|_| NoteError::MalformedVkey("Ed25519 public key must be 32 bytes"))?;
    let key = VerifyingKey::from_bytes(&public).map_err(|_| NoteError::MalformedVkey("not an Ed25519 public key"))?;
    let computed = key_hash_for(name, alg, &key);
    if format!("{computed:08x}") != hash {
        return Err(NoteError::KeyHashMismatch);
    }
    Ok((name, computed, key))
}

/// The log's signing key: a key name and an Ed25519 secret key. Keep it in a file, not
/// in the database (SPEC §11). `Debug` does not show the secret.
#[derive(Clone)]
pub struct LogSigner {
    name: String,
    hash: u32,
    key: SigningKey,
}

impl std::fmt::Debug for LogSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogSigner")
            .field("name", &self.name)
            .field("key_hash", &format_args!("{:08x}", self.hash))
            .finish_non_exhaustive()
    }
}

impl LogSigner {
    /// A new random key named `name` (by C2SP convention, the log's origin).
    pub fn generate<R: RngCore + CryptoRng + ?Sized>(name: &str, rng: &mut R) -> Result<Self, NoteError> {
        let mut seed = [0u8; 32];
        rng.fill_bytes(&mut seed);
        Self::from_secret_bytes(name, &seed)
    }

    /// Rebuilds the signer from its 32-byte Ed25519 secret key.
    pub fn from_secret_bytes(name: &str, secret: &[u8; 32]) -> Result<Self, NoteError> {
        check_key_name(name)?;
        let key = SigningKey::from_bytes(secret);
        let hash = key_hash(name, &key.verifying_key());
        Ok(Self {
            name: name.to_owned(),
            hash,
            key,
        })
    }

    /// The 32-byte Ed25519 secret key, to store in a file.
    pub fn to_secret_bytes(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    /// The whole signer as one line, Go `note`'s private-key form:
    /// `PRIVATE+KEY+<name>+<key hash hex>+<base64(0x01 ‖ secret key)>`.
    pub fn to_skey(&self) -> String {
        format_skey(&self.name, self.hash, ALG_ED25519, &self.key.to_bytes())
    }

    /// Parses [`LogSigner::to_skey`] output (surrounding whitespace allowed, for files).
    pub fn from_skey(text: &str) -> Result<Self, NoteError> {
        let (name, hash, secret) = parse_skey(text, ALG_ED25519)?;
        let signer = Self::from_secret_bytes(name, &secret)?;
        if format!("{:08x}", signer.hash) != hash {
            return Err(NoteError::KeyHashMismatch);
        }
        Ok(signer)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The verifier key text: `<name>+<key hash hex>+<base64(0x01 ‖ public key)>`.
    pub fn vkey(&self) -> String {
        self.verifier().to_vkey()
    }

    /// The matching verifier (expecting origin = key name).
    pub fn verifier(&self) -> LogVerifier {
        LogVerifier {
            name: self.name.clone(),
            hash: self.hash,
            key: self.key.verifying_key(),
            origin: self.name.clone(),
        }
    }

    /// Signs any note text (not only checkpoints): returns `text`, a blank line and one
    /// signature line. The text must be non-empty, end in a newline, have no empty line
    /// and no control character other than newline, so that the note opens again.
    pub fn sign_note(&self, text: &str) -> Result<String, NoteError> {
        if text.len() > MAX_NOTE_LEN {
            return Err(NoteError::TooLarge { max: MAX_NOTE_LEN });
        }
        if text.chars().any(|c| c.is_control() && c != '\n') {
            return Err(NoteError::ControlCharacter);
        }
        if !text.ends_with('\n') || text.starts_with('\n') || text.contains("\n\n") {
            return Err(NoteError::MalformedBody(
                "note text must be non-empty lines, each ending in a newline",
            ));
        }
        Ok(format!("{text}\n{}", self.signature_line(text)))
    }

    /// One signature line (with its final newline) over `body`.
    fn signature_line(&self, body: &str) -> String {
        let signature: Signature = self.key.sign(body.as_bytes());
        let mut bytes = Vec::with_capacity(68);
        bytes.extend_from_slice(&self.hash.to_be_bytes());
        bytes.extend_from_slice(&signature.to_bytes());
        format!("{SIG_PREFIX}{} {}\n", self.name, encode_b64(&bytes))
    }
}

/// Verifies notes signed by one log key, and checks the checkpoint's origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogVerifier {
    name: String,
    hash: u32,
    key: VerifyingKey,
    origin: String,
}

impl LogVerifier {
    /// Parses a vkey `<name>+<hash>+<base64(0x01 ‖ key)>`. The expected checkpoint
    /// origin defaults to the key name (the C2SP convention); see
    /// [`LogVerifier::with_origin`].
    pub fn from_vkey(text: &str) -> Result<Self, NoteError> {
        let (name, hash, key) = parse_vkey(text, ALG_ED25519)?;
        Ok(Self {
            name: name.to_owned(),
            hash,
            key,
            origin: name.to_owned(),
        })
    }

    /// Expect checkpoints with this origin instead of the key name.
    pub fn with_origin(mut self, origin: &str) -> Self {
        origin.clone_into(&mut self.origin);
        self
    }

    pub fn to_vkey(&self) -> String {
        format_vkey(&self.name, self.hash, ALG_ED25519, &self.key)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn key_hash(&self) -> u32 {
        self.hash
    }

    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Checks the note's framing and its signature by this key; returns the body text
    /// (ending in `\n`).
    pub fn open_note<'a>(&self, note: &'a str) -> Result<&'a str, NoteError> {
        if note.len() > MAX_NOTE_LEN {
            return Err(NoteError::TooLarge { max: MAX_NOTE_LEN });
        }
        if note.chars().any(|c| c.is_control() && c != '\n') {
            return Err(NoteError::ControlCharacter);
        }
        let split = note.rfind("\n\n").ok_or(NoteError::MissingSignatureBlock)?;
        let body = &note[..=split];
        let signatures = &note[split + 2..];
        let Some(signatures) = signatures.strip_suffix('\n') else {
            return Err(NoteError::MalformedSignatureLine { line: 1 });
        };
        let mut verified = false;
        for (i, line) in signatures.split('\n').enumerate() {
            if i >= MAX_SIGNATURES {
                return Err(NoteError::TooManySignatures { max: MAX_SIGNATURES });
            }
            let malformed = NoteError::MalformedSignatureLine { line: i + 1 };
            let rest = line.strip_prefix(SIG_PREFIX).ok_or(malformed.clone())?;
            let (name, b64) = rest.split_once(' ').ok_or(malformed.clone())?;
            if check_key_name(name).is_err() || b64.is_empty() {
                return Err(malformed);
            }
            let bytes = decode_b64_canonical(b64).ok_or(malformed.clone())?;
            if bytes.len() < 5 {
                return Err(malformed);
            }
            let hash = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
            if name != self.name || hash != self.hash {
                // Another key's signature (a witness, say): not ours to judge.
                continue;
            }
            if verified {
                return Err(NoteError::DuplicateSignature);
            }
            let invalid = NoteError::InvalidSignature {
                name: self.name.clone(),
            };
            let signature: [u8; 64] = bytes[4..].try_into().map_err(|_| invalid.clone())?;
            self.key
                .verify_strict(body.as_bytes(), &Signature::from_bytes(&signature))
                .map_err(|_| invalid)?;
            verified = true;
        }
        if !verified {
            return Err(NoteError::NoKnownSignature {
                name: self.name.clone(),
            });
        }
        Ok(body)
    }
}

/// A tree head: the log's origin, its size and its root. Built only through
/// [`Checkpoint::new`] or [`open_checkpoint`], so its body always parses back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    origin: String,
    size: u64,
    root: Hash,
}

impl Checkpoint {
    /// `origin` is the log's name, e.g. `danbao.dev/evidence-log`.
    pub fn new(origin: &str, size: u64, root: Hash) -> Result<Self, NoteError> {
        if origin.is_empty() || origin.chars().any(char::is_control) {
            return Err(NoteError::InvalidOrigin);
        }
        Ok(Self {
            origin: origin.to_owned(),
            size,
            root,
        })
    }

    pub fn origin(&self) -> &str {
        &self.origin
    }
    pub fn size(&self) -> u64 {
        self.size
    }
    pub fn root(&self) -> &Hash {
        &self.root
    }

    /// The note body: `<origin>\n<size>\n<base64 root>\n`.
    pub fn to_body(&self) -> String {
        format!("{}\n{}\n{}\n", self.origin, self.size, encode_b64(&self.root))
    }

    /// The signed note: body, blank line, one signature line by `signer`.
    pub fn sign(&self, signer: &LogSigner) -> String {
        let body = self.to_body();
        let line = signer.signature_line(&body);
        format!("{body}\n{line}")
    }

    /// Parses a checkpoint body strictly: three lines, canonical size and root, no
    /// extension lines.
    pub fn parse_body(body: &str) -> Result<Self, NoteError> {
        let text = body
            .strip_suffix('\n')
            .ok_or(NoteError::MalformedBody("missing final newline"))?;
        let mut lines = text.split('\n');
        let (Some(origin), Some(size), Some(root)) = (lines.next(), lines.next(), lines.next()) else {
            return Err(NoteError::MalformedBody("expected origin, size and root lines"));
        };
        if lines.next().is_some() {
            return Err(NoteError::MalformedBody("extension lines are not accepted"));
        }
        let size = parse_canonical_u64(size).ok_or(NoteError::MalformedBody("size is not a canonical decimal"))?;
        let root =
            decode_b64_hash(root).ok_or(NoteError::MalformedBody("root is not a canonical base64 SHA-256 hash"))?;
        Self::new(origin, size, root).map_err(|_| NoteError::MalformedBody("empty origin"))
    }
}

/// Verifies the note's signature by `verifier`'s key, parses the checkpoint body and
/// checks its origin.
pub fn open_checkpoint(note_text: &str, verifier: &LogVerifier) -> Result<Checkpoint, NoteError> {
    let body = verifier.open_note(note_text)?;
    let checkpoint = Checkpoint::parse_body(body)?;
    if checkpoint.origin != verifier.origin {
        return Err(NoteError::OriginMismatch {
            expected: verifier.origin.clone(),
            got: checkpoint.origin,
        });
    }
    Ok(checkpoint)
}
