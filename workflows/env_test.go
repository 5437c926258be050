package workflows_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/headshotpro/retryd/activities"
	"github.com/headshotpro/retryd/internal/domain"
	"github.com/headshotpro/retryd/internal/tooling/assert"
	"github.com/headshotpro/retryd/workflows"
)

// The test harness of both workflows: a flow says what differs between a retry and a
// restart, the harness runs either one in Temporal's test environment with every activity
// call recorded, and the tests of what both do are written once for both flows.

const day = 24 * time.Hour

// anyContext matches the context argument of an activity mock.
const anyContext = mock.Anything

// flow is one of the two workflows under test.
type flow struct {
	name       string // the workflow type
	fn         any
	workflowID string
	id         string // the retry or restart id
	// prepared lists the database steps of a successful prepare, in order; the first one
	// is the step that refuses.
	prepared []string
	// upsertedBeforePending are the RetryStage values prepare upserts before pending.
	upsertedBeforePending []string
	// The activities the shared lifecycle calls.
	send, markFailed, setStage, started string
	// busy is the refusal of an issue update for another id while this run is open.
	busy string
	// issued is the issue update's answer of the default run.
	issued workflows.IssueResult
	// refusals are the codes the first database step refuses with.
	refusals []string
	// input is the default input with these reminders; its checks are far apart, so a
	// test's calls are the ones it is about (the checks have their own tests).
	input func(reminders ...time.Duration) any
	// issue asks for this run's retry or restart, other for another one of the same
	// workflow id.
	issue, other workflows.IssueRequest
	// firstInput matches the first database step's input: it names the flow's id.
	firstInput any
	// mockPrepare installs the default database steps; firstStep answers the first one
	// with err (nil: its default success).
	mockPrepare func(h *harness)
	firstStep   func(h *harness, err error) any
	// lastInput matches the last database step's input, lastStep answers it with success:
	// until it commits, the run is not pending.
	lastInput any
	lastStep  func(h *harness) any
}

const (
	retryID      = "retry-1"
	retryShootID = "shoot-1"
	restartID    = "restart-1"
	orgID        = "org-1"
	memberID     = "member-1"
	newShootID   = "shoot-new"
	oldShootID   = "shoot-old"
)

var retryFlow = flow{
	name: workflows.RetryWorkflowName, fn: workflows.RetryWorkflow,
	workflowID: workflows.RetryWorkflowID(retryShootID), id: retryID,
	prepared: []string{workflows.ActivityGiveRetry},
	send:     workflows.ActivitySendRetryEmail, markFailed: workflows.ActivityMarkRetryEmailFailed,
	setStage: workflows.ActivitySetRetryStage, started: workflows.ActivityRetryStarted,
	busy:   "retry_pending",
	issued: workflows.IssueResult{RetryID: retryID, Stage: domain.StagePending, AllowanceUsed: "free_retry", HasEmail: true},
	refusals: []string{"not_found", "retry_pending", "shoot_not_finished", "shoot_already_retried",
		"retry_window_expired", "retry_credits_exhausted"},
	input: func(reminders ...time.Duration) any { return retryInput(reminders...) },
	issue: workflows.IssueRequest{RetryID: retryID}, other: workflows.IssueRequest{RetryID: "retry-2"},
	firstInput: mock.MatchedBy(func(in activities.ReserveRetryInput) bool { return in.RetryID == retryID }),
	mockPrepare: func(h *harness) {
		h.onFirstStep().Return(h.f.firstStep(h, nil)).Maybe()
		// The three steps of runs recorded before the one-step give (threeStepGive).
		h.env.OnActivity(workflows.ActivityReserveRetry, anyContext, h.f.firstInput).
			Return(h.reservedAs(workflows.ActivityReserveRetry, activities.ReserveRetryResult{AllowanceUsed: "free_retry"}, nil)).Maybe()
		h.env.OnActivity(workflows.ActivityDeleteResults, anyContext, retryID).Return(h.deleted).Maybe()
		h.env.OnActivity(workflows.ActivityResetShoot, anyContext, retryID).Return(h.reset).Maybe()
	},
	firstStep: func(h *harness, err error) any {
		return h.reserved(activities.ReserveRetryResult{AllowanceUsed: "free_retry"}, err)
	},
	lastInput: mock.MatchedBy(func(in activities.ReserveRetryInput) bool { return in.RetryID == retryID }),
	lastStep:  func(h *harness) any { return h.f.firstStep(h, nil) },
}

