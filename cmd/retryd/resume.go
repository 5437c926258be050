package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/google/uuid"

	"github.com/headshotpro/retryd/internal/config"
	"github.com/headshotpro/retryd/internal/domain"

	"github.com/headshotpro/retryd/internal/store"
	"github.com/headshotpro/retryd/workflows"
)

// runResume carries on pending retries and restarts from what Postgres recorded: each
// attaches to its running workflow, or, when that workflow is gone (terminated by an
// operator, or lost with Temporal's database), starts a new run that continues from the
// recorded stage. Running it again changes nothing; the runbook uses it after a
// terminate and after restoring either database from a backup.
func runResume(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("resume", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	all := fs.Bool("all", false, "every pending retry and restart")
	retryID := fs.String("retry", "", "one retry id")
	restartID := fs.String("restart", "", "one restart id")
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 || (*all == (*retryID != "" || *restartID != "")) {
		return usageError{errors.New("give --all, or --retry ID and/or --restart ID")}
	}
	p, err := open(ctx, config.ModeTool)
	if err != nil {
		return err
	}
	defer p.Close()
	if err := p.Connect(ctx); err != nil {
		return err
	}
	retries, restarts := nonEmpty(*retryID), nonEmpty(*restartID)
	if *all {
		if retries, restarts, err = store.PendingIDs(ctx, p.DB); err != nil {
			return err
		}
	}
	l := p.Workflows()
	tuning := workflows.NewTuning(p.Config.StartCheck)
	requestID := "resume-" + uuid.NewString()
	failed := 0
	report := func(kind, id string, res workflows.IssueResult, err error) {
		if err != nil {
			failed++
			fmt.Fprintf(stdout, "%s %s: not resumed: %v\n", kind, id, err)
			return
		}
		fmt.Fprintf(stdout, "%s %s: %s\n", kind, id, res.Stage)
	}
	for _, id := range retries {
		r, err := store.GetRetry(ctx, p.DB, id)
		if err == nil && r.Status != domain.StatusPending {
			err = fmt.Errorf("it is %s, not pending", r.Status)
		}
		var res workflows.IssueResult
		if err == nil {
			res, err = l.Retry(ctx, workflows.RetryInputFor(r, p.Config.RetryReminders, tuning, requestID), requestID)
		}
		report("retry", id, res, err)
	}
	for _, id := range restarts {
		r, err := store.GetRestart(ctx, p.DB, id)
		if err == nil && r.Status != domain.StatusPending {
			err = fmt.Errorf("it is %s, not pending", r.Status)
		}
		var res workflows.IssueResult
		if err == nil {
			res, err = l.Restart(ctx, workflows.RestartInputFor(r, p.Config.RetryReminders, tuning, requestID), requestID)
		}
		report("restart", id, res, err)
	}
	fmt.Fprintf(stdout, "%d resumed, %d not\n", len(retries)+len(restarts)-failed, failed)
	if failed > 0 {
		return fmt.Errorf("%d could not be resumed", failed)
	}
	return nil
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}
