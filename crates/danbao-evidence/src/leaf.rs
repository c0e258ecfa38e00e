//! Leaf records (SPEC §11): what the log commits to, one record per event.
//!
//! A record holds ids only — no personal data — plus the SHA-256 of the content it
//! stands for, the time, the previous leaf hash of the same case (so a dropped record
//! breaks the chain) and a random salt (so short contents cannot be guessed from the
//! published hashes).
//!
//! # Canonical encoding (`danbao-leaf/v1`)
//!
//! UTF-8 text (in practice ASCII), lines separated and terminated by `\n` (no `\r`, a
//! final `\n` after the last line, no empty lines), each field on one line as
//! `name SP value`, in exactly this order:
//!
//! ```text
//! danbao-leaf/v1
//! case order:0190f7a4-5b7e-7cc1-8e3a-2f0d1c9b8a77
//! kind order.paid
//! at_ms 1767225600000
//! content_sha256 <64 lowercase hex>
//! prev_leaf_hash <64 lowercase hex, or the word none for a case's first leaf>
//! salt <32 lowercase hex: 16 random bytes>
//! ref order_id 0190f7a4-5b7e-7cc1-8e3a-2f0d1c9b8a77
//! ref payment_id 0190f7a5-0000-7000-8000-000000000001
//! ```
//!
//! - `case`, `kind` and ref values are 1 or more visible ASCII characters
//!   (`!`..=`~`): no spaces, no control characters, so no value can spill into another
//!   line or field. Ref keys are `[a-z0-9_.-]+`.
//! - `at_ms` is a non-negative decimal with no sign and no leading zeros.
//! - There are zero or more `ref` lines, keys strictly ascending by byte order.
//! - Hex is lowercase only.
//!
//! [`LeafRecord::parse_canonical`] accepts exactly this grammar and, as a second check,
//! requires that re-encoding the parsed record gives the input byte for byte, so one
//! record has exactly one encoding and one leaf hash. The leaf hash is the RFC 6962
//! leaf hash of the encoding's bytes.

use std::collections::BTreeMap;

use rand::{CryptoRng, RngCore};

use crate::hash::{leaf_hash, Hash};
use crate::sealed::{EventFields, EventRecord, LeafOpening, OpeningError, SealedLeaf, SEALED_LEAF_FORMAT_LINE};
use crate::util::parse_canonical_u64;

/// The first line of every v1 record.
pub const LEAF_FORMAT_LINE: &str = "danbao-leaf/v1";

/// Bounds on the record's parts. Ids are short (a prefixed UUID is 40-odd bytes); these
/// leave room for other id forms while keeping a record well under a kilobyte or two
/// and the parser's work bounded.
pub const MAX_CASE_LEN: usize = 128;
pub const MAX_KIND_LEN: usize = 64;
pub const MAX_REF_KEY_LEN: usize = 64;
pub const MAX_REF_VALUE_LEN: usize = 128;
pub const MAX_REFS: usize = 16;
/// A full record with every part at its maximum stays below this, so longer input is
/// refused before it is looked at.
pub const MAX_RECORD_TEXT_LEN: usize = 8 * 1024;

const SALT_BYTES: usize = 16;

