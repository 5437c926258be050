package topology_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uptrace/bun"
	enumspb "go.temporal.io/api/enums/v1"

	"github.com/headshotpro/retryd/internal/devmailbox"
	"github.com/headshotpro/retryd/internal/linktoken"
	"github.com/headshotpro/retryd/internal/seed"
	"github.com/headshotpro/retryd/internal/store"
	"github.com/headshotpro/retryd/internal/tooling/faults"
	"github.com/headshotpro/retryd/internal/tooling/readiness"
	"github.com/headshotpro/retryd/internal/tooling/testenv"
	"github.com/headshotpro/retryd/internal/tooling/topology"
)

// reminders are short so a reminder falls due inside a test, and during the rolling
// restart: the first 6 s after the retry email, the second 20 s after it.
const reminders = "6s,20s"

// maxConns is each retryd process's Postgres pool. Tests of other packages share the
// machine's Postgres (max_connections 100) while these run: four processes at 8, and the
// Temporal server's pools (deploy/temporal.env), leave room for them.
const maxConns = 8

// The organizations, one per test so no test sees another's retries.
type orgs struct {
	story, kill, rolling, replicas, runbook *faults.Population
	// busy queues a backlog of first emails, quiet gives one retry behind it.
	busy, quiet *faults.Population
}

var (
	shared struct {
		once sync.Once
		tp   *topology.Topology
		db   *bun.DB
		orgs orgs
		err  error
	}
)

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.db != nil {
		shared.db.Close()
	}
	if shared.tp != nil {
		shared.tp.Close()
	}
	os.Exit(code)
}

// running starts the one production-shaped system the package's tests share (the server
// build, schema and boot cost a minute or more; every test has its own organization).
func running(t *testing.T) (*topology.Topology, *bun.DB, orgs) {
	t.Helper()
	cli := testenv.TemporalCLI(t)
	shared.once.Do(func() {
		testenv.Database(t) // Postgres answers, or the test skips (fails under CI)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
		defer cancel()
		dir, err := os.MkdirTemp("", "retryd-topology-")
		if err != nil {
			shared.err = err
			return
		}
		root, err := filepath.Abs("../../..")
		if err != nil {
			shared.err = err
			return
		}
		shared.tp, shared.err = topology.Start(ctx, topology.Options{Dir: dir, RepoRoot: root, TemporalCLI: cli,
			Env: []string{"RETRY_REMINDERS=" + reminders, "DATABASE_MAX_CONNS=" + strconv.Itoa(maxConns)}})
		if shared.err != nil {
			shared.err = fmt.Errorf("%w (logs in %s)", shared.err, dir)
			return
		}
		shared.orgs = orgs{story: newOrg("story", 3, 4), kill: newOrg("kill", 16, 0), rolling: newOrg("rolling", 6, 0),
			replicas: newOrg("replicas", 4, 0), runbook: newOrg("runbook", 1, 0),
			busy: newOrg("busy", fairBacklog, 0), quiet: newOrg("quiet", 1, 0)}
		f := &seed.File{}
		for _, o := range []*faults.Population{shared.orgs.story, shared.orgs.kill, shared.orgs.rolling, shared.orgs.replicas, shared.orgs.runbook,
			shared.orgs.busy, shared.orgs.quiet} {
			f.Organizations = append(f.Organizations, o.File.Organizations...)
		}
		if shared.err = shared.tp.Seed(ctx, f); shared.err != nil {
			return
		}
		shared.db, shared.err = store.Open(ctx, shared.tp.DatabaseURL)
	})
	if shared.err != nil {
		// Not a missing dependency: the server could not be built or started, which is
		// what these tests exist to find.
		t.Fatalf("production topology: %v", shared.err)
	}
	return shared.tp, shared.db, shared.orgs
}

// newOrg is one organization of faults.NewPopulation with addresses of its own domain,
// so each test counts only its own members' mail in the shared mailbox.
func newOrg(domain string, individuals, managed int) *faults.Population {
	o := faults.NewPopulation(1, individuals, managed)
	rename := func(addr string) string { return strings.Replace(addr, "@faults.test", "@"+domain+".test", 1) }
	for i := range o.Individuals {
		o.Individuals[i].Email = rename(o.Individuals[i].Email)
	}
	for i := range o.Managed {
		o.Managed[i].Email = rename(o.Managed[i].Email)
	}
	for _, org := range o.File.Organizations {
		for i, m := range org.Members {
			if m.Email != nil {
				e := rename(*m.Email)
				org.Members[i].Email = &e
			}
		}
		for i := range org.Admins {
			org.Admins[i].Email = rename(org.Admins[i].Email)
		}
	}
	return o
}

