//! The arbitration desk (`/arbitration`, issue 10) through its pages: the door, the queue,
//! a case with its evidence, taking it, the refusals shown on the page, the ruling and
//! what it did to the money, the investigation steps and the seller's freeze.

use danbao_app::limits::Origin;
use danbao_app::Role;
use danbao_domain::Account;
use danbao_testkit::{Browser, Resp, TestApp};
use serde_json::json;

on_both_databases!(
    console_arb_the_desk_rules_a_case,
    console_arb_the_desk_investigates_and_freezes_the_seller,
    console_arb_a_collective_group_is_reviewed_from_the_desk,
    console_arb_the_desk_in_english,
);

const PASSWORD: &str = "desk-password-1";

/// An arbitrator made the way operators make them, logged in through the login page.
async fn desk<'a>(t: &'a TestApp, name: &str) -> Browser<'a> {
    t.app()
        .register(&Origin::Local, name, PASSWORD, Role::Arbitrator)
        .await
        .unwrap();
    let (b, landed) = login(t, name, PASSWORD).await;
    assert_eq!(landed, "/arbitration", "an arbitrator's login lands on the desk");
    b
}

/// Logs in through the login page; returns the browser and where the login sent it.
async fn login<'a>(t: &'a TestApp, name: &str, password: &str) -> (Browser<'a>, String) {
    let b = Browser::new(t);
    b.get("/login").await;
    let r = b.submit("/login", &[("username", name), ("password", password)]).await;
    assert_eq!(r.status, 303, "{}", r.text);
    let to = r.headers.get("location").unwrap().to_str().unwrap().to_string();
    (b, to)
}

struct Case {
    id: String,
    order: String,
    seller: danbao_domain::UserId,
    buyer_token: String,
    seller_token: String,
}

/// A delivered, revealed card-key order of 100.00, complained about as not as
/// described, with a screenshot from the buyer and the seller's answer: a case triage
/// leaves to a person, under review.
async fn case_under_review(t: &TestApp, tag: &str) -> Case {
    case_with_words(t, tag, "卡密显示已被使用 <b>x</b>", "卡密自动发放，买家已查看").await
}

/// The same case with the buyer's and the seller's words given.
async fn case_with_words(t: &TestApp, tag: &str, description: &str, answer: &str) -> Case {
    let (seller_token, seller_id) = t.user(&format!("{tag}_s"), "seller").await;
    let (buyer_token, _) = t.user(&format!("{tag}_b"), "buyer").await;
    let product = t.card_product(&seller_token, 10_000, 1).await;
    let placed = t
        .post(
            "/api/v1/orders",
            Some(&buyer_token),
            json!({"product_id": product, "quantity": 1}),
        )
        .await;
    assert_eq!(placed.status, 201, "{}", placed.text);
    let order = placed.body["id"].as_str().unwrap().to_string();
    t.pay(placed.body["payment"]["payment_id"].as_str().unwrap()).await;
    t.wait_for_status(&format!("/api/v1/orders/{order}"), Some(&buyer_token), "delivered")
        .await;
    t.get(&format!("/api/v1/orders/{order}/delivery"), Some(&buyer_token))
        .await;
    let opened = t
        .post(
            &format!("/api/v1/orders/{order}/complaints"),
            Some(&buyer_token),
            json!({"kind": "not_as_described", "description": description}),
        )
        .await;
    assert_eq!(opened.status, 201, "{}", opened.text);
    let id = opened.body["id"].as_str().unwrap().to_string();
    // A real picture (160×100), so a browser can show the thumbnail.
    let png: &[u8] = include_bytes!("console_arb_screenshot.png");
    let up = t
        .raw(
            t.http
                .post(format!("{}/api/v1/complaints/{id}/evidence?kind=screenshot", t.url))
                .bearer_auth(&buyer_token)
                .header("content-type", "image/png")
                .body(png.to_vec()),
        )
        .await;
    assert_eq!(up.status, 201, "{}", up.text);
    let answered = t
        .post(
            &format!("/api/v1/complaints/{id}/response"),
            Some(&seller_token),
            json!({"text": answer}),
        )
        .await;
    assert_eq!(answered.body["stage"], "under_review", "{}", answered.text);
    Case {
        id,
        order,
        seller: TestApp::seller_account(&seller_id),
        buyer_token,
        seller_token,
    }
}

