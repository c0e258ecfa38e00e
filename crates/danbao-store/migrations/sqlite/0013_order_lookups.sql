-- Issue 13: every step of an order reads its card keys, attempts, reveals and refunds by
-- order id, and these had no index on it: each lookup scanned the whole table, so an order
-- got slower with every order before it (at 1M existing orders, 11-26x slower than at 10k),
-- and on SQLite the scan ran inside the write lock.
CREATE INDEX card_keys_order ON card_keys (order_id, seq) WHERE order_id IS NOT NULL;
-- The next key number of a product (MAX(seq)) without walking its whole stock.
CREATE INDEX card_keys_product_seq ON card_keys (product_id, seq);
CREATE INDEX payment_attempts_order ON payment_attempts (order_id, created_at);
CREATE INDEX key_reveals_order ON key_reveals (order_id);
CREATE INDEX refunds_order ON refunds (order_id, created_at);
