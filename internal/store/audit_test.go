package store_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/headshotpro/retryd/internal/store"
	"github.com/headshotpro/retryd/internal/tooling/testenv"
)

// TestAuditBackfill: events written before credentials and members were recorded get
// what can be known of them: an automation actor is its key, a member acts by link, the
// pipeline by its token, the command line as cli; an admin's key was not recorded. The
// member comes from the detail, the retry or the shoot.
func TestAuditBackfill(t *testing.T) {
	ctx := context.Background()
	db, _ := testenv.Database(t)
	orgID, adminID := seedKeyOrg(t, db, "Backfill")
	memberID, shootID, retryID, keyID := uuid.NewString(), uuid.NewString(), uuid.NewString(), uuid.NewString()
	for _, q := range []string{
		`INSERT INTO members (id, org_id, name, kind) VALUES (?1, ?0, 'Maya', 'managed')`,
		`INSERT INTO shoots (id, org_id, member_id, status, completed_at) VALUES (?2, ?0, ?1, 'active', now())`,
		`INSERT INTO retries (id, org_id, member_id, shoot_id, issued_by_kind, issued_by, issued_at, allowance_used, status, stage, workflow_id)
		 VALUES (?3, ?0, ?1, ?2, 'admin', ?4, now(), 'free_retry', 'pending', 'pending', 'w')`,
	} {
		if _, err := db.ExecContext(ctx, q, orgID, memberID, shootID, retryID, adminID); err != nil {
			t.Fatal(err)
		}
	}
	type old struct{ actorKind, actorID, action, targetKind, targetID, detail string }
	for _, e := range []old{
		{"admin", adminID, "retry.give", "retry", retryID, `{"member_id":"` + memberID + `"}`},
		{"admin", adminID, "retry.resend_email", "retry", retryID, `{}`},
		{"automation", keyID, "shoot.restart", "restart", uuid.NewString(), `{"member_id":"` + memberID + `"}`},
		{"member", memberID, "shoot.start", "shoot", shootID, `{}`},
		{"pipeline", "pipeline", "shoot.active", "shoot", shootID, `{}`},
		{"system", "cli", "api_key.create", "api_key", keyID, `{"admin_id":"` + adminID + `"}`},
	} {
		// As the table held them: the new columns at their defaults.
		if _, err := db.ExecContext(ctx, `INSERT INTO audit_events (org_id, actor_kind, actor_id, action, target_kind, target_id, outcome, detail)
			VALUES (?, ?, ?, ?, ?, ?, 'ok', ?::jsonb)`, orgID, e.actorKind, e.actorID, e.action, e.targetKind, e.targetID, e.detail); err != nil {
			t.Fatal(err)
		}
	}
	sql, err := store.MigrationSQL("20261206002105_audit_credentials_backfill.tx.up.sql")
	if err != nil {
		t.Fatal(err)
	}
	for range 2 { // a second run changes nothing
		if _, err := db.ExecContext(ctx, sql); err != nil {
			t.Fatalf("backfill: %v", err)
		}
	}
	var got []store.AuditEvent
	if err := db.NewSelect().Model(&got).Where("org_id = ?", orgID).Order("id").Scan(ctx); err != nil {
		t.Fatal(err)
	}
	want := []struct{ cred, credID, key, member string }{
		{"unknown", "", "", memberID},
		{"unknown", "", "", memberID},
		{"api_key", keyID, keyID, memberID},
		{"member_link", "", "", memberID},
		{"pipeline_token", "", "", memberID},
		{"cli", "", "", ""},
	}
	for i, e := range got {
		w := want[i]
		if e.CredentialKind != w.cred || e.CredentialID != w.credID || e.KeyID != w.key || e.MemberID != w.member {
			t.Errorf("%s: credential %q %q key %q member %q, want %+v", e.Action, e.CredentialKind, e.CredentialID, e.KeyID, e.MemberID, w)
		}
	}
}

