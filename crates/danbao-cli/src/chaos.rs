//! `danbao chaos`: being written.

use std::process::ExitCode;

#[derive(clap::Args, Clone, Debug)]
pub struct ChaosArgs {
    /// How many orders to place.
    #[arg(long, default_value_t = 200)]
    pub orders: usize,
    /// PostgreSQL URL; default: a SQLite file in a temporary data directory.
    #[arg(long)]
    pub database: Option<String>,
}

pub async fn run(_args: ChaosArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("danbao chaos is not built yet")
}
