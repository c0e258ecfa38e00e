//! 易支付 V2 (RSA) against vectors computed outside this code (OpenSSL over the committed
//! self-generated keys, Python for the PHP-shaped query string and JSON), built from the
//! samples in the platform's own documentation (`template/default/doc/*.php` of the
//! 彩虹易支付 source), and every bad message the issue names.
#![allow(clippy::unwrap_used)]

use danbao_domain::Money;
use danbao_rails::epay_v2::{
    self, CreateAnswer, CreateRequest, Device, Epay2Error, Method, Notification, OrderRef, OrderState, PayType,
    Payment, QueryAnswer, QueryRequest, RefundAnswer, RefundQueryAnswer, RefundQueryRequest, RefundRef, RefundRequest,
    RefundStatus,
};
use danbao_rails::rsa_sha256::{SigningKey, VerifyingKey};

const MERCHANT_PRIVATE: &str = include_str!("data/epay2/merchant-private.pem");
const MERCHANT_PUBLIC: &str = include_str!("data/epay2/merchant-public.pem");
const PLATFORM_PRIVATE: &str = include_str!("data/epay2/platform-private.pem");
const PLATFORM_PUBLIC: &str = include_str!("data/epay2/platform-public.pem");

/// The documentation's sample timestamp.
const TS: i64 = 1_721_206_072;

fn merchant() -> SigningKey {
    SigningKey::from_text(MERCHANT_PRIVATE).unwrap()
}
fn merchant_pub() -> VerifyingKey {
    VerifyingKey::from_text(MERCHANT_PUBLIC).unwrap()
}
fn platform() -> SigningKey {
    SigningKey::from_text(PLATFORM_PRIVATE).unwrap()
}
fn platform_pub() -> VerifyingKey {
    VerifyingKey::from_text(PLATFORM_PUBLIC).unwrap()
}

/// The create request of the documentation's parameter table (`pay_create.php`).
fn create_request() -> CreateRequest {
    CreateRequest {
        pid: "1001".into(),
        method: Method::Web,
        device: Some(Device::Pc),
        pay_type: "alipay".into(),
        out_trade_no: "20160806151343349".into(),
        notify_url: "http://www.pay.com/notify_url.php".into(),
        return_url: "http://www.pay.com/return_url.php".into(),
        name: "VIP会员".into(),
        money: Money::from_minor(100),
        clientip: "192.168.1.100".into(),
        param: None,
    }
}

const CREATE_SIGNING_STRING: &str = "clientip=192.168.1.100&device=pc&method=web&money=1.00&name=VIP会员&notify_url=http://www.pay.com/notify_url.php&out_trade_no=20160806151343349&pid=1001&return_url=http://www.pay.com/return_url.php&timestamp=1721206072&type=alipay";
/// `printf '%s' "$CREATE_SIGNING_STRING" | openssl dgst -sha256 -sign merchant-private.pem | base64 -w0`
const CREATE_SIGN: &str = "CcEW//5EgTA8H/690xSAk+k7W99Lok6g//9jQ+FxmsWepapKIal3cJBaQIJpzaqh/g1BWG11f5HWSstmx3ENcdVBXWsQsmW53wLA27i/4ofbOJt7eKzwh4zdH6ttF/2Z4NivWKzBx6yuNkeyaiWXrBPEb9YMl645hibvrebkz3+LY2J4BEZOPSeIpi07XYNUuMPb39BkphcGFeA61Mi9uCNYIpVnGso4aqBWRmt22OowQehOC1h/zn1psFzzQsnjVkNFZBUm/jfbS2lYN6CTK9mdaxkH4rnJ2/o53FdowrQVsCfs2HuOdjmeKJ+jwm9NAYPQL5wyvJYllgTnWw8L/w==";

