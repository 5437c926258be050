package server_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/headshotpro/retryd/internal/devmailbox"
	"github.com/headshotpro/retryd/internal/seed"
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

// inView says whether the member's card (#member-<id>) is in the viewport and marked as
// the one just changed.
func inView(t *testing.T, b *browsertest.Browser, memberID string) string {
	t.Helper()
	return browsertest.Eval[string](t, b, `(function () {
	  var e = document.getElementById('member-`+memberID+`');
	  if (!e) { return 'no #member-`+memberID+` on the page'; }
	  var r = e.getBoundingClientRect();
	  return (r.top >= 0 && r.bottom <= window.innerHeight ? 'in view' : 'out of view at ' + r.top) + ', aria-current=' + e.getAttribute('aria-current');
	}())`)
}

// TestActionsKeepTheDashboardPlaceInBrowser: after Restart shoot and Delete results and
// retry, on a card that is not the first, the dashboard comes back with the admin's
// search and section, and the member's card in view and marked; also from the page that
// shows a member's link once.
func TestActionsKeepTheDashboardPlaceInBrowser(t *testing.T) {
	app := apptest.Start(t, apptest.Options{})
	var members []seed.Member
	for i := range 20 {
		n := fmt.Sprintf("%02d", i+1)
		members = append(members, person("Fin Member "+n, finished(5, 8)))
		del := seed.Member{Name: "Del Member " + n, Kind: "managed", Shoots: []seed.Shoot{deletedShoot()}}
		if i != 15 { // Del Member 16 has no email address
			del.Email = apptest.Ptr("del.member." + n + "@acme.test")
		}
		members = append(members, del)
	}
	members = append(members, person("Zed Other", finished(5, 8)))
	org := app.SeedOrg(t, 5, members...)
	fin15, _ := seeded(org, 28)
	del15, _ := seeded(org, 29)
	del16, _ := seeded(org, 31)
	b := signedInBrowser(t, app, org)

	// Search, then open Deleted photo shoots on its own.
	b.Do(t, "search", chromedp.SetValue(chromedp.ID("q"), "member"), chromedp.Click(chromedp.CSS(`form[role=search] button[type=submit]`)))
	// The page before the search has a Deleted section too: wait for the search's page,
	// or the next click may land on a node the navigation is about to remove.
	b.WaitTrue(t, "the search's page", `location.search.includes('q=member') && document.readyState === 'complete' && document.getElementById('section-deleted')`)
	b.Do(t, "open Deleted photo shoots", chromedp.Click(chromedp.CSS(`#section-deleted a[href*="section=deleted"]`)),
		chromedp.WaitVisible(chromedp.CSS(card("deleted", del15))))
	place := func(what, section string) {
		t.Helper()
		u := mustURL(t, b.Location(t))
		if q, s := u.Query().Get("q"), u.Query().Get("section"); q != "member" || s != section {
			t.Errorf("%s: the dashboard came back at %s: q=%q section=%q, want q=member section=%s", what, u, q, s, section)
		}
	}
	place("before acting", "deleted")

	b.Do(t, "Restart shoot for Del Member 15", chromedp.Click(chromedp.CSS(card("deleted", del15)+` form button[type=submit]`)),
		chromedp.WaitVisible(chromedp.ID("notice")))
	place("after Restart shoot", "deleted")
	if got := inView(t, b, del15); got != "in view, aria-current=true" {
		t.Errorf("after Restart shoot, Del Member 15's card: %s", got)
	}

	// A member without email: the link is shown once, and Back to Headshots comes back
	// to the same place.
	b.Do(t, "Restart shoot for Del Member 16", chromedp.Click(chromedp.CSS(card("deleted", del16)+` form button[type=submit]`)),
		chromedp.WaitVisible(chromedp.ID("access-link")))
	b.Do(t, "Back to Headshots", chromedp.Click(chromedp.CSS(`a.back`)), chromedp.WaitVisible(chromedp.ID("section-deleted")))
	place("back from the access link", "deleted")
	if got := inView(t, b, del16); got != "in view, aria-current=true" {
		t.Errorf("back from the access link, Del Member 16's card: %s", got)
	}

	// Delete results and retry, from Finished photo shoots on its own.
	b.Do(t, "open Finished photo shoots", chromedp.Navigate(app.URL+"/app/admin/headshots?section=finished&q=member"),
		chromedp.WaitVisible(chromedp.CSS(card("finished", fin15))))
	openGiveRetry(t, b, "finished", fin15)
	b.Do(t, "Delete results and retry", chromedp.Click(chromedp.CSS(`#modal button[type=submit]`)), chromedp.WaitVisible(chromedp.ID("notice")))
	place("after Delete results and retry", "finished")
	if got := inView(t, b, fin15); got != "in view, aria-current=true" {
		t.Errorf("after Delete results and retry, Fin Member 15's card: %s", got)
	}
	if got := browsertest.Eval[string](t, b, `document.getElementById('member-`+fin15+`').innerText`); !strings.Contains(got, "Fin Member 15") || !strings.Contains(got, "Retry pending") {
		t.Errorf("the changed card = %q, want Fin Member 15 with Retry pending", got)
	}
}

