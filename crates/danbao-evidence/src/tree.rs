//! The Merkle tree without a `MerkleTree`: algorithms over stored hashes.
//!
//! The log keeps its leaves and interior nodes in a database; this module never holds
//! the whole tree. It works from:
//!
//! - a [`NodeReader`], which returns the hash of a *full* subtree `(level, index)`
//!   covering leaves `[index·2^level, (index+1)·2^level)` (level 0 = the leaf hashes);
//! - a [`CompactRange`], the right-edge frontier of the tree (one full-subtree hash per
//!   set bit of the size), enough to append and to compute the root.
//!
//! Proof generation follows the recursive RFC 6962 §2.1.1 (`PATH`) and §2.1.2
//! (`SUBPROOF`) definitions. Every subtree they name is either a full aligned subtree
//! (one read) or the tree's right edge `[start, size)`, whose hash is folded from the
//! full subtrees it decomposes into (one read per set bit of its length). The right edge
//! is needed at most once per proof, so a proof reads at most about `2·log2(size)`
//! nodes. [`root_from_leaves`], [`inclusion_proof_from_leaves`] and
//! [`consistency_proof_from_leaves`] are the literal RFC definitions over a slice of leaf
//! hashes, kept as the reference for tests and small trees.

use crate::hash::{empty_root, node_hash, Hash};

/// Why a proof (or a frontier) could not be produced from storage.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    #[error("leaf index {index} is not below tree size {size}")]
    IndexOutOfRange { index: u64, size: u64 },
    #[error("tree size {size1} is larger than tree size {size2}")]
    SizesOutOfOrder { size1: u64, size2: u64 },
    #[error("node (level {level}, index {index}) is not in storage")]
    NodeMissing { level: u32, index: u64 },
    #[error("leaf {index} is not in storage")]
    LeafMissing { index: u64 },
    #[error("the tree cannot grow beyond {max} leaves")]
    TreeFull { max: u64 },
    /// The storage behind a reader failed; the message is the reader's.
    #[error("storage failed: {0}")]
    Storage(String),
}

/// Largest tree this crate handles. Node positions (`2·size`) must fit in a `u64`; no
/// log will come near it, but the bound keeps every shift and addition exact.
pub const MAX_TREE_SIZE: u64 = 1 << 62;

/// Gives the hash of a stored full subtree: node `(level, index)` covers leaves
/// `[index·2^level, (index+1)·2^level)`, and level 0 is the leaf hashes.
pub trait NodeReader {
    fn node(&self, level: u32, index: u64) -> Result<Hash, ProofError>;
}

/// Gives the hash of one leaf. Wrap it in [`LeafNodes`] to generate proofs from leaves
/// alone (correct, but a level-`l` node costs `2^l` reads: use stored nodes for big
/// trees).
pub trait HashReader {
    fn leaf(&self, index: u64) -> Result<Hash, ProofError>;
}

impl HashReader for [Hash] {
    fn leaf(&self, index: u64) -> Result<Hash, ProofError> {
        usize::try_from(index)
            .ok()
            .and_then(|i| self.get(i))
            .copied()
            .ok_or(ProofError::LeafMissing { index })
    }
}

impl HashReader for Vec<Hash> {
    fn leaf(&self, index: u64) -> Result<Hash, ProofError> {
        self.as_slice().leaf(index)
    }
}

impl<R: HashReader + ?Sized> HashReader for &R {
    fn leaf(&self, index: u64) -> Result<Hash, ProofError> {
        (**self).leaf(index)
    }
}

impl<R: NodeReader + ?Sized> NodeReader for &R {
    fn node(&self, level: u32, index: u64) -> Result<Hash, ProofError> {
        (**self).node(level, index)
    }
}

/// Adapts a [`HashReader`] into a [`NodeReader`] by hashing each requested subtree from
/// its leaves.
#[derive(Debug, Clone, Copy)]
pub struct LeafNodes<R>(pub R);

