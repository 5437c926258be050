package server_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/headshotpro/retryd/internal/domain"
	"github.com/headshotpro/retryd/internal/tooling/apptest"
	"github.com/headshotpro/retryd/internal/tooling/webhooktest"
	"github.com/headshotpro/retryd/internal/webhook"
	"github.com/headshotpro/retryd/server"
)

// TestWebhookSecretRotationDelivered: through the API, an endpoint's test event arrives
// signed with the secret shown at creation; after a rotation, deliveries carry both
// signatures, each verifying alone, so a receiver can switch at its own pace; once the
// overlap ends, only the new secret signs. A replay of the first delivery arrives again
// under the same webhook-id.
func TestWebhookSecretRotationDelivered(t *testing.T) {
	app := apptest.Start(t, apptest.Options{})
	org := app.SeedOrg(t, 1)
	rec := webhooktest.New(t, nil)
	created := createEndpoint(t, app, org.AdminKey, map[string]any{"url": rec.URL, "event_types": []string{domain.EventRetryIssued}})
	test := func() []webhooktest.Delivery {
		t.Helper()
		expectStatus(t, app.Do(t, "POST", webhooksPath+"/"+created.ID+"/test", org.AdminKey, nil), http.StatusAccepted)
		n := len(rec.Deliveries()) + 1
		return rec.Wait(t, 30*time.Second, "the test event", func(ds []webhooktest.Delivery) bool { return len(ds) >= n })
	}
	verifies := func(d webhooktest.Delivery, secret string) bool {
		return webhook.Verify(secret, d.Header, d.Body, time.Now(), 5*time.Minute) == nil
	}

	first := test()[0]
	if first.Event.Type != domain.EventWebhookTest || !verifies(first, created.Secret) {
		t.Fatalf("the test event %s does not verify with the secret shown at creation", first.Event.Type)
	}
	rotated := expectJSON[server.WebhookSecretDTO](t, app.Do(t, "POST", webhooksPath+"/"+created.ID+"/rotate-secret", org.AdminKey, nil), 200)
	if rotated.Secret == created.Secret {
		t.Fatal("the rotation answered the old secret")
	}
	during := test()
	d := during[len(during)-1]
	if !verifies(d, created.Secret) || !verifies(d, rotated.Secret) {
		t.Errorf("during the overlap, old secret verifies=%v, new=%v; want both", verifies(d, created.Secret), verifies(d, rotated.Secret))
	}
	if _, err := app.DB.NewRaw(`UPDATE webhook_endpoints SET previous_secret_expires_at = now() - interval '1 second' WHERE id = ?`, created.ID).Exec(t.Context()); err != nil {
		t.Fatal(err)
	}
	after := test()
	d = after[len(after)-1]
	if verifies(d, created.Secret) || !verifies(d, rotated.Secret) {
		t.Errorf("after the overlap, old secret verifies=%v, new=%v; want only the new", verifies(d, created.Secret), verifies(d, rotated.Secret))
	}

	page := deliveries(t, app, org.AdminKey, created.ID, "limit=10")
	var firstDelivery string
	for _, dd := range page.Data {
		if dd.EventID == first.MsgID {
			firstDelivery = dd.ID
		}
	}
	if firstDelivery == "" {
		t.Fatalf("the first test event's delivery is not listed: %+v", page.Data)
	}
	expectStatus(t, app.Do(t, "POST", webhooksPath+"/"+created.ID+"/deliveries/"+firstDelivery+"/replay", org.AdminKey, nil), http.StatusAccepted)
	rec.Wait(t, 30*time.Second, "the replay", func(ds []webhooktest.Delivery) bool {
		n := 0
		for _, x := range ds {
			if x.MsgID == first.MsgID {
				n++
			}
		}
		return n == 2
	})
	apptest.WaitFor(t, 10*time.Second, "every delivery recorded delivered", func() bool {
		for _, dd := range deliveries(t, app, org.AdminKey, created.ID, "limit=10").Data {
			if dd.Status != domain.DeliveryDelivered || dd.Attempts != 1 {
				return false
			}
		}
		return true
	})
}
