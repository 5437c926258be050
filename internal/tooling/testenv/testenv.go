// Package testenv gives integration tests a fresh Postgres database and a shared Temporal
// dev server.
//
// A missing dependency skips the test on a developer's machine but fails it under CI
// (CI=true): a CI run that silently skipped its integration tests would pass while
// proving nothing.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	neturl "net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/headshotpro/retryd/internal/devserver"
	"github.com/headshotpro/retryd/internal/store"
	"github.com/headshotpro/retryd/internal/tooling/pgadmin"
	"github.com/headshotpro/retryd/workflows"
)

// EnvDatabaseURL names the admin connection URL; the user needs CREATEDB.
const EnvDatabaseURL = "TEST_DATABASE_URL"

// DefaultDatabaseURL is the local Postgres that .ci/run starts.
const DefaultDatabaseURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// InCI tells whether missing dependencies must fail tests instead of skipping them.
func InCI() bool { return os.Getenv("CI") == "true" }

// missing fails under CI and skips elsewhere.
func missing(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if InCI() {
		t.Fatalf("%s (CI=true, so this fails instead of skipping)", msg)
	}
	t.Skip(msg + " (skipping; under CI=true this fails)")
}

// Database creates a fresh, migrated database and drops it when the test ends. It
// returns the open handle and the database's URL (for code under test that opens its own).
func Database(t testing.TB) (db *bun.DB, url string) {
	t.Helper()
	url = DatabaseURL(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	db, err := store.Open(ctx, url)
	if err != nil {
		t.Fatalf("testenv: open the test database: %v", err)
	}
	// Cleanups run last-registered first: the handle closes before the drop.
	t.Cleanup(func() { _ = db.Close() })
	return db, url
}

// DatabaseURL creates and migrates a fresh database, as Database does, and returns only
// its URL: for a caller that opens its own pool (apptest, through the composition root).
// The database is dropped when the test ends.
func DatabaseURL(t testing.TB) string {
	t.Helper()
	adminURL := os.Getenv(EnvDatabaseURL)
	if adminURL == "" {
		adminURL = DefaultDatabaseURL
	}
	u, err := neturl.Parse(adminURL)
	if err != nil {
		t.Fatalf("testenv: parse %s: %v", EnvDatabaseURL, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	admin, err := store.Open(ctx, adminURL)
	if err != nil {
		missing(t, "testenv: Postgres not reachable at %s: %v; start it (.ci/run does) or set %s",
			u.Redacted(), err, EnvDatabaseURL)
	}
	defer func() { _ = admin.Close() }()

	var rnd [6]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		t.Fatalf("testenv: random name: %v", err)
	}
	name := "retryd_test_" + hex.EncodeToString(rnd[:])
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("testenv: create database %s on %s: %v", name, u.Redacted(), err)
	}
	// Registered before opening, so a failed migration still drops the database.
	t.Cleanup(func() { dropDatabase(t, adminURL, name) })

	dbURL := *u
	dbURL.Path = "/" + name
	db, err := store.Open(ctx, dbURL.String())
	if err != nil {
		t.Fatalf("testenv: open %s: %v", name, err)
	}
	defer func() { _ = db.Close() }()
	if _, err := store.Migrate(ctx, db); err != nil {
		t.Fatalf("testenv: migrate %s: %v", name, err)
	}
	return dbURL.String()
}

func dropDatabase(t testing.TB, adminURL, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// The drop is FORCEd: it ends connections the code under test may have leaked, which
	// would otherwise block it.
	if err := pgadmin.DropDatabase(ctx, adminURL, name); err != nil {
		t.Errorf("testenv: drop database %s: %v", name, err)
	}
}

// TemporalCLI returns the Temporal CLI path (devserver.DefaultCLIPath), or skips/fails
// the test when the binary is missing. Tests never build it: a five-minute build inside
// a test's timeout is a poor surprise.
func TemporalCLI(t testing.TB) string {
	t.Helper()
	path, problem := findCLI()
	if problem != "" {
		missing(t, "%s", problem)
	}
	return path
}

func findCLI() (path, problem string) {
	path = devserver.DefaultCLIPath()
	if fi, err := os.Stat(path); err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
		return path, fmt.Sprintf("testenv: Temporal CLI not found at %s; run scripts/temporal-cli.sh to build it", path)
	}
	return path, ""
}

var shared struct {
	once   sync.Once
	mu     sync.Mutex
	server *devserver.Server
	skip   string // why the CLI is unavailable
	err    error
}

// Temporal returns the dev server shared by the whole test binary: headless, in memory,
// with workflows.SearchAttributeNames registered on "default". Tests sharing it should
// use unique workflow ids. Use Main in TestMain to stop it when the tests end.
func Temporal(t testing.TB) *devserver.Server {
	t.Helper()
	shared.once.Do(func() {
		path, problem := findCLI()
		if problem != "" {
			shared.skip = problem
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		srv, err := devserver.Start(ctx, devserver.Options{
			CLIPath:          path,
			Headless:         true,
			SearchAttributes: workflows.SearchAttributeNames,
		})
		shared.mu.Lock()
		shared.server, shared.err = srv, err
		shared.mu.Unlock()
	})
	if shared.skip != "" {
		missing(t, "%s", shared.skip)
	}
	if shared.err != nil {
		t.Fatalf("testenv: start Temporal dev server: %v", shared.err)
	}
	return shared.server
}

// Main runs the tests, stops the shared dev server if one was started, and exits with
// the tests' code. Use it as TestMain: func TestMain(m *testing.M) { testenv.Main(m) }.
func Main(m *testing.M) {
	code := m.Run()
	shared.mu.Lock()
	srv := shared.server
	shared.mu.Unlock()
	if err := srv.Stop(); err != nil {
		fmt.Fprintf(os.Stderr, "testenv: stop Temporal dev server: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}
