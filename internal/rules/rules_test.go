package rules

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/headshotpro/retryd/internal/domain"
	"github.com/headshotpro/retryd/internal/problem"
)

func TestCheckRetry(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration) *time.Time { t := now.Add(-d); return &t }
	eligible := RetryFacts{ShootStatus: "active", ShootCompletedAt: at(24 * time.Hour), FreeRetryAvailable: true}
	with := func(f func(*RetryFacts)) RetryFacts { c := eligible; f(&c); return c }

	tests := []struct {
		name      string
		facts     RetryFacts
		window    time.Duration
		want      Allowance
		wantCode  problem.Code
		wantHTTP  int
		wantInMsg string
	}{
		{name: "free retry", facts: eligible, want: AllowanceFreeRetry},
		{name: "credits before the free retry", facts: with(func(f *RetryFacts) { f.RetryCredits = 2 }), want: AllowanceRetryCredit},
		{name: "credits without the free retry", facts: with(func(f *RetryFacts) { f.RetryCredits = 1; f.FreeRetryAvailable = false }), want: AllowanceRetryCredit},
		{name: "exhausted", facts: with(func(f *RetryFacts) { f.FreeRetryAvailable = false }), wantCode: problem.RetryCreditsExhausted, wantHTTP: 422},
		{name: "exactly 60 x 24 h is allowed", facts: with(func(f *RetryFacts) { f.ShootCompletedAt = at(60 * 24 * time.Hour) }), want: AllowanceFreeRetry},
		{name: "one second more is refused", facts: with(func(f *RetryFacts) { f.ShootCompletedAt = at(60*24*time.Hour + time.Second) }),
			wantCode: problem.RetryWindowExpired, wantHTTP: 422, wantInMsg: "60 days"},
		{name: "configured window", window: 7 * 24 * time.Hour, facts: with(func(f *RetryFacts) { f.ShootCompletedAt = at(8 * 24 * time.Hour) }),
			wantCode: problem.RetryWindowExpired, wantHTTP: 422, wantInMsg: "7 days"},
		{name: "already retried (record)", facts: with(func(f *RetryFacts) { f.ShootRetried = true }), wantCode: problem.ShootAlreadyRetried, wantHTTP: 409},
		{name: "not finished: waiting", facts: with(func(f *RetryFacts) { f.ShootStatus = "waiting" }), wantCode: problem.ShootNotFinished, wantHTTP: 409},
		{name: "not finished: active without completed_at", facts: with(func(f *RetryFacts) { f.ShootCompletedAt = nil }), wantCode: problem.ShootNotFinished, wantHTTP: 409},
		{name: "not finished: deleted", facts: with(func(f *RetryFacts) { f.ShootStatus = "deleted" }), wantCode: problem.ShootNotFinished, wantHTTP: 409},
		{name: "pending retry", facts: with(func(f *RetryFacts) { f.MemberHasPendingRetry = true }), wantCode: problem.RetryPending, wantHTTP: 409},

		// The first failing rule is the reason given.
		{name: "pending beats every later rule", facts: RetryFacts{MemberHasPendingRetry: true, ShootStatus: "failed", ShootRetried: true}, wantCode: problem.RetryPending, wantHTTP: 409},
		{name: "not finished beats retried, window and allowance", facts: RetryFacts{ShootStatus: "onboarding", ShootRetried: true}, wantCode: problem.ShootNotFinished, wantHTTP: 409},
		{name: "retried beats window and allowance", facts: RetryFacts{ShootStatus: "active", ShootCompletedAt: at(90 * 24 * time.Hour), ShootRetried: true}, wantCode: problem.ShootAlreadyRetried, wantHTTP: 409},
		{name: "window beats allowance", facts: RetryFacts{ShootStatus: "active", ShootCompletedAt: at(90 * 24 * time.Hour)}, wantCode: problem.RetryWindowExpired, wantHTTP: 422},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			window := tc.window
			if window == 0 {
				window = DefaultRetryWindow
			}
			got, err := CheckRetry(tc.facts, now, window)
			if tc.wantCode == "" {
				if err != nil || got != tc.want {
					t.Fatalf("CheckRetry = %q, %v; want %q", got, err, tc.want)
				}
				return
			}
			pe, ok := problem.As(err)
			if !ok || pe.Code != tc.wantCode || got != "" {
				t.Fatalf("CheckRetry = %q, %v; want refusal %s", got, err, tc.wantCode)
			}
			if pe.Code.Status() != tc.wantHTTP {
				t.Errorf("HTTP status of %s = %d, want %d", pe.Code, pe.Code.Status(), tc.wantHTTP)
			}
			if tc.wantInMsg != "" && !strings.Contains(pe.Detail, tc.wantInMsg) {
				t.Errorf("detail %q lacks %q", pe.Detail, tc.wantInMsg)
			}
		})
	}
}

