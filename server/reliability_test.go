package server_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"

	"github.com/headshotpro/retryd/internal/seed"
	"github.com/headshotpro/retryd/internal/store"
	"github.com/headshotpro/retryd/internal/tooling/apptest"
	"github.com/headshotpro/retryd/internal/tooling/assert"
	"github.com/headshotpro/retryd/server"
	"github.com/headshotpro/retryd/workflows"
)

// Each test here reproduces a way a retry or an Idempotency-Key used to be lost,
// doubled or stuck, against the real server, Postgres and the Temporal dev server.

// memberStart starts the member's shoot through the member API, as the emailed link does.
func memberStart(t *testing.T, app *apptest.App, memberID, shootID string) {
	t.Helper()
	token, _ := app.Links.Issue(memberID, shootID, time.Now())
	r := app.Do(t, "POST", "/api/v1/member/shoots/"+shootID+"/start", token, nil)
	assert.MustEqual(t, fmt.Sprintf("member start: %s", r.Body), r.Status, 200)
}

// waitClosed waits until the workflow's latest run is closed and returns its status.
func waitClosed(t *testing.T, app *apptest.App, workflowID string) enumspb.WorkflowExecutionStatus {
	t.Helper()
	var status enumspb.WorkflowExecutionStatus
	apptest.WaitFor(t, 60*time.Second, "workflow "+workflowID+" to close", func() bool {
		d, err := app.Temporal.DescribeWorkflow(context.Background(), workflowID, "")
		if err != nil {
			return false
		}
		status = d.RawResponse.WorkflowExecutionInfo.Status
		return status != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING
	})
	return status
}