impl<R: HashReader> NodeReader for LeafNodes<R> {
    fn node(&self, level: u32, index: u64) -> Result<Hash, ProofError> {
        let (start, end) = node_leaf_range(level, index).ok_or(ProofError::NodeMissing { level, index })?;
        let mut frontier = CompactRange::new();
        for i in start..end {
            frontier.push(self.0.leaf(i)?)?;
        }
        Ok(frontier.root())
    }
}

/// A node that became complete during an append: store it, it never changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StoredNode {
    pub level: u32,
    pub index: u64,
    pub hash: Hash,
}

/// The leaves `[start, end)` that node `(level, index)` covers, or `None` past
/// [`MAX_TREE_SIZE`].
pub fn node_leaf_range(level: u32, index: u64) -> Option<(u64, u64)> {
    let width = 1u64.checked_shl(level)?;
    let start = index.checked_mul(width)?;
    let end = start.checked_add(width)?;
    (end <= MAX_TREE_SIZE).then_some((start, end))
}

/// A single `u64` key for node `(level, index)`: its position in the in-order layout
/// (`index·2^(level+1) + 2^level − 1`; leaves sit at even positions), for storage that
/// prefers one key column. `None` past [`MAX_TREE_SIZE`].
pub fn node_position(level: u32, index: u64) -> Option<u64> {
    node_leaf_range(level, index)?;
    let half = 1u64.checked_shl(level)?;
    index.checked_mul(half.checked_mul(2)?)?.checked_add(half - 1)
}

/// The inverse of [`node_position`].
pub fn node_from_position(position: u64) -> (u32, u64) {
    let level = position.trailing_ones();
    // `level` is at most 64; a position of all ones has no parent layout, map it to
    // index 0 of the top level rather than shifting out of range.
    let index = position.checked_shr(level + 1).unwrap_or(0);
    (level, index)
}

/// Largest power of two strictly below `n`, for `n ≥ 2` (RFC 6962's split point `k`).
fn split_point(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1u64 << (63 - (n - 1).leading_zeros())
}

/// The root of the tree over `leaves` (RFC 6962 `MTH`), computed in one pass.
pub fn root_from_leaves(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => empty_root(),
        1 => leaves[0],
        n => {
            let k = split_point(n as u64) as usize;
            node_hash(&root_from_leaves(&leaves[..k]), &root_from_leaves(&leaves[k..]))
        }
    }
}

/// RFC 6962 §2.1.1 `PATH(m, D[n])` over a slice: the reference inclusion proof.
pub fn inclusion_proof_from_leaves(leaves: &[Hash], index: u64) -> Result<Vec<Hash>, ProofError> {
    let size = leaves.len() as u64;
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    fn path(m: usize, d: &[Hash], out: &mut Vec<Hash>) {
        let n = d.len();
        if n <= 1 {
            return;
        }
        let k = split_point(n as u64) as usize;
        if m < k {
            path(m, &d[..k], out);
            out.push(root_from_leaves(&d[k..]));
        } else {
            path(m - k, &d[k..], out);
            out.push(root_from_leaves(&d[..k]));
        }
    }
    let mut out = Vec::new();
    path(index as usize, leaves, &mut out);
    Ok(out)
}

/// RFC 6962 §2.1.2 `PROOF(m, D[n])` over a slice: the reference consistency proof from
/// the first `size1` leaves to all of `leaves`. Empty when `size1` is 0 or the whole
/// slice (nothing to prove).
pub fn consistency_proof_from_leaves(leaves: &[Hash], size1: u64) -> Result<Vec<Hash>, ProofError> {
    let size2 = leaves.len() as u64;
    if size1 > size2 {
        return Err(ProofError::SizesOutOfOrder { size1, size2 });
    }
    fn subproof(m: usize, d: &[Hash], b: bool, out: &mut Vec<Hash>) {
        let n = d.len();
        if m == n {
            if !b {
                out.push(root_from_leaves(d));
            }
            return;
        }
        let k = split_point(n as u64) as usize;
        if m <= k {
            subproof(m, &d[..k], b, out);
            out.push(root_from_leaves(&d[k..]));
        } else {
            subproof(m - k, &d[k..], false, out);
            out.push(root_from_leaves(&d[..k]));
        }
    }
    let mut out = Vec::new();
    if size1 > 0 && size1 < size2 {
        subproof(size1 as usize, leaves, true, &mut out);
    }
    Ok(out)
}

