-- The seller back office's statement reads one seller's postings for a period.
CREATE INDEX postings_account ON postings (account);

-- A manual order's delivery may carry one file (a recharge receipt, a screenshot),
-- stored content-addressed like evidence files; the buyer gets it with the recorded reveal.
CREATE TABLE order_delivery_files (
    order_id TEXT PRIMARY KEY REFERENCES orders(id),
    sha256 TEXT NOT NULL,
    media_type TEXT NOT NULL,
    size_bytes INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);
