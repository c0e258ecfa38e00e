//! The processes phase: the sandbox gateway and the platform server as child processes of
//! this executable, started, killed with SIGKILL and restarted, and always cleaned up.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use danbao_sandbox::client::SandboxClient;
use reqwest::StatusCode;
use tokio::process::Child;

use super::{lock, ChaosArgs, READY_POLL_MS, READY_TIMEOUT_MS};
use crate::child::child_command;

#[derive(Default)]
pub(super) struct Children {
    pub(super) sandbox: Option<Child>,
    /// One slot per platform server (`--servers`), empty while it is down.
    pub(super) servers: Vec<Option<Child>>,
}

impl Children {
    fn all(&mut self) -> impl Iterator<Item = &mut Child> {
        self.sandbox.iter_mut().chain(self.servers.iter_mut().flatten())
    }
}

/// Kills every child however `run_in` ends, an early `?` included.
pub(super) struct ChildGuard(Arc<Mutex<Children>>);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        for child in lock(&self.0).all() {
            let _ = child.start_kill();
        }
    }
}

/// Kills every child and waits for them, so that none is left behind as a zombie.
pub(super) async fn shutdown(children: &Mutex<Children>) {
    let taken: Vec<Child> = {
        let mut c = lock(children);
        let mut taken: Vec<Child> = c.sandbox.take().into_iter().collect();
        taken.extend(c.servers.iter_mut().filter_map(Option::take));
        taken
    };
    for mut child in taken {
        let _ = child.start_kill();
        let _ = child.wait().await;
    }
}

/// How to start the platform servers, again and again.
pub(super) struct Platform {
    pub(super) exe: PathBuf,
    pub(super) dir: PathBuf,
    /// Each server's arguments and its own URL (its readiness is checked there).
    pub(super) servers: Vec<(Vec<String>, String)>,
    /// Where the buyers and the gateway reach the platform: the one server, or the load
    /// balancer in front of several (`--front`).
    pub(super) base_url: String,
    pub(super) children: Arc<Mutex<Children>>,
    pub(super) starts: AtomicUsize,
    /// Bumped at every start: a request that got no answer from an earlier generation
    /// reached a process that is now dead.
    pub(super) generation: AtomicU64,
    pub(super) kills: AtomicUsize,
}

impl Platform {
    pub(super) fn start(&self, i: usize) -> anyhow::Result<()> {
        let (args, _) = self.servers.get(i).context("no such server")?;
        let n = self.starts.fetch_add(1, Ordering::SeqCst) + 1;
        let log = self.dir.join(format!("server-{n}.log"));
        let child = child_command(&self.exe, args, &log)?
            .spawn()
            .context("starting the platform server")?;
        self.generation.fetch_add(1, Ordering::SeqCst);
        let mut children = lock(&self.children);
        if children.servers.len() <= i {
            children.servers.resize_with(i + 1, || None);
        }
        children.servers[i] = Some(child);
        Ok(())
    }

    pub(super) async fn wait_ready(&self, i: usize, http: &reqwest::Client) -> anyhow::Result<()> {
        let (_, own_url) = self.servers.get(i).context("no such server")?;
        let url = format!("{own_url}/readyz");
        wait_until_ok(http, &url, || {
            lock(&self.children)
                .servers
                .get_mut(i)
                .and_then(Option::as_mut)
                .and_then(|c| c.try_wait().ok().flatten())
                .map(|status| format!("server {i} exited ({status}); see {}", self.dir.display()))
        })
        .await
        .context("waiting for the platform server to be ready")
    }

    /// SIGKILL (what `start_kill` sends on Unix) to server `i`, and wait for it to be gone.
    pub(super) async fn kill(&self, i: usize) -> anyhow::Result<()> {
        let child = lock(&self.children).servers.get_mut(i).and_then(Option::take);
        if let Some(mut child) = child {
            child.start_kill().context("killing the platform server")?;
            child.wait().await.context("waiting for the killed server")?;
            self.kills.fetch_add(1, Ordering::SeqCst);
        }
        Ok(())
    }
}

/// Polls `url` until it answers 200; `exited` reports a child that died meanwhile.
pub(super) async fn wait_until_ok(
    http: &reqwest::Client,
    url: &str,
    exited: impl Fn() -> Option<String>,
) -> anyhow::Result<()> {
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

pub(super) fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(listener.local_addr()?.port())
}

