package server_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/headshotpro/retryd/internal/seed"
	"github.com/headshotpro/retryd/internal/tooling/apptest"
	"github.com/headshotpro/retryd/server"
	"github.com/headshotpro/retryd/workflows"
)

// TestGiveRetryRefusals checks every give-retry rule of docs/product.md through HTTP:
// the refusal's code and status, the preview's state for the same case, and that a
// refused request starts no workflow and consumes no allowance.
func TestGiveRetryRefusals(t *testing.T) {
	app := apptest.Start(t, apptest.Options{})
	exhausted := person("Xena Exhausted", finished(5, 4))
	exhausted.FreeRetryAvailable = apptest.Ptr(false)
	org := app.SeedOrg(t, 5,
		person("Ada Active", finished(5, 8)),                                                                                // 0
		person("Bob Other", finished(5, 4)),                                                                                 // 1
		person("Carl Twice", finished(10, 3), finished(5, 3)),                                                               // 2
		person("Wendy Waiting", seed.Shoot{Status: "waiting"}),                                                              // 3
		person("Fay Failed", seed.Shoot{Status: "failed"}),                                                                  // 4
		person("Olga Onboarding", seed.Shoot{Status: "onboarding"}),                                                         // 5
		person("Rita Retried", seed.Shoot{Status: "active", CompletedAt: daysAgo(5), RetryCount: 1, Results: 5}),            // 6
		person("Ina Inside", seed.Shoot{Status: "active", CompletedAt: agoDur(59*24*time.Hour + 23*time.Hour), Results: 2}), // 7
		person("Otto Outside", seed.Shoot{Status: "active", CompletedAt: agoDur(60*24*time.Hour + time.Hour), Results: 2}),  // 8
		exhausted, // 9
	)
	key := org.AdminKey

	// refused asserts one refusal end to end: preview, give, no workflow, nothing consumed.
	refused := func(t *testing.T, memberID, shootID string, status int, code, previewState string) {
		t.Helper()
		credits, free := allowanceOf(t, app, key, memberID)
		retriesBefore := countRows(t, app, "retries", "member_id = ?", memberID)

		p := expectJSON[server.PreviewDTO](t, previewRetry(t, app, key, memberID, shootID), 200)
		if p.State != previewState || str(p.Code) != code || p.ConfirmLabel != nil {
			t.Fatalf("preview = %+v, want state %s with code %s and no button", p, previewState, code)
		}
		if str(p.Notice) == "" {
			t.Fatalf("preview %s has no notice: %+v", previewState, p)
		}
		if effects := p.Effects; len(effects) != 0 {
			t.Fatalf("refused preview lists effects %v", effects)
		}

		expectProblem(t, giveRetry(t, app, key, memberID, shootID), status, code)
		expectNoWorkflow(t, app, shootID)
		c2, f2 := allowanceOf(t, app, key, memberID)
		if c2 != credits || f2 != free {
			t.Fatalf("allowance changed by a refused request: credits %v→%v, free %v→%v", credits, c2, free, f2)
		}
		if n := countRows(t, app, "retries", "member_id = ?", memberID); n != retriesBefore {
			t.Fatalf("retries rows %d → %d after a refusal", retriesBefore, n)
		}
	}

	adaID, adaShoots := seeded(org, 0)
	_, bobShoots := seeded(org, 1)

	t.Run("not_found/unknown_member", func(t *testing.T) {
		unknown := uuid.NewString()
		expectProblem(t, previewRetry(t, app, key, unknown, adaShoots[0]), 404, "not_found")
		expectProblem(t, giveRetry(t, app, key, unknown, adaShoots[0]), 404, "not_found")
		expectNoWorkflow(t, app, adaShoots[0])
		if c, f := allowanceOf(t, app, key, adaID); c != 0 || !f {
			t.Fatalf("ada's allowance = %v, %v", c, f)
		}
	})
	t.Run("not_found/unknown_shoot", func(t *testing.T) {
		unknown := uuid.NewString()
		expectProblem(t, previewRetry(t, app, key, adaID, unknown), 404, "not_found")
		expectProblem(t, giveRetry(t, app, key, adaID, unknown), 404, "not_found")
		expectNoWorkflow(t, app, unknown)
		if c, f := allowanceOf(t, app, key, adaID); c != 0 || !f {
			t.Fatalf("ada's allowance = %v, %v", c, f)
		}
	})
	t.Run("not_found/shoot_of_another_member", func(t *testing.T) {
		bobID, _ := seeded(org, 1)
		expectProblem(t, previewRetry(t, app, key, adaID, bobShoots[0]), 404, "not_found")
		expectProblem(t, giveRetry(t, app, key, adaID, bobShoots[0]), 404, "not_found")
		expectNoWorkflow(t, app, bobShoots[0])
		for _, id := range []string{adaID, bobID} {
			if c, f := allowanceOf(t, app, key, id); c != 0 || !f {
				t.Fatalf("allowance of %s = %v, %v", id, c, f)
			}
		}
		// Bob's shoot is untouched: still finished with its results.
		d := memberDetail(t, app, key, bobID)
		if sh := d.Shoots[0]; sh.Status != "active" || sh.ResultCount != 4 {
			t.Fatalf("bob's shoot = %+v", sh)
		}
	})

	t.Run("retry_pending", func(t *testing.T) {
		carlID, carlShoots := seeded(org, 2)
		r := giveRetry(t, app, key, carlID, carlShoots[0])
		expectStatus(t, r, 201)
		if c, f := allowanceOf(t, app, key, carlID); c != 0 || f {
			t.Fatalf("carl's allowance after the first retry = %v, %v", c, f)
		}
		refused(t, carlID, carlShoots[1], http.StatusConflict, "retry_pending", "pending_notice")
		// Carl's card (his most recent shoot is still finished) keeps give_retry although his
		// allowance is used up: the pending retry lets the modal show its notice.
		cards := cardsOf(t, app, key, "section=finished&q=Carl")
		if len(cards) != 1 || !hasAction(cards[0], "give_retry") || !cards[0].Retry.Pending {
			t.Fatalf("Carl's card = %+v", cards)
		}
		// The second shoot is still finished, with its results.
		d := memberDetail(t, app, key, carlID)
		for _, sh := range d.Shoots {
			if sh.ID == carlShoots[1] && (sh.Status != "active" || sh.ResultCount != 3) {
				t.Fatalf("second shoot touched: %+v", sh)
			}
		}
	})

	for _, tc := range []struct {
		name string
		idx  int
	}{{"shoot_not_finished/waiting", 3}, {"shoot_not_finished/failed", 4}, {"shoot_not_finished/onboarding", 5}} {
		t.Run(tc.name, func(t *testing.T) {
			id, shoots := seeded(org, tc.idx)
			refused(t, id, shoots[0], http.StatusConflict, "shoot_not_finished", "ineligible")
		})
	}

	t.Run("shoot_already_retried", func(t *testing.T) {
		id, shoots := seeded(org, 6)
		refused(t, id, shoots[0], http.StatusConflict, "shoot_already_retried", "ineligible")
	})

	t.Run("retry_window/inside_59d23h", func(t *testing.T) {
		id, shoots := seeded(org, 7)
		p := expectJSON[server.PreviewDTO](t, previewRetry(t, app, key, id, shoots[0]), 200)
		if p.State != "confirm" || str(p.ConfirmLabel) != "Delete results and retry" || p.Code != nil {
			t.Fatalf("preview = %+v", p)
		}
		r := expectJSON[server.RetryDTO](t, giveRetry(t, app, key, id, shoots[0]), 201)
		if r.AllowanceUsed != "free_retry" || r.Status != "pending" {
			t.Fatalf("retry = %+v", r)
		}
	})
	t.Run("retry_window_expired/60d1h", func(t *testing.T) {
		id, shoots := seeded(org, 8)
		refused(t, id, shoots[0], http.StatusUnprocessableEntity, "retry_window_expired", "ineligible")
	})

	t.Run("retry_credits_exhausted", func(t *testing.T) {
		id, shoots := seeded(org, 9)
		refused(t, id, shoots[0], http.StatusUnprocessableEntity, "retry_credits_exhausted", "ineligible")
		cards := cardsOf(t, app, key, "section=finished&q=Xena")
		if len(cards) != 1 || cards[0].Member.ID != id {
			t.Fatalf("finished cards for Xena = %+v", cards)
		}
		if hasAction(cards[0], "give_retry") {
			t.Fatalf("exhausted member's Finished card offers give_retry: %v", cards[0].Actions)
		}
		if rem := cards[0].Retry.RetriesRemaining; rem != 0 {
			t.Fatalf("retries_remaining = %d", rem)
		}
		// A member with an allowance does get the action.
		cards = cardsOf(t, app, key, "section=finished&q=Bob")
		if len(cards) != 1 || !hasAction(cards[0], "give_retry") {
			t.Fatalf("Bob's card = %+v", cards)
		}
	})
}

