//! The complaint pages: opening one from an order, evidence (text or a file), withdrawal,
//! the seller's answer, and the page itself (stage, deadline, triage, ruling).

use super::error::{complaint_error, PageError};
use super::forms::PageContext;
use super::i18n::{Lang, Ui, Words};
use super::labels::{
    complaint_event_detail, complaint_event_label, complaint_kind, complaint_stage, evidence_kind, party, ruled_by,
    ruling_label, ruling_reason, triage_reason_view, ReasonView,
};
use super::orders::{guest_redirect, render_order_with, OrderExtras};
use super::session::{complaint_viewer, order_viewer};
use super::{order_url, page_url, private_headers, valid_id, valid_token, yuan, EventItem, TimeView, TokenQuery};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Extension, Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use danbao_app::complaints::ComplaintView;
use danbao_app::{App, AppError, Caller, OrderView};
use danbao_domain::complaint::{ComplaintAction, ComplaintKind, Proposal};
use serde::Deserialize;

fn stage_is_open(stage: &str) -> bool {
    !matches!(stage, "resolved" | "withdrawn")
}

/// A complaint in the order page's list.
pub(super) struct ComplaintItem {
    pub(super) id: String,
    pub(super) kind_label: String,
    pub(super) stage_label: String,
    pub(super) open: bool,
    pub(super) created_at: TimeView,
    pub(super) url: Option<String>,
    /// 先行赔付, in words for the viewer.
    pub(super) fast_refund: Option<String>,
    pub(super) overdue: bool,
}

pub(super) struct KindOption {
    pub(super) value: &'static str,
    pub(super) label: &'static str,
    pub(super) selected: bool,
}

/// What the buyer typed into a complaint or evidence form, kept when it is refused.
#[derive(Default)]
pub(super) struct Draft {
    pub(super) kind: String,
    pub(super) text: String,
}

/// Who must act by when.
struct DeadlineView {
    before: &'static str,
    at: TimeView,
    after: &'static str,
    otherwise: Option<&'static str>,
}

struct ProposalView {
    ruling: Option<String>,
    decide_now: bool,
    completeness_pct: i64,
    reasons: Vec<ReasonView>,
}

struct RulingView {
    label: String,
    by: Option<String>,
    reason: Option<String>,
    at: Option<TimeView>,
}

struct EvidenceItem {
    party: &'static str,
    kind_label: String,
    text: Option<String>,
    file: Option<String>,
    /// Where the file is seen (this page's viewers only), and whether it is a picture
    /// shown as a thumbnail.
    file_url: Option<String>,
    is_image: bool,
    at: TimeView,
}

struct ComplaintDetail {
    id: String,
    order_id: String,
    kind_label: String,
    stage_label: String,
    open: bool,
    deadline: Option<DeadlineView>,
    amount: String,
    amount_label: &'static str,
    money_note: &'static str,
    created_at: TimeView,
    proposal: Option<ProposalView>,
    ruling: Option<RulingView>,
    evidence: Vec<EvidenceItem>,
    events: Vec<EventItem>,
    /// The buyer adds evidence and may withdraw.
    is_buyer: bool,
    /// The seller may answer while the case waits for them or is under review.
    can_respond: bool,
    /// Either party adds evidence (text and files) while the case is open.
    can_add_evidence: bool,
    /// 先行赔付: what the platform refunded at once, in words.
    fast_refund: Option<String>,
    /// Why the buyer was not refunded at once (shown to the buyer).
    fast_refund_refusal: Option<String>,
    /// Past the platform's own time limit.
    overdue: bool,
}

/// A complaint page's address.
fn complaint_url(id: &str) -> Option<String> {
    page_url("complaints", id)
}

pub(super) fn complaint_items(l: Lang, list: &[ComplaintView]) -> Vec<ComplaintItem> {
    list.iter()
        .map(|c| ComplaintItem {
            id: c.id.clone(),
            kind_label: complaint_kind(l, &c.kind),
            stage_label: complaint_stage(l, &c.stage),
            open: stage_is_open(&c.stage),
            created_at: TimeView::new(&c.created_at),
            url: complaint_url(&c.id),
            fast_refund: c
                .fast_refund
                .as_ref()
                .map(|f| fast_refund_line(l, f.amount_minor, &f.at, c.viewer == "buyer")),
            overdue: c.overdue,
        })
        .collect()
}

