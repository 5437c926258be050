package server_test

import (
	"context"
	"html"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/headshotpro/retryd/internal/domain"
	"github.com/headshotpro/retryd/internal/store"
	"github.com/headshotpro/retryd/internal/tooling/apptest"
)

var secretInPage = regexp.MustCompile(`whsec_[A-Za-z0-9+/=]+`)

// TestWebhooksPage: without JavaScript, an admin adds an endpoint on the Webhooks page and
// sees its secret once, with the warning; a refused URL is shown in the form, in the
// guard's words; the admin sends a test event, finds it among the deliveries, replays
// it, disables, enables, rotates and deletes the endpoint; an endpoint the system turned
// off or whose deliveries fail says so; another organization's endpoint is not found.
func TestWebhooksPage(t *testing.T) {
	app := apptest.Start(t, apptest.Options{})
	org := app.SeedOrg(t, 5, person("Maya Chen", finished(5, 8)))
	other := app.SeedOrg(t, 5)
	pc := newPageClient(t, app)
	if a := pc.signIn(org.AdminKey); a.Status != 303 {
		t.Fatalf("sign in = %d", a.Status)
	}
	hook := receiver(t)

	list := pc.do("GET", "/app/admin/webhooks", nil)
	expectPage(t, list, 200, "Webhooks", "No webhook endpoint yet", "Events to send", "Retry given", `href="/app/admin/webhooks"`)
	csrf := formField(t, list.Body, "csrf")
	form := func(page string, v url.Values) url.Values {
		v.Set("csrf", csrf)
		v.Set("idempotency_key", formField(t, page, "idempotency_key"))
		return v
	}

	// Refusals stay on the page, with what the admin typed.
	a := pc.do("POST", "/app/admin/webhooks", form(list.Body, url.Values{"url": {hook}}))
	expectPage(t, a, 400, "Choose at least one event to send.")
	a = pc.do("POST", "/app/admin/webhooks", form(list.Body, url.Values{"url": {"http://10.9.8.7/hook"}, "event_type": {"retry.issued"}, "description": {"CRM"}}))
	expectPage(t, a, 422, "The webhook URL's address 10.9.8.7 is a private or link-local network address, which webhooks may not reach.")
	if !strings.Contains(a.Body, `data-problem-code="webhook_url_forbidden_address"`) || !strings.Contains(a.Body, `aria-invalid="true"`) ||
		!strings.Contains(a.Body, `value="http://10.9.8.7/hook"`) || !strings.Contains(a.Body, `value="CRM"`) ||
		!strings.Contains(a.Body, `value="retry.issued" checked`) {
		t.Fatalf("the refused form is not shown as filled in, with its error:\n%s", a.Body)
	}

	// Added: the secret is on this page only.
	// The refused page's form carries a new Idempotency-Key.
	added := pc.do("POST", "/app/admin/webhooks", form(a.Body, url.Values{"url": {hook}, "event_type": {"retry.issued", "retry.started"}, "description": {"CRM"}}))
	expectPage(t, added, 200, "The endpoint is added.", "Copy this secret now", "it is not shown again", hook, "Retry given, Member started their retry")
	secret := secretInPage.FindString(html.UnescapeString(added.Body))
	if secret == "" || !strings.Contains(html.UnescapeString(added.Body), `id="webhook-secret" type="text" readonly value="`+secret+`"`) {
		t.Fatalf("no secret field on the page:\n%s", added.Body)
	}
	endpoints := listEndpoints(t, app, org.AdminKey)
	if len(endpoints) != 1 || endpoints[0].URL != hook || endpoints[0].Description != "CRM" {
		t.Fatalf("endpoints = %+v", endpoints)
	}
	id := endpoints[0].ID
	list = pc.do("GET", "/app/admin/webhooks", nil)
	expectPage(t, list, 200, hook, "Enabled", "Send test event")
	if secretInPage.MatchString(list.Body) {
		t.Fatal("the list shows a secret")
	}

	// A test event shows among the deliveries; Replay sends it again.
	a = pc.do("POST", "/app/admin/webhooks/"+id+"/test", url.Values{"csrf": {csrf}})
	if a.Status != 303 || a.Location != "/app/admin/webhooks/"+id+"?done=tested" {
		t.Fatalf("test = %d %q", a.Status, a.Location)
	}
	detail := pc.do("GET", a.Location, nil)
	expectPage(t, detail, 200, "A test event is on its way", "Recent deliveries", "Test event")
	delivery := deliveries(t, app, org.AdminKey, id, "").Data[0]
	if !strings.Contains(detail.Body, `data-delivery="`+delivery.ID+`"`) || !strings.Contains(detail.Body, `data-event-type="webhook.test"`) {
		t.Fatalf("the delivery is not listed:\n%s", detail.Body)
	}
	a = pc.do("POST", "/app/admin/webhooks/"+id+"/deliveries/"+delivery.ID+"/replay", url.Values{"csrf": {csrf}})
	if a.Status != 303 || a.Location != "/app/admin/webhooks/"+id+"?done=replayed" {
		t.Fatalf("replay = %d %q", a.Status, a.Location)
	}
	if d := deliveries(t, app, org.AdminKey, id, "").Data; len(d) != 2 || str(d[0].ReplayOf) != delivery.ID {
		t.Fatalf("after replay: %+v", d)
	}
	expectPage(t, pc.do("GET", "/app/admin/webhooks/"+id+"?before=garbage", nil), 400, "This page link is not valid")

	// Disabled by the admin, then by the system: each says why; a test is refused in words.
	a = pc.do("POST", "/app/admin/webhooks/"+id+"/disable", url.Values{"csrf": {csrf}, "back": {"endpoint"}})
	if a.Status != 303 || a.Location != "/app/admin/webhooks/"+id+"?done=disabled" {
		t.Fatalf("disable = %d %q", a.Status, a.Location)
	}
	expectPage(t, pc.do("GET", a.Location, nil), 200, "Disabled by an admin", "Enable")
	a = pc.do("POST", "/app/admin/webhooks/"+id+"/test", url.Values{"csrf": {csrf}})
	expectPage(t, a, 409, "This endpoint is disabled, so nothing is sent to it. Enable it first.")
	a = pc.do("POST", "/app/admin/webhooks/"+id+"/enable", url.Values{"csrf": {csrf}})
	if a.Status != 303 || a.Location != "/app/admin/webhooks?done=enabled" {
		t.Fatalf("enable = %d %q", a.Status, a.Location)
	}
	// What the delivery engine records, on an endpoint that is sent nothing here (so no
	// delivery of this test's can clear it): failing since a time, then disabled.
	ctx := context.Background()
	quiet := createEndpoint(t, app, org.AdminKey, map[string]any{"url": receiver(t), "event_types": []string{"restart.email_failed"}}).ID
	if _, err := app.DB.NewRaw(`UPDATE webhook_endpoints SET failing_since = ? WHERE id = ?`, time.Date(2026, 12, 1, 9, 30, 0, 0, time.UTC), quiet).Exec(ctx); err != nil {
		t.Fatal(err)
	}
	expectPage(t, pc.do("GET", "/app/admin/webhooks", nil), 200, "Deliveries have been failing since 1 Dec 2026, 09:30 UTC", "If they keep failing for 3 days, the endpoint is disabled.")
	for reason, words := range map[string]string{
		domain.EndpointDisabledGone:    "Disabled after answering 410 Gone",
		domain.EndpointDisabledFailing: "Disabled: deliveries failed for 3 days",
	} {
		if _, err := app.DB.NewRaw(`UPDATE webhook_endpoints SET enabled = true WHERE id = ?`, quiet).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		if done, err := store.DisableWebhookEndpoint(ctx, app.DB, quiet, reason, time.Now()); err != nil || !done {
			t.Fatalf("disable %s: %v %v", reason, done, err)
		}
		page := pc.do("GET", "/app/admin/webhooks", nil)
		expectPage(t, page, 200, words)
		if !strings.Contains(page.Body, `data-endpoint="`+quiet+`" data-enabled="false"`) {
			t.Errorf("the endpoint disabled as %s is not shown disabled", reason)
		}
	}

	// Rotation shows the new secret once, and until when the old one signs.
	a = pc.do("POST", "/app/admin/webhooks/"+id+"/rotate-secret", url.Values{"csrf": {csrf}})
	expectPage(t, a, 200, "New signing secret", "it is not shown again", "The previous secret keeps signing beside it until")
	if s := secretInPage.FindString(html.UnescapeString(a.Body)); s == "" || s == secret {
		t.Fatalf("rotated secret %q (was %q)", s, secret)
	}
	expectPage(t, pc.do("GET", "/app/admin/webhooks", nil), 200, "Previous secret signs until")

	// Another organization's endpoint, and ids that cannot exist, are not found.
	theirs := createEndpoint(t, app, other.AdminKey, map[string]any{"url": hook, "event_types": []string{"retry.issued"}}).ID
	for _, tc := range []struct{ method, path string }{
		{"GET", "/app/admin/webhooks/" + theirs},
		{"GET", "/app/admin/webhooks/" + theirs + "/delete"},
		{"POST", "/app/admin/webhooks/" + theirs + "/delete"},
		{"POST", "/app/admin/webhooks/" + theirs + "/disable"},
		{"POST", "/app/admin/webhooks/" + theirs + "/rotate-secret"},
		{"POST", "/app/admin/webhooks/" + theirs + "/test"},
		{"GET", "/app/admin/webhooks/not-an-id"},
	} {
		var f url.Values
		if tc.method == "POST" {
			f = url.Values{"csrf": {csrf}}
		}
		expectPage(t, pc.do(tc.method, tc.path, f), 404, "This webhook endpoint or delivery is not in your organization, or was deleted.")
	}
	if got := listEndpoints(t, app, other.AdminKey); len(got) != 1 || !got[0].Enabled {
		t.Fatalf("the other organization's endpoint changed: %+v", got)
	}
	// A form from elsewhere changes nothing.
	expectPage(t, pc.do("POST", "/app/admin/webhooks/"+id+"/delete", url.Values{"csrf": {"forged"}}), 403, "This form has expired")

	// Deletion asks first.
	expectPage(t, pc.do("GET", "/app/admin/webhooks/"+id+"/delete", nil), 200, "Delete webhook endpoint", hook, "This cannot be undone.", "Cancel")
	a = pc.do("POST", "/app/admin/webhooks/"+id+"/delete", url.Values{"csrf": {csrf}})
	if a.Status != 303 || a.Location != "/app/admin/webhooks?done=deleted" {
		t.Fatalf("delete = %d %q", a.Status, a.Location)
	}
	page := pc.do("GET", a.Location, nil)
	expectPage(t, page, 200, "The endpoint is deleted")
	if strings.Contains(page.Body, `data-endpoint="`+id+`"`) {
		t.Error("the deleted endpoint is still listed")
	}

	// The Activity page names the webhook changes in words.
	expectPage(t, pc.do("GET", "/app/admin/activity", nil), 200, "Webhook endpoint added", "Webhook secret rotated", "Webhook test event sent",
		"Webhook delivery replayed", "Webhook endpoint deleted", "Webhook endpoint disabled by the system")
}
