package faults

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/headshotpro/retryd/internal/devmailbox"
	"github.com/headshotpro/retryd/internal/tooling/readiness"
	"github.com/headshotpro/retryd/internal/tooling/supervisor"
	"github.com/headshotpro/retryd/internal/tooling/webhooktest"
)

// FaultKind names an injected fault.
type FaultKind string

const (
	KillWorker      FaultKind = "kill -9 worker"
	KillAPI         FaultKind = "kill -9 api"
	KillTemporal    FaultKind = "kill -9 temporal"
	RestartPostgres FaultKind = "postgres crash restart"
	PausePostgres   FaultKind = "postgres SIGSTOP/SIGCONT"
	MailFault       FaultKind = "mail fault"
)

// Fault is one injection at a time offset from the start of the run. Down is how long a
// killed process stays down (or how long a pause lasts).
type Fault struct {
	At   time.Duration
	Kind FaultKind
	Down time.Duration
	Mail devmailbox.Fault
	// AwaitWebhook holds a worker kill until a webhook delivery attempt is in flight at
	// a receiver, for at most this long, so that the kill cuts one off (0: no wait).
	AwaitWebhook time.Duration
}

// Plan is one run: the workload's pace and the faults.
type Plan struct {
	Name string
	// Orgs organizations share Individuals and Managed members: one give per individual,
	// one restart per managed member (a quarter single, the rest in bulk calls of up to
	// four of one organization). webhookLayout gives each organization its endpoints.
	Orgs, Individuals, Managed int
	// ResendStorm is how many resends the first retry answered 201 gets, one after the
	// other, to see whether its workflow history grows with them.
	ResendStorm     int
	OpInterval      time.Duration // pace of new operations
	Clients         int           // concurrent clients
	RequestDeadline time.Duration // how long a client retries one operation
	Faults          []Fault
	Recovery        time.Duration // longest wait for the system to settle afterwards
}

// FaultRecord is an injection as it happened.
type FaultRecord struct {
	Fault
	Started, Ended time.Time
	Err            string
	// WebhooksInFlight is how many delivery attempts the receivers were answering when
	// a worker was killed.
	WebhooksInFlight int
}

// Run is the raw material of the report.
type Run struct {
	Plan      Plan
	Began     time.Time
	LoadEnded time.Time // every operation final or past its deadline
	LastFault time.Time // the end of the last injection
	Settled   time.Time // zero when it never settled within Plan.Recovery
	Faults    []FaultRecord
	Outcomes  []Outcome
	Mail      *mailLog
	// StormRetry is the retry that got the resend storm ("" when none was answered 201).
	StormRetry string
	// Revived counts starts of a process that had exited on its own (a retryd process
	// that cannot reach Postgres at start exits), by process name.
	Revived map[string]int
	// Received is what each webhook endpoint's receiver got, by endpoint id, read once
	// the run settled.
	Received map[string][]webhooktest.Delivery
}

// Execute drives the workload and the faults together, then waits for the system to
// settle. It does not judge: Check does. hooks are the receivers of the organizations'
// webhook endpoints (nil: none registered).
func Execute(ctx context.Context, c *Cluster, pop *Population, plan Plan, hooks *Webhooks) *Run {
	run := &Run{Plan: plan, Began: time.Now(), Mail: newMailLog(c.APIURL, c.MailboxToken)}
	client := &Client{BaseURL: c.APIURL, HTTP: &http.Client{Timeout: 20 * time.Second}, Deadline: plan.RequestDeadline}

	mailCtx, stopMail := context.WithCancel(ctx)
	var mailWG sync.WaitGroup
	mailWG.Go(func() { run.Mail.poll(mailCtx) })
	mailWG.Go(func() { supervise(mailCtx, c) })

	var faultMu sync.Mutex
	var faultWG sync.WaitGroup
	for _, f := range plan.Faults {
		faultWG.Go(func() {
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Until(run.Began.Add(f.At))):
			}
			rec := inject(ctx, c, run, f, hooks)
			faultMu.Lock()
			run.Faults = append(run.Faults, rec)
			faultMu.Unlock()
		})
	}

	run.StormRetry = runWorkload(ctx, c, pop, plan, client)
	run.LoadEnded = time.Now()
	faultWG.Wait()
	for _, f := range run.Faults {
		if f.Ended.After(run.LastFault) {
			run.LastFault = f.Ended
		}
	}
	// Whatever a fault left down comes back for the recovery period.
	ensureUp(ctx, c)
	_ = putMail(ctx, c.APIURL, c.MailboxToken, http.MethodDelete, nil)
	run.Settled = waitSettled(ctx, c, plan.Recovery)
	// The last reminders and emails may land just as the database settles.
	run.Mail.snapshot(ctx)
	stopMail()
	mailWG.Wait()
	run.Received = hooks.received()
	run.Outcomes = client.Outcomes()
	run.Revived = map[string]int{}
	for _, p := range []*supervisor.Proc{c.API, c.Worker} {
		run.Revived[p.Name] = p.Restarts()
	}
	return run
}

