//! Starting a whole Danbao server: used by `danbao serve`, `danbao demo` and the tests,
//! so all three run the same thing.

use anyhow::Context as _;
use danbao_app::clock::Clock;
use danbao_app::payments::{PaymentProvider, Rails, SandboxProvider};
use danbao_app::storage::Store;
use danbao_app::vault::Vault;
use danbao_app::{App, AppConfig};
use danbao_domain::RuleSet;
use danbao_rails::rsa_sha256::SigningKey;
use danbao_sandbox::gateway::{Sandbox, SandboxConfig};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// The merchant id of the in-process gateway's 易支付 personality.
pub const IN_PROCESS_EPAY_PID: &str = "1000";
/// The application id and PID of the in-process gateway's Alipay personality.
pub const IN_PROCESS_ALIPAY_APP_ID: &str = "2021000000000000";
pub const IN_PROCESS_ALIPAY_SELLER_ID: &str = "2088000000000000";

/// The two RSA keys of the in-process Alipay personality (PEM, or bare base64 DER): the
/// platform's application key (it signs requests; the gateway checks them with its public
/// half) and the gateway's own, standing for Alipay's (it signs answers and notifications;
/// the platform checks them with its public half).
pub struct InProcessAlipay {
    pub app_private_key: String,
    pub alipay_private_key: String,
}

/// The in-process gateway's WeChat Pay merchant: its numbers and key serials.
pub const IN_PROCESS_WECHAT_MCHID: &str = "1900000100";
pub const IN_PROCESS_WECHAT_APPID: &str = "wxd0a0b0a0sandbox0";
pub const IN_PROCESS_WECHAT_MERCHANT_SERIAL: &str = "3775B6A45ACD588826D15E583A95F5DD00000001";
pub const IN_PROCESS_WECHAT_PLATFORM_SERIAL: &str = "5157F09EFDC096DE15EBE81A4705700000000001";

/// The keys of the in-process gateway's WeChat Pay personality: the merchant's API key
/// (the platform signs its requests with it; the gateway checks them with its public
/// half), the platform key (the gateway signs answers and notifications; the platform
/// checks them with its public half) and the APIv3 key both sides share.
pub struct InProcessWechat {
    pub merchant_key: danbao_rails::rsa_sha256::SigningKey,
    pub platform_key: danbao_rails::rsa_sha256::SigningKey,
    pub api_v3_key: danbao_rails::wechat::ApiV3Key,
}

pub enum Gateway {
    /// The sandbox runs inside this process, mounted at /sandbox: anyone who can reach
    /// the server can "pay" any order with it (`danbao demo`, `serve --sandbox`, tests).
    /// With an admin secret, its fault knobs need `Authorization: Bearer <secret>`.
    InProcess {
        merchant_key: Vec<u8>,
        time_scale: f64,
        admin_secret: Option<String>,
        /// Where the gateway keeps its own books (a journal file, not the platform's
        /// tables), so a cashier opened before a restart can still be paid after it.
        /// None: in memory only.
        state_dir: Option<std::path::PathBuf>,
        /// The MD5 key of the gateway's 易支付 personality (merchant `pid` 1000): when
        /// given, the platform takes payments through it too, as the `epay` rail
        /// (channels alipay and wxpay) after the sandbox's own.
        epay_key: Option<String>,
        /// The keys of the gateway's Alipay personality (application `2021000000000000`):
        /// when given, the platform takes payments through it too, as the `alipay` rail
        /// (methods page, qr and wap), after the 易支付 one.
        alipay: Option<InProcessAlipay>,
        /// The keys of the gateway's 易支付 V2 (RSA) merchant, the same `pid` 1000: when
        /// given, the gateway answers the V2 API too and the platform's `epay` rail speaks
        /// V2 to it (in place of V1: an aggregator's merchant speaks one or the other).
        epay_v2: Option<InProcessEpayV2>,
        /// The keys of the gateway's WeChat Pay personality: when given, the platform
        /// takes payments through it too, as the `wechat` rail (after 易支付's).
        wechat: Option<Box<InProcessWechat>>,
    },
    /// The sandbox runs elsewhere (`danbao sandbox-gateway`).
    External { base_url: String, merchant_key: Vec<u8> },
    /// No provider is configured: checkout is refused (provider unavailable) and every
    /// notification is refused (a gateway with no key configured accepts nothing).
    None,
}

