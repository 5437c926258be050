package workflows

import (
	"go.temporal.io/sdk/workflow"

	"github.com/headshotpro/retryd/activities"
	"github.com/headshotpro/retryd/internal/domain"
)

// RetryInput starts a RetryWorkflow. Ids only: names and addresses are read by the
// activities at the moment they need them, so no history holds personal data.
type RetryInput struct {
	RetryID  string
	OrgID    string
	MemberID string
	ShootID  string
	Reason   string // a reason code, never free text
	Issue
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
	run := runOf{id: in.RetryID, org: in.OrgID, issue: in.Issue, next: func(c *Carried) any { in.Carried = c; return in }}
	return live(ctx, retryKind, run, &retry{in: in}, func(p Progress) RetryStatus { return RetryStatus{RetryID: in.RetryID, Progress: p} })
}

// retry is a RetryWorkflow's subject: its database steps, one transaction in one local
// activity (short, and the API waits on it, so a local activity saves a round trip
// through the server); runs recorded before versionOneStepGive take three.
type retry struct {
	in       RetryInput
	reserved bool
}

func (r *retry) prepare(ctx workflow.Context) (IssueResult, *activities.EmailResume, error) {
	in := activities.ReserveRetryInput{
		RetryID: r.in.RetryID, OrgID: r.in.OrgID, MemberID: r.in.MemberID, ShootID: r.in.ShootID,
		Reason: r.in.Reason, WorkflowID: workflow.GetInfo(ctx).WorkflowExecution.ID,
		IssuedByKind: r.in.IssuedByKind, IssuedBy: r.in.IssuedBy, RequestID: r.in.RequestID, Credential: r.in.Credential,
	}
	var reserved activities.ReserveRetryResult
	if hasChange(ctx, versionOneStepGive) {
		// One transaction: committed, the retry is pending; refused or rolled back,
		// nothing happened. There is no partial state for abandon to repair.
		if err := dbStep(ctx, &reserved, a.GiveRetry, in); err != nil {
			return IssueResult{}, nil, err
		}
	} else {
		if err := dbStep(ctx, &reserved, a.ReserveRetry, in); err != nil {
			return IssueResult{}, nil, err
		}
		r.reserved = true
		upsertStage(ctx, domain.StageResetting)
		if err := r.reset(ctx); err != nil {
			return IssueResult{}, nil, err
		}
	}
	// A member without an address gets no email and no reminders: the admin hands over the
	// link. Results recorded before NoEmail existed lack it and keep emailing on replay.
	return IssueResult{RetryID: r.in.RetryID, Stage: domain.StagePending, AllowanceUsed: reserved.AllowanceUsed, HasEmail: !reserved.NoEmail}, reserved.Resume, nil
}

// reset deletes the results and resets the shoot; both do nothing once done, so running
// them again after a crash or a cancel is safe.
func (r *retry) reset(ctx workflow.Context) error {
	if err := dbStep(ctx, nil, a.DeleteResults, r.in.RetryID); err != nil {
		return err
	}
	return dbStep(ctx, nil, a.ResetShoot, r.in.RetryID)
}

// abandon completes the reset of a reservation that may have committed before the run
// was canceled: a member never keeps a shoot whose results are gone but which was not
// reset. The retry is then marked failed (docs/operations.md says how to repair it).
func (r *retry) abandon(ctx workflow.Context) {
	if err := r.reset(ctx); err != nil && !isRefusal(err) {
		workflow.GetLogger(ctx).Error("could not complete the reset of an abandoned retry", "error", err)
	}
}

// partlyDone: a reservation commits before the reset, so a stop between them leaves work.
func (r *retry) partlyDone() bool { return r.reserved }
