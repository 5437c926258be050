package seed

import (
	"testing"

	"github.com/uptrace/bun"

	"github.com/headshotpro/retryd/internal/tooling/testenv"
)

// testDB is a fresh, migrated database dropped when the test ends (skipped without
// Postgres locally, failed under CI=true).
func testDB(tb testing.TB) *bun.DB {
	tb.Helper()
	db, _ := testenv.Database(tb)
	return db
}
