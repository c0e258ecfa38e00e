//! SQLite without a thread hop per statement, and with group commit.
//!
//! sqlx's SQLite driver runs each connection on a worker thread and crosses a channel
//! (and wakes a thread) for every statement; the profile of the order path was mostly
//! those hand-offs, with SQLite itself at 3 % (issue 13). Here one rusqlite connection
//! sits behind an async mutex and each statement runs on the caller's thread, from a
//! cache of prepared statements.
//!
//! **Group commit.** Every transaction is a savepoint inside a batch transaction. When a
//! transaction ends and others are already waiting for the connection, the batch stays
//! open for them; the last one (or the one that finds the batch full or old) commits the
//! whole batch with one fsync (`synchronous=FULL`), and only then does any member's
//! `commit` return. So each caller is answered only after its own writes are durable, and
//! under load many transactions share one fsync (the technique of PostgreSQL's
//! `commit_delay` and TigerBeetle). A transaction that fails rolls back its own savepoint
//! only; a batch whose COMMIT fails fails every member.
//!
//! **Readers.** A transaction that only reads (`begin_read`: signing in by token, an order's
//! page or status) runs on a connection of its own, outside the batches: it sees only what
//! is committed — durable — and neither waits for the writer nor for a batch's fsync.
//!
//! **Checkpoints.** The writer never checkpoints inside a COMMIT (that copied pages into
//! the database file and fsynced it while every other transaction waited). A thread of its
//! own copies the WAL into the database file in the background (PASSIVE checkpoints), and
//! once the WAL has grown past `WAL_RESTART_FRAMES` the writer, between two batches, has
//! it start again from the beginning (a RESTART checkpoint, which waits at most
//! `WAL_RESTART_WAIT` for readers still on the old WAL). Without that the WAL never went
//! back to the beginning under load, because some reader always had a snapshot in it: a
//! 4,000-order bench left a 180,000-frame (700 MB) WAL (issue 13). The gain is a bounded
//! WAL; orders/s measured the same before and after.
//!
//! The queries in `queries/` are written against sqlx's API; `shim` gives them the same
//! names over rusqlite (`query(..).bind(..).fetch_all(..)`, `Row::try_get`), so the SQL is
//! still written once for all three modules.

use rusqlite::types::{FromSql, FromSqlError, ToSql, ToSqlOutput, Value, ValueRef};
use std::borrow::Cow;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{watch, Mutex, OwnedMutexGuard};

/// A batch is committed once it holds this many transactions, even with more waiting.
const BATCH_MAX_MEMBERS: usize = 256;
/// ... or once it has been open this long, so a steady stream of callers cannot keep
/// the first member waiting.
const BATCH_MAX_AGE: Duration = Duration::from_millis(10);
const STATEMENT_CACHE: usize = 512;
/// Idle reader connections kept open; more are opened when needed, and closed after.
const READERS_KEPT: usize = 64;
/// The writer's page cache (KiB, as SQLite's negative `cache_size`): the hot tables'
/// pages stay in memory instead of being read back from the OS on every batch.
const WRITER_CACHE_KIB: i64 = 64 * 1024;
/// How often the checkpointer copies the WAL into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(100);
/// Once the WAL holds this many frames (4 KiB pages; 16 MiB), the writer starts it again
/// from the beginning between two batches.
const WAL_RESTART_FRAMES: u64 = 4096;
/// How long that restart waits for readers still reading the old WAL before giving up
/// until the next batch: readers are short, and the writer waits meanwhile.
const WAL_RESTART_WAIT: Duration = Duration::from_millis(20);

type Outcome = Option<std::result::Result<(), String>>;

/// The one connection, and the batch open on it (if any).
pub struct Writer {
    conn: rusqlite::Connection,
    batch: Option<OpenBatch>,
    /// Batches committed since the database was opened (for tests and benchmarks).
    batches_committed: u64,
    /// The WAL's size in frames at the checkpointer's last pass (0 right after a restart).
    wal_frames: Arc<AtomicU64>,
    /// Times the WAL was started again from the beginning (for tests).
    wal_restarts: u64,
    busy_timeout: Duration,
}

struct OpenBatch {
    done: watch::Sender<Outcome>,
    opened: Instant,
    members: usize,
}

