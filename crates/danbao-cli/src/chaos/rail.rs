//! The rail a chaos run takes its payments through, seen from outside as a buyer and an
//! auditor see it: how a buyer gets from the platform's cashier address to the gateway's
//! Pay button, and what the gateway's own books say was paid (its statement). The run's
//! checks are the same on every rail; only these two differ.
//!
//! - `sandbox`: the sandbox's own protocol. The payment id is the gateway's; the
//!   statement is its signed merchant API.
//! - `epay`: the sandbox's 易支付 personality, the platform configured with a rails file
//!   as an operator would. The buyer follows the page jump (`submit.php`, a 302 to the
//!   cashier); the statement is `api.php?act=orders`, read with the merchant's key.

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use danbao_rails::epay;
use danbao_sandbox::client::SandboxClient;
use reqwest::StatusCode;
use time::OffsetDateTime;

use super::{backoff, rfc3339, HTTP_TIMEOUT_MS};

/// The 易支付 merchant id the run's gateway and platform share.
pub(super) const EPAY_PID: &str = "1000";
/// The 易支付 channel the run's buyers choose (the method `epay_alipay`).
const EPAY_CHANNEL: &str = "alipay";
/// Orders per page of `act=orders` (the personality's maximum).
const EPAY_ORDERS_PAGE: u32 = 50;
/// A page jump is retried this long (the platform's cashier address is the gateway's).
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
    /// RFC 3339.
    pub(super) paid_at: String,
}

pub(super) enum Rail {
    Sandbox(SandboxClient),
    Epay {
        sandbox: SandboxClient,
        /// Follows no redirect: the page jump's `Location` is what the buyer's browser
        /// would go to.
        http: reqwest::Client,
        base: String,
        key: String,
    },
}

impl Rail {
    pub(super) fn new(provider: ChaosProvider, sandbox: SandboxClient, epay_key: String) -> anyhow::Result<Rail> {
        Ok(match provider {
            ChaosProvider::Sandbox => Rail::Sandbox(sandbox),
            ChaosProvider::Epay => Rail::Epay {
                base: format!("{}/epay/", sandbox.base_url()),
                sandbox,
                http: reqwest::Client::builder()
                    .redirect(reqwest::redirect::Policy::none())
                    .timeout(Duration::from_millis(HTTP_TIMEOUT_MS))
                    .build()
                    .context("building the page-jump client")?,
                key: epay_key,
            },
        })
    }

    /// The gateway's knobs and its buyer-side pages, whatever the rail.
    pub(super) fn sandbox(&self) -> &SandboxClient {
        match self {
            Rail::Sandbox(s) | Rail::Epay { sandbox: s, .. } => s,
        }
    }

    /// The gateway's own id of a payment the platform opened (`payment_id`, shown at
    /// `cashier_url`): what the buyer's browser lands on. `None` if the gateway never
    /// opened it.
    pub(super) async fn gateway_id(&self, payment_id: &str, cashier_url: &str) -> Option<String> {
        let (http, base) = match self {
            Rail::Sandbox(_) => return Some(payment_id.to_string()),
            Rail::Epay { http, base, .. } => (http, base),
        };
        if !cashier_url.starts_with(base.as_str()) {
            return None;
        }
        let deadline = Instant::now() + Duration::from_millis(JUMP_TIMEOUT_MS);
        while Instant::now() < deadline {
            match http.get(cashier_url).send().await {
                Ok(resp) if resp.status() == StatusCode::FOUND => {
                    let location = resp.headers().get(reqwest::header::LOCATION)?.to_str().ok()?;
                    return location.rsplit_once("/cashier/").map(|(_, id)| id.to_string());
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
                    paid_at: n.paid_at,
                })
                .collect()),
            Rail::Epay { http, base, key, .. } => epay_statement(http, base, key, from, to).await,
        }
    }
}

/// `act=orders`, page by page (newest first) until a page reaches before `from` or is
/// short. A refunded order is listed too: it was paid.
async fn epay_statement(
    http: &reqwest::Client,
    base: &str,
    key: &str,
    from: OffsetDateTime,
    to: OffsetDateTime,
) -> anyhow::Result<Vec<StatementLine>> {
    let ms = |t: OffsetDateTime| i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX);
    let (from_ms, to_ms) = (ms(from), ms(to));
    let mut lines = Vec::new();
    for page in 1.. {
        let url = epay::orders_url(base, EPAY_PID, key, EPAY_ORDERS_PAGE, page);
        let answer: epay::OrdersAnswer = get_json(http, &url).await?;
        let mut older = false;
        for (n, endtime) in answer
            .paid(EPAY_PID)
            .map_err(|e| anyhow::anyhow!("the 易支付 order list: {e}"))?
        {
            let at = danbao_app::epay::china_time_ms(&endtime)
                .with_context(|| format!("the 易支付 endtime {endtime:?} is no time"))?;
            if at < from_ms {
                older = true;
            } else if at < to_ms {
                let paid_at = OffsetDateTime::from_unix_timestamp_nanos(i128::from(at) * 1_000_000)
                    .context("an endtime out of range")?;
                lines.push(StatementLine {
                    payment_id: n.out_trade_no,
                    trade_no: n.trade_no,
                    paid_at: rfc3339(paid_at),
                });
            }
        }
        if older || answer.data.len() < EPAY_ORDERS_PAGE as usize {
            break;
        }
    }
    Ok(lines)
}

async fn get_json<T: serde::de::DeserializeOwned>(http: &reqwest::Client, url: &str) -> anyhow::Result<T> {
    let deadline = Instant::now() + Duration::from_millis(JUMP_TIMEOUT_MS);
    loop {
        match http.get(url).send().await {
            Ok(resp) if resp.status().is_success() => {
                return resp.json().await.context("reading the 易支付 answer");
            }
            Ok(resp) if !resp.status().is_server_error() => bail!("the 易支付 API answered {}", resp.status()),
            _ if Instant::now() < deadline => backoff().await,
            Ok(resp) => bail!("the 易支付 API answered {}", resp.status()),
            Err(e) => return Err(e).context("calling the 易支付 API"),
        }
    }
}
