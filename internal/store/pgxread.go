package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/uptrace/bun"
)

// readPgx runs one read-only statement on a connection of db's pool, in mode, and hands
// each row to scan as pgx received it. The reading goes around database/sql, whose row
// conversion (every value through driver.Value and convertAssign, then bun's reflection)
// was most of the API's own CPU on the dashboard: the hot reads that return a page of
// rows use this, everything else plain bun.
func readPgx(ctx context.Context, db *bun.DB, st Statement, mode pgx.QueryExecMode, scan func(pgx.Rows) error) error {
	return withPgxConn(ctx, db, func(c *pgx.Conn) error {
		rows, err := c.Query(ctx, st.SQL, st.QueryArgs(mode)...)
		if err != nil {
			return err
		}
		return scanRows(rows, scan)
	})
}

// withPgxConn runs use on the pgx connection under a connection of db's pool. The
// connection stays the pool's: a pgx connection that broke mid-read reports itself
// closed, and database/sql discards it when it comes back.
func withPgxConn(ctx context.Context, db *bun.DB, use func(*pgx.Conn) error) error {
	conn, err := db.DB.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(driverConn any) error {
		dc, ok := driverConn.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("store: the pool's driver is %T, not pgx's", driverConn)
		}
		return use(dc.Conn())
	})
}

// scanRows hands each of rows to scan, then closes them.
func scanRows(rows pgx.Rows, scan func(pgx.Rows) error) error {
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}
