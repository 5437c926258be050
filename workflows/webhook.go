package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/headshotpro/retryd/activities"
	"github.com/headshotpro/retryd/internal/domain"
)

// WebhookDeliveryInput starts a WebhookDeliveryWorkflow: one event on its way to one
// endpoint. The schedule travels in the input, so a run keeps the schedule it started
// with whatever a later deploy configures.
type WebhookDeliveryInput struct {
	DeliveryID string
	OrgID      string
	// RetryFor is how long attempts go on before the delivery fails (WEBHOOK_RETRY_FOR).
	RetryFor time.Duration
	// FirstRetry is the wait before the second attempt; later waits grow fourfold each,
	// up to MaxRetryWait. Zero means DefaultWebhookFirstRetry.
	FirstRetry time.Duration `json:",omitempty"`
	// AttemptTimeout bounds one attempt with its recording (WEBHOOK_TIMEOUT plus the
	// database's share).
	AttemptTimeout time.Duration
}

// The delivery schedule: at once, then after 5 s, 20 s, 80 s, 5 min, 21 min, 85 min,
// 5.7 h and every 8 h after that, until RetryFor (72 h by default: 15 attempts).
const (
	DefaultWebhookFirstRetry = 5 * time.Second
	webhookBackoff           = 4
	MaxRetryWait             = 8 * time.Hour
)

// WebhookDeliveryWorkflow delivers one event to one endpoint on the schedule above. The
// attempts run on WebhookTaskQueue with the organization as their fairness key, so one
// organization's slow or failing receiver takes its turn with every other
// organization's deliveries rather than ahead of them.
func WebhookDeliveryWorkflow(ctx workflow.Context, in WebhookDeliveryInput) (activities.DeliverWebhookResult, error) {
	return (&delivery{in: in}).run(ctx)
}

type delivery struct{ in WebhookDeliveryInput }

func (d *delivery) run(ctx workflow.Context) (activities.DeliverWebhookResult, error) {
	first := d.in.FirstRetry
	if first <= 0 {
		first = DefaultWebhookFirstRetry
	}
	attempts := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		TaskQueue:              WebhookTaskQueue(workflow.GetInfo(ctx).TaskQueueName),
		StartToCloseTimeout:    d.in.AttemptTimeout,
		ScheduleToCloseTimeout: d.in.RetryFor,
		Summary:                "deliver webhook",
		Priority:               temporal.Priority{FairnessKey: d.in.OrgID},
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    first,
			BackoffCoefficient: webhookBackoff,
			MaximumInterval:    MaxRetryWait,
		},
	})
	var res activities.DeliverWebhookResult
	err := workflow.ExecuteActivity(attempts, a.DeliverWebhook, d.in.DeliveryID).Get(ctx, &res)
	if err == nil {
		return res, nil
	}
	// The schedule ran out (or an attempt failed in a way no retry mends): the delivery
	// failed. Recording that is retried on its own until the database answers.
	end := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		Summary:             "record failed webhook",
		Priority:            temporal.Priority{FairnessKey: d.in.OrgID},
	})
	if err := workflow.ExecuteActivity(end, a.FailWebhook, d.in.DeliveryID).Get(ctx, nil); err != nil {
		return activities.DeliverWebhookResult{}, err
	}
	return activities.DeliverWebhookResult{Status: domain.DeliveryFailed}, nil
}
