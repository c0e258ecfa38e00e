//! 规则公示: the rule set now in force, in plain Chinese, with its version and content
//! hash, so that a buyer can read before paying what will judge the order (an order is
//! judged by the version it was created under).

use super::yuan;
use super::zh::{category_zh, complaint_kind_zh, evidence_kind_zh, percent};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
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
    active_query_minutes: String,
}

impl RulesPage {
    pub(super) fn new(r: RuleSet) -> RulesPage {
        let kinds = COMPLAINT_KINDS
            .iter()
            .map(|kind| {
                let evidence: Vec<String> = r
                    .complaints
                    .evidence
                    .get(*kind)
                    .map(|list| list.iter().map(|e| evidence_kind_zh(e)).collect())
                    .unwrap_or_default();
                KindRow {
                    label: complaint_kind_zh(kind),
                    after_sales_days: (*kind != "not_delivered").then(|| {
                        r.complaints
                            .after_sales_days
                            .get(*kind)
                            .copied()
                            .unwrap_or(r.orders.after_sales_window_days)
                    }),
                    evidence: if evidence.is_empty() {
                        "无需额外材料".to_string()
                    } else {
                        evidence.join("、")
                    },
                }
            })
            .collect();
        let active_query_minutes = r
            .payments
            .active_query_schedule_seconds
            .iter()
            .map(|s| minutes(*s))
            .collect::<Vec<_>>()
            .join("、");
        RulesPage {
            hash: r.content_hash(),
            default_fee: percent(r.fees.default_fee_bps),
            category_fees: r
                .fees
                .category_fee_bps
                .iter()
                .map(|(category, bps)| FeeRow {
                    category: category_zh(category),
                    fee: percent(*bps),
                })
                .collect(),
            kinds,
            collective_amount: yuan(r.complaints.collective_amount_minor_min),
            unpaid_share: percent(r.limits.unpaid_share_of_stock_bps),
            active_query_minutes,
            r,
        }
    }
}

/// Seconds as a buyer reads them: "90 秒", "5 分钟".
fn minutes(seconds: i64) -> String {
    if seconds % 60 == 0 {
        format!("{} 分钟", seconds / 60)
    } else {
        format!("{seconds} 秒")
    }
}

pub(super) async fn rules_page(State(app): State<App>) -> Response {
    RulesPage::new((*app.current_rules()).clone()).into_response()
}
