// Package apptest runs the whole service for integration tests: a fresh Postgres database,
// the shared Temporal dev server, a worker on its own task queue, the real MailerSend
// client talking to the local mailbox over HTTP, and the Gin API behind an httptest
// server. Tests then speak HTTP to it, as a client would.
package apptest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/uptrace/bun"
	"go.temporal.io/sdk/client"

	"github.com/headshotpro/retryd/activities"
	root "github.com/headshotpro/retryd/internal/app"
	"github.com/headshotpro/retryd/internal/config"
	"github.com/headshotpro/retryd/internal/devmailbox"
	"github.com/headshotpro/retryd/internal/devserver"
	"github.com/headshotpro/retryd/internal/linktoken"
	"github.com/headshotpro/retryd/internal/metrics"
	"github.com/headshotpro/retryd/internal/seed"
	"github.com/headshotpro/retryd/internal/tooling/testenv"
	"github.com/headshotpro/retryd/server"
	"github.com/headshotpro/retryd/worker"
	"github.com/headshotpro/retryd/workflows"
)

// Options tunes one App; zero values give the production defaults.
type Options struct {
	RetryWindow time.Duration
	Reminders   []time.Duration
	// LogOutput receives the service's JSON logs (tests that inspect logs set it).
	LogOutput io.Writer
	// Temporal, when set, is the dev server the app connects to instead of the shared one
	// (durability tests run their own, to restart it). The caller starts and stops it.
	Temporal *devserver.Server
	// GiveTimeout bounds how long the API waits on a workflow's database steps.
	GiveTimeout time.Duration
	// StartCheck is how often a waiting workflow looks for a lost start signal.
	StartCheck time.Duration
	// APIKeyCacheTTL is how long the API caches resolved keys; 0 (the default here)
	// checks every request against the database.
	APIKeyCacheTTL time.Duration
	// MailRatePerMinute paces the email queue as MAIL_RATE_PER_MINUTE does; 0 (the default
	// here) is unpacedRate, so tests that are not about pacing do not wait on it.
	MailRatePerMinute int
	// PendingRefresh is how often the pending gauges are counted (defaultPendingRefresh
	// when zero, so tests see a give or a start in the gauges quickly).
	PendingRefresh time.Duration
	// TrustedProxies are TRUSTED_PROXIES: requests from these CIDRs (127.0.0.1/32 makes
	// the test itself one) carry their client's address in X-Forwarded-For.
	TrustedProxies []string
	// QueryHook, when set, sees every query run through the app's database handle: the
	// API's, the worker's, the metrics refresher's and the test's own through App.DB.
	QueryHook bun.QueryHook
	// Server, when set, is called with each API server built, before it serves: the
	// tests of package server reach its test seams (server/export_test.go) through it.
	Server func(*server.Server)
	// ResendCooldown is RESEND_COOLDOWN: how long after a retry's last email a resend is
	// refused. 0 (the default here) turns it off, so tests that resend right after the
	// first email are not refused; the tests of the cooldown set it.
	ResendCooldown time.Duration
	// MailQueuePerOrg is MAIL_QUEUE_PER_ORG; 0 (the default here) is noQueueCap.
	MailQueuePerOrg int
	// WebhookRetryFor is WEBHOOK_RETRY_FOR (72h when zero); WebhookFirstRetry the wait
	// before a delivery's second attempt (100 ms when zero, so tests of retries do not
	// wait on production's 5 s); WebhookTimeout is WEBHOOK_TIMEOUT (10s when zero).
	WebhookRetryFor   time.Duration
	WebhookFirstRetry time.Duration
	WebhookTimeout    time.Duration
	// WebhookConcurrency is WEBHOOK_CONCURRENCY (200 when zero).
	WebhookConcurrency int
	// ProductionWebhookURLs checks webhook URLs as serve does (https, public addresses)
	// instead of as dev does (http and loopback receivers too).
	ProductionWebhookURLs bool
	// WebhookResolver, when set, resolves the hosts of webhook URLs instead of the
	// system's resolver (tests must not depend on the machine's DNS).
	WebhookResolver *net.Resolver
}

// defaultPendingRefresh is the pending gauges' refresh of an App that does not ask for
// one: far more often than production's, for tests that read the gauges.
const defaultPendingRefresh = 100 * time.Millisecond

// noQueueCap is the queued-email cap of an App that does not ask for one: far above what
// any test queues.
const noQueueCap = 1000000

// unpacedRate is the email rate of an App that does not ask for one: far above what any
// test sends, so the email queue never holds a send back.
const unpacedRate = 100000

