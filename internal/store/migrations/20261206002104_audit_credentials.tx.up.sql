-- Who did what: every audit event names the credential its action was done with, beside
-- the actor, and the member it concerns, so an organization's events can be listed and
-- filtered (GET /api/v1/admin/audit, the admin pages' Activity page).
--
-- credential_kind is api_key, session (the admin pages), cli (`retryd keys`),
-- member_link, pipeline_token, or unknown for admin events written before this.
-- credential_id is the key's or the session's id ('' where the credential has none);
-- key_id is the API key behind it (for a session, the key that signed in), so one key's
-- actions are found whichever way they were done. Neither is ever a secret.
-- Adding columns without a volatile default changes only the catalog, but it takes the
-- table's exclusive lock: wait for it at most a few seconds rather than queue every
-- action's audit write behind a long transaction (a CSV export's); a migration that
-- times out is run again.
SET LOCAL lock_timeout = '5s';
ALTER TABLE audit_events
    ADD COLUMN credential_kind text NOT NULL DEFAULT 'unknown',
    ADD COLUMN credential_id   text NOT NULL DEFAULT '',
    ADD COLUMN key_id          uuid,
    ADD COLUMN member_id       uuid;

-- A session is named in the audit log by this id, never by its token or the token's hash.
ALTER TABLE admin_sessions ADD COLUMN id uuid NOT NULL DEFAULT gen_random_uuid();
CREATE UNIQUE INDEX admin_sessions_id ON admin_sessions (id);

-- The indexes that list and filter the events are built by the next migrations but one,
-- concurrently, after the backfill: writes go on meanwhile.
