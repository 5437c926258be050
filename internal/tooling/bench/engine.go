package bench

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/headshotpro/retryd/internal/domain"
	"github.com/headshotpro/retryd/workflows"
)

// engine drives the floor's workflows through its own client, as retryd's API drives
// retryd's: Update-with-Start, waiting for the update's answer.
type engine struct {
	c      client.Client
	w      sdkworker.Worker
	hooksW sdkworker.Worker // the floor's webhook attempt queue
	acts   *floorActivities
	hooks  *floorWebhooks
	mu     sync.Mutex
	answer map[string]time.Time // when each shaped workflow's issue update answered
}

func dialEngine(ctx context.Context, t *Targets, to floorReceiver) (*engine, error) {
	c, err := client.DialContext(ctx, client.Options{
		HostPort: t.TemporalAddress, Namespace: t.Namespace,
		// retryd's own connections' compression, so the floor asks the engine what
		// retryd would.
		ConnectionOptions: client.ConnectionOptions{GrpcCompression: workflows.GrpcCompression()},
		Logger:            tlog.NewStructuredLogger(slog.New(slog.DiscardHandler)),
	})
	if err != nil {
		return nil, fmt.Errorf("dial Temporal at %s: %w", t.TemporalAddress, err)
	}
	w, acts, err := startFloorWorker(c)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("start the floor's worker: %w", err)
	}
	hooks := newFloorWebhooks(to)
	hooksW, err := startFloorWebhookWorker(c, hooks)
	if err != nil {
		w.Stop()
		c.Close()
		return nil, fmt.Errorf("start the floor's webhook worker: %w", err)
	}
	return &engine{c: c, w: w, hooksW: hooksW, acts: acts, hooks: hooks, answer: map[string]time.Time{}}, nil
}

func (e *engine) close() {
	e.hooksW.Stop()
	e.w.Stop()
	e.c.Close()
}

// shaped gives one floor "retry": Update-with-Start of the shaped workflow, with the
// start options retryd's workflows.Client uses, until its issue update answers.
func (e *engine) shaped(ctx context.Context) (string, error) {
	id := "bench-floor-" + uuid.NewString()
	ids := uuid.NewString()
	op := e.c.NewWithStartWorkflowOperation(client.StartWorkflowOptions{
		ID:                       id,
		TaskQueue:                floorQueue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		TypedSearchAttributes: temporal.NewSearchAttributes(
			workflows.KeyOrgID.ValueSet(ids), workflows.KeyMemberID.ValueSet(ids),
			workflows.KeyShootID.ValueSet(ids), workflows.KeyRetryStage.ValueSet(domain.StageReserving),
		),
		StaticSummary: "Bench floor " + id,
		StaticDetails: "org " + ids + " · member " + ids + " · retry " + ids,
	}, shapedWorkflowName, id)
	h, err := e.c.UpdateWithStartWorkflow(ctx, client.UpdateWithStartWorkflowOptions{
		StartWorkflowOperation: op,
		UpdateOptions: client.UpdateWorkflowOptions{
			UpdateID: "issue-" + id, UpdateName: workflows.UpdateIssue, Args: []any{id},
			WaitForStage: client.WorkflowUpdateStageCompleted,
		},
	})
	var got string
	if err == nil {
		err = h.Get(ctx, &got)
	}
	if err != nil {
		return "", err
	}
	e.mu.Lock()
	e.answer[id] = time.Now()
	e.mu.Unlock()
	return id, nil
}

// bare is an Update-with-Start whose update answers at once.
func (e *engine) bare(ctx context.Context) error {
	op := e.c.NewWithStartWorkflowOperation(client.StartWorkflowOptions{
		ID: "bench-bare-" + uuid.NewString(), TaskQueue: floorQueue,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
	}, bareWorkflowName)
	h, err := e.c.UpdateWithStartWorkflow(ctx, client.UpdateWithStartWorkflowOptions{
		StartWorkflowOperation: op,
		UpdateOptions:          client.UpdateWorkflowOptions{UpdateName: bareUpdate, WaitForStage: client.WorkflowUpdateStageCompleted},
	})
	if err == nil {
		err = h.Get(ctx, nil)
	}
	return err
}

// signal tells a waiting shaped workflow that the member started, as retryd's API does.
func (e *engine) signal(ctx context.Context, id string) error {
	return e.c.SignalWorkflow(ctx, id, "", workflows.SignalShootStarted, nil)
}

// shapedBatch is the floor of a bulk restart: n shaped Update-with-Starts, parallel at
// a time, as one bulk call runs its members.
func (e *engine) shapedBatch(ctx context.Context, n, parallel int) error {
	_, _, err := load(ctx, parallel, n, func(ctx context.Context, _ int) error {
		_, err := e.shaped(ctx)
		return err
	})
	return err
}

// emailDelays is, for each id, how long after its update answered its email activity
// ran; it waits up to limit for every email.
func (e *engine) emailDelays(ctx context.Context, ids []string, limit time.Duration) ([]time.Duration, time.Time, error) {
	deadline := time.Now().Add(limit)
	for {
		var out []time.Duration
		var last time.Time
		for _, id := range ids {
			at, ok := e.acts.sentAt(id)
			if !ok {
				break
			}
			e.mu.Lock()
			answered := e.answer[id]
			e.mu.Unlock()
			out = append(out, max(at.Sub(answered), 0))
			if at.After(last) {
				last = at
			}
		}
		if len(out) == len(ids) {
			return out, last, nil
		}
		if time.Now().After(deadline) {
			return nil, time.Time{}, fmt.Errorf("floor emails: %d of %d ran within %s", len(out), len(ids), limit)
		}
		select {
		case <-ctx.Done():
			return nil, time.Time{}, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
