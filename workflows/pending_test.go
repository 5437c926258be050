package workflows_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/headshotpro/retryd/activities"
	"github.com/headshotpro/retryd/internal/domain"
	"github.com/headshotpro/retryd/internal/tooling/assert"
	"github.com/headshotpro/retryd/workflows"
)

// The tests of this file are about what a retry and a restart both do once prepared: the
// email, the wait for the member with reminders, resends, refusals and cancels. Each runs
// once for each workflow.

// The happy path: the issue update answers as soon as the database steps are committed,
// the member gets the email, and the start signal ends the run as started.
func TestPending_HappyPath(t *testing.T) {
	eachFlow(t, func(t *testing.T, f flow) {
		h := newHarness(t, f)
		h.mockDefaults()
		issue := h.issueAt(0, "issue-same", f.issue)
		issueLater := h.issueAt(time.Hour, "issue-later", f.issue)
		before := h.queryAt(2 * time.Hour)
		h.signalAt(5 * time.Hour)
		start := h.env.Now()
		h.run(3*day, 7*day)

		st := h.result()
		want := status{RetryID: f.issue.RetryID, RestartID: f.issue.RestartID, Progress: workflows.Progress{Stage: domain.StageStarted,
			EmailState: workflows.EmailState{EmailStatus: "sent", MessageID: messageID(0), EmailsSent: 1}}}
		assert.Equal(t, "result", st, want)
		// The query before the signal sees a pending run whose email went out.
		want.Stage = domain.StagePending
		assert.Equal(t, "status at 2 h", *before, want)

		for _, u := range []*update{issue, issueLater} {
			u.succeeded(t)
			assert.Equal(t, "answer of "+u.name, decodeResult[workflows.IssueResult](t, u.value), f.issued)
		}
		if d := issue.completedAt.Sub(start); d >= time.Minute {
			t.Errorf("issue update answered after %v, want right after the database steps", d)
		}

		assert.Equal(t, "calls", h.callNames(), append(append([]string{}, f.prepared...), f.send, f.setStage))
		for _, c := range h.callsNamed(f.prepared[len(f.prepared)-1]) {
			assert.Equal(t, c.Name+" subject", c.Subject, f.id)
		}
		assert.Equal(t, "emails", h.emails(), []activities.SendEmailInput{{SubjectID: f.id, Seq: 0, Kind: "initial"}})
		assert.Equal(t, "stages", h.stages(), []string{domain.StageStarted})
		assert.Equal(t, "RetryStage upserts", h.upserted(),
			append(append([]string{}, f.upsertedBeforePending...), domain.StagePending, domain.StageStarted))
		if n := len(h.callsNamed(f.markFailed)); n != 0 {
			t.Errorf("%s called %d times, want never", f.markFailed, n)
		}
	})
}

// An issue update for another retry or restart of the same workflow id is refused while
// the run prepares and while it is pending; the run's own id still gets its answer.
func TestPending_IssueOtherRefused(t *testing.T) {
	eachFlow(t, func(t *testing.T, f flow) {
		h := newHarness(t, f)
		h.mockDefaults()
		other := h.issueAt(0, "issue-other", f.other)
		otherLater := h.issueAt(time.Hour, "issue-other-later", f.other)
		same := h.issueAt(time.Hour, "issue-same", f.issue)
		h.signalAt(2 * time.Hour)
		h.run()

		other.rejectedWith(t, f.busy)
		otherLater.rejectedWith(t, f.busy)
		same.succeeded(t)
		assert.Equal(t, "answer", decodeResult[workflows.IssueResult](t, same.value), f.issued)
		assert.Equal(t, "stage", h.result().Stage, domain.StageStarted)
		assert.Equal(t, f.prepared[0]+" calls", len(h.callsNamed(f.prepared[0])), 1)
	})
}

