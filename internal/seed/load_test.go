package seed

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/headshotpro/retryd/internal/apikey"
	"github.com/headshotpro/retryd/internal/store"
)

var tables = []string{"organizations", "admins", "api_keys", "members", "shoots", "results"}

func rowCounts(t testing.TB, db bun.IDB) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, tbl := range tables {
		n, err := db.NewSelect().Table(tbl).Count(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		out[tbl] = int(n)
	}
	return out
}

func TestLoadDemoTwice(t *testing.T) {
	db := testDB(t)
	ctx := context.Background()
	now := time.Now()
	f, err := Demo(now)
	if err != nil {
		t.Fatal(err)
	}

	rep, err := Load(ctx, db, f)
	if err != nil {
		t.Fatal(err)
	}
	want := Report{Organizations: 1, Admins: 1, APIKeys: 2, Members: 15, Shoots: 16, Results: 7 * 8}
	if fmt.Sprint(rep) != fmt.Sprint(want) {
		t.Fatalf("first load: %+v, want %+v", rep, want)
	}
	before := rowCounts(t, db)

	// An admin's change after seeding must survive a second run.
	mayaID := f.Organizations[0].Members[0].ID
	if _, err := db.NewUpdate().Table("members").Set("retry_credits = 7").Where("id = ?", mayaID).Exec(ctx); err != nil {
		t.Fatal(err)
	}

	f2, err := Demo(now.Add(48 * time.Hour)) // other timestamps must not matter either
	if err != nil {
		t.Fatal(err)
	}
	rep, err = Load(ctx, db, f2)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(rep) != fmt.Sprint(Report{}) {
		t.Fatalf("second load inserted rows: %+v", rep)
	}
	if after := rowCounts(t, db); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatalf("row counts changed: %v -> %v", before, after)
	}
	var credits int
	if err := db.NewSelect().Table("members").Column("retry_credits").Where("id = ?", mayaID).Scan(ctx, &credits); err != nil {
		t.Fatal(err)
	}
	if credits != 7 {
		t.Fatalf("second load overwrote a member: retry_credits %d", credits)
	}

	// The dashboard's choice of each member's most recent shoot puts them in the
	// sections the demo promises.
	var latest []struct {
		Name   string `bun:"name"`
		Status string `bun:"status"`
	}
	err = db.NewRaw(`SELECT DISTINCT ON (m.id) m.name, s.status
		FROM members m JOIN shoots s ON s.member_id = m.id
		WHERE m.org_id = ? ORDER BY m.id, s.created_at DESC, s.id DESC`, DemoOrgID).Scan(ctx, &latest)
	if err != nil {
		t.Fatal(err)
	}
	sections := map[string]int{}
	for _, l := range latest {
		sections[l.Status]++
		if l.Name == "Olivia Brown" && l.Status != "active" {
			t.Errorf("Olivia Brown's most recent shoot is %s, want the active one listed last", l.Status)
		}
	}
	if sections["active"] != 7 || sections["deleted"] != 3 {
		t.Errorf("sections by most recent shoot: %v", sections)
	}

	// Every shoot is created before it completed or was deleted.
	var bad int64
	bad, err = db.NewSelect().Table("shoots").
		Where("created_at > completed_at OR created_at > deleted_at OR created_at > now()").Count(ctx)
	if err != nil || bad != 0 {
		t.Errorf("%d shoots created after they finished (err %v)", bad, err)
	}
}

