// Package relay hands webhook deliveries from Postgres to Temporal. A delivery is written
// in the transaction of the change it reports (the outbox); the relay, running in every
// worker process, starts one workflow per delivery and marks it handed over. It wakes on
// the notification a committed delivery sends and also looks every PollInterval, so a
// notification missed (the relay was down, the listening connection broke) delays a
// delivery by one interval at most and loses nothing.
package relay

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/uptrace/bun"

	"github.com/headshotpro/retryd/internal/metrics"
	"github.com/headshotpro/retryd/internal/store"
	"github.com/headshotpro/retryd/workflows"
)

// Starter starts a delivery's workflow (workflows.Client).
type Starter interface {
	DeliverWebhook(ctx context.Context, d workflows.WebhookDelivery, s workflows.WebhookSchedule) error
}

// Defaults of Relay's intervals.
const (
	DefaultPollInterval    = time.Second
	DefaultBacklogInterval = 15 * time.Second
	// purgeInterval is how often events past their retention are purged.
	purgeInterval = time.Hour
	batchSize     = 100
	startParallel = 8
	// startTimeout bounds one start. The SDK retries a start until its context ends: with
	// Temporal away the relay gives up, gives the batch's rows back, and tries again at
	// its next look.
	startTimeout = 10 * time.Second
)

// Relay moves deliveries to Temporal.
type Relay struct {
	DB       *bun.DB
	Starter  Starter
	Schedule workflows.WebhookSchedule
	Metrics  *metrics.Metrics
	Logger   *slog.Logger
	Now      func() time.Time
	// PollInterval is the longest a delivery waits when its notification is missed.
	PollInterval time.Duration
	// BacklogInterval is how often the backlog gauges are counted.
	BacklogInterval time.Duration

	// failing is set while hand-overs fail, so an outage is logged when it begins and
	// when it ends, not every second.
	failing bool
}

// New builds a relay with the default intervals.
func New(db *bun.DB, starter Starter, schedule workflows.WebhookSchedule, m *metrics.Metrics, logger *slog.Logger) *Relay {
	return &Relay{DB: db, Starter: starter, Schedule: schedule, Metrics: m, Logger: logger, Now: time.Now,
		PollInterval: DefaultPollInterval, BacklogInterval: DefaultBacklogInterval}
}

// Run relays until ctx ends.
func (r *Relay) Run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Go(func() { r.housekeep(ctx) })
	defer wg.Wait()
	var l *store.WebhookListener
	defer func() {
		if l != nil {
			l.Close()
		}
	}()
	for ctx.Err() == nil {
		if l == nil {
			var err error
			if l, err = store.ListenWebhooks(ctx, r.DB); err != nil && ctx.Err() == nil && !r.failing {
				r.Logger.Warn("webhook relay: cannot listen for deliveries; polling", "error", err)
			}
		}
		r.drain(ctx)
		// The notifications that came while it drained are read now: one more look
		// covers them all, and none is left to wake the relay for a look each. After a
		// failed hand-over it waits out the interval instead.
		if l != nil && l.Flush(ctx) > 0 && !r.failing {
			continue
		}
		wait, cancel := context.WithTimeout(ctx, r.PollInterval)
		if l != nil {
			// A notification wakes the relay to look at once.
			if err := l.Wait(wait); errors.Is(err, store.ErrListenerBroken) {
				l.Close()
				l = nil
				<-wait.Done()
			}
		} else {
			<-wait.Done()
		}
		cancel()
	}
}

// drain hands over deliveries until none wait or Temporal or Postgres fails.
func (r *Relay) drain(ctx context.Context) {
	for ctx.Err() == nil {
		n, err := store.DispatchWebhooks(ctx, r.DB, batchSize, r.Now(), r.start)
		if err != nil {
			if ctx.Err() == nil && !r.failing {
				r.Logger.Warn("webhook relay: hand-over failed; trying again every poll interval until it works", "error", err)
			}
			r.failing = ctx.Err() == nil
			return
		}
		if r.failing {
			r.Logger.Info("webhook relay: hand-over works again")
			r.failing = false
		}
		if n < batchSize {
			return
		}
	}
}

// start starts the workflows of a batch, a few at a time, and answers the ids started.
func (r *Relay) start(ctx context.Context, batch []store.WebhookDispatch) ([]string, error) {
	var (
		mu      sync.Mutex
		started []string
		first   error
		wg      sync.WaitGroup
		slots   = make(chan struct{}, startParallel)
	)
	for _, d := range batch {
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			sctx, cancel := context.WithTimeout(ctx, startTimeout)
			defer cancel()
			err := r.Starter.DeliverWebhook(sctx, workflows.WebhookDelivery{ID: d.ID, OrgID: d.OrgID}, r.Schedule)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if first == nil {
					first = err
				}
				return
			}
			started = append(started, d.ID)
		})
	}
	wg.Wait()
	return started, first
}

// housekeep counts the backlog gauges every BacklogInterval and purges what is past its
// retention every hour (every worker does; a purge finding nothing costs little).
func (r *Relay) housekeep(ctx context.Context) {
	t := time.NewTicker(r.BacklogInterval)
	defer t.Stop()
	var purged time.Time
	for {
		if now := r.Now(); now.Sub(purged) >= purgeInterval {
			purged = now
			if events, endpoints, err := store.PurgeWebhooks(ctx, r.DB, now); err != nil && ctx.Err() == nil {
				r.Logger.Warn("webhook purge failed; trying again in an hour", "error", err)
			} else if events+endpoints > 0 {
				r.Logger.Info("webhook purge", "events", events, "endpoints", endpoints)
			}
		}
		bs, err := store.WebhookBacklogs(ctx, r.DB)
		if err == nil {
			out := make([]metrics.WebhookBacklog, len(bs))
			for i, b := range bs {
				out[i] = metrics.WebhookBacklog{EndpointID: b.EndpointID, Pending: b.Pending, Oldest: b.Oldest}
			}
			r.Metrics.SetWebhookBacklog(r.Now(), out)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
