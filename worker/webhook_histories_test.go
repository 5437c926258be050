package worker_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/headshotpro/retryd/internal/domain"
	"github.com/headshotpro/retryd/internal/tooling/apptest"
	"github.com/headshotpro/retryd/internal/tooling/webhooktest"
	"github.com/headshotpro/retryd/workflows"
)

// envRecordHistories names a directory where the recorded histories are also written;
// scripts/record-histories.sh points it at workflows/testdata.
const envRecordHistories = "RETRYD_RECORD_HISTORIES"

// TestRecordWebhookHistories runs the webhook delivery's paths on the real stack (an
// attempt failed then one delivered; 410 Gone; every attempt failing until the schedule
// runs out), replays each history against the current code, and keeps them when asked,
// for workflows/replay_test.go to replay on every run.
func TestRecordWebhookHistories(t *testing.T) {
	app := apptest.Start(t, apptest.Options{WebhookRetryFor: 2 * time.Second, WebhookFirstRetry: 200 * time.Millisecond})
	org := app.SeedOrg(t, 5, fairMember("Wren One", "wren1@hooks.test"), fairMember("Wren Two", "wren2@hooks.test"), fairMember("Wren Three", "wren3@hooks.test"))
	members := org.File.Organizations[0].Members
	answers := []webhooktest.Answer{
		func(_ string, n int) (int, http.Header, time.Duration) {
			if n == 1 {
				return http.StatusServiceUnavailable, nil, 0
			}
			return http.StatusOK, nil, 0
		},
		func(string, int) (int, http.Header, time.Duration) { return http.StatusGone, nil, 0 },
		func(string, int) (int, http.Header, time.Duration) { return http.StatusInternalServerError, nil, 0 },
	}
	names := []string{"webhook_delivered_after_retry_history.json", "webhook_gone_history.json", "webhook_failed_history.json"}
	wids := make([]string, len(answers))
	for i, answer := range answers {
		rec := webhooktest.New(t, answer)
		ep := hookEndpoint(t, app, org, rec, domain.EventRetryIssued)
		if err := give(t.Context(), app.Workflows(), org, members[i]); err != nil {
			t.Fatal(err)
		}
		var id string
		apptest.WaitFor(t, 30*time.Second, "the delivery", func() bool {
			return app.DB.NewRaw(`SELECT id FROM webhook_deliveries WHERE endpoint_id = ?`, ep.ID).Scan(t.Context(), &id) == nil
		})
		wids[i] = workflows.WebhookDeliveryWorkflowID(id)
		// One endpoint per delivery: disable this one so the next give reaches only its own.
		if _, err := app.DB.NewRaw(`UPDATE webhook_endpoints SET event_types = '{}' WHERE id = ?`, ep.ID).Exec(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	r := sdkworker.NewWorkflowReplayer()
	r.RegisterWorkflowWithOptions(workflows.WebhookDeliveryWorkflow, workflow.RegisterOptions{Name: workflows.WebhookDeliveryWorkflowName})
	keep := os.Getenv(envRecordHistories)
	for i, wid := range wids {
		h := closedHistory(t, app, wid)
		if err := r.ReplayWorkflowHistory(nil, h); err != nil {
			t.Fatalf("%s: %v", names[i], err)
		}
		if keep == "" {
			continue
		}
		raw, err := protojson.MarshalOptions{Indent: "  "}.Marshal(h)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(keep, names[i]), append(raw, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("kept %s", names[i])
	}
}

// closedHistory waits for the workflow to close and reads its whole history.
func closedHistory(t *testing.T, app *apptest.App, workflowID string) *historypb.History {
	t.Helper()
	apptest.WaitFor(t, 60*time.Second, workflowID+" to close", func() bool {
		d, err := app.Temporal.DescribeWorkflow(context.Background(), workflowID, "")
		return err == nil && d.RawResponse.WorkflowExecutionInfo.Status != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING
	})
	h := &historypb.History{}
	it := app.Temporal.GetWorkflowHistory(t.Context(), workflowID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		h.Events = append(h.Events, e)
	}
	return h
}
