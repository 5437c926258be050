package server_test

import (
	"encoding/json"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/headshotpro/retryd/internal/seed"
	"github.com/headshotpro/retryd/internal/tooling/apptest"
	"github.com/headshotpro/retryd/server"
)

// adminFields are members of the admin's answers that a member must never see: who
// issued the retry and why, the admin's free-text note, the workflow behind it, the
// allowance it took, the email bookkeeping.
var adminFields = []string{
	"note", "reason", "issued_by", "issued_by_kind", "issued_at", "workflow_id", "stage",
	"allowance_used", "reminders_sent", "message_id", "email", "old_shoot_id", "access_link",
}

// jsonKeys collects every object member name of a JSON document, at any depth.
func jsonKeys(t *testing.T, body []byte) []string {
	t.Helper()
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("answer is not JSON: %v; %s", err, body)
	}
	seen := map[string]bool{}
	var walk func(any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, e := range v {
				seen[k] = true
				walk(e)
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		}
	}
	walk(v)
	keys := make([]string, 0, len(seen))
	for k := range seen {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// TestMemberAnswersHoldNoAdminFields calls every member endpoint (start and submit after
// a retry and after a restart, a repeated start, the fresh-link request and a refused
// start) and checks that no answer carries a member of the admin's answers, nor the
// admin's note. The retry or restart a start reports is its id, its shoot and its status.
func TestMemberAnswersHoldNoAdminFields(t *testing.T) {
	app := apptest.Start(t, apptest.Options{})
	org := app.SeedOrg(t, 5,
		person("Ann Member", finished(2, 4)),
		seed.Member{Name: "Mo Managed", Kind: "managed", Shoots: []seed.Shoot{deletedShoot()}},
	)
	ann, annShoots := seeded(org, 0)
	mo, _ := seeded(org, 1)
	const note = "admin-only: the member complained twice"

	give := app.Do(t, "POST", "/api/v1/admin/members/"+ann+"/retries", org.AdminKey,
		map[string]any{"shoot_id": annShoots[0], "reason": "bad_lighting", "note": note})
	if give.Status != 201 || !strings.Contains(string(give.Body), note) {
		t.Fatalf("give with a note: %d %s", give.Status, give.Body)
	}
	apptest.WaitFor(t, 10*time.Second, "the retry email", func() bool { return app.Mailbox.Len() == 1 })
	_, annToken := apptest.LinkToken(t, app.Mailbox.Messages()[0].Text)

	restart := expectJSON[server.RestartAnswer](t, app.Do(t, "POST", "/api/v1/admin/members/"+mo+"/restarts", org.AdminKey, nil), 201)
	if restart.AccessLink == nil {
		t.Fatal("restart of a member without email has no access_link")
	}
	u, err := url.Parse(*restart.AccessLink)
	if err != nil {
		t.Fatal(err)
	}
	moToken := u.Query().Get("token")

	type call struct {
		name       string
		path, auth string
		body       any
		status     int
		work       string // "retry" or "restart": the member of the answer that must be set
		workShoot  string
	}
	member := "/api/v1/member/shoots/"
	calls := []call{
		{"start after a retry", member + annShoots[0] + "/start", annToken, nil, 200, "retry", annShoots[0]},
		{"repeated start", member + annShoots[0] + "/start", annToken, nil, 200, "", ""},
		{"submit after a retry", member + annShoots[0] + "/submit", annToken, nil, 200, "", ""},
		{"submit after a restart", member + restart.NewShootID + "/submit", moToken, nil, 200, "restart", restart.NewShootID},
		{"fresh link", "/api/v1/member/link", "", map[string]any{"email": "ann.member@acme.test"}, 202, "", ""},
		{"start with a bad token", member + annShoots[0] + "/start", annToken + "x", nil, 401, "", ""},
	}
	for _, c := range calls {
		r := app.Do(t, "POST", c.path, c.auth, c.body)
		if r.Status != c.status {
			t.Fatalf("%s: %d %s, want %d", c.name, r.Status, r.Body, c.status)
		}
		var leaked []string
		for _, k := range jsonKeys(t, r.Body) {
			if slices.Contains(adminFields, k) {
				leaked = append(leaked, k)
			}
		}
		if len(leaked) > 0 {
			t.Errorf("%s: the member's answer holds admin fields %v: %s", c.name, leaked, r.Body)
		}
		if strings.Contains(string(r.Body), note) {
			t.Errorf("%s: the member's answer holds the admin's note: %s", c.name, r.Body)
		}
		if c.work == "" {
			continue
		}
		var a map[string]json.RawMessage
		if err := json.Unmarshal(r.Body, &a); err != nil {
			t.Fatal(err)
		}
		var work map[string]any
		if err := json.Unmarshal(a[c.work], &work); err != nil || work == nil {
			t.Fatalf("%s: %s = %s, want an object", c.name, c.work, a[c.work])
		}
		if got := jsonKeys(t, a[c.work]); !slices.Equal(got, []string{"id", "shoot_id", "status"}) {
			t.Errorf("%s: %s has members %v, want id, shoot_id, status", c.name, c.work, got)
		}
		if work["shoot_id"] != c.workShoot || work["status"] != "started" || work["id"] == "" {
			t.Errorf("%s: %s = %v, want started for shoot %s", c.name, c.work, work, c.workShoot)
		}
	}
}
