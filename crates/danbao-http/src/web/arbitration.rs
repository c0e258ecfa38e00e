//! The arbitration desk (`/arbitration`): the queue, a case, the ruling.
//!
//! Every page and form is the arbitrator's (`staff::console_user`); the use cases check
//! the role again and decide what is allowed (who holds a case, which step follows which
//! stage). The desk shows what the domain offers (`ComplaintView.actions`) and nothing else.

use super::error::PageError;
use super::forms::PageContext;
use super::labels::{
    complaint_event_detail_zh, complaint_event_label_zh, complaint_kind_zh, complaint_stage_zh, evidence_kind_zh,
    party_zh, ruled_by_zh, ruling_label_zh, ruling_reason_zh, standing_zh, triage_reason_zh,
};
use super::staff::{console_user, ConsoleNav};
use super::{page_url, private_headers, yuan, EventItem, TimeView};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Extension, Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use danbao_app::complaints::ComplaintView;
use danbao_app::{App, AppError, Caller, Role, User};
use danbao_domain::complaint::{ComplaintAction, Proposal, Ruling};
use serde::Deserialize;

pub(super) fn routes() -> Router<App> {
    Router::new()
        .route("/arbitration", get(queue))
        .route("/arbitration/cases/{id}", get(case_page))
        .route("/arbitration/cases/{id}/take", post(take))
        .route("/arbitration/cases/{id}/step", post(step))
        .route("/arbitration/cases/{id}/ruling", post(rule))
        .route("/arbitration/cases/{id}/seller/freeze", post(freeze_seller))
        .route("/arbitration/cases/{id}/seller/unfreeze", post(unfreeze_seller))
}

const HOUR_MS: i64 = 3_600_000;

/// A case whose clock has less than this left is marked urgent: a quarter of the
/// shortest clock a party has (the seller's 48 h to answer), so a case is flagged while
/// there is still a working day to act on it.
const URGENT_WITHIN_MS: i64 = 12 * HOUR_MS;

fn case_url(id: &str) -> Option<String> {
    page_url("arbitration/cases", id)
}

/// An arbitrator's own mark on a case (`assigned_to`), as the app writes it.
fn marker(user: &User) -> String {
    format!("user:{}", user.id)
}

/// Who holds a case, from the viewer's side.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Holder {
    Nobody,
    Me,
    Other,
}

impl Holder {
    fn of(assigned_to: Option<&str>, me: &str) -> Holder {
        match assigned_to {
            None => Holder::Nobody,
            Some(who) if who == me => Holder::Me,
            Some(_) => Holder::Other,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Holder::Nobody => "未领取",
            Holder::Me => "我",
            Holder::Other => "其他仲裁员",
        }
    }
}

/// What happens when a stage's clock runs out, in the desk's words.
fn deadline_meaning(stage: &str) -> &'static str {
    match stage {
        "awaiting_seller" => "卖家回应期限：逾期未回应，系统将判定全额退款给买家",
        "awaiting_buyer" => "买家补证期限：逾期未补充，系统将判定放款给卖家",
        "appraisal" => "第三方鉴定期限：逾期自动转回审核",
        _ => "处理期限",
    }
}

/// Time left on a clock, or how late it is.
fn remaining_zh(left_ms: i64) -> String {
    if left_ms <= 0 {
        return "已逾期".to_string();
    }
    let hours = left_ms / HOUR_MS;
    let minutes = (left_ms % HOUR_MS) / 60_000;
    match hours {
        0 => format!("剩余 {minutes} 分钟"),
        h if h < 48 => format!("剩余 {h} 小时 {minutes} 分"),
        h => format!("剩余 {} 天 {} 小时", h / 24, h % 24),
    }
}

fn collective_status_zh(status: &str) -> &'static str {
    match status {
        "pending" => "待复核",
        "escalated" => "复核逾期，已上报管理员",
        "kept" => "已复核：维持冻结",
        "lifted" => "已复核：解除冻结",
        "banned" => "已复核：卖家封禁",
        _ => "未知",
    }
}