// TestGiveRetryUsesRetryCreditFirst: a retry credit is consumed before the free retry,
// which stays available (effect 1 in docs/product.md).
func TestGiveRetryUsesRetryCreditFirst(t *testing.T) {
	app := apptest.Start(t, apptest.Options{})
	cora := person("Cora Credits", finished(3, 6))
	cora.RetryCredits = 2
	org := app.SeedOrg(t, 5, cora)
	id, shoots := seeded(org, 0)
	key := org.AdminKey

	if a := memberDetail(t, app, key, id).Allowance; a != (server.AllowanceDTO{RetryCredits: 2, FreeRetryAvailable: true, RetriesRemaining: 3}) {
		t.Fatalf("allowance before = %+v", a)
	}
	p := expectJSON[server.PreviewDTO](t, previewRetry(t, app, key, id, shoots[0]), 200)
	if p.State != "confirm" || str(p.AllowanceToUse) != "retry_credit" {
		t.Fatalf("preview = %+v", p)
	}
	r := expectJSON[server.RetryDTO](t, giveRetry(t, app, key, id, shoots[0]), 201)
	if r.AllowanceUsed != "retry_credit" || r.WorkflowID != workflows.RetryWorkflowID(shoots[0]) {
		t.Fatalf("retry = %+v", r)
	}
	if a := memberDetail(t, app, key, id).Allowance; a != (server.AllowanceDTO{RetryCredits: 1, FreeRetryAvailable: true, RetriesRemaining: 2}) {
		t.Fatalf("allowance after = %+v, want 1 credit and the free retry", a)
	}
	if n := countRows(t, app, "retries", "member_id = ? AND allowance_used = 'retry_credit'", id); n != 1 {
		t.Fatalf("retry_credit retries = %d", n)
	}
}
