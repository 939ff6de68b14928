-- Retry ladder, endpoint health, isolation and ordering per subscription; test sends and the
-- delivery log's filters. Expand only: every new column is nullable or has a default, so
-- workers of the previous version keep running beside new ones.

ALTER TABLE subscriptions
    -- Waits before attempts 2, 3, … in milliseconds; NULL = the fleet's ladder, {} = no retries.
    ADD COLUMN retry_ladder_ms integer[],
    ADD COLUMN max_in_flight integer NOT NULL DEFAULT 16 CHECK (max_in_flight BETWEEN 1 AND 1000),
    ADD COLUMN rate_limit_per_s integer CHECK (rate_limit_per_s > 0),
    ADD COLUMN ordering text NOT NULL DEFAULT 'unordered' CHECK (ordering IN ('unordered', 'fifo')),
    ADD COLUMN disabled_reason text,
    ADD COLUMN disabled_at timestamptz,
    -- Set when a delivery is exhausted and nothing has been delivered since; a subscription
    -- failing for the configured span is disabled.
    ADD COLUMN failing_since timestamptz;

ALTER TABLE events ADD COLUMN is_test boolean NOT NULL DEFAULT false;
ALTER TABLE deliveries ADD COLUMN is_test boolean NOT NULL DEFAULT false;

-- The oldest waiting retry, for its age metric.
CREATE INDEX deliveries_waiting_idx ON deliveries (next_attempt_at) WHERE status = 'failed';
