package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/headshotpro/retryd/internal/domain"
)

// WebhookDelivery is an event on its way to one endpoint, with what its attempts met.
type WebhookDelivery struct {
	bun.BaseModel `bun:"table:webhook_deliveries"`

	ID             string     `bun:"id,pk,type:uuid"`
	EventID        string     `bun:"event_id,type:uuid"`
	EndpointID     string     `bun:"endpoint_id,type:uuid"`
	OrgID          string     `bun:"org_id,type:uuid"`
	Status         string     `bun:"status"`
	Attempts       int        `bun:"attempts"`
	LastStatusCode *int       `bun:"last_status_code"`
	LastError      *string    `bun:"last_error"`
	FirstAttemptAt *time.Time `bun:"first_attempt_at"`
	LastAttemptAt  *time.Time `bun:"last_attempt_at"`
	DeliveredAt    *time.Time `bun:"delivered_at"`
	DispatchedAt   *time.Time `bun:"dispatched_at"`
	DispatchLease  *time.Time `bun:"dispatch_lease_until"`
	ReplayOf       *string    `bun:"replay_of,type:uuid"`
	CreatedAt      time.Time  `bun:"created_at"`

	// EventType is read from the event; it is not a column of webhook_deliveries.
	EventType string `bun:"event_type,scanonly"`
}

// DeliveryCursor is a keyset position in an endpoint's deliveries, newest first.
type DeliveryCursor struct {
	At time.Time
	ID string
}

// ListWebhookDeliveries answers a page of an endpoint's deliveries, newest first, and
// whether older ones follow. The endpoint must be the organization's.
func ListWebhookDeliveries(ctx context.Context, db bun.IDB, orgID, endpointID string, after *DeliveryCursor, limit int) ([]WebhookDelivery, bool, error) {
	if _, err := GetWebhookEndpoint(ctx, db, orgID, endpointID); err != nil {
		return nil, false, err
	}
	out := make([]WebhookDelivery, 0, limit+1)
	q := db.NewSelect().Model(&out).ModelTableExpr("webhook_deliveries AS d").
		ColumnExpr("d.*").ColumnExpr("e.type AS event_type").
		Join("JOIN webhook_events AS e ON e.id = d.event_id").
		Where("d.endpoint_id = ?", endpointID).
		OrderExpr("d.created_at DESC, d.id DESC").Limit(int64(limit + 1))
	if after != nil {
		q = q.Where("(d.created_at, d.id) < (?, ?)", after.At, after.ID)
	}
	if err := q.Scan(ctx); err != nil {
		return nil, false, err
	}
	more := len(out) > limit
	if more {
		out = out[:limit]
	}
	return out, more, nil
}

// ReplayWebhookDelivery sends a delivery's event to its endpoint again, as a new
// delivery that names the one it repeats. The endpoint may be disabled: an admin replays
// to check a fix, so it must be enabled first (the caller checks).
func ReplayWebhookDelivery(ctx context.Context, db bun.IDB, orgID, endpointID, deliveryID string, actor Actor, now time.Time) (*WebhookDelivery, error) {
	var out *WebhookDelivery
	err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		old := new(WebhookDelivery)
		if err := tx.NewSelect().Model(old).ModelTableExpr("webhook_deliveries AS d").
			ColumnExpr("d.*").ColumnExpr("e.type AS event_type").
			Join("JOIN webhook_events AS e ON e.id = d.event_id").
			Where("d.id = ? AND d.endpoint_id = ? AND d.org_id = ?", deliveryID, endpointID, orgID).Scan(ctx); err != nil {
			return notFound(err, "webhook delivery")
		}
		d, err := newDelivery(ctx, tx, old.EventID, endpointID, orgID, &old.ID, now)
		if err != nil {
			return err
		}
		d.EventType = old.EventType
		out = d
		return Audit(ctx, tx, actor.Event(AuditEvent{
			OrgID: orgID, Action: AuditWebhookReplay, TargetKind: "webhook_delivery", TargetID: d.ID, Outcome: "queued",
			Detail: map[string]any{"endpoint_id": endpointID, "replay_of": old.ID, "event_id": old.EventID},
		}))
	})
	return out, err
}

