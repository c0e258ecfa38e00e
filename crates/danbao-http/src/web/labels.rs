//! The label catalog, zh-CN beside English: what the codes the use cases return (kinds,
//! stages, events, parties) and each refusal, validation problem and reason say, keyed
//! by the typed value, never by text. Each arm holds both languages, so no label exists
//! in one and not the other; `Lang::pick` chooses. (The page's own words are in
//! `i18n::Words`.) The consoles are zh-CN only and use the `_zh` names at the end.

use super::i18n::Lang;
use super::{yuan, TimeView};
use danbao_app::{Invalid, Role};
use danbao_domain::complaint::{OpenRefusal, RulingReason, Side, TriageReason};
use danbao_domain::seller::{Standing, StandingChange};
use danbao_domain::triage_text::TextClass;
use danbao_domain::{OrderStatus, Refusal};

pub(super) fn field(l: Lang, field: &str) -> &'static str {
    let (zh, en) = match field {
        "quantity" => ("购买数量", "Quantity"),
        "contact" => ("联系方式", "Contact"),
        "query_password" => ("查单密码", "Order password"),
        "delivery_fields" => ("收货信息", "Delivery details"),
        "cursor" => ("分页参数", "Page"),
        "product" => ("商品", "Product"),
        "amount" => ("金额", "Amount"),
        "kind" => ("类型", "Type"),
        "description" => ("问题描述", "Description"),
        "text" => ("证据内容", "Evidence"),
        "evidence" => ("证据", "Evidence"),
        _ => ("输入内容", "Input"),
    };
    l.pick(zh, en)
}

/// A product category by its name; a category the catalog does not know is shown as
/// the seller typed it.
pub(super) fn category(l: Lang, code: &str) -> String {
    let (zh, en) = match code {
        "game_cards" => ("游戏点卡", "Game cards"),
        "top_up" => ("游戏代充", "Game top-ups"),
        "gift_cards" => ("礼品卡", "Gift cards"),
        "software" => ("软件激活码", "Software keys"),
        "membership" => ("会员充值", "Memberships"),
        "phone_credit" => ("话费充值", "Phone credit"),
        other => return other.to_string(),
    };
    l.pick(zh, en).to_string()
}

pub(super) fn kind_label(l: Lang, kind: &str) -> &'static str {
    let (zh, en) = match kind {
        "card_key" => ("卡密自动发货", "Card key, delivered automatically"),
        "manual" => ("人工发货", "Delivered by the seller"),
        _ => ("其他", "Other"),
    };
    l.pick(zh, en)
}

/// A payment method by the id its provider gives it (`App::payment_methods`).
pub(super) fn payment_method(l: Lang, id: &str) -> String {
    let (zh, en) = match id {
        "sandbox" => ("沙箱支付（演示）", "Sandbox payment (demo)"),
        "alipay" => ("支付宝", "Alipay"),
        "alipay_page" => ("支付宝", "Alipay"),
        "alipay_qr" => ("支付宝扫码", "Alipay QR"),
        "alipay_wap" => ("支付宝手机网站", "Alipay mobile"),
        "wechat" => ("微信支付", "WeChat Pay"),
        "wechat_native" => ("微信支付", "WeChat Pay"),
        "epay_alipay" => ("支付宝（易支付）", "Alipay (via EPay)"),
        "epay_wxpay" => ("微信支付（易支付）", "WeChat Pay (via EPay)"),
        "epay_qqpay" => ("QQ 钱包（易支付）", "QQ Wallet (via EPay)"),
        other => return other.to_string(),
    };
    l.pick(zh, en).to_string()
}

pub(super) fn order_status(l: Lang, s: OrderStatus) -> &'static str {
    let en = match s {
        OrderStatus::PendingPayment => "Awaiting payment",
        OrderStatus::Paid => "Paid",
        OrderStatus::Delivered => "Delivered",
        OrderStatus::Completed => "Completed",
        OrderStatus::Expired => "Expired",
        OrderStatus::Cancelled => "Cancelled",
        OrderStatus::Refunded => "Refunded",
        OrderStatus::Disputed => "Under complaint",
        OrderStatus::PartiallyRefunded => "Partly refunded",
    };
    l.pick(s.label_zh(), en)
}

pub(super) fn event_label(l: Lang, kind: &str) -> String {
    let (zh, en) = match kind {
        "created" => ("订单创建，库存已预留", "Order placed, stock reserved"),
        "paid" => (
            "付款已到账，资金由平台托管",
            "Payment received, held in escrow by the platform",
        ),
        "delivered" => ("已发货", "Delivered"),
        "delivery_revealed" => ("买家查看了发货内容", "The buyer viewed the delivery"),
        "confirmed" => ("买家确认收货", "The buyer confirmed receipt"),
        "auto_confirmed" => ("超时自动确认收货", "Receipt confirmed automatically at the deadline"),
        "completed" => ("交易完成，款项结算给卖家", "Completed, the money settled to the seller"),
        "expired" => ("超时未支付，订单关闭", "Not paid in time, order closed"),
        "cancelled" => ("订单已取消", "Order cancelled"),
        "delivery_deadline_passed" => ("卖家超时未发货", "The seller did not deliver in time"),
        "refund_requested" => ("发起退款", "Refund started"),
        "refund_confirmed" => ("退款已到账", "Refund completed"),
        "payment_refused" => ("付款未被接受，将原路退回", "Payment not accepted, it will be returned"),
        "payment_mismatch" => (
            "付款金额与订单不符，待人工核查",
            "The amount paid does not match the order; staff will check it",
        ),
        "risk_confirmed" => (
            "买家已二次确认订单风险，开始付款",
            "The buyer confirmed the risk warnings; payment opened",
        ),
        "complaint_opened" => ("买家发起投诉，款项已冻结", "The buyer complained, the money is frozen"),
        "complaint_withdrawn" => (
            "投诉已撤回，款项解冻，订单恢复",
            "Complaint withdrawn, the money unfrozen, the order resumed",
        ),
        "complaint_ruled" => (
            "投诉已裁决，款项按裁决结算",
            "Complaint ruled, the money settled as ruled",
        ),
        "seller_banned" => (
            "卖家因违规被封禁，订单全额退款",
            "The seller was banned; the order is refunded in full",
        ),
        other => return other.to_string(),
    };
    l.pick(zh, en).to_string()
}