var restartFlow = flow{
	name: workflows.RestartWorkflowName, fn: workflows.RestartShootWorkflow,
	workflowID: workflows.RestartWorkflowID(memberID), id: restartID,
	prepared: []string{workflows.ActivityCreateRestart},
	send:     workflows.ActivitySendRestartEmail, markFailed: workflows.ActivityMarkRestartEmailFailed,
	setStage: workflows.ActivitySetRestartStage, started: workflows.ActivityRestartStarted,
	busy: "active_shoot_exists",
	issued: workflows.IssueResult{RestartID: restartID, Stage: domain.StagePending,
		NewShootID: newShootID, OldShootID: oldShootID, HasEmail: true},
	refusals: []string{"not_managed", "no_deleted_shoot", "active_shoot_exists", "not_found"},
	input:    func(reminders ...time.Duration) any { return restartInput(reminders...) },
	issue:    workflows.IssueRequest{RestartID: restartID}, other: workflows.IssueRequest{RestartID: "restart-2"},
	firstInput: mock.MatchedBy(func(in activities.CreateRestartInput) bool { return in.RestartID == restartID }),
	mockPrepare: func(h *harness) {
		h.onFirstStep().Return(h.f.firstStep(h, nil)).Maybe()
	},
	firstStep: func(h *harness, err error) any {
		return h.created(activities.CreateRestartResult{OldShootID: oldShootID, HasEmail: true}, err)
	},
	lastInput: mock.MatchedBy(func(in activities.CreateRestartInput) bool { return in.RestartID == restartID }),
	lastStep:  func(h *harness) any { return h.f.firstStep(h, nil) },
}

// eachFlow runs a test of what both workflows do, once for each.
func eachFlow(t *testing.T, test func(t *testing.T, f flow)) {
	for _, f := range []flow{retryFlow, restartFlow} {
		t.Run(f.name, func(t *testing.T) { test(t, f) })
	}
}

func retryInput(reminders ...time.Duration) workflows.RetryInput {
	return workflows.RetryInput{
		RetryID: retryID, OrgID: orgID, MemberID: memberID, ShootID: retryShootID, Reason: "low_quality_photos",
		Issue: workflows.Issue{IssuedByKind: "admin", IssuedBy: "admin-1", RequestID: "req-1",
			Reminders: reminders, Tuning: workflows.Tuning{StartCheck: 1000 * day}},
	}
}

func restartInput(reminders ...time.Duration) workflows.RestartInput {
	return workflows.RestartInput{
		RestartID: restartID, OrgID: orgID, MemberID: memberID, NewShootID: newShootID,
		Issue: workflows.Issue{IssuedByKind: "automation", IssuedBy: "key-1", RequestID: "req-1",
			Reminders: reminders, Tuning: workflows.Tuning{StartCheck: 1000 * day}},
	}
}

// messageID is the provider's message id the default send answers for an email number.
func messageID(seq int) string { return "msg-" + string(rune('0'+seq)) }

// call is one recorded activity call of either workflow.
type call struct {
	Name    string
	At      time.Time                 // workflow time
	Subject string                    // the retry or restart id the call names
	Email   activities.SendEmailInput // the email activities
	Stage   string                    // SetRetryStage, SetRestartStage
	Reserve activities.ReserveRetryInput
	Create  activities.CreateRestartInput
}

// status is either workflow's status: the query's answer and the result.
type status struct {
	RetryID, RestartID string
	workflows.Progress
}

// harness runs one flow in the test environment with its activity calls and its
// RetryStage upserts recorded, and sends signals, updates and queries at points of
// workflow time.
type harness struct {
	t   *testing.T
	f   flow
	env *testsuite.TestWorkflowEnvironment
	mu  sync.Mutex
	log []call
	sa  []string // RetryStage upserts
}