/// A SQLite database opened for Danbao.
#[derive(Clone)]
pub struct Lite {
    writer: Arc<Mutex<Writer>>,
    /// Callers waiting for the connection: while there are any, a batch stays open.
    waiting: Arc<AtomicUsize>,
    readers: Readers,
    path: PathBuf,
    busy_timeout: Duration,
    acquire_timeout: Duration,
    /// Dropped with the last clone, which stops the checkpointer.
    _checkpointer: Arc<std::sync::mpsc::SyncSender<()>>,
}

type Readers = Arc<std::sync::Mutex<Vec<rusqlite::Connection>>>;

impl std::fmt::Debug for Lite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lite").field("path", &self.path).finish()
    }
}

impl Lite {
    /// `acquire_timeout` bounds the wait for the connection: a caller that waits longer
    /// is failing anyway, and the wait would hide a deadlock.
    pub fn open(path: PathBuf, busy_timeout: Duration, acquire_timeout: Duration) -> rusqlite::Result<Lite> {
        let conn = rusqlite::Connection::open(&path)?;
        conn.busy_timeout(busy_timeout)?;
        // WAL; FULL makes every COMMIT durable (an fsync of the WAL), which group
        // commit pays once per batch.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        conn.pragma_update(None, "cache_size", -WRITER_CACHE_KIB)?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        let wal_frames = Arc::new(AtomicU64::new(0));
        let checkpointer = start_checkpointer(&path, wal_frames.clone())?;
        Ok(Lite {
            writer: Arc::new(Mutex::new(Writer {
                conn,
                batch: None,
                batches_committed: 0,
                wal_frames,
                wal_restarts: 0,
                busy_timeout,
            })),
            waiting: Arc::new(AtomicUsize::new(0)),
            readers: Arc::new(std::sync::Mutex::new(Vec::new())),
            path,
            busy_timeout,
            acquire_timeout,
            _checkpointer: Arc::new(checkpointer),
        })
    }

    /// Begins a read-only transaction on a reader connection: it sees what was committed
    /// before its first statement, nothing of an open batch, and cannot write.
    pub fn begin_read(&self) -> Result<LiteTx, sqlx::Error> {
        let idle = self.readers.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let conn = match idle {
            Some(conn) => conn,
            None => {
                let conn = rusqlite::Connection::open(&self.path).map_err(db_error)?;
                conn.busy_timeout(self.busy_timeout).map_err(db_error)?;
                conn.pragma_update(None, "query_only", "ON").map_err(db_error)?;
                conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
                conn
            }
        };
        conn.execute_batch("BEGIN").map_err(db_error)?;
        Ok(LiteTx {
            guard: None,
            done: None,
            waiting: self.waiting.clone(),
            reader: Some((conn, self.readers.clone())),
        })
    }

    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// How many batches (fsyncs) have been committed since the database was opened.
    pub async fn batches_committed(&self) -> u64 {
        self.writer.lock().await.batches_committed
    }

    /// How many times the WAL has been started again from the beginning.
    pub async fn wal_restarts(&self) -> u64 {
        self.writer.lock().await.wal_restarts
    }

    /// Begins a transaction: a savepoint in the open batch, or in a new one.
    pub async fn begin(&self) -> Result<LiteTx, sqlx::Error> {
        let guard = {
            let _waiting = Waiting::enter(&self.waiting);
            tokio::time::timeout(self.acquire_timeout, self.writer.clone().lock_owned())
                .await
                .map_err(|_| sqlx::Error::PoolTimedOut)?
        };
        let mut tx = LiteTx {
            guard: Some(guard),
            done: None,
            waiting: self.waiting.clone(),
            reader: None,
        };
        let w = tx.writer_mut();
        if w.batch.is_none() {
            w.conn.execute_batch("BEGIN IMMEDIATE").map_err(db_error)?;
            let (done, _) = watch::channel(None);
            w.batch = Some(OpenBatch {
                done,
                opened: Instant::now(),
                members: 0,
            });
        }
        let rx = match &mut w.batch {
            Some(b) => {
                b.members += 1;
                b.done.subscribe()
            }
            None => unreachable!("a batch was opened above"),
        };
        if let Err(e) = w.conn.execute_batch("SAVEPOINT tx") {
            // Nothing of ours is in the batch: leave it as we found it.
            if let Some(b) = &mut w.batch {
                b.members -= 1;
            }
            return Err(db_error(e));
        }
        tx.done = Some(rx);
        Ok(tx)
    }
}