pub(super) fn refund_reason(l: Lang, reason: &str) -> String {
    if reason.starts_with("ruling:") {
        return l.pick("投诉裁决退款", "Refund by complaint ruling").to_string();
    }
    let (zh, en) = match reason {
        "order_refunded" => ("订单退款", "Order refunded"),
        "unknown_order" => ("无法对应订单的付款", "A payment that matches no order"),
        "already_paid" => ("重复付款", "Paid twice"),
        "out_of_stock" => ("付款时已无库存", "Out of stock when paid"),
        "self_purchase" => ("卖家本人付款，已退回", "Paid by the seller, returned"),
        other => return other.to_string(),
    };
    l.pick(zh, en).to_string()
}

pub(super) fn refund_status(l: Lang, status: &str) -> String {
    let (zh, en) = match status {
        "requested" => ("退款处理中", "Refund in progress"),
        "confirmed" => ("已退款", "Refunded"),
        "failed" => ("退款失败，处理中", "Refund failed, being handled"),
        other => return other.to_string(),
    };
    l.pick(zh, en).to_string()
}

/// Whether a detail is proof for the record (hashes, provider references) rather than
/// what a buyer reads: such parts are folded away under 查看存证.
fn is_proof(key: &str) -> bool {
    key.ends_with("_sha256") || matches!(key, "payment_id" | "refund_id" | "provider_txn_id" | "currency")
}

/// The separator between parts of a detail.
fn joiner(l: Lang) -> &'static str {
    l.pick("；", "; ")
}

/// An order event's detail as (what a buyer reads, the proof folded away).
pub(super) fn event_detail_split(l: Lang, detail: &serde_json::Value) -> (Option<String>, Option<String>) {
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
            let (amount, fee, rate, net) = (
                yuan(amount),
                yuan(s.fee.minor()),
                format!("{}.{:02}%", bps / 100, bps % 100),
                yuan(s.to_seller.minor()),
            );
            l.pick(
                format!("订单金额 ¥{amount}；平台服务费 ¥{fee}（{rate}）；卖家实得 ¥{net}"),
                format!("Order amount ¥{amount}; platform fee ¥{fee} ({rate}); the seller receives ¥{net}"),
            )
        }),
        _ => None,
    };
    let rest = event_detail(l, &serde_json::Value::Object(plain));
    let plain = match (settled, rest) {
        (Some(a), Some(b)) => Some(format!("{a}{}{b}", joiner(l))),
        (a, b) => a.or(b),
    };
    (plain, event_detail(l, &serde_json::Value::Object(proof)))
}

/// A short, readable summary of an event's detail: amounts in yuan, content hashes as
/// evidence, anything else as `key: value`.
pub(super) fn event_detail(l: Lang, detail: &serde_json::Value) -> Option<String> {
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
        let both = |zh: &str, en: &str| l.pick(format!("{zh} {text}"), format!("{en} {text}"));
        let money = |zh: &str, en: &str, m: i64| l.pick(format!("{zh} ¥{}", yuan(m)), format!("{en} ¥{}", yuan(m)));
        let part = match (k.as_str(), v.as_i64()) {
            ("amount_minor", Some(m)) => money("金额", "Amount", m),
            ("paid_minor", Some(m)) => money("实付", "Paid", m),
            ("released_minor", Some(m)) => money("结算金额", "Settled", m),
            ("fee_bps", Some(bps)) => {
                let rate = format!("{}.{:02}%", bps / 100, bps % 100);
                l.pick(format!("平台费率 {rate}"), format!("Platform fee rate {rate}"))
            }
            ("items", Some(_)) => both("件数", "Items"),
            ("viewer", _) if text == "guest" => l.pick("查看者 游客", "Viewed by the guest buyer").to_string(),
            ("viewer", _) => l.pick("查看者 买家", "Viewed by the buyer").to_string(),
            ("payment_id", _) => both("支付单号", "Payment"),
            ("refund_id", _) => both("退款单号", "Refund"),
            ("currency", _) => both("币种", "Currency"),
            ("quantity", Some(_)) => both("数量", "Quantity"),
            ("rule_version", Some(_)) => both("规则版本", "Rules version"),
            ("risk_level", _) => l.pick(
                format!("风控 {}", risk_level(l, &text)),
                format!("Risk: {}", risk_level(l, &text).to_lowercase()),
            ),
            ("risk_reasons", _) => both("风控原因", "Risk reasons"),
            ("content_sha256", _) => both("内容摘要 SHA-256:", "Content SHA-256:"),
            ("by", _) => match text.as_str() {
                "system" => l.pick("系统自动", "Automatically, by the system").to_string(),
                "seller" => l.pick("卖家", "The seller").to_string(),
                "buyer" => l.pick("买家", "The buyer").to_string(),
                t if t.starts_with("system:") || t.starts_with("user:") => l.pick(
                    format!("裁决方 {}", ruled_by(l, t)),
                    format!("Ruled by {}", ruled_by(l, t)),
                ),
                _ => format!("by: {text}"),
            },
            ("complaint_id", _) => both("投诉单号", "Complaint"),
            ("kind", _) => l.pick(
                format!("投诉类型 {}", complaint_kind(l, &text)),
                format!("Complaint type: {}", complaint_kind(l, &text)),
            ),
            ("ruling", _) => {
                let r = ruling_label(l, v).unwrap_or_else(|| text.clone());
                l.pick(format!("裁决 {r}"), format!("Ruling: {r}"))
            }
            ("to_buyer_minor", Some(m)) => money("退给买家", "To the buyer", m),
            ("to_seller_minor", Some(m)) => money("结算给卖家", "To the seller", m),
            ("fee_minor", Some(m)) => money("平台服务费", "Platform fee", m),
            ("reason_sha256", _) => both("理由摘要 SHA-256:", "Reason SHA-256:"),
            ("reason", _) => {
                let r = refund_reason(l, &text);
                l.pick(format!("原因 {r}"), format!("Reason: {r}"))
            }
            ("seller_reason", _) => l.pick(format!("卖家说明：{text}"), format!("The seller says: {text}")),
            _ => format!("{k}: {text}"),
        };
        parts.push(part);
    }
    (!parts.is_empty()).then(|| parts.join(joiner(l)))
}

