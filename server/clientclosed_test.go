package server_test

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/headshotpro/retryd/internal/tooling/apptest"
)

// TestClientClosedRequest: a client that hangs up while its request waits on Postgres is
// recorded as 499 (nginx's "client closed request"): logged as such at info, never as a
// server error, and counted under status 499, apart from the 5xx that alerts watch.
func TestClientClosedRequest(t *testing.T) {
	logs := &apptest.LogBuffer{}
	app := apptest.Start(t, apptest.Options{LogOutput: logs})
	org := app.SeedOrg(t, 0)
	ctx := context.Background()

	// Hold a lock the header query needs, so the request waits until its client leaves.
	tx, err := app.DB.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.ExecContext(ctx, "LOCK TABLE org_counters IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	reqCtx, cancel := context.WithCancel(ctx)
	req, err := http.NewRequestWithContext(reqCtx, "GET", app.URL+"/api/v1/admin/organization", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+org.AdminKey)
	done := make(chan error, 1)
	go func() {
		resp, err := app.HTTP.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	// Hang up once the request is waiting on the lock.
	apptest.WaitFor(t, 10*time.Second, "the request to wait on the lock", func() bool {
		var waiting int
		_ = app.DB.NewRaw(`SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'
			AND query LIKE '%org_counters%' AND datname = current_database()`).Scan(ctx, &waiting)
		return waiting > 0
	})
	cancel()
	if err := <-done; err == nil {
		t.Fatal("the request finished although its client hung up")
	}

	series := `retryd_http_requests_total{method="GET",route="/api/v1/admin/organization",status="499"} 1`
	apptest.WaitFor(t, 10*time.Second, "the 499 to be counted", func() bool {
		return strings.Contains(app.Scrape(t), series)
	})
	body := app.Scrape(t)
	if regexp.MustCompile(`(?m)^retryd_http_requests_total\{[^}]*route="/api/v1/admin/organization",status="5\d\d"\}`).MatchString(body) {
		t.Errorf("the hang-up was counted as a server error:\n%s", body)
	}
	out := logs.String()
	if !strings.Contains(out, `"msg":"client closed request"`) || !strings.Contains(out, `"status":499`) {
		t.Errorf("no client-closed access log line:\n%s", out)
	}
	for _, bad := range []string{"answered with server error", "request failed", "request timed out", `"status":504`} {
		if strings.Contains(out, bad) {
			t.Errorf("a client hang-up was logged as %q:\n%s", bad, out)
		}
	}
}
