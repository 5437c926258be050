package supervisor

import (
	"path/filepath"
	"testing"
	"time"
)

// A process killed with -9 is down; Revive starts it again with the same command line
// and counts it, but not while it is held down on purpose.
func TestKillAndRevive(t *testing.T) {
	p := &Proc{Name: "sleeper", Path: "/bin/sleep", Args: []string{"60"}, LogPath: filepath.Join(t.TempDir(), "sleeper.log")}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	defer p.Stop()
	first := p.Pid()
	if !p.Running() || first == 0 {
		t.Fatalf("not running after Start (pid %d)", first)
	}
	if err := p.Start(); err == nil {
		t.Fatalf("a second Start of a running process succeeded")
	}
	p.Hold(true)
	p.Kill9()
	if p.Running() || p.Pid() != 0 {
		t.Fatalf("still running after Kill9")
	}
	if p.Revive() {
		t.Fatalf("Revive started a process that is held down")
	}
	p.Hold(false)
	if !p.Revive() || !p.Running() || p.Pid() == first || p.Restarts() != 1 {
		t.Fatalf("Revive: running %v, pid %d (was %d), restarts %d", p.Running(), p.Pid(), first, p.Restarts())
	}
	if p.Wait(10 * time.Millisecond) {
		t.Fatalf("Wait says a running process has exited")
	}
	p.Stop()
	if !p.Wait(5 * time.Second) {
		t.Fatalf("still running after Stop")
	}
}
