-- A deleted subscription's queue is removed a grace period after the row is marked deleted,
-- not at once: a worker may be starting to consume it at that very moment, and RabbitMQ answers
-- a consume racing the deletion of a quorum queue by closing the worker's whole connection
-- (INTERNAL_ERROR). NULL = the queue may still exist. Rows deleted before this migration had
-- their queues removed at once, so they are marked done. Expand only.
ALTER TABLE subscriptions ADD COLUMN queue_deleted_at timestamptz;
UPDATE subscriptions SET queue_deleted_at = deleted_at WHERE state = 'deleted';
CREATE INDEX subscriptions_queue_pending_idx ON subscriptions (deleted_at)
    WHERE state = 'deleted' AND queue_deleted_at IS NULL;
