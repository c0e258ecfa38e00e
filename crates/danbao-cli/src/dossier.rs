//! `danbao verify` and `danbao export-dossier`: what a buyer hands to 12315 or a lawyer,
//! and how anyone checks it offline with nothing but the log's public key.

use anyhow::Context;
use danbao_evidence::{
    sha256_hex, verify_cosignatures, verify_receipt, EventRecord, LeafOpening, LogVerifier, OpeningError, Receipt,
    WitnessVerifier,
};
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
    /// The opening of the event's sealed leaf (`danbao-leaf-opening/v2`); none for an
    /// old public (v1) leaf.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opening_file: Option<String>,
}

#[derive(Serialize, Deserialize)]
pub struct DossierFile {
    pub path: String,
    pub sha256: String,
    pub media_type: String,
}

/// The witnesses `danbao verify --witness` requires on a receipt's checkpoint.
pub struct WitnessCheck {
    verifiers: Vec<WitnessVerifier>,
    quorum: usize,
}

impl WitnessCheck {
    /// Keys as vkey text or files holding one; the quorum defaults to all of them.
    pub fn read(keys: &[String], quorum: Option<usize>) -> anyhow::Result<Self> {
        let mut verifiers = Vec::new();
        for key in keys {
            let text = if Path::new(key).is_file() {
                std::fs::read_to_string(key).with_context(|| format!("reading the key file {key}"))?
            } else {
                key.clone()
            };
            verifiers.push(
                WitnessVerifier::from_vkey(text.trim())
                    .map_err(|e| anyhow::anyhow!("--witness {key}: not a cosignature vkey: {e}"))?,
            );
        }
        let quorum = quorum.unwrap_or(verifiers.len());
        if quorum > verifiers.len() || (quorum == 0 && !verifiers.is_empty()) {
            anyhow::bail!(
                "--witness-quorum {quorum}: must be between 1 and the {} --witness keys",
                verifiers.len()
            );
        }
        Ok(Self { verifiers, quorum })
    }

    /// No witness was asked for: a checkpoint stands on the log's signature alone.
    pub fn is_empty(&self) -> bool {
        self.verifiers.is_empty()
    }

    /// The witnesses that cosigned the receipt's checkpoint (with when), or why not enough.
    fn check(&self, receipt_text: &str) -> Result<Vec<(String, u64)>, String> {
        let receipt = Receipt::parse(receipt_text).map_err(|e| e.to_string())?;
        self.check_checkpoint(&receipt.checkpoint_note)
    }

    /// The witnesses that cosigned a checkpoint note (with when), or why not enough.
    pub fn check_checkpoint(&self, note: &str) -> Result<Vec<(String, u64)>, String> {
        verify_cosignatures(note, &self.verifiers, self.quorum).map_err(|e| format!("witnesses: {e}"))
    }
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

/// What a leaf says about its event, given its opening if it has one; the error is the
/// sentence `danbao verify` prints.
fn event_of(leaf: &danbao_evidence::Leaf, opening: Option<&LeafOpening>) -> Result<EventRecord, String> {
    leaf.event(opening).map_err(|e| match e {
        OpeningError::Mismatch => {
            "the opening does not match the leaf's commitment (it was altered, or belongs to another leaf)".to_string()
        }
        OpeningError::Sealed => "the leaf is sealed and no opening was given for it".to_string(),
        other => other.to_string(),
    })
}

fn read_opening(path: &Path) -> anyhow::Result<Result<LeafOpening, String>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(LeafOpening::parse(&text).map_err(|e| format!("the opening {} does not parse: {e}", path.display())))
}

