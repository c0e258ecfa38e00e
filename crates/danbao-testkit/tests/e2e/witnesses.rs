//! Witnesses (issue 16 item 2): with witnesses configured the platform publishes a
//! checkpoint only once the quorum cosigned it (c2sp.org/tlog-witness, tlog-cosignature);
//! receipts carry the cosignatures; a witness that cannot cosign holds publication back
//! and is recorded as a security event. The witnesses here are the real `danbao witness`
//! service (`danbao_http::witness`), each on its own port with its own key and folder.

use danbao_app::witnesses::{Witness, WitnessPolicy};
use danbao_evidence::{verify_cosignatures, LogVerifier, Receipt, WitnessVerifier};
use danbao_testkit::TestApp;

on_both_databases!(
    checkpoints_are_published_only_with_the_witness_quorum,
    a_witness_that_cannot_cosign_holds_publication_back,
);

struct Running {
    url: String,
    verifier: WitnessVerifier,
    _stop: tokio::sync::oneshot::Sender<()>,
    _dir: std::path::PathBuf,
}

async fn start_witness(name: &str, log: &LogVerifier) -> Running {
    let dir = std::env::temp_dir().join(format!("danbao-witness-{}", uuid::Uuid::new_v4().simple()));
    let witness = danbao_http::witness::Witness::open(&dir, name, vec![log.clone()]).unwrap();
    let verifier = WitnessVerifier::from_vkey(&witness.vkey()).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(danbao_http::witness::serve(listener, witness, async move {
        let _ = stopped.await;
    }));
    Running {
        url,
        verifier,
        _stop: stop,
        _dir: dir,
    }
}

fn policy(witnesses: &[&Running], quorum: usize) -> Option<WitnessPolicy> {
    Some(WitnessPolicy {
        witnesses: witnesses
            .iter()
            .map(|w| Witness {
                url: w.url.clone(),
                verifier: w.verifier.clone(),
            })
            .collect(),
        quorum,
    })
}

async fn log_verifier(t: &TestApp) -> LogVerifier {
    LogVerifier::from_vkey(t.get("/api/v1/evidence/key", None).await.text.trim()).unwrap()
}

async fn checkpoints_are_published_only_with_the_witness_quorum(t: TestApp) {
    let log = log_verifier(&t).await;
    let (w1, w2) = (
        start_witness("witness.test/one", &log).await,
        start_witness("witness.test/two", &log).await,
    );
    t.app().set_witnesses(policy(&[&w1, &w2], 2));
    let verifiers = [w1.verifier.clone(), w2.verifier.clone()];
    let (seller, _) = t.user("wit_s", "seller").await;
    let product = t.card_product(&seller, 500, 3).await;
    t.guest_order_delivered(&product).await;
    let note = t.get("/checkpoint", None).await.text;
    let cosigned = verify_cosignatures(&note, &verifiers, 2).unwrap();
    assert_eq!(cosigned.len(), 2, "{note}");
    danbao_evidence::open_checkpoint(&note, &log).unwrap();
    let size: u64 = note.lines().nth(1).unwrap().parse().unwrap();
    assert!(size > 0);
    // The API's checkpoint and every receipt carry the same cosignatures.
    let api = t.get("/api/v1/evidence/checkpoint", None).await;
    assert_eq!(api.status, 200, "{}", api.text);
    assert_eq!(api.text, note);
    let receipt = t.get("/api/v1/evidence/receipts/0", None).await;
    assert_eq!(receipt.status, 200, "{}", receipt.text);
    let parsed = Receipt::parse(&receipt.text).unwrap();
    parsed.verify(&log).unwrap();
    assert_eq!(
        verify_cosignatures(&parsed.checkpoint_note, &verifiers, 2)
            .unwrap()
            .len(),
        2
    );
    // More events: the witnesses are asked again from the size they hold (a consistency
    // proof between the two sizes), and the larger checkpoint is published cosigned.
    t.guest_order_delivered(&product).await;
    let later = t.get("/checkpoint", None).await.text;
    let later_size: u64 = later.lines().nth(1).unwrap().parse().unwrap();
    assert!(later_size > size, "{later}");
    assert_eq!(verify_cosignatures(&later, &verifiers, 2).unwrap().len(), 2);
    // Each witness serves what it cosigned to monitors.
    let origin_hash = danbao_evidence::sha256_hex(b"danbao.dev/evidence-log");
    let kept = t
        .http
        .get(format!("{}/{origin_hash}/checkpoint", w1.url))
        .send()
        .await
        .unwrap();
    assert_eq!(kept.status().as_u16(), 200);
    let kept = kept.text().await.unwrap();
    assert!(kept.contains(&format!("\n{later_size}\n")), "{kept}");
    w1.verifier.verify(&kept).unwrap();
    // The public page names both witnesses and when they cosigned.
    let page = t.get("/transparency", None).await;
    assert_eq!(page.status, 200);
    assert!(
        page.text.contains("witness.test/one") && page.text.contains("witness.test/two"),
        "{}",
        page.text
    );
    assert_eq!(page.text.matches("<tr class=\"witness\">").count(), 2);
    // The mirror and verify commands shown both name both witnesses' keys.
    for w in [&w1, &w2] {
        let escaped = format!("--witness &#39;{}&#39;", w.verifier.to_vkey());
        let plain = format!("--witness '{}'", w.verifier.to_vkey());
        assert_eq!(
            page.text.matches(&escaped).count() + page.text.matches(&plain).count(),
            2,
            "{}",
            page.text
        );
    }
    assert!(
        !page.text.contains("not cosigned") && !page.text.contains("未联署"),
        "{}",
        page.text
    );
    t.finish().await;
}

