-- Issue 8 items 6, 8, 9: bounds on what one client can hold, try and make the database keep.

-- Who placed an order, so that the stock its unpaid orders hold can be counted per client:
-- the network address, and a guest's contact as one person (lower case, no spaces).
ALTER TABLE orders ADD COLUMN client_address TEXT;
ALTER TABLE orders ADD COLUMN client_contact TEXT;
-- Only unpaid orders are ever counted, so only they are indexed.
CREATE INDEX orders_unpaid_by_address ON orders (client_address) WHERE status = 'pending_payment';
CREATE INDEX orders_unpaid_by_contact ON orders (client_contact) WHERE status = 'pending_payment';
CREATE INDEX orders_unpaid_by_buyer ON orders (buyer_id) WHERE status = 'pending_payment';
CREATE INDEX orders_unpaid_by_product ON orders (product_id) WHERE status = 'pending_payment';

-- Wrong query passwords (查单) per order; the lock holds across restarts and processes.
CREATE TABLE query_password_locks (
    order_id TEXT PRIMARY KEY REFERENCES orders(id),
    failures BIGINT NOT NULL,
    last_failure_at BIGINT NOT NULL,
    locked_until BIGINT NOT NULL
);

-- Repeated security events (a flood of forged notifications) are one row per kind, source
-- and hour with a count, so that the table grows with time, not with the attacker's volume.
-- Rare events keep a row each (no bucket).
ALTER TABLE security_events ADD COLUMN bucket TEXT;
ALTER TABLE security_events ADD COLUMN occurrences BIGINT NOT NULL DEFAULT 1;
ALTER TABLE security_events ADD COLUMN last_at BIGINT NOT NULL DEFAULT 0;
UPDATE security_events SET last_at = at;
CREATE UNIQUE INDEX security_events_by_bucket ON security_events (bucket);
