package activities

import (
	"context"

	"github.com/headshotpro/retryd/internal/domain"
	"github.com/headshotpro/retryd/internal/mailer"

	"github.com/headshotpro/retryd/internal/store"
)

// ReserveRetryInput carries ids only: histories never hold names or addresses.
type ReserveRetryInput struct {
	RetryID      string
	OrgID        string
	MemberID     string
	ShootID      string
	Reason       string
	WorkflowID   string
	IssuedByKind string
	IssuedBy     string
	RequestID    string
	Credential   store.Credential `json:",omitzero"`
}

// ReserveRetryResult says which allowance the retry consumed, whether the member can be
// emailed, and where its emails stand when the retry was already recorded (a resumed run).
type ReserveRetryResult struct {
	AllowanceUsed string
	// NoEmail: the member has no address, so the workflow sends nothing. Said in the
	// negative so that results recorded before it existed, which lack it, read as they
	// were acted on (the run emailed, and the send skipped a member without an address):
	// those runs replay unchanged.
	NoEmail bool         `json:",omitempty"`
	Resume  *EmailResume `json:",omitempty"`
}

// ReserveRetry validates the give-retry rules and reserves the allowance in one
// transaction with the member and shoot rows locked: no check-then-act gap.
func (a *Activities) ReserveRetry(ctx context.Context, in ReserveRetryInput) (ReserveRetryResult, error) {
	r, err := store.ReserveRetry(ctx, a.DB, in.params(a))
	if err != nil {
		return ReserveRetryResult{}, asTemporalError(err)
	}
	return a.reserved(ctx, r)
}

func (in ReserveRetryInput) params(a *Activities) store.ReserveRetryParams {
	return store.ReserveRetryParams{
		RetryID: in.RetryID, OrgID: in.OrgID, MemberID: in.MemberID, ShootID: in.ShootID,
		Reason: in.Reason, WorkflowID: in.WorkflowID,
		Actor: store.Actor{Kind: in.IssuedByKind, ID: in.IssuedBy, RequestID: in.RequestID, Credential: in.Credential},
		Now:   a.Now(), Window: a.RetryWindow,
	}
}

// reserved answers a reservation: the allowance it used, and where the emails of an
// already recorded retry stand.
func (a *Activities) reserved(ctx context.Context, r *store.Retry) (ReserveRetryResult, error) {
	out := ReserveRetryResult{AllowanceUsed: r.AllowanceUsed, NoEmail: r.EmailStatus == domain.EmailNotApplicable}
	if r.Recorded {
		var err error
		if out.Resume, err = a.emailResume(ctx, r.ID, r.Status == domain.StatusStarted); err != nil {
			return ReserveRetryResult{}, err
		}
	}
	return out, nil
}

// GiveRetry is ReserveRetry, DeleteResults and ResetShoot in one transaction: the retry
// is given with its shoot reset, or refused with nothing changed.
func (a *Activities) GiveRetry(ctx context.Context, in ReserveRetryInput) (ReserveRetryResult, error) {
	r, err := store.GiveRetry(ctx, a.DB, in.params(a))
	if err != nil {
		return ReserveRetryResult{}, asTemporalError(err)
	}
	return a.reserved(ctx, r)
}

// DeleteResults deletes the retried shoot's generated photos.
func (a *Activities) DeleteResults(ctx context.Context, retryID string) (int64, error) {
	n, err := store.DeleteRetryResults(ctx, a.DB, retryID)
	return n, asTemporalError(err)
}

// ResetShoot puts the shoot back to onboarding with a free next submission; from here the
// retry is pending.
func (a *Activities) ResetShoot(ctx context.Context, retryID string) error {
	_, err := store.ResetRetryShoot(ctx, a.DB, retryID, a.Now())
	return asTemporalError(err)
}

// SetRetryStage mirrors the workflow's stage in the database.
func (a *Activities) SetRetryStage(ctx context.Context, retryID, stage string) error {
	return asTemporalError(store.SetRetryStage(ctx, a.DB, retryID, stage, a.Now()))
}

// SendEmailInput names one email of a retry or restart by its sequence number.
type SendEmailInput struct {
	SubjectID string // retry or restart id
	Seq       int    // 0 = first email, then reminders and resends in order
	Kind      string // domain.EmailKind*
	Reminder  int    // 1-based reminder number, 0 otherwise
}

// SendEmailResult reports the provider's message id; Skipped when no email was due.
type SendEmailResult struct {
	MessageID string
	Skipped   bool
	Reason    string
	// AlreadyStarted: the member started already; the workflow stops waiting, which
	// repairs a start signal that never arrived.
	AlreadyStarted bool
}

// SendRetryEmail emails the member their retry link; reminders are skipped once the
// member has started.
func (a *Activities) SendRetryEmail(ctx context.Context, in SendEmailInput) (SendEmailResult, error) {
	return a.sendLinkEmail(ctx, store.SubjectRetry, in, mailer.RetryEmail)
}

// MarkRetryEmailFailed records that an email could not be delivered after all retries.
func (a *Activities) MarkRetryEmailFailed(ctx context.Context, in SendEmailInput) error {
	return a.markEmailFailed(ctx, store.SubjectRetry, in)
}

// RetryStarted tells whether the member started the retried shoot; the workflow asks
// when a start signal may have been lost.
func (a *Activities) RetryStarted(ctx context.Context, retryID string) (bool, error) {
	c, err := store.GetContact(ctx, a.DB, store.SubjectRetry, retryID)
	if err != nil {
		return false, asTemporalError(err)
	}
	return c.Status == domain.StatusStarted, nil
}
