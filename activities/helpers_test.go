package activities_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/headshotpro/retryd/activities"
	"github.com/headshotpro/retryd/internal/devmailbox"
	"github.com/headshotpro/retryd/internal/domain"
	"github.com/headshotpro/retryd/internal/linktoken"
	"github.com/headshotpro/retryd/internal/mailer"
	"github.com/headshotpro/retryd/internal/seed"
	"github.com/headshotpro/retryd/internal/store"
	"github.com/headshotpro/retryd/internal/tooling/apptest"
	"github.com/headshotpro/retryd/internal/tooling/testenv"
)

const appBaseURL = "http://app.test"

// fixture is one fresh database, the local MailerSend endpoint reached over HTTP through
// the real mailer.Sender, and the activities registered in Temporal's activity test
// environment, so errors pass through the SDK's failure converter as they would on a
// worker.
type fixture struct {
	t       *testing.T
	ctx     context.Context
	db      *bun.DB
	dbURL   string
	mailbox *devmailbox.Mailbox
	links   *linktoken.Signer
	acts    *activities.Activities
	env     *testsuite.TestActivityEnvironment
	logs    *apptest.LogBuffer // what the activities logged through activity.GetLogger

	orgID, adminID string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	db, dbURL := testenv.Database(t)
	mb := devmailbox.New(0)
	srv := httptest.NewServer(http.StripPrefix("/dev/mailersend", mb.Handler()))
	t.Cleanup(srv.Close)

	links, err := linktoken.NewSigner([]byte("activities-test-secret-0123456789"), 30*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	acts := activities.New(db, newSender(t, srv.URL+"/dev/mailersend"), links, appBaseURL, 60*24*time.Hour, logger)

	f := &fixture{t: t, ctx: context.Background(), db: db, dbURL: dbURL, mailbox: mb, links: links, acts: acts, logs: &apptest.LogBuffer{}}
	f.env = f.newEnv()
	return f
}

// newEnv returns another activity environment for the same activities (an environment is
// not meant to run two activities at once).
func (f *fixture) newEnv() *testsuite.TestActivityEnvironment {
	s := &testsuite.WorkflowTestSuite{}
	s.SetLogger(tlog.NewStructuredLogger(slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	env := s.NewTestActivityEnvironment()
	env.RegisterActivity(f.acts)
	return env
}

func newSender(t *testing.T, localURL string) *mailer.Sender {
	t.Helper()
	s, err := mailer.NewSender(mailer.Config{LocalURL: localURL, From: mailer.Address{Email: "retries@headshotpro.test", Name: "HeadshotPro"}, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// useMailer points the activities at another MailerSend endpoint (a stub).
func (f *fixture) useMailer(localURL string) { f.acts.Mailer = newSender(f.t, localURL) }

// seedOrg loads one organization with the given members through seed.Load, filling in
// the ids the members and shoots leave out (in place, so the caller sees them).
func (f *fixture) seedOrg(ms ...*seed.Member) {
	f.t.Helper()
	f.orgID, f.adminID = uuid.NewString(), uuid.NewString()
	members := make([]seed.Member, len(ms))
	for i, m := range ms {
		if m.ID == "" {
			m.ID = uuid.NewString()
		}
		for j := range m.Shoots {
			if m.Shoots[j].ID == "" {
				m.Shoots[j].ID = uuid.NewString()
			}
		}
		members[i] = *m
	}
	file := &seed.File{Organizations: []seed.Organization{{
		ID: f.orgID, Name: "Org " + f.orgID[:8], CreditBalance: 10,
		Admins:  []seed.Admin{{ID: f.adminID, Email: "lead-" + f.orgID[:8] + "@example.test", Name: "Lee", Role: "owner"}},
		Members: members,
	}}}
	_, err := seed.Load(f.ctx, f.db, file)
	if err != nil {
		f.t.Fatal(err)
	}
}

// exec runs one activity and decodes its result into out (nil: no result).
func (f *fixture) exec(out any, fn any, args ...any) error {
	return execIn(f.env, out, fn, args...)
}

func execIn(env *testsuite.TestActivityEnvironment, out any, fn any, args ...any) error {
	val, err := env.ExecuteActivity(fn, args...)
	if err != nil {
		return err
	}
	if out != nil {
		return val.Get(out)
	}
	return nil
}

// must runs one activity that has to succeed.
func (f *fixture) must(out any, fn any, args ...any) {
	f.t.Helper()
	if err := f.exec(out, fn, args...); err != nil {
		f.t.Fatalf("f.exec(out, fn, args...): %v", err)
	}
}

// retryInput is the input the retry workflow gives ReserveRetry for a shoot.
func (f *fixture) retryInput(memberID, shootID string) activities.ReserveRetryInput {
	return activities.ReserveRetryInput{
		RetryID: uuid.NewString(), OrgID: f.orgID, MemberID: memberID, ShootID: shootID,
		Reason: "bad_lighting", WorkflowID: "retry-" + shootID,
		IssuedByKind: store.ActorAdmin, IssuedBy: f.adminID, RequestID: "req-" + shootID[:8],
	}
}

// managed is a managed member whose only shoot was deleted: eligible for a restart.
func managed(email *string) seed.Member {
	return seed.Member{Name: "Grace Hopper", Email: email, Kind: domain.KindManaged,
		Shoots: []seed.Shoot{{Status: domain.ShootDeleted, DeletedAt: ptr(time.Now().UTC().Add(-48 * time.Hour)), Results: 2}}}
}

func (f *fixture) restartInput(memberID string) activities.CreateRestartInput {
	return activities.CreateRestartInput{
		RestartID: uuid.NewString(), OrgID: f.orgID, MemberID: memberID, NewShootID: uuid.NewString(),
		WorkflowID: "restart-" + memberID, IssuedByKind: store.ActorAdmin, IssuedBy: f.adminID, RequestID: "req-restart",
	}
}

// pendingRetry reserves a retry and resets its shoot, as the workflow does before the
// first email.
func (f *fixture) pendingRetry(memberID, shootID string) string {
	f.t.Helper()
	in := f.retryInput(memberID, shootID)
	f.must(nil, f.acts.ReserveRetry, in)
	f.must(nil, f.acts.DeleteResults, in.RetryID)
	f.must(nil, f.acts.ResetShoot, in.RetryID)
	return in.RetryID
}

func (f *fixture) member(id string) *store.Member {
	f.t.Helper()
	m := new(store.Member)
	if err := f.db.NewSelect().Model(m).Where("id = ?", id).Scan(f.ctx); err != nil {
		f.t.Fatalf("%s: %v", "f.db.NewSelect().Model(m).Where(\"id = ?\", id).Scan(f.ctx)", err)
	}
	return m
}

func (f *fixture) shoot(id string) *store.Shoot {
	f.t.Helper()
	s, err := store.GetShoot(f.ctx, f.db, id)
	if err != nil {
		f.t.Fatal(err)
	}
	return s
}

func (f *fixture) retry(id string) *store.Retry {
	f.t.Helper()
	r, err := store.GetRetry(f.ctx, f.db, id)
	if err != nil {
		f.t.Fatal(err)
	}
	return r
}

func (f *fixture) restart(id string) *store.Restart {
	f.t.Helper()
	r, err := store.GetRestart(f.ctx, f.db, id)
	if err != nil {
		f.t.Fatal(err)
	}
	return r
}

// count runs a SELECT count(*) query.
func (f *fixture) count(query string, args ...any) int {
	f.t.Helper()
	var n int
	if err := f.db.NewRaw(query, args...).Scan(f.ctx, &n); err != nil {
		f.t.Fatalf("f.db.NewRaw(query, args...).Scan(f.ctx, &n): %v", err)
	}
	return n
}

func (f *fixture) emails(subjectID string) []store.Email {
	f.t.Helper()
	var es []store.Email
	if err := f.db.NewSelect().Model(&es).Where("subject_id = ?", subjectID).Order("seq").Scan(f.ctx); err != nil {
		f.t.Fatalf("%s: %v", "f.db.NewSelect().Model(&es).Where(\"subject_id = ?\", subjectID).Order(\"seq\").Scan(f.ctx)", err)
	}
	return es
}

// applicationError finds the *temporal.ApplicationError an activity failed with.
func applicationError(t *testing.T, err error) *temporal.ApplicationError {
	t.Helper()
	if err == nil {
		t.Fatalf("err = nil, want an error")
	}
	var ae *temporal.ApplicationError
	if !(errors.As(err, &ae)) {
		t.Fatalf("want a *temporal.ApplicationError in the chain, got %T: %v", err, err)
	}
	return ae
}

func ptr[T any](v T) *T { return &v }

// finishedShoot is a shoot completed a day ago with n results.
func finishedShoot(n int) seed.Shoot {
	return seed.Shoot{Status: domain.ShootActive, CompletedAt: ptr(time.Now().UTC().Add(-24 * time.Hour)), Results: n}
}

// stubProvider stands in for MailerSend answering with a fixed status; 202 accepts the
// message with a fresh X-Message-Id.
type stubProvider struct {
	mu       sync.Mutex
	status   int
	header   http.Header
	body     string
	requests int
	accepted []string
}

func newStubProvider(t *testing.T, status int, body string, header http.Header) (*stubProvider, string) {
	p := &stubProvider{status: status, body: body, header: header}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	return p, srv.URL
}

func (p *stubProvider) set(status int, body string, header http.Header) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.status, p.body, p.header = status, body, header
}

func (p *stubProvider) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.requests++
	for k, vs := range p.header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	if p.status == http.StatusAccepted {
		id := "stub" + strconv.Itoa(p.requests)
		p.accepted = append(p.accepted, id)
		w.Header().Set("X-Message-Id", id)
		w.WriteHeader(http.StatusAccepted)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(p.status)
	_, _ = io.WriteString(w, p.body)
}

func (p *stubProvider) counts() (requests, accepted int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.requests, len(p.accepted)
}

// waitForLockWaiters waits until n statements of this database wait on a lock.
func waitForLockWaiters(t *testing.T, f *fixture, n int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for f.count(`SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`) < n {
		if !time.Now().Before(deadline) {
			t.Fatalf("want %d statements waiting on a row lock", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
