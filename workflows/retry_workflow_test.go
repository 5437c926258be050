package workflows_test

import (
	"testing"
	"time"

	"github.com/headshotpro/retryd/activities"
	"github.com/headshotpro/retryd/internal/check"
	"github.com/headshotpro/retryd/workflows"
)

// What only a retry does: its database step, and for runs recorded before the one-step
// give, its three steps and what a stop between them leaves.

// wantReservation is the reservation of the default input: its ids and the workflow id.
var wantReservation = activities.ReserveRetryInput{
	RetryID: retryID, OrgID: orgID, MemberID: memberID, ShootID: retryShootID,
	Reason: "low_quality_photos", WorkflowID: workflows.RetryWorkflowID(retryShootID),
	IssuedByKind: "admin", IssuedBy: "admin-1", RequestID: "req-1",
}

// One local activity gives the retry, reservation and reset together; the issue update
// answers the allowance it used, and the stage goes straight to pending.
func TestRetryWorkflow_DatabaseStep(t *testing.T) {
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
	check.Equal(t, "reservation", h.callsNamed(workflows.ActivityGiveRetry)[0].Reserve, wantReservation)
	check.Equal(t, "calls", h.callNames(), []string{workflows.ActivityGiveRetry, workflows.ActivitySendRetryEmail, workflows.ActivitySetRetryStage})
	check.Equal(t, "stages upserted", h.upserted(), []string{workflows.StagePending, workflows.StageStarted})
}

// A run recorded before the one-step give keeps its three steps: the reservation carries
// the input, the reset names the retry.
func TestRetryWorkflow_ThreeStepsOfOlderRuns(t *testing.T) {
	h := newHarness(t, retryFlow)
	h.threeStepGive()
	h.mockDefaults()
	issue := h.issueAt(0, "issue", retryFlow.issue)
	h.signalAt(time.Hour)
	h.run()

	check.Equal(t, "stage", h.result().Stage, workflows.StageStarted)
	issue.succeeded(t)
	check.Equal(t, "answer", decodeResult[workflows.IssueResult](t, issue.value), retryFlow.issued)
	check.Equal(t, "reservation", h.callsNamed(workflows.ActivityReserveRetry)[0].Reserve, wantReservation)
	check.Equal(t, "calls", h.callNames(), []string{workflows.ActivityReserveRetry, workflows.ActivityDeleteResults,
		workflows.ActivityResetShoot, workflows.ActivitySendRetryEmail, workflows.ActivitySetRetryStage})
	for _, step := range []string{workflows.ActivityDeleteResults, workflows.ActivityResetShoot} {
		check.Equal(t, step+" subject", h.callsNamed(step)[0].Subject, retryID)
	}
	check.Equal(t, "stages upserted", h.upserted(), []string{workflows.StageResetting, workflows.StagePending, workflows.StageStarted})
}

// In a run of the three steps (as below), a failed reset fails the run and marks the retry failed, which frees the member's
// pending slot; a waiting issue update gets the reset's code.
func TestRetryWorkflow_ResetFailsMarksFailed(t *testing.T) {
	h := newHarness(t, retryFlow)
	h.threeStepGive()
	h.env.OnActivity(workflows.ActivityResetShoot, anyContext, retryID).Return(refusal("invalid_shoot_status"))
	h.mockDefaults()
	u := h.issueAt(0, "issue", retryFlow.issue)
	h.run()

	check.Equal(t, "workflow error type", appErrType(t, h.failure()), "invalid_shoot_status")
	check.Equal(t, "stages", h.stages(), []string{workflows.StageFailed})
	check.Equal(t, "emails", len(h.emails()), 0)
	u.failedWith(t, "invalid_shoot_status")
}

// Cancel between the three steps, before the reset is committed: the reservation committed, so the reset is
// carried to its end before the retry is marked failed (no member keeps a shoot whose
// results are gone but that was not reset), and a waiting issue update fails instead of
// hanging.
func TestRetryWorkflow_CancelBeforeReset(t *testing.T) {
	h := newHarness(t, retryFlow)
	h.threeStepGive()
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
