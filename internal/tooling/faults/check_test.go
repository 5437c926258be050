package faults

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
	"go.temporal.io/sdk/client"

	"github.com/headshotpro/retryd/internal/devmailbox"
	"github.com/headshotpro/retryd/internal/domain"
	"github.com/headshotpro/retryd/internal/mailer"

	"github.com/headshotpro/retryd/internal/problem"
	"github.com/headshotpro/retryd/internal/seed"
	"github.com/headshotpro/retryd/internal/store"
	"github.com/headshotpro/retryd/internal/tooling/testenv"
	"github.com/headshotpro/retryd/internal/tooling/webhooktest"
	"github.com/headshotpro/retryd/workflows"
)

// The checker's own tests. Each builds the state a fault run ends in, in a real Postgres
// database written through the store's own functions (the same writes the service makes),
// with the client answers, the mailbox and the workflow facts beside it, first whole
// (every invariant holds) and then with one guarantee removed; the checker must report
// that invariant and no other. A check that cannot fail this way would pass every fault
// run whatever the service did.

// fakeWorkflows answers the checker's questions to Temporal from maps.
type fakeWorkflows struct {
	open      map[string]bool
	events    map[string]int64
	continued map[string]bool
}

func (f *fakeWorkflows) running(context.Context) (map[string]bool, error) {
	out := map[string]bool{}
	for id, ok := range f.open {
		out[id] = ok
	}
	return out, nil
}

func (f *fakeWorkflows) history(_ context.Context, id string) (int64, bool, error) {
	n, ok := f.events[id]
	if !ok {
		return 0, false, fmt.Errorf("no workflow %s", id)
	}
	return n, f.continued[id], nil
}

// world is a finished fault run as the checker reads it.
type world struct {
	t   *testing.T
	ctx context.Context
	tx  bun.Tx
	pop *Population
	run *Run
	wf  *fakeWorkflows
	now time.Time

	ind, man []SeedMember
	retry    map[string]*store.Retry   // by member id
	restart  map[string]*store.Restart // by member id
	msgs     int

	// The webhook endpoints: the first organization's steady and flaky ones, and the
	// third organization's (the second has none).
	steady, flaky, other *store.WebhookEndpoint
	// delivered holds the deliveries deliverWebhooks has ended.
	delivered map[string]bool
}

// quietEvents is the history length of a quiet pending retry in the world: first email,
// two reminders, waiting.
const quietEvents = 44

// The world's members, by role.
const (
	iStarted = iota // give answered 201 (twice: a double submit), member started
	iResent         // give 201, pending, one resend
	iStorm          // give 201, pending, the resend storm
	iQuiet          // give 201, pending, nothing else: the history's yardstick
	iRefused        // give refused for good, nothing applied
	individuals
)

const (
	mPending = iota // single restart 201 (double submit), pending, email sent
	mStarted        // no address: single restart 201 with the access link, member started
	mBulkA          // bulk restart (double submit), pending, email sent
	mBulkB          // no address: in the same bulk, pending, link in the answer
	mRefused        // single restart refused for good, nothing applied
	managed
)

const stormResends = 3

