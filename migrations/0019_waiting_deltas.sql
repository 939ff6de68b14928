-- The shared tier's waiting counts, kept without row locks. The router added each batch's
-- copies to `subscriptions.waiting` and every worker's outcome batch took first attempts off
-- it: an event matching 100,000 subscriptions locked 100,000 rows in the router's transaction
-- while the workers' batches waited on (and deadlocked with) it. Now both only append here,
-- and one producer at a time folds the deltas into `subscriptions.waiting` every few seconds.
-- A count is `waiting` plus its deltas. Expand only: `waiting` stays what the folds sum into.
CREATE TABLE waiting_deltas (
    subscription_id text NOT NULL,
    n bigint NOT NULL
);
