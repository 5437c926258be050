package metrics_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/headshotpro/retryd/internal/metrics"
	"github.com/headshotpro/retryd/internal/tooling/assert"
)

func scrape(t *testing.T, m *metrics.Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	assert.MustEqual(t, "rec.Code", rec.Code, http.StatusOK)
	return rec.Body.String()
}

func TestGinMiddleware(t *testing.T) {
	gin.SetMode(gin.TestMode)
	m := metrics.New()
	e := gin.New()
	e.HandleMethodNotAllowed = true
	e.Use(m.GinMiddleware())
	e.GET("/things/:id", func(c *gin.Context) { c.String(http.StatusOK, c.Param("id")) })
	e.POST("/things/:id", func(c *gin.Context) { c.Status(http.StatusConflict) })

	do := func(method, path string) int {
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
		return rec.Code
	}
	assert.MustEqual(t, `do(http.MethodGet, "/things/1")`, do(http.MethodGet, "/things/1"), http.StatusOK)
	assert.MustEqual(t, `do(http.MethodGet, "/things/2")`, do(http.MethodGet, "/things/2"), http.StatusOK)
	assert.MustEqual(t, `do(http.MethodPost, "/things/3")`, do(http.MethodPost, "/things/3"), http.StatusConflict)
	assert.MustEqual(t, `do(http.MethodGet, "/nowhere/secret-token-abc")`, do(http.MethodGet, "/nowhere/secret-token-abc"), http.StatusNotFound)
	assert.MustEqual(t, `do(http.MethodDelete, "/things/4")`, do(http.MethodDelete, "/things/4"), http.StatusMethodNotAllowed)
	assert.MustEqual(t, `do("BREW", "/coffee")`, do("BREW", "/coffee"), http.StatusNotFound)

	out := scrape(t, m)
	wantContains(t, out, `retryd_http_requests_total{method="GET",route="/things/:id",status="200"} 2`)
	wantContains(t, out, `retryd_http_requests_total{method="POST",route="/things/:id",status="409"} 1`)
	wantContains(t, out, `retryd_http_requests_total{method="GET",route="unmatched",status="404"} 1`)
	wantContains(t, out, `retryd_http_requests_total{method="DELETE",route="unmatched",status="405"} 1`)
	wantContains(t, out, `retryd_http_requests_total{method="OTHER",route="unmatched",status="404"} 1`)
	wantContains(t, out, `retryd_http_request_duration_seconds_count{method="GET",route="/things/:id",status="200"} 2`)
	wantContains(t, out, `retryd_http_request_duration_seconds_bucket{method="GET",route="/things/:id",status="200",le="+Inf"} 2`)
	wantContains(t, out, `# TYPE retryd_http_request_duration_seconds histogram`)
	// Raw paths and methods never become label values.
	wantLacks(t, out, "/things/1")
	wantLacks(t, out, "secret-token-abc")
	wantLacks(t, out, "BREW")
	// The runtime and process collectors are there too.
	wantContains(t, out, "go_goroutines ")
	wantContains(t, out, "process_")
}

func TestCounters(t *testing.T) {
	m := metrics.New()
	m.RetryIssued()
	m.RetryIssued()
	m.RetryRefused("retry_already_used")
	m.RetryRefused("retry_already_used")
	m.RetryRefused("shoot_not_finished")
	m.RetryStarted()
	m.RestartIssued()
	m.RestartRefused("restart_pending")
	m.RestartStarted()
	m.RestartStarted()
	m.EmailSent("retry")
	m.EmailSent("retry")
	m.EmailSent("restart")
	m.EmailFailed("retry_reminder")
	m.EmailProviderAuthFailure(401)
	m.EmailProviderAuthFailure(401)
	m.EmailProviderAuthFailure(403)
	m.EmailProviderAuthFailure(999) // not an auth status: bounded label

	out := scrape(t, m)
	for _, want := range []string{
		"retryd_retries_issued_total 2",
		`retryd_retries_refused_total{code="retry_already_used"} 2`,
		`retryd_retries_refused_total{code="shoot_not_finished"} 1`,
		"retryd_retries_started_total 1",
		"retryd_restarts_issued_total 1",
		`retryd_restarts_refused_total{code="restart_pending"} 1`,
		"retryd_restarts_started_total 2",
		`retryd_emails_sent_total{kind="retry"} 2`,
		`retryd_emails_sent_total{kind="restart"} 1`,
		`retryd_emails_failed_total{kind="retry_reminder"} 1`,
		`retryd_email_provider_auth_failures_total{status="401"} 2`,
		`retryd_email_provider_auth_failures_total{status="403"} 1`,
		`retryd_email_provider_auth_failures_total{status="other"} 1`,
		"retryd_pending_gauge_errors_total 0",
	} {
		wantContains(t, out, want+"\n")
	}
	// Nothing registered on the global default registry.
	wantLacks(t, scrapeDefault(t), "retryd_")
}

