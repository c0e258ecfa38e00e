//! Receipts: round trip, and each kind of tampering caught by its own check.

use base64::Engine as _;
use danbao_evidence::{
    consistency_proof, inclusion_proof, verify_consistency_between, verify_receipt, Checkpoint, CompactRange,
    ConsistencyCheckError, Leaf, LeafRecord, LogSigner, NoteError, Receipt, ReceiptError, ReceiptParseError,
    VerifyError,
};

use crate::common::{rng, sample_fields, MapStore};

const ORIGIN: &str = "danbao.dev/evidence-log";

struct Log {
    signer: LogSigner,
    store: MapStore,
    frontier: CompactRange,
    records: Vec<LeafRecord>,
}

/// A log of 21 records, one case chained by prev_leaf_hash.
fn log() -> Log {
    let mut rng = rng(30);
    let signer = LogSigner::generate(ORIGIN, &mut rng).unwrap();
    let mut store = MapStore::default();
    let mut frontier = CompactRange::new();
    let mut records: Vec<LeafRecord> = Vec::new();
    for i in 0..21 {
        let mut fields = sample_fields(&mut rng);
        fields.at_ms += i;
        fields.prev_leaf_hash = records.last().map(LeafRecord::leaf_hash_hex);
        let record = LeafRecord::new(fields).unwrap();
        store.insert_all(&frontier.push(record.leaf_hash()).unwrap());
        records.push(record);
    }
    Log {
        signer,
        store,
        frontier,
        records,
    }
}

