//! Issue 11 item 8: a buyer who reads English gets every page of the purchase in English,
//! chosen by the browser's `Accept-Language` or by the switch in the header (a cookie that
//! outlives the session), and a refused field says so beside the field, in either language.

use danbao_testkit::{Browser, Resp, TestApp};

on_both_databases!(
    a_buyer_reads_every_page_in_english,
    the_language_follows_the_browser_until_the_buyer_switches,
);

async fn a_buyer_reads_every_page_in_english(t: TestApp) {
    let (seller, _) = t.user("steam_shop", "seller").await;
    // What sellers write is shown as written: this one writes English.
    let product = t
        .card_product_titled(
            &seller,
            "Steam Wallet 50",
            "A Steam wallet card key, USD 50.",
            34_000,
            3,
        )
        .await;
    let b = Browser::new(&t);
    let switched = b.get("/lang/en?back=/rules").await;
    assert_eq!(switched.status, 303, "{}", switched.text);
    assert_eq!(switched.headers.get("location").unwrap(), "/rules");
    assert_eq!(b.cookie("danbao_lang").as_deref(), Some("en"));
    let set = switched.headers.get("set-cookie").unwrap().to_str().unwrap();
    assert!(set.contains("Max-Age=31536000") && set.contains("HttpOnly"), "{set}");

    for (path, says) in [
        ("/", "Steam Wallet 50"),
        ("/?q=steam", "Steam Wallet 50"),
        ("/?category=game_cards", "Steam Wallet 50"),
        ("/?q=nothing-like-this", "No products"),
        (&*format!("/products/{product}"), "in stock"),
        ("/rules", "Platform fee"),
        ("/lookup", "Find my order"),
        ("/my-orders", "Find my order"),
        ("/login", "Log in"),
    ] {
        let page = b.get(path).await;
        assert_eq!(page.status, 200, "{path}: {}", page.text);
        danbao_testkit::assert_in_english(path, &page);
        assert!(page.text.contains(says), "{path} lacks {says:?}: {}", page.text);
    }
    let missing = b.get("/products/00000000000000000000000000").await;
    assert_eq!(missing.status, 404);
    danbao_testkit::assert_in_english("a missing product", &missing);

    // A refused purchase names the field, beside it, in English; the typed contact stays.
    let refused = buy_many(&b, &product).await;
    assert_eq!(refused.status, 422, "{}", refused.text);
    danbao_testkit::assert_in_english("a refused purchase", &refused);
    assert!(
        refused.text.contains(r#"id="quantity-error""#) && refused.text.contains(r#"aria-invalid="true""#),
        "{}",
        refused.text
    );
    assert!(refused.text.contains(r#"value="qq:777""#), "{}", refused.text);

    // The order, confirmed, then complained about with a screenshot: all in English.
    let (order, token) = t.guest_order_delivered(&product).await;
    b.get(&format!("/orders/{order}?access_token={token}")).await;
    let page = b.get(&format!("/orders/{order}")).await;
    assert_eq!(page.status, 200, "{}", page.text);
    danbao_testkit::assert_in_english("the delivered order", &page);
    assert!(page.text.contains("Confirm receipt"), "{}", page.text);
    let shown = b.submit(&format!("/orders/{order}/reveal"), &[]).await;
    assert_eq!(shown.status, 303, "{}", shown.text);
    let page = b.get(&format!("/orders/{order}")).await;
    danbao_testkit::assert_in_english("the order with its key shown", &page);
    assert!(page.text.contains(&format!("KEY-{product}-0")), "{}", page.text);
    let confirmed = b.submit(&format!("/orders/{order}/confirm"), &[]).await;
    assert_eq!(confirmed.status, 303, "{}", confirmed.text);
    let page = b.get(&format!("/orders/{order}")).await;
    danbao_testkit::assert_in_english("the completed order", &page);
    assert!(page.text.contains("Completed"), "{}", page.text);

    let opened = b
        .submit(
            &format!("/orders/{order}/complaints"),
            &[
                ("kind", "not_as_described"),
                ("description", "The card was worth 20, not 50"),
            ],
        )
        .await;
    assert_eq!(opened.status, 303, "{}", opened.text);
    let location = opened.headers.get("location").unwrap().to_str().unwrap().to_string();
    let complaint = b.get(&location).await;
    assert_eq!(complaint.status, 200);
    danbao_testkit::assert_in_english("the complaint", &complaint);
    // It names the order by the number the buyer knows, linking to it.
    let number = t
        .get(&format!("/api/v1/orders/{order}?access_token={token}"), None)
        .await
        .body["number"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        complaint.text.contains(&format!(
            r#"<a href="/orders/{order}" id="order-link"><code>{number}</code></a>"#
        )),
        "{}",
        complaint.text
    );
    let id = location.trim_start_matches("/complaints/");
    let png = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/e2e/console_arb_screenshot.png"
    ))
    .unwrap();
    let csrf = b.form_token().unwrap();
    let uploaded = b
        .post_multipart(&format!("/complaints/{id}/files"), &[("csrf_token", &csrf)], &png)
        .await;
    assert_eq!(uploaded.status, 303, "{}", uploaded.text);
    let complaint = b.get(&location).await;
    danbao_testkit::assert_in_english("the complaint with a screenshot", &complaint);
    assert!(complaint.text.contains(r#"class="thumb""#), "{}", complaint.text);

    // Switching back is one click and holds on the next page.
    let back = b.get(&format!("/lang/zh?back={location}")).await;
    assert_eq!(back.headers.get("location").unwrap().to_str().unwrap(), location);
    let complaint = b.get(&location).await;
    assert!(complaint.text.contains(r#"<html lang="zh-CN">"#), "{}", complaint.text);
    assert!(complaint.text.contains("等待卖家回应"), "{}", complaint.text);
    // The refused field is marked beside itself in Chinese, too.
    let refused = buy_many(&b, &product).await;
    assert_eq!(refused.status, 422, "{}", refused.text);
    assert!(
        refused
            .text
            .contains(r#"<p class="field-error" id="quantity-error">购买数量："#),
        "{}",
        refused.text
    );
    t.finish().await;
}

async fn the_language_follows_the_browser_until_the_buyer_switches(t: TestApp) {
    let b = Browser::new(&t);
    let with = |accept: &'static str| {
        let b = &b;
        async move { b.send(b.get_request("/rules").header("accept-language", accept)).await }
    };
    let english = with("en-US,en;q=0.9").await;
    assert!(english.text.contains(r#"<html lang="en">"#), "{}", english.text);
    assert_eq!(english.headers.get("content-language").unwrap(), "en");
    let vary = english
        .headers
        .get("vary")
        .unwrap()
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(vary.contains("accept-language") && vary.contains("cookie"), "{vary}");
    let chinese = with("zh-CN,zh;q=0.9,en;q=0.8").await;
    assert!(chinese.text.contains(r#"<html lang="zh-CN">"#), "{}", chinese.text);
    assert_eq!(chinese.headers.get("content-language").unwrap(), "zh-CN");
    // A language we do not have falls to the next one the browser accepts, else zh-CN.
    assert!(with("fr-FR, en;q=0.5").await.text.contains(r#"<html lang="en">"#));
    assert!(with("de").await.text.contains(r#"<html lang="zh-CN">"#));
    // The switch outranks the browser.
    b.get("/lang/zh?back=/rules").await;
    assert!(with("en-US").await.text.contains(r#"<html lang="zh-CN">"#));
    // The switch goes back only to a page of this site, and knows only its languages.
    for evil in ["//evil.example/", "https://evil.example/", "/\\evil.example", "rules"] {
        let r = b.get(&format!("/lang/en?back={}", urlencode(evil))).await;
        assert_eq!(r.status, 303, "{evil}");
        assert_eq!(r.headers.get("location").unwrap(), "/", "{evil}");
    }
    // A link can ask for a language (`?lang=en`, the contract's spelling): it outranks
    // the cookie, is remembered, and the switch on that page goes back without it.
    let linked = Browser::new(&t);
    let page = linked.get("/?q=steam&lang=en").await;
    assert!(page.text.contains(r#"<html lang="en">"#), "{}", page.text);
    assert_eq!(linked.cookie("danbao_lang").as_deref(), Some("en"));
    assert!(
        page.text.contains(r#"href="/lang/zh?back=%2F%3Fq%3Dsteam""#),
        "{}",
        page.text
    );
    assert!(linked.get("/rules").await.text.contains(r#"<html lang="en">"#));
    let page = linked.get("/rules?lang=zh").await;
    assert!(page.text.contains(r#"<html lang="zh-CN">"#), "{}", page.text);
    assert!(linked.get("/lookup").await.text.contains(r#"<html lang="zh-CN">"#));
    let unknown = b.get("/lang/fr?back=/").await;
    assert_eq!(unknown.status, 404);
    assert!(unknown.headers.get("set-cookie").is_none());
    t.finish().await;
}

/// A refused purchase on the product page: "many" is no quantity.
async fn buy_many(b: &Browser<'_>, product: &str) -> Resp {
    b.get(&format!("/products/{product}")).await;
    b.submit(
        &format!("/products/{product}/buy"),
        &[
            ("quantity", "many"),
            ("contact", "qq:777"),
            ("query_password", "guest-pass-1"),
            ("payment_method", "alipay"),
        ],
    )
    .await
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
