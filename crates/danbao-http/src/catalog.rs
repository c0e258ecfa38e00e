//! The message catalog: what each refusal, validation problem and reason says to a
//! person, keyed by the typed value, never by text. Chinese (zh-CN) for the pages; the
//! English text is each type's `Display`, used in problem+json `detail`.

use danbao_app::Invalid;
use danbao_domain::complaint::{OpenRefusal, RulingReason, TriageReason};
use danbao_domain::seller::{Standing, StandingChange};
use danbao_domain::{OrderStatus, Refusal};

/// A time as shown on the pages: "2025-01-02 03:04:05 UTC".
pub fn display_time(rfc3339: &str) -> String {
    let mut display = rfc3339.replacen('T', " ", 1);
    if let Some(dot) = display.find('.') {
        let tail: String = display[dot..]
            .chars()
            .skip_while(|c| *c == '.' || c.is_ascii_digit())
            .collect();
        display.truncate(dot);
        display.push_str(&tail);
    }
    if let Some(stripped) = display.strip_suffix('Z') {
        display = format!("{stripped} UTC");
    }
    display
}

fn time_zh(ms: i64) -> String {
    display_time(&danbao_app::clock::rfc3339(ms))
}

fn yuan(minor: i64) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let m = minor.unsigned_abs();
    format!("{sign}{}.{:02}", m / 100, m % 100)
}

fn order_status_zh(s: OrderStatus) -> &'static str {
    match s {
        OrderStatus::PendingPayment => "待付款",
        OrderStatus::Paid => "已付款",
        OrderStatus::Delivered => "已发货",
        OrderStatus::Completed => "已完成",
        OrderStatus::Expired => "已过期",
        OrderStatus::Cancelled => "已取消",
        OrderStatus::Refunded => "已退款",
        OrderStatus::Disputed => "投诉处理中",
        OrderStatus::PartiallyRefunded => "已部分退款",
    }
}

fn standing_zh(s: Standing) -> &'static str {
    match s {
        Standing::Active => "正常",
        Standing::Frozen => "已冻结",
        Standing::Banned => "已封禁",
    }
}

/// Why a use case said no, in Chinese.
pub fn refusal_zh(r: &Refusal) -> String {
    use Refusal as R;
    match r {
        R::UsernameTaken => "用户名已被占用，请换一个".into(),
        R::OutOfStock => "库存不足，请减少购买数量或稍后再试".into(),
        R::Order(_) => "订单当前的状态不允许这个操作，请刷新页面后查看最新状态".into(),
        R::NoPaymentExpected { status } => format!("订单{}，无需付款", order_status_zh(*status)),
        R::NothingDelivered { status } => format!("订单{}，暂无可查看的发货内容", order_status_zh(*status)),
        R::DeliveredAutomatically => "卡密订单付款后自动发货，无需手动发货".into(),
        R::CannotOpen(o) => open_refusal_zh(o),
        R::Complaint(_) => "投诉当前的进度不允许这个操作，请刷新页面后查看最新进度".into(),
        R::ComplaintClosed { .. } => "投诉已结束（已裁决或已撤诉），不能再进行这个操作".into(),
        R::AssignedElsewhere => "该投诉已由其他仲裁员受理".into(),
        R::InsufficientBalance => "可用余额不足".into(),
        R::WithdrawalsStopped { standing } => format!("店铺{}，暂停提现", standing_zh(*standing)),
        R::Standing(c) => match c.change {
            StandingChange::Unfreeze if c.from == Standing::Banned => "封禁不可撤销".into(),
            StandingChange::Unfreeze => "该卖家未被冻结".into(),
            StandingChange::Ban => "该卖家已被封禁".into(),
            StandingChange::Freeze => format!("该卖家当前状态为{}", standing_zh(c.from)),
        },
        R::FeesShort { fees } => format!("平台服务费余额仅 ¥{}，不足以划入赔付基金", yuan(fees.minor())),
        R::ExceptionResolved => "该异常已处理".into(),
        R::NoPaymentToRefund => "没有可退的付款".into(),
        R::PaymentNotMismatched { .. } => "该付款不是金额不符的付款，不能按此方式退款".into(),
    }
}

fn open_refusal_zh(o: &OpenRefusal) -> String {
    match o {
        OpenRefusal::NotPaid => "订单尚未付款，不能投诉".into(),
        OpenRefusal::AlreadyOpen => "该订单已有处理中的投诉，请在投诉列表中查看".into(),
        OpenRefusal::Finished(_) => "订单已结束，不能再投诉".into(),
        OpenRefusal::TooEarly { from_ms } => format!(
            "付款后需等待一段时间才能以“未发货”投诉，请于 {} 之后再试",
            time_zh(*from_ms)
        ),
        OpenRefusal::DeliveredAutomatically => {
            "卡密订单付款后即自动发货，不能以“未发货”投诉；卡密无效或已被使用请选择“货不对板”".into()
        }
        OpenRefusal::NotDeliveredYet => "卖家尚未发货，暂不能以“货不对板”投诉".into(),
        OpenRefusal::WindowClosed => "已过售后期，不能再投诉".into(),
    }
}

/// A field's name as a buyer reads it.
pub fn field_zh(field: &str) -> &'static str {
    match field {
        "quantity" => "购买数量",
        "contact" => "联系方式",
        "query_password" => "查单密码",
        "delivery_fields" => "收货信息",
        "cursor" => "分页参数",
        "product" => "商品",
        "amount" => "金额",
        "kind" => "类型",
        "description" => "问题描述",
        "text" => "证据内容",
        "evidence" => "证据",
        _ => "输入内容",
    }
}