pub(super) fn complaint_kind(l: Lang, kind: &str) -> String {
    let (zh, en) = match kind {
        "not_delivered" => ("未发货", "Not delivered"),
        "not_as_described" => ("货不对板", "Not as described"),
        "fraud" => ("欺诈", "Fraud"),
        "other" => ("其他", "Other"),
        other => return other.to_string(),
    };
    l.pick(zh, en).to_string()
}

pub(super) fn complaint_stage(l: Lang, stage: &str) -> String {
    let (zh, en) = match stage {
        "awaiting_seller" => ("等待卖家回应", "Waiting for the seller"),
        "under_review" => ("平台审核中", "Under review by the platform"),
        "awaiting_buyer" => ("等待买家补充证据", "Waiting for the buyer's evidence"),
        "appraisal" => ("第三方鉴定中", "Third-party appraisal"),
        "resolved" => ("已裁决", "Ruled"),
        "withdrawn" => ("已撤诉", "Withdrawn"),
        other => return other.to_string(),
    };
    l.pick(zh, en).to_string()
}

pub(super) fn party(l: Lang, party: &str) -> &'static str {
    match party {
        "buyer" => l.pick("买家", "Buyer"),
        "seller" => l.pick("卖家", "Seller"),
        _ => l.pick("平台", "Platform"),
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
pub(super) fn ruling_label(l: Lang, v: &serde_json::Value) -> Option<String> {
    let kind = v.get("kind")?.as_str()?;
    let bps = |name: &str| v.get(name).and_then(serde_json::Value::as_i64);
    Some(match kind {
        "refund_full" => l.pick("全额退款", "Full refund").to_string(),
        "release_to_seller" => l.pick("放款给卖家", "Released to the seller").to_string(),
        "split" => match bps("buyer_bps") {
            Some(b) => {
                let (buyer, seller) = (percent(b), percent(10_000 - b));
                l.pick(
                    format!("按比例分配（买家 {buyer}，卖家 {seller}）"),
                    format!("Split (buyer {buyer}, seller {seller})"),
                )
            }
            None => l.pick("按比例分配", "Split").to_string(),
        },
        "redeliver" => match bps("refund_bps") {
            Some(b) if b > 0 => l.pick(
                format!("重新发货（并退还买家 {}）", percent(b)),
                format!("Deliver again (and refund the buyer {})", percent(b)),
            ),
            _ => l.pick("重新发货", "Deliver again").to_string(),
        },
        other => other.to_string(),
    })
}

pub(super) fn ruled_by(l: Lang, by: &str) -> String {
    let (zh, en) = match by {
        "system:triage" => ("系统自动预审", "The system's automatic triage"),
        "system:deadline" => (
            "系统（期限届满，按规则默认裁决）",
            "The system (a deadline passed; the rules' default ruling)",
        ),
        b if b.starts_with("user:") => ("平台仲裁员", "A platform arbitrator"),
        b if b.starts_with("system") => ("系统", "The system"),
        _ => ("平台", "The platform"),
    };
    l.pick(zh, en).to_string()
}

pub(super) fn complaint_event_label(l: Lang, kind: &str) -> String {
    let (zh, en) = match kind {
        "opened" => ("发起投诉，订单款项已冻结", "Complaint opened, the order's money frozen"),
        "evidence_added" => ("提交证据", "Evidence added"),
        "stage" => ("进度更新", "Progress"),
        "ruled" => ("裁决已执行", "Ruling carried out"),
        "ask_buyer" => ("平台要求买家补充证据", "The platform asked the buyer for evidence"),
        "assigned" => ("仲裁员已领取", "An arbitrator took the case"),
        "start_appraisal" => ("启动第三方鉴定", "Third-party appraisal started"),
        "finish_appraisal" => ("第三方鉴定完成", "Third-party appraisal finished"),
        other => return other.to_string(),
    };
    l.pick(zh, en).to_string()
}

/// A complaint event's detail in words; ids and hashes of the money's sources stay in
/// the evidence log.
pub(super) fn complaint_event_detail(l: Lang, detail: &serde_json::Value) -> Option<String> {
    let obj = detail.as_object()?;
    let text = |k: &str| obj.get(k).and_then(serde_json::Value::as_str);
    let mut parts = Vec::new();
    if let (Some(from), Some(to)) = (text("from"), text("to")) {
        parts.push(format!("{} → {}", complaint_stage(l, from), complaint_stage(l, to)));
    }
    for (k, v) in obj {
        let n = v.as_i64();
        let s = v.as_str().unwrap_or_default();
        let money = |zh: &str, en: &str, m: i64| l.pick(format!("{zh} ¥{}", yuan(m)), format!("{en} ¥{}", yuan(m)));
        let part = match (k.as_str(), n) {
            ("from" | "to" | "event" | "sources" | "evidence_id" | "rule_version", _) => continue,
            ("kind", _) if obj.contains_key("party") => {
                let e = evidence_kind(l, s);
                l.pick(format!("证据类型 {e}"), format!("Evidence type: {e}"))
            }
            ("kind", _) => {
                let c = complaint_kind(l, s);
                l.pick(format!("投诉类型 {c}"), format!("Complaint type: {c}"))
            }
            ("party", _) => {
                let p = party(l, s);
                l.pick(format!("提交方 {p}"), format!("Submitted by: {p}"))
            }
            ("frozen_minor", Some(m)) => money("冻结金额", "Frozen", m),
            ("deadline_at", Some(ms)) => {
                let t = TimeView::new(&danbao_app::clock::rfc3339(ms)).display;
                l.pick(format!("卖家回应期限 {t}"), format!("The seller must answer by {t}"))
            }
            ("ruling", _) => {
                let r = ruling_label(l, v).unwrap_or_default();
                l.pick(format!("裁决 {r}"), format!("Ruling: {r}"))
            }
            ("to_buyer_minor", Some(m)) => money("退给买家", "To the buyer", m),
            ("to_seller_minor", Some(m)) => money("结算给卖家", "To the seller", m),
            ("fee_minor", Some(m)) => money("平台服务费", "Platform fee", m),
            ("by", _) => match v.as_str() {
                Some(by) => {
                    let b = ruled_by(l, by);
                    l.pick(format!("裁决方 {b}"), format!("Ruled by {b}"))
                }
                None => continue,
            },
            ("reason_sha256", _) => match v.as_str() {
                Some(h) => l.pick(format!("理由摘要 SHA-256: {h}"), format!("Reason SHA-256: {h}")),
                None => continue,
            },
            (other, _) => format!("{other}: {}", v.as_str().map_or_else(|| v.to_string(), str::to_string)),
        };
        parts.push(part);
    }
    (!parts.is_empty()).then(|| parts.join(joiner(l)))
}

pub(super) fn role(l: Lang, role: Role) -> &'static str {
    match role {
        Role::Buyer => l.pick("买家", "Buyer"),
        Role::Seller => l.pick("卖家", "Seller"),
        Role::Arbitrator => l.pick("仲裁员", "Arbitrator"),
        Role::Admin => l.pick("管理员", "Administrator"),
    }
}

