//! Proof of liabilities (issue 16 item 3): orders in several states, a statement
//! published from one snapshot of the ledger, each buyer's proof checked offline with
//! only the log's key, the total equal to the ledger's liabilities, a tampered proof and
//! a tampered store caught, and the public page's statement and chart.

use danbao_app::liabilities::PublishOutcome;
use danbao_domain::Account;
use danbao_evidence::{verify_proof, LogVerifier};
use danbao_testkit::{Browser, TestApp};
use serde_json::json;

on_both_databases!(
    each_buyer_proves_their_orders_money_is_in_the_published_total,
    statements_are_published_by_their_job_logged_and_shown_to_the_public,
    only_the_latest_statements_keep_their_leaves,
);

/// The ledger's liabilities as `ledger check` reads them: every liability account's
/// balance, summed.
async fn ledger_liabilities(t: &TestApp) -> i64 {
    let mut tx = t.app().store.begin().await.unwrap();
    let balances = tx.account_balances().await.unwrap();
    tx.commit().await.unwrap();
    balances
        .iter()
        .filter(|(a, _)| a.must_stay_non_negative())
        .map(|(a, raw)| a.normal_balance(*raw))
        .sum()
}

async fn verifier(t: &TestApp) -> LogVerifier {
    let vkey = t.get("/api/v1/evidence/key", None).await.text;
    LogVerifier::from_vkey(vkey.trim()).unwrap()
}

async fn publish(t: &TestApp) -> danbao_app::liabilities::LiabilityStatementView {
    match t.app().publish_liabilities().await.unwrap() {
        PublishOutcome::Published(s) => s,
        PublishOutcome::Refused(why) => panic!("publication refused: {why}"),
    }
}

/// A guest buyer's proof of liabilities, asked with the order's access token.
async fn guest_proof(t: &TestApp, order: &str, token: &str) -> danbao_testkit::Resp {
    t.get(
        &format!("/api/v1/orders/{order}/liabilities-proof?access_token={token}"),
        None,
    )
    .await
}

