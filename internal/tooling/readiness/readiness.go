// Package readiness waits for the servers a harness starts to answer: a poll with a
// deadline, a Temporal frontend's health check and an HTTP probe that must answer 200.
package readiness

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
)

// Wait polls f, each try bounded to 5 s, until it succeeds or d passes; the error names
// what was awaited and f's last error.
func Wait(ctx context.Context, d time.Duration, what string, f func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var last error
	for {
		cctx, ccancel := context.WithTimeout(ctx, 5*time.Second)
		last = f(cctx)
		ccancel()
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: not ready after %s: %v", what, d, last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// WaitTemporal waits until the Temporal frontend at hostPort answers a health check.
func WaitTemporal(ctx context.Context, hostPort string, d time.Duration) error {
	return Wait(ctx, d, "temporal health", func(ctx context.Context) error {
		// A fresh client each try: dialing fails at once while the server boots.
		tc, err := client.DialContext(ctx, client.Options{HostPort: hostPort,
			Logger: tlog.NewStructuredLogger(slog.New(slog.DiscardHandler))})
		if err != nil {
			return err
		}
		defer tc.Close()
		_, err = tc.CheckHealth(ctx, &client.CheckHealthRequest{})
		return err
	})
}

// GetOK is one GET that must answer 200 (a health or readiness probe).
func GetOK(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}
