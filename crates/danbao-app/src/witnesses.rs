//! Witnesses (issue 16 item 2, c2sp.org/tlog-witness): when configured, every checkpoint the
//! log signs is sent to each witness with a consistency proof from the size that witness
//! last cosigned; the checkpoint is *published* (served at `/checkpoint`, `/api/v1/evidence/
//! checkpoint`, carried by receipts) only once at least `quorum` of them cosigned it. A
//! witness that refuses (a fork, a rollback) keeps the platform from publishing that view.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use danbao_evidence::{add_signature_lines, consistency_proof, AddCheckpoint, WitnessVerifier};

use crate::{App, AppError, AppResult};

/// One witness: where its add-checkpoint endpoint is and the key its cosignatures use.
#[derive(Debug, Clone)]
pub struct Witness {
    /// The submission prefix: requests go to `<url>/add-checkpoint`.
    pub url: String,
    pub verifier: WitnessVerifier,
}

/// The witnesses a checkpoint needs before it is published.
#[derive(Debug, Clone)]
pub struct WitnessPolicy {
    pub witnesses: Vec<Witness>,
    /// How many distinct witnesses must cosign (1 ≤ quorum ≤ witnesses).
    pub quorum: usize,
}

impl WitnessPolicy {
    /// Parses `URL=VKEY` pairs (the `--witness` flag) and the quorum (default: all).
    pub fn parse(pairs: &[String], quorum: Option<usize>) -> Result<Option<Self>, String> {
        if pairs.is_empty() {
            return match quorum {
                Some(_) => Err("--witness-quorum needs at least one --witness URL=VKEY".into()),
                None => Ok(None),
            };
        }
        let mut witnesses = Vec::new();
        for pair in pairs {
            let (url, vkey) = pair
                .split_once('=')
                .ok_or_else(|| format!("--witness {pair:?}: expected URL=VKEY"))?;
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(format!("--witness {pair:?}: the URL must be http:// or https://"));
            }
            let verifier = WitnessVerifier::from_vkey(vkey).map_err(|e| format!("--witness {pair:?}: {e}"))?;
            if witnesses.iter().any(|w: &Witness| w.verifier.name() == verifier.name()) {
                return Err(format!(
                    "--witness {pair:?}: a witness named {} is listed twice",
                    verifier.name()
                ));
            }
            witnesses.push(Witness {
                url: url.trim_end_matches('/').to_string(),
                verifier,
            });
        }
        let quorum = quorum.unwrap_or(witnesses.len());
        if quorum == 0 || quorum > witnesses.len() {
            return Err(format!(
                "--witness-quorum {quorum}: must be between 1 and the {} witnesses listed",
                witnesses.len()
            ));
        }
        Ok(Some(Self { witnesses, quorum }))
    }

    pub fn verifiers(&self) -> Vec<WitnessVerifier> {
        self.witnesses.iter().map(|w| w.verifier.clone()).collect()
    }
}

/// A witness that refused a size is not asked about that size again for this long (the
/// log's clock): a refusing or unreachable witness is not hammered every job round.
pub const RETRY_REFUSED_MS: i64 = 60_000;

/// What this process knows of each witness: the size it last cosigned (learnt from its
/// answers, a 409 included), and its last refusal (size, when, why), so a witness that
/// keeps refusing the same checkpoint is one security event and one request a minute.
#[derive(Debug, Default)]
pub struct WitnessMemory {
    sizes: Mutex<HashMap<String, u64>>,
    refusals: Mutex<HashMap<String, (u64, i64, String)>>,
}

fn locked<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

impl WitnessMemory {
    fn size(&self, name: &str) -> u64 {
        locked(&self.sizes).get(name).copied().unwrap_or(0)
    }
    fn set_size(&self, name: &str, size: u64) {
        locked(&self.sizes).insert(name.to_string(), size);
        locked(&self.refusals).remove(name);
    }
    /// Why the witness refused `size` less than [`RETRY_REFUSED_MS`] ago, if it did.
    fn recent_refusal(&self, name: &str, size: u64, now: i64) -> Option<String> {
        locked(&self.refusals)
            .get(name)
            .filter(|(s, at, _)| *s == size && now.saturating_sub(*at) < RETRY_REFUSED_MS)
            .map(|(_, _, why)| why.clone())
    }
    /// Remembers a refusal; true when it is news (not the same size and reason as before).
    fn record_refusal(&self, name: &str, size: u64, now: i64, why: &str) -> bool {
        let mut m = locked(&self.refusals);
        let news = m.get(name).is_none_or(|(s, _, w)| *s != size || w != why);
        m.insert(name.to_string(), (size, now, why.to_string()));
        news
    }
}

/// How one witness answered.
enum Answer {
    Cosigned(String),
    Refused(String),
    /// Not asked: it refused this size moments ago.
    Held,
}

fn internal(e: impl std::fmt::Display) -> AppError {
    AppError::Internal(e.to_string())
}

impl App {
    /// Makes checkpoints wait for `policy`'s witnesses before they are published.
    pub fn set_witnesses(&self, policy: Option<WitnessPolicy>) {
        match self.witness_policy.write() {
            Ok(mut p) => *p = policy,
            Err(poisoned) => *poisoned.into_inner() = policy,
        }
    }