async fn each_buyer_proves_their_orders_money_is_in_the_published_total(t: TestApp) {
    let verifier = verifier(&t).await;
    let (seller, seller_id) = t.user("liab_s", "seller").await;
    let product = t.card_product(&seller, 1_234, 6).await;
    let (held, held_token) = t.guest_order_delivered(&product).await;
    let (done, done_token) = t.guest_order_delivered(&product).await;

    // No statement yet: the buyer is told so, with no proof.
    let none = guest_proof(&t, &held, &held_token).await;
    assert_eq!(none.status, 200, "{}", none.text);
    assert!(none.body["statement"].is_null(), "{}", none.text);
    assert_eq!(none.body["proofs"].as_array().unwrap().len(), 0);

    // One order completes (its money goes to the seller's balances), one is disputed
    // (its money is frozen), one stays in escrow.
    let confirmed = t
        .post(
            &format!("/api/v1/orders/{done}/confirm?access_token={done_token}"),
            None,
            json!({}),
        )
        .await;
    assert_eq!(confirmed.status, 200, "{}", confirmed.text);
    let (buyer, _) = t.user("liab_b", "buyer").await;
    let disputed = t.order_delivered(&buyer, &product).await;
    let opened = t
        .post(
            &format!("/api/v1/orders/{disputed}/complaints"),
            Some(&buyer),
            json!({"kind": "not_as_described", "description": "卡密显示已被使用"}),
        )
        .await;
    assert_eq!(opened.status, 201, "{}", opened.text);
    let seller_account = TestApp::seller_account(&seller_id);
    assert_eq!(t.balance(&Account::Frozen(seller_account.clone())).await, 1_234);
    assert_eq!(t.balance(&Account::Escrow(seller_account.clone())).await, 1_234);

    let statement = publish(&t).await;
    let liabilities = ledger_liabilities(&t).await;
    assert!(liabilities >= 2 * 1_234, "{liabilities}");
    assert_eq!(statement.total_minor, liabilities);
    assert_eq!(statement.seq, 1);
    // The reserves: the sandbox gateway's signed balance, three payments of 12.34 and no
    // refund. The completed order's fee is the platform's income, not a liability, so the
    // reserves cover more than the liabilities.
    assert_eq!(statement.provider.as_deref(), Some("sandbox"));
    assert_eq!(statement.provider_balance_minor, Some(3 * 1_234));
    assert!(liabilities < 3 * 1_234, "{liabilities}");
    assert_eq!(statement.cover_ratio_bps, Some(3 * 1_234 * 10_000 / liabilities));
    assert!(statement.cover_ratio_bps.unwrap() > 10_000);

    // The escrowed order's buyer (a guest, by the order's link): one proof, for 12.34.
    let r = guest_proof(&t, &held, &held_token).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["amount_minor"], 1_234);
    assert_eq!(r.body["holds_money_now"], true);
    let proofs = r.body["proofs"].as_array().unwrap();
    assert_eq!(proofs.len(), 1, "{}", r.text);
    let proof = proofs[0]["proof"].as_str().unwrap().to_string();
    let v = verify_proof(&proof, &verifier).unwrap();
    assert_eq!(v.label, format!("order:{held}:escrow"));
    assert_eq!(v.amount, 1_234);
    assert_eq!(v.statement.total, u64::try_from(liabilities).unwrap());
    assert_eq!(v.statement.seq, 1);
    // The proof names the order but no amount of anyone else's.
    assert!(!proof.contains(&done) && !proof.contains(&disputed));

    // Any change to it fails.
    for (from, to) in [
        ("amount 1234", "amount 1235"),
        ("amount 1234", "amount 1233"),
        ("step left ", "step right "),
        ("step right ", "step left "),
    ] {
        if proof.contains(from) {
            let tampered = proof.replacen(from, to, 1);
            assert!(verify_proof(&tampered, &verifier).is_err(), "{from} → {to} verified");
        }
    }

    // The disputed order's money is proven as frozen, to its registered buyer.
    let r = t
        .get(&format!("/api/v1/orders/{disputed}/liabilities-proof"), Some(&buyer))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let proofs = r.body["proofs"].as_array().unwrap();
    assert_eq!(proofs.len(), 1, "{}", r.text);
    let v = verify_proof(proofs[0]["proof"].as_str().unwrap(), &verifier).unwrap();
    assert_eq!(
        (v.label.as_str(), v.amount),
        (format!("order:{disputed}:frozen").as_str(), 1_234)
    );

    // The completed order holds nothing: no proof, and it says why.
    let r = guest_proof(&t, &done, &done_token).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["proofs"].as_array().unwrap().len(), 0);
    assert_eq!(r.body["holds_money_now"], false);
    assert_eq!(r.body["statement"]["seq"], 1);

    // Nobody else gets a buyer's proof: another order's token, another buyer, the seller,
    // no credentials at all.
    for (path, token) in [
        (
            format!("/api/v1/orders/{held}/liabilities-proof?access_token={done_token}"),
            None,
        ),
        (format!("/api/v1/orders/{held}/liabilities-proof"), Some(buyer.as_str())),
        (
            format!("/api/v1/orders/{disputed}/liabilities-proof"),
            Some(seller.as_str()),
        ),
        (format!("/api/v1/orders/{held}/liabilities-proof"), None),
    ] {
        let r = t.get(&path, token).await;
        assert!(matches!(r.status, 401 | 404), "{path}: {} {}", r.status, r.text);
        assert!(!r.text.contains("danbao-liabilities-proof"), "{}", r.text);
    }

    // The buyer's order page shows the section, the amount and the proof to download.
    let page = Browser::new(&t);
    let opened = page.get(&format!("/orders/{held}?access_token={held_token}")).await;
    let html = if opened.status == 200 {
        opened.text
    } else {
        page.get(&format!("/orders/{held}")).await.text
    };
    assert!(html.contains("您的担保资金已计入平台公示负债总额"), "{html}");
    assert!(html.contains("id=\"liabilities-amount\">¥12.34<"), "{html}");
    assert!(html.contains("第 1 期负债公示"), "{html}");
    assert!(html.contains("download=\"liabilities-proof-1-escrow.txt\""), "{html}");
    assert!(
        html.contains("data:text/plain;charset=utf-8,danbao-liabilities-proof%2Fv1%0A"),
        "{html}"
    );
    assert!(html.contains("danbao verify-liabilities"), "{html}");
    if let Ok(dir) = std::env::var("DANBAO_PAGE_DUMP") {
        std::fs::write(format!("{dir}/liabilities-order.html"), &html).unwrap();
    }
    // The seller's page of the same order has no such section.
    let seller_view = t.get(&format!("/orders/{held}"), Some(&seller)).await;
    assert!(!seller_view.text.contains("id=\"liabilities\""), "{}", seller_view.text);

    // The ledger check re-derives the statement: clean now ...
    t.assert_ledger_clean().await;
    // ... and a stored leaf changed afterwards no longer rebuilds the signed root.
    let label = format!("order:{held}:escrow");
    t.sql(&format!(
        "UPDATE liability_leaves SET amount_minor = amount_minor + 1 WHERE label = '{label}'"
    ))
    .await;
    let violations = t.app().ledger_check().await.unwrap();
    assert!(
        violations.iter().any(|v| v.0.contains("rebuild root")),
        "{violations:?}"
    );
    // The proof endpoint refuses to hand out a proof from leaves that no longer match.
    let r = guest_proof(&t, &held, &held_token).await;
    assert_eq!(r.status, 500, "{}", r.text);
    t.sql(&format!(
        "UPDATE liability_leaves SET amount_minor = amount_minor - 1 WHERE label = '{label}'"
    ))
    .await;
    t.assert_ledger_clean().await;

    // A ledger that does not add up is not published: a security event says why.
    t.sql(&format!(
        "UPDATE accounts SET balance = balance - 1 WHERE name = 'escrow:{seller_id}'"
    ))
    .await;
    match t.app().publish_liabilities().await.unwrap() {
        PublishOutcome::Refused(why) => assert!(why.contains("orders' postings add up to"), "{why}"),
        PublishOutcome::Published(s) => panic!("published a ledger that does not add up: {s:?}"),
    }
    t.sql(&format!(
        "UPDATE accounts SET balance = balance + 1 WHERE name = 'escrow:{seller_id}'"
    ))
    .await;
    let admin = t.admin().await;
    let events = t.get("/api/v1/admin/security-events", Some(&admin)).await;
    assert!(events.text.contains("liabilities_mismatch"), "{}", events.text);
    assert_eq!(t.app().liability_statements(10).await.unwrap().len(), 1);
    t.finish().await;
}

