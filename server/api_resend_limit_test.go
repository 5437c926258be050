package server_test

import (
	"context"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/headshotpro/retryd/internal/devserver"
	"github.com/headshotpro/retryd/internal/tooling/apptest"
	"github.com/headshotpro/retryd/internal/tooling/testenv"
	"github.com/headshotpro/retryd/server"
	"github.com/headshotpro/retryd/workflows"
)

// backdateEmails moves a retry's recorded emails back by d, as if they had gone out that
// long ago: the cooldown is measured from the last one.
func backdateEmails(t testing.TB, app *apptest.App, retryID string, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := app.DB.NewRaw(`UPDATE emails SET created_at = created_at - ?::interval, sent_at = sent_at - ?::interval WHERE subject_id = ?`,
		d.String(), d.String(), retryID).Exec(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestParallelResendsSendOneEmail: an admin's 40 resends of one retry at once, its first
// email two minutes back, send the member one more email; the other 39 are refused with
// 429 rate_limited and a Retry-After of the seconds left of the cooldown. The decision is
// the database's, so it holds across requests running at once (and across API processes).
func TestParallelResendsSendOneEmail(t *testing.T) {
	app := apptest.Start(t, apptest.Options{ResendCooldown: time.Minute})
	org := app.SeedOrg(t, 5, person("Pia Parallel", finished(5, 8)))
	id, shoots := seeded(org, 0)
	retryID := expectJSON[server.RetryDTO](t, giveRetry(t, app, org.AdminKey, id, shoots[0]), 201).ID
	apptest.WaitFor(t, 10*time.Second, "the retry email", func() bool { return app.Mailbox.Len() == 1 })
	backdateEmails(t, app, retryID, 2*time.Minute)

	const n = 40
	path := "/api/v1/admin/members/" + id + "/retries/" + retryID + "/resend-email"
	responses := concurrently(t, n, func(int) (*apptest.Response, error) {
		return doConcurrent(app, "POST", path, org.AdminKey, nil)
	})
	sent, limited := 0, 0
	for _, r := range responses {
		switch r.Status {
		case 200:
			sent++
		case 429:
			expectProblem(t, r, 429, "rate_limited")
			secs, err := strconv.Atoi(r.Header.Get("Retry-After"))
			if err != nil || secs < 1 || secs > 60 {
				t.Fatalf("Retry-After = %q, want the seconds left of a one-minute cooldown", r.Header.Get("Retry-After"))
			}
			limited++
		default:
			t.Fatalf("resend answered %d: %s", r.Status, r.Body)
		}
	}
	if sent != 1 || limited != n-1 {
		t.Fatalf("%d resends answered 200 and %d 429, want 1 and %d", sent, limited, n-1)
	}
	apptest.WaitFor(t, 10*time.Second, "the resent email", func() bool { return app.Mailbox.Len() >= 2 })
	apptest.Holds(t, 2*time.Second, "one email more than the first", func() bool { return app.Mailbox.Len() == 2 })
	if got := countRows(t, app, "emails", "subject_id = ?", retryID); got != 2 {
		t.Fatalf("emails recorded for the retry = %d, want 2", got)
	}
}

// TestResendRefusedWhileTheQueueIsFull: with the email queue paced at one a minute, an
// organization's four first emails wait behind the pace; at MAIL_QUEUE_PER_ORG=2 its
// resend is refused with 429 email_queue_full and nothing is queued.
func TestResendRefusedWhileTheQueueIsFull(t *testing.T) {
	app := apptest.Start(t, apptest.Options{MailRatePerMinute: 1, MailQueuePerOrg: 2})
	org := app.SeedOrg(t, 5, person("Quinn One", finished(5, 8)), person("Quinn Two", finished(5, 8)),
		person("Quinn Three", finished(5, 8)), person("Quinn Four", finished(5, 8)))
	var retryID, memberID string
	for i := range 4 {
		id, shoots := seeded(org, i)
		memberID, retryID = id, expectJSON[server.RetryDTO](t, giveRetry(t, app, org.AdminKey, id, shoots[0]), 201).ID
	}
	r := app.Do(t, "POST", "/api/v1/admin/members/"+memberID+"/retries/"+retryID+"/resend-email", org.AdminKey, nil)
	p := expectProblem(t, r, 429, "email_queue_full")
	if r.Header.Get("Retry-After") != "60" {
		t.Errorf("Retry-After = %q, want 60", r.Header.Get("Retry-After"))
	}
	if !strings.Contains(p.Detail, "at most 2 may wait") {
		t.Errorf("detail = %q, want the cap named", p.Detail)
	}
	if n := countRows(t, app, "email_resends", "subject_id = ?", retryID); n != 0 {
		t.Errorf("a refused resend left %d claims", n)
	}
}

// TestResendPageRefusalInWords: the member page's Resend email button, pressed right
// after the first email, answers the cooldown in words with the seconds left.
func TestResendPageRefusalInWords(t *testing.T) {
	app := apptest.Start(t, apptest.Options{ResendCooldown: time.Minute})
	org := app.SeedOrg(t, 5, person("Wren Words", finished(5, 8)))
	id, shoots := seeded(org, 0)
	retryID := expectJSON[server.RetryDTO](t, giveRetry(t, app, org.AdminKey, id, shoots[0]), 201).ID
	apptest.WaitFor(t, 10*time.Second, "the retry email", func() bool { return app.Mailbox.Len() == 1 })

	pc := newPageClient(t, app)
	if a := pc.signIn(org.AdminKey); a.Status != 303 {
		t.Fatalf("sign-in = %d", a.Status)
	}
	page := pc.do("GET", "/app/admin/members/"+id, nil)
	expectPage(t, page, 200, "Resend email")
	a := pc.do("POST", "/app/admin/members/"+id+"/retries/"+retryID+"/resend-email", url.Values{"csrf": {formField(t, page.Body, "csrf")}})
	expectPage(t, a, 429, "The email was not sent again", "An email was sent to this member less than a minute ago; try again in ")
	if !regexp.MustCompile(`try again in \d+ seconds?\.`).MatchString(a.Body) {
		t.Errorf("the refusal does not say how many seconds to wait:\n%s", a.Body)
	}
	if secs, err := strconv.Atoi(a.Header.Get("Retry-After")); err != nil || secs < 1 || secs > 60 {
		t.Errorf("page Retry-After = %q", a.Header.Get("Retry-After"))
	}
	apptest.Holds(t, time.Second, "no second email", func() bool { return app.Mailbox.Len() == 1 })
}

// TestResendNotAcceptedGivesItsClaimBack: a resend the workflow never accepted (here the
// Temporal server is down) sends nothing, so it neither starts the cooldown nor counts as
// a queued email. Before, its claim stayed for as long as the retry stayed pending: admins
// clicking resend through an outage pushed their organization toward email_queue_full.
func TestResendNotAcceptedGivesItsClaimBack(t *testing.T) {
	cli := testenv.TemporalCLI(t)
	devOpts := devserver.Options{CLIPath: cli, Headless: true, SearchAttributes: workflows.SearchAttributeNames}
	var servers []*devserver.Server
	t.Cleanup(func() { // registered before the app: servers stop after its worker and clients
		for _, s := range servers {
			_ = s.Stop()
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv, err := devserver.Start(ctx, devOpts)
	if err != nil {
		t.Fatalf("start dev server: %v", err)
	}
	servers = append(servers, srv)
	app := apptest.Start(t, apptest.Options{Temporal: srv, ResendCooldown: time.Minute, GiveTimeout: 3 * time.Second})
	org := app.SeedOrg(t, 5, person("Nora Notaccepted", finished(5, 8)))
	id, shoots := seeded(org, 0)
	r := expectJSON[server.RetryDTO](t, giveRetry(t, app, org.AdminKey, id, shoots[0]), 201)
	apptest.WaitFor(t, 10*time.Second, "the retry email", func() bool { return app.Mailbox.Len() == 1 })
	backdateEmails(t, app, r.ID, 2*time.Minute)

	_, portStr, _ := strings.Cut(srv.Address, ":")
	port, err := strconv.Atoi(portStr)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	res := app.Do(t, "POST", "/api/v1/admin/members/"+id+"/retries/"+r.ID+"/resend-email", org.AdminKey, nil)
	if res.Status == 200 || res.Status < 500 {
		t.Fatalf("a resend with Temporal down answered %d: %s", res.Status, res.Body)
	}
	var requested int
	if err := app.DB.NewRaw(`SELECT coalesce(sum(requested), 0) FROM email_resends WHERE subject_id = ?`, r.ID).Scan(ctx, &requested); err != nil {
		t.Fatal(err)
	}
	if requested != 0 {
		t.Errorf("resends still claimed after the workflow took none: %d", requested)
	}
	// Back on the same port, so the app's worker and clients stop cleanly.
	opts2 := devOpts
	opts2.Port = port
	if srv, err = devserver.Start(ctx, opts2); err != nil {
		t.Fatalf("restart dev server: %v", err)
	}
	servers = append(servers, srv)
}
