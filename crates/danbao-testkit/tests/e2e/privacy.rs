//! Issue 8 items 10 and 15: the public evidence log says nothing about an order to
//! someone without access to it, while its parties can still prove every event; and the
//! in-process sandbox remembers a payment across a server restart.

use danbao_evidence::{sha256_hex, verify_receipt, LeafOpening, LogVerifier, OpeningError};
use danbao_testkit::TestApp;
use serde_json::{json, Value};

on_both_databases!(
    a_public_receipt_names_nothing_and_its_hashes_cannot_be_guessed,
    the_parties_open_every_event_and_a_changed_opening_is_caught,
    a_cashier_opened_before_a_restart_is_paid_after_it,
);

/// A price no other figure in these tests has, so finding it anywhere means a leak.
const PRICE_MINOR: i64 = 4_273;

struct Bought {
    order: String,
    buyer: String,
    buyer_id: String,
    seller: String,
    seller_id: String,
    product: String,
    payment: String,
}

/// An account buyer buys a card key, reveals it and confirms: every kind of order event.
async fn bought(t: &TestApp) -> Bought {
    let (seller, seller_id) = t.user("priv_seller", "seller").await;
    let (buyer, buyer_id) = t.user("priv_buyer", "buyer").await;
    let product = t.card_product(&seller, PRICE_MINOR, 1).await;
    let placed = t
        .post(
            "/api/v1/orders",
            Some(&buyer),
            json!({"product_id": product, "quantity": 1}),
        )
        .await;
    assert_eq!(placed.status, 201, "{}", placed.text);
    let order = placed.body["id"].as_str().unwrap().to_string();
    let payment = placed.body["payment"]["payment_id"].as_str().unwrap().to_string();
    t.pay(&payment).await;
    t.wait_for_status(&format!("/api/v1/orders/{order}"), Some(&buyer), "delivered")
        .await;
    t.get(&format!("/api/v1/orders/{order}/delivery"), Some(&buyer)).await;
    let r = t
        .post(&format!("/api/v1/orders/{order}/confirm"), Some(&buyer), json!({}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    Bought {
        order,
        buyer,
        buyer_id,
        seller,
        seller_id,
        product,
        payment,
    }
}

async fn verifier(t: &TestApp) -> LogVerifier {
    LogVerifier::from_vkey(t.get("/api/v1/evidence/key", None).await.text.trim()).unwrap()
}

async fn timeline(t: &TestApp, order: &str, token: &str) -> Value {
    let r = t.get(&format!("/api/v1/orders/{order}/timeline"), Some(token)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body
}

/// Whether `text` holds `secret` as a whole word: a short secret such as the amount "4273"
/// turns up inside a random hash one time in a few hundred, which names nothing.
fn names(text: &str, secret: &str) -> bool {
    text.match_indices(secret).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + secret.len()..].chars().next();
        !before.is_some_and(|c| c.is_ascii_alphanumeric()) && !after.is_some_and(|c| c.is_ascii_alphanumeric())
    })
}

/// Every 64-character lowercase hex run in `text`: the hashes a reader could try.
fn hex_hashes(text: &str) -> Vec<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut start = 0;
    for i in 0..=bytes.len() {
        let hex = i < bytes.len() && matches!(bytes[i], b'0'..=b'9' | b'a'..=b'f');
        if !hex {
            if i - start == 64 {
                out.push(text[start..i].to_string());
            }
            start = i + 1;
        }
    }
    out
}

