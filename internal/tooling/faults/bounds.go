package faults

// The bounds the checker holds a run to. Each says what the workload and the faults of a
// run can explain; anything beyond is reported. docs/reliability.md lists them.

// Duplicate emails one injected fault of each kind may cause. MailerSend takes no
// idempotency key, so an email is sent twice only when a send reached the provider and
// the provider's answer (the message id) was lost before the activity recorded it; the
// activity's retry then sends again. The record is one Postgres update right after the
// provider's 202, so one fault catches at most the one send in that moment.
const (
	// A worker killed between the provider's 202 and the record: the activity times
	// out and its retry sends again. The one window the design leaves open.
	DuplicatesPerWorkerKill = 1
	// The local provider lives in the API process: what it accepted in the instant
	// before a kill dies with its mailbox, so no second copy is ever seen beside it.
	DuplicatesPerAPIKill = 0
	// The message id is in Postgres before the activity reports to Temporal: a retry
	// after a Temporal outage finds the email sent and does not send again.
	DuplicatesPerTemporalKill = 0
	// Postgres away between the 202 and the record must not make the activity send
	// again: a send that reached the provider is recorded once Postgres is back.
	DuplicatesPerPostgresRestart = 0
	DuplicatesPerPostgresPause   = 0
	// A failing or hanging provider accepts nothing (a hang answers 503 once over).
	DuplicatesPerMailFault = 0
)

// duplicateBound is how many duplicate emails a fault of kind may cause.
func duplicateBound(kind FaultKind) int {
	switch kind {
	case KillWorker:
		return DuplicatesPerWorkerKill
	case KillAPI:
		return DuplicatesPerAPIKill
	case KillTemporal:
		return DuplicatesPerTemporalKill
	case RestartPostgres:
		return DuplicatesPerPostgresRestart
	case PausePostgres:
		return DuplicatesPerPostgresPause
	case MailFault:
		return DuplicatesPerMailFault
	}
	return 0
}

// allowedDuplicates is the duplicate emails the injected faults explain.
func allowedDuplicates(injected map[FaultKind]int) int {
	n := 0
	for kind, count := range injected {
		n += duplicateBound(kind) * count
	}
	return n
}

// History events a retry's current run may have beyond a quiet pending retry's (first
// email, reminders, the wait), per thing the workload did to it. A history longer than
// these explain grows with something nothing bounds.
const (
	// One resend update: a workflow task (scheduled, started, completed) accepting it
	// and scheduling the send, the update accepted, the send activity (scheduled,
	// started, completed), the workflow task that completes the update, the update
	// completed. TestEventsPerResendMatchesARecordedHistory counts them in a recorded
	// history.
	eventsPerResend = 11
	// A give of the same retry again (a double submit, or a client's retry of a 5xx):
	// the issue update attaches to the running workflow, one workflow task and the
	// update accepted and completed.
	eventsPerIssueAgain = 5
	// One injected fault: a workflow task lost with a killed worker or server times out
	// (started, timed out) and is scheduled again, first on the dead worker's sticky
	// queue and then on the shared one.
	eventsPerFault = 6
)
