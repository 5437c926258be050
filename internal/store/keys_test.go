package store_test

import (
	"context"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/headshotpro/retryd/internal/apikey"
	"github.com/headshotpro/retryd/internal/problem"
	"github.com/headshotpro/retryd/internal/store"
	"github.com/headshotpro/retryd/internal/tooling/testenv"
)

var cliActor = store.Actor{Kind: store.ActorSystem, ID: "cli"}

// seedKeyOrg inserts an organization with one admin and returns their ids.
func seedKeyOrg(t *testing.T, db bun.IDB, name string) (orgID, adminID string) {
	t.Helper()
	ctx := context.Background()
	org := &store.Organization{ID: uuid.NewString(), Name: name, CreditBalance: 5}
	if _, err := db.NewInsert().Model(org).Exec(ctx); err != nil {
		t.Fatalf("insert organization: %v", err)
	}
	admin := &store.Admin{ID: uuid.NewString(), OrgID: org.ID, Email: strings.ToLower(name) + "@example.test", Name: "Ada", Role: "owner"}
	if _, err := db.NewInsert().Model(admin).Exec(ctx); err != nil {
		t.Fatalf("insert admin: %v", err)
	}
	return org.ID, admin.ID
}

func countAudit(t *testing.T, db bun.IDB, action, targetID string) int64 {
	t.Helper()
	n, err := db.NewSelect().Model((*store.AuditEvent)(nil)).
		Where("action = ? AND target_id = ?", action, targetID).Count(context.Background())
	if err != nil {
		t.Fatalf("count audit events: %v", err)
	}
	return n
}

func wantCode(t *testing.T, err error, code problem.Code) {
	t.Helper()
	pe, ok := problem.As(err)
	if !ok {
		t.Fatalf("error = %v, want a problem with code %s", err, code)
	}
	if pe.Code != code {
		t.Fatalf("code = %s (%s), want %s", pe.Code, pe.Detail, code)
	}
	if pe.Detail == "" {
		t.Errorf("code %s has no detail", code)
	}
}

func TestCreateAPIKeyAdmin(t *testing.T) {
	db, _ := testenv.Database(t)
	ctx := context.Background()
	orgID, adminID := seedKeyOrg(t, db, "Acme")

	secret, key, err := store.CreateAPIKey(ctx, db, orgID, store.APIKeyRoleAdmin, &adminID, cliActor)
	if err != nil {
		t.Fatalf("CreateAPIKey: %v", err)
	}
	if !strings.HasPrefix(secret, apikey.Prefix) {
		t.Errorf("secret %q lacks prefix %q", secret, apikey.Prefix)
	}
	if key.OrgID != orgID || key.Role != store.APIKeyRoleAdmin || key.AdminID == nil || *key.AdminID != adminID {
		t.Errorf("created key = %+v", key)
	}
	if key.Prefix != apikey.Display(secret) {
		t.Errorf("prefix = %q, want %q", key.Prefix, apikey.Display(secret))
	}
	if key.CreatedAt.IsZero() {
		t.Error("created_at not returned")
	}

	p, err := store.FindAPIKey(ctx, db, apikey.Hash(secret))
	if err != nil {
		t.Fatalf("FindAPIKey: %v", err)
	}
	if p.KeyID != key.ID || p.OrgID != orgID || p.Role != store.APIKeyRoleAdmin || p.AdminID == nil || *p.AdminID != adminID {
		t.Errorf("principal = %+v, want key %s of admin %s", p, key.ID, adminID)
	}

	// Only the hash is stored.
	var stored store.APIKey
	if err := db.NewSelect().Model(&stored).Where("id = ?", key.ID).Scan(ctx); err != nil {
		t.Fatal(err)
	}
	if string(stored.KeyHash) != string(apikey.Hash(secret)) || strings.Contains(string(stored.KeyHash), secret) {
		t.Error("stored key_hash is not the secret's hash")
	}

	if n := countAudit(t, db, store.AuditAPIKeyCreate, key.ID); n != 1 {
		t.Errorf("api_key.create events = %d, want 1", n)
	}
	var ev store.AuditEvent
	if err := db.NewSelect().Model(&ev).Where("target_id = ?", key.ID).Scan(ctx); err != nil {
		t.Fatal(err)
	}
	if ev.OrgID != orgID || ev.ActorKind != store.ActorSystem || ev.ActorID != "cli" || ev.TargetKind != "api_key" {
		t.Errorf("audit event = %+v", ev)
	}
}

