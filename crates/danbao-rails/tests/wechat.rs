//! WeChat Pay API v3 against vectors computed outside this code (`openssl dgst -sha256
//! -sign`, Python's `cryptography` AESGCM and hashlib: `tests/data/wechat/make_vectors.py`,
//! its output in `vectors.txt`), vectors from Tencent's own SDKs, and every refusal the
//! issue names.
#![allow(clippy::unwrap_used)]

use danbao_domain::Money;
use danbao_rails::rsa_sha256::{SigningKey, VerifyingKey};
use danbao_rails::wechat::{
    self, ApiV3Key, Authorization, BillAnswer, BillLine, ErrorAnswer, Headers, KeyRing, Merchant, NativeAnswer,
    NativeOrder, Notification, OrderState, Receiver, Refund, RefundRequest, RefundStatus, Transaction, WechatError,
};

const MERCHANT_PRIVATE: &str = include_str!("data/wechat/merchant-private.pem");
const MERCHANT_PUBLIC: &str = include_str!("data/wechat/merchant-public.pem");
const PLATFORM_PRIVATE: &str = include_str!("data/wechat/platform-private.pem");
const PLATFORM_PUBLIC: &str = include_str!("data/wechat/platform-public.pem");
const SDK_PLATFORM_PUBLIC: &str = include_str!("data/wechat/wechatpay-go-sdk-platform-public.pem");
const TRADE_BILL: &[u8] = include_bytes!("data/wechat/tradebill.csv");

const MCHID: &str = "1900000109";
const APPID: &str = "wxd678efh567hg6787";
const MERCHANT_SERIAL: &str = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1";
const PLATFORM_SERIAL: &str = "7132D72A03E93CDDF8C03BBD1F37EEDF1B8A1F8B";
/// The tests' APIv3 key (32 bytes), as in make_vectors.py.
const API_V3_KEY: &str = "Danbao0TestApiV3Key0000000000000";
/// The documentation's example timestamp and nonce (签名生成, GET /v3/certificates).
const DOC_TIMESTAMP: i64 = 1554208460;
const DOC_NONCE: &str = "593BEC0C930BF1AFEB40B4A08C8FB242";

fn merchant() -> Merchant {
    Merchant {
        mchid: MCHID.into(),
        serial_no: MERCHANT_SERIAL.into(),
        key: SigningKey::from_text(MERCHANT_PRIVATE).unwrap(),
    }
}

fn merchant_keys() -> KeyRing {
    KeyRing::new().with(MERCHANT_SERIAL, VerifyingKey::from_text(MERCHANT_PUBLIC).unwrap())
}

fn platform_keys() -> KeyRing {
    KeyRing::new().with(PLATFORM_SERIAL, VerifyingKey::from_text(PLATFORM_PUBLIC).unwrap())
}

fn platform_key() -> SigningKey {
    SigningKey::from_text(PLATFORM_PRIVATE).unwrap()
}

fn receiver() -> Receiver {
    Receiver {
        mchid: MCHID.into(),
        appid: APPID.into(),
        platform_keys: platform_keys(),
        api_v3_key: ApiV3Key::from_text(API_V3_KEY).unwrap(),
    }
}

// ---------------------------------------------------------------------------------------
// Requests.

/// `python3 make_vectors.py` → `openssl dgst -sha256 -sign merchant-private.pem` over
/// `GET\n/v3/certificates\n1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\n\n`.
const DOC_REQUEST_SIGNATURE: &str = "FedcqgR3eyhZwF3wu/17OxTswf07hzBxiXcVBBCza4GZGRPkz4T3xcaxWM3kuYf2pBglaT9AnI1VOsds0FXFXTYTSqhYIor2NK48aHVt4m5YdAET6acvOkwNXleBaXXJcy/IffqJcKysbXpDdLPY0KdtTKCF7v8fuHnXR+xhKULmzwlbivegxTP6jNcS2CaWjNdFVGm4UkMJ98P4CplYg3w89VlmnZE016jIELFTOerLSh7ndV6PmXpve5HP5AVNF7h80T0jFNhV5Pjox7Wmt6tPykY4CPBHAz/VhAMKI9//cZXw70W5HJZPaelHHmy7+wRz0wglVLwp0Q1e52adxA==";

#[test]
fn the_request_message_is_the_documented_five_lines() {
    // WeChat Pay's documentation (签名生成): a GET of /v3/certificates has an empty body,
    // and every line, the body's included, ends with \n.
    assert_eq!(
        wechat::request_message("GET", "/v3/certificates", DOC_TIMESTAMP, DOC_NONCE, ""),
        "GET\n/v3/certificates\n1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\n\n"
    );
    let auth = Authorization::sign(&merchant(), "GET", "/v3/certificates", DOC_TIMESTAMP, DOC_NONCE, "").unwrap();
    assert_eq!(auth.signature, DOC_REQUEST_SIGNATURE);
    assert_eq!(
        auth.header_value(),
        format!(
            "WECHATPAY2-SHA256-RSA2048 mchid=\"1900000109\",nonce_str=\"{DOC_NONCE}\",signature=\"{DOC_REQUEST_SIGNATURE}\",timestamp=\"1554208460\",serial_no=\"{MERCHANT_SERIAL}\""
        )
    );
}

/// The Native order's body, byte for byte (the fields and example values of the
/// documentation's request example).
const ORDER_BODY: &str = r#"{"appid":"wxd678efh567hg6787","mchid":"1900000109","description":"Image形象店-深圳腾大-QQ公仔","out_trade_no":"1217752501201407033233368018","time_expire":"2018-06-08T10:34:56+08:00","notify_url":"https://www.weixin.qq.com/wxpay/pay.php","amount":{"total":100,"currency":"CNY"}}"#;
/// `python3 make_vectors.py` → `openssl dgst -sha256 -sign merchant-private.pem` over
/// `POST\n/v3/pay/transactions/native\n1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\n{ORDER_BODY}\n`.
const ORDER_SIGNATURE: &str = "pRzMwT8eJ7C1k8SLBltLQFXAZaLi1TPpisSWdKIouW9p2XWCDWlF2v3C+eOBLY5iFszTdAERZNbb7TdimymieGK1BPGbOVW5u2jTBgt281A9i8avxM8Ulgi8MLuLvGy46Qvx6UNm0TBRUPM1yNwBD2O4iQeDGoUnRCKoq4nlXATUIHoWZcScAbPxiRaXs575fFMehxrk0+lbd/ri4ZeqxfyO/A77gToqE49uQj5o6j0T6/KLN3Ttzk6ADZqyHuL5Pky8YQ5x2MWwRbyy929cHtDBOJAe1qMmWafc/ulmjKPpgHXXI7A97f9m5vOOkCfz2CO2F/uT4PqbeCBTO/uHIg==";

