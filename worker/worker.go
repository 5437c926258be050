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

// Options tunes the worker; zero values keep the SDK's defaults.
type Options struct {
	// TaskQueue defaults to workflows.TaskQueue.
	TaskQueue               string
	MaxConcurrentActivities int
	MaxConcurrentWorkflows  int
}

// New builds a worker polling retryd's task queue with everything registered.
func New(c client.Client, acts *activities.Activities, opts Options) sdkworker.Worker {
	queue := opts.TaskQueue
	if queue == "" {
		queue = workflows.TaskQueue
	}
	w := sdkworker.New(c, queue, sdkworker.Options{
		MaxConcurrentActivityExecutionSize:     opts.MaxConcurrentActivities,
		MaxConcurrentWorkflowTaskExecutionSize: opts.MaxConcurrentWorkflows,
		// Stop lets running activities finish (a send in flight records its message id)
		// before the process exits on SIGTERM.
		WorkerStopTimeout: 20 * time.Second,
	})
	Register(w, acts)
	return w
}
