package devmailbox

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// Bounds of a fault; wider values are refused rather than clamped, so a test that asks
// for something the endpoint cannot do learns it at once.
const (
	maxFaultCount      = 100000
	maxFaultDelay      = 10 * time.Minute
	maxFaultRetryAfter = 24 * 60 * 60
)

// Fault makes the endpoint fail the next Count sends instead of accepting them: answer
// Status (with Retry-After when RetryAfterS > 0), after waiting DelayMS. A delay longer
// than the client's timeout looks like a hung provider. The JSON shape is the fixed
// interface of PUT /dev/mailersend/faults; GET answers it with Count being what is left.
//
// A fault with RateLimit set is instead the provider's request limit (see ratelimit.go):
// it lasts until cleared, lets RateLimit sends through per window and answers the rest
// 429, so a burst of sends meets what MailerSend does to one.
type Fault struct {
	Status      int `json:"status"`
	RetryAfterS int `json:"retry_after_s"`
	DelayMS     int `json:"delay_ms"`
	Count       int `json:"count"`
	// RateLimit is how many sends each window accepts; 0: no limit.
	RateLimit int `json:"rate_limit,omitempty"`
	// WindowS is the limit's window in seconds; 0 means MailerSend's minute.
	WindowS int `json:"window_s,omitempty"`
	// Limited counts the sends the limit refused since it was set (GET only).
	Limited int `json:"limited,omitempty"`
}

// FaultError says why a Fault was refused; its message is safe to show to the caller.
type FaultError struct{ Reason string }

func (e *FaultError) Error() string { return "mail fault: " + e.Reason }

// faultStatuses are the provider answers worth simulating: rate limit, the three server
// errors MailerSend's edge returns, and the validation refusal that must end a send for good.
var faultStatuses = map[int]bool{
	http.StatusTooManyRequests:     true,
	http.StatusInternalServerError: true,
	http.StatusBadGateway:          true,
	http.StatusServiceUnavailable:  true,
	http.StatusUnprocessableEntity: true,
}

// Validate checks f. A status is required unless the fault is a pure delay (a hang); a
// count is always required, because a fault without an end would wedge every later send.
func (f Fault) Validate() error {
	if f.RateLimit != 0 || f.WindowS != 0 {
		return f.validateLimit()
	}
	switch {
	case f.Status == 0 && f.DelayMS <= 0:
		return &FaultError{"status is required (429, 500, 502, 503 or 422) unless delay_ms is set"}
	case f.Status != 0 && !faultStatuses[f.Status]:
		return &FaultError{fmt.Sprintf("status %d is not one of 429, 500, 502, 503, 422", f.Status)}
	case f.Count < 1 || f.Count > maxFaultCount:
		return &FaultError{fmt.Sprintf("count must be between 1 and %d", maxFaultCount)}
	case f.DelayMS < 0 || time.Duration(f.DelayMS)*time.Millisecond > maxFaultDelay:
		return &FaultError{fmt.Sprintf("delay_ms must be between 0 and %d", maxFaultDelay.Milliseconds())}
	case f.RetryAfterS < 0 || f.RetryAfterS > maxFaultRetryAfter:
		return &FaultError{fmt.Sprintf("retry_after_s must be between 0 and %d", maxFaultRetryAfter)}
	}
	return nil
}

// SetFault replaces the pending fault with f (after Validate).
func (m *Mailbox) SetFault(f Fault) error {
	if err := f.Validate(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	f.Limited = 0
	if f.RateLimit > 0 {
		f.Status = http.StatusTooManyRequests
		if f.WindowS == 0 {
			f.WindowS = defaultLimitWindowS
		}
	}
	m.fault, m.window = f, limitWindow{}
	return nil
}

// Fault returns the pending fault; Count is how many sends it still fails (0: none).
func (m *Mailbox) Fault() Fault {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.fault
}

// ClearFault drops the pending fault; later sends are accepted again.
func (m *Mailbox) ClearFault() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.fault, m.window = Fault{}, limitWindow{}
}

// takeFault consumes one use of the pending fault, if any.
func (m *Mailbox) takeFault() (Fault, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fault.Count <= 0 {
		return Fault{}, false
	}
	f := m.fault
	m.fault.Count--
	if m.fault.Count == 0 {
		m.fault = Fault{}
	}
	return f, true
}

// answerFault plays one fault: wait, then answer like MailerSend would. A pure delay
// answers 503 once the wait is over, because the message was not accepted either way.
// The wait ends early when the client gives up, so a hang does not hold the server.
func answerFault(ctx context.Context, w http.ResponseWriter, f Fault) {
	if f.DelayMS > 0 {
		t := time.NewTimer(time.Duration(f.DelayMS) * time.Millisecond)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
	status := f.Status
	if status == 0 {
		status = http.StatusServiceUnavailable
	}
	if f.RetryAfterS > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(f.RetryAfterS))
	}
	body := map[string]any{"message": faultMessage(status)}
	if status == http.StatusUnprocessableEntity {
		body["errors"] = map[string][]string{"to.0.email": {"The to.0.email domain is not allowed (simulated fault)."}}
	}
	writeJSON(w, status, body)
}

func faultMessage(status int) string {
	switch status {
	case http.StatusTooManyRequests:
		return "Too Many Attempts. (simulated fault)"
	case http.StatusUnprocessableEntity:
		return "The to.0.email domain is not allowed (simulated fault)."
	default:
		return http.StatusText(status) + " (simulated fault)"
	}
}
