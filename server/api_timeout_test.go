package server_test

import (
	"testing"
	"time"

	"github.com/headshotpro/retryd/internal/seed"
	"github.com/headshotpro/retryd/internal/tooling/apptest"
)

// A give whose database steps outlast the API's wait answers 504 timeout, a cause the
// client can act on (look at the member, then retry with the same key), not 500
// internal: the SDK reports the wait's end as its own error type, whose cause is a gRPC
// status rather than the context's error. A bulk restart's member says the same.
func TestWaitOutlastedAnswersTimeout(t *testing.T) {
	app := apptest.Start(t, apptest.Options{GiveTimeout: 2 * time.Second})
	org := app.SeedOrg(t, 5, person("Tara Slow", finished(5, 8)),
		seed.Member{Name: "Milo Slow", Kind: "managed", Shoots: []seed.Shoot{deletedShoot()}})
	id, shoots := seeded(org, 0)
	milo, _ := seeded(org, 1)

	release := holdLock(t, app, "retries")
	expectProblem(t, giveRetry(t, app, org.AdminKey, id, shoots[0], "Idempotency-Key", "give-tara"), 504, "timeout")
	release()

	release = holdLock(t, app, "restarts")
	bulk := expectJSON[bulkAnswer](t, app.Do(t, "POST", "/api/v1/admin/restarts", org.AdminKey, map[string]any{"member_ids": []string{milo}}), 200)
	release()
	if r := bulk.Results[0]; r.Outcome != "error" || r.Code == nil || *r.Code != "timeout" {
		t.Errorf("the bulk member whose restart outlasted the wait: %+v, want error timeout", r)
	}
}
