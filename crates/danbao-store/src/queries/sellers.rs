// SQL for seller standing. Included into `mod sqlite` and `mod postgres` by lib.rs; see common.rs.

pub async fn seller_standing(tx: &mut Conn, seller: &UserId, lock: bool) -> Result<Option<SellerStandingRow>> {
    standing_locked(tx, seller, if lock { DIALECT.for_update } else { "" }).await
}

fn standing_from(r: &Row) -> Result<SellerStandingRow> {
    Ok(SellerStandingRow {
        seller_id: UserId::from_trusted(r.try_get("seller_id")?),
        status: r.try_get("status")?,
        reason: r.try_get("reason")?,
        frozen_available_minor: r.try_get("frozen_available_minor")?,
        updated_at: r.try_get("updated_at")?,
    })
}

/// The first lock of every transaction that moves a seller's money or decides by their
/// standing (ARCHITECTURE.md, "Lock order"): the seller's standing row, created first if
/// the seller has none yet (active, nothing held). Without a row there would be nothing
/// to lock, and a freeze that inserts the row could race a release that read "no row,
/// so active" and paid out what the freeze had just held.
///
/// `exclusive` is for a transaction that will write the standing (freeze, unfreeze, ban,
/// a hold while frozen); every other one shares the lock, so a busy seller's orders do
/// not queue behind each other on PostgreSQL, while a standing change still waits for
/// all of them and they for it.
///
/// A seller who is not active has every release held, which writes the standing: a
/// shared lock would have to be raised to an exclusive one later, and two transactions
/// raising theirs at once deadlock (one per retry, under a storm of them, until the
/// retries run out). So a shared lock that finds the seller frozen or banned is given
/// back (a savepoint rolled back releases the row locks taken after it) and the lock is
/// taken whole instead, before anything else is locked.
pub async fn lock_seller_standing(tx: &mut Conn, seller: &UserId, now: i64, exclusive: bool) -> Result<SellerStandingRow> {
    let mut lock = if exclusive { DIALECT.for_update } else { DIALECT.for_share };
    if !exclusive && !lock.is_empty() {
        sqlx::query("SAVEPOINT standing_shared").execute(&mut **tx).await?;
        match standing_locked(tx, seller, lock).await? {
            Some(standing) if standing.status == "active" => {
                sqlx::query("RELEASE SAVEPOINT standing_shared").execute(&mut **tx).await?;
                return Ok(standing);
            }
            Some(_) => {
                sqlx::query("ROLLBACK TO SAVEPOINT standing_shared").execute(&mut **tx).await?;
                lock = DIALECT.for_update;
            }
            None => {}
        }
        sqlx::query("RELEASE SAVEPOINT standing_shared").execute(&mut **tx).await?;
    }
    if let Some(standing) = standing_locked(tx, seller, lock).await? {
        return Ok(standing);
    }
    sqlx::query(
        "INSERT INTO seller_standing (seller_id, status, reason, frozen_available_minor, updated_at) \
         VALUES ($1, 'active', '', 0, $2) ON CONFLICT (seller_id) DO NOTHING",
    )
    .bind(seller.as_str())
    .bind(now)
    .execute(&mut **tx)
    .await?;
    standing_locked(tx, seller, lock)
        .await?
        .ok_or_else(|| corrupt("seller standing vanished under its lock", seller.as_str()))
}

/// The seller's standing row read with `lock` (one of the dialect's row-lock clauses).
async fn standing_locked(tx: &mut Conn, seller: &UserId, lock: &str) -> Result<Option<SellerStandingRow>> {
    let sql = format!("SELECT * FROM seller_standing WHERE seller_id = $1{lock}");
    let row = sqlx::query(&sql).bind(seller.as_str()).fetch_optional(&mut **tx).await?;
    row.as_ref().map(standing_from).transpose()
}

