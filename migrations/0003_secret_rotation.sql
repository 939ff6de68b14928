-- Secret rotation: `secrets` holds the current secret first and, for a while after a rotation,
-- the previous one. Deliveries are signed with every secret still valid, so receivers can move
-- to the new secret without rejecting anything in between. Expand only: NULL = no rotation in
-- progress, which is what every existing row means.
ALTER TABLE subscriptions ADD COLUMN previous_secrets_expire_at timestamptz;
