package server

import (
	"net/url"
	"unicode/utf8"
)

// dashboardPlace is where the admin was on the dashboard (search, section, page). A
// change's form carries it as the field "back" (the dashboard's query string), so that the
// change's answer brings the admin back there with the member's card in view, instead of
// to the first cards by name.
type dashboardPlace struct {
	section, q string
	// param is "cursor" (a page forward) or "before" (a page back), with its cursor.
	param, cursor string
}

// placeFrom reads a "back" value. What the dashboard would refuse is dropped, not
// refused: the change must not fail over where to go afterwards.
func placeFrom(raw string) dashboardPlace {
	v, err := url.ParseQuery(raw)
	if err != nil {
		return dashboardPlace{}
	}
	var pl dashboardPlace
	if s := v.Get("section"); sectionTitles[s] != "" {
		pl.section = s
	}
	if q := v.Get("q"); validText(q) && utf8.RuneCountInString(q) <= maxSearchLen {
		pl.q = q
	}
	for _, param := range []string{"cursor", "before"} {
		if cur := v.Get(param); cur != "" && pl.section != "" && pl.cursor == "" {
			if _, ok := decodeCursor(cur); ok {
				pl.param, pl.cursor = param, cur
			}
		}
	}
	return pl
}

func (pl dashboardPlace) values() url.Values {
	v := url.Values{}
	if pl.section != "" {
		v.Set("section", pl.section)
	}
	if pl.q != "" {
		v.Set("q", pl.q)
	}
	if pl.cursor != "" {
		v.Set(pl.param, pl.cursor)
	}
	return v
}

// back is the place as the forms' "back" field carries it ("" on the first overview).
func (pl dashboardPlace) back() string { return pl.values().Encode() }

// url is the dashboard at the place.
func (pl dashboardPlace) url() string { return dashboardURL(pl.section, pl.q, pl.param, pl.cursor) }

// urlFor is the dashboard at the place, with a change's notice (given or restarted) and
// scrolled to the member's card (#member-<id>), which the dashboard marks.
func (pl dashboardPlace) urlFor(notice, memberID string) string {
	v := pl.values()
	v.Set(notice, memberID)
	return "/app/admin/headshots?" + v.Encode() + "#member-" + memberID
}
