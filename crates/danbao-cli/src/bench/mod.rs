//! `danbao bench`: measurements that say what they measured and against what.
//!
//! - [`evidence`]: the evidence log's appends per second and proof times as it grows.
//! - [`orders`]: paid orders per second through the real server over HTTP, against a raw
//!   baseline of the same durable writes done straight through the database ([`raw`]),
//!   and how per-order latency grows with the number of orders already stored
//!   ([`seed`] fills the real tables in bulk).
//! - [`jobs`]: the job queue working through the active-query schedule (补单) of many
//!   open orders at once: jobs per second and how late the queue ran.
//! - [`liabilities`]: the proof of liabilities' sum tree at N balances: build time, proof
//!   size, offline verify time.
//!
//! Every figure is printed beside a baseline of the same run (these machines are noisy),
//! and nothing is reported as passed that did not complete: failures are counted and
//! printed.

mod common;
mod evidence;
mod jobs;
mod liabilities;
mod orders;
mod raw;
mod seed;

use std::process::ExitCode;

#[derive(clap::Args, Clone, Debug)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub what: BenchCommand,
}

#[derive(clap::Subcommand, Clone, Debug)]
pub enum BenchCommand {
    /// Evidence log: appends/s with batching, receipt (inclusion proof) times by log size.
    Evidence(evidence::EvidenceArgs),
    /// Paid orders/s through the real server over HTTP against a raw-SQL baseline of the
    /// same durable writes; prints `ratio full/raw: X.XX` for each database; then latency
    /// as the number of stored orders grows.
    Orders(orders::OrdersArgs),
    /// The job queue through the active-query schedule of many open orders: jobs/s,
    /// lateness against the schedule, backlog.
    Jobs(jobs::JobsArgs),
    /// Proof of liabilities: sum-tree build time, proof size and offline verify time at
    /// N balances (pure CPU, no database).
    Liabilities(liabilities::LiabilitiesArgs),
}

pub async fn run(args: BenchArgs) -> anyhow::Result<ExitCode> {
    match args.what {
        BenchCommand::Evidence(a) => evidence::run(a).await,
        BenchCommand::Orders(a) => orders::run(a).await,
        BenchCommand::Jobs(a) => jobs::run(a).await,
        BenchCommand::Liabilities(a) => liabilities::run(a).await,
    }
}
