package server_test

import (
	"context"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/headshotpro/retryd/internal/seed"
	"github.com/headshotpro/retryd/internal/store"
	"github.com/headshotpro/retryd/internal/tooling/apptest"
	"github.com/headshotpro/retryd/server"
)

// The credentials every route is tried with. Refusals come first in this order and the
// credentials a route accepts last, so a route that changes state is refused on the
// state it started with and succeeds once, at the end.
const (
	credNone        = "none"
	credMalformed   = "malformed"       // an Authorization header that is not "Bearer <token>"
	credRevoked     = "revoked_key"     // an admin key of the organization, revoked
	credOtherAdmin  = "other_org_admin" // a live admin key of another organization
	credPipeline    = "pipeline_token"
	credOtherLink   = "other_member_link" // a genuine link of another member's shoot
	credExpiredLink = "expired_link"      // the route's own member's link, expired
	credMemberLink  = "member_link"       // the route's own member's link
	credAutomation  = "automation_key"
	credAdmin       = "admin_key" // the organization's admin key
)

var matrixCreds = []string{credNone, credMalformed, credRevoked, credOtherAdmin, credPipeline,
	credOtherLink, credExpiredLink, credMemberLink, credAutomation, credAdmin}

// want is one route's expected status per credential.
type want map[string]int

// everyone answers the same status whatever the credentials: the route is public.
func everyone(status int) want {
	w := want{}
	for _, c := range matrixCreds {
		w[c] = status
	}
	return w
}

// adminRoute: no key, a bad key and every non-key token are 401; another organization's
// admin sees otherOrg (404 where the route names this organization's resources), an
// automation key gets automation (403 on admin-only routes), the admin gets ok.
func adminRoute(ok, otherOrg, automation int) want {
	w := everyone(http.StatusUnauthorized)
	w[credOtherAdmin], w[credAutomation], w[credAdmin] = otherOrg, automation, ok
	return w
}

// memberRoute: only the member's own unexpired link for this shoot is accepted.
func memberRoute(ok int) want {
	w := everyone(http.StatusUnauthorized)
	w[credMemberLink] = ok
	return w
}

// pipelineRoute: only the pipeline token is accepted.
func pipelineRoute(ok int) want {
	w := everyone(http.StatusUnauthorized)
	w[credPipeline] = ok
	return w
}

// matrixEntry is one route's row: the request to send with a credential, and the statuses.
type matrixEntry struct {
	request func(cred string) (path string, body any)
	want    want
}

func fixed(path string, body any) func(string) (string, any) {
	return func(string) (string, any) { return path, body }
}

