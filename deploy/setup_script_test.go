package deploy_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/headshotpro/retryd/internal/devserver"
	"github.com/headshotpro/retryd/internal/tooling/testenv"
)

// TestTemporalSetupScript runs the search-attribute job's script, with the arguments the
// compose file gives it, against a fresh Temporal dev server (Temporal 1.29.1, the
// version the compose file pins; its SQL visibility store takes the same path as
// Postgres). The namespace does not exist beforehand, so the script's own namespace
// creation runs too. A second run must succeed and change nothing; a type conflict must
// fail.
func TestTemporalSetupScript(t *testing.T) {
	cliPath := testenv.TemporalCLI(t)
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash not found")
	}
	args := []string(service(t, mustLoad(t), "temporal-setup").Command)

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	srv, err := devserver.Start(ctx, devserver.Options{CLIPath: cliPath, Headless: true})
	if err != nil {
		t.Fatalf("start Temporal dev server: %v", err)
	}
	t.Cleanup(func() {
		if err := srv.Stop(); err != nil {
			t.Errorf("stop Temporal dev server: %v", err)
		}
	})
	const namespace = "retryd-setup-test"

	run := func(args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, bash, append([]string{filepath.Join(repoRoot(t), setupScript)}, args...)...)
		cmd.Env = append(os.Environ(),
			"TEMPORAL_CLI="+cliPath,
			"TEMPORAL_ADDRESS="+srv.Address,
			"TEMPORAL_NAMESPACE="+namespace,
			"SETUP_ATTEMPTS=30",
		)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		return out.String(), err
	}

	for i := 1; i <= 2; i++ {
		if out, err := run(args...); err != nil {
			t.Fatalf("run %d: %v\n%s", i, err, out)
		}
	}

	c, err := client.DialContext(ctx, client.Options{HostPort: srv.Address, Namespace: namespace})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	resp, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: namespace})
	if err != nil {
		t.Fatal(err)
	}
	for _, arg := range args {
		name, _, _ := strings.Cut(arg, "=")
		if got := resp.GetCustomAttributes()[name]; got != enums.INDEXED_VALUE_TYPE_KEYWORD {
			t.Errorf("search attribute %s: type %v, want Keyword", name, got)
		}
	}
	if n := len(resp.GetCustomAttributes()); n != len(args) {
		t.Errorf("namespace has %d custom search attributes, want %d: %v", n, len(args), resp.GetCustomAttributes())
	}

	out, err := run(strings.SplitN(args[0], "=", 2)[0] + "=Int")
	if err == nil {
		t.Errorf("registering %s with another type succeeded; it must fail:\n%s", args[0], out)
	} else if !strings.Contains(out, "different type") {
		t.Errorf("type conflict: output does not explain it:\n%s", out)
	}
	if out, err := run("NoType"); err == nil || !strings.Contains(out, "Name=Type") {
		t.Errorf("a malformed argument should fail with usage help, got err=%v:\n%s", err, out)
	}
}