/// The documentation's first create answer (`pay_type=qrcode`) with its sample timestamp,
/// signed by the platform:
/// `printf '%s' 'code=0&pay_info=weixin://wxpay/bizpayurl?pr=04IPMKM&pay_type=qrcode&timestamp=1721206072&trade_no=20160806151343349' | openssl dgst -sha256 -sign platform-private.pem | base64 -w0`,
/// then written as PHP's `json_encode` does (`/` as `\/`) by
/// `python3 -c 'import json; print(json.dumps(a, separators=(",",":")).replace("/", "\\/"))'`.
const CREATE_ANSWER: &str = r#"{"code":0,"trade_no":"20160806151343349","pay_type":"qrcode","pay_info":"weixin:\/\/wxpay\/bizpayurl?pr=04IPMKM","timestamp":"1721206072","sign_type":"RSA","sign":"ThvfUGKja3k72F2JYVZ0+6nailcRLnQT5YtPuPU2I08J2RWW6Yi\/jQ1sN630jF\/lEurG\/JArh7JZ4GeKzsgegwRIf0oZRulpdYJG6U3fUvNbJkHIAfHXgiR2RKyIPGHLK7\/Y0chIL\/TN5bU9XrKayJABzI8LcvXa+0B0dxSbm0zY\/xiN0OBgZ+U9gXwN1hDbaKkoe+CV8ggsbzejin7BbPysG9hx8CSKpW8LWpJh8yvygu7TaYO5ovr3VNDEtABGpRmBpS6i39ufoHjtyK\/7xfkl3kBKlWnxhSWvbDz+keM684B4r5Wk6OhzH0lN8eeoTvCuoLtiEjg62LKnmhXgvw=="}"#;

/// A paid notification with the documentation's sample values (`pay_notify.php`), the
/// amount as the platform's `creat_callback` prints `(float)"1.00"`, signed by the platform:
/// `printf '%s' 'api_trade_no=40001249985198893&buyer=o9uAcc6VlZxhcujpKIqQuWWoDQc&money=1&name=VIP会员&out_trade_no=20160806151343351&pid=1001&timestamp=1721206072&trade_no=20160806151343349&trade_status=TRADE_SUCCESS&type=alipay' | openssl dgst -sha256 -sign platform-private.pem | base64 -w0`,
/// then encoded in `creat_callback`'s order by
/// `python3 -c 'from urllib.parse import urlencode, quote_plus; print(urlencode(q, quote_via=quote_plus))'`.
const NOTIFY: &str = "pid=1001&trade_no=20160806151343349&out_trade_no=20160806151343351&type=alipay&name=VIP%E4%BC%9A%E5%91%98&money=1&trade_status=TRADE_SUCCESS&api_trade_no=40001249985198893&buyer=o9uAcc6VlZxhcujpKIqQuWWoDQc&timestamp=1721206072&sign_type=RSA&sign=7CXclOqmet5DgENVkgLalnVEEZRUozVygD9o646bQyGUyDLeS9tGkJ6vSuGROByTirVwSasoutJsp38yiriRO3e%2BP%2FlGWJlKoHhrXNn%2F8VSJpRlEmKSFjOYyIDCQBQh5rZ%2F%2BxG2KipYfVI9xF9UwTzhZLuvvwvQsoYzPLulqiKJKAs8%2BrIaFY6M%2FhED3koXvVi8dOK8jCu0nCqASJeaLWzzFgAwb9mq%2Bs2g0wKwcHS%2BW77pWJvhe7EmQSH6ZyBtt2vmUS6IkSl%2BoWBbiYgQ2RA4JfXwhYUUHTcdLydGFHoMjh7mcsAEtKZ58RzDkTdk99nUjSu8fdlY%2FC5dtLVATsA%3D%3D";

