// SQL for the liveness audit. Included into `mod sqlite` and `mod postgres` by lib.rs; see common.rs.

/// Everything that must still move, and the jobs queued to move it, read in the caller's
/// transaction (see `AuditFacts`).
pub async fn audit_facts(tx: &mut Conn) -> Result<AuditFacts> {
    let mut live_jobs = std::collections::BTreeSet::new();
    for r in sqlx::query("SELECT kind, payload FROM jobs WHERE status IN ('queued', 'running')")
        .fetch_all(&mut **tx)
        .await?
    {
        live_jobs.insert((r.try_get::<String, _>("kind")?, r.try_get::<String, _>("payload")?));
    }
    let dead_jobs: i64 = sqlx::query("SELECT COUNT(*) AS n FROM jobs WHERE status = 'dead'")
        .fetch_one(&mut **tx)
        .await?
        .try_get("n")?;
    let open_orders = sqlx::query(
        "SELECT * FROM orders WHERE status IN ('pending_payment', 'paid', 'delivered', 'disputed') ORDER BY created_at, id",
    )
    .fetch_all(&mut **tx)
    .await?
    .iter()
    .map(order_from)
    .collect::<Result<Vec<_>>>()?;
    let open_complaints = sqlx::query(
        "SELECT * FROM complaints WHERE stage NOT IN ('resolved', 'withdrawn') ORDER BY created_at, id",
    )
    .fetch_all(&mut **tx)
    .await?
    .iter()
    .map(complaint_from)
    .collect::<Result<Vec<_>>>()?;
    let mut unconfirmed_refunds = Vec::new();
    for r in sqlx::query("SELECT id FROM refunds WHERE status = 'requested' ORDER BY created_at, id")
        .fetch_all(&mut **tx)
        .await?
    {
        unconfirmed_refunds.push(r.try_get::<String, _>("id")?);
    }
    let mut unsettled_withdrawals = Vec::new();
    for r in sqlx::query("SELECT id FROM withdrawals WHERE status = 'requested' ORDER BY created_at, id")
        .fetch_all(&mut **tx)
        .await?
    {
        unsettled_withdrawals.push(r.try_get::<String, _>("id")?);
    }
    let mut standings = Vec::new();
    for r in sqlx::query("SELECT * FROM seller_standing ORDER BY seller_id")
        .fetch_all(&mut **tx)
        .await?
    {
        standings.push(SellerStandingRow {
            seller_id: UserId::from_trusted(r.try_get("seller_id")?),
            status: r.try_get("status")?,
            reason: r.try_get("reason")?,
            frozen_available_minor: r.try_get("frozen_available_minor")?,
            updated_at: r.try_get("updated_at")?,
        });
    }
    Ok(AuditFacts {
        live_jobs,
        dead_jobs,
        open_orders,
        open_complaints,
        unconfirmed_refunds,
        unsettled_withdrawals,
        standings,
    })
}
