-- The evidence log (SPEC §11): every order event (and later complaint events, evidence
-- and rulings) becomes a leaf of an RFC 6962 Merkle tree with signed checkpoints.
-- evidence_queue holds leaves written with the event that caused them; the sequencer
-- appends them in batches to the insert-only tables below.

CREATE TABLE evidence_queue (
    id TEXT PRIMARY KEY,
    case_id TEXT NOT NULL,
    record TEXT NOT NULL,
    leaf_hash TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
);

CREATE TABLE evidence_leaves (
    idx INTEGER PRIMARY KEY,
    leaf_hash TEXT NOT NULL UNIQUE,
    case_id TEXT NOT NULL,
    record TEXT NOT NULL,
    sequenced_at INTEGER NOT NULL
);
CREATE INDEX evidence_leaves_case ON evidence_leaves (case_id, idx);

-- Hashes of full subtrees: (level, idx) covers leaves [idx·2^level, (idx+1)·2^level).
CREATE TABLE evidence_nodes (
    level INTEGER NOT NULL,
    idx INTEGER NOT NULL,
    hash TEXT NOT NULL,
    PRIMARY KEY (level, idx)
);

CREATE TABLE evidence_checkpoints (
    size INTEGER PRIMARY KEY,
    root TEXT NOT NULL,
    note TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

-- The sequencer's own row: locking it is what makes one sequencer at a time.
CREATE TABLE evidence_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    size INTEGER NOT NULL,
    frontier TEXT NOT NULL
);
INSERT INTO evidence_state (id, size, frontier) VALUES (1, 0, '010000000000000000');

-- The last leaf of each case, so each new one names its predecessor.
CREATE TABLE evidence_case_heads (
    case_id TEXT PRIMARY KEY,
    leaf_hash TEXT NOT NULL
);

ALTER TABLE order_events ADD COLUMN leaf_hash TEXT;
CREATE TRIGGER evidence_leaves_no_update BEFORE UPDATE ON evidence_leaves
BEGIN
    SELECT RAISE(ABORT, 'evidence_leaves is insert-only');
END;
CREATE TRIGGER evidence_leaves_no_delete BEFORE DELETE ON evidence_leaves
BEGIN
    SELECT RAISE(ABORT, 'evidence_leaves is insert-only');
END;
CREATE TRIGGER evidence_nodes_no_update BEFORE UPDATE ON evidence_nodes
BEGIN
    SELECT RAISE(ABORT, 'evidence_nodes is insert-only');
END;
CREATE TRIGGER evidence_nodes_no_delete BEFORE DELETE ON evidence_nodes
BEGIN
    SELECT RAISE(ABORT, 'evidence_nodes is insert-only');
END;
CREATE TRIGGER evidence_checkpoints_no_update BEFORE UPDATE ON evidence_checkpoints
BEGIN
    SELECT RAISE(ABORT, 'evidence_checkpoints is insert-only');
END;
CREATE TRIGGER evidence_checkpoints_no_delete BEFORE DELETE ON evidence_checkpoints
BEGIN
    SELECT RAISE(ABORT, 'evidence_checkpoints is insert-only');
END;
CREATE TRIGGER order_events_no_update BEFORE UPDATE ON order_events
BEGIN
    SELECT RAISE(ABORT, 'order_events is insert-only');
END;
CREATE TRIGGER order_events_no_delete BEFORE DELETE ON order_events
BEGIN
    SELECT RAISE(ABORT, 'order_events is insert-only');
END;