#[test]
fn the_create_request_is_signed_as_openssl_signs_it() {
    let params = create_request().signed_params(&merchant(), TS).unwrap();
    assert_eq!(epay_v2::signing_string(&params), CREATE_SIGNING_STRING);
    assert_eq!(danbao_rails::epay::value(&params, "sign"), Some(CREATE_SIGN));
    assert_eq!(danbao_rails::epay::value(&params, "sign_type"), Some("RSA"));
    let body = create_request().body(&merchant(), TS).unwrap();
    assert!(
        body.starts_with("pid=1001&method=web&device=pc&type=alipay&out_trade_no=20160806151343349&notify_url=http%3A%2F%2Fwww.pay.com%2Fnotify_url.php&"),
        "{body}"
    );
    assert!(
        body.contains(
            "&name=VIP%E4%BC%9A%E5%91%98&money=1.00&clientip=192.168.1.100&timestamp=1721206072&sign=CcEW%2F%2F5EgTA8H"
        ),
        "{body}"
    );
    assert!(body.ends_with("&sign_type=RSA"), "{body}");

    // The platform's side reads back what was asked, only under the merchant's key.
    let form = epay_v2::read_form(&body).unwrap();
    assert_eq!(epay_v2::form_pid(&form), Some("1001"));
    assert_eq!(
        CreateRequest::read(&form, &merchant_pub(), TS + 60).unwrap(),
        create_request()
    );
    assert_eq!(
        CreateRequest::read(&form, &platform_pub(), TS).unwrap_err(),
        Epay2Error::BadSignature
    );
    assert_eq!(
        CreateRequest::read(&form, &merchant_pub(), TS + 301).unwrap_err(),
        Epay2Error::StaleTimestamp {
            timestamp: TS,
            now: TS + 301
        }
    );
    let md5 = body.replace("sign_type=RSA", "sign_type=MD5");
    assert_eq!(
        CreateRequest::read(&epay_v2::read_form(&md5).unwrap(), &merchant_pub(), TS).unwrap_err(),
        Epay2Error::WrongSignType("MD5".into())
    );
}

