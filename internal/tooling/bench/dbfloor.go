package bench

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/headshotpro/retryd/internal/store"
)

// dashboardSQL is what one dashboard request sends once its API key is cached: the
// statement of the store call the handler makes, with the handler's parameters.
func dashboardSQL(orgID string) [][]store.Statement {
	return [][]store.Statement{{store.DashboardStatement(store.DashboardQuery{
		OrgID: orgID, Section: dashboardSection, Limit: dashboardLimit,
	})}}
}

// memberDetailSQL is, for each member, what the member detail request sends: its four
// reads, which GetMemberDetail sends as one batch.
func memberDetailSQL(orgID string, members []string) [][]store.Statement {
	out := make([][]store.Statement, 0, len(members))
	for _, id := range members {
		out = append(out, store.MemberDetailStatements(orgID, id))
	}
	return out
}

// pgxFloor sends a request's statements over plain pgx connections, one per client, the
// way retryd sends them (the dashboard's page prepared and cached per text, the member
// detail's reads as one batch of the simple protocol, as on retryd's pool), reading every
// row: the least a request can cost the database and its driver.
type pgxFloor struct {
	conns chan *pgx.Conn
}

func openPgxFloor(ctx context.Context, url string, clients int) (*pgxFloor, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, err
	}
	// As store.OpenPool: a statement without a mode of its own, and every batch, goes by
	// the simple protocol.
	cfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	f := &pgxFloor{conns: make(chan *pgx.Conn, clients)}
	for range clients {
		c, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			f.close()
			return nil, fmt.Errorf("pgx connect: %w", err)
		}
		f.conns <- c
	}
	return f, nil
}

func (f *pgxFloor) close() {
	for {
		select {
		case c := <-f.conns:
			_ = c.Close(context.Background())
		default:
			return
		}
	}
}

// run sends one request's statements, in order, on a free connection, in mode.
func (f *pgxFloor) run(ctx context.Context, stmts []store.Statement, mode pgx.QueryExecMode) error {
	c := <-f.conns
	defer func() { f.conns <- c }()
	if mode == batchMode {
		return readBatch(ctx, c, stmts)
	}
	for _, st := range stmts {
		rows, err := c.Query(ctx, st.SQL, st.QueryArgs(mode)...)
		if err != nil {
			return err
		}
		if err := drain(rows); err != nil {
			return err
		}
	}
	return nil
}

// batchMode stands for the statements sent as one batch (on the floor's connections, of
// the simple protocol: one message, one round trip), as GetMemberDetail sends them.
const batchMode pgx.QueryExecMode = -1

func readBatch(ctx context.Context, c *pgx.Conn, stmts []store.Statement) error {
	br := c.SendBatch(ctx, store.StatementBatch(stmts))
	for range stmts {
		rows, err := br.Query()
		if err == nil {
			err = drain(rows)
		}
		if err != nil {
			_ = br.Close()
			return err
		}
	}
	return br.Close()
}

// drain reads every row's values, as a client that uses them would, and closes rows.
func drain(rows pgx.Rows) error {
	defer rows.Close()
	for rows.Next() {
		if _, err := rows.Values(); err != nil {
			return err
		}
	}
	return rows.Err()
}
