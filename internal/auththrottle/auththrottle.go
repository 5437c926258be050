// Package auththrottle counts failed authentications by a key (a client address, the
// public prefix of an API key) and says when a key has spent its allowance, so the API
// can refuse a guesser before asking the database. Each key has a token bucket of
// golang.org/x/time/rate that only failures spend: successes cost nothing, so a busy
// client with a valid key is never throttled by its own traffic.
//
// State is per process and bounded: at most Max keys are tracked, buckets that have
// refilled (indistinguishable from new ones) are dropped first when the table is full,
// then arbitrary ones. Several replicas each apply the limit.
package auththrottle

import (
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Throttle holds the failure buckets of many keys; safe for concurrent use.
type Throttle struct {
	burst int
	every time.Duration
	max   int
	now   func() time.Time

	mu      sync.Mutex
	buckets map[string]*rate.Limiter
}

// New allows burst failures per key at once and one more each every after that,
// tracking at most max keys. now is the clock (nil: time.Now). It panics unless burst
// and max are at least 1 and every is positive.
func New(burst int, every time.Duration, max int, now func() time.Time) *Throttle {
	if burst < 1 || every <= 0 || max < 1 {
		panic("auththrottle: burst and max must be at least 1 and every positive")
	}
	if now == nil {
		now = time.Now
	}
	return &Throttle{burst: burst, every: every, max: max, now: now, buckets: make(map[string]*rate.Limiter)}
}

// Wait is how long key must wait before its next failure counts as an attempt: zero
// while it has failures left, else the time until the bucket holds one again.
func (t *Throttle) Wait(key string) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	b, ok := t.buckets[key]
	if !ok {
		return 0
	}
	tokens := b.TokensAt(t.now())
	if tokens >= 1 {
		return 0
	}
	return time.Duration(math.Ceil((1 - tokens) * float64(t.every)))
}

// Fail spends one failure of key. A key with none left stays at none.
func (t *Throttle) Fail(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	b, ok := t.buckets[key]
	if !ok {
		if len(t.buckets) >= t.max {
			t.evict(now)
		}
		b = rate.NewLimiter(rate.Every(t.every), t.burst)
		t.buckets[key] = b
	}
	b.AllowN(now, 1)
}

// evict makes room: refilled buckets go first (forgetting them changes nothing), then
// arbitrary ones down to nine tenths of max, so a table kept full by a flood of new
// keys is not swept on every insert.
func (t *Throttle) evict(now time.Time) {
	for k, b := range t.buckets {
		if b.TokensAt(now) >= float64(t.burst) {
			delete(t.buckets, k)
		}
	}
	for k := range t.buckets {
		if len(t.buckets) < t.max-t.max/10 {
			break
		}
		delete(t.buckets, k)
	}
}

// Len is the number of keys tracked.
func (t *Throttle) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.buckets)
}
