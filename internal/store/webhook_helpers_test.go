package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/headshotpro/retryd/internal/domain"
	"github.com/headshotpro/retryd/internal/seed"
	"github.com/headshotpro/retryd/internal/store"
)

// testSecret is a webhook signing secret of the valid form.
const testSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// webhookOrg seeds an organization of one admin and no members, for the tests of its
// endpoints and events.
func webhookOrg(t *testing.T, db *bun.DB) string {
	t.Helper()
	orgID := uuid.NewString()
	if _, err := seed.Load(context.Background(), db, &seed.File{Organizations: []seed.Organization{{ID: orgID, Name: "Hooks " + orgID[:8], CreditBalance: 1,
		Admins: []seed.Admin{{ID: uuid.NewString(), Email: "lee-" + orgID[:8] + "@hooks.test", Name: "Lee", Role: "owner"}}}}}); err != nil {
		t.Fatal(err)
	}
	return orgID
}

// webhookEndpoint creates an endpoint of the organization subscribed to every event
// type, signing with secret.
func webhookEndpoint(t *testing.T, db *bun.DB, orgID, secret string) *store.WebhookEndpoint {
	t.Helper()
	ep, err := store.CreateWebhookEndpoint(context.Background(), db, store.NewWebhookEndpoint{OrgID: orgID, URL: "https://hooks.example.com/" + orgID[:8],
		EventTypes: domain.EventTypes(), Secret: secret}, store.Actor{Kind: store.ActorSystem, ID: "test"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return ep
}
