//! The deployment's bounds on work a stranger can ask for (issue 8 item 6): how many
//! password hashes run at once, and how often one network address or one account (a
//! username, a guest's contact) may log in, register, check out and look orders up (查单).
//!
//! These live in the server's configuration, not the rule set: they depend on the machine
//! (argon2id takes 19 MiB per hash) and on the network in front of it (a proxy, or mobile
//! carriers' NAT putting many buyers behind one address), not on what was promised to
//! buyers and sellers. The rule set holds the business's bounds: the stock one buyer may hold
//! unpaid and the query-password lock ([`danbao_domain::rules::LimitRules`]).
//!
//! Rate limits are kept in memory per process (GCRA, the `governor` crate) on the app's
//! clock, so tests move a `TestClock` instead of sleeping. The query-password lock is in
//! the database: it must hold across restarts and processes.

use crate::clock::Clock;
use crate::{AppError, AppResult};
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Where a request came from: a network address (the HTTP edge works it out), or the
/// operator's own tools in this process (the CLI, the demo seed), which nothing limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Remote(IpAddr),
    Local,
}

impl Origin {
    pub fn address(&self) -> Option<IpAddr> {
        match self {
            Origin::Remote(ip) => Some(*ip),
            Origin::Local => None,
        }
    }
}

/// A rate: `burst` requests at once, refilled at `per_hour` an hour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Rate {
    pub burst: u32,
    pub per_hour: u32,
}

impl Rate {
    fn quota(self) -> governor::Quota {
        let per_hour = NonZeroU32::new(self.per_hour).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(self.burst).unwrap_or(NonZeroU32::MIN);
        let period = Duration::from_secs(3600) / per_hour.get();
        governor::Quota::with_period(period.max(Duration::from_nanos(1)))
            .unwrap_or_else(|| governor::Quota::per_hour(per_hour))
            .allow_burst(burst)
    }
}

/// One action's rates: per network address and per account (username or contact).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct ActionRates {
    pub per_address: Rate,
    pub per_account: Rate,
}

/// The server's limits (`danbao serve --limits FILE`, TOML). Every field is optional; an
/// action's table (`[login]`), when given, names both its rates.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Password hashes (argon2id, 19 MiB each) computed at once; the rest wait their turn.
    pub password_hashes_at_once: usize,
    /// Proxies whose `X-Forwarded-For` is believed (addresses or CIDR ranges). Empty: the
    /// peer address is the client, whatever headers say.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Units of stock the unpaid orders from one network address may hold. Generous: many
    /// buyers can share one address behind a carrier's NAT.
    pub unpaid_units_per_address_max: i64,
    pub login: ActionRates,
    pub register: ActionRates,
    pub checkout: ActionRates,
    pub lookup: ActionRates,
}

const fn rate(burst: u32, per_hour: u32) -> Rate {
    Rate { burst, per_hour }
}

impl Default for Limits {
    /// Sensible for one public server: an address may try 20 logins at once and then one
    /// every 6 s; one account 10 and then one a minute (a person who forgot a password is
    /// not slowed; a guesser gets 60 tries an hour); checkouts and lookups similar.
    fn default() -> Limits {
        Limits {
            password_hashes_at_once: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2)
                .clamp(1, 8),
            trusted_proxies: Vec::new(),
            unpaid_units_per_address_max: 200,
            login: ActionRates {
                per_address: rate(20, 600),
                per_account: rate(10, 60),
            },
            register: ActionRates {
                per_address: rate(5, 20),
                per_account: rate(5, 20),
            },
            checkout: ActionRates {
                per_address: rate(30, 1200),
                per_account: rate(10, 120),
            },
            lookup: ActionRates {
                per_address: rate(20, 600),
                per_account: rate(10, 60),
            },
        }
    }
}

impl Limits {
    pub fn validate(&self) -> Result<(), String> {
        if self.password_hashes_at_once == 0 {
            return Err("password_hashes_at_once must be at least 1".into());
        }
        if self.unpaid_units_per_address_max < 1 {
            return Err("unpaid_units_per_address_max must be at least 1".into());
        }
        for (name, r) in [
            ("login", self.login),
            ("register", self.register),
            ("checkout", self.checkout),
            ("lookup", self.lookup),
        ] {
            for (scope, rate) in [("per_address", r.per_address), ("per_account", r.per_account)] {
                if rate.burst == 0 || rate.per_hour == 0 {
                    return Err(format!("{name}.{scope}: burst and per_hour must be at least 1"));
                }
            }
        }
        Ok(())
    }

