// Package activities holds the side effects of retryd's workflows: Postgres through bun
// and email through MailerSend. Each activity is idempotent, so Temporal's at-least-once
// execution has the effect of exactly once; broken rules and permanent provider errors
// come back as non-retryable application errors whose type is the problem code.
package activities

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/uptrace/bun"
	"go.temporal.io/sdk/temporal"

	"github.com/headshotpro/retryd/internal/linktoken"
	"github.com/headshotpro/retryd/internal/mailer"
	"github.com/headshotpro/retryd/internal/metrics"
	"github.com/headshotpro/retryd/internal/problem"
	"github.com/headshotpro/retryd/internal/store"
)

// Mailer sends one email and answers the provider's message id.
type Mailer interface {
	Send(ctx context.Context, m mailer.Message) (string, error)
}

// Activities holds the dependencies of every activity.
type Activities struct {
	DB          *bun.DB
	Mailer      Mailer
	Links       *linktoken.Signer
	AppBaseURL  string
	RetryWindow time.Duration
	Now         func() time.Time
	Logger      *slog.Logger
	Metrics     *metrics.Metrics // nil: not counted
	// Webhooks makes webhook delivery attempts; nil in tests that deliver none.
	Webhooks WebhookSender
}

// New builds the activities with the wall clock.
func New(db *bun.DB, mailer Mailer, links *linktoken.Signer, appBaseURL string, window time.Duration, logger *slog.Logger) *Activities {
	return &Activities{DB: db, Mailer: mailer, Links: links, AppBaseURL: appBaseURL, RetryWindow: window, Now: time.Now, Logger: logger}
}

// ErrTypeMailPermanent is the application error type of an email MailerSend refused for good.
const ErrTypeMailPermanent = "mail_permanent"

// asTemporalError keeps a broken rule out of Temporal's retries: its code becomes the
// error type, which the API maps back to the same problem+json answer. Anything else is
// returned as is and retried (network, Postgres unavailable, ...).
func asTemporalError(err error) error {
	if err == nil {
		return nil
	}
	if pe, ok := problem.As(err); ok {
		return temporal.NewNonRetryableApplicationError(pe.Detail, string(pe.Code), nil)
	}
	return err
}

// mailError sorts a send failure into retryable or not, keeping addresses out of the
// message (mailer.SendError never carries them).
func mailError(err error) error {
	if mailer.IsPermanent(err) {
		return temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeMailPermanent, nil)
	}
	var se *mailer.SendError
	if errors.As(err, &se) && se.RetryAfter > 0 {
		return temporal.NewApplicationErrorWithOptions(err.Error(), "mail_transient", temporal.ApplicationErrorOptions{NextRetryDelay: se.RetryAfter})
	}
	return err
}

// EmailResume tells a workflow run that resumes a recorded retry or restart where its
// emails stand (nil when none was begun): the run numbers its emails after the last one,
// keeps the reminders due after the first, and sends the first again only if it was cut
// off mid-send. Without it, a resumed run's emails would reuse numbers whose intent rows
// say "sent", and be skipped.
type EmailResume struct {
	NextSeq      int
	FirstEmailAt time.Time
	Reminders    int
	FirstPending bool
	// Started: the member already started. A run can resume a retry or restart that its
	// earlier run saw started and ended with (a repeated give or restart read it pending
	// just before): there is nothing left to wait for.
	Started bool `json:",omitempty"`
}

func (a *Activities) emailResume(ctx context.Context, subjectID string, started bool) (*EmailResume, error) {
	p, err := store.GetEmailProgress(ctx, a.DB, subjectID)
	if err != nil || (p.NextSeq == 0 && !started) {
		return nil, err
	}
	r := &EmailResume{NextSeq: p.NextSeq, Reminders: p.Reminders, FirstPending: p.FirstPending, Started: started}
	if p.FirstAt != nil {
		r.FirstEmailAt = *p.FirstAt
	}
	return r, nil
}
