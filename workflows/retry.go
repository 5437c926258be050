package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/headshotpro/retryd/activities"
	"github.com/headshotpro/retryd/internal/problem"
	"github.com/headshotpro/retryd/internal/store"
)

// RetryInput starts a RetryWorkflow. Ids only: names and addresses are read by the
// activities at the moment they need them, so no history holds personal data.
type RetryInput struct {
	RetryID      string
	OrgID        string
	MemberID     string
	ShootID      string
	Reason       string // a reason code, never free text
	IssuedByKind string
	IssuedBy     string
	RequestID    string
	// Reminders are the delays after the first email; fixed at start so a configuration
	// change never alters the timers of a running retry.
	Reminders []time.Duration
}

// IssueRequest is the argument of the issue update; RetryID tells the caller who started
// this run apart from a concurrent caller who merely attached to it.
type IssueRequest struct {
	RetryID string
}

// IssueResult answers the issue update once the reset is committed.
type IssueResult struct {
	RetryID       string
	Stage         string
	AllowanceUsed string
}

// RetryStatus answers the status query and is the workflow's result.
type RetryStatus struct {
	RetryID string
	Stage   string
	EmailState
	Error string
}

// ResendResult answers the resend-email update.
type ResendResult struct {
	MessageID string
	Skipped   bool
}

// a is only used for its method names: the worker registers the real *Activities.
var a *activities.Activities

// RetryWorkflow is one retry of one shoot, from the reservation of the allowance to the
// member starting their new shoot.
func RetryWorkflow(ctx workflow.Context, in RetryInput) (RetryStatus, error) {
	w := &retryWorkflow{in: in, status: RetryStatus{RetryID: in.RetryID, Stage: StageReserving, EmailState: EmailState{EmailStatus: store.EmailQueued}}}
	w.mail = emailer{subjectID: in.RetryID, send: a.SendRetryEmail, markFailed: a.MarkRetryEmailFailed, state: &w.status.EmailState}
	return w.run(ctx)
}

type retryWorkflow struct {
	in        RetryInput
	status    RetryStatus
	allowance string
	reserved  bool  // the allowance is reserved and the retry recorded
	reset     bool  // the reset is committed: the issue update may answer
	err       error // the reason this retry did not happen
	started   bool
	mail      emailer
}

func (w *retryWorkflow) run(ctx workflow.Context) (RetryStatus, error) {
	if err := w.registerHandlers(ctx); err != nil {
		return w.status, err
	}
	if err := w.reserveAndReset(ctx); err != nil {
		return w.finish(ctx, err)
	}
	w.mail.sendEmail(ctx, store.EmailKindInitial, 0)
	if err := w.awaitStart(ctx); err != nil {
		return w.finish(ctx, err)
	}
	w.setStage(ctx, StageStarted)
	return w.finish(ctx, nil)
}

func (w *retryWorkflow) registerHandlers(ctx workflow.Context) error {
	if err := workflow.SetQueryHandlerWithOptions(ctx, QueryStatus, func() (RetryStatus, error) {
		return w.status, nil
	}, workflow.QueryHandlerOptions{Description: "stage, email status and reminders of this retry"}); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateIssue, w.issue, workflow.UpdateHandlerOptions{
		Validator:   w.validateIssue,
		Description: "waits until the retry's reset is committed",
	}); err != nil {
		return err
	}
	return workflow.SetUpdateHandlerWithOptions(ctx, UpdateResendEmail, w.resend, workflow.UpdateHandlerOptions{
		Validator:   w.validateResend,
		Description: "sends the retry email again while the retry is pending",
	})
}

// reserveAndReset runs the three database steps as local activities: they are short, and
// the API waits on them, so each saves a round trip through the Temporal server.
func (w *retryWorkflow) reserveAndReset(ctx workflow.Context) error {
	lctx := workflow.WithLocalActivityOptions(ctx, localOptions)
	var reserved activities.ReserveRetryResult
	if err := workflow.ExecuteLocalActivity(lctx, a.ReserveRetry, activities.ReserveRetryInput{
		RetryID: w.in.RetryID, OrgID: w.in.OrgID, MemberID: w.in.MemberID, ShootID: w.in.ShootID,
		Reason: w.in.Reason, WorkflowID: workflow.GetInfo(ctx).WorkflowExecution.ID,
		IssuedByKind: w.in.IssuedByKind, IssuedBy: w.in.IssuedBy, RequestID: w.in.RequestID,
	}).Get(ctx, &reserved); err != nil {
		return err
	}
	w.allowance = reserved.AllowanceUsed
	w.setStage(ctx, StageResetting)
	w.reserved = true
	if err := workflow.ExecuteLocalActivity(lctx, a.DeleteResults, w.in.RetryID).Get(ctx, nil); err != nil {
		return err
	}
	if err := workflow.ExecuteLocalActivity(lctx, a.ResetShoot, w.in.RetryID).Get(ctx, nil); err != nil {
		return err
	}
	w.reset = true
	w.setStage(ctx, StagePending)
	return nil
}