async fn a_public_receipt_names_nothing_and_its_hashes_cannot_be_guessed(t: TestApp) {
    let b = bought(&t).await;
    let v = verifier(&t).await;
    let tl = timeline(&t, &b.order, &b.buyer).await;
    assert_eq!(tl["intact"], true, "{tl}");
    let events = tl["events"].as_array().unwrap();
    assert!(events.len() >= 5, "{tl}");
    let amount = PRICE_MINOR.to_string();
    assert!(names(r#"{"amount":4273}"#, &amount) && !names("4e0b4273cd", &amount));
    let mut published = String::new();
    for e in events {
        // What anyone can fetch, knowing only a leaf index.
        let idx = e["leaf_index"].as_u64().unwrap();
        let public = t.get(&format!("/api/v1/evidence/receipts/{idx}"), None).await;
        assert_eq!(public.status, 200);
        // A receipt alone still proves inclusion under a signed checkpoint ...
        let ok = verify_receipt(public.text.as_str(), &v).unwrap();
        assert_eq!(ok.index, idx);
        assert_eq!(ok.leaf.version(), 2);
        // ... and nothing more: its record names no order, party, product, payment or amount.
        let record = ok.leaf.to_canonical();
        for secret in [&b.order, &b.buyer_id, &b.seller_id, &b.product, &b.payment, &amount] {
            assert!(!names(&record, secret), "{secret} in {record}");
            assert!(!names(&public.text, secret), "{secret} in the receipt");
        }
        // Nor the hash of the event's details, nor the leaf before it (the chain is sealed).
        assert!(!record.contains(&sha256_hex(e["detail_json"].as_str().unwrap().as_bytes())));
        published.push_str(&record);
    }
    // No leaf names another: the case's leaves cannot be grouped from the public log.
    for e in events {
        let leaf_hash = verify_receipt(e["receipt"].as_str().unwrap(), &v)
            .unwrap()
            .leaf
            .leaf_hash_hex();
        assert!(
            !published.contains(&leaf_hash),
            "a leaf of the case is linked in public"
        );
    }

    // Brute force, as a reader of the log would: try every amount from ¥0.01 to ¥2,000.00
    // in each event whose details carry the amount, hash it, look for it in what was published.
    let published_hashes = hex_hashes(&published);
    let with_amount: Vec<&str> = events
        .iter()
        .map(|e| e["detail_json"].as_str().unwrap())
        .filter(|d| d.contains(&format!(":{amount}")))
        .collect();
    assert!(
        !with_amount.is_empty(),
        "no event carries the amount: the search would prove nothing"
    );
    for detail in with_amount {
        let mut true_amount_found = false;
        for guess in 1..=200_000_i64 {
            let candidate = detail.replace(&format!(":{amount}"), &format!(":{guess}"));
            let hash = sha256_hex(candidate.as_bytes());
            // The search is the right one: at the true amount it rebuilds the true details,
            // whose unsalted hash a public (v1) leaf would have published.
            if guess == PRICE_MINOR {
                assert_eq!(candidate, detail);
                true_amount_found = true;
            }
            assert!(
                !published_hashes.contains(&hash),
                "amount {guess} recovered from {detail}"
            );
        }
        assert!(true_amount_found);
    }
    t.finish().await;
}

async fn a_cashier_opened_before_a_restart_is_paid_after_it(t: TestApp) {
    let (seller, _) = t.user("restart_seller", "seller").await;
    let (buyer, _) = t.user("restart_buyer", "buyer").await;
    let product = t.card_product(&seller, 1_500, 1).await;
    let placed = t
        .post(
            "/api/v1/orders",
            Some(&buyer),
            json!({"product_id": product, "quantity": 1}),
        )
        .await;
    assert_eq!(placed.status, 201, "{}", placed.text);
    let order = placed.body["id"].as_str().unwrap().to_string();
    let payment = placed.body["payment"]["payment_id"].as_str().unwrap().to_string();
    let cashier = placed.body["payment"]["cashier_url"].as_str().unwrap().to_string();

    // The buyer has the cashier open; the server restarts.
    let t = t.restart().await;
    let page = t.raw(t.http.get(&cashier)).await;
    assert_eq!(page.status, 200, "the cashier forgot the payment: {}", page.text);
    t.pay(&payment).await;
    let r = t
        .wait_for_status(&format!("/api/v1/orders/{order}"), Some(&buyer), "delivered")
        .await;
    assert_eq!(r.body["amount_minor"], 1_500);
    // The gateway's own record of the payment, after the restart: paid, and acknowledged.
    t.sandbox().deliveries_settled(&payment).await;
    let view = t.sandbox_client().view(&payment).await.unwrap();
    assert_eq!(view.status, "succeeded");
    assert!(
        view.notifications.iter().any(|a| a.outcome == "acknowledged"),
        "{:?}",
        view.notifications
    );
    t.finish().await;
}

async fn the_parties_open_every_event_and_a_changed_opening_is_caught(t: TestApp) {
    let b = bought(&t).await;
    let v = verifier(&t).await;
    let case = format!("order:{}", b.order);
    for token in [&b.buyer, &b.seller] {
        let tl = timeline(&t, &b.order, token).await;
        assert_eq!(tl["intact"], true, "{tl}");
        let mut prev: Option<String> = None;
        for e in tl["events"].as_array().unwrap() {
            let ok = verify_receipt(e["receipt"].as_str().unwrap(), &v).unwrap();
            // Without the opening a sealed leaf says nothing ...
            assert_eq!(ok.leaf.event(None), Err(OpeningError::Sealed));
            // ... with it, exactly what happened: case, kind, details, time and chain.
            let opening = LeafOpening::parse(e["opening"].as_str().unwrap()).unwrap();
            let event = ok.leaf.event(Some(&opening)).unwrap();
            assert_eq!(event.case(), case);
            assert_eq!(event.kind(), format!("order.{}", e["kind"].as_str().unwrap()));
            assert_eq!(
                event.content_sha256(),
                sha256_hex(e["detail_json"].as_str().unwrap().as_bytes())
            );
            assert_eq!(danbao_app::clock::rfc3339(event.at_ms()), e["at"].as_str().unwrap());
            assert_eq!(event.prev_leaf_hash(), prev.as_deref());
            prev = Some(ok.leaf.leaf_hash_hex());
        }
    }
    let (stranger, _) = t.user("priv_stranger", "buyer").await;
    let r = t
        .get(&format!("/api/v1/orders/{}/timeline", b.order), Some(&stranger))
        .await;
    assert_eq!(r.status, 404);

    // An opening changed to name another order, another kind or other details is refused.
    let tl = timeline(&t, &b.order, &b.buyer).await;
    let created = &tl["events"][0];
    let ok = verify_receipt(created["receipt"].as_str().unwrap(), &v).unwrap();
    let text = created["opening"].as_str().unwrap();
    let other_order = "0190f7a4-5b7e-7cc1-8e3a-2f0d1c9b8a77";
    let fake_details = sha256_hex(
        created["detail_json"]
            .as_str()
            .unwrap()
            .replace(&PRICE_MINOR.to_string(), "1")
            .as_bytes(),
    );
    let real_details = sha256_hex(created["detail_json"].as_str().unwrap().as_bytes());
    for edited in [
        text.replace(&b.order, other_order),
        text.replace("kind order.created", "kind order.cancelled"),
        text.replace(&real_details, &fake_details),
    ] {
        assert_ne!(edited, text);
        let tampered = LeafOpening::parse(&edited).unwrap();
        assert_eq!(ok.leaf.event(Some(&tampered)), Err(OpeningError::Mismatch));
    }

    // Someone with database access rewrites a stored opening: the timeline says so.
    if t.is_postgres() {
        t.sql("DROP TRIGGER evidence_openings_insert_only ON evidence_openings")
            .await;
    } else {
        t.sql("DROP TRIGGER evidence_openings_no_update").await;
    }
    t.sql(&format!(
        "UPDATE evidence_openings SET opening = REPLACE(opening, '{real_details}', '{fake_details}') \
         WHERE case_id = '{case}'"
    ))
    .await;
    let tl = timeline(&t, &b.order, &b.buyer).await;
    assert_eq!(tl["intact"], false);
    assert!(
        tl["events"][0]["problem"]
            .as_str()
            .unwrap()
            .contains("opening of this event does not match"),
        "{}",
        tl["events"][0]
    );
    t.finish().await;
}
