package server_test

import (
	"context"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/headshotpro/retryd/internal/domain"
	"github.com/headshotpro/retryd/internal/seed"
	"github.com/headshotpro/retryd/internal/tooling/apptest"
	"github.com/headshotpro/retryd/server"
	"github.com/headshotpro/retryd/workflows"
)

func deletedShoot() seed.Shoot {
	return seed.Shoot{Status: "deleted", DeletedAt: daysAgo(2)}
}

// TestRestartManagedMember covers the restart rules of docs/product.md through HTTP, with
// an automation key as the caller.
func TestRestartManagedMember(t *testing.T) {
	app := apptest.Start(t, apptest.Options{})
	org := app.SeedOrg(t, 5,
		seed.Member{Name: "Mia NoEmail", Kind: "managed", Shoots: []seed.Shoot{deletedShoot()}},
		seed.Member{Name: "Max Mail", Email: apptest.Ptr("max@acme.test"), Kind: "managed", Shoots: []seed.Shoot{deletedShoot()}},
		seed.Member{Name: "Ivy Individual", Email: apptest.Ptr("ivy@acme.test"), Kind: "individual", Shoots: []seed.Shoot{deletedShoot()}},
		seed.Member{Name: "Nora NoShoot", Kind: "managed"},
		seed.Member{Name: "Otto Open", Kind: "managed", Shoots: []seed.Shoot{deletedShoot(), {Status: "waiting"}}},
	)
	ms := org.File.Organizations[0].Members
	key := org.AutomationKey

	// The Deleted section offers restart_shoot to Mia and Max only.
	offered := map[string]bool{}
	for _, card := range cardsOf(t, app, key, "section=deleted") {
		offered[card.Member.Name] = slices.Equal(card.Actions, []string{"restart_shoot"})
	}
	if !offered["Mia NoEmail"] || !offered["Max Mail"] || offered["Ivy Individual"] {
		t.Fatalf("restart_shoot offered = %v", offered)
	}

	// A member without email: 201 with the access link, new shoot In Progress.
	r := app.Do(t, "POST", "/api/v1/admin/members/"+ms[0].ID+"/restarts", key, nil)
	rs := expectJSON[server.RestartAnswer](t, r, 201)
	if rs.AccessLink == nil || rs.OldShootID != ms[0].Shoots[0].ID || rs.Status != "pending" || rs.Email.Status != "not_applicable" {
		t.Fatalf("restart = %s", r.Body)
	}
	link, newShoot := *rs.AccessLink, rs.NewShootID
	if rs.Shoot.Status != "onboarding" {
		t.Fatalf("new shoot = %+v", rs.Shoot)
	}
	inProgress := cardsOf(t, app, org.AdminKey, "section=in_progress")
	if !slices.ContainsFunc(inProgress, func(c server.CardDTO) bool { return c.Shoot.ID == newShoot }) {
		t.Fatalf("new shoot not In Progress: %+v", inProgress)
	}
	// A second restart while the first is open is refused.
	r = app.Do(t, "POST", "/api/v1/admin/members/"+ms[0].ID+"/restarts", key, nil)
	if r.Status != 409 || codeOf(t, r) != "active_shoot_exists" {
		t.Fatalf("second restart: %d %s", r.Status, r.Body)
	}
	// The member starts with the link: restart started, workflow done.
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	r = app.Do(t, "POST", "/api/v1/member/shoots/"+newShoot+"/start", u.Query().Get("token"), nil)
	if a := expectJSON[startAnswer](t, r, 200); a.Restart == nil || a.Restart.Status != "started" {
		t.Fatalf("start: %d %s", r.Status, r.Body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var st workflows.RestartStatus
	if err := app.Temporal.GetWorkflow(ctx, workflows.RestartWorkflowID(ms[0].ID), "").Get(ctx, &st); err != nil || st.Stage != domain.StageStarted {
		t.Fatalf("restart workflow = %+v, %v", st, err)
	}
	// The member detail lists the restart.
	det := memberDetail(t, app, org.AdminKey, ms[0].ID)
	if rl := det.Restarts; len(rl) != 1 || rl[0].Status != "started" {
		t.Fatalf("restarts on member page = %+v", rl)
	}

	// A member with email gets the restart email and no link in the answer.
	r = app.Do(t, "POST", "/api/v1/admin/members/"+ms[1].ID+"/restarts", key, nil)
	if r.Status != 201 || expectJSON[server.RestartAnswer](t, r, 201).AccessLink != nil {
		t.Fatalf("restart with email: %d %s", r.Status, r.Body)
	}
	apptest.WaitFor(t, 10*time.Second, "restart email", func() bool { return app.Mailbox.Len() == 1 })
	if m := app.Mailbox.Messages()[0]; m.Subject != "HeadshotPro | Your photo shoot is ready to start" || m.To[0] != "max@acme.test" {
		t.Fatalf("restart email = %+v", m)
	}

	// Refusals, each with its code.
	for _, tc := range []struct {
		member string
		status int
		code   string
	}{{ms[2].ID, 422, "not_managed"}, {ms[3].ID, 409, "no_deleted_shoot"}, {ms[4].ID, 409, "active_shoot_exists"}} {
		r = app.Do(t, "POST", "/api/v1/admin/members/"+tc.member+"/restarts", key, nil)
		if r.Status != tc.status || codeOf(t, r) != tc.code || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/problem+json") {
			t.Errorf("restart %s: %d %s, want %d %s", tc.member, r.Status, r.Body, tc.status, tc.code)
		}
	}

	// Automation keys may not give retries.
	r = app.Do(t, "POST", "/api/v1/admin/members/"+ms[1].ID+"/retries", key, map[string]any{"shoot_id": ms[1].Shoots[0].ID})
	if r.Status != 403 || codeOf(t, r) != "forbidden_for_role" {
		t.Fatalf("automation give retry: %d %s", r.Status, r.Body)
	}
}

func TestConcurrentRestartsCreateOneShoot(t *testing.T) {
	app := apptest.Start(t, apptest.Options{})
	org := app.SeedOrg(t, 0, seed.Member{Name: "Mo", Kind: "managed", Shoots: []seed.Shoot{deletedShoot()}})
	member := org.File.Organizations[0].Members[0].ID
	var wg sync.WaitGroup
	statuses := make([]int, 10)
	for i := range statuses {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			statuses[i] = app.Do(t, "POST", "/api/v1/admin/members/"+member+"/restarts", org.AdminKey, nil).Status
		}(i)
	}
	wg.Wait()
	created := 0
	for _, s := range statuses {
		switch s {
		case 201:
			created++
		case 409:
		default:
			t.Errorf("unexpected status %d", s)
		}
	}
	n, err := app.DB.NewSelect().Table("shoots").Where("member_id = ? AND status = 'onboarding'", member).Count(context.Background())
	if created != 1 || err != nil || n != 1 {
		t.Fatalf("created %d restarts and %d new shoots (%v); want exactly one", created, n, err)
	}
}