func TestCreateAPIKeyAutomation(t *testing.T) {
	db, _ := testenv.Database(t)
	ctx := context.Background()
	orgID, _ := seedKeyOrg(t, db, "Acme")

	secret, key, err := store.CreateAPIKey(ctx, db, strings.ToUpper(orgID), store.APIKeyRoleAutomation, nil, cliActor)
	if err != nil {
		t.Fatalf("CreateAPIKey: %v", err)
	}
	if key.OrgID != orgID || key.AdminID != nil {
		t.Errorf("created key = %+v", key)
	}
	p, err := store.FindAPIKey(ctx, db, apikey.Hash(secret))
	if err != nil {
		t.Fatalf("FindAPIKey: %v", err)
	}
	if p.Role != store.APIKeyRoleAutomation || p.AdminID != nil || p.OrgID != orgID {
		t.Errorf("principal = %+v", p)
	}
	if n := countAudit(t, db, store.AuditAPIKeyCreate, key.ID); n != 1 {
		t.Errorf("api_key.create events = %d, want 1", n)
	}
}

func TestCreateAPIKeyRefusals(t *testing.T) {
	db, _ := testenv.Database(t)
	ctx := context.Background()
	orgID, adminID := seedKeyOrg(t, db, "Acme")
	_, otherAdmin := seedKeyOrg(t, db, "Globex")
	unknown := uuid.NewString()
	empty := ""
	notUUID := "adm-1"

	cases := []struct {
		name    string
		org     string
		role    string
		admin   *string
		code    problem.Code
		inCause string
	}{
		{"admin role without admin", orgID, store.APIKeyRoleAdmin, nil, problem.InvalidParameter, "admin"},
		{"admin role with empty admin", orgID, store.APIKeyRoleAdmin, &empty, problem.InvalidParameter, "admin"},
		{"automation role with admin", orgID, store.APIKeyRoleAutomation, &adminID, problem.InvalidParameter, "automation"},
		{"unknown role", orgID, "owner", nil, problem.InvalidParameter, "role"},
		{"admin of another org", orgID, store.APIKeyRoleAdmin, &otherAdmin, problem.NotFound, otherAdmin},
		{"unknown admin", orgID, store.APIKeyRoleAdmin, &unknown, problem.NotFound, unknown},
		{"admin id not a uuid", orgID, store.APIKeyRoleAdmin, &notUUID, problem.InvalidParameter, notUUID},
		{"unknown org", unknown, store.APIKeyRoleAutomation, nil, problem.NotFound, unknown},
		{"org id not a uuid", "acme", store.APIKeyRoleAutomation, nil, problem.InvalidParameter, "acme"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			secret, key, err := store.CreateAPIKey(ctx, db, tc.org, tc.role, tc.admin, cliActor)
			if err == nil {
				t.Fatalf("created %+v, want refusal", key)
			}
			if secret != "" {
				t.Error("a refusal returned a secret")
			}
			wantCode(t, err, tc.code)
			if !strings.Contains(err.Error(), tc.inCause) {
				t.Errorf("error %q does not mention %q", err, tc.inCause)
			}
		})
	}
	n, err := db.NewSelect().Model((*store.APIKey)(nil)).Count(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("refusals stored %d keys", n)
	}
	n, err = db.NewSelect().Model((*store.AuditEvent)(nil)).Count(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("refusals wrote %d audit events", n)
	}
}

