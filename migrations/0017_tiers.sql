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
-- Copies of a shared-tier subscription routed and not yet attempted (a shard holds many
-- subscriptions' copies, so the broker cannot count one's): the router adds its copies as it
-- marks their events routed, the workers take first attempts off as they record them.
ALTER TABLE subscriptions ADD COLUMN waiting bigint NOT NULL DEFAULT 0;
-- The router loads the shared tier's filters at every notice.
CREATE INDEX subscriptions_routed ON subscriptions (tier) WHERE state <> 'deleted' AND tier <> 'own';
-- What the router has loaded of the shared tier is current when this version is: every change
-- a router must see (a shared-tier subscription made, its filters changed, turned hot or back,
-- disabled, deleted) bumps it in the changing transaction, and the router reads it before each
-- batch. So an event accepted after a subscription was answered 201 is routed to it, as a
-- binding made at creation did. Own-tier subscriptions do not bump it (their queues are bound).
CREATE TABLE routing_version (
    one boolean PRIMARY KEY DEFAULT true CHECK (one),
    version bigint NOT NULL
);
INSERT INTO routing_version VALUES (true, 0);
CREATE FUNCTION bump_routing_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE routing_version SET version = version + 1;
    RETURN NULL;
END
$$;
CREATE TRIGGER subscriptions_routing
    AFTER INSERT OR UPDATE OF tier, state, event_types, organizations, partitions, shard
    ON subscriptions
    FOR EACH ROW WHEN (NEW.tier <> 'own')
    EXECUTE FUNCTION bump_routing_version();
