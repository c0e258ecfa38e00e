// SQL for withdrawals. Included into `mod sqlite` and `mod postgres` by lib.rs; see common.rs.

pub async fn insert_withdrawal(tx: &mut Conn, id: &WithdrawalId, seller: &UserId, provider: &str, amount: Money, now: i64) -> Result<()> {
    sqlx::query("INSERT INTO withdrawals (id, seller_id, provider, amount_minor, status, created_at, settled_at) VALUES ($1, $2, $3, $4, 'requested', $5, NULL)")
        .bind(id.as_str())
        .bind(seller.as_str())
        .bind(provider)
        .bind(amount.minor())
        .bind(now)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub async fn withdrawal(tx: &mut Conn, id: &WithdrawalId, lock: bool) -> Result<Option<WithdrawalRow>> {
    let sql = format!("SELECT id, seller_id, provider, amount_minor, status FROM withdrawals WHERE id = $1{}", if lock { DIALECT.for_update } else { "" });
    let row = sqlx::query(&sql).bind(id.as_str()).fetch_optional(&mut **tx).await?;
    row.map(|r| {
        Ok(WithdrawalRow {
            id: WithdrawalId::from_trusted(r.try_get("id")?),
            seller_id: UserId::from_trusted(r.try_get("seller_id")?),
            provider: r.try_get("provider")?,
            amount: Money::from_minor(r.try_get("amount_minor")?),
            status: r.try_get("status")?,
        })
    })
    .transpose()
}

pub async fn settle_withdrawal(tx: &mut Conn, id: &WithdrawalId, status: &str, now: i64) -> Result<()> {
    sqlx::query("UPDATE withdrawals SET status = $2, settled_at = $3 WHERE id = $1")
        .bind(id.as_str())
        .bind(status)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    Ok(())
}
