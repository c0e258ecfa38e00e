// SQL for the notification outbox. Included into `mod sqlite` and `mod postgres` by lib.rs.

fn notification_from(r: &Row) -> Result<NotificationRow> {
    Ok(NotificationRow {
        id: r.try_get("id")?,
        recipient: r.try_get("recipient")?,
        kind: r.try_get("kind")?,
        subject_id: r.try_get("subject_id")?,
        detail: r.try_get("detail")?,
        created_at: r.try_get("created_at")?,
        sent_at: r.try_get("sent_at")?,
        channel: r.try_get("channel")?,
    })
}

pub async fn insert_notification(tx: &mut Conn, n: &NotificationRow) -> Result<()> {
    sqlx::query(
        "INSERT INTO notifications (id, recipient, kind, subject_id, detail, created_at, sent_at, channel) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&n.id)
    .bind(&n.recipient)
    .bind(&n.kind)
    .bind(&n.subject_id)
    .bind(&n.detail)
    .bind(n.created_at)
    .bind(n.sent_at)
    .bind(&n.channel)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn notification(tx: &mut Conn, id: &str) -> Result<Option<NotificationRow>> {
    let row = sqlx::query("SELECT * FROM notifications WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?;
    row.as_ref().map(notification_from).transpose()
}

/// Records the delivery, once: a second delivery of the same notification changes nothing.
pub async fn mark_notification_sent(tx: &mut Conn, id: &str, channel: &str, at: i64) -> Result<bool> {
    let done = sqlx::query("UPDATE notifications SET sent_at = $2, channel = $3 WHERE id = $1 AND sent_at IS NULL")
        .bind(id)
        .bind(at)
        .bind(channel)
        .execute(&mut **tx)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// The newest notifications for any of these recipients (a user id, "role:admin").
pub async fn notifications_for(tx: &mut Conn, recipients: &[String], limit: i64) -> Result<Vec<NotificationRow>> {
    let mut out = Vec::new();
    for recipient in recipients {
        let rows = sqlx::query("SELECT * FROM notifications WHERE recipient = $1 ORDER BY created_at DESC, id DESC LIMIT $2")
            .bind(recipient)
            .bind(limit)
            .fetch_all(&mut **tx)
            .await?;
        for r in &rows {
            out.push(notification_from(r)?);
        }
    }
    out.sort_by(|a: &NotificationRow, b: &NotificationRow| b.created_at.cmp(&a.created_at).then_with(|| b.id.cmp(&a.id)));
    out.truncate(usize::try_from(limit).unwrap_or(0));
    Ok(out)
}