/// The day of a time, as `2025-01-02`, in the zone the pages show times in.
pub(super) fn date(ms: i64) -> String {
    danbao_app::clock::display_time(ms).chars().take(10).collect()
}

fn time(ms: i64) -> String {
    TimeView::new(&danbao_app::clock::rfc3339(ms)).display
}

pub(super) fn standing(l: Lang, s: Standing) -> &'static str {
    match s {
        Standing::Active => l.pick("正常", "active"),
        Standing::Frozen => l.pick("已冻结", "frozen"),
        Standing::Banned => l.pick("已封禁", "banned"),
    }
}

/// Why a use case said no.
pub(super) fn refusal(l: Lang, r: &Refusal) -> String {
    use Refusal as R;
    let p = |zh: &str, en: &str| l.pick(zh, en).to_string();
    match r {
        R::UsernameTaken => p(
            "用户名已被占用，请换一个",
            "That username is taken; please choose another",
        ),
        R::OutOfStock => p(
            "库存不足，请减少购买数量或稍后再试",
            "Not enough stock; buy fewer or try again later",
        ),
        R::Order(_) => p(
            "订单当前的状态不允许这个操作，请刷新页面后查看最新状态",
            "The order's status does not allow this now; reload the page to see where it stands",
        ),
        R::NoPaymentExpected { status } => l.pick(
            format!("订单{}，无需付款", order_status(l, *status)),
            format!(
                "The order is {}; no payment is due",
                order_status(l, *status).to_lowercase()
            ),
        ),
        R::NothingDelivered { status } => l.pick(
            format!("订单{}，暂无可查看的发货内容", order_status(l, *status)),
            format!(
                "The order is {}; nothing has been delivered yet",
                order_status(l, *status).to_lowercase()
            ),
        ),
        R::DeliveredAutomatically => p(
            "卡密订单付款后自动发货，无需手动发货",
            "Card-key orders are delivered automatically on payment",
        ),
        R::RiskBlocked { reasons, .. } => {
            let why: Vec<String> = reasons.iter().map(|r| risk_reason(l, r)).collect();
            l.pick(
                format!("该订单存在较高交易风险，平台已拒绝下单：{}", why.join("；")),
                format!("This order is refused as too risky: {}", why.join("; ")),
            )
        }
        R::RiskConfirmationRequired => p(
            "请先确认订单风险提示（二次验证），再付款",
            "Confirm the risk warnings on this order first, then pay",
        ),
        R::KeysHeldByOrders => p(
            "未售出的卡密都已被待付款订单预留，请待订单付款或过期后再删除",
            "Every unsold key is held by an unpaid order; remove it after those orders are paid or expire",
        ),
        R::TooManyPaymentAttempts { max } => l.pick(
            format!("该订单已发起 {max} 次支付，请直接在已打开的收银台付款或重新下单"),
            format!("This order already started {max} payments; pay at the cashier already open, or order again"),
        ),
        R::CannotOpen(o) => open_refusal(l, o),
        R::Complaint(_) => p(
            "投诉当前的进度不允许这个操作，请刷新页面后查看最新进度",
            "The complaint's progress does not allow this now; reload the page to see where it stands",
        ),
        R::ComplaintClosed { .. } => p(
            "投诉已结束（已裁决或已撤诉），不能再进行这个操作",
            "The complaint is closed (ruled or withdrawn); this is no longer possible",
        ),
        R::AssignedElsewhere => p(
            "该投诉已由其他仲裁员受理",
            "Another arbitrator has taken this complaint",
        ),
        R::FastRefundedNoWithdrawal => p(
            "平台已先行赔付，投诉不能撤回，将由仲裁员裁决",
            "The platform already refunded you in advance; the complaint cannot be withdrawn and goes on to a ruling",
        ),
        R::EvidenceQuota { max_files, max_bytes } => {
            let mb = max_bytes / (1024 * 1024);
            l.pick(
                format!("每一方在一个投诉中最多上传 {max_files} 个文件（共 {mb} MB）"),
                format!("Each side may upload at most {max_files} files ({mb} MB in all) to a complaint"),
            )
        }
        R::InsufficientBalance => p("可用余额不足", "The available balance is too low"),
        R::DepositShort { required, held } => l.pick(
            format!(
                "上架商品需缴纳保证金 ¥{}，当前仅有 ¥{}。请先在卖家后台缴纳保证金。",
                yuan(required.minor()),
                yuan(held.minor())
            ),
            format!(
                "Listing needs a deposit of ¥{}; ¥{} is held. Pay the deposit in the seller console first.",
                yuan(required.minor()),
                yuan(held.minor())
            ),
        ),
        R::DepositHeld(h) => match h {
            danbao_domain::seller::DepositHeld::OpenOrders(n) => l.pick(
                format!("还有 {n} 笔进行中的订单，保证金暂不能退还"),
                format!("{n} orders are still open; the deposit stays until they end"),
            ),
            danbao_domain::seller::DepositHeld::OpenComplaints(n) => l.pick(
                format!("还有 {n} 个进行中的投诉，保证金暂不能退还"),
                format!("{n} complaints are still open; the deposit stays until they end"),
            ),
            danbao_domain::seller::DepositHeld::QuietUntil(_) => p(
                "保证金须在无进行中订单和投诉满 30 天后才能退还",
                "The deposit is released only after 30 days with no open order or complaint",
            ),
        },
        R::WithdrawalsStopped { standing: s } => l.pick(
            format!("店铺{}，暂停提现", standing(l, *s)),
            format!("The shop is {}; withdrawals are stopped", standing(l, *s)),
        ),
        R::Standing(c) => match c.change {
            StandingChange::Unfreeze if c.from == Standing::Banned => p("封禁不可撤销", "A ban cannot be undone"),
            StandingChange::Unfreeze => p("该卖家未被冻结", "This seller is not frozen"),
            StandingChange::Ban => p("该卖家已被封禁", "This seller is already banned"),
            StandingChange::Freeze => l.pick(
                format!("该卖家当前状态为{}", standing(l, c.from)),
                format!("This seller is {}", standing(l, c.from)),
            ),
        },
        R::FeesShort { fees } => l.pick(
            format!("平台服务费余额仅 ¥{}，不足以划入赔付基金", yuan(fees.minor())),
            format!(
                "The platform's fees hold only ¥{}, too little for the guarantee fund",
                yuan(fees.minor())
            ),
        ),
        R::ExceptionResolved => p("该异常已处理", "This exception is already resolved"),
        R::NoPaymentToRefund => p("没有可退的付款", "There is no payment to refund"),
        R::PaymentNotMismatched { .. } => p(
            "该付款不是金额不符的付款，不能按此方式退款",
            "This payment's amount matched its order; it cannot be refunded this way",
        ),
        R::SelfPurchase => p("卖家不能购买自己店铺的商品", "A seller cannot buy from their own shop"),
        R::UnpaidUnitsLimit {
            holder: h, max_units, ..
        } => l.pick(
            format!(
                "{}的未付款订单最多可占用 {max_units} 件库存，请先支付或取消已有的未付款订单",
                holder(l, *h)
            ),
            format!(
                "Unpaid orders of {} may hold at most {max_units} items of stock; pay or cancel those first",
                holder(l, *h)
            ),
        ),
        R::StockShareLimit { max_units, .. } => l.pick(
            format!("每位买家的未付款订单最多可占用该商品 {max_units} 件库存，请先支付已有订单"),
            format!("Each buyer's unpaid orders may hold at most {max_units} of this product; pay those first"),
        ),
        R::QueryPasswordLocked { retry_after_s, .. } => l.pick(
            format!("查询密码错误次数过多，该订单已暂时锁定，请 {retry_after_s} 秒后再试"),
            format!(
                "Too many wrong order passwords; the order is locked for now, try again in {retry_after_s} seconds"
            ),
        ),
    }
}

