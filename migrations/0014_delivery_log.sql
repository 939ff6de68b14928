-- GET /v1/deliveries reads the log across subscriptions newest first, and retention prunes
-- the oldest rows first: both walk deliveries by (created_at, id).
CREATE INDEX deliveries_created_idx ON deliveries (created_at, id);