func TestLoadKeepsGivenIDsAndReportsGenerated(t *testing.T) {
	db := testDB(t)
	ctx := context.Background()
	orgID := uuid.NewString()
	completed := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	f := &File{Organizations: []Organization{{
		ID: strings.ToUpper(orgID), Name: "Globex", CreditBalance: 3,
		Admins: []Admin{{Email: "hank@globex.test", Name: "Hank", Role: "admin"}},
		Members: []Member{
			{Name: "Homer", Email: ptr("homer@globex.test"), Kind: "individual", RetryCredits: 1,
				FreeRetryAvailable: ptr(false),
				Shoots:             []Shoot{{Status: "active", CompletedAt: &completed, Results: 3, RetryCount: 1}}},
			{ID: "6f1d5a3c-9b2e-4c7d-8e1f-2a3b4c5d6e7f", Name: "Marge", Kind: "managed",
				Shoots: []Shoot{{ID: "7f1d5a3c-9b2e-4c7d-8e1f-2a3b4c5d6e7f", Status: "onboarding"}}},
		},
	}}}
	if err := f.Validate(); err != nil {
		t.Fatal(err)
	}
	rep, err := Load(ctx, db, f)
	if err != nil {
		t.Fatal(err)
	}
	gen := map[string]string{}
	for _, g := range rep.Generated {
		u, err := uuid.Parse(g.ID)
		if err != nil || u.Version() != 5 {
			t.Errorf("%s: generated id %q is not a v5 (derived) uuid", g.Path, g.ID)
		}
		gen[g.Path] = g.ID
	}
	wantPaths := []string{"organizations[0].admins[0].id", "organizations[0].members[0].id", "organizations[0].members[0].shoots[0].id"}
	if len(gen) != len(wantPaths) {
		t.Fatalf("generated: %+v, want paths %v", rep.Generated, wantPaths)
	}
	for _, p := range wantPaths {
		if gen[p] == "" {
			t.Errorf("no generated id for %s", p)
		}
	}
	if f.Organizations[0].Members[0].ID != "" {
		t.Error("Load must not change the caller's file")
	}
	// Derived from the given org id (in canonical form) and the stable parts of each row.
	homerID := derivedMemberID(orgID, &f.Organizations[0].Members[0], 0)
	for p, want := range map[string]string{
		"organizations[0].admins[0].id":            derivedAdminID(orgID, "hank@globex.test"),
		"organizations[0].members[0].id":           homerID,
		"organizations[0].members[0].shoots[0].id": derivedShootID(homerID, 0),
	} {
		if gen[p] != want {
			t.Errorf("%s: generated %s, want %s", p, gen[p], want)
		}
	}

	var org store.Organization
	if err := db.NewSelect().Model(&org).Where("id = ?", orgID).Scan(ctx); err != nil {
		t.Fatalf("given org id not kept: %v", err)
	}
	var homer store.Member
	if err := db.NewSelect().Model(&homer).Where("id = ?", gen["organizations[0].members[0].id"]).Scan(ctx); err != nil {
		t.Fatal(err)
	}
	if homer.OrgID != orgID || homer.RetryCredits != 1 || homer.FreeRetryAvailable || homer.Kind != "individual" {
		t.Errorf("homer: %+v", homer)
	}
	var marge store.Member
	if err := db.NewSelect().Model(&marge).Where("id = ?", "6f1d5a3c-9b2e-4c7d-8e1f-2a3b4c5d6e7f").Scan(ctx); err != nil {
		t.Fatalf("given member id not kept: %v", err)
	}
	if marge.Email != nil || !marge.FreeRetryAvailable || marge.RetryCredits != 0 {
		t.Errorf("marge: defaults not applied: %+v", marge)
	}

	var shoot store.Shoot
	if err := db.NewSelect().Model(&shoot).Where("id = ?", gen["organizations[0].members[0].shoots[0].id"]).Scan(ctx); err != nil {
		t.Fatal(err)
	}
	if shoot.OrgID != orgID || shoot.MemberID != homer.ID || shoot.Status != "active" || shoot.RetryCount != 1 ||
		shoot.CompletedAt == nil || !shoot.CompletedAt.Equal(completed) || shoot.NextSubmissionFree {
		t.Errorf("shoot: %+v", shoot)
	}
	var results []store.Result
	if err := db.NewSelect().Model(&results).Where("shoot_id = ?", shoot.ID).Order("storage_key").Scan(ctx); err != nil {
		t.Fatal(err)
	}
	if len(results) != 3 {
		t.Fatalf("want 3 results, got %d", len(results))
	}
	for i, r := range results {
		if want := fmt.Sprintf("results/%s/%d.jpg", shoot.ID, i+1); r.StorageKey != want {
			t.Errorf("result %d: storage key %s, want %s", i, r.StorageKey, want)
		}
	}
	if n, _ := db.NewSelect().Table("results").Where("shoot_id = ?", "7f1d5a3c-9b2e-4c7d-8e1f-2a3b4c5d6e7f").Count(ctx); n != 0 {
		t.Errorf("onboarding shoot got %d results", n)
	}
}