// TestRetryDeadline: the deadline the dashboard shows is the last instant CheckRetry
// accepts, so the card and the rule cannot disagree by a day.
func TestRetryDeadline(t *testing.T) {
	completed := time.Date(2026, 11, 20, 14, 5, 0, 0, time.UTC)
	window := 60 * 24 * time.Hour
	deadline := RetryDeadline(completed, window)
	if want := time.Date(2027, 1, 19, 14, 5, 0, 0, time.UTC); !deadline.Equal(want) {
		t.Fatalf("RetryDeadline = %v, want %v", deadline, want)
	}
	f := RetryFacts{ShootStatus: "active", ShootCompletedAt: &completed, FreeRetryAvailable: true}
	if _, err := CheckRetry(f, deadline, window); err != nil {
		t.Errorf("CheckRetry at the deadline: %v, want allowed", err)
	}
	if _, err := CheckRetry(f, deadline.Add(time.Nanosecond), window); err == nil {
		t.Error("CheckRetry just after the deadline allowed a retry")
	}
}

func TestHasAllowance(t *testing.T) {
	for _, tc := range []struct {
		credits int
		free    bool
		want    bool
	}{{0, false, false}, {0, true, true}, {1, false, true}, {3, true, true}} {
		if got := HasAllowance(tc.credits, tc.free); got != tc.want {
			t.Errorf("HasAllowance(%d, %v) = %v, want %v", tc.credits, tc.free, got, tc.want)
		}
	}
}

func TestCheckRestart(t *testing.T) {
	for _, tc := range []struct {
		name  string
		facts RestartFacts
		want  problem.Code
	}{
		{"restartable", RestartFacts{MemberKind: "managed", HasDeletedShoot: true}, ""},
		{"individual", RestartFacts{MemberKind: "individual", HasDeletedShoot: true}, problem.NotManaged},
		{"no deleted shoot", RestartFacts{MemberKind: "managed"}, problem.NoDeletedShoot},
		{"open shoot", RestartFacts{MemberKind: "managed", HasDeletedShoot: true, HasOtherShoot: true}, problem.ActiveShootExists},
		{"order: not managed first", RestartFacts{MemberKind: "individual", HasOtherShoot: true}, problem.NotManaged},
		{"order: no deleted before open", RestartFacts{MemberKind: "managed", HasOtherShoot: true}, problem.NoDeletedShoot},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckRestart(tc.facts)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("CheckRestart = %v, want nil", err)
				}
				return
			}
			if pe, ok := problem.As(err); !ok || pe.Code != tc.want {
				t.Fatalf("CheckRestart = %v, want %s", err, tc.want)
			}
		})
	}
}

func TestSection(t *testing.T) {
	for status, want := range map[string]string{
		"active": domain.SectionFinished, "deleted": domain.SectionDeleted, "onboarding": domain.SectionInProgress,
		"waiting": domain.SectionInProgress, "pending": domain.SectionInProgress,
		"generatingHeadshots": domain.SectionInProgress, "failed": domain.SectionInProgress,
	} {
		if got := Section(status); got != want {
			t.Errorf("Section(%q) = %q, want %q", status, got, want)
		}
	}
}

