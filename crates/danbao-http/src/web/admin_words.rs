//! The words of the operations console (`/admin`) in zh-CN and English: `of(nav.lang())`.

use std::fmt::Display;

use super::i18n::en_count;

super::i18n::catalog! {
    // what an action did (`?done=`)
    done_ledger_checked: "账本检查已完成", "The ledger check is done";
    done_requeued: "任务已重新排队", "The job is queued again";
    done_frozen: "已冻结该卖家：商品已下架，新订单与提现暂停", "The seller is frozen: products delisted, new orders and withdrawals stopped";
    done_unfrozen: "已解除冻结", "The freeze is lifted";
    done_banned: "已封禁该卖家，未完成的订单已全额退款", "The seller is banned; the open orders were refunded in full";
    done_reconciled: "对账已完成", "The reconciliation is done";
    done_resolved: "异常已处理", "The exception is resolved";
    done_created: "账号已创建", "The account is created";
    done_disabled: "账号已停用，其登录已失效", "The account is disabled and its sessions ended";
    done_published: "新版本规则已发布，新订单将按此版本执行", "The new rules version is published; new orders follow it";
    // refusals
    what_reason: "原因", "the reason";
    what_ban_reason: "封禁原因", "the reason for the ban";
    what_note: "处理说明", "the note";
    what_disable_username: "要停用的用户名", "the username to disable";
    what_rules: "规则内容（TOML）", "the rules (TOML)";
    err_job_gone: "该任务不存在或已不在失败队列中", "That job does not exist or is no longer among the failed ones";
    err_already_banned: "该卖家已被封禁", "That seller is already banned";
    err_confirm_ban: "请勾选“我确认封禁”后再提交；尚未做任何更改", "Tick the ban confirmation, then submit; nothing has changed yet";
    err_choose_day: "请选择要对账的日期（YYYY-MM-DD）", "Choose the day to reconcile (YYYY-MM-DD)";
    err_choose_action: "请选择“退款”或“确认无误”", "Choose \"Refund\" or \"Acknowledge\"";
    err_choose_role: "请选择角色：仲裁员或管理员", "Choose a role: arbitrator or administrator";
    err_username: "用户名须为 1 到 32 个字母、数字、“_”或“-”", "A username is 1 to 32 letters, digits, \"_\" or \"-\"";
    err_password: "密码长度须为 8 到 128 个字符", "A password is 8 to 128 characters long";
    err_no_such_account: "没有这个用户名的账号", "No account has that username";
    // job statuses
    job_queued: "排队中", "Queued";
    job_running: "运行中", "Running";
    job_done: "已完成", "Done";
    job_dead: "失败待处理", "Failed";
    // the statuses of the orders a ban refunds
    open_paid: "已付款待发货", "Paid, not delivered";
    open_delivered: "已发货待确认", "Delivered, not confirmed";
    open_disputed: "投诉处理中", "Complaint open";
    open_after_sale: "售后投诉中", "Complaint after completion";
    // reconciliation exceptions
    exc_amount_mismatch: "金额不符", "Amount mismatch";
    exc_missing_at_provider: "渠道账单缺失", "Missing at the provider";
    exc_applied_late: "补记到账", "Applied late";
    exc_other: "其他", "Other";
    // health
    health: "运行状况", "Health";
    ledger_check: "账本检查", "Ledger check";
    passed: "通过", "Passed";
    all_invariants_hold: "所有不变量成立。", "Every invariant holds.";
    ledger_never_checked: "尚未在后台执行过账本检查。", "No ledger check has been run from the console yet.";
    check_now: "立即检查", "Check now";
    evidence_log: "证据日志", "Evidence log";
    log_entries: "日志条目数", "Log entries";
    latest_checkpoint_covers: "最新检查点（覆盖条目）", "Latest checkpoint (entries covered)";
    latest_checkpoint: "最新检查点", "Latest checkpoint";
    none: "无", "None";
    jobs: "后台任务", "Background jobs";
    no_dead_jobs: "没有失败待处理的任务。", "No failed jobs.";
    dead_jobs: "失败待处理", "Failed jobs";
    last_error: "最后的错误：", "Last error: ";
    requeue: "重新排队", "Queue again";
    requeue_note: "请先排除失败原因再重新排队；重新排队后任务会按正常节奏重新执行。", "Fix what made it fail before queueing it again; a queued job runs again at the normal pace.";
    security_events: "最近的安全事件", "Recent security events";
    no_security_events: "没有安全事件。", "No security events.";
    col_kind: "类型", "Type";
    col_last_seen: "最近发生", "Last seen";
    col_occurrences: "次数", "Times";
    col_detail: "详情", "Detail";
    // sellers
    sellers: "卖家", "Sellers";
    compensation_fund: "先行赔付基金", "Compensation fund";
    username: "用户名", "Username";
    search: "搜索", "Search";
    no_sellers: "没有匹配的卖家。", "No seller matches.";
    col_seller: "卖家", "Seller";
    col_standing: "状态", "Standing";
    deposit: "保证金", "Deposit";
    available: "可提现", "Available";
    frozen: "冻结", "Frozen";
    escrow: "担保中", "In escrow";
    owed: "欠平台", "Owed to the platform";
    // one seller
    all_sellers: "← 全部卖家", "← All sellers";
    standing_colon: "状态：", "Standing: ";
    reason_colon: "原因：", "Reason: ";
    lift_freeze: "解除冻结", "Lift the freeze";
    reason_required: "原因（必填）", "Reason (required)";
    freeze: "冻结", "Freeze";
    freeze_note: "冻结后商品下架，新订单与提现暂停，可提现余额转入冻结；买家的退款照常。", "A freeze delists the products, stops new orders and withdrawals, and freezes the available balance; buyers' refunds go on.";
    ban: "封禁", "Ban";
    ban_reason_required: "封禁原因（必填）", "Reason for the ban (required)";
    see_ban_effects: "查看封禁影响…", "See what a ban would do…";
    // the ban's confirmation
    back_no_ban: "← 返回，不封禁", "← Back, no ban";
    ban_is_permanent: "封禁是永久的，无法撤销。确认后将立即执行下列操作。", "A ban is permanent and cannot be undone. Once confirmed, the following happens at once.";
    what_will_happen: "将要发生的事", "What will happen";
    shop_banned_delisted: "店铺永久封禁，商品全部下架。", "The shop is banned for good and every product delisted.";
    ban_reason_colon: "封禁原因：", "Reason for the ban: ";
    col_order: "订单", "Order";
    col_refund: "退款金额", "Refund";
    confirm_ban: "确认封禁", "Confirm the ban";
    back: "返回", "Back";
    period: "。", ".";
    // reconciliation
    reconciliation: "对账", "Reconciliation";
    no_exceptions: "没有待处理的异常。", "No open exceptions.";
    provider_txn: "渠道流水", "Provider transaction";
    note_required: "处理说明（必填）", "Note (required)";
    refund: "退款", "Refund";
    acknowledge: "确认无误", "Acknowledge";
    runs: "对账记录", "Reconciliation runs";
    day_utc: "日期（UTC）", "Day (UTC)";
    reconcile_day: "按该日账单对账", "Reconcile that day's statement";
    no_runs: "还没有对账记录。", "No reconciliation has run yet.";
    col_run_at: "执行时间", "Run at";
    col_period: "账期", "Period";
    col_matched: "一致", "Matched";
    col_applied_late: "补记到账", "Applied late";
    col_missing: "渠道缺失", "Missing at provider";
    col_mismatch: "金额不符", "Amount mismatch";
    // accounts
    accounts: "账号", "Accounts";
    new_staff_account: "新建员工账号", "New staff account";
    initial_password: "初始密码（8 到 128 个字符）", "First password (8 to 128 characters)";
    role: "角色", "Role";
    arbitrator: "仲裁员", "Arbitrator";
    administrator: "管理员", "Administrator";
    create_account: "创建账号", "Create the account";
    disable_account: "停用账号", "Disable an account";
    disable_note: "停用后该账号无法登录，已登录的会话立即失效。可停用任何角色的账号，但不能停用自己。", "A disabled account cannot log in, and its open sessions end at once. Any role's account can be disabled, but not your own.";
    disable: "停用", "Disable";
    staff_accounts: "员工账号", "Staff accounts";
    col_status: "状态", "Status";
    disabled: "已停用", "Disabled";
    active: "正常", "Active";
    // rules
    rules: "规则", "Rules";
    published_versions: "已发布的版本", "Published versions";
    versions_note: "已发布的版本不可修改；每笔订单按其创建时的版本执行。", "A published version never changes; each order follows the version in force when it was made.";
    col_version: "版本", "Version";
    col_published_at: "发布时间", "Published";
    col_fingerprint: "内容指纹", "Fingerprint";
    current: "当前", "current";
    compare: "对比", "Compare";
    older_version: "旧版本", "Older version";
    newer_version: "新版本", "Newer version";
    choose_two_versions: "请选择两个已发布的版本。", "Choose two published versions.";
    publish_new: "发布新版本", "Publish a new version";
    publish_note: "粘贴完整的规则（TOML）。校验通过后作为下一个版本发布，本服务的新订单立即按新版本执行；文中的 version 会被忽略。", "Paste the complete rules (TOML). Once they pass the checks they are published as the next version, and this server's new orders follow them at once; the version in the text is ignored.";
    restart_warning: "注意：其他正在运行的服务进程要重启后才使用新版本。不带 --rules 重启时沿用已发布的最新版本；若以 --rules 指定的规则文件启动且内容与最新版本不同，该文件会作为一个新版本发布，因此发布后请同步更新规则文件或不再指定它。", "Note: other running server processes use the new version only after a restart. Restarted without --rules, a server uses the latest published version; started with a --rules file whose content differs from the latest version, it publishes that file as a new version, so after publishing, update the rules file or stop passing it.";
    check_and_publish: "校验并发布", "Check and publish";
}

