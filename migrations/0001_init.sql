-- hookfleet's record: events, subscriptions, one delivery per event copy × subscription, and
-- every attempt of each delivery exactly once. Unqualified names: the runner's search_path
-- picks the schema, so tests get one schema each.

CREATE TABLE events (
    id                  text PRIMARY KEY,
    type                text NOT NULL,
    "timestamp"         timestamptz NOT NULL,
    organization_ids    jsonb NOT NULL,
    service_partitions  jsonb NOT NULL,
    idempotency_key     text,
    data                jsonb NOT NULL,
    received_at         timestamptz NOT NULL DEFAULT now(),
    -- Set once every copy is confirmed on hookfleet.events; a row still NULL after a crash is
    -- fanned out again when the ingest message is redelivered, so nothing accepted is lost.
    routed_at           timestamptz
);

CREATE TABLE subscriptions (
    id              text PRIMARY KEY,
    url             text NOT NULL,
    description     text,
    event_types     text[] NOT NULL,
    organizations   text[],
    partitions      text[],
    secrets         text[] NOT NULL,
    state           text NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'disabled', 'deleted')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    deleted_at      timestamptz
);

CREATE TABLE deliveries (
    id                  text PRIMARY KEY,
    event_id            text NOT NULL,
    subscription_id     text NOT NULL,
    organization_id     text,
    service_partition   text,
    status              text NOT NULL CHECK (status IN ('pending', 'delivered', 'failed', 'exhausted')),
    attempts            integer NOT NULL,
    last_attempt_at     timestamptz,
    next_attempt_at     timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX deliveries_event_idx ON deliveries (event_id);
CREATE INDEX deliveries_subscription_idx ON deliveries (subscription_id, created_at DESC, id DESC);

CREATE TABLE delivery_attempts (
    delivery_id         text NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
    attempt             integer NOT NULL,
    sent_at             timestamptz NOT NULL,
    status_code         integer,
    duration_ms         integer NOT NULL,
    error               text,
    response_excerpt    text,
    recorded_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (delivery_id, attempt)
);

-- Messages that could not be decoded: dead-lettered to hookfleet.dead and noted here.
CREATE TABLE poison_messages (
    id          bigserial PRIMARY KEY,
    queue       text NOT NULL,
    reason      text NOT NULL,
    excerpt     text NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
);
