package workflows_test

import (
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/headshotpro/retryd/activities"
	"github.com/headshotpro/retryd/internal/tooling/assert"
	"github.com/headshotpro/retryd/workflows"
)

// Every email of a retry or a restart goes on the email queue under its organization's
// fairness key, so a backlog of one organization's emails does not hold back another's;
// the first email is on the first priority level, reminders and resends after it.
func TestEmailPriorityAndFairnessKey(t *testing.T) {
	eachFlow(t, func(t *testing.T, f flow) {
		h := newHarness(t, f)
		seen := &sendOptions{byKind: map[string][]temporal.Priority{}}
		h.env.SetWorkerOptions(worker.Options{Interceptors: []interceptor.WorkerInterceptor{seen}})
		h.mockDefaults()
		resent := h.resendAt(time.Hour, "resend-1")
		h.signalAt(4 * day)
		h.run(3 * day)
		resent.succeeded(t)

		first := temporal.Priority{PriorityKey: workflows.PriorityFirstEmail, FairnessKey: orgID}
		followUp := temporal.Priority{PriorityKey: workflows.PriorityFollowUp, FairnessKey: orgID}
		assert.Equal(t, "first email", seen.byKind["initial"], []temporal.Priority{first})
		assert.Equal(t, "resend", seen.byKind["resend"], []temporal.Priority{followUp})
		assert.Equal(t, "reminder", seen.byKind["reminder"], []temporal.Priority{followUp})
	})
}

// sendOptions records the priority of every email activity a workflow schedules, from
// the options the workflow scheduled it with (the test environment does not pass them on
// to the activity).
type sendOptions struct {
	interceptor.WorkerInterceptorBase
	mu     sync.Mutex
	byKind map[string][]temporal.Priority
}

func (s *sendOptions) InterceptWorkflow(_ workflow.Context, next interceptor.WorkflowInboundInterceptor) interceptor.WorkflowInboundInterceptor {
	in := &sendOptionsInbound{s: s}
	in.Next = next
	return in
}

type sendOptionsInbound struct {
	interceptor.WorkflowInboundInterceptorBase
	s *sendOptions
}

func (i *sendOptionsInbound) Init(next interceptor.WorkflowOutboundInterceptor) error {
	out := &sendOptionsOutbound{s: i.s}
	out.Next = next
	return i.Next.Init(out)
}

type sendOptionsOutbound struct {
	interceptor.WorkflowOutboundInterceptorBase
	s *sendOptions
}

func (o *sendOptionsOutbound) ExecuteActivity(ctx workflow.Context, activityType string, args ...any) workflow.Future {
	if len(args) == 1 {
		if in, ok := args[0].(activities.SendEmailInput); ok {
			o.s.mu.Lock()
			o.s.byKind[in.Kind] = append(o.s.byKind[in.Kind], workflow.GetActivityOptions(ctx).Priority)
			o.s.mu.Unlock()
		}
	}
	return o.Next.ExecuteActivity(ctx, activityType, args...)
}