func runWorkload(ctx context.Context, c *Cluster, pop *Population, plan Plan, client *Client) (stormRetry string) {
	var stormOnce sync.Once
	type op func()
	ops := make(chan op, 1024)
	follow := make(chan op, 1024)
	var pending sync.WaitGroup

	give := func(i int, m SeedMember) op {
		return func() {
			do := func() Outcome {
				return client.Do(ctx, OpGive, []string{m.ID}, http.MethodPost, "/api/v1/admin/members/"+m.ID+"/retries",
					m.Org.AdminKey, "give-"+m.ID, map[string]string{"shoot_id": m.ShootID, "reason": "poor_quality"})
			}
			// Every fourth give is a double submit: the same request with the same key
			// twice at once, as a client that retries on its own timer does.
			var twin sync.WaitGroup
			if i%4 == 3 {
				twin.Go(func() { do() })
			}
			o := do()
			twin.Wait()
			if o.Status != http.StatusCreated {
				return
			}
			var r struct {
				ID string `json:"id"`
			}
			_ = json.Unmarshal(o.Body, &r)
			// The first retry answered (and meant to stay pending: i%3 == 2) gets the storm.
			if i%3 == 2 && plan.ResendStorm > 0 {
				stormOnce.Do(func() {
					stormRetry = r.ID
					pending.Add(1)
					follow <- func() {
						for range plan.ResendStorm {
							client.Do(ctx, OpResend, []string{m.ID}, http.MethodPost,
								"/api/v1/admin/members/"+m.ID+"/retries/"+r.ID+"/resend-email", m.Org.AdminKey, "", nil)
						}
					}
				})
			}
			// A third start at once, a third get a resend, a third wait (and get reminders).
			switch i % 3 {
			case 0:
				pending.Add(1)
				follow <- func() { memberStart(ctx, c, client, m) }
			case 1:
				pending.Add(1)
				follow <- func() {
					client.Do(ctx, OpResend, []string{m.ID}, http.MethodPost,
						"/api/v1/admin/members/"+m.ID+"/retries/"+r.ID+"/resend-email", m.Org.AdminKey, "", nil)
				}
			}
		}
	}
	// Every restart, single or bulk, is a double submit: the same request with the same
	// key again shortly after the first, while the first is still making the restart. A
	// second request that looks for the restart just before the first one records it, and
	// checks the rules just after, meets the first's restart as another one; so the
	// second is timed around when the last restart answered was recorded after its
	// request was sent (the restart's issued_at), 0 to 40 ms early, varying per call.
	var leadMu sync.Mutex
	lead := 200 * time.Millisecond // until an answer tells
	restarts := 0
	twice := func(do func() Outcome) op {
		early := time.Duration(restarts%5) * 10 * time.Millisecond
		restarts++
		return func() {
			leadMu.Lock()
			after := max(lead-early, 0)
			leadMu.Unlock()
			sent := time.Now()
			var twin sync.WaitGroup
			twin.Go(func() {
				sleep(ctx, after)
				do()
			})
			o := do()
			twin.Wait()
			if at, ok := issuedAt(o); ok && at.After(sent) {
				leadMu.Lock()
				lead = at.Sub(sent)
				leadMu.Unlock()
			}
		}
	}
	var all []op
	singles := len(pop.Managed) / 4
	gi, mi := 0, 0
	for gi < len(pop.Individuals) || mi < len(pop.Managed) {
		if gi < len(pop.Individuals) {
			all = append(all, give(gi, pop.Individuals[gi]))
			gi++
		}
		if mi < len(pop.Managed) && gi%2 == 0 {
			if mi < singles {
				m := pop.Managed[mi]
				all = append(all, twice(func() Outcome {
					return client.Do(ctx, OpRestart, []string{m.ID}, http.MethodPost, "/api/v1/admin/members/"+m.ID+"/restarts",
						m.Org.AdminKey, "restart-"+m.ID, nil)
				}))
				mi++
			} else {
				// A bulk call restarts up to four members of one organization.
				org := pop.Managed[mi].Org
				end := mi + 1
				for end < len(pop.Managed) && end-mi < 4 && pop.Managed[end].Org == org {
					end++
				}
				var ids []string
				for _, m := range pop.Managed[mi:end] {
					ids = append(ids, m.ID)
				}
				all = append(all, twice(func() Outcome {
					return client.Do(ctx, OpBulkRestart, ids, http.MethodPost, "/api/v1/admin/restarts",
						org.AutomationKey, "bulk-"+ids[0], map[string]any{"member_ids": ids})
				}))
				mi = end
			}
		}
	}

	var wg sync.WaitGroup
	for range max(plan.Clients, 1) {
		wg.Go(func() {
			for {
				select {
				case f, ok := <-ops:
					if !ok {
						// Follow-ups may still be queued behind the last gives.
						for {
							select {
							case f := <-follow:
								f()
								pending.Done()
							default:
								return
							}
						}
					}
					f()
					pending.Done()
				case f := <-follow:
					f()
					pending.Done()
				}
			}
		})
	}
	tick := time.NewTicker(plan.OpInterval)
	for _, f := range all {
		pending.Add(1)
		ops <- f
		<-tick.C
	}
	tick.Stop()
	// Every give has queued its follow-up (or not) once all ops are done; then the
	// clients drain the follow-ups.
	pending.Wait()
	close(ops)
	wg.Wait()
	return stormRetry
}

