//! The operator's rail configuration file (`danbao serve --rails FILE`): which real
//! payment rails the platform takes money through, besides the sandbox, each in its own
//! section. Keys are named by file path, never written in this file or the database.
//! Read strictly: an unknown field or section is an error, not a rail left out.

use crate::alipay::{AlipayConfigError, AlipayProvider};
use crate::epay::{EpayConfigError, EpayProvider};
use crate::epay_v2::EpayV2Provider;
use crate::payments::PaymentProvider;
use crate::wechat::{WechatConfig, WechatConfigError, WechatProvider};
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
///
/// An aggregator that speaks the V2 (RSA) API instead:
///
/// ```toml
/// [[epay]]
/// api = "v2"                                # "v1" (MD5, the default) or "v2" (RSA)
/// base_url = "https://pay.example.com/"     # where api/pay/create is
/// pid = "1001"
/// merchant_private_key_file = "/etc/danbao/epay2-merchant.pem"   # signs our requests
/// platform_public_key_file = "/etc/danbao/epay2-platform.pem"    # checks its answers
/// channels = ["alipay", "wxpay"]
/// ```
///
/// WeChat Pay (API v3, Native):
///
/// ```toml
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
    /// A table, not an array: a second `[alipay]` is a TOML error.
    #[serde(default)]
    pub alipay: Option<AlipayRailConfig>,
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

