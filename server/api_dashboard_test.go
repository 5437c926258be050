package server_test

import (
	"fmt"
	"net/url"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/headshotpro/retryd/internal/seed"
	"github.com/headshotpro/retryd/internal/tooling/apptest"
	"github.com/headshotpro/retryd/server"
)

func deletedAgo(days float64) seed.Shoot {
	return seed.Shoot{Status: "deleted", DeletedAt: daysAgo(days)}
}

func managedMember(name string, shoots ...seed.Shoot) seed.Member {
	return seed.Member{Name: name, Kind: "managed", Shoots: shoots}
}

// TestDashboardSections: each member is in the section of their most recent shoot, with
// the actions the rules of docs/product.md allow, and the header counts the organization.
func TestDashboardSections(t *testing.T) {
	app := apptest.Start(t, apptest.Options{})
	ben := person("Ben Baker", deletedAgo(40), finished(3, 5))
	ben.Email = apptest.Ptr("Zebra.Stripes@Corp.test")
	org := app.SeedOrg(t, 7,
		person("Ann Able", finished(2, 8)), // finished
		ben,                                // deleted then finished: finished
		person("Cat Cole", finished(20, 4), seed.Shoot{Status: "onboarding"}),        // in progress
		person("Dan Dale", seed.Shoot{Status: "waiting"}),                            // in progress
		person("Eve Eden", seed.Shoot{Status: "failed"}),                             // in progress
		person("Jay Jones", seed.Shoot{Status: "pending"}),                           // in progress
		person("Kim Kent", seed.Shoot{Status: "generatingHeadshots"}),                // in progress
		managedMember("Fox Free", deletedAgo(10)),                                    // deleted, restartable
		managedMember("Gus Guarded", finished(30, 2), deletedAgo(5)),                 // deleted, but an open shoot
		person("Hal Human", deletedAgo(8)),                                           // deleted, individual
		managedMember("Mo Managed", seed.Shoot{Status: "onboarding"}, deletedAgo(1)), // deleted, open onboarding shoot
		person("Ivy Idle"), // no shoot: on no card
	)
	key := org.AdminKey
	want := map[string][]string{
		"finished":    {"Ann Able", "Ben Baker"},
		"in_progress": {"Cat Cole", "Dan Dale", "Eve Eden", "Jay Jones", "Kim Kent"},
		"deleted":     {"Fox Free", "Gus Guarded", "Hal Human", "Mo Managed"},
	}
	for section, names := range want {
		cards := cardsOf(t, app, key, "section="+section)
		if got := cardNames(cards); !slices.Equal(got, names) {
			t.Fatalf("%s = %v, want %v", section, got, names)
		}
		// Every member of a card is there: app.Do holds each answer to the OpenAPI
		// document, whose Card, Member and Shoot require them.
		for _, c := range cards {
			if c.Section != section {
				t.Fatalf("card %+v says section %q", c.Member, c.Section)
			}
			sh := c.Shoot
			switch section {
			case "finished":
				if sh.Status != "active" || sh.CompletedAt == nil || !slices.Equal(c.Actions, []string{"give_retry"}) {
					t.Fatalf("finished card = %+v", c)
				}
			case "in_progress":
				if hasAction(c, "give_retry") || hasAction(c, "restart_shoot") {
					t.Fatalf("in progress card offers %v", c.Actions)
				}
			case "deleted":
				if sh.Status != "deleted" || sh.DeletedAt == nil {
					t.Fatalf("deleted card shoot = %+v", sh)
				}
				wantRestart := c.Member.Name == "Fox Free"
				if hasAction(c, "restart_shoot") != wantRestart || hasAction(c, "give_retry") {
					t.Fatalf("%s's deleted card actions = %v", c.Member.Name, c.Actions)
				}
			}
		}
	}
	// Cards show the most recent shoot: Ben's finished one, with its results.
	bc := cardsOf(t, app, key, "section=finished&q=Ben")[0]
	if sh := bc.Shoot; sh.ResultCount != 5 || sh.ID != org.File.Organizations[0].Members[1].Shoots[1].ID {
		t.Fatalf("Ben's card shoot = %+v", sh)
	}
	if email := str(bc.Member.Email); email != "Zebra.Stripes@Corp.test" {
		t.Fatalf("Ben's email = %q", email)
	}

	// Without section: all three sections, first pages, same members.
	all := expectJSON[dashboard](t, app.Do(t, "GET", "/api/v1/admin/headshots", key, nil), 200)
	if len(all.Sections) != 3 {
		t.Fatalf("sections = %+v", all.Sections)
	}
	for section, names := range want {
		sec := all.Sections[section]
		if got := cardNames(sec.Cards); !slices.Equal(got, names) {
			t.Fatalf("all-sections %s = %v, want %v", section, got, names)
		}
		if sec.NextCursor != nil {
			t.Fatalf("all-sections %s next_cursor = %q", section, *sec.NextCursor)
		}
	}

	// Search by name and by email, case-insensitive, within a section or across all.
	for _, tc := range []struct{ query, section, want string }{
		{"ann", "finished", "Ann Able"},
		{"ANN ABLE", "finished", "Ann Able"},
		{"zebra", "finished", "Ben Baker"},
		{"STRIPES@corp", "finished", "Ben Baker"},
		{"dan.dale@ACME.test", "in_progress", "Dan Dale"},
		{"fOx", "deleted", "Fox Free"},
	} {
		cards := cardsOf(t, app, key, "section="+tc.section+"&q="+url.QueryEscape(tc.query))
		if got := cardNames(cards); !slices.Equal(got, []string{tc.want}) {
			t.Fatalf("q=%q in %s = %v, want [%s]", tc.query, tc.section, got, tc.want)
		}
	}
	all = expectJSON[dashboard](t, app.Do(t, "GET", "/api/v1/admin/headshots?q=ZEBRA", key, nil), 200)
	total := 0
	for _, sec := range all.Sections {
		total += len(sec.Cards)
	}
	if total != 1 {
		t.Fatalf("q=ZEBRA across sections found %d cards", total)
	}
	if cards := cardsOf(t, app, key, "section=finished&q="+url.QueryEscape("%")); len(cards) != 0 {
		t.Fatalf("q=%% matched %v: LIKE wildcards must be literal", cardNames(cards))
	}
	if cards := cardsOf(t, app, key, "section=finished&q=nobody"); len(cards) != 0 {
		t.Fatalf("q=nobody = %v", cardNames(cards))
	}

	// Header: all members (also Ivy without a shoot) and every finished shoot (Gus's and
	// Cat's older ones too).
	h := expectJSON[organization](t, app.Do(t, "GET", "/api/v1/admin/organization", key, nil), 200)
	if want := (organization{ID: org.ID, Name: org.File.Organizations[0].Name, CreditBalance: 7, Members: 12, FinishedShoots: 4}); h != want {
		t.Fatalf("organization header = %+v, want %+v", h, want)
	}
}

