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

use std::collections::{HashMap, HashSet};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use danbao_sandbox::client::{ClientError, SandboxClient};
use danbao_sandbox::wire::Faults;
use futures::StreamExt;
use rand::seq::SliceRandom;
use rand::Rng;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use tokio::process::{Child, Command};

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
/// Environment variables the child commands would read instead of their arguments.
const CHILD_ENV_REMOVED: [&str; 7] = [
    "DANBAO_DATA_DIR",
    "DANBAO_DATABASE_URL",
    "DANBAO_PORT",
    "DANBAO_BIND",
    "DANBAO_PUBLIC_URL",
    "DANBAO_SANDBOX_URL",
    "DANBAO_ACCOUNT_PASSWORD",
];
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
}

/// The faults while orders are being placed and paid.
fn chaos_faults() -> Faults {
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

pub async fn run(args: ChaosArgs) -> anyhow::Result<ExitCode> {
    if args.orders == 0 || args.concurrency == 0 || args.buyers == 0 {
        eprintln!("error: --orders, --concurrency and --buyers must be at least 1");
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

// ---------------------------------------------------------------------------------------
// Child processes

#[derive(Default)]
struct Children {
    sandbox: Option<Child>,
    server: Option<Child>,
}

/// Kills both children however `run_in` ends, an early `?` included.
struct ChildGuard(Arc<Mutex<Children>>);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let mut guard = lock(&self.0);
        let children = &mut *guard;
        for child in [children.sandbox.as_mut(), children.server.as_mut()]
            .into_iter()
            .flatten()
        {
            let _ = child.start_kill();
        }
    }
}

/// Kills both children and waits for them, so that none is left behind as a zombie.
async fn shutdown(children: &Mutex<Children>) {
    let taken = {
        let mut c = lock(children);
        [c.sandbox.take(), c.server.take()]
    };
    for mut child in taken.into_iter().flatten() {
        let _ = child.start_kill();
        let _ = child.wait().await;
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// How to start the platform server, again and again.
struct Platform {
    exe: PathBuf,
    dir: PathBuf,
    args: Vec<String>,
    base_url: String,
    children: Arc<Mutex<Children>>,
    starts: AtomicUsize,
    /// Bumped at every start: a request that got no answer from an earlier generation
    /// reached a process that is now dead.
    generation: AtomicU64,
    kills: AtomicUsize,
}

fn child_command(exe: &Path, args: &[String], log: &Path) -> anyhow::Result<Command> {
    let file = std::fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
    let err = file.try_clone().context("duplicating a log file handle")?;
    let mut cmd = Command::new(exe);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::from(file))
        .stderr(Stdio::from(err))
        .kill_on_drop(true);
    for var in CHILD_ENV_REMOVED {
        cmd.env_remove(var);
    }
    Ok(cmd)
}

impl Platform {
    fn start(&self) -> anyhow::Result<()> {
        let n = self.starts.fetch_add(1, Ordering::SeqCst) + 1;
        let log = self.dir.join(format!("server-{n}.log"));
        let child = child_command(&self.exe, &self.args, &log)?
            .spawn()
            .context("starting the platform server")?;
        self.generation.fetch_add(1, Ordering::SeqCst);
        lock(&self.children).server = Some(child);
        Ok(())
    }

    async fn wait_ready(&self, http: &reqwest::Client) -> anyhow::Result<()> {
        let url = format!("{}/readyz", self.base_url);
        wait_until_ok(http, &url, || {
            lock(&self.children)
                .server
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
                .map(|status| format!("the server exited ({status}); see {}", self.dir.display()))
        })
        .await
        .context("waiting for the platform server to be ready")
    }

    /// SIGKILL (what `start_kill` sends on Unix), and wait for the process to be gone.
    async fn kill(&self) -> anyhow::Result<()> {
        let child = lock(&self.children).server.take();
        if let Some(mut child) = child {
            child.start_kill().context("killing the platform server")?;
            child.wait().await.context("waiting for the killed server")?;
            self.kills.fetch_add(1, Ordering::SeqCst);
        }
        Ok(())
    }
}

/// Polls `url` until it answers 200; `exited` reports a child that died meanwhile.
async fn wait_until_ok(http: &reqwest::Client, url: &str, exited: impl Fn() -> Option<String>) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_millis(READY_TIMEOUT_MS);
    loop {
        if let Some(why) = exited() {
            bail!("{why}");
        }
        if let Ok(resp) = http.get(url).send().await {
            if resp.status() == StatusCode::OK {
                return Ok(());
            }
        }
        if Instant::now() > deadline {
            bail!("{url} did not answer 200 within {READY_TIMEOUT_MS} ms");
        }
        tokio::time::sleep(Duration::from_millis(READY_POLL_MS)).await;
    }
}

fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(listener.local_addr()?.port())
}

