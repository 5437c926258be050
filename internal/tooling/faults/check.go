package faults

import (
	"github.com/headshotpro/retryd/internal/domain"
	"github.com/headshotpro/retryd/workflows"

	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/uptrace/bun"

	"github.com/headshotpro/retryd/internal/mailer"
	"github.com/headshotpro/retryd/internal/store"
)

// Invariant names; the report and the tests refer to them.
const (
	InvLost              = "answered_201_is_recorded"    // a 201 whose retry or restart is not in Postgres
	InvRetryState        = "retry_pending_or_started"    // a 201 retry must be pending or started
	InvResultsDeleted    = "results_deleted_shoot_reset" // results gone, shoot reset to onboarding, retry_count+1
	InvOneRetryPerShoot  = "one_retry_per_shoot"         // no shoot has two retries
	InvAllowanceOnce     = "allowance_spent_once"        // free retry spent exactly when a retry exists, for one shoot; credits untouched
	InvNotStuck          = "nothing_reserving_or_resetting"
	InvEmailDelivered    = "pending_has_delivered_email" // sent and in the mailbox, or failed (resendable)
	InvStartedClosed     = "no_workflow_for_started"     // a started retry or restart has no running workflow
	InvPendingHasFlow    = "pending_has_workflow"        // a pending retry is carried by a running workflow
	InvStartHonoured     = "answered_start_is_started"   // a member start answered 200 leaves the retry started
	InvRefusedNotApplied = "refused_is_not_applied"      // a final refusal left nothing behind
	InvOneRestart        = "one_restart_per_member"      // no managed member restarted twice
	InvFinalAnswer       = "every_request_reaches_final" // a client retrying 5xx got a final answer before its deadline
	InvRestartState      = "restart_recorded_and_pending_or_started"
	InvSameKeySameAnswer = "same_key_same_answer"          // every final answer to one Idempotency-Key is the same
	InvRestartLink       = "restart_answer_has_link"       // a member without email gets the access link, replays too
	InvHistoryBounded    = "history_bounded"               // the storm retry's history holds no more than the workload explains
	InvDuplicateEmails   = "duplicate_emails_within_bound" // no more duplicates than the faults explain (bounds.go)
	InvStoredAnswer      = "stored_answer_not_refusal"     // a key whose retry or restart exists keeps no refusal
	InvWebhookEvents     = "webhook_event_per_change"      // each change one event, one delivery per subscribed endpoint
	InvWebhookDelivered  = "webhook_delivery_delivered"    // every delivery handed to Temporal and delivered
	InvWebhookReceived   = "webhook_received_signed"       // every delivered event accepted by its receiver, signed
	InvWebhookOwnOrg     = "webhook_stays_in_organization" // no event reaches another organization's endpoint
)

// Violation is one broken invariant about one record.
type Violation struct {
	Invariant string
	Subject   string // retry, restart, member or request it is about
	Detail    string
}

// Report is the verdict of one run.
type Report struct {
	Run *Run

	Operations      map[OpKind]int
	Attempts        int // HTTP attempts, retries of 5xx included
	FaultsInjected  map[FaultKind]int
	Answered201     int
	Lost            int
	Doubled         int
	NeverFinal      int
	DuplicateEmails int
	EmailsFailed    int            // pending retries whose first email failed for good (422): resendable
	Unverifiable    int            // sent while an API kill emptied the mailbox
	Refused         map[string]int // final 4xx answers by "kind status code"
	Recovery        time.Duration
	Recovered       bool
	// StormHistory and BaseHistory are the history lengths (events) of the current run of
	// the resend-storm retry's workflow and of the quietest pending retry (no resend, no
	// start); HistoryBound is what the workload and the faults explain for the storm's.
	StormHistory, BaseHistory, HistoryBound int64
	// AllowedDuplicates is how many duplicate emails the injected faults explain.
	AllowedDuplicates int
	// Webhooks: events recorded, deliveries (an event to one endpoint), attempts recorded
	// on them and the most one delivery took; requests the receivers got, events a
	// receiver accepted more than once (at least once allows it: a worker killed after
	// the 2xx and before recording it sends again), requests cut off (their sender killed
	// or timed out); worker kills, and those that found an attempt in flight.
	WebhookEvents, WebhookDeliveries, WebhookAttempts, WebhookMaxAttempts int
	WebhookRequests, WebhookDuplicates, WebhookCut                        int
	WorkerKills, WorkerKillsMidDelivery                                   int
	Violations                                                            []Violation
}

