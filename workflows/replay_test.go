package workflows_test

import (
	"testing"

	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/headshotpro/retryd/workflows"
)

// TestReplayRecordedHistories replays histories recorded from real runs against the
// current code: a change that would break running retries or restarts fails here with a
// nondeterminism error. Add a new recording next to these when a workflow changes
// behind workflow.GetVersion, with scripts/record-histories.sh; never re-record over them
// (docs/operations.md, "Deploying workflow changes").
func TestReplayRecordedHistories(t *testing.T) {
	for _, file := range []string{
		// give, reset, email, resend update, start signal
		"testdata/retry_workflow_history.json",
		// give, email, two reminders on timers, resend update, start signal
		"testdata/retry_reminders_resend_history.json",
		// restart, email, two reminders, start signal
		"testdata/restart_history.json",
		// versionLifecycle 1 (scripts/record-histories.sh):
		// give, email, two reminders, checks, start signal
		"testdata/retry_v1_reminders_history.json",
		// give, email, operator cancel: marked failed
		"testdata/retry_v1_cancel_history.json",
		// the reservation refused (shoot not finished)
		"testdata/retry_v1_refused_history.json",
		// a run that continued as new after its checks and reminder
		"testdata/retry_v1_continued_history.json",
		// the run it continued as: carried state, RetryStage set again, start signal
		"testdata/retry_v1_continued_next_run_history.json",
		// restart of a member without email, start found by a check (signal lost)
		"testdata/restart_v1_lost_signal_history.json",
		// versionEmailQueue 1, the same paths: emails scheduled on the email task queue
		"testdata/retry_emailq_reminders_history.json",
		"testdata/retry_emailq_cancel_history.json",
		"testdata/retry_emailq_refused_history.json",
		"testdata/retry_emailq_continued_history.json",
		"testdata/retry_emailq_continued_next_run_history.json",
		"testdata/restart_emailq_lost_signal_history.json",
		// versionOneStepGive 1, the retry paths: the give is one local activity
		"testdata/retry_onestep_reminders_history.json",
		"testdata/retry_onestep_cancel_history.json",
		"testdata/retry_onestep_refused_history.json",
		"testdata/retry_onestep_continued_history.json",
		"testdata/retry_onestep_continued_next_run_history.json",
		// versionStartDuringSend 1, the same paths: the start signal is heard from the
		// run's beginning and a send in flight when it comes is canceled
		"testdata/retry_startsend_reminders_history.json",
		"testdata/retry_startsend_cancel_history.json",
		"testdata/retry_startsend_refused_history.json",
		"testdata/retry_startsend_continued_history.json",
		"testdata/retry_startsend_continued_next_run_history.json",
		"testdata/restart_startsend_lost_signal_history.json",
		// versionAll 1, the same paths and a member without email: one version marker
		// stands for the four changes above
		"testdata/retry_all_reminders_history.json",
		"testdata/retry_all_cancel_history.json",
		"testdata/retry_all_refused_history.json",
		"testdata/retry_all_continued_history.json",
		"testdata/retry_all_continued_next_run_history.json",
		"testdata/restart_all_lost_signal_history.json",
		"testdata/retry_all_noemail_history.json",
		// an input without OpsPerRun (before inputs carried it): continued as new after
		// 100 checks, the default of that time
		"testdata/retry_opsdefault_continued_history.json",
		// a retry of a member without email (GiveRetry answers NoEmail): no email, no
		// reminder, only checks, then the start signal
		"testdata/retry_noemail_history.json",
		// webhook deliveries (worker.TestRecordWebhookHistories): a 503 then a 200; 410
		// Gone; every attempt failing until the schedule ran out, then FailWebhook
		"testdata/webhook_delivered_after_retry_history.json",
		"testdata/webhook_gone_history.json",
		"testdata/webhook_failed_history.json",
	} {
		t.Run(file, func(t *testing.T) {
			r := worker.NewWorkflowReplayer()
			r.RegisterWorkflowWithOptions(workflows.RetryWorkflow, workflow.RegisterOptions{Name: workflows.RetryWorkflowName})
			r.RegisterWorkflowWithOptions(workflows.RestartShootWorkflow, workflow.RegisterOptions{Name: workflows.RestartWorkflowName})
			r.RegisterWorkflowWithOptions(workflows.WebhookDeliveryWorkflow, workflow.RegisterOptions{Name: workflows.WebhookDeliveryWorkflowName})
			if err := r.ReplayWorkflowHistoryFromJSONFile(nil, file); err != nil {
				t.Fatalf("replay: %v", err)
			}
		})
	}
}
