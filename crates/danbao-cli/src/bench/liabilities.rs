//! `danbao bench liabilities --balances N`: the proof of liabilities at N balances — the
//! time to build the Merkle sum tree (salts, leaf hashes, sort, levels: what a statement
//! costs, and what the first proof costs in a process that did not publish it, which
//! rebuilds the tree from the stored leaves), the size of one proof (bytes, hashes on its path)
//! and the time to verify one offline. Pure CPU, no database: the figures are the tree's
//! alone, beside a baseline of N plain SHA-256 hashes measured in the same run.

use danbao_evidence::{verify_proof, Liability, LogSigner, Statement, SumTree};
use rand::{rngs::StdRng, Rng, SeedableRng};
use sha2::{Digest, Sha256};
use std::process::ExitCode;
use std::time::{Duration, Instant};

#[derive(clap::Args, Clone, Debug)]
pub struct LiabilitiesArgs {
    /// How many balances (leaves) the tree holds.
    #[arg(long, default_value_t = 10_000)]
    pub balances: usize,
    /// Proofs produced and verified (at random leaves).
    #[arg(long, default_value_t = 1_000)]
    pub proofs: usize,
}

/// Ten million balances is far beyond any deployment of this platform and still fits in
/// memory (about 150 bytes a leaf); the bound keeps a typo from exhausting it.
const BALANCES_MAX: usize = 10_000_000;

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

fn us(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}

pub async fn run(args: LiabilitiesArgs) -> anyhow::Result<ExitCode> {
    let n = args.balances;
    if n == 0 || n > BALANCES_MAX {
        anyhow::bail!("--balances must be 1 to {BALANCES_MAX}");
    }
    println!(
        "proof of liabilities benchmark: {n} balances, {} proofs ({} build)",
        args.proofs,
        if cfg!(debug_assertions) { "debug" } else { "release" }
    );
    // Labels shaped like the real ones (an order's UUID), amounts up to ¥1000.
    let mut rng = StdRng::seed_from_u64(16);
    let liabilities = (0..n)
        .map(|i| {
            let label = format!("order:0190a000-0000-7000-8000-{i:012x}:escrow");
            Liability::new(&label, rng.gen_range(1..100_000))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let signer = LogSigner::from_secret_bytes("danbao.dev/evidence-log", &[5; 32])?;
    let secret = [6u8; 32];

    let started = Instant::now();
    let mut h = [0u8; 32];
    for _ in 0..n {
        h = Sha256::digest(h).into();
    }
    let baseline = started.elapsed();
    std::hint::black_box(h);

    let started = Instant::now();
    let tree = SumTree::build(&secret, 1, liabilities)?;
    let build = started.elapsed();
    let statement = Statement::of_tree(&tree, 1, 1_700_000_000_000);
    let note = statement.sign(&signer)?;
    println!("  baseline: {n} chained SHA-256 hashes     {}", ms(baseline));
    println!(
        "  build (salt + leaf + sort + sum tree)    {}   ({:.1}× the baseline)",
        ms(build),
        build.as_secs_f64() / baseline.as_secs_f64().max(1e-9)
    );
    println!("  total {} fen, root {}", statement.total, hex::encode(statement.root));

    let verifier = signer.verifier();
    let (mut bytes_max, mut bytes_sum, mut hashes_max) = (0usize, 0usize, 0usize);
    let (mut produce, mut verify) = (Vec::new(), Vec::new());
    let mut failures = 0usize;
    for _ in 0..args.proofs {
        let i = rng.gen_range(0..n);
        let started = Instant::now();
        let proof = tree.proof(i, &note)?;
        produce.push(started.elapsed());
        // The path's sibling hashes, plus the leaf's own and the signed root.
        let hashes = tree.path(i)?.len();
        hashes_max = hashes_max.max(hashes);
        bytes_max = bytes_max.max(proof.len());
        bytes_sum += proof.len();
        let started = Instant::now();
        let ok = verify_proof(&proof, &verifier).is_ok_and(|v| v.amount == tree.leaf(i).map_or(0, |l| l.0.amount()));
        verify.push(started.elapsed());
        if !ok {
            failures += 1;
        }
    }
    if !verify.is_empty() {
        verify.sort();
        produce.sort();
        let median = |v: &[Duration]| v[v.len() / 2];
        let max = |v: &[Duration]| v[v.len() - 1];
        println!(
            "  proof size: {} bytes mean, {} bytes max; {} sibling hashes (and sums) on the longest path",
            bytes_sum / verify.len(),
            bytes_max,
            hashes_max
        );
        println!(
            "  proof from the built tree: {} median, {} max",
            us(median(&produce)),
            us(max(&produce))
        );
        println!(
            "  verify offline (parse, Ed25519 statement signature, fold the path): {} median, {} max",
            us(median(&verify)),
            us(max(&verify))
        );
        println!(
            "  the server keeps the tree it built at publication; another process, or one restarted, rebuilds it from the stored leaves on its first proof (about the build time above)"
        );
    }
    if failures > 0 {
        println!("  FAILED: {failures} proofs did not verify");
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}
