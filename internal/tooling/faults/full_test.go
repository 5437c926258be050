//go:build faults

package faults

import (
	"bytes"
	"os"
	"testing"
)

// TestFaultsFull is the full fault run. It is behind the build tag `faults` because it
// takes about six minutes; scripts/faults.sh runs it and, through
// RETRYD_FAULTS_REPORT, writes its figures into docs/reliability.md. It fails on any
// violated invariant: the report lists each one.
func TestFaultsFull(t *testing.T) {
	rep, took := runPlan(t, FullPlan())
	if out := os.Getenv("RETRYD_FAULTS_REPORT"); out != "" {
		var b bytes.Buffer
		rep.WriteMarkdown(&b, "bash scripts/faults.sh", took)
		if err := os.WriteFile(out, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if rep.totalFaults() < len(FullPlan().Faults) {
		t.Errorf("%d of %d faults injected", rep.totalFaults(), len(FullPlan().Faults))
	}
	if len(rep.Violations) > 0 || rep.Lost > 0 || rep.Doubled > 0 || !rep.Recovered {
		t.Errorf("the full run broke invariants:\n%s", rep.Summary())
	}
}
