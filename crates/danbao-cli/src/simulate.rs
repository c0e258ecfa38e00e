//! `danbao simulate`: the seeded simulator (danbao-sim) from the command line, for any
//! number of seeds and steps, on SQLite or PostgreSQL; a failure is shrunk and written
//! out as JSON lines that `--replay` runs again.

use danbao_sim::{Action, SimConfig};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

#[derive(clap::Args)]
pub struct SimulateArgs {
    /// The first seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// How many seeds to run, one after another from --seed.
    #[arg(long, default_value_t = 1)]
    seeds: u64,
    /// Keep taking further seeds until this many minutes have passed (a long run).
    #[arg(long)]
    minutes: Option<u64>,
    /// Actions per seed.
    #[arg(long, default_value_t = 2_000)]
    steps: usize,
    /// A PostgreSQL URL (each run gets its own schema); without it, a fresh SQLite file.
    #[arg(long, env = "DANBAO_DATABASE_URL")]
    database_url: Option<String>,
    /// Actions run at once per step: 1 is deterministic; more finds races, but a failure
    /// found that way may not replay.
    #[arg(long, default_value_t = 1)]
    actors: usize,
    /// Audit after every this many steps.
    #[arg(long, default_value_t = 1)]
    audit_every: usize,
    /// How long to spend shrinking a failure (0: do not shrink).
    #[arg(long, default_value_t = 120)]
    shrink_seconds: u64,
    /// Run the actions in this file (JSON, one per line, as a failure is written)
    /// instead of a seed's.
    #[arg(long)]
    replay: Option<PathBuf>,
    /// Where a failing run's shrunk sequence is written.
    #[arg(long, default_value = ".")]
    out_dir: PathBuf,
}

fn write_actions(path: &PathBuf, actions: &[Action]) -> anyhow::Result<()> {
    let mut text = String::new();
    for a in actions {
        text.push_str(&serde_json::to_string(a)?);
        text.push('\n');
    }
    std::fs::write(path, text)?;
    Ok(())
}

pub async fn run(args: SimulateArgs) -> anyhow::Result<ExitCode> {
    let config = |seed| SimConfig {
        seed,
        steps: args.steps,
        database_url: args.database_url.clone(),
        actors: args.actors,
        audit_every: args.audit_every,
        shrink_budget: Duration::from_secs(args.shrink_seconds),
    };
    if let Some(file) = &args.replay {
        let text = std::fs::read_to_string(file)?;
        let actions = text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(serde_json::from_str)
            .collect::<Result<Vec<Action>, _>>()
            .map_err(|e| anyhow::anyhow!("{}: not a list of actions: {e}", file.display()))?;
        let cfg = config(0);
        return Ok(match danbao_sim::execute(&cfg, &actions).await? {
            Ok(tally) => {
                println!("replay of {} action(s) passed\n{tally}", actions.len());
                ExitCode::SUCCESS
            }
            Err(f) => {
                println!("replay of {} action(s) failed: {f}", actions.len());
                ExitCode::FAILURE
            }
        });
    }
    let started = Instant::now();
    let deadline = args.minutes.map(|m| started + Duration::from_secs(m * 60));
    let mut seed = args.seed;
    let (mut passed, mut failed) = (0u64, Vec::new());
    loop {
        let more = match deadline {
            Some(d) => Instant::now() < d,
            None => seed < args.seed + args.seeds,
        };
        if !more {
            break;
        }
        let seed_started = Instant::now();
        let report = danbao_sim::simulate(&config(seed)).await?;
        match &report.outcome {
            Ok(tally) => {
                passed += 1;
                println!(
                    "seed {seed}: {} steps passed in {:.1} s",
                    report.steps,
                    seed_started.elapsed().as_secs_f64()
                );
                if deadline.is_none() && args.seeds == 1 {
                    println!("{tally}");
                }
            }
            Err(f) => {
                println!("seed {seed}: FAILED {f}");
                if let Some((actions, shrunk)) = &report.shrunk {
                    let path = args.out_dir.join(format!("simulate-seed-{seed}.jsonl"));
                    write_actions(&path, actions)?;
                    println!(
                        "  shrunk to {} action(s), still failing: {shrunk}  written to {} (run it again with --replay)",
                        actions.len(),
                        path.display()
                    );
                }
                failed.push(seed);
            }
        }
        seed += 1;
    }
    println!(
        "{passed} seed(s) passed, {} failed{} in {:.0} s",
        failed.len(),
        if failed.is_empty() {
            String::new()
        } else {
            format!(" ({failed:?})")
        },
        started.elapsed().as_secs_f64()
    );
    Ok(if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
