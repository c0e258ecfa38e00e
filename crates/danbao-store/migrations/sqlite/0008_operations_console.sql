-- The operations console (issue 10). A disabled account can no longer log in and its
-- tokens stop working; the row stays, because orders, complaints and the evidence log
-- name it.
ALTER TABLE users ADD COLUMN disabled_at INTEGER;

-- Every ledger check an admin ran from the console, so the console can say what the
-- last one found and when.
CREATE TABLE ledger_checks (
    id TEXT PRIMARY KEY,
    checked_at INTEGER NOT NULL,
    checked_by TEXT NOT NULL,
    violations INTEGER NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX ledger_checks_at ON ledger_checks (checked_at);
