//! `danbao bench orders`: how many paid orders a second the whole system completes, as a
//! share of what the database alone can durably write for them, and how per-order
//! latency grows with the orders already stored.
//!
//! 1. The raw baseline ([`super::raw`]): one paid order's writes per transaction, N tasks.
//! 2. The full path: the real server as a child process (`danbao serve --sandbox`, its
//!    in-process sandbox gateway), set up over the public API (a seller, a card-key
//!    product, its keys), then N client tasks each buying (as one logged-in buyer account
//!    per task, or with `--buyers guests` as a new guest per order), in a loop: create
//!    the order → pay at the sandbox (which signs and sends its notification to the server)
//!    → poll the order until it is delivered (the notification's handling, timed from the
//!    pay call) → reveal the key → confirm. The server's CPU time is read from
//!    /proc/<pid>/stat before and after the measured phase.
//! 3. The growth curve: the server stopped, completed orders seeded in bulk into its
//!    tables ([`super::seed`]) up to each `--existing` size, the server restarted, and the
//!    full path run again.
//!
//! The server's limits for a load test come from its documented `--limits FILE`: every
//! client task sends from 127.0.0.1 as one buyer, so checkout's per-address and
//! per-buyer rates and the per-address cap on unpaid stock are lifted there, and nothing
//! else (the rule set's per-buyer cap on unpaid stock stays as shipped: a task has one
//! unpaid order at a time).
//! The sandbox's fault knobs are read and must all be off.

use anyhow::{bail, Context};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::common::{self, Latencies, ServerChild, Target};
use super::raw::{self, RawDb};
use super::seed::{self, SeedDb};

