// SQL for products and card keys. Included into `mod sqlite` and `mod postgres` by lib.rs; see common.rs.

fn product_from(r: &Row) -> Result<ProductRow> {
    Ok(ProductRow {
        id: ProductId::from_trusted(r.try_get("id")?),
        seller_id: UserId::from_trusted(r.try_get("seller_id")?),
        title: r.try_get("title")?,
        description: r.try_get("description")?,
        category: r.try_get("category")?,
        price: Money::from_minor(r.try_get("price_minor")?),
        currency: r.try_get("currency")?,
        delivery_kind: r.try_get("delivery_kind")?,
        manual_fields: r.try_get("manual_fields")?,
        status: r.try_get("status")?,
        stock: r.try_get("stock")?,
        created_at: r.try_get("created_at")?,
    })
}

pub async fn insert_product(tx: &mut Conn, p: &ProductRow) -> Result<()> {
    sqlx::query(
        "INSERT INTO products (id, seller_id, title, description, category, price_minor, currency, delivery_kind, manual_fields, status, stock, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(p.id.as_str())
    .bind(p.seller_id.as_str())
    .bind(&p.title)
    .bind(&p.description)
    .bind(&p.category)
    .bind(p.price.minor())
    .bind(&p.currency)
    .bind(&p.delivery_kind)
    .bind(&p.manual_fields)
    .bind(&p.status)
    .bind(p.stock)
    .bind(p.created_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn product(tx: &mut Conn, id: &ProductId, lock: bool) -> Result<Option<ProductRow>> {
    let sql = format!("SELECT * FROM products WHERE id = $1{}", if lock { DIALECT.for_update } else { "" });
    let row = sqlx::query(&sql).bind(id.as_str()).fetch_optional(&mut **tx).await?;
    row.as_ref().map(product_from).transpose()
}

/// Active products, newest first, paged by id (ids are time-ordered UUID v7).
pub async fn list_products(tx: &mut Conn, after: Option<&str>, limit: i64) -> Result<Vec<ProductRow>> {
    let rows = sqlx::query(
        "SELECT * FROM products WHERE status = 'active' AND ($1 IS NULL OR id < $1) \
         AND NOT EXISTS (SELECT 1 FROM seller_standing s WHERE s.seller_id = products.seller_id AND s.status <> 'active') \
         ORDER BY id DESC LIMIT $2",
    )
    .bind(after)
    .bind(limit)
    .fetch_all(&mut **tx)
    .await?;
    rows.iter().map(product_from).collect()
}

pub async fn products_by_seller(tx: &mut Conn, seller: &UserId) -> Result<Vec<ProductRow>> {
    let rows = sqlx::query("SELECT * FROM products WHERE seller_id = $1 ORDER BY id DESC")
        .bind(seller.as_str())
        .fetch_all(&mut **tx)
        .await?;
    rows.iter().map(product_from).collect()
}

pub async fn update_product(tx: &mut Conn, p: &ProductRow) -> Result<()> {
    sqlx::query("UPDATE products SET title = $2, description = $3, category = $4, price_minor = $5, status = $6, manual_fields = $7 WHERE id = $1")
        .bind(p.id.as_str())
        .bind(&p.title)
        .bind(&p.description)
        .bind(&p.category)
        .bind(p.price.minor())
        .bind(&p.status)
        .bind(&p.manual_fields)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Takes `quantity` units out of the reservable stock, or nothing if there are not enough.
pub async fn reserve_stock(tx: &mut Conn, product: &ProductId, quantity: i64) -> Result<bool> {
    let done = sqlx::query("UPDATE products SET stock = stock - $2 WHERE id = $1 AND stock >= $2")
        .bind(product.as_str())
        .bind(quantity)
        .execute(&mut **tx)
        .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn release_stock(tx: &mut Conn, product: &ProductId, quantity: i64) -> Result<()> {
    sqlx::query("UPDATE products SET stock = stock + $2 WHERE id = $1")
        .bind(product.as_str())
        .bind(quantity)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

fn card_key_from(r: &Row) -> Result<CardKeyRow> {
    Ok(CardKeyRow {
        id: r.try_get("id")?,
        product_id: ProductId::from_trusted(r.try_get("product_id")?),
        seq: r.try_get("seq")?,
        fingerprint: r.try_get("fingerprint")?,
        key_id: r.try_get("key_id")?,
        nonce: r.try_get("nonce")?,
        ciphertext: r.try_get("ciphertext")?,
        content_hash: r.try_get("content_hash")?,
        order_id: r.try_get("order_id")?,
        allocated_at: r.try_get("allocated_at")?,
        created_at: r.try_get("created_at")?,
    })
}

/// Inserts a key unless the product already has one with the same fingerprint.
pub async fn insert_card_key(tx: &mut Conn, key: &CardKeyRow) -> Result<bool> {
    let done = sqlx::query(
        "INSERT INTO card_keys (id, product_id, seq, fingerprint, key_id, nonce, ciphertext, content_hash, order_id, allocated_at, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL, NULL, $9) ON CONFLICT (product_id, fingerprint) DO NOTHING",
    )
    .bind(&key.id)
    .bind(key.product_id.as_str())
    .bind(key.seq)
    .bind(&key.fingerprint)
    .bind(&key.key_id)
    .bind(&key.nonce)
    .bind(&key.ciphertext)
    .bind(&key.content_hash)
    .bind(key.created_at)
    .execute(&mut **tx)
    .await?;
    if done.rows_affected() == 1 {
        release_stock(tx, &key.product_id, 1).await?;
        Ok(true)
    } else {
        Ok(false)
    }
}

pub async fn next_card_key_seq(tx: &mut Conn, product: &ProductId) -> Result<i64> {
    let row = sqlx::query("SELECT CAST(COALESCE(MAX(seq), 0) AS BIGINT) AS m FROM card_keys WHERE product_id = $1")
        .bind(product.as_str())
        .fetch_one(&mut **tx)
        .await?;
    Ok(row.try_get::<i64, _>("m")? + 1)
}

/// Hands the oldest free keys of a product to an order. A key's `order_id` is set once
/// (`AND order_id IS NULL`), so no key can ever belong to two orders. On PostgreSQL,
/// concurrent allocations of one product pass each other by (`SKIP LOCKED`: each takes
/// the oldest free keys no other transaction holds); SQLite runs one writer at a time.
/// Returns no keys when the product has fewer than `quantity` free.
pub async fn allocate_card_keys(tx: &mut Conn, product: &ProductId, order: &OrderId, quantity: i64, now: i64) -> Result<Vec<CardKeyRow>> {
    let mut free = free_card_keys(tx, product, quantity, DIALECT.skip_locked).await?;
    if i64::try_from(free.len()).unwrap_or(0) < quantity {
        // Too few among the keys nobody holds: keys held by a transaction that then rolls
        // back are free again, so look once more, this time waiting for them, with the
        // product's row lock so that allocations that come here take turns.
        sqlx::query(&format!("SELECT id FROM products WHERE id = $1{}", DIALECT.for_update))
            .bind(product.as_str())
            .fetch_optional(&mut **tx)
            .await?;
        free = free_card_keys(tx, product, quantity, DIALECT.for_update).await?;
        if i64::try_from(free.len()).unwrap_or(0) < quantity {
            return Ok(Vec::new());
        }
    }
    let placeholders: Vec<String> = (0..free.len()).map(|i| format!("${}", i + 3)).collect();
    let sql = format!(
        "UPDATE card_keys SET order_id = $1, allocated_at = $2 WHERE order_id IS NULL AND id IN ({})",
        placeholders.join(", ")
    );
    let mut q = sqlx::query(&sql).bind(order.as_str()).bind(now);
    for id in &free {
        q = q.bind(id.as_str());
    }
    let done = q.execute(&mut **tx).await?;
    if done.rows_affected() != free.len() as u64 {
        return Err(StoreError::Conflict(format!("card keys {free:?} were allocated concurrently")));
    }
    card_keys_for_order(tx, order).await
}

/// The ids of the oldest free keys of a product, at most `quantity`, locked with `lock`.
async fn free_card_keys(tx: &mut Conn, product: &ProductId, quantity: i64, lock: &str) -> Result<Vec<String>> {
    let sql = format!("SELECT id FROM card_keys WHERE product_id = $1 AND order_id IS NULL ORDER BY seq LIMIT $2{lock}");
    let rows = sqlx::query(&sql).bind(product.as_str()).bind(quantity).fetch_all(&mut **tx).await?;
    rows.iter().map(|r| Ok(r.try_get::<String, _>("id")?)).collect()
}

pub async fn card_keys_for_order(tx: &mut Conn, order: &OrderId) -> Result<Vec<CardKeyRow>> {
    let rows = sqlx::query("SELECT * FROM card_keys WHERE order_id = $1 ORDER BY seq")
        .bind(order.as_str())
        .fetch_all(&mut **tx)
        .await?;
    rows.iter().map(card_key_from).collect()
}

pub async fn count_free_card_keys(tx: &mut Conn, product: &ProductId) -> Result<i64> {
    let row = sqlx::query("SELECT COUNT(*) AS n FROM card_keys WHERE product_id = $1 AND order_id IS NULL")
        .bind(product.as_str())
        .fetch_one(&mut **tx)
        .await?;
    Ok(row.try_get("n")?)
}

/// The storefront: listed products of sellers in good standing, newest first, of one
/// category and matching a search in the title or description if given (LIKE wildcards
/// in the search are taken literally; letters match in either case on both stores, where
/// a bare LIKE would on SQLite and not on PostgreSQL).
pub async fn storefront_products(tx: &mut Conn, after: Option<&str>, category: Option<&str>, search: Option<&str>, limit: i64) -> Result<Vec<ProductRow>> {
    let pattern = search.map(|s| format!("%{}%", s.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")));
    let rows = sqlx::query(
        "SELECT * FROM products WHERE status = 'active' AND (CAST($1 AS TEXT) IS NULL OR id < CAST($1 AS TEXT)) \
         AND (CAST($2 AS TEXT) IS NULL OR category = CAST($2 AS TEXT)) \
         AND (CAST($3 AS TEXT) IS NULL OR LOWER(title) LIKE LOWER(CAST($3 AS TEXT)) ESCAPE '\\' OR LOWER(description) LIKE LOWER(CAST($3 AS TEXT)) ESCAPE '\\') \
         AND NOT EXISTS (SELECT 1 FROM seller_standing s WHERE s.seller_id = products.seller_id AND s.status <> 'active') \
         ORDER BY id DESC LIMIT $4",
    )
    .bind(after)
    .bind(category)
    .bind(pattern)
    .bind(limit)
    .fetch_all(&mut **tx)
    .await?;
    rows.iter().map(product_from).collect()
}

/// The categories the storefront has listings in, with how many.
pub async fn storefront_categories(tx: &mut Conn) -> Result<Vec<(String, i64)>> {
    let rows = sqlx::query(
        "SELECT category, COUNT(*) AS n FROM products WHERE status = 'active' \
         AND NOT EXISTS (SELECT 1 FROM seller_standing s WHERE s.seller_id = products.seller_id AND s.status <> 'active') \
         GROUP BY category ORDER BY category",
    )
    .fetch_all(&mut **tx)
    .await?;
    rows.iter().map(|r| Ok((r.try_get("category")?, r.try_get("n")?))).collect()
}
