package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/headshotpro/retryd/internal/domain"
	"github.com/headshotpro/retryd/internal/store"
	"github.com/headshotpro/retryd/internal/tooling/testenv"
)

// TestDeletingAnEndpointLeavesChangesAlone: an admin deletes an endpoint while a change
// of the organization records its event. The change commits, whatever the order of the
// two transactions; the deleted endpoint is no longer listed, and what was pending for it
// ends canceled. (Deleting the row made the change's insert wait for the deletion and
// then fail on the deliveries' foreign key.)
func TestDeletingAnEndpointLeavesChangesAlone(t *testing.T) {
	ctx := context.Background()
	db, _ := testenv.Database(t)
	orgID := webhookOrg(t, db)
	actor := store.Actor{Kind: store.ActorSystem, ID: "test"}
	ep := webhookEndpoint(t, db, orgID, testSecret)
	event := func() store.Event {
		return store.Event{OrgID: orgID, Type: domain.EventRetryIssued, OccurredAt: time.Now(), Data: map[string]any{"retry_id": uuid.NewString()}}
	}
	if err := store.RecordEvent(ctx, db, event()); err != nil {
		t.Fatal(err)
	}

	// The deletion's transaction is open when the change records its event.
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.DeleteWebhookEndpoint(ctx, tx, orgID, ep.ID, actor); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- store.RecordEvent(ctx, db, event()) }()
	time.Sleep(300 * time.Millisecond)
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("the change failed because an endpoint was deleted meanwhile: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the change still waits on the deletion")
	}
	if _, err := store.GetWebhookEndpoint(ctx, db, orgID, ep.ID); err == nil {
		t.Error("the deleted endpoint is still found")
	}
	var pending int
	if err := db.NewRaw(`SELECT count(*) FROM webhook_deliveries WHERE endpoint_id = ? AND status = ?`, ep.ID, domain.DeliveryPending).Scan(ctx, &pending); err != nil {
		t.Fatal(err)
	}
	if pending > 1 {
		t.Errorf("%d deliveries of the deleted endpoint still pending, want at most the one recorded during the deletion", pending)
	}
	// Its attempt finds no endpoint, and so cancels it.
	var ids []string
	if err := db.NewRaw(`SELECT id FROM webhook_deliveries WHERE endpoint_id = ?`, ep.ID).Scan(ctx, &ids); err != nil || len(ids) == 0 {
		t.Fatalf("deliveries of the deleted endpoint: %v %v", ids, err)
	}
	for _, id := range ids {
		target, err := store.GetWebhookTarget(ctx, db, id)
		if err != nil || target.Endpoint != nil || len(target.Body) == 0 {
			t.Errorf("the target of a delivery to a deleted endpoint: %+v, %v; want its body and no endpoint", target, err)
		}
	}
}

// TestPurgeWebhooks: events past the retention go with their deliveries, unless one is
// still pending; endpoints deleted past it go too; recent ones stay.
func TestPurgeWebhooks(t *testing.T) {
	ctx := context.Background()
	db, _ := testenv.Database(t)
	orgID := webhookOrg(t, db)
	actor := store.Actor{Kind: store.ActorSystem, ID: "test"}
	kept, gone := webhookEndpoint(t, db, orgID, testSecret).ID, webhookEndpoint(t, db, orgID, testSecret).ID
	now := time.Now()
	old := now.Add(-store.WebhookRetention - time.Hour)
	record := func(at time.Time) string {
		id := uuid.NewString()
		if err := store.RecordEvent(ctx, db, store.Event{ID: id, OrgID: orgID, Type: domain.EventRetryIssued, OccurredAt: at, Data: map[string]any{}}); err != nil {
			t.Fatal(err)
		}
		return id
	}
	oldDone, oldPending, recent := record(old), record(old), record(now)
	if _, err := db.NewRaw(`UPDATE webhook_deliveries SET status = 'delivered' WHERE event_id <> ?`, oldPending).Exec(ctx); err != nil {
		t.Fatal(err)
	}
	if err := store.DeleteWebhookEndpoint(ctx, db, orgID, gone, actor); err != nil {
		t.Fatal(err)
	}
	if _, err := db.NewRaw(`UPDATE webhook_endpoints SET deleted_at = ? WHERE id = ?`, old, gone).Exec(ctx); err != nil {
		t.Fatal(err)
	}
	events, endpoints, err := store.PurgeWebhooks(ctx, db, now)
	if err != nil {
		t.Fatal(err)
	}
	if events != 1 || endpoints != 1 {
		t.Fatalf("purged %d events and %d endpoints, want 1 and 1", events, endpoints)
	}
	var left []string
	if err := db.NewRaw(`SELECT id FROM webhook_events ORDER BY occurred_at, id`).Scan(ctx, &left); err != nil {
		t.Fatal(err)
	}
	if len(left) != 2 || !((left[0] == oldPending && left[1] == recent) || (left[1] == oldPending && left[0] == recent)) {
		t.Errorf("events left %v, want the old pending one %s and the recent one %s (purged: %s)", left, oldPending, recent, oldDone)
	}
	var eps []string
	if err := db.NewRaw(`SELECT id FROM webhook_endpoints`).Scan(ctx, &eps); err != nil {
		t.Fatal(err)
	}
	if len(eps) != 1 || eps[0] != kept {
		t.Errorf("endpoints left %v, want only %s", eps, kept)
	}
}

