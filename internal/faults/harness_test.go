package faults

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/headshotpro/retryd/internal/testenv"
)

// runPlan starts a cluster, runs plan and returns the verdict. A missing dependency
// skips on a developer's machine and fails under CI=true, like every integration test.
func runPlan(t *testing.T, plan Plan) (*Report, time.Duration) {
	t.Helper()
	cli := testenv.TemporalCLI(t)
	if _, err := findPostgresBin(); err != nil {
		if testenv.InCI() {
			t.Fatalf("faults: %v (CI=true, so this fails instead of skipping)", err)
		}
		t.Skipf("faults: %v (skipping; under CI=true this fails)", err)
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
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
		if t.Failed() || os.Getenv("RETRYD_FAULTS_LOGS") != "" {
			for _, name := range []string{"api.log", "worker.log", "temporal.log"} {
				if b, err := os.ReadFile(filepath.Join(dir, name)); err == nil {
					t.Logf("---- %s (tail)\n%s", name, tail(b, 6000))
				}
			}
		}
	}()
	org := NewOrg(plan.Individuals, plan.Managed)
	if err := c.Seed(ctx, org.File); err != nil {
		t.Fatal(err)
	}
	run := Execute(ctx, c, org, plan)
	rep, err := Check(ctx, c, org, run)
	if err != nil {
		t.Fatalf("check: %v", err)
	}
	t.Log("\n" + rep.Summary())
	for _, v := range rep.Violations {
		t.Logf("violation %s %s: %s", v.Invariant, v.Subject, v.Detail)
	}
	return rep, time.Since(began)
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
