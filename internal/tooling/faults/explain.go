package faults

import (
	"context"
	"fmt"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/uptrace/bun"

	"github.com/headshotpro/retryd/internal/store"
	"github.com/headshotpro/retryd/workflows"
)

// explainLimit bounds how many violations Explain reads back: the first one or two
// usually tell the story, and a run with many would flood the log.
const explainLimit = 2

// explainRuns and explainEvents bound one workflow's part of the explanation.
const (
	explainRuns   = 4
	explainEvents = 400
)

// Explain tells, for the first violations that are about a retry's or restart's workflow
// (a started one still running, a pending one not running) or a webhook delivery's (not
// delivered), what Postgres holds for the subject and its emails and what each run of
// its workflow did, event by event. The process logs rarely name these ids; the history
// says which wait the workflow is in and which signal or update it missed.
func Explain(ctx context.Context, c *Cluster, vs []Violation) string {
	var b strings.Builder
	n := 0
	for _, v := range vs {
		kind, id, _ := strings.Cut(v.Subject, " ")
		// A delivery that did not end delivered is carried by its own workflow.
		delivery := v.Invariant == InvWebhookDelivered && kind == "delivery"
		if v.Invariant != InvStartedClosed && v.Invariant != InvPendingHasFlow && !delivery {
			continue
		}
		if n == explainLimit {
			break
		}
		n++
		fmt.Fprintf(&b, "==== %s %s (%s)\n", v.Invariant, v.Subject, v.Detail)
		db, err := store.Open(ctx, c.PGURL)
		if err != nil {
			fmt.Fprintf(&b, "open Postgres: %v\n", err)
			continue
		}
		if delivery {
			explainRows(ctx, &b, db, "webhook_deliveries", `SELECT to_jsonb(d)::text FROM webhook_deliveries d WHERE id = ?`, id)
			_ = db.Close()
			explainWorkflow(ctx, &b, c, workflows.WebhookDeliveryWorkflowID(id))
			continue
		}
		table := "retries"
		if kind == "restart" {
			table = "restarts"
		}
		workflowID := explainRow(ctx, &b, db, table, id)
		explainRows(ctx, &b, db, "emails", `SELECT to_jsonb(e)::text FROM emails e WHERE subject_id = ? ORDER BY seq`, id)
		explainRows(ctx, &b, db, "audit_events", `SELECT to_jsonb(a)::text FROM audit_events a WHERE to_jsonb(a)::text LIKE ? ORDER BY 1 LIMIT 50`, "%"+id+"%")
		_ = db.Close()
		if workflowID != "" {
			explainWorkflow(ctx, &b, c, workflowID)
		}
	}
	return b.String()
}

// explainRow prints the subject's row and returns its workflow id.
func explainRow(ctx context.Context, b *strings.Builder, db *bun.DB, table, id string) string {
	var row, workflowID string
	err := db.QueryRowContext(ctx, "SELECT to_jsonb(t)::text, t.workflow_id FROM "+table+" t WHERE t.id = ?", id).Scan(&row, &workflowID)
	if err != nil {
		fmt.Fprintf(b, "%s row: %v\n", table, err)
		return ""
	}
	fmt.Fprintf(b, "%s row: %s\n", table, row)
	return workflowID
}

func explainRows(ctx context.Context, b *strings.Builder, db *bun.DB, name, query string, arg any) {
	rows, err := db.QueryContext(ctx, query, arg)
	if err != nil {
		fmt.Fprintf(b, "%s: %v\n", name, err)
		return
	}
	defer rows.Close()
	for rows.Next() {
		var row string
		if err := rows.Scan(&row); err != nil {
			fmt.Fprintf(b, "%s: %v\n", name, err)
			return
		}
		fmt.Fprintf(b, "%s: %s\n", name, row)
	}
	if err := rows.Err(); err != nil {
		fmt.Fprintf(b, "%s: %v\n", name, err)
	}
}

// explainWorkflow prints the last few runs of a workflow id, oldest first.
func explainWorkflow(ctx context.Context, b *strings.Builder, c *Cluster, workflowID string) {
	resp, err := c.tc.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
		Query: fmt.Sprintf("WorkflowId = '%s'", workflowID), PageSize: 100,
	})
	if err != nil {
		fmt.Fprintf(b, "list runs of %s: %v\n", workflowID, err)
		return
	}
	runs := resp.GetExecutions()
	// Visibility lists the newest first.
	if len(runs) > explainRuns {
		fmt.Fprintf(b, "(%d runs, the last %d shown)\n", len(runs), explainRuns)
		runs = runs[:explainRuns]
	}
	for i := len(runs) - 1; i >= 0; i-- {
		r := runs[i]
		fmt.Fprintf(b, "---- workflow %s run %s: %s, started %s\n", workflowID, r.GetExecution().GetRunId(), r.GetStatus(),
			r.GetStartTime().AsTime().Format(time.StampMilli))
		it := c.tc.GetWorkflowHistory(ctx, workflowID, r.GetExecution().GetRunId(), false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		n := 0
		for it.HasNext() {
			e, err := it.Next()
			if err != nil {
				fmt.Fprintf(b, "history: %v\n", err)
				break
			}
			if n++; n > explainEvents {
				fmt.Fprintf(b, "(more events left off)\n")
				break
			}
			fmt.Fprintf(b, "%4d %s %s%s\n", e.GetEventId(), e.GetEventTime().AsTime().Format(time.StampMilli), e.GetEventType(), eventDetail(e))
		}
	}
}