/// The default rule set with the active-query schedule shortened to seconds, and the caps
/// on stock held unpaid per buyer lifted: the run's buyers each hold many unpaid orders of
/// one product at once, on purpose. Risk control only warns: a run's buyers order from one
/// new shop as fast as they can, and an order held for a second confirmation has no
/// payment to lose. A rule set without those settings is an error: the run would silently
/// test the slow schedule (or be refused by the caps).
pub(super) fn chaos_rules() -> anyhow::Result<String> {
    let mut text = danbao_domain::rules::DEFAULT_RULES_TOML.to_string();
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
        (
            "unpaid_units_per_buyer_max = 20",
            "unpaid_units_per_buyer_max = 1000000",
            "limits.unpaid_units_per_buyer_max",
        ),
        (
            "unpaid_share_of_stock_bps = 5000",
            "unpaid_share_of_stock_bps = 10000",
            "limits.unpaid_share_of_stock_bps",
        ),
        // The chaos shops list without a security deposit: the run is about payments.
        ("required_minor = 50000", "required_minor = 0", "deposit.required_minor"),
        (
            "volume_share_bps = 500",
            "volume_share_bps = 0",
            "deposit.volume_share_bps",
        ),
        ("step_up_score = 50", "step_up_score = 100000", "risk.step_up_score"),
        ("block_score = 100\n", "block_score = 100000\n", "risk.block_score"),
    ] {
        if !text.contains(from) {
            bail!("the default rule set has no `{from}` ({name}): the chaos rules cannot shorten it");
        }
        text = text.replace(from, to);
    }
    Ok(text)
}

/// The server limits of a chaos run: every buyer task sends from 127.0.0.1 as fast as it
/// can, so the rates per address and account and the stock held per address are lifted,
/// explicitly, here (the server exempts no address by itself). The hashing bound stays.
pub(super) fn chaos_limits() -> String {
    let mut text = String::from("unpaid_units_per_address_max = 1000000\n");
    for action in ["login", "register", "checkout", "lookup"] {
        for scope in ["per_address", "per_account"] {
            text.push_str(&format!("[{action}.{scope}]\nburst = 1000000\nper_hour = 1000000\n"));
        }
    }
    text
}

/// Both children up and answering. The server is started again and again through
/// `platform`; `guard` kills both however the run ends, an early `?` included.
pub(super) struct Processes {
    pub(super) children: Arc<Mutex<Children>>,
    pub(super) guard: ChildGuard,
    pub(super) rail: super::rail::Rail,
    pub(super) platform: Platform,
    /// `--data-dir` (and `--database-url`) for offline commands on the run's data.
    pub(super) data_args: Vec<String>,
}