/// The default rule set with the active-query schedule shortened to seconds.
fn chaos_rules() -> (String, Vec<&'static str>) {
    let mut text = danbao_domain::rules::DEFAULT_RULES_TOML.to_string();
    let mut missing = Vec::new();
    for (from, to, name) in [
        (
            "active_query_schedule_seconds = [60, 300, 900]",
            "active_query_schedule_seconds = [2, 5, 10]",
            "payments.active_query_schedule_seconds",
        ),
        (
            "query_after_expiry_seconds = 60",
            "query_after_expiry_seconds = 5",
            "payments.query_after_expiry_seconds",
        ),
    ] {
        if text.contains(from) {
            text = text.replace(from, to);
        } else {
            missing.push(name);
        }
    }
    (text, missing)
}

// ---------------------------------------------------------------------------------------
// The platform API, from the outside

struct Api {
    http: reqwest::Client,
    base: String,
}

/// An answer: status and JSON body (`Value::Null` when the body is not JSON).
struct Answer {
    status: StatusCode,
    body: Value,
}

impl Answer {
    fn problem_type(&self) -> &str {
        self.body.get("type").and_then(Value::as_str).unwrap_or("")
    }

    /// The route itself does not exist (an endpoint not built yet), as opposed to a 404
    /// for a missing resource.
    fn no_such_route(&self) -> bool {
        self.status == StatusCode::METHOD_NOT_ALLOWED
            || (self.status == StatusCode::NOT_FOUND
                && self.body.get("detail").and_then(Value::as_str) == Some("no such route"))
    }
}

impl Api {
    async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Result<Answer, reqwest::Error> {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req.send().await?;
        let status = resp.status();
        let bytes = resp.bytes().await?;
        Ok(Answer {
            status,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        })
    }

    /// For setup and checks, while no process is being killed: retries transport errors
    /// and 5xx a few times, then insists on `expect`.
    async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
        expect: StatusCode,
    ) -> anyhow::Result<Value> {
        let answer = self.call_raw(method.clone(), path, token, body).await?;
        if answer.status != expect {
            bail!(
                "{method} {path}: expected {expect}, got {} {}",
                answer.status,
                answer.body
            );
        }
        Ok(answer.body)
    }

    async fn call_raw(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> anyhow::Result<Answer> {
        const ATTEMPTS_MAX: u32 = 20;
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.send(method.clone(), path, token, body).await {
                Ok(a) if !a.status.is_server_error() => return Ok(a),
                Ok(a) if attempt >= ATTEMPTS_MAX => return Ok(a),
                Err(e) if attempt >= ATTEMPTS_MAX => return Err(e).with_context(|| format!("{method} {path}")),
                _ => backoff().await,
            }
        }
    }

    async fn login(&self, username: &str, password: &str) -> anyhow::Result<String> {
        let body = json!({"username": username, "password": password});
        let v = self
            .call(Method::POST, "/api/v1/sessions", None, Some(&body), StatusCode::OK)
            .await?;
        str_field(&v, "token")
    }

    async fn register(&self, username: &str, password: &str, role: &str) -> anyhow::Result<String> {
        let body = json!({"username": username, "password": password, "role": role});
        self.call(Method::POST, "/api/v1/accounts", None, Some(&body), StatusCode::CREATED)
            .await?;
        self.login(username, password).await
    }
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

// ---------------------------------------------------------------------------------------
// The run

struct OrderRecord {
    buyer: usize,
    order_id: String,
    payment_id: String,
    amount_minor: i64,
    /// When the sandbox says it was paid; `None` if paying failed.
    paid_at: Option<String>,
    /// Every `SECOND_PAYMENT_EVERY`th order is paid twice, through a second payment
    /// attempt: the platform must refund one of the two, automatically.
    second_payment: Option<String>,
    second_paid: bool,
}

/// One order in this many is paid twice (the refund path under chaos).
const SECOND_PAYMENT_EVERY: usize = 25;

#[derive(Default)]
struct Counters {
    /// Orders whose placing is over, one way or another.
    done: AtomicUsize,
    placed: AtomicUsize,
    out_of_stock: AtomicUsize,
    not_placed: AtomicUsize,
    /// Not placed because the key's request died with a killed server and the restarted
    /// one answers "in progress" for ever.
    orphaned_keys: AtomicUsize,
    /// Checkout answered 502: the gateway could not open a payment.
    provider_unavailable: AtomicUsize,
    retries: AtomicUsize,
    paid: AtomicUsize,
    pay_failed: AtomicUsize,
}

