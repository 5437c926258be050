package server_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/headshotpro/retryd/internal/seed"
	"github.com/headshotpro/retryd/internal/tooling/apptest"
	"github.com/headshotpro/retryd/internal/tooling/browsertest"
)

// shownMembers are the member ids of a section's cards, in page order.
func shownMembers(t *testing.T, b *browsertest.Browser, section string) []string {
	t.Helper()
	return browsertest.Eval[[]string](t, b, `Array.from(document.querySelectorAll('#section-`+section+` li.card')).map(li => li.dataset.member)`)
}

// pagingLink is the href of a section's paging link with rel, or "".
func pagingLink(t *testing.T, b *browsertest.Browser, section, rel string) string {
	t.Helper()
	return browsertest.Eval[string](t, b, `(document.querySelector('#section-`+section+` .paging a[rel="`+rel+`"]') || {href: ''}).href`)
}

// TestSectionPagingBackInBrowser: a section's pages go back as well as forward: Next
// page, then Previous page, shows the first page again, the same members in the same
// order; the first page offers no Previous page, the last no Next page. Search is kept
// while paging.
func TestSectionPagingBackInBrowser(t *testing.T) {
	app := apptest.Start(t, apptest.Options{})
	members := make([]seed.Member, 0, 61)
	for i := range 60 {
		members = append(members, person(fmt.Sprintf("Finn Member %02d", i), finished(5, 1)))
	}
	members = append(members, person("Zed Other", finished(5, 1)))
	org := app.SeedOrg(t, 5, members...)
	b := browsertest.New(t)
	signInBrowser(t, b, app, org.AdminKey)

	// Three pages of the 60 members matching "finn" (25, 25, 10).
	b.Do(t, "open the section", chromedp.Navigate(app.URL+"/app/admin/headshots?section=finished&q=finn"), chromedp.WaitVisible(chromedp.ID("section-finished")))
	first := shownMembers(t, b, "finished")
	if len(first) != 25 || pagingLink(t, b, "finished", "prev") != "" {
		t.Fatalf("first page: %d cards, previous link %q; want 25 and none", len(first), pagingLink(t, b, "finished", "prev"))
	}
	var pages [][]string
	pages = append(pages, first)
	for range 2 {
		next := pagingLink(t, b, "finished", "next")
		if next == "" {
			t.Fatalf("page %d has no Next page link", len(pages))
		}
		b.Do(t, "Next page", chromedp.Navigate(next), chromedp.WaitVisible(chromedp.ID("section-finished")))
		pages = append(pages, shownMembers(t, b, "finished"))
	}
	if n := len(pages[2]); n != 10 || pagingLink(t, b, "finished", "next") != "" {
		t.Fatalf("last page: %d cards, next link %q; want 10 and none", n, pagingLink(t, b, "finished", "next"))
	}
	// Back from the last page to the first, one page at a time.
	for i := 1; i >= 0; i-- {
		prev := pagingLink(t, b, "finished", "prev")
		if prev == "" {
			t.Fatalf("page %d has no Previous page link", i+2)
		}
		if !strings.Contains(prev, "q=finn") {
			t.Errorf("the Previous page link %q drops the search", prev)
		}
		b.Do(t, "Previous page", chromedp.Navigate(prev), chromedp.WaitVisible(chromedp.ID("section-finished")))
		if got := shownMembers(t, b, "finished"); !slices.Equal(got, pages[i]) {
			t.Fatalf("Previous page shows %v, want page %d again: %v", got, i+1, pages[i])
		}
	}
	if prev := pagingLink(t, b, "finished", "prev"); prev != "" {
		t.Errorf("back on the first page, a Previous page link remains: %q", prev)
	}
	if pagingLink(t, b, "finished", "next") == "" {
		t.Error("back on the first page, there is no Next page link")
	}
}

// TestMemberWithoutShootsInBrowser: the member page of a member who has no shoot yet
// says so, instead of an empty table.
func TestMemberWithoutShootsInBrowser(t *testing.T) {
	app := apptest.Start(t, apptest.Options{})
	org := app.SeedOrg(t, 5, person("Nora New"))
	nora, _ := seeded(org, 0)
	b := browsertest.New(t)
	signInBrowser(t, b, app, org.AdminKey)
	b.Do(t, "open the member page", chromedp.Navigate(app.URL+"/app/admin/members/"+nora), chromedp.WaitVisible(chromedp.ID("shoots-title")))
	got := browsertest.Eval[string](t, b, `document.querySelector('section[aria-labelledby="shoots-title"]').innerText`)
	if !strings.Contains(got, "Nora New has no photo shoot yet.") {
		t.Errorf("the Shoots section of a member without shoots says:\n%s", got)
	}
	if browsertest.Eval[bool](t, b, `document.getElementById('shoots') !== null`) {
		t.Error("the member page shows an empty shoots table")
	}
}