// ByInvariant counts violations per invariant.
func (r *Report) ByInvariant() map[string]int {
	out := map[string]int{}
	for _, v := range r.Violations {
		out[v.Invariant]++
	}
	return out
}

// Check reads Postgres, Temporal and the collected mailbox and judges the run.
func Check(ctx context.Context, c *Cluster, pop *Population, run *Run) (*Report, error) {
	db, err := store.Open(ctx, c.PGURL)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	return judge(ctx, db, temporalWorkflows{c.tc}, pop, run)
}

// workflowSource is what the checks read from Temporal. The cluster's server answers in
// a run; the checker's own tests answer with a broken fact to show each check can fail.
type workflowSource interface {
	// running lists the ids of every workflow still running.
	running(ctx context.Context) (map[string]bool, error)
	// history tells how many events the current run of a workflow has, and whether that
	// run was continued as new from an earlier one.
	history(ctx context.Context, workflowID string) (events int64, continued bool, err error)
}

// judge is Check on any database handle (the checker's tests pass a transaction they
// roll back) and any workflow source.
func judge(ctx context.Context, db bun.IDB, wf workflowSource, pop *Population, run *Run) (*Report, error) {
	rep := &Report{Run: run, Operations: map[OpKind]int{}, FaultsInjected: map[FaultKind]int{}, Refused: map[string]int{}}
	for _, f := range run.Faults {
		if f.Err == "" {
			rep.FaultsInjected[f.Kind]++
		}
	}
	if !run.Settled.IsZero() {
		rep.Recovered = true
		from := run.LastFault
		if from.IsZero() {
			from = run.LoadEnded
		}
		rep.Recovery = max(run.Settled.Sub(from), 0)
	}
	add := func(inv, subject, format string, args ...any) {
		rep.Violations = append(rep.Violations, Violation{inv, subject, fmt.Sprintf(format, args...)})
	}

	retries := map[string]retryRow{}
	retriesByMember := map[string][]string{}
	retriesByShoot := map[string][]string{}
	rows, err := db.QueryContext(ctx, `SELECT id, member_id, shoot_id, status, stage, email_status, workflow_id, email_message_id FROM retries`)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var r retryRow
		if err := rows.Scan(&r.ID, &r.MemberID, &r.ShootID, &r.Status, &r.Stage, &r.EmailStatus, &r.WorkflowID, &r.MessageID); err != nil {
			return nil, err
		}
		retries[r.ID] = r
		retriesByMember[r.MemberID] = append(retriesByMember[r.MemberID], r.ID)
		retriesByShoot[r.ShootID] = append(retriesByShoot[r.ShootID], r.ID)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows.Close()

	restarts := map[string]restartRow{}
	restartsByMember := map[string][]string{}
	rows, err = db.QueryContext(ctx, `SELECT id, member_id, status, stage, email_status, workflow_id FROM restarts`)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var r restartRow
		if err := rows.Scan(&r.ID, &r.MemberID, &r.Status, &r.Stage, &r.EmailStatus, &r.WorkflowID); err != nil {
			return nil, err
		}
		restarts[r.ID] = r
		restartsByMember[r.MemberID] = append(restartsByMember[r.MemberID], r.ID)
	}
	rows.Close()

	open, err := wf.running(ctx)
	if err != nil {
		return nil, err
	}

	// Client outcomes.
	answeredRetry := map[string]string{} // member -> retry id answered 201
	answeredRestart := map[string]string{}
	startedOK := map[string]bool{}
	refused := map[string]string{}        // member -> code of a final 4xx give
	refusedRestart := map[string]string{} // member -> a final refusal of their restart
	firstAnswer := map[string]Outcome{}
	noEmail := map[string]bool{}
	for _, m := range pop.Managed {
		noEmail[m.ID] = m.Email == ""
	}
	for _, o := range run.Outcomes {
		rep.Operations[o.Kind]++
		rep.Attempts += o.Attempts
		if !o.Final {
			rep.NeverFinal++
			add(InvFinalAnswer, string(o.Kind)+" "+o.Key+strings.Join(o.Members, ","), "no final answer after %d attempts in %s: %s", o.Attempts, run.Plan.RequestDeadline, o.Err)
			continue
		}
		if o.Status >= 400 {
			rep.Refused[fmt.Sprintf("%s %d %s", o.Kind, o.Status, o.Code)]++
		}
		if o.Key != "" {
			if prev, ok := firstAnswer[o.Key]; !ok {
				firstAnswer[o.Key] = o
			} else if a, b := answerOf(prev.Kind, prev.Status, prev.Code, prev.Body), answerOf(o.Kind, o.Status, o.Code, o.Body); a != b {
				add(InvSameKeySameAnswer, "key "+o.Key, "answers %s and %s", a, b)
			}
		}
		switch o.Kind {
		case OpGive:
			if o.Status == http.StatusCreated {
				var r struct {
					ID string `json:"id"`
				}
				_ = json.Unmarshal(o.Body, &r)
				answeredRetry[o.Members[0]] = r.ID
				rep.Answered201++
			} else {
				refused[o.Members[0]] = fmt.Sprintf("%d %s", o.Status, o.Code)
			}
		case OpRestart:
			if o.Status >= 400 {
				refusedRestart[o.Members[0]] = fmt.Sprintf("%d %s", o.Status, o.Code)
			}
			if o.Status == http.StatusCreated {
				var r struct {
					ID         string  `json:"id"`
					AccessLink *string `json:"access_link"`
				}
				_ = json.Unmarshal(o.Body, &r)
				answeredRestart[o.Members[0]] = r.ID
				rep.Answered201++
				if noEmail[o.Members[0]] && (r.AccessLink == nil || *r.AccessLink == "") {
					add(InvRestartLink, "restart "+r.ID, "member %s has no email, the answer (attempt %d) has no access_link", o.Members[0], o.Attempts)
				}
			}
		case OpBulkRestart:
			for _, r := range bulkLines(o.Body) {
				if r.Outcome == "skipped" && r.Code != nil {
					refusedRestart[r.MemberID] = "skipped " + *r.Code
				}
				if r.Outcome == "restarted" && r.Restart != nil {
					answeredRestart[r.MemberID] = r.Restart.ID
					rep.Answered201++
					if noEmail[r.MemberID] && (r.Restart.AccessLink == nil || *r.Restart.AccessLink == "") {
						add(InvRestartLink, "restart "+r.Restart.ID, "member %s has no email, the bulk answer (attempt %d) has no access_link", r.MemberID, o.Attempts)
					}
				}
			}
		case OpStart:
			if o.Status == http.StatusOK {
				startedOK[o.Members[0]] = true
			}
		}
	}

	// Retries answered 201.
	for _, m := range pop.Individuals {
		id, ok := answeredRetry[m.ID]
		if !ok {
			continue
		}
		r, ok := retries[id]
		if !ok {
			rep.Lost++
			add(InvLost, "retry "+id, "member %s: answered 201, no row in retries", m.ID)
			continue
		}
		if r.Status != domain.StatusPending && r.Status != domain.StatusStarted {
			add(InvRetryState, "retry "+id, "status %s stage %s", r.Status, r.Stage)
		}
		var results, retryCount int
		var status string
		var completed *time.Time
		if err := db.QueryRowContext(ctx, `SELECT s.status, s.retry_count, s.completed_at, (SELECT count(*) FROM results WHERE shoot_id = s.id) FROM shoots s WHERE s.id = ?`, m.ShootID).
			Scan(&status, &retryCount, &completed, &results); err != nil {
			return nil, err
		}
		if results != 0 || retryCount != 1 || completed != nil || status == domain.ShootActive {
			add(InvResultsDeleted, "retry "+id, "shoot %s: status %s, retry_count %d, completed_at set %v, %d results", m.ShootID, status, retryCount, completed != nil, results)
		}
		if startedOK[m.ID] && r.Status != domain.StatusStarted {
			add(InvStartHonoured, "retry "+id, "member start answered 200, retry is %s (stage %s)", r.Status, r.Stage)
		}
	}
	// Every retry in the database, answered or not.
	for id, r := range retries {
		if r.Stage == domain.StageReserving || r.Stage == domain.StageResetting {
			add(InvNotStuck, "retry "+id, "stage %s", r.Stage)
		}
		switch r.Status {
		case domain.StatusStarted:
			if open[r.WorkflowID] {
				add(InvStartedClosed, "retry "+id, "started, workflow %s still running", r.WorkflowID)
			}
		case domain.StatusPending:
			if !open[r.WorkflowID] {
				add(InvPendingHasFlow, "retry "+id, "pending in Postgres, workflow %s not running", r.WorkflowID)
			}
		}
		if code, ok := refused[r.MemberID]; ok {
			add(InvRefusedNotApplied, "retry "+id, "give answered %s, yet the retry exists", code)
		}
	}
	for shoot, ids := range retriesByShoot {
		if len(ids) > 1 {
			rep.Doubled += len(ids) - 1
			add(InvOneRetryPerShoot, "shoot "+shoot, "%d retries: %v", len(ids), ids)
		}
	}

	// Allowances and credits: every individual starts with the free retry, no credits.
	for _, m := range pop.Individuals {
		var free bool
		var credits int
		if err := db.QueryRowContext(ctx, `SELECT free_retry_available, retry_credits FROM members WHERE id = ?`, m.ID).Scan(&free, &credits); err != nil {
			return nil, err
		}
		has := len(retriesByMember[m.ID]) > 0
		// Each individual has one free retry and no credits: retries of two shoots spent
		// it twice (two of one shoot are one_retry_per_shoot's).
		shoots := map[string]bool{}
		for _, id := range retriesByMember[m.ID] {
			shoots[retries[id].ShootID] = true
		}
		switch {
		case len(shoots) > 1:
			rep.Doubled += len(shoots) - 1
			add(InvAllowanceOnce, "member "+m.ID, "retries of %d shoots, one free retry: %v", len(shoots), retriesByMember[m.ID])
		case has && free:
			add(InvAllowanceOnce, "member "+m.ID, "has a retry, free retry still available")
		case !has && !free:
			add(InvAllowanceOnce, "member "+m.ID, "free retry spent, no retry recorded")
		case credits != 0:
			add(InvAllowanceOnce, "member "+m.ID, "retry_credits %d, want 0", credits)
		}
	}
	for _, o := range pop.Orgs {
		var balance int
		if err := db.QueryRowContext(ctx, `SELECT credit_balance FROM organizations WHERE id = ?`, o.ID).Scan(&balance); err != nil {
			return nil, err
		}
		if balance != o.CreditBalance {
			add(InvAllowanceOnce, "organization "+o.ID, "credit_balance %d, want %d (nothing was submitted)", balance, o.CreditBalance)
		}
	}

	// Restarts.
	for _, m := range pop.Managed {
		ids := restartsByMember[m.ID]
		if len(ids) > 1 {
			rep.Doubled += len(ids) - 1
			add(InvOneRestart, "member "+m.ID, "%d restarts: %v", len(ids), ids)
		}
		var live int
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM shoots WHERE member_id = ? AND status <> 'deleted'`, m.ID).Scan(&live); err != nil {
			return nil, err
		}
		if live > 1 {
			add(InvOneRestart, "member "+m.ID, "%d shoots not deleted", live)
		}
		if code, ok := refusedRestart[m.ID]; ok && len(ids) > 0 {
			add(InvRefusedNotApplied, "restart "+ids[0], "member %s: a restart answered %s, yet the restart exists", m.ID, code)
		}
		if id, ok := answeredRestart[m.ID]; ok {
			r, ok := restarts[id]
			switch {
			case !ok:
				rep.Lost++
				add(InvLost, "restart "+id, "member %s: answered restarted, no row in restarts", m.ID)
			case r.Status != domain.StatusPending && r.Status != domain.StatusStarted:
				add(InvRestartState, "restart "+id, "status %s stage %s", r.Status, r.Stage)
			}
		}
	}
	for id, r := range restarts {
		if r.Stage == domain.StageReserving || r.Stage == domain.StageResetting {
			add(InvNotStuck, "restart "+id, "stage %s", r.Stage)
		}
		if r.Status == domain.StatusStarted && open[r.WorkflowID] {
			add(InvStartedClosed, "restart "+id, "started, workflow %s still running", r.WorkflowID)
		}
	}

	if err := checkStoredAnswers(ctx, db, run, retriesByMember, restartsByMember, add); err != nil {
		return nil, err
	}
	if err := checkHistory(ctx, wf, run, retries, rep, add); err != nil {
		return nil, err
	}
	if err := checkMail(ctx, db, pop, run, retries, restarts, rep, add); err != nil {
		return nil, err
	}
	if err := checkWebhooks(ctx, db, run, rep, add); err != nil {
		return nil, err
	}
	sort.Slice(rep.Violations, func(i, j int) bool {
		a, b := rep.Violations[i], rep.Violations[j]
		if a.Invariant != b.Invariant {
			return a.Invariant < b.Invariant
		}
		return a.Subject < b.Subject
	})
	return rep, nil
}

type retryRow struct {
	ID, MemberID, ShootID, Status, Stage, EmailStatus, WorkflowID string
	MessageID                                                     *string // of the last email delivered
}

type restartRow struct {
	ID, MemberID, Status, Stage, EmailStatus, WorkflowID string
}

// checkMail matches the emails Postgres says were sent with what the mailbox received:
// each pending retry's first email delivered (or failed for good, which the admin sees
// and can resend), and no message delivered more often than it was meant to be.
// MailerSend takes no idempotency key, so a send that reached the provider but whose
// answer was lost (a worker killed in between) is sent again: that is the duplicate
// window this counts.
func checkMail(ctx context.Context, db bun.IDB, pop *Population, run *Run, retries map[string]retryRow, restarts map[string]restartRow,
	rep *Report, add func(inv, subject, format string, args ...any)) error {
	type emailRow struct {
		Seq          int
		Kind, Status string
		MessageID    *string
		SentAt       *time.Time
	}
	emails := map[string][]emailRow{}
	rows, err := db.QueryContext(ctx, `SELECT subject_id, seq, kind, status, message_id, sent_at FROM emails`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var subject string
		var e emailRow
		if err := rows.Scan(&subject, &e.Seq, &e.Kind, &e.Status, &e.MessageID, &e.SentAt); err != nil {
			return err
		}
		emails[subject] = append(emails[subject], e)
	}
	if err := rows.Err(); err != nil {
		return err
	}

	seen := run.Mail.messages()
	emailOf := map[string]string{}
	for _, m := range append(append([]SeedMember(nil), pop.Individuals...), pop.Managed...) {
		emailOf[m.ID] = m.Email
	}
	// Per recipient and subject line, the emails Postgres knows of: those recorded sent
	// with their message id, and those begun and not recorded sent (an attempt cut off
	// after the provider's 202, a retry started while its email was in flight), each of
	// which may have been delivered once.
	type line struct{ to, subject string }
	recorded := map[line]map[string]bool{}
	unrecordedEmails := map[line]int{}
	count := func(subjectID, memberID, subjectLine string) {
		addr := emailOf[memberID]
		if addr == "" {
			return
		}
		k := line{addr, subjectLine}
		if recorded[k] == nil {
			recorded[k] = map[string]bool{}
		}
		for _, e := range emails[subjectID] {
			if e.Status != domain.EmailSent || e.MessageID == nil {
				unrecordedEmails[k]++
				continue
			}
			recorded[k][*e.MessageID] = true
			if _, ok := seen[*e.MessageID]; !ok && e.SentAt != nil && run.Mail.nearKill(*e.SentAt) {
				rep.Unverifiable++
			}
		}
	}
	for id, r := range retries {
		count(id, r.MemberID, mailer.SubjectRetry)
		if r.Status != domain.StatusPending {
			continue
		}
		switch r.EmailStatus {
		case domain.EmailFailed:
			rep.EmailsFailed++
		case domain.EmailSent:
			var sentAt *time.Time
			for _, e := range emails[id] {
				if e.MessageID != nil && r.MessageID != nil && *e.MessageID == *r.MessageID {
					sentAt = e.SentAt
				}
			}
			switch {
			case r.MessageID == nil:
				add(InvEmailDelivered, "retry "+id, "email_status sent without a message id")
			case sentAt == nil:
				add(InvEmailDelivered, "retry "+id, "message %s recorded on the retry, no email row sent with it", *r.MessageID)
			default:
				if _, ok := seen[*r.MessageID]; !ok && !run.Mail.nearKill(*sentAt) {
					add(InvEmailDelivered, "retry "+id, "message %s recorded as sent, not in the mailbox", *r.MessageID)
				}
			}
		default:
			add(InvEmailDelivered, "retry "+id, "pending with email_status %s after recovery", r.EmailStatus)
		}
	}
	for id, r := range restarts {
		count(id, r.MemberID, mailer.SubjectRestart)
	}
	// A delivered message no email recorded is a second copy of one of them, unless an
	// email not recorded sent accounts for it.
	unknown := map[line]int{}
	for _, m := range seen {
		for _, to := range m.To {
			if k := (line{to, m.Subject}); recorded[k] != nil && !recorded[k][m.ID] {
				unknown[k]++
			}
		}
	}
	var twice []string
	for k, n := range unknown {
		if d := n - unrecordedEmails[k]; d > 0 {
			rep.DuplicateEmails += d
			twice = append(twice, fmt.Sprintf("%s %q: %d", k.to, k.subject, d))
		}
	}
	sort.Strings(twice)
	rep.AllowedDuplicates = allowedDuplicates(rep.FaultsInjected)
	if rep.DuplicateEmails > rep.AllowedDuplicates {
		add(InvDuplicateEmails, "mailbox", "%d duplicate emails, the faults injected explain %d: %s", rep.DuplicateEmails, rep.AllowedDuplicates, strings.Join(twice, "; "))
	}
	return nil
}

// checkHistory holds the resend-storm retry's history to what the workload explains: a
// quiet pending retry's (its first email, reminders and wait), plus the events of every
// resend and repeated give that may have reached it, plus what the faults may have added.
// A run that grows by more than that grows with something nothing bounds. A storm longer
// than one run holds must have continued as new, which starts the count afresh.
func checkHistory(ctx context.Context, wf workflowSource, run *Run, retries map[string]retryRow, rep *Report,
	add func(inv, subject, format string, args ...any)) error {
	storm, ok := retries[run.StormRetry]
	if !ok {
		return nil
	}
	var err error
	var continued bool
	if rep.StormHistory, continued, err = wf.history(ctx, storm.WorkflowID); err != nil {
		return err
	}
	touched := map[string]bool{} // members whose retry got more than the give
	var resendAttempts, resendsDone, giveAttempts int
	for _, o := range run.Outcomes {
		if o.Kind == OpResend || o.Kind == OpStart {
			touched[o.Members[0]] = true
		}
		if o.Members[0] != storm.MemberID {
			continue
		}
		switch o.Kind {
		case OpResend:
			// Every attempt may have reached the workflow, a 5xx'd one too; a 200 did.
			resendAttempts += o.Attempts
			if o.Final && o.Status == http.StatusOK {
				resendsDone++
			}
		case OpGive:
			giveAttempts += o.Attempts
		}
	}
	// The quietest pending retry is the yardstick: faults may have added to others.
	for _, r := range retries {
		if r.Status != domain.StatusPending || touched[r.MemberID] || r.ID == storm.ID {
			continue
		}
		n, _, err := wf.history(ctx, r.WorkflowID)
		if err != nil {
			return err
		}
		if rep.BaseHistory == 0 || n < rep.BaseHistory {
			rep.BaseHistory = n
		}
	}
	if rep.BaseHistory == 0 {
		return nil
	}
	opsPerRun := workflows.DefaultOpsPerRun
	inRun := resendAttempts
	if continued {
		inRun = min(inRun, opsPerRun)
	}
	faults := 0
	for _, n := range rep.FaultsInjected {
		faults += n
	}
	rep.HistoryBound = rep.BaseHistory + int64(inRun*eventsPerResend+max(giveAttempts-1, 0)*eventsPerIssueAgain+faults*eventsPerFault)
	if rep.StormHistory > rep.HistoryBound {
		add(InvHistoryBounded, "retry "+storm.ID, "%d events after %d resend attempts; what they, %d give attempts and %d faults explain above a quiet pending retry's %d is %d",
			rep.StormHistory, resendAttempts, giveAttempts, faults, rep.BaseHistory, rep.HistoryBound)
	}
	if resendsDone > opsPerRun && !continued {
		add(InvHistoryBounded, "retry "+storm.ID, "%d resends done (a run holds %d) and its workflow never continued as new", resendsDone, opsPerRun)
	}
	return nil
}

// temporalWorkflows reads the workflow facts from the cluster's Temporal server.
type temporalWorkflows struct{ tc client.Client }

func (t temporalWorkflows) history(ctx context.Context, workflowID string) (int64, bool, error) {
	d, err := t.tc.DescribeWorkflow(ctx, workflowID, "")
	if err != nil {
		return 0, false, fmt.Errorf("describe %s: %w", workflowID, err)
	}
	info := d.RawResponse.GetWorkflowExecutionInfo()
	return info.GetHistoryLength(), info.GetFirstRunId() != info.GetExecution().GetRunId(), nil
}

// running lists the ids of every workflow still running in the namespace.
func (t temporalWorkflows) running(ctx context.Context) (map[string]bool, error) {
	open := map[string]bool{}
	var token []byte
	for {
		resp, err := t.tc.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Query: "ExecutionStatus = 'Running'", NextPageToken: token, PageSize: 1000,
		})
		if err != nil {
			return nil, fmt.Errorf("list running workflows: %w", err)
		}
		for _, e := range resp.GetExecutions() {
			open[e.GetExecution().GetWorkflowId()] = true
		}
		token = resp.GetNextPageToken()
		if len(token) == 0 {
			return open, nil
		}
	}
}
