-- Issue 16 item 3: only the latest statements keep their leaves (`[transparency]
-- liabilities_keep_leaves`). A pruned statement keeps its signed note, root, total and
-- account snapshot, and records when its leaves were dropped, so that the ledger check
-- tells a pruned statement from one whose leaves went missing.
ALTER TABLE liability_statements ADD COLUMN leaves_pruned_at BIGINT;
