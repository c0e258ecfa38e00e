//! `danbao bench jobs`: the job queue working through the active-query schedule (补单,
//! SPEC §4) of many open orders at once.
//!
//! The real server runs in this process (`danbao_http::server::start`, with its real
//! worker: claim a batch, run it, sequence the evidence log, every 500 ms, as `serve`
//! does) and its in-process sandbox gateway answers every query over HTTP. `--open`
//! unpaid card-key orders are placed through the App (registered buyers, so no query
//! password is hashed per order). Each one scheduled its queries at 1, 5 and 15 minutes
//! and once after expiry, and its expiry at 15 minutes (the shipped rule set).
//!
//! The app's clock is the system clock plus an offset that the benchmark moves forward to
//! each point of the schedule (measured from the last order placed), so that every job of
//! that point becomes due at once — the worst case for the queue — and then runs on at
//! real speed. For each point it waits until nothing due is left (or `--stage-timeout`
//! passes) and reads the jobs back: a job's lateness is when it finished (its
//! `updated_at`, on the app's clock) less when it became due (its `run_at`, or the jump if
//! later). Jobs per second is the jobs of the point over the time from the jump to the
//! last one's finish. The backlog is what was still due and not done when it stopped
//! waiting.

use anyhow::{bail, Context};
use danbao_app::clock::{Clock, SystemClock};
use danbao_app::limits::Origin;
use danbao_app::vault::Vault;
use danbao_app::{Caller, NewProduct, PlaceOrder, Role};
use danbao_domain::RuleSet;
use futures::StreamExt;
use sqlx::Row;
use std::process::ExitCode;
use std::str::FromStr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::common::{self, Latencies, Target};

#[derive(clap::Args, Clone, Debug)]
pub struct JobsArgs {
    /// PostgreSQL URL (a fresh schema, dropped at the end); default SQLite in a temp dir.
    #[arg(long)]
    pub database_url: Option<String>,
    /// Open (unpaid) orders whose schedule is worked through.
    #[arg(long, default_value_t = 10_000)]
    pub open: usize,
    /// Stop waiting for one point of the schedule to drain after this long; what is
    /// left is reported as backlog.
    #[arg(long, default_value_t = 600)]
    pub stage_timeout_secs: u64,
    /// Keep the temporary directory and schema.
    #[arg(long)]
    pub keep: bool,
}

/// Orders placed at once while building the open orders.
const PLACE_CONCURRENCY: usize = 16;
/// Buyer accounts the open orders are spread over (each registration is one argon2id hash).
const BUYERS: usize = 20;
const KEY_IMPORT_CHUNK: usize = 10_000;
const POLL_MS: u64 = 100;
/// The worker's interval, as `danbao serve` runs it.
const WORKER_INTERVAL_MS: u64 = 500;

/// The system clock plus an offset the benchmark moves forward.
struct OffsetClock(Arc<AtomicI64>);

impl Clock for OffsetClock {
    fn now_ms(&self) -> i64 {
        SystemClock.now_ms() + self.0.load(Ordering::SeqCst)
    }
}

pub async fn run(args: JobsArgs) -> anyhow::Result<ExitCode> {
    if args.open == 0 {
        eprintln!("error: --open must be at least 1");
        return Ok(ExitCode::from(2));
    }
    let target = Target::new("jobs", args.database_url.as_deref()).await?;
    let result = run_on(&args, &target).await;
    let keep = args.keep || !matches!(result, Ok(true));
    target.cleanup(keep).await;
    Ok(if result? { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// The shipped rule set with the caps on stock one buyer holds unpaid lifted: here a
/// few buyers hold all the open orders of one product, on purpose.
fn bench_rules() -> anyhow::Result<RuleSet> {
    let mut text = danbao_domain::rules::DEFAULT_RULES_TOML.to_string();
    for (from, to) in [
        (
            "unpaid_units_per_buyer_max = 20",
            "unpaid_units_per_buyer_max = 1000000",
        ),
        ("unpaid_share_of_stock_bps = 5000", "unpaid_share_of_stock_bps = 10000"),
        // The bench's shop lists without a security deposit.
        ("required_minor = 50000", "required_minor = 0"),
        ("volume_share_bps = 500", "volume_share_bps = 0"),
    ] {
        if !text.contains(from) {
            bail!("the default rule set has no `{from}`: the bench rules cannot lift it");
        }
        text = text.replace(from, to);
    }
    Ok(RuleSet::parse(&text)?)
}

enum Reader {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

impl Reader {
    /// (kind, run_at, updated_at, attempts) of jobs done with run_at in (from, to]. The
    /// platform's own periodic statement of liabilities is left out: it runs whenever the
    /// wall clock crosses a period, not because of the orders this bench measures.
    async fn done(&self, from: i64, to: i64) -> anyhow::Result<Vec<(String, i64, i64, i64)>> {
        let sql = "SELECT kind, run_at, updated_at, attempts FROM jobs WHERE status = 'done' AND run_at > $1 AND run_at <= $2 \
                   AND kind <> 'publish_liabilities'";
        let rows = match self {
            Reader::Sqlite(p) => sqlx::query(sql).bind(from).bind(to).fetch_all(p).await?,
            Reader::Postgres(p) => {
                let rows = sqlx::query(sql).bind(from).bind(to).fetch_all(p).await?;
                return rows
                    .iter()
                    .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?)))
                    .collect();
            }
        };
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?)))
            .collect()
    }

    async fn count(&self, sql: &str, at: i64) -> anyhow::Result<i64> {
        Ok(match self {
            Reader::Sqlite(p) => sqlx::query(sql).bind(at).fetch_one(p).await?.try_get(0)?,
            Reader::Postgres(p) => sqlx::query(sql).bind(at).fetch_one(p).await?.try_get(0)?,
        })
    }

    /// Jobs due at `at` and not finished (queued or running).
    async fn due(&self, at: i64) -> anyhow::Result<i64> {
        self.count(
            "SELECT COUNT(*) FROM jobs WHERE status IN ('queued', 'running') AND run_at <= $1",
            at,
        )
        .await
    }
}

