-- Whose idempotency key an event's is: the dialect and tenant it came from (`native`,
-- `partner:<installation>`, `lifecycle:<channel>`, `keycloak:<realm>`), shown beside the key.
-- Event ids now derive from the space and the key together; rows recorded before keep their
-- ids and a NULL space (one space for everyone then). Expand only.
ALTER TABLE events ADD COLUMN key_space text;
