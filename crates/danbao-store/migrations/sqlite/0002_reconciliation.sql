-- Statement reconciliation (SPEC §4): each run, and every difference it (or the
-- notification path) found. Exceptions stay until an admin resolves them.

CREATE TABLE reconciliation_runs (
    id TEXT PRIMARY KEY,
    provider TEXT NOT NULL,
    period_from INTEGER NOT NULL,
    period_to INTEGER NOT NULL,
    matched INTEGER NOT NULL,
    applied_late INTEGER NOT NULL,
    missing_at_provider INTEGER NOT NULL,
    amount_mismatch INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE reconciliation_items (
    id TEXT PRIMARY KEY,
    run_id TEXT REFERENCES reconciliation_runs(id),
    kind TEXT NOT NULL CHECK (kind IN ('applied_late', 'missing_at_provider', 'amount_mismatch')),
    provider TEXT NOT NULL,
    provider_txn_id TEXT NOT NULL,
    payment_id TEXT,
    detail TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('open', 'resolved')),
    resolution TEXT,
    resolved_by TEXT,
    resolved_at INTEGER,
    created_at INTEGER NOT NULL
);
CREATE INDEX reconciliation_items_open ON reconciliation_items (status, created_at);
-- One open exception per kind and provider transaction: a rerun does not pile up copies.
CREATE UNIQUE INDEX reconciliation_items_once ON reconciliation_items (kind, provider, provider_txn_id);
