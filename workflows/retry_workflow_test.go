package workflows_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/headshotpro/retryd/activities"
	"github.com/headshotpro/retryd/workflows"
)

// rwAct is only used for its method names; the registered &activities.Activities{} lets the
// test environment resolve local activities by name, and every call is mocked.
var rwAct *activities.Activities

const (
	rwRetryID = "retry-1"
	rwShootID = "shoot-1"
	rwDay     = 24 * time.Hour
)

// rwHarness runs a RetryWorkflow with its calls recorded.
type rwHarness struct{ *harness }

func newRetryHarness(t *testing.T) *rwHarness {
	return &rwHarness{newHarness(t, workflows.RetryWorkflow, workflows.RetryWorkflowName, workflows.RetryWorkflowID(rwShootID))}
}

// Recording implementations, usable as mock return functions.

func (h *rwHarness) reserveOK(allowance string) func(context.Context, activities.ReserveRetryInput) (activities.ReserveRetryResult, error) {
	return func(_ context.Context, in activities.ReserveRetryInput) (activities.ReserveRetryResult, error) {
		h.record(call{Name: "ReserveRetry", Reserve: in})
		return activities.ReserveRetryResult{AllowanceUsed: allowance}, nil
	}
}

func (h *rwHarness) reserveErr(err error) func(context.Context, activities.ReserveRetryInput) (activities.ReserveRetryResult, error) {
	return func(_ context.Context, in activities.ReserveRetryInput) (activities.ReserveRetryResult, error) {
		h.record(call{Name: "ReserveRetry", Reserve: in})
		return activities.ReserveRetryResult{}, err
	}
}

func (h *rwHarness) deleteOK(_ context.Context, retryID string) (int64, error) {
	h.record(call{Name: "DeleteResults", Email: activities.SendEmailInput{SubjectID: retryID}})
	return 8, nil
}

func (h *rwHarness) resetOK(_ context.Context, retryID string) error {
	h.record(call{Name: "ResetShoot", Email: activities.SendEmailInput{SubjectID: retryID}})
	return nil
}

func (h *rwHarness) sendErr(err error) func(context.Context, activities.SendEmailInput) (activities.SendEmailResult, error) {
	return func(_ context.Context, in activities.SendEmailInput) (activities.SendEmailResult, error) {
		h.record(call{Name: "SendRetryEmail", Email: in})
		return activities.SendEmailResult{}, err
	}
}

func rwMessageID(seq int) string { return "msg-" + string(rune('0'+seq)) }

// mockDefaults installs the happy-path behaviour of every activity. Mocks a test registers
// before calling it take precedence (testify uses the first matching expectation).
func (h *rwHarness) mockDefaults() {
	env := h.env
	env.OnActivity(rwAct.ReserveRetry, mock.Anything, mock.Anything).Return(h.reserveOK("free_retry")).Maybe()
	env.OnActivity(rwAct.DeleteResults, mock.Anything, mock.Anything).Return(h.deleteOK).Maybe()
	env.OnActivity(rwAct.ResetShoot, mock.Anything, mock.Anything).Return(h.resetOK).Maybe()
	env.OnActivity(rwAct.SetRetryStage, mock.Anything, mock.Anything, mock.Anything).Return(h.staged("SetRetryStage")).Maybe()
	env.OnActivity(rwAct.SendRetryEmail, mock.Anything, mock.Anything).Return(h.sendOK).Maybe()
	env.OnActivity(rwAct.MarkRetryEmailFailed, mock.Anything, mock.Anything).Return(h.marked("MarkRetryEmailFailed")).Maybe()
	env.OnActivity(rwAct.RetryStarted, mock.Anything, mock.Anything).Return(h.startedAt(time.Time{})).Maybe()
}

func rwInput(reminders ...time.Duration) workflows.RetryInput {
	return workflows.RetryInput{
		RetryID: rwRetryID, OrgID: "org-1", MemberID: "member-1", ShootID: rwShootID,
		Reason: "low_quality_photos", IssuedByKind: "admin", IssuedBy: "admin-1", RequestID: "req-1",
		Reminders: reminders,
		// Far apart, so a test's calls are the ones it is about; the checks have their own tests.
		Tuning: workflows.Tuning{StartCheck: 1000 * 24 * time.Hour},
	}
}

