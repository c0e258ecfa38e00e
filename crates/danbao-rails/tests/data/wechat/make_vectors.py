"""Computes the WeChat Pay test vectors outside danbao-rails (python3 make_vectors.py,
run in this folder): AES-256-GCM with Python's `cryptography`, SHA256withRSA with
`openssl dgst -sha256 -sign`, SHA-1 with hashlib. Prints the values the tests hold."""
import base64, hashlib, json, subprocess

API_V3_KEY = b"Danbao0TestApiV3Key0000000000000"  # 32 bytes, the tests' APIv3 key
assert len(API_V3_KEY) == 32

def openssl_sign(key, message):
    sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", key], input=message,
                         capture_output=True, check=True).stdout
    return base64.b64encode(sig).decode()

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

# 1. The documentation's request message (GET /v3/certificates), signed by the merchant.
doc_message = b"GET\n/v3/certificates\n1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\n\n"
print("DOC_REQUEST_SIGNATURE", openssl_sign("merchant-private.pem", doc_message))

# 2. A Native order, signed by the merchant.
order_body = ('{"appid":"wxd678efh567hg6787","mchid":"1900000109",'
              '"description":"Image形象店-深圳腾大-QQ公仔","out_trade_no":"1217752501201407033233368018",'
              '"time_expire":"2018-06-08T10:34:56+08:00","notify_url":"https://www.weixin.qq.com/wxpay/pay.php",'
              '"amount":{"total":100,"currency":"CNY"}}')
order_message = ("POST\n/v3/pay/transactions/native\n1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\n"
                 + order_body + "\n").encode()
print("ORDER_SIGNATURE", openssl_sign("merchant-private.pem", order_message))

# 3. The Native answer, signed by the platform.
answer_body = b'{"code_url":"weixin://wxpay/bizpayurl?pr=p4lpSuKzz"}'
print("ANSWER_SIGNATURE", openssl_sign("platform-private.pem",
                                       b"1554208461\nC29B8E0F5C1A4F2F9A1B3C4D5E6F7A8B\n" + answer_body + b"\n"))

# 4. A paid notification: the transaction encrypted under the APIv3 key, the body
#    signed by the platform.
transaction = ('{"appid":"wxd678efh567hg6787","mchid":"1900000109",'
               '"out_trade_no":"1217752501201407033233368018","transaction_id":"1217752501201407033233368018",'
               '"trade_type":"NATIVE","trade_state":"SUCCESS","trade_state_desc":"支付成功","bank_type":"CMC",'
               '"success_time":"2018-06-08T10:34:56+08:00","payer":{"openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},'
               '"amount":{"total":100,"payer_total":100,"currency":"CNY","payer_currency":"CNY"}}')
ciphertext = base64.b64encode(AESGCM(API_V3_KEY).encrypt(b"fdasflkja484", transaction.encode(),
                                                          b"transaction")).decode()
notification = ('{"id":"EV-2018022511223320873","create_time":"2018-06-08T10:34:56+08:00",'
                '"resource_type":"encrypt-resource","event_type":"TRANSACTION.SUCCESS","summary":"支付成功",'
                '"resource":{"original_type":"transaction","algorithm":"AEAD_AES_256_GCM",'
                '"ciphertext":"' + ciphertext + '","associated_data":"transaction","nonce":"fdasflkja484"}}')
print("NOTIFICATION", notification)
print("NOTIFICATION_SIGNATURE", openssl_sign("platform-private.pem",
      b"1528425296\n3C2E7F1A9B8D4C6E5F0A1B2C3D4E5F60\n" + notification.encode() + b"\n"))

# 5. The trade bill the simulator writes, and its SHA-1.
bill = open("tradebill.csv", "rb").read()
print("BILL_SHA1", hashlib.sha1(bill).hexdigest())