// idlessFile has no ids at all: every row's id is derived.
const idlessFile = `{"organizations": [{
  "name": "Initrode", "credit_balance": 4,
  "admins": [{"email": "boss@initrode.test", "name": "Boss", "role": "owner", "api_key": "rk_initrode_boss_0123456789abcdefghijklmnopqrstuv"}],
  "automation_keys": ["rk_initrode_automation_0123456789abcdefghijklmn"],
  "members": [
    {"name": "Ada", "email": "ada@initrode.test", "kind": "individual",
     "shoots": [{"status": "deleted", "deleted_at": "2026-09-01T10:00:00Z"},
                {"status": "active", "completed_at": "2026-11-01T10:00:00Z", "results": 4}]},
    {"name": "Sam", "kind": "managed", "shoots": [{"status": "onboarding"}]},
    {"name": "Sam", "kind": "managed"}
  ]
}, {
  "name": "Vandelay", "members": [{"name": "Art", "email": "art@vandelay.test", "kind": "individual"}]
}]}`

func TestLoadWithoutIDsTwice(t *testing.T) {
	db := testDB(t)
	ctx := context.Background()

	load := func() Report {
		t.Helper()
		f, err := Parse(strings.NewReader(idlessFile))
		if err != nil {
			t.Fatal(err)
		}
		rep, err := Load(ctx, db, f)
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	first := load()
	counts := func(r Report) [6]int {
		return [6]int{r.Organizations, r.Admins, r.APIKeys, r.Members, r.Shoots, r.Results}
	}
	// organizations, admins, api keys, members, shoots, results
	if want := [6]int{2, 1, 2, 4, 3, 4}; counts(first) != want {
		t.Fatalf("first load: %v, want %v", counts(first), want)
	}
	// 2 organizations, 1 admin, 4 members, 3 shoots.
	if len(first.Generated) != 10 {
		t.Fatalf("want 10 generated ids, got %+v", first.Generated)
	}
	seen := map[string]bool{}
	for _, g := range first.Generated {
		if u, err := uuid.Parse(g.ID); err != nil || u.Version() != 5 {
			t.Errorf("%s: %q is not a v5 uuid", g.Path, g.ID)
		}
		if seen[g.ID] {
			t.Errorf("%s: id %s generated twice", g.Path, g.ID)
		}
		seen[g.ID] = true
	}
	before := rowCounts(t, db)

	second := load()
	if counts(second) != [6]int{} {
		t.Fatalf("second load inserted rows: %+v", second)
	}
	if fmt.Sprint(second.Generated) != fmt.Sprint(first.Generated) {
		t.Fatalf("generated ids differ between runs:\n%v\n%v", first.Generated, second.Generated)
	}
	if after := rowCounts(t, db); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatalf("row counts changed: %v -> %v", before, after)
	}

	// Putting a printed id into the file keeps every other id.
	f, err := Parse(strings.NewReader(idlessFile))
	if err != nil {
		t.Fatal(err)
	}
	f.Organizations[0].ID = strings.ToUpper(first.Generated[0].ID)
	third, err := Load(ctx, db, f)
	if err != nil {
		t.Fatal(err)
	}
	if counts(third) != [6]int{} ||
		fmt.Sprint(third.Generated) != fmt.Sprint(first.Generated[1:]) {
		t.Fatalf("third load: %+v", third)
	}
}

