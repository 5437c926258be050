package faults

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/headshotpro/retryd/internal/tooling/pgserver"
	"github.com/headshotpro/retryd/internal/tooling/testenv"
)

// clusterNeeds finds what a cluster runs on: the Temporal CLI, Postgres's binaries and
// the repository root. A missing one skips on a developer's machine and fails under
// CI=true, like every integration test.
func clusterNeeds(t *testing.T) (cli, root string) {
	t.Helper()
	cli = testenv.TemporalCLI(t)
	if err := pgserver.Installed(); err != nil {
		if testenv.InCI() {
			t.Fatalf("faults: %v (CI=true, so this fails instead of skipping)", err)
		}
		t.Skipf("faults: %v (skipping; under CI=true this fails)", err)
	}
	root, err := filepath.Abs("../../..")
	if err != nil {
		t.Fatal(err)
	}
	return cli, root
}

// runPlan starts a cluster, runs plan and returns the verdict. A missing dependency
// skips on a developer's machine and fails under CI=true, like every integration test.
func runPlan(t *testing.T, plan Plan) (rep *Report, took time.Duration) {
	t.Helper()
	cli, root := clusterNeeds(t)
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Minute)
	defer cancel()
	began := time.Now()
	c, err := StartCluster(ctx, Options{Dir: dir, RepoRoot: root, TemporalCLI: cli, Reminders: "2s,4s"})
	if err != nil {
		t.Fatalf("start cluster: %v", err)
	}
	defer c.Close()
	defer func() {
		// The caller fails on violations after this returns: their logs are shown here.
		if t.Failed() || (rep != nil && len(rep.Violations) > 0) || os.Getenv("RETRYD_FAULTS_LOGS") != "" {
			for _, name := range []string{"api.log", "worker.log", "temporal.log"} {
				if b, err := os.ReadFile(filepath.Join(dir, name)); err == nil {
					t.Logf("---- %s (tail)\n%s", name, tail(b, 6000))
					if rep != nil {
						t.Logf("---- %s (lines naming a violation's ids)\n%s", name, linesNaming(b, rep.Violations, 200))
					}
				}
			}
		}
	}()
	pop := NewPopulation(plan.Orgs, plan.Individuals, plan.Managed)
	if err := c.Seed(ctx, pop.File); err != nil {
		t.Fatal(err)
	}
	hooks, err := StartWebhooks(ctx, c, pop)
	if err != nil {
		t.Fatalf("webhook endpoints: %v", err)
	}
	defer hooks.Close()
	run := Execute(ctx, c, pop, plan, hooks)
	rep, err = Check(ctx, c, pop, run)
	if err != nil {
		t.Fatalf("check: %v", err)
	}
	t.Log("\n" + rep.Summary())
	for _, v := range rep.Violations {
		t.Logf("violation %s %s: %s", v.Invariant, v.Subject, v.Detail)
	}
	if why := Explain(ctx, c, rep.Violations); why != "" {
		t.Logf("---- what Postgres and Temporal hold for the violations above\n%s", why)
	}
	return rep, time.Since(began)
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

var idPattern = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)

// linesNaming returns up to limit lines of a log that name an id a violation names: the
// tail rarely reaches back to the moment a violation began.
func linesNaming(log []byte, vs []Violation, limit int) string {
	ids := map[string]bool{}
	for _, v := range vs {
		for _, id := range idPattern.FindAllString(v.Subject+" "+v.Detail, -1) {
			ids[id] = true
		}
	}
	var out []string
	for _, line := range strings.Split(string(log), "\n") {
		for _, id := range idPattern.FindAllString(line, -1) {
			if ids[id] {
				out = append(out, line)
				break
			}
		}
		if len(out) == limit {
			break
		}
	}
	return strings.Join(out, "\n")
}
