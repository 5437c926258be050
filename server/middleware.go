package server

import (
	"context"
	"crypto/subtle"
	"errors"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/headshotpro/retryd/internal/apikey"
	"github.com/headshotpro/retryd/internal/metrics"
	"github.com/headshotpro/retryd/internal/problem"
	"github.com/headshotpro/retryd/internal/store"
)

const (
	ctxRequestID = "retryd.request_id"
	ctxPrincipal = "retryd.principal"
)

var validRequestID = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,64}$`)

// requestID keeps a caller's X-Request-Id when it is reasonable, else makes one, and
// echoes it on every response.
func (s *Server) requestID(c *gin.Context) {
	id := c.GetHeader("X-Request-Id")
	if !validRequestID.MatchString(id) {
		id = uuid.NewString()
	}
	c.Set(ctxRequestID, id)
	c.Header("X-Request-Id", id)
	c.Next()
}

func requestID(c *gin.Context) string { return c.GetString(ctxRequestID) }

// accessLog logs each request once. The route pattern is logged, not the raw path and
// query, so ids and tokens in URLs never reach the logs.
func (s *Server) accessLog(c *gin.Context) {
	start := time.Now()
	c.Next()
	route := c.FullPath()
	if route == "" {
		route = "unmatched"
	}
	status := c.Writer.Status()
	msg := "http request"
	if status == statusClientClosedRequest {
		msg = "client closed request"
	}
	// WithoutCancel: the request's own context is canceled when the client is gone, and
	// a context-aware handler must still get this line.
	s.log.InfoContext(context.WithoutCancel(c.Request.Context()), msg,
		"request_id", requestID(c), "method", c.Request.Method, "route", route,
		"status", status, "latency_ms", float64(time.Since(start).Microseconds())/1000)
}

func (s *Server) recover(c *gin.Context, err any) {
	s.log.ErrorContext(c.Request.Context(), "panic in handler", "request_id", requestID(c), "route", c.FullPath(), "panic", err)
	s.abort(c, problem.Internal, "an internal error occurred; quote request id %s", requestID(c))
}

// authenticate resolves the API key of admin and automation calls through resolveKey:
// a key resolved within the cache's lifetime is not looked up again (see package
// keycache for what that means for revocation), and failed keys are throttled per
// client address and per key prefix (keyguard.go).
func (s *Server) authenticate(c *gin.Context) {
	key, ok := apikey.FromAuthorization(c.GetHeader("Authorization"))
	if !ok {
		s.metrics.AuthFailure(metrics.AuthMissing)
		s.abort(c, problem.Unauthorized, "send an API key as Authorization: Bearer <key>")
		return
	}
	p, err := s.resolveKey(c.Request.Context(), c.ClientIP(), key)
	var throttled *throttledError
	switch {
	case err == nil:
		c.Set(ctxPrincipal, &p) // a copy: handlers cannot change the cached principal
		c.Next()
	case errors.Is(err, errUnknownKey):
		s.abort(c, problem.Unauthorized, "the API key is not valid or was revoked")
	case errors.As(err, &throttled):
		secs := throttled.retryAfter()
		c.Header("Retry-After", strconv.Itoa(secs))
		s.abort(c, problem.RateLimited, "too many failed API keys from this address or under this key's prefix; try again in %d seconds", secs)
	default:
		s.fail(c, err)
	}
}

func principal(c *gin.Context) *store.Principal {
	p, _ := c.Get(ctxPrincipal)
	pr, _ := p.(*store.Principal)
	return pr
}

// requireAdmin keeps automation keys to the routes they are meant for.
func (s *Server) requireAdmin(c *gin.Context) {
	if p := principal(c); p == nil || p.Role != "admin" {
		s.abort(c, problem.ForbiddenForRole, "this route needs an admin API key; automation keys may read the dashboard and restart managed members")
		return
	}
	c.Next()
}

// actor is who the audit log names for the principal: the admin behind an admin key,
// the key itself for automation; and what it acted with: the key, or on the admin pages
// the session (and the key it signed in with).
func actor(c *gin.Context) store.Actor {
	p := principal(c)
	a := store.Actor{Kind: store.ActorAutomation, ID: p.KeyID, RequestID: requestID(c),
		Credential: store.Credential{Kind: store.CredentialAPIKey, ID: p.KeyID, KeyID: p.KeyID}}
	if sp := sessionOf(c); sp != nil {
		a.Credential = store.Credential{Kind: store.CredentialSession, ID: sp.SessionID, KeyID: p.KeyID}
	}
	if p.Role == "admin" && p.AdminID != nil {
		a.Kind, a.ID = store.ActorAdmin, *p.AdminID
	}
	return a
}

func (s *Server) requirePipeline(c *gin.Context) {
	tok, ok := apikey.FromAuthorization(c.GetHeader("Authorization"))
	if !ok || subtle.ConstantTimeCompare([]byte(tok), []byte(s.cfg.PipelineToken)) != 1 {
		s.abort(c, problem.Unauthorized, "send the pipeline token as Authorization: Bearer <token>")
		return
	}
	c.Next()
}

// pathUUID reads a path parameter naming a resource.
func (s *Server) pathUUID(c *gin.Context, name string) (string, bool) {
	return s.parseUUID(c, c.Param(name), name)
}

// parseUUID reads the id of a resource in the path or query. An id that cannot exist is
// answered like one that does not exist for the caller (404 not_found), so a malformed id
// and another organization's id look the same.
func (s *Server) parseUUID(c *gin.Context, v, name string) (string, bool) {
	id, ok := canonicalUUID(v)
	if !ok {
		s.abort(c, problem.NotFound, "no such %s (ids are UUIDs)", strings.TrimSuffix(name, "_id"))
		return "", false
	}
	return id, true
}
