//! The `danbao` command.

mod backup;
mod bench;
mod chaos;
mod child;
mod config;
mod dossier;
mod liabilities;
mod mirror;
mod simulate;
mod witness;

use anyhow::Context;
use clap::{Parser, Subcommand};
use danbao_app::clock::SystemClock;
use danbao_app::vault::{load_or_create, Vault};
use danbao_app::{Caller, NewProduct, Role};
use danbao_domain::RuleSet;
use danbao_http::server::{start, Gateway, ServerConfig};
use danbao_store::Store;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "danbao",
    version,
    about = "Danbao (担保): an escrow marketplace for digital goods"
)]
struct Cli {
    /// How log lines (on stderr) are written: plain text, coloured only on a terminal, or
    /// one JSON object per line for a log collector.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

/// Logs go to stderr, so stdout stays the command's output. Colour codes only when stderr
/// is a terminal: in a file, a pipe or a collector they are noise.
fn init_logs(format: LogFormat, default_filter: &str) {
    let logs = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter)),
        )
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => logs.with_ansi(std::io::stderr().is_terminal()).init(),
        LogFormat::Json => logs.with_ansi(false).json().init(),
    }
}

#[derive(clap::Args, Clone)]
struct DataArgs {
    /// Where the SQLite file and the key files live.
    #[arg(long, default_value = "./data", env = "DANBAO_DATA_DIR")]
    data_dir: PathBuf,
    /// `postgres://…` for PostgreSQL, or `sqlite:PATH`; default: SQLite in the data dir.
    #[arg(long, env = "DANBAO_DATABASE_URL")]
    database_url: Option<String>,
}

#[derive(clap::Args, Clone)]
struct ServeArgs {
    #[command(flatten)]
    data: DataArgs,
    #[arg(long, default_value_t = 8080, env = "DANBAO_PORT")]
    port: u16,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1", env = "DANBAO_BIND")]
    bind: String,
    /// The URL others reach this server at (default http://BIND:PORT).
    #[arg(long, env = "DANBAO_PUBLIC_URL")]
    public_url: Option<String>,
    /// A rule set TOML file; published as a new version if it differs from the current one.
    #[arg(long)]
    rules: Option<PathBuf>,
    /// Take payments through a sandbox gateway running as its own process at this URL.
    #[arg(long, env = "DANBAO_SANDBOX_URL", conflicts_with = "sandbox")]
    sandbox_url: Option<String>,
    /// Mount the in-process sandbox gateway at /sandbox (`demo` always does): anyone who
    /// can reach the server can then "pay" any order for free. For trying Danbao out.
    #[arg(long)]
    sandbox: bool,
    /// Mark every cookie `Secure`, for a deployment behind TLS (on by itself when
    /// --public-url is https). Browsers then send cookies over https only.
    #[arg(long, env = "DANBAO_SECURE_COOKIES")]
    secure_cookies: bool,
    /// A TOML file of server limits: rate limits per address and account, concurrent
    /// password hashes, stock held unpaid per address, trusted proxies (whose
    /// X-Forwarded-For is believed). Every field optional; default: the shipped limits.
    #[arg(long, env = "DANBAO_LIMITS")]
    limits: Option<PathBuf>,
    /// The time zone pages show times in, an IANA name (Asia/Shanghai, Asia/Hong_Kong,
    /// Asia/Taipei, America/New_York, …); the zone database is built in.
    #[arg(long, env = "DANBAO_TIME_ZONE", default_value = danbao_app::clock::DEFAULT_DISPLAY_ZONE)]
    time_zone: String,
    /// A rails TOML file: the real payment rails to take money through (易支付 today;
    /// keys by file path). See README "Payment rails".
    #[arg(long, env = "DANBAO_RAILS")]
    rails: Option<PathBuf>,
    /// With the in-process sandbox: its 易支付 speaks the V2 (RSA) API to the platform's
    /// `epay` rail instead of V1 (MD5). The two key pairs (the merchant's, the
    /// aggregator's) are made once in <data-dir>/keys/.
    #[arg(long)]
    sandbox_epay_v2: bool,
    /// A TOML file of these settings (README "Operating it"); a flag given here, or by
    /// its environment variable, wins over the file.
    #[arg(long, env = "DANBAO_CONFIG")]
    config: Option<PathBuf>,
    /// An address or CIDR range of a proxy whose X-Forwarded-For is believed (repeatable;
    /// added to the limits file's `trusted_proxies`).
    #[arg(long = "trusted-proxy")]
    trusted_proxies: Vec<String>,
    /// A file whose first line is the token `/metrics` requires (`Authorization: Bearer
    /// …`); without one, `/metrics` answers anyone who can reach the server.
    #[arg(long, env = "DANBAO_METRICS_TOKEN_FILE")]
    metrics_token_file: Option<PathBuf>,
    /// Seconds `/readyz` answers 503 after SIGTERM before the listener closes, so a load
    /// balancer stops routing here first.
    #[arg(long, default_value_t = 0)]
    drain_seconds: u64,
    /// Seconds requests in flight and the job round under way get to finish after that.
    #[arg(long, default_value_t = 30)]
    shutdown_grace_seconds: u64,
    /// A witness the log's checkpoints must be cosigned by before they are published, as
    /// `URL=VKEY` (its add-checkpoint prefix and its cosignature vkey; repeatable).
    #[arg(long = "witness")]
    witnesses: Vec<String>,
    /// How many of the witnesses must cosign (default: all of them).
    #[arg(long)]
    witness_quorum: Option<usize>,
}

impl ServeArgs {
    /// Fills what the command line left unset from `--config FILE`.
    fn with_config(mut self, matches: &clap::ArgMatches) -> anyhow::Result<(ServeArgs, Option<LogFormat>)> {
        let Some(path) = self.config.clone() else {
            return Ok((self, None));
        };
        let file = config::ServeFile::read(&path)?;
        use config::fill;
        fill(
            matches,
            "database_url",
            &mut self.data.database_url,
            file.database_url.map(Some),
        );
        fill(matches, "data_dir", &mut self.data.data_dir, file.data_dir);
        fill(matches, "bind", &mut self.bind, file.bind);
        fill(matches, "port", &mut self.port, file.port);
        fill(matches, "public_url", &mut self.public_url, file.public_url.map(Some));
        fill(matches, "rules", &mut self.rules, file.rules.map(Some));
        fill(matches, "limits", &mut self.limits, file.limits.map(Some));
        fill(matches, "rails", &mut self.rails, file.rails.map(Some));
        fill(
            matches,
            "sandbox_url",
            &mut self.sandbox_url,
            file.sandbox_url.map(Some),
        );
        fill(matches, "secure_cookies", &mut self.secure_cookies, file.secure_cookies);
        fill(matches, "time_zone", &mut self.time_zone, file.time_zone);
        fill(
            matches,
            "trusted_proxies",
            &mut self.trusted_proxies,
            file.trusted_proxies,
        );
        fill(
            matches,
            "metrics_token_file",
            &mut self.metrics_token_file,
            file.metrics_token_file.map(Some),
        );
        fill(matches, "drain_seconds", &mut self.drain_seconds, file.drain_seconds);
        fill(
            matches,
            "shutdown_grace_seconds",
            &mut self.shutdown_grace_seconds,
            file.shutdown_grace_seconds,
        );
        fill(matches, "witnesses", &mut self.witnesses, file.witnesses);
        fill(
            matches,
            "witness_quorum",
            &mut self.witness_quorum,
            file.witness_quorum.map(Some),
        );
        let log_format = match file.log_format.as_deref() {
            None => None,
            Some("text") => Some(LogFormat::Text),
            Some("json") => Some(LogFormat::Json),
            Some(other) => anyhow::bail!("{}: log_format is \"text\" or \"json\", not {other:?}", path.display()),
        };
        Ok((self, log_format))
    }
}

