//! Proof of liabilities (防跑路, issue 16 item 3) as the platform runs it.
//!
//! Every `[transparency] liabilities_period_minutes` a job reads the ledger in one
//! consistent snapshot, turns every balance the platform owes into a leaf (each order's
//! escrow and frozen money, from its postings; each seller's available, reserve and
//! deposit; the compensation fund; refunds and payouts pending at a rail), checks the
//! leaves add up to the ledger's liabilities account by account, builds the Merkle sum
//! tree (`danbao_evidence::liabilities`), signs the statement with the log's key, stores
//! it with its leaves and appends it to the evidence log, all in that one transaction.
//! A mismatch publishes nothing and records a security event.
//!
//! The salts are derived from a secret the platform already keeps (the log's signing
//! key, through HMAC with a label of its own), so they need no storage; an owner gets
//! their leaf's salt only in the proof of their own balance.

use crate::auth::Caller;
use crate::clock::rfc3339;
use crate::{App, AppError, AppResult};
use danbao_domain::order::Party;
use danbao_domain::Account;
use danbao_evidence::{open_statement, Liability, Statement, SumTree};
use danbao_store::{LiabilityLeafRow, LiabilityStatementRow, OrderHoldRow};
use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;
use std::collections::BTreeMap;

/// The evidence-log case every statement is appended to.
pub const LIABILITIES_CASE: &str = "liabilities";
/// Statements shown in the public history (the chart): a few days at the default period.
pub const STATEMENTS_SHOWN_MAX: i64 = 48;
/// A basis point is 1/10 000.
const BPS: i128 = 10_000;

fn internal(e: impl std::fmt::Display) -> AppError {
    AppError::Internal(e.to_string())
}

/// One statement as the pages and the API show it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LiabilityStatementView {
    pub seq: i64,
    /// The snapshot's time (RFC 3339) and in ms since the epoch.
    pub as_of: String,
    pub as_of_ms: i64,
    pub leaf_count: i64,
    /// The total owed, fen.
    pub total_minor: i64,
    /// Hex of the sum tree's root hash.
    pub root: String,
    /// The signed statement (a C2SP signed note by the log's key).
    pub note: String,
    /// What the payment provider said it holds for us when the statement was made.
    pub provider_balance_minor: Option<i64>,
    pub provider: Option<String>,
    /// Provider balance / total, in basis points (10000 = 100 %); None when either is
    /// unknown or the total is zero.
    pub cover_ratio_bps: Option<i64>,
}

impl LiabilityStatementView {
    fn from_row(r: &LiabilityStatementRow) -> Self {
        Self {
            seq: r.seq,
            as_of: rfc3339(r.as_of),
            as_of_ms: r.as_of,
            leaf_count: r.leaf_count,
            total_minor: r.total_minor,
            root: r.root.clone(),
            note: r.note.clone(),
            provider_balance_minor: r.provider_balance_minor,
            provider: r.provider.clone(),
            cover_ratio_bps: r.provider_balance_minor.and_then(|b| cover_ratio_bps(b, r.total_minor)),
        }
    }
}

/// The published liabilities against the provider's settlement balance (the reserves),
/// for reconciliation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct LiabilitiesCover {
    pub statement_seq: i64,
    pub statement_as_of: String,
    pub liabilities_total_minor: i64,
    pub provider: String,
    pub provider_balance_minor: i64,
    /// Reserves / liabilities in basis points (10000 = fully covered); None when nothing
    /// is owed.
    pub cover_ratio_bps: Option<i64>,
    /// The same as a percentage with two decimals, e.g. `102.50 %`.
    pub cover_ratio: String,
    /// Reserves less liabilities, fen: negative is a shortfall.
    pub surplus_minor: i64,
}