// holdLock takes a table lock in its own transaction until release is called. EXCLUSIVE
// lets the API's pre-checks read while it blocks the workflow's writes, as a long
// migration or a stuck transaction would.
func holdLock(t *testing.T, app *apptest.App, table string) (release func()) {
	t.Helper()
	tx, err := app.DB.BeginTx(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = tx.ExecContext(context.Background(), "LOCK TABLE "+table+" IN EXCLUSIVE MODE")
	if err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	release = func() { once.Do(func() { _ = tx.Rollback() }) }
	t.Cleanup(release)
	return release
}

// A give answered 504 whose run an operator then terminated (nothing was committed):
// the same Idempotency-Key gives the retry once the database is back, instead of
// answering 503 for good.
func TestReliability_KeyOfTerminatedRunCompletes(t *testing.T) {
	app := apptest.Start(t, apptest.Options{GiveTimeout: 3 * time.Second})
	org := app.SeedOrg(t, 5, person("Tara Term", finished(5, 8)))
	id, shoots := seeded(org, 0)
	path := "/api/v1/admin/members/" + id + "/retries"
	body := map[string]any{"shoot_id": shoots[0]}

	release := holdLock(t, app, "retries")
	r := app.Do(t, "POST", path, org.AdminKey, body, "Idempotency-Key", "give-tara")
	if r.Status < 500 {
		t.Fatalf("status %d, want 5xx: with the shoot locked the give cannot finish: %s", r.Status, r.Body)
	}
	wid := workflows.RetryWorkflowID(shoots[0])
	if err := app.Temporal.TerminateWorkflow(context.Background(), wid, "", "operator: stuck"); err != nil {
		t.Fatalf("terminate %s: %v", wid, err)
	}
	release()

	r = app.Do(t, "POST", path, org.AdminKey, body, "Idempotency-Key", "give-tara")
	got := expectJSON[server.RetryDTO](t, r, 201)
	assert.MustEqual(t, "got.Status", got.Status, "pending")
	assert.MustEqual(t, "retries rows where shoot_id = ?", countRows(t, app, "retries", "shoot_id = ?", shoots[0]), 1)
	again := expectJSON[server.RetryDTO](t, app.Do(t, "POST", path, org.AdminKey, body, "Idempotency-Key", "give-tara"), 201)
	assert.MustEqual(t, "again.ID", again.ID, got.ID)
}

// A restart of a member without email answered 504: once the member started, the
// replayed key still answers the restart with its access link (before: 409
// active_shoot_exists, and the admin never got the link).
func TestReliability_RestartReplayKeepsAccessLink(t *testing.T) {
	app := apptest.Start(t, apptest.Options{GiveTimeout: 3 * time.Second})
	managed := seed.Member{Name: "Milo Managed", Kind: "managed", Shoots: []seed.Shoot{deletedShoot()}}
	org := app.SeedOrg(t, 5, managed)
	id, _ := seeded(org, 0)
	path := "/api/v1/admin/members/" + id + "/restarts"

	release := holdLock(t, app, "restarts")
	r := app.Do(t, "POST", path, org.AdminKey, nil, "Idempotency-Key", "restart-milo")
	if r.Status < 500 {
		t.Fatalf("status %d, want 5xx while the table is locked: %s", r.Status, r.Body)
	}
	release()
	wid := workflows.RestartWorkflowID(id)
	var newShoot string
	apptest.WaitFor(t, 30*time.Second, "the restart to commit", func() bool {
		rs, err := store.GetRestart(context.Background(), app.DB, pendingRestartID(t, app, id))
		if err != nil {
			return false
		}
		newShoot = rs.NewShootID
		return true
	})
	memberStart(t, app, id, newShoot)
	assert.MustEqual(t, "how the run closed", waitClosed(t, app, wid), enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED)

	got := expectJSON[server.RestartAnswer](t, app.Do(t, "POST", path, org.AdminKey, nil, "Idempotency-Key", "restart-milo"), 201)
	assert.MustEqual(t, "got.Status", got.Status, "started")
	if got.AccessLink == nil {
		t.Fatalf("the member without email gets the link on replay = %#v, want not nil", got.AccessLink)
	}

	// The bulk endpoint replays the same way.
	bulk := expectJSON[bulkAnswer](t, app.Do(t, "POST", "/api/v1/admin/restarts", org.AdminKey, map[string]any{"member_ids": []string{id}}, "Idempotency-Key", "bulk-milo"), 200)
	assert.MustEqual(t, "a fresh key is a new restart, refused while the shoot is active", bulk.Results[0].Outcome, "skipped")
}

func pendingRestartID(t *testing.T, app *apptest.App, memberID string) string {
	t.Helper()
	var id string
	_ = app.DB.NewRaw("SELECT id::text FROM restarts WHERE member_id = ? ORDER BY issued_at DESC LIMIT 1", memberID).Scan(context.Background(), &id)
	return id
}

// A give answered 504 whose member then started: the replay answers 201 with the
// started retry (before: 409 shoot_already_retried for the client's own retry).
func TestReliability_GiveReplayAfterStart(t *testing.T) {
	app := apptest.Start(t, apptest.Options{GiveTimeout: 3 * time.Second})
	org := app.SeedOrg(t, 5, person("Gia Give", finished(5, 8)))
	id, shoots := seeded(org, 0)
	path := "/api/v1/admin/members/" + id + "/retries"
	body := map[string]any{"shoot_id": shoots[0]}

	release := holdLock(t, app, "results")
	r := app.Do(t, "POST", path, org.AdminKey, body, "Idempotency-Key", "give-gia")
	if r.Status < 500 {
		t.Fatalf("status %d, want 5xx while the table is locked: %s", r.Status, r.Body)
	}
	release()
	apptest.WaitFor(t, 30*time.Second, "the reset", func() bool {
		return countRows(t, app, "retries", "shoot_id = ? AND stage = 'pending'", shoots[0]) == 1
	})
	memberStart(t, app, id, shoots[0])
	waitClosed(t, app, workflows.RetryWorkflowID(shoots[0]))

	got := expectJSON[server.RetryDTO](t, app.Do(t, "POST", path, org.AdminKey, body, "Idempotency-Key", "give-gia"), 201)
	assert.MustEqual(t, "got.Status", got.Status, "started")
}

// Two requests with one key and different bodies, sent together, however they
// interleave: one retry, one 422, and no workflow for the refused one.
func TestReliability_KeyReusedConcurrently(t *testing.T) {
	app := apptest.Start(t, apptest.Options{})
	var members []seed.Member
	for i := 0; i < 10; i++ {
		members = append(members, person(fmt.Sprintf("Race %02d", i), finished(5, 8)))
	}
	org := app.SeedOrg(t, 50, members...)
	for round := 0; round < 5; round++ {
		aID, aShoots := seeded(org, 2*round)
		bID, bShoots := seeded(org, 2*round+1)
		key := fmt.Sprintf("race-%d", round)
		rs := concurrently(t, 2, func(i int) (*apptest.Response, error) {
			id, shoot := aID, aShoots[0]
			if i == 1 {
				id, shoot = bID, bShoots[0]
			}
			return doConcurrent(app, "POST", "/api/v1/admin/members/"+id+"/retries", org.AdminKey, map[string]any{"shoot_id": shoot}, "Idempotency-Key", key)
		})
		statuses := map[int]int{rs[0].Status: 1}
		statuses[rs[1].Status]++
		assert.MustEqual(t, fmt.Sprintf("round %d: %s / %s", round, rs[0].Body, rs[1].Body), statuses, map[int]int{201: 1, 422: 1})
		loser := bShoots[0]
		if rs[1].Status == 201 {
			loser = aShoots[0]
		}
		assert.MustEqual(t, "retries rows where shoot_id = ?", countRows(t, app, "retries", "shoot_id = ?", loser), 0)
		expectNoWorkflow(t, app, loser)
	}
}

// The database was restored from a backup that predates a retry (or `retryd dev` was
// pointed at a fresh database): Temporal still has the closed run, the database has no
// retry, and the database decides. Before: 409 shoot_already_retried.
func TestReliability_DatabaseDecidesOverClosedRuns(t *testing.T) {
	app := apptest.Start(t, apptest.Options{})
	org := app.SeedOrg(t, 5, person("Rhea Restore", finished(5, 8)))
	id, shoots := seeded(org, 0)
	path := "/api/v1/admin/members/" + id + "/retries"
	first := expectJSON[server.RetryDTO](t, app.Do(t, "POST", path, org.AdminKey, map[string]any{"shoot_id": shoots[0]}), 201)
	memberStart(t, app, id, shoots[0])
	waitClosed(t, app, workflows.RetryWorkflowID(shoots[0]))

	// The backup: the shoot finished and never retried, the free retry unused.
	ctx := context.Background()
	for _, q := range []string{
		"DELETE FROM emails", "DELETE FROM retry_notes", "DELETE FROM retries",
		"UPDATE shoots SET status = 'active', retry_count = 0, completed_at = now() - interval '5 days', next_submission_free = false, started_at = NULL",
		"UPDATE members SET free_retry_available = true",
	} {
		_, err := app.DB.ExecContext(ctx, q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	second := expectJSON[server.RetryDTO](t, app.Do(t, "POST", path, org.AdminKey, map[string]any{"shoot_id": shoots[0]}), 201)
	if first.ID == second.ID {
		t.Fatalf("second.ID = %#v, want another value", second.ID)
	}
	assert.MustEqual(t, "second.Status", second.Status, "pending")
}

// A managed member without email, restarted, whose start signal is lost: no email, no
// reminders, and still the workflow finds the start, so the member's next restart is
// not refused forever.
func TestReliability_LostStartSignalFound(t *testing.T) {
	app := apptest.Start(t, apptest.Options{StartCheck: time.Second})
	managed := seed.Member{Name: "Lou Lost", Kind: "managed", Shoots: []seed.Shoot{deletedShoot()}}
	org := app.SeedOrg(t, 5, managed)
	id, _ := seeded(org, 0)
	got := expectJSON[server.RestartAnswer](t, app.Do(t, "POST", "/api/v1/admin/members/"+id+"/restarts", org.AdminKey, nil), 201)
	newShoot := got.NewShootID

	// The start is recorded, but its signal never reaches the workflow.
	_, err := store.StartShoot(context.Background(), app.DB, id, newShoot, "req-lost", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	assert.MustEqual(t, "how the restart run closed", waitClosed(t, app, workflows.RestartWorkflowID(id)), enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED)
}

// The API records a member's start and dies before it signals the workflow (the fault
// suite's kill -9 of the API did this). The member's page sends the start again, as any
// client does after a dropped connection: that repeat must carry the signal, or the
// workflow waits for its next check, an hour by default. Before, a repeat found nothing
// pending and signalled nothing.
func TestReliability_RepeatedStartResendsLostSignal(t *testing.T) {
	app := apptest.Start(t, apptest.Options{StartCheck: time.Hour, Reminders: []time.Duration{24 * time.Hour}})
	org := app.SeedOrg(t, 5, person("Rhea Repeat", finished(5, 8)))
	id, shoots := seeded(org, 0)
	expectJSON[server.RetryDTO](t, app.Do(t, "POST", "/api/v1/admin/members/"+id+"/retries", org.AdminKey,
		map[string]any{"shoot_id": shoots[0]}), 201)

	// The start is recorded, but its signal never reaches the workflow.
	if _, err := store.StartShoot(context.Background(), app.DB, id, shoots[0], "req-lost", time.Now()); err != nil {
		t.Fatal(err)
	}
	token, _ := app.Links.Issue(id, shoots[0], time.Now())
	r := app.Do(t, "POST", "/api/v1/member/shoots/"+shoots[0]+"/start", token, nil)
	assert.MustEqual(t, "repeated start status", r.Status, 200)
	assert.MustEqual(t, "how the retry run closed", waitClosed(t, app, workflows.RetryWorkflowID(shoots[0])), enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED)
}

// The database is locked for longer than the two minutes the database steps used to be
// given (a long migration, a stuck transaction). Before, the runs failed: the member
// whose reservation had committed kept the shoot with its allowance spent and could never
// be retried, and every replay of either key answered 503 for good. Now the steps wait
// the outage out, and the same keys answer 201 once it is over.
func TestReliability_OutageLongerThanOldBudget(t *testing.T) {
	if testing.Short() {
		t.Skip("takes the length of the outage, over two minutes; runs without -short")
	}
	app := apptest.Start(t, apptest.Options{GiveTimeout: 3 * time.Second})
	org := app.SeedOrg(t, 5, person("Olga Outage", finished(5, 8)), person("Omar Outage", finished(5, 8)))
	olga, olgaShoots := seeded(org, 0)
	omar, omarShoots := seeded(org, 1)
	give := func(member, shoot, key string) *apptest.Response {
		return app.Do(t, "POST", "/api/v1/admin/members/"+member+"/retries", org.AdminKey, map[string]any{"shoot_id": shoot}, "Idempotency-Key", key)
	}

	// Olga: nothing can be reserved. Omar: reserved, but the results cannot be deleted.
	releaseRetries := holdLock(t, app, "retries")
	r := give(olga, olgaShoots[0], "give-olga")
	if r.Status < 500 {
		t.Fatalf("status %d, want 5xx while the table is locked: %s", r.Status, r.Body)
	}
	releaseRetries()
	releaseResults := holdLock(t, app, "results")
	r = give(omar, omarShoots[0], "give-omar")
	if r.Status < 500 {
		t.Fatalf("status %d, want 5xx while the table is locked: %s", r.Status, r.Body)
	}
	releaseResults()
	releaseRetries = holdLock(t, app, "retries")
	releaseResults = holdLock(t, app, "results")
	// The outage itself: the locks are held this long, past the old two-minute budget.
	time.Sleep(130 * time.Second)
	releaseRetries()
	releaseResults()

	for _, m := range []struct{ id, shoot, key string }{{olga, olgaShoots[0], "give-olga"}, {omar, omarShoots[0], "give-omar"}} {
		var got server.RetryDTO
		apptest.WaitFor(t, 60*time.Second, "a final answer for "+m.key, func() bool {
			r := give(m.id, m.shoot, m.key)
			if r.Status >= 500 {
				return false
			}
			got = expectJSON[server.RetryDTO](t, r, 201)
			return true
		})
		assert.MustEqual(t, m.key, got.Status, "pending")
		assert.MustEqual(t, m.key, countRows(t, app, "results", "shoot_id = ?", m.shoot), 0)
		assert.MustEqual(t, m.key, countRows(t, app, "shoots", "id = ? AND status = 'onboarding' AND retry_count = 1", m.shoot), 1)
		assert.MustEqual(t, m.key, countRows(t, app, "retries", "shoot_id = ? AND status = 'pending' AND stage = 'pending'", m.shoot), 1)
	}
}

// Gives for several shoots of one member race; one wins and the others are refused inside
// the workflow (the pre-check passed for all). A refused give leaves no note behind:
// before, each refused request had already stored its note under a retry id that never
// came to exist.
func TestReliability_RefusedGivesLeaveNoNotes(t *testing.T) {
	app := apptest.Start(t, apptest.Options{})
	org := app.SeedOrg(t, 5, person("Nell Notes", finished(5, 8), finished(6, 8), finished(7, 8), finished(8, 8), finished(9, 8), finished(10, 8)))
	id, shoots := seeded(org, 0)
	rs := concurrently(t, len(shoots), func(i int) (*apptest.Response, error) {
		return doConcurrent(app, "POST", "/api/v1/admin/members/"+id+"/retries", org.AdminKey,
			map[string]any{"shoot_id": shoots[i], "note": fmt.Sprintf("note %d", i)})
	})
	created := 0
	for _, r := range rs {
		if r.Status == 201 {
			created++
		} else {
			expectProblem(t, r, 409, "retry_pending")
		}
	}
	assert.MustEqual(t, "created", created, 1)
	assert.MustEqual(t, "retries rows where member_id = ?", countRows(t, app, "retries", "member_id = ?", id), 1)
	assert.MustEqual(t, "only the given retry keeps its note", countRows(t, app, "retry_notes", "true"), 1)
}

// An Idempotency-Key used again after it expired (24 h) is a new request: it gives a new
// retry instead of finding the one the key made a day earlier (which answered 201 with
// the old retry, or 422 for another shoot).
func TestReliability_ExpiredKeyIsNew(t *testing.T) {
	app := apptest.Start(t, apptest.Options{})
	org := app.SeedOrg(t, 5, person("Eve Expire", finished(5, 8)), person("Eli Expire", finished(5, 8)))
	eve, eveShoots := seeded(org, 0)
	eli, eliShoots := seeded(org, 1)
	first := expectJSON[server.RetryDTO](t, app.Do(t, "POST", "/api/v1/admin/members/"+eve+"/retries", org.AdminKey,
		map[string]any{"shoot_id": eveShoots[0]}, "Idempotency-Key", "daily-key"), 201)
	_, err := app.DB.ExecContext(context.Background(), "UPDATE idempotency_keys SET created_at = created_at - interval '25 hours'")
	if err != nil {
		t.Fatal(err)
	}

	second := expectJSON[server.RetryDTO](t, app.Do(t, "POST", "/api/v1/admin/members/"+eli+"/retries", org.AdminKey,
		map[string]any{"shoot_id": eliShoots[0]}, "Idempotency-Key", "daily-key"), 201)
	if first.ID == second.ID {
		t.Fatalf("second.ID = %#v, want another value", second.ID)
	}
	assert.MustEqual(t, "second.ShootID", second.ShootID, eliShoots[0])
	assert.MustEqual(t, "retries rows where true", countRows(t, app, "retries", "true"), 2)
}
