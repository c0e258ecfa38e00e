//! `danbao backup` and `danbao restore`: everything a Danbao needs to come back.
//!
//! A backup is a folder: the database (SQLite: one consistent copy taken while the server
//! runs), the key files (without the card-key encryption key the delivered keys cannot be
//! read; without the log's signing key no new checkpoint extends the old ones), and the
//! evidence attachments. The in-process sandbox's books (`<data-dir>/sandbox`) are the
//! simulated provider's, not the platform's, and are left out. A PostgreSQL database is
//! not copied here: it is backed up with pg_basebackup and WAL archiving (README "Backup
//! and restore"); `backup` then saves the keys and files and says so.

use anyhow::Context as _;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

const DATABASE_FILE: &str = "danbao.db";
const MANIFEST: &str = "BACKUP.txt";
/// What is copied besides the database, as folders of the data directory.
const FOLDERS: &[&str] = &["keys", "files"];

/// Writes a backup of `data_dir` (and its database, `database_url`) into `out`, a folder
/// that must not exist yet.
pub async fn backup(data_dir: &Path, database_url: &str, out: &Path) -> anyhow::Result<()> {
    if out.exists() {
        anyhow::bail!("{} exists already: a backup goes into a new folder", out.display());
    }
    danbao_app::vault::create_private_dir(out).with_context(|| format!("creating {}", out.display()))?;
    let mut manifest = String::new();
    manifest.push_str(&format!(
        "danbao backup, {}\n",
        time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default()
    ));
    if let Some(path) = database_url.strip_prefix("sqlite:") {
        let src = PathBuf::from(path.split('?').next().unwrap_or(path));
        let copy = out.join(DATABASE_FILE);
        danbao_store::backup_sqlite(&src, &copy)
            .await
            .with_context(|| format!("copying the database {}", src.display()))?;
        restrict(&copy)?;
        manifest.push_str(&format!("database: {DATABASE_FILE} sha256 {}\n", sha256_file(&copy)?));
        println!("database: {} (an online copy)", copy.display());
    } else {
        manifest.push_str("database: not included (PostgreSQL: pg_basebackup and WAL archiving)\n");
        println!("database: not included — a PostgreSQL database is backed up with pg_basebackup and WAL archiving (README \"Backup and restore\")");
    }
    for folder in FOLDERS {
        let src = data_dir.join(folder);
        if src.is_dir() {
            let n = copy_tree(&src, &out.join(folder))?;
            manifest.push_str(&format!("{folder}: {n} files\n"));
            println!("{folder}: {n} files");
        }
    }
    danbao_app::vault::create_private_file(&out.join(MANIFEST), manifest.as_bytes())?;
    println!("backup written to {}", out.display());
    Ok(())
}

/// Puts the backup in `from` into `data_dir`, which must hold no database yet. The
/// database is checked against the manifest's digest first.
pub fn restore(from: &Path, data_dir: &Path) -> anyhow::Result<()> {
    let manifest = std::fs::read_to_string(from.join(MANIFEST))
        .with_context(|| format!("{} is not a danbao backup (no {MANIFEST})", from.display()))?;
    let target_db = data_dir.join(DATABASE_FILE);
    if std::fs::metadata(&target_db).is_ok_and(|m| m.len() > 0) {
        anyhow::bail!(
            "{} holds a database already: restore into a new data directory",
            data_dir.display()
        );
    }
    danbao_app::vault::create_private_dir(data_dir).with_context(|| format!("creating {}", data_dir.display()))?;
    let copy = from.join(DATABASE_FILE);
    if copy.exists() {
        let expected = manifest
            .lines()
            .find_map(|l| l.strip_prefix(&format!("database: {DATABASE_FILE} sha256 ")))
            .context("the manifest has no digest for the database")?;
        if sha256_file(&copy)? != expected.trim() {
            anyhow::bail!("{} does not match the digest in the manifest", copy.display());
        }
        // An empty file may have been left by an earlier command run on this folder.
        let _ = std::fs::remove_file(&target_db);
        copy_file(&copy, &target_db)?;
        println!("database: {}", target_db.display());
    } else {
        println!("database: not in this backup (PostgreSQL: restore it with its own tools)");
    }
    for folder in FOLDERS {
        let src = from.join(folder);
        if src.is_dir() {
            let n = copy_tree(&src, &data_dir.join(folder))?;
            println!("{folder}: {n} files");
        }
    }
    println!(
        "restored into {}; check it with `danbao ledger check` and `danbao verify`",
        data_dir.display()
    );
    Ok(())
}

fn copy_tree(src: &Path, dst: &Path) -> anyhow::Result<usize> {
    danbao_app::vault::create_private_dir(dst).with_context(|| format!("creating {}", dst.display()))?;
    let mut n = 0;
    for entry in std::fs::read_dir(src).with_context(|| format!("reading {}", src.display()))? {
        let entry = entry?;
        let path = entry.path();
        let target = dst.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            n += copy_tree(&path, &target)?;
        } else {
            copy_file(&path, &target)?;
            n += 1;
        }
    }
    Ok(n)
}

/// Copies one file (streamed: a database can be large), private to this user from the
/// start and fsynced.
fn copy_file(src: &Path, dst: &Path) -> anyhow::Result<()> {
    let mut input = std::fs::File::open(src).with_context(|| format!("reading {}", src.display()))?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut output = options
        .open(dst)
        .with_context(|| format!("creating {}", dst.display()))?;
    std::io::copy(&mut input, &mut output).with_context(|| format!("writing {}", dst.display()))?;
    output.sync_all()?;
    Ok(())
}

fn restrict(path: &Path) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}

fn sha256_file(path: &Path) -> anyhow::Result<String> {
    let mut file = std::fs::File::open(path).with_context(|| format!("reading {}", path.display()))?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher)?;
    Ok(hex::encode(hasher.finalize()))
}