/// One reason an order was scored risky (SPEC §8), with its figures, for the buyer and the
/// arbitrator.
pub(crate) fn risk_reason(l: Lang, r: &danbao_domain::risk::RiskReason) -> String {
    use danbao_domain::risk::RiskReason as R;
    match r {
        R::NewSeller { age_days, min_days } => l.pick(
            format!("卖家开店仅 {age_days} 天（不足 {min_days} 天）"),
            format!("The seller opened the shop {age_days} days ago (under {min_days} days)"),
        ),
        R::ComplaintRate {
            complained,
            orders,
            rate_bps,
            ..
        } => l.pick(
            format!(
                "卖家最近 {orders} 笔已付款订单中有 {complained} 笔被投诉（{}）",
                percent(*rate_bps)
            ),
            format!(
                "{complained} of the seller's last {orders} paid orders drew complaints ({})",
                percent(*rate_bps)
            ),
        ),
        R::PriceBelowMedian {
            price_minor,
            median_minor,
            ratio_bps,
            ..
        } => l.pick(
            format!(
                "价格 ¥{} 仅为同类商品常见价格 ¥{} 的 {}，谨防“低价充值”骗局",
                yuan(*price_minor),
                yuan(*median_minor),
                percent(*ratio_bps)
            ),
            format!(
                "The price ¥{} is only {} of the usual ¥{} for this category: beware of too-cheap top-up scams",
                yuan(*price_minor),
                percent(*ratio_bps),
                yuan(*median_minor)
            ),
        ),
        R::BuyerVelocity { orders, window_minutes } => l.pick(
            format!("您在最近 {window_minutes} 分钟内已下单 {orders} 笔"),
            format!("You placed {orders} orders in the last {window_minutes} minutes"),
        ),
        R::LargeAmount {
            amount_minor,
            threshold_minor,
        } => l.pick(
            format!(
                "订单金额 ¥{} 较大（¥{} 起）",
                yuan(*amount_minor),
                yuan(*threshold_minor)
            ),
            format!(
                "A large amount: ¥{} (from ¥{})",
                yuan(*amount_minor),
                yuan(*threshold_minor)
            ),
        ),
    }
}

/// A risk level as people read it.
pub(crate) fn risk_level(l: Lang, level: &str) -> &'static str {
    match level {
        "warn" => l.pick("注意", "Warning"),
        "step_up" => l.pick("需二次确认", "Needs a second confirmation"),
        "block" => l.pick("已拒绝", "Refused"),
        _ => l.pick("低", "Low"),
    }
}

fn holder(l: Lang, h: danbao_domain::limits::Holder) -> &'static str {
    use danbao_domain::limits::Holder as H;
    match h {
        H::Account => l.pick("您的账户", "your account"),
        H::Contact => l.pick("该联系方式", "this contact"),
        H::Address => l.pick("您所在的网络", "your network"),
    }
}

