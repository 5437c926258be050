-- A retry of a managed member without an email address sends no email: the admin is shown
-- the link once, as for a restart, and the retry's email status says not_applicable.
ALTER TABLE retries DROP CONSTRAINT retries_email_status_check;
ALTER TABLE retries ADD CONSTRAINT retries_email_status_check
    CHECK (email_status IN ('queued', 'sent', 'failed', 'not_applicable'));
-- Retries given before this to members without an address never had an email to send;
-- their status said queued for good. It now says what is true.
UPDATE retries SET email_status = 'not_applicable'
    FROM members m
    WHERE m.id = retries.member_id AND (m.email IS NULL OR m.email = '') AND retries.email_status = 'queued';
