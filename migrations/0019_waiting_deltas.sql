-- The shared tier's waiting counts, kept without row locks on `subscriptions`. The router
-- added each batch's copies to `subscriptions.waiting` and every worker's outcome batch took
-- first attempts off it: an event matching 100,000 subscriptions locked 100,000 rows in the
-- router's transaction while the workers' batches waited on (and deadlocked with) it, and
-- every count rewrote its subscription's row, which the workers' and routers' reads of changed
-- subscriptions then read again. Now both append deltas here, and one producer at a time folds
-- them into `waiting_counts` every few seconds. A count is `subscriptions.waiting` (what was
-- counted before this migration) plus `waiting_counts.n` plus the deltas not folded yet.
CREATE TABLE waiting_deltas (
    subscription_id text NOT NULL,
    n bigint NOT NULL
);
CREATE TABLE waiting_counts (
    subscription_id text PRIMARY KEY,
    n bigint NOT NULL
);
