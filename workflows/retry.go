package workflows

import (
	"errors"
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
	RetryID       string
	Stage         string
	EmailStatus   string
	MessageID     string
	RemindersSent int
	EmailsSent    int
	Error         string
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
	w := &retryWorkflow{in: in, status: RetryStatus{RetryID: in.RetryID, Stage: StageReserving, EmailStatus: store.EmailQueued}}
	return w.run(ctx)
}

type retryWorkflow struct {
	in        RetryInput
	status    RetryStatus
	allowance string
	reset     bool  // the reset is committed: the issue update may answer
	err       error // the reason this retry did not happen
	started   bool
	nextSeq   int
}

func (w *retryWorkflow) run(ctx workflow.Context) (RetryStatus, error) {
	if err := w.registerHandlers(ctx); err != nil {
		return w.status, err
	}
	if err := w.reserveAndReset(ctx); err != nil {
		return w.finish(ctx, err)
	}
	w.sendEmail(ctx, store.EmailKindInitial, 0)
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
	if err := workflow.ExecuteLocalActivity(lctx, a.DeleteResults, w.in.RetryID).Get(ctx, nil); err != nil {
		return w.failReserved(ctx, err)
	}
	if err := workflow.ExecuteLocalActivity(lctx, a.ResetShoot, w.in.RetryID).Get(ctx, nil); err != nil {
		return w.failReserved(ctx, err)
	}
	w.reset = true
	w.setStage(ctx, StagePending)
	return nil
}

// failReserved marks a reserved retry failed, freeing the member's pending slot, when its
// reset could not complete.
func (w *retryWorkflow) failReserved(ctx workflow.Context, cause error) error {
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	lctx := workflow.WithLocalActivityOptions(dctx, localOptions)
	if err := workflow.ExecuteLocalActivity(lctx, a.SetRetryStage, w.in.RetryID, StageFailed).Get(dctx, nil); err != nil {
		workflow.GetLogger(ctx).Error("could not record failed retry", "error", err)
	}
	return cause
}

// awaitStart waits for the member's start signal, sending reminders on durable timers.
// Reminder delays count from the first email; none is sent after the start.
func (w *retryWorkflow) awaitStart(ctx workflow.Context) error {
	started := workflow.GetSignalChannel(ctx, SignalShootStarted)
	emailAt := workflow.Now(ctx)
	for reminder := 0; !w.started; {
		timerCtx, cancelTimer := workflow.WithCancel(ctx)
		fire := false
		sel := workflow.NewSelector(ctx)
		sel.AddReceive(started, func(c workflow.ReceiveChannel, _ bool) {
			c.Receive(ctx, nil)
			w.started = true
		})
		sel.AddReceive(ctx.Done(), func(workflow.ReceiveChannel, bool) {})
		if reminder < len(w.in.Reminders) {
			wait := w.in.Reminders[reminder] - workflow.Now(ctx).Sub(emailAt)
			sel.AddFuture(workflow.NewTimer(timerCtx, max(wait, time.Millisecond)), func(f workflow.Future) {
				fire = f.Get(ctx, nil) == nil
			})
		}
		sel.Select(ctx)
		cancelTimer()
		if ctx.Err() != nil {
			return temporal.NewCanceledError("retry canceled while waiting for the member")
		}
		if fire && !w.started {
			reminder++
			if res, _ := w.sendEmail(ctx, store.EmailKindReminder, reminder); res.NotPending {
				w.started = true
			}
		}
	}
	return nil
}