fn open_refusal(l: Lang, o: &OpenRefusal) -> String {
    let p = |zh: &str, en: &str| l.pick(zh, en).to_string();
    match o {
        OpenRefusal::NotPaid => p("订单尚未付款，不能投诉", "The order is not paid; there is nothing to complain about yet"),
        OpenRefusal::AlreadyOpen => p(
            "该订单已有处理中的投诉，请在投诉列表中查看",
            "This order already has an open complaint; see it in the list",
        ),
        OpenRefusal::Finished(_) => p("订单已结束，不能再投诉", "The order is finished; it can no longer be complained about"),
        OpenRefusal::TooEarly { from_ms } => l.pick(
            format!("付款后需等待一段时间才能以“未发货”投诉，请于 {} 之后再试", time(*from_ms)),
            format!("A \"not delivered\" complaint can be opened only after {}", time(*from_ms)),
        ),
        OpenRefusal::DeliveredAutomatically => p(
            "卡密订单付款后即自动发货，不能以“未发货”投诉；卡密无效或已被使用请选择“货不对板”",
            "Card-key orders are delivered on payment, so not \"not delivered\"; for a key that does not work, choose \"not as described\"",
        ),
        OpenRefusal::NotDeliveredYet => p(
            "卖家尚未发货，暂不能以“货不对板”投诉",
            "Nothing is delivered yet, so not \"not as described\"",
        ),
        OpenRefusal::WindowClosed => p("已过售后期，不能再投诉", "The after-sales period is over; complaints are closed"),
    }
}

/// What is wrong with a field; a problem without a typed shape is shown as written.
pub(super) fn invalid(l: Lang, p: &Invalid) -> String {
    match p {
        Invalid::Length { min, max } => l.pick(
            format!("长度须为 {min} 到 {max} 个字符"),
            format!("must be {min} to {max} characters long"),
        ),
        Invalid::Range { min, max } => l.pick(
            format!("须在 {min} 到 {max} 之间"),
            format!("must be from {min} to {max}"),
        ),
        Invalid::Required { name } => l.pick(format!("请填写“{name}”"), format!("please fill in \"{name}\"")),
        Invalid::NotAField { name } => l.pick(
            format!("“{name}”不是本商品需要填写的信息"),
            format!("\"{name}\" is not asked for by this product"),
        ),
        Invalid::ControlCharacters => l.pick("不能包含控制字符", "must not contain control characters").into(),
        Invalid::AmountTooLarge => l.pick("金额过大", "the amount is too large").into(),
        Invalid::BadCursor => l.pick("无效的分页参数", "not a valid page").into(),
        Invalid::Other(text) => text.clone(),
    }
}

/// A kind of evidence as a person reads it.
pub(super) fn evidence_kind(l: Lang, kind: &str) -> String {
    let (zh, en) = match kind {
        "description" => ("问题描述", "Description"),
        "screenshot" => ("截图", "Screenshot"),
        "screenshot_note" => ("截图说明", "Note on a screenshot"),
        "seller_response" => ("卖家答复", "The seller's answer"),
        "ask_buyer" => ("平台要求补充证据", "The platform asked for evidence"),
        "start_appraisal" => ("启动第三方鉴定", "Third-party appraisal started"),
        "finish_appraisal" => ("第三方鉴定结论", "Third-party appraisal's finding"),
        other => return other.to_string(),
    };
    l.pick(zh, en).to_string()
}

pub(super) fn triage_reason(l: Lang, r: &TriageReason) -> String {
    use TriageReason as T;
    let p = |zh: &str, en: &str| l.pick(zh, en).to_string();
    match r {
        T::EvidenceMissing { kinds } => {
            let kinds: Vec<String> = kinds.iter().map(|k| evidence_kind(l, k)).collect();
            l.pick(
                format!("仍缺少证据：{}", kinds.join("、")),
                format!("Evidence still missing: {}", kinds.join(", ")),
            )
        }
        T::NoDeliveryPastDeadline => p(
            "没有发货记录，且已超过发货期限",
            "No delivery on record, and the delivery deadline has passed",
        ),
        T::NoDeliveryYet => p(
            "暂无发货记录，卖家仍可发货或回应",
            "No delivery on record yet; the seller may still deliver or answer",
        ),
        T::DeliveredAndRevealed => p(
            "有发货记录，且买家已查看发货内容",
            "Delivered on record, and the buyer viewed the delivery",
        ),
        T::DeliveredNotRevealed => p(
            "有发货记录，但买家从未查看发货内容",
            "Delivered on record, but the buyer never viewed it",
        ),
        T::NeverRevealed => p("买家从未查看过发货内容", "The buyer never viewed the delivery"),
        T::FraudWithoutDelivery => p("投诉欺诈，且没有发货记录", "Fraud claimed, and no delivery on record"),
        T::BothSidesSpoke => p(
            "双方均已陈述，由仲裁员审核证据",
            "Both sides have spoken; an arbitrator reviews the evidence",
        ),
        T::AwaitingSeller => p("等待卖家回应", "Waiting for the seller"),
        // The phrases themselves are shown beside the reason, as what people typed (see
        // `triage_reason_view`), so the reason reads in the page's language alone.
        T::TextSays { party, class, .. } => {
            let (zh, en) = text_class(*class);
            l.pick(
                format!("{}的陈述：{zh}", side_label(l, *party)),
                format!("{}'s words: {en}", side_label(l, *party)),
            )
        }
        T::TextNegated { party, .. } => l.pick(
            format!("{}的陈述中为否定说法，未计入：", side_label(l, *party)),
            format!(
                "Not counted, {}'s words negate it:",
                side_label(l, *party).to_lowercase()
            ),
        ),
        T::TextMixed => p(
            "买家的陈述既有投诉，又有已解决或不想要了的说法，需人工判断",
            "The buyer's words both complain and settle (or change their mind): a person decides",
        ),
        T::TextOverridesRecords => p(
            "建议依据双方的陈述作出（仅为建议，由仲裁员决定）",
            "The proposal follows the parties' words (a proposal only; an arbitrator decides)",
        ),
        T::ImageSeenElsewhere {
            party,
            complaints,
            other_sellers,
        } => {
            let ids = complaints.join(l.pick("、", ", "));
            let (zh_more, en_more) = if *other_sellers {
                ("，其中有针对其他卖家的投诉", "; some are against other sellers")
            } else {
                ("", "")
            };
            l.pick(
                format!(
                    "{}上传的图片与其他订单投诉中的图片相同或几乎相同：{ids}{zh_more}",
                    side_label(l, *party)
                ),
                format!(
                    "A picture {} uploaded is the same (or nearly) as one in complaints about other orders: {ids}{en_more}",
                    side_label(l, *party).to_lowercase()
                ),
            )
        }
    }
}