/// Why a record was refused, at construction or when parsing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LeafError {
    #[error("{field} is empty")]
    Empty { field: &'static str },
    #[error("{field} is longer than {max} bytes")]
    TooLong { field: &'static str, max: usize },
    #[error("{field} contains a character outside visible ASCII (a space, newline or control character)")]
    ForbiddenCharacter { field: &'static str },
    #[error("ref key {0:?} is not [a-z0-9_.-]+")]
    InvalidRefKey(String),
    #[error("more than {max} refs")]
    TooManyRefs { max: usize },
    #[error("{field} must be {len} lowercase hex characters")]
    NotLowercaseHex { field: &'static str, len: usize },
    #[error("at_ms must not be negative")]
    NegativeTime,
    #[error("record text is longer than {max} bytes")]
    TextTooLong { max: usize },
    #[error("unknown record format: the first line is not one this parser reads")]
    UnknownFormat,
    #[error("record text is not canonical at line {line}: {reason}")]
    NotCanonical { line: usize, reason: &'static str },
}

/// The parts of a record, for building one with [`LeafRecord::new`]; every field is
/// checked there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeafFields {
    /// The case this event belongs to, e.g. `order:<uuid>` or `complaint:<uuid>`.
    pub case: String,
    /// The event kind, e.g. `order.created`, `order.paid`, `evidence.added`, `ruling`.
    pub kind: String,
    /// Ids only, never personal data.
    pub refs: BTreeMap<String, String>,
    /// Lowercase hex SHA-256 of the content this event commits to.
    pub content_sha256: String,
    /// Milliseconds since the Unix epoch, given by the caller (the crate has no clock).
    pub at_ms: i64,
    /// Lowercase hex leaf hash of the previous leaf of the same case; `None` for the first.
    pub prev_leaf_hash: Option<String>,
    /// Lowercase hex of 16 random bytes ([`LeafRecord::new_salt`]).
    pub salt: String,
}

/// A checked leaf record. Fields are private so that every record in hand encodes to
/// text that parses back to it; build with [`LeafRecord::new`] or
/// [`LeafRecord::parse_canonical`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeafRecord {
    fields: LeafFields,
}

/// The trailing `ref <key> <value>` lines of a record or an opening, keys strictly
/// ascending (one canonical text per set of refs).
pub(crate) fn parse_ref_lines<'a>(
    lines: impl Iterator<Item = (usize, &'a str)>,
) -> Result<BTreeMap<String, String>, LeafError> {
    let mut refs = BTreeMap::new();
    let mut last_key: Option<&str> = None;
    for (line, text) in lines {
        let (key, value) =
            text.strip_prefix("ref ")
                .and_then(|rest| rest.split_once(' '))
                .ok_or(LeafError::NotCanonical {
                    line,
                    reason: "expected `ref <key> <value>`",
                })?;
        if last_key.is_some_and(|last| last >= key) {
            return Err(LeafError::NotCanonical {
                line,
                reason: "ref keys are not strictly ascending",
            });
        }
        last_key = Some(key);
        refs.insert(key.to_owned(), value.to_owned());
    }
    Ok(refs)
}

pub(crate) fn check_token(field: &'static str, value: &str, max: usize) -> Result<(), LeafError> {
    if value.is_empty() {
        return Err(LeafError::Empty { field });
    }
    if value.len() > max {
        return Err(LeafError::TooLong { field, max });
    }
    if !value.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(LeafError::ForbiddenCharacter { field });
    }
    Ok(())
}

pub(crate) fn check_hex(field: &'static str, value: &str, bytes: usize) -> Result<(), LeafError> {
    let ok = value.len() == bytes * 2 && value.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if ok {
        Ok(())
    } else {
        Err(LeafError::NotLowercaseHex { field, len: bytes * 2 })
    }
}

pub(crate) fn check_ref_key(key: &str) -> Result<(), LeafError> {
    if key.is_empty() {
        return Err(LeafError::Empty { field: "ref key" });
    }
    if key.len() > MAX_REF_KEY_LEN {
        return Err(LeafError::TooLong {
            field: "ref key",
            max: MAX_REF_KEY_LEN,
        });
    }
    if !key
        .bytes()
        .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_' | b'.' | b'-'))
    {
        return Err(LeafError::InvalidRefKey(key.to_owned()));
    }
    Ok(())
}

impl LeafRecord {
    /// Checks every field and builds the record. Values with newlines (or any space or
    /// control character) are refused here, so no record can have two encodings.
    pub fn new(fields: LeafFields) -> Result<Self, LeafError> {
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
        check_hex("salt", &fields.salt, SALT_BYTES)?;
        Ok(Self { fields })
    }

    /// A fresh salt: 16 bytes from `rng`, lowercase hex.
    pub fn new_salt<R: RngCore + CryptoRng + ?Sized>(rng: &mut R) -> String {
        let mut bytes = [0u8; SALT_BYTES];
        rng.fill_bytes(&mut bytes);
        hex::encode(bytes)
    }

    /// The format version; only 1 exists.
    pub fn version(&self) -> u32 {
        1
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
    pub fn salt(&self) -> &str {
        &self.fields.salt
    }
    /// All fields, borrowed.
    pub fn fields(&self) -> &LeafFields {
        &self.fields
    }
    /// All fields, to change one and build a new record.
    pub fn into_fields(self) -> LeafFields {
        self.fields
    }

    /// The canonical `danbao-leaf/v1` text (see the module docs).
    pub fn to_canonical(&self) -> String {
        let f = &self.fields;
        let mut out = String::with_capacity(256);
        out.push_str(LEAF_FORMAT_LINE);
        out.push('\n');
        for (name, value) in [("case", f.case.as_str()), ("kind", f.kind.as_str())] {
            out.push_str(name);
            out.push(' ');
            out.push_str(value);
            out.push('\n');
        }
        out.push_str(&format!("at_ms {}\n", f.at_ms));
        out.push_str(&format!("content_sha256 {}\n", f.content_sha256));
        out.push_str(&format!(
            "prev_leaf_hash {}\n",
            f.prev_leaf_hash.as_deref().unwrap_or("none")
        ));
        out.push_str(&format!("salt {}\n", f.salt));
        for (key, value) in &f.refs {
            out.push_str(&format!("ref {key} {value}\n"));
        }
        out
    }

    /// The RFC 6962 leaf hash of the canonical encoding: what goes into the tree, and
    /// what the next record of the same case carries as `prev_leaf_hash`.
    pub fn leaf_hash(&self) -> Hash {
        leaf_hash(self.to_canonical().as_bytes())
    }

    /// [`LeafRecord::leaf_hash`] in lowercase hex.
    pub fn leaf_hash_hex(&self) -> String {
        hex::encode(self.leaf_hash())
    }

    /// Parses the canonical text, refusing anything else (see the module docs).
    pub fn parse_canonical(text: &str) -> Result<Self, LeafError> {
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
            Some((_, LEAF_FORMAT_LINE)) => {}
            _ => return Err(LeafError::UnknownFormat),
        }
        let mut field = |name: &'static str, reason: &'static str| -> Result<&str, LeafError> {
            let (line, text) = lines.next().ok_or(LeafError::NotCanonical { line: 0, reason })?;
            text.strip_prefix(name)
                .and_then(|rest| rest.strip_prefix(' '))
                .ok_or(LeafError::NotCanonical { line, reason })
        };
        let case = field("case", "expected `case <value>`")?.to_owned();
        let kind = field("kind", "expected `kind <value>`")?.to_owned();
        let at_ms_text = field("at_ms", "expected `at_ms <decimal>`")?;
        let at_ms = parse_canonical_u64(at_ms_text)
            .and_then(|v| i64::try_from(v).ok())
            .ok_or(LeafError::NotCanonical {
                line: 4,
                reason: "at_ms is not a canonical non-negative decimal",
            })?;
        let content_sha256 = field("content_sha256", "expected `content_sha256 <hex>`")?.to_owned();
        let prev = field("prev_leaf_hash", "expected `prev_leaf_hash <hex|none>`")?;
        let prev_leaf_hash = (prev != "none").then(|| prev.to_owned());
        let salt = field("salt", "expected `salt <hex>`")?.to_owned();
        let refs = parse_ref_lines(lines)?;
        let record = Self::new(LeafFields {
            case,
            kind,
            refs,
            content_sha256,
            at_ms,
            prev_leaf_hash,
            salt,
        })?;
        // The grammar above should admit only canonical text; check it again by
        // re-encoding, so a gap in the grammar can never yield two encodings.
        if record.to_canonical() != text {
            return Err(LeafError::NotCanonical {
                line: 0,
                reason: "does not re-encode to the same text",
            });
        }
        Ok(record)
    }
}

/// A leaf of the log in either format: a public v1 record, or a sealed v2 one
/// ([`crate::sealed`]). Old leaves stay v1 for good (the log is append-only); new ones
/// are sealed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Leaf {
    V1(LeafRecord),
    V2(SealedLeaf),
}

