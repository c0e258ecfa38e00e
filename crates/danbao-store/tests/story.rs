#![allow(clippy::unwrap_used, clippy::expect_used)]
//! One story of the purchase spine, told through `Store::begin` → `Tx` → `commit`, run
//! unchanged against SQLite (always) and PostgreSQL (when `DANBAO_TEST_DATABASE_URL`
//! names a server). Each step asserts the values the store hands back.

use danbao_domain::ledger::{check_invariants, rules};
use danbao_domain::{Account, LedgerError, Money, OrderId, OrderStatus, PaymentId, ProductId, UserId};
use danbao_store::{
    CardKeyRow, IdempotencyState, NewJob, OrderRow, PaymentRow, ProductRow, RuleSetRow, Store, StoreError, UserRow,
};
use std::collections::{BTreeMap, BTreeSet};

/// A fixed clock: ms since the epoch.
const T0: i64 = 1_700_000_000_000;
const PROVIDER: &str = "sandbox";

fn user(username: &str, role: &str) -> UserRow {
    UserRow {
        id: UserId::generate(),
        username: username.to_string(),
        password_hash: format!("argon2-fake-{username}"),
        role: role.to_string(),
        created_at: T0,
    }
}

fn card_key_product(seller: &UserId, title: &str) -> ProductRow {
    ProductRow {
        id: ProductId::generate(),
        seller_id: seller.clone(),
        title: title.to_string(),
        description: "a game key".to_string(),
        category: "games".to_string(),
        price: Money::from_minor(1000),
        currency: "CNY".to_string(),
        delivery_kind: "card_key".to_string(),
        manual_fields: "[]".to_string(),
        status: "active".to_string(),
        stock: 0,
        created_at: T0,
    }
}

fn card_key(product: &ProductId, seq: i64, fingerprint: &str) -> CardKeyRow {
    CardKeyRow {
        id: uuid::Uuid::now_v7().to_string(),
        product_id: product.clone(),
        seq,
        fingerprint: fingerprint.to_string(),
        key_id: "k1".to_string(),
        nonce: format!("nonce-{fingerprint}"),
        ciphertext: format!("ciphertext-of-{fingerprint}"),
        content_hash: format!("sha256-of-{fingerprint}"),
        order_id: None,
        allocated_at: None,
        created_at: T0,
    }
}

fn order_row(product: &ProductRow, buyer: &UserId, quantity: i64) -> OrderRow {
    let id = OrderId::generate();
    OrderRow {
        number: format!("DB20250101-{}", id.as_str().replace('-', "").to_uppercase()),
        id,
        product_id: product.id.clone(),
        seller_id: product.seller_id.clone(),
        buyer_id: Some(buyer.clone()),
        guest_contact: None,
        guest_password_hash: None,
        quantity,
        unit_price: product.price,
        amount: product.price.checked_mul(quantity).unwrap(),
        currency: product.currency.clone(),
        delivery_kind: product.delivery_kind.clone(),
        category: product.category.clone(),
        status: OrderStatus::PendingPayment,
        rule_version: 1,
        delivery_fields: "{}".to_string(),
        delivery_note: None,
        created_at: T0,
        expires_at: T0 + 15 * 60 * 1000,
        paid_at: None,
        delivered_at: None,
        deliver_by: None,
        auto_confirm_at: None,
        completed_at: None,
        updated_at: T0,
    }
}

fn payment(order: &OrderId, txn: &str) -> PaymentRow {
    PaymentRow {
        id: PaymentId::generate().to_string(),
        provider: PROVIDER.to_string(),
        provider_txn_id: txn.to_string(),
        provider_payment_id: format!("pp-{txn}"),
        out_trade_no: order.to_string(),
        order_id: Some(order.to_string()),
        amount: Money::from_minor(2000),
        currency: "CNY".to_string(),
        outcome: "captured".to_string(),
        source: "webhook".to_string(),
        raw: "{\"fake\":true}".to_string(),
        received_at: T0 + 1,
    }
}

async fn stock_of(store: &Store, product: &ProductId) -> i64 {
    let mut tx = store.begin().await.unwrap();
    let p = tx.product(product, false).await.unwrap().expect("product exists");
    p.stock
}