/// Counts a caller as waiting for the connection until it has it (or gives up).
struct Waiting<'a>(&'a AtomicUsize);

impl<'a> Waiting<'a> {
    fn enter(n: &'a AtomicUsize) -> Waiting<'a> {
        n.fetch_add(1, Ordering::SeqCst);
        Waiting(n)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// One transaction: a savepoint in a batch, or a read on a reader connection. Dropping
/// it without `commit` rolls back its own work and nobody else's.
pub struct LiteTx {
    guard: Option<OwnedMutexGuard<Writer>>,
    done: Option<watch::Receiver<Outcome>>,
    waiting: Arc<AtomicUsize>,
    /// A read-only transaction's connection, and the pool it goes back to.
    reader: Option<(rusqlite::Connection, Readers)>,
}

/// Ends a reader's transaction and gives its connection back (or closes it).
fn return_reader(conn: rusqlite::Connection, readers: &Readers) {
    if !conn.is_autocommit() {
        if let Err(e) = conn.execute_batch("ROLLBACK") {
            tracing::warn!(error = %e, "ending a read transaction failed; closing its connection");
            return;
        }
    }
    let mut idle = readers.lock().unwrap_or_else(|e| e.into_inner());
    if idle.len() < READERS_KEPT {
        idle.push(conn);
    }
}

impl LiteTx {
    fn writer_mut(&mut self) -> &mut Writer {
        match &mut self.guard {
            Some(g) => g,
            None => unreachable!("a transaction holds the connection until it ends"),
        }
    }

    /// Makes this transaction's writes part of its batch and returns once the batch is
    /// durable (or has failed).
    pub async fn commit(mut self) -> Result<(), sqlx::Error> {
        if let Some((conn, readers)) = self.reader.take() {
            // Nothing to make durable: a reader only ends its snapshot.
            let ended = conn.execute_batch("COMMIT").map_err(db_error);
            return_reader(conn, &readers);
            return ended;
        }
        let released = self.writer_mut().conn.execute_batch("RELEASE tx");
        if let Err(e) = released {
            // Still inside the savepoint: Drop rolls it back and leaves the batch.
            return Err(db_error(e));
        }
        let mut done = self.done.take();
        if let Some(mut guard) = self.guard.take() {
            leave_batch(&mut guard, self.waiting.load(Ordering::SeqCst));
        }
        let Some(rx) = done.as_mut() else {
            return Err(sqlx::Error::Protocol("transaction without a batch".into()));
        };
        let outcome = rx
            .wait_for(|o| o.is_some())
            .await
            .map_err(|_| sqlx::Error::Protocol("the batch was abandoned before it committed".into()))?
            .clone();
        match outcome {
            Some(Ok(())) => Ok(()),
            Some(Err(e)) => Err(sqlx::Error::Protocol(format!("the batch commit failed: {e}"))),
            None => Err(sqlx::Error::Protocol("the batch ended without an outcome".into())),
        }
    }
}

impl Drop for LiteTx {
    fn drop(&mut self) {
        if let Some((conn, readers)) = self.reader.take() {
            return_reader(conn, &readers);
        }
        if let Some(mut guard) = self.guard.take() {
            // Not committed: undo this transaction's own work, keep the batch's.
            if let Err(e) = guard.conn.execute_batch("ROLLBACK TO tx; RELEASE tx") {
                tracing::error!(error = %e, "rolling back a savepoint failed; failing the batch");
                fail_batch(&mut guard, &e.to_string());
                return;
            }
            leave_batch(&mut guard, self.waiting.load(Ordering::SeqCst));
        }
    }
}

/// A member leaves the batch; commits it unless others are waiting to join it and it
/// is neither full nor old.
fn leave_batch(w: &mut Writer, waiting: usize) {
    let Some(b) = &w.batch else { return };
    if waiting > 0 && b.members < BATCH_MAX_MEMBERS && b.opened.elapsed() < BATCH_MAX_AGE {
        return;
    }
    match w.conn.execute_batch("COMMIT") {
        Ok(()) => {
            w.batches_committed += 1;
            if let Some(b) = w.batch.take() {
                b.done.send_replace(Some(Ok(())));
            }
            if w.wal_frames.load(Ordering::Relaxed) >= WAL_RESTART_FRAMES {
                restart_wal(w);
            }
        }
        Err(e) => fail_batch(w, &e.to_string()),
    }
}

/// Between two batches (the caller holds the writer, so no frame is added meanwhile):
/// checkpoints what the checkpointer has not copied yet and starts the WAL again from the
/// beginning, waiting at most `WAL_RESTART_WAIT` for readers still on the old one.
fn restart_wal(w: &mut Writer) {
    let restarted = w.conn.busy_timeout(WAL_RESTART_WAIT).and_then(|()| {
        w.conn
            .query_row("PRAGMA wal_checkpoint(RESTART)", [], |r| r.get::<_, i64>(0))
    });
    if let Err(e) = w.conn.busy_timeout(w.busy_timeout) {
        tracing::warn!(error = %e, "restoring the writer's busy timeout failed");
    }
    match restarted {
        // 0: done; 1: a reader was still on the old WAL: the next batch tries again.
        Ok(0) => {
            w.wal_restarts += 1;
            w.wal_frames.store(0, Ordering::Relaxed);
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "restarting the WAL failed; the next batch tries again"),
    }
}

/// Starts the thread that copies the WAL into the database file every
/// `CHECKPOINT_EVERY` and reports the WAL's size; it stops when the returned sender (held
/// by every clone of the `Lite`) is dropped.
fn start_checkpointer(
    path: &std::path::Path,
    wal_frames: Arc<AtomicU64>,
) -> rusqlite::Result<std::sync::mpsc::SyncSender<()>> {
    let conn = rusqlite::Connection::open(path)?;
    let (stop, stopped) = std::sync::mpsc::sync_channel::<()>(0);
    let spawned = std::thread::Builder::new()
        .name("sqlite-checkpointer".into())
        .spawn(move || loop {
            match stopped.recv_timeout(CHECKPOINT_EVERY) {
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
                _ => return,
            }
            // (busy, frames in the WAL, frames copied); PASSIVE never waits for anyone.
            match conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get::<_, i64>(1)) {
                Ok(frames) => wal_frames.store(u64::try_from(frames).unwrap_or(0), Ordering::Relaxed),
                Err(e) => tracing::warn!(error = %e, "a background checkpoint failed"),
            }
        });
    if let Err(e) = spawned {
        return Err(rusqlite::Error::ToSqlConversionFailure(Box::new(e)));
    }
    Ok(stop)
}

fn fail_batch(w: &mut Writer, why: &str) {
    if !w.conn.is_autocommit() {
        if let Err(e) = w.conn.execute_batch("ROLLBACK") {
            tracing::error!(error = %e, "rolling back a failed batch failed");
        }
    }
    if let Some(b) = w.batch.take() {
        b.done.send_replace(Some(Err(why.to_string())));
    }
}

impl std::ops::Deref for LiteTx {
    type Target = rusqlite::Connection;
    fn deref(&self) -> &rusqlite::Connection {
        match (&self.reader, &self.guard) {
            (Some((conn, _)), _) => conn,
            (None, Some(g)) => &g.conn,
            (None, None) => unreachable!("a transaction holds the connection until it ends"),
        }
    }
}

impl std::ops::DerefMut for LiteTx {
    fn deref_mut(&mut self) -> &mut rusqlite::Connection {
        match self.reader {
            Some((ref mut conn, _)) => conn,
            None => &mut self.writer_mut().conn,
        }
    }
}

/// A rusqlite error as the `sqlx::Error` the queries expect (so a unique violation is
/// still `is_unique_violation`).
pub fn db_error(e: rusqlite::Error) -> sqlx::Error {
    match e {
        rusqlite::Error::SqliteFailure(code, message) => {
            let message = message.unwrap_or_else(|| code.to_string());
            sqlx::Error::Database(Box::new(LiteError { code, message }))
        }
        other => sqlx::Error::Protocol(other.to_string()),
    }
}

#[derive(Debug)]
struct LiteError {
    code: rusqlite::ffi::Error,
    message: String,
}

impl std::fmt::Display for LiteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for LiteError {}

impl sqlx::error::DatabaseError for LiteError {
    fn message(&self) -> &str {
        &self.message
    }
    fn code(&self) -> Option<Cow<'_, str>> {
        Some(Cow::Owned(self.code.extended_code.to_string()))
    }
    fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        self
    }
    fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
        self
    }
    fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
        self
    }
    fn kind(&self) -> sqlx::error::ErrorKind {
        use rusqlite::ffi;
        match self.code.extended_code {
            ffi::SQLITE_CONSTRAINT_UNIQUE | ffi::SQLITE_CONSTRAINT_PRIMARYKEY => {
                sqlx::error::ErrorKind::UniqueViolation
            }
            ffi::SQLITE_CONSTRAINT_FOREIGNKEY => sqlx::error::ErrorKind::ForeignKeyViolation,
            ffi::SQLITE_CONSTRAINT_NOTNULL => sqlx::error::ErrorKind::NotNullViolation,
            ffi::SQLITE_CONSTRAINT_CHECK => sqlx::error::ErrorKind::CheckViolation,
            _ => sqlx::error::ErrorKind::Other,
        }
    }
}

