package activities

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/headshotpro/retryd/internal/domain"
	"github.com/headshotpro/retryd/internal/store"
	"github.com/headshotpro/retryd/internal/webhook"
)

// WebhookSender makes one signed delivery attempt (webhook.Sender).
type WebhookSender interface {
	Send(ctx context.Context, url string, secrets []string, msgID string, ts time.Time, body []byte) webhook.Attempt
}

// ErrTypeWebhookAttempt is the application error type of a delivery attempt that did
// not get a 2xx: Temporal tries again on the delivery's schedule.
const ErrTypeWebhookAttempt = "webhook_attempt_failed"

// DeliverWebhookResult is how a delivery ended without needing another attempt.
type DeliverWebhookResult struct {
	Status string // domain.Delivery*
	// Gone: the endpoint answered 410 and was disabled.
	Gone bool `json:",omitempty"`
}

// DeliverWebhook makes one attempt of a delivery. It answers once the delivery needs no
// more attempts (delivered, or the endpoint gone, disabled or deleted) and fails
// otherwise, with the endpoint's Retry-After as the next attempt's delay when it gave
// one. Every attempt is recorded on the delivery, so the API shows what each met.
//
// At least once: an attempt whose 2xx is not recorded (the worker died right after) is
// repeated, and the receiver sees the same webhook-id again.
func (a *Activities) DeliverWebhook(ctx context.Context, deliveryID string) (DeliverWebhookResult, error) {
	t, err := store.GetWebhookTarget(ctx, a.DB, deliveryID)
	if err != nil {
		return DeliverWebhookResult{}, err
	}
	if t.Status != domain.DeliveryPending {
		return DeliverWebhookResult{Status: t.Status}, nil
	}
	if t.Endpoint == nil || !t.Endpoint.Enabled {
		return a.endWebhook(ctx, deliveryID, domain.DeliveryCanceled)
	}
	now := a.Now()
	at := a.Webhooks.Send(ctx, t.Endpoint.URL, t.Endpoint.Secrets(now), t.EventID, now, t.Body)
	outcome := at.Outcome()
	a.Metrics.WebhookAttempt(outcome.String(), at.Latency)
	rec := store.WebhookAttempt{At: now, StatusCode: at.StatusCode, Delivered: outcome == webhook.OutcomeDelivered}
	if at.Err != nil {
		rec.Error = at.Err.Error() // the sender keeps URLs' paths and queries out of it
	}
	if err := store.RecordWebhookAttempt(ctx, a.DB, deliveryID, rec); err != nil {
		return DeliverWebhookResult{}, err
	}
	switch outcome {
	case webhook.OutcomeDelivered:
		a.Metrics.WebhookDeliveryEnded(domain.DeliveryDelivered)
		return DeliverWebhookResult{Status: domain.DeliveryDelivered}, nil
	case webhook.OutcomeGone:
		if _, err := store.DisableWebhookEndpoint(ctx, a.DB, t.Endpoint.ID, domain.EndpointDisabledGone, now); err != nil {
			return DeliverWebhookResult{}, err
		}
		r, err := a.endWebhook(ctx, deliveryID, domain.DeliveryCanceled)
		r.Gone = true
		return r, err
	}
	msg := "endpoint answered " + statusText(at.StatusCode)
	if at.Err != nil {
		msg = at.Err.Error()
	}
	info := activity.GetInfo(ctx)
	return DeliverWebhookResult{}, temporal.NewApplicationErrorWithOptions(msg, ErrTypeWebhookAttempt,
		temporal.ApplicationErrorOptions{NextRetryDelay: retryAfterDelay(info.RetryPolicy, info.Attempt, at.StatusCode, at.RetryAfter)})
}

// retryAfterDelay is the wait before the next attempt that the receiver's Retry-After
// asks for, or zero for the schedule's own. It is honoured from a 429 or a 503 only (what
// the header means elsewhere is not a request to slow down), and only when longer than
// the schedule's next wait: a receiver answering "Retry-After: 1" must not turn three days
// of backoff into an attempt a second.
func retryAfterDelay(p *temporal.RetryPolicy, attempt int32, status int, retryAfter time.Duration) time.Duration {
	if retryAfter <= 0 || (status != http.StatusTooManyRequests && status != http.StatusServiceUnavailable) {
		return 0
	}
	if p != nil && retryAfter <= scheduledWait(p, attempt) {
		return 0
	}
	return retryAfter
}

// scheduledWait is the wait Temporal's retry policy puts after attempt (1-based) fails.
func scheduledWait(p *temporal.RetryPolicy, attempt int32) time.Duration {
	wait := float64(p.InitialInterval)
	for i := int32(1); i < attempt; i++ {
		wait *= max(p.BackoffCoefficient, 1)
		if p.MaximumInterval > 0 && wait >= float64(p.MaximumInterval) {
			return p.MaximumInterval
		}
	}
	return time.Duration(wait)
}

// FailWebhook ends a delivery whose every attempt failed. When its endpoint delivered
// nothing else meanwhile (its failing spell began no later than this delivery's first
// attempt), the endpoint has been down for the whole schedule: it is disabled (reason
// failing) with a system audit event, which its page shows, so deliveries stop piling up
// for a receiver that is gone.
func (a *Activities) FailWebhook(ctx context.Context, deliveryID string) error {
	if _, err := a.endWebhook(ctx, deliveryID, domain.DeliveryFailed); err != nil {
		return err
	}
	t, err := store.GetWebhookTarget(ctx, a.DB, deliveryID)
	if err != nil || t.Endpoint == nil || t.FirstAttemptAt == nil {
		return err
	}
	_, err = store.DisableFailingWebhookEndpoint(ctx, a.DB, t.Endpoint.ID, *t.FirstAttemptAt, a.Now())
	return err
}

func (a *Activities) endWebhook(ctx context.Context, deliveryID, status string) (DeliverWebhookResult, error) {
	if err := store.EndWebhookDelivery(ctx, a.DB, deliveryID, status); err != nil {
		return DeliverWebhookResult{}, err
	}
	a.Metrics.WebhookDeliveryEnded(status)
	return DeliverWebhookResult{Status: status}, nil
}

func statusText(code int) string {
	if code == 0 {
		return "nothing"
	}
	return strconv.Itoa(code)
}