struct Shared {
    api: Api,
    sandbox: SandboxClient,
    platform: Platform,
    product_id: String,
    buyer_tokens: Vec<String>,
    run_id: String,
    orders: usize,
    order_timeout: Duration,
    next: AtomicUsize,
    counters: Counters,
    workers_done: AtomicBool,
    records: Mutex<Vec<OrderRecord>>,
    /// The first few unexpected answers, for the summary.
    oddities: Mutex<Vec<String>>,
}

impl Shared {
    fn note(&self, what: String) {
        const ODDITIES_MAX: usize = 10;
        let mut o = lock(&self.oddities);
        if o.len() < ODDITIES_MAX {
            o.push(what);
        }
    }
}

enum Checkout {
    Order(OrderRecord),
    OutOfStock,
    NotPlaced { orphaned: bool },
}

async fn buyer_task(s: Arc<Shared>) {
    loop {
        let i = s.next.fetch_add(1, Ordering::SeqCst);
        if i >= s.orders {
            return;
        }
        let buyer = i % s.buyer_tokens.len();
        let c = &s.counters;
        match place(&s, i, buyer).await {
            Checkout::Order(mut record) => {
                c.placed.fetch_add(1, Ordering::SeqCst);
                c.done.fetch_add(1, Ordering::SeqCst);
                if i % SECOND_PAYMENT_EVERY == SECOND_PAYMENT_EVERY - 1 {
                    record.second_payment = second_attempt(&s, &record).await;
                }
                record.paid_at = pay(&s, &record.payment_id).await;
                if let Some(second) = record.second_payment.clone() {
                    record.second_paid = pay(&s, &second).await.is_some();
                }
                if record.paid_at.is_some() {
                    c.paid.fetch_add(1, Ordering::SeqCst);
                } else {
                    c.pay_failed.fetch_add(1, Ordering::SeqCst);
                }
                lock(&s.records).push(record);
            }
            Checkout::OutOfStock => {
                c.out_of_stock.fetch_add(1, Ordering::SeqCst);
                c.done.fetch_add(1, Ordering::SeqCst);
            }
            Checkout::NotPlaced { orphaned } => {
                if orphaned {
                    c.orphaned_keys.fetch_add(1, Ordering::SeqCst);
                }
                c.not_placed.fetch_add(1, Ordering::SeqCst);
                c.done.fetch_add(1, Ordering::SeqCst);
            }
        }
    }
}

/// Places order `i`, retrying with the same Idempotency-Key through kills and outages.
async fn place(s: &Shared, i: usize, buyer: usize) -> Checkout {
    let key = format!("chaos-{}-{i}", s.run_id);
    let body = json!({"product_id": s.product_id, "quantity": 1});
    let token = &s.buyer_tokens[buyer];
    let started = Instant::now();
    // The oldest server generation a request of ours reached without an answer.
    let mut unanswered_since: Option<u64> = None;
    let mut orphan_seen = false;
    loop {
        if started.elapsed() > s.order_timeout {
            s.note(format!("order {i}: gave up after {} s", s.order_timeout.as_secs()));
            return Checkout::NotPlaced { orphaned: orphan_seen };
        }
        let generation = s.platform.generation.load(Ordering::SeqCst);
        let sent = s
            .api
            .http
            .post(format!("{}/api/v1/orders", s.api.base))
            .bearer_auth(token)
            .header("idempotency-key", &key)
            .json(&body)
            .send()
            .await;
        let answer = match sent {
            Ok(resp) => {
                let status = resp.status();
                match resp.bytes().await {
                    Ok(bytes) => Some(Answer {
                        status,
                        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
                    }),
                    Err(_) => None,
                }
            }
            Err(_) => None,
        };
        let Some(answer) = answer else {
            unanswered_since.get_or_insert(generation);
            s.counters.retries.fetch_add(1, Ordering::SeqCst);
            backoff().await;
            continue;
        };
        match answer.status {
            StatusCode::CREATED => {
                let v = &answer.body;
                let record = (|| {
                    Some(OrderRecord {
                        buyer,
                        order_id: v.get("id")?.as_str()?.to_string(),
                        payment_id: v.get("payment")?.get("payment_id")?.as_str()?.to_string(),
                        amount_minor: v.get("amount_minor")?.as_i64()?,
                        paid_at: None,
                        second_payment: None,
                        second_paid: false,
                    })
                })();
                return match record {
                    Some(r) => Checkout::Order(r),
                    None => {
                        s.note(format!("order {i}: unreadable 201 body {v}"));
                        Checkout::NotPlaced { orphaned: false }
                    }
                };
            }
            StatusCode::CONFLICT if answer.problem_type().ends_with("out-of-stock") => return Checkout::OutOfStock,
            StatusCode::CONFLICT if answer.problem_type().ends_with("idempotency-in-progress") => {
                // We send one request per key at a time, so "in progress" after an
                // unanswered request to a server that has since been killed is that dead
                // request's entry: the server lets the key be taken over once it is older
                // than danbao_store::IDEMPOTENCY_ABANDONED_AFTER_MS, so keep retrying.
                let now = s.platform.generation.load(Ordering::SeqCst);
                if unanswered_since.is_some_and(|g| g < now) {
                    orphan_seen = true;
                }
            }
            status if status.is_server_error() => {
                if status == StatusCode::BAD_GATEWAY {
                    s.counters.provider_unavailable.fetch_add(1, Ordering::SeqCst);
                }
            }
            status => {
                s.note(format!("order {i}: unexpected {status} {}", answer.body));
                return Checkout::NotPlaced { orphaned: false };
            }
        }
        s.counters.retries.fetch_add(1, Ordering::SeqCst);
        backoff().await;
    }
}

