-- The routing version in stripes. One row bumped by every shared-tier change made each such
-- transaction wait for the one before it to commit (a row lock held through the commit's
-- flush): creations were serialised, near 600/s on a 2-core box. Now each connection bumps the
-- stripe of its backend, so concurrent creations take different rows, and a transaction that
-- changes many subscriptions takes one row only (no two transactions can lock stripes in
-- opposite orders). A router reads the sum: it changes with every bump.
-- The single-row table stays (expand only) and is no longer bumped: a router of the previous
-- version still reloads at every notice and every few seconds.
CREATE TABLE routing_stripes (
    stripe smallint PRIMARY KEY,
    version bigint NOT NULL
);
INSERT INTO routing_stripes SELECT g, 0 FROM generate_series(0, 63) AS g;
CREATE OR REPLACE FUNCTION bump_routing_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE routing_stripes SET version = version + 1 WHERE stripe = pg_backend_pid() % 64;
    RETURN NULL;
END
$$;
