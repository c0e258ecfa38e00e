// SQL for the proof of liabilities (issue 16 item 3). Included into `mod sqlite` and
// `mod postgres` by lib.rs; see common.rs.

/// Rows per multi-row INSERT: 3–4 parameters each stays far below SQLite's 32 766 and
/// PostgreSQL's 65 535 bound parameters.
const LIABILITY_INSERT_BATCH: usize = 1_000;

/// What every order holds in each escrow and frozen account, from the postings grouped
/// by their entry's order (raw sums: a hold is a credit, so negative when it holds money).
pub async fn order_holds(tx: &mut Conn) -> Result<Vec<OrderHoldRow>> {
    let rows = sqlx::query(
        "SELECT e.order_id AS order_id, p.account AS account, CAST(SUM(p.amount_minor) AS BIGINT) AS raw \
         FROM postings p JOIN journal_entries e ON e.id = p.entry_id \
         WHERE p.account LIKE 'escrow:%' OR p.account LIKE 'frozen:%' \
         GROUP BY e.order_id, p.account ORDER BY e.order_id, p.account",
    )
    .fetch_all(&mut **tx)
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        out.push(OrderHoldRow {
            order_id: r.try_get("order_id")?,
            account: r.try_get("account")?,
            raw_minor: r.try_get("raw")?,
        });
    }
    Ok(out)
}

/// The highest statement number so far (0 when none).
pub async fn max_liability_seq(tx: &mut Conn) -> Result<i64> {
    let row = sqlx::query("SELECT CAST(COALESCE(MAX(seq), 0) AS BIGINT) AS m FROM liability_statements")
        .fetch_one(&mut **tx)
        .await?;
    Ok(row.try_get("m")?)
}

