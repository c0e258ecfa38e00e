//! The seller back office (issue 10) through its pages: products and card keys, the
//! manual order's 发货 and 拒单, complaints with files, money and the statement; and who
//! may see it.

use danbao_testkit::{Browser, Resp, TestApp};
use serde_json::json;

on_both_databases!(
    the_seller_runs_the_shop_from_the_back_office,
    the_seller_answers_a_complaint_with_a_file,
    the_back_office_is_the_sellers_alone,
    a_seller_reads_every_back_office_page_in_english,
);

/// Logs `username` (password `correct-horse`, as `TestApp::user` makes them) in.
async fn login(b: &Browser<'_>, username: &str) -> Resp {
    b.get("/login").await;
    b.submit("/login", &[("username", username), ("password", "correct-horse")])
        .await
}

/// The first `/seller/products/{id}` link target after `after` in a page.
fn product_id_in(location: &str) -> String {
    location.trim_start_matches("/seller/products/").to_string()
}

/// Every key-removal form's key id in a product page.
fn removable_keys(html: &str, product: &str) -> Vec<String> {
    let prefix = format!("/seller/products/{product}/keys/");
    html.match_indices(&prefix)
        .filter_map(|(i, _)| {
            let rest = &html[i + prefix.len()..];
            let end = rest.find('/')?;
            rest[end..].starts_with("/remove").then(|| rest[..end].to_string())
        })
        .collect()
}

async fn stock(t: &TestApp, product: &str) -> i64 {
    t.get(&format!("/api/v1/products/{product}"), None).await.body["stock"]
        .as_i64()
        .unwrap()
}

/// A guest's manual order of `product`, paid; returns (order id, access token).
async fn paid_manual_order(t: &TestApp, product: &str, uid: &str) -> (String, String) {
    let placed = t
        .post(
            "/api/v1/orders",
            None,
            json!({"product_id": product, "quantity": 1, "contact": "qq:10001", "query_password": "guest-pass-1",
                   "delivery_fields": {"UID": uid, "服务器": "天空岛"}}),
        )
        .await;
    assert_eq!(placed.status, 201, "{}", placed.text);
    let id = placed.body["id"].as_str().unwrap().to_string();
    let token = placed.body["access_token"].as_str().unwrap().to_string();
    t.pay(placed.body["payment"]["payment_id"].as_str().unwrap()).await;
    t.wait_for_status(&format!("/api/v1/orders/{id}?access_token={token}"), None, "paid")
        .await;
    (id, token)
}

