package devserver_test

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/headshotpro/retryd/internal/devserver"
	"github.com/headshotpro/retryd/internal/tooling/testenv"
)

func TestDefaultCLIPath(t *testing.T) {
	t.Setenv(devserver.EnvCLIPath, "")
	t.Setenv("XDG_CACHE_HOME", "/xdg")
	if got, want := devserver.DefaultCLIPath(), "/xdg/retryd/temporal-v1.5.1/temporal"; got != want {
		t.Errorf("with XDG_CACHE_HOME: got %s, want %s", got, want)
	}
	t.Setenv("XDG_CACHE_HOME", "")
	t.Setenv("HOME", "/home/u")
	if got, want := devserver.DefaultCLIPath(), "/home/u/.cache/retryd/temporal-v1.5.1/temporal"; got != want {
		t.Errorf("with HOME: got %s, want %s", got, want)
	}
	t.Setenv(devserver.EnvCLIPath, "/opt/temporal")
	if got := devserver.DefaultCLIPath(); got != "/opt/temporal" {
		t.Errorf("with %s: got %s", devserver.EnvCLIPath, got)
	}
}

func TestEnsureReturnsExistingWithoutBuilding(t *testing.T) {
	fake := filepath.Join(t.TempDir(), "temporal")
	if err := os.WriteFile(fake, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv(devserver.EnvCLIPath, fake)
	// With no go on PATH, any attempt to build would fail.
	t.Setenv("PATH", t.TempDir())
	got, err := devserver.Ensure(context.Background(), nil)
	if err != nil {
		t.Fatalf("Ensure: %v", err)
	}
	if got != fake {
		t.Errorf("Ensure = %s, want %s", got, fake)
	}
}

func TestEnsureWithoutGoSaysSo(t *testing.T) {
	t.Setenv(devserver.EnvCLIPath, filepath.Join(t.TempDir(), "temporal"))
	t.Setenv("PATH", t.TempDir())
	_, err := devserver.Ensure(context.Background(), nil)
	if err == nil || !strings.Contains(err.Error(), "go command") {
		t.Fatalf("Ensure without go: err = %v, want one naming the go command", err)
	}
}

func TestStartReportsServerOutputOnFailure(t *testing.T) {
	cli := testenv.TemporalCLI(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// The parent directory does not exist, which the CLI refuses at once.
	_, err := devserver.Start(ctx, devserver.Options{
		CLIPath:  cli,
		Headless: true,
		DBFile:   filepath.Join(t.TempDir(), "missing", "db.sqlite"),
	})
	if err == nil {
		t.Fatal("Start succeeded with a DB file in a missing directory")
	}
	if !strings.Contains(err.Error(), "database file") {
		t.Errorf("error lacks the server's own explanation:\n%v", err)
	}
}

func TestStartPersistsAcrossRestarts(t *testing.T) {
	cli := testenv.TemporalCLI(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dbFile := filepath.Join(t.TempDir(), "temporal.sqlite")
	const ns = "devserver-test"

	began := time.Now()
	srv, err := devserver.Start(ctx, devserver.Options{
		CLIPath:          cli,
		Headless:         true,
		Namespace:        ns,
		DBFile:           dbFile,
		SearchAttributes: []string{"OrgId"},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Stop() })
	t.Logf("first start: %s ready in %s", srv.Address, time.Since(began).Round(time.Millisecond))
	if srv.UIURL != "" {
		t.Errorf("headless server has UIURL %q", srv.UIURL)
	}

	c := dial(t, srv)
	// No worker polls this queue, so the run stays open and must survive the restart.
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:        "persisted",
		TaskQueue: "nobody-polls",
	}, "NoSuchWorkflow")
	if err != nil {
		t.Fatalf("start workflow: %v", err)
	}
	c.Close()

	// The file is in write-ahead-log mode (devSQLitePragmas): SQLite records it in the
	// header's file format versions, bytes 18 and 19, which are 2 for WAL and 1 otherwise.
	header := make([]byte, 20)
	f, err := os.Open(dbFile)
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadFull(f, header)
	_ = f.Close()
	if err != nil {
		t.Fatalf("read the database header: %v", err)
	}
	if header[18] != 2 || header[19] != 2 {
		t.Errorf("database file format versions %d, %d; want 2, 2 (journal_mode=WAL)", header[18], header[19])
	}

	if err := srv.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if err := srv.Stop(); err != nil {
		t.Fatalf("second Stop: %v", err)
	}

	// A search attribute added since the file was created must still end up registered.
	began = time.Now()
	srv2, err := devserver.Start(ctx, devserver.Options{
		CLIPath:          cli,
		Namespace:        ns,
		DBFile:           dbFile,
		SearchAttributes: []string{"OrgId", "MemberId"},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv2.Stop() })
	t.Logf("restart with UI: %s (UI %s) ready in %s", srv2.Address, srv2.UIURL, time.Since(began).Round(time.Millisecond))

	c2 := dial(t, srv2)
	defer c2.Close()
	desc, err := c2.DescribeWorkflow(ctx, "persisted", run.GetRunID())
	if err != nil {
		t.Fatalf("workflow started before the restart is gone: %v", err)
	}
	if got := desc.RawResponse.GetWorkflowExecutionInfo().GetType().GetName(); got != "NoSuchWorkflow" {
		t.Errorf("persisted workflow type = %q", got)
	}
	sas, err := c2.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: ns})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"OrgId", "MemberId"} {
		if _, ok := sas.GetCustomAttributes()[name]; !ok {
			t.Errorf("search attribute %s missing after restart", name)
		}
	}

	if srv2.UIURL == "" {
		t.Fatal("server with UI has no UIURL")
	}
	waitHTTP(t, srv2.UIURL)
}

func dial(t *testing.T, srv *devserver.Server) client.Client {
	t.Helper()
	c, err := client.Dial(client.Options{HostPort: srv.Address, Namespace: srv.Namespace})
	if err != nil {
		t.Fatalf("dial %s: %v", srv.Address, err)
	}
	return c
}

// waitHTTP allows the UI a moment: it is not part of Start's readiness check.
func waitHTTP(t *testing.T, url string) {
	t.Helper()
	hc := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := hc.Get(url)
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			err = &statusError{resp.Status}
		}
		if time.Now().After(deadline) {
			t.Fatalf("UI at %s does not answer: %v", url, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

type statusError struct{ status string }

func (e *statusError) Error() string { return "status " + e.status }

// With Metrics the server's own counters are served on a port Start picks, the one
// MetricsURL names (the benchmark reads the engine's requests per operation there).
func TestStartServesMetrics(t *testing.T) {
	cli := testenv.TemporalCLI(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	srv, err := devserver.Start(ctx, devserver.Options{CLIPath: cli, Headless: true, Metrics: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Stop() })
	if !strings.HasPrefix(srv.MetricsURL, "http://127.0.0.1:") {
		t.Fatalf("MetricsURL = %q", srv.MetricsURL)
	}
	resp, err := http.Get(srv.MetricsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "persistence_requests{") {
		t.Fatalf("GET %s: %s, %d bytes without persistence_requests", srv.MetricsURL, resp.Status, len(body))
	}
}