/// sqlx's query API, over rusqlite; the statement runs when `execute`/`fetch_*` is called,
/// on the caller's thread (the returned futures are already complete).
pub mod shim {
    use super::*;
    use std::future::{ready, Ready};

    pub struct Query<'q> {
        sql: &'q str,
        params: Vec<Value>,
        error: Option<String>,
    }

    pub fn query(sql: &str) -> Query<'_> {
        Query {
            sql,
            params: Vec::new(),
            error: None,
        }
    }

    #[derive(Debug)]
    pub struct Done(u64);

    impl Done {
        pub fn rows_affected(&self) -> u64 {
            self.0
        }
    }

    /// A row read whole (rusqlite's rows borrow their statement).
    pub struct LiteRow {
        names: Arc<[String]>,
        values: Vec<Value>,
    }

    pub trait ColumnIndex {
        fn position(&self, row: &LiteRow) -> Option<usize>;
    }

    impl ColumnIndex for &str {
        fn position(&self, row: &LiteRow) -> Option<usize> {
            row.names.iter().position(|n| n == self)
        }
    }

    impl ColumnIndex for usize {
        fn position(&self, row: &LiteRow) -> Option<usize> {
            (*self < row.values.len()).then_some(*self)
        }
    }

    /// `try_get`, as sqlx's `Row` trait names it.
    pub trait Row {
        fn try_get<T: FromSql, I: ColumnIndex + std::fmt::Debug>(&self, index: I) -> Result<T, sqlx::Error>;
    }

    impl Row for LiteRow {
        fn try_get<T: FromSql, I: ColumnIndex + std::fmt::Debug>(&self, index: I) -> Result<T, sqlx::Error> {
            let Some(i) = index.position(self) else {
                return Err(sqlx::Error::ColumnNotFound(format!("{index:?}")));
            };
            decode(&self.values[i]).map_err(|e| sqlx::Error::ColumnDecode {
                index: format!("{index:?}"),
                source: Box::new(e),
            })
        }
    }

    /// Decodes like SQLite's own `sqlite3_value_*` accessors (which sqlx uses): an integer
    /// read as text is its digits, a real read as an integer is truncated.
    fn decode<T: FromSql>(v: &Value) -> Result<T, FromSqlError> {
        match T::column_result(ValueRef::from(v)) {
            Err(FromSqlError::InvalidType) => {
                let coerced = match v {
                    Value::Integer(i) => Value::Text(i.to_string()),
                    Value::Real(f) => Value::Integer(*f as i64),
                    Value::Text(s) => match s.trim().parse::<i64>() {
                        Ok(i) => Value::Integer(i),
                        Err(_) => return Err(FromSqlError::InvalidType),
                    },
                    _ => return Err(FromSqlError::InvalidType),
                };
                T::column_result(ValueRef::from(&coerced))
            }
            other => other,
        }
    }

    impl<'q> Query<'q> {
        pub fn bind<T: ToSql>(mut self, value: T) -> Self {
            if self.error.is_none() {
                match value.to_sql() {
                    Ok(ToSqlOutput::Borrowed(v)) => self.params.push(v.into()),
                    Ok(ToSqlOutput::Owned(v)) => self.params.push(v),
                    Ok(_) => self.error = Some("unsupported parameter".into()),
                    Err(e) => self.error = Some(e.to_string()),
                }
            }
            self
        }

        pub fn execute(self, conn: &mut rusqlite::Connection) -> Ready<Result<Done, sqlx::Error>> {
            ready(self.run(conn, |_| Ok(())).map(|_| Done(conn.changes())))
        }

        pub fn fetch_all(self, conn: &mut rusqlite::Connection) -> Ready<Result<Vec<LiteRow>, sqlx::Error>> {
            let mut rows = Vec::new();
            let r = self.run(conn, |row| {
                rows.push(row);
                Ok(())
            });
            ready(r.map(|_| rows))
        }

        pub fn fetch_optional(self, conn: &mut rusqlite::Connection) -> Ready<Result<Option<LiteRow>, sqlx::Error>> {
            let mut first = None;
            let r = self.run(conn, |row| {
                if first.is_none() {
                    first = Some(row);
                }
                Ok(())
            });
            ready(r.map(|_| first))
        }

        pub fn fetch_one(self, conn: &mut rusqlite::Connection) -> Ready<Result<LiteRow, sqlx::Error>> {
            ready(match self.fetch_optional(conn).into_inner() {
                Ok(Some(row)) => Ok(row),
                Ok(None) => Err(sqlx::Error::RowNotFound),
                Err(e) => Err(e),
            })
        }

        /// Prepares (from the cache), binds `$n` by name (so a parameter may appear out of
        /// order or twice, as in PostgreSQL), and steps through every row.
        fn run(
            self,
            conn: &rusqlite::Connection,
            mut each: impl FnMut(LiteRow) -> rusqlite::Result<()>,
        ) -> Result<(), sqlx::Error> {
            if let Some(e) = self.error {
                return Err(sqlx::Error::Encode(e.into()));
            }
            let mut stmt = conn.prepare_cached(self.sql).map_err(db_error)?;
            for (i, v) in self.params.iter().enumerate() {
                if let Some(idx) = stmt.parameter_index(&format!("${}", i + 1)).map_err(db_error)? {
                    stmt.raw_bind_parameter(idx, v).map_err(db_error)?;
                }
            }
            let n = stmt.column_count();
            let names: Arc<[String]> = stmt.column_names().iter().map(|s| s.to_string()).collect();
            let mut rows = stmt.raw_query();
            loop {
                match rows.next() {
                    Ok(Some(row)) => {
                        let mut values = Vec::with_capacity(n);
                        for i in 0..n {
                            values.push(Value::from(row.get_ref(i).map_err(db_error)?));
                        }
                        each(LiteRow {
                            names: names.clone(),
                            values,
                        })
                        .map_err(db_error)?;
                    }
                    Ok(None) => return Ok(()),
                    Err(e) => return Err(db_error(e)),
                }
            }
        }
    }
}

