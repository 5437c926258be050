package store

import (
	"context"
	"embed"
	"errors"
	"fmt"
	neturl "net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/migrate"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// DefaultMaxConns is the pool size of a process unless DATABASE_MAX_CONNS says otherwise:
// enough for the API's requests to wait on the database rather than on the pool at the
// load one process's two cores can serve, and small enough that a few API and worker
// replicas stay within Postgres's default max_connections of 100 (docs/operations.md).
const DefaultMaxConns = 20

// Open connects with a pool of DefaultMaxConns (tools and tests).
func Open(ctx context.Context, url string) (*bun.DB, error) {
	return OpenPool(ctx, url, DefaultMaxConns)
}

// OpenPool connects to Postgres through pgx's database/sql driver with a pool of at most
// maxConns connections, all kept idle for reuse, and checks the connection.
//
// Statements go by the simple query protocol: bun writes every value into the SQL text,
// so nearly every statement's text is new (it holds that request's ids), and pgx's
// default, a prepared statement cached per text, cost each one an extra round trip to
// prepare it and Postgres a second parse, only to evict it unused. A read whose text does
// repeat asks for preparation itself (readPgx).
func OpenPool(ctx context.Context, url string, maxConns int) (*bun.DB, error) {
	if maxConns < 1 {
		maxConns = DefaultMaxConns
	}
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		// pgx's message may quote the URL, password and all.
		return nil, errors.New("open database: DATABASE_URL is not a valid Postgres URL")
	}
	cfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	sqldb := stdlib.OpenDB(*cfg)
	sqldb.SetMaxOpenConns(maxConns)
	sqldb.SetMaxIdleConns(maxConns)
	sqldb.SetConnMaxIdleTime(5 * time.Minute)
	db := bun.NewDB(sqldb, pgdialect.New())
	pingCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := db.PingContext(pingCtx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("connect to database: %w", err)
	}
	return db, nil
}

// Migrations returns the embedded, versioned migrations.
func Migrations() (*migrate.Migrations, error) {
	m := migrate.NewMigrations()
	if err := m.Discover(migrationFiles); err != nil {
		return nil, fmt.Errorf("discover migrations: %w", err)
	}
	return m, nil
}

// Migrate applies every pending migration and returns the names it applied.
// Migrations are marked applied only once they succeed, so a failed one runs again.
func Migrate(ctx context.Context, db *bun.DB) ([]string, error) {
	ms, err := Migrations()
	if err != nil {
		return nil, err
	}
	m := migrate.NewMigrator(db, ms, migrate.WithMarkAppliedOnSuccess(true))
	if err := m.Init(ctx); err != nil {
		return nil, fmt.Errorf("init migrations: %w", err)
	}
	if err := m.Lock(ctx); err != nil {
		return nil, fmt.Errorf("lock migrations (another migrate running?): %w", err)
	}
	defer func() { _ = m.Unlock(ctx) }()
	group, err := m.Migrate(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	var names []string
	for _, mg := range group.Migrations {
		names = append(names, mg.Name)
	}
	return names, nil
}

// IsUniqueViolation tells whether err is Postgres's unique-violation (23505), optionally
// on the named constraint or index.
func IsUniqueViolation(err error, constraint string) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "23505" {
		return false
	}
	return constraint == "" || pgErr.ConstraintName == constraint
}

// EnsureDatabase creates the database named in url when it does not exist, connecting
// to the server's "postgres" database to do so. Used by dev mode only.
func EnsureDatabase(ctx context.Context, url string) error {
	cfg, err := pgconn.ParseConfig(url)
	if err != nil {
		return fmt.Errorf("parse database URL: %w", err)
	}
	name := cfg.Database
	admin := replaceDatabase(url, name, "postgres")
	db, err := Open(ctx, admin)
	if err != nil {
		return err
	}
	defer db.Close()
	var exists bool
	if err := db.NewRaw("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = ?)", name).Scan(ctx, &exists); err != nil {
		return err
	}
	if exists {
		return nil
	}
	if _, err := db.ExecContext(ctx, "CREATE DATABASE "+pgQuoteIdent(name)); err != nil && !IsUniqueViolation(err, "") {
		return fmt.Errorf("create database %s: %w", name, err)
	}
	return nil
}

func replaceDatabase(url, from, to string) string {
	u, err := neturl.Parse(url)
	if err != nil || u.Path != "/"+from {
		return url
	}
	u.Path = "/" + to
	return u.String()
}

func pgQuoteIdent(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// Identity names this database for as long as it exists: its name and its oid, which a
// dropped and re-created database does not keep. `retryd dev` keeps its Temporal state
// per identity, so a fresh database never meets the workflows of an earlier one.
func Identity(ctx context.Context, db bun.IDB) (string, error) {
	var name string
	var oid int64
	err := db.NewRaw("SELECT current_database(), oid FROM pg_database WHERE datname = current_database()").Scan(ctx, &name, &oid)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s-%d", name, oid), nil
}