// newHarness registers the flow's workflow under its name, makes every activity method
// resolvable by name (the tests mock each call) and starts it with the flow's id.
func newHarness(t *testing.T, f flow) *harness {
	var s testsuite.WorkflowTestSuite
	h := &harness{t: t, f: f, env: s.NewTestWorkflowEnvironment()}
	h.env.RegisterWorkflowWithOptions(f.fn, workflow.RegisterOptions{Name: f.name})
	h.env.RegisterActivity(&activities.Activities{})
	h.env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: f.workflowID, TaskQueue: workflows.TaskQueue})
	h.env.OnUpsertTypedSearchAttributes(mock.Anything).Run(func(args mock.Arguments) {
		sa, ok := args.Get(0).(temporal.SearchAttributes)
		if !ok {
			t.Errorf("upsert of %T, want temporal.SearchAttributes", args.Get(0))
			return
		}
		if v, ok := sa.GetKeyword(workflows.KeyRetryStage); ok {
			h.mu.Lock()
			h.sa = append(h.sa, v)
			h.mu.Unlock()
		}
	}).Return(nil)
	return h
}

// mockDefaults installs the happy path of every activity (a member with an address). The
// mocks expect the flow's id; mocks a test registers before calling it take precedence
// (testify uses the first matching expectation).
func (h *harness) mockDefaults() {
	f, env := h.f, h.env
	f.mockPrepare(h)
	env.OnActivity(f.setStage, anyContext, f.id, mock.Anything).Return(h.staged).Maybe()
	env.OnActivity(f.send, anyContext, h.emailOf()).Return(h.sendOK).Maybe()
	env.OnActivity(f.markFailed, anyContext, h.emailOf()).Return(h.marked).Maybe()
	env.OnActivity(f.started, anyContext, f.id).Return(h.startedFrom(time.Time{})).Maybe()
}

// emailOf matches the flow's emails of the given kinds (none: any kind).
func (h *harness) emailOf(kinds ...string) any {
	return mock.MatchedBy(func(in activities.SendEmailInput) bool {
		return in.SubjectID == h.f.id && (len(kinds) == 0 || slices.Contains(kinds, in.Kind))
	})
}

// onSend mocks the flow's sends of the given kinds (none: any kind).
func (h *harness) onSend(kinds ...string) *testsuite.MockCallWrapper {
	return h.env.OnActivity(h.f.send, anyContext, h.emailOf(kinds...))
}

// onFirstStep mocks the flow's first database step.
func (h *harness) onFirstStep() *testsuite.MockCallWrapper {
	return h.env.OnActivity(h.f.prepared[0], anyContext, h.f.firstInput)
}

// onLastStep mocks the flow's last database step.
func (h *harness) onLastStep() *testsuite.MockCallWrapper {
	return h.env.OnActivity(h.f.prepared[len(h.f.prepared)-1], anyContext, h.f.lastInput)
}

// run executes the default input with these reminders to its end.
func (h *harness) run(reminders ...time.Duration) { h.runInput(h.f.input(reminders...)) }

func (h *harness) runInput(in any) {
	h.t.Helper()
	h.env.ExecuteWorkflow(h.f.name, in)
	if !h.env.IsWorkflowCompleted() {
		h.t.Fatal("workflow did not complete")
	}
}

func (h *harness) record(c call) {
	h.mu.Lock()
	defer h.mu.Unlock()
	c.At = h.env.Now()
	h.log = append(h.log, c)
}

// The recording implementations the mocks return.

func (h *harness) reserved(res activities.ReserveRetryResult, err error) func(context.Context, activities.ReserveRetryInput) (activities.ReserveRetryResult, error) {
	return h.reservedAs(workflows.ActivityGiveRetry, res, err)
}

// reservedAs records a reservation under the activity name it was called as: GiveRetry,
// or ReserveRetry in a run of the three steps.
func (h *harness) reservedAs(name string, res activities.ReserveRetryResult, err error) func(context.Context, activities.ReserveRetryInput) (activities.ReserveRetryResult, error) {
	return func(_ context.Context, in activities.ReserveRetryInput) (activities.ReserveRetryResult, error) {
		h.record(call{Name: name, Subject: in.RetryID, Reserve: in})
		if err != nil {
			return activities.ReserveRetryResult{}, err
		}
		return res, nil
	}
}

