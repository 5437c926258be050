package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/headshotpro/retryd/activities"
	"github.com/headshotpro/retryd/internal/domain"
	"github.com/headshotpro/retryd/internal/problem"
	"github.com/headshotpro/retryd/internal/store"
)

// Defaults of Tuning.
const (
	// DefaultStartCheck is how often a waiting run looks in the database for a start
	// whose signal never arrived, when its input leaves StartCheck zero. The signal is
	// the fast path; this only bounds how long a lost one goes unnoticed.
	DefaultStartCheck = time.Hour
	// DefaultOpsPerRun bounds the emails and checks of one run before it continues as
	// new. Each costs about ten history events, so a run stays near a thousand events,
	// far below Temporal's limits, however many resends and link requests come. It is
	// what NewTuning gives a new retry or restart, in its input; the workflow code never
	// reads it, so changing it reaches new runs only and never the replay of an open one.
	DefaultOpsPerRun = 100
	// legacyOpsPerRun is the limit of a run whose input carries none: runs started
	// before inputs carried it, which took DefaultOpsPerRun's value of the time, 100,
	// and the runs they continued as. Frozen: any other value breaks their replay
	// (testdata/retry_opsdefault_continued_history.json).
	legacyOpsPerRun = 100
)

// Tuning sets the wait's schedule. It travels in the input, and on into the runs a run
// continues as, so that a running retry keeps the schedule it started with.
type Tuning struct {
	StartCheck time.Duration `json:",omitempty"`
	OpsPerRun  int           `json:",omitempty"`
}

// NewTuning is the schedule of a new retry or restart: the given start-check interval
// and DefaultOpsPerRun.
func NewTuning(startCheck time.Duration) Tuning {
	return Tuning{StartCheck: startCheck, OpsPerRun: DefaultOpsPerRun}
}

func (t Tuning) startCheck() time.Duration {
	if t.StartCheck > 0 {
		return t.StartCheck
	}
	return DefaultStartCheck
}

func (t Tuning) opsPerRun() int {
	if t.OpsPerRun > 0 {
		return t.OpsPerRun
	}
	return legacyOpsPerRun
}

// Progress is what the status query tells of a retry or restart, and its result.
type Progress struct {
	Stage string
	EmailState
	Error string
}

// Carried is what a run hands to the run it continues as: the database steps are done,
// the member is pending, and the emails so far are counted and numbered.
type Carried struct {
	Issue    IssueResult
	HasEmail bool
	Email    EmailState
	NextSeq  int
	// EmailAt is when the first email went out; reminders stay due at their delays after it.
	EmailAt        time.Time
	RemindersFired int
}

// IssueRequest is the argument of the issue update; the id tells the caller who started
// this run apart from a concurrent caller who merely attached to it. A retry sets RetryID,
// a restart RestartID.
type IssueRequest struct {
	RetryID   string `json:",omitempty"`
	RestartID string `json:",omitempty"`
}

func (r IssueRequest) id() string { return r.RetryID + r.RestartID }

// IssueResult answers the issue update once the database steps are committed. A retry
// fills RetryID and AllowanceUsed, a restart RestartID, the shoots and HasEmail.
type IssueResult struct {
	RetryID       string `json:",omitempty"`
	RestartID     string `json:",omitempty"`
	Stage         string
	AllowanceUsed string `json:",omitempty"`
	NewShootID    string `json:",omitempty"`
	OldShootID    string `json:",omitempty"`
	HasEmail      bool   `json:",omitempty"`
}

// ResendResult answers the resend-email update.
type ResendResult struct {
	MessageID string
	Skipped   bool
}

// kind is what tells retries from restarts beyond their database steps: the workflow
// type, the activities the lifecycle calls and the refusal of a second one at once.
type kind struct {
	name string // the workflow type, for continue-as-new
	// send is the email activity, markFailed the local activity that records a send that
	// outlasted its retries, setStage the one that mirrors a final stage in the database,
	// isStarted the one that tells whether the member started.
	send, markFailed, setStage, isStarted any
	// busy is the refusal for an issue update of another id while a run is open.
	busy    problem.Code
	busyMsg string
}