async fn statements_are_published_by_their_job_logged_and_shown_to_the_public(t: TestApp) {
    let verifier = verifier(&t).await;
    let (seller, _) = t.user("liab_pub_s", "seller").await;
    let product = t.card_product(&seller, 500, 4).await;
    let (order, token) = t.guest_order_delivered(&product).await;

    // The period ends: the job publishes statement 1 and queues the next period's.
    t.advance(61 * 60_000);
    t.run_due_jobs().await;
    let statements = t.app().liability_statements(10).await.unwrap();
    assert_eq!(statements.len(), 1, "{statements:?}");
    // The statement is a leaf of the evidence log (case `liabilities`).
    let mut tx = t.app().store.begin().await.unwrap();
    assert!(tx.evidence_case_head("liabilities").await.unwrap().is_some());
    tx.commit().await.unwrap();
    // More money comes in; the next period's job publishes statement 2.
    t.guest_order_delivered(&product).await;
    t.guest_order_delivered(&product).await;
    t.advance(60 * 60_000);
    t.run_due_jobs().await;
    let statements = t.app().liability_statements(10).await.unwrap();
    assert_eq!(statements.iter().map(|s| s.seq).collect::<Vec<_>>(), vec![2, 1]);
    // Nothing released yet: the reserves are exactly the liabilities, 100 %.
    assert_eq!(statements[0].provider_balance_minor, Some(1_500));
    assert_eq!(statements[0].cover_ratio_bps, Some(10_000));
    assert_eq!(statements[0].total_minor, ledger_liabilities(&t).await);
    assert!(statements[0].total_minor > statements[1].total_minor);

    // The first order's proof is in the latest statement.
    let r = guest_proof(&t, &order, &token).await;
    let proof = r.body["proofs"][0]["proof"].as_str().unwrap();
    let v = verify_proof(proof, &verifier).unwrap();
    assert_eq!((v.amount, v.statement.seq), (500, 2));

    // Reconciliation reports the cover ratio: the latest total against the provider's
    // balance now.
    let report = t.app().reconcile_rail("sandbox", 0, 86_400_000).await.unwrap();
    let cover = report.liabilities_cover.expect("a cover ratio");
    assert_eq!(
        (
            cover.statement_seq,
            cover.liabilities_total_minor,
            cover.provider_balance_minor
        ),
        (2, 1_500, 1_500)
    );
    assert_eq!(
        (cover.cover_ratio_bps, cover.cover_ratio.as_str()),
        (Some(10_000), "100.00 %")
    );
    let admin = t.admin().await;
    let overview = t.get("/api/v1/admin/reconciliation", Some(&admin)).await;
    assert_eq!(
        overview.body["liabilities_cover"]["cover_ratio_bps"], 10_000,
        "{}",
        overview.text
    );

    let page = t.get("/transparency", None).await;
    assert_eq!(page.status, 200);
    assert!(page.text.contains("100.00 %"), "{}", page.text);
    let latest = &statements[0];
    assert!(page.text.contains("id=\"liabilities\""), "{}", page.text);
    assert!(
        page.text
            .contains(&format!("¥{}", danbao_domain::Money::from_minor(latest.total_minor))),
        "{}",
        page.text
    );
    assert!(page.text.contains(&latest.root), "{}", page.text);
    assert!(page.text.contains("danbao.dev/liabilities\n2\n"), "{}", page.text);
    // The chart: an inline SVG, one point per statement, a line through them, no script.
    let chart = &page.text[page.text.find("<svg class=\"chart\"").unwrap()..];
    let chart = &chart[..chart.find("</svg>").unwrap()];
    assert_eq!(chart.matches("<circle class=\"total\"").count(), 2, "{chart}");
    assert!(chart.contains("<polyline class=\"total\""), "{chart}");
    assert!(!page.text.contains("<script"), "{}", page.text);
    assert!(page.text.contains("danbao verify-liabilities"), "{}", page.text);
    if let Ok(dir) = std::env::var("DANBAO_PAGE_DUMP") {
        std::fs::write(format!("{dir}/transparency.html"), &page.text).unwrap();
        let en = t.get("/transparency?lang=en", None).await;
        std::fs::write(format!("{dir}/transparency-en.html"), &en.text).unwrap();
    }
    t.finish().await;
}

