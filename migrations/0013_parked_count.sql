-- GET /v1/subscriptions/{id} shows how many of a subscription's deliveries are parked
-- (exhausted); this keeps that count to the parked rows instead of all of its deliveries.
CREATE INDEX deliveries_exhausted_idx ON deliveries (subscription_id) WHERE status = 'exhausted';
