package testenv_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/headshotpro/retryd/internal/tooling/testenv"
)

// TestChromiumMissing runs this test binary again with a Chromium path that does not
// exist: under CI=true the browser tests must fail, elsewhere they skip.
func TestChromiumMissing(t *testing.T) {
	if os.Getenv("TESTENV_CHROMIUM_CHILD") == "1" {
		testenv.Chromium(t)
		return
	}
	for _, tc := range []struct {
		ci       string
		wantFail bool
		want     string
	}{
		{"true", true, "CI=true, so this fails instead of skipping"},
		{"", false, "--- SKIP: TestChromiumMissing"},
	} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestChromiumMissing$", "-test.v")
		cmd.Env = append(os.Environ(), "TESTENV_CHROMIUM_CHILD=1", "CI="+tc.ci, testenv.EnvChromium+"="+t.TempDir()+"/no-chromium")
		out, err := cmd.CombinedOutput()
		if (err != nil) != tc.wantFail || !strings.Contains(string(out), tc.want) {
			t.Errorf("CI=%q: err = %v, want failure %v and %q in:\n%s", tc.ci, err, tc.wantFail, tc.want, out)
		}
	}
}
