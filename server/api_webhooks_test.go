package server_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/headshotpro/retryd/internal/domain"
	"github.com/headshotpro/retryd/internal/seed"
	"github.com/headshotpro/retryd/internal/tooling/apptest"
	"github.com/headshotpro/retryd/internal/tooling/dnstest"
	"github.com/headshotpro/retryd/server"
	"github.com/headshotpro/retryd/workflows"
)

const webhooksPath = "/api/v1/admin/webhook-endpoints"

// receiver is a webhook endpoint on this machine that accepts everything, for tests
// whose endpoints must be reachable (development allows http and loopback).
func receiver(t testing.TB) string {
	t.Helper()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	t.Cleanup(ts.Close)
	return ts.URL + "/webhooks"
}

func createEndpoint(t testing.TB, app *apptest.App, key string, body map[string]any, headers ...string) server.WebhookSecretDTO {
	t.Helper()
	return expectJSON[server.WebhookSecretDTO](t, app.Do(t, "POST", webhooksPath, key, body, headers...), 201)
}

func listEndpoints(t testing.TB, app *apptest.App, key string) []server.WebhookEndpointDTO {
	t.Helper()
	// The list's type has no secret: an answer showing one would not decode.
	return expectJSON[server.WebhookEndpointList](t, app.Do(t, "GET", webhooksPath, key, nil), 200).Data
}

func deliveries(t testing.TB, app *apptest.App, key, endpointID, query string) server.WebhookDeliveryPage {
	t.Helper()
	return expectJSON[server.WebhookDeliveryPage](t, app.Do(t, "GET", webhooksPath+"/"+endpointID+"/deliveries?"+query, key, nil), 200)
}

// failingResolver answers every DNS question with an error, so tests never depend on
// the machine's DNS; hosts given as addresses need none.
func failingResolver() *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: func(context.Context, string, string) (net.Conn, error) {
		return nil, errors.New("no DNS in tests")
	}}
}

// dnsTimeout is what a resolver's connection says when the DNS server does not answer.
type dnsTimeout struct{}

func (dnsTimeout) Error() string   { return "i/o timeout" }
func (dnsTimeout) Timeout() bool   { return true }
func (dnsTimeout) Temporary() bool { return true }