/// A triage reason as a party to the case reads it: like the arbitrator's, but another
/// case's ids (which a party cannot open) are given as a count.
fn triage_reason_for_party(l: Lang, r: &TriageReason) -> String {
    match r {
        TriageReason::ImageSeenElsewhere { party, complaints, .. } => l.pick(
            format!(
                "{}上传的图片与另外 {} 个投诉中的图片相同或几乎相同，已提示仲裁员",
                side_label(l, *party),
                complaints.len()
            ),
            format!(
                "A picture {} uploaded is the same (or nearly) as one in {} other complaint(s); the arbitrator is told",
                side_label(l, *party).to_lowercase(),
                complaints.len()
            ),
        ),
        other => triage_reason(l, other),
    }
}

/// Who wrote or uploaded something in a case.
fn side_label(l: Lang, side: Side) -> String {
    match side {
        Side::Buyer => l.pick("买家", "The buyer"),
        Side::Seller => l.pick("卖家", "The seller"),
        Side::Staff => l.pick("平台", "The platform"),
    }
    .to_string()
}

/// A triage reason on a page: the reason in the page's language, and the phrases of the
/// parties' words it rests on (shown as typed, whatever the page's language).
pub(super) struct ReasonView {
    pub text: String,
    pub phrases: Vec<String>,
}

/// The reason for the arbitrator (`for_party` false) or a party to the case.
pub(super) fn triage_reason_view(l: Lang, r: &TriageReason, for_party: bool) -> ReasonView {
    let text = if for_party {
        triage_reason_for_party(l, r)
    } else {
        triage_reason(l, r)
    };
    let phrases = match r {
        TriageReason::TextSays { phrases, .. } | TriageReason::TextNegated { phrases, .. } => phrases.clone(),
        _ => Vec::new(),
    };
    ReasonView { text, phrases }
}

/// What a class of phrases says, in Chinese and English.
fn text_class(class: TextClass) -> (&'static str, &'static str) {
    match class {
        TextClass::KeyUsed => ("卡密已被使用或无效", "the card key was already used or is invalid"),
        TextClass::NotReceived => ("没有收到货", "nothing arrived"),
        TextClass::NotAsDescribed => ("货不对板", "not as described"),
        TextClass::Fraud => ("指称对方欺诈", "calls the other side a cheat"),
        TextClass::Remorse => ("误拍或不想要了", "ordered by mistake or changed their mind"),
        TextClass::Resolved => ("问题已解决", "the problem is resolved"),
        TextClass::Received => ("已收到货", "the goods arrived"),
        TextClass::Admits => ("承认问题或同意退款", "admits the fault or agrees to a refund"),
        TextClass::Denies => ("称发货无误", "says the delivery was right"),
    }
}

