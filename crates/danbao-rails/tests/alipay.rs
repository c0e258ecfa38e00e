//! Alipay's RSA2 wire format against vectors computed outside this code: the signing string
//! of Alipay's own documentation, and signatures made by OpenSSL with the committed test keys
//! (`tests/data/alipay/make_vectors.py` prints every vector below; each constant names the
//! command that made it). Then every refusal the issue names, and round trips merchant →
//! gateway → merchant through the simulator's side of the same module.
#![allow(clippy::unwrap_used)]

use danbao_domain::money::MoneyError;
use danbao_domain::Money;
use danbao_rails::alipay::{
    self, AlipayError, BillPayment, BillUrlAnswer, Head, Method, Notification, PayOrder, Payment, PrecreateAnswer,
    QueryAnswer, RefundAnswer, RefundOrder, RefundQueryAnswer, Request,
};
use danbao_rails::rsa_sha256::{SigningKey, VerifyingKey};

const APP_PRIVATE: &str = include_str!("data/alipay/app-private.pem");
const APP_PUBLIC: &str = include_str!("data/alipay/app-public.pem");
const ALIPAY_PRIVATE: &str = include_str!("data/alipay/alipay-private.pem");
const ALIPAY_PUBLIC: &str = include_str!("data/alipay/alipay-public.pem");

const APP_ID: &str = "2021000000000001";
const SELLER_ID: &str = "2088621000000001";
const OUT_TRADE_NO: &str = "D20240501000001";
const TRADE_NO: &str = "2024050122001400001234567890";

fn app_key() -> SigningKey {
    SigningKey::from_text(APP_PRIVATE).unwrap()
}
fn app_public() -> VerifyingKey {
    VerifyingKey::from_text(APP_PUBLIC).unwrap()
}
fn alipay_key() -> SigningKey {
    SigningKey::from_text(ALIPAY_PRIVATE).unwrap()
}
fn alipay_public() -> VerifyingKey {
    VerifyingKey::from_text(ALIPAY_PUBLIC).unwrap()
}

