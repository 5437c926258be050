package supervisor

import (
	"context"
	"os/exec"
)

// Run runs a one-shot command (a migration, a seed) to completion and returns its output.
func Run(ctx context.Context, bin string, env []string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = env
	return cmd.CombinedOutput()
}
