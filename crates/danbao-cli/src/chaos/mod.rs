//! `danbao chaos`: the no-drop guarantee (SPEC §4) tested against real processes.
//!
//! The command runs its own executable twice over: the sandbox gateway as one child process
//! and the platform server as another, sharing a merchant key file. It sets up a seller with
//! a card-key product and a few buyers over the public API, then places and pays N orders
//! from concurrent buyer tasks while a chaos task drops, duplicates, delays and reorders
//! notifications, takes the gateway down for a while and SIGKILLs the server twice
//! (restarting it with the same arguments). Then it lets the system settle with the faults
//! off and checks, from the outside, that every payment the gateway accepted ended as a
//! delivery or as a refund the gateway confirms, that no card key went out twice, that the
//! ledger is clean and that reconciliation has nothing it cannot explain.
//!
//! The summary is `key: value` lines on stdout; the last one is `lost: N`.
//!
//! The phases live in their own modules: [`processes`] (the two children: start, SIGKILL,
//! restart), [`load`] (setup, then placing and paying the orders), [`faults`] (the sandbox's
//! knobs and the kills, timed by the load) and [`verify`] (settling, the checks and the
//! summary), with [`api`] the platform's API as they all call it. A missing endpoint or an
//! answer of an unexpected shape is an error that fails the run; nothing is reported as
//! skipped.

mod api;
mod cluster;
mod faults;
mod load;
mod processes;
mod rail;
mod verify;

pub use rail::ChaosProvider;

use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicUsize};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use anyhow::Context;
use rand::Rng;
use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use api::Api;
use load::{Counters, Shared};

/// How long a child process may take to answer its readiness probe. Generous: a debug
/// build on two busy cores can take a few seconds to open a database and migrate it.
const READY_TIMEOUT_MS: u64 = 60_000;
const READY_POLL_MS: u64 = 100;
/// Platform calls from this client. The connect timeout is short because the server is
/// on loopback: a connection that does not open at once means the server is down.
const HTTP_CONNECT_TIMEOUT_MS: u64 = 2_000;
const HTTP_TIMEOUT_MS: u64 = 15_000;
/// Back-off between retries of one request, chosen at random in this range so that the
/// buyers do not retry in lock step after a kill.
const RETRY_DELAY_MS_MIN: u64 = 100;
const RETRY_DELAY_MS_MAX: u64 = 500;
/// A buyer retries paying at the cashier for this long (the gateway is never killed, so
/// this only covers a momentarily overloaded loopback).
const PAY_TIMEOUT_MS: u64 = 30_000;
/// Between SIGKILL and restart: long enough for notifications to hit a dead server.
const KILL_PAUSE_MS: u64 = 1_000;
/// How long the gateway stays down.
const OUTAGE_MS: u64 = 3_000;
/// For runs too small for progress thresholds to be meaningful, the chaos steps happen on
/// a timer instead, one this long after the other.
const SMALL_RUN_ORDERS_MIN: usize = 20;
const SMALL_RUN_STEP_MS: u64 = 500;
/// The API's limit on keys per import request.
const KEY_IMPORT_CHUNK: usize = 10_000;
/// At most this many delivered orders have their key revealed for the duplicate check.
const KEY_SAMPLE_MAX: usize = 2_000;
/// Setup registers accounts, each an argon2 hash on the server: a few at a time.
const SETUP_CONCURRENCY: usize = 4;
/// Parallel status polls while settling and parallel reveals while checking keys.
const POLL_CONCURRENCY: usize = 16;
const SETTLE_POLL_MS: u64 = 1_000;
/// The statement and reconciliation windows reach this far either side of the run.
const WINDOW_MARGIN_S: i64 = 60;
const PRICE_MINOR: i64 = 1_000;

