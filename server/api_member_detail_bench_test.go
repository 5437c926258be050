package server_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/headshotpro/retryd/internal/tooling/apptest"
	"github.com/headshotpro/retryd/server"
)

// BenchmarkMemberDetailRequest: one member detail request through the handler, with the
// API key cached, for a member like the benchmark's (scripts/bench.sh: one finished
// shoot, no retries): CPU and allocations per request, which is what the request costs the API
// process on top of its statements. Run:
//
//	go test ./server -run '^$' -bench BenchmarkMemberDetailRequest -count 6
func BenchmarkMemberDetailRequest(b *testing.B) {
	var srv *server.Server
	app := apptest.Start(b, apptest.Options{APIKeyCacheTTL: 5 * time.Minute, PendingRefresh: time.Hour,
		Server: func(s *server.Server) { srv = s }})
	members := benchMembers("Detail", 20)
	org := app.SeedOrg(b, 0, members...)
	if _, err := app.DB.ExecContext(context.Background(), "ANALYZE"); err != nil {
		b.Fatal(err)
	}
	h := srv.Handler()
	path := "/api/v1/admin/members/" + members[1].ID
	req := httptest.NewRequest(http.MethodGet, path, nil)
	req.Header.Set("Authorization", "Bearer "+org.AdminKey)
	serve := func(b *testing.B) {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatalf("GET %s = %d %s", path, w.Code, w.Body)
		}
	}
	for range 50 {
		serve(b)
	}
	b.Run("member=one-shoot", func(b *testing.B) {
		b.ReportAllocs()
		cpu := processCPU(b)
		for b.Loop() {
			serve(b)
		}
		b.ReportMetric(float64(processCPU(b)-cpu)/float64(b.N), "cpu-ns/op")
	})
}
