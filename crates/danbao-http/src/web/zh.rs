//! The zh-CN words for what the use cases return: labels of kinds, stages, events and
//! parties, and the use cases' English messages in Chinese.

use super::{yuan, TimeView};
use danbao_app::Role;

pub(super) fn field_zh(field: &str) -> &'static str {
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

/// The use cases' validation messages in Chinese, for the shapes they take; anything
/// else is shown as written.
pub(super) fn message_zh(message: &str) -> String {
    if let Some((lo, hi)) = message
        .strip_prefix("must be ")
        .unwrap_or(message)
        .strip_suffix(" characters")
        .and_then(|r| r.split_once(" to "))
    {
        return format!("长度须为 {lo} 到 {hi} 个字符");
    }
    if let Some(rest) = message.strip_prefix("must be ") {
        if let Some((lo, hi)) = rest.split_once(" to ") {
            return format!("须在 {lo} 到 {hi} 之间");
        }
    }
    if let Some(name) = message.strip_suffix(" is required") {
        return format!("请填写“{name}”");
    }
    if let Some(name) = message.strip_suffix(" is not a field of this product") {
        return format!("“{name}”不是本商品需要填写的信息");
    }
    match message {
        "must not contain control characters" => "不能包含控制字符".to_string(),
        "amount too large" => "金额过大".to_string(),
        "not a cursor from this API" => "无效的分页参数".to_string(),
        other => other.to_string(),
    }
}

pub(super) fn kind_label(kind: &str) -> &'static str {
    match kind {
        "card_key" => "卡密自动发货",
        "manual" => "人工发货",
        _ => "其他",
    }
}

pub(super) fn event_label(kind: &str) -> String {
    match kind {
        "created" => "订单创建，库存已预留",
        "paid" => "付款已到账，资金由平台托管",
        "delivered" => "已发货",
        "delivery_revealed" => "买家查看了发货内容",
        "confirmed" => "买家确认收货",
        "auto_confirmed" => "超时自动确认收货",
        "completed" => "交易完成，款项结算给卖家",
        "expired" => "超时未支付，订单关闭",
        "cancelled" => "订单已取消",
        "delivery_deadline_passed" => "卖家超时未发货",
        "refund_requested" => "发起退款",
        "refund_confirmed" => "退款已到账",
        "payment_refused" => "付款未被接受，将原路退回",
        "payment_mismatch" => "付款金额与订单不符，待人工核查",
        "complaint_opened" => "买家发起投诉，款项已冻结",
        "complaint_withdrawn" => "投诉已撤回，款项解冻，订单恢复",
        "complaint_ruled" => "投诉已裁决，款项按裁决结算",
        "seller_banned" => "卖家因违规被封禁，订单全额退款",
        other => other,
    }
    .to_string()
}

pub(super) fn refund_reason_zh(reason: &str) -> String {
    if reason.starts_with("ruling:") {
        return "投诉裁决退款".to_string();
    }
    match reason {
        "order_refunded" => "订单退款",
        "unknown_order" => "无法对应订单的付款",
        "already_paid" => "重复付款",
        "out_of_stock" => "付款时已无库存",
        other => other,
    }
    .to_string()
}

pub(super) fn refund_status_zh(status: &str) -> String {
    match status {
        "requested" => "退款处理中",
        "confirmed" => "已退款",
        "failed" => "退款失败，处理中",
        other => other,
    }
    .to_string()
}