impl LiabilitiesCover {
    fn new(statement: &LiabilityStatementView, provider: &str, balance_minor: i64) -> Self {
        let bps = cover_ratio_bps(balance_minor, statement.total_minor);
        Self {
            statement_seq: statement.seq,
            statement_as_of: statement.as_of.clone(),
            liabilities_total_minor: statement.total_minor,
            provider: provider.to_string(),
            provider_balance_minor: balance_minor,
            cover_ratio_bps: bps,
            cover_ratio: bps.map_or_else(|| "—".to_string(), format_bps_percent),
            surplus_minor: balance_minor.saturating_sub(statement.total_minor),
        }
    }

    /// The cover recorded with a statement (the provider's balance read just before it).
    pub fn recorded(statement: &LiabilityStatementView) -> Option<Self> {
        let (balance, provider) = (statement.provider_balance_minor?, statement.provider.as_deref()?);
        Some(Self::new(statement, provider, balance))
    }
}

/// `reserves / liabilities` in basis points, floored; None for no liabilities.
pub fn cover_ratio_bps(reserves_minor: i64, liabilities_minor: i64) -> Option<i64> {
    if liabilities_minor <= 0 {
        return None;
    }
    let bps = i128::from(reserves_minor) * BPS / i128::from(liabilities_minor);
    i64::try_from(bps).ok()
}

/// Basis points as a percentage with two decimals (`10250` → `102.50 %`), without floats.
pub fn format_bps_percent(bps: i64) -> String {
    let sign = if bps < 0 { "-" } else { "" };
    let abs = bps.unsigned_abs();
    format!("{sign}{}.{:02} %", abs / 100, abs % 100)
}

/// What publishing did.
#[derive(Debug, Clone)]
pub enum PublishOutcome {
    Published(LiabilityStatementView),
    /// The snapshot did not add up; nothing was published and a security event says why.
    Refused(String),
}

/// One owner's proof over the API and on the order page.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct OrderLiabilitiesProof {
    pub order_id: String,
    /// The latest statement; None when none has been published yet.
    pub statement: Option<LiabilityStatementView>,
    /// What the order held in that statement, fen (escrow plus frozen).
    pub amount_minor: i64,
    /// One proof per balance of the order (escrow, frozen), each checkable with
    /// `danbao verify-liabilities PROOF --key VKEY`. Empty when the order held nothing.
    pub proofs: Vec<LiabilityProofText>,
    /// The order's status now; a completed or refunded order holds no money.
    pub holds_money_now: bool,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LiabilityProofText {
    pub label: String,
    pub amount_minor: i64,
    /// The `danbao-liabilities-proof/v1` text.
    pub proof: String,
}

/// The leaves and the per-account snapshot of one statement, before the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub leaves: Vec<LiabilityLeafRow>,
    /// Every liability account with a non-zero balance: (account, normal balance).
    pub accounts: Vec<(String, i64)>,
    pub ledger_liabilities_minor: i64,
}

/// The leaf label of an account that is not split by order, or None for one that is
/// (escrow, frozen) or is not a liability.
fn account_label(account: &Account) -> Option<String> {
    Some(match account {
        Account::Available(s) => format!("seller:{s}:available"),
        Account::Reserve(s) => format!("seller:{s}:reserve"),
        Account::Deposit(s) => format!("seller:{s}:deposit"),
        Account::CompensationFund => "platform:compensation_fund".to_string(),
        Account::RefundsPending(r) => format!("rail:{r}:refunds_pending"),
        Account::PayoutsPending(r) => format!("rail:{r}:payouts_pending"),
        _ => return None,
    })
}

/// An order's hold labels (what its proof is looked up by).
pub fn order_labels(order_id: &str) -> Vec<String> {
    vec![format!("order:{order_id}:escrow"), format!("order:{order_id}:frozen")]
}

