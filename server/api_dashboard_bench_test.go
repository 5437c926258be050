package server_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/uptrace/bun"

	"github.com/headshotpro/retryd/internal/seed"
	"github.com/headshotpro/retryd/internal/store"
	"github.com/headshotpro/retryd/internal/tooling/apptest"
	"github.com/headshotpro/retryd/internal/tooling/loadgen"
	"github.com/headshotpro/retryd/internal/tooling/testenv"
	"github.com/headshotpro/retryd/server"
)

// The dashboard benchmarks measure what the dashboard issue asks: throughput at 32
// concurrent clients against the same statements sent straight through pgx, on analyzed
// and unanalyzed tables of two large organizations, and whether one organization's page
// costs depend on how many other organizations share the database. They report figures;
// nothing here asserts a time. docs/benchmarks.md has the commands and the results.

const (
	benchClients  = 32
	benchRequests = 3200 // per round: 100 per client
	benchRounds   = 3    // rounds alternate HTTP and pgx, the median round is reported
	benchPath     = "/api/v1/admin/headshots?section=finished&limit=50"
)

// benchMembers is an organization like the one the issue measured: 90% finished, 9% in
// progress, 1% deleted, one result per finished shoot.
func benchMembers(prefix string, n int) []seed.Member {
	members := make([]seed.Member, n)
	for i := range members {
		s := seed.Shoot{Status: "active", CompletedAt: daysAgo(3), Results: 1}
		switch {
		case i%100 == 0:
			s = seed.Shoot{Status: "deleted", DeletedAt: daysAgo(1)}
		case i%10 == 0:
			s = seed.Shoot{Status: "waiting"}
		}
		members[i] = seed.Member{Name: fmt.Sprintf("%s %05d", prefix, i), Email: apptest.Ptr(fmt.Sprintf("%s%05d@bench.test", strings.ToLower(prefix), i)),
			Kind: "managed", Shoots: []seed.Shoot{s}}
	}
	return members
}

// figures summarises one round of calls.
type figures struct {
	perSecond float64
	p50, p99  time.Duration
}

func (f figures) String() string {
	return fmt.Sprintf("%.0f/s p50 %.2f ms p99 %.2f ms", f.perSecond, ms(f.p50), ms(f.p99))
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// measure runs total calls from clients goroutines and times each.
func measure(b *testing.B, clients, total int, call func(worker int) error) figures {
	b.Helper()
	lat := make([][]time.Duration, clients)
	var next atomic.Int64
	var failed atomic.Value
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < clients; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for next.Add(1) <= int64(total) {
				t0 := time.Now()
				if err := call(w); err != nil {
					failed.Store(err)
					return
				}
				lat[w] = append(lat[w], time.Since(t0))
			}
		}(w)
	}
	wg.Wait()
	elapsed := time.Since(start)
	if err, _ := failed.Load().(error); err != nil {
		b.Fatal(err)
	}
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	return figures{
		perSecond: float64(len(all)) / elapsed.Seconds(),
		p50:       all[len(all)/2],
		p99:       all[int(0.99*float64(len(all)-1))],
	}
}

func median(fs []figures) figures {
	sort.Slice(fs, func(i, j int) bool { return fs[i].perSecond < fs[j].perSecond })
	return fs[len(fs)/2]
}

// getter sends the page's GET over one keep-alive connection per benchmark client, with
// the benchmarks' lean client (package loadgen): the load shares the cores with what it
// measures, and net/http's client cost about as much CPU per request as the handler.
func getter(b *testing.B, app *apptest.App, key string) func(int) error {
	pool, err := loadgen.New(app.URL, benchClients)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)
	return func(int) error { return pool.Get(benchPath, key, http.StatusOK) }
}

// pgxRunner sends the statements over one pgx connection per client, as prepared
// statements (pgx's default statement cache), and reads every row.
func pgxRunner(b *testing.B, url string, stmts []store.Statement) func(int) error {
	conns := make([]*pgx.Conn, benchClients)
	for i := range conns {
		c, err := pgx.Connect(context.Background(), url)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = c.Close(context.Background()) })
		conns[i] = c
	}
	return func(w int) error {
		for _, st := range stmts {
			rows, err := conns[w].Query(context.Background(), st.SQL, st.Args...)
			if err != nil {
				return err
			}
			for rows.Next() {
				if _, err := rows.Values(); err != nil {
					return err
				}
			}
			if rows.Err() != nil {
				return rows.Err()
			}
		}
		return nil
	}
}

