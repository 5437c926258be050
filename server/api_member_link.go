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

	"github.com/headshotpro/retryd/internal/problem"
	"github.com/headshotpro/retryd/internal/store"
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
	var req linkRequest
	if _, ok := s.bindJSON(c, &req, false); !ok {
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
	// The lookup and the resend run after the answer, so the answer takes as long for a
	// known address as for an unknown one.
	ctx := context.WithoutCancel(c.Request.Context())
	select {
	case s.linkSlots <- struct{}{}:
		go func() {
			defer func() { <-s.linkSlots }()
			s.sendFreshLinks(ctx, email)
		}()
	default:
		s.log.WarnContext(ctx, "fresh link requests saturated; request dropped", "request_id", requestID(c))
	}
	c.JSON(http.StatusAccepted, linkAnswer{Status: "accepted", Message: linkAccepted})
}

// sendFreshLinks asks each pending workflow of the address to send its email again.
// Failures are logged, never shown to the caller.
func (s *Server) sendFreshLinks(ctx context.Context, email string) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	ids, err := store.PendingLinkWorkflows(ctx, s.db, email)
	if err != nil {
		s.log.ErrorContext(ctx, "fresh link lookup failed", "error", err)
		return
	}
	for _, id := range ids {
		s.requestResend(ctx, id)
	}
}

// requestResend asks the workflow to send its email again and returns once the update
// is accepted.
func (s *Server) requestResend(ctx context.Context, workflowID string) {
	if err := s.workflows.RequestFreshLink(ctx, workflowID); err != nil {
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