// threeStepGive makes the run take the path of runs recorded before the one-step give:
// reserve, delete the results, reset the shoot, each its own local activity. Such a run
// has no marker of the changes it started with all at once either.
func (h *harness) threeStepGive() {
	h.env.OnGetVersion("all-2026-12", workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
	h.env.OnGetVersion("one-step-give", workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
}

func (h *harness) created(res activities.CreateRestartResult, err error) func(context.Context, activities.CreateRestartInput) (activities.CreateRestartResult, error) {
	return func(_ context.Context, in activities.CreateRestartInput) (activities.CreateRestartResult, error) {
		h.record(call{Name: workflows.ActivityCreateRestart, Subject: in.RestartID, Create: in})
		if err != nil {
			return activities.CreateRestartResult{}, err
		}
		return res, nil
	}
}

func (h *harness) deleted(_ context.Context, id string) (int64, error) {
	h.record(call{Name: workflows.ActivityDeleteResults, Subject: id})
	return 8, nil
}

func (h *harness) reset(_ context.Context, id string) error {
	h.record(call{Name: workflows.ActivityResetShoot, Subject: id})
	return nil
}

func (h *harness) staged(_ context.Context, id, stage string) error {
	h.record(call{Name: h.f.setStage, Subject: id, Stage: stage})
	return nil
}

func (h *harness) sendOK(ctx context.Context, in activities.SendEmailInput) (activities.SendEmailResult, error) {
	return h.sendResult(activities.SendEmailResult{MessageID: messageID(in.Seq)}, nil)(ctx, in)
}

// sendResult is a send that answers res and err.
func (h *harness) sendResult(res activities.SendEmailResult, err error) func(context.Context, activities.SendEmailInput) (activities.SendEmailResult, error) {
	return func(_ context.Context, in activities.SendEmailInput) (activities.SendEmailResult, error) {
		h.record(call{Name: h.f.send, Subject: in.SubjectID, Email: in})
		return res, err
	}
}

func (h *harness) sendErr(err error) func(context.Context, activities.SendEmailInput) (activities.SendEmailResult, error) {
	return h.sendResult(activities.SendEmailResult{}, err)
}

func (h *harness) marked(_ context.Context, in activities.SendEmailInput) error {
	h.record(call{Name: h.f.markFailed, Subject: in.SubjectID, Email: in})
	return nil
}

// startedFrom answers the started check: true from workflow time at on (never when zero).
func (h *harness) startedFrom(at time.Time) func(context.Context, string) (bool, error) {
	return func(_ context.Context, id string) (bool, error) {
		h.record(call{Name: h.f.started, Subject: id})
		return !at.IsZero() && !h.env.Now().Before(at), nil
	}
}

// What the run did.

func (h *harness) callsNamed(name string) []call {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []call
	for _, c := range h.log {
		if c.Name == name {
			out = append(out, c)
		}
	}
	return out
}

func (h *harness) callNames() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]string, 0, len(h.log))
	for _, c := range h.log {
		out = append(out, c.Name)
	}
	return out
}

// emails are the inputs of the flow's sends, in order.
func (h *harness) emails() []activities.SendEmailInput {
	var out []activities.SendEmailInput
	for _, c := range h.callsNamed(h.f.send) {
		out = append(out, c.Email)
	}
	return out
}

// stages are the stages the run recorded in the database, in order; each names the flow's id.
func (h *harness) stages() []string {
	var out []string
	for _, c := range h.callsNamed(h.f.setStage) {
		if c.Subject != h.f.id {
			h.t.Errorf("%s names %q, want %q", h.f.setStage, c.Subject, h.f.id)
		}
		out = append(out, c.Stage)
	}
	return out
}

// upserted are the RetryStage values the run upserted, in order.
func (h *harness) upserted() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.sa)
}

// result is the run's result, which must be a success.
func (h *harness) result() status {
	h.t.Helper()
	if err := h.env.GetWorkflowError(); err != nil {
		h.t.Fatalf("workflow failed: %v", err)
	}
	var st status
	if err := h.env.GetWorkflowResult(&st); err != nil {
		h.t.Fatalf("workflow result: %v", err)
	}
	return st
}

// failure is the run's error, which must be there.
func (h *harness) failure() error {
	h.t.Helper()
	err := h.env.GetWorkflowError()
	if err == nil {
		h.t.Fatal("workflow succeeded, want a failure")
	}
	return err
}

// canceled asserts that the run ended canceled.
func (h *harness) canceled() {
	h.t.Helper()
	var canceled *temporal.CanceledError
	if err := h.failure(); !errors.As(err, &canceled) {
		h.t.Fatalf("workflow error = %v, want a canceled error", err)
	}
}

// Signals, updates, queries and cancels at a point of workflow time.

