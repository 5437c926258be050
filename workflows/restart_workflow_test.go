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

// rsAct is only used for its method names; the registered &activities.Activities{} lets the
// test environment resolve local activities by name, and every call is mocked.
var rsAct *activities.Activities

const (
	rsRestartID  = "restart-1"
	rsOrgID      = "org-1"
	rsMemberID   = "member-1"
	rsNewShootID = "shoot-new"
	rsOldShootID = "shoot-old"
	rsDay        = 24 * time.Hour
)

// rsHarness runs a RestartShootWorkflow with its calls recorded.
type rsHarness struct{ *harness }

func newRsHarness(t *testing.T) *rsHarness {
	return &rsHarness{newHarness(t, workflows.RestartShootWorkflow, workflows.RestartWorkflowName, workflows.RestartWorkflowID(rsMemberID))}
}

// Recording implementations, usable as mock return functions.

func (h *rsHarness) createOK(hasEmail bool) func(context.Context, activities.CreateRestartInput) (activities.CreateRestartResult, error) {
	return func(_ context.Context, in activities.CreateRestartInput) (activities.CreateRestartResult, error) {
		h.record(call{Name: "CreateRestart", Create: in})
		return activities.CreateRestartResult{OldShootID: rsOldShootID, HasEmail: hasEmail}, nil
	}
}

func (h *rsHarness) createErr(err error) func(context.Context, activities.CreateRestartInput) (activities.CreateRestartResult, error) {
	return func(_ context.Context, in activities.CreateRestartInput) (activities.CreateRestartResult, error) {
		h.record(call{Name: "CreateRestart", Create: in})
		return activities.CreateRestartResult{}, err
	}
}

func rsMessageID(seq int) string { return "rs-msg-" + string(rune('0'+seq)) }

// mockDefaults installs the happy-path behaviour of every activity (member with an email
// address). Mocks a test registers before calling it take precedence.
func (h *rsHarness) mockDefaults() {
	env := h.env
	env.OnActivity(rsAct.CreateRestart, mock.Anything, mock.Anything).Return(h.createOK(true)).Maybe()
	env.OnActivity(rsAct.SetRestartStage, mock.Anything, mock.Anything, mock.Anything).Return(h.staged("SetRestartStage")).Maybe()
	env.OnActivity(rsAct.SendRestartEmail, mock.Anything, mock.Anything).Return(h.sendOK).Maybe()
	env.OnActivity(rsAct.MarkRestartEmailFailed, mock.Anything, mock.Anything).Return(h.marked("MarkRestartEmailFailed")).Maybe()
	env.OnActivity(rsAct.RestartStarted, mock.Anything, mock.Anything).Return(h.startedAt(time.Time{})).Maybe()
}

// noEmail makes CreateRestart report a member without an email address.
func (h *rsHarness) noEmail() {
	h.env.OnActivity(rsAct.CreateRestart, mock.Anything, mock.Anything).Return(h.createOK(false)).Once()
}

func rsInput(reminders ...time.Duration) workflows.RestartInput {
	return workflows.RestartInput{
		RestartID: rsRestartID, OrgID: rsOrgID, MemberID: rsMemberID, NewShootID: rsNewShootID,
		IssuedByKind: "automation", IssuedBy: "key-1", RequestID: "req-1",
		Reminders: reminders,
		// Far apart, so a test's calls are the ones it is about; the checks have their own tests.
		Tuning: workflows.Tuning{StartCheck: 1000 * 24 * time.Hour},
	}
}

func (h *rsHarness) run(reminders ...time.Duration) {
	h.execute(workflows.RestartWorkflowName, rsInput(reminders...))
}
func (h *rsHarness) runInput(in workflows.RestartInput) { h.execute(workflows.RestartWorkflowName, in) }

func (h *rsHarness) sendOK(ctx context.Context, in activities.SendEmailInput) (activities.SendEmailResult, error) {
	return h.sent("SendRestartEmail", rsMessageID)(ctx, in)
}

func (h *rsHarness) startedAt(at time.Time) func(context.Context, string) (bool, error) {
	return h.startedFrom("RestartStarted", at)
}