// TestWebhookURLLookupUnavailable: while DNS times out, a webhook URL's check is 503
// unavailable, not a refusal of the URL: nothing is stored under the Idempotency-Key, so
// the same key checks again and creates the endpoint once DNS answers. A name DNS says
// does not exist is still refused, and that refusal is final.
func TestWebhookURLLookupUnavailable(t *testing.T) {
	dns := dnstest.Start(t, map[string][]string{"hooks.example.test": {"127.0.0.1"}})
	var down atomic.Bool
	down.Store(true)
	resolver := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
		if down.Load() {
			return nil, dnsTimeout{}
		}
		return dns.Dial(ctx, network, addr)
	}}
	app := apptest.Start(t, apptest.Options{WebhookResolver: resolver})
	org := app.SeedOrg(t, 10)
	body := map[string]any{"url": "http://hooks.example.test:9/hook", "event_types": []string{"retry.issued"}}

	for range 2 {
		r := app.Do(t, "POST", webhooksPath, org.AdminKey, body, "Idempotency-Key", "hook-dns")
		p := expectProblem(t, r, 503, "unavailable")
		if !strings.Contains(p.Detail, "hooks.example.test") || !strings.Contains(p.Detail, "right now") {
			t.Errorf("detail %q", p.Detail)
		}
		if r.Header.Get("Idempotent-Replayed") != "" {
			t.Errorf("the lookup's failure was replayed from the key")
		}
	}
	// The admin page says so in the same words, and keeps the form as typed.
	pc := newPageClient(t, app)
	if a := pc.signIn(org.AdminKey); a.Status != 303 {
		t.Fatalf("sign in = %d", a.Status)
	}
	list := pc.do("GET", "/app/admin/webhooks", nil)
	a := pc.do("POST", "/app/admin/webhooks", url.Values{"csrf": {formField(t, list.Body, "csrf")}, "idempotency_key": {formField(t, list.Body, "idempotency_key")},
		"url": {"http://hooks.example.test:9/hook"}, "event_type": {"retry.issued"}})
	expectPage(t, a, 503, "The webhook URL's host hooks.example.test could not be resolved right now; try again shortly.", `value="http://hooks.example.test:9/hook"`)

	existing := createEndpoint(t, app, org.AdminKey, map[string]any{"url": "http://127.0.0.1:9/hook", "event_types": []string{"retry.issued"}})
	expectProblem(t, app.Do(t, "PATCH", webhooksPath+"/"+existing.ID, org.AdminKey, map[string]any{"url": "http://hooks.example.test:9/other"}), 503, "unavailable")

	down.Store(false)
	r := app.Do(t, "POST", webhooksPath, org.AdminKey, body, "Idempotency-Key", "hook-dns")
	created := expectJSON[server.WebhookSecretDTO](t, r, 201)
	if created.Secret == "" || r.Header.Get("Idempotent-Replayed") != "" {
		t.Fatalf("once DNS answered, the key's creation = %+v (replayed %q)", created, r.Header.Get("Idempotent-Replayed"))
	}
	if again := expectJSON[server.WebhookSecretDTO](t, app.Do(t, "POST", webhooksPath, org.AdminKey, body, "Idempotency-Key", "hook-dns"), 201); again.ID != created.ID {
		t.Fatalf("the key's replay answered %s, want %s", again.ID, created.ID)
	}

	gone := map[string]any{"url": "http://nowhere.example.test/hook", "event_types": []string{"retry.issued"}}
	expectProblem(t, app.Do(t, "POST", webhooksPath, org.AdminKey, gone, "Idempotency-Key", "hook-gone"), 422, "webhook_url_unresolvable")
	dns.Set("nowhere.example.test", "127.0.0.1")
	r = app.Do(t, "POST", webhooksPath, org.AdminKey, gone, "Idempotency-Key", "hook-gone")
	expectProblem(t, r, 422, "webhook_url_unresolvable")
	if r.Header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("a name that does not exist was not a final refusal")
	}
}

