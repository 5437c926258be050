package store

import (
	"context"

	"github.com/uptrace/bun"
)

// Audit writes one audit event; callers pass their transaction so the event commits or
// rolls back with the change it describes.
func Audit(ctx context.Context, db bun.IDB, e AuditEvent) error {
	if e.Detail == nil {
		e.Detail = map[string]any{}
	}
	_, err := db.NewInsert().Model(&e).Exec(ctx)
	return err
}
