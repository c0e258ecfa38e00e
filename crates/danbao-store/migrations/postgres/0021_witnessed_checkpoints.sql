-- Issue 16: checkpoints cosigned by the configured witnesses (c2sp.org/tlog-witness). When
-- witnesses are configured, the checkpoint the platform publishes (receipts, /checkpoint)
-- is the latest one here: the log's own signed note with at least the quorum of
-- cosignature lines appended.
CREATE TABLE evidence_witnessed (
    size BIGINT PRIMARY KEY,
    note TEXT NOT NULL,
    cosigners INTEGER NOT NULL,
    created_at BIGINT NOT NULL
);
