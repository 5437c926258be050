// Package server is retryd's HTTP side, served by Gin on one port. Its files say which
// part each belongs to:
//
//   - api_*.go: the JSON API (summary in docs/product.md): the admin dashboard, members,
//     retries and restarts, webhook endpoints, the member's start and fresh link, the
//     pipeline's reports.
//   - pages_*.go and web/: the HTML pages: the admin pages, which run the API's own
//     handlers and answer in HTML, and the member's start page.
//   - devmailbox.go: the /dev routes of the local mailbox, only when it is on.
//   - the rest (server.go, middleware.go, decode.go, problem.go, idempotency.go,
//     keyguard.go, bodylimit.go): what every route shares: routing, authentication,
//     decoding, problem answers, Idempotency-Key and body limits.
//
// Handlers validate input, read through package store and reach workflows through
// workflows.Client; the rules themselves live in packages rules and store.
package server

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/uptrace/bun"

	"github.com/headshotpro/retryd/internal/devmailbox"
	"github.com/headshotpro/retryd/internal/keycache"
	"github.com/headshotpro/retryd/internal/linktoken"
	"github.com/headshotpro/retryd/internal/metrics"
	"github.com/headshotpro/retryd/internal/ratelimit"
	"github.com/headshotpro/retryd/internal/store"
	"github.com/headshotpro/retryd/internal/webhook"
	"github.com/headshotpro/retryd/workflows"
)

// Config is the part of the configuration the API uses.
type Config struct {
	RetryWindow    time.Duration
	Reminders      []time.Duration
	PipelineToken  string
	AppBaseURL     string
	TrustedProxies []string
	// StartCheck is how often a waiting retry or restart checks the database for a start
	// whose signal was lost (zero: the workflows' default).
	StartCheck time.Duration
	// SessionTTL is how long an admin pages sign-in lasts (default 8 hours).
	SessionTTL time.Duration
	// APIKeyCacheTTL is how long a resolved API key is trusted without asking the
	// database, and so the longest a revoked key keeps working; 0 disables the cache.
	APIKeyCacheTTL time.Duration
	// DevMailboxToken opens the /dev routes to clients presenting it (Bearer).
	DevMailboxToken string
	// DevLoopback lets loopback clients without forwarding headers reach the /dev routes
	// without the token: `retryd dev` only. Anywhere else a proxy on the host (nginx's
	// default proxy_pass, ssh -L, kubectl port-forward) connects from loopback for every
	// outside client, so the token alone counts.
	DevLoopback bool
	// ResendCooldown refuses a retry's resend this soon after its last email; 0: never.
	ResendCooldown time.Duration
	// MailQueuePerOrg refuses an organization's resends while this many of its emails
	// wait to be sent; 0 means DefaultMailQueuePerOrg.
	MailQueuePerOrg int
	// WebhookPolicy decides which webhook URLs an admin may set (the zero Policy:
	// https to public addresses only).
	WebhookPolicy webhook.Policy
	// WebhookSecretOverlap is how long a rotated-out signing secret keeps signing.
	WebhookSecretOverlap time.Duration
	// WebhookRetryFor is how long a delivery is attempted, so how long an endpoint fails
	// before it is disabled: the admin pages say it.
	WebhookRetryFor time.Duration
}

// DefaultMailQueuePerOrg is the queued-email cap of a Config without one; it matches the
// default of MAIL_QUEUE_PER_ORG.
const DefaultMailQueuePerOrg = 1000

// Deps are the API's collaborators, injected by the command that runs it.
type Deps struct {
	DB *bun.DB
	// Workflows starts and reaches the workflows; its timeout bounds how long a give,
	// a restart or a resend waits for its answer.
	Workflows *workflows.Client
	Links     *linktoken.Signer
	Mailbox   *devmailbox.Mailbox // nil: no /dev routes (a real MailerSend key, or not opted in)
	Metrics   *metrics.Metrics    // nil: no counting (tests); served on the private listener, not here
	Logger    *slog.Logger
	Now       func() time.Time
	// Resolver looks up webhook URLs' hosts when an admin sets one; nil: the system's.
	Resolver *net.Resolver
	Config   Config
}

// Server holds the Gin engine and the dependencies of its handlers.
type Server struct {
	db        *bun.DB
	workflows *workflows.Client
	links     *linktoken.Signer
	mailbox   *devmailbox.Mailbox
	metrics   *metrics.Metrics
	log       *slog.Logger
	now       func() time.Time
	resolver  *net.Resolver
	cfg       Config
	engine    *gin.Engine

	// Fresh-link requests are limited per client and per address, so the endpoint can
	// neither flood a member's inbox nor be used to probe many addresses quickly.
	linkByClient  *ratelimit.Limiter
	linkByAddress *ratelimit.Limiter
	// linkSlots bounds the fresh-link sends running after their answers.
	linkSlots chan struct{}
	// keys caches resolved API keys (by hash) for APIKeyCacheTTL.
	keys *keycache.Cache[store.Principal]
	// guard throttles failed keys and remembers refused ones (keyguard.go).
	guard *keyGuard
	// pageBufs recycles the dashboard's response buffers (tens of kilobytes each).
	pageBufs sync.Pool
	// beforeRestartCheck is a test seam (export_test.go), nil otherwise: see restartMember.
	beforeRestartCheck func(memberID string)
}

