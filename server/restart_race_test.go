package server_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/headshotpro/retryd/internal/seed"
	"github.com/headshotpro/retryd/internal/tooling/apptest"
	"github.com/headshotpro/retryd/server"
)

// restartRace holds two requests with one Idempotency-Key in the order that once stored
// a false refusal, per member: the first request, having found no restart of its own,
// waits before its rule check until the second has also found none; the second then
// waits until the first has created the restart, and checks the rules only after. The
// rules then see the first's new shoot as an open one.
type restartRace struct {
	t     *testing.T
	app   *apptest.App
	mu    sync.Mutex
	calls map[string]int
	// second[m] is closed when the second request for member m found no restart.
	second map[string]chan struct{}
	// first[m] is closed when the first request for member m waits.
	first map[string]chan struct{}
}

func newRestartRace(t *testing.T) *restartRace {
	return &restartRace{t: t, calls: map[string]int{}, second: map[string]chan struct{}{}, first: map[string]chan struct{}{}}
}

func (r *restartRace) chans(memberID string) (first, second chan struct{}) {
	if r.first[memberID] == nil {
		r.first[memberID], r.second[memberID] = make(chan struct{}), make(chan struct{})
	}
	return r.first[memberID], r.second[memberID]
}

// firstWaiting is closed once the first request for the member waits.
func (r *restartRace) firstWaiting(memberID string) <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	first, _ := r.chans(memberID)
	return first
}

func (r *restartRace) hook(memberID string) {
	r.mu.Lock()
	r.calls[memberID]++
	n := r.calls[memberID]
	first, second := r.chans(memberID)
	r.mu.Unlock()
	switch n {
	case 1:
		close(first)
		select {
		case <-second:
		case <-time.After(30 * time.Second):
			r.t.Errorf("member %s: the second request never came", memberID)
		}
	case 2:
		close(second)
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			n, err := r.app.DB.NewSelect().Table("restarts").Where("member_id = ?", memberID).Count(context.Background())
			if err == nil && n > 0 {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		r.t.Errorf("member %s: the first request created no restart", memberID)
	}
}

// TestRestartRaceSameKey: the second of two requests with one Idempotency-Key, which
// finds no restart of its own and then the first's new shoot, answers the first's
// restart (201), not 409 active_shoot_exists; and so does every replay of the key.
func TestRestartRaceSameKey(t *testing.T) {
	race := newRestartRace(t)
	app := apptest.Start(t, apptest.Options{Server: func(s *server.Server) { server.SetBeforeRestartCheck(s, race.hook) }})
	race.app = app
	org := app.SeedOrg(t, 5, seed.Member{Name: "Rhea Race", Kind: "managed", Shoots: []seed.Shoot{deletedShoot()}})
	member, _ := seeded(org, 0)
	path := "/api/v1/admin/members/" + member + "/restarts"

	answers := make([]*apptest.Response, 2)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	send := func(i int) {
		defer wg.Done()
		answers[i], errs[i] = doConcurrent(app, "POST", path, org.AdminKey, nil, "Idempotency-Key", "race-1")
	}
	wg.Add(2)
	go send(0)
	<-race.firstWaiting(member)
	go send(1)
	wg.Wait()

	ids := map[string]bool{}
	for i, r := range answers {
		if errs[i] != nil {
			t.Fatalf("request %d: %v", i+1, errs[i])
		}
		if r.Status != 201 {
			t.Fatalf("request %d of two with one key answered %d, want 201 with the restart: %s", i+1, r.Status, r.Body)
		}
		a := expectJSON[server.RestartAnswer](t, r, 201)
		verifyLink(t, app, a.AccessLink, member, a.NewShootID)
		ids[a.ID] = true
	}
	if len(ids) != 1 {
		t.Fatalf("restart ids %v, want one", ids)
	}
	for range 2 {
		// As the two were sent: doConcurrent sends a nil body as JSON null.
		again := app.Do(t, "POST", path, org.AdminKey, "null", "Idempotency-Key", "race-1")
		if again.Status != 201 || !ids[expectJSON[server.RestartAnswer](t, again, 201).ID] {
			t.Fatalf("replay: %d %s, want 201 with restart %v", again.Status, again.Body, ids)
		}
	}
	if n := countRows(t, app, "restarts", "member_id = ?", member); n != 1 {
		t.Fatalf("%d restarts, want 1", n)
	}
}

// TestBulkRestartRaceSameKey: the same for a bulk call sent twice with one key: every
// member is answered restarted, with the same restart, in both answers and replays;
// none is skipped as active_shoot_exists.
func TestBulkRestartRaceSameKey(t *testing.T) {
	race := newRestartRace(t)
	app := apptest.Start(t, apptest.Options{Server: func(s *server.Server) { server.SetBeforeRestartCheck(s, race.hook) }})
	race.app = app
	org := app.SeedOrg(t, 5,
		seed.Member{Name: "Bo Race", Kind: "managed", Shoots: []seed.Shoot{deletedShoot()}},
		seed.Member{Name: "Bea Race", Email: apptest.Ptr("bea.race@acme.test"), Kind: "managed", Shoots: []seed.Shoot{deletedShoot()}},
	)
	bo, _ := seeded(org, 0)
	bea, _ := seeded(org, 1)
	body := map[string]any{"member_ids": []string{bo, bea}}

	answers := make([]*apptest.Response, 2)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	send := func(i int) {
		defer wg.Done()
		answers[i], errs[i] = doConcurrent(app, "POST", "/api/v1/admin/restarts", org.AutomationKey, body, "Idempotency-Key", "race-bulk")
	}
	wg.Add(2)
	go send(0)
	<-race.firstWaiting(bo)
	<-race.firstWaiting(bea)
	go send(1)
	wg.Wait()

	restartOf := map[string]string{}
	check := func(what string, r *apptest.Response) {
		t.Helper()
		results := expectJSON[bulkAnswer](t, r, 200).Results
		if len(results) != 2 {
			t.Fatalf("%s: %s", what, r.Body)
		}
		for _, res := range results {
			if res.Outcome != "restarted" || res.Restart == nil {
				t.Fatalf("%s: member %s is %s (%s), want restarted: %s", what, res.MemberID, res.Outcome, str(res.Code), r.Body)
			}
			if prev, ok := restartOf[res.MemberID]; ok && prev != res.Restart.ID {
				t.Fatalf("%s: member %s restart %s, earlier %s", what, res.MemberID, res.Restart.ID, prev)
			}
			restartOf[res.MemberID] = res.Restart.ID
		}
	}
	for i, r := range answers {
		if errs[i] != nil {
			t.Fatalf("request %d: %v", i+1, errs[i])
		}
		check("answer "+string(rune('1'+i)), r)
	}
	check("replay", app.Do(t, "POST", "/api/v1/admin/restarts", org.AutomationKey, body, "Idempotency-Key", "race-bulk"))
	if n := countRows(t, app, "restarts", "org_id = ?", org.ID); n != 2 {
		t.Fatalf("%d restarts, want 2", n)
	}
}
