// SQL for the seller back office's reads (and the one key removal). Included into
// `mod sqlite` and `mod postgres` by lib.rs; see common.rs.

/// A seller's orders, newest first: optionally of one status, optionally matching a
/// search (the beginning of an order id or number, or part of the buyer's contact). `search` is
/// matched literally: LIKE's wildcards in it are escaped.
pub async fn seller_orders(tx: &mut Conn, seller: &UserId, status: Option<&str>, search: Option<&str>, limit: i64) -> Result<Vec<OrderRow>> {
    let pattern = search.map(|s| s.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
    let rows = sqlx::query(
        "SELECT * FROM orders WHERE seller_id = $1 \
         AND (CAST($2 AS TEXT) IS NULL OR status = CAST($2 AS TEXT)) \
         AND (CAST($3 AS TEXT) IS NULL OR id LIKE CAST($3 AS TEXT) || '%' ESCAPE '\\' \
              OR number LIKE upper(CAST($3 AS TEXT)) || '%' ESCAPE '\\' OR guest_contact LIKE '%' || CAST($3 AS TEXT) || '%' ESCAPE '\\') \
         ORDER BY created_at DESC LIMIT $4",
    )
    .bind(seller.as_str())
    .bind(status)
    .bind(pattern)
    .bind(limit)
    .fetch_all(&mut **tx)
    .await?;
    rows.iter().map(order_from).collect()
}

/// The seller's orders paid since `since` (ms): when, how much, and where they stand now.
pub async fn seller_sales_since(tx: &mut Conn, seller: &UserId, since: i64) -> Result<Vec<(i64, Money, OrderStatus)>> {
    let rows = sqlx::query("SELECT paid_at, amount_minor, status FROM orders WHERE seller_id = $1 AND paid_at >= $2")
        .bind(seller.as_str())
        .bind(since)
        .fetch_all(&mut **tx)
        .await?;
    rows.iter()
        .map(|r| {
            let status: String = r.try_get("status")?;
            Ok((
                r.try_get("paid_at")?,
                Money::from_minor(r.try_get("amount_minor")?),
                OrderStatus::parse(&status).ok_or_else(|| corrupt("order status", &status))?,
            ))
        })
        .collect()
}

/// A seller's complaints, newest first.
pub async fn complaints_of_seller(tx: &mut Conn, seller: &UserId, limit: i64) -> Result<Vec<ComplaintRow>> {
    let rows = sqlx::query("SELECT * FROM complaints WHERE seller_id = $1 ORDER BY created_at DESC LIMIT $2")
        .bind(seller.as_str())
        .bind(limit)
        .fetch_all(&mut **tx)
        .await?;
    rows.iter().map(complaint_from).collect()
}

/// A product's card keys in import order, the unsold first.
pub async fn card_keys_of_product(tx: &mut Conn, product: &ProductId, limit: i64) -> Result<Vec<CardKeyRow>> {
    let rows = sqlx::query("SELECT * FROM card_keys WHERE product_id = $1 ORDER BY (order_id IS NOT NULL), seq LIMIT $2")
        .bind(product.as_str())
        .bind(limit)
        .fetch_all(&mut **tx)
        .await?;
    rows.iter().map(card_key_from).collect()
}

/// Deletes one unsold key; false if it is sold or not this product's. The caller takes
/// the unit out of stock first (in the same transaction).
pub async fn delete_unsold_card_key(tx: &mut Conn, product: &ProductId, key: &str) -> Result<bool> {
    let done = sqlx::query("DELETE FROM card_keys WHERE id = $1 AND product_id = $2 AND order_id IS NULL")
        .bind(key)
        .bind(product.as_str())
        .execute(&mut **tx)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// A seller's withdrawals, newest first, with when each was asked for and settled.
pub async fn withdrawals_of_seller(tx: &mut Conn, seller: &UserId, limit: i64) -> Result<Vec<(WithdrawalRow, i64, Option<i64>)>> {
    let rows = sqlx::query("SELECT id, seller_id, provider, amount_minor, status, created_at, settled_at FROM withdrawals WHERE seller_id = $1 ORDER BY created_at DESC LIMIT $2")
        .bind(seller.as_str())
        .bind(limit)
        .fetch_all(&mut **tx)
        .await?;
    rows.iter()
        .map(|r| {
            Ok((
                WithdrawalRow {
                    id: WithdrawalId::from_trusted(r.try_get("id")?),
                    seller_id: UserId::from_trusted(r.try_get("seller_id")?),
                    provider: r.try_get("provider")?,
                    amount: Money::from_minor(r.try_get("amount_minor")?),
                    status: r.try_get("status")?,
                },
                r.try_get("created_at")?,
                r.try_get("settled_at")?,
            ))
        })
        .collect()
}

/// The postings to `accounts` in [from, to) (ms), oldest first: (entry time, entry kind,
/// order, account, raw amount).
pub async fn postings_between(tx: &mut Conn, accounts: &[String], from: i64, to: i64, limit: i64) -> Result<Vec<(i64, String, Option<String>, String, i64)>> {
    if accounts.is_empty() {
        return Ok(Vec::new());
    }
    let list: Vec<String> = (0..accounts.len()).map(|i| format!("${}", i + 4)).collect();
    let sql = format!(
        "SELECT e.created_at, e.kind, e.order_id, p.account, p.amount_minor FROM postings p JOIN journal_entries e ON e.id = p.entry_id \
         WHERE e.created_at >= $1 AND e.created_at < $2 AND p.account IN ({}) ORDER BY e.created_at, e.id, p.idx LIMIT $3",
        list.join(", ")
    );
    let mut q = sqlx::query(&sql).bind(from).bind(to).bind(limit);
    for a in accounts {
        q = q.bind(a);
    }
    let rows = q.fetch_all(&mut **tx).await?;
    rows.iter()
        .map(|r| Ok((r.try_get("created_at")?, r.try_get("kind")?, r.try_get("order_id")?, r.try_get("account")?, r.try_get("amount_minor")?)))
        .collect()
}

/// Records the file a manual order was delivered with (one per order).
pub async fn insert_delivery_file(tx: &mut Conn, order: &OrderId, sha256: &str, media_type: &str, size_bytes: i64, now: i64) -> Result<()> {
    sqlx::query("INSERT INTO order_delivery_files (order_id, sha256, media_type, size_bytes, created_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(order.as_str())
        .bind(sha256)
        .bind(media_type)
        .bind(size_bytes)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The file an order was delivered with: (sha256, media type, size).
pub async fn delivery_file(tx: &mut Conn, order: &OrderId) -> Result<Option<(String, String, i64)>> {
    let row = sqlx::query("SELECT sha256, media_type, size_bytes FROM order_delivery_files WHERE order_id = $1")
        .bind(order.as_str())
        .fetch_optional(&mut **tx)
        .await?;
    row.map(|r| Ok((r.try_get("sha256")?, r.try_get("media_type")?, r.try_get("size_bytes")?)))
        .transpose()
}

/// For each of these sellers: (paid orders, complaints, complaints ruled a full refund).
pub async fn seller_histories(tx: &mut Conn, sellers: &[String]) -> Result<Vec<(String, i64, i64, i64)>> {
    if sellers.is_empty() {
        return Ok(Vec::new());
    }
    let list: Vec<String> = (1..=sellers.len()).map(|i| format!("${i}")).collect();
    let list = list.join(", ");
    let orders_sql = format!("SELECT seller_id, COUNT(*) AS n FROM orders WHERE paid_at IS NOT NULL AND seller_id IN ({list}) GROUP BY seller_id");
    let complaints_sql = format!(
        "SELECT seller_id, COUNT(*) AS n, SUM(CASE WHEN ruling LIKE '%\"refund_full\"%' THEN 1 ELSE 0 END) AS lost \
         FROM complaints WHERE seller_id IN ({list}) GROUP BY seller_id"
    );
    let mut q = sqlx::query(&orders_sql);
    for s in sellers {
        q = q.bind(s);
    }
    let orders = q.fetch_all(&mut **tx).await?;
    let mut q = sqlx::query(&complaints_sql);
    for s in sellers {
        q = q.bind(s);
    }
    let complaints = q.fetch_all(&mut **tx).await?;
    let mut out = Vec::new();
    for s in sellers {
        let mut paid = 0;
        for r in &orders {
            if r.try_get::<String, _>("seller_id")? == *s {
                paid = r.try_get("n")?;
            }
        }
        let (mut n, mut lost) = (0, 0);
        for r in &complaints {
            if r.try_get::<String, _>("seller_id")? == *s {
                n = r.try_get("n")?;
                lost = r.try_get::<Option<i64>, _>("lost")?.unwrap_or(0);
            }
        }
        out.push((s.clone(), paid, n, lost));
    }
    Ok(out)
}

/// A seller's public record in one statement: when their account was opened, their
/// paid orders, completed orders and complaints. `None` when no seller has this id.
pub async fn seller_trust(tx: &mut Conn, seller: &str) -> Result<Option<(i64, i64, i64, i64)>> {
    let row = sqlx::query(
        "SELECT u.created_at, \
         (SELECT COUNT(*) FROM orders o WHERE o.seller_id = u.id AND o.paid_at IS NOT NULL) AS paid, \
         (SELECT COUNT(*) FROM orders o WHERE o.seller_id = u.id AND o.status = 'completed') AS completed, \
         (SELECT COUNT(*) FROM complaints c WHERE c.seller_id = u.id) AS complaints \
         FROM users u WHERE u.id = $1 AND u.role = 'seller'",
    )
    .bind(seller)
    .fetch_optional(&mut **tx)
    .await?;
    row.map(|r| Ok((r.try_get("created_at")?, r.try_get("paid")?, r.try_get("completed")?, r.try_get("complaints")?)))
        .transpose()
}
