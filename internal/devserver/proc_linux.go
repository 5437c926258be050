package devserver

import (
	"os/exec"
	"syscall"
)

func setProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{
		// Its own group, so Stop reaches every process the server runs.
		Setpgid: true,
		// A test binary killed by -timeout never calls Stop; without this the server would
		// outlive it, holding ports and memory. (The signal follows the forking OS thread,
		// which the Go runtime keeps alive unless a goroutine exits while locked to it.)
		Pdeathsig: syscall.SIGKILL,
	}
}
