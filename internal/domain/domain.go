// Package domain holds the words a retry or restart, a member and a dashboard card are
// described with: a retry's stages, status, email status and kinds of email. They are
// stored in Postgres, shown by the API and kept in the RetryStage search attribute, so
// the workflows, the activities, the store and the server use these constants and no
// copies of them. It imports nothing.
package domain

// Stages a retry or restart goes through. A restart skips reserving and resetting: its
// one database step creates the new shoot and makes it pending at once.
const (
	StageReserving = "reserving" // the allowance is being checked and consumed
	StageResetting = "resetting" // reserved; results being deleted and the shoot reset
	StagePending   = "pending"   // waiting for the member to start
	StageStarted   = "started"   // the member started: the retry or restart is done
	StageFailed    = "failed"    // refused, canceled by an operator, or abandoned
)

// Status of a retry or restart as the API shows it.
const (
	StatusPending = "pending"
	StatusStarted = "started"
	StatusFailed  = "failed"
)

// Email status of a retry or restart.
const (
	EmailQueued        = "queued"
	EmailSent          = "sent"
	EmailFailed        = "failed"
	EmailNotApplicable = "not_applicable" // a restarted member without an address: the admin hands over the link
)

// Kinds of email, numbered per retry or restart in that order of sending.
const (
	EmailKindInitial  = "initial"
	EmailKindReminder = "reminder"
	EmailKindResend   = "resend"
)
