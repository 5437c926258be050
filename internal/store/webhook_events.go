package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/headshotpro/retryd/internal/domain"
)

// WebhookChannel is the Postgres notification channel a committed delivery is announced
// on, so the relay hands it to Temporal at once rather than at its next look.
const WebhookChannel = "retryd_webhook_deliveries"

// Event is one webhook event: what happened, to whom, when. Data holds the type's own
// fields (ids, statuses); never a link, a token, an address or an admin's note.
type Event struct {
	ID         string
	OrgID      string
	Type       string
	OccurredAt time.Time
	Data       map[string]any
}

// EventBody is the JSON an endpoint receives for an event: the same bytes every attempt,
// replay and endpoint get.
type EventBody struct {
	ID             string         `json:"id"`
	Type           string         `json:"type"`
	OccurredAt     time.Time      `json:"occurred_at"`
	OrganizationID string         `json:"organization_id"`
	Data           map[string]any `json:"data"`
}

func (e Event) body() ([]byte, error) {
	b, err := json.Marshal(EventBody{ID: e.ID, Type: e.Type, OccurredAt: e.OccurredAt.UTC(), OrganizationID: e.OrgID, Data: e.Data})
	if err != nil {
		return nil, fmt.Errorf("webhook event %s: %w", e.Type, err)
	}
	return b, nil
}

// RecordEvent writes an event and one delivery for each enabled endpoint of the
// organization that subscribes to its type, in db's transaction: the event commits or
// rolls back with the change it reports. With no such endpoint nothing is written. One
// statement, so a give pays one round trip for its webhooks whether or not any are set up.
func RecordEvent(ctx context.Context, db bun.IDB, e Event) error {
	q, err := eventQuery(db, e)
	if err != nil {
		return err
	}
	_, err = q.Exec(ctx)
	return err
}

// eventQuery is RecordEvent's statement, for a transaction that sends it with its other
// writes (writes).
func eventQuery(db bun.IDB, e Event) (*bun.RawQuery, error) {
	args, err := e.outboxArgs()
	if err != nil {
		return nil, err
	}
	return db.NewRaw(`WITH src AS (SELECT ?0::uuid AS org, ?4::jsonb AS payload), `+outboxSQL, args...), nil
}

// outboxSQL ends every statement that records an event: the subscribed endpoints of the
// organization, the event, one delivery for each, and the notification, queued in the
// transaction and sent at its commit (Postgres folds equal notifications of one
// transaction into one). It reads a CTE src of at most one row (org, payload), which a
// statement that records its change and its event at once (FinishEmail) fills from
// what its change returns; no row, no event. The event's type, id, time and the channel
// are arguments 1, 2, 3 and 5 (outboxArgs).
const outboxSQL = `ep AS (
			SELECT e.id FROM webhook_endpoints e, src
			WHERE e.org_id = src.org AND e.deleted_at IS NULL AND e.enabled AND ?1 = ANY (e.event_types)
		), ev AS (
			INSERT INTO webhook_events (id, org_id, type, occurred_at, payload)
			SELECT ?2, src.org, ?1, ?3, src.payload FROM src WHERE EXISTS (SELECT 1 FROM ep)
			RETURNING id, org_id
		), d AS (
			INSERT INTO webhook_deliveries (id, event_id, endpoint_id, org_id, created_at)
			SELECT gen_random_uuid(), ev.id, ep.id, ev.org_id, ?3 FROM ev CROSS JOIN ep RETURNING 1
		)
		SELECT pg_notify(?5, '') FROM ev`

// outboxArgs are the arguments 0 to 5 of an event's statement: the organization, type,
// id, time, body and the notification channel.
func (e Event) outboxArgs() ([]any, error) {
	if e.ID == "" {
		e.ID = uuid.NewString()
	}
	body, err := e.body()
	if err != nil {
		return nil, err
	}
	return []any{e.OrgID, e.Type, e.ID, e.OccurredAt, string(body), WebhookChannel}, nil
}

// retryEvent is an event about a retry, with the fields every retry event carries.
func retryEvent(typ string, r *Retry, at time.Time, more map[string]any) Event {
	data := map[string]any{"retry_id": r.ID, "member_id": r.MemberID, "shoot_id": r.ShootID}
	for k, v := range more {
		data[k] = v
	}
	return Event{OrgID: r.OrgID, Type: typ, OccurredAt: at, Data: data}
}

// restartEvent is an event about a restart: the member, the deleted shoot and the new one.
func restartEvent(typ string, r *Restart, at time.Time, more map[string]any) Event {
	data := map[string]any{"restart_id": r.ID, "member_id": r.MemberID, "shoot_id": r.NewShootID, "old_shoot_id": r.OldShootID}
	for k, v := range more {
		data[k] = v
	}
	return Event{OrgID: r.OrgID, Type: typ, OccurredAt: at, Data: data}
}

// startedEvents records retry.started and restart.started for what a start ended.
// They go with w's other writes.
func startedEvents(db bun.IDB, w *writes, retries []Retry, restarts []Restart, now time.Time) error {
	var events []Event
	for i := range retries {
		events = append(events, retryEvent(domain.EventRetryStarted, &retries[i], now, map[string]any{"started_at": now.UTC()}))
	}
	for i := range restarts {
		events = append(events, restartEvent(domain.EventRestartStarted, &restarts[i], now, map[string]any{"started_at": now.UTC()}))
	}
	for _, e := range events {
		q, err := eventQuery(db, e)
		if err != nil {
			return err
		}
		w.add(q)
	}
	return nil
}