func (h *rsHarness) stages() []string {
	var out []string
	for _, c := range h.callsNamed("SetRestartStage") {
		assert.Equal(h.t, rsRestartID, c.Subject, "SetRestartStage names the restart")
		out = append(out, c.Stage)
	}
	return out
}

func (h *rsHarness) emails() []activities.SendEmailInput {
	var out []activities.SendEmailInput
	for _, c := range h.callsNamed("SendRestartEmail") {
		out = append(out, c.Email)
	}
	return out
}

func (h *rsHarness) queryAt(d time.Duration) *workflows.RestartStatus {
	return queryAt[workflows.RestartStatus](h.testEnv, d)
}

func rsResult(t *testing.T, env *testsuite.TestWorkflowEnvironment) workflows.RestartStatus {
	return resultOf[workflows.RestartStatus](t, env)
}

func rsRequireCanceled(t *testing.T, err error) {
	t.Helper()
	require.Error(t, err)
	var canceled *temporal.CanceledError
	assert.True(t, errors.As(err, &canceled), "want a canceled error, got %v", err)
}

// 1. Happy path: a member with an email address gets the access link, the issue update
// answers the new shoot, and the start signal ends the restart as started.
func TestRestartWorkflow_HappyPathWithEmail(t *testing.T) {
	h := newRsHarness(t)
	h.mockDefaults()
	issue := h.updateAt(0, workflows.UpdateIssue, "issue-same", workflows.IssueRequest{RestartID: rsRestartID})
	issueLater := h.updateAt(time.Hour, workflows.UpdateIssue, "issue-later", workflows.IssueRequest{RestartID: rsRestartID})
	before := h.queryAt(2 * time.Hour)
	h.signalAt(5 * time.Hour)
	start := h.env.Now()
	h.run(3*rsDay, 7*rsDay)

	st := rsResult(t, h.env)
	assert.Equal(t, rsRestartID, st.RestartID)
	assert.Equal(t, workflows.StageStarted, st.Stage)
	assert.Equal(t, "sent", st.EmailStatus)
	assert.Equal(t, rsMessageID(0), st.MessageID)
	assert.Equal(t, 1, st.EmailsSent)
	assert.Equal(t, 0, st.RemindersSent)
	assert.Empty(t, st.Error)

	// The query before the signal sees a pending restart whose email went out.
	assert.Equal(t, rsRestartID, before.RestartID)
	assert.Equal(t, workflows.StagePending, before.Stage)
	assert.Equal(t, "sent", before.EmailStatus)
	assert.Equal(t, rsMessageID(0), before.MessageID)
	assert.Equal(t, 1, before.EmailsSent)
	assert.Empty(t, before.Error)

	// The issue update, sent while CreateRestart runs or after, answers the new shoot as
	// soon as it is committed, long before the member starts.
	want := workflows.IssueResult{RestartID: rsRestartID, Stage: workflows.StagePending, NewShootID: rsNewShootID, OldShootID: rsOldShootID, HasEmail: true}
	for name, u := range map[string]*updateResult{"at start": issue, "while pending": issueLater} {
		require.True(t, u.accepted, name)
		require.False(t, u.rejected, name)
		require.True(t, u.completed, name)
		require.NoError(t, u.err, name)
		assert.Equal(t, want, decodeResult[workflows.IssueResult](t, u.value), name)
		assert.Less(t, u.completedAt.Sub(start), 5*time.Hour, name)
	}
	assert.Less(t, issue.completedAt.Sub(start), time.Minute, "answered right after CreateRestart")

	// Activities ran in order; CreateRestart carried ids and the workflow id only.
	assert.Equal(t, []string{"CreateRestart", "SendRestartEmail", "SetRestartStage"}, h.callNames())
	assert.Equal(t, activities.CreateRestartInput{
		RestartID: rsRestartID, OrgID: rsOrgID, MemberID: rsMemberID, NewShootID: rsNewShootID,
		WorkflowID:   workflows.RestartWorkflowID(rsMemberID),
		IssuedByKind: "automation", IssuedBy: "key-1", RequestID: "req-1",
	}, h.callsNamed("CreateRestart")[0].Create)
	assert.Equal(t, []activities.SendEmailInput{{SubjectID: rsRestartID, Seq: 0, Kind: "initial", Reminder: 0}}, h.emails())
	assert.Equal(t, []string{workflows.StageStarted}, h.stages())
	assert.Empty(t, h.callsNamed("MarkRestartEmailFailed"))

	// RetryStage follows the stages for operators.
	assert.Equal(t, []string{workflows.StagePending, workflows.StageStarted}, h.upserted())
}

