package workflows

import (
	"go.temporal.io/sdk/workflow"

	"github.com/headshotpro/retryd/activities"
	"github.com/headshotpro/retryd/internal/domain"
)

// RestartInput starts a RestartShootWorkflow; ids only.
type RestartInput struct {
	RestartID  string
	OrgID      string
	MemberID   string
	NewShootID string
	Issue
}

// RestartStatus answers the status query and is the workflow's result.
type RestartStatus struct {
	RestartID string
	Progress
}

// RestartShootWorkflow restarts a managed member's deleted shoot: a new onboarding shoot,
// a fresh access link by email when the member has an address, then pending until the
// member starts it.
func RestartShootWorkflow(ctx workflow.Context, in RestartInput) (RestartStatus, error) {
	run := runOf{id: in.RestartID, org: in.OrgID, issue: in.Issue, next: func(c *Carried) any { in.Carried = c; return in }}
	return live(ctx, restartKind, run, &restart{in}, func(p Progress) RestartStatus { return RestartStatus{RestartID: in.RestartID, Progress: p} })
}

// restart is a RestartShootWorkflow's subject: one database step creates the new shoot
// and the pending restart.
type restart struct{ in RestartInput }

func (r *restart) prepare(ctx workflow.Context) (IssueResult, *activities.EmailResume, error) {
	var created activities.CreateRestartResult
	if err := dbStep(ctx, &created, a.CreateRestart, activities.CreateRestartInput{
		RestartID: r.in.RestartID, OrgID: r.in.OrgID, MemberID: r.in.MemberID, NewShootID: r.in.NewShootID,
		WorkflowID:   workflow.GetInfo(ctx).WorkflowExecution.ID,
		IssuedByKind: r.in.IssuedByKind, IssuedBy: r.in.IssuedBy, RequestID: r.in.RequestID, Credential: r.in.Credential,
	}); err != nil {
		return IssueResult{}, nil, err
	}
	return IssueResult{RestartID: r.in.RestartID, Stage: domain.StagePending, NewShootID: r.in.NewShootID,
		OldShootID: created.OldShootID, HasEmail: created.HasEmail}, created.Resume, nil
}

// abandon has nothing to complete: marking the restart failed (which lifecycle does next)
// takes its untouched new shoot back to deleted, so the member can be restarted again.
func (r *restart) abandon(workflow.Context) {}

// partlyDone: one transaction, all or nothing.
func (r *restart) partlyDone() bool { return false }
