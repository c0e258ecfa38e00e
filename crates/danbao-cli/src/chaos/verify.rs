//! The verification phase: with the faults off, wait for every payment the gateway
//! accepted to settle, then check from the outside — delivered or refunded (the gateway
//! confirms), no key twice, the ledger check, reconciliation — and write the summary,
//! whose last line is `lost: N`.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use danbao_sandbox::client::ClientError;
use futures::StreamExt;
use rand::seq::SliceRandom;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use time::OffsetDateTime;

use super::faults::ChaosLog;
use super::load::{OrderRecord, Shared};
use super::{
    backoff, count_field, lock, out, parse_time, rfc3339, ChaosArgs, KEY_SAMPLE_MAX, KILL_PAUSE_MS, POLL_CONCURRENCY,
    SETTLE_POLL_MS, WINDOW_MARGIN_S,
};

/// What the platform says about one order.
#[derive(Clone, Default)]
pub(super) struct OrderState {
    pub(super) status: String,
    /// (amount, status) of each refund the platform lists.
    pub(super) refunds: Vec<(i64, String)>,
    /// The earliest payment record for our payment: when and from which source.
    pub(super) first_received: Option<(OffsetDateTime, String)>,
    /// The provider transaction ids of the order's payment records.
    pub(super) txns: Vec<String>,
}

impl OrderState {
    pub(super) fn delivered(&self) -> bool {
        matches!(self.status.as_str(), "delivered" | "completed")
    }

    pub(super) fn refund_like(&self) -> bool {
        matches!(
            self.status.as_str(),
            "refunded" | "expired" | "cancelled" | "partially_refunded"
        ) || !self.refunds.is_empty()
    }
}

/// Reads an order through the admin endpoint. `Ok(None)` when the server gave no answer
/// or a 5xx this time (it is polled again); any other answer but 200 is an error, a missing
/// endpoint included.
pub(super) async fn order_state(s: &Shared, admin: &str, r: &OrderRecord) -> anyhow::Result<Option<OrderState>> {
    let path = format!("/api/v1/admin/orders/{}", r.order_id);
    let Ok(a) = s.api.send(Method::GET, &path, Some(admin), None).await else {
        return Ok(None);
    };
    if a.status.is_server_error() {
        return Ok(None);
    }
    if a.status != StatusCode::OK {
        bail!("GET {path}: expected 200, got {} {}", a.status, a.body);
    }
    parse_admin_order(&a.body, &r.payment_id).map(Some)
}