// Every refusal of the first database step fails the run with its code: nothing else
// runs, a waiting issue update gets the same code, and the status query of the closed run
// tells an operator why.
func TestPending_Refused(t *testing.T) {
	eachFlow(t, func(t *testing.T, f flow) {
		for _, code := range f.refusals {
			t.Run(code, func(t *testing.T) {
				h := newHarness(t, f)
				h.onFirstStep().After(time.Second).Return(f.firstStep(h, refusal(code)))
				h.mockDefaults()
				u := h.issueAt(0, "issue", f.issue)
				h.run(3*day, 7*day)

				assert.Equal(t, "workflow error type", appErrType(t, h.failure()), code)
				v, err := h.env.QueryWorkflow(workflows.QueryStatus)
				if err != nil {
					t.Fatalf("status query: %v", err)
				}
				var st status
				if err := v.Get(&st); err != nil {
					t.Fatalf("status query: %v", err)
				}
				assert.Equal(t, "stage", st.Stage, domain.StageFailed)
				if !strings.Contains(st.Error, "refused: "+code) {
					t.Errorf("status error = %q, want the refusal", st.Error)
				}

				// Only the first step ran, once: a refusal is not retried, nothing was sent,
				// and no row exists whose stage needs recording.
				assert.Equal(t, "calls", h.callNames(), f.prepared[:1])
				assert.Equal(t, "RetryStage upserts", h.upserted(), []string{domain.StageFailed})
				u.failedWith(t, code)
			})
		}
	})
}

// refusal is a broken rule's error, as the database steps answer it.
func refusal(code string) error {
	return temporal.NewNonRetryableApplicationError("refused: "+code, code, nil)
}

// rejected is the provider's refusal of an email for good.
func rejected(msg string) error {
	return temporal.NewNonRetryableApplicationError(msg, activities.ErrTypeMailPermanent, nil)
}

// Reminders on durable timers, counted from the first email.
func TestPending_Reminders(t *testing.T) {
	eachFlow(t, func(t *testing.T, f flow) {
		h := newHarness(t, f)
		h.mockDefaults()
		mid := h.queryAt(7*day + 12*time.Hour)
		h.signalAt(8 * day)
		start := h.env.Now()
		h.run(3*day, 7*day)

		st := h.result()
		assert.Equal(t, "stage", st.Stage, domain.StageStarted)
		assert.Equal(t, "emails state", st.EmailState, workflows.EmailState{EmailStatus: "sent", MessageID: messageID(2), RemindersSent: 2, EmailsSent: 3})
		assert.Equal(t, "stage at 7.5 days", mid.Stage, domain.StagePending)
		assert.Equal(t, "reminders at 7.5 days", mid.RemindersSent, 2)

		assert.Equal(t, "emails", h.emails(), []activities.SendEmailInput{
			{SubjectID: f.id, Seq: 0, Kind: "initial"},
			{SubjectID: f.id, Seq: 1, Kind: "reminder", Reminder: 1},
			{SubjectID: f.id, Seq: 2, Kind: "reminder", Reminder: 2},
		})
		sends := h.callsNamed(f.send)
		within(t, "first reminder", sends[1].At, start.Add(3*day), time.Minute)
		within(t, "second reminder", sends[2].At, start.Add(7*day), time.Minute)
		assert.Equal(t, "stages", h.stages(), []string{domain.StageStarted})
	})
}

// No reminder follows the member's start, and no timer keeps the run alive.
func TestPending_NoReminderAfterStart(t *testing.T) {
	eachFlow(t, func(t *testing.T, f flow) {
		h := newHarness(t, f)
		h.mockDefaults()
		h.signalAt(day)
		h.run(3*day, 7*day)

		st := h.result()
		assert.Equal(t, "stage", st.Stage, domain.StageStarted)
		assert.Equal(t, "emails sent", st.EmailsSent, 1)
		assert.Equal(t, "emails", h.emails(), []activities.SendEmailInput{{SubjectID: f.id, Seq: 0, Kind: "initial"}})
		if d := h.env.Now().Sub(h.callsNamed(f.send)[0].At); d >= 2*day {
			t.Errorf("run ended %v after the email, want right after the signal", d)
		}
	})
}