/// The private halves of the in-process 易支付 V2 merchant's two key pairs (PEM or base64
/// DER); each side derives the other's public key from them.
pub struct InProcessEpayV2 {
    /// The merchant's: the platform's adapter signs its requests with it, the gateway
    /// checks them against its public half.
    pub merchant_private_key: String,
    /// The aggregator's: the gateway signs answers and notifications with it, the adapter
    /// verifies them against its public half.
    pub platform_private_key: String,
}

pub struct ServerConfig {
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    pub vault: Vault,
    pub listener: tokio::net::TcpListener,
    /// The URL others use to reach this server; defaults to http://<bound address>.
    pub public_url: Option<String>,
    pub rules: RuleSet,
    pub gateway: Gateway,
    /// `None`: no background worker (tests run due jobs themselves).
    pub worker_interval: Option<Duration>,
    /// Where evidence attachments are kept.
    pub files_dir: Option<std::path::PathBuf>,
    /// Every cookie the pages set carries `Secure` (behind TLS). Also on when the
    /// public URL is https.
    pub secure_cookies: bool,
    /// Rate limits, the password-hashing bound, trusted proxies (`serve --limits FILE`).
    pub limits: danbao_app::limits::Limits,
    /// Real rails the operator configured (`serve --rails FILE`), after the gateway's.
    pub rails: Vec<Arc<dyn PaymentProvider>>,
    /// With a token, `/metrics` answers only requests bearing it.
    pub metrics_token: Option<String>,
}

/// How a server stops (`RunningServer::wait`).
#[derive(Debug, Clone, Copy)]
pub struct Shutdown {
    /// How long `/readyz` answers 503 before the listener closes, so that a load balancer
    /// checking it stops sending requests first.
    pub drain: Duration,
    /// How long requests in flight and the job round under way get to finish once the
    /// listener is closed. A job still running after it keeps its lease until the lease
    /// expires, and another process then runs it again.
    pub grace: Duration,
}

impl Default for Shutdown {
    fn default() -> Shutdown {
        Shutdown {
            drain: Duration::ZERO,
            grace: Duration::from_secs(30),
        }
    }
}

pub struct RunningServer {
    pub addr: SocketAddr,
    pub url: String,
    pub app: App,
    pub sandbox: Option<Sandbox>,
    shutdown: tokio::sync::watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    draining: crate::Draining,
}

impl RunningServer {
    pub async fn stop(self) {
        self.stop_within(Shutdown::default().grace).await;
    }

    /// Closes the listener, lets requests in flight and the job round under way finish
    /// (for at most `grace`), then closes the database. Returns whether everything
    /// finished in time.
    pub async fn stop_within(mut self, grace: Duration) -> bool {
        self.draining.start();
        let _ = self.shutdown.send(true);
        let tasks = std::mem::take(&mut self.tasks);
        let finished = tokio::time::timeout(grace, join_tasks(tasks)).await.is_ok();
        if !finished {
            tracing::warn!(
                grace_ms = grace.as_millis() as u64,
                "work still running at the end of the grace period; stopping anyway"
            );
        }
        self.app.store.close().await;
        finished
    }

    /// Runs until the shutdown signal (Ctrl-C or SIGTERM), then stops gracefully: not
    /// ready first (for `drain`), then no new connections, then in-flight work finishes.
    pub async fn wait(self, how: Shutdown) {
        shutdown_signal().await;
        tracing::info!(drain_ms = how.drain.as_millis() as u64, "stopping: draining");
        self.start_draining();
        tokio::time::sleep(how.drain).await;
        if self.stop_within(how.grace).await {
            tracing::info!("stopped");
        }
    }

    /// Marks the process as draining (`/readyz` answers 503) without stopping it.
    pub fn start_draining(&self) {
        self.draining.start();
    }
}