func (h *rwHarness) stages() []string { return h.stagesOf("SetRetryStage") }

func (h *rwHarness) run(reminders ...time.Duration) {
	h.execute(workflows.RetryWorkflowName, rwInput(reminders...))
}
func (h *rwHarness) runInput(in workflows.RetryInput) { h.execute(workflows.RetryWorkflowName, in) }

func (h *rwHarness) sendOK(ctx context.Context, in activities.SendEmailInput) (activities.SendEmailResult, error) {
	return h.sent("SendRetryEmail", rwMessageID)(ctx, in)
}

func (h *rwHarness) startedAt(at time.Time) func(context.Context, string) (bool, error) {
	return h.startedFrom("RetryStarted", at)
}

func (h *rwHarness) queryAt(d time.Duration) *workflows.RetryStatus {
	return queryAt[workflows.RetryStatus](h.testEnv, d)
}

func rwResult(t *testing.T, env *testsuite.TestWorkflowEnvironment) workflows.RetryStatus {
	return resultOf[workflows.RetryStatus](t, env)
}

// 1. Happy path.
func TestRetryWorkflow_HappyPath(t *testing.T) {
	h := newRetryHarness(t)
	h.mockDefaults()
	before := h.queryAt(2 * time.Hour)
	h.signalAt(5 * time.Hour)
	h.run(3*rwDay, 7*rwDay)

	st := rwResult(t, h.env)
	assert.Equal(t, rwRetryID, st.RetryID)
	assert.Equal(t, workflows.StageStarted, st.Stage)
	assert.Equal(t, "sent", st.EmailStatus)
	assert.Equal(t, rwMessageID(0), st.MessageID)
	assert.Equal(t, 1, st.EmailsSent)
	assert.Equal(t, 0, st.RemindersSent)
	assert.Empty(t, st.Error)

	// The query before the signal sees a pending retry whose email went out.
	assert.Equal(t, rwRetryID, before.RetryID)
	assert.Equal(t, workflows.StagePending, before.Stage)
	assert.Equal(t, "sent", before.EmailStatus)
	assert.Equal(t, rwMessageID(0), before.MessageID)
	assert.Equal(t, 1, before.EmailsSent)

	// Activities ran in order, the reservation carried ids and the workflow id.
	assert.Equal(t, []string{"ReserveRetry", "DeleteResults", "ResetShoot", "SendRetryEmail", "SetRetryStage"}, h.callNames())
	res := h.callsNamed("ReserveRetry")[0].Reserve
	assert.Equal(t, activities.ReserveRetryInput{
		RetryID: rwRetryID, OrgID: "org-1", MemberID: "member-1", ShootID: rwShootID,
		Reason: "low_quality_photos", WorkflowID: workflows.RetryWorkflowID(rwShootID),
		IssuedByKind: "admin", IssuedBy: "admin-1", RequestID: "req-1",
	}, res)
	assert.Equal(t, rwRetryID, h.callsNamed("DeleteResults")[0].Email.SubjectID)
	assert.Equal(t, rwRetryID, h.callsNamed("ResetShoot")[0].Email.SubjectID)
	emails := h.callsNamed("SendRetryEmail")
	require.Len(t, emails, 1)
	assert.Equal(t, activities.SendEmailInput{SubjectID: rwRetryID, Seq: 0, Kind: "initial", Reminder: 0}, emails[0].Email)
	assert.Equal(t, []string{workflows.StageStarted}, h.stages())
	assert.Equal(t, rwRetryID, h.callsNamed("SetRetryStage")[0].Email.SubjectID)

	// RetryStage follows the stages for operators.
	assert.Equal(t, []string{workflows.StageResetting, workflows.StagePending, workflows.StageStarted}, h.upserted())
}

