package workflows_test

import (
	"testing"

	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/headshotpro/retryd/workflows"
)

// TestReplayRetryWorkflowHistory replays a history recorded from a real run (give, reset,
// email, resend update, start signal, completion) against the current code: a change
// that would break running retries fails here with a nondeterminism error. Regenerate
// it only with a versioned workflow change: see docs/operations.md.
func TestReplayRetryWorkflowHistory(t *testing.T) {
	r := worker.NewWorkflowReplayer()
	r.RegisterWorkflowWithOptions(workflows.RetryWorkflow, workflow.RegisterOptions{Name: workflows.RetryWorkflowName})
	if err := r.ReplayWorkflowHistoryFromJSONFile(nil, "testdata/retry_workflow_history.json"); err != nil {
		t.Fatalf("replay: %v", err)
	}
}