/// The kinds the domain offers the buyer for this order (`complaint::offered_kinds`),
/// with the one picked last selected. The use case checks again.
pub(super) fn complaint_kinds(w: &Words, o: &OrderView, selected: &str) -> Vec<KindOption> {
    let kinds: Vec<(&'static str, &'static str)> = o
        .complaint_kinds
        .iter()
        .map(|k: &ComplaintKind| (k.as_str(), w.complaint_kind_option(*k)))
        .collect();
    let selected = if kinds.iter().any(|(v, _)| *v == selected) {
        selected
    } else {
        kinds.first().map_or("", |(v, _)| *v)
    };
    kinds
        .into_iter()
        .map(|(value, label)| KindOption {
            value,
            label,
            selected: value == selected,
        })
        .collect()
}

fn deadline_view(w: &Words, stage: &str, at: Option<&str>, seller: bool) -> Option<DeadlineView> {
    let at = TimeView::new(at?);
    let (before, after, otherwise) = w.complaint_deadline(stage, seller)?;
    Some(DeadlineView {
        before,
        at,
        after,
        otherwise,
    })
}

fn proposal_view(l: Lang, p: &Proposal) -> ProposalView {
    let ruling = p.ruling.and_then(|r| serde_json::to_value(r).ok());
    ProposalView {
        ruling: ruling.as_ref().and_then(|r| ruling_label(l, r)),
        decide_now: p.decide_now,
        completeness_pct: p.completeness_pct,
        reasons: p.reasons.iter().map(|r| triage_reason_view(l, r, true)).collect(),
    }
}

/// The fast refund, as each side reads it.
pub(super) fn fast_refund_line(l: Lang, amount_minor: i64, at: &str, buyer: bool) -> String {
    let at = TimeView::new(at).display;
    let amount = yuan(amount_minor);
    if buyer {
        l.pick(
            format!("已先行赔付：平台已于 {at} 从先行赔付金退款 ¥{amount} 给您，无需等待裁决。退款原路返回。"),
            format!("Refunded in advance: on {at} the platform refunded you ¥{amount} from its compensation fund, without waiting for the ruling. It goes back the way you paid."),
        )
    } else {
        l.pick(
            format!("已先行赔付：平台已于 {at} 先行退款 ¥{amount} 给买家。冻结款项仍按裁决结算：裁决支持您，款项照常放给您。"),
            format!("Refunded in advance: on {at} the platform refunded the buyer ¥{amount} itself. The frozen money is still settled by the ruling: if it is for you, it is released to you as usual."),
        )
    }
}

/// Why no fast refund, for the buyer.
fn fast_refund_refusal(l: Lang, r: &danbao_domain::complaint::FastRefundRefusal) -> String {
    use danbao_domain::complaint::FastRefundRefusal as X;
    let lead = l.pick("本次投诉不适用先行赔付：", "No advance refund for this complaint: ");
    let why = match r {
        X::Disabled => l.pick(
            "平台目前未开启先行赔付。".to_string(),
            "the platform has turned advance refunds off.".to_string(),
        ),
        X::Guest => l.pick(
            "先行赔付仅适用于注册账号，游客订单请等待裁决。".to_string(),
            "advance refunds are for registered accounts; a guest order waits for the ruling.".to_string(),
        ),
        X::AccountTooNew { days_min } => l.pick(
            format!("账号注册须满 {days_min} 天。"),
            format!("the account must be at least {days_min} days old."),
        ),
        X::LostRecently { days } => l.pick(
            format!("{days} 天内有投诉被裁定不成立。"),
            format!("a complaint of yours was ruled against you in the last {days} days."),
        ),
        X::AmountOverCap { cap_minor } => l.pick(
            format!("订单金额超过 ¥{} 的上限。", yuan(*cap_minor)),
            format!("the order is over the ¥{} limit.", yuan(*cap_minor)),
        ),
        X::FundShort => l.pick(
            "先行赔付金暂时不足。".to_string(),
            "the compensation fund cannot cover it right now.".to_string(),
        ),
    };
    format!(
        "{lead}{why}{}",
        l.pick(
            "投诉照常处理，款项仍然冻结。",
            " The complaint goes on as usual and the money stays frozen."
        )
    )
}