/// `danbao verify RECEIPT|DOSSIER_DIR --key VKEY [--opening O] [--file F]`.
pub fn verify(
    target: &Path,
    key: &str,
    opening: Option<&Path>,
    file: Option<&Path>,
    witnesses: &WitnessCheck,
) -> anyhow::Result<ExitCode> {
    let verifier = read_vkey(key)?;
    if target.is_dir() {
        return verify_dossier(target, &verifier, witnesses);
    }
    let text = std::fs::read_to_string(target).with_context(|| format!("reading {}", target.display()))?;
    let verified = match verify_receipt(&text, &verifier) {
        Ok(v) => v,
        Err(e) => {
            println!("verification failed: {e}");
            return Ok(ExitCode::FAILURE);
        }
    };
    let cosigned = if witnesses.verifiers.is_empty() {
        Vec::new()
    } else {
        match witnesses.check(&text) {
            Ok(c) => c,
            Err(problem) => {
                println!("verification failed: {problem}");
                return Ok(ExitCode::FAILURE);
            }
        }
    };
    let opening = match opening.map(read_opening).transpose()? {
        None => None,
        Some(Ok(o)) => Some(o),
        Some(Err(problem)) => {
            println!("verification failed: {problem}");
            return Ok(ExitCode::FAILURE);
        }
    };
    let event = match (&verified.leaf, &opening) {
        // A sealed leaf with no opening: inclusion is all a receipt alone proves.
        (danbao_evidence::Leaf::V2(_), None) => None,
        (leaf, opening) => match event_of(leaf, opening.as_ref()) {
            Ok(e) => Some(e),
            Err(problem) => {
                println!("verification failed: {problem}");
                return Ok(ExitCode::FAILURE);
            }
        },
    };
    if let Some(f) = file {
        let Some(event) = &event else {
            println!("verification failed: the leaf is sealed; give its --opening to check a --file against it");
            return Ok(ExitCode::FAILURE);
        };
        let bytes = std::fs::read(f).with_context(|| format!("reading {}", f.display()))?;
        let sha = sha256_hex(&bytes);
        // The leaf commits to the content itself, or (evidence files) to the file's hash.
        if sha != event.content_sha256() && event.refs().get("file_sha256") != Some(&sha) {
            println!(
                "verification failed: the file {} does not match the receipt (its SHA-256 is {sha}, the leaf commits to {})",
                f.display(),
                event.content_sha256()
            );
            return Ok(ExitCode::FAILURE);
        }
    }
    match &event {
        Some(e) => println!(
            "ok: leaf {} ({} of {}) is in the log {} of size {}, signed by {}",
            verified.index,
            e.kind(),
            e.case(),
            verified.checkpoint.origin(),
            verified.checkpoint.size(),
            verifier.name()
        ),
        None => println!(
            "ok: leaf {} (sealed) is in the log {} of size {}, signed by {}",
            verified.index,
            verified.checkpoint.origin(),
            verified.checkpoint.size(),
            verifier.name()
        ),
    }
    match (&event, &opening) {
        (Some(e), Some(_)) => println!(
            "ok: the opening matches the leaf: it records {} of {} at {}, content SHA-256 {}, after leaf {}",
            e.kind(),
            e.case(),
            danbao_app::clock::rfc3339(e.at_ms()),
            e.content_sha256(),
            e.prev_leaf_hash().unwrap_or("none (the case's first)")
        ),
        (None, _) => println!(
            "note: the leaf is sealed: the receipt proves only that this commitment is in the log; \
             give --opening (from the order's timeline or a dossier) to prove what it records"
        ),
        (Some(_), None) => {}
    }
    if file.is_some() {
        println!("ok: the file matches the leaf's content hash");
    }
    for (name, at) in &cosigned {
        println!(
            "ok: the checkpoint is cosigned by witness {name} at {}",
            danbao_app::clock::rfc3339(i64::try_from(*at).unwrap_or(i64::MAX / 1000).saturating_mul(1000))
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn verify_dossier(dir: &Path, verifier: &LogVerifier, witnesses: &WitnessCheck) -> anyhow::Result<ExitCode> {
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
        let opening = match &e.opening_file {
            None => Ok(None),
            Some(path) => read_opening(&dir.join(path))?.map(Some),
        };
        let cosigned = match witnesses.verifiers.is_empty() {
            true => Ok(Vec::new()),
            false => witnesses.check(&receipt_text),
        };
        let problem = match (verify_receipt(&receipt_text, verifier), opening) {
            (Err(err), _) => Some(format!("receipt: {err}")),
            (Ok(_), _) if cosigned.is_err() => cosigned.clone().err(),
            (Ok(_), Err(problem)) => Some(problem),
            (Ok(v), Ok(opening)) => match event_of(&v.leaf, opening.as_ref()) {
                Err(problem) => Some(problem),
                Ok(event) if event.content_sha256() != sha256_hex(e.detail_json.as_bytes()) => {
                    Some("the event's details do not match what the log committed to".to_string())
                }
                Ok(event) if event.case() != d.case => Some(format!(
                    "the leaf belongs to {}, not to this dossier's case",
                    event.case()
                )),
                Ok(event) if event.prev_leaf_hash() != prev.as_deref() => {
                    Some("the chain is broken: an event before this one is missing or altered".to_string())
                }
                Ok(_) => {
                    prev = Some(hex::encode(v.leaf_hash));
                    None
                }
            },
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
    pub opening: Option<String>,
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
        let opening_file = match &e.opening {
            Some(opening) => {
                let path = format!("receipts/{:04}-{}.opening.txt", e.seq, e.kind);
                std::fs::write(out.join(&path), opening)?;
                Some(path)
            }
            None => None,
        };
        events.push(DossierEvent {
            seq: e.seq,
            kind: e.kind.clone(),
            at: e.at.clone(),
            detail_json: e.content.clone(),
            receipt_file: name,
            opening_file,
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
             evidence log under a checkpoint signed by the log's key, and the opening that shows what its\n\
             sealed leaf records (keep the openings private: they name the order); files are named by their SHA-256.\n\
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
            opening: e.opening.clone(),
        });
    }
    write_bundle(out, case, vkey, &checkpoint, &items, &[], now)
}