    pub fn witness_policy(&self) -> Option<WitnessPolicy> {
        match self.witness_policy.read() {
            Ok(p) => p.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// The published checkpoint (size and note): with witnesses, the latest cosigned by the
    /// quorum; without, the latest the log signed.
    pub(crate) async fn published_checkpoint(&self, tx: &mut danbao_store::Tx) -> AppResult<Option<(i64, String)>> {
        if self.witness_policy().is_some() {
            return Ok(tx.latest_witnessed_checkpoint().await?);
        }
        Ok(tx.latest_evidence_checkpoint().await?.map(|c| (c.size, c.note)))
    }

    /// Sends the latest signed checkpoint to the witnesses if it is newer than the latest
    /// published one, and publishes it with their cosignatures once the quorum signed.
    pub(crate) async fn witness_latest_checkpoint(&self) -> AppResult<()> {
        let Some(policy) = self.witness_policy() else {
            return Ok(());
        };
        let mut tx = self.store.begin().await?;
        let latest = tx.latest_evidence_checkpoint().await?;
        let published = tx.latest_witnessed_checkpoint().await?.map_or(0, |(s, _)| s);
        tx.commit().await?;
        let Some(latest) = latest else { return Ok(()) };
        if latest.size <= published {
            return Ok(());
        }
        let size = u64::try_from(latest.size).map_err(internal)?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .map_err(internal)?;
        let started = self.now();
        let answers = futures::future::join_all(policy.witnesses.iter().map(|w| async {
            match self.witness_memory.recent_refusal(w.verifier.name(), size, started) {
                Some(_) => Ok(Answer::Held),
                None => self.ask_witness(&http, w, size, &latest.note).await,
            }
        }))
        .await;
        let mut lines = Vec::new();
        let mut refusals = Vec::new();
        let mut held = 0;
        for (w, answer) in policy.witnesses.iter().zip(answers) {
            match answer {
                Ok(Answer::Cosigned(line)) => lines.push(line),
                Ok(Answer::Refused(why)) => refusals.push((w.verifier.name().to_string(), why)),
                Ok(Answer::Held) => held += 1,
                Err(e) => refusals.push((w.verifier.name().to_string(), format!("unreachable: {e}"))),
            }
        }
        if lines.is_empty() && refusals.is_empty() && held > 0 {
            // Every witness refused this size a moment ago: nothing to write.
            return Ok(());
        }
        let now = self.now();
        let mut tx = self.store.begin().await?;
        for (name, why) in &refusals {
            tracing::warn!(witness = %name, size, "witness did not cosign: {why}");
            if self.witness_memory.record_refusal(name, size, now, why) {
                let detail = serde_json::json!({"witness": name, "size": size, "refusal": why});
                tx.insert_security_event("witness_refused", &detail.to_string(), now)
                    .await?;
            }
        }
        if lines.len() >= policy.quorum {
            let note = add_signature_lines(&latest.note, &lines);
            tx.insert_witnessed_checkpoint(latest.size, &note, i64::try_from(lines.len()).map_err(internal)?, now)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// One witness, up to three rounds: a 409 tells the size it holds, and the request is
    /// made again from there.
    async fn ask_witness(&self, http: &reqwest::Client, w: &Witness, size: u64, note: &str) -> AppResult<Answer> {
        let name = w.verifier.name();
        let url = format!("{}/add-checkpoint", w.url);
        for _ in 0..3 {
            let old = self.witness_memory.size(name);
            if old > size {
                return Ok(Answer::Refused(format!(
                    "the witness holds size {old}, above the log's {size}: the log went back or forked"
                )));
            }
            let proof = if old == 0 {
                Vec::new()
            } else {
                let mut tx = self.store.begin().await?;
                let proof = crate::evidence::with_nodes(&mut tx, |r| consistency_proof(r, old, size)).await?;
                tx.commit().await?;
                proof
            };
            let body = AddCheckpoint {
                old_size: old,
                proof,
                checkpoint: note.to_string(),
            }
            .to_text();
            let response = match http.post(&url).body(body).send().await {
                Ok(r) => r,
                Err(e) => return Ok(Answer::Refused(format!("unreachable: {e}"))),
            };
            let status = response.status().as_u16();
            let text = response.text().await.unwrap_or_default();
            match status {
                200 => {
                    // Keep only this witness's own, verified line.
                    let line = text.lines().map(|l| format!("{l}\n")).find(|l| {
                        w.verifier
                            .verify(&add_signature_lines(note, std::slice::from_ref(l)))
                            .is_ok()
                    });
                    return Ok(match line {
                        Some(line) => {
                            self.witness_memory.set_size(name, size);
                            Answer::Cosigned(line)
                        }
                        None => Answer::Refused("answered 200 without a valid cosignature".into()),
                    });
                }
                409 => match text.trim().parse::<u64>() {
                    Ok(held) => self.witness_memory.set_size(name, held),
                    Err(_) => return Ok(Answer::Refused(format!("409 without a size: {}", text.trim()))),
                },
                _ => return Ok(Answer::Refused(format!("HTTP {status}: {}", text.trim()))),
            }
        }
        Ok(Answer::Refused("the witness kept answering 409".into()))
    }
}