fn complaint_detail(w: &Words, c: ComplaintView) -> ComplaintDetail {
    let l = w.lang;
    let open = stage_is_open(&c.stage);
    let seller = c.viewer == "seller";
    let (amount_label, money_note) = match c.stage.as_str() {
        "withdrawn" if seller => (w.amount_involved, w.money_withdrawn_seller),
        "withdrawn" => (w.amount_involved, w.money_withdrawn_buyer),
        "resolved" if seller => (w.amount_involved, w.money_resolved_seller),
        "resolved" => (w.amount_involved, w.money_resolved_buyer),
        _ => (w.amount_frozen, w.money_frozen),
    };
    let is_buyer = c.viewer == "buyer";
    let can_respond = c.actions.contains(&ComplaintAction::Respond);
    let can_add_evidence = c.actions.contains(&ComplaintAction::AddEvidence);
    let ruling = match (&c.ruling, c.stage.as_str()) {
        (Some(r), _) => Some(RulingView {
            label: ruling_label(l, r).unwrap_or_else(|| w.ruled.to_string()),
            by: c.ruled_by.as_deref().map(|b| ruled_by(l, b)),
            reason: c.ruling_reason.as_ref().map(|r| ruling_reason(l, r)),
            at: c.resolved_at.as_deref().map(TimeView::new),
        }),
        _ => None,
    };
    ComplaintDetail {
        fast_refund: c
            .fast_refund
            .as_ref()
            .map(|f| fast_refund_line(l, f.amount_minor, &f.at, is_buyer)),
        fast_refund_refusal: c
            .fast_refund_refusal
            .as_ref()
            .filter(|_| is_buyer && open)
            .map(|r| fast_refund_refusal(l, r)),
        overdue: c.overdue,
        deadline: if open {
            deadline_view(w, &c.stage, c.deadline_at.as_deref(), seller)
        } else {
            None
        },
        kind_label: complaint_kind(l, &c.kind),
        stage_label: complaint_stage(l, &c.stage),
        open,
        amount: yuan(c.amount_minor),
        amount_label,
        money_note,
        created_at: TimeView::new(&c.created_at),
        // A withdrawn case has nothing left to propose.
        proposal: if c.stage == "withdrawn" {
            None
        } else {
            c.proposal.as_ref().map(|p| proposal_view(l, p))
        },
        ruling,
        evidence: c
            .evidence
            .iter()
            .map(|e| EvidenceItem {
                party: party(l, &e.party),
                kind_label: evidence_kind(l, &e.kind),
                text: e.text.clone(),
                file: e.file_sha256.as_ref().map(|sha| {
                    let media = e.media_type.as_deref().unwrap_or(w.unknown_media);
                    w.evidence_file_line(sha, media)
                }),
                file_url: e
                    .file_sha256
                    .as_deref()
                    .filter(|sha| is_sha256_hex(sha) && valid_id(&c.id))
                    .map(|sha| format!("/complaints/{}/files/{sha}", c.id)),
                is_image: e.media_type.as_deref().is_some_and(|m| m.starts_with("image/")),
                at: TimeView::new(&e.at),
            })
            .collect(),
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
        is_buyer,
        can_respond,
        can_add_evidence,
        id: c.id,
        order_id: c.order_id,
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "complaint.html")]
struct ComplaintPage {
    c: ComplaintDetail,
    /// The forms' anti-forgery token.
    csrf: String,
    /// A guest buyer, whose browser holds the order (told how to find it elsewhere).
    guest_buyer: bool,
    order_url: Option<String>,
    order_number: Option<String>,
    evidence_kinds: Vec<KindOption>,
    evidence_text: String,
    /// The seller's answer, kept when it is refused.
    response_text: String,
    error: Option<String>,
    w: Ui,
}

#[derive(Deserialize)]
pub(super) struct ComplaintForm {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    description: String,
}

#[derive(Deserialize)]
pub(super) struct EvidenceForm {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    text: String,
}

/// A textarea's text as stored: browsers send CRLF line ends, surrounding blanks dropped.
fn form_text(text: &str) -> String {
    text.replace("\r\n", "\n").trim().to_string()
}

/// A redirect to a private page: not cached, not leaked through the Referer.
fn private_redirect(url: &str) -> Response {
    (private_headers(), Redirect::to(url)).into_response()
}

/// Whether a refused action is shown on its page again (with the message) rather than
/// as an error page: not for "not found" (nothing to show) nor server errors.
fn shown_on_page(e: &PageError) -> bool {
    e.status != StatusCode::NOT_FOUND && !e.status.is_server_error()
}

