package server_test

import (
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/headshotpro/retryd/internal/apptest"
	"github.com/headshotpro/retryd/internal/seed"
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

// TestMetrics: /metrics counts requests by route pattern, retries issued, refused by code
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

	body := string(app.Do(t, "GET", "/metrics", "", nil).Body)
	if v := metricValue(t, body, `retryd_pending_retries`); v != 1 {
		t.Errorf("pending retries = %v, want 1", v)
	}
	app.Do(t, "POST", "/api/v1/member/shoots/"+m.Shoots[0].ID+"/start", token, nil)

	apptest.WaitFor(t, 10*time.Second, "temporal metrics", func() bool {
		return regexp.MustCompile(`(?m)^temporal_workflow_task_`).MatchString(string(app.Do(t, "GET", "/metrics", "", nil).Body))
	})
	body = string(app.Do(t, "GET", "/metrics", "", nil).Body)
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
