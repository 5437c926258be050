package seed

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/headshotpro/retryd/internal/apikey"
)

const goodFile = `{"organizations": [{
  "id": "0b5f6a2e-1c3d-4e5f-8a9b-0c1d2e3f4a5b", "name": "Acme", "credit_balance": 10,
  "admins": [{"id": "1b5f6a2e-1c3d-4e5f-8a9b-0c1d2e3f4a5b", "email": "lead@acme.test", "name": "Lee",
              "role": "owner", "api_key": "rk_test_admin_key_0123456789abcdefghijklmnopqrstuvwxyz"}],
  "automation_keys": ["rk_test_automation_key_0123456789abcdefghijklmnopqrstuvwxyz"],
  "members": [{
    "id": "2b5f6a2e-1c3d-4e5f-8a9b-0c1d2e3f4a5b", "name": "Ada", "email": "ada@acme.test", "kind": "individual",
    "retry_credits": 0, "free_retry_available": true,
    "shoots": [{"id": "3b5f6a2e-1c3d-4e5f-8a9b-0c1d2e3f4a5b", "status": "active", "completed_at": "2026-11-01T10:00:00Z",
                "deleted_at": null, "retry_count": 0, "results": 8}]
  }, {
    "name": "Max", "kind": "managed",
    "shoots": [{"status": "deleted", "deleted_at": "2026-10-01T10:00:00+02:00"}]
  }]
}]}`

func TestParseGoodFile(t *testing.T) {
	f, err := Parse(strings.NewReader(goodFile))
	if err != nil {
		t.Fatal(err)
	}
	o := f.Organizations[0]
	if o.Name != "Acme" || o.CreditBalance != 10 || len(o.Admins) != 1 || len(o.AutomationKeys) != 1 || len(o.Members) != 2 {
		t.Fatalf("unexpected organization: %+v", o)
	}
	ada, max := o.Members[0], o.Members[1]
	if ada.Email == nil || *ada.Email != "ada@acme.test" || ada.FreeRetryAvailable == nil || !*ada.FreeRetryAvailable {
		t.Errorf("ada: %+v", ada)
	}
	want := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	if s := ada.Shoots[0]; s.CompletedAt == nil || !s.CompletedAt.Equal(want) || s.Results != 8 || s.DeletedAt != nil {
		t.Errorf("ada's shoot: %+v", s)
	}
	if max.ID != "" || max.Email != nil || max.FreeRetryAvailable != nil || max.Shoots[0].DeletedAt == nil {
		t.Errorf("max: %+v", max)
	}
}

