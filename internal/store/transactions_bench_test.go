package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/headshotpro/retryd/internal/seed"
	"github.com/headshotpro/retryd/internal/store"
	"github.com/headshotpro/retryd/internal/tooling/testenv"
)

// The transactions a give and a member's start wait on, alone against Postgres: what
// the round trips of each cost, without the HTTP API and Temporal around them
// (docs/benchmarks.md, "The give's and the start's transactions").
//
//	go test ./internal/store -run '^$' -bench 'BenchmarkGiveRetryTransaction|BenchmarkStartShootTransaction' -benchtime 400x -count 5

// benchMembers seeds n members, each with one finished shoot, in an organization of
// their own.
func benchMembers(b *testing.B, db *bun.DB, n int) (orgID, adminID string, members []seed.Member) {
	return benchMembersT(b, db, n)
}

func benchMembersT(b testing.TB, db *bun.DB, n int) (orgID, adminID string, members []seed.Member) {
	b.Helper()
	orgID, adminID = uuid.NewString(), uuid.NewString()
	done := time.Now().Add(-72 * time.Hour)
	members = make([]seed.Member, n)
	for i := range members {
		email := uuid.NewString()[:8] + "@bench.test"
		members[i] = seed.Member{ID: uuid.NewString(), Name: "Member " + email, Email: &email, Kind: "individual",
			Shoots: []seed.Shoot{{ID: uuid.NewString(), Status: "active", CompletedAt: &done, Results: 4}}}
	}
	if _, err := seed.Load(context.Background(), db, &seed.File{Organizations: []seed.Organization{{
		ID: orgID, Name: "Bench " + orgID[:8], CreditBalance: n,
		Admins:  []seed.Admin{{ID: adminID, Email: "lead-" + orgID[:8] + "@bench.test", Name: "Lee", Role: "owner"}},
		Members: members,
	}}}); err != nil {
		b.Fatal(err)
	}
	return orgID, adminID, members
}

func giveParams(orgID, adminID string, m seed.Member) store.ReserveRetryParams {
	return store.ReserveRetryParams{RetryID: uuid.NewString(), OrgID: orgID, MemberID: m.ID, ShootID: m.Shoots[0].ID,
		WorkflowID: "retry-" + m.Shoots[0].ID, Actor: store.Actor{Kind: "admin", ID: adminID}, Now: time.Now(), Window: 60 * 24 * time.Hour}
}

func BenchmarkGiveRetryTransaction(b *testing.B) {
	db, _ := testenv.Database(b)
	orgID, adminID, members := benchMembers(b, db, b.N)
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := store.GiveRetry(ctx, db, giveParams(orgID, adminID, members[i])); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkStartShootTransaction(b *testing.B) {
	db, _ := testenv.Database(b)
	orgID, adminID, members := benchMembers(b, db, b.N)
	ctx := context.Background()
	for _, m := range members {
		if _, err := store.GiveRetry(ctx, db, giveParams(orgID, adminID, m)); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := store.StartShoot(ctx, db, members[i].ID, members[i].Shoots[0].ID, "req-bench", time.Now()); err != nil {
			b.Fatal(err)
		}
	}
}