#[derive(clap::Args, Clone, Debug)]
pub struct ChaosArgs {
    /// How many orders to place.
    #[arg(long, default_value_t = 200)]
    pub orders: usize,
    /// PostgreSQL URL; default: a SQLite file in a temporary data directory.
    #[arg(long)]
    pub database: Option<String>,
    /// Buyer tasks placing and paying orders at the same time.
    #[arg(long, default_value_t = 32)]
    pub concurrency: usize,
    /// Buyer accounts the orders are spread over.
    #[arg(long, default_value_t = 20)]
    pub buyers: usize,
    /// Card keys imported, as a percentage of --orders (below 100 some buyers are refused
    /// at checkout as out of stock, which moves no money).
    #[arg(long, default_value_t = 95)]
    pub stock_pct: u16,
    /// After the last order is paid, how long every paid order may take to settle.
    #[arg(long, default_value_t = 120)]
    pub settle_timeout_secs: u64,
    /// A buyer gives up on placing one order after retrying it this long.
    #[arg(long, default_value_t = 60)]
    pub order_timeout_secs: u64,
    /// The sandbox's resend schedule runs this much faster than Alipay's.
    #[arg(long, default_value_t = 100.0)]
    pub time_scale: f64,
    /// With --database: run in a new schema of that database (dropped afterwards unless
    /// --keep), so that the ledger check and reconciliation see this run alone.
    #[arg(long, requires = "database")]
    pub fresh_schema: bool,
    /// Keep the temporary data directory (database, key files, process logs) and the
    /// fresh schema. They are also kept when the run fails.
    #[arg(long)]
    pub keep: bool,
    /// The rail the payments go through: the sandbox's own protocol, or its 易支付
    /// personality with the platform configured by a rails file.
    #[arg(long, value_enum, default_value = "sandbox")]
    pub provider: ChaosProvider,
    /// Platform servers sharing the database (PostgreSQL). The first is the one
    /// SIGKILLed and restarted.
    #[arg(long, default_value_t = 1)]
    pub servers: usize,
    /// The servers' ports (one per server; default: free ports), e.g. those a load
    /// balancer's configuration names.
    #[arg(long, value_delimiter = ',')]
    pub server_ports: Vec<u16>,
    /// A load balancer in front of the servers (e.g. HAProxy at http://127.0.0.1:8000):
    /// buyers and the gateway's notifications go through it.
    #[arg(long)]
    pub front: Option<String>,
    /// A shell command that kills the database's primary (e.g. `scripts/cluster/cluster
    /// kill-primary`), run once at ~55 % of the orders; the run reports orders/s before,
    /// during and after, and how long until orders were placed again.
    #[arg(long, requires = "database")]
    pub kill_database: Option<String>,
}

pub async fn run(args: ChaosArgs) -> anyhow::Result<ExitCode> {
    if args.orders == 0 || args.concurrency == 0 || args.buyers == 0 {
        eprintln!("error: --orders, --concurrency and --buyers must be at least 1");
        return Ok(ExitCode::from(2));
    }
    if args.servers == 0 || (!args.server_ports.is_empty() && args.server_ports.len() != args.servers) {
        eprintln!("error: --servers must be at least 1, and --server-ports must give one port per server");
        return Ok(ExitCode::from(2));
    }
    if args.servers > 1 && (args.front.is_none() || args.database.is_none()) {
        eprintln!("error: several --servers share a PostgreSQL --database behind a --front load balancer");
        return Ok(ExitCode::from(2));
    }
    if !(args.time_scale.is_finite() && args.time_scale > 0.0) {
        eprintln!("error: --time-scale must be a positive number");
        return Ok(ExitCode::from(2));
    }
    let run_id = uuid::Uuid::new_v4().simple().to_string()[..8].to_string();
    let dir = std::env::temp_dir().join(format!("danbao-chaos-{run_id}"));
    std::fs::create_dir_all(dir.join("keys")).with_context(|| format!("creating {}", dir.display()))?;
    let mut args = args;
    let mut schema = None;
    if args.fresh_schema {
        let url = args.database.clone().unwrap_or_default();
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            eprintln!("error: --fresh-schema needs a postgres:// --database");
            return Ok(ExitCode::from(2));
        }
        let name = danbao_store::create_pg_schema(&url, "chaos")
            .await
            .context("creating a PostgreSQL schema for the run")?;
        // libpq's `options` parameter, which sqlx reads from the URL: every connection of
        // the children then works in the new schema.
        let sep = if url.contains('?') { '&' } else { '?' };
        args.database = Some(format!("{url}{sep}options=-c%20search_path%3D{name}"));
        schema = Some((url, name));
    }
    let result = run_in(&args, &run_id, &dir, schema.as_ref().map(|(_, n)| n.as_str())).await;
    let keep = args.keep || !matches!(result, Ok(true));
    if keep {
        eprintln!("data directory and process logs kept at {}", dir.display());
    } else if let Err(e) = std::fs::remove_dir_all(&dir) {
        eprintln!("warning: could not remove {}: {e}", dir.display());
    }
    if let Some((url, name)) = schema {
        if keep {
            eprintln!("PostgreSQL schema {name} kept");
        } else if let Err(e) = danbao_store::drop_pg_schema(&url, &name).await {
            eprintln!("warning: could not drop the schema {name}: {e}");
        }
    }
    match result {
        Ok(true) => Ok(ExitCode::SUCCESS),
        Ok(false) => Ok(ExitCode::FAILURE),
        Err(e) => Err(e),
    }
}