#[derive(Subcommand)]
// Parsed once at start: the size of the gateway's many rail flags costs nothing.
#[allow(clippy::large_enum_variant)]
enum Command {
    /// Run the server (API, pages, background jobs); payments through --sandbox-url, or
    /// the in-process sandbox with --sandbox; with neither, checkout is refused.
    Serve(ServeArgs),
    /// Run the server with a seeded demo shop.
    Demo(ServeArgs),
    /// Apply database migrations and exit.
    Migrate(DataArgs),
    /// Print the OpenAPI document that `serve` serves at /api/openapi.json, and exit.
    Openapi,
    /// Reconcile the provider's statement for a period against the platform's payments:
    /// payments missing on the platform are applied now, the rest is reported.
    Reconcile {
        #[command(flatten)]
        data: DataArgs,
        /// Start of the period, RFC 3339 (default: 24 hours ago).
        #[arg(long)]
        from: Option<String>,
        /// End of the period, RFC 3339 (default: now).
        #[arg(long)]
        to: Option<String>,
        /// The sandbox gateway's URL (a running `danbao serve` has it at <url>/sandbox).
        #[arg(long, default_value = "http://127.0.0.1:8080/sandbox", env = "DANBAO_SANDBOX_URL")]
        sandbox_url: String,
    },
    /// Follow a log served as C2SP tlog-tiles (`URL/checkpoint`, `URL/tile/…`): check each
    /// new checkpoint against the log's key and against the last one kept in DIR (a fork,
    /// a rewrite or a smaller size is refused, exit 1), and keep its tiles and checkpoint.
    Mirror {
        /// The log's base URL (a Danbao server).
        url: String,
        /// Where the mirror keeps the checkpoint and the tiles.
        dir: PathBuf,
        /// The log's verifier key: the vkey text, or a file holding it.
        #[arg(long)]
        key: String,
        /// Keep following, fetching every this many seconds (default: once).
        #[arg(long)]
        interval_seconds: Option<u64>,
        /// Follow only checkpoints cosigned by this witness (its cosignature vkey, or a file
        /// holding it); repeat for several.
        #[arg(long = "witness")]
        witnesses: Vec<String>,
        /// How many of the --witness keys must have cosigned (default: all of them).
        #[arg(long)]
        witness_quorum: Option<usize>,
    },
    /// Run a transparency-log witness (c2sp.org/tlog-witness) with its own key: it cosigns
    /// each checkpoint of the logs it follows that is consistent with the last one it
    /// cosigned, and refuses a fork or a rollback.
    Witness {
        /// Where the witness keeps its key (witness.key, made the first time) and, per log,
        /// the latest checkpoint it cosigned.
        #[arg(long)]
        dir: PathBuf,
        /// The witness's name (a schema-less URL), part of its key.
        #[arg(long, default_value = "witness.danbao.local")]
        name: String,
        /// A log to follow: its verifier key, the vkey text or a file holding it (repeatable).
        #[arg(long = "log", required = true)]
        logs: Vec<String>,
        #[arg(long, default_value = "127.0.0.1")]
        bind: String,
        #[arg(long, default_value_t = 8090)]
        port: u16,
    },
    /// Verify a receipt (or a whole dossier folder) offline, with only the log's key.
    Verify {
        /// A receipt file (c2sp.org/tlog-proof@v1), or a folder written by export-dossier.
        receipt: PathBuf,
        /// The log's verifier key: the vkey text, or a file holding it.
        #[arg(long)]
        key: String,
        /// A file whose SHA-256 the receipt's leaf must commit to (an evidence attachment).
        #[arg(long)]
        file: Option<PathBuf>,
        /// The opening of a sealed leaf (danbao-leaf-opening/v2, from the order's timeline
        /// or a dossier): proves what the leaf records, not only that it is in the log.
        #[arg(long)]
        opening: Option<PathBuf>,
        /// A witness whose cosignature the receipt's checkpoint must carry: its cosignature
        /// vkey, or a file holding it (repeatable).
        #[arg(long = "witness")]
        witnesses: Vec<String>,
        /// How many of the --witness keys must have cosigned (default: all).
        #[arg(long)]
        witness_quorum: Option<usize>,
    },
    /// Verify a proof of liabilities offline (an order's proof from its page or
    /// `GET /api/v1/orders/{id}/liabilities-proof`): the statement is signed by the log's
    /// key and the balance, with its amount, is in the signed total.
    VerifyLiabilities {
        /// The proof file (danbao-liabilities-proof/v1 text, or the API's JSON answer).
        proof: PathBuf,
        /// The log's verifier key: the vkey text, or a file holding it.
        #[arg(long)]
        key: String,
    },
    /// Write a self-contained dossier (timeline, receipts, checkpoint, public key) that
    /// `danbao verify` accepts whole.
    ExportDossier {
        #[command(flatten)]
        data: DataArgs,
        /// The order whose timeline to export.
        #[arg(long, conflicts_with = "complaint", required_unless_present = "complaint")]
        order: Option<String>,
        /// The complaint whose case (events, evidence and files, ruling) to export.
        #[arg(long)]
        complaint: Option<String>,
        /// Where to write it (default ./dossier-<id>).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Back up a running (or stopped) Danbao into a new folder: an online copy of the
    /// SQLite database, the key files and the evidence attachments.
    Backup {
        #[command(flatten)]
        data: DataArgs,
        /// The folder to write (must not exist).
        #[arg(long)]
        out: PathBuf,
    },
    /// Restore a backup into a new data directory (then run `ledger check` and `verify`).
    Restore {
        /// The backup folder.
        #[arg(long)]
        from: PathBuf,
        /// The data directory to restore into (must hold no database).
        #[arg(long, default_value = "./data", env = "DANBAO_DATA_DIR")]
        data_dir: PathBuf,
    },
    /// Ledger commands.
    Ledger {
        #[command(subcommand)]
        command: LedgerCommand,
    },
    /// Benchmarks (figures as ratios against a baseline of the same run).
    Bench(bench::BenchArgs),
    /// Create an account of any role (arbitrator and admin accounts are made only here).
    CreateAccount {
        #[command(flatten)]
        data: DataArgs,
        #[arg(long)]
        username: String,
        /// buyer, seller, arbitrator or admin.
        #[arg(long)]
        role: String,
        /// The password; read from DANBAO_ACCOUNT_PASSWORD if not given.
        #[arg(long, env = "DANBAO_ACCOUNT_PASSWORD", hide_env_values = true)]
        password: String,
    },
    /// Run the sandbox payment gateway as its own process.
    SandboxGateway {
        #[arg(long, default_value_t = 9090)]
        port: u16,
        #[arg(long, default_value = "127.0.0.1")]
        bind: String,
        /// Where the merchant key shared with the platform lives (created if missing).
        #[arg(long, default_value = "./data/keys/sandbox-merchant.key")]
        merchant_key_file: PathBuf,
        /// Speeds up the resend schedule (1 = real time).
        #[arg(long, default_value_t = 1.0)]
        time_scale: f64,
        /// Fault knobs at start (they can be changed at run time with PUT /admin/faults).
        #[arg(long, default_value_t = 0)]
        drop_pct: u8,
        #[arg(long, default_value_t = 0)]
        duplicate_pct: u8,
        #[arg(long, default_value_t = 0)]
        delay_ms_max: u64,
        #[arg(long)]
        reorder: bool,
        #[arg(long, default_value_t = 0)]
        tamper_amount_pct: u8,
        #[arg(long)]
        down: bool,
        /// With --down: come back by itself after this many milliseconds.
        #[arg(long, default_value_t = 0)]
        down_for_ms: u64,
        /// Where the gateway keeps its books (payments, refunds, notification schedules),
        /// so that a restart forgets nothing; created private if missing. Without it the
        /// gateway keeps them in memory only.
        #[arg(long)]
        state_dir: Option<PathBuf>,
        /// Also speak 易支付 (EPay V1) at /epay/, for this merchant id (`pid`).
        #[arg(long, requires = "epay_key_file")]
        epay_pid: Option<String>,
        /// The 易支付 merchant's MD5 key, shared with the platform's rails file (created if
        /// missing).
        #[arg(long, requires = "epay_pid")]
        epay_key_file: Option<PathBuf>,
        /// Also speak Alipay (open platform, RSA2) at /alipay/gateway.do, for this
        /// application id.
        #[arg(long, requires_all = ["alipay_seller_id", "alipay_app_public_key_file", "alipay_private_key_file"])]
        alipay_app_id: Option<String>,
        /// The Alipay merchant's PID (`2088…`), the notifications' `seller_id`.
        #[arg(long, requires = "alipay_app_id")]
        alipay_seller_id: Option<String>,
        /// The application's public key (PEM or base64): checks the merchant's requests.
        #[arg(long, requires = "alipay_app_id")]
        alipay_app_public_key_file: Option<PathBuf>,
        /// The gateway's own RSA key, standing for Alipay's (generated if missing); its public
        /// half is written beside it as `<file>.pub.pem` for the platform's rails file.
        #[arg(long, requires = "alipay_app_id")]
        alipay_private_key_file: Option<PathBuf>,
        /// Also answer 易支付's V2 (RSA) API at /epay/api/pay/*, for this merchant id.
        #[arg(long, requires_all = ["epay2_merchant_public_key_file", "epay2_platform_key_file"])]
        epay2_pid: Option<String>,
        /// The V2 merchant's RSA public key (PEM), which its requests must verify under.
        #[arg(long, requires = "epay2_pid")]
        epay2_merchant_public_key_file: Option<PathBuf>,
        /// The gateway's own RSA private key for V2 (created if missing, its public half
        /// written beside it as <file>.pub for the platform's rails file).
        #[arg(long, requires = "epay2_pid")]
        epay2_platform_key_file: Option<PathBuf>,
        /// Also speak WeChat Pay API v3 at /wechat/v3/, for this merchant number (`mchid`).
        #[arg(long, requires_all = ["wechat_appid", "wechat_merchant_serial_no", "wechat_merchant_public_key_file", "wechat_platform_key_file", "wechat_api_v3_key_file"])]
        wechat_mchid: Option<String>,
        /// The WeChat Pay merchant's app id (`appid`).
        #[arg(long, requires = "wechat_mchid")]
        wechat_appid: Option<String>,
        /// The serial of the merchant's API certificate (its requests name it).
        #[arg(long, requires = "wechat_mchid")]
        wechat_merchant_serial_no: Option<String>,
        /// The merchant's API public key (PEM; a private key file is read for its public
        /// half), which the merchant's requests are checked with. Must exist.
        #[arg(long, requires = "wechat_mchid")]
        wechat_merchant_public_key_file: Option<PathBuf>,
        /// The platform key the gateway signs answers and notifications with (PEM, made if
        /// missing); its public half is written beside it as `<file>.pub`, for the
        /// platform's rails file (`platform_public_key_file`).
        #[arg(long, requires = "wechat_mchid")]
        wechat_platform_key_file: Option<PathBuf>,
        /// The serial (or 微信支付公钥 id) the platform key signs under.
        #[arg(long, default_value = "5157F09EFDC096DE15EBE81A4705700000000001")]
        wechat_platform_serial_no: String,
        /// The merchant's APIv3 key (32 characters, alone in the file; made if missing),
        /// shared with the platform's rails file.
        #[arg(long, requires = "wechat_mchid")]
        wechat_api_v3_key_file: Option<PathBuf>,
    },
    /// Chaos run: real server processes and the sandbox as its own process, with lost,
    /// duplicated, delayed and reordered notifications, an outage and SIGKILLed servers;
    /// checks that every accepted payment ended as a delivery or a refund.
    Chaos(chaos::ChaosArgs),
    /// The seeded simulator: random buyers, sellers, staff, clock jumps, jobs and gateway
    /// faults against the use cases on a real store, the audit after every step; a
    /// failure is shrunk and written out for --replay.
    Simulate(simulate::SimulateArgs),
}

#[derive(Subcommand)]
enum LedgerCommand {
    /// Verify every ledger invariant; exits non-zero listing each violation.
    Check(DataArgs),
}

fn database_url(data: &DataArgs) -> anyhow::Result<String> {
    match &data.database_url {
        Some(u) => Ok(u.clone()),
        None => {
            // The data directory holds the database and the keys: this user's alone
            // (0700), and the database file 0600 from the start (SQLite gives its WAL
            // and shared-memory files the database file's mode).
            danbao_app::vault::create_private_dir(&data.data_dir)
                .with_context(|| format!("creating the data directory {}", data.data_dir.display()))?;
            let db = data.data_dir.join("danbao.db");
            match danbao_app::vault::create_private_file(&db, b"") {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(e).with_context(|| format!("creating the database file {}", db.display())),
            }
            Ok(format!("sqlite:{}", db.display()))
        }
    }
}

async fn open_store(data: &DataArgs) -> anyhow::Result<Store> {
    let url = database_url(data)?;
    Store::connect(&url, None)
        .await
        .with_context(|| format!("opening the database {}", redact(&url)))
}

/// Hides a password in a database URL before it is printed.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => match url[s + 3..at].split_once(':') {
            Some((user, _)) => format!("{}{}:***{}", &url[..s + 3], user, &url[at..]),
            None => url.to_string(),
        },
        _ => url.to_string(),
    }
}

