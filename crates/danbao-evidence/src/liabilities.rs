//! Proof of liabilities (防跑路): a Merkle sum tree over every balance the platform
//! owes, its root and total signed as a statement, and an inclusion proof that lets
//! one owner check that their balance is counted, with the right amount, in the total.
//!
//! # The tree
//!
//! It is the *fixed* summation tree of Chalkias, Lewi, Mohassel and Nikolaenko
//! ("Distributed Auditing Proofs of Liabilities", 2020; "Broken Proofs of Solvency in
//! Blockchain Custodial Wallets and Exchanges", 2020), which closes the flaw in
//! Maxwell's original scheme by putting *both* child sums in the parent's hash:
//!
//! ```text
//! leaf.hash = SHA-256("danbao-liability-leaf/v1\n" ‖ salt ‖ len(label) as u32 BE ‖ label ‖ amount as u64 BE)
//! leaf.sum  = amount
//! node.hash = SHA-256("danbao-liability-node/v1\n" ‖ left.sum u64 BE ‖ right.sum u64 BE ‖ left.hash ‖ right.hash)
//! node.sum  = left.sum + right.sum        (checked: a sum that overflows u64 is refused)
//! ```
//!
//! Amounts are fen (分) as `u64`: a liability is never negative, and the statement's
//! builder refuses one that is. The leaves are sorted by leaf hash, which is a salted
//! commitment, so a leaf's position says nothing about whose balance it is.
//!
//! The shape is that of RFC 6962: the tree over `n > 1` leaves is a left subtree over
//! the largest power of two smaller than `n` and a right subtree over the rest. It is
//! built level by level here (pair neighbours, carry an odd last node up unchanged),
//! which yields the same shape.
//!
//! # Salts
//!
//! Each leaf's 32-byte salt is `HMAC-SHA256(platform secret, "danbao-liability-salt/v1\n"
//! ‖ statement seq ‖ "\n" ‖ label)`: nothing to store, different in every statement (so
//! two statements cannot be linked leaf by leaf), and given to an owner only inside the
//! proof of their own balance.
//!
//! # The statement
//!
//! A C2SP signed note, signed with the log's key:
//!
//! ```text
//! danbao.dev/liabilities
//! <statement seq>
//! <as-of, ms since the Unix epoch>
//! <leaf count>
//! <total fen>
//! <base64 root>
//!
//! — danbao.dev/evidence-log …signature…
//! ```
//!
//! # The proof
//!
//! ```text
//! danbao-liabilities-proof/v1
//! label order:0190…:escrow
//! amount 12345
//! salt <base64, 32 bytes>
//! step left 5000 <base64 sibling hash>
//! step right 700 <base64 sibling hash>
//! statement
//! <the signed statement note, to the end>
//! ```
//!
//! Steps go from the leaf up; `left`/`right` say on which side the *sibling* is.
//! [`verify_proof`] opens the statement with the log's verifier key, folds the path to
//! a root and a total, and accepts only when both equal the signed ones.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::hash::Hash;
use crate::note::{LogSigner, LogVerifier, NoteError, MAX_NOTE_LEN};
use crate::util::{decode_b64_hash, encode_b64, parse_canonical_u64};

/// Domain separation for leaves, nodes, the empty tree and the salts.
const LEAF_PREFIX: &[u8] = b"danbao-liability-leaf/v1\n";
const NODE_PREFIX: &[u8] = b"danbao-liability-node/v1\n";
const EMPTY_PREFIX: &[u8] = b"danbao-liability-empty/v1\n";
const SALT_PREFIX: &[u8] = b"danbao-liability-salt/v1\n";

/// The first line of a statement's body.
pub const STATEMENT_ORIGIN: &str = "danbao.dev/liabilities";
/// The first line of an inclusion proof.
pub const PROOF_HEADER: &str = "danbao-liabilities-proof/v1";
/// A label names a balance (`order:<id>:escrow`, `seller:<id>:available`, …); ids are
/// UUIDs, so 200 bytes is far above any real label and bounds a hostile one.
pub const MAX_LABEL_LEN: usize = 200;
/// A tree of 2^64 leaves cannot exist, so no honest path is longer than 64 steps.
pub const MAX_PATH_STEPS: usize = 64;
/// 64 steps of about 60 bytes, the leaf lines and a statement note fit in far less.
pub const MAX_PROOF_LEN: usize = 8 * 1024 + MAX_NOTE_LEN;

