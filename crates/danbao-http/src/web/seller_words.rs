//! The words of the seller back office (`/seller`) in zh-CN and English: `of(nav.lang())`.

use super::i18n::Count;
use std::fmt::Display;

use super::i18n::en_count;

super::i18n::catalog! {
    // dashboard
    seller_centre: "卖家后台", "Seller centre";
    overview: "概览", "Overview";
    sales_today: "今日销售额", "Sales today";
    orders_today: "今日订单", "Orders today";
    sales_30_days: "近 30 天销售额", "Sales, last 30 days";
    orders_30_days: "近 30 天订单", "Orders, last 30 days";
    daily_sales: "近 30 天每日销售额", "Daily sales, last 30 days";
    to_deliver: "待发货订单", "Orders to deliver";
    nothing_to_deliver: "没有待发货的订单。", "No orders are waiting to be delivered.";
    to_deliver_note: "超过发货期限未发货的订单将自动全额退款，最紧急的在前。", "An order not delivered by its deadline is refunded in full automatically; the most urgent come first.";
    open_complaints: "处理中的投诉", "Open complaints";
    no_open_complaints: "没有处理中的投诉。", "No open complaints.";
    low_stock_lead: "库存不足：", "Low stock: ";
    low_stock_tail: "。请及时补充卡密。", ". Add card keys soon.";
    list_sep: "、", ", ";
    money_link: "提现、保证金与对账单 →", "Withdrawals, deposit and statement →";
    // balances
    bal_escrow: "担保中（待买家确认）", "In escrow (awaiting the buyer)";
    bal_available: "可提现", "Available to withdraw";
    bal_reserved: "售后保留期", "After-sale reserve";
    bal_frozen: "冻结", "Frozen";
    bal_deposit: "保证金", "Deposit";
    bal_owed: "欠平台", "Owed to the platform";
    // table headings
    th_order: "订单", "Order";
    th_order_no: "订单号", "Order number";
    th_amount: "金额", "Amount";
    th_contact: "联系方式", "Contact";
    th_deliver_by: "发货期限", "Deliver by";
    th_complaint: "投诉", "Complaint";
    th_kind: "类型", "Type";
    th_stage: "阶段", "Stage";
    th_deadline: "期限", "Deadline";
    th_submitted: "提交时间", "Submitted";
    th_product: "商品", "Product";
    th_category: "分类", "Category";
    th_price: "价格", "Price";
    th_delivery: "发货方式", "Delivery";
    th_status: "状态", "Status";
    th_stock: "库存", "Stock";
    th_quantity: "数量", "Qty";
    th_ordered_at: "下单时间", "Ordered";
    th_paid_at: "付款时间", "Paid";
    th_delivered_at: "发货时间", "Delivered";
    th_key_hidden: "卡密（已隐藏）", "Key (hidden)";
    th_imported_at: "导入时间", "Imported";
    th_requested_at: "申请时间", "Requested";
    th_settled_at: "完成时间", "Settled";
    th_time: "时间", "Time";
    th_entry: "事项", "Entry";
    th_account: "账户", "Account";
    view_and_answer: "查看并回应", "View and answer";
    view: "查看", "View";
    order_link: "订单", "order";
    paren_open: "（", " (";
    paren_close: "）", ")";
    // products
    products_and_keys: "商品与卡密", "Products & keys";
    my_products: "我的商品", "My products";
    no_products: "还没有商品，在下方创建第一个。", "No products yet: create your first one below.";
    low_stock: "库存不足", "Low stock";
    create_product: "创建商品", "Create a product";
    create_product_button: "创建商品", "Create product";
    f_title: "标题", "Title";
    f_description: "描述", "Description";
    f_category_hint: "分类（如 game_cards、top_up）", "Category (e.g. game_cards, top_up)";
    f_price: "价格（元）", "Price (yuan)";
    f_price_edit: "价格（元，已下的订单不受影响）", "Price (yuan; orders already placed keep theirs)";
    f_delivery: "发货方式", "Delivery";
    opt_card_key: "卡密（付款后自动发货）", "Card key (delivered automatically on payment)";
    opt_manual: "人工发货（代充等）", "Delivered by you (top-ups and the like)";
    f_manual_fields_hint: "人工发货时买家需填写的信息（每行一项，如 充值账号、区服；卡密商品留空）", "What the buyer fills in for a manual delivery (one per line, e.g. account, server; leave empty for card keys)";
    f_manual_fields: "买家需填写的信息（每行一项）", "What the buyer fills in (one per line)";
    f_listing: "上架状态", "Listing";
    opt_active: "上架（在售）", "Listed (on sale)";
    opt_hidden: "下架", "Hidden";
    save: "保存", "Save";
    back_to_products: "← 商品列表", "← Products";
    edit_product: "编辑商品", "Edit the product";
    import_result: "导入结果：", "Import: ";
    import_keys: "导入卡密", "Import card keys";
    import_keys_note: "每行一个卡密。空行会被跳过，重复的卡密（本次粘贴内或与已有的相同）会被拒绝并列出。", "One key per line. Blank lines are skipped; repeated keys (within this paste, or ones already stocked) are refused and listed.";
    paste_keys: "粘贴卡密", "Paste keys";
    import: "导入", "Import";
    upload_keys: "或上传文本文件（.txt，UTF-8，每行一个）", "Or upload a text file (.txt, UTF-8, one key per line)";
    upload_and_import: "上传并导入", "Upload and import";
    no_keys: "还没有卡密。", "No card keys yet.";
    key_sold: "已售", "Sold";
    key_unsold: "未售", "Unsold";
    remove: "删除", "Remove";
    // orders
    orders: "订单", "Orders";
    all: "全部", "All";
    f_order_or_contact: "订单号或联系方式", "Order number or contact";
    filter: "筛选", "Filter";
    clear: "清除", "Clear";
    no_matching_orders: "没有符合条件的订单。", "No orders match.";
    no_orders: "还没有订单。", "No orders yet.";
    orders_capped: "最多显示最近 200 单，更早的请用筛选查找。", "At most the latest 200 orders are shown; filter to find older ones.";
    back_to_orders: "← 订单列表", "← Orders";
    order_details: "订单信息", "Order details";
    buyer_contact: "买家联系方式", "Buyer's contact";
    registered_buyer: "注册买家（未留联系方式）", "Registered buyer (no contact given)";
    buyer_fields: "买家填写的信息", "What the buyer filled in";
    no_buyer_fields: "此订单没有需要买家填写的信息。", "This order asks the buyer for nothing.";
    delivered_content: "发货内容", "What you delivered";
    deliver: "发货", "Deliver";
    deliver_hint: "写明充值结果或交付内容（如充值单号），买家查看后可确认收货。", "Say what you delivered (a top-up reference, for example); the buyer reads it and confirms receipt.";
    f_delivery_note: "发货说明", "Delivery note";
    f_delivery_file: "附件（可选：充值凭证截图等，PNG、JPEG、GIF、WebP、PDF 或 MP4，最大 10 MB）", "Attachment (optional: a screenshot of the top-up receipt or the like; PNG, JPEG, GIF, WebP, PDF or MP4, up to 10 MB)";
    decline: "拒单", "Decline the order";
    decline_hint: "无法完成时拒单：货款全额退还买家，买家会在订单页看到您写的原因。", "If you cannot fulfil the order, decline it: the buyer is refunded in full and reads your reason on their order page.";
    f_decline_reason: "拒单原因（买家可见）", "Reason (the buyer sees it)";
    decline_button: "拒单并全额退款", "Decline and refund in full";
    // complaints
    complaints: "投诉", "Complaints";
    complaints_note: "处理中的投诉在前，期限最近的最先。在投诉页查看买家的证据与平台的初审意见，并提交您的说明和文件；期限内未回应将按规则判买家胜诉。", "Open complaints come first, the nearest deadline first. On a complaint's page, read the buyer's evidence and the platform's first review, and give your account and files; without an answer by the deadline, the rules decide for the buyer.";
    no_complaints: "没有投诉。", "No complaints.";
    // money
    money: "资金", "Money";
    withdraw: "提现", "Withdraw";
    frozen_no_withdrawals: "店铺冻结期间暂停提现。", "Withdrawals are paused while the shop is frozen.";
    f_amount: "金额（元）", "Amount (yuan)";
    withdraw_button: "申请提现", "Request a withdrawal";
    pay_deposit: "缴纳保证金", "Pay a deposit";
    deposit_note: "从可提现余额转入保证金。买家投诉时，您的资金不足部分先由保证金赔付。", "Moves money from your available balance into your deposit. When a buyer's complaint costs more than your funds cover, the deposit pays first.";
    deposit_button: "转入保证金", "Move to the deposit";
    deposit_required: "上架所需保证金", "Deposit needed to list";
    deposit_held: "当前保证金", "Deposit held";
    deposit_short: "保证金不足：补足前不能上架新商品或重新上架。", "The deposit is short: nothing can be listed or shown again until it is topped up.";
    pay_deposit_online: "在线缴纳（收银台）", "Pay at the cashier";
    release_deposit: "申请退还保证金", "Take the deposit back";
    release_note: "无进行中的订单和投诉满 30 天后，保证金可全额退回可提现余额。", "After 30 days with no open order or complaint, the whole deposit goes back to your available balance.";
    released: "保证金已退回可提现余额。", "The deposit is back in your available balance.";
    withdrawals: "提现记录", "Withdrawals";
    no_withdrawals: "还没有提现。", "No withdrawals yet.";
    statement: "对账单", "Statement";
    from: "从", "From";
    to: "到", "To";
    show: "查看", "Show";
    download_csv: "下载 CSV", "Download CSV";
    no_movements: "此期间没有资金变动。", "No movements in this period.";
    // messages and refusals
    bad_amount: "金额格式不正确：请输入元，最多两位小数", "The amount is not one: enter yuan, with at most two decimals";
    bad_date: "日期格式不正确，应为 YYYY-MM-DD", "The date is not one: write it as YYYY-MM-DD";
    from_after_to: "起始日期不能晚于结束日期", "The start date cannot be after the end date";
    unreadable_form: "上传的表单无法读取", "The uploaded form could not be read";
    key_file_not_text: "卡密文件须为 UTF-8 编码的文本，每行一个", "A key file must be UTF-8 text, one key per line";
    delivered: "已发货，等待买家确认收货", "Delivered: waiting for the buyer to confirm receipt";
    declined: "已拒单，货款将全额退还买家", "Declined: the buyer will be refunded in full";
    product_saved: "商品已保存", "Product saved";
    key_removed: "卡密已删除", "Card key removed";
    key_gone: "该卡密已售出或不存在", "That key is sold or does not exist";
}

