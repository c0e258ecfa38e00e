//! The rail a chaos run takes its payments through, seen from outside as a buyer and an
//! auditor see it: how a buyer gets from the platform's cashier address to the gateway's
//! Pay button, and what the gateway's own books say was paid (its statement). The run's
//! checks are the same on every rail; only these two differ.
//!
//! - `sandbox`: the sandbox's own protocol. The payment id is the gateway's; the
//!   statement is its signed merchant API.
//! - any other: one of the sandbox's protocol personalities, the platform configured
//!   with a rails file as an operator would. The buyer follows the cashier address (for
//!   易支付 a page jump: `submit.php`, a 302 to the cashier); the statement is the rail's
//!   own (易支付: `api.php?act=orders`), read through the same rails file.

use std::time::{Duration, Instant};

use std::path::Path;
use std::sync::Arc;

use anyhow::{bail, Context};
use danbao_app::payments::{PaymentProvider, ProviderError};
use danbao_app::rails_file::RailsFile;
use danbao_rails::rsa_sha256::SigningKey;
use danbao_sandbox::client::SandboxClient;
use reqwest::StatusCode;
use time::OffsetDateTime;

use super::{backoff, rfc3339, HTTP_TIMEOUT_MS};

/// The 易支付 merchant id the run's gateway and platform share.
pub(super) const EPAY_PID: &str = "1000";
/// The 易支付 channel the run's buyers choose (the method `epay_alipay`).
const EPAY_CHANNEL: &str = "alipay";
/// A page jump or a statement is retried this long while the gateway is unreachable.
const JUMP_TIMEOUT_MS: u64 = 30_000;

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChaosProvider {
    Sandbox,
    Epay,
    Alipay,
    Wechat,
}

/// What a rail adds to the two processes: the gateway's flags for its merchant, and the
/// platform's rails file (none for the sandbox's own protocol).
pub(super) struct RailSetup {
    pub(super) sandbox_args: Vec<String>,
    pub(super) rails_file: Option<String>,
}

/// The merchant numbers the run's gateway and platform share.
const ALIPAY_APP_ID: &str = "2021000000000042";
const ALIPAY_SELLER_ID: &str = "2088000000000042";
const WECHAT_MCHID: &str = "1900000042";
const WECHAT_APPID: &str = "wxd0a0b0a0chaos042";
const WECHAT_MERCHANT_SERIAL: &str = "3775B6A45ACD588826D15E583A95F5DD00000042";
const WECHAT_PLATFORM_SERIAL: &str = "5157F09EFDC096DE15EBE81A4705700000000042";

