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

/// A buyer's dossier, exported from a real server's data directory, verifies offline
/// whole; a tampered one, or one checked against another key, does not — and says why.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn exported_dossier_verifies_offline_and_tampering_is_named() {
    use serde_json::json;
    let t = danbao_testkit::TestApp::sqlite().await;
    let (seller, _) = t.user("dossier_seller", "seller").await;
    let product = t.card_product(&seller, 4200, 1).await;
    let placed = t.guest_order(&product, 1).await;
    let id = placed.body["id"].as_str().unwrap().to_string();
    let token = placed.body["access_token"].as_str().unwrap().to_string();
    t.pay(placed.body["payment"]["payment_id"].as_str().unwrap()).await;
    t.wait_for_status(&format!("/api/v1/orders/{id}?access_token={token}"), None, "delivered")
        .await;
    t.post(
        &format!("/api/v1/orders/{id}/confirm?access_token={token}"),
        None,
        json!({}),
    )
    .await;
    let vkey = t.get("/api/v1/evidence/key", None).await.text.trim().to_string();
    let data = t.data_dir().unwrap().to_str().unwrap().to_string();
    let out = std::env::temp_dir().join(format!("danbao-dossier-{}", uuid::Uuid::new_v4().simple()));
    let out_s = out.to_str().unwrap();

    let (code, stdout, stderr) = danbao(&["export-dossier", "--data-dir", &data, "--order", &id, "--out", out_s]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(out.join("dossier.json").exists() && out.join("key.vkey").exists() && out.join("checkpoint.txt").exists());

    let (code, stdout, _) = danbao(&["verify", out_s, "--key", &vkey]);
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("dossier ok: 5 events"), "{stdout}");
    // One receipt on its own, with the key in a file: the leaf is sealed, so the receipt
    // alone proves inclusion and says nothing of the order.
    let receipt = out.join("receipts").join("0001-created.txt");
    let opening = out.join("receipts").join("0001-created.opening.txt");
    let (code, stdout, _) = danbao(&[
        "verify",
        receipt.to_str().unwrap(),
        "--key",
        out.join("key.vkey").to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.starts_with("ok: leaf 0 (sealed) is in the log"), "{stdout}");
    assert!(!stdout.contains(&id) && stdout.contains("give --opening"), "{stdout}");
    // With the opening the party got, it also proves what the leaf records.
    let (code, stdout, _) = danbao(&[
        "verify",
        receipt.to_str().unwrap(),
        "--key",
        &vkey,
        "--opening",
        opening.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stdout}");
    assert!(
        stdout.starts_with(&format!("ok: leaf 0 (order.created of order:{id})")),
        "{stdout}"
    );
    assert!(stdout.contains("ok: the opening matches the leaf"), "{stdout}");
    // The opening of another leaf does not open this one.
    let other_opening = out.join("receipts").join("0002-paid.opening.txt");
    let (code, stdout, _) = danbao(&[
        "verify",
        receipt.to_str().unwrap(),
        "--key",
        &vkey,
        "--opening",
        other_opening.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("the opening does not match"), "{stdout}");

    // Another key: the checkpoint signature check fails, and says so.
    let other = danbao_evidence::LogSigner::generate("danbao.dev/evidence-log", &mut rand::rngs::OsRng).unwrap();
    let (code, stdout, _) = danbao(&["verify", receipt.to_str().unwrap(), "--key", &other.vkey()]);
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains("verification failed") && stdout.contains("checkpoint"),
        "{stdout}"
    );
    // A --file that is not what the leaf committed to.
    let stray = out.join("stray.txt");
    std::fs::write(&stray, "not the evidence").unwrap();
    let (code, stdout, _) = danbao(&[
        "verify",
        receipt.to_str().unwrap(),
        "--key",
        &vkey,
        "--opening",
        opening.to_str().unwrap(),
        "--file",
        stray.to_str().unwrap(),
    ]);
    assert_eq!(code, 1);
    assert!(stdout.contains("does not match the receipt"), "{stdout}");

    // Someone edits an opening in the dossier (the event's time, say): that event fails.
    let text = std::fs::read_to_string(&opening).unwrap();
    let at_line = text.lines().find(|l| l.starts_with("at_ms ")).unwrap();
    let at: i64 = at_line["at_ms ".len()..].parse().unwrap();
    std::fs::write(&opening, text.replacen(at_line, &format!("at_ms {}", at - 60_000), 1)).unwrap();
    let (code, stdout, _) = danbao(&["verify", out_s, "--key", &vkey]);
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains("FAIL #1 created")
            && stdout.contains("the opening does not match the leaf's commitment")
            && stdout.contains("1 problem(s)"),
        "{stdout}"
    );
    std::fs::write(&opening, text).unwrap();

    // Someone edits an event in the dossier: exactly that event fails.
    let path = out.join("dossier.json");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replacen("4200", "1", 1)).unwrap();
    let (code, stdout, _) = danbao(&["verify", out_s, "--key", &vkey]);
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains("FAIL #1 created") && stdout.contains("do not match what the log committed"),
        "{stdout}"
    );
    assert!(stdout.contains("1 problem(s)"), "{stdout}");

    let (code, _, stderr) = danbao(&[
        "export-dossier",
        "--data-dir",
        &data,
        "--order",
        "01a21352-2fff-72b0-bebc-9c2cf2ac64a1",
    ]);
    assert_eq!(code, 1);
    assert!(stderr.contains("not found"), "{stderr}");
    let _ = std::fs::remove_dir_all(&out);
    t.finish().await;
}

