//! A guest buyer's secret stays theirs (issue 8 item 1), and every page form needs this
//! browser's anti-forgery token (item 13).

use danbao_testkit::{Browser, Resp, TestApp};
use serde_json::json;

on_both_databases!(a_seller_cannot_act_as_a_guest_buyer, forms_need_this_browsers_token,);

/// A guest buys through the pages; returns (order id, access token, payment id) once
/// the order is delivered. The token is read from the browser's cookie jar: nothing the
/// browser was shown or sent to carries it.
async fn page_checkout(t: &TestApp, buyer: &Browser<'_>, product: &str) -> (String, String, String) {
    buyer.get(&format!("/products/{product}")).await;
    let bought = buyer
        .submit(
            &format!("/products/{product}/buy"),
            &[
                ("quantity", "1"),
                ("contact", "qq 20001"),
                ("query_password", "guest-pass-2"),
            ],
        )
        .await;
    assert_eq!(bought.status, 303, "{}", bought.text);
    let cashier = bought.headers.get("location").unwrap().to_str().unwrap().to_string();
    let payment = cashier.rsplit('/').next().unwrap().to_string();
    let paid = buyer
        .send(
            buyer
                .post(&format!("/sandbox/payments/{payment}/pay"))
                .header("accept", "text/html"),
        )
        .await;
    assert_eq!(paid.status, 303, "{}", paid.text);
    let back = paid.headers.get("location").unwrap().to_str().unwrap().to_string();
    let order = back.rsplit('/').next().unwrap().to_string();
    assert_eq!(back, format!("{}/orders/{order}", t.url), "the return URL is bare");
    let token = buyer
        .cookie(&format!("danbao_order_{order}"))
        .expect("checkout gave the browser the order's cookie");
    t.wait_for_status(
        &format!("/api/v1/orders/{order}?access_token={token}"),
        None,
        "delivered",
    )
    .await;
    (order, token, payment)
}

fn reveals(timeline: &Resp) -> usize {
    // Counted by event kind: the text also names the kind inside each event's opening.
    timeline.body["events"].as_array().map_or(0, |events| {
        events.iter().filter(|e| e["kind"] == "delivery_revealed").count()
    })
}

