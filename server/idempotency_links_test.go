package server_test

import (
	"context"
	"encoding/json"
	"net/url"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/headshotpro/retryd/internal/seed"
	"github.com/headshotpro/retryd/internal/tooling/apptest"
	"github.com/headshotpro/retryd/server"
)

// storedAnswer is the answer Postgres holds for an Idempotency-Key of the organization.
func storedAnswer(t *testing.T, app *apptest.App, orgID, key string) string {
	t.Helper()
	var raw []byte
	if err := app.DB.NewRaw("SELECT response FROM idempotency_keys WHERE org_id = ? AND key = ?", orgID, key).
		Scan(context.Background(), &raw); err != nil {
		t.Fatalf("stored answer of %s: %v", key, err)
	}
	if len(raw) == 0 {
		t.Fatalf("no answer stored under %s", key)
	}
	return string(raw)
}

// expectNoLink fails when a stored answer holds an access link or a link token.
func expectNoLink(t *testing.T, stored string, tokens ...string) {
	t.Helper()
	for _, s := range append([]string{"access_link", "token="}, tokens...) {
		if strings.Contains(stored, s) {
			t.Errorf("the stored answer holds %q: %s", s, stored)
		}
	}
}

// verifyLink checks an access link with the service's signer: it is for this member and
// shoot, and opens that shoot's start page. It returns the link's token.
func verifyLink(t *testing.T, app *apptest.App, link *string, memberID, shootID string) string {
	t.Helper()
	if link == nil {
		t.Fatalf("no access_link for member %s", memberID)
	}
	u, err := url.Parse(*link)
	if err != nil || !strings.HasSuffix(u.Path, "/app/shoots/"+shootID+"/start") {
		t.Fatalf("access_link %q does not open shoot %s (%v)", *link, shootID, err)
	}
	token := u.Query().Get("token")
	claims, err := app.Links.Verify(token, time.Now())
	if err != nil || claims.MemberID != memberID || claims.ShootID != shootID {
		t.Fatalf("access_link %q: claims %+v, %v; want member %s shoot %s", *link, claims, err, memberID, shootID)
	}
	return token
}

var accessLinkMember = regexp.MustCompile(`"access_link":"[^"]*"`)

// sansLinks is an answer with its access links blanked: a replay signs them afresh, so
// they may differ from the first answer's while everything else is the same.
func sansLinks(body []byte) string {
	return accessLinkMember.ReplaceAllString(string(body), `"access_link":""`)
}

// withoutLink is a restart answer with its access link left out, to compare shapes.
func withoutLink(a server.RestartAnswer) server.RestartAnswer {
	a.AccessLink = nil
	return a
}

