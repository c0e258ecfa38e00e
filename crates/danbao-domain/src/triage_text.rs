//! Reading the complaint's words for triage (预审): the buyer's and the seller's texts
//! are matched against a table of phrases (zh-CN, with simple English equivalents),
//! each phrase belonging to one class with a weight. The result is what was said, with
//! the phrases that say it, so a person can see why triage proposes what it does. It
//! proposes, never rules: `complaint::triage` decides what, if anything, the words change.
//!
//! Pure and deliberately simple (no model): texts are normalised (full-width to
//! half-width, case, spaces), phrases are matched longest first so a short phrase inside a
//! longer one is not counted twice, and a phrase just after a negation (不是骗子,
//! "not a scam") is reported as negated and does not count.

use serde::{Deserialize, Serialize};

/// What a phrase says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TextClass {
    /// The card key was already used, or is invalid (卡密已被使用, 卡密无效).
    KeyUsed,
    /// Nothing arrived (没收到, 不发货).
    NotReceived,
    /// What arrived is not what was sold (货不对板, 面值不对).
    NotAsDescribed,
    /// The writer calls the other side a cheat (骗子, 跑路, 拉黑).
    Fraud,
    /// The buyer changed their mind or ordered by mistake (误拍, 不想要了).
    Remorse,
    /// The problem is over (已解决, 可以用了). Strong: the writer says so outright.
    Resolved,
    /// "I got it" (已经收到): resolution only when nothing else is complained of; a buyer
    /// often writes it before saying what is wrong with what arrived.
    Received,
    /// The seller admits the fault or offers to make it good (抱歉, 同意退款).
    Admits,
    /// The seller says the delivery was fine (卡密没问题, 已正常发货).
    Denies,
}

impl TextClass {
    pub fn as_str(self) -> &'static str {
        match self {
            TextClass::KeyUsed => "key_used",
            TextClass::NotReceived => "not_received",
            TextClass::NotAsDescribed => "not_as_described",
            TextClass::Fraud => "fraud",
            TextClass::Remorse => "remorse",
            TextClass::Resolved => "resolved",
            TextClass::Received => "received",
            TextClass::Admits => "admits",
            TextClass::Denies => "denies",
        }
    }

    /// Whether the class is read in the buyer's words (`for_buyer`) or the seller's: the
    /// seller's admission or denial means nothing in the buyer's mouth (确实 there is
    /// emphasis), and a seller quoting the complaint (买家说卡密已被使用) is not making it.
    pub fn read_for(self, for_buyer: bool) -> bool {
        match self {
            TextClass::KeyUsed
            | TextClass::NotReceived
            | TextClass::NotAsDescribed
            | TextClass::Remorse
            | TextClass::Received => for_buyer,
            TextClass::Admits | TextClass::Denies => !for_buyer,
            TextClass::Fraud | TextClass::Resolved => true,
        }
    }

    /// A complaint about the order (as opposed to remorse, resolution, or a seller's stance).
    pub fn is_grievance(self) -> bool {
        matches!(
            self,
            TextClass::KeyUsed | TextClass::NotReceived | TextClass::NotAsDescribed | TextClass::Fraud
        )
    }
}

