//! The operations console (`/admin`): health (ledger check, evidence log, jobs, security
//! events), sellers (standing, balances, freeze / unfreeze / ban), reconciliation, staff
//! accounts and rule sets. Every page is for admins only (`staff::console_user`), and
//! every use case checks the role again.
//!
//! An action posts a form and is sent back to its page with `?done=<code>`: the page
//! shows the fixed message of that code (no user text travels in an address). A refused
//! action is shown as an error page with the use case's message; nothing has changed.

use super::admin_words::{self, Words as W};
use super::error::{PageError, Text};
use super::forms::PageContext;
use super::i18n::Lang;
use super::labels::{role, standing};
use super::staff::{console_user, ConsoleNav};
use super::{private_headers, valid_id, yuan, TimeView};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Extension, Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use danbao_app::admin::{BanPreview, SellerOverview};
use danbao_app::{App, Caller, Role};
use danbao_domain::Standing;
use serde::Deserialize;

pub(super) fn routes() -> Router<App> {
    Router::new()
        .route("/admin", get(health))
        .route("/admin/ledger-check", post(run_ledger_check))
        .route("/admin/jobs/{id}/requeue", post(requeue_job))
        .route("/admin/sellers", get(sellers))
        .route("/admin/sellers/{id}", get(seller_page))
        .route("/admin/sellers/{id}/freeze", post(freeze))
        .route("/admin/sellers/{id}/unfreeze", post(unfreeze))
        .route("/admin/sellers/{id}/ban/preview", post(ban_preview))
        .route("/admin/sellers/{id}/ban", post(ban))
        .route("/admin/reconciliation", get(reconciliation).post(reconcile_day))
        .route("/admin/reconciliation/exceptions/{id}/resolve", post(resolve_exception))
        .route("/admin/accounts", get(accounts).post(create_account))
        .route("/admin/accounts/disable", post(disable_account))
        .route("/admin/rules", get(rules).post(publish_rules))
}

/// The admin behind this request, their menu (with `here` marked) and their caller.
async fn admin(
    app: &App,
    headers: &HeaderMap,
    page: &PageContext,
    here: &str,
) -> Result<(ConsoleNav, Caller), PageError> {
    let user = console_user(app, headers, Role::Admin).await?;
    let nav = ConsoleNav::new(&user, here, page);
    Ok((nav, Caller::User(user)))
}

fn back_to(url: &str) -> Response {
    (private_headers(), Redirect::to(url)).into_response()
}

/// A refusal of the console's own, in the viewer's language.
fn says(status: StatusCode, word: fn(&W) -> &'static str) -> PageError {
    PageError::new(status, Text::by(move |w| word(admin_words::of(w.lang)).to_string()))
}

fn unprocessable(word: fn(&W) -> &'static str) -> PageError {
    says(StatusCode::UNPROCESSABLE_ENTITY, word)
}

/// A form's required free text, trimmed; `what` names it in the refusal.
fn required(text: &str, what: fn(&W) -> &'static str) -> Result<String, PageError> {
    let t = text.replace("\r\n", "\n").trim().to_string();
    if t.is_empty() {
        return Err(PageError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            Text::by(move |w| {
                let a = admin_words::of(w.lang);
                a.fill_in(what(a))
            }),
        ));
    }
    Ok(t)
}

fn checked_id(id: &str) -> Result<&str, PageError> {
    if valid_id(id) {
        Ok(id)
    } else {
        Err(PageError::page_not_found())
    }
}

#[derive(Deserialize, Default)]
struct Done {
    done: Option<String>,
}

/// The message of a `?done=` code; an unknown code shows nothing.
fn done_message(w: &W, done: &Done) -> Option<&'static str> {
    Some(match done.done.as_deref()? {
        "ledger_checked" => w.done_ledger_checked,
        "requeued" => w.done_requeued,
        "frozen" => w.done_frozen,
        "unfrozen" => w.done_unfrozen,
        "banned" => w.done_banned,
        "reconciled" => w.done_reconciled,
        "resolved" => w.done_resolved,
        "created" => w.done_created,
        "disabled" => w.done_disabled,
        "published" => w.done_published,
        _ => return None,
    })
}

