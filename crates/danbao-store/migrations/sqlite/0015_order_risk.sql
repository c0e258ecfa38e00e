-- Issue 15 item 3: risk control at checkout (SPEC §8, 二次验证).

-- Each order keeps how it was scored before payment: the level, the score, the reasons
-- with their figures and the figures read (JSON, as danbao_domain::risk writes them), and
-- when the buyer of a step_up order confirmed it once more (its cashier opens only then).
-- Orders from before scoring existed read as low, with nothing to say.
ALTER TABLE orders ADD COLUMN risk_level TEXT NOT NULL DEFAULT 'low'
    CHECK (risk_level IN ('low', 'warn', 'step_up', 'block'));
ALTER TABLE orders ADD COLUMN risk_score INTEGER NOT NULL DEFAULT 0;
ALTER TABLE orders ADD COLUMN risk_reasons TEXT NOT NULL DEFAULT '[]';
ALTER TABLE orders ADD COLUMN risk_factors TEXT;
ALTER TABLE orders ADD COLUMN risk_confirmed_at INTEGER;

-- What scoring reads at every checkout, each an index range rather than a scan:
-- a seller's most recent paid orders (their complaint rate; complaints_order finds each
-- order's complaints) ...
CREATE INDEX orders_seller_paid ON orders (seller_id, paid_at) WHERE paid_at IS NOT NULL;
-- ... and the prices of a category's active listings, in order (the median is read by
-- position). A buyer's recent orders use orders_buyer (buyer_id, created_at), a guest
-- contact's orders_guest_by_contact (client_contact, created_at).
CREATE INDEX products_active_by_price ON products (category, price_minor) WHERE status = 'active';
