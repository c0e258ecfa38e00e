//! `/transparency`: what anyone can check without trusting the platform — the evidence
//! log's latest signed checkpoint, its key, and the commands that verify it offline or
//! keep a mirror of it; the witnesses that cosigned it, when witnesses are configured; the
//! latest statement of liabilities with its cover ratio over time (issue 16 item 3).

use super::forms::PageContext;
use super::i18n::Ui;
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Extension, State};
use axum::response::{IntoResponse, Response};
use danbao_app::App;

#[derive(Template, WebTemplate)]
#[template(path = "transparency.html")]
pub(super) struct TransparencyPage {
    title: &'static str,
    intro: &'static str,
    log_heading: &'static str,
    size_label: &'static str,
    size: u64,
    root_label: &'static str,
    root: String,
    note_label: &'static str,
    note: String,
    key_label: &'static str,
    vkey: String,
    verify_heading: &'static str,
    verify_note: &'static str,
    commands: Vec<(&'static str, String)>,
    witnesses_heading: &'static str,
    witnesses_text: String,
    /// Each configured witness: name, cosignature key, when it cosigned the checkpoint shown.
    witnesses: Vec<(String, String, String)>,
    witness_name_label: &'static str,
    witness_key_label: &'static str,
    witness_at_label: &'static str,
    /// The proof of liabilities block (issue 16 item 3), kept apart from the rest.
    liabilities: super::liabilities::PublicLiabilities,
    w: Ui,
}

pub(super) async fn transparency_page(State(app): State<App>, Extension(page): Extension<PageContext>) -> Response {
    let (note, size, root) = match app.tlog_checkpoint_read().await {
        Ok(read) => read,
        Err(e) => return super::error::PageError::from(e).into_response(),
    };
    let vkey = app.log_signer().vkey();
    let base = app.config.public_url.trim_end_matches('/').to_string();
    let l = page.ui.lang();
    let liabilities = super::liabilities::public_block(&app, l).await;
    // The same flags make `mirror` and `verify` require the configured witnesses.
    let witness_flags = app.witness_policy().map(|policy| {
        let mut flags = String::new();
        for w in &policy.witnesses {
            flags.push_str(&format!(" --witness '{}'", w.verifier.to_vkey()));
        }
        if policy.quorum < policy.witnesses.len() {
            flags.push_str(&format!(" --witness-quorum {}", policy.quorum));
        }
        flags
    });
    let mut commands = vec![
        (
            l.pick("读取最新检查点", "Read the latest checkpoint"),
            format!("curl {base}/checkpoint"),
        ),
        (
            l.pick(
                "镜像日志：校验签名、逐条核对、拒绝分叉或回退",
                "Mirror the log: signature checked, every entry checked, a fork or rollback refused",
            ),
            format!(
                "danbao mirror {base} ./danbao-log --key '{vkey}'{}",
                witness_flags.as_deref().unwrap_or("")
            ),
        ),
        (
            l.pick(
                "离线验证订单的收据或证据包",
                "Verify an order's receipt or dossier offline",
            ),
            format!("danbao verify receipt.txt --key '{vkey}'"),
        ),
        (
            l.pick("瓦片（C2SP tlog-tiles）", "Tiles (C2SP tlog-tiles)"),
            format!("{base}/tile/0/000.p/<W>   {base}/tile/entries/000.p/<W>"),
        ),
    ];
    let (witnesses_text, witnesses) = match app.witness_policy() {
        None => (
            l.pick(
                "尚未配置见证者：检查点目前只有平台自己的签名。",
                "No witnesses are configured: the checkpoint carries only the platform's own signature.",
            )
            .to_string(),
            Vec::new(),
        ),
        Some(policy) => {
            let rows = policy
                .witnesses
                .iter()
                .map(|w| {
                    let at = match w.verifier.verify(&note) {
                        Ok(secs) => {
                            let ms = i64::try_from(secs).unwrap_or(0).saturating_mul(1000);
                            danbao_app::clock::display_time(ms)
                        }
                        Err(_) => l.pick("未联署", "not cosigned").to_string(),
                    };
                    (w.verifier.name().to_string(), w.verifier.to_vkey(), at)
                })
                .collect();
            let text = match l.pick("zh", "en") {
                "zh" => format!(
                    "平台只公布至少 {} 个（共 {} 个）独立见证者联署过的检查点。见证者各自保存见过的最大一棵树，拒绝分叉和回退：平台无法向不同的人展示不同的历史。",
                    policy.quorum,
                    policy.witnesses.len()
                ),
                _ => format!(
                    "The platform publishes a checkpoint only once at least {} of its {} independent witnesses cosigned it. Each witness keeps the largest tree it saw and refuses a fork or a rollback: the platform cannot show different histories to different people.",
                    policy.quorum,
                    policy.witnesses.len()
                ),
            };
            (text, rows)
        }
    };
    commands.push((
        l.pick(
            "验证收据，并要求见证者联署",
            "Verify a receipt and require the witnesses' cosignatures",
        ),
        match &witness_flags {
            Some(flags) => format!("danbao verify receipt.txt --key '{vkey}'{flags}"),
            None => format!("danbao verify receipt.txt --key '{vkey}' --witness '<witness vkey>'"),
        },
    ));
    TransparencyPage {
        title: l.pick("透明度", "Transparency"),
        intro: l.pick(
            "平台的每一个订单事件、证据与裁决都写入一个只能追加的默克尔日志，并由平台密钥签名。下面的一切都可以不信任平台、自行验证。",
            "Every order event, piece of evidence and ruling goes into an append-only Merkle log signed with the platform's key. Everything below can be checked without trusting the platform.",
        ),
        log_heading: l.pick("证据日志", "Evidence log"),
        size_label: l.pick("日志条目数", "Entries in the log"),
        size,
        root_label: l.pick("根哈希", "Root hash"),
        root,
        note_label: l.pick("签名检查点", "Signed checkpoint"),
        note,
        key_label: l.pick("日志公钥", "The log's public key"),
        vkey,
        verify_heading: l.pick("如何验证", "How to verify"),
        verify_note: l.pick(
            "danbao 命令行工具随本项目发布；验证只需要上面的公钥。",
            "The danbao command-line tool ships with this project; verifying needs only the key above.",
        ),
        commands,
        witnesses_heading: l.pick("见证者联署", "Witness cosignatures"),
        witnesses_text,
        witnesses,
        witness_name_label: l.pick("见证者", "Witness"),
        witness_key_label: l.pick("联署公钥", "Cosignature key"),
        witness_at_label: l.pick("联署时间", "Cosigned at"),
        liabilities,
        w: page.ui,
    }
    .into_response()
}