#[test]
fn the_documented_create_answer_is_read_and_rebuilt_byte_for_byte() {
    let answer = CreateAnswer::read(CREATE_ANSWER, &platform_pub(), TS + 5).unwrap();
    assert_eq!(
        answer,
        CreateAnswer {
            trade_no: "20160806151343349".into(),
            pay_type: PayType::Qrcode,
            pay_info: "weixin://wxpay/bizpayurl?pr=04IPMKM".into(),
        }
    );
    // The simulator writes the same bytes the PHP platform does.
    assert_eq!(answer.to_json(&platform(), TS).unwrap(), CREATE_ANSWER);

    let tampered = CREATE_ANSWER.replace("04IPMKM", "04IPMKN");
    assert_eq!(
        CreateAnswer::read(&tampered, &platform_pub(), TS).unwrap_err(),
        Epay2Error::BadSignature
    );
    // The merchant's own key is not the platform's.
    assert_eq!(
        CreateAnswer::read(CREATE_ANSWER, &merchant_pub(), TS).unwrap_err(),
        Epay2Error::BadSignature
    );
    assert_eq!(
        CreateAnswer::read(CREATE_ANSWER, &platform_pub(), TS - 301).unwrap_err(),
        Epay2Error::StaleTimestamp {
            timestamp: TS,
            now: TS - 301
        }
    );
    let md5 = CREATE_ANSWER.replace(r#""sign_type":"RSA""#, r#""sign_type":"MD5""#);
    assert_eq!(
        CreateAnswer::read(&md5, &platform_pub(), TS).unwrap_err(),
        Epay2Error::WrongSignType("MD5".into())
    );
    // A key given twice: whichever the signature covered, the other is refused.
    let twice = CREATE_ANSWER.replace(r#""code":0,"#, r#""code":0,"pay_info":"https:\/\/evil.example","#);
    assert_eq!(
        CreateAnswer::read(&twice, &platform_pub(), TS).unwrap_err(),
        Epay2Error::DuplicateParameter("pay_info".into())
    );
    // A nested value is something nobody signed.
    let nested = CREATE_ANSWER.replace(r#""code":0,"#, r#""code":0,"extra":{"a":1},"#);
    assert_eq!(
        CreateAnswer::read(&nested, &platform_pub(), TS).unwrap_err(),
        Epay2Error::UnsignedField("extra".into())
    );
    // A refusal is unsigned and says only that nothing was done.
    assert_eq!(
        CreateAnswer::read(&epay_v2::refusal_json(-3, "RSA签名校验失败"), &platform_pub(), TS).unwrap_err(),
        Epay2Error::Refused {
            code: -3,
            msg: "RSA签名校验失败".into()
        }
    );
    assert_eq!(
        epay_v2::refusal_json(-1, "订单号不存在"),
        r#"{"code":-1,"msg":"订单号不存在"}"#
    );
    let huge = format!(
        "{{\"code\":0,\"pay_info\":\"{}\"}}",
        "x".repeat(epay_v2::MAX_ANSWER_BYTES)
    );
    assert!(matches!(
        CreateAnswer::read(&huge, &platform_pub(), TS).unwrap_err(),
        Epay2Error::TooLarge { .. }
    ));
    assert!(matches!(
        CreateAnswer::read("[1,2]", &platform_pub(), TS).unwrap_err(),
        Epay2Error::Malformed(_)
    ));
}

#[test]
fn a_jsapi_answer_with_unicode_is_written_as_php_json_encode_writes_it() {
    let answer = CreateAnswer {
        trade_no: "20160806151343351".into(),
        pay_type: PayType::Jsapi,
        pay_info: r#"{"appId":"wx2421b1c4370ec43b","package":"prepay_id=up_wx2","note":"会员/月"}"#.into(),
    };
    let json = answer.to_json(&platform(), TS).unwrap();
    // `json_encode` without flags: `\"`, `\/` and `\uXXXX` (lowercase hex).
    assert!(
        json.contains(r#""pay_info":"{\"appId\":\"wx2421b1c4370ec43b\",\"package\":\"prepay_id=up_wx2\",\"note\":\"\u4f1a\u5458\/\u6708\"}""#),
        "{json}"
    );
    assert_eq!(CreateAnswer::read(&json, &platform_pub(), TS).unwrap(), answer);
}

#[test]
fn the_documented_notification_is_read_and_rebuilt_byte_for_byte() {
    let n = Notification::read(NOTIFY, &platform_pub(), "1001", TS + 10).unwrap();
    assert_eq!(
        n.payment,
        Payment {
            pid: "1001".into(),
            trade_no: "20160806151343349".into(),
            out_trade_no: "20160806151343351".into(),
            api_trade_no: Some("40001249985198893".into()),
            pay_type: "alipay".into(),
            name: "VIP会员".into(),
            money: Money::from_minor(100),
            buyer: Some("o9uAcc6VlZxhcujpKIqQuWWoDQc".into()),
            param: None,
        }
    );
    assert_eq!(n.timestamp, TS);
    assert_eq!(n.query(&platform()).unwrap(), NOTIFY);
    assert_eq!(epay_v2::ACK, "success");
}

/// The notification with parameters changed (an empty value removes one) and signed again
/// under `key` with this code's signer (the signer itself is checked against OpenSSL above).
fn signed_with(changes: &[(&str, &str)], key: &SigningKey) -> String {
    let mut params = epay_v2::read_form(NOTIFY).unwrap();
    params.retain(|(k, _)| k != "sign" && k != "sign_type");
    for (k, v) in changes {
        match params.iter_mut().find(|(name, _)| name == k) {
            Some(p) => p.1 = v.to_string(),
            None => params.push((k.to_string(), v.to_string())),
        }
    }
    params.retain(|(_, v)| !v.is_empty());
    params.push(("sign_type".into(), "RSA".into()));
    let sign = epay_v2::sign(&params, key).unwrap();
    params.push(("sign".into(), sign));
    epay_v2::php_http_build_query(&params)
}

fn read(query: &str, now: i64) -> Result<Notification, Epay2Error> {
    Notification::read(query, &platform_pub(), "1001", now)
}

#[test]
fn every_bad_notification_is_refused() {
    let now = TS + 10;
    // Re-signing with nothing changed gives the vector's own bytes.
    assert_eq!(signed_with(&[], &platform()), NOTIFY);

    assert_eq!(
        read(&NOTIFY.replace("money=1&", "money=100&"), now).unwrap_err(),
        Epay2Error::BadSignature
    );
    assert_eq!(
        read(NOTIFY.split("&sign=").next().unwrap(), now).unwrap_err(),
        Epay2Error::BadSignature
    );
    assert_eq!(
        read(&signed_with(&[], &merchant()), now).unwrap_err(),
        Epay2Error::BadSignature
    );
    let (stranger, _) = SigningKey::generate().unwrap();
    assert_eq!(
        read(&signed_with(&[], &stranger), now).unwrap_err(),
        Epay2Error::BadSignature
    );

    assert_eq!(
        read(&signed_with(&[("pid", "1002")], &platform()), now).unwrap_err(),
        Epay2Error::WrongMerchant("1002".into())
    );
    for status in ["TRADE_CLOSED", "WAIT_BUYER_PAY", "trade_success", "TRADE_FINISHED", ""] {
        assert_eq!(
            read(&signed_with(&[("trade_status", status)], &platform()), now).unwrap_err(),
            Epay2Error::NotPaid(status.into()),
        );
    }
    for money in ["1e3", "-1", "1.234", "1,00", "+1", "0x10", "１"] {
        assert!(
            matches!(
                read(&signed_with(&[("money", money)], &platform()), now).unwrap_err(),
                Epay2Error::Amount(_)
            ),
            "{money:?}"
        );
    }
    for money in ["0", "0.00"] {
        assert_eq!(
            read(&signed_with(&[("money", money)], &platform()), now).unwrap_err(),
            Epay2Error::NotPositive(money.into())
        );
    }
    // The platform sends (float) amounts; a clone sending two decimals is the same amount.
    for (money, fen) in [("1.00", 100), ("12.3", 1230), ("12.34", 1234), ("0.01", 1)] {
        let n = read(&signed_with(&[("money", money)], &platform()), now).unwrap();
        assert_eq!(n.payment.money, Money::from_minor(fen));
    }
    assert_eq!(
        read(&signed_with(&[("currency", "USD")], &platform()), now).unwrap_err(),
        Epay2Error::WrongCurrency("USD".into())
    );
    assert!(read(&signed_with(&[("currency", "CNY")], &platform()), now).is_ok());

    // The SDK's window: 300 s either way is accepted, 301 is not.
    assert!(read(NOTIFY, TS + 300).is_ok());
    assert!(read(NOTIFY, TS - 300).is_ok());
    assert_eq!(
        read(NOTIFY, TS + 301).unwrap_err(),
        Epay2Error::StaleTimestamp {
            timestamp: TS,
            now: TS + 301
        }
    );
    assert_eq!(
        read(NOTIFY, TS - 301).unwrap_err(),
        Epay2Error::StaleTimestamp {
            timestamp: TS,
            now: TS - 301
        }
    );
    assert_eq!(
        read(NOTIFY, TS + 86_400).unwrap_err(),
        Epay2Error::StaleTimestamp {
            timestamp: TS,
            now: TS + 86_400
        }
    );
    for ts in ["172120607", "17212060720", "1721206072.5", " 1721206072", ""] {
        assert_eq!(
            read(&signed_with(&[("timestamp", ts)], &platform()), now).unwrap_err(),
            Epay2Error::BadTimestamp(ts.into()),
            "{ts:?}"
        );
    }

    // A parameter twice: whichever one was signed, the other is refused.
    assert_eq!(
        read(&format!("{NOTIFY}&money=100"), now).unwrap_err(),
        Epay2Error::DuplicateParameter("money".into())
    );
    assert_eq!(
        read(&format!("money=100&{NOTIFY}"), now).unwrap_err(),
        Epay2Error::DuplicateParameter("money".into())
    );
    assert_eq!(
        read(&NOTIFY.replace("sign_type=RSA", "sign_type=MD5"), now).unwrap_err(),
        Epay2Error::WrongSignType("MD5".into())
    );
    assert_eq!(
        read(&NOTIFY.replace("&sign_type=RSA", ""), now).unwrap_err(),
        Epay2Error::WrongSignType(String::new())
    );
    // Names PHP would read as something else.
    for extra in ["money[]=5", "a.b=1", "10=x"] {
        assert!(
            matches!(
                read(&format!("{NOTIFY}&{extra}"), now).unwrap_err(),
                Epay2Error::Malformed(_)
            ),
            "{extra}"
        );
    }
    assert!(matches!(
        read(&format!("{NOTIFY}&pad={}", "x".repeat(epay_v2::MAX_FORM_BYTES)), now).unwrap_err(),
        Epay2Error::TooLarge { .. }
    ));
    assert!(matches!(
        read(&signed_with(&[("trade_no", "")], &platform()), now).unwrap_err(),
        Epay2Error::Malformed(_)
    ));
    assert!(matches!(
        read("%zz=%", now).unwrap_err(),
        Epay2Error::Malformed(_) | Epay2Error::WrongSignType(_)
    ));
    assert_eq!(read("", now).unwrap_err(), Epay2Error::WrongSignType(String::new()));
    // An extension field the platform adds is covered by the signature and accepted.
    let extended = signed_with(&[("endtime", "2024-07-01 16:49:24")], &platform());
    assert!(read(&extended, now).is_ok());
    assert_eq!(
        read(&extended.replace("16%3A49", "16%3A50"), now).unwrap_err(),
        Epay2Error::BadSignature
    );
}

#[test]
fn the_signed_string_follows_php() {
    let params: Vec<(String, String)> = [
        ("b", "2"),
        ("blank", " \t"),
        ("empty", ""),
        ("a", "1"),
        ("sign", "x"),
        ("sign_type", "RSA"),
        ("A", "0"),
        ("spaced", " v "),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    // Blank to PHP's trim is left out; "0" is a value; a value is signed untrimmed.
    assert_eq!(epay_v2::signing_string(&params), "A=0&a=1&b=2&spaced= v ");
    assert_eq!(epay_v2::php_float_yuan(Money::from_minor(100)), "1");
    assert_eq!(epay_v2::php_float_yuan(Money::from_minor(150)), "1.5");
    assert_eq!(epay_v2::php_float_yuan(Money::from_minor(1234)), "12.34");
    assert_eq!(epay_v2::php_float_yuan(Money::from_minor(5)), "0.05");
    assert_eq!(epay_v2::php_float_yuan(Money::from_minor(100_000)), "1000");
    // `python3 -c "from urllib.parse import quote_plus as q; print(q('a b*~/+=&中', safe=''))"`
    // gives a+b%2A~%2F%2B%3D%26%E4%B8%AD; PHP's urlencode also encodes `~` (%7E).
    assert_eq!(
        epay_v2::php_http_build_query(&[("k".into(), "a b*~/+=&中".into())]),
        "k=a+b%2A%7E%2F%2B%3D%26%E4%B8%AD"
    );
}

#[test]
fn a_query_round_trips_and_its_answer_is_read_for_our_merchant_and_order() {
    let asked = OrderRef::OutTradeNo("20160806151343351".into());
    let request = QueryRequest {
        pid: "1001".into(),
        order: asked.clone(),
    };
    let body = request.body(&merchant(), TS).unwrap();
    assert!(
        body.starts_with("pid=1001&out_trade_no=20160806151343351&timestamp=1721206072&sign="),
        "{body}"
    );
    let form = epay_v2::read_form(&body).unwrap();
    assert_eq!(QueryRequest::read(&form, &merchant_pub(), TS).unwrap(), request);
    assert_eq!(
        QueryRequest::read(&form, &platform_pub(), TS).unwrap_err(),
        Epay2Error::BadSignature
    );

    let payment = Notification::read(NOTIFY, &platform_pub(), "1001", TS).unwrap().payment;
    let answer = QueryAnswer {
        payment: payment.clone(),
        status: epay_v2::ORDER_PAID,
        addtime: Some("2024-07-01 16:47:32".into()),
        endtime: Some("2024-07-01 16:49:24".into()),
        clientip: Some("192.168.1.100".into()),
        refundmoney: None,
    };
    let json = answer.to_json(&platform(), TS).unwrap();
    assert!(
        json.starts_with(r#"{"code":0,"trade_no":"20160806151343349","#),
        "{json}"
    );
    assert!(json.contains(r#""name":"VIP会员","money":"1.00","#), "{json}");
    assert!(!json.contains("refundmoney") && !json.contains("param"), "{json}");
    assert_eq!(
        QueryAnswer::read(&json, &platform_pub(), "1001", &asked, TS).unwrap(),
        OrderState::Paid(payment.clone())
    );
    assert_eq!(
        QueryAnswer::read(&json, &platform_pub(), "1002", &asked, TS).unwrap_err(),
        Epay2Error::WrongMerchant("1001".into())
    );
    assert_eq!(
        QueryAnswer::read(&json, &platform_pub(), "1001", &OrderRef::OutTradeNo("X".into()), TS).unwrap_err(),
        Epay2Error::OtherOrder("20160806151343351".into())
    );
    assert_eq!(
        QueryAnswer::read(
            &json,
            &platform_pub(),
            "1001",
            &OrderRef::TradeNo("20160806151343349".into()),
            TS
        )
        .unwrap(),
        OrderState::Paid(payment.clone())
    );
    assert_eq!(
        QueryAnswer::read(&json, &merchant_pub(), "1001", &asked, TS).unwrap_err(),
        Epay2Error::BadSignature
    );
    for (status, state) in [
        (epay_v2::ORDER_UNPAID, OrderState::Unpaid),
        (epay_v2::ORDER_FROZEN, OrderState::Frozen),
        (epay_v2::ORDER_PREAUTHORIZED, OrderState::PreAuthorized),
    ] {
        let json = QueryAnswer {
            status,
            ..answer.clone()
        }
        .to_json(&platform(), TS)
        .unwrap();
        assert_eq!(
            QueryAnswer::read(&json, &platform_pub(), "1001", &asked, TS).unwrap(),
            state
        );
    }
    let partly = QueryAnswer {
        status: epay_v2::ORDER_REFUNDED,
        refundmoney: Some(Money::from_minor(40)),
        ..answer.clone()
    };
    assert_eq!(
        QueryAnswer::read(
            &partly.to_json(&platform(), TS).unwrap(),
            &platform_pub(),
            "1001",
            &asked,
            TS
        )
        .unwrap(),
        OrderState::Refunded {
            payment,
            refunded: Some(Money::from_minor(40))
        }
    );
    assert_eq!(
        QueryAnswer::read(
            r#"{"code":-1,"msg":"订单号不存在"}"#,
            &platform_pub(),
            "1001",
            &asked,
            TS
        )
        .unwrap_err(),
        Epay2Error::Refused {
            code: -1,
            msg: "订单号不存在".into()
        }
    );
}

#[test]
fn a_refund_round_trips_and_its_answers_must_match_what_was_asked() {
    let request = RefundRequest {
        pid: "1001".into(),
        order: OrderRef::TradeNo("20160806151343349".into()),
        money: Money::from_minor(100),
        out_refund_no: "R20240701164732".into(),
    };
    let body = request.body(&merchant(), TS).unwrap();
    assert!(
        body.starts_with(
            "pid=1001&trade_no=20160806151343349&money=1.00&out_refund_no=R20240701164732&timestamp=1721206072&sign="
        ),
        "{body}"
    );
    let form = epay_v2::read_form(&body).unwrap();
    assert_eq!(RefundRequest::read(&form, &merchant_pub(), TS).unwrap(), request);
    assert_eq!(
        RefundRequest::read(&form, &merchant_pub(), TS + 301).unwrap_err(),
        Epay2Error::StaleTimestamp {
            timestamp: TS,
            now: TS + 301
        }
    );
    // Too short for the platform to deduplicate a retry by, or no money at all.
    assert!(matches!(
        RefundRequest {
            out_refund_no: "R1".into(),
            ..request.clone()
        }
        .body(&merchant(), TS)
        .unwrap_err(),
        Epay2Error::Malformed(_)
    ));
    assert_eq!(
        RefundRequest {
            money: Money::from_minor(0),
            ..request.clone()
        }
        .body(&merchant(), TS)
        .unwrap_err(),
        Epay2Error::NotPositive("0.00".into())
    );

    let answer = RefundAnswer {
        refund_no: "2024070116473212345".into(),
        out_refund_no: "R20240701164732".into(),
        trade_no: "20160806151343349".into(),
        out_trade_no: Some("20160806151343351".into()),
        uid: "1001".into(),
        money: Money::from_minor(100),
        reducemoney: Some("0.98".into()),
        msg: Some("退款成功！退款金额¥1.00".into()),
    };
    let json = answer.to_json(&platform(), TS).unwrap();
    assert_eq!(
        RefundAnswer::read(&json, &platform_pub(), &request, TS).unwrap(),
        answer
    );
    let other = RefundRequest {
        pid: "1002".into(),
        ..request.clone()
    };
    assert_eq!(
        RefundAnswer::read(&json, &platform_pub(), &other, TS).unwrap_err(),
        Epay2Error::WrongMerchant("1001".into())
    );
    let other = RefundRequest {
        out_refund_no: "R20240701999999".into(),
        ..request.clone()
    };
    assert_eq!(
        RefundAnswer::read(&json, &platform_pub(), &other, TS).unwrap_err(),
        Epay2Error::OtherOrder("R20240701164732".into())
    );
    let other = RefundRequest {
        money: Money::from_minor(50),
        ..request.clone()
    };
    assert!(matches!(
        RefundAnswer::read(&json, &platform_pub(), &other, TS).unwrap_err(),
        Epay2Error::Malformed(_)
    ));
    assert_eq!(
        RefundAnswer::read(&json.replace("1.00", "9.00"), &platform_pub(), &request, TS).unwrap_err(),
        Epay2Error::BadSignature
    );

    let asked = RefundRef::OutRefundNo("R20240701164732".into());
    let query = RefundQueryRequest {
        pid: "1001".into(),
        refund: asked.clone(),
    };
    let form = epay_v2::read_form(&query.body(&merchant(), TS).unwrap()).unwrap();
    assert_eq!(RefundQueryRequest::read(&form, &merchant_pub(), TS).unwrap(), query);
    let done = RefundQueryAnswer {
        refund_no: "2024070116473212345".into(),
        out_refund_no: "R20240701164732".into(),
        trade_no: "20160806151343349".into(),
        out_trade_no: Some("20160806151343351".into()),
        uid: "1001".into(),
        money: Money::from_minor(100),
        reducemoney: Some("0.98".into()),
        status: RefundStatus::Succeeded,
        addtime: Some("2024-07-01 16:47:32".into()),
        endtime: None,
    };
    let json = done.to_json(&platform(), TS).unwrap();
    assert!(
        json.contains(r#""status":1,"addtime":"2024-07-01 16:47:32","endtime":null,"#),
        "{json}"
    );
    assert_eq!(
        RefundQueryAnswer::read(&json, &platform_pub(), "1001", &asked, TS).unwrap(),
        done
    );
    assert_eq!(
        RefundQueryAnswer::read(&json, &platform_pub(), "1002", &asked, TS).unwrap_err(),
        Epay2Error::WrongMerchant("1001".into())
    );
    assert_eq!(
        RefundQueryAnswer::read(&json, &platform_pub(), "1001", &RefundRef::RefundNo("X".into()), TS).unwrap_err(),
        Epay2Error::OtherOrder("2024070116473212345".into())
    );
    let failed = RefundQueryAnswer {
        status: RefundStatus::Failed,
        ..done
    };
    assert_eq!(
        RefundQueryAnswer::read(
            &failed.to_json(&platform(), TS).unwrap(),
            &platform_pub(),
            "1001",
            &asked,
            TS
        )
        .unwrap()
        .status,
        RefundStatus::Failed
    );
}
