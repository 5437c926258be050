package auththrottle

import (
	"strconv"
	"sync"
	"testing"
	"time"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func TestBurstThenOneEveryInterval(t *testing.T) {
	c := &clock{t: time.Unix(1_000_000, 0)}
	th := New(3, 2*time.Second, 10, c.now)
	if w := th.Wait("a"); w != 0 {
		t.Fatalf("a fresh key waits %s", w)
	}
	for i := range 3 {
		if w := th.Wait("a"); w != 0 {
			t.Fatalf("after %d failures: wait %s, want 0", i, w)
		}
		th.Fail("a")
	}
	if w := th.Wait("a"); w != 2*time.Second {
		t.Fatalf("after the burst: wait %s, want 2s", w)
	}
	th.Fail("a") // with none left, nothing more is owed
	if w := th.Wait("a"); w != 2*time.Second {
		t.Fatalf("a failure past the burst moved the wait to %s", w)
	}
	if w := th.Wait("b"); w != 0 {
		t.Fatalf("another key waits %s", w)
	}
	c.add(1500 * time.Millisecond)
	if w := th.Wait("a"); w != 500*time.Millisecond {
		t.Fatalf("1.5s later: wait %s, want 500ms", w)
	}
	c.add(500 * time.Millisecond)
	if w := th.Wait("a"); w != 0 {
		t.Fatalf("one interval later: wait %s, want 0", w)
	}
	th.Fail("a")
	if w := th.Wait("a"); w != 2*time.Second {
		t.Fatalf("the refilled failure spent: wait %s, want 2s", w)
	}
}

func TestBoundedKeys(t *testing.T) {
	c := &clock{t: time.Unix(1_000_000, 0)}
	th := New(1, time.Minute, 100, c.now)
	for i := range 1000 {
		th.Fail(strconv.Itoa(i))
		if th.Len() > 100 {
			t.Fatalf("%d keys tracked, max 100", th.Len())
		}
	}
	// Refilled buckets are dropped before any throttled one.
	th = New(1, time.Minute, 4, c.now)
	th.Fail("old1")
	th.Fail("old2")
	c.add(time.Minute)
	th.Fail("new1")
	th.Fail("new2")
	th.Fail("new3")
	for _, k := range []string{"new1", "new2", "new3"} {
		if th.Wait(k) == 0 {
			t.Errorf("%s was forgotten while refilled buckets were kept", k)
		}
	}
}