// 2. A member without an email address: nobody to email or remind; the admin hands the
// link over and the start signal still ends the restart.
func TestRestartWorkflow_MemberWithoutEmail(t *testing.T) {
	h := newRsHarness(t)
	h.noEmail()
	h.mockDefaults()
	issue := h.updateAt(0, workflows.UpdateIssue, "issue", workflows.IssueRequest{RestartID: rsRestartID})
	mid := h.queryAt(20 * rsDay)
	h.signalAt(30 * rsDay)
	start := h.env.Now()
	h.run(3*rsDay, 7*rsDay)

	st := rsResult(t, h.env)
	assert.Equal(t, workflows.StageStarted, st.Stage)
	assert.Equal(t, "not_applicable", st.EmailStatus)
	assert.Equal(t, 0, st.EmailsSent)
	assert.Equal(t, 0, st.RemindersSent)
	assert.Empty(t, st.MessageID)

	assert.Equal(t, workflows.StagePending, mid.Stage)
	assert.Equal(t, "not_applicable", mid.EmailStatus)
	assert.Equal(t, 0, mid.RemindersSent)

	require.True(t, issue.completed)
	require.NoError(t, issue.err)
	assert.Equal(t, workflows.IssueResult{RestartID: rsRestartID, Stage: workflows.StagePending, NewShootID: rsNewShootID, OldShootID: rsOldShootID, HasEmail: false},
		decodeResult[workflows.IssueResult](t, issue.value))

	assert.Empty(t, h.callsNamed("SendRestartEmail"), "no email and no reminders in 30 days")
	assert.Empty(t, h.callsNamed("MarkRestartEmailFailed"))
	assert.Equal(t, []string{"CreateRestart", "SetRestartStage"}, h.callNames())
	assert.Equal(t, []string{workflows.StageStarted}, h.stages())
	assert.Equal(t, []string{workflows.StagePending, workflows.StageStarted}, h.upserted())
	// It really waited for the signal.
	assert.GreaterOrEqual(t, h.env.Now().Sub(start), 30*rsDay)
}

// 3. Every refusal of CreateRestart fails the workflow with its code, sends nothing, and
// answers a waiting issue update with the same code; a concurrent restart is refused.
func TestRestartWorkflow_CreateRefused(t *testing.T) {
	for _, code := range []string{"not_managed", "no_deleted_shoot", "active_shoot_exists", "not_found"} {
		t.Run(code, func(t *testing.T) {
			h := newRsHarness(t)
			h.env.OnActivity(rsAct.CreateRestart, mock.Anything, mock.Anything).
				After(time.Second).
				Return(h.createErr(temporal.NewNonRetryableApplicationError("refused: "+code, code, nil)))
			h.mockDefaults()
			u := h.updateAt(0, workflows.UpdateIssue, "issue", workflows.IssueRequest{RestartID: rsRestartID})
			other := h.updateAt(0, workflows.UpdateIssue, "issue-other", workflows.IssueRequest{RestartID: "restart-2"})
			h.run(3*rsDay, 7*rsDay)

			err := h.env.GetWorkflowError()
			require.Error(t, err)
			assert.Equal(t, code, appErrType(t, err))
			// The status query of the closed run tells the operator why.
			v, qerr := h.env.QueryWorkflow(workflows.QueryStatus)
			require.NoError(t, qerr)
			var st workflows.RestartStatus
			require.NoError(t, v.Get(&st))
			assert.Equal(t, workflows.StageFailed, st.Stage)
			assert.Contains(t, st.Error, "refused: "+code)

			// Only CreateRestart ran, once: the refusal is not retried, nothing was sent,
			// and no restart row exists whose stage needs recording.
			assert.Equal(t, []string{"CreateRestart"}, h.callNames())
			assert.NotContains(t, h.upserted(), workflows.StagePending)
			assert.Equal(t, []string{workflows.StageFailed}, h.upserted())

			require.True(t, u.accepted, "update accepted while creating")
			require.True(t, u.completed, "update answered")
			require.Error(t, u.err)
			assert.Equal(t, code, appErrType(t, u.err))

			require.True(t, other.rejected, "another restart of the same member is rejected")
			assert.False(t, other.accepted)
			assert.Equal(t, "active_shoot_exists", appErrType(t, other.rejectErr))
		})
	}
}

