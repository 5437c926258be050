package server

import (
	"strings"
	"testing"

	"github.com/headshotpro/retryd/internal/store"
)

// TestDashboardPlace: a change form's "back" keeps what the dashboard accepts (section,
// search, a page forward or back) and drops the rest, so a forged value can neither
// break the change nor send the admin anywhere but the dashboard.
func TestDashboardPlace(t *testing.T) {
	cur := encodeCursor(store.Cursor{Name: "Sam Taylor", ID: "9fce81e8-1c6a-42c2-a664-35955d860f00"})
	for _, c := range []struct{ back, url string }{
		{"", "/app/admin/headshots"},
		{"section=deleted&q=sam", "/app/admin/headshots?q=sam&section=deleted"},
		{"section=deleted&cursor=" + cur, "/app/admin/headshots?cursor=" + cur + "&section=deleted"},
		{"section=finished&before=" + cur, "/app/admin/headshots?before=" + cur + "&section=finished"},
		{"cursor=" + cur, "/app/admin/headshots"},                                 // a page needs its section
		{"section=deleted&cursor=forged", "/app/admin/headshots?section=deleted"}, // not a cursor
		{"section=nowhere&q=a", "/app/admin/headshots?q=a"},                       // no such section
		{"q=" + strings.Repeat("x", maxSearchLen+1), "/app/admin/headshots"},
		{"%zz", "/app/admin/headshots"}, // not a query string
		{"q=a&next=https://evil.test/", "/app/admin/headshots?q=a"},
	} {
		pl := placeFrom(c.back)
		if got := pl.url(); got != c.url {
			t.Errorf("placeFrom(%q).url() = %q, want %q", c.back, got, c.url)
		}
		if again := placeFrom(pl.back()); again != pl {
			t.Errorf("placeFrom(%q) does not survive a round trip: %+v, then %+v", c.back, pl, again)
		}
	}
	if got := placeFrom("section=deleted&q=sam").urlFor("restarted", "m-1"); got != "/app/admin/headshots?q=sam&restarted=m-1&section=deleted#member-m-1" {
		t.Errorf("urlFor = %q", got)
	}
}
