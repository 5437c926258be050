package bench

import (
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/headshotpro/retryd/internal/domain"
	"github.com/headshotpro/retryd/internal/tooling/webhooktest"
	"github.com/headshotpro/retryd/internal/webhook"
)

// TestWebhookReceipts: the floor's attempt reaches the receiver as a signed retry.issued
// whose webhook-id is the delivery's, and a wait counts it; a message signed with a
// secret the receiver does not trust fails the wait rather than counting as delivered.
func TestWebhookReceipts(t *testing.T) {
	rec := webhooktest.New(t, nil)
	secret, err := webhook.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	rec.Trust(secret)
	r := &runner{cfg: Config{EmailTimeout: 30 * time.Second}, receiver: rec}
	floor := newFloorWebhooks(floorReceiver{URL: rec.URL, Secret: secret, OrgID: uuid.NewString()})

	id := uuid.NewString()
	before := time.Now()
	res, err := floor.deliver(t.Context(), id)
	if err != nil || res.Status != domain.DeliveryDelivered {
		t.Fatalf("floor attempt: %+v, %v", res, err)
	}
	// The event came to be a second before the attempt began, so it arrived a second or
	// more after it.
	born := before.Add(-time.Second)
	sum, err := r.deliveries(t.Context(), map[string]time.Time{id: born}, born)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Ops != 1 || sum.P50 < time.Second || sum.Elapsed < time.Second {
		t.Errorf("one delivery of an event born a second before the attempt: %+v", sum)
	}
	if got := rec.Of(domain.EventRetryIssued); len(got) != 1 || got[0].MsgID != id || !got[0].Signed || got[0].Event.OrganizationID != floor.to.OrgID {
		t.Errorf("receiver got %+v", got)
	}

	stranger, err := webhook.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	forged := newFloorWebhooks(floorReceiver{URL: rec.URL, Secret: stranger, OrgID: uuid.NewString()})
	other := uuid.NewString()
	if _, err := forged.deliver(t.Context(), other); err != nil {
		t.Fatal(err)
	}
	_, err = r.received(t.Context(), 1, func(d webhooktest.Delivery) bool { return d.MsgID == other })
	if err == nil || !strings.Contains(err.Error(), "without a valid signature") {
		t.Errorf("a message signed with an untrusted secret: %v", err)
	}
}
