package bench

import (
	"context"
	"fmt"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/uptrace/bun"

	"github.com/headshotpro/retryd/internal/store"
)

// statementLog records the SQL a bun.DB sends while it is hooked.
type statementLog struct {
	mu    sync.Mutex
	stmts []string
}

func (l *statementLog) BeforeQuery(ctx context.Context, _ *bun.QueryEvent) context.Context {
	return ctx
}

func (l *statementLog) AfterQuery(_ context.Context, e *bun.QueryEvent) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.stmts = append(l.stmts, e.Query)
}

func (l *statementLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.stmts
	l.stmts = nil
	return out
}

// dashboardSQL is what one dashboard request sends once its API key is cached: the
// statement of the store call the handler makes, with the handler's parameters.
func dashboardSQL(orgID string) [][]store.Statement {
	return [][]store.Statement{{store.DashboardStatement(store.DashboardQuery{
		OrgID: orgID, Section: dashboardSection, Limit: dashboardLimit,
	})}}
}

// memberDetailSQL is, for each member, what the member detail request sends.
func memberDetailSQL(ctx context.Context, db *bun.DB, orgID string, members []string) ([][]store.Statement, error) {
	log := &statementLog{}
	hooked := db.WithQueryHook(log)
	var out [][]store.Statement
	for _, id := range members {
		if _, err := store.GetMemberDetail(ctx, hooked, orgID, id); err != nil {
			return nil, fmt.Errorf("member detail statements: %w", err)
		}
		var stmts []store.Statement
		for _, q := range log.take() {
			stmts = append(stmts, store.Statement{SQL: q}) // bun writes the values into the text
		}
		out = append(out, stmts)
	}
	return out, nil
}

// pgxFloor sends a request's statements over plain pgx connections, one per client, the
// way retryd sends them (the page prepared and cached per text, bun's statements by the
// simple protocol), reading every row: the least a request can cost the database and its
// driver.
type pgxFloor struct {
	conns chan *pgx.Conn
}

func openPgxFloor(ctx context.Context, url string, clients int) (*pgxFloor, error) {
	f := &pgxFloor{conns: make(chan *pgx.Conn, clients)}
	for range clients {
		c, err := pgx.Connect(ctx, url)
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
	for _, st := range stmts {
		rows, err := c.Query(ctx, st.SQL, st.QueryArgs(mode)...)
		if err != nil {
			return err
		}
		for rows.Next() {
			if _, err := rows.Values(); err != nil {
				rows.Close()
				return err
			}
		}
		if err := rows.Err(); err != nil {
			return err
		}
	}
	return nil
}
