// SQL for reconciliation. Included into `mod sqlite` and `mod postgres` by lib.rs; see common.rs.

pub async fn insert_reconciliation_run(tx: &mut Conn, r: &ReconciliationRunRow) -> Result<()> {
    sqlx::query(
        "INSERT INTO reconciliation_runs (id, provider, period_from, period_to, matched, applied_late, missing_at_provider, amount_mismatch, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&r.id)
    .bind(&r.provider)
    .bind(r.period_from)
    .bind(r.period_to)
    .bind(r.matched)
    .bind(r.applied_late)
    .bind(r.missing_at_provider)
    .bind(r.amount_mismatch)
    .bind(r.created_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

fn run_from(r: &Row) -> Result<ReconciliationRunRow> {
    Ok(ReconciliationRunRow {
        id: r.try_get("id")?,
        provider: r.try_get("provider")?,
        period_from: r.try_get("period_from")?,
        period_to: r.try_get("period_to")?,
        matched: r.try_get("matched")?,
        applied_late: r.try_get("applied_late")?,
        missing_at_provider: r.try_get("missing_at_provider")?,
        amount_mismatch: r.try_get("amount_mismatch")?,
        created_at: r.try_get("created_at")?,
    })
}

pub async fn reconciliation_runs(tx: &mut Conn, limit: i64) -> Result<Vec<ReconciliationRunRow>> {
    let rows = sqlx::query("SELECT * FROM reconciliation_runs ORDER BY created_at DESC LIMIT $1")
        .bind(limit)
        .fetch_all(&mut **tx)
        .await?;
    rows.iter().map(run_from).collect()
}

fn item_from(r: &Row) -> Result<ReconciliationItemRow> {
    Ok(ReconciliationItemRow {
        id: r.try_get("id")?,
        run_id: r.try_get("run_id")?,
        kind: r.try_get("kind")?,
        provider: r.try_get("provider")?,
        provider_txn_id: r.try_get("provider_txn_id")?,
        payment_id: r.try_get("payment_id")?,
        detail: r.try_get("detail")?,
        status: r.try_get("status")?,
        resolution: r.try_get("resolution")?,
        resolved_by: r.try_get("resolved_by")?,
        resolved_at: r.try_get("resolved_at")?,
        created_at: r.try_get("created_at")?,
    })
}

/// Records a difference unless the same one (kind, provider, transaction) is already on
/// record; returns whether it is new.
pub async fn insert_reconciliation_item(tx: &mut Conn, i: &ReconciliationItemRow) -> Result<bool> {
    let done = sqlx::query(
        "INSERT INTO reconciliation_items (id, run_id, kind, provider, provider_txn_id, payment_id, detail, status, resolution, resolved_by, resolved_at, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT (kind, provider, provider_txn_id) DO NOTHING",
    )
    .bind(&i.id)
    .bind(&i.run_id)
    .bind(&i.kind)
    .bind(&i.provider)
    .bind(&i.provider_txn_id)
    .bind(&i.payment_id)
    .bind(&i.detail)
    .bind(&i.status)
    .bind(&i.resolution)
    .bind(&i.resolved_by)
    .bind(i.resolved_at)
    .bind(i.created_at)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn reconciliation_item(tx: &mut Conn, id: &str, lock: bool) -> Result<Option<ReconciliationItemRow>> {
    let sql = format!("SELECT * FROM reconciliation_items WHERE id = $1{}", if lock { DIALECT.for_update } else { "" });
    let row = sqlx::query(&sql).bind(id).fetch_optional(&mut **tx).await?;
    row.as_ref().map(item_from).transpose()
}

pub async fn reconciliation_items(tx: &mut Conn, status: Option<&str>, run_id: Option<&str>, limit: i64) -> Result<Vec<ReconciliationItemRow>> {
    let rows = sqlx::query(
        "SELECT * FROM reconciliation_items WHERE ($1 IS NULL OR status = $1) AND ($2 IS NULL OR run_id = $2) ORDER BY created_at LIMIT $3",
    )
    .bind(status)
    .bind(run_id)
    .bind(limit)
    .fetch_all(&mut **tx)
    .await?;
    rows.iter().map(item_from).collect()
}

pub async fn resolve_reconciliation_item(tx: &mut Conn, id: &str, resolution: &str, by: &str, at: i64) -> Result<()> {
    sqlx::query("UPDATE reconciliation_items SET status = 'resolved', resolution = $2, resolved_by = $3, resolved_at = $4 WHERE id = $1")
        .bind(id)
        .bind(resolution)
        .bind(by)
        .bind(at)
        .execute(&mut **tx)
        .await?;
    Ok(())
}
