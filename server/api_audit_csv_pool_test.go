package server_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/headshotpro/retryd/internal/store"
	"github.com/headshotpro/retryd/internal/tooling/apptest"
	"github.com/headshotpro/retryd/server"
)

// TestAuditCSVOneConnection: the export reads everything it needs (the count, the names,
// the batches) on its own transaction's connection. Were it to ask the pool for a second
// connection while holding the first, as many concurrent exports as the pool's size
// would each wait for a connection none of them gives back, and every request of the
// process with them. A pool of one shows it at once.
func TestAuditCSVOneConnection(t *testing.T) {
	app := apptest.Start(t, apptest.Options{})
	org := app.SeedOrg(t, 5, person("Maya Chen", finished(5, 8)))
	maya, shoots := seeded(org, 0)
	expectStatus(t, giveRetry(t, app, org.AdminKey, maya, shoots[0]), 201)

	ctx := t.Context()
	db, err := store.OpenPool(ctx, app.DatabaseURL, 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	api, err := server.New(server.Deps{DB: db, Workflows: app.Workflows(), Links: app.Links,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(api.Handler())
	t.Cleanup(ts.Close)

	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(rctx, "GET", ts.URL+"/api/v1/admin/audit.csv", nil)
	req.Header.Set("Authorization", "Bearer "+org.AdminKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("the export on a pool of one connection did not answer: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("export = %d %v\n%s", resp.StatusCode, err, body)
	}
	if rows := readAuditCSV(t, body); len(rows) != 1 || rows[0]["action"] != "retry.give" {
		t.Errorf("export rows = %v, want the one give", rows)
	}
}