/// The attack of issue 8 item 1, replayed: the seller reads everything it can reach —
/// its order views (API and page), the gateway's view of the payment, the cashier after
/// payment, Pay again — and finds no buyer secret anywhere; acting as the buyer (reveal,
/// confirm, withdraw the complaint) is refused and changes nothing. The buyer, with the
/// cookie from checkout, does all of it.
async fn a_seller_cannot_act_as_a_guest_buyer(t: TestApp) {
    let (seller_token, _) = t.user("access_s", "seller").await;
    let product = t.card_product(&seller_token, 4_200, 1).await;
    let buyer = Browser::new(&t);
    let (order, token, payment) = page_checkout(&t, &buyer, &product).await;
    let secrets = [token.as_str(), "access_token", payment.as_str(), "/sandbox/cashier/"];
    let leaks = |what: &str, text: &str| {
        for s in secrets {
            assert!(!text.contains(s), "{what} shows {s}: {text}");
        }
    };

    // The buyer opens a complaint from the order page (cookie + form token).
    buyer.get(&format!("/orders/{order}")).await;
    let opened = buyer
        .submit(
            &format!("/orders/{order}/complaints"),
            &[("kind", "not_as_described"), ("description", "卡密无法兑换")],
        )
        .await;
    assert_eq!(opened.status, 303, "{}", opened.text);
    let complaint = opened.headers.get("location").unwrap().to_str().unwrap().to_string();
    let complaint_id = complaint.trim_start_matches("/complaints/").to_string();

    // The seller's view, over the API and in the pages, has no payment secret.
    let view = t.get(&format!("/api/v1/orders/{order}"), Some(&seller_token)).await;
    assert_eq!(view.status, 200, "{}", view.text);
    assert_eq!(view.body["viewer"], "seller");
    assert!(view.body["payment"].is_null(), "{}", view.text);
    leaks("the seller's order view", &view.text);
    let list = t.get("/api/v1/orders", Some(&seller_token)).await;
    assert_eq!(list.status, 200, "{}", list.text);
    assert!(list.text.contains(&order), "{}", list.text);
    leaks("the seller's order list", &list.text);
    let seller = Browser::new(&t);
    seller.get("/login").await;
    let login = seller
        .submit("/login", &[("username", "access_s"), ("password", "correct-horse")])
        .await;
    assert_eq!(login.status, 303, "{}", login.text);
    let page = seller.get(&format!("/orders/{order}")).await;
    assert_eq!(page.status, 200, "{}", page.text);
    leaks("the seller's order page", &page.text);
    let page = seller.get(&complaint).await;
    assert_eq!(page.status, 200, "{}", page.text);
    leaks("the seller's complaint page", &page.text);
    // Nor does the operator's view of the order, nor the arbitrator's of the complaint.
    let arbitrator = t.staff(danbao_app::Role::Arbitrator).await;
    let case = t
        .get(&format!("/api/v1/complaints/{complaint_id}"), Some(&arbitrator))
        .await;
    assert_eq!(case.status, 200, "{}", case.text);
    leaks("the arbitrator's complaint view", &case.text);
    let admin = t.admin().await;
    let ops = t.get(&format!("/api/v1/admin/orders/{order}"), Some(&admin)).await;
    assert_eq!(ops.status, 200, "{}", ops.text);
    assert!(ops.body["order"]["payment"].is_null(), "{}", ops.text);
    assert!(!ops.text.contains(&token), "{}", ops.text);

    // Whoever learns the payment id (the gateway, or a leak) finds nothing of the buyer:
    // not in the gateway's view, not on the cashier after payment, not by paying again.
    let gateway = t.get(&format!("/sandbox/payments/{payment}"), None).await;
    assert_eq!(gateway.status, 200, "{}", gateway.text);
    assert_eq!(gateway.body["status"], "succeeded");
    assert!(
        !gateway.text.contains(&token) && !gateway.text.contains("/orders/"),
        "{}",
        gateway.text
    );
    let cashier = seller.get(&format!("/sandbox/cashier/{payment}")).await;
    assert_eq!(cashier.status, 200);
    assert!(cashier.text.contains("已支付"), "{}", cashier.text);
    for s in [token.as_str(), "/orders/", "qq 20001", "href="] {
        assert!(
            !cashier.text.contains(s),
            "the paid cashier shows {s}: {}",
            cashier.text
        );
    }
    let again = seller
        .send(
            seller
                .post(&format!("/sandbox/payments/{payment}/pay"))
                .header("accept", "text/html"),
        )
        .await;
    assert_eq!(again.status, 303);
    let location = again.headers.get("location").unwrap().to_str().unwrap();
    assert!(location.ends_with(&format!("/sandbox/cashier/{payment}")), "{location}");
    assert!(seller.cookies().iter().all(|c| !c.starts_with("danbao_order_")));

    // Acting as the buyer is refused and changes nothing.
    let before = t
        .get(&format!("/api/v1/orders/{order}/timeline?access_token={token}"), None)
        .await;
    seller.get(&format!("/orders/{order}")).await;
    let reveal = seller.submit(&format!("/orders/{order}/reveal"), &[]).await;
    assert_ne!(reveal.status, 200, "{}", reveal.text);
    assert!(!reveal.text.contains(&format!("KEY-{product}-")), "{}", reveal.text);
    let confirm = seller.submit(&format!("/orders/{order}/confirm"), &[]).await;
    assert_ne!(confirm.status, 303, "{}", confirm.text);
    seller.get(&complaint).await;
    let withdraw = seller.submit(&format!("{complaint}/withdraw"), &[]).await;
    assert_ne!(withdraw.status, 303, "{}", withdraw.text);
    for path in [
        format!("/api/v1/orders/{order}/confirm"),
        format!("/api/v1/complaints/{complaint_id}/withdraw"),
    ] {
        let r = t.post(&path, Some(&seller_token), json!({})).await;
        assert!(r.status == 403 || r.status == 404, "{path}: {} {}", r.status, r.text);
    }
    let r = t
        .get(&format!("/api/v1/orders/{order}/delivery"), Some(&seller_token))
        .await;
    assert!(r.status == 403 || r.status == 404, "{} {}", r.status, r.text);
    let after = t
        .get(&format!("/api/v1/orders/{order}/timeline?access_token={token}"), None)
        .await;
    assert_eq!(reveals(&after), reveals(&before));
    // The one reveal is the buyer's own view of the delivered order, before the complaint.
    assert_eq!(reveals(&after), 1);
    let c = t
        .get(&format!("/api/v1/complaints/{complaint_id}?access_token={token}"), None)
        .await;
    assert_eq!(c.body["stage"], "awaiting_seller", "{}", c.text);

    // The buyer, with the cookie from checkout, withdraws, reveals and confirms.
    buyer.get(&complaint).await;
    let withdrawn = buyer.submit(&format!("{complaint}/withdraw"), &[]).await;
    assert_eq!(withdrawn.status, 303, "{}", withdrawn.text);
    let revealed = buyer.get(&format!("/orders/{order}")).await;
    assert_eq!(revealed.status, 200, "{}", revealed.text);
    assert!(revealed.text.contains(&format!("KEY-{product}-")), "{}", revealed.text);
    let confirmed = buyer.submit(&format!("/orders/{order}/confirm"), &[]).await;
    assert_eq!(confirmed.status, 303, "{}", confirmed.text);
    assert_eq!(confirmed.headers.get("location").unwrap(), &format!("/orders/{order}"));
    let done = t
        .get(&format!("/api/v1/orders/{order}?access_token={token}"), None)
        .await;
    assert_eq!(done.body["status"], "completed", "{}", done.text);
    let timeline = t
        .get(&format!("/api/v1/orders/{order}/timeline?access_token={token}"), None)
        .await;
    // The buyer's two views of the delivered order, each a recorded reveal.
    assert_eq!(reveals(&timeline), 2);
    assert!(
        timeline.text.contains("\"guest\""),
        "the reveal is the buyer's: {}",
        timeline.text
    );
    t.finish().await;
}