var (
	retryKind = kind{name: RetryWorkflowName,
		send: a.SendRetryEmail, markFailed: a.MarkRetryEmailFailed, setStage: a.SetRetryStage, isStarted: a.RetryStarted,
		busy: problem.RetryPending, busyMsg: "the member already has a pending retry for this shoot"}
	restartKind = kind{name: RestartWorkflowName,
		send: a.SendRestartEmail, markFailed: a.MarkRestartEmailFailed, setStage: a.SetRestartStage, isStarted: a.RestartStarted,
		busy: problem.ActiveShootExists, busyMsg: "a restart of this member is already in progress"}
)

// Issue is what the inputs of a retry and a restart share beside their ids: who issued it,
// on which request, and the schedule of its wait. The schedule is fixed at start, so a
// configuration change never alters the timers of a running retry or restart. Embedded,
// its fields stand in the input's JSON as they always did.
type Issue struct {
	IssuedByKind string
	IssuedBy     string
	RequestID    string
	// Credential is what the issuer acted with, for the audit log; absent from inputs
	// recorded before it was.
	Credential store.Credential `json:",omitzero"`
	// Reminders are the delays of the reminders after the first email.
	Reminders []time.Duration
	Tuning    Tuning   `json:",omitempty"`
	Carried   *Carried `json:",omitempty"` // set when a pending run continued as new
}

// runOf is what the lifecycle takes from a workflow's input: the id, the shared part,
// and how to make the next run's input from the state it carries.
type runOf struct {
	id    string
	org   string // the organization: the fairness key of the run's emails
	issue Issue
	next  func(*Carried) any
}

// subject is one retry's or restart's database steps; lifecycle does the rest.
type subject interface {
	// prepare runs the database steps that make the member pending. It returns a
	// refusal (nothing committed) or nil once they are committed; database outages are
	// retried for as long as they last. It also returns where the emails of an already
	// recorded retry or restart stand, once it found one (a resumed run); nil for a new one.
	prepare(ctx workflow.Context) (IssueResult, *activities.EmailResume, error)
	// abandon leaves the database in a state the runbook explains, after the run
	// stopped (canceled) at a point where prepare may have committed part of its work.
	// ctx is disconnected from the run's cancellation.
	abandon(ctx workflow.Context)
	// partlyDone tells whether prepare committed a step before it stopped.
	partlyDone() bool
}

// live runs one retry or restart workflow: status turns the progress into the workflow's
// own status type, for the query and the result.
func live[S any](ctx workflow.Context, k kind, run runOf, sub subject, status func(Progress) S) (S, error) {
	l := newLifecycle(k, run, sub)
	err := l.run(ctx, func() any { return status(l.progress) })
	return status(l.progress), err
}

// lifecycle is the life of one retry or restart, shared by both workflows: prepare in
// the database, email the member, wait for the start with reminders and checks, finish.
type lifecycle struct {
	id        string
	kind      kind
	sub       subject
	next      func(*Carried) any
	reminders []time.Duration
	tuning    Tuning
	version   workflow.Version

	progress Progress
	mail     emailer
	issued   *IssueResult // set once prepare committed
	hasEmail bool
	err      error // why this retry or restart did not happen
	started  bool
	// listening is set once the start signal's receiver runs.
	listening bool

	emailAt        time.Time
	remindersFired int
	opsThisRun     int
}

func newLifecycle(k kind, run runOf, sub subject) *lifecycle {
	l := &lifecycle{id: run.id, kind: k, sub: sub, next: run.next, reminders: run.issue.Reminders, tuning: run.issue.Tuning, hasEmail: true,
		progress: Progress{Stage: domain.StageReserving, EmailState: EmailState{EmailStatus: domain.EmailQueued}}}
	l.mail = emailer{subjectID: l.id, org: run.org, send: k.send, markFailed: k.markFailed, state: &l.progress.EmailState}
	if run.issue.Carried != nil {
		l.resume(run.issue.Carried)
	}
	return l
}

