-- Issue 12: several payment rails at once. The method the buyer chose at checkout
-- (`epay_wxpay`, …) is kept with the attempt, so that a new cashier for the same order
-- opens on the same rail and channel. Older attempts were all the sandbox's one method.
ALTER TABLE payment_attempts ADD COLUMN method TEXT;