// 2. The issue update.
func TestRetryWorkflow_IssueUpdate(t *testing.T) {
	h := newRetryHarness(t)
	h.env.OnActivity(rwAct.ReserveRetry, mock.Anything, mock.Anything).Return(h.reserveOK("retry_credit")).Once()
	h.mockDefaults()
	same := h.updateAt(0, workflows.UpdateIssue, "issue-same", workflows.IssueRequest{RetryID: rwRetryID})
	other := h.updateAt(0, workflows.UpdateIssue, "issue-other", workflows.IssueRequest{RetryID: "retry-2"})
	later := h.updateAt(time.Hour, workflows.UpdateIssue, "issue-later", workflows.IssueRequest{RetryID: rwRetryID})
	otherLater := h.updateAt(time.Hour, workflows.UpdateIssue, "issue-other-later", workflows.IssueRequest{RetryID: "retry-3"})
	h.signalAt(2 * time.Hour)
	h.run()

	st := rwResult(t, h.env)
	assert.Equal(t, workflows.StageStarted, st.Stage)

	want := workflows.IssueResult{RetryID: rwRetryID, Stage: workflows.StagePending, AllowanceUsed: "retry_credit", HasEmail: true}
	for name, u := range map[string]*updateResult{"at start": same, "after reset": later} {
		require.True(t, u.accepted, name)
		require.False(t, u.rejected, name)
		require.True(t, u.completed, name)
		require.NoError(t, u.err, name)
		assert.Equal(t, want, decodeResult[workflows.IssueResult](t, u.value), name)
	}
	for name, u := range map[string]*updateResult{"at start": other, "after reset": otherLater} {
		require.True(t, u.rejected, name)
		assert.False(t, u.accepted, name)
		assert.Equal(t, "retry_pending", appErrType(t, u.rejectErr), name)
	}
}

// 3. Refusals of the reservation.
func TestRetryWorkflow_ReserveRefused(t *testing.T) {
	codes := []string{
		"not_found", "retry_pending", "shoot_not_finished", "shoot_already_retried",
		"retry_window_expired", "retry_credits_exhausted",
	}
	for _, code := range codes {
		t.Run(code, func(t *testing.T) {
			h := newRetryHarness(t)
			h.env.OnActivity(rwAct.ReserveRetry, mock.Anything, mock.Anything).
				After(time.Second).
				Return(h.reserveErr(temporal.NewNonRetryableApplicationError("refused: "+code, code, nil)))
			h.mockDefaults()
			u := h.updateAt(0, workflows.UpdateIssue, "issue", workflows.IssueRequest{RetryID: rwRetryID})
			h.run(3*rwDay, 7*rwDay)

			err := h.env.GetWorkflowError()
			require.Error(t, err)
			assert.Equal(t, code, appErrType(t, err))

			// Only the reservation ran, once: the refusal is not retried and nothing was reset.
			assert.Equal(t, []string{"ReserveRetry"}, h.callNames())
			assert.NotContains(t, h.upserted(), workflows.StagePending)
			assert.Contains(t, h.upserted(), workflows.StageFailed)

			require.True(t, u.accepted, "update accepted while reserving")
			require.True(t, u.completed, "update answered")
			require.Error(t, u.err)
			assert.Equal(t, code, appErrType(t, u.err))
		})
	}
}

// 4a. Reminders on durable timers.
func TestRetryWorkflow_Reminders(t *testing.T) {
	h := newRetryHarness(t)
	h.mockDefaults()
	mid := h.queryAt(7*rwDay + 12*time.Hour)
	h.signalAt(8 * rwDay)
	start := h.env.Now()
	h.run(3*rwDay, 7*rwDay)

	st := rwResult(t, h.env)
	assert.Equal(t, workflows.StageStarted, st.Stage)
	assert.Equal(t, 2, st.RemindersSent)
	assert.Equal(t, 3, st.EmailsSent)
	assert.Equal(t, rwMessageID(2), st.MessageID)

	assert.Equal(t, workflows.StagePending, mid.Stage)
	assert.Equal(t, 2, mid.RemindersSent)

	emails := h.callsNamed("SendRetryEmail")
	require.Len(t, emails, 3)
	assert.Equal(t, activities.SendEmailInput{SubjectID: rwRetryID, Seq: 0, Kind: "initial"}, emails[0].Email)
	assert.Equal(t, activities.SendEmailInput{SubjectID: rwRetryID, Seq: 1, Kind: "reminder", Reminder: 1}, emails[1].Email)
	assert.Equal(t, activities.SendEmailInput{SubjectID: rwRetryID, Seq: 2, Kind: "reminder", Reminder: 2}, emails[2].Email)
	// Delays count from the first email.
	assert.WithinDuration(t, start.Add(3*rwDay), emails[1].At, time.Minute)
	assert.WithinDuration(t, start.Add(7*rwDay), emails[2].At, time.Minute)
	assert.Equal(t, []string{workflows.StageStarted}, h.stages())
}