impl ChaosProvider {
    /// The platform's name of the rail (its account `provider:{name}`, its routes).
    pub(super) fn name(self) -> &'static str {
        match self {
            ChaosProvider::Sandbox => "sandbox",
            ChaosProvider::Epay => "epay",
            ChaosProvider::Alipay => "alipay",
            ChaosProvider::Wechat => "wechat",
        }
    }

    /// The `payment_method` the run's buyers choose at checkout; none: the default.
    /// Alipay by QR code: its checkout calls the gateway (precreate), so the outage
    /// reaches checkout too.
    pub(super) fn payment_method(self) -> Option<String> {
        match self {
            ChaosProvider::Sandbox => None,
            ChaosProvider::Epay => Some(format!("epay_{EPAY_CHANNEL}")),
            ChaosProvider::Alipay => Some("alipay_qr".to_string()),
            ChaosProvider::Wechat => Some("wechat_native".to_string()),
        }
    }

    /// The keys of the run (made now, in `keys`), the gateway's flags and the rails file
    /// naming them, as an operator would write it for the gateway at `sandbox_url`.
    pub(super) fn setup(self, keys: &Path, sandbox_url: &str) -> anyhow::Result<RailSetup> {
        let path = |name: &str| keys.join(name).display().to_string();
        let quoted = |name: &str| format!("{:?}", path(name));
        // A merchant's RSA key pair: the private half for the platform, the public half
        // for the gateway.
        let merchant_pair = |name: &str| -> anyhow::Result<()> {
            let (key, pem) = SigningKey::generate().map_err(|e| anyhow::anyhow!("making a key: {e}"))?;
            std::fs::write(keys.join(format!("{name}.pem")), pem).context("writing a key")?;
            std::fs::write(keys.join(format!("{name}.pub.pem")), key.verifying_key().to_spki_pem())
                .context("writing a key")?;
            Ok(())
        };
        let args = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<String>>();
        Ok(match self {
            ChaosProvider::Sandbox => RailSetup {
                sandbox_args: Vec::new(),
                rails_file: None,
            },
            ChaosProvider::Epay => {
                danbao_app::vault::load_or_create(&keys.join("epay.key")).context("creating the 易支付 key")?;
                RailSetup {
                    sandbox_args: args(&["--epay-pid", EPAY_PID, "--epay-key-file", &path("epay.key")]),
                    rails_file: Some(format!(
                        "[[epay]]\nbase_url = \"{sandbox_url}/epay/\"\npid = \"{EPAY_PID}\"\nkey_file = {}\nchannels = [\"{EPAY_CHANNEL}\"]\n",
                        quoted("epay.key")
                    )),
                }
            }
            ChaosProvider::Alipay => {
                merchant_pair("alipay-app")?;
                RailSetup {
                    // The gateway makes its own key and writes its public half beside it.
                    sandbox_args: args(&[
                        "--alipay-app-id",
                        ALIPAY_APP_ID,
                        "--alipay-seller-id",
                        ALIPAY_SELLER_ID,
                        "--alipay-app-public-key-file",
                        &path("alipay-app.pub.pem"),
                        "--alipay-private-key-file",
                        &path("alipay-gateway.pem"),
                    ]),
                    rails_file: Some(format!(
                        "[alipay]\ngateway_url = \"{sandbox_url}/alipay/gateway.do\"\napp_id = \"{ALIPAY_APP_ID}\"\nseller_id = \"{ALIPAY_SELLER_ID}\"\napp_private_key_file = {}\nalipay_public_key_file = {}\nmethods = [\"qr\"]\n",
                        quoted("alipay-app.pem"),
                        quoted("alipay-gateway.pem.pub.pem")
                    )),
                }
            }
            ChaosProvider::Wechat => {
                merchant_pair("wechat-merchant")?;
                RailSetup {
                    // The gateway makes its platform key (public half: `<file>.pub`) and
                    // the APIv3 key both sides share.
                    sandbox_args: args(&[
                        "--wechat-mchid",
                        WECHAT_MCHID,
                        "--wechat-appid",
                        WECHAT_APPID,
                        "--wechat-merchant-serial-no",
                        WECHAT_MERCHANT_SERIAL,
                        "--wechat-merchant-public-key-file",
                        &path("wechat-merchant.pub.pem"),
                        "--wechat-platform-key-file",
                        &path("wechat-platform.pem"),
                        "--wechat-platform-serial-no",
                        WECHAT_PLATFORM_SERIAL,
                        "--wechat-api-v3-key-file",
                        &path("wechat-v3.key"),
                    ]),
                    rails_file: Some(format!(
                        "[wechat]\napi_base = \"{sandbox_url}/wechat\"\nmchid = \"{WECHAT_MCHID}\"\nappid = \"{WECHAT_APPID}\"\nmerchant_serial_no = \"{WECHAT_MERCHANT_SERIAL}\"\nmerchant_private_key_file = {}\nplatform_public_key_file = {}\nplatform_serial_no = \"{WECHAT_PLATFORM_SERIAL}\"\napi_v3_key_file = {}\n",
                        quoted("wechat-merchant.pem"),
                        quoted("wechat-platform.pem.pub"),
                        quoted("wechat-v3.key")
                    )),
                }
            }
        })
    }
}

/// One payment as the gateway's books list it.
pub(super) struct StatementLine {
    /// The provider payment id the platform knows the payment by.
    pub(super) payment_id: String,
    pub(super) trade_no: String,
    /// RFC 3339, when the statement says (a rail's statement may give no time: the
    /// gateway's own view of the payment then does).
    pub(super) paid_at: Option<String>,
}

pub(super) enum Rail {
    Sandbox(SandboxClient),
    /// A rail the platform takes from its rails file, read here as the operator's
    /// reconciliation reads it: the same file, the rail's own statement API.
    Configured {
        sandbox: SandboxClient,
        provider: Arc<dyn PaymentProvider>,
        /// Follows no redirect: a page jump's `Location` is where the buyer's browser
        /// would go.
        http: reqwest::Client,
    },
}

