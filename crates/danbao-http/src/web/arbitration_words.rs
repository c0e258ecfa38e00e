//! The words of the arbitration desk (`/arbitration`) in zh-CN and English: `of(nav.lang())`.

use super::i18n::Lang;
use std::fmt::Display;

use super::i18n::en_count;

super::i18n::catalog! {
    // the queue
    queue: "待裁决队列", "Cases to rule on";
    desk_title: "仲裁台", "Arbitration desk";
    fig_open: "待处理", "Open";
    fig_mine: "我领取的", "Taken by me";
    fig_unassigned: "未领取", "Not taken";
    fig_urgent: "12 小时内到期", "Due within 12 hours";
    fig_collective: "集体投诉", "Collective complaints";
    view_all: "全部待处理", "All open cases";
    view_mine: "我领取的", "Taken by me";
    view_unassigned: "未领取", "Not taken";
    view_urgent: "即将到期", "Due soon";
    view_collective: "集体投诉", "Collective complaints";
    kind_all: "全部类型", "All types";
    kind_not_delivered: "未发货", "Not delivered";
    kind_not_as_described: "货不对板", "Not as described";
    kind_fraud: "欺诈", "Fraud";
    kind_other: "其他", "Other";
    filter_scope: "范围", "Show";
    filter_kind: "类型", "Type";
    filter: "筛选", "Filter";
    queue_empty: "队列已清空，暂无待处理的投诉。", "The queue is empty: no complaint is waiting.";
    col_deadline: "期限", "Deadline";
    col_complaint: "投诉", "Complaint";
    col_stage: "进度", "Progress";
    col_frozen: "冻结金额", "Frozen";
    col_proposal: "预审建议", "Triage opinion";
    col_holder: "领取", "Taken by";
    no_deadline: "无期限", "No deadline";
    collective_badge: "集体投诉 · ", "Collective · ";
    complained_at: "投诉于", "Complained";
    seller_colon: "卖家：", "Seller: ";
    take_short: "领取", "Take";
    handle: "处理", "Open";
    queue_order_note: "按期限先后排列，最先到期的在前；12 小时内到期的标红。集体投诉的案件领取一件即领取同组全部案件，由同一仲裁员处理。", "Sorted by deadline, the soonest first; those due within 12 hours are marked red. Taking one case of a collective complaint takes the whole group, so one arbitrator handles it.";
    awaiting_review: "待审核", "needs review";
    not_triaged: "尚未预审", "Not triaged yet";
    // who holds a case
    holder_nobody: "未领取", "Not taken";
    holder_me: "我", "Me";
    holder_other: "其他仲裁员", "Another arbitrator";
    // clocks
    meaning_awaiting_seller: "卖家回应期限：逾期未回应，系统将判定全额退款给买家", "The seller's deadline to answer: without an answer by then, the system refunds the buyer in full";
    meaning_awaiting_buyer: "买家补证期限：逾期未补充，系统将判定放款给卖家", "The buyer's deadline for more evidence: without it by then, the system releases the money to the seller";
    meaning_appraisal: "第三方鉴定期限：逾期自动转回审核", "The third-party appraisal's deadline: after it the case goes back to review";
    meaning_under_review: "仲裁时效（规则公示）：逾期未裁决将升级管理员，并在各方页面标明已超时", "The published arbitration time limit: past it the case is escalated to the admins and shown overdue to both parties";
    meaning_other: "处理期限", "Deadline";
    overdue: "已逾期", "Overdue";
    // collective review
    collective_pending: "待复核", "to be reviewed";
    collective_escalated: "复核逾期，已上报管理员", "review overdue, passed to the administrators";
    collective_kept: "已复核：维持冻结", "reviewed: freeze kept";
    collective_lifted: "已复核：解除冻结", "reviewed: freeze lifted";
    collective_banned: "已复核：卖家封禁", "reviewed: seller banned";
    collective_unknown: "未知", "unknown";
    // a case
    back_to_queue: "← 返回队列", "← Back to the queue";
    held_elsewhere: "此案件已由其他仲裁员领取，只能查看，由领取人裁决。", "Another arbitrator has taken this case: you can look, they rule.";
    collective_due_after: "前复核（维持冻结或解冻）。", "(keep the freeze or lift it).";
    complaint_case: "投诉案件", "Complaint";
    complaint_no: "投诉单号", "Complaint no.";
    order: "订单", "Order";
    risk_title: "下单风控评估", "Risk assessment at checkout";
    risk_level: "风险等级", "Level";
    risk_score: "风险分", "Score";
    risk_reasons: "触发原因", "Reasons";
    risk_no_reasons: "无", "None";
    risk_factors: "评估依据", "Figures read";
    risk_confirmed: "买家二次确认", "Buyer's second confirmation";
    risk_not_confirmed: "未确认", "Not confirmed";
    complaint_kind: "投诉类型", "Type";
    stage: "进度", "Progress";
    deadline: "期限", "Deadline";
    frozen_amount: "冻结金额", "Frozen";
    amount_involved: "涉及金额", "Amount";
    complained_time: "投诉时间", "Complained";
    holder: "领取", "Taken by";
    collective: "集体投诉", "Collective complaint";
    rules_applied: "适用规则", "Rules";
    ruling_result: "裁决结果", "Ruling";
    ruling: "裁决", "Ruling";
    ruled_by: "裁决方", "Ruled by";
    reason: "理由", "Reason";
    time: "时间", "Time";
    ruled: "已裁决", "Ruled";
    triage: "预审建议", "Triage opinion";
    proposed_ruling: "建议裁决", "Proposed ruling";
    no_proposal: "无建议，须人工审核", "No proposal: a person must review it";
    decided_now: "（事实清楚，已自动裁决）", " (the facts are clear; ruled automatically)";
    completeness: "证据完整度", "Evidence completeness";
    triage_note: "预审依据平台自己的记录（发货记录、卡密查看记录、双方是否陈述）和规则对证据的要求，并参考双方陈述中的关键说法（高亮处为原话）及截图是否在其他投诉中出现过，仅供参考。", "The triage reads the platform's own records (delivery, key views, whether each party has spoken) against the evidence the rules ask for, with the key phrases of both sides' words (highlighted as written) and whether a screenshot appeared in other complaints; it is advice only.";
    take_case: "领取案件", "Take the case";
    take_note: "领取后由您负责此案，其他仲裁员不能再裁决。", "Once you take it the case is yours; no other arbitrator can rule on it.";
    take_group_note: "同组的集体投诉将一并领取。", " The other cases of its collective complaint are taken with it.";
    take_this: "领取此案", "Take this case";
    preview_title: "结算预览：", "Settlement preview: ";
    preview_to_buyer: "退还买家", "To the buyer";
    preview_to_seller: "，结算给卖家", "; to the seller";
    preview_fee: "，平台服务费", "; platform fee";
    preview_end: "。", ".";
    preview_note: "尚未裁决。核对无误后填写理由、勾选确认并提交。", "Nothing is decided yet. When it is right, write the reason, tick the box and submit.";
    buyer_percent_label: "买家所得比例（%，按比例分配或重新发货时填写）", "The buyer's share (%, for a split or a redelivery)";
    percent_placeholder: "例如 50", "e.g. 50";
    ruling_reason_label: "裁决理由（买卖双方可见，写入证据日志）", "Reason for the ruling (both parties see it; it goes into the evidence log)";
    confirm_ruling: "我已核对证据，裁决提交后立即结算、不可撤销", "I have checked the evidence; the ruling settles at once and cannot be undone";
    preview_button: "预览结算", "Preview the settlement";
    submit_ruling: "提交裁决", "Submit the ruling";
    ruling_full_refund: "全额退款给买家", "Full refund to the buyer";
    ruling_release: "放款给卖家", "Release to the seller";
    ruling_split: "按比例分配（填写买家所得比例）", "Split (enter the buyer's share)";
    ruling_redeliver: "卖家重新发货（可填写退还买家的比例）", "The seller delivers again (optionally refund the buyer a share)";
    appraisal_result: "鉴定结果", "Appraisal result";
    investigate: "补充调查", "Investigate further";
    appraisal_conclusion: "鉴定结论", "Appraisal conclusion";
    step_note_label: "说明（要求买家补充什么、或送交鉴定的内容）", "Note (what the buyer must add, or what goes to appraisal)";
    ask_buyer: "要求买家补充证据", "Ask the buyer for evidence";
    start_appraisal: "送交第三方鉴定", "Send to third-party appraisal";
    finish_appraisal: "鉴定完成，转回审核", "Appraisal done, back to review";
    ask_buyer_note: "买家须在规则规定的期限内补充，逾期未补充将按规则判定放款给卖家。", "The buyer must add it within the rules' deadline; otherwise the rules release the money to the seller.";
    seller: "卖家", "Seller";
    account: "账号", "Account";
    standing: "状态", "Standing";
    frozen_money: "冻结中的款项", "Money frozen";
    frozen_money_note: "含各投诉冻结的订单款", "Includes the orders' money frozen by complaints";
    frozen_money_shop: "与店铺冻结的余额", " and the shop's frozen balance";
    standing_reason: "原因", "Reason";
    review_opinion: "复核意见（维持冻结或解冻的理由）", "Review opinion (why the freeze is kept or lifted)";
    freeze_reason: "紧急冻结原因", "Reason for the emergency freeze";
    keep_freeze: "维持冻结", "Keep the freeze";
    lift_freeze: "解除冻结", "Lift the freeze";
    freeze_seller: "紧急冻结卖家", "Freeze the seller now";
    frozen_note: "维持冻结：卖家继续冻结，理由记入记录。解除冻结：商品恢复上架，结算与提现恢复。", "Keep the freeze: the seller stays frozen and the reason is recorded. Lift the freeze: the products are listed again, settlements and withdrawals resume.";
    freeze_note: "冻结后卖家全部商品下架，新订单与提现暂停，担保款与可提现余额冻结；给买家的退款不受影响。", "A freeze delists all the seller's products, stops new orders and withdrawals, and freezes the escrowed money and the available balance; refunds to buyers go on.";
    review_also_collective: "此决定同时完成集体投诉的复核。", " This decision also completes the collective complaint's review.";
    ban_is_admins: "封禁须由管理员决定。", " A ban is for an administrator to decide.";
    col_buyer: "买家", "Buyer";
    col_seller: "卖家", "Seller";
    col_arbitrator: "仲裁记录", "Arbitration notes";
    buyer_no_evidence: "买家尚未提交证据。", "The buyer has not submitted evidence yet.";
    seller_no_evidence: "卖家尚未提交证据。", "The seller has not submitted evidence yet.";
    download_file: "下载文件", "Download the file";
    unknown_media: "未知类型", "unknown type";
    order_timeline: "订单时间线（证据日志校验）", "The order's timeline (checked against the evidence log)";
    timeline_intact: "完整：每一条记录都在证据日志中，未被改动，前后相连。", "Intact: every record is in the evidence log, unchanged and in sequence.";
    timeline_broken: "已损坏：以下标记的记录与证据日志不符，请勿仅凭这些记录裁决，并上报管理员。", "Broken: the records marked below do not match the evidence log. Do not rule on them alone, and tell an administrator.";
    verified: "已校验", "Verified";
    receipt: "回执", "Receipt";
    not_verified: "未通过校验", "Failed the check";
    colon: "：", ": ";
    key_view_note: "“买家查看了发货内容”即卡密查看记录：平台在买家每次查看时记录，作为交付证据。", "\"The buyer viewed the delivery\" is the key-view record: the platform records each time the buyer looks, as evidence of delivery.";
    case_log: "处理记录", "Case history";
    no_records: "暂无记录。", "Nothing yet.";
    // refusals
    err_choose_step: "请选择要进行的操作", "Choose what to do";
    err_percent_required: "按比例分配须填写买家所得比例", "A split needs the buyer's share";
    err_percent_range: "比例须为 0 到 100 之间的数，最多两位小数", "The share must be a number from 0 to 100, with at most two decimals";
    err_choose_ruling: "请选择裁决结果", "Choose a ruling";
    err_confirm_ruling: "裁决一经提交立即执行且不可撤销，请勾选确认后再提交", "A ruling is carried out at once and cannot be undone: tick the confirmation, then submit";
}

