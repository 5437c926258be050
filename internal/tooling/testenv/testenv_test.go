package testenv_test

import (
	"context"
	"testing"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/headshotpro/retryd/internal/store"
	"github.com/headshotpro/retryd/internal/tooling/testenv"
	"github.com/headshotpro/retryd/workflows"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func TestDatabaseIsFreshAndMigrated(t *testing.T) {
	db, url := testenv.Database(t)
	ctx := context.Background()

	var orgs int
	if err := db.NewSelect().Model((*store.Organization)(nil)).ColumnExpr("count(*)").Scan(ctx, &orgs); err != nil {
		t.Fatalf("query organizations: %v", err)
	}
	if orgs != 0 {
		t.Errorf("fresh database has %d organizations", orgs)
	}

	// The URL is for code under test that opens its own connection.
	other, err := store.Open(ctx, url)
	if err != nil {
		t.Fatalf("open returned URL: %v", err)
	}
	defer func() { _ = other.Close() }()
	var name string
	if err := other.QueryRowContext(ctx, "SELECT current_database()").Scan(&name); err != nil {
		t.Fatal(err)
	}
	if len(name) < len("retryd_test_") || name[:len("retryd_test_")] != "retryd_test_" {
		t.Errorf("connected to %q, want a retryd_test_ database", name)
	}
}

func TestTemporalHasSearchAttributes(t *testing.T) {
	srv := testenv.Temporal(t)
	if again := testenv.Temporal(t); again != srv {
		t.Error("second call started another server")
	}
	c, err := client.Dial(client.Options{HostPort: srv.Address, Namespace: srv.Namespace})
	if err != nil {
		t.Fatalf("dial %s: %v", srv.Address, err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: srv.Namespace})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range workflows.SearchAttributeNames {
		if got := resp.GetCustomAttributes()[name]; got != enums.INDEXED_VALUE_TYPE_KEYWORD {
			t.Errorf("search attribute %s: type %v, want Keyword", name, got)
		}
	}
	if _, ok := resp.GetCustomAttributes()[workflows.SAOrgID]; !ok {
		t.Errorf("%s not registered", workflows.SAOrgID)
	}
}
