package workflows_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"testing"
	"time"
)

// TestReplayWithAnotherOpsDefault builds this package again with DefaultOpsPerRun set to
// 1 (go's -overlay swaps lifecycle.go for a changed copy) and replays every recorded
// history with it. How many ops a run takes before it continues as new must come from
// its history, never from the constant of the code replaying it: a deploy that changes
// the constant must not break the retries that have been pending for weeks.
func TestReplayWithAnotherOpsDefault(t *testing.T) {
	src, err := os.ReadFile("lifecycle.go")
	if err != nil {
		t.Fatal(err)
	}
	line := regexp.MustCompile(`(?m)^(\s*DefaultOpsPerRun\s*=\s*)\d+\s*$`)
	if !line.Match(src) {
		t.Fatalf("lifecycle.go does not set DefaultOpsPerRun = <n> on a line of its own; this test changes that line")
	}
	dir := t.TempDir()
	changed := filepath.Join(dir, "lifecycle.go")
	if err := os.WriteFile(changed, line.ReplaceAll(src, []byte("${1}1")), 0o644); err != nil {
		t.Fatal(err)
	}
	orig, err := filepath.Abs("lifecycle.go")
	if err != nil {
		t.Fatal(err)
	}
	overlay, err := json.Marshal(map[string]map[string]string{"Replace": {orig: changed}})
	if err != nil {
		t.Fatal(err)
	}
	overlayPath := filepath.Join(dir, "overlay.json")
	if err := os.WriteFile(overlayPath, overlay, 0o644); err != nil {
		t.Fatal(err)
	}

	// The same build flags as this test binary's, so the build reuses its cached packages.
	args := []string{"test", "-count=1", "-overlay", overlayPath, "-run", "^TestReplayRecordedHistories$"}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			switch {
			case s.Key == "-race" && s.Value == "true":
				args = append(args, "-race")
			case s.Key == "-tags" && s.Value != "":
				args = append(args, "-tags", s.Value)
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", append(args, ".")...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		var failures bytes.Buffer
		for _, l := range bytes.Split(out, []byte("\n")) {
			if bytes.Contains(l, []byte("FAIL")) || bytes.Contains(l, []byte("replay:")) {
				failures.Write(append(l, '\n'))
			}
		}
		t.Fatalf("go %v: %v\nthe recorded histories do not replay with DefaultOpsPerRun = 1:\n%s", args, err, failures.String())
	}
}
