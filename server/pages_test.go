package server_test

import (
	"context"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/headshotpro/retryd/internal/seed"
	"github.com/headshotpro/retryd/internal/store"
	"github.com/headshotpro/retryd/internal/tooling/apptest"
)

// pageClient is a browser without JavaScript: a cookie jar and no redirects followed,
// so tests see each answer of the admin pages.
type pageClient struct {
	t    testing.TB
	app  *apptest.App
	http *http.Client
}

type pageAnswer struct {
	Status   int
	Location string
	Body     string
	Header   http.Header
}

func newPageClient(t testing.TB, app *apptest.App) *pageClient {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &pageClient{t: t, app: app, http: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (pc *pageClient) do(method, path string, form url.Values) *pageAnswer {
	pc.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, pc.app.URL+path, body)
	if err != nil {
		pc.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Header.Set("Accept", "text/html")
	resp, err := pc.http.Do(req)
	if err != nil {
		pc.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		pc.t.Fatal(err)
	}
	return &pageAnswer{Status: resp.StatusCode, Location: resp.Header.Get("Location"), Body: string(raw), Header: resp.Header}
}

var hiddenCSRF = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func formField(t testing.TB, page, name string) string {
	t.Helper()
	m := regexp.MustCompile(`name="` + regexp.QuoteMeta(name) + `" value="([^"]*)"`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no %s field in page:\n%s", name, page)
	}
	return m[1]
}

// signIn posts the sign-in form with key and returns the answer.
func (pc *pageClient) signIn(key string) *pageAnswer {
	pc.t.Helper()
	login := pc.do("GET", "/app/login", nil)
	if login.Status != 200 {
		pc.t.Fatalf("GET /app/login = %d", login.Status)
	}
	return pc.do("POST", "/app/login", url.Values{"csrf": {formField(pc.t, login.Body, "csrf")}, "api_key": {key}, "next": {"/app/admin/headshots"}})
}

func expectPage(t testing.TB, a *pageAnswer, status int, contains ...string) {
	t.Helper()
	if a.Status != status {
		t.Fatalf("status = %d, want %d; body:\n%s", a.Status, status, a.Body)
	}
	if ct := a.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Fatalf("Content-Type = %q, want text/html", ct)
	}
	text := html.UnescapeString(a.Body)
	for _, want := range contains {
		if !strings.Contains(text, want) {
			t.Errorf("page lacks %q:\n%s", want, a.Body)
		}
	}
}

// TestAdminPagesSignIn: only an admin API key signs in; the session cookie is HttpOnly
// and SameSite, expires, ends on sign-out and when the key is revoked; another
// organization's member is not found.
func TestAdminPagesSignIn(t *testing.T) {
	app := apptest.Start(t, apptest.Options{})
	org := app.SeedOrg(t, 5, person("Maya Chen", finished(5, 8)))
	other := app.SeedOrg(t, 5, person("Otto Other", finished(5, 8)))
	otherMember, _ := seeded(other, 0)
	mayaID, mayaShoots := seeded(org, 0)

	anon := newPageClient(t, app)
	if a := anon.do("GET", "/app/admin/headshots?q=x", nil); a.Status != 303 || a.Location != "/app/login?next=%2Fapp%2Fadmin%2Fheadshots%3Fq%3Dx" {
		t.Fatalf("signed-out dashboard = %d %q, want 303 to the sign-in page", a.Status, a.Location)
	}
	// A POST without a session changes nothing and goes to the sign-in page.
	if a := anon.do("POST", "/app/admin/members/"+mayaID+"/retries", url.Values{"csrf": {"x"}}); a.Status != 303 || !strings.HasPrefix(a.Location, "/app/login") {
		t.Fatalf("signed-out POST = %d %q", a.Status, a.Location)
	}

	token, _ := app.Links.Issue(mayaID, mayaShoots[0], time.Now())
	for _, tc := range []struct{ name, key, want string }{
		{"automation key", org.AutomationKey, "This is an automation key. Sign in with an admin API key."},
		{"member link token", token, "This is a member's link token. Sign in with an admin API key."},
		{"unknown key", "rk_live_not_a_key", "This key is not valid or was revoked."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pc := newPageClient(t, app)
			a := pc.signIn(tc.key)
			if a.Status == 303 {
				t.Fatalf("%s signed in", tc.name)
			}
			expectPage(t, a, a.Status, tc.want)
			if a := pc.do("GET", "/app/admin/headshots", nil); a.Status != 303 {
				t.Fatalf("after a refused sign-in the dashboard answered %d", a.Status)
			}
		})
	}
	// A sign-in form without its CSRF cookie is refused.
	if a := newPageClient(t, app).do("POST", "/app/login", url.Values{"csrf": {"x"}, "api_key": {org.AdminKey}}); a.Status != 403 {
		t.Fatalf("sign-in without the form's cookie = %d, want 403", a.Status)
	}

	pc := newPageClient(t, app)
	a := pc.signIn(org.AdminKey)
	if a.Status != 303 || a.Location != "/app/admin/headshots" {
		t.Fatalf("sign-in = %d %q", a.Status, a.Location)
	}
	for _, attr := range []string{"retryd_session=", "Path=/app/", "HttpOnly", "SameSite=Lax", "Max-Age=28800"} {
		if !strings.Contains(strings.Join(a.Header.Values("Set-Cookie"), "\n"), attr) {
			t.Errorf("session cookie lacks %s: %v", attr, a.Header.Values("Set-Cookie"))
		}
	}
	expectPage(t, pc.do("GET", "/app/admin/headshots", nil), 200, "Maya Chen", "Finished photo shoots")
	if h := pc.do("GET", "/app/admin/headshots", nil).Header; h.Get("Cache-Control") != "no-store" || !strings.Contains(h.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
		t.Errorf("page headers = %v", h)
	}

	// Another organization's member, and ids that cannot exist, are not found.
	expectPage(t, pc.do("GET", "/app/admin/members/"+otherMember, nil), 404, "Not found")
	expectPage(t, pc.do("GET", "/app/admin/members/"+otherMember+"/retry", nil), 404)
	expectPage(t, pc.do("GET", "/app/admin/members/not-a-uuid", nil), 404)
	dash := pc.do("GET", "/app/admin/headshots", nil).Body
	csrf := hiddenCSRF.FindStringSubmatch(dash)[1]
	a = pc.do("POST", "/app/admin/members/"+otherMember+"/retries", url.Values{"csrf": {csrf}, "idempotency_key": {uuid.NewString()}, "shoot_id": {other.File.Organizations[0].Members[0].Shoots[0].ID}})
	expectPage(t, a, 404)
	if n := countRows(t, app, "retries", "member_id = ?", otherMember); n != 0 {
		t.Fatalf("another organization's member got %d retries", n)
	}
	// Bad input answers a page that says what to do, never a 500.
	expectPage(t, pc.do("GET", "/app/admin/headshots?section=nope", nil), 400, "No such section")
	expectPage(t, pc.do("GET", "/app/admin/headshots?section=finished&cursor=bm90LWpzb24", nil), 400)
	expectPage(t, pc.do("GET", "/app/admin/headshots?q="+strings.Repeat("x", 201), nil), 400)
	expectPage(t, pc.do("POST", "/app/admin/members/"+mayaID+"/retries", url.Values{"csrf": {csrf}, "shoot_id": {"x"}}), 400, "This form is incomplete")
	expectPage(t, pc.do("POST", "/app/admin/members/"+mayaID+"/retries", url.Values{"csrf": {csrf}, "idempotency_key": {uuid.NewString()}, "shoot_id": {"not-a-uuid"}}), 400, "The form was not filled in as expected")

	// Sign-out ends the session on the server: the old cookie no longer works.
	oldCookies := pc.http.Jar.Cookies(mustURL(t, app.URL+"/app/admin/"))
	if a := pc.do("POST", "/app/logout", url.Values{"csrf": {csrf}}); a.Status != 303 || a.Location != "/app/login?signed_out=1" {
		t.Fatalf("sign-out = %d %q", a.Status, a.Location)
	}
	replay := newPageClient(t, app)
	replay.http.Jar.SetCookies(mustURL(t, app.URL+"/app/admin/"), oldCookies)
	if a := replay.do("GET", "/app/admin/headshots", nil); a.Status != 303 {
		t.Fatalf("a signed-out session's cookie still opens the dashboard (%d)", a.Status)
	}

	// An expired session and a revoked key both end the session.
	for _, end := range []struct {
		name string
		do   func(keyID string)
	}{
		{"expired", func(string) {
			if _, err := app.DB.ExecContext(context.Background(), "UPDATE admin_sessions SET expires_at = now() - interval '1 second'"); err != nil {
				t.Fatal(err)
			}
		}},
		{"key revoked", func(keyID string) {
			if _, err := store.RevokeAPIKey(context.Background(), app.DB, keyID, store.Actor{Kind: store.ActorSystem, ID: "test"}); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		pc := newPageClient(t, app)
		if a := pc.signIn(org.AdminKey); a.Status != 303 {
			t.Fatalf("%s: sign-in = %d", end.name, a.Status)
		}
		var keyID string
		if err := app.DB.NewRaw("SELECT key_id FROM admin_sessions LIMIT 1").Scan(context.Background(), &keyID); err != nil {
			t.Fatal(err)
		}
		end.do(keyID)
		if a := pc.do("GET", "/app/admin/headshots", nil); a.Status != 303 {
			t.Fatalf("%s: the dashboard answered %d, want the sign-in page", end.name, a.Status)
		}
	}
}

func mustURL(t testing.TB, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestAdminPagesDoubleSubmit: the confirmation form sent twice at once (a double click
// with JavaScript off) gives one retry, through the API's Idempotency-Key; the audit log
// names the signed-in admin.
func TestAdminPagesDoubleSubmit(t *testing.T) {
	app := apptest.Start(t, apptest.Options{})
	org := app.SeedOrg(t, 5, person("Maya Chen", finished(5, 8)), seed.Member{Name: "Grace Okafor", Email: apptest.Ptr("g@acme.test"), Kind: "individual", FreeRetryAvailable: apptest.Ptr(false), Shoots: []seed.Shoot{finished(5, 8)}})
	maya, _ := seeded(org, 0)
	grace, _ := seeded(org, 1)
	pc := newPageClient(t, app)
	if a := pc.signIn(org.AdminKey); a.Status != 303 {
		t.Fatalf("sign-in = %d", a.Status)
	}
	confirm := pc.do("GET", "/app/admin/members/"+maya+"/retry", nil)
	expectPage(t, confirm, 200, helpEffectReset, helpEffectEmail, helpConfirm)
	form := url.Values{}
	for _, f := range []string{"csrf", "idempotency_key", "shoot_id"} {
		form.Set(f, formField(t, confirm.Body, f))
	}
	var wg sync.WaitGroup
	answers := make([]*pageAnswer, 2)
	for i := range answers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			answers[i] = pc.do("POST", "/app/admin/members/"+maya+"/retries", form)
		}()
	}
	wg.Wait()
	for _, a := range answers {
		if a.Status != 303 || a.Location != "/app/admin/headshots?given="+maya+"#member-"+maya {
			t.Fatalf("confirm = %d %q:\n%s", a.Status, a.Location, a.Body)
		}
	}
	if n := countRows(t, app, "retries", "member_id = ?", maya); n != 1 {
		t.Fatalf("a double submit gave %d retries, want 1", n)
	}
	if n := countRows(t, app, "audit_events", "action = 'retry.give' AND actor_kind = 'admin' AND actor_id = ?", org.AdminID); n != 1 {
		t.Errorf("audit events naming the admin = %d, want 1", n)
	}
	expectPage(t, pc.do("GET", "/app/admin/headshots?given="+maya, nil), 200, "Retry given to Maya Chen.")

	// The confirmation of a pending retry shows the notice; without allowance, the page
	// explains the refusal in words, not codes.
	expectPage(t, pc.do("GET", "/app/admin/members/"+maya+"/retry", nil), 200, helpPendingNotice)
	refused := pc.do("GET", "/app/admin/members/"+grace+"/retry", nil)
	expectPage(t, refused, 200, "has used their free retry and has no retry credits left")
	if strings.Contains(refused.Body, "retry_credits_exhausted") {
		t.Error("the refusal shows its code")
	}
	// A stale form for the pending retry is refused with the notice, and gives nothing.
	form.Set("idempotency_key", uuid.NewString())
	expectPage(t, pc.do("POST", "/app/admin/members/"+maya+"/retries", form), 409, helpPendingNotice)
	if n := countRows(t, app, "retries", "member_id = ?", maya); n != 1 {
		t.Fatalf("retries = %d after a stale form, want 1", n)
	}
}

var cardMember = regexp.MustCompile(`<li class="card" data-member="([0-9a-f-]{36})"`)

// TestAdminPagesSearchAndPaging: the dashboard pages through a section without repeating
// or skipping anyone, and search narrows every section and its counts.
func TestAdminPagesSearchAndPaging(t *testing.T) {
	app := apptest.Start(t, apptest.Options{})
	members := make([]seed.Member, 0, 32)
	for i := range 30 {
		members = append(members, person("Finn Member "+string(rune('A'+i/10))+string(rune('0'+i%10)), finished(5, 1)))
	}
	members = append(members, person("Ina Progress", seed.Shoot{Status: "waiting"}), person("Finn Waiting", seed.Shoot{Status: "onboarding"}))
	org := app.SeedOrg(t, 7, members...)
	pc := newPageClient(t, app)
	if a := pc.signIn(org.AdminKey); a.Status != 303 {
		t.Fatalf("sign-in = %d", a.Status)
	}

	overview := pc.do("GET", "/app/admin/headshots", nil)
	expectPage(t, overview, 200, `data-testid="count-finished">30<`, `data-testid="count-in_progress">2<`, `data-testid="member-count">32<`,
		"Show all 30 in Finished photo shoots")
	if n := len(cardMember.FindAllString(overview.Body, -1)); n != 10+2 {
		t.Errorf("overview shows %d cards, want 10 finished and 2 in progress", n)
	}

	seen := map[string]bool{}
	path, pages := "/app/admin/headshots?section=finished", 0
	for path != "" {
		a := pc.do("GET", path, nil)
		expectPage(t, a, 200, "Finished photo shoots")
		for _, m := range cardMember.FindAllStringSubmatch(a.Body, -1) {
			if seen[m[1]] {
				t.Fatalf("member %s shown twice while paging", m[1])
			}
			seen[m[1]] = true
		}
		pages++
		path = ""
		if m := regexp.MustCompile(`href="([^"]+)" rel="next"`).FindStringSubmatch(a.Body); m != nil {
			path = html.UnescapeString(m[1])
		}
	}
	if len(seen) != 30 || pages != 2 {
		t.Errorf("paging showed %d members on %d pages, want 30 on 2", len(seen), pages)
	}

	search := pc.do("GET", "/app/admin/headshots?q="+url.QueryEscape("finn member a"), nil)
	expectPage(t, search, 200, `data-testid="count-finished">10<`, `data-testid="count-in_progress">0<`, `data-testid="member-count">32<`)
	if n := len(cardMember.FindAllString(search.Body, -1)); n != 10 {
		t.Errorf("search shows %d cards, want 10", n)
	}
	byEmail := pc.do("GET", "/app/admin/headshots?q="+url.QueryEscape("ina.progress@"), nil)
	expectPage(t, byEmail, 200, "Ina Progress", `data-testid="count-in_progress">1<`)
}

// TestAdminPagesRefusalsInWords: each reason a retry cannot be given is explained on the
// confirmation page in words, never by its code.
func TestAdminPagesRefusalsInWords(t *testing.T) {
	app := apptest.Start(t, apptest.Options{})
	org := app.SeedOrg(t, 5,
		person("Old Shoot", finished(75, 8)),
		person("Retried Once", seed.Shoot{Status: "active", CompletedAt: daysAgo(3), RetryCount: 1, Results: 8}),
	)
	pc := newPageClient(t, app)
	if a := pc.signIn(org.AdminKey); a.Status != 303 {
		t.Fatalf("sign-in = %d", a.Status)
	}
	for i, want := range []string{
		"Retries are only available for shoots completed within the last 60 days, and this shoot is older.",
		"This shoot has already been retried. Each member can receive one retry per shoot.",
	} {
		id, _ := seeded(org, i)
		a := pc.do("GET", "/app/admin/members/"+id+"/retry", nil)
		expectPage(t, a, 200, want)
		if strings.Contains(a.Body, "retry_window_expired") || strings.Contains(a.Body, "shoot_already_retried") || strings.Contains(a.Body, helpConfirm) {
			t.Errorf("refusal page shows a code or the confirmation button:\n%s", a.Body)
		}
	}
	// Safe return addresses only: the sign-in form cannot send an admin elsewhere.
	fresh := newPageClient(t, app)
	login := fresh.do("GET", "/app/login?next=https://evil.test/", nil)
	a := fresh.do("POST", "/app/login", url.Values{"csrf": {formField(t, login.Body, "csrf")}, "api_key": {org.AdminKey}, "next": {"//evil.test/app/admin/"}})
	if a.Status != 303 || a.Location != "/app/admin/headshots" {
		t.Errorf("sign-in with a foreign next = %d %q, want the dashboard", a.Status, a.Location)
	}
}
