//! `danbao bench evidence`: appends per second with batching, and proof generation time
//! as the log grows (10k, 100k, 1M leaves). Figures are reported as ratios against a
//! baseline measured in the same run, because these machines are noisy.

use anyhow::Context;
use danbao_app::clock::SystemClock;
use danbao_app::vault::Vault;
use danbao_domain::RuleSet;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

#[derive(clap::Args, Clone, Debug)]
pub struct EvidenceArgs {
    /// Grow the log to each of these sizes in turn.
    #[arg(long, value_delimiter = ',', default_value = "10000,100000,1000000")]
    pub sizes: Vec<u64>,
    /// Proofs generated (and verified) at each size.
    #[arg(long, default_value_t = 200)]
    pub proofs: usize,
    /// PostgreSQL URL; default a SQLite file in a temporary directory.
    #[arg(long)]
    pub database_url: Option<String>,
}

pub async fn run(args: EvidenceArgs) -> anyhow::Result<ExitCode> {
    let dir = std::env::temp_dir().join(format!("danbao-bench-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir)?;
    let (store, schema) = match &args.database_url {
        Some(url) => {
            let schema = danbao_store::create_pg_schema(url, "bench").await?;
            (danbao_store::Store::connect(url, Some(&schema)).await?, Some(schema))
        }
        None => (
            danbao_store::Store::connect(&format!("sqlite:{}", dir.join("bench.db").display()), None).await?,
            None,
        ),
    };
    let kind = store.kind();
    let app = danbao_app::App::start(
        store.clone(),
        Arc::new(SystemClock),
        Vault::from_keys([3; 32], [4; 32]),
        danbao_app::payments::Rails::one(Arc::new(danbao_app::payments::SandboxProvider::new(
            "http://127.0.0.1:9",
            b"unused".to_vec(),
        ))),
        danbao_app::AppConfig {
            public_url: String::new(),
            files_dir: None,
            limits: danbao_app::limits::Limits::default(),
        },
        RuleSet::default_rules()?,
    )
    .await?;
    let verifier = app.log_verifier();
    println!(
        "evidence log benchmark on {kind} ({} build)",
        if cfg!(debug_assertions) { "debug" } else { "release" }
    );
    let mut size = 0u64;
    let mut baseline_append: Option<f64> = None;
    let mut baseline_proof: Option<f64> = None;
    for target in &args.sizes {
        let n = target.saturating_sub(size);
        let t0 = Instant::now();
        app.bench_queue_leaves("bench:1", usize::try_from(n)?, 1000).await?;
        let queued = t0.elapsed().as_secs_f64();
        let t1 = Instant::now();
        app.sequence_evidence()
            .await?
            .context("no checkpoint after appending")?;
        let sequenced = t1.elapsed().as_secs_f64();
        size = *target;
        let per_s = n as f64 / sequenced.max(1e-9);
        let base = *baseline_append.get_or_insert(per_s);
        println!(
            "size {size:>9}: appended {n} leaves: queue {queued:.2} s, sequence+sign {sequenced:.2} s = {per_s:.0} leaves/s ({:.2}× the first batch)",
            per_s / base
        );
        // Proofs at this size: random leaves, each proof built from stored nodes and checked.
        let mut times = Vec::with_capacity(args.proofs);
        for i in 0..args.proofs {
            let idx = (i as u64).wrapping_mul(2_654_435_761) % size;
            let t = Instant::now();
            let receipt = app.evidence_receipt(idx).await?;
            times.push(t.elapsed().as_secs_f64() * 1000.0);
            danbao_evidence::verify_receipt(receipt.as_str(), &verifier)
                .map_err(|e| anyhow::anyhow!("a generated receipt did not verify: {e}"))?;
        }
        times.sort_by(f64::total_cmp);
        let p50 = times[times.len() / 2];
        let p99 = times[(times.len() * 99 / 100).min(times.len() - 1)];
        let base = *baseline_proof.get_or_insert(p50);
        println!(
            "size {size:>9}: receipt (inclusion proof from stored nodes) p50 {p50:.2} ms, p99 {p99:.2} ms ({:.2}× the p50 at the first size; log2 ratio {:.2}×)",
            p50 / base,
            (size as f64).log2() / (args.sizes[0] as f64).log2()
        );
    }
    store.close().await;
    if let (Some(url), Some(schema)) = (&args.database_url, schema) {
        danbao_store::drop_pg_schema(url, &schema).await?;
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(ExitCode::SUCCESS)
}
