//! The witness behind `danbao witness`: a transparency-log witness (c2sp.org/tlog-witness) run as its own party
//! with its own key. It follows the logs whose keys it is given, cosigns (c2sp.org/
//! tlog-cosignature, Ed25519 `cosignature/v1`) each checkpoint that is consistent with the
//! last one it cosigned, and refuses a fork or a rollback. What it cosigned is kept per log
//! under DIR and written to disk before it answers, so a restart cannot be made to sign an
//! older or different tree.
//!
//! - `POST /add-checkpoint`: the tlog-witness request; 200 with the cosignature line, or
//!   400/403/404/409/422 as the spec gives them (409 with the size it holds).
//! - `GET /<SHA-256 of the origin, hex>/checkpoint`: the latest checkpoint it cosigned.

use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use danbao_evidence::{
    add_checkpoint, add_signature_lines, open_checkpoint, LogVerifier, WitnessSigner, WitnessedTree,
};
use sha2::{Digest, Sha256};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Bodies are a checkpoint and at most 63 hashes: a few KiB.
const MAX_BODY: usize = 64 * 1024;

/// A witness: its key, the logs it follows, where it keeps what it cosigned.
pub struct Witness {
    signer: WitnessSigner,
    logs: Vec<LogVerifier>,
    dir: PathBuf,
    /// One request at a time: the check against the stored size and the write of the new
    /// one are one step (the spec's rollback race).
    lock: tokio::sync::Mutex<()>,
}

fn origin_hash(origin: &str) -> String {
    hex::encode(Sha256::digest(origin.as_bytes()))
}

impl Witness {
    fn state_path(&self, origin: &str) -> PathBuf {
        self.dir.join("logs").join(origin_hash(origin))
    }

    /// The cosigned note kept for a log, and the tree it names.
    fn latest(&self, log: &LogVerifier) -> Result<Option<(String, WitnessedTree)>, String> {
        let path = self.state_path(log.origin());
        let note = match std::fs::read_to_string(&path) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("reading {}: {e}", path.display())),
        };
        let c = open_checkpoint(&note, log).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(Some((
            note,
            WitnessedTree {
                size: c.size(),
                root: *c.root(),
            },
        )))
    }

    /// Write, flush to disk, then rename over the old state: never half a state.
    fn persist(&self, origin: &str, note: &str) -> std::io::Result<()> {
        let path = self.state_path(origin);
        let dir = path.parent().unwrap_or(&self.dir);
        std::fs::create_dir_all(dir)?;
        let tmp = path.with_extension("tmp");
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(note.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, &path)?;
        std::fs::File::open(dir)?.sync_all()?;
        Ok(())
    }
}

fn text(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], body).into_response()
}

async fn add(State(w): State<Arc<Witness>>, body: Bytes) -> Response {
    let Ok(body) = std::str::from_utf8(&body) else {
        return text(StatusCode::BAD_REQUEST, "the body is not UTF-8\n".into());
    };
    let _turn = w.lock.lock().await;
    let mut stored = Ok(None);
    let decided = add_checkpoint(body, &w.logs, |origin| {
        let log = w.logs.iter().find(|l| l.origin() == origin)?;
        stored = w.latest(log);
        stored.as_ref().ok().and_then(|s| s.as_ref().map(|(_, t)| t.clone()))
    });
    if let Err(e) = stored {
        eprintln!("witness: {e}");
        return text(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the witness cannot read its state\n".into(),
        );
    }
    let (log, accepted) = match decided {
        Ok(ok) => ok,
        Err(refusal) => {
            let origin = danbao_evidence::note_origin(body.split_once("\n\n").map_or("", |(_, n)| n));
            eprintln!(
                "witness: refused a checkpoint of {}: {refusal} (HTTP {})",
                origin.unwrap_or("?"),
                refusal.status()
            );
            let status = StatusCode::from_u16(refusal.status()).unwrap_or(StatusCode::BAD_REQUEST);
            if let danbao_evidence::WitnessRefusal::Conflict { latest, .. } = refusal {
                return (
                    status,
                    [(header::CONTENT_TYPE, "text/x.tlog.size")],
                    format!("{latest}\n"),
                )
                    .into_response();
            }
            return text(status, format!("{refusal}\n"));
        }
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_secs());
    let line = w.signer.cosign(&accepted.body, now);
    let kept = add_signature_lines(&accepted.note, std::slice::from_ref(&line));
    if let Err(e) = w.persist(log.origin(), &kept) {
        eprintln!("witness: could not keep the new state: {e}");
        return text(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the witness cannot keep its state\n".into(),
        );
    }
    eprintln!(
        "witness: cosigned {} at size {}",
        log.origin(),
        accepted.checkpoint.size()
    );
    text(StatusCode::OK, line)
}

