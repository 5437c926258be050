package server_test

import (
	"context"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/enums/v1"

	"github.com/headshotpro/retryd/internal/devserver"
	"github.com/headshotpro/retryd/internal/domain"
	"github.com/headshotpro/retryd/internal/tooling/apptest"
	"github.com/headshotpro/retryd/internal/tooling/testenv"
	"github.com/headshotpro/retryd/workflows"
)

// TestPendingRetrySurvivesRestarts checks that a pending retry survives worker restarts,
// Temporal server restarts and deploys (docs/product.md, section 5). A retry is given and its email sent;
// then the worker is replaced, and the Temporal server (with its state in a SQLite file)
// is stopped and started again on the same port, with the API and worker re-dialling.
// Afterwards the workflow still answers "pending", the reminder timer set before the
// restarts fires after them, and the member's start completes the workflow.
func TestPendingRetrySurvivesRestarts(t *testing.T) {
	cli := testenv.TemporalCLI(t)
	dbFile := filepath.Join(t.TempDir(), "temporal.db")
	devOpts := devserver.Options{CLIPath: cli, Headless: true, DBFile: dbFile, SearchAttributes: workflows.SearchAttributeNames}

	// Registered before the app, so servers stop after its worker and clients.
	var servers []*devserver.Server
	t.Cleanup(func() {
		for _, s := range servers {
			if err := s.Stop(); err != nil {
				t.Errorf("stop dev server: %v", err)
			}
		}
	})
	startServer := func(opts devserver.Options) *devserver.Server {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		began := time.Now()
		srv, err := devserver.Start(ctx, opts)
		if err != nil {
			t.Fatalf("start dev server: %v", err)
		}
		servers = append(servers, srv)
		t.Logf("dev server on %s ready in %s", srv.Address, time.Since(began).Round(time.Millisecond))
		return srv
	}
	srv := startServer(devOpts)

	// The reminder is due 5s after the first email: the restarts take about 1.5s, so
	// they happen before it (checked below) and it can only arrive through a timer that
	// outlived them.
	const reminder = 5 * time.Second
	app := apptest.Start(t, apptest.Options{Temporal: srv, Reminders: []time.Duration{reminder}})
	org := app.SeedOrg(t, 3, person("Ada Durable", finished(5, 8)))
	memberID, shoots := seeded(org, 0)
	shootID, key := shoots[0], org.AdminKey
	wfID := workflows.RetryWorkflowID(shootID)

	expectStatus(t, giveRetry(t, app, key, memberID, shootID), 201)
	apptest.WaitFor(t, 10*time.Second, "retry email", func() bool { return app.Mailbox.Len() == 1 })
	emailAt := time.Now()
	first := app.Mailbox.Messages()[0]
	_, token := apptest.LinkToken(t, first.Text)

	// status queries the workflow. A query right after a worker restart can be routed
	// to the stopped worker's sticky queue and time out once; the server then drops the
	// stickiness and a new query reaches the new worker, so it is asked again.
	status := func() workflows.RetryStatus {
		t.Helper()
		deadline := time.Now().Add(45 * time.Second)
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			began := time.Now()
			v, err := app.Temporal.QueryWorkflow(ctx, wfID, "", workflows.QueryStatus)
			cancel()
			if err == nil {
				var st workflows.RetryStatus
				if err := v.Get(&st); err != nil {
					t.Fatalf("decode status: %v", err)
				}
				return st
			}
			if time.Now().After(deadline) {
				t.Fatalf("query %s: %v", wfID, err)
			}
			t.Logf("query %s failed after %s, asking again: %v", wfID, time.Since(began).Round(time.Millisecond), err)
		}
	}

	// (a) A worker restart, then (b) a Temporal server restart on the same port and DB
	// file, with the API and worker re-dialling as restarted processes would. Both happen
	// before the reminder is due (no query in between: one could wait on the stopped
	// worker's sticky queue for 10s).
	var began time.Time
	app.RestartWorker(t)
	_, portStr, err := net.SplitHostPort(srv.Address)
	if err != nil {
		t.Fatal(err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		t.Fatal(err)
	}
	began = time.Now()
	if err := srv.Stop(); err != nil {
		t.Fatalf("stop dev server: %v", err)
	}
	if n := app.Mailbox.Len(); n != 1 {
		t.Fatalf("%d emails before the server restart (%s after the first): the reminder fired before the restarts, so this test proves nothing; lengthen the reminder",
			n, time.Since(emailAt).Round(time.Millisecond))
	}
	downFor := time.Since(emailAt)
	opts2 := devOpts
	opts2.Port = port
	srv2 := startServer(opts2)
	if srv2.Address != srv.Address {
		t.Fatalf("restarted server on %s, want %s", srv2.Address, srv.Address)
	}
	app.RestartTemporalClients(t)
	t.Logf("worker and server restarted, clients re-dialled in %s (server stopped %s after the email)",
		time.Since(began).Round(time.Millisecond), downFor.Round(time.Millisecond))

	// The workflow is still there, open, and answers "pending" from a worker that never
	// saw it before (an empty cache: the history is replayed).
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	desc, err := app.Temporal.DescribeWorkflow(ctx, wfID, "")
	if err != nil {
		t.Fatalf("workflow gone after the server restart: %v", err)
	}
	if got := desc.Status; got != enums.WORKFLOW_EXECUTION_STATUS_RUNNING {
		t.Fatalf("workflow status after restarts = %v, want running", got)
	}
	if st := status(); st.Stage != domain.StagePending {
		t.Fatalf("after server restart: status = %+v, want pending", st)
	}
	if memberDetail(t, app, key, memberID).PendingRetry == nil {
		t.Fatal("member detail lost its pending retry")
	}

	// The reminder timer set before the restarts fires after them.
	apptest.WaitFor(t, 45*time.Second, "reminder email", func() bool { return app.Mailbox.Len() == 2 })
	rem := app.Mailbox.Messages()[0] // newest first
	if rem.ID == first.ID || len(rem.To) != 1 || rem.To[0] != first.To[0] || !strings.HasPrefix(rem.Text, "Reminder:") {
		t.Fatalf("second email is not the reminder to %v: to %v, text:\n%s", first.To, rem.To, rem.Text)
	}
	t.Logf("reminder arrived %s after the first email", time.Since(emailAt).Round(time.Millisecond))
	apptest.WaitFor(t, 10*time.Second, "reminder counted", func() bool { return status().RemindersSent == 1 })

	// (c) A worker-only restart while the retry is pending, after the workflow has run on
	// the previous worker: it still answers "pending" with its reminder counted.
	began = time.Now()
	app.RestartWorker(t)
	if st := status(); st.Stage != domain.StagePending || st.RemindersSent != 1 || st.EmailsSent != 2 {
		t.Fatalf("after the second worker restart: status = %+v, want pending with one reminder", st)
	}
	t.Logf("worker restarted and queried in %s", time.Since(began).Round(time.Millisecond))

	// The member starts with the first email's link: started, and the workflow completes.
	r := app.Do(t, "POST", "/api/v1/member/shoots/"+shootID+"/start", token, nil)
	if body := expectJSON[startAnswer](t, r, 200); body.Retry == nil || body.Retry.Status != "started" {
		t.Fatalf("start: %s", r.Body)
	}
	var final workflows.RetryStatus
	if err := app.Temporal.GetWorkflow(ctx, wfID, "").Get(ctx, &final); err != nil || final.Stage != domain.StageStarted {
		t.Fatalf("workflow result = %+v, %v", final, err)
	}
	if n := app.Mailbox.Len(); n != 2 {
		t.Fatalf("%d emails in all, want the first and one reminder", n)
	}
}