// TestDashboardPagination: keyset pages of 2 over 5 members visit each once, in name order.
func TestDashboardPagination(t *testing.T) {
	app := apptest.Start(t, apptest.Options{})
	names := []string{"Quinn", "Alex", "Morgan", "Sam Same", "Sam Same"}
	members := make([]seed.Member, len(names))
	for i, n := range names {
		members[i] = seed.Member{Name: n, Email: apptest.Ptr(fmt.Sprintf("m%d@acme.test", i)), Kind: "individual",
			Shoots: []seed.Shoot{finished(float64(i+1), 1)}}
	}
	org := app.SeedOrg(t, 5, append(members, person("Zed Elsewhere", seed.Shoot{Status: "waiting"}))...)

	var seen []string
	seenIDs := map[string]bool{}
	cursor := ""
	for page := 0; ; page++ {
		if page > 5 {
			t.Fatal("pagination does not end")
		}
		q := "section=finished&limit=2"
		if cursor != "" {
			q += "&cursor=" + url.QueryEscape(cursor)
		}
		body := expectJSON[server.SectionDTO](t, app.Do(t, "GET", "/api/v1/admin/headshots?"+q, org.AdminKey, nil), 200)
		if body.Section != "finished" {
			t.Fatalf("section = %q", body.Section)
		}
		cards := body.Cards
		if len(cards) > 2 || len(cards) == 0 {
			t.Fatalf("page %d has %d cards", page, len(cards))
		}
		for _, c := range cards {
			id := c.Member.ID
			if seenIDs[id] {
				t.Fatalf("member %s on two pages", id)
			}
			seenIDs[id] = true
		}
		seen = append(seen, cardNames(cards)...)
		if body.NextCursor == nil {
			break
		}
		if *body.NextCursor == "" {
			t.Fatal("next_cursor is empty, want a cursor or null")
		}
		cursor = *body.NextCursor
	}
	sorted := slices.Clone(names)
	sort.Strings(sorted)
	if !slices.Equal(seen, sorted) || len(seenIDs) != 5 {
		t.Fatalf("pages visited %v, want %v", seen, sorted)
	}
	// A page size that divides the section ends with next_cursor null too.
	body := expectJSON[server.SectionDTO](t, app.Do(t, "GET", "/api/v1/admin/headshots?section=finished&limit=5", org.AdminKey, nil), 200)
	if len(body.Cards) != 5 || body.NextCursor != nil {
		t.Fatalf("limit=5: %d cards, next_cursor %v", len(body.Cards), body.NextCursor)
	}
	// Without section, each section pages on its own.
	all := expectJSON[dashboard](t, app.Do(t, "GET", "/api/v1/admin/headshots?limit=2", org.AdminKey, nil), 200)
	fin := all.Sections["finished"]
	if got := cardNames(fin.Cards); !slices.Equal(got, sorted[:2]) || fin.NextCursor == nil {
		t.Fatalf("all-sections finished page = %v, next %v", got, fin.NextCursor)
	}
	ip := all.Sections["in_progress"]
	if got := cardNames(ip.Cards); !slices.Equal(got, []string{"Zed Elsewhere"}) || ip.NextCursor != nil {
		t.Fatalf("all-sections in_progress = %v, next %v", got, ip.NextCursor)
	}
	// The next page follows the cursor of the all-sections answer.
	body = expectJSON[server.SectionDTO](t, app.Do(t, "GET", "/api/v1/admin/headshots?section=finished&limit=2&cursor="+url.QueryEscape(*fin.NextCursor), org.AdminKey, nil), 200)
	if got := cardNames(body.Cards); !slices.Equal(got, sorted[2:4]) {
		t.Fatalf("second page = %v, want %v", got, sorted[2:4])
	}
}