func scrapeDefault(t *testing.T) string {
	t.Helper()
	families, err := prometheus.DefaultGatherer.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range families {
		names = append(names, f.GetName())
	}
	return strings.Join(names, "\n")
}

func TestNilMetricsIsANoop(t *testing.T) {
	var m *metrics.Metrics
	m.RetryIssued()
	m.RetryRefused("x")
	m.RetryStarted()
	m.RestartIssued()
	m.RestartRefused("x")
	m.RestartStarted()
	m.EmailSent("x")
	m.EmailFailed("x")
	m.EmailProviderAuthFailure(401)
	m.AuthFailure(metrics.AuthThrottled)
	m.RefreshPending(context.Background(), time.Second, func(context.Context) (int, int, error) { return 1, 1, nil })
	if m.TemporalHandler() == nil {
		t.Fatalf("m.TemporalHandler() = %#v, want not nil", m.TemporalHandler())
	}
	if err := m.Close(); err != nil {
		t.Fatalf("m.Close(): %v", err)
	}

	gin.SetMode(gin.TestMode)
	e := gin.New()
	e.Use(m.GinMiddleware())
	e.GET("/", func(c *gin.Context) { c.Status(http.StatusNoContent) })
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	assert.MustEqual(t, "rec.Code", rec.Code, http.StatusNoContent)
}

