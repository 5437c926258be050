// Package worker wires retryd's workflows and activities to a Temporal worker on the
// task queue named in package workflows.
package worker

import (
	"time"

	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/headshotpro/retryd/activities"
	"github.com/headshotpro/retryd/workflows"
)

// Register puts every workflow and activity of retryd on r, under the names the API and
// the workflows use.
func Register(r sdkworker.Registry, acts *activities.Activities) {
	r.RegisterWorkflowWithOptions(workflows.RetryWorkflow, workflow.RegisterOptions{Name: workflows.RetryWorkflowName})
	r.RegisterWorkflowWithOptions(workflows.RestartShootWorkflow, workflow.RegisterOptions{Name: workflows.RestartWorkflowName})
	r.RegisterActivity(acts)
}

// DefaultStopTimeout is the stop timeout of a worker built without one; it matches the
// default of SHUTDOWN_TIMEOUT, which retryd passes in.
const DefaultStopTimeout = 25 * time.Second

// Options tunes the worker; zero concurrency limits keep the SDK's defaults.
type Options struct {
	// TaskQueue defaults to workflows.TaskQueue.
	TaskQueue               string
	MaxConcurrentActivities int
	MaxConcurrentWorkflows  int
	// StopTimeout is how long Stop lets running activities finish before it cancels
	// their contexts; zero means DefaultStopTimeout. It must stay below the grace period
	// of whatever sends SIGTERM, or SIGKILL cuts a send before its message id is recorded.
	StopTimeout time.Duration
}

// New builds a worker polling retryd's task queue with everything registered.
func New(c client.Client, acts *activities.Activities, opts Options) sdkworker.Worker {
	queue := opts.TaskQueue
	if queue == "" {
		queue = workflows.TaskQueue
	}
	stop := opts.StopTimeout
	if stop <= 0 {
		stop = DefaultStopTimeout
	}
	w := sdkworker.New(c, queue, sdkworker.Options{
		MaxConcurrentActivityExecutionSize:     opts.MaxConcurrentActivities,
		MaxConcurrentWorkflowTaskExecutionSize: opts.MaxConcurrentWorkflows,
		// Stop lets running activities finish (a send in flight records its message id)
		// before the process exits on SIGTERM.
		WorkerStopTimeout: stop,
	})
	Register(w, acts)
	return w
}