async fn the_seller_runs_the_shop_from_the_back_office(t: TestApp) {
    t.user("bo_seller", "seller").await;
    let b = Browser::new(&t);
    let r = login(&b, "bo_seller").await;
    assert_eq!(r.status, 303, "{}", r.text);
    assert_eq!(r.headers.get("location").unwrap(), "/seller");
    let home = b.get("/seller").await;
    assert_eq!(home.status, 200, "{}", home.text);
    assert!(
        home.text.contains("待发货订单") && home.text.contains("可提现"),
        "{}",
        home.text
    );
    assert_eq!(home.headers.get("cache-control").unwrap(), "no-store");

    // A card-key product, created in the page, priced in yuan.
    b.get("/seller/products").await;
    let created = b
        .submit(
            "/seller/products",
            &[
                ("title", "后台点卡"),
                ("description", "测试"),
                ("category", "game_cards"),
                ("price", "12.50"),
                ("delivery_kind", "card_key"),
                ("manual_fields", ""),
            ],
        )
        .await;
    assert_eq!(created.status, 303, "{}", created.text);
    let card = product_id_in(created.headers.get("location").unwrap().to_str().unwrap());
    let api = t.get(&format!("/api/v1/products/{card}"), None).await;
    assert_eq!(api.body["price_minor"], 1250, "{}", api.text);
    assert_eq!(api.body["stock"], 0);

    // Keys pasted: blank lines skipped, a line repeated within the paste refused and
    // named, keys the product already holds refused.
    b.get(&format!("/seller/products/{card}")).await;
    let paste = "CARD-AAAA-0001\n\nCARD-AAAA-0002\nCARD-AAAA-0001\n   \nCARD-AAAA-0003\n";
    let r = b
        .submit(&format!("/seller/products/{card}/keys"), &[("keys", paste)])
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.text.contains("成功导入 3 个"), "{}", r.text);
    assert!(r.text.contains("本次粘贴内重复而拒绝 1 行（第 4 行）"), "{}", r.text);
    assert!(r.text.contains("跳过空行 2 行"), "{}", r.text);
    let r = b
        .submit(
            &format!("/seller/products/{card}/keys"),
            &[("keys", "CARD-AAAA-0002\nCARD-AAAA-0004")],
        )
        .await;
    assert!(
        r.text.contains("成功导入 1 个") && r.text.contains("与已有卡密重复而拒绝 1 个"),
        "{}",
        r.text
    );
    // Shown masked, never in the clear.
    assert!(r.text.contains("CAR********04"), "{}", r.text);
    assert!(!r.text.contains("CARD-AAAA-0004"), "a key was shown in the clear");
    // A file of keys (multipart: the form token first).
    let token = b.form_token().unwrap();
    let r = b
        .post_multipart(
            &format!("/seller/products/{card}/keys/file"),
            &[("csrf_token", &token)],
            b"CARD-FILE-0001\r\nCARD-FILE-0002\r\n",
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.text.contains("成功导入 2 个"), "{}", r.text);
    assert_eq!(stock(&t, &card).await, 6);
    // An unsold key removed: one less in stock.
    let keys = removable_keys(&r.text, &card);
    assert_eq!(keys.len(), 6, "{}", r.text);
    let r = b
        .submit(&format!("/seller/products/{card}/keys/{}/remove", keys[0]), &[])
        .await;
    assert!(r.text.contains("卡密已删除"), "{}", r.text);
    assert_eq!(stock(&t, &card).await, 5);
    assert!(!r.text.contains("库存不足"), "5 keys left is not low stock yet");
    let r = b
        .submit(&format!("/seller/products/{card}/keys/{}/remove", keys[1]), &[])
        .await;
    assert_eq!(stock(&t, &card).await, 4);
    assert!(r.text.contains("库存不足"), "4 keys left is low stock: {}", r.text);

    // A manual product whose buyers give a UID and a server.
    b.get("/seller/products").await;
    let created = b
        .submit(
            "/seller/products",
            &[
                ("title", "原神代充"),
                ("description", "人工代充"),
                ("category", "top_up"),
                ("price", "30"),
                ("delivery_kind", "manual"),
                ("manual_fields", "UID\n服务器"),
            ],
        )
        .await;
    assert_eq!(created.status, 303, "{}", created.text);
    let manual = product_id_in(created.headers.get("location").unwrap().to_str().unwrap());
    let (order, buyer_token) = paid_manual_order(&t, &manual, "100000009").await;

    // The dashboard lists it to deliver, with the buyer's contact; the list finds it by
    // status and by contact.
    let home = b.get("/seller").await;
    assert!(home.text.contains(&format!("/seller/orders/{order}")), "{}", home.text);
    assert!(home.text.contains("qq:10001"), "{}", home.text);
    let paid = b.get("/seller/orders?status=paid").await;
    assert!(paid.text.contains(&format!("/seller/orders/{order}")), "{}", paid.text);
    let found = b.get("/seller/orders?q=qq%3A1000").await;
    assert!(
        found.text.contains(&format!("/seller/orders/{order}")),
        "{}",
        found.text
    );
    let by_number = b.get(&format!("/seller/orders?q={}", &order[..13])).await;
    assert!(by_number.text.contains(&format!("/seller/orders/{order}")));
    let none = b.get("/seller/orders?q=100%25_nobody").await;
    assert!(none.text.contains("没有符合条件的订单"), "{}", none.text);

    // The order page shows what the buyer entered; 发货 delivers it.
    let page = b.get(&format!("/seller/orders/{order}")).await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(page.text.contains("100000009") && page.text.contains("天空岛") && page.text.contains("qq:10001"));
    let token = b.form_token().unwrap();
    let bad = b
        .post_multipart(
            &format!("/seller/orders/{order}/deliver"),
            &[("csrf_token", &token), ("note", "  ")],
            b"",
        )
        .await;
    assert_eq!(bad.status, 409, "an empty note is refused: {}", bad.text);
    let forged = b
        .post_multipart(&format!("/seller/orders/{order}/deliver"), &[("note", "x")], b"")
        .await;
    assert_eq!(forged.status, 403, "a delivery without the form token: {}", forged.text);
    // 发货 with a note and a receipt picture.
    let png: &[u8] = &[
        0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13, b'I', b'H', b'D', b'R', 0, 0, 0, 2,
    ];
    let done = b
        .post_multipart(
            &format!("/seller/orders/{order}/deliver"),
            &[("csrf_token", &token), ("note", "已充值 6480 创世结晶，单号 TX-1")],
            png,
        )
        .await;
    assert_eq!(done.status, 200, "{}", done.text);
    assert!(done.text.contains("已发货"), "{}", done.text);
    let seen = t
        .get(
            &format!("/api/v1/orders/{order}/delivery?access_token={buyer_token}"),
            None,
        )
        .await;
    assert!(seen.text.contains("TX-1"), "{}", seen.text);
    assert_eq!(seen.body["items"][1]["kind"], "file", "{}", seen.text);
    assert_eq!(seen.body["items"][1]["content"], danbao_evidence::sha256_hex(png));
    // The buyer reveals in their page and downloads the file; a stranger gets nothing.
    let buyer = Browser::new(&t);
    buyer.get(&format!("/orders/{order}?access_token={buyer_token}")).await;
    // The buyer's page shows the goods at once (a recorded reveal).
    let revealed = buyer.get(&format!("/orders/{order}")).await;
    assert!(
        revealed.text.contains(&format!("/orders/{order}/delivery/file")),
        "{}",
        revealed.text
    );
    let file = buyer.get(&format!("/orders/{order}/delivery/file")).await;
    assert_eq!(file.status, 200, "{}", file.text);
    assert_eq!(file.headers.get("content-type").unwrap(), "image/png");
    assert_eq!(
        Browser::new(&t)
            .get(&format!("/orders/{order}/delivery/file"))
            .await
            .status,
        404
    );

    // 拒单: a full refund, with a reason the buyer reads on their order page.
    let (declined, declined_token) = paid_manual_order(&t, &manual, "100000010").await;
    b.get(&format!("/seller/orders/{declined}")).await;
    let r = b
        .submit(
            &format!("/seller/orders/{declined}/decline"),
            &[("reason", "该区服维护，无法代充")],
        )
        .await;
    assert!(r.text.contains("已拒单"), "{}", r.text);
    t.settle_refunds().await;
    t.wait_for_status(
        &format!("/api/v1/orders/{declined}?access_token={declined_token}"),
        None,
        "refunded",
    )
    .await;
    let buyer = Browser::new(&t);
    buyer
        .get(&format!("/orders/{declined}?access_token={declined_token}"))
        .await;
    let buyer_page = buyer.get(&format!("/orders/{declined}")).await;
    assert!(
        buyer_page.text.contains("卖家说明：该区服维护，无法代充"),
        "{}",
        buyer_page.text
    );

    // Today's sales: the delivered order counts, the refunded one does not.
    let home = b.get("/seller").await;
    assert!(home.text.contains("¥30.00"), "{}", home.text);
    assert!(home.text.contains("<rect"), "the chart has its bars: {}", home.text);

    // Money: a bad amount and one below the minimum are refused on the page; the
    // statement lists the payments held in escrow and the CSV has them too.
    b.get("/seller/money").await;
    let r = b.submit("/seller/money/withdraw", &[("amount", "abc")]).await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert!(r.text.contains("金额格式不正确"), "{}", r.text);
    let r = b.submit("/seller/money/withdraw", &[("amount", "5")]).await;
    assert_eq!(r.status, 422, "{}", r.text);
    let money = b.get("/seller/money").await;
    assert!(money.text.contains("买家付款（托管）"), "{}", money.text);
    assert!(money.text.contains("+30.00"), "{}", money.text);
    let csv = b.get("/seller/money/statement.csv").await;
    assert_eq!(csv.status, 200, "{}", csv.text);
    assert!(csv
        .headers
        .get("content-type")
        .unwrap()
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    assert!(
        csv.text.starts_with("\u{feff}time,entry,account,amount_yuan,order_id"),
        "{}",
        csv.text
    );
    assert!(
        csv.text.contains(&format!("capture,escrow,30.00,{order}")),
        "{}",
        csv.text
    );
    let r = b.get("/seller/money?from=2026-99-01").await;
    assert_eq!(r.status, 422, "{}", r.text);
    t.finish().await;
}

