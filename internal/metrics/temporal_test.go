package metrics_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/headshotpro/retryd/internal/metrics"
	"github.com/headshotpro/retryd/internal/tooling/assert"
	"github.com/headshotpro/retryd/internal/tooling/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func metricsProbeWorkflow(ctx workflow.Context, name string) (string, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 10 * time.Second})
	var out string
	err := workflow.ExecuteActivity(ctx, metricsProbeActivity, name).Get(ctx, &out)
	return out, err
}

func metricsProbeActivity(_ context.Context, name string) (string, error) {
	return "hello " + name, nil
}

// TestTemporalWorkerMetrics runs a real worker against the dev server with the handler
// and checks that the SDK's own metrics reach the registry without a name clash (a
// clash would be dropped and counted, and the metric missing here).
func TestTemporalWorkerMetrics(t *testing.T) {
	srv := testenv.Temporal(t)
	m := metrics.New()
	c, err := client.Dial(client.Options{
		HostPort: srv.Address, Namespace: srv.Namespace,
		MetricsHandler: m.TemporalHandler(),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	queue := fmt.Sprintf("metrics-test-%d", time.Now().UnixNano())
	w := worker.New(c, queue, worker.Options{})
	w.RegisterWorkflow(metricsProbeWorkflow)
	w.RegisterActivity(metricsProbeActivity)
	if err := w.Start(); err != nil {
		t.Fatalf("w.Start(): %v", err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: queue, TaskQueue: queue}, metricsProbeWorkflow, "metrics")
	if err != nil {
		t.Fatal(err)
	}
	var out string
	if err := run.Get(ctx, &out); err != nil {
		t.Fatalf("run.Get(ctx, &out): %v", err)
	}
	assert.MustEqual(t, "out", out, "hello metrics")

	w.Stop()
	if err := m.Close(); err != nil {
		t.Fatalf("m.Close(): %v", err)
	}

	body := scrape(t, m)
	for _, want := range []string{
		"temporal_request_total{",
		"temporal_workflow_completed_total{",
		"temporal_activity_execution_latency_seconds_bucket{",
		"temporal_workflow_task_execution_latency_seconds_count{",
		"temporal_worker_start_total{",
	} {
		wantContains(t, body, want)
	}
	wantContains(t, body, "retryd_temporal_metric_register_errors_total 0\n")
	// The task queue label is sanitised ('-' becomes '_').
	wantContains(t, body, `task_queue="`+strings.ReplaceAll(queue, "-", "_")+`"`)
	if t.Failed() {
		t.Log(body)
	}
}
