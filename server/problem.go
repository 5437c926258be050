package server

import (
	"context"
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/headshotpro/retryd/internal/problem"
)

const problemContentType = "application/problem+json"

// problemBody is RFC 9457 plus the stable code and the request id.
type problemBody struct {
	Type      string `json:"type"`
	Title     string `json:"title"`
	Status    int    `json:"status"`
	Detail    string `json:"detail,omitempty"`
	Instance  string `json:"instance,omitempty"`
	Code      string `json:"code"`
	RequestID string `json:"request_id,omitempty"`
	// FreshLink points a member with a bad link at the way to get a new one.
	FreshLink string `json:"fresh_link,omitempty"`
}

func problemType(c problem.Code) string {
	return "https://docs.headshotpro.test/problems/" + string(c)
}

// fail answers err as problem+json. Typed refusals keep their code; anything else is
// logged with the request id and answered without its text, which may hold internals.
func (s *Server) fail(c *gin.Context, err error) {
	if clientGone(c) {
		s.clientClosed(c)
		return
	}
	pe, ok := problem.As(err)
	if !ok {
		pe = s.classify(c, err)
	}
	s.writeProblem(c, pe)
}

func (s *Server) classify(c *gin.Context, err error) *problem.Error {
	var maxErr *http.MaxBytesError
	// The SDK ends a wait on an update (Update-with-Start's too) with an error of its own
	// whose cause is a gRPC status, not the context's error: the workflow did not answer
	// in time (its database steps held up, or the engine behind), which the client can
	// act on like any timeout.
	var waited *client.WorkflowUpdateServiceTimeoutOrCanceledError
	switch {
	case errors.As(err, &maxErr):
		return problem.New(problem.PayloadTooLarge, "the request body is larger than %d bytes", maxErr.Limit)
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &waited):
		s.log.WarnContext(c.Request.Context(), "request timed out", "request_id", requestID(c), "error", err)
		return problem.New(problem.Timeout, "the request took too long; it may still complete, check its state before retrying")
	case errors.Is(err, context.Canceled):
		return problem.New(problem.Timeout, "the request was canceled")
	}
	var unavailable *serviceerror.Unavailable
	if errors.As(err, &unavailable) {
		s.log.ErrorContext(c.Request.Context(), "temporal unavailable", "request_id", requestID(c), "error", err)
		return problem.New(problem.Unavailable, "the workflow service is unavailable; try again shortly")
	}
	s.log.ErrorContext(c.Request.Context(), "request failed", "request_id", requestID(c), "route", c.FullPath(), "error", err)
	return problem.New(problem.Internal, "an internal error occurred; quote request id %s", requestID(c))
}

// statusClientClosedRequest is nginx's 499: the client hung up before the answer. No
// client reads it; it is what the access log and the request metrics record, apart from
// the 5xx that alerts watch.
const statusClientClosedRequest = 499

// clientGone tells whether the request failed because its client went away: the server
// cancels a request's context when the connection closes, and whatever the handler was
// waiting on (Postgres, Temporal) then fails with an error of its own making.
func clientGone(c *gin.Context) bool {
	return errors.Is(c.Request.Context().Err(), context.Canceled)
}

// clientClosed ends a request whose client hung up: nothing went wrong on this side,
// so it is neither logged as an error nor counted as a server error.
func (s *Server) clientClosed(c *gin.Context) {
	c.AbortWithStatus(statusClientClosedRequest)
}

// problemFor is the body of a problem answer to this request.
func (s *Server) problemFor(c *gin.Context, pe *problem.Error) problemBody {
	body := problemBody{
		Type: problemType(pe.Code), Title: pe.Code.Title(), Status: pe.Code.Status(), Detail: pe.Detail,
		Instance: c.Request.URL.Path, Code: string(pe.Code), RequestID: requestID(c),
	}
	if pe.Code == problem.InvalidToken || pe.Code == problem.TokenExpired {
		body.FreshLink = "/api/v1/member/link"
	}
	return body
}

func (s *Server) writeProblem(c *gin.Context, pe *problem.Error) {
	status := pe.Code.Status()
	body := s.problemFor(c, pe)
	if pe.Code == problem.Unauthorized {
		c.Header("WWW-Authenticate", `Bearer realm="retryd"`)
	}
	if status >= 500 {
		s.log.Warn("answered with server error", "request_id", body.RequestID, "code", body.Code)
	}
	// Gin's JSON render keeps a Content-Type that is already set.
	c.Header("Content-Type", problemContentType)
	c.AbortWithStatusJSON(status, body)
}

// abort is fail for middleware.
func (s *Server) abort(c *gin.Context, code problem.Code, format string, args ...any) {
	s.writeProblem(c, problem.New(code, format, args...))
}

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
