#!/usr/bin/env python3
"""Prints the Alipay test vectors of tests/alipay.rs, computed outside danbao-rails:
signing strings by Alipay's documented rule (sorted by name, empty values left out, `sign`
left out, and `sign_type` too for notifications; values raw), signatures by
`openssl dgst -sha256 -sign <key> | base64 -w0`. Run from this folder: python3 make_vectors.py
"""
import base64, subprocess, urllib.parse

def sign(text, key):
    out = subprocess.run(["openssl", "dgst", "-sha256", "-sign", key],
                         input=text.encode(), capture_output=True, check=True).stdout
    return base64.b64encode(out).decode()

def signing(params, drop):
    kept = sorted((k, v) for k, v in params if k not in drop and v != "")
    return "&".join(f"{k}={v}" for k, v in kept)

def show(name, value):
    print(f"{name}:\n{value}\n")

# 1. The example of Alipay's "自行实现签名" page, signed with our app key.
doc = [("app_id", "2014072300007148"), ("method", "alipay.mobile.public.menu.add"), ("charset", "GBK"),
       ("sign_type", "RSA2"), ("timestamp", "2014-07-24 03:07:50"),
       ("biz_content", '{"button":[{"actionParam":"ZFB_HFCZ","actionType":"out","name":"话费充值"},{"name":"查询","subButton":[{"actionParam":"ZFB_YECX","actionType":"out","name":"余额查询"},{"actionParam":"ZFB_LLCX","actionType":"out","name":"流量查询"},{"actionParam":"ZFB_HFCX","actionType":"out","name":"话费查询"}]},{"actionParam":"http://m.alipay.com","actionType":"link","name":"最新优惠"}]}'),
       ("version", "1.0")]
s = signing(doc, {"sign"})
show("DOC_SIGNING_STRING", s)
show("DOC_SIGNATURE (app key)", sign(s, "app-private.pem"))

# 2. Our page-pay request.
page = [("app_id", "2021000000000001"), ("method", "alipay.trade.page.pay"), ("format", "JSON"), ("charset", "utf-8"),
        ("sign_type", "RSA2"), ("timestamp", "2024-05-01 12:00:00"), ("version", "1.0"),
        ("notify_url", "https://danbao.example/pay/alipay/notify"), ("return_url", "https://danbao.example/orders/o-1"),
        ("biz_content", '{"out_trade_no":"D20240501000001","total_amount":"12.34","subject":"游戏点卡 100元","product_code":"FAST_INSTANT_TRADE_PAY","time_expire":"2024-05-01 12:15:00"}')]
s = signing(page, {"sign"})
show("PAGE_PAY_SIGNING_STRING", s)
show("PAGE_PAY_SIGNATURE (app key)", sign(s, "app-private.pem"))

# 3. A paid notification as our simulator writes it, and one shaped like a real server's.
paid = [("gmt_create", "2024-05-01 12:03:20"), ("charset", "utf-8"), ("subject", "游戏点卡 100元"),
        ("buyer_id", "2088102177846875"), ("notify_id", "2024050100222120321046870512345678"),
        ("notify_type", "trade_status_sync"), ("trade_status", "TRADE_SUCCESS"), ("app_id", "2021000000000001"),
        ("sign_type", "RSA2"), ("seller_id", "2088621000000001"), ("gmt_payment", "2024-05-01 12:03:21"),
        ("notify_time", "2024-05-01 12:03:22"), ("version", "1.0"), ("out_trade_no", "D20240501000001"),
        ("total_amount", "12.34"), ("trade_no", "2024050122001400001234567890"), ("auth_app_id", "2021000000000001")]
s = signing(paid, {"sign", "sign_type"})
show("PAID_SIGNING_STRING", s)
show("PAID (alipay key)", urllib.parse.urlencode(paid + [("sign", sign(s, "alipay-private.pem"))]))
real = [("gmt_create", "2024-05-01 12:03:20"), ("charset", "utf-8"), ("seller_email", "shop@danbao.example"),
        ("subject", "游戏点卡 100元"), ("body", "订单 D20240501000001"), ("buyer_id", "2088102177846875"),
        ("invoice_amount", "12.34"), ("notify_id", "2024050100222120321046870512345678"),
        ("fund_bill_list", '[{"amount":"12.34","fundChannel":"ALIPAYACCOUNT"}]'), ("notify_type", "trade_status_sync"),
        ("trade_status", "TRADE_SUCCESS"), ("receipt_amount", "12.34"), ("app_id", "2021000000000001"),
        ("buyer_pay_amount", "12.34"), ("sign_type", "RSA2"), ("seller_id", "2088621000000001"),
        ("gmt_payment", "2024-05-01 12:03:21"), ("notify_time", "2024-05-01 12:03:22"), ("passback_params", ""),
        ("version", "1.0"), ("out_trade_no", "D20240501000001"), ("total_amount", "12.34"),
        ("trade_no", "2024050122001400001234567890"), ("auth_app_id", "2021000000000001"),
        ("buyer_logon_id", "159****5620"), ("point_amount", "0.00")]
# Signed as Alipay's SDKs check a notification (rsaCheckV1: the empty passback_params kept as
# "passback_params="), and as the documentation's rule for requests (empty values dropped).
s = "&".join(f"{k}={v}" for k, v in sorted(real) if k not in ("sign", "sign_type"))
show("REAL_SHAPED (alipay key, empty values kept)", urllib.parse.urlencode(real + [("sign", sign(s, "alipay-private.pem"))]))
s = signing(real, {"sign", "sign_type"})
show("REAL_SHAPED_EMPTY_DROPPED (alipay key, empty values dropped)", urllib.parse.urlencode(real + [("sign", sign(s, "alipay-private.pem"))]))

# 4. Answers: the signature is over the exact text of the _response member.
def answer(member_name, member, signed_text=None):
    sig = sign(signed_text if signed_text is not None else member, "alipay-private.pem")
    return '{"%s":%s,"sign":"%s"}' % (member_name, member, sig)

query = '{"code":"10000","msg":"Success","trade_no":"2024050122001400001234567890","out_trade_no":"D20240501000001","trade_status":"TRADE_SUCCESS","total_amount":"12.34","buyer_user_id":"2088102177846875","send_pay_date":"2024-05-01 12:03:21"}'
show("QUERY_ANSWER (alipay key)", answer("alipay_trade_query_response", query))
not_exist = '{"code":"40004","msg":"Business Failed","sub_code":"ACQ.TRADE_NOT_EXIST","sub_msg":"交易不存在"}'
show("NOT_EXIST_ANSWER (alipay key)", answer("alipay_trade_query_response", not_exist))
# Some of Alipay's servers write "\/" for "/" but sign the text with "/".
precreate = '{"code":"10000","msg":"Success","out_trade_no":"D20240501000001","qr_code":"https:\\/\\/qr.alipay.com\\/bax08431ljhokirwl38f00a7"}'
show("PRECREATE_ESCAPED_ANSWER (alipay key, over the text with /)",
     answer("alipay_trade_precreate_response", precreate, precreate.replace("\\/", "/")))
refund = '{"code":"10000","msg":"Success","trade_no":"2024050122001400001234567890","out_trade_no":"D20240501000001","fund_change":"Y","refund_fee":"12.34","gmt_refund_pay":"2024-05-02 09:00:00"}'
show("REFUND_ANSWER (alipay key)", answer("alipay_trade_refund_response", refund))