// Without reminders the run simply waits for the member.
func TestPending_NoRemindersConfigured(t *testing.T) {
	eachFlow(t, func(t *testing.T, f flow) {
		h := newHarness(t, f)
		h.mockDefaults()
		h.signalAt(30 * day)
		h.run()

		assert.Equal(t, "stage", h.result().Stage, domain.StageStarted)
		assert.Equal(t, "emails", len(h.emails()), 1)
	})
}

// A reminder that finds the member already started (the signal was lost) ends the run as
// started without a signal, and no further reminder is sent.
func TestPending_ReminderFindsStarted(t *testing.T) {
	eachFlow(t, func(t *testing.T, f flow) {
		h := newHarness(t, f)
		h.onSend("reminder").Return(h.sendResult(activities.SendEmailResult{Skipped: true, AlreadyStarted: true, Reason: "started"}, nil))
		h.mockDefaults()
		start := h.env.Now()
		h.run(3*day, 7*day)

		st := h.result()
		assert.Equal(t, "stage", st.Stage, domain.StageStarted)
		assert.Equal(t, "emails state", st.EmailState, workflows.EmailState{EmailStatus: "sent", MessageID: messageID(0), EmailsSent: 1})
		assert.Equal(t, "emails", h.emails(), []activities.SendEmailInput{
			{SubjectID: f.id, Seq: 0, Kind: "initial"},
			{SubjectID: f.id, Seq: 1, Kind: "reminder", Reminder: 1},
		})
		assert.Equal(t, "stages", h.stages(), []string{domain.StageStarted})
		if d := h.env.Now().Sub(start); d >= 4*day {
			t.Errorf("run ended after %v, want at the first reminder", d)
		}
	})
}

// Transient email errors are retried by the activity's retry policy, as the same email.
func TestPending_EmailTransientErrorRetried(t *testing.T) {
	eachFlow(t, func(t *testing.T, f flow) {
		h := newHarness(t, f)
		h.onSend().Return(h.sendErr(errors.New("mailersend: 503"))).Twice()
		h.mockDefaults()
		h.signalAt(day)
		h.run()

		assert.Equal(t, "emails state", h.result().EmailState, workflows.EmailState{EmailStatus: "sent", MessageID: messageID(0), EmailsSent: 1})
		initial := activities.SendEmailInput{SubjectID: f.id, Seq: 0, Kind: "initial"}
		assert.Equal(t, "attempts", h.emails(), []activities.SendEmailInput{initial, initial, initial})
		assert.Equal(t, f.markFailed+" calls", len(h.callsNamed(f.markFailed)), 0)
	})
}

// Transient email errors that outlast the retry policy: the failure is recorded and the
// run keeps waiting for the member. (The test environment caps an unlimited retry policy
// at 10 attempts, so the activity gives up after minutes of workflow time.)
func TestPending_EmailTransientErrorGivesUp(t *testing.T) {
	eachFlow(t, func(t *testing.T, f flow) {
		h := newHarness(t, f)
		h.onSend().Return(h.sendErr(errors.New("mailersend: 503")))
		h.mockDefaults()
		h.signalAt(3 * day)
		h.run()

		st := h.result()
		assert.Equal(t, "stage", st.Stage, domain.StageStarted)
		assert.Equal(t, "email status", st.EmailStatus, "failed")
		assert.Equal(t, "emails sent", st.EmailsSent, 0)
		if n := len(h.emails()); n <= 2 {
			t.Errorf("%d attempts, want the retry policy's", n)
		}
		marks := h.callsNamed(f.markFailed)
		if len(marks) != 1 {
			t.Fatalf("%s called %d times, want once", f.markFailed, len(marks))
		}
		assert.Equal(t, "failure recorded", marks[0].Email, activities.SendEmailInput{SubjectID: f.id, Seq: 0, Kind: "initial"})
	})
}