/// Turns one consistent read of the ledger into leaves, and checks them twice: each
/// escrow and frozen account equals the sum of what its orders hold in it, and the
/// leaves add up to the ledger's liabilities. Pure; an `Err` says what did not add up.
pub fn snapshot(balances: &BTreeMap<Account, i64>, holds: &[OrderHoldRow]) -> Result<Snapshot, String> {
    let mut accounts = Vec::new();
    let mut ledger_liabilities: i64 = 0;
    let mut leaves = Vec::new();
    for (account, raw) in balances {
        if !account.must_stay_non_negative() {
            continue;
        }
        let normal = account.normal_balance(*raw);
        if normal < 0 {
            return Err(format!("account {account} is negative ({normal})"));
        }
        if normal == 0 {
            continue;
        }
        ledger_liabilities = ledger_liabilities
            .checked_add(normal)
            .ok_or("the ledger's liabilities overflow")?;
        accounts.push((account.to_string(), normal));
        if let Some(label) = account_label(account) {
            leaves.push(LiabilityLeafRow {
                label,
                account: account.to_string(),
                amount_minor: normal,
            });
        }
    }
    // The orders' holds: one leaf per order and kind, checked against the accounts.
    let mut by_account: BTreeMap<&str, i64> = BTreeMap::new();
    let mut by_label: BTreeMap<String, (String, i64)> = BTreeMap::new();
    for h in holds {
        let held = h.raw_minor.checked_neg().ok_or("a hold overflows")?;
        let parsed = Account::parse(&h.account).ok_or_else(|| format!("unknown account {:?}", h.account))?;
        let kind = match parsed {
            Account::Escrow(_) => "escrow",
            Account::Frozen(_) => "frozen",
            _ => return Err(format!("account {} is not a hold", h.account)),
        };
        let sum = by_account.entry(h.account.as_str()).or_insert(0);
        *sum = sum.checked_add(held).ok_or("a hold overflows")?;
        if held == 0 {
            continue;
        }
        let Some(order) = &h.order_id else {
            return Err(format!("{held} in {} was posted without an order", h.account));
        };
        if held < 0 {
            return Err(format!(
                "order {order} holds a negative amount ({held}) in {}",
                h.account
            ));
        }
        let label = format!("order:{order}:{kind}");
        if let Some((other, _)) = by_label.get(&label) {
            return Err(format!("order {order} holds money in both {other} and {}", h.account));
        }
        by_label.insert(label, (h.account.clone(), held));
    }
    for (account, raw) in balances {
        if !account.holds_order_money() {
            continue;
        }
        let normal = account.normal_balance(*raw);
        let from_orders = by_account.get(account.to_string().as_str()).copied().unwrap_or(0);
        if normal != from_orders {
            return Err(format!(
                "account {account} holds {normal} but its orders' postings add up to {from_orders}"
            ));
        }
    }
    for (account, sum) in &by_account {
        let known = Account::parse(account).is_some_and(|a| balances.contains_key(&a));
        if !known && *sum != 0 {
            return Err(format!("orders hold {sum} in {account}, which has no balance row"));
        }
    }
    for (label, (account, amount)) in by_label {
        leaves.push(LiabilityLeafRow {
            label,
            account,
            amount_minor: amount,
        });
    }
    let total = leaves
        .iter()
        .try_fold(0i64, |t, l| t.checked_add(l.amount_minor))
        .ok_or("the leaves' total overflows")?;
    if total != ledger_liabilities {
        return Err(format!(
            "the leaves add up to {total}, the ledger's liabilities to {ledger_liabilities}"
        ));
    }
    leaves.sort_by(|a, b| a.label.cmp(&b.label));
    Ok(Snapshot {
        leaves,
        accounts,
        ledger_liabilities_minor: ledger_liabilities,
    })
}

/// Builds the sum tree of stored or fresh leaves under `secret`.
pub fn tree_of(secret: &[u8; 32], seq: i64, leaves: &[LiabilityLeafRow]) -> Result<SumTree, String> {
    let seq = u64::try_from(seq).map_err(|_| format!("statement number {seq} is negative"))?;
    let liabilities = leaves
        .iter()
        .map(|l| Liability::new(&l.label, l.amount_minor))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    SumTree::build(secret, seq, liabilities).map_err(|e| e.to_string())
}

