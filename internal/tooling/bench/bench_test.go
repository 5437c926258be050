package bench_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/headshotpro/retryd/internal/store"
	"github.com/headshotpro/retryd/internal/tooling/bench"
	"github.com/headshotpro/retryd/internal/tooling/testenv"
)

// TestRunQuick runs the benchmark end to end with --quick's counts, against real
// servers (the Temporal dev server, Postgres, the retryd binary as serve and work), so
// the command cannot rot. It checks that every row was measured and written, never a
// figure: timings on a shared machine prove nothing.
func TestRunQuick(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a whole system; skipped with -short")
	}
	cli := testenv.TemporalCLI(t)
	admin := os.Getenv(testenv.EnvDatabaseURL)
	if admin == "" {
		admin = testenv.DefaultDatabaseURL
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if db, err := store.Open(ctx, admin); err != nil {
		if testenv.InCI() {
			t.Fatalf("Postgres not reachable at %s (CI=true, so this fails instead of skipping): %v", admin, err)
		}
		t.Skipf("Postgres not reachable: %v", err)
	} else {
		_ = db.Close()
	}
	root, err := filepath.Abs("../../..")
	if err != nil {
		t.Fatal(err)
	}
	cfg := bench.QuickConfig()
	// Both topologies the command measures: the dev server, and the production topology
	// (the full Temporal server on Postgres, two serve and two work processes).
	var runs []bench.Named
	for _, tc := range []struct {
		name string
		topo bench.Topology
	}{
		{"dev server", &bench.Local{RepoRoot: root, TemporalCLI: cli, AdminDatabaseURL: admin, APIDatabaseConns: cfg.PageClients}},
		// The command's own pools: the production topology runs on a Postgres of its own,
		// so the machine's server, at its default of 100 connections, need not hold them.
		{"production", &bench.Production{RepoRoot: root, TemporalCLI: cli, APIDatabaseConns: cfg.PageClients, PageClients: cfg.PageClients}},
	} {
		rep, err := bench.Run(ctx, tc.topo, cfg, bench.Options{Command: "test", RepoRoot: root, Log: testWriter{t}})
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		checkReport(t, tc.name, rep)
		// Both servers' own counters were read around the phases.
		if !strings.Contains(rep.Markdown(), "| path | frontend requests |") {
			t.Errorf("%s: the report has no table of the engine's requests per operation", tc.name)
		}
		if tc.name == "production" && !strings.Contains(rep.Markdown(), "on a private Postgres") {
			t.Errorf("production: the Servers line does not say the run had a Postgres of its own:\n%s", rep.Markdown())
		}
		runs = append(runs, bench.Named{Name: tc.name, Report: rep})
	}
	side := bench.CompareMarkdown(runs)
	for _, want := range []string{"dev server p50 ms", "production p50 ms", "| give-retry over HTTP, one at a time |",
		"| webhook deliveries, events committed 8 at once |"} {
		if !strings.Contains(side, want) {
			t.Errorf("the side-by-side table lacks %q:\n%s", want, side)
		}
	}
	md := runs[0].Report.Markdown()

	// The table goes into a document between the markers, and a second run replaces it.
	doc := filepath.Join(t.TempDir(), "benchmarks.md")
	if err := os.WriteFile(doc, []byte("# Benchmarks\n\nkept text\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := bench.WriteSection(doc, md); err != nil {
			t.Fatal(err)
		}
	}
	raw, _ := os.ReadFile(doc)
	if got := strings.Count(string(raw), bench.MarkerBegin); got != 1 || !strings.Contains(string(raw), "kept text") ||
		strings.Count(string(raw), "| retryd | give-retry over HTTP, one at a time") != 1 {
		t.Errorf("document after two writes:\n%s", raw)
	}
	t.Logf("\n%s", md)
}

// checkReport: every row measured something, names a floor that is in the report, and
// is in the table, with the report's header lines.
func checkReport(t *testing.T, name string, rep *bench.Report) {
	t.Helper()
	md := rep.Markdown()
	keys := map[string]bool{}
	for _, row := range rep.Rows {
		keys[row.Key] = true
		if row.Sum.Calls == 0 || row.Sum.Ops == 0 || row.Sum.Elapsed <= 0 {
			t.Errorf("%s: %s: nothing measured: %+v", name, row.Key, row.Sum)
		}
		if row.Floor != "" && !hasRow(rep, row.Floor) {
			t.Errorf("%s: %s: its floor %s is not in the report", name, row.Key, row.Floor)
		}
		if !strings.Contains(md, "| "+row.Group+" | "+row.Name) {
			t.Errorf("%s: %s: not in the table", name, row.Key)
		}
	}
	for _, k := range bench.AllKeys {
		if !keys[k] {
			t.Errorf("%s: row %s missing", name, k)
		}
	}
	if len(rep.Rows) != len(bench.AllKeys) {
		t.Errorf("%s: %d rows, want %d", name, len(rep.Rows), len(bench.AllKeys))
	}
	for _, want := range []string{"Smoke run", "Commit: `", "CPUs", "Idle, before the first phase", "How to read it"} {
		if !strings.Contains(md, want) {
			t.Errorf("%s: the report lacks %q", name, want)
		}
	}
}

func hasRow(rep *bench.Report, key string) bool {
	for _, r := range rep.Rows {
		if r.Key == key {
			return true
		}
	}
	return false
}

// testWriter sends the run's progress lines to the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
