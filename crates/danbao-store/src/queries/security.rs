// SQL for security events. Included into `mod sqlite` and `mod postgres` by lib.rs; see common.rs.

pub async fn insert_security_event(tx: &mut Conn, kind: &str, detail: &str, at: i64) -> Result<()> {
    sqlx::query("INSERT INTO security_events (id, kind, detail, at, last_at) VALUES ($1, $2, $3, $4, $4)")
        .bind(uuid::Uuid::now_v7().to_string())
        .bind(kind)
        .bind(detail)
        .bind(at)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub async fn security_events(tx: &mut Conn, limit: i64) -> Result<Vec<SecurityEventRow>> {
    let rows = sqlx::query(
        "SELECT id, kind, detail, at, occurrences, last_at FROM security_events ORDER BY last_at DESC, id DESC LIMIT $1",
    )
        .bind(limit)
        .fetch_all(&mut **tx)
        .await?;
    rows.iter()
        .map(|r| {
            Ok(SecurityEventRow {
                id: r.try_get("id")?,
                kind: r.try_get("kind")?,
                detail: r.try_get("detail")?,
                at: r.try_get("at")?,
                occurrences: r.try_get("occurrences")?,
                last_at: r.try_get("last_at")?,
            })
        })
        .collect()
}
