package workflows_test

import (
	"errors"
	"testing"
	"time"

	"github.com/headshotpro/retryd/activities"
	"github.com/headshotpro/retryd/internal/domain"
	"github.com/headshotpro/retryd/internal/tooling/assert"
	"github.com/headshotpro/retryd/workflows"
)

// What only a restart does: its one database step, and members without an address, whom
// nobody emails or reminds (the admin hands the link over).

// noEmail makes CreateRestart report a member without an email address.
func (h *harness) noEmail() {
	h.onFirstStep().Return(h.created(activities.CreateRestartResult{OldShootID: oldShootID}, nil)).Once()
}

// CreateRestart carries the input's ids and the workflow id only.
func TestRestartWorkflow_DatabaseStep(t *testing.T) {
	h := newHarness(t, restartFlow)
	h.mockDefaults()
	h.signalAt(time.Hour)
	h.run()

	assert.Equal(t, "stage", h.result().Stage, domain.StageStarted)
	assert.Equal(t, "CreateRestart input", h.callsNamed(workflows.ActivityCreateRestart)[0].Create, activities.CreateRestartInput{
		RestartID: restartID, OrgID: orgID, MemberID: memberID, NewShootID: newShootID,
		WorkflowID:   workflows.RestartWorkflowID(memberID),
		IssuedByKind: "automation", IssuedBy: "key-1", RequestID: "req-1",
	})
}

// A member without an address: no email and no reminders; the start signal still ends
// the restart, however long it takes.
func TestRestartWorkflow_MemberWithoutEmail(t *testing.T) {
	h := newHarness(t, restartFlow)
	h.noEmail()
	h.mockDefaults()
	issue := h.issueAt(0, "issue", restartFlow.issue)
	mid := h.queryAt(20 * day)
	h.signalAt(30 * day)
	start := h.env.Now()
	h.run(3*day, 7*day)

	notApplicable := workflows.EmailState{EmailStatus: "not_applicable"}
	st := h.result()
	assert.Equal(t, "result", st.Progress, workflows.Progress{Stage: domain.StageStarted, EmailState: notApplicable})
	assert.Equal(t, "status at 20 days", mid.Progress, workflows.Progress{Stage: domain.StagePending, EmailState: notApplicable})
	issue.succeeded(t)
	want := restartFlow.issued
	want.HasEmail = false
	assert.Equal(t, "answer", decodeResult[workflows.IssueResult](t, issue.value), want)

	assert.Equal(t, "calls", h.callNames(), []string{workflows.ActivityCreateRestart, workflows.ActivitySetRestartStage})
	assert.Equal(t, "stages", h.stages(), []string{domain.StageStarted})
	assert.Equal(t, "RetryStage upserts", h.upserted(), []string{domain.StagePending, domain.StageStarted})
	if d := h.env.Now().Sub(start); d < 30*day {
		t.Errorf("run ended after %v, want it to wait for the signal at 30 days", d)
	}
}

// resend-email for a member without an address is refused.
func TestRestartWorkflow_ResendWithoutEmailRefused(t *testing.T) {
	h := newHarness(t, restartFlow)
	h.noEmail()
	h.mockDefaults()
	u := h.resendAt(time.Hour, "resend-1")
	h.signalAt(2 * time.Hour)
	h.run()

	u.rejectedWith(t, "retry_not_pending")
	assert.Equal(t, "emails", len(h.emails()), 0)
	st := h.result()
	assert.Equal(t, "stage", st.Stage, domain.StageStarted)
	assert.Equal(t, "email status", st.EmailStatus, "not_applicable")
}

// Cancel while waiting for a member without an address.
func TestRestartWorkflow_CancelWithoutEmail(t *testing.T) {
	h := newHarness(t, restartFlow)
	h.noEmail()
	h.mockDefaults()
	h.cancelAt(day)
	h.run(3*day, 7*day)

	h.canceled()
	assert.Equal(t, "stages", h.stages(), []string{domain.StageFailed})
	assert.Equal(t, "emails", len(h.emails()), 0)
}

// Cancel while CreateRestart runs: nothing is sent, RetryStage says failed and a waiting
// issue update fails instead of hanging.
func TestRestartWorkflow_CancelDuringCreate(t *testing.T) {
	h := newHarness(t, restartFlow)
	h.onFirstStep().After(time.Hour).Return(restartFlow.firstStep(h, nil)).Once()
	h.mockDefaults()
	u := h.issueAt(0, "issue", restartFlow.issue)
	h.cancelAt(30 * time.Minute)
	h.run(3*day, 7*day)

	h.canceled()
	assert.Equal(t, "emails", len(h.emails()), 0)
	assert.Equal(t, "RetryStage upserts", h.upserted(), []string{domain.StageFailed})
	u.failedWith(t, "")
}

// A CreateRestart error that outlasts the local activity's retry policy fails the run; the
// caller waiting on the issue update gets unavailable, not a hang.
func TestRestartWorkflow_CreateTransientErrorGivesUp(t *testing.T) {
	h := newHarness(t, restartFlow)
	h.onFirstStep().Return(restartFlow.firstStep(h, errors.New("postgres unavailable")))
	h.mockDefaults()
	u := h.issueAt(0, "issue", restartFlow.issue)
	h.run(3*day, 7*day)

	h.failure()
	if n := len(h.callsNamed(workflows.ActivityCreateRestart)); n <= 1 {
		t.Errorf("CreateRestart ran %d times, want it retried before giving up", n)
	}
	assert.Equal(t, "emails", len(h.emails()), 0)
	assert.Equal(t, "RetryStage upserts", h.upserted(), []string{domain.StageFailed})
	u.failedWith(t, "unavailable")
}