/// Copies the SQLite database at `src` to a new file at `out` (which must not exist yet),
/// as of one moment, while other processes go on using it: all pages in one step of
/// SQLite's online backup, so the copy holds one read transaction's view and is never
/// restarted by commits meanwhile. Nothing is written to `src`. The copy is a
/// self-contained file (no WAL beside it), fsynced before this returns.
pub async fn backup(src: &std::path::Path, out: &std::path::Path, busy_timeout: Duration) -> rusqlite::Result<()> {
    let (src, out) = (src.to_path_buf(), out.to_path_buf());
    let copy = move || -> rusqlite::Result<()> {
        if out.exists() {
            return Err(rusqlite::Error::InvalidPath(out));
        }
        let source = rusqlite::Connection::open_with_flags(&src, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
        source.busy_timeout(busy_timeout)?;
        let mut copy = rusqlite::Connection::open(&out)?;
        {
            let backup = rusqlite::backup::Backup::new(&source, &mut copy)?;
            // -1: every page in one step (rusqlite's `run_to_completion` wants a positive
            // step). Busy or locked only while another connection holds a lock a moment.
            let deadline = Instant::now() + busy_timeout;
            loop {
                match backup.step(-1)? {
                    rusqlite::backup::StepResult::Done => break,
                    _ if Instant::now() > deadline => {
                        return Err(rusqlite::Error::SqliteFailure(
                            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
                            Some("the database stayed locked for the whole busy timeout".into()),
                        ))
                    }
                    _ => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        }
        copy.pragma_update(None, "journal_mode", "DELETE")?;
        drop(copy);
        std::fs::File::open(&out)
            .and_then(|f| f.sync_all())
            .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
        Ok(())
    };
    tokio::task::spawn_blocking(copy)
        .await
        .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::shim::{query, Row as _};
    use super::*;

    fn open() -> (Lite, PathBuf) {
        let dir = std::env::temp_dir().join(format!("danbao-lite-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.db");
        let lite = Lite::open(path.clone(), Duration::from_secs(5), Duration::from_secs(5)).unwrap();
        (lite, dir)
    }

    async fn setup(lite: &Lite) {
        let mut tx = lite.begin().await.unwrap();
        query("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)")
            .execute(&mut tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }

    async fn count(lite: &Lite) -> i64 {
        let mut tx = lite.begin().await.unwrap();
        let row = query("SELECT COUNT(*) AS n FROM t").fetch_one(&mut tx).await.unwrap();
        row.try_get::<i64, _>("n").unwrap()
    }

    /// Under steady reads some reader always has a snapshot in the WAL, so SQLite alone
    /// never starts it again from the beginning: the WAL grew without bound (700 MB in a
    /// 4,000-order bench). The writer restarts it between batches.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_wal_starts_again_under_steady_reads() {
        let (lite, dir) = open();
        setup(&lite).await;
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut readers = Vec::new();
        for _ in 0..2 {
            let (lite, stop) = (lite.clone(), stop.clone());
            readers.push(tokio::spawn(async move {
                let mut reads = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let mut r = lite.begin_read().unwrap();
                    query("SELECT COUNT(*) AS n FROM t").fetch_one(&mut r).await.unwrap();
                    r.commit().await.unwrap();
                    reads += 1;
                    tokio::task::yield_now().await;
                }
                reads
            }));
        }
        // 64 KiB a row: 16 pages in the WAL each; four times the restart size in all.
        let row = "x".repeat(64 * 1024);
        let rows = 4 * WAL_RESTART_FRAMES / 16;
        for written in 1..=rows {
            let mut tx = lite.begin().await.unwrap();
            query("INSERT INTO t (v) VALUES ($1)")
                .bind(row.as_str())
                .execute(&mut tx)
                .await
                .unwrap();
            tx.commit().await.unwrap();
            if written % 64 == 0 {
                // Lets the checkpointer's pass (every CHECKPOINT_EVERY) come round.
                tokio::time::sleep(CHECKPOINT_EVERY / 4).await;
            }
        }
        stop.store(true, Ordering::Relaxed);
        let mut reads = 0;
        for r in readers {
            reads += r.await.unwrap();
        }
        assert!(reads > 0, "the readers never read");
        let restarts = lite.wal_restarts().await;
        assert!(
            restarts >= 2,
            "the WAL was restarted {restarts} times in {rows} rows of 64 KiB"
        );
        let wal = std::fs::metadata(dir.join("t.db-wal")).unwrap().len();
        let written_bytes = rows * 64 * 1024;
        assert!(
            wal < written_bytes / 2,
            "the WAL is {wal} bytes after {written_bytes} bytes written"
        );
        assert_eq!(count(&lite).await, i64::try_from(rows).unwrap());
        drop(lite);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_transactions_share_fsyncs_and_all_are_durable() {
        let (lite, dir) = open();
        setup(&lite).await;
        let before = lite.batches_committed().await;
        let mut tasks = Vec::new();
        for i in 0..200i64 {
            let lite = lite.clone();
            tasks.push(tokio::spawn(async move {
                let mut tx = lite.begin().await.unwrap();
                query("INSERT INTO t (id, v) VALUES ($1, $2)")
                    .bind(i)
                    .bind(format!("row {i}"))
                    .execute(&mut tx)
                    .await
                    .unwrap();
                tokio::task::yield_now().await;
                tx.commit().await.unwrap();
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let batches = lite.batches_committed().await - before;
        assert!((1..200).contains(&batches), "{batches} batches for 200 transactions");
        drop(lite);
        // Another connection (as after a restart) sees every committed row.
        let again = rusqlite::Connection::open(dir.join("t.db")).unwrap();
        let n: i64 = again.query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0)).unwrap();
        assert_eq!(n, 200);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test]
    async fn a_reader_sees_only_what_is_durable_and_cannot_write() {
        let (lite, dir) = open();
        setup(&lite).await;
        let mut writer = lite.begin().await.unwrap();
        query("INSERT INTO t (id, v) VALUES ($1, $2)")
            .bind(1i64)
            .bind("pending")
            .execute(&mut writer)
            .await
            .unwrap();
        // The writer's batch is open (it holds the connection): a reader does not wait
        // for it, and does not see its uncommitted row.
        let mut reader = lite.begin_read().unwrap();
        let row = query("SELECT COUNT(*) AS n FROM t")
            .fetch_one(&mut reader)
            .await
            .unwrap();
        assert_eq!(row.try_get::<i64, _>("n").unwrap(), 0);
        let refused = query("INSERT INTO t (id, v) VALUES ($1, $2)")
            .bind(2i64)
            .bind("from a reader")
            .execute(&mut reader)
            .await;
        assert!(refused.is_err(), "a reader wrote");
        reader.commit().await.unwrap();
        writer.commit().await.unwrap();
        // Once committed, a new read (on the pooled connection) sees it.
        let mut reader = lite.begin_read().unwrap();
        let row = query("SELECT v FROM t WHERE id = $1")
            .bind(1i64)
            .fetch_one(&mut reader)
            .await
            .unwrap();
        assert_eq!(row.try_get::<String, _>("v").unwrap(), "pending");
        drop(reader);
        assert_eq!(
            lite.readers.lock().unwrap().len(),
            1,
            "the reader went back to the pool"
        );
        drop(lite);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test]
    async fn a_transaction_dropped_uncommitted_undoes_only_its_own_work() {
        let (lite, dir) = open();
        setup(&lite).await;
        let before = lite.batches_committed().await;
        let mut kept = lite.begin().await.unwrap();
        query("INSERT INTO t (id, v) VALUES ($1, $2)")
            .bind(1i64)
            .bind("kept")
            .execute(&mut kept)
            .await
            .unwrap();
        // Leaving with someone "waiting" keeps the batch open for the next transaction.
        let waiting = Waiting::enter(&lite.waiting);
        let committed = tokio::spawn(kept.commit());
        tokio::task::yield_now().await;
        drop(waiting);
        {
            let mut dropped = lite.begin().await.unwrap();
            query("INSERT INTO t (id, v) VALUES ($1, $2)")
                .bind(2i64)
                .bind("dropped")
                .execute(&mut dropped)
                .await
                .unwrap();
        }
        committed.await.unwrap().unwrap();
        // Both were in one batch: one COMMIT, which kept one row and not the other.
        assert_eq!(lite.batches_committed().await - before, 1);
        assert_eq!(count(&lite).await, 1);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test]
    async fn parameters_bind_by_number_and_errors_keep_their_kind() {
        let (lite, dir) = open();
        setup(&lite).await;
        let mut tx = lite.begin().await.unwrap();
        // $2 before $1, and $1 twice, as PostgreSQL allows.
        query("INSERT INTO t (id, v) VALUES ($2, $1 || '/' || $1)")
            .bind("a")
            .bind(7i64)
            .execute(&mut tx)
            .await
            .unwrap();
        let row = query("SELECT id, v FROM t WHERE id = $1")
            .bind(7i64)
            .fetch_one(&mut tx)
            .await
            .unwrap();
        assert_eq!(row.try_get::<String, _>("v").unwrap(), "a/a");
        // An integer read as text is its digits (as sqlx's SQLite driver reads it).
        assert_eq!(row.try_get::<String, _>("id").unwrap(), "7");
        assert!(matches!(
            row.try_get::<i64, _>("nope"),
            Err(sqlx::Error::ColumnNotFound(_))
        ));
        let dup = query("INSERT INTO t (id, v) VALUES ($1, 'b')")
            .bind(7i64)
            .execute(&mut tx)
            .await
            .unwrap_err();
        match dup {
            sqlx::Error::Database(db) => assert!(db.is_unique_violation()),
            other => panic!("not a database error: {other}"),
        }
        let done = query("UPDATE t SET v = 'c' WHERE id = $1")
            .bind(7i64)
            .execute(&mut tx)
            .await
            .unwrap();
        assert_eq!(done.rows_affected(), 1);
        tx.commit().await.unwrap();
        std::fs::remove_dir_all(dir).unwrap();
    }
}
