-- Complaints (投诉) and rulings (SPEC §6), their evidence, and sellers' standing.

CREATE TABLE complaints (
    id TEXT PRIMARY KEY,
    order_id TEXT NOT NULL REFERENCES orders(id),
    seller_id TEXT NOT NULL REFERENCES users(id),
    buyer_id TEXT,
    kind TEXT NOT NULL CHECK (kind IN ('not_delivered', 'not_as_described', 'fraud', 'other')),
    stage TEXT NOT NULL CHECK (stage IN ('awaiting_seller', 'under_review', 'awaiting_buyer', 'appraisal', 'resolved', 'withdrawn')),
    deadline_at INTEGER,
    -- Where the order stood, and what its clocks had left, when the complaint paused them.
    prior_order_status TEXT NOT NULL,
    paused_remaining_ms INTEGER,
    -- Where the frozen money came from (JSON of FrozenSources), so a withdrawal puts it back.
    frozen_sources TEXT NOT NULL,
    amount_minor INTEGER NOT NULL,
    proposal TEXT NOT NULL,
    ruling TEXT,
    ruled_by TEXT,
    ruling_reason TEXT,
    rule_version INTEGER NOT NULL,
    group_id TEXT,
    -- The arbitrator who took the case (and, for a group, every case of the group).
    assigned_to TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    resolved_at INTEGER
);
CREATE INDEX complaints_queue ON complaints (stage, deadline_at);
CREATE INDEX complaints_order ON complaints (order_id);
CREATE INDEX complaints_seller ON complaints (seller_id, created_at);

CREATE TABLE complaint_events (
    id TEXT PRIMARY KEY,
    complaint_id TEXT NOT NULL REFERENCES complaints(id),
    seq INTEGER NOT NULL,
    kind TEXT NOT NULL,
    detail TEXT NOT NULL,
    at INTEGER NOT NULL,
    leaf_hash TEXT NOT NULL,
    UNIQUE (complaint_id, seq)
);

CREATE TABLE complaint_evidence (
    id TEXT PRIMARY KEY,
    complaint_id TEXT NOT NULL REFERENCES complaints(id),
    party TEXT NOT NULL CHECK (party IN ('buyer', 'seller', 'arbitrator')),
    kind TEXT NOT NULL,
    body TEXT,
    file_sha256 TEXT,
    media_type TEXT,
    size_bytes INTEGER,
    leaf_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX complaint_evidence_complaint ON complaint_evidence (complaint_id, created_at);

CREATE TABLE seller_standing (
    seller_id TEXT PRIMARY KEY REFERENCES users(id),
    status TEXT NOT NULL CHECK (status IN ('active', 'frozen', 'banned')),
    reason TEXT NOT NULL,
    -- What a freeze moved from available to frozen, given back on unfreeze.
    frozen_available_minor INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

-- Withdrawals (提现): paid out through the provider, confirmed asynchronously.
CREATE TABLE withdrawals (
    id TEXT PRIMARY KEY,
    seller_id TEXT NOT NULL REFERENCES users(id),
    provider TEXT NOT NULL,
    amount_minor INTEGER NOT NULL CHECK (amount_minor > 0),
    status TEXT NOT NULL CHECK (status IN ('requested', 'confirmed', 'returned')),
    created_at INTEGER NOT NULL,
    settled_at INTEGER
);