/// The whole story; every step commits what it wrote, as the application does.
async fn story(store: &Store) {
    let kind = store.kind();

    // ---- 1. users, rule set, product, card keys ----
    let seller = user("seller_1", "seller");
    let buyer = user("buyer_1", "buyer");
    {
        let mut tx = store.begin().await.unwrap();
        tx.insert_user(&seller).await.unwrap();
        tx.insert_user(&buyer).await.unwrap();
        tx.commit().await.unwrap();
    }
    {
        // A unique violation aborts a PostgreSQL transaction, so it gets its own.
        let mut tx = store.begin().await.unwrap();
        let mut dup = user("seller_1", "buyer");
        dup.id = UserId::generate();
        let err = tx.insert_user(&dup).await.unwrap_err();
        assert!(
            matches!(err, StoreError::Conflict(_)),
            "{kind}: duplicate username gave {err:?}"
        );
    }
    {
        let mut tx = store.begin().await.unwrap();
        assert_eq!(tx.user_by_username("seller_1").await.unwrap(), Some(seller.clone()));
        assert_eq!(tx.user_by_id(&buyer.id).await.unwrap(), Some(buyer.clone()));
        assert_eq!(tx.user_by_username("nobody").await.unwrap(), None);
    }

    let rules_row = RuleSetRow {
        version: 1,
        content_hash: "hash-v1".to_string(),
        body: "fee_bps = 500".to_string(),
        published_at: T0,
    };
    let product = card_key_product(&seller.id, "Game key");
    {
        let mut tx = store.begin().await.unwrap();
        tx.insert_rule_set(&rules_row).await.unwrap();
        tx.insert_product(&product).await.unwrap();
        tx.commit().await.unwrap();
    }
    {
        let mut tx = store.begin().await.unwrap();
        assert_eq!(tx.latest_rule_set().await.unwrap(), Some(rules_row.clone()));
        assert_eq!(tx.rule_set(1).await.unwrap(), Some(rules_row.clone()));
        assert_eq!(tx.rule_set(2).await.unwrap(), None);
        assert_eq!(tx.product(&product.id, false).await.unwrap(), Some(product.clone()));
        assert_eq!(tx.list_products(None, 10).await.unwrap(), vec![product.clone()]);
        assert!(tx
            .list_products(Some(product.id.as_str()), 10)
            .await
            .unwrap()
            .is_empty());
        assert_eq!(tx.products_by_seller(&seller.id).await.unwrap(), vec![product.clone()]);
        tx.insert_token("token-hash-1", &buyer.id, T0, T0 + 1000).await.unwrap();
        assert_eq!(
            tx.user_by_token("token-hash-1", T0 + 999).await.unwrap(),
            Some(buyer.clone())
        );
        assert_eq!(
            tx.user_by_token("token-hash-1", T0 + 1000).await.unwrap(),
            None,
            "expired token"
        );
        tx.commit().await.unwrap();
    }

    let mut inserted_keys = Vec::new();
    {
        let mut tx = store.begin().await.unwrap();
        for fp in ["fp-a", "fp-b", "fp-c"] {
            let seq = tx.next_card_key_seq(&product.id).await.unwrap();
            let key = card_key(&product.id, seq, fp);
            assert!(
                tx.insert_card_key(&key).await.unwrap(),
                "{kind}: fresh key {fp} refused"
            );
            inserted_keys.push(key);
        }
        assert_eq!(inserted_keys.iter().map(|k| k.seq).collect::<Vec<_>>(), vec![1, 2, 3]);
        tx.commit().await.unwrap();
    }
    assert_eq!(stock_of(store, &product.id).await, 3, "{kind}: three keys make stock 3");
    {
        let mut tx = store.begin().await.unwrap();
        let seq = tx.next_card_key_seq(&product.id).await.unwrap();
        assert_eq!(seq, 4);
        let dup = card_key(&product.id, seq, "fp-b");
        assert!(
            !tx.insert_card_key(&dup).await.unwrap(),
            "{kind}: a key with a duplicate fingerprint must be refused"
        );
        tx.commit().await.unwrap();
    }
    assert_eq!(
        stock_of(store, &product.id).await,
        3,
        "{kind}: a refused duplicate must not add stock"
    );
    {
        let mut tx = store.begin().await.unwrap();
        assert_eq!(tx.count_free_card_keys(&product.id).await.unwrap(), 3);
    }

    // ---- 2. stock reservation ----
    {
        let mut tx = store.begin().await.unwrap();
        assert!(tx.reserve_stock(&product.id, 2).await.unwrap());
        tx.commit().await.unwrap();
    }
    assert_eq!(stock_of(store, &product.id).await, 1);
    {
        let mut tx = store.begin().await.unwrap();
        assert!(
            !tx.reserve_stock(&product.id, 2).await.unwrap(),
            "{kind}: reserving 2 with 1 in stock must fail"
        );
        tx.commit().await.unwrap();
    }
    assert_eq!(
        stock_of(store, &product.id).await,
        1,
        "{kind}: a failed reservation takes nothing"
    );
    {
        let mut tx = store.begin().await.unwrap();
        tx.release_stock(&product.id, 1).await.unwrap();
        tx.commit().await.unwrap();
    }
    assert_eq!(stock_of(store, &product.id).await, 2);

    // ---- 3. orders and their events ----
    let mut order = order_row(&product, &buyer.id, 2);
    {
        let mut tx = store.begin().await.unwrap();
        tx.insert_order(&order).await.unwrap();
        tx.commit().await.unwrap();
    }
    {
        let mut tx = store.begin().await.unwrap();
        assert_eq!(tx.order(&order.id, false).await.unwrap(), Some(order.clone()));
    }
    order.status = OrderStatus::Paid;
    order.paid_at = Some(T0 + 1);
    order.deliver_by = Some(T0 + 1 + 3_600_000);
    order.updated_at = T0 + 1;
    {
        let mut tx = store.begin().await.unwrap();
        tx.update_order(&order).await.unwrap();
        tx.insert_order_event(&order.id, "paid", "{\"txn\":\"t-1\"}", T0 + 1, "leaf-1")
            .await
            .unwrap();
        tx.insert_order_event(&order.id, "delivered", "{}", T0 + 2, "leaf-2")
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }
    {
        let mut tx = store.begin().await.unwrap();
        let seen = tx.order(&order.id, true).await.unwrap();
        assert_eq!(seen, Some(order.clone()), "{kind}: the locked read sees the update");
        let events = tx.order_events(&order.id).await.unwrap();
        assert_eq!(events.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![1, 2]);
        assert_eq!(
            events.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>(),
            vec!["paid", "delivered"]
        );
        assert_eq!(events[0].detail, "{\"txn\":\"t-1\"}");
        assert_eq!(events[1].at, T0 + 2);
        assert_eq!(events[1].leaf_hash.as_deref(), Some("leaf-2"));
        assert!(events.iter().all(|e| e.order_id == order.id));
        assert_eq!(tx.orders_for_buyer(&buyer.id, 10).await.unwrap(), vec![order.clone()]);
        assert_eq!(tx.orders_for_seller(&seller.id, 10).await.unwrap(), vec![order.clone()]);
        tx.commit().await.unwrap();
    }

    // ---- 4. payment dedupe ----
    let pay = payment(&order.id, "t-1");
    {
        let mut tx = store.begin().await.unwrap();
        assert!(tx.insert_payment(&pay).await.unwrap());
        tx.commit().await.unwrap();
    }
    {
        let mut tx = store.begin().await.unwrap();
        let mut again = payment(&order.id, "t-1");
        again.source = "query".to_string();
        assert!(
            !tx.insert_payment(&again).await.unwrap(),
            "{kind}: a second notification of the same provider transaction must be deduped"
        );
        tx.commit().await.unwrap();
    }
    {
        let mut tx = store.begin().await.unwrap();
        assert_eq!(tx.payments_for_order(&order.id).await.unwrap(), vec![pay.clone()]);
        let attempt = danbao_store::PaymentAttemptRow {
            id: danbao_domain::PaymentAttemptId::generate(),
            order_id: order.id.clone(),
            provider: PROVIDER.to_string(),
            method: Some("epay_wxpay".to_string()),
            provider_payment_id: Some("pp-t-1".to_string()),
            cashier_url: Some("https://sandbox.invalid/pay/1".to_string()),
            amount: Money::from_minor(2000),
            created_at: T0,
        };
        tx.insert_payment_attempt(&attempt).await.unwrap();
        assert_eq!(tx.payment_attempt_for_order(&order.id).await.unwrap(), Some(attempt));
        tx.commit().await.unwrap();
    }

    // ---- 5. card key allocation ----
    let allocated = {
        let mut tx = store.begin().await.unwrap();
        tx.product(&product.id, true).await.unwrap().expect("product");
        let keys = tx.allocate_card_keys(&product.id, &order.id, 2, T0 + 2).await.unwrap();
        tx.commit().await.unwrap();
        keys
    };
    assert_eq!(allocated.len(), 2, "{kind}: order A gets its two keys");
    assert_eq!(
        allocated.iter().map(|k| k.seq).collect::<Vec<_>>(),
        vec![1, 2],
        "oldest keys first"
    );
    for k in &allocated {
        assert_eq!(k.order_id.as_deref(), Some(order.id.as_str()));
        assert_eq!(k.allocated_at, Some(T0 + 2));
        assert_eq!(k.product_id, product.id);
    }
    assert_eq!(allocated[0].ciphertext, inserted_keys[0].ciphertext);

    let order_b = order_row(&product, &buyer.id, 2);
    {
        let mut tx = store.begin().await.unwrap();
        tx.insert_order(&order_b).await.unwrap();
        tx.commit().await.unwrap();
    }
    {
        let mut tx = store.begin().await.unwrap();
        tx.product(&product.id, true).await.unwrap().expect("product");
        let none = tx
            .allocate_card_keys(&product.id, &order_b.id, 2, T0 + 3)
            .await
            .unwrap();
        assert!(
            none.is_empty(),
            "{kind}: 2 keys asked, 1 free: nothing is allocated, got {none:?}"
        );
        tx.commit().await.unwrap();
    }
    {
        let mut tx = store.begin().await.unwrap();
        assert!(tx.card_keys_for_order(&order_b.id).await.unwrap().is_empty());
        assert_eq!(
            tx.count_free_card_keys(&product.id).await.unwrap(),
            1,
            "a refused allocation takes nothing"
        );
        tx.product(&product.id, true).await.unwrap().expect("product");
        let last = tx
            .allocate_card_keys(&product.id, &order_b.id, 1, T0 + 4)
            .await
            .unwrap();
        assert_eq!(last.len(), 1);
        assert_eq!(last[0].seq, 3);
        assert_eq!(last[0].id, inserted_keys[2].id);
        assert_eq!(last[0].order_id.as_deref(), Some(order_b.id.as_str()));
        tx.commit().await.unwrap();
    }
    {
        let mut tx = store.begin().await.unwrap();
        let a: BTreeSet<String> = tx
            .card_keys_for_order(&order.id)
            .await
            .unwrap()
            .into_iter()
            .map(|k| k.id)
            .collect();
        let b: BTreeSet<String> = tx
            .card_keys_for_order(&order_b.id)
            .await
            .unwrap()
            .into_iter()
            .map(|k| k.id)
            .collect();
        assert_eq!(a.len(), 2);
        assert_eq!(b.len(), 1);
        assert!(a.is_disjoint(&b), "{kind}: a key belongs to two orders: {a:?} / {b:?}");
        assert_eq!(tx.count_free_card_keys(&product.id).await.unwrap(), 0);
        tx.insert_key_reveal(&order.id, "buyer", T0 + 6).await.unwrap();
        tx.insert_key_reveal(&order.id, "buyer", T0 + 7).await.unwrap();
        assert_eq!(tx.count_key_reveals(&order.id).await.unwrap(), 2);
        assert_eq!(tx.count_key_reveals(&order_b.id).await.unwrap(), 0);
        // Nothing left, so even one key is refused.
        let order_c = order_row(&product, &buyer.id, 1);
        tx.insert_order(&order_c).await.unwrap();
        assert!(tx
            .allocate_card_keys(&product.id, &order_c.id, 1, T0 + 5)
            .await
            .unwrap()
            .is_empty());
        tx.commit().await.unwrap();
    }

    // ---- 6. ledger ----
    let amount = Money::from_minor(1000);
    let escrow = Account::Escrow(seller.id.clone());
    // A release goes to the seller's reserve until the after-sales window has passed.
    let reserve = Account::Reserve(seller.id.clone());
    let provider = Account::Provider(PROVIDER.to_string());
    {
        let mut tx = store.begin().await.unwrap();
        let capture = rules::capture(
            &order.id,
            &PaymentId::from_trusted(pay.id.clone()),
            &seller.id,
            PROVIDER,
            amount,
        )
        .unwrap();
        tx.post_entry(&capture, T0 + 10).await.unwrap();
        tx.commit().await.unwrap();
    }
    {
        let mut tx = store.begin().await.unwrap();
        assert_eq!(
            tx.account_balance(&escrow).await.unwrap(),
            -1000,
            "escrow is credit-normal"
        );
        assert_eq!(escrow.normal_balance(-1000), 1000);
        assert_eq!(tx.account_balance(&provider).await.unwrap(), 1000);
        let release = rules::release(&order.id, &seller.id, amount, 500).unwrap();
        tx.post_entry(&release, T0 + 11).await.unwrap();
        tx.commit().await.unwrap();
    }
    let expected: BTreeMap<Account, i64> = [
        (escrow.clone(), 0),
        (reserve.clone(), -950),
        (Account::PlatformFees, -50),
        (provider.clone(), 1000),
    ]
    .into_iter()
    .collect();
    {
        let mut tx = store.begin().await.unwrap();
        for (account, raw) in &expected {
            assert_eq!(
                tx.account_balance(account).await.unwrap(),
                *raw,
                "{kind}: raw balance of {account}"
            );
        }
        assert_eq!(reserve.normal_balance(-950), 950);
        // What one order's entries put in an account: its part of the reserve.
        assert_eq!(tx.order_account_sum(&order.id, &reserve).await.unwrap(), -950, "{kind}");
        assert_eq!(
            tx.order_account_sum(&order.id, &Account::Losses).await.unwrap(),
            0,
            "{kind}"
        );
        assert_eq!(Account::PlatformFees.normal_balance(-50), 50);
        assert_eq!(
            tx.account_balance(&Account::Losses).await.unwrap(),
            0,
            "an untouched account reads 0"
        );
    }
    {
        // Escrow holds 0 now: a second release would take it negative.
        let mut tx = store.begin().await.unwrap();
        let again = rules::release(&order.id, &seller.id, Money::from_minor(1), 500).unwrap();
        let err = tx.post_entry(&again, T0 + 12).await.unwrap_err();
        match &err {
            StoreError::Ledger(LedgerError::InsufficientFunds {
                account,
                available_minor,
                needed_minor,
            }) => {
                assert_eq!(account, &escrow);
                assert_eq!(*available_minor, 0);
                assert_eq!(*needed_minor, 1);
            }
            other => panic!("{kind}: overdrawing escrow gave {other:?}"),
        }
        drop(tx); // rolled back
    }
    {
        let mut tx = store.begin().await.unwrap();
        let balances = tx.account_balances().await.unwrap();
        assert_eq!(balances, expected, "{kind}: the refused entry changed balances");
        let entries = tx.journal_entries().await.unwrap();
        assert_eq!(entries.len(), 2, "{kind}: the refused entry left a row: {entries:?}");
        let kinds: Vec<_> = entries.iter().map(|(_, e)| e.as_ref().unwrap().kind()).collect();
        assert_eq!(
            kinds,
            vec![danbao_domain::EntryKind::Capture, danbao_domain::EntryKind::Release]
        );
        for (id, e) in &entries {
            let e = e
                .as_ref()
                .unwrap_or_else(|err| panic!("{kind}: entry {id} unreadable: {err}"));
            e.verify_balanced().unwrap();
            assert_eq!(e.refs().order.as_ref(), Some(&order.id));
        }
        assert_eq!(
            balances.values().sum::<i64>(),
            0,
            "money is neither created nor destroyed"
        );
        let statuses: BTreeMap<OrderId, OrderStatus> =
            [(order.id.clone(), OrderStatus::Completed)].into_iter().collect();
        let violations = check_invariants(&entries, &balances, &statuses);
        assert!(violations.is_empty(), "{kind}: ledger check: {violations:?}");
        // The same books against a status that still claims escrow are caught.
        let wrong: BTreeMap<OrderId, OrderStatus> = [(order.id.clone(), OrderStatus::Delivered)].into_iter().collect();
        assert_eq!(check_invariants(&entries, &balances, &wrong).len(), 1);
    }
    {
        // Order B: captured, then refunded out of escrow, and the refund confirmed.
        let pay_b = payment(&order_b.id, "t-2");
        let refund_id = danbao_domain::RefundId::generate();
        let mut tx = store.begin().await.unwrap();
        assert!(tx.insert_payment(&pay_b).await.unwrap());
        let capture = rules::capture(
            &order_b.id,
            &PaymentId::from_trusted(pay_b.id.clone()),
            &seller.id,
            PROVIDER,
            amount,
        )
        .unwrap();
        tx.post_entry(&capture, T0 + 13).await.unwrap();
        tx.insert_refund(&danbao_store::RefundRow {
            id: refund_id.to_string(),
            order_id: Some(order_b.id.to_string()),
            payment_id: pay_b.id.clone(),
            provider: PROVIDER.to_string(),
            provider_payment_id: pay_b.provider_payment_id.clone(),
            amount: Money::from_minor(1000),
            reason: "seller did not deliver".to_string(),
            status: "requested".to_string(),
            created_at: T0 + 14,
            confirmed_at: None,
        })
        .await
        .unwrap();
        let out = rules::refund_from_escrow(&order_b.id, &refund_id, &seller.id, PROVIDER, amount).unwrap();
        tx.post_entry(&out, T0 + 14).await.unwrap();
        tx.commit().await.unwrap();

        let mut tx = store.begin().await.unwrap();
        let r = tx.refund(&refund_id, true).await.unwrap().expect("refund row");
        assert_eq!(r.status, "requested");
        let pending = Account::RefundsPending(PROVIDER.to_string());
        assert_eq!(tx.account_balance(&pending).await.unwrap(), -1000);
        assert_eq!(tx.account_balance(&provider).await.unwrap(), 2000);
        let confirmed = rules::refund_confirmed(Some(&order_b.id), &refund_id, PROVIDER, amount).unwrap();
        tx.post_entry(&confirmed, T0 + 15).await.unwrap();
        tx.mark_refund_confirmed(&refund_id, T0 + 15).await.unwrap();
        // Persist the statuses the money says, and read them back for the check.
        let mut done = order.clone();
        done.status = OrderStatus::Completed;
        done.completed_at = Some(T0 + 11);
        done.updated_at = T0 + 11;
        tx.update_order(&done).await.unwrap();
        let mut refunded = tx.order(&order_b.id, true).await.unwrap().expect("order b");
        refunded.status = OrderStatus::Refunded;
        refunded.updated_at = T0 + 15;
        tx.update_order(&refunded).await.unwrap();
        tx.commit().await.unwrap();

        let mut tx = store.begin().await.unwrap();
        let r = tx.refunds_for_order(&order_b.id).await.unwrap();
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].status, "confirmed");
        assert_eq!(r[0].confirmed_at, Some(T0 + 15));
        assert_eq!(tx.account_balance(&pending).await.unwrap(), 0);
        assert_eq!(tx.account_balance(&provider).await.unwrap(), 1000);
        assert_eq!(tx.account_balance(&escrow).await.unwrap(), 0);
        let entries = tx.journal_entries().await.unwrap();
        assert_eq!(entries.len(), 5);
        let balances = tx.account_balances().await.unwrap();
        assert_eq!(balances.values().sum::<i64>(), 0);
        let statuses: BTreeMap<OrderId, OrderStatus> = tx
            .order_statuses()
            .await
            .unwrap()
            .into_iter()
            .map(|row| (row.order_id, OrderStatus::parse(&row.status).expect("known status")))
            .collect();
        assert_eq!(statuses.get(&order.id), Some(&OrderStatus::Completed));
        assert_eq!(statuses.get(&order_b.id), Some(&OrderStatus::Refunded));
        let violations = check_invariants(&entries, &balances, &statuses);
        assert!(
            violations.is_empty(),
            "{kind}: ledger check after refund: {violations:?}"
        );
        tx.insert_security_event("ledger_checked", "{}", T0 + 16).await.unwrap();
        tx.commit().await.unwrap();
    }

    // ---- 7. jobs ----
    let lease = 30_000;
    let run_at = T0 + 1000;
    let timer = NewJob {
        kind: "auto_confirm".to_string(),
        payload: format!("{{\"order\":\"{}\"}}", order.id),
        dedupe_key: Some(format!("auto_confirm:{}", order.id)),
        run_at,
    };
    {
        let mut tx = store.begin().await.unwrap();
        assert!(tx.enqueue_job(&timer, T0).await.unwrap());
        assert!(
            !tx.enqueue_job(&timer, T0).await.unwrap(),
            "{kind}: the same dedupe key is scheduled once"
        );
        tx.commit().await.unwrap();
    }
    {
        let mut tx = store.begin().await.unwrap();
        assert!(
            tx.claim_jobs(run_at - 1, lease, 10).await.unwrap().is_empty(),
            "not due yet"
        );
        tx.commit().await.unwrap();
    }
    let job_id = {
        let mut tx = store.begin().await.unwrap();
        let jobs = tx.claim_jobs(run_at, lease, 10).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(jobs.len(), 1, "{kind}: the due job is claimed: {jobs:?}");
        let j = &jobs[0];
        assert_eq!(j.status, "running");
        assert_eq!(j.attempts, 1);
        assert_eq!(j.kind, timer.kind);
        assert_eq!(j.payload, timer.payload);
        assert_eq!(j.run_at, run_at);
        assert_eq!(j.last_error, None);
        j.id.clone()
    };
    {
        let mut tx = store.begin().await.unwrap();
        assert!(
            tx.claim_jobs(run_at, lease, 10).await.unwrap().is_empty(),
            "{kind}: a leased job is not claimed twice"
        );
        assert!(
            tx.claim_jobs(run_at + lease, lease, 10).await.unwrap().is_empty(),
            "lease still holds at its end"
        );
        tx.commit().await.unwrap();
    }
    {
        let mut tx = store.begin().await.unwrap();
        let jobs = tx.claim_jobs(run_at + lease + 1, lease, 10).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(jobs.len(), 1, "{kind}: an expired lease is reclaimed");
        assert_eq!(jobs[0].id, job_id);
        assert_eq!(jobs[0].attempts, 2);
        assert_eq!(jobs[0].status, "running");
    }
    {
        // The first claimer, back after the database was unreachable, cannot give back a
        // job another claim holds now; the holder can, and the job is due at once with
        // that claim's attempt uncounted.
        let now = run_at + lease + 2;
        let mut tx = store.begin().await.unwrap();
        assert!(
            !tx.give_back_job(&job_id, run_at + lease, "db down", now).await.unwrap(),
            "{kind}: a job taken over is not given back by its old claimer"
        );
        assert!(tx
            .give_back_job(&job_id, run_at + lease + 1 + lease, "db down", now)
            .await
            .unwrap());
        let jobs = tx.claim_jobs(now, lease, 10).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(jobs.len(), 1, "{kind}: a job given back is due at once");
        assert_eq!(jobs[0].attempts, 2, "{kind}: the given-back claim was not counted");
        assert_eq!(jobs[0].last_error.as_deref(), Some("db down"));
    }
    {
        let mut tx = store.begin().await.unwrap();
        tx.retry_job(&job_id, "provider timeout", run_at + 100_000, run_at + lease + 2, true)
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }
    {
        let mut tx = store.begin().await.unwrap();
        let queued = tx.jobs_by_status("queued", 10).await.unwrap();
        assert_eq!(queued.len(), 1);
        assert_eq!(queued[0].id, job_id);
        assert_eq!(queued[0].run_at, run_at + 100_000);
        assert_eq!(queued[0].last_error.as_deref(), Some("provider timeout"));
        tx.commit().await.unwrap();
    }
    {
        // A run the database aborted (a deadlock victim) is queued again without counting
        // the attempt its claim counted.
        let mut tx = store.begin().await.unwrap();
        let jobs = tx.claim_jobs(run_at + 100_000, lease, 10).await.unwrap();
        assert_eq!(jobs.len(), 1);
        assert_eq!(jobs[0].attempts, 3);
        tx.retry_job(&job_id, "deadlock detected", run_at + 101_000, run_at + 100_001, false)
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }
    {
        let mut tx = store.begin().await.unwrap();
        let queued = tx.jobs_by_status("queued", 10).await.unwrap();
        assert_eq!(queued.len(), 1);
        assert_eq!(queued[0].attempts, 2, "{kind}: the aborted run was not counted");
        assert_eq!(queued[0].run_at, run_at + 101_000);
        assert_eq!(queued[0].last_error.as_deref(), Some("deadlock detected"));
        tx.bury_job(&job_id, "gave up", run_at + lease + 3).await.unwrap();
        tx.commit().await.unwrap();
    }
    {
        let mut tx = store.begin().await.unwrap();
        let dead = tx.jobs_by_status("dead", 10).await.unwrap();
        assert_eq!(dead.len(), 1, "{kind}: the buried job is kept");
        assert_eq!(dead[0].id, job_id);
        assert_eq!(dead[0].attempts, 2);
        assert_eq!(dead[0].last_error.as_deref(), Some("gave up"));
        // A dead job is never claimed again, even long after.
        assert!(tx.claim_jobs(run_at + 10_000_000, lease, 10).await.unwrap().is_empty());
        tx.commit().await.unwrap();
    }
    let other = NewJob {
        kind: "expire_order".to_string(),
        payload: "{}".to_string(),
        dedupe_key: Some("expire:x".to_string()),
        run_at: T0,
    };
    {
        let mut tx = store.begin().await.unwrap();
        assert!(tx.enqueue_job(&other, T0).await.unwrap());
        let jobs = tx.claim_jobs(T0, lease, 10).await.unwrap();
        assert_eq!(jobs.len(), 1);
        assert_eq!(jobs[0].kind, "expire_order");
        tx.finish_job(&jobs[0].id, T0 + 1).await.unwrap();
        tx.commit().await.unwrap();
        let mut tx = store.begin().await.unwrap();
        let done = tx.jobs_by_status("done", 10).await.unwrap();
        assert_eq!(done.len(), 1);
        assert_eq!(done[0].id, jobs[0].id);
        assert_eq!(done[0].status, "done");
        assert_eq!(done[0].attempts, 1);
        // A finished job frees its dedupe key: the timer may be scheduled again.
        assert!(
            tx.enqueue_job(&other, T0 + 2).await.unwrap(),
            "{kind}: finished job still holds its key"
        );
        assert_eq!(tx.jobs_by_status("queued", 10).await.unwrap().len(), 1);
        tx.commit().await.unwrap();
    }

    // ---- 8. idempotency keys ----
    {
        let mut tx = store.begin().await.unwrap();
        assert_eq!(
            tx.idempotency_begin("checkout", "k1", "h1", T0).await.unwrap(),
            IdempotencyState::New
        );
        tx.commit().await.unwrap();
    }
    {
        let mut tx = store.begin().await.unwrap();
        assert_eq!(
            tx.idempotency_begin("checkout", "k1", "h1", T0 + 1).await.unwrap(),
            IdempotencyState::InProgress
        );
        // The same key in another scope is another key.
        assert_eq!(
            tx.idempotency_begin("refund", "k1", "h9", T0 + 1).await.unwrap(),
            IdempotencyState::New
        );
        tx.idempotency_complete("checkout", "k1", 201, "application/json", "{\"order\":1}")
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }
    let replay = IdempotencyState::Replay {
        status: 201,
        content_type: "application/json".to_string(),
        body: "{\"order\":1}".to_string(),
    };
    {
        let mut tx = store.begin().await.unwrap();
        assert_eq!(
            tx.idempotency_begin("checkout", "k1", "h1", T0 + 2).await.unwrap(),
            replay
        );
        assert_eq!(
            tx.idempotency_begin("checkout", "k1", "h2", T0 + 2).await.unwrap(),
            IdempotencyState::Mismatch
        );
        // Abandoning a completed key does nothing.
        tx.idempotency_abandon("checkout", "k1").await.unwrap();
        tx.commit().await.unwrap();
    }
    {
        let mut tx = store.begin().await.unwrap();
        assert_eq!(
            tx.idempotency_begin("checkout", "k1", "h1", T0 + 3).await.unwrap(),
            replay,
            "{kind}: abandon removed a completed key"
        );
        // Abandoning an incomplete key frees it.
        tx.idempotency_abandon("refund", "k1").await.unwrap();
        assert_eq!(
            tx.idempotency_begin("refund", "k1", "h8", T0 + 3).await.unwrap(),
            IdempotencyState::New
        );
        tx.commit().await.unwrap();
    }

    // ---- 9. concurrent allocation of one product ----
    let hot = card_key_product(&seller.id, "Hot key");
    let mut orders = Vec::new();
    {
        let mut tx = store.begin().await.unwrap();
        tx.insert_product(&hot).await.unwrap();
        for i in 0..10 {
            let seq = tx.next_card_key_seq(&hot.id).await.unwrap();
            assert!(tx
                .insert_card_key(&card_key(&hot.id, seq, &format!("hot-{i}")))
                .await
                .unwrap());
        }
        tx.commit().await.unwrap();
    }
    assert_eq!(stock_of(store, &hot.id).await, 10);
    for _ in 0..20 {
        let o = order_row(&hot, &buyer.id, 1);
        let mut tx = store.begin().await.unwrap();
        tx.insert_order(&o).await.unwrap();
        tx.commit().await.unwrap();
        orders.push(o.id);
    }
    let mut tasks = Vec::new();
    for order_id in orders.clone() {
        let store = store.clone();
        let product = hot.id.clone();
        tasks.push(tokio::spawn(async move {
            let mut tx = store.begin().await?;
            tx.product(&product, true).await?.expect("product");
            let keys = tx.allocate_card_keys(&product, &order_id, 1, T0 + 20).await?;
            tx.commit().await?;
            Ok::<_, StoreError>((order_id, keys))
        }));
    }
    let mut won = Vec::new();
    let mut lost = 0;
    for t in tasks {
        let (order_id, keys) = t
            .await
            .unwrap()
            .unwrap_or_else(|e| panic!("{kind}: a concurrent allocation failed: {e}"));
        if keys.is_empty() {
            lost += 1;
        } else {
            assert_eq!(keys.len(), 1);
            assert_eq!(keys[0].order_id.as_deref(), Some(order_id.as_str()));
            won.push(keys[0].id.clone());
        }
    }
    assert_eq!(won.len(), 10, "{kind}: exactly ten allocations succeed");
    assert_eq!(lost, 10, "{kind}: exactly ten find no key");
    let distinct: BTreeSet<&String> = won.iter().collect();
    assert_eq!(distinct.len(), 10, "{kind}: a key was handed out twice: {won:?}");
    {
        let mut tx = store.begin().await.unwrap();
        assert_eq!(tx.count_free_card_keys(&hot.id).await.unwrap(), 0);
        let mut seen = BTreeSet::new();
        for o in &orders {
            for k in tx.card_keys_for_order(o).await.unwrap() {
                assert!(seen.insert(k.id.clone()), "{kind}: key {} in two orders", k.id);
            }
        }
        assert_eq!(seen.len(), 10);
    }

    // ---- 10. the seller's standing lock (the first lock of the lock order) ----
    {
        // A seller with no standing row gets one (active, nothing held) when it is locked;
        // a row that exists is returned as it is.
        let mut tx = store.begin().await.unwrap();
        assert_eq!(tx.seller_standing(&seller.id, false).await.unwrap(), None);
        let created = tx.lock_seller_standing(&seller.id, T0 + 30, false).await.unwrap();
        assert_eq!(
            (
                created.status.as_str(),
                created.reason.as_str(),
                created.frozen_available_minor
            ),
            ("active", "", 0),
            "{kind}"
        );
        let frozen = danbao_store::SellerStandingRow {
            status: "frozen".into(),
            reason: "check".into(),
            frozen_available_minor: 700,
            updated_at: T0 + 31,
            ..created
        };
        tx.set_seller_standing(&frozen).await.unwrap();
        assert_eq!(
            tx.lock_seller_standing(&seller.id, T0 + 32, true).await.unwrap(),
            frozen,
            "{kind}"
        );
        tx.commit().await.unwrap();
    }
    if kind == "postgres" {
        // A frozen seller's standing is taken whole even when asked for shared: their
        // releases write it, and two shared holders raising theirs would deadlock. So a
        // second lock waits; once the first makes the seller active again, it shares.
        let mut holder = store.begin().await.unwrap();
        let held = holder.lock_seller_standing(&seller.id, T0 + 33, false).await.unwrap();
        assert_eq!(held.status, "frozen", "{kind}");
        let waiter = lock_standing_in_own_tx(store, &seller.id, T0 + 34, false);
        assert_waiting(
            &waiter,
            &format!("{kind}: a lock on a frozen seller's standing was shared"),
        )
        .await;
        let active = danbao_store::SellerStandingRow {
            status: "active".into(),
            frozen_available_minor: 0,
            ..held
        };
        holder.set_seller_standing(&active).await.unwrap();
        holder.commit().await.unwrap();
        assert_eq!(waiter.await.unwrap().unwrap(), active, "{kind}");

        // Order steps share the standing lock: a second shared lock does not wait for a
        // first one, but a standing change (exclusive) waits for every shared holder.
        let mut reader = store.begin().await.unwrap();
        reader.lock_seller_standing(&seller.id, T0 + 35, false).await.unwrap();
        let mut other_reader = store.begin().await.unwrap();
        tokio::time::timeout(
            std::time::Duration::from_secs(10),
            other_reader.lock_seller_standing(&seller.id, T0 + 35, false),
        )
        .await
        .expect("a second shared lock waited for the first")
        .unwrap();
        other_reader.commit().await.unwrap();
        let change = lock_standing_in_own_tx(store, &seller.id, T0 + 36, true);
        assert_waiting(
            &change,
            &format!("{kind}: a standing change did not wait for a shared holder"),
        )
        .await;
        reader.commit().await.unwrap();
        change.await.unwrap().unwrap();

        // A second transaction changing the same standing waits for the first to end:
        // this is what makes standing changes of one seller take turns.
        let mut first = store.begin().await.unwrap();
        first.lock_seller_standing(&seller.id, T0 + 40, true).await.unwrap();
        let second = lock_standing_in_own_tx(store, &seller.id, T0 + 41, true);
        assert_waiting(&second, &format!("{kind}: the second lock did not wait")).await;
        let mut row = first.seller_standing(&seller.id, false).await.unwrap().unwrap();
        row.frozen_available_minor = 0;
        row.status = "active".into();
        first.set_seller_standing(&row).await.unwrap();
        first.commit().await.unwrap();
        let seen = second.await.unwrap().unwrap();
        assert_eq!(seen, row, "{kind}: the waiting lock reads what the first committed");
    }

    // ---- 11. card keys held by a transaction that then rolls back are free again ----
    if kind == "postgres" {
        // An allocation passes keys another transaction holds (SKIP LOCKED); finding too
        // few, it takes the product's lock and waits for the held ones, which the holder's
        // rollback frees: the order gets the oldest keys, not "sold out".
        let spare = card_key_product(&seller.id, "Spare key");
        let holder_order = order_row(&spare, &buyer.id, 2);
        let taker_order = order_row(&spare, &buyer.id, 3);
        {
            let mut tx = store.begin().await.unwrap();
            tx.insert_product(&spare).await.unwrap();
            for i in 0..4 {
                let seq = tx.next_card_key_seq(&spare.id).await.unwrap();
                assert!(tx
                    .insert_card_key(&card_key(&spare.id, seq, &format!("spare-{i}")))
                    .await
                    .unwrap());
            }
            tx.insert_order(&holder_order).await.unwrap();
            tx.insert_order(&taker_order).await.unwrap();
            tx.commit().await.unwrap();
        }
        let mut holder = store.begin().await.unwrap();
        let held = holder
            .allocate_card_keys(&spare.id, &holder_order.id, 2, T0 + 50)
            .await
            .unwrap();
        assert_eq!(held.len(), 2, "{kind}");
        let taker = {
            let store = store.clone();
            let (product, order) = (spare.id.clone(), taker_order.id.clone());
            tokio::spawn(async move {
                let mut tx = store.begin().await?;
                let keys = tx.allocate_card_keys(&product, &order, 3, T0 + 51).await?;
                tx.commit().await?;
                Ok::<_, StoreError>(keys)
            })
        };
        assert_waiting(
            &taker,
            &format!("{kind}: an allocation short of free keys did not wait for held ones"),
        )
        .await;
        drop(holder);
        let keys = tokio::time::timeout(std::time::Duration::from_secs(10), taker)
            .await
            .expect("the allocation still waits after the holder rolled back")
            .unwrap()
            .unwrap();
        let seqs: Vec<i64> = keys.iter().map(|k| k.seq).collect();
        let held_seqs: Vec<i64> = held.iter().map(|k| k.seq).collect();
        assert_eq!(keys.len(), 3, "{kind}: got {seqs:?}");
        assert!(
            held_seqs.iter().all(|s| seqs.contains(s)),
            "{kind}: the rolled-back keys {held_seqs:?} were not taken: {seqs:?}"
        );
        let mut tx = store.begin().await.unwrap();
        assert_eq!(tx.count_free_card_keys(&spare.id).await.unwrap(), 1, "{kind}");
    }
    eprintln!("{kind}: story told, all steps held");
}