/// What was wrong with a set of liabilities, a statement or a proof.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LiabilityError {
    #[error("label {0:?} must be 1 to 200 printable ASCII characters without spaces")]
    InvalidLabel(String),
    #[error("label {0:?} appears twice")]
    DuplicateLabel(String),
    #[error("amount {amount} of {label:?} is negative: a liability cannot be")]
    NegativeAmount { label: String, amount: i64 },
    #[error("the sum of the liabilities overflows")]
    Overflow,
    #[error("leaf index {index} is outside the tree of {count} leaves")]
    NoSuchLeaf { index: usize, count: usize },
    #[error("statement: {0}")]
    Statement(#[from] NoteError),
    #[error("statement body: {0}")]
    MalformedStatement(&'static str),
    #[error("proof is longer than {max} bytes")]
    ProofTooLarge { max: usize },
    #[error("proof line {line}: {problem}")]
    MalformedProof { line: usize, problem: &'static str },
    #[error("proof has more than {max} steps")]
    PathTooLong { max: usize },
    #[error("the proof does not lead to the signed root")]
    RootMismatch,
    #[error("the proof's sums add up to {computed}, not the signed total {signed}")]
    TotalMismatch { computed: u64, signed: u64 },
}

/// One balance the platform owes: a label naming it and its amount in fen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Liability {
    label: String,
    amount: u64,
}

fn check_label(label: &str) -> Result<(), LiabilityError> {
    let ok = !label.is_empty() && label.len() <= MAX_LABEL_LEN && label.bytes().all(|b| b.is_ascii_graphic());
    if ok {
        Ok(())
    } else {
        Err(LiabilityError::InvalidLabel(
            label.chars().take(MAX_LABEL_LEN).collect(),
        ))
    }
}

impl Liability {
    /// A balance from the ledger's signed figure: refuses a bad label and a negative amount.
    pub fn new(label: &str, amount_fen: i64) -> Result<Self, LiabilityError> {
        check_label(label)?;
        let amount = u64::try_from(amount_fen).map_err(|_| LiabilityError::NegativeAmount {
            label: label.to_owned(),
            amount: amount_fen,
        })?;
        Ok(Self {
            label: label.to_owned(),
            amount,
        })
    }

    pub fn label(&self) -> &str {
        &self.label
    }

    pub fn amount(&self) -> u64 {
        self.amount
    }
}

/// A node of the sum tree: its hash and the sum of the leaves under it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SumNode {
    pub hash: Hash,
    pub sum: u64,
}

/// The salt of a leaf: `HMAC-SHA256(secret, prefix ‖ seq ‖ "\n" ‖ label)`.
pub fn derive_salt(secret: &[u8; 32], statement_seq: u64, label: &str) -> [u8; 32] {
    // HMAC takes a key of any length, so this cannot fail; the fallback keeps clippy's
    // ban on expect without a branch that can run.
    let mut mac = match <Hmac<Sha256> as Mac>::new_from_slice(secret) {
        Ok(m) => m,
        Err(_) => return [0u8; 32],
    };
    mac.update(SALT_PREFIX);
    mac.update(statement_seq.to_string().as_bytes());
    mac.update(b"\n");
    mac.update(label.as_bytes());
    mac.finalize().into_bytes().into()
}

/// The leaf node of one balance under its salt.
pub fn leaf_node(salt: &[u8; 32], label: &str, amount: u64) -> SumNode {
    let mut h = Sha256::new();
    h.update(LEAF_PREFIX);
    h.update(salt);
    // A label is at most 200 bytes, so its length fits u32; the length prefix makes the
    // label/amount boundary unambiguous.
    h.update(u32::try_from(label.len()).unwrap_or(u32::MAX).to_be_bytes());
    h.update(label.as_bytes());
    h.update(amount.to_be_bytes());
    SumNode {
        hash: h.finalize().into(),
        sum: amount,
    }
}

/// The parent of two nodes: both sums go into the hash (the fix to Maxwell's tree).
pub fn parent_node(left: &SumNode, right: &SumNode) -> Result<SumNode, LiabilityError> {
    let sum = left.sum.checked_add(right.sum).ok_or(LiabilityError::Overflow)?;
    let mut h = Sha256::new();
    h.update(NODE_PREFIX);
    h.update(left.sum.to_be_bytes());
    h.update(right.sum.to_be_bytes());
    h.update(left.hash);
    h.update(right.hash);
    Ok(SumNode {
        hash: h.finalize().into(),
        sum,
    })
}

/// The root of a tree with no leaves: a fixed hash and a total of zero.
pub fn empty_sum_root() -> SumNode {
    SumNode {
        hash: Sha256::digest(EMPTY_PREFIX).into(),
        sum: 0,
    }
}

/// Where a sibling sits on the path from a leaf to the root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SiblingSide {
    Left,
    Right,
}

/// One step of an inclusion path: the sibling's side, sum and hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PathStep {
    pub side: SiblingSide,
    pub sibling: SumNode,
}

/// A built tree: every level kept, so a proof is a walk up.
#[derive(Debug, Clone)]
pub struct SumTree {
    /// `levels[0]` are the leaves, sorted by hash; the last level is the root alone.
    levels: Vec<Vec<SumNode>>,
    /// The liabilities in leaf order, each with its salt.
    leaves: Vec<(Liability, [u8; 32])>,
}

