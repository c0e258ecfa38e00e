//! What the benchmarks share: percentiles, CPU time read from /proc, the server as a
//! child process, and the database a run works in.

use anyhow::{bail, Context};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio::process::Child;

/// Latencies in milliseconds, summarised by nearest rank.
#[derive(Default, Clone, Debug)]
pub struct Latencies(pub Vec<f64>);

impl Latencies {
    pub fn push(&mut self, d: Duration) {
        self.0.push(d.as_secs_f64() * 1000.0);
    }

    /// The nearest-rank percentile (`p` in 0..=100); 0 when empty.
    pub fn pct(&self, p: f64) -> f64 {
        let mut v = self.0.clone();
        if v.is_empty() {
            return 0.0;
        }
        v.sort_by(f64::total_cmp);
        let rank = ((p / 100.0) * v.len() as f64).ceil().max(1.0) as usize;
        v.get(rank.min(v.len()) - 1).copied().unwrap_or(0.0)
    }

    pub fn extend(&mut self, other: &Latencies) {
        self.0.extend_from_slice(&other.0);
    }
}

/// Clock ticks per second of /proc's CPU times (`getconf CLK_TCK`; this crate forbids
/// `unsafe`, so libc's sysconf is out). If getconf is missing we assume 100, the value
/// on every Linux architecture we run on, and say so.
pub fn clock_ticks_per_s() -> (u64, &'static str) {
    let read = std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse::<u64>().ok())
        .filter(|t| *t > 0);
    match read {
        Some(t) => (t, "getconf CLK_TCK"),
        None => (100, "assumed 100 Hz: getconf CLK_TCK failed"),
    }
}

/// User + system CPU time of a process so far, in clock ticks (fields 14 and 15 of
/// /proc/<pid>/stat, counted after the command name, which may hold spaces).
pub fn process_cpu_ticks(pid: &str) -> anyhow::Result<u64> {
    let path = format!("/proc/{pid}/stat");
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    let after = text
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .context("no `)` in /proc stat")?;
    let fields: Vec<&str> = after.split_whitespace().collect();
    // After the name: state is field 3, so utime (14) and stime (15) are at 11 and 12.
    let utime: u64 = fields.get(11).context("no utime")?.parse()?;
    let stime: u64 = fields.get(12).context("no stime")?.parse()?;
    Ok(utime + stime)
}

/// The whole machine's busy time (every CPU, every process), in clock ticks: the total
/// of /proc/stat's first line less idle and iowait.
pub fn machine_busy_ticks() -> anyhow::Result<u64> {
    let text = std::fs::read_to_string("/proc/stat").context("reading /proc/stat")?;
    let line = text.lines().next().context("empty /proc/stat")?;
    let nums: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|f| f.parse::<u64>())
        .collect::<Result<_, _>>()?;
    let total: u64 = nums.iter().take(8).sum();
    let idle = nums.get(3).copied().unwrap_or(0) + nums.get(4).copied().unwrap_or(0);
    Ok(total.saturating_sub(idle))
}

pub fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(listener.local_addr()?.port())
}

/// A release build opens and migrates in well under a second; a debug build on two busy
/// cores can take several.
const READY_TIMEOUT_MS: u64 = 60_000;
const READY_POLL_MS: u64 = 50;

/// The real server (`danbao serve --sandbox`) as a child process of this executable, so
/// that its CPU time can be read from /proc apart from the load generator's.
pub struct ServerChild {
    pub child: Child,
    pub pid: String,
    pub base_url: String,
}

impl ServerChild {
    pub async fn start(exe: &Path, args: &[String], log: &Path, http: &reqwest::Client) -> anyhow::Result<ServerChild> {
        let port = free_port()?;
        let mut cmd = crate::child::child_command(exe, args, log)?;
        cmd.args(["--port", &port.to_string(), "--bind", "127.0.0.1"]);
        let mut child = cmd.spawn().context("starting the server")?;
        let pid = child.id().context("the server has no pid")?.to_string();
        let base_url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_millis(READY_TIMEOUT_MS);
        loop {
            if let Some(status) = child.try_wait()? {
                bail!("the server exited ({status}); see {}", log.display());
            }
            if let Ok(r) = http.get(format!("{base_url}/healthz")).send().await {
                if r.status().is_success() {
                    break;
                }
            }
            if Instant::now() > deadline {
                bail!("the server did not answer /healthz within {READY_TIMEOUT_MS} ms");
            }
            tokio::time::sleep(Duration::from_millis(READY_POLL_MS)).await;
        }
        Ok(ServerChild { child, pid, base_url })
    }

    pub fn cpu_ticks(&self) -> anyhow::Result<u64> {
        process_cpu_ticks(&self.pid)
    }

    /// SIGKILL and wait. Every commit the server acknowledged is on disk already (that is
    /// what is measured), so nothing a later phase needs is lost.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        self.child.start_kill().context("stopping the server")?;
        self.child.wait().await.context("waiting for the server to stop")?;
        Ok(())
    }
}

/// Where a run's data lives: a temporary directory, and on PostgreSQL a fresh schema.
pub struct Target {
    pub dir: PathBuf,
    pub pg: Option<PgTarget>,
}

pub struct PgTarget {
    /// The URL as given.
    pub url: String,
    pub schema: String,
}

impl PgTarget {
    /// The URL with the schema as every connection's search_path (libpq's `options`,
    /// which sqlx reads from the URL), for a child process that only takes a URL.
    pub fn url_in_schema(&self) -> String {
        let sep = if self.url.contains('?') { '&' } else { '?' };
        format!("{}{sep}options=-c%20search_path%3D{}", self.url, self.schema)
    }
}

impl Target {
    pub async fn new(prefix: &str, database_url: Option<&str>) -> anyhow::Result<Target> {
        let dir = std::env::temp_dir().join(format!("danbao-bench-{prefix}-{}", uuid::Uuid::new_v4().simple()));
        danbao_app::vault::create_private_dir(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let pg = match database_url {
            Some(url) => {
                let schema = danbao_store::create_pg_schema(url, &format!("bench_{prefix}"))
                    .await
                    .context("creating a PostgreSQL schema for the run")?;
                Some(PgTarget {
                    url: url.to_string(),
                    schema,
                })
            }
            None => None,
        };
        Ok(Target { dir, pg })
    }

    pub fn kind(&self) -> &'static str {
        if self.pg.is_some() {
            "postgres"
        } else {
            "sqlite"
        }
    }

    /// Drops the schema and removes the directory; `keep` keeps both (a failed run).
    pub async fn cleanup(self, keep: bool) {
        if keep {
            eprintln!("kept for inspection: {}", self.dir.display());
            if let Some(pg) = &self.pg {
                eprintln!("kept PostgreSQL schema {}", pg.schema);
            }
            return;
        }
        if let Some(pg) = &self.pg {
            if let Err(e) = danbao_store::drop_pg_schema(&pg.url, &pg.schema).await {
                eprintln!("warning: could not drop the schema {}: {e}", pg.schema);
            }
        }
        if let Err(e) = std::fs::remove_dir_all(&self.dir) {
            eprintln!("warning: could not remove {}: {e}", self.dir.display());
        }
    }
}

pub fn build_kind() -> &'static str {
    if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    }
}
