package activities_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	neturl "net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/headshotpro/retryd/activities"
	"github.com/headshotpro/retryd/internal/domain"
	"github.com/headshotpro/retryd/internal/store"
	"github.com/headshotpro/retryd/internal/tooling/assert"
	"github.com/headshotpro/retryd/internal/tooling/querycount"
	"github.com/headshotpro/retryd/internal/tooling/testenv"
	"github.com/headshotpro/retryd/workflows"
)

// blinkApp names the activities' connections, so the blink ends theirs and no one else's.
const blinkApp = "retryd-blink-test"

// sendEmailOnce runs the send activity the way the retry workflow does: on a real
// worker, retried by the Temporal server with backoff for as long as it fails. The
// intervals are short so the test does not wait on them.
func sendEmailOnce(ctx workflow.Context, in activities.SendEmailInput) (activities.SendEmailResult, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 10 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: 100 * time.Millisecond, BackoffCoefficient: 2, MaximumInterval: 500 * time.Millisecond,
		},
	})
	var res activities.SendEmailResult
	err := workflow.ExecuteActivity(ctx, workflows.ActivitySendRetryEmail, in).Get(ctx, &res)
	return res, err
}

// MailerSend takes no idempotency key: once it accepted a message, only the activity can
// remember that it is out. Here the database goes away right after the provider accepted
// the first email and before the worker heard so; recording the message id fails, the
// Temporal server retries the activity while the database is away and after it is back,
// and the member must still get one email, recorded with its id.
func TestEmailAcceptedThenDatabaseBlinksSendsOnce(t *testing.T) {
	srv := testenv.Temporal(t)
	f := newFixture(t)
	m := ada(finishedShoot(1))
	f.seedOrg(&m)
	retryID := f.pendingRetry(m.ID, m.Shoots[0].ID)

	// The activities get a pool of their own, named, so the blink ends its connections.
	u, err := neturl.Parse(f.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("application_name", blinkApp)
	u.RawQuery = q.Encode()
	actsDB, err := store.Open(f.ctx, u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = actsDB.Close() })
	blink := newDatabaseBlink(t, strings.TrimPrefix(u.Path, "/"))

	// The local endpoint, with one addition: right after it accepts the first message,
	// before its answer leaves, the database goes away.
	var once sync.Once
	blinked := make(chan struct{})
	endpoint := httptest.NewServer(http.StripPrefix("/dev/mailersend", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		f.mailbox.Handler().ServeHTTP(rec, r)
		if rec.Code == http.StatusAccepted {
			once.Do(func() { blink.down(); close(blinked) })
		}
		for k, vs := range rec.Header() {
			w.Header()[k] = vs
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	})))
	t.Cleanup(endpoint.Close)
	acts := *f.acts
	acts.DB, acts.Mailer = actsDB, newSender(t, endpoint.URL+"/dev/mailersend")

	quiet := tlog.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))
	tc, err := client.Dial(client.Options{HostPort: srv.Address, Namespace: srv.Namespace, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tc.Close)
	queue := "blink-" + uuid.NewString()
	w := sdkworker.New(tc, queue, sdkworker.Options{})
	w.RegisterActivityWithOptions(acts.SendRetryEmail, activity.RegisterOptions{Name: workflows.ActivitySendRetryEmail})
	w.RegisterWorkflowWithOptions(sendEmailOnce, workflow.RegisterOptions{Name: "SendEmailOnce"})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)

	ctx, cancel := context.WithTimeout(f.ctx, 2*time.Minute)
	defer cancel()
	wid := "blink-" + retryID
	run, err := tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: wid, TaskQueue: queue}, "SendEmailOnce",
		activities.SendEmailInput{SubjectID: retryID, Seq: 0, Kind: domain.EmailKindInitial})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-blinked:
	case <-ctx.Done():
		t.Fatalf("the endpoint never accepted the email")
	}
	// Keep the database away until an attempt after the first has failed too: the
	// retries meet the outage, not only the attempt that sent.
	var attempt int32
	var details [][]byte
	for attempt < 3 {
		d, err := tc.DescribeWorkflow(ctx, wid, "")
		if err != nil {
			t.Fatal(err)
		}
		if pa := d.RawResponse.GetPendingActivities(); len(pa) == 1 {
			attempt = pa[0].GetAttempt()
			details = nil
			for _, p := range pa[0].GetHeartbeatDetails().GetPayloads() {
				details = append(details, p.GetData())
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the activity reached attempt %d, want 3 while the database is away", attempt)
		case <-time.After(50 * time.Millisecond):
		}
	}
	blink.up()

	var res activities.SendEmailResult
	if err := run.Get(ctx, &res); err != nil {
		t.Fatalf("the workflow: %v", err)
	}
	msgs := f.mailbox.Messages()
	if len(msgs) != 1 {
		t.Fatalf("messages in the mailbox = %d, want 1: a retry after the database came back sent the email again", len(msgs))
	}
	assert.Equal(t, "res.MessageID", res.MessageID, msgs[0].ID)
	r := f.retry(retryID)
	assert.Equal(t, "r.EmailStatus", r.EmailStatus, domain.EmailSent)
	if r.EmailMessageID == nil {
		t.Fatalf("r.EmailMessageID = nil, want %s", msgs[0].ID)
	}
	assert.Equal(t, "*r.EmailMessageID", *r.EmailMessageID, msgs[0].ID)
	es := f.emails(retryID)
	if len(es) != 1 {
		t.Fatalf("es: len %d, want 1", len(es))
	}
	assert.Equal(t, "es[0].Status", es[0].Status, "sent")
	if es[0].MessageID == nil || *es[0].MessageID != msgs[0].ID {
		t.Errorf("es[0].MessageID = %v, want %s", es[0].MessageID, msgs[0].ID)
	}

	// What the Temporal server kept between the attempts is the message id and nothing
	// else: no address, name, link or token.
	if len(details) != 1 {
		t.Fatalf("heartbeat details of the failed attempts: %d payloads, want 1", len(details))
	}
	var kept map[string]any
	if err := json.Unmarshal(details[0], &kept); err != nil {
		t.Fatalf("heartbeat details %q: %v", details[0], err)
	}
	assert.Equal(t, "heartbeat details", kept, map[string]any{"MessageID": msgs[0].ID})
}

