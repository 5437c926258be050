package faults

import (
	"syscall"

	"github.com/headshotpro/retryd/internal/tooling/pgserver"
)

// The suite's Postgres is a cluster of its own (pgserver), because restarting or
// pausing the machine's shared cluster would break every other test running beside it.

// pause freezes the whole cluster (SIGSTOP) until resume: connections stay open and
// every query hangs, which is worse for clients than a refused connection.
func pause(pg *pgserver.Server) ([]int, error) {
	pids, err := pg.PIDs()
	if err != nil {
		return nil, err
	}
	for _, pid := range pids {
		_ = syscall.Kill(pid, syscall.SIGSTOP)
	}
	return pids, nil
}

func resume(pids []int) {
	for _, pid := range pids {
		_ = syscall.Kill(pid, syscall.SIGCONT)
	}
}
