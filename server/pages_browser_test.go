package server_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/headshotpro/retryd/internal/seed"
	"github.com/headshotpro/retryd/internal/tooling/apptest"
	"github.com/headshotpro/retryd/internal/tooling/browsertest"
)

// The help page's words, which the pages must show exactly.
const (
	helpEffectReset   = "The member's shoot will be reset to onboarding."
	helpEffectEmail   = "The member receives an email notification with a link to retry their shoot."
	helpConfirm       = "Delete results and retry"
	helpPendingNotice = "Instruct the member to log in and start their photo shoot — no further admin action is needed."
	helpEmailSubject  = "HeadshotPro | Please retry your shoot"
)

// card is the CSS selector of a member's card in a dashboard section.
func card(section, memberID string) string {
	return `#section-` + section + ` li.card[data-member="` + memberID + `"]`
}

// mailsTo counts the mailbox's messages to addr with a subject.
func mailsTo(app *apptest.App, addr, subject string) int {
	n := 0
	for _, m := range app.Mailbox.Messages() {
		if m.Subject == subject && len(m.To) == 1 && m.To[0] == addr {
			n++
		}
	}
	return n
}

// TestAdminPagesInBrowser follows the "Issuing Retries" help page step by step in
// headless Chromium, against the real server, worker, Postgres and Temporal dev server,
// and takes the README's screenshots on the way.
func TestAdminPagesInBrowser(t *testing.T) {
	app := apptest.Start(t, apptest.Options{})
	no := apptest.Ptr(false)
	org := app.SeedOrg(t, 25,
		person("Maya Chen", finished(5, 8)),
		seed.Member{Name: "Grace Okafor", Email: apptest.Ptr("grace.okafor@acme.test"), Kind: "individual", FreeRetryAvailable: no, Shoots: []seed.Shoot{finished(10, 8)}},
		seed.Member{Name: "Jonas Weber", Email: apptest.Ptr("jonas.weber@acme.test"), Kind: "individual", RetryCredits: 2, FreeRetryAvailable: no, Shoots: []seed.Shoot{finished(12, 8)}},
		person("Sofia Rossi", seed.Shoot{Status: "onboarding"}),
		seed.Member{Name: "Sam Taylor", Kind: "managed", Shoots: []seed.Shoot{deletedShoot()}},
		seed.Member{Name: "Hannah Schmidt", Email: apptest.Ptr("hannah.schmidt@acme.test"), Kind: "managed", Shoots: []seed.Shoot{deletedShoot()}},
	)
	// The README's screenshots show a named organization rather than a test id.
	if _, err := app.DB.ExecContext(context.Background(), "UPDATE organizations SET name = 'Acme Headshots' WHERE id = ?", org.ID); err != nil {
		t.Fatal(err)
	}
	maya, _ := seeded(org, 0)
	grace, _ := seeded(org, 1)
	jonas, _ := seeded(org, 2)
	sam, _ := seeded(org, 4)
	hannah, _ := seeded(org, 5)
	b := browsertest.New(t)

	// Step 0: the dashboard asks for a sign-in, then comes back.
	b.Do(t, "open the dashboard", chromedp.Navigate(app.URL+"/app/admin/headshots"), chromedp.WaitVisible(chromedp.ID("api_key")))
	if loc := b.Location(t); !strings.Contains(loc, "/app/login?next=") {
		t.Fatalf("signed-out dashboard went to %s, want the sign-in page", loc)
	}
	b.Do(t, "sign in",
		chromedp.SendKeys(chromedp.ID("api_key"), org.AdminKey),
		chromedp.Click(chromedp.CSS(`form[action="/app/login"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.ID("section-finished")))
	if loc := b.Location(t); !strings.HasSuffix(loc, "/app/admin/headshots") {
		t.Fatalf("after sign-in at %s, want the dashboard", loc)
	}
	text := b.Text(t)
	for _, want := range []string{"Acme Headshots", "Credit balance", "25", "Finished photo shoots", "In Progress", "Deleted photo shoots"} {
		if !strings.Contains(text, want) {
			t.Errorf("dashboard lacks %q:\n%s", want, text)
		}
	}
	if got := browsertest.Eval[string](t, b, `document.querySelector('[data-testid="count-finished"]').textContent`); got != "3" {
		t.Errorf("Finished photo shoots count = %s, want 3", got)
	}
	b.Screenshot(t, "dashboard")

	// A member without allowance has no Give retry in the Actions menu.
	if !browsertest.Eval[bool](t, b, `document.querySelector('`+card("finished", grace)+`') !== null && document.querySelector('`+card("finished", grace)+` a.give-retry') === null`) {
		t.Error("Grace (no retries remaining) must be in Finished photo shoots without Give retry")
	}

	// Steps 1–3, keyboard only: Actions → Give retry opens the modal with the help page's
	// words; focus moves into it; Escape closes it and focus returns to Actions.
	summary := card("finished", maya) + ` summary`
	b.Do(t, "open Actions with the keyboard", chromedp.Focus(chromedp.CSS(summary)), chromedp.KeyEvent(kb.Enter))
	b.WaitTrue(t, "the Actions menu to open", `document.querySelector('`+card("finished", maya)+` details').open`)
	b.Do(t, "Give retry with the keyboard", chromedp.KeyEvent(kb.Tab), chromedp.KeyEvent(kb.Enter))
	b.WaitTrue(t, "the modal", `document.getElementById('modal').open && document.querySelector('#modal #retry-title')`)
	modal := browsertest.Eval[string](t, b, `document.getElementById('modal').innerText`)
	for _, want := range []string{"Give retry", "Maya Chen", helpEffectReset, helpEffectEmail, helpConfirm} {
		if !strings.Contains(modal, want) {
			t.Errorf("modal lacks %q:\n%s", want, modal)
		}
	}
	if !browsertest.Eval[bool](t, b, `document.getElementById('modal').contains(document.activeElement)`) {
		t.Error("focus did not move into the modal")
	}
	b.Screenshot(t, "modal")
	b.Do(t, "Escape", chromedp.KeyEvent(kb.Escape))
	b.WaitTrue(t, "the modal to close", `!document.getElementById('modal').open`)
	// The dialog's close event, which hands focus back, is a task queued after open turns
	// false: wait for it rather than read focus in between.
	b.WaitTrue(t, "focus to return to the Actions button after Escape", `document.activeElement === document.querySelector('`+summary+`')`)

	// Step 4: Delete results and retry. The dashboard refreshes with Maya In Progress.
	b.Do(t, "open Give retry again",
		chromedp.Click(chromedp.CSS(summary)),
		chromedp.Click(chromedp.CSS(card("finished", maya)+` a.give-retry`)))
	b.WaitTrue(t, "the modal", `document.getElementById('modal').open && document.querySelector('#modal button[type=submit]')`)
	b.Do(t, "choose a reason and confirm",
		chromedp.SetValue(chromedp.CSS(`#modal #reason`), "bad_lighting"),
		chromedp.Click(chromedp.CSS(`#modal button[type=submit]`)),
		chromedp.WaitVisible(chromedp.ID("notice")))
	b.WaitTrue(t, "Maya In Progress", `document.querySelector('`+card("in_progress", maya)+`')`)
	if got := browsertest.Eval[string](t, b, `document.querySelector('`+card("in_progress", maya)+`').innerText`); !strings.Contains(got, "Retry pending") || !strings.Contains(got, "Onboarding") {
		t.Errorf("Maya's In Progress card = %q, want Onboarding with the Retry pending badge", got)
	}
	if n := countRows(t, app, "retries", "member_id = ?", maya); n != 1 {
		t.Fatalf("retries for Maya = %d, want 1", n)
	}

	// The member receives the email; it shows in the local mailbox.
	apptest.WaitFor(t, 30*time.Second, "the retry email", func() bool { return mailsTo(app, "maya.chen@acme.test", helpEmailSubject) == 1 })
	b.Do(t, "open the mailbox", chromedp.Navigate(app.URL+"/dev/mailbox"))
	if !strings.Contains(b.Text(t), helpEmailSubject) {
		t.Error("the mailbox page does not show the retry email")
	}

	// Step 5: a pending retry is not given again. Its In Progress card offers no Give
	// retry, as the API's card offers none; its Retry pending badge leads to the member
	// page, which shows the help page's notice.
	b.Do(t, "back to the dashboard", chromedp.Navigate(app.URL+"/app/admin/headshots"), chromedp.WaitVisible(chromedp.ID("section-in_progress")))
	if browsertest.Eval[bool](t, b, `document.querySelector('`+card("in_progress", maya)+` a.give-retry') !== null`) {
		t.Error("Maya's In Progress card offers Give retry while her retry is pending")
	}
	b.Do(t, "open Retry pending", chromedp.Click(chromedp.CSS(card("in_progress", maya)+` a.badge`)), chromedp.WaitVisible(chromedp.ID("pending-notice-text")))
	if got := browsertest.Eval[string](t, b, `document.getElementById('pending-notice-text').innerText`); !strings.Contains(got, helpPendingNotice) {
		t.Errorf("pending notice = %q, want the help page's words", got)
	}

	// The member detail page shows the retry: when, by whom, allowance, reason, stage, email.
	b.Do(t, "open the member page", chromedp.Navigate(app.URL+"/app/admin/members/"+maya), chromedp.WaitVisible(chromedp.ID("retries")))
	b.WaitTrue(t, "the email to be recorded as sent", `document.querySelector('#retries tbody').innerText.includes('Sent')`)
	row := browsertest.Eval[string](t, b, `document.querySelector('#retries tbody tr').innerText`)
	for _, want := range []string{"Lee", "Free retry", "Bad lighting", "Pending", "Sent"} {
		if !strings.Contains(row, want) {
			t.Errorf("retry history row lacks %q: %q", want, row)
		}
	}
	if got := browsertest.Eval[string](t, b, `document.querySelector('[data-testid="retries-remaining"]').textContent`); got != "0" {
		t.Errorf("retries remaining = %s, want 0", got)
	}
	b.Screenshot(t, "member")

	// Resend email on the pending retry sends it again.
	b.Do(t, "Resend email", chromedp.Click(chromedp.CSS(`#pending-retry button[type=submit]`)), chromedp.WaitVisible(chromedp.ID("member-notice")))
	if got := browsertest.Eval[string](t, b, `document.getElementById('member-notice').innerText`); got != "The retry email was sent again." {
		t.Errorf("notice after Resend email = %q", got)
	}
	apptest.WaitFor(t, 30*time.Second, "the resent email", func() bool { return mailsTo(app, "maya.chen@acme.test", helpEmailSubject) == 2 })

	// Restart shoot on a managed member without email: the fresh access link is shown.
	b.Do(t, "Restart shoot for Sam", chromedp.Navigate(app.URL+"/app/admin/headshots"),
		chromedp.Click(chromedp.CSS(card("deleted", sam)+` form button[type=submit]`)),
		chromedp.WaitVisible(chromedp.ID("access-link")))
	if link := browsertest.Run(t, b, "access link", chromedp.Value(chromedp.ID("access-link"))); !strings.Contains(link, "/app/shoots/") || !strings.Contains(link, "token=") {
		t.Errorf("access link = %q", link)
	}
	// With an email address, the link is emailed and the dashboard says so.
	b.Do(t, "Restart shoot for Hannah", chromedp.Navigate(app.URL+"/app/admin/headshots"),
		chromedp.Click(chromedp.CSS(card("deleted", hannah)+` form button[type=submit]`)),
		chromedp.WaitVisible(chromedp.ID("notice")))
	if got := browsertest.Eval[string](t, b, `document.getElementById('notice').innerText`); !strings.Contains(got, "Shoot restarted for Hannah Schmidt") {
		t.Errorf("notice = %q", got)
	}
	for _, id := range []string{sam, hannah} {
		if !browsertest.Eval[bool](t, b, `document.querySelector('`+card("in_progress", id)+`') !== null`) {
			t.Errorf("restarted member %s is not In Progress", id)
		}
	}

	// A form with a forged CSRF token changes nothing.
	b.Do(t, "open Give retry for Jonas",
		chromedp.Click(chromedp.CSS(card("finished", jonas)+` summary`)),
		chromedp.Click(chromedp.CSS(card("finished", jonas)+` a.give-retry`)))
	b.WaitTrue(t, "the modal", `document.getElementById('modal').open && document.querySelector('#modal button[type=submit]')`)
	b.Do(t, "forge the CSRF token and confirm",
		chromedp.SetValue(chromedp.CSS(`#modal input[name=csrf]`), "forged"),
		chromedp.Click(chromedp.CSS(`#modal button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-problem-code="csrf_token_invalid"]`)))
	if !strings.Contains(b.Text(t), "This form has expired") {
		t.Error("the CSRF refusal does not explain itself")
	}
	if n := countRows(t, app, "retries", "member_id = ?", jonas); n != 0 {
		t.Fatalf("a forged form gave %d retries", n)
	}

	// A double click on the confirmation button gives one retry.
	b.Do(t, "open Give retry for Jonas again", chromedp.Navigate(app.URL+"/app/admin/headshots"),
		chromedp.Click(chromedp.CSS(card("finished", jonas)+` summary`)),
		chromedp.Click(chromedp.CSS(card("finished", jonas)+` a.give-retry`)))
	b.WaitTrue(t, "the modal", `document.getElementById('modal').open && document.querySelector('#modal button[type=submit]')`)
	b.Do(t, "double-click Delete results and retry",
		chromedp.DoubleClick(chromedp.CSS(`#modal button[type=submit]`)),
		chromedp.WaitVisible(chromedp.ID("notice")))
	b.WaitTrue(t, "Jonas In Progress", `document.querySelector('`+card("in_progress", jonas)+`')`)
	if n := countRows(t, app, "retries", "member_id = ?", jonas); n != 1 {
		t.Fatalf("a double click gave %d retries, want 1", n)
	}

	// Sign out: the session ends on the server, and the dashboard asks for a sign-in again.
	b.Do(t, "sign out", chromedp.Navigate(app.URL+"/app/admin/headshots"),
		chromedp.Click(chromedp.CSS(`form[action="/app/logout"] button`)),
		chromedp.WaitVisible(chromedp.ID("api_key")))
	if !strings.Contains(b.Text(t), "You are signed out.") {
		t.Error("no signed-out message")
	}
	b.Do(t, "dashboard after sign-out", chromedp.Navigate(app.URL+"/app/admin/headshots"), chromedp.WaitVisible(chromedp.ID("api_key")))
	if n := countRows(t, app, "admin_sessions", "true"); n != 0 {
		t.Errorf("%d sessions left after sign-out", n)
	}
}