// forgetStatistics puts the tables back in the state of a cluster that never analyzed
// them (reltuples -1, no column statistics), which is how they were measured first.
func forgetStatistics(b *testing.B, db *bun.DB) {
	b.Helper()
	tables := "'organizations','members','shoots','results','retries','restarts','dashboard_cards','org_counters','api_keys'"
	for _, q := range []string{
		"DELETE FROM pg_statistic WHERE starelid IN (SELECT oid FROM pg_class WHERE relname IN (" + tables + "))",
		"UPDATE pg_class SET reltuples = -1, relpages = 0 WHERE relname IN (" + tables + ")",
	} {
		if _, err := db.ExecContext(context.Background(), q); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDashboardThroughput: two organizations of 10,000 members each; the finished
// section's first page of 50 at 32 concurrent clients, through the API and as the same
// statements straight through pgx, rounds alternating, on unanalyzed and analyzed tables
// in turn. Run:
//
//	go test ./server -run '^$' -bench BenchmarkDashboardThroughput -benchtime 1x -timeout 20m
func BenchmarkDashboardThroughput(b *testing.B) {
	app := apptest.Start(b, apptest.Options{APIKeyCacheTTL: 5 * time.Second})
	org := app.SeedOrg(b, 0, benchMembers("Alpha", 10000)...)
	app.SeedOrg(b, 0, benchMembers("Beta", 10000)...)
	// The retry history; then what autovacuum and the checkpointer would have done by
	// the time anyone reads these tables (hint bits set, the visibility map built, the
	// load's dirty pages written), so neither state pays for the load's aftermath.
	// VACUUM without ANALYZE leaves the statistics to each state below.
	for _, q := range []string{benchRetriesSQL, "VACUUM", "CHECKPOINT"} {
		if _, err := app.DB.ExecContext(context.Background(), q); err != nil {
			b.Fatal(err)
		}
	}
	// Compare like with like: as many API database connections as pgx connections
	// (DATABASE_MAX_CONNS=32). Under CPU contention each backend gets its share of the
	// cores, so a pool of 20 against 32 pgx connections measures the pool sizes.
	app.DB.DB.SetMaxOpenConns(benchClients)
	app.DB.DB.SetMaxIdleConns(benchClients)
	get := getter(b, app, org.AdminKey)

	// The statement of a request once its key is cached (one: the page), built by the
	// same store call the handler makes with the same parameters.
	stmts := []store.Statement{store.DashboardStatement(store.DashboardQuery{OrgID: org.ID, Section: "finished", Limit: 50})}
	viaPgx := pgxRunner(b, dbURL(b, app), stmts)

	// The states alternate round by round, so a machine that slows down or speeds up
	// during the run weighs on both alike.
	states := []string{"unanalyzed", "analyzed"}
	api := map[string][]figures{}
	direct := map[string][]figures{}
	for r := 0; r < benchRounds; r++ {
		for _, state := range states {
			if state == "unanalyzed" {
				forgetStatistics(b, app.DB)
			} else if _, err := app.DB.ExecContext(context.Background(), "ANALYZE"); err != nil {
				b.Fatal(err)
			}
			// Warm both paths (plans, connections) before measuring.
			measure(b, benchClients, benchClients*10, get)
			measure(b, benchClients, benchClients*10, viaPgx)
			api[state] = append(api[state], measure(b, benchClients, benchRequests, get))
			direct[state] = append(direct[state], measure(b, benchClients, benchRequests, viaPgx))
		}
	}
	for _, state := range states {
		a, d := median(api[state]), median(direct[state])
		b.Logf("%s: API %v | pgx %v | API/pgx %.2f", state, a, d, a.perSecond/d.perSecond)
		b.ReportMetric(a.perSecond, state+"_api_req/s")
		b.ReportMetric(d.perSecond, state+"_pgx_req/s")
	}
}

// BenchmarkDashboardOtherOrganizations: the finished page of a 1,000-member organization,
// one client at a time, with the database holding that organization alone and then
// 199,000 more members in 20 other organizations, analyzed both times. Run:
//
//	go test ./server -run '^$' -bench BenchmarkDashboardOtherOrganizations -benchtime 1x -timeout 20m
func BenchmarkDashboardOtherOrganizations(b *testing.B) {
	app := apptest.Start(b, apptest.Options{APIKeyCacheTTL: 5 * time.Second})
	org := app.SeedOrg(b, 0, benchMembers("Solo", 1000)...)
	get := getter(b, app, org.AdminKey)
	ctx := context.Background()
	run := func(state string) {
		if _, err := app.DB.ExecContext(ctx, "ANALYZE"); err != nil {
			b.Fatal(err)
		}
		measure(b, 1, 100, get)
		var rounds []figures
		for r := 0; r < benchRounds; r++ {
			rounds = append(rounds, measure(b, 1, 500, get))
		}
		sort.Slice(rounds, func(i, j int) bool { return rounds[i].p50 < rounds[j].p50 })
		f := rounds[len(rounds)/2]
		var members int
		if err := app.DB.NewRaw("SELECT count(*) FROM members").Scan(ctx, &members); err != nil {
			b.Fatal(err)
		}
		b.Logf("%s (%d members in the database): %v", state, members, f)
		b.ReportMetric(ms(f.p50), state+"_p50_ms")
	}
	run("alone")
	start := time.Now()
	for i := 0; i < 20; i++ {
		n := 9950
		if i == 19 {
			n = 199000 - 19*9950
		}
		if _, err := app.DB.ExecContext(ctx, benchOtherOrgSQL, fmt.Sprintf("Other %02d", i), n); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("loaded 199,000 members in 20 organizations in %v", time.Since(start).Round(time.Second))
	run("shared")
}

// BenchmarkDashboardRequest is one dashboard request at a time, served in this process
// by the API's handler (no socket, no HTTP client): the overview as the admin dashboard
// reads it (three sections of 10) and the Finished section's largest page (100), over an
// organization of 250 members with its key cached. Besides ns/op it reports cpu-ns/op,
// this process's CPU per request, which is the API's own work without Postgres's. It
// measures what the store's row decoding weighs in a whole request. Run:
//
//	go test ./server -run '^$' -bench BenchmarkDashboardRequest -count 6
func BenchmarkDashboardRequest(b *testing.B) {
	var srv *server.Server
	app := apptest.Start(b, apptest.Options{APIKeyCacheTTL: 5 * time.Minute, PendingRefresh: time.Hour,
		Server: func(s *server.Server) { srv = s }})
	org := app.SeedOrg(b, 0, benchMembers("Bench", 250)...)
	if _, err := app.DB.ExecContext(context.Background(), "ANALYZE"); err != nil {
		b.Fatal(err)
	}
	h := srv.Handler()
	for _, tc := range []struct{ name, path string }{
		{"page=overview-10", "/api/v1/admin/headshots?limit=10"},
		{"page=finished-100", "/api/v1/admin/headshots?section=finished&limit=100"},
	} {
		req := httptest.NewRequest(http.MethodGet, tc.path, nil)
		req.Header.Set("Authorization", "Bearer "+org.AdminKey)
		serve := func(b *testing.B) {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != http.StatusOK {
				b.Fatalf("GET %s = %d %s", tc.path, w.Code, w.Body)
			}
		}
		// Caches the key and prepares each section's statement on the pool's connections.
		for range 50 {
			serve(b)
		}
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			cpu := processCPU(b)
			for b.Loop() {
				serve(b)
			}
			b.ReportMetric(float64(processCPU(b)-cpu)/float64(b.N), "cpu-ns/op")
		})
	}
}

// processCPU is the CPU time this process has used, user and system.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchRetriesSQL gives the organizations a retry history, as a production database has
// one: every member whose number ends in 3 had a retry that was started, and every member
// waiting for a shoot (number ends in 0, not 00) has a retry pending. With no retries at
// all, analyzed statistics plan the card's pending-retry probe as a scan of an empty
// table, which costs Postgres more per card than the index probe a real table gets.
const benchRetriesSQL = `
INSERT INTO retries (id, org_id, member_id, shoot_id, issued_by_kind, issued_by, issued_at, allowance_used,
                     status, stage, email_status, started_at, workflow_id)
SELECT gen_random_uuid(), s.org_id, s.member_id, s.id, 'admin', gen_random_uuid(), now() - interval '5 days',
       'free_retry', st.v, st.v, 'sent',
       CASE WHEN s.status = 'waiting' THEN NULL ELSE now() - interval '4 days' END, 'bench-' || s.id
FROM shoots s JOIN members m ON m.id = s.member_id,
     LATERAL (SELECT CASE WHEN s.status = 'waiting' THEN 'pending' ELSE 'started' END AS v) st
WHERE s.status <> 'deleted' AND right(m.name, 1) IN ('0', '3')`

// benchOtherOrgSQL adds one organization of ?1 members shaped like benchMembers.
const benchOtherOrgSQL = `
WITH o AS (INSERT INTO organizations (id, name, credit_balance) VALUES (gen_random_uuid(), ?0, 0) RETURNING id),
m AS (INSERT INTO members (id, org_id, name, email, kind)
      SELECT gen_random_uuid(), o.id, 'Member ' || lpad(i::text, 5, '0'), 'm' || i || '@other.test', 'managed'
      FROM o, generate_series(0, ?1 - 1) AS i RETURNING id, org_id, substr(name, 8)::int AS n),
s AS (INSERT INTO shoots (id, org_id, member_id, status, completed_at, deleted_at, created_at)
      SELECT gen_random_uuid(), m.org_id, m.id,
             CASE WHEN n % 100 = 0 THEN 'deleted' WHEN n % 10 = 0 THEN 'waiting' ELSE 'active' END,
             CASE WHEN n % 10 <> 0 THEN now() - interval '3 days' END,
             CASE WHEN n % 100 = 0 THEN now() - interval '1 day' END, now() - interval '10 days'
      FROM m RETURNING id, status)
INSERT INTO results (id, shoot_id, storage_key)
SELECT gen_random_uuid(), s.id, 'r/' || s.id FROM s WHERE s.status = 'active'`

func dbURL(b *testing.B, app *apptest.App) string {
	b.Helper()
	var name string
	if err := app.DB.NewRaw("SELECT current_database()").Scan(context.Background(), &name); err != nil {
		b.Fatal(err)
	}
	admin := os.Getenv(testenv.EnvDatabaseURL)
	if admin == "" {
		admin = testenv.DefaultDatabaseURL
	}
	u, err := url.Parse(admin)
	if err != nil {
		b.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}
