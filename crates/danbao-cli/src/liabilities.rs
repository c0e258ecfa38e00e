//! `danbao verify-liabilities PROOF --key VKEY`: checks a proof of liabilities offline
//! (issue 16 item 3) — the statement's signature by the log's key, then that the proof's
//! path from the balance's leaf rebuilds the signed root and the signed total — and says
//! what it proved. The proof is the `danbao-liabilities-proof/v1` text, or the JSON the
//! API answers with (`GET /api/v1/orders/{id}/liabilities-proof`), whose every proof is
//! checked.

use crate::dossier::read_vkey;
use anyhow::Context as _;
use danbao_domain::Money;
use danbao_evidence::{verify_proof, LogVerifier, VerifiedLiability};
use std::path::Path;
use std::process::ExitCode;

/// A proof file is a few kilobytes; the API's JSON with two proofs a little more.
const PROOF_FILE_MAX_BYTES: u64 = 256 * 1024;

fn fen(amount: u64) -> String {
    match i64::try_from(amount) {
        Ok(a) => format!("¥{} ({amount} fen)", Money::from_minor(a)),
        Err(_) => format!("{amount} fen"),
    }
}

fn describe(v: &VerifiedLiability) -> String {
    let s = &v.statement;
    let at = i64::try_from(s.as_of_ms).map_or_else(|_| s.as_of_ms.to_string(), danbao_app::clock::rfc3339);
    format!(
        "ok: balance {} of {} is included in liabilities statement #{} (as of {at}), \
         whose signed total is {} over {} balances",
        v.label,
        fen(v.amount),
        s.seq,
        fen(s.total),
        s.leaf_count
    )
}

/// The proof texts in a file: the text itself, or every `proofs[].proof` of the API's JSON.
fn proof_texts(text: &str) -> Result<Vec<String>, String> {
    if !text.trim_start().starts_with('{') {
        return Ok(vec![text.to_string()]);
    }
    let json: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("the file is neither a proof nor the API's JSON: {e}"))?;
    let proofs: Vec<String> = json
        .get("proofs")
        .and_then(|p| p.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|p| p.get("proof").and_then(|t| t.as_str()).map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    if proofs.is_empty() {
        return Err("the API's answer holds no proof (no statement yet, or the order held no money then)".into());
    }
    Ok(proofs)
}

/// Checks every proof in `text`; the lines to print, and whether all verified.
pub fn check(text: &str, verifier: &LogVerifier) -> (Vec<String>, bool) {
    let proofs = match proof_texts(text) {
        Ok(p) => p,
        Err(problem) => return (vec![format!("verification failed: {problem}")], false),
    };
    let mut lines = Vec::new();
    let mut all_ok = true;
    for proof in &proofs {
        match verify_proof(proof, verifier) {
            Ok(v) => lines.push(describe(&v)),
            Err(e) => {
                all_ok = false;
                lines.push(format!("verification failed: {e}"));
            }
        }
    }
    (lines, all_ok)
}

pub fn verify(proof: &Path, key: &str) -> anyhow::Result<ExitCode> {
    let verifier = read_vkey(key)?;
    let size = std::fs::metadata(proof)
        .with_context(|| format!("reading {}", proof.display()))?
        .len();
    if size > PROOF_FILE_MAX_BYTES {
        println!(
            "verification failed: {} is {size} bytes, larger than any proof",
            proof.display()
        );
        return Ok(ExitCode::FAILURE);
    }
    let text = std::fs::read_to_string(proof).with_context(|| format!("reading {}", proof.display()))?;
    let (lines, ok) = check(&text, &verifier);
    for line in lines {
        println!("{line}");
    }
    Ok(if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
