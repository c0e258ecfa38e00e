//! The raw baseline of `bench orders`: the durable writes one paid card-key order needs,
//! done straight through the database by N concurrent tasks, one transaction per order,
//! with no application, no HTTP and no payment gateway in between. What the full path
//! reaches is printed as a share of this (`ratio full/raw`).
//!
//! Its tables are its own (prefixed `raw_`), small copies of the real ones holding the
//! columns that matter for the cost of a write: text ids, the same indexes on the hot
//! paths, rows of about the real size. One transaction does what the capture of a paid
//! order writes in `App::apply_payment` (see ARCHITECTURE.md, "One order, end to end"):
//!
//! | raw statement | stands for |
//! |---|---|
//! | INSERT raw_orders | the order row (`insert_order`; the real path inserts it at checkout and updates it at capture) |
//! | INSERT raw_payments | the payment recorded first, deduplicated on (provider, provider_txn_id) (`insert_payment`) |
//! | UPDATE raw_card_keys … one row | the key allocated to the order (`WHERE order_id IS NULL`, oldest first) |
//! | INSERT raw_journal_entries, 2 × INSERT raw_postings, 2 × UPDATE raw_accounts | the capture entry `provider:sandbox → escrow:{seller}` and its balances (`post_entry`) |
//! | INSERT raw_order_events | the order's event row (`insert_order_event`) |
//! | INSERT raw_evidence_queue | the event's Merkle leaf queued for the sequencer (`append_leaf`) |
//!
//! Durability is the database's: SQLite in WAL mode with `synchronous=FULL` (a commit is
//! fsynced before it returns), PostgreSQL with its defaults (`synchronous_commit = on`).
//! On SQLite the tasks share one connection, as the server's store does: SQLite has one
//! writer, and more connections would only add busy-waiting. On PostgreSQL each task has
//! its own connection. Accounts are updated in name order, so two transactions never wait
//! for each other in opposite orders; a free key is claimed with `SKIP LOCKED` on
//! PostgreSQL, so tasks do not queue behind one key (the real path locks the product row
//! instead — a cost of the application, and so not in the baseline).

use anyhow::{bail, Context};
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::common::Latencies;

const SCHEMA: [&str; 10] = [
    "CREATE TABLE raw_orders (id TEXT PRIMARY KEY, product_id TEXT NOT NULL, seller_id TEXT NOT NULL, \
     contact TEXT, amount_minor BIGINT NOT NULL, currency TEXT NOT NULL, status TEXT NOT NULL, \
     created_at BIGINT NOT NULL, paid_at BIGINT)",
    "CREATE TABLE raw_payments (id TEXT PRIMARY KEY, provider TEXT NOT NULL, provider_txn_id TEXT NOT NULL, \
     order_id TEXT NOT NULL, amount_minor BIGINT NOT NULL, raw TEXT NOT NULL, received_at BIGINT NOT NULL, \
     UNIQUE (provider, provider_txn_id))",
    "CREATE TABLE raw_card_keys (id TEXT PRIMARY KEY, product_id TEXT NOT NULL, seq BIGINT NOT NULL, \
     ciphertext TEXT NOT NULL, order_id TEXT, allocated_at BIGINT)",
    "CREATE INDEX raw_card_keys_free ON raw_card_keys (product_id, order_id, seq)",
    "CREATE TABLE raw_accounts (name TEXT PRIMARY KEY, balance BIGINT NOT NULL)",
    "CREATE TABLE raw_journal_entries (id TEXT PRIMARY KEY, kind TEXT NOT NULL, order_id TEXT, \
     payment_id TEXT, created_at BIGINT NOT NULL)",
    "CREATE TABLE raw_postings (entry_id TEXT NOT NULL, idx BIGINT NOT NULL, account TEXT NOT NULL, \
     amount_minor BIGINT NOT NULL, PRIMARY KEY (entry_id, idx))",
    "CREATE TABLE raw_order_events (id TEXT PRIMARY KEY, order_id TEXT NOT NULL, seq BIGINT NOT NULL, \
     kind TEXT NOT NULL, detail TEXT NOT NULL, at BIGINT NOT NULL, UNIQUE (order_id, seq))",
    "CREATE TABLE raw_evidence_queue (id TEXT PRIMARY KEY, case_id TEXT NOT NULL, record TEXT NOT NULL, \
     leaf_hash TEXT NOT NULL UNIQUE, created_at BIGINT NOT NULL)",
    "CREATE INDEX raw_journal_entries_order ON raw_journal_entries (order_id)",
];