pub(super) async fn open_complaint(
    State(app): State<App>,
    Extension(page): Extension<PageContext>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Form(form): Form<ComplaintForm>,
) -> Result<Response, PageError> {
    let v = order_viewer(&app, &headers, &id).await?;
    let caller = &v.caller;
    let description = form_text(&form.description);
    // The one-click escalation (未发货) sends no description: not_delivered needs none.
    let described = (!description.is_empty()).then_some(description.as_str());
    match app.open_complaint(caller, &id, &form.kind, described).await {
        Ok(c) => match complaint_url(&c.id) {
            Some(url) => Ok(private_redirect(&url)),
            None => Err(PageError::complaint_not_found()),
        },
        Err(e) => {
            let e = complaint_error(e, |w| w.choose_complaint_kind);
            if !shown_on_page(&e) {
                return Err(e);
            }
            let extras = OrderExtras {
                revealed: None,
                error: Some(e.message_in(&page.ui)),
                draft: Draft {
                    kind: form.kind,
                    text: description,
                },
            };
            render_order_with(&app, caller, &page, &id, e.status, extras).await
        }
    }
}

async fn render_complaint(
    app: &App,
    caller: &Caller,
    page: &PageContext,
    id: &str,
    status: StatusCode,
    draft: Draft,
    error: Option<String>,
) -> Result<Response, PageError> {
    let c = app
        .complaint(caller, id)
        .await
        .map_err(|e| complaint_error(e, |w| w.choose_evidence_kind))?;
    let w = &page.ui;
    let selected = if draft.kind.is_empty() {
        "description"
    } else {
        draft.kind.as_str()
    };
    let evidence_kinds = [
        ("description", w.evidence_description),
        ("screenshot_note", w.evidence_screenshot_note),
    ]
    .into_iter()
    .map(|(value, label)| KindOption {
        value,
        label,
        selected: value == selected,
    })
    .collect();
    // Only one side's form is shown, so the draft goes back into that one.
    let (evidence_text, response_text) = if c.viewer == "seller" {
        (String::new(), draft.text)
    } else {
        (draft.text, String::new())
    };
    let guest_buyer = c.viewer == "buyer" && matches!(caller, Caller::GuestToken(_));
    // The order's short number is what its buyer and seller know it by; the id stays
    // if the order cannot be read (the complaint page does not depend on it).
    let order_number = app.order(caller, &c.order_id).await.ok().map(|o| o.number);
    let html = ComplaintPage {
        order_number,
        order_url: order_url(&c.order_id),
        c: complaint_detail(w, c),
        csrf: page.csrf.clone(),
        guest_buyer,
        evidence_kinds,
        evidence_text,
        response_text,
        error,
        w: w.clone(),
    };
    Ok((status, private_headers(), html).into_response())
}

/// A refused action on a complaint: the complaint page again with the reason and what
/// was typed, or, for a refusal the page cannot show (not found, busy), the error page.
async fn complaint_refused(
    app: &App,
    caller: &Caller,
    page: &PageContext,
    id: &str,
    e: AppError,
    draft: Draft,
) -> Result<Response, PageError> {
    let e = complaint_error(e, |w| w.choose_evidence_kind);
    if !shown_on_page(&e) {
        return Err(e);
    }
    let message = e.message_in(&page.ui);
    render_complaint(app, caller, page, id, e.status, draft, Some(message)).await
}

/// The complaint page's address in canonical form, for a complaint the caller just acted on.
async fn complaint_location(app: &App, caller: &Caller, id: &str) -> Result<String, PageError> {
    if let Some(url) = complaint_url(id) {
        return Ok(url);
    }
    let c = app.complaint(caller, id).await?;
    complaint_url(&c.id).ok_or_else(PageError::complaint_not_found)
}

pub(super) async fn complaint_page(
    State(app): State<App>,
    Extension(page): Extension<PageContext>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Query(q): Query<TokenQuery>,
) -> Result<Response, PageError> {
    if let Some(token) = q.access_token {
        // A guest's secret link: into the cookie of the complaint's order, then on to
        // the clean address.
        if !valid_token(&token) {
            return Err(PageError::complaint_not_found());
        }
        let c = app
            .complaint(&Caller::GuestToken(token.clone()), &id)
            .await
            .map_err(|e| complaint_error(e, |w| w.choose_evidence_kind))?;
        let url = complaint_url(&c.id).ok_or_else(PageError::complaint_not_found)?;
        return guest_redirect(&page, &c.order_id, &token, &url);
    }
    let v = complaint_viewer(&app, &headers, &id).await?;
    render_complaint(&app, &v.caller, &page, &id, StatusCode::OK, Draft::default(), None).await
}

pub(super) async fn add_evidence(
    State(app): State<App>,
    Extension(page): Extension<PageContext>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Form(form): Form<EvidenceForm>,
) -> Result<Response, PageError> {
    let v = complaint_viewer(&app, &headers, &id).await?;
    let caller = &v.caller;
    let text = form_text(&form.text);
    match app.add_evidence(caller, &id, &form.kind, Some(&text), None).await {
        Ok(_) => Ok(private_redirect(&complaint_location(&app, caller, &id).await?)),
        Err(e) => complaint_refused(&app, caller, &page, &id, e, Draft { kind: form.kind, text }).await,
    }
}