fn params(pairs: &[(&str, &str)]) -> alipay::Params {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

// ---------------------------------------------------------------------------------------
// Signing strings and request signatures
// ---------------------------------------------------------------------------------------

/// The example request of Alipay's "自行实现签名" page (opendocs.alipay.com/common/02kf5q), in
/// the order the page lists its parameters.
const DOC_BIZ_CONTENT: &str = r#"{"button":[{"actionParam":"ZFB_HFCZ","actionType":"out","name":"话费充值"},{"name":"查询","subButton":[{"actionParam":"ZFB_YECX","actionType":"out","name":"余额查询"},{"actionParam":"ZFB_LLCX","actionType":"out","name":"流量查询"},{"actionParam":"ZFB_HFCX","actionType":"out","name":"话费查询"}]},{"actionParam":"http://m.alipay.com","actionType":"link","name":"最新优惠"}]}"#;
/// The signing string that page gives for it.
const DOC_SIGNING_STRING: &str = r#"app_id=2014072300007148&biz_content={"button":[{"actionParam":"ZFB_HFCZ","actionType":"out","name":"话费充值"},{"name":"查询","subButton":[{"actionParam":"ZFB_YECX","actionType":"out","name":"余额查询"},{"actionParam":"ZFB_LLCX","actionType":"out","name":"流量查询"},{"actionParam":"ZFB_HFCX","actionType":"out","name":"话费查询"}]},{"actionParam":"http://m.alipay.com","actionType":"link","name":"最新优惠"}]}&charset=GBK&method=alipay.mobile.public.menu.add&sign_type=RSA2&timestamp=2014-07-24 03:07:50&version=1.0"#;
/// printf '%s' "$DOC_SIGNING_STRING" | openssl dgst -sha256 -sign tests/data/alipay/app-private.pem | base64 -w0
const DOC_SIGNATURE: &str = "yo9Ihacs90aUszw21BokpOt/zKAQr2F8hD0FcGuC/ZivZM7dbck3Qbv0seu09WoyvLGUNiMkgByXVBCrK8BnG467Kuac3qsgm54GcyTFNHZWk+cstxBby3N1CvMimmdkgBWrmUIGm/X5ncpViWH2NaOGJ/bHbNWXC24IdZZ5fR8VA4oV6vE+Lyi9ROyrTfiY/OiFZ7IysdCvlMo9UkGC8eS4mMF2cznCP9AezJ3LipsRUha5F87WtnCWGW/kQclNgpJ5dMRJywAD2ngtidEoNV9+O4pTM0WelwP6JjzWU5xiwKOPLwO5Hu77ulj/DchkhSo819jT2JPwjWYdDyFSdQ==";

#[test]
fn the_documented_signing_string_is_reproduced_and_signed_as_openssl_signs_it() {
    let mut p = params(&[
        ("app_id", "2014072300007148"),
        ("method", "alipay.mobile.public.menu.add"),
        ("charset", "GBK"),
        ("sign_type", "RSA2"),
        ("timestamp", "2014-07-24 03:07:50"),
        ("biz_content", DOC_BIZ_CONTENT),
        ("version", "1.0"),
    ]);
    assert_eq!(alipay::request_signing_string(&p), DOC_SIGNING_STRING);
    alipay::sign_request(&mut p, &app_key()).unwrap();
    assert_eq!(alipay::value(&p, "sign"), Some(DOC_SIGNATURE));
    alipay::verify_request(&p, &app_public()).unwrap();
    // The same request checked with Alipay's key instead of the merchant's does not verify.
    assert_eq!(
        alipay::verify_request(&p, &alipay_public()).unwrap_err(),
        AlipayError::BadSignature
    );
}

#[test]
fn the_signature_is_left_out_sign_type_only_from_notifications_empty_values_only_from_requests() {
    let p = params(&[
        ("b", "2"),
        ("passback_params", ""),
        ("a", "1"),
        ("sign", "x"),
        ("sign_type", "RSA2"),
        ("A", "0"),
        ("c", "a b&c=d"),
    ]);
    // Bytewise order (capitals first), "0" is a value, values raw (not URL-encoded).
    assert_eq!(
        alipay::request_signing_string(&p),
        "A=0&a=1&b=2&c=a b&c=d&sign_type=RSA2"
    );
    // A notification's keeps empty values, as Alipay's SDKs check it.
    assert_eq!(
        alipay::notification_signing_string(&p),
        "A=0&a=1&b=2&c=a b&c=d&passback_params="
    );
}

#[test]
fn china_time_is_utc_plus_eight() {
    let at: jiff::Timestamp = "2024-05-01T04:00:00Z".parse().unwrap();
    assert_eq!(alipay::china_time(at), "2024-05-01 12:00:00");
    let midnight: jiff::Timestamp = "2023-12-31T16:00:00Z".parse().unwrap();
    assert_eq!(alipay::china_time(midnight), "2024-01-01 00:00:00");
}

fn head() -> Head {
    Head {
        app_id: APP_ID.into(),
        timestamp: alipay::china_time("2024-05-01T04:00:00Z".parse().unwrap()),
        notify_url: Some("https://danbao.example/pay/alipay/notify".into()),
        return_url: Some("https://danbao.example/orders/o-1".into()),
    }
}

fn order() -> PayOrder {
    PayOrder {
        out_trade_no: OUT_TRADE_NO.into(),
        total_amount: Money::from_minor(1234),
        subject: "游戏点卡 100元".into(),
        time_expire: Some("2024-05-01 12:15:00".into()),
    }
}

const PAGE_PAY_SIGNING_STRING: &str = r#"app_id=2021000000000001&biz_content={"out_trade_no":"D20240501000001","total_amount":"12.34","subject":"游戏点卡 100元","product_code":"FAST_INSTANT_TRADE_PAY","time_expire":"2024-05-01 12:15:00"}&charset=utf-8&format=JSON&method=alipay.trade.page.pay&notify_url=https://danbao.example/pay/alipay/notify&return_url=https://danbao.example/orders/o-1&sign_type=RSA2&timestamp=2024-05-01 12:00:00&version=1.0"#;
/// printf '%s' "$PAGE_PAY_SIGNING_STRING" | openssl dgst -sha256 -sign tests/data/alipay/app-private.pem | base64 -w0
const PAGE_PAY_SIGNATURE: &str = "HeYEth26YvKotT94fuzvPeoi27uTbvi0XcpTgIXQAVNvgar7vUcplOfihIAiyKEvVa11pFxAxp4Of2PrAvpT28yETfzcmExbYSJQRdDhLzH0e9R3VGyfgC9+OGyaROX2Fp3LntgqZrQq8kOzVuwUaF2nPJ1ThgiI4rnA5vBtm0twF/HHuWU17fQjvJlwz1nTOwmPARh2JtxBCoMno220pIbrJ7xjj5jJofElxhJiuPpLhqTDtK3/y1SQN9qpi1lsSXYbw6UY1Yd4XJAKI0qVkTDXIk6OPbxnrIgwBFVcNWmu4lCTJE9OeJXQWXrePbowbsDbvyBPy7fss5nXVNK0Dw==";

#[test]
fn the_page_pay_request_is_signed_as_openssl_signs_it() {
    let request = Request::PagePay(order());
    let p = request.signed_params(&head(), &app_key()).unwrap();
    assert_eq!(alipay::request_signing_string(&p), PAGE_PAY_SIGNING_STRING);
    assert_eq!(alipay::value(&p, "sign"), Some(PAGE_PAY_SIGNATURE));
    let url = request.page_url(alipay::GATEWAY, &head(), &app_key()).unwrap();
    assert!(
        url.starts_with(
            "https://openapi.alipay.com/gateway.do?app_id=2021000000000001&method=alipay.trade.page.pay&format=JSON&charset=utf-8&sign_type=RSA2&timestamp=2024-05-01+12%3A00%3A00&version=1.0&notify_url=https%3A%2F%2Fdanbao.example%2Fpay%2Falipay%2Fnotify&return_url="
        ),
        "{url}"
    );
    // The URL's query decodes to exactly the signed parameters.
    let query = url.split_once('?').unwrap().1;
    assert_eq!(alipay::parse_params(query).unwrap(), p);
    // Only the browser's methods have a page URL.
    let query_request = Request::Query {
        out_trade_no: OUT_TRADE_NO.into(),
    };
    assert_eq!(
        query_request
            .page_url(alipay::GATEWAY, &head(), &app_key())
            .unwrap_err(),
        AlipayError::WrongMethod("alipay.trade.query".into())
    );
}

#[test]
fn each_method_has_its_name_product_code_and_answer_member() {
    let wap = Request::WapPay(order()).biz_content().unwrap();
    assert!(wap.contains(r#""product_code":"QUICK_WAP_WAY""#), "{wap}");
    let page = Request::PagePay(order()).biz_content().unwrap();
    assert!(page.contains(r#""product_code":"FAST_INSTANT_TRADE_PAY""#), "{page}");
    let refund = Request::Refund(RefundOrder {
        out_trade_no: OUT_TRADE_NO.into(),
        refund_amount: Money::from_minor(500),
        out_request_no: "R1".into(),
        refund_reason: None,
    })
    .biz_content()
    .unwrap();
    assert_eq!(
        refund,
        r#"{"out_trade_no":"D20240501000001","refund_amount":"5.00","out_request_no":"R1"}"#
    );
    assert_eq!(Method::Query.response_member(), "alipay_trade_query_response");
    assert_eq!(
        Method::BillDownloadUrl.response_member(),
        "alipay_data_dataservice_bill_downloadurl_query_response"
    );
    assert_eq!(
        Method::RefundQuery.response_member(),
        "alipay_trade_fastpay_refund_query_response"
    );
    for m in Method::ALL {
        assert_eq!(Method::from_name(m.name()), Some(m));
    }
    // return_url goes with the browser's methods only.
    let precreate = Request::Precreate(order()).signed_params(&head(), &app_key()).unwrap();
    assert_eq!(alipay::value(&precreate, "return_url"), None);
    assert!(alipay::value(&precreate, "notify_url").is_some());
}

// ---------------------------------------------------------------------------------------
// The gateway's side: reading a merchant's request
// ---------------------------------------------------------------------------------------

fn every_request() -> Vec<Request> {
    vec![
        Request::PagePay(order()),
        Request::WapPay(order()),
        Request::Precreate(PayOrder {
            time_expire: None,
            ..order()
        }),
        Request::Query {
            out_trade_no: OUT_TRADE_NO.into(),
        },
        Request::Refund(RefundOrder {
            out_trade_no: OUT_TRADE_NO.into(),
            refund_amount: Money::from_minor(1234),
            out_request_no: "D20240501000001-R1".into(),
            refund_reason: Some("卖家缺货".into()),
        }),
        Request::RefundQuery {
            out_trade_no: OUT_TRADE_NO.into(),
            out_request_no: "D20240501000001-R1".into(),
        },
        Request::BillDownloadUrl {
            bill_type: alipay::BILL_TYPE_TRADE.into(),
            bill_date: "2024-05-01".into(),
        },
    ]
}

#[test]
fn the_gateway_reads_back_every_request_the_merchant_signs() {
    for request in every_request() {
        let body = request.form_body(&head(), &app_key()).unwrap();
        let p = alipay::parse_request_params("", &body).unwrap();
        let (their_head, read) = Request::read(&p, &app_public()).unwrap();
        assert_eq!(read, request);
        assert_eq!(their_head.app_id, APP_ID);
        assert_eq!(their_head.timestamp, "2024-05-01 12:00:00");
        let expected_return = request.method().is_page().then(|| head().return_url.unwrap());
        assert_eq!(their_head.return_url, expected_return, "{:?}", request.method());
    }
}

#[test]
fn the_gateway_reads_a_request_split_between_query_and_body_as_the_sdks_send_it() {
    let p = Request::Query {
        out_trade_no: OUT_TRADE_NO.into(),
    }
    .signed_params(&head(), &app_key())
    .unwrap();
    let (common, biz): (Vec<_>, Vec<_>) = p.into_iter().partition(|(k, _)| k != "biz_content");
    let query = serde_urlencoded::to_string(&common).unwrap();
    let body = serde_urlencoded::to_string(&biz).unwrap();
    let split = alipay::parse_request_params(&query, &body).unwrap();
    let (_, read) = Request::read(&split, &app_public()).unwrap();
    assert_eq!(
        read,
        Request::Query {
            out_trade_no: OUT_TRADE_NO.into()
        }
    );
    // A name in both halves is refused, whichever the signature covered.
    assert_eq!(
        alipay::parse_request_params(&query, &format!("{body}&app_id=2021000000000002")).unwrap_err(),
        AlipayError::DuplicateParameter("app_id".into())
    );
}

/// The page-pay request with `changes` made and signed again with the merchant's key (a
/// request that verifies but says something the gateway must refuse).
fn request_with(changes: &[(&str, &str)]) -> alipay::Params {
    let mut p = Request::PagePay(order()).signed_params(&head(), &app_key()).unwrap();
    p.retain(|(k, _)| k != "sign");
    for (k, v) in changes {
        match p.iter_mut().find(|(name, _)| name == k) {
            Some(param) => param.1 = v.to_string(),
            None => p.push((k.to_string(), v.to_string())),
        }
    }
    alipay::sign_request(&mut p, &app_key()).unwrap();
    p
}

fn biz_with(total_amount: &str, product_code: &str) -> String {
    format!(
        r#"{{"out_trade_no":"D20240501000001","total_amount":"{total_amount}","subject":"x","product_code":"{product_code}"}}"#
    )
}

#[test]
fn the_gateway_refuses_every_bad_request() {
    let read = |p: &alipay::Params| Request::read(p, &app_public()).unwrap_err();
    // Signed by someone else, or changed after signing.
    let (other, _) = SigningKey::generate().unwrap();
    let forged = Request::PagePay(order()).signed_params(&head(), &other).unwrap();
    assert_eq!(read(&forged), AlipayError::BadSignature);
    let mut tampered = Request::PagePay(order()).signed_params(&head(), &app_key()).unwrap();
    for param in tampered.iter_mut().filter(|(k, _)| k == "biz_content") {
        param.1 = param.1.replace("12.34", "0.01");
    }
    assert_eq!(read(&tampered), AlipayError::BadSignature);
    let mut unsigned = request_with(&[]);
    unsigned.retain(|(k, _)| k != "sign");
    assert_eq!(read(&unsigned), AlipayError::BadSignature);
    // Signed, but not as we allow.
    assert_eq!(
        read(&request_with(&[("sign_type", "RSA")])),
        AlipayError::WrongSignType("RSA".into())
    );
    assert_eq!(
        read(&request_with(&[("charset", "GBK")])),
        AlipayError::WrongCharset("GBK".into())
    );
    assert_eq!(
        read(&request_with(&[("method", "alipay.trade.pay")])),
        AlipayError::WrongMethod("alipay.trade.pay".into())
    );
    assert_eq!(
        read(&request_with(&[("biz_content", &biz_with("12.34", "QUICK_WAP_WAY"))])),
        AlipayError::Malformed("product_code \"QUICK_WAP_WAY\" is not FAST_INSTANT_TRADE_PAY".into())
    );
    assert_eq!(
        read(&request_with(&[(
            "biz_content",
            &biz_with("0.00", "FAST_INSTANT_TRADE_PAY")
        )])),
        AlipayError::NotPositive("0.00".into())
    );
    assert_eq!(
        read(&request_with(&[(
            "biz_content",
            &biz_with("12.345", "FAST_INSTANT_TRADE_PAY")
        )])),
        AlipayError::Amount(MoneyError::NotYuan("12.345".into()))
    );
    assert_eq!(
        read(&request_with(&[("timestamp", "2024-05-01T12:00:00")])),
        AlipayError::Malformed("timestamp \"2024-05-01T12:00:00\"".into())
    );
    let mut twice = request_with(&[]);
    twice.push(("app_id".into(), "2021000000000002".into()));
    assert_eq!(read(&twice), AlipayError::DuplicateParameter("app_id".into()));
    let huge = format!("subject={}", "x".repeat(alipay::MAX_FORM_BYTES));
    assert!(matches!(
        alipay::parse_request_params("", &huge).unwrap_err(),
        AlipayError::TooLarge { what: "request", .. }
    ));
}

// ---------------------------------------------------------------------------------------
// The notification
// ---------------------------------------------------------------------------------------

/// The simulator's paid notification, signed with the stand-in for Alipay's key:
/// printf '%s' "$PAID_SIGNING_STRING" | openssl dgst -sha256 -sign tests/data/alipay/alipay-private.pem | base64 -w0
/// (the form then encoded by Python's urllib.parse.urlencode: make_vectors.py).
const PAID: &str = "gmt_create=2024-05-01+12%3A03%3A20&charset=utf-8&subject=%E6%B8%B8%E6%88%8F%E7%82%B9%E5%8D%A1+100%E5%85%83&buyer_id=2088102177846875&notify_id=2024050100222120321046870512345678&notify_type=trade_status_sync&trade_status=TRADE_SUCCESS&app_id=2021000000000001&sign_type=RSA2&seller_id=2088621000000001&gmt_payment=2024-05-01+12%3A03%3A21&notify_time=2024-05-01+12%3A03%3A22&version=1.0&out_trade_no=D20240501000001&total_amount=12.34&trade_no=2024050122001400001234567890&auth_app_id=2021000000000001&sign=XGVVW4Umh9yRo6XD7zMNG0aFOQU1ZtN5R7EK5KrIuVJ%2F%2FVWP0YAnlGj13CasAXw6RvJadWXmgubGp7Z%2BI35kEIg39Knhf2tkJS5%2B4hUBgLMr24yzzmK1Vjhg5RgA%2F1xfhXvCum9WKUm%2BIa3jdI7GxdcqAT89fUzvyl66TitswC49T%2BhOzYDSSlothAEiYe9YhQqEvPfeht7CWEnL463LFZ1b8uKeRvQElp5srGvdUNNsdPMI9xQGCC%2FIRsdVk2NrB%2Bb9jQoWeRUPbXJl2CY3OviugW%2FHYiFvnZPSZytkHum8PHwZsz2v6Z0SkfyDWkH0zd7Z5CBAAOdS1JNWmmPVFg%3D%3D";
const PAID_SIGNING_STRING: &str = r#"app_id=2021000000000001&auth_app_id=2021000000000001&buyer_id=2088102177846875&charset=utf-8&gmt_create=2024-05-01 12:03:20&gmt_payment=2024-05-01 12:03:21&notify_id=2024050100222120321046870512345678&notify_time=2024-05-01 12:03:22&notify_type=trade_status_sync&out_trade_no=D20240501000001&seller_id=2088621000000001&subject=游戏点卡 100元&total_amount=12.34&trade_no=2024050122001400001234567890&trade_status=TRADE_SUCCESS&version=1.0"#;
/// A notification with every field a real Alipay server sends (fund_bill_list,
/// buyer_logon_id, an empty passback_params, …), signed as Alipay's SDKs check it, the empty
/// value kept as `passback_params=` (make_vectors.py, same openssl command).
const REAL_SHAPED: &str = "gmt_create=2024-05-01+12%3A03%3A20&charset=utf-8&seller_email=shop%40danbao.example&subject=%E6%B8%B8%E6%88%8F%E7%82%B9%E5%8D%A1+100%E5%85%83&body=%E8%AE%A2%E5%8D%95+D20240501000001&buyer_id=2088102177846875&invoice_amount=12.34&notify_id=2024050100222120321046870512345678&fund_bill_list=%5B%7B%22amount%22%3A%2212.34%22%2C%22fundChannel%22%3A%22ALIPAYACCOUNT%22%7D%5D&notify_type=trade_status_sync&trade_status=TRADE_SUCCESS&receipt_amount=12.34&app_id=2021000000000001&buyer_pay_amount=12.34&sign_type=RSA2&seller_id=2088621000000001&gmt_payment=2024-05-01+12%3A03%3A21&notify_time=2024-05-01+12%3A03%3A22&passback_params=&version=1.0&out_trade_no=D20240501000001&total_amount=12.34&trade_no=2024050122001400001234567890&auth_app_id=2021000000000001&buyer_logon_id=159%2A%2A%2A%2A5620&point_amount=0.00&sign=hudUvquDv67avHH4wUpIpe8Zs659ro1%2FikCL0lwKtRp3zdWpatYMsVHLWaaZDif53hour3qjqTB0zdi5Oqrcae0WXNIO%2F081Dlmsej%2B13X3CG25GIZpw8l%2FV44RiAVPKu%2B5mRMUeF5cyAER6BECdRaxhAVGHr9oIWs20rnt%2BgjFQdwJpCXhruB8IgTgEq6JBaVFOcsM9t3jMDuVawTRM5IgHrGfxtTpx3XfE9OF9iAMUTMGmoAXf%2FASQGkIW4FZu6zIcYRh8rjZhwFk9E9gyFWRqnqbAP4tpURK0h1rnrqZX9078V2MoeFXRc7hu6EKWiTvMvFjfRaUwU1sw4fGFTQ%3D%3D";
/// The same, signed with the empty value dropped, the documentation's rule for requests
/// (make_vectors.py, same openssl command).
const REAL_SHAPED_EMPTY_DROPPED: &str = "gmt_create=2024-05-01+12%3A03%3A20&charset=utf-8&seller_email=shop%40danbao.example&subject=%E6%B8%B8%E6%88%8F%E7%82%B9%E5%8D%A1+100%E5%85%83&body=%E8%AE%A2%E5%8D%95+D20240501000001&buyer_id=2088102177846875&invoice_amount=12.34&notify_id=2024050100222120321046870512345678&fund_bill_list=%5B%7B%22amount%22%3A%2212.34%22%2C%22fundChannel%22%3A%22ALIPAYACCOUNT%22%7D%5D&notify_type=trade_status_sync&trade_status=TRADE_SUCCESS&receipt_amount=12.34&app_id=2021000000000001&buyer_pay_amount=12.34&sign_type=RSA2&seller_id=2088621000000001&gmt_payment=2024-05-01+12%3A03%3A21&notify_time=2024-05-01+12%3A03%3A22&passback_params=&version=1.0&out_trade_no=D20240501000001&total_amount=12.34&trade_no=2024050122001400001234567890&auth_app_id=2021000000000001&buyer_logon_id=159%2A%2A%2A%2A5620&point_amount=0.00&sign=aeIN14JfLbBQUBF4gz7SyU4pKVVCHZyn1a19VEEzOJHmd6j%2Fi3rs2i7bNJ49FcROzWDtgiiLQwCdCOD7j%2F8r4v8L7I%2Bfkr%2FNY44324x0f47bFUJ7nFCStK8mdo8bTdvwsYjBUT6SwUdpLZR9RUpPVvMiLCnFNMfXeUeeERIQ23GS1UKzpXTo9VbOeTRDvKkacp4xkxhwJmKxwpeWwZkQzA03C%2BBN1%2BNvVghU%2FsE2ou7L7WZJGX%2FJVQeCwIhvZeuxqucKZtGXw1QkLd2SxcCQA9edzSWufPdl0KI4Rmvaa1SRIVMMkwPSvAVVFxpO2WFOR4BOEVVObsiCTqy900K54g%3D%3D";

fn paid_notification() -> Notification {
    Notification {
        notify_time: "2024-05-01 12:03:22".into(),
        notify_id: "2024050100222120321046870512345678".into(),
        app_id: APP_ID.into(),
        seller_id: SELLER_ID.into(),
        trade_no: TRADE_NO.into(),
        out_trade_no: OUT_TRADE_NO.into(),
        trade_status: alipay::TRADE_SUCCESS.into(),
        total_amount: Money::from_minor(1234),
        buyer_id: Some("2088102177846875".into()),
        subject: Some("游戏点卡 100元".into()),
        gmt_create: Some("2024-05-01 12:03:20".into()),
        gmt_payment: Some("2024-05-01 12:03:21".into()),
        refund_fee: None,
    }
}

fn expected_payment() -> Payment {
    Payment {
        out_trade_no: OUT_TRADE_NO.into(),
        trade_no: TRADE_NO.into(),
        amount: Money::from_minor(1234),
        buyer_id: Some("2088102177846875".into()),
        paid_at: Some("2024-05-01 12:03:21".into()),
    }
}

fn read_notification(body: &str) -> Result<Payment, AlipayError> {
    Notification::read(body, APP_ID, SELLER_ID, &alipay_public())
}

#[test]
fn a_paid_notification_is_read() {
    let params = alipay::parse_params(PAID).unwrap();
    assert_eq!(alipay::notification_signing_string(&params), PAID_SIGNING_STRING);
    assert_eq!(read_notification(PAID).unwrap(), expected_payment());
    assert_eq!(read_notification(REAL_SHAPED).unwrap(), expected_payment());
    assert_eq!(
        read_notification(REAL_SHAPED_EMPTY_DROPPED).unwrap(),
        expected_payment()
    );
    // Under either rule, a value changed after signing does not verify.
    assert_eq!(
        read_notification(&REAL_SHAPED_EMPTY_DROPPED.replace("point_amount=0.00", "point_amount=1.00")).unwrap_err(),
        AlipayError::BadSignature
    );
    // The simulator's notification is, byte for byte, the one OpenSSL signed.
    assert_eq!(paid_notification().form_body(&alipay_key()).unwrap(), PAID);
    // A finished trade (no refund possible any more) is a payment too.
    assert_eq!(
        read_notification(&signed_notification(
            &[("trade_status", "TRADE_FINISHED")],
            &alipay_key()
        ))
        .unwrap(),
        expected_payment()
    );
    assert_eq!(alipay::ACK, "success");
}

/// The paid notification with `changes` made (an empty value removes the parameter) and
/// signed again with `key`.
fn signed_notification(changes: &[(&str, &str)], key: &SigningKey) -> String {
    let mut p = alipay::parse_params(PAID).unwrap();
    p.retain(|(k, _)| k != "sign");
    for (k, v) in changes {
        match p.iter_mut().find(|(name, _)| name == k) {
            Some(param) => param.1 = v.to_string(),
            None => p.push((k.to_string(), v.to_string())),
        }
    }
    p.retain(|(_, v)| !v.is_empty());
    alipay::sign_notification(&mut p, key).unwrap();
    serde_urlencoded::to_string(p).unwrap()
}

#[test]
fn every_bad_notification_is_refused() {
    let bad = |body: &str| read_notification(body).unwrap_err();
    let alipay = alipay_key();
    // Forged: changed after signing, unsigned, signed with the merchant's own key.
    assert_eq!(
        bad(&PAID.replace("total_amount=12.34", "total_amount=1234.00")),
        AlipayError::BadSignature
    );
    assert_eq!(bad(PAID.split("&sign=").next().unwrap()), AlipayError::BadSignature);
    assert_eq!(bad(&signed_notification(&[], &app_key())), AlipayError::BadSignature);
    // A parameter given twice: the signature covers the first, PHP would read the last.
    assert_eq!(
        bad(&format!("{PAID}&total_amount=0.01")),
        AlipayError::DuplicateParameter("total_amount".into())
    );
    assert_eq!(
        bad(&PAID.replace("sign_type=RSA2", "sign_type=RSA")),
        AlipayError::WrongSignType("RSA".into())
    );
    // Verified, but not ours.
    assert_eq!(
        bad(&signed_notification(&[("app_id", "2021000000000002")], &alipay)),
        AlipayError::WrongApp("2021000000000002".into())
    );
    assert_eq!(
        bad(&signed_notification(&[("seller_id", "2088621000000002")], &alipay)),
        AlipayError::WrongSeller("2088621000000002".into())
    );
    assert_eq!(
        bad(&signed_notification(&[("seller_id", "")], &alipay)),
        AlipayError::Missing("seller_id".into())
    );
    assert_eq!(
        bad(&signed_notification(&[("charset", "gbk")], &alipay)),
        AlipayError::WrongCharset("gbk".into())
    );
    assert_eq!(
        bad(&signed_notification(&[("trans_currency", "USD")], &alipay)),
        AlipayError::WrongCurrency("USD".into())
    );
    // Verified and ours, but no money came in.
    for status in ["TRADE_CLOSED", "WAIT_BUYER_PAY", "trade_success"] {
        assert_eq!(
            bad(&signed_notification(&[("trade_status", status)], &alipay)),
            AlipayError::NotPaid(status.into())
        );
    }
    assert_eq!(
        bad(&signed_notification(&[("refund_fee", "12.34")], &alipay)),
        AlipayError::RefundNotice {
            out_trade_no: OUT_TRADE_NO.into(),
            refund_fee: Money::from_minor(1234)
        }
    );
    // Amounts that are not exact yuan, or no payment.
    for amount in ["12.345", "1e3", "-12.34", " 12.34", "12,34"] {
        assert!(
            matches!(
                bad(&signed_notification(&[("total_amount", amount)], &alipay)),
                AlipayError::Amount(MoneyError::NotYuan(_))
            ),
            "{amount}"
        );
    }
    assert_eq!(
        bad(&signed_notification(&[("total_amount", "0.00")], &alipay)),
        AlipayError::NotPositive("0.00".into())
    );
    assert_eq!(
        bad(&signed_notification(&[("trade_no", "")], &alipay)),
        AlipayError::Missing("trade_no".into())
    );
    let huge = format!("{PAID}&body={}", "x".repeat(alipay::MAX_FORM_BYTES));
    assert!(matches!(bad(&huge), AlipayError::TooLarge { what: "form", .. }));
    assert!(matches!(
        bad("%zz=&&"),
        AlipayError::Malformed(_) | AlipayError::BadSignature
    ));
}

// ---------------------------------------------------------------------------------------
// Answers
// ---------------------------------------------------------------------------------------

/// `alipay.trade.query`'s answer; the sign is over the member's exact text:
/// printf '%s' "$MEMBER" | openssl dgst -sha256 -sign tests/data/alipay/alipay-private.pem | base64 -w0
const QUERY_ANSWER: &str = r#"{"alipay_trade_query_response":{"code":"10000","msg":"Success","trade_no":"2024050122001400001234567890","out_trade_no":"D20240501000001","trade_status":"TRADE_SUCCESS","total_amount":"12.34","buyer_user_id":"2088102177846875","send_pay_date":"2024-05-01 12:03:21"},"sign":"Sqk9umT7f6Wa0WK6Zr2rVwieXdoAF9yYhj6tGu3yNz9xDWYCkhxmmpf63AZuwI5OLf+I6Kfd3NBatuXV0DmXrxvJsPpGy3mlOJJEjSQhS7BRrnegzEyVBd98Pn1L+JAsDB2B32kjmOMNw3dZ0LuHhrPjbqXP5iZrL56JVv+TeeV5jIruKeaSZx/NHttPyVZptTSmRjb8kDiNflI85d+LLGCoeBEHPcKloyJL8RytLVnrzOtWeRiXSOHZMbcfN/vHpv/n4sv1rUhrFaPM+s5eh0014EF0SJG4fB6OQ6uaofwAbsSrKAigka3jxSKLDqBB8PRmqc+65Z4g0NSscMLVig=="}"#;
/// A signed refusal, signed the same way (make_vectors.py).
const NOT_EXIST_ANSWER: &str = r#"{"alipay_trade_query_response":{"code":"40004","msg":"Business Failed","sub_code":"ACQ.TRADE_NOT_EXIST","sub_msg":"交易不存在"},"sign":"kH3BxL/1ZgjOmt4bwDCVkPjcGDOSHXunBgmZ8DbQWSJ1q7JfbapsWTOTK+OwivFY8XssP5LWbPg/lJ5pWlOkfwVL8u0J2/iL2/+SvPpVz0KVNUGK97qJbin6sk7ooscp+BTaET1a+Zt4mR/YaRrZE4ld3g7GqA4PhANpz4FEAh6+hvq1eFJqpRaGMWtIAbyqWFgus2p1zCSwHK1L1cqixAKm2gAo+2twe+bbaPH2KJhb/1JpLe+crb7JFirbMPYKAnqILphOPJmlgZP4koP528usZDjpt0+URnwwH12IARw0sW8kI/o5V/KNXb8t8P01ZAJZBr4DkMPrdTXt4fV9vQ=="}"#;
/// An answer written with `\/` for `/`, signed over the member's text with `/`:
/// printf '%s' "${MEMBER//\\\//\/}" | openssl dgst -sha256 -sign tests/data/alipay/alipay-private.pem | base64 -w0
const PRECREATE_ESCAPED_ANSWER: &str = r#"{"alipay_trade_precreate_response":{"code":"10000","msg":"Success","out_trade_no":"D20240501000001","qr_code":"https:\/\/qr.alipay.com\/bax08431ljhokirwl38f00a7"},"sign":"eSVCn1WkcWkZz7KE/1C9JbY6NSydMp0xSxHsgBVdStFsVXC9xvzwh3bkQB3ajOSlsTLapUWnw6eK71duNbNZMC18JsSoJ3Q6UDyL4g3jGQ+326rBj7pVkHLydd4IMF3Q6uXdIXmB6RJ0U+Zg55pHV7Y81eWISgz0y+V/kOfJGgzgd4DL6pU/ZB3slEFze7WxjKnYYYgRwfodnMh7zEQ9bm0pkuQ1XIAauiAEMV6QptpoBC8bZhEqU6wi0QwAb3fV6wD6/UaQuA2oTFkl/LZrg5D//fdeRedkuF/aAl3P+Jl+aglWyqpEqr3VNFhxx2vZ+D+U7eMQkc2kam8idbk1Zg=="}"#;
/// `alipay.trade.refund`'s answer, signed as QUERY_ANSWER (make_vectors.py).
const REFUND_ANSWER: &str = r#"{"alipay_trade_refund_response":{"code":"10000","msg":"Success","trade_no":"2024050122001400001234567890","out_trade_no":"D20240501000001","fund_change":"Y","refund_fee":"12.34","gmt_refund_pay":"2024-05-02 09:00:00"},"sign":"Q2XBYsV7+Pgn2LpOwwHJBgEQC2tuddd7Q/zE0a/CRA8KK1oKbpeWIZvLq8coE6d2xPPWU21mCQtwGBDIjPpCW8GQigh43kv/Y2M/NfifEp9GlwPXRqrm+RjL7kgXEWESa3Z3IG+zyn5in6TB5AEA45v4p7o7GLKviuBqG78moOw9SMXob922zhiZhMEfkxwG0PHnsB2wGgkI/kJq6/7AQQZiTw3F92aQea4/geVWMD4I6e6pOkpo05xn4b1bWoapx/ig1kb1ZM+EsiXjGHY7Wuo/sxczzhcYrj54t6YDs3FQwsakdh+Qv4gztZkoD+CNy3GrwNpQfMp1xJ/uPt0Npw=="}"#;

fn paid_query() -> QueryAnswer {
    QueryAnswer {
        trade_no: TRADE_NO.into(),
        out_trade_no: OUT_TRADE_NO.into(),
        trade_status: alipay::TRADE_SUCCESS.into(),
        total_amount: Money::from_minor(1234),
        buyer_id: Some("2088102177846875".into()),
        send_pay_date: Some("2024-05-01 12:03:21".into()),
    }
}

#[test]
fn a_signed_query_answer_is_read_and_written_byte_for_byte() {
    let answer = QueryAnswer::read(QUERY_ANSWER, &alipay_public(), OUT_TRADE_NO).unwrap();
    assert_eq!(answer, paid_query());
    assert_eq!(answer.payment().unwrap(), expected_payment());
    assert_eq!(paid_query().to_body(&alipay_key()).unwrap(), QUERY_ANSWER);
    let waiting = QueryAnswer {
        trade_status: alipay::WAIT_BUYER_PAY.into(),
        ..paid_query()
    };
    assert_eq!(
        waiting.payment().unwrap_err(),
        AlipayError::NotPaid("WAIT_BUYER_PAY".into())
    );
}

#[test]
fn the_signature_is_over_the_members_exact_bytes() {
    let key = alipay_public();
    // The same JSON, re-spaced or with its members in another order, is not what was signed.
    let respaced = QUERY_ANSWER.replace(r#""code":"10000","#, r#""code": "10000", "#);
    assert_ne!(respaced, QUERY_ANSWER);
    assert_eq!(
        QueryAnswer::read(&respaced, &key, OUT_TRADE_NO).unwrap_err(),
        AlipayError::BadSignature
    );
    let reordered = QUERY_ANSWER.replace(
        r#""code":"10000","msg":"Success","#,
        r#""msg":"Success","code":"10000","#,
    );
    assert_eq!(
        QueryAnswer::read(&reordered, &key, OUT_TRADE_NO).unwrap_err(),
        AlipayError::BadSignature
    );
    // Whitespace around the member (outside what is signed) does not matter.
    let spaced_outside = QUERY_ANSWER.replacen(
        r#""alipay_trade_query_response":"#,
        "\"alipay_trade_query_response\" : ",
        1,
    );
    assert!(QueryAnswer::read(&spaced_outside, &key, OUT_TRADE_NO).is_ok());
    // A changed amount, or Alipay's signature checked with another key, does not verify.
    let tampered = QUERY_ANSWER.replace("12.34", "99.99");
    assert_eq!(
        QueryAnswer::read(&tampered, &key, OUT_TRADE_NO).unwrap_err(),
        AlipayError::BadSignature
    );
    assert_eq!(
        QueryAnswer::read(QUERY_ANSWER, &app_public(), OUT_TRADE_NO).unwrap_err(),
        AlipayError::BadSignature
    );
    // Like Alipay's SDKs, an answer written with "\/" verifies over the text with "/".
    let precreate = PrecreateAnswer::read(PRECREATE_ESCAPED_ANSWER, &key, OUT_TRADE_NO).unwrap();
    assert_eq!(precreate.qr_code, "https://qr.alipay.com/bax08431ljhokirwl38f00a7");
}

#[test]
fn every_bad_answer_is_refused() {
    let key = alipay_public();
    let query = |body: &str| QueryAnswer::read(body, &key, OUT_TRADE_NO).unwrap_err();
    // A signed refusal: the trade does not exist.
    assert_eq!(
        query(NOT_EXIST_ANSWER),
        AlipayError::Refused {
            code: "40004".into(),
            msg: "Business Failed".into(),
            sub_code: alipay::SUB_TRADE_NOT_EXIST.into(),
            sub_msg: "交易不存在".into(),
        }
    );
    assert_eq!(
        alipay::refusal_body(
            Method::Query,
            "40004",
            "Business Failed",
            "ACQ.TRADE_NOT_EXIST",
            "交易不存在",
            &alipay_key()
        )
        .unwrap(),
        NOT_EXIST_ANSWER
    );
    // Unsigned: a refusal is reported for the log, a success is never believed.
    let unsigned_refusal = r#"{"alipay_trade_query_response":{"code":"40002","msg":"Invalid Arguments","sub_code":"isv.invalid-signature","sub_msg":"验签出错"}}"#;
    assert_eq!(
        query(unsigned_refusal),
        AlipayError::UnsignedRefusal {
            code: "40002".into(),
            sub_code: "isv.invalid-signature".into(),
            sub_msg: "验签出错".into(),
        }
    );
    let unsigned_success = QUERY_ANSWER.split(r#","sign":"#).next().unwrap().to_string() + "}";
    assert_eq!(query(&unsigned_success), AlipayError::BadSignature);
    // The member given twice: which one would a reader take?
    let member = QUERY_ANSWER
        .strip_prefix(r#"{"alipay_trade_query_response":"#)
        .unwrap()
        .split(r#","sign":"#)
        .next()
        .unwrap();
    let twice = QUERY_ANSWER.replacen('{', &format!(r#"{{"alipay_trade_query_response":{member},"#), 1);
    assert_eq!(
        query(&twice),
        AlipayError::DuplicateParameter("alipay_trade_query_response".into())
    );
    // The answer of another method, or about another trade.
    assert_eq!(
        RefundAnswer::read(QUERY_ANSWER, &key, OUT_TRADE_NO).unwrap_err(),
        AlipayError::Missing("alipay_trade_refund_response".into())
    );
    assert_eq!(
        QueryAnswer::read(QUERY_ANSWER, &key, "D20240501000002").unwrap_err(),
        AlipayError::OtherTrade(OUT_TRADE_NO.into())
    );
    // Signed by Alipay, but in another currency or with an inexact amount.
    let signed = |member: &str| alipay::answer_body(Method::Query, member, &alipay_key()).unwrap();
    let usd = signed(&member.replace(r#""send_pay_date""#, r#""trans_currency":"USD","send_pay_date""#));
    assert_eq!(query(&usd), AlipayError::WrongCurrency("USD".into()));
    let inexact = signed(&member.replace("12.34", "12.345"));
    assert_eq!(
        query(&inexact),
        AlipayError::Amount(MoneyError::NotYuan("12.345".into()))
    );
    let huge = format!("{}{}", QUERY_ANSWER, " ".repeat(alipay::MAX_ANSWER_BYTES));
    assert!(matches!(query(&huge), AlipayError::TooLarge { what: "answer", .. }));
    assert!(matches!(query("not json"), AlipayError::Malformed(_)));
}

#[test]
fn a_signed_refund_answer_is_read_and_written_byte_for_byte() {
    let answer = RefundAnswer::read(REFUND_ANSWER, &alipay_public(), OUT_TRADE_NO).unwrap();
    let expected = RefundAnswer {
        trade_no: TRADE_NO.into(),
        out_trade_no: OUT_TRADE_NO.into(),
        fund_change: true,
        refund_fee: Money::from_minor(1234),
        gmt_refund_pay: Some("2024-05-02 09:00:00".into()),
    };
    assert_eq!(answer, expected);
    assert_eq!(expected.to_body(&alipay_key()).unwrap(), REFUND_ANSWER);
}

// ---------------------------------------------------------------------------------------
// Round trips: merchant → gateway (the simulator) → merchant
// ---------------------------------------------------------------------------------------

/// What the simulated gateway receives from the merchant's form body.
fn at_gateway(request: &Request) -> Request {
    let body = request.form_body(&head(), &app_key()).unwrap();
    let (_, read) = Request::read(&alipay::parse_request_params("", &body).unwrap(), &app_public()).unwrap();
    read
}

#[test]
fn round_trips_through_the_simulated_gateway() {
    let alipay_key = alipay_key();
    let public = alipay_public();

    let Request::Precreate(o) = at_gateway(&Request::Precreate(order())) else {
        panic!("not a precreate")
    };
    let qr = PrecreateAnswer {
        out_trade_no: o.out_trade_no.clone(),
        qr_code: "https://qr.alipay.com/bax00000000000000000".into(),
    };
    let read = PrecreateAnswer::read(&qr.to_body(&alipay_key).unwrap(), &public, OUT_TRADE_NO).unwrap();
    assert_eq!(read, qr);

    let Request::Query { out_trade_no } = at_gateway(&Request::Query {
        out_trade_no: OUT_TRADE_NO.into(),
    }) else {
        panic!("not a query")
    };
    let answer = QueryAnswer {
        out_trade_no,
        total_amount: o.total_amount,
        ..paid_query()
    };
    let read = QueryAnswer::read(&answer.to_body(&alipay_key).unwrap(), &public, OUT_TRADE_NO).unwrap();
    assert_eq!(read.payment().unwrap().amount, Money::from_minor(1234));

    let refund = RefundOrder {
        out_trade_no: OUT_TRADE_NO.into(),
        refund_amount: Money::from_minor(200),
        out_request_no: "D20240501000001-R1".into(),
        refund_reason: None,
    };
    let Request::Refund(r) = at_gateway(&Request::Refund(refund.clone())) else {
        panic!("not a refund")
    };
    assert_eq!(r, refund);
    let answer = RefundAnswer {
        trade_no: TRADE_NO.into(),
        out_trade_no: r.out_trade_no.clone(),
        fund_change: true,
        refund_fee: r.refund_amount,
        gmt_refund_pay: None,
    };
    assert_eq!(
        RefundAnswer::read(&answer.to_body(&alipay_key).unwrap(), &public, OUT_TRADE_NO).unwrap(),
        answer
    );

    let Request::RefundQuery {
        out_trade_no,
        out_request_no,
    } = at_gateway(&Request::RefundQuery {
        out_trade_no: OUT_TRADE_NO.into(),
        out_request_no: "D20240501000001-R1".into(),
    })
    else {
        panic!("not a refund query")
    };
    let done = RefundQueryAnswer {
        out_trade_no,
        out_request_no: Some(out_request_no),
        refund_amount: Some(Money::from_minor(200)),
        refund_status: Some(alipay::REFUND_SUCCESS.into()),
    };
    let read = RefundQueryAnswer::read(
        &done.to_body(&alipay_key).unwrap(),
        &public,
        OUT_TRADE_NO,
        "D20240501000001-R1",
    )
    .unwrap();
    assert_eq!(read.refunded(), Some(Money::from_minor(200)));
    // An answer about another refund request is not this one's.
    assert_eq!(
        RefundQueryAnswer::read(&done.to_body(&alipay_key).unwrap(), &public, OUT_TRADE_NO, "R2").unwrap_err(),
        AlipayError::OtherTrade("D20240501000001/D20240501000001-R1".into())
    );
    // No refund_amount: no such refund was made.
    let none = RefundQueryAnswer {
        out_request_no: None,
        refund_amount: None,
        refund_status: None,
        ..done
    };
    let read = RefundQueryAnswer::read(&none.to_body(&alipay_key).unwrap(), &public, OUT_TRADE_NO, "R1").unwrap();
    assert_eq!(read.refunded(), None);

    let Request::BillDownloadUrl { bill_type, bill_date } = at_gateway(&Request::BillDownloadUrl {
        bill_type: "trade".into(),
        bill_date: "2024-05-01".into(),
    }) else {
        panic!("not a bill query")
    };
    assert_eq!((bill_type.as_str(), bill_date.as_str()), ("trade", "2024-05-01"));
    let url = BillUrlAnswer {
        bill_download_url: "https://dwbillcenter.alipay.com/downloadBillFile.resource?bizType=X&fileType=csv.zip"
            .into(),
    };
    assert_eq!(
        BillUrlAnswer::read(&url.to_body(&alipay_key).unwrap(), &public).unwrap(),
        url
    );

    // The gateway's notification for the paid trade, read by the merchant.
    let body = paid_notification().form_body(&alipay_key).unwrap();
    assert_eq!(read_notification(&body).unwrap(), expected_payment());
}

// ---------------------------------------------------------------------------------------
// The bill
// ---------------------------------------------------------------------------------------

/// The detail file's shape as Alipay writes it (comments, header, a tab after each number,
/// a refund line, a product name with a comma in quotes, the totals).
const BILL: &str = "#支付宝业务明细查询\n\
#账号：[20886210000000010156]\n\
#起始日期：[2024年05月01日 00:00:00]   终止日期：[2024年05月02日 00:00:00]\n\
#-----------------------------------------业务明细列表----------------------------------------\n\
支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,门店编号,门店名称,操作员,终端号,对方账户,订单金额（元）,商家实收（元）,支付宝红包（元）,集分宝（元）,支付宝优惠（元）,商家优惠（元）,券核销金额（元）,券名称,商家红包消费金额（元）,卡消费金额（元）,退款批次号/请求号,服务费（元）,分润（元）,备注\n\
2024050122001400001234567890\t,D20240501000001\t,交易,游戏点卡 100元,2024-05-01 12:03:20,2024-05-01 12:03:21,,,,,159****5620,12.34,12.34,0.00,0.00,0.00,0.00,0.00,,0.00,0.00,,-0.07,0.00,\r\n\
2024050122001400001234567891\t,D20240501000002\t,交易,\"点卡, 两张\",2024-05-01 13:00:00,2024-05-01 13:00:09,,,,,159****5620,100.00,100.00,0.00,0.00,0.00,0.00,0.00,,0.00,0.00,,-0.60,0.00,\n\
2024050122001400001234567890\t,D20240501000001\t,退款,游戏点卡 100元,2024-05-01 12:03:20,2024-05-01 18:00:00,,,,,159****5620,12.34,-12.34,0.00,0.00,0.00,0.00,0.00,,0.00,0.00,D20240501000001-R1,0.07,0.00,\n\
#-----------------------------------------业务明细列表结束------------------------------------\n\
#交易合计：2笔，商家实收共112.34元，商家优惠共0.00元\n\
#退款合计：1笔，商家实收退款共-12.34元，商家优惠退款共0.00元\n\
#导出时间：[2024年05月02日 09:21:53]\n";

#[test]
fn the_bill_lists_the_payments_and_not_the_refunds() {
    let payments = alipay::read_bill_detail(BILL).unwrap();
    assert_eq!(
        payments,
        vec![
            BillPayment {
                trade_no: TRADE_NO.into(),
                out_trade_no: OUT_TRADE_NO.into(),
                amount: Money::from_minor(1234),
                finished_at: "2024-05-01 12:03:21".into(),
            },
            BillPayment {
                trade_no: "2024050122001400001234567891".into(),
                out_trade_no: "D20240501000002".into(),
                amount: Money::from_minor(10000),
                finished_at: "2024-05-01 13:00:09".into(),
            },
        ]
    );
    // The simulator's bill reads back the same, through GBK as in Alipay's zip.
    let written = alipay::write_bill_detail(
        "20886210000000010156",
        "2024年05月01日 00:00:00",
        "2024年05月02日 00:00:00",
        "2024年05月02日 09:21:53",
        &payments,
    )
    .unwrap();
    let gbk = alipay::encode_gbk(&written).unwrap();
    assert_ne!(gbk, written.as_bytes());
    assert_eq!(
        alipay::read_bill_detail(&alipay::decode_gbk(&gbk).unwrap()).unwrap(),
        payments
    );
    // 订单 in GBK is B6 A9 B5 A5; a byte sequence that is not GBK is refused, not replaced.
    assert_eq!(alipay::decode_gbk(&[0xB6, 0xA9, 0xB5, 0xA5]).unwrap(), "订单");
    assert!(matches!(
        alipay::decode_gbk(&[0x81, 0x20]),
        Err(AlipayError::Malformed(_))
    ));
    assert!(matches!(alipay::encode_gbk("😀"), Err(AlipayError::Malformed(_))));
}

#[test]
fn a_bill_that_cannot_be_read_exactly_is_refused_with_its_line() {
    let line_6 = |from: &str, to: &str| BILL.replacen(from, to, 1);
    assert_eq!(
        alipay::read_bill_detail(&line_6(",12.34,12.34,", ",12.345,12.34,")).unwrap_err(),
        AlipayError::Bill {
            line: 6,
            reason: "not an amount in yuan: \"12.345\" (digits, at most two decimals)".into()
        }
    );
    assert_eq!(
        alipay::read_bill_detail(&line_6("交易,游戏", "冻结,游戏")).unwrap_err(),
        AlipayError::Bill {
            line: 6,
            reason: "业务类型 \"冻结\" is neither 交易 nor 退款".into()
        }
    );
    assert_eq!(
        alipay::read_bill_detail(&line_6(",游戏点卡 100元,", ",游戏点卡, 100元,")).unwrap_err(),
        AlipayError::Bill {
            line: 6,
            reason: "26 fields, the header has 25".into()
        }
    );
    assert_eq!(
        alipay::read_bill_detail(&line_6("\"点卡, 两张\"", "\"点卡, 两张")).unwrap_err(),
        AlipayError::Bill {
            line: 7,
            reason: "a quote is not closed".into()
        }
    );
    assert!(matches!(
        alipay::read_bill_detail(&line_6("订单金额（元）", "金额")).unwrap_err(),
        AlipayError::Bill { line: 5, .. }
    ));
    assert_eq!(
        alipay::read_bill_detail("#只有注释\n").unwrap_err(),
        AlipayError::Bill {
            line: 0,
            reason: "no header line".into()
        }
    );
}

#[test]
fn the_bill_is_read_from_alipays_zip_or_bare() {
    let gbk = alipay::encode_gbk(BILL).unwrap();
    let summary = alipay::encode_gbk("#支付宝业务汇总查询\n").unwrap();
    let zipped = alipay::write_bill_zip("20886210000000010156_20240501", &gbk, &summary).unwrap();
    assert!(zipped.starts_with(b"PK\x03\x04"));
    assert_ne!(zipped, gbk);
    // Zipped or bare, the same detail file, as text.
    assert_eq!(alipay::read_bill(&zipped).unwrap(), BILL);
    assert_eq!(alipay::read_bill(&gbk).unwrap(), BILL);
    assert_eq!(
        alipay::read_bill_detail(&alipay::read_bill(&zipped).unwrap())
            .unwrap()
            .len(),
        2
    );
    // The summary alone is no bill; two detail files are one too many.
    let summary_only = alipay::write_bill_zip("x", &[], &summary).unwrap();
    let renamed = {
        let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default();
        out.start_file("x_业务明细(汇总).csv", options).unwrap();
        std::io::Write::write_all(&mut out, &summary).unwrap();
        out.finish().unwrap().into_inner()
    };
    assert!(matches!(alipay::read_bill(&renamed), Err(AlipayError::Malformed(_))));
    assert_eq!(alipay::read_bill(&summary_only).unwrap(), "");
    let two = {
        let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default();
        for name in ["a_业务明细.csv", "b_业务明细.csv"] {
            out.start_file(name, options).unwrap();
            std::io::Write::write_all(&mut out, &gbk).unwrap();
        }
        out.finish().unwrap().into_inner()
    };
    assert!(matches!(alipay::read_bill(&two), Err(AlipayError::Malformed(_))));
    // A cut-off zip is refused, not half-read.
    assert!(alipay::read_bill(&zipped[..zipped.len() / 2]).is_err());
}

#[test]
fn a_bill_zip_that_unpacks_past_the_bound_is_refused() {
    // 64 MiB and one byte of zeros packs into a few hundred KiB: the bound is on what it
    // unpacks to, not on what was downloaded.
    let bomb = vec![b'0'; alipay::MAX_BILL_BYTES + 1];
    let zipped = alipay::write_bill_zip("bomb", &bomb, &[]).unwrap();
    assert!(zipped.len() < alipay::MAX_BILL_BYTES / 50, "{}", zipped.len());
    assert!(matches!(alipay::read_bill(&zipped), Err(AlipayError::TooLarge { .. })));
}
