-- Issue 16 item 3: proof of liabilities. Each statement is a Merkle sum tree over every
-- balance the platform owes, built from one consistent snapshot of the ledger; its root
-- and total are signed (note) and logged. The leaves (label, ledger account, amount) are
-- kept so that an owner's proof can be produced later and the ledger check can rebuild
-- the signed root. The salts are not stored: they are derived from a platform secret.
CREATE TABLE liability_statements (
    seq INTEGER PRIMARY KEY,
    as_of INTEGER NOT NULL,
    leaf_count INTEGER NOT NULL CHECK (leaf_count >= 0),
    total_minor INTEGER NOT NULL CHECK (total_minor >= 0),
    -- hex SHA-256
    root TEXT NOT NULL,
    -- the signed note (danbao.dev/liabilities)
    note TEXT NOT NULL,
    -- the ledger's liabilities read in the same snapshot, which the total was checked against
    ledger_liabilities_minor INTEGER NOT NULL,
    -- what the payment provider said it holds for us (the reserves), NULL when no rail answers
    provider_balance_minor INTEGER,
    provider TEXT,
    created_at INTEGER NOT NULL
);

CREATE TABLE liability_leaves (
    seq INTEGER NOT NULL REFERENCES liability_statements(seq),
    label TEXT NOT NULL,
    -- the ledger account the balance is part of (escrow:<seller> for an order's escrow)
    account TEXT NOT NULL,
    amount_minor INTEGER NOT NULL CHECK (amount_minor >= 0),
    PRIMARY KEY (seq, label)
);

-- Every liability account's balance in the statement's snapshot: what the leaves must
-- regroup into.
CREATE TABLE liability_accounts (
    seq INTEGER NOT NULL REFERENCES liability_statements(seq),
    account TEXT NOT NULL,
    balance_minor INTEGER NOT NULL,
    PRIMARY KEY (seq, account)
);