/// What is wrong with a field, in Chinese; a problem without a typed shape is shown
/// as written.
pub fn invalid_zh(p: &Invalid) -> String {
    match p {
        Invalid::Length { min, max } => format!("长度须为 {min} 到 {max} 个字符"),
        Invalid::Range { min, max } => format!("须在 {min} 到 {max} 之间"),
        Invalid::Required { name } => format!("请填写“{name}”"),
        Invalid::NotAField { name } => format!("“{name}”不是本商品需要填写的信息"),
        Invalid::ControlCharacters => "不能包含控制字符".into(),
        Invalid::AmountTooLarge => "金额过大".into(),
        Invalid::BadCursor => "无效的分页参数".into(),
        Invalid::Other(text) => text.clone(),
    }
}

/// A kind of evidence as a person reads it.
pub fn evidence_kind_zh(kind: &str) -> String {
    match kind {
        "description" => "问题描述",
        "screenshot" => "截图",
        "screenshot_note" => "截图说明",
        "seller_response" => "卖家答复",
        "ask_buyer" => "平台要求补充证据",
        "start_appraisal" => "启动第三方鉴定",
        "finish_appraisal" => "第三方鉴定结论",
        other => other,
    }
    .to_string()
}

pub fn triage_reason_zh(r: &TriageReason) -> String {
    use TriageReason as T;
    match r {
        T::EvidenceMissing { kinds } => {
            let kinds: Vec<String> = kinds.iter().map(|k| evidence_kind_zh(k)).collect();
            format!("仍缺少证据：{}", kinds.join("、"))
        }
        T::NoDeliveryPastDeadline => "没有发货记录，且已超过发货期限".into(),
        T::NoDeliveryYet => "暂无发货记录，卖家仍可发货或回应".into(),
        T::DeliveredAndRevealed => "有发货记录，且买家已查看发货内容".into(),
        T::DeliveredNotRevealed => "有发货记录，但买家从未查看发货内容".into(),
        T::NeverRevealed => "买家从未查看过发货内容".into(),
        T::FraudWithoutDelivery => "投诉欺诈，且没有发货记录".into(),
        T::BothSidesSpoke => "双方均已陈述，由仲裁员审核证据".into(),
        T::AwaitingSeller => "等待卖家回应".into(),
    }
}

/// Why a complaint was ruled as it was: an arbitrator's own words as written; the
/// system's grounds in Chinese.
pub fn ruling_reason_zh(r: &RulingReason) -> String {
    match r {
        RulingReason::Arbitrator { text } => text.clone(),
        RulingReason::SellerSilent => "卖家未在期限内回应".into(),
        RulingReason::BuyerSilent => "买家未在期限内补充证据".into(),
        RulingReason::Triage { reasons } => {
            let parts: Vec<String> = reasons.iter().map(triage_reason_zh).collect();
            format!("自动预审：{}", parts.join("；"))
        }
        RulingReason::SellerBanned { text } => format!("卖家因违规被封禁：{text}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use danbao_domain::Money;

    #[test]
    fn refusals_read_in_chinese_with_their_data() {
        let early: Refusal = OpenRefusal::TooEarly { from_ms: 0 }.into();
        assert!(
            refusal_zh(&early).contains("1970-01-01 00:00:00 UTC"),
            "{}",
            refusal_zh(&early)
        );
        assert_eq!(
            refusal_zh(&Refusal::FeesShort {
                fees: Money::from_minor(1234)
            }),
            "平台服务费余额仅 ¥12.34，不足以划入赔付基金"
        );
        assert_eq!(
            refusal_zh(&Refusal::WithdrawalsStopped {
                standing: Standing::Frozen
            }),
            "店铺已冻结，暂停提现"
        );
        // Each refusal has its own Chinese text, none falls through to English.
        let some: Vec<Refusal> = vec![
            Refusal::UsernameTaken,
            Refusal::OutOfStock,
            Refusal::DeliveredAutomatically,
            OpenRefusal::NotPaid.into(),
            OpenRefusal::WindowClosed.into(),
            Refusal::AssignedElsewhere,
            Refusal::InsufficientBalance,
            Refusal::ExceptionResolved,
            Refusal::NoPaymentToRefund,
        ];
        let texts: std::collections::BTreeSet<String> = some.iter().map(refusal_zh).collect();
        assert_eq!(texts.len(), some.len());
        assert!(texts.iter().all(|t| !t.is_ascii()), "{texts:?}");
    }

    #[test]
    fn validation_problems_read_in_chinese() {
        assert_eq!(
            invalid_zh(&Invalid::Length { min: 1, max: 64 }),
            "长度须为 1 到 64 个字符"
        );
        assert_eq!(invalid_zh(&Invalid::Range { min: 1, max: 100 }), "须在 1 到 100 之间");
        assert_eq!(
            invalid_zh(&Invalid::Required {
                name: "游戏账号".into()
            }),
            "请填写“游戏账号”"
        );
        assert_eq!(invalid_zh(&Invalid::Other("odd".into())), "odd");
    }

    #[test]
    fn reasons_read_in_chinese() {
        let r = RulingReason::Triage {
            reasons: vec![
                TriageReason::EvidenceMissing {
                    kinds: vec!["screenshot".into(), "description".into()],
                },
                TriageReason::NoDeliveryPastDeadline,
            ],
        };
        assert_eq!(
            ruling_reason_zh(&r),
            "自动预审：仍缺少证据：截图、问题描述；没有发货记录，且已超过发货期限"
        );
        assert_eq!(ruling_reason_zh(&RulingReason::SellerSilent), "卖家未在期限内回应");
        assert_eq!(
            ruling_reason_zh(&RulingReason::Arbitrator {
                text: "货不对板属实".into()
            }),
            "货不对板属实"
        );
        assert_eq!(display_time("2025-01-02T03:04:05.678Z"), "2025-01-02 03:04:05 UTC");
    }
}
