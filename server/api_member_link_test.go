package server_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/headshotpro/retryd/internal/seed"
	"github.com/headshotpro/retryd/internal/store"
	"github.com/headshotpro/retryd/internal/tooling/apptest"
)

// TestFreshLink: the same 202 for a known and an unknown address, the known member gets
// the email again with a fresh link, and the endpoint is rate limited per address.
func TestFreshLink(t *testing.T) {
	app := apptest.Start(t, apptest.Options{})
	org := app.SeedOrg(t, 0, seed.Member{Name: "Ada", Email: apptest.Ptr("Ada@Acme.test"), Kind: "individual",
		Shoots: []seed.Shoot{{Status: "active", CompletedAt: daysAgo(2), Results: 2}}})
	m := org.File.Organizations[0].Members[0]
	if r := app.Do(t, "POST", "/api/v1/admin/members/"+m.ID+"/retries", org.AdminKey, map[string]any{"shoot_id": m.Shoots[0].ID}); r.Status != 201 {
		t.Fatalf("give: %d %s", r.Status, r.Body)
	}
	apptest.WaitFor(t, 10*time.Second, "retry email", func() bool { return app.Mailbox.Len() == 1 })

	known := app.Do(t, "POST", "/api/v1/member/link", "", map[string]any{"email": "ada@acme.test"})
	unknown := app.Do(t, "POST", "/api/v1/member/link", "", map[string]any{"email": "nobody@acme.test"})
	if known.Status != 202 || unknown.Status != 202 || string(known.Body) != string(unknown.Body) {
		t.Fatalf("answers differ: %d %s / %d %s", known.Status, known.Body, unknown.Status, unknown.Body)
	}
	apptest.WaitFor(t, 10*time.Second, "fresh link email", func() bool { return app.Mailbox.Len() == 2 })
	msgs := app.Mailbox.Messages()
	if msgs[0].Subject != "HeadshotPro | Please retry your shoot" || msgs[0].To[0] != "Ada@Acme.test" {
		t.Fatalf("fresh link email = %+v", msgs[0])
	}
	_, token := apptest.LinkToken(t, msgs[0].Text)
	if r := app.Do(t, "POST", "/api/v1/member/shoots/"+m.Shoots[0].ID+"/start", token, nil); r.Status != 200 {
		t.Fatalf("start with the fresh link: %d %s", r.Status, r.Body)
	}

	// Per address: three within the window (one used above), then 429 with Retry-After.
	var last *apptest.Response
	for i := 0; i < 3; i++ {
		last = app.Do(t, "POST", "/api/v1/member/link", "", map[string]any{"email": "ADA@acme.test"})
	}
	if last.Status != 429 || codeOf(t, last) != "rate_limited" {
		t.Fatalf("rate limit: %d %s", last.Status, last.Body)
	}
	if s, err := strconv.Atoi(last.Header.Get("Retry-After")); err != nil || s < 1 {
		t.Fatalf("Retry-After = %q", last.Header.Get("Retry-After"))
	}
	if r := app.Do(t, "POST", "/api/v1/member/link", "", map[string]any{"email": "not an address"}); r.Status != 400 || codeOf(t, r) != "invalid_body" {
		t.Fatalf("bad address: %d %s", r.Status, r.Body)
	}
}

// TestRevokedKey: a key revoked with the store function behind `retryd keys revoke`
// gets 401 on its next call.
func TestRevokedKey(t *testing.T) {
	app := apptest.Start(t, apptest.Options{})
	org := app.SeedOrg(t, 0)
	ctx := context.Background()
	secret, key, err := store.CreateAPIKey(ctx, app.DB, org.ID, "automation", nil, store.Actor{Kind: store.ActorSystem, ID: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if r := app.Do(t, "GET", "/api/v1/admin/organization", secret, nil); r.Status != 200 {
		t.Fatalf("before revoke: %d %s", r.Status, r.Body)
	}
	if _, err := store.RevokeAPIKey(ctx, app.DB, key.ID, store.Actor{Kind: store.ActorSystem, ID: "test"}); err != nil {
		t.Fatal(err)
	}
	if r := app.Do(t, "GET", "/api/v1/admin/organization", secret, nil); r.Status != 401 || codeOf(t, r) != "unauthorized" {
		t.Fatalf("after revoke: %d %s", r.Status, r.Body)
	}
}

// TestStartPage: the emailed link opens a page that starts the shoot through the member
// API, with headers that keep the token from leaking.
func TestStartPage(t *testing.T) {
	app := apptest.Start(t, apptest.Options{})
	id := "6f1c0d7e-0000-4000-8000-000000000001"
	r := app.Do(t, "GET", "/app/shoots/"+id+"/start?token=abc", "", nil)
	if r.Status != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") ||
		r.Header.Get("Referrer-Policy") != "no-referrer" || !strings.Contains(string(r.Body), `src="/app/start.js"`) ||
		!strings.Contains(string(r.Body), "Start my photo shoot") {
		t.Fatalf("page: %d %v %s", r.Status, r.Header, r.Body)
	}
	js := app.Do(t, "GET", "/app/start.js", "", nil)
	if js.Status != 200 || !strings.Contains(string(js.Body), `"/api/v1/member/shoots/"`) || !strings.Contains(string(js.Body), "history.replaceState") {
		t.Fatalf("script: %d %s", js.Status, js.Body)
	}
	if r := app.Do(t, "GET", "/app/shoots/not-a-uuid/start", "", nil); r.Status != 404 {
		t.Fatalf("bad id: %d", r.Status)
	}
}
