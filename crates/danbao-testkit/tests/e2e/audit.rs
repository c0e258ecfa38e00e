//! The audit (`App::audit`, run by the simulator after every step and by `finish` after
//! every test): it must notice work that nothing will move on, and frozen money that no
//! case or freeze accounts for. Here someone with database access breaks each in turn.

use danbao_testkit::TestApp;

on_both_databases!(the_audit_notices_stuck_work_and_unaccounted_frozen_money);

async fn the_audit_notices_stuck_work_and_unaccounted_frozen_money(t: TestApp) {
    let (seller, seller_id) = t.user("audit_seller", "seller").await;
    let product = t.card_product(&seller, 1200, 2).await;
    let (order, _) = t.guest_order_delivered(&product).await;
    assert_eq!(t.app().audit().await.unwrap(), vec![], "a healthy shop");

    // The delivered order's auto-confirm vanishes: its escrow would wait for ever.
    t.sql(&format!(
        "DELETE FROM jobs WHERE kind = 'auto_confirm' AND payload = '{order}'"
    ))
    .await;
    let findings: Vec<String> = t.app().audit().await.unwrap().into_iter().map(|f| f.0).collect();
    assert_eq!(
        findings,
        vec![format!("order {order} is delivered with no auto-confirm queued")]
    );
    t.sql(&format!(
        "INSERT INTO jobs (id, kind, payload, dedupe_key, run_at, status, attempts, created_at, updated_at) \
         VALUES ('restored', 'auto_confirm', '{order}', 'restored', {}, 'queued', 0, 0, 0)",
        t.now() + 3_600_000
    ))
    .await;
    assert_eq!(t.app().audit().await.unwrap(), vec![]);

    // A freeze that claims to hold money the frozen account does not have.
    t.sql(&format!(
        "INSERT INTO seller_standing (seller_id, status, reason, frozen_available_minor, updated_at) \
         VALUES ('{seller_id}', 'frozen', 'x', 500, 0) \
         ON CONFLICT (seller_id) DO UPDATE SET frozen_available_minor = 500"
    ))
    .await;
    let findings: Vec<String> = t.app().audit().await.unwrap().into_iter().map(|f| f.0).collect();
    assert_eq!(
        findings,
        vec![format!(
            "frozen:{seller_id} holds 0, but its open cases froze 0 and its freeze holds 500"
        )]
    );
    t.sql(&format!(
        "UPDATE seller_standing SET status = 'active', frozen_available_minor = 0 WHERE seller_id = '{seller_id}'"
    ))
    .await;
    t.finish().await;
}
