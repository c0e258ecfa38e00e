//! Notifications (an outbox): the use case that decides someone must be told writes the
//! notification in its own transaction; a job delivers it through the configured channel
//! and records the delivery. The channel is pluggable; the default writes each one to the
//! log, where an operator's log shipper can route it.
//!
//! Two kinds today: `seller_delivery_reminder` (a manual order still undelivered when the
//! buyer may escalate, SPEC §6), with `buyer_may_escalate` to the buyer; and
//! `arbitration_overdue` to the admins (a case past the platform's time limit).

use crate::auth::{Caller, Role};
use crate::clock::rfc3339;
use crate::jobs::{Job, JobFailure};
use crate::{App, AppError, AppResult};
use danbao_domain::{OrderId, OrderStatus};
use danbao_store::{NotificationRow, Tx};
use futures::future::BoxFuture;
use serde::Serialize;

/// Who receives the admins' notifications.
pub const ADMINS: &str = "role:admin";

/// One notification, as a channel sends it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Notification {
    pub id: String,
    /// A user id, or `role:admin`.
    pub recipient: String,
    pub kind: String,
    /// The order or complaint it is about.
    pub subject_id: String,
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
    pub created_at: String,
    pub sent_at: Option<String>,
}

impl Notification {
    fn of(row: NotificationRow) -> Notification {
        Notification {
            detail: serde_json::from_str(&row.detail).unwrap_or(serde_json::Value::Null),
            id: row.id,
            recipient: row.recipient,
            kind: row.kind,
            subject_id: row.subject_id,
            created_at: rfc3339(row.created_at),
            sent_at: row.sent_at.map(rfc3339),
        }
    }
}

/// Where notifications go: e-mail, SMS, a chat bot. A channel that fails is retried
/// with the job's backoff; one that succeeds is not called again for that notification.
pub trait NotificationChannel: Send + Sync + 'static {
    fn name(&self) -> &'static str;
    fn send<'a>(&'a self, n: &'a Notification) -> BoxFuture<'a, Result<(), String>>;
}

/// The default channel: one structured log line per notification.
pub struct LogChannel;

impl NotificationChannel for LogChannel {
    fn name(&self) -> &'static str {
        "log"
    }

    fn send<'a>(&'a self, n: &'a Notification) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            tracing::info!(
                target: "danbao::notify",
                id = %n.id, recipient = %n.recipient, kind = %n.kind, subject = %n.subject_id,
                detail = %n.detail, "notification"
            );
            Ok(())
        })
    }
}

impl App {
    /// Writes a notification into the outbox, in the caller's transaction, and queues its
    /// delivery.
    pub(crate) async fn notify(
        &self,
        tx: &mut Tx,
        recipient: &str,
        kind: &str,
        subject_id: &str,
        detail: serde_json::Value,
        now: i64,
    ) -> AppResult<()> {
        let id = uuid::Uuid::now_v7().to_string();
        tx.insert_notification(&NotificationRow {
            id: id.clone(),
            recipient: recipient.to_string(),
            kind: kind.to_string(),
            subject_id: subject_id.to_string(),
            detail: detail.to_string(),
            created_at: now,
            sent_at: None,
            channel: None,
        })
        .await?;
        Job::Notify(id).enqueue(tx, now, now).await
    }

    /// The job: send through the channel, then record it. A crash between the two sends
    /// it again (at least once); a notification recorded as sent is never sent again.
    pub(crate) async fn deliver_notification(&self, id: &str) -> Result<(), JobFailure> {
        let row = self
            .retrying(|| async {
                let mut tx = self.store.begin().await?;
                let row = tx.notification(id).await?;
                tx.commit().await?;
                Ok(row)
            })
            .await?;
        let Some(row) = row else {
            return Err(JobFailure::Permanent(format!("notification {id} does not exist")));
        };
        if row.sent_at.is_some() {
            return Ok(());
        }
        let channel = self.notification_channel();
        channel.send(&Notification::of(row)).await.map_err(JobFailure::Retry)?;
        let now = self.now();
        self.retrying(|| async {
            let mut tx = self.store.begin().await?;
            tx.mark_notification_sent(id, channel.name(), now).await?;
            tx.commit().await?;
            Ok(())
        })
        .await?;
        Ok(())
    }

    /// The caller's notifications (an admin's include the admins' own), newest first.
    pub async fn notifications(&self, caller: &Caller) -> AppResult<Vec<Notification>> {
        let user = caller.user().ok_or(AppError::Unauthenticated)?;
        let mut recipients = vec![user.id.to_string()];
        if user.role == Role::Admin {
            recipients.push(ADMINS.to_string());
        }
        let mut tx = self.store.begin().await?;
        let rows = tx.notifications_for(&recipients, 50).await?;
        tx.commit().await?;
        Ok(rows.into_iter().map(Notification::of).collect())
    }

    /// Reminds the seller of a manual order still undelivered when the buyer may escalate
    /// (the rule set's `not_delivered_after_hours`), and tells the buyer they may now open
    /// `not_delivered` with one click. Moot once the order moved on.
    pub(crate) async fn delivery_reminder(&self, id: &OrderId) -> AppResult<()> {
        self.retrying(|| async {
            let now = self.now();
            let mut tx = self.store.begin().await?;
            let Some(order) = tx.order(id, false).await? else {
                return Ok(());
            };
            if order.status != OrderStatus::Paid || order.delivery_kind != "manual" {
                return Ok(());
            }
            let detail = serde_json::json!({
                "order_id": order.id.to_string(), "number": order.number,
                "paid_at": order.paid_at.map(rfc3339), "deliver_by": order.deliver_by.map(rfc3339),
            });
            self.notify(
                &mut tx,
                order.seller_id.as_str(),
                "seller_delivery_reminder",
                order.id.as_str(),
                detail.clone(),
                now,
            )
            .await?;
            if let Some(buyer) = &order.buyer_id {
                self.notify(
                    &mut tx,
                    buyer.as_str(),
                    "buyer_may_escalate",
                    order.id.as_str(),
                    detail,
                    now,
                )
                .await?;
            }
            tx.commit().await?;
            Ok(())
        })
        .await
    }
}