// resume takes over a carried state: the member is pending, nothing is prepared again.
func (l *lifecycle) resume(c *Carried) {
	issued := c.Issue
	l.issued, l.hasEmail = &issued, c.HasEmail
	l.progress.Stage, l.progress.EmailState = domain.StagePending, c.Email
	l.mail.nextSeq, l.emailAt, l.remindersFired = c.NextSeq, c.EmailAt, c.RemindersFired
}

func (l *lifecycle) run(ctx workflow.Context, status func() any) error {
	l.version = workflow.DefaultVersion
	if hasChange(ctx, versionLifecycle) {
		l.version = 1
	}
	if hasChange(ctx, versionEmailQueue) {
		l.mail.queue = EmailTaskQueue(workflow.GetInfo(ctx).TaskQueueName)
	}
	if err := l.registerHandlers(ctx, status); err != nil {
		return err
	}
	if l.version >= 1 && hasChange(ctx, versionStartDuringSend) {
		// A send can hang for a long while (its task went to a worker that died, or the
		// provider keeps refusing): the member's start must not wait behind it.
		l.listenForStart(ctx)
		l.mail.stop = func() bool { return l.started }
	}
	if l.issued != nil {
		// A continued run: say pending again, whatever the new run's search attributes
		// started from, so operators' RetryStage='pending' queries keep finding it.
		upsertStage(ctx, domain.StagePending)
	} else {
		issued, rp, err := l.sub.prepare(ctx)
		if err != nil {
			return l.finish(ctx, err)
		}
		l.issued, l.hasEmail = &issued, issued.HasEmail
		l.setStage(ctx, domain.StagePending)
		if rp != nil && l.version >= 1 {
			if !l.hasEmail {
				l.progress.EmailStatus = domain.EmailNotApplicable
			}
			l.resumeEmails(ctx, rp)
		} else if l.hasEmail {
			res, _ := l.mail.sendEmail(ctx, domain.EmailKindInitial, 0)
			l.started = l.started || (res.AlreadyStarted && l.version >= 1)
			l.emailAt = workflow.Now(ctx)
		} else {
			l.progress.EmailStatus = domain.EmailNotApplicable
			l.emailAt = workflow.Now(ctx)
		}
	}
	if err := l.awaitStart(ctx); err != nil {
		if workflow.IsContinueAsNewError(err) {
			return err
		}
		return l.finish(ctx, err)
	}
	l.setStage(ctx, domain.StageStarted)
	return l.finish(ctx, nil)
}

// resumeEmails takes up the emails of a retry or restart this run resumes (its earlier
// run is gone): numbering goes on after the last email, so resends are not mistaken for
// emails already sent; reminders stay due after the first email; a first email cut
// off mid-send is finished under its own number; and a member who already started ends
// the run at once.
func (l *lifecycle) resumeEmails(ctx workflow.Context, rp *activities.EmailResume) {
	l.mail.nextSeq, l.remindersFired = rp.NextSeq, rp.Reminders
	l.emailAt = rp.FirstEmailAt
	if l.emailAt.IsZero() {
		l.emailAt = workflow.Now(ctx)
	}
	l.started = l.started || rp.Started
	if rp.FirstPending && l.hasEmail && !l.started {
		res, _ := l.mail.sendNumbered(ctx, domain.EmailKindInitial, 0, 0)
		l.started = l.started || res.AlreadyStarted
	}
}

