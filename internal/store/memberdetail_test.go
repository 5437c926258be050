package store_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/headshotpro/retryd/internal/problem"
	"github.com/headshotpro/retryd/internal/seed"
	"github.com/headshotpro/retryd/internal/store"
	"github.com/headshotpro/retryd/internal/tooling/testenv"
)

// bunPlaceholders writes the statements' $n as bun's ?n-1.
var bunPlaceholders = strings.NewReplacer("$1", "?0", "$2", "?1")

// memberDetailByBun is the member detail as bun reads it into the same models: the four
// statements of GetMemberDetail sent one at a time and scanned by bun's reflection. The
// batched read with its own scans must give exactly this.
func memberDetailByBun(ctx context.Context, t *testing.T, db *bun.DB, orgID, memberID string) *store.MemberDetail {
	t.Helper()
	stmts := store.MemberDetailStatements(orgID, memberID)
	d := &store.MemberDetail{}
	var members []store.Member
	for i, dest := range []any{&members, &d.Shoots, &d.Retries, &d.Restarts} {
		if err := db.NewRaw(bunPlaceholders.Replace(stmts[i].SQL), stmts[i].Args...).Scan(ctx, dest); err != nil {
			t.Fatalf("bun read %d: %v", i, err)
		}
	}
	if len(members) == 1 {
		d.Member = &members[0]
	}
	return d
}

// TestMemberDetailReadsAsBun: the member detail read in one batch, scanned by hand, is
// what bun reads for the same statements, field for field (times, their zones, nulls, a
// retry's note), for a member with a history, one with nothing, and no member of the
// organization.
func TestMemberDetailReadsAsBun(t *testing.T) {
	db, _ := testenv.Database(t)
	ctx := context.Background()
	orgID, adminID, otherOrg := uuid.NewString(), uuid.NewString(), uuid.NewString()
	full, empty, stranger := uuid.NewString(), uuid.NewString(), uuid.NewString()
	shootIDs := []string{uuid.NewString(), uuid.NewString(), uuid.NewString()}
	done := time.Now().Add(-72 * time.Hour).Truncate(time.Microsecond)
	gone := done.Add(24 * time.Hour)
	email := "ada@acme.test"
	admins := []seed.Admin{{ID: adminID, Email: "lead-" + orgID[:8] + "@example.test", Name: "Lee", Role: "owner"}}
	if _, err := seed.Load(ctx, db, &seed.File{Organizations: []seed.Organization{
		{ID: orgID, Name: "Org " + orgID[:8], CreditBalance: 1, Admins: admins, Members: []seed.Member{
			{ID: full, Name: `Ada "<&>" Lovelace`, Email: &email, Kind: "managed", RetryCredits: 2, Shoots: []seed.Shoot{
				{ID: shootIDs[0], Status: "deleted", CompletedAt: &done, DeletedAt: &gone, RetryCount: 1},
				{ID: shootIDs[1], Status: "active", CompletedAt: &done, Results: 3},
				{ID: shootIDs[2], Status: "waiting"},
			}},
			{ID: empty, Name: "Bo", Kind: "managed"},
		}},
		{ID: otherOrg, Name: "Other " + otherOrg[:8], Members: []seed.Member{{ID: stranger, Name: "Cy", Kind: "managed",
			Shoots: []seed.Shoot{{Status: "waiting"}}}}},
	}}); err != nil {
		t.Fatal(err)
	}
	reason, msg, started := "blurry", "msg-1", done.Add(time.Hour)
	retries := []store.Retry{
		{ID: uuid.NewString(), OrgID: orgID, MemberID: full, ShootID: shootIDs[1], IssuedByKind: "admin", IssuedBy: adminID,
			IssuedAt: done.Add(time.Minute), AllowanceUsed: "free_retry", Reason: &reason, Status: "started", Stage: "started",
			EmailStatus: "sent", EmailMessageID: &msg, RemindersSent: 2, StartedAt: &started, WorkflowID: "retry-a"},
		{ID: uuid.NewString(), OrgID: orgID, MemberID: full, ShootID: shootIDs[2], IssuedByKind: "automation", IssuedBy: adminID,
			IssuedAt: done.Add(2 * time.Minute), AllowanceUsed: "retry_credit", Status: "pending", Stage: "pending",
			EmailStatus: "queued", WorkflowID: "retry-b"},
	}
	if _, err := db.NewInsert().Model(&retries).Exec(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := db.NewInsert().Model(&store.RetryNote{RetryID: retries[0].ID, Note: "second try\nwith light"}).Exec(ctx); err != nil {
		t.Fatal(err)
	}
	restart := store.Restart{ID: uuid.NewString(), OrgID: orgID, MemberID: full, OldShootID: shootIDs[0], NewShootID: shootIDs[2],
		IssuedByKind: "admin", IssuedBy: adminID, IssuedAt: done.Add(3 * time.Minute), Status: "pending", Stage: "pending",
		EmailStatus: "sent", EmailMessageID: &msg, WorkflowID: "restart-a"}
	if _, err := db.NewInsert().Model(&restart).Exec(ctx); err != nil {
		t.Fatal(err)
	}

	for _, memberID := range []string{full, empty} {
		got, err := store.GetMemberDetail(ctx, db, orgID, memberID)
		if err != nil {
			t.Fatal(err)
		}
		want := memberDetailByBun(ctx, t, db, orgID, memberID)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("member %s:\n batch %+v\n bun   %+v", memberID, got, want)
		}
	}
	got, err := store.GetMemberDetail(ctx, db, orgID, full)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Shoots) != 3 || len(got.Retries) != 2 || len(got.Restarts) != 1 || got.Retries[1].Note == nil || got.Shoots[1].ResultCount != 3 {
		t.Errorf("the full member reads %d shoots, %d retries, %d restarts: %+v", len(got.Shoots), len(got.Retries), len(got.Restarts), got)
	}
	var pe *problem.Error
	if _, err := store.GetMemberDetail(ctx, db, orgID, stranger); !errors.As(err, &pe) || pe.Code != problem.NotFound {
		t.Errorf("another organization's member: %v, want not_found", err)
	}
}
