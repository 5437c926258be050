package server_test

import (
	"net/url"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/headshotpro/retryd/internal/seed"
	"github.com/headshotpro/retryd/internal/tooling/apptest"
	"github.com/headshotpro/retryd/server"
)

// queryChars are the characters a client puts in a query string unescaped; anything
// else would have to be percent-encoded, which the fuzzer can do too.
var queryChars = regexp.MustCompile(`^[A-Za-z0-9\-._~!$&'()*+,;=:@/?%]*$`)

// FuzzAdminAPI sends arbitrary requests to every admin route the router registers,
// through the whole running service (Postgres, Temporal, the worker), with a real admin
// or automation key, so the input reaches the handlers' own decoding: path ids, query
// parameters (section, limit, q, cursor, shoot_id), the Idempotency-Key header and the
// body. Placeholders {M}, {S}, {R} and {D} in the path parameter, query and body become
// a member's id, its finished shoot's, a pending retry's and a managed member's with a
// deleted shoot, so inputs start from real records and mutate away from them.
//
// Whatever arrives: no 500, refusals are problem+json, and the answer matches the
// OpenAPI document (apptest checks every answer against it). A 503 or 504 is a slow
// dependency, not the input's doing, and is tolerated.
//
// fuzz.sh: at least 30s
func FuzzAdminAPI(f *testing.F) {
	app := apptest.Start(f, apptest.Options{})
	org := app.SeedOrg(f, 10,
		person("Ada Fuzz", finished(5, 3)),
		person("Rae Fuzz", finished(5, 3)),
		seed.Member{Name: "Mo Fuzz", Kind: "managed", Shoots: []seed.Shoot{deletedShoot()}})
	member, shoots := seeded(org, 0)
	rae, raeShoots := seeded(org, 1)
	managed := seededID(org, 2)
	retryID := expectJSON[server.RetryDTO](f, giveRetry(f, app, org.AdminKey, rae, raeShoots[0]), 201).ID
	ids := strings.NewReplacer("{M}", member, "{S}", shoots[0], "{R}", retryID, "{D}", managed)

	var routes []gin.RouteInfo
	for _, r := range app.Routes() {
		if strings.HasPrefix(r.Path, "/api/v1/admin/") {
			routes = append(routes, r)
		}
	}
	sort.Slice(routes, func(i, j int) bool { return routes[i].Method+routes[i].Path < routes[j].Method+routes[j].Path })

	for i := range routes {
		f.Add(byte(i), "{M}|{R}", "", byte(0), "", []byte(`{"shoot_id":"{S}"}`))
		f.Add(byte(i), "{D}", "", byte(1), "k-1", []byte(`{"member_ids":["{D}","{M}","x"]}`))
		// One member named twice (in another case): refused before the key is claimed.
		f.Add(byte(i), "{D}|{R}", "", byte(0), "k-dup", []byte(`{"member_ids":["{D}"],"MEMBER_IDS":["{M}"],"shoot_id":"{S}","Shoot_Id":"{S}"}`))
	}
	for _, q := range []string{"section=finished&limit=1", "section=deleted&limit=100&q=Mo", "limit=0", "q=%00",
		"section=finished&cursor=eyJuIjoiQSIsImkiOiJ1cm46dXVpZDp7TX0ifQ", "shoot_id={S}", "shoot_id=urn:uuid:{S}"} {
		f.Add(byte(0), "{M}", q, byte(0), "", []byte(nil))
	}
	f.Add(byte(0), "{M}", "", byte(0), "k-2", []byte(`{"shoot_id":"{S}","reason":"Bad lighting!","note":"\u00e9"}`))

	f.Fuzz(func(t *testing.T, route byte, param, query string, key byte, idempotencyKey string, body []byte) {
		r := routes[int(route)%len(routes)]
		values := strings.Split(ids.Replace(param), "|")
		segs, n := strings.Split(r.Path, "/"), 0
		for i, seg := range segs {
			if strings.HasPrefix(seg, ":") {
				segs[i] = url.PathEscape(values[min(n, len(values)-1)])
				n++
			}
		}
		target := strings.Join(segs, "/")
		if query = ids.Replace(query); query != "" {
			if !queryChars.MatchString(query) {
				return // not a query a client can send as is
			}
			target += "?" + query
		}
		if _, err := url.ParseRequestURI(app.URL + target); err != nil {
			return
		}
		var headers []string
		if idempotencyKey != "" {
			if !validHeaderValue(idempotencyKey) {
				return
			}
			headers = []string{"Idempotency-Key", idempotencyKey}
		}
		bearer := org.AdminKey
		if key%2 == 1 {
			bearer = org.AutomationKey
		}
		var sent any
		if body != nil {
			sent = []byte(ids.Replace(string(body)))
		}
		resp := app.Do(t, r.Method, target, bearer, sent, headers...)
		if resp.Status >= 500 {
			code := codeOf(t, resp)
			if (resp.Status != 503 || code != "unavailable") && (resp.Status != 504 || code != "timeout") {
				t.Fatalf("%s %s: %d: %s", r.Method, target, resp.Status, resp.Body)
			}
		}
		if resp.Status >= 400 && !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/problem+json") {
			t.Fatalf("%s %s: %d with Content-Type %q", r.Method, target, resp.Status, resp.Header.Get("Content-Type"))
		}
	})
}

// validHeaderValue is what net/http will send: no control characters but tab, no
// surrounding space (which it would trim).
func validHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return false
		}
	}
	return v == strings.TrimSpace(v)
}
