-- Where an event came from (sender, client, source organization and partition, type version),
-- as its sender said; rebuilt into every replay. Expand only.
ALTER TABLE events ADD COLUMN source jsonb;
