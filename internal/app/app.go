// Package app is retryd's one composition root: from the configuration it opens the
// database, dials Temporal and builds the API, the worker and their collaborators. The
// retryd command and the integration-test harness (internal/tooling/apptest) both build
// the service through it and nowhere else, so what the tests run is what production
// runs.
package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/uptrace/bun"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/contrib/envconfig"
	tlog "go.temporal.io/sdk/log"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/headshotpro/retryd/activities"
	"github.com/headshotpro/retryd/internal/config"
	"github.com/headshotpro/retryd/internal/devmailbox"
	"github.com/headshotpro/retryd/internal/linktoken"
	"github.com/headshotpro/retryd/internal/mailer"
	"github.com/headshotpro/retryd/internal/metrics"
	"github.com/headshotpro/retryd/internal/relay"
	"github.com/headshotpro/retryd/internal/store"
	"github.com/headshotpro/retryd/internal/webhook"
	"github.com/headshotpro/retryd/server"
	"github.com/headshotpro/retryd/worker"
	"github.com/headshotpro/retryd/workflows"
)

// ConfigError is a configuration the service cannot run with (exit code 3).
type ConfigError struct{ Err error }

func (e ConfigError) Error() string { return e.Err.Error() }
func (e ConfigError) Unwrap() error { return e.Err }

// DependencyError is Postgres or Temporal out of reach (exit code 4).
type DependencyError struct{ Err error }

func (e DependencyError) Error() string { return e.Err.Error() }
func (e DependencyError) Unwrap() error { return e.Err }

// cacheSized mirrors the SDK's own process-wide workflow cache: it is sized once.
var cacheSized sync.Once

// Options are what a caller may add to the configuration: the harness's seams.
type Options struct {
	// QueryHook, when set, sees every query of the app's database pool.
	QueryHook bun.QueryHook
	// Resolver, when set, looks up the hosts of webhook URLs admins set, instead of the
	// system's resolver.
	Resolver *net.Resolver
}

// App holds one process's long-lived dependencies. Close releases them in reverse order.
type App struct {
	Config  *config.Config
	Logger  *slog.Logger
	DB      *bun.DB
	Metrics *metrics.Metrics
	// Links signs members' links; nil for a tool that signs none (resume).
	Links *linktoken.Signer

	resolver *net.Resolver

	mu       sync.Mutex // guards temporal while Redial swaps it
	temporal client.Client
	closers  []func()
}

// NewLogger is the service's JSON logger at the configured level.
func NewLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level}))
}

