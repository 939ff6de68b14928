-- Retention of the event lifecycle's tables (HOOKFLEET_RETENTION): closed events by when they
-- were last changed, and op ids by when their call was made. Without these indexes each pass
-- of the pruner would read the whole table. Expand only.
CREATE INDEX lifecycle_events_closed_updated ON lifecycle_events (updated_at) WHERE closed;
CREATE INDEX lifecycle_ops_created ON lifecycle_ops (created_at);
