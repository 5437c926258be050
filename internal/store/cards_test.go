package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/headshotpro/retryd/internal/domain"
	"github.com/headshotpro/retryd/internal/store"
	"github.com/headshotpro/retryd/internal/tooling/testenv"
)

// checkKeptFacts compares what the triggers keep (dashboard_cards, shoots.result_count,
// org_counters) with the same facts computed from scratch, and fails on any difference.
func checkKeptFacts(t *testing.T, db bun.IDB, step string) {
	t.Helper()
	ctx := context.Background()
	checks := []struct{ what, query string }{
		{"dashboard_cards", `
			WITH want AS (
				SELECT m.id AS member_id, m.org_id,
				       CASE l.status WHEN 'active' THEN 'finished' WHEN 'deleted' THEN 'deleted' ELSE 'in_progress' END AS section,
				       m.name, m.email, l.id AS shoot_id
				FROM members m
				CROSS JOIN LATERAL (SELECT s.id, s.status FROM shoots s WHERE s.member_id = m.id
				                    ORDER BY s.created_at DESC, s.id DESC LIMIT 1) l),
			have AS (SELECT member_id, org_id, section, name, email, shoot_id FROM dashboard_cards)
			SELECT count(*) FROM ((SELECT * FROM want EXCEPT SELECT * FROM have)
			                      UNION ALL (SELECT * FROM have EXCEPT SELECT * FROM want)) d`},
		{"shoots.result_count", `
			SELECT count(*) FROM shoots s
			WHERE s.result_count <> (SELECT count(*) FROM results r WHERE r.shoot_id = s.id)`},
		{"org_counters", `
			SELECT count(*) FROM organizations o LEFT JOIN org_counters k ON k.org_id = o.id
			WHERE coalesce(k.members, 0) <> (SELECT count(*) FROM members m WHERE m.org_id = o.id)
			   OR coalesce(k.finished_shoots, 0) <> (SELECT count(*) FROM shoots s WHERE s.org_id = o.id AND s.status = 'active')`},
	}
	for _, c := range checks {
		var wrong int
		if err := db.NewRaw(c.query).Scan(ctx, &wrong); err != nil {
			t.Fatalf("%s: check %s: %v", step, c.what, err)
		}
		if wrong != 0 {
			t.Errorf("after %s: %d rows of %s differ from a recount", step, wrong, c.what)
		}
	}
}