/// A clock on a case.
struct ClockView {
    at: TimeView,
    left: String,
    urgent: bool,
}

fn clock_view(deadline: Option<&str>, now_ms: i64) -> Option<ClockView> {
    let at = deadline?;
    let left_ms = danbao_app::clock::parse_rfc3339(at).map_or(0, |d| d.saturating_sub(now_ms));
    Some(ClockView {
        at: TimeView::new(at),
        left: remaining_zh(left_ms),
        urgent: left_ms < URGENT_WITHIN_MS,
    })
}

struct ProposalView {
    ruling: Option<String>,
    decide_now: bool,
    completeness_pct: i64,
    reasons: Vec<String>,
}

fn proposal_view(p: &Proposal) -> ProposalView {
    let ruling = p.ruling.and_then(|r| serde_json::to_value(r).ok());
    ProposalView {
        ruling: ruling.as_ref().and_then(ruling_label_zh),
        decide_now: p.decide_now,
        completeness_pct: p.completeness_pct,
        reasons: p.reasons.iter().map(triage_reason_zh).collect(),
    }
}

struct CollectiveView {
    status: &'static str,
    pending: bool,
    due: TimeView,
    people: i64,
    amount: String,
}

fn collective_view(c: &ComplaintView) -> Option<CollectiveView> {
    let r = c.collective_review.as_ref()?;
    Some(CollectiveView {
        status: collective_status_zh(&r.status),
        pending: matches!(r.status.as_str(), "pending" | "escalated"),
        due: TimeView::new(&r.review_due_at),
        people: r.people,
        amount: yuan(r.amount_minor),
    })
}

// ---- the queue ----

struct QueueRow {
    url: Option<String>,
    short_id: String,
    kind_label: String,
    stage_label: String,
    amount: String,
    clock: Option<ClockView>,
    proposal: String,
    holder: Holder,
    holder_label: &'static str,
    can_take: bool,
    id: String,
    collective: Option<&'static str>,
    created_at: TimeView,
    /// The seller's record: complaints per paid order, and how many they lost outright.
    seller_history: String,
}

fn seller_history_zh(h: danbao_app::backoffice::SellerHistory) -> String {
    match h.complaint_rate_bps() {
        Some(bps) => format!(
            "投诉率 {}.{:02}%（{} 投诉 / {} 单），全额退款败诉 {}",
            bps / 100,
            bps % 100,
            h.complaints,
            h.paid_orders,
            h.lost
        ),
        None => format!("暂无成交；投诉 {}", h.complaints),
    }
}

struct Figure {
    label: &'static str,
    value: usize,
}

struct FilterOption {
    value: &'static str,
    label: &'static str,
    selected: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "arbitration/queue.html")]
struct QueuePage {
    nav: ConsoleNav,
    figures: Vec<Figure>,
    views: Vec<FilterOption>,
    kinds: Vec<FilterOption>,
    rows: Vec<QueueRow>,
    /// Cases left out by the filter.
    hidden: usize,
    csrf: String,
}

#[derive(Deserialize, Default)]
struct QueueQuery {
    #[serde(default)]
    view: String,
    #[serde(default)]
    kind: String,
}

const VIEWS: &[(&str, &str)] = &[
    ("all", "全部待处理"),
    ("mine", "我领取的"),
    ("unassigned", "未领取"),
    ("urgent", "即将到期"),
    ("collective", "集体投诉"),
];
const KINDS: &[(&str, &str)] = &[
    ("", "全部类型"),
    ("not_delivered", "未发货"),
    ("not_as_described", "货不对板"),
    ("fraud", "欺诈"),
    ("other", "其他"),
];

