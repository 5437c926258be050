package server_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/headshotpro/retryd/internal/tooling/apptest"
	"github.com/headshotpro/retryd/internal/tooling/browsertest"
)

// iconCheck fetches, from the page, the icon the page names and /favicon.ico (which
// browsers ask for when a page names none): "status content-type" of each. Headless
// Chromium fetches no icon of its own, so the test asks as a desktop browser would.
const iconCheck = `(async () => {
	const link = document.querySelector('link[rel~="icon"]');
	const get = async (url) => { const r = await fetch(url); return r.status + ' ' + (r.headers.get('Content-Type') || ''); };
	return [link ? await get(link.href) : 'no <link rel=icon>', await get('/favicon.ico')];
})()`

// TestNoConsoleErrorsInBrowser: the dashboard and the member page load without a console
// error or a failed request, and the site has an icon: the page names one and
// /favicon.ico answers, so a browser's console shows no 404 for it.
func TestNoConsoleErrorsInBrowser(t *testing.T) {
	app := apptest.Start(t, apptest.Options{})
	org := app.SeedOrg(t, 5, person("Maya Chen", finished(5, 8)))
	maya, _ := seeded(org, 0)
	b := browsertest.New(t)
	signInBrowser(t, b, app, org.AdminKey)

	for _, path := range []string{"/app/admin/headshots", "/app/admin/members/" + maya} {
		b.ResetProblems()
		b.Do(t, "open "+path, chromedp.Navigate(app.URL+path), chromedp.WaitVisible(chromedp.ID("main")))
		icons := browsertest.Run(t, b, "fetch the icons", chromedp.Evaluate[[]string](iconCheck, chromedp.EvalAwaitPromise))
		for i, what := range []string{"the page's icon", "/favicon.ico"} {
			if got := icons[i]; !strings.HasPrefix(got, "200 image/") {
				t.Errorf("%s: %s answered %q, want 200 with an image", path, what, got)
			}
		}
		if p := b.Problems(); len(p) > 0 {
			t.Errorf("%s: the console shows errors:\n%s", path, strings.Join(p, "\n"))
		}
	}
}