// App is one running instance of the service.
type App struct {
	URL string
	// MetricsURL is the private metrics listener (METRICS_ADDR in production): /metrics,
	// /healthz and /debug/pprof, never on URL.
	MetricsURL  string
	DatabaseURL string
	// TemporalAddress is the dev server's frontend, for tests that run retryd's commands.
	TemporalAddress string
	DB              *bun.DB
	Temporal        client.Client
	Mailbox         *devmailbox.Mailbox
	Links           *linktoken.Signer
	PipelineToken   string
	TaskQueue       string
	HTTP            *http.Client
	Metrics         *metrics.Metrics

	// What RestartWorker and RestartTemporalClients rebuild from.
	mu         sync.Mutex // guards Temporal and worker while they are swapped
	svc        *root.App
	worker     *worker.Workers
	acts       *activities.Activities
	setHandler func(http.Handler)
	routes     gin.RoutesInfo // of the API last built
	onServer   func(*server.Server)
}

// config reads the configuration as `retryd dev` would from an environment holding the
// test's database, task queue and options.
func (a *App) config(t testing.TB, dbURL string, dev *devserver.Server, opts Options) *config.Config {
	t.Helper()
	env := map[string]string{
		"DATABASE_URL": dbURL, "TEMPORAL_ADDRESS": dev.Address, "TEMPORAL_NAMESPACE": dev.Namespace,
		"TEMPORAL_TASK_QUEUE": a.TaskQueue, "APP_BASE_URL": "http://app.test",
		"LINK_SECRET": randomHex(32), "PIPELINE_TOKEN": a.PipelineToken,
		"RETRY_WINDOW":      opts.RetryWindow.String(),
		"RETRY_REMINDERS":   durations(opts.Reminders),
		"API_KEY_CACHE_TTL": opts.APIKeyCacheTTL.String(),
	}
	env["MAIL_RATE_PER_MINUTE"] = strconv.Itoa(unpacedRate)
	if opts.MailRatePerMinute > 0 {
		env["MAIL_RATE_PER_MINUTE"] = strconv.Itoa(opts.MailRatePerMinute)
	}
	if opts.StartCheck > 0 {
		env["START_CHECK_INTERVAL"] = opts.StartCheck.String()
	}
	if len(opts.TrustedProxies) > 0 {
		env["TRUSTED_PROXIES"] = strings.Join(opts.TrustedProxies, ",")
	}
	env["RESEND_COOLDOWN"] = opts.ResendCooldown.String()
	env["MAIL_QUEUE_PER_ORG"] = strconv.Itoa(noQueueCap)
	if opts.MailQueuePerOrg > 0 {
		env["MAIL_QUEUE_PER_ORG"] = strconv.Itoa(opts.MailQueuePerOrg)
	}
	cfg, err := config.Load(config.ModeDev, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatalf("apptest: configuration: %v", err)
	}
	if opts.GiveTimeout > 0 {
		cfg.GiveTimeout = opts.GiveTimeout
	}
	if opts.WebhookRetryFor > 0 {
		cfg.WebhookRetryFor = opts.WebhookRetryFor
	}
	if opts.WebhookTimeout > 0 {
		cfg.WebhookTimeout = opts.WebhookTimeout
	}
	if opts.WebhookConcurrency > 0 {
		cfg.WebhookConcurrency = opts.WebhookConcurrency
	}
	cfg.WebhookBacklogRefresh = defaultPendingRefresh
	cfg.WebhookFirstRetry = 100 * time.Millisecond
	if opts.WebhookFirstRetry > 0 {
		cfg.WebhookFirstRetry = opts.WebhookFirstRetry
	}
	if opts.ProductionWebhookURLs {
		cfg.WebhookDevReceivers = false
	}
	return cfg
}

func durations(ds []time.Duration) string {
	parts := make([]string, len(ds))
	for i, d := range ds {
		parts[i] = d.String()
	}
	return strings.Join(parts, ",")
}

