//! Sealed leaf records (`danbao-leaf/v2`): the public log commits to an event without
//! saying anything about it, and the event's parties hold the opening.
//!
//! A v1 record ([`crate::LeafRecord`]) names its case, kind, time, refs and an unsalted
//! content hash in public, so anyone reading receipts learns every order id and its
//! history, and can brute-force short contents (an amount) from the hash. A v2 record is
//! only a commitment:
//!
//! ```text
//! danbao-leaf/v2
//! commitment <64 lowercase hex: HMAC-SHA256(key, message)>
//! ```
//!
//! where `key` is 32 random bytes chosen for this one leaf and kept secret by the log,
//! and `message` is the event ([`EventRecord`]) in canonical text:
//!
//! ```text
//! danbao-leaf-commitment/v2
//! case order:0190f7a4-5b7e-7cc1-8e3a-2f0d1c9b8a77
//! kind order.paid
//! at_ms 1767225600000
//! content_sha256 <64 lowercase hex>
//! prev_leaf_hash <64 lowercase hex, or none>
//! ref order_id 0190f7a4-5b7e-7cc1-8e3a-2f0d1c9b8a77
//! ```
//!
//! (fields and their grammar exactly as in v1, without the salt: the key is the salt).
//! The **opening** ([`LeafOpening`]) is the key and the event:
//!
//! ```text
//! danbao-leaf-opening/v2
//! key <64 lowercase hex>
//! case …            (the event's lines, as above)
//! ```
//!
//! Why this shape:
//! - *Hiding*: without the key, the commitment is the output of a PRF under a random
//!   256-bit key, so it says nothing about the case, the kind, the time or the content,
//!   and trying amounts or ids against it is hopeless. Every leaf has its own key, so
//!   two leaves of one case cannot be linked either, and an opening given for one event
//!   opens nothing else.
//! - *Binding*: two different (key, message) pairs with one HMAC-SHA256 output would be
//!   a SHA-256 collision (the outer or the inner hash collides), so the log cannot open
//!   a leaf to another event later.
//! - *Time and chain are sealed too*: `at_ms` and `prev_leaf_hash` are inside the
//!   message. The public sees only how many leaves were appended and (by polling) when;
//!   it cannot group a case's leaves or read when each event happened. The parties, who
//!   hold every opening of their case, still check the chain and the times.
//! - A receipt alone still proves that this exact commitment is in the log under a
//!   signed checkpoint; with the opening it also proves what the commitment says.

use std::collections::BTreeMap;

use hmac::{Hmac, Mac};
use rand::{CryptoRng, RngCore};
use sha2::Sha256;

use crate::hash::{leaf_hash, Hash};
use crate::leaf::{
    check_hex, check_ref_key, check_token, parse_ref_lines, LeafError, MAX_CASE_LEN, MAX_KIND_LEN, MAX_REFS,
};
use crate::leaf::{MAX_RECORD_TEXT_LEN, MAX_REF_VALUE_LEN};
use crate::util::parse_canonical_u64;

/// The first line of every v2 (sealed) record.
pub const SEALED_LEAF_FORMAT_LINE: &str = "danbao-leaf/v2";
/// The first line of an opening.
pub const OPENING_FORMAT_LINE: &str = "danbao-leaf-opening/v2";
/// The first line of the message the commitment is computed over: distinct from every
/// other text format here, so a commitment can never be read as another kind of hash.
const COMMITMENT_DOMAIN_LINE: &str = "danbao-leaf-commitment/v2";
const KEY_BYTES: usize = 32;

type HmacSha256 = Hmac<Sha256>;

/// The parts of an event, for building one with [`EventRecord::new`]; every field is
/// checked there, with v1's grammar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventFields {
    /// The case this event belongs to, e.g. `order:<uuid>` or `complaint:<uuid>`.
    pub case: String,
    /// The event kind, e.g. `order.created`.
    pub kind: String,
    /// Ids only, never personal data.
    pub refs: BTreeMap<String, String>,
    /// Lowercase hex SHA-256 of the content this event commits to.
    pub content_sha256: String,
    /// Milliseconds since the Unix epoch, given by the caller.
    pub at_ms: i64,
    /// Lowercase hex leaf hash of the previous leaf of the same case; `None` for the first.
    pub prev_leaf_hash: Option<String>,
}

/// A checked event: what a leaf commits to. A v1 leaf says it in public; a v2 leaf only
/// to whoever holds its opening.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRecord {
    fields: EventFields,
}

