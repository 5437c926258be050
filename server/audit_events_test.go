package server_test

import (
	"context"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/headshotpro/retryd/internal/seed"
	"github.com/headshotpro/retryd/internal/tooling/apptest"
	"github.com/headshotpro/retryd/server"
)

// auditRow is one audit_events row as Postgres prints it (to_jsonb), so the test reads
// whatever columns the table has rather than the model's idea of them.
type auditRow map[string]any

func (r auditRow) str(col string) string {
	v, _ := r[col].(string)
	return v
}

// auditRows reads an organization's audit events, oldest first.
func auditRows(t testing.TB, app *apptest.App, orgID string) []auditRow {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var raw []string
	if err := app.DB.NewRaw(`SELECT to_jsonb(a)::text FROM audit_events a WHERE org_id = ? ORDER BY id`, orgID).Scan(ctx, &raw); err != nil {
		t.Fatal(err)
	}
	out := make([]auditRow, 0, len(raw))
	for _, s := range raw {
		var r auditRow
		if err := json.Unmarshal([]byte(s), &r); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

// keyID is the id of the organization's API key of a role (seeded: one of each).
func keyID(t testing.TB, app *apptest.App, orgID, role string) string {
	t.Helper()
	var id string
	if err := app.DB.NewRaw(`SELECT id::text FROM api_keys WHERE org_id = ? AND role = ?`, orgID, role).Scan(context.Background(), &id); err != nil {
		t.Fatal(err)
	}
	return id
}

// TestEveryAdminActionIsAudited: gives, resends and restarts through the API (admin and
// automation keys) and through the pages (a session), sign-in and sign-out each write one
// audit event naming the actor, the credential used (the API key, or the session and the
// key behind it), the request, the target, the member, the outcome and the time.
func TestEveryAdminActionIsAudited(t *testing.T) {
	app := apptest.Start(t, apptest.Options{})
	org := app.SeedOrg(t, 10,
		person("Maya Chen", finished(5, 8)),
		person("Rae Page", finished(5, 8)),
		seed.Member{Name: "Sam Auto", Kind: "managed", Shoots: []seed.Shoot{deletedShoot()}},
	)
	maya, mayaShoots := seeded(org, 0)
	rae, raeShoots := seeded(org, 1)
	sam := seededID(org, 2)
	adminKey, autoKey := keyID(t, app, org.ID, "admin"), keyID(t, app, org.ID, "automation")
	before := time.Now().Add(-time.Second)

	// Through the API with keys.
	retryID := expectJSON[server.RetryDTO](t, giveRetry(t, app, org.AdminKey, maya, mayaShoots[0], "X-Request-Id", "req-give-api"), 201).ID
	apptest.WaitFor(t, 10*time.Second, "the retry email", func() bool { return mailsTo(app, "maya.chen@acme.test", helpEmailSubject) == 1 })
	expectStatus(t, app.Do(t, "POST", "/api/v1/admin/members/"+maya+"/retries/"+retryID+"/resend-email", org.AdminKey, nil, "X-Request-Id", "req-resend-api"), 200)
	expectStatus(t, app.Do(t, "POST", "/api/v1/admin/members/"+sam+"/restarts", org.AutomationKey, nil, "X-Request-Id", "req-restart-auto"), 201)

	// Through the pages with a session.
	pc := newPageClient(t, app)
	if a := pc.signIn(org.AdminKey); a.Status != 303 {
		t.Fatalf("sign-in = %d", a.Status)
	}
	confirm := pc.do("GET", "/app/admin/members/"+rae+"/retry?shoot_id="+raeShoots[0], nil)
	form := url.Values{}
	for _, f := range []string{"csrf", "idempotency_key", "shoot_id"} {
		form.Set(f, formField(t, confirm.Body, f))
	}
	if a := pc.do("POST", "/app/admin/members/"+rae+"/retries", form); a.Status != 303 {
		t.Fatalf("give through the page = %d:\n%s", a.Status, a.Body)
	}
	if a := pc.do("POST", "/app/logout", url.Values{"csrf": {form.Get("csrf")}}); a.Status != 303 {
		t.Fatalf("sign-out = %d", a.Status)
	}
	// Signing out again (an old tab) ends nothing and records nothing.
	pc.do("POST", "/app/logout", url.Values{"csrf": {form.Get("csrf")}})

	rows := auditRows(t, app, org.ID)
	var actions []string
	for _, r := range rows {
		actions = append(actions, r.str("action"))
	}
	want := []string{"retry.give", "retry.resend_email", "shoot.restart", "session.sign_in", "retry.give", "session.sign_out"}
	if strings.Join(actions, " ") != strings.Join(want, " ") {
		t.Fatalf("audit actions = %v, want %v", actions, want)
	}
	session := rows[3].str("target_id")
	type expect struct {
		actorKind, actorID, credKind, credID, keyID, target, member, requestID string
	}
	exp := []expect{
		{"admin", org.AdminID, "api_key", adminKey, adminKey, "retry", maya, "req-give-api"},
		{"admin", org.AdminID, "api_key", adminKey, adminKey, "retry", maya, "req-resend-api"},
		{"automation", autoKey, "api_key", autoKey, autoKey, "restart", sam, "req-restart-auto"},
		{"admin", org.AdminID, "api_key", adminKey, adminKey, "session", "", ""},
		{"admin", org.AdminID, "session", session, adminKey, "retry", rae, ""},
		{"admin", org.AdminID, "session", session, adminKey, "session", "", ""},
	}
	for i, r := range rows {
		e := exp[i]
		what := r.str("action") + " #" + string(rune('0'+i))
		for col, v := range map[string]string{
			"actor_kind": e.actorKind, "actor_id": e.actorID, "credential_kind": e.credKind,
			"credential_id": e.credID, "key_id": e.keyID, "target_kind": e.target, "member_id": e.member,
		} {
			if got := r.str(col); got != v {
				t.Errorf("%s: %s = %q, want %q", what, col, got, v)
			}
		}
		if e.requestID != "" && r.str("request_id") != e.requestID {
			t.Errorf("%s: request_id = %q, want %q", what, r.str("request_id"), e.requestID)
		}
		if r.str("request_id") == "" || r.str("target_id") == "" || r.str("outcome") == "" {
			t.Errorf("%s: request_id %q, target_id %q, outcome %q: none may be empty", what, r.str("request_id"), r.str("target_id"), r.str("outcome"))
		}
		at, err := time.Parse(time.RFC3339Nano, r.str("created_at"))
		if err != nil || at.Before(before) || at.After(time.Now().Add(time.Second)) {
			t.Errorf("%s: created_at %q is not the time of the action (%v)", what, r.str("created_at"), err)
		}
	}
	if session == "" || strings.Contains(session, "retryd_session") {
		t.Errorf("the session's id %q must name it without its token", session)
	}
	if rows[3].str("outcome") != "signed_in" || rows[5].str("outcome") != "signed_out" {
		t.Errorf("sign-in and sign-out outcomes = %q, %q", rows[3].str("outcome"), rows[5].str("outcome"))
	}
}
