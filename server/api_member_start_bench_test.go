package server_test

import (
	"context"
	"net/http"
	"sort"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/headshotpro/retryd/internal/store"
	"github.com/headshotpro/retryd/internal/tooling/apptest"
	"github.com/headshotpro/retryd/workflows"
)

// BenchmarkMemberStartParts splits a member's start into what it waits on: the whole
// start over HTTP, the start's transaction alone (store.StartShoot, no signal), and the
// signal alone to a waiting retry's workflow (what the engine floor's signal row
// measures). Each iteration runs the three on three members whose retries were given
// alike, so the machine meets the three in the same state: back to back, as the
// benchmark's starts run, or settled (50 ms before each part, so no part pays for the
// workflow the one before it woke). Run:
//
//	go test ./server -run '^$' -bench BenchmarkMemberStartParts -benchtime 100x
func BenchmarkMemberStartParts(b *testing.B) {
	for _, tc := range []struct {
		name   string
		settle time.Duration
	}{{"back-to-back", 0}, {"settled", 50 * time.Millisecond}} {
		b.Run(tc.name, func(b *testing.B) { memberStartParts(b, tc.settle) })
	}
}

func memberStartParts(b *testing.B, settle time.Duration) {
	app := apptest.Start(b, apptest.Options{})
	org := app.SeedOrg(b, 0, givable(3*b.N)...)
	ms := org.File.Organizations[0].Members
	for i := range ms {
		if r := app.Do(b, "POST", "/api/v1/admin/members/"+ms[i].ID+"/retries", org.AdminKey,
			map[string]any{"shoot_id": ms[i].Shoots[0].ID}); r.Status != 201 {
			b.Fatalf("give %d: %d %s", i, r.Status, r.Body)
		}
	}
	ctx := context.Background()
	client := &http.Client{}
	var whole, tx, signal []time.Duration
	timed := func(into *[]time.Duration, part func() error) {
		time.Sleep(settle)
		t0 := time.Now()
		if err := part(); err != nil {
			b.Fatal(err)
		}
		*into = append(*into, time.Since(t0))
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m := ms[3*i]
		tok, _ := app.Links.Issue(m.ID, m.Shoots[0].ID, time.Now())
		timed(&whole, func() error {
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, app.URL+"/api/v1/member/shoots/"+m.Shoots[0].ID+"/start", nil)
			if err != nil {
				return err
			}
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := client.Do(req)
			if err != nil {
				return err
			}
			_ = resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Fatalf("start %d: %d", i, resp.StatusCode)
			}
			return nil
		})
		alone := ms[3*i+1]
		timed(&tx, func() error {
			_, err := store.StartShoot(ctx, app.DB, alone.ID, alone.Shoots[0].ID, uuid.NewString(), time.Now())
			return err
		})
		signaled := ms[3*i+2]
		timed(&signal, func() error {
			return app.Temporal.SignalWorkflow(ctx, workflows.RetryWorkflowID(signaled.Shoots[0].ID), "", workflows.SignalShootStarted, nil)
		})
	}
	b.StopTimer()
	p50 := func(d []time.Duration) float64 {
		sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
		return float64(d[len(d)/2].Microseconds()) / 1000
	}
	b.ReportMetric(p50(whole), "start_p50_ms")
	b.ReportMetric(p50(tx), "transaction_p50_ms")
	b.ReportMetric(p50(signal), "signal_p50_ms")
}
