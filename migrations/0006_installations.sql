-- Installations of the partner dialect (`/v1/installations/{id}/events`): the ids a partner
-- may post for. Managed with the native API; each producer holds the live ones in memory.
CREATE TABLE installations (
    id          text PRIMARY KEY,
    name        text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    deleted_at  timestamptz
);