impl EventRecord {
    pub fn new(fields: EventFields) -> Result<Self, LeafError> {
        check_token("case", &fields.case, MAX_CASE_LEN)?;
        check_token("kind", &fields.kind, MAX_KIND_LEN)?;
        if fields.refs.len() > MAX_REFS {
            return Err(LeafError::TooManyRefs { max: MAX_REFS });
        }
        for (key, value) in &fields.refs {
            check_ref_key(key)?;
            check_token("ref value", value, MAX_REF_VALUE_LEN)?;
        }
        check_hex("content_sha256", &fields.content_sha256, 32)?;
        if fields.at_ms < 0 {
            return Err(LeafError::NegativeTime);
        }
        if let Some(prev) = &fields.prev_leaf_hash {
            check_hex("prev_leaf_hash", prev, 32)?;
        }
        Ok(Self { fields })
    }

    pub fn case(&self) -> &str {
        &self.fields.case
    }
    pub fn kind(&self) -> &str {
        &self.fields.kind
    }
    pub fn refs(&self) -> &BTreeMap<String, String> {
        &self.fields.refs
    }
    pub fn content_sha256(&self) -> &str {
        &self.fields.content_sha256
    }
    pub fn at_ms(&self) -> i64 {
        self.fields.at_ms
    }
    pub fn prev_leaf_hash(&self) -> Option<&str> {
        self.fields.prev_leaf_hash.as_deref()
    }
    pub fn fields(&self) -> &EventFields {
        &self.fields
    }
    pub fn into_fields(self) -> EventFields {
        self.fields
    }

    /// The event's lines (each ending in `\n`), in the order of the module docs.
    fn lines(&self) -> String {
        let f = &self.fields;
        let mut out = String::with_capacity(256);
        out.push_str(&format!("case {}\n", f.case));
        out.push_str(&format!("kind {}\n", f.kind));
        out.push_str(&format!("at_ms {}\n", f.at_ms));
        out.push_str(&format!("content_sha256 {}\n", f.content_sha256));
        out.push_str(&format!(
            "prev_leaf_hash {}\n",
            f.prev_leaf_hash.as_deref().unwrap_or("none")
        ));
        for (key, value) in &f.refs {
            out.push_str(&format!("ref {key} {value}\n"));
        }
        out
    }

    /// HMAC-SHA256 under `key` of the commitment message, lowercase hex.
    fn commitment(&self, key: &[u8; KEY_BYTES]) -> String {
        // HMAC takes keys of any length: a 32-byte key cannot be refused.
        let Ok(mut mac) = <HmacSha256 as Mac>::new_from_slice(key) else {
            unreachable!("HMAC accepts a 32-byte key")
        };
        mac.update(COMMITMENT_DOMAIN_LINE.as_bytes());
        mac.update(b"\n");
        mac.update(self.lines().as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }
}

/// Why an opening was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpeningError {
    #[error("the opening does not parse: {0}")]
    Parse(#[from] LeafError),
    /// The opening's key and event do not give the leaf's commitment: the opening (or
    /// the leaf) is not the one the log recorded.
    #[error("the opening does not match the leaf's commitment")]
    Mismatch,
    /// A v1 leaf says its event in public; there is nothing to open.
    #[error("this is a public (v1) leaf: it has no opening")]
    NotSealed,
    /// A v2 leaf says nothing without its opening.
    #[error("this leaf is sealed: its event can be read only with its opening")]
    Sealed,
}

/// The secret that opens one sealed leaf: its key and the event it commits to.
#[derive(Clone, PartialEq, Eq)]
pub struct LeafOpening {
    key: [u8; KEY_BYTES],
    event: EventRecord,
}

impl std::fmt::Debug for LeafOpening {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The key opens the leaf: keep it out of logs.
        f.debug_struct("LeafOpening")
            .field("key", &"[redacted]")
            .field("event", &self.event)
            .finish()
    }
}

impl LeafOpening {
    pub fn event(&self) -> &EventRecord {
        &self.event
    }

    /// The sealed leaf this opening opens.
    pub fn sealed_leaf(&self) -> SealedLeaf {
        SealedLeaf {
            commitment: self.event.commitment(&self.key),
        }
    }

    /// The canonical opening text (see the module docs).
    pub fn to_text(&self) -> String {
        format!(
            "{OPENING_FORMAT_LINE}\nkey {}\n{}",
            hex::encode(self.key),
            self.event.lines()
        )
    }

