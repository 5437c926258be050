package devmailbox

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestFaultAnswersStatusThenRecovers(t *testing.T) {
	for _, status := range []int{429, 500, 502, 503, 422} {
		m := New(10)
		srv := newServer(t, m)
		if err := m.SetFault(Fault{Status: status, RetryAfterS: 7, Count: 2}); err != nil {
			t.Fatal(err)
		}
		for i := range 2 {
			a := post(t, srv.URL+"/dev/mailersend/v1/email", "Bearer k", "application/json", validBody)
			if a.status != status {
				t.Fatalf("status %d, send %d: got %d %s", status, i, a.status, a.body)
			}
			if got := a.header.Get("Retry-After"); got != "7" {
				t.Fatalf("status %d: Retry-After = %q, want 7", status, got)
			}
			if e := decodeError(t, a); !strings.Contains(e.Message, "simulated fault") {
				t.Fatalf("status %d: message %q does not say it is simulated", status, e.Message)
			}
			if left := m.Fault().Count; left != 1-i {
				t.Fatalf("status %d: %d faults left after send %d, want %d", status, left, i, 1-i)
			}
		}
		if m.Len() != 0 {
			t.Fatalf("status %d: faulted sends stored %d messages", status, m.Len())
		}
		if a := post(t, srv.URL+"/dev/mailersend/v1/email", "Bearer k", "application/json", validBody); a.status != http.StatusAccepted {
			t.Fatalf("status %d: send after the faults: %d %s", status, a.status, a.body)
		}
		if m.Len() != 1 {
			t.Fatalf("status %d: Len = %d after recovery, want 1", status, m.Len())
		}
	}
}

func TestFaultUnprocessableNamesAField(t *testing.T) {
	m := New(1)
	srv := newServer(t, m)
	if err := m.SetFault(Fault{Status: 422, Count: 1}); err != nil {
		t.Fatal(err)
	}
	e := decodeError(t, post(t, srv.URL+"/dev/mailersend/v1/email", "Bearer k", "application/json", validBody))
	if len(e.Errors["to.0.email"]) == 0 {
		t.Fatalf("422 fault without field errors: %+v", e)
	}
}

// A hang longer than the client's timeout: the client gives up, nothing is stored, and
// the server does not keep waiting for a client that left.
func TestFaultDelayLongerThanClientTimeout(t *testing.T) {
	m := New(1)
	srv := newServer(t, m)
	if err := m.SetFault(Fault{DelayMS: int(time.Minute.Milliseconds()), Count: 1}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/dev/mailersend/v1/email", strings.NewReader(validBody))
	req.Header.Set("Authorization", "Bearer k")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err == nil {
		resp.Body.Close()
		t.Fatalf("a hung send answered %d before the client's deadline", resp.StatusCode)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error = %v, want the client's deadline", err)
	}
	if m.Len() != 0 || m.Fault().Count != 0 {
		t.Fatalf("after the hang: %d stored, %d faults left; want 0 and 0", m.Len(), m.Fault().Count)
	}
}

// A short delay without a status still fails the send: it was never accepted.
func TestFaultShortDelayFailsTheSend(t *testing.T) {
	m := New(1)
	rec := httptest.NewRecorder()
	if err := m.SetFault(Fault{DelayMS: 1, Count: 1}); err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodPost, "/v1/email", strings.NewReader(validBody))
	req.Header.Set("Authorization", "Bearer k")
	req.Header.Set("Content-Type", "application/json")
	m.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusServiceUnavailable || m.Len() != 0 {
		t.Fatalf("status %d, stored %d; want 503 and nothing stored", rec.Code, m.Len())
	}
}

func TestFaultValidation(t *testing.T) {
	bad := []Fault{
		{Count: 1},                                // neither status nor delay
		{Status: 404, Count: 1},                   // not a simulated status
		{Status: 200, Count: 1},                   // not a failure
		{Status: 503},                             // no count
		{Status: 503, Count: -1},                  // negative count
		{Status: 503, Count: maxFaultCount + 1},   // unbounded
		{Status: 503, Count: 1, DelayMS: -1},      // negative delay
		{DelayMS: 11 * 60 * 1000, Count: 1},       // longer than the cap
		{Status: 429, Count: 1, RetryAfterS: -5},  // negative Retry-After
		{Status: 429, Count: 1, RetryAfterS: 1e6}, // absurd Retry-After
	}
	m := New(1)
	for _, f := range bad {
		err := m.SetFault(f)
		var fe *FaultError
		if !errors.As(err, &fe) || fe.Reason == "" {
			t.Errorf("SetFault(%+v) = %v, want a *FaultError", f, err)
		}
		if m.Fault() != (Fault{}) {
			t.Fatalf("refused fault %+v was installed", f)
		}
	}
	if err := m.SetFault(Fault{Status: 502, Count: 3}); err != nil {
		t.Fatal(err)
	}
	if err := m.SetFault(Fault{Status: 500, Count: 1}); err != nil {
		t.Fatal(err)
	}
	if got := m.Fault(); got != (Fault{Status: 500, Count: 1}) {
		t.Fatalf("Fault = %+v: PUT replaces the pending fault", got)
	}
	m.ClearFault()
	if got := m.Fault(); got.Count != 0 {
		t.Fatalf("Fault after clear = %+v", got)
	}
}
