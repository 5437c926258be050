package server_test

import (
	"encoding/base64"
	"net/url"
	"strings"
	"testing"

	"github.com/headshotpro/retryd/internal/seed"
	"github.com/headshotpro/retryd/internal/tooling/apptest"
)

// TestBadInput: every malformed request is a 4xx problem+json with a stable code, never a
// 500, and changes nothing.
func TestBadInput(t *testing.T) {
	app := apptest.Start(t, apptest.Options{})
	org := app.SeedOrg(t, 5, person("Bea Bad", finished(5, 8)), person("Wyn Waiting", seed.Shoot{Status: "waiting"}))
	id, shoots := seeded(org, 0)
	_, waiting := seeded(org, 1)
	key := org.AdminKey
	give := "/api/v1/admin/members/" + id + "/retries"
	shoot := shoots[0]

	huge := `{"shoot_id":"` + shoot + `","note":"` + strings.Repeat("x", 70<<10) + `"}`
	b64 := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

	cases := []struct {
		name    string
		method  string
		path    string
		bearer  string
		body    any
		headers []string
		status  int
		code    string
	}{
		{"malformed JSON", "POST", give, key, `{"shoot_id": "` + shoot, nil, 400, "invalid_body"},
		{"not JSON at all", "POST", give, key, `shoot_id=` + shoot, nil, 400, "invalid_body"},
		{"JSON array", "POST", give, key, `[{"shoot_id": "` + shoot + `"}]`, nil, 400, "invalid_body"},
		{"JSON string", "POST", give, key, `"` + shoot + `"`, nil, 400, "invalid_body"},
		{"JSON null", "POST", give, key, `null`, nil, 400, "invalid_body"},
		{"NUL in note", "POST", give, key, `{"shoot_id":"` + shoot + `","note":"a\u0000b"}`, nil, 400, "invalid_body"},
		{"wrong type of shoot_id", "POST", give, key, map[string]any{"shoot_id": 42}, nil, 400, "invalid_body"},
		{"shoot_id as object", "POST", give, key, map[string]any{"shoot_id": map[string]any{"id": shoot}}, nil, 400, "invalid_body"},
		{"missing shoot_id", "POST", give, key, map[string]any{"reason": "bad_lighting"}, nil, 400, "invalid_body"},
		{"empty body", "POST", give, key, nil, nil, 400, "invalid_body"},
		{"shoot_id not a UUID", "POST", give, key, map[string]any{"shoot_id": "shoot-1"}, nil, 400, "invalid_body"},
		{"two JSON objects", "POST", give, key, `{"shoot_id":"` + shoot + `"} {"shoot_id":"` + shoot + `"}`, nil, 400, "invalid_body"},
		{"bad reason code", "POST", give, key, map[string]any{"shoot_id": shoot, "reason": "!!!"}, nil, 400, "invalid_body"},
		{"note too long", "POST", give, key, map[string]any{"shoot_id": shoot, "note": strings.Repeat("n", 1001)}, nil, 400, "invalid_body"},
		{"text/plain", "POST", give, key, `{"shoot_id":"` + shoot + `"}`, []string{"Content-Type", "text/plain"}, 415, "unsupported_media_type"},
		{"form body (curl's default type is read as JSON)", "POST", give, key, "shoot_id=" + shoot, []string{"Content-Type", "application/x-www-form-urlencoded"}, 400, "invalid_body"},
		{"body over 64 KiB", "POST", give, key, huge, nil, 413, "payload_too_large"},
		{"Idempotency-Key too long", "POST", give, key, map[string]any{"shoot_id": shoot}, []string{"Idempotency-Key", strings.Repeat("k", 256)}, 400, "invalid_parameter"},

		{"member id not a UUID (detail)", "GET", "/api/v1/admin/members/ada", key, nil, nil, 404, "not_found"},
		{"member id not a UUID (give)", "POST", "/api/v1/admin/members/1234/retries", key, map[string]any{"shoot_id": shoot}, nil, 404, "not_found"},
		{"member id not a UUID (preview)", "GET", "/api/v1/admin/members/x/retry-preview?shoot_id=" + shoot, key, nil, nil, 404, "not_found"},
		{"member id with braces", "GET", "/api/v1/admin/members/%7B" + id + "%7D", key, nil, nil, 404, "not_found"},
		{"retry id not a UUID (resend)", "POST", "/api/v1/admin/members/" + id + "/retries/latest/resend-email", key, nil, nil, 404, "not_found"},
		{"preview shoot_id not a UUID", "GET", "/api/v1/admin/members/" + id + "/retry-preview?shoot_id=abc", key, nil, nil, 404, "not_found"},
		{"preview shoot_id SQL-ish", "GET", "/api/v1/admin/members/" + id + "/retry-preview?shoot_id=" + url.QueryEscape("' OR 1=1 --"), key, nil, nil, 404, "not_found"},
		{"member start shoot id not a UUID", "POST", "/api/v1/member/shoots/nope/start", "tok", nil, nil, 404, "not_found"},
		{"pipeline shoot id not a UUID", "POST", "/api/v1/internal/shoots/nope/complete", app.PipelineToken, nil, nil, 404, "not_found"},
		{"pipeline negative result_count", "POST", "/api/v1/internal/shoots/" + waiting[0] + "/complete", app.PipelineToken, map[string]any{"result_count": -1}, nil, 400, "invalid_body"},
		{"pipeline results of the wrong type", "POST", "/api/v1/internal/shoots/" + waiting[0] + "/complete", app.PipelineToken, map[string]any{"results": map[string]any{"a": 1}}, nil, 400, "invalid_body"},

		{"limit=0", "GET", "/api/v1/admin/headshots?section=finished&limit=0", key, nil, nil, 400, "invalid_parameter"},
		{"limit=abc", "GET", "/api/v1/admin/headshots?section=finished&limit=abc", key, nil, nil, 400, "invalid_parameter"},
		{"limit=-1", "GET", "/api/v1/admin/headshots?limit=-1", key, nil, nil, 400, "invalid_parameter"},
		{"q with NUL", "GET", "/api/v1/admin/headshots?section=finished&q=%00", key, nil, nil, 400, "invalid_parameter"},
		{"limit=1e3", "GET", "/api/v1/admin/headshots?limit=1e3", key, nil, nil, 400, "invalid_parameter"},
		{"section=bogus", "GET", "/api/v1/admin/headshots?section=bogus", key, nil, nil, 400, "invalid_parameter"},
		{"section=Finished", "GET", "/api/v1/admin/headshots?section=Finished", key, nil, nil, 400, "invalid_parameter"},
		{"cursor not base64", "GET", "/api/v1/admin/headshots?section=finished&cursor=" + url.QueryEscape("!!!"), key, nil, nil, 400, "invalid_parameter"},
		{"cursor not JSON", "GET", "/api/v1/admin/headshots?section=finished&cursor=" + b64("hello"), key, nil, nil, 400, "invalid_parameter"},
		{"cursor with bad id", "GET", "/api/v1/admin/headshots?section=finished&cursor=" + b64(`{"n":"A","i":"x"}`), key, nil, nil, 400, "invalid_parameter"},
		// uuid.Parse takes these forms; Postgres refuses urn:uuid:, and a cursor is only
		// ever made from an id Postgres printed, so only the canonical form is a cursor.
		{"cursor with urn:uuid: id", "GET", "/api/v1/admin/headshots?section=finished&cursor=" + b64(`{"n":"A","i":"urn:uuid:`+id+`"}`), key, nil, nil, 400, "invalid_parameter"},
		{"cursor with braced id", "GET", "/api/v1/admin/headshots?section=finished&cursor=" + b64(`{"n":"A","i":"{`+id+`}"}`), key, nil, nil, 400, "invalid_parameter"},
		{"cursor with undashed id", "GET", "/api/v1/admin/headshots?section=finished&cursor=" + b64(`{"n":"A","i":"`+strings.ReplaceAll(id, "-", "")+`"}`), key, nil, nil, 400, "invalid_parameter"},
		{"member id as urn:uuid:", "GET", "/api/v1/admin/members/urn:uuid:" + id, key, nil, nil, 404, "not_found"},
		{"cursor without section", "GET", "/api/v1/admin/headshots?cursor=" + b64(`{"n":"A","i":"`+id+`"}`), key, nil, nil, 400, "invalid_parameter"},
		{"q too long", "GET", "/api/v1/admin/headshots?q=" + strings.Repeat("q", 201), key, nil, nil, 400, "invalid_parameter"},

		{"unknown route", "GET", "/api/v1/admin/nothing-here", key, nil, nil, 404, "route_not_found"},
		{"unknown API version", "GET", "/api/v2/admin/organization", key, nil, nil, 404, "route_not_found"},
		{"wrong method on organization", "DELETE", "/api/v1/admin/organization", key, nil, nil, 405, "method_not_allowed"},
		{"wrong method on retries", "GET", give, key, nil, nil, 405, "method_not_allowed"},
		{"wrong method on member start", "GET", "/api/v1/member/shoots/" + shoot + "/start", "", nil, nil, 405, "method_not_allowed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := app.Do(t, tc.method, tc.path, tc.bearer, tc.body, tc.headers...)
			if r.Status >= 500 {
				t.Fatalf("server error %d: %s", r.Status, r.Body)
			}
			p := expectProblem(t, r, tc.status, tc.code)
			if p.Title == "" || p.Type == "" {
				t.Fatalf("problem without title or type: %+v", p)
			}
		})
	}

	// Nothing of the above changed anything.
	expectNoWorkflow(t, app, shoot)
	d := memberDetail(t, app, key, id)
	if sh := d.Shoots[0]; sh.Status != "active" || sh.ResultCount != 8 {
		t.Fatalf("shoot after bad input = %+v", sh)
	}
	if a := d.Allowance; !a.FreeRetryAvailable {
		t.Fatalf("allowance after bad input = %+v", a)
	}
	if n := countRows(t, app, "idempotency_keys", "org_id = ?", org.ID); n != 0 {
		t.Fatalf("idempotency keys stored for bad input: %d", n)
	}
	if sh := memberDetail(t, app, key, seededID(org, 1)).Shoots[0]; sh.Status != "waiting" {
		t.Fatalf("waiting shoot after bad pipeline input = %+v", sh)
	}

	// The same give, well-formed, works (the fixtures were eligible all along).
	expectStatus(t, app.Do(t, "POST", give, key, map[string]any{"shoot_id": strings.ToUpper(shoot)}), 201)
}

func seededID(org *apptest.Org, i int) string {
	id, _ := seeded(org, i)
	return id
}
