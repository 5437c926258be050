package workflows_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/headshotpro/retryd/activities"
	"github.com/headshotpro/retryd/workflows"
)

// The tests of this file are about the shared lifecycle: what happens when the start
// signal is lost, how the history stays bounded, and what a cancel leaves behind.

func withChecks(in workflows.RetryInput, every time.Duration, opsPerRun int) workflows.RetryInput {
	in.Tuning = workflows.Tuning{StartCheck: every, OpsPerRun: opsPerRun}
	return in
}

// A retry without reminders whose start signal is lost finds the start by checking the
// database; before the checks it waited forever.
func TestLifecycle_LostSignalWithoutReminders(t *testing.T) {
	h := newRetryHarness(t)
	h.env.OnActivity(rwAct.RetryStarted, mock.Anything, mock.Anything).Return(h.startedAt(h.env.Now().Add(150 * time.Minute)))
	h.mockDefaults()
	h.runInput(withChecks(rwInput(), time.Hour, 0))

	st := rwResult(t, h.env)
	assert.Equal(t, workflows.StageStarted, st.Stage)
	assert.Len(t, h.callsNamed("RetryStarted"), 3, "checked at 1 h and 2 h (not yet), then at 3 h")
	assert.Equal(t, []string{workflows.StageStarted}, h.stages())
	assert.Equal(t, []string{workflows.StageResetting, workflows.StagePending, workflows.StageStarted}, h.upserted())
}

// After the last reminder the checks go on, so a signal lost later is found too.
func TestLifecycle_LostSignalAfterLastReminder(t *testing.T) {
	h := newRetryHarness(t)
	h.env.OnActivity(rwAct.RetryStarted, mock.Anything, mock.Anything).Return(h.startedAt(h.env.Now().Add(10 * rwDay)))
	h.mockDefaults()
	h.runInput(withChecks(rwInput(3*rwDay, 7*rwDay), 24*time.Hour, 0))

	st := rwResult(t, h.env)
	assert.Equal(t, workflows.StageStarted, st.Stage)
	assert.Equal(t, 2, st.RemindersSent)
	last := h.callsNamed("RetryStarted")
	require.NotEmpty(t, last)
	assert.WithinDuration(t, h.callsNamed("SendRetryEmail")[0].At.Add(10*rwDay), last[len(last)-1].At, time.Second, "found at the first check after the start")
}

// A managed member without an address gets no email and no reminders; the checks alone
// find the start whose signal was lost, so the member's next restart is not blocked.
func TestLifecycle_RestartWithoutEmailLostSignal(t *testing.T) {
	h := newRsHarness(t)
	h.noEmail()
	h.env.OnActivity(rsAct.RestartStarted, mock.Anything, mock.Anything).Return(h.startedAt(h.env.Now().Add(90 * time.Minute)))
	h.mockDefaults()
	in := rsInput(3*rsDay, 7*rsDay)
	in.Tuning = workflows.Tuning{StartCheck: time.Hour}
	h.runInput(in)

	st := rsResult(t, h.env)
	assert.Equal(t, workflows.StageStarted, st.Stage)
	assert.Equal(t, "not_applicable", st.EmailStatus)
	assert.Empty(t, h.emails())
	assert.Len(t, h.callsNamed("RestartStarted"), 2)
}

// The first email finding the member already started ends the wait at once.
func TestLifecycle_InitialEmailFindsStarted(t *testing.T) {
	h := newRetryHarness(t)
	h.env.OnActivity(rwAct.SendRetryEmail, mock.Anything, mock.Anything).
		Return(activities.SendEmailResult{Skipped: true, AlreadyStarted: true}, nil).Once()
	h.mockDefaults()
	h.run(3*rwDay, 7*rwDay)

	st := rwResult(t, h.env)
	assert.Equal(t, workflows.StageStarted, st.Stage)
	assert.Equal(t, []string{workflows.StageStarted}, h.stages())
	assert.Equal(t, time.Duration(0), h.env.Now().Sub(h.callsNamed("SetRetryStage")[0].At), "no timer was waited on")
}

