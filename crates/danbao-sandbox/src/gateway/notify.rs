//! Notification delivery, as a real gateway does it: POST the signed notification to the
//! merchant's notify_url, count it delivered only when the merchant answers `success`, and
//! otherwise resend on Alipay's schedule. The fault knobs act here, once per attempt.

use std::time::Duration;

use rand::Rng;
use reqwest::header::CONTENT_TYPE;
use time::OffsetDateTime;

use super::state::{rfc3339, PaymentRail};
use super::Sandbox;
use crate::wire::{sign, Notification, NotificationAttempt, SIGNATURE_HEADER};

/// Alipay's resend schedule, each delay counted from the previous attempt: 4 min, 10 min,
/// 10 min, 1 h, 2 h, 6 h, 15 h. After the last one the gateway gives up.
pub(crate) const RESEND_SCHEDULE_S: [u64; 7] = [240, 600, 600, 3_600, 7_200, 21_600, 54_000];
/// A merchant that has not answered by then is counted as not acknowledging.
pub(crate) const NOTIFY_TIMEOUT_MS: u64 = 10_000;
/// The reorder knob holds an attempt back by up to this much (real time) on top of any
/// delay, enough for a later attempt to overtake it.
const REORDER_EXTRA_MS_MAX: u64 = 500;
/// Only the start of a merchant's answer is read and recorded: `success` is 7 bytes.
const RESPONSE_BYTES_MAX: usize = 1_024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Delivery {
    Acknowledged,
    NotAcknowledged,
    /// The payment is unknown or unpaid: nothing to send.
    Nothing,
}

/// Sends the notification for a newly paid payment and resends it on the schedule until the
/// merchant acknowledges it (by this attempt or any other, such as a manual resend).
pub(crate) async fn deliver_on_schedule(sandbox: Sandbox, payment_id: String) {
    deliver_from(sandbox, payment_id, 0, Duration::ZERO).await;
}

/// The schedule from scheduled attempt `first_step` on (0 = the first send), the first of
/// them after `first_wait`: a gateway restarted in the middle of a schedule resumes it here.
/// Each attempt is marked in the gateway's books before it is made.
pub(crate) async fn deliver_from(sandbox: Sandbox, payment_id: String, first_step: usize, first_wait: Duration) {
    for step in first_step..=RESEND_SCHEDULE_S.len() {
        let wait = if step == first_step {
            first_wait
        } else {
            RESEND_SCHEDULE_S
                .get(step - 1)
                .map_or(Duration::ZERO, |s| sandbox.scaled(*s))
        };
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        if step > 0 && sandbox.is_acknowledged(&payment_id) {
            return;
        }
        sandbox.mark_scheduled(&payment_id, step);
        match send_once(&sandbox, &payment_id).await {
            Delivery::Acknowledged | Delivery::Nothing => return,
            Delivery::NotAcknowledged => {
                tracing::debug!(%payment_id, attempt = step, "notification not acknowledged");
            }
        }
    }
    tracing::warn!(%payment_id, "notification never acknowledged; the gateway gives up");
}

/// One extra send, as a merchant dashboard's "resend" button does.
pub(crate) async fn deliver_once(sandbox: Sandbox, payment_id: String) {
    send_once(&sandbox, &payment_id).await;
}

/// One attempt, with a fresh notify_id, under the fault knobs as they are now.
async fn send_once(sandbox: &Sandbox, payment_id: &str) -> Delivery {
    let faults = sandbox.faults();
    let notify_id = format!("ntf_{}", uuid::Uuid::now_v7().simple());
    let Some((mut notification, notify_url, rail, subject)) = sandbox.notification_for(payment_id, &notify_id) else {
        return Delivery::Nothing;
    };
    let rail_kind = rail.clone();
    let record = |outcome: String| {
        sandbox.record_attempt(
            payment_id,
            NotificationAttempt {
                notify_id: notify_id.clone(),
                at: rfc3339(OffsetDateTime::now_utc()),
                outcome,
            },
        );
    };

    if faults.down {
        record("error: gateway down, not sent".to_owned());
        return Delivery::NotAcknowledged;
    }
    if roll(faults.drop_pct) {
        record("dropped".to_owned());
        return Delivery::NotAcknowledged;
    }
    let mut wait_ms = random_up_to(faults.delay_ms_max);
    if faults.reorder {
        wait_ms = wait_ms.saturating_add(random_up_to(REORDER_EXTRA_MS_MAX));
    }
    if wait_ms > 0 {
        tokio::time::sleep(Duration::from_millis(wait_ms)).await;
    }
    if roll(faults.tamper_amount_pct) {
        // The gateway itself lies about the amount and signs the lie: only comparing with
        // the merchant's own order amount can catch it.
        notification.amount_minor = if rand::thread_rng().gen_bool(0.5) {
            notification.amount_minor.saturating_add(1)
        } else {
            0
        };
    }
    let request = match request_for(sandbox, rail, &notification, subject, &notify_url) {
        Ok(request) => request,
        Err(why) => {
            record(format!("error: {why}"));
            return Delivery::NotAcknowledged;
        }
    };
    let acknowledges = acknowledgement_of(rail_kind);
    let send = || {
        let copy = request.try_clone();
        async move {
            match copy {
                Some(req) => send_notification(req, acknowledges).await,
                None => "error: the request cannot be repeated".to_owned(),
            }
        }
    };

    let outcomes = if roll(faults.duplicate_pct) {
        // Both copies race, as two gateway workers would.
        let (a, b) = tokio::join!(send(), send());
        vec![a, b]
    } else {
        vec![send().await]
    };
    let mut delivery = Delivery::NotAcknowledged;
    for outcome in outcomes {
        if outcome == "acknowledged" {
            delivery = Delivery::Acknowledged;
        }
        tracing::debug!(%payment_id, %outcome, "notification attempt");
        record(outcome);
    }
    delivery
}