#[derive(clap::Args, Clone, Debug)]
pub struct OrdersArgs {
    /// A PostgreSQL URL: the run is done on SQLite first, then in a fresh schema of this
    /// database (dropped at the end). Without it, on SQLite only.
    #[arg(long)]
    pub database_url: Option<String>,
    /// With --database-url: skip the SQLite run.
    #[arg(long, requires = "database_url")]
    pub postgres_only: bool,
    /// Concurrent client tasks (and raw baseline tasks).
    #[arg(long, default_value_t = 32)]
    pub clients: usize,
    /// Orders measured on the full path (and transactions in the raw baseline).
    #[arg(long, default_value_t = 2000)]
    pub orders: usize,
    /// Growth curve: existing completed orders seeded before each further run
    /// (cumulative, ascending).
    #[arg(long, value_delimiter = ',', default_value = "10000,100000,1000000")]
    pub existing: Vec<u64>,
    /// Run the server from this executable instead of this one: the same load against
    /// another build (e.g. one from before a change), for a before/after table.
    #[arg(long)]
    pub server_exe: Option<std::path::PathBuf>,
    /// Skip the growth curve (only the raw baseline and the full path).
    #[arg(long, conflicts_with = "existing")]
    pub no_growth: bool,
    /// Orders measured at each growth size (at most --orders).
    #[arg(long, default_value_t = 500)]
    pub growth_orders: usize,
    /// Keep the temporary directory and schema (they are kept anyway when a run fails).
    #[arg(long)]
    pub keep: bool,
    /// Who buys: `accounts` (each client task is one logged-in buyer, bearer token) or
    /// `guests` (contact + query password: every order also pays one argon2id hash of
    /// its query password, about 30 ms of CPU on this machine's cores).
    #[arg(long, value_enum, default_value = "accounts")]
    pub buyers: Buyers,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Buyers {
    Accounts,
    Guests,
}

/// How often a client asks whether its paid order is delivered yet.
const POLL_MS: u64 = 5;
/// A paid order not delivered by then counts as failed.
const DELIVERY_TIMEOUT_MS: u64 = 30_000;
const HTTP_TIMEOUT_MS: u64 = 30_000;
/// The API's bound on keys per import request.
const KEY_IMPORT_CHUNK: usize = 10_000;
const PRICE_MINOR: i64 = 1_000;
/// A guest's query password (8..=128 characters).
const QUERY_PASSWORD: &str = "bench-query-password";
/// Failure reasons printed per phase, at most.
const REASONS_SHOWN_MAX: usize = 5;

pub async fn run(mut args: OrdersArgs) -> anyhow::Result<ExitCode> {
    if args.clients == 0 || args.orders == 0 {
        eprintln!("error: --clients and --orders must be at least 1");
        return Ok(ExitCode::from(2));
    }
    if args.no_growth {
        args.existing.clear();
    }
    if args.existing.windows(2).any(|w| w[0] >= w[1]) {
        eprintln!("error: --existing sizes must ascend");
        return Ok(ExitCode::from(2));
    }
    let mut dbs: Vec<Option<String>> = Vec::new();
    if !args.postgres_only {
        dbs.push(None);
    }
    if let Some(url) = &args.database_url {
        dbs.push(Some(url.clone()));
    }
    let mut failed_total = 0;
    for db in dbs {
        let target = Target::new("orders", db.as_deref()).await?;
        let result = run_on(&args, &target).await;
        let keep = args.keep || !matches!(result, Ok(0));
        target.cleanup(keep).await;
        failed_total += result?;
    }
    Ok(if failed_total == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// One database: raw baseline, full path, growth curve. Returns the failed orders.
async fn run_on(args: &OrdersArgs, target: &Target) -> anyhow::Result<usize> {
    let kind = target.kind();
    let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let (ticks_per_s, ticks_source) = common::clock_ticks_per_s();
    println!(
        "== bench orders on {kind} ({} build, {cpus} CPUs, {} clients, {} orders, buyers: {}) ==",
        common::build_kind(),
        args.clients,
        args.orders,
        match args.buyers {
            Buyers::Accounts => "accounts",
            Buyers::Guests => "guests",
        }
    );
    if let Some(exe) = &args.server_exe {
        println!("server executable: {}", exe.display());
    }
    let warmup = (args.clients * 4).min(args.orders);

    // 1. The raw baseline.
    let raw_db = match &target.pg {
        Some(pg) => RawDb::Postgres {
            url: pg.url.clone(),
            schema: pg.schema.clone(),
        },
        None => RawDb::Sqlite {
            path: target.dir.join("raw.db"),
        },
    };
    let raw = raw::run(&raw_db, args.clients, args.orders, warmup).await?;
    let durability = match &target.pg {
        Some(_) => "PostgreSQL defaults, synchronous_commit on",
        None => "SQLite WAL, synchronous=FULL",
    };
    println!(
        "raw baseline ({durability}): {} orders in {:.2} s = {:.1} orders/s; per transaction p50 {:.2} ms, p99 {:.2} ms",
        raw.orders,
        raw.secs,
        raw.per_s,
        raw.latency.pct(50.0),
        raw.latency.pct(99.0)
    );

    // 2. The full path.
    let exe = match &args.server_exe {
        Some(exe) => exe.clone(),
        None => std::env::current_exe().context("finding the danbao executable")?,
    };
    let limits = target.dir.join("bench-limits.toml");
    std::fs::write(&limits, bench_limits()).with_context(|| format!("writing {}", limits.display()))?;
    let data_dir = target.dir.join("server");
    let mut server_args: Vec<String> = vec![
        "serve".into(),
        "--sandbox".into(),
        "--data-dir".into(),
        data_dir.display().to_string(),
        "--limits".into(),
        limits.display().to_string(),
    ];
    if let Some(pg) = &target.pg {
        server_args.extend(["--database-url".to_string(), pg.url_in_schema()]);
    }
    let http = reqwest::Client::builder()
        .timeout(Duration::from_millis(HTTP_TIMEOUT_MS))
        .build()
        .context("building the HTTP client")?;
    let mut starts = 0;
    let mut start = |http: reqwest::Client| {
        starts += 1;
        let log = target.dir.join(format!("server-{starts}.log"));
        let exe = exe.clone();
        let server_args = server_args.clone();
        async move { ServerChild::start(&exe, &server_args, &log, &http).await }
    };
    let server = start(http.clone()).await?;
    let run_id = uuid::Uuid::new_v4().simple().to_string()[..8].to_string();
    let shop = setup(&http, &server.base_url, &run_id).await?;
    check_faults_off(&http, &server.base_url).await?;
    let keys_needed =
        warmup + args.orders + args.existing.len() * (args.growth_orders.min(args.orders) + args.clients * 2);
    import_keys(&http, &server.base_url, &shop, &run_id, keys_needed).await?;

    let buyer_tokens = match args.buyers {
        Buyers::Accounts => Some(Arc::new(buyers(&http, &server.base_url, &run_id, args.clients).await?)),
        Buyers::Guests => None,
    };
    let client = Client {
        http: http.clone(),
        base: server.base_url.clone(),
        product_id: shop.product_id.clone(),
        run_id: run_id.clone(),
        buyer_tokens,
    };
    let warm = load(&client, "warmup", args.clients, warmup).await;
    let cpu0 = (
        server.cpu_ticks()?,
        common::process_cpu_ticks("self")?,
        common::machine_busy_ticks()?,
    );
    let measured = load(&client, "main", args.clients, args.orders).await;
    let cpu1 = (
        server.cpu_ticks()?,
        common::process_cpu_ticks("self")?,
        common::machine_busy_ticks()?,
    );
    let ms_per_order = |ticks: u64| ticks as f64 * 1000.0 / ticks_per_s as f64 / measured.completed.max(1) as f64;
    let full_per_s = measured.completed as f64 / measured.secs.max(1e-9);
    println!(
        "full path over HTTP: {} orders completed in {:.2} s = {:.1} orders/s (after {} warm-up orders, {} of them failed)",
        measured.completed,
        measured.secs,
        full_per_s,
        warmup,
        warm.failed
    );
    println!("failed orders: {}", measured.failed);
    for r in &measured.reasons {
        println!("  failure: {r}");
    }
    for (name, l) in measured.steps() {
        println!(
            "  step {name:<40} p50 {:>8.2} ms   p99 {:>8.2} ms",
            l.pct(50.0),
            l.pct(99.0)
        );
    }
    println!(
        "  status polls per order while waiting for delivery: {:.1} (one every {POLL_MS} ms)",
        measured.polls as f64 / measured.completed.max(1) as f64
    );
    println!(
        "  server CPU per order: {:.2} ms (user+system of the server process, /proc/{}/stat; {ticks_per_s} ticks/s from {ticks_source})",
        ms_per_order(cpu1.0.saturating_sub(cpu0.0)),
        server.pid
    );
    println!(
        "  load generator CPU per order: {:.2} ms; whole machine busy CPU per order: {:.2} ms (all processes{})",
        ms_per_order(cpu1.1.saturating_sub(cpu0.1)),
        ms_per_order(cpu1.2.saturating_sub(cpu0.2)),
        if target.pg.is_some() {
            ", PostgreSQL included"
        } else {
            ""
        }
    );
    println!("ratio full/raw: {:.2}", full_per_s / raw.per_s.max(1e-9));
    let mut failed = measured.failed + warm.failed;

    // 3. The growth curve.
    let mut server = Some(server);
    let mut seeded = 0u64;
    let mut first: Option<(f64, f64)> = None;
    let growth_orders = args.growth_orders.min(args.orders);
    for (i, size) in args.existing.iter().enumerate() {
        if let Some(s) = server.take() {
            s.stop().await?;
        }
        eprintln!("seeding {} existing orders ({seeded} already) …", size);
        let db = match &target.pg {
            Some(pg) => SeedDb::open_postgres(&pg.url, &pg.schema).await?,
            None => SeedDb::open_sqlite(&data_dir.join("danbao.db")).await?,
        };
        let secs = seed::seed(&db, &shop.seller_id, &shop.product_id, seeded, *size).await?;
        db.close().await;
        let per_100k = secs / ((size - seeded) as f64 / 100_000.0);
        seeded = *size;
        let s = start(http.clone()).await?;
        let client = Client {
            base: s.base_url.clone(),
            ..client.clone()
        };
        let warm = load(&client, &format!("g{i}w"), args.clients, args.clients * 2).await;
        let run = load(&client, &format!("g{i}"), args.clients, growth_orders).await;
        server = Some(s);
        failed += warm.failed + run.failed;
        let (c50, c99) = (run.create.pct(50.0), run.create.pct(99.0));
        let (n50, n99) = (run.notify.pct(50.0), run.notify.pct(99.0));
        let (fc, fn_) = *first.get_or_insert((c50, n50));
        println!(
            "existing {size}: seeded in {secs:.1} s ({per_100k:.1} s per 100k); {} orders at {:.1} orders/s; create p50 {c50:.2} ms p99 {c99:.2} ms; notification p50 {n50:.2} ms p99 {n99:.2} ms; failed orders: {}",
            run.completed,
            run.completed as f64 / run.secs.max(1e-9),
            run.failed
        );
        println!(
            "existing {size}: against {} existing: create p50 {:.2}x, notification p50 {:.2}x",
            args.existing.first().copied().unwrap_or(0),
            c50 / fc.max(1e-9),
            n50 / fn_.max(1e-9)
        );
        for r in &run.reasons {
            println!("  failure: {r}");
        }
    }
    if let Some(s) = server.take() {
        s.stop().await?;
    }
    Ok(failed)
}

/// The server limits of a load test from one address (`serve --limits FILE`): the
/// checkout, registration and login rates per address and the unpaid stock per address
/// lifted (every client task registers and logs in from 127.0.0.1), and the checkout rate
/// per buyer (each client task is one buyer placing hundreds of orders); the rest shipped.
fn bench_limits() -> String {
    "# danbao bench orders: every client sends from 127.0.0.1, each as one buyer.\n\
     unpaid_units_per_address_max = 1000000\n\
     [checkout]\n\
     per_address = { burst = 1000000, per_hour = 1000000 }\n\
     per_account = { burst = 1000000, per_hour = 1000000 }\n\
     [register]\n\
     per_address = { burst = 100000, per_hour = 100000 }\n\
     per_account = { burst = 5, per_hour = 20 }\n\
     [login]\n\
     per_address = { burst = 100000, per_hour = 100000 }\n\
     per_account = { burst = 5, per_hour = 20 }\n"
        .to_string()
}

/// One buyer account per client task, registered and logged in before anything is
/// measured; returns their bearer tokens.
async fn buyers(http: &reqwest::Client, base: &str, run_id: &str, n: usize) -> anyhow::Result<Vec<String>> {
    let mut tokens = Vec::with_capacity(n);
    for k in 0..n {
        let username = format!("bench{run_id}_buyer{k}");
        let password = format!("bench-{run_id}-password");
        call(
            http.post(format!("{base}/api/v1/accounts"))
                .json(&json!({"username": username, "password": password, "role": "buyer"})),
            StatusCode::CREATED,
            "registering a buyer",
        )
        .await?;
        let session = call(
            http.post(format!("{base}/api/v1/sessions"))
                .json(&json!({"username": username, "password": password})),
            StatusCode::OK,
            "logging a buyer in",
        )
        .await?;
        tokens.push(field(&session, "token")?);
    }
    Ok(tokens)
}

struct Shop {
    seller_token: String,
    seller_id: String,
    product_id: String,
}

async fn call(req: reqwest::RequestBuilder, expect: StatusCode, what: &str) -> anyhow::Result<Value> {
    let resp = req.send().await.with_context(|| what.to_string())?;
    let status = resp.status();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    if status != expect {
        bail!("{what}: expected {expect}, got {status} {body}");
    }
    Ok(body)
}

fn field(v: &Value, name: &str) -> anyhow::Result<String> {
    v.get(name)
        .and_then(Value::as_str)
        .map(str::to_string)
        .with_context(|| format!("no `{name}` in {v}"))
}

/// A seller (registered and logged in over the API) and a card-key product.
async fn setup(http: &reqwest::Client, base: &str, run_id: &str) -> anyhow::Result<Shop> {
    let username = format!("bench{run_id}_seller");
    let password = format!("bench-{run_id}-password");
    let account = call(
        http.post(format!("{base}/api/v1/accounts"))
            .json(&json!({"username": username, "password": password, "role": "seller"})),
        StatusCode::CREATED,
        "registering the seller",
    )
    .await?;
    let seller_id = field(&account, "id")?;
    let session = call(
        http.post(format!("{base}/api/v1/sessions"))
            .json(&json!({"username": username, "password": password})),
        StatusCode::OK,
        "logging in",
    )
    .await?;
    let seller_token = field(&session, "token")?;
    pay_deposit(http, base, &seller_token).await?;
    let product = call(
        http.post(format!("{base}/api/v1/seller/products"))
            .bearer_auth(&seller_token)
            .json(&json!({
                "title": format!("Bench {run_id} card"),
                "description": "danbao bench orders",
                "category": "game_cards",
                "price_minor": PRICE_MINOR,
                "delivery_kind": "card_key",
            })),
        StatusCode::CREATED,
        "creating the product",
    )
    .await?;
    Ok(Shop {
        seller_token,
        seller_id,
        product_id: field(&product, "id")?,
    })
}

/// Pays the deposit listing needs through the sandbox's cashier, as a seller would, and
/// waits for the notification to book it.
async fn pay_deposit(http: &reqwest::Client, base: &str, seller_token: &str) -> anyhow::Result<()> {
    let balance_of = || async {
        call(
            http.get(format!("{base}/api/v1/seller/balance"))
                .bearer_auth(seller_token),
            StatusCode::OK,
            "reading the seller's balance",
        )
        .await
    };
    let figure = |v: &Value, name: &str| {
        v.get(name)
            .and_then(Value::as_i64)
            .with_context(|| format!("no `{name}` in {v}"))
    };
    let balance = balance_of().await?;
    let required = figure(&balance, "deposit_required_minor")?;
    if figure(&balance, "deposit_minor")? >= required || required == 0 {
        return Ok(());
    }
    let payment = call(
        http.post(format!("{base}/api/v1/seller/deposit/payments"))
            .bearer_auth(seller_token)
            .json(&json!({"amount_minor": required})),
        StatusCode::CREATED,
        "starting the deposit payment",
    )
    .await?;
    let payment_id = field(&payment, "payment_id")?;
    let resp = http
        .post(format!("{base}/sandbox/payments/{payment_id}/pay"))
        .send()
        .await
        .context("paying the deposit at the sandbox")?;
    if !resp.status().is_success() {
        bail!("paying the deposit at the sandbox: {}", resp.status());
    }
    for _ in 0..200 {
        if figure(&balance_of().await?, "deposit_minor")? >= required {
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    bail!("the deposit payment was never booked")
}

async fn import_keys(http: &reqwest::Client, base: &str, shop: &Shop, run_id: &str, n: usize) -> anyhow::Result<()> {
    let keys: Vec<String> = (0..n)
        .map(|i| {
            format!(
                "BENCH-{run_id}-{i:08}-{}",
                &uuid::Uuid::new_v4().simple().to_string()[..12]
            )
        })
        .collect();
    let mut imported = 0;
    for chunk in keys.chunks(KEY_IMPORT_CHUNK) {
        let v = call(
            http.post(format!("{base}/api/v1/seller/products/{}/card-keys", shop.product_id))
                .bearer_auth(&shop.seller_token)
                .header("content-type", "text/plain")
                .body(chunk.join("\n")),
            StatusCode::OK,
            "importing card keys",
        )
        .await?;
        imported += v.get("imported").and_then(Value::as_u64).unwrap_or(0);
    }
    if imported != u64::try_from(n)? {
        bail!("imported {imported} card keys of {n}");
    }
    Ok(())
}

/// The sandbox's fault knobs must all be off: the benchmark measures the happy path.
async fn check_faults_off(http: &reqwest::Client, base: &str) -> anyhow::Result<()> {
    let faults: danbao_sandbox::wire::Faults = http
        .get(format!("{base}/sandbox/admin/faults"))
        .send()
        .await
        .context("reading the sandbox's fault knobs")?
        .json()
        .await
        .context("reading the sandbox's fault knobs")?;
    if faults != danbao_sandbox::wire::Faults::default() {
        bail!("the sandbox's fault knobs are not all off: {faults:?}");
    }
    Ok(())
}

#[derive(Clone)]
struct Client {
    http: reqwest::Client,
    base: String,
    product_id: String,
    run_id: String,
    /// Bearer tokens, one per client task; None: every order is a guest's.
    buyer_tokens: Option<Arc<Vec<String>>>,
}

#[derive(Default)]
struct LoadResult {
    completed: usize,
    failed: usize,
    reasons: Vec<String>,
    secs: f64,
    polls: usize,
    create: Latencies,
    pay: Latencies,
    notify: Latencies,
    delivery: Latencies,
    confirm: Latencies,
    total: Latencies,
}

impl LoadResult {
    fn steps(&self) -> [(&'static str, &Latencies); 6] {
        [
            ("create (POST /api/v1/orders)", &self.create),
            ("pay (POST /sandbox/payments/…/pay)", &self.pay),
            ("notification (pay call → delivered)", &self.notify),
            ("delivery (GET …/delivery)", &self.delivery),
            ("confirm (POST …/confirm)", &self.confirm),
            ("whole order", &self.total),
        ]
    }

    fn merge(&mut self, o: LoadResult) {
        self.completed += o.completed;
        self.failed += o.failed;
        for r in o.reasons {
            if self.reasons.len() < REASONS_SHOWN_MAX {
                self.reasons.push(r);
            }
        }
        self.polls += o.polls;
        self.create.extend(&o.create);
        self.pay.extend(&o.pay);
        self.notify.extend(&o.notify);
        self.delivery.extend(&o.delivery);
        self.confirm.extend(&o.confirm);
        self.total.extend(&o.total);
    }
}

/// `orders` orders from `clients` tasks; `phase` keeps the guests' contacts distinct.
async fn load(client: &Client, phase: &str, clients: usize, orders: usize) -> LoadResult {
    let next = Arc::new(AtomicUsize::new(0));
    let all = Arc::new(Mutex::new(LoadResult::default()));
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients.min(orders.max(1)))
        .map(|slot| {
            let client = client.clone();
            let next = next.clone();
            let all = all.clone();
            let phase = phase.to_string();
            tokio::spawn(async move {
                let mut mine = LoadResult::default();
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    if i >= orders {
                        break;
                    }
                    if let Err(e) = one_order(&client, &phase, i, slot, &mut mine).await {
                        mine.failed += 1;
                        if mine.reasons.len() < REASONS_SHOWN_MAX {
                            mine.reasons.push(format!("{e:#}"));
                        }
                    }
                }
                all.lock().unwrap_or_else(|e| e.into_inner()).merge(mine);
            })
        })
        .collect();
    for t in tasks {
        if t.await.is_err() {
            all.lock().unwrap_or_else(|e| e.into_inner()).failed += 1;
        }
    }
    let mut result = std::mem::take(&mut *all.lock().unwrap_or_else(|e| e.into_inner()));
    result.secs = started.elapsed().as_secs_f64();
    result
}

/// One order (client task `slot`'s buyer, or a guest), start to finish; its step
/// latencies go into `out`.
async fn one_order(c: &Client, phase: &str, i: usize, slot: usize, out: &mut LoadResult) -> anyhow::Result<()> {
    let t_order = Instant::now();
    let bearer = c.buyer_tokens.as_ref().and_then(|t| t.get(slot)).cloned();
    let body = match &bearer {
        Some(_) => json!({"product_id": c.product_id, "quantity": 1}),
        None => json!({
            "product_id": c.product_id,
            "quantity": 1,
            "contact": format!("b{}-{phase}-{i}@example.com", c.run_id),
            "query_password": QUERY_PASSWORD,
        }),
    };
    // A buyer sends its token; a guest the order's access token in the address.
    let as_buyer = |req: reqwest::RequestBuilder| match &bearer {
        Some(t) => req.bearer_auth(t),
        None => req,
    };
    let t = Instant::now();
    let placed = call(
        as_buyer(c.http.post(format!("{}/api/v1/orders", c.base))).json(&body),
        StatusCode::CREATED,
        "creating an order",
    )
    .await?;
    let create = t.elapsed();
    let id = field(&placed, "id")?;
    let access = match &bearer {
        Some(_) => String::new(),
        None => format!("?access_token={}", field(&placed, "access_token")?),
    };
    let payment_id = placed
        .get("payment")
        .map(|p| field(p, "payment_id"))
        .transpose()?
        .context("no payment in the order")?;

    let t_pay = Instant::now();
    let resp = c
        .http
        .post(format!("{}/sandbox/payments/{payment_id}/pay", c.base))
        .send()
        .await
        .context("paying at the sandbox")?;
    if !resp.status().is_success() {
        bail!("paying at the sandbox: {}", resp.status());
    }
    let pay = t_pay.elapsed();

    let order_url = format!("{}/api/v1/orders/{id}{access}", c.base);
    let mut polls = 0;
    loop {
        polls += 1;
        let v = call(as_buyer(c.http.get(&order_url)), StatusCode::OK, "reading the order").await?;
        match v.get("status").and_then(Value::as_str) {
            Some("delivered") => break,
            Some("pending_payment" | "paid") => {}
            other => bail!("order {id} became {other:?} instead of delivered"),
        }
        if t_pay.elapsed() > Duration::from_millis(DELIVERY_TIMEOUT_MS) {
            bail!("order {id} not delivered {DELIVERY_TIMEOUT_MS} ms after it was paid");
        }
        tokio::time::sleep(Duration::from_millis(POLL_MS)).await;
    }
    let notify = t_pay.elapsed();

    let t = Instant::now();
    let delivered = call(
        as_buyer(c.http.get(format!("{}/api/v1/orders/{id}/delivery{access}", c.base))),
        StatusCode::OK,
        "revealing the delivery",
    )
    .await?;
    if delivered
        .get("items")
        .and_then(Value::as_array)
        .is_none_or(|a| a.is_empty())
    {
        bail!("order {id}: the delivery has no items: {delivered}");
    }
    let delivery = t.elapsed();

    let t = Instant::now();
    let confirmed = call(
        as_buyer(c.http.post(format!("{}/api/v1/orders/{id}/confirm{access}", c.base))),
        StatusCode::OK,
        "confirming",
    )
    .await?;
    if confirmed.get("status").and_then(Value::as_str) != Some("completed") {
        bail!("order {id}: confirm answered {confirmed}");
    }
    let confirm = t.elapsed();

    out.completed += 1;
    out.polls += polls;
    out.create.push(create);
    out.pay.push(pay);
    out.notify.push(notify);
    out.delivery.push(delivery);
    out.confirm.push(confirm);
    out.total.push(t_order.elapsed());
    Ok(())
}