// 4b. No reminder after the member started.
func TestRetryWorkflow_NoReminderAfterStart(t *testing.T) {
	h := newRetryHarness(t)
	h.mockDefaults()
	h.signalAt(rwDay)
	h.run(3*rwDay, 7*rwDay)

	st := rwResult(t, h.env)
	assert.Equal(t, workflows.StageStarted, st.Stage)
	assert.Equal(t, 0, st.RemindersSent)
	assert.Equal(t, 1, st.EmailsSent)
	emails := h.callsNamed("SendRetryEmail")
	require.Len(t, emails, 1)
	assert.Equal(t, "initial", emails[0].Email.Kind)
	// The workflow ended right after the signal: no timer kept it alive.
	assert.Less(t, h.env.Now().Sub(emails[0].At), 2*rwDay)
}

// 4c. No reminders configured: the workflow simply waits.
func TestRetryWorkflow_NoRemindersConfigured(t *testing.T) {
	h := newRetryHarness(t)
	h.mockDefaults()
	h.signalAt(30 * rwDay)
	h.run()

	st := rwResult(t, h.env)
	assert.Equal(t, workflows.StageStarted, st.Stage)
	assert.Len(t, h.callsNamed("SendRetryEmail"), 1)
}

// 5a. Transient email errors are retried by the activity's retry policy.
func TestRetryWorkflow_EmailTransientErrorRetried(t *testing.T) {
	h := newRetryHarness(t)
	h.env.OnActivity(rwAct.SendRetryEmail, mock.Anything, mock.Anything).Return(h.sendErr(errors.New("mailersend: 503"))).Twice()
	h.mockDefaults()
	h.signalAt(rwDay)
	h.run()

	st := rwResult(t, h.env)
	assert.Equal(t, "sent", st.EmailStatus)
	assert.Equal(t, rwMessageID(0), st.MessageID)
	assert.Equal(t, 1, st.EmailsSent)
	emails := h.callsNamed("SendRetryEmail")
	require.Len(t, emails, 3, "two failures then a success")
	for _, e := range emails {
		assert.Equal(t, activities.SendEmailInput{SubjectID: rwRetryID, Seq: 0, Kind: "initial"}, e.Email, "every attempt is the same email")
	}
	assert.Empty(t, h.callsNamed("MarkRetryEmailFailed"))
}

// 5b. A transient reservation error is retried.
func TestRetryWorkflow_ReserveTransientErrorRetried(t *testing.T) {
	h := newRetryHarness(t)
	h.env.OnActivity(rwAct.ReserveRetry, mock.Anything, mock.Anything).Return(h.reserveErr(errors.New("postgres unavailable"))).Once()
	h.mockDefaults()
	h.signalAt(rwDay)
	h.run()

	st := rwResult(t, h.env)
	assert.Equal(t, workflows.StageStarted, st.Stage)
	assert.Equal(t, []string{"ReserveRetry", "ReserveRetry", "DeleteResults", "ResetShoot", "SendRetryEmail", "SetRetryStage"}, h.callNames())
}