impl Words {
    pub(super) fn frozen_notice(&self, standing: impl Display) -> String {
        self.lang.pick(
            format!("店铺状态：{standing}。冻结期间商品不对外展示，新订单与提现暂停，结算款项暂存冻结账户；已付款订单的退款照常进行。"),
            format!("Shop status: {standing}. While the shop is frozen its products are hidden, new orders and withdrawals are paused and settlements are held in the frozen account; refunds of paid orders go ahead as usual."),
        )
    }

    pub(super) fn chart_label(&self, max: impl Display) -> String {
        self.lang.pick(
            format!("近 30 天每日销售额柱状图，最高 ¥{max}"),
            format!("Bar chart of daily sales over the last 30 days, highest ¥{max}"),
        )
    }

    pub(super) fn chart_max(&self, max: impl Display) -> String {
        self.lang.pick(format!("最高 ¥{max}"), format!("Highest ¥{max}"))
    }

    /// One day's bar: "2026-01-02：3 单，¥90.00".
    pub(super) fn chart_bar(&self, day: impl Display, orders: impl Count, amount: impl Display) -> String {
        let n = orders.n();
        self.lang.pick(
            format!("{day}：{n} 单，¥{amount}"),
            format!("{day}: {}, ¥{amount}", en_count(n, "order")),
        )
    }

