package testenv

import (
	"database/sql"
	"strings"
	"testing"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
	"go.temporal.io/sdk/client"

	"github.com/headshotpro/retryd/internal/linktoken"
	"github.com/headshotpro/retryd/workflows"
)

// Offline are the API's dependencies without anything behind them: a database handle and
// a Temporal client that connect lazily to an address where nothing listens, and a link
// signer. Tests that exercise routing, decoding or the /dev routes build the real server
// on them; a handler that reaches the database or Temporal fails fast, as it would with
// both down.
type Offline struct {
	DB        *bun.DB
	Workflows *workflows.Client
	Links     *linktoken.Signer
}

// OfflineDeps returns Offline dependencies, closed when the test ends.
func OfflineDeps(t testing.TB) Offline {
	t.Helper()
	sqldb, err := sql.Open("pgx", "postgres://retryd@127.0.0.1:1/none?sslmode=disable&connect_timeout=1")
	if err != nil {
		t.Fatal(err)
	}
	db := bun.NewDB(sqldb, pgdialect.New())
	t.Cleanup(func() { _ = db.Close() })
	tc, err := client.NewLazyClient(client.Options{HostPort: "127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tc.Close)
	links, err := linktoken.NewSigner([]byte(strings.Repeat("k", 32)), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	// A second is long enough to fail: nothing listens there.
	return Offline{DB: db, Workflows: workflows.NewClient(tc, workflows.TaskQueue, time.Second), Links: links}
}
