//! The evidence log as C2SP tlog-tiles (issue 16 item 1, begun): `/checkpoint` and the hash
//! and entry tiles, checked here with an RFC 6962 tree hash written from the RFC's
//! definition (not the production tree code) and the log's own key.

use base64::Engine;
use danbao_testkit::TestApp;

on_both_databases!(
    the_log_is_served_as_tiles_that_rebuild_the_signed_root,
    the_transparency_page_shows_the_signed_checkpoint_and_how_to_verify_it,
);

fn sha256(bytes: &[u8]) -> Vec<u8> {
    let hex = danbao_evidence::sha256_hex(bytes);
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

/// RFC 6962 §2.1: MTH({}) = SHA-256(), MTH({d0}) = SHA-256(0x00 ‖ d0), and otherwise
/// SHA-256(0x01 ‖ MTH(D[0:k]) ‖ MTH(D[k:n])) for k the largest power of two below n —
/// here over leaf hashes already taken.
fn mth(leaf_hashes: &[Vec<u8>]) -> Vec<u8> {
    match leaf_hashes.len() {
        0 => sha256(b""),
        1 => leaf_hashes[0].clone(),
        n => {
            let mut k = 1;
            while k * 2 < n {
                k *= 2;
            }
            let mut node = vec![1u8];
            node.extend(mth(&leaf_hashes[..k]));
            node.extend(mth(&leaf_hashes[k..]));
            sha256(&node)
        }
    }
}

async fn bytes(t: &TestApp, path: &str) -> (u16, Vec<u8>, String) {
    let r = t.http.get(format!("{}{path}", t.url)).send().await.unwrap();
    let status = r.status().as_u16();
    let cache = r
        .headers()
        .get("cache-control")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, r.bytes().await.unwrap().to_vec(), cache)
}

fn checkpoint_parts(note: &str) -> (String, u64, Vec<u8>) {
    let mut lines = note.lines();
    let origin = lines.next().unwrap().to_string();
    let size = lines.next().unwrap().parse().unwrap();
    let root = base64::engine::general_purpose::STANDARD
        .decode(lines.next().unwrap())
        .unwrap();
    (origin, size, root)
}

async fn the_log_is_served_as_tiles_that_rebuild_the_signed_root(t: TestApp) {
    let vkey = t.get("/api/v1/evidence/key", None).await.text;
    let verifier = danbao_evidence::LogVerifier::from_vkey(vkey.trim()).unwrap();
    // An empty log serves a signed checkpoint of size 0 over the empty tree.
    let (status, body, cache) = bytes(&t, "/checkpoint").await;
    assert_eq!(status, 200);
    assert_eq!(cache, "no-cache");
    let note = String::from_utf8(body).unwrap();
    danbao_evidence::open_checkpoint(&note, &verifier).unwrap();
    let (origin, size, root) = checkpoint_parts(&note);
    assert_eq!((origin.as_str(), size), ("danbao.dev/evidence-log", 0));
    assert_eq!(root, sha256(b""));

    let (seller, _) = t.user("tiles_s", "seller").await;
    let product = t.card_product(&seller, 500, 3).await;
    for _ in 0..3 {
        t.guest_order_delivered(&product).await;
    }
    let (_, body, _) = bytes(&t, "/checkpoint").await;
    let note = String::from_utf8(body).unwrap();
    danbao_evidence::open_checkpoint(&note, &verifier).unwrap();
    let (_, size, root) = checkpoint_parts(&note);
    assert!((6..256).contains(&size), "{note}");
    // The level-0 tile of this size holds every leaf hash; they rebuild the signed root.
    let (status, tile, cache) = bytes(&t, &format!("/tile/0/000.p/{size}")).await;
    assert_eq!(status, 200);
    assert!(cache.contains("immutable"), "{cache}");
    assert_eq!(tile.len() as u64, size * 32);
    let leaves: Vec<Vec<u8>> = tile.chunks(32).map(<[u8]>::to_vec).collect();
    assert_eq!(mth(&leaves), root);
    // The entry bundle: each entry hashes (0x00 ‖ entry) to its leaf.
    let (status, bundle, _) = bytes(&t, &format!("/tile/entries/000.p/{size}")).await;
    assert_eq!(status, 200);
    let mut rest = &bundle[..];
    let mut i = 0;
    while !rest.is_empty() {
        let len = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
        let entry = &rest[2..2 + len];
        let mut prefixed = vec![0u8];
        prefixed.extend_from_slice(entry);
        assert_eq!(sha256(&prefixed), leaves[i], "entry {i}");
        rest = &rest[2 + len..];
        i += 1;
    }
    assert_eq!(i as u64, size);
    // A smaller width is the same prefix; a full tile and level 1 do not exist yet.
    let (_, first_two, _) = bytes(&t, "/tile/0/000.p/2").await;
    assert_eq!(first_two, tile[..64].to_vec());
    for missing in [
        "/tile/0/000".to_string(),
        format!("/tile/0/000.p/{}", size + 1),
        "/tile/1/000.p/1".to_string(),
        "/tile/0/001.p/1".to_string(),
        "/tile/0/0".to_string(),
        "/tile/x/000".to_string(),
    ] {
        assert_eq!(bytes(&t, &missing).await.0, 404, "{missing}");
    }
    t.finish().await;
}

async fn the_transparency_page_shows_the_signed_checkpoint_and_how_to_verify_it(t: TestApp) {
    let (seller, _) = t.user("page_s", "seller").await;
    let product = t.card_product(&seller, 500, 1).await;
    t.guest_order_delivered(&product).await;
    let vkey = t.get("/api/v1/evidence/key", None).await.text;
    let (_, body, _) = bytes(&t, "/checkpoint").await;
    let (_, size, _) = checkpoint_parts(&String::from_utf8(body).unwrap());
    let page = t.get("/transparency", None).await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(
        page.text.contains(&format!("<td id=\"log-size\">{size}</td>")),
        "{}",
        page.text
    );
    assert!(page.text.contains(vkey.trim()), "{}", page.text);
    assert!(
        page.text.contains("danbao mirror") && page.text.contains("danbao verify"),
        "{}",
        page.text
    );
    // The checkpoint shown is the signed note itself.
    assert!(page.text.contains("danbao.dev/evidence-log\n"), "{}", page.text);
    let en = t.get("/transparency?lang=en", None).await;
    assert!(
        en.text.contains("Proof of liabilities")
            && en.text.contains("No statement of liabilities has been published yet."),
        "{}",
        en.text
    );
    t.finish().await;
}
