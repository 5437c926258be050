package bench

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/headshotpro/retryd/internal/domain"
	"github.com/headshotpro/retryd/internal/rules"
	"github.com/headshotpro/retryd/internal/store"
	"github.com/headshotpro/retryd/internal/tooling/webhooktest"
	"github.com/headshotpro/retryd/internal/webhook"
)

// webhookStartParallel is how many deliveries the relay starts at once (the relay
// package's startParallel). The floor's burst starts its own that many at a time, and
// the benchmark commits retryd's burst that many at a time, so that neither waits on its
// producer.
const webhookStartParallel = 8

// webhookReceiverEnv lets the worker processes, which run as in production (`serve` and
// `work`, not `retryd dev`), deliver to the benchmark's plain-http receiver on loopback.
const webhookReceiverEnv = "WEBHOOK_ALLOW_PRIVATE=on"

// benchActor is who the benchmark's endpoint is recorded as created by.
var benchActor = store.Actor{Kind: store.ActorSystem, ID: "retryd-bench", Credential: store.Credential{Kind: store.CredentialCLI}}

// webhookFloor lists the measurements of the floor of webhook deliveries: floor
// delivery workflows started one at a time, each once the previous one's POST arrived,
// then a burst of them started as the relay starts a backlog.
func (r *runner) webhookFloor() []step {
	cfg, e := r.cfg, r.eng
	return []step{
		{KeyEngineWebhookSeq, func(ctx context.Context) error {
			return r.measureDeliveries(ctx, Row{Key: KeyEngineWebhookSeq, Group: GroupEngine, Name: "webhook delivery workflow, one signed POST, one at a time"},
				func(ctx context.Context) (Summary, error) {
					return r.oneAtATime(ctx, cfg.WebhookSeq, func(ctx context.Context) (string, time.Time, error) {
						id, at := uuid.NewString(), time.Now()
						return id, at, e.startWebhook(ctx, id)
					})
				})
		}},
		{KeyEngineWebhookBurst, func(ctx context.Context) error {
			return r.measureDeliveries(ctx, Row{Key: KeyEngineWebhookBurst, Group: GroupEngine,
				Name: fmt.Sprintf("webhook delivery workflows, one signed POST each, started %d at once", webhookStartParallel),
				Note: fmt.Sprintf("a burst of %d", cfg.WebhookBurst)}, func(ctx context.Context) (Summary, error) {
				queued, began, err := e.webhookBurst(ctx, cfg.WebhookBurst, webhookStartParallel)
				if err != nil {
					return Summary{}, err
				}
				return r.deliveries(ctx, queued, began)
			})
		}},
	}
}

// webhooks lists the measurements of retryd's webhooks: what an endpoint adds to a
// give, then deliveries from the commit of their events to the receiver's 2xx, through
// the relay, the delivery workflows and the worker's sender: one event at a time, then
// a burst.
func (r *runner) webhooks() []step {
	cfg, o := r.cfg, r.orgs
	// The events are retry.issued events of made-up retries, each recorded in its own
	// transaction by the statement a give runs (store.RecordEvent): they reach the
	// endpoint the gives' did, with a body of the same size, without the gives' workflows.
	record := func(ctx context.Context) (string, time.Time, error) {
		e := store.Event{ID: uuid.NewString(), OrgID: o.writesOrgID, Type: domain.EventRetryIssued, OccurredAt: time.Now(), Data: issuedData()}
		if err := store.RecordEvent(ctx, r.db, e); err != nil {
			return "", time.Time{}, err
		}
		return e.ID, time.Now(), nil
	}
	return []step{
		{KeyGiveWebhook, func(ctx context.Context) error {
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
			// The gives' deliveries are let in first, so they add to no later row.
			if _, err := r.received(ctx, cfg.Gives, func(d webhooktest.Delivery) bool { return d.Event.Type == domain.EventRetryIssued }); err != nil {
				return fmt.Errorf("the gives' retry.issued: %w", err)
			}
			return nil
		}},
		{KeyWebhookSeq, func(ctx context.Context) error {
			return r.measureDeliveries(ctx, Row{Key: KeyWebhookSeq, Group: GroupRetryd, Name: "webhook delivery, event committed to the receiver's 2xx, one at a time",
				Floor: KeyEngineWebhookSeq}, func(ctx context.Context) (Summary, error) {
				return r.oneAtATime(ctx, cfg.WebhookSeq, record)
			})
		}},
		{KeyWebhookBurst, func(ctx context.Context) error {
			return r.measureDeliveries(ctx, Row{Key: KeyWebhookBurst, Group: GroupRetryd, Name: fmt.Sprintf("webhook deliveries, events committed %d at once", webhookStartParallel),
				Floor: KeyEngineWebhookBurst, Note: fmt.Sprintf("a burst of %d", cfg.WebhookBurst)}, func(ctx context.Context) (Summary, error) {
				committed := &answers{at: map[string]time.Time{}}
				began := time.Now()
				if _, _, err := load(ctx, webhookStartParallel, cfg.WebhookBurst, func(ctx context.Context, _ int) error {
					id, at, err := record(ctx)
					if err == nil {
						committed.set(id, at)
					}
					return err
				}); err != nil {
					return Summary{}, err
				}
				committed.mu.Lock()
				events := committed.at
				committed.mu.Unlock()
				return r.deliveries(ctx, events, began)
			})
		}},
	}
}

