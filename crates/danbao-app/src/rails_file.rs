//! The operator's rail configuration file (`danbao serve --rails FILE`): which real
//! payment rails the platform takes money through, besides the sandbox, each in its own
//! section. Keys are named by file path, never written in this file or the database.
//! Read strictly: an unknown field or section is an error, not a rail left out.

use crate::epay::{EpayConfigError, EpayProvider};
use crate::payments::PaymentProvider;
use crate::wechat::{WechatConfig, WechatConfigError, WechatProvider};

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
/// [wechat]                                 # WeChat Pay API v3, Native (at most one)
/// api_base = "https://api.mch.weixin.qq.com"   # the default
/// mchid = "1900000109"
/// appid = "wxd678efh567hg6787"
/// merchant_serial_no = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"
/// merchant_private_key_file = "/etc/danbao/wechat/apiclient_key.pem"
/// platform_public_key_file = "/etc/danbao/wechat/pub_key.pem"   # or the platform certificate's key
/// platform_serial_no = "PUB_KEY_ID_0119000001092025010100000000000000"
/// api_v3_key_file = "/etc/danbao/wechat/api_v3.key"             # the 32 characters, alone
/// ```
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RailsFile {
    #[serde(default)]
    pub epay: Vec<EpayRailConfig>,
    /// A table, not an array: a second `[wechat]` is a TOML error.
    #[serde(default)]
    pub wechat: Option<WechatRailConfig>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WechatRailConfig {
    #[serde(default = "wechat_api_base")]
    pub api_base: String,
    pub mchid: String,
    pub appid: String,
    pub merchant_serial_no: String,
    pub merchant_private_key_file: std::path::PathBuf,
    pub platform_public_key_file: std::path::PathBuf,
    pub platform_serial_no: String,
    pub api_v3_key_file: std::path::PathBuf,
}

fn wechat_api_base() -> String {
    crate::wechat::API_BASE_DEFAULT.to_string()
}

fn read_key(what: &str, path: &std::path::Path) -> Result<String, RailsFileError> {
    std::fs::read_to_string(path).map_err(|error| RailsFileError::Key {
        path: format!("{what} {}", path.display()),
        error: error.to_string(),
    })
}

impl WechatRailConfig {
    fn build(&self) -> Result<WechatProvider, RailsFileError> {
        let bad = |what: &str, path: &std::path::Path, error: String| RailsFileError::Key {
            path: format!("{what} {}", path.display()),
            error,
        };
        let merchant_key = danbao_rails::rsa_sha256::SigningKey::from_text(&read_key(
            "WeChat Pay merchant private key",
            &self.merchant_private_key_file,
        )?)
        .map_err(|e| {
            bad(
                "WeChat Pay merchant private key",
                &self.merchant_private_key_file,
                e.to_string(),
            )
        })?;
        let platform_key = danbao_rails::rsa_sha256::VerifyingKey::from_text(&read_key(
            "WeChat Pay platform public key",
            &self.platform_public_key_file,
        )?)
        .map_err(|e| {
            bad(
                "WeChat Pay platform public key",
                &self.platform_public_key_file,
                e.to_string(),
            )
        })?;
        let api_v3_key =
            danbao_rails::wechat::ApiV3Key::from_text(read_key("WeChat Pay APIv3 key", &self.api_v3_key_file)?.trim())
                .map_err(|e| bad("WeChat Pay APIv3 key", &self.api_v3_key_file, e.to_string()))?;
        Ok(WechatProvider::new(WechatConfig {
            api_base: self.api_base.clone(),
            mchid: self.mchid.clone(),
            appid: self.appid.clone(),
            merchant_serial_no: self.merchant_serial_no.clone(),
            merchant_key,
            platform_serial_no: self.platform_serial_no.clone(),
            platform_key,
            api_v3_key,
        })?)
    }
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
    #[error(transparent)]
    Wechat(#[from] WechatConfigError),
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
        if let Some(w) = &self.wechat {
            rails.push(std::sync::Arc::new(w.build()?));
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

    const MERCHANT_PRIVATE: &str = include_str!("../tests/data/wechat/merchant-private.pem");
    const PLATFORM_PUBLIC: &str = include_str!("../tests/data/wechat/platform-public.pem");

    #[test]
    fn a_wechat_section_names_its_keys_by_path_and_is_read_strictly() {
        let dir = std::env::temp_dir().join(format!("danbao-rails-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let (merchant, platform, v3) = (
            dir.join("apiclient_key.pem"),
            dir.join("pub_key.pem"),
            dir.join("v3.key"),
        );
        std::fs::write(&merchant, MERCHANT_PRIVATE).unwrap();
        std::fs::write(&platform, PLATFORM_PUBLIC).unwrap();
        std::fs::write(&v3, "Danbao0TestApiV3Key0000000000000\n").unwrap();
        let text = format!(
            "[wechat]\nmchid = \"1900000109\"\nappid = \"wxd678efh567hg6787\"\nmerchant_serial_no = \"5157F09E\"\n\
             merchant_private_key_file = {:?}\nplatform_public_key_file = {:?}\nplatform_serial_no = \"PUB_KEY_ID_01\"\n\
             api_v3_key_file = {:?}\n",
            merchant.display().to_string(),
            platform.display().to_string(),
            v3.display().to_string()
        );
        let file = RailsFile::parse(&text).unwrap();
        assert_eq!(file.wechat.as_ref().unwrap().api_base, "https://api.mch.weixin.qq.com");
        let rails = file.build().unwrap();
        assert_eq!(rails.len(), 1);
        assert_eq!((rails[0].name(), rails[0].methods()), ("wechat", vec!["wechat_native"]));
        for (bad, what) in [
            (format!("{text}api_v3_key = \"inline\"\n"), "not a rails file"),
            (format!("{text}[wechat]\nmchid = \"2\"\n"), "not a rails file"),
            (text.replace("apiclient_key.pem", "missing.pem"), "merchant private key"),
            (text.replace("pub_key.pem", "apiclient_key.pem"), "platform public key"),
            (text.replace("v3.key", "pub_key.pem"), "APIv3 key"),
            (text.replace("mchid = \"1900000109\"", "mchid = \"\""), "needs"),
            (format!("api_base = \"ftp://x\"\n{text}"), "not a rails file"),
            (
                text.replace("[wechat]\n", "[wechat]\napi_base = \"ftp://x\"\n"),
                "http(s)",
            ),
        ] {
            let err = RailsFile::parse(&bad).and_then(|f| f.build().map(|_| ())).unwrap_err();
            assert!(err.to_string().contains(what), "{bad}: {err}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