impl From<LeafRecord> for Leaf {
    fn from(record: LeafRecord) -> Self {
        Leaf::V1(record)
    }
}

impl From<SealedLeaf> for Leaf {
    fn from(sealed: SealedLeaf) -> Self {
        Leaf::V2(sealed)
    }
}

impl Leaf {
    /// Parses either format by its first line, each strictly.
    pub fn parse_canonical(text: &str) -> Result<Self, LeafError> {
        let first = text.split('\n').next().unwrap_or("");
        if first == LEAF_FORMAT_LINE {
            LeafRecord::parse_canonical(text).map(Leaf::V1)
        } else if first == SEALED_LEAF_FORMAT_LINE {
            SealedLeaf::parse_canonical(text).map(Leaf::V2)
        } else {
            Err(LeafError::UnknownFormat)
        }
    }

    pub fn version(&self) -> u32 {
        match self {
            Leaf::V1(_) => 1,
            Leaf::V2(_) => 2,
        }
    }

    pub fn to_canonical(&self) -> String {
        match self {
            Leaf::V1(r) => r.to_canonical(),
            Leaf::V2(s) => s.to_canonical(),
        }
    }

    /// The RFC 6962 leaf hash of the canonical encoding.
    pub fn leaf_hash(&self) -> Hash {
        leaf_hash(self.to_canonical().as_bytes())
    }

    pub fn leaf_hash_hex(&self) -> String {
        hex::encode(self.leaf_hash())
    }

    /// The public v1 record, if this is one.
    pub fn as_v1(&self) -> Option<&LeafRecord> {
        match self {
            Leaf::V1(r) => Some(r),
            Leaf::V2(_) => None,
        }
    }

    /// What this leaf proves about its event. A v1 leaf says it in public and takes no
    /// opening; a sealed leaf says it only with the opening that matches its commitment.
    pub fn event(&self, opening: Option<&LeafOpening>) -> Result<EventRecord, OpeningError> {
        match (self, opening) {
            (Leaf::V1(r), None) => {
                let f = r.fields();
                EventRecord::new(EventFields {
                    case: f.case.clone(),
                    kind: f.kind.clone(),
                    refs: f.refs.clone(),
                    content_sha256: f.content_sha256.clone(),
                    at_ms: f.at_ms,
                    prev_leaf_hash: f.prev_leaf_hash.clone(),
                })
                .map_err(OpeningError::Parse)
            }
            (Leaf::V1(_), Some(_)) => Err(OpeningError::NotSealed),
            (Leaf::V2(_), None) => Err(OpeningError::Sealed),
            (Leaf::V2(s), Some(o)) => s.open(o).cloned(),
        }
    }
}
