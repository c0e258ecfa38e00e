//! Danbao's use cases. Each public method of `App` is one thing a person or a job
//! does; it begins and commits its own transaction(s), asks the domain what to do,
//! and never calls anything outside the process while a transaction is open.

pub mod admin;
pub mod alipay;
pub mod audit;
pub mod auth;
pub mod backoffice;
pub mod clock;
pub mod complaints;
pub mod epay;
pub mod epay_v2;
pub mod evidence;
pub mod files;
pub mod jobs;
pub mod liabilities;
pub mod limits;
pub mod metrics;
pub mod money;
pub mod notify;
pub mod orders;
pub mod payments;
pub mod rails_file;
pub mod risk;
pub mod safeguards;
pub mod sellers;
pub mod tiles;
pub mod trust;
pub mod vault;
pub mod wechat;
pub mod witnesses;

use clock::Clock;
use danbao_domain::{IllegalTransition, LedgerError, Refusal, RuleSet};
use danbao_store::{Store, StoreError};
use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

pub use auth::{Caller, Role, User};
/// What the HTTP edge needs of storage without depending on it: the store to start an
/// `App` with, and the state of an idempotency key.
pub mod storage {
    pub use danbao_store::{IdempotencyState, Store};
}
pub use orders::*;
pub use risk::RiskView;

/// Every way a use case can fail. The HTTP edge maps each variant once to a status and
/// a stable problem type.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("invalid {field}: {problem}")]
    Validation { field: &'static str, problem: Invalid },
    /// A business rule says no; the refusal is a value with a stable code.
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error("authentication required")]
    Unauthenticated,
    #[error("not allowed: {0}")]
    Forbidden(&'static str),
    #[error("wrong username or password")]
    BadCredentials,
    #[error("the payment provider is unavailable: {0}")]
    ProviderUnavailable(String),
    #[error("the notification's signature does not verify")]
    BadSignature,
    #[error("the notification is malformed: {0}")]
    BadNotification(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error("internal error: {0}")]
    Internal(String),
    /// Too many requests from this address or for this account; try again after this long.
    #[error("too many requests; try again in {retry_after_s} s")]
    RateLimited { retry_after_s: i64 },
}

impl From<IllegalTransition> for AppError {
    fn from(t: IllegalTransition) -> AppError {
        AppError::Refused(Refusal::Order(t))
    }
}

impl AppError {
    /// See `StoreError::is_transient`: the use case may simply run again.
    pub fn is_transient(&self) -> bool {
        matches!(self, AppError::Store(e) if e.is_transient())
    }

    pub fn invalid(field: &'static str, problem: impl Into<Invalid>) -> AppError {
        AppError::Validation {
            field,
            problem: problem.into(),
        }
    }
}

/// What is wrong with a field: the common shapes as values (the pages translate them),
/// anything else said in English for API clients and shown as written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Invalid {
    #[error("must be {min} to {max} characters")]
    Length { min: usize, max: usize },
    #[error("must be {min} to {max}")]
    Range { min: i64, max: i64 },
    #[error("{name} is required")]
    Required { name: String },
    #[error("{name} is not a field of this product")]
    NotAField { name: String },
    #[error("must not contain control characters")]
    ControlCharacters,
    #[error("amount too large")]
    AmountTooLarge,
    #[error("not a cursor from this API")]
    BadCursor,
    #[error("{0}")]
    Other(String),
}

impl From<&str> for Invalid {
    fn from(text: &str) -> Invalid {
        Invalid::Other(text.to_string())
    }
}

impl From<String> for Invalid {
    fn from(text: String) -> Invalid {
        Invalid::Other(text)
    }
}

pub type AppResult<T> = Result<T, AppError>;

/// Marks a stored idempotent response as sealed (`sealed:v1:<key id>:<nonce>:<ciphertext>`).
const SEALED_PREFIX: &str = "sealed:v1:";

/// Deployment facts the use cases need.
#[derive(Clone, Debug)]
pub struct AppConfig {
    /// The externally visible base URL of this server, e.g. `http://127.0.0.1:8080`.
    pub public_url: String,
    /// Where evidence attachments are stored (content-addressed); None: none accepted.
    pub files_dir: Option<std::path::PathBuf>,
    /// Rate limits, the hashing bound and the trusted proxies (`serve --limits FILE`).
    pub limits: limits::Limits,
}

