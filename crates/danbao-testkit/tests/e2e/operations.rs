//! Operating a server: `/metrics` in Prometheus's text format, `/readyz` as a load
//! balancer reads it (issue 14).

use danbao_testkit::TestApp;

/// Two platform processes on one PostgreSQL (issue 14): every due job runs once, whichever
/// process claims it, while both sequence the evidence log at once; the log stays one tree.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_processes_share_the_jobs_and_the_log() {
    let Some(t) = TestApp::postgres().await else {
        return;
    };
    let second = t.second_server().await.unwrap();
    let b = second.app.clone();
    let a = t.app().clone();
    let (seller, _) = t.user("twoproc_seller", "seller").await;
    let product = t.card_product(&seller, 900, 16).await;
    let mut unpaid = Vec::new();
    for i in 0..16 {
        let placed = t.guest_order(&product, 1).await;
        assert_eq!(placed.status, 201, "{}", placed.text);
        let id = placed.body["id"].as_str().unwrap().to_string();
        let token = placed.body["access_token"].as_str().unwrap().to_string();
        if i % 2 == 0 {
            t.pay(placed.body["payment"]["payment_id"].as_str().unwrap()).await;
        } else {
            unpaid.push((id, token));
        }
    }
    // Past every order's payment window: 16 expiry jobs and every attempt's
    // active queries are due, and both processes go for them at once, several rounds,
    // sequencing the evidence log at the same time.
    t.advance(3_600_000);
    for _ in 0..3 {
        let (ja, jb, sa, sb) = tokio::join!(
            a.run_due_jobs(),
            b.run_due_jobs(),
            a.sequence_evidence(),
            b.sequence_evidence()
        );
        ja.unwrap();
        jb.unwrap();
        sa.unwrap();
        sb.unwrap();
    }
    for (id, token) in &unpaid {
        let r = t.get(&format!("/api/v1/orders/{id}?access_token={token}"), None).await;
        assert_eq!(r.body["status"], "expired", "{}", r.text);
    }
    // Each order's expiry job ran once (moot for the paid ones), in one process or the
    // other: never twice, never lost.
    let ran = |text: &str| {
        metric(
            text,
            "danbao_jobs_run_total",
            &[("kind", "expire_order"), ("outcome", "done")],
        )
        .unwrap_or(0.0)
    };
    let (ma, mb) = (a.metrics_text().await.unwrap(), b.metrics_text().await.unwrap());
    assert_eq!(ran(&ma) + ran(&mb), 16.0, "A:\n{ma}\nB:\n{mb}");
    assert_eq!(
        metric(&ma, "danbao_jobs", &[("kind", "expire_order"), ("status", "queued")]),
        None,
        "{ma}"
    );
    // One log: both see the same newest checkpoint, and it extends every earlier one
    // (signing refuses otherwise, so one more round must succeed).
    let (ca, cb) = (
        a.evidence_checkpoint().await.unwrap(),
        b.evidence_checkpoint().await.unwrap(),
    );
    assert_eq!(ca, cb);
    assert!(danbao_app::ledger_check(&a.store).await.unwrap().is_empty());

    // An idempotency key is the platform's, not one process's: a retry that the load
    // balancer sends to the other server gets the first answer, not a second order.
    let (buyer, _) = t.user("twoproc_buyer", "buyer").await;
    let body = serde_json::json!({"product_id": product, "quantity": 1});
    let send = |base: String, body: serde_json::Value| {
        let http = t.http.clone();
        let buyer = buyer.clone();
        async move {
            let r = http
                .post(format!("{base}/api/v1/orders"))
                .bearer_auth(buyer)
                .header("idempotency-key", "retry-through-the-balancer")
                .json(&body)
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            (status, r.json::<serde_json::Value>().await.unwrap())
        }
    };
    let (s1, first) = send(t.url.clone(), body.clone()).await;
    assert_eq!(s1, 201, "{first}");
    let (s2, again) = send(second.url.clone(), body.clone()).await;
    assert_eq!((s2, &again["id"]), (201, &first["id"]), "{again}");
    let mut other = body;
    other["quantity"] = serde_json::json!(2);
    let (s3, reused) = send(second.url.clone(), other).await;
    assert_eq!(s3, 422, "{reused}");
    assert_eq!(reused["type"], "https://danbao.dev/problems/idempotency-key-reused");
    second.stop().await;
}

on_both_databases!(
    metrics_count_requests_and_notifications_and_report_the_platform,
    readyz_is_not_ready_with_a_migration_missing_or_while_draining,
);

/// The value of one series of `name` whose labels include every pair of `labels`.
fn metric(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} ")))
        .find(|l| labels.iter().all(|(k, v)| l.contains(&format!("{k}=\"{v}\""))))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

