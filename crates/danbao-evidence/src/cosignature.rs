//! Witness cosignatures, the Ed25519 `cosignature/v1` type of
//! <https://c2sp.org/tlog-cosignature>, and the `add-checkpoint` request body of
//! <https://c2sp.org/tlog-witness>.
//!
//! A cosignature is one more signature line on the checkpoint note:
//!
//! ```text
//! — <witness name> base64(key ID (4) ‖ timestamp (u64, big-endian) ‖ Ed25519 signature (64))
//! ```
//!
//! - Key ID: `SHA-256(name ‖ "\n" ‖ 0x04 ‖ public key)[:4]`; the vkey is
//!   `<name>+<key ID hex>+base64(0x04 ‖ public key)`.
//! - The signed message: `cosignature/v1\n`, `time <timestamp>\n`, then the checkpoint's
//!   whole note body (with its final newline, without any signature line).
//!
//! A cosignature says: at that time, this is the largest tree the witness saw for the log,
//! and every tree it saw before is a prefix of it. A log that shows one history to some and
//! another to others cannot get both cosigned by an honest witness.

use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use rand::{CryptoRng, RngCore};

use crate::hash::Hash;
use crate::note::{
    check_key_name, format_skey, format_vkey, key_hash_for, parse_skey, parse_vkey, NoteError, MAX_NOTE_LEN,
    MAX_SIGNATURES, SIG_PREFIX,
};
use crate::util::{decode_b64_canonical, decode_b64_hash, encode_b64, parse_canonical_u64};

/// The vkey algorithm byte of an Ed25519 `cosignature/v1` key.
pub const ALG_COSIGNATURE_V1: u8 = 0x04;
/// tlog-witness: a client sends at most 63 consistency-proof lines.
pub const MAX_ADD_CHECKPOINT_PROOF: usize = 63;
/// A cosignature timestamp may not exceed 2^63 − 1.
const MAX_TIMESTAMP: u64 = i64::MAX as u64;

/// What was wrong with a witness key or a cosignature.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CosignatureError {
    #[error("witness key: {0}")]
    Key(NoteError),
    #[error("the checkpoint carries no cosignature by witness {name}")]
    Missing { name: String },
    #[error("the cosignature by witness {name} does not verify")]
    Invalid { name: String },
    #[error("the checkpoint carries more than one cosignature by witness {name}")]
    Duplicate { name: String },
    #[error("the note is malformed: {0}")]
    Note(NoteError),
    #[error("{got} of the witnesses cosigned, {needed} are required")]
    Quorum { got: usize, needed: usize },
}

fn cosigned_message(body: &str, timestamp: u64) -> String {
    format!("cosignature/v1\ntime {timestamp}\n{body}")
}

/// A witness's signing key. `Debug` does not show the secret.
#[derive(Clone)]
pub struct WitnessSigner {
    name: String,
    hash: u32,
    key: SigningKey,
}

impl std::fmt::Debug for WitnessSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WitnessSigner")
            .field("name", &self.name)
            .field("key_hash", &format_args!("{:08x}", self.hash))
            .finish_non_exhaustive()
    }
}

impl WitnessSigner {
    /// A new random key. `name` should be a schema-less URL naming the witness.
    pub fn generate<R: RngCore + CryptoRng + ?Sized>(name: &str, rng: &mut R) -> Result<Self, CosignatureError> {
        let mut seed = [0u8; 32];
        rng.fill_bytes(&mut seed);
        Self::from_secret_bytes(name, &seed)
    }

    pub fn from_secret_bytes(name: &str, secret: &[u8; 32]) -> Result<Self, CosignatureError> {
        check_key_name(name).map_err(CosignatureError::Key)?;
        let key = SigningKey::from_bytes(secret);
        let hash = key_hash_for(name, ALG_COSIGNATURE_V1, &key.verifying_key());
        Ok(Self {
            name: name.to_owned(),
            hash,
            key,
        })
    }

    /// `PRIVATE+KEY+<name>+<key ID hex>+base64(0x04 ‖ secret key)`, to keep in a file.
    pub fn to_skey(&self) -> String {
        format_skey(&self.name, self.hash, ALG_COSIGNATURE_V1, &self.key.to_bytes())
    }

