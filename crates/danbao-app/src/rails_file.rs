//! The operator's rail configuration file (`danbao serve --rails FILE`): which real
//! payment rails the platform takes money through, besides the sandbox, each in its own
//! section. Keys are named by file path, never written in this file or the database.
//! Read strictly: an unknown field or section is an error, not a rail left out.

use crate::epay::{EpayConfigError, EpayProvider};
use crate::payments::PaymentProvider;

/// An operator's rail configuration file (`danbao serve --rails FILE`): the rails the
/// platform takes money through, besides the sandbox. Keys are named by file path, never
/// written in this file or the database.
///
/// ```toml
/// [[epay]]
/// base_url = "https://pay.example.com/"   # where submit.php and api.php are
/// pid = "1001"
/// key_file = "/etc/danbao/epay.key"       # the merchant's MD5 key, alone in the file
/// channels = ["alipay", "wxpay"]          # the first is the default
/// ```
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RailsFile {
    #[serde(default)]
    pub epay: Vec<EpayRailConfig>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EpayRailConfig {
    pub base_url: String,
    pub pid: String,
    pub key_file: std::path::PathBuf,
    pub channels: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum RailsFileError {
    #[error("not a rails file: {0}")]
    Parse(String),
    #[error("reading the 易支付 key {path}: {error}")]
    Key { path: String, error: String },
    #[error("易支付 base_url {0:?} is not an http(s) address")]
    BaseUrl(String),
    #[error("one 易支付 rail only (a second would be the same rail name)")]
    TwoEpay,
    #[error(transparent)]
    Epay(#[from] EpayConfigError),
}

impl RailsFile {
    pub fn parse(text: &str) -> Result<RailsFile, RailsFileError> {
        toml::from_str(text).map_err(|e| RailsFileError::Parse(e.to_string()))
    }

    /// The configured rails, their keys read from their files.
    pub fn build(&self) -> Result<Vec<std::sync::Arc<dyn PaymentProvider>>, RailsFileError> {
        if self.epay.len() > 1 {
            return Err(RailsFileError::TwoEpay);
        }
        let mut rails: Vec<std::sync::Arc<dyn PaymentProvider>> = Vec::new();
        for e in &self.epay {
            if !(e.base_url.starts_with("https://") || e.base_url.starts_with("http://")) {
                return Err(RailsFileError::BaseUrl(e.base_url.clone()));
            }
            let key = std::fs::read_to_string(&e.key_file).map_err(|error| RailsFileError::Key {
                path: e.key_file.display().to_string(),
                error: error.to_string(),
            })?;
            rails.push(std::sync::Arc::new(EpayProvider::new(
                &e.base_url,
                &e.pid,
                key.trim(),
                &e.channels,
            )?));
        }
        Ok(rails)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_rails_file_names_its_key_by_path_and_is_read_strictly() {
        let dir = std::env::temp_dir().join(format!("danbao-rails-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let key = dir.join("epay.key");
        std::fs::write(&key, "k3y\n").unwrap();
        let text = format!(
            "[[epay]]\nbase_url = \"https://pay.example.com/\"\npid = \"1001\"\nkey_file = {:?}\nchannels = [\"wxpay\", \"alipay\"]\n",
            key.display().to_string()
        );
        let rails = RailsFile::parse(&text).unwrap().build().unwrap();
        assert_eq!(rails.len(), 1);
        assert_eq!(rails[0].name(), "epay");
        assert_eq!(rails[0].methods(), ["epay_wxpay", "epay_alipay"]);
        for (bad, what) in [
            (text.replace("wxpay", "paypal"), "not one of"),
            (text.replace("https://pay.example.com/", "ftp://x"), "http(s)"),
            (text.replace("epay.key", "missing.key"), "reading"),
            (format!("{text}secret = \"inline\"\n"), "not a rails file"),
            (format!("{text}{text}"), "one 易支付 rail only"),
        ] {
            let err = RailsFile::parse(&bad).and_then(|f| f.build().map(|_| ())).unwrap_err();
            assert!(err.to_string().contains(what), "{bad}: {err}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
