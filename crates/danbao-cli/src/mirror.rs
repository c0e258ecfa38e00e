//! `danbao mirror URL DIR`: follows a log served as C2SP tlog-tiles, checks that each new
//! checkpoint is signed by the log's key and consistent with the last one this mirror kept,
//! and keeps the level-0 hash tiles, the entry bundles and the checkpoint under DIR in the
//! same paths, so DIR can be served as a static mirror of the log's leaves.
//!
//! Consistency is checked the plain way: the new tree is rebuilt from every leaf hash
//! (each one checked against its entry when fetched), and the old root must be the root of
//! its first `old size` leaves. A log that rewrote or dropped a leaf, forked, or went back
//! in size fails here. Full tiles are immutable: once kept they are read from DIR, not
//! fetched again. The higher tiles (level L: roots of 256^L-leaf subtrees) are fetched,
//! checked against the hashes computed from the level below, and kept too.
//!
//! With `--witness VKEY…` a checkpoint is followed only when enough of those witnesses
//! cosigned it: a mirror that trusts the witnesses, not the log alone, never keeps a tree
//! the log showed it and nobody else.

use crate::dossier::{read_vkey, WitnessCheck};
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

/// What one round did: the new size, the kept size it was checked against, how many
/// tiles it fetched and how many full ones it reused from DIR, and the witnesses that
/// cosigned the checkpoint (when any were required).
pub struct Round {
    pub size: u64,
    pub previous: Option<u64>,
    pub fetched: usize,
    pub reused: usize,
    pub cosigned_by: Vec<String>,
}

/// A kept file, if DIR has it.
fn kept(dir: &Path, path: &str) -> anyhow::Result<Option<Vec<u8>>> {
    match std::fs::read(dir.join(path)) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", dir.join(path).display())),
    }
}

/// The hashes of one tile, checked to be `width` hashes.
fn hashes_of(path: &str, bytes: &[u8], width: u64) -> anyhow::Result<Vec<Hash>> {
    if bytes.len() as u64 != width * 32 {
        bail!("{path}: {} bytes, not {}", bytes.len(), width * 32);
    }
    bytes
        .chunks(32)
        .map(|c| c.try_into().context("a hash of 32 bytes"))
        .collect()
}