// TestParseShapeErrors covers what encoding/json rejects, with the path it does not give.
func TestParseShapeErrors(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"empty", ``, "seed file: empty"},
		{"syntax", "{\"organizations\": [\n  {\"name\": \"Acme\",}\n]}", "invalid JSON at line 2, column 19"},
		{"truncated", `{"organizations": [`, "unexpected end of file"},
		{"trailing data", `{"organizations": []} {}`, "unexpected data after the top-level object"},
		{"not an object", `[]`, "seed file: must be an object"},
		{"unknown top-level field", `{"orgs": []}`, `orgs: unknown field`},
		{"unknown member field", `{"organizations": [{"name": "A", "members": [{"name": "B", "colour": "red"}]}]}`,
			`organizations[0].members[0].colour: unknown field`},
		{"case differs", `{"organizations": [{"Name": "A"}]}`, `organizations[0].Name: unknown field (did you mean "name"?)`},
		{"string for number", `{"organizations": [{"name": "A", "credit_balance": "10"}]}`,
			`organizations[0].credit_balance: must be a whole number`},
		{"fraction", `{"organizations": [{"name": "A", "credit_balance": 1.5}]}`,
			`organizations[0].credit_balance: must be a whole number, got 1.5`},
		{"null name", `{"organizations": [{"name": null}]}`, `organizations[0].name: must be a string`},
		{"bool as string", `{"organizations": [{"name": "A", "members": [{"free_retry_available": "yes"}]}]}`,
			`organizations[0].members[0].free_retry_available: must be true or false`},
		{"object for array", `{"organizations": {}}`, `organizations: must be an array`},
		{"bad timestamp", `{"organizations": [{"name": "A", "members": [{"shoots": [{"status": "active", "completed_at": "yesterday"}]}]}]}`,
			`organizations[0].members[0].shoots[0].completed_at: must be an RFC 3339 timestamp like 2026-11-01T10:00:00Z, got "yesterday"`},
		{"date without time", `{"organizations": [{"name": "A", "members": [{"shoots": [{"deleted_at": "2026-11-01"}]}]}]}`,
			`organizations[0].members[0].shoots[0].deleted_at: must be an RFC 3339 timestamp`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(strings.NewReader(tt.in))
			if err == nil {
				t.Fatalf("no error, want %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

func good(t *testing.T) *File {
	t.Helper()
	f, err := Parse(strings.NewReader(goodFile))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func ptr[T any](v T) *T { return &v }

// TestValidateErrors covers each rule, through Validate and through Parse of the same
// file, and checks the path is the one the operator has to fix.
func TestValidateErrors(t *testing.T) {
	const m0 = "organizations[0].members[0]"
	const s0 = m0 + ".shoots[0]"
	tests := []struct {
		name   string
		mutate func(f *File)
		path   string
		msg    string
	}{
		{"no organizations", func(f *File) { f.Organizations = nil }, "organizations", "must list at least one organization"},
		{"bad org id", func(f *File) { f.Organizations[0].ID = "acme" }, "organizations[0].id", `must be a UUID`},
		{"undashed uuid", func(f *File) { f.Organizations[0].ID = "0b5f6a2e1c3d4e5f8a9b0c1d2e3f4a5b" }, "organizations[0].id", `must be a UUID`},
		{"empty org name", func(f *File) { f.Organizations[0].Name = "  " }, "organizations[0].name", "must not be empty"},
		{"negative balance", func(f *File) { f.Organizations[0].CreditBalance = -1 }, "organizations[0].credit_balance", "must not be negative, got -1"},
		{"balance beyond integer", func(f *File) { f.Organizations[0].CreditBalance = 1 << 31 }, "organizations[0].credit_balance", "must be at most 2147483647"},
		{"admin role", func(f *File) { f.Organizations[0].Admins[0].Role = "member" }, "organizations[0].admins[0].role", `must be "owner" or "admin", got "member"`},
		{"admin email", func(f *File) { f.Organizations[0].Admins[0].Email = "Lee <lead@acme.test>" }, "organizations[0].admins[0].email", "must be a plain email address"},
		{"admin without email", func(f *File) { f.Organizations[0].Admins[0].Email = "" }, "organizations[0].admins[0].email", "must not be empty"},
		{"admin id", func(f *File) { f.Organizations[0].Admins[0].ID = "{1b5f6a2e-1c3d-4e5f-8a9b-0c1d2e3f4a5b}" }, "organizations[0].admins[0].id", "must be a UUID"},
		{"empty automation key", func(f *File) { f.Organizations[0].AutomationKeys[0] = "" }, "organizations[0].automation_keys[0]", "must not be empty"},
		{"key with a space", func(f *File) { f.Organizations[0].AutomationKeys[0] = "rk_test automation key 0123" }, "organizations[0].automation_keys[0]", "must not contain spaces"},
		{"repeated key", func(f *File) { f.Organizations[0].AutomationKeys[0] = f.Organizations[0].Admins[0].APIKey }, "organizations[0].automation_keys[0]", "repeats the key of organizations[0].admins[0].api_key"},
		{"member kind", func(f *File) { f.Organizations[0].Members[0].Kind = "guest" }, m0 + ".kind", `must be "individual" or "managed", got "guest"`},
		{"individual without email", func(f *File) { f.Organizations[0].Members[0].Email = nil }, m0 + ".email", "an individual member needs an email"},
		{"empty member email", func(f *File) { f.Organizations[0].Members[1].Email = ptr("") }, "organizations[0].members[1].email", "must not be empty"},
		{"bad member email", func(f *File) { f.Organizations[0].Members[0].Email = ptr("ada at acme") }, m0 + ".email", `must be a plain email address like ada@acme.test, got "ada at acme"`},
		{"member name", func(f *File) { f.Organizations[0].Members[0].Name = "" }, m0 + ".name", "must not be empty"},
		{"negative credits", func(f *File) { f.Organizations[0].Members[0].RetryCredits = -2 }, m0 + ".retry_credits", "must not be negative"},
		{"duplicate member id", func(f *File) { f.Organizations[0].Members[1].ID = strings.ToUpper(f.Organizations[0].Members[0].ID) }, "organizations[0].members[1].id", "duplicates " + m0 + ".id"},
		{"duplicate org id across orgs", func(f *File) {
			f.Organizations = append(f.Organizations, Organization{ID: f.Organizations[0].ID, Name: "Other"})
		}, "organizations[1].id", "duplicates organizations[0].id"},
		{"shoot status", func(f *File) { f.Organizations[0].Members[0].Shoots[0].Status = "done" }, s0 + ".status", `must be one of onboarding, waiting, pending, generatingHeadshots, active, failed, deleted, got "done"`},
		{"active without completed_at", func(f *File) { f.Organizations[0].Members[0].Shoots[0].CompletedAt = nil }, s0 + ".completed_at", "an active (finished) shoot needs completed_at"},
		{"negative retry count", func(f *File) { f.Organizations[0].Members[0].Shoots[0].RetryCount = -1 }, s0 + ".retry_count", "must not be negative"},
		{"negative results", func(f *File) { f.Organizations[0].Members[0].Shoots[0].Results = -8 }, s0 + ".results", "must not be negative"},
		{"too many results", func(f *File) { f.Organizations[0].Members[0].Shoots[0].Results = 80000 }, s0 + ".results", "must be at most 1000"},
		{"shoot id", func(f *File) { f.Organizations[0].Members[0].Shoots[0].ID = "3b5f6a2e" }, s0 + ".id", "must be a UUID"},
		{"orgs of one name without ids", func(f *File) {
			f.Organizations[0].ID = ""
			f.Organizations = append(f.Organizations, Organization{Name: "Acme"})
		}, "organizations[1].id", "is left out, and the id derived from the name (" + derivedOrgID("Acme") + ") is that of organizations[0].id: give this row an id"},
		{"members of one email without ids", func(f *File) {
			f.Organizations[0].Members[0].ID = ""
			f.Organizations[0].Members[1].Email = ptr("ADA@acme.test")
		}, "organizations[0].members[1].id", "is left out, and the id derived from the organization and email"},
		{"given id equal to a derived one", func(f *File) {
			o := &f.Organizations[0]
			o.Members[0].ID = derivedMemberID(o.ID, &o.Members[1], 1)
		}, "organizations[0].members[1].id", "is left out, and the id derived from the organization, name and position"},
		{"duplicate shoot id", func(f *File) {
			f.Organizations[0].Members[1].Shoots[0].ID = f.Organizations[0].Members[0].Shoots[0].ID
		}, "organizations[0].members[1].shoots[0].id", "duplicates " + s0 + ".id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := good(t)
			tt.mutate(f)
			want := tt.path + ": " + tt.msg
			err := f.Validate()
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("Validate: got %v, want %q", err, want)
			}
			var ve *ValidationError
			if !errors.As(err, &ve) || ve.Path != tt.path {
				t.Fatalf("Validate: want a *ValidationError at %s, got %#v", tt.path, err)
			}

			data, jerr := json.Marshal(f)
			if jerr != nil {
				t.Fatal(jerr)
			}
			if _, err := Parse(strings.NewReader(string(data))); err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("Parse: got %v, want %q", err, want)
			}
		})
	}
}

// TestValidateRefusesShortKeys: a key shorter than the ones retryd generates is easier
// to guess than retryd promises, so the file is refused; the error names where the key
// is and whose it is, never the key.
func TestValidateRefusesShortKeys(t *testing.T) {
	const short = "rk_short_but_secret_0123456789"
	for _, tc := range []struct {
		name, path, whose string
		mutate            func(f *File)
	}{
		{"admin key", "organizations[0].admins[0].api_key", `admin lead@acme.test of organization "Acme"`,
			func(f *File) { f.Organizations[0].Admins[0].APIKey = short }},
		{"automation key", "organizations[0].automation_keys[0]", `organization "Acme"`,
			func(f *File) { f.Organizations[0].AutomationKeys[0] = short }},
		{"one character short", "organizations[0].automation_keys[0]", `organization "Acme"`,
			func(f *File) { f.Organizations[0].AutomationKeys[0] = strings.Repeat("k", apikey.GeneratedLen-1) }},
		{"the demo key in a file", "organizations[0].admins[0].api_key", `admin lead@acme.test of organization "Acme"`,
			func(f *File) { f.Organizations[0].Admins[0].APIKey = demoAdminKey }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := good(t)
			tc.mutate(f)
			err := f.Validate()
			var ve *ValidationError
			if !errors.As(err, &ve) || ve.Path != tc.path {
				t.Fatalf("Validate: want a *ValidationError at %s, got %v", tc.path, err)
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.whose) || !strings.Contains(msg, strconv.Itoa(apikey.GeneratedLen)) {
				t.Errorf("error %q does not name %s and the length %d", msg, tc.whose, apikey.GeneratedLen)
			}
			for _, k := range append(f.Organizations[0].AutomationKeys, f.Organizations[0].Admins[0].APIKey) {
				if strings.Contains(msg, k) {
					t.Errorf("error %q shows a key", msg)
				}
			}
		})
	}
	f := good(t)
	f.Organizations[0].AutomationKeys[0] = strings.Repeat("k", apikey.GeneratedLen)
	if err := f.Validate(); err != nil {
		t.Fatalf("a key of the generated length: %v", err)
	}
}