/// Why a complaint was ruled as it was: an arbitrator's own words as written; the
/// system's grounds in the page's language.
pub(super) fn ruling_reason(l: Lang, r: &RulingReason) -> String {
    match r {
        RulingReason::Arbitrator { text } => text.clone(),
        RulingReason::SellerSilent => l.pick("卖家未在期限内回应", "The seller did not answer in time").into(),
        RulingReason::BuyerSilent => l
            .pick("买家未在期限内补充证据", "The buyer did not add evidence in time")
            .into(),
        RulingReason::Triage { reasons } => {
            let parts: Vec<String> = reasons.iter().map(|t| triage_reason(l, t)).collect();
            l.pick(
                format!("自动预审：{}", parts.join("；")),
                format!("Automatic triage: {}", parts.join("; ")),
            )
        }
        RulingReason::SellerBanned { text } => l.pick(
            format!("卖家因违规被封禁：{text}"),
            format!("The seller was banned: {text}"),
        ),
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
        let (plain, proof) = event_detail_split(Lang::Zh, &paid);
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
        let (plain, proof) = event_detail_split(Lang::Zh, &serde_json::json!({"fee_bps": 500, "released_minor": 5800}));
        assert_eq!(
            plain.as_deref(),
            Some("订单金额 ¥58.00；平台服务费 ¥2.90（5.00%）；卖家实得 ¥55.10")
        );
        assert_eq!(proof, None);
        let (plain, _) = event_detail_split(Lang::Zh, &serde_json::json!({"seller_reason": "区服维护"}));
        assert_eq!(plain.as_deref(), Some("卖家说明：区服维护"));
    }
    use danbao_domain::Money;

    #[test]
    fn refusals_read_in_chinese_with_their_data() {
        let early: Refusal = OpenRefusal::TooEarly { from_ms: 0 }.into();
        assert!(
            refusal(Lang::Zh, &early).contains("1970-01-01 08:00:00"),
            "{}",
            refusal(Lang::Zh, &early)
        );
        assert_eq!(
            refusal(
                Lang::Zh,
                &Refusal::FeesShort {
                    fees: Money::from_minor(1234)
                }
            ),
            "平台服务费余额仅 ¥12.34，不足以划入赔付基金"
        );
        assert_eq!(
            refusal(
                Lang::Zh,
                &Refusal::WithdrawalsStopped {
                    standing: Standing::Frozen
                }
            ),
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
            Refusal::FastRefundedNoWithdrawal,
            Refusal::InsufficientBalance,
            Refusal::ExceptionResolved,
            Refusal::NoPaymentToRefund,
            Refusal::SelfPurchase,
        ];
        let texts: std::collections::BTreeSet<String> = some.iter().map(|r| refusal(Lang::Zh, r)).collect();
        assert_eq!(texts.len(), some.len());
        assert!(texts.iter().all(|t| !t.is_ascii()), "{texts:?}");
    }

    #[test]
    fn validation_problems_read_in_chinese() {
        assert_eq!(
            invalid(Lang::Zh, &Invalid::Length { min: 1, max: 64 }),
            "长度须为 1 到 64 个字符"
        );
        assert_eq!(
            invalid(Lang::Zh, &Invalid::Range { min: 1, max: 100 }),
            "须在 1 到 100 之间"
        );
        assert_eq!(
            invalid(
                Lang::Zh,
                &Invalid::Required {
                    name: "游戏账号".into()
                }
            ),
            "请填写“游戏账号”"
        );
        assert_eq!(invalid(Lang::Zh, &Invalid::Other("odd".into())), "odd");
    }

    #[test]
    fn the_words_triage_read_are_shown_beside_the_reason_in_either_language() {
        use danbao_domain::complaint::Side;
        use danbao_domain::triage_text::TextClass;
        let said = TriageReason::TextSays {
            party: Side::Buyer,
            class: TextClass::KeyUsed,
            phrases: vec!["提示已使用".into()],
        };
        let zh = triage_reason_view(Lang::Zh, &said, true);
        assert_eq!(zh.text, "买家的陈述：卡密已被使用或无效");
        assert_eq!(zh.phrases, vec!["提示已使用".to_string()]);
        // In English the reason has no Chinese: the phrase is shown as the buyer typed it,
        // beside it.
        let en = triage_reason_view(Lang::En, &said, true);
        assert_eq!(
            en.text,
            "The buyer's words: the card key was already used or is invalid"
        );
        assert_eq!(en.phrases, zh.phrases);
        let reused = TriageReason::ImageSeenElsewhere {
            party: Side::Buyer,
            complaints: vec!["c1".into(), "c2".into()],
            other_sellers: true,
        };
        // The arbitrator sees the other cases; a party sees how many there are.
        assert_eq!(
            triage_reason_view(Lang::Zh, &reused, false).text,
            "买家上传的图片与其他订单投诉中的图片相同或几乎相同：c1、c2，其中有针对其他卖家的投诉"
        );
        let party = triage_reason_view(Lang::En, &reused, true).text;
        assert!(party.contains("2 other complaint") && !party.contains("c1"), "{party}");
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
            ruling_reason(Lang::Zh, &r),
            "自动预审：仍缺少证据：截图、问题描述；没有发货记录，且已超过发货期限"
        );
        assert_eq!(
            ruling_reason(Lang::Zh, &RulingReason::SellerSilent),
            "卖家未在期限内回应"
        );
        assert_eq!(
            ruling_reason(
                Lang::Zh,
                &RulingReason::Arbitrator {
                    text: "货不对板属实".into()
                }
            ),
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
            ruling_label(Lang::Zh, &split).as_deref(),
            Some("按比例分配（买家 60%，卖家 40%）")
        );
        let full = serde_json::json!({"kind": "refund_full"});
        assert_eq!(ruling_label(Lang::Zh, &full).as_deref(), Some("全额退款"));
        assert_eq!(ruling_label(Lang::Zh, &serde_json::Value::Null), None);
        assert_eq!(ruled_by(Lang::Zh, "user:0190"), "平台仲裁员");
        assert_eq!(complaint_stage(Lang::Zh, "awaiting_buyer"), "等待买家补充证据");
        assert_eq!(complaint_kind(Lang::Zh, "not_as_described"), "货不对板");
    }

    #[test]
    fn risk_reasons_read_with_their_figures_in_both_languages() {
        use danbao_domain::risk::RiskReason;
        let cheap = RiskReason::PriceBelowMedian {
            price_minor: 1000,
            median_minor: 5800,
            ratio_bps: 1724,
            threshold_bps: 5000,
        };
        assert_eq!(
            risk_reason(Lang::Zh, &cheap),
            "价格 ¥10.00 仅为同类商品常见价格 ¥58.00 的 17.24%，谨防“低价充值”骗局"
        );
        assert!(risk_reason(Lang::En, &cheap).starts_with("The price ¥10.00 is only 17.24% of the usual ¥58.00"));
        let new = RiskReason::NewSeller {
            age_days: 0,
            min_days: 7,
        };
        assert_eq!(risk_reason(Lang::Zh, &new), "卖家开店仅 0 天（不足 7 天）");
        let blocked = Refusal::RiskBlocked {
            score: 120,
            reasons: vec![new, cheap],
        };
        assert!(refusal(Lang::Zh, &blocked).starts_with("该订单存在较高交易风险，平台已拒绝下单：卖家开店仅 0 天"));
        assert_eq!(risk_level(Lang::En, "step_up"), "Needs a second confirmation");
    }

    #[test]
    fn limits_read_in_chinese_with_their_numbers() {
        use danbao_domain::limits::Holder;
        assert_eq!(
            refusal(
                Lang::Zh,
                &Refusal::UnpaidUnitsLimit {
                    holder: Holder::Contact,
                    held_units: 20,
                    max_units: 20
                }
            ),
            "该联系方式的未付款订单最多可占用 20 件库存，请先支付或取消已有的未付款订单"
        );
        assert_eq!(
            refusal(
                Lang::Zh,
                &Refusal::StockShareLimit {
                    held_units: 5,
                    max_units: 5,
                    share_bps: 5000
                }
            ),
            "每位买家的未付款订单最多可占用该商品 5 件库存，请先支付已有订单"
        );
        assert_eq!(
            refusal(
                Lang::Zh,
                &Refusal::QueryPasswordLocked {
                    until: 0,
                    retry_after_s: 60
                }
            ),
            "查询密码错误次数过多，该订单已暂时锁定，请 60 秒后再试"
        );
    }
}
