package bench

import (
	"context"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/headshotpro/retryd/internal/domain"
	"github.com/headshotpro/retryd/workflows"
)

// The engine floor's workflows run on a queue of their own, on a worker inside the
// benchmark, against the same Temporal server as retryd.
const (
	floorQueue         = "retryd-bench-floor"
	shapedWorkflowName = "BenchShapedFloor"
	bareWorkflowName   = "BenchBareFloor"
	floorEmailActivity = "BenchFloorEmail"
	bareUpdate         = "answer"
	// floorCheckInterval stands for retryd's timers while a retry waits (the start check
	// and the reminders); only that one is pending, like retryd's first.
	floorCheckInterval = time.Hour
)

// floorLocalOptions and floorEmailOptions are retryd's options for its database steps
// and its email activity (workflows/email.go), so a retry of the floor is scheduled as
// retryd's are.
var (
	floorLocalOptions = workflow.LocalActivityOptions{
		StartToCloseTimeout: 5 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: 100 * time.Millisecond, BackoffCoefficient: 2, MaximumInterval: 10 * time.Second},
	}
	floorEmailOptions = workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute},
	}
)

// shapedFloorWorkflow has a give-retry's shape without its work: the version marker, the
// status query, the issue update that waits for the database step, one local activity
// (the one-step give), the stage search attribute upserted, the email as a regular
// activity once the update is answered, then a wait on the start signal with a timer
// pending, and the started step. Every activity does nothing.
func shapedFloorWorkflow(ctx workflow.Context, id string) error {
	// One version marker, as a new retry run records (workflows/versions.go: the one
	// change id that stands for all of the run's changes).
	_ = workflow.GetVersion(ctx, "all-2026-12", workflow.DefaultVersion, 1)
	stage := domain.StageReserving
	prepared := false
	if err := workflow.SetQueryHandler(ctx, workflows.QueryStatus, func() (string, error) { return stage, nil }); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, workflows.UpdateIssue, func(ctx workflow.Context, _ string) (string, error) {
		if err := workflow.Await(ctx, func() bool { return prepared }); err != nil {
			return "", err
		}
		return id, nil
	}, workflow.UpdateHandlerOptions{Validator: func(string) error { return nil }}); err != nil {
		return err
	}
	upsert := func(s string) {
		stage = s
		if err := workflow.UpsertTypedSearchAttributes(ctx, workflows.KeyRetryStage.ValueSet(s)); err != nil {
			workflow.GetLogger(ctx).Error("upsert stage", "error", err)
		}
	}
	lctx := workflow.WithLocalActivityOptions(ctx, floorLocalOptions)
	step := func() error { return workflow.ExecuteLocalActivity(lctx, floorNoop).Get(ctx, nil) }
	if err := step(); err != nil { // the give: reserve, delete the results, reset the shoot
		return err
	}
	prepared = true
	upsert(domain.StagePending)
	actx := workflow.WithActivityOptions(ctx, floorEmailOptions)
	if err := workflow.ExecuteActivity(actx, floorEmailActivity, id).Get(ctx, nil); err != nil {
		return err
	}
	started := false
	workflow.Go(ctx, func(ctx workflow.Context) {
		workflow.GetSignalChannel(ctx, workflows.SignalShootStarted).Receive(ctx, nil)
		started = true
	})
	for !started {
		if _, err := workflow.AwaitWithTimeout(ctx, floorCheckInterval, func() bool { return started }); err != nil {
			return err
		}
		if !started {
			_ = step() // the periodic start check
		}
	}
	_ = step() // record the started stage
	upsert(domain.StageStarted)
	return workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) })
}

// bareFloorWorkflow is the least an Update-with-Start can be: the update answers at once.
func bareFloorWorkflow(ctx workflow.Context) error {
	answered := false
	if err := workflow.SetUpdateHandler(ctx, bareUpdate, func(workflow.Context) error { answered = true; return nil }); err != nil {
		return err
	}
	return workflow.Await(ctx, func() bool { return answered })
}

func floorNoop(context.Context) error { return nil }

// floorActivities records when each shaped workflow's email activity ran, for the floor
// of the email drain.
type floorActivities struct {
	mu   sync.Mutex
	sent map[string]time.Time
}

func (a *floorActivities) email(_ context.Context, id string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, ok := a.sent[id]; !ok {
		a.sent[id] = time.Now()
	}
	return nil
}

func (a *floorActivities) sentAt(id string) (time.Time, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	t, ok := a.sent[id]
	return t, ok
}

// floorWorkerOptions are retryd's main worker's options (worker.New): the SDK's
// defaults with a stop timeout. Keep the two in step, or the floor measures a different
// worker than retryd runs.
func floorWorkerOptions() sdkworker.Options {
	return sdkworker.Options{WorkerStopTimeout: 5 * time.Second}
}

// startFloorWorker starts the worker of the floor's workflows on c.
func startFloorWorker(c client.Client) (sdkworker.Worker, *floorActivities, error) {
	acts := &floorActivities{sent: map[string]time.Time{}}
	w := sdkworker.New(c, floorQueue, floorWorkerOptions())
	w.RegisterWorkflowWithOptions(shapedFloorWorkflow, workflow.RegisterOptions{Name: shapedWorkflowName})
	w.RegisterWorkflowWithOptions(bareFloorWorkflow, workflow.RegisterOptions{Name: bareWorkflowName})
	w.RegisterWorkflowWithOptions(floorWebhookWorkflow, workflow.RegisterOptions{Name: floorWebhookWorkflowName})
	w.RegisterActivityWithOptions(acts.email, activity.RegisterOptions{Name: floorEmailActivity})
	w.RegisterActivity(floorNoop)
	if err := w.Start(); err != nil {
		return nil, nil, err
	}
	return w, acts, nil
}
