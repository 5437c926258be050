package seed

import (
	"bytes"
	_ "embed"
	"fmt"
	"text/template"
	"time"
)

// The demo keys are fixed so that docs, scripts and a developer's shell history keep
// working across `retryd dev` runs. They are public: never load the demo file into a
// database that real users reach. They are shorter than generated keys, which no other
// seed file may be: their length protects nothing, since they are published, and
// lengthening them would break every copy of them. Only the demo file may carry them
// (Demo marks it); in any other file they are refused like any short key.
const (
	demoAdminKey      = "rk_demo_admin_key_0123456789abcdefghij"
	demoAutomationKey = "rk_demo_automation_key_0123456789abcdefgh"
)

// DemoOrgID is the fixed id of the demo organization "Acme Headshots".
const DemoOrgID = "ac3e0000-0000-4000-8000-000000000001"

// demoTemplate is the demo organization, with one member per dashboard situation:
//
//	Maya Chen       finished 5 days ago, free retry: eligible
//	Jonas Weber     finished 12 days ago, free retry used, 2 retry credits: eligible (uses a credit)
//	Priya Raman     managed, finished 59 days ago: eligible, a day from the window's edge
//	Tomás Herrera   finished 75 days ago: retry_window_expired
//	Grace Okafor    free retry used, no credits: no give_retry action
//	Liam O'Brien    shoot already retried once (retry_count 1, active again): shoot_already_retried
//	Sofia Rossi, Daniel Kim, Elena Petrova, Aisha Bello, Noah Fischer
//	                In Progress: onboarding, waiting, pending, generatingHeadshots, failed
//	Sam Taylor      managed, no email, deleted shoot: restartable, the link comes back to the caller
//	Hannah Schmidt  managed with email, deleted shoot: restartable, the link is emailed
//	Lucas Martin    individual, deleted shoot: not_managed
//	Olivia Brown    managed, a deleted shoot then a newer active one: Finished; restart gives active_shoot_exists
//
// Timestamps are relative to the time Demo is given, so the scenarios hold on the day the
// demo is loaded. Loading is idempotent, so a database seeded weeks ago keeps its old
// timestamps: recreate it to get the scenarios back.
//
//go:embed demo.json.tmpl
var demoTemplate string

// Demo returns the demo file with timestamps relative to now.
func Demo(now time.Time) (*File, error) {
	tmpl, err := template.New("demo.json.tmpl").Option("missingkey=error").Funcs(template.FuncMap{
		"daysAgo": func(days int) string {
			return now.UTC().Add(-time.Duration(days) * 24 * time.Hour).Format(time.RFC3339)
		},
	}).Parse(demoTemplate)
	if err != nil {
		return nil, fmt.Errorf("demo template: %w", err)
	}
	var buf bytes.Buffer
	data := map[string]string{"AdminKey": demoAdminKey, "AutomationKey": demoAutomationKey}
	if err := tmpl.Execute(&buf, data); err != nil {
		return nil, fmt.Errorf("demo template: %w", err)
	}
	f, err := parse(&buf, true)
	if err != nil {
		return nil, fmt.Errorf("demo file: %w", err)
	}
	return f, nil
}

func isDemoKey(k string) bool { return k == demoAdminKey || k == demoAutomationKey }

// DemoKeys returns the demo organization's API keys, for `retryd dev` to print.
func DemoKeys() (admin, automation string) {
	return demoAdminKey, demoAutomationKey
}
