-- Issue 15: a seller pays the security deposit in through the cashier. The row's id is the
-- out_trade_no the provider sees, so a notification, an active query or the statement
-- reconciliation that finds no payment attempt by that id finds the deposit payment here.
CREATE TABLE deposit_payments (
    id TEXT PRIMARY KEY,
    seller_id TEXT NOT NULL REFERENCES users(id),
    amount_minor INTEGER NOT NULL CHECK (amount_minor > 0),
    currency TEXT NOT NULL,
    provider TEXT NOT NULL,
    provider_payment_id TEXT,
    cashier_url TEXT,
    -- pending, paid
    status TEXT NOT NULL,
    payment_id TEXT,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    paid_at INTEGER
);
CREATE INDEX deposit_payments_seller ON deposit_payments (seller_id, created_at);