// A permanent mail failure is not retried and does not fail the run: it stays pending
// until the member starts, with the email reported failed.
func TestPending_EmailPermanentFailure(t *testing.T) {
	eachFlow(t, func(t *testing.T, f flow) {
		h := newHarness(t, f)
		h.onSend().Return(h.sendErr(rejected("mailersend: 422 invalid recipient"))).Once()
		h.mockDefaults()
		mid := h.queryAt(time.Hour)
		h.signalAt(2 * day)
		h.run()

		assert.Equal(t, "status at 1 h", mid.Progress, workflows.Progress{Stage: domain.StagePending, EmailState: workflows.EmailState{EmailStatus: "failed"}})
		st := h.result()
		assert.Equal(t, "stage", st.Stage, domain.StageStarted)
		assert.Equal(t, "email status", st.EmailStatus, "failed")
		assert.Equal(t, "attempts", len(h.emails()), 1)
		assert.Equal(t, f.markFailed+" calls (the activity records a permanent failure itself)", len(h.callsNamed(f.markFailed)), 0)
		assert.Equal(t, "stages", h.stages(), []string{domain.StageStarted})
	})
}

// A failed reminder does not turn a delivered first email into "failed".
func TestPending_ReminderFailureKeepsSent(t *testing.T) {
	eachFlow(t, func(t *testing.T, f flow) {
		h := newHarness(t, f)
		h.onSend("reminder").Return(h.sendErr(rejected("mailersend: 422")))
		h.mockDefaults()
		h.signalAt(4 * day)
		h.run(3 * day)

		st := h.result()
		assert.Equal(t, "email status", st.EmailStatus, "sent")
		assert.Equal(t, "reminders sent", st.RemindersSent, 0)
		assert.Equal(t, "attempts", len(h.emails()), 2)
	})
}

// A member without an address: the activity skips the send, and the run still waits for
// the member and completes.
func TestPending_EmailSkipped(t *testing.T) {
	eachFlow(t, func(t *testing.T, f flow) {
		h := newHarness(t, f)
		h.onSend().Return(h.sendResult(activities.SendEmailResult{Skipped: true, Reason: "member has no email address"}, nil)).Once()
		h.mockDefaults()
		h.signalAt(day)
		h.run()

		st := h.result()
		assert.Equal(t, "stage", st.Stage, domain.StageStarted)
		assert.Equal(t, "emails state", st.EmailState, workflows.EmailState{EmailStatus: "queued"})
		assert.Equal(t, f.markFailed+" calls", len(h.callsNamed(f.markFailed)), 0)
	})
}

// A transient error of the first database step is retried with the same input, and the
// issue update still gets its answer.
func TestPending_PrepareTransientErrorRetried(t *testing.T) {
	eachFlow(t, func(t *testing.T, f flow) {
		h := newHarness(t, f)
		h.onFirstStep().Return(f.firstStep(h, errors.New("postgres unavailable"))).Once()
		h.mockDefaults()
		issue := h.issueAt(0, "issue", f.issue)
		h.signalAt(day)
		h.run()

		assert.Equal(t, "stage", h.result().Stage, domain.StageStarted)
		assert.Equal(t, "calls", h.callNames(), append(append([]string{f.prepared[0]}, f.prepared...), f.send, f.setStage))
		first := h.callsNamed(f.prepared[0])
		assert.Equal(t, "the retried input", [2]any{first[1].Reserve, first[1].Create}, [2]any{first[0].Reserve, first[0].Create})
		issue.succeeded(t)
		assert.Equal(t, "answer", decodeResult[workflows.IssueResult](t, issue.value), f.issued)
	})
}