/// The phrase table: (class, weight, phrase). Phrases are written as people type them
/// and normalised like the texts before matching, so 'Already Used' and 'already used'
/// are one phrase. The weight is how much one occurrence counts toward its class
/// (3: says it outright; 2: says it, less plainly; 1: a hint).
pub const PHRASES: &[(TextClass, u8, &str)] = &[
    // 卡密已被使用 / 无效: the card-key complaint, the most common one on a card shop.
    (TextClass::KeyUsed, 3, "卡密已被使用"),
    (TextClass::KeyUsed, 3, "卡密已使用"),
    (TextClass::KeyUsed, 3, "卡密被用过"),
    (TextClass::KeyUsed, 3, "卡密无效"),
    (TextClass::KeyUsed, 3, "卡密错误"),
    (TextClass::KeyUsed, 3, "卡号已被使用"),
    (TextClass::KeyUsed, 3, "兑换码已被使用"),
    (TextClass::KeyUsed, 3, "已被兑换"),
    (TextClass::KeyUsed, 3, "已被使用"),
    (TextClass::KeyUsed, 3, "提示已使用"),
    (TextClass::KeyUsed, 3, "显示已使用"),
    (TextClass::KeyUsed, 2, "已被激活"),
    (TextClass::KeyUsed, 2, "充值失败"),
    (TextClass::KeyUsed, 2, "激活失败"),
    (TextClass::KeyUsed, 2, "无法兑换"),
    (TextClass::KeyUsed, 2, "兑换失败"),
    (TextClass::KeyUsed, 2, "用不了"),
    (TextClass::KeyUsed, 2, "不能用"),
    (TextClass::KeyUsed, 3, "already used"),
    (TextClass::KeyUsed, 3, "already redeemed"),
    (TextClass::KeyUsed, 3, "invalid code"),
    (TextClass::KeyUsed, 3, "invalid key"),
    (TextClass::KeyUsed, 2, "code doesn't work"),
    (TextClass::KeyUsed, 2, "key doesn't work"),
    (TextClass::KeyUsed, 2, "does not work"),
    // 未到账 / 没收到: nothing arrived.
    (TextClass::NotReceived, 3, "未到账"),
    (TextClass::NotReceived, 3, "没到账"),
    (TextClass::NotReceived, 3, "没收到"),
    (TextClass::NotReceived, 3, "没有收到"),
    (TextClass::NotReceived, 3, "未收到"),
    (TextClass::NotReceived, 3, "没有发货"),
    (TextClass::NotReceived, 3, "没发货"),
    (TextClass::NotReceived, 3, "不发货"),
    (TextClass::NotReceived, 3, "未发货"),
    (TextClass::NotReceived, 2, "一直不发"),
    (TextClass::NotReceived, 2, "迟迟不发"),
    (TextClass::NotReceived, 3, "not received"),
    (TextClass::NotReceived, 3, "never received"),
    (TextClass::NotReceived, 3, "didn't receive"),
    (TextClass::NotReceived, 3, "did not receive"),
    (TextClass::NotReceived, 3, "not delivered"),
    (TextClass::NotReceived, 3, "never arrived"),
    // 货不对板: what arrived is not what was sold.
    (TextClass::NotAsDescribed, 3, "货不对板"),
    (TextClass::NotAsDescribed, 3, "与描述不符"),
    (TextClass::NotAsDescribed, 3, "和描述不符"),
    (TextClass::NotAsDescribed, 3, "跟描述不一样"),
    (TextClass::NotAsDescribed, 3, "面值不对"),
    (TextClass::NotAsDescribed, 3, "面额不对"),
    (TextClass::NotAsDescribed, 2, "不符"),
    (TextClass::NotAsDescribed, 2, "少了"),
    (TextClass::NotAsDescribed, 2, "区服不对"),
    (TextClass::NotAsDescribed, 2, "发错了"),
    (TextClass::NotAsDescribed, 2, "不是我买的"),
    (TextClass::NotAsDescribed, 3, "not as described"),
    (TextClass::NotAsDescribed, 3, "wrong amount"),
    (TextClass::NotAsDescribed, 3, "wrong value"),
    (TextClass::NotAsDescribed, 2, "wrong item"),
    // 骗子 / 跑路: the writer says the other side cheats. Heated words: a hint, alone
    // they prove nothing.
    (TextClass::Fraud, 2, "骗子"),
    (TextClass::Fraud, 2, "诈骗"),
    (TextClass::Fraud, 2, "跑路"),
    (TextClass::Fraud, 2, "拉黑"),
    (TextClass::Fraud, 2, "被骗"),
    (TextClass::Fraud, 1, "骗钱"),
    (TextClass::Fraud, 2, "scam"),
    (TextClass::Fraud, 2, "fraud"),
    (TextClass::Fraud, 2, "blocked me"),
    // 误拍 / 不想要了: the buyer's own change of mind, which favours the seller.
    (TextClass::Remorse, 3, "误拍"),
    (TextClass::Remorse, 3, "拍错"),
    (TextClass::Remorse, 3, "买错"),
    (TextClass::Remorse, 3, "不想要了"),
    (TextClass::Remorse, 3, "不要了"),
    (TextClass::Remorse, 2, "不需要了"),
    (TextClass::Remorse, 2, "用不上了"),
    (TextClass::Remorse, 3, "ordered by mistake"),
    (TextClass::Remorse, 3, "changed my mind"),
    (TextClass::Remorse, 3, "don't want it"),
    (TextClass::Remorse, 3, "bought the wrong"),
    // 已解决: the problem is over.
    (TextClass::Resolved, 3, "已解决"),
    (TextClass::Resolved, 3, "问题解决了"),
    (TextClass::Resolved, 3, "已经解决"),
    (TextClass::Resolved, 3, "已补发"),
    (TextClass::Resolved, 3, "已经补发"),
    (TextClass::Resolved, 3, "可以用了"),
    (TextClass::Resolved, 3, "能用了"),
    (TextClass::Resolved, 3, "已到账"),
    (TextClass::Resolved, 3, "已经到账"),
    (TextClass::Resolved, 3, "撤销投诉"),
    (TextClass::Resolved, 3, "不用处理了"),
    (TextClass::Resolved, 3, "resolved"),
    (TextClass::Resolved, 3, "works now"),
    (TextClass::Resolved, 3, "sorted out"),
    // 已经收到: "I got it": context, resolution only when nothing else is wrong.
    (TextClass::Received, 1, "已经收到"),
    (TextClass::Received, 1, "已收到"),
    (TextClass::Received, 1, "收到了"),
    (TextClass::Received, 1, "received it"),
    (TextClass::Received, 1, "got it"),
    // The seller's answer: an admission, or a denial.
    (TextClass::Admits, 3, "抱歉"),
    (TextClass::Admits, 3, "不好意思"),
    (TextClass::Admits, 3, "我的问题"),
    (TextClass::Admits, 3, "同意退款"),
    (TextClass::Admits, 3, "给你退款"),
    (TextClass::Admits, 3, "给您退款"),
    (TextClass::Admits, 2, "确实"),
    (TextClass::Admits, 3, "sorry"),
    (TextClass::Admits, 3, "agree to refund"),
    (TextClass::Admits, 3, "my mistake"),
    (TextClass::Denies, 3, "卡密没问题"),
    (TextClass::Denies, 3, "卡密是好的"),
    (TextClass::Denies, 3, "已正常发货"),
    (TextClass::Denies, 3, "正常发货"),
    (TextClass::Denies, 3, "买家自己用了"),
    (TextClass::Denies, 3, "自己用掉了"),
    (TextClass::Denies, 3, "恶意投诉"),
    (TextClass::Denies, 2, "没问题"),
    (TextClass::Denies, 2, "测试过"),
    (TextClass::Denies, 2, "已核对"),
    (TextClass::Denies, 2, "核对过"),
    (TextClass::Denies, 2, "已发货"),
    (TextClass::Denies, 3, "the key was fine"),
    (TextClass::Denies, 3, "delivered correctly"),
    (TextClass::Denies, 2, "tested"),
];