/// The notification as the payment's personality words and signs it, ready to send to
/// the merchant's `notify_url`. The wording is each personality's own (its module); the
/// fault knobs have already acted on `notification`.
fn request_for(
    sandbox: &Sandbox,
    rail: PaymentRail,
    notification: &Notification,
    subject: String,
    notify_url: &str,
) -> Result<reqwest::RequestBuilder, String> {
    match rail {
        PaymentRail::Sandbox => {
            let body = serde_json::to_vec(notification).map_err(|e| format!("could not encode notification: {e}"))?;
            let signature = sign(&sandbox.inner.merchant_key, &body);
            Ok(sandbox
                .inner
                .http
                .post(notify_url)
                .header(CONTENT_TYPE, "application/json")
                .header(SIGNATURE_HEADER, signature)
                .body(body))
        }
        PaymentRail::Epay { pid, pay_type } => {
            super::epay::notification_request(sandbox, pid, pay_type, notification, subject, notify_url)
        }
        PaymentRail::Alipay { .. } => super::alipay::notification_request(sandbox, notification, subject, notify_url),
        PaymentRail::EpayV2 { pid, pay_type, param } => super::epay_v2::notification_request(
            sandbox,
            super::epay_v2::NotifiedPayment {
                pid,
                pay_type,
                param,
                subject,
            },
            notification,
            notify_url,
        ),
        PaymentRail::Wechat { .. } => super::wechat::notification_request(sandbox, notification, notify_url),
    }
}

/// Whether a merchant's answer (status, the start of its body) acknowledges the
/// notification, by the personality's rule.
type Acknowledges = fn(reqwest::StatusCode, &str) -> bool;

fn acknowledgement_of(rail: PaymentRail) -> Acknowledges {
    match rail {
        // The sandbox's own rule is Alipay's and 易支付's (V1 and V2): a 200 whose body
        // is `success` (Alipay: the seven characters, nothing else but surrounding white space).
        PaymentRail::Sandbox | PaymentRail::Epay { .. } | PaymentRail::EpayV2 { .. } | PaymentRail::Alipay { .. } => {
            |status, body| status == reqwest::StatusCode::OK && body.trim() == "success"
        }
        // WeChat Pay's: a 200 or a 204, whatever the body; a 4xx or 5xx is sent again.
        PaymentRail::Wechat { .. } => |status, _| danbao_rails::wechat::is_acknowledged(status.as_u16()),
    }
}

/// Sends one copy; returns the attempt's recorded outcome.
async fn send_notification(request: reqwest::RequestBuilder, acknowledges: Acknowledges) -> String {
    let sent = request.send().await;
    let mut response = match sent {
        Ok(response) => response,
        Err(e) => return format!("error: {e}"),
    };
    let status = response.status();
    let mut answer = Vec::new();
    while answer.len() < RESPONSE_BYTES_MAX {
        match response.chunk().await {
            Ok(Some(chunk)) => answer.extend_from_slice(&chunk),
            Ok(None) => break,
            Err(e) => return format!("error: reading the answer: {e}"),
        }
    }
    answer.truncate(RESPONSE_BYTES_MAX);
    let answer = String::from_utf8_lossy(&answer);
    if acknowledges(status, &answer) {
        "acknowledged".to_owned()
    } else {
        format!("rejected: http {}, body {:?}", status.as_u16(), answer.trim())
    }
}

/// True with probability `pct`/100.
fn roll(pct: u8) -> bool {
    pct > 0 && rand::thread_rng().gen_range(0u8..100) < pct
}

fn random_up_to(max: u64) -> u64 {
    if max == 0 {
        0
    } else {
        rand::thread_rng().gen_range(0..=max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roll_is_never_at_zero_and_always_at_hundred() {
        assert!((0..1000).all(|_| !roll(0)));
        assert!((0..1000).all(|_| roll(100)));
    }

    #[test]
    fn the_schedule_adds_up_to_about_a_day_and_a_half() {
        let total_s: u64 = RESEND_SCHEDULE_S.iter().sum();
        assert_eq!(total_s, 24 * 60 + 3 * 3_600 + 6 * 3_600 + 15 * 3_600);
    }
}
