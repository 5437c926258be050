package workflows

import (
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/headshotpro/retryd/activities"
	"github.com/headshotpro/retryd/internal/problem"
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
	Tuning    Tuning   `json:",omitempty"`
	Carried   *Carried `json:",omitempty"` // set when a pending run continued as new
}

// RetryStatus answers the status query and is the workflow's result.
type RetryStatus struct {
	RetryID string
	Progress
}

// a is only used for its method names: the worker registers the real *Activities.
var a *activities.Activities

// RetryWorkflow is one retry of one shoot, from the reservation of the allowance to the
// member starting their new shoot.
func RetryWorkflow(ctx workflow.Context, in RetryInput) (RetryStatus, error) {
	status := func(p Progress) any { return RetryStatus{RetryID: in.RetryID, Progress: p} }
	p, err := newLifecycle(lifecycleOf{id: in.RetryID, name: RetryWorkflowName, sub: &retry{in: in},
		send: a.SendRetryEmail, markFailed: a.MarkRetryEmailFailed,
		reminders: in.Reminders, tuning: in.Tuning, carried: in.Carried}).run(ctx, status)
	return status(p).(RetryStatus), err
}

// retry is a RetryWorkflow's subject: three database steps, each a local activity
// (short, and the API waits on them, so each saves a round trip through the server).
type retry struct {
	in       RetryInput
	reserved bool
	resume   *activities.EmailResume
}

func (r *retry) prepare(ctx workflow.Context) (IssueResult, error) {
	lctx := workflow.WithLocalActivityOptions(ctx, localOptions)
	var reserved activities.ReserveRetryResult
	if err := workflow.ExecuteLocalActivity(lctx, a.ReserveRetry, activities.ReserveRetryInput{
		RetryID: r.in.RetryID, OrgID: r.in.OrgID, MemberID: r.in.MemberID, ShootID: r.in.ShootID,
		Reason: r.in.Reason, WorkflowID: workflow.GetInfo(ctx).WorkflowExecution.ID,
		IssuedByKind: r.in.IssuedByKind, IssuedBy: r.in.IssuedBy, RequestID: r.in.RequestID,
	}).Get(ctx, &reserved); err != nil {
		return IssueResult{}, err
	}
	r.reserved, r.resume = true, reserved.Resume
	upsertStage(ctx, StageResetting)
	if err := r.reset(ctx); err != nil {
		return IssueResult{}, err
	}
	// HasEmail: a retry always emails; the send activity skips a member without an address.
	return IssueResult{RetryID: r.in.RetryID, Stage: StagePending, AllowanceUsed: reserved.AllowanceUsed, HasEmail: true}, nil
}

// reset deletes the results and resets the shoot; both do nothing once done, so running
// them again after a crash or a cancel is safe.
func (r *retry) reset(ctx workflow.Context) error {
	lctx := workflow.WithLocalActivityOptions(ctx, localOptions)
	if err := workflow.ExecuteLocalActivity(lctx, a.DeleteResults, r.in.RetryID).Get(ctx, nil); err != nil {
		return err
	}
	return workflow.ExecuteLocalActivity(lctx, a.ResetShoot, r.in.RetryID).Get(ctx, nil)
}

// abandon completes the reset of a reservation that may have committed before the run
// was canceled: a member never keeps a shoot whose results are gone but which was not
// reset. The retry is then marked failed (docs/operations.md says how to repair it).
func (r *retry) abandon(ctx workflow.Context) {
	if err := r.reset(ctx); err != nil && !isRefusal(err) {
		workflow.GetLogger(ctx).Error("could not complete the reset of an abandoned retry", "error", err)
	}
}

func (r *retry) partlyDone() bool                 { return r.reserved }
func (r *retry) resumed() *activities.EmailResume { return r.resume }
func (r *retry) setStage() any                    { return a.SetRetryStage }
func (r *retry) isStarted() any                   { return a.RetryStarted }

func (r *retry) busy() (problem.Code, string) {
	return problem.RetryPending, "the member already has a pending retry for this shoot"
}

func (r *retry) continueAs(c *Carried) any {
	in := r.in
	in.Carried = c
	return in
}