fn options(list: &'static [(&'static str, &'static str)], selected: &str) -> Vec<FilterOption> {
    list.iter()
        .map(|(value, label)| FilterOption {
            value,
            label,
            selected: *value == selected,
        })
        .collect()
}

async fn queue(
    State(app): State<App>,
    Extension(page): Extension<PageContext>,
    headers: HeaderMap,
    Query(q): Query<QueueQuery>,
) -> Result<Response, PageError> {
    let user = console_user(&app, &headers, Role::Arbitrator).await?;
    let nav = ConsoleNav::new(&user, "/arbitration", &page);
    let me = marker(&user);
    let caller = Caller::User(user);
    let cases = app.complaint_queue(&caller).await?;
    let sellers: Vec<String> = cases.iter().map(|c| c.seller_id.clone()).collect();
    let histories = app.seller_histories(&caller, &sellers).await?;
    let now = app.now();
    let view = if VIEWS.iter().any(|(v, _)| *v == q.view) {
        q.view.as_str()
    } else {
        "all"
    };
    let kind = if KINDS.iter().any(|(k, _)| *k == q.kind) {
        q.kind.as_str()
    } else {
        ""
    };
    let rows: Vec<QueueRow> = cases
        .iter()
        .map(|c| {
            let held = c.assigned_to.as_deref();
            QueueRow {
                url: case_url(&c.id),
                short_id: c.id.get(c.id.len().saturating_sub(8)..).unwrap_or(&c.id).to_string(),
                kind_label: complaint_kind_zh(&c.kind),
                stage_label: complaint_stage_zh(&c.stage),
                amount: yuan(c.amount_minor),
                clock: clock_view(c.deadline_at.as_deref(), now),
                proposal: match c.proposal.as_ref().map(proposal_view) {
                    Some(p) => format!(
                        "{}（证据 {}%）",
                        p.ruling.unwrap_or_else(|| "待审核".to_string()),
                        p.completeness_pct
                    ),
                    None => "尚未预审".to_string(),
                },
                holder: Holder::of(held, &me),
                holder_label: Holder::of(held, &me).label(),
                can_take: held.is_none() && c.actions.contains(&ComplaintAction::Take),
                id: c.id.clone(),
                collective: collective_view(c).map(|v| v.status),
                created_at: TimeView::new(&c.created_at),
                seller_history: seller_history_zh(histories.get(&c.seller_id).copied().unwrap_or_default()),
            }
        })
        .collect();
    let count = |f: &dyn Fn(&QueueRow) -> bool| rows.iter().filter(|r| f(r)).count();
    let urgent = |r: &QueueRow| r.clock.as_ref().is_some_and(|c| c.urgent);
    let figures = vec![
        Figure {
            label: "待处理",
            value: rows.len(),
        },
        Figure {
            label: "我领取的",
            value: count(&|r| r.holder == Holder::Me),
        },
        Figure {
            label: "未领取",
            value: count(&|r| r.holder == Holder::Nobody),
        },
        Figure {
            label: "12 小时内到期",
            value: count(&urgent),
        },
        Figure {
            label: "集体投诉",
            value: count(&|r| r.collective.is_some()),
        },
    ];
    let total = rows.len();
    let rows: Vec<QueueRow> = rows
        .into_iter()
        .zip(cases.iter())
        .filter(|(r, c)| {
            let in_view = match view {
                "mine" => r.holder == Holder::Me,
                "unassigned" => r.holder == Holder::Nobody,
                "urgent" => urgent(r),
                "collective" => r.collective.is_some(),
                _ => true,
            };
            in_view && (kind.is_empty() || c.kind == kind)
        })
        .map(|(r, _)| r)
        .collect();
    let html = QueuePage {
        nav,
        figures,
        views: options(VIEWS, view),
        kinds: options(KINDS, kind),
        hidden: total - rows.len(),
        rows,
        csrf: page.csrf.clone(),
    };
    Ok((private_headers(), html).into_response())
}

// ---- a case ----