/// Writes the merchant key both children read and the chaos rule set, then starts the
/// sandbox gateway and the platform server and waits until each answers.
pub(super) async fn start(
    args: &ChaosArgs,
    run_id: &str,
    dir: &Path,
    exe: &Path,
    http: &reqwest::Client,
) -> anyhow::Result<Processes> {
    // The merchant key both children read.
    let key_path = dir.join("keys").join("sandbox-merchant.key");
    let (merchant_key, _) = danbao_app::vault::load_or_create(&key_path).context("creating the merchant key")?;
    let rules = chaos_rules()?;
    let rules_path = dir.join("chaos-rules.toml");
    std::fs::write(&rules_path, rules).with_context(|| format!("writing {}", rules_path.display()))?;
    let limits_path = dir.join("chaos-limits.toml");
    std::fs::write(&limits_path, chaos_limits()).with_context(|| format!("writing {}", limits_path.display()))?;

    let children = Arc::new(Mutex::new(Children::default()));
    let guard = ChildGuard(children.clone());

    // 1. The sandbox gateway.
    let sandbox_port = free_port()?;
    let sandbox_url = format!("http://127.0.0.1:{sandbox_port}");
    // The rail's merchant: keys made now, the gateway's flags, the platform's rails file.
    let rail_setup = args.provider.setup(&dir.join("keys"), &sandbox_url)?;
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
    .chain(rail_setup.sandbox_args.iter().cloned())
    .collect();
    let child = child_command(exe, &sandbox_args, &dir.join("sandbox.log"))?
        .spawn()
        .context("starting the sandbox gateway")?;
    lock(&children).sandbox = Some(child);
    eprintln!("chaos run {run_id}: sandbox gateway at {sandbox_url}");
    wait_until_ok(http, &format!("{sandbox_url}/admin/faults"), || {
        lock(&children)
            .sandbox
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
            .map(|status| format!("the sandbox gateway exited ({status})"))
    })
    .await
    .context("waiting for the sandbox gateway")?;
    let sandbox = SandboxClient::new(sandbox_url.clone(), merchant_key.to_vec());

    // 2. The platform servers: one on a free port, or `--servers` on `--server-ports`
    // behind the load balancer at `--front`.
    let ports: Vec<u16> = if args.server_ports.is_empty() {
        (0..args.servers).map(|_| free_port()).collect::<anyhow::Result<_>>()?
    } else {
        args.server_ports.clone()
    };
    let front = match &args.front {
        Some(url) => url.trim_end_matches('/').to_string(),
        None => format!("http://127.0.0.1:{}", ports[0]),
    };
    let mut common: Vec<String> = vec![
        "--data-dir".into(),
        dir.display().to_string(),
        "--sandbox-url".into(),
        sandbox_url.clone(),
        "--rules".into(),
        rules_path.display().to_string(),
        "--limits".into(),
        limits_path.display().to_string(),
        // Notifications and return links go to the front, whichever server made the order.
        "--public-url".into(),
        front.clone(),
    ];
    if args.front.is_some() {
        // The load balancer's address is the peer now: believe its X-Forwarded-For.
        common.extend(["--trusted-proxy".to_string(), "127.0.0.1".to_string()]);
    }
    let rails_path = match &rail_setup.rails_file {
        Some(rails) => {
            let path = dir.join("rails.toml");
            std::fs::write(&path, rails).with_context(|| format!("writing {}", path.display()))?;
            common.extend(["--rails".to_string(), path.display().to_string()]);
            Some(path)
        }
        None => None,
    };
    let mut data_args = vec!["--data-dir".to_string(), dir.display().to_string()];
    if let Some(url) = &args.database {
        common.extend(["--database-url".to_string(), url.clone()]);
        data_args.extend(["--database-url".to_string(), url.clone()]);
    }
    let servers = ports
        .iter()
        .map(|port| {
            let mut a: Vec<String> = vec![
                "serve".into(),
                "--port".into(),
                port.to_string(),
                "--bind".into(),
                "127.0.0.1".into(),
            ];
            a.extend(common.iter().cloned());
            (a, format!("http://127.0.0.1:{port}"))
        })
        .collect::<Vec<_>>();
    let platform = Platform {
        exe: exe.to_path_buf(),
        dir: dir.to_path_buf(),
        servers,
        base_url: front,
        children: children.clone(),
        starts: AtomicUsize::new(0),
        generation: AtomicU64::new(0),
        kills: AtomicUsize::new(0),
    };
    // The first alone (it migrates a new database), then the others.
    platform.start(0)?;
    platform.wait_ready(0, http).await?;
    for i in 1..platform.servers.len() {
        platform.start(i)?;
    }
    for i in 1..platform.servers.len() {
        platform.wait_ready(i, http).await?;
    }
    if args.front.is_some() {
        wait_until_ok(http, &format!("{}/readyz", platform.base_url), || None)
            .await
            .context("waiting for the load balancer to route to a ready server")?;
    }
    eprintln!(
        "chaos run {run_id}: {} platform server(s) at {}",
        platform.servers.len(),
        platform.base_url
    );
    Ok(Processes {
        children,
        guard,
        rail: super::rail::Rail::new(args.provider, sandbox, rails_path.as_deref())?,
        platform,
        data_args,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chaos_settings_lift_the_limits_they_must() {
        let limits = danbao_app::limits::Limits::parse(&chaos_limits()).unwrap_or_else(|e| panic!("{e}"));
        for rates in [limits.login, limits.register, limits.checkout, limits.lookup] {
            assert_eq!(rates.per_address.burst, 1_000_000);
            assert_eq!(rates.per_account.burst, 1_000_000);
        }
        assert_eq!(limits.unpaid_units_per_address_max, 1_000_000);
        let rules = danbao_domain::RuleSet::parse(&chaos_rules().unwrap_or_else(|e| panic!("{e}")))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(rules.limits.unpaid_share_of_stock_bps, 10_000);
        assert_eq!(rules.payments.active_query_schedule_seconds, vec![2, 5, 10]);
        assert_eq!((rules.risk.step_up_score, rules.risk.block_score), (100_000, 100_000));
    }
}
