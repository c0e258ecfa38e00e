// SQL for the bounds of issue 8: stock held by unpaid orders per client, the query-password
// lock, and counted security events. Included into `mod sqlite` and `mod postgres` by
// lib.rs; see common.rs.

/// Records who placed an order (its network address, a guest's contact as one person), in
/// the order's own transaction. Kept out of `OrderRow`: only the hoarding caps read it.
pub async fn set_order_client(
    tx: &mut Conn,
    order: &OrderId,
    address: Option<&str>,
    contact: Option<&str>,
) -> Result<()> {
    sqlx::query("UPDATE orders SET client_address = $2, client_contact = $3 WHERE id = $1")
        .bind(order.as_str())
        .bind(address)
        .bind(contact)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Units of card-key stock held by unpaid orders of `who`, over every product or of one.
pub async fn unpaid_units(tx: &mut Conn, who: HoldKey<'_>, product: Option<&ProductId>) -> Result<i64> {
    // The column comes from this closed list, never from input; the values are bound.
    let (column, key) = match who {
        HoldKey::Buyer(id) => ("buyer_id", Some(id.as_str())),
        HoldKey::Contact(c) => ("client_contact", Some(c)),
        HoldKey::Address(a) => ("client_address", Some(a)),
        HoldKey::Everyone => ("", None),
    };
    let mut sql = String::from(
        "SELECT CAST(COALESCE(SUM(quantity), 0) AS BIGINT) AS units FROM orders \
         WHERE status = 'pending_payment' AND delivery_kind = 'card_key'",
    );
    let mut n = 0;
    if key.is_some() {
        n += 1;
        sql.push_str(&format!(" AND {column} = ${n}"));
    }
    if product.is_some() {
        n += 1;
        sql.push_str(&format!(" AND product_id = ${n}"));
    }
    let mut q = sqlx::query(&sql);
    if let Some(k) = key {
        q = q.bind(k);
    }
    if let Some(p) = product {
        q = q.bind(p.as_str());
    }
    let row = q.fetch_one(&mut **tx).await?;
    Ok(row.try_get("units")?)
}

pub async fn query_password_lock(
    tx: &mut Conn,
    order: &OrderId,
) -> Result<Option<danbao_domain::limits::QueryPasswordLock>> {
    let sql = format!(
        "SELECT failures, last_failure_at, locked_until FROM query_password_locks WHERE order_id = $1{}",
        DIALECT.for_update
    );
    let row = sqlx::query(&sql).bind(order.as_str()).fetch_optional(&mut **tx).await?;
    row.map(|r| {
        Ok(danbao_domain::limits::QueryPasswordLock {
            failures: r.try_get("failures")?,
            last_failure_at: r.try_get("last_failure_at")?,
            locked_until: r.try_get("locked_until")?,
        })
    })
    .transpose()
}

pub async fn set_query_password_lock(
    tx: &mut Conn,
    order: &OrderId,
    lock: &danbao_domain::limits::QueryPasswordLock,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO query_password_locks (order_id, failures, last_failure_at, locked_until) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (order_id) DO UPDATE SET failures = excluded.failures, \
         last_failure_at = excluded.last_failure_at, locked_until = excluded.locked_until",
    )
    .bind(order.as_str())
    .bind(lock.failures)
    .bind(lock.last_failure_at)
    .bind(lock.locked_until)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn clear_query_password_lock(tx: &mut Conn, order: &OrderId) -> Result<()> {
    sqlx::query("DELETE FROM query_password_locks WHERE order_id = $1")
        .bind(order.as_str())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Counts one more occurrence of a repeated security event in its bucket (e.g. kind, source
/// and hour): the first makes the row with `detail` as its sample, the rest only count.
pub async fn count_security_event(tx: &mut Conn, kind: &str, bucket: &str, detail: &str, at: i64) -> Result<()> {
    sqlx::query(
        "INSERT INTO security_events (id, kind, detail, at, bucket, occurrences, last_at) \
         VALUES ($1, $2, $3, $4, $5, 1, $4) \
         ON CONFLICT (bucket) DO UPDATE SET occurrences = security_events.occurrences + 1, \
         last_at = excluded.last_at",
    )
    .bind(uuid::Uuid::now_v7().to_string())
    .bind(kind)
    .bind(detail)
    .bind(at)
    .bind(bucket)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
