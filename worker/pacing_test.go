package worker_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/headshotpro/retryd/internal/devmailbox"
	"github.com/headshotpro/retryd/internal/seed"
	"github.com/headshotpro/retryd/internal/tooling/apptest"
	"github.com/headshotpro/retryd/workflows"
)

// Environment of the full measurement (scripts/email-drain.sh); unset, the test runs its
// small case.
const (
	envDrainEmails = "RETRYD_DRAIN_EMAILS"   // how many retries, each with one email
	envDrainRate   = "RETRYD_DRAIN_RATE"     // MAIL_RATE_PER_MINUTE of the worker
	envDrainLimit  = "RETRYD_DRAIN_LIMIT"    // what the local endpoint accepts per window
	envDrainWindow = "RETRYD_DRAIN_WINDOW_S" // the window, in seconds
)

// drainCase is one drain: n emails fall due at once, the worker paces them at rate a
// minute, and the local endpoint accepts limit per window and answers the rest 429.
type drainCase struct {
	n, rate, limit, windowS int
	// most429 is the most 429s the case accepts: a handful, from the server's small
	// dispatch burst meeting a window, never one per email.
	most429 int
}

// TestEmailsDrainAtTheConfiguredRate gives many retries at once, so their first emails are
// due together, against a local endpoint that refuses sends above its limit. Paced by the
// email queue (MAIL_RATE_PER_MINUTE below the limit), every email is delivered and the
// endpoint refuses few, if any; unpaced, nearly every email past the first window would
// meet a 429. The small case: 30 emails at 240 a minute against 16 per 2 s (480 a minute).
// It asserts what was delivered and refused, never how long it took.
func TestEmailsDrainAtTheConfiguredRate(t *testing.T) {
	c := drainCase{n: 30, rate: 240, limit: 16, windowS: 2, most429: 5}
	if v := os.Getenv(envDrainEmails); v != "" {
		c = drainCase{n: atoi(t, v), rate: atoi(t, os.Getenv(envDrainRate)), limit: atoi(t, os.Getenv(envDrainLimit)), windowS: 60, most429: 10}
		if w := os.Getenv(envDrainWindow); w != "" {
			c.windowS = atoi(t, w)
		}
	}
	app := apptest.Start(t, apptest.Options{GiveTimeout: time.Minute, MailRatePerMinute: c.rate})
	if err := app.Mailbox.SetFault(devmailbox.Fault{RateLimit: c.limit, WindowS: c.windowS}); err != nil {
		t.Fatal(err)
	}
	members := make([]seed.Member, c.n)
	for i := range members {
		members[i] = seed.Member{Name: fmt.Sprintf("Drain %d", i), Email: apptest.Ptr(fmt.Sprintf("drain-%d@acme.test", i)), Kind: "individual",
			Shoots: []seed.Shoot{{Status: "active", CompletedAt: apptest.Ptr(time.Now().Add(-72 * time.Hour)), Results: 1}}}
	}
	org := app.SeedOrg(t, c.n, members...)

	// The retries are launched as the API launches them (Update-with-Start), eight at a
	// time, so their emails queue up faster than the rate lets them out.
	start := time.Now()
	l := app.Workflows()
	work := make(chan seed.Member)
	errs := make(chan error, c.n)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for m := range work {
				_, err := l.Retry(t.Context(), workflows.RetryInput{RetryID: uuid.NewString(), OrgID: org.ID, MemberID: m.ID,
					ShootID: m.Shoots[0].ID, Issue: workflows.Issue{IssuedByKind: "admin", IssuedBy: org.AdminID}}, "drain-"+m.ID)
				if err != nil {
					errs <- fmt.Errorf("give %s: %w", m.Name, err)
				}
			}
		})
	}
	for _, m := range org.File.Organizations[0].Members {
		work <- m
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	launched := time.Since(start)

	// Generous: the drain itself takes n/rate minutes; the rest is a loaded machine's slack.
	wait := time.Duration(float64(c.n)/float64(c.rate)*float64(time.Minute))*2 + 2*time.Minute
	apptest.WaitFor(t, wait, "every email sent", func() bool { return sentEmails(t, app) == c.n })
	drained := time.Since(start)
	refused := app.Mailbox.Fault().Limited
	var first, last time.Time
	if err := app.DB.NewRaw(`SELECT min(sent_at), max(sent_at) FROM emails WHERE status = 'sent'`).Scan(t.Context(), &first, &last); err != nil {
		t.Fatal(err)
	}
	span := last.Sub(first)
	achieved := 0.0
	if span > 0 {
		achieved = float64(c.n-1) / span.Minutes()
	}
	t.Logf("emails=%d rate=%d/min limit=%d/%ds: launched in %s, drained in %s (first to last send %s, %.1f/min), 429s=%d",
		c.n, c.rate, c.limit, c.windowS, launched.Round(time.Millisecond), drained.Round(time.Millisecond), span.Round(time.Millisecond), achieved, refused)
	if app.Mailbox.Len() < min(c.n, devmailbox.DefaultCapacity) {
		t.Fatalf("the mailbox holds %d messages, want %d", app.Mailbox.Len(), c.n)
	}
	if refused > c.most429 {
		t.Fatalf("the endpoint refused %d sends, want at most %d: the email queue is not paced", refused, c.most429)
	}
}

func sentEmails(t *testing.T, app *apptest.App) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	n, err := app.DB.NewSelect().Table("emails").Where("status = 'sent'").Count(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return int(n)
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		t.Fatalf("want a positive whole number, got %q", s)
	}
	return int(n)
}
