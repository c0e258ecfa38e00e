// SQL for complaints. Included into `mod sqlite` and `mod postgres` by lib.rs; see common.rs.

fn complaint_from(r: &Row) -> Result<ComplaintRow> {
    Ok(ComplaintRow {
        id: ComplaintId::from_trusted(r.try_get("id")?),
        order_id: OrderId::from_trusted(r.try_get("order_id")?),
        seller_id: UserId::from_trusted(r.try_get("seller_id")?),
        buyer_id: r.try_get::<Option<String>, _>("buyer_id")?.map(UserId::from_trusted),
        kind: r.try_get("kind")?,
        stage: r.try_get("stage")?,
        deadline_at: r.try_get("deadline_at")?,
        prior_order_status: r.try_get("prior_order_status")?,
        paused_remaining_ms: r.try_get("paused_remaining_ms")?,
        frozen_sources: r.try_get("frozen_sources")?,
        amount: Money::from_minor(r.try_get("amount_minor")?),
        proposal: r.try_get("proposal")?,
        ruling: r.try_get("ruling")?,
        ruled_by: r.try_get("ruled_by")?,
        ruling_reason: r.try_get("ruling_reason")?,
        rule_version: r.try_get("rule_version")?,
        group_id: r.try_get("group_id")?,
        assigned_to: r.try_get("assigned_to")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        resolved_at: r.try_get("resolved_at")?,
        fast_refund: match (
            r.try_get::<Option<i64>, _>("fast_refund_minor")?,
            r.try_get::<Option<i64>, _>("fast_refund_at")?,
        ) {
            (Some(minor), Some(at)) => Some((Money::from_minor(minor), at)),
            _ => None,
        },
        fast_refund_refusal: r.try_get("fast_refund_refusal")?,
    })
}