// TestPendingGauge: the gauges report the refresher's last count, scrapes never call
// the counter, a failed count leaves the gauges out until a count succeeds, and the
// refresher stops with its context.
func TestPendingGauge(t *testing.T) {
	m := metrics.New()
	wantLacks(t, scrape(t, m), "retryd_pending_retries") // nothing counted yet

	var calls atomic.Int32
	var fail atomic.Bool
	var deadline atomic.Value
	deadline.Store(time.Duration(-1))
	count := func(ctx context.Context) (int, int, error) {
		calls.Add(1)
		if d, ok := ctx.Deadline(); ok {
			deadline.Store(time.Until(d))
		}
		if fail.Load() {
			return 0, 0, errors.New("postgres down")
		}
		return 3, 7, nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	// An interval no test waits out: the refresher counts once at start, and a failure
	// is driven through a second refresher.
	go func() { defer close(done); m.RefreshPending(ctx, time.Hour, count) }()
	waitFor(t, 5*time.Second, "the first count", func() bool { return strings.Contains(scrape(t, m), "retryd_pending_retries") })

	var out string
	for range 4 {
		out = scrape(t, m)
	}
	assert.Equal(t, "counts after five scrapes", calls.Load(), int32(1))
	wantContains(t, out, "retryd_pending_retries 3\n")
	wantContains(t, out, "retryd_pending_restarts 7\n")
	wantContains(t, out, "retryd_pending_gauge_errors_total 0\n")
	if left := deadline.Load().(time.Duration); !(left > 0 && left <= metrics.PendingTimeout) {
		t.Errorf("deadline %s", left)
	}
	cancel()
	<-done

	// A failed count: the gauges are left out, not stale, and the failure is counted.
	fail.Store(true)
	ctx, cancel = context.WithCancel(context.Background())
	done = make(chan struct{})
	go func() { defer close(done); m.RefreshPending(ctx, time.Hour, count) }()
	waitFor(t, 5*time.Second, "the failed count", func() bool { return !strings.Contains(scrape(t, m), "retryd_pending_retries") })
	out = scrape(t, m)
	wantLacks(t, out, "retryd_pending_retries")
	wantLacks(t, out, "retryd_pending_restarts")
	wantContains(t, out, "retryd_pending_gauge_errors_total 1\n")
	cancel()
	<-done

	// A refresher stopped while counting does not count the stop as a failure.
	ctx, cancel = context.WithCancel(context.Background())
	cancel()
	m.RefreshPending(ctx, time.Hour, func(ctx context.Context) (int, int, error) { return 0, 0, ctx.Err() })
	wantContains(t, scrape(t, m), "retryd_pending_gauge_errors_total 1\n")

	// The registry gathers cleanly (the collector only sends what it describes).
	if _, err := m.Registry().Gather(); err != nil {
		t.Fatal(err)
	}
}

// TestAuthFailures: every reason's series exists from the start, and a reason outside
// the fixed set is counted as "other", so no label value comes from a request.
func TestAuthFailures(t *testing.T) {
	m := metrics.New()
	out := scrape(t, m)
	for _, r := range []string{metrics.AuthMissing, metrics.AuthUnknownKey, metrics.AuthUnknownCached, metrics.AuthThrottled} {
		wantContains(t, out, `retryd_auth_failures_total{reason="`+r+`"} 0`+"\n")
	}
	m.AuthFailure(metrics.AuthThrottled)
	m.AuthFailure("rk_leaked_key_material")
	out = scrape(t, m)
	wantContains(t, out, `retryd_auth_failures_total{reason="throttled"} 1`+"\n")
	wantContains(t, out, `retryd_auth_failures_total{reason="other"} 1`+"\n")
	wantLacks(t, out, "rk_leaked")
}

// blockingCollector holds every scrape in Collect until release is closed.
type blockingCollector struct {
	desc    *prometheus.Desc
	entered chan struct{}
	release chan struct{}
}

func (b *blockingCollector) Describe(ch chan<- *prometheus.Desc) { ch <- b.desc }

func (b *blockingCollector) Collect(ch chan<- prometheus.Metric) {
	b.entered <- struct{}{}
	<-b.release
	ch <- prometheus.MustNewConstMetric(b.desc, prometheus.GaugeValue, 1)
}

// TestScrapesInFlightAreCapped: scrapes beyond MaxScrapesInFlight are answered 503 at
// once instead of piling up gathers.
func TestScrapesInFlightAreCapped(t *testing.T) {
	m := metrics.New()
	b := &blockingCollector{desc: prometheus.NewDesc("test_blocking", "Blocks scrapes.", nil, nil),
		entered: make(chan struct{}, metrics.MaxScrapesInFlight), release: make(chan struct{})}
	m.Registry().MustRegister(b)
	codes := make(chan int, metrics.MaxScrapesInFlight)
	for range metrics.MaxScrapesInFlight {
		go func() {
			rec := httptest.NewRecorder()
			m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
			codes <- rec.Code
		}()
	}
	for range metrics.MaxScrapesInFlight {
		<-b.entered
	}
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	assert.Equal(t, "a scrape beyond the cap", rec.Code, http.StatusServiceUnavailable)
	close(b.release)
	for range metrics.MaxScrapesInFlight {
		assert.Equal(t, "a scrape within the cap", <-codes, http.StatusOK)
	}
}

func TestTemporalHandler(t *testing.T) {
	m := metrics.New()
	h := m.TemporalHandler()
	assert.MustEqual(t, "one handler per process", m.TemporalHandler(), h)
	h.Counter("temporal_test_counter").Inc(1)
	h.WithTags(map[string]string{"task_queue": "retryd-test", "namespace": "default"}).Counter("temporal_tagged_counter").Inc(2)
	h.Gauge("temporal_test_gauge").Update(4)
	h.Timer("temporal_test_latency").Record(150 * time.Millisecond)
	if err := m.Close(); err != nil {
		t.Fatalf("m.Close(): %v", err)
	}
	if err := m.Close(); err != nil {
		t.Fatalf("Close twice is fine: %v", err)
	}

	out := scrape(t, m)
	wantContains(t, out, "temporal_test_counter_total 1\n")
	wantContains(t, out, `temporal_tagged_counter_total{namespace="default",task_queue="retryd_test"} 2`)
	wantContains(t, out, "temporal_test_gauge 4\n")
	wantContains(t, out, "# TYPE temporal_test_latency_seconds histogram")
	wantContains(t, out, "temporal_test_latency_seconds_count 1\n")
	// retryd's own metrics sit in the same registry.
	wantContains(t, out, "retryd_retries_issued_total 0\n")
}

func TestTemporalHandlerReportsOnInterval(t *testing.T) {
	m := metrics.New()
	t.Cleanup(func() { _ = m.Close() })
	m.TemporalHandler().Counter("temporal_interval_counter").Inc(5)
	waitFor(t, 5*time.Second, "the counter reported on its interval", func() bool {
		return strings.Contains(scrape(t, m), "temporal_interval_counter_total 5\n")
	})
}

func TestTemporalHandlerNameClashDoesNotPanic(t *testing.T) {
	m := metrics.New()
	h := m.TemporalHandler()
	// The same name with two different tag key sets cannot be one Prometheus family.
	h.WithTags(map[string]string{"a": "1"}).Counter("temporal_clash").Inc(1)
	h.WithTags(map[string]string{"b": "1"}).Counter("temporal_clash").Inc(1)
	if err := m.Close(); err != nil {
		t.Fatalf("m.Close(): %v", err)
	}
	out := scrape(t, m)
	wantContains(t, out, "retryd_temporal_metric_register_errors_total 1\n")
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatalf("ln.Close(): %v", err)
	}
	return addr
}

