package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/headshotpro/retryd/internal/store"
	"github.com/headshotpro/retryd/internal/tooling/testenv"
)

// TestIdempotencyKeyLifecycle: a key is claimed once, its first answer wins, and after
// the TTL it is forgotten: claimed afresh and deleted by the cleanup.
func TestIdempotencyKeyLifecycle(t *testing.T) {
	ctx := context.Background()
	db, _ := testenv.Database(t)
	org := uuid.NewString()
	now := time.Now()

	first, err := store.ClaimIdempotencyKey(ctx, db, org, "k1", "/r", "hash-a", now)
	if err != nil || first.RequestHash != "hash-a" || first.StatusCode != nil {
		t.Fatalf("first claim = %+v, %v", first, err)
	}
	other, err := store.ClaimIdempotencyKey(ctx, db, org, "k1", "/r", "hash-b", now)
	if err != nil || other.RequestHash != "hash-a" {
		t.Fatalf("a second claim with another hash must see the first: %+v, %v", other, err)
	}
	if err := store.SaveIdempotentResponse(ctx, db, org, "k1", "hash-a", 201, []byte(`{"a":1}`)); err != nil {
		t.Fatal(err)
	}
	if err := store.SaveIdempotentResponse(ctx, db, org, "k1", "hash-a", 503, []byte(`{"late":1}`)); err != nil {
		t.Fatal(err)
	}
	got, err := store.ClaimIdempotencyKey(ctx, db, org, "k1", "/r", "hash-a", now)
	if err != nil || got.StatusCode == nil || *got.StatusCode != 201 || string(got.Response) != `{"a":1}` {
		t.Fatalf("replay = %+v, %v: want the first answer", got, err)
	}

	later := now.Add(store.IdempotencyTTL + time.Minute)
	fresh, err := store.ClaimIdempotencyKey(ctx, db, org, "k1", "/r", "hash-b", later)
	if err != nil || fresh.RequestHash != "hash-b" || fresh.StatusCode != nil {
		t.Fatalf("an expired key must be claimed afresh: %+v, %v", fresh, err)
	}
	if _, err := store.ClaimIdempotencyKey(ctx, db, org, "k2", "/r", "h", now); err != nil {
		t.Fatal(err)
	}
	n, err := store.DeleteExpiredIdempotencyKeys(ctx, db, later, 100)
	if err != nil || n != 1 {
		t.Fatalf("cleanup deleted %d, %v: want only k2, which is past the TTL", n, err)
	}
}
