package ratelimit

import (
	"strconv"
	"testing"
	"time"
)

// A limiter spent only on failures (Wait, then Spend when the attempt failed): what the
// API's throttle of wrong keys does.
func TestSpendOnFailuresOnly(t *testing.T) {
	c := newClock()
	th := Every(2*time.Second, 3, 10, c.Now)
	if w := th.Wait("a"); w != 0 {
		t.Fatalf("a fresh key waits %s", w)
	}
	for i := range 3 {
		if w := th.Wait("a"); w != 0 {
			t.Fatalf("after %d failures: wait %s, want 0", i, w)
		}
		th.Spend("a")
	}
	if w := th.Wait("a"); w != 2*time.Second {
		t.Fatalf("after the burst: wait %s, want 2s", w)
	}
	th.Spend("a") // with none left, nothing more is owed
	if w := th.Wait("a"); w != 2*time.Second {
		t.Fatalf("a failure past the burst moved the wait to %s", w)
	}
	if w := th.Wait("b"); w != 0 {
		t.Fatalf("another key waits %s", w)
	}
	c.Advance(1500 * time.Millisecond)
	if w := th.Wait("a"); w != 500*time.Millisecond {
		t.Fatalf("1.5s later: wait %s, want 500ms", w)
	}
	c.Advance(500 * time.Millisecond)
	if w := th.Wait("a"); w != 0 {
		t.Fatalf("one interval later: wait %s, want 0", w)
	}
	th.Spend("a")
	if w := th.Wait("a"); w != 2*time.Second {
		t.Fatalf("the refilled failure spent: wait %s, want 2s", w)
	}
}

func TestSpentKeysAreBounded(t *testing.T) {
	c := newClock()
	th := Every(time.Minute, 1, 100, c.Now)
	for i := range 1000 {
		th.Spend(strconv.Itoa(i))
		if th.Len() > 100 {
			t.Fatalf("%d keys tracked, max 100", th.Len())
		}
	}
	// Refilled buckets are dropped before any throttled one.
	th = Every(time.Minute, 1, 4, c.Now)
	th.Spend("old1")
	th.Spend("old2")
	c.Advance(time.Minute)
	th.Spend("new1")
	th.Spend("new2")
	th.Spend("new3")
	for _, k := range []string{"new1", "new2", "new3"} {
		if th.Wait(k) == 0 {
			t.Errorf("%s was forgotten while refilled buckets were kept", k)
		}
	}
}