/// A task that locks the seller's standing in a transaction of its own (shared or whole),
/// commits, and returns the row it locked: for what must wait for a lock held here.
fn lock_standing_in_own_tx(
    store: &Store,
    seller: &UserId,
    at: i64,
    exclusive: bool,
) -> tokio::task::JoinHandle<Result<danbao_store::SellerStandingRow, StoreError>> {
    let store = store.clone();
    let seller = seller.clone();
    tokio::spawn(async move {
        let mut tx = store.begin().await?;
        let row = tx.lock_seller_standing(&seller, at, exclusive).await?;
        tx.commit().await?;
        Ok(row)
    })
}

/// Asserts that `task` is still waiting (for a lock) after a moment: it tests that a lock
/// is taken, not a deadline, so the moment is generous and the check one-sided.
async fn assert_waiting<T>(task: &tokio::task::JoinHandle<T>, what: &str) {
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(!task.is_finished(), "{what}");
}

/// Runs the story on its own task, so a failing assertion still lets the caller clean up.
async fn run_story(store: Store) {
    let task = {
        let store = store.clone();
        tokio::spawn(async move { story(&store).await })
    };
    let outcome = task.await;
    store.close().await;
    if let Err(e) = outcome {
        if e.is_panic() {
            std::panic::resume_unwind(e.into_panic());
        }
        panic!("story task: {e}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn story_on_sqlite() {
    let dir = std::env::temp_dir().join(format!("danbao-story-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite:{}", dir.join("t.db").display());
    let store = Store::connect(&url, None).await.unwrap();
    assert_eq!(store.kind(), "sqlite");
    let outcome = tokio::spawn(run_story(store)).await;
    let _ = std::fs::remove_dir_all(&dir);
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

/// A copy of `danbao_testkit::postgres_test_url`: this crate's tests cannot depend on the
/// testkit, which depends on danbao-store (a cycle, and the whole server in the store's
/// test build). Skipped outside CI when the URL is unset; under CI (`CI` set) a failure,
/// because CI starts PostgreSQL and a quiet skip would hide a broken setup.
fn postgres_test_url() -> Option<String> {
    match std::env::var("DANBAO_TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var_os("CI").is_none(),
                "the PostgreSQL store tests must run under CI: set DANBAO_TEST_DATABASE_URL to a \
                 reachable PostgreSQL (e.g. postgres://postgres@127.0.0.1:5432/test)"
            );
            println!("PostgreSQL store tests skipped: DANBAO_TEST_DATABASE_URL is not set");
            None
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn story_on_postgres() {
    let Some(url) = postgres_test_url() else {
        return;
    };
    let schema = danbao_store::create_pg_schema(&url, "story")
        .await
        .unwrap_or_else(|e| panic!("cannot reach PostgreSQL at DANBAO_TEST_DATABASE_URL={url}: {e}"));
    let connected = Store::connect(&url, Some(&schema)).await;
    let outcome = match connected {
        Ok(store) => {
            assert_eq!(store.kind(), "postgres");
            tokio::spawn(run_story(store)).await
        }
        Err(e) => {
            danbao_store::drop_pg_schema(&url, &schema).await.unwrap();
            panic!("connect to PostgreSQL: {e}");
        }
    };
    danbao_store::drop_pg_schema(&url, &schema).await.unwrap();
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}
