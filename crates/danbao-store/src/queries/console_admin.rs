// SQL for the operations console: seller search, staff accounts, disabling, recorded
// ledger checks, published rule sets. Included into `mod sqlite` and `mod postgres` by
// lib.rs; see common.rs.

/// Sellers whose username contains `needle` (case aside), by name.
pub async fn sellers_matching(tx: &mut Conn, needle: &str, limit: i64) -> Result<Vec<UserRow>> {
    // LIKE's own wildcards in what was typed are matched literally.
    let escaped: String = needle
        .chars()
        .flat_map(|c| match c {
            '%' | '_' | '\\' => vec!['\\', c],
            c => vec![c],
        })
        .collect();
    let rows = sqlx::query(
        "SELECT * FROM users WHERE role = 'seller' AND LOWER(username) LIKE LOWER($1) ESCAPE '\\' \
         ORDER BY username LIMIT $2",
    )
    .bind(format!("%{escaped}%"))
    .bind(limit)
    .fetch_all(&mut **tx)
    .await?;
    rows.iter().map(user_from).collect()
}

/// Accounts of the given roles with when each was disabled (none: active), by name.
pub async fn accounts_with_roles(tx: &mut Conn, roles: &[&str], limit: i64) -> Result<Vec<(UserRow, Option<i64>)>> {
    let mut out = Vec::new();
    for role in roles {
        let rows = sqlx::query("SELECT * FROM users WHERE role = $1 ORDER BY username LIMIT $2")
            .bind(*role)
            .bind(limit)
            .fetch_all(&mut **tx)
            .await?;
        for r in &rows {
            out.push((user_from(r)?, r.try_get("disabled_at")?));
        }
    }
    Ok(out)
}

/// Marks an account disabled and deletes its tokens; false if it already was.
pub async fn disable_user(tx: &mut Conn, id: &UserId, now: i64) -> Result<bool> {
    let done = sqlx::query("UPDATE users SET disabled_at = $2 WHERE id = $1 AND disabled_at IS NULL")
        .bind(id.as_str())
        .bind(now)
        .execute(&mut **tx)
        .await?;
    sqlx::query("DELETE FROM api_tokens WHERE user_id = $1")
        .bind(id.as_str())
        .execute(&mut **tx)
        .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn user_disabled(tx: &mut Conn, id: &UserId) -> Result<bool> {
    let row = sqlx::query("SELECT disabled_at FROM users WHERE id = $1")
        .bind(id.as_str())
        .fetch_optional(&mut **tx)
        .await?;
    Ok(match row {
        Some(r) => r.try_get::<Option<i64>, _>("disabled_at")?.is_some(),
        None => false,
    })
}

/// `user_by_token` for an account that is not disabled.
pub async fn active_user_by_token(tx: &mut Conn, token_hash: &str, now: i64) -> Result<Option<UserRow>> {
    let row = sqlx::query(
        "SELECT u.* FROM api_tokens t JOIN users u ON u.id = t.user_id \
         WHERE t.token_hash = $1 AND t.expires_at > $2 AND u.disabled_at IS NULL",
    )
    .bind(token_hash)
    .bind(now)
    .fetch_optional(&mut **tx)
    .await?;
    row.as_ref().map(user_from).transpose()
}

pub async fn insert_ledger_check(tx: &mut Conn, c: &LedgerCheckRow) -> Result<()> {
    sqlx::query(
        "INSERT INTO ledger_checks (id, checked_at, checked_by, violations, detail) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&c.id)
    .bind(c.checked_at)
    .bind(&c.checked_by)
    .bind(c.violations)
    .bind(&c.detail)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn latest_ledger_check(tx: &mut Conn) -> Result<Option<LedgerCheckRow>> {
    let row = sqlx::query("SELECT * FROM ledger_checks ORDER BY checked_at DESC, id DESC LIMIT 1")
        .fetch_optional(&mut **tx)
        .await?;
    row.map(|r| {
        Ok(LedgerCheckRow {
            id: r.try_get("id")?,
            checked_at: r.try_get("checked_at")?,
            checked_by: r.try_get("checked_by")?,
            violations: r.try_get("violations")?,
            detail: r.try_get("detail")?,
        })
    })
    .transpose()
}

/// The latest checkpoint's tree size and when it was made.
pub async fn latest_checkpoint_made(tx: &mut Conn) -> Result<Option<(i64, i64)>> {
    let row = sqlx::query("SELECT size, created_at FROM evidence_checkpoints ORDER BY size DESC LIMIT 1")
        .fetch_optional(&mut **tx)
        .await?;
    row.map(|r| Ok((r.try_get("size")?, r.try_get("created_at")?))).transpose()
}

/// Every published rule set, newest first.
pub async fn rule_sets(tx: &mut Conn) -> Result<Vec<RuleSetRow>> {
    let rows = sqlx::query("SELECT * FROM rule_sets ORDER BY version DESC")
        .fetch_all(&mut **tx)
        .await?;
    rows.iter().map(rule_set_from).collect()
}

/// Jobs not yet done, by kind and status, with the oldest `run_at` among the queued ones
/// already due (how far behind the queue is). Done jobs are left out: the `jobs_due`
/// index covers this, and their number only grows.
pub async fn job_queue_stats(tx: &mut Conn, now: i64) -> Result<Vec<JobQueueStat>> {
    let rows = sqlx::query(
        "SELECT kind, status, COUNT(*) AS n, \
         MIN(CASE WHEN status = 'queued' AND run_at <= $1 THEN run_at END) AS oldest_due \
         FROM jobs WHERE status IN ('queued', 'running', 'dead') GROUP BY kind, status ORDER BY kind, status",
    )
    .bind(now)
    .fetch_all(&mut **tx)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(JobQueueStat {
                kind: r.try_get("kind")?,
                status: r.try_get("status")?,
                count: r.try_get("n")?,
                oldest_due: r.try_get("oldest_due")?,
            })
        })
        .collect()
}

/// The evidence log's size and how many leaves wait to be sequenced, read without the
/// sequencer's lock.
pub async fn evidence_log_size(tx: &mut Conn) -> Result<(i64, i64)> {
    let row = sqlx::query(
        "SELECT (SELECT size FROM evidence_state WHERE id = 1) AS size, (SELECT COUNT(*) FROM evidence_queue) AS queued",
    )
    .fetch_one(&mut **tx)
    .await?;
    Ok((row.try_get("size")?, row.try_get("queued")?))
}

/// The versions of the migrations applied (sqlx's own table).
pub async fn applied_migrations(tx: &mut Conn) -> Result<Vec<i64>> {
    let rows = sqlx::query("SELECT version FROM _sqlx_migrations WHERE success ORDER BY version")
        .fetch_all(&mut **tx)
        .await?;
    rows.iter().map(|r| Ok(r.try_get("version")?)).collect()
}
