// SQL for payments and refunds. Included into `mod sqlite` and `mod postgres` by lib.rs; see common.rs.

fn attempt_from(r: &Row) -> Result<PaymentAttemptRow> {
    Ok(PaymentAttemptRow {
        id: PaymentAttemptId::from_trusted(r.try_get("id")?),
        order_id: OrderId::from_trusted(r.try_get("order_id")?),
        provider: r.try_get("provider")?,
        method: r.try_get("method")?,
        provider_payment_id: r.try_get("provider_payment_id")?,
        cashier_url: r.try_get("cashier_url")?,
        amount: Money::from_minor(r.try_get("amount_minor")?),
        created_at: r.try_get("created_at")?,
    })
}

pub async fn insert_payment_attempt(tx: &mut Conn, a: &PaymentAttemptRow) -> Result<()> {
    sqlx::query(
        "INSERT INTO payment_attempts (id, order_id, provider, provider_payment_id, cashier_url, amount_minor, created_at, method) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(a.id.as_str())
    .bind(a.order_id.as_str())
    .bind(&a.provider)
    .bind(&a.provider_payment_id)
    .bind(&a.cashier_url)
    .bind(a.amount.minor())
    .bind(a.created_at)
    .bind(&a.method)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn payment_attempt(tx: &mut Conn, id: &PaymentAttemptId) -> Result<Option<PaymentAttemptRow>> {
    let row = sqlx::query("SELECT * FROM payment_attempts WHERE id = $1")
        .bind(id.as_str())
        .fetch_optional(&mut **tx)
        .await?;
    row.as_ref().map(attempt_from).transpose()
}

/// Records what the provider answered for an attempt (its payment id and cashier).
pub async fn set_attempt_provider_payment(tx: &mut Conn, id: &PaymentAttemptId, provider_payment_id: &str, cashier_url: &str) -> Result<()> {
    sqlx::query("UPDATE payment_attempts SET provider_payment_id = $2, cashier_url = $3 WHERE id = $1")
        .bind(id.as_str())
        .bind(provider_payment_id)
        .bind(cashier_url)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub async fn payment_attempt_for_order(tx: &mut Conn, order: &OrderId) -> Result<Option<PaymentAttemptRow>> {
    let row = sqlx::query("SELECT * FROM payment_attempts WHERE order_id = $1 ORDER BY created_at DESC LIMIT 1")
        .bind(order.as_str())
        .fetch_optional(&mut **tx)
        .await?;
    row.as_ref().map(attempt_from).transpose()
}

pub async fn count_payment_attempts(tx: &mut Conn, order: &OrderId) -> Result<i64> {
    let row = sqlx::query("SELECT COUNT(*) AS n FROM payment_attempts WHERE order_id = $1")
        .bind(order.as_str())
        .fetch_one(&mut **tx)
        .await?;
    Ok(row.try_get("n")?)
}

fn payment_from(r: &Row) -> Result<PaymentRow> {
    Ok(PaymentRow {
        id: r.try_get("id")?,
        provider: r.try_get("provider")?,
        provider_txn_id: r.try_get("provider_txn_id")?,
        provider_payment_id: r.try_get("provider_payment_id")?,
        out_trade_no: r.try_get("out_trade_no")?,
        order_id: r.try_get("order_id")?,
        amount: Money::from_minor(r.try_get("amount_minor")?),
        currency: r.try_get("currency")?,
        outcome: r.try_get("outcome")?,
        source: r.try_get("source")?,
        raw: r.try_get("raw")?,
        received_at: r.try_get("received_at")?,
    })
}

/// Records a verified payment; false when (provider, provider_txn_id) was seen before.
pub async fn insert_payment(tx: &mut Conn, p: &PaymentRow) -> Result<bool> {
    let done = sqlx::query(
        "INSERT INTO payments (id, provider, provider_txn_id, provider_payment_id, out_trade_no, order_id, amount_minor, currency, outcome, source, raw, received_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT (provider, provider_txn_id) DO NOTHING",
    )
    .bind(&p.id)
    .bind(&p.provider)
    .bind(&p.provider_txn_id)
    .bind(&p.provider_payment_id)
    .bind(&p.out_trade_no)
    .bind(&p.order_id)
    .bind(p.amount.minor())
    .bind(&p.currency)
    .bind(&p.outcome)
    .bind(&p.source)
    .bind(&p.raw)
    .bind(p.received_at)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn payment_by_txn(tx: &mut Conn, provider: &str, provider_txn_id: &str) -> Result<Option<PaymentRow>> {
    let row = sqlx::query("SELECT * FROM payments WHERE provider = $1 AND provider_txn_id = $2")
        .bind(provider)
        .bind(provider_txn_id)
        .fetch_optional(&mut **tx)
        .await?;
    row.as_ref().map(payment_from).transpose()
}

pub async fn payment(tx: &mut Conn, id: &str) -> Result<Option<PaymentRow>> {
    let row = sqlx::query("SELECT * FROM payments WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?;
    row.as_ref().map(payment_from).transpose()
}

pub async fn count_payments_for_out_trade_no(tx: &mut Conn, out_trade_no: &str) -> Result<i64> {
    let row = sqlx::query("SELECT COUNT(*) AS n FROM payments WHERE out_trade_no = $1")
        .bind(out_trade_no)
        .fetch_one(&mut **tx)
        .await?;
    Ok(row.try_get("n")?)
}

/// Payments of one provider recorded in [from, to).
pub async fn payments_received_between(tx: &mut Conn, provider: &str, from: i64, to: i64) -> Result<Vec<PaymentRow>> {
    let rows = sqlx::query("SELECT * FROM payments WHERE provider = $1 AND received_at >= $2 AND received_at < $3 ORDER BY received_at")
        .bind(provider)
        .bind(from)
        .bind(to)
        .fetch_all(&mut **tx)
        .await?;
    rows.iter().map(payment_from).collect()
}

pub async fn update_payment_outcome(tx: &mut Conn, id: &str, outcome: &str) -> Result<()> {
    sqlx::query("UPDATE payments SET outcome = $2 WHERE id = $1")
        .bind(id)
        .bind(outcome)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub async fn payments_for_order(tx: &mut Conn, order: &OrderId) -> Result<Vec<PaymentRow>> {
    let rows = sqlx::query("SELECT * FROM payments WHERE order_id = $1 ORDER BY received_at")
        .bind(order.as_str())
        .fetch_all(&mut **tx)
        .await?;
    rows.iter().map(payment_from).collect()
}

fn refund_from(r: &Row) -> Result<RefundRow> {
    Ok(RefundRow {
        id: r.try_get("id")?,
        order_id: r.try_get("order_id")?,
        payment_id: r.try_get("payment_id")?,
        provider: r.try_get("provider")?,
        provider_payment_id: r.try_get("provider_payment_id")?,
        amount: Money::from_minor(r.try_get("amount_minor")?),
        reason: r.try_get("reason")?,
        status: r.try_get("status")?,
        created_at: r.try_get("created_at")?,
        confirmed_at: r.try_get("confirmed_at")?,
    })
}

pub async fn insert_refund(tx: &mut Conn, r: &RefundRow) -> Result<()> {
    sqlx::query(
        "INSERT INTO refunds (id, order_id, payment_id, provider, provider_payment_id, amount_minor, reason, status, created_at, confirmed_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(&r.id)
    .bind(&r.order_id)
    .bind(&r.payment_id)
    .bind(&r.provider)
    .bind(&r.provider_payment_id)
    .bind(r.amount.minor())
    .bind(&r.reason)
    .bind(&r.status)
    .bind(r.created_at)
    .bind(r.confirmed_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn refund(tx: &mut Conn, id: &RefundId, lock: bool) -> Result<Option<RefundRow>> {
    let sql = format!("SELECT * FROM refunds WHERE id = $1{}", if lock { DIALECT.for_update } else { "" });
    let row = sqlx::query(&sql).bind(id.as_str()).fetch_optional(&mut **tx).await?;
    row.as_ref().map(refund_from).transpose()
}

pub async fn mark_refund_confirmed(tx: &mut Conn, id: &RefundId, at: i64) -> Result<()> {
    sqlx::query("UPDATE refunds SET status = 'confirmed', confirmed_at = $2 WHERE id = $1")
        .bind(id.as_str())
        .bind(at)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub async fn refunds_for_order(tx: &mut Conn, order: &OrderId) -> Result<Vec<RefundRow>> {
    let rows = sqlx::query("SELECT * FROM refunds WHERE order_id = $1 ORDER BY created_at")
        .bind(order.as_str())
        .fetch_all(&mut **tx)
        .await?;
    rows.iter().map(refund_from).collect()
}