// A run that waits long enough continues as new with its state, so its history stays
// bounded however long the member takes.
func TestLifecycle_ContinuesAsNewWithItsState(t *testing.T) {
	h := newRetryHarness(t)
	h.mockDefaults()
	resent := h.updateAt(30*time.Minute, workflows.UpdateResendEmail, "resend-1")
	h.runInput(withChecks(rwInput(3*rwDay, 7*rwDay), 24*time.Hour, 4))

	err := h.env.GetWorkflowError()
	var can *workflow.ContinueAsNewError
	require.True(t, errors.As(err, &can), "want continue-as-new, got %v", err)
	assert.Equal(t, workflows.RetryWorkflowName, can.WorkflowType.Name)
	var next workflows.RetryInput
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &next))
	require.NotNil(t, next.Carried)
	assert.Equal(t, rwRetryID, next.RetryID)
	assert.Equal(t, workflows.IssueResult{RetryID: rwRetryID, Stage: workflows.StagePending, AllowanceUsed: "free_retry", HasEmail: true}, next.Carried.Issue)
	assert.Equal(t, 3, next.Carried.NextSeq, "initial, resend, first reminder")
	assert.Equal(t, 1, next.Carried.RemindersFired)
	assert.Equal(t, 1, next.Carried.Email.RemindersSent)
	assert.Equal(t, 3, next.Carried.Email.EmailsSent)
	require.True(t, resent.completed)
	assert.Equal(t, []string{"ReserveRetry", "DeleteResults", "ResetShoot", "SendRetryEmail", "SendRetryEmail", "RetryStarted", "RetryStarted", "SendRetryEmail"}, h.callNames())
}

// The next run prepares nothing again: its issue update answers at once, its emails keep
// their numbers, and its reminders stay due at their delays after the first email.
func TestLifecycle_CarriedRunResumes(t *testing.T) {
	h := newRetryHarness(t)
	h.mockDefaults()
	start := h.env.Now()
	in := rwInput(3*rwDay, 7*rwDay)
	in.Carried = &workflows.Carried{
		Issue:    workflows.IssueResult{RetryID: rwRetryID, Stage: workflows.StagePending, AllowanceUsed: "retry_credit", HasEmail: true},
		HasEmail: true, NextSeq: 3, EmailAt: start.Add(-5 * rwDay), RemindersFired: 1,
		Email: workflows.EmailState{EmailStatus: "sent", MessageID: "msg-2", RemindersSent: 1, EmailsSent: 3},
	}
	issued := h.updateAt(0, workflows.UpdateIssue, "issue", workflows.IssueRequest{RetryID: rwRetryID})
	h.signalAt(3 * rwDay)
	h.runInput(in)

	st := rwResult(t, h.env)
	assert.Equal(t, workflows.StageStarted, st.Stage)
	assert.Equal(t, 2, st.RemindersSent)
	require.True(t, issued.completed)
	assert.Equal(t, in.Carried.Issue, decodeResult[workflows.IssueResult](t, issued.value))
	assert.Empty(t, h.callsNamed("ReserveRetry"))
	emails := h.callsNamed("SendRetryEmail")
	require.Len(t, emails, 1)
	assert.Equal(t, activities.SendEmailInput{SubjectID: rwRetryID, Seq: 3, Kind: "reminder", Reminder: 2}, emails[0].Email)
	assert.Equal(t, start.Add(2*rwDay), emails[0].At, "7 days after the first email")
}

// A cancel while a resend is in flight waits for the resend to answer before the run
// ends; before, the run ended on its canceled context and cut the admin's call off.
func TestLifecycle_CancelDrainsRunningHandlers(t *testing.T) {
	h := newRetryHarness(t)
	h.env.OnActivity(rwAct.SendRetryEmail, mock.Anything, mock.MatchedBy(func(in activities.SendEmailInput) bool { return in.Kind == "resend" })).
		After(10 * time.Minute).Return(h.sendOK).Once()
	h.mockDefaults()
	resent := h.updateAt(time.Hour, workflows.UpdateResendEmail, "resend-1")
	h.env.RegisterDelayedCallback(h.env.CancelWorkflow, time.Hour+time.Minute)
	h.run()

	require.Error(t, h.env.GetWorkflowError())
	require.True(t, resent.completed, "the resend answered before the run ended")
	assert.Equal(t, []string{workflows.StageFailed}, h.stages())
}

