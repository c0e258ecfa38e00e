//! The cashier page a buyer's browser sees. Hand-written HTML: every interpolated value goes
//! through [`escape`].

use super::state::{Payment, PaymentStatus};
use time::{OffsetDateTime, UtcOffset};

/// The buyers this gateway stands in for read Beijing time (UTC+8, no summer time).
const BEIJING: UtcOffset = match UtcOffset::from_hms(8, 0, 0) {
    Ok(offset) => offset,
    Err(_) => UtcOffset::UTC,
};

/// The cashier as a buyer sees it: who is paid, how much, for which order, a QR code to
/// pay from a phone, and how long the merchant still waits. No script: the countdown is
/// the time left when the page was rendered.
pub(crate) fn page(payment: &Payment, public_base_url: &str, now: OffsetDateTime) -> String {
    let merchant = escape(payment.site_name.as_deref().unwrap_or("沙箱商户"));
    let subject = escape(&payment.subject);
    let amount = escape(&format_amount(payment.amount_minor, &payment.currency));
    let mut details = String::new();
    if let Some(order_ref) = &payment.order_ref {
        details.push_str(&format!(
            "<tr><th>订单号</th><td><code>{}</code></td></tr>\n",
            escape(order_ref)
        ));
    }
    details.push_str(&format!(
        "<tr><th>商户单号</th><td><code>{}</code></td></tr>\n",
        escape(&payment.out_trade_no)
    ));
    let body = match &payment.status {
        PaymentStatus::Created => {
            let cashier_url = format!("{public_base_url}/cashier/{}", payment.payment_id);
            let action = escape(&format!("{public_base_url}/payments/{}/pay", payment.payment_id));
            let deadline = payment.expires_at.map(|at| deadline(at, now)).unwrap_or_default();
            format!(
                r#"<div class="qr">{qr}<p class="muted">手机扫码，打开此收银台付款</p></div>
{deadline}<p class="state">待支付</p>
<form method="post" action="{action}">
  <button type="submit">确认支付 {amount}</button>
</form>"#,
                qr = qr_svg(&cashier_url),
            )
        }
        // Anyone holding the payment id can open this page again after payment (the
        // merchant knows it too), so it shows nothing that leads to the buyer: no return
        // link, no contact. The buyer was sent back to the merchant when they paid.
        PaymentStatus::Succeeded { trade_no, .. } => {
            let trade_no = escape(trade_no);
            format!(
                "<p class=\"state paid\">已支付</p>\n<table><tr><th>交易号</th><td><code>{trade_no}</code></td></tr></table>"
            )
        }
    };
    layout(
        "收银台 · 沙箱支付",
        &format!(
            r#"<header><strong>沙箱支付</strong> 收银台<span>演示环境，不会真实扣款</span></header>
<main>
<section class="bill">
<p class="merchant">收款方：{merchant}</p>
<p class="amount" id="amount">{amount}</p>
<table>
<tr><th>商品</th><td>{subject}</td></tr>
{details}</table>
</section>
<section class="pay">
{body}
</section>
</main>"#
        ),
    )
}

/// "Pay before 10:15 (Beijing time), 14 minutes left", or that the time is up (the
/// gateway still takes the money; the merchant refunds an order it no longer holds).
fn deadline(at: OffsetDateTime, now: OffsetDateTime) -> String {
    let local = at.to_offset(BEIJING);
    let when = format!(
        "{:04}-{:02}-{:02} {:02}:{:02}",
        local.year(),
        u8::from(local.month()),
        local.day(),
        local.hour(),
        local.minute()
    );
    let left_s = (at - now).whole_seconds();
    if left_s <= 0 {
        return format!(
            r#"<p class="deadline over">已超过支付期限（{when} 北京时间）：此时付款，商户将自动退款</p>
"#
        );
    }
    // Rounded up: "0 minutes left" while time remains would send the buyer away.
    let minutes = (left_s + 59) / 60;
    format!(
        r#"<p class="deadline">请在 <time>{when}</time>（北京时间）前完成支付，剩余 <strong id="minutes-left">{minutes}</strong> 分钟</p>
"#
    )
}

