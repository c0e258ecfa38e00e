// SQL for ledger. Included into `mod sqlite` and `mod postgres` by lib.rs; see common.rs.

/// Writes a journal entry and its postings and updates the touched balances, all in the
/// caller's transaction. The accounts are locked in one fixed order, the `Account` ordering (so two entries touching
/// the same accounts cannot deadlock), the new balances are computed by the domain's
/// `apply_to` (which refuses to take a liability below zero), and the entry is checked
/// to balance once more before a row is written.
pub async fn post_entry(tx: &mut Conn, entry: &JournalEntry, now: i64) -> Result<String> {
    entry.verify_balanced()?;
    let accounts: std::collections::BTreeSet<&Account> = entry.postings().iter().map(|p| &p.account).collect();
    let mut current = BTreeMap::new();
    for account in &accounts {
        current.insert((*account).clone(), lock_account(tx, account).await?);
    }
    let next = entry.apply_to(&current).inspect_err(|e| {
        // A refused entry is either a caller's expected "not enough money" (a withdrawal)
        // or a bug; which entry and what it saw is what finding the bug needs.
        tracing::debug!(kind = entry.kind().as_str(), refs = ?entry.refs(), postings = ?entry.postings(), balances = ?current, error = %e, "ledger refused an entry");
    })?;
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
    for (idx, p) in entry.postings().iter().enumerate() {
        sqlx::query("INSERT INTO postings (entry_id, idx, account, amount_minor) VALUES ($1, $2, $3, $4)")
            .bind(&id)
            .bind(i64::try_from(idx).unwrap_or(i64::MAX))
            .bind(p.account.to_string())
            .bind(p.amount_minor)
            .execute(&mut **tx)
            .await?;
    }
    for (account, balance) in next {
        sqlx::query("UPDATE accounts SET balance = $2 WHERE name = $1")
            .bind(account.to_string())
            .bind(balance)
            .execute(&mut **tx)
            .await?;
    }
    Ok(id)
}

/// Locks one account's row (created at zero if missing) and returns its raw balance: for
/// a caller that must read a balance and then post an amount computed from it, so no
/// other transaction can move the balance in between.
pub async fn lock_account(tx: &mut Conn, account: &Account) -> Result<i64> {
    let name = account.to_string();
    sqlx::query("INSERT INTO accounts (name, balance) VALUES ($1, 0) ON CONFLICT (name) DO NOTHING")
        .bind(&name)
        .execute(&mut **tx)
        .await?;
    let sql = format!("SELECT balance FROM accounts WHERE name = $1{}", DIALECT.for_update);
    let row = sqlx::query(&sql).bind(&name).fetch_one(&mut **tx).await?;
    Ok(row.try_get::<i64, _>("balance")?)
}

/// The raw balance (debits − credits) of one account.
pub async fn account_balance(tx: &mut Conn, account: &Account) -> Result<i64> {
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

pub async fn account_balances(tx: &mut Conn) -> Result<BTreeMap<Account, i64>> {
    let rows = sqlx::query("SELECT name, balance FROM accounts").fetch_all(&mut **tx).await?;
    let mut out = BTreeMap::new();
    for r in &rows {
        let name: String = r.try_get("name")?;
        let account = Account::parse(&name).ok_or_else(|| corrupt("account name", &name))?;
        out.insert(account, r.try_get("balance")?);
    }
    Ok(out)
}
