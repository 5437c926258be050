package activities

import (
	"context"

	"github.com/headshotpro/retryd/internal/domain"
	"github.com/headshotpro/retryd/internal/mailer"

	"github.com/headshotpro/retryd/internal/store"
)

// CreateRestartInput carries ids only.
type CreateRestartInput struct {
	RestartID    string
	OrgID        string
	MemberID     string
	NewShootID   string
	WorkflowID   string
	IssuedByKind string
	IssuedBy     string
	RequestID    string
	Credential   store.Credential `json:",omitzero"`
}

// CreateRestartResult says whether the member can be emailed, and where its emails stand
// when the restart was already recorded (a resumed run).
type CreateRestartResult struct {
	OldShootID string
	HasEmail   bool
	Resume     *EmailResume `json:",omitempty"`
}

// CreateRestart validates the restart rules and creates the new onboarding shoot and
// the restart record in one transaction.
func (a *Activities) CreateRestart(ctx context.Context, in CreateRestartInput) (CreateRestartResult, error) {
	r, err := store.CreateRestart(ctx, a.DB, store.CreateRestartParams{
		RestartID: in.RestartID, OrgID: in.OrgID, MemberID: in.MemberID, NewShootID: in.NewShootID,
		WorkflowID: in.WorkflowID, Actor: store.Actor{Kind: in.IssuedByKind, ID: in.IssuedBy, RequestID: in.RequestID, Credential: in.Credential},
		Now: a.Now(),
	})
	if err != nil {
		return CreateRestartResult{}, asTemporalError(err)
	}
	out := CreateRestartResult{OldShootID: r.OldShootID, HasEmail: r.EmailStatus != domain.EmailNotApplicable}
	if r.Recorded {
		if out.Resume, err = a.emailResume(ctx, in.RestartID, r.Status == domain.StatusStarted); err != nil {
			return CreateRestartResult{}, err
		}
	}
	return out, nil
}

// SendRestartEmail emails the member the fresh access link of their new shoot.
func (a *Activities) SendRestartEmail(ctx context.Context, in SendEmailInput) (SendEmailResult, error) {
	return a.sendLinkEmail(ctx, store.SubjectRestart, in, mailer.RestartEmail)
}

// MarkRestartEmailFailed records that a restart email could not be delivered.
func (a *Activities) MarkRestartEmailFailed(ctx context.Context, in SendEmailInput) error {
	return a.markEmailFailed(ctx, store.SubjectRestart, in)
}

// SetRestartStage mirrors the restart workflow's stage in the database.
func (a *Activities) SetRestartStage(ctx context.Context, restartID, stage string) error {
	return asTemporalError(store.SetRestartStage(ctx, a.DB, restartID, stage, a.Now()))
}

// RestartStarted tells whether the member started the restarted shoot; the workflow asks
// when a start signal may have been lost.
func (a *Activities) RestartStarted(ctx context.Context, restartID string) (bool, error) {
	c, err := store.GetContact(ctx, a.DB, store.SubjectRestart, restartID)
	if err != nil {
		return false, asTemporalError(err)
	}
	return c.Status == domain.StatusStarted, nil
}