/// A summary line.
macro_rules! out {
    ($lines:expr, $key:expr, $($arg:tt)*) => {
        $lines.push(format!("{}: {}", $key, format!($($arg)*)))
    };
}
pub(crate) use out;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn str_field(v: &Value, name: &str) -> anyhow::Result<String> {
    v.get(name)
        .and_then(Value::as_str)
        .map(str::to_string)
        .with_context(|| format!("no `{name}` in {v}"))
}

async fn backoff() {
    let ms = rand::thread_rng().gen_range(RETRY_DELAY_MS_MIN..=RETRY_DELAY_MS_MAX);
    tokio::time::sleep(Duration::from_millis(ms)).await;
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

fn parse_time(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339).ok()
}

fn count_field(v: &Value, name: &str) -> Option<usize> {
    match v.get(name)? {
        Value::Number(n) => n.as_u64().and_then(|n| usize::try_from(n).ok()),
        Value::Array(a) => Some(a.len()),
        _ => None,
    }
}

/// The run, phase by phase: processes, load (with the faults running alongside), faults off,
/// verification. Prints the summary; true when every check passed.
async fn run_in(args: &ChaosArgs, run_id: &str, dir: &Path, schema: Option<&str>) -> anyhow::Result<bool> {
    let exe = std::env::current_exe().context("finding the danbao executable")?;
    let run_started = OffsetDateTime::now_utc();
    let clock = Instant::now();
    let http = reqwest::Client::builder()
        .connect_timeout(Duration::from_millis(HTTP_CONNECT_TIMEOUT_MS))
        .timeout(Duration::from_millis(HTTP_TIMEOUT_MS))
        .build()
        .context("building the HTTP client")?;

    // 1. The sandbox gateway and the platform server.
    let processes::Processes {
        children,
        guard: _guard,
        rail,
        platform,
        data_args,
    } = processes::start(args, run_id, dir, &exe, &http).await?;

    // 2. Accounts, product, keys.
    let api = Api {
        http: http.clone(),
        base: platform.base_url.clone(),
    };
    let load::Setup {
        admin,
        product_id,
        buyer_tokens,
        imported,
        buyers,
    } = load::setup(args, run_id, &exe, &data_args, &api).await?;

    // 3. Orders placed and paid, with the faults and kills alongside.
    let shared = Arc::new(Shared {
        api,
        rail,
        payment_method: args.provider.payment_method(),
        platform,
        product_id,
        buyer_tokens,
        run_id: run_id.to_string(),
        orders: args.orders,
        order_timeout: Duration::from_secs(args.order_timeout_secs),
        next: AtomicUsize::new(0),
        counters: Counters::default(),
        workers_done: AtomicBool::new(false),
        records: Mutex::new(Vec::new()),
        oddities: Mutex::new(Vec::new()),
        kill_database: args.kill_database.clone(),
    });
    let (chaos_log, orders_secs) = load::place_and_pay(&shared, args.concurrency).await?;
    let load_ended = Instant::now();

    // 4. Faults off, then wait for every accepted payment to settle, and check.
    faults::set_faults(shared.rail.sandbox(), &danbao_sandbox::wire::Faults::default()).await?;
    let settled = verify::settle(&shared, &admin, args, run_id, run_started).await?;
    let report = verify::Report {
        args,
        run_id,
        dir,
        schema,
        buyers,
        imported,
        chaos_log: &chaos_log,
        orders_secs,
        clock,
    };
    let (mut lines, mut ok) = verify::check(&shared, &admin, settled, report).await?;
    if let Some(kill) = &chaos_log.database {
        // Before the last line, which stays `lost: N`.
        let (failover, consistent) = cluster::report(&shared, kill, load_ended).await?;
        let at = lines.len().saturating_sub(1);
        lines.splice(at..at, failover);
        ok &= consistent;
    }
    processes::shutdown(&children).await;
    for line in lines {
        println!("{line}");
    }
    Ok(ok)
}