// eventDetail names what an event is about: the signal, update, activity or timer, and
// an attempt or failure where it has one. Payloads are left out: they may hold addresses.
func eventDetail(e *historypb.HistoryEvent) string {
	switch e.GetEventType() {
	case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
		a := e.GetWorkflowExecutionStartedEventAttributes()
		return fmt.Sprintf(" type=%s attempt=%d continued_from=%s", a.GetWorkflowType().GetName(), a.GetAttempt(), a.GetContinuedExecutionRunId())
	case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
		return " signal=" + e.GetWorkflowExecutionSignaledEventAttributes().GetSignalName()
	case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ADMITTED:
		return " update=" + e.GetWorkflowExecutionUpdateAdmittedEventAttributes().GetRequest().GetInput().GetName()
	case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
		a := e.GetWorkflowExecutionUpdateAcceptedEventAttributes()
		return fmt.Sprintf(" update=%s id=%s", a.GetAcceptedRequest().GetInput().GetName(), a.GetProtocolInstanceId())
	case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_REJECTED:
		a := e.GetWorkflowExecutionUpdateRejectedEventAttributes()
		return fmt.Sprintf(" update=%s failure=%q", a.GetRejectedRequest().GetInput().GetName(), a.GetFailure().GetMessage())
	case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED:
		a := e.GetWorkflowExecutionUpdateCompletedEventAttributes()
		return fmt.Sprintf(" update_id=%s failure=%q", a.GetMeta().GetUpdateId(), a.GetOutcome().GetFailure().GetMessage())
	case enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
		a := e.GetActivityTaskScheduledEventAttributes()
		return fmt.Sprintf(" activity=%s id=%s", a.GetActivityType().GetName(), a.GetActivityId())
	case enumspb.EVENT_TYPE_ACTIVITY_TASK_STARTED:
		a := e.GetActivityTaskStartedEventAttributes()
		return fmt.Sprintf(" scheduled=%d attempt=%d", a.GetScheduledEventId(), a.GetAttempt())
	case enumspb.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
		return fmt.Sprintf(" scheduled=%d", e.GetActivityTaskCompletedEventAttributes().GetScheduledEventId())
	case enumspb.EVENT_TYPE_ACTIVITY_TASK_FAILED:
		a := e.GetActivityTaskFailedEventAttributes()
		return fmt.Sprintf(" scheduled=%d failure=%q", a.GetScheduledEventId(), a.GetFailure().GetMessage())
	case enumspb.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT:
		a := e.GetActivityTaskTimedOutEventAttributes()
		return fmt.Sprintf(" scheduled=%d failure=%q", a.GetScheduledEventId(), a.GetFailure().GetMessage())
	case enumspb.EVENT_TYPE_TIMER_STARTED:
		a := e.GetTimerStartedEventAttributes()
		return fmt.Sprintf(" timer=%s after=%s", a.GetTimerId(), a.GetStartToFireTimeout().AsDuration())
	case enumspb.EVENT_TYPE_TIMER_FIRED:
		return " timer=" + e.GetTimerFiredEventAttributes().GetTimerId()
	case enumspb.EVENT_TYPE_TIMER_CANCELED:
		return " timer=" + e.GetTimerCanceledEventAttributes().GetTimerId()
	case enumspb.EVENT_TYPE_MARKER_RECORDED:
		return " marker=" + e.GetMarkerRecordedEventAttributes().GetMarkerName()
	case enumspb.EVENT_TYPE_WORKFLOW_TASK_FAILED:
		a := e.GetWorkflowTaskFailedEventAttributes()
		return fmt.Sprintf(" cause=%s failure=%q", a.GetCause(), a.GetFailure().GetMessage())
	case enumspb.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED:
		return " child=" + e.GetStartChildWorkflowExecutionInitiatedEventAttributes().GetWorkflowId()
	case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
		return " new_run=" + e.GetWorkflowExecutionContinuedAsNewEventAttributes().GetNewExecutionRunId()
	case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED:
		return fmt.Sprintf(" failure=%q", e.GetWorkflowExecutionFailedEventAttributes().GetFailure().GetMessage())
	}
	return ""
}