const PRODUCT_ID: &str = "0190aaaa-0000-7000-8000-000000000001";
const SELLER_ID: &str = "0190aaaa-0000-7000-8000-000000000002";
const PROVIDER_ACCOUNT: &str = "provider:sandbox";
const PRICE_MINOR: i64 = 1_000;
/// Keys are loaded in transactions of this many rows.
const KEY_LOAD_BATCH: usize = 1_000;

/// Where the baseline runs.
pub enum RawDb {
    /// A SQLite file of its own, as durable as the server's (`synchronous=FULL`).
    Sqlite { path: std::path::PathBuf },
    /// A PostgreSQL schema (tables prefixed `raw_`, beside nothing else of ours).
    Postgres { url: String, schema: String },
}

pub struct RawResult {
    pub orders: usize,
    pub secs: f64,
    pub per_s: f64,
    pub latency: Latencies,
}

#[derive(Clone)]
enum Pool {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

fn now_ms() -> i64 {
    let now = time::OffsetDateTime::now_utc();
    i64::try_from(now.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

fn random_hex() -> String {
    format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple())
}

async fn connect(db: &RawDb, clients: usize) -> anyhow::Result<Pool> {
    Ok(match db {
        RawDb::Sqlite { path } => {
            let opts = sqlx::sqlite::SqliteConnectOptions::from_str(&format!("sqlite:{}", path.display()))?
                .create_if_missing(true)
                .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
                .synchronous(sqlx::sqlite::SqliteSynchronous::Full)
                .busy_timeout(Duration::from_secs(10));
            Pool::Sqlite(
                sqlx::sqlite::SqlitePoolOptions::new()
                    .max_connections(1)
                    .connect_with(opts)
                    .await
                    .context("opening the raw baseline's SQLite file")?,
            )
        }
        RawDb::Postgres { url, schema } => {
            let opts = sqlx::postgres::PgConnectOptions::from_str(url)?.options([("search_path", schema.as_str())]);
            Pool::Postgres(
                sqlx::postgres::PgPoolOptions::new()
                    .max_connections(u32::try_from(clients.max(1)).unwrap_or(u32::MAX))
                    .connect_with(opts)
                    .await
                    .context("connecting to PostgreSQL for the raw baseline")?,
            )
        }
    })
}

/// Runs the baseline: creates the tables, loads `orders + warmup` free keys, runs
/// `warmup` orders unmeasured, then `orders` measured, from `clients` tasks.
pub async fn run(db: &RawDb, clients: usize, orders: usize, warmup: usize) -> anyhow::Result<RawResult> {
    let pool = connect(db, clients).await?;
    let suffix = match db {
        RawDb::Sqlite { .. } => "",
        RawDb::Postgres { .. } => " FOR UPDATE SKIP LOCKED",
    };
    let escrow = format!("escrow:{SELLER_ID}");
    match &pool {
        Pool::Sqlite(p) => {
            for s in SCHEMA {
                sqlx::query(s).execute(p).await?;
            }
            for a in [PROVIDER_ACCOUNT, escrow.as_str()] {
                sqlx::query("INSERT INTO raw_accounts (name, balance) VALUES ($1, 0)")
                    .bind(a)
                    .execute(p)
                    .await?;
            }
        }
        Pool::Postgres(p) => {
            for s in SCHEMA {
                sqlx::query(s).execute(p).await?;
            }
            for a in [PROVIDER_ACCOUNT, escrow.as_str()] {
                sqlx::query("INSERT INTO raw_accounts (name, balance) VALUES ($1, 0)")
                    .bind(a)
                    .execute(p)
                    .await?;
            }
        }
    }
    load_keys(&pool, orders + warmup).await?;
    run_phase(&pool, suffix, clients, warmup).await?;
    let result = run_phase(&pool, suffix, clients, orders).await?;
    match pool {
        Pool::Sqlite(p) => p.close().await,
        Pool::Postgres(p) => {
            p.close().await;
        }
    }
    Ok(result)
}

async fn load_keys(pool: &Pool, n: usize) -> anyhow::Result<()> {
    let now = now_ms();
    let mut i = 0usize;
    while i < n {
        let end = (i + KEY_LOAD_BATCH).min(n);
        macro_rules! load {
            ($p:expr) => {{
                let mut tx = $p.begin().await?;
                for k in i..end {
                    sqlx::query("INSERT INTO raw_card_keys (id, product_id, seq, ciphertext, order_id, allocated_at) VALUES ($1, $2, $3, $4, NULL, NULL)")
                        .bind(uuid::Uuid::now_v7().to_string())
                        .bind(PRODUCT_ID)
                        .bind(i64::try_from(k).unwrap_or(i64::MAX))
                        .bind(format!("{}:{}", random_hex(), now))
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
            }};
        }
        match pool {
            Pool::Sqlite(p) => load!(p),
            Pool::Postgres(p) => load!(p),
        }
        i = end;
    }
    Ok(())
}

async fn run_phase(pool: &Pool, suffix: &'static str, clients: usize, orders: usize) -> anyhow::Result<RawResult> {
    let next = Arc::new(AtomicUsize::new(0));
    let latency = Arc::new(Mutex::new(Latencies::default()));
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients.max(1))
        .map(|_| {
            let pool = pool.clone();
            let next = next.clone();
            let latency = latency.clone();
            tokio::spawn(async move {
                let mut mine = Latencies::default();
                while next.fetch_add(1, Ordering::SeqCst) < orders {
                    let t = Instant::now();
                    paid_order(&pool, suffix).await?;
                    mine.push(t.elapsed());
                }
                latency.lock().unwrap_or_else(|e| e.into_inner()).extend(&mine);
                anyhow::Ok(())
            })
        })
        .collect();
    for t in tasks {
        t.await.context("a raw baseline task panicked")??;
    }
    let secs = started.elapsed().as_secs_f64();
    let latency = latency.lock().unwrap_or_else(|e| e.into_inner()).clone();
    Ok(RawResult {
        orders,
        secs,
        per_s: orders as f64 / secs.max(1e-9),
        latency,
    })
}

/// One paid order's writes, in one transaction (see the module's table).
async fn paid_order(pool: &Pool, suffix: &'static str) -> anyhow::Result<()> {
    let now = now_ms();
    let order_id = uuid::Uuid::now_v7().to_string();
    let payment_id = uuid::Uuid::now_v7().to_string();
    let entry_id = uuid::Uuid::now_v7().to_string();
    let escrow = format!("escrow:{SELLER_ID}");
    let contact = format!("buyer-{}@example.com", uuid::Uuid::new_v4().simple());
    // About the size of a signed sandbox notification and an event's detail JSON.
    let raw = format!(
        "{{\"payment_id\":\"{payment_id}\",\"out_trade_no\":\"{order_id}\",\"amount_minor\":{PRICE_MINOR},\"currency\":\"CNY\",\"status\":\"succeeded\",\"paid_at\":{now},\"signature\":\"{}\"}}",
        random_hex()
    );
    let detail = format!(
        "{{\"payment_id\":\"{payment_id}\",\"amount_minor\":{PRICE_MINOR},\"content_sha256\":\"{}\"}}",
        random_hex()
    );
    let leaf_hash = random_hex();
    let record = format!(
        "danbao-leaf/v1\ncase order:{order_id}\nkind order.delivered\nat {now}\nsalt {}",
        random_hex()
    );
    let allocate = format!(
        "UPDATE raw_card_keys SET order_id = $1, allocated_at = $2 WHERE id = \
         (SELECT id FROM raw_card_keys WHERE product_id = $3 AND order_id IS NULL ORDER BY seq LIMIT 1{suffix}) \
         AND order_id IS NULL"
    );
    // Name order: `escrow:…` before `provider:…`.
    let balances = [(escrow.as_str(), -PRICE_MINOR), (PROVIDER_ACCOUNT, PRICE_MINOR)];
    macro_rules! order_tx {
        ($p:expr) => {{
            let mut tx = $p.begin().await?;
            sqlx::query("INSERT INTO raw_orders (id, product_id, seller_id, contact, amount_minor, currency, status, created_at, paid_at) VALUES ($1, $2, $3, $4, $5, 'CNY', 'delivered', $6, $6)")
                .bind(&order_id).bind(PRODUCT_ID).bind(SELLER_ID).bind(&contact).bind(PRICE_MINOR).bind(now)
                .execute(&mut *tx).await?;
            sqlx::query("INSERT INTO raw_payments (id, provider, provider_txn_id, order_id, amount_minor, raw, received_at) VALUES ($1, 'sandbox', $2, $3, $4, $5, $6)")
                .bind(&payment_id).bind(format!("txn-{payment_id}")).bind(&order_id).bind(PRICE_MINOR).bind(&raw).bind(now)
                .execute(&mut *tx).await?;
            let allocated = sqlx::query(&allocate)
                .bind(&order_id).bind(now).bind(PRODUCT_ID)
                .execute(&mut *tx).await?.rows_affected();
            if allocated != 1 {
                bail!("the raw baseline ran out of free keys");
            }
            sqlx::query("INSERT INTO raw_journal_entries (id, kind, order_id, payment_id, created_at) VALUES ($1, 'capture', $2, $3, $4)")
                .bind(&entry_id).bind(&order_id).bind(&payment_id).bind(now)
                .execute(&mut *tx).await?;
            for (idx, (account, amount)) in [(PROVIDER_ACCOUNT, PRICE_MINOR), (escrow.as_str(), -PRICE_MINOR)].into_iter().enumerate() {
                sqlx::query("INSERT INTO raw_postings (entry_id, idx, account, amount_minor) VALUES ($1, $2, $3, $4)")
                    .bind(&entry_id).bind(i64::try_from(idx).unwrap_or(0)).bind(account).bind(amount)
                    .execute(&mut *tx).await?;
            }
            for (account, delta) in balances {
                sqlx::query("UPDATE raw_accounts SET balance = balance + $2 WHERE name = $1")
                    .bind(account).bind(delta)
                    .execute(&mut *tx).await?;
            }
            sqlx::query("INSERT INTO raw_order_events (id, order_id, seq, kind, detail, at) VALUES ($1, $2, 1, 'delivered', $3, $4)")
                .bind(uuid::Uuid::now_v7().to_string()).bind(&order_id).bind(&detail).bind(now)
                .execute(&mut *tx).await?;
            sqlx::query("INSERT INTO raw_evidence_queue (id, case_id, record, leaf_hash, created_at) VALUES ($1, $2, $3, $4, $5)")
                .bind(uuid::Uuid::now_v7().to_string()).bind(format!("order:{order_id}")).bind(&record).bind(&leaf_hash).bind(now)
                .execute(&mut *tx).await?;
            tx.commit().await?;
        }};
    }
    match pool {
        Pool::Sqlite(p) => order_tx!(p),
        Pool::Postgres(p) => order_tx!(p),
    }
    Ok(())
}
