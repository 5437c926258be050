// Package metrics is retryd's Prometheus instrumentation: one registry per process
// holding the Go runtime and process collectors, the HTTP request metrics of the API,
// the retry, restart and email counters, the pending-work gauges kept by a periodic
// count, and the Temporal SDK's own metrics through a tally scope reporting into the
// same registry, so a single GET /metrics shows everything the process knows. It is
// served on a private listener of its own (Serve), never on the API's port.
package metrics

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/uber-go/tally/v4"
	tallyprom "github.com/uber-go/tally/v4/prometheus"
	"go.temporal.io/sdk/client"
	sdktally "go.temporal.io/sdk/contrib/tally"
)

// Namespace prefixes every metric retryd defines itself (Temporal's own start with
// temporal_).
const Namespace = "retryd"

// PendingTimeout bounds one count behind the pending gauges.
const PendingTimeout = 5 * time.Second

// DefaultPendingRefresh is how often a serving process counts pending work for the
// pending gauges: a scrape reads the last count and never reaches the database.
const DefaultPendingRefresh = 15 * time.Second

// MaxScrapesInFlight caps concurrent scrapes; more answer 503 at once. Prometheus
// scrapes one at a time, so the cap only bites on a flood.
const MaxScrapesInFlight = 4

// DefaultReportInterval is how often the tally scope behind TemporalHandler copies the
// SDK's metrics into the Prometheus registry.
const DefaultReportInterval = time.Second

// UnmatchedRoute is the route label of requests no route matched (404, 405), so the
// raw path never becomes a label value.
const UnmatchedRoute = "unmatched"

// Metrics is one process's metrics. Its methods are safe for concurrent use; a nil
// *Metrics records nothing, so callers may leave it out (tests, tools).
type Metrics struct {
	reg     *prometheus.Registry
	handler http.Handler

	httpRequests *prometheus.CounterVec
	httpDuration *prometheus.HistogramVec

	retriesIssued   prometheus.Counter
	retriesRefused  *prometheus.CounterVec
	retriesStarted  prometheus.Counter
	restartsIssued  prometheus.Counter
	restartsRefused *prometheus.CounterVec
	restartsStarted prometheus.Counter
	emailsSent      *prometheus.CounterVec
	emailsFailed    *prometheus.CounterVec
	emailAuthFails  *prometheus.CounterVec
	authFailures    *prometheus.CounterVec

	pending  *pendingCollector
	webhooks *webhookMetrics

	tallyRegisterErrors prometheus.Counter
	reportInterval      time.Duration
	temporalOnce        sync.Once
	temporalHandler     client.MetricsHandler
	tallyCloser         interface{ Close() error }
	closeOnce           sync.Once
	closeErr            error
}

// New builds a process's metrics on a registry of its own (never Prometheus's global
// default one), with the Go runtime and process collectors registered.
func New() *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{reg: reg, reportInterval: DefaultReportInterval}
	f := func(c prometheus.Collector) prometheus.Collector { reg.MustRegister(c); return c }

	f(collectors.NewGoCollector())
	f(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	m.httpRequests = f(prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "http_requests_total",
		Help: "HTTP requests answered, by method, route template and status code.",
	}, []string{"method", "route", "status"})).(*prometheus.CounterVec)
	m.httpDuration = f(prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: Namespace, Name: "http_request_duration_seconds",
		Help:    "Time to answer an HTTP request, by method, route template and status code.",
		Buckets: prometheus.DefBuckets,
	}, []string{"method", "route", "status"})).(*prometheus.HistogramVec)

	counter := func(name, help string) prometheus.Counter {
		return f(prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Name: name, Help: help})).(prometheus.Counter)
	}
	counterVec := func(name, help string, labels ...string) *prometheus.CounterVec {
		return f(prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: name, Help: help}, labels)).(*prometheus.CounterVec)
	}
	m.retriesIssued = counter("retries_issued_total", "Retry requests accepted by the API.")
	m.retriesRefused = counterVec("retries_refused_total", "Retry requests refused, by problem code.", "code")
	m.retriesStarted = counter("retries_started_total", "Retries a member started.")
	m.restartsIssued = counter("restarts_issued_total", "Restart requests accepted by the API.")
	m.restartsRefused = counterVec("restarts_refused_total", "Restart requests refused, by problem code.", "code")
	m.restartsStarted = counter("restarts_started_total", "Restarts a member started.")
	m.emailsSent = counterVec("emails_sent_total", "Emails the provider accepted, by kind.", "kind")
	m.emailsFailed = counterVec("emails_failed_total", "Email send attempts that failed, by kind.", "kind")
	m.emailAuthFails = counterVec("email_provider_auth_failures_total",
		"Email send attempts the provider refused with 401 or 403 (API key or account broken; alert on any increase).", "status")

	m.authFailures = counterVec("auth_failures_total",
		"API keys refused, by reason: missing (no bearer), unknown_key (looked up, unknown or revoked), unknown_key_cached (the same wrong key again, refused from memory), throttled (429 before any lookup).", "reason")
	for _, r := range authFailureReasons {
		m.authFailures.WithLabelValues(r) // every series exists from the start, at 0
	}

	m.pending = &pendingCollector{
		retries: prometheus.NewDesc(prometheus.BuildFQName(Namespace, "", "pending_retries"),
			"Retries issued and not yet started, expired or cancelled, counted in the database: every API replica reports the same figure, so aggregate with max, not sum.", nil, nil),
		restarts: prometheus.NewDesc(prometheus.BuildFQName(Namespace, "", "pending_restarts"),
			"Restarts issued and not yet started, expired or cancelled, counted in the database: every API replica reports the same figure, so aggregate with max, not sum.", nil, nil),
		errors: prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Name: "pending_gauge_errors_total",
			Help: "Pending counts that failed (the pending gauges are left out until a count succeeds)."}),
	}
	m.webhooks = newWebhookMetrics(reg)
	// Until RefreshPending's first count, it reports only the error counter.
	reg.MustRegister(m.pending)
	m.tallyRegisterErrors = counter("temporal_metric_register_errors_total",
		"Temporal SDK metrics the tally reporter could not register (name clash); they are dropped.")

	m.handler = promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		Registry:            reg, // promhttp_metric_handler_errors_total
		ErrorHandling:       promhttp.ContinueOnError,
		Timeout:             10 * time.Second,
		MaxRequestsInFlight: MaxScrapesInFlight,
		EnableOpenMetrics:   false,
	})
	return m
}

