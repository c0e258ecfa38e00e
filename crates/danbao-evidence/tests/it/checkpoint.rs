//! Signed checkpoints: round trips, foreign keys, tampering, strict bodies, and the
//! Go `note` package's published key and note.

use base64::Engine as _;
use danbao_evidence::{open_checkpoint, Checkpoint, LogSigner, LogVerifier, NoteError};
use ed25519_dalek::{Signer as _, SigningKey};
use sha2::{Digest, Sha256};

use crate::common::rng;

const ORIGIN: &str = "danbao.dev/evidence-log";

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Signs `body` from scratch, without the crate's signer, following the signed-note
/// spec: key hash = SHA-256(name ‖ "\n" ‖ 0x01 ‖ public key)[..4].
fn independent_sign(name: &str, secret: &[u8; 32], body: &str) -> String {
    let key = SigningKey::from_bytes(secret);
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update(b"\n\x01");
    h.update(key.verifying_key().as_bytes());
    let mut blob = h.finalize()[..4].to_vec();
    blob.extend_from_slice(&key.sign(body.as_bytes()).to_bytes());
    format!("{body}\n\u{2014} {name} {}\n", b64(&blob))
}

fn signer(seed: u64) -> LogSigner {
    LogSigner::generate(ORIGIN, &mut rng(seed)).unwrap()
}

#[test]
fn sign_and_open_round_trip() {
    let signer = signer(20);
    let verifier = LogVerifier::from_vkey(&signer.vkey()).unwrap();
    assert_eq!(verifier, signer.verifier());
    assert_eq!(verifier.to_vkey(), signer.vkey());
    let root = danbao_evidence::leaf_hash(b"x");
    let checkpoint = Checkpoint::new(ORIGIN, 1042, root).unwrap();
    assert_eq!(checkpoint.to_body(), format!("{ORIGIN}\n1042\n{}\n", b64(&root)));
    let note = checkpoint.sign(&signer);
    assert!(note.starts_with(&format!("{ORIGIN}\n1042\n{}\n\n\u{2014} {ORIGIN} ", b64(&root))));
    assert!(note.ends_with('\n'));
    assert_eq!(open_checkpoint(&note, &verifier).unwrap(), checkpoint);
    // The independent signer produces the same note (Ed25519 is deterministic).
    assert_eq!(
        independent_sign(ORIGIN, &signer.to_secret_bytes(), &checkpoint.to_body()),
        note
    );
}

#[test]
fn keys_round_trip() {
    let signer = signer(21);
    let again = LogSigner::from_secret_bytes(ORIGIN, &signer.to_secret_bytes()).unwrap();
    assert_eq!(again.vkey(), signer.vkey());
    let from_skey = LogSigner::from_skey(&format!("{}\n", signer.to_skey())).unwrap();
    assert_eq!(from_skey.vkey(), signer.vkey());
    assert!(!format!("{signer:?}").contains(&hex::encode(signer.to_secret_bytes())));
    let vkey = signer.vkey();
    let parts: Vec<&str> = vkey.splitn(3, '+').collect();
    assert_eq!(parts.len(), 3);
    assert_eq!(parts[0], ORIGIN);
    assert_eq!(parts[1].len(), 8);
    assert_eq!(
        base64::engine::general_purpose::STANDARD.decode(parts[2]).unwrap()[0],
        1
    );
}

#[test]
fn bad_vkeys_are_refused() {
    let vkey = signer(22).vkey();
    let parts: Vec<&str> = vkey.splitn(3, '+').collect();
    let other_hash = format!("{}+00000000+{}", parts[0], parts[2]);
    assert_eq!(LogVerifier::from_vkey(&other_hash), Err(NoteError::KeyHashMismatch));
    let renamed = format!("other.example+{}+{}", parts[1], parts[2]);
    assert_eq!(LogVerifier::from_vkey(&renamed), Err(NoteError::KeyHashMismatch));
    for bad in [
        "",
        "name",
        "name+1234abcd",
        &format!("{vkey}+extra"),
        &vkey[..vkey.len() - 4],
        &format!("{}+{}+{}", parts[0], parts[1].to_uppercase(), parts[2]),
        &format!("bad name+{}+{}", parts[1], parts[2]),
    ] {
        assert!(LogVerifier::from_vkey(bad).is_err(), "{bad:?} accepted");
    }
}

#[test]
fn go_note_reference_vector() {
    // golang.org/x/mod/sumdb/note's documented example key and note.
    let skey = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
    let vkey = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    let text = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
    let note = format!(
        "{text}\n\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
    );
    let signer = LogSigner::from_skey(skey).unwrap();
    assert_eq!(signer.to_skey(), skey);
    assert_eq!(signer.vkey(), vkey);
    assert_eq!(signer.sign_note(text).unwrap(), note);
    let verifier = LogVerifier::from_vkey(vkey).unwrap();
    assert_eq!(verifier.open_note(&note).unwrap(), text);
    // Not a checkpoint body, so opening it as one fails on the body, after the signature.
    assert!(matches!(
        open_checkpoint(&note, &verifier.with_origin("x")),
        Err(NoteError::MalformedBody(_))
    ));
}

