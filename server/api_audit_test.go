package server_test

import (
	"encoding/base64"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/headshotpro/retryd/internal/seed"
	"github.com/headshotpro/retryd/internal/tooling/apptest"
	"github.com/headshotpro/retryd/server"
)

// auditAnswer is GET /api/v1/admin/audit's answer as docs/product.md describes it;
// apptest.Decode refuses members it does not name.
type auditAnswer struct {
	Events     []auditEvent `json:"events"`
	NextCursor *string      `json:"next_cursor"`
	PrevCursor *string      `json:"prev_cursor"`
}

type auditEvent struct {
	ID         int64  `json:"id"`
	OccurredAt string `json:"occurred_at"`
	Action     string `json:"action"`
	Actor      struct {
		Kind string  `json:"kind"`
		ID   string  `json:"id"`
		Name *string `json:"name"`
	} `json:"actor"`
	Credential struct {
		Kind  string  `json:"kind"`
		ID    *string `json:"id"`
		KeyID *string `json:"key_id"`
	} `json:"credential"`
	Target struct {
		Kind string `json:"kind"`
		ID   string `json:"id"`
	} `json:"target"`
	MemberID  *string `json:"member_id"`
	Outcome   string  `json:"outcome"`
	RequestID string  `json:"request_id"`
}

func auditPage(t testing.TB, app *apptest.App, key string, query url.Values) auditAnswer {
	t.Helper()
	return expectJSON[auditAnswer](t, app.Do(t, "GET", "/api/v1/admin/audit?"+query.Encode(), key, nil), 200)
}

func eventActions(es []auditEvent) []string {
	out := []string{}
	for _, e := range es {
		out = append(out, e.Action)
	}
	return out
}

