//! 易支付 V1 against vectors computed outside this code (Python's hashlib over the
//! documented signing rule), and every bad notification the issue names.
#![allow(clippy::unwrap_used)]

use danbao_domain::Money;
use danbao_rails::epay::{self, EpayError, Notification, OrderAnswer, OrderState, PayRequest};

const KEY: &str = "89unJUB8HZ54Hj7x4nUj56HN4nUzUJ8i";

fn request() -> PayRequest {
    PayRequest {
        pid: "1001".into(),
        pay_type: "alipay".into(),
        out_trade_no: "20160806151343349".into(),
        notify_url: "http://www.pay.com/notify_url.php".into(),
        return_url: "http://www.pay.com/return_url.php".into(),
        name: "VIP会员".into(),
        money: Money::from_minor(100),
    }
}

/// A paid notification as the aggregator sends it (signed with python3 -c "import hashlib;…").
const PAID: &str = "pid=1001&trade_no=2016080622555342651&out_trade_no=20160806151343349&type=alipay&name=VIP%E4%BC%9A%E5%91%98&money=1.00&trade_status=TRADE_SUCCESS&sign=42729bbb004977e3ac0f0a2a639558a0&sign_type=MD5";

#[test]
fn the_pay_request_is_signed_as_the_aggregator_checks_it() {
    let params = request().signed_params(KEY);
    assert_eq!(
        epay::signing_string(&params),
        "money=1.00&name=VIP会员&notify_url=http://www.pay.com/notify_url.php&out_trade_no=20160806151343349&pid=1001&return_url=http://www.pay.com/return_url.php&type=alipay"
    );
    assert_eq!(epay::value(&params, "sign"), Some("427724b6656aa612cfdbe7a2262036a3"));
    assert_eq!(epay::value(&params, "sign_type"), Some("MD5"));
    let url = request().page_url("https://pay.example.com", KEY);
    assert!(
        url.starts_with("https://pay.example.com/submit.php?pid=1001&type=alipay&"),
        "{url}"
    );
    // The aggregator's side reads back what was asked, and only if signed with the key.
    let read = PayRequest::read(&params, KEY).unwrap();
    assert_eq!(
        (read.money, read.out_trade_no.as_str()),
        (Money::from_minor(100), "20160806151343349")
    );
    assert_eq!(
        PayRequest::read(&params, "another-key").unwrap_err(),
        EpayError::BadSignature
    );
}

#[test]
fn empty_values_and_the_signature_itself_are_left_out_of_what_is_signed() {
    let params: epay::Params = vec![
        ("b".into(), "2".into()),
        ("sitename".into(), "".into()),
        ("a".into(), "1".into()),
        ("sign".into(), "x".into()),
        ("sign_type".into(), "MD5".into()),
        ("A".into(), "0".into()),
    ];
    // Bytewise order: capitals first, as PHP's ksort; "0" is a value, not empty.
    assert_eq!(epay::signing_string(&params), "A=0&a=1&b=2");
}

#[test]
fn a_paid_notification_is_read() {
    let n = Notification::read(PAID, "1001", KEY).unwrap();
    assert_eq!(n.trade_no, "2016080622555342651");
    assert_eq!(n.out_trade_no, "20160806151343349");
    assert_eq!(n.money, Money::from_minor(100));
    assert_eq!(n.name, "VIP会员");
    // The simulator's notification is the same bytes the aggregator's would be.
    assert_eq!(n.query(KEY), PAID);
    // The signature's hex in capitals is the same signature.
    let upper = PAID.replace("42729bbb004977e3ac0f0a2a639558a0", "42729BBB004977E3AC0F0A2A639558A0");
    assert!(Notification::read(&upper, "1001", KEY).is_ok());
}

/// The notification with one parameter changed and signed again with `key`.
fn signed_with(changes: &[(&str, &str)], key: &str) -> String {
    let mut params = Notification::read(PAID, "1001", KEY).unwrap().signed_params(KEY);
    params.retain(|(k, _)| k != "sign" && k != "sign_type");
    for (k, v) in changes {
        match params.iter_mut().find(|(name, _)| name == k) {
            Some(p) => p.1 = v.to_string(),
            None => params.push((k.to_string(), v.to_string())),
        }
    }
    let sign = epay::md5_sign(&params, key);
    params.push(("sign".into(), sign));
    params.push(("sign_type".into(), "MD5".into()));
    serde_urlencoded::to_string(params).unwrap()
}

