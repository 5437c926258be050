package bench

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/headshotpro/retryd/internal/domain"
	"github.com/headshotpro/retryd/internal/rules"
	"github.com/headshotpro/retryd/internal/store"
	"github.com/headshotpro/retryd/internal/tooling/webhooktest"
	"github.com/headshotpro/retryd/internal/webhook"
)

// webhookStartParallel is how many deliveries the relay starts at once (the relay
// package's startParallel); the floor starts its own that many at a time, and the
// benchmark commits retryd's events that many at a time, so neither waits on its
// producer.
const webhookStartParallel = 8

// webhookReceiverEnv lets the worker processes, which run as in production (`serve` and
// `work`, not `retryd dev`), deliver to the benchmark's plain-http receiver on loopback.
const webhookReceiverEnv = "WEBHOOK_ALLOW_PRIVATE=on"

// benchActor is who the benchmark's endpoint is recorded as created by.
var benchActor = store.Actor{Kind: store.ActorSystem, ID: "retryd-bench", Credential: store.Credential{Kind: store.CredentialCLI}}

// webhookFloor measures the floor of a burst of webhook deliveries: cfg.Webhooks floor
// workflows started at once, each POSTing a signed event to the receiver.
func (r *runner) webhookFloor(ctx context.Context) error {
	n := r.cfg.Webhooks
	m, err := startMeter(ctx, r.t.Procs, r.backends())
	if err != nil {
		return err
	}
	queued, began, err := r.eng.webhookBurst(ctx, n, webhookStartParallel)
	if err != nil {
		return fmt.Errorf("floor webhooks: %w", err)
	}
	sum, err := r.deliveries(ctx, queued, began, func(d webhooktest.Delivery) bool { _, ok := queued[d.MsgID]; return ok })
	if err != nil {
		return fmt.Errorf("floor webhooks: %w", err)
	}
	use, err := m.done(ctx)
	if err != nil {
		return err
	}
	r.add(Row{Key: KeyEngineWebhook, Group: GroupEngine, Name: fmt.Sprintf("webhook delivery workflows, one signed POST each, started %d at once", webhookStartParallel),
		Note: fmt.Sprintf("%d events; p95 %s ms", n, millis(sum.P95)), Sum: sum, Use: &use})
	return nil
}

// webhooks measures retryd's webhooks: what an endpoint adds to a give, then a burst of
// deliveries from the commit of their events to the receiver's 2xx, through the relay,
// the delivery workflows and the worker's sender.
func (r *runner) webhooks(ctx context.Context) error {
	cfg, o := r.cfg, r.orgs
	secret, err := webhook.NewSecret()
	if err != nil {
		return err
	}
	if _, err := store.CreateWebhookEndpoint(ctx, r.db, store.NewWebhookEndpoint{OrgID: o.writesOrgID, URL: r.receiver.URL,
		Description: "retryd-bench receiver", EventTypes: []string{domain.EventRetryIssued}, Secret: secret}, benchActor, time.Now()); err != nil {
		return fmt.Errorf("webhook endpoint: %w", err)
	}
	r.receiver.Trust(secret)

	if err := r.measure(ctx, Row{Key: KeyGiveWebhook, Group: GroupRetryd, Name: "give-retry over HTTP with a webhook endpoint, one at a time", Floor: KeyGiveSeq,
		Note: "its retry.issued delivered meanwhile"}, 1, cfg.Gives, 1, func(ctx context.Context, i int) error {
		m := o.givesHook[i]
		_, err := r.api.call(ctx, i, http.MethodPost, "/api/v1/admin/members/"+m.ID+"/retries", o.adminKey,
			map[string]string{"shoot_id": m.ShootID}, http.StatusCreated)
		return err
	}); err != nil {
		return err
	}
	// The gives' deliveries are let in before the burst, so they neither add to it nor
	// spill into the next phase.
	issued := func(d webhooktest.Delivery) bool { return d.Event.Type == domain.EventRetryIssued }
	if _, err := r.received(ctx, cfg.Gives, issued); err != nil {
		return fmt.Errorf("the gives' retry.issued: %w", err)
	}

	m, err := startMeter(ctx, r.t.Procs, r.backends())
	if err != nil {
		return err
	}
	// The burst's events are retry.issued events of made-up retries, recorded each in its
	// own transaction by the statement a give runs (store.RecordEvent), so they reach the
	// endpoint the gives' did with a body of the same size, without the gives' workflows.
	committed := &answers{at: map[string]time.Time{}}
	began := time.Now()
	if _, _, err := load(ctx, webhookStartParallel, cfg.Webhooks, func(ctx context.Context, _ int) error {
		now := time.Now()
		e := store.Event{ID: uuid.NewString(), OrgID: o.writesOrgID, Type: domain.EventRetryIssued, OccurredAt: now, Data: issuedData()}
		if err := store.RecordEvent(ctx, r.db, e); err != nil {
			return err
		}
		committed.set(e.ID, time.Now())
		return nil
	}); err != nil {
		return fmt.Errorf("webhook events: %w", err)
	}
	committed.mu.Lock()
	at := committed.at
	committed.mu.Unlock()
	sum, err := r.deliveries(ctx, at, began, func(d webhooktest.Delivery) bool { _, ok := at[d.MsgID]; return ok })
	if err != nil {
		return err
	}
	use, err := m.done(ctx)
	if err != nil {
		return err
	}
	r.add(Row{Key: KeyWebhook, Group: GroupRetryd, Name: "webhook deliveries, event committed to the receiver's 2xx", Floor: KeyEngineWebhook,
		Note: fmt.Sprintf("%d events committed %d at once; p95 %s ms", cfg.Webhooks, webhookStartParallel, millis(sum.P95)), Sum: sum, Use: &use})
	return nil
}