pub async fn set_seller_standing(tx: &mut Conn, s: &SellerStandingRow) -> Result<()> {
    sqlx::query(
        "INSERT INTO seller_standing (seller_id, status, reason, frozen_available_minor, updated_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (seller_id) DO UPDATE SET status = excluded.status, reason = excluded.reason, \
         frozen_available_minor = excluded.frozen_available_minor, updated_at = excluded.updated_at",
    )
    .bind(s.seller_id.as_str())
    .bind(&s.status)
    .bind(&s.reason)
    .bind(s.frozen_available_minor)
    .bind(s.updated_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Orders of a seller that still hold buyers' money (paid, delivered, disputed).
pub async fn open_orders_of_seller(tx: &mut Conn, seller: &UserId) -> Result<Vec<OrderRow>> {
    let rows = sqlx::query("SELECT * FROM orders WHERE seller_id = $1 AND status IN ('paid', 'delivered', 'disputed') ORDER BY created_at")
        .bind(seller.as_str())
        .fetch_all(&mut **tx)
        .await?;
    rows.iter().map(order_from).collect()
}

/// What holds a seller's deposit: open orders (money held for them), open complaints, and
/// when a paid order or complaint of theirs last moved.
pub async fn seller_deposit_activity(tx: &mut Conn, seller: &UserId) -> Result<(i64, i64, Option<i64>)> {
    let orders = sqlx::query(
        "SELECT CAST(COUNT(CASE WHEN status IN ('paid', 'delivered', 'disputed') THEN 1 END) AS BIGINT) AS open, \
         MAX(updated_at) AS last FROM orders WHERE seller_id = $1 AND paid_at IS NOT NULL",
    )
    .bind(seller.as_str())
    .fetch_one(&mut **tx)
    .await?;
    let complaints = sqlx::query(
        "SELECT CAST(COUNT(CASE WHEN stage NOT IN ('resolved', 'withdrawn') THEN 1 END) AS BIGINT) AS open, \
         MAX(updated_at) AS last FROM complaints WHERE seller_id = $1",
    )
    .bind(seller.as_str())
    .fetch_one(&mut **tx)
    .await?;
    let last = [orders.try_get::<Option<i64>, _>("last")?, complaints.try_get::<Option<i64>, _>("last")?]
        .into_iter()
        .flatten()
        .max();
    Ok((orders.try_get("open")?, complaints.try_get("open")?, last))
}

fn deposit_payment_from(r: &Row) -> Result<DepositPaymentRow> {
    Ok(DepositPaymentRow {
        id: r.try_get("id")?,
        seller_id: UserId::from_trusted(r.try_get("seller_id")?),
        amount: Money::from_minor(r.try_get("amount_minor")?),
        currency: r.try_get("currency")?,
        provider: r.try_get("provider")?,
        provider_payment_id: r.try_get("provider_payment_id")?,
        cashier_url: r.try_get("cashier_url")?,
        status: r.try_get("status")?,
        payment_id: r.try_get("payment_id")?,
        created_at: r.try_get("created_at")?,
        expires_at: r.try_get("expires_at")?,
        paid_at: r.try_get("paid_at")?,
    })
}

pub async fn insert_deposit_payment(tx: &mut Conn, d: &DepositPaymentRow) -> Result<()> {
    sqlx::query(
        "INSERT INTO deposit_payments (id, seller_id, amount_minor, currency, provider, provider_payment_id, cashier_url, \
         status, payment_id, created_at, expires_at, paid_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(&d.id)
    .bind(d.seller_id.as_str())
    .bind(d.amount.minor())
    .bind(&d.currency)
    .bind(&d.provider)
    .bind(&d.provider_payment_id)
    .bind(&d.cashier_url)
    .bind(&d.status)
    .bind(&d.payment_id)
    .bind(d.created_at)
    .bind(d.expires_at)
    .bind(d.paid_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn deposit_payment(tx: &mut Conn, id: &str, lock: bool) -> Result<Option<DepositPaymentRow>> {
    let sql = format!("SELECT * FROM deposit_payments WHERE id = $1{}", if lock { DIALECT.for_update } else { "" });
    let row = sqlx::query(&sql).bind(id).fetch_optional(&mut **tx).await?;
    row.as_ref().map(deposit_payment_from).transpose()
}

pub async fn set_deposit_payment_cashier(tx: &mut Conn, id: &str, provider_payment_id: &str, cashier_url: &str) -> Result<()> {
    sqlx::query("UPDATE deposit_payments SET provider_payment_id = $2, cashier_url = $3 WHERE id = $1")
        .bind(id)
        .bind(provider_payment_id)
        .bind(cashier_url)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub async fn set_deposit_payment_paid(tx: &mut Conn, id: &str, payment_id: &str, at: i64) -> Result<()> {
    sqlx::query("UPDATE deposit_payments SET status = 'paid', payment_id = $2, paid_at = $3 WHERE id = $1")
        .bind(id)
        .bind(payment_id)
        .bind(at)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The seller's deposit payments, newest first.
pub async fn deposit_payments_of(tx: &mut Conn, seller: &UserId, limit: i64) -> Result<Vec<DepositPaymentRow>> {
    let rows = sqlx::query("SELECT * FROM deposit_payments WHERE seller_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2")
        .bind(seller.as_str())
        .bind(limit)
        .fetch_all(&mut **tx)
        .await?;
    rows.iter().map(deposit_payment_from).collect()
}

/// What the seller sold (paid orders not refunded in full) since a time.
pub async fn seller_sales_total_since(tx: &mut Conn, seller: &UserId, since: i64) -> Result<i64> {
    let row = sqlx::query(
        "SELECT CAST(COALESCE(SUM(amount_minor), 0) AS BIGINT) AS total FROM orders \
         WHERE seller_id = $1 AND paid_at >= $2 AND status <> 'refunded'",
    )
    .bind(seller.as_str())
    .bind(since)
    .fetch_one(&mut **tx)
    .await?;
    Ok(row.try_get("total")?)
}