/// What a stored statement must satisfy (the ledger check): its note opens with the log
/// key and says what the row says; its stored leaves rebuild the signed root and total;
/// the total equals the ledger's liabilities read in the same snapshot; and the leaves
/// regroup, account by account, into that snapshot's liability balances. A statement
/// whose leaves were pruned (marked so when they were dropped) is held to the rest: a
/// statement that lost its leaves without the mark fails on its root.
pub fn check_statement(
    verifier: &danbao_evidence::LogVerifier,
    secret: &[u8; 32],
    row: &LiabilityStatementRow,
    leaves: &[LiabilityLeafRow],
    accounts: &[(String, i64)],
) -> Vec<String> {
    let mut problems = Vec::new();
    let seq = row.seq;
    let signed = match open_statement(&row.note, verifier) {
        Ok(s) => s,
        Err(e) => {
            problems.push(format!("liabilities statement {seq}: its note does not verify: {e}"));
            return problems;
        }
    };
    let as_row = |s: &Statement| {
        (
            i64::try_from(s.seq).ok(),
            i64::try_from(s.as_of_ms).ok(),
            i64::try_from(s.leaf_count).ok(),
            i64::try_from(s.total).ok(),
            hex::encode(s.root),
        )
    };
    if as_row(&signed)
        != (
            Some(row.seq),
            Some(row.as_of),
            Some(row.leaf_count),
            Some(row.total_minor),
            row.root.clone(),
        )
    {
        problems.push(format!(
            "liabilities statement {seq}: the stored row differs from its signed note"
        ));
    }
    // A pruned statement has no leaves left to rebuild its tree from, nor to regroup.
    let pruned = row.leaves_pruned_at.is_some() && leaves.is_empty();
    if !pruned {
        match tree_of(secret, seq, leaves) {
            Ok(tree) => {
                let root = tree.root();
                if root.hash != signed.root || root.sum != signed.total || tree.len() as u64 != signed.leaf_count {
                    problems.push(format!(
                        "liabilities statement {seq}: the stored leaves rebuild root {} total {} ({} leaves), not the signed {} total {} ({} leaves)",
                        hex::encode(root.hash),
                        root.sum,
                        tree.len(),
                        hex::encode(signed.root),
                        signed.total,
                        signed.leaf_count
                    ));
                }
            }
            Err(e) => problems.push(format!(
                "liabilities statement {seq}: its leaves do not build a tree: {e}"
            )),
        }
    }
    if row.total_minor != row.ledger_liabilities_minor {
        problems.push(format!(
            "liabilities statement {seq}: published total {} ≠ the ledger's liabilities {} at that statement",
            row.total_minor, row.ledger_liabilities_minor
        ));
    }
    let mut regrouped: BTreeMap<&str, i64> = BTreeMap::new();
    for l in leaves {
        let e = regrouped.entry(l.account.as_str()).or_insert(0);
        *e = e.saturating_add(l.amount_minor);
    }
    let recorded: BTreeMap<&str, i64> = accounts.iter().map(|(a, b)| (a.as_str(), *b)).collect();
    if !pruned && regrouped != recorded {
        problems.push(format!(
            "liabilities statement {seq}: its leaves do not regroup into the ledger's liability accounts at that statement"
        ));
    }
    let recorded_sum = accounts.iter().fold(0i64, |t, (_, b)| t.saturating_add(*b));
    if recorded_sum != row.ledger_liabilities_minor {
        problems.push(format!(
            "liabilities statement {seq}: its account snapshot adds up to {recorded_sum}, not the recorded {}",
            row.ledger_liabilities_minor
        ));
    }
    problems
}

