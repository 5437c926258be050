package metrics_test

import (
	"context"
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
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/headshotpro/retryd/internal/metrics"
)

func scrape(t *testing.T, m *metrics.Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	require.Equal(t, http.StatusOK, rec.Code)
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
	require.Equal(t, http.StatusOK, do(http.MethodGet, "/things/1"))
	require.Equal(t, http.StatusOK, do(http.MethodGet, "/things/2"))
	require.Equal(t, http.StatusConflict, do(http.MethodPost, "/things/3"))
	require.Equal(t, http.StatusNotFound, do(http.MethodGet, "/nowhere/secret-token-abc"))
	require.Equal(t, http.StatusMethodNotAllowed, do(http.MethodDelete, "/things/4"))
	require.Equal(t, http.StatusNotFound, do("BREW", "/coffee"))

	out := scrape(t, m)
	assert.Contains(t, out, `retryd_http_requests_total{method="GET",route="/things/:id",status="200"} 2`)
	assert.Contains(t, out, `retryd_http_requests_total{method="POST",route="/things/:id",status="409"} 1`)
	assert.Contains(t, out, `retryd_http_requests_total{method="GET",route="unmatched",status="404"} 1`)
	assert.Contains(t, out, `retryd_http_requests_total{method="DELETE",route="unmatched",status="405"} 1`)
	assert.Contains(t, out, `retryd_http_requests_total{method="OTHER",route="unmatched",status="404"} 1`)
	assert.Contains(t, out, `retryd_http_request_duration_seconds_count{method="GET",route="/things/:id",status="200"} 2`)
	assert.Contains(t, out, `retryd_http_request_duration_seconds_bucket{method="GET",route="/things/:id",status="200",le="+Inf"} 2`)
	assert.Contains(t, out, `# TYPE retryd_http_request_duration_seconds histogram`)
	// Raw paths and methods never become label values.
	assert.NotContains(t, out, "/things/1")
	assert.NotContains(t, out, "secret-token-abc")
	assert.NotContains(t, out, "BREW")
	// The runtime and process collectors are there too.
	assert.Contains(t, out, "go_goroutines ")
	assert.Contains(t, out, "process_")
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
		assert.Contains(t, out, want+"\n")
	}
	// Nothing registered on the global default registry.
	assert.NotContains(t, scrapeDefault(t), "retryd_")
}

func scrapeDefault(t *testing.T) string {
	t.Helper()
	families, err := prometheus.DefaultGatherer.Gather()
	require.NoError(t, err)
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
	m.RegisterPendingGauge(nil)
	require.NotNil(t, m.TemporalHandler())
	require.NoError(t, m.Close())

	gin.SetMode(gin.TestMode)
	e := gin.New()
	e.Use(m.GinMiddleware())
	e.GET("/", func(c *gin.Context) { c.Status(http.StatusNoContent) })
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	require.Equal(t, http.StatusNoContent, rec.Code)
}

func TestPendingGauge(t *testing.T) {
	m := metrics.New()
	var calls atomic.Int32
	var fail atomic.Bool
	var deadline atomic.Value
	deadline.Store(time.Duration(-1))
	m.RegisterPendingGauge(func(ctx context.Context) (int, int, error) {
		calls.Add(1)
		if d, ok := ctx.Deadline(); ok {
			deadline.Store(time.Until(d))
		}
		if fail.Load() {
			return 0, 0, errors.New("postgres down")
		}
		return 3, 7, nil
	})

	out := scrape(t, m)
	assert.Equal(t, int32(1), calls.Load())
	assert.Contains(t, out, "retryd_pending_retries 3\n")
	assert.Contains(t, out, "retryd_pending_restarts 7\n")
	assert.Contains(t, out, "retryd_pending_gauge_errors_total 0\n")
	left := deadline.Load().(time.Duration)
	assert.True(t, left > 0 && left <= metrics.PendingTimeout, "deadline %s", left)

	fail.Store(true)
	out = scrape(t, m)
	assert.Equal(t, int32(2), calls.Load())
	assert.NotContains(t, out, "retryd_pending_retries")
	assert.NotContains(t, out, "retryd_pending_restarts")
	assert.Contains(t, out, "retryd_pending_gauge_errors_total 1\n")

	// A second registration replaces the function instead of panicking.
	fail.Store(false)
	m.RegisterPendingGauge(func(context.Context) (int, int, error) { return 1, 0, nil })
	out = scrape(t, m)
	assert.Contains(t, out, "retryd_pending_retries 1\n")
	assert.Contains(t, out, "retryd_pending_restarts 0\n")

	// The registry gathers cleanly (the collector only sends what it describes).
	_, err := m.Registry().Gather()
	require.NoError(t, err)
}

