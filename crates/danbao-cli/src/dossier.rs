//! `danbao verify` and `danbao export-dossier`: what a buyer hands to 12315 or a lawyer,
//! and how anyone checks it offline with nothing but the log's public key.

use anyhow::Context;
use danbao_evidence::{sha256_hex, verify_receipt, LogVerifier, Receipt};
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::process::ExitCode;

pub const DOSSIER_FORMAT: &str = "danbao-dossier/v1";

#[derive(Serialize, Deserialize)]
pub struct Dossier {
    pub format: String,
    pub case: String,
    pub exported_at: String,
    pub log: String,
    pub vkey: String,
    pub checkpoint: String,
    pub events: Vec<DossierEvent>,
    #[serde(default)]
    pub files: Vec<DossierFile>,
}

#[derive(Serialize, Deserialize)]
pub struct DossierEvent {
    pub seq: i64,
    pub kind: String,
    pub at: String,
    /// The exact text the leaf commits to (its SHA-256 is the leaf's content hash).
    pub detail_json: String,
    pub receipt_file: String,
}

#[derive(Serialize, Deserialize)]
pub struct DossierFile {
    pub path: String,
    pub sha256: String,
    pub media_type: String,
}

/// Reads a verifier key given as vkey text or as a file holding it.
pub fn read_vkey(arg: &str) -> anyhow::Result<LogVerifier> {
    let text = if Path::new(arg).is_file() {
        std::fs::read_to_string(arg).with_context(|| format!("reading the key file {arg}"))?
    } else {
        arg.to_string()
    };
    LogVerifier::from_vkey(text.trim()).map_err(|e| anyhow::anyhow!("the key is not a signed-note vkey: {e}"))
}

/// `danbao verify RECEIPT|DOSSIER_DIR --key VKEY [--file F]`.
pub fn verify(target: &Path, key: &str, file: Option<&Path>) -> anyhow::Result<ExitCode> {
    let verifier = read_vkey(key)?;
    if target.is_dir() {
        return verify_dossier(target, &verifier);
    }
    let text = std::fs::read_to_string(target).with_context(|| format!("reading {}", target.display()))?;
    let verified = match verify_receipt(&text, &verifier) {
        Ok(v) => v,
        Err(e) => {
            println!("verification failed: {e}");
            return Ok(ExitCode::FAILURE);
        }
    };
    if let Some(f) = file {
        let bytes = std::fs::read(f).with_context(|| format!("reading {}", f.display()))?;
        if sha256_hex(&bytes) != verified.leaf.content_sha256() {
            println!(
                "verification failed: the file {} does not match the receipt (its SHA-256 is {}, the leaf commits to {})",
                f.display(),
                sha256_hex(&bytes),
                verified.leaf.content_sha256()
            );
            return Ok(ExitCode::FAILURE);
        }
    }
    println!(
        "ok: leaf {} ({} of {}) is in the log {} of size {}, signed by {}",
        verified.index,
        verified.leaf.kind(),
        verified.leaf.case(),
        verified.checkpoint.origin(),
        verified.checkpoint.size(),
        verifier.name()
    );
    if file.is_some() {
        println!("ok: the file matches the leaf's content hash");
    }
    Ok(ExitCode::SUCCESS)
}

fn verify_dossier(dir: &Path, verifier: &LogVerifier) -> anyhow::Result<ExitCode> {
    let raw = std::fs::read_to_string(dir.join("dossier.json")).context("reading dossier.json")?;
    let d: Dossier = serde_json::from_str(&raw).context("dossier.json is not a dossier")?;
    if d.format != DOSSIER_FORMAT {
        println!("verification failed: unknown dossier format {:?}", d.format);
        return Ok(ExitCode::FAILURE);
    }
    if d.vkey.trim() != verifier.to_vkey() {
        println!(
            "note: the dossier names the key {}; checking against the key you gave",
            d.vkey.trim()
        );
    }
    let mut failures = 0;
    let mut prev: Option<String> = None;
    for e in &d.events {
        let receipt_text = std::fs::read_to_string(dir.join(&e.receipt_file))
            .with_context(|| format!("reading {}", e.receipt_file))?;
        let problem = match verify_receipt(&receipt_text, verifier) {
            Err(err) => Some(format!("receipt: {err}")),
            Ok(v) if v.leaf.content_sha256() != sha256_hex(e.detail_json.as_bytes()) => {
                Some("the event's details do not match what the log committed to".to_string())
            }
            Ok(v) if v.leaf.prev_leaf_hash() != prev.as_deref() => {
                Some("the chain is broken: an event before this one is missing or altered".to_string())
            }
            Ok(v) => {
                prev = Some(hex::encode(v.leaf_hash));
                None
            }
        };
        if problem.is_some() {
            // Keep chaining from what the receipt says, so one bad event is one failure.
            if let Ok(r) = Receipt::parse(&receipt_text) {
                prev = Some(r.leaf.leaf_hash_hex());
            }
        }
        match problem {
            None => println!("ok   #{} {} at {}", e.seq, e.kind, e.at),
            Some(p) => {
                failures += 1;
                println!("FAIL #{} {} at {}: {p}", e.seq, e.kind, e.at);
            }
        }
    }
    for f in &d.files {
        let bytes = std::fs::read(dir.join(&f.path)).with_context(|| format!("reading {}", f.path))?;
        if sha256_hex(&bytes) == f.sha256 {
            println!("ok   file {} ({})", f.path, f.media_type);
        } else {
            failures += 1;
            println!("FAIL file {}: its SHA-256 is not {}", f.path, f.sha256);
        }
    }
    if failures == 0 {
        println!(
            "dossier ok: {} events of {} verify against {}",
            d.events.len(),
            d.case,
            verifier.name()
        );
        Ok(ExitCode::SUCCESS)
    } else {
        println!("dossier verification failed: {failures} problem(s)");
        Ok(ExitCode::FAILURE)
    }
}

