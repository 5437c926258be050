package store_test

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/headshotpro/retryd/internal/domain"
	"github.com/headshotpro/retryd/internal/seed"
	"github.com/headshotpro/retryd/internal/store"
	"github.com/headshotpro/retryd/internal/tooling/testenv"
)

// hooked is one delivery as the events test reads it: which endpoint got which event.
type hooked struct {
	Endpoint string          `bun:"endpoint_id"`
	Type     string          `bun:"type"`
	Payload  json.RawMessage `bun:"payload"`
}

func deliveries(t *testing.T, db *bun.DB, orgID string) []hooked {
	t.Helper()
	var out []hooked
	if err := db.NewRaw(`SELECT d.endpoint_id, e.type, e.payload FROM webhook_deliveries d
		JOIN webhook_events e ON e.id = d.event_id WHERE d.org_id = ? ORDER BY e.occurred_at, e.type`, orgID).Scan(context.Background(), &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func typesTo(ds []hooked, endpoint string) []string {
	var out []string
	for _, d := range ds {
		if d.Endpoint == endpoint {
			out = append(out, d.Type)
		}
	}
	return out
}

// TestEventsRecordedWithTheirChange: each change of a retry or restart writes its event,
// in its own transaction, with one delivery per enabled endpoint of the organization
// subscribed to the type; a disabled endpoint, an unsubscribed one and another
// organization's get none; a change that is refused or repeated writes nothing.
func TestEventsRecordedWithTheirChange(t *testing.T) {
	ctx := context.Background()
	db, _ := testenv.Database(t)
	now := time.Now()
	orgID, adminID, otherOrg := uuid.NewString(), uuid.NewString(), uuid.NewString()
	done, gone := now.Add(-72*time.Hour), now.Add(-48*time.Hour)
	email := "ivy@events.test"
	ivy := seed.Member{ID: uuid.NewString(), Name: "Ivy", Email: &email, Kind: "individual",
		Shoots: []seed.Shoot{{ID: uuid.NewString(), Status: "active", CompletedAt: &done, Results: 2}}}
	jo := seed.Member{ID: uuid.NewString(), Name: "Jo", Email: &email, Kind: "individual",
		Shoots: []seed.Shoot{{ID: uuid.NewString(), Status: "active", CompletedAt: &done, Results: 1}}}
	kit := seed.Member{ID: uuid.NewString(), Name: "Kit", Email: &email, Kind: "managed",
		Shoots: []seed.Shoot{{ID: uuid.NewString(), Status: "deleted", DeletedAt: &gone}}}
	if _, err := seed.Load(ctx, db, &seed.File{Organizations: []seed.Organization{
		{ID: orgID, Name: "Events", CreditBalance: 5, Admins: []seed.Admin{{ID: adminID, Email: "lee@events.test", Name: "Lee", Role: "owner"}},
			Members: []seed.Member{ivy, jo, kit}},
		{ID: otherOrg, Name: "Other", CreditBalance: 5, Admins: []seed.Admin{{ID: uuid.NewString(), Email: "o@other.test", Name: "O", Role: "owner"}}},
	}}); err != nil {
		t.Fatal(err)
	}
	actor := store.Actor{Kind: store.ActorAdmin, ID: adminID}
	endpointOf := func(org string, types []string) string {
		ep, err := store.CreateWebhookEndpoint(ctx, db, store.NewWebhookEndpoint{OrgID: org, URL: "https://hooks.example.com/" + uuid.NewString()[:8], EventTypes: types, Secret: testSecret}, actor, now)
		if err != nil {
			t.Fatal(err)
		}
		return ep.ID
	}

	// Nothing is written for an organization without endpoints.
	give := func(m seed.Member) (string, error) {
		id := uuid.NewString()
		_, err := store.GiveRetry(ctx, db, store.ReserveRetryParams{RetryID: id, OrgID: orgID, MemberID: m.ID, ShootID: m.Shoots[0].ID,
			WorkflowID: "retry-" + m.Shoots[0].ID, Actor: actor, Now: time.Now(), Window: 60 * 24 * time.Hour})
		return id, err
	}
	all := endpointOf(orgID, domain.EventTypes())
	startedOnly := endpointOf(orgID, []string{domain.EventRetryStarted, domain.EventRestartStarted})
	off := endpointOf(orgID, domain.EventTypes())
	disabled := false
	if _, err := store.UpdateWebhookEndpoint(ctx, db, orgID, off, store.WebhookEndpointPatch{Enabled: &disabled}, actor, now); err != nil {
		t.Fatal(err)
	}
	other := endpointOf(otherOrg, domain.EventTypes())

	ivyRetry, err := give(ivy)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := give(ivy); err == nil {
		t.Fatal("a second retry of Ivy's shoot was given")
	}
	e, err := store.BeginEmail(ctx, db, ivyRetry, 0, domain.EmailKindInitial)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.FinishEmail(ctx, db, store.SubjectRetry, e, "msg-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := store.FinishEmail(ctx, db, store.SubjectRetry, e, "msg-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	resend, err := store.BeginEmail(ctx, db, ivyRetry, 1, domain.EmailKindResend)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := store.FailEmail(ctx, db, store.SubjectRetry, resend, "rejected", time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 {
		if _, err := store.StartShoot(ctx, db, ivy.ID, ivy.Shoots[0].ID, "req", time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	joRetry, err := give(jo)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := store.SetRetryStage(ctx, db, joRetry, domain.StageFailed, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	restartID, newShoot := uuid.NewString(), uuid.NewString()
	if _, err := store.CreateRestart(ctx, db, store.CreateRestartParams{RestartID: restartID, OrgID: orgID, MemberID: kit.ID, NewShootID: newShoot,
		WorkflowID: "restart-" + kit.ID, Actor: actor, Now: time.Now()}); err != nil {
		t.Fatal(err)
	}
	re, err := store.BeginEmail(ctx, db, restartID, 0, domain.EmailKindInitial)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.FailEmail(ctx, db, store.SubjectRestart, re, "rejected", time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := store.StartShoot(ctx, db, kit.ID, newShoot, "req", time.Now()); err != nil {
		t.Fatal(err)
	}

	got := deliveries(t, db, orgID)
	wantAll := []string{domain.EventRetryIssued, domain.EventRetryEmailDelivered, domain.EventRetryEmailFailed, domain.EventRetryStarted,
		domain.EventRetryIssued, domain.EventRetryCanceled, domain.EventRestartIssued, domain.EventRestartEmailFailed, domain.EventRestartStarted}
	if g := typesTo(got, all); !slices.Equal(g, wantAll) {
		t.Errorf("the endpoint of every type got %v, want %v", g, wantAll)
	}
	if g := typesTo(got, startedOnly); !slices.Equal(g, []string{domain.EventRetryStarted, domain.EventRestartStarted}) {
		t.Errorf("the endpoint of the started types got %v", g)
	}
	if g := typesTo(got, off); len(g) != 0 {
		t.Errorf("the disabled endpoint got %v", g)
	}
	if g := deliveries(t, db, otherOrg); len(g) != 0 || other == "" {
		t.Errorf("another organization's endpoint got %v", g)
	}
	// The payload: ids and fields to act on, and nothing of the member's address.
	for _, d := range got {
		var body store.EventBody
		if err := json.Unmarshal(d.Payload, &body); err != nil {
			t.Fatal(err)
		}
		if body.Type != d.Type || body.OrganizationID != orgID || body.ID == "" || body.Data["member_id"] == nil || body.Data["shoot_id"] == nil ||
			body.Data["member_id"] == "" || body.Data["shoot_id"] == "" {
			t.Errorf("%s payload %s lacks its ids", d.Type, d.Payload)
		}
		if strings.Contains(string(d.Payload), email) {
			t.Errorf("%s payload %s holds the member's address", d.Type, d.Payload)
		}
		// FinishEmail fills these in from the retry's row, in its one statement.
		if d.Type == domain.EventRetryEmailDelivered {
			want := map[string]any{"retry_id": ivyRetry, "member_id": ivy.ID, "shoot_id": ivy.Shoots[0].ID,
				"email_kind": domain.EmailKindInitial, "email_seq": float64(0), "message_id": "msg-1"}
			if !maps.Equal(body.Data, want) {
				t.Errorf("retry.email_delivered data = %v, want %v", body.Data, want)
			}
		}
	}
}
