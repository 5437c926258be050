-- Who did what: every audit event names the credential its action was done with, beside
-- the actor, and the member it concerns, so an organization's events can be listed and
-- filtered (GET /api/v1/admin/audit, the admin pages' Activity page).
--
-- credential_kind is api_key, session (the admin pages), cli (`retryd keys`),
-- member_link, pipeline_token, or unknown for admin events written before this.
-- credential_id is the key's or the session's id ('' where the credential has none);
-- key_id is the API key behind it (for a session, the key that signed in), so one key's
-- actions are found whichever way they were done. Neither is ever a secret.
ALTER TABLE audit_events
    ADD COLUMN credential_kind text NOT NULL DEFAULT 'unknown',
    ADD COLUMN credential_id   text NOT NULL DEFAULT '',
    ADD COLUMN key_id          uuid,
    ADD COLUMN member_id       uuid;

-- A session is named in the audit log by this id, never by its token or the token's hash.
ALTER TABLE admin_sessions ADD COLUMN id uuid NOT NULL DEFAULT gen_random_uuid();
CREATE UNIQUE INDEX admin_sessions_id ON admin_sessions (id);

-- The listing pages newest first by (created_at, id): events of one transaction share
-- created_at, and the id breaks the tie. The member filter has its own index; the others
-- (action, actor) filter the organization's range.
DROP INDEX audit_events_org_recent;
CREATE INDEX audit_events_org_page ON audit_events (org_id, created_at DESC, id DESC);
CREATE INDEX audit_events_org_member ON audit_events (org_id, member_id, created_at DESC, id DESC)
    WHERE member_id IS NOT NULL;