fn assert_shown(r: &Resp, status: u16, text: &str) {
    assert_eq!(r.status, status, "{}", r.text);
    assert!(r.text.contains(text), "no {text:?} in:\n{}", r.text);
}

async fn complaint(t: &TestApp, c: &Case) -> serde_json::Value {
    t.get(&format!("/api/v1/complaints/{}", c.id), Some(&c.buyer_token))
        .await
        .body
}

async fn console_arb_the_desk_rules_a_case(t: TestApp) {
    let c = case_under_review(&t, "arbrule").await;

    // The door: logged out → the login page; a seller or an admin → the same 404 as
    // nothing at all, for the queue, a case and a form alike.
    let anonymous = Browser::new(&t);
    let r = anonymous.get("/arbitration").await;
    assert_eq!(r.status, 303);
    assert_eq!(r.headers.get("location").unwrap(), "/login");
    let (seller, _) = login(&t, "arbrule_s", "correct-horse").await;
    for path in ["/arbitration".to_string(), format!("/arbitration/cases/{}", c.id)] {
        assert_eq!(seller.get(&path).await.status, 404, "{path}");
    }
    // With a good form token (from the seller's own console), still nothing there.
    assert_eq!(seller.get("/seller").await.status, 200);
    let r = seller.submit(&format!("/arbitration/cases/{}/take", c.id), &[]).await;
    assert_eq!(r.status, 404, "{}", r.text);

    t.app()
        .register(&Origin::Local, "arbrule_admin", PASSWORD, Role::Admin)
        .await
        .unwrap();
    let (admin, _) = login(&t, "arbrule_admin", PASSWORD).await;
    assert_eq!(admin.get("/arbitration").await.status, 404);
    assert_eq!(admin.get(&format!("/arbitration/cases/{}", c.id)).await.status, 404);

    // Login lands on the desk; the queue shows the case with triage's view.
    let first = desk(&t, "arb_first").await;
    let r = first.get("/arbitration").await;
    assert_shown(&r, 200, "待裁决队列");
    assert!(r.text.contains(&format!("/arbitration/cases/{}", c.id)), "{}", r.text);
    assert!(r.text.contains("货不对板") && r.text.contains("¥100.00"), "{}", r.text);
    assert!(r.text.contains("未领取"), "{}", r.text);
    // The seller's record beside the case: one complaint on one paid order.
    assert!(
        r.text.contains("投诉率 100.00%（1 投诉 / 1 单），全额退款败诉 0"),
        "{}",
        r.text
    );
    // Filters: nothing is mine yet; by kind, the case is there.
    let mine = first.get("/arbitration?view=mine").await;
    assert_shown(&mine, 200, "没有符合条件的案件");
    let kind = first.get("/arbitration?kind=not_as_described").await;
    assert!(kind.text.contains(&c.id), "{}", kind.text);
    let junk = first.get("/arbitration?view=%3Cscript%3E&kind=zz").await;
    assert_eq!(junk.status, 200);

    // The case: the buyer's words escaped, the screenshot shown from the desk, the
    // seller's answer, the seller's standing.
    let case_path = format!("/arbitration/cases/{}", c.id);
    let page = first.get(&case_path).await;
    assert_shown(&page, 200, "领取此案");
    assert!(
        page.text.contains("&#60;b&#62;x&#60;/b&#62;") && !page.text.contains("<b>x"),
        "user text escaped: {}",
        page.text
    );
    assert!(page.text.contains("卡密自动发放，买家已查看"));
    assert!(page.text.contains("arbrule_s") && page.text.contains("紧急冻结卖家"));
    // The order's own record, checked against the evidence log, the key's reveal in it.
    assert!(
        page.text.contains("订单时间线（证据日志校验）") && page.text.contains("完整："),
        "{}",
        page.text
    );
    assert!(page.text.contains("买家查看了发货内容"), "{}", page.text);
    assert!(page.text.contains("/api/v1/evidence/receipts/"), "{}", page.text);
    assert!(!page.text.contains("未通过校验"), "{}", page.text);
    let img = page
        .text
        .split("<img class=\"thumb\" src=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the screenshot is shown")
        .to_string();
    let file = first.get(&img).await;
    assert_eq!(file.status, 200);
    assert_eq!(file.headers.get("content-type").unwrap(), "image/png");
    assert_eq!(file.headers.get("content-disposition").unwrap(), "inline");
    // Not to anyone outside the case, and not a file of another case.
    assert_eq!(anonymous.get(&img).await.status, 404);
    let other = format!("/complaints/{}/files/{}", c.id, "ab".repeat(32));
    assert_eq!(first.get(&other).await.status, 404);

    // Taking it; a second arbitrator then sees it held and cannot decide it.
    let taken = first.submit(&format!("{case_path}/take"), &[]).await;
    assert_eq!(taken.status, 303, "{}", taken.text);
    assert_eq!(taken.headers.get("location").unwrap().to_str().unwrap(), case_path);
    let mine = first.get("/arbitration?view=mine").await;
    assert!(mine.text.contains(&c.id), "{}", mine.text);
    let second = desk(&t, "arb_second").await;
    let held = second.get(&case_path).await;
    assert_shown(&held, 200, "已由其他仲裁员领取");
    assert!(!held.text.contains("提交裁决"), "{}", held.text);
    let r = second
        .submit(
            &format!("{case_path}/ruling"),
            &[("kind", "refund_full"), ("reason", "抢先"), ("confirm", "yes")],
        )
        .await;
    assert_eq!(r.status, 409, "{}", r.text);
    assert!(r.text.contains("role=\"alert\""), "{}", r.text);

    // Refusals come back on the page with what was typed.
    let r = first
        .submit(
            &format!("{case_path}/ruling"),
            &[("kind", "split"), ("buyer_percent", "30"), ("reason", "双方各有责任")],
        )
        .await;
    assert_shown(&r, 422, "请勾选确认");
    assert!(
        r.text.contains("双方各有责任") && r.text.contains("value=\"30\""),
        "{}",
        r.text
    );
    let r = first
        .submit(
            &format!("{case_path}/ruling"),
            &[
                ("kind", "split"),
                ("buyer_percent", "150"),
                ("reason", "x"),
                ("confirm", "yes"),
            ],
        )
        .await;
    assert_shown(&r, 422, "0 到 100");
    let r = first
        .submit(
            &format!("{case_path}/ruling"),
            &[
                ("kind", "split"),
                ("buyer_percent", "30"),
                ("reason", " "),
                ("confirm", "yes"),
            ],
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
    // A form without its token never reaches the handler.
    let forged = first
        .post_form(&format!("{case_path}/ruling"), &[("kind", "refund_full")])
        .await;
    assert_eq!(forged.status, 403, "{}", forged.text);
    assert_eq!(complaint(&t, &c).await["stage"], "under_review");

    // The preview says what the ruling would pay and decides nothing.
    let r = first
        .submit(
            &format!("{case_path}/ruling"),
            &[
                ("kind", "split"),
                ("buyer_percent", "30"),
                ("reason", ""),
                ("preview", "yes"),
            ],
        )
        .await;
    assert_shown(&r, 200, "结算预览：按比例分配（买家 30%，卖家 70%）");
    assert!(
        r.text.contains("退还买家 <span class=\"price\">¥30.00</span>"),
        "{}",
        r.text
    );
    assert!(r.text.contains("value=\"30\""), "the form keeps the ruling: {}", r.text);
    let r = first
        .submit(
            &format!("{case_path}/ruling"),
            &[("kind", "split"), ("buyer_percent", "abc"), ("preview", "yes")],
        )
        .await;
    assert_shown(&r, 422, "0 到 100");
    assert_eq!(complaint(&t, &c).await["stage"], "under_review");

    // The ruling: 30% to the buyer, the rest to the seller less the fee.
    let r = first
        .submit(
            &format!("{case_path}/ruling"),
            &[
                ("kind", "split"),
                ("buyer_percent", "30"),
                ("reason", "卡密部分可用，双方各担责任"),
                ("confirm", "yes"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    let done = first.get(&case_path).await;
    assert_shown(&done, 200, "按比例分配（买家 30%，卖家 70%）");
    assert!(done.text.contains("卡密部分可用，双方各担责任"));
    assert!(!done.text.contains("提交裁决"), "{}", done.text);
    let api = complaint(&t, &c).await;
    assert_eq!(api["stage"], "resolved");
    assert_eq!(api["ruling"]["kind"], "split");
    assert_eq!(api["ruling"]["buyer_bps"], 3000);
    assert_eq!(t.balance(&Account::Frozen(c.seller.clone())).await, 0);
    // A closed case leaves the queue; ruling it again is refused on the page.
    let q = first.get("/arbitration").await;
    assert!(!q.text.contains(&c.id), "{}", q.text);
    let again = first
        .submit(
            &format!("{case_path}/ruling"),
            &[("kind", "refund_full"), ("reason", "再裁一次"), ("confirm", "yes")],
        )
        .await;
    assert_eq!(again.status, 409, "{}", again.text);
    let order = t
        .get(&format!("/api/v1/orders/{}", c.order), Some(&c.buyer_token))
        .await;
    assert_eq!(order.body["status"], "partially_refunded", "{}", order.text);
    let _ = &c.seller_token;
    t.settle_refunds().await;
    t.finish().await;
}

async fn console_arb_the_desk_investigates_and_freezes_the_seller(t: TestApp) {
    let c = case_under_review(&t, "arbstep").await;
    let arb = desk(&t, "arb_steps").await;
    let case_path = format!("/arbitration/cases/{}", c.id);
    let page = arb.get(&case_path).await;
    assert!(page.text.contains("要求买家补充证据") && page.text.contains("送交第三方鉴定"));
    assert!(!page.text.contains("鉴定完成"), "{}", page.text);

    // To appraisal and back, then the buyer is asked for more.
    let r = arb
        .submit(
            &format!("{case_path}/step"),
            &[("step", "start_appraisal"), ("note", "送交发卡方核验卡密")],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    assert_eq!(complaint(&t, &c).await["stage"], "appraisal");
    let page = arb.get(&case_path).await;
    assert!(page.text.contains("鉴定完成，转回审核"), "{}", page.text);
    assert!(!page.text.contains("要求买家补充证据"), "{}", page.text);
    let r = arb
        .submit(
            &format!("{case_path}/step"),
            &[("step", "finish_appraisal"), ("note", "发卡方确认卡密已于发货前使用")],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    let r = arb
        .submit(&format!("{case_path}/step"), &[("step", "nonsense"), ("note", "x")])
        .await;
    assert_shown(&r, 422, "请选择要进行的操作");
    let r = arb
        .submit(
            &format!("{case_path}/step"),
            &[("step", "ask_buyer"), ("note", "请提供充值失败的截图")],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    assert_eq!(complaint(&t, &c).await["stage"], "awaiting_buyer");
    let page = arb.get(&case_path).await;
    assert!(page.text.contains("买家补证期限"), "{}", page.text);
    assert!(page.text.contains("平台要求买家补充证据"), "{}", page.text);

    // The seller is frozen from the case, then unfrozen; a freeze needs a reason.
    let r = arb
        .submit(&format!("{case_path}/seller/freeze"), &[("reason", "")])
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
    let r = arb
        .submit(
            &format!("{case_path}/seller/freeze"),
            &[("reason", "多名买家反映卡密已被使用")],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    let balance = t.get("/api/v1/seller/balance", Some(&c.seller_token)).await;
    assert_eq!(balance.body["standing"], "frozen", "{}", balance.text);
    let page = arb.get(&case_path).await;
    assert!(
        page.text.contains("已冻结") && page.text.contains("解除冻结"),
        "{}",
        page.text
    );
    assert!(page.text.contains("多名买家反映卡密已被使用"));
    let r = arb
        .submit(&format!("{case_path}/seller/unfreeze"), &[("reason", "核实为个别情况")])
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    let balance = t.get("/api/v1/seller/balance", Some(&c.seller_token)).await;
    assert_eq!(balance.body["standing"], "active", "{}", balance.text);

    // The rest of the story is the deadline's: the buyer stays silent.
    t.advance(72 * danbao_testkit::HOUR_MS);
    t.run_due_jobs().await;
    assert_eq!(complaint(&t, &c).await["ruling"]["kind"], "release_to_seller");
    t.settle_refunds().await;
    t.finish().await;
}

/// Five buyers paying from five wallets complain of fraud within a day: the seller is
/// frozen automatically. The desk marks the group, taking one case takes them all, and
/// keeping the freeze from a case settles the review.
async fn console_arb_a_collective_group_is_reviewed_from_the_desk(t: TestApp) {
    let (seller_token, _) = t.user("arbcrowd_s", "seller").await;
    let product = t.card_product(&seller_token, 2_000, 5).await;
    let mut cases = Vec::new();
    for i in 0..5 {
        let (buyer, _) = t.user(&format!("arbcrowd_b{i}"), "buyer").await;
        let placed = t
            .post(
                "/api/v1/orders",
                Some(&buyer),
                json!({"product_id": product, "quantity": 1}),
            )
            .await;
        let order = placed.body["id"].as_str().unwrap().to_string();
        t.pay_as(
            placed.body["payment"]["payment_id"].as_str().unwrap(),
            &format!("arbcrowd-wallet-{i}"),
        )
        .await;
        t.wait_for_status(&format!("/api/v1/orders/{order}"), Some(&buyer), "delivered")
            .await;
        let opened = t
            .post(
                &format!("/api/v1/orders/{order}/complaints"),
                Some(&buyer),
                json!({"kind": "fraud", "description": "付款后卡密无效"}),
            )
            .await;
        assert_eq!(opened.status, 201, "{}", opened.text);
        cases.push(opened.body["id"].as_str().unwrap().to_string());
    }
    let arb = desk(&t, "arb_crowd").await;
    let q = arb.get("/arbitration?view=collective").await;
    assert_shown(&q, 200, "集体投诉 · 待复核");
    for id in &cases {
        assert!(q.text.contains(id.as_str()), "{id} not in {}", q.text);
    }
    let case_path = format!("/arbitration/cases/{}", cases[0]);
    let page = arb.get(&case_path).await;
    assert_shown(&page, 200, "卖家已被自动冻结");
    assert!(
        page.text.contains("5 位买家") && page.text.contains("¥100.00"),
        "{}",
        page.text
    );
    assert!(page.text.contains("同组的集体投诉将一并领取"), "{}", page.text);
    let r = arb.submit(&format!("{case_path}/take"), &[]).await;
    assert_eq!(r.status, 303, "{}", r.text);
    let mine = arb.get("/arbitration?view=mine").await;
    for id in &cases {
        assert!(mine.text.contains(id.as_str()), "{id} not taken with its group");
    }
    // The person's word on the automatic freeze, from the case: kept.
    let page = arb.get(&case_path).await;
    assert!(
        page.text.contains("维持冻结") && page.text.contains("解除冻结"),
        "{}",
        page.text
    );
    let r = arb
        .submit(&format!("{case_path}/seller/freeze"), &[("reason", "")])
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
    let r = arb
        .submit(
            &format!("{case_path}/seller/freeze"),
            &[("reason", "五名买家同日投诉欺诈，维持冻结")],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    let page = arb.get(&case_path).await;
    assert!(page.text.contains("已复核：维持冻结"), "{}", page.text);
    assert!(!page.text.contains("卖家已被自动冻结"), "{}", page.text);
    let balance = t.get("/api/v1/seller/balance", Some(&seller_token)).await;
    assert_eq!(balance.body["standing"], "frozen", "{}", balance.text);
    // Later the arbitrator lifts it.
    let r = arb
        .submit(
            &format!("{case_path}/seller/unfreeze"),
            &[("reason", "核实后为发卡方故障")],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    let balance = t.get("/api/v1/seller/balance", Some(&seller_token)).await;
    assert_eq!(balance.body["standing"], "active", "{}", balance.text);
    t.finish().await;
}

/// An arbitrator who chose English sees every page of the desk in English: the queue
/// (and an empty filter), a case with its evidence and triage's opinion, the refusals of
/// the ruling form and of the investigation form, the preview and the ruling made.
async fn console_arb_the_desk_in_english(t: TestApp) {
    let c = case_with_words(
        &t,
        "arben",
        "The key was already used <b>x</b>",
        "Delivered automatically, viewed",
    )
    .await;
    t.app()
        .register(&Origin::Local, "arb_english", PASSWORD, Role::Arbitrator)
        .await
        .unwrap();
    let b = Browser::new(&t);
    let switched = b.get("/lang/en?back=/arbitration").await;
    assert_eq!(switched.status, 303, "{}", switched.text);
    b.get("/login").await;
    let r = b
        .submit("/login", &[("username", "arb_english"), ("password", PASSWORD)])
        .await;
    assert_eq!(r.status, 303, "{}", r.text);

    let q = b.get("/arbitration").await;
    in_english(
        "the queue",
        &q,
        200,
        &[
            "Cases to rule on",
            "Not as described",
            "Not taken",
            "Due within 12 hours",
        ],
    );
    assert!(
        q.text.contains("complaint rate 100.00% (1 complaint / 1 order)"),
        "{}",
        q.text
    );
    let none = b.get("/arbitration?view=mine").await;
    in_english(
        "an empty filter",
        &none,
        200,
        &["No case matches (1 other case not shown)."],
    );

    let case_path = format!("/arbitration/cases/{}", c.id);
    let page = b.get(&case_path).await;
    in_english(
        "a case",
        &page,
        200,
        &[
            "Take this case",
            "Triage opinion",
            "Evidence completeness",
            "Screenshot (Buyer)",
            "Verified",
        ],
    );
    assert!(
        page.text.contains("The key was already used &#60;b&#62;x&#60;/b&#62;"),
        "{}",
        page.text
    );
    assert!(page.text.contains("Delivered automatically, viewed"), "{}", page.text);
    let taken = b.submit(&format!("{case_path}/take"), &[]).await;
    assert_eq!(taken.status, 303, "{}", taken.text);
    let held = b.get(&case_path).await;
    in_english(
        "a case taken",
        &held,
        200,
        &["Submit the ruling", "Preview the settlement", "Freeze the seller now"],
    );

    // Refusals, each on the page again in English with what was typed.
    let ruling = format!("{case_path}/ruling");
    let r = b
        .submit(
            &ruling,
            &[
                ("kind", "split"),
                ("buyer_percent", "30"),
                ("reason", "Both share the blame"),
            ],
        )
        .await;
    in_english(
        "a ruling without its confirmation",
        &r,
        422,
        &["tick the confirmation", "Both share the blame"],
    );
    let r = b
        .submit(
            &ruling,
            &[
                ("kind", "split"),
                ("buyer_percent", "150"),
                ("reason", "x"),
                ("confirm", "yes"),
            ],
        )
        .await;
    in_english(
        "a share out of range",
        &r,
        422,
        &["The share must be a number from 0 to 100"],
    );
    let r = b
        .submit(
            &ruling,
            &[
                ("kind", "split"),
                ("buyer_percent", ""),
                ("reason", "x"),
                ("confirm", "yes"),
            ],
        )
        .await;
    in_english("a split without a share", &r, 422, &["A split needs the buyer"]);
    let r = b.submit(&format!("{case_path}/step"), &[("note", "more please")]).await;
    in_english("a step not chosen", &r, 422, &["Choose what to do", "more please"]);
    let r = b
        .submit(
            &ruling,
            &[("kind", "split"), ("buyer_percent", "30"), ("preview", "yes")],
        )
        .await;
    in_english(
        "the preview",
        &r,
        200,
        &[
            "Settlement preview: Split (buyer 30%, seller 70%)",
            "To the buyer <span class=\"price\">¥30.00</span>",
        ],
    );
    assert_eq!(complaint(&t, &c).await["stage"], "under_review");

    let r = b
        .submit(
            &ruling,
            &[
                ("kind", "split"),
                ("buyer_percent", "30"),
                ("reason", "Half working keys"),
                ("confirm", "yes"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    let done = b.get(&case_path).await;
    in_english(
        "a ruled case",
        &done,
        200,
        &[
            "Split (buyer 30%, seller 70%)",
            "A platform arbitrator",
            "Half working keys",
        ],
    );
    // Ruled again: the use case's refusal, in English too.
    let again = b
        .submit(
            &ruling,
            &[("kind", "refund_full"), ("reason", "again"), ("confirm", "yes")],
        )
        .await;
    in_english("a second ruling", &again, 409, &[]);
    assert!(again.text.contains("role=\"alert\""), "{}", again.text);
    t.settle_refunds().await;
    t.finish().await;
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

/// The desk in a real browser (ui-tests/arbitration.mjs): log in, the queue, a case, take
/// it, rule; screenshots at 390 px and 1280 px land in `target/ui-shots/arb/`. Skipped,
/// saying so, where chromium or the node module is missing (a failure under CI).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn console_arb_in_chromium() {
    if !danbao_testkit::browser_ready() {
        return;
    }
    let ui = danbao_testkit::ui_tests_dir();
    let t = TestApp::sqlite().await;
    let c = case_under_review(&t, "arbui").await;
    // A second case, still waiting for its seller, so the queue has more than one row.
    let other = case_under_review(&t, "arbui2").await;
    let _ = (&other.id, &c.order);
    t.app()
        .register(&Origin::Local, "arb_browser", PASSWORD, Role::Arbitrator)
        .await
        .unwrap();
    let shots = danbao_testkit::ui_shots_dir("arb");
    let out = tokio::process::Command::new("node")
        .arg(ui.join("arbitration.mjs"))
        .arg(&t.url)
        .arg("arb_browser")
        .arg(PASSWORD)
        .arg(&shots)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "browser run failed:\n{stdout}\n{stderr}");
    assert!(
        stdout.contains("ok: ruled a split in chromium (screenshot thumbnail shown: true)"),
        "{stdout}"
    );
    // What the browser did is what the platform recorded.
    let ruled_case = if complaint(&t, &c).await["ruling"]["kind"] == "split" {
        &c
    } else {
        &other
    };
    let done = complaint(&t, ruled_case).await;
    assert_eq!(done["ruling"]["kind"], "split", "{done}");
    assert_eq!(done["ruling"]["buyer_bps"], 3000);
    // Each party's own page shows the exact amounts: 30 % of ¥100.00 back to the buyer;
    // the seller's ¥70.00 less the 5 % fee (¥3.50) available, nothing left frozen.
    t.settle_refunds().await;
    let tag = if std::ptr::eq(ruled_case, &c) {
        "arbui"
    } else {
        "arbui2"
    };
    let seller = danbao_testkit::Browser::new(&t);
    seller.get("/login").await;
    seller
        .submit(
            "/login",
            &[("username", &format!("{tag}_s")), ("password", "correct-horse")],
        )
        .await;
    let money = seller.get("/seller/money").await;
    let figure = |html: &str, label: &str| -> String {
        let at = html.find(&format!("<div class=\"label\">{label}</div>")).expect(label);
        let rest = &html[at..];
        let v = rest.find("class=\"value\">").unwrap() + "class=\"value\">".len();
        rest[v..v + rest[v..].find('<').unwrap()].to_string()
    };
    assert_eq!(figure(&money.text, "可提现"), "¥66.50", "{}", money.text);
    assert_eq!(figure(&money.text, "冻结"), "¥0.00", "{}", money.text);
    assert!(
        money.text.contains("裁决结算") && money.text.contains("+66.50"),
        "{}",
        money.text
    );
    let buyer = danbao_testkit::Browser::new(&t);
    buyer.get("/login").await;
    buyer
        .submit(
            "/login",
            &[("username", &format!("{tag}_b")), ("password", "correct-horse")],
        )
        .await;
    let order_page = buyer.get(&format!("/orders/{}", ruled_case.order)).await;
    assert!(order_page.text.contains("¥30.00"), "{}", order_page.text);
    assert!(
        order_page.text.contains("部分退款") || order_page.text.contains("已退款"),
        "{}",
        order_page.text
    );
    for name in [
        "1-queue-1280",
        "2-queue-390",
        "3-case-1280",
        "4-case-390",
        "5-preview-390",
        "6-ruled-390",
        "7-case-en-1280",
        "7-case-en-390",
        "8-queue-en-1280",
        "8-queue-en-390",
    ] {
        assert!(shots.join(format!("{name}.png")).exists(), "{name}");
    }
    t.settle_refunds().await;
    t.finish().await;
}
