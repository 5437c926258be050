package server_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/headshotpro/retryd/internal/seed"
	"github.com/headshotpro/retryd/internal/tooling/apptest"
	"github.com/headshotpro/retryd/internal/tooling/browsertest"
)

// helpNoEmail is the confirmation's line for a member without an email address, in place
// of the help page's email line.
const helpNoEmail = "The member has no email address, so no email is sent: the link to retry their shoot is shown to you once, to pass on to them."

// TestGiveRetryWithoutEmailInBrowser: Give retry on a managed member without an email
// address says, in the modal and on the page without JavaScript, that no email is sent,
// and after the confirmation shows the link once; the member page offers no Resend email.
func TestGiveRetryWithoutEmailInBrowser(t *testing.T) {
	app := apptest.Start(t, apptest.Options{})
	org := app.SeedOrg(t, 5,
		seed.Member{Name: "Nina Nomail", Kind: "managed", Shoots: []seed.Shoot{finished(5, 8)}},
	)
	nina, shoots := seeded(org, 0)
	b := browsertest.New(t)
	b.Do(t, "sign in", chromedp.Navigate(app.URL+"/app/login"), chromedp.WaitVisible(chromedp.ID("api_key")),
		chromedp.SendKeys(chromedp.ID("api_key"), org.AdminKey),
		chromedp.Click(chromedp.CSS(`form[action="/app/login"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.ID("section-finished")))

	// The confirmation as a page (no JavaScript) says there is no address.
	b.Do(t, "open the confirmation page", chromedp.Navigate(app.URL+"/app/admin/members/"+nina+"/retry"), chromedp.WaitVisible(chromedp.ID("retry-confirm")))
	if page := b.Text(t); !strings.Contains(page, helpNoEmail) || strings.Contains(page, helpEffectEmail) || !strings.Contains(page, helpEffectReset) {
		t.Errorf("confirmation page:\n%s", page)
	}

	// The modal says so too, and confirming shows the link.
	b.Do(t, "open Give retry", chromedp.Navigate(app.URL+"/app/admin/headshots"), chromedp.WaitVisible(chromedp.ID("section-finished")),
		chromedp.Click(chromedp.CSS(card("finished", nina)+` summary`)),
		chromedp.Click(chromedp.CSS(card("finished", nina)+` a.give-retry`)))
	b.WaitTrue(t, "the modal", `document.getElementById('modal').open && document.querySelector('#modal button[type=submit]')`)
	modal := browsertest.Eval[string](t, b, `document.getElementById('modal').innerText`)
	for _, want := range []string{"Nina Nomail", helpEffectReset, helpNoEmail, helpConfirm} {
		if !strings.Contains(modal, want) {
			t.Errorf("modal lacks %q:\n%s", want, modal)
		}
	}
	if strings.Contains(modal, helpEffectEmail) {
		t.Errorf("the modal promises an email to a member without an address:\n%s", modal)
	}
	b.Do(t, "confirm", chromedp.Click(chromedp.CSS(`#modal button[type=submit]`)), chromedp.WaitVisible(chromedp.ID("access-link")))
	link := browsertest.Run(t, b, "access link", chromedp.Value(chromedp.ID("access-link")))
	if !strings.Contains(link, "/app/shoots/"+shoots[0]+"/start?token=") {
		t.Errorf("access link = %q", link)
	}
	if page := b.Text(t); !strings.Contains(page, "Retry given to Nina Nomail") || !strings.Contains(page, "It is shown only now.") {
		t.Errorf("page after the confirmation:\n%s", page)
	}
	token := link[strings.Index(link, "token=")+len("token="):]

	// The member page shows the retry with no email and offers no Resend email; the link
	// is not shown again.
	b.Do(t, "open the member page", chromedp.Navigate(app.URL+"/app/admin/members/"+nina), chromedp.WaitVisible(chromedp.ID("pending-retry")))
	if browsertest.Eval[bool](t, b, `document.querySelector('#pending-retry button[type=submit]') !== null`) {
		t.Error("the member page offers Resend email for a member without an address")
	}
	page := b.Text(t)
	if !strings.Contains(page, "Email: No email (no address).") || !strings.Contains(page, "no email to send again") {
		t.Errorf("member page:\n%s", page)
	}
	if html := browsertest.Eval[string](t, b, `document.documentElement.outerHTML`); strings.Contains(html, token) {
		t.Error("the member page shows the link again")
	}
}
