-- The event lifecycle of document 001: each event's current state, and each call's `op_id`
-- with the answer it got, so a repeated `op_id` returns the first answer and dispatches
-- nothing. Both are written in the same transaction that waits for the broker's confirm, so a
-- call is either wholly done or not at all. Expand only.
CREATE TABLE lifecycle_events (
    channel_id  text NOT NULL REFERENCES channels (id),
    event_id    text NOT NULL,
    state       jsonb NOT NULL,
    closed      boolean NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (channel_id, event_id)
);

CREATE TABLE lifecycle_ops (
    channel_id  text NOT NULL REFERENCES channels (id),
    op_id       text NOT NULL,
    route       text NOT NULL,
    event_id    text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (channel_id, op_id)
);
