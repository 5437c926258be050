package server_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	historypb "go.temporal.io/api/history/v1"

	"github.com/headshotpro/retryd/internal/domain"
	"github.com/headshotpro/retryd/internal/seed"
	"github.com/headshotpro/retryd/internal/tooling/apptest"
	"github.com/headshotpro/retryd/server"
	"github.com/headshotpro/retryd/workflows"
)

// givenRetry is the 201 of a give: the retry, and the access link when the member has
// no email address.
type givenRetry struct {
	server.RetryDTO
	AccessLink *string `json:"access_link"`
}

// sendsAndChecks counts a retry run's scheduled email sends and its local activities
// (the give, then the start checks).
func sendsAndChecks(h *historypb.History) (sends, localActivities int) {
	for _, ev := range h.Events {
		if a := ev.GetActivityTaskScheduledEventAttributes(); a != nil && a.GetActivityType().GetName() == "SendRetryEmail" {
			sends++
		}
		if m := ev.GetMarkerRecordedEventAttributes(); m != nil && m.GetMarkerName() == "LocalActivity" {
			localActivities++
		}
	}
	return sends, localActivities
}

// TestRetryOfMemberWithoutEmail: a managed member without an email address can be given
// a retry, and can then start it. No email can reach them, so the admin gets the access
// link in the answer (as a restart gives it), the email status says there is no address,
// the workflow sends nothing (no first email, no reminders) and a resend is refused.
func TestRetryOfMemberWithoutEmail(t *testing.T) {
	app := apptest.Start(t, apptest.Options{Reminders: []time.Duration{time.Millisecond}, StartCheck: time.Second})
	org := app.SeedOrg(t, 5,
		seed.Member{Name: "Nadia NoEmail", Kind: "managed", Shoots: []seed.Shoot{finished(5, 8)}},
	)
	member, shoots := seeded(org, 0)
	key := org.AdminKey

	// The preview says there is no address and the link is shown once, not that an email goes out.
	p := expectJSON[server.PreviewDTO](t, previewRetry(t, app, key, member, shoots[0]), 200)
	if p.State != "confirm" || !slices.Contains(p.Effects, helpEffectReset) || slices.Contains(p.Effects, helpEffectEmail) ||
		!slices.Contains(p.Effects, "The member has no email address, so no email is sent: the link to retry their shoot is shown to you once, to pass on to them.") {
		t.Fatalf("preview effects = %q", p.Effects)
	}

	// The 201 carries the access link and the email status says there is no address.
	idem := "Idempotency-Key"
	r := giveRetry(t, app, key, member, shoots[0], idem, "give-noemail-1")
	given := expectJSON[givenRetry](t, r, 201)
	if given.Email.Status != "not_applicable" || given.Status != "pending" {
		t.Fatalf("retry = %s", r.Body)
	}
	token := verifyLink(t, app, given.AccessLink, member, shoots[0])
	// The stored answer holds no link; a replay of the key signs one afresh.
	expectNoLink(t, storedAnswer(t, app, org.ID, "give-noemail-1"), token)
	r = giveRetry(t, app, key, member, shoots[0], idem, "give-noemail-1")
	replayed := expectJSON[givenRetry](t, r, 201)
	if r.Header.Get("Idempotent-Replayed") != "true" || replayed.ID != given.ID {
		t.Fatalf("replay = %d %s", r.Status, r.Body)
	}
	verifyLink(t, app, replayed.AccessLink, member, shoots[0])

	// Resend is refused with its own code, and nothing is audited as sent.
	path := "/api/v1/admin/members/" + member + "/retries/" + given.ID + "/resend-email"
	expectProblem(t, app.Do(t, "POST", path, key, nil), 422, "no_email_address")
	if n := countRows(t, app, "audit_events", "org_id = ? AND action = 'retry.resend_email'", org.ID); n != 0 {
		t.Fatalf("resend audits = %d, want 0", n)
	}

	// The run checks for a start (every second) and, the reminder being due after a
	// millisecond, would have sent it by then: it tried no send at all.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	wid := workflows.RetryWorkflowID(shoots[0])
	apptest.WaitFor(t, 20*time.Second, "a start check after the give", func() bool { _, n := sendsAndChecks(history(t, app.Temporal, wid, "")); return n >= 2 })
	if n, _ := sendsAndChecks(history(t, app.Temporal, wid, "")); n != 0 {
		t.Fatalf("the workflow scheduled %d sends for a member without an address", n)
	}
	// The member page lists the retry without the link: it was shown once, to the giver.
	if r := app.Do(t, "GET", "/api/v1/admin/members/"+member, key, nil); strings.Contains(string(r.Body), "token=") {
		t.Fatalf("the member page holds a link: %s", r.Body)
	}
	det := memberDetail(t, app, key, member)
	if len(det.Retries) != 1 || det.Retries[0].Email.Status != "not_applicable" || det.Retries[0].RemindersSent != 0 {
		t.Fatalf("member's retries = %+v", det.Retries)
	}

	// The member starts with the link: the retry is started and the workflow completes.
	r = app.Do(t, "POST", "/api/v1/member/shoots/"+shoots[0]+"/start", token, nil)
	if a := expectJSON[startAnswer](t, r, 200); a.Retry == nil || a.Retry.Status != "started" {
		t.Fatalf("start: %d %s", r.Status, r.Body)
	}
	var st workflows.RetryStatus
	if err := app.Temporal.GetWorkflow(ctx, wid, "").Get(ctx, &st); err != nil || st.Stage != domain.StageStarted || st.EmailsSent != 0 {
		t.Fatalf("retry workflow = %+v, %v", st, err)
	}
	if got := memberDetail(t, app, key, member).Retries[0]; got.Status != "started" || got.Email.Status != "not_applicable" {
		t.Fatalf("retry after start = %+v", got)
	}
	if app.Mailbox.Len() != 0 {
		t.Fatalf("mailbox holds %d messages, want none", app.Mailbox.Len())
	}
}