impl Words {
    /// A required field left empty.
    pub(super) fn fill_in(&self, what: &str) -> String {
        self.lang
            .pick(format!("请填写{what}"), format!("Please fill in {what}"))
    }

    pub(super) fn rules_refused(&self, problem: &str) -> String {
        self.lang.pick(
            format!("规则未通过校验，未发布：{problem}"),
            format!("The rules failed the checks and were not published: {problem}"),
        )
    }

    /// A page's title in the console.
    pub(super) fn title(&self, page: impl Display) -> String {
        self.lang
            .pick(format!("{page} · 运营后台"), format!("{page} · Operations console"))
    }

    pub(super) fn seller_title(&self, username: impl Display) -> String {
        self.lang.pick(
            format!("{username} · 卖家 · 运营后台"),
            format!("{username} · Sellers · Operations console"),
        )
    }

    pub(super) fn seller_heading(&self, username: impl Display) -> String {
        self.lang.pick(format!("卖家 {username}"), format!("Seller {username}"))
    }

    pub(super) fn ban_title(&self, username: impl Display) -> String {
        self.lang.pick(
            format!("确认封禁 {username} · 运营后台"),
            format!("Confirm the ban of {username} · Operations console"),
        )
    }

    pub(super) fn ban_heading(&self, username: impl Display) -> String {
        self.lang.pick(
            format!("确认封禁卖家 {username}"),
            format!("Confirm the ban of seller {username}"),
        )
    }