fn order() -> NativeOrder {
    // 2018-06-08T10:34:56+08:00 is 02:34:56 UTC.
    let expires: jiff::Timestamp = "2018-06-08T02:34:56Z".parse().unwrap();
    NativeOrder::new(
        APPID,
        MCHID,
        "Image形象店-深圳腾大-QQ公仔",
        "1217752501201407033233368018",
        expires,
        "https://www.weixin.qq.com/wxpay/pay.php",
        Money::from_minor(100),
    )
    .unwrap()
}

#[test]
fn the_native_order_is_signed_as_openssl_signs_it_and_the_gateway_reads_it_back() {
    let req = order().request(&merchant(), DOC_TIMESTAMP, DOC_NONCE).unwrap();
    assert_eq!(
        (req.method, req.path_and_query.as_str()),
        ("POST", "/v3/pay/transactions/native")
    );
    assert_eq!(req.body, ORDER_BODY);
    let auth = Authorization::parse(&req.authorization).unwrap();
    assert_eq!(auth.signature, ORDER_SIGNATURE);
    assert_eq!((auth.mchid.as_str(), auth.timestamp), (MCHID, DOC_TIMESTAMP));

    // The gateway's side: the header parsed, the signature checked, the order read.
    auth.verify(
        MCHID,
        &merchant_keys(),
        "POST",
        &req.path_and_query,
        &req.body,
        DOC_TIMESTAMP + 10,
    )
    .unwrap();
    let read = NativeOrder::read(req.body.as_bytes(), &auth).unwrap();
    assert_eq!(read, order());
    assert_eq!(read.total(), Money::from_minor(100));
}

#[test]
fn a_request_is_refused_by_the_gateway_for_each_fault() {
    let m = merchant();
    let req = order().request(&m, DOC_TIMESTAMP, DOC_NONCE).unwrap();
    let auth = Authorization::parse(&req.authorization).unwrap();
    let path = &req.path_and_query;
    let now = DOC_TIMESTAMP;
    // Another body, method or path under the same signature.
    let other = ORDER_BODY.replace("\"total\":100", "\"total\":1");
    assert_eq!(
        auth.verify(MCHID, &merchant_keys(), "POST", path, &other, now),
        Err(WechatError::BadSignature)
    );
    assert_eq!(
        auth.verify(MCHID, &merchant_keys(), "GET", path, &req.body, now),
        Err(WechatError::BadSignature)
    );
    assert_eq!(
        auth.verify(
            MCHID,
            &merchant_keys(),
            "POST",
            "/v3/refund/domestic/refunds",
            &req.body,
            now
        ),
        Err(WechatError::BadSignature)
    );
    // Another merchant number, an unknown certificate, a stale request.
    assert_eq!(
        auth.verify("1900000110", &merchant_keys(), "POST", path, &req.body, now),
        Err(WechatError::WrongMerchant(MCHID.into()))
    );
    assert_eq!(
        auth.verify(MCHID, &platform_keys(), "POST", path, &req.body, now),
        Err(WechatError::UnknownSerial(MERCHANT_SERIAL.into()))
    );
    assert!(matches!(
        auth.verify(MCHID, &merchant_keys(), "POST", path, &req.body, now + 301),
        Err(WechatError::StaleTimestamp { .. })
    ));
    // Signed by another key under our serial.
    let (other_key, _) = SigningKey::generate().unwrap();
    let forged = Merchant {
        key: other_key,
        ..merchant()
    };
    let forged = Authorization::sign(&forged, "POST", path, now, DOC_NONCE, &req.body).unwrap();
    assert_eq!(
        forged.verify(MCHID, &merchant_keys(), "POST", path, &req.body, now),
        Err(WechatError::BadSignature)
    );
    // A signed order for another merchant, in another currency, or for nothing.
    for (body, err) in [
        (
            ORDER_BODY.replace("\"mchid\":\"1900000109\"", "\"mchid\":\"1900000110\""),
            WechatError::WrongMerchant("1900000110".into()),
        ),
        (
            ORDER_BODY.replace("CNY", "USD"),
            WechatError::WrongCurrency("USD".into()),
        ),
        (
            ORDER_BODY.replace("\"total\":100", "\"total\":0"),
            WechatError::NotPositive(0),
        ),
    ] {
        assert_eq!(NativeOrder::read(body.as_bytes(), &auth), Err(err));
    }
}

#[test]
fn the_authorization_header_is_parsed_strictly() {
    let good = Authorization::sign(&merchant(), "GET", "/v3/certificates", DOC_TIMESTAMP, DOC_NONCE, "")
        .unwrap()
        .header_value();
    // Any order of the five pairs is the same header.
    let reordered = format!(
        "WECHATPAY2-SHA256-RSA2048 serial_no=\"{MERCHANT_SERIAL}\",timestamp=\"1554208460\",signature=\"{DOC_REQUEST_SIGNATURE}\",nonce_str=\"{DOC_NONCE}\",mchid=\"1900000109\""
    );
    assert_eq!(
        Authorization::parse(&reordered).unwrap(),
        Authorization::parse(&good).unwrap()
    );
    for bad in [
        good.replace("WECHATPAY2-SHA256-RSA2048", "WECHATPAY2-SM2-WITH-SM3"),
        good.replace("mchid=\"1900000109\"", "mchid=\"1900000109\",mchid=\"1900000110\""),
        good.replace(",serial_no=", ",serial=").to_string(),
        good.replace("timestamp=\"1554208460\"", "timestamp=\"1554208460.5\""),
        good.replace("timestamp=\"1554208460\"", "timestamp=1554208460"),
        good.replace("mchid=\"1900000109\",", ""),
        "WECHATPAY2-SHA256-RSA2048".to_string(),
        format!("{good},extra=\"x\""),
    ] {
        assert!(
            matches!(Authorization::parse(&bad), Err(WechatError::Malformed(_))),
            "{bad}"
        );
    }
    assert!(matches!(
        Authorization::parse(&"x".repeat(4096)),
        Err(WechatError::TooLarge { .. })
    ));
}

