//! The arbitration desk (`/arbitration`): the queue, a case, the ruling.
//!
//! Every page and form is the arbitrator's (`staff::console_user`); the use cases check
//! the role again and decide what is allowed (who holds a case, which step follows which
//! stage). The desk shows what the domain offers (`ComplaintView.actions`) and nothing else.

use super::arbitration_words::{self, Words as A};
use super::error::{PageError, Text};
use super::forms::PageContext;
use super::i18n::Lang;
use super::labels::{
    complaint_event_detail, complaint_event_label, complaint_kind, complaint_stage, evidence_kind, party, ruled_by,
    ruling_label, ruling_reason, standing, triage_reason_view, ReasonView,
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

    fn label(self, a: &A) -> &'static str {
        match self {
            Holder::Nobody => a.holder_nobody,
            Holder::Me => a.holder_me,
            Holder::Other => a.holder_other,
        }
    }
}

/// What happens when a stage's clock runs out, in the desk's words.
fn deadline_meaning(a: &A, stage: &str) -> &'static str {
    match stage {
        "awaiting_seller" => a.meaning_awaiting_seller,
        "awaiting_buyer" => a.meaning_awaiting_buyer,
        "appraisal" => a.meaning_appraisal,
        "under_review" => a.meaning_under_review,
        _ => a.meaning_other,
    }
}

fn collective_status(a: &A, status: &str) -> &'static str {
    match status {
        "pending" => a.collective_pending,
        "escalated" => a.collective_escalated,
        "kept" => a.collective_kept,
        "lifted" => a.collective_lifted,
        "banned" => a.collective_banned,
        _ => a.collective_unknown,
    }
}

/// A clock on a case.
struct ClockView {
    at: TimeView,
    left: String,
    urgent: bool,
}

fn clock_view(a: &A, deadline: Option<&str>, now_ms: i64) -> Option<ClockView> {
    let at = deadline?;
    let left_ms = danbao_app::clock::parse_rfc3339(at).map_or(0, |d| d.saturating_sub(now_ms));
    Some(ClockView {
        at: TimeView::new(at),
        left: a.remaining(left_ms),
        urgent: left_ms < URGENT_WITHIN_MS,
    })
}

struct ProposalView {
    ruling: Option<String>,
    decide_now: bool,
    completeness_pct: i64,
    reasons: Vec<ReasonView>,
}

fn proposal_view(l: Lang, p: &Proposal) -> ProposalView {
    let ruling = p.ruling.and_then(|r| serde_json::to_value(r).ok());
    ProposalView {
        ruling: ruling.as_ref().and_then(|r| ruling_label(l, r)),
        decide_now: p.decide_now,
        completeness_pct: p.completeness_pct,
        reasons: p.reasons.iter().map(|r| triage_reason_view(l, r, false)).collect(),
    }
}

struct CollectiveView {
    status: &'static str,
    pending: bool,
    due: TimeView,
    people: i64,
    amount: String,
}

