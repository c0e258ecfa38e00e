//! The pages in a real browser: Debian's chromium, driven by playwright-core
//! (ui-tests/buy.mjs), against the real server. Skipped, saying so, where chromium or
//! the node module is not installed; `.ci/run` installs both.

use danbao_testkit::TestApp;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_person_buys_in_chromium() {
    if !danbao_testkit::browser_ready() {
        return;
    }
    let ui = danbao_testkit::ui_tests_dir();
    let t = TestApp::sqlite().await;
    let (seller, _) = t.user("browser_seller", "seller").await;
    let r = t
        .post(
            "/api/v1/seller/products",
            Some(&seller),
            json!({"title": "浏览器测试点卡", "category": "game_cards", "price_minor": 3000, "delivery_kind": "card_key"}),
        )
        .await;
    let product = r.body["id"].as_str().unwrap().to_string();
    let r = t
        .raw(
            t.http
                .post(format!("{}/api/v1/seller/products/{product}/card-keys", t.url))
                .bearer_auth(&seller)
                .header("content-type", "text/plain")
                .body("DEMO-KEY-1\nDEMO-KEY-2\n"),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let shots = danbao_testkit::ui_shots_dir("buy");
    let out = tokio::process::Command::new("node")
        .arg(ui.join("buy.mjs"))
        .arg(&t.url)
        .arg("浏览器测试点卡")
        .arg(&shots)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "browser run failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("ok: bought and revealed DEMO-KEY-"), "{stdout}");
    // What the browser did is what the platform recorded.
    let admin = t.admin().await;
    let stats = t.get("/api/v1/admin/stats", Some(&admin)).await;
    assert_eq!(stats.body["orders_by_status"]["completed"], 1, "{}", stats.text);
    assert!(shots.join("5-completed.png").exists());
    t.finish().await;
}
