package server_test

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/headshotpro/retryd/internal/seed"
	"github.com/headshotpro/retryd/internal/tooling/apptest"
	"github.com/headshotpro/retryd/server"
)

// TestAdminAccess: keys of another organization see 404 (never 403), missing and bad keys
// get 401, automation keys are kept off the admin-only routes.
func TestAdminAccess(t *testing.T) {
	app := apptest.Start(t, apptest.Options{})
	orgA := app.SeedOrg(t, 5, person("Ada Alpha", finished(5, 8)), person("Ann Alpha", finished(4, 3)))
	orgB := app.SeedOrg(t, 5, person("Bea Beta", finished(5, 2)))
	adaID, adaShoots := seeded(orgA, 0)
	annID, annShoots := seeded(orgA, 1)

	retryID := expectJSON[server.RetryDTO](t, giveRetry(t, app, orgA.AdminKey, adaID, adaShoots[0]), 201).ID
	resendPath := "/api/v1/admin/members/" + adaID + "/retries/" + retryID + "/resend-email"

	t.Run("other_org_gets_404", func(t *testing.T) {
		kb := orgB.AdminKey
		expectProblem(t, app.Do(t, "GET", "/api/v1/admin/members/"+annID, kb, nil), 404, "not_found")
		expectProblem(t, app.Do(t, "GET", "/api/v1/admin/members/"+adaID, kb, nil), 404, "not_found")
		expectProblem(t, previewRetry(t, app, kb, annID, annShoots[0]), 404, "not_found")
		expectProblem(t, giveRetry(t, app, kb, annID, annShoots[0]), 404, "not_found")
		expectNoWorkflow(t, app, annShoots[0])
		expectProblem(t, app.Do(t, "POST", resendPath, kb, nil), 404, "not_found")
		// B's own member with A's retry id: still not found.
		beaID, _ := seeded(orgB, 0)
		expectProblem(t, app.Do(t, "POST", "/api/v1/admin/members/"+beaID+"/retries/"+retryID+"/resend-email", kb, nil), 404, "not_found")
		// Nothing of A changed: Ann keeps her allowance and her finished shoot.
		if c, f := allowanceOf(t, app, orgA.AdminKey, annID); c != 0 || !f {
			t.Fatalf("ann's allowance = %v, %v", c, f)
		}
		// B's dashboard does not list A's members.
		body := expectJSON[dashboard](t, app.Do(t, "GET", "/api/v1/admin/headshots", kb, nil), 200)
		total := 0
		for _, sec := range body.Sections {
			for _, c := range sec.Cards {
				total++
				if c.Member.Name != "Bea Beta" {
					t.Fatalf("B's dashboard shows %+v", c.Member)
				}
			}
		}
		if total != 1 {
			t.Fatalf("B's dashboard has %d cards, want 1", total)
		}
		if id := expectJSON[organization](t, app.Do(t, "GET", "/api/v1/admin/organization", kb, nil), 200).ID; id != orgB.ID {
			t.Fatalf("B's organization = %v", id)
		}
	})

	t.Run("missing_or_bad_key_gets_401", func(t *testing.T) {
		for _, bearer := range []string{"", "rk_test_nope_0123456789abcdef", orgA.AdminKey + "x", app.PipelineToken} {
			for _, req := range [][2]string{
				{"GET", "/api/v1/admin/organization"},
				{"GET", "/api/v1/admin/headshots"},
				{"GET", "/api/v1/admin/members/" + annID},
				{"GET", "/api/v1/admin/members/" + annID + "/retry-preview?shoot_id=" + annShoots[0]},
				{"POST", "/api/v1/admin/members/" + annID + "/retries"},
				{"POST", resendPath},
			} {
				var body any
				if req[0] == "POST" {
					body = map[string]any{"shoot_id": annShoots[0]}
				}
				r := app.Do(t, req[0], req[1], bearer, body)
				expectProblem(t, r, 401, "unauthorized")
				if !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer") {
					t.Fatalf("%s %s: WWW-Authenticate = %q", req[0], req[1], r.Header.Get("WWW-Authenticate"))
				}
			}
		}
		// A malformed Authorization header is 401 as well.
		r := app.Do(t, "GET", "/api/v1/admin/organization", "", nil, "Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("a:b")))
		expectProblem(t, r, 401, "unauthorized")
		expectNoWorkflow(t, app, annShoots[0])
	})

	t.Run("automation_key_roles", func(t *testing.T) {
		ka := orgA.AutomationKey
		expectProblem(t, giveRetry(t, app, ka, annID, annShoots[0]), 403, "forbidden_for_role")
		expectNoWorkflow(t, app, annShoots[0])
		expectProblem(t, app.Do(t, "GET", "/api/v1/admin/members/"+annID, ka, nil), 403, "forbidden_for_role")
		expectProblem(t, previewRetry(t, app, ka, annID, annShoots[0]), 403, "forbidden_for_role")
		expectProblem(t, app.Do(t, "POST", resendPath, ka, nil), 403, "forbidden_for_role")
		org := expectJSON[organization](t, app.Do(t, "GET", "/api/v1/admin/organization", ka, nil), 200)
		if org.ID != orgA.ID || org.Members != 2 {
			t.Fatalf("organization for automation = %+v", org)
		}
		if body := expectJSON[dashboard](t, app.Do(t, "GET", "/api/v1/admin/headshots", ka, nil), 200); len(body.Sections) != 3 {
			t.Fatalf("headshots for automation = %+v, want three sections", body)
		}
		if c, f := allowanceOf(t, app, orgA.AdminKey, annID); c != 0 || !f {
			t.Fatalf("ann's allowance = %v, %v", c, f)
		}
	})
}

