package workflows

import (
	"errors"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/headshotpro/retryd/activities"
	"github.com/headshotpro/retryd/internal/domain"
	"github.com/headshotpro/retryd/internal/problem"
)

// EmailState is what the status query tells about a workflow's emails.
type EmailState struct {
	EmailStatus   string
	MessageID     string
	RemindersSent int
	EmailsSent    int
}

// emailer sends the numbered emails of one retry or restart through its activities.
// Each email has its own sequence number, so a resend racing a reminder never collapses
// into one send, and a replayed activity finds its own intent row.
type emailer struct {
	subjectID  string
	send       any // activity: func(ctx, SendEmailInput) (SendEmailResult, error)
	markFailed any // local activity: func(ctx, SendEmailInput) error
	// queue is the task queue of the send activity: EmailTaskQueue of the run's own, or
	// "" (the run's own) for runs recorded before versionEmailQueue.
	queue string
	// org is the organization's id, the fairness key of every send, so one
	// organization's backlog on the email queue does not hold back another's emails.
	org     string
	nextSeq int
	state   *EmailState
	// stop, when set, tells that the member started: a send not yet begun is skipped and
	// one in flight is canceled, as the email no longer has anything to ask. Nil for runs
	// recorded before versionStartDuringSend, whose sends always run to their end.
	stop func() bool
}

func (e *emailer) sendEmail(ctx workflow.Context, kind string, reminder int) (activities.SendEmailResult, error) {
	seq := e.nextSeq
	e.nextSeq++
	return e.sendNumbered(ctx, kind, reminder, seq)
}

// sendNumbered sends the email with the given number; a resumed run uses it to finish a
// first email that was cut off mid-send.
func (e *emailer) sendNumbered(ctx workflow.Context, kind string, reminder, seq int) (activities.SendEmailResult, error) {
	in := activities.SendEmailInput{SubjectID: e.subjectID, Seq: seq, Kind: kind, Reminder: reminder}
	opts := emailOptions(kind, e.org)
	opts.TaskQueue = e.queue
	var res activities.SendEmailResult
	if e.stop != nil && e.stop() {
		return activities.SendEmailResult{Skipped: true, AlreadyStarted: true}, nil
	}
	actx, cancel := workflow.WithCancel(workflow.WithActivityOptions(ctx, opts))
	f := workflow.ExecuteActivity(actx, e.send, in)
	if e.stop != nil {
		// A canceled run's Await fails; f.Get below then answers canceled too.
		_ = workflow.Await(ctx, func() bool { return f.IsReady() || e.stop() })
		if !f.IsReady() {
			cancel()
		}
	}
	err := f.Get(ctx, &res)
	switch {
	case err == nil && res.Skipped:
		return res, nil
	case err == nil:
		e.state.EmailStatus, e.state.MessageID = domain.EmailSent, res.MessageID
		e.state.EmailsSent++
		if kind == domain.EmailKindReminder {
			e.state.RemindersSent++
		}
		return res, nil
	}
	if temporal.IsCanceledError(err) {
		return res, err // the workflow is being canceled; nothing failed to send
	}
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) || appErr.Type() != activities.ErrTypeMailPermanent {
		// Transient errors outlasted the retry policy; the activity could not record it.
		if ferr := dbStep(ctx, nil, e.markFailed, in); ferr != nil {
			workflow.GetLogger(ctx).Error("could not record email failure", "error", ferr)
		}
	}
	if e.state.EmailStatus != domain.EmailSent || kind != domain.EmailKindReminder {
		e.state.EmailStatus = domain.EmailFailed
	}
	workflow.GetLogger(ctx).Warn("email failed", "kind", kind, "error", err)
	return res, err
}

