-- The tiered topology: a subscription's copies wait in a queue of its own (`own`, bound to the
-- events exchange, as every subscription did before), in one of the fleet's shard queues
-- (`shared`, at `shard`), or, for a shared-tier subscription whose backlog outgrew its share,
-- in a queue of its own that the router feeds directly (`hot`) until it is idle again.
-- Existing subscriptions keep their bound queues: `own`. Expand only.
ALTER TABLE subscriptions ADD COLUMN tier text NOT NULL DEFAULT 'own';
ALTER TABLE subscriptions ADD COLUMN shard smallint;
-- Its queue of its own: `consumed` by the workers (always on `own` and `hot`), `closing` (a
-- subscription back on its shard: no longer consumed, removed once empty) or `none`.
ALTER TABLE subscriptions ADD COLUMN own_queue text NOT NULL DEFAULT 'consumed'
    CHECK (own_queue IN ('consumed', 'closing', 'none'));
-- Why it is on its tier (shown by the API), and since when it is (or its queue is closing).
ALTER TABLE subscriptions ADD COLUMN tier_reason text;
ALTER TABLE subscriptions ADD COLUMN tier_changed_at timestamptz;
-- The router loads the shared tier's filters at every notice.
CREATE INDEX subscriptions_routed ON subscriptions (tier) WHERE state <> 'deleted' AND tier <> 'own';
