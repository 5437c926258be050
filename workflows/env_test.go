package workflows_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/converter"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/headshotpro/retryd/activities"
	"github.com/headshotpro/retryd/workflows"
)

// stageLog records the RetryStage values a test workflow upserts, in order.
type stageLog struct {
	mu     sync.Mutex
	stages []string
}

func (l *stageLog) upserted() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.stages...)
}

// call is one recorded activity call of either workflow; a field is set when the
// activity has it.
type call struct {
	Name    string
	At      time.Time
	Email   activities.SendEmailInput // emails; SubjectID alone for the database steps
	Subject string                    // SetRestartStage's restart id
	Stage   string                    // SetRetryStage, SetRestartStage
	Reserve activities.ReserveRetryInput
	Create  activities.CreateRestartInput
}

// recorder keeps the activity calls of one test in order, with their workflow time.
type recorder struct {
	now   func() time.Time
	mu    sync.Mutex
	calls []call
}

func (r *recorder) record(c call) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c.At = r.now()
	r.calls = append(r.calls, c)
}

func (r *recorder) callsNamed(name string) []call {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []call
	for _, c := range r.calls {
		if c.Name == name {
			out = append(out, c)
		}
	}
	return out
}

func (r *recorder) callNames() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, 0, len(r.calls))
	for _, c := range r.calls {
		out = append(out, c.Name)
	}
	return out
}

// stagesOf lists the stages the named activity recorded in the database, in order.
func (r *recorder) stagesOf(activity string) []string {
	var out []string
	for _, c := range r.callsNamed(activity) {
		out = append(out, c.Stage)
	}
	return out
}

// The recorded implementations both workflows' mocks return, named by activity.

func (r *recorder) staged(activity string) func(context.Context, string, string) error {
	return func(_ context.Context, id, stage string) error {
		r.record(call{Name: activity, Subject: id, Stage: stage, Email: activities.SendEmailInput{SubjectID: id}})
		return nil
	}
}

func (r *recorder) sent(activity string, messageID func(seq int) string) func(context.Context, activities.SendEmailInput) (activities.SendEmailResult, error) {
	return func(_ context.Context, in activities.SendEmailInput) (activities.SendEmailResult, error) {
		r.record(call{Name: activity, Email: in})
		return activities.SendEmailResult{MessageID: messageID(in.Seq)}, nil
	}
}

func (r *recorder) marked(activity string) func(context.Context, activities.SendEmailInput) error {
	return func(_ context.Context, in activities.SendEmailInput) error {
		r.record(call{Name: activity, Email: in})
		return nil
	}
}

// startedFrom answers the started check: true from workflow time at on (never when zero).
func (r *recorder) startedFrom(activity string, at time.Time) func(context.Context, string) (bool, error) {
	return func(_ context.Context, id string) (bool, error) {
		r.record(call{Name: activity, Subject: id})
		return !at.IsZero() && !r.now().Before(at), nil
	}
}

// execute runs the workflow to its end.
func (e *testEnv) execute(name string, in any) {
	e.env.ExecuteWorkflow(name, in)
	require.True(e.t, e.env.IsWorkflowCompleted(), "workflow did not complete")
}

// queryAt records the status query's answer, decoded as T, after d of workflow time.
func queryAt[T any](e *testEnv, d time.Duration) *T {
	st := new(T)
	e.env.RegisterDelayedCallback(func() {
		v, err := e.env.QueryWorkflow(workflows.QueryStatus)
		if !assert.NoError(e.t, err) {
			return
		}
		assert.NoError(e.t, v.Get(st))
	}, d)
	return st
}

// resultOf is the workflow's result, which must be a success.
func resultOf[T any](t *testing.T, env *testsuite.TestWorkflowEnvironment) T {
	t.Helper()
	require.NoError(t, env.GetWorkflowError())
	var st T
	require.NoError(t, env.GetWorkflowResult(&st))
	return st
}

// harness is a test environment for one workflow with its activity calls recorded.
type harness struct {
	*testEnv
	recorder
}

func newHarness(t *testing.T, wf any, name, workflowID string) *harness {
	t.Helper()
	h := &harness{testEnv: newWorkflowEnv(t, wf, name, workflowID)}
	h.now = h.env.Now
	return h
}

// testEnv is a test environment for one workflow, with its RetryStage upserts recorded
// and helpers to signal and update it at a point of workflow time.
type testEnv struct {
	t   *testing.T
	env *testsuite.TestWorkflowEnvironment
	*stageLog
}

// newWorkflowEnv registers the workflow under its name, makes every activity method
// resolvable by name (the tests mock each call) and starts it with the given id.
func newWorkflowEnv(t *testing.T, wf any, name, workflowID string) *testEnv {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.RegisterWorkflowWithOptions(wf, workflow.RegisterOptions{Name: name})
	env.RegisterActivity(&activities.Activities{})
	env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: workflowID, TaskQueue: workflows.TaskQueue})
	log := &stageLog{}
	env.OnUpsertTypedSearchAttributes(mock.Anything).Run(func(args mock.Arguments) {
		sa, ok := args.Get(0).(temporal.SearchAttributes)
		if !ok {
			return
		}
		if v, ok := sa.GetKeyword(workflows.KeyRetryStage); ok {
			log.mu.Lock()
			log.stages = append(log.stages, v)
			log.mu.Unlock()
		}
	}).Return(nil)
	return &testEnv{t: t, env: env, stageLog: log}
}

// signalAt sends shoot-started after d of workflow time.
func (e *testEnv) signalAt(d time.Duration) {
	e.env.RegisterDelayedCallback(func() {
		e.env.SignalWorkflow(workflows.SignalShootStarted, nil)
	}, d)
}

// updateResult captures the outcome of one update.
type updateResult struct {
	accepted, rejected, completed bool
	rejectErr, err                error
	value                         any
	completedAt                   time.Time
}

// updateAt sends an update after d of workflow time.
func (e *testEnv) updateAt(d time.Duration, name, id string, args ...any) *updateResult {
	u := &updateResult{}
	e.env.RegisterDelayedCallback(func() {
		e.env.UpdateWorkflow(name, id, &testsuite.TestUpdateCallback{
			OnAccept: func() { u.accepted = true },
			OnReject: func(err error) { u.rejected, u.rejectErr = true, err },
			OnComplete: func(v any, err error) {
				u.completed, u.value, u.err, u.completedAt = true, v, err, e.env.Now()
			},
		}, args...)
	}, d)
	return u
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
		require.NoError(t, x.Get(&out))
		return out
	}
	t.Fatalf("unexpected update result %T: %#v", v, v)
	return out
}

// appErrType is the type of the ApplicationError err wraps.
func appErrType(t *testing.T, err error) string {
	t.Helper()
	var appErr *temporal.ApplicationError
	require.True(t, errors.As(err, &appErr), "want an ApplicationError, got %T: %v", err, err)
	return appErr.Type()
}
