package faults

import (
	"net/http"
	"time"

	"github.com/headshotpro/retryd/internal/devmailbox"
)

// SubsetPlan is the bounded run of every `go test ./...`: about forty-five operations
// across three organizations, two worker kill -9s (the second while a webhook delivery
// attempt is in flight), one API kill -9 and two mail fault bursts, timed to land while
// the operations are in flight.
func SubsetPlan() Plan {
	return Plan{
		Name: "Subset (every go test run)",
		Orgs: 3, Individuals: 12, Managed: 8, ResendStorm: 15,
		OpInterval: 400 * time.Millisecond, Clients: 4,
		RequestDeadline: 90 * time.Second,
		Faults: []Fault{
			{At: 1 * time.Second, Kind: MailFault, Mail: devmailbox.Fault{Status: http.StatusServiceUnavailable, Count: 2}},
			{At: 2 * time.Second, Kind: KillWorker, Down: time.Second},
			{At: 4 * time.Second, Kind: KillAPI, Down: 500 * time.Millisecond},
			{At: 5 * time.Second, Kind: MailFault, Mail: devmailbox.Fault{Status: http.StatusTooManyRequests, RetryAfterS: 1, Count: 2}},
			// Deliveries come in bursts (the first kill holds back those its worker had
			// taken until their attempts time out): this one waits long enough for one.
			{At: 6500 * time.Millisecond, Kind: KillWorker, Down: time.Second, AwaitWebhook: 15 * time.Second},
		},
		Recovery: 2 * time.Minute,
	}
}

// FullPlan is scripts/faults.sh's run: about four and a half minutes of steady load on
// three organizations with a worker kill -9 every six seconds (every other one held, for
// up to 3 s, until a webhook delivery attempt is in flight), API kills, two Temporal server kills, two Postgres
// crash restarts, a Postgres pause longer than the API's two-minute budget, and every
// kind of mail fault including a hang longer than the mail client's timeout.
func FullPlan() Plan {
	p := Plan{
		Name: "Full run (scripts/faults.sh)",
		Orgs: 3, Individuals: 90, Managed: 40, ResendStorm: 150,
		OpInterval: 2500 * time.Millisecond, Clients: 6,
		RequestDeadline: 6 * time.Minute,
		Recovery:        5 * time.Minute,
	}
	// Every other worker kill waits (up to 3 s, so it is over before the next one) for a
	// webhook attempt in flight.
	for i, at := 0, 5*time.Second; at <= 270*time.Second; i, at = i+1, at+6*time.Second {
		f := Fault{At: at, Kind: KillWorker, Down: time.Second}
		if i%2 == 1 {
			f.AwaitWebhook = 3 * time.Second
		}
		p.Faults = append(p.Faults, f)
	}
	for _, at := range []int{20, 80, 140, 200, 250} {
		p.Faults = append(p.Faults, Fault{At: time.Duration(at) * time.Second, Kind: KillAPI, Down: time.Second})
	}
	for _, at := range []int{60, 180} {
		p.Faults = append(p.Faults, Fault{At: time.Duration(at) * time.Second, Kind: KillTemporal, Down: 3 * time.Second})
	}
	for _, at := range []int{100, 275} {
		p.Faults = append(p.Faults, Fault{At: time.Duration(at) * time.Second, Kind: RestartPostgres, Down: 2 * time.Second})
	}
	p.Faults = append(p.Faults, Fault{At: 115 * time.Second, Kind: PausePostgres, Down: 130 * time.Second})
	for _, m := range []struct {
		at int
		f  devmailbox.Fault
	}{
		{10, devmailbox.Fault{Status: 429, RetryAfterS: 2, Count: 3}},
		{30, devmailbox.Fault{Status: 500, Count: 2}},
		{45, devmailbox.Fault{Status: 502, Count: 2}},
		{70, devmailbox.Fault{Status: 503, Count: 3}},
		{90, devmailbox.Fault{DelayMS: 15000, Count: 1}},
		{108, devmailbox.Fault{Status: 422, Count: 2}},
		// Not while Postgres is paused (115 s to 245 s): the API may be down then.
		{250, devmailbox.Fault{Status: 429, RetryAfterS: 1, Count: 2}},
		{258, devmailbox.Fault{Status: 503, Count: 2}},
		{266, devmailbox.Fault{Status: 422, Count: 1}},
	} {
		p.Faults = append(p.Faults, Fault{At: time.Duration(m.at) * time.Second, Kind: MailFault, Mail: m.f})
	}
	return p
}
