//! The evidence log (SPEC §11) as the platform runs it: leaves written with the events
//! that cause them, one sequencer appending them in batches to the insert-only tables,
//! checkpoints signed only after checking consistency with the previous one, receipts,
//! and timelines whose every event is checked against the log.

use crate::auth::Caller;
use crate::{App, AppError, AppResult};
use danbao_domain::OrderId;
use danbao_evidence::{
    consistency_proof, inclusion_proof, nodes_to_store_after_append, open_checkpoint, sha256_hex, verify_consistency,
    verify_receipt, Checkpoint, CompactRange, EventFields, EventRecord, Hash, Leaf, LeafOpening, LogSigner,
    LogVerifier, NodeReader, OpeningError, ProofError, Receipt, SealedLeaf,
};
use danbao_store::Tx;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// The log's name: the checkpoint origin and the signing key's name.
pub const LOG_NAME: &str = "danbao.dev/evidence-log";
/// Leaves appended per sequencer transaction: bounds how long it holds the log's lock.
const SEQUENCE_BATCH: i64 = 2_000;
/// A proof reads O(log n) nodes; this bounds the fetch loop far above that.
const NODE_FETCHES_MAX: usize = 256;

fn internal(e: impl std::fmt::Display) -> AppError {
    AppError::Internal(e.to_string())
}

fn hex32(text: &str) -> AppResult<Hash> {
    let bytes = hex::decode(text).map_err(internal)?;
    bytes.try_into().map_err(|_| internal("a stored hash is not 32 bytes"))
}

/// Writes a leaf for an event in the caller's transaction, chained to the case's last
/// leaf. Returns the leaf hash (hex), which the event row keeps.
///
/// The leaf is sealed (`danbao-leaf/v2`): the public log gets a commitment under a fresh
/// random key, and the opening (key and event) is kept beside it in `evidence_openings`,
/// in the same transaction, for the case's parties. The chain link and the time are
/// inside the commitment, so the public can neither name a case nor group its leaves.
pub(crate) async fn append_leaf(
    tx: &mut Tx,
    case_id: &str,
    kind: &str,
    refs: BTreeMap<String, String>,
    content: &[u8],
    now: i64,
) -> AppResult<String> {
    let prev = tx.evidence_case_head(case_id).await?;
    let event = EventRecord::new(EventFields {
        case: case_id.to_string(),
        kind: kind.to_string(),
        refs,
        content_sha256: sha256_hex(content),
        at_ms: now,
        prev_leaf_hash: prev,
    })
    .map_err(internal)?;
    let (sealed, opening) = SealedLeaf::seal(event, &mut rand::rngs::OsRng);
    let record = Leaf::V2(sealed);
    let hash = record.leaf_hash_hex();
    tx.queue_leaf(&danbao_store::NewLeaf {
        id: &uuid::Uuid::now_v7().to_string(),
        case_id,
        record: &record.to_canonical(),
        leaf_hash: &hash,
        opening: &opening.to_text(),
        now,
    })
    .await?;
    Ok(hash)
}

