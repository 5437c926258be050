package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/headshotpro/retryd/activities"
	"github.com/headshotpro/retryd/internal/domain"
	"github.com/headshotpro/retryd/internal/store"
	"github.com/headshotpro/retryd/internal/webhook"
	"github.com/headshotpro/retryd/workflows"
)

// The floor of a webhook delivery: a workflow of WebhookDeliveryWorkflow's shape whose
// one regular activity, on a queue of its own as retryd's attempts are, signs and POSTs
// the body of a retry.issued event to the benchmark's receiver, reading and recording
// nothing in a database.
const (
	floorWebhookWorkflowName = "BenchWebhookFloor"
	floorWebhookActivity     = "BenchFloorDeliverWebhook"
)

// floorWebhookQueue is the floor's attempt queue, named as retryd names its own.
var floorWebhookQueue = workflows.WebhookTaskQueue(floorQueue)

// The defaults of retryd's webhook settings (internal/config): WEBHOOK_TIMEOUT, the
// attempt's StartToClose (app.WebhookSchedule adds 20 s for the database), and
// WEBHOOK_CONCURRENCY, the webhook worker's activity slots (worker.New). Keep them in step,
// or the floor schedules its attempts differently from retryd's.
const (
	floorWebhookTimeout     = 10 * time.Second
	floorWebhookRetryFor    = 72 * time.Hour
	floorWebhookConcurrency = 200
)

// floorWebhookWorkflow is WebhookDeliveryWorkflow's first attempt: the same input, the
// same activity options, and nothing after a 2xx.
func floorWebhookWorkflow(ctx workflow.Context, in workflows.WebhookDeliveryInput) (activities.DeliverWebhookResult, error) {
	attempts := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		TaskQueue:              workflows.WebhookTaskQueue(workflow.GetInfo(ctx).TaskQueueName),
		StartToCloseTimeout:    in.AttemptTimeout,
		ScheduleToCloseTimeout: in.RetryFor,
		Summary:                "deliver webhook",
		Priority:               temporal.Priority{FairnessKey: in.OrgID},
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    workflows.DefaultWebhookFirstRetry,
			BackoffCoefficient: 4,
			MaximumInterval:    workflows.MaxRetryWait,
		},
	})
	var res activities.DeliverWebhookResult
	err := workflow.ExecuteActivity(attempts, floorWebhookActivity, in.DeliveryID).Get(ctx, &res)
	return res, err
}

// floorReceiver is where the floor's deliveries go, and the secret they are signed with.
type floorReceiver struct {
	URL, Secret string
	OrgID       string // the organization named in the body and used as fairness key
}

// floorWebhooks is the floor's attempt: retryd's sender (the same policy checks, the
// same signature, the same keep-alive transport), no database.
type floorWebhooks struct {
	to     floorReceiver
	sender *webhook.Sender
}

func newFloorWebhooks(to floorReceiver) *floorWebhooks {
	return &floorWebhooks{to: to, sender: webhook.NewSender(webhook.Policy{AllowHTTP: true, AllowLoopback: true}, floorWebhookTimeout)}
}

// body is a retry.issued event's body, of the size of retryd's: the event's id is the
// delivery's, which the receiver reads back as webhook-id.
func (f *floorWebhooks) body(id string, at time.Time) ([]byte, error) {
	return json.Marshal(store.EventBody{ID: id, Type: domain.EventRetryIssued, OccurredAt: at.UTC(), OrganizationID: f.to.OrgID, Data: issuedData()})
}

func (f *floorWebhooks) deliver(ctx context.Context, id string) (activities.DeliverWebhookResult, error) {
	now := time.Now()
	body, err := f.body(id, now)
	if err != nil {
		return activities.DeliverWebhookResult{}, err
	}
	at := f.sender.Send(ctx, f.to.URL, []string{f.to.Secret}, id, now, body)
	if at.Outcome() != webhook.OutcomeDelivered {
		return activities.DeliverWebhookResult{}, temporal.NewApplicationError(fmt.Sprintf("floor webhook: %s (status %d, %v)", at.Outcome(), at.StatusCode, at.Err), activities.ErrTypeWebhookAttempt)
	}
	return activities.DeliverWebhookResult{Status: domain.DeliveryDelivered}, nil
}

// startFloorWebhookWorker starts the worker of the floor's attempt queue with the
// options of retryd's webhook worker.
func startFloorWebhookWorker(c client.Client, hooks *floorWebhooks) (sdkworker.Worker, error) {
	w := sdkworker.New(c, floorWebhookQueue, sdkworker.Options{
		MaxConcurrentActivityExecutionSize: floorWebhookConcurrency,
		WorkerStopTimeout:                  floorWorkerOptions().WorkerStopTimeout,
	})
	w.RegisterActivityWithOptions(hooks.deliver, activity.RegisterOptions{Name: floorWebhookActivity})
	if err := w.Start(); err != nil {
		return nil, err
	}
	return w, nil
}

// startWebhook starts one floor delivery as the relay starts retryd's (workflows.Client
// DeliverWebhook): the same options, an input of the same size.
func (e *engine) startWebhook(ctx context.Context, id string) error {
	_, err := e.c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       "bench-floor-webhook-" + id,
		TaskQueue:                floorQueue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		TypedSearchAttributes:    temporal.NewSearchAttributes(workflows.KeyOrgID.ValueSet(e.hooks.to.OrgID)),
		Priority:                 temporal.Priority{FairnessKey: e.hooks.to.OrgID},
		StaticSummary:            "Bench webhook floor " + id,
	}, floorWebhookWorkflowName, workflows.WebhookDeliveryInput{
		DeliveryID: id, OrgID: e.hooks.to.OrgID, RetryFor: floorWebhookRetryFor,
		AttemptTimeout: floorWebhookTimeout + 20*time.Second,
	})
	return err
}

// webhookBurst starts n floor deliveries, parallel at a time as the relay starts a batch,
// and answers each delivery's id with the time it was queued: all of them at once, at
// the burst's start, so a delivery's latency includes its wait for a start slot as
// retryd's includes its wait in the relay.
func (e *engine) webhookBurst(ctx context.Context, n, parallel int) (map[string]time.Time, time.Time, error) {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = uuid.NewString()
	}
	queued := time.Now()
	if _, _, err := load(ctx, parallel, n, func(ctx context.Context, i int) error { return e.startWebhook(ctx, ids[i]) }); err != nil {
		return nil, time.Time{}, err
	}
	out := make(map[string]time.Time, n)
	for _, id := range ids {
		out[id] = queued
	}
	return out, queued, nil
}
