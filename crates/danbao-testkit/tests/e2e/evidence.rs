//! The record that cannot be rewritten (issue 4): receipts that verify offline with the
//! published key, checkpoints that stay consistent, and tampering that is caught.

use danbao_evidence::{open_checkpoint, verify_consistency_between, verify_receipt, LogVerifier};
use danbao_testkit::TestApp;
use serde_json::{json, Value};

on_both_databases!(
    every_order_event_has_a_receipt_that_verifies_offline,
    rewriting_the_database_is_detected,
);

/// Buys, reveals and confirms one card key; returns (order id, access token).
async fn completed_order(t: &TestApp, seller: &str) -> (String, String) {
    let (seller_token, _) = t.user(seller, "seller").await;
    let product = t.card_product(&seller_token, 2000, 2).await;
    let placed = t.guest_order(&product, 1).await;
    let id = placed.body["id"].as_str().unwrap().to_string();
    let token = placed.body["access_token"].as_str().unwrap().to_string();
    t.pay(placed.body["payment"]["payment_id"].as_str().unwrap()).await;
    t.wait_for_status(&format!("/api/v1/orders/{id}?access_token={token}"), None, "delivered")
        .await;
    t.get(&format!("/api/v1/orders/{id}/delivery?access_token={token}"), None)
        .await;
    let r = t
        .post(
            &format!("/api/v1/orders/{id}/confirm?access_token={token}"),
            None,
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    (id, token)
}

async fn verifier(t: &TestApp) -> LogVerifier {
    let key = t.get("/api/v1/evidence/key", None).await;
    assert_eq!(key.status, 200);
    LogVerifier::from_vkey(key.text.trim()).unwrap()
}

async fn timeline(t: &TestApp, id: &str, token: &str) -> Value {
    let r = t
        .get(&format!("/api/v1/orders/{id}/timeline?access_token={token}"), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body
}

async fn every_order_event_has_a_receipt_that_verifies_offline(t: TestApp) {
    let (id, token) = completed_order(&t, "ev_seller").await;
    let v = verifier(&t).await;
    let tl = timeline(&t, &id, &token).await;
    assert_eq!(tl["intact"], true, "{tl}");
    let events = tl["events"].as_array().unwrap();
    let kinds: Vec<&str> = events.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "created",
            "paid",
            "delivered",
            "delivery_revealed",
            "completed",
            "confirmed"
        ]
    );
    let mut prev: Option<String> = None;
    for e in events {
        assert_eq!(e["verified"], true, "{e}");
        let receipt = e["receipt"].as_str().unwrap();
        // Offline: only the receipt and the public key.
        let ok = verify_receipt(receipt, &v).unwrap();
        // The leaf is sealed: what it records shows only with the opening the party got.
        let opening = danbao_evidence::LeafOpening::parse(e["opening"].as_str().unwrap()).unwrap();
        let event = ok.leaf.event(Some(&opening)).unwrap();
        assert_eq!(event.case(), format!("order:{id}"));
        assert_eq!(event.kind(), format!("order.{}", e["kind"].as_str().unwrap()));
        assert_eq!(
            event.content_sha256(),
            danbao_evidence::sha256_hex(e["detail_json"].as_str().unwrap().as_bytes())
        );
        assert_eq!(
            event.prev_leaf_hash(),
            prev.as_deref(),
            "each leaf names the one before"
        );
        prev = Some(ok.leaf.leaf_hash_hex());
        // No personal data in the leaf: no contact, no key.
        let record = ok.leaf.to_canonical();
        assert!(!record.contains("qq:10001") && !record.contains("KEY-"), "{record}");
        // The public receipt endpoint serves the same proof for that leaf.
        let idx = e["leaf_index"].as_u64().unwrap();
        let served = t.get(&format!("/api/v1/evidence/receipts/{idx}"), None).await;
        assert_eq!(served.status, 200);
        assert_eq!(verify_receipt(served.text.as_str(), &v).unwrap().index, idx);
    }
    // The delivered content is committed: the hash of the revealed key is in the log.
    let key = t
        .get(&format!("/api/v1/orders/{id}/delivery?access_token={token}"), None)
        .await;
    let key = key.body["items"][0]["content"].as_str().unwrap();
    assert_eq!(
        events[2]["detail"]["content_sha256"][0],
        danbao_evidence::sha256_hex(key.as_bytes())
    );
    assert!(events[1]["detail"]["payment_record_sha256"].is_string());

    // A later checkpoint is provably consistent with the earlier one.
    let old = t.get("/api/v1/evidence/checkpoint", None).await.text;
    let old_cp = open_checkpoint(&old, &v).unwrap();
    completed_order(&t, "ev_seller2").await;
    let new = t.get("/api/v1/evidence/checkpoint", None).await.text;
    let new_cp = open_checkpoint(&new, &v).unwrap();
    assert!(new_cp.size() > old_cp.size());
    let proof = t
        .get(
            &format!(
                "/api/v1/evidence/consistency?from={}&to={}",
                old_cp.size(),
                new_cp.size()
            ),
            None,
        )
        .await;
    assert_eq!(proof.status, 200, "{}", proof.text);
    let hashes: Vec<[u8; 32]> = proof
        .text
        .lines()
        .map(|l| {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD
                .decode(l)
                .unwrap()
                .try_into()
                .unwrap()
        })
        .collect();
    verify_consistency_between(&old, &new, &hashes, &v).unwrap();
    // Bad requests are refused clearly.
    assert_eq!(t.get("/api/v1/evidence/receipts/999999", None).await.status, 404);
    assert_eq!(t.get("/api/v1/evidence/receipts/abc", None).await.status, 422);
    assert_eq!(
        t.get("/api/v1/evidence/consistency?from=0&to=1", None).await.status,
        422
    );
    // Only the order's buyer and seller see its timeline.
    let (stranger, _) = t.user("ev_stranger", "buyer").await;
    assert_eq!(
        t.get(&format!("/api/v1/orders/{id}/timeline"), Some(&stranger))
            .await
            .status,
        404
    );
    // A checkpoint signed by another key does not open with ours.
    let other = danbao_evidence::LogSigner::generate("danbao.dev/evidence-log", &mut rand::rngs::OsRng).unwrap();
    let forged = danbao_evidence::Checkpoint::new("danbao.dev/evidence-log", new_cp.size(), *new_cp.root())
        .unwrap()
        .sign(&other);
    assert!(open_checkpoint(&forged, &v).is_err());
    t.finish().await;
}

