// SQL for risk control at checkout (SPEC §8): the figures an order is scored from, and
// the score kept on the order. Included into `mod sqlite` and `mod postgres` by lib.rs;
// see common.rs.

/// A seller's most recent paid orders (at most `limit`) and how many of them a complaint
/// was opened on.
pub async fn seller_recent_complaints(tx: &mut Conn, seller: &UserId, limit: i64) -> Result<(i64, i64)> {
    let row = sqlx::query(
        "SELECT CAST(COUNT(*) AS BIGINT) AS orders, \
         CAST(COALESCE(SUM(CASE WHEN EXISTS (SELECT 1 FROM complaints c WHERE c.order_id = o.id) \
         THEN 1 ELSE 0 END), 0) AS BIGINT) AS complained \
         FROM (SELECT id FROM orders WHERE seller_id = $1 AND paid_at IS NOT NULL \
         ORDER BY paid_at DESC LIMIT $2) o",
    )
    .bind(seller.as_str())
    .bind(limit)
    .fetch_one(&mut **tx)
    .await?;
    Ok((row.try_get("orders")?, row.try_get("complained")?))
}

/// The median unit price of a category's active listings by sellers other than
/// `except_seller` (a seller cannot set the usual price against which their own price is
/// judged), and how many listings it was taken over. Read by position along the index
/// (products_active_by_price), so the cost is the category's size, never the catalog's.
pub async fn category_median_price(tx: &mut Conn, category: &str, except_seller: &UserId) -> Result<(i64, Option<i64>)> {
    let row = sqlx::query(
        "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM products \
         WHERE category = $1 AND status = 'active' AND seller_id <> $2",
    )
    .bind(category)
    .bind(except_seller.as_str())
    .fetch_one(&mut **tx)
    .await?;
    let n: i64 = row.try_get("n")?;
    if n == 0 {
        return Ok((0, None));
    }
    // The middle one, or the two middle ones of an even count.
    let (offset, take) = if n % 2 == 1 { (n / 2, 1) } else { (n / 2 - 1, 2) };
    let rows = sqlx::query(
        "SELECT price_minor FROM products WHERE category = $1 AND status = 'active' AND seller_id <> $2 \
         ORDER BY price_minor LIMIT $3 OFFSET $4",
    )
    .bind(category)
    .bind(except_seller.as_str())
    .bind(take)
    .bind(offset)
    .fetch_all(&mut **tx)
    .await?;
    let mut prices = Vec::with_capacity(rows.len());
    for r in &rows {
        prices.push(r.try_get::<i64, _>("price_minor")?);
    }
    let median = match prices.as_slice() {
        [one] => Some(*one),
        // Prices are at most 10^8 fen: the sum cannot overflow.
        [a, b] => Some((a + b) / 2),
        _ => None,
    };
    Ok((n, median))
}

/// Orders placed since `since` by one buyer: an account, or a guest's normalised contact.
pub async fn orders_placed_since(tx: &mut Conn, who: HoldKey<'_>, since: i64) -> Result<i64> {
    // Each form has its own index: orders_buyer, orders_guest_by_contact.
    let sql = match who {
        HoldKey::Buyer(_) => "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM orders WHERE buyer_id = $1 AND created_at >= $2",
        HoldKey::Contact(_) => {
            "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM orders \
             WHERE client_contact = $1 AND buyer_id IS NULL AND created_at >= $2"
        }
        HoldKey::Address(_) | HoldKey::Everyone => return Ok(0),
    };
    let key = match who {
        HoldKey::Buyer(id) => id.as_str(),
        HoldKey::Contact(c) => c,
        HoldKey::Address(_) | HoldKey::Everyone => "",
    };
    let row = sqlx::query(sql).bind(key).bind(since).fetch_one(&mut **tx).await?;
    Ok(row.try_get("n")?)
}

/// Keeps an order's risk assessment (and the figures it was made from) on the order, in
/// the order's own transaction. Kept out of `OrderRow`: only checkout, the buyer's
/// confirmation and the arbitrator read it.
pub async fn set_order_risk(tx: &mut Conn, order: &OrderId, risk: &OrderRiskRow) -> Result<()> {
    sqlx::query(
        "UPDATE orders SET risk_level = $2, risk_score = $3, risk_reasons = $4, risk_factors = $5, \
         risk_confirmed_at = $6 WHERE id = $1",
    )
    .bind(order.as_str())
    .bind(&risk.level)
    .bind(risk.score)
    .bind(&risk.reasons)
    .bind(&risk.factors)
    .bind(risk.confirmed_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn order_risk(tx: &mut Conn, order: &OrderId) -> Result<Option<OrderRiskRow>> {
    let row = sqlx::query(
        "SELECT risk_level, risk_score, risk_reasons, risk_factors, risk_confirmed_at FROM orders WHERE id = $1",
    )
    .bind(order.as_str())
    .fetch_optional(&mut **tx)
    .await?;
    row.map(|r| {
        Ok(OrderRiskRow {
            level: r.try_get("risk_level")?,
            score: r.try_get("risk_score")?,
            reasons: r.try_get("risk_reasons")?,
            factors: r.try_get("risk_factors")?,
            confirmed_at: r.try_get("risk_confirmed_at")?,
        })
    })
    .transpose()
}

/// Records the buyer's second confirmation of a step_up order (the first one counts).
pub async fn confirm_order_risk(tx: &mut Conn, order: &OrderId, at: i64) -> Result<()> {
    sqlx::query("UPDATE orders SET risk_confirmed_at = $2 WHERE id = $1 AND risk_confirmed_at IS NULL")
        .bind(order.as_str())
        .bind(at)
        .execute(&mut **tx)
        .await?;
    Ok(())
}