func TestCardActions(t *testing.T) {
	restartable := RestartFacts{MemberKind: domain.KindManaged, HasDeletedShoot: true}
	window := 60 * 24 * time.Hour
	now := time.Date(2027, 3, 1, 12, 0, 0, 0, time.UTC)
	recent := now.Add(-5 * 24 * time.Hour)
	lastInstant := now.Add(-window)
	ended := lastInstant.Add(-time.Second)
	finished := func(completed time.Time, f CardFacts) CardFacts {
		f.Section, f.ShootCompletedAt, f.Now, f.Window = domain.SectionFinished, &completed, now, window
		return f
	}
	for _, tc := range []struct {
		name  string
		facts CardFacts
		want  []string
	}{
		{"finished with an allowance", finished(recent, CardFacts{FreeRetryAvailable: true}), []string{ActionGiveRetry}},
		{"finished with a credit", finished(recent, CardFacts{RetryCredits: 1}), []string{ActionGiveRetry}},
		{"finished without one", finished(recent, CardFacts{}), []string{}},
		{"finished with a pending retry", finished(recent, CardFacts{PendingRetry: true}), []string{ActionGiveRetry}},
		{"finished at the window's last instant", finished(lastInstant, CardFacts{FreeRetryAvailable: true}), []string{ActionGiveRetry}},
		{"finished after the window ended", finished(ended, CardFacts{FreeRetryAvailable: true, RetryCredits: 2}), []string{}},
		{"finished after the window, with a pending retry", finished(ended, CardFacts{PendingRetry: true}), []string{ActionGiveRetry}},
		{"finished, the shoot retried already", finished(recent, CardFacts{FreeRetryAvailable: true, ShootRetried: true}), []string{}},
		{"finished, retried already, with a pending retry", finished(recent, CardFacts{PendingRetry: true, ShootRetried: true}), []string{ActionGiveRetry}},
		{"finished without a completion time", CardFacts{Section: domain.SectionFinished, FreeRetryAvailable: true, Now: now, Window: window}, []string{}},
		{"in progress with a pending retry", CardFacts{Section: domain.SectionInProgress, PendingRetry: true, FreeRetryAvailable: true}, []string{}},
		{"deleted, restartable", CardFacts{Section: domain.SectionDeleted, FreeRetryAvailable: true, Restart: restartable}, []string{ActionRestartShoot}},
		{"deleted, individual", CardFacts{Section: domain.SectionDeleted, Restart: RestartFacts{MemberKind: domain.KindIndividual, HasDeletedShoot: true}}, []string{}},
		{"deleted, another shoot open", CardFacts{Section: domain.SectionDeleted, Restart: RestartFacts{MemberKind: domain.KindManaged, HasDeletedShoot: true, HasOtherShoot: true}}, []string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := CardActions(tc.facts)
			if got == nil || strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("CardActions = %#v, want %#v", got, tc.want)
			}
			// What the card offers, CheckRetry must not refuse (but with the pending
			// notice): the modal would otherwise answer the card's button with a refusal.
			if slices.Contains(got, ActionGiveRetry) && tc.facts.ShootCompletedAt != nil {
				_, err := CheckRetry(RetryFacts{
					MemberHasPendingRetry: tc.facts.PendingRetry, ShootStatus: domain.ShootActive, ShootCompletedAt: tc.facts.ShootCompletedAt,
					ShootRetried: tc.facts.ShootRetried, RetryCredits: tc.facts.RetryCredits, FreeRetryAvailable: tc.facts.FreeRetryAvailable,
				}, tc.facts.Now, tc.facts.Window)
				if pe, ok := problem.As(err); ok && pe.Code != problem.RetryPending {
					t.Errorf("the card offers give_retry but CheckRetry refuses it: %v", err)
				}
			}
		})
	}
}