    /// Parses the canonical opening text, refusing anything else (one opening, one text).
    pub fn parse(text: &str) -> Result<Self, LeafError> {
        if text.len() > MAX_RECORD_TEXT_LEN {
            return Err(LeafError::TextTooLong {
                max: MAX_RECORD_TEXT_LEN,
            });
        }
        let Some(body) = text.strip_suffix('\n') else {
            return Err(LeafError::NotCanonical {
                line: text.split('\n').count(),
                reason: "missing final newline",
            });
        };
        let mut lines = body.split('\n').enumerate().map(|(i, l)| (i + 1, l));
        match lines.next() {
            Some((_, OPENING_FORMAT_LINE)) => {}
            _ => return Err(LeafError::UnknownFormat),
        }
        let mut field = |name: &'static str, reason: &'static str| -> Result<(usize, &str), LeafError> {
            let (line, text) = lines.next().ok_or(LeafError::NotCanonical { line: 0, reason })?;
            text.strip_prefix(name)
                .and_then(|rest| rest.strip_prefix(' '))
                .map(|v| (line, v))
                .ok_or(LeafError::NotCanonical { line, reason })
        };
        let (_, key_hex) = field("key", "expected `key <hex>`")?;
        check_hex("key", key_hex, KEY_BYTES)?;
        let mut key = [0u8; KEY_BYTES];
        hex::decode_to_slice(key_hex, &mut key).map_err(|_| LeafError::NotLowercaseHex {
            field: "key",
            len: KEY_BYTES * 2,
        })?;
        let (_, case) = field("case", "expected `case <value>`")?;
        let (_, kind) = field("kind", "expected `kind <value>`")?;
        let (at_line, at_ms_text) = field("at_ms", "expected `at_ms <decimal>`")?;
        let at_ms = parse_canonical_u64(at_ms_text)
            .and_then(|v| i64::try_from(v).ok())
            .ok_or(LeafError::NotCanonical {
                line: at_line,
                reason: "at_ms is not a canonical non-negative decimal",
            })?;
        let (_, content_sha256) = field("content_sha256", "expected `content_sha256 <hex>`")?;
        let (_, prev) = field("prev_leaf_hash", "expected `prev_leaf_hash <hex|none>`")?;
        let (case, kind, content_sha256) = (case.to_owned(), kind.to_owned(), content_sha256.to_owned());
        let prev_leaf_hash = (prev != "none").then(|| prev.to_owned());
        let refs = parse_ref_lines(lines)?;
        let opening = Self {
            key,
            event: EventRecord::new(EventFields {
                case,
                kind,
                refs,
                content_sha256,
                at_ms,
                prev_leaf_hash,
            })?,
        };
        // As for v1: the grammar should admit only canonical text; re-encoding proves it.
        if opening.to_text() != text {
            return Err(LeafError::NotCanonical {
                line: 0,
                reason: "does not re-encode to the same text",
            });
        }
        Ok(opening)
    }
}

/// A v2 leaf record: the commitment, and nothing else (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedLeaf {
    commitment: String,
}

impl SealedLeaf {
    /// Seals an event under a fresh random key: the public leaf and its opening.
    pub fn seal<R: RngCore + CryptoRng + ?Sized>(event: EventRecord, rng: &mut R) -> (SealedLeaf, LeafOpening) {
        let mut key = [0u8; KEY_BYTES];
        rng.fill_bytes(&mut key);
        let opening = LeafOpening { key, event };
        (opening.sealed_leaf(), opening)
    }

    /// Lowercase hex HMAC-SHA256 commitment.
    pub fn commitment(&self) -> &str {
        &self.commitment
    }

    /// Checks the opening against this leaf; on success, the event the leaf commits to.
    pub fn open<'a>(&self, opening: &'a LeafOpening) -> Result<&'a EventRecord, OpeningError> {
        if opening.sealed_leaf() == *self {
            Ok(&opening.event)
        } else {
            Err(OpeningError::Mismatch)
        }
    }

    /// The canonical `danbao-leaf/v2` text.
    pub fn to_canonical(&self) -> String {
        format!("{SEALED_LEAF_FORMAT_LINE}\ncommitment {}\n", self.commitment)
    }

    pub fn parse_canonical(text: &str) -> Result<Self, LeafError> {
        if text.len() > MAX_RECORD_TEXT_LEN {
            return Err(LeafError::TextTooLong {
                max: MAX_RECORD_TEXT_LEN,
            });
        }
        let mut lines = text.split('\n');
        if lines.next() != Some(SEALED_LEAF_FORMAT_LINE) {
            return Err(LeafError::UnknownFormat);
        }
        let commitment = lines
            .next()
            .and_then(|l| l.strip_prefix("commitment "))
            .ok_or(LeafError::NotCanonical {
                line: 2,
                reason: "expected `commitment <hex>`",
            })?;
        check_hex("commitment", commitment, 32)?;
        let leaf = Self {
            commitment: commitment.to_owned(),
        };
        if leaf.to_canonical() != text {
            return Err(LeafError::NotCanonical {
                line: 0,
                reason: "does not re-encode to the same text",
            });
        }
        Ok(leaf)
    }

    pub fn leaf_hash(&self) -> Hash {
        leaf_hash(self.to_canonical().as_bytes())
    }
}
