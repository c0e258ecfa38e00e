//! The pages' languages: zh-CN (the default) and English, chosen per browser — a
//! `danbao_lang` cookie set by the switch in the header, else the browser's
//! `Accept-Language` — and the catalog of the pages' own words in both. Every entry of
//! `catalog!` names its zh-CN and English text together, so a word cannot exist in one
//! language and not the other (the compiler sees to it); sentences with numbers in them
//! are `Words` methods with both texts side by side. Labels of the use cases' codes and
//! refusals are in `labels`, built the same way.

use super::forms;
use axum::http::{header, HeaderMap};
use std::fmt::Display;

/// The cookie the language switch sets.
pub(super) const LANG_COOKIE: &str = "danbao_lang";
/// A year: the choice is kept until changed.
pub(super) const LANG_COOKIE_MAX_AGE_S: i64 = 365 * 24 * 3600;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Lang {
    Zh,
    En,
}

impl Lang {
    /// The text for this language out of a pair.
    pub(super) fn pick<T>(self, zh: T, en: T) -> T {
        match self {
            Lang::Zh => zh,
            Lang::En => en,
        }
    }

    pub(super) fn code(self) -> &'static str {
        self.pick("zh", "en")
    }

    pub(super) fn from_code(code: &str) -> Option<Lang> {
        match code {
            "zh" => Some(Lang::Zh),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    pub(super) fn words(self) -> &'static Words {
        self.pick(&ZH, &EN)
    }
}

/// The language of a page request: the switch's cookie, else the first language of
/// `Accept-Language` (by its q-values) that we have, else zh-CN.
pub(super) fn negotiate(headers: &HeaderMap) -> Lang {
    // Not `forms::cookie`: that one reads only the secrets' shape, and "en" is none.
    let chosen =
        forms::cookie_pairs(headers).find_map(|(k, v)| (k == LANG_COOKIE).then(|| Lang::from_code(v)).flatten());
    if let Some(lang) = chosen {
        return lang;
    }
    headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .and_then(from_accept_language)
        .unwrap_or(Lang::Zh)
}

/// A language asked for in the address, `?lang=en` (a link that opens a page in a
/// language); it outranks the cookie and is remembered in it.
pub(super) fn asked_in_query(query: Option<&str>) -> Option<Lang> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query?).ok()?;
    pairs
        .iter()
        .find(|(k, _)| k == "lang")
        .and_then(|(_, v)| Lang::from_code(v))
}

/// The address without its `lang` parameter: where the switch goes back to, so that the
/// switch is not overruled by the address it returns to.
pub(super) fn without_lang_param(path: &str, query: Option<&str>) -> String {
    let kept: Vec<(String, String)> = query
        .and_then(|q| serde_urlencoded::from_str::<Vec<(String, String)>>(q).ok())
        .unwrap_or_default()
        .into_iter()
        .filter(|(k, _)| k != "lang")
        .collect();
    match serde_urlencoded::to_string(&kept) {
        Ok(q) if !q.is_empty() => format!("{path}?{q}"),
        _ => path.to_string(),
    }
}

/// `zh-CN,zh;q=0.9,en;q=0.8` → zh; `en-US,en;q=0.9` → en; `fr, en;q=0.5` → en.
fn from_accept_language(value: &str) -> Option<Lang> {
    let mut ranked: Vec<(u16, usize, Lang)> = Vec::new();
    // A header is short; a hostile one is cut, not parsed at length.
    for (i, part) in value.split(',').take(32).enumerate() {
        let mut pieces = part.split(';');
        let tag = pieces.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = pieces
            .find_map(|p| p.trim().strip_prefix("q=").map(str::to_string))
            .map_or(Some(1000), |q| parse_q(&q));
        let Some(q) = q.filter(|q| *q > 0) else { continue };
        let primary = tag.split('-').next().unwrap_or("");
        if let Some(lang) = Lang::from_code(primary) {
            ranked.push((q, i, lang));
        }
    }
    // Highest q first; among equals, the order the browser sent.
    ranked.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    ranked.first().map(|r| r.2)
}