// TestMemberTokenAccess: the member endpoints take only a genuine, unexpired token for
// the same shoot; every other token is 401 with a way to a fresh link.
func TestMemberTokenAccess(t *testing.T) {
	app := apptest.Start(t, apptest.Options{})
	org := app.SeedOrg(t, 5,
		person("Ola Onboarding", seed.Shoot{Status: "onboarding"}),
		person("Pia Other", seed.Shoot{Status: "onboarding"}))
	olaID, olaShoots := seeded(org, 0)
	piaID, piaShoots := seeded(org, 1)
	shoot := olaShoots[0]
	start := "/api/v1/member/shoots/" + shoot + "/start"
	submit := "/api/v1/member/shoots/" + shoot + "/submit"

	valid, _ := app.Links.Issue(olaID, shoot, time.Now())
	otherShoot, _ := app.Links.Issue(piaID, piaShoots[0], time.Now())
	expired, _ := app.Links.Issue(olaID, shoot, time.Now().Add(-31*24*time.Hour))

	// Tampered: another payload under the genuine signature, and a changed signature.
	enc, sig, _ := strings.Cut(valid, ".")
	raw, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil {
		t.Fatal(err)
	}
	forgedPayload := base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(raw), olaID, piaID, 1))) + "." + sig
	flipped := []byte(sig)
	mid := len(flipped) / 2
	if flipped[mid] == 'A' {
		flipped[mid] = 'B'
	} else {
		flipped[mid] = 'A'
	}
	forgedSig := enc + "." + string(flipped)

	for _, path := range []string{start, submit} {
		for name, tc := range map[string]struct {
			token string
			code  string
		}{
			"no token":          {"", "invalid_token"},
			"garbage":           {"not-a-token", "invalid_token"},
			"other shoot":       {otherShoot, "invalid_token"},
			"tampered payload":  {forgedPayload, "invalid_token"},
			"tampered sig":      {forgedSig, "invalid_token"},
			"admin api key":     {org.AdminKey, "invalid_token"},
			"expired (31 days)": {expired, "token_expired"},
		} {
			r := app.Do(t, "POST", path, tc.token, nil)
			p := expectProblem(t, r, 401, tc.code)
			if p.FreshLink != "/api/v1/member/link" {
				t.Fatalf("%s %s: fresh_link = %q", path, name, p.FreshLink)
			}
		}
	}
	// Nothing happened to the shoot or the balance.
	d := memberDetail(t, app, org.AdminKey, olaID)
	if sh := d.Shoots[0]; sh.Status != "onboarding" {
		t.Fatalf("shoot after refused member calls = %+v", sh)
	}
	if bal := expectJSON[organization](t, app.Do(t, "GET", "/api/v1/admin/organization", org.AdminKey, nil), 200).CreditBalance; bal != 5 {
		t.Fatalf("credit_balance = %v", bal)
	}
	// The genuine token works.
	expectStatus(t, app.Do(t, "POST", start, valid, nil), 200)
}

// TestPipelineAccess: the pipeline endpoints need the service token.
func TestPipelineAccess(t *testing.T) {
	app := apptest.Start(t, apptest.Options{})
	org := app.SeedOrg(t, 5, person("Wes Waiting", seed.Shoot{Status: "waiting"}))
	id, shoots := seeded(org, 0)
	link, _ := app.Links.Issue(id, shoots[0], time.Now())
	for _, op := range []string{"complete", "fail"} {
		path := "/api/v1/internal/shoots/" + shoots[0] + "/" + op
		for _, bearer := range []string{"", "wrong-" + app.PipelineToken, app.PipelineToken[:len(app.PipelineToken)-1], org.AdminKey, org.AutomationKey, link} {
			r := app.Do(t, "POST", path, bearer, map[string]any{"result_count": 3})
			expectProblem(t, r, 401, "unauthorized")
		}
	}
	if sh := memberDetail(t, app, org.AdminKey, id).Shoots[0]; sh.Status != "waiting" || sh.ResultCount != 0 {
		t.Fatalf("shoot after refused pipeline calls = %+v", sh)
	}
	r := app.Do(t, "POST", "/api/v1/internal/shoots/"+shoots[0]+"/complete", app.PipelineToken, map[string]any{"result_count": 3})
	if got := expectJSON[shootAnswer](t, r, 200).Shoot; got.Status != "active" {
		t.Fatalf("complete with the token = %+v", got)
	}
}