pub(super) fn parse_admin_order(v: &Value, payment_id: &str) -> anyhow::Result<OrderState> {
    let status = v
        .pointer("/order/status")
        .and_then(Value::as_str)
        .with_context(|| format!("no order.status in the admin order {v}"))?
        .to_string();
    let refunds = v
        .get("refunds")
        .and_then(Value::as_array)
        .map(|rs| {
            rs.iter()
                .map(|r| {
                    (
                        r.get("amount_minor").and_then(Value::as_i64).unwrap_or(0),
                        r.get("status").and_then(Value::as_str).unwrap_or("").to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let first_received = v
        .get("payments")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|p| {
            p.get("provider_payment_id")
                .and_then(Value::as_str)
                .is_none_or(|id| id == payment_id)
        })
        .filter_map(|p| {
            let at = parse_time(p.get("received_at")?.as_str()?)?;
            let source = p.get("source").and_then(Value::as_str).unwrap_or("?").to_string();
            Some((at, source))
        })
        .min_by_key(|(at, _)| *at);
    let txns = v
        .get("payments")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|p| p.get("provider_txn_id").and_then(Value::as_str).map(str::to_string))
        .collect();
    Ok(OrderState {
        status,
        refunds,
        first_received,
        txns,
    })
}

/// Delivered, or refunded with every refund confirmed; for a refund-like order that lists
/// no refund row, the gateway is asked whether the money went back.
pub(super) async fn settled(s: &Shared, state: &OrderState, r: &OrderRecord) -> bool {
    if r.second_paid {
        // One of the two payments must come back, whatever happened to the order.
        let Some(second) = &r.second_payment else { return false };
        let back = match s.rail.sandbox().view(second).await {
            Ok(v) => v.refunded_minor == r.amount_minor,
            Err(_) => false,
        };
        let first_back = refunded_at_sandbox(s, r).await == Some(true);
        if !(back || first_back) {
            return false;
        }
    }
    if state.delivered() {
        return true;
    }
    if !state.refund_like() {
        return false;
    }
    if !state.refunds.is_empty() {
        return state.refunds.iter().all(|(_, st)| st == "confirmed");
    }
    refunded_at_sandbox(s, r).await == Some(true)
}

pub(super) async fn refunded_at_sandbox(s: &Shared, r: &OrderRecord) -> Option<bool> {
    let id = r.gateway_id.as_deref()?;
    for _ in 0..5 {
        match s.rail.sandbox().view(id).await {
            Ok(view) => return Some(view.refunded_minor == r.amount_minor),
            Err(ClientError::Unavailable(_)) => backoff().await,
            Err(_) => return None,
        }
    }
    None
}

/// Reveals the keys of (a sample of) the delivered orders; (checked, duplicates, orders
/// without exactly one key).
pub(super) async fn check_keys(s: &Shared, delivered: &[&OrderRecord]) -> (usize, usize, usize) {
    let sample: Vec<&OrderRecord> = if delivered.len() <= KEY_SAMPLE_MAX {
        delivered.to_vec()
    } else {
        delivered
            .choose_multiple(&mut rand::thread_rng(), KEY_SAMPLE_MAX)
            .copied()
            .collect()
    };
    let results: Vec<Option<Vec<String>>> = futures::stream::iter(sample.iter().map(|r| async move {
        let path = format!("/api/v1/orders/{}/delivery", r.order_id);
        let token = &s.buyer_tokens[r.buyer];
        let a = s.api.call_raw(Method::GET, &path, Some(token), None).await.ok()?;
        if a.status != StatusCode::OK {
            s.note(format!("reveal {}: {} {}", r.order_id, a.status, a.body));
            return None;
        }
        Some(
            a.body
                .get("items")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|i| i.get("content").and_then(Value::as_str).map(str::to_string))
                .collect(),
        )
    }))
    .buffer_unordered(POLL_CONCURRENCY)
    .collect()
    .await;
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut bad = 0;
    for keys in &results {
        match keys {
            Some(keys) if keys.len() == 1 => {}
            _ => bad += 1,
        }
        for k in keys.iter().flatten() {
            *seen.entry(k.clone()).or_default() += 1;
        }
    }
    let twice = seen.values().map(|n| n.saturating_sub(1)).sum();
    (sample.len(), twice, bad)
}

/// Where the run stands once the paid orders have settled (or the deadline passed).
pub(super) struct Settled {
    records: Vec<OrderRecord>,
    window_from: String,
    accepted: Vec<usize>,
    sandbox_paid_at: HashMap<usize, OffsetDateTime>,
    our_txns: HashSet<String>,
    paid_here: HashSet<usize>,
    paid_not_in_statement: usize,
    states: HashMap<usize, OrderState>,
    pending: Vec<usize>,
    settle_secs: f64,
}

/// Reads the gateway's statement for the run, then polls every payment it accepted until
/// each has settled or `--settle-timeout-secs` has passed.
pub(super) async fn settle(
    shared: &Shared,
    admin: &str,
    args: &ChaosArgs,
    run_id: &str,
    run_started: OffsetDateTime,
) -> anyhow::Result<Settled> {
    let records = std::mem::take(&mut *lock(&shared.records));
    let window_from = rfc3339(run_started - time::Duration::seconds(WINDOW_MARGIN_S));
    let statement = shared
        .rail
        .statement(
            run_started - time::Duration::seconds(WINDOW_MARGIN_S),
            OffsetDateTime::now_utc() + time::Duration::seconds(WINDOW_MARGIN_S),
        )
        .await?;
    let by_payment: HashMap<&str, usize> = records
        .iter()
        .enumerate()
        .map(|(i, r)| (r.payment_id.as_str(), i))
        .collect();
    let mut accepted: Vec<usize> = Vec::new();
    let mut seen: HashSet<usize> = HashSet::new();
    let mut sandbox_paid_at: HashMap<usize, OffsetDateTime> = HashMap::new();
    let mut our_txns: HashSet<String> = HashSet::new();
    for line in &statement {
        if let Some(&i) = by_payment.get(line.payment_id.as_str()) {
            our_txns.insert(line.trade_no.clone());
            if seen.insert(i) {
                accepted.push(i);
            }
            let paid_at = match &line.paid_at {
                Some(t) => Some(t.clone()),
                // The statement gives no time: the gateway's own view of the payment does.
                None => match records[i].gateway_id.as_deref() {
                    Some(id) => shared.rail.sandbox().view(id).await.ok().and_then(|v| v.paid_at),
                    None => None,
                },
            };
            if let Some(t) = paid_at.as_deref().and_then(parse_time) {
                sandbox_paid_at.insert(i, t);
            }
        }
    }
    let paid_here: HashSet<usize> = records
        .iter()
        .enumerate()
        .filter(|(_, r)| r.paid_at.is_some())
        .map(|(i, _)| i)
        .collect();
    let accepted_set: HashSet<usize> = accepted.iter().copied().collect();
    let paid_not_in_statement = paid_here.difference(&accepted_set).count();

    eprintln!(
        "chaos run {run_id}: faults off; waiting up to {} s for {} paid orders to settle",
        args.settle_timeout_secs,
        accepted.len()
    );
    let settle_deadline = Instant::now() + Duration::from_secs(args.settle_timeout_secs);
    let settle_started = Instant::now();
    let mut states: HashMap<usize, OrderState> = HashMap::new();
    let mut pending: Vec<usize> = accepted.clone();
    let mut last_report = Instant::now();
    loop {
        let s = shared;
        let records = &records;
        let polled: Vec<anyhow::Result<(usize, Option<OrderState>, bool)>> =
            futures::stream::iter(pending.iter().map(|&i| async move {
                let r = &records[i];
                Ok(match order_state(s, admin, r).await? {
                    Some(state) => {
                        let done = settled(s, &state, r).await;
                        (i, Some(state), done)
                    }
                    None => (i, None, false),
                })
            }))
            .buffer_unordered(POLL_CONCURRENCY)
            .collect()
            .await;
        let mut still = Vec::new();
        for polled in polled {
            let (i, state, done) = polled?;
            if let Some(state) = state {
                states.insert(i, state);
            }
            if !done {
                still.push(i);
            }
        }
        pending = still;
        if pending.is_empty() || Instant::now() > settle_deadline {
            break;
        }
        if last_report.elapsed() > Duration::from_secs(5) {
            eprintln!(
                "settling: {} of {} paid orders settled",
                accepted.len() - pending.len(),
                accepted.len()
            );
            last_report = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(SETTLE_POLL_MS)).await;
    }
    let settle_secs = settle_started.elapsed().as_secs_f64();
    our_txns.extend(states.values().flat_map(|st| st.txns.iter().cloned()));
    Ok(Settled {
        records,
        window_from,
        accepted,
        sandbox_paid_at,
        our_txns,
        paid_here,
        paid_not_in_statement,
        states,
        pending,
        settle_secs,
    })
}

/// What the earlier phases report for the summary.
pub(super) struct Report<'a> {
    pub(super) args: &'a ChaosArgs,
    pub(super) run_id: &'a str,
    pub(super) dir: &'a Path,
    pub(super) schema: Option<&'a str>,
    pub(super) buyers: usize,
    pub(super) imported: usize,
    pub(super) chaos_log: &'a ChaosLog,
    pub(super) orders_secs: f64,
    pub(super) clock: Instant,
}

/// Every check, and the summary lines ending with `lost: N`; true when all checks passed.
pub(super) async fn check(
    shared: &Shared,
    admin: &str,
    settled: Settled,
    report: Report<'_>,
) -> anyhow::Result<(Vec<String>, bool)> {
    let Settled {
        records,
        window_from,
        accepted,
        sandbox_paid_at,
        our_txns,
        paid_here,
        paid_not_in_statement,
        states,
        pending,
        settle_secs,
    } = settled;
    let Report {
        args,
        run_id,
        dir,
        schema,
        buyers,
        imported,
        chaos_log,
        orders_secs,
        clock,
    } = report;
    let mut delivered: Vec<&OrderRecord> = Vec::new();
    let mut refunded = 0;
    let mut delivered_and_refunded = 0;
    let mut lost: Vec<usize> = Vec::new();
    let mut second_paid = 0;
    let mut second_refunded = 0;
    for &i in &accepted {
        let r = &records[i];
        if r.second_paid {
            second_paid += 1;
            let second_back = match &r.second_payment {
                Some(p) => shared
                    .rail
                    .sandbox()
                    .view(p)
                    .await
                    .is_ok_and(|v| v.refunded_minor == r.amount_minor),
                None => false,
            };
            let first_back = refunded_at_sandbox(shared, r).await == Some(true);
            let state = states.get(&i).cloned().unwrap_or_default();
            // Paid twice: one payment must have come back, and the order (paid once) must
            // be delivered — either of the two may be the one kept, as notifications race.
            if (second_back || first_back) && !(second_back && first_back) && state.delivered() {
                second_refunded += 1;
                delivered.push(r);
            } else {
                lost.push(i);
            }
            continue;
        }
        let state = states.get(&i).cloned().unwrap_or_default();
        let refund_ok = if state.refund_like() {
            refunded_at_sandbox(shared, r).await == Some(true)
        } else {
            false
        };
        if refund_ok {
            refunded += 1;
        }
        if state.delivered() {
            delivered.push(r);
            if refund_ok {
                delivered_and_refunded += 1;
            }
        } else if !refund_ok {
            lost.push(i);
        }
    }
    let (keys_checked, keys_twice, keys_bad) = check_keys(shared, &delivered).await;

    let ledger = shared
        .api
        .call(
            Method::GET,
            "/api/v1/admin/ledger/check",
            Some(admin),
            None,
            StatusCode::OK,
        )
        .await?;
    let ledger_ok = ledger.get("ok").and_then(Value::as_bool) == Some(true);
    let violations: Vec<String> = ledger
        .get("violations")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|v| v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string()))
        .collect();

    let recon_to = rfc3339(OffsetDateTime::now_utc() + time::Duration::seconds(WINDOW_MARGIN_S));
    let recon = shared
        .api
        .call_raw(
            Method::POST,
            "/api/v1/admin/reconciliation/statements",
            Some(admin),
            Some(&json!({"from": window_from, "to": recon_to, "provider": args.provider.name()})),
        )
        .await?;

    // Recovery: platform's first record of a payment minus the gateway's paid_at.
    let mut recoveries: Vec<(i64, usize, String)> = accepted
        .iter()
        .filter_map(|&i| {
            let paid = sandbox_paid_at.get(&i)?;
            let (received, source) = states.get(&i)?.first_received.clone()?;
            let ms = i64::try_from((received - *paid).whole_milliseconds()).unwrap_or(i64::MAX);
            Some((ms, i, source))
        })
        .collect();
    recoveries.sort_by_key(|(ms, _, _)| *ms);
    let mut sources: HashMap<String, usize> = HashMap::new();
    for (_, _, source) in &recoveries {
        *sources.entry(source.clone()).or_default() += 1;
    }

    // The summary.
    let c = &shared.counters;
    let kills = shared.platform.kills.load(Ordering::SeqCst);
    let mut lines: Vec<String> = Vec::new();
    let mut failed: Vec<String> = Vec::new();
    out!(lines, "run", "{run_id}");
    out!(
        lines,
        "database",
        "{}",
        match (&args.database, schema) {
            (Some(_), Some(schema)) => format!("postgresql (fresh schema {schema})"),
            (Some(_), None) => "postgresql (the given database as is; only this run's orders are counted)".to_string(),
            (None, _) => format!("sqlite ({})", dir.join("danbao.db").display()),
        }
    );
    out!(lines, "provider", "{}", args.provider.name());
    out!(lines, "orders", "{}", args.orders);
    out!(lines, "concurrency", "{}", args.concurrency);
    out!(lines, "buyers", "{buyers}");
    out!(lines, "card_keys_imported", "{imported}");
    out!(lines, "orders_placed", "{}", c.placed.load(Ordering::SeqCst));
    out!(lines, "orders_not_placed", "{}", c.not_placed.load(Ordering::SeqCst));
    out!(
        lines,
        "orders_not_placed_idempotency_key_orphaned_by_kill",
        "{}",
        c.orphaned_keys.load(Ordering::SeqCst)
    );
    out!(
        lines,
        "orders_refused_out_of_stock",
        "{}",
        c.out_of_stock.load(Ordering::SeqCst)
    );
    out!(
        lines,
        "checkout_retries",
        "{} ({} of them after a 502 while the gateway was down: the platform cancelled each such order at once, returning its stock)",
        c.retries.load(Ordering::SeqCst),
        c.provider_unavailable.load(Ordering::SeqCst)
    );
    out!(lines, "orders_phase_secs", "{orders_secs:.1}");
    out!(
        lines,
        "kills",
        "{kills} (SIGKILL of the server, restarted after {KILL_PAUSE_MS} ms)"
    );
    for note in &chaos_log.notes {
        out!(lines, "kill_note", "{note}");
    }
    out!(lines, "gateway_down_ms", "{}", chaos_log.outage_ms);
    out!(
        lines,
        "faults",
        "drop 30%, duplicate 20%, delay up to 300 ms, reorder; off while settling"
    );
    out!(lines, "active_query_schedule_seconds", "[2, 5, 10], after expiry 5");
    out!(lines, "payments_paid_at_cashier", "{}", paid_here.len());
    out!(lines, "payments_pay_failed", "{}", c.pay_failed.load(Ordering::SeqCst));
    out!(
        lines,
        "payments_accepted_by_sandbox",
        "{}",
        accepted.len() + second_paid
    );
    out!(
        lines,
        "orders_paid_twice",
        "{second_paid} (the extra payment refunded automatically and confirmed at the sandbox: {second_refunded})"
    );
    out!(lines, "paid_but_missing_from_statement", "{paid_not_in_statement}");
    out!(lines, "settle_secs", "{settle_secs:.1}");
    out!(lines, "unsettled_at_deadline", "{}", pending.len());
    out!(lines, "delivered", "{}", delivered.len());
    out!(lines, "refunded", "{refunded} (confirmed at the sandbox)");
    out!(lines, "delivered_and_refunded", "{delivered_and_refunded}");
    if delivered_and_refunded > 0 {
        failed.push("an order was both delivered and refunded".into());
    }
    out!(
        lines,
        "keys_checked",
        "{keys_checked} of {} delivered orders{}",
        delivered.len(),
        if delivered.len() > KEY_SAMPLE_MAX {
            " (random sample)"
        } else {
            ""
        }
    );
    out!(lines, "keys_allocated_twice", "{keys_twice}");
    out!(lines, "delivered_orders_without_exactly_one_key", "{keys_bad}");
    if keys_twice > 0 {
        failed.push("a card key was allocated twice".into());
    }
    if keys_bad > 0 {
        failed.push("a delivered order did not reveal exactly one key".into());
    }
    out!(
        lines,
        "ledger_check",
        "{}",
        if ledger_ok {
            "ok".to_string()
        } else {
            format!("{} violation(s)", violations.len())
        }
    );
    for v in violations.iter().take(10) {
        out!(lines, "ledger_violation", "{v}");
    }
    if !ledger_ok {
        failed.push("the ledger check failed".into());
    }
    let b = &recon.body;
    let counts = ["matched", "applied_late", "missing_at_provider", "amount_mismatch"].map(|k| count_field(b, k));
    let items = b.get("items").and_then(Value::as_array);
    if !recon.status.is_success() {
        // A missing endpoint (404) is a failure like any other: never "skipped".
        out!(lines, "reconciliation", "failed: {} {}", recon.status, recon.body);
        failed.push("reconciliation could not run".into());
    } else if let (Some(items), [Some(matched), Some(applied_late), Some(missing_at_provider), Some(amount_mismatch)]) =
        (items, counts)
    {
        // The run's differences are its `items`; applied_late ones come resolved, the rest
        // stay open for an admin. On a shared PostgreSQL database only items about this
        // run's transactions count.
        let mut open_ours: HashMap<String, usize> = HashMap::new();
        let mut open_others = 0;
        for item in items {
            let open = item.get("status").and_then(Value::as_str).is_none_or(|st| st == "open");
            if !open {
                continue;
            }
            let txn = item.get("provider_txn_id").and_then(Value::as_str).unwrap_or("");
            if args.database.is_none() || our_txns.contains(txn) {
                let kind = item.get("kind").and_then(Value::as_str).unwrap_or("?").to_string();
                *open_ours.entry(kind).or_default() += 1;
            } else {
                open_others += 1;
            }
        }
        let open_count: usize = open_ours.values().sum();
        let counted = if args.database.is_none() {
            missing_at_provider + amount_mismatch
        } else {
            0
        };
        let unexplained = open_count.max(counted);
        out!(
            lines,
            "reconciliation",
            "run {}, matched {}, applied_late {}, missing_at_provider {}, amount_mismatch {}",
            b.get("id").and_then(Value::as_str).unwrap_or("?"),
            matched,
            applied_late,
            missing_at_provider,
            amount_mismatch,
        );
        let mut kinds: Vec<String> = open_ours.iter().map(|(k, v)| format!("{k} {v}")).collect();
        kinds.sort();
        out!(
            lines,
            "reconciliation_open_items",
            "{open_count}{}{}",
            if kinds.is_empty() {
                String::new()
            } else {
                format!(" ({})", kinds.join(", "))
            },
            if open_others > 0 {
                format!("; {open_others} more about other runs' payments, not counted")
            } else {
                String::new()
            }
        );
        out!(lines, "unexplained_reconciliation_differences", "{unexplained}");
        if unexplained > 0 {
            failed.push("reconciliation has unexplained differences".into());
        }
    } else {
        out!(lines, "reconciliation", "failed: unexpected answer {}", recon.body);
        failed.push("reconciliation answered without its counts and items".into());
    }
    if let Some((max_ms, slowest, source)) = recoveries.last() {
        let median_ms = recoveries[recoveries.len() / 2].0;
        out!(lines, "recovery_median_ms", "{median_ms}");
        out!(
            lines,
            "recovery_max_ms",
            "{max_ms} (order {}, recovered by {source})",
            records[*slowest].order_id
        );
        let mut by_source: Vec<_> = sources.iter().collect();
        by_source.sort();
        let text: Vec<String> = by_source.iter().map(|(k, v)| format!("{k} {v}")).collect();
        out!(lines, "first_recorded_by", "{}", text.join(", "));
    } else {
        out!(lines, "recovery", "no payment records to measure");
    }
    for o in lock(&shared.oddities).iter() {
        out!(lines, "oddity", "{o}");
    }
    for &i in lost.iter().take(20) {
        let r = &records[i];
        let status = states.get(&i).map(|s| s.status.clone()).unwrap_or_default();
        out!(
            lines,
            "lost_payment",
            "order {} payment {} status {}",
            r.order_id,
            r.payment_id,
            if status.is_empty() { "unknown" } else { &status }
        );
    }
    if kills < 2 {
        failed.push(format!("only {kills} kill(s) happened"));
    }
    if !lost.is_empty() {
        failed.push(format!("{} accepted payment(s) lost", lost.len()));
    }
    out!(lines, "total_secs", "{:.1}", clock.elapsed().as_secs_f64());
    out!(
        lines,
        "result",
        "{}",
        if failed.is_empty() {
            "ok".to_string()
        } else {
            format!("FAILED: {}", failed.join("; "))
        }
    );
    out!(lines, "lost", "{}", lost.len());
    Ok((lines, failed.is_empty()))
}
