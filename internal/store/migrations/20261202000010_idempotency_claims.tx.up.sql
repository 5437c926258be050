-- An Idempotency-Key is claimed before its request runs: a row without an answer marks a
-- request in progress, so two requests with one key and different bodies cannot both run.
ALTER TABLE idempotency_keys ALTER COLUMN status_code DROP NOT NULL;
ALTER TABLE idempotency_keys ALTER COLUMN response DROP NOT NULL;
-- Keys expire (24 h); the cleanup deletes by age.
CREATE INDEX idempotency_keys_created_at ON idempotency_keys (created_at);
