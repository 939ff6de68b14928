-- Channels of the event-lifecycle dialect (document 001): posted to with a password, stored
-- only as an argon2id hash. Managed with the native API. Expand only.
CREATE TABLE channels (
    id              text PRIMARY KEY,
    name            text NOT NULL,
    password_hash   text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    deleted_at      timestamptz
);
