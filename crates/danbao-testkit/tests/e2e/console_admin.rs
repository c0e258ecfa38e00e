//! The operations console (`/admin`, issue 10) through its pages: the dead-letter queue,
//! the ledger check, freezing / unfreezing / banning a seller, staff accounts, rule
//! versions, the door (admins only) and the form token. Plus the same in chromium.

use danbao_app::limits::Origin;
use danbao_app::Role;
use danbao_testkit::{Browser, Resp, TestApp};
use serde_json::{json, Value};

on_both_databases!(
    a_dead_job_is_requeued_from_the_console_and_runs,
    the_ledger_check_runs_from_the_console,
    a_frozen_sellers_products_leave_the_storefront_until_unfrozen,
    a_ban_changes_nothing_until_its_second_step,
    only_admins_get_through_the_door_and_only_with_the_form_token,
    staff_accounts_are_made_and_disabled_from_the_console,
    a_rules_version_is_published_and_diffed_from_the_console,
    reconciliation_exceptions_are_resolved_from_the_console,
    the_console_speaks_english,
);

const ADMIN_PASSWORD: &str = "admin-password";

/// An admin account with a known name, logged in through the login page.
async fn admin_browser<'a>(t: &'a TestApp, name: &str) -> Browser<'a> {
    t.app()
        .register(&Origin::Local, name, ADMIN_PASSWORD, Role::Admin)
        .await
        .unwrap();
    let b = Browser::new(t);
    let r = page_login(&b, name, ADMIN_PASSWORD).await;
    assert_eq!(r.status, 303, "{}", r.text);
    assert_eq!(location(&r), "/admin");
    b
}

async fn page_login(b: &Browser<'_>, username: &str, password: &str) -> Resp {
    b.get("/login").await;
    b.submit("/login", &[("username", username), ("password", password)])
        .await
}

fn location(r: &Resp) -> String {
    r.headers
        .get("location")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default()
}

/// Whether `html` shows `text` as text (HTML-escaped, as askama writes it).
fn escaped(html: &str, text: &str) -> bool {
    let as_askama = text
        .replace('&', "&#38;")
        .replace('<', "&#60;")
        .replace('>', "&#62;")
        .replace('"', "&#34;")
        .replace('\'', "&#39;");
    html.contains(&as_askama)
}

fn unescape(html: &str) -> String {
    html.replace("&#34;", "\"")
        .replace("&#39;", "'")
        .replace("&#60;", "<")
        .replace("&#62;", ">")
        .replace("&#38;", "&")
}

/// A page the browser was sent to after a form: the redirect, then the page.
async fn follow(b: &Browser<'_>, r: &Resp) -> Resp {
    assert_eq!(r.status, 303, "{}", r.text);
    let page = b.get(&location(r)).await;
    assert_eq!(page.status, 200, "{}", page.text);
    page
}

/// A signed notification, one fen short, for a transaction the gateway never had: an
/// amount-mismatch exception for an admin.
async fn a_short_payment(t: &TestApp, seller_name: &str) {
    let (seller, _) = t.user(seller_name, "seller").await;
    let product = t.card_product(&seller, 1500, 2).await;
    let placed = t.guest_order(&product, 1).await;
    let payment = placed.body["payment"]["payment_id"].as_str().unwrap().to_string();
    let view = t.get(&format!("/sandbox/payments/{payment}"), None).await.body;
    let notification = json!({
        "notify_id": "n-tx-ghost",
        "payment_id": view["payment_id"],
        "out_trade_no": view["out_trade_no"],
        "trade_no": "tx-ghost",
        "amount_minor": 1499,
        "currency": "CNY",
        "status": "succeeded",
        "paid_at": "2026-11-25T00:00:00Z",
        "sent_at": "2026-11-25T00:00:00Z",
    })
    .to_string();
    t.notify_signed(&notification).await;
}

