// SQL for orders. Included into `mod sqlite` and `mod postgres` by lib.rs; see common.rs.

fn order_from(r: &Row) -> Result<OrderRow> {
    let status: String = r.try_get("status")?;
    Ok(OrderRow {
        id: OrderId::from_trusted(r.try_get("id")?),
        number: r.try_get("number")?,
        product_id: ProductId::from_trusted(r.try_get("product_id")?),
        seller_id: UserId::from_trusted(r.try_get("seller_id")?),
        buyer_id: r.try_get::<Option<String>, _>("buyer_id")?.map(UserId::from_trusted),
        guest_contact: r.try_get("guest_contact")?,
        guest_password_hash: r.try_get("guest_password_hash")?,
        quantity: r.try_get("quantity")?,
        unit_price: Money::from_minor(r.try_get("unit_price_minor")?),
        amount: Money::from_minor(r.try_get("amount_minor")?),
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
         created_at, expires_at, paid_at, delivered_at, deliver_by, auto_confirm_at, completed_at, updated_at, number) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25)",
    )
    .bind(o.id.as_str())
    .bind(o.product_id.as_str())
    .bind(o.seller_id.as_str())
    .bind(o.buyer_id.as_ref().map(|b| b.as_str()))
    .bind(&o.guest_contact)
    .bind(&o.guest_password_hash)
    .bind(o.quantity)
    .bind(o.unit_price.minor())
    .bind(o.amount.minor())
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
    .bind(&o.number)
    .execute(&mut **tx)
    .await
    .map_err(|e| StoreError::from_insert(e, "order"))?;
    Ok(())
}

/// The order with this order number (`DB20261130-7K3Q9`), if any.
pub async fn order_by_number(tx: &mut Conn, number: &str) -> Result<Option<OrderRow>> {
    let row = sqlx::query("SELECT * FROM orders WHERE number = $1")
        .bind(number)
        .fetch_optional(&mut **tx)
        .await?;
    row.as_ref().map(order_from).transpose()
}

/// A guest's newest orders by their normalised contact (as recorded at checkout), for
/// 查单 without an order number.
pub async fn guest_orders_by_contact(tx: &mut Conn, contact: &str, limit: i64) -> Result<Vec<OrderRow>> {
    let rows = sqlx::query(
        "SELECT * FROM orders WHERE client_contact = $1 AND buyer_id IS NULL ORDER BY created_at DESC LIMIT $2",
    )
    .bind(contact)
    .bind(limit)
    .fetch_all(&mut **tx)
    .await?;
    rows.iter().map(order_from).collect()
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

pub async fn order_statuses(tx: &mut Conn) -> Result<Vec<OrderStatusRow>> {
    let rows = sqlx::query("SELECT id, status FROM orders").fetch_all(&mut **tx).await?;
    rows.iter()
        .map(|r| {
            Ok(OrderStatusRow {
                order_id: OrderId::from_trusted(r.try_get("id")?),
                status: r.try_get("status")?,
            })
        })
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
