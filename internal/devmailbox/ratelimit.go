package devmailbox

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"
)

// defaultLimitWindowS is MailerSend's window: its limits are requests per minute.
const defaultLimitWindowS = 60

// limitWindow is the rate limit's current window. Like MailerSend (a Laravel throttle),
// a window opens at the first request after the last one closed and lasts WindowS; the
// requests it refused do not count against it.
type limitWindow struct {
	start time.Time
	used  int
}

// limitAnswer is what the limit decided for one send, and the headers that say so.
type limitAnswer struct {
	refused   bool
	limit     int
	windowS   int
	remaining int
	reset     time.Time
}

func (f Fault) validateLimit() error {
	switch {
	case f.RateLimit < 1 || f.RateLimit > maxFaultCount:
		return &FaultError{fmt.Sprintf("rate_limit must be between 1 and %d", maxFaultCount)}
	case f.WindowS < 0 || f.WindowS > maxFaultRetryAfter:
		return &FaultError{fmt.Sprintf("window_s must be between 0 and %d", maxFaultRetryAfter)}
	case f.Count != 0 || f.DelayMS != 0 || f.RetryAfterS != 0 || (f.Status != 0 && f.Status != http.StatusTooManyRequests):
		return &FaultError{"rate_limit lasts until cleared and answers 429 with its own Retry-After: give it alone (status 429 or 0, no count, delay_ms or retry_after_s)"}
	}
	return nil
}

// admit applies the rate limit, if one is set, to a send arriving at now.
func (m *Mailbox) admit(now time.Time) (limitAnswer, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f := m.fault
	if f.RateLimit <= 0 {
		return limitAnswer{}, false
	}
	window := time.Duration(f.WindowS) * time.Second
	if m.window.start.IsZero() || !now.Before(m.window.start.Add(window)) {
		m.window = limitWindow{start: now}
	}
	a := limitAnswer{limit: f.RateLimit, windowS: f.WindowS, reset: m.window.start.Add(window)}
	if m.window.used >= f.RateLimit {
		a.refused = true
		m.fault.Limited++
		return a, true
	}
	m.window.used++
	a.remaining = f.RateLimit - m.window.used
	return a, true
}

// writeHeaders sets the x-ratelimit headers MailerSend puts on every answer, and on a
// refusal the Retry-After that tells when the window reopens (whole seconds, at least 1).
func (a limitAnswer) writeHeaders(w http.ResponseWriter, now time.Time) {
	h := w.Header()
	h.Set("X-Ratelimit-Limit", strconv.Itoa(a.limit))
	h.Set("X-Ratelimit-Remaining", strconv.Itoa(a.remaining))
	if a.refused {
		h.Set("X-Ratelimit-Reset", strconv.FormatInt(a.reset.Unix(), 10))
		wait := int(math.Ceil(a.reset.Sub(now).Seconds()))
		h.Set("Retry-After", strconv.Itoa(max(wait, 1)))
	}
}

// message is MailerSend's wording of a refusal, marked as simulated.
func (a limitAnswer) message() string {
	per := "min"
	if a.windowS != defaultLimitWindowS {
		per = strconv.Itoa(a.windowS) + "s"
	}
	return fmt.Sprintf("Your account reached its rate limit of %d requests/%s. Please wait before trying again. (simulated fault)", a.limit, per)
}