func newWorld(t *testing.T, ctx context.Context, db *bun.DB) *world {
	t.Helper()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tx.Rollback() })
	// Three organizations, like a run's: the individuals go to them three at a time and
	// the managed members four at a time, so iStarted, iResent, iStorm and every managed
	// member but mRefused are the first's (two endpoints), iQuiet, iRefused and mRefused
	// the second's (none).
	pop := NewPopulation(3, individuals, managed)
	// Keys differ per world, and the api_keys' hash column is unique; ids are fresh.
	if _, err := seed.Load(ctx, tx, pop.File); err != nil {
		t.Fatal(err)
	}
	w := &world{t: t, ctx: ctx, tx: tx, pop: pop, now: time.Now().UTC().Truncate(time.Microsecond),
		ind: pop.Individuals, man: pop.Managed,
		retry: map[string]*store.Retry{}, restart: map[string]*store.Restart{}, delivered: map[string]bool{},
		wf: &fakeWorkflows{open: map[string]bool{}, events: map[string]int64{}, continued: map[string]bool{}},
		run: &Run{Plan: Plan{Name: "checker test", Orgs: 3, Individuals: individuals, Managed: managed, ResendStorm: stormResends,
			RequestDeadline: time.Minute, Recovery: time.Minute}, Mail: newMailLog("http://unused", ""), Revived: map[string]int{},
			Received: map[string][]webhooktest.Delivery{}},
	}
	// The endpoints were set up before the run, as the suite does.
	for k, o := range pop.Orgs {
		for _, spec := range o.Endpoints {
			ep, err := registerEndpoint(ctx, tx, o, spec, fmt.Sprintf("http://receiver.test/%d/%s", k, spec.Name), w.now.Add(-time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case k == 0 && spec.Name == EndpointSteady:
				w.steady = ep
			case k == 0 && spec.Name == EndpointFlaky:
				w.flaky = ep
			default:
				w.other = ep
			}
		}
	}
	if w.steady == nil || w.flaky == nil || w.other == nil || w.ind[iQuiet].Org != pop.Orgs[1] || w.man[mRefused].Org != pop.Orgs[1] || w.man[mBulkB].Org != pop.Orgs[0] {
		t.Fatal("the world's organizations are not laid out as its roles need")
	}
	w.run.Began = w.now.Add(-time.Minute)
	w.run.LoadEnded, w.run.LastFault, w.run.Settled = w.now.Add(-20*time.Second), w.now.Add(-20*time.Second), w.now.Add(-10*time.Second)

	// Gives.
	for i, m := range w.ind {
		key := "give-" + m.ID
		if i == iRefused {
			body := w.problemBody(problem.RetryWindowExpired)
			w.answer(OpGive, key, []string{m.ID}, http.StatusUnprocessableEntity, body)
			w.store(m, key, http.StatusUnprocessableEntity, body)
			continue
		}
		id := uuid.NewString()
		r, err := store.GiveRetry(ctx, tx, store.ReserveRetryParams{RetryID: id, OrgID: m.Org.ID, MemberID: m.ID, ShootID: m.ShootID,
			Reason: "poor_quality", WorkflowID: "retry-" + id, Actor: adminOf(m), Now: w.now, Window: 60 * 24 * time.Hour})
		if err != nil {
			t.Fatalf("give %d: %v", i, err)
		}
		w.retry[m.ID] = r
		body := mustJSON(t, map[string]any{"id": id, "member_id": m.ID, "shoot_id": m.ShootID, "status": "pending"})
		w.answer(OpGive, key, []string{m.ID}, http.StatusCreated, body)
		if i == iStarted {
			w.answer(OpGive, key, []string{m.ID}, http.StatusCreated, body) // the double submit's twin
		}
		w.store(m, key, http.StatusCreated, body)
		w.email(store.SubjectRetry, id, 0, domain.EmailKindInitial, m.Email, mailer.SubjectRetry)
		w.wf.open[r.WorkflowID] = true
		w.wf.events[r.WorkflowID] = quietEvents
	}
	// The started one: the member's start answered 200; its workflow ended. A reminder
	// went out just as the member started: delivered, never recorded sent (the
	// workflow stops sending once started), which is no duplicate.
	st := w.ind[iStarted]
	if _, err := store.StartShoot(ctx, tx, st.ID, st.ShootID, "req", w.now); err != nil {
		t.Fatal(err)
	}
	if err := store.SetRetryStage(ctx, tx, w.retry[st.ID].ID, "started", w.now); err != nil {
		t.Fatal(err)
	}
	delete(w.wf.open, w.retry[st.ID].WorkflowID)
	w.answer(OpStart, "", []string{st.ID}, http.StatusOK, []byte(`{}`))
	if _, err := store.BeginEmail(ctx, tx, w.retry[st.ID].ID, 1, domain.EmailKindReminder); err != nil {
		t.Fatal(err)
	}
	w.deliver(fmt.Sprintf("msg-unrecorded-%s", st.ID), st.Email, mailer.SubjectRetry)

	// One resend; the storm.
	rs := w.ind[iResent]
	w.email(store.SubjectRetry, w.retry[rs.ID].ID, 1, domain.EmailKindResend, rs.Email, mailer.SubjectRetry)
	w.answer(OpResend, "", []string{rs.ID}, http.StatusOK, []byte(`{}`))
	storm := w.ind[iStorm]
	for n := range stormResends {
		w.email(store.SubjectRetry, w.retry[storm.ID].ID, 1+n, domain.EmailKindResend, storm.Email, mailer.SubjectRetry)
		w.answer(OpResend, "", []string{storm.ID}, http.StatusOK, []byte(`{}`))
	}
	w.run.StormRetry = w.retry[storm.ID].ID
	w.wf.events[w.retry[storm.ID].WorkflowID] = quietEvents + stormResends*eventsPerResend

	// Restarts.
	for i, m := range w.man {
		if i == mRefused {
			key := "restart-" + m.ID
			body := w.problemBody(problem.NoDeletedShoot)
			w.answer(OpRestart, key, []string{m.ID}, http.StatusUnprocessableEntity, body)
			w.store(m, key, http.StatusUnprocessableEntity, body)
			continue
		}
		id := uuid.NewString()
		r, err := store.CreateRestart(ctx, tx, store.CreateRestartParams{RestartID: id, OrgID: m.Org.ID, MemberID: m.ID,
			NewShootID: uuid.NewString(), WorkflowID: "restart-" + id, Actor: adminOf(m), Now: w.now})
		if err != nil {
			t.Fatalf("restart %d: %v", i, err)
		}
		w.restart[m.ID] = r
		w.wf.open[r.WorkflowID] = true
		if m.Email != "" {
			w.email(store.SubjectRestart, id, 0, domain.EmailKindInitial, m.Email, mailer.SubjectRestart)
		}
	}
	for _, i := range []int{mPending, mStarted} {
		m := w.man[i]
		key := "restart-" + m.ID
		body := mustJSON(t, w.restartAnswer(m))
		w.answer(OpRestart, key, []string{m.ID}, http.StatusCreated, body)
		w.answer(OpRestart, key, []string{m.ID}, http.StatusCreated, body)
		w.store(m, key, http.StatusCreated, body)
	}
	ms := w.man[mStarted]
	if _, err := store.StartShoot(ctx, tx, ms.ID, w.restart[ms.ID].NewShootID, "req", w.now); err != nil {
		t.Fatal(err)
	}
	if err := store.SetRestartStage(ctx, tx, w.restart[ms.ID].ID, "started", w.now); err != nil {
		t.Fatal(err)
	}
	delete(w.wf.open, w.restart[ms.ID].WorkflowID)
	bulk := []string{w.man[mBulkA].ID, w.man[mBulkB].ID}
	key := "bulk-" + bulk[0]
	body := mustJSON(t, w.bulkAnswer(w.man[mBulkA], w.man[mBulkB]))
	w.answer(OpBulkRestart, key, bulk, http.StatusOK, body)
	w.answer(OpBulkRestart, key, bulk, http.StatusOK, body)
	w.store(w.man[mBulkA], key, http.StatusOK, body)
	return w
}

