-- The purchase spine: accounts, catalog, orders, payments, refunds, ledger, jobs.
-- Integers are BIGINT throughout (money in minor units, times in ms since the epoch).

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('buyer', 'seller', 'arbitrator', 'admin')),
    created_at BIGINT NOT NULL
);

CREATE TABLE api_tokens (
    token_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE TABLE rule_sets (
    version BIGINT PRIMARY KEY,
    content_hash TEXT NOT NULL,
    body TEXT NOT NULL,
    published_at BIGINT NOT NULL
);

CREATE TABLE products (
    id TEXT PRIMARY KEY,
    seller_id TEXT NOT NULL REFERENCES users(id),
    title TEXT NOT NULL,
    description TEXT NOT NULL,
    category TEXT NOT NULL,
    price_minor BIGINT NOT NULL CHECK (price_minor > 0),
    currency TEXT NOT NULL,
    delivery_kind TEXT NOT NULL CHECK (delivery_kind IN ('card_key', 'manual')),
    manual_fields TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('active', 'hidden', 'suspended')),
    -- Units that can still be reserved: unallocated keys minus open reservations.
    stock BIGINT NOT NULL CHECK (stock >= 0),
    created_at BIGINT NOT NULL
);

CREATE TABLE card_keys (
    id TEXT PRIMARY KEY,
    product_id TEXT NOT NULL REFERENCES products(id),
    seq BIGINT NOT NULL,
    fingerprint TEXT NOT NULL,
    key_id TEXT NOT NULL,
    nonce TEXT NOT NULL,
    ciphertext TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    order_id TEXT,
    allocated_at BIGINT,
    created_at BIGINT NOT NULL,
    UNIQUE (product_id, fingerprint)
);
CREATE INDEX card_keys_free ON card_keys (product_id, order_id, seq);

CREATE TABLE orders (
    id TEXT PRIMARY KEY,
    product_id TEXT NOT NULL REFERENCES products(id),
    seller_id TEXT NOT NULL REFERENCES users(id),
    buyer_id TEXT REFERENCES users(id),
    guest_contact TEXT,
    guest_password_hash TEXT,
    quantity BIGINT NOT NULL CHECK (quantity > 0),
    unit_price_minor BIGINT NOT NULL,
    amount_minor BIGINT NOT NULL CHECK (amount_minor > 0),
    currency TEXT NOT NULL,
    delivery_kind TEXT NOT NULL,
    category TEXT NOT NULL,
    status TEXT NOT NULL,
    rule_version BIGINT NOT NULL REFERENCES rule_sets(version),
    delivery_fields TEXT NOT NULL,
    delivery_note TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    paid_at BIGINT,
    delivered_at BIGINT,
    deliver_by BIGINT,
    auto_confirm_at BIGINT,
    completed_at BIGINT,
    updated_at BIGINT NOT NULL
);
CREATE INDEX orders_buyer ON orders (buyer_id, created_at);
CREATE INDEX orders_seller ON orders (seller_id, created_at);

CREATE TABLE order_events (
    id TEXT PRIMARY KEY,
    order_id TEXT NOT NULL REFERENCES orders(id),
    seq BIGINT NOT NULL,
    kind TEXT NOT NULL,
    detail TEXT NOT NULL,
    at BIGINT NOT NULL,
    UNIQUE (order_id, seq)
);

-- One request to a provider to collect an order's money. Its id is the out_trade_no the
-- provider sees, so an order may be paid through several attempts (and so, twice).
CREATE TABLE payment_attempts (
    id TEXT PRIMARY KEY,
    order_id TEXT NOT NULL REFERENCES orders(id),
    provider TEXT NOT NULL,
    -- Filled in once the provider answered; a crash in between leaves it empty, and the
    -- payment can still be matched by out_trade_no.
    provider_payment_id TEXT,
    cashier_url TEXT,
    amount_minor BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (provider, provider_payment_id)
);

CREATE TABLE payments (
    id TEXT PRIMARY KEY,
    provider TEXT NOT NULL,
    provider_txn_id TEXT NOT NULL,
    provider_payment_id TEXT NOT NULL,
    out_trade_no TEXT NOT NULL,
    order_id TEXT,
    amount_minor BIGINT NOT NULL,
    currency TEXT NOT NULL,
    outcome TEXT NOT NULL,
    source TEXT NOT NULL,
    raw TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    UNIQUE (provider, provider_txn_id)
);

CREATE INDEX payments_received ON payments (received_at);
CREATE INDEX payments_out_trade_no ON payments (out_trade_no);

CREATE TABLE refunds (
    id TEXT PRIMARY KEY,
    order_id TEXT,
    payment_id TEXT NOT NULL REFERENCES payments(id),
    provider TEXT NOT NULL,
    provider_payment_id TEXT NOT NULL,
    amount_minor BIGINT NOT NULL CHECK (amount_minor > 0),
    reason TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('requested', 'confirmed')),
    created_at BIGINT NOT NULL,
    confirmed_at BIGINT
);

CREATE TABLE key_reveals (
    id TEXT PRIMARY KEY,
    order_id TEXT NOT NULL REFERENCES orders(id),
    viewer TEXT NOT NULL,
    at BIGINT NOT NULL
);

CREATE TABLE accounts (
    name TEXT PRIMARY KEY,
    balance BIGINT NOT NULL
);

CREATE TABLE journal_entries (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    order_id TEXT,
    payment_id TEXT,
    refund_id TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX journal_entries_order ON journal_entries (order_id);

CREATE TABLE postings (
    entry_id TEXT NOT NULL REFERENCES journal_entries(id),
    idx BIGINT NOT NULL,
    account TEXT NOT NULL,
    amount_minor BIGINT NOT NULL,
    PRIMARY KEY (entry_id, idx)
);

CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    dedupe_key TEXT UNIQUE,
    run_at BIGINT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'done', 'dead')),
    attempts BIGINT NOT NULL,
    lease_until BIGINT,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX jobs_due ON jobs (status, run_at);

CREATE TABLE idempotency_keys (
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status_code BIGINT,
    content_type TEXT,
    response_body TEXT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (scope, key)
);

CREATE TABLE security_events (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    detail TEXT NOT NULL,
    at BIGINT NOT NULL
);