/// A second payment attempt for an unpaid order (the buyer reopened the cashier).
async fn second_attempt(s: &Shared, r: &OrderRecord) -> Option<String> {
    let path = format!("/api/v1/orders/{}/payments", r.order_id);
    let token = &s.buyer_tokens[r.buyer];
    let deadline = Instant::now() + s.order_timeout;
    while Instant::now() < deadline {
        match s.api.call_raw(Method::POST, &path, Some(token), Some(&json!({}))).await {
            Ok(a) if a.status == StatusCode::CREATED => {
                return a.body.get("payment_id").and_then(Value::as_str).map(str::to_string);
            }
            Ok(a) if !a.status.is_server_error() => {
                s.note(format!("second attempt for {}: {} {}", r.order_id, a.status, a.body));
                return None;
            }
            _ => backoff().await,
        }
    }
    None
}

/// Presses Pay at the cashier; the gateway's paid_at, or `None` if it never succeeded.
async fn pay(s: &Shared, payment_id: &str) -> Option<String> {
    let deadline = Instant::now() + Duration::from_millis(PAY_TIMEOUT_MS);
    loop {
        match s.sandbox.pay(payment_id).await {
            Ok(view) => return view.paid_at,
            Err(ClientError::Unavailable(_)) if Instant::now() < deadline => backoff().await,
            Err(e) => {
                s.note(format!("paying {payment_id}: {e}"));
                return None;
            }
        }
    }
}

#[derive(Default)]
struct ChaosLog {
    outage_ms: u64,
    notes: Vec<String>,
}

/// Sets the faults, then kills the server at ~30 % and ~65 % of orders placed and takes
/// the gateway down at ~45 %. Every step happens even if the buyers finish first.
async fn chaos_task(s: Arc<Shared>) -> anyhow::Result<ChaosLog> {
    let mut log = ChaosLog::default();
    set_faults(&s.sandbox, &chaos_faults()).await?;
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
            s.platform.kill().await?;
            tokio::time::sleep(Duration::from_millis(KILL_PAUSE_MS)).await;
            s.platform.start()?;
            s.platform.wait_ready(&http).await
        }
    };

    wait_for(30).await;
    let at = s.counters.done.load(Ordering::SeqCst);
    kill_and_restart(&mut log, at).await?;

    wait_for(45).await;
    let outage_started = Instant::now();
    set_faults(
        &s.sandbox,
        &Faults {
            down: true,
            ..chaos_faults()
        },
    )
    .await?;
    tokio::time::sleep(Duration::from_millis(OUTAGE_MS)).await;
    set_faults(&s.sandbox, &chaos_faults()).await?;
    log.outage_ms = u64::try_from(outage_started.elapsed().as_millis()).unwrap_or(u64::MAX);

    wait_for(65).await;
    let at = s.counters.done.load(Ordering::SeqCst);
    kill_and_restart(&mut log, at).await?;
    Ok(log)
}

