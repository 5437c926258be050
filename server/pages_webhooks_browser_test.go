package server_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/headshotpro/retryd/internal/tooling/apptest"
	"github.com/headshotpro/retryd/internal/tooling/browsertest"
)

// TestWebhooksPageInBrowser: an admin follows the header's Webhooks link, adds an
// endpoint and sees its secret once, focused and ready to copy; reloading shows the list
// without the secret and adds nothing; a test event sent from the endpoint's page appears
// among its deliveries. Neither page scrolls sideways on a phone, and nothing on the way
// is a console error.
func TestWebhooksPageInBrowser(t *testing.T) {
	app := apptest.Start(t, apptest.Options{})
	org := app.SeedOrg(t, 10, person("Maya Chen", finished(5, 8)))
	hook := receiver(t)
	b := browsertest.New(t)
	signInBrowser(t, b, app, org.AdminKey)

	b.Do(t, "follow the header's Webhooks link", chromedp.Click(chromedp.CSS(`header nav a[href="/app/admin/webhooks"]`)),
		chromedp.WaitVisible(chromedp.ID("add-endpoint-form")))
	if !strings.Contains(b.Text(t), "No webhook endpoint yet") {
		t.Fatalf("a new organization's Webhooks page:\n%s", b.Text(t))
	}
	b.Do(t, "add an endpoint",
		chromedp.SendKeys(chromedp.ID("webhook-url"), hook),
		chromedp.SendKeys(chromedp.ID("webhook-description"), "CRM sync"),
		chromedp.Click(chromedp.CSS(`#event-types input[value="retry.issued"]`)),
		chromedp.Click(chromedp.CSS(`#event-types input[value="retry.started"]`)),
		chromedp.Click(chromedp.CSS(`#add-endpoint-form button[type=submit]`)),
		chromedp.WaitVisible(chromedp.ID("webhook-secret")))

	secret := browsertest.Eval[string](t, b, `document.getElementById('webhook-secret').value`)
	if !strings.HasPrefix(secret, "whsec_") {
		t.Fatalf("secret field holds %q", secret)
	}
	for what, expr := range map[string]string{
		"the secret field has the focus":          `document.activeElement.id === 'webhook-secret'`,
		"the warning says it is not shown again":  `document.getElementById('secret-warning').innerText.includes('it is not shown again')`,
		"the Copy button is shown":                `!document.querySelector('button[data-copy]').hidden`,
		"the address is the Webhooks page's own":  `location.pathname === '/app/admin/webhooks' && location.search === ''`,
		"the endpoint is listed, enabled":         `document.querySelector('#endpoints .webhook-endpoint[data-enabled="true"]') !== null`,
		"the list names its events in words":      `document.getElementById('endpoints').innerText.includes('Retry given, Member started their retry')`,
		"the form is empty again for another one": `document.getElementById('webhook-url').value === ''`,
	} {
		if !browsertest.Eval[bool](t, b, expr) {
			t.Errorf("after adding: %s is not so (%s)", what, expr)
		}
	}
	b.Screenshot(t, "webhooks-secret")

	// Reload: the list, without the secret, and no second endpoint.
	b.Do(t, "reload", chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("endpoints")))
	if browsertest.Eval[bool](t, b, `document.getElementById('webhook-secret') !== null`) || strings.Contains(b.Text(t), secret) {
		t.Fatal("the secret is shown again after a reload")
	}
	if n := len(listEndpoints(t, app, org.AdminKey)); n != 1 {
		t.Fatalf("%d endpoints after a reload, want 1", n)
	}

	// Send a test event from the endpoint's page: it is listed among the deliveries.
	b.Do(t, "open the endpoint's deliveries", chromedp.Click(chromedp.CSS(`#endpoints .webhook-endpoint a[href^="/app/admin/webhooks/"]:not([href$="/delete"])`)),
		chromedp.WaitVisible(chromedp.ID("deliveries-panel")))
	if !strings.Contains(b.Text(t), "No delivery yet") {
		t.Fatalf("a new endpoint's deliveries:\n%s", b.Text(t))
	}
	b.Do(t, "send a test event", chromedp.Click(chromedp.CSS(`form[action$="/test"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`#deliveries tr[data-event-type="webhook.test"]`)))
	row := browsertest.Eval[string](t, b, `document.querySelector('#deliveries tr[data-event-type="webhook.test"]').innerText`)
	if !strings.Contains(row, "Test event") || !strings.Contains(row, "UTC") {
		t.Errorf("the test delivery's row: %q", row)
	}
	if !browsertest.Eval[bool](t, b, `document.getElementById('webhook-notice').innerText.includes('A test event is on its way')`) {
		t.Error("no notice that the test event was sent")
	}
	b.Screenshot(t, "webhook-deliveries")

	// On a phone, neither page scrolls sideways.
	endpointPage := b.Location(t)
	b.Do(t, "narrow the window", chromedp.EmulateViewport(320, 740))
	for _, path := range []string{app.URL + "/app/admin/webhooks", endpointPage} {
		b.Do(t, "open "+path, chromedp.Navigate(path), chromedp.WaitVisible(chromedp.ID("main")))
		if !browsertest.Eval[bool](t, b, noHorizontalScroll) {
			t.Errorf("%s at 320 px scrolls sideways: scrollWidth %d; %v", path, browsertest.Eval[int](t, b, `document.documentElement.scrollWidth`),
				browsertest.Eval[[]string](t, b, `[...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > window.innerWidth + 1).map(e => e.tagName + '#' + e.id + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right)).slice(0, 12)`))
		}
	}
	if p := b.Problems(); len(p) > 0 {
		t.Errorf("console problems: %v", p)
	}
}
