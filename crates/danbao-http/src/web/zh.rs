//! The zh-CN message catalog: labels of the codes the use cases return (kinds, stages,
//! events, parties), and what each refusal, validation problem and reason says, keyed
//! by the typed value, never by text. The English text is each type's `Display`, used
//! in problem+json `detail`.

use super::{yuan, TimeView};
use danbao_app::{Invalid, Role};
use danbao_domain::complaint::{OpenRefusal, RulingReason, TriageReason};
use danbao_domain::seller::{Standing, StandingChange};
use danbao_domain::{OrderStatus, Refusal};

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

/// A product category by its name; a category the catalog does not know is shown as
/// the seller typed it.
pub(super) fn category_zh(code: &str) -> String {
    match code {
        "game_cards" => "游戏点卡",
        "top_up" => "游戏代充",
        "gift_cards" => "礼品卡",
        "software" => "软件激活码",
        "membership" => "会员充值",
        "phone_credit" => "话费充值",
        other => return other.to_string(),
    }
    .to_string()
}

pub(super) fn kind_label(kind: &str) -> &'static str {
    match kind {
        "card_key" => "卡密自动发货",
        "manual" => "人工发货",
        _ => "其他",
    }
}

/// A payment method by the id its provider gives it (`App::payment_methods`).
pub(super) fn payment_method_zh(id: &str) -> String {
    match id {
        "sandbox" => "沙箱支付（演示）".to_string(),
        "alipay" => "支付宝".to_string(),
        "wechat" => "微信支付".to_string(),
        other => other.to_string(),
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
        "self_purchase" => "卖家本人付款，已退回",
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
/// Whether a detail is proof for the record (hashes, provider references) rather than
/// what a buyer reads: such parts are folded away under 查看存证.
fn is_proof(key: &str) -> bool {
    key.ends_with("_sha256") || matches!(key, "payment_id" | "refund_id" | "provider_txn_id" | "currency")
}

/// An order event's detail as (what a buyer reads, the proof folded away).
pub(super) fn event_detail_split(detail: &serde_json::Value) -> (Option<String>, Option<String>) {
    let Some(obj) = detail.as_object() else {
        return (None, None);
    };
    let mut plain = serde_json::Map::new();
    let mut proof = serde_json::Map::new();
    for (k, v) in obj {
        if is_proof(k) {
            proof.insert(k.clone(), v.clone());
        } else {
            plain.insert(k.clone(), v.clone());
        }
    }
    // A release says what the seller gets after the fee, not the fee's basis points.
    let settled = match (
        plain.get("released_minor").and_then(|v| v.as_i64()),
        plain.get("fee_bps").and_then(|v| v.as_i64()),
    ) {
        (Some(amount), Some(bps)) => danbao_domain::Money::from_minor(amount).split_fee(bps).ok().map(|s| {
            plain.remove("released_minor");
            plain.remove("fee_bps");
            format!(
                "订单金额 ¥{}；平台服务费 ¥{}（{}.{:02}%）；卖家实得 ¥{}",
                yuan(amount),
                yuan(s.fee.minor()),
                bps / 100,
                bps % 100,
                yuan(s.to_seller.minor())
            )
        }),
        _ => None,
    };
    let rest = event_detail(&serde_json::Value::Object(plain));
    let plain = match (settled, rest) {
        (Some(a), Some(b)) => Some(format!("{a}；{b}")),
        (a, b) => a.or(b),
    };
    (plain, event_detail(&serde_json::Value::Object(proof)))
}

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
            ("seller_reason", _) => format!("卖家说明：{text}"),
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

/// Basis points as a percentage: 5000 → "50%", 3250 → "32.5%".
pub(super) fn percent(bps: i64) -> String {
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

pub(super) fn complaint_event_label(kind: &str) -> String {
    match kind {
        "opened" => "发起投诉，订单款项已冻结",
        "evidence_added" => "提交证据",
        "stage" => "进度更新",
        "ruled" => "裁决已执行",
        "ask_buyer" => "平台要求买家补充证据",
        "assigned" => "仲裁员已领取",
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

// ---- refusals, validation problems and reasons, keyed by their typed values ----

/// The day of a time, as `2025-01-02`, in the zone the pages show times in.
pub(super) fn date_zh(ms: i64) -> String {
    danbao_app::clock::display_time(ms).chars().take(10).collect()
}

fn time_zh(ms: i64) -> String {
    TimeView::new(&danbao_app::clock::rfc3339(ms)).display
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

pub(super) fn standing_zh(s: Standing) -> &'static str {
    match s {
        Standing::Active => "正常",
        Standing::Frozen => "已冻结",
        Standing::Banned => "已封禁",
    }
}

/// Why a use case said no, in Chinese.
pub(super) fn refusal_zh(r: &Refusal) -> String {
    use Refusal as R;
    match r {
        R::UsernameTaken => "用户名已被占用，请换一个".into(),
        R::OutOfStock => "库存不足，请减少购买数量或稍后再试".into(),
        R::Order(_) => "订单当前的状态不允许这个操作，请刷新页面后查看最新状态".into(),
        R::NoPaymentExpected { status } => format!("订单{}，无需付款", order_status_zh(*status)),
        R::NothingDelivered { status } => format!("订单{}，暂无可查看的发货内容", order_status_zh(*status)),
        R::DeliveredAutomatically => "卡密订单付款后自动发货，无需手动发货".into(),
        R::KeysHeldByOrders => "未售出的卡密都已被待付款订单预留，请待订单付款或过期后再删除".into(),
        R::TooManyPaymentAttempts { max } => format!("该订单已发起 {max} 次支付，请直接在已打开的收银台付款或重新下单"),
        R::CannotOpen(o) => open_refusal_zh(o),
        R::Complaint(_) => "投诉当前的进度不允许这个操作，请刷新页面后查看最新进度".into(),
        R::ComplaintClosed { .. } => "投诉已结束（已裁决或已撤诉），不能再进行这个操作".into(),
        R::AssignedElsewhere => "该投诉已由其他仲裁员受理".into(),
        R::EvidenceQuota { max_files, max_bytes } => format!(
            "每一方在一个投诉中最多上传 {max_files} 个文件（共 {} MB）",
            max_bytes / (1024 * 1024)
        ),
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
        R::SelfPurchase => "卖家不能购买自己店铺的商品".into(),
        R::UnpaidUnitsLimit { holder, max_units, .. } => format!(
            "{}的未付款订单最多可占用 {max_units} 件库存，请先支付或取消已有的未付款订单",
            holder_zh(*holder)
        ),
        R::StockShareLimit { max_units, .. } => {
            format!("每位买家的未付款订单最多可占用该商品 {max_units} 件库存，请先支付已有订单")
        }
        R::QueryPasswordLocked { retry_after_s, .. } => {
            format!("查询密码错误次数过多，该订单已暂时锁定，请 {retry_after_s} 秒后再试")
        }
    }
}

fn holder_zh(h: danbao_domain::limits::Holder) -> &'static str {
    use danbao_domain::limits::Holder as H;
    match h {
        H::Account => "您的账户",
        H::Contact => "该联系方式",
        H::Address => "您所在的网络",
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

/// What is wrong with a field, in Chinese; a problem without a typed shape is shown
/// as written.
pub(super) fn invalid_zh(p: &Invalid) -> String {
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

pub(super) fn triage_reason_zh(r: &TriageReason) -> String {
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
pub(super) fn ruling_reason_zh(r: &RulingReason) -> String {
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

    #[test]
    fn a_timeline_reads_plainly_and_folds_its_proof_away() {
        let paid = serde_json::json!({
            "amount_minor": 5800, "payment_id": "pay_1", "provider_txn_id": "sbt_9",
            "payment_record_sha256": "ab12", "currency": "CNY"
        });
        let (plain, proof) = event_detail_split(&paid);
        let plain = plain.unwrap_or_default();
        assert!(plain.contains("¥58.00"), "{plain}");
        assert!(
            !plain.contains("sbt_9") && !plain.contains("ab12") && !plain.contains("pay_1"),
            "{plain}"
        );
        let proof = proof.unwrap_or_default();
        assert!(
            proof.contains("sbt_9") && proof.contains("ab12") && proof.contains("pay_1"),
            "{proof}"
        );
        // A release says what the seller gets after the fee (half-even: 5 % of 58.00).
        let (plain, proof) = event_detail_split(&serde_json::json!({"fee_bps": 500, "released_minor": 5800}));
        assert_eq!(
            plain.as_deref(),
            Some("订单金额 ¥58.00；平台服务费 ¥2.90（5.00%）；卖家实得 ¥55.10")
        );
        assert_eq!(proof, None);
        let (plain, _) = event_detail_split(&serde_json::json!({"seller_reason": "区服维护"}));
        assert_eq!(plain.as_deref(), Some("卖家说明：区服维护"));
    }
    use danbao_domain::Money;

    #[test]
    fn refusals_read_in_chinese_with_their_data() {
        let early: Refusal = OpenRefusal::TooEarly { from_ms: 0 }.into();
        assert!(
            refusal_zh(&early).contains("1970-01-01 08:00:00"),
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
            Refusal::KeysHeldByOrders,
            OpenRefusal::NotPaid.into(),
            OpenRefusal::WindowClosed.into(),
            Refusal::AssignedElsewhere,
            Refusal::InsufficientBalance,
            Refusal::ExceptionResolved,
            Refusal::NoPaymentToRefund,
            Refusal::SelfPurchase,
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
        assert_eq!(ruled_by_zh("user:0190"), "平台仲裁员");
        assert_eq!(complaint_stage_zh("awaiting_buyer"), "等待买家补充证据");
        assert_eq!(complaint_kind_zh("not_as_described"), "货不对板");
    }

    #[test]
    fn limits_read_in_chinese_with_their_numbers() {
        use danbao_domain::limits::Holder;
        assert_eq!(
            refusal_zh(&Refusal::UnpaidUnitsLimit {
                holder: Holder::Contact,
                held_units: 20,
                max_units: 20
            }),
            "该联系方式的未付款订单最多可占用 20 件库存，请先支付或取消已有的未付款订单"
        );
        assert_eq!(
            refusal_zh(&Refusal::StockShareLimit {
                held_units: 5,
                max_units: 5,
                share_bps: 5000
            }),
            "每位买家的未付款订单最多可占用该商品 5 件库存，请先支付已有订单"
        );
        assert_eq!(
            refusal_zh(&Refusal::QueryPasswordLocked {
                until: 0,
                retry_after_s: 60
            }),
            "查询密码错误次数过多，该订单已暂时锁定，请 60 秒后再试"
        );
    }
}