// sendEmail sends one email of this retry. Each email has its own sequence number, so a
// resend racing a reminder never collapses into one send.
func (w *retryWorkflow) sendEmail(ctx workflow.Context, kind string, reminder int) (activities.SendEmailResult, error) {
	in := activities.SendEmailInput{SubjectID: w.in.RetryID, Seq: w.nextSeq, Kind: kind, Reminder: reminder}
	w.nextSeq++
	actx := workflow.WithActivityOptions(ctx, emailOptions(kind))
	var res activities.SendEmailResult
	err := workflow.ExecuteActivity(actx, a.SendRetryEmail, in).Get(ctx, &res)
	switch {
	case err == nil && res.Skipped:
		return res, nil
	case err == nil:
		w.status.EmailStatus, w.status.MessageID = store.EmailSent, res.MessageID
		w.status.EmailsSent++
		if kind == store.EmailKindReminder {
			w.status.RemindersSent++
		}
		return res, nil
	}
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) || appErr.Type() != activities.ErrTypeMailPermanent {
		// Transient errors outlasted the retry policy; the activity could not record it.
		lctx := workflow.WithLocalActivityOptions(ctx, localOptions)
		if ferr := workflow.ExecuteLocalActivity(lctx, a.MarkRetryEmailFailed, in).Get(ctx, nil); ferr != nil {
			workflow.GetLogger(ctx).Error("could not record email failure", "error", ferr)
		}
	}
	if w.status.EmailStatus != store.EmailSent || kind != store.EmailKindReminder {
		w.status.EmailStatus = store.EmailFailed
	}
	workflow.GetLogger(ctx).Warn("retry email failed", "kind", kind, "error", err)
	return res, err
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
		return IssueResult{}, err
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
	if _, err := w.sendEmail(ctx, store.EmailKindResend, 0); err != nil {
		return ResendResult{}, codedError(err)
	}
	return ResendResult{MessageID: w.status.MessageID}, nil
}

// finish records the outcome, waits for running update handlers and ends the run.
func (w *retryWorkflow) finish(ctx workflow.Context, err error) (RetryStatus, error) {
	if err != nil {
		w.err = err
		w.status.Error = codedError(err).Error()
		if w.status.Stage != StageStarted {
			dctx, _ := workflow.NewDisconnectedContext(ctx)
			w.setStageOnly(dctx, StageFailed)
			if w.reset {
				_ = w.failReserved(dctx, err)
			}
		}
	}
	_ = workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) })
	if err != nil {
		return w.status, err
	}
	return w.status, nil
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
	if err := workflow.UpsertTypedSearchAttributes(ctx, KeyRetryStage.ValueSet(stage)); err != nil {
		workflow.GetLogger(ctx).Error("could not upsert RetryStage", "error", err)
	}
}

// codedError keeps the problem code of an activity's failure as the error type, so the
// API answers an update's failure with the same problem+json as a refused pre-check.
func codedError(err error) error {
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) && problem.Code(appErr.Type()).Known() {
		return temporal.NewNonRetryableApplicationError(appErr.Message(), appErr.Type(), nil)
	}
	var canceled *temporal.CanceledError
	if errors.As(err, &canceled) {
		return temporal.NewNonRetryableApplicationError("the retry was canceled", string(problem.RetryNotPending), nil)
	}
	return temporal.NewNonRetryableApplicationError("the retry could not be completed", string(problem.Unavailable), nil)
}

var localOptions = workflow.LocalActivityOptions{
	StartToCloseTimeout:    5 * time.Second,
	ScheduleToCloseTimeout: 2 * time.Minute,
	RetryPolicy: &temporal.RetryPolicy{
		InitialInterval:    100 * time.Millisecond,
		BackoffCoefficient: 2,
		MaximumInterval:    5 * time.Second,
	},
}

func emailOptions(kind string) workflow.ActivityOptions {
	return workflow.ActivityOptions{
		StartToCloseTimeout:    30 * time.Second,
		ScheduleToCloseTimeout: 24 * time.Hour,
		Summary:                "send " + kind + " retry email",
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:        time.Second,
			BackoffCoefficient:     2,
			MaximumInterval:        5 * time.Minute,
			NonRetryableErrorTypes: []string{activities.ErrTypeMailPermanent, string(problem.NotFound)},
		},
	}
}
