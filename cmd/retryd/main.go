// Command retryd is the headshot retries service: one binary with the API server, the
// Temporal worker, migrations, loading seed files and an all-in-one dev mode.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/headshotpro/retryd/internal/app"
	"github.com/headshotpro/retryd/internal/config"
)

// Exit codes say what went wrong, for process supervisors and scripts.
const (
	exitOK         = 0
	exitFailure    = 1
	exitUsage      = 2
	exitConfig     = 3
	exitDependency = 4
)

// usageError picks exit code 2; app.ConfigError and app.DependencyError pick 3 and 4.
type usageError struct{ error }

type command struct {
	name    string
	summary string
	usage   string
	run     func(ctx context.Context, args []string, stdout io.Writer) error
}

func commands() []command {
	return []command{
		{"serve", "run the HTTP API", "retryd serve", runServe},
		{"work", "run the Temporal worker (workflows and activities)", "retryd work", runWork},
		{"migrate", "apply the database migrations", "retryd migrate", runMigrate},
		{"seed", "load organizations from a seed file, idempotently", "retryd seed --file F.json", runSeed},
		{"keys", "manage API keys: create, list, revoke", "retryd keys create --org ID --role admin|automation [--admin ID] | keys list --org ID | keys revoke ID", runKeys},
		{"resume", "carry on pending retries and restarts whose workflow is gone (after a terminate or a restore); attaches to running ones", "retryd resume --all | --retry ID | --restart ID", runResume},
		{"probe", "GET a URL and exit 0 on 2xx (container healthchecks)", "retryd probe URL", runProbe},
		{"dev", "run everything on this machine: Temporal dev server and UI, migrations, demo data, local mail, API and worker", "retryd dev", runDev},
	}
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || isHelp(args[0]) {
		printUsage(stdout)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	for _, cmd := range commands() {
		if cmd.name != args[0] {
			continue
		}
		if len(args) > 1 && isHelp(args[1]) {
			fmt.Fprintf(stdout, "%s\n\nUsage: %s\n\n", cmd.summary, cmd.usage)
			printEnv(stdout)
			return exitOK
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		err := cmd.run(ctx, args[1:], stdout)
		return exitCode(err, stderr)
	}
	fmt.Fprintf(stderr, "retryd: unknown command %q\n\n", args[0])
	printUsage(stderr)
	return exitUsage
}

func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return exitOK
	}
	fmt.Fprintf(stderr, "retryd: %v\n", err)
	var ue usageError
	var ce app.ConfigError
	var de app.DependencyError
	switch {
	case errors.As(err, &ue):
		return exitUsage
	case errors.As(err, &ce):
		return exitConfig
	case errors.As(err, &de):
		return exitDependency
	}
	return exitFailure
}

func isHelp(a string) bool { return a == "-h" || a == "--help" || a == "help" }

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "retryd: give headshot retries to team members (API, Temporal worker and tools)")
	fmt.Fprintln(w, "\nUsage: retryd <command> [flags]\n\nCommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'retryd <command> --help' for a command's flags and environment.")
	fmt.Fprintln(w)
	printEnv(w)
	fmt.Fprintln(w, "\nExit codes: 0 ok, 1 failure, 2 usage, 3 configuration, 4 dependency (Postgres, Temporal) unreachable.")
}

func printEnv(w io.Writer) {
	fmt.Fprintln(w, "Environment:")
	for _, v := range config.Vars {
		fmt.Fprintf(w, "  %-22s %s (default: %s)\n", v.Name, v.Meaning, v.Default)
	}
}

func loadConfig(mode config.Mode) (*config.Config, error) {
	cfg, err := config.FromEnv(mode)
	if err != nil {
		return nil, app.ConfigError{Err: err}
	}
	return cfg, nil
}

// noArgs refuses stray arguments so a typo is not silently ignored.
func noArgs(args []string) error {
	if len(args) > 0 {
		return usageError{fmt.Errorf("unexpected arguments: %s", strings.Join(args, " "))}
	}
	return nil
}
