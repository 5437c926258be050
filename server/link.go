package server

import (
	"context"
	"math"
	"net/http"
	"net/mail"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"go.temporal.io/sdk/client"

	"github.com/headshotpro/retryd/internal/problem"
	"github.com/headshotpro/retryd/internal/store"
	"github.com/headshotpro/retryd/workflows"
)

// linkAccepted is the one answer of POST /member/link, whether or not the address is
// known: the endpoint must not tell who is a member.
const linkAccepted = "If this address belongs to a member with a photo shoot waiting to be started, a fresh link is on its way."

type linkRequest struct {
	Email string `json:"email"`
}

// postLink sends the pending retry or restart email again, with a fresh link, to the
// member with this address. Rate limited per address and per client.
func (s *Server) postLink(c *gin.Context) {
	body, err := readBody(c)
	if err != nil {
		s.fail(c, err)
		return
	}
	var req linkRequest
	if err := decodeJSON(body, &req, false); err != nil {
		s.fail(c, err)
		return
	}
	addr, err := mail.ParseAddress(strings.TrimSpace(req.Email))
	if err != nil || addr.Name != "" || len(req.Email) > 254 {
		s.abort(c, problem.InvalidBody, "email must be an email address")
		return
	}
	email := strings.ToLower(addr.Address)
	if ok, wait := s.linkByClient.Allow(c.ClientIP()); !ok {
		s.tooMany(c, wait)
		return
	}
	if ok, wait := s.linkByAddress.Allow(email); !ok {
		s.tooMany(c, wait)
		return
	}
	ids, err := store.PendingLinkWorkflows(c.Request.Context(), s.db, email)
	if err != nil {
		s.fail(c, err)
		return
	}
	for _, id := range ids {
		s.requestResend(c.Request.Context(), id)
	}
	c.JSON(http.StatusAccepted, gin.H{"status": "accepted", "message": linkAccepted})
}

// requestResend asks the workflow to send its email again and returns once the update
// is accepted, not sent, so the answer takes about as long for a known address as for
// an unknown one. Failures are logged, never shown to the caller.
func (s *Server) requestResend(ctx context.Context, workflowID string) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err := s.tc.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID: workflowID, UpdateName: workflows.UpdateResendEmail,
		WaitForStage: client.WorkflowUpdateStageAccepted,
	})
	if err != nil {
		s.log.WarnContext(ctx, "fresh link not requested", "workflow_id", workflowID, "error", err)
	}
}

func (s *Server) tooMany(c *gin.Context, wait time.Duration) {
	secs := int(math.Ceil(wait.Seconds()))
	if secs < 1 {
		secs = 1
	}
	c.Header("Retry-After", strconv.Itoa(secs))
	s.abort(c, problem.RateLimited, "too many link requests; try again in %d seconds", secs)
}
