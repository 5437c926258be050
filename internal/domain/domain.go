// Package domain holds the words a retry or restart, a member and a dashboard card are
// described with: a shoot's status, a member's kind, a dashboard section, and a retry's
// stages, status, email status and kinds of email. They are stored in Postgres, shown by
// the API and kept in the RetryStage search attribute, so the workflows, the activities,
// the store and the server use these constants and no copies of them. It imports
// nothing.
package domain

// Shoot statuses are HeadshotPro's model statuses; the strings are part of the API.
const (
	ShootOnboarding          = "onboarding"
	ShootWaiting             = "waiting"
	ShootPending             = "pending"
	ShootGeneratingHeadshots = "generatingHeadshots"
	ShootActive              = "active" // finished: the results are ready
	ShootFailed              = "failed"
	ShootDeleted             = "deleted"
)

// ShootStatuses returns every shoot status, in the order a shoot usually moves through
// them.
func ShootStatuses() []string {
	return []string{ShootOnboarding, ShootWaiting, ShootPending, ShootGeneratingHeadshots, ShootActive, ShootFailed, ShootDeleted}
}

// Member kinds. Only a managed member's deleted shoot can be restarted.
const (
	KindIndividual = "individual"
	KindManaged    = "managed"
)

// Dashboard sections. A member's section is decided by the status of their most recent
// shoot (rules.Section); dashboard_cards stores it and the API names it.
const (
	SectionFinished   = "finished"
	SectionInProgress = "in_progress"
	SectionDeleted    = "deleted"
)

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

// Email status of a retry or restart, and of one email (a row of emails), which is
// EmailSending until the provider answers and then EmailSent or EmailFailed.
const (
	EmailQueued        = "queued"
	EmailSending       = "sending" // an email's only: begun, the provider's answer not yet recorded
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

// Webhook event types: what an organization's endpoints can subscribe to. The strings are
// part of the API and of every payload sent.
const (
	EventRetryIssued         = "retry.issued"
	EventRetryEmailDelivered = "retry.email_delivered"
	EventRetryEmailFailed    = "retry.email_failed"
	EventRetryStarted        = "retry.started"
	EventRetryCanceled       = "retry.canceled"
	EventRestartIssued       = "restart.issued"
	EventRestartStarted      = "restart.started"
	EventRestartCanceled     = "restart.canceled"
	EventRestartEmailFailed  = "restart.email_failed"
	// EventWebhookTest is sent by an admin's "send test event" to one endpoint only; no
	// endpoint subscribes to it.
	EventWebhookTest = "webhook.test"
)

// EventTypes lists the event types an endpoint can subscribe to, in the order the API
// documents them.
func EventTypes() []string {
	return []string{EventRetryIssued, EventRetryEmailDelivered, EventRetryEmailFailed, EventRetryStarted,
		EventRetryCanceled, EventRestartIssued, EventRestartStarted, EventRestartCanceled, EventRestartEmailFailed}
}

// Status of one webhook delivery: an event on its way to one endpoint.
const (
	DeliveryPending   = "pending"   // not yet answered with 2xx; attempts go on
	DeliveryDelivered = "delivered" // the endpoint answered 2xx
	DeliveryFailed    = "failed"    // every attempt of the schedule failed
	DeliveryCanceled  = "canceled"  // the endpoint was disabled or deleted first
)

// Why an endpoint stopped receiving; empty while it is enabled.
const (
	EndpointDisabledByAdmin = "admin"   // an admin turned it off
	EndpointDisabledGone    = "gone"    // it answered 410 Gone
	EndpointDisabledFailing = "failing" // its deliveries failed for longer than the retry schedule
)
