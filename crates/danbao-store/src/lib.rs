//! Storage for Danbao on SQLite (the default) and PostgreSQL (production).
//!
//! The SQL is written once, in `queries/` (one file per aggregate), in the subset both databases speak
//! (`$n` parameters, BIGINT/INTEGER, TEXT, `ON CONFLICT`, `RETURNING`), and compiled
//! twice: once against `sqlx::Sqlite` and once against `sqlx::Postgres`, each with its
//! own migrations. Where the dialects differ (row locks, `SKIP LOCKED`) a per-database
//! `Dialect` constant says so. `Tx` is the one handle the application uses: it begins
//! a transaction, calls row-level functions on it, and commits.
//!
//! This crate decides nothing about the business; it stores what the domain decided.
//! The one exception is deliberate: `post_entry` re-checks that an entry balances and
//! that no liability goes negative, with the domain's own `apply_to`, at write time.

use danbao_domain::ledger::{EntryRefs, Posting};
use danbao_domain::{
    Account, ComplaintId, EntryKind, JournalEntry, LedgerError, OrderId, PaymentAttemptId, UserId, WithdrawalId,
};
use std::collections::BTreeMap;
use std::str::FromStr;
use std::time::Duration;

mod audit;
mod liability_rows;
pub mod lite;
mod rows;
pub use audit::AuditFacts;
pub use liability_rows::*;
pub use rows::*;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("already exists: {0}")]
    Conflict(String),
    #[error("ledger refused the entry: {0}")]
    Ledger(#[from] LedgerError),
    #[error("stored data is not valid: {0}")]
    Corrupt(String),
    #[error("unsupported database url (use sqlite:PATH or postgres://…)")]
    UnsupportedUrl,
}

impl StoreError {
    /// The database aborted the transaction to break a deadlock or a serialization
    /// conflict (PostgreSQL 40P01 / 40001): it was rolled back whole, so running the
    /// same work again in a new transaction is safe.
    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::Database(sqlx::Error::Database(db)) => {
                matches!(db.code().as_deref(), Some("40P01") | Some("40001"))
            }
            _ => false,
        }
    }

    /// The database could not be reached, or dropped the connection (a failover, a restart,
    /// a connection that landed on a standby): the transaction did not commit, and the same
    /// work can run again once a primary answers. Not a fault in the work itself.
    pub fn is_unavailable(&self) -> bool {
        match self {
            StoreError::Database(
                sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Tls(_),
            ) => true,
            // 08: connection exception; 57P01–57P03: the server is shutting down or
            // starting; 25006: a write reached a read-only (standby) session.
            StoreError::Database(sqlx::Error::Database(db)) => db
                .code()
                .is_some_and(|c| c.starts_with("08") || matches!(c.as_ref(), "57P01" | "57P02" | "57P03" | "25006")),
            _ => false,
        }
    }

    fn from_insert(e: sqlx::Error, what: &str) -> StoreError {
        match &e {
            sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict(what.to_string()),
            _ => StoreError::Database(e),
        }
    }
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// An idempotency key whose request never finished (its process died) is taken over by
/// the next request with it after this long.
pub const IDEMPOTENCY_ABANDONED_AFTER_MS: i64 = 30_000;

/// Group counts for the admin overview.
#[derive(Debug, Clone, Copy)]
pub enum CountOf {
    PaymentOutcomes,
    RefundStatuses,
    JobStatuses,
    OpenExceptions,
}

/// Where SQLite and PostgreSQL differ in what we need of them.
struct Dialect {
    /// Appended to a SELECT whose rows the transaction will update. SQLite needs none:
    /// every writing transaction holds the single write lock.
    for_update: &'static str,
    /// Like `for_update`, for a row the transaction only reads but needs unchanged until
    /// it commits; other readers share it.
    for_share: &'static str,
    /// Whether one statement may insert into several tables (`WITH … AS (INSERT …)`).
    multi_table_insert: bool,
    /// Appended to a job-claim sub-select so concurrent workers pass each other by.
    skip_locked: &'static str,
}

/// The SQL, one file per aggregate, written once and expanded into each database module
/// below; `common.rs` holds what they share (`Conn`, `Row`, `corrupt`).
macro_rules! queries {
    () => {
        include!("queries/common.rs");
        include!("queries/users.rs");
        include!("queries/rules.rs");
        include!("queries/catalog.rs");
        include!("queries/orders.rs");
        include!("queries/payments.rs");
        include!("queries/reconciliation.rs");
        include!("queries/admin.rs");
        include!("queries/ledger.rs");
        include!("queries/jobs.rs");
        include!("queries/idempotency.rs");
        include!("queries/security.rs");
        include!("queries/evidence.rs");
        include!("queries/complaints.rs");
        include!("queries/image_hashes.rs");
        include!("queries/sellers.rs");
        include!("queries/withdrawals.rs");
        include!("queries/abuse.rs");
        include!("queries/limits.rs");
        include!("queries/risk.rs");
        include!("queries/audit.rs");
        include!("queries/backoffice.rs");
        include!("queries/console_admin.rs");
        include!("queries/notifications.rs");
        include!("queries/liabilities.rs");
    };
}