// queryAt records the status query's answer after d.
func (h *harness) queryAt(d time.Duration) *status {
	st := new(status)
	h.env.RegisterDelayedCallback(func() {
		v, err := h.env.QueryWorkflow(workflows.QueryStatus)
		if err != nil {
			h.t.Errorf("status query at %v: %v", d, err)
			return
		}
		if err := v.Get(st); err != nil {
			h.t.Errorf("status query at %v: %v", d, err)
		}
	}, d)
	return st
}

// signalAt sends shoot-started after d.
func (h *harness) signalAt(d time.Duration) {
	h.env.RegisterDelayedCallback(func() { h.env.SignalWorkflow(workflows.SignalShootStarted, nil) }, d)
}

// cancelAt cancels the run after d.
func (h *harness) cancelAt(d time.Duration) { h.env.RegisterDelayedCallback(h.env.CancelWorkflow, d) }

// update is the outcome of one update.
type update struct {
	name                          string
	accepted, rejected, completed bool
	rejectErr, err                error
	value                         any
	completedAt                   time.Time
}

// updateAt sends an update after d.
func (h *harness) updateAt(d time.Duration, name, id string, args ...any) *update {
	u := &update{name: id}
	h.env.RegisterDelayedCallback(func() {
		h.env.UpdateWorkflow(name, id, &testsuite.TestUpdateCallback{
			OnAccept: func() { u.accepted = true },
			OnReject: func(err error) { u.rejected, u.rejectErr = true, err },
			OnComplete: func(v any, err error) {
				u.completed, u.value, u.err, u.completedAt = true, v, err, h.env.Now()
			},
		}, args...)
	}, d)
	return u
}

// issueAt sends the issue update for req after d.
func (h *harness) issueAt(d time.Duration, id string, req workflows.IssueRequest) *update {
	return h.updateAt(d, workflows.UpdateIssue, id, req)
}

// resendAt sends the resend-email update after d.
func (h *harness) resendAt(d time.Duration, id string) *update {
	return h.updateAt(d, workflows.UpdateResendEmail, id)
}

// succeeded asserts that the update was accepted and answered without error.
func (u *update) succeeded(t *testing.T) {
	t.Helper()
	if !u.accepted || u.rejected || !u.completed || u.err != nil {
		t.Fatalf("update %s: accepted %v, rejected %v (%v), completed %v, err %v; want a success",
			u.name, u.accepted, u.rejected, u.rejectErr, u.completed, u.err)
	}
}

// failedWith asserts that the update was accepted and answered with an error of code.
func (u *update) failedWith(t *testing.T, code string) {
	t.Helper()
	if !u.accepted || !u.completed || u.err == nil {
		t.Fatalf("update %s: accepted %v, completed %v, err %v; want a failure %s", u.name, u.accepted, u.completed, u.err, code)
	}
	if code != "" {
		assert.Equal(t, "update "+u.name+" error type", appErrType(t, u.err), code)
	}
}

// rejectedWith asserts that the update's validator refused it with code.
func (u *update) rejectedWith(t *testing.T, code string) {
	t.Helper()
	if !u.rejected || u.accepted {
		t.Fatalf("update %s: rejected %v, accepted %v; want a rejection %s", u.name, u.rejected, u.accepted, code)
	}
	assert.Equal(t, "update "+u.name+" rejection type", appErrType(t, u.rejectErr), code)
}

// decodeResult turns an update's success value into T, whether the environment hands
// back the value itself or an encoded payload.
func decodeResult[T any](t *testing.T, v any) T {
	t.Helper()
	var out T
	switch x := v.(type) {
	case T:
		return x
	case *T:
		return *x
	case converter.EncodedValue:
		if err := x.Get(&out); err != nil {
			t.Fatalf("decode update result: %v", err)
		}
		return out
	}
	t.Fatalf("unexpected update result %T: %#v", v, v)
	return out
}

// appErrType is the type of the ApplicationError err wraps.
func appErrType(t *testing.T, err error) string {
	t.Helper()
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) {
		t.Fatalf("want an ApplicationError, got %T: %v", err, err)
	}
	return appErr.Type()
}

// within reports a time further than slack from want.
func within(t *testing.T, what string, got, want time.Time, slack time.Duration) {
	t.Helper()
	if d := got.Sub(want); d > slack || d < -slack {
		t.Errorf("%s = %v, want %v (±%v)", what, got, want, slack)
	}
}
