package server_test

import (
	"strings"
	"testing"
	"time"

	"github.com/headshotpro/retryd/internal/seed"
	"github.com/headshotpro/retryd/internal/tooling/apptest"
	"github.com/headshotpro/retryd/internal/tooling/browsertest"
)

// TestCardDatesInBrowser: a card's dates say their time zone, and a Finished card says
// until when a retry can be given (completed_at + RETRY_WINDOW), or that the window has
// ended. A retried shoot, and a member without retries, get no such line.
func TestCardDatesInBrowser(t *testing.T) {
	// A ten-year window keeps the fixed dates below inside it for years to come.
	app := apptest.Start(t, apptest.Options{RetryWindow: 3650 * 24 * time.Hour})
	// 15:05 in UTC+1 is 14:05 UTC: the page converts, and says so.
	completed := time.Date(2026, 11, 20, 15, 5, 0, 0, time.FixedZone("UTC+1", 3600))
	old := time.Date(2015, 3, 1, 9, 30, 0, 0, time.UTC)
	deleted := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	org := app.SeedOrg(t, 5,
		person("Early Bird", seed.Shoot{Status: "active", CompletedAt: &completed, Results: 8}),
		person("Old Timer", seed.Shoot{Status: "active", CompletedAt: &old, Results: 8}),
		person("Retried Once", seed.Shoot{Status: "active", CompletedAt: &completed, RetryCount: 1, Results: 8}),
		seed.Member{Name: "No Retries", Email: apptest.Ptr("none@acme.test"), Kind: "individual", FreeRetryAvailable: apptest.Ptr(false), Shoots: []seed.Shoot{{Status: "active", CompletedAt: &completed, Results: 8}}},
		seed.Member{Name: "Sam Taylor", Kind: "managed", Shoots: []seed.Shoot{{Status: "deleted", DeletedAt: &deleted}}},
	)
	early, _ := seeded(org, 0)
	oldTimer, _ := seeded(org, 1)
	retried, _ := seeded(org, 2)
	none, _ := seeded(org, 3)
	sam, _ := seeded(org, 4)
	b := browsertest.New(t)
	signInBrowser(t, b, app, org.AdminKey)

	text := func(sel string) string {
		return browsertest.Eval[string](t, b, `document.querySelector('`+sel+`').innerText`)
	}
	for _, tc := range []struct {
		card          string
		want, wantNot []string
	}{
		{card("finished", early), []string{"Completed 20 Nov 2026, 14:05 UTC", "Retry possible until 17 Nov 2036, 14:05 UTC"}, []string{"Retry window ended"}},
		{card("finished", oldTimer), []string{"Completed 1 Mar 2015, 09:30 UTC", "Retry window ended 26 Feb 2025, 09:30 UTC"}, []string{"Retry possible until"}},
		{card("finished", retried), []string{"Completed 20 Nov 2026, 14:05 UTC"}, []string{"Retry possible until", "Retry window ended"}},
		{card("finished", none), []string{"Completed 20 Nov 2026, 14:05 UTC"}, []string{"Retry possible until", "Retry window ended"}},
		{card("deleted", sam), []string{"Deleted 1 Dec 2026, 08:00 UTC"}, nil},
	} {
		got := text(tc.card)
		for _, w := range tc.want {
			if !strings.Contains(got, w) {
				t.Errorf("card %s lacks %q:\n%s", tc.card, w, got)
			}
		}
		for _, w := range tc.wantNot {
			if strings.Contains(got, w) {
				t.Errorf("card %s says %q:\n%s", tc.card, w, got)
			}
		}
	}
	// The machine-readable instant is there for assistive tools and scripts.
	if got := browsertest.Eval[string](t, b, `(document.querySelector('`+card("finished", early)+` time') || {getAttribute: () => 'no <time>'}).getAttribute('datetime')`); got != "2026-11-20T14:05:00Z" {
		t.Errorf("the completion's <time datetime> = %q, want 2026-11-20T14:05:00Z", got)
	}
}