// TestAuthorizationMatrix sends every route the router registered with every kind of
// credential and checks the status against the table below. The route list comes from
// the router, so a route added without a row here fails the test, as does a row whose
// route no longer exists. Refusals must be problem+json and nothing may answer 5xx.
func TestAuthorizationMatrix(t *testing.T) {
	app := apptest.Start(t, apptest.Options{})
	org := app.SeedOrg(t, 10,
		person("Ada Admin-Routes", finished(5, 8)),
		person("Rae Resend", finished(5, 4)),
		person("Ola Start", seed.Shoot{Status: "onboarding"}),
		person("Sue Submit", seed.Shoot{Status: "onboarding"}),
		person("Pia Other", seed.Shoot{Status: "onboarding"}),
		person("Cal Complete", seed.Shoot{Status: "waiting"}),
		person("Fay Fail", seed.Shoot{Status: "waiting"}),
		seed.Member{Name: "Mo Auto", Kind: "managed", Shoots: []seed.Shoot{deletedShoot()}},
		seed.Member{Name: "Mo Admin", Kind: "managed", Shoots: []seed.Shoot{deletedShoot()}},
		seed.Member{Name: "Bo Auto", Kind: "managed", Shoots: []seed.Shoot{deletedShoot()}},
		seed.Member{Name: "Bo Admin", Kind: "managed", Shoots: []seed.Shoot{deletedShoot()}},
	)
	other := app.SeedOrg(t, 5, person("Zed Elsewhere", finished(5, 2)))
	ada, adaShoots := seeded(org, 0)
	rae, raeShoots := seeded(org, 1)
	ola, olaShoots := seeded(org, 2)
	sue, sueShoots := seeded(org, 3)
	pia, piaShoots := seeded(org, 4)
	_, calShoots := seeded(org, 5)
	_, fayShoots := seeded(org, 6)
	moAuto, moAdmin, boAuto, boAdmin := seededID(org, 7), seededID(org, 8), seededID(org, 9), seededID(org, 10)

	retryID := expectJSON[server.RetryDTO](t, giveRetry(t, app, org.AdminKey, rae, raeShoots[0]), 201).ID
	revoked := revokedAdminKey(t, app, org)
	now := time.Now()
	otherLink, _ := app.Links.Issue(pia, piaShoots[0], now)

	// Each member route is tried with its own member's link and that link expired.
	memberLinks := map[string]string{}
	expiredLinks := map[string]string{}
	for _, ms := range [][2]string{{ola, olaShoots[0]}, {sue, sueShoots[0]}} {
		memberLinks[ms[1]], _ = app.Links.Issue(ms[0], ms[1], now)
		expiredLinks[ms[1]], _ = app.Links.Issue(ms[0], ms[1], now.Add(-31*24*time.Hour))
	}
	// For routes that are not the member's, "member link" is Ola's.
	defaultLink, defaultExpired := memberLinks[olaShoots[0]], expiredLinks[olaShoots[0]]

	// Two credentials succeed on the restart routes; each restarts its own member, so the
	// second success is not refused by the first one's restart.
	restartOf := func(auto, admin string) func(string) (string, any) {
		return func(cred string) (string, any) {
			if cred == credAutomation {
				return "/api/v1/admin/members/" + auto + "/restarts", nil
			}
			return "/api/v1/admin/members/" + admin + "/restarts", nil
		}
	}
	bulkOf := func(auto, admin string) func(string) (string, any) {
		return func(cred string) (string, any) {
			id := admin
			if cred == credAutomation {
				id = auto
			}
			return "/api/v1/admin/restarts", map[string]any{"member_ids": []string{id}}
		}
	}
	member := "/api/v1/admin/members/" + ada

	// Webhook endpoints: one the rows change and test, one the delete row removes.
	hookBody := map[string]any{"url": receiver(t), "event_types": []string{"retry.issued"}}
	hook := expectJSON[server.WebhookSecretDTO](t, app.Do(t, "POST", webhooksPath, org.AdminKey, hookBody), 201).ID
	doomedHook := expectJSON[server.WebhookSecretDTO](t, app.Do(t, "POST", webhooksPath, org.AdminKey, hookBody), 201).ID
	hookDelivery := expectJSON[server.WebhookDeliveryDTO](t, app.Do(t, "POST", webhooksPath+"/"+hook+"/test", org.AdminKey, nil), 202).ID
	hookPath := webhooksPath + "/" + hook

	matrix := map[string]matrixEntry{
		"GET /healthz":      {fixed("/healthz", nil), everyone(200)},
		"GET /readyz":       {fixed("/readyz", nil), everyone(200)},
		"GET /openapi.json": {fixed("/openapi.json", nil), everyone(200)},
		"GET /favicon.ico":  {fixed("/favicon.ico", nil), everyone(200)},

		// Another organization's admin reads its own organization and dashboard: the
		// key decides the organization, never the request.
		"GET /api/v1/admin/organization": {fixed("/api/v1/admin/organization", nil), adminRoute(200, 200, 200)},
		"GET /api/v1/admin/headshots":    {fixed("/api/v1/admin/headshots", nil), adminRoute(200, 200, 200)},
		"GET /api/v1/admin/members/:id":  {fixed(member, nil), adminRoute(200, 404, 403)},
		// Another organization's admin lists its own organization's events.
		"GET /api/v1/admin/audit":     {fixed("/api/v1/admin/audit?member="+ada, nil), adminRoute(200, 200, 403)},
		"GET /api/v1/admin/audit.csv": {fixed("/api/v1/admin/audit.csv?member="+ada, nil), adminRoute(200, 200, 403)},
		"GET /api/v1/admin/members/:id/retry-preview": {
			fixed(member+"/retry-preview?shoot_id="+adaShoots[0], nil), adminRoute(200, 404, 403)},
		"POST /api/v1/admin/members/:id/retries": {
			fixed(member+"/retries", map[string]any{"shoot_id": adaShoots[0]}), adminRoute(201, 404, 403)},
		"POST /api/v1/admin/members/:id/retries/:retry_id/resend-email": {
			fixed("/api/v1/admin/members/"+rae+"/retries/"+retryID+"/resend-email", nil), adminRoute(200, 404, 403)},
		"POST /api/v1/admin/members/:id/restarts": {restartOf(moAuto, moAdmin), adminRoute(201, 404, 201)},
		// A bulk answer is 200 with one outcome per member; another organization's
		// members come back skipped as not_found (checked below).
		"POST /api/v1/admin/restarts": {bulkOf(boAuto, boAdmin), adminRoute(200, 200, 200)},

		// Webhook endpoints are admin-only; another organization's admin lists and creates
		// its own, and finds none of this organization's.
		"GET /api/v1/admin/webhook-endpoints":                    {fixed(webhooksPath, nil), adminRoute(200, 200, 403)},
		"POST /api/v1/admin/webhook-endpoints":                   {fixed(webhooksPath, hookBody), adminRoute(201, 201, 403)},
		"GET /api/v1/admin/webhook-endpoints/:id":                {fixed(hookPath, nil), adminRoute(200, 404, 403)},
		"PATCH /api/v1/admin/webhook-endpoints/:id":              {fixed(hookPath, map[string]any{"description": "matrix"}), adminRoute(200, 404, 403)},
		"DELETE /api/v1/admin/webhook-endpoints/:id":             {fixed(webhooksPath+"/"+doomedHook, nil), adminRoute(204, 404, 403)},
		"POST /api/v1/admin/webhook-endpoints/:id/rotate-secret": {fixed(hookPath+"/rotate-secret", nil), adminRoute(200, 404, 403)},
		"POST /api/v1/admin/webhook-endpoints/:id/test":          {fixed(hookPath+"/test", nil), adminRoute(202, 404, 403)},
		"GET /api/v1/admin/webhook-endpoints/:id/deliveries":     {fixed(hookPath+"/deliveries", nil), adminRoute(200, 404, 403)},
		"POST /api/v1/admin/webhook-endpoints/:id/deliveries/:delivery_id/replay": {
			fixed(hookPath+"/deliveries/"+hookDelivery+"/replay", nil), adminRoute(202, 404, 403)},

		"POST /api/v1/member/shoots/:id/start":  {fixed("/api/v1/member/shoots/"+olaShoots[0]+"/start", nil), memberRoute(200)},
		"POST /api/v1/member/shoots/:id/submit": {fixed("/api/v1/member/shoots/"+sueShoots[0]+"/submit", nil), memberRoute(200)},
		// The fresh-link request needs no credentials and answers the same for every
		// address; each credential asks for a different one, below the rate limits.
		"POST /api/v1/member/link": {func(cred string) (string, any) {
			return "/api/v1/member/link", map[string]any{"email": "nobody-" + strings.ReplaceAll(cred, "_", "-") + "@example.test"}
		}, everyone(202)},

		// The admin pages accept their session cookie only (pages_test.go signs in and
		// covers the session's own refusals): a bearer credential of any kind is not a
		// session, so every page and form sends the browser to sign in (the redirect is
		// followed here: 200 is the sign-in form, checked below), and a sign-in post
		// without its CSRF token is refused.
		"GET /app/login":                   {fixed("/app/login", nil), everyone(200)},
		"POST /app/login":                  {fixed("/app/login", nil), everyone(403)},
		"POST /app/logout":                 {fixed("/app/logout", nil), everyone(200)},
		"GET /app/admin":                   {fixed("/app/admin", nil), everyone(200)},
		"GET /app/admin/admin.css":         {fixed("/app/admin/admin.css", nil), everyone(200)},
		"GET /app/admin/admin.js":          {fixed("/app/admin/admin.js", nil), everyone(200)},
		"GET /app/admin/headshots":         {fixed("/app/admin/headshots", nil), everyone(200)},
		"GET /app/admin/members/:id":       {fixed("/app/admin/members/"+ada, nil), everyone(200)},
		"GET /app/admin/members/:id/retry": {fixed("/app/admin/members/"+ada+"/retry?shoot_id="+adaShoots[0], nil), everyone(200)},
		"POST /app/admin/members/:id/retries": {
			fixed("/app/admin/members/"+ada+"/retries", nil), everyone(200)},
		"POST /app/admin/members/:id/retries/:retry_id/resend-email": {
			fixed("/app/admin/members/"+rae+"/retries/"+retryID+"/resend-email", nil), everyone(200)},
		"POST /app/admin/members/:id/restarts":       {fixed("/app/admin/members/"+moAdmin+"/restarts", nil), everyone(200)},
		"GET /app/admin/activity":                    {fixed("/app/admin/activity", nil), everyone(200)},
		"GET /app/admin/activity.csv":                {fixed("/app/admin/activity.csv", nil), everyone(200)},
		"POST /app/admin/restarts":                   {fixed("/app/admin/restarts", nil), everyone(200)},
		"GET /app/admin/webhooks":                    {fixed("/app/admin/webhooks", nil), everyone(200)},
		"POST /app/admin/webhooks":                   {fixed("/app/admin/webhooks", nil), everyone(200)},
		"GET /app/admin/webhooks/:id":                {fixed("/app/admin/webhooks/"+hook, nil), everyone(200)},
		"GET /app/admin/webhooks/:id/delete":         {fixed("/app/admin/webhooks/"+hook+"/delete", nil), everyone(200)},
		"POST /app/admin/webhooks/:id/delete":        {fixed("/app/admin/webhooks/"+hook+"/delete", nil), everyone(200)},
		"POST /app/admin/webhooks/:id/enable":        {fixed("/app/admin/webhooks/"+hook+"/enable", nil), everyone(200)},
		"POST /app/admin/webhooks/:id/disable":       {fixed("/app/admin/webhooks/"+hook+"/disable", nil), everyone(200)},
		"POST /app/admin/webhooks/:id/test":          {fixed("/app/admin/webhooks/"+hook+"/test", nil), everyone(200)},
		"POST /app/admin/webhooks/:id/rotate-secret": {fixed("/app/admin/webhooks/"+hook+"/rotate-secret", nil), everyone(200)},
		"POST /app/admin/webhooks/:id/deliveries/:delivery_id/replay": {
			fixed("/app/admin/webhooks/"+hook+"/deliveries/"+hookDelivery+"/replay", nil), everyone(200)},

		"GET /app/shoots/:id/start": {fixed("/app/shoots/"+olaShoots[0]+"/start", nil), everyone(200)},
		"GET /app/start.js":         {fixed("/app/start.js", nil), everyone(200)},

		"POST /api/v1/internal/shoots/:id/complete": {
			fixed("/api/v1/internal/shoots/"+calShoots[0]+"/complete", map[string]any{"result_count": 3}), pipelineRoute(200)},
		"POST /api/v1/internal/shoots/:id/fail": {fixed("/api/v1/internal/shoots/"+fayShoots[0]+"/fail", map[string]any{}), pipelineRoute(200)},

		// Local development only (no MailerSend key): the mailbox is open, and the
		// MailerSend stand-in wants a bearer token, any token, as MailerSend's shape
		// does; an empty message is then refused as MailerSend would (422).
		"GET /dev/mailbox": {fixed("/dev/mailbox", nil), everyone(200)},
		// The mail fault switch, like the mailbox, answers this host's clients (the test
		// client is one) whatever they present; devmail_test.go covers outside callers.
		"GET /dev/mailersend/faults":    {fixed("/dev/mailersend/faults", nil), everyone(200)},
		"DELETE /dev/mailersend/faults": {fixed("/dev/mailersend/faults", nil), everyone(204)},
		"PUT /dev/mailersend/faults":    {fixed("/dev/mailersend/faults", map[string]any{"delay_ms": 1, "count": 1}), everyone(200)},
		"POST /dev/mailersend/v1/email": {fixed("/dev/mailersend/v1/email", map[string]any{}), func() want {
			w := everyone(422)
			w[credNone], w[credMalformed] = 401, 401
			return w
		}()},
	}

	// Every registered route has a row, and every row a route.
	registered := map[string]bool{}
	for _, r := range app.Routes() {
		key := r.Method + " " + r.Path
		registered[key] = true
		if _, ok := matrix[key]; !ok {
			t.Errorf("route %s has no row in the authorization matrix: add one with the expected status for each credential", key)
		}
	}
	for key := range matrix {
		if !registered[key] {
			t.Errorf("the authorization matrix has a row for %s, which the router does not register", key)
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	keys := make([]string, 0, len(matrix))
	for k := range matrix {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, key := range keys {
		entry := matrix[key]
		method, _, _ := strings.Cut(key, " ")
		for _, cred := range matrixCreds {
			wantStatus, ok := entry.want[cred]
			if !ok {
				t.Fatalf("%s: no expected status for %s", key, cred)
			}
			path, body := entry.request(cred)
			link, expired := defaultLink, defaultExpired
			if shoot := memberShootOf(path); memberLinks[shoot] != "" {
				link, expired = memberLinks[shoot], expiredLinks[shoot]
			}
			bearer, headers := "", []string(nil)
			switch cred {
			case credMalformed:
				headers = []string{"Authorization", "Bearer"}
			case credRevoked:
				bearer = revoked
			case credOtherAdmin:
				bearer = other.AdminKey
			case credPipeline:
				bearer = app.PipelineToken
			case credOtherLink:
				bearer = otherLink
			case credExpiredLink:
				bearer = expired
			case credMemberLink:
				bearer = link
			case credAutomation:
				bearer = org.AutomationKey
			case credAdmin:
				bearer = org.AdminKey
			}
			r := app.Do(t, method, path, bearer, body, headers...)
			if r.Status >= 500 {
				t.Errorf("%s as %s: server error %d: %s", key, cred, r.Status, r.Body)
				continue
			}
			if r.Status != wantStatus {
				t.Errorf("%s as %s: status %d, want %d; body %s", key, cred, r.Status, wantStatus, r.Body)
				continue
			}
			if signIn := strings.HasPrefix(path, "/app/admin") && !strings.HasSuffix(path, ".css") && !strings.HasSuffix(path, ".js") ||
				path == "/app/logout"; signIn && !strings.Contains(string(r.Body), `name="api_key"`) {
				t.Errorf("%s as %s: want the sign-in form, got %.200s", key, cred, r.Body)
			}
			if r.Status >= 400 && !strings.HasPrefix(path, "/dev/mailersend/") && !strings.HasPrefix(path, "/app/") {
				if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
					t.Errorf("%s as %s: %d with Content-Type %q, want a problem", key, cred, r.Status, ct)
				} else if code := codeOf(t, r); code != refusalCode(path, cred, r.Status) {
					t.Errorf("%s as %s: %d %s, want code %s", key, cred, r.Status, code, refusalCode(path, cred, r.Status))
				}
			}
			if key == "POST /api/v1/admin/restarts" && cred == credOtherAdmin {
				res := apptest.Decode[bulkAnswer](t, r).Results[0]
				if res.Outcome != "skipped" || res.Code == nil || *res.Code != "not_found" {
					t.Errorf("bulk restart of this organization's member by another's admin: %+v", res)
				}
			}
		}
	}

	// The refused calls changed nothing the successful ones did not: one retry given to
	// Ada, each managed member restarted once.
	if n := countRows(t, app, "retries", "member_id = ?", ada); n != 1 {
		t.Fatalf("retries of Ada = %d, want 1", n)
	}
	for _, id := range []string{moAuto, moAdmin, boAuto, boAdmin} {
		if n := countRows(t, app, "restarts", "member_id = ?", id); n != 1 {
			t.Fatalf("restarts of managed member %s = %d, want 1", id, n)
		}
	}
}

// refusalCode is the problem code of a refusal: member routes tell an expired link from
// an invalid one (both point to a fresh link), the other routes say unauthorized.
func refusalCode(path, cred string, status int) string {
	switch status {
	case http.StatusUnauthorized:
		if memberShootOf(path) == "" {
			return "unauthorized"
		}
		if cred == credExpiredLink {
			return "token_expired"
		}
		return "invalid_token"
	case http.StatusForbidden:
		return "forbidden_for_role"
	case http.StatusNotFound:
		return "not_found"
	}
	return "?"
}

// memberShootOf returns the shoot id of a member route's path, or "".
func memberShootOf(path string) string {
	rest, ok := strings.CutPrefix(path, "/api/v1/member/shoots/")
	if !ok {
		return ""
	}
	id, _, _ := strings.Cut(rest, "/")
	return id
}

// revokedAdminKey makes a second admin key for the organization's admin and revokes it
// the way `retryd keys revoke` does.
func revokedAdminKey(t *testing.T, app *apptest.App, org *apptest.Org) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cli := store.Actor{Kind: store.ActorSystem, ID: "test"}
	secret, created, err := store.CreateAPIKey(ctx, app.DB, org.ID, "admin", &org.AdminID, cli)
	if err != nil {
		t.Fatal(err)
	}
	// The key works before it is revoked, so the 401s below are the revocation's doing.
	expectStatus(t, app.Do(t, "GET", "/api/v1/admin/organization", secret, nil), 200)
	if _, err := store.RevokeAPIKey(ctx, app.DB, created.ID, cli); err != nil {
		t.Fatal(err)
	}
	return secret
}
