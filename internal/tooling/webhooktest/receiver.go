// Package webhooktest is a webhook receiver for tests and benchmarks: a local HTTP
// server that records every delivery it is sent, checks its signature, and answers as
// the test scripts it (500 then 200, 410, slow, ...).
package webhooktest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/headshotpro/retryd/internal/store"
	"github.com/headshotpro/retryd/internal/webhook"
)

// Delivery is one request the receiver got.
type Delivery struct {
	At        time.Time
	MsgID     string // webhook-id: the event's id
	Event     store.EventBody
	Signed    bool // the signature verified with one of the receiver's secrets
	Answered  int  // the status the receiver answered
	Attempt   int  // 1 for the first request with this MsgID, 2 for the next, ...
	UserAgent string
	// Header and Body are the request as received, for checks of their own.
	Header http.Header
	Body   []byte
	// Cut: the sender went away before the answer was written (its process was killed,
	// its timeout ran out) or the body came incomplete; the sender never saw Answered.
	Cut bool
}

// Answer is what the receiver does with its n-th request of a message (1-based).
type Answer func(msgID string, attempt int) (status int, header http.Header, delay time.Duration)

// OK answers 200 at once.
func OK(string, int) (int, http.Header, time.Duration) { return http.StatusOK, nil, 0 }

// Receiver records deliveries.
type Receiver struct {
	URL string

	srv     *httptest.Server
	mu      sync.Mutex
	secrets []string
	answer  Answer
	got     []Delivery
	tries   map[string]int
	serving int // requests read and not yet answered
	notify  chan struct{}
}

// New starts a receiver answering with answer (OK when nil) until the test ends.
func New(t testing.TB, answer Answer) *Receiver {
	t.Helper()
	r := NewServer(answer)
	t.Cleanup(r.Close)
	return r
}

// NewServer starts a receiver answering with answer (OK when nil) for a caller with no
// testing.TB (the benchmark), which stops it with Close.
func NewServer(answer Answer) *Receiver {
	if answer == nil {
		answer = OK
	}
	r := &Receiver{answer: answer, tries: map[string]int{}, notify: make(chan struct{}, 1)}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	r.URL = r.srv.URL + "/hooks"
	return r
}

// Close stops the receiver: later deliveries find nothing listening.
func (r *Receiver) Close() { r.srv.Close() }

// Trust adds a secret the signatures are checked with.
func (r *Receiver) Trust(secret string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.secrets = append(r.secrets, secret)
}

// SetAnswer changes how later requests are answered.
func (r *Receiver) SetAnswer(a Answer) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.answer = a
}

func (r *Receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	d := Delivery{At: time.Now(), MsgID: req.Header.Get(webhook.HeaderID), UserAgent: req.UserAgent(), Header: req.Header.Clone(), Body: body, Cut: err != nil}
	_ = json.Unmarshal(body, &d.Event)
	r.mu.Lock()
	r.serving++
	for _, s := range r.secrets {
		if webhook.Verify(s, req.Header, body, time.Now(), 5*time.Minute) == nil {
			d.Signed = true
		}
	}
	r.tries[d.MsgID]++
	d.Attempt = r.tries[d.MsgID]
	answer := r.answer
	r.mu.Unlock()
	status, header, delay := answer(d.MsgID, d.Attempt)
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-req.Context().Done():
		}
	}
	for k, vs := range header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	w.WriteHeader(status)
	d.Answered = status
	// The server cancels the request's context once the sender's connection closes.
	d.Cut = d.Cut || req.Context().Err() != nil
	r.mu.Lock()
	r.serving--
	r.got = append(r.got, d)
	r.mu.Unlock()
	select {
	case r.notify <- struct{}{}:
	default:
	}
}

// Answered receives after requests are answered, several folded into one: a caller that
// waits for deliveries outside a test (the benchmark) wakes on it rather than polling.
// Wait reads it too, so only one of them should wait at a time.
func (r *Receiver) Answered() <-chan struct{} { return r.notify }

// InFlight tells how many requests the receiver is answering at this moment: delivery
// attempts a sender has made and not yet had the answer of.
func (r *Receiver) InFlight() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.serving
}

// Deliveries returns what the receiver got so far, in order of answer.
func (r *Receiver) Deliveries() []Delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Delivery(nil), r.got...)
}

// Of returns the deliveries of events of type typ.
func (r *Receiver) Of(typ string) []Delivery {
	var out []Delivery
	for _, d := range r.Deliveries() {
		if d.Event.Type == typ {
			out = append(out, d)
		}
	}
	return out
}

// Accepted returns, per event id, how many times the receiver answered it with 2xx to a
// sender still there to read the answer (a cut request's 2xx never reached it).
func (r *Receiver) Accepted() map[string]int {
	out := map[string]int{}
	for _, d := range r.Deliveries() {
		if d.Answered >= 200 && d.Answered < 300 && !d.Cut {
			out[d.MsgID]++
		}
	}
	return out
}

// Wait waits until cond holds over the deliveries, or fails the test after timeout.
func (r *Receiver) Wait(t testing.TB, timeout time.Duration, what string, cond func([]Delivery) bool) []Delivery {
	t.Helper()
	deadline := time.After(timeout)
	for {
		got := r.Deliveries()
		if cond(got) {
			return got
		}
		select {
		case <-r.notify:
		case <-time.After(100 * time.Millisecond):
		case <-deadline:
			t.Fatalf("webhooktest: timed out after %s waiting for %s; got %d deliveries: %+v", timeout, what, len(got), summary(got))
		}
	}
}

func summary(ds []Delivery) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.Event.Type + "#" + d.MsgID[:min(8, len(d.MsgID))] + "→" + http.StatusText(d.Answered)
	}
	return out
}
