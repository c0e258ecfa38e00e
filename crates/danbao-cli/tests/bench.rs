//! `danbao bench orders` and `danbao bench jobs`, tiny, on both databases: every order
//! completes, the ratio line is there with a positive number, the growth curve has its
//! lines, the job queue drains with nothing left behind. No timing is asserted.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

fn danbao(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_danbao"))
        .args(args)
        .env_remove("DANBAO_DATABASE_URL")
        .env_remove("DANBAO_DATA_DIR")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The numbers after `prefix` on every line that starts with it.
fn values(out: &str, prefix: &str) -> Vec<f64> {
    out.lines()
        .filter_map(|l| l.strip_prefix(prefix))
        .map(|v| {
            v.split_whitespace()
                .next()
                .unwrap()
                .trim_end_matches(';')
                .parse::<f64>()
                .unwrap()
        })
        .collect()
}

fn bench_orders(extra: &[&str], databases: usize) {
    let mut args = vec![
        "bench",
        "orders",
        "--clients",
        "4",
        "--orders",
        "40",
        "--existing",
        "200,400",
    ];
    args.extend_from_slice(extra);
    let (code, out, err) = danbao(&args);
    assert_eq!(code, 0, "{out}\n{err}");
    let ratios = values(&out, "ratio full/raw: ");
    assert_eq!(ratios.len(), databases, "one ratio line per database:\n{out}");
    assert!(ratios.iter().all(|r| *r > 0.0), "{out}");
    // Every phase prints its failed orders; all are 0 (main phase and each growth size).
    let failed: Vec<&str> = out.lines().filter(|l| l.contains("failed orders: ")).collect();
    assert_eq!(failed.len(), databases * 3, "{out}");
    for line in failed {
        assert!(line.ends_with("failed orders: 0"), "{line}\n{out}");
    }
    assert!(out.contains("full path over HTTP: 40 orders completed"), "{out}");
    for size in ["200", "400"] {
        let growth = out
            .lines()
            .filter(|l| l.starts_with(&format!("existing {size}: ")))
            .count();
        assert_eq!(growth, databases * 2, "{out}");
    }
    assert!(out.contains("existing 400: against 200 existing: create p50 "), "{out}");
    assert!(out.contains("server CPU per order: "), "{out}");
}

#[test]
fn bench_orders_on_sqlite_completes_every_order() {
    bench_orders(&[], 1);
}

#[test]
fn bench_orders_on_sqlite_then_postgres_completes_every_order() {
    let Some(url) = danbao_testkit::postgres_test_url("danbao bench orders on PostgreSQL") else {
        return;
    };
    bench_orders(&["--database-url", &url], 2);
}

fn bench_jobs(extra: &[&str]) {
    let mut args = vec!["bench", "jobs", "--open", "100"];
    args.extend_from_slice(extra);
    let (code, out, err) = danbao(&args);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("open orders placed through the App: 100 in "), "{out}");
    // 100 orders: 4 queries each and an expiry.
    assert!(out.contains("jobs: 500 in "), "{out}");
    assert!(
        out.contains("final backlog: 0; retried: 0; failing: 0; dead: 0"),
        "{out}"
    );
    assert_eq!(out.lines().filter(|l| l.starts_with("at +")).count(), 4, "{out}");
}

#[test]
fn bench_jobs_on_sqlite_drains_the_schedule() {
    bench_jobs(&[]);
}

#[test]
fn bench_jobs_on_postgres_drains_the_schedule() {
    let Some(url) = danbao_testkit::postgres_test_url("danbao bench jobs on PostgreSQL") else {
        return;
    };
    bench_jobs(&["--database-url", &url]);
}
