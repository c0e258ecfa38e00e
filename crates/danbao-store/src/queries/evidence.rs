// SQL for evidence log. Included into `mod sqlite` and `mod postgres` by lib.rs; see common.rs.

/// Queues a leaf with its opening and makes it its case's head. On PostgreSQL in one
/// statement: every order event pays this, and a round trip costs more than the writes.
pub async fn queue_leaf(tx: &mut Conn, leaf: &NewLeaf<'_>) -> Result<()> {
    if !DIALECT.multi_table_insert {
        evidence_enqueue(tx, leaf.id, leaf.case_id, leaf.record, leaf.leaf_hash, leaf.now).await?;
        insert_evidence_opening(tx, leaf.leaf_hash, leaf.case_id, leaf.opening, leaf.now).await?;
        return set_evidence_case_head(tx, leaf.case_id, leaf.leaf_hash).await;
    }
    sqlx::query(
        "WITH queued AS (INSERT INTO evidence_queue (id, case_id, record, leaf_hash, created_at) VALUES ($1, $2, $3, $4, $6)), \
         opened AS (INSERT INTO evidence_openings (leaf_hash, case_id, opening, created_at) VALUES ($4, $2, $5, $6)) \
         INSERT INTO evidence_case_heads (case_id, leaf_hash) VALUES ($2, $4) \
         ON CONFLICT (case_id) DO UPDATE SET leaf_hash = excluded.leaf_hash",
    )
    .bind(leaf.id)
    .bind(leaf.case_id)
    .bind(leaf.record)
    .bind(leaf.leaf_hash)
    .bind(leaf.opening)
    .bind(leaf.now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn evidence_enqueue(tx: &mut Conn, id: &str, case_id: &str, record: &str, leaf_hash: &str, now: i64) -> Result<()> {
    sqlx::query("INSERT INTO evidence_queue (id, case_id, record, leaf_hash, created_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(id)
        .bind(case_id)
        .bind(record)
        .bind(leaf_hash)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The last leaf hash of a case, locked so that two events of one case chain in order.
pub async fn evidence_case_head(tx: &mut Conn, case_id: &str) -> Result<Option<String>> {
    let sql = format!("SELECT leaf_hash FROM evidence_case_heads WHERE case_id = $1{}", DIALECT.for_update);
    let row = sqlx::query(&sql).bind(case_id).fetch_optional(&mut **tx).await?;
    Ok(match row {
        Some(r) => Some(r.try_get("leaf_hash")?),
        None => None,
    })
}

async fn set_evidence_case_head(tx: &mut Conn, case_id: &str, leaf_hash: &str) -> Result<()> {
    sqlx::query(
        "INSERT INTO evidence_case_heads (case_id, leaf_hash) VALUES ($1, $2) \
         ON CONFLICT (case_id) DO UPDATE SET leaf_hash = excluded.leaf_hash",
    )
    .bind(case_id)
    .bind(leaf_hash)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The sequencer's row, locked.
pub async fn evidence_state(tx: &mut Conn) -> Result<EvidenceStateRow> {
    let sql = format!("SELECT size, frontier FROM evidence_state WHERE id = 1{}", DIALECT.for_update);
    let row = sqlx::query(&sql).fetch_one(&mut **tx).await?;
    Ok(EvidenceStateRow {
        size: row.try_get("size")?,
        frontier: row.try_get("frontier")?,
    })
}

pub async fn set_evidence_state(tx: &mut Conn, size: i64, frontier: &str) -> Result<()> {
    sqlx::query("UPDATE evidence_state SET size = $1, frontier = $2 WHERE id = 1")
        .bind(size)
        .bind(frontier)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The oldest queued leaves.
pub async fn evidence_queue_batch(tx: &mut Conn, limit: i64) -> Result<Vec<EvidenceQueueRow>> {
    let rows = sqlx::query("SELECT id, case_id, record, leaf_hash FROM evidence_queue ORDER BY id LIMIT $1")
        .bind(limit)
        .fetch_all(&mut **tx)
        .await?;
    rows.iter()
        .map(|r| {
            Ok(EvidenceQueueRow {
                id: r.try_get("id")?,
                case_id: r.try_get("case_id")?,
                record: r.try_get("record")?,
                leaf_hash: r.try_get("leaf_hash")?,
            })
        })
        .collect()
}

/// Takes sequenced leaves off the queue.
pub async fn evidence_dequeue(tx: &mut Conn, ids: &[&str]) -> Result<()> {
    for chunk in ids.chunks(ROWS_PER_STATEMENT) {
        let params: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
        let sql = format!("DELETE FROM evidence_queue WHERE id IN ({})", params.join(", "));
        let mut q = sqlx::query(&sql);
        for id in chunk {
            q = q.bind(*id);
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

/// Appends leaves (index, leaf hash, case, record), a few hundred per statement.
pub async fn insert_evidence_leaves(tx: &mut Conn, leaves: &[(i64, &str, &str, &str)], now: i64) -> Result<()> {
    for chunk in leaves.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "INSERT INTO evidence_leaves (idx, leaf_hash, case_id, record, sequenced_at) VALUES {}",
            values_list(chunk.len(), 5, 1)
        );
        let mut q = sqlx::query(&sql);
        for (idx, hash, case_id, record) in chunk {
            q = q.bind(*idx).bind(*hash).bind(*case_id).bind(*record).bind(now);
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

/// Stores subtree hashes (level, index, hash), a few hundred per statement.
pub async fn insert_evidence_nodes(tx: &mut Conn, nodes: &[(i64, i64, String)]) -> Result<()> {
    for chunk in nodes.chunks(ROWS_PER_STATEMENT) {
        let sql = format!("INSERT INTO evidence_nodes (level, idx, hash) VALUES {}", values_list(chunk.len(), 3, 1));
        let mut q = sqlx::query(&sql);
        for (level, idx, hash) in chunk {
            q = q.bind(*level).bind(*idx).bind(hash.as_str());
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

pub async fn evidence_node(tx: &mut Conn, level: i64, idx: i64) -> Result<Option<String>> {
    let row = sqlx::query("SELECT hash FROM evidence_nodes WHERE level = $1 AND idx = $2")
        .bind(level)
        .bind(idx)
        .fetch_optional(&mut **tx)
        .await?;
    Ok(match row {
        Some(r) => Some(r.try_get("hash")?),
        None => None,
    })
}

fn evidence_leaf_from(r: &Row) -> Result<EvidenceLeafRow> {
    Ok(EvidenceLeafRow {
        idx: r.try_get("idx")?,
        leaf_hash: r.try_get("leaf_hash")?,
        case_id: r.try_get("case_id")?,
        record: r.try_get("record")?,
    })
}

pub async fn evidence_leaf(tx: &mut Conn, idx: i64) -> Result<Option<EvidenceLeafRow>> {
    let row = sqlx::query("SELECT idx, leaf_hash, case_id, record FROM evidence_leaves WHERE idx = $1")
        .bind(idx)
        .fetch_optional(&mut **tx)
        .await?;
    row.as_ref().map(evidence_leaf_from).transpose()
}

pub async fn evidence_leaf_by_hash(tx: &mut Conn, leaf_hash: &str) -> Result<Option<EvidenceLeafRow>> {
    let row = sqlx::query("SELECT idx, leaf_hash, case_id, record FROM evidence_leaves WHERE leaf_hash = $1")
        .bind(leaf_hash)
        .fetch_optional(&mut **tx)
        .await?;
    row.as_ref().map(evidence_leaf_from).transpose()
}

fn checkpoint_from(r: &Row) -> Result<EvidenceCheckpointRow> {
    Ok(EvidenceCheckpointRow {
        size: r.try_get("size")?,
        root: r.try_get("root")?,
        note: r.try_get("note")?,
    })
}

pub async fn latest_evidence_checkpoint(tx: &mut Conn) -> Result<Option<EvidenceCheckpointRow>> {
    let row = sqlx::query("SELECT size, root, note FROM evidence_checkpoints ORDER BY size DESC LIMIT 1")
        .fetch_optional(&mut **tx)
        .await?;
    row.as_ref().map(checkpoint_from).transpose()
}

pub async fn evidence_checkpoint(tx: &mut Conn, size: i64) -> Result<Option<EvidenceCheckpointRow>> {
    let row = sqlx::query("SELECT size, root, note FROM evidence_checkpoints WHERE size = $1")
        .bind(size)
        .fetch_optional(&mut **tx)
        .await?;
    row.as_ref().map(checkpoint_from).transpose()
}

pub async fn insert_evidence_checkpoint(tx: &mut Conn, size: i64, root: &str, note: &str, now: i64) -> Result<()> {
    sqlx::query("INSERT INTO evidence_checkpoints (size, root, note, created_at) VALUES ($1, $2, $3, $4)")
        .bind(size)
        .bind(root)
        .bind(note)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The latest checkpoint cosigned by the witness quorum (issue 16), as published.
pub async fn latest_witnessed_checkpoint(tx: &mut Conn) -> Result<Option<(i64, String)>> {
    let row = sqlx::query("SELECT size, note FROM evidence_witnessed ORDER BY size DESC LIMIT 1")
        .fetch_optional(&mut **tx)
        .await?;
    row.map(|r| Ok((r.try_get("size")?, r.try_get("note")?))).transpose()
}

/// Keeps the cosigned note of a size once (a second cosigning of the same size by another
/// process changes nothing).
pub async fn insert_witnessed_checkpoint(tx: &mut Conn, size: i64, note: &str, cosigners: i64, now: i64) -> Result<()> {
    sqlx::query(
        "INSERT INTO evidence_witnessed (size, note, cosigners, created_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (size) DO NOTHING",
    )
    .bind(size)
    .bind(note)
    .bind(cosigners)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// An order event and the leaf it was logged as (every event is logged).
pub async fn insert_order_event(tx: &mut Conn, order: &OrderId, kind: &str, detail: &str, at: i64, leaf_hash: &str) -> Result<()> {
    sqlx::query(
        "INSERT INTO order_events (id, order_id, seq, kind, detail, at, leaf_hash) \
         VALUES ($1, $2, (SELECT COALESCE(MAX(seq), 0) + 1 FROM order_events WHERE order_id = $2), $3, $4, $5, $6)",
    )
    .bind(uuid::Uuid::now_v7().to_string())
    .bind(order.as_str())
    .bind(kind)
    .bind(detail)
    .bind(at)
    .bind(leaf_hash)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Keeps the opening of a sealed leaf, in the transaction that queues the leaf.
async fn insert_evidence_opening(tx: &mut Conn, leaf_hash: &str, case_id: &str, opening: &str, now: i64) -> Result<()> {
    sqlx::query("INSERT INTO evidence_openings (leaf_hash, case_id, opening, created_at) VALUES ($1, $2, $3, $4)")
        .bind(leaf_hash)
        .bind(case_id)
        .bind(opening)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The opening of a sealed leaf; none for a public (v1) leaf.
pub async fn evidence_opening(tx: &mut Conn, leaf_hash: &str) -> Result<Option<String>> {
    let row = sqlx::query("SELECT opening FROM evidence_openings WHERE leaf_hash = $1")
        .bind(leaf_hash)
        .fetch_optional(&mut **tx)
        .await?;
    Ok(match row {
        Some(r) => Some(r.try_get("opening")?),
        None => None,
    })
}

/// Subtree hashes of one level with index in [from, to), in order (C2SP tlog-tiles).
pub async fn evidence_nodes_range(tx: &mut Conn, level: i64, from: i64, to: i64) -> Result<Vec<String>> {
    let rows = sqlx::query("SELECT hash FROM evidence_nodes WHERE level = $1 AND idx >= $2 AND idx < $3 ORDER BY idx")
        .bind(level)
        .bind(from)
        .bind(to)
        .fetch_all(&mut **tx)
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        out.push(r.try_get("hash")?);
    }
    Ok(out)
}

/// Leaves with index in [from, to), in order (C2SP tlog-tiles entry bundles).
pub async fn evidence_leaves_range(tx: &mut Conn, from: i64, to: i64) -> Result<Vec<EvidenceLeafRow>> {
    let rows = sqlx::query("SELECT idx, leaf_hash, case_id, record FROM evidence_leaves WHERE idx >= $1 AND idx < $2 ORDER BY idx")
        .bind(from)
        .bind(to)
        .fetch_all(&mut **tx)
        .await?;
    rows.iter().map(evidence_leaf_from).collect()
}