/// Words that, just before a phrase, turn it around (不是骗子, "not a scam"). Written
/// normalised (no spaces). Checked only within the same clause and outside other matches.
const NEGATIONS: &[&str] = &[
    "不是", "并非", "并不", "不算", "没有", "没", "不", "非", "无", "别", "not", "nota", "isnot", "isn't", "never",
];

/// How far back (in characters) a negation may stand before a phrase: 不是个骗子.
const NEGATION_WINDOW: usize = 3;

/// One phrase found in a text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hit {
    pub class: TextClass,
    pub weight: u8,
    /// The phrase as the table writes it (what people are shown).
    pub phrase: &'static str,
    /// A negation stands just before it: reported, not counted.
    pub negated: bool,
}

/// Full-width forms to half-width, the ideographic space to none, lower case, and no
/// whitespace at all: 卡密 已被使用, 卡密已被使用 and ＡＬＲＥＡＤＹ ＵＳＥＤ read alike.
pub fn normalise(text: &str) -> String {
    text.chars()
        .filter_map(|c| {
            let c = match c as u32 {
                // U+FF01..U+FF5E are the full-width forms of U+0021..U+007E.
                cp @ 0xFF01..=0xFF5E => char::from_u32(cp - 0xFEE0).unwrap_or(c),
                _ => c,
            };
            (!c.is_whitespace()).then_some(c)
        })
        .flat_map(char::to_lowercase)
        .collect()
}

/// Ends a clause: a negation before it does not reach past.
fn is_clause_break(c: char) -> bool {
    c.is_ascii_punctuation() && c != '\'' || matches!(c, '，' | '。' | '！' | '？' | '；' | '：' | '、' | '…')
}