// recordFailed marks the retry failed in the database, freeing the member's pending
// slot. ctx must survive the workflow's cancellation.
func (w *retryWorkflow) recordFailed(ctx workflow.Context) {
	lctx := workflow.WithLocalActivityOptions(ctx, localOptions)
	if err := workflow.ExecuteLocalActivity(lctx, a.SetRetryStage, w.in.RetryID, StageFailed).Get(ctx, nil); err != nil {
		workflow.GetLogger(ctx).Error("could not record failed retry", "error", err)
	}
}

// awaitStart waits for the member to start; reminders repeat the retry email.
func (w *retryWorkflow) awaitStart(ctx workflow.Context) error {
	err := awaitStart(ctx, w.in.Reminders, func(n int) bool {
		res, _ := w.mail.sendEmail(ctx, store.EmailKindReminder, n)
		return res.AlreadyStarted
	})
	w.started = err == nil
	return err
}

func (w *retryWorkflow) validateIssue(req IssueRequest) error {
	if req.RetryID == w.in.RetryID {
		return nil
	}
	if w.err != nil {
		return codedError(w.err)
	}
	return temporal.NewApplicationError("the member already has a pending retry for this shoot", string(problem.RetryPending))
}

func (w *retryWorkflow) issue(ctx workflow.Context, _ IssueRequest) (IssueResult, error) {
	if err := workflow.Await(ctx, func() bool { return w.reset || w.err != nil }); err != nil {
		return IssueResult{}, codedError(err)
	}
	if !w.reset {
		return IssueResult{}, codedError(w.err)
	}
	return IssueResult{RetryID: w.in.RetryID, Stage: w.status.Stage, AllowanceUsed: w.allowance}, nil
}

func (w *retryWorkflow) validateResend() error {
	if w.reset && !w.started && w.err == nil {
		return nil
	}
	return temporal.NewApplicationError("only a pending retry's email can be sent again", string(problem.RetryNotPending))
}

func (w *retryWorkflow) resend(ctx workflow.Context) (ResendResult, error) {
	res, err := w.mail.sendEmail(ctx, store.EmailKindResend, 0)
	if err != nil {
		return ResendResult{}, codedError(err)
	}
	return ResendResult{MessageID: res.MessageID, Skipped: res.Skipped}, nil
}

// finish records the outcome, waits for running update handlers and ends the run.
func (w *retryWorkflow) finish(ctx workflow.Context, err error) (RetryStatus, error) {
	if err != nil {
		w.err = err
		w.status.Error = codedError(err).Error()
		if w.status.Stage != StageStarted {
			dctx, _ := workflow.NewDisconnectedContext(ctx)
			w.setStageOnly(dctx, StageFailed)
			// A refusal rolled its transaction back; any other failure of the reservation
			// (a timeout, a cancel) may have committed it, so the row is marked failed too.
			if w.reserved || !isRefusal(err) {
				w.recordFailed(dctx)
			}
		}
	}
	_ = workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) })
	return w.status, err
}

// setStage moves the stage in the query answer, the RetryStage search attribute and,
// for started, the database.
func (w *retryWorkflow) setStage(ctx workflow.Context, stage string) {
	w.setStageOnly(ctx, stage)
	if stage == StageStarted {
		lctx := workflow.WithLocalActivityOptions(ctx, localOptions)
		if err := workflow.ExecuteLocalActivity(lctx, a.SetRetryStage, w.in.RetryID, stage).Get(ctx, nil); err != nil {
			workflow.GetLogger(ctx).Error("could not record started retry", "error", err)
		}
	}
}

func (w *retryWorkflow) setStageOnly(ctx workflow.Context, stage string) {
	w.status.Stage = stage
	upsertStage(ctx, stage)
}
