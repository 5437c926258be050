package workflows

// This file is the client side of the workflows: everything the API and `retryd resume`
// ask of them goes through Client. A retry or restart is started (or attached to) here
// and its database steps awaited, so a resumed retry starts exactly as a given one; the
// member's start, a resend and a fresh link reach a running workflow here too.

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/headshotpro/retryd/internal/domain"
	"github.com/headshotpro/retryd/internal/store"
)

// GrpcCompression is how retryd's connections to Temporal compress: not at all. The
// SDK gzips every request by default, and the server answers in kind; retryd's
// payloads are a few hundred bytes of ids, which gzip barely shrinks, while each
// compression and decompression cost CPU in the worker and the Temporal server on every
// poll, task and update (docs/benchmarks.md, "Connections without gzip"). The engine
// floor of the benchmark connects the same way.
func GrpcCompression() client.GrpcCompression { return &client.GrpcCompressionNone{} }

// Client starts and reaches retryd's workflows on one task queue.
type Client struct {
	client    client.Client
	taskQueue string
	timeout   time.Duration
}

// NewClient returns a Client on c; timeout bounds each call that waits on a workflow
// (the API's answer time).
func NewClient(c client.Client, taskQueue string, timeout time.Duration) *Client {
	return &Client{client: c, taskQueue: taskQueue, timeout: timeout}
}

// Retry starts or attaches to the retry's workflow and answers once its reset is
// committed. requestID makes the update's id unique to this call: a call never receives
// the stored outcome of an earlier run's update (a failed run's answer is not final).
func (c *Client) Retry(ctx context.Context, in RetryInput, requestID string) (IssueResult, error) {
	return c.launch(ctx, start{
		workflowID: RetryWorkflowID(in.ShootID), workflowType: RetryWorkflowName, input: in,
		orgID: in.OrgID, memberID: in.MemberID, shootID: in.ShootID,
		summary:  "Retry of shoot " + in.ShootID,
		details:  "org " + in.OrgID + " · member " + in.MemberID + " · retry " + in.RetryID,
		updateID: "issue-" + in.RetryID + "-" + requestID, updateArg: IssueRequest{RetryID: in.RetryID},
	})
}

// Restart starts or attaches to the restart's workflow and answers once the new shoot is
// committed.
func (c *Client) Restart(ctx context.Context, in RestartInput, requestID string) (IssueResult, error) {
	return c.launch(ctx, start{
		workflowID: RestartWorkflowID(in.MemberID), workflowType: RestartWorkflowName, input: in,
		orgID: in.OrgID, memberID: in.MemberID, shootID: in.NewShootID,
		summary:  "Restart of member " + in.MemberID,
		details:  "org " + in.OrgID + " · new shoot " + in.NewShootID + " · restart " + in.RestartID,
		updateID: "issue-" + in.RestartID + "-" + requestID, updateArg: IssueRequest{RestartID: in.RestartID},
	})
}

// RetryInputFor rebuilds the input of a recorded retry, to resume it.
func RetryInputFor(r *store.Retry, reminders []time.Duration, tuning Tuning, requestID string) RetryInput {
	in := RetryInput{
		RetryID: r.ID, OrgID: r.OrgID, MemberID: r.MemberID, ShootID: r.ShootID,
		Issue: Issue{IssuedByKind: r.IssuedByKind, IssuedBy: r.IssuedBy, RequestID: requestID,
			Reminders: reminders, Tuning: tuning},
	}
	if r.Reason != nil {
		in.Reason = *r.Reason
	}
	return in
}

// RestartInputFor rebuilds the input of a recorded restart, to resume it.
func RestartInputFor(r *store.Restart, reminders []time.Duration, tuning Tuning, requestID string) RestartInput {
	return RestartInput{
		RestartID: r.ID, OrgID: r.OrgID, MemberID: r.MemberID, NewShootID: r.NewShootID,
		Issue: Issue{IssuedByKind: r.IssuedByKind, IssuedBy: r.IssuedBy, RequestID: requestID,
			Reminders: reminders, Tuning: tuning},
	}
}

type start struct {
	workflowID, workflowType string
	input                    any
	orgID, memberID, shootID string
	summary, details         string
	updateID                 string
	updateArg                any
}