/// Waits for every task, whatever each ended with.
async fn join_tasks(tasks: Vec<tokio::task::JoinHandle<()>>) {
    for t in tasks {
        let _ = t.await;
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => {
                let _ = ctrl_c.await;
                return;
            }
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

/// Cookies are `Secure` when asked, and whenever people reach the server over https
/// (a browser would not send them back over plain http anyway).
fn page_options(secure_cookies: bool, public_url: &str) -> crate::web::WebOptions {
    crate::web::WebOptions {
        secure_cookies: secure_cookies || public_url.starts_with("https://"),
        sandbox_mounted: false,
    }
}

pub async fn start(cfg: ServerConfig) -> anyhow::Result<RunningServer> {
    let addr = cfg.listener.local_addr()?;
    let url = cfg
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{addr}"))
        .trim_end_matches('/')
        .to_string();
    let extra_rails = cfg.rails.clone();
    let (sandbox, rails) = match cfg.gateway {
        Gateway::InProcess {
            merchant_key,
            time_scale,
            admin_secret,
            state_dir,
            epay_key,
            alipay,
            epay_v2,
            wechat,
        } => {
            // Each side reads the keys for itself (a signing key is not shared).
            let alipay_keys = match &alipay {
                Some(a) => {
                    let key = |text: &str, what: &str| {
                        danbao_rails::rsa_sha256::SigningKey::from_text(text)
                            .map_err(|e| anyhow::anyhow!("the in-process Alipay {what} key: {e}"))
                    };
                    let gateway_app_public = key(&a.app_private_key, "application")?.verifying_key();
                    let gateway_key = key(&a.alipay_private_key, "gateway")?;
                    let platform_alipay_public = gateway_key.verifying_key();
                    let merchant = danbao_sandbox::gateway::AlipayMerchant {
                        app_id: IN_PROCESS_ALIPAY_APP_ID.to_string(),
                        seller_id: IN_PROCESS_ALIPAY_SELLER_ID.to_string(),
                        app_public_key: gateway_app_public,
                        alipay_key: Some(Arc::new(gateway_key)),
                    };
                    Some((
                        merchant,
                        key(&a.app_private_key, "application")?,
                        platform_alipay_public,
                    ))
                }
                None => None,
            };
            let (alipay_merchant, alipay_platform) = match alipay_keys {
                Some((merchant, app_key, alipay_public)) => (Some(merchant), Some((app_key, alipay_public))),
                None => (None, None),
            };
            let epay_v2 = match epay_v2 {
                Some(keys) => {
                    let merchant = SigningKey::from_text(&keys.merchant_private_key)
                        .context("reading the in-process 易支付 V2 merchant key")?;
                    let platform = SigningKey::from_text(&keys.platform_private_key)
                        .context("reading the in-process 易支付 V2 platform key")?;
                    Some((merchant, Arc::new(platform)))
                }
                None => None,
            };
            let (sandbox_wechat, platform_wechat) = match wechat.map(|w| *w) {
                Some(w) => {
                    let merchant = danbao_sandbox::gateway::WechatMerchant {
                        mchid: IN_PROCESS_WECHAT_MCHID.to_string(),
                        appid: IN_PROCESS_WECHAT_APPID.to_string(),
                        merchant_serial_no: IN_PROCESS_WECHAT_MERCHANT_SERIAL.to_string(),
                        merchant_public_key: w.merchant_key.verifying_key(),
                        api_v3_key: w.api_v3_key.clone(),
                        platform_serial_no: IN_PROCESS_WECHAT_PLATFORM_SERIAL.to_string(),
                        platform_key: None,
                    };
                    let platform_public = w.platform_key.verifying_key();
                    let sandbox_side = danbao_sandbox::gateway::WechatMerchant {
                        platform_key: Some(Arc::new(w.platform_key)),
                        ..merchant
                    };
                    let platform_side = danbao_app::wechat::WechatConfig {
                        api_base: format!("{url}/sandbox/wechat"),
                        mchid: IN_PROCESS_WECHAT_MCHID.to_string(),
                        appid: IN_PROCESS_WECHAT_APPID.to_string(),
                        merchant_serial_no: IN_PROCESS_WECHAT_MERCHANT_SERIAL.to_string(),
                        merchant_key: w.merchant_key,
                        platform_serial_no: IN_PROCESS_WECHAT_PLATFORM_SERIAL.to_string(),
                        platform_key: platform_public,
                        api_v3_key: w.api_v3_key,
                    };
                    (Some(sandbox_side), Some(platform_side))
                }
                None => (None, None),
            };
            let cfg = SandboxConfig {
                merchant_key: merchant_key.clone(),
                public_base_url: format!("{url}/sandbox"),
                time_scale,
                faults: Default::default(),
                epay: epay_key.clone().map(|key| danbao_sandbox::gateway::EpayMerchant {
                    pid: IN_PROCESS_EPAY_PID.to_string(),
                    key,
                }),
                alipay: alipay_merchant,
                epay_v2: epay_v2
                    .as_ref()
                    .map(|(merchant, platform)| danbao_sandbox::gateway::EpayV2Merchant {
                        pid: IN_PROCESS_EPAY_PID.to_string(),
                        merchant_public_key: merchant.verifying_key(),
                        platform_key: Some(platform.clone()),
                    }),
                wechat: sandbox_wechat,
            };
            let sb = match state_dir {
                Some(dir) => Sandbox::open(cfg, &dir)?,
                None => Sandbox::new(cfg),
            };
            if let Some(secret) = admin_secret {
                sb.require_admin_secret(secret);
            }
            let provider: Arc<dyn PaymentProvider> =
                Arc::new(SandboxProvider::new(&format!("{url}/sandbox"), merchant_key));
            let mut rails = vec![provider];
            rails.extend(extra_rails.iter().cloned());
            let channels = ["alipay".to_string(), "wxpay".to_string()];
            match (epay_v2, epay_key) {
                (Some((merchant, platform)), _) => {
                    rails.push(Arc::new(danbao_app::epay_v2::EpayV2Provider::new(
                        &format!("{url}/sandbox/epay/"),
                        IN_PROCESS_EPAY_PID,
                        merchant,
                        platform.verifying_key(),
                        &channels,
                    )?));
                }
                (None, Some(key)) => {
                    rails.push(Arc::new(danbao_app::epay::EpayProvider::new(
                        &format!("{url}/sandbox/epay/"),
                        IN_PROCESS_EPAY_PID,
                        &key,
                        &channels,
                    )?));
                }
                (None, None) => {}
            }
            if let Some((app_key, alipay_public)) = alipay_platform {
                let methods = ["page".to_string(), "qr".to_string(), "wap".to_string()];
                rails.push(Arc::new(danbao_app::alipay::AlipayProvider::new(
                    &format!("{url}/sandbox/alipay/gateway.do"),
                    IN_PROCESS_ALIPAY_APP_ID,
                    IN_PROCESS_ALIPAY_SELLER_ID,
                    app_key,
                    alipay_public,
                    &methods,
                )?));
            }
            if let Some(cfg) = platform_wechat {
                rails.push(Arc::new(danbao_app::wechat::WechatProvider::new(cfg)?));
            }
            (Some(sb), Rails::new(rails)?)
        }
        Gateway::External { base_url, merchant_key } => {
            let provider: Arc<dyn PaymentProvider> = Arc::new(SandboxProvider::new(&base_url, merchant_key));
            let mut rails = vec![provider];
            rails.extend(extra_rails.iter().cloned());
            (None, Rails::new(rails)?)
        }
        Gateway::None => (None, Rails::new(extra_rails)?),
    };
    let app = App::start(
        cfg.store,
        cfg.clock,
        cfg.vault,
        rails,
        AppConfig {
            public_url: url.clone(),
            files_dir: cfg.files_dir,
            limits: cfg.limits,
        },
        cfg.rules,
    )
    .await?;
    let draining = crate::Draining::default();
    let router = crate::router_with(app.clone(), sandbox.clone(), page_options(cfg.secure_cookies, &url))
        .layer(axum::Extension(draining.clone()))
        .layer(axum::Extension(crate::MetricsAccess(cfg.metrics_token.clone())));
    let (tx, rx) = tokio::sync::watch::channel(false);
    let mut tasks = Vec::new();
    let mut http_rx = rx.clone();
    tasks.push(tokio::spawn(async move {
        let shutdown = async move {
            let _ = http_rx.changed().await;
        };
        // With each connection's peer address: the rate limits and hoarding caps key on it.
        let service = router.into_make_service_with_connect_info::<SocketAddr>();
        if let Err(e) = axum::serve(cfg.listener, service)
            .with_graceful_shutdown(shutdown)
            .await
        {
            tracing::error!(error = %e, "http server stopped");
        }
    }));
    if let Some(interval) = cfg.worker_interval {
        let worker_app = app.clone();
        let worker_rx = rx.clone();
        tasks.push(tokio::spawn(
            async move { worker_app.run_worker(interval, worker_rx).await },
        ));
    }
    Ok(RunningServer {
        addr,
        url,
        app,
        sandbox,
        shutdown: tx,
        tasks,
        draining,
    })
}

#[cfg(test)]
mod tests {
    use super::page_options;

    #[test]
    fn cookies_are_secure_when_asked_or_behind_https() {
        assert!(!page_options(false, "http://127.0.0.1:8080").secure_cookies);
        assert!(page_options(true, "http://127.0.0.1:8080").secure_cookies);
        assert!(page_options(false, "https://shop.example").secure_cookies);
    }
}