    /// Parses [`WitnessSigner::to_skey`] output (surrounding whitespace allowed).
    pub fn from_skey(text: &str) -> Result<Self, CosignatureError> {
        let (name, hash, secret) = parse_skey(text, ALG_COSIGNATURE_V1).map_err(CosignatureError::Key)?;
        let signer = Self::from_secret_bytes(name, &secret)?;
        if format!("{:08x}", signer.hash) != hash {
            return Err(CosignatureError::Key(NoteError::KeyHashMismatch));
        }
        Ok(signer)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn verifier(&self) -> WitnessVerifier {
        WitnessVerifier {
            name: self.name.clone(),
            hash: self.hash,
            key: self.key.verifying_key(),
        }
    }

    pub fn vkey(&self) -> String {
        self.verifier().to_vkey()
    }

    /// The cosignature line (ending in a newline) over a checkpoint's note body, made at
    /// `timestamp` (seconds since the epoch; 0 is raised to 1, the spec forbids 0).
    pub fn cosign(&self, body: &str, timestamp: u64) -> String {
        let timestamp = timestamp.clamp(1, MAX_TIMESTAMP);
        let signature: Signature = self.key.sign(cosigned_message(body, timestamp).as_bytes());
        let mut bytes = Vec::with_capacity(76);
        bytes.extend_from_slice(&self.hash.to_be_bytes());
        bytes.extend_from_slice(&timestamp.to_be_bytes());
        bytes.extend_from_slice(&signature.to_bytes());
        format!("{SIG_PREFIX}{} {}\n", self.name, encode_b64(&bytes))
    }
}

/// Checks one witness's cosignatures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WitnessVerifier {
    name: String,
    hash: u32,
    key: VerifyingKey,
}

/// A signature line: the key name and the decoded bytes (key ID first).
type SignatureLine<'a> = (&'a str, Vec<u8>);

/// A note split into its body (ending in `\n`) and its signature lines.
fn split_note(note: &str) -> Result<(&str, Vec<SignatureLine<'_>>), NoteError> {
    if note.len() > MAX_NOTE_LEN {
        return Err(NoteError::TooLarge { max: MAX_NOTE_LEN });
    }
    if note.chars().any(|c| c.is_control() && c != '\n') {
        return Err(NoteError::ControlCharacter);
    }
    let split = note.rfind("\n\n").ok_or(NoteError::MissingSignatureBlock)?;
    let body = &note[..=split];
    let Some(signatures) = note[split + 2..].strip_suffix('\n') else {
        return Err(NoteError::MalformedSignatureLine { line: 1 });
    };
    let mut lines = Vec::new();
    for (i, line) in signatures.split('\n').enumerate() {
        if i >= MAX_SIGNATURES {
            return Err(NoteError::TooManySignatures { max: MAX_SIGNATURES });
        }
        let malformed = NoteError::MalformedSignatureLine { line: i + 1 };
        let rest = line.strip_prefix(SIG_PREFIX).ok_or(malformed.clone())?;
        let (name, b64) = rest.split_once(' ').ok_or(malformed.clone())?;
        if check_key_name(name).is_err() {
            return Err(malformed);
        }
        let bytes = decode_b64_canonical(b64).ok_or(malformed.clone())?;
        if bytes.len() < 5 {
            return Err(malformed);
        }
        lines.push((name, bytes));
    }
    Ok((body, lines))
}

impl WitnessVerifier {
    /// Parses `<name>+<key ID hex>+base64(0x04 ‖ public key)`.
    pub fn from_vkey(text: &str) -> Result<Self, CosignatureError> {
        let (name, hash, key) = parse_vkey(text.trim(), ALG_COSIGNATURE_V1).map_err(CosignatureError::Key)?;
        Ok(Self {
            name: name.to_owned(),
            hash,
            key,
        })
    }