// Registry is the process's registry, for registering further collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler { return m.handler }

// GinMiddleware counts and times every request. The route label is the matched route
// template (c.FullPath(), e.g. "/api/v1/admin/members/:id") or "unmatched", and the
// method is one of the standard ones or "OTHER": no label takes a client's raw input,
// so cardinality stays bounded. Register it with engine.Use before adding routes.
func (m *Metrics) GinMiddleware() gin.HandlerFunc {
	return func(c *gin.Context) {
		if m == nil {
			c.Next()
			return
		}
		start := time.Now()
		c.Next()
		route := c.FullPath()
		if route == "" {
			route = UnmatchedRoute
		}
		labels := prometheus.Labels{
			"method": methodLabel(c.Request.Method),
			"route":  route,
			"status": strconv.Itoa(c.Writer.Status()),
		}
		m.httpRequests.With(labels).Inc()
		m.httpDuration.With(labels).Observe(time.Since(start).Seconds())
	}
}

func methodLabel(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return method
	}
	return "OTHER"
}

// RetryIssued counts a retry the API accepted.
func (m *Metrics) RetryIssued() {
	if m != nil {
		m.retriesIssued.Inc()
	}
}

// RetryRefused counts a retry the API refused; code is the problem code
// (a small fixed set, never free text).
func (m *Metrics) RetryRefused(code string) {
	if m != nil {
		m.retriesRefused.WithLabelValues(code).Inc()
	}
}

// RetryStarted counts a retry a member started.
func (m *Metrics) RetryStarted() {
	if m != nil {
		m.retriesStarted.Inc()
	}
}

// RestartIssued counts a restart the API accepted.
func (m *Metrics) RestartIssued() {
	if m != nil {
		m.restartsIssued.Inc()
	}
}

// RestartRefused counts a restart the API refused, by problem code.
func (m *Metrics) RestartRefused(code string) {
	if m != nil {
		m.restartsRefused.WithLabelValues(code).Inc()
	}
}

// RestartStarted counts a restart a member started.
func (m *Metrics) RestartStarted() {
	if m != nil {
		m.restartsStarted.Inc()
	}
}

// EmailSent counts an email the provider accepted; kind is the email kind
// (e.g. "retry", "retry_reminder", "restart").
func (m *Metrics) EmailSent(kind string) {
	if m != nil {
		m.emailsSent.WithLabelValues(kind).Inc()
	}
}

// EmailFailed counts a failed send attempt of an email of that kind.
func (m *Metrics) EmailFailed(kind string) {
	if m != nil {
		m.emailsFailed.WithLabelValues(kind).Inc()
	}
}

// EmailProviderAuthFailure counts a send the provider refused with 401 or 403, a
// broken key or account that an operator must fix. The status label holds only
// those codes (anything else is counted as "other"), so its values stay bounded.
func (m *Metrics) EmailProviderAuthFailure(status int) {
	if m == nil {
		return
	}
	label := "other"
	if status == http.StatusUnauthorized || status == http.StatusForbidden {
		label = strconv.Itoa(status)
	}
	m.emailAuthFails.WithLabelValues(label).Inc()
}

// The reasons of retryd_auth_failures_total.
const (
	AuthMissing       = "missing"            // no bearer key at all
	AuthUnknownKey    = "unknown_key"        // looked up: no live key has this hash
	AuthUnknownCached = "unknown_key_cached" // a key refused moments ago, refused from memory
	AuthThrottled     = "throttled"          // too many failures from the address or under the prefix
)

