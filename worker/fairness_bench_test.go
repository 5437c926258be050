package worker_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/headshotpro/retryd/internal/devserver"
	"github.com/headshotpro/retryd/internal/seed"
	"github.com/headshotpro/retryd/internal/tooling/apptest"
	"github.com/headshotpro/retryd/internal/tooling/testenv"
	"github.com/headshotpro/retryd/workflows"
)

// Environment of BenchmarkEmailFairness; unset, the defaults in fairBench.
const (
	envFairBacklog  = "RETRYD_FAIR_BACKLOG"    // A's retries given at once (one first email each)
	envFairRate     = "RETRYD_FAIR_RATE"       // MAIL_RATE_PER_MINUTE
	envFairGives    = "RETRYD_FAIR_B_GIVES"    // B's retries, given one after another
	envFairInterval = "RETRYD_FAIR_B_INTERVAL" // between B's gives (a Go duration)
)

// BenchmarkEmailFairness measures how long organization B's first emails take (from its
// give through the API to the message in the local mailbox) while organization A's
// backlog of first emails drains at the configured pace, on a dev server with fairness on
// and on one with it off. Each sub-benchmark is one run (use -benchtime 1x); the figures
// are reported as metrics, and docs/benchmarks.md ("Email fairness") has a run of it.
//
//	go test -run '^$' -bench BenchmarkEmailFairness -benchtime 1x -timeout 30m ./worker
func BenchmarkEmailFairness(b *testing.B) {
	c := fairBench{backlog: 120, rate: 60, gives: 5, interval: 10 * time.Second}
	c.backlog = envInt(b, envFairBacklog, c.backlog)
	c.rate = envInt(b, envFairRate, c.rate)
	c.gives = envInt(b, envFairGives, c.gives)
	if v := os.Getenv(envFairInterval); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			b.Fatalf("%s: %v", envFairInterval, err)
		}
		c.interval = d
	}
	for _, fair := range []bool{true, false} {
		b.Run(fmt.Sprintf("fairness=%v", fair), func(b *testing.B) {
			for b.Loop() {
				c.run(b, fair)
			}
		})
	}
}

type fairBench struct {
	backlog, rate, gives int
	interval             time.Duration
}

func (c fairBench) run(b *testing.B, fair bool) {
	ctx, cancel := context.WithTimeout(b.Context(), 90*time.Second)
	defer cancel()
	srv, err := devserver.Start(ctx, devserver.Options{CLIPath: testenv.TemporalCLI(b), Headless: true,
		SearchAttributes: workflows.SearchAttributeNames, DynamicConfig: []string{fmt.Sprintf("matching.enableFairness=%v", fair)}})
	if err != nil {
		b.Fatal(err)
	}
	defer func() {
		if err := srv.Stop(); err != nil {
			b.Errorf("stop the dev server: %v", err)
		}
	}()
	app := apptest.Start(b, apptest.Options{GiveTimeout: time.Minute, MailRatePerMinute: c.rate, Temporal: srv})
	busy := make([]seed.Member, c.backlog)
	for i := range busy {
		busy[i] = fairMember(fmt.Sprintf("Busy %d", i), fmt.Sprintf("busy-%d@a.test", i))
	}
	orgA := app.SeedOrg(b, c.backlog, busy...)
	quiet := make([]seed.Member, c.gives)
	addrB := map[string]bool{}
	for i := range quiet {
		addr := fmt.Sprintf("quiet-%d@b.test", i)
		quiet[i], addrB[addr] = fairMember(fmt.Sprintf("Quiet %d", i), addr), true
	}
	orgB := app.SeedOrg(b, c.gives, quiet...)

	// A's flood: every retry at once, eight gives at a time, as a bulk tool would.
	start := time.Now()
	l := app.Workflows()
	work := make(chan seed.Member)
	var wg sync.WaitGroup
	var failed sync.Map
	for range 8 {
		wg.Go(func() {
			for m := range work {
				if err := give(b.Context(), l, orgA, m); err != nil {
					failed.Store(m.ID, err)
				}
			}
		})
	}
	for _, m := range orgA.File.Organizations[0].Members {
		work <- m
	}
	close(work)
	wg.Wait()
	failed.Range(func(_, err any) bool { b.Fatal(err); return false })
	flooded := time.Since(start)

	// B's gives through the API, one every interval, while A's backlog drains.
	given := map[string]time.Time{}
	for i, m := range orgB.File.Organizations[0].Members {
		if i > 0 {
			time.Sleep(c.interval)
		}
		given[*m.Email] = time.Now()
		r := app.Do(b, "POST", "/api/v1/admin/members/"+m.ID+"/retries", orgB.AdminKey, map[string]any{"shoot_id": m.Shoots[0].ID})
		if r.Status != 201 {
			b.Fatalf("B's give answered %d: %s", r.Status, r.Body)
		}
	}
	total := c.backlog + c.gives
	wait := time.Duration(float64(total)/float64(c.rate)*float64(time.Minute))*2 + 2*time.Minute
	apptest.WaitFor(b, wait, "every email in the mailbox", func() bool { return app.Mailbox.Len() >= total })
	drained := time.Since(start)

	var delays []time.Duration
	var first, last time.Time
	for _, msg := range app.Mailbox.Messages() {
		if first.IsZero() || msg.ReceivedAt.Before(first) {
			first = msg.ReceivedAt
		}
		if msg.ReceivedAt.After(last) {
			last = msg.ReceivedAt
		}
		if len(msg.To) == 1 && addrB[msg.To[0]] {
			delays = append(delays, msg.ReceivedAt.Sub(given[msg.To[0]]))
		}
	}
	if len(delays) != c.gives {
		b.Fatalf("B's emails in the mailbox: %d, want %d", len(delays), c.gives)
	}
	slices.Sort(delays)
	achieved := float64(total-1) / last.Sub(first).Minutes()
	b.ReportMetric(delays[len(delays)/2].Seconds(), "B-p50-s")
	b.ReportMetric(delays[len(delays)-1].Seconds(), "B-max-s")
	b.ReportMetric(drained.Seconds(), "drain-s")
	b.ReportMetric(achieved, "emails/min")
	b.Logf("fairness=%v: A %d first emails given in %s, B %d gives %s apart; pace %d/min, achieved %.1f/min, all %d sent in %s; B's delays %v",
		fair, c.backlog, flooded.Round(time.Millisecond), c.gives, c.interval, c.rate, achieved, total, drained.Round(time.Second), roundAll(delays))
}

func roundAll(ds []time.Duration) []time.Duration {
	out := make([]time.Duration, len(ds))
	for i, d := range ds {
		out[i] = d.Round(100 * time.Millisecond)
	}
	return out
}

func envInt(b *testing.B, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		b.Fatalf("%s: want a positive whole number, got %q", name, v)
	}
	return n
}