    pub(super) fn ban_confirm_box(&self, username: impl Display) -> String {
        self.lang.pick(
            format!("我确认封禁 {username}，并全额退款上述订单"),
            format!("I confirm the ban of {username} and the full refund of the orders above"),
        )
    }

    /// The ban's effect on the seller page.
    pub(super) fn ban_note(&self, orders: impl super::i18n::Count, total: impl Display) -> String {
        let n = orders.n();
        self.lang.pick(
            format!("封禁不可撤销：{n} 笔未完成订单（共 ¥{total}）将全额退款。下一步会先显示影响，再请您确认。"),
            format!(
                "A ban cannot be undone: {} (¥{total} in all) will be refunded in full. The next step shows what it would do, then asks you to confirm.",
                en_count(n, "open order")
            ),
        )
    }

    /// The start of the ban's refund line; the total follows.
    pub(super) fn ban_refunds(&self, orders: impl super::i18n::Count) -> String {
        let n = orders.n();
        self.lang.pick(
            format!("{n} 笔未完成订单全额退款给买家，共"),
            format!("{} refunded in full to the buyers: in all", en_count(n, "open order")),
        )
    }

    pub(super) fn ban_cover(&self, frozen: impl Display, deposit: impl Display, fund: impl Display) -> String {
        self.lang.pick(
            format!("退款超出卖家自有资金的部分，依次由冻结资金（¥{frozen}）、保证金（¥{deposit}）、先行赔付基金（¥{fund}）承担，余下记为平台损失。"),
            format!("What the refunds exceed of the seller's own money comes from the frozen money (¥{frozen}), then the deposit (¥{deposit}), then the compensation fund (¥{fund}); the rest is the platform's loss."),
        )
    }

