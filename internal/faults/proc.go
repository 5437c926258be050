package faults

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// proc is one child process the suite can start, kill -9 and start again with the same
// command line, its output appended to one log file across restarts.
type proc struct {
	name    string
	path    string
	args    []string
	env     []string
	logPath string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	held bool // deliberately down: the supervisor leaves it alone
	// restarts counts starts by the supervisor after the process exited on its own.
	restarts int
}

// hold marks the process as deliberately down (true) or back in the supervisor's care.
func (p *proc) hold(v bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.held = v
}

// revive starts the process again when it exited on its own and is not held, as a
// service manager would (compose's restart: unless-stopped). A retryd process that
// cannot reach Postgres at start exits with code 4 and is revived on the next round.
func (p *proc) revive() bool {
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
	if !down || p.start() != nil {
		return false
	}
	p.mu.Lock()
	p.restarts++
	p.mu.Unlock()
	return true
}

func (p *proc) start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		select {
		case <-p.done:
		default:
			return fmt.Errorf("%s: already running", p.name)
		}
	}
	logf, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	fmt.Fprintf(logf, "\n=== %s start %s\n", p.name, time.Now().UTC().Format(time.RFC3339Nano))
	cmd := exec.Command(p.path, p.args...)
	cmd.Env = p.env
	cmd.Stdout, cmd.Stderr = logf, logf
	// Its own group, so a kill reaches everything it runs; Pdeathsig so a test binary
	// killed by -timeout does not leave servers behind.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		_ = logf.Close()
		return fmt.Errorf("%s: start: %w", p.name, err)
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

// signal sends sig to the process group; false when nothing is running.
func (p *proc) signal(sig syscall.Signal) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.runningLocked() {
		return false
	}
	err := syscall.Kill(-p.cmd.Process.Pid, sig)
	return err == nil || !errors.Is(err, syscall.ESRCH)
}

// kill9 is the crash: SIGKILL to the whole group, then wait for it to be gone.
func (p *proc) kill9() {
	p.signal(syscall.SIGKILL)
	p.wait(30 * time.Second)
}

// stop asks politely first (SIGTERM), for the end of a run.
func (p *proc) stop() {
	if p.signal(syscall.SIGTERM) && !p.wait(15*time.Second) {
		p.kill9()
	}
}

func (p *proc) wait(d time.Duration) bool {
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

func (p *proc) running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.runningLocked()
}

// runningLocked is running for a caller that holds p.mu.
func (p *proc) runningLocked() bool {
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