async fn a_witness_that_cannot_cosign_holds_publication_back(t: TestApp) {
    let log = log_verifier(&t).await;
    let w1 = start_witness("witness.test/up", &log).await;
    // A witness that is down: nothing listens at its address.
    let down = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", l.local_addr().unwrap());
        drop(l);
        let signer = danbao_evidence::WitnessSigner::from_secret_bytes("witness.test/down", &[4; 32]).unwrap();
        Witness {
            url,
            verifier: signer.verifier(),
        }
    };
    let both = |quorum| {
        Some(WitnessPolicy {
            witnesses: vec![
                Witness {
                    url: w1.url.clone(),
                    verifier: w1.verifier.clone(),
                },
                down.clone(),
            ],
            quorum,
        })
    };
    t.app().set_witnesses(both(2));
    let (seller, _) = t.user("wit_down_s", "seller").await;
    let product = t.card_product(&seller, 500, 2).await;
    t.guest_order_delivered(&product).await;
    // Two of two are required and one is down: nothing is published.
    let api = t.get("/api/v1/evidence/checkpoint", None).await;
    assert_eq!(api.status, 404, "{}", api.text);
    assert_eq!(t.get("/api/v1/evidence/receipts/0", None).await.status, 404);
    let note = t.get("/checkpoint", None).await.text;
    assert!(note.starts_with("danbao.dev/evidence-log\n0\n"), "{note}");
    // The refusal is a security event, recorded once however often it is retried.
    t.get("/checkpoint", None).await;
    let admin = t.admin().await;
    let events = t.get("/api/v1/admin/security-events", Some(&admin)).await;
    assert_eq!(events.status, 200, "{}", events.text);
    let refusals: Vec<&serde_json::Value> = events.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "witness_refused")
        .collect();
    assert_eq!(refusals.len(), 1, "{}", events.text);
    assert_eq!(refusals[0]["detail"]["witness"], "witness.test/down");
    // With a quorum of one, the witness that is up suffices.
    t.app().set_witnesses(both(1));
    let note = t.get("/checkpoint", None).await.text;
    let cosigned = verify_cosignatures(&note, &[w1.verifier.clone(), down.verifier.clone()], 1).unwrap();
    assert_eq!(cosigned.len(), 1);
    assert_eq!(cosigned[0].0, "witness.test/up");
    assert_eq!(t.get("/api/v1/evidence/receipts/0", None).await.status, 200);
    let page = t.get("/transparency", None).await;
    assert!(
        page.text.contains("not cosigned") || page.text.contains("未联署"),
        "{}",
        page.text
    );
    // Without witnesses the log's own checkpoint is published at once, as before.
    t.app().set_witnesses(None);
    let own = t.get("/checkpoint", None).await.text;
    assert!(!own.contains("witness.test"), "{own}");
    t.finish().await;
}
