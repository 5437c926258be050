package faults

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"github.com/headshotpro/retryd/internal/domain"
	"github.com/headshotpro/retryd/internal/store"
)

// change is one thing that happened to a retry or restart which its organization's
// endpoints hear of: its issue, its start, its cancel, one email sent or failed (seq is
// the email's number; -1 for the others).
type change struct {
	subject, typ string
	seq          int
}

func (c change) String() string {
	if c.seq < 0 {
		return c.typ
	}
	return fmt.Sprintf("%s (email %d)", c.typ, c.seq)
}

// hookSubject is a retry or restart as the webhook checks see it.
type hookSubject struct {
	kind, org string // kind: "retry" or "restart"
	issuedAt  time.Time
}

type hookEvent struct {
	id, org, typ string
	at           time.Time
	change       change
	payloadOrg   string
}

type hookEndpoint struct {
	id, org             string
	types               []string
	created             time.Time
	disabled            *time.Time
	deliveriesPerEvents map[string]int // event id -> deliveries (replays aside)
}

// hears tells whether the endpoint was subscribed to typ, and enabled, at t.
func (e *hookEndpoint) hears(typ string, t time.Time) bool {
	return slices.Contains(e.types, typ) && !e.created.After(t) && (e.disabled == nil || t.Before(*e.disabled))
}