struct EvidenceItem {
    /// `buyer`, `seller` or `arbitrator`: which column of the desk it sits in.
    side: String,
    party: &'static str,
    kind_label: String,
    text: Option<String>,
    /// The file's address on the desk, with whether it is shown as a picture.
    file_url: Option<String>,
    inline: bool,
    file_note: Option<String>,
    at: TimeView,
}

struct RulingView {
    label: String,
    by: Option<String>,
    reason: Option<String>,
    at: Option<TimeView>,
}

struct SellerView {
    username: String,
    standing: &'static str,
    frozen: bool,
    banned: bool,
    frozen_amount: String,
    reason: Option<String>,
}

/// What the arbitrator typed, kept when a form is refused.
#[derive(Default)]
struct Drafts {
    note: String,
    ruling_kind: String,
    buyer_percent: String,
    reason: String,
    seller_reason: String,
    /// What the ruling in the form would pay, when the arbitrator asked to see it.
    preview: Option<PreviewView>,
}

struct PreviewView {
    label: String,
    to_buyer: String,
    to_seller: String,
    fee: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "arbitration/case.html")]
struct CasePage {
    nav: ConsoleNav,
    csrf: String,
    error: Option<String>,
    id: String,
    order_id: String,
    kind_label: String,
    stage_label: String,
    open: bool,
    clock: Option<ClockView>,
    clock_meaning: &'static str,
    amount: String,
    created_at: TimeView,
    holder: &'static str,
    rule_version: i64,
    proposal: Option<ProposalView>,
    collective: Option<CollectiveView>,
    ruling: Option<RulingView>,
    seller: Option<SellerView>,
    evidence: Vec<EvidenceItem>,
    buyer_evidence: usize,
    seller_evidence: usize,
    events: Vec<EventItem>,
    /// The order's own record, each event checked against the evidence log.
    order_timeline: Vec<CheckedEvent>,
    order_timeline_intact: bool,
    can_take: bool,
    can_rule: bool,
    can_ask_buyer: bool,
    can_start_appraisal: bool,
    can_finish_appraisal: bool,
    /// Held by another arbitrator: the desk says so instead of offering forms that the
    /// use case would refuse.
    held_elsewhere: bool,
    rulings: Vec<FilterOption>,
    drafts: Drafts,
}

const RULINGS: &[(&str, &str)] = &[
    ("refund_full", "全额退款给买家"),
    ("release_to_seller", "放款给卖家"),
    ("split", "按比例分配（填写买家所得比例）"),
    ("redeliver", "卖家重新发货（可填写退还买家的比例）"),
];

fn evidence_item(case_id: &str, e: &danbao_app::complaints::EvidenceView) -> EvidenceItem {
    // The parties' own file route (`complaints::evidence_file`) serves staff as well,
    // with one rule for what is shown inline: pictures.
    let file_url = e
        .file_sha256
        .as_deref()
        .filter(|sha| is_sha256(sha))
        .and_then(|sha| page_url("complaints", case_id).map(|u| format!("{u}/files/{sha}")));
    let media = e.media_type.as_deref().unwrap_or("未知类型");
    EvidenceItem {
        side: e.party.clone(),
        party: party_zh(&e.party),
        kind_label: evidence_kind_zh(&e.kind),
        text: e.text.clone(),
        inline: media.starts_with("image/"),
        file_note: e.file_sha256.as_ref().map(|sha| {
            let size = size_zh(e.size_bytes.unwrap_or(0));
            format!("{media}，{size}，sha256 {sha}")
        }),
        file_url,
        at: TimeView::new(&e.at),
    }
}

fn size_zh(bytes: i64) -> String {
    match bytes {
        b if b < 1024 => format!("{b} 字节"),
        b if b < 1024 * 1024 => format!("{} KB", b / 1024),
        b => format!("{}.{} MB", b / (1024 * 1024), (b % (1024 * 1024)) * 10 / (1024 * 1024)),
    }
}