    /// Reads a `--limits` file: every field optional, the rest the defaults.
    pub fn parse(text: &str) -> Result<Limits, String> {
        let limits: Limits = toml::from_str(text).map_err(|e| e.to_string())?;
        limits.validate()?;
        Ok(limits)
    }

    /// The client's address: the peer, or — only when the peer is a trusted proxy — the
    /// nearest address in `X-Forwarded-For` that is not itself a trusted proxy.
    pub fn client_address(&self, peer: IpAddr, forwarded_for: Option<&str>) -> IpAddr {
        let trusted = |ip: &IpAddr| self.trusted_proxies.iter().any(|net| net.contains(ip));
        if !trusted(&peer) {
            return peer;
        }
        let Some(header) = forwarded_for else { return peer };
        let mut client = peer;
        for hop in header.rsplit(',') {
            match hop.trim().parse::<IpAddr>() {
                Ok(ip) => {
                    client = ip;
                    if !trusted(&ip) {
                        break;
                    }
                }
                // A malformed entry was written by someone we do not trust: stop at the
                // last address a trusted proxy vouched for.
                Err(_) => break,
            }
        }
        client
    }
}

/// What is being limited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Login,
    Register,
    Checkout,
    Lookup,
}

/// The app's clock, as governor reads time: the duration since the Unix epoch.
#[derive(Clone)]
struct AppClock(Arc<dyn Clock>);

impl governor::clock::Clock for AppClock {
    type Instant = Duration;
    fn now(&self) -> Duration {
        Duration::from_millis(u64::try_from(self.0.now_ms()).unwrap_or(0))
    }
}

type Keyed = governor::RateLimiter<
    String,
    governor::state::keyed::DashMapStateStore<String>,
    AppClock,
    governor::middleware::NoOpMiddleware<Duration>,
>;

struct ActionLimiters {
    per_address: Keyed,
    per_account: Keyed,
}

impl ActionLimiters {
    fn new(rates: ActionRates, clock: &AppClock) -> ActionLimiters {
        ActionLimiters {
            per_address: governor::RateLimiter::dashmap_with_clock(rates.per_address.quota(), clock.clone()),
            per_account: governor::RateLimiter::dashmap_with_clock(rates.per_account.quota(), clock.clone()),
        }
    }
}

/// Forget idle keys after this many checks, so a flood of made-up usernames cannot grow
/// the limiters' maps without bound.
const CHECKS_BETWEEN_SWEEPS: u64 = 4096;

/// A job for a hashing thread.
type HashJob = Box<dyn FnOnce() + Send>;

/// A fixed set of threads for password hashing (argon2id, 19 MiB a hash). Fixed, not
/// tokio's blocking pool: that pool starts a new thread whenever none is idle at that very
/// instant, and each thread's allocator arena keeps its last 19 MiB, so a flood grew the
/// process by hundreds of MiB even with only two hashes at a time. Here at most
/// `password_hashes_at_once` threads ever hash; the rest of a flood waits in the queue,
/// costing a closure each. The threads end when the app is dropped (the queue closes).
struct HashingPool {
    jobs: std::sync::Mutex<std::sync::mpsc::Sender<HashJob>>,
    threads: usize,
}

impl HashingPool {
    fn new(threads: usize) -> HashingPool {
        let (tx, rx) = std::sync::mpsc::channel::<HashJob>();
        let rx = Arc::new(std::sync::Mutex::new(rx));
        let mut started = 0;
        for i in 0..threads.max(1) {
            let rx = rx.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("password-hashing-{i}"))
                .spawn(move || loop {
                    // Holding the lock only to take one job: the others wait for theirs.
                    let job = match rx.lock() {
                        Ok(r) => r.recv(),
                        Err(_) => return,
                    };
                    match job {
                        Ok(job) => job(),
                        Err(_) => return,
                    }
                });
            match spawned {
                Ok(_) => started += 1,
                Err(e) => tracing::error!(error = %e, "cannot start a password-hashing thread"),
            }
        }
        HashingPool {
            jobs: std::sync::Mutex::new(tx),
            threads: started,
        }
    }

    async fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> AppResult<T> {
        if self.threads == 0 {
            // No thread could be started: hash on tokio's blocking pool rather than never.
            return tokio::task::spawn_blocking(f)
                .await
                .map_err(|e| AppError::Internal(e.to_string()));
        }
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: HashJob = Box::new(move || {
            let _ = tx.send(f());
        });
        self.jobs
            .lock()
            .map_err(|_| AppError::Internal("the hashing queue is poisoned".into()))?
            .send(job)
            .map_err(|_| AppError::Internal("the hashing threads have stopped".into()))?;
        rx.await
            .map_err(|_| AppError::Internal("a hashing thread dropped its job".into()))
    }
}