// Start runs the service for the test and stops it when the test ends. It is built the
// way the retryd command builds it, through the composition root (internal/app), from a
// configuration read like the environment, with the test's own values.
func Start(t testing.TB, opts Options) *App {
	t.Helper()
	dbURL := testenv.DatabaseURL(t)
	dev := opts.Temporal
	if dev == nil {
		dev = testenv.Temporal(t)
	}
	if opts.RetryWindow == 0 {
		opts.RetryWindow = 60 * 24 * time.Hour
	}
	logOut := opts.LogOutput
	if logOut == nil {
		logOut = io.Discard
		if os.Getenv("RETRYD_TEST_LOGS") != "" {
			logOut = os.Stderr
		}
	}
	logger := slog.New(slog.NewJSONHandler(logOut, &slog.HandlerOptions{Level: slog.LevelDebug}))

	a := &App{PipelineToken: randomHex(16), TaskQueue: "retryd-test-" + randomHex(6),
		HTTP: &http.Client{Timeout: 30 * time.Second}, DatabaseURL: dbURL, TemporalAddress: dev.Address,
		onServer: opts.Server}
	cfg := a.config(t, dbURL, dev, opts)

	// The API serves the mailbox, and the worker's MailerSend client reaches it over HTTP;
	// the handler is swapped in once both exist.
	var handler http.Handler = http.NotFoundHandler()
	var mu sync.RWMutex
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.RLock()
		h := handler
		mu.RUnlock()
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)
	a.URL = ts.URL
	cfg.MailLocalURL = ts.URL + "/dev/mailersend"
	a.setHandler = func(h http.Handler) {
		mu.Lock()
		handler = h
		mu.Unlock()
	}

	ctx := context.Background()
	svc, err := root.Open(ctx, cfg, logger, root.Options{QueryHook: opts.QueryHook, Resolver: opts.WebhookResolver})
	if err != nil {
		t.Fatalf("apptest: open: %v", err)
	}
	t.Cleanup(svc.Close)
	if err := svc.Connect(ctx); err != nil {
		t.Fatalf("apptest: connect: %v", err)
	}
	a.svc = svc
	a.DB, a.Links, a.Metrics, a.Temporal = svc.DB, svc.Links, svc.Metrics, svc.Temporal()
	a.Mailbox = svc.Mailbox()
	if a.Mailbox == nil {
		t.Fatal("apptest: the configuration has no dev mailbox")
	}
	if a.acts, err = svc.Activities(); err != nil {
		t.Fatalf("apptest: activities: %v", err)
	}
	a.setHandler(a.buildAPI(t))
	a.serveMetrics(t, opts.PendingRefresh)
	a.worker = a.startWorker(t)
	a.runRelay(t)
	// Stops whichever worker is current when the test ends, before the app closes.
	t.Cleanup(func() {
		a.mu.Lock()
		defer a.mu.Unlock()
		a.stopWorker()
	})
	return a
}

// serveMetrics runs the private metrics listener and the refresher of its pending
// gauges, as serve does, until the test ends.
func (a *App) serveMetrics(t testing.TB, every time.Duration) {
	t.Helper()
	if every <= 0 {
		every = defaultPendingRefresh
	}
	ms := httptest.NewServer(metrics.PrivateHandler(a.Metrics, nil, a.svc.Logger))
	t.Cleanup(ms.Close)
	a.MetricsURL = ms.URL
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		a.svc.RefreshPending(ctx, every)
	}()
	t.Cleanup(func() { cancel(); <-done })
}

// runRelay runs the webhook relay, as every worker process does, until the test ends.
func (a *App) runRelay(t testing.TB) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		a.svc.RunRelay(ctx)
	}()
	t.Cleanup(func() { cancel(); <-done })
}

func (a *App) buildAPI(t testing.TB) http.Handler {
	t.Helper()
	api, err := a.svc.Server(a.Mailbox)
	if err != nil {
		t.Fatalf("apptest: server: %v", err)
	}
	if a.onServer != nil {
		a.onServer(api)
	}
	a.routes = api.Routes()
	return api.Handler()
}

// Routes lists the method and path of every route the running API registered, so
// tests that must cover every route (the authorization matrix) take the list from the
// router itself and a new route cannot be left out unnoticed.
func (a *App) Routes() gin.RoutesInfo {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append(gin.RoutesInfo(nil), a.routes...)
}

func (a *App) startWorker(t testing.TB) *worker.Workers {
	t.Helper()
	w, err := a.svc.Worker(a.acts)
	if err != nil {
		t.Fatalf("apptest: worker: %v", err)
	}
	return w
}

// stopWorker stops the current worker, if any; callers hold a.mu.
func (a *App) stopWorker() {
	if a.worker != nil {
		a.worker.Stop()
		a.worker = nil
	}
}

// Workflows is the client side of the workflows, as the API uses it.
func (a *App) Workflows() *workflows.Client { return a.svc.Workflows() }

// RestartWorker stops the app's worker, as a deploy or crash would, and starts a new
// one on the same client, task queue and activities. The new worker has an empty
// workflow cache, so open workflows continue by replaying their histories.
func (a *App) RestartWorker(t testing.TB) {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	a.stopWorker()
	a.worker = a.startWorker(t)
}

