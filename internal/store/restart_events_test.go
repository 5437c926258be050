package store_test

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/headshotpro/retryd/internal/domain"
	"github.com/headshotpro/retryd/internal/seed"
	"github.com/headshotpro/retryd/internal/store"
	"github.com/headshotpro/retryd/internal/tooling/testenv"
)

// TestRestartCanceledEvent: a pending restart an operator cancels records
// restart.canceled with the change, once, naming the restart and both shoots; a restart
// the member started is not canceled and records none.
func TestRestartCanceledEvent(t *testing.T) {
	ctx := context.Background()
	db, _ := testenv.Database(t)
	now := time.Now()
	orgID, adminID := uuid.NewString(), uuid.NewString()
	gone := now.Add(-48 * time.Hour)
	kit := seed.Member{ID: uuid.NewString(), Name: "Kit", Kind: "managed",
		Shoots: []seed.Shoot{{ID: uuid.NewString(), Status: "deleted", DeletedAt: &gone}}}
	lou := seed.Member{ID: uuid.NewString(), Name: "Lou", Kind: "managed",
		Shoots: []seed.Shoot{{ID: uuid.NewString(), Status: "deleted", DeletedAt: &gone}}}
	if _, err := seed.Load(ctx, db, &seed.File{Organizations: []seed.Organization{
		{ID: orgID, Name: "Cancels", CreditBalance: 5, Admins: []seed.Admin{{ID: adminID, Email: "lee@cancels.test", Name: "Lee", Role: "owner"}},
			Members: []seed.Member{kit, lou}},
	}}); err != nil {
		t.Fatal(err)
	}
	actor := store.Actor{Kind: store.ActorAdmin, ID: adminID}
	webhookEndpoint(t, db, orgID, testSecret)
	restart := func(m seed.Member) (string, string) {
		id, shoot := uuid.NewString(), uuid.NewString()
		if _, err := store.CreateRestart(ctx, db, store.CreateRestartParams{RestartID: id, OrgID: orgID, MemberID: m.ID, NewShootID: shoot,
			WorkflowID: "restart-" + m.ID, Actor: actor, Now: time.Now()}); err != nil {
			t.Fatal(err)
		}
		return id, shoot
	}
	kitRestart, kitShoot := restart(kit)
	louRestart, louShoot := restart(lou)
	if _, err := store.StartShoot(ctx, db, lou.ID, louShoot, "req", time.Now()); err != nil {
		t.Fatal(err)
	}
	// Canceled twice, as a workflow retrying its last activity would; and the started
	// restart's workflow told to fail after the member's start.
	for range 2 {
		if err := store.SetRestartStage(ctx, db, kitRestart, domain.StageFailed, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	if err := store.SetRestartStage(ctx, db, louRestart, domain.StageFailed, time.Now()); err != nil {
		t.Fatal(err)
	}

	var events []struct {
		Type    string          `bun:"type"`
		Payload json.RawMessage `bun:"payload"`
		Sent    int             `bun:"sent"`
	}
	if err := db.NewRaw(`SELECT e.type, e.payload, (SELECT count(*) FROM webhook_deliveries d WHERE d.event_id = e.id) AS sent
		FROM webhook_events e WHERE e.org_id = ? AND e.type = ?`, orgID, domain.EventRestartCanceled).Scan(ctx, &events); err != nil {
		t.Fatal(err)
	}
	if len(events) != 1 {
		t.Fatalf("%d restart.canceled events, want 1 (Kit's): %+v", len(events), events)
	}
	if events[0].Sent != 1 {
		t.Errorf("restart.canceled has %d deliveries, want 1", events[0].Sent)
	}
	var body store.EventBody
	if err := json.Unmarshal(events[0].Payload, &body); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"restart_id": kitRestart, "member_id": kit.ID, "shoot_id": kitShoot, "old_shoot_id": kit.Shoots[0].ID}
	for k, v := range want {
		if body.Data[k] != v {
			t.Errorf("data.%s = %v, want %v (payload %s)", k, body.Data[k], v, events[0].Payload)
		}
	}
	if body.Type != domain.EventRestartCanceled || body.OrganizationID != orgID {
		t.Errorf("payload %s", events[0].Payload)
	}
	r, err := store.GetRestart(ctx, db, kitRestart)
	if err != nil {
		t.Fatal(err)
	}
	var status string
	if err := db.NewRaw(`SELECT status FROM shoots WHERE id = ?`, kitShoot).Scan(ctx, &status); err != nil {
		t.Fatal(err)
	}
	if r.Status != domain.StatusFailed || status != domain.ShootDeleted {
		t.Errorf("canceled restart %s, its shoot %s", r.Status, status)
	}
	var louTypes []string
	if err := db.NewRaw(`SELECT type FROM webhook_events WHERE payload->'data'->>'restart_id' = ? ORDER BY occurred_at`, louRestart).Scan(ctx, &louTypes); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(louTypes, []string{domain.EventRestartIssued, domain.EventRestartStarted}) {
		t.Errorf("the started restart recorded %v", louTypes)
	}
}