fn keys_dir(data: &DataArgs) -> PathBuf {
    data.data_dir.join("keys")
}

/// The in-process gateway's Alipay keys, under `<data-dir>/keys/`: the platform's
/// application key and the gateway's own ("Alipay's"), each made once.
fn in_process_alipay_keys(keys: &std::path::Path) -> anyhow::Result<danbao_http::server::InProcessAlipay> {
    let (app_private_key, _) = load_or_create_rsa(&keys.join("sandbox-alipay-app-private.pem"))?;
    let (alipay_private_key, _) = load_or_create_rsa(&keys.join("sandbox-alipay-gateway-private.pem"))?;
    Ok(danbao_http::server::InProcessAlipay {
        app_private_key,
        alipay_private_key,
    })
}

async fn run_server(args: ServeArgs, seed: bool) -> anyhow::Result<()> {
    let zone = danbao_app::clock::zone(&args.time_zone)?;
    if !danbao_app::clock::set_display_zone(zone) {
        anyhow::bail!("the display time zone was already set");
    }
    let store = open_store(&args.data).await?;
    let keys = keys_dir(&args.data);
    let (vault, files) = Vault::open(&keys).context("opening the key files")?;
    let merchant_key_path = keys.join("sandbox-merchant.key");
    let (merchant_key, _) = load_or_create(&merchant_key_path).context("opening the sandbox merchant key")?;
    // `--rules FILE` publishes that file (as a new version if it differs from the latest);
    // without it the server keeps what is published, so a version published from the
    // operations console survives a restart instead of being replaced by the default.
    let rules = match &args.rules {
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
            RuleSet::parse(&text).with_context(|| format!("parsing the rule set {}", path.display()))?
        }
        None => published_or_default(&store).await?,
    };
    let limits = match &args.limits {
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
            danbao_app::limits::Limits::parse(&text)
                .map_err(|e| anyhow::anyhow!("parsing the limits {}: {e}", path.display()))?
        }
        None => danbao_app::limits::Limits::default(),
    };
    let mut limits = limits;
    for proxy in &args.trusted_proxies {
        let net = proxy
            .parse::<ipnet::IpNet>()
            .or_else(|_| proxy.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
            .map_err(|_| anyhow::anyhow!("trusted proxy {proxy:?} is not an address or CIDR range"))?;
        limits.trusted_proxies.push(net);
    }
    let metrics_token = match &args.metrics_token_file {
        Some(path) => Some(config::read_secret(path)?),
        None => None,
    };
    let rails = match &args.rails {
        Some(path) => {
            let text =
                std::fs::read_to_string(path).with_context(|| format!("reading the rails file {}", path.display()))?;
            danbao_app::rails_file::RailsFile::parse(&text)
                .and_then(|f| f.build())
                .map_err(|e| anyhow::anyhow!("the rails file {}: {e}", path.display()))?
        }
        None => Vec::new(),
    };
    let listener = tokio::net::TcpListener::bind((args.bind.as_str(), args.port))
        .await
        .with_context(|| format!("listening on {}:{}", args.bind, args.port))?;
    let admin_secret_path = keys.join("sandbox-admin.key");
    let gateway = match (&args.sandbox_url, args.sandbox || seed) {
        (Some(url), _) => Gateway::External {
            base_url: url.clone(),
            merchant_key: merchant_key.to_vec(),
        },
        (None, true) => {
            let (secret, _) = load_or_create(&admin_secret_path).context("opening the sandbox admin secret")?;
            // The in-process gateway's 易支付 personality has a key of its own, kept
            // beside the other keys (the platform and the gateway share it, as a merchant
            // and its aggregator do).
            let (epay_key, _) =
                load_or_create(&keys.join("sandbox-epay.key")).context("opening the sandbox 易支付 key")?;
            // With --sandbox-epay-v2, its V2 merchant's and aggregator's RSA keys, made
            // once beside the others.
            let epay_v2 = if args.sandbox_epay_v2 {
                let (merchant_private_key, _) = load_or_create_rsa(&keys.join("sandbox-epay2-merchant.pem"))?;
                let (platform_private_key, _) = load_or_create_rsa(&keys.join("sandbox-epay2-platform.pem"))?;
                Some(danbao_http::server::InProcessEpayV2 {
                    merchant_private_key,
                    platform_private_key,
                })
            } else {
                None
            };
            Gateway::InProcess {
                merchant_key: merchant_key.to_vec(),
                time_scale: 1.0,
                admin_secret: Some(hex::encode(secret)),
                state_dir: Some(args.data.data_dir.join("sandbox")),
                epay_key: Some(hex::encode(epay_key)),
                // Its Alipay personality too: two RSA keys, made once beside the others.
                alipay: Some(in_process_alipay_keys(&keys).context("opening the sandbox Alipay keys")?),
                epay_v2,
                wechat: Some(Box::new(in_process_wechat_keys(&keys)?)),
            }
        }
        (None, false) => Gateway::None,
    };
    let witness_policy = danbao_app::witnesses::WitnessPolicy::parse(&args.witnesses, args.witness_quorum)
        .map_err(|e| anyhow::anyhow!(e))?;
    let server = start(ServerConfig {
        store,
        clock: Arc::new(SystemClock),
        vault,
        listener,
        public_url: args.public_url.clone(),
        rules,
        gateway,
        worker_interval: Some(Duration::from_millis(500)),
        files_dir: Some(args.data.data_dir.join("files")),
        secure_cookies: args.secure_cookies,
        limits,
        rails,
        metrics_token,
    })
    .await?;
    server.app.set_witnesses(witness_policy);
    println!("Danbao is running at {}", server.url);
    let methods = server.app.rails.methods();
    println!(
        "  payment methods: {}",
        if methods.is_empty() {
            "none (no money is taken)".to_string()
        } else {
            methods.join(", ")
        }
    );
    println!("  database: {}", redact(&database_url(&args.data)?));
    println!(
        "  card-key encryption key: {}{}",
        files.encryption_key.display(),
        if files.created { " (generated now)" } else { "" }
    );
    println!("  link secret: {}", files.link_secret.display());
    println!("  evidence log signing key: {}", files.evidence_signing_key.display());
    println!("  evidence log public key: {}", server.app.log_signer().vkey());
    println!("  sandbox merchant key: {}", merchant_key_path.display());
    println!("  pages show times in: {}", danbao_app::clock::display_zone_name());
    match (&args.sandbox_url, args.sandbox || seed) {
        (Some(url), _) => println!("  payments: the sandbox gateway at {url}"),
        (None, true) => {
            println!("  payments: the IN-PROCESS SANDBOX at {}/sandbox", server.url);
            println!(
                "  fault knobs (PUT /sandbox/admin/faults) need Authorization: Bearer <the secret in {}>",
                admin_secret_path.display()
            );
            if !seed {
                eprintln!(
                    "WARNING: --sandbox: anyone who can reach this server can pay any order for free. \
                     Never use it where real buyers or sellers are."
                );
            }
        }
        (None, false) => println!(
            "  payments: NONE configured; checkout is refused. Give --sandbox-url URL (or --sandbox to try it out)."
        ),
    }
    println!("  rule set version: {}", server.app.current_rules().version);
    if seed {
        seed_demo(&server.app, &server.url, &merchant_key).await?;
        println!();
        println!("Demo shop seeded. Open the storefront: {}/", server.url);
        println!("  seller: demo_seller / demo-password");
        println!("  buyer:  demo_buyer / demo-password");
        println!("  admin:  demo_admin / demo-password");
        println!("  arbitrator: demo_arbitrator / demo-password");
        println!(
            "  consoles: {0}/seller (seller), {0}/arbitration (arbitrator), {0}/admin (admin); log in at {0}/login",
            server.url
        );
        println!(
            "  API:    {}/api/v1/products   OpenAPI: {}/api/openapi.json",
            server.url, server.url
        );
    }
    println!("Press Ctrl-C to stop.");
    server
        .wait(danbao_http::server::Shutdown {
            drain: Duration::from_secs(args.drain_seconds),
            grace: Duration::from_secs(args.shutdown_grace_seconds),
        })
        .await;
    Ok(())
}

