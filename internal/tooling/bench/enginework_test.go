package bench

import "testing"

func TestParseCounterKeepsTheEngineFamilies(t *testing.T) {
	for _, c := range []struct {
		line, family, op string
		v                float64
		ok               bool
	}{
		{`persistence_requests{namespace="default",operation="UpdateWorkflowExecution",service_name="history"} 42`, "persistence_requests", "UpdateWorkflowExecution", 42, true},
		{`service_requests_total{operation="RecordActivityTaskHeartbeat",service_name="frontend"} 3`, "service_requests", "RecordActivityTaskHeartbeat", 3, true},
		// The history service's own served requests are the frontend's client requests
		// already: counting them again would count each request twice.
		{`service_requests{operation="RecordActivityTaskHeartbeat",service_name="history"} 3`, "", "", 0, false},
		{`persistence_latency_bucket{operation="GetNamespace",le="0.001"} 9`, "", "", 0, false},
		{`# TYPE persistence_requests counter`, "", "", 0, false},
	} {
		family, op, v, ok := parseCounter(c.line)
		if family != c.family || op != c.op || v != c.v || ok != c.ok {
			t.Errorf("parseCounter(%q) = %q %q %v %v, want %q %q %v %v", c.line, family, op, v, ok, c.family, c.op, c.v, c.ok)
		}
	}
}

func TestCompareEngineNamesWhatARowAsksMore(t *testing.T) {
	hb := engineOp{"service_requests", "RecordActivityTaskHeartbeat"}
	upd := engineOp{"persistence_requests", "UpdateWorkflowExecution"}
	row := engineWork{hb: 100, upd: 800}
	floor := engineWork{upd: 540}
	got := compareEngine(row, 100, floor, 100, 0.5)
	if len(got) != 2 || got[0].Op != upd || got[0].Difference < 2.59 || got[0].Difference > 2.61 || got[1].Op != hb || got[1].Difference != 1 {
		t.Fatalf("compareEngine = %+v", got)
	}
}