/// One entry of a bundle: what the leaf committed to, and its receipt.
pub struct BundleItem {
    pub seq: i64,
    pub kind: String,
    pub at: String,
    pub content: String,
    pub receipt: String,
}

/// Writes a bundle: every leaf with its receipt, the files, the checkpoint and the key.
pub fn write_bundle(
    out: &Path,
    case: &str,
    vkey: &str,
    checkpoint: &str,
    items: &[BundleItem],
    files: &[(String, String, Vec<u8>)],
    now: &str,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(out.join("receipts")).with_context(|| format!("creating {}", out.display()))?;
    let mut events = Vec::new();
    for e in items {
        let name = format!("receipts/{:04}-{}.txt", e.seq, e.kind);
        std::fs::write(out.join(&name), &e.receipt)?;
        events.push(DossierEvent {
            seq: e.seq,
            kind: e.kind.clone(),
            at: e.at.clone(),
            detail_json: e.content.clone(),
            receipt_file: name,
        });
    }
    let mut listed = Vec::new();
    if !files.is_empty() {
        std::fs::create_dir_all(out.join("files"))?;
    }
    for (sha, media_type, bytes) in files {
        let path = format!("files/{sha}");
        std::fs::write(out.join(&path), bytes)?;
        listed.push(DossierFile {
            path,
            sha256: sha.clone(),
            media_type: media_type.clone(),
        });
    }
    std::fs::write(out.join("checkpoint.txt"), checkpoint)?;
    std::fs::write(out.join("key.vkey"), format!("{vkey}\n"))?;
    let d = Dossier {
        format: DOSSIER_FORMAT.to_string(),
        case: case.to_string(),
        exported_at: now.to_string(),
        log: danbao_app::evidence::LOG_NAME.to_string(),
        vkey: vkey.to_string(),
        checkpoint: checkpoint.to_string(),
        events,
        files: listed,
    };
    std::fs::write(out.join("dossier.json"), serde_json::to_string_pretty(&d)?)?;
    std::fs::write(
        out.join("README.txt"),
        format!(
            "Danbao dossier for {case}.\n\nEvery entry carries a receipt (c2sp.org/tlog-proof@v1) proving it is in the\n\
             evidence log under a checkpoint signed by the log's key; files are named by their SHA-256.\n\
             Check it offline:\n\n    danbao verify {} --key key.vkey\n\n\
             (better: --key with the key you got from the platform yourself, not the copy in this folder)\n",
            out.display()
        ),
    )?;
    Ok(())
}

/// Writes the bundle for one order.
pub fn write_dossier(
    out: &Path,
    case: &str,
    vkey: &str,
    timeline: &danbao_app::evidence::Timeline,
    now: &str,
) -> anyhow::Result<()> {
    let checkpoint = timeline
        .checkpoint
        .clone()
        .ok_or_else(|| anyhow::anyhow!("the evidence log has no checkpoint yet"))?;
    let mut items = Vec::new();
    for e in &timeline.events {
        let receipt = e.receipt.clone().ok_or_else(|| {
            anyhow::anyhow!(
                "event #{} has no receipt: {}",
                e.seq,
                e.problem.clone().unwrap_or_default()
            )
        })?;
        items.push(BundleItem {
            seq: e.seq,
            kind: e.kind.clone(),
            at: e.at.clone(),
            content: e.detail_json.clone(),
            receipt,
        });
    }
    write_bundle(out, case, vkey, &checkpoint, &items, &[], now)
}
