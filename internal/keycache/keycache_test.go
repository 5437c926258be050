package keycache

import (
	"fmt"
	"testing"
	"time"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestEntriesExpireAfterTTL(t *testing.T) {
	clk := &clock{t: time.Unix(1000, 0)}
	c := New[string](5*time.Second, 10, clk.now)
	c.Put([]byte("k"), "v")
	if v, ok := c.Get([]byte("k")); !ok || v != "v" {
		t.Fatalf("fresh entry: %q %v", v, ok)
	}
	clk.t = clk.t.Add(5*time.Second - time.Nanosecond)
	if _, ok := c.Get([]byte("k")); !ok {
		t.Fatal("entry gone before its lifetime ended")
	}
	clk.t = clk.t.Add(time.Nanosecond)
	if _, ok := c.Get([]byte("k")); ok {
		t.Fatal("entry still served at the end of its lifetime: a revoked key would outlive the bound")
	}
	if c.Len() != 0 {
		t.Fatalf("expired entry kept: %d", c.Len())
	}
}

func TestSizeIsBounded(t *testing.T) {
	clk := &clock{t: time.Unix(1000, 0)}
	c := New[int](time.Minute, 100, clk.now)
	for i := 0; i < 1000; i++ {
		c.Put([]byte(fmt.Sprint(i)), i)
		if c.Len() > 100 {
			t.Fatalf("%d entries after %d puts, max 100", c.Len(), i+1)
		}
	}
	if v, ok := c.Get([]byte("999")); !ok || v != 999 {
		t.Fatalf("the newest entry was evicted: %v %v", v, ok)
	}
}

func TestExpiredEntriesGoFirstWhenFull(t *testing.T) {
	clk := &clock{t: time.Unix(1000, 0)}
	c := New[int](time.Second, 2, clk.now)
	c.Put([]byte("old"), 1)
	clk.t = clk.t.Add(500 * time.Millisecond)
	c.Put([]byte("live"), 2)
	clk.t = clk.t.Add(600 * time.Millisecond) // "old" expired, "live" not
	c.Put([]byte("new"), 3)
	if _, ok := c.Get([]byte("live")); !ok {
		t.Fatal("a live entry was evicted while an expired one could go")
	}
}

func TestDisabledCacheCachesNothing(t *testing.T) {
	c := New[int](0, 10, nil)
	c.Put([]byte("k"), 1)
	if _, ok := c.Get([]byte("k")); ok || c != nil {
		t.Fatal("a cache with no lifetime cached")
	}
}