async fn metrics_count_requests_and_notifications_and_report_the_platform(t: TestApp) {
    let (seller, _) = t.user("metrics_seller", "seller").await;
    let product = t.card_product(&seller, 1500, 2).await;
    let before = t.get("/metrics", None).await;
    assert_eq!(before.status, 200, "{}", before.text);
    assert!(
        before.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4"),
        "{:?}",
        before.headers
    );
    assert_eq!(
        metric(&before.text, "danbao_ledger_check_present", &[]),
        Some(0.0),
        "{}",
        before.text
    );
    assert_eq!(
        metric(
            &before.text,
            "danbao_payment_notifications_total",
            &[("outcome", "captured")]
        ),
        None
    );

    let (order, token) = t.guest_order_delivered(&product).await;
    t.app().sequence_evidence().await.unwrap();
    let text = t.get("/metrics", None).await.text;

    // This process's counts: by the route's pattern, never the path with its ids.
    assert_eq!(
        metric(
            &text,
            "danbao_http_requests_total",
            &[("method", "POST"), ("route", "/api/v1/orders"), ("status", "201")]
        ),
        Some(1.0),
        "{text}"
    );
    assert!(
        metric(
            &text,
            "danbao_http_requests_total",
            &[("method", "GET"), ("route", "/api/v1/orders/{id}"), ("status", "200")]
        )
        .is_some_and(|n| n >= 1.0),
        "{text}"
    );
    assert!(!text.contains(&order), "an order id became a label:\n{text}");
    assert!(!text.contains(&token), "a token became a label:\n{text}");
    assert!(
        metric(
            &text,
            "danbao_http_request_duration_seconds_bucket",
            &[("route", "/api/v1/orders"), ("le", "+Inf")]
        )
        .is_some_and(|n| n >= 1.0),
        "{text}"
    );
    assert_eq!(
        metric(
            &text,
            "danbao_payment_notifications_total",
            &[("rail", "sandbox"), ("source", "webhook"), ("outcome", "captured")]
        ),
        Some(1.0),
        "{text}"
    );

    // The platform's state, from the database: the paid order's active queries wait in
    // the queue, the log holds the order's events and is checkpointed.
    assert!(
        metric(&text, "danbao_jobs", &[("kind", "query_payment"), ("status", "queued")]).is_some_and(|n| n >= 1.0),
        "{text}"
    );
    let size = metric(&text, "danbao_evidence_log_size", &[]).unwrap();
    assert!(size >= 2.0, "{text}");
    assert_eq!(
        metric(&text, "danbao_evidence_checkpoint_size", &[]),
        Some(size),
        "{text}"
    );
    assert_eq!(metric(&text, "danbao_evidence_queue_length", &[]), Some(0.0), "{text}");

    // A job that comes due and is run is counted by kind and outcome; while due and not
    // run, the age of the oldest shows how far behind the queue is.
    t.advance(3_600_000);
    let text = t.get("/metrics", None).await.text;
    assert!(
        metric(
            &text,
            "danbao_jobs_oldest_due_age_seconds",
            &[("kind", "query_payment")]
        )
        .is_some_and(|s| s > 0.0),
        "{text}"
    );
    t.app().run_due_jobs().await.unwrap();
    let text = t.get("/metrics", None).await.text;
    assert!(
        metric(
            &text,
            "danbao_jobs_run_total",
            &[("kind", "query_payment"), ("outcome", "done")]
        )
        .is_some_and(|n| n >= 1.0),
        "{text}"
    );
    assert_eq!(
        metric(
            &text,
            "danbao_jobs_oldest_due_age_seconds",
            &[("kind", "query_payment")]
        ),
        None,
        "{text}"
    );
}

async fn readyz_is_not_ready_with_a_migration_missing_or_while_draining(t: TestApp) {
    let r = t.get("/readyz", None).await;
    assert_eq!((r.status, r.text.as_str()), (200, "ready"));

    // The database loses its newest migration (restored from an older backup, say): this
    // build's code would run against a schema it does not know.
    let store = &t.app().store;
    store
        .execute_raw("UPDATE _sqlx_migrations SET version = -version WHERE version = (SELECT MAX(version) FROM _sqlx_migrations)")
        .await
        .unwrap();
    let r = t.get("/readyz", None).await;
    assert_eq!(r.status, 503, "{}", r.text);
    assert!(r.text.contains("migrations not applied"), "{}", r.text);
    store
        .execute_raw("UPDATE _sqlx_migrations SET version = -version WHERE version < 0")
        .await
        .unwrap();
    assert_eq!(t.get("/readyz", None).await.status, 200);

    // Asked to stop: not ready first, while requests are still served.
    t.server.start_draining();
    let r = t.get("/readyz", None).await;
    assert_eq!((r.status, r.text.as_str()), (503, "draining"));
    assert_eq!(t.get("/healthz", None).await.status, 200);
}

/// The database unreachable (here: this process's pool closed, as after the primary died):
/// a request gets 503 `database-unavailable` with `Retry-After`, not a 500, and `/readyz`
/// takes the process out of the load balancer.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_unreachable_database_is_a_503_to_retry() {
    let Some(t) = TestApp::postgres().await else {
        return;
    };
    let (seller, _) = t.user("unreachable_seller", "seller").await;
    let product = t.card_product(&seller, 900, 1).await;
    t.app().store.close().await;
    let r = t.guest_order(&product, 1).await;
    assert_eq!(r.status, 503, "{}", r.text);
    assert_eq!(r.problem_type(), "https://danbao.dev/problems/database-unavailable");
    assert_eq!(r.headers["retry-after"], "1");
    assert_eq!(t.get("/readyz", None).await.status, 503);
}