/// The rate limiters and the password-hashing threads of one process.
pub struct Guard {
    limits: Limits,
    clock: AppClock,
    login: ActionLimiters,
    register: ActionLimiters,
    checkout: ActionLimiters,
    lookup: ActionLimiters,
    hashing: HashingPool,
    checks: AtomicU64,
}

impl Guard {
    pub fn new(limits: Limits, clock: Arc<dyn Clock>) -> Guard {
        let clock = AppClock(clock);
        Guard {
            login: ActionLimiters::new(limits.login, &clock),
            register: ActionLimiters::new(limits.register, &clock),
            checkout: ActionLimiters::new(limits.checkout, &clock),
            lookup: ActionLimiters::new(limits.lookup, &clock),
            hashing: HashingPool::new(limits.password_hashes_at_once),
            checks: AtomicU64::new(0),
            clock,
            limits,
        }
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    fn limiters(&self, action: Action) -> &ActionLimiters {
        match action {
            Action::Login => &self.login,
            Action::Register => &self.register,
            Action::Checkout => &self.checkout,
            Action::Lookup => &self.lookup,
        }
    }

    /// Lets one `action` through for this address and account, or refuses it with how long
    /// to wait. `account` is the username or contact as one person (see `contact_key`).
    /// The operator's own tools (`Origin::Local`) are not limited.
    pub fn admit(&self, action: Action, origin: &Origin, account: &str) -> AppResult<()> {
        let Some(address) = origin.address() else {
            return Ok(());
        };
        if self.checks.fetch_add(1, Ordering::Relaxed) % CHECKS_BETWEEN_SWEEPS == CHECKS_BETWEEN_SWEEPS - 1 {
            self.sweep();
        }
        let limiters = self.limiters(action);
        let now = governor::clock::Clock::now(&self.clock);
        let refused = |wait: Duration| {
            let ms = i64::try_from(wait.as_millis()).unwrap_or(i64::MAX);
            AppError::RateLimited {
                retry_after_s: danbao_domain::limits::seconds_until(0, ms),
            }
        };
        limiters
            .per_address
            .check_key(&address.to_string())
            .map_err(|not_until| refused(not_until.wait_time_from(now)))?;
        limiters
            .per_account
            .check_key(&account.to_string())
            .map_err(|not_until| refused(not_until.wait_time_from(now)))?;
        Ok(())
    }

    fn sweep(&self) {
        for action in [Action::Login, Action::Register, Action::Checkout, Action::Lookup] {
            let l = self.limiters(action);
            for keyed in [&l.per_address, &l.per_account] {
                keyed.retain_recent();
                keyed.shrink_to_fit();
            }
        }
    }

    /// Runs a password hash (or check) on the hashing threads, when its turn comes: at most
    /// `password_hashes_at_once` argon2id computations (19 MiB each) run at once, whatever
    /// the number of requests.
    pub async fn hash<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> AppResult<T> {
        self.hashing.run(f).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::TestClock;

    fn guard(limits: Limits) -> (Guard, TestClock) {
        let clock = TestClock::new(1_000_000_000);
        (Guard::new(limits, Arc::new(clock.clone())), clock)
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap_or(IpAddr::from([0, 0, 0, 0]))
    }

    #[test]
    fn the_burst_passes_then_the_next_waits_for_the_refill() {
        let limits = Limits {
            login: ActionRates {
                per_address: rate(3, 60),
                per_account: rate(100, 6000),
            },
            ..Limits::default()
        };
        let (g, clock) = guard(limits);
        let from = Origin::Remote(ip("203.0.113.7"));
        for _ in 0..3 {
            assert!(g.admit(Action::Login, &from, "alice").is_ok());
        }
        match g.admit(Action::Login, &from, "alice") {
            Err(AppError::RateLimited { retry_after_s }) => assert_eq!(retry_after_s, 60),
            other => panic!("expected rate-limited, got {other:?}"),
        }
        // Another address and another action are not affected.
        assert!(g
            .admit(Action::Login, &Origin::Remote(ip("203.0.113.8")), "bob")
            .is_ok());
        assert!(g.admit(Action::Lookup, &from, "alice").is_ok());
        clock.advance_ms(60_000);
        assert!(g.admit(Action::Login, &from, "alice").is_ok());
        assert!(g.admit(Action::Login, &from, "alice").is_err());
    }

    #[test]
    fn an_account_is_limited_from_every_address() {
        let limits = Limits {
            lookup: ActionRates {
                per_address: rate(100, 6000),
                per_account: rate(2, 60),
            },
            ..Limits::default()
        };
        let (g, _) = guard(limits);
        assert!(g
            .admit(Action::Lookup, &Origin::Remote(ip("198.51.100.1")), "qq:1")
            .is_ok());
        assert!(g
            .admit(Action::Lookup, &Origin::Remote(ip("198.51.100.2")), "qq:1")
            .is_ok());
        assert!(g
            .admit(Action::Lookup, &Origin::Remote(ip("198.51.100.3")), "qq:1")
            .is_err());
        assert!(g
            .admit(Action::Lookup, &Origin::Remote(ip("198.51.100.3")), "qq:2")
            .is_ok());
    }

    #[test]
    fn the_operators_tools_are_not_limited() {
        let mut limits = Limits::default();
        limits.register.per_address = rate(1, 1);
        let (g, _) = guard(limits);
        for _ in 0..10 {
            assert!(g.admit(Action::Register, &Origin::Local, "x").is_ok());
        }
    }

    #[test]
    fn forwarded_for_is_believed_only_from_a_trusted_proxy() {
        let mut limits = Limits::default();
        let plain = limits.client_address(ip("192.0.2.1"), Some("203.0.113.9"));
        assert_eq!(plain, ip("192.0.2.1"), "no proxy trusted: the header is ignored");
        limits.trusted_proxies = vec!["10.0.0.0/8".parse().unwrap_or_else(|_| unreachable!())];
        assert_eq!(
            limits.client_address(ip("10.1.2.3"), Some("203.0.113.9")),
            ip("203.0.113.9")
        );
        // The client may prepend anything; the address our proxies saw is the last untrusted one.
        assert_eq!(
            limits.client_address(ip("10.1.2.3"), Some("1.1.1.1, 203.0.113.9, 10.0.0.5")),
            ip("203.0.113.9")
        );
        assert_eq!(limits.client_address(ip("10.1.2.3"), Some("garbage")), ip("10.1.2.3"));
        assert_eq!(limits.client_address(ip("10.1.2.3"), None), ip("10.1.2.3"));
        // An untrusted peer's header is ignored even when it names a trusted proxy.
        assert_eq!(
            limits.client_address(ip("192.0.2.1"), Some("10.0.0.1")),
            ip("192.0.2.1")
        );
    }

    #[test]
    fn a_limits_file_overrides_only_what_it_names() {
        let limits = Limits::parse(
            "unpaid_units_per_address_max = 5\n[login]\nper_address = { burst = 1, per_hour = 2 }\n\
             per_account = { burst = 3, per_hour = 4 }\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(limits.unpaid_units_per_address_max, 5);
        assert_eq!(limits.login.per_address, rate(1, 2));
        assert_eq!(limits.lookup, Limits::default().lookup);
        assert!(Limits::parse("password_hashes_at_once = 0").is_err());
        assert!(Limits::parse("nonsense = 1").is_err());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn no_more_hashes_run_at_once_than_allowed() {
        use std::sync::atomic::AtomicUsize;
        let limits = Limits {
            password_hashes_at_once: 2,
            ..Limits::default()
        };
        let (g, _) = guard(limits);
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let jobs = (0..8).map(|i| {
            let (running, most) = (running.clone(), most.clone());
            g.hash(move || {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                // Long enough for the jobs to overlap if they could.
                std::thread::sleep(Duration::from_millis(20));
                running.fetch_sub(1, Ordering::SeqCst);
                i * 2
            })
        });
        let results: Vec<usize> = futures::future::join_all(jobs)
            .await
            .into_iter()
            .map(|r| r.unwrap_or_else(|e| panic!("{e}")))
            .collect();
        assert_eq!(results, (0..8).map(|i| i * 2).collect::<Vec<_>>());
        assert_eq!(most.load(Ordering::SeqCst), 2, "two at a time, and they did overlap");
    }
}
