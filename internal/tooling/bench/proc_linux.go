package bench

import (
	"os/exec"
	"syscall"
)

// terminate is the polite stop a deploy sends.
var terminate = syscall.SIGTERM

// setProcAttr: a benchmark killed by a timeout must not leave retryd processes behind.
func setProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
