// Package supervisor runs the system under test as real, separate processes: each one can
// be started, killed with SIGKILL and started again with the same command line, its output
// appended to one log file across restarts, and one-shot commands (a migration, a seed)
// run to completion. The fault suite and the production-topology harness both use it.
package supervisor

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// Proc is one child process the suite can start, kill -9 and start again with the same
// command line, its output appended to one log file across restarts.
type Proc struct {
	Name    string
	Path    string
	Args    []string
	Env     []string
	LogPath string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	held bool // deliberately down: the supervisor leaves it alone
	// restarts counts starts by the supervisor after the process exited on its own.
	restarts int
}

// Hold marks the process as deliberately down (true) or back in the supervisor's care.
func (p *Proc) Hold(v bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.held = v
}

// Revive starts the process again when it exited on its own and is not held, as a
// service manager would (compose's restart: unless-stopped). A retryd process that
// cannot reach Postgres at start exits with code 4 and is revived on the next round.
func (p *Proc) Revive() bool {
	p.mu.Lock()
	down := p.cmd != nil && !p.held
	if down {
		select {
		case <-p.done:
		default:
			down = false
		}
	}
	p.mu.Unlock()
	if !down || p.Start() != nil {
		return false
	}
	p.mu.Lock()
	p.restarts++
	p.mu.Unlock()
	return true
}

// Start runs the command line; an error when it is already running.
func (p *Proc) Start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		select {
		case <-p.done:
		default:
			return fmt.Errorf("%s: already running", p.Name)
		}
	}
	logf, err := os.OpenFile(p.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	fmt.Fprintf(logf, "\n=== %s start %s\n", p.Name, time.Now().UTC().Format(time.RFC3339Nano))
	cmd := exec.Command(p.Path, p.Args...)
	cmd.Env = p.Env
	cmd.Stdout, cmd.Stderr = logf, logf
	// Its own group, so a kill reaches everything it runs; Pdeathsig so a test binary
	// killed by -timeout does not leave servers behind.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		_ = logf.Close()
		return fmt.Errorf("%s: start: %w", p.Name, err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		_ = logf.Close()
		close(done)
	}()
	p.cmd, p.done = cmd, done
	return nil
}

// Signal sends sig to the process group; false when nothing is running.
func (p *Proc) Signal(sig syscall.Signal) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.runningLocked() {
		return false
	}
	err := syscall.Kill(-p.cmd.Process.Pid, sig)
	return err == nil || !errors.Is(err, syscall.ESRCH)
}

// Kill9 is the crash: SIGKILL to the whole group, then wait for it to be gone.
func (p *Proc) Kill9() {
	p.Signal(syscall.SIGKILL)
	p.Wait(30 * time.Second)
}

// Stop asks politely first (SIGTERM), for the end of a run.
func (p *Proc) Stop() {
	if p.Signal(syscall.SIGTERM) && !p.Wait(15*time.Second) {
		p.Kill9()
	}
}

func (p *Proc) Wait(d time.Duration) bool {
	p.mu.Lock()
	done := p.done
	p.mu.Unlock()
	if done == nil {
		return true
	}
	select {
	case <-done:
		return true
	case <-time.After(d):
		return false
	}
}

func (p *Proc) Running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.runningLocked()
}

// runningLocked is running for a caller that holds p.mu.
func (p *Proc) runningLocked() bool {
	if p.cmd == nil {
		return false
	}
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// Restarts counts the starts Revive made after the process exited on its own.
func (p *Proc) Restarts() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.restarts
}

// Pid is the running process's id, or 0.
func (p *Proc) Pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.runningLocked() {
		return 0
	}
	return p.cmd.Process.Pid
}