/// The secret the leaf salts are derived from, given the log's signer (see
/// [`App::liabilities_salt_secret`]); for tools that open the key files themselves.
pub fn salt_secret(signer: &danbao_evidence::LogSigner) -> [u8; 32] {
    let key = signer.to_secret_bytes();
    match <Hmac<Sha256> as Mac>::new_from_slice(&key) {
        Ok(mut m) => {
            m.update(b"danbao-liability-salt-key/v1");
            m.finalize().into_bytes().into()
        }
        // HMAC takes keys of any length: this arm cannot run.
        Err(_) => [0u8; 32],
    }
}

impl App {
    /// The secret the leaf salts are derived from: an HMAC of the log's signing key under
    /// a label of its own, so a salt never reveals anything about the signing key and
    /// needs no file of its own.
    pub(crate) fn liabilities_salt_secret(&self) -> [u8; 32] {
        salt_secret(self.log_signer())
    }

    /// The providers' settlement balance: what the rails say they hold for us, summed
    /// over those that can say. Asked before the snapshot transaction begins (no call
    /// leaves the process while one is open). None when no configured rail answers.
    pub async fn provider_settlement_balance(&self) -> Option<(String, i64)> {
        let mut names = Vec::new();
        let mut total: i64 = 0;
        for rail in self.rails.iter() {
            match rail.settlement_balance().await {
                Ok(Some(balance)) => {
                    total = total.checked_add(balance.minor())?;
                    names.push(rail.name());
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(rail = rail.name(), error = %e, "the provider's balance is unavailable"),
            }
        }
        (!names.is_empty()).then(|| (names.join("+"), total))
    }

    /// The latest published total against what `rail` says it holds now; None when no
    /// statement is published or the rail cannot say. A rail that fails to answer is
    /// logged, not an error: the reconciliation run itself stands.
    pub async fn liabilities_cover(
        &self,
        rail: &dyn crate::payments::PaymentProvider,
    ) -> AppResult<Option<LiabilitiesCover>> {
        let Some(latest) = self.liability_statements(1).await?.into_iter().next() else {
            return Ok(None);
        };
        match rail.settlement_balance().await {
            Ok(Some(balance)) => Ok(Some(LiabilitiesCover::new(&latest, rail.name(), balance.minor()))),
            Ok(None) => Ok(None),
            Err(e) => {
                tracing::warn!(rail = rail.name(), error = %e, "the provider's balance is unavailable");
                Ok(None)
            }
        }
    }

    /// Publishes one statement of liabilities (see the module docs).
    pub async fn publish_liabilities(&self) -> AppResult<PublishOutcome> {
        let provider = self.provider_settlement_balance().await;
        let secret = self.liabilities_salt_secret();
        let outcome = self
            .retrying(|| async {
                let now = self.now();
                let mut tx = self.store.begin_snapshot().await?;
                let balances = tx.account_balances().await?;
                let holds = tx.order_holds().await?;
                let snap = match snapshot(&balances, &holds) {
                    Ok(s) => s,
                    Err(problem) => {
                        tx.commit().await?;
                        return Ok(Err(problem));
                    }
                };
                let seq = tx.max_liability_seq().await? + 1;
                let tree = tree_of(&secret, seq, &snap.leaves).map_err(internal)?;
                let statement = Statement::of_tree(
                    &tree,
                    u64::try_from(seq).map_err(internal)?,
                    u64::try_from(now).map_err(internal)?,
                );
                let note = statement.sign(self.log_signer()).map_err(internal)?;
                let row = LiabilityStatementRow {
                    seq,
                    as_of: now,
                    leaf_count: i64::try_from(tree.len()).map_err(internal)?,
                    total_minor: i64::try_from(statement.total).map_err(internal)?,
                    root: hex::encode(statement.root),
                    note: note.clone(),
                    ledger_liabilities_minor: snap.ledger_liabilities_minor,
                    provider_balance_minor: provider.as_ref().map(|p| p.1),
                    provider: provider.as_ref().map(|p| p.0.clone()),
                    created_at: now,
                    leaves_pruned_at: None,
                };
                tx.insert_liability_statement(&row, &snap.leaves, &snap.accounts)
                    .await?;
                let keep = self.current_rules().transparency.liabilities_keep_leaves;
                let pruned = tx.prune_liability_leaves(seq - keep + 1, now).await?;
                if pruned > 0 {
                    tracing::info!(pruned, keep, "pruned the leaves of older statements of liabilities");
                }
                let mut refs = BTreeMap::new();
                refs.insert("statement".to_string(), seq.to_string());
                crate::evidence::append_leaf(
                    &mut tx,
                    LIABILITIES_CASE,
                    "liabilities.statement",
                    refs,
                    note.as_bytes(),
                    now,
                )
                .await?;
                tx.commit().await?;
                Ok(Ok((row, tree)))
            })
            .await;
        match outcome {
            Ok(Ok((row, tree))) => {
                // The buyers' proofs of this statement come from the tree just built:
                // the first of them need not rebuild it from the stored leaves.
                cache_tree(&row.root, &std::sync::Arc::new(tree));
                tracing::info!(
                    seq = row.seq,
                    total_minor = row.total_minor,
                    leaves = row.leaf_count,
                    "published a statement of liabilities"
                );
                Ok(PublishOutcome::Published(LiabilityStatementView::from_row(&row)))
            }
            Ok(Err(problem)) => {
                self.refuse_liabilities(&problem).await?;
                Ok(PublishOutcome::Refused(problem))
            }
            Err(e) => Err(e),
        }
    }

    /// Records why a statement was refused (a security event: the ledger does not add up).
    pub(crate) async fn refuse_liabilities(&self, problem: &str) -> AppResult<()> {
        tracing::error!(problem, "refused to publish a statement of liabilities");
        let mut tx = self.store.begin().await?;
        let detail = serde_json::json!({ "problem": problem }).to_string();
        tx.insert_security_event("liabilities_mismatch", &detail, self.now())
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The latest statements, newest first (the public page and its chart).
    pub async fn liability_statements(&self, limit: i64) -> AppResult<Vec<LiabilityStatementView>> {
        let mut tx = self.store.begin_read().await?;
        let rows = tx
            .recent_liability_statements(limit.clamp(1, STATEMENTS_SHOWN_MAX))
            .await?;
        tx.commit().await?;
        Ok(rows.iter().map(LiabilityStatementView::from_row).collect())
    }

    /// The proof that an order's held money is in the latest published total: to the
    /// order's buyer (or a guest with its access token) only; anyone else: not found.
    pub async fn order_liabilities_proof(&self, caller: &Caller, id: &str) -> AppResult<OrderLiabilitiesProof> {
        let mut tx = self.store.begin_read().await?;
        let (order, party) = self.order_for(&mut tx, caller, id, false).await?;
        if party != Party::Buyer {
            return Err(AppError::NotFound("order"));
        }
        let latest = tx.recent_liability_statements(1).await?.into_iter().next();
        let holds_money_now = order.status.holds_escrow();
        let Some(row) = latest else {
            tx.commit().await?;
            return Ok(OrderLiabilitiesProof {
                order_id: order.id.to_string(),
                statement: None,
                amount_minor: 0,
                proofs: Vec::new(),
                holds_money_now,
            });
        };
        let mine = tx
            .liability_leaves_by_labels(row.seq, &order_labels(order.id.as_str()))
            .await?;
        let cached = if mine.is_empty() { None } else { cached_tree(&row.root) };
        let leaves = if mine.is_empty() || cached.is_some() {
            Vec::new()
        } else {
            tx.liability_leaves(row.seq).await?
        };
        tx.commit().await?;
        let mut proofs = Vec::new();
        if !mine.is_empty() {
            let tree = match cached {
                Some(tree) => tree,
                None => {
                    // The tree is rebuilt from the stored leaves (O(n) hashes: see `danbao
                    // bench liabilities`) and must give the signed root before any proof is
                    // handed out; then it is kept for the next buyer.
                    let tree = tree_of(&self.liabilities_salt_secret(), row.seq, &leaves).map_err(internal)?;
                    if hex::encode(tree.root().hash) != row.root {
                        return Err(internal(format!(
                            "liabilities statement {}: the stored leaves no longer give the signed root",
                            row.seq
                        )));
                    }
                    let tree = std::sync::Arc::new(tree);
                    cache_tree(&row.root, &tree);
                    tree
                }
            };
            for leaf in &mine {
                let index = tree
                    .position(&leaf.label)
                    .ok_or_else(|| internal("a stored leaf is missing from its tree"))?;
                // The buyer is told the stored amount; it must be the one the tree proves
                // (a leaf changed in storage since is a fault, not a proof).
                let proven = tree.leaf(index).map(|(l, _)| l.amount());
                if proven != u64::try_from(leaf.amount_minor).ok() {
                    return Err(internal(format!(
                        "liabilities statement {}: the stored leaf {} differs from the signed tree",
                        row.seq, leaf.label
                    )));
                }
                proofs.push(LiabilityProofText {
                    label: leaf.label.clone(),
                    amount_minor: leaf.amount_minor,
                    proof: tree.proof(index, &row.note).map_err(internal)?,
                });
            }
        }
        Ok(OrderLiabilitiesProof {
            order_id: order.id.to_string(),
            statement: Some(LiabilityStatementView::from_row(&row)),
            amount_minor: mine.iter().map(|l| l.amount_minor).sum(),
            proofs,
            holds_money_now,
        })
    }

    /// The ledger check's part for the statements: every stored statement checked with
    /// [`check_statement`].
    pub async fn check_liability_statements(&self) -> AppResult<Vec<String>> {
        check_liability_statements(&self.store, &self.log_verifier(), &self.liabilities_salt_secret()).await
    }
}

/// The tree of the latest statement proofs were asked of, by signed root: a root names
/// one tree (the leaves and salts hash into it), so a tree built once serves every buyer
/// of that statement, in any `App` of this process. Trees above the bound are rebuilt per
/// request rather than held in memory (about 150 bytes a leaf).
static TREE_CACHE: std::sync::Mutex<Option<(String, std::sync::Arc<SumTree>)>> = std::sync::Mutex::new(None);
const CACHED_TREE_LEAVES_MAX: usize = 2_000_000;

fn cached_tree(root_hex: &str) -> Option<std::sync::Arc<SumTree>> {
    let guard = match TREE_CACHE.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    };
    guard
        .as_ref()
        .filter(|(root, _)| root == root_hex)
        .map(|(_, tree)| tree.clone())
}

fn cache_tree(root_hex: &str, tree: &std::sync::Arc<SumTree>) {
    if tree.len() > CACHED_TREE_LEAVES_MAX {
        return;
    }
    let mut guard = match TREE_CACHE.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    };
    *guard = Some((root_hex.to_string(), tree.clone()));
}

