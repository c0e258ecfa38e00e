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
}

impl ChaosProvider {
    /// The platform's name of the rail (its account `provider:{name}`, its routes).
    pub(super) fn name(self) -> &'static str {
        match self {
            ChaosProvider::Sandbox => "sandbox",
            ChaosProvider::Epay => "epay",
        }
    }

    /// The `payment_method` the run's buyers choose at checkout; none: the default.
    pub(super) fn payment_method(self) -> Option<String> {
        match self {
            ChaosProvider::Sandbox => None,
            ChaosProvider::Epay => Some(format!("epay_{EPAY_CHANNEL}")),
        }
    }

    /// The rails file the platform is started with, if this rail needs one.
    pub(super) fn rails_file(self, sandbox_url: &str, epay_key_file: &std::path::Path) -> Option<String> {
        match self {
            ChaosProvider::Sandbox => None,
            ChaosProvider::Epay => Some(format!(
                "[[epay]]\nbase_url = \"{sandbox_url}/epay/\"\npid = \"{EPAY_PID}\"\nkey_file = {:?}\nchannels = [\"{EPAY_CHANNEL}\"]\n",
                epay_key_file.display().to_string()
            )),
        }
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
