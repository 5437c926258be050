package pgserver

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"testing"
	"time"

	"github.com/headshotpro/retryd/internal/store"
	"github.com/headshotpro/retryd/internal/tooling/testenv"
)

// TestServerRunsWithItsSettingsAndCloseRemovesIt starts a real cluster: it must answer
// on its own port with the max_connections asked for and the binaries' version, and
// Close must stop it and leave nothing on disk.
func TestServerRunsWithItsSettingsAndCloseRemovesIt(t *testing.T) {
	if err := Installed(); err != nil {
		if testenv.InCI() {
			t.Fatalf("pgserver: %v (CI=true, so this fails instead of skipping)", err)
		}
		t.Skipf("pgserver: %v (skipping; under CI=true this fails)", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := New(ctx, Options{MaxConnections: 150, TempPrefix: "retryd-pgserver-test-"})
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	t.Cleanup(func() {
		if !closed {
			s.Close()
		}
	})
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(ctx, s.URL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	var maxConns, versionNum int
	var fsync string
	err = db.QueryRowContext(ctx, "SELECT current_setting('max_connections')::int, current_setting('server_version_num')::int, current_setting('fsync')").Scan(&maxConns, &versionNum, &fsync)
	_ = db.Close()
	if err != nil {
		t.Fatal(err)
	}
	if maxConns != 150 || s.MaxConnections() != 150 {
		t.Errorf("max_connections: server %d, MaxConnections() %d; want 150", maxConns, s.MaxConnections())
	}
	if fsync != "on" {
		t.Errorf("fsync %s without FsyncOff; want on", fsync)
	}
	if versionNum/10000 != s.Version() {
		t.Errorf("server_version_num %d, Version() %d: the running server is not the binaries New chose", versionNum, s.Version())
	}
	if _, err := os.Stat(s.LogPath()); err != nil {
		t.Errorf("log: %v", err)
	}

	s.Close()
	closed = true
	if _, err := os.Stat(s.dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("after Close, %s: %v; want it removed", s.dir, err)
	}
	if db, err := store.Open(ctx, s.URL("postgres")); err == nil {
		_ = db.Close()
		t.Error("after Close, the server still accepts connections")
	}
}
