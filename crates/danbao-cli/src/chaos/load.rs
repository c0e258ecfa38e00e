//! The load phase: a seller with a card-key product and buyer accounts, then buyer tasks
//! placing and paying the orders (some twice) through kills and outages.

use std::io::IsTerminal;
use std::path::Path;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use danbao_sandbox::client::ClientError;

use super::rail::Rail;
use futures::StreamExt;
use rand::Rng;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tokio::process::Command;

use super::api::{Answer, Api};
use super::faults::{chaos_task, ChaosLog};
use super::processes::Platform;
use super::{
    backoff, count_field, lock, str_field, ChaosArgs, KEY_IMPORT_CHUNK, PAY_TIMEOUT_MS, PRICE_MINOR, SETUP_CONCURRENCY,
};
use crate::child::CHILD_ENV_REMOVED;

/// What the setup made: the admin's token, the product and the buyers' tokens.
pub(super) struct Setup {
    pub(super) admin: String,
    pub(super) product_id: String,
    pub(super) buyer_tokens: Vec<String>,
    pub(super) imported: usize,
    pub(super) buyers: usize,
}

/// An admin (through `danbao create-account`, as an operator makes one), a seller with a
/// card-key product and its keys, and the buyer accounts.
pub(super) async fn setup(
    args: &ChaosArgs,
    run_id: &str,
    exe: &Path,
    data_args: &[String],
    api: &Api,
) -> anyhow::Result<Setup> {
    let password = format!("chaos-{run_id}-password");
    let admin_name = format!("chaos{run_id}_admin");
    let mut create = Command::new(exe);
    create
        .arg("create-account")
        .args(data_args)
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
        let resp = api
            .http
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
        imported +=
            count_field(&v, "imported").with_context(|| format!("no `imported` count in the import report {v}"))?;
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
    Ok(Setup {
        admin,
        product_id,
        buyer_tokens,
        imported,
        buyers,
    })
}

/// Places and pays every order from `concurrency` buyer tasks while the fault task runs;
/// what the fault task did, and how long placing took in seconds.
pub(super) async fn place_and_pay(shared: &Arc<Shared>, concurrency: usize) -> anyhow::Result<(ChaosLog, f64)> {
    let orders_started = Instant::now();
    let chaos = tokio::spawn(chaos_task(shared.clone()));
    let stop_progress = Arc::new(AtomicBool::new(false));
    let progress = tokio::spawn(progress_task(shared.clone(), stop_progress.clone()));
    let workers: Vec<_> = (0..concurrency.min(shared.orders))
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
    Ok((chaos_log, orders_secs))
}

pub(super) struct OrderRecord {
    pub(super) buyer: usize,
    pub(super) order_id: String,
    /// The platform's (provider) payment id.
    pub(super) payment_id: String,
    /// Where the platform sends the buyer to pay.
    pub(super) cashier_url: String,
    /// The gateway's own id of the payment, found by going to the cashier address.
    pub(super) gateway_id: Option<String>,
    pub(super) amount_minor: i64,
    /// When the sandbox says it was paid; `None` if paying failed.
    pub(super) paid_at: Option<String>,
    /// Every `SECOND_PAYMENT_EVERY`th order is paid twice, through a second payment
    /// attempt: the platform must refund one of the two, automatically. The gateway's id.
    pub(super) second_payment: Option<String>,
    pub(super) second_paid: bool,
}

/// One order in this many is paid twice (the refund path under chaos).
pub(super) const SECOND_PAYMENT_EVERY: usize = 25;

#[derive(Default)]
pub(super) struct Counters {
    /// Orders whose placing is over, one way or another.
    pub(super) done: AtomicUsize,
    pub(super) placed: AtomicUsize,
    pub(super) out_of_stock: AtomicUsize,
    pub(super) not_placed: AtomicUsize,
    /// Not placed because the key's request died with a killed server and the restarted
    /// one answers "in progress" for ever.
    pub(super) orphaned_keys: AtomicUsize,
    /// Checkout answered 502: the gateway could not open a payment.
    pub(super) provider_unavailable: AtomicUsize,
    pub(super) retries: AtomicUsize,
    pub(super) paid: AtomicUsize,
    pub(super) pay_failed: AtomicUsize,
}

