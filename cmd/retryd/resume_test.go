package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"

	"github.com/headshotpro/retryd/internal/seed"
	"github.com/headshotpro/retryd/internal/tooling/apptest"
	"github.com/headshotpro/retryd/workflows"
)

// TestResumeCarriesOnATerminatedRetry: an operator terminated a pending retry's
// workflow; `retryd resume --all` starts a run that carries it on (its email is not sent
// again, the member's start ends it), and running it again only attaches.
func TestResumeCarriesOnATerminatedRetry(t *testing.T) {
	app := apptest.Start(t, apptest.Options{})
	done := time.Now().Add(-5 * 24 * time.Hour)
	org := app.SeedOrg(t, 5, seed.Member{Name: "Rosa Resume", Email: apptest.Ptr("rosa@acme.test"), Kind: "individual",
		Shoots: []seed.Shoot{{Status: "active", CompletedAt: &done, Results: 4}}})
	m := org.File.Organizations[0].Members[0]
	member, shoot := m.ID, m.Shoots[0].ID
	r := app.Do(t, "POST", "/api/v1/admin/members/"+member+"/retries", org.AdminKey, map[string]any{"shoot_id": shoot})
	if r.Status != 201 {
		t.Fatalf("give: %d %s", r.Status, r.Body)
	}
	apptest.WaitFor(t, 30*time.Second, "the retry email", func() bool { return app.Mailbox.Len() == 1 })
	var given struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(r.Body, &given); err != nil || given.ID == "" {
		t.Fatalf("give answered no retry id (%v): %s", err, r.Body)
	}
	retryID := given.ID
	resend := func() {
		t.Helper()
		if r := app.Do(t, "POST", "/api/v1/admin/members/"+member+"/retries/"+retryID+"/resend-email", org.AdminKey, nil); r.Status != 200 {
			t.Fatalf("resend: %d %s", r.Status, r.Body)
		}
	}
	resend() // email number 1, before the run is terminated
	apptest.WaitFor(t, 30*time.Second, "the resent email", func() bool { return app.Mailbox.Len() == 2 })
	wid := workflows.RetryWorkflowID(shoot)
	ctx := context.Background()
	if err := app.Temporal.TerminateWorkflow(ctx, wid, "", "operator"); err != nil {
		t.Fatal(err)
	}

	t.Setenv("DATABASE_URL", app.DatabaseURL)
	t.Setenv("TEMPORAL_ADDRESS", app.TemporalAddress)
	t.Setenv("TEMPORAL_TASK_QUEUE", app.TaskQueue)
	for i := 0; i < 2; i++ {
		var out, errOut bytes.Buffer
		if code := run([]string{"resume", "--all"}, &out, &errOut); code != 0 {
			t.Fatalf("resume exited %d: %s %s", code, out.String(), errOut.String())
		}
		if !strings.Contains(out.String(), "1 resumed, 0 not") {
			t.Fatalf("resume said: %s", out.String())
		}
	}
	d, err := app.Temporal.DescribeWorkflow(ctx, wid, "")
	if err != nil {
		t.Fatal(err)
	}
	if st := d.RawResponse.WorkflowExecutionInfo.Status; st != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		t.Fatalf("after resume the workflow is %v, want running", st)
	}
	// The resumed run numbers its emails after the last one: this resend is delivered, not
	// mistaken for email number 1, which the terminated run had sent.
	resend()
	apptest.WaitFor(t, 30*time.Second, "the resend of the resumed run", func() bool { return app.Mailbox.Len() == 3 })
	token, _ := app.Links.Issue(member, shoot, time.Now())
	if r := app.Do(t, "POST", "/api/v1/member/shoots/"+shoot+"/start", token, nil); r.Status != 200 {
		t.Fatalf("start: %d %s", r.Status, r.Body)
	}
	apptest.WaitFor(t, 30*time.Second, "the resumed run to complete", func() bool {
		d, err := app.Temporal.DescribeWorkflow(ctx, wid, "")
		return err == nil && d.RawResponse.WorkflowExecutionInfo.Status == enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED
	})
	if n := app.Mailbox.Len(); n != 3 {
		t.Fatalf("mailbox has %d messages, want 3: the first email once (a resumed run does not send it again) and two resends", n)
	}
}
