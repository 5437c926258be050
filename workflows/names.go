// Package workflows holds retryd's Temporal workflows. Every name that crosses the wire
// (task queue, workflow types, signals, queries, updates, search attributes) is a constant
// in this file, so the API, the worker and operators' tools cannot drift apart.
package workflows

import (
	"go.temporal.io/sdk/temporal"
)

// TaskQueue is the default task queue of retryd's workflows and database activities.
const TaskQueue = "retryd"

// EmailTaskQueue is the task queue of the email activities of workflows on queue. It is
// apart so the Temporal server can pace it (the worker's TaskQueueActivitiesPerSecond)
// for every worker together, below the mail provider's per-minute limit.
func EmailTaskQueue(queue string) string { return queue + "-email" }

// WebhookTaskQueue is the task queue of the webhook delivery attempts of workflows on
// queue. It is apart so that slow receivers, each holding an attempt for up to
// WEBHOOK_TIMEOUT, never take the slots of the database steps and emails.
func WebhookTaskQueue(queue string) string { return queue + "-webhooks" }

// Workflow type names.
const (
	RetryWorkflowName           = "RetryWorkflow"
	RestartWorkflowName         = "RestartShootWorkflow"
	WebhookDeliveryWorkflowName = "WebhookDeliveryWorkflow"
)

// WebhookDeliveryWorkflowID is keyed by the delivery: the relay may hand a delivery over
// twice (it died before marking it), and the second start finds the first.
func WebhookDeliveryWorkflowID(deliveryID string) string { return "webhook-" + deliveryID }

// Activity type names. The worker registers the methods of *activities.Activities, whose
// names are these; histories, `temporal workflow describe` and the UI show them.
// worker/names_test.go keeps the list equal to the registered methods.
const (
	ActivityGiveRetry              = "GiveRetry"
	ActivityReserveRetry           = "ReserveRetry"
	ActivityDeleteResults          = "DeleteResults"
	ActivityResetShoot             = "ResetShoot"
	ActivitySetRetryStage          = "SetRetryStage"
	ActivityRetryStarted           = "RetryStarted"
	ActivitySendRetryEmail         = "SendRetryEmail"
	ActivityMarkRetryEmailFailed   = "MarkRetryEmailFailed"
	ActivityCreateRestart          = "CreateRestart"
	ActivitySetRestartStage        = "SetRestartStage"
	ActivityRestartStarted         = "RestartStarted"
	ActivitySendRestartEmail       = "SendRestartEmail"
	ActivityMarkRestartEmailFailed = "MarkRestartEmailFailed"
	ActivityDeliverWebhook         = "DeliverWebhook"
	ActivityFailWebhook            = "FailWebhook"
)

// ActivityNames lists every activity type the worker registers.
var ActivityNames = []string{
	ActivityGiveRetry, ActivityReserveRetry, ActivityDeleteResults, ActivityResetShoot, ActivitySetRetryStage, ActivityRetryStarted,
	ActivitySendRetryEmail, ActivityMarkRetryEmailFailed, ActivityCreateRestart, ActivitySetRestartStage,
	ActivityRestartStarted, ActivitySendRestartEmail, ActivityMarkRestartEmailFailed,
	ActivityDeliverWebhook, ActivityFailWebhook,
}

// Signals, queries and updates.
const (
	// SignalShootStarted tells a retry or restart workflow that the member started the shoot.
	SignalShootStarted = "shoot-started"
	// QueryStatus answers the workflow's current stage and email state.
	QueryStatus = "status"
	// UpdateIssue waits until a retry's reset is committed and answers the retry id.
	UpdateIssue = "issue"
	// UpdateResendEmail sends the retry email again and answers once it is sent.
	UpdateResendEmail = "resend-email"
)

// Search attribute names; the dev server and the compose stack register them as Keyword.
const (
	SAOrgID      = "OrgId"
	SAMemberID   = "MemberId"
	SAShootID    = "ShootId"
	SARetryStage = "RetryStage"
)

// SearchAttributeNames lists the Keyword search attributes to register on a namespace.
var SearchAttributeNames = []string{SAOrgID, SAMemberID, SAShootID, SARetryStage}

// Typed keys of the search attributes.
var (
	KeyOrgID      = temporal.NewSearchAttributeKeyKeyword(SAOrgID)
	KeyMemberID   = temporal.NewSearchAttributeKeyKeyword(SAMemberID)
	KeyShootID    = temporal.NewSearchAttributeKeyKeyword(SAShootID)
	KeyRetryStage = temporal.NewSearchAttributeKeyKeyword(SARetryStage)
)

// RetryWorkflowID names the business key: one retry per shoot.
func RetryWorkflowID(shootID string) string { return "retry-" + shootID }

// RestartWorkflowID is keyed by member: two restarts of one member cannot run at once.
func RestartWorkflowID(memberID string) string { return "restart-" + memberID }
