package activities

import (
	"context"
	"fmt"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/headshotpro/retryd/internal/domain"
	"github.com/headshotpro/retryd/internal/linktoken"
	"github.com/headshotpro/retryd/internal/mailer"
	"github.com/headshotpro/retryd/internal/store"
)

// recordTimeout bounds the recording of a message the provider accepted. It is not cut
// short by the attempt's own cancellation (see sendLinkEmail).
const recordTimeout = 10 * time.Second

// acceptedMessage is what an attempt leaves for the next one in its heartbeat details:
// the provider accepted this message. The Temporal server keeps the details, and
// describe and the UI show them, so they hold the message id and nothing else: no
// address, name, link or token.
type acceptedMessage struct {
	MessageID string
}

// sendLinkEmail sends one email with a fresh action link. Intent is recorded before the
// call and the message id right after it, so a retry of the activity after a delivered
// send does not send again. When Postgres cannot record the id at that moment, the id
// goes to the Temporal server as the attempt's heartbeat before the attempt fails, and
// the retries find it there and record it once the database answers, instead of
// sending again. (MailerSend takes no idempotency key.) The heartbeat is sent only
// then: on every email it cost a request, a history update and a write in the Temporal
// server, and its window (a worker killed between the 202 and the id being kept) is
// no shorter than the commit's it replaces.
func (a *Activities) sendLinkEmail(ctx context.Context, subject store.Subject, in SendEmailInput,
	render func(mailer.LinkData) (mailer.Content, error)) (SendEmailResult, error) {
	// Any details at all mean the provider accepted: this is the activity's only
	// heartbeat, and the id may be empty (mailer.NoMessageID).
	var accepted acceptedMessage
	if activity.HasHeartbeatDetails(ctx) && activity.GetHeartbeatDetails(ctx, &accepted) == nil {
		return a.recordAccepted(ctx, subject, in, accepted.MessageID)
	}
	c, e, err := store.BeginContactEmail(ctx, a.DB, subject, in.SubjectID, in.Seq, in.Kind)
	if err != nil {
		return SendEmailResult{}, asTemporalError(err)
	}
	if c.Status != domain.StatusPending {
		return SendEmailResult{Skipped: true, AlreadyStarted: c.Status == domain.StatusStarted, Reason: "already " + c.Status}, nil
	}
	if e == nil {
		return SendEmailResult{Skipped: true, Reason: "member has no email address"}, nil
	}
	if e.Status == domain.EmailSent && e.MessageID != nil {
		return SendEmailResult{MessageID: *e.MessageID}, nil
	}
	token, claims := a.Links.Issue(c.MemberID, c.ShootID, a.Now())
	content, err := render(mailer.LinkData{
		MemberName: c.MemberName, ActionURL: linktoken.ActionURL(a.AppBaseURL, c.ShootID, token),
		ExpiresAt: claims.ExpiresAt, Reminder: in.Reminder,
	})
	if err != nil {
		return SendEmailResult{}, fmt.Errorf("render email: %w", err)
	}
	id, err := a.Mailer.Send(ctx, mailer.Message{To: mailer.Address{Email: *c.MemberEmail, Name: c.MemberName}, Content: content, Tags: []string{string(subject), in.Kind}})
	if err != nil {
		a.Metrics.EmailFailed(metricKind(subject, in.Kind))
		if mailer.IsPermanent(err) {
			if ferr := store.FailEmail(ctx, a.DB, subject, e, err.Error(), a.Now()); ferr != nil {
				return SendEmailResult{}, ferr
			}
		}
		activity.GetLogger(ctx).Warn("email not sent", "subject_id", c.ID, "seq", in.Seq, "error", err)
		return SendEmailResult{}, mailError(err)
	}
	res, err := a.finishEmail(ctx, subject, e, id)
	if err != nil {
		// The first heartbeat of an attempt goes to the server at once, before this
		// attempt reports its failure, and the server keeps it for every later attempt,
		// with no heartbeat timeout needed. A heartbeat that itself fails (Temporal
		// unreachable too, or the attempt's time already spent) is dropped, and the next
		// attempt sends again: that takes two faults at once, or a record that outlasted
		// the attempt; docs/reliability.md counts what is left.
		activity.RecordHeartbeat(ctx, acceptedMessage{MessageID: id})
	}
	return res, err
}

// recordAccepted records the message an earlier attempt got the provider to accept but
// could not record: nothing is sent, whatever became of the retry or restart since.
// While Postgres is still away it fails, and Temporal tries again with backoff.
func (a *Activities) recordAccepted(ctx context.Context, subject store.Subject, in SendEmailInput, id string) (SendEmailResult, error) {
	e, err := store.BeginEmail(ctx, a.DB, in.SubjectID, in.Seq, in.Kind)
	if err != nil {
		return SendEmailResult{}, err
	}
	if e.Status == domain.EmailSent && e.MessageID != nil {
		return SendEmailResult{MessageID: *e.MessageID}, nil
	}
	activity.GetLogger(ctx).Info("recording an email an earlier attempt sent", "subject_id", in.SubjectID, "seq", in.Seq, "message_id", id)
	return a.finishEmail(ctx, subject, e, id)
}

// finishEmail records a message the provider accepted. The attempt's context may be
// canceled by then (the member started and the workflow canceled the send, or the
// workflow is being canceled): the message is out all the same, so the recording runs
// on a context only its own timeout ends.
func (a *Activities) finishEmail(ctx context.Context, subject store.Subject, e *store.Email, id string) (SendEmailResult, error) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	if err := store.FinishEmail(rctx, a.DB, subject, e, id, a.Now()); err != nil {
		return SendEmailResult{}, err
	}
	a.Metrics.EmailSent(metricKind(subject, e.Kind))
	return SendEmailResult{MessageID: id}, nil
}

// metricKind is the email's label in the metrics, from a bounded set: retry_initial,
// restart_reminder, ...
func metricKind(subject store.Subject, emailKind string) string {
	if subject == store.SubjectRestart {
		return "restart_" + emailKind
	}
	return "retry_" + emailKind
}

func (a *Activities) markEmailFailed(ctx context.Context, subject store.Subject, in SendEmailInput) error {
	e, err := store.BeginEmail(ctx, a.DB, in.SubjectID, in.Seq, in.Kind)
	if err != nil {
		return err
	}
	return store.FailEmail(ctx, a.DB, subject, e, "gave up after retries", a.Now())
}
