// Package pgadmin creates and drops the Postgres databases a harness runs retryd on,
// through an admin connection.
package pgadmin

import (
	"context"
	"time"

	"github.com/headshotpro/retryd/internal/store"
	"github.com/headshotpro/retryd/internal/tooling/readiness"
)

// CreateDatabase creates database name through adminURL, retrying for a minute while the
// server comes up.
func CreateDatabase(ctx context.Context, adminURL, name string) error {
	return readiness.Wait(ctx, time.Minute, "create database "+name, func(ctx context.Context) error {
		db, err := store.Open(ctx, adminURL)
		if err != nil {
			return err
		}
		defer db.Close()
		_, err = db.ExecContext(ctx, "CREATE DATABASE "+name)
		return err
	})
}

// DropDatabase drops database name, closing its sessions first (FORCE): a connection
// the code under test leaked must not keep the database alive.
func DropDatabase(ctx context.Context, adminURL, name string) error {
	db, err := store.Open(ctx, adminURL)
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	return err
}