// RestartTemporalClients stops the worker, closes the Temporal client, dials a new one
// to the same server address and rebuilds the API and the worker on it, as a restarted
// process would after the Temporal server came back. App.Temporal is the new client
// afterwards.
func (a *App) RestartTemporalClients(t testing.TB) {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	a.stopWorker()
	if err := a.svc.Redial(context.Background()); err != nil {
		t.Fatalf("apptest: redial Temporal: %v", err)
	}
	a.Temporal = a.svc.Temporal()
	a.setHandler(a.buildAPI(t))
	a.worker = a.startWorker(t)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Org is a seeded organization with its keys.
type Org struct {
	ID            string
	AdminID       string
	AdminKey      string
	AutomationKey string
	File          *seed.File
}

// SeedOrg loads one organization built by build (members and shoots as the test needs),
// with fresh ids and keys, through the same loader as `retryd seed`.
func (a *App) SeedOrg(t testing.TB, credits int, members ...seed.Member) *Org {
	t.Helper()
	o := &Org{ID: uuid.NewString(), AdminID: uuid.NewString(), AdminKey: "rk_test_admin_" + randomHex(16), AutomationKey: "rk_test_auto_" + randomHex(17)}
	for i := range members {
		if members[i].ID == "" {
			members[i].ID = uuid.NewString()
		}
		for j := range members[i].Shoots {
			if members[i].Shoots[j].ID == "" {
				members[i].Shoots[j].ID = uuid.NewString()
			}
		}
	}
	o.File = &seed.File{Organizations: []seed.Organization{{
		ID: o.ID, Name: "Org " + o.ID[:8], CreditBalance: credits,
		Admins:         []seed.Admin{{ID: o.AdminID, Email: "lead-" + o.ID[:8] + "@example.test", Name: "Lee", Role: "owner", APIKey: o.AdminKey}},
		AutomationKeys: []string{o.AutomationKey},
		Members:        members,
	}}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := seed.Load(ctx, a.DB, o.File); err != nil {
		t.Fatalf("apptest: seed: %v", err)
	}
	return o
}

// Response is a decoded HTTP answer.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Decode reads a JSON answer as T. A member T does not know fails the test with its name,
// so an answer whose shape changed is told apart from one with a wrong value.
func Decode[T any](t testing.TB, r *Response) T {
	t.Helper()
	var v T
	dec := json.NewDecoder(bytes.NewReader(r.Body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("apptest: the answer (%d) is no %T: %v; body %s", r.Status, v, err, r.Body)
	}
	return v
}

// Scrape reads the private listener's GET /metrics, as Prometheus would.
func (a *App) Scrape(t testing.TB) string {
	t.Helper()
	resp, err := a.HTTP.Get(a.MetricsURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s/metrics: %d %s", a.MetricsURL, resp.StatusCode, b)
	}
	return string(b)
}

// Do sends a request with an optional bearer token and JSON body (a string is sent as is).
func (a *App) Do(t testing.TB, method, path, bearer string, body any, headers ...string) *Response {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, a.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := a.HTTP.Do(req)
	if err != nil {
		t.Fatalf("apptest: %s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	out := &Response{Status: resp.StatusCode, Header: resp.Header, Body: raw}
	if resp.Request != nil { // the last request, after any redirect
		req = resp.Request
	}
	a.validateResponse(t, req, out)
	return out
}

var tokenInLink = regexp.MustCompile(`https?://\S+?token=([A-Za-z0-9._%-]+)`)

// LinkToken finds the action link in a message's text body and returns its token.
func LinkToken(t testing.TB, text string) (link, token string) {
	t.Helper()
	m := tokenInLink.FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("apptest: no action link in email text:\n%s", text)
	}
	tok, err := url.QueryUnescape(m[1])
	if err != nil {
		t.Fatal(err)
	}
	return m[0], tok
}

// WaitFor polls cond until it holds or the timeout passes.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("apptest: timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Holds is the negative of WaitFor: it polls cond for the whole of d and fails the test as
// soon as cond stops holding, saying what should have held ("no second email"). A check
// that nothing happens can only ever look for a bounded time; d is that time.
func Holds(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(d); ; time.Sleep(20 * time.Millisecond) {
		if !cond() {
			t.Fatalf("apptest: want %s, but it stopped holding within %s", what, d)
		}
		if time.Now().After(deadline) {
			return
		}
	}
}

// Ptr returns a pointer to v (seed fields are optional pointers).
func Ptr[T any](v T) *T { return &v }

// LogBuffer collects logs written concurrently by the API, the worker and the SDK.
type LogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *LogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *LogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
