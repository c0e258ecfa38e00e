//! What a seller's back office computes from their orders and keys: sales per day and
//! card keys shown masked. Pure; the app feeds it rows and the clock.

use crate::money::Money;
use crate::order::OrderStatus;

/// A day's length in ms.
pub const DAY_MS: i64 = 24 * 3600 * 1000;
/// A seller's day is a China Standard Time day (UTC+8, no daylight saving): "today's
/// sales" ends at local midnight, where the sellers are.
pub const SELLER_DAY_OFFSET_MS: i64 = 8 * 3600 * 1000;

/// The start (ms since the epoch) of the seller's day that holds `at`.
pub fn day_start(at: i64) -> i64 {
    (at + SELLER_DAY_OFFSET_MS).div_euclid(DAY_MS) * DAY_MS - SELLER_DAY_OFFSET_MS
}

/// Whether a paid order counts as a sale: it is not refunded in full. (A partly refunded
/// order counts at its whole amount: the split is a complaint's outcome, not a sale's.)
pub fn counts_as_sale(status: OrderStatus) -> bool {
    !matches!(
        status,
        OrderStatus::Refunded | OrderStatus::PendingPayment | OrderStatus::Expired | OrderStatus::Cancelled
    )
}

/// One day of sales.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DaySales {
    /// The day's start, ms.
    pub day: i64,
    pub orders: i64,
    pub amount: Money,
}

/// Sales of the last `days` seller days up to and including today (oldest first, every
/// day present, zero where nothing sold), from (paid at, amount, status) rows.
pub fn daily_sales(rows: &[(i64, Money, OrderStatus)], now: i64, days: usize) -> Vec<DaySales> {
    let today = day_start(now);
    let first = today - (days as i64 - 1) * DAY_MS;
    let mut out: Vec<DaySales> = (0..days as i64)
        .map(|i| DaySales {
            day: first + i * DAY_MS,
            orders: 0,
            amount: Money::ZERO,
        })
        .collect();
    for (paid_at, amount, status) in rows {
        if !counts_as_sale(*status) || *paid_at < first || *paid_at >= today + DAY_MS {
            continue;
        }
        let slot = ((day_start(*paid_at) - first) / DAY_MS) as usize;
        if let Some(d) = out.get_mut(slot) {
            d.orders += 1;
            d.amount = Money::from_minor(d.amount.minor() + amount.minor());
        }
    }
    out
}

/// A card key as the seller's list shows it: enough to recognise, not enough to use —
/// the first 3 and last 2 characters of a key of 8 or more, else only the first.
pub fn mask_card_key(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    let (head, tail) = if chars.len() >= 8 {
        (3, 2)
    } else {
        (1.min(chars.len()), 0)
    };
    let hidden = chars.len() - head - tail;
    let mut out: String = chars[..head].iter().collect();
    out.push_str(&"*".repeat(hidden.clamp(1, 8)));
    out.extend(&chars[chars.len() - tail..]);
    out
}

/// What a paste of card keys holds, line by line: the keys to import, the blank lines
/// skipped, and the lines repeating an earlier line of the same paste (1-based).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KeyPaste<'a> {
    pub keys: Vec<&'a str>,
    pub blank_lines: usize,
    pub repeated_lines: Vec<usize>,
}

pub fn read_key_paste(text: &str) -> KeyPaste<'_> {
    let mut paste = KeyPaste::default();
    let mut seen = std::collections::HashSet::new();
    for (i, line) in text.lines().enumerate() {
        let key = line.trim();
        if key.is_empty() {
            paste.blank_lines += 1;
        } else if !seen.insert(key) {
            paste.repeated_lines.push(i + 1);
        } else {
            paste.keys.push(key);
        }
    }
    paste
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3600 * 1000;

    #[test]
    fn a_seller_day_ends_at_china_midnight() {
        // 2026-01-01T15:59:59Z is 23:59:59 in Beijing; a second later is the next day.
        let before = 1_767_283_199_000;
        assert_eq!(day_start(before), 1_767_196_800_000);
        assert_eq!(day_start(before + 1000), 1_767_283_200_000);
        assert_eq!(day_start(day_start(before)), day_start(before));
        assert_eq!(day_start(-1), -SELLER_DAY_OFFSET_MS);
    }

    #[test]
    fn sales_are_summed_per_day_and_refunds_do_not_count() {
        let now = 1_767_283_199_000; // the last second of a Beijing day
        let m = Money::from_minor;
        let rows = [
            (now - H, m(1000), OrderStatus::Completed),
            (now - 2 * H, m(500), OrderStatus::Paid),
            (now - 3 * H, m(700), OrderStatus::Refunded),
            (now - DAY_MS, m(300), OrderStatus::Delivered),
            (now - 40 * DAY_MS, m(9999), OrderStatus::Completed),
            (now + H, m(1), OrderStatus::Paid),
        ];
        let days = daily_sales(&rows, now, 30);
        assert_eq!(days.len(), 30);
        assert_eq!(
            days[29],
            DaySales {
                day: day_start(now),
                orders: 2,
                amount: m(1500)
            }
        );
        assert_eq!(days[28].amount, m(300));
        assert_eq!(days.iter().map(|d| d.amount.minor()).sum::<i64>(), 1800);
        assert!(days.windows(2).all(|w| w[1].day - w[0].day == DAY_MS));
    }

    #[test]
    fn keys_are_masked() {
        assert_eq!(mask_card_key("ABCD-1234-EFGH"), "ABC********GH");
        assert_eq!(mask_card_key("ABCDEFGH"), "ABC***GH");
        assert_eq!(mask_card_key("ABC"), "A**");
        assert_eq!(mask_card_key("卡密一二三四五六"), "卡密一***五六");
        assert_eq!(mask_card_key("X"), "X*");
        assert_eq!(mask_card_key(""), "*");
    }

    #[test]
    fn a_paste_reports_blank_and_repeated_lines() {
        let p = read_key_paste("K1\n\n  K2 \nK1\n   \nK3\nK2\n");
        assert_eq!(p.keys, vec!["K1", "K2", "K3"]);
        assert_eq!(p.blank_lines, 2);
        assert_eq!(p.repeated_lines, vec![4, 7]);
    }
}