/// One event of the order's timeline as the desk shows it: checked (with its leaf in
/// the log, whose public receipt anyone can fetch) or broken (and why).
struct CheckedEvent {
    at: TimeView,
    label: String,
    detail: Option<String>,
    leaf_index: Option<u64>,
    verified: bool,
    problem: Option<String>,
}

async fn render_case(
    app: &App,
    user: User,
    page: &PageContext,
    id: &str,
    status: StatusCode,
    drafts: Drafts,
    error: Option<String>,
) -> Result<Response, PageError> {
    let nav = ConsoleNav::new(&user, "/arbitration", page);
    let me = marker(&user);
    let caller = Caller::User(user);
    let c = app.complaint(&caller, id).await?;
    let seller = match app.seller_on_case(&caller, &c.seller_id).await {
        Ok(s) => Some(SellerView {
            username: s.username,
            standing: standing_zh(s.standing.status),
            frozen: s.standing.status == danbao_domain::seller::Standing::Frozen,
            banned: s.standing.status == danbao_domain::seller::Standing::Banned,
            frozen_amount: yuan(s.standing.frozen_minor),
            reason: s.standing.reason,
        }),
        // A case always has its seller; if the account is gone the case still shows.
        Err(AppError::NotFound(_)) => None,
        Err(e) => return Err(e.into()),
    };
    let timeline = app.case_order_timeline(&caller, id).await?;
    let open = !matches!(c.stage.as_str(), "resolved" | "withdrawn");
    let held = c.assigned_to.as_deref();
    let held_elsewhere = Holder::of(held, &me) == Holder::Other;
    let may = |a: ComplaintAction| c.actions.contains(&a) && !held_elsewhere;
    let ruling = c.ruling.as_ref().map(|r| RulingView {
        label: ruling_label_zh(r).unwrap_or_else(|| "已裁决".to_string()),
        by: c.ruled_by.as_deref().map(ruled_by_zh),
        reason: c.ruling_reason.as_ref().map(ruling_reason_zh),
        at: c.resolved_at.as_deref().map(TimeView::new),
    });
    let selected = if drafts.ruling_kind.is_empty() {
        // The proposal's ruling is the starting point; the arbitrator decides.
        c.proposal
            .as_ref()
            .and_then(|p| p.ruling)
            .and_then(|r| serde_json::to_value(r).ok())
            .and_then(|v| v.get("kind").and_then(|k| k.as_str()).map(str::to_string))
            .unwrap_or_default()
    } else {
        drafts.ruling_kind.clone()
    };
    let html = CasePage {
        nav,
        csrf: page.csrf.clone(),
        error,
        clock: if open {
            clock_view(c.deadline_at.as_deref(), app.now())
        } else {
            None
        },
        clock_meaning: deadline_meaning(&c.stage),
        kind_label: complaint_kind_zh(&c.kind),
        stage_label: complaint_stage_zh(&c.stage),
        open,
        amount: yuan(c.amount_minor),
        created_at: TimeView::new(&c.created_at),
        holder: Holder::of(held, &me).label(),
        rule_version: c.rule_version,
        proposal: if c.stage == "withdrawn" {
            None
        } else {
            c.proposal.as_ref().map(proposal_view)
        },
        collective: collective_view(&c),
        ruling,
        seller,
        buyer_evidence: c.evidence.iter().filter(|e| e.party == "buyer").count(),
        seller_evidence: c.evidence.iter().filter(|e| e.party == "seller").count(),
        evidence: c.evidence.iter().map(|e| evidence_item(&c.id, e)).collect(),
        events: c
            .events
            .iter()
            .map(|e| EventItem {
                at: TimeView::new(&e.at),
                label: complaint_event_label_zh(&e.kind),
                detail: complaint_event_detail_zh(&e.detail),
                proof: None,
            })
            .collect(),
        order_timeline_intact: timeline.intact,
        order_timeline: timeline
            .events
            .iter()
            .map(|e| CheckedEvent {
                at: TimeView::new(&e.at),
                label: super::labels::event_label_zh(&e.kind),
                detail: super::labels::event_detail_zh(&e.detail),
                leaf_index: e.leaf_index,
                verified: e.verified,
                problem: e.problem.clone(),
            })
            .collect(),
        can_take: held.is_none() && c.actions.contains(&ComplaintAction::Take),
        can_rule: may(ComplaintAction::Rule),
        can_ask_buyer: may(ComplaintAction::AskBuyer),
        can_start_appraisal: may(ComplaintAction::StartAppraisal),
        can_finish_appraisal: may(ComplaintAction::FinishAppraisal),
        held_elsewhere: open && held_elsewhere,
        rulings: RULINGS
            .iter()
            .map(|(value, label)| FilterOption {
                value,
                label,
                selected: *value == selected,
            })
            .collect(),
        drafts,
        id: c.id,
        order_id: c.order_id,
    };
    Ok((status, private_headers(), html).into_response())
}