// TestResendRejectedInWordsInBrowser: a Resend email that the mail provider refuses for
// good (email_rejected) is said in words on the page, not as "Something went wrong".
func TestResendRejectedInWordsInBrowser(t *testing.T) {
	app := apptest.Start(t, apptest.Options{})
	org := app.SeedOrg(t, 5, person("Maya Chen", finished(5, 8)))
	maya, shoots := seeded(org, 0)
	expectStatus(t, giveRetry(t, app, org.AdminKey, maya, shoots[0]), 201)
	apptest.WaitFor(t, 30*time.Second, "the retry email", func() bool { return mailsTo(app, "maya.chen@acme.test", helpEmailSubject) == 1 })
	if err := app.Mailbox.SetFault(devmailbox.Fault{Status: 422, Count: 1}); err != nil {
		t.Fatal(err)
	}
	b := signedInBrowser(t, app, org)
	b.Do(t, "open the member page", chromedp.Navigate(app.URL+"/app/admin/members/"+maya), chromedp.WaitVisible(chromedp.ID("pending-retry")))
	b.Do(t, "Resend email", chromedp.Click(chromedp.CSS(`#pending-retry button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-problem-code]`)))
	if code := browsertest.Eval[string](t, b, `document.querySelector('[data-problem-code]').dataset.problemCode`); code != "email_rejected" {
		t.Fatalf("the page answers %s, want email_rejected", code)
	}
	page := b.Text(t)
	for _, want := range []string{"The email was not sent again", "The email provider refused this email for good"} {
		if !strings.Contains(page, want) {
			t.Errorf("the refusal lacks %q:\n%s", want, page)
		}
	}
	if strings.Contains(page, "Something went wrong") || strings.Contains(page, "email_rejected") {
		t.Errorf("the refusal is the generic sentence or its code:\n%s", page)
	}
}