/// A short, readable summary of an event's detail: amounts in yuan, content hashes as
/// evidence, anything else as `key: value`.
pub(super) fn event_detail(detail: &serde_json::Value) -> Option<String> {
    let obj = detail.as_object()?;
    let mut parts = Vec::new();
    for (k, v) in obj {
        let text = match v {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Array(items) => items
                .iter()
                .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_string))
                .collect::<Vec<_>>()
                .join(", "),
            other => other.to_string(),
        };
        let part = match (k.as_str(), v.as_i64()) {
            ("amount_minor", Some(m)) => format!("金额 ¥{}", yuan(m)),
            ("paid_minor", Some(m)) => format!("实付 ¥{}", yuan(m)),
            ("released_minor", Some(m)) => format!("结算金额 ¥{}", yuan(m)),
            ("fee_bps", Some(bps)) => format!("平台费率 {}.{:02}%", bps / 100, bps % 100),
            ("items", Some(n)) => format!("件数 {n}"),
            ("viewer", _) if text == "guest" => "查看者 游客".to_string(),
            ("viewer", _) => "查看者 买家".to_string(),
            ("payment_id", _) => format!("支付单号 {text}"),
            ("refund_id", _) => format!("退款单号 {text}"),
            ("currency", _) => format!("币种 {text}"),
            ("quantity", Some(n)) => format!("数量 {n}"),
            ("rule_version", Some(n)) => format!("规则版本 {n}"),
            ("content_sha256", _) => format!("内容摘要 SHA-256: {text}"),
            ("by", _) => match text.as_str() {
                "system" => "系统自动".to_string(),
                "seller" => "卖家".to_string(),
                "buyer" => "买家".to_string(),
                t if t.starts_with("system:") || t.starts_with("user:") => format!("裁决方 {}", ruled_by_zh(t)),
                _ => format!("by: {text}"),
            },
            ("complaint_id", _) => format!("投诉单号 {text}"),
            ("kind", _) => format!("投诉类型 {}", complaint_kind_zh(&text)),
            ("ruling", _) => format!("裁决 {}", ruling_label(v).unwrap_or_else(|| text.clone())),
            ("to_buyer_minor", Some(m)) => format!("退给买家 ¥{}", yuan(m)),
            ("to_seller_minor", Some(m)) => format!("结算给卖家 ¥{}", yuan(m)),
            ("fee_minor", Some(m)) => format!("平台服务费 ¥{}", yuan(m)),
            ("reason_sha256", _) => format!("理由摘要 SHA-256: {text}"),
            ("reason", _) => format!("原因 {}", refund_reason_zh(&text)),
            _ => format!("{k}: {text}"),
        };
        parts.push(part);
    }
    (!parts.is_empty()).then(|| parts.join("；"))
}

pub(super) fn complaint_kind_zh(kind: &str) -> String {
    match kind {
        "not_delivered" => "未发货",
        "not_as_described" => "货不对板",
        "fraud" => "欺诈",
        "other" => "其他",
        other => other,
    }
    .to_string()
}

pub(super) fn complaint_stage_zh(stage: &str) -> String {
    match stage {
        "awaiting_seller" => "等待卖家回应",
        "under_review" => "平台审核中",
        "awaiting_buyer" => "等待买家补充证据",
        "appraisal" => "第三方鉴定中",
        "resolved" => "已裁决",
        "withdrawn" => "已撤诉",
        other => other,
    }
    .to_string()
}

pub(super) fn party_zh(party: &str) -> &'static str {
    match party {
        "buyer" => "买家",
        "seller" => "卖家",
        _ => "平台",
    }
}