/// The latest published rule set, or the embedded default on a fresh database.
/// The in-process gateway's WeChat Pay keys, made once into `keys/` and kept: the
/// merchant's API key and the simulated platform's key (RSA 2048, PEM), and the APIv3
/// key (32 characters: the first half of a 32-byte hex key file).
fn in_process_wechat_keys(keys: &std::path::Path) -> anyhow::Result<danbao_http::server::InProcessWechat> {
    let merchant_key = rsa_signing_key(&keys.join("sandbox-wechat-merchant.pem"))?;
    let platform_key = rsa_signing_key(&keys.join("sandbox-wechat-platform.pem"))?;
    let (v3, _) =
        load_or_create(&keys.join("sandbox-wechat-apiv3.key")).context("opening the sandbox WeChat Pay APIv3 key")?;
    let hex = hex::encode(v3);
    let api_v3_key = danbao_rails::wechat::ApiV3Key::from_text(hex.get(..32).unwrap_or_default())
        .context("the sandbox WeChat Pay APIv3 key")?;
    Ok(danbao_http::server::InProcessWechat {
        merchant_key,
        platform_key,
        api_v3_key,
    })
}

/// The RSA private key kept in `path` (made on first use), read.
fn rsa_signing_key(path: &std::path::Path) -> anyhow::Result<danbao_rails::rsa_sha256::SigningKey> {
    let (pem, _) = load_or_create_rsa(path)?;
    danbao_rails::rsa_sha256::SigningKey::from_text(&pem).with_context(|| format!("reading the key {}", path.display()))
}