/// `[transparency] liabilities_keep_leaves`: a statement older than the latest N loses its
/// leaves (marked pruned) and keeps its signed note and totals, which the ledger check
/// still holds it to; a kept statement whose leaves went missing without the mark fails.
async fn only_the_latest_statements_keep_their_leaves(t: TestApp) {
    let mut rules = (*t.app().current_rules()).clone();
    rules.transparency.liabilities_keep_leaves = 2;
    let t = t.restart_with_rules(rules).await;
    let verifier = verifier(&t).await;
    let (seller, _) = t.user("liab_keep_s", "seller").await;
    let product = t.card_product(&seller, 700, 3).await;
    let (order, token) = t.guest_order_delivered(&product).await;
    for expected in 1..=3 {
        assert_eq!(publish(&t).await.seq, expected);
    }
    let mut tx = t.app().store.begin().await.unwrap();
    let mut kept = Vec::new();
    for seq in 1..=3 {
        let row = tx.liability_statement(seq).await.unwrap().unwrap();
        let leaves = tx.liability_leaves(seq).await.unwrap();
        kept.push((seq, row.leaves_pruned_at.is_some(), leaves.is_empty()));
        assert!(
            !tx.liability_accounts(seq).await.unwrap().is_empty(),
            "statement {seq} keeps its account snapshot"
        );
    }
    tx.commit().await.unwrap();
    assert_eq!(kept, vec![(1, true, true), (2, false, false), (3, false, false)]);
    // A pruned statement is still checked by its signature and totals: clean now.
    t.assert_ledger_clean().await;
    // The buyer's proof comes from the latest statement, whose leaves are kept.
    let r = guest_proof(&t, &order, &token).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let v = verify_proof(r.body["proofs"][0]["proof"].as_str().unwrap(), &verifier).unwrap();
    assert_eq!((v.amount, v.statement.seq), (700, 3));
    // A pruned statement's stored total changed afterwards no longer matches its note.
    t.sql("UPDATE liability_statements SET total_minor = total_minor + 1 WHERE seq = 1")
        .await;
    let violations = t.app().ledger_check().await.unwrap();
    assert!(
        violations
            .iter()
            .any(|v| v.0.contains("statement 1: the stored row differs from its signed note")),
        "{violations:?}"
    );
    t.sql("UPDATE liability_statements SET total_minor = total_minor - 1 WHERE seq = 1")
        .await;
    t.assert_ledger_clean().await;
    // Leaves that go missing from a statement not marked pruned are caught.
    t.sql("DELETE FROM liability_leaves WHERE seq = 2").await;
    let violations = t.app().ledger_check().await.unwrap();
    assert!(
        violations
            .iter()
            .any(|v| v.0.contains("statement 2: the stored leaves rebuild root")),
        "{violations:?}"
    );
    // The next statement prunes statement 2 (marked, so the check passes again).
    assert_eq!(publish(&t).await.seq, 4);
    t.assert_ledger_clean().await;
    t.finish().await;
}