// ---------------------------------------------------------------- health

struct JobLine {
    id: String,
    kind: String,
    attempts: i64,
    error: String,
}

struct EventLine {
    kind: String,
    at: TimeView,
    occurrences: i64,
    detail: String,
}

struct CountLine {
    label: String,
    count: i64,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/health.html")]
struct HealthPage {
    nav: ConsoleNav,
    w: &'static W,
    done: Option<&'static str>,
    ledger_checked_at: Option<TimeView>,
    ledger_checked_by: String,
    ledger_violations: Vec<String>,
    violation_count: i64,
    evidence_size: i64,
    checkpoint: Option<(i64, TimeView)>,
    jobs: Vec<CountLine>,
    dead_jobs: Vec<JobLine>,
    events: Vec<EventLine>,
}

fn job_status(w: &W, status: &str) -> String {
    match status {
        "queued" => w.job_queued.into(),
        "running" => w.job_running.into(),
        "done" => w.job_done.into(),
        "dead" => w.job_dead.into(),
        other => other.to_string(),
    }
}

async fn health(
    State(app): State<App>,
    Extension(page): Extension<PageContext>,
    headers: HeaderMap,
    Query(done): Query<Done>,
) -> Result<Response, PageError> {
    let (nav, caller) = admin(&app, &headers, &page, "/admin").await?;
    let w = admin_words::of(nav.lang());
    let h = app.admin_health(&caller).await?;
    let (ledger_checked_at, ledger_checked_by, ledger_violations) = match h.last_ledger_check {
        Some(c) => (Some(TimeView::new(&c.checked_at)), c.checked_by, c.violations),
        None => (None, String::new(), Vec::new()),
    };
    let html = HealthPage {
        nav,
        w,
        done: done_message(w, &done),
        ledger_checked_at,
        ledger_checked_by,
        violation_count: ledger_violations.len() as i64,
        ledger_violations,
        evidence_size: h.evidence_log_size,
        checkpoint: h.last_checkpoint.map(|c| (c.size, TimeView::new(&c.made_at))),
        jobs: ["queued", "running", "done", "dead"]
            .iter()
            .map(|s| CountLine {
                label: job_status(w, s),
                count: h.jobs_by_status.get(*s).copied().unwrap_or(0),
            })
            .collect(),
        dead_jobs: h
            .dead_jobs
            .into_iter()
            .map(|j| JobLine {
                id: j.id,
                kind: j.kind,
                attempts: j.attempts,
                error: j.last_error.unwrap_or_default(),
            })
            .collect(),
        events: h
            .security_events
            .into_iter()
            .map(|e| EventLine {
                kind: e.kind,
                at: TimeView::new(&e.last_at),
                occurrences: e.occurrences,
                detail: e.detail.to_string(),
            })
            .collect(),
    };
    Ok((private_headers(), html).into_response())
}

async fn run_ledger_check(
    State(app): State<App>,
    Extension(page): Extension<PageContext>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let (_, caller) = admin(&app, &headers, &page, "/admin").await?;
    app.run_ledger_check(&caller).await?;
    Ok(back_to("/admin?done=ledger_checked"))
}

async fn requeue_job(
    State(app): State<App>,
    Extension(page): Extension<PageContext>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let (_, caller) = admin(&app, &headers, &page, "/admin").await?;
    let id = checked_id(&id)?;
    app.retry_dead_job(&caller, id).await.map_err(|e| match e {
        danbao_app::AppError::NotFound(_) => says(StatusCode::NOT_FOUND, |w| w.err_job_gone),
        other => other.into(),
    })?;
    Ok(back_to("/admin?done=requeued"))
}

// ---------------------------------------------------------------- sellers

/// A seller's figures as shown.
struct SellerLine {
    id: String,
    username: String,
    standing: &'static str,
    frozen_standing: bool,
    banned: bool,
    reason: Option<String>,
    deposit: String,
    available: String,
    frozen: String,
    escrow: String,
    owed: String,
}

impl SellerLine {
    fn new(l: Lang, s: SellerOverview) -> SellerLine {
        SellerLine {
            standing: standing(l, s.standing),
            frozen_standing: s.standing == Standing::Frozen,
            banned: s.standing == Standing::Banned,
            id: s.id,
            username: s.username,
            reason: s.standing_reason,
            deposit: yuan(s.deposit_minor),
            available: yuan(s.available_minor),
            frozen: yuan(s.frozen_minor),
            escrow: yuan(s.escrow_minor),
            owed: yuan(s.owed_minor),
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/sellers.html")]
struct SellersPage {
    nav: ConsoleNav,
    w: &'static W,
    q: String,
    sellers: Vec<SellerLine>,
    fund: String,
}

#[derive(Deserialize, Default)]
struct SellerQuery {
    #[serde(default)]
    q: String,
}

async fn sellers(
    State(app): State<App>,
    Extension(page): Extension<PageContext>,
    headers: HeaderMap,
    Query(query): Query<SellerQuery>,
) -> Result<Response, PageError> {
    let (nav, caller) = admin(&app, &headers, &page, "/admin/sellers").await?;
    let l = nav.lang();
    let found = app.admin_sellers(&caller, &query.q).await?;
    let html = SellersPage {
        nav,
        w: admin_words::of(l),
        q: query.q.trim().to_string(),
        sellers: found.sellers.into_iter().map(|s| SellerLine::new(l, s)).collect(),
        fund: yuan(found.compensation_fund_minor),
    };
    Ok((private_headers(), html).into_response())
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/seller.html")]
struct SellerPage {
    nav: ConsoleNav,
    w: &'static W,
    done: Option<&'static str>,
    s: SellerLine,
    open_orders: i64,
    refund_total: String,
    fund: String,
}

async fn seller_page(
    State(app): State<App>,
    Extension(page): Extension<PageContext>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(done): Query<Done>,
) -> Result<Response, PageError> {
    let (nav, caller) = admin(&app, &headers, &page, "/admin/sellers").await?;
    let id = checked_id(&id)?;
    let p = app.ban_preview(&caller, id).await?;
    let l = nav.lang();
    let w = admin_words::of(l);
    let html = SellerPage {
        nav,
        w,
        done: done_message(w, &done),
        open_orders: p.open_orders.len() as i64,
        refund_total: yuan(p.refund_total_minor),
        fund: yuan(p.compensation_fund_minor),
        s: SellerLine::new(l, p.seller),
    };
    Ok((private_headers(), html).into_response())
}

#[derive(Deserialize)]
struct ReasonForm {
    #[serde(default)]
    reason: String,
    /// The ban's second step: the box 我确认封禁 ticked.
    #[serde(default)]
    confirm: String,
}

async fn change_standing(
    app: &App,
    headers: &HeaderMap,
    page: &PageContext,
    id: &str,
    form: &ReasonForm,
    freeze: bool,
) -> Result<Response, PageError> {
    let (_, caller) = admin(app, headers, page, "/admin/sellers").await?;
    let id = checked_id(id)?;
    let reason = required(&form.reason, |w| w.what_reason)?;
    if freeze {
        app.freeze_seller(&caller, id, &reason).await?;
    } else {
        app.unfreeze_seller(&caller, id, &reason).await?;
    }
    let done = if freeze { "frozen" } else { "unfrozen" };
    Ok(back_to(&format!("/admin/sellers/{id}?done={done}")))
}

async fn freeze(
    State(app): State<App>,
    Extension(page): Extension<PageContext>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<ReasonForm>,
) -> Result<Response, PageError> {
    change_standing(&app, &headers, &page, &id, &form, true).await
}

async fn unfreeze(
    State(app): State<App>,
    Extension(page): Extension<PageContext>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<ReasonForm>,
) -> Result<Response, PageError> {
    change_standing(&app, &headers, &page, &id, &form, false).await
}

struct OrderLine {
    id: String,
    status: String,
    amount: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/ban_confirm.html")]
struct BanConfirmPage {
    nav: ConsoleNav,
    w: &'static W,
    error: Option<String>,
    s: SellerLine,
    reason: String,
    orders: Vec<OrderLine>,
    order_count: i64,
    refund_total: String,
    fund: String,
}

fn ban_confirm_page(nav: ConsoleNav, p: BanPreview, reason: String, error: Option<String>) -> BanConfirmPage {
    let l = nav.lang();
    let w = admin_words::of(l);
    BanConfirmPage {
        nav,
        w,
        error,
        reason,
        order_count: p.open_orders.len() as i64,
        orders: p
            .open_orders
            .into_iter()
            .map(|o| OrderLine {
                status: open_status(w, &o.status),
                id: o.id,
                amount: yuan(o.amount_minor),
            })
            .collect(),
        refund_total: yuan(p.refund_total_minor),
        fund: yuan(p.compensation_fund_minor),
        s: SellerLine::new(l, p.seller),
    }
}

/// The statuses of the orders a ban refunds (`open_orders_of_seller`).
fn open_status(w: &W, status: &str) -> String {
    match status {
        "paid" => w.open_paid.into(),
        "delivered" => w.open_delivered.into(),
        "disputed" => w.open_disputed.into(),
        "completed" | "partially_refunded" => w.open_after_sale.into(),
        other => other.to_string(),
    }
}

/// The ban's first step: what it would do. Changes nothing.
async fn ban_preview(
    State(app): State<App>,
    Extension(page): Extension<PageContext>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<ReasonForm>,
) -> Result<Response, PageError> {
    let (nav, caller) = admin(&app, &headers, &page, "/admin/sellers").await?;
    let id = checked_id(&id)?;
    let reason = required(&form.reason, |w| w.what_ban_reason)?;
    let p = app.ban_preview(&caller, id).await?;
    if p.seller.standing == Standing::Banned {
        return Err(says(StatusCode::CONFLICT, |w| w.err_already_banned));
    }
    Ok((private_headers(), ban_confirm_page(nav, p, reason, None)).into_response())
}

/// The ban's second step: only with the confirmation ticked does it ban.
async fn ban(
    State(app): State<App>,
    Extension(page): Extension<PageContext>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<ReasonForm>,
) -> Result<Response, PageError> {
    let (nav, caller) = admin(&app, &headers, &page, "/admin/sellers").await?;
    let id = checked_id(&id)?;
    let reason = required(&form.reason, |w| w.what_ban_reason)?;
    if form.confirm != "yes" {
        let p = app.ban_preview(&caller, id).await?;
        let message = admin_words::of(nav.lang()).err_confirm_ban.to_string();
        let page = ban_confirm_page(nav, p, reason, Some(message));
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, private_headers(), page).into_response());
    }
    app.ban_seller(&caller, id, &reason).await?;
    Ok(back_to(&format!("/admin/sellers/{id}?done=banned")))
}

// ---------------------------------------------------------------- reconciliation

struct RunLine {
    at: TimeView,
    from: TimeView,
    to: TimeView,
    matched: i64,
    applied_late: i64,
    missing: i64,
    mismatch: i64,
}

struct ExceptionLine {
    id: String,
    kind: &'static str,
    txn: String,
    detail: String,
    at: TimeView,
    refundable: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/reconciliation.html")]
struct ReconciliationPage {
    nav: ConsoleNav,
    w: &'static W,
    done: Option<&'static str>,
    runs: Vec<RunLine>,
    exceptions: Vec<ExceptionLine>,
    exception_count: i64,
}

fn exception_kind(w: &W, kind: &str) -> &'static str {
    match kind {
        "amount_mismatch" => w.exc_amount_mismatch,
        "missing_at_provider" => w.exc_missing_at_provider,
        "applied_late" => w.exc_applied_late,
        _ => w.exc_other,
    }
}

async fn reconciliation(
    State(app): State<App>,
    Extension(page): Extension<PageContext>,
    headers: HeaderMap,
    Query(done): Query<Done>,
) -> Result<Response, PageError> {
    let (nav, caller) = admin(&app, &headers, &page, "/admin/reconciliation").await?;
    let o = app.reconciliation_overview(&caller).await?;
    let w = admin_words::of(nav.lang());
    let html = ReconciliationPage {
        nav,
        w,
        done: done_message(w, &done),
        exception_count: o.open_exceptions.len() as i64,
        runs: o
            .runs
            .into_iter()
            .map(|r| RunLine {
                at: TimeView::new(&r.created_at),
                from: TimeView::new(&r.from),
                to: TimeView::new(&r.to),
                matched: r.matched,
                applied_late: r.applied_late,
                missing: r.missing_at_provider,
                mismatch: r.amount_mismatch,
            })
            .collect(),
        exceptions: o
            .open_exceptions
            .into_iter()
            .map(|e| ExceptionLine {
                refundable: e.kind == "amount_mismatch",
                kind: exception_kind(w, &e.kind),
                id: e.id,
                txn: e.provider_txn_id,
                detail: e.detail.to_string(),
                at: TimeView::new(&e.created_at),
            })
            .collect(),
    };
    Ok((private_headers(), html).into_response())
}

#[derive(Deserialize)]
struct DayForm {
    #[serde(default)]
    day: String,
}

/// Milliseconds since the epoch at 00:00 UTC of a `YYYY-MM-DD` day (what a date input sends).
fn day_start_ms(day: &str) -> Option<i64> {
    let mut parts = day.trim().splitn(3, '-');
    let y: i64 = parts.next()?.parse().ok()?;
    let m: i64 = parts.next()?.parse().ok()?;
    let d: i64 = parts.next()?.parse().ok()?;
    if !(1970..=9999).contains(&y) || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    // Days from civil (H. Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some((era * 146_097 + doe - 719_468) * 86_400_000)
}

async fn reconcile_day(
    State(app): State<App>,
    Extension(page): Extension<PageContext>,
    headers: HeaderMap,
    Form(form): Form<DayForm>,
) -> Result<Response, PageError> {
    let (_, caller) = admin(&app, &headers, &page, "/admin/reconciliation").await?;
    let from = day_start_ms(&form.day).ok_or_else(|| unprocessable(|w| w.err_choose_day))?;
    app.reconcile_as(&caller, from, from + 86_400_000).await?;
    Ok(back_to("/admin/reconciliation?done=reconciled"))
}

#[derive(Deserialize)]
struct ResolveForm {
    #[serde(default)]
    action: String,
    #[serde(default)]
    note: String,
}

async fn resolve_exception(
    State(app): State<App>,
    Extension(page): Extension<PageContext>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<ResolveForm>,
) -> Result<Response, PageError> {
    let (_, caller) = admin(&app, &headers, &page, "/admin/reconciliation").await?;
    let id = checked_id(&id)?;
    let note = required(&form.note, |w| w.what_note)?;
    if !matches!(form.action.as_str(), "refund" | "acknowledge") {
        return Err(unprocessable(|w| w.err_choose_action));
    }
    app.resolve_exception(&caller, id, &form.action, &note).await?;
    Ok(back_to("/admin/reconciliation?done=resolved"))
}

// ---------------------------------------------------------------- accounts

struct AccountLine {
    username: String,
    role: &'static str,
    disabled_at: Option<TimeView>,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/accounts.html")]
struct AccountsPage {
    nav: ConsoleNav,
    w: &'static W,
    done: Option<&'static str>,
    accounts: Vec<AccountLine>,
}

async fn accounts(
    State(app): State<App>,
    Extension(page): Extension<PageContext>,
    headers: HeaderMap,
    Query(done): Query<Done>,
) -> Result<Response, PageError> {
    let (nav, caller) = admin(&app, &headers, &page, "/admin/accounts").await?;
    let list = app.staff_accounts(&caller).await?;
    let l = nav.lang();
    let w = admin_words::of(l);
    let html = AccountsPage {
        nav,
        w,
        done: done_message(w, &done),
        accounts: list
            .into_iter()
            .map(|a| AccountLine {
                username: a.username,
                role: role(l, a.role),
                disabled_at: a.disabled_at.as_deref().map(TimeView::new),
            })
            .collect(),
    };
    Ok((private_headers(), html).into_response())
}

#[derive(Deserialize)]
struct NewAccountForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    role: String,
}

async fn create_account(
    State(app): State<App>,
    Extension(page): Extension<PageContext>,
    headers: HeaderMap,
    Form(form): Form<NewAccountForm>,
) -> Result<Response, PageError> {
    let (_, caller) = admin(&app, &headers, &page, "/admin/accounts").await?;
    let role = match form.role.as_str() {
        "arbitrator" => Role::Arbitrator,
        "admin" => Role::Admin,
        _ => return Err(unprocessable(|w| w.err_choose_role)),
    };
    app.create_staff_account(&caller, form.username.trim(), &form.password, role)
        .await
        .map_err(|e| match e {
            danbao_app::AppError::Validation { field: "username", .. } => unprocessable(|w| w.err_username),
            danbao_app::AppError::Validation { field: "password", .. } => unprocessable(|w| w.err_password),
            other => other.into(),
        })?;
    Ok(back_to("/admin/accounts?done=created"))
}

#[derive(Deserialize)]
struct DisableForm {
    #[serde(default)]
    username: String,
}

async fn disable_account(
    State(app): State<App>,
    Extension(page): Extension<PageContext>,
    headers: HeaderMap,
    Form(form): Form<DisableForm>,
) -> Result<Response, PageError> {
    let (_, caller) = admin(&app, &headers, &page, "/admin/accounts").await?;
    let username = required(&form.username, |w| w.what_disable_username)?;
    app.disable_account(&caller, &username).await.map_err(|e| match e {
        danbao_app::AppError::NotFound(_) => says(StatusCode::NOT_FOUND, |w| w.err_no_such_account),
        other => other.into(),
    })?;
    Ok(back_to("/admin/accounts?done=disabled"))
}

// ---------------------------------------------------------------- rules

struct VersionLine {
    version: i64,
    hash: String,
    published_at: TimeView,
    current: bool,
}

/// One line of a diff: ' ' kept, '-' only in the older, '+' only in the newer.
struct DiffLine {
    sign: char,
    text: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "admin/rules.html")]
struct RulesPage {
    nav: ConsoleNav,
    w: &'static W,
    done: Option<&'static str>,
    versions: Vec<VersionLine>,
    from: i64,
    to: i64,
    diff: Vec<DiffLine>,
    changed: i64,
    draft: String,
}

#[derive(Deserialize, Default)]
struct DiffQuery {
    from: Option<i64>,
    to: Option<i64>,
    done: Option<String>,
}

/// Bounds the diff's work (the table is lines × lines).
const DIFF_LINES_MAX: usize = 2_000;

/// A line diff by longest common subsequence.
fn line_diff(old: &str, new: &str) -> Vec<DiffLine> {
    let a: Vec<&str> = old.lines().take(DIFF_LINES_MAX).collect();
    let b: Vec<&str> = new.lines().take(DIFF_LINES_MAX).collect();
    let (n, m) = (a.len(), b.len());
    let mut lcs = vec![vec![0u32; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::new();
    let line = |sign, text: &str| DiffLine {
        sign,
        text: text.to_string(),
    };
    while i < n && j < m {
        if a[i] == b[j] {
            out.push(line(' ', a[i]));
            i += 1;
            j += 1;
        } else if lcs[i + 1][j] >= lcs[i][j + 1] {
            out.push(line('-', a[i]));
            i += 1;
        } else {
            out.push(line('+', b[j]));
            j += 1;
        }
    }
    out.extend(a[i..].iter().map(|t| line('-', t)));
    out.extend(b[j..].iter().map(|t| line('+', t)));
    out
}

async fn rules(
    State(app): State<App>,
    Extension(page): Extension<PageContext>,
    headers: HeaderMap,
    Query(q): Query<DiffQuery>,
) -> Result<Response, PageError> {
    let (nav, caller) = admin(&app, &headers, &page, "/admin/rules").await?;
    let versions = app.rule_versions(&caller).await?;
    // By default: what the latest version changed against the one before.
    let latest = versions.first().map_or(0, |v| v.version);
    let to = q.to.unwrap_or(latest);
    let from = q.from.unwrap_or(to - 1);
    let body = |v: i64| versions.iter().find(|r| r.version == v).map(|r| r.body.as_str());
    let diff = match (body(from), body(to)) {
        (Some(a), Some(b)) => line_diff(a, b),
        _ => Vec::new(),
    };
    let draft = versions.first().map(|v| v.body.clone()).unwrap_or_default();
    let w = admin_words::of(nav.lang());
    let html = RulesPage {
        nav,
        w,
        done: done_message(w, &Done { done: q.done }),
        changed: diff.iter().filter(|d| d.sign != ' ').count() as i64,
        diff,
        from,
        to,
        draft,
        versions: versions
            .into_iter()
            .map(|v| VersionLine {
                version: v.version,
                hash: v.content_hash.chars().take(12).collect(),
                published_at: TimeView::new(&v.published_at),
                current: v.current,
            })
            .collect(),
    };
    Ok((private_headers(), html).into_response())
}

#[derive(Deserialize)]
struct PublishForm {
    #[serde(default)]
    rules: String,
}

async fn publish_rules(
    State(app): State<App>,
    Extension(page): Extension<PageContext>,
    headers: HeaderMap,
    Form(form): Form<PublishForm>,
) -> Result<Response, PageError> {
    let (_, caller) = admin(&app, &headers, &page, "/admin/rules").await?;
    let text = required(&form.rules, |w| w.what_rules)?;
    let published = app.publish_rules(&caller, &text).await.map_err(|e| match e {
        danbao_app::AppError::Validation { problem, .. } => PageError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            Text::by(move |w| admin_words::of(w.lang).rules_refused(&super::labels::invalid(w.lang, &problem))),
        ),
        other => other.into(),
    })?;
    Ok(back_to(&format!(
        "/admin/rules?from={}&to={}&done=published",
        published.version - 1,
        published.version
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_utc_midnights() {
        assert_eq!(day_start_ms("1970-01-01"), Some(0));
        assert_eq!(day_start_ms("2026-12-02"), Some(1_796_169_600_000));
        assert_eq!(day_start_ms("2024-02-29"), Some(1_709_164_800_000));
        assert_eq!(day_start_ms("2026-13-01"), None);
        assert_eq!(day_start_ms("x"), None);
    }

    #[test]
    fn diffs_keep_common_lines() {
        let d = line_diff("a\nb\nc\n", "a\nc\nd\n");
        let signs: String = d.iter().map(|l| l.sign).collect();
        assert_eq!(signs, " - +");
        assert_eq!(d[3].text, "d");
    }
}