#[test]
fn every_bad_notification_is_refused() {
    let tampered = PAID.replace("money=1.00", "money=100.00");
    assert_eq!(
        Notification::read(&tampered, "1001", KEY).unwrap_err(),
        EpayError::BadSignature
    );
    let unsigned = PAID.split("&sign=").next().unwrap();
    assert_eq!(
        Notification::read(unsigned, "1001", KEY).unwrap_err(),
        EpayError::BadSignature
    );
    assert_eq!(
        Notification::read(&signed_with(&[], "wrong-key"), "1001", KEY).unwrap_err(),
        EpayError::BadSignature
    );
    assert_eq!(
        Notification::read(&signed_with(&[("pid", "1002")], KEY), "1001", KEY).unwrap_err(),
        EpayError::WrongMerchant("1002".into())
    );
    for status in ["TRADE_CLOSED", "WAIT_BUYER_PAY", "trade_success", "TRADE_FINISHED"] {
        assert_eq!(
            Notification::read(&signed_with(&[("trade_status", status)], KEY), "1001", KEY).unwrap_err(),
            EpayError::NotPaid(status.into()),
        );
    }
    for money in ["1e3", "-1", "1.234", "0.00", "", " 1"] {
        let err = Notification::read(&signed_with(&[("money", money)], KEY), "1001", KEY).unwrap_err();
        assert!(
            matches!(err, EpayError::Amount(_) | EpayError::Malformed(_)),
            "{money:?}: {err:?}"
        );
    }
    // A parameter twice: whichever one was signed, the other is refused.
    let twice = format!("{PAID}&money=100.00");
    assert!(matches!(
        Notification::read(&twice, "1001", KEY).unwrap_err(),
        EpayError::Malformed(_)
    ));
    let rsa = PAID.replace("sign_type=MD5", "sign_type=RSA");
    assert!(matches!(
        Notification::read(&rsa, "1001", KEY).unwrap_err(),
        EpayError::Malformed(_)
    ));
    assert!(matches!(
        Notification::read(&signed_with(&[("trade_no", "")], KEY), "1001", KEY).unwrap_err(),
        EpayError::Malformed(_)
    ));
    assert!(matches!(
        Notification::read("%zz=%", "1001", KEY).unwrap_err(),
        EpayError::Malformed(_) | EpayError::BadSignature
    ));
    assert_eq!(
        Notification::read("", "1001", KEY).unwrap_err(),
        EpayError::BadSignature
    );
}

