package server_test

import (
	"context"
	"fmt"
	"html"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/headshotpro/retryd/internal/tooling/apptest"
)

// TestActivityPageRefusalsInWords: without JavaScript, the Activity page and its CSV
// download explain every refusal the audit API can answer them in words, keep the
// filters on the page to fix them, and never show the code; another organization's
// events never appear.
func TestActivityPageRefusalsInWords(t *testing.T) {
	app := apptest.Start(t, apptest.Options{})
	org := app.SeedOrg(t, 5, person("Maya Chen", finished(5, 8)))
	other := app.SeedOrg(t, 5, person("Otto Other", finished(5, 8)))
	otto, ottoShoots := seeded(other, 0)
	expectStatus(t, giveRetry(t, app, other.AdminKey, otto, ottoShoots[0]), 201)
	pc := newPageClient(t, app)
	if a := pc.signIn(org.AdminKey); a.Status != 303 {
		t.Fatalf("sign-in = %d", a.Status)
	}
	dash := pc.do("GET", "/app/admin/headshots", nil)
	expectPage(t, dash, 200)
	if !strings.Contains(dash.Body, `href="/app/admin/activity"`) {
		t.Error("the header has no Activity link")
	}

	page := pc.do("GET", "/app/admin/activity", nil)
	expectPage(t, page, 200, "Activity", "Sign in", "Lee", "Signed in", "Download CSV")
	if strings.Contains(page.Body, "Otto") || strings.Contains(page.Body, otto) {
		t.Error("the Activity page shows another organization's event")
	}
	// Another organization's member as the filter: nothing, not their events.
	expectPage(t, pc.do("GET", "/app/admin/activity?member="+otto, nil), 200, "No activity matches")

	for _, c := range []struct {
		path, code, words string
		status            int
	}{
		{"/app/admin/activity?action=retry.delete", "unknown_audit_action", "There is no such action", 422},
		{"/app/admin/activity?from=2026-12-08&to=2026-12-01", "invalid_time_range", "From must be on or before To", 422},
		{"/app/admin/activity?from=yesterday", "invalid_time_range", "Enter dates as year, month and day", 422},
		{"/app/admin/activity?from=0000-01-01", "invalid_time_range", "Enter dates as year, month and day", 422},
		{"/app/admin/activity?member=not-a-member", "invalid_filter", "This member link is not valid", 422},
		{"/app/admin/activity?cursor=bm90LWpzb24", "invalid_parameter", "This page link is not valid", 400},
		{"/app/admin/activity.csv?action=retry.delete", "unknown_audit_action", "There is no such action", 422},
	} {
		a := pc.do("GET", c.path, nil)
		expectPage(t, a, c.status, c.words)
		if !strings.Contains(a.Body, `data-problem-code="`+c.code+`"`) {
			t.Errorf("%s: no data-problem-code %s", c.path, c.code)
		}
		if strings.Contains(a.Body, "Something went wrong") || strings.Contains(a.Body, ">"+c.code+"<") {
			t.Errorf("%s: the refusal is not in words:\n%s", c.path, a.Body)
		}
		if !strings.Contains(a.Body, `id="activity-filters"`) {
			t.Errorf("%s: the filters are not on the page to fix", c.path)
		}
	}

	// The CSV download of this session's view.
	csv := pc.do("GET", "/app/admin/activity.csv?action=session.sign_in", nil)
	if csv.Status != 200 || !strings.HasPrefix(csv.Header.Get("Content-Type"), "text/csv") || !strings.Contains(csv.Body, "session.sign_in") || strings.Contains(csv.Body, "Otto") {
		t.Fatalf("CSV = %d %q:\n%s", csv.Status, csv.Header.Get("Content-Type"), csv.Body)
	}
	// Over the export's bound: the page says to choose a shorter range.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := app.DB.ExecContext(ctx, `INSERT INTO audit_events (org_id, actor_kind, actor_id, action, target_kind, target_id, outcome, credential_kind, created_at)
		SELECT ?, 'admin', ?, 'retry.give', 'retry', i::text, 'reserved', 'api_key', timestamptz '2026-01-01' + i * interval '1 second'
		FROM generate_series(1, 100000) AS i`, org.ID, org.AdminID); err != nil {
		t.Fatal(err)
	}
	a := pc.do("GET", "/app/admin/activity.csv", nil)
	expectPage(t, a, 422, "more than 100,000 events", "shorter range")
	if !strings.Contains(a.Body, `data-problem-code="export_too_large"`) {
		t.Error("no data-problem-code export_too_large")
	}

	// Paging: 50 a page, Older → and ← Newer lead to the neighbouring pages, Newest back.
	first := pc.do("GET", "/app/admin/activity", nil)
	firstIDs := activityEventIDs(first.Body)
	if len(firstIDs) != 50 || strings.Contains(first.Body, `rel="prev"`) {
		t.Fatalf("first page: %d entries, newer link %v", len(firstIDs), strings.Contains(first.Body, `rel="prev"`))
	}
	second := pc.do("GET", pageLink(t, first.Body, `rel="next"`), nil)
	secondIDs := activityEventIDs(second.Body)
	if len(secondIDs) != 50 || secondIDs[0] >= firstIDs[49] {
		t.Fatalf("second page starts at %v after %v", secondIDs[:1], firstIDs[49])
	}
	back := pc.do("GET", pageLink(t, second.Body, `rel="prev"`), nil)
	if got := activityEventIDs(back.Body); strings.Join(got, ",") != strings.Join(firstIDs, ",") {
		t.Errorf("← Newer from the second page = %v, want the first page %v", got, firstIDs)
	}
	if !strings.Contains(second.Body, `>Newest</a>`) {
		t.Error("a later page has no link back to the newest")
	}
}

var activityEventID = regexp.MustCompile(`data-event="(\d+)"`)

// activityEventIDs are the event ids of an Activity page's entries, in order.
func activityEventIDs(page string) []string {
	var out []string
	for _, m := range activityEventID.FindAllStringSubmatch(page, -1) {
		out = append(out, fmt.Sprintf("%012s", m[1])) // zero-padded: compared as strings
	}
	return out
}

// pageLink is the href of the paging link marked with attr.
func pageLink(t testing.TB, page, attr string) string {
	t.Helper()
	m := regexp.MustCompile(`<a href="([^"]+)" ` + regexp.QuoteMeta(attr)).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no %s link in page", attr)
	}
	return html.UnescapeString(m[1])
}
