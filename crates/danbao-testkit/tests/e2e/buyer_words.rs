//! Issue 11 items 4 and 6: the order page in words a buyer reads (China time, the
//! settlement after the fee, the technical proof folded away under 查看存证), the
//! complaint form behind a button, a withdrawal that asks first.

use danbao_testkit::{Browser, TestApp};
use serde_json::json;

on_both_databases!(
    the_order_page_reads_plainly_and_asks_before_acting,
    the_storefront_has_categories_search_and_cards,
);

async fn the_order_page_reads_plainly_and_asks_before_acting(t: TestApp) {
    let (seller, _) = t.user("words_s", "seller").await;
    let product = t.card_product(&seller, 5_800, 1).await;
    let (order, token) = t.guest_order_delivered(&product).await;
    let confirmed = t
        .post(
            &format!("/api/v1/orders/{order}/confirm?access_token={token}"),
            None,
            serde_json::json!({}),
        )
        .await;
    assert_eq!(confirmed.status, 200, "{}", confirmed.text);
    let b = Browser::new(&t);
    b.get(&format!("/orders/{order}?access_token={token}")).await;
    let page = b.get(&format!("/orders/{order}")).await;
    assert_eq!(page.status, 200, "{}", page.text);
    // What the seller got after the fee (5 % of ¥58.00, half-even), in words.
    assert!(page.text.contains("卖家实得 ¥55.10"), "{}", page.text);
    // Provider references and hashes are there, folded away, not in the running text.
    let timeline = page.text.split_once("交易日志").unwrap().1;
    let (plain, folded) = split_folded(timeline);
    assert!(folded.contains("查看存证") && folded.contains("SHA-256"), "{folded}");
    assert!(
        !plain.contains("SHA-256") && !plain.contains("sbt_") && plain.contains("交易完成"),
        "{plain}"
    );
    // Times in China time, never "UTC".
    assert!(!page.text.contains(" UTC"), "{}", page.text);
    // The complaint form waits behind a button.
    assert!(
        page.text
            .contains("<summary class=\"button secondary\">我要投诉</summary>"),
        "{}",
        page.text
    );
    let opened = b
        .submit(
            &format!("/orders/{order}/complaints"),
            &[("kind", "not_as_described"), ("description", "面值不符")],
        )
        .await;
    assert_eq!(opened.status, 303, "{}", opened.text);
    let complaint = b.get(opened.headers.get("location").unwrap().to_str().unwrap()).await;
    // Withdrawing asks first: the button opens a confirmation that says what it does.
    assert!(
        complaint
            .text
            .contains("<summary class=\"button secondary\">撤回投诉</summary>"),
        "{}",
        complaint.text
    );
    assert!(complaint.text.contains("确认撤回投诉"), "{}", complaint.text);
    t.finish().await;
}

/// A page's text outside and inside its folded proof (`<details class="proof">`).
fn split_folded(html: &str) -> (String, String) {
    let (mut plain, mut folded) = (String::new(), String::new());
    let mut rest = html;
    while let Some(at) = rest.find("<details class=\"proof\">") {
        plain.push_str(&rest[..at]);
        let end = rest[at..]
            .find("</details>")
            .map_or(rest.len(), |e| at + e + "</details>".len());
        folded.push_str(&rest[at..end]);
        rest = &rest[end..];
    }
    plain.push_str(rest);
    (plain, folded)
}

async fn the_storefront_has_categories_search_and_cards(t: TestApp) {
    let (seller, _) = t.user("shop_s", "seller").await;
    for (title, category) in [
        ("王者荣耀 点券 60", "game_cards"),
        ("原神 代充 6480", "top_up"),
        ("100% 折扣卡", "gift_cards"),
    ] {
        let r = t
            .post(
                "/api/v1/seller/products",
                Some(&seller),
                json!({"title": title, "description": "d", "category": category, "price_minor": 1000, "delivery_kind": "manual"}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
    }
    let b = Browser::new(&t);
    let all = b.get("/").await;
    assert_eq!(all.status, 200, "{}", all.text);
    // Categories by their names, with counts; cards, not a table.
    for name in ["游戏点卡", "游戏代充", "礼品卡"] {
        assert!(all.text.contains(name), "{name}: {}", all.text);
    }
    assert!(!all.text.contains(">game_cards<"), "{}", all.text);
    assert!(all.text.contains("class=\"product-card\""), "{}", all.text);
    assert!(!all.text.contains("<table"), "no table on a phone's storefront");
    // One category.
    let cards = b.get("/?category=top_up").await;
    assert!(
        cards.text.contains("原神 代充 6480") && !cards.text.contains("王者荣耀 点券 60"),
        "{}",
        cards.text
    );
    // A search, in the title; LIKE's wildcards are taken literally.
    let found = b.get("/?q=%E7%8E%8B%E8%80%85").await;
    assert!(
        found.text.contains("王者荣耀 点券 60") && !found.text.contains("原神 代充"),
        "{}",
        found.text
    );
    let literal = b.get("/?q=100%25").await;
    assert!(
        literal.text.contains("100% 折扣卡") && !literal.text.contains("王者荣耀 点券 60"),
        "{}",
        literal.text
    );
    let nothing = b.get("/?q=%25%25zz").await;
    assert!(nothing.text.contains("没有找到符合条件的商品"), "{}", nothing.text);
    // Typed text comes back escaped.
    let odd = b.get("/?q=%3Cscript%3E").await;
    assert!(
        odd.text.contains("&#60;script&#62;") || odd.text.contains("&lt;script&gt;"),
        "{}",
        odd.text
    );
    assert!(!odd.text.contains("<script>"));
    t.finish().await;
}