/// The hash of the RFC 6962 subtree over leaves `[start, end)`, where the range is either
/// a full aligned subtree or a right edge whose left part is aligned. Reads one node per
/// set bit of `end − start`.
fn range_hash<R: NodeReader + ?Sized>(reader: &R, start: u64, end: u64) -> Result<Hash, ProofError> {
    let len = end - start;
    debug_assert!(len > 0);
    if len.is_power_of_two() && start.is_multiple_of(len) {
        return reader.node(len.trailing_zeros(), start >> len.trailing_zeros());
    }
    // Decompose into full subtrees, largest first, then fold them right to left, exactly
    // as MTH splits at the largest power of two below the length.
    let mut parts = Vec::with_capacity(len.count_ones() as usize);
    let mut at = start;
    let mut remaining = len;
    while remaining > 0 {
        let width = 1u64 << (63 - remaining.leading_zeros());
        debug_assert!(
            at.is_multiple_of(width),
            "range [{start}, {end}) is not an RFC 6962 subtree"
        );
        parts.push(reader.node(width.trailing_zeros(), at >> width.trailing_zeros())?);
        at += width;
        remaining -= width;
    }
    let mut parts = parts.into_iter().rev();
    let mut hash = parts.next().ok_or(ProofError::NodeMissing { level: 0, index: start })?;
    for left in parts {
        hash = node_hash(&left, &hash);
    }
    Ok(hash)
}

/// The inclusion proof for leaf `leaf_index` in the tree of `tree_size` leaves, from
/// leaf's sibling up to the root's child (RFC 6962 §2.1.1), reading only full-subtree
/// nodes: at most `log2(size)` plus the set bits of one right edge.
pub fn inclusion_proof<R: NodeReader + ?Sized>(
    reader: &R,
    leaf_index: u64,
    tree_size: u64,
) -> Result<Vec<Hash>, ProofError> {
    if leaf_index >= tree_size {
        return Err(ProofError::IndexOutOfRange {
            index: leaf_index,
            size: tree_size,
        });
    }
    if tree_size > MAX_TREE_SIZE {
        return Err(ProofError::TreeFull { max: MAX_TREE_SIZE });
    }
    // Walk down from the root, recording the sibling subtree at each split; the proof
    // lists them bottom-up, so reverse at the end.
    let mut siblings = Vec::new();
    let (mut start, mut end) = (0u64, tree_size);
    while end - start > 1 {
        let k = split_point(end - start);
        let mid = start + k;
        if leaf_index < mid {
            siblings.push(range_hash(reader, mid, end)?);
            end = mid;
        } else {
            siblings.push(range_hash(reader, start, mid)?);
            start = mid;
        }
    }
    siblings.reverse();
    Ok(siblings)
}