impl SumTree {
    /// Builds the tree of one statement: salts each leaf from `secret`, sorts by leaf
    /// hash, sums with overflow refused. Labels must be distinct.
    pub fn build(secret: &[u8; 32], statement_seq: u64, liabilities: Vec<Liability>) -> Result<Self, LiabilityError> {
        let mut leaves: Vec<(SumNode, Liability, [u8; 32])> = liabilities
            .into_iter()
            .map(|l| {
                let salt = derive_salt(secret, statement_seq, &l.label);
                (leaf_node(&salt, &l.label, l.amount), l, salt)
            })
            .collect();
        leaves.sort_by(|a, b| a.0.hash.cmp(&b.0.hash).then_with(|| a.1.label.cmp(&b.1.label)));
        {
            let mut labels: Vec<&str> = leaves.iter().map(|l| l.1.label.as_str()).collect();
            labels.sort_unstable();
            if let Some(w) = labels.windows(2).find(|w| w[0] == w[1]) {
                return Err(LiabilityError::DuplicateLabel(w[0].to_owned()));
            }
        }
        let first: Vec<SumNode> = leaves.iter().map(|l| l.0).collect();
        let mut levels = vec![first];
        while levels.last().is_some_and(|l| l.len() > 1) {
            let below = levels.last().map(Vec::as_slice).unwrap_or_default();
            let mut up = Vec::with_capacity(below.len().div_ceil(2));
            for pair in below.chunks(2) {
                match pair {
                    [l, r] => up.push(parent_node(l, r)?),
                    [only] => up.push(*only),
                    _ => {}
                }
            }
            levels.push(up);
        }
        Ok(Self {
            levels,
            leaves: leaves.into_iter().map(|(_, l, s)| (l, s)).collect(),
        })
    }

    /// The root: its hash and the total of every liability.
    pub fn root(&self) -> SumNode {
        match self.levels.last().and_then(|l| l.first()) {
            Some(root) => *root,
            None => empty_sum_root(),
        }
    }

    pub fn len(&self) -> usize {
        self.leaves.len()
    }

    pub fn is_empty(&self) -> bool {
        self.leaves.is_empty()
    }

    /// The leaf index of a label, if it is in the tree.
    pub fn position(&self, label: &str) -> Option<usize> {
        self.leaves.iter().position(|(l, _)| l.label == label)
    }

    /// The liability and salt of a leaf.
    pub fn leaf(&self, index: usize) -> Option<(&Liability, &[u8; 32])> {
        self.leaves.get(index).map(|(l, s)| (l, s))
    }

    /// The path from leaf `index` to the root. A node carried up without a sibling adds
    /// no step.
    pub fn path(&self, index: usize) -> Result<Vec<PathStep>, LiabilityError> {
        let count = self.leaves.len();
        if index >= count {
            return Err(LiabilityError::NoSuchLeaf { index, count });
        }
        let mut steps = Vec::new();
        let mut i = index;
        for level in &self.levels[..self.levels.len().saturating_sub(1)] {
            let sibling = i ^ 1;
            if let Some(node) = level.get(sibling) {
                let side = if sibling < i {
                    SiblingSide::Left
                } else {
                    SiblingSide::Right
                };
                steps.push(PathStep { side, sibling: *node });
            }
            i /= 2;
        }
        Ok(steps)
    }

    /// The proof text for leaf `index` under the signed statement `statement_note`.
    pub fn proof(&self, index: usize, statement_note: &str) -> Result<String, LiabilityError> {
        let path = self.path(index)?;
        let (liability, salt) = self.leaf(index).ok_or(LiabilityError::NoSuchLeaf {
            index,
            count: self.leaves.len(),
        })?;
        Ok(format_proof(liability, salt, &path, statement_note))
    }
}

/// Writes a proof in its text form (see the module docs).
pub fn format_proof(liability: &Liability, salt: &[u8; 32], path: &[PathStep], statement_note: &str) -> String {
    let mut out = format!(
        "{PROOF_HEADER}\nlabel {}\namount {}\nsalt {}\n",
        liability.label,
        liability.amount,
        encode_b64(salt)
    );
    for step in path {
        let side = match step.side {
            SiblingSide::Left => "left",
            SiblingSide::Right => "right",
        };
        out.push_str(&format!(
            "step {side} {} {}\n",
            step.sibling.sum,
            encode_b64(&step.sibling.hash)
        ));
    }
    out.push_str("statement\n");
    out.push_str(statement_note);
    out
}

/// A statement: which one, as of when, how many leaves, their total and the root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub seq: u64,
    pub as_of_ms: u64,
    pub leaf_count: u64,
    pub total: u64,
    pub root: Hash,
}

impl Statement {
    /// The statement of a built tree.
    pub fn of_tree(tree: &SumTree, seq: u64, as_of_ms: u64) -> Self {
        let root = tree.root();
        Self {
            seq,
            as_of_ms,
            leaf_count: u64::try_from(tree.len()).unwrap_or(u64::MAX),
            total: root.sum,
            root: root.hash,
        }
    }

    /// The note body (see the module docs).
    pub fn to_body(&self) -> String {
        format!(
            "{STATEMENT_ORIGIN}\n{}\n{}\n{}\n{}\n{}\n",
            self.seq,
            self.as_of_ms,
            self.leaf_count,
            self.total,
            encode_b64(&self.root)
        )
    }

    /// The signed note.
    pub fn sign(&self, signer: &LogSigner) -> Result<String, LiabilityError> {
        Ok(signer.sign_note(&self.to_body())?)
    }