// databaseBlink takes one database away from the activities' pool and brings it back:
// new connections are refused and the pool's open ones are ended, as a Postgres
// restart does to its clients.
type databaseBlink struct {
	t     *testing.T
	admin *bun.DB
	name  string
}

func newDatabaseBlink(t *testing.T, name string) *databaseBlink {
	t.Helper()
	adminURL := os.Getenv(testenv.EnvDatabaseURL)
	if adminURL == "" {
		adminURL = testenv.DefaultDatabaseURL
	}
	admin, err := store.Open(context.Background(), adminURL)
	if err != nil {
		t.Fatal(err)
	}
	b := &databaseBlink{t: t, admin: admin, name: name}
	// Before the drop of the database (cleanups run last first), and after a failure.
	t.Cleanup(func() { b.up(); _ = admin.Close() })
	return b
}

func (b *databaseBlink) down() {
	ctx := context.Background()
	if _, err := b.admin.ExecContext(ctx, "ALTER DATABASE "+b.name+" ALLOW_CONNECTIONS false"); err != nil {
		b.t.Errorf("refuse connections: %v", err)
	}
	if _, err := b.admin.ExecContext(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE datname = ? AND application_name = ?`, b.name, blinkApp); err != nil {
		b.t.Errorf("end connections: %v", err)
	}
}

func (b *databaseBlink) up() {
	if _, err := b.admin.ExecContext(context.Background(), "ALTER DATABASE "+b.name+" ALLOW_CONNECTIONS true"); err != nil {
		b.t.Errorf("allow connections: %v", err)
	}
}

// MailerSend may accept a message without giving its id (mail.NoMessageID). That email is
// out all the same: an attempt that finds the heartbeat of an accepted send, id or not,
// sends nothing and records it.
func TestEmailAcceptedWithoutIDIsNotSentAgain(t *testing.T) {
	f := newFixture(t)
	m := ada(finishedShoot(1))
	f.seedOrg(&m)
	retryID := f.pendingRetry(m.ID, m.Shoots[0].ID)
	f.env.SetHeartbeatDetails(struct{ MessageID string }{MessageID: ""})

	var res activities.SendEmailResult
	f.must(&res, f.acts.SendRetryEmail, activities.SendEmailInput{SubjectID: retryID, Seq: 0, Kind: domain.EmailKindInitial})
	assert.Equal(t, "messages sent", f.mailbox.Len(), 0)
	assert.Equal(t, "res", res, activities.SendEmailResult{})
	assert.Equal(t, "email status", f.retry(retryID).EmailStatus, domain.EmailSent)
	es := f.emails(retryID)
	if len(es) != 1 || es[0].Status != "sent" {
		t.Errorf("emails = %+v, want one sent", es)
	}
}

// An email the provider accepted and Postgres recorded needs nothing kept in Temporal:
// the attempt sends no heartbeat, which on every email cost the Temporal server a
// request, a history update and a write (docs/benchmarks.md, "Temporal's work per
// operation"). Only an attempt that could not record the id hands it over
// (TestEmailAcceptedThenDatabaseBlinksSendsOnce).
func TestRecordedEmailSendsNoHeartbeat(t *testing.T) {
	f := newFixture(t)
	m := ada(finishedShoot(1))
	f.seedOrg(&m)
	retryID := f.pendingRetry(m.ID, m.Shoots[0].ID)
	heartbeats := 0
	f.env.SetOnActivityHeartbeatListener(func(*activity.Info, converter.EncodedValues) { heartbeats++ })

	var res activities.SendEmailResult
	f.must(&res, f.acts.SendRetryEmail, activities.SendEmailInput{SubjectID: retryID, Seq: 0, Kind: domain.EmailKindInitial})
	assert.Equal(t, "messages sent", f.mailbox.Len(), 1)
	assert.Equal(t, "email status", f.retry(retryID).EmailStatus, domain.EmailSent)
	assert.Equal(t, "heartbeats", heartbeats, 0)
}

// TestEmailSendIsTwoStatements: an email costs Postgres two round trips, the contact read
// with the intent row, and the record of what was sent: three before, when the contact
// and the intent were read and written apart. A repeated send of the same email reads
// the row the first one left and sends nothing.
func TestEmailSendIsTwoStatements(t *testing.T) {
	f := newFixture(t)
	m := ada(finishedShoot(1))
	f.seedOrg(&m)
	retryID := f.pendingRetry(m.ID, m.Shoots[0].ID)
	count := querycount.All()
	f.acts.DB = f.db.WithQueryHook(count)

	var res activities.SendEmailResult
	in := activities.SendEmailInput{SubjectID: retryID, Seq: 0, Kind: domain.EmailKindInitial}
	f.must(&res, f.acts.SendRetryEmail, in)
	assert.Equal(t, "statements", count.Count(), int64(2))
	assert.Equal(t, "messages sent", f.mailbox.Len(), 1)
	assert.Equal(t, "email status", f.retry(retryID).EmailStatus, domain.EmailSent)

	var again activities.SendEmailResult
	if err := execIn(f.newEnv(), &again, f.acts.SendRetryEmail, in); err != nil {
		t.Fatal(err)
	}
	assert.Equal(t, "messages sent after a repeated send", f.mailbox.Len(), 1)
	assert.Equal(t, "the repeat's message id", again.MessageID, res.MessageID)
}
