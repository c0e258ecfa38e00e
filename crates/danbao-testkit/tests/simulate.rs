//! The simulator in CI: a few seeds of a few thousand steps on each database. Any
//! failure prints the seed, what went wrong and the shrunk sequence that reproduces it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use danbao_sim::{simulate, SimConfig};
use danbao_testkit::postgres_test_url;

fn steps() -> usize {
    std::env::var("DANBAO_SIM_STEPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2_000)
}

async fn run_seed(seed: u64, database_url: Option<String>) {
    let mut cfg = SimConfig::new(seed, steps());
    cfg.database_url = database_url;
    let report = simulate(&cfg).await.unwrap();
    match &report.outcome {
        Ok(tally) => println!("seed {seed}: {} steps passed\n{tally}", report.steps),
        Err(failure) => {
            let mut text = format!("seed {seed} failed: {failure}");
            if let Some((actions, f)) = &report.shrunk {
                text.push_str(&format!("\nshrunk to {} action(s), failing with {f}", actions.len()));
                for (i, a) in actions.iter().enumerate() {
                    text.push_str(&format!("\n  {i:>4} {}", serde_json::to_string(a).unwrap()));
                }
            }
            panic!("{text}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seeds_on_sqlite() {
    for seed in [1, 2] {
        run_seed(seed, None).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seeds_on_postgres() {
    let Some(url) = postgres_test_url("the simulator on PostgreSQL") else {
        return;
    };
    for seed in [3, 4] {
        run_seed(seed, Some(url.clone())).await;
    }
}
