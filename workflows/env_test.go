package workflows_test

import (
	"sync"

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

// newWorkflowEnv is a test environment for one workflow: registered under its name, with
// every activity method resolvable by name (the tests mock each call), started with the
// given workflow id, and its RetryStage upserts recorded.
func newWorkflowEnv(wf any, name, workflowID string) (*testsuite.TestWorkflowEnvironment, *stageLog) {
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
	return env, log
}