async fn drop_insert_only_guards(t: &TestApp) {
    for table in ["evidence_leaves", "evidence_nodes", "order_events"] {
        if t.is_postgres() {
            t.sql(&format!("DROP TRIGGER {table}_insert_only ON {table}")).await;
        } else {
            t.sql(&format!("DROP TRIGGER {table}_no_update")).await;
            t.sql(&format!("DROP TRIGGER {table}_no_delete")).await;
        }
    }
}

async fn rewriting_the_database_is_detected(t: TestApp) {
    let (id, token) = completed_order(&t, "tamper_seller").await;
    assert_eq!(timeline(&t, &id, &token).await["intact"], true);

    // The log tables refuse updates and deletes outright.
    let refused = t
        .app()
        .store
        .execute_raw("UPDATE evidence_leaves SET record = 'x' WHERE idx = 0")
        .await;
    assert!(refused.is_err(), "evidence_leaves must be insert-only");
    let refused = t.app().store.execute_raw("DELETE FROM order_events").await;
    assert!(refused.is_err(), "order_events must be insert-only");

    // An attacker with database access removes the guards and rewrites history.
    drop_insert_only_guards(&t).await;

    // 1. Change what an event says (the amount paid).
    t.sql(&format!(
        "UPDATE order_events SET detail = REPLACE(detail, '2000', '1') WHERE order_id = '{id}' AND kind = 'paid'"
    ))
    .await;
    let tl = timeline(&t, &id, &token).await;
    assert_eq!(tl["intact"], false);
    let paid = &tl["events"][1];
    assert_eq!(paid["verified"], false);
    assert!(
        paid["problem"].as_str().unwrap().contains("details were altered"),
        "{paid}"
    );

    // 2. Delete an event: the chain shows the gap.
    t.sql(&format!(
        "DELETE FROM order_events WHERE order_id = '{id}' AND kind = 'delivery_revealed'"
    ))
    .await;
    let tl = timeline(&t, &id, &token).await;
    let after_gap = tl["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "completed")
        .unwrap();
    assert!(
        after_gap["problem"].as_str().unwrap().contains("missing"),
        "{after_gap}"
    );

    // 3. Rewrite the log's own record of an event (its leaf).
    //    (A sealed record names nothing to edit in place: put another leaf's record there.)
    t.sql("UPDATE evidence_leaves SET record = (SELECT l.record FROM evidence_leaves l WHERE l.idx = 1) WHERE idx = 0")
        .await;
    let tl = timeline(&t, &id, &token).await;
    assert!(
        tl["events"][0]["problem"]
            .as_str()
            .unwrap()
            .contains("record of this event was altered"),
        "{}",
        tl["events"][0]
    );

    // 4. Rewrite the tree itself: the next checkpoint is refused, since the stored tree
    //    no longer extends the last signed one.
    t.sql("UPDATE evidence_nodes SET hash = '0000000000000000000000000000000000000000000000000000000000000000' WHERE level = 1 AND idx = 2")
        .await;
    completed_order(&t, "tamper_seller2").await;
    let refusal = t.app().sequence_evidence().await;
    assert!(
        refusal
            .as_ref()
            .is_err_and(|e| e.to_string().contains("not consistent")),
        "{refusal:?}"
    );
    let admin = t.admin().await;
    let events = t.get("/api/v1/admin/security-events", Some(&admin)).await;
    assert!(
        events.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "evidence_log_inconsistent"),
        "{}",
        events.text
    );
    t.finish().await;
}