/// A complaint's dossier carries its events, evidence (text and files) and ruling, and
/// verifies whole offline; a swapped file is named.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn complaint_dossier_includes_everything_and_verifies() {
    use serde_json::json;
    let t = danbao_testkit::TestApp::sqlite().await;
    let (seller, _) = t.user("cd_seller", "seller").await;
    let (buyer, _) = t.user("cd_buyer", "buyer").await;
    let product = t.card_product(&seller, 3000, 1).await;
    let placed = t
        .post(
            "/api/v1/orders",
            Some(&buyer),
            json!({"product_id": product, "quantity": 1}),
        )
        .await;
    let order = placed.body["id"].as_str().unwrap().to_string();
    t.pay(placed.body["payment"]["payment_id"].as_str().unwrap()).await;
    t.wait_for_status(&format!("/api/v1/orders/{order}"), Some(&buyer), "delivered")
        .await;
    let opened = t
        .post(
            &format!("/api/v1/orders/{order}/complaints"),
            Some(&buyer),
            json!({"kind": "fraud", "description": "假卡"}),
        )
        .await;
    let id = opened.body["id"].as_str().unwrap().to_string();
    let up = t
        .raw(
            t.http
                .post(format!("{}/api/v1/complaints/{id}/evidence?kind=screenshot", t.url))
                .bearer_auth(&buyer)
                .body("聊天记录：卖家承认卡密已售出两次"),
        )
        .await;
    assert_eq!(up.status, 201, "{}", up.text);
    let arb = t.staff(danbao_app::Role::Arbitrator).await;
    let r = t
        .post(
            &format!("/api/v1/complaints/{id}/ruling"),
            Some(&arb),
            json!({"kind": "refund_full", "reason": "证据充分"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    t.settle_refunds().await;
    let vkey = t.get("/api/v1/evidence/key", None).await.text.trim().to_string();
    let data = t.data_dir().unwrap().to_str().unwrap().to_string();
    let out = std::env::temp_dir().join(format!("danbao-cdossier-{}", uuid::Uuid::new_v4().simple()));
    let out_s = out.to_str().unwrap();
    let (code, stdout, stderr) = danbao(&[
        "export-dossier",
        "--data-dir",
        &data,
        "--complaint",
        &id,
        "--out",
        out_s,
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let (code, stdout, _) = danbao(&["verify", out_s, "--key", &vkey]);
    assert_eq!(code, 0, "{stdout}");
    assert!(
        stdout.contains("complaint.ruled") && stdout.contains("evidence.buyer.screenshot"),
        "{stdout}"
    );
    assert!(stdout.contains("ok   file files/"), "{stdout}");
    // Swap the evidence file for another.
    let file = std::fs::read_dir(out.join("files"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    std::fs::write(&file, "卖家没有承认").unwrap();
    let (code, stdout, _) = danbao(&["verify", out_s, "--key", &vkey]);
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("FAIL file"), "{stdout}");
    let _ = std::fs::remove_dir_all(&out);
    t.finish().await;
}

/// Logs go to stderr with no colour codes when it is not a terminal (here a pipe), and with
/// `--log-format json` every log line is one JSON object. `migrate` with sqlx's statements
/// at debug level is a command that logs several lines and exits at once.
#[test]
fn logs_are_plain_off_a_terminal_and_json_on_request() {
    let dir = std::env::temp_dir().join(format!("danbao-cli-logs-{}", uuid::Uuid::new_v4().simple()));
    let run = |extra: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_danbao"))
            .args(extra)
            .args(["migrate", "--data-dir", &dir.display().to_string()])
            .env("RUST_LOG", "info,sqlx=debug")
            .env_remove("DANBAO_DATABASE_URL")
            .env_remove("DANBAO_DATA_DIR")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "{stdout}\n{stderr}");
        assert_eq!(stdout, "migrations applied (sqlite)\n", "{stderr}");
        stderr
    };

    let text = run(&[]);
    assert!(text.contains("sqlx::query"), "no log lines:\n{text}");
    assert!(!text.contains("\x1b["), "colour codes in piped logs:\n{text:?}");

    let json = run(&["--log-format", "json"]);
    let lines: Vec<&str> = json.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(lines.len() >= 2, "too few log lines:\n{json}");
    for line in &lines {
        let v: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(v["level"].is_string() && v["target"].is_string(), "{line}");
    }
    assert!(!json.contains("\x1b["), "{json:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The data directory is this user's alone, and the database and key files are created
/// 0600 (never world-readable, not even for a moment before a chmod).
#[cfg(unix)]
#[test]
fn the_data_directory_and_its_secrets_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir()
        .join(format!("danbao-cli-perm-{}", uuid::Uuid::new_v4().simple()))
        .join("data");
    let data = dir.to_str().unwrap();
    let (code, out, err) = danbao(&["migrate", "--data-dir", data]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = danbao(&[
        "create-account",
        "--data-dir",
        data,
        "--username",
        "ops",
        "--role",
        "admin",
        "--password",
        "correct-horse-battery",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dir), 0o700);
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            assert_eq!(mode(&path), 0o600, "{}", path.display());
        }
    }
    let _ = std::fs::remove_dir_all(dir.parent().unwrap());
}

/// Starts `danbao serve` on a free port and returns it with its URL (read from its
/// first line); the child is killed on drop.
struct Served(std::process::Child, String);

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(dir: &std::path::Path, extra: &[&str]) -> Served {
    use std::io::BufRead;
    let mut child = Command::new(env!("CARGO_BIN_EXE_danbao"))
        .args(["serve", "--port", "0", "--data-dir", dir.to_str().unwrap()])
        .args(extra)
        .env_remove("DANBAO_DATABASE_URL")
        .env_remove("DANBAO_SANDBOX_URL")
        .env_remove("DANBAO_PORT")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = std::io::BufReader::new(stdout).lines();
    let first = lines.next().unwrap().unwrap();
    let url = first.strip_prefix("Danbao is running at ").unwrap().trim().to_string();
    // Keep reading so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Served(child, url)
}

/// A rule set file in `dir` under which sellers list without a security deposit, for
/// the tests about other things than the deposit (a server without a rail could not even
/// take one).
fn no_deposit_rules(dir: &std::path::Path) -> String {
    std::fs::create_dir_all(dir).unwrap();
    let text = danbao_domain::rules::DEFAULT_RULES_TOML
        .replace("required_minor = 50000", "required_minor = 0")
        .replace("volume_share_bps = 500", "volume_share_bps = 0");
    assert!(text.contains("required_minor = 0") && text.contains("volume_share_bps = 0"));
    let path = dir.join("rules-no-deposit.toml");
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

/// A seller registered and logged in on a served instance, with one product (`product`:
/// the create body); returns (the seller's token, the product's id).
async fn seller_with_product(u: &str, username: &str, product: serde_json::Value) -> (String, String) {
    let http = reqwest::Client::new();
    let r = http
        .post(format!("{u}/api/v1/accounts"))
        .json(&serde_json::json!({"username": username, "password": "correct-horse", "role": "seller"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let session: serde_json::Value = http
        .post(format!("{u}/api/v1/sessions"))
        .json(&serde_json::json!({"username": username, "password": "correct-horse"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = session["token"].as_str().unwrap().to_string();
    let created: serde_json::Value = http
        .post(format!("{u}/api/v1/seller/products"))
        .bearer_auth(&token)
        .json(&product)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    (token, created["id"].as_str().unwrap().to_string())
}

/// `serve` takes money only through a configured provider: without one there is no
/// sandbox to "pay" at and checkout is refused; `--sandbox` mounts it, with its fault
/// knobs behind the admin secret whose file it names.
#[tokio::test]
async fn serve_takes_no_money_without_a_provider_and_guards_the_sandbox() {
    let root = std::env::temp_dir().join(format!("danbao-cli-serve-{}", uuid::Uuid::new_v4().simple()));
    let http = reqwest::Client::new();
    let rules = no_deposit_rules(&root);
    let plain = serve(&root.join("plain"), &["--rules", &rules]);
    let u = &plain.1;
    let post = |path: &str, token: Option<&str>, body: serde_json::Value| {
        let mut r = http.post(format!("{u}{path}")).json(&body);
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        r.send()
    };
    let (token, id) = seller_with_product(
        u,
        "s1",
        serde_json::json!({"title": "点卡", "description": "d", "category": "game_cards", "price_minor": 1000, "delivery_kind": "card_key"}),
    )
    .await;
    let id = id.as_str();
    let r = http
        .post(format!("{u}/api/v1/seller/products/{id}/card-keys"))
        .bearer_auth(&token)
        .header("content-type", "text/plain")
        .body("KEY-1\n")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = post(
        "/api/v1/orders",
        None,
        serde_json::json!({"product_id": id, "quantity": 1, "contact": "qq 1", "query_password": "secret123"}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 502);
    let problem: serde_json::Value = r.json().await.unwrap();
    assert_eq!(problem["type"], "https://danbao.dev/problems/provider-unavailable");
    for path in ["/sandbox/admin/faults", "/sandbox/cashier/x"] {
        assert_eq!(
            http.get(format!("{u}{path}")).send().await.unwrap().status(),
            404,
            "{path}"
        );
    }
    drop(plain);

    let dir = root.join("sandbox");
    let with = serve(&dir, &["--sandbox"]);
    let faults = format!("{}/sandbox/admin/faults", with.1);
    let body = r#"{"drop_pct":50}"#;
    let r = http.put(&faults).body(body).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let secret = std::fs::read_to_string(dir.join("keys").join("sandbox-admin.key")).unwrap();
    let r = http
        .put(&faults)
        .header("authorization", format!("Bearer {}", secret.trim()))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    drop(with);
    let _ = std::fs::remove_dir_all(&root);
}

/// `danbao sandbox-gateway --state-dir` keeps its books across a restart of the process:
/// a payment opened before the restart is still there, unpaid, and can be paid after it.
#[tokio::test]
async fn the_standalone_sandbox_remembers_its_payments_across_a_restart() {
    use danbao_sandbox::client::SandboxClient;
    use danbao_sandbox::wire::CreatePayment;
    use std::io::BufRead;
    let root = std::env::temp_dir().join(format!("danbao-cli-gw-{}", uuid::Uuid::new_v4().simple()));
    let key_file = root.join("keys").join("sandbox-merchant.key");
    let (key, _) = danbao_app::vault::load_or_create(&key_file).unwrap();
    let state = root.join("sandbox");
    let gateway = || {
        let mut child = Command::new(env!("CARGO_BIN_EXE_danbao"))
            .args(["sandbox-gateway", "--port", "0", "--merchant-key-file"])
            .arg(&key_file)
            .arg("--state-dir")
            .arg(&state)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut lines = std::io::BufReader::new(stdout).lines();
        let first = lines.next().unwrap().unwrap();
        let url = first
            .strip_prefix("sandbox gateway listening at ")
            .unwrap()
            .trim()
            .to_string();
        std::thread::spawn(move || for _ in lines {});
        Served(child, url)
    };
    let first = gateway();
    let client = SandboxClient::new(first.1.clone(), key.to_vec());
    let created = client
        .create_payment(&CreatePayment {
            out_trade_no: "cli-restart-1".to_owned(),
            amount_minor: 990,
            currency: "CNY".to_owned(),
            subject: "点卡".to_owned(),
            notify_url: "http://127.0.0.1:9/notify".to_owned(),
            return_url: String::new(),
            site_name: None,
            order_ref: None,
            expires_at: None,
        })
        .await
        .unwrap();
    drop(first); // SIGKILL: no chance to save anything on the way out.

    let second = gateway();
    let client = SandboxClient::new(second.1.clone(), key.to_vec());
    let view = client.view(&created.payment_id).await.unwrap();
    assert_eq!((view.status.as_str(), view.amount_minor), ("created", 990));
    let paid = client.pay(&created.payment_id).await.unwrap();
    assert_eq!(paid.status, "succeeded");
    drop(second);
    let _ = std::fs::remove_dir_all(&root);
}

/// Behind TLS every cookie is `Secure`: `serve --secure-cookies` marks the browser
/// cookie a page sets and the session cookie of a login; without the flag (the demo's
/// plain http) none is.
#[tokio::test]
async fn secure_cookies_are_marked_secure_when_asked() {
    let root = std::env::temp_dir().join(format!("danbao-cli-cookies-{}", uuid::Uuid::new_v4().simple()));
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for (name, extra, secure) in [("plain", &[][..], false), ("tls", &["--secure-cookies"][..], true)] {
        let served = serve(&root.join(name), extra);
        let u = &served.1;
        let r = http
            .post(format!("{u}/api/v1/accounts"))
            .json(&serde_json::json!({"username": "c1", "password": "correct-horse", "role": "buyer"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        let page = http.get(format!("{u}/login")).send().await.unwrap();
        let set: Vec<String> = page
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .collect();
        let browser = set
            .iter()
            .find(|c| c.starts_with("danbao_browser="))
            .unwrap_or_else(|| panic!("{set:?}"))
            .clone();
        assert_eq!(browser.contains("; Secure"), secure, "{browser}");
        let html = page.text().await.unwrap();
        let start = html.find("name=\"csrf_token\" value=\"").unwrap() + "name=\"csrf_token\" value=\"".len();
        let token = &html[start..start + html[start..].find('"').unwrap()];
        let login = http
            .post(format!("{u}/login"))
            .header("cookie", browser.split(';').next().unwrap())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("csrf_token={token}&username=c1&password=correct-horse"))
            .send()
            .await
            .unwrap();
        assert_eq!(login.status(), 303);
        let session = login
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .find(|c| c.starts_with("danbao_session="))
            .unwrap();
        assert_eq!(session.contains("; Secure"), secure, "{session}");
        assert!(
            session.contains("HttpOnly") && session.contains("SameSite=Lax"),
            "{session}"
        );
    }
    let _ = std::fs::remove_dir_all(&root);
}

/// `danbao simulate` runs a seed to the end and says so; a sequence written as JSON lines
/// replays; a file that is not one is refused with a clear message and exit 1.
#[test]
fn simulate_runs_a_seed_and_replays_a_sequence() {
    let (code, out, err) = danbao(&["simulate", "--seed", "7", "--steps", "150"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("seed 7: 150 steps passed"), "{out}");
    assert!(out.contains("1 seed(s) passed, 0 failed"), "{out}");
    assert!(out.contains("place_order"), "the tally lists the actions: {out}");

    let dir = std::env::temp_dir().join(format!("danbao-sim-replay-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("actions.jsonl");
    std::fs::write(
        &file,
        concat!(
            r#"{"do":"place_order","buyer":1,"product":0,"quantity":1}"#,
            "\n",
            r#"{"do":"pay","order":0,"attempt":0,"payer":1}"#,
            "\n",
            r#"{"do":"notify","pick":0,"mode":"deliver"}"#,
            "\n",
            r#"{"do":"confirm","order":0,"who":"buyer"}"#,
            "\n",
        ),
    )
    .unwrap();
    let (code, out, err) = danbao(&["simulate", "--replay", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("replay of 4 action(s) passed"), "{out}");
    assert!(out.contains("completed 1"), "the order was confirmed: {out}");

    std::fs::write(&file, "{\"do\":\"fly\"}\n").unwrap();
    let (code, out, err) = danbao(&["simulate", "--replay", file.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("not a list of actions"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A restart without `--rules` keeps the published rule set (one published from the
/// operations console, or by an earlier `--rules FILE`) instead of publishing the
/// embedded default over it; `--rules FILE` publishes that file.
#[tokio::test]
async fn a_restart_keeps_the_published_rules() {
    let root = std::env::temp_dir().join(format!("danbao-cli-rules-{}", uuid::Uuid::new_v4().simple()));
    let dir = root.join("data");
    let version = |s: &Served| {
        let url = format!("{}/api/v1/rules", s.1);
        async move {
            let v: serde_json::Value = reqwest::get(url).await.unwrap().json().await.unwrap();
            (
                v["version"].as_i64().unwrap(),
                v["rules"]["orders"]["delivery_deadline_hours"].as_i64().unwrap(),
            )
        }
    };
    let first = serve(&dir, &[]);
    assert_eq!(version(&first).await, (1, 24));
    drop(first);
    let text = include_str!("../../../rules/default.toml")
        .replace("delivery_deadline_hours = 24", "delivery_deadline_hours = 12");
    let file = root.join("rules.toml");
    std::fs::write(&file, text).unwrap();
    let second = serve(&dir, &["--rules", file.to_str().unwrap()]);
    assert_eq!(version(&second).await, (2, 12));
    drop(second);
    let third = serve(&dir, &[]);
    assert_eq!(version(&third).await, (2, 12), "a plain restart keeps version 2");
    drop(third);
    let _ = std::fs::remove_dir_all(&root);
}

/// The zone pages show times in is the operator's: `serve --time-zone` names an IANA
/// zone and the pages (and their footer) use it; a name that is not a zone stops the
/// server before it starts, saying why.
#[tokio::test]
async fn pages_show_times_in_the_configured_zone() {
    let root = std::env::temp_dir().join(format!("danbao-cli-zone-{}", uuid::Uuid::new_v4().simple()));
    let (code, _, err) = danbao(&[
        "serve",
        "--port",
        "0",
        "--data-dir",
        root.join("bad").to_str().unwrap(),
        "--time-zone",
        "Mars/Olympus_Mons",
    ]);
    assert_ne!(code, 0);
    assert!(
        err.contains("unknown time zone") && err.contains("Mars/Olympus_Mons"),
        "{err}"
    );

    let rules = no_deposit_rules(&root);
    let served = serve(
        &root.join("tokyo"),
        &["--time-zone", "Asia/Tokyo", "--sandbox", "--rules", &rules],
    );
    let u = &served.1;
    let http = reqwest::Client::new();
    let post = |path: &str, token: Option<&str>, body: serde_json::Value| {
        let mut req = http.post(format!("{u}{path}")).json(&body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send()
    };
    let (_, product) = seller_with_product(
        u,
        "tz_seller",
        serde_json::json!({"title": "t", "description": "d", "category": "game_cards", "price_minor": 100, "delivery_kind": "manual"}),
    )
    .await;
    let order: serde_json::Value = post(
        "/api/v1/orders",
        None,
        serde_json::json!({"product_id": product, "quantity": 1, "contact": "qq:1", "query_password": "guest-pass-1"}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let (id, token) = (order["id"].as_str().unwrap(), order["access_token"].as_str().unwrap());
    let view: serde_json::Value = http
        .get(format!("{u}/api/v1/orders/{id}?access_token={token}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let created = view["created_at"].as_str().unwrap();
    // The link puts the order's access into a cookie and redirects to the clean address.
    let opened = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("{u}/orders/{id}?access_token={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(opened.status(), 303);
    let cookie = opened
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_string())
        .find(|c| c.starts_with("danbao_order_"))
        .unwrap();
    let page = http
        .get(format!("{u}/orders/{id}"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    // The order's time as Tokyo reads it (UTC+9, no summer time), beside the instant.
    let ms = danbao_app::clock::parse_rfc3339(created).unwrap();
    let tokyo = danbao_app::clock::display_time_in(ms + 9 * 3_600_000, &danbao_app::clock::zone("UTC").unwrap());
    assert!(page.contains(&format!(">{tokyo}</time>")), "{tokyo} not in {page}");
    assert!(page.contains("页面时间均为 Asia/Tokyo 时间"), "{page}");
    let _ = std::fs::remove_dir_all(&root);
}

/// An operator's 易支付 merchant, configured by file (its key by path): checkout offers
/// its channels and sends the buyer to that aggregator with a signed page jump; a bad
/// file stops the server with a message naming it.
#[tokio::test]
async fn serve_takes_an_epay_merchant_from_a_rails_file() {
    let root = std::env::temp_dir().join(format!("danbao-cli-rails-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&root).unwrap();
    let key = root.join("epay.key");
    std::fs::write(&key, "operator-md5-key\n").unwrap();
    let rails = root.join("rails.toml");
    std::fs::write(
        &rails,
        format!(
            "[[epay]]\nbase_url = \"https://pay.example.com/\"\npid = \"4242\"\nkey_file = {:?}\nchannels = [\"wxpay\"]\n",
            key.display().to_string()
        ),
    )
    .unwrap();
    let bad = root.join("bad.toml");
    std::fs::write(
        &bad,
        "[[epay]]\nbase_url = \"https://pay.example.com/\"\npid = \"4242\"\nkey = \"inline\"\nchannels = [\"wxpay\"]\n",
    )
    .unwrap();
    let (code, _, err) = danbao(&[
        "serve",
        "--port",
        "0",
        "--data-dir",
        root.join("bad-data").to_str().unwrap(),
        "--rails",
        bad.to_str().unwrap(),
    ]);
    assert_ne!(code, 0);
    assert!(err.contains("bad.toml") && err.contains("not a rails file"), "{err}");

    let rules = no_deposit_rules(&root);
    let served = serve(
        &root.join("data"),
        &["--rails", rails.to_str().unwrap(), "--rules", &rules],
    );
    let u = &served.1;
    let http = reqwest::Client::new();
    let post = |path: &str, token: Option<&str>, body: serde_json::Value| {
        let mut req = http.post(format!("{u}{path}")).json(&body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send()
    };
    let (_, product) = seller_with_product(
        u,
        "rail_seller",
        serde_json::json!({"title": "t", "description": "d", "category": "game_cards", "price_minor": 1234, "delivery_kind": "manual"}),
    )
    .await;
    let page = http
        .get(format!("{u}/products/{product}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains(r#"value="epay_wxpay" checked required> 微信支付（易支付）"#),
        "{page}"
    );
    let order: serde_json::Value = post(
        "/api/v1/orders",
        None,
        serde_json::json!({"product_id": product, "quantity": 1, "contact": "qq:1", "query_password": "guest-pass-1", "payment_method": "epay_wxpay"}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let cashier = order["payment"]["cashier_url"].as_str().unwrap();
    assert!(
        cashier.starts_with("https://pay.example.com/submit.php?pid=4242&type=wxpay&"),
        "{order}"
    );
    let params = danbao_rails::epay::parse_params(cashier.split_once('?').unwrap().1).unwrap();
    assert!(danbao_rails::epay::md5_verifies(&params, "operator-md5-key"));
    assert_eq!(danbao_rails::epay::value(&params, "money"), Some("12.34"));
    let _ = std::fs::remove_dir_all(&root);
}

/// A backup taken while the server runs (and keeps taking orders) restores into a new data
/// directory where the ledger check passes and the order's dossier verifies offline with
/// the log's original key; a restore never overwrites a database, and a backup whose
/// database was altered is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_backup_of_a_running_server_restores_and_verifies() {
    use serde_json::json;
    let t = danbao_testkit::TestApp::sqlite().await;
    let (seller, _) = t.user("backup_seller", "seller").await;
    let product = t.card_product(&seller, 2500, 3).await;
    let (order, token) = t.guest_order_delivered(&product).await;
    t.post(
        &format!("/api/v1/orders/{order}/confirm?access_token={token}"),
        None,
        json!({}),
    )
    .await;
    t.app().sequence_evidence().await.unwrap();
    let vkey = t.get("/api/v1/evidence/key", None).await.text.trim().to_string();
    let data = t.data_dir().unwrap().to_str().unwrap().to_string();
    let root = std::env::temp_dir().join(format!("danbao-backup-{}", uuid::Uuid::new_v4().simple()));
    let backup = root.join("backup");

    // Orders go on while the copy is taken.
    let busy = {
        let url = t.url.clone();
        let product = product.clone();
        tokio::spawn(async move {
            let http = reqwest::Client::new();
            for _ in 0..2 {
                let r = http
                    .post(format!("{url}/api/v1/orders"))
                    .json(&json!({"product_id": product, "quantity": 1, "contact": "qq:20002", "query_password": "guest-pass-1"}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 201);
            }
        })
    };
    let (code, stdout, stderr) = danbao(&["backup", "--data-dir", &data, "--out", backup.to_str().unwrap()]);
    busy.await.unwrap();
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("database:") && stdout.contains("keys:"), "{stdout}");
    assert!(std::fs::read_to_string(backup.join("BACKUP.txt"))
        .unwrap()
        .contains("sha256"));
    // Into an existing folder: refused.
    let (code, _, stderr) = danbao(&["backup", "--data-dir", &data, "--out", backup.to_str().unwrap()]);
    assert_ne!(code, 0);
    assert!(stderr.contains("exists already"), "{stderr}");

    let restored = root.join("restored");
    let r = restored.to_str().unwrap();
    let (code, stdout, stderr) = danbao(&["restore", "--from", backup.to_str().unwrap(), "--data-dir", r]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let (code, stdout, stderr) = danbao(&["ledger", "check", "--data-dir", r]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("ledger check: ok"), "{stdout}");
    let dossier = root.join("dossier");
    let (code, stdout, stderr) = danbao(&[
        "export-dossier",
        "--data-dir",
        r,
        "--order",
        &order,
        "--out",
        dossier.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let (code, stdout, _) = danbao(&["verify", dossier.to_str().unwrap(), "--key", &vkey]);
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("dossier ok: 5 events"), "{stdout}");

    // A restore never overwrites a database.
    let (code, _, stderr) = danbao(&["restore", "--from", backup.to_str().unwrap(), "--data-dir", r]);
    assert_ne!(code, 0);
    assert!(stderr.contains("holds a database already"), "{stderr}");
    // A copy that no longer matches its manifest is refused.
    let mut bytes = std::fs::read(backup.join("danbao.db")).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(backup.join("danbao.db"), bytes).unwrap();
    let (code, _, stderr) = danbao(&[
        "restore",
        "--from",
        backup.to_str().unwrap(),
        "--data-dir",
        root.join("again").to_str().unwrap(),
    ]);
    assert_ne!(code, 0);
    assert!(stderr.contains("does not match the digest"), "{stderr}");
    let _ = std::fs::remove_dir_all(&root);
}

/// `serve --config FILE`: the file's settings apply (paths relative to the file), a flag
/// on the command line wins over the file, an unknown key is refused, and with a metrics
/// token `/metrics` answers only requests bearing it.
#[tokio::test]
async fn serve_takes_its_settings_from_a_config_file() {
    use std::io::BufRead;
    let root = std::env::temp_dir().join(format!("danbao-config-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join("metrics.token"), "s3cret-token\n").unwrap();
    let config = root.join("danbao.toml");
    // Port 1 would fail to bind: the command line's --port 0 must win.
    std::fs::write(
        &config,
        "data_dir = \"data\"\nport = 1\ntime_zone = \"Asia/Tokyo\"\nmetrics_token_file = \"metrics.token\"\ntrusted_proxies = [\"10.0.0.0/8\"]\n",
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_danbao"))
        .args(["serve", "--config", config.to_str().unwrap(), "--port", "0"])
        .env_remove("DANBAO_DATABASE_URL")
        .env_remove("DANBAO_DATA_DIR")
        .env_remove("DANBAO_PORT")
        .env_remove("DANBAO_TIME_ZONE")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let url = lines
        .next()
        .unwrap()
        .unwrap()
        .strip_prefix("Danbao is running at ")
        .unwrap()
        .trim()
        .to_string();
    let zone = lines
        .by_ref()
        .map_while(Result::ok)
        .find(|l| l.contains("pages show times in"))
        .unwrap();
    std::thread::spawn(move || for _ in lines {});
    let served = Served(child, url.clone());
    assert!(zone.contains("Asia/Tokyo"), "{zone}");
    assert!(
        root.join("data").join("danbao.db").exists(),
        "the data dir is relative to the file"
    );

    let http = reqwest::Client::new();
    let r = http.get(format!("{url}/metrics")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let r = http
        .get(format!("{url}/metrics"))
        .bearer_auth("wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = http
        .get(format!("{url}/metrics"))
        .bearer_auth("s3cret-token")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("danbao_evidence_log_size"));
    drop(served);

    std::fs::write(&config, "prot = 8080\n").unwrap();
    let (code, _, stderr) = danbao(&["serve", "--config", config.to_str().unwrap()]);
    assert_ne!(code, 0);
    assert!(stderr.contains("unknown field `prot`"), "{stderr}");
    let _ = std::fs::remove_dir_all(&root);
}

/// SIGTERM: `/readyz` answers 503 "draining" for the drain period while requests are still
/// served, then the process exits cleanly.
#[tokio::test]
async fn sigterm_drains_then_stops() {
    let dir = std::env::temp_dir().join(format!("danbao-drain-{}", uuid::Uuid::new_v4().simple()));
    let mut served = serve(&dir, &["--drain-seconds", "3"]);
    let url = served.1.clone();
    let http = reqwest::Client::new();
    assert_eq!(http.get(format!("{url}/readyz")).send().await.unwrap().status(), 200);
    let pid = served.0.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    let mut drained = false;
    while std::time::Instant::now() < deadline {
        let r = http.get(format!("{url}/readyz")).send().await.unwrap();
        if r.status() == 503 {
            assert_eq!(r.text().await.unwrap(), "draining");
            drained = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(drained, "/readyz never said draining");
    assert_eq!(http.get(format!("{url}/healthz")).send().await.unwrap().status(), 200);
    let status = served.0.wait().unwrap();
    assert!(status.success(), "{status}");
    assert!(
        http.get(format!("{url}/healthz")).send().await.is_err(),
        "still listening after it stopped"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// `danbao demo` on a free port, once its shop is seeded.
fn demo_served(dir: &std::path::Path) -> Served {
    demo_served_with(dir, &[])
}

fn demo_served_with(dir: &std::path::Path, extra: &[&str]) -> Served {
    use std::io::BufRead;
    let mut child = Command::new(env!("CARGO_BIN_EXE_danbao"))
        .args(["demo", "--port", "0", "--data-dir", dir.to_str().unwrap()])
        .args(extra)
        .env_remove("DANBAO_DATABASE_URL")
        .env_remove("DANBAO_SANDBOX_URL")
        .env_remove("DANBAO_PORT")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = std::io::BufReader::new(stdout).lines();
    let first = lines.next().unwrap().unwrap();
    let url = first.strip_prefix("Danbao is running at ").unwrap().trim().to_string();
    for line in lines.by_ref() {
        if line.unwrap().starts_with("Demo shop seeded") {
            break;
        }
    }
    std::thread::spawn(move || for _ in lines {});
    Served(child, url)
}

/// `danbao mirror` keeps a log's tiles and checkpoint, checks each new checkpoint against
/// the kept one, and refuses a fork: a second log signed with the same key.
#[tokio::test]
async fn a_mirror_follows_the_log_and_refuses_a_fork() {
    let root = std::env::temp_dir().join(format!("danbao-cli-mirror-{}", uuid::Uuid::new_v4().simple()));
    let a = demo_served(&root.join("a"));
    let vkey = reqwest::get(format!("{}/api/v1/evidence/key", a.1))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let key = root.join("log.vkey");
    std::fs::write(&key, vkey.trim()).unwrap();
    let kept = root.join("mirror");
    let run = |url: &str| danbao(&["mirror", url, kept.to_str().unwrap(), "--key", key.to_str().unwrap()]);
    let (code, out, err) = run(&a.1);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("(first)"), "{out}");
    let note = std::fs::read_to_string(kept.join("checkpoint")).unwrap();
    let size: u64 = note.lines().nth(1).unwrap().parse().unwrap();
    assert!(size > 0 && size < 256, "{note}");
    let tile = std::fs::read(kept.join(format!("tile/0/000.p/{size}"))).unwrap();
    assert_eq!(tile.len() as u64, size * 32);
    assert!(kept.join(format!("tile/entries/000.p/{size}")).is_file());
    // Again, after more events: consistent with what was kept.
    let (code, out, err) = run(&a.1);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("consistent with the kept size"), "{out}");
    let note = std::fs::read_to_string(kept.join("checkpoint")).unwrap();
    // Another log under the same key (the operator forking history): refused, nothing kept.
    let b_dir = root.join("b");
    std::fs::create_dir_all(&b_dir).unwrap();
    let status = Command::new("cp")
        .args([
            "-r",
            root.join("a/keys").to_str().unwrap(),
            b_dir.join("keys").to_str().unwrap(),
        ])
        .status()
        .unwrap();
    assert!(status.success());
    let b = demo_served(&b_dir);
    let b_key = reqwest::get(format!("{}/api/v1/evidence/key", b.1))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(b_key.trim(), vkey.trim(), "the fork signs with the same key");
    let (code, out, _) = run(&b.1);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("mirror refused"), "{out}");
    println!("the fork: {out}");
    assert_eq!(std::fs::read_to_string(kept.join("checkpoint")).unwrap(), note);
    drop(a);
    drop(b);
    let _ = std::fs::remove_dir_all(&root);
}

/// `danbao mirror` follows a log that transparency-dev/tessera wrote (the vectors in
/// danbao-evidence/tests/vectors/tessera), served as static files: each of its checkpoints
/// in turn is accepted as consistent with the last, and going back in size is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mirror_follows_a_log_written_by_tessera() {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;
    let log = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../danbao-evidence/tests/vectors/tessera/log");
    let size = Arc::new(AtomicU64::new(1));
    let served = size.clone();
    let app = axum::Router::new().fallback(move |uri: axum::http::Uri| {
        let (log, size) = (log.clone(), served.clone());
        async move {
            let path = uri.path().trim_start_matches('/');
            let file = if path == "checkpoint" {
                format!("checkpoint.{}", size.load(Ordering::SeqCst))
            } else {
                path.to_string()
            };
            match std::fs::read(log.join(file)) {
                Ok(bytes) if !path.contains("..") => (axum::http::StatusCode::OK, bytes),
                _ => (axum::http::StatusCode::NOT_FOUND, Vec::new()),
            }
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let root = std::env::temp_dir().join(format!("danbao-cli-tessera-{}", uuid::Uuid::new_v4().simple()));
    let kept = root.join("mirror");
    let vkey = "example.com/log/testdata+33d7b496+AeHTu4Q3hEIMHNqc6fASMsq3rKNx280NI+oO5xCFkkSx";
    let kept_arg = kept.to_str().unwrap().to_string();
    let run = move |url: String| {
        let kept = kept_arg.clone();
        tokio::task::spawn_blocking(move || danbao(&["mirror", &url, &kept, "--key", vkey]))
    };
    for n in [1, 2, 3, 7, 8, 15] {
        size.store(n, Ordering::SeqCst);
        let (code, out, err) = run(url.clone()).await.unwrap();
        assert_eq!(code, 0, "size {n}: {out}{err}");
        let note = std::fs::read_to_string(kept.join("checkpoint")).unwrap();
        assert!(note.contains(&format!("\n{n}\n")), "{note}");
        assert!(kept.join(format!("tile/0/000.p/{n}")).is_file());
    }
    size.store(3, Ordering::SeqCst);
    let (code, out, _) = run(url.clone()).await.unwrap();
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("went back"), "{out}");
    let _ = std::fs::remove_dir_all(&root);
}

/// A `danbao witness` child: its URL, its cosignature vkey, and what it said on stderr.
struct WitnessServed {
    served: Served,
    vkey: String,
    said: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

fn witness_served(dir: &std::path::Path, name: &str, log_vkey: &str) -> WitnessServed {
    use std::io::BufRead;
    let mut child = Command::new(env!("CARGO_BIN_EXE_danbao"))
        .args([
            "witness",
            "--dir",
            dir.to_str().unwrap(),
            "--name",
            name,
            "--port",
            "0",
            "--log",
            log_vkey,
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let url = first.split(" is running at ").nth(1).unwrap().trim().to_string();
    let vkey = lines
        .next()
        .unwrap()
        .unwrap()
        .strip_prefix("key: ")
        .unwrap()
        .trim()
        .to_string();
    std::thread::spawn(move || for _ in lines {});
    let said = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = said.clone();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
            sink.lock().unwrap().push(line);
        }
    });
    WitnessServed {
        served: Served(child, url),
        vkey,
        said,
    }
}

async fn get_text(url: &str) -> (u16, String) {
    let r = reqwest::get(url).await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// Issue 16 item 2: two `danbao witness` processes, each with its own key, cosign the demo
/// log's checkpoints; the server publishes only cosigned checkpoints, receipts carry the
/// cosignatures and `danbao verify --witness` requires them. Then a fork — a second log
/// under the same key with different history — asks the same witnesses: both refuse it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn witnesses_cosign_the_log_and_refuse_a_fork() {
    let root = std::env::temp_dir().join(format!("danbao-cli-witness-{}", uuid::Uuid::new_v4().simple()));
    // The log's key exists once the server has run.
    let first = demo_served(&root.join("a"));
    let log_vkey = get_text(&format!("{}/api/v1/evidence/key", first.1))
        .await
        .1
        .trim()
        .to_string();
    drop(first);
    let w1 = witness_served(&root.join("w1"), "witness.test/w1", &log_vkey);
    let w2 = witness_served(&root.join("w2"), "witness.test/w2", &log_vkey);
    let flags = [
        "--witness".to_string(),
        format!("{}={}", w1.served.1, w1.vkey),
        "--witness".to_string(),
        format!("{}={}", w2.served.1, w2.vkey),
    ];
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let a = demo_served_with(&root.join("a"), &flags);
    let (status, note) = get_text(&format!("{}/checkpoint", a.1)).await;
    assert_eq!(status, 200, "{note}");
    assert!(
        note.contains("\u{2014} witness.test/w1 ") && note.contains("\u{2014} witness.test/w2 "),
        "{note}"
    );
    let size_a: u64 = note.lines().nth(1).unwrap().parse().unwrap();
    assert!(size_a > 0);
    // A receipt carries the cosignatures; verify requires them.
    let (status, receipt) = get_text(&format!("{}/api/v1/evidence/receipts/0", a.1)).await;
    assert_eq!(status, 200, "{receipt}");
    let receipt_file = root.join("receipt.txt");
    std::fs::write(&receipt_file, &receipt).unwrap();
    let r = receipt_file.to_str().unwrap();
    let (code, out, err) = danbao(&[
        "verify",
        r,
        "--key",
        &log_vkey,
        "--witness",
        &w1.vkey,
        "--witness",
        &w2.vkey,
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("cosigned by witness witness.test/w1") && out.contains("witness.test/w2"),
        "{out}"
    );
    // A witness that did not cosign fails the check.
    let stranger = danbao_evidence::WitnessSigner::from_secret_bytes("witness.test/w3", &[3; 32]).unwrap();
    let (code, out, _) = danbao(&[
        "verify",
        r,
        "--key",
        &log_vkey,
        "--witness",
        &w1.vkey,
        "--witness",
        &stranger.vkey(),
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("1 of the witnesses cosigned, 2 are required"), "{out}");
    let (code, out, _) = danbao(&[
        "verify",
        r,
        "--key",
        &log_vkey,
        "--witness",
        &w1.vkey,
        "--witness",
        &stranger.vkey(),
        "--witness-quorum",
        "1",
    ]);
    assert_eq!(code, 0, "{out}");
    // The fork: another server with the same log key and its own history.
    std::fs::create_dir_all(root.join("b")).unwrap();
    let status = Command::new("cp")
        .args([
            "-r",
            root.join("a/keys").to_str().unwrap(),
            root.join("b/keys").to_str().unwrap(),
        ])
        .status()
        .unwrap();
    assert!(status.success());
    let b = demo_served_with(&root.join("b"), &flags);
    let b_key = get_text(&format!("{}/api/v1/evidence/key", b.1)).await.1;
    assert_eq!(b_key.trim(), log_vkey, "the fork signs with the same key");
    // B's log is signed but no witness cosigns it: nothing of it is published.
    let (_, b_note) = get_text(&format!("{}/checkpoint", b.1)).await;
    assert!(b_note.starts_with("danbao.dev/evidence-log\n0\n"), "{b_note}");
    assert!(!b_note.contains("witness.test"), "{b_note}");
    let (status, _) = get_text(&format!("{}/api/v1/evidence/receipts/0", b.1)).await;
    assert_eq!(status, 404);
    // Both witnesses refused it, each saying why.
    for w in [&w1, &w2] {
        let said = w.said.lock().unwrap().join("\n");
        assert!(
            said.contains("witness: refused a checkpoint of danbao.dev/evidence-log"),
            "{said}"
        );
        println!("{}:\n{said}", w.served.1);
    }
    // The witnesses still hold A's tree: A goes on being cosigned.
    let (_, note_again) = get_text(&format!("{}/checkpoint", a.1)).await;
    assert!(note_again.contains("witness.test/w1"), "{note_again}");
    // A mirror that requires the witnesses follows A, and refuses B's uncosigned checkpoint.
    let mirror_flags = |url: &str, dir: &str| -> Vec<String> {
        vec![
            "mirror".into(),
            url.into(),
            dir.into(),
            "--key".into(),
            log_vkey.clone(),
            "--witness".into(),
            w1.vkey.clone(),
            "--witness".into(),
            w2.vkey.clone(),
        ]
    };
    let mirror_a = root.join("mirror-a");
    let args = mirror_flags(&a.1, mirror_a.to_str().unwrap());
    let (code, out, err) = danbao(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("cosigned by: witness.test/w1, witness.test/w2"), "{out}");
    let mirror_b = root.join("mirror-b");
    let args = mirror_flags(&b.1, mirror_b.to_str().unwrap());
    let (code, out, _) = danbao(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("mirror refused: the checkpoint of size 0 is not cosigned"),
        "{out}"
    );
    assert!(!mirror_b.join("checkpoint").exists());
    println!("A published size {size_a}; the fork B published nothing");
    drop((a, b, w1, w2));
    let _ = std::fs::remove_dir_all(&root);
}

/// `danbao mirror` past one tile: full level-0 tiles are kept and reused (not fetched again),
/// the level-1 tile (roots of 256-leaf subtrees) is fetched, checked against the roots of
/// the tiles below and kept, and a grown log is still checked consistent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mirror_keeps_full_and_higher_tiles_and_reuses_them() {
    let t = danbao_testkit::TestApp::sqlite().await;
    t.app().bench_queue_leaves("mirror-case", 600, 200).await.unwrap();
    let vkey = t.get("/api/v1/evidence/key", None).await.text.trim().to_string();
    let root = std::env::temp_dir().join(format!("danbao-cli-mirror-big-{}", uuid::Uuid::new_v4().simple()));
    let kept = root.join("mirror");
    let args = |kept: &std::path::Path| {
        vec![
            "mirror".to_string(),
            t.url.clone(),
            kept.to_str().unwrap().to_string(),
            "--key".to_string(),
            vkey.clone(),
        ]
    };
    let run = |args: Vec<String>| {
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            danbao(&args)
        })
    };
    let (code, out, err) = run(args(&kept)).await.unwrap();
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("mirrored: checkpoint size 600 (first)"), "{out}");
    assert!(
        out.contains("tiles fetched: 7, full tiles reused from the mirror: 0"),
        "{out}"
    );
    for tile in [
        "tile/0/000",
        "tile/0/001",
        "tile/0/002.p/88",
        "tile/entries/001",
        "tile/1/000.p/2",
    ] {
        assert!(kept.join(tile).is_file(), "{tile}");
    }
    t.app().bench_queue_leaves("mirror-case", 300, 300).await.unwrap();
    let (code, out, err) = run(args(&kept)).await.unwrap();
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("checkpoint size 900, consistent with the kept size 600"),
        "{out}"
    );
    assert!(out.contains("full tiles reused from the mirror: 4"), "{out}");
    assert!(kept.join("tile/1/000.p/3").is_file());
    // A kept tile that was altered on the mirror's disk no longer rebuilds the log's root.
    let mut altered = std::fs::read(kept.join("tile/0/000")).unwrap();
    altered[0] ^= 1;
    std::fs::write(kept.join("tile/0/000"), altered).unwrap();
    let (code, out, _) = run(args(&kept)).await.unwrap();
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("do not rebuild the checkpoint's root"), "{out}");
    let _ = std::fs::remove_dir_all(&root);
    t.finish().await;
}

/// `danbao verify-liabilities`: a buyer's proof from a real server verifies offline with
/// only the log's key (as text, and as the API's JSON answer); a tampered proof, or the
/// right proof under another key, exits non-zero and says why.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn verify_liabilities_accepts_a_buyers_proof_and_refuses_a_tampered_one() {
    let t = danbao_testkit::TestApp::sqlite().await;
    let (seller, _) = t.user("liab_cli_seller", "seller").await;
    let product = t.card_product(&seller, 4_321, 2).await;
    let (order, token) = t.guest_order_delivered(&product).await;
    t.guest_order_delivered(&product).await;
    match t.app().publish_liabilities().await.unwrap() {
        danbao_app::liabilities::PublishOutcome::Published(_) => {}
        other => panic!("{other:?}"),
    }
    let vkey = t.get("/api/v1/evidence/key", None).await.text.trim().to_string();
    let answer = t
        .get(
            &format!("/api/v1/orders/{order}/liabilities-proof?access_token={token}"),
            None,
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let proof = answer.body["proofs"][0]["proof"].as_str().unwrap().to_string();
    let dir = std::env::temp_dir().join(format!("danbao-liab-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let write = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_string()
    };

    let good = write("proof.txt", &proof);
    let (code, stdout, stderr) = danbao(&["verify-liabilities", &good, "--key", &vkey]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains(&format!("ok: balance order:{order}:escrow of ¥43.21 (4321 fen)")),
        "{stdout}"
    );
    assert!(
        stdout.contains("statement #1") && stdout.contains("¥86.42 (8642 fen) over 2 balances"),
        "{stdout}"
    );
    // The API's JSON answer, saved as is, with the key in a file.
    let json = write("answer.json", &answer.text);
    let key_file = write("key.vkey", &vkey);
    let (code, stdout, _) = danbao(&["verify-liabilities", &json, "--key", &key_file]);
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("ok: balance"), "{stdout}");

    // The amount raised by one fen: the leaf no longer leads to the signed root.
    let tampered = write("tampered.txt", &proof.replacen("amount 4321", "amount 4322", 1));
    let (code, stdout, _) = danbao(&["verify-liabilities", &tampered, "--key", &vkey]);
    assert_ne!(code, 0, "{stdout}");
    assert!(
        stdout.contains("verification failed: the proof does not lead to the signed root"),
        "{stdout}"
    );
    // The statement's total changed: its signature no longer holds.
    let total = proof.lines().rev().nth(3).unwrap().to_string();
    assert_eq!(total, "8642");
    let lie = write("lie.txt", &proof.replacen(&format!("\n{total}\n"), "\n1\n", 1));
    let (code, stdout, _) = danbao(&["verify-liabilities", &lie, "--key", &vkey]);
    assert_ne!(code, 0, "{stdout}");
    assert!(
        stdout.contains("verification failed: statement: the signature"),
        "{stdout}"
    );
    // Another log's key.
    let other = danbao_evidence::LogSigner::generate("danbao.dev/evidence-log", &mut rand::rngs::OsRng).unwrap();
    let (code, stdout, _) = danbao(&["verify-liabilities", &good, "--key", &other.vkey()]);
    assert_ne!(code, 0, "{stdout}");
    assert!(stdout.contains("verification failed"), "{stdout}");
    // Not a proof at all.
    let junk = write("junk.txt", "hello\n");
    let (code, stdout, _) = danbao(&["verify-liabilities", &junk, "--key", &vkey]);
    assert_ne!(code, 0, "{stdout}");
    assert!(stdout.contains("not a danbao-liabilities-proof/v1"), "{stdout}");
    let _ = std::fs::remove_dir_all(&dir);
    t.finish().await;
}
