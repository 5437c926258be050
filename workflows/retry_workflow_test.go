package workflows_test

import (
	"testing"
	"time"

	"github.com/headshotpro/retryd/activities"
	"github.com/headshotpro/retryd/internal/check"
	"github.com/headshotpro/retryd/workflows"
)

// What only a retry does: its three database steps and what a stop between them leaves.

// The reservation carries the input's ids and the workflow id, the reset names the retry,
// and the issue update answers the allowance the reservation used.
func TestRetryWorkflow_DatabaseSteps(t *testing.T) {
	h := newHarness(t, retryFlow)
	h.onFirstStep().Return(h.reserved(activities.ReserveRetryResult{AllowanceUsed: "retry_credit"}, nil)).Once()
	h.mockDefaults()
	issue := h.issueAt(0, "issue", retryFlow.issue)
	h.signalAt(time.Hour)
	h.run()

	check.Equal(t, "stage", h.result().Stage, workflows.StageStarted)
	issue.succeeded(t)
	want := retryFlow.issued
	want.AllowanceUsed = "retry_credit"
	check.Equal(t, "answer", decodeResult[workflows.IssueResult](t, issue.value), want)
	check.Equal(t, "reservation", h.callsNamed(workflows.ActivityReserveRetry)[0].Reserve, activities.ReserveRetryInput{
		RetryID: retryID, OrgID: orgID, MemberID: memberID, ShootID: retryShootID,
		Reason: "low_quality_photos", WorkflowID: workflows.RetryWorkflowID(retryShootID),
		IssuedByKind: "admin", IssuedBy: "admin-1", RequestID: "req-1",
	})
	for _, step := range []string{workflows.ActivityDeleteResults, workflows.ActivityResetShoot} {
		check.Equal(t, step+" subject", h.callsNamed(step)[0].Subject, retryID)
	}
}

// A failed reset fails the run and marks the retry failed, which frees the member's
// pending slot; a waiting issue update gets the reset's code.
func TestRetryWorkflow_ResetFailsMarksFailed(t *testing.T) {
	h := newHarness(t, retryFlow)
	h.env.OnActivity(workflows.ActivityResetShoot, anyContext, retryID).Return(refusal("invalid_shoot_status"))
	h.mockDefaults()
	u := h.issueAt(0, "issue", retryFlow.issue)
	h.run()

	check.Equal(t, "workflow error type", appErrType(t, h.failure()), "invalid_shoot_status")
	check.Equal(t, "stages", h.stages(), []string{workflows.StageFailed})
	check.Equal(t, "emails", len(h.emails()), 0)
	u.failedWith(t, "invalid_shoot_status")
}

// Cancel before the reset is committed: the reservation committed, so the reset is
// carried to its end before the retry is marked failed (no member keeps a shoot whose
// results are gone but that was not reset), and a waiting issue update fails instead of
// hanging.
func TestRetryWorkflow_CancelBeforeReset(t *testing.T) {
	h := newHarness(t, retryFlow)
	// The first deletion hangs (a lock) and is canceled; it records nothing, so the calls
	// recorded are the reservation and what the cancel runs.
	h.env.OnActivity(workflows.ActivityDeleteResults, anyContext, retryID).After(time.Hour).Return(int64(0), nil).Once()
	h.mockDefaults()
	u := h.issueAt(0, "issue", retryFlow.issue)
	h.cancelAt(30 * time.Minute)
	h.run()

	h.failure()
	check.Equal(t, "calls", h.callNames(), []string{workflows.ActivityReserveRetry, workflows.ActivityDeleteResults,
		workflows.ActivityResetShoot, workflows.ActivitySetRetryStage})
	check.Equal(t, "stages (marked failed exactly once)", h.stages(), []string{workflows.StageFailed})
	u.failedWith(t, "")
}
