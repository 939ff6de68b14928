-- API keys: only a hash of each key is kept (SHA-256; keys carry 256 random bits). `hashes`
-- holds the current key's hash first and, for a while after a rotation, the previous one, so
-- two generations work at once. Revoked keys keep their row for the record. Expand only.
CREATE TABLE api_keys (
    id                  text PRIMARY KEY,
    name                text NOT NULL,
    scopes              text[] NOT NULL,
    hashes              text[] NOT NULL,
    previous_expires_at timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    revoked_at          timestamptz
);
CREATE UNIQUE INDEX api_keys_current_hash_idx ON api_keys ((hashes[1]));
