package server_test

import (
	"html"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/headshotpro/retryd/internal/domain"
	"github.com/headshotpro/retryd/internal/seed"
	"github.com/headshotpro/retryd/internal/tooling/apptest"
)

// pageCardActions reads a dashboard page's cards: for each member, the actions its card
// offers, in the API's names.
func pageCardActions(t *testing.T, body string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	parts := strings.Split(body, `<li class="card" data-member="`)
	for _, part := range parts[1:] {
		id := part[:36]
		// A card ends where the next card or the section's list ends.
		if end := strings.Index(part, "\n  </ul>"); end >= 0 {
			part = part[:end]
		}
		actions := []string{}
		if strings.Contains(part, `class="give-retry"`) {
			actions = append(actions, "give_retry")
		}
		if regexp.MustCompile(`action="/app/admin/members/` + id + `/restarts"`).MatchString(part) {
			actions = append(actions, "restart_shoot")
		}
		out[id] = actions
	}
	return out
}

// TestCardActionsAgreeWithAPI: for every kind of card (each section, a pending retry, a
// managed member without email, a retried shoot, no allowance, a retry window that has
// ended) the dashboard page offers exactly the actions of the JSON API's card. A pending
// retry's card, which offers no Give retry, links to the member page, which shows the
// help page's pending notice.
func TestCardActionsAgreeWithAPI(t *testing.T) {
	app := apptest.Start(t, apptest.Options{})
	no := apptest.Ptr(false)
	org := app.SeedOrg(t, 5,
		person("Ava Finished", finished(5, 8)),
		seed.Member{Name: "Ben Used", Email: apptest.Ptr("ben@acme.test"), Kind: "individual", FreeRetryAvailable: no, Shoots: []seed.Shoot{finished(5, 8)}},
		person("Cleo Retried", seed.Shoot{Status: "active", CompletedAt: daysAgo(3), RetryCount: 1, Results: 8}),
		person("Dan Onboarding", seed.Shoot{Status: "onboarding"}),
		person("Eve Pending", finished(4, 8)),
		seed.Member{Name: "Finn Nomail", Kind: "managed", Shoots: []seed.Shoot{finished(5, 8)}},
		seed.Member{Name: "Gus Nomail Pending", Kind: "managed", Shoots: []seed.Shoot{finished(5, 8)}},
		seed.Member{Name: "Hana Deleted", Kind: "managed", Shoots: []seed.Shoot{deletedShoot()}},
		person("Ivo Deleted", deletedShoot()),
		person("Jo Failed", seed.Shoot{Status: "failed"}),
		// Completed before the default 60-day window: an allowance, but no retry to give.
		person("Kit Expired", finished(61, 8)),
	)
	for _, i := range []int{4, 6} {
		id, shoots := seeded(org, i)
		expectStatus(t, giveRetry(t, app, org.AdminKey, id, shoots[0]), 201)
	}
	pc := newPageClient(t, app)
	if a := pc.signIn(org.AdminKey); a.Status != 303 {
		t.Fatalf("sign-in = %d", a.Status)
	}

	seen := 0
	for _, section := range []string{domain.SectionFinished, domain.SectionInProgress, domain.SectionDeleted} {
		api := map[string][]string{}
		for _, c := range cardsOf(t, app, org.AdminKey, "section="+section) {
			api[c.Member.ID] = c.Actions
		}
		page := pageCardActions(t, pc.do("GET", "/app/admin/headshots?section="+section, nil).Body)
		if len(page) != len(api) {
			t.Errorf("%s: the page shows %d cards, the API %d", section, len(page), len(api))
		}
		for id, want := range api {
			got, ok := page[id]
			if !ok {
				t.Errorf("%s: member %s has an API card but none on the page", section, id)
				continue
			}
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("%s: member %s: the page offers %v, the API %v", section, memberName(org, id), got, want)
			}
			seen++
		}
	}
	if seen != 11 {
		t.Errorf("compared %d cards, want all 11", seen)
	}

	// A card whose retry window has ended says so and offers no Give retry, in the API
	// and on the page: the rules would refuse it.
	kit, kitShoots := seeded(org, 10)
	for _, c := range cardsOf(t, app, org.AdminKey, "section="+domain.SectionFinished) {
		if c.Member.ID == kit && slices.Contains(c.Actions, "give_retry") {
			t.Errorf("the API offers give_retry on Kit's card, whose retry window has ended: %v", c.Actions)
		}
	}
	var kitCard string
	for _, part := range strings.Split(pc.do("GET", "/app/admin/headshots?section=finished", nil).Body, `<li class="card" data-member="`)[1:] {
		if strings.HasPrefix(part, kit) {
			kitCard = part
		}
	}
	if !strings.Contains(kitCard, "Retry window ended") {
		t.Errorf("Kit's Finished card does not say the retry window ended:\n%s", kitCard)
	}
	if strings.Contains(kitCard, "Give retry") {
		t.Errorf("Kit's Finished card offers Give retry after the retry window ended:\n%s", kitCard)
	}
	expectProblem(t, giveRetry(t, app, org.AdminKey, kit, kitShoots[0]), 422, "retry_window_expired")

	// A shoot retried once already offers no Give retry either: each shoot is retried once.
	cleo, cleoShoots := seeded(org, 2)
	for _, c := range cardsOf(t, app, org.AdminKey, "section="+domain.SectionFinished) {
		if c.Member.ID == cleo && slices.Contains(c.Actions, "give_retry") {
			t.Errorf("the API offers give_retry on Cleo's card, whose shoot was retried already: %v", c.Actions)
		}
	}
	expectProblem(t, giveRetry(t, app, org.AdminKey, cleo, cleoShoots[0]), 409, "shoot_already_retried")

	// The pending retry's card says so and links to where the notice is.
	eve, _ := seeded(org, 4)
	dash := pc.do("GET", "/app/admin/headshots?section=in_progress", nil).Body
	link := regexp.MustCompile(`<a class="badge"[^>]* href="([^"]+)"[^>]*>Retry pending</a>`)
	var target string
	for _, part := range strings.Split(dash, `<li class="card" data-member="`)[1:] {
		if strings.HasPrefix(part, eve) {
			if m := link.FindStringSubmatch(part); m != nil {
				target = html.UnescapeString(m[1])
			}
		}
	}
	if !strings.HasPrefix(target, "/app/admin/members/"+eve) {
		t.Fatalf("Eve's In Progress card has no Retry pending link to her member page (found %q)", target)
	}
	expectPage(t, pc.do("GET", target, nil), 200, helpPendingNotice)
}

// memberName is a seeded member's name, for messages.
func memberName(org *apptest.Org, id string) string {
	for _, m := range org.File.Organizations[0].Members {
		if m.ID == id {
			return m.Name
		}
	}
	return id
}