// TestListAuditEvents: pages go newest first and back again without repeating or
// skipping an event, also among events of one transaction (one time); filters and the
// organization narrow them.
func TestListAuditEvents(t *testing.T) {
	ctx := context.Background()
	db, _ := testenv.Database(t)
	orgID, adminID := seedKeyOrg(t, db, "Pages")
	otherOrg, _ := seedKeyOrg(t, db, "Other")
	maya, keyID := uuid.NewString(), uuid.NewString()
	base := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	// 25 events at 10 distinct times: groups of equal times straddle page boundaries.
	var all []int64
	for i := range 25 {
		e := store.AuditEvent{OrgID: orgID, ActorKind: store.ActorAdmin, ActorID: adminID, Action: store.AuditRetryGive,
			TargetKind: "retry", TargetID: uuid.NewString(), RequestID: fmt.Sprint("req-", i), Outcome: "reserved",
			CreatedAt: base.Add(time.Duration(i/3) * time.Minute), CredentialKind: store.CredentialSession, CredentialID: uuid.NewString(), KeyID: keyID}
		if i%5 == 0 {
			e.MemberID = maya
			e.Action = store.AuditShootRestart
		}
		if i%7 == 0 {
			e.ActorKind, e.ActorID, e.CredentialKind, e.CredentialID, e.KeyID = store.ActorAutomation, uuid.NewString(), store.CredentialAPIKey, "", ""
		}
		if _, err := db.NewInsert().Model(&e).Returning("id").Exec(ctx); err != nil {
			t.Fatal(err)
		}
		all = append([]int64{e.ID}, all...) // newest first: later times, then higher ids
	}
	if err := store.Audit(ctx, db, store.AuditEvent{OrgID: otherOrg, ActorKind: store.ActorAdmin, ActorID: adminID, Action: store.AuditRetryGive,
		TargetKind: "retry", TargetID: uuid.NewString(), Outcome: "reserved", MemberID: maya, KeyID: keyID}); err != nil {
		t.Fatal(err)
	}

	ids := func(es []store.AuditEvent) []int64 {
		out := []int64{}
		for _, e := range es {
			out = append(out, e.ID)
		}
		return out
	}
	page := func(q store.AuditQuery) ([]store.AuditEvent, bool) {
		t.Helper()
		es, more, err := store.ListAuditEvents(ctx, db, q)
		if err != nil {
			t.Fatal(err)
		}
		return es, more
	}
	cursor := func(e store.AuditEvent) *store.AuditCursor { return &store.AuditCursor{At: e.CreatedAt, ID: e.ID} }

	// Forward in pages of 4, then back from the last page.
	var seen []int64
	var pages [][]store.AuditEvent
	q := store.AuditQuery{OrgID: orgID, Limit: 4}
	for {
		es, more := page(q)
		seen = append(seen, ids(es)...)
		pages = append(pages, es)
		if !more {
			break
		}
		q.After = cursor(es[len(es)-1])
	}
	if fmt.Sprint(seen) != fmt.Sprint(all) {
		t.Fatalf("forward pages = %v, want %v", seen, all)
	}
	for i := len(pages) - 1; i > 0; i-- {
		es, more := page(store.AuditQuery{OrgID: orgID, Limit: 4, After: cursor(pages[i][0]), Backward: true})
		if fmt.Sprint(ids(es)) != fmt.Sprint(ids(pages[i-1])) || more != (i-1 > 0) {
			t.Fatalf("back from page %d = %v (more %v), want %v", i, ids(es), more, ids(pages[i-1]))
		}
	}

	count := func(q store.AuditQuery) int {
		t.Helper()
		q.OrgID, q.Limit = orgID, 100
		es, _ := page(q)
		n, err := store.CountAuditEvents(ctx, db, q, 100)
		if err != nil || n != len(es) {
			t.Fatalf("count %+v = %d, %v; the page holds %d", q, n, err, len(es))
		}
		return n
	}
	since, until := base.Add(2*time.Minute), base.Add(4*time.Minute) // times 2 and 3: events 6..11
	for name, c := range map[string]struct {
		q    store.AuditQuery
		want int
	}{
		"member":                {store.AuditQuery{MemberID: maya}, 5},
		"action":                {store.AuditQuery{Action: store.AuditShootRestart}, 5},
		"admin":                 {store.AuditQuery{Actor: adminID}, 21},
		"key behind a session":  {store.AuditQuery{Actor: keyID}, 21},
		"since, until excluded": {store.AuditQuery{Since: &since, Until: &until}, 6},
		"all filters":           {store.AuditQuery{MemberID: maya, Action: store.AuditShootRestart, Actor: adminID, Since: &since, Until: &until}, 1},
		"nobody":                {store.AuditQuery{Actor: uuid.NewString()}, 0},
	} {
		if got := count(c.q); got != c.want {
			t.Errorf("%s: %d events, want %d", name, got, c.want)
		}
	}
	if n, err := store.CountAuditEvents(ctx, db, store.AuditQuery{OrgID: orgID}, 10); err != nil || n != 11 {
		t.Errorf("count capped at 10 = %d, %v; want 11 (more than the cap)", n, err)
	}
}

