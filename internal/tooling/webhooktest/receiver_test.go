package webhooktest

import (
	"bytes"
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/headshotpro/retryd/internal/webhook"
)

// TestReceiverTellsCutRequestsFromAnswered: a request whose sender gives up before the
// answer is in flight while it waits, recorded as cut, and not accepted; the same event
// sent again and answered counts once in Accepted, signature verified.
func TestReceiverTellsCutRequestsFromAnswered(t *testing.T) {
	release := make(chan struct{})
	r := New(t, func(_ string, attempt int) (int, http.Header, time.Duration) {
		if attempt == 1 {
			<-release // the sender is waiting on this first attempt
			return http.StatusOK, nil, time.Hour
		}
		return http.StatusOK, nil, 0
	})
	secret, err := webhook.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	r.Trust(secret)
	body := []byte(`{"id":"evt-1","type":"retry.issued","organization_id":"org-1","data":{}}`)
	send := func(ctx context.Context) (int, error) {
		h, err := webhook.Headers([]string{secret}, "evt-1", time.Now(), body)
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, r.URL, bytes.NewReader(body))
		req.Header = h
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := send(ctx)
		done <- err
	}()
	for r.InFlight() == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	close(release)
	cancel() // the sender goes away mid-attempt, like a killed worker
	if err := <-done; err == nil {
		t.Fatal("the cut request got an answer")
	}
	r.Wait(t, 10*time.Second, "the cut request recorded", func(ds []Delivery) bool { return len(ds) == 1 })
	if n := r.InFlight(); n != 0 {
		t.Fatalf("in flight after the answer: %d", n)
	}
	if got := r.Deliveries()[0]; !got.Cut || !got.Signed || got.Event.OrganizationID != "org-1" {
		t.Fatalf("cut request recorded as %+v, want cut, signed, organization org-1", got)
	}
	if a := r.Accepted(); a["evt-1"] != 0 {
		t.Fatalf("the cut request counts as accepted: %v", a)
	}

	if status, err := send(context.Background()); err != nil || status != http.StatusOK {
		t.Fatalf("second attempt: %d %v", status, err)
	}
	got := r.Deliveries()
	if len(got) != 2 || got[1].Cut || got[1].Attempt != 2 || !got[1].Signed {
		t.Fatalf("second attempt recorded as %+v", got[len(got)-1])
	}
	if a := r.Accepted(); a["evt-1"] != 1 {
		t.Fatalf("accepted %v, want evt-1 once", a)
	}
}