impl Words {
    /// Time left on a clock, or how late it is.
    pub(super) fn remaining(&self, left_ms: i64) -> String {
        const HOUR_MS: i64 = 3_600_000;
        if left_ms <= 0 {
            return self.overdue.to_string();
        }
        let hours = left_ms / HOUR_MS;
        let minutes = (left_ms % HOUR_MS) / 60_000;
        match (hours, self.lang) {
            (0, Lang::Zh) => format!("剩余 {minutes} 分钟"),
            (0, Lang::En) => format!("{} left", en_count(minutes, "minute")),
            (h, Lang::Zh) if h < 48 => format!("剩余 {h} 小时 {minutes} 分"),
            (h, Lang::En) if h < 48 => format!("{} {} left", en_count(h, "hour"), en_count(minutes, "minute")),
            (h, Lang::Zh) => format!("剩余 {} 天 {} 小时", h / 24, h % 24),
            (h, Lang::En) => format!("{} {} left", en_count(h / 24, "day"), en_count(h % 24, "hour")),
        }
    }

    /// A file's size.
    pub(super) fn size(&self, bytes: i64) -> String {
        match bytes {
            b if b < 1024 => self.lang.pick(format!("{b} 字节"), en_count(b, "byte")),
            b if b < 1024 * 1024 => format!("{} KB", b / 1024),
            b => format!("{}.{} MB", b / (1024 * 1024), (b % (1024 * 1024)) * 10 / (1024 * 1024)),
        }
    }

