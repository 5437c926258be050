package bench

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Summary is one measurement: how long each operation took and how many went through.
type Summary struct {
	Ops     int // operations measured (a bulk call of 100 restarts is 100)
	Calls   int // calls timed: the latencies are per call
	Clients int // calls in flight at once
	P50     time.Duration
	P95     time.Duration
	P99     time.Duration
	Max     time.Duration
	Elapsed time.Duration
}

// PerSecond is operations per second over the whole measurement.
func (s Summary) PerSecond() float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(s.Ops) / s.Elapsed.Seconds()
}

// summarize turns per-call latencies into a Summary; opsPerCall counts what one call does.
func summarize(lat []time.Duration, elapsed time.Duration, clients, opsPerCall int) Summary {
	s := Summary{Ops: len(lat) * opsPerCall, Calls: len(lat), Clients: clients, Elapsed: elapsed}
	if len(lat) == 0 {
		return s
	}
	sorted := slices.Clone(lat)
	slices.Sort(sorted)
	at := func(p float64) time.Duration { return sorted[int(p*float64(len(sorted)-1))] }
	s.P50, s.P95, s.P99, s.Max = at(0.50), at(0.95), at(0.99), sorted[len(sorted)-1]
	return s
}

// load makes total calls, clients at a time, each with its own index (so each call can
// use its own member), and times each. The first error stops the rest and is returned.
func load(parent context.Context, clients, total int, call func(ctx context.Context, i int) error) ([]time.Duration, time.Duration, error) {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	lat := make([]time.Duration, total)
	var next atomic.Int64
	var once sync.Once
	var failed error
	var wg sync.WaitGroup
	start := time.Now()
	for range min(clients, total) {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= total || ctx.Err() != nil {
					return
				}
				t0 := time.Now()
				if err := call(ctx, i); err != nil {
					once.Do(func() { failed = fmt.Errorf("call %d: %w", i, err); cancel() })
					return
				}
				lat[i] = time.Since(t0)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if failed == nil {
		failed = parent.Err()
	}
	return lat, elapsed, failed
}
