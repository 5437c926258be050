// Package keycache remembers resolved API keys for a short time, so an API request does
// not pay a database round trip to authenticate a key it saw a moment ago.
//
// Revocation is a database write, usually by `retryd keys revoke` in another process,
// which this cache is never told about. A revoked key therefore keeps working on each
// API process for at most the cache's lifetime after the revocation commits; that
// lifetime is the bound operators are given, so it is kept short. The API keeps
// resolved keys and refused ones (a few seconds, so a repeated wrong key is not looked
// up again) in two separate caches, so a flood of wrong keys can neither fill the first
// nor push good keys out.
package keycache

import (
	"sync"
	"time"
)

// Cache maps a key's hash to what it resolved to, for at most TTL, holding at most Max
// entries. A nil *Cache caches nothing. Safe for concurrent use.
type Cache[V any] struct {
	ttl time.Duration
	max int
	now func() time.Time

	mu      sync.Mutex
	entries map[string]entry[V]
}

type entry[V any] struct {
	value   V
	expires time.Time
}

// New builds a cache; ttl <= 0 or max <= 0 returns nil, a cache that caches nothing.
func New[V any](ttl time.Duration, max int, now func() time.Time) *Cache[V] {
	if ttl <= 0 || max <= 0 {
		return nil
	}
	if now == nil {
		now = time.Now
	}
	return &Cache[V]{ttl: ttl, max: max, now: now, entries: make(map[string]entry[V])}
}

// Get returns the value cached for hash while it is fresh.
func (c *Cache[V]) Get(hash []byte) (V, bool) {
	var zero V
	if c == nil {
		return zero, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[string(hash)]
	if !ok {
		return zero, false
	}
	if !c.now().Before(e.expires) {
		delete(c.entries, string(hash))
		return zero, false
	}
	return e.value, true
}

// Put caches value for hash for the cache's TTL. When the cache is full it first drops
// expired entries, then, if still full, an arbitrary one: with a lifetime of seconds a
// full cache means more distinct live keys than Max, and any of them costs one lookup.
func (c *Cache[V]) Put(hash []byte, value V) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if _, ok := c.entries[string(hash)]; !ok && len(c.entries) >= c.max {
		for k, e := range c.entries {
			if !now.Before(e.expires) {
				delete(c.entries, k)
			}
		}
		for k := range c.entries {
			if len(c.entries) < c.max {
				break
			}
			delete(c.entries, k)
		}
	}
	c.entries[string(hash)] = entry[V]{value: value, expires: now.Add(c.ttl)}
}

// Len is the number of entries held, fresh or not.
func (c *Cache[V]) Len() int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}
