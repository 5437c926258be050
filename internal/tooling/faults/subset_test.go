package faults

import (
	"testing"
)

// awaitingFix lists invariants this branch is known to break, each with the issue 8
// defect behind it. Their violations are logged, not failed, until the fix is merged:
// then delete the entry, and the subset enforces the invariant like every other.
var awaitingFix = map[string]string{}

// TestFaultsSubset is the bounded fault run of every `go test ./...` (about a
// minute): real processes, two worker kill -9s (one held until a webhook delivery
// attempt is in flight), an API kill -9 and two mail fault bursts while about
// forty-five operations of three organizations are in flight. Every invariant must hold.
func TestFaultsSubset(t *testing.T) {
	plan := SubsetPlan()
	rep, _ := runPlan(t, plan)
	if got, want := rep.totalFaults(), len(plan.Faults); got != want {
		t.Errorf("%d of %d faults injected: %+v", got, want, rep.Run.Faults)
	}
	// The run must have exercised something, or holding every invariant proves nothing.
	if ops := rep.totalOps(); ops < 20 || rep.Operations[OpGive] < plan.Individuals || rep.Answered201 < plan.Individuals/2 {
		t.Errorf("workload too thin: %d operations, %d gives, %d answered 201", ops, rep.Operations[OpGive], rep.Answered201)
	}
	// The webhook checks prove something only if deliveries were made, and one worker
	// kill cut into an attempt.
	if rep.WebhookDeliveries == 0 || rep.WorkerKillsMidDelivery == 0 {
		t.Errorf("webhooks not exercised: %d deliveries, %d of %d worker kills with an attempt in flight", rep.WebhookDeliveries, rep.WorkerKillsMidDelivery, rep.WorkerKills)
	}
	// history_bounded compares the storm's run with a quiet pending retry's: both must be there.
	if rep.StormHistory == 0 || rep.BaseHistory == 0 {
		t.Errorf("the resend storm was not measured: storm %d events, quiet pending retry %d", rep.StormHistory, rep.BaseHistory)
	}
	if !rep.Recovered {
		t.Errorf("not settled within %s after the last fault", plan.Recovery)
	}
	if rep.Lost > 0 || rep.Doubled > 0 || rep.NeverFinal > 0 {
		t.Errorf("lost %d, doubled %d, never final %d", rep.Lost, rep.Doubled, rep.NeverFinal)
	}
	for _, v := range rep.Violations {
		if why, ok := awaitingFix[v.Invariant]; ok {
			t.Logf("KNOWN, awaiting fix (%s): invariant %s violated by %s: %s", why, v.Invariant, v.Subject, v.Detail)
			continue
		}
		t.Errorf("invariant %s violated by %s: %s", v.Invariant, v.Subject, v.Detail)
	}
}
