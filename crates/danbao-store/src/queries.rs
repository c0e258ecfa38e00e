// Included twice by lib.rs: once with `Db = sqlx::Sqlite`, once with `Db = sqlx::Postgres`.
// Every statement here must be valid on both; differences go through `DIALECT`.

use danbao_domain::{OrderStatus, ProductId, RefundId};
use sqlx::Row as _;

type Conn = sqlx::Transaction<'static, Db>;
type Row = <Db as sqlx::Database>::Row;

fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Corrupt(format!("{what}: {value:?}"))
}

// ---- users and tokens ----

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

// ---- rule sets ----

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

// ---- products and card keys ----

fn product_from(r: &Row) -> Result<ProductRow> {
    Ok(ProductRow {
        id: ProductId::from_trusted(r.try_get("id")?),
        seller_id: UserId::from_trusted(r.try_get("seller_id")?),
        title: r.try_get("title")?,
        description: r.try_get("description")?,
        category: r.try_get("category")?,
        price_minor: r.try_get("price_minor")?,
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
    .bind(p.price_minor)
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
    sqlx::query("UPDATE products SET title = $2, description = $3, category = $4, price_minor = $5, status = $6 WHERE id = $1")
        .bind(p.id.as_str())
        .bind(&p.title)
        .bind(&p.description)
        .bind(&p.category)
        .bind(p.price_minor)
        .bind(&p.status)
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
/// (`AND order_id IS NULL`), so no key can ever belong to two orders. The caller holds
/// the product row lock, so concurrent allocations of one product take turns.
pub async fn allocate_card_keys(tx: &mut Conn, product: &ProductId, order: &OrderId, quantity: i64, now: i64) -> Result<Vec<CardKeyRow>> {
    let free = sqlx::query("SELECT id FROM card_keys WHERE product_id = $1 AND order_id IS NULL ORDER BY seq LIMIT $2")
        .bind(product.as_str())
        .bind(quantity)
        .fetch_all(&mut **tx)
        .await?;
    if i64::try_from(free.len()).unwrap_or(0) < quantity {
        return Ok(Vec::new());
    }
    for row in &free {
        let id: String = row.try_get("id")?;
        let done = sqlx::query("UPDATE card_keys SET order_id = $2, allocated_at = $3 WHERE id = $1 AND order_id IS NULL")
            .bind(&id)
            .bind(order.as_str())
            .bind(now)
            .execute(&mut **tx)
            .await?;
        if done.rows_affected() != 1 {
            return Err(StoreError::Conflict(format!("card key {id} was allocated concurrently")));
        }
    }
    card_keys_for_order(tx, order).await
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

// ---- orders ----

fn order_from(r: &Row) -> Result<OrderRow> {
    let status: String = r.try_get("status")?;
    Ok(OrderRow {
        id: OrderId::from_trusted(r.try_get("id")?),
        product_id: ProductId::from_trusted(r.try_get("product_id")?),
        seller_id: UserId::from_trusted(r.try_get("seller_id")?),
        buyer_id: r.try_get::<Option<String>, _>("buyer_id")?.map(UserId::from_trusted),
        guest_contact: r.try_get("guest_contact")?,
        guest_password_hash: r.try_get("guest_password_hash")?,
        quantity: r.try_get("quantity")?,
        unit_price_minor: r.try_get("unit_price_minor")?,
        amount_minor: r.try_get("amount_minor")?,
        currency: r.try_get("currency")?,
        delivery_kind: r.try_get("delivery_kind")?,
        category: r.try_get("category")?,
        status: OrderStatus::parse(&status).ok_or_else(|| corrupt("order status", &status))?,
        rule_version: r.try_get("rule_version")?,
        delivery_fields: r.try_get("delivery_fields")?,
        delivery_note: r.try_get("delivery_note")?,
        created_at: r.try_get("created_at")?,
        expires_at: r.try_get("expires_at")?,
        paid_at: r.try_get("paid_at")?,
        delivered_at: r.try_get("delivered_at")?,
        deliver_by: r.try_get("deliver_by")?,
        auto_confirm_at: r.try_get("auto_confirm_at")?,
        completed_at: r.try_get("completed_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

pub async fn insert_order(tx: &mut Conn, o: &OrderRow) -> Result<()> {
    sqlx::query(
        "INSERT INTO orders (id, product_id, seller_id, buyer_id, guest_contact, guest_password_hash, quantity, \
         unit_price_minor, amount_minor, currency, delivery_kind, category, status, rule_version, delivery_fields, delivery_note, \
         created_at, expires_at, paid_at, delivered_at, deliver_by, auto_confirm_at, completed_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24)",
    )
    .bind(o.id.as_str())
    .bind(o.product_id.as_str())
    .bind(o.seller_id.as_str())
    .bind(o.buyer_id.as_ref().map(|b| b.as_str()))
    .bind(&o.guest_contact)
    .bind(&o.guest_password_hash)
    .bind(o.quantity)
    .bind(o.unit_price_minor)
    .bind(o.amount_minor)
    .bind(&o.currency)
    .bind(&o.delivery_kind)
    .bind(&o.category)
    .bind(o.status.as_str())
    .bind(o.rule_version)
    .bind(&o.delivery_fields)
    .bind(&o.delivery_note)
    .bind(o.created_at)
    .bind(o.expires_at)
    .bind(o.paid_at)
    .bind(o.delivered_at)
    .bind(o.deliver_by)
    .bind(o.auto_confirm_at)
    .bind(o.completed_at)
    .bind(o.updated_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn order(tx: &mut Conn, id: &OrderId, lock: bool) -> Result<Option<OrderRow>> {
    let sql = format!("SELECT * FROM orders WHERE id = $1{}", if lock { DIALECT.for_update } else { "" });
    let row = sqlx::query(&sql).bind(id.as_str()).fetch_optional(&mut **tx).await?;
    row.as_ref().map(order_from).transpose()
}

/// Writes the fields a transition may change; the identity and price never change.
pub async fn update_order(tx: &mut Conn, o: &OrderRow) -> Result<()> {
    sqlx::query(
        "UPDATE orders SET status = $2, delivery_note = $3, paid_at = $4, delivered_at = $5, deliver_by = $6, \
         auto_confirm_at = $7, completed_at = $8, updated_at = $9 WHERE id = $1",
    )
    .bind(o.id.as_str())
    .bind(o.status.as_str())
    .bind(&o.delivery_note)
    .bind(o.paid_at)
    .bind(o.delivered_at)
    .bind(o.deliver_by)
    .bind(o.auto_confirm_at)
    .bind(o.completed_at)
    .bind(o.updated_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn orders_for_buyer(tx: &mut Conn, buyer: &UserId, limit: i64) -> Result<Vec<OrderRow>> {
    let rows = sqlx::query("SELECT * FROM orders WHERE buyer_id = $1 ORDER BY created_at DESC LIMIT $2")
        .bind(buyer.as_str())
        .bind(limit)
        .fetch_all(&mut **tx)
        .await?;
    rows.iter().map(order_from).collect()
}

pub async fn orders_for_seller(tx: &mut Conn, seller: &UserId, limit: i64) -> Result<Vec<OrderRow>> {
    let rows = sqlx::query("SELECT * FROM orders WHERE seller_id = $1 ORDER BY created_at DESC LIMIT $2")
        .bind(seller.as_str())
        .bind(limit)
        .fetch_all(&mut **tx)
        .await?;
    rows.iter().map(order_from).collect()
}

pub async fn order_statuses(tx: &mut Conn) -> Result<Vec<(String, String)>> {
    let rows = sqlx::query("SELECT id, status FROM orders").fetch_all(&mut **tx).await?;
    rows.iter()
        .map(|r| Ok((r.try_get("id")?, r.try_get("status")?)))
        .collect()
}

pub async fn order_events(tx: &mut Conn, order: &OrderId) -> Result<Vec<OrderEventRow>> {
    let rows = sqlx::query("SELECT * FROM order_events WHERE order_id = $1 ORDER BY seq")
        .bind(order.as_str())
        .fetch_all(&mut **tx)
        .await?;
    rows.iter()
        .map(|r| {
            Ok(OrderEventRow {
                id: r.try_get("id")?,
                order_id: OrderId::from_trusted(r.try_get("order_id")?),
                seq: r.try_get("seq")?,
                kind: r.try_get("kind")?,
                detail: r.try_get("detail")?,
                at: r.try_get("at")?,
                leaf_hash: r.try_get("leaf_hash")?,
            })
        })
        .collect()
}

pub async fn insert_key_reveal(tx: &mut Conn, order: &OrderId, viewer: &str, at: i64) -> Result<()> {
    sqlx::query("INSERT INTO key_reveals (id, order_id, viewer, at) VALUES ($1, $2, $3, $4)")
        .bind(uuid::Uuid::now_v7().to_string())
        .bind(order.as_str())
        .bind(viewer)
        .bind(at)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub async fn count_key_reveals(tx: &mut Conn, order: &OrderId) -> Result<i64> {
    let row = sqlx::query("SELECT COUNT(*) AS n FROM key_reveals WHERE order_id = $1")
        .bind(order.as_str())
        .fetch_one(&mut **tx)
        .await?;
    Ok(row.try_get("n")?)
}

// ---- payments and refunds ----

fn attempt_from(r: &Row) -> Result<PaymentAttemptRow> {
    Ok(PaymentAttemptRow {
        id: r.try_get("id")?,
        order_id: OrderId::from_trusted(r.try_get("order_id")?),
        provider: r.try_get("provider")?,
        provider_payment_id: r.try_get("provider_payment_id")?,
        cashier_url: r.try_get("cashier_url")?,
        amount_minor: r.try_get("amount_minor")?,
        created_at: r.try_get("created_at")?,
    })
}

pub async fn insert_payment_attempt(tx: &mut Conn, a: &PaymentAttemptRow) -> Result<()> {
    sqlx::query(
        "INSERT INTO payment_attempts (id, order_id, provider, provider_payment_id, cashier_url, amount_minor, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&a.id)
    .bind(a.order_id.as_str())
    .bind(&a.provider)
    .bind(&a.provider_payment_id)
    .bind(&a.cashier_url)
    .bind(a.amount_minor)
    .bind(a.created_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn payment_attempt(tx: &mut Conn, id: &str) -> Result<Option<PaymentAttemptRow>> {
    let row = sqlx::query("SELECT * FROM payment_attempts WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?;
    row.as_ref().map(attempt_from).transpose()
}

/// Records what the provider answered for an attempt (its payment id and cashier).
pub async fn set_attempt_provider_payment(tx: &mut Conn, id: &str, provider_payment_id: &str, cashier_url: &str) -> Result<()> {
    sqlx::query("UPDATE payment_attempts SET provider_payment_id = $2, cashier_url = $3 WHERE id = $1")
        .bind(id)
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

fn payment_from(r: &Row) -> Result<PaymentRow> {
    Ok(PaymentRow {
        id: r.try_get("id")?,
        provider: r.try_get("provider")?,
        provider_txn_id: r.try_get("provider_txn_id")?,
        provider_payment_id: r.try_get("provider_payment_id")?,
        out_trade_no: r.try_get("out_trade_no")?,
        order_id: r.try_get("order_id")?,
        amount_minor: r.try_get("amount_minor")?,
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
    .bind(p.amount_minor)
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
        amount_minor: r.try_get("amount_minor")?,
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
    .bind(r.amount_minor)
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

// ---- reconciliation ----

pub async fn insert_reconciliation_run(tx: &mut Conn, r: &ReconciliationRunRow) -> Result<()> {
    sqlx::query(
        "INSERT INTO reconciliation_runs (id, provider, period_from, period_to, matched, applied_late, missing_at_provider, amount_mismatch, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&r.id)
    .bind(&r.provider)
    .bind(r.period_from)
    .bind(r.period_to)
    .bind(r.matched)
    .bind(r.applied_late)
    .bind(r.missing_at_provider)
    .bind(r.amount_mismatch)
    .bind(r.created_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

fn run_from(r: &Row) -> Result<ReconciliationRunRow> {
    Ok(ReconciliationRunRow {
        id: r.try_get("id")?,
        provider: r.try_get("provider")?,
        period_from: r.try_get("period_from")?,
        period_to: r.try_get("period_to")?,
        matched: r.try_get("matched")?,
        applied_late: r.try_get("applied_late")?,
        missing_at_provider: r.try_get("missing_at_provider")?,
        amount_mismatch: r.try_get("amount_mismatch")?,
        created_at: r.try_get("created_at")?,
    })
}

pub async fn reconciliation_runs(tx: &mut Conn, limit: i64) -> Result<Vec<ReconciliationRunRow>> {
    let rows = sqlx::query("SELECT * FROM reconciliation_runs ORDER BY created_at DESC LIMIT $1")
        .bind(limit)
        .fetch_all(&mut **tx)
        .await?;
    rows.iter().map(run_from).collect()
}

fn item_from(r: &Row) -> Result<ReconciliationItemRow> {
    Ok(ReconciliationItemRow {
        id: r.try_get("id")?,
        run_id: r.try_get("run_id")?,
        kind: r.try_get("kind")?,
        provider: r.try_get("provider")?,
        provider_txn_id: r.try_get("provider_txn_id")?,
        payment_id: r.try_get("payment_id")?,
        detail: r.try_get("detail")?,
        status: r.try_get("status")?,
        resolution: r.try_get("resolution")?,
        resolved_by: r.try_get("resolved_by")?,
        resolved_at: r.try_get("resolved_at")?,
        created_at: r.try_get("created_at")?,
    })
}

/// Records a difference unless the same one (kind, provider, transaction) is already on
/// record; returns whether it is new.
pub async fn insert_reconciliation_item(tx: &mut Conn, i: &ReconciliationItemRow) -> Result<bool> {
    let done = sqlx::query(
        "INSERT INTO reconciliation_items (id, run_id, kind, provider, provider_txn_id, payment_id, detail, status, resolution, resolved_by, resolved_at, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT (kind, provider, provider_txn_id) DO NOTHING",
    )
    .bind(&i.id)
    .bind(&i.run_id)
    .bind(&i.kind)
    .bind(&i.provider)
    .bind(&i.provider_txn_id)
    .bind(&i.payment_id)
    .bind(&i.detail)
    .bind(&i.status)
    .bind(&i.resolution)
    .bind(&i.resolved_by)
    .bind(i.resolved_at)
    .bind(i.created_at)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn reconciliation_item(tx: &mut Conn, id: &str, lock: bool) -> Result<Option<ReconciliationItemRow>> {
    let sql = format!("SELECT * FROM reconciliation_items WHERE id = $1{}", if lock { DIALECT.for_update } else { "" });
    let row = sqlx::query(&sql).bind(id).fetch_optional(&mut **tx).await?;
    row.as_ref().map(item_from).transpose()
}

pub async fn reconciliation_items(tx: &mut Conn, status: Option<&str>, run_id: Option<&str>, limit: i64) -> Result<Vec<ReconciliationItemRow>> {
    let rows = sqlx::query(
        "SELECT * FROM reconciliation_items WHERE ($1 IS NULL OR status = $1) AND ($2 IS NULL OR run_id = $2) ORDER BY created_at LIMIT $3",
    )
    .bind(status)
    .bind(run_id)
    .bind(limit)
    .fetch_all(&mut **tx)
    .await?;
    rows.iter().map(item_from).collect()
}

pub async fn resolve_reconciliation_item(tx: &mut Conn, id: &str, resolution: &str, by: &str, at: i64) -> Result<()> {
    sqlx::query("UPDATE reconciliation_items SET status = 'resolved', resolution = $2, resolved_by = $3, resolved_at = $4 WHERE id = $1")
        .bind(id)
        .bind(resolution)
        .bind(by)
        .bind(at)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub async fn order_status_counts(tx: &mut Conn) -> Result<Vec<(String, i64)>> {
    let rows = sqlx::query("SELECT status, COUNT(*) AS n FROM orders GROUP BY status ORDER BY status")
        .fetch_all(&mut **tx)
        .await?;
    rows.iter().map(|r| Ok((r.try_get("status")?, r.try_get("n")?))).collect()
}

pub async fn count_by(tx: &mut Conn, table_and_column: CountOf) -> Result<Vec<(String, i64)>> {
    let sql = match table_and_column {
        CountOf::PaymentOutcomes => "SELECT outcome AS k, COUNT(*) AS n FROM payments GROUP BY outcome ORDER BY outcome",
        CountOf::RefundStatuses => "SELECT status AS k, COUNT(*) AS n FROM refunds GROUP BY status ORDER BY status",
        CountOf::JobStatuses => "SELECT status AS k, COUNT(*) AS n FROM jobs GROUP BY status ORDER BY status",
        CountOf::OpenExceptions => "SELECT kind AS k, COUNT(*) AS n FROM reconciliation_items WHERE status = 'open' GROUP BY kind ORDER BY kind",
    };
    let rows = sqlx::query(sql).fetch_all(&mut **tx).await?;
    rows.iter().map(|r| Ok((r.try_get("k")?, r.try_get("n")?))).collect()
}

/// Keys that belong to more than one order, or orders holding a key twice: must be zero.
pub async fn keys_allocated_twice(tx: &mut Conn) -> Result<i64> {
    let row = sqlx::query(
        "SELECT COUNT(*) AS n FROM (SELECT product_id, fingerprint FROM card_keys WHERE order_id IS NOT NULL \
         GROUP BY product_id, fingerprint HAVING COUNT(DISTINCT order_id) > 1) AS dup",
    )
    .fetch_one(&mut **tx)
    .await?;
    Ok(row.try_get("n")?)
}

pub async fn requeue_job(tx: &mut Conn, id: &str, now: i64) -> Result<bool> {
    let done = sqlx::query("UPDATE jobs SET status = 'queued', attempts = 0, run_at = $2, updated_at = $2 WHERE id = $1 AND status = 'dead'")
        .bind(id)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    Ok(done.rows_affected() == 1)
}

// ---- ledger ----

/// Writes a journal entry and its postings and updates the touched balances, all in the
/// caller's transaction. The accounts are locked in one fixed order, the `Account` ordering (so two entries touching
/// the same accounts cannot deadlock), the new balances are computed by the domain's
/// `apply_to` (which refuses to take a liability below zero), and the entry is checked
/// to balance once more before a row is written.
pub async fn post_entry(tx: &mut Conn, entry: &JournalEntry, now: i64) -> Result<String> {
    entry.verify_balanced()?;
    let accounts: std::collections::BTreeSet<&Account> = entry.postings().iter().map(|p| &p.account).collect();
    let mut current = BTreeMap::new();
    for account in &accounts {
        let name = account.to_string();
        sqlx::query("INSERT INTO accounts (name, balance) VALUES ($1, 0) ON CONFLICT (name) DO NOTHING")
            .bind(&name)
            .execute(&mut **tx)
            .await?;
        let sql = format!("SELECT balance FROM accounts WHERE name = $1{}", DIALECT.for_update);
        let row = sqlx::query(&sql).bind(&name).fetch_one(&mut **tx).await?;
        current.insert((*account).clone(), row.try_get::<i64, _>("balance")?);
    }
    let next = entry.apply_to(&current)?;
    let id = uuid::Uuid::now_v7().to_string();
    let refs = entry.refs();
    sqlx::query("INSERT INTO journal_entries (id, kind, order_id, payment_id, refund_id, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(&id)
        .bind(entry.kind().as_str())
        .bind(refs.order.as_ref().map(|o| o.as_str()))
        .bind(refs.payment.as_ref().map(|p| p.as_str()))
        .bind(refs.refund.as_ref().map(|r| r.as_str()))
        .bind(now)
        .execute(&mut **tx)
        .await?;
    for (idx, p) in entry.postings().iter().enumerate() {
        sqlx::query("INSERT INTO postings (entry_id, idx, account, amount_minor) VALUES ($1, $2, $3, $4)")
            .bind(&id)
            .bind(i64::try_from(idx).unwrap_or(i64::MAX))
            .bind(p.account.to_string())
            .bind(p.amount_minor)
            .execute(&mut **tx)
            .await?;
    }
    for (account, balance) in next {
        sqlx::query("UPDATE accounts SET balance = $2 WHERE name = $1")
            .bind(account.to_string())
            .bind(balance)
            .execute(&mut **tx)
            .await?;
    }
    Ok(id)
}

/// The raw balance (debits − credits) of one account.
pub async fn account_balance(tx: &mut Conn, account: &Account) -> Result<i64> {
    let row = sqlx::query("SELECT balance FROM accounts WHERE name = $1")
        .bind(account.to_string())
        .fetch_optional(&mut **tx)
        .await?;
    Ok(match row {
        Some(r) => r.try_get("balance")?,
        None => 0,
    })
}

pub async fn journal_entries(tx: &mut Conn) -> Result<Vec<(String, std::result::Result<JournalEntry, LedgerError>)>> {
    let entries = sqlx::query("SELECT id, kind, order_id, payment_id, refund_id FROM journal_entries ORDER BY id")
        .fetch_all(&mut **tx)
        .await?;
    let postings = sqlx::query("SELECT entry_id, account, amount_minor FROM postings ORDER BY entry_id, idx")
        .fetch_all(&mut **tx)
        .await?;
    let mut by_entry: BTreeMap<String, Vec<(String, i64)>> = BTreeMap::new();
    for p in &postings {
        by_entry
            .entry(p.try_get("entry_id")?)
            .or_default()
            .push((p.try_get("account")?, p.try_get("amount_minor")?));
    }
    let mut out = Vec::with_capacity(entries.len());
    for e in &entries {
        let id: String = e.try_get("id")?;
        let kind: String = e.try_get("kind")?;
        let refs = EntryRefs {
            order: e.try_get::<Option<String>, _>("order_id")?.map(OrderId::from_trusted),
            payment: e.try_get::<Option<String>, _>("payment_id")?.map(danbao_domain::PaymentId::from_trusted),
            refund: e.try_get::<Option<String>, _>("refund_id")?.map(RefundId::from_trusted),
        };
        let postings = by_entry.remove(&id).unwrap_or_default();
        out.push((id, entry_from_parts(&kind, refs, postings)));
    }
    // Postings whose entry row is gone are themselves a violation.
    for (orphan, _) in by_entry {
        out.push((orphan, Err(LedgerError::Unreadable("postings without a journal entry".into()))));
    }
    Ok(out)
}

pub async fn account_balances(tx: &mut Conn) -> Result<BTreeMap<Account, i64>> {
    let rows = sqlx::query("SELECT name, balance FROM accounts").fetch_all(&mut **tx).await?;
    let mut out = BTreeMap::new();
    for r in &rows {
        let name: String = r.try_get("name")?;
        let account = Account::parse(&name).ok_or_else(|| corrupt("account name", &name))?;
        out.insert(account, r.try_get("balance")?);
    }
    Ok(out)
}

// ---- jobs ----

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
    let done = sqlx::query(
        "INSERT INTO jobs (id, kind, payload, dedupe_key, run_at, status, attempts, lease_until, last_error, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, 'queued', 0, NULL, NULL, $6, $6) ON CONFLICT (dedupe_key) DO NOTHING",
    )
    .bind(uuid::Uuid::now_v7().to_string())
    .bind(&job.kind)
    .bind(&job.payload)
    .bind(&job.dedupe_key)
    .bind(job.run_at)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
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

pub async fn retry_job(tx: &mut Conn, id: &str, error: &str, run_at: i64, now: i64) -> Result<()> {
    sqlx::query("UPDATE jobs SET status = 'queued', lease_until = NULL, last_error = $2, run_at = $3, updated_at = $4 WHERE id = $1")
        .bind(id)
        .bind(error)
        .bind(run_at)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    Ok(())
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

// ---- idempotency keys ----

pub async fn idempotency_begin(tx: &mut Conn, scope: &str, key: &str, request_hash: &str, now: i64) -> Result<IdempotencyState> {
    let inserted = sqlx::query(
        "INSERT INTO idempotency_keys (scope, key, request_hash, status_code, content_type, response_body, created_at) \
         VALUES ($1, $2, $3, NULL, NULL, NULL, $4) ON CONFLICT (scope, key) DO NOTHING",
    )
    .bind(scope)
    .bind(key)
    .bind(request_hash)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    if inserted.rows_affected() == 1 {
        return Ok(IdempotencyState::New);
    }
    let row = sqlx::query("SELECT request_hash, status_code, content_type, response_body, created_at FROM idempotency_keys WHERE scope = $1 AND key = $2")
        .bind(scope)
        .bind(key)
        .fetch_one(&mut **tx)
        .await?;
    let stored_hash: String = row.try_get("request_hash")?;
    if stored_hash != request_hash {
        return Ok(IdempotencyState::Mismatch);
    }
    let status: Option<i64> = row.try_get("status_code")?;
    let started: i64 = row.try_get("created_at")?;
    if status.is_none() && started <= now - IDEMPOTENCY_ABANDONED_AFTER_MS {
        // The process that ran it died before answering: let this request take it over.
        let taken = sqlx::query("UPDATE idempotency_keys SET created_at = $3 WHERE scope = $1 AND key = $2 AND status_code IS NULL AND created_at = $4")
            .bind(scope)
            .bind(key)
            .bind(now)
            .bind(started)
            .execute(&mut **tx)
            .await?;
        if taken.rows_affected() == 1 {
            return Ok(IdempotencyState::New);
        }
    }
    Ok(match status {
        None => IdempotencyState::InProgress,
        Some(status) => IdempotencyState::Replay {
            status,
            content_type: row.try_get::<Option<String>, _>("content_type")?.unwrap_or_default(),
            body: row.try_get::<Option<String>, _>("response_body")?.unwrap_or_default(),
        },
    })
}

pub async fn idempotency_complete(tx: &mut Conn, scope: &str, key: &str, status: i64, content_type: &str, body: &str) -> Result<()> {
    sqlx::query("UPDATE idempotency_keys SET status_code = $3, content_type = $4, response_body = $5 WHERE scope = $1 AND key = $2")
        .bind(scope)
        .bind(key)
        .bind(status)
        .bind(content_type)
        .bind(body)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub async fn idempotency_abandon(tx: &mut Conn, scope: &str, key: &str) -> Result<()> {
    sqlx::query("DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2 AND status_code IS NULL")
        .bind(scope)
        .bind(key)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

// ---- security events ----

pub async fn insert_security_event(tx: &mut Conn, kind: &str, detail: &str, at: i64) -> Result<()> {
    sqlx::query("INSERT INTO security_events (id, kind, detail, at) VALUES ($1, $2, $3, $4)")
        .bind(uuid::Uuid::now_v7().to_string())
        .bind(kind)
        .bind(detail)
        .bind(at)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub async fn security_events(tx: &mut Conn, limit: i64) -> Result<Vec<(String, String, String, i64)>> {
    let rows = sqlx::query("SELECT id, kind, detail, at FROM security_events ORDER BY at DESC, id DESC LIMIT $1")
        .bind(limit)
        .fetch_all(&mut **tx)
        .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("id")?, r.try_get("kind")?, r.try_get("detail")?, r.try_get("at")?)))
        .collect()
}

// ---- evidence log ----

pub async fn evidence_enqueue(tx: &mut Conn, id: &str, case_id: &str, record: &str, leaf_hash: &str, now: i64) -> Result<()> {
    sqlx::query("INSERT INTO evidence_queue (id, case_id, record, leaf_hash, created_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(id)
        .bind(case_id)
        .bind(record)
        .bind(leaf_hash)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The last leaf hash of a case, locked so that two events of one case chain in order.
pub async fn evidence_case_head(tx: &mut Conn, case_id: &str) -> Result<Option<String>> {
    let sql = format!("SELECT leaf_hash FROM evidence_case_heads WHERE case_id = $1{}", DIALECT.for_update);
    let row = sqlx::query(&sql).bind(case_id).fetch_optional(&mut **tx).await?;
    Ok(match row {
        Some(r) => Some(r.try_get("leaf_hash")?),
        None => None,
    })
}

pub async fn set_evidence_case_head(tx: &mut Conn, case_id: &str, leaf_hash: &str) -> Result<()> {
    sqlx::query(
        "INSERT INTO evidence_case_heads (case_id, leaf_hash) VALUES ($1, $2) \
         ON CONFLICT (case_id) DO UPDATE SET leaf_hash = excluded.leaf_hash",
    )
    .bind(case_id)
    .bind(leaf_hash)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The sequencer's row, locked: (size, frontier hex).
pub async fn evidence_state(tx: &mut Conn) -> Result<(i64, String)> {
    let sql = format!("SELECT size, frontier FROM evidence_state WHERE id = 1{}", DIALECT.for_update);
    let row = sqlx::query(&sql).fetch_one(&mut **tx).await?;
    Ok((row.try_get("size")?, row.try_get("frontier")?))
}

pub async fn set_evidence_state(tx: &mut Conn, size: i64, frontier: &str) -> Result<()> {
    sqlx::query("UPDATE evidence_state SET size = $1, frontier = $2 WHERE id = 1")
        .bind(size)
        .bind(frontier)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The oldest queued leaves: (queue id, case, record, leaf hash).
pub async fn evidence_queue_batch(tx: &mut Conn, limit: i64) -> Result<Vec<(String, String, String, String)>> {
    let rows = sqlx::query("SELECT id, case_id, record, leaf_hash FROM evidence_queue ORDER BY id LIMIT $1")
        .bind(limit)
        .fetch_all(&mut **tx)
        .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("id")?, r.try_get("case_id")?, r.try_get("record")?, r.try_get("leaf_hash")?)))
        .collect()
}

pub async fn evidence_dequeue(tx: &mut Conn, id: &str) -> Result<()> {
    sqlx::query("DELETE FROM evidence_queue WHERE id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub async fn insert_evidence_leaf(tx: &mut Conn, idx: i64, leaf_hash: &str, case_id: &str, record: &str, now: i64) -> Result<()> {
    sqlx::query("INSERT INTO evidence_leaves (idx, leaf_hash, case_id, record, sequenced_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(idx)
        .bind(leaf_hash)
        .bind(case_id)
        .bind(record)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub async fn insert_evidence_node(tx: &mut Conn, level: i64, idx: i64, hash: &str) -> Result<()> {
    sqlx::query("INSERT INTO evidence_nodes (level, idx, hash) VALUES ($1, $2, $3)")
        .bind(level)
        .bind(idx)
        .bind(hash)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub async fn evidence_node(tx: &mut Conn, level: i64, idx: i64) -> Result<Option<String>> {
    let row = sqlx::query("SELECT hash FROM evidence_nodes WHERE level = $1 AND idx = $2")
        .bind(level)
        .bind(idx)
        .fetch_optional(&mut **tx)
        .await?;
    Ok(match row {
        Some(r) => Some(r.try_get("hash")?),
        None => None,
    })
}

/// (idx, leaf hash, case, record)
pub async fn evidence_leaf(tx: &mut Conn, idx: i64) -> Result<Option<(i64, String, String, String)>> {
    let row = sqlx::query("SELECT idx, leaf_hash, case_id, record FROM evidence_leaves WHERE idx = $1")
        .bind(idx)
        .fetch_optional(&mut **tx)
        .await?;
    row.map(|r| Ok((r.try_get("idx")?, r.try_get("leaf_hash")?, r.try_get("case_id")?, r.try_get("record")?)))
        .transpose()
}

pub async fn evidence_leaf_by_hash(tx: &mut Conn, leaf_hash: &str) -> Result<Option<(i64, String, String, String)>> {
    let row = sqlx::query("SELECT idx, leaf_hash, case_id, record FROM evidence_leaves WHERE leaf_hash = $1")
        .bind(leaf_hash)
        .fetch_optional(&mut **tx)
        .await?;
    row.map(|r| Ok((r.try_get("idx")?, r.try_get("leaf_hash")?, r.try_get("case_id")?, r.try_get("record")?)))
        .transpose()
}

/// (size, root hex, signed note)
pub async fn latest_evidence_checkpoint(tx: &mut Conn) -> Result<Option<(i64, String, String)>> {
    let row = sqlx::query("SELECT size, root, note FROM evidence_checkpoints ORDER BY size DESC LIMIT 1")
        .fetch_optional(&mut **tx)
        .await?;
    row.map(|r| Ok((r.try_get("size")?, r.try_get("root")?, r.try_get("note")?)))
        .transpose()
}

pub async fn evidence_checkpoint(tx: &mut Conn, size: i64) -> Result<Option<(i64, String, String)>> {
    let row = sqlx::query("SELECT size, root, note FROM evidence_checkpoints WHERE size = $1")
        .bind(size)
        .fetch_optional(&mut **tx)
        .await?;
    row.map(|r| Ok((r.try_get("size")?, r.try_get("root")?, r.try_get("note")?)))
        .transpose()
}

pub async fn insert_evidence_checkpoint(tx: &mut Conn, size: i64, root: &str, note: &str, now: i64) -> Result<()> {
    sqlx::query("INSERT INTO evidence_checkpoints (size, root, note, created_at) VALUES ($1, $2, $3, $4)")
        .bind(size)
        .bind(root)
        .bind(note)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// An order event and the leaf it was logged as (every event is logged).
pub async fn insert_order_event(tx: &mut Conn, order: &OrderId, kind: &str, detail: &str, at: i64, leaf_hash: &str) -> Result<()> {
    sqlx::query(
        "INSERT INTO order_events (id, order_id, seq, kind, detail, at, leaf_hash) \
         VALUES ($1, $2, (SELECT COALESCE(MAX(seq), 0) + 1 FROM order_events WHERE order_id = $2), $3, $4, $5, $6)",
    )
    .bind(uuid::Uuid::now_v7().to_string())
    .bind(order.as_str())
    .bind(kind)
    .bind(detail)
    .bind(at)
    .bind(leaf_hash)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

// ---- complaints ----

fn complaint_from(r: &Row) -> Result<ComplaintRow> {
    Ok(ComplaintRow {
        id: r.try_get("id")?,
        order_id: OrderId::from_trusted(r.try_get("order_id")?),
        seller_id: UserId::from_trusted(r.try_get("seller_id")?),
        buyer_id: r.try_get::<Option<String>, _>("buyer_id")?.map(UserId::from_trusted),
        kind: r.try_get("kind")?,
        stage: r.try_get("stage")?,
        deadline_at: r.try_get("deadline_at")?,
        prior_order_status: r.try_get("prior_order_status")?,
        paused_remaining_ms: r.try_get("paused_remaining_ms")?,
        frozen_sources: r.try_get("frozen_sources")?,
        amount_minor: r.try_get("amount_minor")?,
        proposal: r.try_get("proposal")?,
        ruling: r.try_get("ruling")?,
        ruled_by: r.try_get("ruled_by")?,
        ruling_reason: r.try_get("ruling_reason")?,
        rule_version: r.try_get("rule_version")?,
        group_id: r.try_get("group_id")?,
        assigned_to: r.try_get("assigned_to")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        resolved_at: r.try_get("resolved_at")?,
    })
}

pub async fn insert_complaint(tx: &mut Conn, c: &ComplaintRow) -> Result<()> {
    sqlx::query(
        "INSERT INTO complaints (id, order_id, seller_id, buyer_id, kind, stage, deadline_at, prior_order_status, paused_remaining_ms, \
         frozen_sources, amount_minor, proposal, ruling, ruled_by, ruling_reason, rule_version, group_id, assigned_to, created_at, updated_at, resolved_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)",
    )
    .bind(&c.id)
    .bind(c.order_id.as_str())
    .bind(c.seller_id.as_str())
    .bind(c.buyer_id.as_ref().map(|b| b.as_str()))
    .bind(&c.kind)
    .bind(&c.stage)
    .bind(c.deadline_at)
    .bind(&c.prior_order_status)
    .bind(c.paused_remaining_ms)
    .bind(&c.frozen_sources)
    .bind(c.amount_minor)
    .bind(&c.proposal)
    .bind(&c.ruling)
    .bind(&c.ruled_by)
    .bind(&c.ruling_reason)
    .bind(c.rule_version)
    .bind(&c.group_id)
    .bind(&c.assigned_to)
    .bind(c.created_at)
    .bind(c.updated_at)
    .bind(c.resolved_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn complaint(tx: &mut Conn, id: &str, lock: bool) -> Result<Option<ComplaintRow>> {
    let sql = format!("SELECT * FROM complaints WHERE id = $1{}", if lock { DIALECT.for_update } else { "" });
    let row = sqlx::query(&sql).bind(id).fetch_optional(&mut **tx).await?;
    row.as_ref().map(complaint_from).transpose()
}

/// Writes what a transition may change.
pub async fn update_complaint(tx: &mut Conn, c: &ComplaintRow) -> Result<()> {
    sqlx::query(
        "UPDATE complaints SET stage = $2, deadline_at = $3, proposal = $4, ruling = $5, ruled_by = $6, ruling_reason = $7, \
         group_id = $8, updated_at = $9, resolved_at = $10, assigned_to = $11 WHERE id = $1",
    )
    .bind(&c.id)
    .bind(&c.stage)
    .bind(c.deadline_at)
    .bind(&c.proposal)
    .bind(&c.ruling)
    .bind(&c.ruled_by)
    .bind(&c.ruling_reason)
    .bind(&c.group_id)
    .bind(c.updated_at)
    .bind(c.resolved_at)
    .bind(&c.assigned_to)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn complaints_for_order(tx: &mut Conn, order: &OrderId) -> Result<Vec<ComplaintRow>> {
    let rows = sqlx::query("SELECT * FROM complaints WHERE order_id = $1 ORDER BY created_at")
        .bind(order.as_str())
        .fetch_all(&mut **tx)
        .await?;
    rows.iter().map(complaint_from).collect()
}

/// Open complaints, soonest deadline first (those without one last).
pub async fn complaint_queue(tx: &mut Conn, limit: i64) -> Result<Vec<ComplaintRow>> {
    let rows = sqlx::query(
        "SELECT * FROM complaints WHERE stage NOT IN ('resolved', 'withdrawn') \
         ORDER BY CASE WHEN deadline_at IS NULL THEN 1 ELSE 0 END, deadline_at, created_at LIMIT $1",
    )
    .bind(limit)
    .fetch_all(&mut **tx)
    .await?;
    rows.iter().map(complaint_from).collect()
}

/// Complaints of the collective kinds against a seller since a time.
pub async fn collective_complaints(tx: &mut Conn, seller: &UserId, since: i64) -> Result<Vec<ComplaintRow>> {
    let rows = sqlx::query(
        "SELECT * FROM complaints WHERE seller_id = $1 AND created_at >= $2 AND kind IN ('not_delivered', 'fraud') ORDER BY created_at",
    )
    .bind(seller.as_str())
    .bind(since)
    .fetch_all(&mut **tx)
    .await?;
    rows.iter().map(complaint_from).collect()
}

pub async fn open_complaints_in_group(tx: &mut Conn, group_id: &str) -> Result<Vec<ComplaintRow>> {
    let sql = format!(
        "SELECT * FROM complaints WHERE group_id = $1 AND stage NOT IN ('resolved', 'withdrawn') ORDER BY created_at{}",
        DIALECT.for_update
    );
    let rows = sqlx::query(&sql).bind(group_id).fetch_all(&mut **tx).await?;
    rows.iter().map(complaint_from).collect()
}

pub async fn open_complaints_of_seller(tx: &mut Conn, seller: &UserId) -> Result<Vec<ComplaintRow>> {
    let rows = sqlx::query(
        "SELECT * FROM complaints WHERE seller_id = $1 AND stage NOT IN ('resolved', 'withdrawn') ORDER BY created_at",
    )
    .bind(seller.as_str())
    .fetch_all(&mut **tx)
    .await?;
    rows.iter().map(complaint_from).collect()
}

pub async fn insert_complaint_event(tx: &mut Conn, complaint_id: &str, kind: &str, detail: &str, at: i64, leaf_hash: &str) -> Result<()> {
    sqlx::query(
        "INSERT INTO complaint_events (id, complaint_id, seq, kind, detail, at, leaf_hash) \
         VALUES ($1, $2, (SELECT COALESCE(MAX(seq), 0) + 1 FROM complaint_events WHERE complaint_id = $2), $3, $4, $5, $6)",
    )
    .bind(uuid::Uuid::now_v7().to_string())
    .bind(complaint_id)
    .bind(kind)
    .bind(detail)
    .bind(at)
    .bind(leaf_hash)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn complaint_events(tx: &mut Conn, complaint_id: &str) -> Result<Vec<ComplaintEventRow>> {
    let rows = sqlx::query("SELECT * FROM complaint_events WHERE complaint_id = $1 ORDER BY seq")
        .bind(complaint_id)
        .fetch_all(&mut **tx)
        .await?;
    rows.iter()
        .map(|r| {
            Ok(ComplaintEventRow {
                id: r.try_get("id")?,
                complaint_id: r.try_get("complaint_id")?,
                seq: r.try_get("seq")?,
                kind: r.try_get("kind")?,
                detail: r.try_get("detail")?,
                at: r.try_get("at")?,
                leaf_hash: r.try_get("leaf_hash")?,
            })
        })
        .collect()
}

pub async fn insert_complaint_evidence(tx: &mut Conn, e: &ComplaintEvidenceRow) -> Result<()> {
    sqlx::query(
        "INSERT INTO complaint_evidence (id, complaint_id, party, kind, body, file_sha256, media_type, size_bytes, leaf_hash, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(&e.id)
    .bind(&e.complaint_id)
    .bind(&e.party)
    .bind(&e.kind)
    .bind(&e.body)
    .bind(&e.file_sha256)
    .bind(&e.media_type)
    .bind(e.size_bytes)
    .bind(&e.leaf_hash)
    .bind(e.created_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn complaint_evidence(tx: &mut Conn, complaint_id: &str) -> Result<Vec<ComplaintEvidenceRow>> {
    let rows = sqlx::query("SELECT * FROM complaint_evidence WHERE complaint_id = $1 ORDER BY created_at, id")
        .bind(complaint_id)
        .fetch_all(&mut **tx)
        .await?;
    rows.iter()
        .map(|r| {
            Ok(ComplaintEvidenceRow {
                id: r.try_get("id")?,
                complaint_id: r.try_get("complaint_id")?,
                party: r.try_get("party")?,
                kind: r.try_get("kind")?,
                body: r.try_get("body")?,
                file_sha256: r.try_get("file_sha256")?,
                media_type: r.try_get("media_type")?,
                size_bytes: r.try_get("size_bytes")?,
                leaf_hash: r.try_get("leaf_hash")?,
                created_at: r.try_get("created_at")?,
            })
        })
        .collect()
}

pub async fn seller_standing(tx: &mut Conn, seller: &UserId, lock: bool) -> Result<Option<SellerStandingRow>> {
    let sql = format!("SELECT * FROM seller_standing WHERE seller_id = $1{}", if lock { DIALECT.for_update } else { "" });
    let row = sqlx::query(&sql).bind(seller.as_str()).fetch_optional(&mut **tx).await?;
    row.map(|r| {
        Ok(SellerStandingRow {
            seller_id: UserId::from_trusted(r.try_get("seller_id")?),
            status: r.try_get("status")?,
            reason: r.try_get("reason")?,
            frozen_available_minor: r.try_get("frozen_available_minor")?,
            updated_at: r.try_get("updated_at")?,
        })
    })
    .transpose()
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

// ---- withdrawals ----

/// (id, seller, provider, amount, status)
pub async fn insert_withdrawal(tx: &mut Conn, id: &str, seller: &UserId, provider: &str, amount_minor: i64, now: i64) -> Result<()> {
    sqlx::query("INSERT INTO withdrawals (id, seller_id, provider, amount_minor, status, created_at, settled_at) VALUES ($1, $2, $3, $4, 'requested', $5, NULL)")
        .bind(id)
        .bind(seller.as_str())
        .bind(provider)
        .bind(amount_minor)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub async fn withdrawal(tx: &mut Conn, id: &str, lock: bool) -> Result<Option<(String, String, String, i64, String)>> {
    let sql = format!("SELECT id, seller_id, provider, amount_minor, status FROM withdrawals WHERE id = $1{}", if lock { DIALECT.for_update } else { "" });
    let row = sqlx::query(&sql).bind(id).fetch_optional(&mut **tx).await?;
    row.map(|r| Ok((r.try_get("id")?, r.try_get("seller_id")?, r.try_get("provider")?, r.try_get("amount_minor")?, r.try_get("status")?)))
        .transpose()
}

pub async fn settle_withdrawal(tx: &mut Conn, id: &str, status: &str, now: i64) -> Result<()> {
    sqlx::query("UPDATE withdrawals SET status = $2, settled_at = $3 WHERE id = $1")
        .bind(id)
        .bind(status)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    Ok(())
}
