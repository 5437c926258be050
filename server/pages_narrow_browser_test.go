package server_test

import (
	"fmt"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/headshotpro/retryd/internal/seed"
	"github.com/headshotpro/retryd/internal/tooling/apptest"
	"github.com/headshotpro/retryd/internal/tooling/browsertest"
)

// signInBrowser signs the browser in with key and waits for the dashboard.
func signInBrowser(t *testing.T, b *browsertest.Browser, app *apptest.App, key string) {
	t.Helper()
	b.Do(t, "sign in", chromedp.Navigate(app.URL+"/app/login"), chromedp.WaitVisible(chromedp.ID("api_key")),
		chromedp.SendKeys(chromedp.ID("api_key"), key),
		chromedp.Click(chromedp.CSS(`form[action="/app/login"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.ID("section-finished")))
}

// noHorizontalScroll is a page that fits its viewport's width.
const noHorizontalScroll = `document.documentElement.scrollWidth <= window.innerWidth`

// TestNarrowScreenInBrowser: on a phone (375 and 320 CSS pixels wide) the dashboard, a
// section page and the member page need no horizontal scrolling, and a card's Actions
// menu opens inside the screen.
func TestNarrowScreenInBrowser(t *testing.T) {
	app := apptest.Start(t, apptest.Options{})
	org := app.SeedOrg(t, 5,
		person("Maya Chen", finished(5, 8)),
		seed.Member{Name: "Alexandria Konstantinopoulou-Vandersteen", Email: apptest.Ptr("alexandria.konstantinopoulou-vandersteen@example-company.test"),
			Kind: "individual", Shoots: []seed.Shoot{finished(3, 8)}},
		seed.Member{Name: "Sam Taylor", Kind: "managed", Shoots: []seed.Shoot{deletedShoot()}},
	)
	maya, _ := seeded(org, 0)
	sam, _ := seeded(org, 2)
	b := browsertest.New(t)
	signInBrowser(t, b, app, org.AdminKey)

	for _, width := range []int64{375, 320} {
		t.Run(fmt.Sprint(width), func(t *testing.T) {
			b.Do(t, "narrow the window", chromedp.EmulateViewport(width, 740))
			for _, path := range []string{"/app/admin/headshots", "/app/admin/headshots?section=finished&q=a", "/app/admin/members/" + maya} {
				b.Do(t, "open "+path, chromedp.Navigate(app.URL+path), chromedp.WaitVisible(chromedp.ID("main")))
				if w := browsertest.Eval[string](t, b, `document.documentElement.scrollWidth + ' > ' + window.innerWidth`); !browsertest.Eval[bool](t, b, noHorizontalScroll) {
					t.Errorf("%s at %d px scrolls sideways: scrollWidth %s", path, width, w)
				}
			}

			// Maya's Actions button is the card's only one; Sam's follows Restart shoot.
			for _, c := range []string{card("finished", maya), card("deleted", sam)} {
				b.Do(t, "open the dashboard", chromedp.Navigate(app.URL+"/app/admin/headshots"), chromedp.WaitVisible(chromedp.ID("section-finished")),
					chromedp.Click(chromedp.CSS(c+` summary`)))
				b.WaitTrue(t, "the Actions menu", `document.querySelector('`+c+` details').open`)
				box := browsertest.Eval[map[string]float64](t, b, `(() => { const r = document.querySelector('`+c+` .menu').getBoundingClientRect();
					return {left: r.left, right: r.right, width: window.innerWidth}; })()`)
				if box["left"] < 0 || box["right"] > box["width"] {
					t.Errorf("at %d px the Actions menu of %s spans %.0f..%.0f, outside the screen 0..%.0f", width, c, box["left"], box["right"], box["width"])
				}
				if !browsertest.Eval[bool](t, b, noHorizontalScroll) {
					t.Errorf("at %d px the open Actions menu of %s makes the page scroll sideways", width, c)
				}
			}
			// The search form's field and button are on screen and usable.
			sbox := browsertest.Eval[map[string]float64](t, b, `(() => { const f = document.querySelector('form.search'); const r = f.getBoundingClientRect();
				const btn = f.querySelector('button').getBoundingClientRect(); const q = document.getElementById('q').getBoundingClientRect();
				return {left: r.left, right: r.right, button: btn.right, field: q.width, width: window.innerWidth}; })()`)
			if sbox["left"] < 0 || sbox["right"] > sbox["width"] || sbox["button"] > sbox["width"] || sbox["field"] < 120 {
				t.Errorf("at %d px the search form does not fit: %v", width, sbox)
			}
		})
	}
}
