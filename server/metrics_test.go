package server_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/headshotpro/retryd/internal/metrics"
	"github.com/headshotpro/retryd/internal/seed"
	"github.com/headshotpro/retryd/internal/tooling/apptest"
	"github.com/headshotpro/retryd/internal/tooling/testenv"
	"github.com/headshotpro/retryd/server"
)

// metricValue reads one sample of the Prometheus text format.
func metricValue(t *testing.T, body, series string) float64 {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` ([0-9.e+-]+)$`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no sample %s in /metrics", series)
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestMetrics: the private listener's /metrics counts requests by route pattern, retries issued, refused by code
// and started, emails sent, the pending gauge and the SDK's own temporal_* metrics.
func TestMetrics(t *testing.T) {
	app := apptest.Start(t, apptest.Options{})
	org := app.SeedOrg(t, 0, seed.Member{Name: "Ada", Email: apptest.Ptr("ada@acme.test"), Kind: "individual",
		Shoots: []seed.Shoot{{Status: "active", CompletedAt: daysAgo(1)}}})
	m := org.File.Organizations[0].Members[0]
	path := "/api/v1/admin/members/" + m.ID + "/retries"
	if r := app.Do(t, "POST", path, org.AdminKey, map[string]any{"shoot_id": m.Shoots[0].ID}); r.Status != 201 {
		t.Fatalf("give: %d %s", r.Status, r.Body)
	}
	app.Do(t, "POST", path, org.AdminKey, map[string]any{"shoot_id": m.Shoots[0].ID})
	apptest.WaitFor(t, 10*time.Second, "email", func() bool { return app.Mailbox.Len() == 1 })
	_, token := apptest.LinkToken(t, app.Mailbox.Messages()[0].Text)

	// The gauges follow the refresher's counts.
	apptest.WaitFor(t, 10*time.Second, "one pending retry counted", func() bool {
		return regexp.MustCompile(`(?m)^retryd_pending_retries 1$`).MatchString(app.Scrape(t))
	})
	app.Do(t, "POST", "/api/v1/member/shoots/"+m.Shoots[0].ID+"/start", token, nil)

	apptest.WaitFor(t, 10*time.Second, "temporal metrics and the start counted", func() bool {
		body := app.Scrape(t)
		return regexp.MustCompile(`(?m)^temporal_workflow_task_`).MatchString(body) &&
			regexp.MustCompile(`(?m)^retryd_pending_retries 0$`).MatchString(body)
	})
	body := app.Scrape(t)
	for series, want := range map[string]float64{
		`retryd_http_requests_total{method="POST",route="/api/v1/admin/members/:id/retries",status="201"}`: 1,
		`retryd_http_requests_total{method="POST",route="/api/v1/admin/members/:id/retries",status="409"}`: 1,
		`retryd_retries_issued_total`:                        1,
		`retryd_retries_refused_total{code="retry_pending"}`: 1,
		`retryd_retries_started_total`:                       1,
		`retryd_emails_sent_total{kind="retry_initial"}`:     1,
		`retryd_pending_retries`:                             0,
	} {
		if got := metricValue(t, body, series); got != want {
			t.Errorf("%s = %v, want %v", series, got, want)
		}
	}
	if regexp.MustCompile(m.ID).MatchString(body) {
		t.Error("/metrics carries a member id: labels must be route patterns")
	}
}

// queryCounter counts the queries a bun handle runs.
// queryCounter counts the queries of the app, less the webhook relay's: it looks for
// deliveries to hand over every second and counts the backlog, whatever else happens.
type queryCounter struct{ n atomic.Int64 }

func (q *queryCounter) BeforeQuery(ctx context.Context, e *bun.QueryEvent) context.Context {
	if !strings.Contains(e.Query, "webhook_deliveries") {
		q.n.Add(1)
	}
	return ctx
}

func (q *queryCounter) AfterQuery(context.Context, *bun.QueryEvent) {}

// TestAPIPortServesNoMetrics: the API port is public, and the metrics count every
// organization's work: GET /metrics there is the router's 404, like any unknown route.
func TestAPIPortServesNoMetrics(t *testing.T) {
	off := testenv.OfflineDeps(t)
	s, err := server.New(server.Deps{DB: off.DB, Workflows: off.Workflows, Links: off.Links, Metrics: metrics.New(),
		Logger: slog.New(slog.DiscardHandler), Config: server.Config{PipelineToken: "pipeline", AppBaseURL: "http://app.test"}})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusNotFound || !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/problem+json") ||
		!strings.Contains(rec.Body.String(), `"route_not_found"`) {
		t.Fatalf("GET /metrics on the API: %d %s %s; want 404 route_not_found", rec.Code, rec.Header().Get("Content-Type"), rec.Body.String())
	}
}

// TestMetricsScrapeRunsNoQuery: the pending gauges come from the refresher's last count,
// so however often Prometheus (or anyone who reaches the port) scrapes, the database sees
// no query from it.
func TestMetricsScrapeRunsNoQuery(t *testing.T) {
	var q queryCounter
	// The refresher counts at start, then not again within the test.
	app := apptest.Start(t, apptest.Options{QueryHook: &q, PendingRefresh: time.Hour})
	apptest.WaitFor(t, 10*time.Second, "the first count", func() bool { return strings.Contains(app.Scrape(t), "\nretryd_pending_retries ") })
	before := q.n.Load()
	for range 5 {
		body := app.Scrape(t)
		if v := metricValue(t, body, "retryd_pending_retries"); v != 0 {
			t.Errorf("pending retries = %v, want 0", v)
		}
	}
	if n := q.n.Load() - before; n != 0 {
		t.Errorf("5 scrapes ran %d database queries, want none", n)
	}
}
