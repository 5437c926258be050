// Package launch starts a retry's or a restart's workflow, or attaches to the one that is
// running, and waits until its database steps are committed. The API gives retries
// through it, and `retryd resume` uses it to carry on a pending retry whose workflow is
// gone (terminated by an operator, or lost with a Temporal database): one way in, so a
// resumed retry is started exactly as a given one.
package launch

import (
	"context"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/headshotpro/retryd/internal/domain"
	"github.com/headshotpro/retryd/internal/store"
	"github.com/headshotpro/retryd/workflows"
)

// Launcher starts workflows on one task queue.
type Launcher struct {
	client    client.Client
	taskQueue string
	timeout   time.Duration
}

// New returns a Launcher; timeout bounds each call (the API's answer time).
func New(c client.Client, taskQueue string, timeout time.Duration) *Launcher {
	return &Launcher{client: c, taskQueue: taskQueue, timeout: timeout}
}

// Retry starts or attaches to the retry's workflow and answers once its reset is
// committed. requestID makes the update's id unique to this call: a call never receives
// the stored outcome of an earlier run's update (a failed run's answer is not final).
func (l *Launcher) Retry(ctx context.Context, in workflows.RetryInput, requestID string) (workflows.IssueResult, error) {
	return l.launch(ctx, start{
		workflowID: workflows.RetryWorkflowID(in.ShootID), workflowType: workflows.RetryWorkflowName, input: in,
		orgID: in.OrgID, memberID: in.MemberID, shootID: in.ShootID,
		summary:  "Retry of shoot " + in.ShootID,
		details:  "org " + in.OrgID + " · member " + in.MemberID + " · retry " + in.RetryID,
		updateID: "issue-" + in.RetryID + "-" + requestID, updateArg: workflows.IssueRequest{RetryID: in.RetryID},
	})
}

// Restart starts or attaches to the restart's workflow and answers once the new shoot is
// committed.
func (l *Launcher) Restart(ctx context.Context, in workflows.RestartInput, requestID string) (workflows.IssueResult, error) {
	return l.launch(ctx, start{
		workflowID: workflows.RestartWorkflowID(in.MemberID), workflowType: workflows.RestartWorkflowName, input: in,
		orgID: in.OrgID, memberID: in.MemberID, shootID: in.NewShootID,
		summary:  "Restart of member " + in.MemberID,
		details:  "org " + in.OrgID + " · new shoot " + in.NewShootID + " · restart " + in.RestartID,
		updateID: "issue-" + in.RestartID + "-" + requestID, updateArg: workflows.IssueRequest{RestartID: in.RestartID},
	})
}

// RetryInput rebuilds the input of a recorded retry, to resume it.
func RetryInput(r *store.Retry, reminders []time.Duration, tuning workflows.Tuning, requestID string) workflows.RetryInput {
	in := workflows.RetryInput{
		RetryID: r.ID, OrgID: r.OrgID, MemberID: r.MemberID, ShootID: r.ShootID,
		Issue: workflows.Issue{IssuedByKind: r.IssuedByKind, IssuedBy: r.IssuedBy, RequestID: requestID,
			Reminders: reminders, Tuning: tuning},
	}
	if r.Reason != nil {
		in.Reason = *r.Reason
	}
	return in
}

// RestartInput rebuilds the input of a recorded restart, to resume it.
func RestartInput(r *store.Restart, reminders []time.Duration, tuning workflows.Tuning, requestID string) workflows.RestartInput {
	return workflows.RestartInput{
		RestartID: r.ID, OrgID: r.OrgID, MemberID: r.MemberID, NewShootID: r.NewShootID,
		Issue: workflows.Issue{IssuedByKind: r.IssuedByKind, IssuedBy: r.IssuedBy, RequestID: requestID,
			Reminders: reminders, Tuning: tuning},
	}
}

type start struct {
	workflowID, workflowType string
	input                    any
	orgID, memberID, shootID string
	summary, details         string
	updateID                 string
	updateArg                any
}

// launch runs Update-with-Start: the workflow starts, or the running one is used, and the
// call returns once the issue update completed.
func (l *Launcher) launch(ctx context.Context, st start) (workflows.IssueResult, error) {
	ctx, cancel := context.WithTimeout(ctx, l.timeout)
	defer cancel()
	op := l.client.NewWithStartWorkflowOperation(client.StartWorkflowOptions{
		ID:                       st.workflowID,
		TaskQueue:                l.taskQueue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		// A closed run never refuses a new one: Postgres, not Temporal's retention of old
		// runs, decides whether a shoot was retried (a database restored from a backup
		// must not be contradicted by runs it no longer knows).
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		TypedSearchAttributes: temporal.NewSearchAttributes(
			workflows.KeyOrgID.ValueSet(st.orgID), workflows.KeyMemberID.ValueSet(st.memberID),
			workflows.KeyShootID.ValueSet(st.shootID), workflows.KeyRetryStage.ValueSet(domain.StageReserving),
		),
		StaticSummary: st.summary,
		StaticDetails: st.details,
	}, st.workflowType, st.input)
	handle, err := l.client.UpdateWithStartWorkflow(ctx, client.UpdateWithStartWorkflowOptions{
		StartWorkflowOperation: op,
		UpdateOptions: client.UpdateWorkflowOptions{
			UpdateID:     st.updateID,
			UpdateName:   workflows.UpdateIssue,
			Args:         []any{st.updateArg},
			WaitForStage: client.WorkflowUpdateStageCompleted,
		},
	})
	var res workflows.IssueResult
	if err == nil {
		err = handle.Get(ctx, &res)
	}
	return res, err
}
