package main

import (
	"strings"
	"testing"
	"time"

	"github.com/headshotpro/retryd/internal/config"
	"github.com/headshotpro/retryd/internal/devserver"
	"github.com/headshotpro/retryd/internal/wiring"
)

// TestHelpListsEveryVariable: `retryd --help` and a command's --help print every
// variable retryd reads, including the Temporal CLI path that dev and the tests use.
func TestHelpListsEveryVariable(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"dev", "--help"}, {"work", "-h"}} {
		code, out, _ := keysRun(t, args...)
		if code != exitOK {
			t.Fatalf("%v: exit %d", args, code)
		}
		for _, v := range config.Vars {
			if !strings.Contains(out, "  "+v.Name+" ") {
				t.Errorf("%v: help lacks %s", args, v.Name)
			}
		}
		line := lineWith(out, devserver.EnvCLIPath)
		if line == "" {
			t.Fatalf("%v: help lacks %s:\n%s", args, devserver.EnvCLIPath, out)
		}
		// The default printed must be the path devserver builds to, version included.
		if !strings.Contains(line, "temporal-"+devserver.CLIVersion+"/temporal") {
			t.Errorf("%v: %s default does not name CLI %s: %q", args, devserver.EnvCLIPath, devserver.CLIVersion, line)
		}
	}
}

func lineWith(out, name string) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), name+" ") {
			return l
		}
	}
	return ""
}

// TestWorkerStopsWithinShutdownTimeout: SHUTDOWN_TIMEOUT bounds the worker's drain as
// well as the API's (worker/worker_test.go shows the worker honouring StopTimeout).
func TestWorkerStopsWithinShutdownTimeout(t *testing.T) {
	env := map[string]string{"LINK_SECRET": "0123456789abcdef", "SHUTDOWN_TIMEOUT": "7s", "TEMPORAL_TASK_QUEUE": "q1", "MAILERSEND_API_KEY": "mlsn.test", "MAIL_RATE_PER_MINUTE": "90"}
	cfg, err := config.Load(config.ModeWork, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	opts := wiring.WorkerOptions(cfg)
	if opts.StopTimeout != 7*time.Second || opts.TaskQueue != "q1" || opts.EmailsPerMinute != 90 {
		t.Errorf("worker options = %+v, want StopTimeout 7s, TaskQueue q1 and EmailsPerMinute 90", opts)
	}
}