// TestWebhookEndpointsAPI: an admin creates an endpoint and sees its secret once, lists
// and reads it without the secret, changes, disables and enables it, rotates its secret,
// sends test events, pages through and replays deliveries, and deletes it; each change is
// in the audit log. Bad bodies and event types are problems with stable codes, and
// automation keys are refused.
func TestWebhookEndpointsAPI(t *testing.T) {
	app := apptest.Start(t, apptest.Options{WebhookResolver: failingResolver()})
	org := app.SeedOrg(t, 10, person("Maya Chen", finished(5, 8)))
	hook := receiver(t)
	before := time.Now().Add(-time.Second)

	created := createEndpoint(t, app, org.AdminKey, map[string]any{
		"url": hook, "description": "CRM sync", "event_types": []string{"retry.started", "retry.issued"}})
	if !strings.HasPrefix(created.Secret, "whsec_") || len(created.Secret) < 40 {
		t.Fatalf("secret = %q, want a whsec_ secret", created.Secret)
	}
	if created.URL != hook || created.Description != "CRM sync" || !created.Enabled || created.DisabledReason != nil ||
		created.PreviousSecretExpiresAt != nil || created.CreatedAt.Before(before) {
		t.Fatalf("created = %+v", created)
	}
	// The types come back in the documented order, whatever order they were given in.
	if !slices.Equal(created.EventTypes, []string{"retry.issued", "retry.started"}) {
		t.Fatalf("event_types = %v", created.EventTypes)
	}
	id := created.ID
	list := listEndpoints(t, app, org.AdminKey)
	if len(list) != 1 || list[0].ID != id {
		t.Fatalf("list = %+v", list)
	}
	one := expectJSON[server.WebhookEndpointDTO](t, app.Do(t, "GET", webhooksPath+"/"+id, org.AdminKey, nil), 200)
	if one.URL != hook || one.Description != "CRM sync" {
		t.Fatalf("get = %+v", one)
	}

	// Refusals, each with its code; nothing is created.
	for _, tc := range []struct {
		body   map[string]any
		status int
		code   string
	}{
		{map[string]any{"url": hook, "event_types": []string{"retry.issued", "member.deleted"}}, 422, "unknown_event_type"},
		{map[string]any{"url": hook, "event_types": []string{"webhook.test"}}, 422, "unknown_event_type"},
		{map[string]any{"url": hook, "event_types": []string{}}, 400, "invalid_body"},
		{map[string]any{"url": hook, "event_types": []string{"retry.issued", "retry.issued"}}, 400, "invalid_body"},
		{map[string]any{"url": hook}, 400, "invalid_body"},
		{map[string]any{"event_types": []string{"retry.issued"}}, 400, "invalid_body"},
		{map[string]any{"url": hook, "event_types": []string{"retry.issued"}, "description": strings.Repeat("d", 501)}, 400, "invalid_body"},
		{map[string]any{"url": "not a url", "event_types": []string{"retry.issued"}}, 400, "webhook_url_invalid"},
		{map[string]any{"url": "ftp://127.0.0.1/x", "event_types": []string{"retry.issued"}}, 422, "webhook_url_scheme"},
		// Development allows loopback, never the private network or cloud metadata.
		{map[string]any{"url": "http://10.1.2.3/hook", "event_types": []string{"retry.issued"}}, 422, "webhook_url_forbidden_address"},
		{map[string]any{"url": "http://169.254.169.254/latest/meta-data", "event_types": []string{"retry.issued"}}, 422, "webhook_url_forbidden_address"},
		{map[string]any{"url": "https://hooks.example.test/x", "event_types": []string{"retry.issued"}}, 422, "webhook_url_unresolvable"},
	} {
		expectProblem(t, app.Do(t, "POST", webhooksPath, org.AdminKey, tc.body), tc.status, tc.code)
	}
	if n := len(listEndpoints(t, app, org.AdminKey)); n != 1 {
		t.Fatalf("refused creations left %d endpoints", n)
	}
	expectProblem(t, app.Do(t, "GET", webhooksPath, org.AutomationKey, nil), 403, "forbidden_for_role")
	expectProblem(t, app.Do(t, "POST", webhooksPath, org.AutomationKey, map[string]any{"url": hook, "event_types": []string{"retry.issued"}}), 403, "forbidden_for_role")
	expectProblem(t, app.Do(t, "GET", webhooksPath+"/not-a-uuid", org.AdminKey, nil), 404, "not_found")
	expectProblem(t, app.Do(t, "GET", webhooksPath+"/"+randomUUID(), org.AdminKey, nil), 404, "not_found")

	// Changes: description and types; a refused URL changes nothing.
	patched := expectJSON[server.WebhookEndpointDTO](t, app.Do(t, "PATCH", webhooksPath+"/"+id, org.AdminKey,
		map[string]any{"description": "CRM", "event_types": []string{"restart.issued"}}), 200)
	if patched.Description != "CRM" || !slices.Equal(patched.EventTypes, []string{"restart.issued"}) || patched.URL != hook {
		t.Fatalf("patched = %+v", patched)
	}
	expectProblem(t, app.Do(t, "PATCH", webhooksPath+"/"+id, org.AdminKey, map[string]any{"url": "http://10.0.0.7/"}), 422, "webhook_url_forbidden_address")
	expectProblem(t, app.Do(t, "PATCH", webhooksPath+"/"+id, org.AdminKey, map[string]any{"event_types": []string{"nope"}}), 422, "unknown_event_type")
	expectProblem(t, app.Do(t, "PATCH", webhooksPath+"/"+id, org.AdminKey, map[string]any{}), 400, "invalid_body")
	if got := listEndpoints(t, app, org.AdminKey)[0]; got.URL != hook || got.Description != "CRM" {
		t.Fatalf("after refused changes: %+v", got)
	}
	hook2 := receiver(t)
	if got := expectJSON[server.WebhookEndpointDTO](t, app.Do(t, "PATCH", webhooksPath+"/"+id, org.AdminKey, map[string]any{"url": hook2}), 200); got.URL != hook2 {
		t.Fatalf("url not changed: %+v", got)
	}

	// A disabled endpoint says why, and receives neither tests nor replays.
	off := expectJSON[server.WebhookEndpointDTO](t, app.Do(t, "PATCH", webhooksPath+"/"+id, org.AdminKey, map[string]any{"enabled": false}), 200)
	if off.Enabled || str(off.DisabledReason) != domain.EndpointDisabledByAdmin || off.DisabledAt == nil {
		t.Fatalf("disabled = %+v", off)
	}
	expectProblem(t, app.Do(t, "POST", webhooksPath+"/"+id+"/test", org.AdminKey, nil), 409, "webhook_endpoint_disabled")
	on := expectJSON[server.WebhookEndpointDTO](t, app.Do(t, "PATCH", webhooksPath+"/"+id, org.AdminKey, map[string]any{"enabled": true}), 200)
	if !on.Enabled || on.DisabledReason != nil || on.DisabledAt != nil || on.FailingSince != nil {
		t.Fatalf("enabled = %+v", on)
	}

	// Rotation: a new secret, shown in the answer; the list shows until when the old one signs.
	rotated := expectJSON[server.WebhookSecretDTO](t, app.Do(t, "POST", webhooksPath+"/"+id+"/rotate-secret", org.AdminKey, nil), 200)
	if !strings.HasPrefix(rotated.Secret, "whsec_") || rotated.Secret == created.Secret {
		t.Fatalf("rotated secret = %q (was %q)", rotated.Secret, created.Secret)
	}
	exp := listEndpoints(t, app, org.AdminKey)[0].PreviousSecretExpiresAt
	// WEBHOOK_SECRET_OVERLAP's default, 24 hours, from the rotation.
	if exp == nil || exp.Before(time.Now().Add(23*time.Hour)) || exp.After(time.Now().Add(25*time.Hour)) {
		t.Fatalf("previous_secret_expires_at = %v, want a day from now", exp)
	}

	// Test events: each a pending delivery of webhook.test; the listing pages newest first.
	var sent []server.WebhookDeliveryDTO
	for range 3 {
		d := expectJSON[server.WebhookDeliveryDTO](t, app.Do(t, "POST", webhooksPath+"/"+id+"/test", org.AdminKey, nil), 202)
		if d.EventType != domain.EventWebhookTest || d.Status != domain.DeliveryPending || d.ReplayOf != nil || d.Attempts != 0 {
			t.Fatalf("test delivery = %+v", d)
		}
		sent = append(sent, d)
	}
	first := deliveries(t, app, org.AdminKey, id, "limit=2")
	if len(first.Data) != 2 || first.NextCursor == nil || first.Data[0].ID != sent[2].ID || first.Data[1].ID != sent[1].ID {
		t.Fatalf("first page = %+v", first)
	}
	rest := deliveries(t, app, org.AdminKey, id, "limit=2&before="+url.QueryEscape(*first.NextCursor))
	if len(rest.Data) != 1 || rest.NextCursor != nil || rest.Data[0].ID != sent[0].ID || rest.Data[0].EventType != domain.EventWebhookTest {
		t.Fatalf("second page = %+v", rest)
	}
	expectProblem(t, app.Do(t, "GET", webhooksPath+"/"+id+"/deliveries?before=nonsense", org.AdminKey, nil), 400, "invalid_parameter")
	expectProblem(t, app.Do(t, "GET", webhooksPath+"/"+id+"/deliveries?limit=0", org.AdminKey, nil), 400, "invalid_parameter")

	// A replay is a new delivery of the same event, naming the one it repeats.
	replay := expectJSON[server.WebhookDeliveryDTO](t, app.Do(t, "POST", webhooksPath+"/"+id+"/deliveries/"+sent[0].ID+"/replay", org.AdminKey, nil), 202)
	if str(replay.ReplayOf) != sent[0].ID || replay.EventID != sent[0].EventID || replay.ID == sent[0].ID ||
		replay.EventType != domain.EventWebhookTest || replay.Status != domain.DeliveryPending {
		t.Fatalf("replay = %+v of %+v", replay, sent[0])
	}
	if newest := deliveries(t, app, org.AdminKey, id, "limit=1").Data[0]; newest.ID != replay.ID || str(newest.ReplayOf) != sent[0].ID {
		t.Fatalf("newest delivery = %+v, want the replay", newest)
	}
	expectProblem(t, app.Do(t, "POST", webhooksPath+"/"+id+"/deliveries/"+randomUUID()+"/replay", org.AdminKey, nil), 404, "not_found")
	expectStatus(t, app.Do(t, "PATCH", webhooksPath+"/"+id, org.AdminKey, map[string]any{"enabled": false}), 200)
	expectProblem(t, app.Do(t, "POST", webhooksPath+"/"+id+"/deliveries/"+sent[0].ID+"/replay", org.AdminKey, nil), 409, "webhook_endpoint_disabled")

	// Deletion hides the endpoint and cancels what was pending for it; the purge removes
	// both later.
	if r := app.Do(t, "DELETE", webhooksPath+"/"+id, org.AdminKey, nil); r.Status != 204 || len(r.Body) != 0 {
		t.Fatalf("delete = %d %s", r.Status, r.Body)
	}
	expectProblem(t, app.Do(t, "GET", webhooksPath+"/"+id, org.AdminKey, nil), 404, "not_found")
	expectProblem(t, app.Do(t, "GET", webhooksPath+"/"+id+"/deliveries", org.AdminKey, nil), 404, "not_found")
	expectProblem(t, app.Do(t, "DELETE", webhooksPath+"/"+id, org.AdminKey, nil), 404, "not_found")
	if n := countRows(t, app, "webhook_deliveries", "endpoint_id = ? AND status = 'pending'", id); n != 0 {
		t.Fatalf("%d deliveries still pending for a deleted endpoint", n)
	}
	if len(listEndpoints(t, app, org.AdminKey)) != 0 {
		t.Fatal("the endpoint is still listed")
	}

	// The audit log names each change, by the admin, with the endpoint or delivery.
	events := auditPage(t, app, org.AdminKey, url.Values{"limit": {"200"}}).Events
	count := map[string]int{}
	for _, e := range events {
		count[e.Action]++
		if strings.HasPrefix(e.Action, "webhook_") && (e.Actor.Kind != "admin" || e.Actor.ID != org.AdminID) {
			t.Errorf("%s by %+v, want the admin", e.Action, e.Actor)
		}
	}
	for action, want := range map[string]int{
		"webhook_endpoint.create": 1, "webhook_endpoint.update": 5, "webhook_endpoint.rotate_secret": 1,
		"webhook_endpoint.test": 3, "webhook_delivery.replay": 1, "webhook_endpoint.delete": 1,
	} {
		if count[action] != want {
			t.Errorf("audit events %s = %d, want %d (all: %v)", action, count[action], want, count)
		}
	}
	if n := countRows(t, app, "audit_events", "detail::text LIKE ?", "%whsec_%"); n != 0 {
		t.Errorf("%d audit events hold a secret", n)
	}
}