func TestBulkRestart(t *testing.T) {
	app := apptest.Start(t, apptest.Options{})
	org := app.SeedOrg(t, 0,
		seed.Member{Name: "A managed", Kind: "managed", Shoots: []seed.Shoot{deletedShoot()}},
		seed.Member{Name: "B managed", Email: apptest.Ptr("b@acme.test"), Kind: "managed", Shoots: []seed.Shoot{deletedShoot()}},
		seed.Member{Name: "C individual", Email: apptest.Ptr("c@acme.test"), Kind: "individual", Shoots: []seed.Shoot{deletedShoot()}},
		seed.Member{Name: "D active", Kind: "managed", Shoots: []seed.Shoot{deletedShoot(), {Status: "active", CompletedAt: daysAgo(1)}}},
	)
	ms := org.File.Organizations[0].Members
	unknown := "00000000-0000-4000-8000-00000000abcd"
	body := map[string]any{"member_ids": []string{ms[0].ID, ms[1].ID, ms[2].ID, ms[3].ID, unknown, "not-a-uuid"}}
	r := app.Do(t, "POST", "/api/v1/admin/restarts", org.AutomationKey, body, "Idempotency-Key", "bulk-1")
	if r.Status != 200 {
		t.Fatalf("bulk: %d %s", r.Status, r.Body)
	}
	results := apptest.Decode[bulkAnswer](t, r).Results
	want := []struct{ outcome, code string }{{"restarted", ""}, {"restarted", ""}, {"skipped", "not_managed"}, {"skipped", "active_shoot_exists"}, {"skipped", "not_found"}, {"skipped", "invalid_id"}}
	if len(results) != len(want) {
		t.Fatalf("results = %s", r.Body)
	}
	for i, w := range want {
		res := results[i]
		code := ""
		if res.Code != nil {
			code = *res.Code
		}
		if res.Outcome != w.outcome || code != w.code {
			t.Errorf("result %d = %+v, want %s %s", i, res, w.outcome, w.code)
		}
		if w.outcome == "restarted" && res.Restart == nil {
			t.Errorf("result %d has no restart", i)
		}
	}
	// The same key replays the answer (its access links signed afresh) and restarts nobody again.
	again := app.Do(t, "POST", "/api/v1/admin/restarts", org.AutomationKey, body, "Idempotency-Key", "bulk-1")
	if again.Status != 200 || sansLinks(again.Body) != sansLinks(r.Body) || again.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay: %d %s", again.Status, again.Body)
	}
	n, _ := app.DB.NewSelect().Table("restarts").Where("org_id = ?", org.ID).Count(context.Background())
	if n != 2 {
		t.Fatalf("restarts rows = %d, want 2", n)
	}
	if r := app.Do(t, "POST", "/api/v1/admin/restarts", org.AutomationKey, map[string]any{"member_ids": []string{}}); r.Status != 400 || codeOf(t, r) != "invalid_body" {
		t.Fatalf("empty bulk: %d %s", r.Status, r.Body)
	}
}