func TestServe(t *testing.T) {
	m := metrics.New()
	m.RetryIssued()
	var unhealthy atomic.Bool
	healthy := func(ctx context.Context) error {
		if _, ok := ctx.Deadline(); !ok {
			return errors.New("no deadline")
		}
		if unhealthy.Load() {
			return fmt.Errorf("temporal unreachable")
		}
		return nil
	}
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	go func() { done <- metrics.Serve(ctx, addr, m, healthy, logger) }()

	base := "http://" + addr
	get := func(path string) (int, string, string) {
		resp, err := http.Get(base + path)
		if err != nil {
			return 0, "", err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
	}
	waitFor(t, 5*time.Second, "GET /healthz answers 200", func() bool { code, _, _ := get("/healthz"); return code == http.StatusOK })

	code, ctype, body := get("/healthz")
	assert.Equal(t, "GET /healthz status", code, http.StatusOK)
	assert.Equal(t, "GET /healthz Content-Type", ctype, "application/json")
	assert.Equal(t, "GET /healthz body", decodeHealth(t, body), health{Status: "ok"})

	code, _, body = get("/metrics")
	assert.Equal(t, "GET /metrics status", code, http.StatusOK)
	wantContains(t, body, "retryd_retries_issued_total 1\n")

	unhealthy.Store(true)
	code, _, body = get("/healthz")
	assert.Equal(t, "GET /healthz status when unhealthy", code, http.StatusServiceUnavailable)
	assert.Equal(t, "GET /healthz body when unhealthy", decodeHealth(t, body), health{Status: "unavailable"})

	code, _, _ = get("/elsewhere")
	assert.Equal(t, "GET /elsewhere status", code, http.StatusNotFound)

	// The profiles a benchmark run takes: the index, a heap profile and a short CPU
	// profile (seconds=1 keeps the test quick; the write timeout allows minutes).
	code, _, body = get("/debug/pprof/")
	assert.Equal(t, "GET /debug/pprof/ status", code, http.StatusOK)
	wantContains(t, body, "goroutine")
	code, ctype, body = get("/debug/pprof/heap")
	assert.Equal(t, "GET /debug/pprof/heap status", code, http.StatusOK)
	assert.Equal(t, "GET /debug/pprof/heap Content-Type", ctype, "application/octet-stream")
	if body == "" {
		t.Errorf("GET /debug/pprof/heap: empty profile")
	}
	code, _, body = get("/debug/pprof/profile?seconds=1")
	assert.Equal(t, "GET /debug/pprof/profile status", code, http.StatusOK)
	if body == "" {
		t.Errorf("GET /debug/pprof/profile: empty profile")
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after cancel")
	}
	_, err := http.Get(base + "/healthz")
	if err == nil {
		t.Fatalf("the port is closed after shutdown = nil, want an error")
	}
}

func TestServeListenError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	err = metrics.Serve(context.Background(), ln.Addr().String(), metrics.New(), nil, nil)
	if err == nil {
		t.Fatalf("err = nil, want an error")
	}
	if metrics.Serve(context.Background(), "127.0.0.1:0", nil, nil, nil) == nil {
		t.Fatalf("%s = nil, want an error", "metrics.Serve(context.Background(), \"127.0.0.1:0\", nil, nil, nil)")
	}
}

// health is the body of /healthz.
type health struct {
	Status string `json:"status"`
}

func decodeHealth(t *testing.T, body string) health {
	t.Helper()
	var h health
	dec := json.NewDecoder(strings.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&h); err != nil {
		t.Fatalf("decode /healthz body %q: %v", body, err)
	}
	return h
}

// waitFor polls cond until it holds, and fails the test with what it waited for once
// timeout has passed.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(timeout); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for: %s", timeout, what)
		}
	}
}

// wantContains reports each of subs that body lacks.
func wantContains(t testing.TB, body string, subs ...string) {
	t.Helper()
	for _, sub := range subs {
		if !strings.Contains(body, sub) {
			t.Errorf("scrape lacks %q", sub)
		}
	}
}

// wantLacks reports each of subs that body holds.
func wantLacks(t testing.TB, body string, subs ...string) {
	t.Helper()
	for _, sub := range subs {
		if strings.Contains(body, sub) {
			t.Errorf("scrape holds %q", sub)
		}
	}
}