func TestLoadStoresKeysHashed(t *testing.T) {
	db := testDB(t)
	ctx := context.Background()
	f := good(t)
	if _, err := Load(ctx, db, f); err != nil {
		t.Fatal(err)
	}
	o := f.Organizations[0]
	adminKey, autoKey := o.Admins[0].APIKey, o.AutomationKeys[0]

	var rows []store.APIKey
	if err := db.NewSelect().Model(&rows).Scan(ctx); err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 {
		t.Fatalf("want 2 keys, got %d", len(rows))
	}
	for _, r := range rows {
		switch {
		case bytes.Equal(r.KeyHash, apikey.Hash(adminKey)):
			if r.Role != "admin" || r.AdminID == nil || *r.AdminID != o.Admins[0].ID || r.Prefix != apikey.Display(adminKey) {
				t.Errorf("admin key row: %+v", r)
			}
		case bytes.Equal(r.KeyHash, apikey.Hash(autoKey)):
			if r.Role != "automation" || r.AdminID != nil || r.Prefix != apikey.Display(autoKey) {
				t.Errorf("automation key row: %+v", r)
			}
		default:
			t.Errorf("unexpected key row: %+v", r)
		}
		if r.OrgID != o.ID || r.RevokedAt != nil {
			t.Errorf("key row: %+v", r)
		}
	}

	// No column of any key row holds the secret, in any encoding Postgres prints.
	var dump []string
	if err := db.NewRaw(`SELECT k::text FROM api_keys k`).Scan(ctx, &dump); err != nil {
		t.Fatal(err)
	}
	for _, row := range dump {
		for _, secret := range []string{adminKey, autoKey, fmt.Sprintf("%x", adminKey), fmt.Sprintf("%x", autoKey)} {
			if strings.Contains(row, secret) {
				t.Errorf("api_keys row holds a plaintext key: %s", row)
			}
		}
	}
}

func TestLoadRefusesRowsOfAnotherOrganization(t *testing.T) {
	db := testDB(t)
	ctx := context.Background()
	if _, err := Load(ctx, db, good(t)); err != nil {
		t.Fatal(err)
	}
	before := rowCounts(t, db)

	tests := []struct {
		name   string
		mutate func(o *Organization, first Organization)
		path   string
	}{
		{"member of another org", func(o *Organization, first Organization) {
			o.Members[0].ID = first.Members[0].ID
		}, "organizations[0].members[0].id"},
		{"admin of another org", func(o *Organization, first Organization) {
			o.Admins[0].ID = first.Admins[0].ID
		}, "organizations[0].admins[0].id"},
		{"key of another org", func(o *Organization, first Organization) {
			o.AutomationKeys[0] = first.AutomationKeys[0]
		}, "organizations[0].automation_keys[0]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			first := good(t).Organizations[0]
			o := Organization{
				ID: uuid.NewString(), Name: "Initech",
				Admins:         []Admin{{ID: uuid.NewString(), Email: "bill@initech.test", Name: "Bill", Role: "owner"}},
				AutomationKeys: []string{"rk_initech_automation_0123456789abcdefghijklmnop"},
				Members:        []Member{{ID: uuid.NewString(), Name: "Peter", Email: ptr("peter@initech.test"), Kind: "individual"}},
			}
			tt.mutate(&o, first)
			_, err := Load(ctx, db, &File{Organizations: []Organization{o}})
			var ve *ValidationError
			if !errors.As(err, &ve) || ve.Path != tt.path {
				t.Fatalf("want an error at %s, got %v", tt.path, err)
			}
			if after := rowCounts(t, db); fmt.Sprint(after) != fmt.Sprint(before) {
				t.Fatalf("the failed organization was not rolled back: %v -> %v", before, after)
			}
		})
	}

	t.Run("shoot of another member", func(t *testing.T) {
		f := good(t)
		f.Organizations[0].Members[1].Shoots[0].ID = f.Organizations[0].Members[0].Shoots[0].ID
		f.Organizations[0].Members[0].Shoots = nil
		_, err := Load(ctx, db, f)
		var ve *ValidationError
		if !errors.As(err, &ve) || ve.Path != "organizations[0].members[1].shoots[0].id" {
			t.Fatalf("want an error at the moved shoot, got %v", err)
		}
	})
}

