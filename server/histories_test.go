package server_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/headshotpro/retryd/internal/seed"
	"github.com/headshotpro/retryd/internal/store"
	"github.com/headshotpro/retryd/internal/tooling/apptest"
	"github.com/headshotpro/retryd/server"
	"github.com/headshotpro/retryd/workflows"
)

// EnvRecordHistories names a directory where TestRecordHistories also writes the
// histories it records; scripts/record-histories.sh points it at workflows/testdata.
const EnvRecordHistories = "RETRYD_RECORD_HISTORIES"

// TestRecordHistories runs the workflows' paths that matter for replay on the real stack
// (reminders and checks, a cancel, a refusal, a lost start signal, continue-as-new),
// replays each recorded history against the current code, and keeps them when asked.
// Kept histories go next to the older ones, which workflows/replay_test.go replays on
// every run, so a later change that breaks a running retry fails there.
func TestRecordHistories(t *testing.T) {
	app := apptest.Start(t, apptest.Options{GiveTimeout: 30 * time.Second, Reminders: []time.Duration{time.Second, 2 * time.Second}, StartCheck: time.Second})
	org := app.SeedOrg(t, 5,
		person("Hank History", finished(5, 4)),
		person("Hana History", finished(5, 4)),
		person("Hugo History", seed.Shoot{Status: "waiting"}),
		seed.Member{Name: "Hedy History", Kind: "managed", Shoots: []seed.Shoot{deletedShoot()}},
		person("Hera History", finished(5, 4)),
		person("Hal History", finished(5, 4)),
		seed.Member{Name: "Hugh History", Kind: "managed", Shoots: []seed.Shoot{finished(5, 4)}},
	)
	ctx := context.Background()
	recorded := map[string]string{}
	l := app.Workflows()

	// Reminders fire, then the member starts.
	hank, hankShoots := seeded(org, 0)
	expectStatus(t, giveRetry(t, app, org.AdminKey, hank, hankShoots[0]), 201)
	apptest.WaitFor(t, 30*time.Second, "two reminders", func() bool { return app.Mailbox.Len() >= 3 })
	memberStart(t, app, hank, hankShoots[0])
	recorded["retry_v1_reminders_history.json"] = workflows.RetryWorkflowID(hankShoots[0])

	// An operator cancels a pending retry.
	hana, hanaShoots := seeded(org, 1)
	expectStatus(t, giveRetry(t, app, org.AdminKey, hana, hanaShoots[0]), 201)
	if err := app.Temporal.CancelWorkflow(ctx, workflows.RetryWorkflowID(hanaShoots[0]), ""); err != nil {
		t.Fatalf("cancel %s: %v", workflows.RetryWorkflowID(hanaShoots[0]), err)
	}
	recorded["retry_v1_cancel_history.json"] = workflows.RetryWorkflowID(hanaShoots[0])

	// The reservation refuses (the shoot is not finished); started directly, as a lost
	// race would.
	hugo, hugoShoots := seeded(org, 2)
	_, err := l.Retry(ctx, workflows.RetryInput{RetryID: randomUUID(), OrgID: org.ID, MemberID: hugo, ShootID: hugoShoots[0],
		Issue: workflows.Issue{IssuedByKind: "admin", IssuedBy: org.AdminID}}, "req-refused")
	if err == nil || !strings.Contains(err.Error(), "shoot_not_finished") {
		t.Fatalf("retry of a shoot that is not finished: err = %v, want shoot_not_finished", err)
	}
	recorded["retry_v1_refused_history.json"] = workflows.RetryWorkflowID(hugoShoots[0])

	// A restart of a member without email whose start signal is lost.
	hedy, _ := seeded(org, 3)
	got := expectJSON[server.RestartAnswer](t, app.Do(t, "POST", "/api/v1/admin/members/"+hedy+"/restarts", org.AdminKey, nil), 201)
	_, err = store.StartShoot(ctx, app.DB, hedy, got.NewShootID, "req-lost", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	recorded["restart_v1_lost_signal_history.json"] = workflows.RestartWorkflowID(hedy)

	// A wait long enough to continue as new; the first run's history is kept.
	hera, heraShoots := seeded(org, 4)
	in := workflows.RetryInput{RetryID: randomUUID(), OrgID: org.ID, MemberID: hera, ShootID: heraShoots[0],
		Issue: workflows.Issue{IssuedByKind: "admin", IssuedBy: org.AdminID,
			Reminders: []time.Duration{time.Second}, Tuning: workflows.Tuning{StartCheck: time.Second, OpsPerRun: 2}}}
	_, err = l.Retry(ctx, in, "req-can")
	if err != nil {
		t.Fatal(err)
	}
	heraID := workflows.RetryWorkflowID(heraShoots[0])
	var firstRun string
	apptest.WaitFor(t, 30*time.Second, "continue-as-new", func() bool {
		d, err := app.Temporal.DescribeWorkflow(ctx, heraID, "")
		if err != nil || d.RawResponse.WorkflowExecutionInfo.FirstRunId == d.RawResponse.WorkflowExecutionInfo.Execution.RunId {
			return false
		}
		firstRun = d.RawResponse.WorkflowExecutionInfo.FirstRunId
		return true
	})
	memberStart(t, app, hera, heraShoots[0])

	// An input from before inputs carried the ops limit (OpsPerRun left out): the run
	// continues as new after 100 checks, the default of that time. Its replay holds such
	// inputs to that limit whatever DefaultOpsPerRun becomes.
	hal, halShoots := seeded(org, 5)
	_, err = l.Retry(ctx, workflows.RetryInput{RetryID: randomUUID(), OrgID: org.ID, MemberID: hal, ShootID: halShoots[0],
		Issue: workflows.Issue{IssuedByKind: "admin", IssuedBy: org.AdminID, Tuning: workflows.Tuning{StartCheck: 10 * time.Millisecond}}}, "req-legacy-ops")
	if err != nil {
		t.Fatal(err)
	}
	halID := workflows.RetryWorkflowID(halShoots[0])
	var halFirstRun string
	apptest.WaitFor(t, 2*time.Minute, "continue-as-new after 100 checks", func() bool {
		d, err := app.Temporal.DescribeWorkflow(ctx, halID, "")
		if err != nil || d.RawResponse.WorkflowExecutionInfo.FirstRunId == d.RawResponse.WorkflowExecutionInfo.Execution.RunId {
			return false
		}
		halFirstRun = d.RawResponse.WorkflowExecutionInfo.FirstRunId
		return true
	})
	memberStart(t, app, hal, halShoots[0])

	// A retry of a member without email: no email, no reminder, only checks, then the
	// start with the link the give answered.
	hugh, hughShoots := seeded(org, 6)
	expectStatus(t, giveRetry(t, app, org.AdminKey, hugh, hughShoots[0]), 201)
	hughID := workflows.RetryWorkflowID(hughShoots[0])
	apptest.WaitFor(t, 30*time.Second, "checks past both reminders' delays", func() bool {
		_, n := sendsAndChecks(history(t, app.Temporal, hughID, ""))
		return n >= 4
	})
	memberStart(t, app, hugh, hughShoots[0])
	recorded["retry_noemail_history.json"] = hughID

	r := worker.NewWorkflowReplayer()
	r.RegisterWorkflowWithOptions(workflows.RetryWorkflow, workflow.RegisterOptions{Name: workflows.RetryWorkflowName})
	r.RegisterWorkflowWithOptions(workflows.RestartShootWorkflow, workflow.RegisterOptions{Name: workflows.RestartWorkflowName})
	keep := os.Getenv(EnvRecordHistories)
	write := func(name string, h *historypb.History) {
		if err := r.ReplayWorkflowHistory(nil, h); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if keep == "" {
			return
		}
		raw, err := protojson.MarshalOptions{Indent: "  "}.Marshal(h)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(keep, name), append(raw, '\n'), 0o644); err != nil {
			t.Fatalf("keep %s: %v", name, err)
		}
		t.Logf("kept %s", name)
	}
	for name, wid := range recorded {
		waitClosed(t, app, wid)
		write(name, history(t, app.Temporal, wid, ""))
	}
	waitClosed(t, app, heraID)
	write("retry_v1_continued_history.json", history(t, app.Temporal, heraID, firstRun))
	// The run it continued as, which took over the carried state and ended with the start.
	write("retry_v1_continued_next_run_history.json", history(t, app.Temporal, heraID, ""))
	waitClosed(t, app, halID)
	write("retry_opsdefault_continued_history.json", history(t, app.Temporal, halID, halFirstRun))
}

// history reads a closed run's whole history.
func history(t *testing.T, c client.Client, workflowID, runID string) *historypb.History {
	t.Helper()
	h := &historypb.History{}
	it := c.GetWorkflowHistory(context.Background(), workflowID, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		h.Events = append(h.Events, e)
	}
	return h
}