// apiKeyCacheSize bounds the key cache: far more keys than are live within a few
// seconds on one process, and about a megabyte at most.
const apiKeyCacheSize = 10000

// maxBodyBytes bounds every request body: the API takes small JSON documents only.
const maxBodyBytes = 64 << 10

// New builds the API.
func New(d Deps) (*Server, error) {
	if d.DB == nil || d.Workflows == nil || d.Links == nil || d.Logger == nil {
		return nil, fmt.Errorf("server: DB, Workflows, Links and Logger are required")
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Config.MailQueuePerOrg <= 0 {
		d.Config.MailQueuePerOrg = DefaultMailQueuePerOrg
	}
	s := &Server{db: d.DB, workflows: d.Workflows, links: d.Links, mailbox: d.Mailbox, metrics: d.Metrics, log: d.Logger, now: d.Now, resolver: d.Resolver, cfg: d.Config,
		linkByClient:  ratelimit.New(10.0/60, 10, d.Now),
		linkByAddress: ratelimit.New(3.0/(15*60), 3, d.Now),
		linkSlots:     make(chan struct{}, 32),
		keys:          keycache.New[store.Principal](d.Config.APIKeyCacheTTL, apiKeyCacheSize, d.Now),
		guard:         newKeyGuard(d.Now),
	}
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	e.HandleMethodNotAllowed = true
	e.ContextWithFallback = true
	if err := e.SetTrustedProxies(d.Config.TrustedProxies); err != nil {
		return nil, fmt.Errorf("server: trusted proxies: %w", err)
	}
	// Metrics come before recovery so that recovered panics are counted as 500s.
	e.Use(s.requestID, s.metrics.GinMiddleware(), s.accessLog, gin.CustomRecoveryWithWriter(nil, s.recover), s.limitBody)
	e.NoRoute(func(c *gin.Context) {
		s.abort(c, "route_not_found", "no route %s %s", c.Request.Method, c.Request.URL.Path)
	})
	e.NoMethod(func(c *gin.Context) { s.abort(c, "method_not_allowed", "%s is not allowed here", c.Request.Method) })
	s.routes(e)
	s.engine = e
	return s, nil
}

// Handler is the http.Handler to serve.
func (s *Server) Handler() http.Handler { return s.engine }

// Routes lists the registered method and path pairs (for the OpenAPI check).
func (s *Server) Routes() gin.RoutesInfo { return s.engine.Routes() }

func (s *Server) routes(e *gin.Engine) {
	e.GET("/healthz", s.healthz)
	e.GET("/readyz", s.readyz)
	e.GET("/openapi.json", s.getOpenAPI)
	// No /metrics here: this port is public, and the metrics count every organization's
	// work. The process serves them on its private listener (METRICS_ADDR).

	admin := e.Group("/api/v1/admin", s.authenticate)
	admin.GET("/organization", s.getOrganization)
	admin.GET("/headshots", s.getHeadshots)
	admin.POST("/members/:id/restarts", s.postRestart)
	admin.POST("/restarts", s.postBulkRestarts)
	adminOnly := admin.Group("", s.requireAdmin)
	adminOnly.GET("/members/:id", s.getMember)
	adminOnly.GET("/members/:id/retry-preview", s.getRetryPreview)
	adminOnly.POST("/members/:id/retries", s.postRetry)
	adminOnly.POST("/members/:id/retries/:retry_id/resend-email", s.postResendEmail)
	adminOnly.GET("/audit", s.getAudit)
	adminOnly.GET("/audit.csv", s.getAuditCSV)
	s.webhookRoutes(adminOnly)

	member := e.Group("/api/v1/member")
	member.POST("/shoots/:id/start", s.postStart)
	member.POST("/shoots/:id/submit", s.postSubmit)
	member.POST("/link", s.postLink)

	e.GET("/app/shoots/:id/start", s.getStartPage)
	e.GET("/app/start.js", s.getStartScript)
	s.pageRoutes(e)

	internal := e.Group("/api/v1/internal", s.requirePipeline)
	internal.POST("/shoots/:id/complete", s.postComplete)
	internal.POST("/shoots/:id/fail", s.postFail)

	if s.mailbox != nil {
		s.devRoutes(e)
	}
}

func (s *Server) healthz(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"status": "ok"})
}

// readyz checks both dependencies with a short timeout each, so a load balancer gets a
// quick answer even when one of them hangs.
func (s *Server) readyz(c *gin.Context) {
	checks := gin.H{}
	ready := true
	check := func(name string, f func(ctx context.Context) error) {
		ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
		defer cancel()
		if err := f(ctx); err != nil {
			checks[name] = "unavailable"
			ready = false
			s.log.WarnContext(ctx, "readiness check failed", "dependency", name, "error", err)
			return
		}
		checks[name] = "ok"
	}
	check("postgres", s.db.PingContext)
	check("temporal", s.workflows.CheckHealth)
	status, word := http.StatusOK, "ready"
	if !ready {
		status, word = http.StatusServiceUnavailable, "unavailable"
	}
	c.JSON(status, gin.H{"status": word, "checks": checks})
}

// tuning is the wait's schedule given to new retries and restarts.
func (s *Server) tuning() workflows.Tuning {
	return workflows.NewTuning(s.cfg.StartCheck)
}
