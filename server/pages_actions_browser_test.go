package server_test

import (
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/headshotpro/retryd/internal/tooling/apptest"
	"github.com/headshotpro/retryd/internal/tooling/browsertest"
)

// signedInBrowser starts Chromium and signs in with the organization's admin key; it
// ends on the dashboard.
func signedInBrowser(t *testing.T, app *apptest.App, org *apptest.Org) *browsertest.Browser {
	t.Helper()
	b := browsertest.New(t)
	b.Do(t, "sign in", chromedp.Navigate(app.URL+"/app/login"), chromedp.WaitVisible(chromedp.ID("api_key")),
		chromedp.SendKeys(chromedp.ID("api_key"), org.AdminKey),
		chromedp.Click(chromedp.CSS(`form[action="/app/login"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.ID("section-finished")))
	return b
}

// openGiveRetry opens a card's Actions menu and its Give retry modal, and waits for the
// confirmation button.
func openGiveRetry(t *testing.T, b *browsertest.Browser, section, memberID string) {
	t.Helper()
	b.Do(t, "open Give retry",
		chromedp.Click(chromedp.CSS(card(section, memberID)+` summary`)),
		chromedp.Click(chromedp.CSS(card(section, memberID)+` a.give-retry`)))
	b.WaitTrue(t, "the modal", `document.getElementById('modal').open && document.querySelector('#modal button[type=submit]')`)
}

// TestGiveRetryFocusStartsOnCancelInBrowser: the Give retry modal opens with focus on
// Cancel, not on the destructive Delete results and retry, so an Enter pressed right
// after opening closes the modal and gives nothing.
func TestGiveRetryFocusStartsOnCancelInBrowser(t *testing.T) {
	app := apptest.Start(t, apptest.Options{})
	org := app.SeedOrg(t, 5, person("Maya Chen", finished(5, 8)))
	maya, _ := seeded(org, 0)
	b := signedInBrowser(t, app, org)

	openGiveRetry(t, b, "finished", maya)
	if got := browsertest.Eval[string](t, b, `(function(){var a=document.activeElement;return (document.getElementById('modal').contains(a)?'in the modal: ':'outside the modal: ')+a.tagName+' '+a.textContent.trim()})()`); got != "in the modal: A Cancel" {
		t.Errorf("focus on opening = %q, want Cancel in the modal", got)
	}
	b.Do(t, "press Enter", chromedp.KeyEvent(kb.Enter))
	b.WaitTrue(t, "the modal to close", `document.readyState === 'complete' && !document.getElementById('modal').open`)
	apptest.Holds(t, 2*time.Second, "no retry given", func() bool {
		return len(memberDetail(t, app, org.AdminKey, maya).Retries) == 0
	})
}