// The queries write `&mut **tx` because sqlx's executor is generic; the shim takes the
// connection by type, so there the deref would happen on its own.
#[allow(clippy::explicit_auto_deref)]
pub mod sqlite {
    use super::*;
    /// The queries say `sqlx::query`; here that is rusqlite on the caller's thread.
    mod sqlx {
        pub use crate::lite::shim::{query, Row};
    }
    type Conn = crate::lite::LiteTx;
    type Row = crate::lite::shim::LiteRow;
    const DIALECT: Dialect = Dialect {
        for_update: "",
        for_share: "",
        multi_table_insert: false,
        skip_locked: "",
    };
    queries!();
}

pub mod postgres {
    use super::*;
    type Conn = crate::PgConn;
    type Row = sqlx::postgres::PgRow;
    const DIALECT: Dialect = Dialect {
        // Not FOR UPDATE: that lock also blocks every insert elsewhere whose foreign key
        // names the row (an order's events, its attempt, a product's orders), and no
        // statement here changes a key.
        for_update: " FOR NO KEY UPDATE",
        for_share: " FOR SHARE",
        multi_table_insert: true,
        skip_locked: " FOR NO KEY UPDATE SKIP LOCKED",
    };
    queries!();
}

/// A connection to one of the two databases: SQLite (one connection, group commit, see
/// `lite`) or a PostgreSQL pool.
#[derive(Clone, Debug)]
pub enum Store {
    Sqlite(lite::Lite),
    Postgres(sqlx::PgPool),
}

/// The budget for waiting on a pooled connection; a request that waits longer is
/// failing anyway, and the wait would hide a deadlock.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long SQLite waits for another process's write lock before giving up.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);
const POSTGRES_MAX_CONNECTIONS: u32 = 16;

impl Store {
    /// Connects to `sqlite:PATH` (created if missing) or `postgres://…`, optionally inside
    /// a PostgreSQL schema (tests use one schema each), and runs the migrations.
    pub async fn connect(url: &str, pg_schema: Option<&str>) -> Result<Store> {
        let store = if url.starts_with("sqlite:") {
            // The migrations run through sqlx (its migration table, as before); the
            // application's statements through rusqlite.
            let opts = sqlx::sqlite::SqliteConnectOptions::from_str(url)?;
            let path = opts.get_filename().to_path_buf();
            migrate_sqlite(&path).await?;
            let lite = lite::Lite::open(path, SQLITE_BUSY_TIMEOUT, ACQUIRE_TIMEOUT).map_err(lite::db_error)?;
            return Ok(Store::Sqlite(lite));
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let mut opts = sqlx::postgres::PgConnectOptions::from_str(url)?;
            if let Some(schema) = pg_schema {
                opts = opts.options([("search_path", schema)]);
            }
            let pool = sqlx::postgres::PgPoolOptions::new()
                .max_connections(POSTGRES_MAX_CONNECTIONS)
                .acquire_timeout(ACQUIRE_TIMEOUT)
                // What libpq's `target_session_attrs=read-write` does, which sqlx lacks: a
                // connection that reached a standby (a load balancer not yet aware of a
                // failover, a stale address) is refused, and the pool tries again, until
                // it reaches the primary. Connections to a primary that dies fail and are
                // replaced the same way, so after a failover the pool heals on its own.
                .after_connect(|conn, _meta| {
                    Box::pin(async move {
                        let standby: bool = sqlx::query_scalar("SELECT pg_is_in_recovery()")
                            .fetch_one(&mut *conn)
                            .await?;
                        if standby {
                            return Err(sqlx::Error::Protocol(
                                "connected to a standby (read-only); the primary is needed".into(),
                            ));
                        }
                        Ok(())
                    })
                })
                .connect_with(opts)
                .await?;
            Store::Postgres(pool)
        } else {
            return Err(StoreError::UnsupportedUrl);
        };
        store.migrate().await?;
        Ok(store)
    }

    pub async fn migrate(&self) -> Result<()> {
        match self {
            Store::Sqlite(l) => migrate_sqlite(l.path()).await?,
            Store::Postgres(p) => sqlx::migrate!("./migrations/postgres").run(p).await?,
        }
        Ok(())
    }

    pub async fn begin(&self) -> Result<Tx> {
        Ok(match self {
            Store::Sqlite(l) => Tx::new(TxConn::Sqlite(l.begin().await?)),
            Store::Postgres(p) => Tx::new(TxConn::Postgres(PgConn::Tx(p.begin().await?))),
        })
    }