// resend-email while pending sends the email again under its own number; a later reminder
// takes the next one.
func TestPending_ResendWhilePending(t *testing.T) {
	eachFlow(t, func(t *testing.T, f flow) {
		h := newHarness(t, f)
		h.mockDefaults()
		u := h.resendAt(time.Hour, "resend-1")
		mid := h.queryAt(2 * time.Hour)
		h.signalAt(4 * day)
		h.run(3 * day)

		u.succeeded(t)
		assert.Equal(t, "resend answer", decodeResult[workflows.ResendResult](t, u.value), workflows.ResendResult{MessageID: messageID(1)})
		assert.Equal(t, "emails", h.emails(), []activities.SendEmailInput{
			{SubjectID: f.id, Seq: 0, Kind: "initial"},
			{SubjectID: f.id, Seq: 1, Kind: "resend"},
			{SubjectID: f.id, Seq: 2, Kind: "reminder", Reminder: 1},
		})
		assert.Equal(t, "status at 2 h", mid.Progress, workflows.Progress{Stage: domain.StagePending,
			EmailState: workflows.EmailState{EmailStatus: "sent", MessageID: messageID(1), EmailsSent: 2}})
		st := h.result()
		assert.Equal(t, "stage", st.Stage, domain.StageStarted)
		assert.Equal(t, "emails sent", st.EmailsSent, 3)
		assert.Equal(t, "reminders sent", st.RemindersSent, 1)
	})
}

// resend-email before the last database step is committed, or after the start, is refused.
func TestPending_ResendNotPendingRefused(t *testing.T) {
	eachFlow(t, func(t *testing.T, f flow) {
		h := newHarness(t, f)
		h.onLastStep().After(2 * time.Second).Return(f.lastStep(h)).Once()
		h.env.OnActivity(f.setStage, anyContext, f.id, domain.StageStarted).After(2 * time.Second).Return(h.staged).Once()
		h.mockDefaults()
		early := h.resendAt(time.Second, "resend-early")
		h.signalAt(time.Hour)
		late := h.resendAt(time.Hour+time.Second, "resend-late")
		h.run()

		early.rejectedWith(t, "retry_not_pending")
		late.rejectedWith(t, "retry_not_pending")
		assert.Equal(t, "emails (only the first)", len(h.emails()), 1)
		assert.Equal(t, "stage", h.result().Stage, domain.StageStarted)
	})
}

// Cancel while waiting for the member: the run is marked failed and ends canceled; no
// reminder follows.
func TestPending_CancelWhileWaiting(t *testing.T) {
	eachFlow(t, func(t *testing.T, f flow) {
		h := newHarness(t, f)
		h.mockDefaults()
		h.cancelAt(2 * day)
		h.run(3*day, 7*day)

		h.canceled()
		assert.Equal(t, "stages", h.stages(), []string{domain.StageFailed})
		assert.Equal(t, "emails (no reminder after the cancel)", len(h.emails()), 1)
		assert.Equal(t, "RetryStage upserts", h.upserted(),
			append(append([]string{}, f.upsertedBeforePending...), domain.StagePending, domain.StageFailed))
	})
}

// Cancel while the first email is in flight: the run is still marked failed.
func TestPending_CancelDuringInitialEmail(t *testing.T) {
	eachFlow(t, func(t *testing.T, f flow) {
		h := newHarness(t, f)
		h.onSend().After(time.Hour).Return(h.sendOK).Once()
		h.mockDefaults()
		h.cancelAt(30 * time.Minute)
		h.run(3*day, 7*day)

		h.canceled()
		assert.Equal(t, "stages", h.stages(), []string{domain.StageFailed})
		assert.Equal(t, "RetryStage upserts", h.upserted(),
			append(append([]string{}, f.upsertedBeforePending...), domain.StagePending, domain.StageFailed))
		// The mock records after its delay, so the canceled send is not recorded; no
		// reminder follows a cancel either.
		assert.Equal(t, "emails", len(h.emails()), 0)
	})
}
