// SQL for jobs. Included into `mod sqlite` and `mod postgres` by lib.rs; see common.rs.

fn job_from(r: &Row) -> Result<JobRow> {
    Ok(JobRow {
        id: r.try_get("id")?,
        kind: r.try_get("kind")?,
        payload: r.try_get("payload")?,
        run_at: r.try_get("run_at")?,
        status: r.try_get("status")?,
        attempts: r.try_get("attempts")?,
        last_error: r.try_get("last_error")?,
    })
}

/// Enqueues a job; false when a job with the same dedupe key already exists.
pub async fn enqueue_job(tx: &mut Conn, job: &NewJob, now: i64) -> Result<bool> {
    Ok(enqueue_jobs(tx, std::slice::from_ref(job), now).await? == 1)
}

/// Several jobs in one statement; returns how many were new (a job whose `dedupe_key` is
/// already queued is not added again).
pub async fn enqueue_jobs(tx: &mut Conn, jobs: &[NewJob], now: i64) -> Result<u64> {
    if jobs.is_empty() {
        return Ok(0);
    }
    let rows: Vec<String> = (0..jobs.len())
        .map(|i| {
            let b = 5 * i + 2;
            format!("(${}, ${}, ${}, ${}, ${}, 'queued', 0, NULL, NULL, $1, $1)", b, b + 1, b + 2, b + 3, b + 4)
        })
        .collect();
    let sql = format!(
        "INSERT INTO jobs (id, kind, payload, dedupe_key, run_at, status, attempts, lease_until, last_error, created_at, updated_at) \
         VALUES {} ON CONFLICT (dedupe_key) DO NOTHING",
        rows.join(", ")
    );
    let mut q = sqlx::query(&sql).bind(now);
    for job in jobs {
        q = q
            .bind(uuid::Uuid::now_v7().to_string())
            .bind(&job.kind)
            .bind(&job.payload)
            .bind(&job.dedupe_key)
            .bind(job.run_at);
    }
    Ok(q.execute(&mut **tx).await?.rows_affected())
}

/// Leases up to `limit` due jobs: queued ones whose time has come, and running ones
/// whose lease ran out (their worker died). On PostgreSQL, `SKIP LOCKED` lets several
/// processes claim side by side without taking the same job.
pub async fn claim_jobs(tx: &mut Conn, now: i64, lease_ms: i64, limit: i64) -> Result<Vec<JobRow>> {
    let sql = format!(
        "UPDATE jobs SET status = 'running', lease_until = $2, attempts = attempts + 1, updated_at = $1 \
         WHERE id IN (SELECT id FROM jobs WHERE (status = 'queued' AND run_at <= $1) OR (status = 'running' AND lease_until < $1) \
         ORDER BY run_at LIMIT $3{}) RETURNING *",
        DIALECT.skip_locked
    );
    let rows = sqlx::query(&sql)
        .bind(now)
        .bind(now.saturating_add(lease_ms))
        .bind(limit)
        .fetch_all(&mut **tx)
        .await?;
    let mut jobs: Vec<JobRow> = rows.iter().map(job_from).collect::<Result<_>>()?;
    jobs.sort_by_key(|j| j.run_at);
    Ok(jobs)
}

pub async fn finish_job(tx: &mut Conn, id: &str, now: i64) -> Result<()> {
    sqlx::query("UPDATE jobs SET status = 'done', lease_until = NULL, dedupe_key = NULL, updated_at = $2 WHERE id = $1")
        .bind(id)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Queues a job again at `run_at`. With `counted` false the attempt its claim counted is
/// given back: the database aborted its transaction (a deadlock victim, a serialization
/// conflict), which says nothing about the job, so it must not bring the job nearer to
/// the dead-letter state.
pub async fn retry_job(tx: &mut Conn, id: &str, error: &str, run_at: i64, now: i64, counted: bool) -> Result<()> {
    sqlx::query(
        "UPDATE jobs SET status = 'queued', lease_until = NULL, last_error = $2, run_at = $3, updated_at = $4, \
         attempts = CASE WHEN attempts > $5 THEN attempts - $5 ELSE 0 END WHERE id = $1",
    )
    .bind(id)
    .bind(error)
    .bind(run_at)
    .bind(now)
    .bind(if counted { 0i64 } else { 1i64 })
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Gives a claimed job back to the queue, due now and with its claim's attempt uncounted,
/// if it is still held under the lease `lease_until` (the claim that took it): a process
/// that ran a job but could not record how it went (the database was unreachable) hands
/// it back on its next round instead of leaving it leased until the lease expires. A job
/// another process has taken over since, or finished, is left alone. True if given back.
pub async fn give_back_job(tx: &mut Conn, id: &str, lease_until: i64, error: &str, now: i64) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE jobs SET status = 'queued', lease_until = NULL, last_error = $3, run_at = $4, updated_at = $4, \
         attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END \
         WHERE id = $1 AND status = 'running' AND lease_until = $2",
    )
    .bind(id)
    .bind(lease_until)
    .bind(error)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Dead-letters a job that keeps failing: kept, visible, never silently dropped.
pub async fn bury_job(tx: &mut Conn, id: &str, error: &str, now: i64) -> Result<()> {
    sqlx::query("UPDATE jobs SET status = 'dead', lease_until = NULL, dedupe_key = NULL, last_error = $2, updated_at = $3 WHERE id = $1")
        .bind(id)
        .bind(error)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub async fn jobs_by_status(tx: &mut Conn, status: &str, limit: i64) -> Result<Vec<JobRow>> {
    let rows = sqlx::query("SELECT * FROM jobs WHERE status = $1 ORDER BY run_at LIMIT $2")
        .bind(status)
        .bind(limit)
        .fetch_all(&mut **tx)
        .await?;
    rows.iter().map(job_from).collect()
}