func client(tp *topology.Topology, i int) *faults.Client {
	return &faults.Client{BaseURL: tp.APIURLs[i%len(tp.APIURLs)], HTTP: &http.Client{Timeout: 30 * time.Second}, Deadline: 2 * time.Minute}
}

type retryAnswer struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	Stage  string `json:"stage"`
}

func give(ctx context.Context, t *testing.T, c *faults.Client, m faults.SeedMember, key string) retryAnswer {
	t.Helper()
	out := c.Do(ctx, faults.OpGive, []string{m.ID}, http.MethodPost, "/api/v1/admin/members/"+m.ID+"/retries",
		m.Org.AdminKey, key, map[string]string{"shoot_id": m.ShootID, "reason": "poor_quality"})
	if out.Status != http.StatusCreated {
		t.Fatalf("give %s via %s: status %d (%s) %s", m.ID, c.BaseURL, out.Status, out.Err, out.Body)
	}
	var r retryAnswer
	if err := json.Unmarshal(out.Body, &r); err != nil || r.ID == "" {
		t.Fatalf("give %s: answer %s: %v", m.ID, out.Body, err)
	}
	return r
}

// emailCounts is what the database recorded for one retry or restart: sent emails by kind.
func emailCounts(ctx context.Context, t *testing.T, db *bun.DB, subjectID string) map[string]int {
	t.Helper()
	var rows []struct {
		Kind string `bun:"kind"`
		N    int    `bun:"n"`
	}
	if err := db.NewRaw("SELECT kind, count(*) AS n FROM emails WHERE subject_id = ? AND status = 'sent' GROUP BY kind", subjectID).
		Scan(ctx, &rows); err != nil {
		t.Fatalf("email counts: %v", err)
	}
	out := map[string]int{}
	for _, r := range rows {
		out[r.Kind] = r.N
	}
	return out
}

