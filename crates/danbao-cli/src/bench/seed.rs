//! Bulk seeding for the growth curve of `bench orders`: completed card-key orders written
//! straight into the server's real tables (while the server is stopped), in big
//! transactions of `INSERT … SELECT` over a number series, so a million orders take
//! minutes rather than hours.
//!
//! Each seeded order has the rows a real completed guest order leaves behind in the
//! tables the hot path writes to or searches (so their indexes have the real size):
//!
//! | table | rows | why it matters to a new order |
//! |---|---|---|
//! | orders | 1 (`completed`, guest, unique number and contact) | insert; number lookup; unpaid-hold partial indexes |
//! | payment_attempts | 1 | insert; lookup by out_trade_no on capture |
//! | payments | 1 (`captured`) | insert under UNIQUE(provider, provider_txn_id) |
//! | card_keys | 1, allocated to the order | allocation searches `card_keys_free` of the same product |
//! | order_events | 5 (created, paid, delivered, key_revealed, confirmed) | insert under UNIQUE(order_id, seq) |
//! | evidence_case_heads | 1 | every event upserts its case's head |
//! | key_reveals | 1 | insert on reveal |
//! | journal_entries, postings | 2 entries (capture, release), 6 postings | insert; `postings_account` index |
//! | jobs | 6 done (expire, 4 queries, auto-confirm), 1 queued (reserve release, 7 days on) | the claim scans `jobs_due` |
//!
//! and the account balances are moved by what those entries post, so `danbao ledger
//! check` still holds. Not seeded: the evidence log's sequenced leaves and tree nodes
//! (a consistent Merkle tree cannot be written by SQL; `bench evidence` measures the log
//! by size) and idempotency keys (the benchmark's clients send none).
//!
//! Seeded ids are UUID-shaped text (`00000000-TTTT-7000-8000-<i in hex>`, one tag per
//! table), older than any real one, so they sort before the run's own rows.

use anyhow::Context;
use std::str::FromStr;
use std::time::Instant;

/// Orders per transaction: big enough that commits do not dominate, small enough that
/// one transaction's undo/WAL stays modest.
const SEED_BATCH: u64 = 20_000;
/// Seeded orders are spaced this far apart in time, ending now: a million span about 14
/// hours, so every seeded reserve release is still days in the future and no seeded job
/// becomes due during the run.
const SEED_SPACING_MS: i64 = 50;
const PRICE_MINOR: i64 = 1_000;
/// 5 % of PRICE_MINOR, the default fee (rules `default_fee_bps = 500`).
const FEE_MINOR: i64 = 50;
const AFTER_SALES_MS: i64 = 7 * 86_400_000;

pub enum SeedDb {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

impl SeedDb {
    pub async fn open_sqlite(path: &std::path::Path) -> anyhow::Result<SeedDb> {
        let opts = sqlx::sqlite::SqliteConnectOptions::from_str(&format!("sqlite:{}", path.display()))?
            .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
            .synchronous(sqlx::sqlite::SqliteSynchronous::Normal)
            .busy_timeout(std::time::Duration::from_secs(10))
            .foreign_keys(true);
        let pool = sqlx::sqlite::SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(opts)
            .await
            .context("opening the server's SQLite file for seeding")?;
        Ok(SeedDb::Sqlite(pool))
    }

    pub async fn open_postgres(url: &str, schema: &str) -> anyhow::Result<SeedDb> {
        let opts = sqlx::postgres::PgConnectOptions::from_str(url)?.options([("search_path", schema)]);
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(1)
            .connect_with(opts)
            .await
            .context("connecting to PostgreSQL for seeding")?;
        Ok(SeedDb::Postgres(pool))
    }

    pub async fn close(self) {
        match self {
            SeedDb::Sqlite(p) => p.close().await,
            SeedDb::Postgres(p) => p.close().await,
        }
    }

    fn is_pg(&self) -> bool {
        matches!(self, SeedDb::Postgres(_))
    }

