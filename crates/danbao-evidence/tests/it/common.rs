use std::cell::Cell;
use std::collections::{BTreeMap, HashMap};

use danbao_evidence::{leaf_hash, sha256_hex, Hash, LeafFields, LeafRecord, NodeReader, ProofError, StoredNode};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

pub fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

/// Random leaf data (0..40 bytes) and their leaf hashes.
pub fn random_leaves(rng: &mut StdRng, n: usize) -> (Vec<Vec<u8>>, Vec<Hash>) {
    let data: Vec<Vec<u8>> = (0..n)
        .map(|_| {
            let len = rng.gen_range(0..40);
            (0..len).map(|_| rng.gen()).collect()
        })
        .collect();
    let hashes = data.iter().map(|d| leaf_hash(d)).collect();
    (data, hashes)
}

/// A node table as the lead would keep it: insert-only, keyed by (level, index), with a
/// read counter.
#[derive(Default)]
pub struct MapStore {
    pub nodes: HashMap<(u32, u64), Hash>,
    pub reads: Cell<usize>,
}

impl MapStore {
    pub fn insert_all(&mut self, created: &[StoredNode]) {
        for n in created {
            let previous = self.nodes.insert((n.level, n.index), n.hash);
            assert!(previous.is_none(), "node ({}, {}) written twice", n.level, n.index);
        }
    }
}

impl NodeReader for MapStore {
    fn node(&self, level: u32, index: u64) -> Result<Hash, ProofError> {
        self.reads.set(self.reads.get() + 1);
        self.nodes
            .get(&(level, index))
            .copied()
            .ok_or(ProofError::NodeMissing { level, index })
    }
}

pub fn sample_fields(rng: &mut StdRng) -> LeafFields {
    let mut refs = BTreeMap::new();
    refs.insert("order_id".to_owned(), "0190f7a4-5b7e-7cc1-8e3a-2f0d1c9b8a77".to_owned());
    refs.insert(
        "payment_id".to_owned(),
        "0190f7a5-0000-7000-8000-000000000001".to_owned(),
    );
    LeafFields {
        case: "order:0190f7a4-5b7e-7cc1-8e3a-2f0d1c9b8a77".to_owned(),
        kind: "order.paid".to_owned(),
        refs,
        content_sha256: sha256_hex(b"delivered content"),
        at_ms: 1_767_225_600_000,
        prev_leaf_hash: Some(hex::encode(leaf_hash(b"previous"))),
        salt: LeafRecord::new_salt(rng),
    }
}
