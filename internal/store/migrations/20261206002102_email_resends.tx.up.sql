-- An admin's resends of a retry's email, as the API accepted them. The API decides in one
-- transaction whether a resend may go (not within RESEND_COOLDOWN of the retry's last
-- email, and the organization's queued emails under MAIL_QUEUE_PER_ORG), so the limits
-- hold for concurrent requests on every API process. requested, less the resend emails
-- sent or refused for good (rows of emails), is what is still queued.
CREATE TABLE email_resends (
    subject_id        uuid PRIMARY KEY,
    org_id            uuid        NOT NULL,
    requested         integer     NOT NULL DEFAULT 0 CHECK (requested >= 0),
    last_requested_at timestamptz
);
CREATE INDEX email_resends_org ON email_resends (org_id);
-- An organization's first emails not yet sent, counted toward the same cap.
CREATE INDEX retries_org_email_queued ON retries (org_id) WHERE status = 'pending' AND email_status = 'queued';
CREATE INDEX restarts_org_email_queued ON restarts (org_id) WHERE status = 'pending' AND email_status = 'queued';