    async fn scalar_i64(&self, sql: &str) -> anyhow::Result<i64> {
        use sqlx::Row;
        Ok(match self {
            SeedDb::Sqlite(p) => sqlx::query(sql).fetch_one(p).await?.try_get::<i64, _>(0)?,
            SeedDb::Postgres(p) => sqlx::query(sql).fetch_one(p).await?.try_get::<i64, _>(0)?,
        })
    }
}

/// What every batch of one seeding shares.
#[derive(Clone, Copy)]
struct Seeding<'a> {
    pg: bool,
    seller: &'a str,
    product: &'a str,
    rule_version: i64,
    now: i64,
    /// One past the last order of this seeding: the newest is seeded closest to now.
    n_end: u64,
}

/// The SQL of one batch: orders `a..=b` of the series. Ids and constants are written into
/// the text (the seller and product ids were checked to be UUIDs), numbers are the series.
fn batch_sql(z: &Seeding<'_>, a: u64, b: u64) -> Vec<String> {
    let Seeding {
        pg,
        seller,
        product,
        rule_version,
        now,
        n_end,
    } = *z;
    let series = if pg {
        format!("s(i) AS (SELECT generate_series({a}::bigint, {b}::bigint))")
    } else {
        format!("RECURSIVE s(i) AS (SELECT {a} UNION ALL SELECT i + 1 FROM s WHERE i < {b})")
    };
    let id = |tag: &str| -> String {
        if pg {
            format!("('00000000-{tag}-7000-8000-' || lpad(to_hex(i), 12, '0'))")
        } else {
            format!("printf('00000000-{tag}-7000-8000-%012x', i)")
        }
    };
    let hash = |salt: &str| -> String {
        if pg {
            format!("(md5(i::text || '{salt}') || md5('{salt}' || i::text))")
        } else {
            "lower(hex(randomblob(32)))".to_string()
        }
    };
    let order = id("0001");
    let attempt = id("0002");
    let payment = id("0003");
    let key = id("0004");
    let capture = id("0005");
    let release = id("0006");
    let reveal = id("0007");
    // created_at: spaced back from now, the newest seeded order last.
    let t0 = format!("({now} - ({n_end} - i) * {SEED_SPACING_MS} - 3600000)");
    let w = |body: String| format!("WITH {series} {body}");
    let mut sql = vec![
        w(format!(
            "INSERT INTO orders (id, product_id, seller_id, buyer_id, guest_contact, guest_password_hash, quantity, \
             unit_price_minor, amount_minor, currency, delivery_kind, category, status, rule_version, delivery_fields, \
             delivery_note, created_at, expires_at, paid_at, delivered_at, deliver_by, auto_confirm_at, completed_at, \
             updated_at, client_address, client_contact, number) \
             SELECT {order}, '{product}', '{seller}', NULL, 'seed-' || i || '@example.com', \
             '$argon2id$v=19$m=19456,t=2,p=1$c2VlZHNlZWRzZWVk$c2VlZGVkLW5vdC1hLXJlYWwtaGFzaC1zZWVkZWQ', 1, \
             {PRICE_MINOR}, {PRICE_MINOR}, 'CNY', 'card_key', 'game_cards', 'completed', {rule_version}, '{{}}', NULL, \
             {t0}, {t0} + 900000, {t0} + 5000, {t0} + 5000, NULL, {t0} + 5000 + 86400000, {t0} + 60000, {t0} + 60000, \
             '127.0.0.1', 'seed-' || i || '@example.com', 'SEED-' || i FROM s"
        )),
        w(format!(
            "INSERT INTO payment_attempts (id, order_id, provider, provider_payment_id, cashier_url, amount_minor, created_at, method) \
             SELECT {attempt}, {order}, 'sandbox', 'seedpay-' || i, 'http://127.0.0.1/sandbox/cashier/seedpay-' || i, \
             {PRICE_MINOR}, {t0}, NULL FROM s"
        )),
        w(format!(
            "INSERT INTO payments (id, provider, provider_txn_id, provider_payment_id, out_trade_no, order_id, amount_minor, \
             currency, outcome, source, raw, received_at, payer_id) \
             SELECT {payment}, 'sandbox', 'seedtxn-' || i, 'seedpay-' || i, {attempt}, {order}, {PRICE_MINOR}, 'CNY', \
             'captured', 'webhook', '{{\"seeded\":true,\"signature\":\"' || {h1} || '\"}}', {t0} + 5000, NULL FROM s",
            h1 = hash("raw")
        )),
        w(format!(
            "INSERT INTO card_keys (id, product_id, seq, fingerprint, key_id, nonce, ciphertext, content_hash, order_id, \
             allocated_at, created_at) \
             SELECT {key}, '{product}', -i, {fp}, 'seed', substr({n}, 1, 24), {c}, {h}, {order}, {t0} + 5000, {t0} - 60000 FROM s",
            fp = hash("fp"),
            n = hash("nonce"),
            c = hash("ct"),
            h = hash("content")
        )),
        w(format!(
            "INSERT INTO evidence_case_heads (case_id, leaf_hash) SELECT 'order:' || {order}, {h} FROM s",
            h = hash("head")
        )),
        w(format!(
            "INSERT INTO key_reveals (id, order_id, viewer, at) SELECT {reveal}, {order}, 'buyer', {t0} + 30000 FROM s"
        )),
        w(format!(
            "INSERT INTO journal_entries (id, kind, order_id, payment_id, refund_id, created_at) \
             SELECT {capture}, 'capture', {order}, {payment}, NULL, {t0} + 5000 FROM s"
        )),
        w(format!(
            "INSERT INTO journal_entries (id, kind, order_id, payment_id, refund_id, created_at) \
             SELECT {release}, 'release', {order}, NULL, NULL, {t0} + 60000 FROM s"
        )),
    ];
    for (entry, idx, account, amount) in [
        (&capture, 0, "provider:sandbox".to_string(), PRICE_MINOR),
        (&capture, 1, format!("escrow:{seller}"), -PRICE_MINOR),
        (&release, 0, format!("escrow:{seller}"), PRICE_MINOR - FEE_MINOR),
        (&release, 1, format!("reserve:{seller}"), -(PRICE_MINOR - FEE_MINOR)),
        (&release, 2, format!("escrow:{seller}"), FEE_MINOR),
        (&release, 3, "platform:fees".to_string(), -FEE_MINOR),
    ] {
        sql.push(w(format!(
            "INSERT INTO postings (entry_id, idx, account, amount_minor) SELECT {entry}, {idx}, '{account}', {amount} FROM s"
        )));
    }
    for (seq, kind, at) in [
        (1, "created", "0"),
        (2, "paid", "5000"),
        (3, "delivered", "5000"),
        (4, "key_revealed", "30000"),
        (5, "confirmed", "60000"),
    ] {
        let ev = id(&format!("1{seq:03}"));
        sql.push(w(format!(
            "INSERT INTO order_events (id, order_id, seq, kind, detail, at, leaf_hash) \
             SELECT {ev}, {order}, {seq}, '{kind}', '{{}}', {t0} + {at}, {h} FROM s",
            h = hash(kind)
        )));
    }
    // Jobs: ids by kind tag; done ones have given up their dedupe key, as finish_job does.
    for (tag, kind, payload, run_at) in [
        ("2001", "expire_order", order.clone(), format!("{t0} + 900000")),
        ("2002", "query_payment", attempt.clone(), format!("{t0} + 60000")),
        ("2003", "query_payment", attempt.clone(), format!("{t0} + 300000")),
        ("2004", "query_payment", attempt.clone(), format!("{t0} + 900000")),
        ("2005", "query_payment", attempt.clone(), format!("{t0} + 960000")),
        ("2006", "auto_confirm", order.clone(), format!("{t0} + 5000 + 86400000")),
    ] {
        let jid = id(tag);
        sql.push(w(format!(
            "INSERT INTO jobs (id, kind, payload, dedupe_key, run_at, status, attempts, lease_until, last_error, created_at, updated_at) \
             SELECT {jid}, '{kind}', {payload}, NULL, {run_at}, 'done', 1, NULL, NULL, {t0}, {t0} + 60000 FROM s"
        )));
    }
    let jid = id("2007");
    sql.push(w(format!(
        "INSERT INTO jobs (id, kind, payload, dedupe_key, run_at, status, attempts, lease_until, last_error, created_at, updated_at) \
         SELECT {jid}, 'release_reserve', {order}, 'release_reserve:' || {order}, {t0} + 60000 + {AFTER_SALES_MS}, 'queued', 0, \
         NULL, NULL, {t0} + 60000, {t0} + 60000 FROM s"
    )));
    sql
}

