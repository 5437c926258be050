package server_test

import (
	"testing"

	"github.com/headshotpro/retryd/internal/seed"
	"github.com/headshotpro/retryd/internal/tooling/apptest"
)

// TestDuplicateFieldsRefusedBeforeTheKey: every endpoint with a JSON body refuses a body
// that names one member twice in an object (exactly or in another case) with 422
// duplicate_field, before its Idempotency-Key is claimed: encoding/json would run the
// last of the two while the key's hash tells them apart, so one key could mean two
// requests. The refused key stays free for the request the client meant.
func TestDuplicateFieldsRefusedBeforeTheKey(t *testing.T) {
	app := apptest.Start(t, apptest.Options{})
	org := app.SeedOrg(t, 5,
		person("Dana Dup", finished(2, 4)),
		seed.Member{Name: "Mo Dup", Kind: "managed", Shoots: []seed.Shoot{deletedShoot()}},
		seed.Member{Name: "Max Dup", Kind: "managed", Shoots: []seed.Shoot{deletedShoot()}},
	)
	dana, danaShoots := seeded(org, 0)
	mo, _ := seeded(org, 1)
	maxID, _ := seeded(org, 2)
	other := randomUUID()

	for _, tc := range []struct {
		name, path, bearer, body, key string
	}{
		{"give, shoot_id twice", "/api/v1/admin/members/" + dana + "/retries", org.AdminKey,
			`{"shoot_id":"` + other + `","shoot_id":"` + danaShoots[0] + `"}`, "dup-give-1"},
		{"give, shoot_id in two cases", "/api/v1/admin/members/" + dana + "/retries", org.AdminKey,
			`{"SHOOT_ID":"` + other + `","shoot_id":"` + danaShoots[0] + `"}`, "dup-give-2"},
		{"restart", "/api/v1/admin/members/" + mo + "/restarts", org.AdminKey, `{"source":"a","Source":"b"}`, "dup-restart"},
		{"bulk restart", "/api/v1/admin/restarts", org.AutomationKey,
			`{"member_ids":["` + mo + `"],"MEMBER_IDS":["` + maxID + `"]}`, "dup-bulk"},
		{"fresh link", "/api/v1/member/link", "", `{"email":"dana.dup@acme.test","Email":"x@acme.test"}`, ""},
		{"complete", "/api/v1/internal/shoots/" + other + "/complete", app.PipelineToken, `{"result_count":1,"result_count":2}`, ""},
		{"complete, nested", "/api/v1/internal/shoots/" + other + "/complete", app.PipelineToken,
			`{"results":[{"url":"a.jpg","URL":"b.jpg"}]}`, ""},
	} {
		var headers []string
		if tc.key != "" {
			headers = []string{"Idempotency-Key", tc.key}
		}
		r := app.Do(t, "POST", tc.path, tc.bearer, tc.body, headers...)
		if r.Status != 422 {
			t.Errorf("%s: %d %s, want 422 duplicate_field", tc.name, r.Status, r.Body)
			continue
		}
		expectProblem(t, r, 422, "duplicate_field")
		if tc.key != "" {
			if n := countRows(t, app, "idempotency_keys", "key = ?", tc.key); n != 0 {
				t.Errorf("%s: the refused body claimed its Idempotency-Key (%d rows)", tc.name, n)
			}
		}
	}
	expectNoWorkflow(t, app, danaShoots[0])
	if n := countRows(t, app, "restarts", "org_id = ?", org.ID); n != 0 {
		t.Fatalf("%d restarts after refused bodies, want none", n)
	}

	// The refused key is still free: with the body the client meant, it restarts Max.
	r := app.Do(t, "POST", "/api/v1/admin/restarts", org.AutomationKey, map[string]any{"member_ids": []string{maxID}}, "Idempotency-Key", "dup-bulk")
	if res := expectJSON[bulkAnswer](t, r, 200).Results; len(res) != 1 || res[0].Outcome != "restarted" {
		t.Fatalf("the key after the refusal: %s", r.Body)
	}
}