// codedError keeps the problem code of an activity's failure as the error type, so the
// API answers an update's failure with the same problem+json as a refused pre-check.
func codedError(err error) error {
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) && problem.Code(appErr.Type()).Known() {
		return temporal.NewNonRetryableApplicationError(appErr.Message(), appErr.Type(), nil)
	}
	if errors.As(err, &appErr) && appErr.Type() == activities.ErrTypeMailPermanent {
		// A refusal for good: trying again later would not help, so it is no 503.
		return temporal.NewNonRetryableApplicationError("the email provider refused the message", string(problem.EmailRejected), nil)
	}
	var canceled *temporal.CanceledError
	if errors.As(err, &canceled) {
		return temporal.NewNonRetryableApplicationError("canceled", string(problem.RetryNotPending), nil)
	}
	return temporal.NewNonRetryableApplicationError("could not be completed", string(problem.Unavailable), nil)
}

// isRefusal tells a broken rule (its transaction rolled back, nothing recorded) from a
// failure whose effect is unknown.
func isRefusal(err error) bool {
	var appErr *temporal.ApplicationError
	return errors.As(err, &appErr) && problem.Code(appErr.Type()).Known() && appErr.Type() != string(problem.Unavailable)
}

// upsertStage keeps the RetryStage search attribute current for operators.
func upsertStage(ctx workflow.Context, stage string) {
	if err := workflow.UpsertTypedSearchAttributes(ctx, KeyRetryStage.ValueSet(stage)); err != nil {
		workflow.GetLogger(ctx).Error("could not upsert RetryStage", "error", err)
	}
}

// localOptions are the database steps' options. They retry for as long as the database
// is away (no ScheduleToCloseTimeout): once a reservation may have committed, giving up
// would strand the member between its steps. Broken rules are non-retryable errors and
// still end at once.
var localOptions = workflow.LocalActivityOptions{
	StartToCloseTimeout: 5 * time.Second,
	RetryPolicy: &temporal.RetryPolicy{
		InitialInterval:    100 * time.Millisecond,
		BackoffCoefficient: 2,
		MaximumInterval:    10 * time.Second,
	},
}

// dbStep runs one database step, a local activity with localOptions, and decodes its
// result into out (nil: it has none).
func dbStep(ctx workflow.Context, out any, activity any, args ...any) error {
	lctx := workflow.WithLocalActivityOptions(ctx, localOptions)
	return workflow.ExecuteLocalActivity(lctx, activity, args...).Get(ctx, out)
}

// checkOptions bound one look at whether the member started; a check that fails is
// simply made again at the next interval.
var checkOptions = workflow.LocalActivityOptions{
	StartToCloseTimeout:    5 * time.Second,
	ScheduleToCloseTimeout: time.Minute,
}

// Priority levels of the email queue (PriorityKey: 1 is served first; the Temporal server
// keeps five levels, matching.priorityLevels, and an unset key counts as the middle, 3).
// Every level is drained before the next one, so the levels are few and their order is
// what members wait on: a first email ends a wait the member has just been told about,
// while a reminder is days late by design and a resend repeats a link already sent.
const (
	// PriorityFirstEmail is the first email of a retry or restart.
	PriorityFirstEmail = 1
	// PriorityFollowUp is a reminder or a resend.
	PriorityFollowUp = 3
)

// emailPriority is the send's place on the email queue: its level by kind, and the
// organization as the fairness key. Within a level the server hands out the tasks of
// each key in turn (by weight, all 1), however many one organization queued first.
func emailPriority(kind, org string) temporal.Priority {
	level := PriorityFollowUp
	if kind == domain.EmailKindInitial {
		level = PriorityFirstEmail
	}
	return temporal.Priority{PriorityKey: level, FairnessKey: org}
}

// emailOptions are the send's options. The priority is not part of what replay compares
// (the activity's id and type are), so runs recorded before it replay unchanged.
func emailOptions(kind, org string) workflow.ActivityOptions {
	return workflow.ActivityOptions{
		StartToCloseTimeout:    30 * time.Second,
		ScheduleToCloseTimeout: 24 * time.Hour,
		Summary:                "send " + kind + " email",
		Priority:               emailPriority(kind, org),
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:        time.Second,
			BackoffCoefficient:     2,
			MaximumInterval:        5 * time.Minute,
			NonRetryableErrorTypes: []string{activities.ErrTypeMailPermanent, string(problem.NotFound)},
		},
	}
}