impl Rail {
    pub(super) fn new(
        provider: ChaosProvider,
        sandbox: SandboxClient,
        rails_file: Option<&Path>,
    ) -> anyhow::Result<Rail> {
        let Some(path) = rails_file.filter(|_| provider != ChaosProvider::Sandbox) else {
            return Ok(Rail::Sandbox(sandbox));
        };
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let rails = RailsFile::parse(&text)
            .and_then(|f| f.build())
            .map_err(|e| anyhow::anyhow!("the run's rails file: {e}"))?;
        let provider = rails
            .into_iter()
            .find(|r| r.name() == provider.name())
            .with_context(|| format!("the run's rails file has no {} rail", provider.name()))?;
        Ok(Rail::Configured {
            sandbox,
            provider,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_millis(HTTP_TIMEOUT_MS))
                .build()
                .context("building the page-jump client")?,
        })
    }

    /// The gateway's knobs and its buyer-side pages, whatever the rail.
    pub(super) fn sandbox(&self) -> &SandboxClient {
        match self {
            Rail::Sandbox(s) | Rail::Configured { sandbox: s, .. } => s,
        }
    }

    /// The gateway's own id of a payment the platform opened (`payment_id`, shown at
    /// `cashier_url`): the cashier page the buyer's browser lands on, directly or after a
    /// page jump (a signed GET the gateway answers with a 302). `None` if the gateway
    /// never opened it.
    pub(super) async fn gateway_id(&self, payment_id: &str, cashier_url: &str) -> Option<String> {
        let http = match self {
            Rail::Sandbox(_) => return Some(payment_id.to_string()),
            Rail::Configured { http, .. } => http,
        };
        let cashier = |url: &str| url.rsplit_once("/cashier/").map(|(_, id)| id.to_string());
        if let Some(id) = cashier(cashier_url) {
            return Some(id);
        }
        // A WeChat payment code: the sandbox's code is its payment id (a scan opens its
        // cashier).
        if let Some(code) = cashier_url.strip_prefix(danbao_sandbox::wire::WECHAT_CODE_URL_PREFIX) {
            return Some(code.to_string());
        }
        let deadline = Instant::now() + Duration::from_millis(JUMP_TIMEOUT_MS);
        while Instant::now() < deadline {
            match http.get(cashier_url).send().await {
                Ok(resp) if resp.status() == StatusCode::FOUND => {
                    let location = resp.headers().get(reqwest::header::LOCATION)?.to_str().ok()?;
                    return cashier(location);
                }
                Ok(resp) if !resp.status().is_server_error() => return None,
                _ => backoff().await,
            }
        }
        None
    }

    /// Every payment the gateway's books list as paid in [from, to).
    pub(super) async fn statement(
        &self,
        from: OffsetDateTime,
        to: OffsetDateTime,
    ) -> anyhow::Result<Vec<StatementLine>> {
        match self {
            Rail::Sandbox(s) => Ok(s
                .statement(&rfc3339(from), &rfc3339(to))
                .await
                .context("fetching the sandbox statement")?
                .into_iter()
                .map(|n| StatementLine {
                    payment_id: n.payment_id,
                    trade_no: n.trade_no,
                    paid_at: Some(n.paid_at),
                })
                .collect()),
            Rail::Configured { provider, .. } => {
                let ms = |t: OffsetDateTime| i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX);
                let deadline = Instant::now() + Duration::from_millis(JUMP_TIMEOUT_MS);
                loop {
                    match provider.statement(ms(from), ms(to)).await {
                        Ok(lines) => {
                            return Ok(lines
                                .into_iter()
                                .map(|v| StatementLine {
                                    payment_id: v.provider_payment_id,
                                    trade_no: v.provider_txn_id,
                                    paid_at: None,
                                })
                                .collect())
                        }
                        Err(ProviderError::Unavailable(_)) if Instant::now() < deadline => backoff().await,
                        Err(e) => bail!("the {} statement: {e}", provider.name()),
                    }
                }
            }
        }
    }
}
