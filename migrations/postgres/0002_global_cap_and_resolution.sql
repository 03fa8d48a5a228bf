-- The global cap counts a customer's messages across campaigns: index by customer and time.
CREATE INDEX sends_customer_created ON sends (customer, created_at);

-- What an operator decided about an uncertain row (`runner journal resolve`), kept for audit.
ALTER TABLE sends ADD COLUMN resolution TEXT;
