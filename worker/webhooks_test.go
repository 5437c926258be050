package worker_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/headshotpro/retryd/internal/domain"
	"github.com/headshotpro/retryd/internal/seed"
	"github.com/headshotpro/retryd/internal/store"
	"github.com/headshotpro/retryd/internal/tooling/apptest"
	"github.com/headshotpro/retryd/internal/tooling/webhooktest"
	"github.com/headshotpro/retryd/internal/webhook"
)

// hookEndpoint registers rec as an endpoint of org for types (every type when none) and
// makes rec trust its secret.
func hookEndpoint(t *testing.T, app *apptest.App, org *apptest.Org, rec *webhooktest.Receiver, types ...string) *store.WebhookEndpoint {
	t.Helper()
	if len(types) == 0 {
		types = domain.EventTypes()
	}
	secret, err := webhook.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	ep, err := store.CreateWebhookEndpoint(t.Context(), app.DB, store.NewWebhookEndpoint{OrgID: org.ID, URL: rec.URL, EventTypes: types, Secret: secret},
		store.Actor{Kind: store.ActorAdmin, ID: org.AdminID}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	rec.Trust(secret)
	return ep
}

func delivery(t *testing.T, app *apptest.App, endpointID, eventType string) store.WebhookDelivery {
	t.Helper()
	var d store.WebhookDelivery
	if err := app.DB.NewSelect().Model(&d).ModelTableExpr("webhook_deliveries AS d").ColumnExpr("d.*").
		Join("JOIN webhook_events e ON e.id = d.event_id").Where("d.endpoint_id = ? AND e.type = ?", endpointID, eventType).
		Scan(t.Context()); err != nil {
		t.Fatalf("the %s delivery: %v", eventType, err)
	}
	return d
}

func endpoint(t *testing.T, app *apptest.App, id string) *store.WebhookEndpoint {
	t.Helper()
	var ep store.WebhookEndpoint
	if err := app.DB.NewSelect().Model(&ep).Where("id = ?", id).Scan(t.Context()); err != nil {
		t.Fatal(err)
	}
	return &ep
}

// TestWebhooksOfARetry: a retry given, emailed and started reaches the organization's
// endpoint as retry.issued, retry.email_delivered and retry.started, each signed with the
// endpoint's secret and carrying the retry's ids; another organization's endpoint gets
// nothing of it.
func TestWebhooksOfARetry(t *testing.T) {
	app := apptest.Start(t, apptest.Options{})
	org := app.SeedOrg(t, 5, fairMember("Ada Hook", "ada@hooks.test"))
	other := app.SeedOrg(t, 5, fairMember("Bea Other", "bea@other.test"))
	rec := webhooktest.New(t, nil)
	ep := hookEndpoint(t, app, org, rec)
	otherRec := webhooktest.New(t, nil)
	hookEndpoint(t, app, other, otherRec)

	m := org.File.Organizations[0].Members[0]
	if err := give(t.Context(), app.Workflows(), org, m); err != nil {
		t.Fatal(err)
	}
	rec.Wait(t, 30*time.Second, "retry.issued and retry.email_delivered", func(ds []webhooktest.Delivery) bool {
		return len(rec.Of(domain.EventRetryIssued)) > 0 && len(rec.Of(domain.EventRetryEmailDelivered)) > 0
	})
	if _, err := store.StartShoot(t.Context(), app.DB, m.ID, m.Shoots[0].ID, "req-start", time.Now()); err != nil {
		t.Fatal(err)
	}
	rec.Wait(t, 30*time.Second, "retry.started", func([]webhooktest.Delivery) bool { return len(rec.Of(domain.EventRetryStarted)) > 0 })

	var retryID string
	for _, typ := range []string{domain.EventRetryIssued, domain.EventRetryEmailDelivered, domain.EventRetryStarted} {
		got := rec.Of(typ)
		if len(got) != 1 {
			t.Fatalf("%s delivered %d times, want once", typ, len(got))
		}
		d := got[0]
		if !d.Signed {
			t.Errorf("%s: the signature does not verify with the endpoint's secret", typ)
		}
		if d.MsgID != d.Event.ID || d.Event.OrganizationID != org.ID || d.Event.OccurredAt.IsZero() {
			t.Errorf("%s: webhook-id %q, body %+v: want the event's id, the organization and a time", typ, d.MsgID, d.Event)
		}
		if d.Event.Data["member_id"] != m.ID || d.Event.Data["shoot_id"] != m.Shoots[0].ID {
			t.Errorf("%s: data %v, want the member and the shoot", typ, d.Event.Data)
		}
		id, _ := d.Event.Data["retry_id"].(string)
		if retryID == "" {
			retryID = id
		}
		if id == "" || id != retryID {
			t.Errorf("%s: retry_id %q, want %q", typ, id, retryID)
		}
		// The receiver answers before the worker records its answer.
		apptest.WaitFor(t, 10*time.Second, typ+" recorded delivered", func() bool {
			return delivery(t, app, ep.ID, typ).Status == domain.DeliveryDelivered
		})
		if st := delivery(t, app, ep.ID, typ); st.Attempts != 1 || st.LastStatusCode == nil || *st.LastStatusCode != 200 {
			t.Errorf("%s: delivery recorded %+v, want delivered after one attempt answered 200", typ, st)
		}
	}
	if d := rec.Of(domain.EventRetryIssued)[0]; d.Event.Data["allowance_used"] == nil || d.Event.Data["email_status"] != domain.EmailQueued {
		t.Errorf("retry.issued data %v, want allowance_used and email_status queued", d.Event.Data)
	}
	if n := len(otherRec.Deliveries()); n != 0 {
		t.Errorf("another organization's endpoint got %d deliveries of this retry", n)
	}
}

// TestWebhookRetriesUntilAnswered: an endpoint answering 500 twice and then 200 gets the
// event three times under one webhook-id, and the delivery ends delivered with its three
// attempts counted. A 429 with Retry-After: 1 holds the next attempt back at least a
// second, past the schedule's first wait of 100 ms.
func TestWebhookRetriesUntilAnswered(t *testing.T) {
	app := apptest.Start(t, apptest.Options{})
	org := app.SeedOrg(t, 5, fairMember("Cy Flaky", "cy@hooks.test"))
	rec := webhooktest.New(t, func(_ string, n int) (int, http.Header, time.Duration) {
		switch n {
		case 1:
			return http.StatusInternalServerError, nil, 0
		case 2:
			return http.StatusTooManyRequests, http.Header{"Retry-After": {"1"}}, 0
		}
		return http.StatusOK, nil, 0
	})
	ep := hookEndpoint(t, app, org, rec, domain.EventRetryIssued)
	if err := give(t.Context(), app.Workflows(), org, org.File.Organizations[0].Members[0]); err != nil {
		t.Fatal(err)
	}
	got := rec.Wait(t, 30*time.Second, "a 200", func(ds []webhooktest.Delivery) bool { return len(ds) == 3 })
	if got[0].MsgID != got[2].MsgID || !got[2].Signed {
		t.Fatalf("attempts %+v: want one webhook-id, signed", got)
	}
	if gap := got[2].At.Sub(got[1].At); gap < time.Second {
		t.Errorf("the attempt after Retry-After: 1 came %s after the 429, want at least 1s", gap)
	}
	apptest.WaitFor(t, 10*time.Second, "the delivery recorded delivered", func() bool {
		d := delivery(t, app, ep.ID, domain.EventRetryIssued)
		return d.Status == domain.DeliveryDelivered && d.Attempts == 3
	})
}

// TestWebhookGoneDisablesEndpoint: 410 Gone disables the endpoint at once, with the
// reason and a system audit event; the delivery stops, and later events create no
// deliveries for it.
func TestWebhookGoneDisablesEndpoint(t *testing.T) {
	app := apptest.Start(t, apptest.Options{})
	org := app.SeedOrg(t, 5, fairMember("Di Gone", "di@hooks.test"), fairMember("Ed Later", "ed@hooks.test"))
	rec := webhooktest.New(t, func(string, int) (int, http.Header, time.Duration) { return http.StatusGone, nil, 0 })
	ep := hookEndpoint(t, app, org, rec, domain.EventRetryIssued)
	members := org.File.Organizations[0].Members
	if err := give(t.Context(), app.Workflows(), org, members[0]); err != nil {
		t.Fatal(err)
	}
	apptest.WaitFor(t, 30*time.Second, "the endpoint disabled", func() bool { return !endpoint(t, app, ep.ID).Enabled })
	got := endpoint(t, app, ep.ID)
	if got.DisabledReason == nil || *got.DisabledReason != domain.EndpointDisabledGone {
		t.Errorf("disabled_reason %v, want %q", got.DisabledReason, domain.EndpointDisabledGone)
	}
	apptest.WaitFor(t, 10*time.Second, "the delivery canceled", func() bool {
		return delivery(t, app, ep.ID, domain.EventRetryIssued).Status == domain.DeliveryCanceled
	})
	var audits int
	if err := app.DB.NewRaw(`SELECT count(*) FROM audit_events WHERE action = ? AND target_id = ? AND outcome = ?`,
		store.AuditWebhookDisable, ep.ID, domain.EndpointDisabledGone).Scan(t.Context(), &audits); err != nil || audits != 1 {
		t.Errorf("audit events of the disabling: %d (%v), want 1", audits, err)
	}
	if err := give(t.Context(), app.Workflows(), org, members[1]); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := app.DB.NewRaw(`SELECT count(*) FROM webhook_deliveries WHERE endpoint_id = ?`, ep.ID).Scan(t.Context(), &n); err != nil || n != 1 {
		t.Errorf("deliveries to the disabled endpoint: %d (%v), want only the first", n, err)
	}
	if len(rec.Deliveries()) != 1 {
		t.Errorf("the gone endpoint got %d requests, want 1", len(rec.Deliveries()))
	}
}

// TestWebhookReceiverDownFailsAndDisables: with nothing listening, attempts go on for
// the schedule (WEBHOOK_RETRY_FOR, 3 s here) and the delivery then fails; the endpoint,
// failing that whole time, is disabled as failing with an audit event.
func TestWebhookReceiverDownFailsAndDisables(t *testing.T) {
	app := apptest.Start(t, apptest.Options{WebhookRetryFor: 3 * time.Second, WebhookFirstRetry: 200 * time.Millisecond})
	org := app.SeedOrg(t, 5, fairMember("Flo Down", "flo@hooks.test"))
	rec := webhooktest.New(t, nil)
	ep := hookEndpoint(t, app, org, rec, domain.EventRetryIssued)
	rec.Close()
	if err := give(t.Context(), app.Workflows(), org, org.File.Organizations[0].Members[0]); err != nil {
		t.Fatal(err)
	}
	apptest.WaitFor(t, 30*time.Second, "the delivery failed", func() bool {
		return delivery(t, app, ep.ID, domain.EventRetryIssued).Status == domain.DeliveryFailed
	})
	d := delivery(t, app, ep.ID, domain.EventRetryIssued)
	if d.Attempts < 2 || d.LastError == nil || d.LastStatusCode != nil {
		t.Errorf("delivery %+v: want several attempts, each with an error and no answer", d)
	}
	apptest.WaitFor(t, 10*time.Second, "the endpoint disabled", func() bool { return !endpoint(t, app, ep.ID).Enabled })
	got := endpoint(t, app, ep.ID)
	if got.Enabled || got.DisabledReason == nil || *got.DisabledReason != domain.EndpointDisabledFailing {
		t.Errorf("endpoint enabled=%v reason=%v, want disabled as %q", got.Enabled, got.DisabledReason, domain.EndpointDisabledFailing)
	}
	// What an operator sees: the failed attempts and the failed delivery counted.
	metrics := app.Scrape(t)
	for _, want := range []string{`retryd_webhook_attempts_total{outcome="retry"}`, `retryd_webhook_deliveries_total{outcome="failed"} 1`,
		`retryd_webhook_attempt_duration_seconds_count{outcome="retry"}`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// TestWebhookBacklogGauges: while an endpoint is down its undelivered deliveries show in
// the backlog gauges by endpoint, with their age; once delivered, the endpoint drops out.
func TestWebhookBacklogGauges(t *testing.T) {
	app := apptest.Start(t, apptest.Options{WebhookFirstRetry: 300 * time.Millisecond})
	org := app.SeedOrg(t, 5, fairMember("Hal Gauge", "hal@hooks.test"))
	down := true
	var mu sync.Mutex
	rec := webhooktest.New(t, func(string, int) (int, http.Header, time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		if down {
			return http.StatusBadGateway, nil, 0
		}
		return http.StatusOK, nil, 0
	})
	ep := hookEndpoint(t, app, org, rec, domain.EventRetryIssued)
	if err := give(t.Context(), app.Workflows(), org, org.File.Organizations[0].Members[0]); err != nil {
		t.Fatal(err)
	}
	series := `retryd_webhook_backlog{endpoint_id="` + ep.ID + `"} 1`
	apptest.WaitFor(t, 20*time.Second, "the backlog gauge", func() bool {
		m := app.Scrape(t)
		return strings.Contains(m, series) && strings.Contains(m, `retryd_webhook_backlog_age_seconds{endpoint_id="`+ep.ID+`"}`)
	})
	mu.Lock()
	down = false
	mu.Unlock()
	apptest.WaitFor(t, 30*time.Second, "the endpoint out of the backlog", func() bool {
		return !strings.Contains(app.Scrape(t), `retryd_webhook_backlog{endpoint_id="`+ep.ID+`"}`)
	})
}

// TestWebhookSlowReceiverTimesOut: an answer slower than WEBHOOK_TIMEOUT counts as a
// failed attempt, and the next attempt, answered in time, delivers.
func TestWebhookSlowReceiverTimesOut(t *testing.T) {
	app := apptest.Start(t, apptest.Options{WebhookTimeout: time.Second})
	org := app.SeedOrg(t, 5, fairMember("Gus Slow", "gus@hooks.test"))
	rec := webhooktest.New(t, func(_ string, n int) (int, http.Header, time.Duration) {
		if n == 1 {
			return http.StatusOK, nil, 3 * time.Second
		}
		return http.StatusOK, nil, 0
	})
	ep := hookEndpoint(t, app, org, rec, domain.EventRetryIssued)
	if err := give(t.Context(), app.Workflows(), org, org.File.Organizations[0].Members[0]); err != nil {
		t.Fatal(err)
	}
	apptest.WaitFor(t, 30*time.Second, "the delivery delivered", func() bool {
		return delivery(t, app, ep.ID, domain.EventRetryIssued).Status == domain.DeliveryDelivered
	})
	if d := delivery(t, app, ep.ID, domain.EventRetryIssued); d.Attempts != 2 {
		t.Errorf("attempts %d, want 2: the slow first and the answered second", d.Attempts)
	}
}

// hookFairCase: organization A's endpoint answers slower than WEBHOOK_TIMEOUT, so each
// of its deliveries holds one of the worker's two attempt slots for the whole timeout and
// comes back for another attempt soon after; organization B's endpoint answers at once.
// What counts is how many of A's attempts start between B's event and B's delivery.
func runHookFairCase(t *testing.T, app *apptest.App) (aBetween, aBacklog int) {
	t.Helper()
	const backlog = 16
	busy := make([]seed.Member, backlog)
	for i := range busy {
		busy[i] = fairMember(fmt.Sprintf("Slow %d", i), fmt.Sprintf("slow-%d@a.test", i))
	}
	orgA := app.SeedOrg(t, backlog, busy...)
	orgB := app.SeedOrg(t, 1, fairMember("Quick One", "quick@b.test"))
	slow := webhooktest.New(t, func(string, int) (int, http.Header, time.Duration) { return http.StatusOK, nil, 3 * time.Second })
	quick := webhooktest.New(t, nil)
	hookEndpoint(t, app, orgA, slow, domain.EventRetryIssued)
	hookEndpoint(t, app, orgB, quick, domain.EventRetryIssued)
	for _, m := range orgA.File.Organizations[0].Members {
		if err := give(t.Context(), app.Workflows(), orgA, m); err != nil {
			t.Fatal(err)
		}
	}
	// A's deliveries are all in the queue, being attempted two at a time.
	slow.Wait(t, 30*time.Second, "A's attempts under way", func(ds []webhooktest.Delivery) bool { return len(ds) >= 4 })
	given := time.Now()
	if err := give(t.Context(), app.Workflows(), orgB, orgB.File.Organizations[0].Members[0]); err != nil {
		t.Fatal(err)
	}
	got := quick.Wait(t, 2*time.Minute, "B's delivery", func(ds []webhooktest.Delivery) bool { return len(ds) > 0 })
	for _, d := range slow.Deliveries() {
		if d.At.After(given) && d.At.Before(got[0].At) {
			aBetween++
		}
	}
	return aBetween, backlog
}

// TestWebhookFairness: with fairness on (as `retryd dev` and production run the Temporal
// server), B's delivery waits for at most a few of A's attempts, not for A's backlog.
func TestWebhookFairness(t *testing.T) {
	app := apptest.Start(t, apptest.Options{WebhookConcurrency: 2, WebhookTimeout: time.Second})
	between, backlog := runHookFairCase(t, app)
	t.Logf("fairness on: %d of A's attempts started between B's event and its delivery (A has %d deliveries)", between, backlog)
	if between > backlog/2 {
		t.Fatalf("%d of A's attempts went before B's delivery, want at most %d: one organization's slow endpoint holds back another's", between, backlog/2)
	}
}

// TestWebhookQueueWithoutFairness is the control of TestWebhookFairness: on a dev server
// with fairness off the queue is first in, first out, and B's delivery waits behind more
// than half of A's backlog. Without it, a run forming no backlog would let the fairness
// test pass with fairness broken.
func TestWebhookQueueWithoutFairness(t *testing.T) {
	srv := unfairServer(t)
	app := apptest.Start(t, apptest.Options{WebhookConcurrency: 2, WebhookTimeout: time.Second, Temporal: srv})
	between, backlog := runHookFairCase(t, app)
	t.Logf("fairness off: %d of A's attempts started between B's event and its delivery (A has %d deliveries)", between, backlog)
	if between <= backlog/2 {
		t.Fatalf("without fairness only %d of A's attempts went before B's delivery, want more than %d: the run forms no backlog, so TestWebhookFairness proves nothing", between, backlog/2)
	}
}
