-- Issue 11 item 1: a buyer who leaves the cashier finds the order again.

-- A short order number a person can read and type (DB20261130-7K3Q9: the order's date in
-- China time, five characters drawn at random), beside the UUID. New orders draw theirs
-- at checkout (and draw again should one be taken). Orders from before this migration
-- get the hex of their UUID as the suffix: unique by construction, since SQL alone
-- cannot draw again on a collision.
ALTER TABLE orders ADD COLUMN number TEXT;
UPDATE orders SET number = 'DB' || strftime('%Y%m%d', created_at / 1000 + 8 * 3600, 'unixepoch')
    || '-' || upper(replace(id, '-', ''))
    WHERE number IS NULL;
CREATE UNIQUE INDEX orders_number ON orders (number);

-- 查单 without an order number finds a guest's newest orders by their normalised contact
-- (client_contact, recorded at checkout since 0005; older guest orders get it here).
UPDATE orders SET client_contact = lower(replace(replace(guest_contact, ' ', ''), char(9), ''))
    WHERE guest_contact IS NOT NULL AND client_contact IS NULL;
CREATE INDEX orders_guest_by_contact ON orders (client_contact, created_at) WHERE buyer_id IS NULL;
