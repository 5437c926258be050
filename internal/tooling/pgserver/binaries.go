package pgserver

import (
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strconv"
)

// ErrNoBinaries says the machine has no Postgres server binaries to run a cluster with.
var ErrNoBinaries = errors.New("no /usr/lib/postgresql/*/bin with initdb and pg_ctl (install the postgresql package)")

// findBin picks the newest /usr/lib/postgresql/*/bin with initdb and pg_ctl.
func findBin() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return versionOf(dirs[i]) > versionOf(dirs[j]) })
	for _, d := range dirs {
		if isExec(filepath.Join(d, "initdb")) && isExec(filepath.Join(d, "pg_ctl")) {
			return d, nil
		}
	}
	return "", ErrNoBinaries
}

// versionOf is the major version a Debian-style bin directory is named for.
func versionOf(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

func isExec(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

// Installed says whether New can run: nil, or ErrNoBinaries. Tests check it first, to
// skip (or fail under CI) with the reason instead of failing inside New.
func Installed() error {
	_, err := findBin()
	return err
}