pub(super) struct Shared {
    pub(super) api: Api,
    pub(super) rail: Rail,
    /// What the buyers choose at checkout (none: the platform's default).
    pub(super) payment_method: Option<String>,
    pub(super) platform: Platform,
    pub(super) product_id: String,
    pub(super) buyer_tokens: Vec<String>,
    pub(super) run_id: String,
    pub(super) orders: usize,
    pub(super) order_timeout: Duration,
    pub(super) next: AtomicUsize,
    pub(super) counters: Counters,
    pub(super) workers_done: AtomicBool,
    pub(super) records: Mutex<Vec<OrderRecord>>,
    /// The first few unexpected answers, for the summary.
    pub(super) oddities: Mutex<Vec<String>>,
    /// `--kill-database`: the shell command that kills the database's primary.
    pub(super) kill_database: Option<String>,
}

impl Shared {
    pub(super) fn note(&self, what: String) {
        const ODDITIES_MAX: usize = 10;
        let mut o = lock(&self.oddities);
        if o.len() < ODDITIES_MAX {
            o.push(what);
        }
    }
}

pub(super) enum Checkout {
    Order(OrderRecord),
    OutOfStock,
    NotPlaced { orphaned: bool },
}

pub(super) async fn buyer_task(s: Arc<Shared>) {
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
                record.gateway_id = s.rail.gateway_id(&record.payment_id, &record.cashier_url).await;
                match record.gateway_id.clone() {
                    Some(id) => record.paid_at = pay(&s, &id).await,
                    None => s.note(format!(
                        "order {}: the cashier address led to no payment",
                        record.order_id
                    )),
                }
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
pub(super) async fn place(s: &Shared, i: usize, buyer: usize) -> Checkout {
    let key = format!("chaos-{}-{i}", s.run_id);
    let mut body = json!({"product_id": s.product_id, "quantity": 1});
    if let Some(method) = &s.payment_method {
        body["payment_method"] = json!(method);
    }
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
                        cashier_url: v.get("payment")?.get("cashier_url")?.as_str()?.to_string(),
                        gateway_id: None,
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
pub(super) async fn second_attempt(s: &Shared, r: &OrderRecord) -> Option<String> {
    let path = format!("/api/v1/orders/{}/payments", r.order_id);
    let token = &s.buyer_tokens[r.buyer];
    let deadline = Instant::now() + s.order_timeout;
    while Instant::now() < deadline {
        match s.api.call_raw(Method::POST, &path, Some(token), Some(&json!({}))).await {
            Ok(a) if a.status == StatusCode::CREATED => {
                let field = |name: &str| a.body.get(name).and_then(Value::as_str).map(str::to_string);
                let (id, cashier) = (field("payment_id")?, field("cashier_url")?);
                return s.rail.gateway_id(&id, &cashier).await;
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

/// Presses Pay at the cashier (`gateway_id`: the gateway's id of the payment); the
/// gateway's paid_at, or `None` if it never succeeded.
pub(super) async fn pay(s: &Shared, gateway_id: &str) -> Option<String> {
    let deadline = Instant::now() + Duration::from_millis(PAY_TIMEOUT_MS);
    loop {
        match s.rail.sandbox().pay(gateway_id).await {
            Ok(view) => return view.paid_at,
            Err(ClientError::Unavailable(_)) if Instant::now() < deadline => backoff().await,
            Err(e) => {
                s.note(format!("paying {gateway_id}: {e}"));
                return None;
            }
        }
    }
}

/// Progress on stderr: a bar on a terminal, otherwise a line every ~10 %.
pub(super) async fn progress_task(s: Arc<Shared>, stop: Arc<AtomicBool>) {
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