    /// Parses a body strictly: six lines, canonical numbers and root.
    pub fn parse_body(body: &str) -> Result<Self, LiabilityError> {
        let bad = LiabilityError::MalformedStatement;
        let text = body.strip_suffix('\n').ok_or(bad("missing final newline"))?;
        let lines: Vec<&str> = text.splitn(7, '\n').collect();
        let [origin, seq, as_of, count, total, root] = lines.as_slice() else {
            return Err(bad("expected origin, seq, as-of, count, total and root lines"));
        };
        if *origin != STATEMENT_ORIGIN {
            return Err(bad("not a danbao.dev/liabilities statement"));
        }
        let number = |s: &str| parse_canonical_u64(s).ok_or(bad("a number is not a canonical decimal"));
        Ok(Self {
            seq: number(seq)?,
            as_of_ms: number(as_of)?,
            leaf_count: number(count)?,
            total: number(total)?,
            root: decode_b64_hash(root).ok_or(bad("root is not a canonical base64 SHA-256 hash"))?,
        })
    }
}

/// Opens a signed statement with the log's verifier key.
pub fn open_statement(note: &str, verifier: &LogVerifier) -> Result<Statement, LiabilityError> {
    let body = verifier.open_note(note)?;
    Statement::parse_body(body)
}

/// A proof as parsed, before anything is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiabilityProof {
    pub liability: Liability,
    pub salt: [u8; 32],
    pub path: Vec<PathStep>,
    pub statement_note: String,
}

impl LiabilityProof {
    /// Parses the proof text strictly and within bounds; checks nothing cryptographic.
    pub fn parse(text: &str) -> Result<Self, LiabilityError> {
        if text.len() > MAX_PROOF_LEN {
            return Err(LiabilityError::ProofTooLarge { max: MAX_PROOF_LEN });
        }
        let bad = |line: usize, problem: &'static str| LiabilityError::MalformedProof { line, problem };
        let mut rest = text;
        let mut line_no = 0usize;
        let mut next_line = |rest: &mut &str| -> Option<(usize, String)> {
            let (line, tail) = rest.split_once('\n')?;
            *rest = tail;
            line_no += 1;
            Some((line_no, line.to_owned()))
        };
        let (n, header) = next_line(&mut rest).ok_or(bad(1, "empty proof"))?;
        if header != PROOF_HEADER {
            return Err(bad(n, "not a danbao-liabilities-proof/v1"));
        }
        let mut field = |rest: &mut &str, key: &'static str| -> Result<(usize, String), LiabilityError> {
            let (n, line) = next_line(rest).ok_or(bad(0, "proof ends early"))?;
            let value = line
                .strip_prefix(key)
                .and_then(|v| v.strip_prefix(' '))
                .ok_or(bad(n, "expected label, amount and salt lines in order"))?;
            Ok((n, value.to_owned()))
        };
        let (n, label) = field(&mut rest, "label")?;
        check_label(&label).map_err(|_| bad(n, "label is not 1 to 200 printable ASCII characters"))?;
        let (n, amount) = field(&mut rest, "amount")?;
        let amount = parse_canonical_u64(&amount).ok_or(bad(n, "amount is not a canonical decimal"))?;
        let (n, salt) = field(&mut rest, "salt")?;
        let salt = decode_b64_hash(&salt).ok_or(bad(n, "salt is not 32 bytes of canonical base64"))?;
        let mut path = Vec::new();
        let mut line_no = n;
        loop {
            let Some((line, tail)) = rest.split_once('\n') else {
                return Err(bad(line_no + 1, "proof ends before its statement"));
            };
            rest = tail;
            line_no += 1;
            if line == "statement" {
                break;
            }
            if path.len() >= MAX_PATH_STEPS {
                return Err(LiabilityError::PathTooLong { max: MAX_PATH_STEPS });
            }
            let mut parts = line.split(' ');
            let (Some("step"), Some(side), Some(sum), Some(hash), None) =
                (parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
            else {
                return Err(bad(line_no, "expected `step <left|right> <sum> <hash>` or `statement`"));
            };
            let side = match side {
                "left" => SiblingSide::Left,
                "right" => SiblingSide::Right,
                _ => return Err(bad(line_no, "side must be left or right")),
            };
            let sum = parse_canonical_u64(sum).ok_or(bad(line_no, "sum is not a canonical decimal"))?;
            let hash = decode_b64_hash(hash).ok_or(bad(line_no, "hash is not 32 bytes of canonical base64"))?;
            path.push(PathStep {
                side,
                sibling: SumNode { hash, sum },
            });
        }
        Ok(Self {
            liability: Liability { label, amount },
            salt,
            path,
            statement_note: rest.to_owned(),
        })
    }

    /// Folds the path from the leaf: the root hash and total it leads to.
    pub fn computed_root(&self) -> Result<SumNode, LiabilityError> {
        let mut node = leaf_node(&self.salt, &self.liability.label, self.liability.amount);
        for step in &self.path {
            node = match step.side {
                SiblingSide::Left => parent_node(&step.sibling, &node)?,
                SiblingSide::Right => parent_node(&node, &step.sibling)?,
            };
        }
        Ok(node)
    }
}

