-- Issue 15: 先行赔付. What the compensation fund advanced to the buyer when the complaint
-- was opened (and when), or why it did not (a FastRefundRefusal as JSON). The ruling reads
-- the advance to pay the fund back, or to book it as a loss.
ALTER TABLE complaints ADD COLUMN fast_refund_minor INTEGER;
ALTER TABLE complaints ADD COLUMN fast_refund_at INTEGER;
ALTER TABLE complaints ADD COLUMN fast_refund_refusal TEXT;
-- A buyer's lost complaints, for eligibility.
CREATE INDEX complaints_buyer ON complaints (buyer_id, resolved_at);