// Members without ids and emails are told apart by position, so two of one name differ.
func TestDerivedIDs(t *testing.T) {
	f, err := Parse(strings.NewReader(`{"organizations": [{"name": "A", "members": [
		{"name": "Sam", "kind": "managed", "shoots": [{"status": "onboarding"}, {"status": "onboarding"}]},
		{"name": "Sam", "kind": "managed"}]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	o := &f.Organizations[0]
	org := derivedOrgID("A")
	m0, m1 := derivedMemberID(org, &o.Members[0], 0), derivedMemberID(org, &o.Members[1], 1)
	if m0 == m1 || derivedShootID(m0, 0) == derivedShootID(m0, 1) || derivedShootID(m0, 0) == derivedShootID(m1, 0) {
		t.Fatal("derived ids collide")
	}
	if org != derivedOrgID("A") || derivedAdminID(org, "Ada@A.test") != derivedAdminID(org, "ada@a.test") {
		t.Fatal("derived ids are not stable")
	}
}

func TestValidateReportsSeveralProblems(t *testing.T) {
	f := good(t)
	f.Organizations[0].Name = ""
	f.Organizations[0].Members[0].Kind = "x"
	err := f.Validate()
	for _, want := range []string{"organizations[0].name:", "organizations[0].members[0].kind:"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}

	// A file broken everywhere stays readable.
	f = good(t)
	for i := range 100 {
		f.Organizations[0].Members = append(f.Organizations[0].Members, Member{Name: "M", Kind: "x"})
		_ = i
	}
	msg := f.Validate().Error()
	if n := strings.Count(msg, "\n") + 1; n != maxReported+1 || !strings.Contains(msg, "… and 80 more problems") {
		t.Errorf("want %d lines ending in a count of the rest, got %d:\n%s", maxReported+1, n, msg)
	}
}

func TestDemoParsesAndCoversScenarios(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	f, err := Demo(now)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Validate(); err != nil {
		t.Fatal(err)
	}
	if len(f.Organizations) != 1 {
		t.Fatalf("want one organization, got %d", len(f.Organizations))
	}
	o := f.Organizations[0]
	admin, automation := DemoKeys()
	if o.ID != DemoOrgID || o.Name != "Acme Headshots" || o.CreditBalance != 25 {
		t.Errorf("organization: %s %q %d", o.ID, o.Name, o.CreditBalance)
	}
	if len(o.Admins) != 1 || o.Admins[0].Role != "owner" || o.Admins[0].APIKey != admin {
		t.Errorf("admins: %+v", o.Admins)
	}
	if len(o.AutomationKeys) != 1 || o.AutomationKeys[0] != automation {
		t.Errorf("automation keys: %v", o.AutomationKeys)
	}
	if admin != "rk_demo_admin_key_0123456789abcdefghij" || automation != "rk_demo_automation_key_0123456789abcdefgh" {
		t.Errorf("demo keys changed: %s %s", admin, automation)
	}

	byName := map[string]Member{}
	for _, m := range o.Members {
		if m.ID == "" {
			t.Errorf("%s: demo ids must be fixed", m.Name)
		}
		for _, s := range m.Shoots {
			if s.ID == "" {
				t.Errorf("%s: demo shoot ids must be fixed", m.Name)
			}
		}
		if m.Email != nil && !strings.HasSuffix(*m.Email, "@acme.test") {
			t.Errorf("%s: email %s outside acme.test", m.Name, *m.Email)
		}
		byName[m.Name] = m
	}
	last := func(name string) Shoot {
		m, ok := byName[name]
		if !ok || len(m.Shoots) == 0 {
			t.Fatalf("demo member %s missing", name)
		}
		return m.Shoots[len(m.Shoots)-1]
	}
	ago := func(s Shoot) int {
		if s.CompletedAt == nil {
			return -1
		}
		return int(now.Sub(*s.CompletedAt).Hours() / 24)
	}
	free := func(m Member) bool { return m.FreeRetryAvailable == nil || *m.FreeRetryAvailable }

	if s, m := last("Maya Chen"), byName["Maya Chen"]; s.Status != "active" || ago(s) != 5 || s.Results != 8 || !free(m) || m.RetryCredits != 0 {
		t.Errorf("free-retry eligible member: %+v %+v", m, s)
	}
	if s, m := last("Jonas Weber"), byName["Jonas Weber"]; s.Status != "active" || free(m) || m.RetryCredits != 2 {
		t.Errorf("credit-eligible member: %+v %+v", m, s)
	}
	if s := last("Priya Raman"); ago(s) != 59 {
		t.Errorf("window-edge member completed %d days ago", ago(s))
	}
	if s := last("Tomás Herrera"); ago(s) != 75 {
		t.Errorf("expired member completed %d days ago", ago(s))
	}
	if m := byName["Grace Okafor"]; free(m) || m.RetryCredits != 0 || last("Grace Okafor").Status != "active" {
		t.Errorf("exhausted member: %+v", m)
	}
	if s := last("Liam O'Brien"); s.Status != "active" || s.RetryCount != 1 {
		t.Errorf("already-retried shoot: %+v", s)
	}
	for name, status := range map[string]string{
		"Sofia Rossi": "onboarding", "Daniel Kim": "waiting", "Elena Petrova": "pending",
		"Aisha Bello": "generatingHeadshots", "Noah Fischer": "failed",
	} {
		if s := last(name); s.Status != status {
			t.Errorf("%s: status %s, want %s", name, s.Status, status)
		}
	}
	if m := byName["Sam Taylor"]; m.Kind != "managed" || m.Email != nil || last("Sam Taylor").Status != "deleted" {
		t.Errorf("managed member without email: %+v", m)
	}
	if m := byName["Hannah Schmidt"]; m.Kind != "managed" || m.Email == nil || last("Hannah Schmidt").Status != "deleted" {
		t.Errorf("managed member with email: %+v", m)
	}
	if m := byName["Lucas Martin"]; m.Kind != "individual" || last("Lucas Martin").Status != "deleted" {
		t.Errorf("individual with deleted shoot: %+v", m)
	}
	if m := byName["Olivia Brown"]; m.Kind != "managed" || len(m.Shoots) != 2 || m.Shoots[0].Status != "deleted" || m.Shoots[1].Status != "active" {
		t.Errorf("managed member with deleted then active shoot: %+v", m)
	}
}