// Open connects to Postgres (creating the database first in dev mode, so `retryd dev`
// works on an empty server).
func Open(ctx context.Context, cfg *config.Config, logger *slog.Logger, opts Options) (*App, error) {
	a := &App{Config: cfg, Logger: logger, resolver: opts.Resolver}
	if cfg.Mode == config.ModeDev {
		if err := store.EnsureDatabase(ctx, cfg.DatabaseURL); err != nil {
			return nil, DependencyError{err}
		}
	}
	db, err := OpenDB(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if opts.QueryHook != nil {
		db = db.WithQueryHook(opts.QueryHook)
	}
	a.DB = db
	a.closers = append(a.closers, func() { _ = db.Close() })
	return a, nil
}

// OpenDB is the pool of a tool (migrate, seed, keys), which needs only DATABASE_URL.
func OpenDB(ctx context.Context, cfg *config.Config) (*bun.DB, error) {
	db, err := store.OpenPool(ctx, cfg.DatabaseURL, cfg.DatabaseMaxConns)
	if err != nil {
		return nil, DependencyError{err}
	}
	return db, nil
}

// Connect creates the metrics, dials Temporal and prepares the link signer.
func (a *App) Connect(ctx context.Context) error {
	a.Metrics = metrics.New()
	a.closers = append(a.closers, func() { _ = a.Metrics.Close() })
	tc, err := a.dial(ctx)
	if err != nil {
		return err
	}
	a.temporal = tc
	a.closers = append(a.closers, func() {
		a.mu.Lock()
		defer a.mu.Unlock()
		if a.temporal != nil {
			a.temporal.Close()
			a.temporal = nil
		}
	})
	if a.Config.LinkSecret == "" {
		return nil // a tool (resume) signs no links; serve, work and dev require the secret
	}
	a.Links, err = linktoken.NewSigner([]byte(a.Config.LinkSecret), a.Config.LinkTTL)
	if err != nil {
		return ConfigError{fmt.Errorf("LINK_SECRET: %w", err)}
	}
	return nil
}

// dial connects with the standard Temporal client configuration (envconfig:
// TEMPORAL_API_KEY, TEMPORAL_TLS_*, TEMPORAL_PROFILE and the config file), so the same
// binary reaches a dev server, a self-hosted cluster or Temporal Cloud.
func (a *App) dial(ctx context.Context) (client.Client, error) {
	cfg := a.Config
	opts, err := envconfig.LoadDefaultClientOptions()
	if err != nil {
		return nil, ConfigError{fmt.Errorf("temporal client configuration: %w", err)}
	}
	// The variables (or dev's own server) win; without them a Temporal profile may name
	// the cluster, and only then do retryd's defaults apply.
	if cfg.TemporalAddressSet || opts.HostPort == "" {
		opts.HostPort = cfg.TemporalAddress
	}
	if opts.Namespace == "" {
		opts.Namespace = cfg.TemporalNamespace
	}
	opts.Logger = tlog.NewStructuredLogger(a.Logger.With("component", "temporal"))
	opts.MetricsHandler = a.Metrics.TemporalHandler()
	opts.ConnectionOptions.GrpcCompression = workflows.GrpcCompression()
	c, err := client.DialContext(ctx, opts)
	if err != nil {
		return nil, DependencyError{fmt.Errorf("connect to Temporal at %s: %w", cfg.TemporalAddress, err)}
	}
	return c, nil
}

// Redial closes the Temporal client and dials a new one, as a restarted process would
// after the Temporal server came back. Build the API and the worker again afterwards:
// those built before keep the closed client.
func (a *App) Redial(ctx context.Context) error {
	tc, err := a.dial(ctx)
	if err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.temporal != nil {
		a.temporal.Close()
	}
	a.temporal = tc
	return nil
}

// Temporal is the current Temporal client.
func (a *App) Temporal() client.Client {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.temporal
}

// Workflows is the client side of the workflows on the current Temporal client.
func (a *App) Workflows() *workflows.Client {
	return workflows.NewClient(a.Temporal(), a.Config.TemporalTaskQueue, a.Config.GiveTimeout)
}

// Healthy is the /healthz check of a private metrics port: Postgres and Temporal
// reachable.
func (a *App) Healthy(ctx context.Context) error {
	if err := a.DB.PingContext(ctx); err != nil {
		return err
	}
	_, err := a.Temporal().CheckHealth(ctx, &client.CheckHealthRequest{})
	return err
}

// Mailbox is the local MailerSend endpoint. It holds members' live links, so it exists
// only when asked for (DEV_MAILBOX, on by default in dev alone), and never with a real key
// (config refuses that pair).
func (a *App) Mailbox() *devmailbox.Mailbox {
	if !a.Config.DevMailbox || a.Config.MailerSendAPIKey != "" {
		return nil
	}
	return devmailbox.New(devmailbox.DefaultCapacity)
}

// Server builds the API; mb is the dev mailbox it serves (nil: none).
func (a *App) Server(mb *devmailbox.Mailbox) (*server.Server, error) {
	cfg := a.Config
	return server.New(server.Deps{
		DB: a.DB, Workflows: a.Workflows(), Links: a.Links, Mailbox: mb, Metrics: a.Metrics, Logger: a.Logger,
		Resolver: a.resolver,
		Config: server.Config{
			RetryWindow: cfg.RetryWindow, Reminders: cfg.RetryReminders, PipelineToken: cfg.PipelineToken,
			AppBaseURL: cfg.AppBaseURL, TrustedProxies: cfg.TrustedProxies,
			StartCheck:           cfg.StartCheck,
			APIKeyCacheTTL:       cfg.APIKeyCacheTTL,
			DevMailboxToken:      cfg.DevMailboxToken,
			DevLoopback:          cfg.DevLoopback,
			ResendCooldown:       cfg.ResendCooldown,
			MailQueuePerOrg:      cfg.MailQueuePerOrg,
			WebhookPolicy:        WebhookPolicy(cfg),
			WebhookSecretOverlap: cfg.WebhookSecretOverlap,
			WebhookRetryFor:      cfg.WebhookRetryFor,
		},
	})
}

// Activities are the worker's activities with their dependencies: the MailerSend client
// (the real API with a key, else the local endpoint), whose logger and metrics carry the
// alert of a refused key.
func (a *App) Activities() (*activities.Activities, error) {
	cfg := a.Config
	sender, err := mailer.NewSender(mailer.Config{
		APIKey: cfg.MailerSendAPIKey, LocalURL: cfg.MailLocalURL,
		LocalToken: cfg.DevMailboxToken,
		From:       mailer.Address{Email: cfg.MailFrom, Name: cfg.MailFromName},
		Logger:     a.Logger, Alerts: a.Metrics,
	})
	if err != nil {
		return nil, ConfigError{err}
	}
	acts := activities.New(a.DB, sender, a.Links, cfg.AppBaseURL, cfg.RetryWindow, a.Logger)
	acts.Metrics = a.Metrics
	acts.Webhooks = webhook.NewSender(WebhookPolicy(cfg), cfg.WebhookTimeout)
	return acts, nil
}

// WebhookPolicy is which receivers webhooks may reach: public https ones, plus loopback
// and plain http in dev, plus private networks, over http too (they often have no TLS),
// with WEBHOOK_ALLOW_PRIVATE=on. The API
// checks an endpoint's URL with it and the worker checks each delivery's address.
func WebhookPolicy(cfg *config.Config) webhook.Policy {
	return webhook.Policy{
		AllowHTTP:     cfg.WebhookDevReceivers || cfg.WebhookAllowPrivate,
		AllowLoopback: cfg.WebhookDevReceivers,
		AllowPrivate:  cfg.WebhookAllowPrivate,
	}
}

// WebhookSchedule is the delivery schedule new deliveries start with. An attempt's
// timeout adds the database's share to the receiver's WEBHOOK_TIMEOUT.
func WebhookSchedule(cfg *config.Config) workflows.WebhookSchedule {
	return workflows.WebhookSchedule{RetryFor: cfg.WebhookRetryFor, FirstRetry: cfg.WebhookFirstRetry, AttemptTimeout: cfg.WebhookTimeout + 20*time.Second}
}

// RunRelay hands webhook deliveries to Temporal until ctx ends; every worker process
// runs one.
func (a *App) RunRelay(ctx context.Context) {
	r := relay.New(a.DB, currentClient{a}, WebhookSchedule(a.Config), a.Metrics, a.Logger)
	if a.Config.WebhookBacklogRefresh > 0 {
		r.BacklogInterval = a.Config.WebhookBacklogRefresh
	}
	r.Run(ctx)
}

// currentClient starts each delivery on the Temporal client of the moment, which Redial
// may have replaced since the relay began.
type currentClient struct{ a *App }

func (c currentClient) DeliverWebhook(ctx context.Context, d workflows.WebhookDelivery, s workflows.WebhookSchedule) error {
	return c.a.Workflows().DeliverWebhook(ctx, d, s)
}

// WorkerOptions carries the configuration the worker needs. SHUTDOWN_TIMEOUT bounds the
// worker's drain as it bounds the API's, so one setting matches one stop_grace_period;
// MAIL_RATE_PER_MINUTE paces the email queue of every worker process alike.
func WorkerOptions(cfg *config.Config) worker.Options {
	return worker.Options{TaskQueue: cfg.TemporalTaskQueue, StopTimeout: cfg.ShutdownTimeout, EmailsPerMinute: cfg.MailRatePerMinute,
		WebhookConcurrency: cfg.WebhookConcurrency}
}

// Worker starts the Temporal workers on the current client; stop them before Close.
func (a *App) Worker(acts *activities.Activities) (*worker.Workers, error) {
	cfg := a.Config
	// The SDK keeps one workflow cache per process, sized before the first worker starts
	// and never again (it panics): a process that builds several apps (the tests) sizes it
	// with the first.
	cacheSized.Do(func() { sdkworker.SetStickyWorkflowCacheSize(cfg.WorkerCacheSize) })
	w := worker.New(a.Temporal(), acts, WorkerOptions(cfg))
	if err := w.Start(); err != nil {
		return nil, DependencyError{fmt.Errorf("start worker: %w", err)}
	}
	return w, nil
}

// RefreshPending counts pending retries and restarts every interval until ctx ends, so
// a scrape of the pending gauges never queries the database.
func (a *App) RefreshPending(ctx context.Context, every time.Duration) {
	db := a.DB
	a.Metrics.RefreshPending(ctx, every, func(ctx context.Context) (int, int, error) {
		return store.CountPending(ctx, db)
	})
}

// Close releases what Open and Connect acquired, last first.
func (a *App) Close() {
	for i := len(a.closers) - 1; i >= 0; i-- {
		a.closers[i]()
	}
}