// SendWebhookTest records a webhook.test event for one endpoint alone and its delivery.
func SendWebhookTest(ctx context.Context, db bun.IDB, orgID, endpointID string, actor Actor, now time.Time) (*WebhookDelivery, error) {
	var out *WebhookDelivery
	err := db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if _, err := GetWebhookEndpoint(ctx, tx, orgID, endpointID); err != nil {
			return err
		}
		e := Event{ID: uuid.NewString(), OrgID: orgID, Type: domain.EventWebhookTest, OccurredAt: now, Data: map[string]any{"endpoint_id": endpointID}}
		body, err := e.body()
		if err != nil {
			return err
		}
		if _, err := tx.NewRaw(`INSERT INTO webhook_events (id, org_id, type, occurred_at, payload) VALUES (?, ?, ?, ?, ?)`,
			e.ID, orgID, e.Type, now, string(body)).Exec(ctx); err != nil {
			return err
		}
		d, err := newDelivery(ctx, tx, e.ID, endpointID, orgID, nil, now)
		if err != nil {
			return err
		}
		d.EventType = e.Type
		out = d
		return Audit(ctx, tx, actor.Event(AuditEvent{
			OrgID: orgID, Action: AuditWebhookTest, TargetKind: "webhook_delivery", TargetID: d.ID, Outcome: "queued",
			Detail: map[string]any{"endpoint_id": endpointID, "event_id": e.ID},
		}))
	})
	return out, err
}

func newDelivery(ctx context.Context, tx bun.Tx, eventID, endpointID, orgID string, replayOf *string, now time.Time) (*WebhookDelivery, error) {
	d := &WebhookDelivery{ID: uuid.NewString(), EventID: eventID, EndpointID: endpointID, OrgID: orgID,
		Status: domain.DeliveryPending, ReplayOf: replayOf, CreatedAt: now}
	// EventType is scanonly: bun leaves it out of the insert.
	if _, err := tx.NewInsert().Model(d).Exec(ctx); err != nil {
		return nil, err
	}
	if _, err := tx.NewRaw(`SELECT pg_notify(?, '')`, WebhookChannel).Exec(ctx); err != nil {
		return nil, err
	}
	return d, nil
}

// WebhookDispatch is a delivery the relay hands to Temporal.
type WebhookDispatch struct {
	ID    string `bun:"id"`
	OrgID string `bun:"org_id"`
}

// DispatchLease is how long a relay holds the rows it took for hand-over: far longer than
// starting a batch takes, short enough that a relay that died mid-batch delays its rows
// by little.
const DispatchLease = 30 * time.Second

// DispatchWebhooks hands up to limit deliveries not yet handed over to start, and marks
// those it started. It first leases the rows in a statement of their own, so no row
// stays locked while start calls Temporal (an attempt recording itself on a row would
// wait for that), and two relays never take the same row. A relay that dies mid-way
// leaves its rows unmarked, and another takes them when the lease runs out: start must
// therefore be idempotent (it starts a workflow whose id is the delivery's).
func DispatchWebhooks(ctx context.Context, db *bun.DB, limit int, now time.Time, start func(context.Context, []WebhookDispatch) ([]string, error)) (int, error) {
	var batch []WebhookDispatch
	if err := db.NewRaw(`UPDATE webhook_deliveries SET dispatch_lease_until = ?0
		WHERE id IN (SELECT id FROM webhook_deliveries WHERE dispatched_at IS NULL
			AND (dispatch_lease_until IS NULL OR dispatch_lease_until < ?1)
			ORDER BY created_at LIMIT ?2 FOR UPDATE SKIP LOCKED)
		RETURNING id, org_id`, now.Add(DispatchLease), now, limit).Scan(ctx, &batch); err != nil {
		return 0, err
	}
	if len(batch) == 0 {
		return 0, nil
	}
	started, err := start(ctx, batch)
	if len(started) > 0 {
		if _, uerr := db.NewRaw(`UPDATE webhook_deliveries SET dispatched_at = ?, dispatch_lease_until = NULL WHERE id IN (?)`,
			now, bun.List(started)).Exec(ctx); uerr != nil {
			return 0, uerr
		}
	}
	if len(started) < len(batch) {
		// Give back what did not start, for the next look rather than after the lease.
		failed := make([]string, 0, len(batch)-len(started))
		done := make(map[string]bool, len(started))
		for _, id := range started {
			done[id] = true
		}
		for _, d := range batch {
			if !done[d.ID] {
				failed = append(failed, d.ID)
			}
		}
		if _, uerr := db.NewRaw(`UPDATE webhook_deliveries SET dispatch_lease_until = NULL WHERE id IN (?)`, bun.List(failed)).Exec(ctx); uerr != nil && err == nil {
			err = uerr
		}
	}
	if err != nil && len(started) == 0 {
		return 0, err
	}
	return len(started), nil
}