/// A screenshot or other file as evidence (multipart form: csrf_token first, then file).
/// The file is stored content-addressed and its type sniffed from its bytes.
pub(super) async fn add_evidence_file(
    State(app): State<App>,
    Extension(page): Extension<PageContext>,
    Path(id): Path<String>,
    headers: HeaderMap,
    mut multipart: axum::extract::Multipart,
) -> Result<Response, PageError> {
    let unreadable = || PageError::says(StatusCode::BAD_REQUEST, |w| w.err_unreadable_upload);
    super::forms::multipart_token_first(&app, &page, &mut multipart).await?;
    let mut bytes: Option<Vec<u8>> = None;
    while let Some(field) = multipart.next_field().await.map_err(|_| unreadable())? {
        if field.name() == Some("file") {
            bytes = Some(field.bytes().await.map_err(|_| unreadable())?.to_vec());
        }
    }
    let v = complaint_viewer(&app, &headers, &id).await?;
    let caller = &v.caller;
    let file = danbao_app::complaints::Attachment {
        bytes: bytes.unwrap_or_default(),
        claimed_sha256: None,
    };
    match app.add_evidence(caller, &id, "screenshot", None, Some(file)).await {
        Ok(_) => Ok(private_redirect(&complaint_location(&app, caller, &id).await?)),
        Err(e) => complaint_refused(&app, caller, &page, &id, e, Draft::default()).await,
    }
}

pub(super) async fn withdraw_complaint(
    State(app): State<App>,
    Extension(page): Extension<PageContext>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let v = complaint_viewer(&app, &headers, &id).await?;
    let caller = &v.caller;
    match app.withdraw_complaint(caller, &id).await {
        Ok(c) => match complaint_url(&c.id) {
            Some(url) => Ok(private_redirect(&url)),
            None => Err(PageError::complaint_not_found()),
        },
        Err(e) => complaint_refused(&app, caller, &page, &id, e, Draft::default()).await,
    }
}

#[derive(Deserialize)]
pub(super) struct ResponseForm {
    #[serde(default)]
    text: String,
}

/// The seller's answer to a complaint; the use case refuses anyone else.
pub(super) async fn seller_response(
    State(app): State<App>,
    Extension(page): Extension<PageContext>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Form(form): Form<ResponseForm>,
) -> Result<Response, PageError> {
    let v = complaint_viewer(&app, &headers, &id).await?;
    let caller = &v.caller;
    let text = form_text(&form.text);
    match app.seller_respond(caller, &id, &text).await {
        Ok(c) => match complaint_url(&c.id) {
            Some(url) => Ok(private_redirect(&url)),
            None => Err(PageError::complaint_not_found()),
        },
        Err(e) => {
            let draft = Draft {
                kind: String::new(),
                text,
            };
            complaint_refused(&app, caller, &page, &id, e, draft).await
        }
    }
}

fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// An evidence file, for the case's parties: a picture inline (the thumbnails of the
/// complaint page), anything else as a download. Never cached, never framed.
pub(super) async fn evidence_file(
    State(app): State<App>,
    Path((id, sha)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    if !is_sha256_hex(&sha) {
        return Err(PageError::says(StatusCode::NOT_FOUND, |w| w.err_file_not_found));
    }
    let v = complaint_viewer(&app, &headers, &id).await?;
    let (bytes, media_type) = app.complaint_file(&v.caller, &id, &sha).await?;
    let inline = media_type.starts_with("image/");
    let disposition = if inline {
        "inline".to_string()
    } else {
        format!("attachment; filename=\"evidence-{}\"", &sha[..12])
    };
    Ok((
        super::private_headers(),
        [
            (axum::http::header::CONTENT_TYPE, media_type),
            (axum::http::header::CONTENT_DISPOSITION, disposition),
        ],
        bytes,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn complaint_links_carry_only_checked_text() {
        assert_eq!(complaint_url("01a2-ff").as_deref(), Some("/complaints/01a2-ff"));
        assert_eq!(complaint_url("a/b"), None);
        assert_eq!(complaint_url("01a2?access_token=00"), None);
        assert_eq!(order_url("01a2").as_deref(), Some("/orders/01a2"));
        assert_eq!(order_url("a?b"), None);
        assert_eq!(form_text("  a\r\nb \r\n"), "a\nb");
    }
}
