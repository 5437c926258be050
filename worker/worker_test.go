package worker_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/workflow"

	"github.com/headshotpro/retryd/activities"
	"github.com/headshotpro/retryd/internal/tooling/testenv"
	"github.com/headshotpro/retryd/worker"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// waitLimit bounds every wait on the dev server. It is far above anything these steps
// take and far below the 20 s stop timeout the worker once hard-coded, so a worker that
// ignored StopTimeout would fail the short-timeout case instead of passing it slowly.
const waitLimit = 10 * time.Second

// stopProbe is an activity that tells the test when it runs and when the worker begins
// to stop, then waits until the test releases it or its context ends.
type stopProbe struct {
	running  chan struct{}
	stopping chan struct{}
	release  chan struct{}
	// outcome receives nil when the activity was released, or its context's error when
	// the worker canceled it first.
	outcome chan error
}

func newStopProbe() *stopProbe {
	return &stopProbe{
		running: make(chan struct{}), stopping: make(chan struct{}),
		release: make(chan struct{}), outcome: make(chan error, 1),
	}
}

func (p *stopProbe) run(ctx context.Context) error {
	close(p.running)
	select {
	case <-activity.GetWorkerStopChannel(ctx):
	case <-ctx.Done():
		p.outcome <- ctx.Err()
		return ctx.Err()
	}
	close(p.stopping)
	select {
	case <-p.release:
		p.outcome <- nil
		return nil
	case <-ctx.Done():
		p.outcome <- ctx.Err()
		return ctx.Err()
	}
}

func stopProbeWorkflow(ctx workflow.Context) error {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: time.Hour})
	return workflow.ExecuteActivity(ctx, "StopProbe").Get(ctx, nil)
}

// startProbe starts a worker built by worker.New with stopTimeout, runs the probe activity
// on it and returns once the activity is running.
func startProbe(t *testing.T, stopTimeout time.Duration) (stop func() <-chan struct{}, probe *stopProbe) {
	t.Helper()
	srv := testenv.Temporal(t)
	quiet := tlog.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))
	c, err := client.Dial(client.Options{HostPort: srv.Address, Namespace: srv.Namespace, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)

	queue := "stop-" + uuid.NewString()
	acts := activities.New(nil, nil, nil, "http://localhost", time.Hour, slog.New(slog.DiscardHandler))
	w := worker.New(c, acts, worker.Options{TaskQueue: queue, StopTimeout: stopTimeout})
	probe = newStopProbe()
	w.Main.RegisterActivityWithOptions(probe.run, activity.RegisterOptions{Name: "StopProbe"})
	w.Main.RegisterWorkflowWithOptions(stopProbeWorkflow, workflow.RegisterOptions{Name: "StopProbeWorkflow"})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(t.Context(), waitLimit)
	defer cancel()
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: queue, TaskQueue: queue}, "StopProbeWorkflow")
	if err != nil {
		t.Fatal(err)
	}
	// The workflow has no worker once the test ends; end it rather than leave it on the
	// shared dev server.
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(t.Context()), waitLimit)
		defer cancel()
		_ = c.TerminateWorkflow(ctx, run.GetID(), run.GetRunID(), "test over")
	})
	waitClosed(t, probe.running, "the probe activity to run")

	stop = func() <-chan struct{} {
		stopped := make(chan struct{})
		go func() { w.Stop(); close(stopped) }()
		return stopped
	}
	return stop, probe
}

func waitClosed(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(waitLimit):
		t.Fatalf("timed out waiting for %s", what)
	}
}

func waitOutcome(t *testing.T, p *stopProbe) error {
	t.Helper()
	select {
	case err := <-p.outcome:
		return err
	case <-time.After(waitLimit):
		t.Fatal("timed out waiting for the probe activity to return")
		return nil
	}
}

// TestStopLetsRunningActivitiesFinish: with a stop timeout longer than the activity
// needs, Stop waits for it, and the activity finishes with its context intact (an email
// send in flight gets to record its message id).
func TestStopLetsRunningActivitiesFinish(t *testing.T) {
	stop, probe := startProbe(t, 10*time.Minute)
	stopped := stop()
	waitClosed(t, probe.stopping, "the worker to signal stopping")

	// The activity is still blocked, so Stop cannot have returned: it waits for it.
	select {
	case <-stopped:
		t.Fatal("Stop returned while an activity was still running")
	default:
	}
	close(probe.release)
	if err := waitOutcome(t, probe); err != nil {
		t.Fatalf("the activity's context ended before it was released: %v", err)
	}
	waitClosed(t, stopped, "Stop to return after the activity finished")
}

// TestStopTimeoutCancelsActivities: when the stop timeout passes first, Stop cancels the
// running activity and returns, so the process exits before its supervisor's SIGKILL.
// This is the timeout SHUTDOWN_TIMEOUT sets.
func TestStopTimeoutCancelsActivities(t *testing.T) {
	stop, probe := startProbe(t, 50*time.Millisecond)
	stopped := stop()
	// The test never releases the probe: only the stop timeout can end it.
	err := waitOutcome(t, probe)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("activity outcome = %v, want its context canceled by the stop timeout", err)
	}
	waitClosed(t, stopped, "Stop to return once the stop timeout passed")
}
