//! `danbao serve --config FILE`: the server's settings in one TOML file.
//!
//! Every key is optional and names the command-line flag of the same meaning. A flag given
//! on the command line (or by its environment variable) wins over the file; the file wins
//! over the built-in default. Paths in the file are relative to the file's own folder, so a
//! deployment's folder can be moved as a whole. Unknown keys are refused: a misspelt
//! setting that is silently ignored is how a production server ends up on defaults.
//!
//! ```toml
//! database_url = "postgres://danbao@127.0.0.1:5000/danbao"
//! data_dir = "/var/lib/danbao"
//! bind = "0.0.0.0"
//! port = 8101
//! public_url = "https://shop.example"
//! rules = "rules.toml"
//! limits = "limits.toml"
//! rails = "rails.toml"
//! time_zone = "Asia/Shanghai"
//! log_format = "json"
//! trusted_proxies = ["127.0.0.1/32"]   # whose X-Forwarded-For is believed
//! metrics_token_file = "metrics.token"  # /metrics then needs `Authorization: Bearer …`
//! drain_seconds = 5                     # /readyz says 503 this long before the listener closes
//! shutdown_grace_seconds = 30           # in-flight requests and jobs get this long to finish
//! witnesses = ["https://w1.example=w1.example+1a2b3c4d+BA…"]  # URL=VKEY, cosign before publishing
//! witness_quorum = 1                    # how many of them must (default: all)
//! ```

use anyhow::Context as _;
use clap::parser::ValueSource;
use clap::ArgMatches;
use serde::Deserialize;
use std::path::{Path, PathBuf};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServeFile {
    pub database_url: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub bind: Option<String>,
    pub port: Option<u16>,
    pub public_url: Option<String>,
    pub rules: Option<PathBuf>,
    pub limits: Option<PathBuf>,
    pub rails: Option<PathBuf>,
    pub sandbox_url: Option<String>,
    pub secure_cookies: Option<bool>,
    pub time_zone: Option<String>,
    pub log_format: Option<String>,
    pub trusted_proxies: Option<Vec<String>>,
    pub metrics_token_file: Option<PathBuf>,
    pub drain_seconds: Option<u64>,
    pub shutdown_grace_seconds: Option<u64>,
    pub witnesses: Option<Vec<String>>,
    pub witness_quorum: Option<usize>,
}

impl ServeFile {
    pub fn read(path: &Path) -> anyhow::Result<ServeFile> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading the config file {}", path.display()))?;
        let mut file: ServeFile =
            toml::from_str(&text).with_context(|| format!("parsing the config file {}", path.display()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        for p in [
            &mut file.data_dir,
            &mut file.rules,
            &mut file.limits,
            &mut file.rails,
            &mut file.metrics_token_file,
        ]
        .into_iter()
        .flatten()
        {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        }
        Ok(file)
    }
}

/// Whether the flag `id` was left to its default (not given on the command line, nor by
/// its environment variable): only then does the config file's value apply.
pub fn unset(matches: &ArgMatches, id: &str) -> bool {
    !matches!(
        matches.value_source(id),
        Some(ValueSource::CommandLine) | Some(ValueSource::EnvVariable)
    )
}

/// Takes the file's value for a flag the command line left unset.
pub fn fill<T>(matches: &ArgMatches, id: &str, target: &mut T, from_file: Option<T>) {
    if let Some(v) = from_file {
        if unset(matches, id) {
            *target = v;
        }
    }
}

/// A secret kept in a file of its own (the config file may be shared more widely than the
/// secret): its first line, which must not be empty.
pub fn read_secret(path: &Path) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let secret = text.lines().next().unwrap_or("").trim().to_string();
    if secret.is_empty() {
        anyhow::bail!("{} is empty", path.display());
    }
    Ok(secret)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_are_relative_to_the_file() {
        let dir = std::env::temp_dir().join(format!("danbao-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("danbao.toml");
        std::fs::write(
            &path,
            "rules = \"rules.toml\"\nrails = \"/etc/danbao/rails.toml\"\nport = 8101\n",
        )
        .unwrap();
        let file = ServeFile::read(&path).unwrap();
        assert_eq!(file.rules, Some(dir.join("rules.toml")));
        assert_eq!(file.rails, Some(PathBuf::from("/etc/danbao/rails.toml")));
        assert_eq!(file.port, Some(8101));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn unknown_keys_are_refused() {
        let err = toml::from_str::<ServeFile>("prot = 8101\n").unwrap_err().to_string();
        assert!(err.contains("unknown field `prot`"), "{err}");
    }
}
