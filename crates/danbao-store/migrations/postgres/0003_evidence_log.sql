-- The evidence log (SPEC §11): every order event (and later complaint events, evidence
-- and rulings) becomes a leaf of an RFC 6962 Merkle tree with signed checkpoints.
-- evidence_queue holds leaves written with the event that caused them; the sequencer
-- appends them in batches to the insert-only tables below.

CREATE TABLE evidence_queue (
    id TEXT PRIMARY KEY,
    case_id TEXT NOT NULL,
    record TEXT NOT NULL,
    leaf_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);

CREATE TABLE evidence_leaves (
    idx BIGINT PRIMARY KEY,
    leaf_hash TEXT NOT NULL UNIQUE,
    case_id TEXT NOT NULL,
    record TEXT NOT NULL,
    sequenced_at BIGINT NOT NULL
);
CREATE INDEX evidence_leaves_case ON evidence_leaves (case_id, idx);

-- Hashes of full subtrees: (level, idx) covers leaves [idx·2^level, (idx+1)·2^level).
CREATE TABLE evidence_nodes (
    level BIGINT NOT NULL,
    idx BIGINT NOT NULL,
    hash TEXT NOT NULL,
    PRIMARY KEY (level, idx)
);

CREATE TABLE evidence_checkpoints (
    size BIGINT PRIMARY KEY,
    root TEXT NOT NULL,
    note TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- The sequencer's own row: locking it is what makes one sequencer at a time.
CREATE TABLE evidence_state (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    size BIGINT NOT NULL,
    frontier TEXT NOT NULL
);
INSERT INTO evidence_state (id, size, frontier) VALUES (1, 0, '010000000000000000');

-- The last leaf of each case, so each new one names its predecessor.
CREATE TABLE evidence_case_heads (
    case_id TEXT PRIMARY KEY,
    leaf_hash TEXT NOT NULL
);

ALTER TABLE order_events ADD COLUMN leaf_hash TEXT;

CREATE FUNCTION danbao_insert_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is insert-only', TG_TABLE_NAME;
END
$$;
CREATE TRIGGER evidence_leaves_insert_only BEFORE UPDATE OR DELETE ON evidence_leaves
    FOR EACH ROW EXECUTE FUNCTION danbao_insert_only();
CREATE TRIGGER evidence_nodes_insert_only BEFORE UPDATE OR DELETE ON evidence_nodes
    FOR EACH ROW EXECUTE FUNCTION danbao_insert_only();
CREATE TRIGGER evidence_checkpoints_insert_only BEFORE UPDATE OR DELETE ON evidence_checkpoints
    FOR EACH ROW EXECUTE FUNCTION danbao_insert_only();
CREATE TRIGGER order_events_insert_only BEFORE UPDATE OR DELETE ON order_events
    FOR EACH ROW EXECUTE FUNCTION danbao_insert_only();