/// The standalone gateway's WeChat Pay merchant (`sandbox-gateway --wechat-*`): the
/// merchant's public key read, the platform key and the APIv3 key made if missing.
fn standalone_wechat(
    mchid: String,
    appid: String,
    merchant_serial_no: String,
    merchant_public_key_file: &std::path::Path,
    platform_key_file: &std::path::Path,
    platform_serial_no: String,
    api_v3_key_file: &std::path::Path,
) -> anyhow::Result<danbao_sandbox::gateway::WechatMerchant> {
    use danbao_rails::rsa_sha256::{SigningKey, VerifyingKey};
    let text = std::fs::read_to_string(merchant_public_key_file).with_context(|| {
        format!(
            "reading the WeChat Pay merchant key {}",
            merchant_public_key_file.display()
        )
    })?;
    let merchant_public_key = VerifyingKey::from_text(&text)
        .or_else(|_| SigningKey::from_text(&text).map(|k| k.verifying_key()))
        .with_context(|| format!("the WeChat Pay merchant key {}", merchant_public_key_file.display()))?;
    let platform_key = rsa_signing_key(platform_key_file)?;
    let public_path = std::path::PathBuf::from(format!("{}.pub", platform_key_file.display()));
    std::fs::write(&public_path, platform_key.verifying_key().to_spki_pem())
        .with_context(|| format!("writing {}", public_path.display()))?;
    let v3 = match std::fs::read_to_string(api_v3_key_file) {
        Ok(text) => text.trim().to_string(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            use rand::distributions::{Alphanumeric, DistString};
            let key = Alphanumeric.sample_string(&mut rand::rngs::OsRng, 32);
            danbao_app::vault::create_private_file(api_v3_key_file, key.as_bytes())
                .with_context(|| format!("creating {}", api_v3_key_file.display()))?;
            key
        }
        Err(e) => return Err(e).with_context(|| format!("reading {}", api_v3_key_file.display())),
    };
    let api_v3_key = danbao_rails::wechat::ApiV3Key::from_text(&v3)
        .with_context(|| format!("the APIv3 key in {}", api_v3_key_file.display()))?;
    Ok(danbao_sandbox::gateway::WechatMerchant {
        mchid,
        appid,
        merchant_serial_no,
        merchant_public_key,
        api_v3_key,
        platform_serial_no,
        platform_key: Some(std::sync::Arc::new(platform_key)),
    })
}

async fn published_or_default(store: &danbao_app::storage::Store) -> anyhow::Result<RuleSet> {
    let mut tx = store.begin().await?;
    let latest = tx.latest_rule_set().await?;
    tx.commit().await?;
    Ok(match latest {
        Some(row) => RuleSet::parse(&row.body)?,
        None => RuleSet::default_rules()?,
    })
}

/// The payment of a demo order. The demo shop is new, so its orders carry risk control's
/// "new seller" warning, but nothing that holds the cashier back for a second confirmation.
fn demo_payment_id(placed: &danbao_app::PlacedOrder) -> anyhow::Result<&str> {
    match &placed.payment {
        Some(p) => Ok(&p.payment_id),
        None => anyhow::bail!(
            "demo order {} waits for a risk confirmation ({})",
            placed.id,
            placed.risk.level
        ),
    }
}

