//! The database failover step of a chaos run (`--kill-database CMD`): the primary is
//! killed under load, and the run measures what the buyers saw — orders/s before, during
//! and after, the longest time no order could be placed — and checks that the evidence log
//! after the failover extends the checkpoint signed before it (a consistency proof,
//! verified here with the log's public key).

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use super::load::Shared;

/// How often the placed-order count is sampled while the database is being killed.
const SAMPLE_MS: u64 = 100;
/// After the kill command returns, how long to wait for the first order placed.
const RECOVERY_WAIT_MS: u64 = 120_000;

pub(super) struct DatabaseKill {
    /// The load's start, the kill's start, and when orders flowed again.
    load_started: Instant,
    killed_at: Instant,
    recovered_at: Instant,
    placed_at_kill: usize,
    placed_at_recovery: usize,
    /// The longest time between two orders placed, from the kill to recovery.
    longest_gap: Duration,
    /// What the kill command printed (stdout), line by line.
    command_output: Vec<String>,
    /// The checkpoint signed before the kill (a C2SP signed note).
    checkpoint_before: String,
}

/// Runs `cmd` (a shell command that kills the database's primary), sampling the orders
/// placed meanwhile, and returns once orders are being placed again.
pub(super) async fn kill_database(s: &Shared, cmd: &str, load_started: Instant) -> anyhow::Result<DatabaseKill> {
    let checkpoint_before = checkpoint(s).await.context("the checkpoint before the database kill")?;
    let placed = || s.counters.placed.load(Ordering::SeqCst);
    let killed_at = Instant::now();
    let placed_at_kill = placed();
    let mut child = tokio::process::Command::new("sh")
        .args(["-c", cmd])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("running {cmd:?}"))?;
    let stdout = child.stdout.take();
    let output = tokio::spawn(async move {
        use tokio::io::AsyncReadExt;
        let mut text = String::new();
        if let Some(mut out) = stdout {
            let _ = out.read_to_string(&mut text).await;
        }
        text
    });
    let mut last = (killed_at, placed_at_kill);
    let mut longest_gap = Duration::ZERO;
    let mut command_done: Option<Instant> = None;
    loop {
        tokio::time::sleep(Duration::from_millis(SAMPLE_MS)).await;
        let now = Instant::now();
        let n = placed();
        if n > last.1 {
            longest_gap = longest_gap.max(now - last.0);
            last = (now, n);
        }
        if command_done.is_none() {
            if let Some(status) = child.try_wait().context("waiting for the kill command")? {
                if !status.success() {
                    bail!("{cmd:?} failed ({status})");
                }
                command_done = Some(now);
            }
        }
        if let Some(done) = command_done {
            // Recovered: an order placed after the command saw the new primary take a write.
            if last.0 > done || s.workers_done.load(Ordering::SeqCst) {
                break;
            }
            if now - done > Duration::from_millis(RECOVERY_WAIT_MS) {
                bail!("no order was placed within {RECOVERY_WAIT_MS} ms of the new primary taking writes");
            }
        }
    }
    longest_gap = longest_gap.max(last.0 - killed_at);
    let command_output = output.await.unwrap_or_default().lines().map(str::to_string).collect();
    Ok(DatabaseKill {
        load_started,
        killed_at,
        recovered_at: last.0,
        placed_at_kill,
        placed_at_recovery: last.1,
        longest_gap,
        command_output,
        checkpoint_before,
    })
}

async fn checkpoint(s: &Shared) -> anyhow::Result<String> {
    text(s, "/api/v1/evidence/checkpoint").await
}

async fn text(s: &Shared, path: &str) -> anyhow::Result<String> {
    let url = format!("{}{path}", s.api.base);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match s.api.http.get(&url).send().await {
            Ok(r) if r.status().is_success() => return r.text().await.with_context(|| format!("reading {url}")),
            Ok(r) if Instant::now() > deadline => bail!("{url}: {}", r.status()),
            Err(e) if Instant::now() > deadline => return Err(e).with_context(|| format!("GET {url}")),
            _ => super::backoff().await,
        }
    }
}

/// The summary lines for the failover, and whether the evidence log checks out: the
/// newest checkpoint is consistent with the one signed before the kill.
pub(super) async fn report(
    s: &Shared,
    kill: &DatabaseKill,
    load_ended: Instant,
) -> anyhow::Result<(Vec<String>, bool)> {
    let placed_end = s.counters.placed.load(Ordering::SeqCst);
    let rate = |n: usize, from: Instant, to: Instant| {
        let secs = (to - from).as_secs_f64();
        if secs > 0.0 {
            n as f64 / secs
        } else {
            0.0
        }
    };
    let mut lines = Vec::new();
    super::out!(
        lines,
        "database failover",
        "primary killed at {} orders placed; the kill command said: {}",
        kill.placed_at_kill,
        kill.command_output.join("; ")
    );
    super::out!(
        lines,
        "database failover orders/s",
        "before {:.1}, during {:.1} ({:.1} s from the kill until orders were placed again), after {:.1}",
        rate(kill.placed_at_kill, kill.load_started, kill.killed_at),
        rate(
            kill.placed_at_recovery - kill.placed_at_kill,
            kill.killed_at,
            kill.recovered_at
        ),
        (kill.recovered_at - kill.killed_at).as_secs_f64(),
        rate(placed_end - kill.placed_at_recovery, kill.recovered_at, load_ended)
    );
    super::out!(
        lines,
        "database failover longest pause",
        "{:.1} s without an order placed",
        kill.longest_gap.as_secs_f64()
    );

    // The log: the checkpoint signed before, the newest one, and the proof between them.
    let vkey = text(s, "/api/v1/evidence/key").await?;
    let verifier = danbao_evidence::LogVerifier::from_vkey(vkey.trim()).context("the log's key")?;
    let before =
        danbao_evidence::open_checkpoint(&kill.checkpoint_before, &verifier).context("the checkpoint before")?;
    let newest_note = checkpoint(s).await?;
    let newest = danbao_evidence::open_checkpoint(&newest_note, &verifier).context("the newest checkpoint")?;
    let proof_text = text(
        s,
        &format!(
            "/api/v1/evidence/consistency?from={}&to={}",
            before.size(),
            newest.size()
        ),
    )
    .await?;
    let mut proof = Vec::new();
    for line in proof_text.lines().filter(|l| !l.is_empty()) {
        use base64::Engine;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(line)
            .context("a proof hash")?;
        let hash: danbao_evidence::Hash = bytes
            .try_into()
            .map_err(|_| anyhow::anyhow!("a proof hash of the wrong length"))?;
        proof.push(hash);
    }
    let ok = match danbao_evidence::verify_consistency_between(&kill.checkpoint_before, &newest_note, &proof, &verifier)
    {
        Ok(_) => {
            super::out!(
                lines,
                "evidence log across the failover",
                "consistent: checkpoint {} (signed before the kill) → {} ({} proof hashes, verified with the log's key)",
                before.size(),
                newest.size(),
                proof.len()
            );
            true
        }
        Err(e) => {
            super::out!(lines, "evidence log across the failover", "NOT consistent: {e}");
            false
        }
    };
    Ok((lines, ok))
}