// TestBulkRestartInBrowser: in Deleted photo shoots the admin selects several managed
// members and restarts them in one go through the bulk API; the page after says, per
// member, what happened: restarted with the link emailed, restarted with the link shown
// once (no email address), or not restarted, in words (here another caller restarted
// that member after the page was shown).
func TestBulkRestartInBrowser(t *testing.T) {
	app := apptest.Start(t, apptest.Options{})
	org := app.SeedOrg(t, 5,
		seed.Member{Name: "Bea Bulk", Email: apptest.Ptr("bea.bulk@acme.test"), Kind: "managed", Shoots: []seed.Shoot{deletedShoot()}},
		seed.Member{Name: "Nico Nomail", Kind: "managed", Shoots: []seed.Shoot{deletedShoot()}},
		seed.Member{Name: "Otto Taken", Email: apptest.Ptr("otto.taken@acme.test"), Kind: "managed", Shoots: []seed.Shoot{deletedShoot()}},
		seed.Member{Name: "Ivy Individual", Email: apptest.Ptr("ivy@acme.test"), Kind: "individual", Shoots: []seed.Shoot{deletedShoot()}},
	)
	bea, _ := seeded(org, 0)
	nico, _ := seeded(org, 1)
	otto, _ := seeded(org, 2)
	ivy, _ := seeded(org, 3)
	b := signedInBrowser(t, app, org)
	b.Do(t, "the dashboard", chromedp.WaitVisible(chromedp.ID("section-deleted")))
	selectBox := func(id string) string { return card("deleted", id) + ` input[type=checkbox][name=member_id]` }
	for _, id := range []string{bea, nico, otto} {
		if !browsertest.Eval[bool](t, b, `document.querySelector('`+selectBox(id)+`') !== null`) {
			t.Fatalf("Deleted photo shoots has no checkbox to select managed member %s", id)
		}
	}
	if browsertest.Eval[bool](t, b, `document.querySelector('`+selectBox(ivy)+`') !== null`) {
		t.Error("an individual member, who cannot be restarted, can be selected")
	}
	if got := browsertest.Eval[string](t, b, `(function(){var c=document.querySelector('`+selectBox(bea)+`');return c.labels.length ? c.labels[0].innerText.trim()+' / '+c.getAttribute('aria-label') : 'no label'})()`); !strings.Contains(got, "Select") {
		t.Errorf("the checkbox's label = %q", got)
	}
	// With the checkboxes and the bulk form, the dashboard still fits a 320 px screen.
	b.Do(t, "narrow", chromedp.EmulateViewport(320, 800))
	if wide := browsertest.Eval[string](t, b, `(function () {
	  var out = Array.from(document.querySelectorAll('#section-deleted *')).filter(function (e) {
	    return e.getBoundingClientRect().right > window.innerWidth;
	  }).map(function (e) { return e.tagName + '.' + e.className; });
	  if (document.documentElement.scrollWidth > window.innerWidth) { out.push('the page: ' + document.documentElement.scrollWidth + ' px'); }
	  return out.join(', ');
	}())`); wide != "" {
		t.Errorf("at 320 px these stick out: %s", wide)
	}
	b.Do(t, "wide", chromedp.ResetViewport())

	for _, id := range []string{bea, nico, otto} {
		b.Do(t, "select "+id, chromedp.Click(chromedp.CSS(selectBox(id))))
	}
	// Another caller restarts Otto after the page was shown: no longer restartable.
	expectStatus(t, app.Do(t, "POST", "/api/v1/admin/members/"+otto+"/restarts", org.AutomationKey, nil), 201)

	b.Do(t, "Restart selected shoots", chromedp.Click(chromedp.CSS(`#bulk-restart button[type=submit]`)),
		chromedp.WaitVisible(chromedp.ID("bulk-results")))
	outcome := func(id string) string {
		return browsertest.Eval[string](t, b, `(function(){var r=document.querySelector('#bulk-results [data-member="`+id+`"]');return r ? r.dataset.outcome+': '+r.innerText : 'no outcome'})()`)
	}
	if got := outcome(bea); !strings.HasPrefix(got, "restarted: ") || !strings.Contains(got, "Bea Bulk") || !strings.Contains(got, "on its way by email") {
		t.Errorf("Bea's outcome = %q", got)
	}
	if got := outcome(nico); !strings.HasPrefix(got, "restarted: ") || !strings.Contains(got, "Nico Nomail") || !strings.Contains(got, "shown only now") {
		t.Errorf("Nico's outcome = %q", got)
	}
	link := browsertest.Eval[string](t, b, `(function(){var i=document.querySelector('#bulk-results [data-member="`+nico+`"] input[readonly]');return i ? i.value : ''})()`)
	if !strings.Contains(link, "/app/shoots/") || !strings.Contains(link, "token=") {
		t.Errorf("Nico's access link = %q", link)
	}
	if n := browsertest.Eval[int](t, b, `document.querySelectorAll('#bulk-results input[readonly]').length`); n != 1 {
		t.Errorf("the page shows %d access links, want Nico's only", n)
	}
	if got := outcome(otto); !strings.HasPrefix(got, "skipped: ") || !strings.Contains(got, "Otto Taken") ||
		!strings.Contains(got, "already has an active or in-progress shoot") || strings.Contains(got, "active_shoot_exists") {
		t.Errorf("Otto's outcome = %q, want the refusal in words", got)
	}
	for id, want := range map[string]int{bea: 1, nico: 1, otto: 1} {
		if n := len(memberDetail(t, app, org.AdminKey, id).Restarts); n != want {
			t.Errorf("member %s has %d restarts, want %d", id, n, want)
		}
	}
	if n := countRows(t, app, "audit_events", "action = 'shoot.restart' AND actor_kind = 'admin' AND actor_id = ?", org.AdminID); n != 2 {
		t.Errorf("restarts audited as the signed-in admin = %d, want 2", n)
	}
	b.Do(t, "Back to Headshots", chromedp.Click(chromedp.CSS(`#bulk-results a.back`)), chromedp.WaitVisible(chromedp.ID("section-in_progress")))
	for _, id := range []string{bea, nico, otto} {
		if !browsertest.Eval[bool](t, b, `document.querySelector('`+card("in_progress", id)+`') !== null`) {
			t.Errorf("member %s is not In Progress", id)
		}
	}
}
