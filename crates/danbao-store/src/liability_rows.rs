//! Rows of the proof of liabilities (migration 0020).

/// One published statement of liabilities.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiabilityStatementRow {
    pub seq: i64,
    pub as_of: i64,
    pub leaf_count: i64,
    pub total_minor: i64,
    /// Hex of the sum tree's root hash.
    pub root: String,
    /// The signed note.
    pub note: String,
    /// The ledger's liabilities read in the same snapshot.
    pub ledger_liabilities_minor: i64,
    /// What the provider said it holds for us, when a rail answered.
    pub provider_balance_minor: Option<i64>,
    pub provider: Option<String>,
    pub created_at: i64,
    /// When the statement's leaves were dropped (migration 0022), if they were: its
    /// tree can no longer be rebuilt, only its signed note and totals checked.
    pub leaves_pruned_at: Option<i64>,
}

/// One leaf of a statement: the balance's label, its ledger account and amount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiabilityLeafRow {
    pub label: String,
    pub account: String,
    pub amount_minor: i64,
}

/// What an order's postings hold in one escrow or frozen account (raw, debit-positive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderHoldRow {
    /// None: a posting to a hold account whose entry names no order (a fault).
    pub order_id: Option<String>,
    pub account: String,
    pub raw_minor: i64,
}
