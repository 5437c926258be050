package server_test

import (
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/headshotpro/retryd/internal/seed"
	"github.com/headshotpro/retryd/internal/tooling/apptest"
	"github.com/headshotpro/retryd/internal/tooling/browsertest"
)

// TestMemberRetriesShowShootAndStartInBrowser: the member page's retries table says which
// shoot each retry was for (linking to it in the Shoots table) and when the member
// started it: "Not yet" while the retry is pending, then the time.
func TestMemberRetriesShowShootAndStartInBrowser(t *testing.T) {
	// A ten-year window keeps the fixed dates below inside it.
	app := apptest.Start(t, apptest.Options{RetryWindow: 3650 * 24 * time.Hour})
	older := time.Date(2026, 11, 10, 12, 0, 0, 0, time.UTC) // created an hour before (seed)
	newer := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	org := app.SeedOrg(t, 5, person("Maya Chen",
		seed.Shoot{Status: "active", CompletedAt: &older, Results: 8},
		seed.Shoot{Status: "active", CompletedAt: &newer, Results: 8}))
	maya, shoots := seeded(org, 0)
	expectStatus(t, giveRetry(t, app, org.AdminKey, maya, shoots[0]), 201)
	b := browsertest.New(t)
	signInBrowser(t, b, app, org.AdminKey)

	row := func() map[string]string {
		return browsertest.Eval[map[string]string](t, b, `(() => {
			const heads = Array.from(document.querySelectorAll('#retries thead th')).map(th => th.innerText.trim());
			const cells = Array.from(document.querySelectorAll('#retries tbody tr:first-child td'));
			const out = {};
			heads.forEach((h, i) => { out[h] = cells[i] ? cells[i].innerText.trim() : ''; });
			const link = cells[heads.indexOf('Shoot')] && cells[heads.indexOf('Shoot')].querySelector('a');
			out['link'] = link ? link.getAttribute('href') : '';
			out['heads'] = heads.join('|');
			return out; })()`)
	}
	b.Do(t, "open the member page", chromedp.Navigate(app.URL+"/app/admin/members/"+maya), chromedp.WaitVisible(chromedp.ID("retries")))
	r := row()
	for _, h := range []string{"Shoot", "Started"} {
		if !slices.Contains(strings.Split(r["heads"], "|"), h) {
			t.Fatalf("the retries table has no %q column: %s", h, r["heads"])
		}
	}
	if r["Shoot"] != "Created 10 Nov 2026, 11:00 UTC" || r["link"] != "#shoot-"+shoots[0] {
		t.Errorf("Shoot cell = %q linking to %q, want the older shoot (created 10 Nov 2026, 11:00 UTC, #shoot-%s)", r["Shoot"], r["link"], shoots[0])
	}
	if !browsertest.Eval[bool](t, b, `document.querySelector('#shoots tr[id="shoot-`+shoots[0]+`"]') !== null`) {
		t.Error("the Shoots table has no row the Shoot cell links to")
	}
	if r["Started"] != "Not yet" {
		t.Errorf("Started cell of a pending retry = %q, want Not yet", r["Started"])
	}

	memberStart(t, app, maya, shoots[0])
	b.Do(t, "reload", chromedp.Navigate(app.URL+"/app/admin/members/"+maya), chromedp.WaitVisible(chromedp.ID("retries")))
	r = row()
	if !regexp.MustCompile(`^\d{1,2} [A-Z][a-z]{2} \d{4}, \d\d:\d\d UTC$`).MatchString(r["Started"]) || r["Status"] != "Started" {
		t.Errorf("after the start: Started = %q, Status = %q; want the start's time and Started", r["Started"], r["Status"])
	}
}
