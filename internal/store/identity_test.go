package store_test

import (
	"context"
	"testing"

	"github.com/headshotpro/retryd/internal/store"
	"github.com/headshotpro/retryd/internal/tooling/testenv"
)

// TestIdentityFollowsTheDatabase: `retryd dev` keys its Temporal state by this identity,
// so it must stay the same for one database and differ for another.
func TestIdentityFollowsTheDatabase(t *testing.T) {
	ctx := context.Background()
	a, _ := testenv.Database(t)
	b, _ := testenv.Database(t)
	idA, err := store.Identity(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	again, err := store.Identity(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	idB, err := store.Identity(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	if idA != again {
		t.Fatalf("identity of one database changed: %q then %q", idA, again)
	}
	if idA == idB {
		t.Fatalf("two databases share the identity %q", idA)
	}
}