async fn the_seller_answers_a_complaint_with_a_file(t: TestApp) {
    let (seller, _) = t.user("bo_answer", "seller").await;
    let product = t.card_product(&seller, 2000, 1).await;
    let (order, guest_token) = t.guest_order_delivered(&product).await;
    t.get(
        &format!("/api/v1/orders/{order}/delivery?access_token={guest_token}"),
        None,
    )
    .await;
    let opened = t
        .post(
            &format!("/api/v1/orders/{order}/complaints?access_token={guest_token}"),
            None,
            json!({"kind": "not_as_described", "description": "面值不符"}),
        )
        .await;
    assert_eq!(opened.status, 201, "{}", opened.text);
    let id = opened.body["id"].as_str().unwrap().to_string();

    let b = Browser::new(&t);
    login(&b, "bo_answer").await;
    let list = b.get("/seller/complaints").await;
    assert!(list.text.contains(&format!("/complaints/{id}")), "{}", list.text);
    let home = b.get("/seller").await;
    assert!(
        home.text.contains(&format!("/complaints/{id}")),
        "open complaints on the dashboard"
    );
    let page = b.get(&format!("/complaints/{id}")).await;
    assert!(
        page.text.contains(&format!("action=\"/complaints/{id}/files\"")),
        "{}",
        page.text
    );
    let png: &[u8] = &[
        0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13, b'I', b'H', b'D', b'R', 0, 0, 0, 1,
    ];
    let token = b.form_token().unwrap();
    let up = b
        .post_multipart(&format!("/complaints/{id}/files"), &[("csrf_token", &token)], png)
        .await;
    assert!(up.status == 303 || up.status == 200, "{}", up.text);
    let answered = b
        .submit(&format!("/complaints/{id}/response"), &[("text", "发货截图见附件")])
        .await;
    assert!(answered.status == 303 || answered.status == 200, "{}", answered.text);
    let page = b.get(&format!("/complaints/{id}")).await;
    let sha = danbao_evidence::sha256_hex(png);
    let src = format!("/complaints/{id}/files/{sha}");
    assert!(
        page.text.contains(&format!("<img class=\"thumb\" src=\"{src}\"")),
        "{}",
        page.text
    );
    assert!(page.text.contains("发货截图见附件"), "{}", page.text);
    let img = b.get(&src).await;
    assert_eq!(img.status, 200, "{}", img.text);
    assert_eq!(img.headers.get("content-type").unwrap(), "image/png");
    // The buyer sees it too; a stranger does not.
    let buyer = Browser::new(&t);
    buyer.get(&format!("/orders/{order}?access_token={guest_token}")).await;
    assert_eq!(buyer.get(&src).await.status, 200);
    let stranger = Browser::new(&t);
    assert_eq!(stranger.get(&src).await.status, 404);
    let c = t.get(&format!("/api/v1/complaints/{id}"), Some(&seller)).await;
    assert_eq!(c.body["stage"], "under_review", "{}", c.text);
    t.finish().await;
}

