//! A log written by transparency-dev/tessera (copied into `tests/vectors/tessera`, see its
//! README): bytes another implementation produced, read with ours. Every checkpoint must
//! open under the test key, every partial tile must rebuild its checkpoint's root, every
//! entry must hash to its tile's leaf, and our proofs between its sizes must verify against
//! the roots Tessera signed.

use std::path::{Path, PathBuf};

use danbao_evidence::{
    consistency_proof_from_leaves, empty_root, inclusion_proof_from_leaves, leaf_hash, open_checkpoint,
    root_from_leaves, verify_consistency, verify_inclusion, Checkpoint, Hash, LogVerifier,
};

const VKEY: &str = "example.com/log/testdata+33d7b496+AeHTu4Q3hEIMHNqc6fASMsq3rKNx280NI+oO5xCFkkSx";
const ENTRIES: [&str; 15] = [
    "one", "two", "three", "four", "five", "six", "seven", "eit", "nain", "ten", "ileven", "twelf", "threeten",
    "fourten", "fivten",
];

fn log_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/tessera/log")
}

fn read(rel: &str) -> Vec<u8> {
    std::fs::read(log_dir().join(rel)).unwrap_or_else(|e| panic!("reading {rel}: {e}"))
}

fn checkpoint(size: usize) -> Checkpoint {
    let note = String::from_utf8(read(&format!("checkpoint.{size}"))).unwrap();
    open_checkpoint(&note, &LogVerifier::from_vkey(VKEY).unwrap()).unwrap()
}

fn tile_hashes(size: usize) -> Vec<Hash> {
    read(&format!("tile/0/000.p/{size}"))
        .chunks(32)
        .map(|c| c.try_into().unwrap())
        .collect()
}

/// An entry bundle: each entry a big-endian u16 length and its bytes.
fn bundle(size: usize) -> Vec<Vec<u8>> {
    let bytes = read(&format!("tile/entries/000.p/{size}"));
    let mut rest = bytes.as_slice();
    let mut out = Vec::new();
    while !rest.is_empty() {
        let len = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
        out.push(rest[2..2 + len].to_vec());
        rest = &rest[2 + len..];
    }
    out
}

#[test]
fn every_tessera_checkpoint_opens_under_its_key() {
    let empty = checkpoint(0);
    assert_eq!(empty.size(), 0);
    assert_eq!(
        *empty.root(),
        empty_root(),
        "Tessera's empty log signs SHA-256 of nothing"
    );
    for size in 1..=15 {
        let c = checkpoint(size);
        assert_eq!(c.size(), size as u64);
        assert_eq!(c.origin(), "example.com/log/testdata");
    }
    assert_eq!(read("checkpoint"), read("checkpoint.15"));
}

#[test]
fn a_changed_tessera_checkpoint_does_not_open() {
    let note = String::from_utf8(read("checkpoint.15")).unwrap();
    let verifier = LogVerifier::from_vkey(VKEY).unwrap();
    let bigger = note.replacen("\n15\n", "\n16\n", 1);
    assert!(open_checkpoint(&bigger, &verifier).is_err());
    let other_root = note.replacen("rKbD", "rKbE", 1);
    assert_ne!(other_root, note);
    assert!(open_checkpoint(&other_root, &verifier).is_err());
}

#[test]
fn tessera_tiles_rebuild_every_signed_root() {
    for size in 1..=15 {
        let hashes = tile_hashes(size);
        assert_eq!(hashes.len(), size);
        assert_eq!(root_from_leaves(&hashes), *checkpoint(size).root(), "size {size}");
        if size > 1 {
            assert_eq!(
                hashes[..size - 1],
                tile_hashes(size - 1)[..],
                "a narrower tile is a prefix"
            );
        }
        let entries = bundle(size);
        assert_eq!(entries.len(), size);
        for (i, entry) in entries.iter().enumerate() {
            assert_eq!(entry.as_slice(), ENTRIES[i].as_bytes());
            assert_eq!(
                leaf_hash(entry),
                hashes[i],
                "entry {i} hashes to its leaf (0x00 ‖ entry)"
            );
        }
    }
}

#[test]
fn our_proofs_verify_against_the_roots_tessera_signed() {
    let leaves = tile_hashes(15);
    for n in 1..=15usize {
        let new = checkpoint(n);
        for m in 1..=n {
            let proof = consistency_proof_from_leaves(&leaves[..n], m as u64).unwrap();
            verify_consistency(m as u64, n as u64, &proof, checkpoint(m).root(), new.root())
                .unwrap_or_else(|e| panic!("{m} → {n}: {e}"));
        }
        for (i, leaf) in leaves[..n].iter().enumerate() {
            let proof = inclusion_proof_from_leaves(&leaves[..n], i as u64).unwrap();
            verify_inclusion(leaf, i as u64, n as u64, &proof, new.root()).unwrap();
        }
    }
    // Sizes 7 and 8 share no prefix root with a changed leaf: the check bites.
    let mut forged = leaves.clone();
    forged[3] = leaf_hash(b"FOUR");
    let proof = consistency_proof_from_leaves(&forged[..8], 7).unwrap();
    assert!(verify_consistency(7, 8, &proof, checkpoint(7).root(), checkpoint(8).root()).is_err());
}
