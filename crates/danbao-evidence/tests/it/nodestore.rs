//! The node-store path: nodes from batched appends, proofs that equal the RFC 6962
//! reference, and O(log n) reads on a 1,000,000-leaf tree.

use danbao_evidence::{
    consistency_proof, consistency_proof_from_leaves, inclusion_proof, inclusion_proof_from_leaves, leaf_hash,
    node_from_position, node_leaf_range, node_position, nodes_to_store_after_append, root_from_leaves,
    verify_consistency, verify_inclusion, CompactRange, CompactRangeError, Hash, LeafNodes, ProofError,
};
use rand::Rng;

use crate::common::{random_leaves, rng, MapStore};

#[test]
fn batched_appends_match_the_reference() {
    let mut rng = rng(10);
    let (_, hashes) = random_leaves(&mut rng, 700);
    let mut store = MapStore::default();
    let mut frontier = CompactRange::new();
    let mut checkpoints: Vec<(u64, Hash)> = Vec::new();
    while (frontier.size() as usize) < hashes.len() {
        let start = frontier.size() as usize;
        let end = (start + rng.gen_range(1..60)).min(hashes.len());
        // The lead stores the frontier as hex with each checkpoint and reloads it.
        let reloaded = CompactRange::from_hex(&frontier.to_hex()).unwrap();
        assert_eq!(reloaded, frontier);
        let (after, created) = nodes_to_store_after_append(&reloaded, &hashes[start..end]).unwrap();
        store.insert_all(&created);
        frontier = after;
        let size = frontier.size();
        assert_eq!(size as usize, end);
        let leaves = &hashes[..end];
        assert_eq!(frontier.root(), root_from_leaves(leaves));
        assert_eq!(CompactRange::from_node_reader(&store, size).unwrap(), frontier);

        // Every full subtree is stored, and nothing else.
        let full_nodes: usize = (0..64).map(|level| end >> level).sum();
        assert_eq!(store.nodes.len(), full_nodes);

        for index in 0..size {
            if size > 200 && rng.gen_range(0..10) != 0 {
                continue;
            }
            let proof = inclusion_proof(&store, index, size).unwrap();
            assert_eq!(
                proof,
                inclusion_proof_from_leaves(leaves, index).unwrap(),
                "inclusion {index} of {size}"
            );
            verify_inclusion(&leaves[index as usize], index, size, &proof, &frontier.root()).unwrap();
        }
        for &(old_size, old_root) in &checkpoints {
            let proof = consistency_proof(&store, old_size, size).unwrap();
            assert_eq!(
                proof,
                consistency_proof_from_leaves(leaves, old_size).unwrap(),
                "{old_size} -> {size}"
            );
            if old_size > 0 && old_size < size {
                verify_consistency(old_size, size, &proof, &old_root, &frontier.root()).unwrap();
            }
        }
        checkpoints.push((size, frontier.root()));
    }
}

#[test]
fn leaf_only_reader_gives_the_same_proofs() {
    let mut rng = rng(11);
    let (_, hashes) = random_leaves(&mut rng, 45);
    let reader = LeafNodes(hashes.as_slice());
    for size in 1..=45u64 {
        let leaves = &hashes[..size as usize];
        for index in 0..size {
            assert_eq!(
                inclusion_proof(&reader, index, size).unwrap(),
                inclusion_proof_from_leaves(leaves, index).unwrap()
            );
        }
        for old in 0..=size {
            assert_eq!(
                consistency_proof(&reader, old, size).unwrap(),
                consistency_proof_from_leaves(leaves, old).unwrap()
            );
        }
    }
}

#[test]
fn proof_errors() {
    let store = MapStore::default();
    assert_eq!(
        inclusion_proof(&store, 5, 5),
        Err(ProofError::IndexOutOfRange { index: 5, size: 5 })
    );
    assert_eq!(
        consistency_proof(&store, 6, 5),
        Err(ProofError::SizesOutOfOrder { size1: 6, size2: 5 })
    );
    assert!(matches!(
        inclusion_proof(&store, 0, 2),
        Err(ProofError::NodeMissing { .. })
    ));
}

#[test]
fn node_coordinates() {
    assert_eq!(node_leaf_range(0, 7), Some((7, 8)));
    assert_eq!(node_leaf_range(3, 2), Some((16, 24)));
    for (level, index) in [(0u32, 0u64), (0, 5), (1, 0), (1, 3), (5, 9), (20, 1234)] {
        let position = node_position(level, index).unwrap();
        assert_eq!(node_from_position(position), (level, index));
    }
    assert_eq!(node_position(0, 3), Some(6));
    assert_eq!(node_position(1, 0), Some(1));
    assert_eq!(node_position(2, 1), Some(11));
    assert_eq!(node_position(63, 0), None);
}

