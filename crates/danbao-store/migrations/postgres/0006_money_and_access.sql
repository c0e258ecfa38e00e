-- Issue 8 items 3 and 4: who really pays, who reviews an automatic freeze, and what
-- identifies a seller as a buyer.

-- The payer identity the provider reported (Alipay buyer_id, WeChat openid, the sandbox
-- wallet): the collective-complaint rule counts distinct payers, not distinct orders.
ALTER TABLE payments ADD COLUMN payer_id TEXT;
CREATE INDEX payments_order_payer ON payments (order_id, payer_id);

-- The contact a seller registered, normalised: a buyer giving it is the seller buying
-- from their own shop. The payout account is the seller's own wallet at the provider
-- (withdrawals go there); a payment from it is the seller paying themselves.
ALTER TABLE users ADD COLUMN contact TEXT;
ALTER TABLE users ADD COLUMN payout_account TEXT;

-- An automatic freeze by the collective-complaint rule goes before an arbitrator by
-- review_due_at; past it, unreviewed, it is escalated to the admins (the freeze stays).
CREATE TABLE collective_reviews (
    group_id TEXT PRIMARY KEY,
    seller_id TEXT NOT NULL REFERENCES users(id),
    people BIGINT NOT NULL,
    amount_minor BIGINT NOT NULL,
    opened_at BIGINT NOT NULL,
    review_due_at BIGINT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'escalated', 'kept', 'lifted', 'banned')),
    decided_by TEXT,
    decided_at BIGINT
);
CREATE INDEX collective_reviews_seller ON collective_reviews (seller_id, status);
