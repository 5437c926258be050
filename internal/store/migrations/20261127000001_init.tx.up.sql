-- Core schema of retryd. The database enforces the product rules on its own, so a bug in
-- the service (or a stale Temporal id reuse policy) cannot break them.

CREATE TABLE organizations (
    id             uuid PRIMARY KEY,
    name           text        NOT NULL,
    credit_balance integer     NOT NULL DEFAULT 0 CHECK (credit_balance >= 0),
    created_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE admins (
    id         uuid PRIMARY KEY,
    org_id     uuid        NOT NULL REFERENCES organizations (id),
    email      text        NOT NULL,
    name       text        NOT NULL DEFAULT '',
    role       text        NOT NULL CHECK (role IN ('owner', 'admin')),
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX admins_org ON admins (org_id);

CREATE TABLE api_keys (
    id         uuid PRIMARY KEY,
    org_id     uuid        NOT NULL REFERENCES organizations (id),
    role       text        NOT NULL CHECK (role IN ('admin', 'automation')),
    admin_id   uuid REFERENCES admins (id),
    key_hash   bytea       NOT NULL UNIQUE,
    prefix     text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz,
    CHECK ((role = 'admin') = (admin_id IS NOT NULL))
);
CREATE INDEX api_keys_org ON api_keys (org_id);

CREATE TABLE members (
    id                   uuid PRIMARY KEY,
    org_id               uuid        NOT NULL REFERENCES organizations (id),
    name                 text        NOT NULL,
    email                text,
    kind                 text        NOT NULL CHECK (kind IN ('individual', 'managed')),
    retry_credits        integer     NOT NULL DEFAULT 0 CHECK (retry_credits >= 0),
    free_retry_available boolean     NOT NULL DEFAULT true,
    created_at           timestamptz NOT NULL DEFAULT now(),
    CHECK (kind = 'managed' OR email IS NOT NULL)
);
-- Dashboard keyset order, and the "ask for a fresh link" lookup by address.
CREATE INDEX members_org_name ON members (org_id, name, id);
CREATE INDEX members_email ON members (lower(email));

CREATE TABLE shoots (
    id                   uuid PRIMARY KEY,
    org_id               uuid        NOT NULL REFERENCES organizations (id),
    member_id            uuid        NOT NULL REFERENCES members (id),
    status               text        NOT NULL CHECK (status IN ('onboarding', 'waiting', 'pending',
                                                               'generatingHeadshots', 'active', 'failed', 'deleted')),
    completed_at         timestamptz,
    deleted_at           timestamptz,
    retry_count          integer     NOT NULL DEFAULT 0 CHECK (retry_count >= 0),
    next_submission_free boolean     NOT NULL DEFAULT false,
    started_at           timestamptz,
    submitted_at         timestamptz,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    CHECK (status <> 'active' OR completed_at IS NOT NULL)
);
-- A member's most recent shoot decides the dashboard section.
CREATE INDEX shoots_member_recent ON shoots (member_id, created_at DESC, id DESC);
CREATE INDEX shoots_org_status ON shoots (org_id, status);

CREATE TABLE results (
    id          uuid PRIMARY KEY,
    shoot_id    uuid        NOT NULL REFERENCES shoots (id),
    storage_key text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX results_shoot ON results (shoot_id);

CREATE TABLE retries (
    id               uuid PRIMARY KEY,
    org_id           uuid        NOT NULL REFERENCES organizations (id),
    member_id        uuid        NOT NULL REFERENCES members (id),
    shoot_id         uuid        NOT NULL REFERENCES shoots (id),
    issued_by_kind   text        NOT NULL CHECK (issued_by_kind IN ('admin', 'automation')),
    issued_by        uuid        NOT NULL,
    issued_at        timestamptz NOT NULL,
    allowance_used   text        NOT NULL CHECK (allowance_used IN ('retry_credit', 'free_retry')),
    reason           text,
    status           text        NOT NULL CHECK (status IN ('pending', 'started', 'failed')),
    stage            text        NOT NULL,
    email_status     text        NOT NULL DEFAULT 'queued' CHECK (email_status IN ('queued', 'sent', 'failed')),
    email_message_id text,
    reminders_sent   integer     NOT NULL DEFAULT 0 CHECK (reminders_sent >= 0),
    started_at       timestamptz,
    workflow_id      text        NOT NULL,
    updated_at       timestamptz NOT NULL DEFAULT now()
);
-- One retry per shoot, ever: Temporal's id reuse policy only holds within retention.
CREATE UNIQUE INDEX retries_one_per_shoot ON retries (shoot_id);
CREATE UNIQUE INDEX retries_one_pending_per_member ON retries (member_id) WHERE status = 'pending';
CREATE INDEX retries_member_recent ON retries (member_id, issued_at DESC);

-- Free text an admin typed stays out of workflow histories; it lives here, keyed by the
-- retry id the API chose before starting the workflow.
CREATE TABLE retry_notes (
    retry_id   uuid PRIMARY KEY,
    note       text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE restarts (
    id               uuid PRIMARY KEY,
    org_id           uuid        NOT NULL REFERENCES organizations (id),
    member_id        uuid        NOT NULL REFERENCES members (id),
    old_shoot_id     uuid        NOT NULL REFERENCES shoots (id),
    new_shoot_id     uuid        NOT NULL UNIQUE REFERENCES shoots (id),
    issued_by_kind   text        NOT NULL CHECK (issued_by_kind IN ('admin', 'automation')),
    issued_by        uuid        NOT NULL,
    issued_at        timestamptz NOT NULL,
    status           text        NOT NULL CHECK (status IN ('pending', 'started', 'failed')),
    stage            text        NOT NULL,
    email_status     text        NOT NULL DEFAULT 'queued' CHECK (email_status IN ('queued', 'sent', 'failed', 'not_applicable')),
    email_message_id text,
    reminders_sent   integer     NOT NULL DEFAULT 0 CHECK (reminders_sent >= 0),
    started_at       timestamptz,
    workflow_id      text        NOT NULL,
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX restarts_one_pending_per_member ON restarts (member_id) WHERE status = 'pending';
CREATE INDEX restarts_member_recent ON restarts (member_id, issued_at DESC);

-- Intent log of every email: written before MailerSend is called, so an activity retry
-- after a recorded send does not send again.
CREATE TABLE emails (
    id           uuid PRIMARY KEY,
    subject_id   uuid        NOT NULL,
    seq          integer     NOT NULL,
    kind         text        NOT NULL CHECK (kind IN ('initial', 'reminder', 'resend')),
    status       text        NOT NULL CHECK (status IN ('sending', 'sent', 'failed')),
    message_id   text,
    attempts     integer     NOT NULL DEFAULT 0,
    last_error   text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    sent_at      timestamptz,
    UNIQUE (subject_id, seq)
);

CREATE TABLE audit_events (
    id          bigserial PRIMARY KEY,
    org_id      uuid        NOT NULL,
    actor_kind  text        NOT NULL,
    actor_id    text        NOT NULL,
    action      text        NOT NULL,
    target_kind text        NOT NULL,
    target_id   text        NOT NULL,
    request_id  text        NOT NULL DEFAULT '',
    outcome     text        NOT NULL,
    detail      jsonb       NOT NULL DEFAULT '{}'::jsonb,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_events_org_recent ON audit_events (org_id, created_at DESC);
CREATE INDEX audit_events_target ON audit_events (target_id);

CREATE TABLE idempotency_keys (
    org_id       uuid        NOT NULL,
    key          text        NOT NULL,
    route        text        NOT NULL,
    request_hash text        NOT NULL,
    status_code  integer     NOT NULL,
    response     bytea       NOT NULL, -- the exact bytes first sent, replayed as they were
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, key)
);