/// Stores a statement with its leaves and its snapshot of the liability accounts.
pub async fn insert_liability_statement(
    tx: &mut Conn,
    statement: &LiabilityStatementRow,
    leaves: &[LiabilityLeafRow],
    accounts: &[(String, i64)],
) -> Result<()> {
    sqlx::query(
        "INSERT INTO liability_statements (seq, as_of, leaf_count, total_minor, root, note, ledger_liabilities_minor, \
         provider_balance_minor, provider, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(statement.seq)
    .bind(statement.as_of)
    .bind(statement.leaf_count)
    .bind(statement.total_minor)
    .bind(&statement.root)
    .bind(&statement.note)
    .bind(statement.ledger_liabilities_minor)
    .bind(statement.provider_balance_minor)
    .bind(statement.provider.as_deref())
    .bind(statement.created_at)
    .execute(&mut **tx)
    .await
    .map_err(|e| StoreError::from_insert(e, "liability statement"))?;
    for chunk in leaves.chunks(LIABILITY_INSERT_BATCH) {
        let sql = format!(
            "INSERT INTO liability_leaves (seq, label, account, amount_minor) VALUES {}",
            values_list(chunk.len(), 4, 1)
        );
        let mut q = sqlx::query(&sql);
        for leaf in chunk {
            q = q
                .bind(statement.seq)
                .bind(leaf.label.as_str())
                .bind(leaf.account.as_str())
                .bind(leaf.amount_minor);
        }
        q.execute(&mut **tx).await?;
    }
    for chunk in accounts.chunks(LIABILITY_INSERT_BATCH) {
        let sql = format!(
            "INSERT INTO liability_accounts (seq, account, balance_minor) VALUES {}",
            values_list(chunk.len(), 3, 1)
        );
        let mut q = sqlx::query(&sql);
        for (account, balance) in chunk {
            q = q.bind(statement.seq).bind(account.as_str()).bind(*balance);
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

fn liability_statement_from(r: &Row) -> Result<LiabilityStatementRow> {
    Ok(LiabilityStatementRow {
        seq: r.try_get("seq")?,
        as_of: r.try_get("as_of")?,
        leaf_count: r.try_get("leaf_count")?,
        total_minor: r.try_get("total_minor")?,
        root: r.try_get("root")?,
        note: r.try_get("note")?,
        ledger_liabilities_minor: r.try_get("ledger_liabilities_minor")?,
        provider_balance_minor: r.try_get("provider_balance_minor")?,
        provider: r.try_get("provider")?,
        created_at: r.try_get("created_at")?,
        leaves_pruned_at: r.try_get("leaves_pruned_at")?,
    })
}

/// Drops the leaves of every statement numbered below `keep_from` and marks those
/// statements pruned (at `now`); returns how many statements were newly pruned.
pub async fn prune_liability_leaves(tx: &mut Conn, keep_from: i64, now: i64) -> Result<u64> {
    let marked = sqlx::query(
        "UPDATE liability_statements SET leaves_pruned_at = $2 WHERE seq < $1 AND leaves_pruned_at IS NULL",
    )
    .bind(keep_from)
    .bind(now)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if marked > 0 {
        sqlx::query("DELETE FROM liability_leaves WHERE seq < $1")
            .bind(keep_from)
            .execute(&mut **tx)
            .await?;
    }
    Ok(marked)
}

/// The latest statements, newest first.
pub async fn recent_liability_statements(tx: &mut Conn, limit: i64) -> Result<Vec<LiabilityStatementRow>> {
    let rows = sqlx::query("SELECT * FROM liability_statements ORDER BY seq DESC LIMIT $1")
        .bind(limit)
        .fetch_all(&mut **tx)
        .await?;
    rows.iter().map(liability_statement_from).collect()
}

pub async fn liability_statement(tx: &mut Conn, seq: i64) -> Result<Option<LiabilityStatementRow>> {
    let row = sqlx::query("SELECT * FROM liability_statements WHERE seq = $1")
        .bind(seq)
        .fetch_optional(&mut **tx)
        .await?;
    row.as_ref().map(liability_statement_from).transpose()
}

/// Every statement's number, oldest first (for the ledger check).
pub async fn liability_seqs(tx: &mut Conn) -> Result<Vec<i64>> {
    let rows = sqlx::query("SELECT seq FROM liability_statements ORDER BY seq")
        .fetch_all(&mut **tx)
        .await?;
    rows.iter().map(|r| Ok(r.try_get("seq")?)).collect()
}

/// A statement's leaves, in label order.
pub async fn liability_leaves(tx: &mut Conn, seq: i64) -> Result<Vec<LiabilityLeafRow>> {
    let rows = sqlx::query("SELECT label, account, amount_minor FROM liability_leaves WHERE seq = $1 ORDER BY label")
        .bind(seq)
        .fetch_all(&mut **tx)
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        out.push(LiabilityLeafRow {
            label: r.try_get("label")?,
            account: r.try_get("account")?,
            amount_minor: r.try_get("amount_minor")?,
        });
    }
    Ok(out)
}

/// The leaves of a statement with these labels (an order's escrow and frozen, say).
pub async fn liability_leaves_by_labels(tx: &mut Conn, seq: i64, labels: &[String]) -> Result<Vec<LiabilityLeafRow>> {
    if labels.is_empty() {
        return Ok(Vec::new());
    }
    let params: Vec<String> = (0..labels.len()).map(|i| format!("${}", i + 2)).collect();
    let sql = format!(
        "SELECT label, account, amount_minor FROM liability_leaves WHERE seq = $1 AND label IN ({}) ORDER BY label",
        params.join(", ")
    );
    let mut q = sqlx::query(&sql).bind(seq);
    for label in labels {
        q = q.bind(label.as_str());
    }
    let rows = q.fetch_all(&mut **tx).await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        out.push(LiabilityLeafRow {
            label: r.try_get("label")?,
            account: r.try_get("account")?,
            amount_minor: r.try_get("amount_minor")?,
        });
    }
    Ok(out)
}

/// A statement's snapshot of the liability accounts (normal balances).
pub async fn liability_accounts(tx: &mut Conn, seq: i64) -> Result<Vec<(String, i64)>> {
    let rows = sqlx::query("SELECT account, balance_minor FROM liability_accounts WHERE seq = $1 ORDER BY account")
        .bind(seq)
        .fetch_all(&mut **tx)
        .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("account")?, r.try_get("balance_minor")?)))
        .collect()
}
