package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/headshotpro/retryd/internal/domain"
	"github.com/headshotpro/retryd/internal/seed"
	"github.com/headshotpro/retryd/internal/store"
	"github.com/headshotpro/retryd/internal/tooling/querycount"
	"github.com/headshotpro/retryd/internal/tooling/testenv"
)

// TestGiveRetryRoundTrips: the give's transaction, which the admin waits on, takes the
// member's lock, looks for the retry's id, locks the shoot with the rules' facts, and
// sends every write in one round trip: six with its BEGIN and COMMIT (eleven before).
// The writes all land, and a reason full of placeholder and quote characters is stored
// as it was given (the batched text is not read for placeholders again).
func TestGiveRetryRoundTrips(t *testing.T) {
	db, _ := testenv.Database(t)
	ctx := context.Background()
	orgID, adminID, memberID, shootID := uuid.NewString(), uuid.NewString(), uuid.NewString(), uuid.NewString()
	done := time.Now().Add(-72 * time.Hour)
	email := memberID[:8] + "@acme.test"
	if _, err := seed.Load(ctx, db, &seed.File{Organizations: []seed.Organization{{
		ID: orgID, Name: "Org " + orgID[:8], CreditBalance: 1,
		Admins: []seed.Admin{{ID: adminID, Email: "lead-" + orgID[:8] + "@example.test", Name: "Lee", Role: "owner"}},
		Members: []seed.Member{{ID: memberID, Name: "Ada", Email: &email, Kind: "individual",
			Shoots: []seed.Shoot{{ID: shootID, Status: "active", CompletedAt: &done, Results: 3}}}},
	}}}); err != nil {
		t.Fatal(err)
	}
	endpointID := webhookEndpoint(t, db, orgID, testSecret).ID

	const reason = `why? ?0 ?1 $1 'quoted' \ "done";`
	count := querycount.All()
	retryID := uuid.NewString()
	r, err := store.GiveRetry(ctx, db.WithQueryHook(count), store.ReserveRetryParams{RetryID: retryID, OrgID: orgID, MemberID: memberID,
		ShootID: shootID, Reason: reason, WorkflowID: "retry-" + shootID, Actor: store.Actor{Kind: "admin", ID: adminID},
		Now: time.Now(), Window: 60 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if n := count.Count(); n != 6 {
		t.Errorf("GiveRetry sent %d statements, want 6", n)
	}
	if r.Stage != domain.StagePending || r.Status != domain.StatusPending {
		t.Errorf("retry %s/%s, want pending/pending", r.Status, r.Stage)
	}

	// What the give's one round trip of writes must have left.
	type outcome struct {
		Reason      string
		Free        bool
		ShootStatus string
		RetryCount  int
		Results     int
		Audits      int
		Deliveries  int
	}
	var got outcome
	if err := db.NewRaw(`SELECT
		(SELECT reason FROM retries WHERE id = ?0),
		(SELECT free_retry_available FROM members WHERE id = ?1),
		(SELECT status FROM shoots WHERE id = ?2),
		(SELECT retry_count FROM shoots WHERE id = ?2),
		(SELECT count(*) FROM results WHERE shoot_id = ?2),
		(SELECT count(*) FROM audit_events WHERE target_id = ?0::text AND action = ?3),
		(SELECT count(*) FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id
			WHERE d.endpoint_id = ?4 AND e.type = ?5 AND e.payload->'data'->>'retry_id' = ?0::text)`,
		retryID, memberID, shootID, store.AuditRetryGive, endpointID, domain.EventRetryIssued).
		Scan(ctx, &got.Reason, &got.Free, &got.ShootStatus, &got.RetryCount, &got.Results, &got.Audits, &got.Deliveries); err != nil {
		t.Fatal(err)
	}
	want := outcome{reason, false, domain.ShootOnboarding, 1, 0, 1, 1}
	if got != want {
		t.Errorf("after the give:\n got %+v\nwant %+v", got, want)
	}
}

// TestStartShootRoundTrips: a member's start of a retried shoot, which the member waits
// on before the signal, locks the shoot, starts the pending retry and sends the
// shoot's start, the retry.started event and the audit row in one round trip: five with
// BEGIN and COMMIT (eight before). The restarts are not asked: none made this shoot.
func TestStartShootRoundTrips(t *testing.T) {
	db, _ := testenv.Database(t)
	ctx := context.Background()
	orgID, retries := resendOrg(t, db, 1)
	endpointID := webhookEndpoint(t, db, orgID, testSecret).ID
	r, err := store.GetRetry(ctx, db, retries[0])
	if err != nil {
		t.Fatal(err)
	}

	count := querycount.All()
	st, err := store.StartShoot(ctx, db.WithQueryHook(count), r.MemberID, r.ShootID, "req-start", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if n := count.Count(); n != 5 {
		t.Errorf("StartShoot sent %d statements, want 5", n)
	}
	if st.Retry == nil || st.Retry.ID != r.ID || st.Retry.Status != domain.StatusStarted || len(st.Waiting) != 1 || st.Waiting[0] != r.WorkflowID {
		t.Fatalf("started %+v, waiting %v; want retry %s started, its workflow waiting", st.Retry, st.Waiting, r.ID)
	}
	var started, audits, deliveries int
	if err := db.NewRaw(`SELECT
		(SELECT count(*) FROM shoots WHERE id = ?0 AND started_at IS NOT NULL),
		(SELECT count(*) FROM audit_events WHERE target_id = ?0::text AND action = ?1),
		(SELECT count(*) FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id
			WHERE d.endpoint_id = ?2 AND e.type = ?3 AND e.payload->'data'->>'retry_id' = ?4::text)`,
		r.ShootID, store.AuditShootStart, endpointID, domain.EventRetryStarted, r.ID).Scan(ctx, &started, &audits, &deliveries); err != nil {
		t.Fatal(err)
	}
	if started != 1 || audits != 1 || deliveries != 1 {
		t.Errorf("shoot started %d, audit rows %d, retry.started deliveries %d; want 1 each", started, audits, deliveries)
	}
}