fn read_wechat_key(what: &str, path: &std::path::Path) -> Result<String, RailsFileError> {
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
        let merchant_key = danbao_rails::rsa_sha256::SigningKey::from_text(&read_wechat_key(
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
        let platform_key = danbao_rails::rsa_sha256::VerifyingKey::from_text(&read_wechat_key(
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
        let api_v3_key = danbao_rails::wechat::ApiV3Key::from_text(
            read_wechat_key("WeChat Pay APIv3 key", &self.api_v3_key_file)?.trim(),
        )
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
    /// Which of the aggregator's APIs: an aggregator speaks one or the other to a merchant.
    #[serde(default)]
    pub api: EpayApi,
    pub base_url: String,
    pub pid: String,
    /// V1: the merchant's MD5 key.
    #[serde(default)]
    pub key_file: Option<std::path::PathBuf>,
    /// V2: the merchant's RSA private key (PEM or base64 DER), which signs our requests.
    #[serde(default)]
    pub merchant_private_key_file: Option<std::path::PathBuf>,
    /// V2: the platform's RSA public key, which its answers and notifications must verify
    /// under.
    #[serde(default)]
    pub platform_public_key_file: Option<std::path::PathBuf>,
    pub channels: Vec<String>,
    /// V1: how a payment is created — `"jump"` (the default: the buyer carries the signed
    /// request to `submit.php`) or `"api"` (the platform opens it at `mapi.php` and sends
    /// the buyer where the aggregator says). V2 always creates by API.
    #[serde(default)]
    pub create: Option<EpayCreate>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EpayCreate {
    Jump,
    Api,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EpayApi {
    /// MD5-signed page jump and `api.php` (彩虹易支付's first API).
    #[default]
    V1,
    /// RSA-signed `api/pay/*`.
    V2,
}

#[derive(Debug, thiserror::Error)]
pub enum RailsFileError {
    #[error("not a rails file: {0}")]
    Parse(String),
    #[error("reading the 易支付 key {path}: {error}")]
    Key { path: String, error: String },
    #[error("易支付 base_url {0:?} is not an http(s) address")]
    BaseUrl(String),
    #[error("易支付 api {api} takes {wanted}")]
    KeysForApi { api: &'static str, wanted: &'static str },
    #[error("one 易支付 rail only (a second would be the same rail name)")]
    TwoEpay,
    #[error(transparent)]
    Epay(#[from] EpayConfigError),
    #[error("reading the Alipay key {path}: {error}")]
    AlipayKey { path: String, error: String },
    #[error(transparent)]
    Alipay(#[from] AlipayConfigError),
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
            match (
                e.api,
                &e.key_file,
                &e.merchant_private_key_file,
                &e.platform_public_key_file,
            ) {
                (EpayApi::V1, Some(key_file), None, None) => {
                    let key = read_key(key_file)?;
                    let rail = EpayProvider::new(&e.base_url, &e.pid, key.trim(), &e.channels)?;
                    rails.push(std::sync::Arc::new(match e.create {
                        Some(EpayCreate::Api) => rail.creating_by_api(),
                        Some(EpayCreate::Jump) | None => rail,
                    }));
                }
                (EpayApi::V2, ..) if e.create.is_some() => {
                    return Err(RailsFileError::KeysForApi {
                        api: "v2",
                        wanted: "no `create` (V2 always creates by API)",
                    })
                }
                (EpayApi::V2, None, Some(private), Some(public)) => {
                    let merchant = SigningKey::from_text(&read_key(private)?).map_err(|error| RailsFileError::Key {
                        path: private.display().to_string(),
                        error: error.to_string(),
                    })?;
                    let platform =
                        VerifyingKey::from_text(&read_key(public)?).map_err(|error| RailsFileError::Key {
                            path: public.display().to_string(),
                            error: error.to_string(),
                        })?;
                    rails.push(std::sync::Arc::new(EpayV2Provider::new(
                        &e.base_url,
                        &e.pid,
                        merchant,
                        platform,
                        &e.channels,
                    )?));
                }
                // A mix of the two APIs' keys is refused rather than half of it used.
                (EpayApi::V1, ..) => {
                    return Err(RailsFileError::KeysForApi {
                        api: "v1",
                        wanted: "key_file alone",
                    })
                }
                (EpayApi::V2, ..) => {
                    return Err(RailsFileError::KeysForApi {
                        api: "v2",
                        wanted: "merchant_private_key_file and platform_public_key_file, and no key_file",
                    })
                }
            }
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
        if let Some(w) = &self.wechat {
            rails.push(std::sync::Arc::new(w.build()?));
        }
        Ok(rails)
    }
}

fn read_key(path: &std::path::Path) -> Result<String, RailsFileError> {
    std::fs::read_to_string(path).map_err(|error| RailsFileError::Key {
        path: path.display().to_string(),
        error: error.to_string(),
    })
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

    const MERCHANT_PRIVATE: &str = include_str!("../tests/data/epay2/merchant-private.pem");
    const PLATFORM_PUBLIC: &str = include_str!("../tests/data/epay2/platform-public.pem");

    #[test]
    fn a_v2_section_names_its_two_rsa_keys_by_path_and_refuses_a_mix() {
        let dir = std::env::temp_dir().join(format!("danbao-rails-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let private = dir.join("merchant.pem");
        let public = dir.join("platform.pem");
        let md5 = dir.join("epay.key");
        std::fs::write(&private, MERCHANT_PRIVATE).unwrap();
        std::fs::write(&public, PLATFORM_PUBLIC).unwrap();
        std::fs::write(&md5, "k3y\n").unwrap();
        let path = |p: &std::path::Path| format!("{:?}", p.display().to_string());
        let text = format!(
            "[[epay]]\napi = \"v2\"\nbase_url = \"https://pay.example.com/\"\npid = \"1001\"\nmerchant_private_key_file = {}\nplatform_public_key_file = {}\nchannels = [\"alipay\", \"qqpay\"]\n",
            path(&private),
            path(&public)
        );
        let rails = RailsFile::parse(&text).unwrap().build().unwrap();
        assert_eq!(rails.len(), 1);
        assert_eq!(rails[0].name(), "epay");
        assert_eq!(rails[0].methods(), ["epay_alipay", "epay_qqpay"]);
        // Without `api`, a section is V1 and wants its MD5 key.
        let v1 = format!(
            "[[epay]]\nbase_url = \"https://pay.example.com/\"\npid = \"1001\"\nkey_file = {}\nchannels = [\"alipay\"]\n",
            path(&md5)
        );
        assert_eq!(RailsFile::parse(&v1).unwrap().build().unwrap().len(), 1);
        // V1 may create by API (mapi.php) or send the buyer by page jump (the default).
        for create in ["api", "jump"] {
            let file = RailsFile::parse(&format!("{v1}create = \"{create}\"\n")).unwrap();
            assert_eq!(file.build().unwrap().len(), 1);
        }
        for (bad, what) in [
            (format!("{text}key_file = {}\n", path(&md5)), "api v2 takes"),
            (
                text.replace(&format!("platform_public_key_file = {}\n", path(&public)), ""),
                "api v2 takes",
            ),
            (text.replace("api = \"v2\"", "api = \"v1\""), "api v1 takes"),
            (
                format!("{v1}merchant_private_key_file = {}\n", path(&private)),
                "api v1 takes",
            ),
            (text.replace("\"v2\"", "\"v3\""), "not a rails file"),
            (format!("{text}create = \"api\"\n"), "V2 always creates by API"),
            (format!("{v1}create = \"post\"\n"), "not a rails file"),
            // Each key file must hold the kind of key its name says.
            (text.replace(&path(&public), &path(&private)), "reading the 易支付 key"),
            (text.replace(&path(&private), &path(&md5)), "reading the 易支付 key"),
            (text.replace("merchant.pem", "missing.pem"), "reading the 易支付 key"),
        ] {
            let err = RailsFile::parse(&bad).and_then(|f| f.build().map(|_| ())).unwrap_err();
            assert!(err.to_string().contains(what), "{bad}: {err}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    const WECHAT_MERCHANT_PRIVATE: &str = include_str!("../tests/data/wechat/merchant-private.pem");
    const WECHAT_PLATFORM_PUBLIC: &str = include_str!("../tests/data/wechat/platform-public.pem");

    #[test]
    fn a_wechat_section_names_its_keys_by_path_and_is_read_strictly() {
        let dir = std::env::temp_dir().join(format!("danbao-rails-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let (merchant, platform, v3) = (
            dir.join("apiclient_key.pem"),
            dir.join("pub_key.pem"),
            dir.join("v3.key"),
        );
        std::fs::write(&merchant, WECHAT_MERCHANT_PRIVATE).unwrap();
        std::fs::write(&platform, WECHAT_PLATFORM_PUBLIC).unwrap();
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
