// Package worker wires retryd's workflows and activities to Temporal workers: one on the
// task queue named in package workflows, one on its email queue, which the Temporal
// server paces for every worker together, and one on its webhook queue, whose attempts
// wait on other organizations' receivers.
package worker

import (
	"sync"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/headshotpro/retryd/activities"
	"github.com/headshotpro/retryd/workflows"
)

// Register puts every workflow and activity of retryd on r, under the names the API and
// the workflows use. The email activities are among them: runs recorded before the email
// queue existed still send on the workflow's own queue.
func Register(r sdkworker.Registry, acts *activities.Activities) {
	r.RegisterWorkflowWithOptions(workflows.RetryWorkflow, workflow.RegisterOptions{Name: workflows.RetryWorkflowName})
	r.RegisterWorkflowWithOptions(workflows.RestartShootWorkflow, workflow.RegisterOptions{Name: workflows.RestartWorkflowName})
	r.RegisterWorkflowWithOptions(workflows.WebhookDeliveryWorkflow, workflow.RegisterOptions{Name: workflows.WebhookDeliveryWorkflowName})
	r.RegisterActivity(acts)
}

// RegisterEmail puts the email activities alone on r, for the email queue's worker.
func RegisterEmail(r sdkworker.ActivityRegistry, acts *activities.Activities) {
	r.RegisterActivityWithOptions(acts.SendRetryEmail, activity.RegisterOptions{Name: workflows.ActivitySendRetryEmail})
	r.RegisterActivityWithOptions(acts.SendRestartEmail, activity.RegisterOptions{Name: workflows.ActivitySendRestartEmail})
}

// RegisterWebhook puts the webhook delivery attempt alone on r, for the webhook queue's
// worker.
func RegisterWebhook(r sdkworker.ActivityRegistry, acts *activities.Activities) {
	r.RegisterActivityWithOptions(acts.DeliverWebhook, activity.RegisterOptions{Name: workflows.ActivityDeliverWebhook})
}

// DefaultStopTimeout is the stop timeout of a worker built without one; it matches the
// default of SHUTDOWN_TIMEOUT, which retryd passes in.
const DefaultStopTimeout = 25 * time.Second

// Options tunes the worker; zero concurrency limits keep the SDK's defaults.
type Options struct {
	// TaskQueue defaults to workflows.TaskQueue; the email queue is derived from it.
	TaskQueue               string
	MaxConcurrentActivities int
	MaxConcurrentWorkflows  int
	// EmailsPerMinute caps the email activities started on the email queue, across every
	// worker polling it: the Temporal server enforces it (TaskQueueActivitiesPerSecond),
	// so adding worker processes does not add sends. Zero leaves the queue unpaced.
	EmailsPerMinute int
	// WebhookConcurrency is how many delivery attempts the process makes at once
	// (WEBHOOK_CONCURRENCY); zero keeps the SDK's default. An attempt mostly waits on a
	// receiver, up to WEBHOOK_TIMEOUT, so many fit.
	WebhookConcurrency int
	// StopTimeout is how long Stop lets running activities finish before it cancels
	// their contexts; zero means DefaultStopTimeout. It must stay below the grace period
	// of whatever sends SIGTERM, or SIGKILL cuts a send before its message id is recorded.
	StopTimeout time.Duration
}

// Workers are the two Temporal workers of one retryd worker process.
type Workers struct {
	// Main polls the task queue of the workflows and their database activities.
	Main sdkworker.Worker
	// Email polls workflows.EmailTaskQueue of it, at the paced rate.
	Email sdkworker.Worker
	// Webhook polls workflows.WebhookTaskQueue of it.
	Webhook sdkworker.Worker
}

// New builds the workers of retryd's task queue and its email queue, with everything
// registered.
func New(c client.Client, acts *activities.Activities, opts Options) *Workers {
	queue := opts.TaskQueue
	if queue == "" {
		queue = workflows.TaskQueue
	}
	stop := opts.StopTimeout
	if stop <= 0 {
		stop = DefaultStopTimeout
	}
	main := sdkworker.New(c, queue, sdkworker.Options{
		MaxConcurrentActivityExecutionSize:     opts.MaxConcurrentActivities,
		MaxConcurrentWorkflowTaskExecutionSize: opts.MaxConcurrentWorkflows,
		// Stop lets running activities finish (a send in flight records its message id)
		// before the process exits on SIGTERM.
		WorkerStopTimeout: stop,
	})
	Register(main, acts)
	email := sdkworker.New(c, workflows.EmailTaskQueue(queue), sdkworker.Options{
		MaxConcurrentActivityExecutionSize: opts.MaxConcurrentActivities,
		// The server hands out this many tasks a second to all pollers of the queue
		// together; the last poller's value wins, so every process must be given the same.
		TaskQueueActivitiesPerSecond: float64(opts.EmailsPerMinute) / 60,
		WorkerStopTimeout:            stop,
	})
	RegisterEmail(email, acts)
	hooks := sdkworker.New(c, workflows.WebhookTaskQueue(queue), sdkworker.Options{
		MaxConcurrentActivityExecutionSize: opts.WebhookConcurrency,
		WorkerStopTimeout:                  stop,
	})
	RegisterWebhook(hooks, acts)
	return &Workers{Main: main, Email: email, Webhook: hooks}
}

// Start starts every worker, or none.
func (w *Workers) Start() error {
	all := w.all()
	for i, one := range all {
		if err := one.Start(); err != nil {
			for _, started := range all[:i] {
				started.Stop()
			}
			return err
		}
	}
	return nil
}

// all lists the workers, the main one last: it starts once the queues it feeds are served.
func (w *Workers) all() []sdkworker.Worker {
	return []sdkworker.Worker{w.Email, w.Webhook, w.Main}
}

// Stop stops the workers at once, so a shutdown waits one StopTimeout, not three.
func (w *Workers) Stop() {
	var wg sync.WaitGroup
	for _, one := range w.all() {
		wg.Go(one.Stop)
	}
	wg.Wait()
}