    /// Begins a transaction that only reads. On SQLite it runs beside the writer on a
    /// connection of its own and sees only committed (durable) data, so a sign-in or a
    /// status poll waits neither for the writer nor for a batch's fsync; a write in it
    /// fails. On PostgreSQL its statements run without BEGIN and COMMIT (two round trips
    /// fewer; under READ COMMITTED each statement saw its own snapshot anyway).
    pub async fn begin_read(&self) -> Result<Tx> {
        Ok(match self {
            Store::Sqlite(l) => Tx::new(TxConn::Sqlite(l.begin_read()?)),
            Store::Postgres(p) => Tx::new(TxConn::Postgres(PgConn::Read(p.acquire().await?))),
        })
    }

    /// Migrations this build has that the database does not (an empty list: the schema is
    /// what this build expects). `/readyz` is not ready while any is missing, e.g. after
    /// the database was swapped under a running process.
    /// A read-write transaction that sees one consistent snapshot of the whole database
    /// for all its statements: PostgreSQL's REPEATABLE READ (its default, READ COMMITTED,
    /// gives each statement its own snapshot, so a ledger read in two statements could
    /// straddle a commit). SQLite's `BEGIN IMMEDIATE` already holds the one write lock.
    pub async fn begin_snapshot(&self) -> Result<Tx> {
        Ok(match self {
            Store::Sqlite(l) => Tx::new(TxConn::Sqlite(l.begin().await?)),
            Store::Postgres(p) => {
                let mut t = p.begin().await?;
                sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                    .execute(&mut *t)
                    .await?;
                Tx::new(TxConn::Postgres(PgConn::Tx(t)))
            }
        })
    }

    pub async fn missing_migrations(&self) -> Result<Vec<i64>> {
        let (migrator, mut tx) = match self {
            Store::Sqlite(_) => (sqlx::migrate!("./migrations/sqlite"), self.begin_read().await?),
            Store::Postgres(_) => (sqlx::migrate!("./migrations/postgres"), self.begin_read().await?),
        };
        let applied = tx.applied_migrations().await?;
        tx.commit().await?;
        Ok(migrator
            .iter()
            .map(|m| m.version)
            .filter(|v| !applied.contains(v))
            .collect())
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Store::Sqlite(_) => "sqlite",
            Store::Postgres(_) => "postgres",
        }
    }

    /// Runs one SQL statement as is. For tools and for the tests that play an attacker
    /// with direct database access; the application never calls it.
    pub async fn execute_raw(&self, sql: &str) -> Result<u64> {
        Ok(match self {
            Store::Sqlite(l) => {
                let mut tx = l.begin().await?;
                let n = lite::shim::query(sql).execute(&mut tx).await?.rows_affected();
                tx.commit().await?;
                n
            }
            Store::Postgres(p) => sqlx::query(sql).execute(p).await?.rows_affected(),
        })
    }

    pub async fn close(&self) {
        match self {
            Store::Sqlite(_) => {}
            Store::Postgres(p) => p.close().await,
        }
    }
}

/// Creates the SQLite file if missing, in WAL mode, and applies the migrations over a
/// connection of sqlx's own, closed afterwards.
async fn migrate_sqlite(path: &std::path::Path) -> Result<()> {
    use sqlx::Connection;
    let opts = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
        .busy_timeout(SQLITE_BUSY_TIMEOUT)
        .foreign_keys(true);
    let mut conn = sqlx::sqlite::SqliteConnection::connect_with(&opts).await?;
    sqlx::migrate!("./migrations/sqlite").run(&mut conn).await?;
    conn.close().await?;
    Ok(())
}

/// A consistent copy of the SQLite database at `src`, taken while it is in use (see
/// `lite::backup`). A PostgreSQL database is backed up with its own tools (pg_basebackup
/// and WAL archiving; README "Backup and restore").
pub async fn backup_sqlite(src: &std::path::Path, out: &std::path::Path) -> Result<()> {
    lite::backup(src, out, SQLITE_BUSY_TIMEOUT)
        .await
        .map_err(|e| StoreError::Database(lite::db_error(e)))
}

/// Creates a fresh PostgreSQL schema for one test or tool run; returns its name.
pub async fn create_pg_schema(url: &str, prefix: &str) -> Result<String> {
    use sqlx::Connection;
    let name = format!("{prefix}_{}", uuid::Uuid::new_v4().simple());
    let mut conn = sqlx::PgConnection::connect(url).await?;
    sqlx::query(&format!("CREATE SCHEMA {name}")).execute(&mut conn).await?;
    conn.close().await?;
    Ok(name)
}