/// Seeds the demo shop once; running `danbao demo` again reuses it.
async fn seed_demo(app: &danbao_app::App, url: &str, merchant_key: &[u8]) -> anyhow::Result<()> {
    let password = "demo-password";
    // The operator's own seeding: no client address, so no rate limit applies.
    let local = danbao_app::limits::Origin::Local;
    let seller = match app.register(&local, "demo_seller", password, Role::Seller).await {
        Ok(u) => u,
        Err(danbao_app::AppError::Refused(danbao_domain::Refusal::UsernameTaken)) => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    let buyer = Caller::User(app.register(&local, "demo_buyer", password, Role::Buyer).await?);
    app.register(&local, "demo_admin", password, Role::Admin).await?;
    app.register(&local, "demo_arbitrator", password, Role::Arbitrator)
        .await?;
    let seller = Caller::User(seller);
    // The seller pays the deposit listing needs through the sandbox's cashier, as a real
    // seller would; its notification books it.
    let gateway = danbao_sandbox::client::SandboxClient::new(format!("{url}/sandbox"), merchant_key.to_vec());
    let required = app.seller_balance(&seller).await?.deposit_required_minor;
    if required > 0 {
        let deposit = app.pay_deposit(&seller, required, None).await?;
        gateway
            .pay(
                deposit
                    .payment_id
                    .as_deref()
                    .context("the deposit payment has no cashier")?,
            )
            .await?;
        let mut booked = false;
        for _ in 0..100 {
            if app.seller_balance(&seller).await?.deposit_minor >= required {
                booked = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        anyhow::ensure!(booked, "the demo seller's deposit payment was never booked");
    }
    let card_product = |title: &'static str, description: &'static str, price_minor: i64| NewProduct {
        title: title.into(),
        description: description.into(),
        category: "game_cards".into(),
        price_minor,
        delivery_kind: "card_key".into(),
        manual_fields: vec![],
    };
    let card = app
        .create_product(
            &seller,
            card_product("王者荣耀 点券卡 60元", "卡密自动发货，付款后立即可见。", 5800),
        )
        .await?;
    let keys: String = (1..=20).map(|i| format!("WZRY-60-DEMO-{i:04}-XKCD\n")).collect();
    app.import_card_keys(&seller, &card.id, &keys).await?;
    let steam = app
        .create_product(
            &seller,
            card_product("Steam 钱包充值码 ¥100", "国区 Steam 钱包充值码。", 9500),
        )
        .await?;
    let keys: String = (1..=10).map(|i| format!("STEAM-100-{i:04}-DEMO\n")).collect();
    app.import_card_keys(&seller, &steam.id, &keys).await?;
    let top_up = app
        .create_product(
            &seller,
            NewProduct {
                title: "原神 创世结晶 代充 6480".into(),
                description: "人工代充，24 小时内到账。请填写 UID 和服务器。".into(),
                category: "top_up".into(),
                price_minor: 64800,
                delivery_kind: "manual".into(),
                manual_fields: vec!["UID".into(), "服务器".into()],
            },
        )
        .await?;

    // Two finished orders, so a new user sees timelines with receipts at once: one bought,
    // revealed and confirmed; one the seller declined, refunded through the sandbox.
    let wait_for = |id: String, status: danbao_domain::OrderStatus| {
        let buyer = buyer.clone();
        async move {
            for _ in 0..100 {
                if app.order(&buyer, &id).await?.status == status {
                    return Ok(());
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            anyhow::bail!("demo order {id} never became {status}")
        }
    };
    let bought = app
        .place_order(
            &buyer,
            &local,
            danbao_app::PlaceOrder {
                product_id: steam.id.clone(),
                quantity: 1,
                ..Default::default()
            },
        )
        .await?;
    gateway.pay(demo_payment_id(&bought)?).await?;
    wait_for(bought.id.clone(), danbao_domain::OrderStatus::Delivered).await?;
    app.reveal_delivery(&buyer, &bought.id).await?;
    app.confirm(&buyer, &bought.id).await?;

    let mut fields = std::collections::BTreeMap::new();
    fields.insert("UID".to_string(), "100000001".to_string());
    fields.insert("服务器".to_string(), "天空岛".to_string());
    let declined = app
        .place_order(
            &buyer,
            &local,
            danbao_app::PlaceOrder {
                product_id: top_up.id.clone(),
                quantity: 1,
                delivery_fields: fields,
                payment_method: None,
                ..Default::default()
            },
        )
        .await?;
    gateway.pay(demo_payment_id(&declined)?).await?;
    wait_for(declined.id.clone(), danbao_domain::OrderStatus::Paid).await?;
    app.seller_decline(&seller, &declined.id, "该区服暂时无法代充").await?;

    // Work waiting in the consoles: a paid 代充 order for the seller to deliver, and a
    // complaint both parties have answered, for the arbitrator to rule on.
    let mut fields = std::collections::BTreeMap::new();
    fields.insert("UID".to_string(), "100000002".to_string());
    fields.insert("服务器".to_string(), "世界树".to_string());
    let to_deliver = app
        .place_order(
            &buyer,
            &local,
            danbao_app::PlaceOrder {
                product_id: top_up.id.clone(),
                quantity: 1,
                delivery_fields: fields,
                payment_method: None,
                ..Default::default()
            },
        )
        .await?;
    gateway.pay(demo_payment_id(&to_deliver)?).await?;
    wait_for(to_deliver.id.clone(), danbao_domain::OrderStatus::Paid).await?;
    let disputed = app
        .place_order(
            &buyer,
            &local,
            danbao_app::PlaceOrder {
                product_id: card.id.clone(),
                quantity: 1,
                ..Default::default()
            },
        )
        .await?;
    gateway.pay(demo_payment_id(&disputed)?).await?;
    wait_for(disputed.id.clone(), danbao_domain::OrderStatus::Delivered).await?;
    app.reveal_delivery(&buyer, &disputed.id).await?;
    let complaint = app
        .open_complaint(
            &buyer,
            &disputed.id,
            "not_as_described",
            Some("点券卡面值只有 30 元，与商品描述的 60 元不符。"),
        )
        .await?;
    app.add_evidence(
        &buyer,
        &complaint.id,
        "description",
        Some("充值记录显示到账 300 点券，应为 600 点券。"),
        None,
    )
    .await?;
    app.seller_respond(&seller, &complaint.id, "卡密为 60 元面值，发货前已核对。")
        .await?;
    app.run_due_jobs().await?;
    // A first statement of liabilities now, not at the end of the first period, so the demo's
    // /transparency and the buyer's order page show one at once.
    app.publish_liabilities().await?;
    app.sequence_evidence().await?;
    println!("  demo orders: {} (completed), {} (refunded)", bought.id, declined.id);
    println!(
        "  waiting in the consoles: order {} to deliver (seller), complaint {} to rule on (arbitrator)",
        to_deliver.id, complaint.id
    );
    println!("  their timelines with receipts: log in as demo_buyer (POST {url}/api/v1/sessions) and GET {url}/api/v1/orders/<id>/timeline,");
    println!(
        "  or: danbao export-dossier --order {} && danbao verify dossier-{} --key '{}'",
        bought.id,
        bought.id,
        app.log_signer().vkey()
    );
    Ok(())
}

/// Opens the app on a data directory for an offline tool (no gateway is reached).
async fn offline_app(data: &DataArgs, sandbox_url: &str) -> anyhow::Result<danbao_app::App> {
    let store = open_store(data).await?;
    let keys = keys_dir(data);
    let (vault, _) = Vault::open(&keys).context("opening the key files")?;
    let (merchant_key, _) =
        load_or_create(&keys.join("sandbox-merchant.key")).context("opening the sandbox merchant key")?;
    let provider = danbao_app::payments::SandboxProvider::new(sandbox_url, merchant_key.to_vec());
    // Keep the published rule set as it is: a tool must not publish a new version.
    let rules = published_or_default(&store).await?;
    Ok(danbao_app::App::start(
        store,
        Arc::new(SystemClock),
        vault,
        danbao_app::payments::Rails::one(Arc::new(provider)),
        danbao_app::AppConfig {
            public_url: String::new(),
            files_dir: Some(data.data_dir.join("files")),
            limits: danbao_app::limits::Limits::default(),
        },
        rules,
    )
    .await?)
}

async fn export_dossier(
    data: DataArgs,
    order: Option<String>,
    complaint: Option<String>,
    out: Option<PathBuf>,
) -> anyhow::Result<ExitCode> {
    use danbao_app::clock::Clock;
    let app = offline_app(&data, "http://127.0.0.1:0").await?;
    let now = danbao_app::clock::rfc3339(SystemClock.now_ms());
    let vkey = app.log_signer().vkey();
    let (out, count) = match (order, complaint) {
        (Some(order), _) => {
            let timeline = app.order_timeline_for_operator(&order).await?;
            if !timeline.intact {
                eprintln!("warning: this order's timeline does not verify; the dossier shows why");
            }
            let out = out.unwrap_or_else(|| PathBuf::from(format!("dossier-{order}")));
            dossier::write_dossier(&out, &format!("order:{order}"), &vkey, &timeline, &now)?;
            (out, timeline.events.len())
        }
        (None, Some(id)) => {
            let (items, files) = app.complaint_dossier(&id).await?;
            let checkpoint = app.evidence_checkpoint().await?;
            let items: Vec<dossier::BundleItem> = items
                .into_iter()
                .enumerate()
                .map(|(i, it)| dossier::BundleItem {
                    seq: i64::try_from(i + 1).unwrap_or(i64::MAX),
                    kind: it.kind,
                    at: it.at,
                    content: it.content,
                    receipt: it.receipt,
                    opening: it.opening,
                })
                .collect();
            let out = out.unwrap_or_else(|| PathBuf::from(format!("dossier-{id}")));
            dossier::write_bundle(
                &out,
                &format!("complaint:{id}"),
                &vkey,
                &checkpoint,
                &items,
                &files,
                &now,
            )?;
            (out, items.len())
        }
        (None, None) => anyhow::bail!("give --order or --complaint"),
    };
    println!("dossier written to {} ({count} entries)", out.display());
    println!("verify it with: danbao verify {} --key '{vkey}'", out.display());
    Ok(ExitCode::SUCCESS)
}

async fn reconcile(
    data: DataArgs,
    from: Option<String>,
    to: Option<String>,
    sandbox_url: String,
) -> anyhow::Result<ExitCode> {
    use danbao_app::clock::{parse_rfc3339, Clock};
    let now = SystemClock.now_ms();
    let parse = |name: &str, v: Option<String>, default: i64| -> anyhow::Result<i64> {
        match v {
            Some(t) => parse_rfc3339(&t).with_context(|| format!("--{name} must be an RFC 3339 time, got {t:?}")),
            None => Ok(default),
        }
    };
    let from = parse("from", from, now - 24 * 3_600_000)?;
    let to = parse("to", to, now)?;
    let app = offline_app(&data, &sandbox_url).await?;
    let r = app.reconcile_rail("sandbox", from, to).await?;
    println!("reconciliation {} ({} to {})", r.id, r.from, r.to);
    println!("  matched:             {}", r.matched);
    println!("  applied late:        {}", r.applied_late);
    println!("  missing at provider: {}", r.missing_at_provider);
    println!("  amount mismatch:     {}", r.amount_mismatch);
    for i in &r.items {
        println!("  {} {} {} {}", i.status, i.kind, i.provider_txn_id, i.detail);
    }
    match &r.liabilities_cover {
        Some(c) => println!(
            "  liabilities:         {} fen (statement #{}, {}); {} holds {} fen; cover ratio {} ({} bps)",
            c.liabilities_total_minor,
            c.statement_seq,
            c.statement_as_of,
            c.provider,
            c.provider_balance_minor,
            c.cover_ratio,
            c.cover_ratio_bps.map_or_else(|| "-".to_string(), |b| b.to_string())
        ),
        None => println!("  liabilities:         no statement published, or the provider gives no balance"),
    }
    let unexplained = r.missing_at_provider + r.amount_mismatch;
    Ok(if unexplained == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve(args) => run_server(args, false).await?,
        Command::Demo(args) => run_server(args, true).await?,
        Command::Migrate(data) => {
            let store = open_store(&data).await?;
            println!("migrations applied ({})", store.kind());
        }
        Command::Openapi => {
            let doc = danbao_http::openapi_document()
                .to_pretty_json()
                .context("serialising the OpenAPI document")?;
            println!("{doc}");
        }
        Command::Backup { data, out } => {
            let url = match &data.database_url {
                Some(u) => u.clone(),
                None => format!("sqlite:{}", data.data_dir.join("danbao.db").display()),
            };
            backup::backup(&data.data_dir, &url, &out).await?;
        }
        Command::Restore { from, data_dir } => backup::restore(&from, &data_dir)?,
        Command::Ledger {
            command: LedgerCommand::Check(data),
        } => {
            let store = open_store(&data).await?;
            let mut violations = danbao_app::ledger_check(&store).await?;
            // The statements of liabilities are checked with the log's key (their notes)
            // and its salt secret (their leaves), when this data directory has them.
            let keys = keys_dir(&data);
            if keys.join("evidence-log-signing.key").is_file() {
                let (vault, _) = Vault::open(&keys).context("opening the key files")?;
                let signer = vault.log_signer();
                let problems = danbao_app::liabilities::check_liability_statements(
                    &store,
                    &signer.verifier(),
                    &danbao_app::liabilities::salt_secret(signer),
                )
                .await?;
                violations.extend(problems.into_iter().map(danbao_domain::ledger::Violation));
            } else {
                println!(
                    "note: no evidence-log key in this data directory; the statements of liabilities are not checked"
                );
            }
            if violations.is_empty() {
                println!("ledger check: ok (every entry balances, balances match postings, no liability negative, every order's money accounted for)");
            } else {
                for v in &violations {
                    println!("violation: {v}");
                }
                println!("ledger check: {} violation(s)", violations.len());
                return Ok(ExitCode::FAILURE);
            }
        }
        Command::Chaos(args) => return chaos::run(args).await,
        Command::Simulate(args) => return simulate::run(args).await,
        Command::Bench(args) => return bench::run(args).await,
        Command::Mirror {
            url,
            dir,
            key,
            interval_seconds,
            witnesses,
            witness_quorum,
        } => {
            let witnesses = dossier::WitnessCheck::read(&witnesses, witness_quorum)?;
            return mirror::run(&url, &dir, &key, &witnesses, interval_seconds).await;
        }
        Command::Verify {
            receipt,
            key,
            file,
            opening,
            witnesses,
            witness_quorum,
        } => {
            let witnesses = dossier::WitnessCheck::read(&witnesses, witness_quorum)?;
            return dossier::verify(&receipt, &key, opening.as_deref(), file.as_deref(), &witnesses);
        }
        Command::Witness {
            dir,
            name,
            logs,
            bind,
            port,
        } => return witness::run(&dir, &name, &logs, &bind, port).await,
        Command::VerifyLiabilities { proof, key } => return liabilities::verify(&proof, &key),
        Command::ExportDossier {
            data,
            order,
            complaint,
            out,
        } => return export_dossier(data, order, complaint, out).await,
        Command::Reconcile {
            data,
            from,
            to,
            sandbox_url,
        } => return reconcile(data, from, to, sandbox_url).await,
        Command::CreateAccount {
            data,
            username,
            role,
            password,
        } => {
            let Some(role) = Role::parse(&role) else {
                eprintln!("error: --role must be buyer, seller, arbitrator or admin");
                return Ok(ExitCode::from(2));
            };
            let store = open_store(&data).await?;
            let user = danbao_app::auth::create_account_in(&store, &username, &password, role).await?;
            println!("created {} account {} ({})", user.role.as_str(), user.username, user.id);
        }
        Command::SandboxGateway {
            port,
            bind,
            merchant_key_file,
            time_scale,
            drop_pct,
            duplicate_pct,
            delay_ms_max,
            reorder,
            tamper_amount_pct,
            down,
            down_for_ms,
            state_dir,
            epay_pid,
            epay_key_file,
            alipay_app_id,
            alipay_seller_id,
            alipay_app_public_key_file,
            alipay_private_key_file,
            epay2_pid,
            epay2_merchant_public_key_file,
            epay2_platform_key_file,
            wechat_mchid,
            wechat_appid,
            wechat_merchant_serial_no,
            wechat_merchant_public_key_file,
            wechat_platform_key_file,
            wechat_platform_serial_no,
            wechat_api_v3_key_file,
        } => {
            let faults = danbao_sandbox::wire::Faults {
                drop_pct,
                duplicate_pct,
                delay_ms_max,
                reorder,
                tamper_amount_pct,
                down,
                down_for_ms,
            };
            if [drop_pct, duplicate_pct, tamper_amount_pct].iter().any(|p| *p > 100) {
                eprintln!("error: percentages must be within 0..=100");
                return Ok(ExitCode::from(2));
            }
            let (key, created) = load_or_create(&merchant_key_file).context("opening the merchant key")?;
            let epay = match (epay_pid, &epay_key_file) {
                (Some(pid), Some(path)) => {
                    let (epay_key, _) = load_or_create(path).context("opening the 易支付 key")?;
                    Some(danbao_sandbox::gateway::EpayMerchant {
                        pid,
                        key: hex::encode(epay_key),
                    })
                }
                _ => None,
            };
            let alipay = match (
                alipay_app_id,
                alipay_seller_id,
                &alipay_app_public_key_file,
                &alipay_private_key_file,
            ) {
                (Some(app_id), Some(seller_id), Some(app_public), Some(private)) => {
                    let text = std::fs::read_to_string(app_public)
                        .with_context(|| format!("reading the Alipay application key {}", app_public.display()))?;
                    let app_public_key = danbao_rails::rsa_sha256::VerifyingKey::from_text(&text)
                        .map_err(|e| anyhow::anyhow!("the Alipay application key {}: {e}", app_public.display()))?;
                    let (pem, _) = load_or_create_rsa(private)?;
                    let key = danbao_rails::rsa_sha256::SigningKey::from_text(&pem)
                        .map_err(|e| anyhow::anyhow!("the gateway's Alipay key {}: {e}", private.display()))?;
                    let public_path = PathBuf::from(format!("{}.pub.pem", private.display()));
                    std::fs::write(&public_path, key.verifying_key().to_spki_pem())
                        .with_context(|| format!("writing {}", public_path.display()))?;
                    Some(danbao_sandbox::gateway::AlipayMerchant {
                        app_id,
                        seller_id,
                        app_public_key,
                        alipay_key: Some(Arc::new(key)),
                    })
                }
                _ => None,
            };
            let epay_v2 = match (&epay2_pid, &epay2_merchant_public_key_file, &epay2_platform_key_file) {
                (Some(pid), Some(public), Some(private)) => {
                    let text = std::fs::read_to_string(public)
                        .with_context(|| format!("reading the 易支付 V2 merchant key {}", public.display()))?;
                    let merchant_public_key = danbao_rails::rsa_sha256::VerifyingKey::from_text(&text)
                        .with_context(|| format!("the 易支付 V2 merchant key {}", public.display()))?;
                    let (pem, _) = load_or_create_rsa(private)?;
                    let platform = danbao_rails::rsa_sha256::SigningKey::from_text(&pem)
                        .with_context(|| format!("the 易支付 V2 platform key {}", private.display()))?;
                    let public_half = rsa_public_path(private);
                    if !public_half.exists() {
                        std::fs::write(&public_half, platform.verifying_key().to_spki_pem())
                            .with_context(|| format!("writing {}", public_half.display()))?;
                    }
                    Some(danbao_sandbox::gateway::EpayV2Merchant {
                        pid: pid.clone(),
                        merchant_public_key,
                        platform_key: Some(Arc::new(platform)),
                    })
                }
                _ => None,
            };
            let wechat = match (
                wechat_mchid,
                wechat_appid,
                wechat_merchant_serial_no,
                &wechat_merchant_public_key_file,
                &wechat_platform_key_file,
                &wechat_api_v3_key_file,
            ) {
                (Some(mchid), Some(appid), Some(merchant_serial_no), Some(merchant), Some(platform), Some(v3)) => {
                    Some(standalone_wechat(
                        mchid,
                        appid,
                        merchant_serial_no,
                        merchant,
                        platform,
                        wechat_platform_serial_no,
                        v3,
                    )?)
                }
                _ => None,
            };
            let listener = tokio::net::TcpListener::bind((bind.as_str(), port)).await?;
            let addr = listener.local_addr()?;
            let cfg = danbao_sandbox::gateway::SandboxConfig {
                merchant_key: key.to_vec(),
                public_base_url: format!("http://{addr}"),
                time_scale,
                faults,
                epay: epay.clone(),
                alipay: alipay.clone(),
                epay_v2,
                wechat: wechat.clone(),
            };
            let sandbox = match &state_dir {
                Some(dir) => danbao_sandbox::gateway::Sandbox::open(cfg, dir)?,
                None => danbao_sandbox::gateway::Sandbox::new(cfg),
            };
            println!("sandbox gateway listening at http://{addr}");
            match &state_dir {
                Some(dir) => println!("  state: {}", dir.display()),
                None => {
                    println!("  state: in memory only (a restart forgets every payment; give --state-dir to keep them)")
                }
            }
            println!(
                "  merchant key: {}{}",
                merchant_key_file.display(),
                if created { " (generated now)" } else { "" }
            );
            if let (Some(m), Some(path)) = (&epay, &epay_key_file) {
                println!("  易支付: pid {} at http://{addr}/epay/, key {}", m.pid, path.display());
            }
            if let (Some(m), Some(path)) = (&alipay, &alipay_private_key_file) {
                println!(
                    "  Alipay: app {} (seller {}) at http://{addr}/alipay/gateway.do, its public key {}.pub.pem",
                    m.app_id,
                    m.seller_id,
                    path.display()
                );
            }
            if let (Some(pid), Some(private)) = (&epay2_pid, &epay2_platform_key_file) {
                println!(
                    "  易支付 V2: pid {pid} at http://{addr}/epay/api/pay/, platform public key {}",
                    rsa_public_path(private).display()
                );
            }
            if let (Some(m), Some(platform), Some(v3)) = (&wechat, &wechat_platform_key_file, &wechat_api_v3_key_file) {
                println!(
                    "  WeChat Pay: mchid {} appid {} at http://{addr}/wechat, platform key {} (public: {}.pub, serial {}), APIv3 key {}",
                    m.mchid,
                    m.appid,
                    platform.display(),
                    platform.display(),
                    m.platform_serial_no,
                    v3.display()
                );
            }
            danbao_sandbox::gateway::serve(listener, sandbox).await?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// An RSA private key (PKCS#8 PEM) kept in `path`, made now (0600, in a private
/// directory) when the file does not exist yet. Returns its text and whether it was made.
fn load_or_create_rsa(path: &std::path::Path) -> anyhow::Result<(String, bool)> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok((text, false)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let (_, pem) = danbao_rails::rsa_sha256::SigningKey::generate()
                .map_err(|e| anyhow::anyhow!("making an RSA key for {}: {e}", path.display()))?;
            if let Some(dir) = path.parent() {
                danbao_app::vault::create_private_dir(dir).with_context(|| format!("creating {}", dir.display()))?;
            }
            danbao_app::vault::create_private_file(path, pem.as_bytes())
                .with_context(|| format!("writing {}", path.display()))?;
            Ok((pem, true))
        }
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// Where the public half of an RSA private key file is written: `<file>.pub`.
fn rsa_public_path(private: &std::path::Path) -> PathBuf {
    let mut name = private.as_os_str().to_owned();
    name.push(".pub");
    PathBuf::from(name)
}

/// Parses the command line, then fills what it left unset from `serve --config FILE`.
fn parse_command_line() -> anyhow::Result<Cli> {
    use clap::{CommandFactory, FromArgMatches};
    let matches = Cli::command().get_matches();
    let mut cli = Cli::from_arg_matches(&matches)?;
    let sub = match &cli.command {
        Command::Serve(_) => matches.subcommand_matches("serve"),
        Command::Demo(_) => matches.subcommand_matches("demo"),
        _ => None,
    };
    if let (Some(sub), Command::Serve(args) | Command::Demo(args)) = (sub, &mut cli.command) {
        let (filled, log_format) = args.clone().with_config(sub)?;
        *args = filled;
        if let Some(format) = log_format {
            if config::unset(&matches, "log_format") {
                cli.log_format = format;
            }
        }
    }
    Ok(cli)
}

fn main() -> ExitCode {
    let cli = match parse_command_line() {
        Ok(cli) => cli,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    // The simulator's faults are on purpose: the warnings they cause are its noise.
    let default_filter = match cli.command {
        Command::Simulate(_) => "error",
        _ => "info,sqlx=warn,tower_http=warn",
    };
    init_logs(cli.log_format, default_filter);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords() {
        assert_eq!(redact("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact("sqlite:./data/x.db"), "sqlite:./data/x.db");
    }

    #[test]
    fn keys_live_under_the_data_dir() {
        let d = DataArgs {
            data_dir: std::path::Path::new("/tmp/x").to_path_buf(),
            database_url: None,
        };
        assert_eq!(keys_dir(&d), std::path::Path::new("/tmp/x/keys"));
    }
}
