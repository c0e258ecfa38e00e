//! The cashier page a buyer's browser sees. Hand-written HTML: every interpolated value goes
//! through [`escape`].

use super::state::{Payment, PaymentStatus};

pub(crate) fn page(payment: &Payment, public_base_url: &str) -> String {
    let subject = escape(&payment.subject);
    let amount = escape(&format_amount(payment.amount_minor, &payment.currency));
    let body = match &payment.status {
        PaymentStatus::Created => {
            let action = escape(&format!("{public_base_url}/payments/{}/pay", payment.payment_id));
            format!(
                r#"<p>状态 (Status): 待支付 (awaiting payment)</p>
<form method="post" action="{action}">
  <button type="submit">确认支付 (Pay)</button>
</form>"#
            )
        }
        // Anyone holding the payment id can open this page again after payment (the
        // merchant knows it too), so it shows nothing that leads to the buyer: no return
        // link, no contact. The buyer was sent back to the merchant when they paid.
        PaymentStatus::Succeeded { trade_no, .. } => {
            let trade_no = escape(trade_no);
            format!("<p>状态 (Status): 已支付 (paid)</p>\n<p>交易号 (Trade no.): {trade_no}</p>")
        }
    };
    layout(
        "沙箱收银台 (Sandbox cashier)",
        &format!(
            r#"<h1>沙箱收银台 (Sandbox cashier)</h1>
<p>商品 (Subject): {subject}</p>
<p>金额 (Amount): <strong>{amount}</strong></p>
{body}"#
        ),
    )
}

pub(crate) fn not_found(payment_id: &str) -> String {
    layout(
        "支付单不存在 (Payment not found)",
        &format!(
            "<h1>支付单不存在 (Payment not found)</h1>\n<p>{}</p>",
            escape(payment_id)
        ),
    )
}

fn layout(title: &str, main: &str) -> String {
    format!(
        r#"<!doctype html>
<html lang="zh-CN">
<head><meta charset="utf-8"><title>{title}</title></head>
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

    #[test]
    fn escaping() {
        assert_eq!(
            escape(r#"<script>alert("x&'y")</script>"#),
            "&lt;script&gt;alert(&quot;x&amp;&#39;y&quot;)&lt;/script&gt;"
        );
    }
}