    pub(super) fn stock_left(&self, n: impl Count) -> String {
        let n = n.n();
        self.lang.pick(format!("（剩 {n}）"), format!(" ({n} left)"))
    }

    pub(super) fn low_stock_notice(&self, n: impl Count) -> String {
        let n = n.n();
        self.lang.pick(
            format!("库存不足：仅剩 {n} 个可售卡密。"),
            format!("Low stock: only {} left.", en_count(n, "unsold key")),
        )
    }

    pub(super) fn imported(&self, n: impl Count) -> String {
        let n = n.n();
        self.lang.pick(
            format!("成功导入 {n} 个；"),
            format!("{} imported;", en_count(n, "key")),
        )
    }

    pub(super) fn duplicates(&self, n: impl Count) -> String {
        let n = n.n();
        self.lang.pick(
            format!("与已有卡密重复而拒绝 {n} 个；"),
            format!("{} refused as already stocked;", en_count(n, "key")),
        )
    }

    /// Lines repeated within the paste; `lines`: their numbers, already listed.
    pub(super) fn repeated(&self, n: impl Count, lines: &str) -> String {
        let n = n.n();
        match (self.lang, n) {
            (super::i18n::Lang::Zh, 0) => format!("本次粘贴内重复而拒绝 {n} 行；"),
            (super::i18n::Lang::Zh, _) => format!("本次粘贴内重复而拒绝 {n} 行（第 {lines} 行）；"),
            (super::i18n::Lang::En, 0) => "0 lines refused as repeated in this paste;".to_string(),
            (super::i18n::Lang::En, 1) => format!("1 line refused as repeated in this paste (line {lines});"),
            (super::i18n::Lang::En, _) => {
                format!("{n} lines refused as repeated in this paste (lines {lines});")
            }
        }
    }

