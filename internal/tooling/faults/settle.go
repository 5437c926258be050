package faults

import (
	"context"
	"time"

	"github.com/headshotpro/retryd/internal/store"
)

// settleQuery counts what is still in motion: a retry or restart in a stage that blocks
// the next one, a first email not yet delivered, an email attempt of a pending retry or
// restart not finished, a webhook delivery still pending (handed to Temporal or not).
// (A retry started before its first email went out keeps that intent row unfinished for
// good: the workflow rightly stops sending once started.)
const settleQuery = `SELECT
  (SELECT count(*) FROM retries WHERE stage IN ('reserving','resetting')) +
  (SELECT count(*) FROM restarts WHERE stage IN ('reserving','resetting')) +
  (SELECT count(*) FROM retries WHERE status = 'pending' AND email_status = 'queued') +
  (SELECT count(*) FROM restarts WHERE status = 'pending' AND email_status = 'queued') +
  (SELECT count(*) FROM emails e WHERE e.status = 'sending' AND (
     EXISTS (SELECT 1 FROM retries r WHERE r.id = e.subject_id AND r.status = 'pending') OR
     EXISTS (SELECT 1 FROM restarts r WHERE r.id = e.subject_id AND r.status = 'pending'))) +
  (SELECT count(*) FROM webhook_deliveries WHERE status = 'pending')`

// waitSettled polls until nothing is in motion for settleQuiet in a row, and returns
// when that quiet began; zero when it did not happen within limit.
func waitSettled(ctx context.Context, c *Cluster, limit time.Duration) time.Time {
	const settleQuiet = 6 * time.Second // longer than the reminder delays of the runs
	deadline := time.Now().Add(limit)
	var quietSince time.Time
	for time.Now().Before(deadline) && ctx.Err() == nil {
		n, err := inMotion(ctx, c)
		switch {
		case err != nil || n > 0:
			quietSince = time.Time{}
		case quietSince.IsZero():
			quietSince = time.Now()
		case time.Since(quietSince) >= settleQuiet:
			return quietSince
		}
		sleep(ctx, time.Second)
	}
	return time.Time{}
}

func inMotion(ctx context.Context, c *Cluster) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	db, err := store.Open(ctx, c.PGURL)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	var n int
	err = db.QueryRowContext(ctx, settleQuery).Scan(&n)
	return n, err
}
