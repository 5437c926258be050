package server_test

import (
	"context"
	"testing"
	"time"

	"github.com/headshotpro/retryd/internal/store"
	"github.com/headshotpro/retryd/internal/tooling/apptest"
)

// TestKeyCacheServesWithoutDatabaseAndRevocationEnds: with the key cache on, a key the
// API resolved is served from memory (it keeps working while its row is gone from the
// database's answer), and a revoked key stops working once the cache's lifetime has
// passed, the bound docs/operations.md gives operators.
func TestKeyCacheServesWithoutDatabaseAndRevocationEnds(t *testing.T) {
	const ttl = 2 * time.Second
	app := apptest.Start(t, apptest.Options{APIKeyCacheTTL: ttl})
	org := app.SeedOrg(t, 0)
	ctx := context.Background()
	secret, key, err := store.CreateAPIKey(ctx, app.DB, org.ID, "automation", nil, store.Actor{Kind: store.ActorSystem, ID: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if r := app.Do(t, "GET", "/api/v1/admin/organization", secret, nil); r.Status != 200 {
		t.Fatalf("before revoke: %d %s", r.Status, r.Body)
	}
	// Revoked behind the API's back, the key is still served from the cache: the request
	// did not reach the database. (Checked only while the lifetime has not passed, which
	// a stalled machine could otherwise make look like a failure.)
	if _, err := app.DB.ExecContext(ctx, "UPDATE api_keys SET revoked_at = now() WHERE id = ?", key.ID); err != nil {
		t.Fatal(err)
	}
	revoked := time.Now()
	r := app.Do(t, "GET", "/api/v1/admin/organization", secret, nil)
	if time.Since(revoked) < ttl && r.Status != 200 {
		t.Fatalf("within the cache's lifetime the key was looked up again: %d %s", r.Status, r.Body)
	}
	apptest.WaitFor(t, 10*time.Second, "the revoked key to be refused", func() bool {
		return app.Do(t, "GET", "/api/v1/admin/organization", secret, nil).Status == 401
	})
	// Refusals are not cached: a key created now works at once.
	secret2, _, err := store.CreateAPIKey(ctx, app.DB, org.ID, "automation", nil, store.Actor{Kind: store.ActorSystem, ID: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if r := app.Do(t, "GET", "/api/v1/admin/organization", secret2, nil); r.Status != 200 {
		t.Fatalf("new key: %d %s", r.Status, r.Body)
	}
}