pub struct AppInner {
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    pub vault: vault::Vault,
    /// The payment rails configured (none: no money can be taken).
    pub rails: payments::Rails,
    pub config: AppConfig,
    pub files: Option<files::FileStore>,
    /// Rule sets by version; published versions never change, so caching is safe.
    rules: RwLock<BTreeMap<i64, Arc<RuleSet>>>,
    current_rules: RwLock<Arc<RuleSet>>,
    /// This process's rate limiters and password-hashing bound.
    pub guard: limits::Guard,
    /// This process's counts for `/metrics`.
    pub metrics: metrics::Metrics,
    /// Jobs this process ran but could not record (the database was unreachable), with
    /// the lease they were claimed under: given back on the next job round.
    unrecorded_jobs: std::sync::Mutex<Vec<(String, i64)>>,
    /// Where notifications go (the log unless one is set).
    notification_channel: RwLock<Arc<dyn notify::NotificationChannel>>,
    /// The witnesses a checkpoint needs before it is published (none: published at once).
    witness_policy: RwLock<Option<witnesses::WitnessPolicy>>,
    witness_memory: witnesses::WitnessMemory,
}

#[derive(Clone)]
pub struct App(Arc<AppInner>);

impl std::ops::Deref for App {
    type Target = AppInner;
    fn deref(&self) -> &AppInner {
        &self.0
    }
}

impl App {
    /// Builds the app and makes sure `rules` is published: if the latest stored rule set
    /// differs in content, `rules` becomes a new version (versions are immutable).
    pub async fn start(
        store: Store,
        clock: Arc<dyn Clock>,
        vault: vault::Vault,
        rails: payments::Rails,
        config: AppConfig,
        rules: RuleSet,
    ) -> AppResult<App> {
        let now = clock.now_ms();
        let mut tx = store.begin().await?;
        let latest = tx.latest_rule_set().await?;
        let current = match latest {
            Some(row) if row.content_hash == rules.content_hash() => rules,
            Some(row) => {
                let mut published = rules;
                published.version = published.version.max(row.version + 1);
                publish(&mut tx, &published, now).await?;
                published
            }
            None => {
                publish(&mut tx, &rules, now).await?;
                rules
            }
        };
        // Every published version is loaded now: an order is judged by the version it was
        // created under, and reading one later would need a second transaction while the
        // caller's is open (SQLite has one connection: that waits until it times out).
        let mut by_version = BTreeMap::new();
        for version in 1..current.version {
            if let Some(row) = tx.rule_set(version).await? {
                by_version.insert(version, Arc::new(parse_published(&row.body)?));
            }
        }
        // The daily statement reconciliation chains itself from day to day; this starts
        // the chain (once: the job of a day is enqueued at most once).
        let (reconcile, at) = jobs::Job::reconcile_day_of(now);
        reconcile.enqueue(&mut tx, at, now).await?;
        // The proof of liabilities is published every period; this starts that chain.
        let (publish, at) = jobs::Job::publish_liabilities_after(now, current.transparency.liabilities_period_ms());
        publish.enqueue(&mut tx, at, now).await?;
        tx.commit().await?;
        let files = match &config.files_dir {
            Some(dir) => Some(files::FileStore::open(dir).map_err(|e| AppError::Internal(e.to_string()))?),
            None => None,
        };
        let current = Arc::new(current);
        by_version.insert(current.version, current.clone());
        let guard = limits::Guard::new(config.limits.clone(), clock.clone());
        Ok(App(Arc::new(AppInner {
            guard,
            store,
            clock,
            vault,
            rails,
            config,
            files,
            rules: RwLock::new(by_version),
            current_rules: RwLock::new(current),
            metrics: metrics::Metrics::new(),
            unrecorded_jobs: std::sync::Mutex::new(Vec::new()),
            notification_channel: RwLock::new(Arc::new(notify::LogChannel)),
            witness_policy: RwLock::new(None),
            witness_memory: witnesses::WitnessMemory::default(),
        })))
    }

    /// Sends notifications through `channel` from now on.
    pub fn set_notification_channel(&self, channel: Arc<dyn notify::NotificationChannel>) {
        match self.notification_channel.write() {
            Ok(mut c) => *c = channel,
            Err(poisoned) => *poisoned.into_inner() = channel,
        }
    }