impl Log {
    fn receipt(&self, index: usize) -> Receipt {
        let size = self.frontier.size();
        let checkpoint = Checkpoint::new(ORIGIN, size, self.frontier.root()).unwrap();
        Receipt {
            leaf: self.records[index].clone().into(),
            index: index as u64,
            proof: inclusion_proof(&self.store, index as u64, size).unwrap(),
            checkpoint_note: checkpoint.sign(&self.signer),
        }
    }
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[test]
fn receipt_round_trip() {
    let log = log();
    let verifier = log.signer.verifier();
    for index in [0, 7, 20] {
        let receipt = log.receipt(index);
        let text = receipt.to_text();
        let expected_head = format!(
            "c2sp.org/tlog-proof@v1\nextra {}\nindex {index}\n",
            b64(log.records[index].to_canonical().as_bytes())
        );
        assert!(text.starts_with(&expected_head), "{text}");
        assert!(text.contains(&format!("\n\n{}", receipt.checkpoint_note)));
        assert_eq!(Receipt::parse(&text).unwrap(), receipt);
        let verified = verify_receipt(&text, &verifier).unwrap();
        assert_eq!(verified.leaf, Leaf::V1(log.records[index].clone()));
        assert_eq!(verified.index, index as u64);
        assert_eq!(verified.leaf_hash, log.records[index].leaf_hash());
        assert_eq!(verified.checkpoint.size(), 21);
        assert_eq!(verify_receipt(&receipt, &verifier).unwrap(), verified);
    }
}

/// One change to a record's fields.
type FieldEdit = dyn Fn(&mut danbao_evidence::LeafFields);

#[test]
fn tampered_leaf_fields_fail_inclusion() {
    let log = log();
    let verifier = log.signer.verifier();
    let receipt = log.receipt(5);
    let edits: Vec<Box<FieldEdit>> = vec![
        Box::new(|f| f.case.push('x')),
        Box::new(|f| f.kind = "order.refunded".to_owned()),
        Box::new(|f| {
            f.refs.insert("order_id".to_owned(), "someone-else".to_owned());
        }),
        Box::new(|f| {
            f.refs.insert("extra_ref".to_owned(), "1".to_owned());
        }),
        Box::new(|f| {
            f.refs.remove("payment_id");
        }),
        Box::new(|f| f.content_sha256 = "0".repeat(64)),
        Box::new(|f| f.at_ms += 1),
        Box::new(|f| f.prev_leaf_hash = None),
        Box::new(|f| f.salt = "f".repeat(32)),
    ];
    for (i, edit) in edits.iter().enumerate() {
        let mut fields = receipt.leaf.as_v1().unwrap().clone().into_fields();
        edit(&mut fields);
        let tampered = Receipt {
            leaf: LeafRecord::new(fields).unwrap().into(),
            ..receipt.clone()
        };
        assert_eq!(
            verify_receipt(&tampered.to_text(), &verifier),
            Err(ReceiptError::Inclusion(VerifyError::RootMismatch)),
            "edit {i}"
        );
    }
    // A record made non-canonical inside `extra` fails at parsing.
    let bad_record = receipt.leaf.to_canonical().replace("kind ", "kind  ");
    let text = receipt.to_text().replacen(
        &b64(receipt.leaf.to_canonical().as_bytes()),
        &b64(bad_record.as_bytes()),
        1,
    );
    assert!(matches!(
        verify_receipt(&text, &verifier),
        Err(ReceiptError::Parse(ReceiptParseError::Leaf(_)))
    ));
}

#[test]
fn tampered_index_proof_and_checkpoint_fail_their_checks() {
    let log = log();
    let verifier = log.signer.verifier();
    let receipt = log.receipt(6);
    let text = receipt.to_text();

    // Index: same proof length at 7, so the root differs; beyond the size, refused as such.
    let moved = text.replacen("\nindex 6\n", "\nindex 7\n", 1);
    assert_eq!(
        verify_receipt(&moved, &verifier),
        Err(ReceiptError::Inclusion(VerifyError::RootMismatch))
    );
    let beyond = text.replacen("\nindex 6\n", "\nindex 21\n", 1);
    assert_eq!(
        verify_receipt(&beyond, &verifier),
        Err(ReceiptError::Inclusion(VerifyError::IndexBeyondSize {
            index: 21,
            size: 21
        }))
    );
    let last = text.replacen("\nindex 6\n", "\nindex 20\n", 1);
    assert!(matches!(
        verify_receipt(&last, &verifier),
        Err(ReceiptError::Inclusion(VerifyError::WrongProofLength { .. }))
    ));
    let leading_zero = text.replacen("\nindex 6\n", "\nindex 06\n", 1);
    assert_eq!(
        verify_receipt(&leading_zero, &verifier),
        Err(ReceiptError::Parse(ReceiptParseError::BadIndex))
    );

    // Each proof hash.
    for i in 0..receipt.proof.len() {
        let mut tampered = receipt.clone();
        tampered.proof[i][31] ^= 0x80;
        assert_eq!(
            verify_receipt(&tampered.to_text(), &verifier),
            Err(ReceiptError::Inclusion(VerifyError::RootMismatch)),
            "proof hash {i}"
        );
    }
    let mut shorter = receipt.clone();
    shorter.proof.pop();
    assert!(matches!(
        verify_receipt(&shorter, &verifier),
        Err(ReceiptError::Inclusion(VerifyError::WrongProofLength { .. }))
    ));

    // The checkpoint: a changed size or root breaks its signature; another key's note
    // has no signature we know; a validly signed checkpoint of another tree breaks the
    // inclusion proof.
    let cp_body = Checkpoint::new(ORIGIN, 21, log.frontier.root()).unwrap().to_body();
    let bigger = text.replacen(&cp_body, &cp_body.replacen("\n21\n", "\n22\n", 1), 1);
    assert_eq!(
        verify_receipt(&bigger, &verifier),
        Err(ReceiptError::Checkpoint(NoteError::InvalidSignature {
            name: ORIGIN.to_owned()
        }))
    );
    let other_root = Checkpoint::new(ORIGIN, 21, [1; 32]).unwrap().to_body();
    let rerooted = text.replacen(&cp_body, &other_root, 1);
    assert_eq!(
        verify_receipt(&rerooted, &verifier),
        Err(ReceiptError::Checkpoint(NoteError::InvalidSignature {
            name: ORIGIN.to_owned()
        }))
    );
    let other_signer = LogSigner::generate(ORIGIN, &mut rng(31)).unwrap();
    let foreign = Receipt {
        checkpoint_note: Checkpoint::new(ORIGIN, 21, log.frontier.root())
            .unwrap()
            .sign(&other_signer),
        ..receipt.clone()
    };
    assert_eq!(
        verify_receipt(&foreign, &verifier),
        Err(ReceiptError::Checkpoint(NoteError::NoKnownSignature {
            name: ORIGIN.to_owned()
        }))
    );
    let wrong_tree = Receipt {
        checkpoint_note: Checkpoint::new(ORIGIN, 21, [1; 32]).unwrap().sign(&log.signer),
        ..receipt
    };
    assert_eq!(
        verify_receipt(&wrong_tree, &verifier),
        Err(ReceiptError::Inclusion(VerifyError::RootMismatch))
    );
}

#[test]
fn malformed_receipts_fail_parsing() {
    let log = log();
    let verifier = log.signer.verifier();
    let text = log.receipt(3).to_text();
    let cases: Vec<(String, ReceiptParseError)> = vec![
        (
            text.replacen("c2sp.org/tlog-proof@v1", "c2sp.org/tlog-proof@v2", 1),
            ReceiptParseError::BadHeader,
        ),
        (
            text.replacen("\nextra ", "\nextras ", 1),
            ReceiptParseError::MissingExtra,
        ),
        (
            text.replacen("\nextra ", "\nextra !", 1),
            ReceiptParseError::BadExtraEncoding,
        ),
        (
            text.replacen("\nindex 3\n", "\nindex -3\n", 1),
            ReceiptParseError::BadIndex,
        ),
        (
            // Index 3 of 21 has a 5-hash proof; the origin line is then read as a 6th.
            text.replacen("\n\n", "\n", 1),
            ReceiptParseError::BadProofHash { line: 6 },
        ),
        (
            text.split_once("\n\n").unwrap().0.to_owned() + "\n\n",
            ReceiptParseError::MissingCheckpoint,
        ),
    ];
    for (bad, expected) in cases {
        assert_eq!(
            verify_receipt(&bad, &verifier),
            Err(ReceiptError::Parse(expected.clone())),
            "{bad}"
        );
    }
    let mut lines: Vec<&str> = text.split('\n').collect();
    let garbage = format!("{}A", lines[3]);
    lines[3] = &garbage;
    assert_eq!(
        verify_receipt(&lines.join("\n"), &verifier),
        Err(ReceiptError::Parse(ReceiptParseError::BadProofHash { line: 1 }))
    );
}

#[test]
fn consistency_between_signed_checkpoints() {
    let log = log();
    let verifier = log.signer.verifier();
    let leaves: Vec<_> = log.records.iter().map(LeafRecord::leaf_hash).collect();
    let old = Checkpoint::new(ORIGIN, 13, danbao_evidence::root_from_leaves(&leaves[..13])).unwrap();
    let new = Checkpoint::new(ORIGIN, 21, log.frontier.root()).unwrap();
    let proof = consistency_proof(&log.store, 13, 21).unwrap();
    let (o, n) = verify_consistency_between(&old.sign(&log.signer), &new.sign(&log.signer), &proof, &verifier).unwrap();
    assert_eq!((o, n), (old.clone(), new.clone()));
    // A fork: a validly signed size-13 checkpoint with another root.
    let fork = Checkpoint::new(ORIGIN, 13, [3; 32]).unwrap();
    assert_eq!(
        verify_consistency_between(&fork.sign(&log.signer), &new.sign(&log.signer), &proof, &verifier),
        Err(ConsistencyCheckError::Proof(VerifyError::Root1Mismatch))
    );
    let stranger = LogSigner::generate(ORIGIN, &mut rng(32)).unwrap();
    assert!(matches!(
        verify_consistency_between(&old.sign(&log.signer), &new.sign(&stranger), &proof, &verifier),
        Err(ConsistencyCheckError::NewCheckpoint(NoteError::NoKnownSignature { .. }))
    ));
    assert!(matches!(
        verify_consistency_between(&new.sign(&log.signer), &old.sign(&log.signer), &proof, &verifier),
        Err(ConsistencyCheckError::Proof(VerifyError::SizesOutOfOrder { .. }))
    ));
}