async fn checkpoint(State(w): State<Arc<Witness>>, UrlPath(hash): UrlPath<String>) -> Response {
    let Some(log) = w.logs.iter().find(|l| origin_hash(l.origin()) == hash) else {
        return text(StatusCode::NOT_FOUND, "unknown log\n".into());
    };
    match w.latest(log) {
        Ok(Some((note, _))) => text(StatusCode::OK, note),
        Ok(None) => text(StatusCode::NOT_FOUND, "nothing cosigned for this log yet\n".into()),
        Err(e) => {
            eprintln!("witness: {e}");
            text(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the witness cannot read its state\n".into(),
            )
        }
    }
}

/// Loads the witness key from DIR/witness.key, making one named `name` the first time.
fn load_or_make_key(dir: &Path, name: &str) -> Result<WitnessSigner, String> {
    danbao_app::vault::create_private_dir(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let path = dir.join("witness.key");
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let signer = WitnessSigner::from_skey(&text).map_err(|e| format!("{}: {e}", path.display()))?;
            if signer.name() != name {
                return Err(format!(
                    "{} holds the key of witness {:?}, not {name:?}",
                    path.display(),
                    signer.name()
                ));
            }
            Ok(signer)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let signer = WitnessSigner::generate(name, &mut rand::rngs::OsRng)
                .map_err(|e| format!("witness name {name:?}: {e}"))?;
            danbao_app::vault::create_private_file(&path, signer.to_skey().as_bytes())
                .map_err(|e| format!("writing {}: {e}", path.display()))?;
            Ok(signer)
        }
        Err(e) => Err(format!("reading {}: {e}", path.display())),
    }
}

impl Witness {
    /// Opens (or makes, the first time) the witness kept in `dir`, following `logs`.
    pub fn open(dir: &Path, name: &str, logs: Vec<LogVerifier>) -> Result<Arc<Witness>, String> {
        let signer = load_or_make_key(dir, name)?;
        for (i, log) in logs.iter().enumerate() {
            if logs[..i].iter().any(|o| o.origin() == log.origin()) {
                return Err(format!("two keys for the log {}", log.origin()));
            }
        }
        Ok(Arc::new(Witness {
            signer,
            logs,
            dir: dir.to_path_buf(),
            lock: tokio::sync::Mutex::new(()),
        }))
    }

    pub fn name(&self) -> &str {
        self.signer.name()
    }

    /// The witness's cosignature verifier key.
    pub fn vkey(&self) -> String {
        self.signer.vkey()
    }

    pub fn logs(&self) -> &[LogVerifier] {
        &self.logs
    }
}

/// The witness's HTTP interface (tlog-witness `add-checkpoint` and the monitors' checkpoint).
pub fn router(witness: Arc<Witness>) -> axum::Router {
    axum::Router::new()
        .route("/add-checkpoint", post(add))
        .route("/{hash}/checkpoint", get(checkpoint))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .with_state(witness)
}

/// Serves the witness on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    witness: Arc<Witness>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(witness))
        .with_graceful_shutdown(shutdown)
        .await
}