// TestDashboardPagesBack: prev_cursor, passed as before, gives the page before in the
// same order, through ties in name, back to the first page, whose prev_cursor is null.
func TestDashboardPagesBack(t *testing.T) {
	app := apptest.Start(t, apptest.Options{})
	names := []string{"Quinn", "Alex", "Morgan", "Sam Same", "Sam Same"}
	members := make([]seed.Member, len(names))
	for i, n := range names {
		members[i] = seed.Member{Name: n, Email: apptest.Ptr(fmt.Sprintf("m%d@acme.test", i)), Kind: "individual",
			Shoots: []seed.Shoot{finished(float64(i+1), 1)}}
	}
	org := app.SeedOrg(t, 5, members...)
	get := func(q string) server.SectionDTO {
		t.Helper()
		return expectJSON[server.SectionDTO](t, app.Do(t, "GET", "/api/v1/admin/headshots?section=finished&limit=2"+q, org.AdminKey, nil), 200)
	}
	ids := func(p server.SectionDTO) []string {
		out := make([]string, len(p.Cards))
		for i, c := range p.Cards {
			out[i] = c.Member.ID
		}
		return out
	}

	// Forward: 2, 2 and 1 cards; only the first page has no prev_cursor.
	var forward []server.SectionDTO
	page := get("")
	for {
		forward = append(forward, page)
		if (page.PrevCursor == nil) != (len(forward) == 1) {
			t.Fatalf("forward page %d: prev_cursor %v", len(forward), page.PrevCursor)
		}
		if page.NextCursor == nil {
			break
		}
		page = get("&cursor=" + url.QueryEscape(*page.NextCursor))
	}
	if len(forward) != 3 {
		t.Fatalf("forward: %d pages, want 3", len(forward))
	}
	// Back from the last page to the first: the same pages; each has a next_cursor.
	for i := len(forward) - 2; i >= 0; i-- {
		page = get("&before=" + url.QueryEscape(*page.PrevCursor))
		if !slices.Equal(ids(page), ids(forward[i])) {
			t.Fatalf("back to page %d: %v, want %v", i+1, cardNames(page.Cards), cardNames(forward[i].Cards))
		}
		if page.NextCursor == nil || (page.PrevCursor == nil) != (i == 0) {
			t.Fatalf("back on page %d: next_cursor %v, prev_cursor %v", i+1, page.NextCursor, page.PrevCursor)
		}
	}
	// And forward again from a page reached backwards.
	if got := get("&cursor=" + url.QueryEscape(*page.NextCursor)); !slices.Equal(ids(got), ids(forward[1])) {
		t.Fatalf("forward from the first page reached back: %v, want %v", cardNames(got.Cards), cardNames(forward[1].Cards))
	}

	cur := url.QueryEscape(*forward[0].NextCursor)
	for _, q := range []string{
		"/api/v1/admin/headshots?section=finished&cursor=" + cur + "&before=" + cur, // both directions
		"/api/v1/admin/headshots?before=" + cur,                                     // no section
		"/api/v1/admin/headshots?section=finished&before=bm90LWpzb24",               // not a cursor
	} {
		expectProblem(t, app.Do(t, "GET", q, org.AdminKey, nil), 400, "invalid_parameter")
	}
}

