package store_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/headshotpro/retryd/internal/domain"
	"github.com/headshotpro/retryd/internal/rules"
	"github.com/headshotpro/retryd/internal/store"
	"github.com/headshotpro/retryd/internal/tooling/testenv"
)

// The dashboard's section rule is written twice: rules.Section decides a card's actions
// in Go, and migration 20261202000002_dashboard_cards's CASE decides the section
// dashboard_cards keeps (and so which page a card is on). A migration that has run must
// not change, so this test holds the two equal for every shoot status, on a shoot just
// inserted and on one moved into the status, and for a status neither knows: were
// HeadshotPro to add one, both must put it In Progress.
func TestCardSectionIsRulesSection(t *testing.T) {
	db, _ := testenv.Database(t)
	ctx := context.Background()
	now := time.Now().UTC()

	// The shoots table refuses a status it does not know; the unknown one needs its
	// CHECK constraint gone, in this test's own database.
	const unknown = "archivedByHeadshotPro"
	var check string
	if err := db.NewRaw(`SELECT conname FROM pg_constraint WHERE conrelid = 'shoots'::regclass
		AND contype = 'c' AND pg_get_constraintdef(oid) LIKE '%generatingHeadshots%'`).Scan(ctx, &check); err != nil {
		t.Fatalf("find the shoots status check: %v", err)
	}
	if _, err := db.ExecContext(ctx, `ALTER TABLE shoots DROP CONSTRAINT `+check); err != nil {
		t.Fatal(err)
	}
	statuses := append(domain.ShootStatuses(), unknown)

	org := &store.Organization{ID: uuid.NewString(), Name: "Sections", CreditBalance: 1}
	if _, err := db.NewInsert().Model(org).Exec(ctx); err != nil {
		t.Fatal(err)
	}
	newMember := func(name string) string {
		m := &store.Member{ID: uuid.NewString(), OrgID: org.ID, Name: name, Kind: domain.KindManaged}
		if _, err := db.NewInsert().Model(m).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		return m.ID
	}

	for _, status := range statuses {
		s := &store.Shoot{ID: uuid.NewString(), OrgID: org.ID, MemberID: newMember("inserted " + status),
			Status: status, CompletedAt: &now}
		if _, err := db.NewInsert().Model(s).Exec(ctx); err != nil {
			t.Fatalf("insert a %s shoot: %v", status, err)
		}
		checkSection(t, db, s.MemberID, "inserted", status)
	}

	moved := &store.Shoot{ID: uuid.NewString(), OrgID: org.ID, MemberID: newMember("moved"),
		Status: domain.ShootOnboarding, CompletedAt: &now}
	if _, err := db.NewInsert().Model(moved).Exec(ctx); err != nil {
		t.Fatal(err)
	}
	// Every status in turn, then back through them in reverse, so each is entered from a
	// status of another section as well as of its own.
	back := slices.Clone(statuses)
	slices.Reverse(back)
	for _, status := range append(slices.Clone(statuses), back...) {
		if _, err := db.NewUpdate().Model((*store.Shoot)(nil)).Set("status = ?", status).
			Where("id = ?", moved.ID).Exec(ctx); err != nil {
			t.Fatalf("move the shoot to %s: %v", status, err)
		}
		checkSection(t, db, moved.MemberID, "moved", status)
	}
}

// checkSection fails unless the member's card in dashboard_cards is in the section
// rules.Section gives for status.
func checkSection(t *testing.T, db bun.IDB, memberID, how, status string) {
	t.Helper()
	var got string
	if err := db.NewRaw(`SELECT section FROM dashboard_cards WHERE member_id = ?`, memberID).
		Scan(context.Background(), &got); err != nil {
		t.Fatalf("%s %s: read the card: %v", how, status, err)
	}
	if want := rules.Section(status); got != want {
		t.Errorf("%s shoot with status %s: dashboard_cards.section = %q, rules.Section = %q", how, status, got, want)
	}
}
