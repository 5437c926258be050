package bench

import (
	"context"
	"fmt"
	"time"
)

// Row keys; a retryd row names its floor's key.
const (
	KeyEngineBare         = "engine.bare"
	KeyEngineShapedSeq    = "engine.shaped.seq"
	KeyEngineShapedConc   = "engine.shaped.conc"
	KeyEngineEmail        = "engine.email"
	KeyEngineSignal       = "engine.signal"
	KeyEngineBulk         = "engine.bulk"
	KeyEngineWebhookSeq   = "engine.webhook.seq"
	KeyEngineWebhookBurst = "engine.webhook.burst"
	KeyGiveSeq            = "retryd.give.seq"
	KeyGiveConc           = "retryd.give.conc"
	KeyEmail              = "retryd.email"
	KeyStart              = "retryd.start"
	KeyRestart            = "retryd.restart"
	KeyBulk               = "retryd.bulk"
	KeyGiveWebhook        = "retryd.give.webhook"
	KeyWebhookSeq         = "retryd.webhook.seq"
	KeyWebhookBurst       = "retryd.webhook.burst"
	KeyDBDashboard        = "db.dashboard"
	KeyDBDetail           = "db.detail"
	KeyPageDashboard      = "pages.dashboard"
	KeyPageDetail         = "pages.detail"
)

// AllKeys lists every row a run reports, in order.
var AllKeys = []string{
	KeyEngineBare, KeyEngineShapedSeq, KeyEngineShapedConc, KeyEngineEmail, KeyEngineSignal, KeyEngineBulk, KeyEngineWebhookSeq, KeyEngineWebhookBurst,
	KeyGiveSeq, KeyGiveConc, KeyEmail, KeyStart, KeyRestart, KeyBulk, KeyGiveWebhook, KeyWebhookSeq, KeyWebhookBurst,
	KeyDBDashboard, KeyPageDashboard, KeyDBDetail, KeyPageDetail,
}

// step measures one row (key), or more rows run as one (a give and its emails).
type step struct {
	key string
	run func(context.Context) error
}

// engineFloor lists the measurements of what the Temporal server and the SDK cost on
// their own: the workflows of floorworker.go driven by the benchmark's own client. They
// run in this order; run interleaves them with retryd's.
func (r *runner) engineFloor() []step {
	cfg, e := r.cfg, r.eng
	seqIDs := make([]string, cfg.Gives)
	concIDs := make([]string, cfg.ConcurrentGives)
	steps := []step{
		{KeyEngineBare, func(ctx context.Context) error {
			return r.measure(ctx, Row{Key: KeyEngineBare, Group: GroupEngine, Name: "bare Update-with-Start (update answers at once)"},
				1, cfg.Gives, 1, func(ctx context.Context, _ int) error { return e.bare(ctx) })
		}},
		{KeyEngineShapedSeq, func(ctx context.Context) error {
			return r.measure(ctx, Row{Key: KeyEngineShapedSeq, Group: GroupEngine, Name: "give-retry shape, no-op activities, one at a time"},
				1, cfg.Gives, 1, func(ctx context.Context, i int) (err error) {
					seqIDs[i], err = e.shaped(ctx)
					return err
				})
		}},
		{KeyEngineShapedConc, func(ctx context.Context) error {
			began := time.Now()
			if err := r.measure(ctx, Row{Key: KeyEngineShapedConc, Group: GroupEngine, Name: fmt.Sprintf("give-retry shape, %d at once", cfg.Concurrency)},
				cfg.Concurrency, cfg.ConcurrentGives, 1, func(ctx context.Context, i int) (err error) {
					concIDs[i], err = e.shaped(ctx)
					return err
				}); err != nil {
				return err
			}
			delays, last, err := e.emailDelays(ctx, concIDs, cfg.EmailTimeout)
			if err != nil {
				return err
			}
			r.add(Row{Key: KeyEngineEmail, Group: GroupEngine, Name: "no-op email activity after the answer",
				Note: "of the shape's gives at once", Sum: summarize(delays, last.Sub(began), cfg.Concurrency, 1)})
			return nil
		}},
		{KeyEngineSignal, func(ctx context.Context) error {
			return r.measure(ctx, Row{Key: KeyEngineSignal, Group: GroupEngine, Name: "signal to a waiting workflow"},
				1, cfg.Starts, 1, func(ctx context.Context, i int) error { return e.signal(ctx, seqIDs[i]) })
		}},
		{KeyEngineBulk, func(ctx context.Context) error {
			return r.measure(ctx, Row{Key: KeyEngineBulk, Group: GroupEngine, Name: fmt.Sprintf("%d shaped Update-with-Starts, %d at once", cfg.BulkSize, bulkParallelism),
				Note: "per batch"}, 1, cfg.BulkCalls, cfg.BulkSize, func(ctx context.Context, _ int) error {
				return e.shapedBatch(ctx, cfg.BulkSize, bulkParallelism)
			})
		}},
	}
	return append(steps, r.webhookFloor()...)
}
