package relay_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/headshotpro/retryd/internal/domain"
	"github.com/headshotpro/retryd/internal/relay"
	"github.com/headshotpro/retryd/internal/seed"
	"github.com/headshotpro/retryd/internal/store"
	"github.com/headshotpro/retryd/internal/tooling/apptest"
	"github.com/headshotpro/retryd/internal/tooling/testenv"
	"github.com/headshotpro/retryd/workflows"
)

// starter records the deliveries handed to it; while failing is set it refuses them,
// as a Temporal frontend that is away would.
type starter struct {
	mu      sync.Mutex
	started map[string]int
	failing bool
}

func (s *starter) DeliverWebhook(_ context.Context, d workflows.WebhookDelivery, _ workflows.WebhookSchedule) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failing {
		return errors.New("temporal is away")
	}
	s.started[d.ID]++
	return nil
}

func (s *starter) set(failing bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failing = failing
}

func (s *starter) counts() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int{}
	for k, v := range s.started {
		out[k] = v
	}
	return out
}

// orgWithEndpoint seeds an organization with one endpoint and returns its ids.
func orgWithEndpoint(t *testing.T, db *bun.DB) (orgID, endpointID string) {
	t.Helper()
	ctx := context.Background()
	orgID = uuid.NewString()
	if _, err := seed.Load(ctx, db, &seed.File{Organizations: []seed.Organization{{ID: orgID, Name: "Relay", CreditBalance: 1,
		Admins: []seed.Admin{{ID: uuid.NewString(), Email: "r@relay.test", Name: "R", Role: "owner"}}}}}); err != nil {
		t.Fatal(err)
	}
	ep, err := store.CreateWebhookEndpoint(ctx, db, store.NewWebhookEndpoint{OrgID: orgID, URL: "https://hooks.example.com/r",
		EventTypes: domain.EventTypes(), Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}, store.Actor{Kind: store.ActorSystem, ID: "test"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return orgID, ep.ID
}

func record(t *testing.T, db *bun.DB, orgID string, n int) []string {
	t.Helper()
	ids := make([]string, n)
	for i := range ids {
		ids[i] = uuid.NewString()
		if err := store.RecordEvent(context.Background(), db, store.Event{ID: ids[i], OrgID: orgID, Type: domain.EventRetryIssued,
			OccurredAt: time.Now(), Data: map[string]any{"retry_id": ids[i]}}); err != nil {
			t.Fatal(err)
		}
	}
	return ids
}

func undispatched(t *testing.T, db *bun.DB) int {
	t.Helper()
	var n int
	if err := db.NewRaw(`SELECT count(*) FROM webhook_deliveries WHERE dispatched_at IS NULL`).Scan(context.Background(), &n); err != nil {
		t.Fatal(err)
	}
	return n
}

func run(t *testing.T, r *relay.Relay) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); r.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

// TestRelayWakesOnCommit: with polling set to an hour, a committed delivery is still
// handed over: the commit's notification wakes the relay.
func TestRelayWakesOnCommit(t *testing.T) {
	db, _ := testenv.Database(t)
	orgID, _ := orgWithEndpoint(t, db)
	s := &starter{started: map[string]int{}}
	r := relay.New(db, s, workflows.WebhookSchedule{}, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	r.PollInterval = time.Hour
	run(t, r)
	time.Sleep(200 * time.Millisecond) // let it listen; a delivery before would be found by its first look anyway
	record(t, db, orgID, 3)
	apptest.WaitFor(t, 10*time.Second, "three deliveries handed over", func() bool { return len(s.counts()) == 3 })
	if n := undispatched(t, db); n != 0 {
		t.Errorf("%d deliveries left unmarked", n)
	}
}

// TestRelayKeepsWhatItCouldNotHandOver: while Temporal refuses, deliveries stay in the
// outbox unmarked; once it answers, each is handed over, and two relays side by side
// (two worker processes) hand each over once.
func TestRelayKeepsWhatItCouldNotHandOver(t *testing.T) {
	db, _ := testenv.Database(t)
	orgID, _ := orgWithEndpoint(t, db)
	s := &starter{started: map[string]int{}, failing: true}
	for range 2 {
		r := relay.New(db, s, workflows.WebhookSchedule{}, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
		r.PollInterval = 50 * time.Millisecond
		run(t, r)
	}
	ids := record(t, db, orgID, 150)
	time.Sleep(300 * time.Millisecond)
	if n := undispatched(t, db); n != len(ids) {
		t.Fatalf("%d of %d deliveries unmarked while Temporal refused, want all", n, len(ids))
	}
	s.set(false)
	apptest.WaitFor(t, 20*time.Second, "every delivery handed over", func() bool { return undispatched(t, db) == 0 })
	got := s.counts()
	if len(got) != len(ids) {
		t.Fatalf("%d deliveries handed over, want %d", len(got), len(ids))
	}
	for id, n := range got {
		if n != 1 {
			t.Errorf("delivery %s handed over %d times, want once", id, n)
		}
	}
}

// TestRelayTakesOverADeadRelaysLease: rows another relay leased and never marked (it died
// mid-batch) wait out the lease, then are handed over.
func TestRelayTakesOverADeadRelaysLease(t *testing.T) {
	db, _ := testenv.Database(t)
	orgID, _ := orgWithEndpoint(t, db)
	ids := record(t, db, orgID, 2)
	if _, err := db.NewRaw(`UPDATE webhook_deliveries SET dispatch_lease_until = now() + interval '1 hour' WHERE event_id = ?`, ids[0]).Exec(context.Background()); err != nil {
		t.Fatal(err)
	}
	s := &starter{started: map[string]int{}}
	r := relay.New(db, s, workflows.WebhookSchedule{}, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	r.PollInterval = 50 * time.Millisecond
	run(t, r)
	apptest.WaitFor(t, 10*time.Second, "the unleased delivery handed over", func() bool { return len(s.counts()) == 1 })
	time.Sleep(200 * time.Millisecond)
	if n := len(s.counts()); n != 1 {
		t.Fatalf("%d deliveries handed over while one was leased, want 1", n)
	}
	if _, err := db.NewRaw(`UPDATE webhook_deliveries SET dispatch_lease_until = now() - interval '1 second' WHERE event_id = ?`, ids[0]).Exec(context.Background()); err != nil {
		t.Fatal(err)
	}
	apptest.WaitFor(t, 10*time.Second, "the expired lease's delivery handed over", func() bool { return len(s.counts()) == 2 })
}

// leaseCounter counts the relay's looks for deliveries to hand over.
type leaseCounter struct{ n atomic.Int64 }

func (c *leaseCounter) BeforeQuery(ctx context.Context, e *bun.QueryEvent) context.Context {
	if strings.Contains(e.Query, "SET dispatch_lease_until = ") && strings.Contains(e.Query, "RETURNING") {
		c.n.Add(1)
	}
	return ctx
}

func (c *leaseCounter) AfterQuery(context.Context, *bun.QueryEvent) {}

// TestRelayLooksOncePerWake: a burst of committed events, each notifying, costs the relay
// a few looks, not one per event. (Postgres folds notifications only within one
// transaction, and each wake read one of them: a burst of 200 events made 200 looks in
// every worker.)
func TestRelayLooksOncePerWake(t *testing.T) {
	db, url := testenv.Database(t)
	orgID, _ := orgWithEndpoint(t, db)
	opened, err := store.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = opened.Close() })
	looks := &leaseCounter{}
	relayDB := opened.WithQueryHook(looks)
	s := &starter{started: map[string]int{}}
	r := relay.New(relayDB, s, workflows.WebhookSchedule{}, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	r.PollInterval = time.Hour
	run(t, r)
	time.Sleep(200 * time.Millisecond)
	before := looks.n.Load()
	const events = 200
	record(t, db, orgID, events)
	apptest.WaitFor(t, 20*time.Second, "every delivery handed over", func() bool { return len(s.counts()) == events })
	time.Sleep(300 * time.Millisecond)
	if n := looks.n.Load() - before; n > events/4 {
		t.Errorf("%d looks for %d events committed one after another, want at most %d", n, events, events/4)
	} else {
		t.Logf("%d looks for %d events", n, events)
	}
}
