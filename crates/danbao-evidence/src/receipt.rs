//! Receipts in the C2SP `tlog-proof` form (<https://c2sp.org/tlog-proof>): the proof
//! that one leaf record is in the log, checkable offline with only the log's vkey.
//!
//! ```text
//! c2sp.org/tlog-proof@v1
//! extra <base64 of the canonical leaf record: danbao-leaf/v1, or sealed danbao-leaf/v2>
//! index <leaf index, decimal, no leading zeros>
//! <base64 inclusion-proof hash, leaf's sibling first>
//! …
//! <blank line>
//! <the signed checkpoint note, verbatim>
//! ```
//!
//! The spec makes `extra` optional; Danbao's receipts always carry the leaf record
//! there, and this parser requires it (the leaf hash is computed from it). Base64 is
//! standard with padding (RFC 4648 §4) and must be canonical.

use crate::hash::Hash;
use crate::leaf::{Leaf, LeafError};
use crate::note::{open_checkpoint, Checkpoint, LogVerifier, NoteError};
use crate::util::{decode_b64_canonical, decode_b64_hash, encode_b64, parse_canonical_u64};
use crate::verify::{verify_consistency, verify_inclusion, VerifyError};

/// The first line of every receipt.
pub const TLOG_PROOF_HEADER: &str = "c2sp.org/tlog-proof@v1";
/// A proof for a tree of up to 2^62 leaves has at most 62 hashes; 64 leaves a margin and
/// bounds the parser.
pub const MAX_PROOF_HASHES: usize = 64;
/// Record, 64 proof lines and a checkpoint with a few cosignatures fit easily.
pub const MAX_RECEIPT_LEN: usize = 64 * 1024;

/// Why a receipt's text could not be read (before any cryptographic check).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReceiptParseError {
    #[error("receipt is longer than {max} bytes")]
    TooLarge { max: usize },
    #[error("first line is not {TLOG_PROOF_HEADER:?}")]
    BadHeader,
    #[error("missing `extra <base64 leaf record>` line")]
    MissingExtra,
    #[error("`extra` is not canonical base64")]
    BadExtraEncoding,
    #[error("`extra` is not UTF-8 text")]
    ExtraNotText,
    #[error("leaf record in `extra`: {0}")]
    Leaf(#[from] LeafError),
    #[error("missing or non-canonical `index <n>` line")]
    BadIndex,
    #[error("proof line {line} is not a canonical base64 SHA-256 hash")]
    BadProofHash { line: usize },
    #[error("more than {max} proof hashes")]
    TooManyProofHashes { max: usize },
    #[error("missing blank line and checkpoint after the proof")]
    MissingCheckpoint,
}

/// Which check of [`verify_receipt`] failed, in the order they run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReceiptError {
    /// 1. The text is not a well-formed receipt (includes a malformed leaf record).
    #[error("receipt does not parse: {0}")]
    Parse(#[from] ReceiptParseError),
    /// 2. The checkpoint's signature (or body, or origin) does not check out.
    #[error("receipt checkpoint: {0}")]
    Checkpoint(NoteError),
    /// 4. The inclusion proof of the record's leaf hash (step 3) does not lead to the
    ///    signed root. A changed record, index or proof hash all land here.
    #[error("receipt inclusion proof: {0}")]
    Inclusion(VerifyError),
}

/// A receipt: the leaf record, its index, the inclusion proof and the signed
/// checkpoint note the proof leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    pub leaf: Leaf,
    pub index: u64,
    pub proof: Vec<Hash>,
    pub checkpoint_note: String,
}

/// What a successful [`verify_receipt`] established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedReceipt {
    pub leaf: Leaf,
    pub index: u64,
    pub leaf_hash: Hash,
    pub checkpoint: Checkpoint,
}

impl Receipt {
    /// The `tlog-proof` text (see the module docs).
    pub fn to_text(&self) -> String {
        let mut out = String::with_capacity(1024 + self.checkpoint_note.len());
        out.push_str(TLOG_PROOF_HEADER);
        out.push('\n');
        out.push_str("extra ");
        out.push_str(&encode_b64(self.leaf.to_canonical().as_bytes()));
        out.push('\n');
        out.push_str(&format!("index {}\n", self.index));
        for hash in &self.proof {
            out.push_str(&encode_b64(hash));
            out.push('\n');
        }
        out.push('\n');
        out.push_str(&self.checkpoint_note);
        out
    }

