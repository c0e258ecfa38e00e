// SQL for ledger. Included into `mod sqlite` and `mod postgres` by lib.rs; see common.rs.

/// Writes a journal entry and its postings, and sets the new balances of the accounts
/// the caller read and checked under their locks (`Tx::post_entry` decides which).
pub async fn write_entry(tx: &mut Conn, entry: &JournalEntry, balances: &[(String, i64)], now: i64) -> Result<String> {
    let id = uuid::Uuid::now_v7().to_string();
    let refs = entry.refs();
    sqlx::query("INSERT INTO journal_entries (id, kind, order_id, payment_id, refund_id, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(&id)
        .bind(entry.kind().as_str())
        .bind(refs.order.as_ref().map(|o| o.as_str()))
        .bind(refs.payment.as_ref().map(|p| p.as_str()))
        .bind(refs.refund.as_ref().map(|r| r.as_str()))
        .bind(now)
        .execute(&mut **tx)
        .await?;
    // One statement for the postings and one for the balances, whatever their number.
    let postings = entry.postings();
    let sql = format!(
        "INSERT INTO postings (entry_id, idx, account, amount_minor) VALUES {}",
        values_list(postings.len(), 4, 1)
    );
    let mut q = sqlx::query(&sql);
    for (idx, p) in postings.iter().enumerate() {
        q = q
            .bind(&id)
            .bind(i64::try_from(idx).unwrap_or(i64::MAX))
            .bind(p.account.to_string())
            .bind(p.amount_minor);
    }
    q.execute(&mut **tx).await?;
    set_account_balances(tx, balances).await?;
    Ok(id)
}

/// Sets balances of accounts the transaction holds locked.
pub async fn set_account_balances(tx: &mut Conn, balances: &[(String, i64)]) -> Result<()> {
    if balances.is_empty() {
        return Ok(());
    }
    let cases: Vec<String> = (0..balances.len())
        .map(|i| format!("WHEN ${} THEN CAST(${} AS BIGINT)", 2 * i + 1, 2 * i + 2))
        .collect();
    let names: Vec<String> = (0..balances.len()).map(|i| format!("${}", 2 * i + 1)).collect();
    let sql = format!(
        "UPDATE accounts SET balance = CASE name {} END WHERE name IN ({})",
        cases.join(" "),
        names.join(", ")
    );
    let mut q = sqlx::query(&sql);
    for (name, balance) in balances {
        q = q.bind(name.as_str()).bind(*balance);
    }
    let done = q.execute(&mut **tx).await?;
    if done.rows_affected() != balances.len() as u64 {
        return Err(corrupt("account rows missing under their locks", &format!("{balances:?}")));
    }
    Ok(())
}

/// Adds to balances that were never read in this transaction (accounts created at zero
/// when missing), in one statement, in the `Account` order.
pub async fn add_to_balances(tx: &mut Conn, deltas: &BTreeMap<Account, i64>) -> Result<()> {
    if deltas.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "INSERT INTO accounts (name, balance) VALUES {} \
         ON CONFLICT (name) DO UPDATE SET balance = accounts.balance + excluded.balance",
        values_list(deltas.len(), 2, 1)
    );
    let mut q = sqlx::query(&sql);
    for (account, delta) in deltas {
        q = q.bind(account.to_string()).bind(*delta);
    }
    q.execute(&mut **tx).await?;
    Ok(())
}

/// Locks one account's row (created at zero if missing) and returns its stored raw balance.
pub async fn lock_account_row(tx: &mut Conn, account: &Account) -> Result<i64> {
    let name = account.to_string();
    let sql = format!("SELECT balance FROM accounts WHERE name = $1{}", DIALECT.for_update);
    if let Some(row) = sqlx::query(&sql).bind(&name).fetch_optional(&mut **tx).await? {
        return Ok(row.try_get::<i64, _>("balance")?);
    }
    sqlx::query("INSERT INTO accounts (name, balance) VALUES ($1, 0) ON CONFLICT (name) DO NOTHING")
        .bind(&name)
        .execute(&mut **tx)
        .await?;
    let row = sqlx::query(&sql).bind(&name).fetch_one(&mut **tx).await?;
    Ok(row.try_get::<i64, _>("balance")?)
}

/// What all sellers owe the platform: the sum of the receivable accounts (raw, debit).
pub async fn receivables_sum(tx: &mut Conn) -> Result<i64> {
    let row = sqlx::query("SELECT CAST(COALESCE(SUM(balance), 0) AS BIGINT) AS total FROM accounts WHERE name LIKE 'receivable:%'")
        .fetch_one(&mut **tx)
        .await?;
    Ok(row.try_get::<i64, _>("total")?)
}

/// The raw balance (debits − credits) of one account.
pub async fn stored_balance(tx: &mut Conn, account: &Account) -> Result<i64> {
    let row = sqlx::query("SELECT balance FROM accounts WHERE name = $1")
        .bind(account.to_string())
        .fetch_optional(&mut **tx)
        .await?;
    Ok(match row {
        Some(r) => r.try_get("balance")?,
        None => 0,
    })
}

pub async fn journal_entries(tx: &mut Conn) -> Result<Vec<(String, std::result::Result<JournalEntry, LedgerError>)>> {
    let entries = sqlx::query("SELECT id, kind, order_id, payment_id, refund_id FROM journal_entries ORDER BY id")
        .fetch_all(&mut **tx)
        .await?;
    let postings = sqlx::query("SELECT entry_id, account, amount_minor FROM postings ORDER BY entry_id, idx")
        .fetch_all(&mut **tx)
        .await?;
    let mut by_entry: BTreeMap<String, Vec<(String, i64)>> = BTreeMap::new();
    for p in &postings {
        by_entry
            .entry(p.try_get("entry_id")?)
            .or_default()
            .push((p.try_get("account")?, p.try_get("amount_minor")?));
    }
    let mut out = Vec::with_capacity(entries.len());
    for e in &entries {
        let id: String = e.try_get("id")?;
        let kind: String = e.try_get("kind")?;
        let refs = EntryRefs {
            order: e.try_get::<Option<String>, _>("order_id")?.map(OrderId::from_trusted),
            payment: e.try_get::<Option<String>, _>("payment_id")?.map(danbao_domain::PaymentId::from_trusted),
            refund: e.try_get::<Option<String>, _>("refund_id")?.map(RefundId::from_trusted),
        };
        let postings = by_entry.remove(&id).unwrap_or_default();
        out.push((id, entry_from_parts(&kind, refs, postings)));
    }
    // Postings whose entry row is gone are themselves a violation.
    for (orphan, _) in by_entry {
        out.push((orphan, Err(LedgerError::Unreadable("postings without a journal entry".into()))));
    }
    Ok(out)
}

pub async fn stored_balances(tx: &mut Conn) -> Result<BTreeMap<Account, i64>> {
    let rows = sqlx::query("SELECT name, balance FROM accounts").fetch_all(&mut **tx).await?;
    let mut out = BTreeMap::new();
    for r in &rows {
        let name: String = r.try_get("name")?;
        let account = Account::parse(&name).ok_or_else(|| corrupt("account name", &name))?;
        out.insert(account, r.try_get("balance")?);
    }
    Ok(out)
}
