package activities

import (
	"context"
	"fmt"

	"go.temporal.io/sdk/activity"

	"github.com/headshotpro/retryd/internal/mail"
	"github.com/headshotpro/retryd/internal/store"
)

// contact is the member a retry or restart email goes to, read at send time.
type contact struct {
	id, memberID, shootID, name string
	email                       *string
	status                      string
}

// sendLinkEmail sends one email with a fresh action link. Intent is recorded before the
// call and the message id right after it, so a retry of the activity after a delivered
// send does not send again.
func (a *Activities) sendLinkEmail(ctx context.Context, subject store.EmailSubject, c contact, in SendEmailInput,
	render func(mail.LinkData) (mail.Content, error)) (SendEmailResult, error) {
	if c.status != store.StatusPending {
		return SendEmailResult{Skipped: true, AlreadyStarted: c.status == store.StatusStarted, Reason: "already " + c.status}, nil
	}
	if c.email == nil || *c.email == "" {
		return SendEmailResult{Skipped: true, Reason: "member has no email address"}, nil
	}
	e, err := store.BeginEmail(ctx, a.DB, c.id, in.Seq, in.Kind)
	if err != nil {
		return SendEmailResult{}, err
	}
	if e.Status == "sent" && e.MessageID != nil {
		return SendEmailResult{MessageID: *e.MessageID}, nil
	}
	token, claims := a.Links.Issue(c.memberID, c.shootID, a.Now())
	content, err := render(mail.LinkData{
		MemberName: c.name, ActionURL: ActionURL(a.AppBaseURL, c.shootID, token),
		ExpiresAt: claims.ExpiresAt, Reminder: in.Reminder,
	})
	if err != nil {
		return SendEmailResult{}, fmt.Errorf("render email: %w", err)
	}
	id, err := a.Mailer.Send(ctx, mail.Message{To: mail.Address{Email: *c.email, Name: c.name}, Content: content, Tags: []string{string(subject), in.Kind}})
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
		activity.GetLogger(ctx).Warn("email not sent", "subject_id", c.id, "seq", in.Seq, "error", err)
		return SendEmailResult{}, mailError(err)
	}
	if err := store.FinishEmail(ctx, a.DB, subject, e, id, a.Now()); err != nil {
		return SendEmailResult{}, err
	}
	a.Metrics.EmailSent(kind)
	return SendEmailResult{MessageID: id}, nil
}

func (a *Activities) markEmailFailed(ctx context.Context, subject store.EmailSubject, in SendEmailInput) error {
	e, err := store.BeginEmail(ctx, a.DB, in.SubjectID, in.Seq, in.Kind)
	if err != nil {
		return err
	}
	return store.FailEmail(ctx, a.DB, subject, e, "gave up after retries", a.Now())
}