// TestKeptFactsFollowEveryChange walks a member through the changes retryd makes
// (new shoot, submission, completion with results, a retry's delete and reset, failure,
// deletion, a restart's new shoot, a rename) and checks after each that the facts the
// dashboard reads are what a recount gives.
func TestKeptFactsFollowEveryChange(t *testing.T) {
	db, _ := testenv.Database(t)
	ctx := context.Background()
	now := time.Now().UTC()
	org := &store.Organization{ID: uuid.NewString(), Name: "Acme", CreditBalance: 5}
	other := &store.Organization{ID: uuid.NewString(), Name: "Other", CreditBalance: 5}
	for _, o := range []*store.Organization{org, other} {
		if _, err := db.NewInsert().Model(o).Exec(ctx); err != nil {
			t.Fatal(err)
		}
	}
	checkKeptFacts(t, db, "organizations without members")

	members := []store.Member{
		{ID: uuid.NewString(), OrgID: org.ID, Name: "Ada", Email: strPtr("ada@acme.test"), Kind: domain.KindIndividual, FreeRetryAvailable: true},
		{ID: uuid.NewString(), OrgID: org.ID, Name: "Bo", Kind: domain.KindManaged, FreeRetryAvailable: true},
		{ID: uuid.NewString(), OrgID: other.ID, Name: "Cy", Email: strPtr("cy@other.test"), Kind: domain.KindIndividual, FreeRetryAvailable: true},
	}
	if _, err := db.NewInsert().Model(&members).Exec(ctx); err != nil {
		t.Fatal(err)
	}
	checkKeptFacts(t, db, "members without shoots")

	ada := members[0].ID
	shoot := &store.Shoot{ID: uuid.NewString(), OrgID: org.ID, MemberID: ada, Status: domain.ShootOnboarding, CreatedAt: now.Add(-time.Hour)}
	others := []store.Shoot{
		{ID: uuid.NewString(), OrgID: org.ID, MemberID: members[1].ID, Status: domain.ShootActive, CompletedAt: &now, CreatedAt: now.Add(-time.Hour)},
		{ID: uuid.NewString(), OrgID: other.ID, MemberID: members[2].ID, Status: domain.ShootActive, CompletedAt: &now, CreatedAt: now.Add(-time.Hour)},
	}
	if _, err := db.NewInsert().Model(shoot).Exec(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := db.NewInsert().Model(&others).Exec(ctx); err != nil {
		t.Fatal(err)
	}
	checkKeptFacts(t, db, "first shoots")

	if _, err := store.SubmitShoot(ctx, db, ada, shoot.ID, "req", now); err != nil {
		t.Fatal(err)
	}
	checkKeptFacts(t, db, "submit")
	if _, err := store.CompleteShoot(ctx, db, shoot.ID, []string{"a.jpg", "b.jpg", "c.jpg"}, "req", now); err != nil {
		t.Fatal(err)
	}
	checkKeptFacts(t, db, "complete with results")
	assertCard(t, db, ada, "finished", shoot.ID)

	// What a retry does: delete the results, reset the shoot to onboarding.
	steps := []struct{ name, sql string }{
		{"delete results", `DELETE FROM results WHERE shoot_id = ?0`},
		{"reset to onboarding", `UPDATE shoots SET status = 'onboarding', completed_at = NULL, retry_count = retry_count + 1 WHERE id = ?0`},
		{"waiting", `UPDATE shoots SET status = 'waiting' WHERE id = ?0`},
		{"fail", `UPDATE shoots SET status = 'failed' WHERE id = ?0`},
		{"delete shoot", `UPDATE shoots SET status = 'deleted', deleted_at = now() WHERE id = ?0`},
		{"rename", `UPDATE members SET name = 'Ada Lovelace', email = 'ada@lovelace.test' WHERE id = ?1`},
		{"allowance change", `UPDATE members SET free_retry_available = false WHERE id = ?1`},
	}
	for _, s := range steps {
		if _, err := db.ExecContext(ctx, s.sql, shoot.ID, ada); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		checkKeptFacts(t, db, s.name)
	}
	assertCard(t, db, ada, "deleted", shoot.ID)

	// A restart's new shoot becomes the card's shoot.
	restarted := &store.Shoot{ID: uuid.NewString(), OrgID: org.ID, MemberID: ada, Status: domain.ShootOnboarding, CreatedAt: now}
	if _, err := db.NewInsert().Model(restarted).Exec(ctx); err != nil {
		t.Fatal(err)
	}
	checkKeptFacts(t, db, "restart")
	assertCard(t, db, ada, "in_progress", restarted.ID)

	cards, _, err := store.Dashboard(ctx, db, store.DashboardQuery{OrgID: org.ID, Section: "in_progress", Search: "LOVELACE", Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(cards) != 1 || cards[0].Name != "Ada Lovelace" || cards[0].ShootID != restarted.ID || !cards[0].HasOpenShoot {
		t.Fatalf("search after rename: %+v", cards)
	}
	sum, err := store.GetOrgSummary(ctx, db, org.ID)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Members != 2 || sum.FinishedShoots != 1 {
		t.Fatalf("header: %+v, want 2 members and 1 finished shoot", sum)
	}
}

func assertCard(t *testing.T, db bun.IDB, memberID, section, shootID string) {
	t.Helper()
	var gotSection, gotShoot string
	if err := db.NewRaw("SELECT section, shoot_id FROM dashboard_cards WHERE member_id = ?", memberID).
		Scan(context.Background(), &gotSection, &gotShoot); err != nil {
		t.Fatal(err)
	}
	if gotSection != section || gotShoot != shootID {
		t.Fatalf("card: section %s shoot %s, want %s %s", gotSection, gotShoot, section, shootID)
	}
}

func strPtr(s string) *string { return &s }
