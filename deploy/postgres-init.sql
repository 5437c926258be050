-- Runs once, when the postgres service initialises an empty data volume
-- (/docker-entrypoint-initdb.d), as POSTGRES_USER. Creates the databases of the stack
-- when missing: retryd's own (DATABASE_URL) and Temporal's persistence and visibility
-- stores. Temporal's auto-setup creates its two as well when they are missing; either
-- order works.
SELECT format('CREATE DATABASE %I', d)
FROM unnest(ARRAY['retryd', 'temporal', 'temporal_visibility']) AS d
WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = d)
\gexec
