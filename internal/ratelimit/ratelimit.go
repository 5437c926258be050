// Package ratelimit keeps in-memory token buckets by key (a client address, an email
// address, the public prefix of an API key), for the endpoints a stranger can call: a
// fresh member link, the sign-in page, an API key that does not resolve.
//
// The buckets are golang.org/x/time/rate's; this package adds the keys and their bound.
// A bucket that has refilled completely is indistinguishable from a new one and is
// dropped, and past maxKeys live keys the least recently used is evicted, so a flood of
// keys costs bounded memory. State is per process; several replicas each apply the limit.
//
// A limiter is spent in one of two ways: Allow spends a token on every call it lets
// through (a request is the cost), while Wait and Spend let a caller spend only on
// failures (an authentication that failed is the cost; a client with a valid key is
// never throttled by its own traffic).
package ratelimit

import (
	"container/list"
	"fmt"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// DefaultMaxKeys bounds the keys New tracks.
const DefaultMaxKeys = 100_000

// Limiter is a set of keyed token buckets; safe for concurrent use.
type Limiter struct {
	limit    rate.Limit
	burst    int
	interval time.Duration // time to earn one token
	maxKeys  int
	now      func() time.Time

	mu    sync.Mutex
	items map[string]*list.Element // of *entry
	lru   *list.List               // front = most recently used
}

type entry struct {
	key    string
	bucket *rate.Limiter
}

// New makes a limiter allowing burst requests at once per key and perSecond requests per
// second after that, tracking at most DefaultMaxKeys keys. now is the clock (nil means
// time.Now). It panics on settings that cannot be meant.
func New(perSecond float64, burst int, now func() time.Time) *Limiter {
	return NewSized(perSecond, burst, DefaultMaxKeys, now)
}

// NewSized is New with its own bound on the keys tracked.
func NewSized(perSecond float64, burst, maxKeys int, now func() time.Time) *Limiter {
	if !(perSecond > 0) || math.IsInf(perSecond, 0) {
		panic(fmt.Sprintf("ratelimit: rate must be positive and finite, got %v", perSecond))
	}
	if burst < 1 {
		panic(fmt.Sprintf("ratelimit: burst must be at least 1, got %d", burst))
	}
	if maxKeys < 1 {
		panic(fmt.Sprintf("ratelimit: maxKeys must be at least 1, got %d", maxKeys))
	}
	if float64(time.Second)/perSecond*float64(burst) > float64(math.MaxInt64)/4 {
		panic(fmt.Sprintf("ratelimit: rate %v with burst %d spans more time than time.Duration holds", perSecond, burst))
	}
	if now == nil {
		now = time.Now
	}
	return &Limiter{
		limit:    rate.Limit(perSecond),
		burst:    burst,
		interval: max(time.Duration(math.Round(float64(time.Second)/perSecond)), 1),
		maxKeys:  maxKeys,
		now:      now,
		items:    make(map[string]*list.Element),
		lru:      list.New(),
	}
}

// Every is NewSized for a limiter that earns one token per interval: burst failures at
// once, then one more per interval.
func Every(interval time.Duration, burst, maxKeys int, now func() time.Time) *Limiter {
	if interval <= 0 {
		panic(fmt.Sprintf("ratelimit: interval must be positive, got %v", interval))
	}
	return NewSized(float64(time.Second)/float64(interval), burst, maxKeys, now)
}

// Allow spends one of key's tokens if it has one. Otherwise it spends nothing and says
// how long until the next token (the Retry-After of a refusal).
func (l *Limiter) Allow(key string) (ok bool, retryAfter time.Duration) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if el, found := l.items[key]; found {
		l.lru.MoveToFront(el)
		b := el.Value.(*entry).bucket
		if !b.AllowN(now, 1) {
			return false, l.wait(b, now) // a refusal spends nothing, so nothing to sweep
		}
	} else {
		l.insert(key).AllowN(now, 1) // a new bucket is full
	}
	l.sweep(now)
	return true, 0
}

// Wait is how long until key has a token again, spending nothing: zero while it has one.
func (l *Limiter) Wait(key string) time.Duration {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	el, found := l.items[key]
	if !found {
		return 0
	}
	return l.wait(el.Value.(*entry).bucket, now)
}

// Spend takes one of key's tokens, if it has one left (a failure counted).
func (l *Limiter) Spend(key string) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if el, found := l.items[key]; found {
		l.lru.MoveToFront(el)
		el.Value.(*entry).bucket.AllowN(now, 1)
	} else {
		l.insert(key).AllowN(now, 1)
	}
	l.sweep(now)
}

// Len is the number of keys tracked (for tests).
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lru.Len()
}

// wait is the time to the next token, to the microsecond: the bucket counts tokens in
// floating point, and a nanosecond of its rounding is no wait anyone means. Callers
// answering Retry-After round it up to whole seconds.
func (l *Limiter) wait(b *rate.Limiter, now time.Time) time.Duration {
	tokens := b.TokensAt(now)
	if tokens >= 1 {
		return 0
	}
	d := time.Duration((1 - tokens) * float64(l.interval))
	return max(d.Round(time.Microsecond), time.Microsecond)
}

// insert adds a full bucket for key, evicting the least recently used past maxKeys.
func (l *Limiter) insert(key string) *rate.Limiter {
	b := rate.NewLimiter(l.limit, l.burst)
	l.items[key] = l.lru.PushFront(&entry{key: key, bucket: b})
	for l.lru.Len() > l.maxKeys {
		l.remove(l.lru.Back())
	}
	return b
}

// sweep drops refilled buckets from the least recently used end (forgetting one changes
// nothing); each call stops at the first bucket still in use, so the cost is amortised
// over the spending.
func (l *Limiter) sweep(now time.Time) {
	for el := l.lru.Back(); el != nil; el = l.lru.Back() {
		if el.Value.(*entry).bucket.TokensAt(now) < float64(l.burst) {
			return
		}
		l.remove(el)
	}
}

func (l *Limiter) remove(el *list.Element) {
	delete(l.items, el.Value.(*entry).key)
	l.lru.Remove(el)
}
