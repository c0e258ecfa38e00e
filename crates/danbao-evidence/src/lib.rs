//! Danbao's evidence log (SPEC §11): an RFC 6962 / RFC 9162 Merkle log of canonical
//! leaf records, checkpoints signed as C2SP signed notes, and receipts in the C2SP
//! `tlog-proof` form, all verifiable offline with only the log's public key.
//!
//! The crate is pure: no IO, no clock, no database, no async. Times come in as
//! milliseconds since the Unix epoch; storage comes in through two small traits
//! ([`NodeReader`] for stored full-subtree hashes, [`HashReader`] for leaf hashes).
//!
//! # Map
//!
//! - [`hash`]: RFC 6962 hashing ([`leaf_hash`], [`node_hash`], [`empty_root`]).
//! - [`tree`]: the reference root ([`root_from_leaves`]), the right-edge frontier
//!   ([`CompactRange`]) that appends without reading old leaves, which full-subtree
//!   nodes to store on append ([`nodes_to_store_after_append`]), and proof generation
//!   that reads O(log n) stored nodes ([`inclusion_proof`], [`consistency_proof`]).
//! - [`verify`]: the RFC 9162 §2.1.3.2 and §2.1.4.2 verification algorithms.
//! - [`leaf`]: [`LeafRecord`], the canonical, versioned text record that is hashed into
//!   the log (v1, public), and [`Leaf`], either version.
//! - [`sealed`]: [`SealedLeaf`] (v2), a commitment that says nothing about its event,
//!   and [`LeafOpening`], the secret that lets the event's parties check what it says.
//! - [`note`]: Ed25519 signed notes and `tlog-checkpoint` checkpoints ([`LogSigner`],
//!   [`LogVerifier`], [`Checkpoint`], [`open_checkpoint`]).
//! - [`liabilities`]: proof of liabilities, a Merkle sum tree (Chalkias et al.'s fixed
//!   summation tree) over salted balances, its signed statement and inclusion proofs
//!   ([`SumTree`], [`Statement`], [`verify_proof`]).
//! - [`receipt`]: `c2sp.org/tlog-proof@v1` receipts ([`Receipt`], [`verify_receipt`])
//!   and consistency between two signed checkpoints ([`verify_consistency_between`]).
//! - [`cosignature`]: witness cosignatures (`cosignature/v1`, Ed25519) and the tlog-witness
//!   `add-checkpoint` body; [`witness`]: what a witness decides on one.
//!
//! # Storage model
//!
//! Node `(level, index)` is the hash of the full subtree over leaves
//! `[index·2^level, (index+1)·2^level)`; level 0 is the leaf hashes. Only full subtrees
//! are ever stored, so a stored node never changes: the node table is insert-only.
//! Each append batch yields exactly the nodes that became complete; the frontier
//! ([`CompactRange`], O(log n) hashes) is stored with each checkpoint so the next batch
//! needs no old leaves. A proof reads at most about 2·log2(n) nodes.

pub mod cosignature;
pub mod hash;
pub mod leaf;
pub mod liabilities;
pub mod note;
pub mod receipt;
pub mod sealed;
pub mod tree;
mod util;
pub mod verify;
pub mod witness;

pub use cosignature::{
    add_signature_lines, verify_cosignatures, AddCheckpoint, AddCheckpointParseError, CosignatureError, WitnessSigner,
    WitnessVerifier,
};
pub use hash::{empty_root, leaf_hash, node_hash, sha256_hex, Hash};
pub use leaf::{Leaf, LeafError, LeafFields, LeafRecord, LEAF_FORMAT_LINE};
pub use liabilities::{
    derive_salt, empty_sum_root, format_proof, open_statement, verify_proof, Liability, LiabilityError, LiabilityProof,
    PathStep, SiblingSide, Statement, SumNode, SumTree, VerifiedLiability, PROOF_HEADER as LIABILITIES_PROOF_HEADER,
    STATEMENT_ORIGIN as LIABILITIES_ORIGIN,
};
pub use note::{open_checkpoint, Checkpoint, LogSigner, LogVerifier, NoteError};
pub use receipt::{
    verify_consistency_between, verify_receipt, ConsistencyCheckError, Receipt, ReceiptError, ReceiptParseError,
    ReceiptSource, VerifiedReceipt, TLOG_PROOF_HEADER,
};
pub use sealed::{
    EventFields, EventRecord, LeafOpening, OpeningError, SealedLeaf, OPENING_FORMAT_LINE, SEALED_LEAF_FORMAT_LINE,
};
pub use tree::{
    consistency_proof, consistency_proof_from_leaves, inclusion_proof, inclusion_proof_from_leaves, node_from_position,
    node_leaf_range, node_position, nodes_to_store_after_append, root_from_leaves, CompactRange, CompactRangeError,
    HashReader, LeafNodes, NodeReader, ProofError, StoredNode,
};
pub use verify::{verify_consistency, verify_inclusion, VerifyError};
pub use witness::{add_checkpoint, note_origin, Accepted, WitnessRefusal, WitnessedTree};