pub async fn insert_complaint(tx: &mut Conn, c: &ComplaintRow) -> Result<()> {
    sqlx::query(
        "INSERT INTO complaints (id, order_id, seller_id, buyer_id, kind, stage, deadline_at, prior_order_status, paused_remaining_ms, \
         frozen_sources, amount_minor, proposal, ruling, ruled_by, ruling_reason, rule_version, group_id, assigned_to, created_at, updated_at, resolved_at, \
         fast_refund_minor, fast_refund_at, fast_refund_refusal) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24)",
    )
    .bind(c.id.as_str())
    .bind(c.order_id.as_str())
    .bind(c.seller_id.as_str())
    .bind(c.buyer_id.as_ref().map(|b| b.as_str()))
    .bind(&c.kind)
    .bind(&c.stage)
    .bind(c.deadline_at)
    .bind(&c.prior_order_status)
    .bind(c.paused_remaining_ms)
    .bind(&c.frozen_sources)
    .bind(c.amount.minor())
    .bind(&c.proposal)
    .bind(&c.ruling)
    .bind(&c.ruled_by)
    .bind(&c.ruling_reason)
    .bind(c.rule_version)
    .bind(&c.group_id)
    .bind(&c.assigned_to)
    .bind(c.created_at)
    .bind(c.updated_at)
    .bind(c.resolved_at)
    .bind(c.fast_refund.map(|(m, _)| m.minor()))
    .bind(c.fast_refund.map(|(_, at)| at))
    .bind(&c.fast_refund_refusal)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn complaint(tx: &mut Conn, id: &ComplaintId, lock: bool) -> Result<Option<ComplaintRow>> {
    let sql = format!("SELECT * FROM complaints WHERE id = $1{}", if lock { DIALECT.for_update } else { "" });
    let row = sqlx::query(&sql).bind(id.as_str()).fetch_optional(&mut **tx).await?;
    row.as_ref().map(complaint_from).transpose()
}

/// Writes what a transition may change.
pub async fn update_complaint(tx: &mut Conn, c: &ComplaintRow) -> Result<()> {
    sqlx::query(
        "UPDATE complaints SET stage = $2, deadline_at = $3, proposal = $4, ruling = $5, ruled_by = $6, ruling_reason = $7, \
         group_id = $8, updated_at = $9, resolved_at = $10, assigned_to = $11, fast_refund_minor = $12, fast_refund_at = $13, \
         fast_refund_refusal = $14 WHERE id = $1",
    )
    .bind(c.id.as_str())
    .bind(&c.stage)
    .bind(c.deadline_at)
    .bind(&c.proposal)
    .bind(&c.ruling)
    .bind(&c.ruled_by)
    .bind(&c.ruling_reason)
    .bind(&c.group_id)
    .bind(c.updated_at)
    .bind(c.resolved_at)
    .bind(&c.assigned_to)
    .bind(c.fast_refund.map(|(m, _)| m.minor()))
    .bind(c.fast_refund.map(|(_, at)| at))
    .bind(&c.fast_refund_refusal)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// When the buyer last lost a complaint outright (a ruling wholly for the seller).
pub async fn buyer_last_lost_complaint_at(tx: &mut Conn, buyer: &UserId) -> Result<Option<i64>> {
    let row = sqlx::query(
        "SELECT MAX(resolved_at) AS at FROM complaints WHERE buyer_id = $1 AND stage = 'resolved' \
         AND ruling LIKE '%\"kind\":\"release_to_seller\"%'",
    )
    .bind(buyer.as_str())
    .fetch_one(&mut **tx)
    .await?;
    Ok(row.try_get("at")?)
}

pub async fn complaints_for_order(tx: &mut Conn, order: &OrderId) -> Result<Vec<ComplaintRow>> {
    let rows = sqlx::query("SELECT * FROM complaints WHERE order_id = $1 ORDER BY created_at")
        .bind(order.as_str())
        .fetch_all(&mut **tx)
        .await?;
    rows.iter().map(complaint_from).collect()
}

/// Open complaints, soonest deadline first (those without one last).
pub async fn complaint_queue(tx: &mut Conn, limit: i64) -> Result<Vec<ComplaintRow>> {
    let rows = sqlx::query(
        "SELECT * FROM complaints WHERE stage NOT IN ('resolved', 'withdrawn') \
         ORDER BY CASE WHEN deadline_at IS NULL THEN 1 ELSE 0 END, deadline_at, created_at LIMIT $1",
    )
    .bind(limit)
    .fetch_all(&mut **tx)
    .await?;
    rows.iter().map(complaint_from).collect()
}

/// Complaints of the collective kinds against a seller since a time.
pub async fn collective_complaints(tx: &mut Conn, seller: &UserId, since: i64) -> Result<Vec<ComplaintRow>> {
    let rows = sqlx::query(
        "SELECT * FROM complaints WHERE seller_id = $1 AND created_at >= $2 AND kind IN ('not_delivered', 'fraud') ORDER BY created_at",
    )
    .bind(seller.as_str())
    .bind(since)
    .fetch_all(&mut **tx)
    .await?;
    rows.iter().map(complaint_from).collect()
}

pub async fn open_complaints_in_group(tx: &mut Conn, group_id: &str) -> Result<Vec<ComplaintRow>> {
    let sql = format!(
        "SELECT * FROM complaints WHERE group_id = $1 AND stage NOT IN ('resolved', 'withdrawn') ORDER BY created_at{}",
        DIALECT.for_update
    );
    let rows = sqlx::query(&sql).bind(group_id).fetch_all(&mut **tx).await?;
    rows.iter().map(complaint_from).collect()
}

pub async fn open_complaints_of_seller(tx: &mut Conn, seller: &UserId) -> Result<Vec<ComplaintRow>> {
    let rows = sqlx::query(
        "SELECT * FROM complaints WHERE seller_id = $1 AND stage NOT IN ('resolved', 'withdrawn') ORDER BY created_at",
    )
    .bind(seller.as_str())
    .fetch_all(&mut **tx)
    .await?;
    rows.iter().map(complaint_from).collect()
}

pub async fn insert_complaint_event(tx: &mut Conn, complaint_id: &ComplaintId, kind: &str, detail: &str, at: i64, leaf_hash: &str) -> Result<()> {
    sqlx::query(
        "INSERT INTO complaint_events (id, complaint_id, seq, kind, detail, at, leaf_hash) \
         VALUES ($1, $2, (SELECT COALESCE(MAX(seq), 0) + 1 FROM complaint_events WHERE complaint_id = $2), $3, $4, $5, $6)",
    )
    .bind(uuid::Uuid::now_v7().to_string())
    .bind(complaint_id.as_str())
    .bind(kind)
    .bind(detail)
    .bind(at)
    .bind(leaf_hash)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn complaint_events(tx: &mut Conn, complaint_id: &ComplaintId) -> Result<Vec<ComplaintEventRow>> {
    let rows = sqlx::query("SELECT * FROM complaint_events WHERE complaint_id = $1 ORDER BY seq")
        .bind(complaint_id.as_str())
        .fetch_all(&mut **tx)
        .await?;
    rows.iter()
        .map(|r| {
            Ok(ComplaintEventRow {
                id: r.try_get("id")?,
                complaint_id: ComplaintId::from_trusted(r.try_get("complaint_id")?),
                seq: r.try_get("seq")?,
                kind: r.try_get("kind")?,
                detail: r.try_get("detail")?,
                at: r.try_get("at")?,
                leaf_hash: r.try_get("leaf_hash")?,
            })
        })
        .collect()
}

pub async fn insert_complaint_evidence(tx: &mut Conn, e: &ComplaintEvidenceRow) -> Result<()> {
    sqlx::query(
        "INSERT INTO complaint_evidence (id, complaint_id, party, kind, body, file_sha256, media_type, size_bytes, leaf_hash, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(&e.id)
    .bind(e.complaint_id.as_str())
    .bind(&e.party)
    .bind(&e.kind)
    .bind(&e.body)
    .bind(&e.file_sha256)
    .bind(&e.media_type)
    .bind(e.size_bytes)
    .bind(&e.leaf_hash)
    .bind(e.created_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn complaint_evidence(tx: &mut Conn, complaint_id: &ComplaintId) -> Result<Vec<ComplaintEvidenceRow>> {
    let rows = sqlx::query("SELECT * FROM complaint_evidence WHERE complaint_id = $1 ORDER BY created_at, id")
        .bind(complaint_id.as_str())
        .fetch_all(&mut **tx)
        .await?;
    rows.iter()
        .map(|r| {
            Ok(ComplaintEvidenceRow {
                id: r.try_get("id")?,
                complaint_id: ComplaintId::from_trusted(r.try_get("complaint_id")?),
                party: r.try_get("party")?,
                kind: r.try_get("kind")?,
                body: r.try_get("body")?,
                file_sha256: r.try_get("file_sha256")?,
                media_type: r.try_get("media_type")?,
                size_bytes: r.try_get("size_bytes")?,
                leaf_hash: r.try_get("leaf_hash")?,
                created_at: r.try_get("created_at")?,
            })
        })
        .collect()
}
