package server_test

import (
	"strings"
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

// TestGiveRetryShowsWorkInBrowser: opening Give retry and confirming it say that they are
// working (aria-busy and a visible "Working…") while their request is in flight; a
// second Enter sends nothing more; closing the modal while the give runs leaves a
// visible status on the page until the answer comes, and one retry is given.
func TestGiveRetryShowsWorkInBrowser(t *testing.T) {
	app := apptest.Start(t, apptest.Options{})
	org := app.SeedOrg(t, 5, person("Maya Chen", finished(5, 8)))
	maya, _ := seeded(org, 0)
	b := signedInBrowser(t, app, org)
	link := card("finished", maya) + ` a.give-retry`

	// Opening: the confirmation is held on its way, so the page shows it is loading.
	opening := b.Hold(t, "*/app/admin/members/*/retry*")
	b.Do(t, "open Give retry", chromedp.Click(chromedp.CSS(card("finished", maya)+` summary`)), chromedp.Click(chromedp.CSS(link)))
	opening.WaitHeld(t, 1)
	if got := browsertest.Eval[string](t, b, `(function(){var a=document.querySelector('`+link+`');return a.getAttribute('aria-busy')+' '+a.innerText})()`); got != "true Give retry Working…" {
		t.Errorf("Give retry while its modal loads = %q, want aria-busy true and Working…", got)
	}
	b.Do(t, "click Give retry again", chromedp.Click(chromedp.CSS(link)))
	time.Sleep(300 * time.Millisecond)
	if n := opening.Count(); n != 1 {
		t.Errorf("a second click while the modal loads fetched it %d times, want once", n)
	}
	opening.Release(t)
	b.WaitTrue(t, "the modal", `document.getElementById('modal').open && document.querySelector('#modal button[type=submit]')`)
	if browsertest.Eval[bool](t, b, `document.querySelector('`+link+`').hasAttribute('aria-busy') || document.querySelector('`+link+`').innerText.includes('Working')`) {
		t.Error("Give retry still says it is working once the modal is open")
	}

	// Confirming: Enter twice on Delete results and retry sends one request, and the
	// button says it is working. While the give is held, DevTools answers nothing about
	// the page (its navigation is in flight), so the page's states are recorded as they
	// change and read once the answer has come.
	b.Record(t, `(function () {
	  var m = document.getElementById('modal'), f = m && m.querySelector('form'), s = document.getElementById('busy');
	  if (!f) { return 'no confirmation'; }
	  var btn = f.querySelector('button[type=submit]');
	  return 'modal ' + (m.open ? 'open' : 'closed') + ' | form aria-busy=' + f.getAttribute('aria-busy') +
	    ' | button disabled=' + btn.disabled + ' aria-busy=' + btn.getAttribute('aria-busy') + ' text=' + btn.innerText +
	    ' | status ' + (s && s.checkVisibility() ? s.getAttribute('role') + ': ' + s.innerText : 'none');
	}())`)
	b.Do(t, "reload the dashboard", chromedp.Navigate(app.URL+"/app/admin/headshots"), chromedp.WaitVisible(chromedp.ID("section-finished")))
	openGiveRetry(t, b, "finished", maya)
	giving := b.Hold(t, "*/app/admin/members/*/retries")
	b.Do(t, "Enter twice on Delete results and retry", chromedp.Focus(chromedp.CSS(`#modal button[type=submit]`)),
		chromedp.KeyEvent(kb.Enter), chromedp.KeyEvent(kb.Enter))
	giving.WaitHeld(t, 1)
	b.Do(t, "Enter again", chromedp.KeyEvent(kb.Enter))
	time.Sleep(300 * time.Millisecond)
	if n := giving.Count(); n != 1 {
		t.Errorf("Enter pressed three times sent %d gives, want 1", n)
	}
	// Closing the modal while the give runs keeps a status on the page.
	b.Do(t, "Escape while the give runs", chromedp.KeyEvent(kb.Escape))
	time.Sleep(300 * time.Millisecond)
	giving.Release(t)
	b.Do(t, "the answer", chromedp.WaitVisible(chromedp.ID("notice")))
	working := "form aria-busy=true | button disabled=true aria-busy=true text=Working…"
	want := []string{
		"modal open | " + working + " | status none",
		"modal closed | " + working + " | status status: Working… Delete results and retry for Maya Chen is still running. This page updates when it is done.",
	}
	log := b.Recorded(t)
	at := 0
	for _, l := range log {
		if at < len(want) && l == want[at] {
			at++
		}
	}
	if at < len(want) {
		t.Errorf("while the give ran, the page never showed %q; it showed, in order:\n%s", want[at], strings.Join(log, "\n"))
	}
	if n := len(memberDetail(t, app, org.AdminKey, maya).Retries); n != 1 {
		t.Errorf("retries given = %d, want 1", n)
	}
}