// issuedData is the data of a retry.issued event as a give records it (store.GiveRetry),
// for made-up ids.
func issuedData() map[string]any {
	return map[string]any{"retry_id": uuid.NewString(), "member_id": uuid.NewString(), "shoot_id": uuid.NewString(),
		"allowance_used": string(rules.AllowanceRetryCredit), "issued_by_kind": store.ActorAdmin, "email_status": domain.EmailQueued}
}

// measureDeliveries runs one webhook row with the processes' CPU metered around it; the
// row's note gets the latencies' p95.
func (r *runner) measureDeliveries(ctx context.Context, row Row, run func(ctx context.Context) (Summary, error)) error {
	if err := r.quiet(ctx); err != nil {
		return err
	}
	m, err := startMeter(ctx, r.t.Procs, r.backends(), r.t.TemporalMetricsURL)
	if err != nil {
		return err
	}
	sum, err := run(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", row.Name, err)
	}
	use, err := m.done(ctx)
	if err != nil {
		return err
	}
	notes := []string{fmt.Sprintf("p95 %s ms", millis(sum.P95))}
	if row.Note != "" {
		notes = append([]string{row.Note}, notes...)
	}
	row.Note, row.Sum, row.Use = strings.Join(notes, "; "), sum, &use
	r.add(row)
	return nil
}

// oneAtATime sends n events, each once the previous one arrived, and summarizes each
// one's latency from when send says it came to be to its arrival.
func (r *runner) oneAtATime(ctx context.Context, n int, send func(ctx context.Context) (id string, at time.Time, err error)) (Summary, error) {
	lat := make([]time.Duration, 0, n)
	began := time.Now()
	for range n {
		id, at, err := send(ctx)
		if err != nil {
			return Summary{}, err
		}
		arrived, err := r.received(ctx, 1, func(d webhooktest.Delivery) bool { return d.MsgID == id })
		if err != nil {
			return Summary{}, err
		}
		lat = append(lat, max(arrived[id].Sub(at), 0))
	}
	return summarize(lat, time.Since(began), 1, 1), nil
}

// deliveries waits for the messages of events (id → when the event came to be) and
// summarizes them: each one's latency to its first 2xx, and messages per second from
// began to the last of them.
func (r *runner) deliveries(ctx context.Context, events map[string]time.Time, began time.Time) (Summary, error) {
	arrived, err := r.received(ctx, len(events), func(d webhooktest.Delivery) bool { _, ok := events[d.MsgID]; return ok })
	if err != nil {
		return Summary{}, err
	}
	lat := make([]time.Duration, 0, len(events))
	var last time.Time
	for id, at := range arrived {
		lat = append(lat, max(at.Sub(events[id]), 0))
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
		case <-r.receiver.Answered():
		case <-time.After(100 * time.Millisecond):
		}
	}
}
