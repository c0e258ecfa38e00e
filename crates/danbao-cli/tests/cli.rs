//! The `danbao` binary as an operator uses it: migrate, create accounts, ledger check —
//! including a check that catches a balance tampered with directly in the database.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use danbao_domain::ledger::rules;
use danbao_domain::{Money, PaymentId, RefundId};
use std::process::Command;

fn danbao(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_danbao")).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn ledger_check_passes_then_catches_a_tampered_balance() {
    let dir = std::env::temp_dir().join(format!("danbao-cli-{}", uuid::Uuid::new_v4().simple()));
    let data = dir.to_str().unwrap();
    let (code, out, err) = danbao(&["migrate", "--data-dir", data]);
    assert_eq!(code, 0, "{out}{err}");

    // Book an entry through the store, as the server would.
    let url = format!("sqlite:{}", dir.join("danbao.db").display());
    let store = danbao_store::Store::connect(&url, None).await.unwrap();
    let entry = rules::unaccepted_payment(
        None,
        &PaymentId::generate(),
        &RefundId::generate(),
        "sandbox",
        Money::from_minor(1234),
    )
    .unwrap();
    let mut tx = store.begin().await.unwrap();
    tx.post_entry(&entry, 0).await.unwrap();
    tx.commit().await.unwrap();
    store.close().await;

    let (code, out, err) = danbao(&["ledger", "check", "--data-dir", data]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("ledger check: ok"), "{out}");

    // Someone edits a balance behind the ledger's back.
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    sqlx::query("UPDATE accounts SET balance = balance + 5 WHERE name = 'provider:sandbox'")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let (code, out, _) = danbao(&["ledger", "check", "--database-url", &url]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("account provider:sandbox: stored balance 1239 differs from its postings 1234"),
        "{out}"
    );
    assert!(out.contains("1 violation(s)"), "{out}");

    // Staff accounts come from the CLI; bad input is a clear error with a non-zero exit.
    let (code, out, err) = danbao(&[
        "create-account",
        "--data-dir",
        data,
        "--username",
        "arb",
        "--role",
        "arbitrator",
        "--password",
        "arb-password-1",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("created arbitrator account arb"), "{out}");
    let (code, _, err) = danbao(&[
        "create-account",
        "--data-dir",
        data,
        "--username",
        "arb",
        "--role",
        "arbitrator",
        "--password",
        "arb-password-1",
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("username is taken"), "{err}");
    let (code, _, err) = danbao(&[
        "create-account",
        "--data-dir",
        data,
        "--username",
        "x",
        "--role",
        "god",
        "--password",
        "arb-password-1",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("--role must be"), "{err}");
    let (code, _, err) = danbao(&["ledger", "check", "--database-url", "mysql://nope"]);
    assert_eq!(code, 1);
    assert!(err.contains("unsupported database url"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
