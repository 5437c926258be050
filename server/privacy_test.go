package server_test

import (
	"context"
	"encoding/base64"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/enums/v1"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/headshotpro/retryd/internal/seed"
	"github.com/headshotpro/retryd/internal/tooling/apptest"
	"github.com/headshotpro/retryd/workflows"
)

// TestNoSecretsOrPersonalData runs a full retry and restart, with a refused call, a bad
// token and a fresh-link request, then checks that no API key, link token, pipeline token,
// member name or email address reached the logs or any workflow history.
func TestNoSecretsOrPersonalData(t *testing.T) {
	logs := &apptest.LogBuffer{}
	app := apptest.Start(t, apptest.Options{LogOutput: logs, Reminders: []time.Duration{time.Hour}})
	org := app.SeedOrg(t, 2,
		seed.Member{Name: "Zelda Quintessa", Email: apptest.Ptr("zelda.quintessa@private.test"), Kind: "individual",
			Shoots: []seed.Shoot{{Status: "active", CompletedAt: daysAgo(1), Results: 3}}},
		seed.Member{Name: "Xavier Ombudsman", Email: apptest.Ptr("xavier.ombudsman@private.test"), Kind: "managed",
			Shoots: []seed.Shoot{deletedShoot()}},
	)
	ms := org.File.Organizations[0].Members
	give := app.Do(t, "POST", "/api/v1/admin/members/"+ms[0].ID+"/retries", org.AdminKey,
		map[string]any{"shoot_id": ms[0].Shoots[0].ID, "note": "Zelda said the light was bad"})
	if give.Status != 201 {
		t.Fatalf("give: %d %s", give.Status, give.Body)
	}
	if r := app.Do(t, "POST", "/api/v1/admin/members/"+ms[1].ID+"/restarts", org.AutomationKey, nil); r.Status != 201 {
		t.Fatalf("restart: %d %s", r.Status, r.Body)
	}
	apptest.WaitFor(t, 10*time.Second, "two emails", func() bool { return app.Mailbox.Len() == 2 })
	var token string
	for _, m := range app.Mailbox.Messages() {
		if m.To[0] == "zelda.quintessa@private.test" {
			_, token = apptest.LinkToken(t, m.Text)
		}
	}
	app.Do(t, "POST", "/api/v1/admin/members/"+ms[0].ID+"/retries", org.AdminKey, map[string]any{"shoot_id": ms[0].Shoots[0].ID})
	app.Do(t, "POST", "/api/v1/member/shoots/"+ms[0].Shoots[0].ID+"/start", token+"x", nil)
	app.Do(t, "POST", "/api/v1/member/link", "", map[string]any{"email": "zelda.quintessa@private.test"})
	app.Do(t, "GET", "/api/v1/admin/organization", "rk_wrong_key_that_is_long_enough", nil)
	if r := app.Do(t, "POST", "/api/v1/member/shoots/"+ms[0].Shoots[0].ID+"/start", token, nil); r.Status != 200 {
		t.Fatalf("start: %d %s", r.Status, r.Body)
	}

	secrets := []string{org.AdminKey, org.AutomationKey, token, app.PipelineToken, "rk_wrong_key_that_is_long_enough"}
	personal := []string{"zelda", "quintessa", "xavier", "ombudsman", "private.test", "light was bad"}
	out := strings.ToLower(logs.String())
	if !strings.Contains(out, `"msg":"http request"`) {
		t.Fatalf("no request logs captured; the check would prove nothing:\n%s", out)
	}
	for _, s := range append(secrets, personal...) {
		if strings.Contains(out, strings.ToLower(s)) {
			t.Errorf("logs contain %q", s)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, id := range []string{workflows.RetryWorkflowID(ms[0].Shoots[0].ID), workflows.RestartWorkflowID(ms[1].ID)} {
		history := historyText(ctx, t, app, id)
		if !strings.Contains(history, ms[0].ID) && !strings.Contains(history, ms[1].ID) {
			t.Fatalf("history of %s does not even hold the member id; decoding is broken:\n%s", id, history)
		}
		for _, s := range append(secrets, personal...) {
			if strings.Contains(strings.ToLower(history), strings.ToLower(s)) {
				t.Errorf("history of %s contains %q", id, s)
			}
		}
	}
}

var base64Data = regexp.MustCompile(`"data":\s*"([A-Za-z0-9+/=]+)"`)

// historyText is the workflow's history as JSON with every payload decoded in place.
func historyText(ctx context.Context, t *testing.T, app *apptest.App, workflowID string) string {
	t.Helper()
	var b strings.Builder
	it := app.Temporal.GetWorkflowHistory(ctx, workflowID, "", false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			t.Fatalf("history of %s: %v", workflowID, err)
		}
		raw, err := protojson.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(base64Data.ReplaceAllFunc(raw, func(m []byte) []byte {
			dec, err := base64.StdEncoding.DecodeString(string(base64Data.FindSubmatch(m)[1]))
			if err != nil {
				return m
			}
			return dec
		}))
		b.WriteByte('\n')
	}
	return b.String()
}