#[test]
fn query_refund_and_bill_requests_sign_their_paths() {
    let m = merchant();
    let q = wechat::query_request(&m, "1217752501201407033233368018", DOC_TIMESTAMP, DOC_NONCE).unwrap();
    assert_eq!(
        (q.method, q.path_and_query.as_str(), q.body.as_str()),
        (
            "GET",
            "/v3/pay/transactions/out-trade-no/1217752501201407033233368018?mchid=1900000109",
            ""
        )
    );
    let rq = wechat::refund_query_request(&m, "1217752501201407033233368018", DOC_TIMESTAMP, DOC_NONCE).unwrap();
    assert_eq!(
        rq.path_and_query,
        "/v3/refund/domestic/refunds/1217752501201407033233368018"
    );
    let b = wechat::trade_bill_request(&m, "2019-06-11", DOC_TIMESTAMP, DOC_NONCE).unwrap();
    assert_eq!(
        b.path_and_query,
        "/v3/bill/tradebill?bill_date=2019-06-11&bill_type=ALL"
    );
    for r in [&q, &rq, &b] {
        // Each signature covers its own path: the gateway's check passes for it and
        // fails for any other.
        let auth = Authorization::parse(&r.authorization).unwrap();
        auth.verify(MCHID, &merchant_keys(), "GET", &r.path_and_query, "", DOC_TIMESTAMP)
            .unwrap();
        assert_eq!(
            auth.verify(MCHID, &merchant_keys(), "GET", "/v3/certificates", "", DOC_TIMESTAMP),
            Err(WechatError::BadSignature)
        );
    }
    // Numbers that would need escaping in a path, and dates that are not dates.
    for no in ["", "a/b", "a?b", "订单", &"1".repeat(33)] {
        assert!(matches!(
            wechat::query_request(&m, no, DOC_TIMESTAMP, DOC_NONCE),
            Err(WechatError::Malformed(_))
        ));
    }
    for date in ["2019-6-11", "20190611", "2019-02-30", ""] {
        assert!(matches!(
            wechat::trade_bill_request(&m, date, DOC_TIMESTAMP, DOC_NONCE),
            Err(WechatError::Malformed(_))
        ));
    }
}

// ---------------------------------------------------------------------------------------
// Answers.

const ANSWER_BODY: &[u8] = br#"{"code_url":"weixin://wxpay/bizpayurl?pr=p4lpSuKzz"}"#;
const ANSWER_TIMESTAMP: i64 = 1554208461;
const ANSWER_NONCE: &str = "C29B8E0F5C1A4F2F9A1B3C4D5E6F7A8B";
/// `python3 make_vectors.py` → `openssl dgst -sha256 -sign platform-private.pem` over
/// `1554208461\nC29B8E0F5C1A4F2F9A1B3C4D5E6F7A8B\n{ANSWER_BODY}\n`.
const ANSWER_SIGNATURE: &str = "LYSiRSkdzWA4ml8mfuO0rnYMQdPBdvV/sxiKd4uAiQplrwjSkdYPyEtOkuF8DVsxBVIA5f6Lj9gYcrk0AFgT8qNY15XKegOSp3yYSfHTn4pIi0AlDoCQI8AbJ2HY7enALtBjr8kxaG5cbJNxIiIEvelDPohsboBhpOz0cxCFm3YiBGZrpKsrESAia6yhOnKK1Kdw3hT7jx1eA3Qqbh2bpG6I+bTGiQ0YiRFTQtclKsGo7L9LUkjzjjaT0vYfY0Mk18UJdef/CmwPSnDFbB6sd9DU/O5SBSJRyhZzWTolzRMJ2BhJhixZ3I3Cy/CoFMlM7BSZ8aMo2UjQ5/Fxx1AKKQ==";

fn answer_headers() -> Headers {
    Headers::from_pairs([
        ("Wechatpay-Serial", PLATFORM_SERIAL),
        ("wechatpay-signature", ANSWER_SIGNATURE),
        ("Wechatpay-Timestamp", "1554208461"),
        ("Wechatpay-Nonce", ANSWER_NONCE),
        ("Request-ID", "08F78BB5AF0610D302889010"),
        ("Content-Type", "application/json"),
    ])
    .unwrap()
}

#[test]
fn the_native_answer_is_verified_then_read() {
    let h = answer_headers();
    let a: NativeAnswer = wechat::read_answer(200, Some(&h), ANSWER_BODY, &platform_keys(), ANSWER_TIMESTAMP).unwrap();
    assert_eq!(a.code_url, "weixin://wxpay/bizpayurl?pr=p4lpSuKzz");
    // The gateway's side signs the same bytes to the same signature.
    let signed = Headers::sign(
        &platform_key(),
        PLATFORM_SERIAL,
        ANSWER_TIMESTAMP,
        ANSWER_NONCE,
        ANSWER_BODY,
    )
    .unwrap();
    assert_eq!(signed.signature, ANSWER_SIGNATURE);
    assert_eq!(a.to_json().as_bytes(), ANSWER_BODY);
    // An unsigned 2xx is not believed; a changed one does not verify.
    assert!(matches!(
        wechat::read_answer::<NativeAnswer>(200, None, ANSWER_BODY, &platform_keys(), ANSWER_TIMESTAMP),
        Err(WechatError::Malformed(_))
    ));
    let changed = br#"{"code_url":"weixin://wxpay/bizpayurl?pr=ATTACKER"}"#;
    assert_eq!(
        wechat::read_answer::<NativeAnswer>(200, Some(&h), changed, &platform_keys(), ANSWER_TIMESTAMP),
        Err(WechatError::BadSignature)
    );
    // An error answer is WeChat Pay's refusal, with its code.
    let refused = ErrorAnswer {
        code: "PARAM_ERROR".into(),
        message: "参数错误".into(),
    };
    assert_eq!(
        wechat::read_answer::<NativeAnswer>(400, None, refused.to_json().as_bytes(), &platform_keys(), 0),
        Err(WechatError::Refused {
            status: 400,
            code: "PARAM_ERROR".into(),
            message: "参数错误".into()
        })
    );
}

#[test]
fn a_signed_message_is_refused_for_each_fault() {
    let h = answer_headers();
    let keys = platform_keys();
    let now = ANSWER_TIMESTAMP;
    assert_eq!(h.verify(ANSWER_BODY, &keys, now), Ok(()));
    // Five minutes either way is still fresh; a second more is not.
    assert_eq!(h.verify(ANSWER_BODY, &keys, now + 300), Ok(()));
    assert_eq!(h.verify(ANSWER_BODY, &keys, now - 300), Ok(()));
    assert_eq!(
        h.verify(ANSWER_BODY, &keys, now + 301),
        Err(WechatError::StaleTimestamp {
            timestamp: now,
            now: now + 301
        })
    );
    assert_eq!(
        h.verify(ANSWER_BODY, &keys, now - 301),
        Err(WechatError::StaleTimestamp {
            timestamp: now,
            now: now - 301
        })
    );
    // A key we do not hold (WeChat Pay rotated, or someone else signed).
    let other_serial = Headers {
        serial: "0000000000000000".into(),
        ..h.clone()
    };
    assert_eq!(
        other_serial.verify(ANSWER_BODY, &keys, now),
        Err(WechatError::UnknownSerial("0000000000000000".into()))
    );
    // Our serial, the merchant's key behind it: the signature is not the platform's.
    let wrong_key = KeyRing::new().with(PLATFORM_SERIAL, VerifyingKey::from_text(MERCHANT_PUBLIC).unwrap());
    assert_eq!(h.verify(ANSWER_BODY, &wrong_key, now), Err(WechatError::BadSignature));
    // The timestamp or nonce changed: they are signed too.
    let moved = Headers {
        timestamp: (now + 1).to_string(),
        ..h.clone()
    };
    assert_eq!(moved.verify(ANSWER_BODY, &keys, now), Err(WechatError::BadSignature));
    let renonced = Headers {
        nonce: "X".into(),
        ..h.clone()
    };
    assert_eq!(renonced.verify(ANSWER_BODY, &keys, now), Err(WechatError::BadSignature));
    // A signature that is not base64, a timestamp that is not seconds.
    let junk = Headers {
        signature: "not base64!".into(),
        ..h.clone()
    };
    assert_eq!(junk.verify(ANSWER_BODY, &keys, now), Err(WechatError::BadSignature));
    // Another signature scheme.
    let sm2 = Headers {
        signature_type: Some("WECHATPAY2-SM2-WITH-SM3".into()),
        ..h.clone()
    };
    assert!(matches!(
        sm2.verify(ANSWER_BODY, &keys, now),
        Err(WechatError::Malformed(_))
    ));
    // An oversized body is refused before any work.
    let big = vec![b' '; wechat::BODY_BYTES_MAX + 1];
    assert_eq!(
        h.verify(&big, &keys, now),
        Err(WechatError::TooLarge {
            bytes: wechat::BODY_BYTES_MAX + 1,
            max: wechat::BODY_BYTES_MAX
        })
    );
}

