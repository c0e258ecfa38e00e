// SQL for admin overview counts and operator actions. Included into `mod sqlite` and `mod postgres` by lib.rs; see common.rs.

pub async fn order_status_counts(tx: &mut Conn) -> Result<Vec<CountRow>> {
    let rows = sqlx::query("SELECT status, COUNT(*) AS n FROM orders GROUP BY status ORDER BY status")
        .fetch_all(&mut **tx)
        .await?;
    rows.iter().map(|r| Ok(CountRow { key: r.try_get("status")?, count: r.try_get("n")? })).collect()
}

pub async fn count_by(tx: &mut Conn, table_and_column: CountOf) -> Result<Vec<CountRow>> {
    let sql = match table_and_column {
        CountOf::PaymentOutcomes => "SELECT outcome AS k, COUNT(*) AS n FROM payments GROUP BY outcome ORDER BY outcome",
        CountOf::RefundStatuses => "SELECT status AS k, COUNT(*) AS n FROM refunds GROUP BY status ORDER BY status",
        CountOf::JobStatuses => "SELECT status AS k, COUNT(*) AS n FROM jobs GROUP BY status ORDER BY status",
        CountOf::OpenExceptions => "SELECT kind AS k, COUNT(*) AS n FROM reconciliation_items WHERE status = 'open' GROUP BY kind ORDER BY kind",
    };
    let rows = sqlx::query(sql).fetch_all(&mut **tx).await?;
    rows.iter().map(|r| Ok(CountRow { key: r.try_get("k")?, count: r.try_get("n")? })).collect()
}

/// Keys that belong to more than one order, or orders holding a key twice: must be zero.
pub async fn keys_allocated_twice(tx: &mut Conn) -> Result<i64> {
    let row = sqlx::query(
        "SELECT COUNT(*) AS n FROM (SELECT product_id, fingerprint FROM card_keys WHERE order_id IS NOT NULL \
         GROUP BY product_id, fingerprint HAVING COUNT(DISTINCT order_id) > 1) AS dup",
    )
    .fetch_one(&mut **tx)
    .await?;
    Ok(row.try_get("n")?)
}

pub async fn requeue_job(tx: &mut Conn, id: &str, now: i64) -> Result<bool> {
    let done = sqlx::query("UPDATE jobs SET status = 'queued', attempts = 0, run_at = $2, updated_at = $2 WHERE id = $1 AND status = 'dead'")
        .bind(id)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    Ok(done.rows_affected() == 1)
}