    pub fn to_vkey(&self) -> String {
        format_vkey(&self.name, self.hash, ALG_COSIGNATURE_V1, &self.key)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Checks this witness's cosignature on a signed note; returns its timestamp. Lines by
    /// other keys are skipped; none by this key, two, or a bad one is refused.
    pub fn verify(&self, note: &str) -> Result<u64, CosignatureError> {
        let (body, lines) = split_note(note).map_err(CosignatureError::Note)?;
        let invalid = || CosignatureError::Invalid {
            name: self.name.clone(),
        };
        let mut found = None;
        for (name, bytes) in lines {
            let hash = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
            if name != self.name || hash != self.hash {
                continue;
            }
            if found.is_some() {
                return Err(CosignatureError::Duplicate {
                    name: self.name.clone(),
                });
            }
            if bytes.len() != 4 + 8 + 64 {
                return Err(invalid());
            }
            let mut ts = [0u8; 8];
            ts.copy_from_slice(&bytes[4..12]);
            let timestamp = u64::from_be_bytes(ts);
            if timestamp == 0 || timestamp > MAX_TIMESTAMP {
                return Err(invalid());
            }
            let mut sig = [0u8; 64];
            sig.copy_from_slice(&bytes[12..]);
            self.key
                .verify_strict(
                    cosigned_message(body, timestamp).as_bytes(),
                    &Signature::from_bytes(&sig),
                )
                .map_err(|_| invalid())?;
            found = Some(timestamp);
        }
        found.ok_or(CosignatureError::Missing {
            name: self.name.clone(),
        })
    }
}

/// Checks that at least `quorum` of `witnesses` cosigned the note; returns who did, with
/// the time each one signed. A cosignature by a listed witness that is present but does
/// not verify fails the whole note (the note was tampered with).
pub fn verify_cosignatures(
    note: &str,
    witnesses: &[WitnessVerifier],
    quorum: usize,
) -> Result<Vec<(String, u64)>, CosignatureError> {
    let mut cosigned = Vec::new();
    for w in witnesses {
        match w.verify(note) {
            Ok(ts) => cosigned.push((w.name.clone(), ts)),
            Err(CosignatureError::Missing { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    if cosigned.len() < quorum {
        return Err(CosignatureError::Quorum {
            got: cosigned.len(),
            needed: quorum,
        });
    }
    Ok(cosigned)
}

/// The note with more signature lines appended (each ending in a newline).
pub fn add_signature_lines(note: &str, lines: &[String]) -> String {
    let mut out = note.to_owned();
    for line in lines {
        out.push_str(line);
    }
    out
}

/// Why an add-checkpoint body could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddCheckpointParseError {
    #[error("the body is longer than {max} bytes")]
    TooLarge { max: usize },
    #[error("missing or non-canonical `old <size>` line")]
    BadOldSize,
    #[error("proof line {line} is not a canonical base64 SHA-256 hash")]
    BadProofHash { line: usize },
    #[error("more than {MAX_ADD_CHECKPOINT_PROOF} consistency proof lines")]
    TooManyProofLines,
    #[error("missing the blank line and the checkpoint")]
    MissingCheckpoint,
}

/// The body of a tlog-witness `add-checkpoint` request: the size of the checkpoint the
/// witness last cosigned, a consistency proof from it, and the new checkpoint note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddCheckpoint {
    pub old_size: u64,
    pub proof: Vec<Hash>,
    pub checkpoint: String,
}

impl AddCheckpoint {
    pub fn to_text(&self) -> String {
        let mut out = format!("old {}\n", self.old_size);
        for hash in &self.proof {
            out.push_str(&encode_b64(hash));
            out.push('\n');
        }
        out.push('\n');
        out.push_str(&self.checkpoint);
        out
    }

    pub fn parse(text: &str) -> Result<Self, AddCheckpointParseError> {
        let max = MAX_NOTE_LEN + 64 * 64;
        if text.len() > max {
            return Err(AddCheckpointParseError::TooLarge { max });
        }
        let (old, mut rest) = text.split_once('\n').ok_or(AddCheckpointParseError::BadOldSize)?;
        let old_size = old
            .strip_prefix("old ")
            .and_then(parse_canonical_u64)
            .ok_or(AddCheckpointParseError::BadOldSize)?;
        let mut proof = Vec::new();
        loop {
            let (line, after) = rest
                .split_once('\n')
                .ok_or(AddCheckpointParseError::MissingCheckpoint)?;
            rest = after;
            if line.is_empty() {
                break;
            }
            if proof.len() == MAX_ADD_CHECKPOINT_PROOF {
                return Err(AddCheckpointParseError::TooManyProofLines);
            }
            proof.push(decode_b64_hash(line).ok_or(AddCheckpointParseError::BadProofHash { line: proof.len() + 1 })?);
        }
        if rest.is_empty() {
            return Err(AddCheckpointParseError::MissingCheckpoint);
        }
        Ok(Self {
            old_size,
            proof,
            checkpoint: rest.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::note::{Checkpoint, LogSigner, LogVerifier};

    fn signer(seed: u8) -> WitnessSigner {
        WitnessSigner::from_secret_bytes("witness.example/w1", &[seed; 32]).unwrap()
    }

    fn checkpoint_note() -> String {
        let log = LogSigner::from_secret_bytes("example.com/log", &[9; 32]).unwrap();
        Checkpoint::new("example.com/log", 5, [7; 32]).unwrap().sign(&log)
    }

    fn body(note: &str) -> &str {
        &note[..=note.rfind("\n\n").unwrap()]
    }

    #[test]
    fn a_cosignature_verifies_and_carries_its_time() {
        let w = signer(1);
        let note = checkpoint_note();
        let line = w.cosign(body(&note), 1_679_315_147);
        let cosigned = add_signature_lines(&note, &[line]);
        assert_eq!(w.verifier().verify(&cosigned), Ok(1_679_315_147));
        // The log's own signature still opens with the log key.
        let log = LogSigner::from_secret_bytes("example.com/log", &[9; 32]).unwrap();
        assert!(crate::open_checkpoint(&cosigned, &log.verifier()).is_ok());
    }

    #[test]
    fn keys_round_trip_and_use_the_cosignature_algorithm_byte() {
        let w = signer(2);
        let vkey = w.vkey();
        assert_eq!(WitnessVerifier::from_vkey(&vkey).unwrap(), w.verifier());
        assert_eq!(WitnessSigner::from_skey(&w.to_skey()).unwrap().vkey(), vkey);
        // A log (0x01) key is not a cosignature key.
        let log = LogSigner::from_secret_bytes("witness.example/w1", &[2; 32]).unwrap();
        assert!(matches!(
            WitnessVerifier::from_vkey(&log.vkey()),
            Err(CosignatureError::Key(NoteError::UnsupportedAlgorithm {
                got: 1,
                expected: 4
            }))
        ));
        assert_ne!(log.vkey(), vkey, "same key, different key ID");
        // And a witness's key is not a log key; the error names both algorithms.
        let err = LogVerifier::from_vkey(&vkey).unwrap_err();
        assert_eq!(err, NoteError::UnsupportedAlgorithm { got: 4, expected: 1 });
        assert!(err.to_string().contains("0x04 where 0x01 is expected"), "{err}");
    }

    /// The key ID is SHA-256(name ‖ "\n" ‖ 0x04 ‖ key)[:4], computed here by hand.
    #[test]
    fn the_key_id_is_the_specs() {
        use sha2::{Digest, Sha256};
        let w = signer(3);
        let public = w.verifier().key.to_bytes();
        let mut h = Sha256::new();
        h.update(b"witness.example/w1\n\x04");
        h.update(public);
        let id = h.finalize();
        assert!(w
            .vkey()
            .starts_with(&format!("witness.example/w1+{}+", hex::encode(&id[..4]))));
    }

    #[test]
    fn a_changed_note_or_timestamp_fails() {
        let w = signer(4);
        let note = checkpoint_note();
        let cosigned = add_signature_lines(&note, &[w.cosign(body(&note), 100)]);
        let moved = cosigned.replacen("\n5\n", "\n6\n", 1);
        assert_eq!(
            w.verifier().verify(&moved),
            Err(CosignatureError::Invalid {
                name: "witness.example/w1".into()
            })
        );
        // Another witness's line under the same name is skipped as unknown.
        let other = signer(5);
        let by_other = add_signature_lines(&note, &[other.cosign(body(&note), 100)]);
        assert!(matches!(
            w.verifier().verify(&by_other),
            Err(CosignatureError::Missing { .. })
        ));
        let twice = add_signature_lines(&cosigned, &[w.cosign(body(&note), 101)]);
        assert!(matches!(
            w.verifier().verify(&twice),
            Err(CosignatureError::Duplicate { .. })
        ));
    }

    #[test]
    fn a_quorum_counts_only_listed_witnesses() {
        let (a, b, c) = (signer(6), signer(7), signer(8));
        let note = checkpoint_note();
        let two = add_signature_lines(&note, &[a.cosign(body(&note), 1), b.cosign(body(&note), 2)]);
        let all = [a.verifier(), b.verifier(), c.verifier()];
        assert_eq!(verify_cosignatures(&two, &all, 2).unwrap().len(), 2);
        assert_eq!(
            verify_cosignatures(&two, &all, 3),
            Err(CosignatureError::Quorum { got: 2, needed: 3 })
        );
    }

    #[test]
    fn add_checkpoint_bodies_round_trip_and_refuse_junk() {
        let req = AddCheckpoint {
            old_size: 20,
            proof: vec![[1; 32], [2; 32]],
            checkpoint: checkpoint_note(),
        };
        assert_eq!(AddCheckpoint::parse(&req.to_text()).unwrap(), req);
        let empty = AddCheckpoint {
            old_size: 0,
            proof: vec![],
            checkpoint: checkpoint_note(),
        };
        assert!(empty.to_text().starts_with("old 0\n\n"));
        assert_eq!(AddCheckpoint::parse(&empty.to_text()).unwrap(), empty);
        for bad in [
            "",
            "old 01\n\nx",
            "old -1\n\nx",
            "new 1\n\nx",
            "old 1\nnot-base64\n\nx",
            "old 1\n\n",
        ] {
            assert!(AddCheckpoint::parse(bad).is_err(), "{bad:?}");
        }
        let many = format!(
            "old 1\n{}\nx",
            "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=\n".repeat(64)
        );
        assert_eq!(
            AddCheckpoint::parse(&many),
            Err(AddCheckpointParseError::TooManyProofLines)
        );
    }
}