func (l *lifecycle) registerHandlers(ctx workflow.Context, status func() any) error {
	if err := workflow.SetQueryHandlerWithOptions(ctx, QueryStatus, func() (any, error) {
		return status(), nil
	}, workflow.QueryHandlerOptions{Description: "stage, email status and reminders"}); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateIssue, l.issue, workflow.UpdateHandlerOptions{
		Validator:   l.validateIssue,
		Description: "waits until the database steps are committed",
	}); err != nil {
		return err
	}
	return workflow.SetUpdateHandlerWithOptions(ctx, UpdateResendEmail, l.resend, workflow.UpdateHandlerOptions{
		Validator:   l.validateResend,
		Description: "sends the email again while the member has not started",
	})
}

func (l *lifecycle) validateIssue(req IssueRequest) error {
	if req.id() == l.id {
		return nil
	}
	if l.err != nil {
		return codedError(l.err)
	}
	return temporal.NewApplicationError(l.kind.busyMsg, string(l.kind.busy))
}

func (l *lifecycle) issue(ctx workflow.Context, _ IssueRequest) (IssueResult, error) {
	if err := workflow.Await(ctx, func() bool { return l.issued != nil || l.err != nil }); err != nil {
		return IssueResult{}, codedError(err)
	}
	if l.issued == nil {
		return IssueResult{}, codedError(l.err)
	}
	return *l.issued, nil
}

func (l *lifecycle) validateResend() error {
	if l.issued != nil && l.hasEmail && !l.started && l.err == nil {
		return nil
	}
	return temporal.NewApplicationError("only the email of a pending retry or restart of a member with an address can be sent again", string(problem.RetryNotPending))
}

func (l *lifecycle) resend(ctx workflow.Context) (ResendResult, error) {
	l.opsThisRun++
	res, err := l.mail.sendEmail(ctx, domain.EmailKindResend, 0)
	if err != nil && l.started && temporal.IsCanceledError(err) {
		// The member started while it was being sent: the same answer as a resend
		// that comes after the start.
		return ResendResult{}, temporal.NewNonRetryableApplicationError("the member already started; the email is no longer needed", string(problem.RetryNotPending), nil)
	}
	if err != nil {
		return ResendResult{}, codedError(err)
	}
	return ResendResult{MessageID: res.MessageID, Skipped: res.Skipped}, nil
}

// awaitStart waits until the member starts. The start signal ends the wait at once; a
// reminder or a check that finds the member started ends it too, so a lost signal is
// noticed within one check interval whatever the reminders are.
func (l *lifecycle) awaitStart(ctx workflow.Context) error {
	reminders := l.reminders
	if !l.hasEmail {
		reminders = nil // nobody to remind: the admin hands the link to the member
	}
	if l.version == workflow.DefaultVersion {
		return legacyAwaitStart(ctx, reminders, func(n int) bool {
			res, _ := l.mail.sendEmail(ctx, domain.EmailKindReminder, n)
			return res.AlreadyStarted
		})
	}
	if l.started {
		return nil
	}
	l.listenForStart(ctx)
	nextCheck := workflow.Now(ctx).Add(l.tuning.startCheck())
	for !l.started {
		wake, summary := nextCheck, "check whether the member started"
		if l.remindersFired < len(reminders) {
			if due := l.emailAt.Add(reminders[l.remindersFired]); !due.After(wake) {
				wake, summary = due, fmt.Sprintf("reminder %d of %d", l.remindersFired+1, len(reminders))
			}
		}
		// Resends count toward the run's ops too, so a burst of them wakes the wait and the
		// run continues as new before its history grows past the cap.
		woken, err := workflow.AwaitWithOptions(ctx, workflow.AwaitOptions{
			Timeout:      max(wake.Sub(workflow.Now(ctx)), time.Millisecond),
			TimerOptions: workflow.TimerOptions{Summary: summary},
		}, func() bool { return l.started || l.opsThisRun >= l.tuning.opsPerRun() })
		if err != nil {
			return temporal.NewCanceledError("canceled while waiting for the member")
		}
		if l.started {
			break
		}
		if woken {
			return l.continueAsNew(ctx)
		}
		l.opsThisRun++
		if l.remindersFired < len(reminders) && !l.emailAt.Add(reminders[l.remindersFired]).After(workflow.Now(ctx)) {
			l.remindersFired++
			res, _ := l.mail.sendEmail(ctx, domain.EmailKindReminder, l.remindersFired)
			l.started = l.started || res.AlreadyStarted
		} else {
			l.started = l.started || l.checkStarted(ctx)
			nextCheck = workflow.Now(ctx).Add(l.tuning.startCheck())
		}
		if !l.started && l.shouldContinueAsNew(ctx) {
			return l.continueAsNew(ctx)
		}
	}
	return nil
}