    pub(super) fn blank_lines(&self, n: impl Count) -> String {
        let n = n.n();
        self.lang.pick(
            format!("跳过空行 {n} 行。"),
            format!("{} skipped.", en_count(n, "blank line")),
        )
    }

    pub(super) fn keys_heading(&self, unsold: impl Count, total: impl Count) -> String {
        let (u, t) = (unsold.n(), total.n());
        self.lang.pick(
            format!("卡密（未售 {u}，共 {t}）"),
            format!("Card keys ({u} unsold of {t})"),
        )
    }

    pub(super) fn order_title(&self, short_id: impl Display) -> String {
        self.lang.pick(format!("订单 {short_id}"), format!("Order {short_id}"))
    }

    pub(super) fn amount_detail(&self, amount: impl Display, unit: impl Display, quantity: impl Count) -> String {
        let q = quantity.n();
        self.lang.pick(
            format!("¥{amount}（单价 ¥{unit} × {q}）"),
            format!("¥{amount} (¥{unit} each × {q})"),
        )
    }

    pub(super) fn deliver_before(&self, at: impl Display) -> String {
        self.lang.pick(
            format!("请在 {at} 之前发货，否则订单自动全额退款。"),
            format!(" Deliver before {at}, or the order is refunded in full automatically."),
        )
    }

    /// The deposit formula of the rules in force: base, share of sales (basis points),
    /// window.
    pub(super) fn deposit_rule(&self, base: impl Display, share_bps: i64, days: i64) -> String {
        let percent = match share_bps % 100 {
            0 => (share_bps / 100).to_string(),
            cents => format!("{}.{cents:02}", share_bps / 100)
                .trim_end_matches('0')
                .to_string(),
        };
        self.lang.pick(
            format!("所需保证金 = ¥{base} + 近 {days} 天销售额的 {percent}%（以公示规则为准）。"),
            format!(
                "Deposit needed = ¥{base} + {percent} % of the last {days} days' sales (as the published rules say)."
            ),
        )
    }

    pub(super) fn withdraw_note(&self, min: impl Display) -> String {
        self.lang.pick(
            format!("从可提现余额提到您的收款账户，最低 ¥{min}。"),
            format!("From your available balance to your payout account; at least ¥{min}."),
        )
    }

    pub(super) fn statement_note(&self, from: impl Display, to: impl Display, total: impl Display) -> String {
        self.lang.pick(
            format!("{from} 至 {to}（北京时间）您各账户的每一笔变动；合计 {total} 元。"),
            format!("Every movement in your accounts from {from} to {to} (China time); {total} yuan in all."),
        )
    }

    pub(super) fn deposited(&self, amount: impl Display) -> String {
        self.lang.pick(
            format!("已从可提现余额转入保证金 ¥{amount}"),
            format!("¥{amount} moved from your available balance into your deposit"),
        )
    }

    pub(super) fn withdrawal_requested(&self, amount: impl Display) -> String {
        self.lang.pick(
            format!(
                "提现 ¥{amount} 已提交，到账后状态变为“{}”",
                self.withdrawal_status("confirmed")
            ),
            format!(
                "Withdrawal of ¥{amount} requested; its status becomes \"{}\" when it arrives",
                self.withdrawal_status("confirmed")
            ),
        )
    }

