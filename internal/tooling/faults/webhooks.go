package faults

import (
	"context"
	"hash/fnv"
	"net/http"
	"slices"
	"time"

	"github.com/uptrace/bun"

	"github.com/headshotpro/retryd/internal/domain"
	"github.com/headshotpro/retryd/internal/store"
	"github.com/headshotpro/retryd/internal/tooling/webhooktest"
	"github.com/headshotpro/retryd/internal/webhook"
)

// Receiver behaviours of the suite's webhook endpoints.
const (
	// EndpointSteady answers 200, a third of the events slowly, so that attempts are in
	// flight when a worker is killed.
	EndpointSteady = "steady"
	// EndpointFlaky answers a fifth of the events' first attempt with 500 and a tenth's
	// with 429 and Retry-After, a third of them slowly, and subscribes to every type but
	// retry.email_delivered, so the type filter is exercised too.
	EndpointFlaky = "flaky"
)

// slowAnswer is how long a slow answer takes: long enough for a kill to land in it,
// well inside the workers' WEBHOOK_TIMEOUT.
const slowAnswer = 300 * time.Millisecond

// EndpointSpec is a webhook endpoint the suite registers for an organization.
type EndpointSpec struct {
	Name  string // EndpointSteady or EndpointFlaky
	Types []string
}

// webhookLayout gives organization k its endpoints: the first of every three has a
// steady and a flaky one, the second none (its changes must record no event), the third
// a steady one (so one organization's events have another's endpoint to stray to).
func webhookLayout(k int) []EndpointSpec {
	all := domain.EventTypes()
	switch k % 3 {
	case 0:
		flaky := slices.DeleteFunc(slices.Clone(all), func(t string) bool { return t == domain.EventRetryEmailDelivered })
		return []EndpointSpec{{Name: EndpointSteady, Types: all}, {Name: EndpointFlaky, Types: flaky}}
	case 2:
		return []EndpointSpec{{Name: EndpointSteady, Types: all}}
	}
	return nil
}

// answerFor is how a receiver of the named kind answers. The choice per event comes from
// a hash of its id (a fresh uuid), so it is random across events and the same for every
// attempt of one: a flaky answer fails the first attempt only, which keeps each
// delivery's schedule within its first retry (5 s) unless a fault adds to it.
func answerFor(name string) webhooktest.Answer {
	return func(msgID string, attempt int) (int, http.Header, time.Duration) {
		h := fnv.New32a()
		_, _ = h.Write([]byte(msgID))
		n := h.Sum32()
		var delay time.Duration
		if n%3 == 1 {
			delay = slowAnswer
		}
		if name != EndpointFlaky || attempt > 1 {
			return http.StatusOK, nil, delay
		}
		switch n % 10 {
		case 0, 5:
			return http.StatusInternalServerError, nil, delay
		case 1:
			return http.StatusTooManyRequests, http.Header{"Retry-After": {"1"}}, delay
		}
		return http.StatusOK, nil, delay
	}
}

// Webhooks are the endpoints the suite registered and the receivers behind them. The
// receivers live in the test process, so they outlive every fault.
type Webhooks struct {
	Endpoints []*Endpoint
}

// Endpoint is one registered endpoint with its receiver.
type Endpoint struct {
	ID, OrgID, Name string
	Receiver        *webhooktest.Receiver
}

// StartWebhooks starts a receiver for each endpoint the population's organizations
// have and registers it, with a fresh secret the receiver checks signatures with.
func StartWebhooks(ctx context.Context, c *Cluster, pop *Population) (*Webhooks, error) {
	db, err := store.Open(ctx, c.PGURL)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	w := &Webhooks{}
	for _, o := range pop.Orgs {
		for _, spec := range o.Endpoints {
			r := webhooktest.NewServer(answerFor(spec.Name))
			ep, err := registerEndpoint(ctx, db, o, spec, r.URL, time.Now())
			if err != nil {
				r.Close()
				w.Close()
				return nil, err
			}
			r.Trust(ep.Secret)
			w.Endpoints = append(w.Endpoints, &Endpoint{ID: ep.ID, OrgID: o.ID, Name: spec.Name, Receiver: r})
		}
	}
	return w, nil
}

// registerEndpoint stores an endpoint the way the API does, made by the organization's
// owner, with a fresh secret.
func registerEndpoint(ctx context.Context, db bun.IDB, o *Org, spec EndpointSpec, url string, now time.Time) (*store.WebhookEndpoint, error) {
	secret, err := webhook.NewSecret()
	if err != nil {
		return nil, err
	}
	return store.CreateWebhookEndpoint(ctx, db, store.NewWebhookEndpoint{OrgID: o.ID, URL: url, Description: "fault suite " + spec.Name,
		EventTypes: spec.Types, Secret: secret}, store.Actor{Kind: store.ActorAdmin, ID: o.AdminID, RequestID: "faults"}, now)
}

// Close stops the receivers.
func (w *Webhooks) Close() {
	if w == nil {
		return
	}
	for _, e := range w.Endpoints {
		e.Receiver.Close()
	}
}

// InFlight is how many delivery attempts the receivers are answering at this moment.
func (w *Webhooks) InFlight() int {
	if w == nil {
		return 0
	}
	n := 0
	for _, e := range w.Endpoints {
		n += e.Receiver.InFlight()
	}
	return n
}

// received is what each endpoint's receiver got, by endpoint id.
func (w *Webhooks) received() map[string][]webhooktest.Delivery {
	out := map[string][]webhooktest.Delivery{}
	if w == nil {
		return out
	}
	for _, e := range w.Endpoints {
		out[e.ID] = e.Receiver.Deliveries()
	}
	return out
}

// awaitInFlight waits until a delivery attempt is in flight at a receiver, at most
// limit, and tells how many are.
func (w *Webhooks) awaitInFlight(ctx context.Context, limit time.Duration) int {
	if w == nil {
		return 0
	}
	deadline := time.Now().Add(limit)
	for {
		n := w.InFlight()
		if n > 0 || !time.Now().Before(deadline) || ctx.Err() != nil {
			return n
		}
		sleep(ctx, 10*time.Millisecond)
	}
}
