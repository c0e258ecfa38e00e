//! 规则公示: the rule set now in force, in plain Chinese, with its version and content
//! hash, so that a buyer can read before paying what will judge the order (an order is
//! judged by the version it was created under).

use super::forms::PageContext;
use super::i18n::Ui;
use super::labels::{category, complaint_kind, evidence_kind, percent};
use super::yuan;
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Extension, State};
use axum::response::{IntoResponse, Response};
use danbao_app::App;
use danbao_domain::rules::RuleSet;

/// Complaint kinds in the order a buyer meets them.
const COMPLAINT_KINDS: [&str; 4] = ["not_delivered", "not_as_described", "fraud", "other"];

struct KindRow {
    label: String,
    /// Days after completion it may still be opened; `None` for not_delivered, which
    /// is about an order never completed.
    after_sales_days: Option<i64>,
    evidence: String,
}

struct FeeRow {
    category: String,
    fee: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "rules.html")]
pub(super) struct RulesPage {
    pub(super) r: RuleSet,
    hash: String,
    default_fee: String,
    category_fees: Vec<FeeRow>,
    kinds: Vec<KindRow>,
    collective_amount: String,
    unpaid_share: String,
    /// When the platform asks the provider about an unpaid order: "1 分钟、5 分钟".
    active_query: String,
    w: Ui,
}

impl RulesPage {
    pub(super) fn new(r: RuleSet, w: Ui) -> RulesPage {
        let l = w.lang();
        let kinds = COMPLAINT_KINDS
            .iter()
            .map(|kind| {
                let evidence: Vec<String> = r
                    .complaints
                    .evidence
                    .get(*kind)
                    .map(|list| list.iter().map(|e| evidence_kind(l, e)).collect())
                    .unwrap_or_default();
                KindRow {
                    label: complaint_kind(l, kind),
                    after_sales_days: (*kind != "not_delivered").then(|| {
                        r.complaints
                            .after_sales_days
                            .get(*kind)
                            .copied()
                            .unwrap_or(r.orders.after_sales_window_days)
                    }),
                    evidence: if evidence.is_empty() {
                        w.rules_no_evidence_needed.to_string()
                    } else {
                        w.list(&evidence)
                    },
                }
            })
            .collect();
        let schedule: Vec<String> = r
            .payments
            .active_query_schedule_seconds
            .iter()
            .map(|s| w.duration(*s))
            .collect();
        let active_query = w.list(&schedule);
        RulesPage {
            hash: r.content_hash(),
            default_fee: percent(r.fees.default_fee_bps),
            category_fees: r
                .fees
                .category_fee_bps
                .iter()
                .map(|(code, bps)| FeeRow {
                    category: category(l, code),
                    fee: percent(*bps),
                })
                .collect(),
            kinds,
            collective_amount: yuan(r.complaints.collective_amount_minor_min),
            unpaid_share: percent(r.limits.unpaid_share_of_stock_bps),
            active_query,
            r,
            w,
        }
    }
}

pub(super) async fn rules_page(State(app): State<App>, Extension(page): Extension<PageContext>) -> Response {
    RulesPage::new((*app.current_rules()).clone(), page.ui).into_response()
}