// 5c. Transient email errors that outlast the retry policy: the failure is recorded and
// the retry keeps waiting for the member. (The test environment caps an unlimited retry
// policy at 10 attempts, so the activity gives up after minutes of workflow time.)
func TestRetryWorkflow_EmailTransientErrorGivesUp(t *testing.T) {
	h := newRetryHarness(t)
	h.env.OnActivity(rwAct.SendRetryEmail, mock.Anything, mock.Anything).Return(h.sendErr(errors.New("mailersend: 503")))
	h.mockDefaults()
	h.signalAt(3 * rwDay)
	h.run()

	st := rwResult(t, h.env)
	assert.Equal(t, workflows.StageStarted, st.Stage)
	assert.Equal(t, "failed", st.EmailStatus)
	assert.Equal(t, 0, st.EmailsSent)
	assert.Greater(t, len(h.callsNamed("SendRetryEmail")), 2)
	marks := h.callsNamed("MarkRetryEmailFailed")
	require.Len(t, marks, 1)
	assert.Equal(t, activities.SendEmailInput{SubjectID: rwRetryID, Seq: 0, Kind: "initial"}, marks[0].Email)
}

// 6. A permanent mail failure is not retried; the retry keeps waiting.
func TestRetryWorkflow_EmailPermanentFailure(t *testing.T) {
	h := newRetryHarness(t)
	h.env.OnActivity(rwAct.SendRetryEmail, mock.Anything, mock.Anything).
		Return(h.sendErr(temporal.NewNonRetryableApplicationError("mailersend: 422 invalid recipient", activities.ErrTypeMailPermanent, nil))).Once()
	h.mockDefaults()
	mid := h.queryAt(time.Hour)
	h.signalAt(2 * rwDay)
	h.run()

	assert.Equal(t, workflows.StagePending, mid.Stage)
	assert.Equal(t, "failed", mid.EmailStatus)
	assert.Equal(t, 0, mid.EmailsSent)

	st := rwResult(t, h.env)
	assert.Equal(t, workflows.StageStarted, st.Stage)
	assert.Equal(t, "failed", st.EmailStatus)
	assert.Len(t, h.callsNamed("SendRetryEmail"), 1, "a permanent failure is not retried")
	assert.Empty(t, h.callsNamed("MarkRetryEmailFailed"), "the activity records a permanent failure itself")
	assert.Equal(t, []string{workflows.StageStarted}, h.stages())
}

// 6b. A failed reminder does not turn a delivered first email into "failed".
func TestRetryWorkflow_ReminderFailureKeepsSent(t *testing.T) {
	h := newRetryHarness(t)
	h.env.OnActivity(rwAct.SendRetryEmail, mock.Anything, mock.MatchedBy(func(in activities.SendEmailInput) bool { return in.Kind == "reminder" })).
		Return(h.sendErr(temporal.NewNonRetryableApplicationError("mailersend: 422", activities.ErrTypeMailPermanent, nil)))
	h.mockDefaults()
	h.signalAt(4 * rwDay)
	h.run(3 * rwDay)

	st := rwResult(t, h.env)
	assert.Equal(t, "sent", st.EmailStatus)
	assert.Equal(t, 0, st.RemindersSent)
	assert.Len(t, h.callsNamed("SendRetryEmail"), 2)
}

// 7a. resend-email while pending.
func TestRetryWorkflow_ResendWhilePending(t *testing.T) {
	h := newRetryHarness(t)
	h.mockDefaults()
	u := h.updateAt(time.Hour, workflows.UpdateResendEmail, "resend-1")
	mid := h.queryAt(2 * time.Hour)
	h.signalAt(3 * time.Hour)
	h.run(3*rwDay, 7*rwDay)

	require.True(t, u.accepted)
	require.True(t, u.completed)
	require.NoError(t, u.err)
	res := decodeResult[workflows.ResendResult](t, u.value)
	assert.Equal(t, rwMessageID(1), res.MessageID)
	assert.False(t, res.Skipped)

	emails := h.callsNamed("SendRetryEmail")
	require.Len(t, emails, 2)
	assert.Equal(t, activities.SendEmailInput{SubjectID: rwRetryID, Seq: 1, Kind: "resend"}, emails[1].Email)
	assert.Equal(t, 2, mid.EmailsSent)
	assert.Equal(t, rwMessageID(1), mid.MessageID)

	st := rwResult(t, h.env)
	assert.Equal(t, workflows.StageStarted, st.Stage)
	assert.Equal(t, 0, st.RemindersSent)
}

