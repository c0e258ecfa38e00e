// SQL for payer identities, collective reviews and seller contacts (issue 8 items 3 and 4).
// Included into `mod sqlite` and `mod postgres` by lib.rs; see common.rs.

/// What the entries of one order moved on one account (raw: debits − credits): e.g. how
/// much of an order's release still sits in the seller's reserve.
pub async fn order_account_sum(tx: &mut Conn, order: &OrderId, account: &Account) -> Result<i64> {
    let row = sqlx::query(
        "SELECT CAST(COALESCE(SUM(p.amount_minor), 0) AS BIGINT) AS total FROM postings p \
         JOIN journal_entries e ON e.id = p.entry_id WHERE e.order_id = $1 AND p.account = $2",
    )
    .bind(order.as_str())
    .bind(account.to_string())
    .fetch_one(&mut **tx)
    .await?;
    Ok(row.try_get("total")?)
}

pub async fn set_payment_payer(tx: &mut Conn, payment_id: &str, payer_id: &str) -> Result<()> {
    sqlx::query("UPDATE payments SET payer_id = $2 WHERE id = $1")
        .bind(payment_id)
        .bind(payer_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// A seller's not_delivered and fraud complaints since `since`, each with the payer of
/// its order's captured payment, the guest contact and the buyer account's age.
pub async fn collective_complainants(tx: &mut Conn, seller: &UserId, since: i64) -> Result<Vec<ComplainantRow>> {
    let rows = sqlx::query(
        "SELECT c.id, c.amount_minor, c.group_id, o.guest_contact, c.buyer_id, u.created_at AS account_created_at, \
         (SELECT p.payer_id FROM payments p WHERE p.order_id = c.order_id AND p.outcome LIKE 'captured%' \
          ORDER BY p.received_at LIMIT 1) AS payer_id \
         FROM complaints c JOIN orders o ON o.id = c.order_id LEFT JOIN users u ON u.id = c.buyer_id \
         WHERE c.seller_id = $1 AND c.created_at >= $2 AND c.kind IN ('not_delivered', 'fraud') ORDER BY c.created_at",
    )
    .bind(seller.as_str())
    .bind(since)
    .fetch_all(&mut **tx)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(ComplainantRow {
                complaint_id: ComplaintId::from_trusted(r.try_get("id")?),
                amount: Money::from_minor(r.try_get("amount_minor")?),
                payer_id: r.try_get("payer_id")?,
                guest_contact: r.try_get("guest_contact")?,
                buyer_id: r.try_get::<Option<String>, _>("buyer_id")?.map(UserId::from_trusted),
                account_created_at: r.try_get("account_created_at")?,
                group_id: r.try_get("group_id")?,
            })
        })
        .collect()
}

fn review_from(r: &Row) -> Result<CollectiveReviewRow> {
    Ok(CollectiveReviewRow {
        group_id: r.try_get("group_id")?,
        seller_id: UserId::from_trusted(r.try_get("seller_id")?),
        people: r.try_get("people")?,
        amount: Money::from_minor(r.try_get("amount_minor")?),
        opened_at: r.try_get("opened_at")?,
        review_due_at: r.try_get("review_due_at")?,
        status: r.try_get("status")?,
        decided_by: r.try_get("decided_by")?,
        decided_at: r.try_get("decided_at")?,
    })
}

/// Records a review; a group already under review keeps its first one.
pub async fn insert_collective_review(tx: &mut Conn, v: &CollectiveReviewRow) -> Result<bool> {
    let done = sqlx::query(
        "INSERT INTO collective_reviews (group_id, seller_id, people, amount_minor, opened_at, review_due_at, status, decided_by, decided_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (group_id) DO NOTHING",
    )
    .bind(&v.group_id)
    .bind(v.seller_id.as_str())
    .bind(v.people)
    .bind(v.amount.minor())
    .bind(v.opened_at)
    .bind(v.review_due_at)
    .bind(&v.status)
    .bind(&v.decided_by)
    .bind(v.decided_at)
    .execute(&mut **tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn collective_review(tx: &mut Conn, group_id: &str, lock: bool) -> Result<Option<CollectiveReviewRow>> {
    let sql = format!(
        "SELECT * FROM collective_reviews WHERE group_id = $1{}",
        if lock { DIALECT.for_update } else { "" }
    );
    let row = sqlx::query(&sql).bind(group_id).fetch_optional(&mut **tx).await?;
    row.as_ref().map(review_from).transpose()
}

/// Reviews still waiting for a person (pending, or escalated past their deadline).
pub async fn undecided_collective_reviews(tx: &mut Conn, seller: Option<&UserId>) -> Result<Vec<CollectiveReviewRow>> {
    let sql = format!(
        "SELECT * FROM collective_reviews WHERE status IN ('pending', 'escalated'){} ORDER BY review_due_at{}",
        if seller.is_some() { " AND seller_id = $1" } else { "" },
        if seller.is_some() { DIALECT.for_update } else { "" }
    );
    let mut q = sqlx::query(&sql);
    if let Some(s) = seller {
        q = q.bind(s.as_str());
    }
    let rows = q.fetch_all(&mut **tx).await?;
    rows.iter().map(review_from).collect()
}

pub async fn set_collective_review_status(
    tx: &mut Conn,
    group_id: &str,
    status: &str,
    decided_by: Option<&str>,
    at: Option<i64>,
) -> Result<()> {
    sqlx::query("UPDATE collective_reviews SET status = $2, decided_by = $3, decided_at = $4 WHERE group_id = $1")
        .bind(group_id)
        .bind(status)
        .bind(decided_by)
        .bind(at)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub async fn set_user_contact(tx: &mut Conn, user: &UserId, contact: &str) -> Result<()> {
    sqlx::query("UPDATE users SET contact = $2 WHERE id = $1")
        .bind(user.as_str())
        .bind(contact)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub async fn user_contact(tx: &mut Conn, user: &UserId) -> Result<Option<String>> {
    let row = sqlx::query("SELECT contact FROM users WHERE id = $1")
        .bind(user.as_str())
        .fetch_optional(&mut **tx)
        .await?;
    Ok(match row {
        Some(r) => r.try_get("contact")?,
        None => None,
    })
}

pub async fn set_user_payout_account(tx: &mut Conn, user: &UserId, account: &str) -> Result<()> {
    sqlx::query("UPDATE users SET payout_account = $2 WHERE id = $1")
        .bind(user.as_str())
        .bind(account)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

pub async fn user_payout_account(tx: &mut Conn, user: &UserId) -> Result<Option<String>> {
    let row = sqlx::query("SELECT payout_account FROM users WHERE id = $1")
        .bind(user.as_str())
        .fetch_optional(&mut **tx)
        .await?;
    Ok(match row {
        Some(r) => r.try_get("payout_account")?,
        None => None,
    })
}