#[test]
fn other_keys_and_missing_signatures_are_refused() {
    let ours = signer(23);
    let verifier = ours.verifier();
    let checkpoint = Checkpoint::new(ORIGIN, 7, [7; 32]).unwrap();
    // Same name, different key: a different key hash, so not our signature at all.
    let impostor = signer(24);
    assert_eq!(
        open_checkpoint(&checkpoint.sign(&impostor), &verifier),
        Err(NoteError::NoKnownSignature {
            name: ORIGIN.to_owned()
        })
    );
    let stranger = LogSigner::generate("stranger.example/log", &mut rng(25)).unwrap();
    assert_eq!(
        open_checkpoint(&checkpoint.sign(&stranger), &verifier),
        Err(NoteError::NoKnownSignature {
            name: ORIGIN.to_owned()
        })
    );
    // Same name and same key hash but a signature by another key: invalid.
    let good = checkpoint.sign(&ours);
    let forged_blob = {
        let line = checkpoint.sign(&impostor);
        let theirs = base64::engine::general_purpose::STANDARD
            .decode(line.rsplit_once(' ').unwrap().1.trim_end())
            .unwrap();
        let mine = base64::engine::general_purpose::STANDARD
            .decode(good.rsplit_once(' ').unwrap().1.trim_end())
            .unwrap();
        let mut blob = mine[..4].to_vec();
        blob.extend_from_slice(&theirs[4..]);
        blob
    };
    let forged = format!("{}\n\u{2014} {ORIGIN} {}\n", checkpoint.to_body(), b64(&forged_blob));
    assert_eq!(
        open_checkpoint(&forged, &verifier),
        Err(NoteError::InvalidSignature {
            name: ORIGIN.to_owned()
        })
    );
    // No signature lines at all.
    assert_eq!(
        open_checkpoint(&format!("{}\n", checkpoint.to_body()), &verifier),
        Err(NoteError::MalformedSignatureLine { line: 1 })
    );
    assert_eq!(
        open_checkpoint(&checkpoint.to_body(), &verifier),
        Err(NoteError::MissingSignatureBlock)
    );
    // A witness's extra line is skipped; our signature twice is refused.
    let witnessed = format!("{good}\u{2014} witness.example AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n");
    assert_eq!(open_checkpoint(&witnessed, &verifier).unwrap(), checkpoint);
    let ours_line = good.split_once("\n\n").unwrap().1;
    assert_eq!(
        open_checkpoint(&format!("{good}{ours_line}"), &verifier),
        Err(NoteError::DuplicateSignature)
    );
    // Origin is checked against the verifier's expectation.
    assert_eq!(
        open_checkpoint(&good, &verifier.clone().with_origin("danbao.dev/other-log")),
        Err(NoteError::OriginMismatch {
            expected: "danbao.dev/other-log".to_owned(),
            got: ORIGIN.to_owned()
        })
    );
}

#[test]
fn tampered_bodies_are_refused() {
    let signer = signer(26);
    let verifier = signer.verifier();
    let root = [9u8; 32];
    let note = Checkpoint::new(ORIGIN, 500, root).unwrap().sign(&signer);
    let invalid = Err(NoteError::InvalidSignature {
        name: ORIGIN.to_owned(),
    });
    assert_eq!(
        open_checkpoint(&note.replacen("\n500\n", "\n501\n", 1), &verifier),
        invalid
    );
    let other_root = b64(&[8u8; 32]);
    assert_eq!(
        open_checkpoint(&note.replacen(&b64(&root), &other_root, 1), &verifier),
        invalid
    );
    assert_eq!(
        open_checkpoint(&note.replacen(ORIGIN, "danbao.dev/evidence-loG", 1), &verifier),
        invalid
    );
    assert_eq!(
        open_checkpoint(&note.replacen("\n500\n", "\r\n500\n", 1), &verifier),
        Err(NoteError::ControlCharacter)
    );
}

#[test]
fn non_canonical_bodies_are_refused_even_when_signed() {
    let signer = signer(27);
    let secret = signer.to_secret_bytes();
    let verifier = signer.verifier();
    let root = b64(&[5u8; 32]);
    let ok = format!("{ORIGIN}\n12\n{root}\n");
    assert!(open_checkpoint(&independent_sign(ORIGIN, &secret, &ok), &verifier).is_ok());
    let root_no_pad = root.trim_end_matches('=');
    for body in [
        format!("{ORIGIN}\n012\n{root}\n"),
        format!("{ORIGIN}\n+12\n{root}\n"),
        format!("{ORIGIN}\n12 \n{root}\n"),
        format!("{ORIGIN}\n18446744073709551616\n{root}\n"),
        format!("{ORIGIN}\n12\n{root_no_pad}\n"),
        format!("{ORIGIN}\n12\n{}\n", b64(&[5u8; 31])),
        format!("{ORIGIN}\n12\n{root}\nextension line\n"),
        format!("{ORIGIN}\n12\n"),
        format!("\n12\n{root}\n"),
    ] {
        let note = independent_sign(ORIGIN, &secret, &body);
        assert!(
            matches!(open_checkpoint(&note, &verifier), Err(NoteError::MalformedBody(_))),
            "{body:?} accepted"
        );
    }
    assert_eq!(Checkpoint::new("", 1, [0; 32]), Err(NoteError::InvalidOrigin));
    assert_eq!(Checkpoint::new("a\nb", 1, [0; 32]), Err(NoteError::InvalidOrigin));
}
