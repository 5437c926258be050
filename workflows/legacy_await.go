package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// legacyAwaitStart is the wait of runs started before versionLifecycle 1, kept so that
// they replay unchanged; it can go once no such run is open (docs/operations.md, "Deploying
// workflow changes"). It waits for the member's start signal on durable timers, calling
// remind(n) for the nth reminder at each delay after the first email; remind answers true
// when the member had already started. After the last reminder it waits on the signal
// alone, which is what versionLifecycle 1 fixes.
func legacyAwaitStart(ctx workflow.Context, reminders []time.Duration, remind func(n int) bool) error {
	started := workflow.GetSignalChannel(ctx, SignalShootStarted)
	emailAt := workflow.Now(ctx)
	for sent, done := 0, false; !done; {
		timerCtx, cancelTimer := workflow.WithCancel(ctx)
		fire := false
		sel := workflow.NewSelector(ctx)
		sel.AddReceive(started, func(c workflow.ReceiveChannel, _ bool) {
			c.Receive(ctx, nil)
			done = true
		})
		sel.AddReceive(ctx.Done(), func(workflow.ReceiveChannel, bool) {})
		if sent < len(reminders) {
			wait := reminders[sent] - workflow.Now(ctx).Sub(emailAt)
			timer := workflow.NewTimerWithOptions(timerCtx, max(wait, time.Millisecond), workflow.TimerOptions{
				Summary: fmt.Sprintf("reminder %d of %d", sent+1, len(reminders)),
			})
			sel.AddFuture(timer, func(f workflow.Future) {
				fire = f.Get(ctx, nil) == nil
			})
		}
		sel.Select(ctx)
		cancelTimer()
		if ctx.Err() != nil {
			return temporal.NewCanceledError("canceled while waiting for the member")
		}
		if fire && !done {
			sent++
			done = remind(sent)
		}
	}
	return nil
}
