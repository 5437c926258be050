package bench

import (
	"context"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"

	"github.com/headshotpro/retryd/internal/store"
)

// Machine is where a run happened, for the report.
type Machine struct {
	CPUs        int
	MemoryBytes int64
	GoVersion   string
	Postgres    string
	Commit      string
	LoadBefore  string
	LoadAfter   string
}

func describeMachine(ctx context.Context, repoRoot, databaseURL string) Machine {
	m := Machine{CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), Commit: gitCommit(ctx, repoRoot), LoadBefore: loadAverage()}
	if raw, err := os.ReadFile("/proc/meminfo"); err == nil {
		for line := range strings.SplitSeq(string(raw), "\n") {
			if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				if f := strings.Fields(rest); len(f) == 2 {
					kb, _ := strconv.ParseInt(f[0], 10, 64)
					m.MemoryBytes = kb << 10
				}
			}
		}
	}
	m.Postgres = "Postgres (version unknown)"
	if db, err := store.Open(ctx, databaseURL); err == nil {
		var v string
		if db.QueryRowContext(ctx, "SHOW server_version").Scan(&v) == nil {
			m.Postgres = "Postgres " + strings.Fields(v)[0]
		}
		_ = db.Close()
	}
	return m
}

// loadAverage is the one-minute load average: on a shared machine it says how far to
// trust the figures.
func loadAverage() string {
	raw, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(raw))
	if len(f) == 0 {
		return "?"
	}
	return f[0]
}

// gitCommit is the short commit of the checkout, marked "+dirty" when it has changes.
func gitCommit(ctx context.Context, root string) string {
	out, err := exec.CommandContext(ctx, "git", "-C", root, "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	commit := strings.TrimSpace(string(out))
	if st, err := exec.CommandContext(ctx, "git", "-C", root, "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(strings.TrimSpace(string(st))) > 0 {
		commit += "+dirty"
	}
	return commit
}
