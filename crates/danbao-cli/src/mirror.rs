//! `danbao mirror URL DIR`: follows a log served as C2SP tlog-tiles, checks that each new
//! checkpoint is signed by the log's key and consistent with the last one this mirror kept,
//! and keeps the level-0 hash tiles, the entry bundles and the checkpoint under DIR in the
//! same paths, so DIR can be served as a static mirror of the log's leaves.
//!
//! Consistency is checked the plain way: the new tree is rebuilt from every leaf hash
//! (each one checked against its entry), and the old root must be the root of its first
//! `old size` leaves. A log that rewrote or dropped a leaf, forked, or went back in size
//! fails here.

use crate::dossier::read_vkey;
use anyhow::{bail, Context};
use danbao_evidence::{leaf_hash, open_checkpoint, root_from_leaves, Hash};
use std::path::Path;
use std::process::ExitCode;

const TILE_WIDTH: u64 = 256;

/// The path of tile `index` under `/tile/<prefix>/`, with `.p/<width>` when partial.
fn tile_path(prefix: &str, index: u64, width: u64) -> String {
    let digits = format!("{index:03}");
    // Groups of three from the right, all but the last prefixed `x`.
    let mut groups: Vec<String> = Vec::new();
    let mut rest = digits.as_str();
    while rest.len() > 3 {
        let (head, tail) = rest.split_at(rest.len() - 3);
        groups.push(tail.to_string());
        rest = head;
    }
    groups.push(format!("{rest:0>3}"));
    groups.reverse();
    let n = groups.len();
    let mut path = format!("tile/{prefix}");
    for (i, g) in groups.iter().enumerate() {
        if i + 1 < n {
            path.push_str(&format!("/x{g}"));
        } else {
            path.push_str(&format!("/{g}"));
        }
    }
    if width < TILE_WIDTH {
        path.push_str(&format!(".p/{width}"));
    }
    path
}

async fn fetch(http: &reqwest::Client, url: &str) -> anyhow::Result<Vec<u8>> {
    let r = http.get(url).send().await.with_context(|| format!("fetching {url}"))?;
    if !r.status().is_success() {
        bail!("{url}: {}", r.status());
    }
    Ok(r.bytes().await?.to_vec())
}

/// One round: fetch, check, keep. Returns the new size and the size it was checked against.
pub async fn mirror_once(url: &str, dir: &Path, key: &str) -> anyhow::Result<(u64, Option<u64>)> {
    let verifier = read_vkey(key)?;
    let base = url.trim_end_matches('/');
    let http = reqwest::Client::new();
    let note =
        String::from_utf8(fetch(&http, &format!("{base}/checkpoint")).await?).context("the checkpoint is not text")?;
    let checkpoint =
        open_checkpoint(&note, &verifier).map_err(|e| anyhow::anyhow!("the checkpoint does not verify: {e}"))?;
    let size = checkpoint.size();
    let previous = match std::fs::read_to_string(dir.join("checkpoint")) {
        Ok(text) => Some(
            open_checkpoint(&text, &verifier)
                .map_err(|e| anyhow::anyhow!("the kept checkpoint does not verify: {e}"))?,
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e.into()),
    };
    if let Some(old) = &previous {
        if size < old.size() {
            bail!("the log went back from size {} to {size}", old.size());
        }
    }
    let mut leaves: Vec<Hash> = Vec::new();
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    let mut index = 0;
    while index * TILE_WIDTH < size {
        let width = (size - index * TILE_WIDTH).min(TILE_WIDTH);
        let hashes_path = tile_path("0", index, width);
        let hashes = fetch(&http, &format!("{base}/{hashes_path}")).await?;
        let entries_path = tile_path("entries", index, width);
        let entries = fetch(&http, &format!("{base}/{entries_path}")).await?;
        if hashes.len() as u64 != width * 32 {
            bail!("{hashes_path}: {} bytes, not {}", hashes.len(), width * 32);
        }
        let mut rest = entries.as_slice();
        for chunk in hashes.chunks(32) {
            let hash: Hash = chunk.try_into().context("a hash of 32 bytes")?;
            if rest.len() < 2 {
                bail!("{entries_path}: fewer entries than hashes");
            }
            let len = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
            let entry = rest.get(2..2 + len).context("an entry cut short")?;
            if leaf_hash(entry) != hash {
                bail!("{entries_path}: entry {} does not hash to its leaf", leaves.len());
            }
            rest = &rest[2 + len..];
            leaves.push(hash);
        }
        if !rest.is_empty() {
            bail!("{entries_path}: more entries than hashes");
        }
        files.push((hashes_path, hashes));
        files.push((entries_path, entries));
        index += 1;
    }
    if root_from_leaves(&leaves) != *checkpoint.root() {
        bail!("the tiles do not rebuild the checkpoint's root (size {size})");
    }
    if let Some(old) = &previous {
        let old_size = usize::try_from(old.size())?;
        if root_from_leaves(&leaves[..old_size]) != *old.root() {
            bail!("the log at size {size} is not consistent with the checkpoint kept at size {old_size}: a fork or a rewrite");
        }
    }
    for (path, bytes) in &files {
        let target = dir.join(path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&target, bytes)?;
    }
    std::fs::write(dir.join("checkpoint"), &note)?;
    Ok((size, previous.map(|c| c.size())))
}

/// `danbao mirror`: once, or every `interval` seconds until stopped.
pub async fn run(url: &str, dir: &Path, key: &str, interval: Option<u64>) -> anyhow::Result<ExitCode> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    loop {
        match mirror_once(url, dir, key).await {
            Ok((size, Some(old))) => println!("mirrored: checkpoint size {size}, consistent with the kept size {old}"),
            Ok((size, None)) => println!("mirrored: checkpoint size {size} (first)"),
            Err(e) => {
                println!("mirror refused: {e:#}");
                return Ok(ExitCode::FAILURE);
            }
        }
        match interval {
            None => return Ok(ExitCode::SUCCESS),
            Some(s) => tokio::time::sleep(std::time::Duration::from_secs(s.max(1))).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tile_paths_are_written_as_the_spec_names_them() {
        assert_eq!(tile_path("0", 0, 256), "tile/0/000");
        assert_eq!(tile_path("0", 5, 17), "tile/0/005.p/17");
        assert_eq!(tile_path("1", 1_234_067, 256), "tile/1/x001/x234/067");
        assert_eq!(tile_path("entries", 1234, 255), "tile/entries/x001/234.p/255");
    }

    /// transparency-dev/tessera's `TestTilePath` and `TestEntriesPath` cases (commit 1811ae1a,
    /// Apache-2.0), written by an implementation we did not write.
    #[test]
    fn tile_paths_agree_with_tesseras_vectors() {
        assert_eq!(tile_path("0", 0, 255), "tile/0/000.p/255");
        assert_eq!(tile_path("1", 0, 256), "tile/1/000");
        assert_eq!(tile_path("15", 455_667, 256), "tile/15/x455/667");
        assert_eq!(tile_path("15", 123_456_789, 41), "tile/15/x123/x456/789.p/41");
        assert_eq!(tile_path("entries", 0, 8), "tile/entries/000.p/8");
        assert_eq!(tile_path("entries", 255, 253), "tile/entries/255.p/253");
        assert_eq!(tile_path("entries", 123_456_789, 256), "tile/entries/x123/x456/789");
    }
}
