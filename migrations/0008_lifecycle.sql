-- The event lifecycle of document 001: each event's current state, and each call's `op_id`
-- with the answer it got, so a repeated `op_id` returns the first answer and dispatches
-- nothing. Both are written in the same transaction that waits for the broker's confirm, so a
-- call is either wholly done or not at all. Expand only.
--
-- No foreign key to channels: every call checks its channel first (channels are only ever
-- soft-deleted), and a key would make each call lock the channel's row for key share, which
-- serializes a busy channel's calls on that one row (measured: ~1,100 calls/s with it).
CREATE TABLE lifecycle_events (
    channel_id  text NOT NULL,
    event_id    text NOT NULL,
    state       jsonb NOT NULL,
    closed      boolean NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (channel_id, event_id)
);

CREATE TABLE lifecycle_ops (
    channel_id  text NOT NULL,
    op_id       text NOT NULL,
    route       text NOT NULL,
    event_id    text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (channel_id, op_id)
);
