package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	neturl "net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/headshotpro/retryd/internal/store"
)

// emptyDatabase creates a database with no tables at all and drops it when the test
// ends. (testenv.Database migrates its databases; this is the state of a new install.)
func emptyDatabase(t *testing.T) string {
	t.Helper()
	adminURL := os.Getenv("TEST_DATABASE_URL")
	if adminURL == "" {
		adminURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	}
	u, err := neturl.Parse(adminURL)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	admin, err := store.Open(ctx, adminURL)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("Postgres not reachable at %s: %v (CI=true, so this fails instead of skipping)", u.Redacted(), err)
		}
		t.Skipf("Postgres not reachable at %s: %v (skipping; under CI=true this fails)", u.Redacted(), err)
	}
	defer func() { _ = admin.Close() }()

	var rnd [6]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		t.Fatal(err)
	}
	name := "retryd_test_seed_" + hex.EncodeToString(rnd[:])
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		admin, err := store.Open(ctx, adminURL)
		if err != nil {
			t.Errorf("drop database %s: %v", name, err)
			return
		}
		defer func() { _ = admin.Close() }()
		if _, err := admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	dbURL := *u
	dbURL.Path = "/" + name
	return dbURL.String()
}

const seedFileWithoutIDs = `{"organizations": [{
  "name": "Acme", "credit_balance": 10,
  "admins": [{"email": "lead@acme.test", "name": "Lee", "role": "owner", "api_key": "rk_seed_test_admin_key_0123456789abcdefghijklmn"}],
  "automation_keys": ["rk_seed_test_automation_key_0123456789abcdefghij"],
  "members": [
    {"name": "Ada", "email": "ada@acme.test", "kind": "individual",
     "shoots": [{"status": "active", "completed_at": "2026-11-01T10:00:00Z", "results": 8}]},
    {"name": "Max", "kind": "managed", "shoots": [{"status": "deleted", "deleted_at": "2026-10-01T10:00:00Z"}]}
  ]
}]}`

var generatedLine = regexp.MustCompile(`(?m)^generated id [0-9a-f-]{36} for \S+$`)

func TestSeedCommandOnEmptyDatabase(t *testing.T) {
	t.Setenv("DATABASE_URL", emptyDatabase(t))
	dir := t.TempDir()
	path := filepath.Join(dir, "seed.json")
	if err := os.WriteFile(path, []byte(seedFileWithoutIDs), 0o600); err != nil {
		t.Fatal(err)
	}

	seedRun := func() string {
		t.Helper()
		var out, errOut bytes.Buffer
		if code := run([]string{"seed", "--file", path}, &out, &errOut); code != exitOK {
			t.Fatalf("seed: exit %d, stderr %s", code, errOut.String())
		}
		return out.String()
	}

	first := seedRun()
	if !strings.Contains(first, "inserted: 1 organizations, 1 admins, 2 api keys, 2 members, 2 shoots, 8 results\n") {
		t.Errorf("first run:\n%s", first)
	}
	// organization, admin, 2 members, 2 shoots
	gen := generatedLine.FindAllString(first, -1)
	if len(gen) != 6 {
		t.Fatalf("first run printed %d generated ids, want 6:\n%s", len(gen), first)
	}

	second := seedRun()
	if !strings.Contains(second, "inserted: 0 organizations, 0 admins, 0 api keys, 0 members, 0 shoots, 0 results\n") {
		t.Errorf("second run inserted rows:\n%s", second)
	}
	if again := generatedLine.FindAllString(second, -1); strings.Join(again, "\n") != strings.Join(gen, "\n") {
		t.Errorf("generated ids differ between runs:\n%s\n---\n%s", strings.Join(gen, "\n"), strings.Join(again, "\n"))
	}

	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"organizations": [{"name": "Acme",}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if code := run([]string{"seed", "--file", bad}, &out, &errOut); code != exitUsage {
		t.Errorf("malformed file: exit %d, want %d; stderr %s", code, exitUsage, errOut.String())
	}
	if !strings.Contains(errOut.String(), "invalid JSON") {
		t.Errorf("malformed file: stderr %q does not say why", errOut.String())
	}
}