// WebhookTarget is what one attempt of a delivery needs: where to, signed with what,
// and the body.
type WebhookTarget struct {
	DeliveryID string
	Status     string
	// FirstAttemptAt is when the delivery was first attempted (nil: not yet).
	FirstAttemptAt *time.Time
	EventID        string
	EventType      string
	OrgID          string
	Endpoint       *WebhookEndpoint // nil: deleted
	Body           []byte
}

// GetWebhookTarget reads a delivery with its endpoint and its event's body.
func GetWebhookTarget(ctx context.Context, db bun.IDB, deliveryID string) (*WebhookTarget, error) {
	t := &WebhookTarget{DeliveryID: deliveryID}
	// One round trip: every attempt reads this.
	var (
		body    string
		epID    sql.NullString
		ep      WebhookEndpoint
		enabled sql.NullBool
	)
	err := db.NewRaw(`SELECT d.status, d.first_attempt_at, d.event_id, e.type, d.org_id, e.payload::text,
			ep.id, ep.url, ep.enabled, ep.secret, ep.previous_secret, ep.previous_secret_expires_at, ep.failing_since
		FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id
		LEFT JOIN webhook_endpoints ep ON ep.id = d.endpoint_id AND ep.deleted_at IS NULL
		WHERE d.id = ?`, deliveryID).
		Scan(ctx, &t.Status, &t.FirstAttemptAt, &t.EventID, &t.EventType, &t.OrgID, &body,
			&epID, &ep.URL, &enabled, &ep.Secret, &ep.PreviousSecret, &ep.PreviousSecretExpiresAt, &ep.FailingSince)
	if errors.Is(err, sql.ErrNoRows) {
		// Purged with its event or its endpoint.
		t.Status = domain.DeliveryCanceled
		return t, nil
	}
	if err != nil {
		return nil, err
	}
	t.Body = []byte(body)
	if epID.Valid {
		ep.ID, ep.OrgID, ep.Enabled = epID.String, t.OrgID, enabled.Bool
		t.Endpoint = &ep
	}
	return t, nil
}

// WebhookAttempt is what one attempt met: an answer's status code, or an error.
type WebhookAttempt struct {
	At         time.Time
	StatusCode int    // 0: no answer
	Error      string // "" when the endpoint answered
	Delivered  bool
}