pub async fn drop_pg_schema(url: &str, name: &str) -> Result<()> {
    use sqlx::Connection;
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(StoreError::Corrupt(format!("refusing to drop schema {name:?}")));
    }
    let mut conn = sqlx::PgConnection::connect(url).await?;
    sqlx::query(&format!("DROP SCHEMA IF EXISTS {name} CASCADE"))
        .execute(&mut conn)
        .await?;
    conn.close().await?;
    Ok(())
}

/// An open transaction on either database. Dropping it without `commit` rolls back.
pub struct Tx {
    conn: TxConn,
    /// What this transaction's entries add to accounts it never read (`post_entry`),
    /// written by `commit` just before the database commits: a busy account is then
    /// locked for the commit only, not for the whole transaction.
    deferred: BTreeMap<Account, i64>,
}

enum TxConn {
    Sqlite(lite::LiteTx),
    Postgres(PgConn),
}

/// A PostgreSQL connection inside a transaction, or, for `begin_read`, in autocommit.
pub enum PgConn {
    Tx(sqlx::Transaction<'static, sqlx::Postgres>),
    Read(sqlx::pool::PoolConnection<sqlx::Postgres>),
}

impl std::ops::Deref for PgConn {
    type Target = sqlx::PgConnection;
    fn deref(&self) -> &sqlx::PgConnection {
        match self {
            PgConn::Tx(t) => t,
            PgConn::Read(c) => c,
        }
    }
}

impl std::ops::DerefMut for PgConn {
    fn deref_mut(&mut self) -> &mut sqlx::PgConnection {
        match self {
            PgConn::Tx(t) => t,
            PgConn::Read(c) => c,
        }
    }
}

/// Runs the same query function on whichever database the transaction is on.
macro_rules! on_conn {
    ($conn:expr, $name:ident($($arg:expr),*)) => {
        match $conn {
            TxConn::Sqlite(t) => sqlite::$name(t, $($arg),*).await,
            TxConn::Postgres(t) => postgres::$name(t, $($arg),*).await,
        }
    };
}

impl Tx {
    fn new(conn: TxConn) -> Tx {
        Tx {
            conn,
            deferred: BTreeMap::new(),
        }
    }

    pub async fn commit(mut self) -> Result<()> {
        if !self.deferred.is_empty() {
            on_conn!(&mut self.conn, add_to_balances(&self.deferred))?;
        }
        match self.conn {
            TxConn::Sqlite(t) => t.commit().await?,
            TxConn::Postgres(PgConn::Tx(t)) => t.commit().await?,
            TxConn::Postgres(PgConn::Read(_)) => {}
        }
        Ok(())
    }

    /// Writes a journal entry and its postings, all in this transaction. The accounts the
    /// entry takes down that may never go below zero are locked first, in the `Account`
    /// ordering (so two entries touching the same accounts cannot deadlock), and the
    /// domain's `apply_to` computes their new balances (refusing to take a liability below
    /// zero); the entry is checked to balance once more before a row is written. What it
    /// adds to every other account is kept for `commit` (see `deferred`).
    pub async fn post_entry(&mut self, entry: &JournalEntry, now: i64) -> Result<String> {
        entry.verify_balanced()?;
        let to_check = entry.accounts_to_check()?;
        let mut current = BTreeMap::new();
        for account in &to_check {
            current.insert(account.clone(), self.lock_account(account).await?);
        }
        let next = entry.apply_to(&current).inspect_err(|e| {
            // A refused entry is either a caller's expected "not enough money" (a
            // withdrawal) or a bug; which entry and what it saw is what finding it needs.
            tracing::debug!(kind = entry.kind().as_str(), refs = ?entry.refs(), postings = ?entry.postings(), balances = ?current, error = %e, "ledger refused an entry");
        })?;
        let balances: Vec<(String, i64)> = next
            .iter()
            .filter(|(account, _)| to_check.contains(*account))
            .map(|(account, balance)| (account.to_string(), *balance))
            .collect();
        let mut deferred = self.deferred.clone();
        for (account, delta) in entry.deltas()? {
            if !to_check.contains(&account) {
                let sum = deferred.entry(account).or_insert(0);
                *sum = sum.checked_add(delta).ok_or(LedgerError::Overflow)?;
            }
        }
        let id = on_conn!(&mut self.conn, write_entry(entry, &balances, now))?;
        self.deferred = deferred;
        Ok(id)
    }

    /// Locks one account's row (created at zero if missing) and returns its raw balance,
    /// this transaction's own additions included: for a caller that must read a balance
    /// and then post an amount computed from it, so no other transaction can move the
    /// balance in between.
    pub async fn lock_account(&mut self, account: &Account) -> Result<i64> {
        let stored = on_conn!(&mut self.conn, lock_account_row(account))?;
        let Some(&delta) = self.deferred.get(account) else {
            return Ok(stored);
        };
        // Locked now anyway: the addition is written here rather than at commit.
        let balance = stored.checked_add(delta).ok_or(LedgerError::Overflow)?;
        on_conn!(&mut self.conn, set_account_balances(&[(account.to_string(), balance)]))?;
        self.deferred.remove(account);
        Ok(balance)
    }

