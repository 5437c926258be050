package devmailbox

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestRateLimitRefusesAboveTheLimit sends more than a window allows: the first sends go
// through with MailerSend's x-ratelimit headers, the rest answer 429 with Retry-After and
// the reset time, are not kept, and are counted. The window is a minute, far longer than
// the test, so every send falls in the first one.
func TestRateLimitRefusesAboveTheLimit(t *testing.T) {
	m := New(10)
	srv := newServer(t, m)
	if err := m.SetFault(Fault{RateLimit: 3}); err != nil {
		t.Fatal(err)
	}
	if f := m.Fault(); f.Status != http.StatusTooManyRequests || f.WindowS != 60 || f.Count != 0 {
		t.Fatalf("installed limit = %+v, want status 429 and a 60 s window", f)
	}
	for i := range 3 {
		a := post(t, srv.URL+"/dev/mailersend/v1/email", "Bearer k", "application/json", validBody)
		if a.status != http.StatusAccepted {
			t.Fatalf("send %d under the limit: %d %s", i, a.status, a.body)
		}
		if got := a.header.Get("X-Ratelimit-Limit"); got != "3" {
			t.Fatalf("send %d: x-ratelimit-limit = %q", i, got)
		}
		if got := a.header.Get("X-Ratelimit-Remaining"); got != strconv.Itoa(2-i) {
			t.Fatalf("send %d: x-ratelimit-remaining = %q, want %d", i, got, 2-i)
		}
	}
	before := time.Now()
	for i := range 2 {
		a := post(t, srv.URL+"/dev/mailersend/v1/email", "Bearer k", "application/json", validBody)
		if a.status != http.StatusTooManyRequests {
			t.Fatalf("send %d over the limit: %d %s", i, a.status, a.body)
		}
		wait, err := strconv.Atoi(a.header.Get("Retry-After"))
		if err != nil || wait < 1 || wait > 60 {
			t.Fatalf("Retry-After = %q, want 1 to 60 seconds", a.header.Get("Retry-After"))
		}
		reset, err := strconv.ParseInt(a.header.Get("X-Ratelimit-Reset"), 10, 64)
		if err != nil || reset < before.Unix() || reset > before.Add(61*time.Second).Unix() {
			t.Fatalf("x-ratelimit-reset = %q, want within the next minute", a.header.Get("X-Ratelimit-Reset"))
		}
		if got := a.header.Get("X-Ratelimit-Remaining"); got != "0" {
			t.Fatalf("x-ratelimit-remaining on a refusal = %q", got)
		}
		if e := decodeError(t, a); !strings.Contains(e.Message, "rate limit of 3 requests/min") {
			t.Fatalf("message %q", e.Message)
		}
	}
	if m.Len() != 3 {
		t.Fatalf("kept %d messages, want the 3 accepted", m.Len())
	}
	if got := m.Fault().Limited; got != 2 {
		t.Fatalf("limited = %d, want 2", got)
	}
	m.ClearFault()
	if a := post(t, srv.URL+"/dev/mailersend/v1/email", "Bearer k", "application/json", validBody); a.status != http.StatusAccepted || a.header.Get("X-Ratelimit-Limit") != "" {
		t.Fatalf("send after clearing the limit: %d, x-ratelimit-limit %q", a.status, a.header.Get("X-Ratelimit-Limit"))
	}
}

// TestRateLimitWindowReopens drives the window by hand: a send after the window closed
// opens a new one with the whole limit.
func TestRateLimitWindowReopens(t *testing.T) {
	m := New(10)
	if err := m.SetFault(Fault{RateLimit: 1, WindowS: 2}); err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	steps := []struct {
		at      time.Duration
		refused bool
	}{{0, false}, {time.Second, true}, {1999 * time.Millisecond, true}, {2 * time.Second, false}, {3 * time.Second, true}}
	for _, s := range steps {
		a, ok := m.admit(t0.Add(s.at))
		if !ok || a.refused != s.refused {
			t.Fatalf("send at +%s: refused = %v, want %v", s.at, a.refused, s.refused)
		}
	}
	if got := m.Fault().Limited; got != 3 {
		t.Fatalf("limited = %d, want 3", got)
	}
}

func TestRateLimitValidation(t *testing.T) {
	bad := []Fault{
		{RateLimit: -1},
		{RateLimit: maxFaultCount + 1},
		{WindowS: 5},                         // a window without a limit
		{RateLimit: 5, WindowS: -1},          // negative window
		{RateLimit: 5, Count: 3},             // a limit has no count
		{RateLimit: 5, Status: 503},          // a limit answers 429
		{RateLimit: 5, RetryAfterS: 3},       // its Retry-After is its own
		{RateLimit: 5, DelayMS: 100},         // and it does not hang
		{RateLimit: 5, WindowS: 1e6},         // unbounded window
		{Status: 429, Count: 1, WindowS: 60}, // a counted fault has no window
	}
	m := New(1)
	for _, f := range bad {
		var fe *FaultError
		if err := m.SetFault(f); !errors.As(err, &fe) {
			t.Errorf("SetFault(%+v) = %v, want a *FaultError", f, err)
		}
	}
	if err := m.SetFault(Fault{RateLimit: 5, Status: 429}); err != nil {
		t.Fatal(err)
	}
	if err := m.SetFault(Fault{Status: 503, Count: 1}); err != nil {
		t.Fatal(err)
	}
	if f := m.Fault(); f.RateLimit != 0 {
		t.Fatalf("a counted fault replaces the limit: %+v", f)
	}
}