#[test]
fn the_wechatpay_headers_are_read_strictly() {
    let pairs = [
        ("Wechatpay-Serial", PLATFORM_SERIAL),
        ("Wechatpay-Signature", ANSWER_SIGNATURE),
        ("Wechatpay-Timestamp", "1554208461"),
        ("Wechatpay-Nonce", ANSWER_NONCE),
    ];
    assert_eq!(
        Headers::from_pairs(pairs).unwrap(),
        Headers {
            signature_type: None,
            ..answer_headers()
        }
    );
    // Missing one, one given twice, a timestamp that is not seconds.
    assert!(matches!(
        Headers::from_pairs(pairs[..3].to_vec()),
        Err(WechatError::Malformed(_))
    ));
    let mut twice = pairs.to_vec();
    twice.push(("wechatpay-nonce", "other"));
    assert!(matches!(Headers::from_pairs(twice), Err(WechatError::Malformed(_))));
    // A timestamp that is not seconds is refused even when it is signed.
    let odd = Headers {
        timestamp: "-1554208461".into(),
        signature: platform_key()
            .sign_base64(&wechat::answer_message("-1554208461", ANSWER_NONCE, ANSWER_BODY))
            .unwrap(),
        ..answer_headers()
    };
    assert!(matches!(
        odd.verify(ANSWER_BODY, &platform_keys(), ANSWER_TIMESTAMP),
        Err(WechatError::Malformed(_))
    ));
    let mut huge = pairs.to_vec();
    let long = "A".repeat(wechat::HEADER_VALUE_BYTES_MAX + 1);
    huge[1] = ("Wechatpay-Signature", &long);
    assert!(matches!(Headers::from_pairs(huge), Err(WechatError::TooLarge { .. })));
    // The simulator's pairs read back as the same headers.
    let signed = Headers::sign(
        &platform_key(),
        PLATFORM_SERIAL,
        ANSWER_TIMESTAMP,
        ANSWER_NONCE,
        ANSWER_BODY,
    )
    .unwrap();
    let pairs = signed.pairs();
    let read = Headers::from_pairs(pairs.iter().map(|(k, v)| (*k, v.as_str()))).unwrap();
    assert_eq!(read, signed);
}

// ---------------------------------------------------------------------------------------
// Notifications.

/// `python3 make_vectors.py`: the transaction encrypted with
/// `AESGCM(b"Danbao0TestApiV3Key0000000000000").encrypt(b"fdasflkja484", transaction, b"transaction")`.
const NOTIFICATION: &str = r#"{"id":"EV-2018022511223320873","create_time":"2018-06-08T10:34:56+08:00","resource_type":"encrypt-resource","event_type":"TRANSACTION.SUCCESS","summary":"支付成功","resource":{"original_type":"transaction","algorithm":"AEAD_AES_256_GCM","ciphertext":"ftBkTKQIu0/G5P9aK8zKuH4yPNBGZgUbQq6Z1Kql+rD728DnA5EPquw40W5aIJLcCHAGhZ9k6AkxM16DT+2WhD8o6ajK6+/bwA/5Ck6NQqjf26jugRLg5zwb5y/RE5qTTxQhgSDc2y/DF4AotH1m7Y5jyIprq8QtsglT3qdaAZ58pFKqRfE6kZlQHFJ7RyUktjzuI1WUQlbeEnuuWgZtpAxABsN7WgRkbb7cRJ3P5B3ZVIm2ddzGuqckg3a2cThjM6nt8GwkF6nB8pbYVuDNwp05nRHGFPxXp9RJOv2czwhBFPauYuJv8WsFPu3xDLMzVAlX/2S0wxIRkljpxJR1vQmZlj4wrda4hVSi0NyhQnLx5ewwoFJRxFjOagb7Bus1ViKCo8QzFDEnVbYKL6wKllH6kWsWrM4o+elzjr6shB+yJkGk5JDK/+8gSMq+4p3T2vrDukh5ov37y1CFL+pFrAl48lUqiSczB3AGY/5YU+EelreIjXRJYKVdjg5BPP7MN1zCSg5Y5HJuBXokNIUvMloq5AA/1zc3Wy7rcas/Tl1Ih/yXS5qxqsV41nQpewxcMw==","associated_data":"transaction","nonce":"fdasflkja484"}}"#;
/// The plaintext make_vectors.py encrypted.
const TRANSACTION: &str = r#"{"appid":"wxd678efh567hg6787","mchid":"1900000109","out_trade_no":"1217752501201407033233368018","transaction_id":"1217752501201407033233368018","trade_type":"NATIVE","trade_state":"SUCCESS","trade_state_desc":"支付成功","bank_type":"CMC","success_time":"2018-06-08T10:34:56+08:00","payer":{"openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},"amount":{"total":100,"payer_total":100,"currency":"CNY","payer_currency":"CNY"}}"#;
const NOTIFICATION_TIMESTAMP: i64 = 1528425296;
const NOTIFICATION_NONCE: &str = "3C2E7F1A9B8D4C6E5F0A1B2C3D4E5F60";
/// `python3 make_vectors.py` → `openssl dgst -sha256 -sign platform-private.pem` over
/// `1528425296\n3C2E7F1A9B8D4C6E5F0A1B2C3D4E5F60\n{NOTIFICATION}\n`.
const NOTIFICATION_SIGNATURE: &str = "Q/dInAKn+xUdJWV7GjgAkYHKztf5m79WBpgkiRpUN6yrnwsP/68bvc/fySr7v2ybwZyf9wm8YHoFHpqdoGjAlVW7VcpmFyJdr50w5G4ALtccgpnDygRRLO1IFvbGjYPgMkQtwwNJpO5lpP3STxFr7uBZQzli05JJNNcNf2fBEwnW1bkUZmCLVrSgRVM6x6hZttTbn4vhGh3u7wFVCpyY9roQT8D4mtY7VfM6WcvWOtRSduDLMgJKk4NvP0ZzC5NTfBjE8qLypqop/X0E/DH3/dcWIKVxhWKkdSQy5coB1feKti13R9ZczT2/fEZ0E3XRT+4E/joYeELdc3nx6O5Zxw==";

