//! What `/metrics` reports, in Prometheus's text format.
//!
//! Two kinds of figures. This process's own counts (requests and their latencies by route,
//! notifications by outcome, jobs run by kind and outcome) are kept in a recorder of this
//! `App`'s own — not the `metrics` crate's global one, so that several servers in one
//! process (the tests) keep separate counts. The state of the whole platform (jobs waiting
//! by kind and status and how late the oldest is, the last ledger check, the evidence log's
//! size and its last checkpoint's age) is read from the database at each scrape, so every
//! process behind a load balancer reports the same, current values.

use crate::{App, AppResult};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusRecorder};

/// Request latency buckets (seconds): the order path's steps sit between 5 ms and 1 s.
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

pub struct Metrics {
    recorder: PrometheusRecorder,
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        // Buckets for one full-name matcher are refused only when empty; should that ever
        // change, the latency is a summary instead of a histogram rather than no metrics.
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Full("danbao_http_request_duration_seconds".into()),
                LATENCY_BUCKETS,
            )
            .unwrap_or_else(|_| PrometheusBuilder::new());
        Metrics {
            recorder: builder.build_recorder(),
        }
    }

    /// One HTTP request answered. `route` is the route's pattern (`/api/v1/orders/{id}`),
    /// never the path itself, so that ids do not make a series each.
    pub fn http_request(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let labels = [
            ("method", method.to_string()),
            ("route", route.to_string()),
            ("status", status.to_string()),
        ];
        metrics::with_local_recorder(&self.recorder, || {
            metrics::counter!("danbao_http_requests_total", &labels).increment(1);
            metrics::histogram!(
                "danbao_http_request_duration_seconds",
                "method" => method.to_string(),
                "route" => route.to_string()
            )
            .record(seconds);
        });
    }

    /// A payment notification (or an active query's or a statement's payment) handled,
    /// counted once its outcome is committed: `captured`, `captured_late`,
    /// `refund_unaccepted`, `amount_mismatch`, `duplicate`, or refused before anything
    /// was stored (`bad_signature`, `malformed`).
    pub fn payment_notification(&self, rail: &str, source: &str, outcome: &str) {
        let labels = [
            ("rail", rail.to_string()),
            ("source", source.to_string()),
            ("outcome", outcome.to_string()),
        ];
        metrics::with_local_recorder(&self.recorder, || {
            metrics::counter!("danbao_payment_notifications_total", &labels).increment(1);
        });
    }

    /// A job run by this process: `done`, `retry` (failed, to run again) or `dead`.
    pub fn job_run(&self, kind: &str, outcome: &str) {
        let labels = [("kind", kind.to_string()), ("outcome", outcome.to_string())];
        metrics::with_local_recorder(&self.recorder, || {
            metrics::counter!("danbao_jobs_run_total", &labels).increment(1);
        });
    }

    fn render_own(&self) -> String {
        self.recorder.handle().render()
    }
}

impl App {
    /// The whole `/metrics` text: this process's counts, then the platform's state read
    /// from the database now.
    pub async fn metrics_text(&self) -> AppResult<String> {
        let now = self.now();
        let mut tx = self.store.begin_read().await?;
        let jobs = tx.job_queue_stats(now).await?;
        let last_check = tx.latest_ledger_check().await?;
        let (log_size, log_queued) = tx.evidence_log_size().await?;
        let checkpoint = tx.latest_checkpoint_made().await?;
        tx.commit().await?;

        let state = PrometheusBuilder::new().build_recorder();
        metrics::with_local_recorder(&state, || {
            for j in &jobs {
                let labels = [("kind", j.kind.clone()), ("status", j.status.clone())];
                metrics::gauge!("danbao_jobs", &labels).set(j.count as f64);
                if let Some(due) = j.oldest_due {
                    metrics::gauge!("danbao_jobs_oldest_due_age_seconds", &labels).set(seconds(now - due));
                }
            }
            metrics::gauge!("danbao_ledger_check_present").set(f64::from(u8::from(last_check.is_some())));
            if let Some(c) = &last_check {
                metrics::gauge!("danbao_ledger_check_violations").set(c.violations as f64);
                metrics::gauge!("danbao_ledger_check_age_seconds").set(seconds(now - c.checked_at));
            }
            metrics::gauge!("danbao_evidence_log_size").set(log_size as f64);
            metrics::gauge!("danbao_evidence_queue_length").set(log_queued as f64);
            if let Some((size, at)) = checkpoint {
                metrics::gauge!("danbao_evidence_checkpoint_size").set(size as f64);
                metrics::gauge!("danbao_evidence_checkpoint_age_seconds").set(seconds(now - at));
            }
        });
        let mut text = self.metrics.render_own();
        text.push_str(&state.handle().render());
        Ok(text)
    }
}

fn seconds(ms: i64) -> f64 {
    ms.max(0) as f64 / 1000.0
}