// bigFile is one organization of n members, each with a finished shoot of 8 results.
func bigFile(n int) *File {
	completed := time.Now().Add(-72 * time.Hour).UTC().Truncate(time.Second)
	o := Organization{
		ID: uuid.NewString(), Name: "Umbrella", CreditBalance: n,
		Admins:         []Admin{{ID: uuid.NewString(), Email: "ops@umbrella.test", Name: "Ops", Role: "owner", APIKey: "rk_umbrella_" + uuid.NewString()}},
		AutomationKeys: []string{"rk_umbrella_" + uuid.NewString()},
		Members:        make([]Member, n),
	}
	for i := range o.Members {
		o.Members[i] = Member{
			ID: uuid.NewString(), Name: fmt.Sprintf("Member %05d", i), Email: ptr(fmt.Sprintf("m%05d@umbrella.test", i)),
			Kind:   "individual",
			Shoots: []Shoot{{ID: uuid.NewString(), Status: "active", CompletedAt: &completed, Results: 8}},
		}
	}
	return &File{Organizations: []Organization{o}}
}

type countQueries struct{ n atomic.Int64 }

func (c *countQueries) BeforeQuery(ctx context.Context, _ *bun.QueryEvent) context.Context {
	c.n.Add(1)
	return ctx
}
func (c *countQueries) AfterQuery(context.Context, *bun.QueryEvent) {}

// TestLoadIsBulk guards the "10,000 members in seconds" promise by counting statements,
// which unlike a timing does not flake: a statement per row would be thousands.
func TestLoadIsBulk(t *testing.T) {
	db := testDB(t)
	ctx := context.Background()
	hook := &countQueries{}
	db = db.WithQueryHook(hook)

	const members = 2500
	f := bigFile(members)
	start := time.Now()
	rep, err := Load(ctx, db, f)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d members, %d results in %v, %d statements", rep.Members, rep.Results, time.Since(start), hook.n.Load())
	if rep.Members != members || rep.Shoots != members || rep.Results != 8*members || rep.APIKeys != 2 {
		t.Fatalf("report: %+v", rep)
	}
	// organization, admins, keys, 3 member chunks, 3 shoot chunks, 20 result chunks.
	if n := hook.n.Load(); n > 40 {
		t.Fatalf("%d statements for %d members: inserts are not batched", n, members)
	}

	// The second run looks up existing rows in bulk too.
	hook.n.Store(0)
	rep, err = Load(ctx, db, f)
	if err != nil || rep.Members+rep.Shoots+rep.Results+rep.APIKeys != 0 {
		t.Fatalf("second run: %+v, %v", rep, err)
	}
	if n := hook.n.Load(); n > 40 {
		t.Fatalf("%d statements on the second run: lookups are not batched", n)
	}
}

func BenchmarkLoad10kMembers(b *testing.B) {
	db := testDB(b)
	ctx := context.Background()
	var rows int
	for b.Loop() {
		b.StopTimer()
		f := bigFile(10_000)
		b.StartTimer()
		rep, err := Load(ctx, db, f)
		if err != nil {
			b.Fatal(err)
		}
		rows = rep.Organizations + rep.Admins + rep.APIKeys + rep.Members + rep.Shoots + rep.Results
	}
	b.ReportMetric(float64(rows), "rows/op")
}

func BenchmarkParse10kMembers(b *testing.B) {
	data, err := json.Marshal(bigFile(10_000))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Parse(bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
	}
}

// TestLoadAnalyzes checks that a load leaves statistics behind: a table never analyzed
// has reltuples -1, and the planner then guesses the dashboard's plans.
func TestLoadAnalyzes(t *testing.T) {
	db := testDB(t)
	ctx := context.Background()
	if _, err := Load(ctx, db, bigFile(50)); err != nil {
		t.Fatal(err)
	}
	for _, table := range analyzedTables {
		var tuples float64
		if err := db.NewRaw("SELECT reltuples FROM pg_class WHERE relname = ?", table).Scan(ctx, &tuples); err != nil {
			t.Fatal(err)
		}
		if tuples < 0 {
			t.Errorf("%s was not analyzed after the load (reltuples %v)", table, tuples)
		}
	}
}
