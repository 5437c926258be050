package server_test

import (
	"context"
	"testing"
	"time"

	"github.com/headshotpro/retryd/internal/tooling/apptest"
	"github.com/headshotpro/retryd/server"
)

// TestResendRetryEmail: a pending retry's email can be sent again; a started retry's not.
func TestResendRetryEmail(t *testing.T) {
	app := apptest.Start(t, apptest.Options{})
	org := app.SeedOrg(t, 5, person("Rae Resend", finished(5, 8)), person("Sol Other", finished(5, 8)))
	id, shoots := seeded(org, 0)
	otherID, _ := seeded(org, 1)
	key := org.AdminKey

	retryID := expectJSON[server.RetryDTO](t, giveRetry(t, app, key, id, shoots[0]), 201).ID
	path := "/api/v1/admin/members/" + id + "/retries/" + retryID + "/resend-email"
	apptest.WaitFor(t, 10*time.Second, "the retry email", func() bool { return app.Mailbox.Len() == 1 })
	first := app.Mailbox.Messages()[0]

	r := expectJSON[server.RetryDTO](t, app.Do(t, "POST", path, key, nil), 200)
	if r.ID != retryID || r.Status != "pending" {
		t.Fatalf("resend answer = %+v", r)
	}
	apptest.WaitFor(t, 10*time.Second, "the second email", func() bool { return app.Mailbox.Len() == 2 })
	second := app.Mailbox.Messages()[0] // newest first
	if second.ID == first.ID {
		t.Fatal("the mailbox's newest message is the first email")
	}
	if second.Subject != first.Subject || second.Subject != "HeadshotPro | Please retry your shoot" {
		t.Fatalf("subjects = %q, %q", first.Subject, second.Subject)
	}
	if len(second.To) != 1 || second.To[0] != "rae.resend@acme.test" {
		t.Fatalf("to = %v", second.To)
	}
	// The resent link works like the first one.
	_, token := apptest.LinkToken(t, second.Text)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if n, err := app.DB.NewSelect().Table("audit_events").Where("org_id = ? AND action = 'retry.resend_email'", org.ID).Count(ctx); err != nil || n != 1 {
		t.Fatalf("resend audit events = %d, %v", n, err)
	}

	// Not this member's retry, or no such retry: not found.
	expectProblem(t, app.Do(t, "POST", "/api/v1/admin/members/"+otherID+"/retries/"+retryID+"/resend-email", key, nil), 404, "not_found")
	expectProblem(t, app.Do(t, "POST", "/api/v1/admin/members/"+id+"/retries/"+randomUUID()+"/resend-email", key, nil), 404, "not_found")

	// Started: no more resends, no more emails.
	s := expectJSON[startAnswer](t, app.Do(t, "POST", "/api/v1/member/shoots/"+shoots[0]+"/start", token, nil), 200)
	if s.Retry == nil || s.Retry.Status != "started" {
		t.Fatalf("start = %+v", s)
	}
	expectProblem(t, app.Do(t, "POST", path, key, nil), 409, "retry_not_pending")
	apptest.Holds(t, 500*time.Millisecond, "no email after a refused resend", func() bool { return app.Mailbox.Len() == 2 })
}
