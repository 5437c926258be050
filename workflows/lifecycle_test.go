package workflows_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/workflow"

	"github.com/headshotpro/retryd/activities"
	"github.com/headshotpro/retryd/internal/domain"
	"github.com/headshotpro/retryd/internal/tooling/assert"
	"github.com/headshotpro/retryd/workflows"
)

// The tests of this file are about the shared lifecycle: what happens when the start
// signal is lost, how the history stays bounded, and what a cancel leaves behind.

func withChecks(in workflows.RetryInput, every time.Duration, opsPerRun int) workflows.RetryInput {
	in.Tuning = workflows.Tuning{StartCheck: every, OpsPerRun: opsPerRun}
	return in
}

// onStarted mocks the started check: true from workflow time at on.
func (h *harness) onStarted(at time.Time) {
	h.env.OnActivity(h.f.started, anyContext, h.f.id).Return(h.startedFrom(at))
}

// continuedAs is the input of the run this one continued as, which it must have.
func continuedAs(t *testing.T, h *harness) workflows.RetryInput {
	t.Helper()
	var can *workflow.ContinueAsNewError
	if err := h.env.GetWorkflowError(); !errors.As(err, &can) {
		t.Fatalf("workflow error = %v, want continue-as-new", err)
	}
	assert.Equal(t, "continued as", can.WorkflowType.Name, workflows.RetryWorkflowName)
	var next workflows.RetryInput
	if err := converter.GetDefaultDataConverter().FromPayloads(can.Input, &next); err != nil {
		t.Fatalf("decode the next run's input: %v", err)
	}
	if next.Carried == nil {
		t.Fatal("the next run's input carries no state")
	}
	return next
}

// A retry without reminders whose start signal is lost finds the start by checking the
// database; before the checks it waited forever.
func TestLifecycle_LostSignalWithoutReminders(t *testing.T) {
	h := newHarness(t, retryFlow)
	h.onStarted(h.env.Now().Add(150 * time.Minute))
	h.mockDefaults()
	h.runInput(withChecks(retryInput(), time.Hour, 0))

	assert.Equal(t, "stage", h.result().Stage, domain.StageStarted)
	assert.Equal(t, "checks (at 1 h and 2 h not yet, then at 3 h)", len(h.callsNamed(workflows.ActivityRetryStarted)), 3)
	assert.Equal(t, "stages", h.stages(), []string{domain.StageStarted})
	assert.Equal(t, "RetryStage upserts", h.upserted(), []string{domain.StagePending, domain.StageStarted})
}

// After the last reminder the checks go on, so a signal lost later is found too.
func TestLifecycle_LostSignalAfterLastReminder(t *testing.T) {
	h := newHarness(t, retryFlow)
	h.onStarted(h.env.Now().Add(10 * day))
	h.mockDefaults()
	h.runInput(withChecks(retryInput(3*day, 7*day), day, 0))

	st := h.result()
	assert.Equal(t, "stage", st.Stage, domain.StageStarted)
	assert.Equal(t, "reminders sent", st.RemindersSent, 2)
	checks := h.callsNamed(workflows.ActivityRetryStarted)
	if len(checks) == 0 {
		t.Fatal("no check after the last reminder")
	}
	within(t, "the check that found the start", checks[len(checks)-1].At, h.callsNamed(retryFlow.send)[0].At.Add(10*day), time.Second)
}

// A managed member without an address gets no email and no reminders; the checks alone
// find the start whose signal was lost, so the member's next restart is not blocked.
func TestLifecycle_RestartWithoutEmailLostSignal(t *testing.T) {
	h := newHarness(t, restartFlow)
	h.noEmail()
	h.onStarted(h.env.Now().Add(90 * time.Minute))
	h.mockDefaults()
	in := restartInput(3*day, 7*day)
	in.Tuning = workflows.Tuning{StartCheck: time.Hour}
	h.runInput(in)

	st := h.result()
	assert.Equal(t, "stage", st.Stage, domain.StageStarted)
	assert.Equal(t, "email status", st.EmailStatus, "not_applicable")
	assert.Equal(t, "emails", len(h.emails()), 0)
	assert.Equal(t, "checks", len(h.callsNamed(workflows.ActivityRestartStarted)), 2)
}

// The first email finding the member already started ends the wait at once.
func TestLifecycle_InitialEmailFindsStarted(t *testing.T) {
	h := newHarness(t, retryFlow)
	h.onSend().Return(activities.SendEmailResult{Skipped: true, AlreadyStarted: true}, nil).Once()
	h.mockDefaults()
	h.run(3*day, 7*day)

	assert.Equal(t, "stage", h.result().Stage, domain.StageStarted)
	assert.Equal(t, "stages", h.stages(), []string{domain.StageStarted})
	assert.Equal(t, "workflow time waited", h.env.Now().Sub(h.callsNamed(workflows.ActivitySetRetryStage)[0].At), time.Duration(0))
}