fn notification_headers() -> Headers {
    Headers::from_pairs([
        ("Wechatpay-Serial", PLATFORM_SERIAL),
        ("Wechatpay-Signature", NOTIFICATION_SIGNATURE),
        ("Wechatpay-Timestamp", "1528425296"),
        ("Wechatpay-Nonce", NOTIFICATION_NONCE),
        ("Wechatpay-Signature-Type", "WECHATPAY2-SHA256-RSA2048"),
    ])
    .unwrap()
}

#[test]
fn a_paid_notification_made_with_python_and_openssl_is_read() {
    let (id, payment) = Notification::read(
        &notification_headers(),
        NOTIFICATION.as_bytes(),
        &receiver(),
        NOTIFICATION_TIMESTAMP + 3,
    )
    .unwrap();
    assert_eq!(id, "EV-2018022511223320873");
    assert_eq!(payment.out_trade_no, "1217752501201407033233368018");
    assert_eq!(payment.transaction_id, "1217752501201407033233368018");
    assert_eq!(payment.total, Money::from_minor(100));
    assert_eq!(payment.success_time, "2018-06-08T10:34:56+08:00");
    assert_eq!(payment.payer_openid.as_deref(), Some("oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"));
}

#[test]
fn the_simulator_makes_the_same_notification_byte_for_byte() {
    let key = ApiV3Key::from_text(API_V3_KEY).unwrap();
    let transaction: Transaction = serde_json::from_str(TRANSACTION).unwrap();
    assert_eq!(transaction.to_json(), TRANSACTION);
    let n = Notification::for_transaction(
        "EV-2018022511223320873",
        "2018-06-08T10:34:56+08:00",
        &transaction,
        &key,
        "fdasflkja484",
        "transaction",
    )
    .unwrap();
    assert_eq!(n.to_json(), NOTIFICATION);
    let h = Headers::sign(
        &platform_key(),
        PLATFORM_SERIAL,
        NOTIFICATION_TIMESTAMP,
        NOTIFICATION_NONCE,
        n.to_json().as_bytes(),
    )
    .unwrap();
    assert_eq!(h, notification_headers());
}

#[test]
fn decryption_matches_the_official_sdks_vectors() {
    // wechatpay-java, core/src/test/.../AeadAesCipherTest.java (with TestConfig.API_V3_KEY):
    // "message" under associated data "associatedData" and nonce "uluk4a9R25RW".
    // Checked outside: python3 -c "from cryptography.hazmat.primitives.ciphers.aead import AESGCM;
    // import base64; print(AESGCM(b'a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb').decrypt(b'uluk4a9R25RW',
    // base64.b64decode('ulwSiIajGClcvcOYvOQ7+l+0PAbzzwI='), b'associatedData'))" → b'message'.
    let key = ApiV3Key::from_text("a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb").unwrap();
    assert_eq!(
        key.decrypt("uluk4a9R25RW", "associatedData", "ulwSiIajGClcvcOYvOQ7+l+0PAbzzwI=")
            .unwrap(),
        b"message"
    );
    assert_eq!(
        key.encrypt("uluk4a9R25RW", "associatedData", b"message").unwrap(),
        "ulwSiIajGClcvcOYvOQ7+l+0PAbzzwI="
    );
    assert_eq!(
        key.decrypt("uluk4a9R25RW", "associateddata", "ulwSiIajGClcvcOYvOQ7+l+0PAbzzwI="),
        Err(WechatError::Undecryptable)
    );
    // The Go SDK's keys are 16 bytes (AES-128 under the AES-256 name); a real APIv3 key
    // is 32, and anything else is refused.
    assert_eq!(
        ApiV3Key::from_text("testMchAPIv3Key0").unwrap_err(),
        WechatError::BadApiV3Key
    );
}

#[test]
fn the_go_sdks_notification_signature_verifies() {
    // wechatpay-go, core/notify/notify_test.go: a notification signed by the key of its
    // test certificate D7CE59D1F522D701 (checked outside with `openssl dgst -sha256
    // -verify wechatpay-go-sdk-platform-public.pem -signature sig msg` → Verified OK).
    let body = r#"{"id":"3119dfba-e649-5eec-ab1e-3412bc4d2e17","create_time":"2021-06-24T16:37:26+08:00","resource_type":"encrypt-resource","event_type":"PAYSCORE.USER_OPEN_SERVICE","summary":"签约成功","resource":{"original_type":"payscore","algorithm":"AEAD_AES_256_GCM","ciphertext":"YDS3lKPaC4Y52Gf3uhft5qUBlIa8b428AWTtTauHQfQrRw+X1WpiuHIDy0vo1Vd6VEq67aVyqPdDYMkRVSDaZL3iZttevRMOoPKMifozg6XPWjIZumks/GpT48lI4NizyeaqLBokNebthah3o1H76qSlO9NkDjp9bzmKLEYYH9TEklFUpsvPqOTOcgSLgh21YJXYR7dEBXFgRLiNIKRgO5JdXh1hccRUAlyVWxE54PXpnQ==","associated_data":"payscore","nonce":"Kj7QIyUiYx1q"}}"#;
    let signature = "tJHIiIS9eB2hAYstmAmbbD3ZE5LiIm/Ug5tuL4fC0YOFRWIHV39UFIZXC0e9Wl6lBu6sKvkqDkzpqzBsVHyXFlbYZTOQrVdG4b6LfTnK4mikv9++ixJMd3vTf2yCqvBkh98zs3Ds5zsYQakzbcwhmw4fMJs4nPLws28H0UW9FjDR//rxELLwXvV1VEA1IBLX70xptjL8hrfUjEE8kkry6yNJTHZRU8CAc7qHli2Ng1V1qb9ARbK8A3ThmFmPQvRGrapI/jS2laKKgYUmfdEdkNO6B2Cke5e8VTxY406ArAmQ90GAihDwIcb16TQMnzCMBoutnwZKNiKRACrFmtxw2Q==";
    let keys = KeyRing::new().with(
        "D7CE59D1F522D701",
        VerifyingKey::from_text(SDK_PLATFORM_PUBLIC).unwrap(),
    );
    let h = Headers::from_pairs([
        ("Wechatpay-Nonce", "EcZ9Cmy4Xyx1i6RlJQzLcCyEqDa26NBz"),
        ("Wechatpay-Timestamp", "1624523846"),
        ("Wechatpay-Serial", "D7CE59D1F522D701"),
        ("Wechatpay-Signature", signature),
    ])
    .unwrap();
    assert_eq!(h.verify(body.as_bytes(), &keys, 1624523846), Ok(()));
    // It is signed, but it is no payment: a merchant that took any signed event would
    // deliver on a 支付分 contract.
    let receiver = Receiver {
        platform_keys: keys,
        ..receiver()
    };
    assert_eq!(
        Notification::read(&h, body.as_bytes(), &receiver, 1624523846),
        Err(WechatError::NotPaymentEvent("PAYSCORE.USER_OPEN_SERVICE".into()))
    );
}

