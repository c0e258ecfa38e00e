// SQL for idempotency keys. Included into `mod sqlite` and `mod postgres` by lib.rs; see common.rs.

pub async fn idempotency_begin(tx: &mut Conn, scope: &str, key: &str, request_hash: &str, now: i64) -> Result<IdempotencyState> {
    let inserted = sqlx::query(
        "INSERT INTO idempotency_keys (scope, key, request_hash, status_code, content_type, response_body, created_at) \
         VALUES ($1, $2, $3, NULL, NULL, NULL, $4) ON CONFLICT (scope, key) DO NOTHING",
    )
    .bind(scope)
    .bind(key)
    .bind(request_hash)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    if inserted.rows_affected() == 1 {
        return Ok(IdempotencyState::New);
    }
    let row = sqlx::query("SELECT request_hash, status_code, content_type, response_body, created_at FROM idempotency_keys WHERE scope = $1 AND key = $2")
        .bind(scope)
        .bind(key)
        .fetch_one(&mut **tx)
        .await?;
    let stored_hash: String = row.try_get("request_hash")?;
    if stored_hash != request_hash {
        return Ok(IdempotencyState::Mismatch);
    }
    let status: Option<i64> = row.try_get("status_code")?;
    let started: i64 = row.try_get("created_at")?;
    if status.is_none() && started <= now - IDEMPOTENCY_ABANDONED_AFTER_MS {
        // The process that ran it died before answering: let this request take it over.
        let taken = sqlx::query("UPDATE idempotency_keys SET created_at = $3 WHERE scope = $1 AND key = $2 AND status_code IS NULL AND created_at = $4")
            .bind(scope)
            .bind(key)
            .bind(now)
            .bind(started)
            .execute(&mut **tx)
            .await?;
        if taken.rows_affected() == 1 {
            return Ok(IdempotencyState::New);
        }
    }
    Ok(match status {
        None => IdempotencyState::InProgress,
        Some(status) => IdempotencyState::Replay {
            status,
            content_type: row.try_get::<Option<String>, _>("content_type")?.unwrap_or_default(),
            body: row.try_get::<Option<String>, _>("response_body")?.unwrap_or_default(),
        },
    })
}

pub async fn idempotency_complete(tx: &mut Conn, scope: &str, key: &str, status: i64, content_type: &str, body: &str) -> Result<()> {
    sqlx::query("UPDATE idempotency_keys SET status_code = $3, content_type = $4, response_body = $5 WHERE scope = $1 AND key = $2")
        .bind(scope)
        .bind(key)
        .bind(status)
        .bind(content_type)
        .bind(body)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub async fn idempotency_abandon(tx: &mut Conn, scope: &str, key: &str) -> Result<()> {
    sqlx::query("DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2 AND status_code IS NULL")
        .bind(scope)
        .bind(key)
        .execute(&mut **tx)
        .await?;
    Ok(())
}