// TestWebhookEndpointsTenancy: another organization's admin gets 404 on every route that
// names an endpoint or a delivery, and never sees the endpoint in its list.
func TestWebhookEndpointsTenancy(t *testing.T) {
	app := apptest.Start(t, apptest.Options{})
	org := app.SeedOrg(t, 10, person("Maya Chen", finished(5, 8)))
	other := app.SeedOrg(t, 10, person("Otto Other", finished(5, 8)))
	hook := receiver(t)
	ours := createEndpoint(t, app, org.AdminKey, map[string]any{"url": hook, "event_types": []string{"retry.issued"}}).ID
	theirs := createEndpoint(t, app, other.AdminKey, map[string]any{"url": hook, "event_types": []string{"retry.issued"}}).ID
	delivery := expectJSON[server.WebhookDeliveryDTO](t, app.Do(t, "POST", webhooksPath+"/"+ours+"/test", org.AdminKey, nil), 202).ID

	if l := listEndpoints(t, app, other.AdminKey); len(l) != 1 || l[0].ID != theirs {
		t.Fatalf("the other organization lists %+v", l)
	}
	for _, tc := range []struct{ method, path string }{
		{"GET", webhooksPath + "/" + ours},
		{"PATCH", webhooksPath + "/" + ours},
		{"DELETE", webhooksPath + "/" + ours},
		{"POST", webhooksPath + "/" + ours + "/rotate-secret"},
		{"POST", webhooksPath + "/" + ours + "/test"},
		{"GET", webhooksPath + "/" + ours + "/deliveries"},
		{"POST", webhooksPath + "/" + ours + "/deliveries/" + delivery + "/replay"},
		// Their own endpoint with our delivery.
		{"POST", webhooksPath + "/" + theirs + "/deliveries/" + delivery + "/replay"},
	} {
		var body any
		if tc.method == "PATCH" {
			body = map[string]any{"enabled": false, "url": "http://10.0.0.1/"}
		}
		expectProblem(t, app.Do(t, tc.method, tc.path, other.AdminKey, body), 404, "not_found")
	}
	// Nothing changed: the endpoint is as made, with one delivery, and nothing was audited
	// in either organization but the creations and the test.
	got := listEndpoints(t, app, org.AdminKey)
	if len(got) != 1 || !got[0].Enabled || got[0].PreviousSecretExpiresAt != nil {
		t.Fatalf("after the other organization's calls: %+v", got)
	}
	if n := len(deliveries(t, app, org.AdminKey, ours, "").Data); n != 1 {
		t.Fatalf("deliveries = %d, want 1", n)
	}
	if n := countRows(t, app, "audit_events", "action LIKE 'webhook_%' AND org_id = ?", other.ID); n != 1 {
		t.Fatalf("the other organization's webhook audit events = %d, want its one creation", n)
	}
}

