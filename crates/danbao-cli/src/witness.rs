//! `danbao witness`: runs the witness of `danbao_http::witness` as its own party, with its
//! own key, until stopped.

use anyhow::Context as _;
use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;

pub async fn run(dir: &Path, name: &str, logs: &[String], bind: &str, port: u16) -> anyhow::Result<ExitCode> {
    let logs = logs
        .iter()
        .map(|key| crate::dossier::read_vkey(key))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let witness = danbao_http::witness::Witness::open(dir, name, logs).map_err(|e| anyhow::anyhow!(e))?;
    let listener = tokio::net::TcpListener::bind((bind, port))
        .await
        .with_context(|| format!("listening on {bind}:{port}"))?;
    let addr = listener.local_addr()?;
    println!("Witness {} is running at http://{addr}", witness.name());
    println!("key: {}", witness.vkey());
    for log in witness.logs() {
        println!("follows: {}", log.origin());
    }
    std::io::stdout().flush()?;
    danbao_http::witness::serve(listener, witness, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(ExitCode::SUCCESS)
}