pub(super) fn evidence_kind_zh(kind: &str) -> String {
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

/// Basis points as a percentage: 5000 → "50%", 3250 → "32.5%".
fn percent(bps: i64) -> String {
    let whole = bps / 100;
    match bps % 100 {
        0 => format!("{whole}%"),
        r if r % 10 == 0 => format!("{whole}.{}%", r / 10),
        r => format!("{whole}.{r:02}%"),
    }
}

/// A ruling (`{"kind": "split", "buyer_bps": 5000}`) in words.
pub(super) fn ruling_label(v: &serde_json::Value) -> Option<String> {
    let kind = v.get("kind")?.as_str()?;
    let bps = |name: &str| v.get(name).and_then(serde_json::Value::as_i64);
    Some(match kind {
        "refund_full" => "全额退款".to_string(),
        "release_to_seller" => "放款给卖家".to_string(),
        "split" => match bps("buyer_bps") {
            Some(b) => format!("按比例分配（买家 {}，卖家 {}）", percent(b), percent(10_000 - b)),
            None => "按比例分配".to_string(),
        },
        "redeliver" => match bps("refund_bps") {
            Some(b) if b > 0 => format!("重新发货（并退还买家 {}）", percent(b)),
            _ => "重新发货".to_string(),
        },
        other => other.to_string(),
    })
}

pub(super) fn ruled_by_zh(by: &str) -> String {
    match by {
        "system:triage" => "系统自动预审".to_string(),
        "system:deadline" => "系统（期限届满，按规则默认裁决）".to_string(),
        b if b.starts_with("user:") => "平台仲裁员".to_string(),
        b if b.starts_with("system") => "系统".to_string(),
        _ => "平台".to_string(),
    }
}

/// Triage's reasons (from the domain, in English) as shown to a buyer.
const TRIAGE_REASONS: [(&str, &str); 8] = [
    (
        "no delivery on record and the delivery deadline has passed",
        "没有发货记录，且已超过发货期限",
    ),
    (
        "no delivery on record yet; the seller may still deliver or answer",
        "暂无发货记录，卖家仍可发货或回应",
    ),
    (
        "a delivery is on record and the buyer revealed it",
        "有发货记录，且买家已查看发货内容",
    ),
    (
        "a delivery is on record but the buyer never revealed it",
        "有发货记录，但买家从未查看发货内容",
    ),
    (
        "the delivered goods were never revealed to the buyer",
        "买家从未查看过发货内容",
    ),
    ("fraud alleged and no delivery on record", "投诉欺诈，且没有发货记录"),
    (
        "both sides have spoken; an arbitrator weighs the evidence",
        "双方均已陈述，由仲裁员审核证据",
    ),
    ("waiting for the seller's answer", "等待卖家回应"),
];

pub(super) fn triage_reason_zh(reason: &str) -> String {
    if let Some(missing) = reason.strip_prefix("evidence still missing: ") {
        let kinds: Vec<String> = missing.split(", ").map(evidence_kind_zh).collect();
        return format!("仍缺少证据：{}", kinds.join("、"));
    }
    TRIAGE_REASONS
        .iter()
        .find(|(en, _)| *en == reason)
        .map_or_else(|| reason.to_string(), |(_, zh)| (*zh).to_string())
}

/// A ruling's recorded reason: an arbitrator's own words as written; the system's
/// reasons in Chinese.
pub(super) fn ruling_reason_zh(reason: &str) -> String {
    if let Some(rest) = reason.strip_prefix("automatic triage: ") {
        // Reasons are joined with "; ", which some reasons contain: translate those first.
        let mut rest = rest.to_string();
        for (en, zh) in TRIAGE_REASONS {
            rest = rest.replace(en, zh);
        }
        let parts: Vec<String> = rest.split("; ").map(triage_reason_zh).collect();
        return format!("自动预审：{}", parts.join("；"));
    }
    if let Some(why) = reason.strip_prefix("seller banned: ") {
        return format!("卖家因违规被封禁：{why}");
    }
    match reason {
        "the seller did not answer in time" => "卖家未在期限内回应".to_string(),
        "the buyer did not send the evidence asked for in time" => "买家未在期限内补充证据".to_string(),
        other => other.to_string(),
    }
}

/// Why a complaint action was refused (the use cases' conflict messages), in Chinese.
pub(super) fn complaint_conflict_zh(why: &str) -> String {
    if let Some(from) = why
        .strip_prefix("not_delivered can be opened from ")
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse::<i64>().ok())
    {
        let at = TimeView::new(&danbao_app::clock::rfc3339(from));
        return format!("付款后需等待一段时间才能以“未发货”投诉，请于 {} 之后再试", at.display);
    }
    let text = match why {
        "the order is not paid" => "订单尚未付款，不能投诉",
        "the order already has an open complaint" => "该订单已有处理中的投诉，请在投诉列表中查看",
        "nothing has been delivered yet" => "卖家尚未发货，暂不能以“货不对板”投诉",
        "the after-sales window has closed" => "已过售后期，不能再投诉",
        w if w.starts_with("not_delivered applies to manual orders") => {
            "卡密订单付款后即自动发货，不能以“未发货”投诉；卡密无效或已被使用请选择“货不对板”"
        }
        w if w.starts_with("the order is ") && w.ends_with("can no longer be complained about") => {
            "订单已结束，不能再投诉"
        }
        w if w.ends_with("evidence is closed") => "投诉已结束，不能再补充证据",
        w if w.starts_with("a complaint that is resolved") || w.starts_with("a complaint that is withdrawn") => {
            "投诉已结束（已裁决或已撤诉），不能再进行这个操作"
        }
        w if w.starts_with("the complaint is already") => "投诉已结束，不能再进行这个操作",
        _ => "投诉当前的进度不允许这个操作，请刷新页面后查看最新进度",
    };
    text.to_string()
}

pub(super) fn complaint_event_label(kind: &str) -> String {
    match kind {
        "opened" => "发起投诉，订单款项已冻结",
        "evidence_added" => "提交证据",
        "stage" => "进度更新",
        "ruled" => "裁决已执行",
        "ask_buyer" => "平台要求买家补充证据",
        "start_appraisal" => "启动第三方鉴定",
        "finish_appraisal" => "第三方鉴定完成",
        other => other,
    }
    .to_string()
}