/// Seeds orders `from..to` (numbers of the series; the caller keeps count across sizes)
/// for `seller`'s `product`, printing the time per 100k.
pub async fn seed(db: &SeedDb, seller: &str, product: &str, from: u64, to: u64) -> anyhow::Result<f64> {
    uuid::Uuid::parse_str(seller).context("the seller id is not a UUID")?;
    uuid::Uuid::parse_str(product).context("the product id is not a UUID")?;
    let rule_version = db.scalar_i64("SELECT MAX(version) FROM rule_sets").await?;
    let now = i64::try_from(time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000)?;
    let seeding = Seeding {
        pg: db.is_pg(),
        seller,
        product,
        rule_version,
        now,
        n_end: to,
    };
    let started = Instant::now();
    let mut a = from;
    let mut last_report = from;
    while a < to {
        let b = (a + SEED_BATCH).min(to) - 1;
        let sql = batch_sql(&seeding, a, b);
        macro_rules! batch {
            ($p:expr) => {{
                let mut tx = $p.begin().await?;
                for s in &sql {
                    sqlx::query(s)
                        .execute(&mut *tx)
                        .await
                        .with_context(|| format!("seeding: {}", s.chars().take(120).collect::<String>()))?;
                }
                tx.commit().await?;
            }};
        }
        match db {
            SeedDb::Sqlite(p) => batch!(p),
            SeedDb::Postgres(p) => batch!(p),
        }
        a = b + 1;
        if a - last_report >= 100_000 || a == to {
            eprintln!(
                "  seeded {a} orders so far ({:.1} s for this size)",
                started.elapsed().as_secs_f64()
            );
            last_report = a;
        }
    }
    // The balances the seeded entries posted, so the ledger still checks.
    let n = i64::try_from(to - from)?;
    for (account, delta) in [
        ("provider:sandbox".to_string(), PRICE_MINOR * n),
        (format!("reserve:{seller}"), -(PRICE_MINOR - FEE_MINOR) * n),
        ("platform:fees".to_string(), -FEE_MINOR * n),
    ] {
        let insert = "INSERT INTO accounts (name, balance) VALUES ($1, $2) \
                      ON CONFLICT (name) DO UPDATE SET balance = accounts.balance + excluded.balance";
        match db {
            SeedDb::Sqlite(p) => {
                sqlx::query(insert).bind(&account).bind(delta).execute(p).await?;
            }
            SeedDb::Postgres(p) => {
                sqlx::query(insert).bind(&account).bind(delta).execute(p).await?;
            }
        }
    }
    if let SeedDb::Postgres(p) = db {
        // Fresh statistics, as autovacuum would have gathered them on a live database.
        sqlx::query("ANALYZE").execute(p).await?;
    }
    if let SeedDb::Sqlite(p) = db {
        // No ANALYZE here: the server never runs it, so a live SQLite file has no
        // statistics either, and the planner must be measured as it really plans.
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(p).await?;
    }
    Ok(started.elapsed().as_secs_f64())
}