    pub(crate) fn notification_channel(&self) -> Arc<dyn notify::NotificationChannel> {
        match self.notification_channel.read() {
            Ok(c) => c.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    pub fn now(&self) -> i64 {
        self.clock.now_ms()
    }

    /// The rail a payment, refund or payout was made with. One no longer configured is
    /// an outage to its jobs (they wait and retry), never another rail's business.
    pub fn rail(&self, name: &str) -> AppResult<&Arc<dyn payments::PaymentProvider>> {
        self.rails
            .get(name)
            .ok_or_else(|| AppError::ProviderUnavailable(format!("payment rail {name:?} is not configured")))
    }

    pub fn current_rules(&self) -> Arc<RuleSet> {
        match self.current_rules.read() {
            Ok(r) => r.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// The rule set of a version when this process has it loaded (every version published
    /// before it started, and any read since), else the current one: for display only.
    pub fn loaded_rules(&self, version: i64) -> Arc<RuleSet> {
        self.rules
            .read()
            .ok()
            .and_then(|m| m.get(&version).cloned())
            .unwrap_or_else(|| self.current_rules())
    }

    /// The rule set an order was created under. Read through the caller's transaction
    /// when it is not loaded yet (published by another process since this one started).
    pub async fn rules_version(&self, tx: &mut danbao_store::Tx, version: i64) -> AppResult<Arc<RuleSet>> {
        if let Some(r) = self.rules.read().ok().and_then(|m| m.get(&version).cloned()) {
            return Ok(r);
        }
        let row = tx
            .rule_set(version)
            .await?
            .ok_or_else(|| AppError::Internal(format!("rule set version {version} is missing")))?;
        let parsed = Arc::new(parse_published(&row.body)?);
        if let Ok(mut m) = self.rules.write() {
            m.insert(version, parsed.clone());
        }
        Ok(parsed)
    }

    /// `danbao ledger check`: every invariant of SPEC §5, read in one transaction, and
    /// every published statement of liabilities checked against the ledger it was made
    /// from (its total equals the ledger's liabilities then; its stored leaves rebuild
    /// its signed root).
    pub async fn ledger_check(&self) -> AppResult<Vec<danbao_domain::ledger::Violation>> {
        let mut violations = ledger_check(&self.store).await?;
        violations.extend(
            self.check_liability_statements()
                .await?
                .into_iter()
                .map(danbao_domain::ledger::Violation),
        );
        Ok(violations)
    }

    /// The ledger check over the API: admins only.
    pub async fn ledger_check_as(&self, caller: &Caller) -> AppResult<Vec<danbao_domain::ledger::Violation>> {
        match caller {
            Caller::User(u) if u.role == Role::Admin => self.ledger_check().await,
            Caller::User(_) => Err(AppError::Forbidden("admins only")),
            _ => Err(AppError::Unauthenticated),
        }
    }
}

async fn publish(tx: &mut danbao_store::Tx, rules: &RuleSet, now: i64) -> AppResult<()> {
    let body = toml_body(rules)?;
    tx.insert_rule_set(&danbao_store::RuleSetRow {
        version: rules.version,
        content_hash: rules.content_hash(),
        body,
        published_at: now,
    })
    .await?;
    Ok(())
}

fn parse_published(body: &str) -> AppResult<RuleSet> {
    RuleSet::parse(body).map_err(|e| AppError::Internal(format!("a published rule set does not parse: {e}")))
}

fn toml_body(rules: &RuleSet) -> AppResult<String> {
    // Stored as JSON-free TOML so the published text is what an operator wrote.
    danbao_domain::rules::to_toml(rules).map_err(AppError::Internal)
}

impl App {
    /// Idempotency keys (SPEC §12): the first request with a key runs; the same key
    /// with the same request gets the stored response; with another request, a refusal.
    pub async fn idempotency_begin(
        &self,
        scope: &str,
        key: &str,
        request_hash: &str,
    ) -> AppResult<danbao_store::IdempotencyState> {
        let mut tx = self.store.begin().await?;
        let state = tx.idempotency_begin(scope, key, request_hash, self.now()).await?;
        tx.commit().await?;
        Ok(match state {
            danbao_store::IdempotencyState::Replay {
                status,
                content_type,
                body,
            } => danbao_store::IdempotencyState::Replay {
                status,
                content_type,
                body: self.open_stored_response(&body)?,
            },
            other => other,
        })
    }

    /// Stored responses can hold secrets (a session token, a guest's access token), so
    /// they are kept encrypted with the vault's key (AES-256-GCM), never in plain text.
    fn seal_stored_response(&self, body: &str) -> AppResult<String> {
        let (kid, nonce, ct) = self
            .vault
            .encrypt(body)
            .map_err(|e| AppError::Internal(e.to_string()))?;
        Ok(format!("{SEALED_PREFIX}{kid}:{nonce}:{ct}"))
    }

    fn open_stored_response(&self, stored: &str) -> AppResult<String> {
        let Some(sealed) = stored.strip_prefix(SEALED_PREFIX) else {
            // Written before responses were sealed.
            return Ok(stored.to_string());
        };
        let mut parts = sealed.splitn(3, ':');
        match (parts.next(), parts.next(), parts.next()) {
            (Some(kid), Some(nonce), Some(ct)) => self
                .vault
                .decrypt(kid, nonce, ct)
                .map_err(|e| AppError::Internal(e.to_string())),
            _ => Err(AppError::Internal("a stored response is malformed".into())),
        }
    }

    pub async fn idempotency_complete(
        &self,
        scope: &str,
        key: &str,
        status: i64,
        content_type: &str,
        body: &str,
    ) -> AppResult<()> {
        let sealed = self.seal_stored_response(body)?;
        let mut tx = self.store.begin().await?;
        tx.idempotency_complete(scope, key, status, content_type, &sealed)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Forgets a key whose request failed on our side, so the client may retry it.
    pub async fn idempotency_abandon(&self, scope: &str, key: &str) -> AppResult<()> {
        let mut tx = self.store.begin().await?;
        tx.idempotency_abandon(scope, key).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Readiness: the database answers.
    /// Whether this process can serve: the database answers and has every migration this
    /// build expects (a database restored from an older backup, or swapped under a running
    /// process, has not). An `Err` says which.
    pub async fn ready(&self) -> AppResult<Result<(), String>> {
        let missing = self.store.missing_migrations().await?;
        if !missing.is_empty() {
            return Ok(Err(format!("migrations not applied: {missing:?}")));
        }
        Ok(Ok(()))
    }
}

/// The ledger check on a store alone, for the CLI (no provider or vault needed).
pub async fn ledger_check(store: &Store) -> AppResult<Vec<danbao_domain::ledger::Violation>> {
    let mut tx = store.begin().await?;
    let entries = tx.journal_entries().await?;
    let balances = tx.account_balances().await?;
    let statuses = tx.order_statuses().await?;
    tx.commit().await?;
    let mut violations = Vec::new();
    let mut by_order = BTreeMap::new();
    for row in statuses {
        match danbao_domain::OrderStatus::parse(&row.status) {
            Some(s) => {
                by_order.insert(row.order_id, s);
            }
            None => violations.push(danbao_domain::ledger::Violation(format!(
                "order {}: unknown status {:?}",
                row.order_id, row.status
            ))),
        }
    }
    violations.extend(danbao_domain::ledger::check_invariants(&entries, &balances, &by_order));
    Ok(violations)
}

/// How many times a use case runs again after the database aborted its transaction to
/// break a deadlock or a serialization conflict, before the error is reported.
const TRANSIENT_RETRIES: u32 = 8;

impl App {
    /// Runs `attempt` (one whole transaction: begin … commit, and no call outside the
    /// process) again when the database aborted it as a deadlock victim or for a
    /// serialization conflict. The aborted attempt was rolled back whole, so nothing of
    /// it happened; a user sees the outcome of the attempt that committed, never a 500.
    pub(crate) async fn retrying<T, F, Fut>(&self, mut attempt: F) -> AppResult<T>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = AppResult<T>>,
    {
        let mut retries = 0;
        loop {
            match attempt().await {
                Err(e) if e.is_transient() && retries < TRANSIENT_RETRIES => {
                    retries += 1;
                    tracing::debug!(error = %e, retries, "transaction aborted by the database; running it again");
                    // A short random pause, growing with each retry, so the two sides of
                    // a deadlock do not meet again at once. (Wall time: contention, not
                    // business time, which is the injected clock's.)
                    let jitter_ms = rand::random::<u64>() % (2u64 << retries.min(6));
                    tokio::time::sleep(std::time::Duration::from_millis(jitter_ms)).await;
                }
                outcome => return outcome,
            }
        }
    }
}
