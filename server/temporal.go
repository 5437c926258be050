package server

import (
	"context"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/headshotpro/retryd/internal/problem"
	"github.com/headshotpro/retryd/workflows"
)

// issueStart describes a retry or restart workflow to start (or attach to) and the
// issue update the API waits on.
type issueStart struct {
	workflowID   string
	workflowType string
	input        any
	orgID        string
	memberID     string
	shootID      string
	summary      string
	details      string
	updateID     string
	updateArg    any
	closed       problem.Code // the answer when the id's reuse policy refuses a new run
}

// issue runs Update-with-Start: the workflow starts, or a concurrent caller's run is
// reused, and the call returns once the issue update completed, i.e. once the
// workflow's database steps are committed. result receives the update's answer.
func (s *Server) issue(ctx context.Context, st issueStart, result any) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.GiveTimeout)
	defer cancel()
	start := s.tc.NewWithStartWorkflowOperation(client.StartWorkflowOptions{
		ID:                       st.workflowID,
		TaskQueue:                s.cfg.TaskQueue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		// A closed run never refuses a new one: Postgres, not Temporal's retention of old
		// runs, decides whether a shoot was retried (a database restored from a backup
		// must not be contradicted by runs it no longer knows).
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		TypedSearchAttributes: temporal.NewSearchAttributes(
			workflows.KeyOrgID.ValueSet(st.orgID), workflows.KeyMemberID.ValueSet(st.memberID),
			workflows.KeyShootID.ValueSet(st.shootID), workflows.KeyRetryStage.ValueSet(workflows.StageReserving),
		),
		StaticSummary: st.summary,
		StaticDetails: st.details,
	}, st.workflowType, st.input)
	handle, err := s.tc.UpdateWithStartWorkflow(ctx, client.UpdateWithStartWorkflowOptions{
		StartWorkflowOperation: start,
		UpdateOptions: client.UpdateWorkflowOptions{
			UpdateID:     st.updateID,
			UpdateName:   workflows.UpdateIssue,
			Args:         []any{st.updateArg},
			WaitForStage: client.WorkflowUpdateStageCompleted,
		},
	})
	if err == nil {
		err = handle.Get(ctx, result)
	}
	return workflowError(err, st.closed)
}

// tuning is the wait's schedule given to new retries and restarts.
func (s *Server) tuning() workflows.Tuning {
	return workflows.Tuning{StartCheck: s.cfg.StartCheck}
}