// issuedData is the data of a retry.issued event as a give records it (store.GiveRetry),
// for made-up ids.
func issuedData() map[string]any {
	return map[string]any{"retry_id": uuid.NewString(), "member_id": uuid.NewString(), "shoot_id": uuid.NewString(),
		"allowance_used": string(rules.AllowanceRetryCredit), "issued_by_kind": store.ActorAdmin, "email_status": domain.EmailQueued}
}

// deliveries waits for the messages of events (id → when the event came to be) and
// summarizes them: each one's latency to its first 2xx, and messages per second from
// began to the last of them.
func (r *runner) deliveries(ctx context.Context, events map[string]time.Time, began time.Time, match func(webhooktest.Delivery) bool) (Summary, error) {
	arrived, err := r.received(ctx, len(events), match)
	if err != nil {
		return Summary{}, err
	}
	lat := make([]time.Duration, 0, len(events))
	var last time.Time
	for id, at := range arrived {
		from, ok := events[id]
		if !ok {
			return Summary{}, fmt.Errorf("the receiver got message %s, not one of the run's", id)
		}
		lat = append(lat, max(at.Sub(from), 0))
		if at.After(last) {
			last = at
		}
	}
	return summarize(lat, last.Sub(began), webhookStartParallel, 1), nil
}

// received waits, up to the run's email timeout, until the receiver has answered 2xx to
// n distinct messages that match, and answers when each first arrived. Every matching
// request must carry a valid signature: an unsigned one is a failed run, not a
// delivery.
func (r *runner) received(ctx context.Context, n int, match func(webhooktest.Delivery) bool) (map[string]time.Time, error) {
	deadline := time.Now().Add(r.cfg.EmailTimeout)
	for {
		arrived := map[string]time.Time{}
		for _, d := range r.receiver.Deliveries() {
			if !match(d) {
				continue
			}
			if !d.Signed {
				return nil, fmt.Errorf("message %s (%s) arrived without a valid signature", d.MsgID, d.Event.Type)
			}
			if d.Answered < 200 || d.Answered > 299 {
				continue
			}
			if first, ok := arrived[d.MsgID]; !ok || d.At.Before(first) {
				arrived[d.MsgID] = d.At
			}
		}
		if len(arrived) >= n {
			return arrived, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%d of %d webhook messages arrived within %s", len(arrived), n, r.cfg.EmailTimeout)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