// listenForStart receives the start signals for the rest of the run.
func (l *lifecycle) listenForStart(ctx workflow.Context) {
	if l.listening {
		return
	}
	l.listening = true
	workflow.Go(ctx, func(ctx workflow.Context) {
		ch := workflow.GetSignalChannel(ctx, SignalShootStarted)
		for ch.Receive(ctx, nil) {
			l.started = true
		}
	})
}

// checkStarted asks the database; a failed check is retried at the next interval.
func (l *lifecycle) checkStarted(ctx workflow.Context) bool {
	var started bool
	lctx := workflow.WithLocalActivityOptions(ctx, checkOptions)
	if err := workflow.ExecuteLocalActivity(lctx, l.kind.isStarted, l.id).Get(ctx, &started); err != nil {
		workflow.GetLogger(ctx).Warn("could not check whether the member started", "error", err)
		return false
	}
	return started
}

func (l *lifecycle) shouldContinueAsNew(ctx workflow.Context) bool {
	return l.opsThisRun >= l.tuning.opsPerRun() || workflow.GetInfo(ctx).GetContinueAsNewSuggested()
}

// continueAsNew hands the pending state to a fresh run once the update handlers are done,
// so no admin's resend is cut off.
func (l *lifecycle) continueAsNew(ctx workflow.Context) error {
	if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
		return temporal.NewCanceledError("canceled while waiting for the member")
	}
	if l.started {
		return nil
	}
	return workflow.NewContinueAsNewError(ctx, l.kind.name, l.next(&Carried{
		Issue: *l.issued, HasEmail: l.hasEmail, Email: l.progress.EmailState, NextSeq: l.mail.nextSeq,
		EmailAt: l.emailAt, RemindersFired: l.remindersFired,
	}))
}

// finish records the outcome and ends the run once its update handlers are done. The
// database steps run on a context that the run's cancellation does not reach: a canceled
// run still leaves its records consistent.
func (l *lifecycle) finish(ctx workflow.Context, err error) error {
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	if err != nil {
		l.err = err
		l.progress.Error = codedError(err).Error()
		if l.progress.Stage != domain.StageStarted {
			switch {
			case l.issued == nil && !l.sub.partlyDone() && isRefusal(err):
				// The refusal rolled its transaction back: nothing to record.
				l.progress.Stage = domain.StageFailed
				upsertStage(dctx, domain.StageFailed)
			case l.issued == nil && l.version >= 1:
				l.sub.abandon(dctx)
				l.setStage(dctx, domain.StageFailed)
			default:
				l.setStage(dctx, domain.StageFailed)
			}
		}
	}
	_ = workflow.Await(dctx, func() bool { return workflow.AllHandlersFinished(dctx) })
	return err
}

// setStage moves the stage in the query answer and the RetryStage search attribute; the
// final stages are also written to the database (prepare records pending itself).
func (l *lifecycle) setStage(ctx workflow.Context, stage string) {
	l.progress.Stage = stage
	upsertStage(ctx, stage)
	if stage != domain.StageStarted && stage != domain.StageFailed {
		return
	}
	if err := dbStep(ctx, nil, l.kind.setStage, l.id, stage); err != nil {
		workflow.GetLogger(ctx).Error("could not record stage", "stage", stage, "error", err)
	}
}