// TestPipelineAndSubmit: the pipeline moves shoots between sections; a member's first
// submission of a normal shoot takes one credit, and none is left to take at 0.
func TestPipelineAndSubmit(t *testing.T) {
	app := apptest.Start(t, apptest.Options{})
	org := app.SeedOrg(t, 2,
		person("Dan Done", seed.Shoot{Status: "waiting"}),
		person("Fin Fails", seed.Shoot{Status: "generatingHeadshots"}),
		person("Ola Onboard", seed.Shoot{Status: "onboarding"}),
		person("Pat Pending", seed.Shoot{Status: "pending"}),
	)
	key := org.AdminKey
	danID, dan := seeded(org, 0)
	_, fin := seeded(org, 1)
	olaID, ola := seeded(org, 2)
	_, pat := seeded(org, 3)

	// complete: waiting → active with results, Finished with give_retry.
	before := time.Now().Add(-time.Second)
	r := expectJSON[shootAnswer](t, app.Do(t, "POST", "/api/v1/internal/shoots/"+dan[0]+"/complete", app.PipelineToken,
		map[string]any{"results": []map[string]any{{"storage_key": "s3://b/1.jpg"}, {"storage_key": "s3://b/2.jpg"}, {"storage_key": "s3://b/3.jpg"}}}), 200)
	if sh := r.Shoot; sh.Status != "active" || sh.ResultCount != 3 || sh.CompletedAt == nil {
		t.Fatalf("complete = %+v", sh)
	}
	cards := cardsOf(t, app, key, "section=finished")
	if len(cards) != 1 || cards[0].Member.ID != danID {
		t.Fatalf("finished after complete = %v", cardNames(cards))
	}
	if sh := cards[0].Shoot; sh.CompletedAt == nil || sh.CompletedAt.Before(before) || sh.ResultCount != 3 || !hasAction(cards[0], "give_retry") {
		t.Fatalf("finished card after complete = %+v", cards[0])
	}
	// pending → active with a result_count only.
	r = expectJSON[shootAnswer](t, app.Do(t, "POST", "/api/v1/internal/shoots/"+pat[0]+"/complete", app.PipelineToken, map[string]any{"result_count": 4}), 200)
	if sh := r.Shoot; sh.Status != "active" || sh.ResultCount != 4 {
		t.Fatalf("complete pending = %+v", sh)
	}
	// fail: generatingHeadshots → failed, still In Progress.
	r = expectJSON[shootAnswer](t, app.Do(t, "POST", "/api/v1/internal/shoots/"+fin[0]+"/fail", app.PipelineToken, nil), 200)
	if sh := r.Shoot; sh.Status != "failed" {
		t.Fatalf("fail = %+v", sh)
	}
	cards = cardsOf(t, app, key, "section=in_progress&q=Fin")
	if len(cards) != 1 || cards[0].Shoot.Status != "failed" {
		t.Fatalf("in progress after fail = %+v", cards)
	}
	if h := expectJSON[organization](t, app.Do(t, "GET", "/api/v1/admin/organization", key, nil), 200); h.FinishedShoots != 2 {
		t.Fatalf("finished_shoots = %d", h.FinishedShoots)
	}

	// Transitions from the wrong status are refused and change nothing.
	expectProblem(t, app.Do(t, "POST", "/api/v1/internal/shoots/"+ola[0]+"/complete", app.PipelineToken, map[string]any{"result_count": 2}), 409, "invalid_shoot_status")
	expectProblem(t, app.Do(t, "POST", "/api/v1/internal/shoots/"+ola[0]+"/fail", app.PipelineToken, nil), 409, "invalid_shoot_status")
	expectProblem(t, app.Do(t, "POST", "/api/v1/internal/shoots/"+dan[0]+"/complete", app.PipelineToken, nil), 409, "invalid_shoot_status")
	expectProblem(t, app.Do(t, "POST", "/api/v1/internal/shoots/"+fin[0]+"/fail", app.PipelineToken, nil), 409, "invalid_shoot_status")
	expectProblem(t, app.Do(t, "POST", "/api/v1/internal/shoots/"+randomUUID()+"/complete", app.PipelineToken, nil), 404, "not_found")
	d := memberDetail(t, app, key, olaID)
	if sh := d.Shoots[0]; sh.Status != "onboarding" || sh.ResultCount != 0 {
		t.Fatalf("onboarding shoot after refused complete = %+v", sh)
	}
	if n := countRows(t, app, "results", "shoot_id = ?", dan[0]); n != 3 {
		t.Fatalf("results of the completed shoot = %d", n)
	}

	// Member submit of a normal shoot takes one credit: 2 → 1.
	tok, _ := app.Links.Issue(olaID, ola[0], time.Now())
	if a := expectJSON[startAnswer](t, app.Do(t, "POST", "/api/v1/member/shoots/"+ola[0]+"/submit", tok, nil), 200); !a.CreditCharged || a.Shoot.Status != "waiting" || a.Retry != nil {
		t.Fatalf("submit = %+v", a)
	}
	if bal := expectJSON[organization](t, app.Do(t, "GET", "/api/v1/admin/organization", key, nil), 200).CreditBalance; bal != 1 {
		t.Fatalf("credit_balance after submit = %d, want 1", bal)
	}
	// Submitting again is refused (no longer onboarding) and takes nothing.
	expectProblem(t, app.Do(t, "POST", "/api/v1/member/shoots/"+ola[0]+"/submit", tok, nil), 409, "invalid_shoot_status")
	if bal := expectJSON[organization](t, app.Do(t, "GET", "/api/v1/admin/organization", key, nil), 200).CreditBalance; bal != 1 {
		t.Fatalf("credit_balance after a refused submit = %d, want 1", bal)
	}
}

