//! A buyer who leaves the cashier finds the order again, and the card key is shown well
//! (issue 11 items 1 and 2): the short order number, 查单 by contact and query password
//! alone (contacts compared normalised), a guest browser's 我的订单, the key shown at once
//! on the delivered order page (each view a recorded reveal) with a copy button, and the
//! reveal address that is never a dead end.

use danbao_testkit::{Browser, Resp, TestApp};
use serde_json::json;

on_both_databases!(
    a_guest_finds_their_orders_by_contact_and_password,
    the_order_number_opens_the_order_in_lookup,
    a_delivered_order_shows_the_key_at_once,
);

const CONTACT: &str = "qq 10086123";
const PASSWORD: &str = "find-pass-1";

/// A guest's order through the API; returns (id, number, access token, payment id).
async fn place(t: &TestApp, product: &str, contact: &str, password: &str) -> (String, String, String, String) {
    let r = t
        .post(
            "/api/v1/orders",
            None,
            json!({"product_id": product, "quantity": 1, "contact": contact, "query_password": password}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let s = |k: &str| r.body[k].as_str().unwrap().to_string();
    (
        s("id"),
        s("number"),
        s("access_token"),
        r.body["payment"]["payment_id"].as_str().unwrap().to_string(),
    )
}

/// `DB` + the date (eight digits) + `-` + five characters without 0/O, 1/I/L or U.
fn is_order_number(n: &str) -> bool {
    let Some((date, suffix)) = n.strip_prefix("DB").and_then(|r| r.split_once('-')) else {
        return false;
    };
    date.len() == 8
        && date.bytes().all(|b| b.is_ascii_digit())
        && suffix.len() == 5
        && suffix.bytes().all(|b| b"23456789ABCDEFGHJKMNPQRSTVWXYZ".contains(&b))
}

fn order_cookies(b: &Browser<'_>) -> Vec<String> {
    b.cookies()
        .into_iter()
        .filter_map(|c| {
            c.strip_prefix("danbao_order_")
                .map(|c| c.split('=').next().unwrap().to_string())
        })
        .collect()
}

/// The page's one error line, if any.
fn error_of(r: &Resp) -> Option<&str> {
    let start = r.text.find("role=\"alert\">")? + "role=\"alert\">".len();
    let len = r.text[start..].find('<')?;
    Some(&r.text[start..start + len])
}

async fn a_guest_finds_their_orders_by_contact_and_password(t: TestApp) {
    let (seller, _) = t.user("find_seller", "seller").await;
    let product = t.card_product(&seller, 1200, 10).await;
    let (first, first_no, _, _) = place(&t, &product, CONTACT, PASSWORD).await;
    t.advance(1000);
    let (second, second_no, _, payment) = place(&t, &product, "QQ 10086 123", PASSWORD).await;
    // Another buyer with the same password, and this buyer's contact with another password.
    t.advance(1000);
    let (_, stranger_no, _, _) = place(&t, &product, "qq 777", PASSWORD).await;
    let (_, other_pw_no, _, _) = place(&t, &product, CONTACT, "another-pass").await;
    for n in [&first_no, &second_no, &stranger_no, &other_pw_no] {
        assert!(is_order_number(n), "{n}");
    }
    assert_ne!(first_no, second_no);
    t.pay(&payment).await;

    // 查单 with contact and password alone, written another way: both orders, each now
    // opened in this browser; nobody else's, nor the one under another password.
    let b = Browser::new(&t);
    let form = b.get("/lookup").await;
    assert_eq!(form.status, 200, "{}", form.text);
    let found = b
        .submit(
            "/lookup",
            &[
                ("contact", "QQ10086123"),
                ("query_password", PASSWORD),
                ("order_id", ""),
            ],
        )
        .await;
    assert_eq!(found.status, 200, "{}", found.text);
    assert!(
        found.text.contains(&first_no) && found.text.contains(&second_no),
        "{}",
        found.text
    );
    assert!(
        !found.text.contains(&stranger_no) && !found.text.contains(&other_pw_no),
        "{}",
        found.text
    );
    assert!(!found.text.contains(PASSWORD));
    let mut held = order_cookies(&b);
    held.sort();
    let mut expected = vec![first.clone(), second.clone()];
    expected.sort();
    assert_eq!(held, expected);
    // The cookie opens the order page (the paid one is delivered by now or soon).
    let page = b.get(&format!("/orders/{first}")).await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(page.text.contains(&first_no), "the order page shows its number");

    // The browser remembers: 我的订单 (in the header) lists both, newest first.
    let mine = b.get("/my-orders").await;
    assert_eq!(mine.status, 200, "{}", mine.text);
    assert!(mine.text.contains("href=\"/my-orders\""), "the header links 我的订单");
    let (at_first, at_second) = (mine.text.find(&first_no).unwrap(), mine.text.find(&second_no).unwrap());
    assert!(at_second < at_first, "newest first: {}", mine.text);
    assert!(!mine.text.contains(&stranger_no));
    // A browser that holds nothing lists nothing (and is pointed to 查单).
    let fresh = Browser::new(&t);
    let empty = fresh.get("/my-orders").await;
    assert_eq!(empty.status, 200);
    assert!(!empty.text.contains(&first_no) && empty.text.contains("本浏览器中还没有订单"));

    // A wrong password and an unknown contact get the same answer, and no cookie.
    let wrong = Browser::new(&t);
    wrong.get("/lookup").await;
    let bad_password = wrong
        .submit("/lookup", &[("contact", CONTACT), ("query_password", "not-the-pass")])
        .await;
    let unknown = Browser::new(&t);
    unknown.get("/lookup").await;
    let no_contact = unknown
        .submit("/lookup", &[("contact", "qq 55555555"), ("query_password", PASSWORD)])
        .await;
    for r in [&bad_password, &no_contact] {
        assert_eq!(r.status, 404, "{}", r.text);
        assert_eq!(error_of(r), Some("订单不存在或密码错误"), "{}", r.text);
        assert!(!r.text.contains(&first_no) && !r.text.contains(&other_pw_no));
    }
    assert!(order_cookies(&wrong).is_empty() && order_cookies(&unknown).is_empty());

    // The API's 查单 does the same: without an order id, the list.
    let api = t
        .post(
            "/api/v1/orders/lookup",
            None,
            json!({"contact": "qq10086123", "query_password": PASSWORD}),
        )
        .await;
    assert_eq!(api.status, 200, "{}", api.text);
    let items = api.body["items"].as_array().unwrap();
    let numbers: Vec<&str> = items.iter().map(|i| i["order"]["number"].as_str().unwrap()).collect();
    assert_eq!(numbers, vec![second_no.as_str(), first_no.as_str()], "{}", api.text);
    let token = items[0]["access_token"].as_str().unwrap();
    let read = t
        .get(&format!("/api/v1/orders/{second}?access_token={token}"), None)
        .await;
    assert_eq!(read.status, 200, "{}", read.text);
    for body in [
        json!({"contact": CONTACT, "query_password": "not-the-pass"}),
        json!({"contact": "qq 55555555", "query_password": PASSWORD}),
    ] {
        let r = t.post("/api/v1/orders/lookup", None, body).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body, json!({"items": []}));
    }
    t.finish().await;
}

async fn the_order_number_opens_the_order_in_lookup(t: TestApp) {
    let (seller, _) = t.user("number_seller", "seller").await;
    let product = t.card_product(&seller, 800, 2).await;
    let (order, number, token, _) = place(&t, &product, CONTACT, PASSWORD).await;

    // The order page shows the number before payment, with the way back.
    let buyer = Browser::new(&t);
    buyer.get(&format!("/orders/{order}?access_token={token}")).await;
    let pending = buyer.get(&format!("/orders/{order}")).await;
    assert_eq!(pending.status, 200, "{}", pending.text);
    assert!(
        pending.text.contains(&number) && pending.text.contains("去支付"),
        "{}",
        pending.text
    );
    assert!(
        pending.text.contains("凭下单时的联系方式和查单密码找回"),
        "{}",
        pending.text
    );
    // The API shows it too, and reads the order by it.
    let by_number = t
        .get(&format!("/api/v1/orders/{number}?access_token={token}"), None)
        .await;
    assert_eq!(by_number.status, 200, "{}", by_number.text);
    assert_eq!(by_number.body["id"], order.as_str());
    assert_eq!(by_number.body["number"], number.as_str());

    // 查单 with the number (typed in lower case, with spaces around) leads to the order.
    let b = Browser::new(&t);
    b.get("/lookup").await;
    let typed = format!("  {}  ", number.to_lowercase());
    let r = b
        .submit(
            "/lookup",
            &[
                ("order_id", &typed),
                ("contact", "QQ10086123"),
                ("query_password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    assert_eq!(r.headers.get("location").unwrap(), &format!("/orders/{order}"));
    assert_eq!(order_cookies(&b), vec![order.clone()]);
    // A wrong password with the number: the one answer.
    let other = Browser::new(&t);
    other.get("/lookup").await;
    let r = other
        .submit(
            "/lookup",
            &[
                ("order_id", &number),
                ("contact", CONTACT),
                ("query_password", "not-the-pass"),
            ],
        )
        .await;
    assert_eq!(r.status, 404, "{}", r.text);
    assert_eq!(error_of(&r), Some("订单不存在或密码错误"));
    // And through the API.
    let api = t
        .post(
            "/api/v1/orders/lookup",
            None,
            json!({"order_id": number, "contact": CONTACT, "query_password": PASSWORD}),
        )
        .await;
    assert_eq!(api.status, 200, "{}", api.text);
    assert_eq!(api.body["order"]["id"], order.as_str());
    assert!(api.body["access_token"].is_string());
    t.finish().await;
}

fn reveals(t: &Resp) -> usize {
    t.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "delivery_revealed")
        .count()
}

async fn a_delivered_order_shows_the_key_at_once(t: TestApp) {
    let (seller, _) = t.user("key_seller", "seller").await;
    let product = t.card_product(&seller, 1500, 1).await;
    let (order, token) = t.guest_order_delivered(&product).await;
    let timeline = || async {
        t.get(&format!("/api/v1/orders/{order}/timeline?access_token={token}"), None)
            .await
    };
    assert_eq!(reveals(&timeline().await), 0);

    // The buyer arrives with their access: the key is there at once, with a copy button
    // (shown by the one same-origin script), and the view is recorded.
    let b = Browser::new(&t);
    b.get(&format!("/orders/{order}?access_token={token}")).await;
    let page = b.get(&format!("/orders/{order}")).await;
    assert_eq!(page.status, 200, "{}", page.text);
    let key = format!("KEY-{product}-0");
    assert!(page.text.contains(&key), "{}", page.text);
    assert!(
        page.text.contains("data-copy=\"key-1\"") && page.text.contains("id=\"key-1\""),
        "{}",
        page.text
    );
    assert!(page.text.contains("<script src=\"/static/copy-v1.js\" defer></script>"));
    assert!(!page.text.contains("查看卡密"), "no extra click");
    let csp = page.headers.get("content-security-policy").unwrap().to_str().unwrap();
    assert!(csp.split(';').any(|d| d.trim() == "script-src 'self'"), "{csp}");
    assert_eq!(page.headers.get("cache-control").unwrap(), "no-store");
    assert_eq!(reveals(&timeline().await), 1);
    // One recorded reveal per page view.
    b.get(&format!("/orders/{order}")).await;
    assert_eq!(reveals(&timeline().await), 2);

    // The script itself: JavaScript, cached for long.
    let js = b.get("/static/copy-v1.js").await;
    assert_eq!(js.status, 200);
    assert!(js
        .headers
        .get("content-type")
        .unwrap()
        .to_str()
        .unwrap()
        .starts_with("application/javascript"));
    assert!(js
        .headers
        .get("cache-control")
        .unwrap()
        .to_str()
        .unwrap()
        .contains("max-age=31536000"));
    assert!(js.text.contains("data-copy"));

    // The old reveal button's address: POST → 303 → the order page; opened by GET (a
    // reload, history) it leads there too, never a 405. Neither records a reveal itself.
    let posted = b.submit(&format!("/orders/{order}/reveal"), &[]).await;
    assert_eq!(posted.status, 303, "{}", posted.text);
    let location = posted.headers.get("location").unwrap().to_str().unwrap().to_string();
    assert_eq!(location, format!("/orders/{order}#delivery"));
    let reopened = b.get(&format!("/orders/{order}/reveal")).await;
    assert_eq!(reopened.status, 303, "{}", reopened.text);
    assert_eq!(reveals(&timeline().await), 2);
    let after = b.get(&location).await;
    assert_eq!(after.status, 200, "{}", after.text);
    assert!(after.text.contains(&key));
    assert_eq!(reveals(&timeline().await), 3);

    // The seller's view of the order neither shows nor records the key; a stranger's
    // reveal address finds nothing.
    let s = Browser::new(&t);
    s.get("/login").await;
    s.submit("/login", &[("username", "key_seller"), ("password", "correct-horse")])
        .await;
    let seen = s.get(&format!("/orders/{order}")).await;
    assert_eq!(seen.status, 200, "{}", seen.text);
    assert!(!seen.text.contains(&key));
    let stranger = Browser::new(&t);
    stranger.get("/lookup").await;
    let r = stranger.submit(&format!("/orders/{order}/reveal"), &[]).await;
    assert_eq!(r.status, 404, "{}", r.text);
    assert_eq!(reveals(&timeline().await), 3);
    t.finish().await;
}

/// The browser walk (SQLite; the pages are database-blind and covered on both
/// above): buy as a guest, leave at the cashier, find the order again by contact and
/// password, pay, the key with its copy button, reload.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_guest_finds_the_way_back_in_chromium() {
    if !danbao_testkit::browser_ready() {
        return;
    }
    let t = TestApp::sqlite().await;
    let (seller, _) = t.user("ui_find_seller", "seller").await;
    let r = t
        .post(
            "/api/v1/seller/products",
            Some(&seller),
            json!({"title": "找回测试点卡", "description": "d", "category": "game_cards", "price_minor": 1000, "delivery_kind": "card_key"}),
        )
        .await;
    let product = r.body["id"].as_str().unwrap().to_string();
    let r = t
        .raw(
            t.http
                .post(format!("{}/api/v1/seller/products/{product}/card-keys", t.url))
                .bearer_auth(&seller)
                .header("content-type", "text/plain")
                .body("FIND-KEY-0001-ABCD\n"),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);

    let shots = danbao_testkit::ui_shots_dir("buyer-find");
    let out = tokio::process::Command::new("node")
        .arg(danbao_testkit::ui_tests_dir().join("buyer_find.mjs"))
        .args([&t.url, "找回测试点卡", CONTACT, "QQ10086123", PASSWORD])
        .arg(&shots)
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/e2e/console_arb_screenshot.png"
        ))
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "browser run failed:\n{stdout}\n{stderr}");
    assert!(
        stdout.contains("ok: found DB") && stdout.contains("FIND-KEY-0001-ABCD"),
        "{stdout}"
    );
    // What the browser did is what the platform recorded: the order it found again is
    // paid and delivered, and each view of the key (the first, the reload) is recorded.
    let found = t
        .post(
            "/api/v1/orders/lookup",
            None,
            json!({"contact": CONTACT, "query_password": PASSWORD}),
        )
        .await;
    let items = found.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{}", found.text);
    let order = items[0]["order"]["id"].as_str().unwrap();
    // Delivered, then complained about: the money is frozen under the complaint.
    assert_eq!(items[0]["order"]["status"], "disputed", "{}", found.text);
    assert!(
        stdout.contains(items[0]["order"]["number"].as_str().unwrap()),
        "{stdout}"
    );
    let token = items[0]["access_token"].as_str().unwrap();
    let timeline = t
        .get(&format!("/api/v1/orders/{order}/timeline?access_token={token}"), None)
        .await;
    assert!(reveals(&timeline) >= 2, "{}", timeline.text);
    // The complaint it opened holds the screenshot it uploaded.
    let complaints = t
        .get(&format!("/api/v1/orders/{order}/complaints?access_token={token}"), None)
        .await;
    let complaints = complaints.body["items"].as_array().unwrap();
    assert_eq!(complaints.len(), 1);
    assert_eq!(complaints[0]["kind"], "not_as_described");
    let complaint = complaints[0]["id"].as_str().unwrap();
    let complaint = t
        .get(&format!("/api/v1/complaints/{complaint}?access_token={token}"), None)
        .await;
    let files: Vec<_> = complaint.body["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["media_type"] == "image/png")
        .collect();
    assert_eq!(files.len(), 1, "{}", complaint.text);
    let png = std::fs::metadata(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/e2e/console_arb_screenshot.png"
    ))
    .unwrap();
    assert_eq!(files[0]["size_bytes"], png.len());
    for name in [
        "1-product",
        "3-left",
        "4-found",
        "5-pending",
        "7-key",
        "8-reloaded",
        "9-complaint",
        "10-complaint-en",
        "11-order-en",
        "12-product-en",
        "13-lookup-en",
    ] {
        for width in [1280, 390] {
            assert!(shots.join(format!("{name}-{width}.png")).exists(), "{name}-{width}");
        }
    }
    t.finish().await;
}
