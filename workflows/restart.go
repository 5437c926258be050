package workflows

import (
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/headshotpro/retryd/activities"
	"github.com/headshotpro/retryd/internal/problem"
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
	Tuning       Tuning   `json:",omitempty"`
	Carried      *Carried `json:",omitempty"` // set when a pending run continued as new
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
	status := func(p Progress) any { return RestartStatus{RestartID: in.RestartID, Progress: p} }
	p, err := newLifecycle(lifecycleOf{id: in.RestartID, name: RestartWorkflowName, sub: &restart{in: in},
		send: a.SendRestartEmail, markFailed: a.MarkRestartEmailFailed,
		reminders: in.Reminders, tuning: in.Tuning, carried: in.Carried}).run(ctx, status)
	return status(p).(RestartStatus), err
}

// restart is a RestartShootWorkflow's subject: one database step creates the new shoot
// and the pending restart.
type restart struct {
	in     RestartInput
	resume *activities.EmailResume
}

func (r *restart) prepare(ctx workflow.Context) (IssueResult, error) {
	lctx := workflow.WithLocalActivityOptions(ctx, localOptions)
	var created activities.CreateRestartResult
	if err := workflow.ExecuteLocalActivity(lctx, a.CreateRestart, activities.CreateRestartInput{
		RestartID: r.in.RestartID, OrgID: r.in.OrgID, MemberID: r.in.MemberID, NewShootID: r.in.NewShootID,
		WorkflowID:   workflow.GetInfo(ctx).WorkflowExecution.ID,
		IssuedByKind: r.in.IssuedByKind, IssuedBy: r.in.IssuedBy, RequestID: r.in.RequestID,
	}).Get(ctx, &created); err != nil {
		return IssueResult{}, err
	}
	r.resume = created.Resume
	return IssueResult{RestartID: r.in.RestartID, Stage: StagePending, NewShootID: r.in.NewShootID,
		OldShootID: created.OldShootID, HasEmail: created.HasEmail}, nil
}

// abandon has nothing to complete: marking the restart failed (which lifecycle does next)
// takes its untouched new shoot back to deleted, so the member can be restarted again.
func (r *restart) abandon(workflow.Context) {}

func (r *restart) partlyDone() bool                 { return false } // one transaction: all or nothing
func (r *restart) resumed() *activities.EmailResume { return r.resume }
func (r *restart) setStage() any                    { return a.SetRestartStage }
func (r *restart) isStarted() any                   { return a.RestartStarted }

func (r *restart) busy() (problem.Code, string) {
	return problem.ActiveShootExists, "a restart of this member is already in progress"
}

func (r *restart) continueAs(c *Carried) any {
	in := r.in
	in.Carried = c
	return in
}
