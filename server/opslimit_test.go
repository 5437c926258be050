package server_test

import (
	"encoding/json"
	"testing"

	"github.com/headshotpro/retryd/internal/seed"
	"github.com/headshotpro/retryd/internal/tooling/apptest"
	"github.com/headshotpro/retryd/server"
	"github.com/headshotpro/retryd/workflows"
)

// A new retry or restart carries its ops limit (the emails and checks of one run before
// it continues as new) in its input, where the workflow reads it and its continued runs
// keep it. The workflow code never reads DefaultOpsPerRun, so changing the constant
// reaches new retries only and never the replay of one already waiting.
func TestNewRunsCarryTheirOpsLimit(t *testing.T) {
	app := apptest.Start(t, apptest.Options{})
	org := app.SeedOrg(t, 5,
		person("Olga Ops", finished(5, 4)),
		seed.Member{Name: "Otto Ops", Kind: "managed", Shoots: []seed.Shoot{deletedShoot()}},
	)
	olga, olgaShoots := seeded(org, 0)
	expectStatus(t, giveRetry(t, app, org.AdminKey, olga, olgaShoots[0]), 201)
	otto, _ := seeded(org, 1)
	expectJSON[server.RestartAnswer](t, app.Do(t, "POST", "/api/v1/admin/members/"+otto+"/restarts", org.AdminKey, nil), 201)

	for _, wid := range []string{workflows.RetryWorkflowID(olgaShoots[0]), workflows.RestartWorkflowID(otto)} {
		h := history(t, app.Temporal, wid, "")
		payloads := h.GetEvents()[0].GetWorkflowExecutionStartedEventAttributes().GetInput().GetPayloads()
		if len(payloads) != 1 {
			t.Fatalf("%s: %d input payloads, want 1", wid, len(payloads))
		}
		var in struct{ Tuning workflows.Tuning }
		if err := json.Unmarshal(payloads[0].GetData(), &in); err != nil {
			t.Fatalf("%s: input: %v", wid, err)
		}
		if in.Tuning.OpsPerRun != workflows.DefaultOpsPerRun {
			t.Errorf("%s: input Tuning.OpsPerRun = %d, want DefaultOpsPerRun (%d)", wid, in.Tuning.OpsPerRun, workflows.DefaultOpsPerRun)
		}
	}
}
