-- Webhooks: an organization's endpoints, the events they can receive, and one delivery
-- per event and endpoint.
--
-- An event and its deliveries are written in the transaction of the change they report
-- (a retry given, an email sent, a member started), so a crash right after the change
-- cannot lose them: the worker's relay hands every delivery not yet handed over to
-- Temporal, which makes the attempts (docs/decisions.md, "Webhooks").

CREATE TABLE webhook_endpoints (
    id          uuid PRIMARY KEY,
    org_id      uuid NOT NULL REFERENCES organizations (id),
    url         text NOT NULL,
    description text NOT NULL DEFAULT '',
    event_types text[] NOT NULL,
    enabled     boolean NOT NULL DEFAULT true,
    -- The signing secret ("whsec_…") and, after a rotation, the one it replaced, which
    -- signs too until previous_secret_expires_at so receivers can switch over.
    secret                     text NOT NULL,
    previous_secret            text,
    previous_secret_expires_at timestamptz,
    -- Why and when it stopped receiving (admin, gone, failing); NULL while enabled.
    disabled_reason text,
    disabled_at     timestamptz,
    -- The first failed attempt since the last delivered one: how long it has been down.
    failing_since timestamptz,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    -- Deleting an endpoint marks it, and the purge removes it with its deliveries later:
    -- deleting the row at once would hold up, then fail, every change of the
    -- organization recording an event meanwhile (its deliveries' foreign key).
    deleted_at timestamptz
);
CREATE INDEX webhook_endpoints_org ON webhook_endpoints (org_id, created_at) WHERE deleted_at IS NULL;

CREATE TABLE webhook_events (
    id          uuid PRIMARY KEY,
    org_id      uuid NOT NULL REFERENCES organizations (id),
    type        text NOT NULL,
    occurred_at timestamptz NOT NULL,
    -- The whole body sent, as receivers see it (id, type, occurred_at, organization_id, data).
    payload jsonb NOT NULL
);
-- The purge removes events past the retention, oldest first.
CREATE INDEX webhook_events_occurred ON webhook_events (occurred_at);

CREATE TABLE webhook_deliveries (
    id          uuid PRIMARY KEY,
    event_id    uuid NOT NULL REFERENCES webhook_events (id) ON DELETE CASCADE,
    endpoint_id uuid NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    org_id      uuid NOT NULL,
    status      text NOT NULL DEFAULT 'pending',
    attempts    integer NOT NULL DEFAULT 0,
    last_status_code integer,
    last_error       text,
    first_attempt_at timestamptz,
    last_attempt_at  timestamptz,
    delivered_at     timestamptz,
    -- Set once the relay has started the delivery's workflow; NULL rows are its queue.
    dispatched_at timestamptz,
    -- A relay taking a row for hand-over leases it until then; a relay that died
    -- mid-batch leaves rows whose lease runs out, and the next look takes them again.
    dispatch_lease_until timestamptz,
    -- A replay names the delivery it repeats.
    replay_of  uuid,
    created_at timestamptz NOT NULL
);
CREATE INDEX webhook_deliveries_undispatched ON webhook_deliveries (created_at) WHERE dispatched_at IS NULL;
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, created_at DESC, id DESC);
CREATE INDEX webhook_deliveries_pending ON webhook_deliveries (endpoint_id, created_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_event ON webhook_deliveries (event_id);
