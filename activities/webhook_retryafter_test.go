package activities

import (
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"
)

// TestRetryAfterOnlySlowsTheSchedule: a receiver's Retry-After lengthens the wait after a
// 429 or a 503 when it asks for more than the schedule; it never shortens the schedule,
// and other answers' headers are not taken as one. (Before, any answer's Retry-After
// replaced the schedule: "Retry-After: 1" meant an attempt a second for three days.)
func TestRetryAfterOnlySlowsTheSchedule(t *testing.T) {
	p := &temporal.RetryPolicy{InitialInterval: 5 * time.Second, BackoffCoefficient: 4, MaximumInterval: 8 * time.Hour}
	for _, c := range []struct {
		attempt    int32
		status     int
		retryAfter time.Duration
		want       time.Duration
	}{
		{1, 429, time.Second, 0},                     // the schedule waits 5 s anyway
		{1, 503, time.Minute, time.Minute},           // longer than 5 s: honoured
		{3, 429, time.Minute, 0},                     // the third wait is 80 s
		{4, 429, 10 * time.Minute, 10 * time.Minute}, // the fourth is 5 min 20 s
		{20, 503, 9 * time.Hour, 9 * time.Hour},      // past the 8 h cap
		{20, 503, 7 * time.Hour, 0},                  // within it
		{1, 500, time.Hour, 0},                       // not a 429 or 503
		{1, 410, time.Hour, 0},                       // not one either
		{2, 429, 0, 0},                               // no header
	} {
		if got := retryAfterDelay(p, c.attempt, c.status, c.retryAfter); got != c.want {
			t.Errorf("attempt %d answered %d with Retry-After %s: next delay %s, want %s", c.attempt, c.status, c.retryAfter, got, c.want)
		}
	}
	if got := scheduledWait(p, 30); got != 8*time.Hour {
		t.Errorf("the 30th wait is %s, want the cap", got)
	}
}
