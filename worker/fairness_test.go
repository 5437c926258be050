package worker_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/headshotpro/retryd/internal/devserver"
	"github.com/headshotpro/retryd/internal/seed"
	"github.com/headshotpro/retryd/internal/tooling/apptest"
	"github.com/headshotpro/retryd/internal/tooling/testenv"
	"github.com/headshotpro/retryd/workflows"
)

// fairCase is one run of the ordering: organization A gives backlog retries at once, so
// their first emails queue up behind the pace; organization B then gives one retry.
type fairCase struct {
	backlog int // A's retries, one first email each
	rate    int // MAIL_RATE_PER_MINUTE
}

// fairOutcome is what the run saw: how many of A's emails were sent before B's, and when.
type fairOutcome struct {
	aBeforeB int
	bDelay   time.Duration // from B's give to B's email recorded sent
}

// TestEmailFairness: on a dev server started with fairness on (as `retryd dev` and
// production run it), organization A's backlog of 16 first emails, paced at 30 a minute,
// does not hold back organization B's first email given after it: B's email goes out
// while A still has at least half of its emails unsent. Both are first emails, on the
// same priority level, so it is the organization's fairness key that puts B ahead.
func TestEmailFairness(t *testing.T) {
	c := fairCase{backlog: 16, rate: 30}
	out := runFairCase(t, testenv.Temporal(t), c)
	t.Logf("fairness on: %d of A's %d emails before B's; B's email %s after its give", out.aBeforeB, c.backlog, out.bDelay.Round(time.Millisecond))
	if out.aBeforeB > c.backlog/2 {
		t.Fatalf("%d of A's %d emails went out before B's first email, want at most %d: one organization's backlog holds back another's", out.aBeforeB, c.backlog, c.backlog/2)
	}
}

// TestEmailQueueWithoutFairness is the control of TestEmailFairness: the same run on a
// dev server with fairness off. The queue is then first in, first out, and B's email
// waits behind more than half of A's backlog. It proves the run forms the backlog that
// the fairness test needs; without this, a pace too fast for any backlog would let the
// fairness test pass with fairness broken.
func TestEmailQueueWithoutFairness(t *testing.T) {
	srv := unfairServer(t)
	c := fairCase{backlog: 16, rate: 30}
	out := runFairCase(t, srv, c)
	t.Logf("fairness off: %d of A's %d emails before B's; B's email %s after its give", out.aBeforeB, c.backlog, out.bDelay.Round(time.Millisecond))
	if out.aBeforeB <= c.backlog/2 {
		t.Fatalf("without fairness only %d of A's %d emails went out before B's, want more than %d: the run forms no backlog, so TestEmailFairness proves nothing", out.aBeforeB, c.backlog, c.backlog/2)
	}
}

// runFairCase runs the service on srv with the email queue paced at c.rate, gives A's
// backlog, then B's retry, and waits for B's email. It reads the order from the emails'
// sent_at, written by the one worker's clock.
func runFairCase(t *testing.T, srv *devserver.Server, c fairCase) fairOutcome {
	t.Helper()
	app := apptest.Start(t, apptest.Options{GiveTimeout: time.Minute, MailRatePerMinute: c.rate, Temporal: srv})
	members := make([]seed.Member, c.backlog)
	for i := range members {
		members[i] = fairMember(fmt.Sprintf("Busy %d", i), fmt.Sprintf("busy-%d@a.test", i))
	}
	orgA := app.SeedOrg(t, c.backlog, members...)
	orgB := app.SeedOrg(t, 1, fairMember("Quiet One", "quiet@b.test"))
	l := app.Workflows()

	// A's gives, eight at a time; each returns once its retry is pending, and its first
	// email is scheduled on the email queue right after.
	work := make(chan seed.Member)
	errs := make(chan error, c.backlog)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for m := range work {
				if err := give(t.Context(), l, orgA, m); err != nil {
					errs <- err
				}
			}
		})
	}
	for _, m := range orgA.File.Organizations[0].Members {
		work <- m
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if sent := orgSent(t, app, orgA.ID, nil); sent > c.backlog/4 {
		t.Fatalf("%d of A's %d emails were sent before B gave its retry: the pace forms no backlog", sent, c.backlog)
	}

	b := orgB.File.Organizations[0].Members[0]
	given := time.Now()
	if err := give(t.Context(), l, orgB, b); err != nil {
		t.Fatal(err)
	}
	// Generous: without fairness B's email waits for the whole backlog at the pace.
	wait := time.Duration(float64(c.backlog+1)/float64(c.rate)*float64(time.Minute))*2 + time.Minute
	var bSent time.Time
	apptest.WaitFor(t, wait, "B's first email", func() bool {
		return app.DB.NewRaw(`SELECT e.sent_at FROM emails e JOIN retries r ON r.id = e.subject_id
			WHERE r.org_id = ? AND e.status = 'sent'`, orgB.ID).Scan(t.Context(), &bSent) == nil
	})
	return fairOutcome{aBeforeB: orgSent(t, app, orgA.ID, &bSent), bDelay: time.Since(given)}
}

func fairMember(name, email string) seed.Member {
	return seed.Member{Name: name, Email: apptest.Ptr(email), Kind: "individual",
		Shoots: []seed.Shoot{{Status: "active", CompletedAt: apptest.Ptr(time.Now().Add(-72 * time.Hour)), Results: 1}}}
}

// give gives m a retry as the API does (Update-with-Start), with the organization's id,
// which becomes the fairness key of its emails.
func give(ctx context.Context, l *workflows.Client, org *apptest.Org, m seed.Member) error {
	_, err := l.Retry(ctx, workflows.RetryInput{RetryID: uuid.NewString(), OrgID: org.ID, MemberID: m.ID,
		ShootID: m.Shoots[0].ID, Issue: workflows.Issue{IssuedByKind: "admin", IssuedBy: org.AdminID}}, "fair-"+m.ID)
	if err != nil {
		return fmt.Errorf("give %s: %w", m.Name, err)
	}
	return nil
}

// orgSent counts the organization's emails recorded sent, up to and including the time
// before (nil: all of them).
func orgSent(t *testing.T, app *apptest.App, orgID string, before *time.Time) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	q := app.DB.NewSelect().TableExpr("emails AS e").Join("JOIN retries AS r ON r.id = e.subject_id").
		Where("r.org_id = ?", orgID).Where("e.status = 'sent'")
	if before != nil {
		q = q.Where("e.sent_at < ?", *before)
	}
	n, err := q.Count(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return int(n)
}

// unfairServer starts a dev server of the test's own with fairness off, for the controls
// of the fairness tests, and stops it when the test ends.
func unfairServer(t *testing.T) *devserver.Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	srv, err := devserver.Start(ctx, devserver.Options{CLIPath: testenv.TemporalCLI(t), Headless: true,
		SearchAttributes: workflows.SearchAttributeNames, DynamicConfig: []string{"matching.enableFairness=false"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Stop(); err != nil {
			t.Errorf("stop the dev server: %v", err)
		}
	})
	return srv
}
