//! The proof of liabilities (防跑路, issue 16 item 3) on the pages: the buyer's section of
//! the order page (their order's money is in the published total, with the proof to
//! download and the command that checks it), and the public block of `/transparency`
//! (the latest statement, the cover ratio and an inline SVG chart of both over time).

use super::i18n::Lang;
use super::{yuan, TimeView};
use danbao_app::liabilities::{format_bps_percent, LiabilityStatementView, OrderLiabilitiesProof};
use danbao_app::{App, Caller};

/// One proof the buyer can download.
pub(super) struct ProofDownload {
    pub(super) label: String,
    pub(super) amount: String,
    /// A `data:` URL holding the proof text (no script, no second request).
    pub(super) href: String,
    pub(super) filename: String,
}

/// The order page's section, for the order's buyer.
pub(super) struct OrderLiabilities {
    pub(super) heading: &'static str,
    /// The main sentence: counted, or why not.
    pub(super) text: String,
    pub(super) amount: Option<String>,
    pub(super) statement: Option<String>,
    pub(super) downloads: Vec<ProofDownload>,
    pub(super) verify_label: &'static str,
    pub(super) command: Option<String>,
}

/// Percent-encodes text for a `data:` URL: everything but unreserved ASCII is escaped.
fn data_url(text: &str) -> String {
    let mut out = String::from("data:text/plain;charset=utf-8,");
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn statement_line(l: Lang, s: &LiabilityStatementView) -> String {
    let at = TimeView::new(&s.as_of).display;
    match l {
        Lang::Zh => format!(
            "第 {} 期负债公示（截至 {at}）：总额 ¥{}，共 {} 笔余额",
            s.seq,
            yuan(s.total_minor),
            s.leaf_count
        ),
        Lang::En => format!(
            "Statement #{} (as of {at}): total ¥{} over {} balances",
            s.seq,
            yuan(s.total_minor),
            s.leaf_count
        ),
    }
}

/// The section for the order's buyer; None for anyone else (the seller sees no proof of
/// the buyer's money) or when it cannot be read (the page still shows the order).
pub(super) async fn order_section(app: &App, caller: &Caller, id: &str, l: Lang) -> Option<OrderLiabilities> {
    let proof = match app.order_liabilities_proof(caller, id).await {
        Ok(p) => p,
        Err(danbao_app::AppError::NotFound(_)) => return None,
        Err(e) => {
            tracing::warn!(error = %e, "the order's liabilities proof could not be built");
            return None;
        }
    };
    Some(section_for(l, &proof, &app.log_signer().vkey()))
}

fn section_for(l: Lang, proof: &OrderLiabilitiesProof, vkey: &str) -> OrderLiabilities {
    let heading = l.pick("防跑路：负债证明", "Proof of liabilities");
    let verify_label = l.pick(
        "下载证明后，用 danbao 命令行离线验证（只需平台公钥）：",
        "Download the proof and check it offline with the danbao tool (it needs only the platform's key):",
    );
    let mut section = OrderLiabilities {
        heading,
        text: String::new(),
        amount: None,
        statement: None,
        downloads: Vec::new(),
        verify_label,
        command: None,
    };
    let Some(statement) = &proof.statement else {
        section.text = l
            .pick(
                "平台尚未发布负债公示；首期发布后，这里会给出您订单资金的证明。",
                "No statement of liabilities has been published yet; once one is, the proof for your order's money appears here.",
            )
            .to_string();
        return section;
    };
    section.statement = Some(statement_line(l, statement));
    if proof.proofs.is_empty() {
        section.text = if proof.holds_money_now {
            l.pick(
                "您的资金在这期公示之后才进入担保，将计入下一期公示。",
                "Your money entered escrow after this statement; it will be counted in the next one.",
            )
        } else {
            l.pick(
                "本订单目前没有平台代管的资金（已完成或已退款），不计入负债。",
                "This order holds no money with the platform now (completed or refunded), so it is not among the liabilities.",
            )
        }
        .to_string();
        return section;
    }
    section.text = l
        .pick(
            "您的担保资金已计入平台公示负债总额",
            "Your escrowed money is counted in the platform's published total of liabilities",
        )
        .to_string();
    section.amount = Some(format!("¥{}", yuan(proof.amount_minor)));
    for p in &proof.proofs {
        let kind = p.label.rsplit(':').next().unwrap_or("balance");
        section.downloads.push(ProofDownload {
            label: match kind {
                "frozen" => l.pick("冻结资金的证明", "Proof for the frozen money"),
                _ => l.pick("担保资金的证明", "Proof for the escrowed money"),
            }
            .to_string(),
            amount: format!("¥{}", yuan(p.amount_minor)),
            href: data_url(&p.proof),
            filename: format!("liabilities-proof-{}-{kind}.txt", statement.seq),
        });
    }
    let file = section
        .downloads
        .first()
        .map(|d| d.filename.clone())
        .unwrap_or_default();
    section.command = Some(format!("danbao verify-liabilities {file} --key '{vkey}'"));
    section
}

/// The `/transparency` block: the latest statement, its cover ratio, the chart.
pub(super) struct PublicLiabilities {
    pub(super) heading: &'static str,
    pub(super) none_yet: Option<&'static str>,
    pub(super) rows: Vec<(&'static str, String)>,
    pub(super) root_label: &'static str,
    pub(super) root: String,
    pub(super) note_label: &'static str,
    pub(super) note: String,
    pub(super) chart_label: &'static str,
    pub(super) chart_svg: String,
    pub(super) verify_text: &'static str,
    pub(super) command: String,
}

pub(super) async fn public_block(app: &App, l: Lang) -> PublicLiabilities {
    let statements = app
        .liability_statements(danbao_app::liabilities::STATEMENTS_SHOWN_MAX)
        .await
        .unwrap_or_else(|e| {
            tracing::warn!(error = %e, "the liabilities statements could not be read");
            Vec::new()
        });
    let vkey = app.log_signer().vkey();
    let mut block = PublicLiabilities {
        heading: l.pick("负债证明（防跑路）", "Proof of liabilities"),
        none_yet: None,
        rows: Vec::new(),
        root_label: l.pick("根哈希", "Root hash"),
        root: String::new(),
        note_label: l.pick("签名公示", "Signed statement"),
        note: String::new(),
        chart_label: l.pick("负债总额与覆盖率（最近各期）", "Total liabilities and cover ratio (recent statements)"),
        chart_svg: String::new(),
        verify_text: l.pick(
            "每期公示是一棵默克尔求和树（Chalkias 等人的修正版：父节点哈希同时承诺左右子树的金额），覆盖平台欠下的每一笔余额：各订单的担保与冻结资金、各卖家的可用、保留与保证金余额、赔付基金。每位买家都能在订单页下载自己订单的证明并离线验证：",
            "Each statement is a Merkle sum tree (Chalkias et al.'s fixed version: a parent's hash commits to both children's sums) over every balance the platform owes: each order's escrowed and frozen money, each seller's available, reserve and deposit balances, the compensation fund. Every buyer can download their order's proof from the order page and check it offline:",
        ),
        command: format!("danbao verify-liabilities liabilities-proof.txt --key '{vkey}'"),
    };
    let Some(latest) = statements.first() else {
        block.none_yet = Some(l.pick(
            "尚未发布负债公示。",
            "No statement of liabilities has been published yet.",
        ));
        return block;
    };
    block.rows = vec![
        (l.pick("期数", "Statement"), format!("#{}", latest.seq)),
        (l.pick("截至", "As of"), TimeView::new(&latest.as_of).display),
        (
            l.pick("负债总额", "Total liabilities"),
            format!("¥{}", yuan(latest.total_minor)),
        ),
        (l.pick("余额笔数", "Balances"), latest.leaf_count.to_string()),
        (
            l.pick("储备（渠道结算余额）", "Reserves (provider)"),
            match (latest.provider_balance_minor, &latest.provider) {
                (Some(b), Some(p)) => format!("¥{} ({p})", yuan(b)),
                _ => l.pick("渠道未提供", "not reported").to_string(),
            },
        ),
        (
            l.pick("覆盖率", "Cover ratio"),
            latest
                .cover_ratio_bps
                .map(format_bps_percent)
                .unwrap_or_else(|| "—".to_string()),
        ),
    ];
    block.root = latest.root.clone();
    block.note = latest.note.clone();
    let oldest_first: Vec<&LiabilityStatementView> = statements.iter().rev().collect();
    block.chart_svg = chart_svg(
        &oldest_first,
        l.pick("负债总额", "Total"),
        l.pick("覆盖率", "Cover ratio"),
    );
    block
}

/// Chart geometry, in SVG user units (the SVG scales to its box by CSS).
const CHART_W: i64 = 640;
const CHART_H: i64 = 240;
const PAD_L: i64 = 96;
const PAD_R: i64 = 84;
const PAD_T: i64 = 20;
const PAD_B: i64 = 56;
/// Text size in user units: the chart is drawn 640 wide and shown at half that on a
/// phone, where 18 units still read as 9 px.
const FONT: i64 = 18;

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The x of point `i` of `n`, spread across the plot.
fn x_of(i: usize, n: usize) -> i64 {
    let span = CHART_W - PAD_L - PAD_R;
    let i = i64::try_from(i).unwrap_or(0);
    let n = i64::try_from(n).unwrap_or(1);
    if n <= 1 {
        PAD_L + span / 2
    } else {
        PAD_L + span * i / (n - 1)
    }
}

/// The y of `value` on a scale from 0 to `max`.
fn y_of(value: i64, max: i64) -> i64 {
    let span = i128::from(CHART_H - PAD_T - PAD_B);
    let v = i128::from(value.clamp(0, max.max(1)));
    let y = i128::from(CHART_H - PAD_B) - span * v / i128::from(max.max(1));
    i64::try_from(y).unwrap_or(CHART_H - PAD_B)
}

/// An inline SVG line chart (integers only, no script): the total (left axis, yuan) and
/// the cover ratio (right axis, %) of each statement, oldest on the left.
pub(super) fn chart_svg(statements: &[&LiabilityStatementView], total_label: &str, ratio_label: &str) -> String {
    let n = statements.len();
    let max_total = statements.iter().map(|s| s.total_minor).max().unwrap_or(0).max(1);
    let ratios: Vec<Option<i64>> = statements.iter().map(|s| s.cover_ratio_bps).collect();
    // The ratio axis reaches at least 100 % so full cover is a visible line.
    let max_ratio = ratios.iter().flatten().copied().max().unwrap_or(0).max(10_000);
    let mut svg = format!(
        r#"<svg class="chart" viewBox="0 0 {CHART_W} {CHART_H}" style="width:100%;max-width:{CHART_W}px;height:auto" role="img" aria-label="{}" xmlns="http://www.w3.org/2000/svg">"#,
        escape(&format!("{total_label} / {ratio_label}"))
    );
    // Axes and the 100 % line.
    let base = CHART_H - PAD_B;
    svg.push_str(&format!(
        r##"<line x1="{PAD_L}" y1="{PAD_T}" x2="{PAD_L}" y2="{base}" stroke="#888"/><line x1="{PAD_L}" y1="{base}" x2="{}" y2="{base}" stroke="#888"/><line x1="{}" y1="{PAD_T}" x2="{}" y2="{base}" stroke="#888"/>"##,
        CHART_W - PAD_R,
        CHART_W - PAD_R,
        CHART_W - PAD_R
    ));
    let any_ratio = ratios.iter().any(Option::is_some);
    let full = y_of(10_000, max_ratio);
    if any_ratio {
        svg.push_str(&format!(
            r##"<line x1="{PAD_L}" y1="{full}" x2="{}" y2="{full}" stroke="#2a7" stroke-dasharray="4 4"/>"##,
            CHART_W - PAD_R
        ));
    }
    svg.push_str(&format!(
        r##"<text x="{}" y="{}" font-size="{FONT}" text-anchor="end" fill="#555">¥{}</text><text x="{}" y="{}" font-size="{FONT}" text-anchor="end" fill="#555">0</text>"##,
        PAD_L - 6,
        PAD_T + 6,
        yuan(max_total),
        PAD_L - 6,
        base
    ));
    if any_ratio {
        if max_ratio > 10_000 {
            svg.push_str(&format!(
                r##"<text x="{}" y="{}" font-size="{FONT}" fill="#2a7">{}</text>"##,
                CHART_W - PAD_R + 6,
                PAD_T + 6,
                format_bps_percent(max_ratio)
            ));
        }
        // The 100 % mark's label, unless it would sit on the top label (a ratio just above 100 %).
        if max_ratio <= 10_000 || full.saturating_sub(PAD_T) > FONT + 2 {
            svg.push_str(&format!(
                r##"<text x="{}" y="{}" font-size="{FONT}" fill="#2a7">100 %</text>"##,
                CHART_W - PAD_R + 6,
                full + 6
            ));
        }
    }
    // The total's line and points.
    let points: Vec<String> = statements
        .iter()
        .enumerate()
        .map(|(i, s)| format!("{},{}", x_of(i, n), y_of(s.total_minor, max_total)))
        .collect();
    if n > 1 {
        svg.push_str(&format!(
            r##"<polyline class="total" fill="none" stroke="#c33" stroke-width="2" points="{}"/>"##,
            points.join(" ")
        ));
    }
    for (i, s) in statements.iter().enumerate() {
        svg.push_str(&format!(
            r##"<circle class="total" cx="{}" cy="{}" r="3" fill="#c33"><title>#{} ¥{}</title></circle>"##,
            x_of(i, n),
            y_of(s.total_minor, max_total),
            s.seq,
            yuan(s.total_minor)
        ));
    }
    // The cover ratio's line, where known.
    let ratio_points: Vec<String> = ratios
        .iter()
        .enumerate()
        .filter_map(|(i, r)| r.map(|r| format!("{},{}", x_of(i, n), y_of(r, max_ratio))))
        .collect();
    if ratio_points.len() > 1 {
        svg.push_str(&format!(
            r##"<polyline class="ratio" fill="none" stroke="#2a7" stroke-width="2" points="{}"/>"##,
            ratio_points.join(" ")
        ));
    }
    for (i, r) in ratios.iter().enumerate() {
        if let Some(r) = r {
            svg.push_str(&format!(
                r##"<rect class="ratio" x="{}" y="{}" width="6" height="6" fill="#2a7"><title>{}</title></rect>"##,
                x_of(i, n) - 3,
                y_of(*r, max_ratio) - 3,
                format_bps_percent(*r)
            ));
        }
    }
    // The legend and the first and last statement numbers under the axis.
    svg.push_str(&format!(
        r##"<text x="{PAD_L}" y="{}" font-size="{FONT}" fill="#c33">— {}</text>"##,
        CHART_H - 6,
        escape(total_label)
    ));
    if any_ratio {
        svg.push_str(&format!(
            r##"<text x="{}" y="{}" font-size="{FONT}" fill="#2a7">■ {}</text>"##,
            PAD_L + 200,
            CHART_H - 6,
            escape(ratio_label)
        ));
    }
    if let (Some(first), Some(last)) = (statements.first(), statements.last()) {
        svg.push_str(&format!(
            r##"<text x="{}" y="{}" font-size="{FONT}" text-anchor="middle" fill="#555">#{}</text>"##,
            x_of(0, n),
            base + FONT + 2,
            first.seq
        ));
        if n > 1 {
            svg.push_str(&format!(
                r##"<text x="{}" y="{}" font-size="{FONT}" text-anchor="middle" fill="#555">#{}</text>"##,
                x_of(n - 1, n),
                base + FONT + 2,
                last.seq
            ));
        }
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn statement(seq: i64, total: i64, ratio: Option<i64>) -> LiabilityStatementView {
        LiabilityStatementView {
            seq,
            as_of: "2026-12-03T20:00:00Z".into(),
            as_of_ms: 0,
            leaf_count: 3,
            total_minor: total,
            root: "00".into(),
            note: String::new(),
            provider_balance_minor: None,
            provider: None,
            cover_ratio_bps: ratio,
        }
    }

    #[test]
    fn the_chart_has_a_point_per_statement_inside_its_box() {
        let s = [
            statement(1, 1000, Some(12_000)),
            statement(2, 5000, Some(10_000)),
            statement(3, 0, None),
        ];
        let refs: Vec<&LiabilityStatementView> = s.iter().collect();
        let svg = chart_svg(&refs, "Total", "Cover <ratio>");
        assert_eq!(svg.matches("<circle").count(), 3);
        assert_eq!(svg.matches("<rect").count(), 2);
        assert!(svg.contains("Cover &lt;ratio&gt;"));
        assert!(svg.contains("#1") && svg.contains("#3"));
        assert!(svg.contains("120.00 %") && svg.contains("100 %"));
        // Every coordinate stays inside the view box.
        for (i, _) in svg.match_indices("cy=\"") {
            let rest = &svg[i + 4..];
            let y: i64 = rest[..rest.find('"').unwrap()].parse().unwrap();
            assert!((0..=CHART_H).contains(&y));
        }
        assert_eq!(y_of(5000, 5000), PAD_T);
        // With no ratio known there is no ratio axis at all.
        let no_ratio = statement(1, 10, None);
        let svg = chart_svg(&[&no_ratio], "Total", "Ratio");
        assert!(!svg.contains("100 %") && !svg.contains("Ratio<"), "{svg}");
        assert_eq!(y_of(0, 5000), CHART_H - PAD_B);
    }

    #[test]
    fn data_urls_escape_everything_but_unreserved() {
        assert_eq!(data_url("a b\n—"), "data:text/plain;charset=utf-8,a%20b%0A%E2%80%94");
    }
}