async fn case_page(
    State(app): State<App>,
    Extension(page): Extension<PageContext>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let user = console_user(&app, &headers, Role::Arbitrator).await?;
    render_case(&app, user, &page, &id, StatusCode::OK, Drafts::default(), None).await
}

fn is_sha256(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

// ---- what the arbitrator does ----

/// A textarea's text as stored: browsers send CRLF line ends, surrounding blanks dropped.
fn form_text(text: &str) -> String {
    text.replace("\r\n", "\n").trim().to_string()
}

fn to_case(id: &str) -> Result<Response, PageError> {
    let url = case_url(id).ok_or_else(PageError::complaint_not_found)?;
    Ok((private_headers(), Redirect::to(&url)).into_response())
}

/// A refused action: shown on the case page again with the message and what was typed,
/// unless there is no case to show (not found) or the server failed.
async fn refused(
    app: &App,
    user: User,
    page: &PageContext,
    id: &str,
    e: PageError,
    drafts: Drafts,
) -> Result<Response, PageError> {
    if e.status == StatusCode::NOT_FOUND || e.status.is_server_error() {
        return Err(e);
    }
    render_case(app, user, page, id, e.status, drafts, Some(e.message_in(&page.ui))).await
}

async fn take(
    State(app): State<App>,
    Extension(page): Extension<PageContext>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let user = console_user(&app, &headers, Role::Arbitrator).await?;
    match app.assign_complaint(&Caller::User(user.clone()), &id).await {
        Ok(c) => to_case(&c.id),
        Err(e) => refused(&app, user, &page, &id, e.into(), Drafts::default()).await,
    }
}

#[derive(Deserialize)]
struct StepForm {
    #[serde(default)]
    step: String,
    #[serde(default)]
    note: String,
}

async fn step(
    State(app): State<App>,
    Extension(page): Extension<PageContext>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Form(form): Form<StepForm>,
) -> Result<Response, PageError> {
    let user = console_user(&app, &headers, Role::Arbitrator).await?;
    let note = form_text(&form.note);
    match app
        .arbitrator_step(&Caller::User(user.clone()), &id, &form.step, &note)
        .await
    {
        Ok(c) => to_case(&c.id),
        Err(e) => {
            let e = match e {
                AppError::Validation { field: "step", .. } => {
                    PageError::new(StatusCode::UNPROCESSABLE_ENTITY, "请选择要进行的操作")
                }
                other => other.into(),
            };
            let drafts = Drafts {
                note,
                ..Drafts::default()
            };
            refused(&app, user, &page, &id, e, drafts).await
        }
    }
}

#[derive(Deserialize)]
struct RulingForm {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    buyer_percent: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    confirm: String,
    /// The "预览结算" button: show what the ruling would pay, decide nothing.
    #[serde(default)]
    preview: String,
}

/// A percentage as typed ("50", "32.5", "12.25") in basis points; at most two decimals.
/// The range is the domain's to check (`Ruling::parse`).
fn percent_to_bps(text: &str) -> Option<i64> {
    let text = text.trim().trim_end_matches('%').trim();
    let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
    if whole.is_empty() || whole.len() > 3 || frac.len() > 2 {
        return None;
    }
    if !whole.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let whole: i64 = whole.parse().ok()?;
    let frac: i64 = format!("{frac:0<2}").parse().ok()?;
    Some(whole * 100 + frac)
}

/// The ruling as the form gives it, or the message that says what is wrong with it.
fn ruling_of(form: &RulingForm) -> Result<Ruling, &'static str> {
    let needs_percent = matches!(form.kind.as_str(), "split" | "redeliver");
    let bps = if needs_percent {
        match form.buyer_percent.trim() {
            "" if form.kind == "redeliver" => Some(0),
            "" => return Err("按比例分配须填写买家所得比例"),
            typed => Some(percent_to_bps(typed).ok_or("比例须为 0 到 100 之间的数，最多两位小数")?),
        }
    } else {
        None
    };
    Ruling::parse(&form.kind, bps).map_err(|e| match e {
        danbao_domain::complaint::RulingError::Unknown(_) => "请选择裁决结果",
        danbao_domain::complaint::RulingError::BpsOutOfRange(_) => "比例须为 0 到 100 之间的数，最多两位小数",
        danbao_domain::complaint::RulingError::MissingBps(_) => "按比例分配须填写买家所得比例",
    })
}

