package server_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/headshotpro/retryd/internal/seed"
	"github.com/headshotpro/retryd/internal/tooling/apptest"
)

// A bulk restart form may carry a member id in upper case (the API takes any case): the
// results page still names the member it restarted.
func TestBulkRestartPageNamesUpperCaseIDs(t *testing.T) {
	app := apptest.Start(t, apptest.Options{})
	org := app.SeedOrg(t, 5, seed.Member{Name: "Hana Deleted", Email: apptest.Ptr("hana@acme.test"), Kind: "managed", Shoots: []seed.Shoot{deletedShoot()}})
	id, _ := seeded(org, 0)
	pc := newPageClient(t, app)
	if a := pc.signIn(org.AdminKey); a.Status != 303 {
		t.Fatalf("sign-in = %d", a.Status)
	}
	dash := pc.do("GET", "/app/admin/headshots?section=deleted", nil)
	a := pc.do("POST", "/app/admin/restarts", url.Values{
		"csrf": {formField(t, dash.Body, "csrf")}, "idempotency_key": {uuid.NewString()},
		"member_id": {strings.ToUpper(id)},
	})
	expectPage(t, a, 200, "Hana Deleted", "Restarted.")
	if strings.Contains(a.Body, "A member not in your organization") {
		t.Errorf("the results page does not name the member it restarted:\n%s", a.Body)
	}
}