/// What a valid proof shows: this balance, with this amount, is in this signed total.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedLiability {
    pub label: String,
    pub amount: u64,
    pub statement: Statement,
}

/// Checks a proof offline with only the log's verifier key: the statement's signature,
/// then that the path from the leaf rebuilds the signed root *and* the signed total.
pub fn verify_proof(text: &str, verifier: &LogVerifier) -> Result<VerifiedLiability, LiabilityError> {
    let proof = LiabilityProof::parse(text)?;
    let statement = open_statement(&proof.statement_note, verifier)?;
    let computed = proof.computed_root()?;
    if computed.hash != statement.root {
        return Err(LiabilityError::RootMismatch);
    }
    if computed.sum != statement.total {
        return Err(LiabilityError::TotalMismatch {
            computed: computed.sum,
            signed: statement.total,
        });
    }
    Ok(VerifiedLiability {
        label: proof.liability.label,
        amount: proof.liability.amount,
        statement,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use rand::{rngs::StdRng, Rng, SeedableRng};

    const SECRET: [u8; 32] = [7u8; 32];

    fn signer() -> LogSigner {
        LogSigner::from_secret_bytes("danbao.dev/evidence-log", &[3u8; 32]).unwrap()
    }

    fn liabilities(amounts: &[i64]) -> Vec<Liability> {
        amounts
            .iter()
            .enumerate()
            .map(|(i, a)| Liability::new(&format!("order:{i:04}:escrow"), *a).unwrap())
            .collect()
    }

    /// Builds a tree and a signed statement; returns the tree and the note.
    fn published(amounts: &[i64], seq: u64) -> (SumTree, String) {
        let tree = SumTree::build(&SECRET, seq, liabilities(amounts)).unwrap();
        let note = Statement::of_tree(&tree, seq, 1_700_000_000_000)
            .sign(&signer())
            .unwrap();
        (tree, note)
    }

    /// A second verifier, written from the paper's definition of the fixed summation
    /// tree and sharing no code with the one above: its own hashing, its own (recursive,
    /// RFC 6962-shaped) tree, its own line parsing. Only the note signature is checked
    /// with `LogVerifier`, which is not part of the sum tree.
    mod reference {
        use sha2::{Digest, Sha256};

        pub type Node = ([u8; 32], u64);

        pub fn leaf(salt: &[u8], label: &str, amount: u64) -> Node {
            let mut bytes = b"danbao-liability-leaf/v1\n".to_vec();
            bytes.extend_from_slice(salt);
            bytes.extend_from_slice(&(label.len() as u32).to_be_bytes());
            bytes.extend_from_slice(label.as_bytes());
            bytes.extend_from_slice(&amount.to_be_bytes());
            (Sha256::digest(&bytes).into(), amount)
        }

        /// h(v) = H(prefix ‖ l.sum ‖ r.sum ‖ h(l) ‖ h(r)), sum(v) = l.sum + r.sum.
        pub fn join(l: Node, r: Node) -> Option<Node> {
            let mut bytes = b"danbao-liability-node/v1\n".to_vec();
            bytes.extend_from_slice(&l.1.to_be_bytes());
            bytes.extend_from_slice(&r.1.to_be_bytes());
            bytes.extend_from_slice(&l.0);
            bytes.extend_from_slice(&r.0);
            Some((Sha256::digest(&bytes).into(), l.1.checked_add(r.1)?))
        }

        /// MTH of RFC 6962 §2.1 with the sum node: split at the largest power of two < n.
        pub fn root(leaves: &[Node]) -> Option<Node> {
            match leaves.len() {
                0 => Some((Sha256::digest(b"danbao-liability-empty/v1\n").into(), 0)),
                1 => Some(leaves[0]),
                n => {
                    let mut k = 1;
                    while k * 2 < n {
                        k *= 2;
                    }
                    join(root(&leaves[..k])?, root(&leaves[k..])?)
                }
            }
        }

        fn b64(s: &str) -> Option<Vec<u8>> {
            use base64::Engine as _;
            let v = base64::engine::general_purpose::STANDARD.decode(s).ok()?;
            (base64::engine::general_purpose::STANDARD.encode(&v) == s && v.len() == 32).then_some(v)
        }

        fn num(s: &str) -> Option<u64> {
            (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0')))
                .then(|| s.parse().ok())
                .flatten()
        }

        /// Accepts the proof text or says no; returns (label, amount, total).
        pub fn verify(text: &str, vkey: &str) -> Option<(String, u64, u64)> {
            let (head, note) = text.split_once("\nstatement\n")?;
            let mut lines = head.split('\n');
            if lines.next()? != "danbao-liabilities-proof/v1" {
                return None;
            }
            let label = lines.next()?.strip_prefix("label ")?.to_string();
            if label.is_empty() || label.len() > 200 || !label.bytes().all(|b| b.is_ascii_graphic()) {
                return None;
            }
            let amount = num(lines.next()?.strip_prefix("amount ")?)?;
            let salt = b64(lines.next()?.strip_prefix("salt ")?)?;
            let mut node = leaf(&salt, &label, amount);
            for line in lines {
                let f: Vec<&str> = line.split(' ').collect();
                if f.len() != 4 || f[0] != "step" {
                    return None;
                }
                let sib: Node = (b64(f[3])?.try_into().ok()?, num(f[2])?);
                node = match f[1] {
                    "left" => join(sib, node)?,
                    "right" => join(node, sib)?,
                    _ => return None,
                };
            }
            let verifier = crate::LogVerifier::from_vkey(vkey).ok()?;
            let body = verifier.open_note(note).ok()?;
            let b: Vec<&str> = body.strip_suffix('\n')?.split('\n').collect();
            if b.len() != 6 || b[0] != "danbao.dev/liabilities" {
                return None;
            }
            let total = num(b[4])?;
            let root = b64(b[5])?;
            (num(b[1]).is_some() && num(b[2]).is_some() && num(b[3]).is_some()).then_some(())?;
            (root == node.0 && total == node.1).then_some((label, amount, total))
        }
    }

    fn both_verify(text: &str) -> (Option<VerifiedLiability>, Option<(String, u64, u64)>) {
        let ours = verify_proof(text, &signer().verifier()).ok();
        let theirs = reference::verify(text, &signer().vkey());
        (ours, theirs)
    }

    fn assert_agree_accept(text: &str) -> VerifiedLiability {
        let (ours, theirs) = both_verify(text);
        let ours = ours.unwrap_or_else(|| panic!("production verifier refused:\n{text}"));
        let theirs = theirs.unwrap_or_else(|| panic!("reference verifier refused:\n{text}"));
        assert_eq!((ours.label.clone(), ours.amount, ours.statement.total), theirs);
        ours
    }

    fn assert_both_refuse(text: &str) {
        let (ours, theirs) = both_verify(text);
        assert!(ours.is_none(), "production verifier accepted:\n{text}");
        assert!(theirs.is_none(), "reference verifier accepted:\n{text}");
    }

    #[test]
    fn every_leaf_of_every_small_size_proves_and_the_roots_agree_with_the_reference() {
        for n in 0..=17usize {
            let amounts: Vec<i64> = (0..n).map(|i| (i as i64 + 1) * 100 + (i as i64 % 3)).collect();
            let (tree, note) = published(&amounts, n as u64);
            let expected_total: u64 = amounts.iter().map(|a| *a as u64).sum();
            // The reference's root over the same salted leaves, in the same sorted order.
            let mut ref_leaves: Vec<reference::Node> = liabilities(&amounts)
                .iter()
                .map(|l| reference::leaf(&derive_salt(&SECRET, n as u64, l.label()), l.label(), l.amount()))
                .collect();
            ref_leaves.sort();
            let ref_root = reference::root(&ref_leaves).unwrap();
            assert_eq!((tree.root().hash, tree.root().sum), ref_root, "n = {n}");
            assert_eq!(tree.root().sum, expected_total);
            for i in 0..n {
                let text = tree.proof(i, &note).unwrap();
                let v = assert_agree_accept(&text);
                let (l, _) = tree.leaf(i).unwrap();
                assert_eq!((v.label.as_str(), v.amount), (l.label(), l.amount()));
                assert_eq!(v.statement.leaf_count, n as u64);
                assert_eq!(v.statement.seq, n as u64);
                // A path is never longer than ceil(log2 n).
                assert!(tree.path(i).unwrap().len() <= (usize::BITS - (n - 1).leading_zeros()) as usize);
            }
            assert_eq!(tree.path(n), Err(LiabilityError::NoSuchLeaf { index: n, count: n }));
        }
    }

    #[test]
    fn single_leaf_and_empty_tree() {
        let (tree, note) = published(&[4200], 1);
        assert!(tree.path(0).unwrap().is_empty());
        let v = assert_agree_accept(&tree.proof(0, &note).unwrap());
        assert_eq!((v.amount, v.statement.total, v.statement.leaf_count), (4200, 4200, 1));

        let (tree, note) = published(&[], 2);
        assert!(tree.is_empty());
        assert_eq!(tree.root(), empty_sum_root());
        let statement = open_statement(&note, &signer().verifier()).unwrap();
        assert_eq!((statement.total, statement.leaf_count), (0, 0));
        assert!(tree.proof(0, &note).is_err());
    }

    #[test]
    fn zero_amounts_are_leaves_too() {
        let (tree, note) = published(&[0, 0, 5], 3);
        assert_eq!(tree.root().sum, 5);
        for i in 0..3 {
            assert_agree_accept(&tree.proof(i, &note).unwrap());
        }
    }

    #[test]
    fn negative_amounts_duplicates_bad_labels_and_overflow_are_refused() {
        assert!(matches!(
            Liability::new("order:1:escrow", -1),
            Err(LiabilityError::NegativeAmount { amount: -1, .. })
        ));
        for bad in ["", "has space", "tab\there", "中文", &"x".repeat(201)] {
            assert!(
                matches!(Liability::new(bad, 1), Err(LiabilityError::InvalidLabel(_))),
                "{bad:?}"
            );
        }
        let dup = vec![Liability::new("a", 1).unwrap(), Liability::new("a", 2).unwrap()];
        assert_eq!(
            SumTree::build(&SECRET, 1, dup).unwrap_err(),
            LiabilityError::DuplicateLabel("a".into())
        );
        let huge = vec![
            Liability::new("a", i64::MAX).unwrap(),
            Liability::new("b", i64::MAX).unwrap(),
            Liability::new("c", 2).unwrap(),
        ];
        assert_eq!(SumTree::build(&SECRET, 1, huge).unwrap_err(), LiabilityError::Overflow);
        // The reference refuses the same overflow.
        let l = |a| reference::leaf(&[0u8; 32], "a", a);
        assert!(reference::root(&[l(u64::MAX), l(1)]).is_none());
    }

    /// Each tamper of a line of a valid proof: both verifiers refuse it.
    #[test]
    fn every_tamper_fails() {
        let (tree, note) = published(&[100, 250, 3000, 7, 99, 1234, 5], 9);
        let i = tree.position("order:0002:escrow").unwrap();
        let good = tree.proof(i, &note).unwrap();
        assert_agree_accept(&good);
        let path = tree.path(i).unwrap();
        let (liability, salt) = tree.leaf(i).unwrap();
        let with = |l: &Liability, s: &[u8; 32], p: &[PathStep], n: &str| format_proof(l, s, p, n);

        // The amount, up or down (the leaf hash commits to it).
        for amount in [2999, 3001, 0] {
            let l = Liability::new(liability.label(), amount).unwrap();
            assert_both_refuse(&with(&l, salt, &path, &note));
        }
        // Another label (someone else's balance) under the same salt.
        let other = Liability::new("order:0003:escrow", 3000).unwrap();
        assert_both_refuse(&with(&other, salt, &path, &note));
        // The salt.
        let mut s = *salt;
        s[0] ^= 1;
        assert_both_refuse(&with(liability, &s, &path, &note));
        for k in 0..path.len() {
            // A sibling's sum: lowering one would shrink the total a buyer sees proven.
            for delta in [1i64, -1] {
                let mut p = path.clone();
                p[k].sibling.sum = p[k].sibling.sum.saturating_add_signed(delta);
                assert_both_refuse(&with(liability, salt, &p, &note));
            }
            // A sibling's hash.
            let mut p = path.clone();
            p[k].sibling.hash[31] ^= 0x80;
            assert_both_refuse(&with(liability, salt, &p, &note));
            // A side.
            let mut p = path.clone();
            p[k].side = match p[k].side {
                SiblingSide::Left => SiblingSide::Right,
                SiblingSide::Right => SiblingSide::Left,
            };
            assert_both_refuse(&with(liability, salt, &p, &note));
            // A step dropped.
            let mut p = path.clone();
            p.remove(k);
            assert_both_refuse(&with(liability, salt, &p, &note));
        }
        // The total in the statement, re-signed by someone else's key.
        let statement = open_statement(&note, &signer().verifier()).unwrap();
        let other_signer = LogSigner::from_secret_bytes("danbao.dev/evidence-log", &[9u8; 32]).unwrap();
        let forged = Statement {
            total: statement.total + 1,
            ..statement.clone()
        }
        .sign(&other_signer)
        .unwrap();
        assert_both_refuse(&with(liability, salt, &path, &forged));
        // The total changed under our own key (the platform lying about its total):
        // the signature holds but the sums do not reach it.
        for total in [statement.total - 1, statement.total + 1] {
            let lie = Statement {
                total,
                ..statement.clone()
            }
            .sign(&signer())
            .unwrap();
            let text = with(liability, salt, &path, &lie);
            assert_both_refuse(&text);
            assert!(matches!(
                verify_proof(&text, &signer().verifier()),
                Err(LiabilityError::TotalMismatch { .. })
            ));
        }
        // The statement's text edited after signing.
        let edited = note.replacen(&statement.total.to_string(), &(statement.total + 1).to_string(), 1);
        assert_both_refuse(&with(liability, salt, &path, &edited));
    }

    /// Maxwell's flaw: in a tree that hashes only the parent's sum, a platform could set
    /// both children's sums to anything that adds up. Here the child sums are hashed, so
    /// shifting value between two siblings changes the root.
    #[test]
    fn shifting_value_between_siblings_changes_the_root() {
        let a = SumNode { hash: [1; 32], sum: 10 };
        let b = SumNode { hash: [2; 32], sum: 20 };
        let shifted = (SumNode { sum: 0, ..a }, SumNode { sum: 30, ..b });
        assert_ne!(
            parent_node(&a, &b).unwrap().hash,
            parent_node(&shifted.0, &shifted.1).unwrap().hash
        );
    }

    #[test]
    fn salts_differ_per_statement_and_label_and_hide_the_amount() {
        assert_ne!(derive_salt(&SECRET, 1, "a"), derive_salt(&SECRET, 2, "a"));
        assert_ne!(derive_salt(&SECRET, 1, "a"), derive_salt(&SECRET, 1, "b"));
        assert_ne!(derive_salt(&SECRET, 1, "a"), derive_salt(&[8u8; 32], 1, "a"));
        let (t1, _) = published(&[10, 20, 30], 1);
        let (t2, _) = published(&[10, 20, 30], 2);
        assert_ne!(t1.root().hash, t2.root().hash);
        assert_eq!(t1.root().sum, t2.root().sum);
    }

    #[test]
    fn statement_bodies_parse_strictly() {
        let s = Statement {
            seq: 3,
            as_of_ms: 1_700_000_000_000,
            leaf_count: 2,
            total: 99,
            root: [5; 32],
        };
        assert_eq!(Statement::parse_body(&s.to_body()).unwrap(), s);
        let body = s.to_body();
        for bad in [
            body.trim_end().to_string(),
            body.replace("danbao.dev/liabilities", "danbao.dev/evidence-log"),
            body.replace("\n3\n", "\n03\n"),
            format!("{body}extra\n"),
            body.replacen("99", "-99", 1),
        ] {
            assert!(Statement::parse_body(&bad).is_err(), "{bad:?}");
        }
        // A checkpoint, signed by the same key, is not a statement.
        let checkpoint = crate::Checkpoint::new("danbao.dev/evidence-log", 5, [1; 32])
            .unwrap()
            .sign(&signer());
        assert!(open_statement(&checkpoint, &signer().verifier()).is_err());
    }

    #[test]
    fn malformed_proofs_are_refused_with_a_line_number() {
        let (tree, note) = published(&[1, 2, 3], 4);
        let good = tree.proof(0, &note).unwrap();
        let cases: Vec<String> = vec![
            String::new(),
            "danbao-liabilities-proof/v2\n".into(),
            good.replacen("label ", "label  ", 1),
            good.replacen("amount ", "amount 0", 1),
            good.replacen("amount ", "amount +", 1),
            good.replacen("salt ", "salt x", 1),
            good.replacen("step left", "step up", 1)
                .replacen("step right", "step up", 1),
            good.replacen("\nstatement\n", "\n", 1),
            good.replacen("step ", "step  ", 1),
            format!("{PROOF_HEADER}\nlabel a\namount 1\n"),
            "x".repeat(MAX_PROOF_LEN + 1),
        ];
        for text in cases {
            assert!(LiabilityProof::parse(&text).is_err() || verify_proof(&text, &signer().verifier()).is_err());
            assert_both_refuse(&text);
        }
        let long_path = format!(
            "{PROOF_HEADER}\nlabel a\namount 1\nsalt {}\n{}statement\n{note}",
            encode_b64(&[0; 32]),
            format!("step left 1 {}\n", encode_b64(&[0; 32])).repeat(MAX_PATH_STEPS + 1)
        );
        assert_eq!(
            LiabilityProof::parse(&long_path).unwrap_err(),
            LiabilityError::PathTooLong { max: MAX_PATH_STEPS }
        );
    }

    /// Many random sets of amounts (seeded, so a failure repeats): both verifiers
    /// accept every honest proof and agree on the root and total.
    #[test]
    fn honest_proofs_verify() {
        let mut rng = StdRng::seed_from_u64(16);
        for round in 0..64u64 {
            let n = rng.gen_range(1..40usize);
            let amounts: Vec<i64> = (0..n).map(|_| rng.gen_range(0..1_000_000_000i64)).collect();
            let (tree, note) = published(&amounts, round);
            let i = rng.gen_range(0..n);
            let v = assert_agree_accept(&tree.proof(i, &note).unwrap());
            assert_eq!(v.statement.total, amounts.iter().map(|a| *a as u64).sum::<u64>());
        }
    }

    /// Arbitrary text, and a valid proof with one byte changed anywhere: never a panic,
    /// both verifiers give the same verdict, and no changed proof verifies.
    #[test]
    fn garbage_and_changed_bytes_are_refused_without_panic() {
        let mut rng = StdRng::seed_from_u64(61);
        for _ in 0..500 {
            let len = rng.gen_range(0..400usize);
            let bytes: Vec<u8> = (0..len).map(|_| rng.gen()).collect();
            let text = String::from_utf8_lossy(&bytes);
            let (ours, theirs) = both_verify(&text);
            assert!(ours.is_none() && theirs.is_none());
        }
        let (tree, note) = published(&[10, 20, 30, 40, 50], 5);
        let good = tree.proof(2, &note).unwrap();
        for p in 0..good.len() {
            for byte in [b'0', b'A', b'x', b' ', b'\n', 0xff] {
                let mut bytes = good.clone().into_bytes();
                bytes[p] = byte;
                let Ok(text) = String::from_utf8(bytes) else { continue };
                if text == good {
                    continue;
                }
                let (ours, theirs) = both_verify(&text);
                assert!(ours.is_none(), "a changed proof verified:\n{text}");
                assert!(theirs.is_none(), "the reference accepted a changed proof:\n{text}");
            }
        }
    }
}