/// The QR code of `url` as inline SVG; scaled by CSS. A URL longer than a QR code holds
/// (thousands of characters; the gateway caps its own at far less) gets no code.
fn qr_svg(url: &str) -> String {
    let Ok(code) = qrcode::QrCode::new(url.as_bytes()) else {
        return String::new();
    };
    let svg = code
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(200, 200)
        .build();
    // Inline in HTML the XML declaration has no place.
    match svg.find("<svg") {
        Some(start) => svg[start..].replacen("<svg ", r#"<svg role="img" aria-label="付款二维码" "#, 1),
        None => String::new(),
    }
}

pub(crate) fn not_found(payment_id: &str) -> String {
    layout(
        "支付单不存在",
        &format!(
            "<main><section><h1>支付单不存在</h1>\n<p>{}</p></section></main>",
            escape(payment_id)
        ),
    )
}

fn layout(title: &str, main: &str) -> String {
    format!(
        r#"<!doctype html>
<html lang="zh-CN">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title>
<style>
  body {{ margin: 0; background: #eef1f5; color: #222; font-family: -apple-system, "PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC", sans-serif; line-height: 1.6; }}
  header {{ background: #1677ff; color: #fff; padding: .7em 1em; display: flex; gap: .6em; align-items: baseline; flex-wrap: wrap; }}
  header span {{ font-size: .85em; opacity: .85; }}
  main {{ max-width: 520px; margin: 1em auto; padding: 0 .8em; }}
  section {{ background: #fff; border-radius: 8px; padding: 1em 1.2em; margin-bottom: 1em; }}
  .merchant {{ margin: 0; color: #555; }}
  .amount {{ font-size: 2em; font-weight: bold; margin: .2em 0 .4em; color: #222; }}
  table {{ width: 100%; border-collapse: collapse; }}
  th, td {{ text-align: left; padding: .3em 0; vertical-align: top; border-top: 1px solid #f0f0f0; }}
  th {{ color: #777; font-weight: normal; white-space: nowrap; padding-right: 1em; width: 5em; }}
  code {{ word-break: break-all; font-size: .9em; }}
  .qr {{ text-align: center; }}
  .qr svg {{ width: 200px; max-width: 70vw; height: auto; border: 1px solid #eee; }}
  .muted {{ color: #888; font-size: .85em; margin: .2em 0; }}
  .deadline {{ background: #fff7e6; border: 1px solid #ffd591; border-radius: 6px; padding: .5em .8em; }}
  .deadline.over {{ background: #fff1f0; border-color: #ffa39e; color: #a8071a; }}
  .state {{ font-weight: bold; color: #d46b08; }}
  .state.paid {{ color: #389e0d; }}
  button {{ width: 100%; padding: .7em; font-size: 1.1em; background: #1677ff; color: #fff; border: 0; border-radius: 6px; cursor: pointer; }}
</style>
</head>
<body>
{main}
</body>
</html>
"#
    )
}

/// `¥12.34` for CNY; `12.34 USD` for anything else. Integer arithmetic only.
pub(crate) fn format_amount(amount_minor: i64, currency: &str) -> String {
    let sign = if amount_minor < 0 { "-" } else { "" };
    let abs = amount_minor.unsigned_abs();
    let number = format!("{}.{:02}", abs / 100, abs % 100);
    if currency == "CNY" {
        format!("{sign}¥{number}")
    } else {
        format!("{sign}{number} {currency}")
    }
}

/// HTML-escapes text for element content and double-quoted attributes.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts() {
        assert_eq!(format_amount(1234, "CNY"), "¥12.34");
        assert_eq!(format_amount(5, "CNY"), "¥0.05");
        assert_eq!(format_amount(100, "USD"), "1.00 USD");
        assert_eq!(format_amount(-150, "CNY"), "-¥1.50");
        assert_eq!(format_amount(i64::MIN, "CNY"), "-¥92233720368547758.08");
    }

    fn unpaid(expires_at: Option<OffsetDateTime>) -> Payment {
        Payment {
            payment_id: "sbp_1".into(),
            out_trade_no: "attempt-1".into(),
            amount_minor: 2_500,
            currency: "CNY".into(),
            subject: "<月卡>".into(),
            notify_url: "http://shop.test/notify".into(),
            return_url: String::new(),
            status: PaymentStatus::Created,
            refunded_minor: 0,
            notifications: Vec::new(),
            schedule: None,
            site_name: Some("担保 Danbao".into()),
            order_ref: Some("order-42".into()),
            expires_at,
            rail: Default::default(),
        }
    }

    #[test]
    fn the_cashier_shows_merchant_amount_order_qr_code_and_time_left() {
        let now = OffsetDateTime::UNIX_EPOCH + time::Duration::seconds(1_764_633_600); // 2025-12-02 00:00 UTC
        let page = page(
            &unpaid(Some(now + time::Duration::seconds(14 * 60 + 1))),
            "http://gw.test",
            now,
        );
        assert!(page.contains("收款方：担保 Danbao"), "{page}");
        assert!(page.contains(r#"<p class="amount" id="amount">¥25.00</p>"#), "{page}");
        assert!(page.contains("<code>order-42</code>"), "{page}");
        assert!(page.contains("&lt;月卡&gt;"), "{page}");
        assert!(
            page.contains(r#"<svg role="img" aria-label="付款二维码" xmlns="http://www.w3.org/2000/svg""#),
            "{page}"
        );
        assert!(!page.contains("<?xml"), "{page}");
        // 14 min 1 s left reads as 15 minutes; the deadline in Beijing time.
        assert!(
            page.contains(r#"剩余 <strong id="minutes-left">15</strong> 分钟"#),
            "{page}"
        );
        assert!(page.contains("<time>2025-12-02 08:14</time>"), "{page}");
        assert!(
            page.contains(r#"<form method="post" action="http://gw.test/payments/sbp_1/pay">"#),
            "{page}"
        );
    }

    #[test]
    fn past_the_deadline_the_cashier_says_the_payment_would_be_refunded() {
        let now = OffsetDateTime::UNIX_EPOCH + time::Duration::seconds(1_764_633_600);
        let page = page(&unpaid(Some(now)), "http://gw.test", now);
        assert!(page.contains("已超过支付期限"), "{page}");
        assert!(!page.contains("minutes-left"), "{page}");
        let page = super::page(&unpaid(None), "http://gw.test", now);
        assert!(!page.contains("北京时间"), "no deadline given, none shown: {page}");
    }

    #[test]
    fn escaping() {
        assert_eq!(
            escape(r#"<script>alert("x&'y")</script>"#),
            "&lt;script&gt;alert(&quot;x&amp;&#39;y&quot;)&lt;/script&gt;"
        );
    }
}