/// A q-value (`0.8`, `1`, `0.125`) in thousandths; none if it is not one.
fn parse_q(q: &str) -> Option<u16> {
    let (whole, frac) = q.split_once('.').unwrap_or((q, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let whole: u16 = match whole {
        "0" => 0,
        "1" => 1,
        _ => return None,
    };
    let frac: u16 = format!("{frac:0<3}").parse().ok()?;
    let q = whole * 1000 + frac;
    (q <= 1000).then_some(q)
}

/// What a page knows of its viewer beyond the request: the words in their language, the
/// switch to the other language (back to this page), and who is logged in.
#[derive(Clone)]
pub(super) struct Ui {
    words: &'static Words,
    /// The language switch's address: `/lang/en?back=/orders/…`.
    pub(super) switch_href: String,
    /// The logged-in account holder's name, shown in the header.
    pub(super) who: Option<String>,
}

impl std::ops::Deref for Ui {
    type Target = Words;

    fn deref(&self) -> &Words {
        self.words
    }
}

impl Ui {
    /// `back`: the page the switch returns to.
    pub(super) fn new(lang: Lang, back: &str, who: Option<String>) -> Ui {
        let other = lang.pick(Lang::En, Lang::Zh);
        let back = serde_urlencoded::to_string([("back", back)]).unwrap_or_default();
        Ui {
            words: lang.words(),
            switch_href: format!("/lang/{}?{back}", other.code()),
            who,
        }
    }

    pub(super) fn lang(&self) -> Lang {
        self.words.lang
    }
}

/// Where the language switch may send the browser back to: a path on this site only
/// (not `//elsewhere`, no header injection), else the storefront.
pub(super) fn safe_back(back: &str) -> &str {
    let local = back.starts_with('/')
        && !back.starts_with("//")
        && !back.starts_with("/\\")
        && back.len() <= 512
        && back.bytes().all(|b| b.is_ascii_graphic());
    if local {
        back
    } else {
        "/"
    }
}

/// The page a language switch returns to from a page made by a form's POST (a refused
/// purchase, a lookup): the page the form is on, which a GET can open.
pub(super) fn page_of_post(path: &str) -> &str {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match segments.as_slice() {
        [kind @ ("products" | "orders" | "complaints"), id, _action] => {
            let len = 1 + kind.len() + 1 + id.len();
            &path[..len]
        }
        _ => path,
    }
}

/// A number a template hands to a sentence, however many references deep askama
/// passes it.
pub(super) trait Count {
    fn n(&self) -> i64;
}

impl Count for i64 {
    fn n(&self) -> i64 {
        *self
    }
}

impl<T: Count + ?Sized> Count for &T {
    fn n(&self) -> i64 {
        (**self).n()
    }
}

/// A catalog of words in both languages, as `Words`, `ZH` and `EN` of the module it is
/// used in (the buyer pages' here; each console has its own module, `seller_words`, …,
/// whose `of(lang)` gives its words).
macro_rules! catalog {
    ($($key:ident: $zh:literal, $en:literal;)*) => {
        /// The pages' own words in one language.
        pub(super) struct Words {
            pub(super) lang: super::i18n::Lang,
            $(pub(super) $key: &'static str,)*
        }
        pub(super) static ZH: Words = Words { lang: super::i18n::Lang::Zh, $($key: $zh,)* };
        pub(super) static EN: Words = Words { lang: super::i18n::Lang::En, $($key: $en,)* };
        /// The words in a language.
        #[allow(dead_code)] // the buyer pages' catalog is reached through `Lang::words`
        pub(super) fn of(lang: super::i18n::Lang) -> &'static Words {
            lang.pick(&ZH, &EN)
        }
        #[cfg(test)]
        pub(super) fn all_entries() -> Vec<(&'static str, &'static str, &'static str)> {
            vec![$((stringify!($key), $zh, $en),)*]
        }
    };
}
pub(super) use catalog;

catalog! {
    html_lang: "zh-CN", "en";
    brand: "担保 Danbao", "Danbao Escrow";
    switch_label: "English", "中文";
    switch_lang: "en", "zh-CN";
    nav_products: "商品", "Products";
    nav_lookup: "查单", "Find my order";
    nav_my_orders: "我的订单", "My orders";
    nav_login: "登录", "Log in";
    nav_account: "我的账户", "My account";
    nav_rules: "规则公示", "Rules";
    footer_escrow: "资金由平台担保托管，买家确认收货后才结算给卖家。", "The platform holds your money in escrow; the seller is paid only after you confirm receipt.";
    // storefront
    search_products: "搜索商品", "Search products";
    search_placeholder: "如：王者荣耀 点券", "e.g. Honor of Kings coupons";
    search: "搜索", "Search";
    clear_search: "清除搜索", "Clear search";
    categories: "商品分类", "Categories";
    all_categories: "全部", "All";
    other_categories: "其他分类", "Other categories";
    no_products: "暂无在售商品。", "Nothing is on sale yet.";
    no_products_found: "没有找到符合条件的商品。", "No products match.";
    sold_out: "已售罄", "Sold out";
    first_page: "第一页", "First page";
    next_page: "下一页", "Next page";
    // product page and checkout
    price: "价格", "Price";
    delivery_kind: "发货方式", "Delivery";
    stock: "库存", "Stock";
    category: "分类", "Category";
    seller_record: "卖家信誉", "The seller's record";
    time_on_platform: "入驻时长", "On the platform";
    deposit: "保证金", "Deposit";
    deposit_pays_buyers: "用于赔付买家", "Pays buyers if the seller fails them";
    no_deposit: "未缴纳保证金", "No deposit paid";
    complaint_rate: "投诉率", "Complaint rate";
    completed_orders: "已完成订单", "Completed orders";
    buy: "购买", "Buy";
    escrow_note: "担保交易：您支付的款项由平台托管，确认收货（或到期自动确认）后才会结算给卖家；卖家未按时发货将自动全额退款。", "Escrow: the platform holds what you pay and settles it to the seller only after you confirm receipt (or it is confirmed automatically at the deadline); if the seller does not deliver in time, you are refunded in full automatically.";
    quantity: "购买数量", "Quantity";
    contact_with_hint: "联系方式（手机号 / 邮箱 / QQ）", "Contact (phone / email / QQ)";
    query_password_with_hint: "查单密码（至少 8 位，用于查询订单和查看卡密）", "Order password (at least 8 characters; to find the order and see the key)";
    payment_method: "支付方式", "Payment method";
    no_payment_methods: "平台暂未开通支付方式，暂时无法购买。", "No payment method is open yet, so nothing can be bought for now.";
    rules_apply_before: "本订单将按", "This order will be handled under ";
    rules_apply_after: "处理（付款期限、发货与收货期限、投诉与服务费）。", " (payment window, delivery and receipt deadlines, complaints and fees).";
    buy_now: "立即购买", "Buy now";
    out_of_stock: "暂时缺货", "Out of stock";
    // order page
    order: "订单", "Order";
    delivered_goods: "发货内容", "Your delivery";
    nothing_delivered: "暂无发货内容。", "Nothing delivered yet.";
    copy: "复制", "Copy";
    copied: "已复制", "Copied";
    download: "下载", "Download";
    reveal_recorded: "仅您可见。每次打开本页查看发货内容都会记录为交付证据。", "Only you can see this. Each time this page shows the delivery, the view is recorded as evidence of delivery.";
    order_number: "订单号", "Order number";
    status: "状态", "Status";
    amount: "金额", "Amount";
    quantity_short: "数量", "Quantity";
    product: "商品", "Product";
    view_product: "查看商品", "View product";
    system_id: "系统编号", "System id";
    note_number_before: "请记下订单号 ", "Note the order number ";
    note_number_middle: "。离开收银台后，可在「", ". If you leave the cashier, ";
    note_number_after: "」凭下单时的联系方式和查单密码找回本订单。", " finds this order again with the contact and order password you gave.";
    pay_now: "去支付", "Pay now";
    show_key: "查看卡密", "Show the key";
    confirm_receipt: "确认收货", "Confirm receipt";
    confirm_note: "确认收货后，托管的款项将结算给卖家。请先查看并核对发货内容；如有问题请勿确认。", "Confirming releases the money held in escrow to the seller. Check the delivery first; do not confirm if something is wrong.";
    pay_before_note: "请在支付截止时间前完成支付，逾期订单将自动关闭。", "Pay before the deadline; an unpaid order closes by itself.";
    // risk control at checkout (SPEC §8)
    risk_title: "交易风险提示", "Risk warning";
    risk_step_up_ahead: "下单后需再次确认风险提示，才能打开收银台。", "After you order, you will be asked to confirm these warnings once more before the cashier opens.";
    risk_step_up_intro: "平台风控发现这笔订单存在以下风险。请仔细阅读，确认无误后再付款；如有疑问，请不要付款，订单将自动关闭。", "Risk control found the risks below in this order. Read them carefully and pay only if you are sure; if in doubt, do not pay and the order closes by itself.";
    risk_confirm_button: "我已了解风险，继续付款", "I understand the risks, continue to pay";
    risk_warn_intro: "请留意以下提示：", "Please note:";
    scan_title: "微信扫码支付", "Pay with WeChat";
    scan_hint: "打开微信，点「扫一扫」扫描下方二维码完成支付。", "Open WeChat, tap Scan and scan the code below to pay.";
    scan_amount: "应付金额", "Amount due";
    scan_order: "订单号", "Order number";
    scan_pay_by: "请在此时间前支付", "Pay before";
    scan_done: "已支付？查看订单", "Paid? See the order";
    scan_demo: "演示：在沙箱收银台中打开此二维码", "Demo: open this code at the sandbox's cashier";
    refunds: "退款", "Refunds";
    reason: "原因", "Reason";
    requested_at: "申请时间", "Requested";
    refunded_at: "到账时间", "Refunded";
    complaints: "投诉", "Complaints";
    complaint: "投诉", "Complaint";
    complaint_kind: "投诉类型", "Complaint type";
    progress: "进度", "Progress";
    complained_at: "投诉时间", "Opened";
    view_complaint: "查看投诉", "View complaint";
    complain: "我要投诉", "Complain";
    problem_description: "问题描述", "What went wrong";
    complaint_placeholder: "请写明遇到的问题，例如：卡密提示已被使用", "Say what went wrong, e.g. the key says it was already used";
    submit_complaint: "提交投诉", "Submit complaint";
    complaint_freezes: "投诉后，该订单的款项将被冻结，直至裁决。", "Once you complain, the order's money is frozen until a ruling.";
    order_log: "交易日志", "Order history";
    no_records: "暂无记录。", "Nothing yet.";
    view_proof: "查看存证", "View the proof";
    log_is_evidence: "每一条日志都写入不可篡改的证据日志，可离线验证。", "Every entry is written to a tamper-evident log that can be verified offline.";
    remembered_before: "本浏览器已记住此订单。换用其他设备或浏览器时，请通过", "This browser remembers the order. On another device or browser, use ";
    remembered_after: "（联系方式 + 查单密码）找回。", " (contact + order password) to find it.";
    ordered_at: "下单时间", "Ordered";
    // the order's times
    time_ordered: "下单时间", "Ordered";
    time_pay_by: "支付截止", "Pay by";
    time_paid: "付款时间", "Paid";
    time_deliver_by: "发货截止", "Delivery due by";
    time_delivered: "发货时间", "Delivered";
    time_auto_confirm: "自动确认收货", "Receipt confirmed automatically at";
    time_completed: "完成时间", "Completed";
    // delivered items
    item_card_key: "卡密", "Card key";
    item_note: "发货说明", "Delivery note";
    item_file: "发货文件", "Delivery file";
    item_other: "内容", "Content";
    // 查单 and my orders
    orders_found: "找到的订单", "Orders found";
    found_remembered: "这些订单已记在本浏览器中，之后可从页首「我的订单」直接打开。", "This browser now remembers these orders; open them later from \"My orders\" at the top.";
    orders_in_browser: "本浏览器中的订单", "Orders in this browser";
    no_orders_in_browser: "本浏览器中还没有订单。在其他设备或浏览器下的单，请在下面凭联系方式和查单密码查询。", "This browser holds no orders yet. For orders placed on another device or browser, search below with your contact and order password.";
    find_orders: "查询订单", "Find orders";
    contact: "联系方式", "Contact";
    query_password: "查单密码", "Order password";
    order_number_optional: "订单号（可不填）", "Order number (optional)";
    order_number_example: "如 DB20261130-7K3Q9", "e.g. DB20261130-7K3Q9";
    lookup_hint: "填写下单时的联系方式和查单密码，即可列出您的订单（大小写和空格不影响）；填写订单号则只查这一单。", "Your contact and order password list your orders (case and spaces do not matter); with an order number, only that order.";
    lookup_nothing: "订单不存在或密码错误", "No such order, or a wrong password";
    // login and account
    username: "用户名", "Username";
    password: "密码", "Password";
    login_hint_before: "卖家和注册买家登录后可查看自己的订单与投诉。游客下单请使用", "Sellers and registered buyers log in to see their orders and complaints. Bought as a guest? Use ";
    login_hint_after: "。", ".";
    my_account: "我的账户", "My account";
    role: "身份", "Role";
    log_out: "退出登录", "Log out";
    orders_you_sold: "您卖出的订单。", "Orders you sold.";
    orders_you_bought: "您买到的订单。", "Orders you bought.";
    no_orders: "暂无订单。", "No orders yet.";
    // complaint page
    complaint_details: "投诉详情", "Complaint";
    complaint_number: "投诉单号", "Complaint number";
    deadline: "处理期限", "Deadline";
    overdue: "已超时，已升级管理员", "Overdue: escalated to the admins";
    escalate_note: "卖家已超过平台规定的时间仍未发货。您可以一键投诉“未发货”，款项立即冻结；卖家也已收到催发货提醒。", "The seller has not delivered within the time the rules allow. One click opens a “not delivered” complaint and freezes the money; the seller has been reminded too.";
    escalate_button: "一键投诉：未发货", "Complain: not delivered";
    ruling_result: "裁决结果", "Ruling";
    ruling: "裁决", "Ruling";
    ruled_by: "裁决方", "Ruled by";
    ruling_reason: "裁决理由", "Grounds";
    ruled_at: "裁决时间", "Ruled";
    triage_opinion: "平台预审意见", "The platform's first assessment";
    suggested_ruling: "建议裁决", "Suggested ruling";
    no_suggestion: "暂无建议，由仲裁员审核", "None yet; an arbitrator will review";
    decided_now: "（事实清楚，已自动裁决）", " (the facts are clear; ruled automatically)";
    evidence_completeness: "证据完整度", "Evidence complete";
    triage_note: "预审根据平台自己的记录（发货记录、卡密查看记录、双方证据）及双方陈述中的关键说法（高亮处为原话）给出，仅供参考，最终以裁决为准。", "The assessment comes from the platform's own records (deliveries, key views, both sides' evidence) and the key phrases in what both sides wrote (highlighted as written); it is a guide only, the ruling decides.";
    evidence: "证据", "Evidence";
    no_evidence: "暂无证据。", "No evidence yet.";
    download_file: "下载文件", "Download file";
    evidence_kind: "证据类型", "Evidence type";
    content: "内容", "Content";
    add_evidence: "补充证据", "Add evidence";
    upload_label: "上传截图或文件（PNG、JPEG、GIF、WebP、PDF 或 MP4，最大 10 MB）", "Upload a screenshot or file (PNG, JPEG, GIF, WebP, PDF or MP4, up to 10 MB)";
    upload_screenshot: "上传截图", "Upload";
    evidence_is_final: "证据一经提交即写入不可篡改的证据日志，不能修改或删除。", "Evidence goes into the tamper-evident log when submitted; it cannot be changed or removed.";
    seller_answer: "卖家回应", "The seller's answer";
    answer_text: "回应内容", "Answer";
    answer_placeholder: "请说明发货情况，例如：卡密已于付款后自动发放，买家已查看", "Say how the order was delivered, e.g. the key was sent on payment and the buyer viewed it";
    submit_answer: "提交回应", "Submit answer";
    answer_note: "回应一经提交即写入不可篡改的证据日志，投诉将转入平台审核。", "The answer goes into the tamper-evident log when submitted, and the complaint moves to the platform's review.";
    withdraw_heading: "撤诉", "Withdraw";
    withdraw_note: "问题已解决？撤诉后，冻结的款项将退回原处，订单恢复到投诉前的状态并继续计时。", "Sorted out? Withdrawing unfreezes the money and the order carries on where it was before the complaint.";
    withdraw: "撤回投诉", "Withdraw the complaint";
    withdraw_warning: "确定撤回吗？撤回后本投诉结束，不能恢复；如需再投诉，须在售后期内重新提交。", "Withdraw for good? The complaint ends and cannot be reopened; to complain again, open a new one within the after-sales period.";
    confirm_withdraw: "确认撤回投诉", "Yes, withdraw it";
    complaint_log: "处理记录", "History";
    evidence_description: "问题描述", "Description";
    evidence_screenshot_note: "截图说明", "Note on a screenshot";
    amount_involved: "涉及金额", "Amount involved";
    amount_frozen: "冻结金额", "Amount frozen";
    money_withdrawn_seller: "买家已撤诉：冻结的款项已退回原处，订单恢复到投诉前的状态。", "The buyer withdrew: the frozen money went back and the order resumed where it was.";
    money_withdrawn_buyer: "您已撤诉：冻结的款项已退回原处，订单恢复到投诉前的状态。", "You withdrew: the frozen money went back and the order resumed where it was.";
    money_resolved_seller: "已按裁决结算：结算给您的部分计入您的账户余额。", "Settled as ruled: your part is in your balance.";
    money_resolved_buyer: "已按裁决结算：退给您的部分将原路退回。", "Settled as ruled: your part is refunded the way you paid.";
    money_frozen: "投诉处理期间，该订单的款项由平台冻结，直至裁决。", "While the complaint is open, the platform holds the order's money frozen until a ruling.";
    ruled: "已裁决", "Ruled";
    unknown_media: "未知类型", "unknown type";
    choose_complaint_kind: "请选择投诉类型", "Please choose a complaint type";
    choose_evidence_kind: "请选择证据类型", "Please choose an evidence type";
    // rules page
    rules_in_force: "当前生效：", "In force: ";
    rules_versions_note: "。每笔订单按下单时生效的规则版本处理，规则的任何改动都以新版本发布，已发布的版本不会被修改。", ". Each order is handled under the version in force when it was placed; every change is published as a new version, and a published version is never altered.";
    content_hash: "内容哈希（SHA-256）：", "Content hash (SHA-256): ";
    rules_orders_heading: "付款、发货与收货", "Payment, delivery and receipt";
    rules_payment_window: "付款期限", "Payment window";
    rules_payment_window_before: "下单后 ", "An order not paid within ";
    rules_payment_window_after: "内未付款，订单自动关闭，库存释放。", " closes by itself and its stock is released.";
    rules_delivery_deadline: "人工发货期限", "Manual delivery deadline";
    rules_acceptance: "确认收货", "Confirming receipt";
    rules_escrow: "资金托管", "Escrow";
    rules_escrow_text: "买家付款由平台托管；确认收货后才结算给卖家，且结算后的款项在售后期内不可提现。", "The platform holds the buyer's payment; the seller is paid after receipt is confirmed, and cannot withdraw it during the after-sales period.";
    rules_max_quantity: "单笔数量", "Items per order";
    rules_recovery: "补单", "Lost notifications";
    rules_fees_heading: "平台服务费", "Platform fees";
    rules_fees_note: "结算给卖家时按成交金额收取服务费，买家无需另付。", "The fee is taken from the sale when it is settled to the seller; the buyer pays nothing extra.";
    fee_rate: "服务费率", "Fee";
    rules_complaint_window: "可投诉期限", "When you can complain";
    rules_evidence_needed: "需提交的材料", "Evidence to give";
    rules_no_evidence_needed: "无需额外材料", "Nothing more";
    rules_frozen_during: "投诉期间订单款项冻结，不会结算给卖家。", "While a complaint is open, the order's money is frozen and not settled to the seller.";
    rules_seller_answer_before: "卖家须在 ", "The seller must answer within ";
    rules_seller_answer_after: "内答复，逾期未答复按买家诉求处理。", "; a seller who does not is ruled against.";
    rules_limits_heading: "防囤货与查单安全", "Hoarding limits and order-password safety";
    // errors
    err_not_found_title: "未找到", "Not found";
    err_busy_title: "系统繁忙", "Busy";
    err_failed_title: "无法完成操作", "That did not work";
    err_rate_limited_title: "请求过于频繁", "Too many requests";
    err_order_not_found: "订单不存在", "Order not found";
    err_complaint_not_found: "投诉不存在", "Complaint not found";
    err_page_not_found: "您要找的页面不存在", "There is no such page";
    err_product_not_found: "商品不存在或已下架", "No such product, or it is no longer on sale";
    err_thing_not_found: "您要找的内容不存在", "What you are looking for does not exist";
    err_file_not_found: "文件不存在", "No such file";
    err_login_first: "请先登录后再进行此操作", "Please log in first";
    err_forbidden: "您无权进行此操作", "You may not do that";
    err_provider_down: "支付通道暂时不可用，请稍后重试", "The payment provider is unavailable; please try again shortly";
    err_busy: "系统繁忙，请稍后重试", "Something went wrong on our side; please try again shortly";
    err_forged_form: "表单已失效或来源不明，操作未执行。请返回上一页刷新后重新提交。", "This form has expired or did not come from this site, so nothing was done. Go back, reload the page and try again.";
    err_cross_site: "来自其他网站的请求已被拒绝", "A request from another site was refused";
    err_too_large: "提交的内容过长", "What was sent is too long";
    err_unreadable_upload: "上传的表单无法读取", "The upload could not be read";
    err_quantity: "请填写正整数", "enter a whole number, 1 or more";
    err_payment_method: "请选择页面上列出的支付方式", "choose one of the payment methods listed";
    err_bad_cashier: "支付通道返回了无效的收银台地址，请稍后通过查单完成支付", "The payment provider returned an unusable cashier address; find the order later to pay it";
    err_check_fields: "请检查下面标出的内容。", "Please check the fields marked below.";
    err_bad_login: "用户名或密码错误", "Wrong username or password";
    back_to_products: "返回商品列表", "Back to the products";
}

impl Words {
    pub(super) fn signed_in_as(&self, who: impl Display) -> String {
        self.lang.pick(format!("{who}（已登录）"), format!("{who} (logged in)"))
    }

    /// A console's header: who is logged in, as what.
    pub(super) fn signed_in_role(&self, who: impl Display, role: impl Display) -> String {
        self.lang.pick(format!("{who}（{role}）"), format!("{who} ({role})"))
    }

    /// The footer's note of the zone the page's times are in.
    pub(super) fn times_in_zone(&self) -> String {
        match danbao_app::clock::display_zone_name() {
            "Asia/Shanghai" => self
                .lang
                .pick("页面时间均为北京时间（UTC+8）。", "Times are China time (UTC+8).")
                .to_string(),
            zone => self.lang.pick(
                format!("页面时间均为 {zone} 时间。"),
                format!("Times are shown in {zone} time."),
            ),
        }
    }

    pub(super) fn in_stock(&self, n: impl Count) -> String {
        let n = n.n();
        self.lang.pick(format!("库存 {n}"), format!("{n} in stock"))
    }

    pub(super) fn days_on_platform(&self, days: impl Count) -> String {
        match (days.n(), self.lang) {
            (d, Lang::Zh) if d > 0 => format!("{d} 天"),
            (_, Lang::Zh) => "不满 1 天".to_string(),
            (1, Lang::En) => "1 day".to_string(),
            (d, Lang::En) if d > 0 => format!("{d} days"),
            (_, Lang::En) => "Under a day".to_string(),
        }
    }

    pub(super) fn joined_on(&self, date: impl Display) -> String {
        self.lang.pick(format!("{date} 入驻"), format!("Joined {date}"))
    }

    pub(super) fn complaints_of_paid(&self, complaints: impl Count, paid: impl Count) -> String {
        let (c, p) = (complaints.n(), paid.n());
        self.lang.pick(
            format!("{c} 次投诉 / {p} 笔付款订单"),
            format!("{} / {}", en_count(c, "complaint"), en_count(p, "paid order")),
        )
    }

    pub(super) fn orders_count(&self, n: impl Count) -> String {
        let n = n.n();
        self.lang.pick(format!("{n} 笔"), format!("{n}"))
    }

    pub(super) fn total_note(&self, price: impl Display) -> String {
        self.lang.pick(
            format!("单价 ¥{price}，购买 1 件合计 ¥{price}；多件按数量计算，应付总额在收银台付款前显示。"),
            format!("¥{price} each, ¥{price} for one; for more, the total is the price times the quantity and is shown at the cashier before you pay."),
        )
    }

    pub(super) fn rules_version(&self, version: impl Count) -> String {
        let v = version.n();
        self.lang.pick(format!("规则第 {v} 版"), format!("rules version {v}"))
    }

    /// The version in force, on the rules page itself.
    pub(super) fn version_in_force(&self, version: impl Count) -> String {
        let v = version.n();
        self.lang.pick(format!("第 {v} 版"), format!("version {v}"))
    }

    pub(super) fn quantity_at(&self, quantity: impl Count, unit_price: impl Display) -> String {
        let q = quantity.n();
        self.lang.pick(
            format!("{q}（单价 ¥{unit_price}）"),
            format!("{q} (¥{unit_price} each)"),
        )
    }

    pub(super) fn screenshot_by(&self, party: impl Display) -> String {
        self.lang
            .pick(format!("{party}提交的截图"), format!("Screenshot from the {party}"))
    }

    pub(super) fn minutes(&self, n: impl Count) -> String {
        let n = n.n();
        self.lang.pick(format!("{n} 分钟"), en_count(n, "minute"))
    }

    pub(super) fn hours(&self, n: impl Count) -> String {
        let n = n.n();
        self.lang.pick(format!("{n} 小时"), en_count(n, "hour"))
    }

    /// Seconds as a buyer reads them: "90 秒", "5 分钟".
    pub(super) fn duration(&self, seconds: i64) -> String {
        if seconds % 60 == 0 {
            self.minutes(seconds / 60)
        } else {
            self.lang.pick(format!("{seconds} 秒"), en_count(seconds, "second"))
        }
    }

    /// A list as the language writes one.
    pub(super) fn list(&self, items: &[String]) -> String {
        items.join(self.lang.pick("、", ", "))
    }

    pub(super) fn rules_delivery_deadline_text(&self, hours: impl Count) -> String {
        let h = hours.n();
        self.lang.pick(
            format!("付款后 {h} 小时内卖家未发货，全额退款给买家。"),
            format!("If the seller has not delivered {h} hours after payment, the buyer is refunded in full."),
        )
    }

    pub(super) fn rules_acceptance_text(&self, card_key: impl Count, manual: impl Count) -> String {
        let (c, m) = (card_key.n(), manual.n());
        self.lang.pick(
            format!("卡密商品发货后 {c} 小时、人工发货商品发货后 {m} 小时内买家未确认的，自动确认收货。"),
            format!("Receipt is confirmed automatically {c} hours after a card key is delivered, {m} hours after a manual delivery, unless the buyer acts first."),
        )
    }

    pub(super) fn rules_max_quantity_text(&self, max: impl Count) -> String {
        let m = max.n();
        self.lang.pick(
            format!("每笔订单最多购买 {m} 件。"),
            format!("At most {m} items per order."),
        )
    }

    pub(super) fn rules_recovery_text(&self, schedule: impl Display, after_expiry_s: impl Count) -> String {
        let s = after_expiry_s.n();
        self.lang.pick(
            format!("付款通知未到达时，平台在下单后 {schedule} 主动向支付渠道查询；订单过期后 {s} 秒再查询一次，迟到的付款原路退回。"),
            format!("When a payment's notification does not arrive, the platform asks the payment provider itself {schedule} after the order is placed, and once more {s} seconds after the order expires; a payment that arrives late is returned the way it came."),
        )
    }

    pub(super) fn rules_within_days(&self, days: impl Count) -> String {
        let d = days.n();
        self.lang
            .pick(format!("订单完成后 {d} 天内"), format!("Within {d} days of completion"))
    }

    pub(super) fn rules_not_delivered_after(&self, hours: impl Count) -> String {
        let h = hours.n();
        self.lang.pick(
            format!("人工发货商品付款 {h} 小时后仍未发货即可投诉"),
            format!("A manual-delivery order still undelivered {h} hours after payment"),
        )
    }

    pub(super) fn rules_buyer_answer(&self, hours: impl Count) -> String {
        let h = hours.n();
        self.lang.pick(
            format!("平台要求买家补充证据的，买家须在 {h} 小时内补充，逾期未补充按卖家一方处理。"),
            format!("When the platform asks the buyer for evidence, the buyer has {h} hours to give it; otherwise the case goes the seller's way."),
        )
    }

    pub(super) fn rules_appraisal(&self, days: impl Count) -> String {
        let d = days.n();
        self.lang.pick(
            format!("需要第三方鉴定的，鉴定最长 {d} 天。"),
            format!("A third-party appraisal takes at most {d} days."),
        )
    }

    pub(super) fn rules_collective(
        &self,
        window_hours: impl Count,
        buyers: impl Count,
        account_age_days: impl Count,
        amount: impl Display,
        review_hours: impl Count,
    ) -> String {
        let (w, b, a, r) = (window_hours.n(), buyers.n(), account_age_days.n(), review_hours.n());
        self.lang.pick(
            format!("{w} 小时内有 {b} 位不同买家（不同付款人、不同联系方式，注册满 {a} 天的账户）就同一卖家投诉未发货或欺诈，且涉及金额合计不少于 ¥{amount} 的，该卖家自动冻结，由仲裁员在 {r} 小时内复核。"),
            format!("When {b} different buyers (different payers and contacts, accounts at least {a} days old) complain of non-delivery or fraud against the same seller within {w} hours, for ¥{amount} or more in all, the seller is frozen automatically and an arbitrator reviews within {r} hours."),
        )
    }

    pub(super) fn rules_unpaid_limit(&self, max_units: impl Count, share: impl Display) -> String {
        let m = max_units.n();
        self.lang.pick(
            format!("每位买家未付款的订单合计最多占用 {m} 件库存，且不超过单个商品库存的 {share}（至少 1 件）。"),
            format!("Each buyer's unpaid orders may hold at most {m} items of stock in all, and no more than {share} of one product's stock (at least 1)."),
        )
    }

    pub(super) fn rules_password_lock(
        &self,
        free: impl Count,
        lock_s: impl Count,
        lock_max_s: impl Count,
        forgotten_hours: impl Count,
    ) -> String {
        let (f, l, m, h) = (free.n(), lock_s.n(), lock_max_s.n(), forgotten_hours.n());
        self.lang.pick(
            format!("查单密码输错 {f} 次以内不受限制；此后每再错一次，订单锁定 {l} 秒起、逐次加倍，最长 {m} 秒；{h} 小时前的错误不再计入。"),
            format!("Up to {f} wrong order passwords are free; each one after locks the order for {l} seconds, doubling each time, up to {m} seconds; mistakes older than {h} hours are forgotten."),
        )
    }

    /// A complaint deadline: (before the time, after it, what happens otherwise).
    pub(super) fn complaint_deadline(
        &self,
        stage: &str,
        seller: bool,
    ) -> Option<(&'static str, &'static str, Option<&'static str>)> {
        let l = self.lang;
        Some(match stage {
            "awaiting_seller" if seller => (
                l.pick("您须在", "You must answer by"),
                l.pick("前回应", ""),
                Some(l.pick(
                    "逾期未回应，将按规则判定全额退款给买家。",
                    "Without an answer by then, the rules refund the buyer in full.",
                )),
            ),
            "awaiting_seller" => (
                l.pick("卖家须在", "The seller must answer by"),
                l.pick("前回应", ""),
                Some(l.pick(
                    "卖家逾期未回应，将按规则判定全额退款给您。",
                    "If the seller does not answer by then, the rules refund you in full.",
                )),
            ),
            "awaiting_buyer" if seller => (
                l.pick("买家须在", "The buyer must add evidence by"),
                l.pick("前补充证据", ""),
                Some(l.pick(
                    "买家逾期未补充证据，将按规则判定放款给您。",
                    "If the buyer does not add evidence by then, the rules release the money to you.",
                )),
            ),
            "awaiting_buyer" => (
                l.pick("您须在", "You must add evidence by"),
                l.pick("前补充证据", ""),
                Some(l.pick(
                    "逾期未补充证据，将按规则判定放款给卖家。",
                    "Without evidence by then, the rules release the money to the seller.",
                )),
            ),
            "appraisal" => (
                l.pick("第三方鉴定须在", "The appraisal must finish by"),
                l.pick("前完成", ""),
                None,
            ),
            "resolved" | "withdrawn" => return None,
            "under_review" => (
                l.pick("平台须在", "The platform must decide by"),
                l.pick("前作出裁决", ""),
                Some(l.pick(
                    "这是平台公示的仲裁时效；逾期未裁决会自动升级给管理员处理，并在此标明“已超时”。",
                    "This is the platform's published time limit; past it the case is escalated to the admins and marked overdue here.",
                )),
            ),
            _ => (
                l.pick("平台将在", "The platform will act by"),
                l.pick("前处理", ""),
                None,
            ),
        })
    }

    /// The complaint kinds a buyer chooses from.
    pub(super) fn complaint_kind_option(&self, kind: danbao_domain::complaint::ComplaintKind) -> &'static str {
        use danbao_domain::complaint::ComplaintKind as K;
        match kind {
            K::NotDelivered => self.lang.pick("未发货", "Not delivered"),
            K::NotAsDescribed => self.lang.pick(
                "货不对板（含卡密无效、已被使用）",
                "Not as described (a key that does not work or was already used)",
            ),
            K::Fraud => self.lang.pick("欺诈", "Fraud"),
            K::Other => self.lang.pick("其他", "Other"),
        }
    }

    pub(super) fn evidence_file_line(&self, sha: &str, media: &str) -> String {
        self.lang.pick(
            format!("文件 sha256 {sha}（{media}）"),
            format!("File sha256 {sha} ({media})"),
        )
    }

    pub(super) fn delivered_file_line(&self, media: &str, sha: &str) -> String {
        self.lang
            .pick(format!("{media}，sha256 {sha}"), format!("{media}, sha256 {sha}"))
    }

    pub(super) fn retry_in(&self, seconds: i64) -> String {
        self.lang.pick(
            format!("请求过于频繁，请 {seconds} 秒后再试"),
            format!("Too many requests; try again in {seconds} seconds"),
        )
    }

    /// A field's problem: "购买数量：请填写正整数", "Quantity: enter a whole number".
    pub(super) fn field_problem(&self, field: &str, problem: &str) -> String {
        self.lang
            .pick(format!("{field}：{problem}"), format!("{field}: {problem}"))
    }
}

/// "1 hour", "2 hours": an English count with its noun in the right number.
pub(super) fn en_count(n: i64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// Every entry of a catalog (`all_entries()` of its module) has both texts, and the
/// English one has no Chinese left in it (the switch's own label, which names the other
/// language in that language, aside).
#[cfg(test)]
pub(super) fn assert_catalog_complete(entries: &[(&str, &str, &str)]) {
    for (key, zh, en) in entries {
        assert!(!zh.is_empty() && !en.is_empty(), "{key}");
        if *key != "switch_label" {
            assert!(!en.chars().any(is_han), "{key}: {en}");
        }
    }
}

/// Chinese characters and the full-width punctuation that goes with them.
#[cfg(test)]
pub(super) fn is_han(c: char) -> bool {
    matches!(c, '\u{4e00}'..='\u{9fff}' | '\u{3000}'..='\u{303f}' | '\u{ff00}'..='\u{ffef}')
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a test that fails to set up fails
mod tests {
    use super::*;

    #[test]
    fn the_address_can_ask_for_a_language() {
        assert_eq!(asked_in_query(Some("lang=en")), Some(Lang::En));
        assert_eq!(asked_in_query(Some("q=steam&lang=zh")), Some(Lang::Zh));
        assert_eq!(asked_in_query(Some("lang=fr")), None);
        assert_eq!(asked_in_query(Some("%zz")), None);
        assert_eq!(asked_in_query(None), None);
        assert_eq!(without_lang_param("/", Some("lang=en")), "/");
        assert_eq!(
            without_lang_param("/", Some("q=%E7%8E%8B&lang=en&category=top_up")),
            "/?q=%E7%8E%8B&category=top_up"
        );
        assert_eq!(without_lang_param("/rules", None), "/rules");
    }

    #[test]
    fn english_counts_agree_with_their_number() {
        let en = Lang::En.words();
        assert_eq!(en.complaints_of_paid(1, 1), "1 complaint / 1 paid order");
        assert_eq!(en.complaints_of_paid(0, 12), "0 complaints / 12 paid orders");
        assert_eq!(en.hours(1), "1 hour");
        assert_eq!(en.duration(90), "90 seconds");
        assert_eq!(en.duration(60), "1 minute");
        assert_eq!(Lang::Zh.words().complaints_of_paid(1, 1), "1 次投诉 / 1 笔付款订单");
    }

    #[test]
    fn the_switch_cookie_outranks_the_browser() {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT_LANGUAGE, "zh-CN,zh;q=0.9".parse().unwrap());
        assert_eq!(negotiate(&h), Lang::Zh);
        h.insert(header::COOKIE, "danbao_session=abc; danbao_lang=en".parse().unwrap());
        assert_eq!(negotiate(&h), Lang::En);
        // A cookie naming no language of ours is ignored, not an error.
        h.insert(header::COOKIE, "danbao_lang=fr".parse().unwrap());
        assert_eq!(negotiate(&h), Lang::Zh);
        assert_eq!(negotiate(&HeaderMap::new()), Lang::Zh);
    }

    #[test]
    fn the_browser_language_is_read_by_its_weights() {
        assert_eq!(from_accept_language("zh-CN,zh;q=0.9,en;q=0.8"), Some(Lang::Zh));
        assert_eq!(from_accept_language("en-US,en;q=0.9"), Some(Lang::En));
        assert_eq!(from_accept_language("fr-FR, en;q=0.5, zh;q=0.4"), Some(Lang::En));
        assert_eq!(from_accept_language("zh;q=0.2, en;q=0.9"), Some(Lang::En));
        assert_eq!(from_accept_language("en;q=0, zh-TW"), Some(Lang::Zh));
        assert_eq!(from_accept_language("de, fr"), None);
        assert_eq!(from_accept_language("en;q=2"), None);
        assert_eq!(from_accept_language(""), None);
        assert_eq!(parse_q("0.125"), Some(125));
        assert_eq!(parse_q("1.000"), Some(1000));
        assert_eq!(parse_q("1.5"), None);
        assert_eq!(parse_q("0.1234"), None);
    }

    #[test]
    fn the_switch_returns_only_to_this_site() {
        assert_eq!(safe_back("/orders/1?x=2"), "/orders/1?x=2");
        assert_eq!(safe_back("//evil.example/"), "/");
        assert_eq!(safe_back("/\\evil.example"), "/");
        assert_eq!(safe_back("https://evil.example/"), "/");
        assert_eq!(safe_back("/a\r\nSet-Cookie: x"), "/");
        assert_eq!(page_of_post("/products/p1/buy"), "/products/p1");
        assert_eq!(page_of_post("/complaints/c1/files"), "/complaints/c1");
        assert_eq!(page_of_post("/lookup"), "/lookup");
        let ui = Ui::new(Lang::Zh, "/?q=王者 60", None);
        assert_eq!(ui.switch_href, "/lang/en?back=%2F%3Fq%3D%E7%8E%8B%E8%80%85+60");
    }

    #[test]
    fn every_word_has_both_languages() {
        assert_catalog_complete(&all_entries());
    }
}