// 7b. resend-email before the reset is committed is rejected.
func TestRetryWorkflow_ResendBeforeReset(t *testing.T) {
	h := newRetryHarness(t)
	h.env.OnActivity(rwAct.DeleteResults, mock.Anything, mock.Anything).After(2 * time.Second).Return(h.deleteOK).Once()
	h.mockDefaults()
	u := h.updateAt(time.Second, workflows.UpdateResendEmail, "resend-early")
	h.signalAt(time.Hour)
	h.run()

	require.True(t, u.rejected)
	assert.False(t, u.accepted)
	assert.Equal(t, "retry_not_pending", appErrType(t, u.rejectErr))
	assert.Len(t, h.callsNamed("SendRetryEmail"), 1, "only the initial email")
	assert.Equal(t, workflows.StageStarted, rwResult(t, h.env).Stage)
}

// 7c. resend-email after the member started is rejected.
func TestRetryWorkflow_ResendAfterStart(t *testing.T) {
	h := newRetryHarness(t)
	h.env.OnActivity(rwAct.SetRetryStage, mock.Anything, rwRetryID, workflows.StageStarted).After(2 * time.Second).Return(h.staged("SetRetryStage")).Once()
	h.mockDefaults()
	h.signalAt(time.Hour)
	u := h.updateAt(time.Hour+time.Second, workflows.UpdateResendEmail, "resend-late")
	h.run()

	require.True(t, u.rejected)
	assert.False(t, u.accepted)
	assert.Equal(t, "retry_not_pending", appErrType(t, u.rejectErr))
	assert.Len(t, h.callsNamed("SendRetryEmail"), 1)
	assert.Equal(t, workflows.StageStarted, rwResult(t, h.env).Stage)
}

// 8. Cancel while waiting for the member.
func TestRetryWorkflow_CancelWhileWaiting(t *testing.T) {
	h := newRetryHarness(t)
	h.mockDefaults()
	h.env.RegisterDelayedCallback(h.env.CancelWorkflow, 2*rwDay)
	h.run(3*rwDay, 7*rwDay)

	err := h.env.GetWorkflowError()
	require.Error(t, err)
	var canceled *temporal.CanceledError
	assert.True(t, errors.As(err, &canceled), "want a canceled error, got %v", err)

	assert.Equal(t, []string{workflows.StageFailed}, h.stages())
	assert.Len(t, h.callsNamed("SendRetryEmail"), 1, "no reminder after cancel")
	up := h.upserted()
	require.NotEmpty(t, up)
	assert.Equal(t, workflows.StageFailed, up[len(up)-1])
}

// A failed reset frees the member's pending slot and fails the workflow.
func TestRetryWorkflow_ResetFailsMarksFailed(t *testing.T) {
	h := newRetryHarness(t)
	h.env.OnActivity(rwAct.ResetShoot, mock.Anything, mock.Anything).
		Return(temporal.NewNonRetryableApplicationError("shoot changed", "invalid_shoot_status", nil))
	h.mockDefaults()
	u := h.updateAt(0, workflows.UpdateIssue, "issue", workflows.IssueRequest{RetryID: rwRetryID})
	h.run()

	err := h.env.GetWorkflowError()
	require.Error(t, err)
	assert.Equal(t, "invalid_shoot_status", appErrType(t, err))
	assert.Equal(t, []string{workflows.StageFailed}, h.stages())
	assert.Empty(t, h.callsNamed("SendRetryEmail"))
	require.True(t, u.completed)
	assert.Equal(t, "invalid_shoot_status", appErrType(t, u.err))
}