// adminOf is the owner of the member's organization, as the actor of a change.
func adminOf(m SeedMember) store.Actor {
	return store.Actor{Kind: store.ActorAdmin, ID: m.Org.AdminID, RequestID: "req"}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (w *world) problemBody(code problem.Code) []byte {
	return mustJSON(w.t, map[string]any{"type": "about:blank", "status": code.Status(), "code": string(code), "detail": "refused"})
}

func (w *world) restartAnswer(m SeedMember) map[string]any {
	r := w.restart[m.ID]
	out := map[string]any{"id": r.ID, "member_id": m.ID, "new_shoot_id": r.NewShootID, "status": "pending"}
	if m.Email == "" {
		out["access_link"] = "http://app/app/shoots/" + r.NewShootID + "/start#token"
	}
	return out
}

func (w *world) bulkAnswer(ms ...SeedMember) map[string]any {
	var results []map[string]any
	for _, m := range ms {
		results = append(results, map[string]any{"member_id": m.ID, "outcome": "restarted", "code": nil, "restart": w.restartAnswer(m)})
	}
	return map[string]any{"results": results}
}

// answer records a client's final answer.
func (w *world) answer(kind OpKind, key string, members []string, status int, body []byte) {
	o := Outcome{Kind: kind, Key: key, Members: members, Attempts: 1, Status: status, Final: true, Body: body}
	if status >= 400 {
		var p struct {
			Code string `json:"code"`
		}
		_ = json.Unmarshal(body, &p)
		o.Code = p.Code
	}
	w.run.Outcomes = append(w.run.Outcomes, o)
}

// store keeps an answer under its Idempotency-Key in the member's organization, as the
// API does.
func (w *world) store(m SeedMember, key string, status int, body []byte) {
	w.t.Helper()
	if _, err := store.ClaimIdempotencyKey(w.ctx, w.tx, m.Org.ID, key, "/route", "hash", w.now); err != nil {
		w.t.Fatal(err)
	}
	if err := store.SaveIdempotentResponse(w.ctx, w.tx, m.Org.ID, key, "hash", status, body); err != nil {
		w.t.Fatal(err)
	}
}

// email records email seq of a retry or restart as sent, and delivers it.
func (w *world) email(subject store.Subject, subjectID string, seq int, kind, to, line string) {
	w.t.Helper()
	e, err := store.BeginEmail(w.ctx, w.tx, subjectID, seq, kind)
	if err != nil {
		w.t.Fatal(err)
	}
	w.msgs++
	id := fmt.Sprintf("msg-%d", w.msgs)
	if err := store.FinishEmail(w.ctx, w.tx, subject, e, id, w.now); err != nil {
		w.t.Fatal(err)
	}
	w.deliver(id, to, line)
}

func (w *world) deliver(id, to, line string) {
	w.run.Mail.byID[id] = devmailbox.Message{ID: id, To: []string{to}, Subject: line, ReceivedAt: w.now}
}

func (w *world) exec(query string, args ...any) {
	w.t.Helper()
	if _, err := w.tx.ExecContext(w.ctx, query, args...); err != nil {
		w.t.Fatalf("%s: %v", query, err)
	}
}

// outcome returns the n-th recorded answer of a kind for a member, to change it.
func (w *world) outcome(kind OpKind, member string, n int) *Outcome {
	for i := range w.run.Outcomes {
		o := &w.run.Outcomes[i]
		if o.Kind == kind && o.Members[0] == member {
			if n == 0 {
				return o
			}
			n--
		}
	}
	w.t.Fatalf("no answer %d of %s for %s", n, kind, member)
	return nil
}

// recordEvents records the webhook events of a change a case wrote by hand, as the
// store's own writes record them.
func (w *world) recordEvents(m SeedMember, kind, id string, types ...string) {
	w.t.Helper()
	for _, typ := range types {
		if err := store.RecordEvent(w.ctx, w.tx, store.Event{OrgID: m.Org.ID, Type: typ, OccurredAt: w.now, Data: map[string]any{kind + "_id": id}}); err != nil {
			w.t.Fatal(err)
		}
	}
}

// deliverWebhooks ends every delivery it has not ended yet the way a settled run leaves
// it: handed to Temporal, delivered at the first attempt, and accepted, signed, by its
// endpoint's receiver. judge calls it; a case that breaks a delivery calls it first.
func (w *world) deliverWebhooks() {
	w.t.Helper()
	var ds []struct {
		ID         string `bun:"id"`
		EndpointID string `bun:"endpoint_id"`
		EventID    string `bun:"event_id"`
		Payload    string `bun:"payload"`
	}
	if err := w.tx.NewRaw(`SELECT d.id, d.endpoint_id, d.event_id, e.payload::text AS payload
		FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id ORDER BY d.created_at, d.id`).Scan(w.ctx, &ds); err != nil {
		w.t.Fatal(err)
	}
	for _, d := range ds {
		if w.delivered[d.ID] {
			continue
		}
		w.delivered[d.ID] = true
		w.exec(`UPDATE webhook_deliveries SET status = 'delivered', attempts = 1, dispatched_at = ?0, first_attempt_at = ?0,
			last_attempt_at = ?0, last_status_code = 200, delivered_at = ?0 WHERE id = ?1`, w.now, d.ID)
		var body store.EventBody
		if err := json.Unmarshal([]byte(d.Payload), &body); err != nil {
			w.t.Fatal(err)
		}
		w.run.Received[d.EndpointID] = append(w.run.Received[d.EndpointID], webhooktest.Delivery{
			At: w.now, MsgID: d.EventID, Event: body, Signed: true, Answered: http.StatusOK, Attempt: 1})
	}
}

// eventID is the id of the one event of type typ about a retry or restart.
func (w *world) eventID(typ, subjectID string) string {
	w.t.Helper()
	var id string
	if err := w.tx.QueryRowContext(w.ctx, `SELECT id FROM webhook_events WHERE type = ? AND (payload->'data'->>'retry_id' = ? OR payload->'data'->>'restart_id' = ?)`,
		typ, subjectID, subjectID).Scan(&id); err != nil {
		w.t.Fatalf("%s event of %s: %v", typ, subjectID, err)
	}
	return id
}

// deliveryID is the id of the delivery of an event to an endpoint.
func (w *world) deliveryID(eventID, endpointID string) string {
	w.t.Helper()
	var id string
	if err := w.tx.QueryRowContext(w.ctx, `SELECT id FROM webhook_deliveries WHERE event_id = ? AND endpoint_id = ?`, eventID, endpointID).Scan(&id); err != nil {
		w.t.Fatalf("delivery of %s to %s: %v", eventID, endpointID, err)
	}
	return id
}

// received is what an endpoint's receiver recorded of an event, to change it.
func (w *world) received(endpointID, eventID string) *webhooktest.Delivery {
	w.t.Helper()
	got := w.run.Received[endpointID]
	for i := range got {
		if got[i].MsgID == eventID {
			return &got[i]
		}
	}
	w.t.Fatalf("endpoint %s's receiver has no event %s", endpointID, eventID)
	return nil
}

func (w *world) judge() *Report {
	w.t.Helper()
	w.deliverWebhooks()
	rep, err := judge(w.ctx, w.tx, w.wf, w.pop, w.run)
	if err != nil {
		w.t.Fatalf("judge: %v", err)
	}
	return rep
}

func violated(rep *Report) []string {
	var out []string
	for inv := range rep.ByInvariant() {
		out = append(out, inv)
	}
	sort.Strings(out)
	return out
}

func listViolations(rep *Report) string {
	var b strings.Builder
	for _, v := range rep.Violations {
		fmt.Fprintf(&b, "\n  %s %s: %s", v.Invariant, v.Subject, v.Detail)
	}
	if b.Len() == 0 {
		return " none"
	}
	return b.String()
}

// checkerDB is one migrated database for the checker's tests; every case works in a
// transaction it rolls back.
func checkerDB(t *testing.T) (context.Context, *bun.DB) {
	db, _ := testenv.Database(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx, db
}

// TestCheckerWholeWorldHolds: the unbroken world breaks no invariant, so each case below
// fails because of its one change.
func TestCheckerWholeWorldHolds(t *testing.T) {
	ctx, db := checkerDB(t)
	w := newWorld(t, ctx, db)
	rep := w.judge()
	if len(rep.Violations) > 0 {
		t.Fatalf("the whole world breaks invariants:%s", listViolations(rep))
	}
	if rep.Answered201 == 0 || rep.BaseHistory != quietEvents || rep.StormHistory == 0 || rep.DuplicateEmails != 0 {
		t.Fatalf("the world was not read: answered %d, histories %d/%d, duplicates %d", rep.Answered201, rep.StormHistory, rep.BaseHistory, rep.DuplicateEmails)
	}
	// The first organization's two endpoints hear of its changes, the flaky one of every
	// type but retry.email_delivered; the second organization has none.
	if rep.WebhookEvents == 0 || rep.WebhookDeliveries <= rep.WebhookEvents || rep.WebhookRequests != rep.WebhookDeliveries || rep.WebhookDuplicates != 0 {
		t.Fatalf("the webhooks were not read: %d events, %d deliveries, %d requests, %d duplicates", rep.WebhookEvents, rep.WebhookDeliveries, rep.WebhookRequests, rep.WebhookDuplicates)
	}
}

// mutation removes one guarantee from a whole world.
type mutation struct {
	name  string
	want  string // the one invariant it must break
	also  []string
	apply func(w *world)
	// subject, when set, is what the violation must be about.
	subject func(w *world) string
}

// TestCheckerReportsEachBrokenGuarantee is the mutation test of the checker.
func TestCheckerReportsEachBrokenGuarantee(t *testing.T) {
	ctx, db := checkerDB(t)
	for _, m := range mutations {
		t.Run(m.name, func(t *testing.T) {
			w := newWorld(t, ctx, db)
			m.apply(w)
			rep := w.judge()
			want := append([]string{m.want}, m.also...)
			sort.Strings(want)
			if got := violated(rep); strings.Join(got, ",") != strings.Join(want, ",") {
				t.Fatalf("violated %v, want %v; violations:%s", got, want, listViolations(rep))
			}
			if m.subject != nil {
				subject := m.subject(w)
				for _, v := range rep.Violations {
					if v.Invariant == m.want && v.Subject == subject {
						return
					}
				}
				t.Fatalf("no %s violation about %q; violations:%s", m.want, subject, listViolations(rep))
			}
		})
	}
}

var mutations = []mutation{
	{name: "give answered 201, its transaction never committed", want: InvLost, apply: func(w *world) {
		m := w.ind[iStarted]
		w.exec(`DELETE FROM retries WHERE id = ?`, w.retry[m.ID].ID)
		w.exec(`DELETE FROM webhook_events WHERE payload->'data'->>'retry_id' = ?`, w.retry[m.ID].ID)
		w.exec(`UPDATE members SET free_retry_available = true WHERE id = ?`, m.ID)
	}},
	{name: "restart answered 201, no row", want: InvLost, apply: func(w *world) {
		w.exec(`DELETE FROM restarts WHERE id = ?`, w.restart[w.man[mStarted].ID].ID)
		w.exec(`DELETE FROM webhook_events WHERE payload->'data'->>'restart_id' = ?`, w.restart[w.man[mStarted].ID].ID)
	}},
	{name: "retry answered 201 is failed", want: InvRetryState, apply: func(w *world) {
		m := w.ind[iResent]
		w.exec(`UPDATE retries SET status = 'failed', stage = 'failed' WHERE id = ?`, w.retry[m.ID].ID)
		w.recordEvents(m, "retry", w.retry[m.ID].ID, domain.EventRetryCanceled)
	}},
	{name: "results deleted, shoot not reset", want: InvResultsDeleted, apply: func(w *world) {
		w.exec(`UPDATE shoots SET status = 'active', completed_at = now(), retry_count = 0 WHERE id = ?`, w.ind[iQuiet].ShootID)
	}},
	{name: "shoot reset, results kept", want: InvResultsDeleted, apply: func(w *world) {
		w.exec(`INSERT INTO results (id, shoot_id, storage_key) VALUES (?, ?, 'k')`, uuid.NewString(), w.ind[iQuiet].ShootID)
	}},
	{name: "second retry for one shoot", want: InvOneRetryPerShoot, apply: func(w *world) {
		m := w.ind[iStarted]
		r := w.retry[m.ID]
		w.exec(`DROP INDEX retries_one_per_shoot`)
		id := uuid.NewString()
		w.exec(`INSERT INTO retries (id, org_id, member_id, shoot_id, issued_by_kind, issued_by, issued_at, allowance_used, status, stage, workflow_id)
			VALUES (?, ?, ?, ?, 'admin', ?, now(), 'free_retry', 'started', 'started', ?)`, id, m.Org.ID, m.ID, m.ShootID, r.IssuedBy, "retry-second")
		w.recordEvents(m, "retry", id, domain.EventRetryIssued, domain.EventRetryStarted)
	}, subject: func(w *world) string { return "shoot " + w.ind[iStarted].ShootID }},
	{name: "free retry spent twice: a second retry on another shoot", want: InvAllowanceOnce, apply: func(w *world) {
		m := w.ind[iStarted]
		r := w.retry[m.ID]
		shoot := uuid.NewString()
		w.exec(`INSERT INTO shoots (id, org_id, member_id, status, completed_at) VALUES (?, ?, ?, 'onboarding', NULL)`, shoot, m.Org.ID, m.ID)
		id := uuid.NewString()
		w.exec(`INSERT INTO retries (id, org_id, member_id, shoot_id, issued_by_kind, issued_by, issued_at, allowance_used, status, stage, workflow_id)
			VALUES (?, ?, ?, ?, 'admin', ?, now(), 'free_retry', 'started', 'started', ?)`, id, m.Org.ID, m.ID, shoot, r.IssuedBy, "retry-other")
		w.recordEvents(m, "retry", id, domain.EventRetryIssued, domain.EventRetryStarted)
	}},
	{name: "retry given, free retry still available", want: InvAllowanceOnce, apply: func(w *world) {
		w.exec(`UPDATE members SET free_retry_available = true WHERE id = ?`, w.ind[iResent].ID)
	}},
	{name: "free retry spent, no retry", want: InvAllowanceOnce, apply: func(w *world) {
		w.exec(`UPDATE members SET free_retry_available = false WHERE id = ?`, w.ind[iRefused].ID)
	}},
	{name: "a credit touched", want: InvAllowanceOnce, apply: func(w *world) {
		w.exec(`UPDATE members SET retry_credits = 1 WHERE id = ?`, w.ind[iRefused].ID)
	}},
	{name: "organization balance changed", want: InvAllowanceOnce, apply: func(w *world) {
		w.exec(`UPDATE organizations SET credit_balance = credit_balance - 1 WHERE id = ?`, w.pop.Orgs[2].ID)
	}},
	{name: "retry left resetting", want: InvNotStuck, apply: func(w *world) {
		w.exec(`UPDATE retries SET stage = 'resetting' WHERE id = ?`, w.retry[w.ind[iQuiet].ID].ID)
	}},
	{name: "restart left reserving", want: InvNotStuck, apply: func(w *world) {
		w.exec(`UPDATE restarts SET stage = 'reserving' WHERE id = ?`, w.restart[w.man[mPending].ID].ID)
	}},
	{name: "first email recorded sent, never delivered", want: InvEmailDelivered, apply: func(w *world) {
		r := w.retry[w.ind[iQuiet].ID]
		delete(w.run.Mail.byID, *w.emailID(r.ID, 0))
	}},
	{name: "first email still queued", want: InvEmailDelivered, apply: func(w *world) {
		w.exec(`UPDATE retries SET email_status = 'queued' WHERE id = ?`, w.retry[w.ind[iQuiet].ID].ID)
	}},
	{name: "workflow left running for a started retry", want: InvStartedClosed, apply: func(w *world) {
		w.wf.open[w.retry[w.ind[iStarted].ID].WorkflowID] = true
	}},
	{name: "workflow left running for a started restart", want: InvStartedClosed, apply: func(w *world) {
		w.wf.open[w.restart[w.man[mStarted].ID].WorkflowID] = true
	}},
	{name: "pending retry without its workflow", want: InvPendingHasFlow, apply: func(w *world) {
		delete(w.wf.open, w.retry[w.ind[iQuiet].ID].WorkflowID)
	}},
	{name: "member start answered 200, retry still pending", want: InvStartHonoured, apply: func(w *world) {
		w.answer(OpStart, "", []string{w.ind[iResent].ID}, http.StatusOK, []byte(`{}`))
	}},
	{name: "give refused for good, retry recorded", want: InvRefusedNotApplied, also: []string{InvStoredAnswer}, apply: func(w *world) {
		w.exec(`INSERT INTO retries (id, org_id, member_id, shoot_id, issued_by_kind, issued_by, issued_at, allowance_used, status, stage, workflow_id)
			VALUES (?, ?, ?, ?, 'admin', ?, now(), 'free_retry', 'started', 'started', 'retry-refused')`,
			uuid.NewString(), w.ind[iRefused].Org.ID, w.ind[iRefused].ID, w.ind[iRefused].ShootID, w.ind[iRefused].Org.AdminID)
		w.exec(`UPDATE members SET free_retry_available = false WHERE id = ?`, w.ind[iRefused].ID)
	}},
	{name: "restart refused for good, restart recorded", want: InvRefusedNotApplied, also: []string{InvStoredAnswer}, apply: func(w *world) {
		m := w.man[mRefused]
		if _, err := store.CreateRestart(w.ctx, w.tx, store.CreateRestartParams{RestartID: uuid.NewString(), OrgID: m.Org.ID, MemberID: m.ID,
			NewShootID: uuid.NewString(), WorkflowID: "restart-refused", Actor: adminOf(m), Now: w.now}); err != nil {
			w.t.Fatal(err)
		}
		w.exec(`UPDATE restarts SET status = 'started', stage = 'started' WHERE member_id = ?`, m.ID)
	}},
	{name: "second restart of a member", want: InvOneRestart, apply: func(w *world) {
		m := w.man[mPending]
		r := w.restart[m.ID]
		shoot := uuid.NewString()
		w.exec(`INSERT INTO shoots (id, org_id, member_id, status) VALUES (?, ?, ?, 'deleted')`, shoot, m.Org.ID, m.ID)
		id := uuid.NewString()
		w.exec(`INSERT INTO restarts (id, org_id, member_id, old_shoot_id, new_shoot_id, issued_by_kind, issued_by, issued_at, status, stage, workflow_id)
			VALUES (?, ?, ?, ?, ?, 'admin', ?, now(), 'failed', 'failed', 'restart-second')`, id, m.Org.ID, m.ID, m.ShootID, shoot, r.IssuedBy)
		w.recordEvents(m, "restart", id, domain.EventRestartIssued, domain.EventRestartCanceled)
	}},
	{name: "two live shoots for a restarted member", want: InvOneRestart, apply: func(w *world) {
		m := w.man[mPending]
		w.exec(`INSERT INTO shoots (id, org_id, member_id, status) VALUES (?, ?, ?, 'onboarding')`, uuid.NewString(), m.Org.ID, m.ID)
	}},
	{name: "a request without a final answer", want: InvFinalAnswer, apply: func(w *world) {
		o := w.outcome(OpResend, w.ind[iResent].ID, 0)
		o.Final, o.Status, o.Err = false, 503, "503 unavailable"
	}},
	{name: "restart answered 201 is failed", want: InvRestartState, apply: func(w *world) {
		m := w.man[mPending]
		w.exec(`UPDATE restarts SET status = 'failed', stage = 'failed' WHERE id = ?`, w.restart[m.ID].ID)
		w.recordEvents(m, "restart", w.restart[m.ID].ID, domain.EventRestartCanceled)
	}},
	{name: "double-submitted give answered with two retries", want: InvSameKeySameAnswer, also: []string{InvLost}, apply: func(w *world) {
		o := w.outcome(OpGive, w.ind[iStarted].ID, 1)
		o.Body = []byte(`{"id":"` + uuid.NewString() + `"}`)
	}},
	{name: "double-submitted restart answered with two restarts", want: InvSameKeySameAnswer, also: []string{InvLost}, apply: func(w *world) {
		o := w.outcome(OpRestart, w.man[mPending].ID, 1)
		o.Body = []byte(`{"id":"` + uuid.NewString() + `"}`)
	}},
	{name: "double-submitted bulk restart answered with two restarts of a member", want: InvSameKeySameAnswer, also: []string{InvLost}, apply: func(w *world) {
		o := w.outcome(OpBulkRestart, w.man[mBulkA].ID, 1)
		a := w.bulkAnswer(w.man[mBulkA], w.man[mBulkB])
		a["results"].([]map[string]any)[0]["restart"].(map[string]any)["id"] = uuid.NewString()
		o.Body = mustJSON(w.t, a)
	}},
	{name: "double-submitted bulk restart refused a member the first restarted", want: InvSameKeySameAnswer, also: []string{InvRefusedNotApplied}, apply: func(w *world) {
		o := w.outcome(OpBulkRestart, w.man[mBulkA].ID, 1)
		a := w.bulkAnswer(w.man[mBulkA], w.man[mBulkB])
		a["results"].([]map[string]any)[0] = map[string]any{"member_id": w.man[mBulkA].ID, "outcome": "skipped", "code": string(problem.ActiveShootExists), "restart": nil}
		o.Body = mustJSON(w.t, a)
	}},
	{name: "double-submitted restart: the twin refused, its refusal stored", want: InvStoredAnswer, also: []string{InvSameKeySameAnswer, InvRefusedNotApplied}, apply: func(w *world) {
		m := w.man[mPending]
		o := w.outcome(OpRestart, m.ID, 1)
		o.Status, o.Code, o.Body = http.StatusConflict, string(problem.ActiveShootExists), w.problemBody(problem.ActiveShootExists)
		w.exec(`UPDATE idempotency_keys SET status_code = 409, response = ? WHERE key = ?`, o.Body, "restart-"+m.ID)
	}},
	{name: "stored answer refuses a restart its key made", want: InvStoredAnswer, apply: func(w *world) {
		w.exec(`UPDATE idempotency_keys SET status_code = 409, response = ? WHERE key = ?`, w.problemBody(problem.ActiveShootExists), "restart-"+w.man[mStarted].ID)
	}},
	{name: "stored bulk answer skips a member its key restarted", want: InvStoredAnswer, apply: func(w *world) {
		a := w.bulkAnswer(w.man[mBulkA], w.man[mBulkB])
		a["results"].([]map[string]any)[1] = map[string]any{"member_id": w.man[mBulkB].ID, "outcome": "skipped", "code": string(problem.ActiveShootExists), "restart": nil}
		w.exec(`UPDATE idempotency_keys SET response = ? WHERE key = ?`, mustJSON(w.t, a), "bulk-"+w.man[mBulkA].ID)
	}},
	{name: "stored answer refuses a retry its key gave", want: InvStoredAnswer, apply: func(w *world) {
		w.exec(`UPDATE idempotency_keys SET status_code = 409, response = ? WHERE key = ?`, w.problemBody(problem.RetryPending), "give-"+w.ind[iQuiet].ID)
	}},
	{name: "access link missing from a restart answer", want: InvRestartLink, apply: func(w *world) {
		o := w.outcome(OpRestart, w.man[mStarted].ID, 1)
		o.Body = []byte(`{"id":"` + w.restart[w.man[mStarted].ID].ID + `"}`)
	}},
	{name: "access link missing from a bulk answer", want: InvRestartLink, apply: func(w *world) {
		o := w.outcome(OpBulkRestart, w.man[mBulkA].ID, 0)
		a := w.bulkAnswer(w.man[mBulkA], w.man[mBulkB])
		delete(a["results"].([]map[string]any)[1]["restart"].(map[string]any), "access_link")
		o.Body = mustJSON(w.t, a)
	}},
	{name: "history grown past what the resends explain", want: InvHistoryBounded, apply: func(w *world) {
		w.wf.events[w.retry[w.ind[iStorm].ID].WorkflowID]++
	}},
	{name: "more resends than a run holds, never continued as new", want: InvHistoryBounded, apply: func(w *world) {
		storm := w.ind[iStorm]
		for range 100 {
			w.answer(OpResend, "", []string{storm.ID}, http.StatusOK, []byte(`{}`))
		}
		w.wf.events[w.retry[storm.ID].WorkflowID] = quietEvents + 100*eventsPerResend
	}},
	{name: "an email delivered twice without a fault that explains it", want: InvDuplicateEmails, apply: func(w *world) {
		w.deliver("msg-again", w.ind[iQuiet].Email, mailer.SubjectRetry)
	}},

	// Webhooks.
	{name: "a give recorded no retry.issued event", want: InvWebhookEvents, apply: func(w *world) {
		w.exec(`DELETE FROM webhook_events WHERE id = ?`, w.eventID(domain.EventRetryIssued, w.retry[w.ind[iResent].ID].ID))
	}, subject: func(w *world) string { return "retry " + w.retry[w.ind[iResent].ID].ID }},
	{name: "a member's start recorded no retry.started event", want: InvWebhookEvents, apply: func(w *world) {
		w.exec(`DELETE FROM webhook_events WHERE id = ?`, w.eventID(domain.EventRetryStarted, w.retry[w.ind[iStarted].ID].ID))
	}, subject: func(w *world) string { return "retry " + w.retry[w.ind[iStarted].ID].ID }},
	{name: "a restart's start recorded no restart.started event", want: InvWebhookEvents, apply: func(w *world) {
		w.exec(`DELETE FROM webhook_events WHERE id = ?`, w.eventID(domain.EventRestartStarted, w.restart[w.man[mStarted].ID].ID))
	}},
	{name: "a restart's cancel recorded no restart.canceled event", want: InvWebhookEvents, also: []string{InvRestartState}, apply: func(w *world) {
		w.exec(`UPDATE restarts SET status = 'failed', stage = 'failed' WHERE id = ?`, w.restart[w.man[mPending].ID].ID)
	}, subject: func(w *world) string { return "restart " + w.restart[w.man[mPending].ID].ID }},
	{name: "an email sent recorded no retry.email_delivered event", want: InvWebhookEvents, apply: func(w *world) {
		w.exec(`DELETE FROM webhook_events WHERE type = ? AND payload->'data'->>'retry_id' = ? AND payload->'data'->>'email_seq' = '1'`,
			domain.EventRetryEmailDelivered, w.retry[w.ind[iResent].ID].ID)
	}},
	{name: "an event without its delivery to one subscribed endpoint", want: InvWebhookEvents, apply: func(w *world) {
		w.exec(`DELETE FROM webhook_deliveries WHERE id = ?`, w.deliveryID(w.eventID(domain.EventRestartIssued, w.restart[w.man[mBulkB].ID].ID), w.flaky.ID))
	}},
	{name: "an event delivered to an endpoint that does not subscribe to it", want: InvWebhookEvents, apply: func(w *world) {
		// The flaky endpoint takes every type but retry.email_delivered.
		w.exec(`INSERT INTO webhook_deliveries (id, event_id, endpoint_id, org_id, created_at) VALUES (?, ?, ?, ?, ?)`, uuid.NewString(),
			w.eventID(domain.EventRetryEmailDelivered, w.retry[w.ind[iStorm].ID].ID), w.flaky.ID, w.flaky.OrgID, w.now)
	}},
	{name: "one change recorded two events", want: InvWebhookEvents, apply: func(w *world) {
		w.recordEvents(w.man[mBulkA], "restart", w.restart[w.man[mBulkA].ID].ID, domain.EventRestartIssued)
	}},
	{name: "an event of a change that did not happen", want: InvWebhookEvents, apply: func(w *world) {
		w.recordEvents(w.man[mBulkA], "restart", w.restart[w.man[mBulkA].ID].ID, domain.EventRestartStarted)
	}},
	{name: "a delivery ended failed", want: InvWebhookDelivered, apply: func(w *world) {
		w.deliverWebhooks()
		w.exec(`UPDATE webhook_deliveries SET status = 'failed' WHERE id = ?`, w.deliveryID(w.eventID(domain.EventRetryIssued, w.retry[w.ind[iStorm].ID].ID), w.steady.ID))
	}},
	{name: "a delivery never handed to Temporal", want: InvWebhookDelivered, apply: func(w *world) {
		w.delivered[w.deliveryID(w.eventID(domain.EventRestartIssued, w.restart[w.man[mPending].ID].ID), w.steady.ID)] = true
	}},
	{name: "delivered in Postgres, never received", want: InvWebhookReceived, apply: func(w *world) {
		w.deliverWebhooks()
		ev := w.eventID(domain.EventRetryIssued, w.retry[w.ind[iStarted].ID].ID)
		w.run.Received[w.steady.ID] = slices.DeleteFunc(w.run.Received[w.steady.ID], func(d webhooktest.Delivery) bool { return d.MsgID == ev })
	}},
	{name: "received without a valid signature", want: InvWebhookReceived, apply: func(w *world) {
		w.deliverWebhooks()
		w.received(w.steady.ID, w.eventID(domain.EventRetryIssued, w.retry[w.ind[iStarted].ID].ID)).Signed = false
	}},
	{name: "accepted only by a request its sender never saw answered", want: InvWebhookReceived, apply: func(w *world) {
		w.deliverWebhooks()
		w.received(w.flaky.ID, w.eventID(domain.EventRetryStarted, w.retry[w.ind[iStarted].ID].ID)).Cut = true
	}},
	{name: "delivered in Postgres, the receiver answered 500", want: InvWebhookReceived, apply: func(w *world) {
		w.deliverWebhooks()
		w.received(w.flaky.ID, w.eventID(domain.EventRestartIssued, w.restart[w.man[mPending].ID].ID)).Answered = http.StatusInternalServerError
	}},
	{name: "an event delivered to another organization's endpoint", want: InvWebhookOwnOrg, apply: func(w *world) {
		w.exec(`INSERT INTO webhook_deliveries (id, event_id, endpoint_id, org_id, created_at) VALUES (?, ?, ?, ?, ?)`, uuid.NewString(),
			w.eventID(domain.EventRestartIssued, w.restart[w.man[mPending].ID].ID), w.other.ID, w.other.OrgID, w.now)
	}},
	{name: "a delivery naming another organization", want: InvWebhookOwnOrg, apply: func(w *world) {
		w.exec(`UPDATE webhook_deliveries SET org_id = ? WHERE id = ?`, w.other.OrgID,
			w.deliveryID(w.eventID(domain.EventRetryIssued, w.retry[w.ind[iStorm].ID].ID), w.steady.ID))
	}},
	{name: "an event's body naming another organization", want: InvWebhookOwnOrg, apply: func(w *world) {
		w.exec(`UPDATE webhook_events SET payload = jsonb_set(payload, '{organization_id}', to_jsonb(?::text)) WHERE id = ?`, w.other.OrgID,
			w.eventID(domain.EventRetryIssued, w.retry[w.ind[iStorm].ID].ID))
	}},
	{name: "a receiver got another organization's event", want: InvWebhookOwnOrg, apply: func(w *world) {
		w.deliverWebhooks()
		got := *w.received(w.steady.ID, w.eventID(domain.EventRetryIssued, w.retry[w.ind[iStorm].ID].ID))
		w.run.Received[w.other.ID] = append(w.run.Received[w.other.ID], got)
	}, subject: func(w *world) string {
		return "event " + w.eventID(domain.EventRetryIssued, w.retry[w.ind[iStorm].ID].ID)
	}},
}

// TestCheckerCountsWebhookDuplicatesWithoutReporting: an event accepted twice by one
// endpoint (a worker killed after the 2xx and before recording it sends again) is at
// least once, counted and not reported; so is a request its sender was killed during.
func TestCheckerCountsWebhookDuplicatesWithoutReporting(t *testing.T) {
	ctx, db := checkerDB(t)
	w := newWorld(t, ctx, db)
	w.deliverWebhooks()
	ev := w.eventID(domain.EventRetryIssued, w.retry[w.ind[iStarted].ID].ID)
	first := *w.received(w.steady.ID, ev)
	cut, again := first, first
	cut.Attempt, cut.Cut = 2, true
	again.Attempt = 3
	w.run.Received[w.steady.ID] = append(w.run.Received[w.steady.ID], cut, again)
	w.run.Faults = append(w.run.Faults, FaultRecord{Fault: Fault{Kind: KillWorker, Down: time.Second}, Started: w.now, Ended: w.now, WebhooksInFlight: 1},
		FaultRecord{Fault: Fault{Kind: KillWorker, Down: time.Second}, Started: w.now, Ended: w.now})
	rep := w.judge()
	if len(rep.Violations) > 0 {
		t.Fatalf("at least once reported as a violation:%s", listViolations(rep))
	}
	if rep.WebhookDuplicates != 1 || rep.WebhookCut != 1 || rep.WebhookRequests != rep.WebhookDeliveries+2 || rep.WorkerKills != 2 || rep.WorkerKillsMidDelivery != 1 {
		t.Fatalf("duplicates %d (want 1), cut %d (want 1), requests %d for %d deliveries (want 2 more), worker kills %d with %d mid-delivery (want 2, 1)",
			rep.WebhookDuplicates, rep.WebhookCut, rep.WebhookRequests, rep.WebhookDeliveries, rep.WorkerKills, rep.WorkerKillsMidDelivery)
	}
}

// emailID is the message id recorded for email seq of a retry or restart.
func (w *world) emailID(subjectID string, seq int) *string {
	w.t.Helper()
	var id *string
	if err := w.tx.QueryRowContext(w.ctx, `SELECT message_id FROM emails WHERE subject_id = ? AND seq = ?`, subjectID, seq).Scan(&id); err != nil || id == nil {
		w.t.Fatalf("email %d of %s: %v", seq, subjectID, err)
	}
	return id
}

// TestCheckerDuplicateEmailsWithinTheirBound: a worker kill explains one duplicate email
// (its send between the provider's 202 and the record); a second one it does not.
func TestCheckerDuplicateEmailsWithinTheirBound(t *testing.T) {
	ctx, db := checkerDB(t)
	w := newWorld(t, ctx, db)
	w.run.Faults = append(w.run.Faults, FaultRecord{Fault: Fault{Kind: KillWorker, Down: time.Second}, Started: w.now, Ended: w.now})
	w.deliver("msg-again-1", w.ind[iQuiet].Email, mailer.SubjectRetry)
	rep := w.judge()
	if len(rep.Violations) > 0 || rep.DuplicateEmails != 1 || rep.AllowedDuplicates != DuplicatesPerWorkerKill {
		t.Fatalf("one duplicate, one worker kill: %d duplicates, %d allowed, violations:%s", rep.DuplicateEmails, rep.AllowedDuplicates, listViolations(rep))
	}
	w.deliver("msg-again-2", w.man[mPending].Email, mailer.SubjectRestart)
	rep = w.judge()
	if got := violated(rep); len(got) != 1 || got[0] != InvDuplicateEmails || rep.DuplicateEmails != 2 {
		t.Fatalf("two duplicates, one worker kill: %d duplicates, violations:%s", rep.DuplicateEmails, listViolations(rep))
	}
}

// TestEventsPerResendMatchesARecordedHistory: the history bound's events per resend is
// what a resend update costs in a history the real workflow recorded (from the workflow
// task that carried the update to the update's completion).
func TestEventsPerResendMatchesARecordedHistory(t *testing.T) {
	f, err := os.Open("../../../workflows/testdata/retry_reminders_resend_history.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h, err := client.HistoryFromJSON(f, client.HistoryJSONOptions{})
	if err != nil {
		t.Fatal(err)
	}
	from := map[string]int64{} // resend update id -> the event its workflow task began at
	resends := 0
	for _, e := range h.GetEvents() {
		if a := e.GetWorkflowExecutionUpdateAcceptedEventAttributes(); a != nil && a.GetAcceptedRequest().GetInput().GetName() == workflows.UpdateResendEmail {
			from[a.GetProtocolInstanceId()] = a.GetAcceptedRequestSequencingEventId()
		}
		if c := e.GetWorkflowExecutionUpdateCompletedEventAttributes(); c != nil {
			if start, ok := from[c.GetMeta().GetUpdateId()]; ok {
				resends++
				if n := e.GetEventId() - start + 1; n != eventsPerResend {
					t.Errorf("a resend took events %d to %d: %d events, the bound counts %d", start, e.GetEventId(), n, eventsPerResend)
				}
			}
		}
	}
	if resends == 0 {
		t.Fatal("no resend in the recorded history")
	}
}
