package workflows

import "go.temporal.io/sdk/workflow"

// Change ids of workflow.GetVersion. A run records the version it started with, so a
// deploy never changes the commands of a retry that has been pending for weeks.
const (
	// versionLifecycle 1: the wait polls the database for a start whose signal was lost,
	// counts an AlreadyStarted answer of the first email, and continues as new before its
	// history grows large. Runs recorded before it keep the wait of legacyAwaitStart.
	versionLifecycle = "lifecycle"
	// versionEmailQueue 1: emails are sent on EmailTaskQueue, at the configured rate.
	// Runs recorded before it keep sending on the workflow's own queue, where every
	// worker still serves the email activities.
	versionEmailQueue = "email-queue"
	// versionOneStepGive 1: a retry's reservation, the deletion of the results and the
	// reset of the shoot are one transaction (GiveRetry) in one local activity. Runs
	// recorded before it keep the three steps, each its own local activity.
	versionOneStepGive = "one-step-give"
	// versionStartDuringSend 1: the start signal is heard from the moment the run begins,
	// and an email still in flight when it comes is canceled, so a member's start ends
	// the run at once even while a send hangs on a lost task or backs off for minutes.
	// Runs recorded before it hear the signal only once the first email returned.
	versionStartDuringSend = "start-during-send"
	// versionAll 1: a run that has every change above. It is the one marker a new run
	// records: each marker costs the run two history events (the marker, and the
	// TemporalChangeVersion search attribute the SDK rewrites with it) in the task the
	// admin's give waits on, and four of them were most of what a give added to a
	// workflow of its shape. A run recorded before it has no such marker and reads each
	// change from its own (hasChange). A later change gets a marker of its own again.
	versionAll = "all-2026-12"
)

// hasChange says whether the run has the change with id changeID: yes for every run
// started with versionAll; a run recorded before it answers as it always did, from the
// change's own marker (a run that called GetVersion for an id once gets the same answer
// every time, so asking for versionAll again records nothing).
func hasChange(ctx workflow.Context, changeID string) bool {
	if workflow.GetVersion(ctx, versionAll, workflow.DefaultVersion, 1) >= 1 {
		return true
	}
	return workflow.GetVersion(ctx, changeID, workflow.DefaultVersion, 1) >= 1
}