async fn run_on(args: &JobsArgs, target: &Target) -> anyhow::Result<bool> {
    let kind = target.kind();
    println!(
        "== bench jobs on {kind} ({} build, {} CPUs, {} open orders) ==",
        common::build_kind(),
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        args.open
    );
    let (store, reader) = match &target.pg {
        Some(pg) => {
            let store = danbao_store::Store::connect(&pg.url, Some(&pg.schema)).await?;
            let opts =
                sqlx::postgres::PgConnectOptions::from_str(&pg.url)?.options([("search_path", pg.schema.as_str())]);
            let pool = sqlx::postgres::PgPoolOptions::new()
                .max_connections(1)
                .connect_with(opts)
                .await?;
            (store, Reader::Postgres(pool))
        }
        None => {
            let path = target.dir.join("danbao.db");
            let store = danbao_store::Store::connect(&format!("sqlite:{}", path.display()), None).await?;
            // A connection of its own, so the benchmark's reads never queue on the
            // server's one connection (WAL lets a reader run beside the writer).
            let opts = sqlx::sqlite::SqliteConnectOptions::from_str(&format!("sqlite:{}", path.display()))?
                .read_only(true)
                .busy_timeout(Duration::from_secs(10));
            let pool = sqlx::sqlite::SqlitePoolOptions::new()
                .max_connections(1)
                .connect_with(opts)
                .await?;
            (store, Reader::Sqlite(pool))
        }
    };
    let offset = Arc::new(AtomicI64::new(0));
    let clock = Arc::new(OffsetClock(offset.clone()));
    let rules = bench_rules()?;
    let merchant_key: Vec<u8> = (0..32).map(|_| rand::random::<u8>()).collect();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let server = danbao_http::server::start(danbao_http::server::ServerConfig {
        store: store.clone(),
        clock: clock.clone(),
        vault: Vault::from_keys(rand::random(), rand::random()),
        listener,
        public_url: None,
        rules: rules.clone(),
        gateway: danbao_http::server::Gateway::InProcess {
            merchant_key,
            time_scale: 1.0,
            admin_secret: None,
            state_dir: None,
            epay_key: None,
            alipay: None,
            epay_v2: None,
            wechat: None,
        },
        worker_interval: Some(Duration::from_millis(WORKER_INTERVAL_MS)),
        files_dir: Some(target.dir.join("files")),
        secure_cookies: false,
        limits: danbao_app::limits::Limits::default(),
        rails: Vec::new(),
        metrics_token: None,
    })
    .await?;
    let app = server.app.clone();
    let faults = server
        .sandbox
        .as_ref()
        .map(|s| s.faults())
        .context("no in-process sandbox")?;
    if faults != danbao_sandbox::wire::Faults::default() {
        bail!("the sandbox's fault knobs are not all off: {faults:?}");
    }

    // The shop and the buyers, through the App as the operator's tools call it.
    let local = Origin::Local;
    let run_id = uuid::Uuid::new_v4().simple().to_string()[..8].to_string();
    let password = format!("bench-{run_id}-password");
    let seller = Caller::User(
        app.register(&local, &format!("bench{run_id}_seller"), &password, Role::Seller)
            .await?,
    );
    let product = app
        .create_product(
            &seller,
            NewProduct {
                title: format!("Bench {run_id} card"),
                description: "danbao bench jobs".into(),
                category: "game_cards".into(),
                price_minor: 1_000,
                delivery_kind: "card_key".into(),
                manual_fields: vec![],
            },
        )
        .await?;
    let keys: Vec<String> = (0..args.open).map(|i| format!("JOBS-{run_id}-{i:08}")).collect();
    for chunk in keys.chunks(KEY_IMPORT_CHUNK) {
        app.import_card_keys(&seller, &product.id, &chunk.join("\n")).await?;
    }
    let mut buyers = Vec::new();
    for b in 0..BUYERS.min(args.open) {
        buyers.push(Caller::User(
            app.register(&local, &format!("bench{run_id}_b{b}"), &password, Role::Buyer)
                .await?,
        ));
    }

    // The open orders.
    let t = Instant::now();
    let placed: Vec<anyhow::Result<()>> = futures::stream::iter(0..args.open)
        .map(|i| {
            let app = app.clone();
            let buyer = buyers[i % buyers.len()].clone();
            let product_id = product.id.clone();
            async move {
                app.place_order(
                    &buyer,
                    &Origin::Local,
                    PlaceOrder {
                        product_id,
                        quantity: 1,
                        ..Default::default()
                    },
                )
                .await?;
                anyhow::Ok(())
            }
        })
        .buffer_unordered(PLACE_CONCURRENCY)
        .collect()
        .await;
    let place_failed = placed.iter().filter(|r| r.is_err()).count();
    if let Some(Err(e)) = placed.iter().find(|r| r.is_err()) {
        println!("  failure placing an order: {e:#}");
    }
    let place_secs = t.elapsed().as_secs_f64();
    println!(
        "open orders placed through the App: {} in {place_secs:.1} s ({:.1}/s); failed: {place_failed}",
        args.open - place_failed,
        (args.open - place_failed) as f64 / place_secs.max(1e-9)
    );
    let t_last = clock.now_ms();
    let window = rules.payment_window_ms();
    let mut points = rules.active_query_times(t_last, t_last + window);
    points.push(t_last + window);
    points.sort_unstable();
    points.dedup();
    let schedule_s: Vec<String> = points.iter().map(|p| format!("{}", (p - t_last) / 1000)).collect();
    println!(
        "schedule (seconds after an order): {} — query_payment at each, expire_order at {}",
        schedule_s.join(", "),
        window / 1000
    );

    let mut all = Latencies::default();
    let mut total_jobs = 0usize;
    let mut total_busy_s = 0.0f64;
    let mut retried = 0usize;
    let mut backlog = 0i64;
    let mut prev = i64::MIN;
    for point in &points {
        // Jump the clock so that it reads `point` now.
        let now = clock.now_ms();
        if *point > now {
            offset.fetch_add(point - now, Ordering::SeqCst);
        }
        let jumped_at = clock.now_ms();
        let started = Instant::now();
        let deadline = started + Duration::from_secs(args.stage_timeout_secs);
        let mut left = reader.due(jumped_at).await?;
        while left > 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(POLL_MS)).await;
            left = reader.due(jumped_at).await?;
        }
        let done = reader.done(prev, *point).await?;
        let mut late = Latencies::default();
        let mut last_finish = jumped_at;
        let mut kinds = std::collections::BTreeMap::<String, usize>::new();
        for (kind, run_at, finished, attempts) in &done {
            let due = (*run_at).max(jumped_at);
            late.0.push((finished - due).max(0) as f64);
            last_finish = last_finish.max(*finished);
            *kinds.entry(kind.clone()).or_default() += 1;
            if *attempts > 1 {
                retried += 1;
            }
        }
        let busy_s = ((last_finish - jumped_at) as f64 / 1000.0).max(1e-3);
        let kinds_text: Vec<String> = kinds.iter().map(|(k, n)| format!("{n} {k}")).collect();
        println!(
            "at +{:>4} s: {} jobs ({}) in {busy_s:.1} s = {:.1} jobs/s; lateness p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms; backlog when it stopped waiting: {left}",
            (point - t_last) / 1000,
            done.len(),
            kinds_text.join(", "),
            done.len() as f64 / busy_s,
            late.pct(50.0),
            late.pct(99.0),
            late.pct(100.0),
        );
        total_jobs += done.len();
        total_busy_s += busy_s;
        all.extend(&late);
        backlog = left;
        prev = *point;
    }
    let dead = reader
        .count(
            "SELECT COUNT(*) FROM jobs WHERE status = 'dead' AND run_at <= $1",
            i64::MAX,
        )
        .await?;
    // A job that failed is queued again later than the point it belonged to, so it would
    // be neither due nor done above: counted here, whatever its state.
    let failing = reader
        .count(
            "SELECT COUNT(*) FROM jobs WHERE last_error IS NOT NULL AND run_at <= $1",
            i64::MAX,
        )
        .await?;
    let capacity = total_jobs as f64 / total_busy_s.max(1e-3);
    println!(
        "jobs: {total_jobs} in {total_busy_s:.1} s of draining = {capacity:.1} jobs/s; lateness p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms; final backlog: {backlog}; retried: {retried}; failing: {failing}; dead: {dead}",
        all.pct(50.0),
        all.pct(99.0),
        all.pct(100.0)
    );
    // What the schedule asks for in a steady state: `open` orders spread evenly over the
    // payment window, each with its queries and its expiry.
    let per_order = points.len() as f64 + 1.0;
    let need = args.open as f64 / (window as f64 / 1000.0) * per_order;
    println!(
        "steady state with {} orders open over a {} min window: about {need:.1} jobs/s needed; the queue drained {:.1}x that",
        args.open,
        window / 60_000,
        capacity / need.max(1e-9)
    );
    server.stop().await;
    match reader {
        Reader::Sqlite(p) => p.close().await,
        Reader::Postgres(p) => p.close().await,
    }
    store.close().await;
    Ok(place_failed == 0 && backlog == 0 && dead == 0 && failing == 0)
}