    /// A product's listing status.
    pub(super) fn product_status(&self, status: &str) -> &'static str {
        let (zh, en) = match status {
            "active" => ("在售", "On sale"),
            "hidden" => ("已下架", "Hidden"),
            "suspended" => ("平台已暂停", "Suspended by the platform"),
            _ => ("未知", "Unknown"),
        };
        self.lang.pick(zh, en)
    }

    pub(super) fn withdrawal_status(&self, status: &str) -> &'static str {
        let (zh, en) = match status {
            "requested" => ("处理中", "In progress"),
            "confirmed" => ("已到账", "Paid out"),
            "returned" => ("已退回", "Returned"),
            _ => ("未知", "Unknown"),
        };
        self.lang.pick(zh, en)
    }

    /// One of the seller's ledger accounts.
    pub(super) fn account(&self, account: &str) -> &'static str {
        let (zh, en) = match account {
            "escrow" => ("担保中", "Escrow"),
            "available" => ("可提现", "Available"),
            "reserve" => ("售后保留", "After-sale reserve"),
            "frozen" => ("冻结", "Frozen"),
            "deposit" => ("保证金", "Deposit"),
            "receivable" => ("欠平台", "Owed to the platform"),
            _ => ("其他", "Other"),
        };
        self.lang.pick(zh, en)
    }

    /// What a statement line records.
    pub(super) fn entry_kind(&self, kind: &str) -> &'static str {
        use danbao_domain::ledger::EntryKind as K;
        let (zh, en) = match K::parse(kind) {
            Some(K::Capture) => ("买家付款（托管）", "Buyer's payment (held in escrow)"),
            Some(K::Release) => ("确认收货结算", "Settled on confirmed receipt"),
            Some(K::RefundRequested) => ("退款给买家", "Refund to the buyer"),
            Some(K::RefundConfirmed) => ("退款到账", "Refund paid out"),
            Some(K::UnacceptedPaymentRefund) => ("未受理付款退回", "Unaccepted payment returned"),
            Some(K::ComplaintFreeze) => ("投诉冻结", "Held for a complaint"),
            Some(K::ComplaintUnfreeze) => ("投诉撤回解冻", "Released: complaint withdrawn"),
            Some(K::RulingSettlement) => ("裁决结算", "Settled by a ruling"),
            Some(K::WithdrawalRequested) => ("申请提现", "Withdrawal requested"),
            Some(K::WithdrawalConfirmed) => ("提现到账", "Withdrawal paid out"),
            Some(K::WithdrawalReturned) => ("提现退回", "Withdrawal returned"),
            Some(K::DepositLocked) => ("缴纳保证金", "Deposit paid"),
            Some(K::CompensationFunded) => ("先行赔付金注资", "Compensation fund topped up"),
            Some(K::ReceivableSettled) => ("欠款清偿", "Debt to the platform settled"),
            Some(K::SellerFrozen) => ("店铺冻结暂扣", "Held while the shop is frozen"),
            Some(K::SellerUnfrozen) => ("店铺解冻返还", "Returned when the shop was unfrozen"),
            Some(K::ReserveReleased) => ("售后保留期满", "After-sale reserve ended"),
            Some(K::FastRefund) => ("平台先行赔付", "Refunded in advance by the platform"),
            Some(K::ReceivableRepaid) => ("偿还平台垫付款", "Repaid what the platform had covered"),
            Some(K::DepositReleased) => ("保证金退还", "Deposit returned"),
            Some(K::DepositPaid) => ("在线缴纳保证金", "Deposit paid in at the cashier"),
            None => ("其他", "Other"),
        };
        self.lang.pick(zh, en)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_word_has_both_languages() {
        super::super::i18n::assert_catalog_complete(&super::all_entries());
    }

    #[test]
    fn english_counts_agree_with_their_number() {
        assert_eq!(EN.imported(1), "1 key imported;");
        assert_eq!(EN.imported(2), "2 keys imported;");
        assert_eq!(EN.blank_lines(1), "1 blank line skipped.");
        assert_eq!(EN.chart_bar("2026-01-02", 0, "0.00"), "2026-01-02: 0 orders, ¥0.00");
        assert_eq!(EN.low_stock_notice(1), "Low stock: only 1 unsold key left.");
        assert_eq!(ZH.imported(3), "成功导入 3 个；");
        assert_eq!(ZH.repeated(1, "4"), "本次粘贴内重复而拒绝 1 行（第 4 行）；");
        assert_eq!(
            EN.repeated(2, "4, 7"),
            "2 lines refused as repeated in this paste (lines 4, 7);"
        );
    }

    #[test]
    fn the_deposit_formula_reads_the_rules_figures() {
        assert!(EN
            .deposit_rule("500.00", 500, 30)
            .starts_with("Deposit needed = ¥500.00 + 5 % of the last 30 days' sales"));
        assert!(EN
            .deposit_rule("800.00", 750, 14)
            .contains("¥800.00 + 7.5 % of the last 14 days"));
        assert!(EN.deposit_rule("0.00", 5, 7).contains("+ 0.05 % of"));
    }

    #[test]
    fn the_english_sentences_have_no_chinese() {
        let l = super::super::i18n::is_han;
        for text in [
            EN.frozen_notice("frozen"),
            EN.chart_label("1.00"),
            EN.stock_left(2),
            EN.keys_heading(1, 2),
            EN.amount_detail("2.00", "1.00", 2),
            EN.deliver_before("2026-01-02 10:00"),
            EN.withdraw_note("10.00"),
            EN.deposit_rule("500.00", 500, 30),
            EN.statement_note("2026-01-01", "2026-01-30", "+1.00"),
            EN.deposited("1.00"),
            EN.withdrawal_requested("1.00"),
            EN.entry_kind("capture").to_string(),
            EN.account("escrow").to_string(),
        ] {
            assert!(!text.chars().any(l), "{text}");
        }
    }
}