// TestSubmitWithoutCredits: at a balance of 0 a normal submission is refused with 402.
func TestSubmitWithoutCredits(t *testing.T) {
	app := apptest.Start(t, apptest.Options{})
	org := app.SeedOrg(t, 0, person("Nia Nocredit", seed.Shoot{Status: "onboarding"}))
	id, shoots := seeded(org, 0)
	tok, _ := app.Links.Issue(id, shoots[0], time.Now())
	expectProblem(t, app.Do(t, "POST", "/api/v1/member/shoots/"+shoots[0]+"/submit", tok, nil), 402, "insufficient_credits")
	d := memberDetail(t, app, org.AdminKey, id)
	if sh := d.Shoots[0]; sh.Status != "onboarding" {
		t.Fatalf("shoot after refused submit = %+v", sh)
	}
	if bal := expectJSON[organization](t, app.Do(t, "GET", "/api/v1/admin/organization", org.AdminKey, nil), 200).CreditBalance; bal != 0 {
		t.Fatalf("credit_balance = %d", bal)
	}
	// Starting (without submitting) needs no credit.
	expectStatus(t, app.Do(t, "POST", "/api/v1/member/shoots/"+shoots[0]+"/start", tok, nil), 200)
}

// TestCompleteBodies: the pipeline may list results as keys, URLs or objects, or count
// them; malformed lists are refused with invalid_body.
func TestCompleteBodies(t *testing.T) {
	app := apptest.Start(t, apptest.Options{})
	org := app.SeedOrg(t, 0, seed.Member{Name: "P", Email: apptest.Ptr("p@acme.test"), Kind: "individual",
		Shoots: []seed.Shoot{{Status: "waiting"}, {Status: "waiting"}, {Status: "waiting"}, {Status: "waiting"}, {Status: "waiting"}}})
	shoots := org.File.Organizations[0].Members[0].Shoots
	for i, tc := range []struct {
		body any
		want int
	}{
		{map[string]any{"results": []string{"s3://b/1.jpg", "s3://b/2.jpg"}}, 2},
		{map[string]any{"results": []map[string]string{{"url": "https://cdn/1.jpg"}, {"storage_key": "k/2.jpg"}, {"storage_key": "k/3.jpg"}}}, 3},
		{map[string]any{"results": 8}, 8},
		{map[string]any{"result_count": 4}, 4},
		{nil, 0},
	} {
		r := app.Do(t, "POST", "/api/v1/internal/shoots/"+shoots[i].ID+"/complete", app.PipelineToken, tc.body)
		if r.Status != 200 || apptest.Decode[shootAnswer](t, r).Shoot.ResultCount != tc.want {
			t.Errorf("body %v: %d %s, want %d results", tc.body, r.Status, r.Body, tc.want)
		}
	}
	for _, bad := range []any{map[string]any{"results": "x"}, map[string]any{"results": []any{1}}, map[string]any{"results": 2, "result_count": 3}, map[string]any{"results": 999}} {
		other := app.SeedOrg(t, 0, seed.Member{Name: "Q", Email: apptest.Ptr("q@acme.test"), Kind: "individual", Shoots: []seed.Shoot{{Status: "waiting"}}})
		r := app.Do(t, "POST", "/api/v1/internal/shoots/"+other.File.Organizations[0].Members[0].Shoots[0].ID+"/complete", app.PipelineToken, bad)
		if r.Status != 400 || codeOf(t, r) != "invalid_body" {
			t.Errorf("body %v: %d %s, want 400 invalid_body", bad, r.Status, r.Body)
		}
	}
}