// TestCancelRestartAndRetry: an operator's `temporal workflow cancel` marks the restart
// or retry failed; a canceled restart's untouched shoot goes back to deleted, so the
// member can be restarted again, and a canceled retry frees the member's pending slot.
func TestCancelRestartAndRetry(t *testing.T) {
	app := apptest.Start(t, apptest.Options{})
	org := app.SeedOrg(t, 0,
		seed.Member{Name: "Mo", Kind: "managed", Shoots: []seed.Shoot{deletedShoot()}},
		seed.Member{Name: "Ann", Email: apptest.Ptr("ann@acme.test"), Kind: "individual", RetryCredits: 1,
			Shoots: []seed.Shoot{{Status: "active", CompletedAt: daysAgo(3)}, {Status: "active", CompletedAt: daysAgo(2)}}},
	)
	ms := org.File.Organizations[0].Members
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	if r := app.Do(t, "POST", "/api/v1/admin/members/"+ms[0].ID+"/restarts", org.AdminKey, nil); r.Status != 201 {
		t.Fatalf("restart: %d %s", r.Status, r.Body)
	}
	if err := app.Temporal.CancelWorkflow(ctx, workflows.RestartWorkflowID(ms[0].ID), ""); err != nil {
		t.Fatal(err)
	}
	if err := app.Temporal.GetWorkflow(ctx, workflows.RestartWorkflowID(ms[0].ID), "").Get(ctx, nil); err == nil {
		t.Fatal("canceled restart workflow ended without an error")
	}
	det := memberDetail(t, app, org.AdminKey, ms[0].ID)
	if det.Restarts[0].Status != "failed" || det.Shoots[0].Status != "deleted" {
		t.Fatalf("after cancel: restarts %+v shoots %+v", det.Restarts, det.Shoots)
	}
	if r := app.Do(t, "POST", "/api/v1/admin/members/"+ms[0].ID+"/restarts", org.AdminKey, nil); r.Status != 201 {
		t.Fatalf("restart after cancel: %d %s", r.Status, r.Body)
	}

	if r := app.Do(t, "POST", "/api/v1/admin/members/"+ms[1].ID+"/retries", org.AdminKey, map[string]any{"shoot_id": ms[1].Shoots[0].ID}); r.Status != 201 {
		t.Fatalf("give: %d %s", r.Status, r.Body)
	}
	if err := app.Temporal.CancelWorkflow(ctx, workflows.RetryWorkflowID(ms[1].Shoots[0].ID), ""); err != nil {
		t.Fatal(err)
	}
	apptest.WaitFor(t, 10*time.Second, "canceled retry marked failed", func() bool {
		d := memberDetail(t, app, org.AdminKey, ms[1].ID)
		return d.PendingRetry == nil && d.Retries[0].Status == "failed"
	})
	if r := app.Do(t, "POST", "/api/v1/admin/members/"+ms[1].ID+"/retries", org.AdminKey, map[string]any{"shoot_id": ms[1].Shoots[1].ID}); r.Status != 201 {
		t.Fatalf("give after cancel: %d %s", r.Status, r.Body)
	}
}