// 3b. While the restart is pending, another restart id is rejected with active_shoot_exists
// and the same id still gets its answer.
func TestRestartWorkflow_IssueOtherRestartWhilePending(t *testing.T) {
	h := newRsHarness(t)
	h.mockDefaults()
	other := h.updateAt(time.Hour, workflows.UpdateIssue, "issue-other", workflows.IssueRequest{RestartID: "restart-2"})
	same := h.updateAt(time.Hour, workflows.UpdateIssue, "issue-same", workflows.IssueRequest{RestartID: rsRestartID})
	h.signalAt(2 * time.Hour)
	h.run()

	require.True(t, other.rejected)
	assert.False(t, other.accepted)
	assert.Equal(t, "active_shoot_exists", appErrType(t, other.rejectErr))

	require.True(t, same.completed)
	require.NoError(t, same.err)
	assert.Equal(t, rsNewShootID, decodeResult[workflows.IssueResult](t, same.value).NewShootID)
	assert.Equal(t, workflows.StageStarted, rsResult(t, h.env).Stage)
	assert.Len(t, h.callsNamed("CreateRestart"), 1)
}

// 4a. Reminders on durable timers, counted from the first email.
func TestRestartWorkflow_Reminders(t *testing.T) {
	h := newRsHarness(t)
	h.mockDefaults()
	mid := h.queryAt(7*rsDay + 12*time.Hour)
	h.signalAt(8 * rsDay)
	start := h.env.Now()
	h.run(3*rsDay, 7*rsDay)

	st := rsResult(t, h.env)
	assert.Equal(t, workflows.StageStarted, st.Stage)
	assert.Equal(t, 2, st.RemindersSent)
	assert.Equal(t, 3, st.EmailsSent)
	assert.Equal(t, rsMessageID(2), st.MessageID)

	assert.Equal(t, workflows.StagePending, mid.Stage)
	assert.Equal(t, 2, mid.RemindersSent)

	assert.Equal(t, []activities.SendEmailInput{
		{SubjectID: rsRestartID, Seq: 0, Kind: "initial"},
		{SubjectID: rsRestartID, Seq: 1, Kind: "reminder", Reminder: 1},
		{SubjectID: rsRestartID, Seq: 2, Kind: "reminder", Reminder: 2},
	}, h.emails())
	calls := h.callsNamed("SendRestartEmail")
	assert.WithinDuration(t, start.Add(3*rsDay), calls[1].At, time.Minute)
	assert.WithinDuration(t, start.Add(7*rsDay), calls[2].At, time.Minute)
	assert.Equal(t, []string{workflows.StageStarted}, h.stages())
	assert.Equal(t, []string{workflows.StagePending, workflows.StageStarted}, h.upserted())
}

// 4b. No reminder after the member started.
func TestRestartWorkflow_NoReminderAfterStart(t *testing.T) {
	h := newRsHarness(t)
	h.mockDefaults()
	h.signalAt(rsDay)
	h.run(3*rsDay, 7*rsDay)

	st := rsResult(t, h.env)
	assert.Equal(t, workflows.StageStarted, st.Stage)
	assert.Equal(t, 0, st.RemindersSent)
	assert.Equal(t, 1, st.EmailsSent)
	assert.Equal(t, []activities.SendEmailInput{{SubjectID: rsRestartID, Seq: 0, Kind: "initial"}}, h.emails())
	// The workflow ended right after the signal: no timer kept it alive.
	assert.Less(t, h.env.Now().Sub(h.callsNamed("SendRestartEmail")[0].At), 2*rsDay)
}

