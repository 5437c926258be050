package server_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/headshotpro/retryd/internal/apptest"
	"github.com/headshotpro/retryd/internal/seed"
	"github.com/headshotpro/retryd/workflows"
)

func daysAgo(d float64) *time.Time {
	t := time.Now().Add(-time.Duration(d * float64(24*time.Hour))).UTC().Truncate(time.Second)
	return &t
}

// TestGiveRetryStory walks the give-retry rules of docs/product.md end to end through
// HTTP: dashboard, preview, give, In Progress, email, pending notice, refusal, member
// start, free submission, completion and the one-retry-per-shoot refusal.
func TestGiveRetryStory(t *testing.T) {
	app := apptest.Start(t, apptest.Options{Reminders: []time.Duration{72 * time.Hour}})
	ada := seed.Member{Name: "Ada Lovelace", Email: apptest.Ptr("ada@acme.test"), Kind: "individual",
		Shoots: []seed.Shoot{{Status: "active", CompletedAt: daysAgo(5), Results: 8}}}
	org := app.SeedOrg(t, 3, ada)
	memberID, shootID := org.File.Organizations[0].Members[0].ID, org.File.Organizations[0].Members[0].Shoots[0].ID
	key := org.AdminKey

	// Dashboard: Ada is Finished with give_retry.
	r := app.Do(t, "GET", "/api/v1/admin/headshots?section=finished", key, nil)
	if r.Status != 200 {
		t.Fatalf("dashboard: %d %s", r.Status, r.Body)
	}
	cards := r.JSON(t)["cards"].([]any)
	if len(cards) != 1 {
		t.Fatalf("want 1 finished card, got %d", len(cards))
	}
	card := cards[0].(map[string]any)
	if got := card["actions"].([]any); len(got) != 1 || got[0] != "give_retry" {
		t.Fatalf("actions = %v, want [give_retry]", got)
	}
	if rc := card["shoot"].(map[string]any)["result_count"]; rc != float64(8) {
		t.Fatalf("result_count = %v", rc)
	}

	// Preview: confirm with the help page's two effects and button label.
	r = app.Do(t, "GET", "/api/v1/admin/members/"+memberID+"/retry-preview?shoot_id="+shootID, key, nil)
	p := r.JSON(t)
	if p["state"] != "confirm" || p["confirm_label"] != "Delete results and retry" {
		t.Fatalf("preview = %s", r.Body)
	}
	effects := p["effects"].([]any)
	if len(effects) != 2 || effects[0] != "The member's shoot will be reset to onboarding." ||
		effects[1] != "The member receives an email notification with a link to retry their shoot." {
		t.Fatalf("effects = %v", effects)
	}

	// Give: 201 with the retry, once the reset is committed.
	r = app.Do(t, "POST", "/api/v1/admin/members/"+memberID+"/retries", key, map[string]any{"shoot_id": shootID, "reason": "bad_lighting", "note": "too dark"})
	if r.Status != 201 {
		t.Fatalf("give: %d %s", r.Status, r.Body)
	}
	retry := r.JSON(t)
	if retry["status"] != "pending" || retry["allowance_used"] != "free_retry" || retry["shoot_id"] != shootID ||
		retry["note"] != "too dark" || retry["reason"] != "bad_lighting" || retry["workflow_id"] != workflows.RetryWorkflowID(shootID) {
		t.Fatalf("retry = %s", r.Body)
	}
	if r.Header.Get("X-Request-Id") == "" {
		t.Fatal("no X-Request-Id")
	}

	// Immediately In Progress, with results gone and the shoot back in onboarding.
	r = app.Do(t, "GET", "/api/v1/admin/headshots?section=in_progress", key, nil)
	cards = r.JSON(t)["cards"].([]any)
	if len(cards) != 1 {
		t.Fatalf("in progress cards = %s", r.Body)
	}
	sh := cards[0].(map[string]any)["shoot"].(map[string]any)
	if sh["status"] != "onboarding" || sh["result_count"] != float64(0) || sh["retry_count"] != float64(1) || sh["completed_at"] != nil {
		t.Fatalf("reset shoot = %v", sh)
	}
	if !cards[0].(map[string]any)["retry"].(map[string]any)["pending"].(bool) {
		t.Fatal("card does not show the pending retry")
	}

	// The email: exact subject, to Ada, with the link and the advice.
	apptest.WaitFor(t, 10*time.Second, "retry email", func() bool { return app.Mailbox.Len() == 1 })
	msg := app.Mailbox.Messages()[0]
	if msg.Subject != "HeadshotPro | Please retry your shoot" {
		t.Fatalf("subject = %q", msg.Subject)
	}
	if len(msg.To) != 1 || msg.To[0] != "ada@acme.test" {
		t.Fatalf("to = %v", msg.To)
	}
	for _, want := range []string{"lighting", "plain background", "varied expressions"} {
		if !strings.Contains(strings.ToLower(msg.Text), want) {
			t.Errorf("email text lacks %q", want)
		}
	}
	link, token := apptest.LinkToken(t, msg.Text)
	if !strings.Contains(link, shootID) || !strings.Contains(msg.HTML, "token=") {
		t.Fatalf("link %q does not name the shoot", link)
	}
	apptest.WaitFor(t, 10*time.Second, "email status sent", func() bool {
		d := app.Do(t, "GET", "/api/v1/admin/members/"+memberID, key, nil).JSON(t)
		pr, _ := d["pending_retry"].(map[string]any)
		return pr != nil && pr["email"].(map[string]any)["status"] == "sent" && pr["email"].(map[string]any)["message_id"] == msg.ID
	})

	// The preview now shows the pending notice; a second give is refused.
	p = app.Do(t, "GET", "/api/v1/admin/members/"+memberID+"/retry-preview?shoot_id="+shootID, key, nil).JSON(t)
	if p["state"] != "pending_notice" || !strings.Contains(p["notice"].(string), "log in and start their photo shoot") || p["confirm_label"] != nil {
		t.Fatalf("pending preview = %v", p)
	}
	r = app.Do(t, "POST", "/api/v1/admin/members/"+memberID+"/retries", key, map[string]any{"shoot_id": shootID})
	if r.Status != 409 || r.JSON(t)["code"] != "retry_pending" || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/problem+json") {
		t.Fatalf("second give: %d %s", r.Status, r.Body)
	}

	// The workflow reports the pending stage.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var st workflows.RetryStatus
	v, err := app.Temporal.QueryWorkflow(ctx, workflows.RetryWorkflowID(shootID), "", workflows.QueryStatus)
	if err != nil {
		t.Fatalf("query: %v", err)
	}
	if err := v.Get(&st); err != nil || st.Stage != workflows.StagePending {
		t.Fatalf("status query = %+v, %v", st, err)
	}

	// The member starts with the link's token: started, workflow completed.
	r = app.Do(t, "POST", "/api/v1/member/shoots/"+shootID+"/start", token, nil)
	if r.Status != 200 || r.JSON(t)["retry"].(map[string]any)["status"] != "started" {
		t.Fatalf("start: %d %s", r.Status, r.Body)
	}
	var final workflows.RetryStatus
	if err := app.Temporal.GetWorkflow(ctx, workflows.RetryWorkflowID(shootID), "").Get(ctx, &final); err != nil || final.Stage != workflows.StageStarted {
		t.Fatalf("workflow result = %+v, %v", final, err)
	}

	// Submitting the retried shoot takes no credit.
	r = app.Do(t, "POST", "/api/v1/member/shoots/"+shootID+"/submit", token, nil)
	if r.Status != 200 || r.JSON(t)["credit_charged"] != false {
		t.Fatalf("submit: %d %s", r.Status, r.Body)
	}
	if bal := app.Do(t, "GET", "/api/v1/admin/organization", key, nil).JSON(t)["credit_balance"]; bal != float64(3) {
		t.Fatalf("credit_balance = %v, want 3 (untouched)", bal)
	}

	// The pipeline completes it; retrying the same shoot again is refused.
	r = app.Do(t, "POST", "/api/v1/internal/shoots/"+shootID+"/complete", app.PipelineToken, map[string]any{"result_count": 6})
	if r.Status != 200 || r.JSON(t)["shoot"].(map[string]any)["status"] != "active" {
		t.Fatalf("complete: %d %s", r.Status, r.Body)
	}
	r = app.Do(t, "POST", "/api/v1/admin/members/"+memberID+"/retries", key, map[string]any{"shoot_id": shootID})
	if r.Status != 409 || r.JSON(t)["code"] != "shoot_already_retried" {
		t.Fatalf("retry of a retried shoot: %d %s", r.Status, r.Body)
	}
	d := app.Do(t, "GET", "/api/v1/admin/members/"+memberID, key, nil).JSON(t)
	if d["pending_retry"] != nil || len(d["retries"].([]any)) != 1 {
		t.Fatalf("member detail after story = %v", d)
	}
	if n, err := app.DB.NewSelect().Table("audit_events").Where("org_id = ?", org.ID).Count(ctx); err != nil || n < 4 {
		t.Fatalf("audit events = %d, %v", n, err)
	}
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
