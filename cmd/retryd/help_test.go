package main

import (
	"strings"
	"testing"

	"github.com/headshotpro/retryd/internal/config"
	"github.com/headshotpro/retryd/internal/devserver"
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