// issuedAt is when the restart an answer names (the first, for a bulk answer) was
// recorded.
func issuedAt(o Outcome) (time.Time, bool) {
	if o.Kind == OpBulkRestart {
		for _, l := range bulkLines(o.Body) {
			if l.Restart != nil && !l.Restart.IssuedAt.IsZero() {
				return l.Restart.IssuedAt, true
			}
		}
		return time.Time{}, false
	}
	var r struct {
		IssuedAt time.Time `json:"issued_at"`
	}
	if json.Unmarshal(o.Body, &r) != nil || r.IssuedAt.IsZero() {
		return time.Time{}, false
	}
	return r.IssuedAt, true
}

// memberStart opens the member's link the way the landing page does: the token the email
// carries, signed with the service's secret, on the start endpoint.
func memberStart(ctx context.Context, c *Cluster, client *Client, m SeedMember) {
	token, _ := c.links.Issue(m.ID, m.ShootID, time.Now())
	client.Do(ctx, OpStart, []string{m.ID}, http.MethodPost, "/api/v1/member/shoots/"+m.ShootID+"/start", token, "", nil)
}

func inject(ctx context.Context, c *Cluster, run *Run, f Fault, hooks *Webhooks) FaultRecord {
	rec := FaultRecord{Fault: f, Started: time.Now()}
	var err error
	switch f.Kind {
	case KillWorker:
		if f.AwaitWebhook > 0 {
			rec.WebhooksInFlight = hooks.awaitInFlight(ctx, f.AwaitWebhook)
			rec.Started = time.Now()
		} else {
			rec.WebhooksInFlight = hooks.InFlight()
		}
		c.Worker.Hold(true)
		c.Worker.Kill9()
		sleep(ctx, f.Down)
		err = c.Worker.Start()
		c.Worker.Hold(false)
	case KillAPI:
		// The mailbox lives in the API process: read it right before the crash.
		run.Mail.snapshot(ctx)
		run.Mail.noteKill(time.Now())
		c.API.Hold(true)
		c.API.Kill9()
		sleep(ctx, f.Down)
		// Started, not awaited: while Postgres is paused the new API exits at start
		// (it cannot reach the database) and the supervisor keeps reviving it.
		err = c.API.Start()
		c.API.Hold(false)
	case KillTemporal:
		c.Temporal.Kill9()
		sleep(ctx, f.Down)
		err = c.StartTemporal(ctx)
	case RestartPostgres:
		if err = c.Postgres.Crash(ctx); err == nil {
			sleep(ctx, f.Down)
			err = c.Postgres.Start(ctx)
		}
	case PausePostgres:
		var pids []int
		if pids, err = pause(c.Postgres); err == nil {
			sleep(ctx, f.Down)
			resume(pids)
		}
	case MailFault:
		err = putMail(ctx, c.APIURL, c.MailboxToken, http.MethodPut, &f.Mail)
	}
	rec.Ended = time.Now()
	if err != nil {
		rec.Err = err.Error()
	}
	return rec
}

// supervise revives the API and the worker when they exit on their own, every second.
func supervise(ctx context.Context, c *Cluster) {
	for ctx.Err() == nil {
		c.API.Revive()
		c.Worker.Revive()
		sleep(ctx, time.Second)
	}
}

func ensureUp(ctx context.Context, c *Cluster) {
	if !c.Temporal.Running() {
		_ = c.StartTemporal(ctx)
	}
	if !c.API.Running() {
		_ = c.API.Start()
	}
	_ = readiness.Wait(ctx, 2*time.Minute, "api up", func(ctx context.Context) error {
		c.API.Revive()
		return readiness.GetOK(ctx, c.APIURL+"/healthz")
	})
	if !c.Worker.Running() {
		_ = c.Worker.Start()
	}
}

// putMail sets (PUT) or clears (DELETE) the mail fault, trying for a while: the API may
// be down at that moment because of another fault.
func putMail(ctx context.Context, base, token, method string, f *devmailbox.Fault) error {
	return readiness.Wait(ctx, 30*time.Second, "mail fault "+method, func(ctx context.Context) error {
		var body []byte
		if f != nil {
			body, _ = json.Marshal(f)
		}
		req, _ := http.NewRequestWithContext(ctx, method, base+"/dev/mailersend/faults", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode >= 300 {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	})
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
