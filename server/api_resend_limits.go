package server

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/headshotpro/retryd/internal/problem"
	"github.com/headshotpro/retryd/internal/store"
)

// queueFullRetryAfter is the Retry-After of email_queue_full: a time to look again, since
// the organization's queue drains at the pace it shares with every other organization.
const queueFullRetryAfter = 60

// claimResend lets a resend through the limits (store.ClaimResend) or answers the refusal;
// ok is false once an answer was written.
func (s *Server) claimResend(c *gin.Context, orgID, retryID string) (*store.ResendClaim, bool) {
	claim, err := store.ClaimResend(c.Request.Context(), s.db, orgID, retryID,
		store.ResendLimits{Cooldown: s.cfg.ResendCooldown, QueueCap: s.cfg.MailQueuePerOrg})
	var soon *store.ResendTooSoonError
	var full *store.EmailQueueFullError
	switch {
	case err == nil:
		return claim, true
	case errors.As(err, &soon):
		secs := int(math.Ceil(soon.Wait.Seconds()))
		c.Header("Retry-After", strconv.Itoa(max(secs, 1)))
		s.abort(c, problem.RateLimited, "an email was sent to this member less than %s ago; try again in %s",
			spell(s.cfg.ResendCooldown), plural(max(secs, 1), "second"))
	case errors.As(err, &full):
		c.Header("Retry-After", strconv.Itoa(queueFullRetryAfter))
		s.abort(c, problem.EmailQueueFull, "%s of your organization are waiting to be sent, and at most %d may wait; try again once some have gone out",
			plural(full.Queued, "email"), full.Cap)
	default:
		s.fail(c, err)
	}
	return nil, false
}

// releaseResend gives a claim back after the workflow refused the resend (the retry is no
// longer pending, or its workflow is gone), so nothing sent counts neither toward the
// cooldown nor the queue. It runs even if the client has gone: the claim is the
// database's, not the request's.
func (s *Server) releaseResend(ctx context.Context, claim *store.ResendClaim) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := claim.Release(ctx, s.db); err != nil {
		s.log.ErrorContext(ctx, "could not give back a refused resend's claim", "retry_id", claim.SubjectID, "error", err)
	}
}

// spell says a cooldown in words: "a minute", "2 minutes", "30 seconds".
func spell(d time.Duration) string {
	switch {
	case d == time.Minute:
		return "a minute"
	case d%time.Minute == 0:
		return plural(int(d/time.Minute), "minute")
	default:
		return plural(int(math.Ceil(d.Seconds())), "second")
	}
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}