/// Runs a proof computation against stored nodes, fetching each node it asks for (the
/// proof functions are pure and synchronous; the database is not).
pub(crate) async fn with_nodes<T>(tx: &mut Tx, f: impl Fn(&dyn NodeReader) -> Result<T, ProofError>) -> AppResult<T> {
    struct Cache(HashMap<(u32, u64), Hash>);
    impl NodeReader for Cache {
        fn node(&self, level: u32, index: u64) -> Result<Hash, ProofError> {
            self.0
                .get(&(level, index))
                .copied()
                .ok_or(ProofError::NodeMissing { level, index })
        }
    }
    let mut cache = Cache(HashMap::new());
    for _ in 0..NODE_FETCHES_MAX {
        match f(&cache) {
            Ok(v) => return Ok(v),
            Err(ProofError::NodeMissing { level, index }) => {
                let l = i64::from(level);
                let i = i64::try_from(index).map_err(internal)?;
                let Some(hash) = tx.evidence_node(l, i).await? else {
                    return Err(internal(format!("evidence node ({level}, {index}) is missing")));
                };
                cache.0.insert((level, index), hex32(&hash)?);
            }
            Err(e) => return Err(internal(e)),
        }
    }
    Err(internal("a proof needed more nodes than any proof can"))
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TimelineEntry {
    pub seq: i64,
    pub kind: String,
    pub at: String,
    pub detail: serde_json::Value,
    /// The exact text the leaf's `content_sha256` commits to.
    pub detail_json: String,
    pub leaf_index: Option<u64>,
    /// The `c2sp.org/tlog-proof@v1` receipt for this event.
    pub receipt: Option<String>,
    /// The opening of the event's sealed leaf (`danbao-leaf-opening/v2`): the secret
    /// that shows what the public receipt commits to. None for an old public (v1) leaf.
    pub opening: Option<String>,
    pub verified: bool,
    pub problem: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Timeline {
    pub order_id: String,
    /// Every event is in the log, unaltered, in an unbroken chain.
    pub intact: bool,
    pub checkpoint: Option<String>,
    pub events: Vec<TimelineEntry>,
}

impl App {
    /// For `danbao bench`: queues `n` synthetic leaves of one case, in transactions of
    /// `per_tx`, as the order path would.
    pub async fn bench_queue_leaves(&self, case_id: &str, n: usize, per_tx: usize) -> AppResult<()> {
        let mut left = n;
        while left > 0 {
            let now = self.now();
            let mut tx = self.store.begin().await?;
            for _ in 0..left.min(per_tx.max(1)) {
                let mut refs = BTreeMap::new();
                refs.insert("bench".to_string(), "1".to_string());
                append_leaf(
                    &mut tx,
                    case_id,
                    "bench.leaf",
                    refs,
                    uuid::Uuid::now_v7().as_bytes(),
                    now,
                )
                .await?;
            }
            tx.commit().await?;
            left = left.saturating_sub(per_tx.max(1));
        }
        Ok(())
    }

    pub fn log_verifier(&self) -> LogVerifier {
        self.vault.log_signer().verifier()
    }

    pub fn log_signer(&self) -> &LogSigner {
        self.vault.log_signer()
    }

    /// Appends every queued leaf, then signs a checkpoint for the new size — after
    /// checking that the new tree is consistent with the last signed one. Safe to run
    /// from several processes: the sequencer row lock makes them take turns.
    pub async fn sequence_evidence(&self) -> AppResult<Option<String>> {
        loop {
            let now = self.now();
            let mut tx = self.store.begin().await?;
            let danbao_store::EvidenceStateRow { size, frontier } = tx.evidence_state().await?;
            let batch = tx.evidence_queue_batch(SEQUENCE_BATCH).await?;
            if batch.is_empty() {
                tx.commit().await?;
                break;
            }
            let range = CompactRange::from_hex(&frontier).map_err(internal)?;
            if range.size() != u64::try_from(size).map_err(internal)? {
                return Err(internal("the sequencer's frontier does not match its size"));
            }
            let mut hashes = Vec::with_capacity(batch.len());
            for queued in &batch {
                // A queued record that no longer hashes to what was queued was altered.
                let parsed = Leaf::parse_canonical(&queued.record).map_err(internal)?;
                if parsed.leaf_hash_hex() != queued.leaf_hash {
                    return Err(internal(format!("queued leaf {} was altered", queued.leaf_hash)));
                }
                hashes.push(parsed.leaf_hash());
            }
            let (next, nodes) = nodes_to_store_after_append(&range, &hashes).map_err(internal)?;
            let mut leaves = Vec::with_capacity(batch.len());
            for (i, queued) in batch.iter().enumerate() {
                let idx = size + i64::try_from(i).map_err(internal)?;
                leaves.push((
                    idx,
                    queued.leaf_hash.as_str(),
                    queued.case_id.as_str(),
                    queued.record.as_str(),
                ));
            }
            tx.insert_evidence_leaves(&leaves, now).await?;
            let ids: Vec<&str> = batch.iter().map(|q| q.id.as_str()).collect();
            tx.evidence_dequeue(&ids).await?;
            let nodes = nodes
                .into_iter()
                .map(|n| {
                    Ok((
                        i64::from(n.level),
                        i64::try_from(n.index).map_err(internal)?,
                        hex::encode(n.hash),
                    ))
                })
                .collect::<AppResult<Vec<_>>>()?;
            tx.insert_evidence_nodes(&nodes).await?;
            tx.set_evidence_state(i64::try_from(next.size()).map_err(internal)?, &next.to_hex())
                .await?;
            tx.commit().await?;
        }
        let signed = self.sign_checkpoint().await?;
        if self.witness_policy().is_none() {
            return Ok(signed);
        }
        // With witnesses, what is published is what they cosigned.
        self.witness_latest_checkpoint().await?;
        let mut tx = self.store.begin().await?;
        let published = self.published_checkpoint(&mut tx).await?;
        tx.commit().await?;
        Ok(published.map(|(_, note)| note))
    }

    async fn sign_checkpoint(&self) -> AppResult<Option<String>> {
        let now = self.now();
        let mut tx = self.store.begin().await?;
        let danbao_store::EvidenceStateRow { size, frontier } = tx.evidence_state().await?;
        let latest = tx.latest_evidence_checkpoint().await?;
        if size == 0 || latest.as_ref().is_some_and(|c| c.size == size) {
            tx.commit().await?;
            return Ok(latest.map(|c| c.note));
        }
        let range = CompactRange::from_hex(&frontier).map_err(internal)?;
        let root = range.root();
        if let Some(danbao_store::EvidenceCheckpointRow {
            size: old_size,
            root: old_root,
            note: old_note,
        }) = &latest
        {
            // The old checkpoint must still open with our key, and the tree as stored now
            // must extend it: otherwise the log was rewritten, and we refuse to sign.
            let old = open_checkpoint(old_note, &self.log_verifier()).map_err(|e| {
                AppError::Internal(format!("the last checkpoint (size {old_size}) does not verify: {e}"))
            })?;
            if hex::encode(old.root()) != *old_root {
                return Err(internal(
                    "the last checkpoint's stored root differs from its signed root",
                ));
            }
            let (s1, s2) = (old.size(), range.size());
            let proof = with_nodes(&mut tx, |r| consistency_proof(r, s1, s2)).await?;
            if let Err(e) = verify_consistency(s1, s2, &proof, old.root(), &root) {
                let detail = serde_json::json!({"old_size": s1, "new_size": s2, "error": e.to_string()});
                tx.commit().await?;
                let mut tx = self.store.begin().await?;
                tx.insert_security_event("evidence_log_inconsistent", &detail.to_string(), now)
                    .await?;
                tx.commit().await?;
                return Err(AppError::Internal(format!(
                    "the evidence log is not consistent with checkpoint {s1}: {e}; refusing to sign"
                )));
            }
        }
        let note = Checkpoint::new(LOG_NAME, range.size(), root)
            .map_err(internal)?
            .sign(self.log_signer());
        tx.insert_evidence_checkpoint(size, &hex::encode(root), &note, now)
            .await?;
        tx.commit().await?;
        Ok(Some(note))
    }

    /// The latest signed checkpoint, after sequencing whatever is queued (on demand).
    pub async fn evidence_checkpoint(&self) -> AppResult<String> {
        self.sequence_evidence()
            .await?
            .ok_or(AppError::NotFound("checkpoint (the log is empty)"))
    }

    /// The receipt (`c2sp.org/tlog-proof@v1`) for leaf `index`, against the latest checkpoint.
    pub async fn evidence_receipt(&self, index: u64) -> AppResult<String> {
        let mut tx = self.store.begin().await?;
        let mut receipt = self.receipt_in(&mut tx, index).await?;
        tx.commit().await?;
        if receipt.is_none() {
            // Not under a checkpoint yet: sequence what is queued, then look again.
            self.sequence_evidence().await?;
            let mut tx = self.store.begin().await?;
            receipt = self.receipt_in(&mut tx, index).await?;
            tx.commit().await?;
        }
        receipt.ok_or(AppError::NotFound("leaf"))
    }

    async fn receipt_in(&self, tx: &mut Tx, index: u64) -> AppResult<Option<String>> {
        let Some((size, note)) = self.published_checkpoint(tx).await? else {
            return Ok(None);
        };
        let size = u64::try_from(size).map_err(internal)?;
        if index >= size {
            return Ok(None);
        }
        let Some(stored) = tx.evidence_leaf(i64::try_from(index).map_err(internal)?).await? else {
            return Ok(None);
        };
        let leaf = Leaf::parse_canonical(&stored.record).map_err(internal)?;
        let proof = with_nodes(tx, |r| inclusion_proof(r, index, size)).await?;
        Ok(Some(
            Receipt {
                leaf,
                index,
                proof,
                checkpoint_note: note,
            }
            .to_text(),
        ))
    }

    /// The receipt of the leaf with this hash (sequencing it first if needed).
    pub async fn receipt_for_leaf(&self, leaf_hash: &str) -> AppResult<Option<String>> {
        self.sequence_evidence().await?;
        let mut tx = self.store.begin().await?;
        let receipt = match tx.evidence_leaf_by_hash(leaf_hash).await? {
            Some(leaf) => {
                self.receipt_in(&mut tx, u64::try_from(leaf.idx).map_err(internal)?)
                    .await?
            }
            None => None,
        };
        tx.commit().await?;
        Ok(receipt)
    }

    /// A consistency proof between two checkpoint sizes, base64 hashes one per line.
    pub async fn evidence_consistency(&self, from: u64, to: u64) -> AppResult<Vec<Hash>> {
        self.sequence_evidence().await?;
        let mut tx = self.store.begin().await?;
        let size = tx.latest_evidence_checkpoint().await?.map(|c| c.size).unwrap_or(0);
        if from == 0 || from > to || to > u64::try_from(size).map_err(internal)? {
            return Err(AppError::invalid("from/to", format!("need 0 < from ≤ to ≤ {size}")));
        }
        if tx
            .evidence_checkpoint(i64::try_from(from).map_err(internal)?)
            .await?
            .is_none()
            || tx
                .evidence_checkpoint(i64::try_from(to).map_err(internal)?)
                .await?
                .is_none()
        {
            return Err(AppError::NotFound("checkpoint of that size"));
        }
        let proof = with_nodes(&mut tx, |r| consistency_proof(r, from, to)).await?;
        tx.commit().await?;
        Ok(proof)
    }

    /// An order's events, each with its receipt and checked against the log: the event's
    /// details hash to what the leaf committed, the leaf is the one the event names, the
    /// chain of the case is unbroken, and the receipt verifies with our public key. To the
    /// order's buyer and seller only.
    pub async fn order_timeline(&self, caller: &Caller, id: &str) -> AppResult<Timeline> {
        let order = self.visible_order_id(caller, id).await?;
        self.checked_timeline(&order).await
    }

    /// The timeline of a complaint's order for the staff deciding it (the arbitration
    /// desk): every event checked against the log, the card-key reveals among them.
    pub async fn case_order_timeline(&self, caller: &crate::Caller, complaint_id: &str) -> AppResult<Timeline> {
        crate::complaints::require_staff(caller)?;
        let c = self.complaint(caller, complaint_id).await?;
        self.order_timeline_for_operator(&c.order_id).await
    }

    /// The timeline for an operator's tool (`danbao export-dossier`), on the same checks.
    pub async fn order_timeline_for_operator(&self, id: &str) -> AppResult<Timeline> {
        let order_id = danbao_domain::OrderId::parse(id).ok_or(AppError::NotFound("order"))?;
        let mut tx = self.store.begin().await?;
        let exists = tx.order(&order_id, false).await?.is_some();
        tx.commit().await?;
        if !exists {
            return Err(AppError::NotFound("order"));
        }
        self.checked_timeline(&order_id).await
    }

    async fn checked_timeline(&self, order_id: &danbao_domain::OrderId) -> AppResult<Timeline> {
        self.sequence_evidence().await?;
        let mut tx = self.store.begin().await?;
        let rows = tx.order_events(order_id).await?;
        let case = format!("order:{order_id}");
        let head = tx.evidence_case_head(&case).await?;
        let checkpoint = self.published_checkpoint(&mut tx).await?.map(|(_, note)| note);
        let verifier = self.log_verifier();
        let mut out = Vec::with_capacity(rows.len());
        let mut prev: Option<String> = None;
        let mut intact = true;
        for row in rows {
            let problem;
            let mut leaf_index = None;
            let mut receipt = None;
            let mut opening = None;
            match &row.leaf_hash {
                None => problem = Some("this event was never written to the evidence log".to_string()),
                Some(hash) => match tx.evidence_leaf_by_hash(hash).await? {
                    None => problem = Some("this event's leaf is missing from the evidence log".to_string()),
                    Some(leaf) => {
                        let index = u64::try_from(leaf.idx).map_err(internal)?;
                        leaf_index = Some(index);
                        receipt = self.receipt_in(&mut tx, index).await?;
                        opening = tx.evidence_opening(hash).await?;
                        problem = check_event(
                            &leaf.record,
                            hash,
                            &Logged {
                                case: &case,
                                kind: &format!("order.{}", row.kind),
                                detail: &row.detail,
                                at_ms: row.at,
                            },
                            opening.as_deref(),
                            prev.as_deref(),
                            receipt.as_deref(),
                            &verifier,
                        );
                    }
                },
            }
            prev = row.leaf_hash.clone();
            intact &= problem.is_none();
            let detail_json = row.detail.clone();
            let shown = crate::TimelineEvent::from(row);
            out.push(TimelineEntry {
                seq: shown.seq,
                kind: shown.kind,
                at: shown.at,
                detail: shown.detail,
                detail_json,
                leaf_index,
                receipt,
                opening,
                verified: problem.is_none(),
                problem,
            });
        }
        if head.is_some() && head != prev {
            intact = false;
            if let Some(last) = out.last_mut() {
                last.verified = false;
                last.problem = Some("events after this one are missing from the timeline".to_string());
            }
        }
        tx.commit().await?;
        Ok(Timeline {
            order_id: order_id.to_string(),
            intact,
            checkpoint,
            events: out,
        })
    }
}

/// What the platform's own rows say an event was, to hold its leaf against.
struct Logged<'a> {
    case: &'a str,
    kind: &'a str,
    detail: &'a str,
    at_ms: i64,
}

/// What is wrong with one event, if anything. A public (v1) leaf is read as it is; a
/// sealed (v2) one through its stored opening, which must match the leaf's commitment.
#[allow(clippy::too_many_arguments)]
fn check_event(
    record: &str,
    leaf_hash: &str,
    logged: &Logged<'_>,
    opening: Option<&str>,
    prev: Option<&str>,
    receipt: Option<&str>,
    verifier: &LogVerifier,
) -> Option<String> {
    let leaf = match Leaf::parse_canonical(record) {
        Ok(l) => l,
        Err(e) => return Some(format!("the log's record of this event is unreadable: {e}")),
    };
    if leaf.leaf_hash_hex() != leaf_hash {
        return Some("the log's record of this event was altered".to_string());
    }
    let opening = match (&leaf, opening) {
        (Leaf::V1(_), _) => None,
        (Leaf::V2(_), None) => return Some("the opening of this event's sealed leaf is missing".to_string()),
        (Leaf::V2(_), Some(text)) => match LeafOpening::parse(text) {
            Ok(o) => Some(o),
            Err(e) => return Some(format!("the opening of this event's sealed leaf is unreadable: {e}")),
        },
    };
    let event = match leaf.event(opening.as_ref()) {
        Ok(e) => e,
        Err(OpeningError::Mismatch) => {
            return Some("the opening of this event does not match the log: it was altered".to_string())
        }
        Err(e) => return Some(format!("the log's record of this event cannot be read: {e}")),
    };
    if event.content_sha256() != sha256_hex(logged.detail.as_bytes()) {
        return Some("this event's details were altered after they were logged".to_string());
    }
    if event.case() != logged.case || event.kind() != logged.kind || event.at_ms() != logged.at_ms {
        return Some("this event's kind, case or time differs from what the log committed to".to_string());
    }
    if event.prev_leaf_hash() != prev {
        return Some("an event before this one is missing or was altered".to_string());
    }
    match receipt {
        None => Some("no receipt: the leaf is not under a signed checkpoint".to_string()),
        Some(r) => verify_receipt(r, verifier)
            .err()
            .map(|e| format!("the receipt does not verify: {e}")),
    }
}

/// A reason's hash for the log: the log commits to what was written without carrying
/// the words (which may name people).
pub fn reason_hash(reason: Option<&str>) -> Option<String> {
    reason.map(|r| sha256_hex(r.as_bytes()))
}

/// Records an order event on its timeline and, in the same transaction, as a leaf of
/// the evidence log that commits to the event's details (ids and hashes, no personal data).
pub(crate) async fn record_event(
    tx: &mut Tx,
    order: &OrderId,
    kind: &str,
    detail: serde_json::Value,
    now: i64,
) -> AppResult<()> {
    let detail = detail.to_string();
    let mut refs = BTreeMap::new();
    refs.insert("order_id".to_string(), order.to_string());
    let leaf = append_leaf(
        tx,
        &format!("order:{order}"),
        &format!("order.{kind}"),
        refs,
        detail.as_bytes(),
        now,
    )
    .await?;
    tx.insert_order_event(order, kind, &detail, now, &leaf).await?;
    Ok(())
}
