//go:build unix && !linux

package devserver

import (
	"os/exec"
	"syscall"
)

func setProcAttr(cmd *exec.Cmd) {
	// Its own group, so Stop reaches every process the server runs.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}