/// The notification of `transaction` (changed from the vector's by `change`), encrypted
/// and signed by the simulator's side, which the tests above hold to the outside vectors.
fn notification_of(change: impl Fn(&mut Transaction)) -> (Headers, String) {
    let mut t: Transaction = serde_json::from_str(TRANSACTION).unwrap();
    change(&mut t);
    let key = ApiV3Key::from_text(API_V3_KEY).unwrap();
    let body = Notification::for_transaction(
        "EV-1",
        "2018-06-08T10:34:56+08:00",
        &t,
        &key,
        "fdasflkja484",
        "transaction",
    )
    .unwrap()
    .to_json();
    let h = Headers::sign(
        &platform_key(),
        PLATFORM_SERIAL,
        NOTIFICATION_TIMESTAMP,
        NOTIFICATION_NONCE,
        body.as_bytes(),
    )
    .unwrap();
    (h, body)
}

fn read(h: &Headers, body: &str) -> Result<wechat::Payment, WechatError> {
    Notification::read(h, body.as_bytes(), &receiver(), NOTIFICATION_TIMESTAMP).map(|(_, p)| p)
}

/// `body` signed again by the platform (for changes made after encryption).
fn resigned(body: &str) -> (Headers, String) {
    let h = Headers::sign(
        &platform_key(),
        PLATFORM_SERIAL,
        NOTIFICATION_TIMESTAMP,
        NOTIFICATION_NONCE,
        body.as_bytes(),
    )
    .unwrap();
    (h, body.to_string())
}

#[test]
fn every_bad_notification_is_refused() {
    let h = notification_headers();
    // Tampered after signing: the amount inside cannot be reached, so the ciphertext.
    let flipped = NOTIFICATION.replace("ftBkTKQIu0", "ftBkTKQIu1");
    assert_eq!(read(&h, &flipped), Err(WechatError::BadSignature));
    // Stale both ways.
    for now in [NOTIFICATION_TIMESTAMP + 301, NOTIFICATION_TIMESTAMP - 301] {
        assert!(matches!(
            Notification::read(&h, NOTIFICATION.as_bytes(), &receiver(), now),
            Err(WechatError::StaleTimestamp { .. })
        ));
    }
    // Signed by the platform but tampered ciphertext, another AAD, another nonce: the
    // AEAD does not open.
    for body in [
        flipped.clone(),
        NOTIFICATION.replace(
            "\"associated_data\":\"transaction\"",
            "\"associated_data\":\"certificate\"",
        ),
        NOTIFICATION.replace("\"nonce\":\"fdasflkja484\"", "\"nonce\":\"fdasflkja485\""),
    ] {
        let (h, body) = resigned(&body);
        assert_eq!(read(&h, &body), Err(WechatError::Undecryptable));
    }
    // Encrypted under another merchant's APIv3 key.
    let other = Receiver {
        api_v3_key: ApiV3Key::from_text("AnotherMerchantsApiV3Key00000000").unwrap(),
        ..receiver()
    };
    assert_eq!(
        Notification::read(&h, NOTIFICATION.as_bytes(), &other, NOTIFICATION_TIMESTAMP),
        Err(WechatError::Undecryptable)
    );
    // Not a payment event, another algorithm, a nonce that is not 12 bytes.
    let (h2, refund_event) = resigned(&NOTIFICATION.replace("TRANSACTION.SUCCESS", "REFUND.SUCCESS"));
    assert_eq!(
        read(&h2, &refund_event),
        Err(WechatError::NotPaymentEvent("REFUND.SUCCESS".into()))
    );
    let (h2, cbc) = resigned(&NOTIFICATION.replace("AEAD_AES_256_GCM", "AES_256_CBC"));
    assert_eq!(read(&h2, &cbc), Err(WechatError::WrongAlgorithm("AES_256_CBC".into())));
    let (h2, short_nonce) = resigned(&NOTIFICATION.replace("\"nonce\":\"fdasflkja484\"", "\"nonce\":\"fdas\""));
    assert!(matches!(read(&h2, &short_nonce), Err(WechatError::Malformed(_))));
    // A field given twice in the signed body.
    let (h2, twice) = resigned(&NOTIFICATION.replace(
        "\"event_type\":\"TRANSACTION.SUCCESS\"",
        "\"event_type\":\"TRANSACTION.SUCCESS\",\"event_type\":\"REFUND.SUCCESS\"",
    ));
    assert!(matches!(read(&h2, &twice), Err(WechatError::Malformed(_))));

    // Inside the resource: not ours, not paid, not CNY, not positive.
    let (h, b) = notification_of(|t| t.mchid = "1900000110".into());
    assert_eq!(read(&h, &b), Err(WechatError::WrongMerchant("1900000110".into())));
    let (h, b) = notification_of(|t| t.appid = "wx0000000000000000".into());
    assert_eq!(read(&h, &b), Err(WechatError::WrongApp("wx0000000000000000".into())));
    for state in ["NOTPAY", "CLOSED", "REFUND", "USERPAYING", "PAYERROR", "success"] {
        let (h, b) = notification_of(|t| t.trade_state = state.into());
        assert_eq!(read(&h, &b), Err(WechatError::NotPaid(state.into())));
    }
    let (h, b) = notification_of(|t| t.amount.currency = "USD".into());
    assert_eq!(read(&h, &b), Err(WechatError::WrongCurrency("USD".into())));
    for total in [0, -100] {
        let (h, b) = notification_of(|t| t.amount.total = total);
        assert_eq!(read(&h, &b), Err(WechatError::NotPositive(total)));
    }
    let (h, b) = notification_of(|t| t.transaction_id = None);
    assert!(matches!(read(&h, &b), Err(WechatError::Malformed(_))));
    // Oversized.
    let big = format!("{NOTIFICATION}{}", " ".repeat(wechat::BODY_BYTES_MAX));
    assert!(matches!(read(&h, &big), Err(WechatError::TooLarge { .. })));
}