/// Every page form carries this browser's token: without it, with a made-up one, or with
/// another browser's, the POST is refused with a 403 page in Chinese and nothing
/// changes; with it, the form works. The token of a logged-out page stops working once
/// the browser logs in (it is bound to the session too).
async fn forms_need_this_browsers_token(t: TestApp) {
    let (seller_token, _) = t.user("forms_s", "seller").await;
    t.user("forms_b", "buyer").await;
    let product = t.card_product(&seller_token, 1_500, 2).await;
    let buyer = Browser::new(&t);
    let (order, token, _) = page_checkout(&t, &buyer, &product).await;
    let other = Browser::new(&t);
    other.get("/login").await;
    let others_token = other.form_token().unwrap();
    let refused = |r: &Resp, what: &str| {
        assert_eq!(r.status, 403, "{what}: {}", r.text);
        assert!(r.text.contains("表单已失效或来源不明"), "{what}: {}", r.text);
        assert!(
            r.headers
                .get_all("set-cookie")
                .iter()
                .all(|c| !c.to_str().unwrap().starts_with("danbao_session=")
                    && !c.to_str().unwrap().starts_with("danbao_order_")),
            "{what} set a cookie"
        );
    };
    let stock = || async { t.get(&format!("/api/v1/products/{product}"), None).await.body["stock"].clone() };
    let status = || async {
        t.get(&format!("/api/v1/orders/{order}?access_token={token}"), None)
            .await
            .body["status"]
            .clone()
    };
    let stock_before = stock().await;

    // Every page POST, three ways wrong, from the buyer's own browser (its cookies go
    // along): nothing happens.
    buyer.get(&format!("/orders/{order}")).await;
    let forms: Vec<(String, Vec<(&str, &str)>)> = vec![
        (
            "/login".into(),
            vec![("username", "forms_b"), ("password", "correct-horse")],
        ),
        ("/logout".into(), vec![]),
        (
            "/lookup".into(),
            vec![
                ("order_id", &order),
                ("contact", "qq 20001"),
                ("query_password", "guest-pass-2"),
            ],
        ),
        (
            format!("/products/{product}/buy"),
            vec![
                ("quantity", "1"),
                ("contact", "qq 3"),
                ("query_password", "guest-pass-3"),
            ],
        ),
        (format!("/orders/{order}/reveal"), vec![]),
        (format!("/orders/{order}/confirm"), vec![]),
        (
            format!("/orders/{order}/complaints"),
            vec![("kind", "not_as_described"), ("description", "x")],
        ),
    ];
    let zeros = "0".repeat(64);
    for (path, fields) in &forms {
        refused(&buyer.post_form(path, fields).await, &format!("{path} without a token"));
        for wrong in [zeros.as_str(), others_token.as_str()] {
            let mut with = vec![("csrf_token", wrong)];
            with.extend_from_slice(fields);
            refused(
                &buyer.post_form(path, &with).await,
                &format!("{path} with a wrong token"),
            );
        }
    }
    // A body that is not a form is not one of our forms either.
    let json_post = buyer
        .send(
            buyer
                .post(&format!("/orders/{order}/confirm"))
                .header("content-type", "application/json")
                .body("{}"),
        )
        .await;
    refused(&json_post, "a JSON body");
    // Nor is a multipart body anywhere but the file upload (which checks it itself).
    let multipart = buyer
        .post_multipart(&format!("/orders/{order}/confirm"), &[], b"x")
        .await;
    refused(&multipart, "a multipart body");
    assert_eq!(stock().await, stock_before);
    assert_eq!(status().await, "delivered");
    let timeline = t
        .get(&format!("/api/v1/orders/{order}/timeline?access_token={token}"), None)
        .await;
    // The one reveal is the buyer's page view before the forgeries; no forged post added one.
    assert_eq!(reveals(&timeline), 1);
    let complaints = t
        .get(&format!("/api/v1/orders/{order}/complaints?access_token={token}"), None)
        .await;
    assert_eq!(complaints.status, 200, "{}", complaints.text);
    assert!(!complaints.text.contains("not_as_described"), "{}", complaints.text);
    // A cookie-less POST with a real token from elsewhere does not log anyone in.
    let bare = Browser::new(&t);
    refused(
        &bare
            .post_form(
                "/login",
                &[
                    ("csrf_token", &others_token),
                    ("username", "forms_b"),
                    ("password", "correct-horse"),
                ],
            )
            .await,
        "a login without the browser cookie",
    );
    assert!(bare.cookie("danbao_session").is_none());

    // With the page's token, each works.
    let revealed = buyer.submit(&format!("/orders/{order}/reveal"), &[]).await;
    assert_eq!(revealed.status, 303, "{}", revealed.text);
    let confirmed = buyer.submit(&format!("/orders/{order}/confirm"), &[]).await;
    assert_eq!(confirmed.status, 303, "{}", confirmed.text);
    assert_eq!(status().await, "completed");
    // Logging in binds the forms to the session: the logged-out page's token no longer
    // fits; the next page's does.
    let logged_out_token = other.form_token().unwrap();
    let login = other
        .submit("/login", &[("username", "forms_b"), ("password", "correct-horse")])
        .await;
    assert_eq!(login.status, 303, "{}", login.text);
    let stale = other.post_form("/logout", &[("csrf_token", &logged_out_token)]).await;
    refused(&stale, "a token from before logging in");
    assert!(other.cookie("danbao_session").is_some());
    other.get("/account").await;
    let out = other.submit("/logout", &[]).await;
    assert_eq!(out.status, 303, "{}", out.text);
    assert!(other.cookie("danbao_session").is_none());
    t.finish().await;
}