// TestAuditAPI: an admin lists the organization's audit events, newest first, with who
// did it, with which credential, to what, the outcome and the request; never another
// organization's. Filters narrow them, pages go forward and back, bad input is a problem
// with a stable code, and automation keys are refused.
func TestAuditAPI(t *testing.T) {
	app := apptest.Start(t, apptest.Options{})
	org := app.SeedOrg(t, 10,
		person("Maya Chen", finished(5, 8)),
		person("Rae Resend", finished(5, 8)),
		seed.Member{Name: "Sam Taylor", Kind: "managed", Shoots: []seed.Shoot{deletedShoot()}},
	)
	other := app.SeedOrg(t, 10, person("Otto Other", finished(5, 8)))
	maya, mayaShoots := seeded(org, 0)
	rae, raeShoots := seeded(org, 1)
	sam := seededID(org, 2)
	otto, ottoShoots := seeded(other, 0)
	adminKey, autoKey := keyID(t, app, org.ID, "admin"), keyID(t, app, org.ID, "automation")
	start := time.Now().Add(-time.Second)

	mayaRetry := expectJSON[server.RetryDTO](t, giveRetry(t, app, org.AdminKey, maya, mayaShoots[0], "X-Request-Id", "req-maya"), 201).ID
	expectStatus(t, app.Do(t, "POST", "/api/v1/admin/members/"+sam+"/restarts", org.AutomationKey, nil, "X-Request-Id", "req-sam"), 201)
	mid := time.Now()
	time.Sleep(20 * time.Millisecond)
	expectJSON[server.RetryDTO](t, giveRetry(t, app, org.AdminKey, rae, raeShoots[0]), 201)
	ottoRetry := expectJSON[server.RetryDTO](t, giveRetry(t, app, other.AdminKey, otto, ottoShoots[0]), 201).ID

	// Everything, newest first.
	all := auditPage(t, app, org.AdminKey, nil)
	if got := eventActions(all.Events); !slices.Equal(got, []string{"retry.give", "shoot.restart", "retry.give"}) {
		t.Fatalf("events = %v", got)
	}
	if all.NextCursor != nil || all.PrevCursor != nil {
		t.Errorf("one page has cursors: next %v prev %v", all.NextCursor, all.PrevCursor)
	}
	give, restart := all.Events[2], all.Events[1]
	if give.Actor.Kind != "admin" || give.Actor.ID != org.AdminID || give.Actor.Name == nil || *give.Actor.Name != "Lee" ||
		give.Credential.Kind != "api_key" || str(give.Credential.ID) != adminKey ||
		give.Target.Kind != "retry" || give.Target.ID != mayaRetry || str(give.MemberID) != maya ||
		give.Outcome != "reserved" || give.RequestID != "req-maya" {
		t.Errorf("Maya's give = %+v", give)
	}
	at, err := time.Parse(time.RFC3339Nano, give.OccurredAt)
	if err != nil || at.Before(start) || at.After(mid) || !strings.HasSuffix(give.OccurredAt, "Z") {
		t.Errorf("occurred_at = %q (%v), want the time of the give in UTC", give.OccurredAt, err)
	}
	if restart.Actor.Kind != "automation" || restart.Actor.ID != autoKey || restart.Actor.Name == nil || !strings.HasPrefix(*restart.Actor.Name, "Automation key rk_") ||
		restart.Credential.Kind != "api_key" || str(restart.Credential.ID) != autoKey || str(restart.MemberID) != sam || restart.RequestID != "req-sam" {
		t.Errorf("Sam's restart = %+v", restart)
	}
	// No secrets: neither key, nor a link.
	raw := string(app.Do(t, "GET", "/api/v1/admin/audit", org.AdminKey, nil).Body)
	for _, secret := range []string{org.AdminKey, org.AutomationKey, "token"} {
		if strings.Contains(raw, secret) {
			t.Errorf("the audit answer holds %q: %s", secret, raw)
		}
	}

	// Another organization's events never appear, whichever filter names them; its admin
	// sees its own only.
	for _, q := range []url.Values{nil, {"member": {otto}}, {"actor": {other.AdminID}}, {"action": {"retry.give"}}} {
		for _, e := range auditPage(t, app, org.AdminKey, q).Events {
			if e.Target.ID == ottoRetry || str(e.MemberID) == otto {
				t.Errorf("filter %v shows another organization's event %+v", q, e)
			}
		}
	}
	if got := auditPage(t, app, other.AdminKey, nil).Events; len(got) != 1 || got[0].Target.ID != ottoRetry {
		t.Errorf("the other organization sees %+v", got)
	}

	// Filters.
	for _, c := range []struct {
		q    url.Values
		want []string
	}{
		{url.Values{"member": {maya}}, []string{"retry.give"}},
		{url.Values{"action": {"shoot.restart"}}, []string{"shoot.restart"}},
		{url.Values{"actor": {autoKey}}, []string{"shoot.restart"}},
		{url.Values{"actor": {org.AdminID}}, []string{"retry.give", "retry.give"}},
		{url.Values{"actor": {adminKey}}, []string{"retry.give", "retry.give"}},
		{url.Values{"since": {mid.UTC().Format(time.RFC3339Nano)}}, []string{"retry.give"}},
		{url.Values{"until": {mid.Format(time.RFC3339Nano)}}, []string{"shoot.restart", "retry.give"}},
		{url.Values{"action": {"session.sign_in"}}, []string{}},
	} {
		if got := eventActions(auditPage(t, app, org.AdminKey, c.q).Events); !slices.Equal(got, c.want) {
			t.Errorf("%v: %v, want %v", c.q, got, c.want)
		}
	}

	// Pages of one, forward to the end and back to the start.
	var ids []int64
	page := auditPage(t, app, org.AdminKey, url.Values{"limit": {"1"}})
	pages := []auditAnswer{page}
	for {
		ids = append(ids, page.Events[0].ID)
		if page.NextCursor == nil {
			break
		}
		page = auditPage(t, app, org.AdminKey, url.Values{"limit": {"1"}, "cursor": {*page.NextCursor}})
		pages = append(pages, page)
	}
	if len(ids) != 3 || ids[0] != all.Events[0].ID || ids[1] != all.Events[1].ID || ids[2] != all.Events[2].ID {
		t.Fatalf("paged ids = %v, want %+v", ids, all.Events)
	}
	if pages[0].PrevCursor != nil || pages[2].PrevCursor == nil {
		t.Fatalf("prev cursors: first %v, last %v", pages[0].PrevCursor, pages[2].PrevCursor)
	}
	back := auditPage(t, app, org.AdminKey, url.Values{"limit": {"1"}, "cursor": {*pages[2].PrevCursor}})
	if len(back.Events) != 1 || back.Events[0].ID != ids[1] || back.PrevCursor == nil || back.NextCursor == nil {
		t.Fatalf("back from the last page = %+v, want event %d with both cursors", back, ids[1])
	}
	back = auditPage(t, app, org.AdminKey, url.Values{"limit": {"1"}, "cursor": {*back.PrevCursor}})
	if len(back.Events) != 1 || back.Events[0].ID != ids[0] || back.PrevCursor != nil {
		t.Fatalf("back to the first page = %+v", back)
	}
	// limit beyond the maximum is the maximum, as on the dashboard.
	if got := auditPage(t, app, org.AdminKey, url.Values{"limit": {"5000"}}); len(got.Events) != 3 {
		t.Errorf("limit=5000: %d events", len(got.Events))
	}

	// Bad input: problems with stable codes, never a 500.
	for _, c := range []struct {
		q      string
		status int
		code   string
	}{
		{"action=retry.delete", 422, "unknown_audit_action"},
		{"action=", 200, ""},
		{"since=yesterday", 422, "invalid_time_range"},
		{"until=2026-13-01T00:00:00Z", 422, "invalid_time_range"},
		{"since=2026-12-02T00:00:00Z&until=2026-12-01T00:00:00Z", 422, "invalid_time_range"},
		// Postgres has no year 0: refused, not a 500.
		{"since=0000-01-01T00:00:00Z", 422, "invalid_time_range"},
		{"until=" + url.QueryEscape("0001-01-01T00:00:00+01:00"), 422, "invalid_time_range"},
		{"cursor=" + base64.RawURLEncoding.EncodeToString([]byte(`{"t":"0000-06-01T00:00:00Z","i":1}`)), 400, "invalid_parameter"},
		{"member=not-a-uuid", 422, "invalid_filter"},
		{"actor=cli", 422, "invalid_filter"},
		{"limit=0", 400, "invalid_parameter"},
		{"limit=x", 400, "invalid_parameter"},
		{"cursor=bm90LWpzb24", 400, "invalid_parameter"},
		{"cursor=" + url.QueryEscape("eyJ0IjoieCIsImkiOjF9"), 400, "invalid_parameter"},
	} {
		r := app.Do(t, "GET", "/api/v1/admin/audit?"+c.q, org.AdminKey, nil)
		if c.status == 200 {
			expectStatus(t, r, 200)
			continue
		}
		expectProblem(t, r, c.status, c.code)
	}

	// Admin-only: an automation key is refused, as on the other admin-only routes.
	expectProblem(t, app.Do(t, "GET", "/api/v1/admin/audit", org.AutomationKey, nil), 403, "forbidden_for_role")
	expectProblem(t, app.Do(t, "GET", "/api/v1/admin/audit", "", nil), 401, "unauthorized")
}
