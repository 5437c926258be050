package server_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/headshotpro/retryd/internal/seed"
	"github.com/headshotpro/retryd/internal/tooling/apptest"
	"github.com/headshotpro/retryd/server"
)

// TestConcurrentGivesOfOneShoot: 20 admins' clicks at once give one retry, one email and
// consume the allowance once; the rest are refused with a conflict.
func TestConcurrentGivesOfOneShoot(t *testing.T) {
	app := apptest.Start(t, apptest.Options{})
	m := person("Cleo Concurrent", finished(5, 8))
	m.RetryCredits = 3
	org := app.SeedOrg(t, 5, m)
	id, shoots := seeded(org, 0)

	const n = 20
	responses := concurrently(t, n, func(int) (*apptest.Response, error) {
		return doConcurrent(app, "POST", "/api/v1/admin/members/"+id+"/retries", org.AdminKey, map[string]any{"shoot_id": shoots[0]})
	})

	created, conflicts := 0, map[string]int{}
	var retryID string
	for _, r := range responses {
		switch r.Status {
		case 201:
			created++
			retryID = apptest.Decode[server.RetryDTO](t, r).ID
		case 409:
			code := codeOf(t, r)
			if code != "retry_pending" && code != "shoot_already_retried" {
				t.Fatalf("409 with code %s: %s", code, r.Body)
			}
			expectProblem(t, r, 409, code)
			conflicts[code]++
		default:
			t.Fatalf("concurrent give answered %d: %s", r.Status, r.Body)
		}
	}
	if created != 1 {
		t.Fatalf("%d gives succeeded, want exactly 1 (conflicts %v)", created, conflicts)
	}
	t.Logf("1 created, conflicts %v", conflicts)

	apptest.WaitFor(t, 10*time.Second, "the retry email", func() bool { return app.Mailbox.Len() >= 1 })
	apptest.Holds(t, 2*time.Second, "one email for the one retry", func() bool { return app.Mailbox.Len() == 1 })
	if got := countRows(t, app, "retries", "shoot_id = ?", shoots[0]); got != 1 {
		t.Fatalf("retries rows = %d, want 1", got)
	}
	d := memberDetail(t, app, org.AdminKey, id)
	if a := d.Allowance; a.RetryCredits != 2 || !a.FreeRetryAvailable {
		t.Fatalf("allowance = %+v, want one credit consumed", a)
	}
	if pr := d.PendingRetry; pr == nil || pr.ID != retryID {
		t.Fatalf("pending_retry = %+v, want %s", pr, retryID)
	}
	if sh := d.Shoots[0]; sh.Status != "onboarding" || sh.RetryCount != 1 || sh.ResultCount != 0 {
		t.Fatalf("shoot = %+v", sh)
	}
}

// TestConcurrentGivesOfManyMembers: gives for different members do not block each other.
func TestConcurrentGivesOfManyMembers(t *testing.T) {
	app := apptest.Start(t, apptest.Options{})
	const n = 10
	members := make([]seed.Member, n)
	for i := range n {
		members[i] = person(fmt.Sprintf("Member %02d", i), finished(float64(i+1), 2))
	}
	org := app.SeedOrg(t, 5, members...)

	responses := concurrently(t, n, func(i int) (*apptest.Response, error) {
		id, shoots := seeded(org, i)
		return doConcurrent(app, "POST", "/api/v1/admin/members/"+id+"/retries", org.AdminKey, map[string]any{"shoot_id": shoots[0]})
	})
	ids := map[string]bool{}
	for i, r := range responses {
		body := expectJSON[server.RetryDTO](t, r, 201)
		if _, shoots := seeded(org, i); body.ShootID != shoots[0] || body.AllowanceUsed != "free_retry" {
			t.Fatalf("retry %d = %+v", i, body)
		}
		ids[body.ID] = true
	}
	if len(ids) != n {
		t.Fatalf("%d distinct retries, want %d", len(ids), n)
	}
	apptest.WaitFor(t, 20*time.Second, "one email per member", func() bool { return app.Mailbox.Len() == n })
	if got := countRows(t, app, "retries", "org_id = ?", org.ID); got != n {
		t.Fatalf("retries rows = %d", got)
	}
	if cards := cardsOf(t, app, org.AdminKey, "section=in_progress&limit=100"); len(cards) != n {
		t.Fatalf("in progress cards = %d, want %d", len(cards), n)
	}
}

// TestConcurrentGivesOfTwoShootsOfOneMember: gives of two shoots of one member race; one
// wins and the other is refused with retry_pending. The refused shoot keeps its one
// retry: once the member starts the pending retry, it can be retried.
func TestConcurrentGivesOfTwoShootsOfOneMember(t *testing.T) {
	app := apptest.Start(t, apptest.Options{})
	m := person("Tess Two", finished(10, 3), finished(5, 3))
	m.RetryCredits = 2
	org := app.SeedOrg(t, 5, m)
	id, shoots := seeded(org, 0)

	rs := concurrently(t, 2, func(i int) (*apptest.Response, error) {
		return doConcurrent(app, "POST", "/api/v1/admin/members/"+id+"/retries", org.AdminKey, map[string]any{"shoot_id": shoots[i]})
	})
	won, lost := 0, 1
	if rs[1].Status == 201 {
		won, lost = 1, 0
	}
	expectStatus(t, rs[won], 201)
	expectProblem(t, rs[lost], 409, "retry_pending")
	if c, f := allowanceOf(t, app, org.AdminKey, id); c != 1 || !f {
		t.Fatalf("allowance = %v, %v: want one credit consumed", c, f)
	}

	tok, _ := app.Links.Issue(id, shoots[won], time.Now())
	expectStatus(t, app.Do(t, "POST", "/api/v1/member/shoots/"+shoots[won]+"/start", tok, nil), 200)

	p := expectJSON[server.PreviewDTO](t, previewRetry(t, app, org.AdminKey, id, shoots[lost]), 200)
	if p.State != "confirm" {
		t.Fatalf("preview of the refused shoot = %+v", p)
	}
	r := expectJSON[server.RetryDTO](t, giveRetry(t, app, org.AdminKey, id, shoots[lost]), 201)
	if r.ShootID != shoots[lost] || r.AllowanceUsed != "retry_credit" {
		t.Fatalf("retry of the refused shoot = %+v", r)
	}
}
