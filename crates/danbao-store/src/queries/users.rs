// SQL for users and tokens. Included into `mod sqlite` and `mod postgres` by lib.rs; see common.rs.

fn user_from(r: &Row) -> Result<UserRow> {
    Ok(UserRow {
        id: UserId::from_trusted(r.try_get("id")?),
        username: r.try_get("username")?,
        password_hash: r.try_get("password_hash")?,
        role: r.try_get("role")?,
        created_at: r.try_get("created_at")?,
    })
}

pub async fn insert_user(tx: &mut Conn, user: &UserRow) -> Result<()> {
    sqlx::query("INSERT INTO users (id, username, password_hash, role, created_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(user.id.as_str())
        .bind(&user.username)
        .bind(&user.password_hash)
        .bind(&user.role)
        .bind(user.created_at)
        .execute(&mut **tx)
        .await
        .map_err(|e| StoreError::from_insert(e, "username"))?;
    Ok(())
}

pub async fn user_by_username(tx: &mut Conn, username: &str) -> Result<Option<UserRow>> {
    let row = sqlx::query("SELECT * FROM users WHERE username = $1")
        .bind(username)
        .fetch_optional(&mut **tx)
        .await?;
    row.as_ref().map(user_from).transpose()
}

pub async fn user_by_id(tx: &mut Conn, id: &UserId) -> Result<Option<UserRow>> {
    let row = sqlx::query("SELECT * FROM users WHERE id = $1")
        .bind(id.as_str())
        .fetch_optional(&mut **tx)
        .await?;
    row.as_ref().map(user_from).transpose()
}

pub async fn insert_token(tx: &mut Conn, token_hash: &str, user: &UserId, now: i64, expires_at: i64) -> Result<()> {
    sqlx::query("INSERT INTO api_tokens (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)")
        .bind(token_hash)
        .bind(user.as_str())
        .bind(now)
        .bind(expires_at)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub async fn user_by_token(tx: &mut Conn, token_hash: &str, now: i64) -> Result<Option<UserRow>> {
    let row = sqlx::query(
        "SELECT u.* FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = $1 AND t.expires_at > $2",
    )
    .bind(token_hash)
    .bind(now)
    .fetch_optional(&mut **tx)
    .await?;
    row.as_ref().map(user_from).transpose()
}
