-- Pull subscriptions: copies are put on the subscription's own queue for its owner to read
-- with the broker user named here (made through RabbitMQ's management API). Expand only.
ALTER TABLE subscriptions ADD COLUMN delivery text NOT NULL DEFAULT 'push';
ALTER TABLE subscriptions ADD COLUMN pull_user text;
-- After a rotation the replaced user keeps reading until its grace ends; the producers' janitor
-- then deletes it.
ALTER TABLE subscriptions ADD COLUMN previous_pull_user text;
ALTER TABLE subscriptions ADD COLUMN previous_pull_user_expires_at timestamptz;