/// The phrases in `text`, in the order they appear.
pub fn classify(text: &str) -> Vec<Hit> {
    let text: Vec<char> = normalise(text).chars().collect();
    let mut table: Vec<(TextClass, u8, &'static str, Vec<char>)> = PHRASES
        .iter()
        .map(|(c, w, p)| (*c, *w, *p, normalise(p).chars().collect()))
        .collect();
    // Longest first, so 卡密已被使用 is one hit and not also 已被使用.
    table.sort_by_key(|t| std::cmp::Reverse(t.3.len()));
    let mut taken = vec![false; text.len()];
    let mut found: Vec<(usize, Hit)> = Vec::new();
    for (class, weight, phrase, needle) in &table {
        if needle.is_empty() || needle.len() > text.len() {
            continue;
        }
        let mut start = 0;
        while start + needle.len() <= text.len() {
            let end = start + needle.len();
            if text[start..end] == needle[..] && !taken[start..end].iter().any(|t| *t) {
                taken[start..end].iter_mut().for_each(|t| *t = true);
                found.push((
                    start,
                    Hit {
                        class: *class,
                        weight: *weight,
                        phrase,
                        negated: false,
                    },
                ));
                start = end;
            } else {
                start += 1;
            }
        }
    }
    // A negation is read in the free text just before the phrase, within its clause.
    for (start, hit) in &mut found {
        let mut before = Vec::new();
        let mut i = *start;
        while i > 0 && before.len() < 6 {
            i -= 1;
            if taken[i] || is_clause_break(text[i]) {
                break;
            }
            before.insert(0, text[i]);
        }
        // English: the negation ends right before the phrase ("not a scam" reads
        // "nota" + "scam"). Chinese: 不是 right before, or with a measure word between
        // (不是个骗子).
        if before.last().is_some_and(char::is_ascii) {
            let before: String = before.into_iter().collect();
            hit.negated = NEGATIONS.iter().any(|n| n.is_ascii() && before.ends_with(n));
        } else {
            let near: String = before[before.len().saturating_sub(NEGATION_WINDOW)..].iter().collect();
            hit.negated = NEGATIONS.iter().any(|n| !n.is_ascii() && near.ends_with(n))
                || NEGATIONS
                    .iter()
                    .any(|n| !n.is_ascii() && n.chars().count() >= 2 && near.contains(n));
        }
    }
    found.sort_by_key(|(s, _)| *s);
    found.into_iter().map(|(_, h)| h).collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn counted(text: &str) -> Vec<(TextClass, &'static str)> {
        classify(text)
            .into_iter()
            .filter(|h| !h.negated)
            .map(|h| (h.class, h.phrase))
            .collect()
    }

    #[test]
    fn width_case_and_spaces_do_not_matter() {
        assert_eq!(normalise("ＡＢＣ　卡密 已被使用！"), "abc卡密已被使用!");
        assert_eq!(counted("卡密　已被 使用"), vec![(TextClass::KeyUsed, "卡密已被使用")]);
        assert_eq!(
            counted("The code was ALREADY  USED"),
            vec![(TextClass::KeyUsed, "already used")]
        );
        assert_eq!(counted("ｓｃａｍ"), vec![(TextClass::Fraud, "scam")]);
    }

    #[test]
    fn the_longest_phrase_wins_and_is_counted_once() {
        assert_eq!(counted("卡密已被使用"), vec![(TextClass::KeyUsed, "卡密已被使用")]);
        // 没有收到 is not-received, not 收到 (received).
        assert_eq!(counted("还没有收到"), vec![(TextClass::NotReceived, "没有收到")]);
    }

    #[test]
    fn a_negation_just_before_a_phrase_turns_it_off() {
        let hits = classify("卖家不是骗子，只是发错了");
        assert_eq!(hits.len(), 2);
        assert!(hits[0].negated, "{hits:?}");
        assert_eq!((hits[1].class, hits[1].negated), (TextClass::NotAsDescribed, false));
        assert!(classify("他不是个骗子")[0].negated);
        assert!(classify("this is not a scam")[0].negated);
        assert!(classify("没有跑路")[0].negated);
        // A negation in another clause does not reach.
        assert!(!classify("没有，骗子")[0].negated);
        // Nor does a preceding phrase (没收到 ends in 到, and 骗子 follows it).
        let hits = classify("没收到骗子");
        assert_eq!(
            hits.iter().map(|h| (h.class, h.negated)).collect::<Vec<_>>(),
            vec![(TextClass::NotReceived, false), (TextClass::Fraud, false)]
        );
    }

    #[test]
    fn every_phrase_in_the_table_finds_itself() {
        for (class, _, phrase) in PHRASES {
            let hits = classify(phrase);
            assert!(
                hits.iter()
                    .any(|h| h.class == *class && h.phrase == *phrase && !h.negated),
                "{phrase}: {hits:?}"
            );
        }
    }
}
