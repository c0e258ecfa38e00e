-- Issue 13: with 0013's card_keys (product_id, seq), PostgreSQL took the oldest free key
-- by walking that index from the product's first key and skipping every sold one (the
-- oldest are sold first): 25-35 ms per allocation at 300k sold keys, growing with sales.
-- The unsold keys alone, in order, are what allocation and stock counts read.
CREATE INDEX card_keys_unsold ON card_keys (product_id, seq) WHERE order_id IS NULL;