// Cancel while the initial email is in flight: the retry is still marked failed.
func TestRetryWorkflow_CancelDuringInitialEmail(t *testing.T) {
	h := newRetryHarness(t)
	h.env.OnActivity(rwAct.SendRetryEmail, mock.Anything, mock.Anything).After(time.Hour).Return(h.sendOK).Once()
	h.mockDefaults()
	h.env.RegisterDelayedCallback(h.env.CancelWorkflow, 30*time.Minute)
	h.run(3*rwDay, 7*rwDay)

	err := h.env.GetWorkflowError()
	require.Error(t, err)
	var canceled *temporal.CanceledError
	assert.True(t, errors.As(err, &canceled), "want a canceled error, got %v", err)
	assert.Equal(t, []string{workflows.StageFailed}, h.stages())
	// The mock records after its delay, so the canceled send is not recorded; no
	// reminder follows a cancel either.
	assert.Empty(t, h.callsNamed("SendRetryEmail"))
}

// Cancel before the reset is committed: the reserved retry is marked failed and a
// waiting issue update fails instead of hanging.
func TestRetryWorkflow_CancelBeforeReset(t *testing.T) {
	h := newRetryHarness(t)
	// The first deletion hangs (a lock) and is canceled; it records nothing, so the calls
	// recorded are the reservation and what the cancel runs.
	h.env.OnActivity(rwAct.DeleteResults, mock.Anything, mock.Anything).After(time.Hour).Return(int64(0), nil).Once()
	h.mockDefaults()
	u := h.updateAt(0, workflows.UpdateIssue, "issue", workflows.IssueRequest{RetryID: rwRetryID})
	h.env.RegisterDelayedCallback(h.env.CancelWorkflow, 30*time.Minute)
	h.run()

	require.Error(t, h.env.GetWorkflowError())
	// The reservation committed, so the reset is carried to its end before the retry is
	// marked failed: no member keeps a shoot whose results are gone but that was not reset.
	assert.Equal(t, []string{"ReserveRetry", "DeleteResults", "ResetShoot", "SetRetryStage"}, h.callNames())
	assert.Equal(t, []string{workflows.StageFailed}, h.stages(), "the retry is marked failed exactly once")
	assert.Empty(t, h.callsNamed("SendRetryEmail"))
	require.True(t, u.accepted)
	require.True(t, u.completed)
	assert.Error(t, u.err)
}

// A member without an email address: the activity skips the send and the retry still
// waits for the member and completes.
func TestRetryWorkflow_EmailSkipped(t *testing.T) {
	h := newRetryHarness(t)
	h.env.OnActivity(rwAct.SendRetryEmail, mock.Anything, mock.Anything).
		Return(activities.SendEmailResult{Skipped: true, Reason: "member has no email address"}, nil).Once()
	h.mockDefaults()
	h.signalAt(rwDay)
	h.run()

	st := rwResult(t, h.env)
	assert.Equal(t, workflows.StageStarted, st.Stage)
	assert.Equal(t, 0, st.EmailsSent)
	assert.Empty(t, st.MessageID)
	assert.Empty(t, h.callsNamed("MarkRetryEmailFailed"))
}

// A reminder that finds the retry no longer pending (the start signal was lost) ends the
// wait: the workflow completes as started without a signal and sends no further reminder.
func TestRetryWorkflow_ReminderFindsStarted(t *testing.T) {
	h := newRetryHarness(t)
	h.env.OnActivity(rwAct.SendRetryEmail, mock.Anything, mock.MatchedBy(func(in activities.SendEmailInput) bool { return in.Kind == "reminder" })).
		Return(func(_ context.Context, in activities.SendEmailInput) (activities.SendEmailResult, error) {
			h.record(call{Name: "SendRetryEmail", Email: in})
			return activities.SendEmailResult{Skipped: true, AlreadyStarted: true, Reason: "retry is started"}, nil
		})
	h.mockDefaults()
	h.run(3*rwDay, 7*rwDay)

	st := rwResult(t, h.env)
	assert.Equal(t, workflows.StageStarted, st.Stage)
	assert.Equal(t, 0, st.RemindersSent)
	emails := h.callsNamed("SendRetryEmail")
	require.Len(t, emails, 2, "initial email and the first reminder only")
	assert.Equal(t, activities.SendEmailInput{SubjectID: rwRetryID, Seq: 1, Kind: "reminder", Reminder: 1}, emails[1].Email)
	assert.Equal(t, []string{workflows.StageStarted}, h.stages())
}