// A run that waits long enough continues as new with its state, so its history stays
// bounded however long the member takes.
func TestLifecycle_ContinuesAsNewWithItsState(t *testing.T) {
	h := newHarness(t, retryFlow)
	h.mockDefaults()
	resent := h.resendAt(30*time.Minute, "resend-1")
	h.runInput(withChecks(retryInput(3*day, 7*day), day, 4))

	next := continuedAs(t, h)
	assert.Equal(t, "next run's retry", next.RetryID, retryID)
	assert.Equal(t, "next run's ops limit (the one the retry started with)", next.Tuning.OpsPerRun, 4)
	assert.Equal(t, "carried issue", next.Carried.Issue, retryFlow.issued)
	assert.Equal(t, "carried next email number (initial, resend, first reminder)", next.Carried.NextSeq, 3)
	assert.Equal(t, "carried reminders fired", next.Carried.RemindersFired, 1)
	assert.Equal(t, "carried reminders sent", next.Carried.Email.RemindersSent, 1)
	assert.Equal(t, "carried emails sent", next.Carried.Email.EmailsSent, 3)
	resent.succeeded(t)
	assert.Equal(t, "calls", h.callNames(), []string{"GiveRetry", "SendRetryEmail",
		"SendRetryEmail", "RetryStarted", "RetryStarted", "SendRetryEmail"})
}

// The next run prepares nothing again: its issue update answers at once, its emails keep
// their numbers, and its reminders stay due at their delays after the first email.
func TestLifecycle_CarriedRunResumes(t *testing.T) {
	h := newHarness(t, retryFlow)
	h.mockDefaults()
	start := h.env.Now()
	in := retryInput(3*day, 7*day)
	in.Carried = &workflows.Carried{
		Issue:    workflows.IssueResult{RetryID: retryID, Stage: domain.StagePending, AllowanceUsed: "retry_credit", HasEmail: true},
		HasEmail: true, NextSeq: 3, EmailAt: start.Add(-5 * day), RemindersFired: 1,
		Email: workflows.EmailState{EmailStatus: "sent", MessageID: "msg-2", RemindersSent: 1, EmailsSent: 3},
	}
	issued := h.issueAt(0, "issue", retryFlow.issue)
	h.signalAt(3 * day)
	h.runInput(in)

	st := h.result()
	assert.Equal(t, "stage", st.Stage, domain.StageStarted)
	assert.Equal(t, "reminders sent", st.RemindersSent, 2)
	issued.succeeded(t)
	assert.Equal(t, "answer", decodeResult[workflows.IssueResult](t, issued.value), in.Carried.Issue)
	assert.Equal(t, "reservations", len(h.callsNamed(workflows.ActivityReserveRetry)), 0)
	assert.Equal(t, "emails", h.emails(), []activities.SendEmailInput{{SubjectID: retryID, Seq: 3, Kind: "reminder", Reminder: 2}})
	assert.Equal(t, "second reminder at (7 days after the first email)", h.callsNamed(retryFlow.send)[0].At, start.Add(2*day))
}

// A cancel while a resend is in flight waits for the resend to answer before the run
// ends; before, the run ended on its canceled context and cut the admin's call off.
func TestLifecycle_CancelDrainsRunningHandlers(t *testing.T) {
	h := newHarness(t, retryFlow)
	h.onSend("resend").After(10 * time.Minute).Return(h.sendOK).Once()
	h.mockDefaults()
	resent := h.resendAt(time.Hour, "resend-1")
	h.cancelAt(time.Hour + time.Minute)
	h.run()

	h.failure()
	if !resent.completed {
		t.Error("the run ended before the resend answered")
	}
	assert.Equal(t, "stages", h.stages(), []string{domain.StageFailed})
}

// A resend the provider refuses for good is answered with email_rejected (422), not
// with unavailable (503), which would tell the admin to try again.
func TestLifecycle_ResendRejectedIsFinal(t *testing.T) {
	h := newHarness(t, retryFlow)
	h.onSend("resend").Return(h.sendErr(rejected("mailersend: 422"))).Once()
	h.mockDefaults()
	resent := h.resendAt(time.Hour, "resend-1")
	h.signalAt(2 * time.Hour)
	h.run()

	resent.failedWith(t, "email_rejected")
}

// A burst of resends, however fast, wakes the wait once the run has done its share, and
// the run continues as new at once instead of waiting for its next timer.
func TestLifecycle_ResendBurstContinuesAsNew(t *testing.T) {
	h := newHarness(t, retryFlow)
	h.mockDefaults()
	for i := range 3 {
		h.resendAt(time.Hour+time.Duration(i)*time.Minute, fmt.Sprintf("resend-%d", i))
	}
	start := h.env.Now()
	h.runInput(withChecks(retryInput(), day, 3))

	next := continuedAs(t, h)
	assert.Equal(t, "carried next email number (the first email and three resends)", next.Carried.NextSeq, 4)
	if d := h.env.Now().Sub(start); d >= 2*time.Hour {
		t.Errorf("continued after %v, want right after the burst, not at the next check a day later", d)
	}
	assert.Equal(t, "checks", len(h.callsNamed(workflows.ActivityRetryStarted)), 0)
}