// TestWebhookURLPolicy: outside development a webhook URL must be https to a public
// address: http, loopback, private and link-local addresses and cloud metadata are
// refused with their codes and the guard's words, which never repeat the URL's
// credentials.
func TestWebhookURLPolicy(t *testing.T) {
	app := apptest.Start(t, apptest.Options{ProductionWebhookURLs: true, WebhookResolver: failingResolver()})
	org := app.SeedOrg(t, 10)
	types := []string{"retry.issued"}
	for _, tc := range []struct{ url, code string }{
		{"http://93.184.215.14/hook", "webhook_url_scheme"},
		{"https://127.0.0.1/hook", "webhook_url_forbidden_address"},
		{"https://[::1]/hook", "webhook_url_forbidden_address"},
		{"https://10.20.30.40/hook", "webhook_url_forbidden_address"},
		{"https://192.168.1.10/hook", "webhook_url_forbidden_address"},
		{"https://169.254.169.254/latest/meta-data", "webhook_url_forbidden_address"},
		{"https://0x7f.0.0.1/hook", "webhook_url_invalid"},
		{"https://hooks.example.test/hook", "webhook_url_unresolvable"},
		{"https://admin:hunter2@93.184.215.14/hook", "webhook_url_invalid"},
	} {
		r := app.Do(t, "POST", webhooksPath, org.AdminKey, map[string]any{"url": tc.url, "event_types": types})
		p := expectProblem(t, r, map[bool]int{true: 400, false: 422}[tc.code == "webhook_url_invalid"], tc.code)
		if p.Detail == "" || strings.Contains(p.Detail, "hunter2") {
			t.Errorf("%s: detail %q", tc.url, p.Detail)
		}
	}
	ok := createEndpoint(t, app, org.AdminKey, map[string]any{"url": "https://93.184.215.14/hook?source=retryd", "event_types": types})
	if ok.URL != "https://93.184.215.14/hook?source=retryd" {
		t.Fatalf("url = %q", ok.URL)
	}
	// A change is checked the same way.
	expectProblem(t, app.Do(t, "PATCH", webhooksPath+"/"+ok.ID, org.AdminKey, map[string]any{"url": "https://127.0.0.1/"}), 422, "webhook_url_forbidden_address")
}