    /// An evidence file's line: its type, size and hash.
    pub(super) fn file_note(&self, media: &str, size: &str, sha: &str) -> String {
        self.lang.pick(
            format!("{media}，{size}，sha256 {sha}"),
            format!("{media}, {size}, sha256 {sha}"),
        )
    }

    /// The seller's record in a queue row.
    pub(super) fn seller_history(&self, h: danbao_app::backoffice::SellerHistory) -> String {
        match h.complaint_rate_bps() {
            Some(bps) => self.lang.pick(
                format!(
                    "投诉率 {}.{:02}%（{} 投诉 / {} 单），全额退款败诉 {}",
                    bps / 100,
                    bps % 100,
                    h.complaints,
                    h.paid_orders,
                    h.lost
                ),
                format!(
                    "complaint rate {}.{:02}% ({} / {}), lost outright {}",
                    bps / 100,
                    bps % 100,
                    en_count(h.complaints, "complaint"),
                    en_count(h.paid_orders, "order"),
                    h.lost
                ),
            ),
            None => self.lang.pick(
                format!("暂无成交；投诉 {}", h.complaints),
                format!("no sales yet; {}", en_count(h.complaints, "complaint")),
            ),
        }
    }

    /// The triage's opinion in a queue row.
    pub(super) fn proposal_cell(&self, ruling: &str, completeness_pct: i64) -> String {
        self.lang.pick(
            format!("{ruling}（证据 {completeness_pct}%）"),
            format!("{ruling} (evidence {completeness_pct}%)"),
        )
    }

