//go:build !unix

package devserver

import "os/exec"

// Without process groups or SIGTERM, stopping means killing the one process.

func setProcAttr(*exec.Cmd) {}

func terminateGroup(cmd *exec.Cmd) error { return cmd.Process.Kill() }

func killGroup(cmd *exec.Cmd) error { return cmd.Process.Kill() }
