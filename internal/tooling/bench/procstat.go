package bench

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTicks is USER_HZ, the unit of the CPU times in /proc/<pid>/stat. Linux fixes it at
// 100 for user space on every architecture retryd runs on, whatever the kernel's HZ.
const clockTicks = 100

// cpuTime is the CPU time (user plus system, all threads) a process has used so far.
func cpuTime(pid int) (time.Duration, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name is in parentheses and may hold spaces: count fields after it.
	i := bytes.LastIndexByte(raw, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(string(raw[i+1:]))
	// f[0] is field 3 (state), so utime (14) and stime (15) are f[11] and f[12].
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: bad utime/stime %q %q", pid, f[11], f[12])
	}
	return time.Duration(utime+stime) * time.Second / clockTicks, nil
}

// rssBytes is a process's resident memory now (VmRSS).
func rssBytes(pid int) (int64, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest)
			if len(f) != 2 || f[1] != "kB" {
				return 0, fmt.Errorf("/proc/%d/status: VmRSS %q", pid, rest)
			}
			kb, err := strconv.ParseInt(f[0], 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("/proc/%d/status: no VmRSS", pid)
}

// usage is what a phase cost each role: CPU time over the phase and memory at its end.
type usage struct {
	CPU map[Role]time.Duration
	RSS map[Role]int64
	// Engine is what the Temporal server did over the phase; nil when its metrics
	// were not read.
	Engine engineWork
}

// meter measures the CPU the target processes spend between its creation and done:
// the fixed processes, and the Postgres backends of the run's database, which come and
// go with connection pools (one that starts during the phase counts from zero; one that
// exits during it takes its time with it, which pools make rare).
type meter struct {
	procs    []Proc
	backends func(context.Context) ([]int, error) // nil: Postgres is not metered
	before   map[int]time.Duration
	// engineURL is the Temporal server's metrics ("": not read), engine its counters
	// at the start.
	engineURL string
	engine    engineWork
}

func startMeter(ctx context.Context, procs []Proc, backends func(context.Context) ([]int, error), engineURL string) (*meter, error) {
	m := &meter{procs: procs, backends: backends, before: map[int]time.Duration{}, engineURL: engineURL}
	if engineURL != "" {
		var err error
		if m.engine, err = settledEngine(ctx, engineURL); err != nil {
			return nil, err
		}
	}
	for _, p := range procs {
		d, err := cpuTime(p.PID)
		if err != nil {
			return nil, fmt.Errorf("%s (pid %d): %w", p.Role, p.PID, err)
		}
		m.before[p.PID] = d
	}
	pids, err := m.listBackends(ctx)
	if err != nil {
		return nil, err
	}
	for _, pid := range pids {
		if d, err := cpuTime(pid); err == nil {
			m.before[pid] = d
		}
	}
	return m, nil
}

func (m *meter) listBackends(ctx context.Context) ([]int, error) {
	if m.backends == nil {
		return nil, nil
	}
	pids, err := m.backends(ctx)
	if err != nil {
		return nil, fmt.Errorf("list Postgres backends: %w", err)
	}
	return pids, nil
}

func (m *meter) done(ctx context.Context) (usage, error) {
	u := usage{CPU: map[Role]time.Duration{}, RSS: map[Role]int64{}}
	for _, p := range m.procs {
		d, err := cpuTime(p.PID)
		if err != nil {
			return usage{}, fmt.Errorf("%s (pid %d): %w", p.Role, p.PID, err)
		}
		u.CPU[p.Role] += d - m.before[p.PID]
		b, err := rssBytes(p.PID)
		if err != nil {
			return usage{}, fmt.Errorf("%s (pid %d): %w", p.Role, p.PID, err)
		}
		u.RSS[p.Role] += b
	}
	pids, err := m.listBackends(ctx)
	if err != nil {
		return usage{}, err
	}
	for _, pid := range pids {
		if d, err := cpuTime(pid); err == nil {
			u.CPU[RolePostgres] += d - m.before[pid]
		}
	}
	if m.engineURL != "" {
		now, err := settledEngine(ctx, m.engineURL)
		if err != nil {
			return usage{}, err
		}
		u.Engine = now.since(m.engine)
	}
	return u, nil
}