#[test]
fn an_order_query_answer_is_read_for_our_merchant_and_order() {
    let paid: OrderAnswer = serde_json::from_str(
        r#"{"code":1,"msg":"查询订单号成功！","trade_no":"2016080622555342651","out_trade_no":"20160806151343349","api_trade_no":"2016080621001004","type":"alipay","pid":1001,"addtime":"2016-08-06 11:55:53","endtime":"2016-08-06 11:56:10","name":"VIP会员","money":"1.00","status":1,"param":"","buyer":"2088102"}"#,
    )
    .unwrap();
    let OrderState::Paid(n) = paid.state("1001", "20160806151343349").unwrap() else {
        panic!("not paid");
    };
    assert_eq!((n.money, n.buyer.as_deref()), (Money::from_minor(100), Some("2088102")));
    assert!(matches!(
        paid.state("1002", "20160806151343349"),
        Err(EpayError::WrongMerchant(_))
    ));
    assert!(matches!(paid.state("1001", "another"), Err(EpayError::Malformed(_))));
    let unpaid: OrderAnswer =
        serde_json::from_str(r#"{"code":"1","pid":"1001","out_trade_no":"20160806151343349","status":"0"}"#).unwrap();
    assert_eq!(unpaid.state("1001", "20160806151343349").unwrap(), OrderState::Unpaid);
    let refunded: OrderAnswer =
        serde_json::from_str(r#"{"code":1,"pid":1001,"out_trade_no":"20160806151343349","status":2}"#).unwrap();
    assert_eq!(
        refunded.state("1001", "20160806151343349").unwrap(),
        OrderState::Refunded
    );
    let unknown: OrderAnswer = serde_json::from_str(r#"{"code":-1,"msg":"订单号不存在"}"#).unwrap();
    assert_eq!(unknown.state("1001", "20160806151343349").unwrap(), OrderState::Unpaid);
    let refused: epay::Answer = serde_json::from_str(r#"{"code":-1,"msg":"余额不足"}"#).unwrap();
    assert_eq!(refused.ok().unwrap_err(), EpayError::Refused("余额不足".into()));
}

#[test]
fn the_query_and_refund_requests_carry_the_merchant_and_the_exact_amount() {
    assert_eq!(
        epay::order_query_url("https://pay.example.com/", "1001", KEY, "A1"),
        format!("https://pay.example.com/api.php?act=order&pid=1001&key={KEY}&out_trade_no=A1")
    );
    assert_eq!(
        epay::refund_form("1001", KEY, "A1", Money::from_minor(1050)),
        format!("pid=1001&key={KEY}&out_trade_no=A1&money=10.50")
    );
}

#[test]
fn the_order_list_gives_the_paid_orders_of_our_merchant() {
    assert_eq!(
        epay::orders_url("https://pay.example.com", "1001", KEY, 50, 2),
        format!("https://pay.example.com/api.php?act=orders&pid=1001&key={KEY}&limit=50&page=2")
    );
    let page: epay::OrdersAnswer = serde_json::from_str(
        r#"{"code":1,"msg":"查询结算记录成功！","data":[
            {"trade_no":"T2","out_trade_no":"O2","type":"wxpay","pid":"1001","addtime":"2026-12-01 10:00:00","endtime":"2026-12-01 10:01:00","name":"卡密","money":"12.50","status":1},
            {"trade_no":"T3","out_trade_no":"O3","type":"wxpay","pid":"1001","addtime":"2026-12-01 09:30:00","endtime":"2026-12-01 09:31:00","name":"卡密","money":"8.00","status":2},
            {"trade_no":"T1","out_trade_no":"O1","type":"alipay","pid":1001,"addtime":"2026-12-01 09:00:00","endtime":null,"name":"卡密","money":"3.00","status":0}
        ]}"#,
    )
    .unwrap();
    let paid = page.paid("1001").unwrap();
    // The unpaid order is left out; the one refunded since is still a payment that came in.
    assert_eq!(paid.len(), 2);
    assert_eq!(
        (paid[1].0.trade_no.as_str(), paid[1].1.as_str()),
        ("T3", "2026-12-01 09:31:00")
    );
    assert_eq!(
        (paid[0].0.trade_no.as_str(), paid[0].0.money),
        ("T2", Money::from_minor(1250))
    );
    assert_eq!(paid[0].1, "2026-12-01 10:01:00");
    assert!(matches!(page.paid("1002"), Err(EpayError::WrongMerchant(_))));
    let refused: epay::OrdersAnswer = serde_json::from_str(r#"{"code":-2,"msg":"KEY校验失败"}"#).unwrap();
    assert_eq!(
        refused.paid("1001").unwrap_err(),
        EpayError::Refused("KEY校验失败".into())
    );
}

#[test]
fn a_payment_created_by_api_is_signed_with_the_buyers_address_and_answered_with_a_cashier() {
    let req = epay::PayRequest {
        pid: "1001".into(),
        pay_type: "alipay".into(),
        out_trade_no: "20160806151343349".into(),
        notify_url: "http://www.pay.com/notify_url.php".into(),
        return_url: "http://www.pay.com/return_url.php".into(),
        name: "VIP会员".into(),
        money: Money::from_minor(100),
    };
    assert_eq!(
        epay::api_url("https://pay.example.com"),
        "https://pay.example.com/mapi.php"
    );
    let form = req.api_form(KEY);
    let params = epay::parse_params(&form).unwrap();
    // The aggregator's side reads it as any signed request, clientip signed too.
    assert_eq!(epay::value(&params, "clientip"), Some(epay::API_CLIENT_IP));
    assert!(epay::md5_verifies(&params, KEY));
    assert_eq!(
        epay::PayRequest::read(&params, KEY).unwrap().out_trade_no,
        req.out_trade_no
    );
    let tampered = form.replace("money=1.00", "money=0.01");
    assert!(!epay::md5_verifies(&epay::parse_params(&tampered).unwrap(), KEY));
    let answer = |json: &str| serde_json::from_str::<epay::ApiAnswer>(json).unwrap().cashier();
    assert_eq!(
        answer(r#"{"code":1,"msg":"succ","trade_no":"T1","payurl":"https://pay.example.com/pay/T1"}"#).unwrap(),
        "https://pay.example.com/pay/T1"
    );
    assert_eq!(
        answer(r#"{"code":"1","trade_no":"T1","qrcode":"weixin://wxpay/bizpayurl?pr=abc"}"#).unwrap(),
        "weixin://wxpay/bizpayurl?pr=abc"
    );
    assert_eq!(
        answer(r#"{"code":-1,"msg":"商户不存在"}"#).unwrap_err(),
        EpayError::Refused("商户不存在".into())
    );
    assert!(matches!(
        answer(r#"{"code":1,"payurl":""}"#),
        Err(EpayError::Malformed(_))
    ));
}