func TestTemporalHandler(t *testing.T) {
	m := metrics.New()
	h := m.TemporalHandler()
	require.Equal(t, h, m.TemporalHandler(), "one handler per process")
	h.Counter("temporal_test_counter").Inc(1)
	h.WithTags(map[string]string{"task_queue": "retryd-test", "namespace": "default"}).Counter("temporal_tagged_counter").Inc(2)
	h.Gauge("temporal_test_gauge").Update(4)
	h.Timer("temporal_test_latency").Record(150 * time.Millisecond)
	require.NoError(t, m.Close())
	require.NoError(t, m.Close(), "Close twice is fine")

	out := scrape(t, m)
	assert.Contains(t, out, "temporal_test_counter_total 1\n")
	assert.Contains(t, out, `temporal_tagged_counter_total{namespace="default",task_queue="retryd_test"} 2`)
	assert.Contains(t, out, "temporal_test_gauge 4\n")
	assert.Contains(t, out, "# TYPE temporal_test_latency_seconds histogram")
	assert.Contains(t, out, "temporal_test_latency_seconds_count 1\n")
	// retryd's own metrics sit in the same registry.
	assert.Contains(t, out, "retryd_retries_issued_total 0\n")
}

func TestTemporalHandlerReportsOnInterval(t *testing.T) {
	m := metrics.New()
	t.Cleanup(func() { _ = m.Close() })
	m.TemporalHandler().Counter("temporal_interval_counter").Inc(5)
	require.Eventually(t, func() bool {
		return strings.Contains(scrape(t, m), "temporal_interval_counter_total 5\n")
	}, 5*time.Second, 50*time.Millisecond)
}

func TestTemporalHandlerNameClashDoesNotPanic(t *testing.T) {
	m := metrics.New()
	h := m.TemporalHandler()
	// The same name with two different tag key sets cannot be one Prometheus family.
	h.WithTags(map[string]string{"a": "1"}).Counter("temporal_clash").Inc(1)
	h.WithTags(map[string]string{"b": "1"}).Counter("temporal_clash").Inc(1)
	require.NoError(t, m.Close())
	out := scrape(t, m)
	assert.Contains(t, out, "retryd_temporal_metric_register_errors_total 1\n")
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
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
	require.Eventually(t, func() bool { code, _, _ := get("/healthz"); return code == http.StatusOK }, 5*time.Second, 20*time.Millisecond)

	code, ctype, body := get("/healthz")
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, "application/json", ctype)
	assert.JSONEq(t, `{"status":"ok"}`, body)

	code, _, body = get("/metrics")
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, "retryd_retries_issued_total 1\n")

	unhealthy.Store(true)
	code, _, body = get("/healthz")
	assert.Equal(t, http.StatusServiceUnavailable, code)
	assert.JSONEq(t, `{"status":"unavailable"}`, body)

	code, _, _ = get("/elsewhere")
	assert.Equal(t, http.StatusNotFound, code)

	// The profiles a benchmark run takes: the index, a heap profile and a short CPU
	// profile (seconds=1 keeps the test quick; the write timeout allows minutes).
	code, _, body = get("/debug/pprof/")
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, "goroutine")
	code, ctype, body = get("/debug/pprof/heap")
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, "application/octet-stream", ctype)
	assert.NotEmpty(t, body)
	code, _, body = get("/debug/pprof/profile?seconds=1")
	assert.Equal(t, http.StatusOK, code, body)
	assert.NotEmpty(t, body)

	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after cancel")
	}
	_, err := http.Get(base + "/healthz")
	require.Error(t, err, "the port is closed after shutdown")
}

func TestServeListenError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	err = metrics.Serve(context.Background(), ln.Addr().String(), metrics.New(), nil, nil)
	require.Error(t, err)
	require.Error(t, metrics.Serve(context.Background(), "127.0.0.1:0", nil, nil, nil))
}