// TestAuditPlansReadOnlyThePage: on an analyzed table holding a large organization's
// events and small ones', a page of the listing reads its page (plus one) through the
// index, unfiltered, by member and past a cursor; so does the CSV export's bound count.
func TestAuditPlansReadOnlyThePage(t *testing.T) {
	base, _ := testenv.Database(t)
	ctx := context.Background()
	bigOrg, _ := seedKeyOrg(t, base, "Busy")
	var member string
	for i, n := range []int{200000, 5000, 5000, 5000} {
		org := bigOrg
		if i > 0 {
			org, _ = seedKeyOrg(t, base, fmt.Sprint("Quiet", i))
		}
		// Every 100th event names one of 50 members; times a second apart, some shared.
		if _, err := base.ExecContext(ctx, `INSERT INTO audit_events (org_id, actor_kind, actor_id, action, target_kind, target_id,
			outcome, credential_kind, member_id, created_at)
			SELECT ?0, 'admin', 'a', 'retry.give', 'retry', i::text, 'reserved', 'api_key',
			       CASE WHEN i % 100 = 0 THEN ('00000000-0000-4000-8000-' || lpad(((i / 100) % 50)::text, 12, '0'))::uuid END,
			       timestamptz '2026-01-01' + (i / 2) * interval '1 second'
			FROM generate_series(1, ?1) AS i`, org, n); err != nil {
			t.Fatal(err)
		}
		member = "00000000-0000-4000-8000-000000000007"
	}
	if _, err := base.ExecContext(ctx, "ANALYZE audit_events"); err != nil {
		t.Fatal(err)
	}
	log := &queryLog{}
	db := base.WithQueryHook(log)
	first, _, err := store.ListAuditEvents(ctx, db, store.AuditQuery{OrgID: bigOrg, Limit: pageSize})
	if err != nil {
		t.Fatal(err)
	}
	checkAuditPlans(t, db, log, "audit first page", pageSize+1)
	mid := store.AuditCursor{At: time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC), ID: first[0].ID - 50000}
	for name, q := range map[string]store.AuditQuery{
		"audit page past a cursor": {OrgID: bigOrg, Limit: pageSize, After: &mid},
		"audit page back":          {OrgID: bigOrg, Limit: pageSize, After: &mid, Backward: true},
		"audit page of a member":   {OrgID: bigOrg, MemberID: member, Limit: pageSize},
	} {
		if _, _, err := store.ListAuditEvents(ctx, db, q); err != nil {
			t.Fatal(err)
		}
		checkAuditPlans(t, db, log, name, pageSize+1)
	}
	if _, err := store.CountAuditEvents(ctx, db, store.AuditQuery{OrgID: bigOrg}, 1000); err != nil {
		t.Fatal(err)
	}
	checkAuditPlans(t, db, log, "audit bounded count", 1001)
}

// checkAuditPlans explains the queries the call ran: audit_events is read through an
// index, never scanned whole, and no node reads more than readFactor × shown of its rows.
func checkAuditPlans(t *testing.T, db *bun.DB, log *queryLog, name string, shown int) {
	t.Helper()
	queries := log.take()
	if len(queries) == 0 {
		t.Fatalf("%s: ran no query", name)
	}
	for _, q := range queries {
		root := explain(t, db.DB, q)
		var b strings.Builder
		root.shape(&b, 1)
		t.Logf("%s:\n%s", name, b.String())
		root.walk(func(n *planNode) {
			if n.Relation != "audit_events" {
				return
			}
			if n.NodeType == "Seq Scan" {
				t.Errorf("%s: sequential scan of audit_events\n%s\n%s", name, q.SQL, b.String())
			}
			if n.rowsRead() > float64(readFactor*shown) {
				t.Errorf("%s: %s read %.0f rows, more than %d × %d shown\n%s\n%s", name, n.NodeType, n.rowsRead(), readFactor, shown, q.SQL, b.String())
			}
		})
	}
}
