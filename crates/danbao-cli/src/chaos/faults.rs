//! The faults phase: the sandbox's knobs (drop, duplicate, delay, reorder, an outage) and
//! the two SIGKILLs of the server (and, with `--kill-database`, of the database's
//! primary), timed by the orders placed so far.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use danbao_sandbox::client::{ClientError, SandboxClient};
use danbao_sandbox::wire::Faults;

use super::load::Shared;
use super::{backoff, KILL_PAUSE_MS, OUTAGE_MS, READY_TIMEOUT_MS, SMALL_RUN_ORDERS_MIN, SMALL_RUN_STEP_MS};

/// The faults while orders are being placed and paid.
pub(super) fn chaos_faults() -> Faults {
    Faults {
        drop_pct: 30,
        duplicate_pct: 20,
        delay_ms_max: 300,
        reorder: true,
        tamper_amount_pct: 0,
        down: false,
        ..Faults::default()
    }
}

#[derive(Default)]
pub(super) struct ChaosLog {
    pub(super) outage_ms: u64,
    pub(super) notes: Vec<String>,
    /// The database failover (`--kill-database`), if the run had one.
    pub(super) database: Option<super::cluster::DatabaseKill>,
}

/// Sets the faults, then kills the server at ~30 % and ~65 % of orders placed and takes
/// the gateway down at ~45 %. Every step happens even if the buyers finish first.
pub(super) async fn chaos_task(s: Arc<Shared>) -> anyhow::Result<ChaosLog> {
    let mut log = ChaosLog::default();
    let load_started = Instant::now();
    set_faults(s.rail.sandbox(), &chaos_faults()).await?;
    let by_time = s.orders < SMALL_RUN_ORDERS_MIN;
    let wait_for = |fraction_pct: usize| {
        let s = s.clone();
        async move {
            if by_time {
                tokio::time::sleep(Duration::from_millis(SMALL_RUN_STEP_MS)).await;
                return;
            }
            let target = (s.orders * fraction_pct).div_ceil(100);
            while s.counters.done.load(Ordering::SeqCst) < target && !s.workers_done.load(Ordering::SeqCst) {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };
    let http = s.api.http.clone();
    let kill_and_restart = |log: &mut ChaosLog, at: usize| {
        let s = s.clone();
        let http = http.clone();
        let note = format!(
            "kill at {} orders done, {} paid",
            at,
            s.counters.paid.load(Ordering::SeqCst)
        );
        log.notes.push(note);
        async move {
            // Server 0: with several behind a load balancer, the others keep serving.
            s.platform.kill(0).await?;
            tokio::time::sleep(Duration::from_millis(KILL_PAUSE_MS)).await;
            s.platform.start(0)?;
            s.platform.wait_ready(0, &http).await
        }
    };

    wait_for(30).await;
    let at = s.counters.done.load(Ordering::SeqCst);
    kill_and_restart(&mut log, at).await?;

    wait_for(45).await;
    let outage_started = Instant::now();
    set_faults(
        s.rail.sandbox(),
        &Faults {
            down: true,
            ..chaos_faults()
        },
    )
    .await?;
    tokio::time::sleep(Duration::from_millis(OUTAGE_MS)).await;
    set_faults(s.rail.sandbox(), &chaos_faults()).await?;
    log.outage_ms = u64::try_from(outage_started.elapsed().as_millis()).unwrap_or(u64::MAX);

    if let Some(cmd) = s.kill_database.clone() {
        wait_for(55).await;
        log.notes.push(format!(
            "database primary killed at {} orders done",
            s.counters.done.load(Ordering::SeqCst)
        ));
        log.database = Some(super::cluster::kill_database(&s, &cmd, load_started).await?);
    }

    wait_for(65).await;
    let at = s.counters.done.load(Ordering::SeqCst);
    kill_and_restart(&mut log, at).await?;
    Ok(log)
}

pub(super) async fn set_faults(sandbox: &SandboxClient, faults: &Faults) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_millis(READY_TIMEOUT_MS);
    loop {
        match sandbox.set_faults(faults).await {
            Ok(_) => return Ok(()),
            Err(ClientError::Unavailable(_)) if Instant::now() < deadline => backoff().await,
            Err(e) => return Err(e).context("setting the sandbox faults"),
        }
    }
}