var authFailureReasons = []string{AuthMissing, AuthUnknownKey, AuthUnknownCached, AuthThrottled}

// AuthFailure counts a refused API key. reason is one of the Auth* reasons (anything
// else is counted as "other"), so no label ever holds key material.
func (m *Metrics) AuthFailure(reason string) {
	if m == nil {
		return
	}
	switch reason {
	case AuthMissing, AuthUnknownKey, AuthUnknownCached, AuthThrottled:
	default:
		reason = "other"
	}
	m.authFailures.WithLabelValues(reason).Inc()
}

// PendingCounter answers how many retries and restarts are pending right now.
type PendingCounter func(ctx context.Context) (retries, restarts int, err error)

// RefreshPending keeps retryd_pending_retries and retryd_pending_restarts: it counts
// with count at once and then every interval (DefaultPendingRefresh when not positive),
// each count under a PendingTimeout deadline, until ctx ends. A scrape reports the last
// count and runs no query, so scrapes cost the database nothing however often they
// come. When a count fails, the gauges are left out (rather than a stale or zero value)
// until one succeeds, and retryd_pending_gauge_errors_total goes up. The process that
// serves the metrics owns the goroutine running it and waits for it on shutdown.
func (m *Metrics) RefreshPending(ctx context.Context, interval time.Duration, count PendingCounter) {
	if m == nil || count == nil {
		return
	}
	if interval <= 0 {
		interval = DefaultPendingRefresh
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		m.pending.refresh(ctx, count)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

type pendingCollector struct {
	retries, restarts *prometheus.Desc
	errors            prometheus.Counter

	mu                  sync.RWMutex
	counted             bool // the last count succeeded
	nRetries, nRestarts int
}

func (p *pendingCollector) refresh(ctx context.Context, count PendingCounter) {
	cctx, cancel := context.WithTimeout(ctx, PendingTimeout)
	retries, restarts, err := count(cctx)
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return // the process is stopping: not a failed count
		}
		p.errors.Inc()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.counted, p.nRetries, p.nRestarts = err == nil, retries, restarts
}

func (p *pendingCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- p.retries
	ch <- p.restarts
	p.errors.Describe(ch)
}

func (p *pendingCollector) Collect(ch chan<- prometheus.Metric) {
	p.errors.Collect(ch)
	p.mu.RLock()
	counted, retries, restarts := p.counted, p.nRetries, p.nRestarts
	p.mu.RUnlock()
	if !counted {
		return
	}
	ch <- prometheus.MustNewConstMetric(p.retries, prometheus.GaugeValue, float64(retries))
	ch <- prometheus.MustNewConstMetric(p.restarts, prometheus.GaugeValue, float64(restarts))
}

// TemporalHandler is the Temporal SDK metrics handler to pass as
// client.Options.MetricsHandler: a tally scope with Prometheus naming (counters end in
// _total, timers in _seconds and are histograms) whose reporter registers into this
// registry, so the SDK's temporal_* metrics appear on the same /metrics. The scope
// copies values into the registry every DefaultReportInterval, and once more on Close.
// Every call returns the same handler.
func (m *Metrics) TemporalHandler() client.MetricsHandler {
	if m == nil {
		return client.MetricsNopHandler
	}
	m.temporalOnce.Do(func() {
		reporter := tallyprom.NewReporter(tallyprom.Options{
			Registerer:       m.reg,
			DefaultTimerType: tallyprom.HistogramTimerType,
			// The default panics; a metric the SDK names inconsistently must not take
			// the worker down, so it is dropped, logged and counted instead.
			OnRegisterError: func(err error) {
				m.tallyRegisterErrors.Inc()
				slog.Default().Warn("temporal metric not registered", "error", err)
			},
		})
		scope, closer := tally.NewRootScope(tally.ScopeOptions{
			CachedReporter:  reporter,
			Separator:       tallyprom.DefaultSeparator,
			SanitizeOptions: &sdktally.PrometheusSanitizeOptions,
		}, m.reportInterval)
		m.tallyCloser = closer
		m.temporalHandler = sdktally.NewMetricsHandler(sdktally.NewPrometheusNamingScope(scope))
	})
	return m.temporalHandler
}

// Close stops the tally scope behind TemporalHandler after one last report into the
// registry. Call it after the worker and client are stopped; it is safe to call more
// than once and when TemporalHandler was never called.
func (m *Metrics) Close() error {
	if m == nil {
		return nil
	}
	m.closeOnce.Do(func() {
		// Holding temporalOnce keeps a concurrent first TemporalHandler from creating a
		// scope after Close looked.
		m.temporalOnce.Do(func() { m.temporalHandler = client.MetricsNopHandler })
		if m.tallyCloser != nil {
			m.closeErr = m.tallyCloser.Close()
		}
	})
	return m.closeErr
}