/// One round: fetch, check, keep. Full tiles kept by an earlier round were checked then and
/// never change, so they are read from DIR; partial and new ones are fetched.
pub async fn mirror_once(url: &str, dir: &Path, key: &str, witnesses: &WitnessCheck) -> anyhow::Result<Round> {
    let verifier = read_vkey(key)?;
    let base = url.trim_end_matches('/');
    let http = reqwest::Client::new();
    let note =
        String::from_utf8(fetch(&http, &format!("{base}/checkpoint")).await?).context("the checkpoint is not text")?;
    let checkpoint =
        open_checkpoint(&note, &verifier).map_err(|e| anyhow::anyhow!("the checkpoint does not verify: {e}"))?;
    let cosigned_by = if witnesses.is_empty() {
        Vec::new()
    } else {
        witnesses
            .check_checkpoint(&note)
            .map_err(|e| anyhow::anyhow!("the checkpoint of size {} is not cosigned: {e}", checkpoint.size()))?
            .into_iter()
            .map(|(name, _)| name)
            .collect()
    };
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
    let (mut fetched, mut reused) = (0, 0);
    let mut leaves: Vec<Hash> = Vec::new();
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    let mut index = 0;
    while index * TILE_WIDTH < size {
        let width = (size - index * TILE_WIDTH).min(TILE_WIDTH);
        let hashes_path = tile_path("0", index, width);
        let entries_path = tile_path("entries", index, width);
        let (hashes, entries, from_dir) = match (kept(dir, &hashes_path)?, kept(dir, &entries_path)?) {
            (Some(h), Some(e)) if width == TILE_WIDTH => (h, e, true),
            _ => (
                fetch(&http, &format!("{base}/{hashes_path}")).await?,
                fetch(&http, &format!("{base}/{entries_path}")).await?,
                false,
            ),
        };
        let tile = hashes_of(&hashes_path, &hashes, width)?;
        if !from_dir {
            let mut rest = entries.as_slice();
            for (i, hash) in tile.iter().enumerate() {
                if rest.len() < 2 {
                    bail!("{entries_path}: fewer entries than hashes");
                }
                let len = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
                let entry = rest.get(2..2 + len).context("an entry cut short")?;
                if leaf_hash(entry) != *hash {
                    bail!("{entries_path}: entry {i} does not hash to its leaf");
                }
                rest = &rest[2 + len..];
            }
            if !rest.is_empty() {
                bail!("{entries_path}: more entries than hashes");
            }
            fetched += 2;
            files.push((hashes_path, hashes));
            files.push((entries_path, entries));
        } else {
            reused += 2;
        }
        leaves.extend(tile);
        index += 1;
    }
    if root_from_leaves(&leaves) != *checkpoint.root() {
        bail!("the tiles do not rebuild the checkpoint's root (size {size}): the log is not the one whose tiles are kept, or it rewrote them");
    }
    if let Some(old) = &previous {
        let old_size = usize::try_from(old.size())?;
        if root_from_leaves(&leaves[..old_size]) != *old.root() {
            bail!("the log at size {size} is not consistent with the checkpoint kept at size {old_size}: a fork or a rewrite");
        }
    }
    // Higher tiles: level L holds the roots of full subtrees of 256^L leaves. Each one is
    // computed here from the level below and must equal what the log serves.
    let mut below = leaves;
    let mut level = 1u32;
    loop {
        let nodes: Vec<Hash> = below
            .chunks_exact(usize::try_from(TILE_WIDTH)?)
            .map(root_from_leaves)
            .collect();
        if nodes.is_empty() {
            break;
        }
        let count = nodes.len() as u64;
        let mut tile_index = 0;
        while tile_index * TILE_WIDTH < count {
            let width = (count - tile_index * TILE_WIDTH).min(TILE_WIDTH);
            let path = tile_path(&level.to_string(), tile_index, width);
            let start = usize::try_from(tile_index * TILE_WIDTH)?;
            let expected = &nodes[start..start + usize::try_from(width)?];
            if width == TILE_WIDTH && kept(dir, &path)?.is_some() {
                reused += 1;
            } else {
                let bytes = fetch(&http, &format!("{base}/{path}")).await?;
                if hashes_of(&path, &bytes, width)? != expected {
                    bail!("{path}: the log's tile differs from the hashes of the tiles below it");
                }
                fetched += 1;
                files.push((path, bytes));
            }
            tile_index += 1;
        }
        below = nodes;
        level += 1;
    }
    for (path, bytes) in &files {
        let target = dir.join(path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&target, bytes)?;
    }
    std::fs::write(dir.join("checkpoint"), &note)?;
    Ok(Round {
        size,
        previous: previous.map(|c| c.size()),
        fetched,
        reused,
        cosigned_by,
    })
}

/// `danbao mirror`: once, or every `interval` seconds until stopped.
pub async fn run(
    url: &str,
    dir: &Path,
    key: &str,
    witnesses: &WitnessCheck,
    interval: Option<u64>,
) -> anyhow::Result<ExitCode> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    loop {
        match mirror_once(url, dir, key, witnesses).await {
            Ok(r) => {
                match r.previous {
                    Some(old) => println!(
                        "mirrored: checkpoint size {}, consistent with the kept size {old}",
                        r.size
                    ),
                    None => println!("mirrored: checkpoint size {} (first)", r.size),
                }
                println!(
                    "  tiles fetched: {}, full tiles reused from the mirror: {}",
                    r.fetched, r.reused
                );
                if !r.cosigned_by.is_empty() {
                    println!("  cosigned by: {}", r.cosigned_by.join(", "));
                }
            }
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