// 4c. A reminder that finds the member already started (the signal was lost) ends the
// restart as started without a signal, and no further reminder is sent.
func TestRestartWorkflow_ReminderFindsStarted(t *testing.T) {
	h := newRsHarness(t)
	h.env.OnActivity(rsAct.SendRestartEmail, mock.Anything, mock.MatchedBy(func(in activities.SendEmailInput) bool { return in.Kind == "reminder" })).
		Return(func(_ context.Context, in activities.SendEmailInput) (activities.SendEmailResult, error) {
			h.record(call{Name: "SendRestartEmail", Email: in})
			return activities.SendEmailResult{Skipped: true, AlreadyStarted: true, Reason: "restart is started"}, nil
		})
	h.mockDefaults()
	start := h.env.Now()
	h.run(3*rsDay, 7*rsDay)

	st := rsResult(t, h.env)
	assert.Equal(t, workflows.StageStarted, st.Stage)
	assert.Equal(t, 0, st.RemindersSent)
	assert.Equal(t, 1, st.EmailsSent)
	assert.Equal(t, "sent", st.EmailStatus)
	assert.Equal(t, []activities.SendEmailInput{
		{SubjectID: rsRestartID, Seq: 0, Kind: "initial"},
		{SubjectID: rsRestartID, Seq: 1, Kind: "reminder", Reminder: 1},
	}, h.emails(), "initial email and the first reminder only")
	assert.Equal(t, []string{workflows.StageStarted}, h.stages())
	assert.Equal(t, []string{workflows.StagePending, workflows.StageStarted}, h.upserted())
	assert.Less(t, h.env.Now().Sub(start), 4*rsDay, "ended at the first reminder")
}

// 5a. resend-email while pending sends the link again with its own sequence number; a
// later reminder takes the next one.
func TestRestartWorkflow_ResendWhilePending(t *testing.T) {
	h := newRsHarness(t)
	h.mockDefaults()
	u := h.updateAt(time.Hour, workflows.UpdateResendEmail, "resend-1")
	mid := h.queryAt(2 * time.Hour)
	h.signalAt(4 * rsDay)
	h.run(3 * rsDay)

	require.True(t, u.accepted)
	require.False(t, u.rejected)
	require.True(t, u.completed)
	require.NoError(t, u.err)
	res := decodeResult[workflows.ResendResult](t, u.value)
	assert.Equal(t, rsMessageID(1), res.MessageID)
	assert.False(t, res.Skipped)

	assert.Equal(t, []activities.SendEmailInput{
		{SubjectID: rsRestartID, Seq: 0, Kind: "initial"},
		{SubjectID: rsRestartID, Seq: 1, Kind: "resend"},
		{SubjectID: rsRestartID, Seq: 2, Kind: "reminder", Reminder: 1},
	}, h.emails())
	assert.Equal(t, workflows.StagePending, mid.Stage)
	assert.Equal(t, 2, mid.EmailsSent)
	assert.Equal(t, rsMessageID(1), mid.MessageID)

	st := rsResult(t, h.env)
	assert.Equal(t, workflows.StageStarted, st.Stage)
	assert.Equal(t, 3, st.EmailsSent)
	assert.Equal(t, 1, st.RemindersSent)
}

// 5b. resend-email for a member without an email address is rejected.
func TestRestartWorkflow_ResendWithoutEmailRejected(t *testing.T) {
	h := newRsHarness(t)
	h.noEmail()
	h.mockDefaults()
	u := h.updateAt(time.Hour, workflows.UpdateResendEmail, "resend-1")
	h.signalAt(2 * time.Hour)
	h.run()

	require.True(t, u.rejected)
	assert.False(t, u.accepted)
	assert.Equal(t, "retry_not_pending", appErrType(t, u.rejectErr))
	assert.Empty(t, h.callsNamed("SendRestartEmail"))
	st := rsResult(t, h.env)
	assert.Equal(t, workflows.StageStarted, st.Stage)
	assert.Equal(t, "not_applicable", st.EmailStatus)
}

