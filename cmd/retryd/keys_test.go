package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/headshotpro/retryd/internal/apikey"
	"github.com/headshotpro/retryd/internal/store"
	"github.com/headshotpro/retryd/internal/tooling/testenv"
)

// keysRun runs the binary's entry point and returns its exit code and output.
func keysRun(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// keysSecret finds the line holding the whole secret.
func keysSecret(t *testing.T, out string) string {
	t.Helper()
	var found []string
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, apikey.Prefix) && !strings.Contains(line, " ") {
			found = append(found, line)
		}
	}
	if len(found) != 1 {
		t.Fatalf("want the secret once on its own line, found %d in:\n%s", len(found), out)
	}
	return found[0]
}

func TestKeysCommand(t *testing.T) {
	db, url := testenv.Database(t)
	t.Setenv("DATABASE_URL", url)
	ctx := context.Background()

	org := &store.Organization{ID: uuid.NewString(), Name: "Acme", CreditBalance: 3}
	admin := &store.Admin{ID: uuid.NewString(), OrgID: org.ID, Email: "ada@acme.test", Name: "Ada", Role: "owner"}
	if _, err := db.NewInsert().Model(org).Exec(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := db.NewInsert().Model(admin).Exec(ctx); err != nil {
		t.Fatal(err)
	}

	code, out, errOut := keysRun(t, "keys", "create", "--org", org.ID, "--role", "admin", "--admin", admin.ID)
	if code != exitOK {
		t.Fatalf("create admin key: exit %d, stderr %s", code, errOut)
	}
	adminSecret := keysSecret(t, out)
	if !strings.Contains(out, "cannot be shown again") {
		t.Errorf("create output lacks the shown-once warning:\n%s", out)
	}
	p, err := store.FindAPIKey(ctx, db, apikey.Hash(adminSecret))
	if err != nil {
		t.Fatalf("printed secret does not authenticate: %v", err)
	}
	if p.OrgID != org.ID || p.Role != "admin" || p.AdminID == nil || *p.AdminID != admin.ID {
		t.Errorf("principal = %+v", p)
	}
	for _, want := range []string{p.KeyID, "admin", apikey.Display(adminSecret)} {
		if !strings.Contains(out, want) {
			t.Errorf("create output lacks %q:\n%s", want, out)
		}
	}
	adminKeyID := p.KeyID

	code, out, errOut = keysRun(t, "keys", "create", "--org", org.ID, "--role", "automation")
	if code != exitOK {
		t.Fatalf("create automation key: exit %d, stderr %s", code, errOut)
	}
	autoSecret := keysSecret(t, out)
	if p, err := store.FindAPIKey(ctx, db, apikey.Hash(autoSecret)); err != nil || p.Role != "automation" || p.AdminID != nil {
		t.Fatalf("automation key: %+v, %v", p, err)
	}

	code, out, errOut = keysRun(t, "keys", "revoke", adminKeyID)
	if code != exitOK {
		t.Fatalf("revoke: exit %d, stderr %s", code, errOut)
	}
	if !strings.Contains(out, adminKeyID) || !strings.Contains(out, "revoked") {
		t.Errorf("revoke output = %q", out)
	}
	if _, err := store.FindAPIKey(ctx, db, apikey.Hash(adminSecret)); err == nil {
		t.Error("revoked key still authenticates")
	}
	if code, _, errOut := keysRun(t, "keys", "revoke", adminKeyID); code != exitOK {
		t.Errorf("second revoke: exit %d, stderr %s", code, errOut)
	}

	code, out, errOut = keysRun(t, "keys", "list", "--org", org.ID)
	if code != exitOK {
		t.Fatalf("list: exit %d, stderr %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 {
		t.Fatalf("list printed %d lines, want header and 2 keys:\n%s", len(lines), out)
	}
	for _, h := range []string{"ID", "ROLE", "ADMIN ID", "PREFIX", "CREATED", "REVOKED"} {
		if !strings.Contains(lines[0], h) {
			t.Errorf("header %q lacks %s", lines[0], h)
		}
	}
	// Newest first: the automation key, not revoked; then the revoked admin key.
	if !strings.Contains(lines[1], "automation") || !strings.HasSuffix(strings.TrimSpace(lines[1]), "-") {
		t.Errorf("first row = %q", lines[1])
	}
	if !strings.HasPrefix(lines[2], adminKeyID) || !strings.Contains(lines[2], admin.ID) || strings.HasSuffix(strings.TrimSpace(lines[2]), "-") {
		t.Errorf("second row = %q", lines[2])
	}
	if strings.Contains(out, adminSecret) || strings.Contains(out, autoSecret) {
		t.Error("list printed a secret")
	}

	// Well-formed requests the database refuses exit 1.
	for _, args := range [][]string{
		{"keys", "create", "--org", uuid.NewString(), "--role", "automation"},
		{"keys", "create", "--org", org.ID, "--role", "admin", "--admin", uuid.NewString()},
		{"keys", "revoke", uuid.NewString()},
		{"keys", "list", "--org", uuid.NewString()},
	} {
		if code, _, errOut := keysRun(t, args...); code != exitFailure || !strings.Contains(errOut, "not found") {
			t.Errorf("%v: exit %d, stderr %q; want %d and not found", args, code, errOut, exitFailure)
		}
	}

	n, err := db.NewSelect().Model((*store.AuditEvent)(nil)).
		Where("action IN (?, ?)", "api_key.create", "api_key.revoke").Count(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Errorf("audit events = %d, want 2 creates and 1 revoke", n)
	}
	// Each names the command line as its credential and carries a request id of its
	// own, so one command's events can be told from another's.
	var events []struct {
		Action         string `bun:"action"`
		CredentialKind string `bun:"credential_kind"`
		RequestID      string `bun:"request_id"`
	}
	if err := db.NewRaw(`SELECT action, credential_kind, request_id FROM audit_events WHERE org_id = ? ORDER BY id`, org.ID).Scan(ctx, &events); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, e := range events {
		if e.CredentialKind != "cli" || !strings.HasPrefix(e.RequestID, "cli-") || seen[e.RequestID] {
			t.Errorf("%s: credential %q, request id %q; want cli and a fresh cli- id", e.Action, e.CredentialKind, e.RequestID)
		}
		seen[e.RequestID] = true
	}
}

func TestKeysCommandUsage(t *testing.T) {
	// Arguments are checked before connecting: an unreachable database would exit 4.
	t.Setenv("DATABASE_URL", "postgres://nobody@127.0.0.1:1/none?sslmode=disable&connect_timeout=1")
	org, admin := uuid.NewString(), uuid.NewString()
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no subcommand", []string{"keys"}, "subcommand"},
		{"unknown subcommand", []string{"keys", "delete", org}, "delete"},
		{"create without org", []string{"keys", "create", "--role", "automation"}, "--org is required"},
		{"create with bad org", []string{"keys", "create", "--org", "acme", "--role", "automation"}, "not a UUID"},
		{"create without role", []string{"keys", "create", "--org", org}, "--role is required"},
		{"create with bad role", []string{"keys", "create", "--org", org, "--role", "owner"}, "owner"},
		{"admin key without admin", []string{"keys", "create", "--org", org, "--role", "admin"}, "--admin"},
		{"admin key with bad admin", []string{"keys", "create", "--org", org, "--role", "admin", "--admin", "ada"}, "not a UUID"},
		{"automation key with admin", []string{"keys", "create", "--org", org, "--role", "automation", "--admin", admin}, "--admin"},
		{"create with unknown flag", []string{"keys", "create", "--org", org, "--role", "automation", "--name", "x"}, "name"},
		{"create with stray argument", []string{"keys", "create", "--org", org, "--role", "automation", "extra"}, "extra"},
		{"list without org", []string{"keys", "list"}, "--org is required"},
		{"list with bad org", []string{"keys", "list", "--org", "42"}, "not a UUID"},
		{"revoke without id", []string{"keys", "revoke"}, "one API key id"},
		{"revoke with bad id", []string{"keys", "revoke", "rk_abc"}, "not a UUID"},
		{"revoke two ids", []string{"keys", "revoke", org, admin}, "one API key id"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := keysRun(t, tc.args...)
			if code != exitUsage {
				t.Fatalf("exit %d, want %d; stdout %q stderr %q", code, exitUsage, out, errOut)
			}
			if !strings.Contains(errOut, tc.want) || !strings.Contains(errOut, "usage") {
				t.Errorf("stderr %q lacks %q and a usage line", errOut, tc.want)
			}
		})
	}

	for _, args := range [][]string{{"keys", "--help"}, {"keys", "create", "--help"}, {"keys", "list", "-h"}} {
		if code, out, _ := keysRun(t, args...); code != exitOK || !strings.Contains(out, "Usage") {
			t.Errorf("%v: exit %d, stdout %q", args, code, out)
		}
	}
}