/// A complaint event's detail in words; ids and hashes of the money's sources stay in
/// the evidence log.
pub(super) fn complaint_event_detail(detail: &serde_json::Value) -> Option<String> {
    let obj = detail.as_object()?;
    let text = |k: &str| obj.get(k).and_then(serde_json::Value::as_str);
    let mut parts = Vec::new();
    if let (Some(from), Some(to)) = (text("from"), text("to")) {
        parts.push(format!("{} → {}", complaint_stage_zh(from), complaint_stage_zh(to)));
    }
    for (k, v) in obj {
        let n = v.as_i64();
        let part = match (k.as_str(), n) {
            ("from" | "to" | "event" | "sources" | "evidence_id" | "rule_version", _) => continue,
            ("kind", _) if obj.contains_key("party") => {
                format!("证据类型 {}", evidence_kind_zh(v.as_str().unwrap_or_default()))
            }
            ("kind", _) => format!("投诉类型 {}", complaint_kind_zh(v.as_str().unwrap_or_default())),
            ("party", _) => format!("提交方 {}", party_zh(v.as_str().unwrap_or_default())),
            ("frozen_minor", Some(m)) => format!("冻结金额 ¥{}", yuan(m)),
            ("deadline_at", Some(ms)) => format!(
                "卖家回应期限 {}",
                TimeView::new(&danbao_app::clock::rfc3339(ms)).display
            ),
            ("ruling", _) => format!("裁决 {}", ruling_label(v).unwrap_or_default()),
            ("to_buyer_minor", Some(m)) => format!("退给买家 ¥{}", yuan(m)),
            ("to_seller_minor", Some(m)) => format!("结算给卖家 ¥{}", yuan(m)),
            ("fee_minor", Some(m)) => format!("平台服务费 ¥{}", yuan(m)),
            ("by", _) => match v.as_str() {
                Some(by) => format!("裁决方 {}", ruled_by_zh(by)),
                None => continue,
            },
            ("reason_sha256", _) => match v.as_str() {
                Some(h) => format!("理由摘要 SHA-256: {h}"),
                None => continue,
            },
            (other, _) => format!("{other}: {}", v.as_str().map_or_else(|| v.to_string(), str::to_string)),
        };
        parts.push(part);
    }
    (!parts.is_empty()).then(|| parts.join("；"))
}

pub(super) fn role_zh(role: Role) -> &'static str {
    match role {
        Role::Buyer => "买家",
        Role::Seller => "卖家",
        Role::Arbitrator => "仲裁员",
        Role::Admin => "管理员",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_messages_read_in_chinese() {
        assert_eq!(message_zh("must be 3 to 64 characters"), "长度须为 3 到 64 个字符");
        assert_eq!(message_zh("must be 1 to 10"), "须在 1 到 10 之间");
        assert_eq!(message_zh("游戏账号 is required"), "请填写“游戏账号”");
    }

    #[test]
    fn complaints_read_in_chinese() {
        assert_eq!(percent(5000), "50%");
        assert_eq!(percent(3250), "32.5%");
        assert_eq!(percent(3333), "33.33%");
        let split = serde_json::json!({"kind": "split", "buyer_bps": 6000});
        assert_eq!(
            ruling_label(&split).as_deref(),
            Some("按比例分配（买家 60%，卖家 40%）")
        );
        let full = serde_json::json!({"kind": "refund_full"});
        assert_eq!(ruling_label(&full).as_deref(), Some("全额退款"));
        assert_eq!(ruling_label(&serde_json::Value::Null), None);
        assert_eq!(
            triage_reason_zh("evidence still missing: description, screenshot"),
            "仍缺少证据：问题描述、截图"
        );
        assert_eq!(
            ruling_reason_zh(
                "automatic triage: no delivery on record and the delivery deadline has passed; \
                 both sides have spoken; an arbitrator weighs the evidence"
            ),
            "自动预审：没有发货记录，且已超过发货期限；双方均已陈述，由仲裁员审核证据"
        );
        assert_eq!(ruling_reason_zh("货不对板属实"), "货不对板属实");
        assert_eq!(ruled_by_zh("user:0190"), "平台仲裁员");
        assert_eq!(
            complaint_conflict_zh("the after-sales window has closed"),
            "已过售后期，不能再投诉"
        );
        assert!(complaint_conflict_zh("not_delivered can be opened from 0 (ms since epoch)").contains("1970-01-01"));
        assert_eq!(complaint_stage_zh("awaiting_buyer"), "等待买家补充证据");
        assert_eq!(complaint_kind_zh("not_as_described"), "货不对板");
    }
}