// RecordWebhookAttempt counts an attempt of a pending delivery. A delivered one ends the
// delivery and the endpoint's failing spell; a failed one starts that spell if none runs.
func RecordWebhookAttempt(ctx context.Context, db bun.IDB, deliveryID string, a WebhookAttempt) error {
	var code *int
	if a.StatusCode != 0 {
		code = &a.StatusCode
	}
	// One statement, so one round trip and atomic: the delivery's row is updated (and
	// locked) before the endpoint's, the order deletion takes them in too. A delivery no
	// longer pending updates nothing, so a repeated attempt counts once; but a 2xx to an
	// attempt still in flight when the schedule ran out counts, as the receiver has it.
	spell := `failing_since = COALESCE(failing_since, ?3) WHERE failing_since IS NULL`
	if a.Delivered {
		spell = `failing_since = NULL WHERE failing_since IS NOT NULL`
	}
	_, err := db.NewRaw(`WITH d AS (
			UPDATE webhook_deliveries SET attempts = attempts + 1, last_status_code = ?0, last_error = ?1,
				last_attempt_at = ?3, first_attempt_at = COALESCE(first_attempt_at, ?3),
				status = CASE WHEN ?4 THEN ?5 ELSE status END,
				delivered_at = CASE WHEN ?4 THEN ?3::timestamptz ELSE delivered_at END
			WHERE id = ?2 AND (status = 'pending' OR (?4 AND status = ?6))
			RETURNING endpoint_id)
		UPDATE webhook_endpoints SET `+spell+` AND id IN (SELECT endpoint_id FROM d)`,
		code, nullable(a.Error), deliveryID, a.At, a.Delivered, domain.DeliveryDelivered, domain.DeliveryFailed).Exec(ctx)
	return err
}

// EndWebhookDelivery ends a pending delivery as failed or canceled.
func EndWebhookDelivery(ctx context.Context, db bun.IDB, deliveryID, status string) error {
	_, err := db.NewUpdate().Model((*WebhookDelivery)(nil)).Set("status = ?", status).
		Where("id = ? AND status = ?", deliveryID, domain.DeliveryPending).Exec(ctx)
	return err
}

// EndpointBacklog is how far behind one endpoint's deliveries are.
type EndpointBacklog struct {
	EndpointID string    `bun:"endpoint_id"`
	OrgID      string    `bun:"org_id"`
	Pending    int       `bun:"pending"`
	Oldest     time.Time `bun:"oldest"`
}

// WebhookBacklogs answers, per endpoint with pending deliveries, how many and since when.
func WebhookBacklogs(ctx context.Context, db bun.IDB) ([]EndpointBacklog, error) {
	var out []EndpointBacklog
	err := db.NewRaw(`SELECT endpoint_id, org_id, count(*) AS pending, min(created_at) AS oldest
		FROM webhook_deliveries WHERE status = 'pending' GROUP BY endpoint_id, org_id`).Scan(ctx, &out)
	return out, err
}

// WebhookRetention is how long events and their deliveries are kept after the event,
// and deleted endpoints after their deletion. The admin's page and the deliveries API
// show the recent ones; older ones only fill the tables.
const WebhookRetention = 30 * 24 * time.Hour

// purgeBatch bounds one purge statement, so a purge never holds many rows locked.
const purgeBatch = 1000

// PurgeWebhooks deletes, a batch at a time, the events older than the retention with
// their deliveries (none still pending), and the endpoints deleted longer ago than that
// with theirs. It answers how many events and endpoints went.
func PurgeWebhooks(ctx context.Context, db bun.IDB, now time.Time) (events, endpoints int64, err error) {
	cutoff := now.Add(-WebhookRetention)
	for {
		res, err := db.NewRaw(`DELETE FROM webhook_events WHERE id IN (
			SELECT e.id FROM webhook_events e WHERE e.occurred_at < ?
			AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = e.id AND d.status = 'pending')
			ORDER BY e.occurred_at LIMIT ?)`, cutoff, purgeBatch).Exec(ctx)
		if err != nil {
			return events, endpoints, err
		}
		n, _ := res.RowsAffected()
		events += n
		if n < purgeBatch {
			break
		}
	}
	// A deleted endpoint is disabled, so no change records a delivery for it any more.
	res, err := db.NewRaw(`DELETE FROM webhook_endpoints WHERE deleted_at < ?`, cutoff).Exec(ctx)
	if err != nil {
		return events, endpoints, err
	}
	endpoints, _ = res.RowsAffected()
	return events, endpoints, nil
}