// 5c. resend-email before the new shoot is committed, or after the start, is rejected.
func TestRestartWorkflow_ResendNotPendingRejected(t *testing.T) {
	h := newRsHarness(t)
	h.env.OnActivity(rsAct.CreateRestart, mock.Anything, mock.Anything).After(2 * time.Second).Return(h.createOK(true)).Once()
	h.env.OnActivity(rsAct.SetRestartStage, mock.Anything, rsRestartID, workflows.StageStarted).After(2 * time.Second).Return(h.staged("SetRestartStage")).Once()
	h.mockDefaults()
	early := h.updateAt(time.Second, workflows.UpdateResendEmail, "resend-early")
	h.signalAt(time.Hour)
	late := h.updateAt(time.Hour+time.Second, workflows.UpdateResendEmail, "resend-late")
	h.run()

	for name, u := range map[string]*updateResult{"before create": early, "after start": late} {
		require.True(t, u.rejected, name)
		assert.False(t, u.accepted, name)
		assert.Equal(t, "retry_not_pending", appErrType(t, u.rejectErr), name)
	}
	assert.Len(t, h.callsNamed("SendRestartEmail"), 1, "only the initial email")
	assert.Equal(t, workflows.StageStarted, rsResult(t, h.env).Stage)
}

// 6. Cancel while waiting for the member: the restart is marked failed and the run ends
// canceled; no reminder follows.
func TestRestartWorkflow_CancelWhileWaiting(t *testing.T) {
	h := newRsHarness(t)
	h.mockDefaults()
	h.env.RegisterDelayedCallback(h.env.CancelWorkflow, 2*rsDay)
	h.run(3*rsDay, 7*rsDay)

	rsRequireCanceled(t, h.env.GetWorkflowError())
	assert.Equal(t, []string{workflows.StageFailed}, h.stages())
	assert.Len(t, h.callsNamed("SendRestartEmail"), 1, "no reminder after cancel")
	assert.Equal(t, []string{workflows.StagePending, workflows.StageFailed}, h.upserted())
	assert.Less(t, h.env.Now().Sub(h.callsNamed("SendRestartEmail")[0].At), 3*rsDay)
}

// 6b. Cancel while waiting for a member without an email address.
func TestRestartWorkflow_CancelWithoutEmail(t *testing.T) {
	h := newRsHarness(t)
	h.noEmail()
	h.mockDefaults()
	h.env.RegisterDelayedCallback(h.env.CancelWorkflow, rsDay)
	h.run(3*rsDay, 7*rsDay)

	rsRequireCanceled(t, h.env.GetWorkflowError())
	assert.Equal(t, []string{workflows.StageFailed}, h.stages())
	assert.Empty(t, h.callsNamed("SendRestartEmail"))
}

// 7. A transient CreateRestart error is retried by the local activity's retry policy.
func TestRestartWorkflow_CreateTransientErrorRetried(t *testing.T) {
	h := newRsHarness(t)
	h.env.OnActivity(rsAct.CreateRestart, mock.Anything, mock.Anything).Return(h.createErr(errors.New("postgres unavailable"))).Once()
	h.mockDefaults()
	issue := h.updateAt(0, workflows.UpdateIssue, "issue", workflows.IssueRequest{RestartID: rsRestartID})
	h.signalAt(rsDay)
	h.run()

	st := rsResult(t, h.env)
	assert.Equal(t, workflows.StageStarted, st.Stage)
	assert.Equal(t, []string{"CreateRestart", "CreateRestart", "SendRestartEmail", "SetRestartStage"}, h.callNames())
	creates := h.callsNamed("CreateRestart")
	assert.Equal(t, creates[0].Create, creates[1].Create, "the retry repeats the same input")
	require.True(t, issue.completed)
	require.NoError(t, issue.err)
	assert.Equal(t, rsOldShootID, decodeResult[workflows.IssueResult](t, issue.value).OldShootID)
}

