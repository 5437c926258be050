package procs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"

	"github.com/headshotpro/retryd/internal/store"
)

// WaitTemporal waits until the Temporal frontend at hostPort answers a health check.
func WaitTemporal(ctx context.Context, hostPort string, d time.Duration) error {
	return WaitFor(ctx, d, "temporal health", func(ctx context.Context) error {
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

// CreateDatabase creates database name through adminURL, retrying for a minute while the
// server comes up.
func CreateDatabase(ctx context.Context, adminURL, name string) error {
	return WaitFor(ctx, time.Minute, "create database "+name, func(ctx context.Context) error {
		db, err := store.Open(ctx, adminURL)
		if err != nil {
			return err
		}
		defer db.Close()
		_, err = db.ExecContext(ctx, "CREATE DATABASE "+name)
		return err
	})
}

// DropDatabase drops database name, closing its sessions first.
func DropDatabase(ctx context.Context, adminURL, name string) error {
	db, err := store.Open(ctx, adminURL)
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	return err
}

// RandomHex is n random bytes in hex: secrets, keys and names of one run.
func RandomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
