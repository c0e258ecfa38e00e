//! Sealed (v2) leaves: a receipt proves inclusion and says nothing; the opening proves
//! what the leaf says, and any change to it is refused.

use danbao_evidence::{
    inclusion_proof, sha256_hex, verify_receipt, Checkpoint, CompactRange, EventFields, EventRecord, Leaf, LeafError,
    LeafOpening, LeafRecord, LogSigner, OpeningError, Receipt, SealedLeaf,
};

use crate::common::{rng, sample_fields, MapStore};

const ORIGIN: &str = "danbao.dev/evidence-log";

fn event() -> EventRecord {
    let f = sample_fields(&mut rng(50));
    EventRecord::new(EventFields {
        case: f.case,
        kind: f.kind,
        refs: f.refs,
        content_sha256: sha256_hex(br#"{"amount_minor":4200}"#),
        at_ms: f.at_ms,
        prev_leaf_hash: f.prev_leaf_hash,
    })
    .unwrap()
}

#[test]
fn a_sealed_leaf_says_nothing_and_its_opening_says_everything() {
    let mut r = rng(51);
    let (leaf, opening) = SealedLeaf::seal(event(), &mut r);
    let text = leaf.to_canonical();
    // Two lines: the format and a commitment; no id, kind, time, hash or chain.
    assert_eq!(text, format!("danbao-leaf/v2\ncommitment {}\n", leaf.commitment()));
    let e = event();
    for secret in [
        e.case(),
        e.kind(),
        e.content_sha256(),
        e.prev_leaf_hash().unwrap(),
        &e.at_ms().to_string(),
        "0190f7a4",
    ] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
    assert_eq!(SealedLeaf::parse_canonical(&text).unwrap(), leaf);
    assert_eq!(Leaf::parse_canonical(&text).unwrap(), Leaf::V2(leaf.clone()));
    assert_eq!(leaf.open(&opening).unwrap(), &e);
    // The opening's text round-trips and still opens.
    let parsed = LeafOpening::parse(&opening.to_text()).unwrap();
    assert_eq!(parsed, opening);
    assert_eq!(Leaf::V2(leaf.clone()).event(Some(&parsed)).unwrap(), e);
    // Sealing the same event again gives an unrelated leaf: leaves cannot be linked.
    let (again, _) = SealedLeaf::seal(event(), &mut r);
    assert_ne!(again.commitment(), leaf.commitment());
    assert_eq!(again.open(&opening), Err(OpeningError::Mismatch));
}

#[test]
fn a_changed_opening_is_refused() {
    let (leaf, opening) = SealedLeaf::seal(event(), &mut rng(52));
    let text = opening.to_text();
    let key_line = text.lines().nth(1).unwrap().to_owned();
    let other_key = format!("key {}", "ab".repeat(32));
    let edits: Vec<(&str, String)> = vec![
        ("another key", text.replacen(&key_line, &other_key, 1)),
        (
            "another case",
            text.replacen("case order:0190f7a4", "case order:0190f7a5", 1),
        ),
        (
            "another kind",
            text.replacen("kind order.paid", "kind order.refunded", 1),
        ),
        (
            "another time",
            text.replacen("at_ms 1767225600000", "at_ms 1767225600001", 1),
        ),
        (
            "another content",
            text.replacen(event().content_sha256(), &sha256_hex(b"{}"), 1),
        ),
        (
            "no predecessor",
            text.replacen(event().prev_leaf_hash().unwrap(), "none", 1),
        ),
        ("a ref removed", {
            let payment = text.lines().find(|l| l.starts_with("ref payment_id")).unwrap();
            text.replacen(&format!("{payment}\n"), "", 1)
        }),
    ];
    for (what, edited) in edits {
        assert_ne!(edited, text, "{what}: the edit changed nothing");
        let tampered = LeafOpening::parse(&edited).unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(leaf.open(&tampered), Err(OpeningError::Mismatch), "{what}");
    }
}

#[test]
fn non_canonical_openings_and_sealed_leaves_are_refused() {
    let (leaf, opening) = SealedLeaf::seal(event(), &mut rng(53));
    let text = opening.to_text();
    for (what, bad) in [
        ("no final newline", text.trim_end().to_owned()),
        (
            "upper-case key",
            text.replacen(text.lines().nth(1).unwrap(), &format!("key {}", "AB".repeat(32)), 1),
        ),
        ("short key", text.replacen("key ", "key 0", 1)),
        (
            "wrong format line",
            text.replacen("danbao-leaf-opening/v2", "danbao-leaf-opening/v3", 1),
        ),
        ("trailing blank line", format!("{text}\n")),
        ("key after case", {
            let l: Vec<&str> = text.lines().collect();
            let mut l = l.clone();
            l.swap(1, 2);
            l.join("\n") + "\n"
        }),
    ] {
        assert!(LeafOpening::parse(&bad).is_err(), "{what}: accepted {bad:?}");
    }
    let sealed = leaf.to_canonical();
    for (what, bad) in [
        ("extra line", format!("{sealed}salt 00\n")),
        ("no newline", sealed.trim_end().to_owned()),
        (
            "upper-case hex",
            sealed.to_uppercase().replacen("DANBAO-LEAF/V2", "danbao-leaf/v2", 1),
        ),
    ] {
        assert!(SealedLeaf::parse_canonical(&bad).is_err(), "{what}: accepted {bad:?}");
    }
    assert_eq!(Leaf::parse_canonical("danbao-leaf/v9\n"), Err(LeafError::UnknownFormat));
    // A v1 leaf takes no opening; a v2 leaf says nothing without one.
    let v1 = Leaf::V1(LeafRecord::new(sample_fields(&mut rng(54))).unwrap());
    assert_eq!(v1.event(Some(&opening)), Err(OpeningError::NotSealed));
    assert_eq!(v1.event(None).unwrap().kind(), "order.paid");
    assert_eq!(Leaf::V2(leaf).event(None), Err(OpeningError::Sealed));
}

/// A log with old public leaves and new sealed ones: every receipt verifies on its own,
/// and each sealed one opens with its own opening only.
#[test]
fn receipts_of_both_versions_verify_in_one_log() {
    let mut r = rng(55);
    let signer = LogSigner::generate(ORIGIN, &mut r).unwrap();
    let mut store = MapStore::default();
    let mut frontier = CompactRange::new();
    let mut leaves: Vec<(Leaf, Option<LeafOpening>)> = Vec::new();
    for i in 0..9 {
        let entry = if i < 4 {
            (Leaf::V1(LeafRecord::new(sample_fields(&mut r)).unwrap()), None)
        } else {
            let (leaf, opening) = SealedLeaf::seal(event(), &mut r);
            (Leaf::V2(leaf), Some(opening))
        };
        store.insert_all(&frontier.push(entry.0.leaf_hash()).unwrap());
        leaves.push(entry);
    }
    let size = frontier.size();
    let note = Checkpoint::new(ORIGIN, size, frontier.root()).unwrap().sign(&signer);
    for (index, (leaf, opening)) in leaves.iter().enumerate() {
        let receipt = Receipt {
            leaf: leaf.clone(),
            index: index as u64,
            proof: inclusion_proof(&store, index as u64, size).unwrap(),
            checkpoint_note: note.clone(),
        }
        .to_text();
        let verified = verify_receipt(&receipt, &signer.verifier()).unwrap();
        assert_eq!(&verified.leaf, leaf);
        assert!(verified.leaf.event(opening.as_ref()).is_ok(), "leaf {index}");
        if let Some(opening) = opening {
            // Another sealed leaf's opening does not open this one.
            let (_, other) = &leaves[if index == 4 { 5 } else { 4 }];
            assert_eq!(
                verified.leaf.event(other.as_ref()),
                Err(OpeningError::Mismatch),
                "leaf {index}"
            );
            assert!(verified.leaf.event(Some(opening)).is_ok());
        }
    }
}
