package server_test

import (
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/headshotpro/retryd/internal/apikey"
	"github.com/headshotpro/retryd/internal/tooling/apptest"
	"github.com/headshotpro/retryd/internal/tooling/querycount"
	"github.com/headshotpro/retryd/server"
)

// wrongKey is a key of the generated format that no database holds.
func wrongKey() string {
	secret, _, _ := apikey.Generate()
	return secret
}

// expectRetryAfter asserts a 429 rate_limited problem telling the client when to retry.
func expectRetryAfter(t *testing.T, r *apptest.Response) {
	t.Helper()
	expectProblem(t, r, 429, "rate_limited")
	if s, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || s < 1 {
		t.Fatalf("Retry-After = %q, want whole seconds of at least 1", r.Header.Get("Retry-After"))
	}
}

// TestWrongKeysAreThrottledPerAddress: one address guessing keys gets its failures'
// worth of 401s, then 429 with Retry-After, without a lookup; another address's valid
// key is unaffected.
func TestWrongKeysAreThrottledPerAddress(t *testing.T) {
	app := apptest.Start(t, apptest.Options{TrustedProxies: []string{"127.0.0.1/32", "::1/128"}})
	org := app.SeedOrg(t, 0)
	const path = "/api/v1/admin/organization"
	const guesser = "203.0.113.7"
	for range server.AuthFailureBurst {
		expectProblem(t, app.Do(t, "GET", path, wrongKey(), nil, "X-Forwarded-For", guesser), 401, "unauthorized")
	}
	expectRetryAfter(t, app.Do(t, "GET", path, wrongKey(), nil, "X-Forwarded-For", guesser))
	// A valid key from another address is unaffected.
	if r := app.Do(t, "GET", path, org.AdminKey, nil, "X-Forwarded-For", "198.51.100.9"); r.Status != 200 {
		t.Fatalf("a valid key from another address: %d %s", r.Status, r.Body)
	}
}

// TestKnownKeyPassesAThrottledAddress: an office behind one address (a NAT, a proxy)
// where somebody guesses keys does not lock out its admins whose keys this process saw
// resolve within the hour; the throttle only keeps unknown keys from the database.
func TestKnownKeyPassesAThrottledAddress(t *testing.T) {
	app := apptest.Start(t, apptest.Options{TrustedProxies: []string{"127.0.0.1/32", "::1/128"}})
	org := app.SeedOrg(t, 0)
	const path = "/api/v1/admin/organization"
	const office = "203.0.113.8"
	if r := app.Do(t, "GET", path, org.AdminKey, nil, "X-Forwarded-For", office); r.Status != 200 {
		t.Fatalf("the admin key: %d %s", r.Status, r.Body)
	}
	for range server.AuthFailureBurst {
		expectProblem(t, app.Do(t, "GET", path, wrongKey(), nil, "X-Forwarded-For", office), 401, "unauthorized")
	}
	expectRetryAfter(t, app.Do(t, "GET", path, wrongKey(), nil, "X-Forwarded-For", office))
	if r := app.Do(t, "GET", path, org.AdminKey, nil, "X-Forwarded-For", office); r.Status != 200 {
		t.Fatalf("the admin key from the throttled address: %d %s", r.Status, r.Body)
	}
}

// TestWrongKeysAreThrottledPerPrefix: guesses spread over many addresses under one key's
// public prefix are throttled too, while that key, which this process has seen resolve,
// keeps working from anywhere.
func TestWrongKeysAreThrottledPerPrefix(t *testing.T) {
	app := apptest.Start(t, apptest.Options{TrustedProxies: []string{"127.0.0.1/32", "::1/128"}})
	org := app.SeedOrg(t, 0)
	const path = "/api/v1/admin/organization"
	if r := app.Do(t, "GET", path, org.AdminKey, nil, "X-Forwarded-For", "198.51.100.1"); r.Status != 200 {
		t.Fatalf("the admin key: %d %s", r.Status, r.Body)
	}
	prefix := strings.TrimSuffix(apikey.Display(org.AdminKey), "…")
	under := func(i int) string { return prefix + strings.Repeat(strconv.Itoa(i%10), 40) + strconv.Itoa(i) }
	for i := range server.AuthFailureBurst {
		expectProblem(t, app.Do(t, "GET", path, under(i), nil, "X-Forwarded-For", "203.0.113."+strconv.Itoa(i+1)), 401, "unauthorized")
	}
	expectRetryAfter(t, app.Do(t, "GET", path, under(server.AuthFailureBurst), nil, "X-Forwarded-For", "192.0.2.1"))
	if r := app.Do(t, "GET", path, org.AdminKey, nil, "X-Forwarded-For", "192.0.2.2"); r.Status != 200 {
		t.Fatalf("the admin key under a throttled prefix: %d %s", r.Status, r.Body)
	}
}

// TestWrongKeyIsLookedUpOnce: a client repeating a wrong key costs one lookup; the
// repeats are answered from memory, and every failure is counted by reason.
func TestWrongKeyIsLookedUpOnce(t *testing.T) {
	lookups := querycount.Containing("api_keys")
	app := apptest.Start(t, apptest.Options{QueryHook: lookups})
	app.SeedOrg(t, 0)
	key := wrongKey()
	before := lookups.Count()
	for range 5 {
		expectProblem(t, app.Do(t, "GET", "/api/v1/admin/organization", key, nil), 401, "unauthorized")
	}
	if n := lookups.Count() - before; n != 1 {
		t.Errorf("5 requests with one wrong key ran %d api_keys lookups, want 1", n)
	}
	expectProblem(t, app.Do(t, "GET", "/api/v1/admin/organization", "", nil), 401, "unauthorized")
	body := app.Scrape(t)
	for reason, want := range map[string]float64{"unknown_key": 1, "unknown_key_cached": 4, "missing": 1, "throttled": 0} {
		if got := metricValue(t, body, `retryd_auth_failures_total{reason="`+reason+`"}`); got != want {
			t.Errorf("auth failures %s = %v, want %v", reason, got, want)
		}
	}
	if regexp.MustCompile(regexp.QuoteMeta(key[:12])).MatchString(body) {
		t.Error("/metrics carries key material")
	}
}

// TestSignInSharesTheThrottle: failures through the API count against the admin pages'
// sign-in from the same address, which answers 429 once they are spent.
func TestSignInSharesTheThrottle(t *testing.T) {
	app := apptest.Start(t, apptest.Options{})
	app.SeedOrg(t, 0)
	for range server.AuthFailureBurst {
		expectProblem(t, app.Do(t, "GET", "/api/v1/admin/organization", wrongKey(), nil), 401, "unauthorized")
	}
	a := newPageClient(t, app).signIn(wrongKey())
	expectPage(t, a, 429, "Too many")
	if s, err := strconv.Atoi(a.Header.Get("Retry-After")); err != nil || s < 1 {
		t.Fatalf("Retry-After = %q", a.Header.Get("Retry-After"))
	}
}