// TestStoredAnswersHoldNoLinks: the answer an Idempotency-Key keeps for a restart of a
// member without email holds no access link (a live credential for 30 days; sessions are
// stored hashed too), and a replay answers with a freshly signed one, valid for the
// member and the new shoot. The same for each restart of a bulk call. An answer stored
// before, with its link in it, still replays with a valid link.
func TestStoredAnswersHoldNoLinks(t *testing.T) {
	app := apptest.Start(t, apptest.Options{})
	org := app.SeedOrg(t, 5,
		seed.Member{Name: "Nia NoEmail", Kind: "managed", Shoots: []seed.Shoot{deletedShoot()}},
		seed.Member{Name: "Ned NoEmail", Kind: "managed", Shoots: []seed.Shoot{deletedShoot()}},
		seed.Member{Name: "Eve Email", Email: apptest.Ptr("eve@acme.test"), Kind: "managed", Shoots: []seed.Shoot{deletedShoot()}},
	)
	nia, _ := seeded(org, 0)
	ned, _ := seeded(org, 1)
	eve, _ := seeded(org, 2)

	// One restart.
	path := "/api/v1/admin/members/" + nia + "/restarts"
	first := app.Do(t, "POST", path, org.AdminKey, nil, "Idempotency-Key", "links-one")
	got := expectJSON[server.RestartAnswer](t, first, 201)
	token := verifyLink(t, app, got.AccessLink, nia, got.NewShootID)
	expectNoLink(t, storedAnswer(t, app, org.ID, "links-one"), token)

	again := app.Do(t, "POST", path, org.AdminKey, nil, "Idempotency-Key", "links-one")
	replayed := expectJSON[server.RestartAnswer](t, again, 201)
	if again.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("the second answer is not a replay: %s", again.Body)
	}
	verifyLink(t, app, replayed.AccessLink, nia, got.NewShootID)
	if !reflect.DeepEqual(withoutLink(replayed), withoutLink(got)) {
		t.Fatalf("replay = %s\nfirst = %s", again.Body, first.Body)
	}
	if k1, k2 := jsonKeys(t, first.Body), jsonKeys(t, again.Body); !reflect.DeepEqual(k1, k2) {
		t.Fatalf("replay members %v, first %v", k2, k1)
	}

	// A bulk call: each restarted member without email gets a link, none is stored.
	body := map[string]any{"member_ids": []string{ned, eve}}
	bulk := app.Do(t, "POST", "/api/v1/admin/restarts", org.AutomationKey, body, "Idempotency-Key", "links-bulk")
	results := expectJSON[bulkAnswer](t, bulk, 200).Results
	if len(results) != 2 || results[0].Restart == nil || results[1].Restart == nil {
		t.Fatalf("bulk = %s", bulk.Body)
	}
	nedShoot := results[0].Restart.NewShootID
	token = verifyLink(t, app, results[0].Restart.AccessLink, ned, nedShoot)
	if results[1].Restart.AccessLink != nil {
		t.Fatalf("a member with email got a link in the answer: %s", bulk.Body)
	}
	expectNoLink(t, storedAnswer(t, app, org.ID, "links-bulk"), token)
	bulkAgain := app.Do(t, "POST", "/api/v1/admin/restarts", org.AutomationKey, body, "Idempotency-Key", "links-bulk")
	replayedResults := expectJSON[bulkAnswer](t, bulkAgain, 200).Results
	if bulkAgain.Header.Get("Idempotent-Replayed") != "true" || len(replayedResults) != 2 || replayedResults[0].Restart == nil {
		t.Fatalf("bulk replay = %s", bulkAgain.Body)
	}
	verifyLink(t, app, replayedResults[0].Restart.AccessLink, ned, nedShoot)
	for i := range results {
		a, b := results[i], replayedResults[i]
		if b.Restart == nil || !reflect.DeepEqual(withoutLink(*a.Restart), withoutLink(*b.Restart)) || a.Outcome != b.Outcome || a.MemberID != b.MemberID {
			t.Fatalf("bulk replay result %d = %+v, first %+v", i, b, a)
		}
	}
	if k1, k2 := jsonKeys(t, bulk.Body), jsonKeys(t, bulkAgain.Body); !reflect.DeepEqual(k1, k2) {
		t.Fatalf("bulk replay members %v, first %v", k2, k1)
	}

	// An answer stored the old way, link and all, replays with a valid link.
	if _, err := app.DB.NewRaw("UPDATE idempotency_keys SET response = ? WHERE org_id = ? AND key = ?",
		first.Body, org.ID, "links-one").Exec(context.Background()); err != nil {
		t.Fatal(err)
	}
	old := expectJSON[server.RestartAnswer](t, app.Do(t, "POST", path, org.AdminKey, nil, "Idempotency-Key", "links-one"), 201)
	verifyLink(t, app, old.AccessLink, nia, got.NewShootID)
	if !reflect.DeepEqual(withoutLink(old), withoutLink(got)) {
		t.Fatalf("replay of an answer stored with its link = %+v, want %+v", old, got)
	}
	var stored map[string]json.RawMessage
	if err := json.Unmarshal(first.Body, &stored); err != nil || stored["access_link"] == nil {
		t.Fatalf("the old-style answer must hold the link for this check to mean anything: %s", first.Body)
	}
}