/// The consistency proof from the tree of `size1` leaves to the tree of `size2` leaves
/// (RFC 6962 §2.1.2), reading only full-subtree nodes. Empty when `size1` is 0 or equals
/// `size2`: there is nothing to prove (and RFC 9162 defines no proof from the empty
/// tree).
pub fn consistency_proof<R: NodeReader + ?Sized>(reader: &R, size1: u64, size2: u64) -> Result<Vec<Hash>, ProofError> {
    if size1 > size2 {
        return Err(ProofError::SizesOutOfOrder { size1, size2 });
    }
    if size2 > MAX_TREE_SIZE {
        return Err(ProofError::TreeFull { max: MAX_TREE_SIZE });
    }
    if size1 == 0 || size1 == size2 {
        return Ok(Vec::new());
    }
    // SUBPROOF(m, D[start:end], b), unrolled: record the sibling at each split, then the
    // subtree where m meets the range boundary (unless it is the whole old tree).
    let mut out = Vec::new();
    let (mut start, mut end) = (0u64, size2);
    let mut whole_old_tree = true;
    loop {
        let n = end - start;
        let m = size1 - start;
        if m == n {
            if !whole_old_tree {
                out.push(range_hash(reader, start, end)?);
            }
            break;
        }
        let k = split_point(n);
        if m <= k {
            out.push(range_hash(reader, start + k, end)?);
            end = start + k;
        } else {
            out.push(range_hash(reader, start, start + k)?);
            start += k;
            whole_old_tree = false;
        }
    }
    // The siblings were recorded top-down; SUBPROOF lists the meeting subtree first and
    // then the siblings bottom-up.
    let meeting = if whole_old_tree { None } else { out.pop() };
    out.reverse();
    if let Some(m) = meeting {
        out.insert(0, m);
    }
    Ok(out)
}

/// Why a serialized [`CompactRange`] was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CompactRangeError {
    #[error("compact range: not lowercase hex")]
    NotHex,
    #[error("compact range: unknown format version {0}")]
    UnknownVersion(u8),
    #[error("compact range: expected {expected} bytes, got {got}")]
    WrongLength { expected: usize, got: usize },
    #[error("compact range: size {0} is beyond the largest tree")]
    TooLarge(u64),
}

/// The right-edge frontier of a tree: one full-subtree hash per set bit of the size,
/// largest (leftmost) first. It is all an append needs: store it with each checkpoint
/// and the next batch never reads old leaves.
///
/// Byte form ([`CompactRange::to_bytes`]): `0x01` (format version) ‖ size as 8 bytes
/// big-endian ‖ the frontier hashes, leftmost first (32 bytes each, `popcount(size)` of
/// them). [`CompactRange::to_hex`] is the same bytes in lowercase hex.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CompactRange {
    size: u64,
    nodes: Vec<Hash>,
}

const COMPACT_RANGE_VERSION: u8 = 1;

impl CompactRange {
    /// The frontier of the empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of leaves appended so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The tree root (the empty-tree root for size 0).
    pub fn root(&self) -> Hash {
        let mut nodes = self.nodes.iter().rev();
        let Some(last) = nodes.next() else {
            return empty_root();
        };
        nodes.fold(*last, |acc, left| node_hash(left, &acc))
    }

    /// The frontier nodes, leftmost (largest) first, with their coordinates.
    pub fn frontier(&self) -> Vec<StoredNode> {
        let mut out = Vec::with_capacity(self.nodes.len());
        let mut hashes = self.nodes.iter();
        for level in (0..64u32).rev() {
            if self.size & (1u64 << level) != 0 {
                if let Some(hash) = hashes.next() {
                    out.push(StoredNode {
                        level,
                        index: (self.size >> level) - 1,
                        hash: *hash,
                    });
                }
            }
        }
        out
    }

    /// Appends one leaf hash; returns the nodes that became complete (the leaf itself at
    /// level 0, then each parent it completed), in order of creation.
    pub fn push(&mut self, leaf: Hash) -> Result<Vec<StoredNode>, ProofError> {
        if self.size >= MAX_TREE_SIZE {
            return Err(ProofError::TreeFull { max: MAX_TREE_SIZE });
        }
        let position = self.size;
        let mut created = vec![StoredNode {
            level: 0,
            index: position,
            hash: leaf,
        }];
        let mut hash = leaf;
        let mut level = 0u32;
        while position & (1u64 << level) != 0 {
            let left = self.nodes.pop().ok_or(ProofError::NodeMissing {
                level,
                index: (position >> level) - 1,
            })?;
            hash = node_hash(&left, &hash);
            level += 1;
            created.push(StoredNode {
                level,
                index: position >> level,
                hash,
            });
        }
        self.nodes.push(hash);
        self.size += 1;
        Ok(created)
    }

