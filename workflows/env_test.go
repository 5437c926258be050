package workflows_test

import (
	"errors"
	"sync"
	"testing"
	"time"

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