async fn set_faults(sandbox: &SandboxClient, faults: &Faults) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_millis(READY_TIMEOUT_MS);
    loop {
        match sandbox.set_faults(faults).await {
            Ok(_) => return Ok(()),
            Err(ClientError::Unavailable(_)) if Instant::now() < deadline => backoff().await,
            Err(e) => return Err(e).context("setting the sandbox faults"),
        }
    }
}

/// Progress on stderr: a bar on a terminal, otherwise a line every ~10 %.
async fn progress_task(s: Arc<Shared>, stop: Arc<AtomicBool>) {
    let c = &s.counters;
    let n = s.orders;
    let line = || {
        format!(
            "placed {}/{n} (refused {}, not placed {}), paid {}, kills {}",
            c.placed.load(Ordering::SeqCst),
            c.out_of_stock.load(Ordering::SeqCst),
            c.not_placed.load(Ordering::SeqCst),
            c.paid.load(Ordering::SeqCst),
            s.platform.kills.load(Ordering::SeqCst),
        )
    };
    if std::io::stderr().is_terminal() {
        let bar = indicatif::ProgressBar::new(u64::try_from(n).unwrap_or(u64::MAX));
        if let Ok(style) = indicatif::ProgressStyle::with_template("{elapsed_precise} [{bar:40}] {pos}/{len} {msg}") {
            bar.set_style(style.progress_chars("=> "));
        }
        while !stop.load(Ordering::SeqCst) {
            bar.set_position(u64::try_from(c.done.load(Ordering::SeqCst)).unwrap_or(u64::MAX));
            bar.set_message(format!(
                "paid {}, kills {}",
                c.paid.load(Ordering::SeqCst),
                s.platform.kills.load(Ordering::SeqCst)
            ));
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bar.finish_and_clear();
        eprintln!("{}", line());
    } else {
        let mut next_tenth = 1;
        while !stop.load(Ordering::SeqCst) {
            let done = c.done.load(Ordering::SeqCst);
            if done * 10 >= next_tenth * n {
                eprintln!("{}", line());
                while done * 10 >= next_tenth * n {
                    next_tenth += 1;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        eprintln!("{}", line());
    }
}

// ---------------------------------------------------------------------------------------
// Settling and checking

/// What the platform says about one order.
#[derive(Clone, Default)]
struct OrderState {
    status: String,
    /// (amount, status) of each refund; empty when unknown (no admin endpoint).
    refunds: Vec<(i64, String)>,
    /// The earliest payment record for our payment: when and from which source.
    first_received: Option<(OffsetDateTime, String)>,
    /// The provider transaction ids of the order's payment records.
    txns: Vec<String>,
}

impl OrderState {
    fn delivered(&self) -> bool {
        matches!(self.status.as_str(), "delivered" | "completed")
    }

    fn refund_like(&self) -> bool {
        matches!(
            self.status.as_str(),
            "refunded" | "expired" | "cancelled" | "partially_refunded"
        ) || !self.refunds.is_empty()
    }
}

/// Reads an order through the admin endpoint, or through the buyer's when the admin one
/// does not exist yet. `None` when the server did not answer usefully.
async fn order_state(s: &Shared, admin: &str, admin_missing: &AtomicBool, r: &OrderRecord) -> Option<OrderState> {
    if !admin_missing.load(Ordering::SeqCst) {
        let path = format!("/api/v1/admin/orders/{}", r.order_id);
        let a = s.api.send(Method::GET, &path, Some(admin), None).await.ok()?;
        if a.no_such_route() {
            admin_missing.store(true, Ordering::SeqCst);
        } else if a.status == StatusCode::OK {
            return Some(parse_admin_order(&a.body, &r.payment_id));
        } else {
            return None;
        }
    }
    let path = format!("/api/v1/orders/{}", r.order_id);
    let token = &s.buyer_tokens[r.buyer];
    let a = s.api.send(Method::GET, &path, Some(token), None).await.ok()?;
    if a.status != StatusCode::OK {
        return None;
    }
    Some(OrderState {
        status: a.body.get("status").and_then(Value::as_str).unwrap_or("").to_string(),
        ..OrderState::default()
    })
}

fn parse_admin_order(v: &Value, payment_id: &str) -> OrderState {
    let status = v
        .pointer("/order/status")
        .and_then(Value::as_str)
        .unwrap_or("")
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
    OrderState {
        status,
        refunds,
        first_received,
        txns,
    }
}

/// Delivered, or refunded with every refund confirmed. Without the admin endpoint the
/// refunds are not visible, so the gateway is asked.
async fn settled(s: &Shared, state: &OrderState, r: &OrderRecord) -> bool {
    if r.second_paid {
        // One of the two payments must come back, whatever happened to the order.
        let Some(second) = &r.second_payment else { return false };
        let back = match s.sandbox.view(second).await {
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

async fn refunded_at_sandbox(s: &Shared, r: &OrderRecord) -> Option<bool> {
    for _ in 0..5 {
        match s.sandbox.view(&r.payment_id).await {
            Ok(view) => return Some(view.refunded_minor == r.amount_minor),
            Err(ClientError::Unavailable(_)) => backoff().await,
            Err(_) => return None,
        }
    }
    None
}

/// Reveals the keys of (a sample of) the delivered orders; (checked, duplicates, orders
/// without exactly one key).
async fn check_keys(s: &Shared, delivered: &[&OrderRecord]) -> (usize, usize, usize) {
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

fn count_field(v: &Value, name: &str) -> Option<usize> {
    match v.get(name)? {
        Value::Number(n) => n.as_u64().and_then(|n| usize::try_from(n).ok()),
        Value::Array(a) => Some(a.len()),
        _ => None,
    }
}

/// A summary line.
macro_rules! out {
    ($lines:expr, $key:expr, $($arg:tt)*) => {
        $lines.push(format!("{}: {}", $key, format!($($arg)*)))
    };
}

async fn run_in(args: &ChaosArgs, run_id: &str, dir: &Path, schema: Option<&str>) -> anyhow::Result<bool> {
    let exe = std::env::current_exe().context("finding the danbao executable")?;
    let run_started = OffsetDateTime::now_utc();
    let clock = Instant::now();
    let http = reqwest::Client::builder()
        .connect_timeout(Duration::from_millis(HTTP_CONNECT_TIMEOUT_MS))
        .timeout(Duration::from_millis(HTTP_TIMEOUT_MS))
        .build()
        .context("building the HTTP client")?;

    // The merchant key both children read.
    let key_path = dir.join("keys").join("sandbox-merchant.key");
    let (merchant_key, _) = danbao_app::vault::load_or_create(&key_path).context("creating the merchant key")?;
    let (rules, rules_missing) = chaos_rules();
    let rules_path = dir.join("chaos-rules.toml");
    std::fs::write(&rules_path, rules).with_context(|| format!("writing {}", rules_path.display()))?;
    for name in &rules_missing {
        eprintln!("note: the rule set has no `{name}` yet; the server runs with its defaults");
    }

    let children = Arc::new(Mutex::new(Children::default()));
    let _guard = ChildGuard(children.clone());

    // 1. The sandbox gateway.
    let sandbox_port = free_port()?;
    let sandbox_url = format!("http://127.0.0.1:{sandbox_port}");
    let sandbox_args: Vec<String> = [
        "sandbox-gateway",
        "--port",
        &sandbox_port.to_string(),
        "--bind",
        "127.0.0.1",
        "--merchant-key-file",
        &key_path.display().to_string(),
        "--time-scale",
        &args.time_scale.to_string(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let child = child_command(&exe, &sandbox_args, &dir.join("sandbox.log"))?
        .spawn()
        .context("starting the sandbox gateway")?;
    lock(&children).sandbox = Some(child);
    eprintln!("chaos run {run_id}: sandbox gateway at {sandbox_url}");
    wait_until_ok(&http, &format!("{sandbox_url}/admin/faults"), || {
        lock(&children)
            .sandbox
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
            .map(|status| format!("the sandbox gateway exited ({status})"))
    })
    .await
    .context("waiting for the sandbox gateway")?;
    let sandbox = SandboxClient::new(sandbox_url.clone(), merchant_key.to_vec());

    // 2. The platform server.
    let server_port = free_port()?;
    let mut server_args: Vec<String> = vec![
        "serve".into(),
        "--port".into(),
        server_port.to_string(),
        "--bind".into(),
        "127.0.0.1".into(),
        "--data-dir".into(),
        dir.display().to_string(),
        "--sandbox-url".into(),
        sandbox_url.clone(),
        "--rules".into(),
        rules_path.display().to_string(),
    ];
    let mut data_args = vec!["--data-dir".to_string(), dir.display().to_string()];
    if let Some(url) = &args.database {
        server_args.extend(["--database-url".to_string(), url.clone()]);
        data_args.extend(["--database-url".to_string(), url.clone()]);
    }
    let platform = Platform {
        exe: exe.clone(),
        dir: dir.to_path_buf(),
        args: server_args,
        base_url: format!("http://127.0.0.1:{server_port}"),
        children: children.clone(),
        starts: AtomicUsize::new(0),
        generation: AtomicU64::new(0),
        kills: AtomicUsize::new(0),
    };
    platform.start()?;
    platform.wait_ready(&http).await?;
    eprintln!("chaos run {run_id}: platform server at {}", platform.base_url);

    // 3. Accounts, product, keys.
    let api = Api {
        http: http.clone(),
        base: platform.base_url.clone(),
    };
    let password = format!("chaos-{run_id}-password");
    let admin_name = format!("chaos{run_id}_admin");
    let mut create = Command::new(&exe);
    create
        .arg("create-account")
        .args(&data_args)
        .args(["--username", &admin_name, "--role", "admin", "--password", &password])
        .stdin(Stdio::null());
    for var in CHILD_ENV_REMOVED {
        create.env_remove(var);
    }
    let out = create.output().await.context("running danbao create-account")?;
    if !out.status.success() {
        bail!(
            "danbao create-account failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let admin = api.login(&admin_name, &password).await?;
    let seller = api
        .register(&format!("chaos{run_id}_seller"), &password, "seller")
        .await?;
    let product = api
        .call(
            Method::POST,
            "/api/v1/seller/products",
            Some(&seller),
            Some(&json!({
                "title": format!("Chaos {run_id} card"),
                "description": "danbao chaos",
                "category": "game_cards",
                "price_minor": PRICE_MINOR,
                "delivery_kind": "card_key",
            })),
            StatusCode::CREATED,
        )
        .await?;
    let product_id = str_field(&product, "id")?;
    let stock = args.orders * usize::from(args.stock_pct) / 100;
    let keys: Vec<String> = (0..stock)
        .map(|i| {
            let salt: u32 = rand::thread_rng().gen();
            format!("CHAOS-{run_id}-{i:07}-{salt:08x}")
        })
        .collect();
    let mut imported = 0;
    for chunk in keys.chunks(KEY_IMPORT_CHUNK) {
        let resp = http
            .post(format!("{}/api/v1/seller/products/{product_id}/card-keys", api.base))
            .bearer_auth(&seller)
            .header("content-type", "text/plain")
            .body(chunk.join("\n"))
            .send()
            .await
            .context("importing card keys")?;
        let status = resp.status();
        let v: Value = resp.json().await.context("reading the import report")?;
        if status != StatusCode::OK {
            bail!("importing card keys: {status} {v}");
        }
        imported += count_field(&v, "imported").unwrap_or(0);
    }
    let buyers = args.buyers.min(args.orders);
    let buyer_tokens: Vec<String> = futures::stream::iter((0..buyers).map(|b| {
        let api = &api;
        let password = &password;
        async move { api.register(&format!("chaos{run_id}_b{b}"), password, "buyer").await }
    }))
    .buffered(SETUP_CONCURRENCY)
    .collect::<Vec<_>>()
    .await
    .into_iter()
    .collect::<anyhow::Result<_>>()?;
    eprintln!(
        "chaos run {run_id}: {} buyers, {imported} keys for {} orders; placing with {} buyer tasks",
        buyers, args.orders, args.concurrency
    );

    // 4. The run.
    let shared = Arc::new(Shared {
        api,
        sandbox: sandbox.clone(),
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
    });
    let orders_started = Instant::now();
    let chaos = tokio::spawn(chaos_task(shared.clone()));
    let stop_progress = Arc::new(AtomicBool::new(false));
    let progress = tokio::spawn(progress_task(shared.clone(), stop_progress.clone()));
    let workers: Vec<_> = (0..args.concurrency.min(args.orders))
        .map(|_| tokio::spawn(buyer_task(shared.clone())))
        .collect();
    for w in workers {
        w.await.context("a buyer task panicked")?;
    }
    shared.workers_done.store(true, Ordering::SeqCst);
    let chaos_log = chaos.await.context("the chaos task panicked")?;
    stop_progress.store(true, Ordering::SeqCst);
    let _ = progress.await;
    let chaos_log = chaos_log?;
    let orders_secs = orders_started.elapsed().as_secs_f64();

    // 5. Drain: faults off, then wait for every accepted payment to settle.
    set_faults(&sandbox, &Faults::default()).await?;
    let records = std::mem::take(&mut *lock(&shared.records));
    let window_from = rfc3339(run_started - time::Duration::seconds(WINDOW_MARGIN_S));
    let statement = {
        let to = rfc3339(OffsetDateTime::now_utc() + time::Duration::seconds(WINDOW_MARGIN_S));
        sandbox
            .statement(&window_from, &to)
            .await
            .context("fetching the sandbox statement")?
    };
    let by_payment: HashMap<&str, usize> = records
        .iter()
        .enumerate()
        .map(|(i, r)| (r.payment_id.as_str(), i))
        .collect();
    let mut accepted: Vec<usize> = Vec::new();
    let mut sandbox_paid_at: HashMap<usize, OffsetDateTime> = HashMap::new();
    let mut our_txns: HashSet<String> = HashSet::new();
    for line in &statement {
        if let Some(&i) = by_payment.get(line.payment_id.as_str()) {
            our_txns.insert(line.trade_no.clone());
            if !sandbox_paid_at.contains_key(&i) {
                accepted.push(i);
            }
            if let Some(t) = parse_time(&line.paid_at) {
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
    let admin_missing = AtomicBool::new(false);
    let settle_deadline = Instant::now() + Duration::from_secs(args.settle_timeout_secs);
    let settle_started = Instant::now();
    let mut states: HashMap<usize, OrderState> = HashMap::new();
    let mut pending: Vec<usize> = accepted.clone();
    let mut last_report = Instant::now();
    loop {
        let s = &shared;
        let admin = &admin;
        let admin_missing = &admin_missing;
        let records = &records;
        let polled: Vec<(usize, Option<OrderState>, bool)> =
            futures::stream::iter(pending.iter().map(|&i| async move {
                let r = &records[i];
                match order_state(s, admin, admin_missing, r).await {
                    Some(state) => {
                        let done = settled(s, &state, r).await;
                        (i, Some(state), done)
                    }
                    None => (i, None, false),
                }
            }))
            .buffer_unordered(POLL_CONCURRENCY)
            .collect()
            .await;
        let mut still = Vec::new();
        for (i, state, done) in polled {
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
    let admin_missing = admin_missing.load(Ordering::SeqCst);

    // 6. Checks.
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
                    .sandbox
                    .view(p)
                    .await
                    .is_ok_and(|v| v.refunded_minor == r.amount_minor),
                None => false,
            };
            let first_back = refunded_at_sandbox(&shared, r).await == Some(true);
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
            refunded_at_sandbox(&shared, r).await == Some(true)
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
    let (keys_checked, keys_twice, keys_bad) = check_keys(&shared, &delivered).await;

    let ledger = shared
        .api
        .call(
            Method::GET,
            "/api/v1/admin/ledger/check",
            Some(&admin),
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
            Some(&admin),
            Some(&json!({"from": window_from, "to": recon_to})),
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
    if rules_missing.is_empty() {
        out!(lines, "active_query_schedule_seconds", "[2, 5, 10], after expiry 5");
    } else {
        out!(
            lines,
            "active_query_schedule_seconds",
            "not in the rule set yet ({}): server defaults",
            rules_missing.join(", ")
        );
    }
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
    if recon.no_such_route() {
        out!(
            lines,
            "reconciliation",
            "skipped (POST /api/v1/admin/reconciliation/statements does not exist yet)"
        );
    } else if recon.status.is_success() {
        let b = &recon.body;
        let n = |k: &str| count_field(b, k).unwrap_or(0);
        // The run's differences are its `items` (`exceptions` in the first draft of the
        // contract); applied_late ones come resolved, the rest stay open for an admin.
        // On a shared PostgreSQL database only items about this run's transactions count.
        let mut open_ours: HashMap<String, usize> = HashMap::new();
        let mut open_others = 0;
        for item in ["items", "exceptions"]
            .iter()
            .filter_map(|k| b.get(*k).and_then(Value::as_array))
            .flatten()
        {
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
            n("missing_at_provider") + n("amount_mismatch")
        } else {
            0
        };
        let unexplained = open_count.max(counted);
        out!(
            lines,
            "reconciliation",
            "run {}, matched {}, applied_late {}, missing_at_provider {}, amount_mismatch {}",
            b.get("id").and_then(Value::as_str).unwrap_or("?"),
            n("matched"),
            n("applied_late"),
            n("missing_at_provider"),
            n("amount_mismatch"),
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
        out!(lines, "reconciliation", "failed: {} {}", recon.status, recon.body);
        failed.push("reconciliation could not run".into());
    }
    if admin_missing {
        out!(
            lines,
            "recovery",
            "unavailable (GET /api/v1/admin/orders/{{id}} does not exist yet; statuses read as the buyer)"
        );
    } else if let Some((max_ms, slowest, source)) = recoveries.last() {
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
    shutdown(&children).await;
    for line in lines {
        println!("{line}");
    }
    Ok(failed.is_empty())
}