    /// The filter left every case out.
    pub(super) fn none_match(&self, hidden: impl super::i18n::Count) -> String {
        let n = hidden.n();
        self.lang.pick(
            format!("没有符合条件的案件（另有 {n} 件未显示）。"),
            format!("No case matches ({} not shown).", en_count(n, "other case")),
        )
    }

    pub(super) fn hidden_note(&self, hidden: impl super::i18n::Count) -> String {
        let n = hidden.n();
        self.lang.pick(
            format!("另有 {n} 件不符合筛选条件，未显示。"),
            format!("{} not matching the filter not shown.", en_count(n, "more case")),
        )
    }

    /// The start of the collective complaint's warning; its due time follows.
    pub(super) fn collective_warn(&self, people: impl super::i18n::Count, amount: impl Display) -> String {
        let n = people.n();
        self.lang.pick(
            format!("集体投诉：{n} 位买家、涉及 ¥{amount}，卖家已被自动冻结，须在"),
            format!(
                "Collective complaint: {}, ¥{amount} in all. The seller was frozen automatically and must be reviewed by",
                en_count(n, "buyer")
            ),
        )
    }

    pub(super) fn buyers_amount(&self, people: impl super::i18n::Count, amount: impl Display) -> String {
        let n = people.n();
        self.lang.pick(
            format!("{n} 位买家，涉及 ¥{amount}"),
            format!("{}, ¥{amount} in all", en_count(n, "buyer")),
        )
    }

    pub(super) fn case_title(&self, id: impl Display) -> String {
        self.lang.pick(format!("案件 {id}"), format!("Case {id}"))
    }

    pub(super) fn evidence_heading(&self, n: impl super::i18n::Count) -> String {
        let n = n.n();
        self.lang
            .pick(format!("双方证据（{n}）"), format!("The parties' evidence ({n})"))
    }

    pub(super) fn screenshot_by(&self, party: impl Display) -> String {
        self.lang
            .pick(format!("{party}提交的截图"), format!("Screenshot ({party})"))
    }
}

#[cfg(test)]
mod tests {
    use super::{EN, ZH};

    #[test]
    fn every_word_has_both_languages() {
        super::super::i18n::assert_catalog_complete(&super::all_entries());
    }

    #[test]
    fn clocks_read_plainly_in_both() {
        const H: i64 = 3_600_000;
        assert_eq!(ZH.remaining(-1), "已逾期");
        assert_eq!(ZH.remaining(30 * 60_000), "剩余 30 分钟");
        assert_eq!(ZH.remaining(5 * H + 60_000), "剩余 5 小时 1 分");
        assert_eq!(ZH.remaining(72 * H), "剩余 3 天 0 小时");
        assert_eq!(EN.remaining(-1), "Overdue");
        assert_eq!(EN.remaining(60_000), "1 minute left");
        assert_eq!(EN.remaining(5 * H + 60_000), "5 hours 1 minute left");
        assert_eq!(EN.remaining(73 * H), "3 days 1 hour left");
        assert_eq!(ZH.size(20), "20 字节");
        assert_eq!(EN.size(1), "1 byte");
        assert_eq!(EN.size(3 * 1024 * 1024 / 2), "1.5 MB");
        assert_eq!(EN.hidden_note(2), "2 more cases not matching the filter not shown.");
    }
}