    /// The raw balance (debits − credits) of one account, this transaction's own
    /// additions included.
    pub async fn account_balance(&mut self, account: &Account) -> Result<i64> {
        let stored = on_conn!(&mut self.conn, stored_balance(account))?;
        Ok(stored.saturating_add(self.deferred.get(account).copied().unwrap_or(0)))
    }

    /// What all sellers owe the platform (receivables), this transaction's own additions
    /// included.
    pub async fn receivables_total(&mut self) -> Result<i64> {
        let stored = on_conn!(&mut self.conn, receivables_sum())?;
        Ok(self
            .deferred
            .iter()
            .filter(|(a, _)| matches!(a, Account::Receivable(_)))
            .fold(stored, |sum, (_, d)| sum.saturating_add(*d)))
    }

    /// Every account's raw balance, this transaction's own additions included.
    pub async fn account_balances(&mut self) -> Result<BTreeMap<Account, i64>> {
        let mut all = on_conn!(&mut self.conn, stored_balances())?;
        for (account, delta) in &self.deferred {
            let b = all.entry(account.clone()).or_insert(0);
            *b = b.saturating_add(*delta);
        }
        Ok(all)
    }
}

macro_rules! tx_methods {
    ($( fn $name:ident($($arg:ident : $ty:ty),* $(,)?) -> $ret:ty; )*) => {
        impl Tx {
            $(
                pub async fn $name(&mut self, $($arg: $ty),*) -> Result<$ret> {
                    on_conn!(&mut self.conn, $name($($arg),*))
                }
            )*
        }
    };
}

tx_methods! {
    // Proof of liabilities (issue 16 item 3).
    fn order_holds() -> Vec<OrderHoldRow>;
    fn max_liability_seq() -> i64;
    fn insert_liability_statement(statement: &LiabilityStatementRow, leaves: &[LiabilityLeafRow], accounts: &[(String, i64)]) -> ();
    fn recent_liability_statements(limit: i64) -> Vec<LiabilityStatementRow>;
    fn liability_statement(seq: i64) -> Option<LiabilityStatementRow>;
    fn liability_seqs() -> Vec<i64>;
    fn liability_leaves(seq: i64) -> Vec<LiabilityLeafRow>;
    fn liability_leaves_by_labels(seq: i64, labels: &[String]) -> Vec<LiabilityLeafRow>;
    fn liability_accounts(seq: i64) -> Vec<(String, i64)>;
    fn prune_liability_leaves(keep_from: i64, now: i64) -> u64;
    fn insert_user(user: &UserRow) -> ();
    fn user_by_username(username: &str) -> Option<UserRow>;
    fn user_by_id(id: &UserId) -> Option<UserRow>;
    fn insert_token(token_hash: &str, user: &UserId, now: i64, expires_at: i64) -> ();
    fn user_by_token(token_hash: &str, now: i64) -> Option<UserRow>;

    fn latest_rule_set() -> Option<RuleSetRow>;
    fn rule_set(version: i64) -> Option<RuleSetRow>;
    fn insert_rule_set(row: &RuleSetRow) -> ();

    fn insert_product(p: &ProductRow) -> ();
    fn product(id: &danbao_domain::ProductId, lock: bool) -> Option<ProductRow>;
    fn list_products(after: Option<&str>, limit: i64) -> Vec<ProductRow>;
    fn products_by_seller(seller: &UserId) -> Vec<ProductRow>;
    fn storefront_products(after: Option<&str>, category: Option<&str>, search: Option<&str>, limit: i64) -> Vec<ProductRow>;
    fn storefront_categories() -> Vec<(String, i64)>;
    fn update_product(p: &ProductRow) -> ();
    fn reserve_stock(product: &danbao_domain::ProductId, quantity: i64) -> bool;
    fn release_stock(product: &danbao_domain::ProductId, quantity: i64) -> ();

    fn insert_card_key(key: &CardKeyRow) -> bool;
    fn next_card_key_seq(product: &danbao_domain::ProductId) -> i64;
    fn allocate_card_keys(product: &danbao_domain::ProductId, order: &OrderId, quantity: i64, now: i64) -> Vec<CardKeyRow>;
    fn card_keys_for_order(order: &OrderId) -> Vec<CardKeyRow>;

    fn seller_orders(seller: &UserId, status: Option<&str>, search: Option<&str>, limit: i64) -> Vec<OrderRow>;
    fn seller_sales_since(seller: &UserId, since: i64) -> Vec<(i64, danbao_domain::Money, danbao_domain::OrderStatus)>;
    fn complaints_of_seller(seller: &UserId, limit: i64) -> Vec<ComplaintRow>;
    fn card_keys_of_product(product: &danbao_domain::ProductId, limit: i64) -> Vec<CardKeyRow>;
    fn delete_unsold_card_key(product: &danbao_domain::ProductId, key: &str) -> bool;
    fn withdrawals_of_seller(seller: &UserId, limit: i64) -> Vec<(WithdrawalRow, i64, Option<i64>)>;
    fn insert_delivery_file(order: &OrderId, sha256: &str, media_type: &str, size_bytes: i64, now: i64) -> ();
    fn delivery_file(order: &OrderId) -> Option<(String, String, i64)>;
    fn seller_histories(sellers: &[String]) -> Vec<(String, i64, i64, i64)>;
    fn seller_trust(seller: &str) -> Option<(i64, i64, i64, i64)>;
    fn postings_between(accounts: &[String], from: i64, to: i64, limit: i64) -> Vec<(i64, String, Option<String>, String, i64)>;
    fn count_free_card_keys(product: &danbao_domain::ProductId) -> i64;

    fn insert_order(o: &OrderRow) -> ();
    fn order(id: &OrderId, lock: bool) -> Option<OrderRow>;
    fn order_by_number(number: &str) -> Option<OrderRow>;
    fn guest_orders_by_contact(contact: &str, limit: i64) -> Vec<OrderRow>;
    fn update_order(o: &OrderRow) -> ();
    fn orders_for_buyer(buyer: &UserId, limit: i64) -> Vec<OrderRow>;
    fn orders_for_seller(seller: &UserId, limit: i64) -> Vec<OrderRow>;
    fn order_statuses() -> Vec<OrderStatusRow>;
    fn order_events(order: &OrderId) -> Vec<OrderEventRow>;
    fn insert_key_reveal(order: &OrderId, viewer: &str, at: i64) -> ();
    fn count_key_reveals(order: &OrderId) -> i64;

    fn insert_payment_attempt(a: &PaymentAttemptRow) -> ();
    fn payment_attempt_for_order(order: &OrderId) -> Option<PaymentAttemptRow>;
    fn count_payment_attempts(order: &OrderId) -> i64;
    fn payment_attempt(id: &PaymentAttemptId) -> Option<PaymentAttemptRow>;
    fn set_attempt_provider_payment(id: &PaymentAttemptId, provider_payment_id: &str, cashier_url: &str) -> ();
    fn payment_by_txn(provider: &str, provider_txn_id: &str) -> Option<PaymentRow>;
    fn payment(id: &str) -> Option<PaymentRow>;
    fn count_payments_for_out_trade_no(out_trade_no: &str) -> i64;
    fn payments_received_between(provider: &str, from: i64, to: i64) -> Vec<PaymentRow>;
    fn insert_reconciliation_run(r: &ReconciliationRunRow) -> ();
    fn reconciliation_runs(limit: i64) -> Vec<ReconciliationRunRow>;
    fn insert_reconciliation_item(i: &ReconciliationItemRow) -> bool;
    fn reconciliation_item(id: &str, lock: bool) -> Option<ReconciliationItemRow>;
    fn reconciliation_items(status: Option<&str>, run_id: Option<&str>, limit: i64) -> Vec<ReconciliationItemRow>;
    fn resolve_reconciliation_item(id: &str, resolution: &str, by: &str, at: i64) -> ();
    fn order_status_counts() -> Vec<CountRow>;
    fn count_by(what: CountOf) -> Vec<CountRow>;
    fn keys_allocated_twice() -> i64;
    fn requeue_job(id: &str, now: i64) -> bool;
    fn insert_payment(p: &PaymentRow) -> bool;
    fn update_payment_outcome(id: &str, outcome: &str) -> ();
    fn payments_for_order(order: &OrderId) -> Vec<PaymentRow>;
    fn insert_refund(r: &RefundRow) -> ();
    fn refund(id: &danbao_domain::RefundId, lock: bool) -> Option<RefundRow>;
    fn mark_refund_confirmed(id: &danbao_domain::RefundId, at: i64) -> ();
    fn refunds_for_order(order: &OrderId) -> Vec<RefundRow>;

    fn audit_facts() -> AuditFacts;

    fn journal_entries() -> Vec<(String, std::result::Result<JournalEntry, LedgerError>)>;

    fn enqueue_jobs(jobs: &[NewJob], now: i64) -> u64;
    fn enqueue_job(job: &NewJob, now: i64) -> bool;
    fn claim_jobs(now: i64, lease_ms: i64, limit: i64) -> Vec<JobRow>;
    fn finish_job(id: &str, now: i64) -> ();
    fn retry_job(id: &str, error: &str, run_at: i64, now: i64, counted: bool) -> ();
    fn give_back_job(id: &str, lease_until: i64, error: &str, now: i64) -> bool;
    fn bury_job(id: &str, error: &str, now: i64) -> ();
    fn jobs_by_status(status: &str, limit: i64) -> Vec<JobRow>;

    fn idempotency_begin(scope: &str, key: &str, request_hash: &str, now: i64) -> IdempotencyState;
    fn idempotency_complete(scope: &str, key: &str, status: i64, content_type: &str, body: &str) -> ();
    fn idempotency_abandon(scope: &str, key: &str) -> ();

    fn insert_security_event(kind: &str, detail: &str, at: i64) -> ();
    fn security_events(limit: i64) -> Vec<SecurityEventRow>;

    fn evidence_case_head(case_id: &str) -> Option<String>;
    fn evidence_state() -> EvidenceStateRow;
    fn set_evidence_state(size: i64, frontier: &str) -> ();
    fn evidence_queue_batch(limit: i64) -> Vec<EvidenceQueueRow>;
    fn queue_leaf(leaf: &NewLeaf<'_>) -> ();
    fn evidence_dequeue(ids: &[&str]) -> ();
    fn insert_evidence_leaves(leaves: &[(i64, &str, &str, &str)], now: i64) -> ();
    fn insert_evidence_nodes(nodes: &[(i64, i64, String)]) -> ();
    fn evidence_node(level: i64, idx: i64) -> Option<String>;
    fn evidence_leaf(idx: i64) -> Option<EvidenceLeafRow>;
    fn evidence_leaf_by_hash(leaf_hash: &str) -> Option<EvidenceLeafRow>;
    fn latest_evidence_checkpoint() -> Option<EvidenceCheckpointRow>;
    fn evidence_checkpoint(size: i64) -> Option<EvidenceCheckpointRow>;
    fn insert_evidence_checkpoint(size: i64, root: &str, note: &str, now: i64) -> ();
    fn latest_witnessed_checkpoint() -> Option<(i64, String)>;
    fn insert_witnessed_checkpoint(size: i64, note: &str, cosigners: i64, now: i64) -> ();
    fn evidence_opening(leaf_hash: &str) -> Option<String>;
    fn insert_order_event(order: &OrderId, kind: &str, detail: &str, at: i64, leaf_hash: &str) -> ();

    fn insert_complaint(c: &ComplaintRow) -> ();
    fn complaint(id: &ComplaintId, lock: bool) -> Option<ComplaintRow>;
    fn update_complaint(c: &ComplaintRow) -> ();
    fn complaints_for_order(order: &OrderId) -> Vec<ComplaintRow>;
    fn buyer_last_lost_complaint_at(buyer: &UserId) -> Option<i64>;
    fn seller_deposit_activity(seller: &UserId) -> (i64, i64, Option<i64>);
    fn insert_deposit_payment(d: &DepositPaymentRow) -> ();
    fn deposit_payment(id: &str, lock: bool) -> Option<DepositPaymentRow>;
    fn set_deposit_payment_cashier(id: &str, provider_payment_id: &str, cashier_url: &str) -> ();
    fn set_deposit_payment_paid(id: &str, payment_id: &str, at: i64) -> ();
    fn deposit_payments_of(seller: &UserId, limit: i64) -> Vec<DepositPaymentRow>;
    fn seller_sales_total_since(seller: &UserId, since: i64) -> i64;
    fn evidence_nodes_range(level: i64, from: i64, to: i64) -> Vec<String>;
    fn evidence_leaves_range(from: i64, to: i64) -> Vec<EvidenceLeafRow>;
    fn insert_notification(n: &NotificationRow) -> ();
    fn notification(id: &str) -> Option<NotificationRow>;
    fn mark_notification_sent(id: &str, channel: &str, at: i64) -> bool;
    fn notifications_for(recipients: &[String], limit: i64) -> Vec<NotificationRow>;
    fn complaint_queue(limit: i64) -> Vec<ComplaintRow>;
    fn collective_complaints(seller: &UserId, since: i64) -> Vec<ComplaintRow>;
    fn open_complaints_of_seller(seller: &UserId) -> Vec<ComplaintRow>;
    fn open_complaints_in_group(group_id: &str) -> Vec<ComplaintRow>;
    fn insert_withdrawal(id: &WithdrawalId, seller: &UserId, provider: &str, amount: danbao_domain::Money, now: i64) -> ();
    fn withdrawal(id: &WithdrawalId, lock: bool) -> Option<WithdrawalRow>;
    fn settle_withdrawal(id: &WithdrawalId, status: &str, now: i64) -> ();
    fn insert_complaint_event(complaint_id: &ComplaintId, kind: &str, detail: &str, at: i64, leaf_hash: &str) -> ();
    fn complaint_events(complaint_id: &ComplaintId) -> Vec<ComplaintEventRow>;
    fn insert_complaint_evidence(e: &ComplaintEvidenceRow) -> ();
    fn complaint_evidence(complaint_id: &ComplaintId) -> Vec<ComplaintEvidenceRow>;
    fn insert_image_hash(h: &ImageHashRow) -> ();
    fn image_hashes_of(files: &[String]) -> Vec<ImageHashRow>;
    fn image_uses_sharing_a_band(band_keys: &[i64], algorithm: &str, complaint_id: &ComplaintId) -> Vec<ImageUseRow>;
    fn seller_standing(seller: &UserId, lock: bool) -> Option<SellerStandingRow>;
    fn lock_seller_standing(seller: &UserId, now: i64, exclusive: bool) -> SellerStandingRow;
    fn set_seller_standing(s: &SellerStandingRow) -> ();
    fn open_orders_of_seller(seller: &UserId) -> Vec<OrderRow>;

    fn order_account_sum(order: &OrderId, account: &Account) -> i64;
    fn set_payment_payer(payment_id: &str, payer_id: &str) -> ();
    fn collective_complainants(seller: &UserId, since: i64) -> Vec<ComplainantRow>;
    fn insert_collective_review(v: &CollectiveReviewRow) -> bool;
    fn collective_review(group_id: &str, lock: bool) -> Option<CollectiveReviewRow>;
    fn undecided_collective_reviews(seller: Option<&UserId>) -> Vec<CollectiveReviewRow>;
    fn set_collective_review_status(group_id: &str, status: &str, decided_by: Option<&str>, at: Option<i64>) -> ();
    fn set_user_contact(user: &UserId, contact: &str) -> ();
    fn user_contact(user: &UserId) -> Option<String>;
    fn set_user_payout_account(user: &UserId, account: &str) -> ();
    fn user_payout_account(user: &UserId) -> Option<String>;
    fn set_order_client(order: &OrderId, address: Option<&str>, contact: Option<&str>) -> ();
    fn unpaid_units(who: HoldKey<'_>, product: Option<&danbao_domain::ProductId>) -> i64;
    fn query_password_lock(order: &OrderId) -> Option<danbao_domain::limits::QueryPasswordLock>;
    fn set_query_password_lock(order: &OrderId, lock: &danbao_domain::limits::QueryPasswordLock) -> ();
    fn clear_query_password_lock(order: &OrderId) -> ();
    fn count_security_event(kind: &str, bucket: &str, detail: &str, at: i64) -> ();
    fn seller_recent_complaints(seller: &UserId, limit: i64) -> (i64, i64);
    fn category_median_price(category: &str, except_seller: &UserId) -> (i64, Option<i64>);
    fn orders_placed_since(who: HoldKey<'_>, since: i64) -> i64;
    fn set_order_risk(order: &OrderId, risk: &OrderRiskRow) -> ();
    fn order_risk(order: &OrderId) -> Option<OrderRiskRow>;
    fn confirm_order_risk(order: &OrderId, at: i64) -> ();

    fn sellers_matching(needle: &str, limit: i64) -> Vec<UserRow>;
    fn accounts_with_roles(roles: &[&str], limit: i64) -> Vec<(UserRow, Option<i64>)>;
    fn disable_user(id: &UserId, now: i64) -> bool;
    fn user_disabled(id: &UserId) -> bool;
    fn active_user_by_token(token_hash: &str, now: i64) -> Option<UserRow>;
    fn insert_ledger_check(c: &LedgerCheckRow) -> ();
    fn latest_ledger_check() -> Option<LedgerCheckRow>;
    fn latest_checkpoint_made() -> Option<(i64, i64)>;
    fn job_queue_stats(now: i64) -> Vec<JobQueueStat>;
    fn evidence_log_size() -> (i64, i64);
    fn applied_migrations() -> Vec<i64>;
    fn rule_sets() -> Vec<RuleSetRow>;
}

/// Rebuilds a stored entry; kept here so both databases read entries the same way.
fn entry_from_parts(
    kind: &str,
    refs: EntryRefs,
    postings: Vec<(String, i64)>,
) -> std::result::Result<JournalEntry, LedgerError> {
    let kind = EntryKind::parse(kind).ok_or_else(|| LedgerError::Unreadable(format!("unknown kind {kind:?}")))?;
    let mut parsed = Vec::with_capacity(postings.len());
    for (account, amount_minor) in postings {
        let account =
            Account::parse(&account).ok_or_else(|| LedgerError::Unreadable(format!("unknown account {account:?}")))?;
        parsed.push(Posting { account, amount_minor });
    }
    JournalEntry::from_stored(kind, refs, parsed)
}