#[test]
fn compact_range_encoding_is_strict() {
    let mut frontier = CompactRange::new();
    assert_eq!(CompactRange::from_bytes(&frontier.to_bytes()).unwrap(), frontier);
    frontier
        .append(&[leaf_hash(b"a"), leaf_hash(b"b"), leaf_hash(b"c")])
        .unwrap();
    let bytes = frontier.to_bytes();
    assert_eq!(bytes.len(), 1 + 8 + 2 * 32);
    assert_eq!(CompactRange::from_bytes(&bytes).unwrap(), frontier);
    assert!(matches!(
        CompactRange::from_bytes(&bytes[..bytes.len() - 1]),
        Err(CompactRangeError::WrongLength { .. })
    ));
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(matches!(
        CompactRange::from_bytes(&longer),
        Err(CompactRangeError::WrongLength { .. })
    ));
    let mut version = bytes.clone();
    version[0] = 2;
    assert_eq!(
        CompactRange::from_bytes(&version),
        Err(CompactRangeError::UnknownVersion(2))
    );
    assert_eq!(
        CompactRange::from_hex(&frontier.to_hex().to_uppercase()),
        Err(CompactRangeError::NotHex)
    );
    let frontier_nodes = frontier.frontier();
    assert_eq!(
        frontier_nodes.iter().map(|n| (n.level, n.index)).collect::<Vec<_>>(),
        vec![(1, 0), (0, 2)]
    );
}

/// The 1,000,000-leaf tree: built by batched appends into the node map, then proofs
/// that read O(log n) nodes.
#[test]
fn million_leaf_tree_reads_are_logarithmic() {
    const SIZE: u64 = 1_000_000;
    const BATCH: u64 = 10_000;
    // 2·log2(1e6) ≈ 40; a proof reads one node per level plus one right edge.
    const MAX_READS: usize = 64;
    let mut store = MapStore::default();
    store.nodes.reserve(2 * SIZE as usize);
    let mut frontier = CompactRange::new();
    let mut roots = std::collections::HashMap::new();
    while frontier.size() < SIZE {
        let start = frontier.size();
        let batch: Vec<Hash> = (start..start + BATCH).map(|i| leaf_hash(&i.to_be_bytes())).collect();
        let (after, created) = nodes_to_store_after_append(&frontier, &batch).unwrap();
        store.insert_all(&created);
        frontier = after;
        roots.insert(frontier.size(), frontier.root());
    }
    let root = frontier.root();
    let mut rng = rng(12);
    let mut max_reads = 0;
    let mut indices: Vec<u64> = vec![0, 1, SIZE / 2, SIZE - 2, SIZE - 1, 524_287, 524_288];
    indices.extend((0..20).map(|_| rng.gen_range(0..SIZE)));
    for index in indices {
        store.reads.set(0);
        let proof = inclusion_proof(&store, index, SIZE).unwrap();
        let reads = store.reads.get();
        max_reads = max_reads.max(reads);
        assert!(reads <= MAX_READS, "inclusion {index}: {reads} reads");
        verify_inclusion(&leaf_hash(&index.to_be_bytes()), index, SIZE, &proof, &root).unwrap();
    }
    let pairs = [
        (10_000u64, SIZE),
        (1_000, SIZE),
        (530_000, SIZE),
        (990_000, SIZE),
        (1, SIZE),
        (SIZE - 1, SIZE),
    ];
    for (old, new) in pairs {
        store.reads.set(0);
        let proof = consistency_proof(&store, old, new).unwrap();
        let reads = store.reads.get();
        max_reads = max_reads.max(reads);
        assert!(reads <= MAX_READS, "consistency {old} -> {new}: {reads} reads");
        if let Some(old_root) = roots.get(&old) {
            verify_consistency(old, new, &proof, old_root, &root).unwrap();
        }
    }
    // Also proofs against an older, non-power-of-two tree size within the same store.
    store.reads.set(0);
    let proof = inclusion_proof(&store, 123_456, 770_000).unwrap();
    assert!(store.reads.get() <= MAX_READS);
    verify_inclusion(
        &leaf_hash(&123_456u64.to_be_bytes()),
        123_456,
        770_000,
        &proof,
        &roots[&770_000],
    )
    .unwrap();
    assert!(max_reads >= 20, "suspiciously few reads: {max_reads}");
}
