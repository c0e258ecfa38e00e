//! What a witness decides on an `add-checkpoint` request (<https://c2sp.org/tlog-witness>):
//! pure, so the rules are tested here and the `danbao witness` server only stores and
//! answers. The caller must run [`add_checkpoint`] and the write of the new state as one
//! atomic step per log (the spec's rollback race).

use crate::cosignature::{AddCheckpoint, AddCheckpointParseError};
use crate::hash::{empty_root, Hash};
use crate::note::{open_checkpoint, Checkpoint, LogVerifier, NoteError};
use crate::verify::{verify_consistency, VerifyError};

/// The latest checkpoint a witness cosigned for one log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WitnessedTree {
    pub size: u64,
    pub root: Hash,
}

/// Why the witness will not cosign, each with the HTTP status the spec gives it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WitnessRefusal {
    #[error("malformed request: {0}")]
    Malformed(AddCheckpointParseError),
    #[error("malformed checkpoint: {0}")]
    MalformedCheckpoint(NoteError),
    #[error("unknown log {origin:?}")]
    UnknownLog { origin: String },
    #[error("the checkpoint is not signed by the log's key: {0}")]
    NotSigned(NoteError),
    #[error("old size {old} is above the checkpoint's size {size}")]
    OldAboveNew { old: u64, size: u64 },
    #[error("old size {old} is not the size last cosigned ({latest})")]
    Conflict { old: u64, latest: u64 },
    #[error("a checkpoint of size 0 must have the empty tree's root")]
    EmptyTreeRoot,
    #[error("a proof from size 0 must be empty")]
    ProofFromZero,
    #[error("not consistent with the cosigned tree of size {old}: {error}")]
    Inconsistent { old: u64, error: VerifyError },
}

impl WitnessRefusal {
    /// The HTTP status tlog-witness assigns.
    pub fn status(&self) -> u16 {
        match self {
            Self::Malformed(_) | Self::MalformedCheckpoint(_) | Self::OldAboveNew { .. } => 400,
            Self::NotSigned(_) => 403,
            Self::UnknownLog { .. } => 404,
            Self::Conflict { .. } => 409,
            Self::EmptyTreeRoot | Self::ProofFromZero | Self::Inconsistent { .. } => 422,
        }
    }
}

/// A checked request: the checkpoint to cosign and the body bytes to cosign over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    pub checkpoint: Checkpoint,
    /// The verified note as it came, to serve to monitors once cosigned.
    pub note: String,
    /// The note body, the bytes a cosignature covers.
    pub body: String,
    /// The new state to persist before answering.
    pub tree: WitnessedTree,
}

/// The origin line of a note (its first line), read before any check so the witness can
/// pick the log's key.
pub fn note_origin(note: &str) -> Option<&str> {
    note.split_once('\n').map(|(origin, _)| origin)
}