// A run that resumes a recorded retry (its earlier run was terminated) numbers its emails
// after the last one recorded, sends no first email again, and keeps the reminders due
// after the first email. Before, it counted from 0 again, and its resends hit intent rows
// that said "sent" and went nowhere.
func TestLifecycle_ResumedRunNumbersAfterLastEmail(t *testing.T) {
	h := newHarness(t, retryFlow)
	start := h.env.Now()
	h.onFirstStep().Return(h.reserved(activities.ReserveRetryResult{AllowanceUsed: "free_retry", Resume: &activities.EmailResume{
		NextSeq: 4, FirstEmailAt: start.Add(-5 * day), Reminders: 1}}, nil)).Once()
	h.mockDefaults()
	resent := h.resendAt(time.Hour, "resend-after-resume")
	h.signalAt(3 * day)
	h.run(3*day, 7*day)

	h.result()
	resent.succeeded(t)
	// No first email again; numbers go on; the second reminder is due 7 days after the first email.
	assert.Equal(t, "emails", h.emails(), []activities.SendEmailInput{
		{SubjectID: retryID, Seq: 4, Kind: "resend"},
		{SubjectID: retryID, Seq: 5, Kind: "reminder", Reminder: 2},
	})
	assert.Equal(t, "second reminder at", h.callsNamed(retryFlow.send)[1].At, start.Add(2*day))
}

// A first email that a crash cut off mid-send is finished under its own number.
func TestLifecycle_ResumedRunFinishesACutOffFirstEmail(t *testing.T) {
	h := newHarness(t, retryFlow)
	h.onFirstStep().Return(h.reserved(activities.ReserveRetryResult{AllowanceUsed: "free_retry", Resume: &activities.EmailResume{
		NextSeq: 1, FirstEmailAt: h.env.Now(), FirstPending: true}}, nil)).Once()
	h.mockDefaults()
	h.signalAt(time.Hour)
	h.run()

	h.result()
	assert.Equal(t, "emails", h.emails(), []activities.SendEmailInput{{SubjectID: retryID, Seq: 0, Kind: "initial"}})
}

// A run started for a retry the member already started (a repeated give read it pending
// just before the member started and the earlier run ended, so the API started a new run
// that resumes it) ends at once. Before, it waited for its first start check (an hour by
// default) with nobody left to signal it.
func TestLifecycle_ResumedRunOfAStartedRetryEnds(t *testing.T) {
	eachFlow(t, func(t *testing.T, f flow) {
		h := newHarness(t, f)
		resume := &activities.EmailResume{NextSeq: 2, FirstEmailAt: h.env.Now().Add(-day), Started: true}
		if f.name == retryFlow.name {
			h.onFirstStep().Return(h.reserved(activities.ReserveRetryResult{AllowanceUsed: "free_retry", Resume: resume}, nil)).Once()
		} else {
			h.onFirstStep().Return(h.created(activities.CreateRestartResult{HasEmail: true, Resume: resume}, nil)).Once()
		}
		h.mockDefaults()
		began := h.env.Now()
		h.run(3*day, 7*day)

		assert.Equal(t, "stage", h.result().Stage, domain.StageStarted)
		assert.Equal(t, "emails", len(h.emails()), 0)
		assert.Equal(t, "workflow time waited", h.env.Now().Sub(began), time.Duration(0))
	})
}

// A member who starts while an email is still in flight ends the run at once, as the
// start signal does at any other time. The send may be stuck for a long while: its task
// went to a worker that was killed (it waits out StartToCloseTimeout before its next
// attempt), or the provider keeps refusing and the retries back off for minutes. The
// run used to hear the signal only after the send returned, so a started retry kept a
// running workflow that long (the fault suite's no_workflow_for_started).
func TestLifecycle_StartDuringStuckEmailEndsRun(t *testing.T) {
	for _, kind := range []string{"initial", "reminder", "resend"} {
		t.Run(kind, func(t *testing.T) {
			eachFlow(t, func(t *testing.T, f flow) {
				h := newHarness(t, f)
				signal := 10 * time.Minute
				switch kind {
				case "reminder":
					signal = time.Hour + 10*time.Minute
				case "resend":
					signal = 20 * time.Minute
				}
				h.onSend(kind).After(3 * time.Hour).Return(h.sendOK).Once()
				h.mockDefaults()
				var resend *update
				if kind == "resend" {
					resend = h.resendAt(10*time.Minute, "resend-1")
				}
				h.signalAt(signal)
				began := h.env.Now()
				h.run(time.Hour, 7*day)

				assert.Equal(t, "stage", h.result().Stage, domain.StageStarted)
				assert.Equal(t, "stages", h.stages(), []string{domain.StageStarted})
				if d := h.callsNamed(f.setStage)[0].At.Sub(began); d > signal+time.Minute {
					t.Errorf("started recorded %v after the run began, want right after the signal at %v", d, signal)
				}
				if resend != nil {
					// The admin hears what a resend after the start hears.
					resend.failedWith(t, "retry_not_pending")
				}
			})
		})
	}
}
