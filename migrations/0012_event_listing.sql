-- GET /v1/events lists the record newest first, a page at a time, keyed by (received_at, id):
-- without this index each page would sort the whole table.
CREATE INDEX events_received ON events (received_at DESC, id DESC);
