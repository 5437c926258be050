package activities

import (
	"context"
	"fmt"

	"go.temporal.io/sdk/activity"

	"github.com/headshotpro/retryd/internal/linktoken"
	"github.com/headshotpro/retryd/internal/mail"
	"github.com/headshotpro/retryd/internal/store"
)

// sendLinkEmail sends one email with a fresh action link. Intent is recorded before the
// call and the message id right after it, so a retry of the activity after a delivered
// send does not send again.
func (a *Activities) sendLinkEmail(ctx context.Context, subject store.Subject, in SendEmailInput,
	render func(mail.LinkData) (mail.Content, error)) (SendEmailResult, error) {
	c, err := store.GetContact(ctx, a.DB, subject, in.SubjectID)
	if err != nil {
		return SendEmailResult{}, asTemporalError(err)
	}
	if c.Status != store.StatusPending {
		return SendEmailResult{Skipped: true, AlreadyStarted: c.Status == store.StatusStarted, Reason: "already " + c.Status}, nil
	}
	if c.MemberEmail == nil || *c.MemberEmail == "" {
		return SendEmailResult{Skipped: true, Reason: "member has no email address"}, nil
	}
	e, err := store.BeginEmail(ctx, a.DB, c.ID, in.Seq, in.Kind)
	if err != nil {
		return SendEmailResult{}, err
	}
	if e.Status == "sent" && e.MessageID != nil {
		return SendEmailResult{MessageID: *e.MessageID}, nil
	}
	token, claims := a.Links.Issue(c.MemberID, c.ShootID, a.Now())
	content, err := render(mail.LinkData{
		MemberName: c.MemberName, ActionURL: linktoken.ActionURL(a.AppBaseURL, c.ShootID, token),
		ExpiresAt: claims.ExpiresAt, Reminder: in.Reminder,
	})
	if err != nil {
		return SendEmailResult{}, fmt.Errorf("render email: %w", err)
	}
	id, err := a.Mailer.Send(ctx, mail.Message{To: mail.Address{Email: *c.MemberEmail, Name: c.MemberName}, Content: content, Tags: []string{string(subject), in.Kind}})
	kind := "retry_" + in.Kind // a bounded label set: retry_initial, restart_reminder, ...
	if subject == store.SubjectRestart {
		kind = "restart_" + in.Kind
	}
	if err != nil {
		a.Metrics.EmailFailed(kind)
		if mail.IsPermanent(err) {
			if ferr := store.FailEmail(ctx, a.DB, subject, e, err.Error(), a.Now()); ferr != nil {
				return SendEmailResult{}, ferr
			}
		}
		activity.GetLogger(ctx).Warn("email not sent", "subject_id", c.ID, "seq", in.Seq, "error", err)
		return SendEmailResult{}, mailError(err)
	}
	if err := store.FinishEmail(ctx, a.DB, subject, e, id, a.Now()); err != nil {
		return SendEmailResult{}, err
	}
	a.Metrics.EmailSent(kind)
	return SendEmailResult{MessageID: id}, nil
}

func (a *Activities) markEmailFailed(ctx context.Context, subject store.Subject, in SendEmailInput) error {
	e, err := store.BeginEmail(ctx, a.DB, in.SubjectID, in.Seq, in.Kind)
	if err != nil {
		return err
	}
	return store.FailEmail(ctx, a.DB, subject, e, "gave up after retries", a.Now())
}