// checkWebhooks holds the webhooks of a run to four guarantees.
//
// webhook_event_per_change: every change to a retry or restart made while its
// organization had an endpoint subscribed to the change's type recorded its event, once
// (retry.issued and restart.issued for every one, retry.started and restart.started for
// a started one, retry.canceled and restart.canceled for a failed one,
// retry.email_delivered for each email sent of a retry, retry.email_failed and
// restart.email_failed for each email failed for good); no event tells of a change that
// did not happen; and each event has one delivery to each endpoint of its organization
// subscribed to its type when it happened, none to another. (The suite's endpoints are never disabled; a disabled one
// is held to the events before it was.)
//
// webhook_delivery_delivered: every delivery was handed to Temporal and ended delivered:
// the receivers always answer 2xx in the end, so nothing may stay pending, fail or be
// canceled.
//
// webhook_received_signed: every delivered event was accepted (2xx, to a sender still
// there) by its endpoint's receiver at least once with a valid signature, and no request
// came without one. More than one acceptance is at least once, not a fault: it is
// counted (WebhookDuplicates), not reported.
//
// webhook_stays_in_organization: no delivery joins an event to another organization's
// endpoint, no event names another organization than its subject's, and no receiver got
// an event that no delivery sends to its endpoint.
func checkWebhooks(ctx context.Context, db bun.IDB, run *Run, rep *Report, add func(inv, subject, format string, args ...any)) error {
	for _, f := range run.Faults {
		if f.Kind == KillWorker && f.Err == "" {
			rep.WorkerKills++
			if f.WebhooksInFlight > 0 {
				rep.WorkerKillsMidDelivery++
			}
		}
	}

	// The changes Postgres holds.
	subjects := map[string]hookSubject{}
	changes := map[change]bool{}
	for _, q := range []struct{ kind, query string }{
		{"retry", `SELECT id, org_id, status, issued_at FROM retries`},
		{"restart", `SELECT id, org_id, status, issued_at FROM restarts`},
	} {
		rows, err := db.QueryContext(ctx, q.query)
		if err != nil {
			return err
		}
		for rows.Next() {
			var id, status string
			s := hookSubject{kind: q.kind}
			if err := rows.Scan(&id, &s.org, &status, &s.issuedAt); err != nil {
				rows.Close()
				return err
			}
			subjects[id] = s
			changes[change{id, q.kind + ".issued", -1}] = true
			if status == domain.StatusStarted {
				changes[change{id, q.kind + ".started", -1}] = true
			}
			if status == domain.StatusFailed {
				changes[change{id, q.kind + ".canceled", -1}] = true
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
	}
	rows, err := db.QueryContext(ctx, `SELECT subject_id, seq, status FROM emails WHERE status IN (?, ?)`, domain.EmailSent, domain.EmailFailed)
	if err != nil {
		return err
	}
	for rows.Next() {
		var id, status string
		var seq int
		if err := rows.Scan(&id, &seq, &status); err != nil {
			rows.Close()
			return err
		}
		s, ok := subjects[id]
		switch {
		case !ok:
		case status == domain.EmailSent && s.kind == "retry":
			changes[change{id, domain.EventRetryEmailDelivered, seq}] = true
		case status == domain.EmailFailed:
			changes[change{id, s.kind + ".email_failed", seq}] = true
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}

	// Endpoints, events, deliveries.
	endpoints := map[string]*hookEndpoint{}
	byOrg := map[string][]*hookEndpoint{}
	var eps []struct {
		ID         string     `bun:"id"`
		OrgID      string     `bun:"org_id"`
		EventTypes []string   `bun:"event_types,array"`
		CreatedAt  time.Time  `bun:"created_at"`
		DisabledAt *time.Time `bun:"disabled_at"`
	}
	if err := db.NewRaw(`SELECT id, org_id, event_types, created_at, disabled_at FROM webhook_endpoints`).Scan(ctx, &eps); err != nil {
		return err
	}
	for _, e := range eps {
		ep := &hookEndpoint{id: e.ID, org: e.OrgID, types: e.EventTypes, created: e.CreatedAt, disabled: e.DisabledAt, deliveriesPerEvents: map[string]int{}}
		endpoints[e.ID] = ep
		byOrg[e.OrgID] = append(byOrg[e.OrgID], ep)
	}
	events := map[string]*hookEvent{}
	eventsOf := map[change][]string{}
	rows, err = db.QueryContext(ctx, `SELECT id, org_id, type, occurred_at, payload::text FROM webhook_events`)
	if err != nil {
		return err
	}
	for rows.Next() {
		e := &hookEvent{}
		var payload string
		if err := rows.Scan(&e.id, &e.org, &e.typ, &e.at, &payload); err != nil {
			rows.Close()
			return err
		}
		var body store.EventBody
		_ = json.Unmarshal([]byte(payload), &body)
		e.payloadOrg = body.OrganizationID
		e.change = change{typ: e.typ, seq: -1}
		key := "retry_id"
		if strings.HasPrefix(e.typ, "restart.") {
			key = "restart_id"
		}
		e.change.subject, _ = body.Data[key].(string)
		if seq, ok := body.Data["email_seq"].(float64); ok {
			e.change.seq = int(seq)
		}
		events[e.id] = e
		eventsOf[e.change] = append(eventsOf[e.change], e.id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	rep.WebhookEvents = len(events)

	type deliveryRow struct {
		ID         string `bun:"id"`
		EventID    string `bun:"event_id"`
		EndpointID string `bun:"endpoint_id"`
		OrgID      string `bun:"org_id"`
		Status     string `bun:"status"`
		Attempts   int    `bun:"attempts"`
		Dispatched bool   `bun:"dispatched"`
		Replay     bool   `bun:"replay"`
	}
	var deliveries []deliveryRow
	if err := db.NewRaw(`SELECT id, event_id, endpoint_id, org_id, status, attempts, dispatched_at IS NOT NULL AS dispatched,
		replay_of IS NOT NULL AS replay FROM webhook_deliveries`).Scan(ctx, &deliveries); err != nil {
		return err
	}
	rep.WebhookDeliveries = len(deliveries)
	sent := map[[2]string]bool{} // endpoint, event: a delivery sends it there
	for _, d := range deliveries {
		rep.WebhookAttempts += d.Attempts
		rep.WebhookMaxAttempts = max(rep.WebhookMaxAttempts, d.Attempts)
		ev, ep := events[d.EventID], endpoints[d.EndpointID]
		if ev == nil || ep == nil {
			// The foreign keys keep this from happening; a check must not panic on it.
			add(InvWebhookOwnOrg, "delivery "+d.ID, "of event %s to endpoint %s: one of them is not in Postgres", d.EventID, d.EndpointID)
			continue
		}
		sent[[2]string{d.EndpointID, d.EventID}] = true
		if ev.org != ep.org || d.OrgID != ev.org {
			add(InvWebhookOwnOrg, "delivery "+d.ID, "event %s (%s) of organization %s to endpoint %s of organization %s; the delivery names organization %s",
				ev.id, ev.typ, ev.org, ep.id, ep.org, d.OrgID)
		}
		if ev.org == ep.org && !d.Replay {
			ep.deliveriesPerEvents[d.EventID]++
		}
		if d.Status != domain.DeliveryDelivered || !d.Dispatched {
			add(InvWebhookDelivered, "delivery "+d.ID, "%s to endpoint %s: status %s after %d attempts, handed to Temporal %v", ev.typ, ep.id, d.Status, d.Attempts, d.Dispatched)
		}
	}

	// Each change its event, each event its change.
	for c := range changes {
		s := subjects[c.subject]
		heard := false
		for _, ep := range byOrg[s.org] {
			// Enabled since before the retry or restart was issued: it heard of every
			// change of it.
			heard = heard || (ep.disabled == nil && ep.hears(c.typ, s.issuedAt))
		}
		if heard && len(eventsOf[c]) == 0 {
			add(InvWebhookEvents, s.kind+" "+c.subject, "no %s event; the organization has an endpoint subscribed to it", c)
		}
	}
	for c, ids := range eventsOf {
		s, ok := subjects[c.subject]
		switch {
		case !changes[c]:
			add(InvWebhookEvents, "event "+ids[0], "%s of %q: no such change in Postgres", c, c.subject)
		case len(ids) > 1:
			sort.Strings(ids)
			add(InvWebhookEvents, s.kind+" "+c.subject, "%d %s events: %v", len(ids), c, ids)
		}
		for _, id := range ids {
			if e := events[id]; ok && (e.org != s.org || e.payloadOrg != s.org) {
				add(InvWebhookOwnOrg, "event "+id, "%s of %s %s, which is organization %s's: recorded for organization %s, its body says %s", c, s.kind, c.subject, s.org, e.org, e.payloadOrg)
			}
		}
	}
	// Each event one delivery per endpoint that heard of it, none to another.
	for _, e := range events {
		for _, ep := range byOrg[e.org] {
			n := ep.deliveriesPerEvents[e.id]
			switch hears := ep.hears(e.typ, e.at); {
			case hears && n != 1:
				add(InvWebhookEvents, "event "+e.id, "%s: %d deliveries to endpoint %s, which subscribes to it; want 1", e.change, n, ep.id)
			case !hears && n > 0:
				add(InvWebhookEvents, "event "+e.id, "%s: %d deliveries to endpoint %s, which did not subscribe to it then", e.change, n, ep.id)
			}
		}
	}

	// What the receivers got.
	accepted := map[[2]string]int{}
	for epID, got := range run.Received {
		ep, known := endpoints[epID]
		for _, r := range got {
			rep.WebhookRequests++
			if r.Cut {
				rep.WebhookCut++
				continue
			}
			pair := [2]string{epID, r.MsgID}
			ev, ok := events[r.MsgID]
			switch {
			case !known || !ok || !sent[pair]:
				add(InvWebhookOwnOrg, "event "+r.MsgID, "endpoint %s's receiver got it (%s of organization %s); no delivery sends it there", epID, r.Event.Type, r.Event.OrganizationID)
			case ev.org != ep.org || r.Event.OrganizationID != ep.org:
				add(InvWebhookOwnOrg, "event "+r.MsgID, "endpoint %s of organization %s got %s of organization %s (body says %s)", epID, ep.org, ev.typ, ev.org, r.Event.OrganizationID)
			}
			if !r.Signed {
				add(InvWebhookReceived, "event "+r.MsgID, "endpoint %s's receiver got attempt %d without a valid signature", epID, r.Attempt)
				continue
			}
			if r.Answered >= 200 && r.Answered < 300 {
				accepted[pair]++
			}
		}
	}
	for _, d := range deliveries {
		if d.Status == domain.DeliveryDelivered && accepted[[2]string{d.EndpointID, d.EventID}] == 0 {
			add(InvWebhookReceived, "delivery "+d.ID, "delivered in Postgres after %d attempts; endpoint %s's receiver never accepted event %s with a valid signature",
				d.Attempts, d.EndpointID, d.EventID)
		}
	}
	for _, n := range accepted {
		rep.WebhookDuplicates += max(n-1, 0)
	}
	return nil
}
