package server_test

import (
	"context"
	"testing"

	enumspb "go.temporal.io/api/enums/v1"

	"github.com/headshotpro/retryd/internal/tooling/apptest"
	"github.com/headshotpro/retryd/workflows"
)

// TestNewRunRecordsOneVersionMarker: the task a give waits on records one version
// marker for a new run (its GetVersion of every change at once), not one per change,
// each with its TemporalChangeVersion search attribute: four of each before. The
// replay tests hold the runs recorded before it.
func TestNewRunRecordsOneVersionMarker(t *testing.T) {
	app := apptest.Start(t, apptest.Options{})
	org := app.SeedOrg(t, 5, person("Ada Active", finished(5, 8)))
	ada, shoots := seeded(org, 0)
	expectStatus(t, giveRetry(t, app, org.AdminKey, ada, shoots[0]), 201)

	markers, upserts := 0, 0
	it := app.Temporal.GetWorkflowHistory(context.Background(), workflows.RetryWorkflowID(shoots[0]), "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		if e.GetEventType() == enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED {
			break
		}
		switch e.GetEventType() {
		case enumspb.EVENT_TYPE_MARKER_RECORDED:
			if e.GetMarkerRecordedEventAttributes().GetMarkerName() == "Version" {
				markers++
			}
		case enumspb.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
			upserts++
		}
	}
	if markers != 1 {
		t.Errorf("the give's task recorded %d version markers, want 1", markers)
	}
	if upserts != 2 {
		t.Errorf("the give's task upserted search attributes %d times, want 2 (the change version, the stage)", upserts)
	}
}