// TestDisableFailingIsConditional: an endpoint is disabled as failing only while it has
// been failing since before the given delivery's first attempt; once it delivered (its
// failing spell ended or began later), or an admin re-enabled it, it stays enabled.
func TestDisableFailingIsConditional(t *testing.T) {
	ctx := context.Background()
	db, _ := testenv.Database(t)
	ep := webhookEndpoint(t, db, webhookOrg(t, db), testSecret)
	first := time.Now().Add(-time.Hour)
	for _, c := range []struct {
		failingSince *time.Time
		want         bool
	}{{nil, false}, {ptr(first.Add(time.Minute)), false}, {ptr(first), true}} {
		if _, err := db.NewRaw(`UPDATE webhook_endpoints SET enabled = true, failing_since = ? WHERE id = ?`, c.failingSince, ep.ID).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		done, err := store.DisableFailingWebhookEndpoint(ctx, db, ep.ID, first, time.Now())
		if err != nil || done != c.want {
			t.Errorf("failing since %v, first attempt %v: disabled %v (%v), want %v", c.failingSince, first, done, err, c.want)
		}
	}
}

func ptr[T any](v T) *T { return &v }

// TestRotatingTwiceKeepsTheSecretReceiversHold: a second rotation within the overlap
// (the first one's answer was lost, the client asked again) keeps the original secret
// signing beside the newest, instead of dropping it for one no receiver ever saw.
func TestRotatingTwiceKeepsTheSecretReceiversHold(t *testing.T) {
	ctx := context.Background()
	db, _ := testenv.Database(t)
	orgID := webhookOrg(t, db)
	actor := store.Actor{Kind: store.ActorSystem, ID: "test"}
	const s0, s1, s2, s3 = "whsec_c2VjcmV0LXplcm8tc2VjcmV0LXplcm8=", "whsec_c2VjcmV0LW9uZS1zZWNyZXQtb25lLXg=", "whsec_c2VjcmV0LXR3by1zZWNyZXQtdHdvLXg=", "whsec_c2VjcmV0LXRocmVlLXNlY3JldC10aHI="
	ep := webhookEndpoint(t, db, orgID, s0)
	now := time.Now()
	rotate := func(secret string, at time.Time) *store.WebhookEndpoint {
		e, err := store.RotateWebhookSecret(ctx, db, orgID, ep.ID, secret, at.Add(24*time.Hour), actor, at)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	rotate(s1, now)
	got := rotate(s2, now.Add(time.Minute)).Secrets(now.Add(2 * time.Minute))
	if len(got) != 2 || got[0] != s2 || got[1] != s0 {
		t.Errorf("after two rotations within the overlap, signing with %v, want the newest and the original", got)
	}
	// Past the overlap, a rotation retires the secret it replaces as usual.
	later := now.Add(48 * time.Hour)
	got = rotate(s3, later).Secrets(later)
	if len(got) != 2 || got[0] != s3 || got[1] != s2 {
		t.Errorf("a rotation after the overlap signs with %v, want the new one and the one it replaced", got)
	}
}
