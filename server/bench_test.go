package server_test

import (
	"context"
	"io"
	"log/slog"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/headshotpro/retryd/internal/seed"
	"github.com/headshotpro/retryd/internal/tooling/apptest"
	"github.com/headshotpro/retryd/internal/tooling/testenv"
)

// BenchmarkGiveRetry measures a give-retry end to end as a client sees it: HTTP, the
// pre-check, Update-with-Start, the reserve/delete/reset local activities, and the read
// of the retry for the 201. Each iteration gives a retry to a different member. Run:
//
//	go test ./server -run '^$' -bench BenchmarkGiveRetry -benchtime 300x
//
// It reports the median and 99th percentile besides ns/op.
func BenchmarkGiveRetry(b *testing.B) {
	app := apptest.Start(b, apptest.Options{})
	org := app.SeedOrg(b, 0, givable(b.N)...)
	ms := org.File.Organizations[0].Members
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		r := app.Do(b, "POST", "/api/v1/admin/members/"+ms[i].ID+"/retries", org.AdminKey, map[string]any{"shoot_id": ms[i].Shoots[0].ID})
		lat = append(lat, time.Since(start))
		if r.Status != 201 {
			b.Fatalf("give %d: %d %s", i, r.Status, r.Body)
		}
	}
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	pct := func(p float64) float64 {
		return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.50), "p50_ms")
	b.ReportMetric(pct(0.99), "p99_ms")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "max_ms")
}

// BenchmarkDashboard10k pages the dashboard of an organization of 10,000 members (9,000
// finished, 900 in progress, 100 deleted): the sparse Deleted section is the worst case
// of the keyset scan. Run:
//
//	go test ./server -run '^$' -bench BenchmarkDashboard10k -benchtime 50x
func BenchmarkDashboard10k(b *testing.B) {
	app := apptest.Start(b, apptest.Options{})
	org := app.SeedOrg(b, 0, benchMembers("Member", 10000)...)
	for _, section := range []string{"finished", "in_progress", "deleted"} {
		b.Run(section, func(b *testing.B) {
			lat := make([]time.Duration, 0, b.N)
			for i := 0; i < b.N; i++ {
				start := time.Now()
				r := app.Do(b, "GET", "/api/v1/admin/headshots?section="+section+"&limit=50", org.AdminKey, nil)
				lat = append(lat, time.Since(start))
				if r.Status != 200 {
					b.Fatalf("%d %s", r.Status, r.Body)
				}
			}
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50_ms")
			b.ReportMetric(float64(lat[int(0.99*float64(len(lat)-1))].Microseconds())/1000, "p99_ms")
		})
	}
}

// BenchmarkUpdateWithStartFloor is the floor under BenchmarkGiveRetry: an Update-with-Start
// of a workflow whose update answers at once, with no activity and no database, on the
// same dev server. Run:
//
//	go test ./server -run '^$' -bench BenchmarkUpdateWithStartFloor -benchtime 300x
func BenchmarkUpdateWithStartFloor(b *testing.B) {
	srv := testenv.Temporal(b)
	quiet := tlog.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))
	c, err := client.Dial(client.Options{HostPort: srv.Address, Namespace: srv.Namespace, Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	queue := "floor-" + uuid.NewString()
	w := worker.New(c, queue, worker.Options{})
	w.RegisterWorkflowWithOptions(floorWorkflow, workflow.RegisterOptions{Name: "FloorWorkflow"})
	if err := w.Start(); err != nil {
		b.Fatal(err)
	}
	defer w.Stop()
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		op := c.NewWithStartWorkflowOperation(client.StartWorkflowOptions{
			ID: uuid.NewString(), TaskQueue: queue, WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		}, "FloorWorkflow")
		h, err := c.UpdateWithStartWorkflow(context.Background(), client.UpdateWithStartWorkflowOptions{
			StartWorkflowOperation: op,
			UpdateOptions:          client.UpdateWorkflowOptions{UpdateName: "answer", WaitForStage: client.WorkflowUpdateStageCompleted},
		})
		if err == nil {
			err = h.Get(context.Background(), nil)
		}
		if err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50_ms")
	b.ReportMetric(float64(lat[int(0.99*float64(len(lat)-1))].Microseconds())/1000, "p99_ms")
}

func floorWorkflow(ctx workflow.Context) error {
	answered := false
	if err := workflow.SetUpdateHandler(ctx, "answer", func(workflow.Context) error { answered = true; return nil }); err != nil {
		return err
	}
	return workflow.Await(ctx, func() bool { return answered })
}

// BenchmarkGiveRetryConcurrent is BenchmarkGiveRetry with 16 admins at once, each giving
// retries to members of their own: the throughput and the tail under load. Run:
//
//	go test ./server -run '^$' -bench BenchmarkGiveRetryConcurrent -benchtime 320x
func BenchmarkGiveRetryConcurrent(b *testing.B) {
	const clients = 16
	app := apptest.Start(b, apptest.Options{})
	org := app.SeedOrg(b, 0, givable(b.N)...)
	ms := org.File.Organizations[0].Members
	lat := make([]time.Duration, b.N)
	next := make(chan int, b.N)
	for i := range b.N {
		next <- i
	}
	close(next)
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			for i := range next {
				t0 := time.Now()
				r := app.Do(b, "POST", "/api/v1/admin/members/"+ms[i].ID+"/retries", org.AdminKey, map[string]any{"shoot_id": ms[i].Shoots[0].ID})
				lat[i] = time.Since(t0)
				if r.Status != 201 {
					b.Errorf("give %d: %d %s", i, r.Status, r.Body)
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "gives/s")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50_ms")
	b.ReportMetric(float64(lat[int(0.99*float64(len(lat)-1))].Microseconds())/1000, "p99_ms")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "max_ms")
}

// givable is n members whose finished shoot can be retried, for the give benchmarks.
func givable(n int) []seed.Member {
	members := make([]seed.Member, n)
	for i := range members {
		members[i] = seed.Member{Name: "Member", Email: apptest.Ptr("m@bench.test"), Kind: "individual",
			Shoots: []seed.Shoot{{Status: "active", CompletedAt: daysAgo(3), Results: 8}}}
	}
	return members
}
