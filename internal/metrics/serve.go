package metrics

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// HealthTimeout bounds one /healthz check on the port Serve opens.
const HealthTimeout = 2 * time.Second

// ShutdownTimeout bounds how long Serve waits for in-flight scrapes once ctx ends.
const ShutdownTimeout = 5 * time.Second

// profileWriteTimeout is the port's write timeout. It is long because pprof refuses a
// CPU profile or trace longer than the server's write timeout, and a useful profile of
// a benchmark phase takes 30 s or more.
const profileWriteTimeout = 3 * time.Minute

// Serve runs a small HTTP server on addr for a process's private listener (serve's
// METRICS_ADDR, work's WORKER_METRICS_ADDR, both on loopback by default) with the
// routes of PrivateHandler. The listener must stay private: the metrics count every
// organization's work, and profiles show the program's internals. It returns once ctx
// ends and the server has shut down (nil), or at once when addr cannot be listened on.
func Serve(ctx context.Context, addr string, m *Metrics, healthy func(context.Context) error, logger *slog.Logger) error {
	if m == nil {
		return errors.New("metrics: Serve needs a *Metrics")
	}
	if logger == nil {
		logger = slog.Default()
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("metrics: listen on %s: %w", addr, err)
	}
	return serve(ctx, ln, m, healthy, logger)
}

func serve(ctx context.Context, ln net.Listener, m *Metrics, healthy func(context.Context) error, logger *slog.Logger) error {
	srv := &http.Server{
		Handler:           PrivateHandler(m, healthy, logger),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      profileWriteTimeout,
		IdleTimeout:       60 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	logger.Info("metrics server listening", "addr", ln.Addr().String())
	select {
	case err := <-errc:
		return fmt.Errorf("metrics: serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("metrics: shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("metrics: serve: %w", err)
	}
	return nil
}

// PrivateHandler is what a private listener serves: GET /metrics is m's registry, GET
// /healthz answers 200 {"status":"ok"} when healthy returns nil (a nil healthy always
// does) and 503 {"status":"unavailable"} otherwise, and /debug/pprof/ serves the Go
// runtime's profiles (net/http/pprof), so a running process can be profiled without
// a rebuild.
func PrivateHandler(m *Metrics, healthy func(context.Context) error, logger *slog.Logger) http.Handler {
	if logger == nil {
		logger = slog.Default()
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	// Registered on this mux by hand: importing net/http/pprof also registers them on
	// http.DefaultServeMux, which nothing in retryd serves.
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("POST /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		status, word := http.StatusOK, "ok"
		if healthy != nil {
			ctx, cancel := context.WithTimeout(r.Context(), HealthTimeout)
			defer cancel()
			if err := healthy(ctx); err != nil {
				logger.WarnContext(ctx, "health check failed", "error", err)
				status, word = http.StatusServiceUnavailable, "unavailable"
			}
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]string{"status": word})
	})
	return mux
}