// delivered reads the first API's mailbox (the one every worker sends to) and counts the
// messages to each address.
func delivered(ctx context.Context, t *testing.T, tp *topology.Topology) map[string]int {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, tp.APIURLs[0]+"/dev/mailbox", nil)
	req.Header.Set("Authorization", "Bearer "+tp.MailboxToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("mailbox: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("mailbox: status %d", resp.StatusCode)
	}
	var body struct {
		Messages []devmailbox.Message `json:"messages"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("mailbox: %v", err)
	}
	out := map[string]int{}
	for _, m := range body.Messages {
		for _, to := range m.To {
			out[to]++
		}
	}
	return out
}

// eventually polls check until it returns nil or d passes, then fails with its last error.
func eventually(t *testing.T, d time.Duration, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still not so after %s: %v", what, d, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func retryRow(ctx context.Context, t *testing.T, db *bun.DB, id string) (status string, remindersSent int, emailStatus string) {
	t.Helper()
	if err := db.NewRaw("SELECT status, reminders_sent, email_status FROM retries WHERE id = ?", id).
		Scan(ctx, &status, &remindersSent, &emailStatus); err != nil {
		t.Fatalf("retry %s: %v", id, err)
	}
	return
}

// TestStory is the product's path across the replicas: a retry given on one API, its
// email and first reminder, the member starting through the other API, and a bulk
// restart, with two workers sharing the task queue.
func TestStory(t *testing.T) {
	tp, db, o := running(t)
	ctx := t.Context()
	org := o.story
	m := org.Individuals[0]

	r := give(ctx, t, client(tp, 0), m, "story-give")
	if r.Status != "pending" {
		t.Fatalf("give answered status %q, want pending", r.Status)
	}
	eventually(t, time.Minute, "retry email and first reminder sent", func() error {
		if got := emailCounts(ctx, t, db, r.ID); got["initial"] != 1 || got["reminder"] < 1 {
			return fmt.Errorf("emails %v", got)
		}
		if n := delivered(ctx, t, tp)[m.Email]; n < 2 {
			return fmt.Errorf("%d messages to %s", n, m.Email)
		}
		return nil
	})

	// The member opens the emailed link; the landing page calls the second API.
	links, err := linktoken.NewSigner([]byte(tp.LinkSecret), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	token, _ := links.Issue(m.ID, m.ShootID, time.Now())
	start := client(tp, 1).Do(ctx, faults.OpStart, []string{m.ID}, http.MethodPost, "/api/v1/member/shoots/"+m.ShootID+"/start", token, "", nil)
	if start.Status/100 != 2 {
		t.Fatalf("member start: %d %s", start.Status, start.Body)
	}
	eventually(t, time.Minute, "retry workflow completed", func() error {
		d, err := tp.Client().DescribeWorkflow(ctx, "retry-"+m.ShootID, "")
		if err != nil {
			return err
		}
		if s := d.Status; s != enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED {
			return fmt.Errorf("workflow %s", s)
		}
		return nil
	})
	status, sent, _ := retryRow(ctx, t, db, r.ID)
	if status != "started" {
		t.Fatalf("retry status %q after the start, want started", status)
	}
	if got := emailCounts(ctx, t, db, r.ID)["reminder"]; got != sent {
		t.Fatalf("reminders_sent %d but %d reminder emails recorded", sent, got)
	}

	// A bulk restart of the managed members, sent to the second API.
	var ids []string
	for _, mm := range org.Managed {
		ids = append(ids, mm.ID)
	}
	bulk := client(tp, 1).Do(ctx, faults.OpBulkRestart, ids, http.MethodPost, "/api/v1/admin/restarts", org.Orgs[0].AutomationKey, "story-bulk",
		map[string]any{"member_ids": ids})
	if bulk.Status/100 != 2 {
		t.Fatalf("bulk restart: %d %s", bulk.Status, bulk.Body)
	}
	eventually(t, time.Minute, "every managed member's restart pending and emailed where it has an address", func() error {
		for _, mm := range org.Managed {
			var status, email string
			if err := db.NewRaw("SELECT status, email_status FROM restarts WHERE member_id = ?", mm.ID).Scan(ctx, &status, &email); err != nil {
				return fmt.Errorf("restart of %s: %v", mm.ID, err)
			}
			want := "not_applicable"
			if mm.Email != "" {
				want = "sent"
			}
			if status != "pending" || email != want {
				return fmt.Errorf("restart of %s: status %s, email %s (want pending, %s)", mm.ID, status, email, want)
			}
		}
		return nil
	})
}

// fairBacklog is how many first emails the busy organization queues in
// TestEmailFairnessOnTheFullServer: 32 seconds of the default pace.
const fairBacklog = 32

// TestEmailFairnessOnTheFullServer: on the full Temporal server with
// deploy/temporal-dynamic-config.yaml (fairness on the email queue, its four partitions),
// one organization's backlog of first emails, queued at the default pace of 60 a minute,
// does not hold back another organization's first email given after it: that email goes
// out while at least half of the backlog still waits.
func TestEmailFairnessOnTheFullServer(t *testing.T) {
	tp, db, o := running(t)
	ctx := t.Context()
	var wg sync.WaitGroup
	for i, m := range o.busy.Individuals {
		wg.Go(func() {
			out := client(tp, i).Do(ctx, faults.OpGive, []string{m.ID}, http.MethodPost, "/api/v1/admin/members/"+m.ID+"/retries",
				m.Org.AdminKey, "busy-"+m.ID, map[string]string{"shoot_id": m.ShootID, "reason": "poor_quality"})
			if out.Status != http.StatusCreated {
				t.Errorf("give %d: %d (%s) %s", i, out.Status, out.Err, out.Body)
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	busyOrg := o.busy.Orgs[0].ID
	sentOf := func(before *time.Time) int {
		q := db.NewSelect().TableExpr("emails AS e").Join("JOIN retries AS r ON r.id = e.subject_id").
			Where("r.org_id = ?", busyOrg).Where("e.status = 'sent'").Where("e.kind = 'initial'")
		if before != nil {
			q = q.Where("e.sent_at < ?", *before)
		}
		// Not the test's context: the cleanup below counts too, after that is canceled.
		n, err := q.Count(context.WithoutCancel(ctx))
		if err != nil {
			t.Fatal(err)
		}
		return int(n)
	}
	// The topology is shared with the tests after this one: leave its email queue as it
	// was found, with the backlog sent, so theirs do not wait behind it (at the default
	// pace that is half a minute).
	t.Cleanup(func() {
		eventually(t, 2*time.Minute, "the busy organization's backlog sent", func() error {
			if n := sentOf(nil); n < fairBacklog {
				return fmt.Errorf("%d of %d sent", n, fairBacklog)
			}
			return nil
		})
	})
	atGive := sentOf(nil)
	if atGive > fairBacklog/4 {
		t.Fatalf("%d of the busy organization's %d first emails were sent before the quiet one gave: no backlog formed", atGive, fairBacklog)
	}
	r := give(ctx, t, client(tp, 1), o.quiet.Individuals[0], "quiet-give")
	var sent time.Time
	eventually(t, 2*time.Minute, "the quiet organization's first email sent", func() error {
		return db.NewRaw("SELECT sent_at FROM emails WHERE subject_id = ? AND seq = 0 AND status = 'sent'", r.ID).Scan(ctx, &sent)
	})
	before := sentOf(&sent)
	t.Logf("%d of the busy organization's %d first emails went out before the quiet one's (%d before its give)", before, fairBacklog, atGive)
	if before > fairBacklog/2 {
		t.Fatalf("%d of the busy organization's %d first emails went out before the quiet one's, want at most %d: the email queue is not fair", before, fairBacklog, fairBacklog/2)
	}
}

// TestWorkerKilledMidRun kills one worker with SIGKILL while gives arrive on both APIs:
// the other worker carries every workflow on, and each give gets its one retry and email.
func TestWorkerKilledMidRun(t *testing.T) {
	tp, db, o := running(t)
	ctx := t.Context()
	org := o.kill

	var wg sync.WaitGroup
	answers := make([]retryAnswer, len(org.Individuals))
	for i, m := range org.Individuals {
		wg.Go(func() {
			out := client(tp, i).Do(ctx, faults.OpGive, []string{m.ID}, http.MethodPost, "/api/v1/admin/members/"+m.ID+"/retries",
				m.Org.AdminKey, "kill-"+m.ID, map[string]string{"shoot_id": m.ShootID, "reason": "poor_quality"})
			if out.Status == http.StatusCreated {
				_ = json.Unmarshal(out.Body, &answers[i])
			} else {
				t.Errorf("give %d: %d (%s) %s", i, out.Status, out.Err, out.Body)
			}
		})
		if i == 4 {
			tp.Workers[0].Kill9()
		}
	}
	wg.Wait()
	t.Cleanup(func() {
		if err := tp.StartWorker(context.WithoutCancel(ctx), 0); err != nil {
			t.Errorf("restart worker1: %v", err)
		}
	})
	if t.Failed() {
		return
	}
	eventually(t, time.Minute, "every retry pending with its email sent", func() error {
		for i, a := range answers {
			status, _, email := retryRow(ctx, t, db, a.ID)
			if status != "pending" || email != "sent" {
				return fmt.Errorf("give %d: status %s, email %s", i, status, email)
			}
		}
		return nil
	})
	var retries int
	if err := db.NewRaw("SELECT count(*) FROM retries r JOIN members m ON m.id = r.member_id WHERE m.org_id = ?",
		org.Orgs[0].ID).Scan(ctx, &retries); err != nil {
		t.Fatal(err)
	}
	if retries != len(org.Individuals) {
		t.Fatalf("%d retries for %d gives", retries, len(org.Individuals))
	}
	got := delivered(ctx, t, tp)
	for _, m := range org.Individuals {
		// At least once: a worker killed between the provider's answer and the write of the
		// message id sends that one email again, the window the design accepts.
		if got[m.Email] < 1 {
			t.Errorf("no email reached %s", m.Email)
		}
	}
}

// TestRollingRestart restarts both workers one after the other while retries wait for
// their reminders: nothing is lost and every reminder goes out exactly once.
func TestRollingRestart(t *testing.T) {
	tp, db, o := running(t)
	ctx := t.Context()
	org := o.rolling

	var ids []string
	for i, m := range org.Individuals {
		ids = append(ids, give(ctx, t, client(tp, i), m, "rolling-"+m.ID).ID)
	}
	for i := range tp.Workers {
		tp.Workers[i].Stop() // SIGTERM: the graceful stop a deploy does
		if err := tp.StartWorker(ctx, i); err != nil {
			t.Fatalf("start %s again: %v", tp.Workers[i].Name, err)
		}
	}
	eventually(t, 2*time.Minute, "both reminders sent for every retry", func() error {
		for _, id := range ids {
			if _, sent, _ := retryRow(ctx, t, db, id); sent != 2 {
				return fmt.Errorf("retry %s: %d reminders sent", id, sent)
			}
		}
		return nil
	})
	got := delivered(ctx, t, tp)
	for i, id := range ids {
		if c := emailCounts(ctx, t, db, id); c["initial"] != 1 || c["reminder"] != 2 || c["resend"] != 0 {
			t.Errorf("retry %s: sent emails %v, want one initial and two reminders", id, c)
		}
		if n := got[org.Individuals[i].Email]; n != 3 {
			t.Errorf("%s received %d messages, want 3 (the retry email and two reminders)", org.Individuals[i].Email, n)
		}
	}
}

// TestAcrossReplicas covers what one process could get right alone: the same
// Idempotency-Key arriving on both APIs at once gives one retry, and the pending gauge,
// a count of the shared database, reads the same on every replica.
func TestAcrossReplicas(t *testing.T) {
	tp, db, o := running(t)
	ctx := t.Context()
	org := o.replicas
	for _, m := range org.Individuals {
		var wg sync.WaitGroup
		var got [2]faults.Outcome
		for i := range 2 {
			wg.Go(func() {
				got[i] = client(tp, i).Do(ctx, faults.OpGive, []string{m.ID}, http.MethodPost, "/api/v1/admin/members/"+m.ID+"/retries",
					m.Org.AdminKey, "replicas-"+m.ID, map[string]string{"shoot_id": m.ShootID, "reason": "poor_quality"})
			})
		}
		wg.Wait()
		var a, b retryAnswer
		_ = json.Unmarshal(got[0].Body, &a)
		_ = json.Unmarshal(got[1].Body, &b)
		if got[0].Status != http.StatusCreated || got[1].Status != http.StatusCreated || a.ID == "" || a.ID != b.ID {
			t.Errorf("one key on both APIs: %d %s / %d %s, want 201 twice with one retry", got[0].Status, got[0].Body, got[1].Status, got[1].Body)
		}
		var n int
		if err := db.NewRaw("SELECT count(*) FROM retries WHERE shoot_id = ?", m.ShootID).Scan(ctx, &n); err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Errorf("shoot %s: %d retries", m.ShootID, n)
		}
	}

	var want int
	if err := db.NewRaw("SELECT count(*) FROM retries WHERE status = 'pending'").Scan(ctx, &want); err != nil {
		t.Fatal(err)
	}
	pending := regexp.MustCompile(`(?m)^retryd_pending_retries (\d+)`)
	for _, u := range tp.APIMetricsURLs {
		// Every replica reports the whole database's count, so a dashboard aggregates
		// this gauge with max (docs/operations.md), never sum. The count is refreshed
		// every 15 s, not at the scrape, so it may lag the database by one refresh.
		var n int
		err := readiness.Wait(ctx, time.Minute, u+" pending retries", func(ctx context.Context) error {
			mm := pending.FindStringSubmatch(get(ctx, t, u+"/metrics"))
			if mm == nil {
				return fmt.Errorf("%s/metrics has no retryd_pending_retries", u)
			}
			if n, _ = strconv.Atoi(mm[1]); n < want-1 || n > want+1 {
				return fmt.Errorf("%s reports %d pending retries; the database has %d", u, n, want)
			}
			return nil
		})
		if err != nil {
			t.Error(err)
		}
	}
}

// TestSignInAcrossReplicas: an admin signed in on one API is signed in on the other (the
// session and its CSRF token are rows in Postgres, not process memory), and a form sent
// to the second API with the first one's token is accepted.
func TestSignInAcrossReplicas(t *testing.T) {
	tp, _, o := running(t)
	ctx := t.Context()
	noRedirect := &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	// The sign-in form's token is a cookie set with the form (double submit).
	login := tp.APIURLs[0] + "/app/login"
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, login, nil)
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var loginCSRF string
	for _, c := range resp.Cookies() {
		if c.Name == "retryd_login" {
			loginCSRF = c.Value
		}
	}
	if loginCSRF == "" {
		t.Fatalf("GET /app/login set no retryd_login cookie")
	}
	form := url.Values{"csrf": {loginCSRF}, "api_key": {o.replicas.Orgs[0].AdminKey}, "next": {"/app/admin/headshots"}}
	req, _ = http.NewRequestWithContext(ctx, http.MethodPost, login, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(&http.Cookie{Name: "retryd_login", Value: loginCSRF})
	resp, err = noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var session *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "retryd_session" {
			session = c
		}
	}
	if resp.StatusCode != http.StatusSeeOther || session == nil {
		t.Fatalf("sign in on %s: %d, session cookie %v", tp.APIURLs[0], resp.StatusCode, session)
	}

	req, _ = http.NewRequestWithContext(ctx, http.MethodGet, tp.APIURLs[1]+"/app/admin/headshots", nil)
	req.AddCookie(session)
	resp, err = noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("the other API answered the signed-in page with %d (a redirect to sign in means the session lives in one process)", resp.StatusCode)
	}
	token := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindSubmatch(page)
	if token == nil {
		t.Fatalf("the signed-in page has no CSRF field")
	}
	// Sign out on the second API with the session's CSRF token: the form is accepted.
	out := url.Values{"csrf": {string(token[1])}}
	req, _ = http.NewRequestWithContext(ctx, http.MethodPost, tp.APIURLs[1]+"/app/logout", strings.NewReader(out.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(session)
	resp, err = noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || !strings.Contains(resp.Header.Get("Location"), "signed_out") {
		t.Fatalf("sign out on the other API: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// TestRunbookQueries runs the operator's Temporal CLI commands of docs/operations.md, and
// the HTTP API the Temporal UI reads, against this server: the search attributes
// registered by the compose setup script and the SQL visibility store answer them.
func TestRunbookQueries(t *testing.T) {
	tp, _, o := running(t)
	ctx := t.Context()
	org := o.runbook
	m := org.Individuals[0]
	give(ctx, t, client(tp, 1), m, "runbook")
	orgID := org.Orgs[0].ID
	cli := testenv.TemporalCLI(t)
	temporal := func(args ...string) string {
		cmd := exec.CommandContext(ctx, cli, append(args, "--address", tp.TemporalAddr)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("temporal %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	wid := "retry-" + m.ShootID
	for _, q := range []string{
		fmt.Sprintf("OrgId='%s' AND RetryStage='pending'", orgID),
		fmt.Sprintf("MemberId='%s'", m.ID),
		fmt.Sprintf("ShootId='%s'", m.ShootID),
		"WorkflowType='RetryWorkflow' AND RetryStage='pending' AND StartTime > '2020-01-01T00:00:00Z'",
	} {
		eventually(t, 30*time.Second, "workflow list --query "+q, func() error {
			if out := temporal("workflow", "list", "--query", q); !strings.Contains(out, wid) {
				return fmt.Errorf("%s not listed:\n%s", wid, out)
			}
			return nil
		})
	}
	// The Temporal UI reads the frontend's HTTP API; the same list answers there.
	q := url.Values{"query": {fmt.Sprintf("OrgId='%s' AND RetryStage='pending'", orgID)}}
	if body := get(ctx, t, tp.TemporalHTTP+"/api/v1/namespaces/default/workflows?"+q.Encode()); !strings.Contains(body, wid) {
		t.Errorf("the frontend's HTTP API (what the UI reads) does not list %s: %s", wid, body)
	}
	if out := temporal("workflow", "query", "--workflow-id", wid, "--name", "status"); !strings.Contains(out, "pending") {
		t.Errorf("status query: %s", out)
	}
	if out := temporal("workflow", "describe", "--workflow-id", wid); !strings.Contains(out, "RetryWorkflow") || !strings.Contains(out, `RetryStage:`) {
		t.Errorf("describe: %s", out)
	}
}

func get(ctx context.Context, t *testing.T, url string) string {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	return string(b)
}
