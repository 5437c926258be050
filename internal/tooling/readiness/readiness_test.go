package readiness

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// Wait keeps polling a server that is not ready yet and returns once its probe answers 200.
func TestWaitUntilReady(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) < 3 {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	err := Wait(t.Context(), 10*time.Second, "server", func(ctx context.Context) error { return GetOK(ctx, srv.URL) })
	if err != nil || calls.Load() != 3 {
		t.Fatalf("Wait = %v after %d probes; want nil after 3", err, calls.Load())
	}
}

// A server that never answers 200 makes Wait fail once d has passed, naming what was
// awaited and the probe's last error.
func TestWaitGivesUp(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusTeapot)
	}))
	defer srv.Close()
	err := Wait(t.Context(), 300*time.Millisecond, "the teapot", func(ctx context.Context) error { return GetOK(ctx, srv.URL) })
	if err == nil || !strings.Contains(err.Error(), "the teapot: not ready after 300ms") || !strings.Contains(err.Error(), "status 418") {
		t.Fatalf("Wait = %v; want it to name the teapot and status 418", err)
	}
}
