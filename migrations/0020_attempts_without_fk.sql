-- Every attempt row's foreign key made PostgreSQL look up and share-lock its delivery row (a
-- lookup and a lock written to the WAL, per attempt), though the one writer of attempts writes
-- the delivery first in the same transaction. The record keeps the rule itself: outcomes write
-- the delivery before its attempts, and retention deletes a delivery's attempts with it.
ALTER TABLE delivery_attempts DROP CONSTRAINT IF EXISTS delivery_attempts_delivery_id_fkey;
