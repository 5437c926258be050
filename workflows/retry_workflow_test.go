package workflows_test

import (
	"testing"
	"time"

	"github.com/headshotpro/retryd/activities"
	"github.com/headshotpro/retryd/internal/domain"
	"github.com/headshotpro/retryd/internal/tooling/assert"
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

// A new run gives the retry in one local activity, reservation and reset together, and
// its stage goes straight to pending; a run recorded before the one-step give keeps its
// three steps. Either way the reservation carries the input, and the issue update
// answers the allowance it used.
func TestRetryWorkflow_DatabaseSteps(t *testing.T) {
	for _, tc := range []struct {
		name      string
		threeStep bool
		reserve   string
		calls     []string
		upserted  []string
	}{
		{name: "one step", reserve: workflows.ActivityGiveRetry,
			calls:    []string{workflows.ActivityGiveRetry, workflows.ActivitySendRetryEmail, workflows.ActivitySetRetryStage},
			upserted: []string{domain.StagePending, domain.StageStarted}},
		{name: "three steps of an older run", threeStep: true, reserve: workflows.ActivityReserveRetry,
			calls: []string{workflows.ActivityReserveRetry, workflows.ActivityDeleteResults, workflows.ActivityResetShoot,
				workflows.ActivitySendRetryEmail, workflows.ActivitySetRetryStage},
			upserted: []string{domain.StageResetting, domain.StagePending, domain.StageStarted}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, retryFlow)
			res := activities.ReserveRetryResult{AllowanceUsed: "retry_credit"}
			if tc.threeStep {
				h.threeStepGive()
				h.env.OnActivity(workflows.ActivityReserveRetry, anyContext, retryFlow.firstInput).
					Return(h.reservedAs(workflows.ActivityReserveRetry, res, nil)).Once()
			} else {
				h.onFirstStep().Return(h.reserved(res, nil)).Once()
			}
			h.mockDefaults()
			issue := h.issueAt(0, "issue", retryFlow.issue)
			h.signalAt(time.Hour)
			h.run()

			assert.Equal(t, "stage", h.result().Stage, domain.StageStarted)
			issue.succeeded(t)
			want := retryFlow.issued
			want.AllowanceUsed = "retry_credit"
			assert.Equal(t, "answer", decodeResult[workflows.IssueResult](t, issue.value), want)
			assert.Equal(t, "reservation", h.callsNamed(tc.reserve)[0].Reserve, wantReservation)
			assert.Equal(t, "calls", h.callNames(), tc.calls)
			for _, c := range h.log {
				if c.Subject != retryID {
					t.Errorf("%s named %q, want the retry %q", c.Name, c.Subject, retryID)
				}
			}
			assert.Equal(t, "stages upserted", h.upserted(), tc.upserted)
		})
	}
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

	assert.Equal(t, "workflow error type", appErrType(t, h.failure()), "invalid_shoot_status")
	assert.Equal(t, "stages", h.stages(), []string{domain.StageFailed})
	assert.Equal(t, "emails", len(h.emails()), 0)
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
	assert.Equal(t, "calls", h.callNames(), []string{workflows.ActivityReserveRetry, workflows.ActivityDeleteResults,
		workflows.ActivityResetShoot, workflows.ActivitySetRetryStage})
	assert.Equal(t, "stages (marked failed exactly once)", h.stages(), []string{domain.StageFailed})
	u.failedWith(t, "")
}