    /// Parses the `tlog-proof` text strictly. The checkpoint note is kept verbatim and
    /// checked only by [`verify_receipt`].
    pub fn parse(text: &str) -> Result<Self, ReceiptParseError> {
        if text.len() > MAX_RECEIPT_LEN {
            return Err(ReceiptParseError::TooLarge { max: MAX_RECEIPT_LEN });
        }
        let (header, rest) = text.split_once('\n').ok_or(ReceiptParseError::BadHeader)?;
        if header != TLOG_PROOF_HEADER {
            return Err(ReceiptParseError::BadHeader);
        }
        let (extra, rest) = rest.split_once('\n').ok_or(ReceiptParseError::MissingExtra)?;
        let extra = extra.strip_prefix("extra ").ok_or(ReceiptParseError::MissingExtra)?;
        let extra = decode_b64_canonical(extra).ok_or(ReceiptParseError::BadExtraEncoding)?;
        let extra = String::from_utf8(extra).map_err(|_| ReceiptParseError::ExtraNotText)?;
        let leaf = Leaf::parse_canonical(&extra)?;
        let (index, mut rest) = rest.split_once('\n').ok_or(ReceiptParseError::BadIndex)?;
        let index = index
            .strip_prefix("index ")
            .and_then(parse_canonical_u64)
            .ok_or(ReceiptParseError::BadIndex)?;
        let mut proof = Vec::new();
        loop {
            let (line, after) = rest.split_once('\n').ok_or(ReceiptParseError::MissingCheckpoint)?;
            rest = after;
            if line.is_empty() {
                break;
            }
            if proof.len() == MAX_PROOF_HASHES {
                return Err(ReceiptParseError::TooManyProofHashes { max: MAX_PROOF_HASHES });
            }
            let hash = decode_b64_hash(line).ok_or(ReceiptParseError::BadProofHash { line: proof.len() + 1 })?;
            proof.push(hash);
        }
        if rest.is_empty() {
            return Err(ReceiptParseError::MissingCheckpoint);
        }
        Ok(Self {
            leaf,
            index,
            proof,
            checkpoint_note: rest.to_owned(),
        })
    }

    /// [`verify_receipt`] on an already parsed receipt.
    pub fn verify(&self, verifier: &LogVerifier) -> Result<VerifiedReceipt, ReceiptError> {
        let checkpoint = open_checkpoint(&self.checkpoint_note, verifier).map_err(ReceiptError::Checkpoint)?;
        let leaf_hash = self.leaf.leaf_hash();
        verify_inclusion(
            &leaf_hash,
            self.index,
            checkpoint.size(),
            &self.proof,
            checkpoint.root(),
        )
        .map_err(ReceiptError::Inclusion)?;
        Ok(VerifiedReceipt {
            leaf: self.leaf.clone(),
            index: self.index,
            leaf_hash,
            checkpoint,
        })
    }
}

/// A receipt to verify: its text, or one already parsed.
#[derive(Debug, Clone, Copy)]
pub enum ReceiptSource<'a> {
    Text(&'a str),
    Parsed(&'a Receipt),
}

impl<'a> From<&'a str> for ReceiptSource<'a> {
    fn from(text: &'a str) -> Self {
        Self::Text(text)
    }
}

impl<'a> From<&'a String> for ReceiptSource<'a> {
    fn from(text: &'a String) -> Self {
        Self::Text(text)
    }
}

impl<'a> From<&'a Receipt> for ReceiptSource<'a> {
    fn from(receipt: &'a Receipt) -> Self {
        Self::Parsed(receipt)
    }
}

/// Verifies a receipt offline with only the log's verifier key. Checks, in order:
/// 1. the text parses (including the leaf record) — [`ReceiptError::Parse`];
/// 2. the checkpoint is signed by the verifier's key, well formed, with the expected
///    origin — [`ReceiptError::Checkpoint`];
/// 3. the leaf hash is computed from the record's canonical encoding (cannot fail once
///    the record parsed: a changed record gives a different hash, caught by 4.);
/// 4. the inclusion proof leads from that leaf hash at that index to the checkpoint's
///    root — [`ReceiptError::Inclusion`].
pub fn verify_receipt<'a>(
    receipt: impl Into<ReceiptSource<'a>>,
    verifier: &LogVerifier,
) -> Result<VerifiedReceipt, ReceiptError> {
    match receipt.into() {
        ReceiptSource::Text(text) => Receipt::parse(text)?.verify(verifier),
        ReceiptSource::Parsed(receipt) => receipt.verify(verifier),
    }
}

/// Why two signed checkpoints could not be shown consistent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConsistencyCheckError {
    #[error("old checkpoint: {0}")]
    OldCheckpoint(NoteError),
    #[error("new checkpoint: {0}")]
    NewCheckpoint(NoteError),
    /// Both are validly signed and the proof does not connect them: if the proof came
    /// from the log, the two notes together are portable evidence of a fork.
    #[error("consistency proof: {0}")]
    Proof(VerifyError),
}

/// Opens both signed checkpoints with `verifier` and checks that the old tree is a
/// prefix of the new one. Returns both checkpoints.
pub fn verify_consistency_between(
    note_old: &str,
    note_new: &str,
    proof: &[Hash],
    verifier: &LogVerifier,
) -> Result<(Checkpoint, Checkpoint), ConsistencyCheckError> {
    let old = open_checkpoint(note_old, verifier).map_err(ConsistencyCheckError::OldCheckpoint)?;
    let new = open_checkpoint(note_new, verifier).map_err(ConsistencyCheckError::NewCheckpoint)?;
    verify_consistency(old.size(), new.size(), proof, old.root(), new.root()).map_err(ConsistencyCheckError::Proof)?;
    Ok((old, new))
}