async fn rule(
    State(app): State<App>,
    Extension(page): Extension<PageContext>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Form(form): Form<RulingForm>,
) -> Result<Response, PageError> {
    let user = console_user(&app, &headers, Role::Arbitrator).await?;
    let reason = form_text(&form.reason);
    let drafts = Drafts {
        ruling_kind: form.kind.clone(),
        buyer_percent: form.buyer_percent.trim().to_string(),
        reason: reason.clone(),
        ..Drafts::default()
    };
    let unfit = |message: &str| PageError::new(StatusCode::UNPROCESSABLE_ENTITY, message.to_string());
    if form.preview == "yes" {
        let ruling = match ruling_of(&form) {
            Ok(r) => r,
            Err(message) => return refused(&app, user, &page, &id, unfit(message), drafts).await,
        };
        let caller = Caller::User(user.clone());
        return match app.preview_ruling(&caller, &id, ruling).await {
            Ok(p) => {
                let label = serde_json::to_value(ruling)
                    .ok()
                    .as_ref()
                    .and_then(ruling_label_zh)
                    .unwrap_or_default();
                let drafts = Drafts {
                    preview: Some(PreviewView {
                        label,
                        to_buyer: yuan(p.to_buyer_minor),
                        to_seller: yuan(p.to_seller_minor),
                        fee: yuan(p.fee_minor),
                    }),
                    ..drafts
                };
                render_case(&app, user, &page, &id, StatusCode::OK, drafts, None).await
            }
            Err(e) => refused(&app, user, &page, &id, e.into(), drafts).await,
        };
    }
    // A ruling moves money at once and cannot be undone: the box says the arbitrator
    // meant it (the browser asks for it too; this is for anything that skips the page).
    if form.confirm != "yes" {
        let e = unfit("裁决一经提交立即执行且不可撤销，请勾选确认后再提交");
        return refused(&app, user, &page, &id, e, drafts).await;
    }
    let ruling = match ruling_of(&form) {
        Ok(r) => r,
        Err(message) => return refused(&app, user, &page, &id, unfit(message), drafts).await,
    };
    match app
        .rule_complaint(&Caller::User(user.clone()), &id, ruling, &reason)
        .await
    {
        Ok(c) => to_case(&c.id),
        Err(e) => refused(&app, user, &page, &id, e.into(), drafts).await,
    }
}