// TestWebhookCreateIdempotency: a creation repeated with its Idempotency-Key answers the
// endpoint it made, with its secret, instead of making another; once the secret was
// rotated, a replay no longer shows any.
func TestWebhookCreateIdempotency(t *testing.T) {
	app := apptest.Start(t, apptest.Options{})
	org := app.SeedOrg(t, 10)
	body := map[string]any{"url": receiver(t), "event_types": []string{"retry.issued"}}
	first := createEndpoint(t, app, org.AdminKey, body, "Idempotency-Key", "hook-1")
	r := app.Do(t, "POST", webhooksPath, org.AdminKey, body, "Idempotency-Key", "hook-1")
	again := expectJSON[server.WebhookSecretDTO](t, r, 201)
	if r.Header.Get("Idempotent-Replayed") != "true" || again.ID != first.ID || again.Secret != first.Secret {
		t.Fatalf("replay = %+v (replayed %q), want %+v", again, r.Header.Get("Idempotent-Replayed"), first)
	}
	if raw := countRows(t, app, "idempotency_keys", "response::text LIKE ?", "%whsec_%"); raw != 0 {
		t.Fatal("the stored answer holds the secret")
	}
	expectProblem(t, app.Do(t, "POST", webhooksPath, org.AdminKey, map[string]any{"url": receiver(t), "event_types": []string{"retry.started"}},
		"Idempotency-Key", "hook-1"), 422, "idempotency_key_reused")
	// Concurrent creations with one key make one endpoint.
	answers := concurrently(t, 4, func(int) (*apptest.Response, error) {
		return doConcurrent(app, "POST", webhooksPath, org.AdminKey, body, "Idempotency-Key", "hook-2")
	})
	ids := map[string]bool{}
	for _, a := range answers {
		ids[expectJSON[server.WebhookSecretDTO](t, a, 201).ID] = true
	}
	if len(ids) != 1 || len(listEndpoints(t, app, org.AdminKey)) != 2 {
		t.Fatalf("concurrent creations made %v; endpoints %d", ids, len(listEndpoints(t, app, org.AdminKey)))
	}

	expectStatus(t, app.Do(t, "POST", webhooksPath+"/"+first.ID+"/rotate-secret", org.AdminKey, nil), 200)
	after := expectJSON[server.WebhookSecretDTO](t, app.Do(t, "POST", webhooksPath, org.AdminKey, body, "Idempotency-Key", "hook-1"), 201)
	if after.ID != first.ID || after.Secret != "" {
		t.Fatalf("replay after rotation = %+v, want the endpoint without a secret", after)
	}
}

