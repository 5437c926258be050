package server

import (
	"errors"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/temporal"

	"github.com/headshotpro/retryd/internal/problem"
	"github.com/headshotpro/retryd/workflows"
)

// workflowError turns what Temporal answered into the problem the API shows: a coded
// application error keeps its code; a workflow id refused by its reuse policy is
// answered with closed (a retried shoot, or a restart still open).
func workflowError(err error, closed problem.Code) error {
	if err == nil {
		return nil
	}
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) && problem.Code(appErr.Type()).Known() {
		return problem.New(problem.Code(appErr.Type()), "%s", appErr.Message())
	}
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &started) || temporal.IsWorkflowExecutionAlreadyStartedError(err) {
		return problem.New(closed, "%s", closed.Title())
	}
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		return problem.New(problem.RetryNotPending, "the retry's workflow is no longer running")
	}
	return err
}

// tuning is the wait's schedule given to new retries and restarts.
func (s *Server) tuning() workflows.Tuning {
	return workflows.NewTuning(s.cfg.StartCheck)
}