/// Decides an add-checkpoint request body against the logs this witness follows and the
/// state it holds for the request's log (`latest(origin)`, `None` if it never cosigned one).
pub fn add_checkpoint<'a>(
    body: &str,
    logs: &'a [LogVerifier],
    latest: impl FnOnce(&str) -> Option<WitnessedTree>,
) -> Result<(&'a LogVerifier, Accepted), WitnessRefusal> {
    let request = AddCheckpoint::parse(body).map_err(WitnessRefusal::Malformed)?;
    let origin = note_origin(&request.checkpoint).ok_or(WitnessRefusal::MalformedCheckpoint(
        NoteError::MalformedBody("no origin line"),
    ))?;
    let log = logs
        .iter()
        .find(|l| l.origin() == origin)
        .ok_or_else(|| WitnessRefusal::UnknownLog {
            origin: origin.to_owned(),
        })?;
    let checkpoint = open_checkpoint(&request.checkpoint, log).map_err(|e| match e {
        NoteError::NoKnownSignature { .. } | NoteError::InvalidSignature { .. } | NoteError::DuplicateSignature => {
            WitnessRefusal::NotSigned(e)
        }
        other => WitnessRefusal::MalformedCheckpoint(other),
    })?;
    let (old, size) = (request.old_size, checkpoint.size());
    if old > size {
        return Err(WitnessRefusal::OldAboveNew { old, size });
    }
    let known = latest(origin);
    let latest_size = known.as_ref().map_or(0, |t| t.size);
    if old != latest_size {
        return Err(WitnessRefusal::Conflict {
            old,
            latest: latest_size,
        });
    }
    if size == 0 && *checkpoint.root() != empty_root() {
        return Err(WitnessRefusal::EmptyTreeRoot);
    }
    match known {
        None => {
            if !request.proof.is_empty() {
                return Err(WitnessRefusal::ProofFromZero);
            }
        }
        Some(tree) if old == 0 => {
            // Cosigned an empty tree before: any tree extends it.
            debug_assert_eq!(tree.size, 0);
            if !request.proof.is_empty() {
                return Err(WitnessRefusal::ProofFromZero);
            }
        }
        Some(tree) => {
            // Same size: the proof must be empty and the roots equal (a different root at
            // the same size is a fork); larger: an RFC 6962 consistency proof.
            verify_consistency(tree.size, size, &request.proof, &tree.root, checkpoint.root())
                .map_err(|error| WitnessRefusal::Inconsistent { old, error })?;
        }
    }
    let body = checkpoint.to_body();
    let tree = WitnessedTree {
        size,
        root: *checkpoint.root(),
    };
    Ok((
        log,
        Accepted {
            checkpoint,
            note: request.checkpoint,
            body,
            tree,
        },
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::cosignature::AddCheckpoint;
    use crate::hash::leaf_hash;
    use crate::note::LogSigner;
    use crate::tree::{consistency_proof_from_leaves, root_from_leaves};

    const ORIGIN: &str = "danbao.test/log";

    fn log() -> LogSigner {
        LogSigner::from_secret_bytes(ORIGIN, &[1; 32]).unwrap()
    }

    fn leaves(tag: &str, n: usize) -> Vec<Hash> {
        (0..n).map(|i| leaf_hash(format!("{tag}{i}").as_bytes())).collect()
    }

    fn request(old: u64, all: &[Hash], size: usize, signer: &LogSigner) -> String {
        let proof = if old == 0 {
            vec![]
        } else {
            consistency_proof_from_leaves(&all[..size], old).unwrap()
        };
        AddCheckpoint {
            old_size: old,
            proof,
            checkpoint: Checkpoint::new(ORIGIN, size as u64, root_from_leaves(&all[..size]))
                .unwrap()
                .sign(signer),
        }
        .to_text()
    }

    fn tree(all: &[Hash], size: usize) -> Option<WitnessedTree> {
        Some(WitnessedTree {
            size: size as u64,
            root: root_from_leaves(&all[..size]),
        })
    }

    #[test]
    fn a_first_checkpoint_then_a_consistent_one_are_accepted() {
        let (signer, logs) = (log(), vec![log().verifier()]);
        let all = leaves("a", 20);
        let (_, first) = add_checkpoint(&request(0, &all, 7, &signer), &logs, |_| None).unwrap();
        assert_eq!(first.tree, tree(&all, 7).unwrap());
        let (_, next) = add_checkpoint(&request(7, &all, 20, &signer), &logs, |_| tree(&all, 7)).unwrap();
        assert_eq!(next.tree.size, 20);
        // The same checkpoint again is fine (idempotent).
        assert!(add_checkpoint(&request(20, &all, 20, &signer), &logs, |_| tree(&all, 20)).is_ok());
    }

    #[test]
    fn a_fork_of_the_same_size_is_refused() {
        let (signer, logs) = (log(), vec![log().verifier()]);
        let honest = leaves("a", 9);
        let mut forked = honest.clone();
        forked[4] = leaf_hash(b"rewritten");
        let refusal = add_checkpoint(&request(9, &forked, 9, &signer), &logs, |_| tree(&honest, 9)).unwrap_err();
        assert!(
            matches!(refusal, WitnessRefusal::Inconsistent { old: 9, .. }),
            "{refusal}"
        );
        assert_eq!(refusal.status(), 422);
        // And a larger tree on top of the fork.
        let longer: Vec<Hash> = forked.iter().copied().chain(leaves("b", 3)).collect();
        let refusal = add_checkpoint(&request(9, &longer, 12, &signer), &logs, |_| tree(&honest, 9)).unwrap_err();
        assert_eq!(refusal.status(), 422);
    }

    #[test]
    fn a_rollback_or_a_stale_old_size_is_refused() {
        let (signer, logs) = (log(), vec![log().verifier()]);
        let all = leaves("a", 20);
        // The log asks from size 5 to 8 but the witness holds 12: 409 with its size.
        let refusal = add_checkpoint(&request(5, &all, 8, &signer), &logs, |_| tree(&all, 12)).unwrap_err();
        assert_eq!(refusal, WitnessRefusal::Conflict { old: 5, latest: 12 });
        assert_eq!(refusal.status(), 409);
        // Claiming the witness's size but going back to 8: old above new.
        let back = AddCheckpoint {
            old_size: 12,
            proof: vec![],
            checkpoint: Checkpoint::new(ORIGIN, 8, root_from_leaves(&all[..8]))
                .unwrap()
                .sign(&signer),
        };
        let refusal = add_checkpoint(&back.to_text(), &logs, |_| tree(&all, 12)).unwrap_err();
        assert_eq!(refusal.status(), 400);
    }

    #[test]
    fn unknown_logs_bad_signatures_and_bad_proofs_get_their_statuses() {
        let logs = vec![log().verifier()];
        let all = leaves("a", 10);
        let stranger = LogSigner::from_secret_bytes("other.test/log", &[2; 32]).unwrap();
        let other_origin = AddCheckpoint {
            old_size: 0,
            proof: vec![],
            checkpoint: Checkpoint::new("other.test/log", 3, [0; 32]).unwrap().sign(&stranger),
        };
        assert_eq!(
            add_checkpoint(&other_origin.to_text(), &logs, |_| None)
                .unwrap_err()
                .status(),
            404
        );
        let impostor = LogSigner::from_secret_bytes(ORIGIN, &[3; 32]).unwrap();
        assert_eq!(
            add_checkpoint(&request(0, &all, 4, &impostor), &logs, |_| None)
                .unwrap_err()
                .status(),
            403
        );
        let mut proof_from_zero = AddCheckpoint::parse(&request(0, &all, 4, &log())).unwrap();
        proof_from_zero.proof.push([0; 32]);
        assert_eq!(
            add_checkpoint(&proof_from_zero.to_text(), &logs, |_| None).unwrap_err(),
            WitnessRefusal::ProofFromZero
        );
        let mut bad_proof = AddCheckpoint::parse(&request(4, &all, 10, &log())).unwrap();
        bad_proof.proof[0][0] ^= 1;
        assert_eq!(
            add_checkpoint(&bad_proof.to_text(), &logs, |_| tree(&all, 4))
                .unwrap_err()
                .status(),
            422
        );
        let empty_wrong = AddCheckpoint {
            old_size: 0,
            proof: vec![],
            checkpoint: Checkpoint::new(ORIGIN, 0, [5; 32]).unwrap().sign(&log()),
        };
        assert_eq!(
            add_checkpoint(&empty_wrong.to_text(), &logs, |_| None).unwrap_err(),
            WitnessRefusal::EmptyTreeRoot
        );
        assert_eq!(add_checkpoint("junk", &logs, |_| None).unwrap_err().status(), 400);
    }
}