// TestWebhookEndpointLimit: an organization has at most MaxWebhookEndpoints endpoints,
// however many creations run at once.
func TestWebhookEndpointLimit(t *testing.T) {
	app := apptest.Start(t, apptest.Options{})
	org := app.SeedOrg(t, 10)
	other := app.SeedOrg(t, 10)
	body := map[string]any{"url": "http://127.0.0.1:9/hook", "event_types": []string{"retry.issued"}}
	extra := 5
	answers := concurrently(t, server.MaxWebhookEndpoints+extra, func(int) (*apptest.Response, error) {
		return doConcurrent(app, "POST", webhooksPath, org.AdminKey, body)
	})
	created, refused := 0, 0
	for _, a := range answers {
		switch a.Status {
		case 201:
			created++
		case 422:
			refused++
			if code := codeOf(t, a); code != "too_many_webhook_endpoints" {
				t.Errorf("refused with %s", code)
			}
		default:
			t.Errorf("creation answered %d: %s", a.Status, a.Body)
		}
	}
	if created != server.MaxWebhookEndpoints || refused != extra || len(listEndpoints(t, app, org.AdminKey)) != server.MaxWebhookEndpoints {
		t.Fatalf("%d created, %d refused; want %d and %d", created, refused, server.MaxWebhookEndpoints, extra)
	}
	expectProblem(t, app.Do(t, "POST", webhooksPath, org.AdminKey, body), 422, "too_many_webhook_endpoints")
	createEndpoint(t, app, other.AdminKey, body) // the bound is per organization
}