/// [`check_statement`] over every stored statement, each read in one snapshot.
pub async fn check_liability_statements(
    store: &danbao_store::Store,
    verifier: &danbao_evidence::LogVerifier,
    secret: &[u8; 32],
) -> AppResult<Vec<String>> {
    let mut tx = store.begin_read().await?;
    let seqs = tx.liability_seqs().await?;
    tx.commit().await?;
    let mut problems = Vec::new();
    for seq in seqs {
        let mut tx = store.begin_read().await?;
        let Some(row) = tx.liability_statement(seq).await? else {
            tx.commit().await?;
            continue;
        };
        let leaves = tx.liability_leaves(seq).await?;
        let accounts = tx.liability_accounts(seq).await?;
        tx.commit().await?;
        problems.extend(check_statement(verifier, secret, &row, &leaves, &accounts));
    }
    Ok(problems)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use danbao_domain::UserId;

    fn user(n: u8) -> UserId {
        UserId::from_trusted(format!("0190a000-0000-7000-8000-0000000000{n:02}"))
    }

    fn hold(order: Option<&str>, account: &Account, held: i64) -> OrderHoldRow {
        OrderHoldRow {
            order_id: order.map(str::to_string),
            account: account.to_string(),
            raw_minor: -held,
        }
    }

    #[test]
    fn a_ledger_becomes_leaves_that_add_up() {
        let s1 = user(1);
        let mut balances = BTreeMap::new();
        balances.insert(Account::Escrow(s1.clone()), -300);
        balances.insert(Account::Frozen(s1.clone()), -50);
        balances.insert(Account::Available(s1.clone()), -1000);
        balances.insert(Account::Deposit(s1.clone()), -500);
        balances.insert(Account::CompensationFund, -7);
        balances.insert(Account::RefundsPending("sandbox".into()), -20);
        balances.insert(Account::PlatformFees, -99);
        balances.insert(Account::Provider("sandbox".into()), 1976);
        let holds = vec![
            hold(Some("o1"), &Account::Escrow(s1.clone()), 100),
            hold(Some("o2"), &Account::Escrow(s1.clone()), 200),
            hold(Some("o3"), &Account::Escrow(s1.clone()), 0),
            hold(Some("o3"), &Account::Frozen(s1.clone()), 50),
        ];
        let snap = snapshot(&balances, &holds).unwrap();
        assert_eq!(snap.ledger_liabilities_minor, 300 + 50 + 1000 + 500 + 7 + 20);
        let labels: Vec<(String, i64)> = snap.leaves.iter().map(|l| (l.label.clone(), l.amount_minor)).collect();
        let expected: Vec<(String, i64)> = [
            ("order:o1:escrow".to_string(), 100),
            ("order:o2:escrow".to_string(), 200),
            ("order:o3:frozen".to_string(), 50),
            ("platform:compensation_fund".to_string(), 7),
            ("rail:sandbox:refunds_pending".to_string(), 20),
            (format!("seller:{s1}:available"), 1000),
            (format!("seller:{s1}:deposit"), 500),
        ]
        .into();
        assert_eq!(labels, expected);
        // Each order leaf names the account it is part of; fees and the provider are not
        // liabilities and have no leaf.
        assert_eq!(snap.leaves[0].account, format!("escrow:{s1}"));
        assert_eq!(snap.accounts.len(), 6);
        let tree = tree_of(&[1; 32], 1, &snap.leaves).unwrap();
        assert_eq!(tree.root().sum, 1877);
    }

    #[test]
    fn what_does_not_add_up_is_refused() {
        let s1 = user(1);
        let mut balances = BTreeMap::new();
        balances.insert(Account::Escrow(s1.clone()), -300);
        // The orders' postings hold less than the account says.
        let holds = vec![hold(Some("o1"), &Account::Escrow(s1.clone()), 299)];
        assert!(snapshot(&balances, &holds)
            .unwrap_err()
            .contains("orders' postings add up to 299"));
        // Money in escrow without an order.
        let holds = vec![hold(None, &Account::Escrow(s1.clone()), 300)];
        assert!(snapshot(&balances, &holds).unwrap_err().contains("without an order"));
        // A negative liability.
        balances.insert(Account::Available(s1.clone()), 5);
        let holds = vec![hold(Some("o1"), &Account::Escrow(s1.clone()), 300)];
        assert!(snapshot(&balances, &holds).unwrap_err().contains("negative"));
    }

    #[test]
    fn cover_ratio_is_integer_basis_points() {
        assert_eq!(cover_ratio_bps(1025, 1000), Some(10250));
        assert_eq!(cover_ratio_bps(1, 3), Some(3333));
        assert_eq!(cover_ratio_bps(5, 0), None);
        assert_eq!(format_bps_percent(10250), "102.50 %");
        assert_eq!(format_bps_percent(3333), "33.33 %");
        assert_eq!(format_bps_percent(5), "0.05 %");
    }
}