fn collective_view(a: &A, c: &ComplaintView) -> Option<CollectiveView> {
    let r = c.collective_review.as_ref()?;
    Some(CollectiveView {
        status: collective_status(a, &r.status),
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

struct Figure {
    label: &'static str,
    value: i64,
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
    a: &'static A,
    figures: Vec<Figure>,
    views: Vec<FilterOption>,
    kinds: Vec<FilterOption>,
    rows: Vec<QueueRow>,
    /// Cases left out by the filter.
    hidden: i64,
    csrf: String,
}

#[derive(Deserialize, Default)]
struct QueueQuery {
    #[serde(default)]
    view: String,
    #[serde(default)]
    kind: String,
}

/// A choice of a form: its value and its label in the desk's words.
type Choices = &'static [(&'static str, fn(&A) -> &'static str)];

const VIEWS: Choices = &[
    ("all", |a| a.view_all),
    ("mine", |a| a.view_mine),
    ("unassigned", |a| a.view_unassigned),
    ("urgent", |a| a.view_urgent),
    ("collective", |a| a.view_collective),
];
const KINDS: Choices = &[
    ("", |a| a.kind_all),
    ("not_delivered", |a| a.kind_not_delivered),
    ("not_as_described", |a| a.kind_not_as_described),
    ("fraud", |a| a.kind_fraud),
    ("other", |a| a.kind_other),
];

fn options(a: &A, list: Choices, selected: &str) -> Vec<FilterOption> {
    list.iter()
        .map(|(value, label)| FilterOption {
            value,
            label: label(a),
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
    let l = nav.lang();
    let a = arbitration_words::of(l);
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
                kind_label: complaint_kind(l, &c.kind),
                stage_label: complaint_stage(l, &c.stage),
                amount: yuan(c.amount_minor),
                clock: clock_view(a, c.deadline_at.as_deref(), now),
                proposal: match c.proposal.as_ref().map(|p| proposal_view(l, p)) {
                    Some(p) => a.proposal_cell(
                        &p.ruling.unwrap_or_else(|| a.awaiting_review.to_string()),
                        p.completeness_pct,
                    ),
                    None => a.not_triaged.to_string(),
                },
                holder: Holder::of(held, &me),
                holder_label: Holder::of(held, &me).label(a),
                can_take: held.is_none() && c.actions.contains(&ComplaintAction::Take),
                id: c.id.clone(),
                collective: collective_view(a, c).map(|v| v.status),
                created_at: TimeView::new(&c.created_at),
                seller_history: a.seller_history(histories.get(&c.seller_id).copied().unwrap_or_default()),
            }
        })
        .collect();
    let count = |f: &dyn Fn(&QueueRow) -> bool| rows.iter().filter(|r| f(r)).count() as i64;
    let urgent = |r: &QueueRow| r.clock.as_ref().is_some_and(|c| c.urgent);
    let figures = vec![
        Figure {
            label: a.fig_open,
            value: rows.len() as i64,
        },
        Figure {
            label: a.fig_mine,
            value: count(&|r| r.holder == Holder::Me),
        },
        Figure {
            label: a.fig_unassigned,
            value: count(&|r| r.holder == Holder::Nobody),
        },
        Figure {
            label: a.fig_urgent,
            value: count(&urgent),
        },
        Figure {
            label: a.fig_collective,
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
        a,
        figures,
        views: options(a, VIEWS, view),
        kinds: options(a, KINDS, kind),
        hidden: (total - rows.len()) as i64,
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

/// How the order was scored at checkout (SPEC §8), and on what figures.
struct RiskCaseView {
    level: &'static str,
    flagged: bool,
    score: i64,
    reasons: Vec<String>,
    factors: Vec<String>,
    /// For a step_up order: when its buyer confirmed (none: never).
    step_up: bool,
    confirmed_at: Option<TimeView>,
}

fn risk_case_view(l: Lang, r: &danbao_app::risk::RiskRecord) -> RiskCaseView {
    use danbao_domain::risk::RiskLevel;
    let a = &r.assessment;
    let factors = r.factors.as_ref().map_or_else(Vec::new, |f| {
        let price = match f.category_median_minor {
            Some(m) => l.pick(
                format!(
                    "单价 ¥{}，同类 {} 个其他卖家在售商品中位价 ¥{}",
                    yuan(f.unit_price_minor),
                    f.category_listings,
                    yuan(m)
                ),
                format!(
                    "unit price ¥{}; median of {} other sellers' listings in the category ¥{}",
                    yuan(f.unit_price_minor),
                    f.category_listings,
                    yuan(m)
                ),
            ),
            None => l.pick(
                format!("单价 ¥{}，同类无其他卖家在售商品", yuan(f.unit_price_minor)),
                format!(
                    "unit price ¥{}; no other seller lists in the category",
                    yuan(f.unit_price_minor)
                ),
            ),
        };
        vec![
            l.pick(
                format!("卖家注册 {} 天", f.seller_age_ms.max(0) / 86_400_000),
                format!("seller's account {} days old", f.seller_age_ms.max(0) / 86_400_000),
            ),
            l.pick(
                format!(
                    "卖家最近 {} 笔已付款订单中 {} 笔被投诉",
                    f.seller_recent_paid_orders, f.seller_recent_complained_orders
                ),
                format!(
                    "{} of the seller's last {} paid orders drew complaints",
                    f.seller_recent_complained_orders, f.seller_recent_paid_orders
                ),
            ),
            price,
            l.pick(
                format!("买家窗口内此前已下单 {} 笔", f.buyer_recent_orders),
                format!(
                    "{} earlier orders by the buyer within the window",
                    f.buyer_recent_orders
                ),
            ),
            l.pick(
                format!("订单金额 ¥{}", yuan(f.amount_minor)),
                format!("amount ¥{}", yuan(f.amount_minor)),
            ),
        ]
    });
    RiskCaseView {
        level: super::labels::risk_level(l, a.level.as_str()),
        flagged: a.level != RiskLevel::Low,
        score: a.score,
        reasons: a.reasons.iter().map(|x| super::labels::risk_reason(l, x)).collect(),
        factors,
        step_up: a.level == RiskLevel::StepUp,
        confirmed_at: r.confirmed_at.map(|t| TimeView::new(&danbao_app::clock::rfc3339(t))),
    }
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
    a: &'static A,
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
    risk: Option<RiskCaseView>,
    evidence: Vec<EvidenceItem>,
    evidence_count: i64,
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

const RULINGS: Choices = &[
    ("refund_full", |a| a.ruling_full_refund),
    ("release_to_seller", |a| a.ruling_release),
    ("split", |a| a.ruling_split),
    ("redeliver", |a| a.ruling_redeliver),
];

fn evidence_item(a: &A, case_id: &str, e: &danbao_app::complaints::EvidenceView) -> EvidenceItem {
    let l = a.lang;
    // The parties' own file route (`complaints::evidence_file`) serves staff as well,
    // with one rule for what is shown inline: pictures.
    let file_url = e
        .file_sha256
        .as_deref()
        .filter(|sha| is_sha256(sha))
        .and_then(|sha| page_url("complaints", case_id).map(|u| format!("{u}/files/{sha}")));
    let media = e.media_type.as_deref().unwrap_or(a.unknown_media);
    EvidenceItem {
        side: e.party.clone(),
        party: party(l, &e.party),
        kind_label: evidence_kind(l, &e.kind),
        text: e.text.clone(),
        inline: media.starts_with("image/"),
        file_note: e.file_sha256.as_ref().map(|sha| {
            let size = a.size(e.size_bytes.unwrap_or(0));
            a.file_note(media, &size, sha)
        }),
        file_url,
        at: TimeView::new(&e.at),
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
    let l = nav.lang();
    let a = arbitration_words::of(l);
    let me = marker(&user);
    let caller = Caller::User(user);
    let c = app.complaint(&caller, id).await?;
    let seller = match app.seller_on_case(&caller, &c.seller_id).await {
        Ok(s) => Some(SellerView {
            username: s.username,
            standing: standing(l, s.standing.status),
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
    let risk = app.case_order_risk(&caller, id).await?.map(|r| risk_case_view(l, &r));
    let open = !matches!(c.stage.as_str(), "resolved" | "withdrawn");
    let held = c.assigned_to.as_deref();
    let held_elsewhere = Holder::of(held, &me) == Holder::Other;
    let may = |a: ComplaintAction| c.actions.contains(&a) && !held_elsewhere;
    let ruling = c.ruling.as_ref().map(|r| RulingView {
        label: ruling_label(l, r).unwrap_or_else(|| a.ruled.to_string()),
        by: c.ruled_by.as_deref().map(|b| ruled_by(l, b)),
        reason: c.ruling_reason.as_ref().map(|r| ruling_reason(l, r)),
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
        a,
        csrf: page.csrf.clone(),
        error,
        clock: if open {
            clock_view(a, c.deadline_at.as_deref(), app.now())
        } else {
            None
        },
        clock_meaning: deadline_meaning(a, &c.stage),
        kind_label: complaint_kind(l, &c.kind),
        stage_label: complaint_stage(l, &c.stage),
        open,
        amount: yuan(c.amount_minor),
        created_at: TimeView::new(&c.created_at),
        holder: Holder::of(held, &me).label(a),
        rule_version: c.rule_version,
        proposal: if c.stage == "withdrawn" {
            None
        } else {
            c.proposal.as_ref().map(|p| proposal_view(l, p))
        },
        collective: collective_view(a, &c),
        ruling,
        seller,
        risk,
        buyer_evidence: c.evidence.iter().filter(|e| e.party == "buyer").count(),
        seller_evidence: c.evidence.iter().filter(|e| e.party == "seller").count(),
        evidence_count: c.evidence.len() as i64,
        evidence: c.evidence.iter().map(|e| evidence_item(a, &c.id, e)).collect(),
        events: c
            .events
            .iter()
            .map(|e| EventItem {
                at: TimeView::new(&e.at),
                label: complaint_event_label(l, &e.kind),
                detail: complaint_event_detail(l, &e.detail),
                proof: None,
            })
            .collect(),
        order_timeline_intact: timeline.intact,
        order_timeline: timeline
            .events
            .iter()
            .map(|e| CheckedEvent {
                at: TimeView::new(&e.at),
                label: super::labels::event_label(l, &e.kind),
                detail: super::labels::event_detail(l, &e.detail),
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
                label: label(a),
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
                AppError::Validation { field: "step", .. } => unfit(|a| a.err_choose_step),
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

/// A refusal of the desk's own, in the viewer's language.
fn unfit(word: fn(&A) -> &'static str) -> PageError {
    PageError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        Text::by(move |w| word(arbitration_words::of(w.lang)).to_string()),
    )
}

/// What is wrong with a ruling form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unfit {
    ChooseRuling,
    PercentRequired,
    PercentRange,
}

impl Unfit {
    fn error(self) -> PageError {
        match self {
            Unfit::ChooseRuling => unfit(|a| a.err_choose_ruling),
            Unfit::PercentRequired => unfit(|a| a.err_percent_required),
            Unfit::PercentRange => unfit(|a| a.err_percent_range),
        }
    }
}

/// The ruling as the form gives it, or what is wrong with it.
fn ruling_of(form: &RulingForm) -> Result<Ruling, Unfit> {
    let needs_percent = matches!(form.kind.as_str(), "split" | "redeliver");
    let bps = if needs_percent {
        match form.buyer_percent.trim() {
            "" if form.kind == "redeliver" => Some(0),
            "" => return Err(Unfit::PercentRequired),
            typed => Some(percent_to_bps(typed).ok_or(Unfit::PercentRange)?),
        }
    } else {
        None
    };
    Ruling::parse(&form.kind, bps).map_err(|e| match e {
        danbao_domain::complaint::RulingError::Unknown(_) => Unfit::ChooseRuling,
        danbao_domain::complaint::RulingError::BpsOutOfRange(_) => Unfit::PercentRange,
        danbao_domain::complaint::RulingError::MissingBps(_) => Unfit::PercentRequired,
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
    if form.preview == "yes" {
        let ruling = match ruling_of(&form) {
            Ok(r) => r,
            Err(problem) => return refused(&app, user, &page, &id, problem.error(), drafts).await,
        };
        let caller = Caller::User(user.clone());
        return match app.preview_ruling(&caller, &id, ruling).await {
            Ok(p) => {
                let label = serde_json::to_value(ruling)
                    .ok()
                    .as_ref()
                    .and_then(|r| ruling_label(page.ui.lang(), r))
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
        let e = unfit(|a| a.err_confirm_ruling);
        return refused(&app, user, &page, &id, e, drafts).await;
    }
    let ruling = match ruling_of(&form) {
        Ok(r) => r,
        Err(problem) => return refused(&app, user, &page, &id, problem.error(), drafts).await,
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
        let zh = arbitration_words::of(Lang::Zh);
        assert_eq!(zh.remaining(-1), "已逾期");
        assert_eq!(zh.remaining(30 * 60_000), "剩余 30 分钟");
        assert_eq!(zh.remaining(5 * HOUR_MS + 60_000), "剩余 5 小时 1 分");
        assert_eq!(zh.remaining(72 * HOUR_MS), "剩余 3 天 0 小时");
        assert_eq!(case_url("a/b"), None);
        assert_eq!(zh.size(20), "20 字节");
        assert_eq!(zh.size(3 * 1024 * 1024 / 2), "1.5 MB");
        assert!(is_sha256(&"ab".repeat(32)));
        assert!(!is_sha256(&"AB".repeat(32)));
    }
}
