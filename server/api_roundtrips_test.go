package server_test

import (
	"strings"
	"testing"
	"time"

	"github.com/headshotpro/retryd/internal/seed"
	"github.com/headshotpro/retryd/internal/tooling/apptest"
	"github.com/headshotpro/retryd/internal/tooling/querycount"
	"github.com/headshotpro/retryd/server"
)

// TestGiveWithoutKeyReadsTheRetryOnce: a give without an Idempotency-Key makes a new
// retry id, so the API looks for no earlier retry of it: the one read is the answer's.
// A give with a key still looks first.
func TestGiveWithoutKeyReadsTheRetryOnce(t *testing.T) {
	// store.GetRetry's reads of a retry by id: its join to the notes tells them from the
	// worker's and the pages' reads.
	reads := querycount.Containing("LEFT JOIN retry_notes AS n")
	app := apptest.Start(t, apptest.Options{QueryHook: reads})
	org := app.SeedOrg(t, 5, person("Ada Active", finished(5, 8)), person("Bob Other", finished(5, 4)))
	ada, adaShoots := seeded(org, 0)
	bob, bobShoots := seeded(org, 1)

	before := reads.Count()
	expectJSON[server.RetryDTO](t, giveRetry(t, app, org.AdminKey, ada, adaShoots[0]), 201)
	if n := reads.Count() - before; n != 1 {
		t.Errorf("a give without a key read the retry %d times, want 1 (the answer)", n)
	}

	before = reads.Count()
	expectJSON[server.RetryDTO](t, giveRetry(t, app, org.AdminKey, bob, bobShoots[0], "Idempotency-Key", "give-bob"), 201)
	if n := reads.Count() - before; n != 2 {
		t.Errorf("a give with a key read the retry %d times, want 2 (the key's earlier retry, the answer)", n)
	}
}

// TestMemberStartCountsNoResults: the member's answer shows the shoot's results from the
// shoot's own counter, read with the shoot under its lock, not by counting them after
// the start.
func TestMemberStartCountsNoResults(t *testing.T) {
	counts := querycount.Containing(`count(*) FROM "results"`)
	app := apptest.Start(t, apptest.Options{QueryHook: counts})
	org := app.SeedOrg(t, 5, person("Olga Onboarding", seed.Shoot{Status: "onboarding"}))
	olga, shoots := seeded(org, 0)
	token, _ := app.Links.Issue(olga, shoots[0], time.Now())

	before := counts.Count()
	r := app.Do(t, "POST", "/api/v1/member/shoots/"+shoots[0]+"/start", token, nil)
	expectStatus(t, r, 200)
	if n := counts.Count() - before; n != 0 {
		t.Errorf("a member start counted the results %d times, want 0", n)
	}
	if !strings.Contains(string(r.Body), `"result_count":0`) {
		t.Errorf("the answer's shoot has no result_count 0: %s", r.Body)
	}
}