    pub(super) fn violations(&self, n: impl super::i18n::Count) -> String {
        let n = n.n();
        self.lang.pick(
            format!("发现 {n} 处问题："),
            format!("{} found:", en_count(n, "problem")),
        )
    }

    /// When the ledger was last checked (the time follows) …
    pub(super) fn last_checked(&self) -> &'static str {
        self.lang.pick("上次检查：", "Last checked: ")
    }

    /// … and by whom.
    pub(super) fn checked_by(&self, who: impl Display) -> String {
        self.lang.pick(format!("，由 {who} 执行"), format!(", by {who}"))
    }

    pub(super) fn attempts(&self, n: impl super::i18n::Count) -> String {
        let n = n.n();
        self.lang
            .pick(format!("已尝试 {n} 次"), format!("tried {}", en_count(n, "time")))
    }

    pub(super) fn open_exceptions(&self, n: impl super::i18n::Count) -> String {
        let n = n.n();
        self.lang
            .pick(format!("待处理异常（{n}）"), format!("Open exceptions ({n})"))
    }

    pub(super) fn compare_with(&self, version: impl Display) -> String {
        self.lang
            .pick(format!("与 v{version} 对比"), format!("Compare with v{version}"))
    }

    pub(super) fn lines_differ(&self, n: impl super::i18n::Count) -> String {
        let n = n.n();
        let en = if n == 1 {
            "1 line differs".to_string()
        } else {
            format!("{n} lines differ")
        };
        self.lang.pick(format!("{n} 行不同"), en)
    }

    pub(super) fn colon(&self) -> &'static str {
        self.lang.pick("：", ": ")
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
    fn sentences_count_in_english() {
        assert_eq!(
            ZH.ban_note(2, "3.00"),
            "封禁不可撤销：2 笔未完成订单（共 ¥3.00）将全额退款。下一步会先显示影响，再请您确认。"
        );
        assert!(EN
            .ban_note(1, "3.00")
            .starts_with("A ban cannot be undone: 1 open order (¥3.00 in all)"));
        assert_eq!(EN.lines_differ(1), "1 line differs");
        assert_eq!(EN.attempts(3), "tried 3 times");
        assert_eq!(ZH.fill_in(ZH.what_reason), "请填写原因");
    }
}
