package faults

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/headshotpro/retryd/internal/domain"
	"github.com/headshotpro/retryd/internal/mailer"

	"github.com/headshotpro/retryd/internal/store"
)

// TestPostgresRestartSendsNoEmailTwice crash-restarts the suite's Postgres while the
// first emails of a burst of retries are in flight: the local endpoint has accepted them
// and their answers are on the way back to the worker, so recording the message ids meets
// a database that is gone. The activities retry until Postgres is back; every member must
// get exactly one email. (The full run found two or three duplicates per Postgres crash
// restart; killing the worker or Temporal rarely hit this window.)
//
// The only staging is a gate between the worker and the local endpoint: the endpoint
// accepts each message at once and the gate holds its answer a few seconds, so the crash
// lands between the provider's 202 and the worker's write for many emails at once, not
// only for the one or two a crash would catch by chance.
func TestPostgresRestartSendsNoEmailTwice(t *testing.T) {
	const members = 12
	cli, root := clusterNeeds(t)
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	gate := newMailGate()
	defer gate.close()
	// No reminder falls due during the test: every member is owed exactly one email.
	c, err := StartCluster(ctx, Options{Dir: dir, RepoRoot: root, TemporalCLI: cli, Reminders: "1h", MailVia: gate.via})
	if err != nil {
		t.Fatalf("start cluster: %v", err)
	}
	defer c.Close()
	defer func() {
		if t.Failed() || os.Getenv("RETRYD_FAULTS_LOGS") != "" {
			for _, name := range []string{"api.log", "worker.log"} {
				if b, err := os.ReadFile(filepath.Join(dir, name)); err == nil {
					t.Logf("---- %s (tail)\n%s", name, tail(b, 6000))
				}
			}
		}
	}()
	pop := NewPopulation(1, members, 0)
	if err := c.Seed(ctx, pop.File); err != nil {
		t.Fatal(err)
	}

	// Every give at once, as a client would; each answers 201 once its retry is
	// committed, and the first emails follow right behind.
	client := &Client{BaseURL: c.APIURL, HTTP: &http.Client{Timeout: 20 * time.Second}, Deadline: 2 * time.Minute}
	var gives sync.WaitGroup
	for _, m := range pop.Individuals {
		gives.Go(func() {
			client.Do(ctx, OpGive, []string{m.ID}, http.MethodPost, "/api/v1/admin/members/"+m.ID+"/retries",
				m.Org.AdminKey, "give-"+m.ID, map[string]string{"shoot_id": m.ShootID, "reason": "poor_quality"})
		})
	}
	// The crash comes once every first email is held, or once the oldest held answer
	// has waited 6 s (the mail client gives up after 10 s, and a send whose answer never
	// came is the one duplicate no activity can prevent).
	held := gate.waitHeld(ctx, members, 6*time.Second)
	if err := c.Postgres.Crash(ctx); err != nil {
		t.Fatal(err)
	}
	gate.release()
	sleep(ctx, 2*time.Second)
	if err := c.Postgres.Start(ctx); err != nil {
		t.Fatal(err)
	}
	gives.Wait()
	t.Logf("%d first emails accepted with their answers held when Postgres crashed", held)
	for _, o := range client.Outcomes() {
		if o.Status != http.StatusCreated {
			t.Fatalf("give for %v: status %d %s %s, want 201", o.Members, o.Status, o.Code, o.Err)
		}
	}
	if held < members/3 {
		t.Fatalf("only %d of %d emails were in flight at the crash: the test did not test the window", held, members)
	}
	if waitSettled(ctx, c, 2*time.Minute).IsZero() {
		t.Fatalf("emails still in motion 2 minutes after Postgres came back")
	}

	mailbox := newMailLog(c.APIURL, c.MailboxToken)
	mailbox.snapshot(ctx)
	seen := mailbox.messages()
	got := map[string]int{}
	for _, m := range seen {
		for _, to := range m.To {
			got[to+"|"+m.Subject]++
		}
	}
	duplicates := 0
	for _, m := range pop.Individuals {
		n := got[m.Email+"|"+mailer.SubjectRetry]
		if n > 1 {
			duplicates += n - 1
		}
		if n == 0 {
			t.Errorf("%s got no email", m.Email)
		}
	}
	t.Logf("%d messages for %d members, %d duplicate", len(seen), members, duplicates)
	if duplicates > 0 {
		t.Errorf("duplicate emails = %d, want 0", duplicates)
	}

	// Postgres says every first email is sent, with the id of a message the endpoint has.
	db, err := store.Open(ctx, c.PGURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, `SELECT r.id, r.email_status, coalesce(e.status, ''), coalesce(e.message_id, '')
		FROM retries r LEFT JOIN emails e ON e.subject_id = r.id AND e.seq = 0`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	retries := 0
	for rows.Next() {
		var id, status, emailStatus, messageID string
		if err := rows.Scan(&id, &status, &emailStatus, &messageID); err != nil {
			t.Fatal(err)
		}
		retries++
		if _, ok := seen[messageID]; status != domain.EmailSent || emailStatus != "sent" || !ok {
			t.Errorf("retry %s: email_status %s, first email %q with message %q (in the mailbox: %v)", id, status, emailStatus, messageID, ok)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if retries != members {
		t.Errorf("retries = %d, want %d", retries, members)
	}
}

// mailGate stands between the worker and the local mail endpoint. Each send goes through
// at once, so the endpoint accepts and keeps the message; while the gate is shut, the
// answer waits until release.
type mailGate struct {
	srv *httptest.Server

	mu        sync.Mutex
	target    string // the endpoint's URL
	shut      bool
	held      int
	firstHeld time.Time
	opened    chan struct{}
}

func newMailGate() *mailGate {
	g := &mailGate{shut: true, opened: make(chan struct{})}
	g.srv = httptest.NewServer(http.HandlerFunc(g.serve))
	return g
}

// via is Options.MailVia: the worker sends to the gate, the gate to endpoint.
func (g *mailGate) via(endpoint string) string {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.target = endpoint
	return g.srv.URL
}

func (g *mailGate) serve(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	target := g.target
	g.mu.Unlock()
	req, err := http.NewRequestWithContext(r.Context(), r.Method, target+r.URL.RequestURI(), r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	req.Header = r.Header.Clone()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	if resp.StatusCode == http.StatusAccepted {
		g.mu.Lock()
		shut := g.shut
		if shut {
			g.held++
			if g.firstHeld.IsZero() {
				g.firstHeld = time.Now()
			}
		}
		g.mu.Unlock()
		if shut {
			select {
			case <-g.opened:
			case <-r.Context().Done():
				return
			}
		}
	}
	for k, vs := range resp.Header {
		w.Header()[k] = vs
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, bytes.NewReader(body))
}

// waitHeld waits until n answers are held, or the oldest has been held for limit, and
// returns how many are held; it gives up after a minute.
func (g *mailGate) waitHeld(ctx context.Context, n int, limit time.Duration) int {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for ctx.Err() == nil {
		g.mu.Lock()
		held, first := g.held, g.firstHeld
		g.mu.Unlock()
		if held >= n || (!first.IsZero() && time.Since(first) >= limit) {
			return held
		}
		sleep(ctx, 20*time.Millisecond)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.held
}

// release opens the gate for good: held answers go out, later ones pass at once.
func (g *mailGate) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.shut {
		g.shut = false
		close(g.opened)
	}
}

func (g *mailGate) close() {
	g.release()
	g.srv.Close()
}
