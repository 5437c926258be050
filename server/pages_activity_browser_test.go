package server_test

import (
	"context"
	"encoding/csv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/headshotpro/retryd/internal/tooling/apptest"
	"github.com/headshotpro/retryd/internal/tooling/browsertest"
)

// activityEntry is the CSS selector of the Activity page's entries.
const activityEntry = `#activity li.activity-entry`

// TestActivityPageInBrowser: an admin signs in, gives a retry, and finds it on the
// Activity page, linked from every admin page's header: who gave it, when (with the time
// zone), with which credential, and the outcome; above it, the sign-in. The filters
// narrow the list, the page works at 320 px without scrolling sideways, and its
// Download CSV link downloads the same events.
func TestActivityPageInBrowser(t *testing.T) {
	app := apptest.Start(t, apptest.Options{})
	org := app.SeedOrg(t, 10, person("Maya Chen", finished(5, 8)), person("Jonas Weber", finished(5, 8)))
	if _, err := app.DB.ExecContext(context.Background(), "UPDATE organizations SET name = 'Acme Headshots' WHERE id = ?", org.ID); err != nil {
		t.Fatal(err)
	}
	other := app.SeedOrg(t, 10, person("Otto Other", finished(5, 8)))
	maya, mayaShoots := seeded(org, 0)
	otto, ottoShoots := seeded(other, 0)
	expectStatus(t, giveRetry(t, app, other.AdminKey, otto, ottoShoots[0]), 201)
	b := browsertest.New(t)

	// The Activity page asks for a sign-in and comes back.
	b.Do(t, "open Activity", chromedp.Navigate(app.URL+"/app/admin/activity"), chromedp.WaitVisible(chromedp.ID("api_key")))
	b.Do(t, "sign in",
		chromedp.SendKeys(chromedp.ID("api_key"), org.AdminKey),
		chromedp.Click(chromedp.CSS(`form[action="/app/login"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.ID("activity")))

	// Give Maya a retry from the confirmation page.
	b.Do(t, "Give retry", chromedp.Navigate(app.URL+"/app/admin/members/"+maya+"/retry?shoot_id="+mayaShoots[0]),
		chromedp.WaitVisible(chromedp.CSS(`form button[type=submit]`)),
		chromedp.Click(chromedp.CSS(`form[action$="/retries"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.ID("notice")))

	// The header's Activity link leads to the list: the give, newest first, then the sign-in.
	b.Do(t, "follow the header's Activity link", chromedp.Click(chromedp.CSS(`header nav a[href="/app/admin/activity"]`)),
		chromedp.WaitVisible(chromedp.ID("activity")))
	entries := browsertest.Eval[[]string](t, b, `[...document.querySelectorAll('`+activityEntry+`')].map(e => e.innerText)`)
	if len(entries) != 2 {
		t.Fatalf("Activity shows %d entries, want the give and the sign-in:\n%s", len(entries), strings.Join(entries, "\n---\n"))
	}
	give, signIn := entries[0], entries[1]
	for _, want := range []string{"Give retry", "Lee", "UTC", "Session", "API key rk_", "Retry given", "Maya Chen"} {
		if !strings.Contains(give, want) {
			t.Errorf("the give's entry lacks %q:\n%s", want, give)
		}
	}
	for _, want := range []string{"Sign in", "Lee", "UTC", "API key rk_", "Signed in"} {
		if !strings.Contains(signIn, want) {
			t.Errorf("the sign-in's entry lacks %q:\n%s", want, signIn)
		}
	}
	if text := b.Text(t); strings.Contains(text, "Otto Other") || strings.Contains(text, org.AdminKey) {
		t.Errorf("the Activity page shows another organization's event or a key:\n%s", text)
	}
	if !browsertest.Eval[bool](t, b, `[...document.querySelectorAll('`+activityEntry+` time')].every(e => /Z$/.test(e.getAttribute('datetime')))`) {
		t.Error("each entry's time must carry its machine-readable UTC time")
	}
	b.Screenshot(t, "activity")

	// Filter by action: the sign-in goes.
	b.Do(t, "filter by Give retry", chromedp.SetValue(chromedp.ID("action"), "retry.give"),
		chromedp.Click(chromedp.CSS(`#activity-filters button[type=submit]`)))
	b.WaitTrue(t, "the page filtered by Give retry", `location.search.includes('action=retry.give') && document.getElementById('activity')`)
	if n := browsertest.Eval[int](t, b, `document.querySelectorAll('`+activityEntry+`').length`); n != 1 {
		t.Errorf("filtered by Give retry: %d entries, want 1", n)
	}
	// A time range before today holds nothing, and says so.
	b.Do(t, "filter by an old range", chromedp.SetValue(chromedp.ID("action"), ""),
		chromedp.SetValue(chromedp.ID("from"), "2020-01-01"), chromedp.SetValue(chromedp.ID("to"), "2020-01-31"),
		chromedp.Click(chromedp.CSS(`#activity-filters button[type=submit]`)), chromedp.WaitVisible(chromedp.ID("no-activity")))

	// Only Maya's activity, from her entry.
	b.Do(t, "back to all activity", chromedp.Navigate(app.URL+"/app/admin/activity"), chromedp.WaitVisible(chromedp.ID("activity")),
		chromedp.Click(chromedp.CSS(activityEntry+` a.only-member`)), chromedp.WaitVisible(chromedp.ID("member-filter")))
	if got := browsertest.Eval[string](t, b, `document.getElementById('member-filter').innerText`); !strings.Contains(got, "Maya Chen") {
		t.Errorf("member filter = %q", got)
	}
	if n := browsertest.Eval[int](t, b, `document.querySelectorAll('`+activityEntry+`').length`); n != 1 {
		t.Errorf("Maya's activity: %d entries, want 1", n)
	}

	// Download CSV downloads this view's events, in the browser's session.
	href := browsertest.Eval[string](t, b, `document.getElementById('download-csv').href`)
	if !strings.Contains(href, "/app/admin/activity.csv?") || !strings.Contains(href, "member="+maya) {
		t.Errorf("Download CSV link = %q", href)
	}
	b.Do(t, "fetch the CSV", chromedp.Evaluate[chromedp.Void](`window.csvAnswer = null; fetch(document.getElementById('download-csv').href).then(r => r.text().then(body => { window.csvAnswer = {status: r.status, type: r.headers.get('content-type'), disposition: r.headers.get('content-disposition'), body}; }))`))
	b.WaitTrue(t, "the CSV download", `window.csvAnswer`)
	got := browsertest.Eval[struct {
		Status      int    `json:"status"`
		Type        string `json:"type"`
		Disposition string `json:"disposition"`
		Body        string `json:"body"`
	}](t, b, `window.csvAnswer`)
	if got.Status != 200 || !strings.HasPrefix(got.Type, "text/csv") || !strings.HasPrefix(got.Disposition, "attachment") {
		t.Fatalf("CSV download = %d %q %q: %s", got.Status, got.Type, got.Disposition, got.Body)
	}
	records, err := csv.NewReader(strings.NewReader(got.Body)).ReadAll()
	if err != nil || len(records) != 2 || records[1][2] != "retry.give" || records[1][5] != "Lee" || records[1][6] != "session" {
		t.Errorf("CSV = %q (%v), want the header and Maya's give by Lee in a session", records, err)
	}

	// At 320 px wide, nothing scrolls sideways.
	b.Do(t, "narrow the window", chromedp.EmulateViewport(320, 800), chromedp.Navigate(app.URL+"/app/admin/activity"), chromedp.WaitVisible(chromedp.ID("activity")))
	// Nor does anything stick out of the screen (a control wider than its panel).
	wide := browsertest.Eval[[]string](t, b, `[...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > 320).map(e => e.tagName + '.' + e.className + ' ' + e.textContent.trim().slice(0, 40))`)
	if w := browsertest.Eval[int](t, b, `document.documentElement.scrollWidth`); w > 320 || len(wide) > 0 {
		t.Errorf("at 320 px the page is %d px wide; wider than the screen:\n%s", w, strings.Join(wide, "\n"))
	}
}
