package ratelimit

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// step is one call in a scenario: advance the clock, then Allow(key).
type step struct {
	advance    time.Duration
	key        string
	ok         bool
	retryAfter time.Duration
}

func TestAllow(t *testing.T) {
	cases := []struct {
		name  string
		rate  float64
		burst int
		steps []step
	}{
		{
			name: "burst then refusal", rate: 1, burst: 3,
			steps: []step{
				{key: "a", ok: true}, {key: "a", ok: true}, {key: "a", ok: true},
				{key: "a", ok: false, retryAfter: time.Second},
				{key: "a", ok: false, retryAfter: time.Second}, // a refusal takes nothing
			},
		},
		{
			name: "retry after counts down", rate: 1, burst: 1,
			steps: []step{
				{key: "a", ok: true},
				{advance: 300 * time.Millisecond, key: "a", ok: false, retryAfter: 700 * time.Millisecond},
				{advance: 699 * time.Millisecond, key: "a", ok: false, retryAfter: time.Millisecond},
				{advance: time.Millisecond, key: "a", ok: true},
			},
		},
		{
			name: "slow rate", rate: 1.0 / 60, burst: 2, // 2 at once, then one a minute
			steps: []step{
				{key: "a", ok: true}, {key: "a", ok: true},
				{key: "a", ok: false, retryAfter: time.Minute},
				{advance: 59 * time.Second, key: "a", ok: false, retryAfter: time.Second},
				{advance: time.Second, key: "a", ok: true},
				{key: "a", ok: false, retryAfter: time.Minute},
			},
		},
		{
			name: "fast rate", rate: 10, burst: 1,
			steps: []step{
				{key: "a", ok: true},
				{key: "a", ok: false, retryAfter: 100 * time.Millisecond},
				{advance: 100 * time.Millisecond, key: "a", ok: true},
			},
		},
		{
			name: "refill is partial then capped at burst", rate: 1, burst: 3,
			steps: []step{
				{key: "a", ok: true}, {key: "a", ok: true}, {key: "a", ok: true},
				{advance: 2 * time.Second, key: "a", ok: true}, // two tokens back
				{key: "a", ok: true},
				{key: "a", ok: false, retryAfter: time.Second},
				{advance: time.Hour, key: "a", ok: true}, // idle an hour: burst, not 3600
				{key: "a", ok: true}, {key: "a", ok: true},
				{key: "a", ok: false, retryAfter: time.Second},
			},
		},
		{
			name: "keys are independent", rate: 1, burst: 1,
			steps: []step{
				{key: "203.0.113.7", ok: true},
				{key: "203.0.113.7", ok: false, retryAfter: time.Second},
				{key: "ada@example.test", ok: true},
				{key: "ada@example.test", ok: false, retryAfter: time.Second},
				{key: "", ok: true},
				{advance: 500 * time.Millisecond, key: "203.0.113.7", ok: false, retryAfter: 500 * time.Millisecond},
				{advance: 500 * time.Millisecond, key: "203.0.113.7", ok: true},
			},
		},
		{
			// The bucket (golang.org/x/time/rate) earns nothing while the clock is behind
			// its last grant, and says a token's interval meanwhile.
			name: "clock going back grants nothing", rate: 1, burst: 1,
			steps: []step{
				{key: "a", ok: true},
				{advance: -10 * time.Second, key: "a", ok: false, retryAfter: time.Second},
				{advance: 10 * time.Second, key: "a", ok: false, retryAfter: time.Second},
				{advance: 999 * time.Millisecond, key: "a", ok: false, retryAfter: time.Millisecond},
				{advance: time.Millisecond, key: "a", ok: true},
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			clk := newClock()
			l := New(tc.rate, tc.burst, clk.Now)
			for i, s := range tc.steps {
				clk.Advance(s.advance)
				ok, ra := l.Allow(s.key)
				if ok != s.ok || ra != s.retryAfter {
					t.Fatalf("step %d (%q after +%v): Allow = %v, %v; want %v, %v", i, s.key, s.advance, ok, ra, s.ok, s.retryAfter)
				}
			}
		})
	}
}

func TestEvictionBound(t *testing.T) {
	clk := newClock()
	l := NewSized(1, 1, 100, clk.Now)
	for i := range 1000 {
		if ok, _ := l.Allow(fmt.Sprintf("k%d", i)); !ok {
			t.Fatalf("new key %d refused", i)
		}
		if n := l.Len(); n > 100 {
			t.Fatalf("after %d keys Len = %d, want at most 100", i+1, n)
		}
	}
	if n := l.Len(); n != 100 {
		t.Errorf("Len = %d, want 100", n)
	}
	// The most recent keys are kept (still limited), the oldest were dropped.
	if ok, _ := l.Allow("k999"); ok {
		t.Error("recent key k999 forgot its spent token")
	}
	if ok, _ := l.Allow("k0"); !ok {
		t.Error("evicted key k0 should start over with a full bucket")
	}
}

func TestEvictionKeepsRecentlyUsed(t *testing.T) {
	clk := newClock()
	l := NewSized(1, 1, 3, clk.Now)
	l.Allow("hot")
	l.Allow("b")
	l.Allow("c")
	if ok, _ := l.Allow("hot"); ok { // refused, but touched: now most recently used
		t.Fatal("hot allowed twice")
	}
	l.Allow("d") // evicts b, the least recently used
	if ok, _ := l.Allow("hot"); ok {
		t.Error("a key hammering the limit was evicted and got a fresh bucket")
	}
	if ok, _ := l.Allow("c"); ok {
		t.Error("c was evicted before b")
	}
}

func TestIdleKeysAreDropped(t *testing.T) {
	clk := newClock()
	l := New(1, 5, clk.Now) // refills completely in 5 s
	for i := range 50 {
		for range 5 { // spend the whole burst: full again in 5 s
			l.Allow(fmt.Sprintf("k%d", i))
		}
	}
	if n := l.Len(); n != 50 {
		t.Fatalf("Len = %d, want 50", n)
	}
	clk.Advance(4 * time.Second)
	l.Allow("x")
	if n := l.Len(); n != 51 {
		t.Fatalf("buckets not yet full were dropped: Len = %d, want 51", n)
	}
	clk.Advance(time.Second)
	l.Allow("y")
	if n := l.Len(); n != 1 { // x spent one token a second ago: full again too
		t.Errorf("after every old bucket refilled Len = %d, want 1 (y)", n)
	}
}

func TestConcurrentAllow(t *testing.T) {
	clk := newClock()
	l := New(1, 10, clk.Now)
	var allowed atomic.Int64
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			for range 20 {
				if ok, _ := l.Allow("shared"); ok {
					allowed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if n := allowed.Load(); n != 10 {
		t.Errorf("allowed %d of 1000 concurrent calls, want the burst of 10", n)
	}
}

func TestNewRejectsBadSettings(t *testing.T) {
	for _, tc := range []struct {
		name    string
		rate    float64
		burst   int
		maxKeys int
	}{
		{"zero rate", 0, 1, 1},
		{"negative rate", -1, 1, 1},
		{"zero burst", 1, 0, 1},
		{"zero max keys", 1, 1, 0},
		{"rate too slow", 1e-12, 1 << 20, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			NewSized(tc.rate, tc.burst, tc.maxKeys, nil)
		})
	}
}

func TestNilClockUsesTime(t *testing.T) {
	l := New(1, 1, nil)
	if ok, _ := l.Allow("a"); !ok {
		t.Fatal("first call refused")
	}
	if ok, ra := l.Allow("a"); ok || ra <= 0 || ra > time.Second {
		t.Errorf("second call = %v, %v", ok, ra)
	}
}
