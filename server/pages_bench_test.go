package server_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"sort"
	"testing"
	"time"

	"github.com/headshotpro/retryd/internal/tooling/apptest"
)

// BenchmarkAdminPages10k compares the admin pages with the JSON API over an organization
// of 10,000 members (9,000 finished, 900 in progress, 100 deleted), on analyzed tables as
// a production database would have them. Each pair asks for the same cards: the page adds
// the session lookup, the organization header, the section counts and the HTML. Run:
//
//	go test ./server -run '^$' -bench BenchmarkAdminPages10k -benchtime 100x
func BenchmarkAdminPages10k(b *testing.B) {
	app := apptest.Start(b, apptest.Options{})
	org := app.SeedOrg(b, 0, benchMembers("Member", 10000)...)
	if _, err := app.DB.ExecContext(context.Background(), "ANALYZE"); err != nil {
		b.Fatal(err)
	}
	member := org.File.Organizations[0].Members[4321].ID

	pc := newPageClient(b, app)
	if a := pc.signIn(org.AdminKey); a.Status != http.StatusSeeOther {
		b.Fatalf("sign-in = %d", a.Status)
	}
	api := &http.Client{Timeout: 30 * time.Second}
	get := func(b *testing.B, c *http.Client, path string, bearer bool) {
		req, err := http.NewRequest("GET", app.URL+path, nil)
		if err != nil {
			b.Fatal(err)
		}
		if bearer {
			req.Header.Set("Authorization", "Bearer "+org.AdminKey)
		}
		resp, err := c.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("GET %s = %d", path, resp.StatusCode)
		}
	}
	q := url.QueryEscape("Member 0432")
	for _, tc := range []struct {
		name, path string
		page       bool
	}{
		{"api/overview", "/api/v1/admin/headshots?limit=10", false},
		{"page/overview", "/app/admin/headshots", true},
		{"api/finished", "/api/v1/admin/headshots?section=finished&limit=25", false},
		{"page/finished", "/app/admin/headshots?section=finished", true},
		{"api/deleted", "/api/v1/admin/headshots?section=deleted&limit=25", false},
		{"page/deleted", "/app/admin/headshots?section=deleted", true},
		{"api/search", "/api/v1/admin/headshots?limit=10&q=" + q, false},
		{"page/search", "/app/admin/headshots?q=" + q, true},
		{"api/member", "/api/v1/admin/members/" + member, false},
		{"page/member", "/app/admin/members/" + member, true},
	} {
		b.Run(tc.name, func(b *testing.B) {
			c := api
			if tc.page {
				c = pc.http
			}
			get(b, c, tc.path, !tc.page) // warm the connection and the plan cache
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				start := time.Now()
				get(b, c, tc.path, !tc.page)
				lat = append(lat, time.Since(start))
			}
			b.StopTimer()
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50_ms")
			b.ReportMetric(float64(lat[int(0.99*float64(len(lat)-1))].Microseconds())/1000, "p99_ms")
		})
	}
}