// A resend the provider refuses for good is answered with email_rejected (422), not
// with unavailable (503), which would tell the admin to try again.
func TestLifecycle_ResendRejectedIsFinal(t *testing.T) {
	h := newRetryHarness(t)
	h.env.OnActivity(rwAct.SendRetryEmail, mock.Anything, mock.MatchedBy(func(in activities.SendEmailInput) bool { return in.Kind == "resend" })).
		Return(h.sendErr(temporal.NewNonRetryableApplicationError("mailersend: 422", activities.ErrTypeMailPermanent, nil))).Once()
	h.mockDefaults()
	resent := h.updateAt(time.Hour, workflows.UpdateResendEmail, "resend-1")
	h.signalAt(2 * time.Hour)
	h.run()

	require.True(t, resent.completed)
	assert.Equal(t, "email_rejected", appErrType(t, resent.err))
}

// A burst of resends, however fast, wakes the wait once the run has done its share, and
// the run continues as new at once instead of waiting for its next timer.
func TestLifecycle_ResendBurstContinuesAsNew(t *testing.T) {
	h := newRetryHarness(t)
	h.mockDefaults()
	for i := 0; i < 3; i++ {
		h.updateAt(time.Hour+time.Duration(i)*time.Minute, workflows.UpdateResendEmail, fmt.Sprintf("resend-%d", i))
	}
	start := h.env.Now()
	h.runInput(withChecks(rwInput(), 24*time.Hour, 3))

	var can *workflow.ContinueAsNewError
	require.True(t, errors.As(h.env.GetWorkflowError(), &can), "want continue-as-new, got %v", h.env.GetWorkflowError())
	var next workflows.RetryInput
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &next))
	assert.Equal(t, 4, next.Carried.NextSeq, "the first email and three resends")
	assert.Less(t, h.env.Now().Sub(start), 2*time.Hour, "continued after the burst, not at the next check a day later")
	assert.Empty(t, h.callsNamed("RetryStarted"))
}

// A run that resumes a recorded retry (its earlier run was terminated) numbers its emails
// after the last one recorded, sends no first email again, and keeps the reminders due
// after the first email. Before, it counted from 0 again, and its resends hit intent rows
// that said "sent" and went nowhere.
func TestLifecycle_ResumedRunNumbersAfterLastEmail(t *testing.T) {
	h := newRetryHarness(t)
	start := h.env.Now()
	h.env.OnActivity(rwAct.ReserveRetry, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.ReserveRetryInput) (activities.ReserveRetryResult, error) {
		h.record(call{Name: "ReserveRetry", Reserve: in})
		return activities.ReserveRetryResult{AllowanceUsed: "free_retry", Resume: &activities.EmailResume{
			NextSeq: 4, FirstEmailAt: start.Add(-5 * rwDay), Reminders: 1}}, nil
	}).Once()
	h.mockDefaults()
	resent := h.updateAt(time.Hour, workflows.UpdateResendEmail, "resend-after-resume")
	h.signalAt(3 * rwDay)
	h.run(3*rwDay, 7*rwDay)

	rwResult(t, h.env)
	require.True(t, resent.completed)
	require.NoError(t, resent.err)
	var got []activities.SendEmailInput
	for _, c := range h.callsNamed("SendRetryEmail") {
		got = append(got, c.Email)
	}
	assert.Equal(t, []activities.SendEmailInput{
		{SubjectID: rwRetryID, Seq: 4, Kind: "resend"},
		{SubjectID: rwRetryID, Seq: 5, Kind: "reminder", Reminder: 2},
	}, got, "no first email again; numbers go on; the second reminder is due 7 days after the first email")
	assert.Equal(t, start.Add(2*rwDay), h.callsNamed("SendRetryEmail")[1].At)
}

// A first email that a crash cut off mid-send is finished under its own number.
func TestLifecycle_ResumedRunFinishesACutOffFirstEmail(t *testing.T) {
	h := newRetryHarness(t)
	h.env.OnActivity(rwAct.ReserveRetry, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.ReserveRetryInput) (activities.ReserveRetryResult, error) {
		h.record(call{Name: "ReserveRetry", Reserve: in})
		return activities.ReserveRetryResult{AllowanceUsed: "free_retry", Resume: &activities.EmailResume{
			NextSeq: 1, FirstEmailAt: h.env.Now(), FirstPending: true}}, nil
	}).Once()
	h.mockDefaults()
	h.signalAt(time.Hour)
	h.run()

	rwResult(t, h.env)
	emails := h.callsNamed("SendRetryEmail")
	require.Len(t, emails, 1)
	assert.Equal(t, activities.SendEmailInput{SubjectID: rwRetryID, Seq: 0, Kind: "initial"}, emails[0].Email)
}
