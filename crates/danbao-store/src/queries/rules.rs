// SQL for rule sets. Included into `mod sqlite` and `mod postgres` by lib.rs; see common.rs.

fn rule_set_from(r: &Row) -> Result<RuleSetRow> {
    Ok(RuleSetRow {
        version: r.try_get("version")?,
        content_hash: r.try_get("content_hash")?,
        body: r.try_get("body")?,
        published_at: r.try_get("published_at")?,
    })
}

pub async fn latest_rule_set(tx: &mut Conn) -> Result<Option<RuleSetRow>> {
    let row = sqlx::query("SELECT * FROM rule_sets ORDER BY version DESC LIMIT 1")
        .fetch_optional(&mut **tx)
        .await?;
    row.as_ref().map(rule_set_from).transpose()
}

pub async fn rule_set(tx: &mut Conn, version: i64) -> Result<Option<RuleSetRow>> {
    let row = sqlx::query("SELECT * FROM rule_sets WHERE version = $1")
        .bind(version)
        .fetch_optional(&mut **tx)
        .await?;
    row.as_ref().map(rule_set_from).transpose()
}

pub async fn insert_rule_set(tx: &mut Conn, row: &RuleSetRow) -> Result<()> {
    sqlx::query("INSERT INTO rule_sets (version, content_hash, body, published_at) VALUES ($1, $2, $3, $4)")
        .bind(row.version)
        .bind(&row.content_hash)
        .bind(&row.body)
        .bind(row.published_at)
        .execute(&mut **tx)
        .await
        .map_err(|e| StoreError::from_insert(e, "rule set version"))?;
    Ok(())
}
