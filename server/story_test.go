package server_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/headshotpro/retryd/internal/domain"
	"github.com/headshotpro/retryd/internal/seed"
	"github.com/headshotpro/retryd/internal/tooling/apptest"
	"github.com/headshotpro/retryd/server"
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
	cards := cardsOf(t, app, key, "section=finished")
	if len(cards) != 1 {
		t.Fatalf("want 1 finished card, got %d", len(cards))
	}
	if got := cards[0].Actions; !slices.Equal(got, []string{"give_retry"}) {
		t.Fatalf("actions = %v, want [give_retry]", got)
	}
	if rc := cards[0].Shoot.ResultCount; rc != 8 {
		t.Fatalf("result_count = %d", rc)
	}

	// Preview: confirm with the help page's two effects and button label.
	r := previewRetry(t, app, key, memberID, shootID)
	p := expectJSON[server.PreviewDTO](t, r, 200)
	if p.State != "confirm" || str(p.ConfirmLabel) != "Delete results and retry" {
		t.Fatalf("preview = %s", r.Body)
	}
	if effects := p.Effects; !slices.Equal(effects, []string{"The member's shoot will be reset to onboarding.",
		"The member receives an email notification with a link to retry their shoot."}) {
		t.Fatalf("effects = %q", effects)
	}

	// Give: 201 with the retry, once the reset is committed.
	r = app.Do(t, "POST", "/api/v1/admin/members/"+memberID+"/retries", key, map[string]any{"shoot_id": shootID, "reason": "bad_lighting", "note": "too dark"})
	retry := expectJSON[server.RetryDTO](t, r, 201)
	if retry.Status != "pending" || retry.AllowanceUsed != "free_retry" || retry.ShootID != shootID ||
		str(retry.Note) != "too dark" || str(retry.Reason) != "bad_lighting" || retry.WorkflowID != workflows.RetryWorkflowID(shootID) {
		t.Fatalf("retry = %s", r.Body)
	}
	if r.Header.Get("X-Request-Id") == "" {
		t.Fatal("no X-Request-Id")
	}

	// Immediately In Progress, with results gone and the shoot back in onboarding.
	cards = cardsOf(t, app, key, "section=in_progress")
	if len(cards) != 1 {
		t.Fatalf("in progress cards = %+v", cards)
	}
	if sh := cards[0].Shoot; sh.Status != "onboarding" || sh.ResultCount != 0 || sh.RetryCount != 1 || sh.CompletedAt != nil {
		t.Fatalf("reset shoot = %+v", sh)
	}
	if !cards[0].Retry.Pending {
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
		d := memberDetail(t, app, key, memberID)
		pr := d.PendingRetry
		return pr != nil && pr.Email.Status == "sent" && str(pr.Email.MessageID) == msg.ID
	})

	// The preview now shows the pending notice; a second give is refused.
	p = expectJSON[server.PreviewDTO](t, previewRetry(t, app, key, memberID, shootID), 200)
	if p.State != "pending_notice" || !strings.Contains(str(p.Notice), "log in and start their photo shoot") || p.ConfirmLabel != nil {
		t.Fatalf("pending preview = %+v", p)
	}
	r = app.Do(t, "POST", "/api/v1/admin/members/"+memberID+"/retries", key, map[string]any{"shoot_id": shootID})
	if r.Status != 409 || codeOf(t, r) != "retry_pending" || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/problem+json") {
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
	if err := v.Get(&st); err != nil || st.Stage != domain.StagePending {
		t.Fatalf("status query = %+v, %v", st, err)
	}

	// The member starts with the link's token: started, workflow completed.
	r = app.Do(t, "POST", "/api/v1/member/shoots/"+shootID+"/start", token, nil)
	if a := expectJSON[startAnswer](t, r, 200); a.Retry == nil || a.Retry.Status != "started" {
		t.Fatalf("start: %d %s", r.Status, r.Body)
	}
	var final workflows.RetryStatus
	if err := app.Temporal.GetWorkflow(ctx, workflows.RetryWorkflowID(shootID), "").Get(ctx, &final); err != nil || final.Stage != domain.StageStarted {
		t.Fatalf("workflow result = %+v, %v", final, err)
	}

	// Submitting the retried shoot takes no credit.
	r = app.Do(t, "POST", "/api/v1/member/shoots/"+shootID+"/submit", token, nil)
	if expectJSON[startAnswer](t, r, 200).CreditCharged {
		t.Fatalf("submit: %d %s", r.Status, r.Body)
	}
	if bal := expectJSON[organization](t, app.Do(t, "GET", "/api/v1/admin/organization", key, nil), 200).CreditBalance; bal != 3 {
		t.Fatalf("credit_balance = %d, want 3 (untouched)", bal)
	}

	// The pipeline completes it; retrying the same shoot again is refused.
	r = app.Do(t, "POST", "/api/v1/internal/shoots/"+shootID+"/complete", app.PipelineToken, map[string]any{"result_count": 6})
	if expectJSON[shootAnswer](t, r, 200).Shoot.Status != "active" {
		t.Fatalf("complete: %d %s", r.Status, r.Body)
	}
	r = app.Do(t, "POST", "/api/v1/admin/members/"+memberID+"/retries", key, map[string]any{"shoot_id": shootID})
	if r.Status != 409 || codeOf(t, r) != "shoot_already_retried" {
		t.Fatalf("retry of a retried shoot: %d %s", r.Status, r.Body)
	}
	d := memberDetail(t, app, key, memberID)
	if d.PendingRetry != nil || len(d.Retries) != 1 {
		t.Fatalf("member detail after story = %+v", d)
	}
	if n, err := app.DB.NewSelect().Table("audit_events").Where("org_id = ?", org.ID).Count(ctx); err != nil || n < 4 {
		t.Fatalf("audit events = %d, %v", n, err)
	}
}