#[derive(Deserialize)]
struct SellerForm {
    #[serde(default)]
    reason: String,
}

/// Freeze or unfreeze the case's seller. The seller is the case's, never one named by
/// the form, so the desk acts only on sellers it has a case against.
async fn change_seller(
    app: App,
    page: PageContext,
    id: String,
    headers: HeaderMap,
    form: SellerForm,
    freeze: bool,
) -> Result<Response, PageError> {
    let user = console_user(&app, &headers, Role::Arbitrator).await?;
    let caller = Caller::User(user.clone());
    let reason = form_text(&form.reason);
    let c = app.complaint(&caller, &id).await?;
    let done = if freeze {
        app.freeze_seller(&caller, &c.seller_id, &reason).await
    } else {
        app.unfreeze_seller(&caller, &c.seller_id, &reason).await
    };
    match done {
        Ok(_) => to_case(&c.id),
        Err(e) => {
            let drafts = Drafts {
                seller_reason: reason,
                ..Drafts::default()
            };
            refused(&app, user, &page, &c.id, e.into(), drafts).await
        }
    }
}

async fn freeze_seller(
    State(app): State<App>,
    Extension(page): Extension<PageContext>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Form(form): Form<SellerForm>,
) -> Result<Response, PageError> {
    change_seller(app, page, id, headers, form, true).await
}

async fn unfreeze_seller(
    State(app): State<App>,
    Extension(page): Extension<PageContext>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Form(form): Form<SellerForm>,
) -> Result<Response, PageError> {
    change_seller(app, page, id, headers, form, false).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_become_basis_points() {
        assert_eq!(percent_to_bps("50"), Some(5000));
        assert_eq!(percent_to_bps("32.5"), Some(3250));
        assert_eq!(percent_to_bps("12.25%"), Some(1225));
        assert_eq!(percent_to_bps(" 100 "), Some(10_000));
        assert_eq!(percent_to_bps("0"), Some(0));
        assert_eq!(percent_to_bps("1.234"), None);
        assert_eq!(percent_to_bps("-5"), None);
        assert_eq!(percent_to_bps("1e2"), None);
        assert_eq!(percent_to_bps(""), None);
        assert_eq!(percent_to_bps("."), None);
    }

    #[test]
    fn a_ruling_form_says_what_is_wrong() {
        let form = |kind: &str, pct: &str| RulingForm {
            kind: kind.into(),
            buyer_percent: pct.into(),
            reason: String::new(),
            confirm: "yes".into(),
            preview: String::new(),
        };
        assert_eq!(ruling_of(&form("refund_full", "abc")), Ok(Ruling::RefundFull));
        assert_eq!(ruling_of(&form("split", "30")), Ok(Ruling::Split { buyer_bps: 3000 }));
        assert_eq!(
            ruling_of(&form("redeliver", "")),
            Ok(Ruling::Redeliver { refund_bps: 0 })
        );
        assert!(ruling_of(&form("split", "")).is_err());
        assert!(ruling_of(&form("split", "101")).is_err());
        assert!(ruling_of(&form("", "")).is_err());
    }

    #[test]
    fn clocks_read_plainly() {
        assert_eq!(remaining_zh(-1), "已逾期");
        assert_eq!(remaining_zh(30 * 60_000), "剩余 30 分钟");
        assert_eq!(remaining_zh(5 * HOUR_MS + 60_000), "剩余 5 小时 1 分");
        assert_eq!(remaining_zh(72 * HOUR_MS), "剩余 3 天 0 小时");
        assert_eq!(case_url("a/b"), None);
        assert_eq!(size_zh(20), "20 字节");
        assert_eq!(size_zh(3 * 1024 * 1024 / 2), "1.5 MB");
        assert!(is_sha256(&"ab".repeat(32)));
        assert!(!is_sha256(&"AB".repeat(32)));
    }
}
