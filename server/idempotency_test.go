package server_test

import (
	"testing"
	"time"

	"github.com/headshotpro/retryd/internal/seed"
	"github.com/headshotpro/retryd/internal/tooling/apptest"
	"github.com/headshotpro/retryd/server"
)

// TestIdempotencyKeyReplay: the same key with the same body replays the first answer.
func TestIdempotencyKeyReplay(t *testing.T) {
	app := apptest.Start(t, apptest.Options{})
	org := app.SeedOrg(t, 5, person("Ida Idem", finished(5, 8)), person("Ivo Idem", finished(5, 8)))
	id, shoots := seeded(org, 0)
	otherID, otherShoots := seeded(org, 1)
	body := map[string]any{"shoot_id": shoots[0], "reason": "bad_lighting"}
	path := "/api/v1/admin/members/" + id + "/retries"

	first := app.Do(t, "POST", path, org.AdminKey, body, "Idempotency-Key", "give-ida-1")
	r1 := expectJSON[server.RetryDTO](t, first, 201)
	if first.Header.Get("Idempotent-Replayed") != "" {
		t.Fatalf("first answer is marked replayed")
	}
	second := app.Do(t, "POST", path, org.AdminKey, body, "Idempotency-Key", "give-ida-1")
	r2 := expectJSON[server.RetryDTO](t, second, 201)
	if second.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("Idempotent-Replayed = %q, want true", second.Header.Get("Idempotent-Replayed"))
	}
	if r1.ID == "" || r1.ID != r2.ID {
		t.Fatalf("retry ids differ: %q vs %q", r1.ID, r2.ID)
	}
	if got := countRows(t, app, "retries", "member_id = ?", id); got != 1 {
		t.Fatalf("retries rows = %d", got)
	}
	if c, f := allowanceOf(t, app, org.AdminKey, id); c != 0 || f {
		t.Fatalf("allowance = %v, %v: want the free retry consumed once", c, f)
	}

	// The same key with another body (here: another member's shoot) is refused, and
	// nothing is done for it.
	r := app.Do(t, "POST", path, org.AdminKey, map[string]any{"shoot_id": shoots[0], "reason": "other"}, "Idempotency-Key", "give-ida-1")
	expectProblem(t, r, 422, "idempotency_key_reused")
	r = app.Do(t, "POST", "/api/v1/admin/members/"+otherID+"/retries", org.AdminKey, map[string]any{"shoot_id": otherShoots[0]}, "Idempotency-Key", "give-ida-1")
	expectProblem(t, r, 422, "idempotency_key_reused")
	expectNoWorkflow(t, app, otherShoots[0])
	if c, f := allowanceOf(t, app, org.AdminKey, otherID); c != 0 || !f {
		t.Fatalf("other member's allowance = %v, %v", c, f)
	}

	apptest.WaitFor(t, 10*time.Second, "the retry email", func() bool { return app.Mailbox.Len() >= 1 })
	apptest.Holds(t, time.Second, "one email for the replayed give", func() bool { return app.Mailbox.Len() == 1 })
}

// TestIdempotencyKeyConcurrent: five identical requests at once with one key make one retry.
func TestIdempotencyKeyConcurrent(t *testing.T) {
	app := apptest.Start(t, apptest.Options{})
	org := app.SeedOrg(t, 5, person("Jo Concurrent", finished(5, 8)))
	id, shoots := seeded(org, 0)

	const n = 5
	responses := concurrently(t, n, func(int) (*apptest.Response, error) {
		return doConcurrent(app, "POST", "/api/v1/admin/members/"+id+"/retries", org.AdminKey,
			map[string]any{"shoot_id": shoots[0]}, "Idempotency-Key", "jo-retry")
	})
	ids := map[string]int{}
	for i, r := range responses {
		if r.Status != 201 {
			t.Errorf("request %d of %d with one Idempotency-Key answered %d, want 201 like the others: %s", i+1, n, r.Status, r.Body)
			continue
		}
		ids[expectJSON[server.RetryDTO](t, r, 201).ID]++
	}
	if len(ids) != 1 {
		t.Fatalf("retry ids = %v, want one", ids)
	}
	// A later replay answers the same retry.
	again := app.Do(t, "POST", "/api/v1/admin/members/"+id+"/retries", org.AdminKey, map[string]any{"shoot_id": shoots[0]}, "Idempotency-Key", "jo-retry")
	if body := expectJSON[server.RetryDTO](t, again, 201); ids[body.ID] == 0 || again.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay after the concurrent requests = %s (replayed %q), want retry %v", again.Body, again.Header.Get("Idempotent-Replayed"), ids)
	}
	if got := countRows(t, app, "retries", "member_id = ?", id); got != 1 {
		t.Fatalf("retries rows = %d", got)
	}
	apptest.WaitFor(t, 10*time.Second, "the retry email", func() bool { return app.Mailbox.Len() >= 1 })
	apptest.Holds(t, 2*time.Second, "one email for the one retry", func() bool { return app.Mailbox.Len() == 1 })
	if c, f := allowanceOf(t, app, org.AdminKey, id); c != 0 || f {
		t.Fatalf("allowance = %v, %v", c, f)
	}
}

// TestLenientInput: members the API does not read are ignored, a free-text reason becomes
// a code, limit above the maximum is clamped, and an Idempotency-Key replay does not
// depend on the JSON's formatting.
func TestLenientInput(t *testing.T) {
	app := apptest.Start(t, apptest.Options{})
	org := app.SeedOrg(t, 0, seed.Member{Name: "Lee", Email: apptest.Ptr("lee@acme.test"), Kind: "individual",
		Shoots: []seed.Shoot{{Status: "active", CompletedAt: daysAgo(1)}}})
	m := org.File.Organizations[0].Members[0]
	path := "/api/v1/admin/members/" + m.ID + "/retries"
	first := app.Do(t, "POST", path, org.AdminKey, `{"shoot_id":"`+m.Shoots[0].ID+`","reason":"Bad Lighting","source":"dashboard"}`, "Idempotency-Key", "k-1")
	if first.Status != 201 || apptest.Decode[server.RetryDTO](t, first).Reason == nil || *apptest.Decode[server.RetryDTO](t, first).Reason != "bad_lighting" {
		t.Fatalf("give: %d %s", first.Status, first.Body)
	}
	again := app.Do(t, "POST", path, org.AdminKey, "{ \"source\": \"dashboard\",\n  \"reason\": \"Bad Lighting\", \"shoot_id\": \""+m.Shoots[0].ID+"\" }", "Idempotency-Key", "k-1")
	if again.Status != 201 || again.Header.Get("Idempotent-Replayed") != "true" || string(again.Body) != string(first.Body) {
		t.Fatalf("reformatted replay: %d %s", again.Status, again.Body)
	}
	if r := app.Do(t, "GET", "/api/v1/admin/headshots?section=in_progress&limit=1000", org.AdminKey, nil); r.Status != 200 {
		t.Fatalf("limit=1000: %d %s", r.Status, r.Body)
	}
	if r := app.Do(t, "POST", "/api/v1/admin/members/"+m.ID+"/restarts", org.AdminKey, map[string]any{"shoot_id": m.Shoots[0].ID}); r.Status != 422 || codeOf(t, r) != "not_managed" {
		t.Fatalf("restart with a body: %d %s", r.Status, r.Body)
	}
}
