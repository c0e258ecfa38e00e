//! Proof verification, exactly the RFC 9162 algorithms (§2.1.3.2 for inclusion,
//! §2.1.4.2 for consistency), preceded by an explicit proof-length check so that a
//! failure says which part was wrong. The length check is redundant with the RFC's own
//! `sn == 0` checks (a proof of the wrong length always fails them too); it is kept
//! because "wrong proof length" is a clearer answer than "root mismatch".

use crate::hash::{empty_root, node_hash, Hash};

/// What exactly failed in a proof verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("leaf index {index} is not below tree size {size}")]
    IndexBeyondSize { index: u64, size: u64 },
    #[error("old tree size {size1} is larger than new tree size {size2}")]
    SizesOutOfOrder { size1: u64, size2: u64 },
    /// RFC 9162 defines consistency proofs only from a non-empty tree: the empty tree is
    /// a prefix of every tree, so such a "proof" would prove nothing.
    #[error("a consistency proof from the empty tree to size {size2} proves nothing")]
    EmptyOldTree { size2: u64 },
    #[error("proof has {got} hashes, expected {expected}")]
    WrongProofLength { expected: usize, got: usize },
    /// The proof ran past the root (RFC 9162: "if sn is 0, stop and fail").
    #[error("proof is longer than the path to the root")]
    ProofTooLong,
    /// The proof ended below the root (RFC 9162: final `sn` is not 0).
    #[error("proof is shorter than the path to the root")]
    ProofTooShort,
    #[error("computed root does not match the expected root")]
    RootMismatch,
    #[error("computed old root does not match the first root")]
    Root1Mismatch,
    #[error("computed new root does not match the second root")]
    Root2Mismatch,
    #[error("the root of an empty tree must be SHA-256 of the empty string")]
    EmptyRootMismatch,
}

/// Number of hashes in the inclusion proof of `index` in a tree of `size` leaves
/// (`index < size`): the levels where the path has a left and right sibling inside the
/// tree (`inner`), plus the right-edge levels (`border`).
fn inclusion_proof_len(index: u64, size: u64) -> usize {
    let inner = 64 - (index ^ (size - 1)).leading_zeros();
    let border = index.checked_shr(inner).unwrap_or(0).count_ones();
    (inner + border) as usize
}

/// Number of hashes in the consistency proof from `size1` to `size2`
/// (`0 < size1 < size2`).
fn consistency_proof_len(size1: u64, size2: u64) -> usize {
    let inner = 64 - ((size1 - 1) ^ (size2 - 1)).leading_zeros();
    let border = (size1 - 1).checked_shr(inner).unwrap_or(0).count_ones();
    let shift = size1.trailing_zeros();
    // When size1 is a power of two, the old root is itself a node of the new tree and
    // is not sent (RFC 9162 step 2 prepends it).
    let seed = usize::from(!size1.is_power_of_two());
    seed + (inner - shift.min(inner)) as usize + border as usize
}

/// RFC 9162 §2.1.3.2: verifies that `leaf_hash` is leaf `leaf_index` of the tree of
/// `tree_size` leaves whose root is `root`.
pub fn verify_inclusion(
    leaf_hash: &Hash,
    leaf_index: u64,
    tree_size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), VerifyError> {
    // Step 1.
    if leaf_index >= tree_size {
        return Err(VerifyError::IndexBeyondSize {
            index: leaf_index,
            size: tree_size,
        });
    }
    let expected = inclusion_proof_len(leaf_index, tree_size);
    if proof.len() != expected {
        return Err(VerifyError::WrongProofLength {
            expected,
            got: proof.len(),
        });
    }
    // Steps 2 and 3.
    let mut f_n = leaf_index;
    let mut s_n = tree_size - 1;
    let mut r = *leaf_hash;
    // Step 4.
    for p in proof {
        if s_n == 0 {
            return Err(VerifyError::ProofTooLong);
        }
        if f_n & 1 == 1 || f_n == s_n {
            r = node_hash(p, &r);
            if f_n & 1 == 0 {
                while f_n & 1 == 0 && f_n != 0 {
                    f_n >>= 1;
                    s_n >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    // Step 5.
    if s_n != 0 {
        return Err(VerifyError::ProofTooShort);
    }
    if &r != root {
        return Err(VerifyError::RootMismatch);
    }
    Ok(())
}

/// RFC 9162 §2.1.4.2: verifies that the tree of `size1` leaves with root `root1` is a
/// prefix of the tree of `size2` leaves with root `root2`.
///
/// Cases outside the RFC's `0 < size1 < size2`: equal sizes need an empty proof and equal
/// roots (two empty trees: both roots must be the empty-tree root); `size1 = 0 < size2`
/// is refused ([`VerifyError::EmptyOldTree`]) — the caller publishing its first
/// checkpoint has nothing to check.
pub fn verify_consistency(
    size1: u64,
    size2: u64,
    proof: &[Hash],
    root1: &Hash,
    root2: &Hash,
) -> Result<(), VerifyError> {
    if size1 > size2 {
        return Err(VerifyError::SizesOutOfOrder { size1, size2 });
    }
    if size1 == size2 {
        if !proof.is_empty() {
            return Err(VerifyError::WrongProofLength {
                expected: 0,
                got: proof.len(),
            });
        }
        if root1 != root2 {
            return Err(VerifyError::RootMismatch);
        }
        if size1 == 0 && *root1 != empty_root() {
            return Err(VerifyError::EmptyRootMismatch);
        }
        return Ok(());
    }
    if size1 == 0 {
        return Err(VerifyError::EmptyOldTree { size2 });
    }
    let expected = consistency_proof_len(size1, size2);
    if proof.len() != expected {
        return Err(VerifyError::WrongProofLength {
            expected,
            got: proof.len(),
        });
    }
    // Steps 1 and 2 (step 1, the empty proof, is covered by the length check: every
    // proof with 0 < size1 < size2 has at least one hash once root1 is prepended).
    let mut path: Vec<&Hash> = Vec::with_capacity(proof.len() + 1);
    if size1.is_power_of_two() {
        path.push(root1);
    }
    path.extend(proof.iter());
    let Some((first, rest)) = path.split_first() else {
        return Err(VerifyError::WrongProofLength { expected, got: 0 });
    };
    // Steps 3 and 4.
    let mut f_n = size1 - 1;
    let mut s_n = size2 - 1;
    while f_n & 1 == 1 {
        f_n >>= 1;
        s_n >>= 1;
    }
    // Step 5.
    let mut f_r = **first;
    let mut s_r = **first;
    // Step 6.
    for c in rest {
        if s_n == 0 {
            return Err(VerifyError::ProofTooLong);
        }
        if f_n & 1 == 1 || f_n == s_n {
            f_r = node_hash(c, &f_r);
            s_r = node_hash(c, &s_r);
            if f_n & 1 == 0 {
                while f_n & 1 == 0 && f_n != 0 {
                    f_n >>= 1;
                    s_n >>= 1;
                }
            }
        } else {
            s_r = node_hash(&s_r, c);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    // Step 7.
    if s_n != 0 {
        return Err(VerifyError::ProofTooShort);
    }
    if &f_r != root1 {
        return Err(VerifyError::Root1Mismatch);
    }
    if &s_r != root2 {
        return Err(VerifyError::Root2Mismatch);
    }
    Ok(())
}