    /// Appends a batch; returns every node that became complete.
    pub fn append(&mut self, leaves: &[Hash]) -> Result<Vec<StoredNode>, ProofError> {
        let mut created = Vec::with_capacity(leaves.len() * 2);
        for leaf in leaves {
            created.extend(self.push(*leaf)?);
        }
        Ok(created)
    }

    /// Rebuilds the frontier of a tree of `size` leaves from stored nodes
    /// (`popcount(size)` reads).
    pub fn from_node_reader<R: NodeReader + ?Sized>(reader: &R, size: u64) -> Result<Self, ProofError> {
        if size > MAX_TREE_SIZE {
            return Err(ProofError::TreeFull { max: MAX_TREE_SIZE });
        }
        let mut nodes = Vec::with_capacity(size.count_ones() as usize);
        for level in (0..64u32).rev() {
            if size & (1u64 << level) != 0 {
                nodes.push(reader.node(level, (size >> level) - 1)?);
            }
        }
        Ok(Self { size, nodes })
    }

    /// The byte form described on the type.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(9 + 32 * self.nodes.len());
        out.push(COMPACT_RANGE_VERSION);
        out.extend_from_slice(&self.size.to_be_bytes());
        for node in &self.nodes {
            out.extend_from_slice(node);
        }
        out
    }

    /// Parses the byte form; the length must match the size exactly.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CompactRangeError> {
        let Some((&version, rest)) = bytes.split_first() else {
            return Err(CompactRangeError::WrongLength { expected: 9, got: 0 });
        };
        if version != COMPACT_RANGE_VERSION {
            return Err(CompactRangeError::UnknownVersion(version));
        }
        let size_bytes: [u8; 8] =
            rest.get(..8)
                .and_then(|s| s.try_into().ok())
                .ok_or(CompactRangeError::WrongLength {
                    expected: 9,
                    got: bytes.len(),
                })?;
        let size = u64::from_be_bytes(size_bytes);
        if size > MAX_TREE_SIZE {
            return Err(CompactRangeError::TooLarge(size));
        }
        let expected = 9 + 32 * size.count_ones() as usize;
        if bytes.len() != expected {
            return Err(CompactRangeError::WrongLength {
                expected,
                got: bytes.len(),
            });
        }
        let nodes = rest[8..]
            .chunks_exact(32)
            .map(|c| {
                let mut h = [0u8; 32];
                h.copy_from_slice(c);
                h
            })
            .collect();
        Ok(Self { size, nodes })
    }

    /// The byte form in lowercase hex.
    pub fn to_hex(&self) -> String {
        hex::encode(self.to_bytes())
    }

    /// Parses [`CompactRange::to_hex`] output (lowercase only, so one value has one text).
    pub fn from_hex(text: &str) -> Result<Self, CompactRangeError> {
        if text.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(CompactRangeError::NotHex);
        }
        let bytes = hex::decode(text).map_err(|_| CompactRangeError::NotHex)?;
        Self::from_bytes(&bytes)
    }
}

/// Appends `leaf_hashes` to the tree whose frontier is `before`; returns the new frontier
/// and every full-subtree node that became complete (leaves at level 0 included), each
/// to be inserted once and never updated.
///
/// It takes the frontier rather than only the old size because a new parent's hash
/// needs the hash of its old left sibling; [`CompactRange::from_node_reader`] rebuilds
/// the frontier from stored nodes if it was not kept.
pub fn nodes_to_store_after_append(
    before: &CompactRange,
    leaf_hashes: &[Hash],
) -> Result<(CompactRange, Vec<StoredNode>), ProofError> {
    let mut after = before.clone();
    let created = after.append(leaf_hashes)?;
    Ok((after, created))
}