#[test]
fn the_acknowledgements_are_wechat_pays() {
    assert_eq!(wechat::ACK_STATUS, 204);
    assert!(wechat::is_acknowledged(200) && wechat::is_acknowledged(204));
    assert!(!wechat::is_acknowledged(500) && !wechat::is_acknowledged(202));
    let (status, body) = wechat::ack_failure("验签失败");
    assert_eq!(
        (status, body.as_str()),
        (500, r#"{"code":"FAIL","message":"验签失败"}"#)
    );
}

// ---------------------------------------------------------------------------------------
// Query.

#[test]
fn a_query_answer_says_where_the_order_stands() {
    let paid: Transaction = serde_json::from_str(TRANSACTION).unwrap();
    let no = "1217752501201407033233368018";
    let OrderState::Paid(p) = paid.state(MCHID, APPID, no).unwrap() else {
        panic!("not paid");
    };
    assert_eq!(p.total, Money::from_minor(100));
    // The documentation's NOTPAY answer carries no transaction_id, payer or success_time.
    let notpay: Transaction = serde_json::from_str(
        r#"{"amount":{"currency":"CNY","payer_currency":"CNY","total":100},"appid":"wxd678efh567hg6787","mchid":"1900000109","out_trade_no":"1217752501201407033233368018","promotion_detail":[],"scene_info":{"device_id":""},"trade_state":"NOTPAY","trade_state_desc":"订单未支付"}"#,
    )
    .unwrap();
    assert_eq!(
        notpay.state(MCHID, APPID, no).unwrap(),
        OrderState::Unpaid("NOTPAY".into())
    );
    let closed = Transaction {
        trade_state: "CLOSED".into(),
        ..notpay.clone()
    };
    assert_eq!(
        closed.state(MCHID, APPID, no).unwrap(),
        OrderState::Closed("CLOSED".into())
    );
    let refunded = Transaction {
        trade_state: "REFUND".into(),
        ..paid.clone()
    };
    assert!(matches!(
        refunded.state(MCHID, APPID, no).unwrap(),
        OrderState::Refunded(_)
    ));
    // Another merchant's, another app's, another order's, an unknown state, USD.
    assert_eq!(
        paid.state("1900000110", APPID, no),
        Err(WechatError::WrongMerchant(MCHID.into()))
    );
    assert_eq!(paid.state(MCHID, "wx1", no), Err(WechatError::WrongApp(APPID.into())));
    assert_eq!(
        paid.state(MCHID, APPID, "other"),
        Err(WechatError::OtherOrder(no.into()))
    );
    let odd = Transaction {
        trade_state: "ACCEPT".into(),
        ..paid.clone()
    };
    assert!(matches!(odd.state(MCHID, APPID, no), Err(WechatError::Malformed(_))));
    let mut usd = paid.clone();
    usd.amount.currency = "USD".into();
    assert_eq!(
        usd.state(MCHID, APPID, no),
        Err(WechatError::WrongCurrency("USD".into()))
    );
    // The query answer is signed like any answer.
    let h = Headers::sign(&platform_key(), PLATFORM_SERIAL, 1000, "N", TRANSACTION.as_bytes()).unwrap();
    let t: Transaction = wechat::read_answer(200, Some(&h), TRANSACTION.as_bytes(), &platform_keys(), 1000).unwrap();
    assert_eq!(t, paid);
}

// ---------------------------------------------------------------------------------------
// Refunds.

#[test]
fn a_refund_is_asked_and_its_answer_read() {
    let r = RefundRequest::new(
        "1217752501201407033233368018",
        "1217752501201407033233368018",
        Some("商品已售完"),
        Money::from_minor(100),
        Money::from_minor(100),
    )
    .unwrap();
    assert_eq!(
        r.to_json(),
        r#"{"out_trade_no":"1217752501201407033233368018","out_refund_no":"1217752501201407033233368018","reason":"商品已售完","amount":{"refund":100,"total":100,"currency":"CNY"}}"#
    );
    let req = r.request(&merchant(), DOC_TIMESTAMP, DOC_NONCE).unwrap();
    assert_eq!(
        (req.method, req.path_and_query.as_str()),
        ("POST", "/v3/refund/domestic/refunds")
    );
    Authorization::parse(&req.authorization)
        .unwrap()
        .verify(
            MCHID,
            &merchant_keys(),
            "POST",
            wechat::REFUND_PATH,
            &req.body,
            DOC_TIMESTAMP,
        )
        .unwrap();
    assert_eq!(RefundRequest::read(req.body.as_bytes()).unwrap(), r);
    // More back than was paid, nothing back.
    assert!(RefundRequest::new(
        "A1234567",
        "R1234567",
        None,
        Money::from_minor(101),
        Money::from_minor(100)
    )
    .is_err());
    assert_eq!(
        RefundRequest::new("A1234567", "R1234567", None, Money::ZERO, Money::from_minor(100)),
        Err(WechatError::NotPositive(0))
    );
    assert!(RefundRequest::read(
        br#"{"out_trade_no":"A","out_refund_no":"R","amount":{"refund":101,"total":100,"currency":"CNY"}}"#
    )
    .is_err());

    // The documentation's answer shape.
    let answer = r#"{"refund_id":"50000000382019052709732678859","out_refund_no":"1217752501201407033233368018","transaction_id":"1217752501201407033233368018","out_trade_no":"1217752501201407033233368018","channel":"ORIGINAL","user_received_account":"招商银行信用卡0403","success_time":"2020-12-01T16:18:12+08:00","create_time":"2020-12-01T16:18:12+08:00","status":"SUCCESS","funds_account":"UNSETTLED","amount":{"total":100,"refund":100,"from":[],"payer_total":90,"payer_refund":90,"settlement_refund":100,"settlement_total":100,"discount_refund":10,"currency":"CNY"},"promotion_detail":[]}"#;
    let h = Headers::sign(&platform_key(), PLATFORM_SERIAL, 1000, "N", answer.as_bytes()).unwrap();
    let refund: Refund = wechat::read_answer(200, Some(&h), answer.as_bytes(), &platform_keys(), 1000).unwrap();
    assert_eq!(
        refund.status("1217752501201407033233368018").unwrap(),
        (RefundStatus::Success, Money::from_minor(100))
    );
    for (status, expected) in [
        ("PROCESSING", RefundStatus::Processing),
        ("CLOSED", RefundStatus::Closed),
        ("ABNORMAL", RefundStatus::Abnormal),
    ] {
        let r = Refund {
            status: status.into(),
            ..refund.clone()
        };
        assert_eq!(r.status("1217752501201407033233368018").unwrap().0, expected);
    }
    assert_eq!(
        refund.status("another"),
        Err(WechatError::OtherOrder("1217752501201407033233368018".into()))
    );
    let odd = Refund {
        status: "FAIL".into(),
        ..refund.clone()
    };
    assert!(matches!(
        odd.status("1217752501201407033233368018"),
        Err(WechatError::Malformed(_))
    ));
}

// ---------------------------------------------------------------------------------------
// The trade bill.

/// `python3 make_vectors.py` → `hashlib.sha1(open("tradebill.csv","rb").read()).hexdigest()`
/// (the same as `sha1sum tradebill.csv`).
const TRADE_BILL_SHA1: &str = "07a37dcb79f28684736965dc8b32448d571c706b";

fn bill_answer() -> BillAnswer {
    BillAnswer {
        hash_type: "SHA1".into(),
        hash_value: TRADE_BILL_SHA1.into(),
        download_url: "https://api.mch.weixin.qq.com/v3/billdownload/file?token=6XIv5TUPto7pByrTQKhd6kwvyKLG2uY2wMMR8cNXqaA_Cv_isgaUtBzp4QtiozLO".into(),
    }
}

#[test]
fn the_bill_is_checked_against_its_hash_and_gives_the_payments() {
    let a = bill_answer();
    assert_eq!(BillAnswer::for_bill(TRADE_BILL, &a.download_url), a);
    let payments = a.read_bill(TRADE_BILL, MCHID).unwrap();
    // Two payments; the refund line is left to the refund path.
    assert_eq!(payments.len(), 2);
    assert_eq!(payments[0].transaction_id, "4200000925202101284997714292");
    assert_eq!(payments[0].out_trade_no, "S20210128170702357723");
    assert_eq!(payments[0].time, "2021-01-28 17:07:11");
    assert_eq!(payments[0].total, Money::from_minor(1));
    // A coupon of WeChat Pay's: 100.00 asked, 99.50 settled to us.
    assert_eq!(
        (payments[1].total, payments[1].settlement_total),
        (Money::from_minor(10000), Money::from_minor(9950))
    );
    // The download is signed like any request, over the URL's path and query.
    let req = a.download_request(&merchant(), DOC_TIMESTAMP, DOC_NONCE).unwrap();
    assert_eq!(
        req.path_and_query,
        "/v3/billdownload/file?token=6XIv5TUPto7pByrTQKhd6kwvyKLG2uY2wMMR8cNXqaA_Cv_isgaUtBzp4QtiozLO"
    );
    // The hash in capitals is the same hash.
    let upper = BillAnswer {
        hash_value: TRADE_BILL_SHA1.to_uppercase(),
        ..a.clone()
    };
    assert!(upper.read_bill(TRADE_BILL, MCHID).is_ok());
}

#[test]
fn every_bad_bill_is_refused() {
    let a = bill_answer();
    // One byte changed: the hash does not match.
    let mut changed = TRADE_BILL.to_vec();
    let at = changed.windows(5).position(|w| w == b"99.50").unwrap();
    changed[at] = b'8';
    assert_eq!(a.read_bill(&changed, MCHID), Err(WechatError::BadHash));
    let md5 = BillAnswer {
        hash_type: "MD5".into(),
        ..a.clone()
    };
    assert_eq!(
        md5.read_bill(TRADE_BILL, MCHID),
        Err(WechatError::UnsupportedHash("MD5".into()))
    );
    // Another merchant's bill.
    assert_eq!(
        wechat::parse_trade_bill(TRADE_BILL, "1900000110"),
        Err(WechatError::WrongMerchant(MCHID.into()))
    );
    let text = std::str::from_utf8(TRADE_BILL).unwrap();
    // Cut off before the summary, or a line missing.
    let cut = text.split("总交易单数").next().unwrap();
    assert!(matches!(
        wechat::parse_trade_bill(cut.as_bytes(), MCHID),
        Err(WechatError::Malformed(_))
    ));
    let fewer: String = text
        .split("\r\n")
        .enumerate()
        .filter(|(i, _)| *i != 2)
        .map(|(_, l)| format!("{l}\r\n"))
        .collect();
    assert!(matches!(
        wechat::parse_trade_bill(fewer.as_bytes(), MCHID),
        Err(WechatError::Malformed(_))
    ));
    // Not exact yuan, not CNY, a field without its backtick.
    for (from, to) in [
        ("`0.01,`0.00,`0,`0,", "`0.011,`0.00,`0,`0,"),
        ("`CMC,`CNY", "`CMC,`USD"),
        ("`S20210128153505214586", "S20210128153505214586"),
    ] {
        let bad = text.replacen(from, to, 1);
        assert_ne!(bad, text, "{from}");
        let err = wechat::parse_trade_bill(bad.as_bytes(), MCHID).unwrap_err();
        assert!(
            matches!(
                err,
                WechatError::Amount(_) | WechatError::WrongCurrency(_) | WechatError::Malformed(_)
            ),
            "{from}: {err:?}"
        );
    }
    assert_eq!(
        wechat::parse_trade_bill(text.replacen("`CMC,`CNY", "`CMC,`USD", 1).as_bytes(), MCHID),
        Err(WechatError::WrongCurrency("USD".into()))
    );
    // Oversized.
    let big = vec![b'`'; wechat::BILL_BYTES_MAX + 1];
    assert!(matches!(a.read_bill(&big, MCHID), Err(WechatError::TooLarge { .. })));
}

#[test]
fn the_simulators_bill_reads_back() {
    let lines = vec![
        BillLine {
            time: "2026-10-03 10:00:00".into(),
            appid: APPID.into(),
            mchid: MCHID.into(),
            transaction_id: "4200000000202610030000000001".into(),
            out_trade_no: "D1".into(),
            openid: "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o".into(),
            total: Money::from_minor(1234),
            description: "月卡, 30天".into(),
        },
        BillLine {
            time: "2026-10-03 11:00:00".into(),
            appid: APPID.into(),
            mchid: MCHID.into(),
            transaction_id: "4200000000202610030000000002".into(),
            out_trade_no: "D2".into(),
            openid: "o2".into(),
            total: Money::from_minor(5),
            description: "x".into(),
        },
    ];
    let bill = wechat::write_trade_bill(&lines).unwrap();
    assert!(bill.starts_with("交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,"));
    assert!(bill.ends_with("总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额\r\n`2,`12.39,`0.00,`0.00,`0.00000,`12.39,`0.00\r\n"));
    let answer = BillAnswer::for_bill(bill.as_bytes(), "https://sandbox.example/v3/billdownload/file?token=t");
    let read = answer.read_bill(bill.as_bytes(), MCHID).unwrap();
    assert_eq!(
        read.iter()
            .map(|p| (
                p.transaction_id.as_str(),
                p.out_trade_no.as_str(),
                p.total,
                p.settlement_total
            ))
            .collect::<Vec<_>>(),
        vec![
            (
                "4200000000202610030000000001",
                "D1",
                Money::from_minor(1234),
                Money::from_minor(1234)
            ),
            (
                "4200000000202610030000000002",
                "D2",
                Money::from_minor(5),
                Money::from_minor(5)
            ),
        ]
    );
}

#[test]
fn the_order_expiry_is_written_in_beijing_time() {
    let t: jiff::Timestamp = "2026-10-03T16:30:00Z".parse().unwrap();
    assert_eq!(wechat::beijing_time(t), "2026-10-04T00:30:00+08:00");
    assert_eq!(wechat::parse_time("2026-10-04T00:30:00+08:00").unwrap(), t);
    assert!(wechat::parse_time("2026-10-04 00:30:00").is_err());
}