/// The gateway refuses a refund for a transaction it never had: after its retries the
/// refund job is dead-lettered (as in no_drop.rs).
async fn a_dead_refund_job(t: &TestApp) -> String {
    let admin = t.admin().await;
    a_short_payment(t, "dead_job_seller").await;
    let overview = t.get("/api/v1/admin/reconciliation", Some(&admin)).await;
    let id = overview.body["open_exceptions"][0]["id"].as_str().unwrap().to_string();
    let r = t
        .post(
            &format!("/api/v1/admin/reconciliation/exceptions/{id}/resolve"),
            Some(&admin),
            json!({"action": "refund", "note": "send it back"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    for _ in 0..40 {
        t.run_due_jobs().await;
        t.advance(2 * 3_600_000);
    }
    let dead = t.get("/api/v1/admin/jobs?status=dead", Some(&admin)).await;
    let items = dead.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{}", dead.text);
    items[0]["id"].as_str().unwrap().to_string()
}

async fn jobs(t: &TestApp, status: &str) -> Vec<Value> {
    let admin = t.admin().await;
    let r = t
        .get(&format!("/api/v1/admin/jobs?status={status}"), Some(&admin))
        .await;
    r.body["items"].as_array().unwrap().clone()
}

async fn a_dead_job_is_requeued_from_the_console_and_runs(t: TestApp) {
    let job = a_dead_refund_job(&t).await;
    let b = admin_browser(&t, "ops_requeue").await;
    let health = b.get("/admin").await;
    assert_eq!(health.status, 200, "{}", health.text);
    assert!(health.text.contains("重新排队"), "{}", health.text);
    assert!(health.text.contains(&job));
    assert!(
        health.text.contains("provider refused"),
        "the dead job's error is shown"
    );
    let r = b.submit(&format!("/admin/jobs/{job}/requeue"), &[]).await;
    let page = follow(&b, &r).await;
    assert!(page.text.contains("任务已重新排队"));
    assert!(!page.text.contains(&format!("/admin/jobs/{job}/requeue")));
    assert!(jobs(&t, "queued").await.iter().any(|j| j["id"] == job));
    // It runs again (and the gateway still refuses, so it counts an attempt and waits).
    t.run_due_jobs().await;
    let queued = jobs(&t, "queued").await;
    let again = queued.iter().find(|j| j["id"] == job).expect("retrying, not dead yet");
    assert_eq!(again["attempts"], 1, "{again}");
    assert!(again["last_error"].as_str().unwrap().contains("provider refused"));
    // A job that is not dead cannot be requeued twice.
    b.get("/admin").await;
    let r = b.submit(&format!("/admin/jobs/{job}/requeue"), &[]).await;
    assert_eq!(r.status, 404, "{}", r.text);
    t.finish_with_pending_jobs().await;
}

async fn the_ledger_check_runs_from_the_console(t: TestApp) {
    let b = admin_browser(&t, "ops_ledger").await;
    let first = b.get("/admin").await;
    assert!(first.text.contains("尚未在后台执行过账本检查"));
    assert!(first.text.contains("日志条目数"));
    let r = b.submit("/admin/ledger-check", &[]).await;
    let page = follow(&b, &r).await;
    assert!(page.text.contains("账本检查已完成"));
    assert!(page.text.contains("通过"), "{}", page.text);
    assert!(page.text.contains("由 ops_ledger 执行"));
    t.finish().await;
}

/// A seller with one card-key product; returns (seller token, seller id, product id).
async fn shop(t: &TestApp, name: &str, keys: usize) -> (String, String, String) {
    let (token, id) = t.user(name, "seller").await;
    let product = t.card_product(&token, 1500, keys).await;
    (token, id, product)
}

async fn listed(t: &TestApp, product: &str) -> (bool, bool) {
    let page = t.raw(t.http.get(format!("{}/", t.url))).await;
    let api = t.get("/api/v1/products", None).await;
    let in_api = api.body["items"].as_array().unwrap().iter().any(|p| p["id"] == product);
    (page.text.contains(&format!("/products/{product}")), in_api)
}

async fn standing(t: &TestApp, seller_token: &str) -> String {
    let r = t.get("/api/v1/seller/balance", Some(seller_token)).await;
    r.body["standing"].as_str().unwrap().to_string()
}

async fn a_frozen_sellers_products_leave_the_storefront_until_unfrozen(t: TestApp) {
    let (seller, seller_id, product) = shop(&t, "freeze_me", 2).await;
    assert_eq!(listed(&t, &product).await, (true, true));
    let b = admin_browser(&t, "ops_freeze").await;
    let found = b.get("/admin/sellers?q=FREEZE").await;
    assert_eq!(found.status, 200, "{}", found.text);
    assert!(
        found.text.contains(&format!("/admin/sellers/{seller_id}")),
        "search ignores case"
    );
    // What was typed comes back escaped.
    let typed = b.get("/admin/sellers?q=%3Cscript%3Ex").await;
    assert!(!typed.text.contains("<script>x"), "{}", typed.text);
    assert!(escaped(&typed.text, "<script>x"));
    let page = b.get(&format!("/admin/sellers/{seller_id}")).await;
    assert!(page.text.contains("freeze_me") && page.text.contains("正常"));
    // A reason is required.
    let r = b
        .submit(&format!("/admin/sellers/{seller_id}/freeze"), &[("reason", "  ")])
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert_eq!(standing(&t, &seller).await, "active");
    b.get(&format!("/admin/sellers/{seller_id}")).await;
    let r = b
        .submit(
            &format!("/admin/sellers/{seller_id}/freeze"),
            &[("reason", "<script>alert(1)</script>涉嫌欺诈")],
        )
        .await;
    let page = follow(&b, &r).await;
    assert!(page.text.contains("已冻结该卖家"));
    assert!(!page.text.contains("<script>alert(1)"), "the reason is escaped");
    assert!(escaped(&page.text, "<script>alert(1)</script>涉嫌欺诈"));
    assert_eq!(standing(&t, &seller).await, "frozen");
    assert_eq!(listed(&t, &product).await, (false, false));
    let r = b
        .submit(
            &format!("/admin/sellers/{seller_id}/unfreeze"),
            &[("reason", "核查无误")],
        )
        .await;
    let page = follow(&b, &r).await;
    assert!(page.text.contains("已解除冻结"));
    assert_eq!(standing(&t, &seller).await, "active");
    assert_eq!(listed(&t, &product).await, (true, true));
    t.finish().await;
}

async fn a_ban_changes_nothing_until_its_second_step(t: TestApp) {
    let (seller, seller_id, product) = shop(&t, "ban_me", 2).await;
    let (order, token) = t.guest_order_delivered(&product).await;
    let b = admin_browser(&t, "ops_ban").await;
    let page = b.get(&format!("/admin/sellers/{seller_id}")).await;
    assert!(page.text.contains("1 笔未完成订单（共 ¥15.00）"), "{}", page.text);
    // Step one: what it would do.
    let preview = b
        .submit(
            &format!("/admin/sellers/{seller_id}/ban/preview"),
            &[("reason", "确认欺诈")],
        )
        .await;
    assert_eq!(preview.status, 200, "{}", preview.text);
    assert!(
        preview.text.contains("1 笔未完成订单全额退款给买家"),
        "{}",
        preview.text
    );
    assert!(preview.text.contains("¥15.00"));
    assert!(preview.text.contains(&order));
    assert!(preview.text.contains("我确认封禁"));
    assert_eq!(standing(&t, &seller).await, "active");
    let order_path = format!("/api/v1/orders/{order}?access_token={token}");
    assert_eq!(t.get(&order_path, None).await.body["status"], "delivered");
    // The confirmation form without its box ticked: still nothing.
    let r = b
        .submit(&format!("/admin/sellers/{seller_id}/ban"), &[("reason", "确认欺诈")])
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert!(r.text.contains("尚未做任何更改"));
    assert_eq!(standing(&t, &seller).await, "active");
    // Step two.
    let r = b
        .submit(
            &format!("/admin/sellers/{seller_id}/ban"),
            &[("reason", "确认欺诈"), ("confirm", "yes")],
        )
        .await;
    let page = follow(&b, &r).await;
    assert!(page.text.contains("已封禁该卖家"));
    assert!(
        !page.text.contains("查看封禁影响"),
        "a banned seller has no more actions"
    );
    assert_eq!(standing(&t, &seller).await, "banned");
    t.settle_refunds().await;
    assert_eq!(t.get(&order_path, None).await.body["status"], "refunded");
    // A second ban is refused at its first step.
    b.get(&format!("/admin/sellers/{seller_id}")).await;
    let again = b
        .submit(
            &format!("/admin/sellers/{seller_id}/ban/preview"),
            &[("reason", "再次")],
        )
        .await;
    assert_eq!(again.status, 409, "{}", again.text);
    t.finish().await;
}

const ADMIN_PAGES: &[&str] = &[
    "/admin",
    "/admin/sellers",
    "/admin/reconciliation",
    "/admin/accounts",
    "/admin/rules",
];

async fn only_admins_get_through_the_door_and_only_with_the_form_token(t: TestApp) {
    let (seller, seller_id, _) = shop(&t, "door_seller", 1).await;
    t.user("door_buyer", "buyer").await;
    t.app()
        .register(&Origin::Local, "door_arb", "arb-password", Role::Arbitrator)
        .await
        .unwrap();
    let nobody = Browser::new(&t);
    for page in ADMIN_PAGES {
        let r = nobody.get(page).await;
        assert_eq!(r.status, 303, "{page}");
        assert_eq!(location(&r), "/login", "{page}");
    }
    for (name, password) in [
        ("door_buyer", "correct-horse"),
        ("door_seller", "correct-horse"),
        ("door_arb", "arb-password"),
    ] {
        let b = Browser::new(&t);
        assert_eq!(page_login(&b, name, password).await.status, 303);
        for page in ADMIN_PAGES {
            assert_eq!(b.get(page).await.status, 404, "{name} on {page}");
        }
        b.get("/login").await;
        let r = b
            .submit(&format!("/admin/sellers/{seller_id}/freeze"), &[("reason", "x")])
            .await;
        assert_eq!(r.status, 404, "{name} posting a freeze: {}", r.text);
    }
    assert_eq!(standing(&t, &seller).await, "active");
    // An admin's form without its token (a forged post) changes nothing.
    let b = admin_browser(&t, "ops_door").await;
    b.get(&format!("/admin/sellers/{seller_id}")).await;
    let r = b
        .post_form(&format!("/admin/sellers/{seller_id}/freeze"), &[("reason", "forged")])
        .await;
    assert_eq!(r.status, 403, "{}", r.text);
    let r = b
        .post_form(
            &format!("/admin/sellers/{seller_id}/ban"),
            &[
                ("reason", "forged"),
                ("confirm", "yes"),
                ("csrf_token", "not-the-token"),
            ],
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.text);
    assert_eq!(standing(&t, &seller).await, "active");
    let r = b
        .post_form(
            "/admin/accounts",
            &[
                ("username", "forged_admin"),
                ("password", "forged-password"),
                ("role", "admin"),
            ],
        )
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(
        page_login(&Browser::new(&t), "forged_admin", "forged-password")
            .await
            .status,
        401
    );
    t.finish().await;
}

async fn staff_accounts_are_made_and_disabled_from_the_console(t: TestApp) {
    let b = admin_browser(&t, "ops_accounts").await;
    b.get("/admin/accounts").await;
    let r = b
        .submit(
            "/admin/accounts",
            &[
                ("username", "new_arb"),
                ("password", "arb-pass-123"),
                ("role", "arbitrator"),
            ],
        )
        .await;
    let page = follow(&b, &r).await;
    assert!(page.text.contains("账号已创建") && page.text.contains("new_arb"));
    // A buyer's role cannot be made here, nor a bad name.
    let r = b
        .submit(
            "/admin/accounts",
            &[("username", "x"), ("password", "arb-pass-123"), ("role", "buyer")],
        )
        .await;
    assert_eq!(r.status, 422);
    let r = b
        .submit(
            "/admin/accounts",
            &[("username", "<b>"), ("password", "arb-pass-123"), ("role", "admin")],
        )
        .await;
    assert_eq!(r.status, 422);
    let arb = Browser::new(&t);
    let r = page_login(&arb, "new_arb", "arb-pass-123").await;
    assert_eq!(location(&r), "/arbitration");
    let r = b
        .submit(
            "/admin/accounts",
            &[
                ("username", "new_admin"),
                ("password", "adm-pass-123"),
                ("role", "admin"),
            ],
        )
        .await;
    follow(&b, &r).await;
    let second = Browser::new(&t);
    assert_eq!(
        location(&page_login(&second, "new_admin", "adm-pass-123").await),
        "/admin"
    );
    assert_eq!(second.get("/admin").await.status, 200);
    let (api_token, _) = t.user("disable_me", "seller").await;
    b.get("/admin/accounts").await;
    let page = follow(
        &b,
        &b.submit("/admin/accounts/disable", &[("username", "new_admin")]).await,
    )
    .await;
    assert!(page.text.contains("账号已停用") && page.text.contains("已停用"));
    // The open session is gone, and the password no longer logs in.
    let r = second.get("/admin").await;
    assert_eq!((r.status, location(&r).as_str()), (303, "/login"));
    assert_eq!(
        page_login(&Browser::new(&t), "new_admin", "adm-pass-123").await.status,
        401
    );
    // Any role: a seller's API token stops working too.
    assert_eq!(t.get("/api/v1/seller/balance", Some(&api_token)).await.status, 200);
    b.get("/admin/accounts").await;
    follow(
        &b,
        &b.submit("/admin/accounts/disable", &[("username", "disable_me")]).await,
    )
    .await;
    assert_eq!(t.get("/api/v1/seller/balance", Some(&api_token)).await.status, 401);
    let r = t
        .post(
            "/api/v1/sessions",
            None,
            json!({"username": "disable_me", "password": "correct-horse"}),
        )
        .await;
    assert_eq!(r.status, 401, "{}", r.text);
    // Not oneself, and not someone who does not exist.
    b.get("/admin/accounts").await;
    let r = b
        .submit("/admin/accounts/disable", &[("username", "ops_accounts")])
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
    let r = b
        .submit("/admin/accounts/disable", &[("username", "nobody_here")])
        .await;
    assert_eq!(r.status, 404, "{}", r.text);
    assert_eq!(b.get("/admin").await.status, 200);
    t.finish().await;
}

async fn a_rules_version_is_published_and_diffed_from_the_console(t: TestApp) {
    let (_, _, product) = shop(&t, "rules_shop", 3).await;
    let before = t.guest_order(&product, 1).await;
    let v1 = before.body["rule_version"].as_i64().unwrap();
    let b = admin_browser(&t, "ops_rules").await;
    let page = b.get("/admin/rules").await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(
        page.text.contains(&format!("v{v1} <span class=\"status\">当前</span>")),
        "{}",
        page.text
    );
    let text = {
        let start = page.text.find("<textarea name=\"rules\"").unwrap();
        let body_start = start + page.text[start..].find('>').unwrap() + 1;
        let end = body_start + page.text[body_start..].find("</textarea>").unwrap();
        unescape(&page.text[body_start..end])
    };
    assert!(text.contains("acceptance_window_card_key_hours"), "{text}");
    // Unchanged, or invalid: refused, nothing published.
    let r = b.submit("/admin/rules", &[("rules", &text)]).await;
    assert_eq!(r.status, 422, "{}", r.text);
    let r = b.submit("/admin/rules", &[("rules", "this is not toml")]).await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert!(r.text.contains("未发布"));
    let changed: String = text
        .lines()
        .map(|l| {
            if l.starts_with("acceptance_window_card_key_hours") {
                "acceptance_window_card_key_hours = 96".to_string()
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    assert_ne!(changed, text, "the window is in the published text");
    let r = b.submit("/admin/rules", &[("rules", &changed)]).await;
    let page = follow(&b, &r).await;
    assert!(page.text.contains("新版本规则已发布"));
    let v2 = v1 + 1;
    assert!(page.text.contains(&format!("v{v2} <span class=\"status\">当前</span>")));
    assert!(
        page.text.contains("+ acceptance_window_card_key_hours = 96"),
        "{}",
        page.text
    );
    assert!(page.text.contains("- acceptance_window_card_key_hours = "));
    // New orders are made under it; the order made before keeps its own.
    let after = t.guest_order(&product, 1).await;
    assert_eq!(after.body["rule_version"], v2, "{}", after.text);
    let order = before.body["id"].as_str().unwrap();
    let token = before.body["access_token"].as_str().unwrap();
    let old = t
        .get(&format!("/api/v1/orders/{order}?access_token={token}"), None)
        .await;
    assert_eq!(old.body["rule_version"], v1);
    assert_eq!(t.get("/api/v1/rules", None).await.body["version"], v2);
    t.finish().await;
}

/// An admin who chose English sees every page of the console in English: health (with a
/// failed job and the ledger checked), sellers, one seller, the ban's confirmation (and
/// its refusal without the box ticked), reconciliation, rules with a diff, accounts, the
/// messages of what was done and the refusals of its forms.
async fn the_console_speaks_english(t: TestApp) {
    let job = a_dead_refund_job(&t).await;
    let (seller_token, seller_id, product) = shop(&t, "en_shop", 2).await;
    let (order, _) = t.guest_order_delivered(&product).await;
    t.app()
        .register(&Origin::Local, "ops_english", ADMIN_PASSWORD, Role::Admin)
        .await
        .unwrap();
    let b = Browser::new(&t);
    let switched = b.get("/lang/en?back=/admin").await;
    assert_eq!(switched.status, 303, "{}", switched.text);
    let r = page_login(&b, "ops_english", ADMIN_PASSWORD).await;
    assert_eq!(location(&r), "/admin");

    let health = b.get("/admin").await;
    in_english(
        "health",
        &health,
        200,
        &[
            "Health",
            "Ledger check",
            "Background jobs",
            "Failed jobs",
            "Queue again",
            &job,
        ],
    );
    let r = b.submit("/admin/ledger-check", &[]).await;
    let checked = follow(&b, &r).await;
    in_english(
        "health checked",
        &checked,
        200,
        &["The ledger check is done", "Every invariant holds.", "Last checked: "],
    );

    let sellers = b.get("/admin/sellers?q=en_").await;
    in_english(
        "sellers",
        &sellers,
        200,
        &[
            "Compensation fund",
            "In escrow",
            "Owed to the platform",
            "en_shop",
            "active",
        ],
    );
    let none = b.get("/admin/sellers?q=nobody_at_all").await;
    in_english("no sellers", &none, 200, &["No seller matches."]);
    let seller_path = format!("/admin/sellers/{seller_id}");
    let seller = b.get(&seller_path).await;
    in_english(
        "a seller",
        &seller,
        200,
        &[
            "Seller en_shop",
            "A ban cannot be undone: 1 open order (¥15.00 in all)",
            "Freeze",
            "Reason (required)",
        ],
    );
    let r = b.submit(&format!("{seller_path}/freeze"), &[("reason", " ")]).await;
    in_english("a freeze without its reason", &r, 422, &["Please fill in the reason"]);
    let preview = b
        .submit(&format!("{seller_path}/ban/preview"), &[("reason", "proven fraud")])
        .await;
    in_english(
        "the ban's confirmation",
        &preview,
        200,
        &[
            "Confirm the ban of seller en_shop",
            "1 open order refunded in full",
            "Delivered, not confirmed",
            &order,
            "proven fraud",
        ],
    );
    let r = b
        .submit(&format!("{seller_path}/ban"), &[("reason", "proven fraud")])
        .await;
    in_english(
        "the ban without its box ticked",
        &r,
        422,
        &["Tick the ban confirmation, then submit; nothing has changed yet"],
    );
    assert_eq!(standing(&t, &seller_token).await, "active");

    let recon = b.get("/admin/reconciliation").await;
    in_english(
        "reconciliation",
        &recon,
        200,
        &[
            "Open exceptions (1)",
            "Missing at the provider",
            "Acknowledge",
            "Reconciliation runs",
            "Day (UTC)",
        ],
    );
    let resolve = recon
        .text
        .split("action=\"/admin/reconciliation/exceptions/")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the exception's form")
        .to_string();
    let r = b
        .submit(
            &format!("/admin/reconciliation/exceptions/{resolve}"),
            &[("action", "acknowledge"), ("note", " ")],
        )
        .await;
    in_english("an exception without its note", &r, 422, &["Please fill in the note"]);
    let r = b.submit("/admin/reconciliation", &[("day", "2026-11-25")]).await;
    let ran = follow(&b, &r).await;
    in_english(
        "a reconciliation run",
        &ran,
        200,
        &["The reconciliation is done", "Matched", "Amount mismatch"],
    );
    let r = b.submit("/admin/reconciliation", &[("day", "someday")]).await;
    in_english(
        "a reconciliation without a day",
        &r,
        422,
        &["Choose the day to reconcile"],
    );

    // Rules: two versions in plain ASCII, so their diff is all English.
    let page = b.get("/admin/rules").await;
    assert_eq!(page.status, 200, "{}", page.text);
    let text = {
        let start = page.text.find("<textarea name=\"rules\"").unwrap();
        let body_start = start + page.text[start..].find('>').unwrap() + 1;
        let end = body_start + page.text[body_start..].find("</textarea>").unwrap();
        unescape(&page.text[body_start..end])
    };
    let with_window = |hours: u32| -> String {
        text.lines()
            .filter(|l| l.is_ascii())
            .map(|l| {
                if l.starts_with("acceptance_window_card_key_hours") {
                    format!("acceptance_window_card_key_hours = {hours}")
                } else {
                    l.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    follow(&b, &b.submit("/admin/rules", &[("rules", &with_window(96))]).await).await;
    let r = b.submit("/admin/rules", &[("rules", &with_window(72))]).await;
    let rules = follow(&b, &r).await;
    in_english(
        "rules with a diff",
        &rules,
        200,
        &[
            "The new rules version is published",
            "4 lines differ",
            "+ acceptance_window_card_key_hours = 72",
            "Compare with v",
            "current",
        ],
    );
    let r = b.submit("/admin/rules", &[("rules", "this is not toml")]).await;
    in_english(
        "rules refused",
        &r,
        422,
        &["The rules failed the checks and were not published"],
    );

    let accounts = b.get("/admin/accounts").await;
    in_english(
        "accounts",
        &accounts,
        200,
        &[
            "New staff account",
            "Disable an account",
            "Administrator",
            "ops_english",
        ],
    );
    let r = b
        .submit(
            "/admin/accounts",
            &[
                ("username", "en_arbitrator"),
                ("password", "long-enough-1"),
                ("role", "arbitrator"),
            ],
        )
        .await;
    let made = follow(&b, &r).await;
    in_english(
        "an account made",
        &made,
        200,
        &["The account is created", "en_arbitrator", "Arbitrator"],
    );
    let r = b
        .submit(
            "/admin/accounts",
            &[
                ("username", "en_other"),
                ("password", "long-enough-1"),
                ("role", "buyer"),
            ],
        )
        .await;
    in_english(
        "an account without a staff role",
        &r,
        422,
        &["Choose a role: arbitrator or administrator"],
    );
    let r = b
        .submit("/admin/accounts/disable", &[("username", "no_such_person")])
        .await;
    in_english("disabling nobody", &r, 404, &["No account has that username"]);
    // The failed job, queued again from the console; it fails again (the provider never
    // had the payment), so the test ends with it pending on purpose.
    let r = b.submit(&format!("/admin/jobs/{job}/requeue"), &[]).await;
    let requeued = follow(&b, &r).await;
    in_english(
        "a job queued again",
        &requeued,
        200,
        &["The job is queued again", "No failed jobs."],
    );
    t.finish_with_pending_jobs().await;
}

/// A page in English: its status, `<html lang="en">`, no Chinese (the language switch's
/// own label aside) and the `expected` words.
fn in_english(what: &str, page: &Resp, status: u16, expected: &[&str]) {
    assert_eq!(page.status, status, "{what}: {}", page.text);
    danbao_testkit::assert_in_english(what, page);
    for word in expected {
        assert!(page.text.contains(word), "{what}: no {word:?} in:\n{}", page.text);
    }
}

/// The same in a real browser: the admin logs in, requeues a dead job and freezes a
/// seller (ui-tests/admin.mjs), with screenshots at 390 and 1280 px wide.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_admin_works_the_console_in_chromium() {
    if !danbao_testkit::browser_ready() {
        return;
    }
    let ui = danbao_testkit::ui_tests_dir();
    let t = TestApp::sqlite().await;
    let job = a_dead_refund_job(&t).await;
    let (seller, _, product) = shop(&t, "chromium_shop", 1).await;
    t.app()
        .register(&Origin::Local, "ops_chromium", ADMIN_PASSWORD, Role::Admin)
        .await
        .unwrap();
    let shots = danbao_testkit::ui_shots_dir("admin");
    let out = tokio::process::Command::new("node")
        .arg(ui.join("admin.mjs"))
        .arg(&t.url)
        .arg("ops_chromium")
        .arg(ADMIN_PASSWORD)
        .arg("chromium_shop")
        .arg(&product)
        .arg(&shots)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "browser run failed:\n{stdout}\n{stderr}");
    assert!(
        stdout.contains("ok: requeued a job and froze chromium_shop"),
        "{stdout}"
    );
    // What the browser did is what the platform recorded.
    assert!(jobs(&t, "queued").await.iter().any(|j| j["id"] == job));
    assert_eq!(standing(&t, &seller).await, "frozen");
    assert_eq!(listed(&t, &product).await, (false, false));
    for shot in [
        "health-390.png",
        "health-1280.png",
        "seller-390.png",
        "seller-1280.png",
        "en-health-390.png",
        "en-health-1280.png",
        "en-accounts-390.png",
        "en-accounts-1280.png",
    ] {
        assert!(shots.join(shot).exists(), "{shot}");
    }
    t.finish_with_pending_jobs().await;
}

async fn reconciliation_exceptions_are_resolved_from_the_console(t: TestApp) {
    a_short_payment(&t, "recon_seller").await;
    let b = admin_browser(&t, "ops_recon").await;
    let page = b.get("/admin/reconciliation").await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(
        page.text.contains("金额不符") && page.text.contains("tx-ghost"),
        "{}",
        page.text
    );
    assert!(page.text.contains(">退款</button>") && page.text.contains(">确认无误</button>"));
    let admin = t.admin().await;
    let overview = t.get("/api/v1/admin/reconciliation", Some(&admin)).await;
    let id = overview.body["open_exceptions"][0]["id"].as_str().unwrap().to_string();
    let path = format!("/admin/reconciliation/exceptions/{id}/resolve");
    // A note is required; nothing changes without one.
    let r = b.submit(&path, &[("action", "acknowledge"), ("note", "")]).await;
    assert_eq!(r.status, 422, "{}", r.text);
    let r = b
        .submit(
            &path,
            &[("action", "acknowledge"), ("note", "已与渠道核对，<b>无误</b>")],
        )
        .await;
    let page = follow(&b, &r).await;
    assert!(page.text.contains("异常已处理"));
    assert!(!page.text.contains(&path));
    let overview = t.get("/api/v1/admin/reconciliation", Some(&admin)).await;
    assert_eq!(
        overview.body["open_exceptions"].as_array().unwrap().len(),
        0,
        "{}",
        overview.text
    );
    // Resolved once only.
    let r = b.submit(&path, &[("action", "refund"), ("note", "again")]).await;
    assert_eq!(r.status, 409, "{}", r.text);
    // A day's statement, reconciled from the page.
    let today = danbao_app::clock::rfc3339(t.now())[..10].to_string();
    b.get("/admin/reconciliation").await;
    let r = b.submit("/admin/reconciliation", &[("day", &today)]).await;
    let page = follow(&b, &r).await;
    assert!(page.text.contains("对账已完成"));
    let runs = t.get("/api/v1/admin/reconciliation", Some(&admin)).await.body["runs"].clone();
    assert!(
        runs.as_array()
            .unwrap()
            .iter()
            .any(|r| r["from"].as_str().unwrap().starts_with(&today)),
        "{runs}"
    );
    let r = b.submit("/admin/reconciliation", &[("day", "not-a-day")]).await;
    assert_eq!(r.status, 422);
    t.finish().await;
}