// TestWebhookEventsMatchOpenAPI: the events a retry, a member's start, a restart, an
// operator's cancel of a restart and a test record are what the document's webhooks
// section describes: each payload validates against its event's schema, and names no
// data field the schema leaves out.
func TestWebhookEventsMatchOpenAPI(t *testing.T) {
	app := apptest.Start(t, apptest.Options{})
	org := app.SeedOrg(t, 10,
		person("Maya Chen", finished(5, 8)),
		seed.Member{Name: "Sam Taylor", Kind: "managed", Shoots: []seed.Shoot{deletedShoot()}},
		seed.Member{Name: "Rae Okafor", Kind: "managed", Shoots: []seed.Shoot{deletedShoot()}},
	)
	maya, mayaShoots := seeded(org, 0)
	sam, rae := seededID(org, 1), seededID(org, 2)
	hook := createEndpoint(t, app, org.AdminKey, map[string]any{"url": receiver(t), "event_types": domain.EventTypes()})
	expectStatus(t, giveRetry(t, app, org.AdminKey, maya, mayaShoots[0]), 201)
	restart := expectJSON[server.RestartAnswer](t, app.Do(t, "POST", "/api/v1/admin/members/"+sam+"/restarts", org.AdminKey, nil), 201)
	expectStatus(t, app.Do(t, "POST", "/api/v1/admin/members/"+rae+"/restarts", org.AdminKey, nil), 201)
	memberStart(t, app, maya, mayaShoots[0])
	memberStart(t, app, sam, restart.Shoot.ID)
	// An operator's `temporal workflow cancel` of Rae's restart.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := app.Temporal.CancelWorkflow(ctx, workflows.RestartWorkflowID(rae), ""); err != nil {
		t.Fatal(err)
	}
	expectStatus(t, app.Do(t, "POST", webhooksPath+"/"+hook.ID+"/test", org.AdminKey, nil), 202)
	// The first email's event is written when the worker has sent it, the cancel's when
	// the workflow has recorded it.
	apptest.WaitFor(t, 60*time.Second, "retry.email_delivered and restart.canceled", func() bool {
		return countRows(t, app, "webhook_events", "org_id = ? AND type = ?", org.ID, domain.EventRetryEmailDelivered) > 0 &&
			countRows(t, app, "webhook_events", "org_id = ? AND type = ?", org.ID, domain.EventRestartCanceled) > 0
	})

	var rows []struct {
		Type    string `bun:"type"`
		Payload string `bun:"payload"`
	}
	if err := app.DB.NewRaw(`SELECT type, payload::text AS payload FROM webhook_events WHERE org_id = ?`, org.ID).Scan(context.Background(), &rows); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, r := range rows {
		seen[r.Type] = true
		if err := apptest.ValidateWebhookEvent(r.Type, []byte(r.Payload)); err != nil {
			t.Errorf("%s: %v; payload %s", r.Type, err, r.Payload)
		}
	}
	for _, typ := range []string{domain.EventRetryIssued, domain.EventRetryEmailDelivered, domain.EventRetryStarted,
		domain.EventRestartIssued, domain.EventRestartStarted, domain.EventRestartCanceled, domain.EventWebhookTest} {
		if !seen[typ] {
			t.Errorf("no %s event was recorded (saw %v)", typ, seen)
		}
	}
	// Every event reached the endpoint as a delivery.
	if n := countRows(t, app, "webhook_deliveries", "endpoint_id = ?", hook.ID); n != int64(len(rows)) {
		t.Errorf("deliveries = %d, events = %d", n, len(rows))
	}
}