func TestRevokeAndListAPIKeys(t *testing.T) {
	db, _ := testenv.Database(t)
	ctx := context.Background()
	orgID, adminID := seedKeyOrg(t, db, "Acme")
	otherOrg, _ := seedKeyOrg(t, db, "Globex")

	secretA, keyA, err := store.CreateAPIKey(ctx, db, orgID, store.APIKeyRoleAdmin, &adminID, cliActor)
	if err != nil {
		t.Fatal(err)
	}
	secretB, keyB, err := store.CreateAPIKey(ctx, db, orgID, store.APIKeyRoleAutomation, nil, cliActor)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := store.CreateAPIKey(ctx, db, otherOrg, store.APIKeyRoleAutomation, nil, cliActor); err != nil {
		t.Fatal(err)
	}

	revoker := store.Actor{Kind: store.ActorSystem, ID: "cli", RequestID: "req-1"}
	got, err := store.RevokeAPIKey(ctx, db, keyA.ID, revoker)
	if err != nil {
		t.Fatalf("RevokeAPIKey: %v", err)
	}
	if got.ID != keyA.ID || got.RevokedAt == nil || got.OrgID != orgID || got.AdminID == nil || *got.AdminID != adminID {
		t.Fatalf("revoked = %+v", got)
	}
	if _, err := store.FindAPIKey(ctx, db, apikey.Hash(secretA)); err == nil {
		t.Error("a revoked key still authenticates")
	} else {
		wantCode(t, err, problem.NotFound)
	}
	if _, err := store.FindAPIKey(ctx, db, apikey.Hash(secretB)); err != nil {
		t.Errorf("revoking one key broke another: %v", err)
	}

	// Revoking again changes nothing and writes no second event.
	again, err := store.RevokeAPIKey(ctx, db, strings.ToUpper(keyA.ID), revoker)
	if err != nil {
		t.Fatalf("second RevokeAPIKey: %v", err)
	}
	if again.RevokedAt == nil || !again.RevokedAt.Equal(*got.RevokedAt) {
		t.Errorf("second revoke moved revoked_at: %v then %v", got.RevokedAt, again.RevokedAt)
	}
	if n := countAudit(t, db, store.AuditAPIKeyRevoke, keyA.ID); n != 1 {
		t.Errorf("api_key.revoke events = %d, want 1", n)
	}
	var ev store.AuditEvent
	if err := db.NewSelect().Model(&ev).Where("action = ? AND target_id = ?", store.AuditAPIKeyRevoke, keyA.ID).Scan(ctx); err != nil {
		t.Fatal(err)
	}
	if ev.OrgID != orgID || ev.RequestID != "req-1" || ev.ActorID != "cli" || ev.TargetKind != "api_key" {
		t.Errorf("revoke audit event = %+v", ev)
	}

	if _, err := store.RevokeAPIKey(ctx, db, uuid.NewString(), revoker); err == nil {
		t.Error("revoked an unknown key")
	} else {
		wantCode(t, err, problem.NotFound)
	}
	if _, err := store.RevokeAPIKey(ctx, db, "key-1", revoker); err == nil {
		t.Error("revoked a malformed id")
	} else {
		wantCode(t, err, problem.InvalidParameter)
	}

	keys, err := store.ListAPIKeys(ctx, db, orgID)
	if err != nil {
		t.Fatalf("ListAPIKeys: %v", err)
	}
	if len(keys) != 2 {
		t.Fatalf("listed %d keys, want 2 (other org's key excluded, revoked included): %+v", len(keys), keys)
	}
	// Newest first.
	if keys[0].ID != keyB.ID || keys[1].ID != keyA.ID {
		t.Errorf("order = %s, %s; want %s (newest), %s", keys[0].ID, keys[1].ID, keyB.ID, keyA.ID)
	}
	if keys[1].RevokedAt == nil || keys[0].RevokedAt != nil {
		t.Errorf("revoked_at in list: %v, %v", keys[0].RevokedAt, keys[1].RevokedAt)
	}
	if keys[0].Prefix != keyB.Prefix || keys[1].AdminID == nil || *keys[1].AdminID != adminID {
		t.Errorf("list = %+v", keys)
	}

	if _, err := store.ListAPIKeys(ctx, db, uuid.NewString()); err == nil {
		t.Error("listed keys of an unknown org")
	} else {
		wantCode(t, err, problem.NotFound)
	}
	if _, err := store.ListAPIKeys(ctx, db, "acme"); err == nil {
		t.Error("listed keys of a malformed org id")
	} else {
		wantCode(t, err, problem.InvalidParameter)
	}

	// No audit event holds a secret.
	var details []string
	if err := db.NewSelect().Model((*store.AuditEvent)(nil)).ColumnExpr("detail::text").Scan(ctx, &details); err != nil {
		t.Fatal(err)
	}
	if len(details) != 4 { // three creates, one revoke
		t.Errorf("audit events = %d, want 4", len(details))
	}
	for _, d := range details {
		for _, s := range []string{secretA, secretB, secretA[len(apikey.Prefix):], secretB[len(apikey.Prefix):]} {
			if strings.Contains(d, s) {
				t.Errorf("audit detail %s holds a secret", d)
			}
		}
	}
}
