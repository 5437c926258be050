//go:build !linux

package bench

import (
	"os"
	"os/exec"
)

// terminate: without SIGTERM, stopping means killing.
var terminate = os.Kill

// Elsewhere the processes are stopped by Close only; the benchmark needs Linux's /proc
// for its CPU and memory figures anyway.
func setProcAttr(*exec.Cmd) {}
