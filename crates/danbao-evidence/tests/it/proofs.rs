//! Our proofs against an independent implementation, ct-merkle 0.3: same roots, same
//! proof bytes, and each side accepts the other's proofs.

use ct_merkle::mem_backed_tree::MemoryBackedTree;
use ct_merkle::{ConsistencyProof, InclusionProof, RootHash};
use danbao_evidence::{
    consistency_proof, inclusion_proof, root_from_leaves, verify_consistency, verify_inclusion, CompactRange, Hash,
};
use rand::Rng;
use sha2_011::Sha256 as Sha256v11;

use crate::common::{random_leaves, rng, MapStore};

const MAX_SIZE: usize = 300;

fn ct_root_bytes(root: &RootHash<Sha256v11>) -> Hash {
    root.as_bytes().as_slice().try_into().unwrap()
}

fn concat(proof: &[Hash]) -> Vec<u8> {
    proof.iter().flatten().copied().collect()
}

/// Grows one tree to MAX_SIZE leaves on both sides; at every size checks roots and the
/// inclusion proof of every index.
#[test]
fn inclusion_agrees_with_ct_merkle() {
    let mut rng = rng(1);
    let (data, hashes) = random_leaves(&mut rng, MAX_SIZE);
    let mut ct = MemoryBackedTree::<Sha256v11, Vec<u8>>::new();
    let mut frontier = CompactRange::new();
    let mut store = MapStore::default();
    let mut checked = 0;
    for size in 1..=MAX_SIZE {
        ct.push(data[size - 1].clone());
        store.insert_all(&frontier.push(hashes[size - 1]).unwrap());
        let ct_root = ct.root();
        let root = frontier.root();
        assert_eq!(root, ct_root_bytes(&ct_root), "root at size {size}");
        assert_eq!(root, root_from_leaves(&hashes[..size]));
        for index in 0..size {
            let ours = inclusion_proof(&store, index as u64, size as u64).unwrap();
            let theirs = ct.prove_inclusion(index);
            assert_eq!(concat(&ours), theirs.as_bytes(), "inclusion proof {index} of {size}");
            verify_inclusion(&hashes[index], index as u64, size as u64, &ours, &root).unwrap();
            let ours_for_ct = InclusionProof::<Sha256v11>::try_from_bytes(concat(&ours)).unwrap();
            ct_root
                .verify_inclusion(&data[index], index as u64, &ours_for_ct)
                .unwrap();
            checked += 1;
        }
    }
    assert_eq!(checked, MAX_SIZE * (MAX_SIZE + 1) / 2);
}

/// Consistency proofs between all size pairs up to 40 leaves and a sample beyond
/// (edges, powers of two, random), compared with ct-merkle's and cross-verified.
#[test]
fn consistency_agrees_with_ct_merkle() {
    let mut rng = rng(2);
    let (data, hashes) = random_leaves(&mut rng, MAX_SIZE);
    let mut ct = MemoryBackedTree::<Sha256v11, Vec<u8>>::new();
    let mut ct_roots: Vec<RootHash<Sha256v11>> = Vec::new();
    let mut frontier = CompactRange::new();
    let mut roots: Vec<Hash> = Vec::new();
    let mut store = MapStore::default();
    let mut checked = 0;
    for size2 in 1..=MAX_SIZE {
        ct.push(data[size2 - 1].clone());
        ct_roots.push(ct.root());
        store.insert_all(&frontier.push(hashes[size2 - 1]).unwrap());
        roots.push(frontier.root());
        let mut sizes1: Vec<usize> = if size2 <= 40 {
            (1..size2).collect()
        } else {
            let mut s: Vec<usize> = (0..8).map(|_| rng.gen_range(1..size2)).collect();
            s.extend([1, 2, size2 - 1]);
            s.extend((0..9).map(|b| 1usize << b).filter(|&p| p < size2));
            s
        };
        sizes1.sort_unstable();
        sizes1.dedup();
        for size1 in sizes1 {
            let (s1, s2) = (size1 as u64, size2 as u64);
            let ours = consistency_proof(&store, s1, s2).unwrap();
            let theirs = ct.prove_consistency(size2 - size1);
            assert_eq!(concat(&ours), theirs.as_bytes(), "consistency proof {size1} -> {size2}");
            verify_consistency(s1, s2, &ours, &roots[size1 - 1], &roots[size2 - 1]).unwrap();
            let ours_for_ct = ConsistencyProof::<Sha256v11>::try_from_bytes(concat(&ours)).unwrap();
            ct_roots[size2 - 1]
                .verify_consistency(&ct_roots[size1 - 1], &ours_for_ct)
                .unwrap();
            checked += 1;
        }
    }
    assert!(checked > 2_000, "only {checked} pairs");
}

/// Proofs that are wrong in one place are refused by our verifier (a sanity check that
/// the ct-merkle agreement above is not vacuous).
#[test]
fn altered_proofs_fail() {
    let mut rng = rng(3);
    let (_, hashes) = random_leaves(&mut rng, 77);
    let mut frontier = CompactRange::new();
    let mut store = MapStore::default();
    store.insert_all(&frontier.append(&hashes).unwrap());
    let root = frontier.root();
    for index in [0u64, 1, 31, 64, 76] {
        let proof = inclusion_proof(&store, index, 77).unwrap();
        for i in 0..proof.len() {
            let mut bad = proof.clone();
            bad[i][0] ^= 1;
            assert!(verify_inclusion(&hashes[index as usize], index, 77, &bad, &root).is_err());
        }
        assert!(verify_inclusion(&hashes[index as usize], index + 1, 77, &proof, &root).is_err());
        // A proof fits several tree sizes (the same path shape); one of another depth is
        // refused by its length.
        assert!(matches!(
            verify_inclusion(&hashes[index as usize], index, 1000, &proof, &root),
            Err(danbao_evidence::VerifyError::WrongProofLength { .. })
        ));
    }
}
