package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/headshotpro/retryd/activities"
	"github.com/headshotpro/retryd/internal/problem"
	"github.com/headshotpro/retryd/internal/store"
)

// RestartInput starts a RestartShootWorkflow; ids only.
type RestartInput struct {
	RestartID    string
	OrgID        string
	MemberID     string
	NewShootID   string
	IssuedByKind string
	IssuedBy     string
	RequestID    string
	Reminders    []time.Duration
}

// RestartIssueRequest is the issue update's argument.
type RestartIssueRequest struct {
	RestartID string
}

// RestartIssueResult answers the issue update once the new shoot is committed.
type RestartIssueResult struct {
	RestartID  string
	NewShootID string
	OldShootID string
	HasEmail   bool
}

// RestartStatus answers the status query and is the workflow's result.
type RestartStatus struct {
	RestartID string
	Stage     string
	EmailState
	Error string
}

// RestartShootWorkflow restarts a managed member's deleted shoot: a new onboarding shoot,
// a fresh access link by email when the member has an address, then pending until the
// member starts it.
func RestartShootWorkflow(ctx workflow.Context, in RestartInput) (RestartStatus, error) {
	w := &restartWorkflow{in: in, status: RestartStatus{RestartID: in.RestartID, Stage: StageReserving, EmailState: EmailState{EmailStatus: store.EmailQueued}}}
	w.mail = emailer{subjectID: in.RestartID, send: a.SendRestartEmail, markFailed: a.MarkRestartEmailFailed, state: &w.status.EmailState}
	return w.run(ctx)
}

type restartWorkflow struct {
	in      RestartInput
	status  RestartStatus
	created *activities.CreateRestartResult
	err     error
	started bool
	mail    emailer
}

func (w *restartWorkflow) run(ctx workflow.Context) (RestartStatus, error) {
	if err := workflow.SetQueryHandlerWithOptions(ctx, QueryStatus, func() (RestartStatus, error) {
		return w.status, nil
	}, workflow.QueryHandlerOptions{Description: "stage and email status of this restart"}); err != nil {
		return w.status, err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateIssue, w.issue, workflow.UpdateHandlerOptions{
		Validator:   w.validateIssue,
		Description: "waits until the new shoot is committed",
	}); err != nil {
		return w.status, err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateResendEmail, w.resend, workflow.UpdateHandlerOptions{
		Validator:   w.validateResend,
		Description: "sends the access link again while the restart is pending",
	}); err != nil {
		return w.status, err
	}

	lctx := workflow.WithLocalActivityOptions(ctx, localOptions)
	var created activities.CreateRestartResult
	if err := workflow.ExecuteLocalActivity(lctx, a.CreateRestart, activities.CreateRestartInput{
		RestartID: w.in.RestartID, OrgID: w.in.OrgID, MemberID: w.in.MemberID, NewShootID: w.in.NewShootID,
		WorkflowID:   workflow.GetInfo(ctx).WorkflowExecution.ID,
		IssuedByKind: w.in.IssuedByKind, IssuedBy: w.in.IssuedBy, RequestID: w.in.RequestID,
	}).Get(ctx, &created); err != nil {
		return w.finish(ctx, err)
	}
	w.created = &created
	w.setStage(ctx, StagePending)

	reminders := w.in.Reminders
	if created.HasEmail {
		w.mail.sendEmail(ctx, store.EmailKindInitial, 0)
	} else {
		// Nobody to remind: the admin hands the link to the member.
		reminders = nil
		w.status.EmailStatus = store.EmailNotApplicable
	}
	err := awaitStart(ctx, reminders, func(n int) bool {
		res, _ := w.mail.sendEmail(ctx, store.EmailKindReminder, n)
		return res.AlreadyStarted
	})
	w.started = err == nil
	if err != nil {
		return w.finish(ctx, err)
	}
	w.setStage(ctx, StageStarted)
	return w.finish(ctx, nil)
}

func (w *restartWorkflow) validateIssue(req RestartIssueRequest) error {
	if req.RestartID == w.in.RestartID {
		return nil
	}
	if w.err != nil {
		return codedError(w.err)
	}
	return temporal.NewApplicationError("a restart of this member is already in progress", string(problem.ActiveShootExists))
}

func (w *restartWorkflow) issue(ctx workflow.Context, _ RestartIssueRequest) (RestartIssueResult, error) {
	if err := workflow.Await(ctx, func() bool { return w.created != nil || w.err != nil }); err != nil {
		return RestartIssueResult{}, codedError(err)
	}
	if w.created == nil {
		return RestartIssueResult{}, codedError(w.err)
	}
	return RestartIssueResult{RestartID: w.in.RestartID, NewShootID: w.in.NewShootID, OldShootID: w.created.OldShootID, HasEmail: w.created.HasEmail}, nil
}

func (w *restartWorkflow) validateResend() error {
	if w.created != nil && w.created.HasEmail && !w.started && w.err == nil {
		return nil
	}
	return temporal.NewApplicationError("only a pending restart of a member with an email address can be sent again", string(problem.RetryNotPending))
}

func (w *restartWorkflow) resend(ctx workflow.Context) (ResendResult, error) {
	res, err := w.mail.sendEmail(ctx, store.EmailKindResend, 0)
	if err != nil {
		return ResendResult{}, codedError(err)
	}
	return ResendResult{MessageID: res.MessageID, Skipped: res.Skipped}, nil
}

// setStage records the stage in the query answer, the search attribute and the database.
func (w *restartWorkflow) setStage(ctx workflow.Context, stage string) {
	w.status.Stage = stage
	upsertStage(ctx, stage)
	if stage == StagePending {
		return // CreateRestart already recorded it
	}
	lctx := workflow.WithLocalActivityOptions(ctx, localOptions)
	if err := workflow.ExecuteLocalActivity(lctx, a.SetRestartStage, w.in.RestartID, stage).Get(ctx, nil); err != nil {
		workflow.GetLogger(ctx).Error("could not record restart stage", "stage", stage, "error", err)
	}
}

func (w *restartWorkflow) finish(ctx workflow.Context, err error) (RestartStatus, error) {
	if err != nil {
		w.err = err
		w.status.Error = codedError(err).Error()
		dctx, _ := workflow.NewDisconnectedContext(ctx)
		// A refusal rolled its transaction back; any other failure of CreateRestart (a
		// timeout, a cancel) may have committed it, so the row is marked failed too.
		if w.created != nil || !isRefusal(err) {
			w.setStage(dctx, StageFailed)
		} else {
			w.status.Stage = StageFailed
			upsertStage(dctx, StageFailed)
		}
	}
	_ = workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) })
	return w.status, err
}