// A permanent failure of the first email does not fail the restart: it stays pending
// until the member starts, with the email reported failed.
func TestRestartWorkflow_EmailPermanentFailure(t *testing.T) {
	h := newRsHarness(t)
	h.env.OnActivity(rsAct.SendRestartEmail, mock.Anything, mock.Anything).
		Return(func(_ context.Context, in activities.SendEmailInput) (activities.SendEmailResult, error) {
			h.record(call{Name: "SendRestartEmail", Email: in})
			return activities.SendEmailResult{}, temporal.NewNonRetryableApplicationError("mailersend: 422", activities.ErrTypeMailPermanent, nil)
		}).Once()
	h.mockDefaults()
	mid := h.queryAt(time.Hour)
	h.signalAt(rsDay)
	h.run()

	assert.Equal(t, workflows.StagePending, mid.Stage)
	assert.Equal(t, "failed", mid.EmailStatus)
	st := rsResult(t, h.env)
	assert.Equal(t, workflows.StageStarted, st.Stage)
	assert.Equal(t, "failed", st.EmailStatus)
	assert.Len(t, h.callsNamed("SendRestartEmail"), 1, "a permanent failure is not retried")
	assert.Empty(t, h.callsNamed("MarkRestartEmailFailed"), "the activity records a permanent failure itself")
}

// Cancel while CreateRestart runs: the run ends canceled, nothing is sent, RetryStage
// says failed and a waiting issue update fails instead of hanging.
func TestRestartWorkflow_CancelDuringCreate(t *testing.T) {
	h := newRsHarness(t)
	h.env.OnActivity(rsAct.CreateRestart, mock.Anything, mock.Anything).After(time.Hour).Return(h.createOK(true)).Once()
	h.mockDefaults()
	u := h.updateAt(0, workflows.UpdateIssue, "issue", workflows.IssueRequest{RestartID: rsRestartID})
	h.env.RegisterDelayedCallback(h.env.CancelWorkflow, 30*time.Minute)
	h.run(3*rsDay, 7*rsDay)

	rsRequireCanceled(t, h.env.GetWorkflowError())
	assert.Empty(t, h.callsNamed("SendRestartEmail"))
	assert.Equal(t, []string{workflows.StageFailed}, h.upserted())
	require.True(t, u.accepted)
	require.True(t, u.completed)
	assert.Error(t, u.err)
}

// Cancel while the first email is in flight: the restart is still marked failed and no
// reminder follows.
func TestRestartWorkflow_CancelDuringInitialEmail(t *testing.T) {
	h := newRsHarness(t)
	h.env.OnActivity(rsAct.SendRestartEmail, mock.Anything, mock.Anything).After(time.Hour).Return(h.sendOK).Once()
	h.mockDefaults()
	h.env.RegisterDelayedCallback(h.env.CancelWorkflow, 30*time.Minute)
	h.run(3*rsDay, 7*rsDay)

	rsRequireCanceled(t, h.env.GetWorkflowError())
	assert.Equal(t, []string{workflows.StageFailed}, h.stages())
	assert.Equal(t, []string{workflows.StagePending, workflows.StageFailed}, h.upserted())
	// The mock records after its delay, so the canceled send is not recorded.
	assert.Empty(t, h.callsNamed("SendRestartEmail"))
}

// A CreateRestart error that outlasts the local activity's retry policy fails the run; the
// caller waiting on the issue update gets unavailable, not a hang.
func TestRestartWorkflow_CreateTransientErrorGivesUp(t *testing.T) {
	h := newRsHarness(t)
	h.env.OnActivity(rsAct.CreateRestart, mock.Anything, mock.Anything).Return(h.createErr(errors.New("postgres unavailable")))
	h.mockDefaults()
	u := h.updateAt(0, workflows.UpdateIssue, "issue", workflows.IssueRequest{RestartID: rsRestartID})
	h.run(3*rsDay, 7*rsDay)

	require.Error(t, h.env.GetWorkflowError())
	assert.Greater(t, len(h.callsNamed("CreateRestart")), 1, "retried before giving up")
	assert.Empty(t, h.callsNamed("SendRestartEmail"))
	assert.Equal(t, []string{workflows.StageFailed}, h.upserted())
	require.True(t, u.completed)
	require.Error(t, u.err)
	assert.Equal(t, "unavailable", appErrType(t, u.err))
}