// launch runs Update-with-Start: the workflow starts, or the running one is used, and the
// call returns once the issue update completed.
func (c *Client) launch(ctx context.Context, st start) (IssueResult, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	op := c.client.NewWithStartWorkflowOperation(client.StartWorkflowOptions{
		ID:                       st.workflowID,
		TaskQueue:                c.taskQueue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		// A closed run never refuses a new one: Postgres, not Temporal's retention of old
		// runs, decides whether a shoot was retried (a database restored from a backup
		// must not be contradicted by runs it no longer knows).
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		TypedSearchAttributes: temporal.NewSearchAttributes(
			KeyOrgID.ValueSet(st.orgID), KeyMemberID.ValueSet(st.memberID),
			KeyShootID.ValueSet(st.shootID), KeyRetryStage.ValueSet(domain.StageReserving),
		),
		StaticSummary: st.summary,
		StaticDetails: st.details,
	}, st.workflowType, st.input)
	handle, err := c.client.UpdateWithStartWorkflow(ctx, client.UpdateWithStartWorkflowOptions{
		StartWorkflowOperation: op,
		UpdateOptions: client.UpdateWorkflowOptions{
			UpdateID:     st.updateID,
			UpdateName:   UpdateIssue,
			Args:         []any{st.updateArg},
			WaitForStage: client.WorkflowUpdateStageCompleted,
		},
	})
	var res IssueResult
	if err == nil {
		err = handle.Get(ctx, &res)
	}
	return res, err
}

// SignalStarted tells a waiting retry or restart workflow that its member started. A
// workflow that already ended has nothing to be told: that is not an error.
func (c *Client) SignalStarted(ctx context.Context, workflowID string) error {
	err := c.client.SignalWorkflow(ctx, workflowID, "", SignalShootStarted, nil)
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return nil
	}
	return err
}

// ResendEmail asks a pending retry's workflow to send its email again and waits, within
// the client's timeout, for the answer. accepted says whether the workflow took the
// request: one it never took (Temporal away, the run gone) sends nothing, while an
// accepted one is queued and may still send after an error here (a backlog at the email
// pace outlasting the wait).
func (c *Client) ResendEmail(ctx context.Context, workflowID string) (res ResendResult, accepted bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	handle, err := c.client.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID: workflowID, UpdateName: UpdateResendEmail,
		UpdateID: "resend-" + uuid.NewString(), WaitForStage: client.WorkflowUpdateStageAccepted,
	})
	if err != nil {
		return res, false, err
	}
	return res, true, handle.Get(ctx, &res)
}

// RequestFreshLink asks a pending workflow to email its member's link again and returns
// once the workflow accepted the request (the member's fresh-link page answers at once).
func (c *Client) RequestFreshLink(ctx context.Context, workflowID string) error {
	_, err := c.client.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID: workflowID, UpdateName: UpdateResendEmail,
		WaitForStage: client.WorkflowUpdateStageAccepted,
	})
	return err
}

// CheckHealth answers whether the Temporal frontend is reachable (readiness).
func (c *Client) CheckHealth(ctx context.Context) error {
	_, err := c.client.CheckHealth(ctx, &client.CheckHealthRequest{})
	return err
}

// WebhookSchedule is the delivery schedule every delivery started with it keeps.
type WebhookSchedule struct {
	RetryFor       time.Duration
	FirstRetry     time.Duration // zero: DefaultWebhookFirstRetry
	AttemptTimeout time.Duration
}

// WebhookDelivery names one delivery for DeliverWebhook.
type WebhookDelivery struct {
	ID    string
	OrgID string
}

// DeliverWebhook starts a delivery's workflow, or finds it running. Starting a delivery
// whose workflow already ended starts it again, which is harmless: the attempt reads the
// delivery's status first and does nothing for one no longer pending.
func (c *Client) DeliverWebhook(ctx context.Context, d WebhookDelivery, s WebhookSchedule) error {
	_, err := c.client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       WebhookDeliveryWorkflowID(d.ID),
		TaskQueue:                c.taskQueue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		TypedSearchAttributes:    temporal.NewSearchAttributes(KeyOrgID.ValueSet(d.OrgID)),
		Priority:                 temporal.Priority{FairnessKey: d.OrgID},
		StaticSummary:            "Webhook delivery " + d.ID,
	}, WebhookDeliveryWorkflowName, WebhookDeliveryInput{
		DeliveryID: d.ID, OrgID: d.OrgID, RetryFor: s.RetryFor, FirstRetry: s.FirstRetry, AttemptTimeout: s.AttemptTimeout,
	})
	return err
}
