//! Child `danbao` processes started by the tools (`chaos`, `bench`): their arguments say
//! everything, so the environment variables a child would read instead are removed, and
//! their output goes to a log file.

use anyhow::Context;
use std::path::Path;
use std::process::Stdio;
use tokio::process::Command;

/// Environment variables a child `danbao` would read instead of its arguments.
pub const CHILD_ENV_REMOVED: [&str; 8] = [
    "DANBAO_DATA_DIR",
    "DANBAO_DATABASE_URL",
    "DANBAO_PORT",
    "DANBAO_BIND",
    "DANBAO_PUBLIC_URL",
    "DANBAO_SANDBOX_URL",
    "DANBAO_ACCOUNT_PASSWORD",
    "DANBAO_LIMITS",
];

/// `exe args…` with stdout and stderr to `log`, killed if dropped.
pub fn child_command(exe: &Path, args: &[String], log: &Path) -> anyhow::Result<Command> {
    let file = std::fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
    let err = file.try_clone().context("duplicating a log file handle")?;
    let mut cmd = Command::new(exe);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::from(file))
        .stderr(Stdio::from(err))
        .kill_on_drop(true);
    for var in CHILD_ENV_REMOVED {
        cmd.env_remove(var);
    }
    Ok(cmd)
}
