package server

import (
	"testing"
	"time"

	"github.com/headshotpro/retryd/internal/domain"
)

// TestPageDatesSayTheirZone: every instant a page writes names its zone, whatever zone
// the time was read in.
func TestPageDatesSayTheirZone(t *testing.T) {
	at := time.Date(2026, 12, 6, 15, 5, 0, 0, time.FixedZone("UTC+1", 3600))
	if got, want := formatDateTime(at), "6 Dec 2026, 14:05 UTC"; got != want {
		t.Errorf("formatDateTime = %q, want %q", got, want)
	}
	if got, want := formatDateTime(&at), "6 Dec 2026, 14:05 UTC"; got != want {
		t.Errorf("formatDateTime(pointer) = %q, want %q", got, want)
	}
	if got, want := string(formatWhen(&at)), `<time datetime="2026-12-06T14:05:00Z">6 Dec 2026, 14:05 UTC</time>`; got != want {
		t.Errorf("formatWhen = %q, want %q", got, want)
	}
	if got := formatWhen(nil); got != "" {
		t.Errorf("formatWhen(nil) = %q, want nothing", got)
	}
}

// TestCardRetryDeadline: a Finished card gives the last instant of the retry window while
// the member has a retry to give and the shoot has not had its one.
func TestCardRetryDeadline(t *testing.T) {
	completed := time.Date(2026, 11, 20, 14, 5, 0, 0, time.UTC)
	window := 60 * 24 * time.Hour
	deadline := time.Date(2027, 1, 19, 14, 5, 0, 0, time.UTC)
	finished := func(f func(*cardDTO)) cardDTO {
		k := cardDTO{Section: domain.SectionFinished, Shoot: shootDTO{Status: domain.ShootActive, CompletedAt: &completed},
			Retry: cardRetryDTO{RetriesRemaining: 1}, Actions: []string{"give_retry"}}
		if f != nil {
			f(&k)
		}
		return k
	}
	for _, tc := range []struct {
		name      string
		card      cardDTO
		now       time.Time
		wantUntil bool
		wantEnded bool
	}{
		{"inside the window", finished(nil), deadline.Add(-time.Hour), true, false},
		{"at its last instant", finished(nil), deadline, true, false},
		{"after it", finished(nil), deadline.Add(time.Second), true, true},
		{"shoot already retried", finished(func(k *cardDTO) { k.Shoot.RetryCount = 1 }), completed, false, false},
		{"no retries remaining", finished(func(k *cardDTO) { k.Retry.RetriesRemaining = 0; k.Actions = []string{} }), completed, false, false},
		{"in progress", finished(func(k *cardDTO) { k.Section = domain.SectionInProgress; k.Shoot.CompletedAt = nil }), completed, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := newCardView(tc.card, window, tc.now)
			if (v.RetryUntil != nil) != tc.wantUntil || v.RetryEnded != tc.wantEnded {
				t.Fatalf("RetryUntil = %v, RetryEnded = %v; want shown %v, ended %v", v.RetryUntil, v.RetryEnded, tc.wantUntil, tc.wantEnded)
			}
			if v.RetryUntil != nil && !v.RetryUntil.Equal(deadline) {
				t.Errorf("RetryUntil = %v, want %v", v.RetryUntil, deadline)
			}
		})
	}
}
