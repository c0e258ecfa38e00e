//! The operator's rail configuration file (`danbao serve --rails FILE`): which real
//! payment rails the platform takes money through, besides the sandbox, each in its own
//! section. Keys are named by file path, never written in this file or the database.
//! Read strictly: an unknown field or section is an error, not a rail left out.

use crate::alipay::{AlipayConfigError, AlipayProvider};
use crate::epay::{EpayConfigError, EpayProvider};
use crate::payments::PaymentProvider;
use danbao_rails::rsa_sha256::{SigningKey, VerifyingKey};

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
///
/// [alipay]                                # at most one
/// gateway_url = "https://openapi.alipay.com/gateway.do"
/// app_id = "2021000000000001"
/// seller_id = "2088000000000001"          # the merchant's PID
/// app_private_key_file = "/etc/danbao/alipay-app-private.pem"
/// alipay_public_key_file = "/etc/danbao/alipay-public.pem"
/// methods = ["page", "qr", "wap"]         # the first is the default
/// ```
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RailsFile {
    #[serde(default)]
    pub epay: Vec<EpayRailConfig>,
    /// A table, not an array: a second `[alipay]` is a TOML error.
    #[serde(default)]
    pub alipay: Option<AlipayRailConfig>,
}

/// The `[alipay]` section: the application, the merchant's PID, and the two keys by path
/// (PEM, or the bare base64 that Alipay's key tool and console show).
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlipayRailConfig {
    pub gateway_url: String,
    pub app_id: String,
    pub seller_id: String,
    pub app_private_key_file: std::path::PathBuf,
    pub alipay_public_key_file: std::path::PathBuf,
    pub methods: Vec<String>,
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
    #[error("reading the Alipay key {path}: {error}")]
    AlipayKey { path: String, error: String },
    #[error(transparent)]
    Alipay(#[from] AlipayConfigError),
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
        if let Some(a) = &self.alipay {
            let read = |path: &std::path::Path| {
                std::fs::read_to_string(path).map_err(|error| RailsFileError::AlipayKey {
                    path: path.display().to_string(),
                    error: error.to_string(),
                })
            };
            let key_error = |path: &std::path::Path, error: String| RailsFileError::AlipayKey {
                path: path.display().to_string(),
                error,
            };
            let app_key = SigningKey::from_text(&read(&a.app_private_key_file)?)
                .map_err(|e| key_error(&a.app_private_key_file, e.to_string()))?;
            let alipay_key = VerifyingKey::from_text(&read(&a.alipay_public_key_file)?)
                .map_err(|e| key_error(&a.alipay_public_key_file, e.to_string()))?;
            rails.push(std::sync::Arc::new(AlipayProvider::new(
                &a.gateway_url,
                &a.app_id,
                &a.seller_id,
                app_key,
                alipay_key,
                &a.methods,
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

    #[test]
    fn the_alipay_section_names_its_keys_by_path_and_is_read_strictly() {
        let dir = std::env::temp_dir().join(format!("danbao-rails-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let (app_key, app_pem) = SigningKey::generate().unwrap();
        let (alipay_key, _) = SigningKey::generate().unwrap();
        let app_private = dir.join("app-private.pem");
        let alipay_public = dir.join("alipay-public.pem");
        std::fs::write(&app_private, app_pem).unwrap();
        // Alipay's console shows its public key as bare base64: taken as it is.
        std::fs::write(&alipay_public, alipay_key.verifying_key().to_spki_base64()).unwrap();
        let text = format!(
            "[alipay]\ngateway_url = \"https://openapi.alipay.com/gateway.do\"\napp_id = \"2021000000000001\"\nseller_id = \"2088000000000001\"\napp_private_key_file = {:?}\nalipay_public_key_file = {:?}\nmethods = [\"qr\", \"page\"]\n",
            app_private.display().to_string(),
            alipay_public.display().to_string()
        );
        let rails = RailsFile::parse(&text).unwrap().build().unwrap();
        assert_eq!(rails.len(), 1);
        assert_eq!(rails[0].name(), "alipay");
        assert_eq!(rails[0].methods(), ["alipay_qr", "alipay_page"]);
        assert_eq!(rails[0].acknowledgement(), "success");
        drop(app_key);
        for (bad, what) in [
            (text.replace("\"qr\"", "\"paypal\""), "not one of page, qr, wap"),
            (text.replace("https://openapi", "ftp://openapi"), "http(s)"),
            (
                text.replace("alipay-public.pem", "missing.pem"),
                "reading the Alipay key",
            ),
            (
                text.replace("methods = [\"qr\", \"page\"]", "methods = []"),
                "at least one method",
            ),
            (format!("{text}app_secret = \"inline\"\n"), "not a rails file"),
            (format!("{text}{text}"), "not a rails file"),
        ] {
            let err = RailsFile::parse(&bad).and_then(|f| f.build().map(|_| ())).unwrap_err();
            assert!(err.to_string().contains(what), "{bad}: {err}");
        }
        // A public key where the private key belongs is refused, not half-read.
        std::fs::write(&app_private, alipay_key.verifying_key().to_spki_pem()).unwrap();
        let err = RailsFile::parse(&text).unwrap().build().map(|_| ()).unwrap_err();
        assert!(err.to_string().contains("not an RSA private key"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
