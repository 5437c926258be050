-- Sessions of the admin pages. An admin signs in with an admin API key; the browser then
-- holds a random session token whose hash is kept here, so signing out, revoking the key
-- or expiry ends the session on the server, not only in the browser.

CREATE TABLE admin_sessions (
    token_hash bytea PRIMARY KEY,
    key_id     uuid        NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
    csrf_token text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);
CREATE INDEX admin_sessions_expires ON admin_sessions (expires_at);
CREATE INDEX admin_sessions_key ON admin_sessions (key_id);