async fn the_back_office_is_the_sellers_alone(t: TestApp) {
    let (seller_a, _) = t.user("bo_a", "seller").await;
    t.user("bo_b", "seller").await;
    t.user("bo_buyer", "buyer").await;
    let product = t.card_product(&seller_a, 2000, 2).await;
    let placed = t.guest_order(&product, 1).await;
    let order = placed.body["id"].as_str().unwrap().to_string();

    // Nobody logged in: to the login page. Another role: no such page.
    let nobody = Browser::new(&t);
    for path in [
        "/seller",
        "/seller/products",
        "/seller/orders",
        "/seller/money",
        "/seller/complaints",
    ] {
        let r = nobody.get(path).await;
        assert_eq!(r.status, 303, "{path}: {}", r.text);
        assert_eq!(r.headers.get("location").unwrap(), "/login");
    }
    let buyer = Browser::new(&t);
    login(&buyer, "bo_buyer").await;
    assert_eq!(buyer.get("/seller").await.status, 404);
    assert_eq!(buyer.get("/seller/money/statement.csv").await.status, 404);

    // Another seller sees nothing of seller A's and can remove none of A's keys.
    let b = Browser::new(&t);
    login(&b, "bo_b").await;
    assert_eq!(b.get(&format!("/seller/orders/{order}")).await.status, 404);
    assert_eq!(b.get(&format!("/seller/products/{product}")).await.status, 404);
    let a = Browser::new(&t);
    login(&a, "bo_a").await;
    let page = a.get(&format!("/seller/products/{product}")).await;
    let key = removable_keys(&page.text, &product)[0].clone();
    b.get("/seller").await;
    let r = b
        .submit(&format!("/seller/products/{product}/keys/{key}/remove"), &[])
        .await;
    assert_eq!(r.status, 404, "{}", r.text);
    let before = stock(&t, &product).await;
    // A form without its token changes nothing.
    let r = a
        .post_form(&format!("/seller/products/{product}/keys/{key}/remove"), &[])
        .await;
    assert_eq!(r.status, 403, "{}", r.text);
    assert_eq!(stock(&t, &product).await, before);
    let r = a
        .post_form(
            "/seller/products",
            &[
                ("title", "x"),
                ("category", "c"),
                ("price", "1"),
                ("delivery_kind", "card_key"),
            ],
        )
        .await;
    assert_eq!(r.status, 403);
    // Bad input: a price with three decimals, shown as an error, nothing created.
    a.get("/seller/products").await;
    let r = a
        .submit(
            "/seller/products",
            &[
                ("title", "<script>alert(1)</script>"),
                ("category", "game_cards"),
                ("price", "1.234"),
                ("delivery_kind", "card_key"),
            ],
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert!(r.text.contains("金额格式不正确"));
    assert!(!r.text.contains("<script>alert(1)</script>"), "typed text is escaped");
    let products = t.get("/api/v1/seller/products", Some(&seller_a)).await;
    assert_eq!(
        products.body["items"].as_array().map(Vec::len).unwrap_or(usize::MAX),
        1,
        "{}",
        products.text
    );
    // User text is escaped where it is shown.
    let r = a
        .submit(
            "/seller/products",
            &[
                ("title", "<script>alert(1)</script>"),
                ("category", "game_cards"),
                ("price", "1"),
                ("delivery_kind", "card_key"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    let list = a.get("/seller/products").await;
    assert!(
        list.text.contains("&lt;script&gt;alert(1)&lt;/script&gt;") || list.text.contains("&#60;script&#62;"),
        "{}",
        list.text
    );
    assert!(!list.text.contains("<script>alert(1)</script>"));
    t.finish_with_pending_jobs().await;
}

/// A seller who switched to English gets every back-office page, message and refusal in
/// English (the words the seller typed are shown as typed, here ASCII).
async fn a_seller_reads_every_back_office_page_in_english(t: TestApp) {
    let (seller, _) = t.user("steam_seller", "seller").await;
    // A card product with three keys, one of them sold and complained about (two left:
    // low stock); a top-up product with a paid order waiting to be delivered.
    let card = t
        .card_product_titled(&seller, "Steam Wallet 50", "A USD 50 wallet code.", 34_000, 3)
        .await;
    let (sold, guest) = t.guest_order_delivered(&card).await;
    t.get(&format!("/api/v1/orders/{sold}/delivery?access_token={guest}"), None)
        .await;
    let opened = t
        .post(
            &format!("/api/v1/orders/{sold}/complaints?access_token={guest}"),
            None,
            json!({"kind": "not_as_described", "description": "The code was already used"}),
        )
        .await;
    assert_eq!(opened.status, 201, "{}", opened.text);
    let complaint = opened.body["id"].as_str().unwrap().to_string();
    let r = t
        .post(
            "/api/v1/seller/products",
            Some(&seller),
            json!({"title": "Genshin top-up", "description": "By hand", "category": "top_up", "price_minor": 3000,
                   "delivery_kind": "manual", "manual_fields": ["UID", "Server"]}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let manual = r.body["id"].as_str().unwrap().to_string();
    let placed = t
        .post(
            "/api/v1/orders",
            None,
            json!({"product_id": manual, "quantity": 1, "contact": "qq:20002", "query_password": "guest-pass-1",
                   "delivery_fields": {"UID": "100000042", "Server": "Celestia"}}),
        )
        .await;
    assert_eq!(placed.status, 201, "{}", placed.text);
    let order = placed.body["id"].as_str().unwrap().to_string();
    let token = placed.body["access_token"].as_str().unwrap().to_string();
    t.pay(placed.body["payment"]["payment_id"].as_str().unwrap()).await;
    t.wait_for_status(&format!("/api/v1/orders/{order}?access_token={token}"), None, "paid")
        .await;

    let b = Browser::new(&t);
    let switched = b.get("/lang/en?back=/seller").await;
    assert_eq!(switched.status, 303, "{}", switched.text);
    assert_eq!(switched.headers.get("location").unwrap(), "/seller");
    let r = login(&b, "steam_seller").await;
    assert_eq!(r.status, 303, "{}", r.text);

    for (path, says) in [
        (
            "/seller",
            &[
                "Orders to deliver",
                "Available to withdraw",
                "Low stock: ",
                "(2 left)",
                "Open complaints",
            ][..],
        ),
        (
            "/seller/products",
            &["My products", "Steam Wallet 50", "On sale", "Create product"],
        ),
        (
            &*format!("/seller/products/{card}"),
            &[
                "Card keys (2 unsold of 3)",
                "Import card keys",
                "Sold",
                "Low stock: only 2 unsold keys left.",
            ],
        ),
        (
            &*format!("/seller/products/{manual}"),
            &["Genshin top-up", "What the buyer fills in (one per line)"],
        ),
        (
            "/seller/orders",
            &[
                "Order number",
                "Awaiting payment",
                "Delivered by the seller",
                "Under complaint",
            ],
        ),
        ("/seller/orders?status=paid&q=nobody", &["No orders match."]),
        (
            &*format!("/seller/orders/{order}"),
            &[
                "What the buyer filled in",
                "Celestia",
                "Deliver before",
                "Decline and refund in full",
            ],
        ),
        (
            &*format!("/seller/orders/{sold}"),
            &[
                "Card key, delivered automatically",
                "Under complaint",
                "This order asks the buyer for nothing.",
            ],
        ),
        (
            "/seller/complaints",
            &["View and answer", "Not as described", "Waiting for the seller"],
        ),
        (
            "/seller/money",
            &[
                "Request a withdrawal",
                "payment (held in escrow)",
                "Escrow",
                "Statement",
            ],
        ),
    ] {
        let page = b.get(path).await;
        assert_eq!(page.status, 200, "{path}: {}", page.text);
        danbao_testkit::assert_in_english(path, &page);
        for word in says {
            assert!(page.text.contains(word), "{path} lacks {word:?}: {}", page.text);
        }
    }
    // The complaint the dashboard links to, as the seller reads it.
    let page = b.get(&format!("/complaints/{complaint}")).await;
    assert_eq!(page.status, 200, "{}", page.text);
    danbao_testkit::assert_in_english("the complaint, to the seller", &page);
    assert!(page.text.contains("The code was already used"), "{}", page.text);
    let missing = b.get("/seller/orders/00000000000000000000000000").await;
    assert_eq!(missing.status, 404, "{}", missing.text);
    danbao_testkit::assert_in_english("a missing order", &missing);

    // Refused forms say why in English: a bad price (what was typed stays), an empty key
    // import, a withdrawal below the minimum, a bad statement date.
    b.get("/seller/products").await;
    let refused = b
        .submit(
            "/seller/products",
            &[
                ("title", "Steam Wallet 100"),
                ("category", "game_cards"),
                ("price", "1.234"),
                ("delivery_kind", "card_key"),
            ],
        )
        .await;
    assert_eq!(refused.status, 422, "{}", refused.text);
    danbao_testkit::assert_in_english("a bad price", &refused);
    assert!(refused.text.contains("The amount is not one"), "{}", refused.text);
    assert!(refused.text.contains(r#"value="Steam Wallet 100""#), "{}", refused.text);
    b.get(&format!("/seller/products/{card}")).await;
    let refused = b
        .submit(&format!("/seller/products/{card}/keys"), &[("keys", "\n  \n")])
        .await;
    assert_eq!(refused.status, 422, "{}", refused.text);
    danbao_testkit::assert_in_english("an empty key import", &refused);
    assert!(refused.text.contains(r#"class="error""#), "{}", refused.text);
    b.get("/seller/money").await;
    let refused = b.submit("/seller/money/withdraw", &[("amount", "5")]).await;
    assert_eq!(refused.status, 422, "{}", refused.text);
    danbao_testkit::assert_in_english("a withdrawal below the minimum", &refused);
    assert!(refused.text.contains(r#"class="error""#), "{}", refused.text);
    let refused = b.get("/seller/money?from=2026-99-01").await;
    assert_eq!(refused.status, 422, "{}", refused.text);
    danbao_testkit::assert_in_english("a bad statement date", &refused);
    assert!(refused.text.contains("YYYY-MM-DD"), "{}", refused.text);

    // What a form did, in English: a key import with its report, a key removed, the
    // product saved, the manual order delivered.
    b.get(&format!("/seller/products/{card}")).await;
    let imported = b
        .submit(
            &format!("/seller/products/{card}/keys"),
            &[(
                "keys",
                &format!("EN-KEY-0004\n\nEN-KEY-0005\nEN-KEY-0004\nKEY-{card}-0\n"),
            )],
        )
        .await;
    assert_eq!(imported.status, 200, "{}", imported.text);
    danbao_testkit::assert_in_english("a key import", &imported);
    for word in [
        "2 keys imported;",
        "1 key refused as already stocked;",
        "1 line refused as repeated in this paste (line 4);",
        "1 blank line skipped.",
    ] {
        assert!(imported.text.contains(word), "lacks {word:?}: {}", imported.text);
    }
    let key = removable_keys(&imported.text, &card)[0].clone();
    let removed = b
        .submit(&format!("/seller/products/{card}/keys/{key}/remove"), &[])
        .await;
    danbao_testkit::assert_in_english("a key removed", &removed);
    assert!(removed.text.contains("Card key removed"), "{}", removed.text);
    let saved = b
        .submit(
            &format!("/seller/products/{card}"),
            &[
                ("title", "Steam Wallet 50"),
                ("description", "A USD 50 wallet code."),
                ("category", "game_cards"),
                ("price", "340"),
                ("delivery_kind", "card_key"),
                ("status", "active"),
            ],
        )
        .await;
    danbao_testkit::assert_in_english("a product saved", &saved);
    assert!(saved.text.contains("Product saved"), "{}", saved.text);
    b.get(&format!("/seller/orders/{order}")).await;
    let csrf = b.form_token().unwrap();
    let delivered = b
        .post_multipart(
            &format!("/seller/orders/{order}/deliver"),
            &[("csrf_token", &csrf), ("note", "Topped up, reference EN-TX-1")],
            b"",
        )
        .await;
    assert_eq!(delivered.status, 200, "{}", delivered.text);
    danbao_testkit::assert_in_english("a delivered order", &delivered);
    assert!(
        delivered
            .text
            .contains("Delivered: waiting for the buyer to confirm receipt")
            && delivered.text.contains("Topped up, reference EN-TX-1"),
        "{}",
        delivered.text
    );

    // Back to Chinese: the same page in zh-CN.
    b.get("/lang/zh?back=/seller").await;
    let home = b.get("/seller").await;
    assert!(home.text.contains(r#"<html lang="zh-CN">"#), "{}", home.text);
    assert!(home.text.contains("待发货订单"), "{}", home.text);
    t.finish().await;
}

/// The issue's browser walk for the seller (SQLite; the page logic is database-blind and
/// covered on both by the tests above): `ui-tests/seller.mjs` in chromium.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_seller_works_in_chromium() {
    if !danbao_testkit::browser_ready() {
        return;
    }
    let t = TestApp::sqlite().await;
    let (seller, _) = t.user("ui_seller", "seller").await;
    // A card product with one key (sold below, then complained about), a 代充 product
    // with a paid order waiting.
    let r = t
        .post(
            "/api/v1/seller/products",
            Some(&seller),
            json!({"title": "界面测试点卡", "description": "d", "category": "game_cards", "price_minor": 2000, "delivery_kind": "card_key"}),
        )
        .await;
    let card = r.body["id"].as_str().unwrap().to_string();
    t.raw(
        t.http
            .post(format!("{}/api/v1/seller/products/{card}/card-keys", t.url))
            .bearer_auth(&seller)
            .header("content-type", "text/plain")
            .body("UI-SOLD-0001\n"),
    )
    .await;
    let (sold, guest) = t.guest_order_delivered(&card).await;
    t.get(&format!("/api/v1/orders/{sold}/delivery?access_token={guest}"), None)
        .await;
    let opened = t
        .post(
            &format!("/api/v1/orders/{sold}/complaints?access_token={guest}"),
            None,
            json!({"kind": "not_as_described", "description": "面值不符"}),
        )
        .await;
    assert_eq!(opened.status, 201, "{}", opened.text);
    let complaint = opened.body["id"].as_str().unwrap().to_string();
    let r = t
        .post(
            "/api/v1/seller/products",
            Some(&seller),
            json!({"title": "界面测试代充", "description": "d", "category": "top_up", "price_minor": 3000,
                   "delivery_kind": "manual", "manual_fields": ["UID", "服务器"]}),
        )
        .await;
    let manual = r.body["id"].as_str().unwrap().to_string();
    let (order, _) = paid_manual_order(&t, &manual, "100000077").await;

    let shots = danbao_testkit::ui_shots_dir("seller");
    let out = tokio::process::Command::new("node")
        .arg(danbao_testkit::ui_tests_dir().join("seller.mjs"))
        .args([&t.url, "ui_seller", "correct-horse", "界面测试点卡"])
        .arg(&shots)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "browser run failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("ok: imported keys"), "{stdout}");
    assert!(stdout.contains("read it in English"), "{stdout}");
    // What the browser did is what the platform recorded.
    let o = t.get(&format!("/api/v1/orders/{order}"), Some(&seller)).await;
    assert_eq!(o.body["status"], "delivered", "{}", o.text);
    assert!(o.text.contains("UI-TX-1"), "{}", o.text);
    let mut tx = t.app().store.begin().await.unwrap();
    let file = tx
        .delivery_file(&danbao_domain::OrderId::parse(&order).unwrap())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        file.map(|f| f.1).as_deref(),
        Some("image/png"),
        "the receipt was delivered with the note"
    );
    assert_eq!(stock(&t, &card).await, 2);
    let c = t.get(&format!("/api/v1/complaints/{complaint}"), Some(&seller)).await;
    assert_eq!(c.body["stage"], "under_review", "{}", c.text);
    let seller_files = c.body["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["party"] == "seller" && e["media_type"] == "image/png")
        .count();
    assert_eq!(seller_files, 1, "{}", c.text);
    for name in [
        "1-dashboard",
        "3-keys-imported",
        "5-delivered",
        "7-complaint-answered",
        "8-money",
        "9-en-money",
        "10-en-dashboard",
        "11-en-product",
    ] {
        for width in [1280, 390] {
            assert!(shots.join(format!("{name}-{width}.png")).exists(), "{name}-{width}");
        }
    }
    t.finish().await;
}
