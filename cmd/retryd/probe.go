package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/headshotpro/retryd/internal/app"
)

// runProbe is the container healthcheck: the image has no shell or curl, so the binary
// checks its own endpoint. Exit 0 on a 2xx answer within 3 seconds.
func runProbe(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) != 1 {
		return usageError{errors.New("usage: retryd probe URL")}
	}
	u, err := url.Parse(args[0])
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return usageError{fmt.Errorf("probe: %q is not an http(s) URL", args[0])}
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return usageError{err}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return app.DependencyError{Err: fmt.Errorf("probe %s: %w", u.Redacted(), err)}
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("probe %s: status %d", u.Redacted(), resp.StatusCode)
	}
	fmt.Fprintln(stdout, "ok")
	return nil
}
