// Package ratelimit is an in-memory, keyed token-bucket limiter for abuse-prone public
// endpoints (POST /api/v1/member/link, per address and per client).
//
// Each key gets a bucket of burst tokens refilled at rate tokens per second, kept as a
// "theoretical arrival time" (GCRA) in integer nanoseconds, so refills are exact. Memory
// is bounded: a bucket that has refilled completely is indistinguishable from a new one
// and is dropped, and when more than maxKeys keys are live the least recently used is
// evicted. State is per process; several replicas each apply the limit.
package ratelimit

import (
	"container/list"
	"fmt"
	"math"
	"sync"
	"time"
)

// DefaultMaxKeys bounds the keys New tracks.
const DefaultMaxKeys = 100_000

// Limiter is a set of keyed token buckets; safe for concurrent use.
type Limiter struct {
	interval time.Duration // time to earn one token
	span     time.Duration // burst * interval: how far ahead a bucket may be spent
	maxKeys  int
	now      func() time.Time

	mu    sync.Mutex
	items map[string]*list.Element // of *entry
	lru   *list.List               // front = most recently used
}

type entry struct {
	key string
	tat time.Time // when the bucket is full again; at or before now means full
}

// New makes a limiter allowing burst requests at once per key and rate requests per
// second after that, tracking at most DefaultMaxKeys keys. now is the clock (nil means
// time.Now). It panics unless rate is positive and finite and burst is at least 1.
func New(rate float64, burst int, now func() time.Time) *Limiter {
	return NewSized(rate, burst, DefaultMaxKeys, now)
}

// NewSized is New with a bound on the keys tracked (at least 1).
func NewSized(rate float64, burst, maxKeys int, now func() time.Time) *Limiter {
	if !(rate > 0) || math.IsInf(rate, 0) {
		panic(fmt.Sprintf("ratelimit: rate must be positive and finite, got %v", rate))
	}
	if burst < 1 {
		panic(fmt.Sprintf("ratelimit: burst must be at least 1, got %d", burst))
	}
	if maxKeys < 1 {
		panic(fmt.Sprintf("ratelimit: maxKeys must be at least 1, got %d", maxKeys))
	}
	if float64(time.Second)/rate*float64(burst) > float64(math.MaxInt64)/4 {
		panic(fmt.Sprintf("ratelimit: rate %v with burst %d spans more time than time.Duration holds", rate, burst))
	}
	if now == nil {
		now = time.Now
	}
	interval := time.Duration(math.Round(float64(time.Second) / rate))
	if interval < 1 {
		interval = 1
	}
	return &Limiter{
		interval: interval,
		span:     interval * time.Duration(burst),
		maxKeys:  maxKeys,
		now:      now,
		items:    make(map[string]*list.Element),
		lru:      list.New(),
	}
}

// Allow takes a token from key's bucket. When the bucket is empty it refuses and says
// how long until a token is available (always positive then; round it up to whole
// seconds for a Retry-After header). A refused call takes nothing.
func (l *Limiter) Allow(key string) (ok bool, retryAfter time.Duration) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()

	el, found := l.items[key]
	var e *entry
	if found {
		e = el.Value.(*entry)
		l.lru.MoveToFront(el)
	} else {
		e = &entry{key: key}
	}
	tat := e.tat
	if tat.Before(now) {
		tat = now
	}
	next := tat.Add(l.interval)
	if wait := next.Sub(now) - l.span; wait > 0 {
		return false, wait // only a known key can be empty, so nothing to insert
	}
	e.tat = next
	if !found {
		l.items[key] = l.lru.PushFront(e)
		for l.lru.Len() > l.maxKeys {
			l.remove(l.lru.Back())
		}
	}
	l.sweep(now)
	return true, 0
}

// sweep drops refilled buckets from the least recently used end; each call stops at
// the first bucket still in use, so the cost is amortised over the insertions.
func (l *Limiter) sweep(now time.Time) {
	for el := l.lru.Back(); el != nil; el = l.lru.Back() {
		if el.Value.(*entry).tat.After(now) {
			return
		}
		l.remove(el)
	}
}

func (l *Limiter) remove(el *list.Element) {
	l.lru.Remove(el)
	delete(l.items, el.Value.(*entry).key)
}

// Len is the number of keys tracked (for tests and metrics).
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lru.Len()
}
